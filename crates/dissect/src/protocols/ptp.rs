//! Precision Time Protocol version 2 (IEEE 1588, UDP ports 319 event and 320
//! general): a 34-byte common header whose low nibbles give the message type and
//! the version (2), a message length that fits the datagram, and reserved bytes
//! that are zero. Only the protocol is recorded so far.

use crate::kit::NameOnly;
use crate::{Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "ptp",
    transports: &[Transport::Udp],
    ports: &[319, 320],
    probe,
    new: || Box::new(NameOnly),
    later: None,
};

const HEADER: usize = 34;

pub fn probe(_side: Side, d: &[u8]) -> Probe {
    let Some(h) = d.get(..HEADER) else { return Probe::NoMatch };
    let kind = h[0] & 0x0f;
    let len = usize::from(u16::from_be_bytes([h[2], h[3]]));
    // Sync, Delay_Req, Pdelay_*, Follow_Up, Delay_Resp, Pdelay_Resp_Follow_Up,
    // Announce, Signaling, Management.
    let ok = matches!(kind, 0..=3 | 8..=0xd)
        && h[1] & 0x0f == 2
        && (HEADER..=d.len()).contains(&len)
        && h[5] == 0
        && h[16..20] == [0; 4];
    Probe::from(ok)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kit::unhex;

    #[test]
    fn signaling() {
        // `ptpv2.pcap`: a signaling message (54 bytes, padded to 56).
        let mut d =
            unhex("0c02003600000400000000000000000000000000002094fffe00000d0001000105ffffffffffffffffffffff0004");
        d.resize(56, 0);
        assert_eq!(probe(Side::Client, &d), Probe::Match);
        let mut v1 = d.clone();
        v1[1] = 1;
        assert_eq!(probe(Side::Client, &v1), Probe::NoMatch);
        assert_eq!(probe(Side::Client, &d[..40]), Probe::NoMatch);
    }
}
