//! HART-IP (TCP and UDP port 5094), HART field instruments over IP: an 8-byte
//! header of version 1, a message type (request, response, publish, NAK, error), a
//! message id (session initiate, close, keep-alive, pass-through…), a status, a
//! sequence number and a byte count that counts the whole message. Only the
//! protocol is recorded so far.

use crate::kit::NameOnly;
use crate::{Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "hart-ip",
    transports: &[Transport::Tcp, Transport::Udp],
    ports: &[5094],
    probe,
    new: || Box::new(NameOnly),
    later: None,
};

const HEADER: usize = 8;

pub fn probe(_side: Side, d: &[u8]) -> Probe {
    let Some(h) = d.get(..HEADER) else {
        return if d.first().is_none_or(|v| *v == 1) { Probe::NeedMore } else { Probe::NoMatch };
    };
    let len = usize::from(u16::from_be_bytes([h[6], h[7]]));
    // Message types 0–3 and 15 (NAK); ids 0–3 and 128 (direct PDU).
    if h[0] != 1 || !matches!(h[1], 0..=3 | 15) || !matches!(h[2], 0..=3 | 128) || len < HEADER {
        return Probe::NoMatch;
    }
    // Another message follows with the same version.
    crate::kit::framed(d, len, |next| next[0] == 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kit::unhex;

    #[test]
    fn session_initiate() {
        // `hart_ip.pcap`: a session initiate request and response.
        assert_eq!(probe(Side::Client, &unhex("010000000002000d0100007530")), Probe::Match);
        assert_eq!(probe(Side::Server, &unhex("010100000002000d010000ea60")), Probe::Match);
        assert_eq!(probe(Side::Server, &unhex("010100000002000d01")), Probe::NeedMore);
        assert_eq!(probe(Side::Server, &unhex("020100000002000d010000ea60")), Probe::NoMatch);
    }
}
