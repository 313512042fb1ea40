//! Elasticsearch's transport protocol (TCP port 9300: nodes of a cluster, and
//! clients that join it): messages of the marker `ES`, a big-endian length of the
//! rest, a request id, a status byte and a version; a length of -1 is a keep-alive
//! ping. Recognised from any message start by lengths that lead exactly from one
//! message to the next. Only the protocol is recorded (the REST interface on port
//! 9200 is HTTP).

use crate::kit::messages::Length;
use crate::kit::{be32, chained, starts_with, NameOnly};
use crate::{Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "elasticsearch",
    transports: &[Transport::Tcp],
    ports: &[9300],
    probe,
    new: || Box::new(NameOnly),
    later: Some(probe),
};

/// The length announced at most: Elasticsearch's default limit on a transport
/// message is far above this, but a first message this large is no handshake.
const MAX_MESSAGE: usize = 100 << 20;
/// Request id (8), status (1), version (4).
const HEADER: usize = 13;
const PING: u32 = u32::MAX;

pub fn probe(_side: Side, d: &[u8]) -> Probe {
    chained(d, |m| match be32(m, 2) {
        _ if starts_with(m, b"ES") == Probe::NoMatch => Length::Bad,
        None => Length::NeedMore,
        Some(PING) => Length::Is(6),
        Some(n) if (HEADER..=MAX_MESSAGE).contains(&(n as usize)) => Length::Is(6 + n as usize),
        Some(_) => Length::Bad,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kit::unhex;

    #[test]
    fn messages_that_follow_each_other() {
        // `elasticsearch.pcap`: a node's answer (19 bytes after the length).
        let answer = unhex("4553 00000013 000000000000000109005cc6630000cbf6ae03");
        assert_eq!(probe(Side::Server, &answer), Probe::Match);
        assert_eq!(probe(Side::Server, &answer[..10]), Probe::NeedMore);
        let mut with_ping = unhex("4553 ffffffff");
        with_ping.extend_from_slice(&answer);
        assert_eq!(probe(Side::Server, &with_ping), Probe::Match);
        assert_eq!(probe(Side::Server, &unhex("4553 ffff")), Probe::NeedMore);
        let mut longer = answer.clone();
        longer.push(0);
        assert_eq!(probe(Side::Server, &longer), Probe::NoMatch, "not a message start after it");
        assert_eq!(probe(Side::Client, b"ESMTP ready\r\n"), Probe::NoMatch);
        assert_eq!(probe(Side::Client, &unhex("4553 00000002 0000")), Probe::NoMatch, "shorter than a header");
    }
}
