//! Service Location Protocol (SLP: RFC 2608 version 2, RFC 2165 version 1; UDP and
//! TCP port 427): service discovery on local networks, and a service VMware ESXi
//! answers on the internet (scanned for, and the way in of ESXiArgs). The probe
//! reads the whole header of either version, requests and replies alike: version,
//! a defined function, the message length to the byte of a datagram, flags whose
//! reserved bits are clear and a printable language tag. Only the protocol is
//! recorded so far.

use crate::kit::NameOnly;
use crate::{Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "slp",
    transports: &[Transport::Udp, Transport::Tcp],
    ports: &[427],
    probe,
    new: || Box::new(NameOnly),
    later: None,
};

/// Version 2: version, function, length (3), flags (2), next extension offset (3),
/// transaction id (2), language tag length (2).
const V2_HEADER: usize = 14;
/// Version 1: version, function, length (2), flags, dialect, language code (2),
/// character encoding (2), transaction id (2).
const V1_HEADER: usize = 12;
/// Language tags (RFC 1766) are short: `en`, `en-US`.
const MAX_TAG: usize = 35;

fn tag_text(t: &[u8]) -> bool {
    !t.is_empty() && t.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'-')
}

/// The message length a header announces, once the header is whole and sound.
fn header_length(data: &[u8]) -> Result<usize, Probe> {
    let need = |n: usize| if data.len() < n { Err(Probe::NeedMore) } else { Ok(()) };
    need(2)?;
    match data[0] {
        2 => {
            need(V2_HEADER)?;
            let flags = u16::from_be_bytes([data[5], data[6]]);
            let tag_len = usize::from(u16::from_be_bytes([data[12], data[13]]));
            // Functions 1 (SrvRqst) to 11 (SAAdvert); flags O, F, R and zeros.
            if !(1..=11).contains(&data[1]) || flags & 0x1fff != 0 || !(1..=MAX_TAG).contains(&tag_len) {
                return Err(Probe::NoMatch);
            }
            need(V2_HEADER + tag_len)?;
            if !tag_text(&data[V2_HEADER..V2_HEADER + tag_len]) {
                return Err(Probe::NoMatch);
            }
            Ok(u32::from_be_bytes([0, data[2], data[3], data[4]]) as usize)
        }
        1 => {
            need(V1_HEADER)?;
            // Functions 1 to 10; dialect 0; a two-letter language code.
            if !(1..=10).contains(&data[1]) || data[5] != 0 || !data[6..8].iter().all(u8::is_ascii_alphabetic) {
                return Err(Probe::NoMatch);
            }
            Ok(usize::from(u16::from_be_bytes([data[2], data[3]])))
        }
        _ => Err(Probe::NoMatch),
    }
}

pub fn probe(_side: Side, data: &[u8]) -> Probe {
    match header_length(data) {
        Err(p) => p,
        Ok(len) if len < V1_HEADER => Probe::NoMatch,
        // A datagram is one message to the byte.
        Ok(len) if len == data.len() => Probe::Match,
        Ok(len) if len > data.len() && len <= 64 * 1024 => Probe::NeedMore,
        // A stream may hold the next message already: it must begin like one.
        Ok(len) => match header_length(&data[len..]) {
            Ok(_) | Err(Probe::NeedMore) => Probe::Match,
            Err(_) => Probe::NoMatch,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `srvloc.pcap`: a scanner's SrvRqst for `service:censys` in the `DEFAULT`
    /// scope, and an attribute request; a version 1 request.
    #[test]
    fn requests_of_both_versions() {
        let mut v2 = vec![2, 1, 0, 0, 0x2f, 0, 0, 0, 0, 0, 0x44, 0, 0, 2];
        v2.extend_from_slice(b"en");
        v2.extend_from_slice(&[0, 0, 0, 14]);
        v2.extend_from_slice(b"service:censys");
        v2.extend_from_slice(&[0, 7]);
        v2.extend_from_slice(b"DEFAULT");
        v2.extend_from_slice(&[0, 0, 0, 0]);
        assert_eq!(v2.len(), 0x2f);
        assert_eq!(probe(Side::Client, &v2), Probe::Match);
        assert_eq!(probe(Side::Client, &v2[..20]), Probe::NeedMore, "a stream's first bytes");
        // Two messages in one stream; a message followed by bytes that begin none.
        assert_eq!(probe(Side::Client, &[v2.clone(), v2.clone()].concat()), Probe::Match);
        assert_eq!(probe(Side::Client, &[v2.clone(), vec![0xff; 20]].concat()), Probe::NoMatch);
        // Reserved flag bits, an unknown function, a tag that is not text.
        let mut bad = v2.clone();
        bad[6] = 1;
        assert_eq!(probe(Side::Client, &bad), Probe::NoMatch);
        let mut bad = v2.clone();
        bad[1] = 12;
        assert_eq!(probe(Side::Client, &bad), Probe::NoMatch);
        let mut bad = v2.clone();
        bad[14] = 0;
        assert_eq!(probe(Side::Client, &bad), Probe::NoMatch);

        // Version 1: length 32, no flags, dialect 0, `en`, encoding 3 (UTF-8), an id.
        let mut v1 = vec![1, 1, 0, 0x20, 0, 0, b'e', b'n', 0, 3, 0x12, 0x34];
        v1.resize(0x20, b'x');
        assert_eq!(probe(Side::Client, &v1), Probe::Match);
        assert_eq!(probe(Side::Client, b"GET / HTTP/1.1\r\n\r\n"), Probe::NoMatch);
    }
}
