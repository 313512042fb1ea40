//! Java RMI's transport (the registry on TCP port 1099): the client opens with
//! `JRMI`, version 2 and a protocol (0x4B stream, 0x4C single-op, 0x4D multiplex).
//! Only the protocol is recorded.

use crate::kit::NameOnly;
use crate::{Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "jrmi",
    transports: &[Transport::Tcp],
    ports: &[1099],
    probe,
    new: || Box::new(NameOnly),
    later: None,
};

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
}
