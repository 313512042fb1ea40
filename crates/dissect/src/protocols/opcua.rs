//! OPC UA over TCP (UA Binary, OPC 10000-6 §7.1): the client's Hello names the
//! endpoint URL; each side's OpenSecureChannel names its security policy and, unless
//! the policy is None, carries the sender's certificate (read as TLS's are). What
//! follows is signed or encrypted service traffic, not read. Field names as Arkime's.

use tyto_schema::{SessionRecord, TextField};

use crate::kit::der::{self, Header};
use crate::kit::messages::{Length, Streams};
use crate::kit::put_text;
use crate::protocols::tls;
use crate::{Dissector, Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "opcua",
    transports: &[Transport::Tcp],
    ports: &[4840],
    probe,
    new: || Box::<OpcUa>::default(),
    later: None,
};

/// Type, chunk type and 4-byte little-endian size of every message.
const HEADER: usize = 8;
/// Hello and OpenSecureChannel messages fit easily (a certificate chain is a few
/// KiB); longer ones are read from their head.
const MAX_MESSAGE: usize = 32 * 1024;
/// The smallest first message (an Error or ReverseHello with empty strings), and
/// the most any stack accepts.
const MIN_SIZE: usize = 16;
const MAX_SIZE: u32 = 16 << 20;
/// Messages read per connection before the secure channel is certainly open.
const MAX_MESSAGES: u32 = 16;
/// Certificates of one sender's chain looked at.
const MAX_CERTS: usize = 4;

fn message(b: &[u8]) -> Length {
    let Some(h) = b.get(..HEADER) else { return Length::NeedMore };
    let size = u32::from_le_bytes([h[4], h[5], h[6], h[7]]);
    let kind_ok = matches!(&h[..3], b"HEL" | b"ACK" | b"ERR" | b"RHE" | b"OPN" | b"MSG" | b"CLO");
    if !kind_ok || !matches!(h[3], b'F' | b'C' | b'A') || size < HEADER as u32 || size > MAX_SIZE {
        return Length::Bad;
    }
    Length::Is(size as usize)
}

/// A connection opens with the client's Hello (or, reversed, the server's
/// ReverseHello) and the server's Acknowledge or Error.
pub fn probe(side: Side, data: &[u8]) -> Probe {
    let firsts: &[&[u8]] = match side {
        Side::Client => &[b"HELF"],
        Side::Server => &[b"ACKF", b"ERRF", b"RHEF"],
    };
    let Some(h) = data.get(..HEADER) else {
        let short = data.get(..4).unwrap_or(data);
        return if firsts.iter().any(|f| f.starts_with(short)) { Probe::NeedMore } else { Probe::NoMatch };
    };
    let size = u32::from_le_bytes([h[4], h[5], h[6], h[7]]) as usize;
    Probe::from(firsts.contains(&&h[..4]) && (MIN_SIZE..=MAX_MESSAGE).contains(&size))
}

/// A UA String or ByteString: a signed 32-bit length (-1 for null), then the bytes.
fn byte_string(b: &[u8]) -> Option<(Option<&[u8]>, &[u8])> {
    let n = i32::from_le_bytes(b.get(..4)?.try_into().ok()?);
    let rest = &b[4..];
    if n < 0 {
        return Some((None, rest));
    }
    let n = n as usize;
    Some((Some(rest.get(..n)?), &rest[n..]))
}

fn text(rec: &mut SessionRecord, field: TextField, value: Option<&[u8]>) {
    if let Some(v) = value.filter(|v| !v.is_empty()) {
        put_text(rec, field, &String::from_utf8_lossy(v));
    }
}

/// The DER certificates one after another in a sender's certificate (a chain is
/// their concatenation).
fn certificates(mut chain: &[u8], rec: &mut SessionRecord) {
    for _ in 0..MAX_CERTS {
        let Header::Is { tag: 0x30, size, len } = der::header(chain) else { return };
        let Some(cert) = chain.get(..size + len) else { return };
        tls::certificate(cert, rec);
        chain = &chain[size + len..];
    }
}

fn read(m: &[u8], rec: &mut SessionRecord) {
    let body = &m[HEADER..];
    match &m[..3] {
        // Protocol version and four limits, then the endpoint URL.
        b"HEL" => {
            if let Some((url, _)) = body.get(20..).and_then(byte_string) {
                text(rec, text_field!("opcua.endpointUrl"), url);
            }
        }
        // Secure channel id, then the asymmetric security header.
        b"OPN" => {
            let Some((policy, rest)) = body.get(4..).and_then(byte_string) else { return };
            text(rec, text_field!("opcua.securityPolicyUri"), policy);
            if let Some((Some(cert), _)) = byte_string(rest) {
                certificates(cert, rec);
            }
        }
        _ => {}
    }
}

#[derive(Default)]
pub struct OpcUa {
    streams: Streams,
    messages: u32,
    /// Each side's OpenSecureChannel seen: nothing more in clear after both.
    opened: [bool; 2],
}

impl Dissector for OpcUa {
    fn feed(&mut self, side: Side, data: &[u8], rec: &mut SessionRecord) {
        let (messages, opened) = (&mut self.messages, &mut self.opened);
        self.streams.push(side, data, MAX_MESSAGE, message, |m, _cut| {
            *messages += 1;
            if m.starts_with(b"OPN") {
                opened[side as usize] = true;
            }
            read(m, rec);
        });
    }

    fn gap(&mut self, side: Side, _len: u64) {
        self.streams.lose(side);
    }

    fn wants_more(&self) -> bool {
        self.messages < MAX_MESSAGES && self.opened != [true; 2] && !self.streams.broken()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tyto_schema::Values;

    fn msg(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut m = kind.to_vec();
        m.extend_from_slice(&((HEADER + body.len()) as u32).to_le_bytes());
        m.extend_from_slice(body);
        m
    }

    fn string(s: &[u8]) -> Vec<u8> {
        let mut b = (s.len() as i32).to_le_bytes().to_vec();
        b.extend_from_slice(s);
        b
    }

    #[test]
    fn hello_and_open_secure_channel() {
        let mut hel = vec![0u8; 20];
        hel.extend(string(b"opc.tcp://plc.example:4840/"));
        let hel = msg(b"HELF", &hel);
        assert_eq!(probe(Side::Client, &hel), Probe::Match);
        assert_eq!(probe(Side::Client, b"HEL"), Probe::NeedMore);
        assert_eq!(probe(Side::Client, b"GET / HTTP/1.1\r\n"), Probe::NoMatch);
        assert_eq!(probe(Side::Server, &msg(b"ACKF", &[0; 20])), Probe::Match);
        let mut opn = vec![0u8; 4];
        opn.extend(string(b"http://opcfoundation.org/UA/SecurityPolicy#None"));
        opn.extend_from_slice(&(-1i32).to_le_bytes());
        opn.extend_from_slice(&(-1i32).to_le_bytes());
        let opn = msg(b"OPNF", &opn);
        let mut rec = SessionRecord::default();
        let mut o = OpcUa::default();
        // One byte at a time: messages are framed across segments.
        for b in hel.iter().chain(&opn) {
            o.feed(Side::Client, std::slice::from_ref(b), &mut rec);
        }
        assert_eq!(rec.extra.get("opcua.endpointUrl"), Some(&Values::Text(vec!["opc.tcp://plc.example:4840/".into()])));
        assert_eq!(
            rec.extra.get("opcua.securityPolicyUri"),
            Some(&Values::Text(vec!["http://opcfoundation.org/UA/SecurityPolicy#None".into()]))
        );
        assert!(o.wants_more(), "the server has not opened its side");
        // An absurd string length is not followed.
        let mut bad = vec![0u8; 20];
        bad.extend_from_slice(&i32::MAX.to_le_bytes());
        read(&msg(b"HELF", &bad), &mut rec);
    }
}
