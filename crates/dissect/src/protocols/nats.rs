//! NATS (TCP port 4222), the messaging system's text protocol: the server opens with
//! `INFO {…}`, the client answers `CONNECT {…}`. Only the protocol is recorded so
//! far.

use crate::kit::NameOnly;
use crate::{Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "nats",
    transports: &[Transport::Tcp],
    ports: &[4222],
    probe,
    new: || Box::new(NameOnly),
    later: None,
};

pub fn probe(side: Side, d: &[u8]) -> Probe {
    match side {
        Side::Server => crate::kit::starts_with(d, b"INFO {\""),
        Side::Client => crate::kit::starts_with(d, b"CONNECT {\""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_and_connect() {
        assert_eq!(probe(Side::Server, br#"INFO {"server_id":"NALG56HQZ4C4ILRHCGYWMCSBVC"}"#), Probe::Match);
        assert_eq!(probe(Side::Client, br#"CONNECT {"verbose":false}"#), Probe::Match);
        assert_eq!(probe(Side::Client, b"CONNECT example.com:443 HTTP/1.1"), Probe::NoMatch);
        assert_eq!(probe(Side::Server, b"INF"), Probe::NeedMore);
    }
}
