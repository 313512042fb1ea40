//! Monero's peer-to-peer network (TCP, port 18080), spoken in the Levin protocol
//! that CryptoNote coins share: every message opens with the 8-byte signature
//! `01 21 01 01 01 01 01 01`, then a 64-bit little-endian body length, a flag byte
//! and the command number (1001 is the handshake). Only the protocol is recorded so
//! far.

use crate::kit::{le32, NameOnly};
use crate::{Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "monero",
    transports: &[Transport::Tcp],
    ports: &[18080],
    probe,
    new: || Box::new(NameOnly),
    later: None,
};

const SIGNATURE: [u8; 8] = [0x01, 0x21, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01];
/// Signature, length, flag, command, return code, flags, version.
const HEADER: usize = 33;

pub fn probe(_side: Side, d: &[u8]) -> Probe {
    match crate::kit::starts_with(d, &SIGNATURE) {
        Probe::Match => {}
        other => return other,
    }
    let Some(h) = d.get(..HEADER) else { return Probe::NeedMore };
    let body = u64::from_le_bytes(h[8..16].try_into().unwrap_or_default());
    // Commands are numbered from 1001 up; the "have to return" flag is a boolean.
    let command = le32(h, 17).unwrap_or(0);
    Probe::from(body < 1 << 28 && h[16] <= 1 && (1001..=2100).contains(&command))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kit::unhex;

    #[test]
    fn handshake() {
        // `monero.pcap`: the start of a handshake request.
        let hello = unhex("0121010101010101060100000000000001e903000000000000010000000100000001110101010102010108096e");
        assert_eq!(probe(Side::Client, &hello), Probe::Match);
        assert_eq!(probe(Side::Client, &hello[..20]), Probe::NeedMore);
        let mut other = hello.clone();
        other[17] = 0;
        other[18] = 0;
        assert_eq!(probe(Side::Client, &other), Probe::NoMatch);
    }
}
