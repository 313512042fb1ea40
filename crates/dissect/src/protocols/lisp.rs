//! LISP control messages (RFC 9301, port 4342). Over UDP: Map-Register and
//! Map-Notify, whose key id says how long their authentication data is (HMAC-SHA-1:
//! 20 bytes, HMAC-SHA-256: 32) — the probe checks the one against the other. Over
//! TCP (LISP reliable transport, RFC 9549): messages framed by a 16-bit type and a
//! 16-bit length that counts the whole message, types 17 to 22. Only the protocol is
//! recorded so far.

use crate::kit::{be16, framed, NameOnly};
use crate::{Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "lisp",
    transports: &[Transport::Udp, Transport::Tcp],
    ports: &[4342],
    probe,
    new: || Box::new(NameOnly),
    later: None,
};

const MAP_REGISTER: u8 = 3;
const MAP_NOTIFY: u8 = 4;
/// Type, flags, record count, nonce, key id, authentication data length.
const REGISTER_HEADER: usize = 16;
const RELIABLE_TYPES: std::ops::RangeInclusive<u16> = 17..=22;

/// A Map-Register or Map-Notify datagram whose authentication fits its key id.
fn register(d: &[u8]) -> bool {
    let kind = d.first().map(|b| b >> 4);
    if !matches!(kind, Some(MAP_REGISTER | MAP_NOTIFY)) || d.len() < REGISTER_HEADER {
        return false;
    }
    let auth = match (be16(d, 12), be16(d, 14)) {
        (Some(1), Some(20)) => 20,
        (Some(2), Some(32)) => 32,
        _ => return false,
    };
    // At least one record follows (count in the fourth byte).
    d[3] > 0 && d.len() > REGISTER_HEADER + auth
}

pub fn probe(_side: Side, d: &[u8]) -> Probe {
    if register(d) {
        return Probe::Match;
    }
    let (Some(kind), Some(len)) = (be16(d, 0), be16(d, 2)) else {
        return if d.first().is_none_or(|b| *b == 0) { Probe::NeedMore } else { Probe::NoMatch };
    };
    if !RELIABLE_TYPES.contains(&kind) || len < 8 {
        return Probe::NoMatch;
    }
    framed(d, usize::from(len), |next| be16(next, 0).is_none_or(|k| RELIABLE_TYPES.contains(&k)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kit::unhex;

    #[test]
    fn map_register_and_reliable_transport() {
        // `lisp_registration.pcap`.
        let mut register =
            unhex("3200010167ab931f9e8b974a00010014b746d6876088e5becff44020ab541826a234ed10000005a00120");
        register.resize(88, 0);
        assert_eq!(probe(Side::Client, &register), Probe::Match);
        let mut wrong = register.clone();
        wrong[15] = 0x20;
        assert_ne!(probe(Side::Client, &wrong), Probe::Match);
        assert_eq!(probe(Side::Server, &unhex("0014000f000000000000009facade9")), Probe::Match);
        assert_eq!(probe(Side::Client, &unhex("00110064000000003200")), Probe::NeedMore);
        assert_eq!(probe(Side::Client, &unhex("0030000f000000000000009facade9")), Probe::NoMatch);
    }
}
