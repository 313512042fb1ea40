//! DNS abuse, from the names, types and answer codes the DNS dissector records,
//! per asking host within `dns_window_s` of packet time:
//! - `dns-odd-names`: many names under one domain that are very long (≥
//!   `dns_long_name` characters) or whose subdomain part looks random (≥ 24 characters
//!   with a Shannon entropy ≥ `dns_entropy_bits` bits per character): tunnels and
//!   data carried out in names.
//! - `dns-subdomains`: many distinct names under one domain (tunnels, fast-flux C&C).
//! - `dns-txt`: many TXT lookups under one domain (the usual tunnel and C&C channel;
//!   counted per domain, so a mail server checking SPF records of many domains does not
//!   count).
//! - `dns-nxdomain`: many distinct names answered NXDOMAIN (domain generation
//!   algorithms trying their list).
//!
//! Every count is of distinct names. Multicast and link-local name services (mDNS,
//! LLMNR, NetBIOS) and reverse lookups (`.arpa`) are left out. "One domain" is the
//! name's last two labels, or three under a two-letter country code whose second level
//! is generic (`example.co.uk`): close to the public suffix list for counting, without
//! carrying it.

use std::net::IpAddr;

use tyto_schema::{SessionRecord, Severity};

use crate::window::{key, Span, Windows};
use crate::{time_clause, AlertText, Context, NS};

const MAX_KEYS: usize = 100_000;
/// Shortest subdomain part whose entropy is judged (short strings cannot show much).
const ENTROPY_MIN_LEN: usize = 24;

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Odd,
    Subdomains,
    Txt,
}

pub(crate) struct DnsWatch {
    per_domain: Windows<(Kind, IpAddr, String)>,
    nxdomain: Windows<IpAddr>,
}

impl Default for DnsWatch {
    fn default() -> Self {
        DnsWatch { per_domain: Windows::new(MAX_KEYS), nxdomain: Windows::new(MAX_KEYS) }
    }
}

/// The registered domain of a name, as the module's comment describes.
pub fn base_domain(name: &str) -> &str {
    let dots: Vec<usize> = name.match_indices('.').map(|(i, _)| i).collect();
    let labels = dots.len() + 1;
    if labels <= 2 {
        return name;
    }
    let tld = &name[dots[dots.len() - 1] + 1..];
    let second = &name[dots[dots.len() - 2] + 1..dots[dots.len() - 1]];
    const GENERIC: &[&str] = &["co", "com", "net", "org", "gov", "edu", "ac", "or", "ne", "go", "gob", "mil", "nic"];
    let take = if tld.len() == 2 && GENERIC.contains(&second) { 3 } else { 2 };
    if labels <= take {
        return name;
    }
    &name[dots[dots.len() - take] + 1..]
}

/// Shannon entropy of the bytes, bits per byte.
pub fn entropy(s: &str) -> f64 {
    let mut counts = [0u32; 256];
    for b in s.bytes() {
        counts[b as usize] += 1;
    }
    let n = s.len() as f64;
    counts.iter().filter(|c| **c > 0).map(|c| *c as f64 / n).map(|p| -p * p.log2()).sum()
}

impl DnsWatch {
    pub fn session(&mut self, rec: &SessionRecord, ctx: &mut Context) {
        let names = rec.extra.texts("host.dns");
        if names.is_empty() || matches!(rec.dst_port, 5353 | 5355 | 137) {
            return;
        }
        let Some(src) = rec.src_ip.map(|a| a.to_ip()) else { return };
        let cfg = ctx.cfg;
        let window_ns = cfg.dns_window_s as i64 * NS;
        let t = rec.start_ns;
        let txt = rec.extra.texts("dns.query.type").iter().any(|q| q.eq_ignore_ascii_case("TXT"));
        let nx = rec.extra.texts("dns.status").iter().any(|q| q.eq_ignore_ascii_case("NXDOMAIN"));
        for raw in names {
            let name = raw.trim_end_matches('.').to_ascii_lowercase();
            if !name.contains('.') || name.ends_with(".arpa") || name.ends_with(".local") {
                continue;
            }
            let base = base_domain(&name);
            let sub = name.strip_suffix(base).unwrap_or("").trim_end_matches('.');
            let sub_chars: String = sub.chars().filter(|c| *c != '.').collect();
            let odd = name.len() >= cfg.dns_long_name as usize
                || (sub_chars.len() >= ENTROPY_MIN_LEN && entropy(&sub_chars) >= cfg.dns_entropy_bits);
            let mut kinds = vec![(Kind::Subdomains, cfg.dns_subdomains)];
            if odd {
                kinds.push((Kind::Odd, cfg.dns_odd_names));
            }
            if txt {
                kinds.push((Kind::Txt, cfg.dns_txt));
            }
            for (kind, cap) in kinds {
                let span = self.per_domain.add((kind, src, base.to_string()), key(&name), t, window_ns, cap as usize);
                if span.n >= cap as usize && ctx.fresh(("dns", kind, src, base), t) {
                    domain_alert(ctx, rec, kind, src, base, &name, span);
                }
            }
            if nx {
                let cap = cfg.dns_nxdomain as usize;
                let span = self.nxdomain.add(src, key(&name), t, window_ns, cap);
                if span.n >= cap && ctx.fresh(("dns-nxdomain", src), t) {
                    let Span { n, first_ns, last_ns } = span;
                    AlertText {
                        detector: "dns-nxdomain".into(),
                        severity: Severity::Medium,
                        source: src.to_string(),
                        targets: vec![name.clone()],
                        message: format!(
                            "{src} was answered NXDOMAIN for {n} distinct names in {:.0} s, the latest {name} (threshold {cap} in {} s)",
                            (last_ns - first_ns) as f64 / 1e9,
                            cfg.dns_window_s
                        ),
                        expression: format!("ip.src == {src} && dns.status == NXDOMAIN && {}", time_clause(first_ns, last_ns)),
                        first_ns,
                        last_ns,
                    }
                    .raise(rec, ctx.out);
                }
            }
        }
    }
}

fn domain_alert(ctx: &mut Context, rec: &SessionRecord, kind: Kind, src: IpAddr, base: &str, name: &str, span: Span) {
    let cfg = ctx.cfg;
    let Span { n, first_ns, last_ns } = span;
    let secs = (last_ns - first_ns) as f64 / 1e9;
    let window = cfg.dns_window_s;
    let (detector, severity, message, types) = match kind {
        Kind::Odd => (
            "dns-odd-names",
            Severity::High,
            format!(
                "{src} looked up {n} long or random-looking names under {base} in {secs:.0} s, e.g. {name} (threshold {} in {window} s)",
                cfg.dns_odd_names
            ),
            "",
        ),
        Kind::Subdomains => (
            "dns-subdomains",
            Severity::Medium,
            format!(
                "{src} looked up {n} distinct names under {base} in {secs:.0} s (threshold {} in {window} s)",
                cfg.dns_subdomains
            ),
            "",
        ),
        Kind::Txt => (
            "dns-txt",
            Severity::Medium,
            format!(
                "{src} made TXT lookups of {n} distinct names under {base} in {secs:.0} s (threshold {} in {window} s)",
                cfg.dns_txt
            ),
            " && dns.query.type == TXT",
        ),
    };
    AlertText {
        detector: detector.into(),
        severity,
        source: src.to_string(),
        targets: vec![base.to_string()],
        message,
        expression: format!(
            "ip.src == {src} && host.dns == [{base}, *.{base}]{types} && {}",
            time_clause(first_ns, last_ns)
        ),
        first_ns,
        last_ns,
    }
    .raise(rec, ctx.out);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::talk;
    use crate::{DetectConfig, Detectors};

    fn lookup(src: u8, name: &str, qtype: &str, status: &str, t_s: i64) -> SessionRecord {
        let mut s = talk([10, 0, 0, src], [10, 0, 0, 53], 53, t_s);
        s.ip_protocol = 17;
        s.extra.add_text("host.dns", name).unwrap();
        s.extra.add_text("dns.query.type", qtype).unwrap();
        s.extra.add_text("dns.status", status).unwrap();
        s
    }

    /// Base32-looking labels, as tunnels write them.
    fn random_label(i: u32, len: usize) -> String {
        let mut x = i.wrapping_mul(2_654_435_761).wrapping_add(12345);
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                b"abcdefghijklmnopqrstuvwxyz234567"[(x % 32) as usize] as char
            })
            .collect()
    }

    #[test]
    fn domains_and_entropy() {
        assert_eq!(base_domain("a.b.example.com"), "example.com");
        assert_eq!(base_domain("www.bbc.co.uk"), "bbc.co.uk");
        assert_eq!(base_domain("example.com"), "example.com");
        assert_eq!(base_domain("co.uk"), "co.uk");
        assert!(entropy(&random_label(1, 40)) > 4.0);
        assert!(entropy("wwwwwwwwwwwwwwwwwwwwwwwwwwwww") < 0.1);
    }

    #[test]
    fn a_tunnel_raises_odd_names_subdomains_and_txt() {
        let mut d = Detectors::new(DetectConfig::default()).unwrap();
        let mut alerts = Vec::new();
        for i in 0..200u32 {
            let name = format!("{}.{}.t.evil-tunnel.net", random_label(i, 50), random_label(i + 7, 40));
            alerts.extend(d.session(&lookup(9, &name, "TXT", "NOERROR", 100 + i as i64 / 2)));
        }
        let detectors: Vec<&str> = alerts.iter().map(|a| a.detector.as_str()).collect();
        assert_eq!(detectors, ["dns-odd-names", "dns-txt", "dns-subdomains"], "{alerts:#?}");
        assert!(alerts.iter().all(|a| a.source == "10.0.0.9" && a.targets == ["evil-tunnel.net"]));
        for a in &alerts {
            assert!(tyto_query::compile(&a.expression, 0).is_ok(), "{}", a.expression);
        }
    }

    #[test]
    fn nxdomain_bursts_and_ordinary_browsing() {
        let mut d = Detectors::new(DetectConfig::default()).unwrap();
        let mut alerts = Vec::new();
        for i in 0..40u32 {
            alerts.extend(d.session(&lookup(7, &format!("{}.com", random_label(i, 12)), "A", "NXDOMAIN", 100)));
        }
        assert_eq!(alerts.len(), 1);
        assert_eq!((alerts[0].detector.as_str(), alerts[0].source.as_str()), ("dns-nxdomain", "10.0.0.7"));
        // A browser: tens of names under a few domains, reverse lookups, mDNS.
        let mut d = Detectors::new(DetectConfig::default()).unwrap();
        for i in 0..60u32 {
            for base in ["google.com", "gstatic.com", "example.org"] {
                assert!(d.session(&lookup(8, &format!("host{i}.{base}"), "A", "NOERROR", 100)).is_empty());
            }
            assert!(d.session(&lookup(8, &format!("{i}.2.0.192.in-addr.arpa"), "PTR", "NXDOMAIN", 100)).is_empty());
        }
    }
}
