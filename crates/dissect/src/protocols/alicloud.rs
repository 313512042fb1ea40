//! Alibaba Cloud's IoT/link service framing over TCP: a `CE FA BE BA` magic, then a
//! little-endian length (the server's answers count exactly the bytes that follow).
//! Only the protocol is recorded so far.

use crate::kit::NameOnly;
use crate::{Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "alicloud",
    transports: &[Transport::Tcp],
    ports: &[],
    probe,
    new: || Box::new(NameOnly),
    later: None,
};

const MAGIC: [u8; 4] = [0xce, 0xfa, 0xbe, 0xba];

pub fn probe(side: Side, data: &[u8]) -> Probe {
    let n = data.len().min(4);
    if data[..n] != MAGIC[..n] {
        return Probe::NoMatch;
    }
    let Some(h) = data.get(..8) else { return Probe::NeedMore };
    let len = u32::from_le_bytes([h[4], h[5], h[6], h[7]]) as usize;
    match side {
        // The client's opening header stands alone.
        Side::Client => Probe::from(data.len() == 8),
        Side::Server if data.len() < 8 + len && len < 64 << 10 => Probe::NeedMore,
        Side::Server => Probe::from(data.len() == 8 + len),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opening_and_answer() {
        assert_eq!(probe(Side::Client, b"\xce\xfa\xbe\xba\x80\x00\x00\x00"), Probe::Match);
        let mut answer = b"\xce\xfa\xbe\xba\x30\x00\x00\x00".to_vec();
        answer.resize(56, 7);
        assert_eq!(probe(Side::Server, &answer), Probe::Match);
        assert_eq!(probe(Side::Server, &answer[..20]), Probe::NeedMore);
        assert_eq!(probe(Side::Client, b"\xce\xfa\xbe"), Probe::NeedMore);
        assert_eq!(probe(Side::Client, b"GET /"), Probe::NoMatch);
    }
}
