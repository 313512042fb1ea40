//! Nintendo Switch online play (UDP peer-to-peer and relay traffic): datagrams open
//! with the 5-byte marker `32 AB 98 64 02`. Only the protocol is recorded so far.

use crate::kit::NameOnly;
use crate::{Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "nintendo",
    transports: &[Transport::Udp],
    ports: &[],
    probe,
    new: || Box::new(NameOnly),
    later: None,
};

const MARKER: [u8; 5] = [0x32, 0xab, 0x98, 0x64, 0x02];

pub fn probe(_side: Side, d: &[u8]) -> Probe {
    Probe::from(d.len() > 48 && d.starts_with(&MARKER))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kit::unhex;

    #[test]
    fn marker() {
        // `nintendo.pcap`.
        let mut d = unhex("32ab986402000000ecc00000895c564c741760b90c98486fdd31610a8f43f745");
        d.resize(76, 0x5c);
        assert_eq!(probe(Side::Client, &d), Probe::Match);
        assert_eq!(probe(Side::Client, &d[..40]), Probe::NoMatch);
        d[4] = 3;
        assert_eq!(probe(Side::Client, &d), Probe::NoMatch);
    }
}
