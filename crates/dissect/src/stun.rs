//! STUN and TURN (RFC 5389, RFC 8656, and RFC 3489's classic STUN) over UDP and TCP:
//! the 20-byte header whose length and (since RFC 5389) magic cookie make it sure.

use crate::{NameOnly, Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "stun",
    transports: &[Transport::Udp, Transport::Tcp],
    ports: &[3478, 5349, 19302],
    probe,
    new: || Box::new(NameOnly),
};

const MAGIC_COOKIE: [u8; 4] = [0x21, 0x12, 0xa4, 0x42];

/// Message types of classic STUN: binding and shared-secret requests and responses.
const CLASSIC_TYPES: &[u16] = &[0x0001, 0x0101, 0x0111, 0x0002, 0x0102, 0x0112];

pub fn probe(_side: Side, data: &[u8]) -> Probe {
    let Some(h) = data.get(..20) else {
        return if data.len() < 20 && data.first().is_some_and(|b| b & 0xc0 == 0) {
            Probe::NeedMore
        } else {
            Probe::NoMatch
        };
    };
    let kind = u16::from_be_bytes([h[0], h[1]]);
    let len = u16::from_be_bytes([h[2], h[3]]) as usize;
    // The length covers the attributes, which are padded to four bytes; a TCP stream
    // may already hold the next message, a datagram holds exactly one.
    // Some implementations (WhatsApp's) count unpadded attributes: with the magic
    // cookie, any length that the bytes hold will do.
    let cookie = h[4..8] == MAGIC_COOKIE;
    let fits = (len.is_multiple_of(4) || cookie) && data.len() >= 20 + len;
    let exact = data.len() == 20 + len;
    if kind & 0xc000 != 0 || !fits {
        return if kind & 0xc000 == 0 && (len.is_multiple_of(4) || cookie) && len < 4096 {
            Probe::NeedMore
        } else {
            Probe::NoMatch
        };
    }
    if cookie || (exact && CLASSIC_TYPES.contains(&kind)) {
        Probe::Match
    } else {
        Probe::NoMatch
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binding_request_with_and_without_cookie() {
        let mut m = vec![0, 1, 0, 8, 0x21, 0x12, 0xa4, 0x42];
        m.extend_from_slice(&[9; 12]);
        m.extend_from_slice(&[0x80, 0x22, 0, 4, b'a', b'b', b'c', b'd']);
        assert_eq!(probe(Side::Client, &m), Probe::Match);
        m[4] = 0;
        assert_eq!(probe(Side::Client, &m), Probe::Match);
        m[1] = 9;
        assert_eq!(probe(Side::Client, &m), Probe::NoMatch);
        assert_eq!(probe(Side::Client, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"), Probe::NoMatch);
    }
}
