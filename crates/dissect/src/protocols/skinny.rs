//! Cisco Skinny Client Control Protocol (SCCP, TCP port 2000), between IP phones
//! and their call manager: messages of a 32-bit little-endian length (of what
//! follows the length and version fields), a header version (0 for the basic
//! protocol, 0x11 and up for the later ones) and a message id. The probe wants a
//! message that frames exactly and a known header version. Only the protocol is
//! recorded so far.

use crate::kit::{framed, le32, NameOnly};
use crate::{Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "skinny",
    transports: &[Transport::Tcp],
    ports: &[2000],
    probe,
    new: || Box::new(NameOnly),
    later: None,
};

const VERSIONS: [u32; 8] = [0, 0x0a, 0x11, 0x12, 0x14, 0x15, 0x16, 0x17];
/// Message ids run to 0x15x; 0x8000 and up are proprietary extensions.
const LAST_MESSAGE: u32 = 0x8100;

pub fn probe(_side: Side, d: &[u8]) -> Probe {
    let (Some(len), Some(version), Some(id)) = (le32(d, 0), le32(d, 4), le32(d, 8)) else {
        return Probe::NeedMore;
    };
    // A keep-alive (id 0) is the id alone.
    if !VERSIONS.contains(&version) || id > LAST_MESSAGE || !(4..=8192).contains(&len) || (id == 0 && len != 4) {
        return Probe::NoMatch;
    }
    // The next message must frame the same way.
    framed(d, 8 + len as usize, |next| {
        le32(next, 0).is_none_or(|l| (4..=8192).contains(&l)) && le32(next, 4).is_none_or(|v| v == version)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kit::unhex;

    #[test]
    fn register_messages() {
        // `skinny.pcap`.
        assert_eq!(probe(Side::Client, &unhex("100000001400000026000000010000000000000000000000")), Probe::Match);
        let answer = unhex("14000000140000008500000001000000010000000000000000000000");
        assert_eq!(probe(Side::Server, &answer), Probe::Match);
        assert_eq!(probe(Side::Server, &answer[..16]), Probe::NeedMore);
        assert_eq!(probe(Side::Server, &unhex("14000000130000008500000001000000")), Probe::NoMatch);
        // Lustre's LNet (`lustre.pcapng`) reads as a keep-alive of 193 bytes.
        assert_eq!(probe(Side::Client, &unhex("c1000000000000000000000000000000")), Probe::NoMatch);
    }
}
