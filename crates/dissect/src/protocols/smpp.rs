//! SMPP, the protocol between SMS centres and the systems that send and receive
//! messages (TCP, commonly ports 2775 and 9000): every PDU, either way, is a length,
//! a command id (a request, or the same id with the top bit set for its response), a
//! status (0 in requests) and a sequence number. Any PDU of a known command names
//! the protocol. Only the protocol is recorded.

use crate::kit::NameOnly;
use crate::{Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "smpp",
    transports: &[Transport::Tcp],
    ports: &[2775],
    probe,
    new: || Box::new(NameOnly),
    later: Some(probe),
};

/// Command ids of SMPP 3.4 and 5.0 (requests; responses add 0x80000000).
const COMMANDS: &[u32] =
    &[0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0b, 0x15, 0x21, 0x102, 0x103, 0x111, 0x112, 0x113];
/// The largest PDU believed (a submit_multi with a long message is a few KiB).
const MAX_PDU: u32 = 65_536;

pub fn probe(_side: Side, data: &[u8]) -> Probe {
    let Some(h) = data.get(..16) else {
        // A length's high bytes are zero.
        return if data.iter().take(2).all(|b| *b == 0) { Probe::NeedMore } else { Probe::NoMatch };
    };
    let word = |at: usize| u32::from_be_bytes([h[at], h[at + 1], h[at + 2], h[at + 3]]);
    let (len, id, status) = (word(0), word(4), word(8));
    let request = id & 0x8000_0000 == 0;
    let known = COMMANDS.contains(&(id & 0x7fff_ffff)) || id == 0x8000_0000;
    Probe::from((16..=MAX_PDU).contains(&len) && known && (!request || status == 0) && status < 0x0000_0500)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binds_and_their_responses() {
        // From the shared capture: bind_transmitter, and its response.
        let bind = b"\0\0\0\x28\0\0\0\x02\0\0\0\0\0\0\0\x01abhik\0password\0SMPP\0\x01\0\0\0";
        assert_eq!(probe(Side::Client, bind), Probe::Match);
        assert_eq!(probe(Side::Server, b"\0\0\0\x15\x80\0\0\x02\0\0\0\0\0\0\0\x01SMSC\0"), Probe::Match);
        // enquire_link.
        assert_eq!(probe(Side::Client, b"\0\0\0\x10\0\0\0\x15\0\0\0\0\0\0\0\x07"), Probe::Match);
        assert_eq!(probe(Side::Client, b"\0\0\0"), Probe::NeedMore);
        assert_eq!(probe(Side::Client, b"\0\0\0\x10\0\0\0\x99\0\0\0\0\0\0\0\x07"), Probe::NoMatch, "no such command");
        assert_eq!(
            probe(Side::Client, b"\0\0\0\x10\0\0\0\x15\0\0\0\x05\0\0\0\x07"),
            Probe::NoMatch,
            "a request's status is 0"
        );
        assert_eq!(probe(Side::Client, b"GET / HTTP/1.1\r\n"), Probe::NoMatch);
    }
}
