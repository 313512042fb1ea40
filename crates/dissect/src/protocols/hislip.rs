//! HiSLIP, the IVI High-Speed LAN Instrument Protocol (TCP port 4880, test and
//! measurement instruments): 16-byte headers of `HS`, a message type, a control
//! code, a 32-bit parameter and a 64-bit big-endian payload length. The client's
//! Initialize names the instrument's sub-address (`hislip0`). Only the protocol is
//! recorded so far.

use crate::kit::NameOnly;
use crate::{Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "hislip",
    transports: &[Transport::Tcp],
    ports: &[4880],
    probe,
    new: || Box::new(NameOnly),
    later: None,
};

const HEADER: usize = 16;
/// Message types 0 (Initialize) to 26 (GetSaveDescriptor) are defined.
const LAST_TYPE: u8 = 26;

pub fn probe(_side: Side, d: &[u8]) -> Probe {
    match crate::kit::starts_with(d, b"HS") {
        Probe::Match => {}
        other => return other,
    }
    let Some(h) = d.get(..HEADER) else { return Probe::NeedMore };
    let len = u64::from_be_bytes(h[8..16].try_into().unwrap_or_default());
    Probe::from(h[2] <= LAST_TYPE && len < 1 << 32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kit::unhex;

    #[test]
    fn initialize_and_response() {
        // `hislip.pcap`.
        assert_eq!(probe(Side::Client, &unhex("485300000100525300000000000000076869736c697030")), Probe::Match);
        assert_eq!(probe(Side::Server, &unhex("48530100010000010000000000000000")), Probe::Match);
        assert_eq!(probe(Side::Server, &unhex("4853010001000001")), Probe::NeedMore);
        assert_eq!(probe(Side::Server, &unhex("48536001000000010000000000000000")), Probe::NoMatch);
        assert_eq!(probe(Side::Client, b"HTTP/1.1 200 OK\r\n"), Probe::NoMatch);
    }
}
