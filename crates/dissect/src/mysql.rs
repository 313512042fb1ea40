//! MySQL / MariaDB client protocol: the server's version from its greeting, the user
//! from the login packet, and the SSL request after which the connection is TLS.

use tyto_schema::SessionRecord;

use crate::{put_text, Dissector, Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "mysql",
    transports: &[Transport::Tcp],
    ports: &[3306],
    probe,
    new: || Box::new(Mysql::default()),
};

/// `CLIENT_SSL` in the capability flags.
const CLIENT_SSL: u32 = 0x0800;
/// `CLIENT_PROTOCOL_41`: the login packet layout below.
const CLIENT_PROTOCOL_41: u32 = 0x0200;
/// A greeting or login packet is far shorter (plugins, attributes included).
const MAX_PACKET: usize = 4096;

/// One packet: 3-byte little-endian length, sequence number, payload.
fn packet(data: &[u8]) -> Option<(u8, &[u8], usize)> {
    let h = data.get(..4)?;
    let len = u32::from_le_bytes([h[0], h[1], h[2], 0]) as usize;
    let payload = data.get(4..4 + len)?;
    Some((h[3], payload, 4 + len))
}

/// Greeting: protocol 10, then the version as a NUL-terminated string of digits,
/// dots and letters.
fn greeting_version(payload: &[u8]) -> Option<&[u8]> {
    if payload.first() != Some(&10) {
        return None;
    }
    let rest = &payload[1..];
    let nul = rest.iter().position(|b| *b == 0)?;
    let v = &rest[..nul];
    let ok = v.first().is_some_and(u8::is_ascii_digit) && v.iter().all(|b| (0x20..0x7f).contains(b));
    ok.then_some(v)
}

pub fn probe(side: Side, data: &[u8]) -> Probe {
    if side == Side::Client {
        return Probe::NoMatch;
    }
    let Some(h) = data.get(..4) else { return Probe::NeedMore };
    let len = u32::from_le_bytes([h[0], h[1], h[2], 0]) as usize;
    if h[3] != 0 || !(10..MAX_PACKET).contains(&len) {
        return Probe::NoMatch;
    }
    match packet(data) {
        None => Probe::NeedMore,
        Some((_, payload, _)) if greeting_version(payload).is_some() => Probe::Match,
        Some(_) => Probe::NoMatch,
    }
}

#[derive(Default)]
pub struct Mysql {
    buf: [Vec<u8>; 2],
    done: [bool; 2],
    handoff: Option<usize>,
}

impl Dissector for Mysql {
    fn feed(&mut self, side: Side, data: &[u8], rec: &mut SessionRecord) {
        let i = side as usize;
        if self.done[i] {
            return;
        }
        let before = self.buf[i].len();
        let take = data.len().min(MAX_PACKET + 4 - before.min(MAX_PACKET + 4));
        self.buf[i].extend_from_slice(&data[..take]);
        let Some((_, payload, used)) = packet(&self.buf[i]) else {
            if self.buf[i].len() >= MAX_PACKET + 4 {
                self.done[i] = true;
                self.buf[i] = Vec::new();
            }
            return;
        };
        match side {
            Side::Server => {
                if let Some(v) = greeting_version(payload) {
                    put_text(rec, "mysql.ver", &String::from_utf8_lossy(v));
                }
            }
            Side::Client if payload.len() >= 32 => {
                let caps = u32::from_le_bytes([payload[0], payload[1], payload[2], payload[3]]);
                if caps & CLIENT_PROTOCOL_41 != 0 {
                    if payload.len() == 32 && caps & CLIENT_SSL != 0 {
                        // SSLRequest: TLS starts right after it.
                        self.handoff = Some(used.saturating_sub(before));
                    } else if let Some(user) = payload[32..].split(|b| *b == 0).next().filter(|u| !u.is_empty()) {
                        put_text(rec, "mysql.user", &String::from_utf8_lossy(user));
                    }
                }
            }
            Side::Client => {}
        }
        // The greeting and the login are all this reads of each side.
        self.done[i] = true;
        self.buf[i] = Vec::new();
    }

    fn gap(&mut self, side: Side, _len: u64) {
        self.done[side as usize] = true;
    }

    fn wants_more(&self) -> bool {
        !(self.done[0] && self.done[1])
    }

    fn handoff(&mut self) -> Option<usize> {
        self.handoff.take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tyto_schema::Values;

    fn greeting() -> Vec<u8> {
        let mut p = vec![10];
        p.extend_from_slice(b"8.0.36\0");
        p.extend_from_slice(&[0; 40]);
        let mut out = (p.len() as u32).to_le_bytes()[..3].to_vec();
        out.push(0);
        out.extend_from_slice(&p);
        out
    }

    fn login(caps: u32, user: &[u8]) -> Vec<u8> {
        let mut p = caps.to_le_bytes().to_vec();
        p.extend_from_slice(&[0; 28]);
        p.extend_from_slice(user);
        let mut out = (p.len() as u32).to_le_bytes()[..3].to_vec();
        out.push(1);
        out.extend_from_slice(&p);
        out
    }

    #[test]
    fn version_user_and_ssl_request() {
        let g = greeting();
        assert_eq!(probe(Side::Server, &g[..6]), Probe::NeedMore);
        assert_eq!(probe(Side::Server, &g), Probe::Match);
        assert_eq!(probe(Side::Server, b"HTTP/1.1 200 OK\r\n"), Probe::NoMatch);
        let mut m = Mysql::default();
        let mut rec = SessionRecord::default();
        m.feed(Side::Server, &g, &mut rec);
        m.feed(Side::Client, &login(0x0200 | 0x8000, b"root\0\x14pass"), &mut rec);
        assert_eq!(rec.extra.get("mysql.ver"), Some(&Values::Text(vec!["8.0.36".into()])));
        assert_eq!(rec.extra.get("mysql.user"), Some(&Values::Text(vec!["root".into()])));
        assert_eq!(m.handoff(), None);
        let mut m = Mysql::default();
        m.feed(Side::Server, &g, &mut rec);
        let mut req = login(0x0200 | 0x0800, b"");
        req.extend_from_slice(b"\x16\x03\x01");
        m.feed(Side::Client, &req, &mut rec);
        assert_eq!(m.handoff(), Some(36));
    }
}
