//! Agora's SD-RTN (real-time audio and video of many apps) over UDP: the edge
//! handshake, a message type 0x21 from the client naming the edge (`SNI` tag,
//! `…edge.agora.io`) and 0x23 from the edge (`PEID` tag) after a 4-byte id. Only the
//! protocol is recorded so far.

use crate::kit::NameOnly;
use crate::{Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "sd-rtn",
    transports: &[Transport::Udp],
    ports: &[],
    probe,
    new: || Box::new(NameOnly),
    later: None,
};

pub fn probe(_side: Side, data: &[u8]) -> Probe {
    let Some(h) = data.get(..17) else { return Probe::NoMatch };
    Probe::from(matches!(
        (&h[4..8], &h[11..]),
        ([0, 0, 0x21, 0], [0, 4, b'S', b'N', b'I', 0]) | ([0, 0, 0x23, 0], [0, 4, b'P', b'E', b'I', b'D'])
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edge_handshake() {
        let client = b"\x00\x5a\x38\x4c\x00\x00\x21\x00\x00\x00\x00\x00\x04SNI\x00\x1c\x0023-248-186-179.edge.agora.io";
        assert_eq!(probe(Side::Client, client), Probe::Match);
        let edge = b"\x00\x6a\x2e\x07\x00\x00\x23\x00\x5a\x38\x4c\x00\x04PEID\x04\x00";
        assert_eq!(probe(Side::Server, edge), Probe::Match);
        assert_eq!(
            probe(Side::Server, b"\x00\x6a\x2e\x07\x00\x00\x23\x00\x5a\x38\x4c\x00\x04PEIX\x04\x00"),
            Probe::NoMatch
        );
    }
}
