//! EAQ, the Brazilian broadband quality meter (UDP, port 6000): 16-byte probes and
//! their echoes, a 32-bit big-endian counter first and a constant per side last.
//! Nothing else is fixed, so each datagram is only plausible; the counter advancing
//! on one side decides (see [`Probe::Plausible`]). Only the protocol is recorded.

use crate::kit::NameOnly;
use crate::{Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "eaq",
    transports: &[Transport::Udp],
    ports: &[6000],
    probe,
    new: || Box::new(NameOnly),
    later: None,
};

const SIZE: usize = 16;

pub fn probe(_side: Side, data: &[u8]) -> Probe {
    let Ok(d) = <[u8; SIZE]>::try_from(data) else { return Probe::NoMatch };
    let counter = u32::from_be_bytes([d[0], d[1], d[2], d[3]]);
    // The counter starts at zero for each measurement: a large one is something else.
    if counter > u32::from(u16::MAX) || d[12] != 0 || d[13] != 0 {
        return Probe::NoMatch;
    }
    Probe::Plausible { stream: u32::from_be_bytes([d[12], d[13], d[14], d[15]]), seq: counter as u16 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kit::unhex;

    #[test]
    fn probes_are_plausible_only() {
        // `EAQ.pcap`: the first two probes of a measurement.
        let first = unhex("0000000000000dda0007161c00009000");
        let second = unhex("0000000100000ddc0007073600009000");
        assert_eq!(probe(Side::Client, &first), Probe::Plausible { stream: 0x9000, seq: 0 });
        assert_eq!(probe(Side::Client, &second), Probe::Plausible { stream: 0x9000, seq: 1 });
        assert_eq!(probe(Side::Client, &first[..15]), Probe::NoMatch);
        assert_eq!(probe(Side::Client, &unhex("8000000100000ddc0007073600009000")), Probe::NoMatch);
    }
}
