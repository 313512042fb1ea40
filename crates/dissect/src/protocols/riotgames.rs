//! Riot Games' UDP game and voice traffic (League of Legends, Valorant): datagrams
//! that end with the trailer `AAAAAAAA BBBBBBBB`, and 53-byte connection requests
//! that end with a fixed 8-byte token. Only the protocol is recorded so far.

use crate::kit::NameOnly;
use crate::{Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "riotgames",
    transports: &[Transport::Udp],
    ports: &[],
    probe,
    new: || Box::new(NameOnly),
    later: None,
};

const TRAILER: [u8; 8] = [0xaa, 0xaa, 0xaa, 0xaa, 0xbb, 0xbb, 0xbb, 0xbb];
const REQUEST_TOKEN: [u8; 8] = [0x3c, 0xb1, 0x1f, 0x2d, 0xea, 0x23, 0x46, 0x0c];
const REQUEST: usize = 53;

pub fn probe(_side: Side, d: &[u8]) -> Probe {
    let ok = (d.len() > TRAILER.len() && d.ends_with(&TRAILER)) || (d.len() == REQUEST && d.ends_with(&REQUEST_TOKEN));
    Probe::from(ok)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kit::unhex;

    #[test]
    fn trailer_and_request() {
        // `riotgames.pcap`.
        let ping = unhex("2bbd03111e32fd15ab597f811fcc17161db1000052f862a729000000aaaaaaaabbbbbbbb");
        assert_eq!(probe(Side::Client, &ping), Probe::Match);
        let mut request = unhex("a49f9c31a0324204010000000000000000000000000000000000000000000000");
        request.extend(unhex("0000000098b99eebc2e012d8953cb11f2dea23460c"));
        assert_eq!(request.len(), REQUEST);
        assert_eq!(probe(Side::Client, &request), Probe::Match);
        assert_eq!(probe(Side::Client, &request[1..]), Probe::NoMatch);
        assert_eq!(probe(Side::Client, &TRAILER), Probe::NoMatch);
    }
}
