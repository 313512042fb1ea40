//! CryEngine's game networking (CryNetwork, UDP): the first byte is the datagram's
//! length less ten, followed by a fixed connection header (two zero bytes, then the
//! markers 0x01, 0x07 and 0x03 0x07 at offsets 16, 20 and 24). Only the protocol is
//! recorded so far.

use crate::kit::NameOnly;
use crate::{Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "crynet",
    transports: &[Transport::Udp],
    ports: &[],
    probe,
    new: || Box::new(NameOnly),
    later: None,
};

pub fn probe(_side: Side, d: &[u8]) -> Probe {
    let ok = d.len() >= 26
        && d.len() == usize::from(d[0]) + 10
        && d[1] == 0
        && d[2] == 0
        && d[16] == 0x01
        && d[20] == 0x07
        && d[24..26] == [0x03, 0x07];
    Probe::from(ok)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kit::unhex;

    #[test]
    fn connection_request() {
        // `crynet.pcap`: a 70-byte connection request.
        let mut d = unhex("3c000008ed0000000000000000000000010000000700000003070000000c000000");
        d.resize(70, 0x4d);
        assert_eq!(probe(Side::Client, &d), Probe::Match);
        assert_eq!(probe(Side::Client, &d[..69]), Probe::NoMatch);
        d[20] = 8;
        assert_eq!(probe(Side::Client, &d), Probe::NoMatch);
    }
}
