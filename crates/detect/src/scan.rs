//! Scans. A *probe* is a session that exchanged no payload: a TCP session with no data
//! either way (SYN scans, connect scans, closed ports), a UDP datagram that got no
//! answer, an ICMP echo. Counting probes rather than sessions keeps busy clients
//! (resolvers, crawlers, P2P) out of it: they exchange data.
//! - `vertical-scan`: one source probing many distinct ports of one host in a window.
//! - `horizontal-scan`: one source probing many hosts on one port (or with ICMP echo),
//!   or many (host, port) pairs over a few ports (a sweep of 20 hosts on 22, 3389 and
//!   5985 stays below the per-port threshold on each).
//! - `arp-sweep`: one Ethernet address asking ARP for many addresses (what nmap does
//!   on its own link); an ARP session's `ip.dst` is the address asked about.

use std::net::IpAddr;

use tyto_packet::MacAddr;
use tyto_schema::{SessionRecord, Severity};

use crate::window::{key, Span, Windows};
use crate::{proto_name, time_clause, AlertText, Context, NS};

/// Keys (source and target pairs, source and port) held at once before idle ones go.
const MAX_KEYS: usize = 200_000;

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Key {
    Vertical {
        src: IpAddr,
        dst: IpAddr,
        proto: u8,
    },
    Horizontal {
        src: IpAddr,
        proto: u8,
        port: u16,
    },
    /// (host, port) pairs probed by one source; its hosts and its ports apart.
    Sweep {
        src: IpAddr,
        proto: u8,
    },
    SweepHosts {
        src: IpAddr,
        proto: u8,
    },
    SweepPorts {
        src: IpAddr,
        proto: u8,
    },
    Arp {
        mac: MacAddr,
    },
}

pub(crate) struct Scans {
    windows: Windows<Key>,
}

impl Default for Scans {
    fn default() -> Self {
        Scans { windows: Windows::new(MAX_KEYS) }
    }
}

impl Scans {
    pub fn session(&mut self, rec: &SessionRecord, ctx: &mut Context) {
        if rec.segment > 1 {
            return;
        }
        let window_ns = ctx.cfg.scan_window_s as i64 * NS;
        let t = rec.start_ns;
        if rec.ethertype == tyto_packet::ethertype::ARP {
            let Some(asked) = rec.dst_ip else { return };
            let cap = ctx.cfg.horizontal_scan_hosts as usize;
            // The first frame's sender asked; later senders answered (one host may
            // answer for many addresses: a router, a multi-homed server).
            if let Some(mac) = rec.mac_src.first() {
                let k = Key::Arp { mac: *mac };
                let Span { n, first_ns, last_ns } = self.windows.add(k, key(asked), t, window_ns, cap);
                if n >= cap && ctx.fresh(("arp-sweep", mac.0), t) {
                    let secs = (last_ns - first_ns) as f64 / 1e9;
                    AlertText {
                        detector: "arp-sweep".into(),
                        severity: Severity::Medium,
                        source: mac.to_string(),
                        targets: vec!["arp".into()],
                        message: format!(
                            "{mac} asked ARP for {n} addresses in {secs:.0} s (threshold {cap} in {} s)",
                            ctx.cfg.scan_window_s
                        ),
                        expression: format!(
                            "protocols == arp && mac.src == {mac} && {}",
                            time_clause(first_ns, last_ns)
                        ),
                        first_ns,
                        last_ns,
                    }
                    .raise(rec, ctx.out);
                }
            }
            return;
        }
        let (Some(src), Some(dst)) = (rec.src_ip, rec.dst_ip) else { return };
        if !is_probe(rec) {
            return;
        }
        let (src, dst) = (src.to_ip(), dst.to_ip());
        if rec.ip_protocol == 6 || rec.ip_protocol == 17 {
            let cap = ctx.cfg.vertical_scan_ports as usize;
            let k = Key::Vertical { src, dst, proto: rec.ip_protocol };
            let span = self.windows.add(k, rec.dst_port as u64, t, window_ns, cap);
            if span.n >= cap {
                raise(ctx, k, rec, span);
            }
        }
        let port = if matches!(rec.ip_protocol, 6 | 17) { rec.dst_port } else { 0 };
        let cap = ctx.cfg.horizontal_scan_hosts as usize;
        let k = Key::Horizontal { src, proto: rec.ip_protocol, port };
        let span = self.windows.add(k, key(dst), t, window_ns, cap);
        if span.n >= cap {
            raise(ctx, k, rec, span);
        }
        if matches!(rec.ip_protocol, 6 | 17) {
            self.sweep(src, dst, rec, ctx);
        }
    }

    /// Probes to many (host, port) pairs of many hosts over a few ports.
    fn sweep(&mut self, src: IpAddr, dst: IpAddr, rec: &SessionRecord, ctx: &mut Context) {
        let cfg = ctx.cfg;
        let (t, window_ns, proto) = (rec.start_ns, cfg.scan_window_s as i64 * NS, rec.ip_protocol);
        let max_ports = cfg.sweep_max_ports as usize;
        let ports = self.windows.add(Key::SweepPorts { src, proto }, rec.dst_port as u64, t, window_ns, max_ports + 1);
        let hosts = self.windows.add(Key::SweepHosts { src, proto }, key(dst), t, window_ns, cfg.sweep_hosts as usize);
        let k = Key::Sweep { src, proto };
        let span = self.windows.add(k, key((dst, rec.dst_port)), t, window_ns, cfg.sweep_pairs as usize);
        let few_ports = (2..=max_ports).contains(&ports.n);
        if !few_ports || hosts.n < cfg.sweep_hosts as usize || span.n < cfg.sweep_pairs as usize {
            return;
        }
        if !ctx.fresh(("scan", k), t) {
            return;
        }
        let mut list: Vec<u16> =
            self.windows.targets(&Key::SweepPorts { src, proto }).iter().map(|p| *p as u16).collect();
        list.sort_unstable();
        let Span { n, first_ns, last_ns } = span;
        let secs = (last_ns - first_ns).max(0) as f64 / 1e9;
        let name = proto_name(proto);
        let joined = list.iter().map(u16::to_string).collect::<Vec<_>>().join(", ");
        AlertText {
            detector: "horizontal-scan".into(),
            severity: Severity::Medium,
            source: src.to_string(),
            targets: list.iter().map(|p| format!("{name} port {p}")).collect(),
            message: format!(
                "{src} probed {n} (host, port) pairs, {} hosts on {name} ports {joined}, in {secs:.0} s without exchanging data (threshold {} pairs of {} hosts on at most {} ports in {} s)",
                hosts.n, cfg.sweep_pairs, cfg.sweep_hosts, cfg.sweep_max_ports, cfg.scan_window_s
            ),
            expression: format!(
                "ip.src == {src} && ip.protocol == {name} && port.dst == [{}]{} && {}",
                list.iter().map(u16::to_string).collect::<Vec<_>>().join(","),
                probe_clause(proto),
                time_clause(first_ns, last_ns)
            ),
            first_ns,
            last_ns,
        }
        .raise(rec, ctx.out);
    }
}

fn raise(ctx: &mut Context, k: Key, rec: &SessionRecord, span: Span) {
    if !ctx.fresh(("scan", k), rec.start_ns) {
        return;
    }
    let Span { n, first_ns, last_ns } = span;
    let secs = (last_ns - first_ns).max(0) as f64 / 1e9;
    let proto = proto_name(rec.ip_protocol);
    let when = time_clause(first_ns, last_ns);
    let probes = probe_clause(rec.ip_protocol);
    let cfg = ctx.cfg;
    let text = match k {
        Key::Vertical { src, dst, .. } => AlertText {
            detector: "vertical-scan".into(),
            severity: Severity::Medium,
            source: src.to_string(),
            targets: vec![dst.to_string()],
            message: format!(
                "{src} probed {n} {proto} ports of {dst} in {secs:.0} s without exchanging data (threshold {} in {} s)",
                cfg.vertical_scan_ports, cfg.scan_window_s
            ),
            expression: format!("ip.src == {src} && ip.dst == {dst} && ip.protocol == {proto}{probes} && {when}"),
            first_ns,
            last_ns,
        },
        Key::Horizontal { src, port, .. } => {
            let ported = matches!(rec.ip_protocol, 6 | 17);
            let what = if ported { format!("{proto} port {port}") } else { proto.to_string() };
            let port_clause = if ported { format!(" && port.dst == {port}") } else { String::new() };
            AlertText {
                detector: "horizontal-scan".into(),
                severity: Severity::Medium,
                source: src.to_string(),
                targets: vec![what.clone()],
                message: format!(
                    "{src} probed {n} hosts on {what} in {secs:.0} s without exchanging data (threshold {} in {} s)",
                    cfg.horizontal_scan_hosts, cfg.scan_window_s
                ),
                expression: format!("ip.src == {src} && ip.protocol == {proto}{port_clause}{probes} && {when}"),
                first_ns,
                last_ns,
            }
        }
        Key::Arp { .. } | Key::Sweep { .. } | Key::SweepHosts { .. } | Key::SweepPorts { .. } => return,
    };
    text.raise(rec, ctx.out);
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

#[cfg(test)]
mod tests {
    use crate::testing::probe;
    use crate::{DetectConfig, Detectors};

    #[test]
    fn many_ports_of_one_host_make_one_vertical_alert() {
        let mut d = Detectors::new(DetectConfig::default()).unwrap();
        let mut alerts = Vec::new();
        for p in 1..=1000u16 {
            alerts.extend(d.session(&probe([10, 0, 0, 2], [10, 0, 0, 1], p, 100 + p as i64 / 100)));
        }
        assert_eq!(alerts.len(), 1, "deduplicated: {alerts:?}");
        let a = &alerts[0];
        assert_eq!((a.detector.as_str(), a.source.as_str()), ("vertical-scan", "10.0.0.2"));
        assert_eq!(a.targets, ["10.0.0.1"]);
        assert!(a.message.contains("probed 50 tcp ports of 10.0.0.1"), "{}", a.message);
        assert!(a.expression.starts_with("ip.src == 10.0.0.2") && a.expression.contains("databytes == 0"));
        assert!(tyto_query::compile(&a.expression, 0).is_ok(), "{}", a.expression);
    }

    #[test]
    fn sweeps_and_slow_or_talkative_traffic() {
        let mut d = Detectors::new(DetectConfig::default()).unwrap();
        let mut alerts = Vec::new();
        for h in 1..=40u8 {
            alerts.extend(d.session(&probe([10, 0, 0, 2], [10, 0, 1, h], 22, 100)));
        }
        assert_eq!(alerts.len(), 1);
        assert_eq!(alerts[0].detector, "horizontal-scan");
        assert_eq!(alerts[0].targets, ["tcp port 22"]);
        // The same number of ports, but one a minute: never 50 in a window.
        let mut d = Detectors::new(DetectConfig::default()).unwrap();
        for p in 1..=200u16 {
            assert!(d.session(&probe([10, 0, 0, 3], [10, 0, 0, 1], p, p as i64 * 61)).is_empty());
        }
        // Sessions that carried data are not probes: a resolver asking 100 servers.
        let mut d = Detectors::new(DetectConfig::default()).unwrap();
        for h in 1..=100u8 {
            let mut s = probe([10, 0, 0, 53], [192, 0, 2, h], 53, 100);
            s.ip_protocol = 17;
            s.src.databytes = 40;
            s.dst.packets = 1;
            s.dst.databytes = 120;
            assert!(d.session(&s).is_empty());
        }
    }

    /// A connect sweep of 21 hosts on three administrative ports, 63 probes in 10 ms:
    /// below the per-port threshold on each, one alert for the sweep. Talkers to
    /// many ports of many hosts (P2P peers that never answer) are not a few-port sweep.
    #[test]
    fn a_sweep_over_a_few_ports_is_a_scan() {
        let mut d = Detectors::new(DetectConfig::default()).unwrap();
        let mut alerts = Vec::new();
        for h in 1..=21u8 {
            for port in [22, 3389, 5985] {
                let mut s = probe([10, 0, 0, 2], [10, 0, 1, h], port, 100);
                s.start_ns += h as i64 * 150_000;
                alerts.extend(d.session(&s));
            }
        }
        assert_eq!(alerts.len(), 1, "{alerts:?}");
        let a = &alerts[0];
        assert_eq!((a.detector.as_str(), a.source.as_str()), ("horizontal-scan", "10.0.0.2"));
        assert_eq!(a.targets, ["tcp port 22", "tcp port 3389", "tcp port 5985"]);
        assert!(a.message.contains("probed 40 (host, port) pairs, "), "{}", a.message);
        assert!(a.expression.contains("port.dst == [22,3389,5985]"), "{}", a.expression);
        assert!(tyto_query::compile(&a.expression, 0).is_ok(), "{}", a.expression);

        // Unanswered peers on ports of their own: no few ports to sweep.
        let mut d = Detectors::new(DetectConfig::default()).unwrap();
        for h in 1..=100u8 {
            let s = probe([10, 0, 0, 3], [192, 0, 2, h], 20_000 + h as u16 * 7, 100);
            assert!(d.session(&s).is_empty());
        }
        // Three hosts on many ports each stay a matter for the vertical detector.
        let mut d = Detectors::new(DetectConfig::default()).unwrap();
        for h in 1..=3u8 {
            for port in [22, 80, 443, 3389, 5985, 8080] {
                assert!(d.session(&probe([10, 0, 0, 4], [10, 0, 1, h], port, 100)).is_empty());
            }
        }
    }

    #[test]
    fn an_arp_sweep_is_told_by_the_asking_address() {
        let mut d = Detectors::new(DetectConfig::default()).unwrap();
        let scanner = tyto_packet::MacAddr([2, 0, 0, 0, 0, 9]);
        let mut alerts = Vec::new();
        for h in 1..=40u8 {
            let mut s = probe([10, 0, 0, 9], [10, 0, 0, h], 0, 100);
            s.ip_protocol = 0;
            s.ethertype = tyto_packet::ethertype::ARP;
            // The host that answers for all of them is in every session too.
            s.mac_src = vec![scanner, tyto_packet::MacAddr([2, 0, 0, 0, 1, 1])];
            alerts.extend(d.session(&s));
        }
        assert_eq!(alerts.len(), 1, "{alerts:?}");
        assert_eq!((alerts[0].detector.as_str(), alerts[0].source.as_str()), ("arp-sweep", "02:00:00:00:00:09"));
        assert!(tyto_query::compile(&alerts[0].expression, 0).is_ok(), "{}", alerts[0].expression);
    }
}
