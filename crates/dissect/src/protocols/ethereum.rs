//! Ethereum's peer-to-peer layer: node discovery v4 over UDP, whose packets begin
//! with the Keccak-256 of the rest (checked here, so nothing else passes), and the
//! RLPx handshake over TCP: EIP-8 auth and ack messages, a 2-byte size then an ECIES
//! envelope opening with an uncompressed public key (0x04). Only the protocol is
//! recorded so far.

use tiny_keccak::{Hasher, Keccak};

use crate::kit::NameOnly;
use crate::{Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "ethereum",
    transports: &[Transport::Udp, Transport::Tcp],
    ports: &[30303],
    probe,
    new: || Box::new(NameOnly),
    later: None,
};

/// Hash (32), signature (65), type (1), then RLP data.
const DISCOVERY_HEADER: usize = 32 + 65 + 1;
/// Discovery packets are at most 1280 bytes.
const MAX_DISCOVERY: usize = 1280;

fn discovery(data: &[u8]) -> bool {
    if !(DISCOVERY_HEADER + 1..=MAX_DISCOVERY).contains(&data.len()) || !(1..=6).contains(&data[97]) {
        return false;
    }
    let mut k = Keccak::v256();
    k.update(&data[32..]);
    let mut hash = [0u8; 32];
    k.finalize(&mut hash);
    hash == data[..32]
}

pub fn probe(_side: Side, data: &[u8]) -> Probe {
    if data.len() > DISCOVERY_HEADER && discovery(data) {
        return Probe::Match;
    }
    // RLPx over TCP: the EIP-8 size counts the rest of the message.
    match data {
        [_] | [_, _] => Probe::NeedMore,
        [hi, lo, 0x04, ..] => {
            let size = usize::from(u16::from_be_bytes([*hi, *lo]));
            // auth ≈ 300–600 bytes, ack ≈ 250–500, with EIP-8 padding.
            let sane = (200..=2048).contains(&size);
            if !sane {
                Probe::NoMatch
            } else if data.len() < 2 + size {
                if data.len() < 65 {
                    Probe::NeedMore
                } else {
                    Probe::from(data.len() >= 1200)
                }
            } else {
                Probe::Match
            }
        }
        _ => Probe::NoMatch,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discovery_hash_and_rlpx_size() {
        let mut body = vec![0x11; 65];
        body.push(1); // ping
        body.extend_from_slice(&[0xdd, 0x04, 0xcb, 0x84, 0x7f, 0, 0, 1]);
        let mut k = Keccak::v256();
        k.update(&body);
        let mut hash = [0u8; 32];
        k.finalize(&mut hash);
        let mut packet = hash.to_vec();
        packet.extend_from_slice(&body);
        assert_eq!(probe(Side::Client, &packet), Probe::Match);
        packet[5] ^= 1;
        assert_eq!(probe(Side::Client, &packet), Probe::NoMatch);
        let mut auth = 400u16.to_be_bytes().to_vec();
        auth.push(0x04);
        auth.resize(402, 0x5a);
        assert_eq!(probe(Side::Client, &auth), Probe::Match);
        assert_eq!(probe(Side::Client, &auth[..40]), Probe::NeedMore);
        assert_eq!(probe(Side::Client, b"\x16\x03\x01\x02\x00\x01"), Probe::NoMatch);
    }
}
