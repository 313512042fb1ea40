//! Viber. Over TCP its messages open with a little-endian length that counts the
//! whole message, then a header with either `FC FF` at offset 6 and 0x80 at 9, or
//! `03 80` at 4 and 0x0A at 10. Over UDP (calls, port 7985) a session opens with a
//! message of type 1 whose next field is 5, in a datagram of 64 bytes or more. Only
//! the protocol is recorded so far.

use crate::kit::{le16, NameOnly};
use crate::{Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "viber",
    transports: &[Transport::Tcp, Transport::Udp],
    ports: &[],
    probe,
    new: || Box::new(NameOnly),
    later: None,
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
}
