//! Psiphon's unfronted meek over HTTPS, recognised by the server certificate its
//! servers generate (psiphon-tunnel-core's `GenerateWebServerCertificate`), which
//! TLS up to 1.2 sends in clear. Every part of that template must be there at once:
//! self-signed; a subject of one common name that is also the one DNS alternative
//! name; a CA with path length 1; key usage exactly digital signature, key
//! encipherment and certificate signing; extended key usage exactly server
//! authentication; a 2048-bit RSA key; a serial of at most 128 bits; a validity that
//! starts on the hour and lasts exactly one or two calendar years. Ordinary
//! self-signed certificates (OpenSSL's, Go's `generate_cert.go`) miss several of
//! these. Through TLS 1.3, or fronted through a CDN, nothing is claimed.

use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};
use x509_parser::public_key::PublicKey;

/// Serial numbers are drawn below 2^128: 16 bytes, 17 with DER's sign byte.
const MAX_SERIAL_BYTES: usize = 17;
const RSA_BITS: usize = 2048;

pub(crate) fn meek_certificate(der: &[u8]) -> bool {
    let Ok((_, cert)) = X509Certificate::from_der(der) else { return false };
    shaped_like_meek(&cert).unwrap_or(false)
}

fn shaped_like_meek(cert: &X509Certificate<'_>) -> Option<bool> {
    let subject = cert.subject();
    if subject.as_raw() != cert.issuer().as_raw() || subject.iter_attributes().count() != 1 {
        return Some(false);
    }
    let cn = subject.iter_common_name().next()?.as_str().ok()?;
    let san = cert.subject_alternative_name().ok()??;
    let names: Vec<_> = san.value.general_names.iter().collect();
    if !matches!(names.as_slice(), [GeneralName::DNSName(d)] if *d == cn) {
        return Some(false);
    }
    let basic = cert.basic_constraints().ok()??;
    if !basic.value.ca || basic.value.path_len_constraint != Some(1) {
        return Some(false);
    }
    let usage = cert.key_usage().ok()??.value;
    let usage_ok = usage.digital_signature()
        && usage.key_encipherment()
        && usage.key_cert_sign()
        && !(usage.non_repudiation()
            || usage.data_encipherment()
            || usage.key_agreement()
            || usage.crl_sign()
            || usage.encipher_only()
            || usage.decipher_only());
    let eku = cert.extended_key_usage().ok()??.value;
    let eku_ok = eku.server_auth
        && !(eku.any
            || eku.client_auth
            || eku.code_signing
            || eku.email_protection
            || eku.time_stamping
            || eku.ocsp_signing
            || !eku.other.is_empty());
    let rsa_ok = matches!(cert.public_key().parsed(), Ok(PublicKey::RSA(k)) if k.key_size() == RSA_BITS);
    let (from, to) = (cert.validity().not_before.to_datetime(), cert.validity().not_after.to_datetime());
    let on_the_hour = from.minute() == 0 && from.second() == 0;
    let whole_years = (1..=2).contains(&(to.year() - from.year()))
        && (to.month(), to.day(), to.time()) == (from.month(), from.day(), from.time());
    Some(usage_ok && eku_ok && rsa_ok && on_the_hour && whole_years && cert.raw_serial().len() <= MAX_SERIAL_BYTES)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meek_template_and_others() {
        // Made to the template (`testdata/`, from a Python script following
        // psiphon-tunnel-core's generator), the same starting at 07:13:52, and
        // `openssl req -x509 -subj /CN=… -addext subjectAltName=…`.
        assert!(meek_certificate(include_bytes!("../../../testdata/psiphon-meek.der")));
        assert!(!meek_certificate(include_bytes!("../../../testdata/self-signed-not-on-the-hour.der")));
        assert!(!meek_certificate(include_bytes!("../../../testdata/self-signed-openssl.der")));
        assert!(!meek_certificate(b"\x30\x03\x02\x01\x00"));
    }
}
