//! SOME/IP, the service protocol of cars' Ethernet networks (UDP and TCP, service
//! discovery on port 30490): a header of service and method ids, a length that
//! counts the rest of the message after its first eight bytes, request and session
//! ids, protocol version 1, an interface version and a message type; service
//! discovery uses service 0xFFFF and method 0x8100. A message whose length fits and
//! whose version and type are SOME/IP's names it. Only the protocol is recorded.

use crate::kit::NameOnly;
use crate::{Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "someip",
    transports: &[Transport::Udp, Transport::Tcp],
    ports: &[30490, 30491, 30501],
    probe,
    new: || Box::new(NameOnly),
    later: None,
};

pub fn probe(_side: Side, data: &[u8]) -> Probe {
    let Some(h) = data.get(..16) else { return Probe::NoMatch };
    let len = u32::from_be_bytes([h[4], h[5], h[6], h[7]]) as usize;
    // Message types: request, without return, notification, response, error, and
    // their TP (segmented) forms.
    let kind = h[14] & !0x20;
    let fits = len >= 8 && len + 8 <= data.len() && (len + 8 == data.len() || data.len() - (len + 8) >= 16);
    Probe::from(
        fits && h[12] == 1 && matches!(kind, 0x00 | 0x01 | 0x02 | 0x40 | 0x41 | 0x42 | 0x80 | 0x81) && h[15] <= 0x7f,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
