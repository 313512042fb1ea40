//! Detectors over the stream of finished sessions, in packet time (so a capture of
//! last week's incident raises last week's alerts).
//!
//! So far: scans. A *probe* is a session that exchanged no payload: a TCP session with
//! no data either way (SYN scans, connect scans, closed ports), a UDP datagram that got
//! no answer, an ICMP echo. Counting probes rather than sessions keeps busy clients
//! (resolvers, crawlers, P2P) out of it: they exchange data.
//! - Vertical scan: one source probing many distinct ports of one host in a window.
//! - Horizontal scan (sweep): one source probing many hosts on one port (or with ICMP
//!   echo) in a window.
//!
//! Memory is bounded: per key at most `threshold` distinct targets are remembered
//! (enough to decide), and keys idle for a window are dropped once the table passes
//! its bound. An alert for the same detector and key is raised again only after
//! `realert_s`.

use std::collections::HashMap;
use std::net::IpAddr;

use tyto_schema::{AlertRecord, SessionRecord, Severity};

/// Thresholds (each documented with its unit; defaults in [`ScanConfig::default`]).
#[derive(Clone, Debug, PartialEq)]
pub struct ScanConfig {
    /// Seconds of packet time a scan is counted over.
    pub window_s: u32,
    /// Distinct ports of one host probed by one source in the window.
    pub vertical_ports: u32,
    /// Distinct hosts probed on one port (or pinged) by one source in the window.
    pub horizontal_hosts: u32,
    /// Seconds before the same source raises the same alert again.
    pub realert_s: u32,
}

impl Default for ScanConfig {
    fn default() -> Self {
        ScanConfig { window_s: 60, vertical_ports: 50, horizontal_hosts: 30, realert_s: 600 }
    }
}

/// Keys (source and target pairs, source and port) held at once before idle ones go.
const MAX_KEYS: usize = 200_000;

/// Distinct targets seen for one key, with when each was last probed.
#[derive(Default)]
struct Window {
    seen: HashMap<u64, i64>,
    first_ns: i64,
    last_ns: i64,
}

impl Window {
    /// Adds a probe; returns the number of distinct targets inside the window.
    fn add(&mut self, target: u64, t: i64, window_ns: i64, cap: usize) -> usize {
        if self.seen.is_empty() {
            self.first_ns = t;
        }
        self.last_ns = self.last_ns.max(t);
        let horizon = self.last_ns - window_ns;
        if self.seen.len() >= cap || self.seen.len() % 64 == 63 {
            self.seen.retain(|_, at| *at >= horizon);
            self.first_ns = self.seen.values().copied().min().unwrap_or(t).min(t);
        }
        if self.seen.len() < cap || self.seen.contains_key(&target) {
            let at = self.seen.entry(target).or_insert(t);
            *at = (*at).max(t);
        }
        self.seen.values().filter(|at| **at >= horizon).count()
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Key {
    Vertical { src: IpAddr, dst: IpAddr, proto: u8 },
    Horizontal { src: IpAddr, proto: u8, port: u16 },
}

/// The detection engine: feed it every finished session.
pub struct Detectors {
    scan: ScanConfig,
    windows: HashMap<Key, Window>,
    last_alert: HashMap<Key, i64>,
}

impl Detectors {
    pub fn new(scan: ScanConfig) -> Detectors {
        Detectors { scan, windows: HashMap::new(), last_alert: HashMap::new() }
    }

    /// Looks at one finished session; returns the alerts it raises.
    pub fn session(&mut self, rec: &SessionRecord) -> Vec<AlertRecord> {
        let mut out = Vec::new();
        let (Some(src), Some(dst)) = (rec.src_ip, rec.dst_ip) else { return out };
        if !is_probe(rec) || rec.segment > 1 {
            return out;
        }
        let (src, dst) = (src.to_ip(), dst.to_ip());
        let t = rec.start_ns;
        let window_ns = self.scan.window_s as i64 * 1_000_000_000;
        if rec.ip_protocol == 6 || rec.ip_protocol == 17 {
            let cap = self.scan.vertical_ports as usize;
            let key = Key::Vertical { src, dst, proto: rec.ip_protocol };
            let n = self.windows.entry(key).or_default().add(rec.dst_port as u64, t, window_ns, cap);
            if n >= cap {
                self.raise(&mut out, key, rec, n);
            }
        }
        let port = if matches!(rec.ip_protocol, 6 | 17) { rec.dst_port } else { 0 };
        let cap = self.scan.horizontal_hosts as usize;
        let key = Key::Horizontal { src, proto: rec.ip_protocol, port };
        let n = self.windows.entry(key).or_default().add(addr_key(dst), t, window_ns, cap);
        if n >= cap {
            self.raise(&mut out, key, rec, n);
        }
        if self.windows.len() > MAX_KEYS {
            let horizon = t - window_ns;
            self.windows.retain(|_, w| w.last_ns >= horizon);
            self.last_alert.retain(|_, at| *at >= t - self.scan.realert_s as i64 * 1_000_000_000);
        }
        out
    }

    fn raise(&mut self, out: &mut Vec<AlertRecord>, key: Key, rec: &SessionRecord, n: usize) {
        let t = rec.start_ns;
        let realert_ns = self.scan.realert_s as i64 * 1_000_000_000;
        if self.last_alert.get(&key).is_some_and(|at| t - at < realert_ns) {
            return;
        }
        self.last_alert.insert(key, t);
        let w = &self.windows[&key];
        let secs = (w.last_ns - w.first_ns).max(0) as f64 / 1e9;
        let proto = proto_name(rec.ip_protocol);
        let (first_ns, last_ns) = (w.first_ns, w.last_ns);
        let when = format!(
            "starttime >= {} && starttime <= {}",
            tyto_schema::time::format_rfc3339(first_ns - first_ns.rem_euclid(1_000_000_000)),
            tyto_schema::time::format_rfc3339(last_ns + 1_000_000_000 - last_ns.rem_euclid(1_000_000_000))
        );
        let probes = probe_clause(rec.ip_protocol);
        let (detector, src, target, message, expression) = match key {
            Key::Vertical { src, dst, .. } => (
                "vertical-scan",
                src,
                dst.to_string(),
                format!("{src} probed {n} {proto} ports of {dst} in {secs:.0} s without exchanging data (threshold {} in {} s)", self.scan.vertical_ports, self.scan.window_s),
                format!("ip.src == {src} && ip.dst == {dst} && ip.protocol == {proto}{probes} && {when}"),
            ),
            Key::Horizontal { src, port, .. } => {
                let ported = matches!(rec.ip_protocol, 6 | 17);
                let what = if ported { format!("{proto} port {port}") } else { proto.to_string() };
                let port_clause = if ported { format!(" && port.dst == {port}") } else { String::new() };
                (
                    "horizontal-scan",
                    src,
                    what.clone(),
                    format!("{src} probed {n} hosts on {what} in {secs:.0} s without exchanging data (threshold {} in {} s)", self.scan.horizontal_hosts, self.scan.window_s),
                    format!("ip.src == {src} && ip.protocol == {proto}{port_clause}{probes} && {when}"),
                )
            }
        };
        out.push(AlertRecord {
            time_ns: t,
            node: rec.node.clone(),
            detector: detector.into(),
            severity: Severity::Medium,
            source: src.to_string(),
            targets: vec![target],
            message,
            expression,
            first_ns,
            last_ns,
        });
    }
}

/// A session that exchanged no payload: what scanners leave behind.
fn is_probe(rec: &SessionRecord) -> bool {
    match rec.ip_protocol {
        6 => rec.databytes() == 0,
        17 => rec.dst.packets == 0,
        // ICMP / ICMPv6 echo requests (type 8 / 128) from the source.
        1 | 58 => rec.icmp_types.iter().any(|t| *t == 8 || *t == 128),
        _ => false,
    }
}

/// The search terms that pick probes of protocol `p`, as [`is_probe`] defines them.
fn probe_clause(p: u8) -> &'static str {
    match p {
        6 => " && databytes == 0",
        17 => " && packets.dst == 0",
        _ => "",
    }
}

fn proto_name(p: u8) -> &'static str {
    tyto_packet::ipproto::name(p).unwrap_or("ip")
}

/// A host as a window's target (FNV-1a of its 16 bytes: distinct enough to count).
fn addr_key(a: IpAddr) -> u64 {
    let bytes = match a {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
        IpAddr::V6(v6) => v6.octets(),
    };
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ *b as u64).wrapping_mul(0x100_0000_01b3))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tyto_packet::Addr;

    fn probe(src: [u8; 4], dst: [u8; 4], port: u16, t_s: i64) -> SessionRecord {
        SessionRecord {
            segment: 1,
            node: "n".into(),
            ip_protocol: 6,
            src_ip: Some(Addr::from_v4(src)),
            dst_ip: Some(Addr::from_v4(dst)),
            src_port: 40000,
            dst_port: port,
            start_ns: t_s * 1_000_000_000,
            stop_ns: t_s * 1_000_000_000,
            ..SessionRecord::default()
        }
    }

    #[test]
    fn many_ports_of_one_host_make_one_vertical_alert() {
        let mut d = Detectors::new(ScanConfig::default());
        let mut alerts = Vec::new();
        for p in 1..=1000u16 {
            alerts.extend(d.session(&probe([10, 0, 0, 2], [10, 0, 0, 1], p, 100 + p as i64 / 100)));
        }
        assert_eq!(alerts.len(), 1, "deduplicated: {alerts:?}");
        let a = &alerts[0];
        assert_eq!((a.detector.as_str(), a.source.as_str()), ("vertical-scan", "10.0.0.2"));
        assert_eq!(a.targets, ["10.0.0.1"]);
        assert!(a.message.contains("probed 50 tcp ports of 10.0.0.1"), "{}", a.message);
        assert!(tyto_query_free_check(&a.expression));
    }

    /// The expression names the source and is plain text (the CLI tests run it).
    fn tyto_query_free_check(e: &str) -> bool {
        e.starts_with("ip.src == 10.0.0.2") && e.contains("databytes == 0")
    }

    #[test]
    fn sweeps_and_slow_or_talkative_traffic() {
        let mut d = Detectors::new(ScanConfig::default());
        let mut alerts = Vec::new();
        for h in 1..=40u8 {
            alerts.extend(d.session(&probe([10, 0, 0, 2], [10, 0, 1, h], 22, 100)));
        }
        assert_eq!(alerts.len(), 1);
        assert_eq!(alerts[0].detector, "horizontal-scan");
        assert_eq!(alerts[0].targets, ["tcp port 22"]);
        // The same number of ports, but one a minute: never 50 in a window.
        let mut d = Detectors::new(ScanConfig::default());
        for p in 1..=200u16 {
            assert!(d.session(&probe([10, 0, 0, 3], [10, 0, 0, 1], p, p as i64 * 61)).is_empty());
        }
        // Sessions that carried data are not probes: a resolver asking 100 servers.
        let mut d = Detectors::new(ScanConfig::default());
        for h in 1..=100u8 {
            let mut s = probe([10, 0, 0, 53], [192, 0, 2, h], 53, 100);
            s.ip_protocol = 17;
            s.src.databytes = 40;
            s.dst.packets = 1;
            s.dst.databytes = 120;
            assert!(d.session(&s).is_empty());
        }
    }
}
