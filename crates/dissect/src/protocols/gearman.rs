//! Gearman, the job queue (TCP port 4730): every packet, either way, is `\0REQ` or
//! `\0RES`, a packet type (1 to 43) and a body length, so any packet names it. Only
//! the protocol is recorded.

use crate::kit::NameOnly;
use crate::{Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "gearman",
    transports: &[Transport::Tcp],
    ports: &[4730],
    probe,
    new: || Box::new(NameOnly),
    later: Some(probe),
};

/// A job's data can be large; this is a generous ceiling for one packet.
const MAX_BODY: u32 = 64 << 20;

pub fn probe(side: Side, data: &[u8]) -> Probe {
    let magic: &[u8] = if side == Side::Client { b"\0REQ" } else { b"\0RES" };
    let Some(h) = data.get(..12) else {
        return if magic.starts_with(&data[..data.len().min(4)]) { Probe::NeedMore } else { Probe::NoMatch };
    };
    let kind = u32::from_be_bytes([h[4], h[5], h[6], h[7]]);
    let len = u32::from_be_bytes([h[8], h[9], h[10], h[11]]);
    Probe::from(&h[..4] == magic && (1..=43).contains(&kind) && len <= MAX_BODY)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_and_responses() {
        // From the shared capture: CAN_DO "wc", then GRAB_JOB.
        let can_do = b"\0REQ\0\0\0\x01\0\0\0\x02wc";
        assert_eq!(probe(Side::Client, can_do), Probe::Match);
        assert_eq!(probe(Side::Client, b"\0REQ\0\0\0\x09\0\0\0\0"), Probe::Match);
        assert_eq!(probe(Side::Server, b"\0RES\0\0\0\x0a\0\0\0\0"), Probe::Match);
        assert_eq!(probe(Side::Server, can_do), Probe::NoMatch, "a request from the server");
        assert_eq!(probe(Side::Client, b"\0RE"), Probe::NeedMore);
        assert_eq!(probe(Side::Client, b"\0REQ\0\0\0\x63\0\0\0\0"), Probe::NoMatch);
        assert_eq!(probe(Side::Client, b"GET / HTTP/1.1\r\n"), Probe::NoMatch);
    }
}
