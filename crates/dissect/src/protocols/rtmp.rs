//! RTMP (Adobe's Real-Time Messaging Protocol, TCP port 1935): the handshake opens
//! with a version byte (3 plain, 6 encrypted) and a 1536-byte block whose first
//! four bytes are a time and next four zero or the player's version. The probe
//! waits for the whole first block: nothing shorter proves the handshake. Only the
//! protocol is recorded so far.

use crate::kit::NameOnly;
use crate::{Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "rtmp",
    transports: &[Transport::Tcp],
    ports: &[1935],
    probe,
    new: || Box::new(NameOnly),
    later: None,
};

/// C0 (the version) and C1.
const OPENING: usize = 1 + 1536;

pub fn probe(_side: Side, d: &[u8]) -> Probe {
    let Some(&version) = d.first() else { return Probe::NeedMore };
    if version != 3 && version != 6 {
        return Probe::NoMatch;
    }
    // C1's second word: zero, or the player's version (Flash 9 to 11, or encoders'
    // 0x80…).
    if let Some(v) = d.get(5..9) {
        if v != [0, 0, 0, 0] && !matches!(v[0], 0x09..=0x0b | 0x80) {
            return Probe::NoMatch;
        }
    }
    crate::kit::once_whole(d, OPENING)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kit::unhex;

    #[test]
    fn handshake_block() {
        // `rtmp.pcap`: C0 and the start of C1 (time 0, player version 9.0.124.2).
        let mut c = unhex("030000000009007c02f778551eceab8e1e362f07");
        assert_eq!(probe(Side::Client, &c), Probe::NeedMore);
        c.resize(OPENING, 0x5a);
        assert_eq!(probe(Side::Client, &c), Probe::Match);
        assert_eq!(probe(Side::Client, b"GET / HTTP/1.1\r\n"), Probe::NoMatch);
        c[5] = 0x42;
        assert_eq!(probe(Side::Client, &c), Probe::NoMatch);
    }
}
