//! `app` and `category`: which application a session belongs to (`youtube`, `teams`,
//! `netflix`) and what kind it is (`video`, `collaborative`, `vpn`), from the names
//! it was addressed by — TLS and QUIC server names, the HTTP Host, the DNS name asked
//! for, the server certificate's names — as nDPI names the application part of
//! `TLS.YouTube`. The catalogue is `data/apps.tsv`, read out of nDPI's own host and
//! certificate tables by `scripts/app-table.py` (its version in its header), one
//! line per name pattern with its source. Shipped in the binary: nothing to configure.
//!
//! Patterns are matched as nDPI matches them: `example.com` matches that name and its
//! subdomains (at a label boundary, or after a `-` when the pattern starts with one);
//! a pattern ending with `.` (`google.`) matches those labels anywhere in the name
//! (`www.google.co.uk`). The longest pattern that matches wins. Certificate patterns
//! (`cn=anydesk client`, `o=kakao`, `ou=fortigate`) match a certificate's subject or
//! issuer name.

use std::collections::HashMap;
use std::sync::OnceLock;

use tyto_schema::{SessionRecord, Values};

const TABLE: &str = include_str!("../data/apps.tsv");
/// Networks of the applications whose calls are named by the STUN server's owner
/// (`scripts/app-table.py --addresses`).
const ADDRESSES: &str = include_str!("../data/app-addresses.tsv");

/// A call over STUN whose messages name no application is named, as nDPI names it,
/// by who owns the server's address: Google's, a Google call; Facebook's, a
/// Facebook call.
const CALLS_BY_OWNER: &[(&str, &str)] = &[("google", "googlecall"), ("facebook", "facebookvoip")];

/// An application and its category, as written in the catalogue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct App {
    pub name: &'static str,
    pub category: &'static str,
}

struct Catalogue {
    /// Host patterns, by their text (prefix patterns keep their final `.`).
    hosts: HashMap<&'static str, App, ahash::RandomState>,
    /// The most labels a prefix pattern spans (`pinterest.co.` spans two).
    prefix_labels: usize,
    /// Patterns ending with `-` (`igcdn-photos-`): the start of a label.
    dash_prefixes: Vec<(&'static str, App)>,
    /// Certificate patterns: (`cn` or `o`, the name, the app).
    certificates: Vec<(&'static str, &'static str, App)>,
    /// Each application's category (the first line naming it says).
    categories: HashMap<&'static str, &'static str, ahash::RandomState>,
    /// Applications named by their own protocol, by Tyto's name for the protocol
    /// (asked for every session no name placed).
    protocols: HashMap<&'static str, App, ahash::RandomState>,
}

fn catalogue() -> &'static Catalogue {
    static CATALOGUE: OnceLock<Catalogue> = OnceLock::new();
    CATALOGUE.get_or_init(|| {
        let mut c = Catalogue {
            hosts: HashMap::default(),
            prefix_labels: 0,
            dash_prefixes: Vec::new(),
            certificates: Vec::new(),
            categories: HashMap::default(),
            protocols: HashMap::default(),
        };
        for line in TABLE.lines().filter(|l| !l.starts_with('#') && !l.is_empty()) {
            let mut cols = line.split('\t');
            let (Some(kind), Some(pattern), Some(name), Some(category)) =
                (cols.next(), cols.next(), cols.next(), cols.next())
            else {
                continue;
            };
            let app = App { name, category };
            c.categories.entry(name).or_insert(category);
            match kind {
                "host" => {
                    let pattern = pattern.trim_start_matches('.');
                    if pattern.ends_with('.') {
                        c.prefix_labels = c.prefix_labels.max(pattern.matches('.').count());
                    }
                    if pattern.ends_with('-') && !c.dash_prefixes.iter().any(|(p, _)| *p == pattern) {
                        c.dash_prefixes.push((pattern, app));
                    }
                    // nDPI keeps the first of a repeated pattern; so does the script.
                    c.hosts.entry(pattern).or_insert(app);
                }
                "certificate" => {
                    if let Some((attr, value)) = pattern.split_once('=') {
                        c.certificates.push((attr, value, app));
                    }
                }
                "protocol" => {
                    c.protocols.entry(pattern).or_insert(app);
                }
                // `app`: named by a dissector; only its category is wanted here.
                _ => {}
            }
        }
        c
    })
}

/// Address ranges (IPv4 as IPv4-mapped IPv6), by their first address, with the
/// list's owner.
fn networks() -> &'static [(u128, u128, &'static str)] {
    static NETWORKS: OnceLock<Vec<(u128, u128, &'static str)>> = OnceLock::new();
    NETWORKS.get_or_init(|| {
        let mut v: Vec<(u128, u128, &'static str)> = ADDRESSES
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .filter_map(|l| {
                let mut cols = l.split('\t');
                let (net, owner) = (cols.next()?, cols.next()?);
                let (addr, len) = net.split_once('/')?;
                let len: u32 = len.parse().ok()?;
                let (base, len) = match addr.parse::<std::net::IpAddr>().ok()? {
                    std::net::IpAddr::V4(a) => (u128::from(a.to_ipv6_mapped()), len.checked_add(96)?),
                    std::net::IpAddr::V6(a) => (u128::from(a), len),
                };
                let host_bits = 128u32.checked_sub(len)?;
                let mask = if host_bits == 128 { u128::MAX } else { (1u128 << host_bits) - 1 };
                Some((base & !mask, base | mask, owner))
            })
            .collect();
        v.sort_unstable();
        v
    })
}

/// Whose list holds `addr` (the narrowest network that does).
fn owner_of(addr: [u8; 16]) -> Option<&'static str> {
    let a = u128::from_be_bytes(addr);
    let nets = networks();
    let after = nets.partition_point(|(lo, _, _)| *lo <= a);
    nets[..after].iter().rev().filter(|(lo, hi, _)| *lo <= a && a <= *hi).min_by_key(|(lo, hi, _)| hi - lo).map(|n| n.2)
}

/// The call application of a STUN session no message named, by the owner of the
/// server's address (or, for a session whose roles are unclear, the client's).
fn call_by_owner(rec: &SessionRecord) -> Option<&'static str> {
    if !rec.protocols.iter().any(|p| p == "stun") {
        return None;
    }
    let owner = [rec.dst_ip, rec.src_ip].into_iter().flatten().find_map(|a| owner_of(a.0))?;
    CALLS_BY_OWNER.iter().find(|(o, _)| *o == owner).map(|(_, app)| *app)
}

/// How many applications the catalogue names.
pub fn known_apps() -> usize {
    catalogue().categories.len()
}

/// The protocols that name their application (Tyto's protocol name, the app).
pub fn protocol_apps() -> impl Iterator<Item = (&'static str, App)> {
    catalogue().protocols.iter().map(|(p, app)| (*p, *app))
}

/// The category of an application the catalogue names.
pub fn category_of(app: &str) -> Option<&'static str> {
    catalogue().categories.get(app).copied()
}

/// The application a server name belongs to. `name` is lower case, without a final
/// dot or a port.
fn by_host(c: &Catalogue, name: &str) -> Option<App> {
    // Suffixes: the name, what follows each `.`, and each `-…` (nDPI's `-mtalk.google.com`).
    // The first found is the longest.
    let bytes = name.as_bytes();
    let mut best: Option<(usize, App)> = std::iter::once(0)
        .chain(bytes.iter().enumerate().filter_map(|(i, b)| match b {
            b'.' => Some(i + 1),
            b'-' => Some(i),
            _ => None,
        }))
        .find_map(|start| c.hosts.get(&name[start..]).map(|app| (name.len() - start, *app)));
    // Patterns ending with `-`: the start of a label (`igcdn-photos-a-a.akamaihd.net`).
    let label_starts =
        || std::iter::once(0).chain(bytes.iter().enumerate().filter(|(_, b)| **b == b'.').map(|(i, _)| i + 1));
    for (pattern, app) in &c.dash_prefixes {
        if label_starts().any(|start| name[start..].starts_with(pattern))
            && best.is_none_or(|(len, _)| pattern.len() > len)
        {
            best = Some((pattern.len(), *app));
        }
    }
    let mut consider = |pattern: &str| {
        if let Some(app) = c.hosts.get(pattern) {
            if best.is_none_or(|(len, _)| pattern.len() > len) {
                best = Some((pattern.len(), *app));
            }
        }
    };
    // Prefix patterns: one or more whole labels and the dot after them, at any label start.
    if c.prefix_labels > 0 {
        for start in label_starts() {
            let rest = &name[start..];
            let mut labels = 0;
            for (i, _) in rest.match_indices('.') {
                labels += 1;
                if labels > c.prefix_labels {
                    break;
                }
                consider(&rest[..=i]);
            }
        }
    }
    best.map(|(_, app)| app)
}

/// A name as written in a field, lower case, without `*.`, a final dot or a port.
fn server_name(raw: &str) -> Option<std::borrow::Cow<'_, str>> {
    let name = raw.trim_start_matches("*.").trim_end_matches('.');
    // `host:port` (an HTTP Host), but not an IPv6 address.
    let name = match name.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') && port.bytes().all(|b| b.is_ascii_digit()) => host,
        _ => name,
    };
    if name.is_empty() || !name.contains('.') && name.len() < 3 {
        return None;
    }
    Some(if name.bytes().any(|b| b.is_ascii_uppercase()) { name.to_ascii_lowercase().into() } else { name.into() })
}

/// The application whose own protocol the session speaks (a Telegram or TeamSpeak
/// session named from its payload, with no server name to go by).
fn by_protocol(rec: &SessionRecord) -> Option<App> {
    let c = catalogue();
    rec.protocols.iter().rev().find_map(|p| c.protocols.get(p.as_str()).copied())
}

/// The fields that name the server, in the order nDPI trusts them: what the client
/// asked for before what the server answered with.
const NAMED_BY: &[&str] = &["host.tls", "host.quic", "host.http", "host.dns", "cert.alt", "cert.subject.cn"];

/// The application of a session, from its fields.
pub fn app_of(rec: &SessionRecord) -> Option<App> {
    let mut names: [Option<&[String]>; NAMED_BY.len()] = Default::default();
    // Certificates' common names, organisations and their units (subject and
    // issuer), for the certificate patterns when no server name named the application.
    let mut common_names: Vec<&[String]> = Vec::new();
    let mut organisations: Vec<&[String]> = Vec::new();
    let mut units: Vec<&[String]> = Vec::new();
    for (field, values) in rec.extra.iter() {
        let Values::Text(list) = values else { continue };
        if let Some(i) = NAMED_BY.iter().position(|f| *f == field) {
            names[i] = Some(list);
        }
        match field {
            "cert.subject.cn" | "cert.issuer.cn" => common_names.push(list),
            "cert.subject.on" | "cert.issuer.on" => organisations.push(list),
            "cert.subject.ou" | "cert.issuer.ou" => units.push(list),
            _ => {}
        }
    }
    // A session without a name leaves the catalogue unread (a capture of such
    // sessions never loads it).
    let no_certificate = common_names.is_empty() && organisations.is_empty() && units.is_empty();
    if names.iter().all(Option::is_none) && no_certificate {
        return None;
    }
    let c = catalogue();
    for list in names.into_iter().flatten() {
        for raw in list {
            if let Some(app) = server_name(raw).and_then(|n| by_host(c, &n)) {
                return Some(app);
            }
        }
    }
    if no_certificate {
        return None;
    }
    // Lower case once, then every pattern in the catalogue's order.
    let lower =
        |lists: Vec<&[String]>| -> Vec<String> { lists.concat().iter().map(|v| v.to_ascii_lowercase()).collect() };
    let (common_names, organisations, units) = (lower(common_names), lower(organisations), lower(units));
    c.certificates.iter().find_map(|(attr, value, app)| {
        let held = match *attr {
            "cn" => &common_names,
            "o" => &organisations,
            "ou" => &units,
            _ => return None,
        };
        held.iter().any(|v| v.contains(value)).then_some(*app)
    })
}

/// The application of the name an earlier DNS answer gave the server's address
/// (see `tyto_dissect`'s resolved names): for a session that names no server itself.
fn by_resolved_name(rec: &SessionRecord) -> Option<App> {
    let name = server_name(rec.resolved.as_deref()?)?;
    by_host(catalogue(), &name)
}

/// Fills `app` and `category`.
pub struct Apps;

impl tyto_flow::Enrich for Apps {
    fn enrich(&self, rec: &mut SessionRecord) {
        // A dissector that named the application from the payload (a call's STUN
        // attributes) knows better than a name.
        if let Some(named) = rec.extra.texts("app").first() {
            if let Some(category) = category_of(named) {
                let _ = rec.extra.add_text("category", category);
            }
            return;
        }
        if let Some(app) = app_of(rec).or_else(|| by_protocol(rec)).or_else(|| by_resolved_name(rec)) {
            let _ = rec.extra.add_text("app", app.name);
            let _ = rec.extra.add_text("category", app.category);
        } else if let Some(call) = call_by_owner(rec) {
            let _ = rec.extra.add_text("app", call);
            if let Some(category) = category_of(call) {
                let _ = rec.extra.add_text("category", category);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(host: &str) -> Option<&'static str> {
        by_host(catalogue(), &server_name(host)?).map(|a| a.name)
    }

    #[test]
    fn names_match_as_ndpi_matches_them() {
        // A suffix at a label boundary, and the longest pattern wins.
        assert_eq!(named("r5---sn-vh5ouxa-hju6.googlevideo.com"), Some("youtube"));
        assert_eq!(named("www.youtube.com"), Some("youtube"));
        assert_eq!(named("upload.youtube.com"), Some("youtubeupload"));
        assert_eq!(named("www.google.com"), Some("google"));
        assert_eq!(named("clientservices.googleapis.com"), Some("googleservices"));
        // Not inside a label.
        assert_eq!(named("notnetflix.com"), None);
        assert_eq!(named("api-global.netflix.com"), Some("netflix"));
        // Prefix patterns (`google.`, `pinterest.`) under any top-level domain.
        assert_eq!(named("www.google.co.uk"), Some("google"));
        assert_eq!(named("www.pinterest.fr"), Some("pinterest"));
        // A `-` pattern: `-mtalk.google.com`.
        assert_eq!(named("alt1-mtalk.google.com"), Some("googleservices"));
        // A pattern ending with `-` begins a label: `igcdn-photos-`, `fbcdn-`.
        assert_eq!(named("igcdn-photos-a-a.akamaihd.net"), Some("instagram"));
        assert_eq!(named("fbcdn-profile-a.akamaihd.net"), Some("facebook"));
        assert_eq!(named("notigcdn-photos-a.akamaihd.net"), None);
        // As written in fields: case, wildcard, port, final dot.
        assert_eq!(named("*.WEBEX.com"), Some("webex"));
        assert_eq!(named("ws.1kxun.mobi:1234"), Some("1kxun"));
        assert_eq!(named("zoom.us."), Some("zoom"));
        assert_eq!(named(""), None);
        assert_eq!(named("[2001:db8::1]:443"), None);
    }

    #[test]
    fn certificates_name_what_no_host_name_places() {
        let app = |fields: &[(&str, &str)]| {
            let mut rec = SessionRecord::default();
            for (f, v) in fields {
                let _ = rec.extra.add_text(f, v);
            }
            app_of(&rec).map(|a| a.name)
        };
        // A FortiGate's own certificate: its unit names the VPN gateway.
        let fortigate = [
            ("cert.subject.on", "Fortinet"),
            ("cert.subject.ou", "FortiGate"),
            ("cert.issuer.ou", "Certificate Authority"),
        ];
        assert_eq!(app(&fortigate), Some("forticlient"));
        assert_eq!(app(&[("cert.subject.on", "Kakao Corp.")]), Some("kakaotalk"));
        assert_eq!(app(&[("cert.issuer.cn", "AnyDesk Client")]), Some("anydesk"));
        // A unit is not an organisation.
        assert_eq!(app(&[("cert.subject.on", "FortiGate")]), None);
        // A server name comes first.
        assert_eq!(app(&[("host.tls", "www.netflix.com"), ("cert.subject.ou", "FortiGate")]), Some("netflix"));
    }

    #[test]
    fn a_stun_call_no_message_named_is_named_by_the_servers_owner() {
        let v4 = |a: [u8; 4]| Some(tyto_packet::Addr::from_v4(a));
        let call = |dst: Option<tyto_packet::Addr>, protocols: &[&str]| {
            let mut rec = SessionRecord {
                src_ip: v4([192, 168, 12, 169]),
                dst_ip: dst,
                protocols: protocols.iter().map(|p| p.to_string()).collect(),
                ..SessionRecord::default()
            };
            tyto_flow::Enrich::enrich(&Apps, &mut rec);
            (rec.extra.texts("app").first().cloned(), rec.extra.texts("category").first().cloned())
        };
        // `142.250.82.99:3478`, a Google TURN server of `googlecall.pcap`.
        assert_eq!(call(v4([142, 250, 82, 99]), &["udp", "stun"]), (Some("googlecall".into()), Some("voip".into())));
        assert_eq!(call(v4([157, 240, 16, 128]), &["udp", "stun", "dtls"]).0.as_deref(), Some("facebookvoip"));
        let google6 = "2001:4860:4864:6::81".parse::<std::net::Ipv6Addr>().unwrap().octets();
        assert_eq!(call(Some(tyto_packet::Addr(google6)), &["udp", "stun"]).0.as_deref(), Some("googlecall"));
        // Not STUN, or no owner listed: nothing.
        assert_eq!(call(v4([142, 250, 82, 99]), &["udp", "quic"]).0, None);
        assert_eq!(call(v4([192, 0, 2, 1]), &["udp", "stun"]).0, None);
    }

    #[test]
    fn a_session_of_an_applications_own_protocol_is_that_applications() {
        let named = |protocols: &[&str], host: Option<&str>| {
            let mut rec = SessionRecord {
                protocols: protocols.iter().map(|p| p.to_string()).collect(),
                ..SessionRecord::default()
            };
            if let Some(h) = host {
                let _ = rec.extra.add_text("host.http", h);
            }
            tyto_flow::Enrich::enrich(&Apps, &mut rec);
            (rec.extra.texts("app").first().cloned(), rec.extra.texts("category").first().cloned())
        };
        assert_eq!(named(&["udp", "teamspeak"], None), (Some("teamspeak".into()), Some("voip".into())));
        assert_eq!(named(&["tcp", "telegram"], None), (Some("telegram".into()), Some("chat".into())));
        assert_eq!(named(&["udp", "genshin"], None).0.as_deref(), Some("genshinimpact"));
        // A name says more than the protocol; an open protocol names no application.
        assert_eq!(named(&["tcp", "http", "dropbox"], Some("www.netflix.com")).0.as_deref(), Some("netflix"));
        assert_eq!(named(&["tcp", "bittorrent"], None).0, None);
    }

    #[test]
    fn every_entry_has_an_app_a_category_and_a_source() {
        for line in TABLE.lines().filter(|l| !l.starts_with('#')) {
            let cols: Vec<&str> = line.split('\t').collect();
            assert_eq!(cols.len(), 6, "{line}");
            assert!(matches!(cols[0], "host" | "certificate" | "protocol" | "app"), "{line}");
            assert!(cols.iter().all(|c| !c.is_empty()), "{line}");
            assert!(cols[5].starts_with("nDPI "), "{line}");
        }
        assert!(known_apps() >= 200, "{}", known_apps());
    }
}
