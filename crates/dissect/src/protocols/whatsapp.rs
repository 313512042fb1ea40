//! WhatsApp's chat connections (TCP 443 or 5222): the Noise handshake opens with
//! `WA` and a two-byte version, straight away or after an edge-routing header
//! (`ED`, version 0.1, a 3-byte length). Only the protocol is recorded so far.

use crate::kit::NameOnly;
use crate::{Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "whatsapp",
    transports: &[Transport::Tcp],
    ports: &[],
    probe,
    new: || Box::new(NameOnly),
    later: None,
};

/// `WA`, then the major and minor protocol versions (small numbers).
fn prologue(d: &[u8]) -> Probe {
    if d.len() < 4 {
        return if d.iter().zip(b"WA").all(|(a, b)| a == b) { Probe::NeedMore } else { Probe::NoMatch };
    }
    Probe::from(d.starts_with(b"WA") && d[2] <= 9 && d[3] <= 9)
}

pub fn probe(side: Side, data: &[u8]) -> Probe {
    if side == Side::Server {
        return Probe::NeedMore;
    }
    // The routing header: `ED`, 0, 1, a 3-byte length, the route, then the prologue.
    if let Some(rest) = data.strip_prefix(b"ED\x00\x01") {
        let Some(len) = rest.get(..3) else { return Probe::NeedMore };
        let len = usize::from(len[0]) << 16 | usize::from(len[1]) << 8 | usize::from(len[2]);
        return match rest.get(3 + len..) {
            Some(after) if len <= 64 => prologue(after),
            None if len <= 64 => Probe::NeedMore,
            _ => Probe::NoMatch,
        };
    }
    if data.len() < 4 && b"ED\x00\x01".starts_with(data) {
        return Probe::NeedMore;
    }
    prologue(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn direct_and_routed_prologues() {
        assert_eq!(probe(Side::Client, b"WA\x01\x05\x00\x00\x18"), Probe::Match);
        assert_eq!(probe(Side::Client, b"ED\x00\x01\x00\x00\x04\x08\x05\x08\x02WA\x02\x01\x00\x00"), Probe::Match);
        assert_eq!(probe(Side::Client, b"ED\x00"), Probe::NeedMore);
        assert_eq!(probe(Side::Client, b"WAIT"), Probe::NoMatch);
        assert_eq!(probe(Side::Client, b"GET /"), Probe::NoMatch);
    }
}
