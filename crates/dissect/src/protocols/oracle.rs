//! Oracle TNS over TCP: the CONNECT packet's connect descriptor, from which the
//! service (SERVICE_NAME or SID), the client's host and its OS user are taken.

use tyto_schema::SessionRecord;

use crate::kit::put_text;
use crate::{Dissector, Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "oracle",
    transports: &[Transport::Tcp],
    ports: &[1521],
    probe,
    new: || Box::<Oracle>::default(),
    later: None,
};

const CONNECT: u8 = 1;
/// A CONNECT with its descriptor (sent in the following DATA packet when long).
const MAX_CONNECT: usize = 8 << 10;

pub fn probe(side: Side, data: &[u8]) -> Probe {
    if side == Side::Server {
        return Probe::NeedMore;
    }
    let Some(h) = data.get(..8) else {
        return if data.get(4).is_none_or(|t| *t == CONNECT) { Probe::NeedMore } else { Probe::NoMatch };
    };
    let len = usize::from(u16::from_be_bytes([h[0], h[1]]));
    // Header: length, packet checksum, type, reserved, header checksum; then the
    // CONNECT's version (300 and up), compatible version, and the descriptor's
    // length and offset.
    if h[4] != CONNECT || len < 34 || h[5] != 0 {
        return Probe::NoMatch;
    }
    let Some(c) = data.get(8..26) else { return Probe::NeedMore };
    let version = u16::from_be_bytes([c[0], c[1]]);
    let descriptor_at = usize::from(u16::from_be_bytes([c[16], c[17]]));
    Probe::from((300..=400).contains(&version) && (26..=len.max(26)).contains(&descriptor_at))
}

/// `(KEY=value)` inside a descriptor, case-insensitively.
fn value<'a>(descriptor: &'a str, upper: &str, key: &str) -> Option<&'a str> {
    let at = upper.find(&format!("({key}="))? + key.len() + 2;
    let end = descriptor[at..].find(')')? + at;
    Some(descriptor[at..end].trim()).filter(|v| !v.is_empty())
}

#[derive(Default)]
pub struct Oracle {
    client: Vec<u8>,
    done: bool,
}

impl Dissector for Oracle {
    fn feed(&mut self, side: Side, data: &[u8], rec: &mut SessionRecord) {
        if self.done || side == Side::Server {
            return;
        }
        let room = MAX_CONNECT.saturating_sub(self.client.len());
        self.client.extend_from_slice(&data[..data.len().min(room)]);
        // The descriptor is text: `(DESCRIPTION=(CONNECT_DATA=(SERVICE_NAME=…)(CID=…))…)`.
        let text = String::from_utf8_lossy(&self.client);
        let upper = text.to_ascii_uppercase();
        let Some(start) = upper.find("(DESCRIPTION=").or_else(|| upper.find("(CONNECT_DATA=")) else {
            self.done = self.client.len() >= MAX_CONNECT;
            return;
        };
        // Wait for the descriptor's closing parenthesis.
        let mut depth = 0i32;
        let end = text[start..].char_indices().find_map(|(i, c)| {
            depth += match c {
                '(' => 1,
                ')' => -1,
                _ => 0,
            };
            (depth == 0).then_some(start + i + 1)
        });
        let Some(end) = end else {
            self.done = self.client.len() >= MAX_CONNECT;
            return;
        };
        let (d, u) = (&text[start..end], &upper[start..end]);
        if let Some(s) = value(d, u, "SERVICE_NAME").or_else(|| value(d, u, "SID")) {
            put_text(rec, text_field!("oracle.service"), s);
        }
        // The first HOST, as Arkime records it: the listener's address when the
        // descriptor starts with it, else the client's (inside CID).
        if let Some(h) = value(d, u, "HOST") {
            put_text(rec, text_field!("oracle.host"), h);
        }
        if let Some(user) = value(d, u, "USER") {
            put_text(rec, text_field!("oracle.user"), user);
        }
        self.done = true;
        self.client = Vec::new();
    }

    fn gap(&mut self, _side: Side, _len: u64) {
        self.done = true;
    }

    fn wants_more(&self) -> bool {
        !self.done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tyto_schema::Values;

    #[test]
    fn connect_descriptor() {
        let descriptor = b"(DESCRIPTION=(CONNECT_DATA=(SERVICE_NAME=orcl)(CID=(PROGRAM=sqlplus)(HOST=dbclient.example.com)(USER=orauser)))(ADDRESS=(PROTOCOL=TCP)(HOST=10.0.0.5)(PORT=1521)))";
        let mut p = vec![0, 0, 0, 0, CONNECT, 0, 0, 0];
        p.extend_from_slice(&[0x01, 0x3c, 0x01, 0x2c, 0, 0, 0x08, 0, 0x7f, 0xff, 0x7f, 0x08, 0, 0, 0, 1]);
        p.extend_from_slice(&(descriptor.len() as u16).to_be_bytes());
        p.extend_from_slice(&58u16.to_be_bytes());
        p.resize(58, 0);
        p.extend_from_slice(descriptor);
        let n = p.len() as u16;
        p[..2].copy_from_slice(&n.to_be_bytes());
        assert_eq!(probe(Side::Client, &p), Probe::Match);
        assert_eq!(probe(Side::Client, &p[..4]), Probe::NeedMore);
        assert_eq!(probe(Side::Client, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"), Probe::NoMatch);
        let mut rec = SessionRecord::default();
        let mut o = Oracle::default();
        for c in p.chunks(40) {
            o.feed(Side::Client, c, &mut rec);
        }
        let t = |f: &str| rec.extra.get(f).cloned();
        assert_eq!(t("oracle.service"), Some(Values::Text(vec!["orcl".into()])));
        assert_eq!(t("oracle.host"), Some(Values::Text(vec!["dbclient.example.com".into()])));
        assert_eq!(t("oracle.user"), Some(Values::Text(vec!["orauser".into()])));
    }
}
