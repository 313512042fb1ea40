//! SOME/IP, the service protocol of cars' Ethernet networks (UDP and TCP, service
//! discovery on port 30490): a header of service and method ids, a length that
//! counts the rest of the message after its first eight bytes, request and session
//! ids, protocol version 1, an interface version and a message type; service
//! discovery uses service 0xFFFF and method 0x8100. Messages whose headers lead from
//! one to the next to the end of the bytes name it; one alone says little (a video's
//! bytes in the middle of an HTTP download held such a header, small length and
//! all), so what follows a message must be one too. Only the protocol is recorded.

use crate::kit::messages::Length;
use crate::kit::{chained, NameOnly};
use crate::{Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "someip",
    transports: &[Transport::Udp, Transport::Tcp],
    ports: &[30490, 30491, 30501],
    probe,
    new: || Box::new(NameOnly),
    later: None,
};

/// A message's whole length, from its header.
fn message(m: &[u8]) -> Length {
    let Some(h) = m.get(..16) else { return Length::NeedMore };
    let len = u32::from_be_bytes([h[4], h[5], h[6], h[7]]) as usize;
    // Message types: request, without return, notification, response, error, and
    // their TP (segmented) forms.
    let kind = h[14] & !0x20;
    let known = h[12] == 1 && matches!(kind, 0x00 | 0x01 | 0x02 | 0x40 | 0x41 | 0x42 | 0x80 | 0x81) && h[15] <= 0x7f;
    if known && len >= 8 {
        Length::Is(len.saturating_add(8))
    } else {
        Length::Bad
    }
}

pub fn probe(_side: Side, data: &[u8]) -> Probe {
    if data.len() < 16 {
        return Probe::NoMatch;
    }
    chained(data, message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kit::unhex;

    #[test]
    fn messages_name_it() {
        // From the shared capture: service discovery.
        let mut sd = b"\xff\xff\x81\0\0\0\0\x30\0\0\0\x03\x01\x01\x02\0".to_vec();
        sd.resize(0x30 + 8, 0);
        assert_eq!(probe(Side::Client, &sd), Probe::Match);
        sd[12] = 2;
        assert_eq!(probe(Side::Client, &sd), Probe::NoMatch, "protocol version 1 only");
        assert_eq!(probe(Side::Client, b"\xff\xff\x81\0\0\0\0\x30"), Probe::NoMatch);
    }

    #[test]
    fn what_follows_a_message_must_be_one_too() {
        // From an HTTP download of a video (`netflix.pcap`): a segment's first 16
        // bytes read as a header (length 0x28, version 1, a response), the bytes
        // after its 48 do not.
        let mut body = unhex("a3fb00000000002866b3010101000000002e901f1b000000");
        body.resize(1448, 0x5a);
        assert_eq!(probe(Side::Server, &body), Probe::NoMatch);
        // Two whole messages; a second cut short waits for the rest.
        let mut two = unhex("12340001000000100000000101010000");
        two.extend_from_slice(&[0; 8]);
        let one = two.clone();
        two.extend_from_slice(&one);
        assert_eq!(probe(Side::Client, &two), Probe::Match);
        assert_eq!(probe(Side::Client, &two[..40]), Probe::NeedMore);
    }
}
