//! CoAP (RFC 7252, UDP port 5683): a 4-byte header (version 1, type, token length,
//! code, message id), the token, then options encoded as deltas and lengths up to an
//! optional 0xFF payload marker. The probe walks the whole datagram: the version,
//! a defined code class, a token of at most 8 bytes and options that end exactly
//! where the datagram or the payload begins. Only the protocol is recorded so far.

use crate::kit::NameOnly;
use crate::{Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "coap",
    transports: &[Transport::Udp],
    ports: &[5683],
    probe,
    new: || Box::new(NameOnly),
    later: None,
};

const HEADER: usize = 4;
const PAYLOAD_MARKER: u8 = 0xff;
/// Options one message may carry before the walk gives up.
const MAX_OPTIONS: usize = 32;
/// Registered options (RFC 7252, 7641, 7959, 7967, 8613, 8768, 9175) and the
/// longest value each may carry: an unknown option or a longer value means the
/// bytes are not CoAP.
const OPTIONS: [(usize, usize); 26] = [
    (1, 8),
    (3, 255),
    (4, 8),
    (5, 0),
    (6, 3),
    (7, 2),
    (8, 255),
    (9, 255),
    (11, 255),
    (12, 2),
    (14, 4),
    (15, 255),
    (17, 2),
    (19, 3),
    (20, 255),
    (21, 255),
    (23, 3),
    (27, 3),
    (28, 4),
    (35, 1034),
    (39, 255),
    (60, 4),
    (252, 255),
    (258, 1),
    (292, 255),
    (2049, 255),
];

/// An option's delta or length nibble with its extension bytes.
fn extended(nibble: u8, d: &[u8], at: &mut usize) -> Option<usize> {
    match nibble {
        0..=12 => Some(usize::from(nibble)),
        13 => {
            let v = *d.get(*at)?;
            *at += 1;
            Some(usize::from(v) + 13)
        }
        14 => {
            let v = crate::kit::be16(d, *at)?;
            *at += 2;
            Some(usize::from(v) + 269)
        }
        _ => None,
    }
}

pub(crate) fn message(d: &[u8]) -> bool {
    if d.len() < HEADER || d[0] >> 6 != 1 {
        return false;
    }
    let token = usize::from(d[0] & 0x0f);
    let (kind, class, detail) = ((d[0] >> 4) & 3, d[1] >> 5, d[1] & 0x1f);
    let code_ok = match class {
        // The empty message is the header alone.
        0 if detail == 0 => token == 0 && d.len() == HEADER,
        // Requests are confirmable or not, never acknowledgements or resets.
        0 => detail <= 7 && kind <= 1,
        2 | 4 | 5 => true,
        _ => false,
    };
    if !code_ok || token > 8 {
        return false;
    }
    let mut at = HEADER + token;
    if at > d.len() {
        return false;
    }
    let mut number = 0;
    for _ in 0..MAX_OPTIONS {
        let Some(&b) = d.get(at) else { return true };
        if b == PAYLOAD_MARKER {
            // A marker must be followed by a payload.
            return at + 1 < d.len();
        }
        at += 1;
        let (Some(delta), Some(len)) = (extended(b >> 4, d, &mut at), extended(b & 0x0f, d, &mut at)) else {
            return false;
        };
        number += delta;
        if !OPTIONS.iter().any(|&(n, max)| n == number && len <= max) {
            return false;
        }
        at += len;
        if at > d.len() {
            return false;
        }
    }
    false
}

pub fn probe(_side: Side, d: &[u8]) -> Probe {
    Probe::from(message(d))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kit::unhex;

    #[test]
    fn requests_and_responses() {
        // `coap_mqtt.pcap`: a PUT of storage/myresource, its 2.04 answer, a GET with
        // a token and its acknowledgement.
        assert_eq!(
            probe(Side::Client, &unhex("40039522b773746f726167650a6d797265736f75726365ff6d7964617461")),
            Probe::Match
        );
        assert_eq!(probe(Side::Server, &unhex("60449522")), Probe::Match);
        assert_eq!(probe(Side::Client, &unhex("4201e91b0790b8736570617261746510d12311")), Probe::Match);
        // A payload marker with nothing after it, an option running past the end,
        // code class 3, a token of 9.
        assert_eq!(probe(Side::Client, &unhex("40039522ff")), Probe::NoMatch);
        assert_eq!(probe(Side::Client, &unhex("40039522b77374")), Probe::NoMatch);
        assert_eq!(probe(Side::Client, &unhex("40639522")), Probe::NoMatch);
        assert_eq!(probe(Side::Client, &unhex("49019522")), Probe::NoMatch);
        // Option 13 is not registered; a GET sent as an acknowledgement is no request.
        assert_eq!(probe(Side::Client, &unhex("40019522d00061")), Probe::NoMatch);
        assert_eq!(probe(Side::Client, &unhex("60019522")), Probe::NoMatch);
        // Gnutella's `GND` fragments read as CoAP headers, with an 11-byte ETag.
        assert_eq!(probe(Side::Client, &unhex("474e44103e8f0101540b514b525006524e415d2fe2350970")), Probe::NoMatch);
    }
}
