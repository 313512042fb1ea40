//! HTTP/2 in clear text (h2c): the client's connection preface, sent straight away
//! ("prior knowledge") or after an HTTP/1.1 `Upgrade: h2c` answered 101, which the
//! HTTP dissector hands on. Only the protocol is recorded so far (headers are HPACK
//! compressed).

use crate::kit::{starts_with, NameOnly};
use crate::{Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "http2",
    transports: &[Transport::Tcp],
    ports: &[],
    probe,
    new: || Box::new(NameOnly),
    later: None,
};

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

pub fn probe(side: Side, data: &[u8]) -> Probe {
    match side {
        Side::Client => starts_with(data, PREFACE),
        // The server's first frame is a SETTINGS frame (type 4, stream 0); the
        // client's preface decides.
        Side::Server => Probe::NeedMore,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preface() {
        assert_eq!(probe(Side::Client, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x12\x04"), Probe::Match);
        assert_eq!(probe(Side::Client, b"PRI * HTTP/2"), Probe::NeedMore);
        assert_eq!(probe(Side::Client, b"GET / HTTP/1.1\r\n\r\n"), Probe::NoMatch);
    }
}
