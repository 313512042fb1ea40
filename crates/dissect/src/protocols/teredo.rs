//! Teredo (RFC 4380, UDP 3544): IPv6 tunnelled through IPv4 NATs. A datagram is an
//! IPv6 packet whose payload length fills the datagram exactly, after an optional
//! authentication indicator (qualification with a Teredo server) and an optional
//! origin indication (the server telling the client its mapped address). Only the
//! protocol is recorded so far.

use crate::kit::NameOnly;
use crate::{Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "teredo",
    transports: &[Transport::Udp],
    ports: &[3544],
    probe,
    new: || Box::new(NameOnly),
    later: None,
};

const IPV6_HEADER: usize = 40;

/// The IPv6 packet past the optional indicators.
fn inner(mut d: &[u8]) -> Option<&[u8]> {
    // Authentication: 0x0001, client id and value lengths, both, an 8-byte nonce and
    // a confirmation byte.
    if d.starts_with(&[0x00, 0x01]) {
        let id = usize::from(*d.get(2)?);
        let auth = usize::from(*d.get(3)?);
        d = d.get(4 + id + auth + 9..)?;
    }
    // Origin indication: 0x0000, then the obfuscated port and IPv4 address.
    if d.starts_with(&[0x00, 0x00]) {
        d = d.get(8..)?;
    }
    Some(d)
}

pub fn probe(_side: Side, data: &[u8]) -> Probe {
    let ok = inner(data).is_some_and(|ip| {
        ip.len() >= IPV6_HEADER
            && ip[0] >> 4 == 6
            && usize::from(u16::from_be_bytes([ip[4], ip[5]])) == ip.len() - IPV6_HEADER
    });
    Probe::from(ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ipv6(payload: usize) -> Vec<u8> {
        let mut p = vec![0x60, 0, 0, 0];
        p.extend_from_slice(&(payload as u16).to_be_bytes());
        p.extend_from_slice(&[58, 255]);
        p.resize(IPV6_HEADER + payload, 0xfe);
        p
    }

    #[test]
    fn bare_authenticated_and_with_origin() {
        assert_eq!(probe(Side::Client, &ipv6(8)), Probe::Match);
        let mut auth = vec![0, 1, 0, 0];
        auth.extend_from_slice(&[0x11; 9]);
        auth.extend(ipv6(8));
        assert_eq!(probe(Side::Client, &auth), Probe::Match);
        let mut both = auth[..13].to_vec();
        both.extend_from_slice(&[0, 0, 0x32, 0xde, 0x46, 0xf9, 0x3f, 0x46]);
        both.extend(ipv6(48));
        assert_eq!(probe(Side::Server, &both), Probe::Match);
        let mut wrong = ipv6(8);
        wrong.push(0);
        assert_eq!(probe(Side::Client, &wrong), Probe::NoMatch, "the length must fill the datagram");
        assert_eq!(probe(Side::Client, &[0x45, 0, 0, 20]), Probe::NoMatch);
    }
}
