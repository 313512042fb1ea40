//! The Bitcoin peer-to-peer protocol: messages start with the network's magic and a
//! NUL-padded ASCII command (`version` opens a connection). Only the protocol is
//! recorded so far.

use crate::kit::NameOnly;
use crate::{Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "bitcoin",
    transports: &[Transport::Tcp],
    ports: &[8333, 18333],
    probe,
    new: || Box::new(NameOnly),
    later: None,
};

/// Main network, testnet3, testnet4, signet, regtest.
const MAGICS: [[u8; 4]; 5] = [
    [0xf9, 0xbe, 0xb4, 0xd9],
    [0x0b, 0x11, 0x09, 0x07],
    [0x1c, 0x16, 0x3f, 0x28],
    [0x0a, 0x03, 0xcf, 0x40],
    [0xfa, 0xbf, 0xb5, 0xda],
];

pub fn probe(_side: Side, data: &[u8]) -> Probe {
    let prefix = &data[..data.len().min(4)];
    if !MAGICS.iter().any(|m| m.starts_with(prefix)) {
        return Probe::NoMatch;
    }
    let Some(command) = data.get(4..16) else { return Probe::NeedMore };
    // Lower-case letters, then NUL padding to 12 bytes.
    let end = command.iter().position(|b| *b == 0).unwrap_or(12);
    let ok = end > 0 && command[..end].iter().all(u8::is_ascii_lowercase) && command[end..].iter().all(|b| *b == 0);
    Probe::from(ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_message() {
        assert_eq!(probe(Side::Client, b"\xf9\xbe\xb4\xd9version\0\0\0\0\0\x66\0\0\0"), Probe::Match);
        assert_eq!(probe(Side::Client, b"\xf9\xbe\xb4"), Probe::NeedMore);
        assert_eq!(probe(Side::Client, b"\xf9\xbe\xb4\xd9VERSION\0\0\0\0\0"), Probe::NoMatch);
        assert_eq!(probe(Side::Client, b"GET /"), Probe::NoMatch);
    }
}
