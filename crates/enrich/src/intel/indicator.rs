//! One indicator of compromise, recognised from its text: what kind it is decides
//! which session fields it is matched against.

use std::fmt;

use ipnet::IpNet;

/// An indicator as the index keeps it, normalised for matching.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Indicator {
    /// An address or a network: matched against every address of a session.
    Ip(IpNet),
    /// A domain, lower-case without trailing dot: matches it and its subdomains.
    Domain(String),
    /// A URL as `http.uri` holds one: host (lower-case, with any port) then path.
    Url(String),
    /// A hash or fingerprint, lower-case hex without separators (MD5, SHA-1,
    /// SHA-256: JA3, HASSH, certificate and file hashes), or a JA4 fingerprint.
    Fingerprint(String),
    /// An e-mail address, lower-case.
    Email(String),
}

impl Indicator {
    pub fn kind(&self) -> &'static str {
        match self {
            Indicator::Ip(_) => "address",
            Indicator::Domain(_) => "domain",
            Indicator::Url(_) => "URL",
            Indicator::Fingerprint(_) => "hash",
            Indicator::Email(_) => "e-mail address",
        }
    }
}

impl fmt::Display for Indicator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Indicator::Ip(net) if net.prefix_len() == net.max_prefix_len() => write!(f, "{}", net.addr()),
            Indicator::Ip(net) => write!(f, "{net}"),
            Indicator::Domain(s) | Indicator::Url(s) | Indicator::Fingerprint(s) | Indicator::Email(s) => {
                f.write_str(s)
            }
        }
    }
}

/// What a source says an indicator is, where its format says it (a MISP attribute's
/// type, a STIX pattern's object): the text must then be of that kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    Any,
    Ip,
    Domain,
    Url,
    Fingerprint,
    Email,
}

const WHAT: &str = "an IP address or CIDR, a domain, a URL, an e-mail address or a hash";

/// Recognises `text` (trimmed) as an indicator, or says why it is none.
pub fn classify(text: &str, expect: Expect) -> Result<Indicator, String> {
    let t = text.trim();
    if t.is_empty() {
        return Err("an empty value".into());
    }
    let found = recognise(t).ok_or_else(|| format!("`{}` is not {WHAT}", shorten(t)))?;
    let fits = matches!(
        (expect, &found),
        (Expect::Any, _)
            | (Expect::Ip, Indicator::Ip(_))
            | (Expect::Domain, Indicator::Domain(_))
            | (Expect::Url, Indicator::Url(_))
            // A URL without a path is given as a URL by some feeds: its host is the indicator.
            | (Expect::Url, Indicator::Domain(_) | Indicator::Ip(_))
            | (Expect::Fingerprint, Indicator::Fingerprint(_))
            | (Expect::Email, Indicator::Email(_))
    );
    if !fits {
        return Err(format!("`{}` is not {}", shorten(t), expected_name(expect)));
    }
    Ok(found)
}

fn expected_name(e: Expect) -> &'static str {
    match e {
        Expect::Any => WHAT,
        Expect::Ip => "an IP address or CIDR",
        Expect::Domain => "a domain",
        Expect::Url => "a URL",
        Expect::Fingerprint => "a hash or fingerprint",
        Expect::Email => "an e-mail address",
    }
}

/// A value quoted in an error message, cut so a hostile line cannot flood the log.
pub(crate) fn shorten(s: &str) -> String {
    match s.char_indices().nth(80) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

fn recognise(t: &str) -> Option<Indicator> {
    if let Ok(ip) = t.parse::<std::net::IpAddr>() {
        return Some(Indicator::Ip(IpNet::from(ip)));
    }
    if let Ok(net) = t.parse::<IpNet>() {
        return Some(Indicator::Ip(net.trunc()));
    }
    if let Some(fp) = fingerprint(t) {
        return Some(Indicator::Fingerprint(fp));
    }
    if t.contains("://") || t.contains('/') {
        return url(t);
    }
    if let Some((local, domain)) = t.rsplit_once('@') {
        let domain = domain_name(domain)?;
        let ok_local = !local.is_empty()
            && local.len() <= 64
            && local.bytes().all(|b| b.is_ascii_graphic() && !b"@<>()[]\\,;:\"".contains(&b));
        return ok_local.then(|| Indicator::Email(format!("{}@{domain}", local.to_ascii_lowercase())));
    }
    domain_name(t).map(Indicator::Domain)
}

/// Hex of an MD5, SHA-1 or SHA-256 (bytes may be separated by `:`, as certificate
/// fingerprints are written), or a JA4 fingerprint (`t13d1516h2_8daaf6152771_e5627efa2ab1`).
fn fingerprint(t: &str) -> Option<String> {
    let hex: String = if t.len() > 2 && t.as_bytes()[2] == b':' {
        let parts: Vec<&str> = t.split(':').collect();
        if !parts.iter().all(|p| p.len() == 2) {
            return None;
        }
        parts.concat()
    } else {
        t.to_string()
    };
    if matches!(hex.len(), 32 | 40 | 64) && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Some(hex.to_ascii_lowercase());
    }
    let parts: Vec<&str> = t.split('_').collect();
    let ja4 = parts.len() == 3
        && parts[0].len() == 10
        && parts[0].bytes().all(|b| b.is_ascii_alphanumeric())
        && matches!(parts[0].as_bytes()[0], b't' | b'q' | b'd')
        && parts[1..].iter().all(|p| p.len() == 12 && p.bytes().all(|b| b.is_ascii_hexdigit()));
    ja4.then(|| t.to_ascii_lowercase())
}

/// A host name as DNS writes it: labels of letters, digits, `-` and `_`, at least
/// two of them (one word alone would match a whole top-level domain). `*.` and a
/// leading or trailing dot are dropped: subdomains match anyway.
fn domain_name(t: &str) -> Option<String> {
    let t = t.strip_prefix("*.").unwrap_or(t);
    let t = t.trim_matches('.');
    if t.len() > 253 || !t.contains('.') {
        return None;
    }
    let ok = t.split('.').all(|l| {
        !l.is_empty()
            && l.len() <= 63
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            && !l.starts_with('-')
    });
    // The last label of a name is never all digits: `1.2.3` is a mistyped address.
    let tld_ok = t.rsplit('.').next().is_some_and(|l| !l.bytes().all(|b| b.is_ascii_digit()));
    (ok && tld_ok).then(|| t.to_ascii_lowercase())
}

/// A URL as `http.uri` holds one: the host (lower-case, with its port) then the path
/// and query as written; a scheme is dropped, a missing path is `/`.
fn url(t: &str) -> Option<Indicator> {
    // What comes before the first `://` is a scheme only if it could be one: in
    // `bad.example/go?to=http://x` it is part of the path.
    let (scheme_given, rest) = match t.split_once("://") {
        Some((scheme, rest))
            if scheme.starts_with(|c: char| c.is_ascii_alphabetic())
                && scheme.bytes().all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b)) =>
        {
            (true, rest)
        }
        _ => (false, t),
    };
    if rest.bytes().any(|b| b.is_ascii_whitespace() || b.is_ascii_control()) {
        return None;
    }
    let (authority, path) = match rest.find(['/', '?']) {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let path = if path.starts_with('?') { format!("/{path}") } else { path.to_string() };
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let (name, port) = match host.rsplit_once(':') {
        Some((n, p)) if !n.ends_with(']') || host.starts_with('[') => match p.parse::<u16>() {
            Ok(_) => (n, Some(p)),
            Err(_) if host.starts_with('[') => (host, None),
            Err(_) => return None,
        },
        _ => (host, None),
    };
    let bare = name.trim_start_matches('[').trim_end_matches(']');
    let is_ip = bare.parse::<std::net::IpAddr>().is_ok();
    // `10.0.0.0/33` is a network mistyped, not a path on a host.
    if is_ip && !scheme_given && path.len() > 1 && path[1..].bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let name = if is_ip { name.to_ascii_lowercase() } else { domain_name(name)? };
    let host = match port {
        Some(p) => format!("{name}:{p}"),
        None => name,
    };
    Some(Indicator::Url(format!("{host}{path}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn any(t: &str) -> Result<String, String> {
        classify(t, Expect::Any).map(|i| format!("{} {i}", i.kind()))
    }

    #[test]
    fn each_kind_is_recognised_from_its_text() {
        assert_eq!(any(" 192.0.2.7 ").unwrap(), "address 192.0.2.7");
        assert_eq!(any("192.0.2.77/24").unwrap(), "address 192.0.2.0/24");
        assert_eq!(any("2001:db8::/32").unwrap(), "address 2001:db8::/32");
        assert_eq!(any("Evil.Example.COM.").unwrap(), "domain evil.example.com");
        assert_eq!(any("*.bad.example").unwrap(), "domain bad.example");
        assert_eq!(any("https://Bad.Example:8443/a/B?x=1").unwrap(), "URL bad.example:8443/a/B?x=1");
        assert_eq!(any("http://192.0.2.1").unwrap(), "URL 192.0.2.1/");
        assert_eq!(any("bad.example/dl.exe").unwrap(), "URL bad.example/dl.exe");
        assert_eq!(
            any("http://u@bad.example/go?to=http://x&m=a@b.example").unwrap(),
            "URL bad.example/go?to=http://x&m=a@b.example"
        );
        assert_eq!(any("E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855").unwrap().len(), 5 + 64);
        assert_eq!(
            any("ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:45:67:89:ab:cd:ef:01").unwrap(),
            "hash abcdef0123456789abcdef0123456789abcdef01"
        );
        assert_eq!(any("t13d1516h2_8daaf6152771_e5627efa2ab1").unwrap(), "hash t13d1516h2_8daaf6152771_e5627efa2ab1");
        assert_eq!(any("Phish@Bad.Example").unwrap(), "e-mail address phish@bad.example");
    }

    #[test]
    fn what_is_no_indicator_says_so() {
        for t in ["localhost", "1.2.3", "999.1.1.1/8", "10.0.0.0/33", "not a thing", "a..b", "-x.example", "ftp//x", ""]
        {
            assert!(any(t).is_err(), "{t}");
        }
        let e = classify("evil.example", Expect::Ip).unwrap_err();
        assert!(e.contains("not an IP address"), "{e}");
        let long = "x".repeat(1000);
        assert!(any(&long).unwrap_err().len() < 200);
    }
}
