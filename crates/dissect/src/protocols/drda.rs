//! DRDA, the protocol of DB2 and Derby (TCP ports 446, 50000, 1527): every data
//! stream structure, either way, is a length, the magic byte 0xD0, a format byte
//! (chained and request/reply kinds) and a request correlator, followed by a DDM
//! object (its own length and code point). Any structure names it. Only the
//! protocol is recorded.

use crate::kit::NameOnly;
use crate::{Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "drda",
    transports: &[Transport::Tcp],
    ports: &[446, 50000, 1527],
    probe,
    new: || Box::new(NameOnly),
    later: Some(probe),
};

pub fn probe(_side: Side, data: &[u8]) -> Probe {
    let Some(h) = data.get(..10) else {
        return if data.get(2).is_none_or(|m| *m == 0xd0) { Probe::NeedMore } else { Probe::NoMatch };
    };
    let len = u16::from_be_bytes([h[0], h[1]]);
    let ddm_len = u16::from_be_bytes([h[6], h[7]]);
    // Format: the low nibble is the kind (1 request, 2 reply, 3 object, 4 encrypted
    // object, 5 request without reply); 0x80 is reserved.
    let kind = h[3] & 0x0f;
    Probe::from(h[2] == 0xd0 && len >= 10 && (1..=5).contains(&kind) && h[3] & 0x80 == 0 && ddm_len + 6 == len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opening_bytes_name_it() {
        // EXCSAT and its reply, from the shared capture.
        assert_eq!(probe(Side::Client, b"\0\x89\xd0\x41\0\x01\0\x83\x10\x41"), Probe::Match);
        assert_eq!(probe(Side::Server, b"\0\x5b\xd0\x43\0\x01\0\x55\x14\x43"), Probe::Match);
        assert_eq!(probe(Side::Client, b"\0\x89"), Probe::NeedMore);
        assert_eq!(probe(Side::Client, b"\0\x89\xd1\x41\0\x01\0\x83\x10\x41"), Probe::NoMatch);
        assert_eq!(probe(Side::Client, b"\0\x89\xd0\x41\0\x01\0\x84\x10\x41"), Probe::NoMatch, "lengths disagree");
    }
}
