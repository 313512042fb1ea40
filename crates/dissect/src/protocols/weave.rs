//! Nest Weave over TCP (Nest devices' log sink and service connections, usually port
//! 11095): messages framed by a little-endian length, each opening with a Weave
//! message header — a 16-bit little-endian field whose top nibble is the message
//! version (1) and whose flags say whether source and destination node ids (8 bytes
//! each) follow. The probe walks the framing: two whole messages in a row, each with
//! a version-1 header and room for the node ids it announces, decide. Only the
//! protocol is recorded so far.

use crate::kit::{le16, NameOnly};
use crate::{Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "weave",
    transports: &[Transport::Tcp],
    ports: &[11095],
    probe,
    new: || Box::new(NameOnly),
    later: None,
};

/// Messages that must frame exactly before the stream is taken for Weave.
const MESSAGES: usize = 2;
const SOURCE_NODE: u16 = 0x0100;
const DESTINATION_NODE: u16 = 0x0200;

pub fn probe(_side: Side, data: &[u8]) -> Probe {
    let mut at = 0;
    for _ in 0..MESSAGES {
        let Some(len) = le16(data, at) else { return Probe::NeedMore };
        let len = usize::from(len);
        // The header and the 32-bit message id at least.
        if len < 6 {
            return Probe::NoMatch;
        }
        if let Some(header) = le16(data, at + 2) {
            let ids = 8 * (usize::from(header & SOURCE_NODE != 0) + usize::from(header & DESTINATION_NODE != 0));
            if header >> 12 != 1 || len < 6 + ids {
                return Probe::NoMatch;
            }
        }
        at += 2 + len;
        if data.len() < at {
            return Probe::NeedMore;
        }
    }
    Probe::Match
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kit::unhex;

    /// The first messages of a thermostat's log sink connection (`nest_log_sink.pcap`).
    #[test]
    fn two_framed_messages_decide() {
        let mut first = unhex("1102001308030000369e27000030b418040000000230b418110a8906");
        first.resize(2 + 0x211, 0x5a);
        assert_eq!(probe(Side::Client, &first), Probe::NeedMore);
        let mut second = unhex("3200001309030000369e27000030b418040000000230b418110c890604000000");
        second.resize(2 + 0x32, 0xa5);
        let both = [first.clone(), second].concat();
        assert_eq!(probe(Side::Client, &both), Probe::Match);
        assert_eq!(probe(Side::Client, &both[..both.len() - 1]), Probe::NeedMore);
        // A version-2 header, or node ids that do not fit, is not Weave.
        let mut v2 = first.clone();
        v2[3] = 0x23;
        assert_eq!(probe(Side::Client, &v2), Probe::NoMatch);
        assert_eq!(probe(Side::Client, &unhex("0a000013000000000000")), Probe::NoMatch);
        assert_eq!(probe(Side::Client, b"GET / HTTP/1.1\r\n"), Probe::NoMatch);
    }
}
