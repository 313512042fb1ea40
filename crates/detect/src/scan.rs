//! Scans. A *probe* is a session that exchanged no payload: a TCP session with no data
//! either way (SYN scans, connect scans, closed ports), a UDP datagram that got no
//! answer, an ICMP echo. Counting probes rather than sessions keeps busy clients
//! (resolvers, crawlers, P2P) out of it: they exchange data.
//! - `vertical-scan`: one source probing many distinct ports of one host in a window.
//! - `horizontal-scan`: one source probing many hosts on one port (or with ICMP echo).
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
    Vertical { src: IpAddr, dst: IpAddr, proto: u8 },
    Horizontal { src: IpAddr, proto: u8, port: u16 },
    Arp { mac: MacAddr },
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
        Key::Arp { .. } => return,
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
