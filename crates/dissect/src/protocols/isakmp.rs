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

/// IKEv1's SA and Vendor ID payloads; IKEv2's.
const SA_V1: u8 = 1;
const VENDOR_V1: u8 = 13;
const SA_V2: u8 = 33;
const VENDOR_V2: u8 = 43;
/// Proposals and transforms read per SA payload.
const MAX_TRANSFORMS: usize = 64;

/// Diffie-Hellman groups (IANA's IKE registry, the same numbers in both versions).
fn group_name(g: u16) -> String {
    match g {
        1 => "modp768".into(),
        2 => "modp1024".into(),
        5 => "modp1536".into(),
        14 => "modp2048".into(),
        15 => "modp3072".into(),
        16 => "modp4096".into(),
        17 => "modp6144".into(),
        18 => "modp8192".into(),
        19 => "ecp256".into(),
        20 => "ecp384".into(),
        21 => "ecp521".into(),
        22 => "modp1024s160".into(),
        23 => "modp2048s224".into(),
        24 => "modp2048s256".into(),
        25 => "ecp192".into(),
        26 => "ecp224".into(),
        27 => "brainpoolp224r1".into(),
        28 => "brainpoolp256r1".into(),
        29 => "brainpoolp384r1".into(),
        30 => "brainpoolp512r1".into(),
        31 => "curve25519".into(),
        32 => "curve448".into(),
        g => g.to_string(),
    }
}

/// One IKEv1 transform's attributes (RFC 2409 appendix A): encryption, hash,
/// authentication method, group.
fn v1_attributes(mut a: &[u8], rec: &mut SessionRecord) {
    while a.len() >= 4 {
        let kind = u16::from_be_bytes([a[0], a[1]]);
        let (value, used) = if kind & 0x8000 != 0 {
            (Some(u16::from_be_bytes([a[2], a[3]])), 4)
        } else {
            // A variable-length value (a life duration): skipped.
            (None, 4 + usize::from(u16::from_be_bytes([a[2], a[3]])))
        };
        if let Some(v) = value {
            let named = match (kind & 0x7fff, v) {
                (1, v) => Some((
                    text_field!("isakmp.encryption"),
                    [
                        "",
                        "des-cbc",
                        "idea-cbc",
                        "blowfish-cbc",
                        "rc5-r16-b64-cbc",
                        "3des-cbc",
                        "cast-cbc",
                        "aes-cbc",
                        "camellia-cbc",
                    ]
                    .get(usize::from(v))
                    .filter(|n| !n.is_empty())
                    .map_or_else(|| v.to_string(), |n| n.to_string()),
                )),
                (2, v) => Some((
                    text_field!("isakmp.hash"),
                    ["", "md5", "sha1", "tiger", "sha2-256", "sha2-384", "sha2-512"]
                        .get(usize::from(v))
                        .filter(|n| !n.is_empty())
                        .map_or_else(|| v.to_string(), |n| n.to_string()),
                )),
                (3, v) => Some((
                    text_field!("isakmp.auth-method"),
                    ["", "psk", "dss-sig", "rsa-sig", "rsa-enc", "rsa-rev-enc"]
                        .get(usize::from(v))
                        .filter(|n| !n.is_empty())
                        .map_or_else(|| v.to_string(), |n| n.to_string()),
                )),
                (4, v) => Some((text_field!("isakmp.dh-group"), group_name(v))),
                _ => None,
            };
            if let Some((field, name)) = named {
                put_text(rec, field, &name);
            }
        }
        a = a.get(used..).unwrap_or_default();
    }
}

/// An IKEv2 transform (RFC 7296 3.3.2): encryption, PRF (Arkime's `hash`), DH group.
fn v2_transform(kind: u8, id: u16, rec: &mut SessionRecord) {
    let (field, name) = match kind {
        1 => (
            text_field!("isakmp.encryption"),
            match id {
                3 => "3des".to_string(),
                12 => "aes-cbc".into(),
                13 => "aes-ctr".into(),
                14 => "aes-ccm-8".into(),
                15 => "aes-ccm-12".into(),
                16 => "aes-ccm-16".into(),
                18 => "aes-gcm-8".into(),
                19 => "aes-gcm-12".into(),
                20 => "aes-gcm-16".into(),
                23 => "camellia-cbc".into(),
                28 => "chacha20-poly1305".into(),
                id => id.to_string(),
            },
        ),
        2 => (
            text_field!("isakmp.hash"),
            match id {
                1 => "prf-hmac-md5".to_string(),
                2 => "prf-hmac-sha1".into(),
                4 => "prf-aes128-xcbc".into(),
                5 => "prf-hmac-sha2-256".into(),
                6 => "prf-hmac-sha2-384".into(),
                7 => "prf-hmac-sha2-512".into(),
                8 => "prf-aes128-cmac".into(),
                id => id.to_string(),
            },
        ),
        4 => (text_field!("isakmp.dh-group"), group_name(id)),
        _ => return,
    };
    put_text(rec, field, &name);
}

/// An SA payload's proposals and their transforms.
fn security_association(version: u8, mut body: &[u8], rec: &mut SessionRecord) {
    if version == 1 {
        // Domain of interpretation and situation first.
        body = body.get(8..).unwrap_or_default();
    }
    let mut read = 0;
    while body.len() >= 8 && read < MAX_TRANSFORMS {
        let len = usize::from(u16::from_be_bytes([body[2], body[3]]));
        let Some(proposal) = body.get(8..len.max(8)) else { return };
        let spi_size = usize::from(body[6]);
        let mut transforms = proposal.get(spi_size..).unwrap_or_default();
        while transforms.len() >= 8 && read < MAX_TRANSFORMS {
            read += 1;
            let tlen = usize::from(u16::from_be_bytes([transforms[2], transforms[3]]));
            let Some(t) = transforms.get(..tlen.max(8)) else { break };
            if version == 1 {
                v1_attributes(&t[8..], rec);
            } else {
                v2_transform(t[4], u16::from_be_bytes([t[6], t[7]]), rec);
            }
            transforms = &transforms[t.len()..];
        }
        body = &body[len.max(8).min(body.len())..];
    }
}

/// A vendor id as Arkime lists it: the few every implementation sends by name (RFC
/// 3706's dead peer detection), the others as the hex of their first 16 bytes (most
/// are an MD5; the rest add a version after it).
fn vendor_id(v: &[u8]) -> String {
    match hex(&v[..v.len().min(16)]).as_str() {
        "afcad71368a1f1c96b8696fc77570100" => "dpd".into(),
        other => other.to_string(),
    }
}

/// The clear payloads of a message, a chain of (next payload, flags, length) headers:
/// certificates, SA proposals, vendor ids.
fn payloads(m: &[u8], rec: &mut SessionRecord) {
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
        match (m[17] >> 4, next) {
            (1, SA_V1) | (2, SA_V2) => security_association(m[17] >> 4, body, rec),
            (1, VENDOR_V1) | (2, VENDOR_V2) if !body.is_empty() => {
                put_text(rec, text_field!("isakmp.vendor-id"), &vendor_id(body));
            }
            _ => {}
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
            payloads(m, rec);
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

    /// A message with the given payloads (type, body) chained after the header.
    fn with_payloads(version: u8, exchange: u8, payloads: &[(u8, Vec<u8>)]) -> Vec<u8> {
        let mut body = Vec::new();
        for (i, (_, p)) in payloads.iter().enumerate() {
            let next = payloads.get(i + 1).map_or(0, |(t, _)| *t);
            body.extend([next, 0]);
            body.extend(((p.len() + 4) as u16).to_be_bytes());
            body.extend(p);
        }
        let mut m = ike(version, exchange, payloads[0].0, body.len());
        m[HEADER..].copy_from_slice(&body);
        m
    }

    /// Proposals as each version writes them, and vendor ids.
    #[test]
    fn proposals_and_vendor_ids() {
        // IKEv2: one IKE proposal: ENCR aes-gcm-16 (with a key length), PRF sha2-256, DH 31.
        let transform = |last: bool, kind: u8, id: u16, attrs: &[u8]| {
            let mut t = vec![if last { 0 } else { 3 }, 0];
            t.extend(((8 + attrs.len()) as u16).to_be_bytes());
            t.extend([kind, 0]);
            t.extend(id.to_be_bytes());
            t.extend(attrs);
            t
        };
        let transforms =
            [transform(false, 1, 20, &[0x80, 14, 1, 0]), transform(false, 2, 5, &[]), transform(true, 4, 31, &[])]
                .concat();
        let mut proposal = vec![0, 0];
        proposal.extend(((8 + transforms.len()) as u16).to_be_bytes());
        proposal.extend([1, 1, 0, 3]);
        proposal.extend(transforms);
        let m = with_payloads(0x20, 34, &[(SA_V2, proposal), (VENDOR_V2, b"strongSwan".to_vec())]);
        let mut rec = SessionRecord::default();
        Isakmp { seen: 0, esp: esp::Esp::default() }.feed(Side::Client, &m, &mut rec);
        assert_eq!(rec.extra.texts("isakmp.encryption"), ["aes-gcm-16"]);
        assert_eq!(rec.extra.texts("isakmp.hash"), ["prf-hmac-sha2-256"]);
        assert_eq!(rec.extra.texts("isakmp.dh-group"), ["curve25519"]);
        assert_eq!(rec.extra.texts("isakmp.vendor-id"), [hex(b"strongSwan")]);
        assert_eq!(vendor_id(b"MS-Negotiation Discovery Capable"), hex(b"MS-Negotiation D"));
        // IKEv1: DOI and situation, a proposal, a transform with basic attributes.
        let attrs = [[0x80, 1, 0, 7], [0x80, 2, 0, 6], [0x80, 3, 0, 1], [0x80, 4, 0, 20]].concat();
        let mut t = vec![0, 0];
        t.extend(((8 + attrs.len() + 8) as u16).to_be_bytes());
        t.extend([1, 1, 0, 0]);
        t.extend(&attrs);
        t.extend([0, 11, 0, 4, 0, 0, 0x70, 0x80]); // a life duration, variable length
        let mut p = vec![0, 0];
        p.extend(((8 + t.len()) as u16).to_be_bytes());
        p.extend([1, 1, 0, 1]);
        p.extend(t);
        let sa = [vec![0, 0, 0, 1, 0, 0, 0, 1], p].concat();
        let dpd = vec![0xaf, 0xca, 0xd7, 0x13, 0x68, 0xa1, 0xf1, 0xc9, 0x6b, 0x86, 0x96, 0xfc, 0x77, 0x57, 0x01, 0x00];
        let m = with_payloads(0x10, 2, &[(SA_V1, sa), (VENDOR_V1, dpd)]);
        let mut rec = SessionRecord::default();
        Isakmp { seen: 0, esp: esp::Esp::default() }.feed(Side::Client, &m, &mut rec);
        assert_eq!(rec.extra.texts("isakmp.encryption"), ["aes-cbc"]);
        assert_eq!(rec.extra.texts("isakmp.hash"), ["sha2-512"]);
        assert_eq!(rec.extra.texts("isakmp.auth-method"), ["psk"]);
        assert_eq!(rec.extra.texts("isakmp.dh-group"), ["ecp384"]);
        assert_eq!(rec.extra.texts("isakmp.vendor-id"), ["dpd"]);
        // Cut anywhere, nothing panics.
        for cut in HEADER..m.len() {
            let mut short = m[..cut].to_vec();
            short[24..28].copy_from_slice(&(cut as u32).to_be_bytes());
            Isakmp { seen: 0, esp: esp::Esp::default() }.feed(Side::Client, &short, &mut SessionRecord::default());
        }
    }
}
