//! TLS handshakes: the ClientHello (server name, ALPN, versions, JA3, JA4) and the
//! ServerHello (version, cipher, JA3S). Records and handshake messages are
//! reassembled across segments within a bound; nothing after the handshake is read.
//! Hand-written rather than tls-parser: JA3/JA4 need the raw order of every list,
//! GREASE values included, which a typed parse normalises away.

use md5::{Digest, Md5};
use sha2::Sha256;
use tyto_schema::{SessionRecord, TextField, Values};

use crate::kit::{add_protocol, hex, put_text, put_time};
use crate::risk::{self, Risk};
use crate::{Dissector, Probe, Protocol, Side, SubProtocol, Transport};

/// Tor's link certificates; Psiphon's meek certificate template.
pub static TOR: SubProtocol = SubProtocol { name: "tor", parent: Some(&PROTOCOL) };
pub static PSIPHON: SubProtocol = SubProtocol { name: "psiphon", parent: Some(&PROTOCOL) };
/// DNS over TLS (RFC 7858: port 853 or ALPN `dot`) and over QUIC (RFC 9250: ALPN `doq`).
pub static DOT: SubProtocol = SubProtocol { name: "dot", parent: Some(&PROTOCOL) };
pub static DOQ: SubProtocol = SubProtocol { name: "doq", parent: Some(&crate::protocols::quic::PROTOCOL) };

pub static PROTOCOL: Protocol = Protocol {
    name: "tls",
    transports: &[Transport::Tcp],
    ports: &[443, 465, 636, 853, 993, 995, 8443],
    probe,
    new: || Box::new(Tls::default()),
    later: None,
};

/// Handshake bytes held per direction: a ClientHello is a few hundred bytes, a
/// certificate chain a few KiB; larger is not followed.
pub const MAX_HANDSHAKE: usize = 64 * 1024;
const CONTENT_CHANGE_CIPHER_SPEC: u8 = 20;
const CONTENT_ALERT: u8 = 21;
const CONTENT_HANDSHAKE: u8 = 22;
const CONTENT_APPLICATION_DATA: u8 = 23;

/// A record header: content type 20–23, version 3.x, a length TLS allows.
fn record_header(h: &[u8]) -> bool {
    (20..=23).contains(&h[0]) && h[1] == 3 && h[2] <= 4 && u16::from_be_bytes([h[3], h[4]]) <= 18 * 1024
}

/// A connection seen from its middle (capture started late) opens on records other
/// than a hello: one whose end is the end of what was sent, or is followed by another
/// record header, is TLS.
fn probe_records(data: &[u8]) -> Probe {
    let Some(h) = data.get(..5) else { return Probe::NeedMore };
    if !record_header(h) {
        return Probe::NoMatch;
    }
    let end = 5 + u16::from_be_bytes([h[3], h[4]]) as usize;
    match data.get(end..end + 5) {
        Some(next) if record_header(next) => Probe::Match,
        Some(_) => Probe::NoMatch,
        None if data.len() == end => Probe::Match,
        // A long record: the header alone, over a kilobyte of bytes, has to do.
        None if data.len() >= 1024 && data.len() < end => Probe::Match,
        None if data.len() < end => Probe::NeedMore,
        None => Probe::NoMatch,
    }
}

pub fn probe(side: Side, data: &[u8]) -> Probe {
    // Mid-connection: application data, an alert (a server closing), or a change of
    // cipher spec (a resumed handshake's tail).
    if matches!(data.first(), Some(&(CONTENT_CHANGE_CIPHER_SPEC | CONTENT_ALERT | CONTENT_APPLICATION_DATA))) {
        return probe_records(data);
    }
    let want_type = match side {
        Side::Client => 1,
        Side::Server => 2,
    };
    let checks: [Option<bool>; 4] = [
        data.first().map(|b| *b == CONTENT_HANDSHAKE),
        data.get(1).map(|b| *b == 3),
        data.get(2).map(|b| *b <= 4),
        data.get(5).map(|b| *b == want_type),
    ];
    if checks.contains(&Some(false)) {
        Probe::NoMatch
    } else if checks.iter().any(Option::is_none) {
        Probe::NeedMore
    } else {
        Probe::Match
    }
}

/// GREASE values (RFC 8701) are left out of fingerprints.
fn grease(v: u16) -> bool {
    v & 0x0f0f == 0x0a0a && v >> 8 == v & 0xff
}

fn version_name(v: u16) -> String {
    match v {
        0x0300 => "SSLv3".into(),
        0x0301 => "TLSv1".into(),
        0x0302 => "TLSv1.1".into(),
        0x0303 => "TLSv1.2".into(),
        0x0304 => "TLSv1.3".into(),
        0x7f00..=0x7fff => format!("TLSv1.3-draft-{:02}", v & 0xff),
        0xfeff => "DTLSv1.0".into(),
        0xfefd => "DTLSv1.2".into(),
        0xfefc => "DTLSv1.3".into(),
        // OpenSSL's DTLS before RFC 4347's number was fixed.
        0x0100 => "DTLSv1.0-openssl".into(),
        v => format!("0x{v:04x}"),
    }
}

fn cipher_name(c: u16) -> String {
    let name = match c {
        0x0004 => "TLS_RSA_WITH_RC4_128_MD5",
        0x0005 => "TLS_RSA_WITH_RC4_128_SHA",
        0x000a => "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
        0x002f => "TLS_RSA_WITH_AES_128_CBC_SHA",
        0x0033 => "TLS_DHE_RSA_WITH_AES_128_CBC_SHA",
        0x0035 => "TLS_RSA_WITH_AES_256_CBC_SHA",
        0x0039 => "TLS_DHE_RSA_WITH_AES_256_CBC_SHA",
        0x003c => "TLS_RSA_WITH_AES_128_CBC_SHA256",
        0x003d => "TLS_RSA_WITH_AES_256_CBC_SHA256",
        0x009c => "TLS_RSA_WITH_AES_128_GCM_SHA256",
        0x009d => "TLS_RSA_WITH_AES_256_GCM_SHA384",
        0x009e => "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256",
        0x009f => "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384",
        0x1301 => "TLS_AES_128_GCM_SHA256",
        0x1302 => "TLS_AES_256_GCM_SHA384",
        0x1303 => "TLS_CHACHA20_POLY1305_SHA256",
        0xc009 => "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
        0xc00a => "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
        0xc011 => "TLS_ECDHE_RSA_WITH_RC4_128_SHA",
        0xc012 => "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA",
        0xc013 => "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
        0xc014 => "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
        0xc023 => "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
        0xc024 => "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384",
        0xc027 => "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
        0xc028 => "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384",
        0xc02b => "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        0xc02c => "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
        0xc02f => "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        0xc030 => "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        0xcca8 => "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        0xcca9 => "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
        0xccaa => "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        c => return format!("0x{c:04X}"),
    };
    name.to_string()
}

/// A cursor over untrusted bytes: every read is checked.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Some(a)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }
    fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|b| u16::from_be_bytes([b[0], b[1]]))
    }
    fn vec8(&mut self) -> Option<&'a [u8]> {
        let n = self.u8()? as usize;
        self.take(n)
    }
    fn vec16(&mut self) -> Option<&'a [u8]> {
        let n = self.u16()? as usize;
        self.take(n)
    }
}

fn u16s(b: &[u8]) -> Vec<u16> {
    b.chunks_exact(2).map(|c| u16::from_be_bytes([c[0], c[1]])).collect()
}

/// What a ClientHello offers, in wire order.
#[derive(Debug, Default, PartialEq)]
pub struct ClientHello {
    pub version: u16,
    pub ciphers: Vec<u16>,
    pub extensions: Vec<u16>,
    pub groups: Vec<u16>,
    pub point_formats: Vec<u8>,
    pub sni: Option<String>,
    pub alpn: Vec<String>,
    pub supported_versions: Vec<u16>,
    pub sig_algs: Vec<u16>,
}

#[derive(Debug, Default, PartialEq)]
pub struct ServerHello {
    pub version: u16,
    pub cipher: u16,
    pub extensions: Vec<u16>,
    pub selected_version: Option<u16>,
}

/// Which handshake carries the hello: the JA4 prefix and the DTLS cookie depend on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    Tls,
    /// TLS records carried in another protocol's UDP datagrams (OpenVPN's control
    /// channel): JA4 marks them `q`, as Arkime does, so fingerprints compare.
    TlsOverUdp,
    Dtls,
    Quic,
}

pub fn parse_client_hello(body: &[u8]) -> Option<ClientHello> {
    parse_hello(body, Flavor::Tls)
}

pub fn parse_hello(body: &[u8], flavor: Flavor) -> Option<ClientHello> {
    let mut r = Reader(body);
    let mut ch = ClientHello { version: r.u16()?, ..ClientHello::default() };
    r.take(32)?;
    r.vec8()?;
    if flavor == Flavor::Dtls {
        // The cookie of a HelloVerifyRequest exchange.
        r.vec8()?;
    }
    ch.ciphers = u16s(r.vec16()?);
    r.vec8()?;
    let Some(exts) = r.vec16() else { return Some(ch) };
    let mut e = Reader(exts);
    while let (Some(t), Some(data)) = (e.u16(), e.vec16()) {
        ch.extensions.push(t);
        let mut d = Reader(data);
        match t {
            0x0000 => {
                // server_name list: type 0 is a host name.
                let mut list = Reader(d.vec16().unwrap_or(&[]));
                while let (Some(kind), Some(name)) = (list.u8(), list.vec16()) {
                    if kind == 0 && ch.sni.is_none() {
                        ch.sni = Some(String::from_utf8_lossy(name).into_owned());
                    }
                }
            }
            0x000a => ch.groups = u16s(d.vec16().unwrap_or(&[])),
            0x000b => ch.point_formats = d.vec8().unwrap_or(&[]).to_vec(),
            0x000d => ch.sig_algs = u16s(d.vec16().unwrap_or(&[])),
            0x0010 => {
                let mut list = Reader(d.vec16().unwrap_or(&[]));
                while let Some(p) = list.vec8() {
                    ch.alpn.push(String::from_utf8_lossy(p).into_owned());
                }
            }
            0x002b => ch.supported_versions = u16s(d.vec8().unwrap_or(&[])),
            _ => {}
        }
    }
    Some(ch)
}

pub fn parse_server_hello(body: &[u8]) -> Option<ServerHello> {
    let mut r = Reader(body);
    let mut sh = ServerHello { version: r.u16()?, ..ServerHello::default() };
    r.take(32)?;
    // TLS 1.3 drafts before 22 dropped the session id from the ServerHello.
    if !(0x7f00..0x7f16).contains(&sh.version) {
        r.vec8()?;
    }
    sh.cipher = r.u16()?;
    r.u8()?;
    let Some(exts) = r.vec16() else { return Some(sh) };
    let mut e = Reader(exts);
    while let (Some(t), Some(data)) = (e.u16(), e.vec16()) {
        sh.extensions.push(t);
        if t == 0x002b && data.len() == 2 {
            sh.selected_version = Some(u16::from_be_bytes([data[0], data[1]]));
        }
    }
    Some(sh)
}

fn dashed<T: std::fmt::Display>(v: impl Iterator<Item = T>) -> String {
    v.map(|x| x.to_string()).collect::<Vec<_>>().join("-")
}

fn hex_md5(s: &str) -> String {
    hex(&Md5::digest(s.as_bytes()))
}

fn sha12(s: &str) -> String {
    if s.is_empty() {
        return "000000000000".into();
    }
    hex(&Sha256::digest(s.as_bytes())[..6])
}

impl ClientHello {
    pub fn ja3_string(&self) -> String {
        format!(
            "{},{},{},{},{}",
            self.version,
            dashed(self.ciphers.iter().filter(|c| !grease(**c))),
            dashed(self.extensions.iter().filter(|c| !grease(**c))),
            dashed(self.groups.iter().filter(|c| !grease(**c))),
            dashed(self.point_formats.iter())
        )
    }

    pub fn ja4(&self) -> String {
        self.ja4_for(Flavor::Tls)
    }

    /// The highest version offered (supported_versions, else the hello's own).
    pub fn best_version(&self) -> u16 {
        self.supported_versions.iter().copied().filter(|v| !grease(*v)).max().unwrap_or(self.version)
    }

    pub fn ja4_for(&self, flavor: Flavor) -> String {
        let version = self.best_version();
        let v = match version {
            0xfeff => "d1",
            0xfefd => "d2",
            0xfefc => "d3",
            0x0304 => "13",
            0x0303 => "12",
            0x0302 => "11",
            0x0301 => "10",
            0x0300 => "s3",
            _ => "00",
        };
        let ciphers: Vec<u16> = self.ciphers.iter().copied().filter(|c| !grease(*c)).collect();
        let exts: Vec<u16> = self.extensions.iter().copied().filter(|c| !grease(*c)).collect();
        let alpn = match self.alpn.first().map(|a| a.as_bytes()) {
            Some([first, .., last]) if first.is_ascii_alphanumeric() && last.is_ascii_alphanumeric() => {
                format!("{}{}", *first as char, *last as char)
            }
            Some([only]) if only.is_ascii_alphanumeric() => format!("{0}{0}", *only as char),
            Some(a) if !a.is_empty() => {
                let h = hex(a);
                format!("{}{}", &h[..1], &h[h.len() - 1..])
            }
            _ => "00".into(),
        };
        let mut sorted_c: Vec<String> = ciphers.iter().map(|c| format!("{c:04x}")).collect();
        sorted_c.sort();
        let mut sorted_e: Vec<String> =
            exts.iter().filter(|e| **e != 0x0000 && **e != 0x0010).map(|e| format!("{e:04x}")).collect();
        sorted_e.sort();
        let sigs: Vec<String> = self.sig_algs.iter().map(|s| format!("{s:04x}")).collect();
        let ext_part = if sorted_e.is_empty() {
            String::new()
        } else if sigs.is_empty() {
            sorted_e.join(",")
        } else {
            format!("{}_{}", sorted_e.join(","), sigs.join(","))
        };
        let kind = match flavor {
            Flavor::Tls => 't',
            Flavor::Dtls => 'd',
            Flavor::Quic | Flavor::TlsOverUdp => 'q',
        };
        format!(
            "{kind}{v}{}{:02}{:02}{alpn}_{}_{}",
            if self.sni.is_some() { 'd' } else { 'i' },
            ciphers.len().min(99),
            exts.len().min(99),
            sha12(&sorted_c.join(",")),
            sha12(&ext_part)
        )
    }
}

impl ServerHello {
    pub fn ja3s_string(&self) -> String {
        format!("{},{},{}", self.version, self.cipher, dashed(self.extensions.iter().filter(|c| !grease(**c))))
    }
}

#[derive(Default)]
struct Direction {
    /// Record bytes not yet parsed.
    records: Vec<u8>,
    /// Handshake bytes (record payloads joined) not yet parsed.
    handshake: Vec<u8>,
    done: bool,
}

pub struct Tls {
    dirs: [Direction; 2],
    flavor: Flavor,
}

impl Default for Tls {
    fn default() -> Tls {
        Tls { dirs: Default::default(), flavor: Flavor::Tls }
    }
}

impl Tls {
    /// A TLS reader for records another protocol carries (`Tls` or `TlsOverUdp`).
    pub fn carried(flavor: Flavor) -> Tls {
        Tls { flavor, ..Tls::default() }
    }
}

/// Certificates of a chain looked at: real chains have three or four.
const MAX_CERTS: usize = 8;

/// A certificate expiring within this many days of the session is about to expire.
const ABOUT_TO_EXPIRE_DAYS: i64 = 30;

/// The server's own certificate (the chain's first): Tor's and Psiphon's, and its risks.
fn server_certificate(cert: &Certificate, der: &[u8], rec: &mut SessionRecord) {
    if tor_link(rec, &cert.subject_cn, &cert.issuer_cn) {
        add_protocol(rec, &TOR);
    }
    // Only a self-signed server certificate is looked at again.
    if cert.subject_cn == cert.issuer_cn && crate::protocols::psiphon::meek_certificate(der) {
        add_protocol(rec, &PSIPHON);
    }
    // Self-signed: naming itself as its issuer. WebRTC's DTLS (inside a STUN
    // session) uses self-signed certificates by design (RFC 8827): no risk there.
    if cert.self_issued && !rec.protocols.iter().any(|p| p == "stun") {
        risk::add(rec, Risk::TlsSelfsignedCertificate);
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

/// The server's certificate chain (TLS ≤ 1.2 sends it in clear): 3-byte list length,
/// then 3-byte length and DER per certificate.
fn certificates(body: &[u8], rec: &mut SessionRecord) {
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
fn tor_name(name: &str, tld: &str) -> bool {
    let Some(label) = name.strip_prefix("www.").and_then(|n| n.strip_suffix(tld)) else { return false };
    (4..=32).contains(&label.len()) && label.bytes().all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b))
}

/// A Tor relay's TLS: the client names a random `www.X.com`, and the relay's
/// certificate is issued to a random `www.Y.net` by a random `www.Z.com` (tor's
/// link certificates, in clear before TLS 1.3). All three together, not the server
/// name alone, which any site can resemble.
fn tor_link(rec: &SessionRecord, subject: &str, issuer: &str) -> bool {
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
    put_text(rec, text_field!("cert.serial"), &hex(cert.raw_serial()));
    let validity = cert.validity();
    for (field, t) in
        [(time_field!("cert.notbefore"), validity.not_before), (time_field!("cert.notafter"), validity.not_after)]
    {
        if let Some(ns) = t.timestamp().checked_mul(1_000_000_000) {
            put_time(rec, field, ns);
        }
    }
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for n in &san.value.general_names {
            if let GeneralName::DNSName(d) = n {
                put_text(rec, text_field!("cert.alt"), d);
            }
        }
    }
    let sha1 = sha1_hex(der);
    put_text(rec, text_field!("cert.hash"), &sha1);
    put_text(rec, text_field!("cert.sha256"), &hex(&sha2::Sha256::digest(der)));
    Some(Certificate {
        subject_cn: cns.0,
        issuer_cn: cns.1,
        self_issued: cert.subject().as_raw() == cert.issuer().as_raw(),
        valid_ns: (
            validity.not_before.timestamp().saturating_mul(1_000_000_000),
            validity.not_after.timestamp().saturating_mul(1_000_000_000),
        ),
    })
}

/// What a certificate's reader needs to judge it: its first common names, whether
/// it was issued by itself (issuer and subject the same name), its validity.
pub struct Certificate {
    pub subject_cn: String,
    pub issuer_cn: String,
    pub self_issued: bool,
    pub valid_ns: (i64, i64),
}

/// A name attribute as text whatever its string type: the parser's `as_str` refuses
/// T61String and BMPString, which real certificates use.
fn attribute_text(a: &x509_parser::x509::AttributeTypeAndValue<'_>) -> String {
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

fn sha1_hex(data: &[u8]) -> String {
    use sha1::Digest;
    let d = sha1::Sha1::digest(data);
    d.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":")
}

/// SSL 3, TLS 1.0 and 1.1 (RFC 8996), DTLS 1.0 (TLS 1.1's datagram form).
fn obsolete(version: u16) -> bool {
    matches!(version, 0x0300..=0x0302 | 0xfeff)
}

/// One whole handshake message of either side, from TLS, DTLS or QUIC.
pub(crate) fn handshake_message(flavor: Flavor, side: Side, kind: u8, body: &[u8], rec: &mut SessionRecord) {
    match (side, kind) {
        (Side::Client, 1) => {
            let Some(ch) = parse_hello(body, flavor) else { return };
            if let Some(sni) = &ch.sni {
                put_text(rec, text_field!("host.tls"), sni);
                if flavor == Flavor::Quic {
                    put_text(rec, text_field!("host.quic"), sni);
                }
            }
            for a in &ch.alpn {
                put_text(rec, text_field!("tls.alpn"), a);
            }
            // DNS over TLS (RFC 7858: port 853, ALPN `dot`) and over QUIC (RFC 9250).
            if ch.alpn.iter().any(|a| a == "doq") && flavor == Flavor::Quic {
                add_protocol(rec, &DOQ);
            } else if ch.alpn.iter().any(|a| a == "dot") || (rec.dst_port == 853 && flavor == Flavor::Tls) {
                add_protocol(rec, &DOT);
            }
            put_text(rec, text_field!("tls.ja3"), &hex_md5(&ch.ja3_string()));
            put_text(rec, text_field!("tls.ja4"), &ch.ja4_for(flavor));
            // The best the client offers bounds what can be chosen.
            let offered = ch.best_version();
            if obsolete(offered) {
                risk::add(rec, Risk::TlsObsoleteVersion);
            }
            // No server name where one is due (TLS 1.2 or later offered), and none
            // hidden either (ESNI, ECH).
            let hidden = ch.extensions.iter().any(|e| matches!(e, 0xffce | 0xfe0d));
            if ch.sni.is_none() && !hidden && matches!(offered, 0x0303 | 0x0304 | 0xfefd | 0xfefc) {
                risk::add(rec, Risk::TlsMissingSni);
            }
        }
        (Side::Server, 11) => certificates(body, rec),
        (Side::Server, 2) => {
            let Some(sh) = parse_server_hello(body) else { return };
            let version = sh.selected_version.unwrap_or(sh.version);
            put_text(rec, text_field!("tls.version"), &version_name(version));
            if obsolete(version) {
                risk::add(rec, Risk::TlsObsoleteVersion);
            }
            let cipher = cipher_name(sh.cipher);
            if risk::weak_cipher(&cipher) {
                risk::add(rec, Risk::TlsWeakCipher);
            }
            if risk::insecure_cipher(&cipher) {
                risk::add(rec, Risk::TlsInsecureCipher);
            }
            put_text(rec, text_field!("tls.cipher"), &cipher);
            put_text(rec, text_field!("tls.ja3s"), &hex_md5(&sh.ja3s_string()));
        }
        _ => {}
    }
}

impl Dissector for Tls {
    fn feed(&mut self, side: Side, data: &[u8], rec: &mut SessionRecord) {
        let d = &mut self.dirs[side as usize];
        if d.done {
            return;
        }
        if d.records.len() + data.len() > MAX_HANDSHAKE {
            d.done = true;
            d.records = Vec::new();
            return;
        }
        d.records.extend_from_slice(data);
        let mut at = 0;
        while let Some(header) = d.records.get(at..at + 5) {
            let len = u16::from_be_bytes([header[3], header[4]]) as usize;
            let Some(payload) = d.records.get(at + 5..at + 5 + len) else { break };
            if header[0] != CONTENT_HANDSHAKE {
                // ChangeCipherSpec, alerts or application data: the clear part is over.
                d.done = true;
                break;
            }
            if d.handshake.len() + payload.len() > MAX_HANDSHAKE {
                d.done = true;
                break;
            }
            d.handshake.extend_from_slice(payload);
            at += 5 + len;
            // Whole handshake messages out of the joined payloads.
            let mut h = 0;
            while let Some(hh) = d.handshake.get(h..h + 4) {
                let mlen = u32::from_be_bytes([0, hh[1], hh[2], hh[3]]) as usize;
                let Some(body) = d.handshake.get(h + 4..h + 4 + mlen) else { break };
                handshake_message(self.flavor, side, hh[0], body, rec);
                // After its hello, a TLS 1.3 server encrypts the rest.
                h += 4 + mlen;
            }
            d.handshake.drain(..h);
        }
        d.records.drain(..at.min(d.records.len()));
        if d.done {
            d.records = Vec::new();
            d.handshake = Vec::new();
        }
    }

    fn gap(&mut self, side: Side, _len: u64) {
        let d = &mut self.dirs[side as usize];
        d.done = true;
        d.records = Vec::new();
        d.handshake = Vec::new();
    }

    fn wants_more(&self) -> bool {
        !self.dirs.iter().all(|d| d.done)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A ClientHello: GREASE cipher, two real ones, SNI, ALPN h2, groups, formats,
    /// signature algorithms, supported versions.
    pub(crate) fn client_hello() -> Vec<u8> {
        let mut exts = Vec::new();
        let mut ext = |t: u16, body: &[u8]| {
            exts.extend_from_slice(&t.to_be_bytes());
            exts.extend_from_slice(&(body.len() as u16).to_be_bytes());
            exts.extend_from_slice(body);
        };
        ext(0x0a0a, &[]);
        ext(0x0000, b"\x00\x0e\x00\x00\x0bexample.com");
        ext(0x0010, b"\x00\x03\x02h2");
        ext(0x000a, b"\x00\x04\x00\x1d\x00\x17");
        ext(0x000b, b"\x01\x00");
        ext(0x000d, b"\x00\x04\x04\x03\x08\x04");
        ext(0x002b, b"\x04\x03\x04\x03\x03");
        let mut body = vec![3, 3];
        body.extend_from_slice(&[7; 32]);
        body.push(0);
        body.extend_from_slice(&[0, 6, 0x1a, 0x1a, 0x13, 0x01, 0xc0, 0x2f]);
        body.extend_from_slice(&[1, 0]);
        body.extend_from_slice(&(exts.len() as u16).to_be_bytes());
        body.extend_from_slice(&exts);
        let mut hs = vec![1, 0, (body.len() >> 8) as u8, body.len() as u8];
        hs.extend_from_slice(&body);
        let mut rec = vec![22, 3, 1, (hs.len() >> 8) as u8, hs.len() as u8];
        rec.extend_from_slice(&hs);
        rec
    }

    #[test]
    fn client_hello_fields_and_fingerprints_in_every_segmentation() {
        let bytes = client_hello();
        assert_eq!(probe(Side::Client, &bytes), Probe::Match);
        assert_eq!(probe(Side::Client, &bytes[..3]), Probe::NeedMore);
        let ch = parse_client_hello(&bytes[9..]).unwrap();
        assert_eq!(ch.ja3_string(), "771,4865-49199,0-16-10-11-13-43,29-23,0");
        // t, TLS 1.3 offered, SNI, 2 ciphers, 6 extensions, ALPN h2 (as written: JA4 keeps case).
        assert!(ch.ja4().starts_with("t13d0206h2_"), "{}", ch.ja4());
        assert_eq!(ch.ja4().len(), "t13d0206h2_".len() + 12 + 1 + 12);
        for split in [1, 5, 9, 40, 1000] {
            let mut t = Tls::default();
            let mut rec = SessionRecord::default();
            for part in bytes.chunks(split) {
                t.feed(Side::Client, part, &mut rec);
            }
            assert_eq!(rec.extra.get("host.tls"), Some(&Values::Text(vec!["example.com".into()])), "{split}");
            assert_eq!(rec.extra.get("tls.alpn"), Some(&Values::Text(vec!["h2".into()])));
            assert!(matches!(rec.extra.get("tls.ja3"), Some(Values::Text(v)) if v[0].len() == 32));
            assert!(rec.protocols.is_empty());
        }
        // The same hello to DNS over TLS's port.
        let mut rec = SessionRecord { dst_port: 853, ..SessionRecord::default() };
        Tls::default().feed(Side::Client, &bytes, &mut rec);
        assert_eq!(rec.protocols, ["dot"]);
    }

    /// A connection caught in its middle: application data records.
    #[test]
    fn tor_link_certificates_with_their_server_name() {
        assert!(tor_name("www.ct7ctrgb6cr7.com", ".com"));
        assert!(!tor_name("www.example1.com", ".com"), "1 is not base32");
        assert!(!tor_name("www.abc.com", ".com"), "too short");
        let mut rec = SessionRecord::default();
        assert!(!tor_link(&rec, "www.g6ghvisevf3ibuu5.net", "www.xkgk7fdx362yyyxib.com"), "no server name");
        put_text(&mut rec, text_field!("host.tls"), "www.ct7ctrgb6cr7.com");
        assert!(tor_link(&rec, "www.g6ghvisevf3ibuu5.net", "www.xkgk7fdx362yyyxib.com"));
        assert!(!tor_link(&rec, "www.google.com", "www.xkgk7fdx362yyyxib.com"));
        assert!(!tor_link(&rec, "www.g6ghvisevf3ibuu5.net", "R3"));
    }

    #[test]
    fn mid_stream_records() {
        let mut d = vec![23, 3, 3, 0, 4, 1, 2, 3, 4, 23, 3, 3, 0x40, 0];
        assert_eq!(probe(Side::Client, &d), Probe::Match);
        assert_eq!(probe(Side::Client, &d[..9]), Probe::Match);
        assert_eq!(probe(Side::Client, &d[..7]), Probe::NeedMore);
        d[9] = b'G';
        assert_eq!(probe(Side::Client, &d), Probe::NoMatch);
        assert_eq!(probe(Side::Client, &[23, 3, 3, 0xff, 0xff]), Probe::NoMatch);
        let mut long = vec![23, 3, 3, 0x30, 0];
        long.resize(1100, 0);
        assert_eq!(probe(Side::Server, &long), Probe::Match);
    }

    #[test]
    fn arkime_ja4_examples() {
        // From Arkime's golden output: no extensions, one cipher (0x002f), TLS 1.2.
        let ch = ClientHello { version: 0x0303, ciphers: vec![0x002f], ..ClientHello::default() };
        assert_eq!(ch.ja4(), "t12i010000_ba72b8082249_000000000000");
        assert_eq!(ch.ja3_string(), "771,47,,,");
        assert_eq!(hex_md5(&ch.ja3_string()), "fde4273625b2ac63bd01d9c500dac91b");
    }

    #[test]
    fn truncated_and_hostile_records_stop_quietly() {
        let mut t = Tls::default();
        let mut rec = SessionRecord::default();
        t.feed(Side::Client, &[22, 3, 1, 0xff, 0xff], &mut rec);
        t.feed(Side::Client, &vec![0u8; 70_000], &mut rec);
        assert!(rec.extra.is_empty());
        assert!(parse_client_hello(&[3, 3, 1]).is_none());
    }
}
