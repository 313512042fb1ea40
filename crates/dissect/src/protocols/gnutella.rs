//! Gnutella: the TCP handshake (`GNUTELLA CONNECT/0.6`, answered `GNUTELLA/0.6 200`)
//! and UDP descriptors, whose 23-byte header (16-byte id, type, TTL, hops, payload
//! length) must count the datagram exactly, and the `GND` fragments of Gnutella 2
//! and GTKG's semi-reliable UDP.

use crate::kit::lines::starts_with_ci;
use crate::kit::NameOnly;
use crate::{Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "gnutella",
    transports: &[Transport::Tcp, Transport::Udp],
    ports: &[6346, 6347],
    probe,
    new: || Box::new(NameOnly),
    later: None,
};

const HEADER: usize = 23;

/// A descriptor: besides ping, pong, bye, push, query and query hit, clients send
/// vendor types (GTKG's semi-reliable UDP is `0x44`), so the type is not checked;
/// the payload length counting the datagram exactly is what tells.
fn descriptor(d: &[u8]) -> bool {
    if d.len() < HEADER {
        return false;
    }
    let (ttl, hops) = (d[17], d[18]);
    let len = u32::from_le_bytes([d[19], d[20], d[21], d[22]]) as usize;
    ttl <= 16 && hops <= 16 && ttl + hops <= 16 && len == d.len() - HEADER && d[..16] != [0; 16]
}

/// A `GND` fragment: the magic, flags, a sequence number, the part number and the
/// count of parts (an acknowledgement counts none).
fn fragment(d: &[u8]) -> bool {
    const FRAGMENT_HEADER: usize = 8;
    d.len() >= FRAGMENT_HEADER && d.starts_with(b"GND") && (d[7] == 0 || (1..=d[7]).contains(&d[6]))
}

pub fn probe(side: Side, data: &[u8]) -> Probe {
    if fragment(data) {
        return Probe::Match;
    }
    const CONNECT: &[u8] = b"GNUTELLA CONNECT/";
    const ANSWER: &[u8] = b"GNUTELLA/0.";
    if data.len() < CONNECT.len() {
        let begun = !data.is_empty() && (CONNECT.starts_with(data) || ANSWER.starts_with(data));
        return if begun { Probe::NeedMore } else { Probe::from(descriptor(data)) };
    }
    let text = match side {
        Side::Client => starts_with_ci(data, CONNECT),
        Side::Server => starts_with_ci(data, ANSWER) || starts_with_ci(data, CONNECT),
    };
    Probe::from(text || descriptor(data))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handshakes_and_udp_descriptors() {
        assert_eq!(probe(Side::Client, b"GNUTELLA CONNECT/0.6\r\nNode: 1.2.3.4:6346\r\n"), Probe::Match);
        assert_eq!(probe(Side::Server, b"GNUTELLA/0.6 503 No QRP\r\n"), Probe::Match);
        assert_eq!(probe(Side::Client, b"GNUT"), Probe::NeedMore);
        assert_eq!(probe(Side::Client, b"GET / HTTP/1.1\r\nHost: x\r\n"), Probe::NoMatch);
        let mut pong = vec![7u8; 16];
        pong.extend_from_slice(&[0x01, 1, 0, 14, 0, 0, 0]);
        pong.extend_from_slice(&[0; 14]);
        assert_eq!(probe(Side::Server, &pong), Probe::Match);
        pong.push(0);
        assert_eq!(probe(Side::Server, &pong), Probe::NoMatch, "the length must count the datagram");
        // GTKG's semi-reliable UDP, as a client sent it (gnutella.pcap of nDPI's tests).
        let hex = "50583102c9beec385bffe34fc3f870984400003a0000000547544b470000289d0a8d06deffc8263c33897c\
                   2c9179fd84ab61045d2fe235700901010000289d0a8d06deffc8263c33897c2c9179fd84ab61";
        let gtkg: Vec<u8> =
            (0..hex.len() / 2).map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap()).collect();
        assert_eq!(gtkg.len(), 81);
        assert_eq!(probe(Side::Client, &gtkg), Probe::Match);
        let gnd = crate::kit::unhex("474e44103e8f0101540b514b525006524e415d2fe2350970");
        assert_eq!(probe(Side::Client, &gnd), Probe::Match);
        assert_eq!(probe(Side::Client, &crate::kit::unhex("474e44103e8f0301540b514b525006524e41")), Probe::NoMatch);
    }
}
