//! VNC's remote framebuffer protocol (RFC 6143): both sides open with their version,
//! `RFB 003.008\n`. Only the protocol is recorded so far.

use crate::kit::NameOnly;
use crate::{Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "vnc",
    transports: &[Transport::Tcp],
    ports: &[5900, 5901],
    probe,
    new: || Box::new(NameOnly),
    later: None,
};

pub fn probe(_side: Side, data: &[u8]) -> Probe {
    let shape = b"RFB 000.000\n";
    for (i, (&got, &want)) in data.iter().zip(shape.iter()).enumerate() {
        let ok = if want == b'0' { got.is_ascii_digit() } else { got == want };
        if !ok {
            return Probe::NoMatch;
        }
        if i == shape.len() - 1 {
            return Probe::Match;
        }
    }
    Probe::NeedMore
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version() {
        assert_eq!(probe(Side::Server, b"RFB 003.008\n"), Probe::Match);
        assert_eq!(probe(Side::Server, b"RFB 003"), Probe::NeedMore);
        assert_eq!(probe(Side::Server, b"RFB x"), Probe::NoMatch);
    }
}
