//! The server's certificates: names, serial, validity, alternative names and
//! fingerprints (x509-parser), and what they say of the server: Tor's link
//! certificates, Psiphon's template, and the certificate risks.

use tyto_schema::{SessionRecord, TextField, Values};

use crate::kit::{add_protocol, hex, put_int, put_text, put_time};
use crate::risk::{self, Risk};

use super::{PSIPHON, TOR};

/// Certificates of a chain looked at: real chains have three or four.
pub(crate) const MAX_CERTS: usize = 8;

/// Alternative names looked at in one certificate (shared hosting lists hundreds).
const MAX_ALT_NAMES: usize = 1000;

/// A certificate expiring within this many days of the session is about to expire.
pub(crate) const ABOUT_TO_EXPIRE_DAYS: i64 = 30;

/// The server's own certificate (the chain's first): Tor's and Psiphon's, and its risks.
pub(crate) fn server_certificate(cert: &Certificate, der: &[u8], rec: &mut SessionRecord) {
    if tor_link(rec, &cert.subject_cn, &cert.issuer_cn) {
        add_protocol(rec, &TOR);
    }
    // Only a self-signed server certificate is looked at again.
    if cert.subject_cn == cert.issuer_cn && super::psiphon::meek_certificate(der) {
        add_protocol(rec, &PSIPHON);
    }
    // Self-signed: naming itself as its issuer. WebRTC's DTLS (inside a STUN
    // session) uses self-signed certificates by design (RFC 8827): no risk there.
    if cert.self_issued && !rec.protocols.iter().any(|p| p == "stun") {
        risk::add(rec, Risk::TlsSelfsignedCertificate);
    }
    if let (Some(names), Some(Values::Text(sni))) = (&cert.alt_names, rec.extra.get("host.tls")) {
        if sni.first().is_some_and(|sni| !names.iter().any(|n| names_server(n, sni))) {
            risk::add(rec, Risk::TlsCertificateMismatch);
        }
    }
    let (from, until) = cert.valid_ns;
    const DAY: i64 = 86_400 * 1_000_000_000;
    if rec.start_ns < from || rec.start_ns > until {
        risk::add(rec, Risk::TlsCertificateExpired);
    } else if until - rec.start_ns < ABOUT_TO_EXPIRE_DAYS * DAY {
        risk::add(rec, Risk::TlsCertificateAboutToExpire);
    }
    // Certificates issued from 1 September 2020 on are valid 398 days at most
    // (CA/Browser Forum ballot SC31).
    const SC31_NS: i64 = 1_598_918_400 * 1_000_000_000;
    if from >= SC31_NS && until - from > 398 * DAY {
        risk::add(rec, Risk::TlsCertValidityTooLong);
    }
}

/// Whether a certificate's alternative name covers the server name asked for, as
/// nDPI matches them: the same name, or a wildcard (`*.example.com`) whose rest
/// (`.example.com`) is found in the server name — at any depth, which is looser
/// than a browser's one label.
fn names_server(alt: &str, sni: &str) -> bool {
    match alt.strip_prefix('*') {
        Some(rest) => sni.to_ascii_lowercase().contains(&rest.to_ascii_lowercase()),
        None => alt.eq_ignore_ascii_case(sni),
    }
}

/// The server's certificate chain (TLS ≤ 1.2 sends it in clear): 3-byte list length,
/// then 3-byte length and DER per certificate.
pub(crate) fn certificates(body: &[u8], rec: &mut SessionRecord) {
    let mut at = 3;
    for i in 0..MAX_CERTS {
        let Some(l) = body.get(at..at + 3) else { return };
        let len = u32::from_be_bytes([0, l[0], l[1], l[2]]) as usize;
        let Some(der) = body.get(at + 3..at + 3 + len) else { return };
        let cert = certificate(der, rec);
        if let Some(cert) = cert.filter(|_| i == 0) {
            server_certificate(&cert, der, rec);
        }
        at += 3 + len;
    }
}

/// `www.` and a random base32 label of a Tor relay's link certificates.
pub(crate) fn tor_name(name: &str, tld: &str) -> bool {
    let Some(label) = name.strip_prefix("www.").and_then(|n| n.strip_suffix(tld)) else { return false };
    (4..=32).contains(&label.len()) && label.bytes().all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b))
}

/// A Tor relay's TLS: the client names a random `www.X.com`, and the relay's
/// certificate is issued to a random `www.Y.net` by a random `www.Z.com` (tor's
/// link certificates, in clear before TLS 1.3). All three together, not the server
/// name alone, which any site can resemble.
pub(crate) fn tor_link(rec: &SessionRecord, subject: &str, issuer: &str) -> bool {
    let sni_ok = match rec.extra.get("host.tls") {
        Some(Values::Text(names)) => names.iter().any(|n| tor_name(n, ".com")),
        _ => false,
    };
    sni_ok && tor_name(subject, ".net") && tor_name(issuer, ".com") && subject != issuer
}

/// One DER certificate's names, serial, validity, alternative names and fingerprints
/// (as Arkime writes them: SHA-1 with colons, serial as the integer's bytes in hex);
/// its subject's and issuer's first common names.
pub fn certificate(der: &[u8], rec: &mut SessionRecord) -> Option<Certificate> {
    use sha2::Digest;
    use x509_parser::certificate::X509CertificateParser;
    use x509_parser::nom::Parser;
    use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};
    // A certificate whose extensions do not all parse (odd or broken ones are common
    // in the wild) still has names, serial and validity: parse it again shallowly.
    let parsed = X509Certificate::from_der(der)
        .or_else(|_| X509CertificateParser::new().with_deep_parse_extensions(false).parse(der));
    let Ok((_, cert)) = parsed else { return None };
    let first_cn = |name: &x509_parser::x509::X509Name<'_>| name.iter_common_name().next().map(attribute_text);
    let cns = (first_cn(cert.subject()).unwrap_or_default(), first_cn(cert.issuer()).unwrap_or_default());
    let names = |name: &x509_parser::x509::X509Name<'_>, cn: TextField, on: TextField, rec: &mut SessionRecord| {
        for a in name.iter_common_name() {
            put_text(rec, cn, &attribute_text(a));
        }
        for a in name.iter_organization() {
            put_text(rec, on, &attribute_text(a));
        }
    };
    names(cert.subject(), text_field!("cert.subject.cn"), text_field!("cert.subject.on"), rec);
    names(cert.issuer(), text_field!("cert.issuer.cn"), text_field!("cert.issuer.on"), rec);
    for (name, field) in
        [(cert.subject(), text_field!("cert.subject.ou")), (cert.issuer(), text_field!("cert.issuer.ou"))]
    {
        for a in name.iter_organizational_unit() {
            put_text(rec, field, &attribute_text(a));
        }
    }
    // The key's algorithm and, for elliptic-curve keys, the named curve, by their
    // short names (`rsaEncryption`, `id-ecPublicKey`, `secp384r1`), as OpenSSL and
    // Arkime write them; an OID the registry does not know, dotted. A curve given by
    // explicit parameters rather than a name (CVE-2020-0601's CurveBall) is
    // `corrupt`, Arkime's word for it.
    let algorithm = &cert.public_key().algorithm;
    put_text(rec, text_field!("cert.publicAlgorithm"), &oid_name(&algorithm.algorithm));
    if algorithm.algorithm == x509_parser::oid_registry::OID_KEY_TYPE_EC_PUBLIC_KEY {
        if let Some(p) = &algorithm.parameters {
            let named = (p.tag() == x509_parser::der_parser::asn1_rs::Tag::Oid).then(|| p.as_oid().ok()).flatten();
            put_text(rec, text_field!("cert.curve"), &named.map_or_else(|| "corrupt".to_string(), |c| oid_name(&c)));
        }
    }
    put_text(rec, text_field!("cert.serial"), &hex(cert.raw_serial()));
    let validity = cert.validity();
    for (field, t) in
        [(time_field!("cert.notbefore"), validity.not_before), (time_field!("cert.notafter"), validity.not_after)]
    {
        if let Some(ns) = t.timestamp().checked_mul(1_000_000_000) {
            put_time(rec, field, ns);
        }
    }
    let valid_for = validity.not_after.timestamp().saturating_sub(validity.not_before.timestamp());
    put_int(rec, int_field!("cert.validforSeconds"), valid_for);
    put_int(rec, int_field!("cert.validfor"), valid_for / 86_400);
    // Counted from the session's first second, as Arkime counts it.
    let remaining = validity.not_after.timestamp().saturating_sub(rec.start_ns.div_euclid(1_000_000_000)).max(0);
    put_int(rec, int_field!("cert.remainingSeconds"), remaining);
    put_int(rec, int_field!("cert.remainingDays"), remaining / 86_400);
    let mut alt_names = None;
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        let mut names = Vec::new();
        for n in san.value.general_names.iter().take(MAX_ALT_NAMES) {
            match n {
                GeneralName::DNSName(d) => {
                    put_text(rec, text_field!("cert.alt"), d);
                    names.push(d.to_string());
                }
                GeneralName::IPAddress(a) => match *a {
                    [a, b, c, d] => names.push(std::net::Ipv4Addr::new(*a, *b, *c, *d).to_string()),
                    a => {
                        if let Ok(v6) = <[u8; 16]>::try_from(a) {
                            names.push(std::net::Ipv6Addr::from(v6).to_string());
                        }
                    }
                },
                _ => {}
            }
        }
        alt_names = Some(names);
    }
    let sha1 = sha1_hex(der);
    put_text(rec, text_field!("cert.hash"), &sha1);
    put_text(rec, text_field!("cert.sha256"), &hex(&sha2::Sha256::digest(der)));
    Some(Certificate {
        subject_cn: cns.0,
        issuer_cn: cns.1,
        self_issued: cert.subject().as_raw() == cert.issuer().as_raw(),
        alt_names,
        valid_ns: (
            validity.not_before.timestamp().saturating_mul(1_000_000_000),
            validity.not_after.timestamp().saturating_mul(1_000_000_000),
        ),
    })
}

/// An OID by its short name in x509-parser's registry, or dotted.
fn oid_name(oid: &x509_parser::oid_registry::Oid<'_>) -> String {
    x509_parser::objects::oid2sn(oid, x509_parser::objects::oid_registry())
        .map_or_else(|_| oid.to_id_string(), str::to_string)
}

/// What a certificate's reader needs to judge it: its first common names, whether
/// it was issued by itself (issuer and subject the same name), its validity, its
/// alternative names.
pub struct Certificate {
    pub subject_cn: String,
    pub issuer_cn: String,
    pub self_issued: bool,
    pub valid_ns: (i64, i64),
    /// Its alternative names (DNS names, addresses as text), when it has the extension.
    pub alt_names: Option<Vec<String>>,
}

/// A name attribute as text whatever its string type: the parser's `as_str` refuses
/// T61String and BMPString, which real certificates use.
pub(crate) fn attribute_text(a: &x509_parser::x509::AttributeTypeAndValue<'_>) -> String {
    if let Ok(s) = a.as_str() {
        return s.to_string();
    }
    let v = a.attr_value();
    if v.tag() == x509_parser::der_parser::asn1_rs::Tag::BmpString {
        let units = v.data.chunks_exact(2).map(|c| u16::from_be_bytes([c[0], c[1]]));
        return char::decode_utf16(units).map(|c| c.unwrap_or('\u{fffd}')).collect();
    }
    match std::str::from_utf8(v.data) {
        Ok(s) => s.to_string(),
        // T61String in practice holds Latin-1.
        Err(_) => v.data.iter().map(|b| char::from(*b)).collect(),
    }
}

pub(crate) fn sha1_hex(data: &[u8]) -> String {
    use sha1::Digest;
    let d = sha1::Sha1::digest(data);
    d.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":")
}
