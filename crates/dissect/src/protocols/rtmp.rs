//! RTMP (Adobe's Real-Time Messaging Protocol, TCP port 1935): the handshake opens
//! with a version byte (3 plain, 6 encrypted) and a 1536-byte block whose first
//! four bytes are a time and next four zero or the player's (or the server's)
//! version. The probe waits for the whole first block: nothing shorter proves the
//! handshake. A connection picked up after the handshake is named from a chunk that
//! begins a message: a protocol control message on chunk stream 2, or a command
//! (AMF0) naming itself in text. Only the protocol is recorded so far.

use crate::kit::NameOnly;
use crate::{Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "rtmp",
    transports: &[Transport::Tcp],
    ports: &[1935],
    probe,
    new: || Box::new(NameOnly),
    later: Some(later),
};

/// C0 (the version) and C1.
const OPENING: usize = 1 + 1536;

pub fn probe(_side: Side, d: &[u8]) -> Probe {
    let Some(&version) = d.first() else { return Probe::NeedMore };
    if version != 3 && version != 6 {
        return Probe::NoMatch;
    }
    // C1's second word: zero, or the player's version (Flash 9 to 11, or encoders'
    // 0x80…); S1's the server's (Flash Media Server 1 to 5: `01 00 05 04`).
    if let Some(v) = d.get(5..9) {
        if v != [0, 0, 0, 0] && !matches!(v[0], 0x01..=0x0b | 0x80) {
            return Probe::NoMatch;
        }
    }
    crate::kit::once_whole(d, OPENING)
}

/// Protocol control messages (set chunk size 1, abort 2, acknowledgement 3, window
/// size 5: four bytes; peer bandwidth 6: five; user control 4: an event and its
/// data), always on chunk stream 2 and message stream 0.
fn control_length_ok(kind: u8, len: usize) -> bool {
    match kind {
        1 | 2 | 3 | 5 => len == 4,
        6 => len == 5,
        4 => (6..=10).contains(&len),
        _ => false,
    }
}

/// AMF0's string marker.
const AMF0_STRING: u8 = 0x02;
/// Command message (AMF0).
const COMMAND_AMF0: u8 = 20;

/// Bytes from a segment's start after the handshake: a chunk with a full message
/// header (format 0: basic header, time, length, message type, stream id) that is a
/// protocol control message, or a command whose name (an AMF0 string) is a word.
pub fn later(_side: Side, d: &[u8]) -> Probe {
    let Some(&basic) = d.first() else { return Probe::NeedMore };
    let stream = basic & 0x3f;
    // Format 0, a one-byte chunk stream id (2 to 63).
    if basic >> 6 != 0 || stream < 2 {
        return Probe::NoMatch;
    }
    let Some(h) = d.get(1..12) else { return Probe::NeedMore };
    let len = usize::from(h[3]) << 16 | usize::from(h[4]) << 8 | usize::from(h[5]);
    let (kind, message_stream) = (h[6], u32::from_le_bytes([h[7], h[8], h[9], h[10]]));
    if kind == COMMAND_AMF0 {
        let body = &d[12..];
        let (Some(&marker), Some(size)) = (body.first(), body.get(1..3)) else { return Probe::NeedMore };
        let n = usize::from(u16::from_be_bytes([size[0], size[1]]));
        if marker != AMF0_STRING || !(1..=64).contains(&n) || len < 3 + n {
            return Probe::NoMatch;
        }
        return match body.get(3..3 + n) {
            None => Probe::NeedMore,
            Some(name) => Probe::from(name.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')),
        };
    }
    Probe::from(stream == 2 && message_stream == 0 && control_length_ok(kind, len))
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

    /// `rtmp.pcap` after the handshake: the client's `connect`, the server's
    /// window size and peer bandwidth.
    #[test]
    fn chunks_after_the_handshake() {
        let connect = unhex("030000000000d41400000000020007636f6e6e656374003ff00000");
        assert_eq!(later(Side::Client, &connect), Probe::Match);
        assert_eq!(later(Side::Client, &connect[..16]), Probe::NeedMore);
        assert_eq!(later(Side::Server, &unhex("020000000000040500000000002625a0")), Probe::Match);
        assert_eq!(later(Side::Server, &unhex("020000000000050600000000002625a002")), Probe::Match);
        // A control message of the wrong length, or off chunk stream 2.
        assert_eq!(later(Side::Server, &unhex("020000000000050500000000002625a0")), Probe::NoMatch);
        assert_eq!(later(Side::Server, &unhex("030000000000040500000000002625a0")), Probe::NoMatch);
        // A command whose name is no word; a continuation chunk (format 3).
        assert_eq!(later(Side::Client, &unhex("030000000000d4140000000002000463 6f2e6e")), Probe::NoMatch);
        assert_eq!(later(Side::Client, &unhex("c3a3a4a5")), Probe::NoMatch);
        assert_eq!(later(Side::Client, b"GET / HTTP/1.1\r\n"), Probe::NoMatch);
    }
}
