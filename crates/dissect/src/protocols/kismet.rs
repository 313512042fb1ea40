//! Kismet's client protocol (TCP port 2501): the server opens with the line
//! `*KISMET: ` (its version and start time), and sends every other record as
//! `*NAME: fields`. Only the protocol is recorded.

use crate::kit::NameOnly;
use crate::{Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "kismet",
    transports: &[Transport::Tcp],
    ports: &[2501],
    probe,
    new: || Box::new(NameOnly),
    later: None,
};

pub fn probe(side: Side, data: &[u8]) -> Probe {
    match side {
        Side::Client => Probe::NeedMore,
        Side::Server => crate::kit::starts_with(data, b"*KISMET: "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opening_bytes_name_it() {
        assert_eq!(probe(Side::Server, b"*KISMET: 0.0.0 1144004381 \x01Kismet\x01 2005"), Probe::Match);
        assert_eq!(probe(Side::Server, b"*KIS"), Probe::NeedMore);
        assert_eq!(probe(Side::Server, b"*OK Hello"), Probe::NoMatch);
    }
}
