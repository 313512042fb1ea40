//! Telnet (RFC 854): option negotiation (IAC WILL/WONT/DO/DONT or a subnegotiation)
//! at the start of either direction. Only the protocol is recorded so far.

use crate::kit::NameOnly;
use crate::{Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "telnet",
    transports: &[Transport::Tcp],
    ports: &[23],
    probe,
    new: || Box::new(NameOnly),
    later: None,
};

const IAC: u8 = 0xff;

pub fn probe(_side: Side, data: &[u8]) -> Probe {
    match data {
        [] | [IAC] => Probe::NeedMore,
        // Options are numbered up to 50 or so, plus EXOPL (255).
        [IAC, 0xfb..=0xfe] => Probe::NeedMore,
        [IAC, 0xfb..=0xfe, option, ..] => Probe::from(*option <= 50 || *option == 255),
        [IAC, 0xfa, option, ..] => Probe::from(*option <= 50),
        _ => Probe::NoMatch,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation() {
        assert_eq!(probe(Side::Server, b"\xff\xfd\x18\xff\xfd\x20"), Probe::Match);
        assert_eq!(probe(Side::Client, b"\xff\xfb\x18"), Probe::Match);
        assert_eq!(probe(Side::Client, b"\xff\xfb"), Probe::NeedMore);
        assert_eq!(probe(Side::Client, b"\xff\xfb\xc8"), Probe::NoMatch);
        assert_eq!(probe(Side::Client, b"login: "), Probe::NoMatch);
    }
}
