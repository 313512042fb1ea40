//! AFP, Apple's file sharing, over DSI (TCP port 548): every DSI message, either
//! way, is a 16-byte header — flags (0 request, 1 reply), a command (1 to 8), a
//! request id, an error code or data offset, the length of what follows, and a
//! reserved word of zero — then its data. A header whose fields are DSI's names it.
//! Only the protocol is recorded.

use crate::kit::NameOnly;
use crate::{Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "afp",
    transports: &[Transport::Tcp],
    ports: &[548],
    probe,
    new: || Box::new(NameOnly),
    later: Some(probe),
};

pub fn probe(_side: Side, data: &[u8]) -> Probe {
    let Some(h) = data.get(..16) else {
        let ok = data.first().is_none_or(|f| *f <= 1) && data.get(1).is_none_or(|c| (1..=8).contains(c));
        return if ok { Probe::NeedMore } else { Probe::NoMatch };
    };
    let len = u32::from_be_bytes([h[8], h[9], h[10], h[11]]);
    Probe::from(h[0] <= 1 && (1..=8).contains(&h[1]) && len <= 1 << 20 && h[12..16] == [0, 0, 0, 0])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_it() {
        // From the shared capture: DSIGetStatus (3)... as request and reply.
        assert_eq!(probe(Side::Client, b"\0\x02\x22\xc6\0\0\0\0\0\0\0\x06\0\0\0\0\x11\0\0\x02\x0e\x1c"), Probe::Match);
        assert_eq!(probe(Side::Server, b"\x01\x02\x22\xc6\0\0\0\0\0\0\0\x22\0\0\0\0"), Probe::Match);
        assert_eq!(probe(Side::Client, b"\0\x02"), Probe::NeedMore);
        assert_eq!(probe(Side::Client, b"\0\x02\x22\xc6\0\0\0\0\0\0\0\x06\0\0\0\x01"), Probe::NoMatch);
        assert_eq!(probe(Side::Client, b"GET / HTTP/1.1\r\n"), Probe::NoMatch);
    }
}
