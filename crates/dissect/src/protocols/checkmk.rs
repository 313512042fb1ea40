//! Checkmk's agent (TCP port 6556): asked nothing, it sends its report, whose
//! first section header is `<<<check_mk>>>`. The agent's side names the protocol.
//! Only the protocol is recorded.

use crate::kit::NameOnly;
use crate::{Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "checkmk",
    transports: &[Transport::Tcp],
    ports: &[6556],
    probe,
    new: || Box::new(NameOnly),
    later: None,
};

pub fn probe(side: Side, data: &[u8]) -> Probe {
    match side {
        Side::Client => Probe::NeedMore,
        Side::Server => crate::kit::starts_with(data, b"<<<check_mk>>>"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opening_bytes_name_it() {
        assert_eq!(probe(Side::Server, b"<<<check_mk>>>\nVersion: 1.4.0p9\n"), Probe::Match);
        assert_eq!(probe(Side::Server, b"<<<check"), Probe::NeedMore);
        assert_eq!(probe(Side::Server, b"<html>"), Probe::NoMatch);
        assert_eq!(probe(Side::Client, b"<<<check_mk>>>\n"), Probe::NeedMore, "the agent speaks");
    }
}
