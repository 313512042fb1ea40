//! Hellos: the ClientHello (server name, ALPN, versions, JA3, JA4) and the
//! ServerHello (version, cipher, JA3S), read by a checked cursor; names of versions
//! and ciphers; which versions are obsolete.

use md5::{Digest, Md5};
use sha2::Sha256;

use crate::kit::hex;

/// GREASE values (RFC 8701) are left out of fingerprints.
pub(crate) fn grease(v: u16) -> bool {
    v & 0x0f0f == 0x0a0a && v >> 8 == v & 0xff
}

pub(crate) fn version_name(v: u16) -> String {
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

pub(crate) fn cipher_name(c: u16) -> String {
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
pub(crate) struct Reader<'a>(&'a [u8]);

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

pub(crate) fn u16s(b: &[u8]) -> Vec<u16> {
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
    /// The server's name is sent encrypted (ESNI or ECH) in a well-formed extension.
    pub hides_name: bool,
    /// The session id offered for resumption (empty: none; at most 32 bytes).
    pub session_id: Vec<u8>,
}

#[derive(Debug, Default, PartialEq)]
pub struct ServerHello {
    pub version: u16,
    pub cipher: u16,
    pub extensions: Vec<u16>,
    pub selected_version: Option<u16>,
    /// The session id the server gave (empty: none).
    pub session_id: Vec<u8>,
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
    ch.session_id = r.vec8()?.iter().take(32).copied().collect();
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
            // ESNI (draft-ietf-tls-esni-02): cipher suite, key share (group, key),
            // record digest, encrypted name; each length within the extension.
            0xffce => {
                let whole = d.u16().is_some() && d.u16().is_some() && d.vec16().is_some_and(|k| !k.is_empty());
                ch.hides_name |=
                    whole && d.vec16().is_some() && d.vec16().is_some_and(|n| !n.is_empty()) && d.0.is_empty();
            }
            // ECH (RFC 9849): an outer hello's cipher suite, config id, encapsulated
            // key and encrypted inner hello.
            0xfe0d => {
                let outer = d.u8() == Some(0) && d.u16().is_some() && d.u16().is_some() && d.u8().is_some();
                ch.hides_name |=
                    outer && d.vec16().is_some() && d.vec16().is_some_and(|p| !p.is_empty()) && d.0.is_empty();
            }
            _ => {}
        }
    }
    Some(ch)
}

pub fn parse_server_hello(body: &[u8]) -> Option<ServerHello> {
    let mut r = Reader(body);
    let mut sh = ServerHello { version: r.u16()?, ..ServerHello::default() };
    r.take(32)?;
    // TLS 1.3 drafts before 22 dropped the session id and the compression method
    // from the ServerHello.
    let draft = (0x7f00..0x7f16).contains(&sh.version);
    if !draft {
        sh.session_id = r.vec8()?.iter().take(32).copied().collect();
    }
    sh.cipher = r.u16()?;
    if !draft {
        r.u8()?;
    }
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

pub(crate) fn dashed<T: std::fmt::Display>(v: impl Iterator<Item = T>) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    for (i, x) in v.enumerate() {
        if i > 0 {
            out.push('-');
        }
        let _ = write!(out, "{x}");
    }
    out
}

/// `0a0a,1301`: numbers as four hex digits each, comma-separated (JA4's lists).
fn hex_list(v: &[u16]) -> String {
    let mut out = String::with_capacity(v.len() * 5);
    for (i, x) in v.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        crate::kit::push_hex(&mut out, &x.to_be_bytes());
    }
    out
}

pub(crate) fn hex_md5(s: &str) -> String {
    hex(&Md5::digest(s.as_bytes()))
}

pub(crate) fn sha12(s: &str) -> String {
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
        self.ja4_both(flavor).0
    }

    /// JA4 before its hashes (FoxIO's `ja4_r`): the prefix, the sorted ciphers, and
    /// the sorted extensions with the signature algorithms, in clear.
    pub fn ja4_raw_for(&self, flavor: Flavor) -> String {
        self.ja4_both(flavor).1
    }

    /// JA4 and its raw form, from one reading of the hello.
    pub fn ja4_both(&self, flavor: Flavor) -> (String, String) {
        let (prefix, ciphers, extensions) = self.ja4_parts(flavor);
        (format!("{prefix}_{}_{}", sha12(&ciphers), sha12(&extensions)), format!("{prefix}_{ciphers}_{extensions}"))
    }

    fn ja4_parts(&self, flavor: Flavor) -> (String, String, String) {
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
        // Four hex digits sort as the numbers do: the numbers are sorted, then written.
        let mut sorted_c = ciphers.clone();
        sorted_c.sort_unstable();
        let mut sorted_e: Vec<u16> = exts.iter().copied().filter(|e| *e != 0x0000 && *e != 0x0010).collect();
        sorted_e.sort_unstable();
        let ext_part = if sorted_e.is_empty() {
            String::new()
        } else if self.sig_algs.is_empty() {
            hex_list(&sorted_e)
        } else {
            format!("{}_{}", hex_list(&sorted_e), hex_list(&self.sig_algs))
        };
        let kind = match flavor {
            Flavor::Tls => 't',
            Flavor::Dtls => 'd',
            Flavor::Quic | Flavor::TlsOverUdp => 'q',
        };
        let prefix = format!(
            "{kind}{v}{}{:02}{:02}{alpn}",
            if self.sni.is_some() { 'd' } else { 'i' },
            ciphers.len().min(99),
            exts.len().min(99),
        );
        (prefix, hex_list(&sorted_c), ext_part)
    }
}

impl ServerHello {
    pub fn ja3s_string(&self) -> String {
        format!("{},{},{}", self.version, self.cipher, dashed(self.extensions.iter().filter(|c| !grease(**c))))
    }
}

/// SSL 3, TLS 1.0 and 1.1 (RFC 8996), DTLS 1.0 (TLS 1.1's datagram form).
pub(crate) fn obsolete(version: u16) -> bool {
    matches!(version, 0x0300..=0x0302 | 0xfeff)
}
