//! DNSCrypt (v2): a client first fetches the resolver's certificate with a plain DNS
//! TXT query for `2.dnscrypt-cert.<provider>` (the DNS dissector marks that session
//! `dnscrypt`), then sends encrypted queries; every encrypted answer starts with the
//! resolver magic `r6fnvWj8`. Client queries start with the first 8 bytes of the
//! certificate, unknown here, so it is the answer that tells.

use crate::kit::NameOnly;
use crate::{Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "dnscrypt",
    transports: &[Transport::Udp, Transport::Tcp],
    // 443 is HTTPS's and QUIC's first: no guess from the port.
    ports: &[],
    probe,
    new: || Box::new(NameOnly),
    later: None,
};

/// What every encrypted answer begins with (over TCP, after a 2-byte length).
const RESOLVER_MAGIC: &[u8; 8] = b"r6fnvWj8";
/// Magic, 12-byte nonce half, 12-byte server nonce half, 16-byte MAC: the least.
const MIN_ANSWER: usize = 8 + 12 + 12 + 16;

/// A DNS question name that asks for a DNSCrypt certificate.
pub fn is_certificate_query(name: &str) -> bool {
    name.len() > 16 && name[..16].eq_ignore_ascii_case("2.dnscrypt-cert.")
}

/// Client magic, public key, nonce half and MAC: the least an encrypted query holds.
const MIN_QUERY: usize = 8 + 32 + 12 + 16;

pub fn probe(side: Side, data: &[u8]) -> Probe {
    if side == Side::Client {
        // A query cannot be told from random bytes: the answer decides.
        return if data.len() >= MIN_QUERY { Probe::NeedMore } else { Probe::NoMatch };
    }
    let answer = |d: &[u8]| d.len() >= MIN_ANSWER && d.starts_with(RESOLVER_MAGIC);
    Probe::from(answer(data) || (data.len() > 2 && answer(&data[2..])))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encrypted_answers_and_certificate_queries() {
        let mut answer = b"r6fnvWj8".to_vec();
        answer.extend_from_slice(&[7; 64]);
        assert_eq!(probe(Side::Server, &answer), Probe::Match);
        let mut framed = vec![0, answer.len() as u8];
        framed.extend_from_slice(&answer);
        assert_eq!(probe(Side::Server, &framed), Probe::Match);
        assert_eq!(probe(Side::Client, &answer), Probe::NeedMore, "the answer decides");
        assert_eq!(probe(Side::Client, b"short query"), Probe::NoMatch);
        assert_eq!(probe(Side::Server, b"r6fnvWj8 short"), Probe::NoMatch);
        assert!(is_certificate_query("2.dnscrypt-cert.dnscrypt.ca-2"));
        assert!(is_certificate_query("2.DNSCrypt-Cert.example.com"));
        assert!(!is_certificate_query("2.dnscrypt-cert."));
        assert!(!is_certificate_query("www.dnscrypt-cert.example"));
    }
}
