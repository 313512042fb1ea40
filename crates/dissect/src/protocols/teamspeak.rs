//! TeamSpeak 3 (UDP port 9987): a client's connection begins with init packets
//! that carry `TS3INIT1` after the packet's 8-byte MAC, and the server answers the
//! same way. Only the protocol is recorded (the voice that follows is encrypted).

use crate::kit::NameOnly;
use crate::{Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "teamspeak",
    transports: &[Transport::Udp],
    ports: &[9987],
    probe,
    new: || Box::new(NameOnly),
    later: None,
};

pub fn probe(_side: Side, data: &[u8]) -> Probe {
    Probe::from(data.get(..8) == Some(b"TS3INIT1") && data.len() >= 16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_it() {
        // From the shared capture: the client's first init packet.
        assert_eq!(probe(Side::Client, b"TS3INIT1\0\x65\0\0\x88\x0d\xd0\x57\x66\0\x5f\x59"), Probe::Match);
        assert_eq!(probe(Side::Client, b"TS3INIT1"), Probe::NoMatch, "an init packet has a body");
        assert_eq!(probe(Side::Client, b"\x79\x74\x63\xe8\x93\xba\x7e\x60\0\0\0\0\x22\x9d\x74\x8b"), Probe::NoMatch);
    }
}
