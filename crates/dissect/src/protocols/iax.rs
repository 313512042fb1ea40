//! IAX2, the Inter-Asterisk eXchange (RFC 5456, UDP port 4569): calls' signalling
//! and media in one flow. A full frame has a 12-byte header (the source call number
//! with its top bit set, the destination call number, a timestamp, two sequence
//! numbers, a frame type and a subclass); IAX control frames (type 6) carry
//! information elements, each a type, a length and its bytes. A control frame whose
//! elements fill it exactly names the protocol; other full frames do when three of
//! one side keep their call numbers while their sequence number advances; the
//! 4-byte-headed mini frames of a call's voice leave it open. Only the protocol is
//! recorded.

use crate::kit::NameOnly;
use crate::{Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "iax",
    transports: &[Transport::Udp],
    ports: &[4569],
    probe,
    new: || Box::new(NameOnly),
    later: None,
};

const HEADER: usize = 12;
/// The IAX frame type, and its highest subclass (CALLTOKEN).
const IAX: u8 = 6;
const LAST_SUBCLASS: u8 = 0x28;
/// Frame types: DTMF 1 to comfort noise 10 (RFC 5456 8.2), and Asterisk's modem 11.
const LAST_TYPE: u8 = 11;

pub fn probe(_side: Side, d: &[u8]) -> Probe {
    if d.first().is_some_and(|b| b & 0x80 == 0) {
        // A mini frame (a call's voice): nothing to tell it by, but full frames may
        // follow.
        return if d.len() >= 4 { Probe::NeedMore } else { Probe::NoMatch };
    }
    if d.len() < HEADER {
        return Probe::NoMatch;
    }
    let (kind, subclass) = (d[10], d[11]);
    if !(1..=LAST_TYPE).contains(&kind) || (kind == IAX && !(1..=LAST_SUBCLASS).contains(&subclass)) {
        return Probe::NoMatch;
    }
    // Information elements, to the frame's end exactly.
    if kind == IAX && d.len() > HEADER {
        let mut at = HEADER;
        while at < d.len() {
            let Some(&length) = d.get(at + 1) else { return Probe::NoMatch };
            at += 2 + usize::from(length);
        }
        return Probe::from(at == d.len());
    }
    // Other full frames (acknowledgements, pings, voice): one side's keep its call
    // numbers while its outbound sequence number advances.
    let calls = u32::from_be_bytes([d[0], d[1], d[2] & 0x7f, d[3]]);
    Probe::Plausible { stream: calls, seq: u16::from(d[8]) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kit::unhex;

    #[test]
    fn control_frames_with_their_elements() {
        // `iax.pcap`: a NEW (version 2, the number called, the caller's number).
        let new =
            unhex("8004 0000 00000001 00 00 06 01 0b020002 010c343432303838323035313535 020c343437373832323637393439");
        assert_eq!(probe(Side::Client, &new), Probe::Match);
        assert_eq!(probe(Side::Client, &new[..new.len() - 1]), Probe::NoMatch, "an element cut short");
        // An ACK (no elements) and a voice full frame: one of a run; a voice mini
        // frame: open.
        let run = |seq| Probe::Plausible { stream: 0x8017_0004, seq };
        assert_eq!(probe(Side::Server, &unhex("801700040000000100010604")), run(0));
        assert_eq!(probe(Side::Server, &unhex("801780040000004902010202d5d5d5d5")), run(2), "retransmitted");
        assert_eq!(probe(Side::Server, &unhex("00040038d5d5d5d5d5d5")), Probe::NeedMore);
        assert_eq!(probe(Side::Server, &unhex("0004")), Probe::NoMatch);
        let mut odd = new.clone();
        odd[10] = 0x20;
        assert_eq!(probe(Side::Client, &odd), Probe::NoMatch, "no such frame type");
    }
}
