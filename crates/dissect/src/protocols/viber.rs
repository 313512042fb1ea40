//! Viber. Over TCP its messages open with a little-endian length that counts the
//! whole message, then a header with either `FC FF` at offset 6 and 0x80 at 9, or
//! `03 80` at 4 and 0x0A at 10; once the connection is encrypted, the length is
//! followed by a message counter and two zero bytes, so a connection picked up
//! part-way is told by segments its messages fill exactly. Over UDP (calls, port
//! 7985) a session opens with a message of type 1 whose next field is 5, in a
//! datagram of 64 bytes or more, which the client sends again every few seconds;
//! the call's other datagrams (two bytes of the session's, a type, a zero byte)
//! leave a flow picked up among them to wait for it. Only the protocol is recorded
//! so far.

use crate::kit::messages::Length;
use crate::kit::{chained, le16, NameOnly};
use crate::{Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "viber",
    transports: &[Transport::Tcp, Transport::Udp],
    ports: &[],
    probe,
    new: || Box::new(NameOnly),
    later: Some(later),
};

/// Large enough for every header field the probe reads.
const TCP_HEADER: usize = 11;

pub fn probe(side: Side, d: &[u8]) -> Probe {
    // The UDP opening, a datagram of its own.
    if side == Side::Client && d.len() >= 64 && d[2..6] == [0x01, 0x00, 0x05, 0x00] {
        return Probe::Match;
    }
    let Some(len) = le16(d, 0) else { return Probe::NeedMore };
    let len = usize::from(len);
    if len < TCP_HEADER {
        return Probe::NoMatch;
    }
    let Some(h) = d.get(..TCP_HEADER) else { return Probe::NeedMore };
    let header = (h[6..8] == [0xfc, 0xff] && h[9] == 0x80) || (h[4..6] == [0x03, 0x80] && h[10] == 0x0a);
    if !header {
        return Probe::NoMatch;
    }
    crate::kit::once_whole(d, len)
}

/// An encrypted TCP message's header: the length, the counter, two zero bytes; and
/// the 16-byte tag at least.
const SEALED_SHORTEST: usize = 6 + 16;

/// Bytes that may begin any message: encrypted messages filling them exactly decide;
/// a call datagram of another type waits for the call's opening.
pub fn later(side: Side, d: &[u8]) -> Probe {
    if probe(side, d) == Probe::Match {
        return Probe::Match;
    }
    let sealed = chained(d, |m| match m.get(..6) {
        None => Length::NeedMore,
        Some(h) => {
            let len = usize::from(u16::from_le_bytes([h[0], h[1]]));
            if len < SEALED_SHORTEST || h[4..6] != [0, 0] {
                Length::Bad
            } else {
                Length::Is(len)
            }
        }
    });
    if sealed == Probe::Match {
        return Probe::Match;
    }
    match d {
        [_, _, 1..=0x1f, 0, ..] if d.len() >= 12 => Probe::NeedMore,
        _ => Probe::NoMatch,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kit::unhex;

    #[test]
    fn tcp_messages_and_udp_opening() {
        // `viber.pcap`.
        let mut login = unhex("6000add4dc17fcff038059000a00000000000000add4dc17");
        assert_eq!(probe(Side::Client, &login), Probe::NeedMore);
        login.resize(0x60, 0);
        assert_eq!(probe(Side::Client, &login), Probe::Match);
        assert_eq!(probe(Side::Client, &unhex("180000000000fcff05800900000000000000000033000000")), Probe::Match);
        let mut call = unhex("edf601000500ac19358c8f64e44707ae27541100a8c043b832000000430100100100");
        call.resize(257, 0);
        assert_eq!(probe(Side::Client, &call), Probe::Match);
        assert_eq!(probe(Side::Client, &unhex("180000000000fcfe05800900000000000000000033000000")), Probe::NoMatch);
        assert_eq!(probe(Side::Client, b"GET / HTTP/1.1\r\n"), Probe::NoMatch);
    }

    #[test]
    fn later_messages_and_call_datagrams() {
        // `viber.pcap`: the server's encrypted messages 0x13 and 0x14 in one segment.
        let mut sealed = unhex("4d0013000000");
        sealed.resize(0x4d, 0x88);
        let mut next = unhex("4c0014000000");
        next.resize(0x4c, 0x6e);
        assert_eq!(later(Side::Server, &sealed), Probe::Match);
        sealed.extend(&next);
        assert_eq!(later(Side::Server, &sealed), Probe::Match);
        assert_ne!(later(Side::Server, &sealed[..sealed.len() - 1]), Probe::Match);
        assert_eq!(later(Side::Server, &[]), Probe::NoMatch, "no bytes are no messages");
        // A call's other datagrams wait; its opening decides.
        let ack = unhex("edf60900b339929163010000ac19358c8f64e447");
        assert_eq!(later(Side::Client, &ack), Probe::NeedMore);
        let mut call = unhex("edf601000500ac19358c8f64e44707ae27541100a8c043b832000000430100100100");
        call.resize(257, 0);
        assert_eq!(later(Side::Client, &call), Probe::Match);
        assert_eq!(later(Side::Client, b"GET / HTTP/1.1\r\n"), Probe::NoMatch);
    }
}
