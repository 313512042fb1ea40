//! Apache Cassandra. Clients speak CQL's native protocol (TCP port 9042): 9-byte
//! frame headers of a version byte (3 to 5; the high bit marks responses), flags, a
//! stream id, an opcode and a 32-bit length of the body. Nodes talk to each other
//! (port 7000) in messages that open with the magic `CA552DFA`. Only the protocol
//! is recorded so far.

use crate::kit::NameOnly;
use crate::{Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "cassandra",
    transports: &[Transport::Tcp],
    ports: &[9042, 7000],
    probe,
    new: || Box::new(NameOnly),
    later: None,
};

const HEADER: usize = 9;
const INTERNODE_MAGIC: [u8; 4] = [0xca, 0x55, 0x2d, 0xfa];
/// Opcodes 0x00 (ERROR) to 0x10 (AUTH_SUCCESS).
const LAST_OPCODE: u8 = 0x10;
const MAX_BODY: u32 = 256 << 20;

pub fn probe(side: Side, d: &[u8]) -> Probe {
    if d.first() == Some(&INTERNODE_MAGIC[0]) {
        return crate::kit::starts_with(d, &INTERNODE_MAGIC);
    }
    let Some(h) = d.get(..HEADER) else {
        return if d.first().is_none_or(|v| (3..=5).contains(&(v & 0x7f))) { Probe::NeedMore } else { Probe::NoMatch };
    };
    let response = h[0] & 0x80 != 0;
    let version = h[0] & 0x7f;
    let len = u32::from_be_bytes([h[5], h[6], h[7], h[8]]);
    // Requests come from the client and responses from the server.
    let ok = (3..=5).contains(&version)
        && response == (side == Side::Server)
        && h[4] <= LAST_OPCODE
        && h[1] & 0xe0 == 0
        && len < MAX_BODY;
    if !ok {
        return Probe::NoMatch;
    }
    // The next frame speaks the same version.
    crate::kit::framed(d, HEADER + len as usize, |next| next[0] == h[0])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kit::unhex;

    #[test]
    fn options_supported_and_internode() {
        // `cassandra.pcap`: OPTIONS, SUPPORTED, and a node's message.
        assert_eq!(probe(Side::Client, &unhex("050000000500000000")), Probe::Match);
        let mut supported = unhex("8400000006000000340002000b434f4d5052455353494f4e");
        assert_eq!(probe(Side::Server, &supported), Probe::NeedMore);
        supported.resize(9 + 0x34, 0x41);
        assert_eq!(probe(Side::Server, &supported), Probe::Match);
        assert_eq!(probe(Side::Client, &supported), Probe::NoMatch);
        assert_eq!(probe(Side::Client, &unhex("ca552dfa0c0a0c1106c61200")), Probe::Match);
        assert_eq!(probe(Side::Client, &unhex("050000002000000000")), Probe::NoMatch);
    }
}
