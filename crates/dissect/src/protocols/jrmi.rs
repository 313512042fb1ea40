//! Java RMI's transport (the registry on TCP port 1099): the client opens with
//! `JRMI`, version 2 and a protocol (0x4B stream, 0x4C single-op, 0x4D multiplex).
//! A connection picked up later is named from a call or a return (0x50, 0x51)
//! whose arguments or result begin a Java object stream (`AC ED 00 05`). Only the
//! protocol is recorded.

use crate::kit::NameOnly;
use crate::{Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "jrmi",
    transports: &[Transport::Tcp],
    ports: &[1099],
    probe,
    new: || Box::new(NameOnly),
    later: Some(later),
};

/// Java serialization's stream magic and version.
const OBJECT_STREAM: [u8; 4] = [0xac, 0xed, 0x00, 0x05];

/// A Call (0x50) or ReturnData (0x51) message, its object stream after it.
pub fn later(_side: Side, data: &[u8]) -> Probe {
    match data.first() {
        None => Probe::NeedMore,
        Some(0x50 | 0x51) => match data.get(1..5) {
            Some(magic) => Probe::from(magic == OBJECT_STREAM),
            None if OBJECT_STREAM.starts_with(&data[1..]) => Probe::NeedMore,
            None => Probe::NoMatch,
        },
        Some(_) => Probe::NoMatch,
    }
}

pub fn probe(side: Side, data: &[u8]) -> Probe {
    if side == Side::Server {
        return Probe::NeedMore;
    }
    let Some(h) = data.get(..7) else {
        return match crate::kit::starts_with(data, b"JRMI\0\x02") {
            Probe::Match => Probe::NeedMore,
            said => said,
        };
    };
    Probe::from(&h[..6] == b"JRMI\0\x02" && (0x4b..=0x4d).contains(&h[6]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opening_bytes_name_it() {
        assert_eq!(probe(Side::Client, b"JRMI\0\x02K"), Probe::Match);
        assert_eq!(probe(Side::Client, b"JRM"), Probe::NeedMore);
        assert_eq!(probe(Side::Client, b"JRMI\0\x01K"), Probe::NoMatch);
        assert_eq!(probe(Side::Server, b"N\0\x09127.0.0.1"), Probe::NeedMore, "the client speaks first");
    }

    /// `jrmi.pcap` after its opening: a call, and its return.
    #[test]
    fn calls_and_returns_later() {
        assert_eq!(later(Side::Client, b"\x50\xac\xed\x00\x05\x77\x22"), Probe::Match);
        assert_eq!(later(Side::Server, b"\x51\xac\xed\x00\x05\x77\x0f"), Probe::Match);
        assert_eq!(later(Side::Server, b"\x51\xac"), Probe::NeedMore);
        assert_eq!(later(Side::Server, b"\x51\x00\x00\x00\x05"), Probe::NoMatch);
        assert_eq!(later(Side::Client, b"PING"), Probe::NoMatch);
    }
}
