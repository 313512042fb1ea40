//! GTP-C, the control plane of mobile core networks (UDP port 2123): version 2
//! messages begin with flags 0x48 (or 0x40 without a tunnel id), a message type and
//! a length that counts the datagram after the first four bytes; version 1 ones
//! with 0x32 (and the same length rule over the first eight). A known message type
//! with a length that fits the datagram names it. Only the protocol is recorded.

use crate::kit::NameOnly;
use crate::{Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "gtp-c",
    transports: &[Transport::Udp],
    ports: &[2123],
    probe,
    new: || Box::new(NameOnly),
    later: None,
};

pub fn probe(_side: Side, data: &[u8]) -> Probe {
    let Some(h) = data.get(..8) else { return Probe::NoMatch };
    let len = u16::from_be_bytes([h[2], h[3]]) as usize;
    let kind = h[1];
    let v2 = matches!(h[0], 0x48 | 0x40) && len + 4 == data.len() && (1..=255).contains(&kind) && v2_message(kind);
    let v1 = h[0] & 0xf0 == 0x30
        && h[0] & 0x08 == 0
        && len + 8 == data.len()
        && matches!(kind, 1..=7 | 16..=27 | 31 | 32 | 33 | 34 | 35 | 240 | 241);
    Probe::from(v2 || v1)
}

/// GTPv2-C message types in use (TS 29.274): echo, create/modify/delete session and
/// bearer, change notification, release access bearers, downlink data notification…
fn v2_message(kind: u8) -> bool {
    matches!(kind, 1..=2 | 32..=41 | 64..=73 | 95..=103 | 128..=131 | 133..=141 | 149..=151 | 160..=171 | 176..=177 | 200..=201 | 211..=212 | 231..=240)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_it() {
        // From the shared capture: a Create Session Request (32) and its response (33).
        let mut request = vec![0x48, 0x20, 0x00, 0xf3, 0, 0, 0, 0, 0x4b, 0x54, 0x62, 0x00];
        request.resize(0xf3 + 4, 0);
        assert_eq!(probe(Side::Client, &request), Probe::Match);
        let mut answer = vec![0x48, 0x21, 0x00, 0xd0, 0x35, 0x52, 0x92, 0x04];
        answer.resize(0xd0 + 4, 0);
        assert_eq!(probe(Side::Server, &answer), Probe::Match);
        request.pop();
        assert_eq!(probe(Side::Client, &request), Probe::NoMatch, "the length no longer fits");
        assert_eq!(probe(Side::Client, b"\x48\x20"), Probe::NoMatch);
    }
}
