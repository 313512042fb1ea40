//! RADIUS (RFC 2865, 2866, 5176) over UDP: message types, the user name, NAS address
//! and port, framed and tunnel endpoint addresses, and the calling station's MAC.

use tyto_schema::SessionRecord;

use crate::kit::{put_int, put_ip, put_text};
use crate::{Dissector, Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "radius",
    transports: &[Transport::Udp],
    ports: &[1812, 1813, 1645, 1646, 3799],
    probe,
    new: || Box::<Radius>::default(),
    later: None,
};

const MAX_DATAGRAMS: u32 = 64;

fn code_name(code: u8) -> Option<&'static str> {
    Some(match code {
        1 => "access-request",
        2 => "access-accept",
        3 => "access-reject",
        4 => "accounting-request",
        5 => "accounting-response",
        11 => "access-challenge",
        12 => "status-server",
        13 => "status-client",
        40 => "disconnect-request",
        41 => "disconnect-ack",
        42 => "disconnect-nak",
        43 => "coa-request",
        44 => "coa-ack",
        45 => "coa-nak",
        _ => return None,
    })
}

/// The attributes of a message: up to its length field (a datagram may be padded
/// beyond it), stopping at the first that runs past the end (a truncated one).
/// `None` when the header is not RADIUS's.
fn attributes(data: &[u8]) -> Option<Vec<(u8, &[u8])>> {
    if data.len() < 20 || data.len() > 4096 || code_name(data[0]).is_none() {
        return None;
    }
    let len = usize::from(u16::from_be_bytes([data[2], data[3]]));
    if !(20..=data.len()).contains(&len) {
        return None;
    }
    let mut rest = &data[20..len];
    let mut out = Vec::new();
    while let Some((&[kind, n], _)) = rest.split_first_chunk::<2>() {
        let n = usize::from(n);
        if n < 2 || n > rest.len() {
            break;
        }
        out.push((kind, &rest[2..n]));
        rest = &rest[n..];
    }
    Some(out)
}

pub fn probe(_side: Side, data: &[u8]) -> Probe {
    // Random UDP payloads pass a header check often enough: the attributes must tile
    // the message exactly, and any padding after it be zeros.
    let Some(attrs) = attributes(data) else { return Probe::NoMatch };
    let len = usize::from(u16::from_be_bytes([data[2], data[3]]));
    let tiled = 20 + attrs.iter().map(|(_, v)| v.len() + 2).sum::<usize>() == len;
    Probe::from(tiled && !attrs.is_empty() && data[len..].iter().all(|b| *b == 0))
}

fn ipv4(v: &[u8]) -> Option<tyto_packet::Addr> {
    let b: [u8; 4] = v.try_into().ok()?;
    Some(tyto_packet::Addr::from(std::net::IpAddr::from(b)))
}

/// `00-11-22-33-44-55`, `00:11:22:33:44:55` or `001122334455` as lower-case colons.
fn mac(v: &[u8]) -> Option<String> {
    let hex: Vec<u8> = v.iter().copied().filter(|b| b.is_ascii_hexdigit()).collect();
    let separators = v.iter().filter(|b| !b.is_ascii_hexdigit()).all(|b| matches!(b, b':' | b'-' | b'.'));
    if hex.len() != 12 || !separators {
        return None;
    }
    let s = String::from_utf8_lossy(&hex).to_ascii_lowercase();
    Some((0..6).map(|i| &s[2 * i..2 * i + 2]).collect::<Vec<_>>().join(":"))
}

#[derive(Default)]
pub struct Radius {
    datagrams: u32,
}

impl Dissector for Radius {
    fn feed(&mut self, _side: Side, data: &[u8], rec: &mut SessionRecord) {
        self.datagrams += 1;
        let Some(attrs) = attributes(data) else { return };
        if let Some(name) = code_name(data[0]) {
            put_text(rec, text_field!("radius.msgType"), name);
        }
        for (kind, value) in attrs {
            match kind {
                1 if !value.is_empty() => put_text(rec, text_field!("radius.user"), &String::from_utf8_lossy(value)),
                4 => ipv4(value).into_iter().for_each(|a| put_ip(rec, ip_field!("radius.nasIp"), a)),
                5 if value.len() == 4 => {
                    put_int(
                        rec,
                        int_field!("radius.nasPort"),
                        i64::from(u32::from_be_bytes(value.try_into().unwrap_or_default())),
                    );
                }
                8 => ipv4(value).into_iter().for_each(|a| put_ip(rec, ip_field!("radius.framed-ip"), a)),
                31 => mac(value).into_iter().for_each(|m| put_text(rec, text_field!("radius.mac"), &m)),
                // Tunnel-Client-Endpoint: a tag byte may come first, then the address as text.
                66 => {
                    let text = String::from_utf8_lossy(value.strip_prefix(&[0]).unwrap_or(value)).into_owned();
                    if let Ok(ip) = text.trim_matches(char::from(0)).parse::<std::net::IpAddr>() {
                        put_ip(rec, ip_field!("radius.endpoint-ip"), tyto_packet::Addr::from(ip));
                    }
                }
                _ => {}
            }
        }
    }

    fn wants_more(&self) -> bool {
        self.datagrams < MAX_DATAGRAMS
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tyto_schema::Values;

    fn message(code: u8, attrs: &[(u8, &[u8])]) -> Vec<u8> {
        let mut m = vec![code, 7, 0, 0];
        m.extend_from_slice(&[0x5a; 16]);
        for (k, v) in attrs {
            m.push(*k);
            m.push(v.len() as u8 + 2);
            m.extend_from_slice(v);
        }
        let n = m.len() as u16;
        m[2..4].copy_from_slice(&n.to_be_bytes());
        m
    }

    #[test]
    fn request_attributes() {
        let req = message(
            1,
            &[
                (1, b"testuser"),
                (4, &[10, 9, 18, 2]),
                (5, &[0, 0, 0, 7]),
                (8, &[192, 168, 50, 5]),
                (31, b"98-5A-EB-89-80-00"),
            ],
        );
        assert_eq!(probe(Side::Client, &req), Probe::Match);
        assert_eq!(probe(Side::Client, &req[..req.len() - 1]), Probe::NoMatch);
        assert_eq!(probe(Side::Client, b"GET / HTTP/1.1\r\nHost: example\r\n"), Probe::NoMatch);
        let mut rec = SessionRecord::default();
        Radius::default().feed(Side::Client, &req, &mut rec);
        assert_eq!(rec.extra.get("radius.user"), Some(&Values::Text(vec!["testuser".into()])));
        assert_eq!(rec.extra.get("radius.msgType"), Some(&Values::Text(vec!["access-request".into()])));
        assert_eq!(rec.extra.get("radius.mac"), Some(&Values::Text(vec!["98:5a:eb:89:80:00".into()])));
        assert_eq!(rec.extra.get("radius.nasPort"), Some(&Values::Int(vec![7])));
        assert!(rec.extra.get("radius.framed-ip").is_some());
    }
}
