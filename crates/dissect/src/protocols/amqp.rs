//! AMQP (TCP port 5672). A connection opens with the protocol header `AMQP` and its
//! version; afterwards every AMQP 0-9-1 frame is a type (method, header, body,
//! heartbeat), a channel, a 32-bit size, the payload and the end byte 0xCE. A
//! connection picked up later is recognised by a frame that ends where its size says
//! with that byte. Only the protocol is recorded so far.

use crate::kit::NameOnly;
use crate::{Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "amqp",
    transports: &[Transport::Tcp],
    ports: &[5672],
    probe,
    new: || Box::new(NameOnly),
    later: None,
};

const FRAME_HEADER: usize = 7;
const FRAME_END: u8 = 0xce;
const MAX_FRAME: u32 = 1 << 20;

pub fn probe(_side: Side, d: &[u8]) -> Probe {
    if d.first() == Some(&b'A') {
        return crate::kit::starts_with(d, b"AMQP");
    }
    let Some(h) = d.get(..FRAME_HEADER) else {
        return if d.first().is_none_or(|t| matches!(t, 1..=4 | 8)) { Probe::NeedMore } else { Probe::NoMatch };
    };
    let size = u32::from_be_bytes([h[3], h[4], h[5], h[6]]);
    if !matches!(h[0], 1..=4 | 8) || size > MAX_FRAME || (h[0] == 8 && size != 0) {
        return Probe::NoMatch;
    }
    match d.get(FRAME_HEADER + size as usize) {
        Some(&end) => Probe::from(end == FRAME_END),
        None if d.len() < crate::PROBE_BYTES => Probe::NeedMore,
        None => Probe::NoMatch,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kit::unhex;

    #[test]
    fn header_and_frames() {
        assert_eq!(probe(Side::Client, b"AMQP\x00\x00\x09\x01"), Probe::Match);
        assert_eq!(probe(Side::Client, b"AMQ"), Probe::NeedMore);
        // `amqp.pcap`: a basic.publish method frame.
        let publish = unhex("01000100000017003c002800000764656661756c74077461736b732e2300ce");
        assert_eq!(probe(Side::Client, &publish), Probe::Match);
        assert_eq!(probe(Side::Client, &publish[..20]), Probe::NeedMore);
        let mut bad_end = publish.clone();
        bad_end[30] = 0xcf;
        assert_eq!(probe(Side::Client, &bad_end), Probe::NoMatch);
        assert_eq!(probe(Side::Client, b"ABCDEF"), Probe::NoMatch);
    }
}
