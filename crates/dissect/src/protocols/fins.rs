//! Omron FINS (port 9600), PLC commands. Over TCP every frame opens with `FINS`, a
//! 32-bit length and a command (0: node address request, 1: its answer, 2: a FINS
//! frame). Over UDP the FINS header stands alone: an information byte with the
//! gateway bit set and only the response and no-reply bits besides, a zero reserved
//! byte, a gateway count of at most 7, six address bytes, a service id, then a
//! command code from FINS's list. Only the protocol is recorded so far.

use crate::kit::NameOnly;
use crate::{Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "fins",
    transports: &[Transport::Tcp, Transport::Udp],
    ports: &[9600],
    probe,
    new: || Box::new(NameOnly),
    later: None,
};

/// Main request codes: memory area, parameter area, program area, run, machine
/// configuration, status, time, message, access rights, error log, file, forced
/// status.
const MAIN_CODES: [u8; 14] = [0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x09, 0x0c, 0x21, 0x22, 0x23, 0x26, 0x28];

pub fn probe(_side: Side, d: &[u8]) -> Probe {
    if d.first() == Some(&b'F') {
        match crate::kit::starts_with(d, b"FINS") {
            Probe::Match => {}
            other => return other,
        }
        let Some(h) = d.get(..16) else { return Probe::NeedMore };
        let len = u32::from_be_bytes([h[4], h[5], h[6], h[7]]);
        let command = u32::from_be_bytes([h[8], h[9], h[10], h[11]]);
        return Probe::from((8..1 << 16).contains(&len) && command <= 3);
    }
    let Some(h) = d.get(..12) else { return Probe::NoMatch };
    let ok =
        h[0] & 0x80 != 0 && h[0] & 0x3e == 0 && h[1] == 0 && h[2] <= 7 && MAIN_CODES.contains(&h[10]) && h[11] < 0x40;
    Probe::from(ok)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kit::unhex;

    #[test]
    fn tcp_and_udp() {
        // `fins.pcap`: a node address request over TCP, a memory area read over UDP.
        assert_eq!(probe(Side::Client, &unhex("46494e530000000c000000000000000000000000")), Probe::Match);
        assert_eq!(probe(Side::Server, &unhex("46494e53000000100000000100000000000000fb000000c8")), Probe::Match);
        assert_eq!(probe(Side::Client, &unhex("8000020000000000007a010100cccccc0001")), Probe::Match);
        assert_eq!(probe(Side::Client, &unhex("8002020000000000007a010100cccccc0001")), Probe::NoMatch);
        assert_eq!(probe(Side::Client, &unhex("8000020000000000007a550100cccccc0001")), Probe::NoMatch);
    }
}
