//! TLS handshakes. Here: records and handshake messages, reassembled across
//! segments within a bound (nothing after the handshake is read), and what each
//! message adds to the session; `hello`: the ClientHello (server name, ALPN,
//! versions, JA3, JA4) and the ServerHello (version, cipher, JA3S); `x509`: the
//! server's certificates, Tor's link certificates and the certificate risks;
//! `psiphon`: Psiphon's certificate template. Hand-written rather than tls-parser:
//! JA3/JA4 need the raw order of every list, GREASE values included, which a typed
//! parse normalises away.

use tyto_schema::SessionRecord;

use crate::kit::messages::{Framed, HandOn};
use crate::kit::{add_protocol, hex, put_text};
use crate::risk::{self, Risk};
use crate::{Dissector, Probe, Protocol, Side, SubProtocol, Transport};

mod hello;
pub(crate) mod psiphon;
mod x509;

pub(crate) use hello::*;
pub use hello::{parse_client_hello, parse_hello, parse_server_hello, ClientHello, Flavor, ServerHello};
use x509::*;
pub use x509::{certificate, Certificate};

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

/// The longest handshake message followed: a ClientHello is a few hundred bytes, a
/// certificate chain a few KiB.
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

/// An SSLv2-format ClientHello (RFC 6101 appendix E), as old clients open with to
/// offer SSLv3 or TLS to a server that might speak only SSLv2: a two-byte length with
/// the high bit set, message type 1, a version (SSLv2's, or 3.x), and the lengths of
/// the cipher specs (three bytes each), session id (none or 16 bytes) and challenge
/// (16 to 32 bytes), which add up to the record's.
fn probe_sslv2_client_hello(data: &[u8]) -> Probe {
    let version = |major: u8, minor: u8| matches!((major, minor), (0, 2) | (3, 0..=4));
    let early = [data.get(2).map(|t| *t == 1), data.get(3).zip(data.get(4)).map(|(a, b)| version(*a, *b))];
    if early.contains(&Some(false)) {
        return Probe::NoMatch;
    }
    let Some(h) = data.get(..11) else { return Probe::NeedMore };
    let length = usize::from(u16::from_be_bytes([h[0] & 0x7f, h[1]]));
    let be = |i: usize| usize::from(u16::from_be_bytes([h[i], h[i + 1]]));
    let (ciphers, session_id, challenge) = (be(5), be(7), be(9));
    let hello = ciphers > 0
        && ciphers % 3 == 0
        && matches!(session_id, 0 | 16)
        && (16..=32).contains(&challenge)
        && 9 + ciphers + session_id + challenge == length;
    if hello {
        Probe::Match
    } else {
        Probe::NoMatch
    }
}

pub fn probe(side: Side, data: &[u8]) -> Probe {
    // Mid-connection: application data, an alert (a server closing), or a change of
    // cipher spec (a resumed handshake's tail).
    if matches!(data.first(), Some(&(CONTENT_CHANGE_CIPHER_SPEC | CONTENT_ALERT | CONTENT_APPLICATION_DATA))) {
        return probe_records(data);
    }
    if side == Side::Client && data.first().is_some_and(|b| b & 0x80 != 0) {
        return probe_sslv2_client_hello(data);
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

/// One direction: records, then the handshake messages their payloads carry
/// (a message may span records, a record hold several), each framed by
/// [`Framed`].
#[derive(Default)]
struct Direction {
    records: Framed,
    messages: Framed,
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
            let ja3 = ch.ja3_string();
            put_text(rec, text_field!("tls.ja3"), &hex_md5(&ja3));
            put_text(rec, text_field!("tls.ja3string"), &ja3);
            let (ja4, ja4_raw) = ch.ja4_both(flavor);
            put_text(rec, text_field!("tls.ja4"), &ja4);
            put_text(rec, text_field!("tls.ja4_r"), &ja4_raw);
            if !ch.session_id.is_empty() {
                put_text(rec, text_field!("tls.sessionid.src"), &hex(&ch.session_id));
            }
            // The best the client offers bounds what can be chosen.
            let offered = ch.best_version();
            if obsolete(offered) {
                risk::add(rec, Risk::TlsObsoleteVersion);
            }
            // No server name where one is due (TLS 1.2 or later offered), and none
            // hidden either (ESNI, ECH: a broken extension hides nothing).
            if ch.sni.is_none() && !ch.hides_name && matches!(offered, 0x0303 | 0x0304 | 0xfefd | 0xfefc) {
                risk::add(rec, Risk::TlsMissingSni);
            }
            // An application protocol offered to a server left unnamed.
            if ch.sni.is_none() && !ch.hides_name && !ch.alpn.is_empty() {
                risk::add(rec, Risk::TlsAlpnSniMismatch);
            }
            // An ALPN extension naming nothing offers an empty name, none of the
            // common ones (as nDPI reads it).
            let offers_nothing = ch.extensions.contains(&0x0010) && ch.alpn.is_empty();
            if offers_nothing || ch.alpn.iter().any(|a| risk::uncommon_alpn(a)) {
                risk::add(rec, Risk::TlsUncommonAlpn);
            }
            // nDPI's rule reads the hello's own version field (DTLS's are numerically
            // above TLS 1.2's) and the extension, even an empty one.
            if !ch.extensions.contains(&0x0010) && ch.version >= 0x0303 && flavor != Flavor::Quic {
                risk::add(rec, Risk::TlsNotCarryingHttps);
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
            let ja3s = sh.ja3s_string();
            put_text(rec, text_field!("tls.ja3s"), &hex_md5(&ja3s));
            put_text(rec, text_field!("tls.ja3sstring"), &ja3s);
            if !sh.session_id.is_empty() {
                put_text(rec, text_field!("tls.sessionid.dst"), &hex(&sh.session_id));
            }
        }
        _ => {}
    }
}

impl Dissector for Tls {
    fn feed(&mut self, side: Side, data: &[u8], rec: &mut SessionRecord) {
        let flavor = self.flavor;
        let d = &mut self.dirs[side as usize];
        if d.done {
            return;
        }
        let (messages, done) = (&mut d.messages, &mut d.done);
        // Handshake records, and alerts (a warning such as a server's
        // `unrecognized_name` may precede its hello); any other record
        // (ChangeCipherSpec, application data) ends the clear part: the framing gives
        // up at its header.
        let record_body = |h: &[u8]| usize::from(u16::from_be_bytes([h[3], h[4]]));
        let record_len = |h: &[u8]| matches!(h[0], CONTENT_HANDSHAKE | CONTENT_ALERT).then(|| record_body(h));
        let records_go_on = d.records.feed(data, 5, HandOn::AtEnd, record_len, record_body, |h, payload, _| {
            if *done {
                return;
            }
            if h[0] == CONTENT_ALERT {
                // A warning (level 1, in clear: two bytes) leaves the handshake going.
                *done = !matches!(payload, [1, _]);
                return;
            }
            // A message over the bound is not followed (nor is anything after it).
            let message_body = |h: &[u8]| u32::from_be_bytes([0, h[1], h[2], h[3]]) as usize;
            let message_len = |h: &[u8]| Some(message_body(h)).filter(|n| *n <= MAX_HANDSHAKE);
            let go_on = messages.feed(payload, 4, HandOn::AtEnd, message_len, message_body, |h, body, _| {
                handshake_message(flavor, side, h[0], body, rec);
            });
            *done = !go_on;
        });
        if !records_go_on {
            d.done = true;
        }
        if d.done {
            *d = Direction { done: true, ..Direction::default() };
        }
    }

    fn gap(&mut self, side: Side, _len: u64) {
        self.dirs[side as usize] = Direction { done: true, ..Direction::default() };
    }

    fn wants_more(&self) -> bool {
        !self.dirs.iter().all(|d| d.done)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use tyto_schema::Values;

    /// A ClientHello: GREASE cipher, two real ones, SNI, ALPN h2, groups, formats,
    /// signature algorithms, supported versions.
    pub(crate) fn client_hello() -> Vec<u8> {
        client_hello_of([3, 3], true)
    }

    /// The same hello with its own version field, with or without its ALPN.
    fn client_hello_of(version: [u8; 2], alpn: bool) -> Vec<u8> {
        let sni: &[u8] = b"\x00\x0e\x00\x00\x0bexample.com";
        let mut exts: Vec<(u16, &[u8])> = vec![(0x0a0a, &[]), (0x0000, sni)];
        if alpn {
            exts.push((0x0010, b"\x00\x03\x02h2"));
        }
        hello_with(version, &exts)
    }

    /// A hello with these extensions besides groups, formats, signature algorithms
    /// and supported versions.
    fn hello_with(version: [u8; 2], extensions: &[(u16, &[u8])]) -> Vec<u8> {
        let mut exts = Vec::new();
        let mut ext = |t: u16, body: &[u8]| {
            exts.extend_from_slice(&t.to_be_bytes());
            exts.extend_from_slice(&(body.len() as u16).to_be_bytes());
            exts.extend_from_slice(body);
        };
        for (t, body) in extensions {
            ext(*t, body);
        }
        ext(0x000a, b"\x00\x04\x00\x1d\x00\x17");
        ext(0x000b, b"\x01\x00");
        ext(0x000d, b"\x00\x04\x04\x03\x08\x04");
        ext(0x002b, b"\x04\x03\x04\x03\x03");
        let mut body = version.to_vec();
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
        // An SSLv2-format ClientHello offering TLS 1.0 (`google_ssl.pcap`'s opening):
        // 3 cipher specs, no session id, a 16-byte challenge.
        let mut v2 = vec![0x80, 0x22, 1, 3, 1, 0, 9, 0, 0, 0, 16];
        v2.extend([0, 0, 0x39, 0, 0, 0x38, 0, 0, 0x35]);
        v2.extend([7; 16]);
        assert_eq!(probe(Side::Client, &v2), Probe::Match);
        assert_eq!(probe(Side::Client, &v2[..6]), Probe::NeedMore);
        assert_eq!(probe(Side::Server, &v2), Probe::NoMatch);
        let mut bad = v2.clone();
        bad[1] += 1; // lengths no longer add up
        assert_eq!(probe(Side::Client, &bad), Probe::NoMatch);
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

    /// A hello of TLS 1.2 or later offering no ALPN is probably not the web's;
    /// one offering it, or of an older version, says nothing.
    #[test]
    fn hellos_without_alpn_are_probably_not_https() {
        let marked = |version: [u8; 2], alpn: bool| {
            let mut rec = SessionRecord::default();
            Tls::default().feed(Side::Client, &client_hello_of(version, alpn), &mut rec);
            assert!(rec.extra.get("tls.ja3").is_some(), "{version:?} {alpn}");
            rec.extra.texts("risk").iter().any(|r| r == "tls-not-carrying-https")
        };
        assert!(marked([3, 3], false));
        assert!(!marked([3, 3], true));
        assert!(!marked([3, 1], false));
    }

    /// Without a server name, an offered ALPN is a mismatch, unless the name is
    /// sent hidden in a well-formed ECH extension; an ALPN none of the common ones
    /// (or an ALPN extension naming nothing) is uncommon.
    #[test]
    fn alpn_without_a_name_and_uncommon_alpns() {
        let risks = |exts: &[(u16, &[u8])]| {
            let mut rec = SessionRecord::default();
            Tls::default().feed(Side::Client, &hello_with([3, 3], exts), &mut rec);
            assert!(rec.extra.get("tls.ja3").is_some());
            let mut r = rec.extra.texts("risk").to_vec();
            r.sort();
            r
        };
        let h2: &[u8] = b"\x00\x03\x02h2";
        // Outer ECH: type 0, HKDF-SHA256/AES-128-GCM, config 7, a key, a payload.
        let ech: &[u8] = b"\x00\x00\x01\x00\x01\x07\x00\x02\xaa\xbb\x00\x03\x01\x02\x03";
        assert_eq!(risks(&[(0x0010, h2)]), ["tls-alpn-sni-mismatch", "tls-missing-sni"]);
        assert_eq!(risks(&[(0x0010, h2), (0xfe0d, ech)]), Vec::<String>::new());
        assert_eq!(risks(&[(0x0010, h2), (0xfe0d, &ech[..9])]), ["tls-alpn-sni-mismatch", "tls-missing-sni"]);
        let sni: &[u8] = b"\x00\x0e\x00\x00\x0bexample.com";
        assert_eq!(risks(&[(0x0000, sni), (0x0010, b"\x00\x0b\x0aanydesk/6.2")]), ["tls-uncommon-alpn"]);
        assert_eq!(risks(&[(0x0000, sni), (0x0010, b"")]), ["tls-uncommon-alpn"]);
        assert_eq!(risks(&[(0x0000, sni), (0x0010, b"\x00\x0c\x02h2\x08http/1.1")]), Vec::<String>::new());
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
        assert_eq!(ch.ja4_raw_for(Flavor::Tls), "t12i010000_002f_");
        assert_eq!(ch.ja3_string(), "771,47,,,");
        assert_eq!(hex_md5(&ch.ja3_string()), "fde4273625b2ac63bd01d9c500dac91b");
    }

    /// A warning alert (a server's `unrecognized_name` before its hello) leaves the
    /// handshake to be read; a fatal one ends it.
    #[test]
    fn warning_alerts_do_not_end_the_handshake() {
        for (level, read) in [(1u8, true), (2, false)] {
            let mut bytes = vec![CONTENT_ALERT, 3, 3, 0, 2, level, 112];
            bytes.extend(client_hello());
            for split in [1, 7, 1000] {
                let mut t = Tls::default();
                let mut rec = SessionRecord::default();
                for part in bytes.chunks(split) {
                    t.feed(Side::Client, part, &mut rec);
                }
                assert_eq!(rec.extra.get("host.tls").is_some(), read, "level {level}, split {split}");
                assert_eq!(t.dirs[Side::Client as usize].done, !read);
            }
        }
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
