//! ISAKMP / IKE (IKEv1, RFC 2408/2409; IKEv2, RFC 7296) over UDP 500, and over 4500
//! after NAT traversal's four-zero-byte non-ESP marker: the version and exchange
//! types and SPIs of the 28-byte header, whose length field must equal the
//! datagram's. Field names and values as Arkime's. Certificates sent in clear
//! (IKEv1 payloads before encryption starts, IKEv2 payloads before its encrypted
//! one) are read as TLS's are. On port 4500 the same datagrams carry ESP (no zero
//! marker): their SPIs are recorded as ESP's.

use tyto_schema::SessionRecord;

use crate::kit::{hex, put_text};
use crate::protocols::{esp, tls};
use crate::{Dissector, Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "isakmp",
    transports: &[Transport::Udp],
    ports: &[500, 4500],
    probe,
    new: || Box::new(Isakmp { seen: 0, esp: esp::Esp::default() }),
    later: None,
};

const HEADER: usize = 28;
const MAX_MESSAGES: usize = 8;

/// The IKE message of a datagram (past a NAT-T marker), with its version and exchange.
fn header(d: &[u8]) -> Option<(&[u8], u8, u8)> {
    let m = if d.len() >= 4 + HEADER && d[..4] == [0, 0, 0, 0] { &d[4..] } else { d };
    if m.len() < HEADER || m[..8] == [0; 8] {
        return None;
    }
    let next_payload = m[16];
    let version = m[17];
    let exchange = m[18];
    let length = u32::from_be_bytes([m[24], m[25], m[26], m[27]]) as usize;
    let ok = match version {
        0x10 => matches!(exchange, 1..=6 | 32 | 33) && matches!(next_payload, 0..=13 | 20 | 21 | 130..=132),
        0x20 => matches!(exchange, 34..=37 | 43) && matches!(next_payload, 0 | 33..=48 | 53),
        _ => false,
    };
    (ok && length == m.len()).then_some((m, version >> 4, exchange))
}

pub fn probe(_side: Side, data: &[u8]) -> Probe {
    if header(data).is_some() {
        Probe::Match
    } else if esp_in_udp(data) {
        // NAT-T shares the port between IKE and ESP: the IKE message may come next.
        Probe::NeedMore
    } else {
        Probe::NoMatch
    }
}

/// A NAT-T ESP packet: no zero marker, an SPI negotiated by IKE (not one of the
/// reserved 1–255), a sequence number that starts at 1 and an encrypted payload of
/// at least a block; or the one-byte NAT keepalive.
fn esp_in_udp(d: &[u8]) -> bool {
    if d == [0xff] {
        return true;
    }
    let seq = d.get(4..8).map_or(0, |s| u32::from_be_bytes([s[0], s[1], s[2], s[3]]));
    d.len() >= 16 && esp::spi(d).is_some_and(|spi| spi > 255) && (1..1 << 24).contains(&seq)
}

/// Payloads looked at per message.
const MAX_PAYLOADS: usize = 32;
/// IKEv1's Certificate payload, IKEv2's, and IKEv2's Encrypted payload (the end of
/// what is clear).
const CERT_V1: u8 = 6;
const CERT_V2: u8 = 37;
const ENCRYPTED_V2: u8 = 46;
/// Certificate encoding "X.509 Certificate - Signature" (RFC 2408 3.9, RFC 7296 3.6).
const X509_SIGNATURE: u8 = 4;

/// The clear payloads of a message: a chain of (next payload, flags, length) headers.
fn certificates(m: &[u8], rec: &mut SessionRecord) {
    // IKEv1's flag bit 0: everything after the header is encrypted.
    if m[17] >> 4 == 1 && m[19] & 1 != 0 {
        return;
    }
    let mut next = m[16];
    let mut at = HEADER;
    for _ in 0..MAX_PAYLOADS {
        if next == 0 || next == ENCRYPTED_V2 {
            return;
        }
        let Some(h) = m.get(at..at + 4) else { return };
        let len = u16::from_be_bytes([h[2], h[3]]) as usize;
        let Some(body) = m.get(at + 4..at + len.max(4)) else { return };
        if matches!(next, CERT_V1 | CERT_V2) && body.first() == Some(&X509_SIGNATURE) {
            tls::certificate(&body[1..], rec);
        }
        if len < 4 {
            return;
        }
        next = h[0];
        at += len;
    }
}

/// Exchange types named as Arkime names them.
fn exchange_name(version: u8, e: u8) -> String {
    match (version, e) {
        (1, 1) => "base".into(),
        (1, 2) => "identity-protection".into(),
        (1, 3) => "authentication-only".into(),
        (1, 4) => "aggressive".into(),
        (1, 5) => "informational".into(),
        (1, 6) => "transaction".into(),
        (1, 32) => "quick-mode".into(),
        (1, 33) => "new-group".into(),
        (2, 34) => "ike-sa-init".into(),
        (2, 35) => "ike-auth".into(),
        (2, 36) => "create-child-sa".into(),
        (2, 37) => "informational".into(),
        (2, 43) => "ike-intermediate".into(),
        (_, e) => e.to_string(),
    }
}

pub struct Isakmp {
    seen: usize,
    esp: esp::Esp,
}

impl Dissector for Isakmp {
    fn feed(&mut self, _side: Side, data: &[u8], rec: &mut SessionRecord) {
        self.seen += 1;
        if let Some((m, version, exchange)) = header(data) {
            put_text(rec, text_field!("isakmp.version"), &format!("{version}.0"));
            put_text(rec, text_field!("isakmp.exchange-type"), &exchange_name(version, exchange));
            put_text(rec, text_field!("isakmp.initiator-spi"), &hex(&m[..8]));
            // Zero until the responder has answered.
            if m[8..16] != [0; 8] {
                put_text(rec, text_field!("isakmp.responder-spi"), &hex(&m[8..16]));
            }
            certificates(m, rec);
        } else if esp_in_udp(data) {
            self.esp.record(data, rec);
        }
    }

    fn wants_more(&self) -> bool {
        self.seen < MAX_MESSAGES
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tyto_schema::Values;

    fn ike(version: u8, exchange: u8, next: u8, body: usize) -> Vec<u8> {
        let mut m = vec![0u8; HEADER + body];
        m[..8].copy_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8]);
        m[16] = next;
        m[17] = version;
        m[18] = exchange;
        let len = (HEADER + body) as u32;
        m[24..28].copy_from_slice(&len.to_be_bytes());
        m
    }

    #[test]
    fn ikev1_ikev2_and_nat_traversal() {
        let v2 = ike(0x20, 34, 33, 200);
        assert_eq!(probe(Side::Client, &v2), Probe::Match);
        let mut natt = vec![0, 0, 0, 0];
        natt.extend_from_slice(&ike(0x20, 35, 46, 80));
        assert_eq!(probe(Side::Client, &natt), Probe::Match);
        assert_eq!(probe(Side::Client, &ike(0x10, 2, 1, 60)), Probe::Match);
        let mut wrong_len = v2.clone();
        wrong_len.push(0);
        assert_eq!(probe(Side::Client, &wrong_len), Probe::NoMatch);
        assert_eq!(probe(Side::Client, &ike(0x30, 34, 33, 10)), Probe::NoMatch);
        assert_eq!(probe(Side::Client, &[0u8; 60]), Probe::NoMatch);
        let mut s = Isakmp { seen: 0, esp: esp::Esp::default() };
        let mut rec = SessionRecord::default();
        s.feed(Side::Client, &natt, &mut rec);
        assert_eq!(rec.extra.get("isakmp.version"), Some(&Values::Text(vec!["2.0".into()])));
        assert_eq!(rec.extra.get("isakmp.exchange-type"), Some(&Values::Text(vec!["ike-auth".into()])));
        assert_eq!(rec.extra.get("isakmp.initiator-spi"), Some(&Values::Text(vec!["0102030405060708".into()])));
        assert_eq!(rec.extra.get("isakmp.responder-spi"), None, "zero: not answered yet");
    }
}
