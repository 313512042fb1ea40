//! Avast antivirus's update and reputation channel (TCP, often port 80): messages
//! open with `NOSA` and a big-endian length that counts the whole message. Only the
//! protocol is recorded so far.

use crate::kit::NameOnly;
use crate::{Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "avast",
    transports: &[Transport::Tcp],
    ports: &[],
    probe,
    new: || Box::new(NameOnly),
    later: None,
};

const MAGIC: &[u8] = b"NOSA";
/// The magic, the length and the two bytes that follow it in every message seen.
const HEADER: usize = 8;

pub fn probe(_side: Side, data: &[u8]) -> Probe {
    match crate::kit::starts_with(data, MAGIC) {
        Probe::Match => {}
        other => return other,
    }
    let Some(len) = data.get(4..6).map(|b| usize::from(u16::from_be_bytes([b[0], b[1]]))) else {
        return Probe::NeedMore;
    };
    Probe::from(len >= HEADER)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kit::unhex;

    #[test]
    fn request_and_answer() {
        // `avast.pcap`: the server's 16-byte answer, and the start of a request.
        assert_eq!(probe(Side::Server, &unhex("4e4f53410010010200000000e8e67a0c")), Probe::Match);
        assert_eq!(probe(Side::Client, &unhex("4e4f5341006001010000030108b25a29")), Probe::Match);
        assert_eq!(probe(Side::Client, b"NOS"), Probe::NeedMore);
        assert_eq!(probe(Side::Client, b"NOSA\x00\x02"), Probe::NoMatch);
        assert_eq!(probe(Side::Client, b"POST /"), Probe::NoMatch);
    }
}
