//! `lateral-movement`: an internal host holding conversations (data both ways) with
//! many internal hosts on administrative services — SMB, RDP, WinRM, SSH, RPC —
//! that it had not talked to on that service before.
//!
//! Pairs (source, destination, service) seen are remembered (up to `MAX_PAIRS`;
//! past that no new pair is learnt, so alerts can only become more frequent, never
//! silently stop). During the first `lateral_learning_s` of packet time pairs are only
//! learnt: a sensor that starts on a network with jump hosts learns them first.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

use tyto_schema::{SessionRecord, Severity};

use crate::window::key;
use crate::{time_clause, AlertText, Context, NS};

const MAX_PAIRS: usize = 2_000_000;
const MAX_SOURCES: usize = 100_000;
/// Application protocols that are administrative whatever their port.
const ADMIN_PROTOCOLS: &[&str] = &["ssh", "smb", "rdp", "dcerpc", "winrm"];

/// New pairs of one source inside the window: destination → (time, port).
#[derive(Default)]
struct Recent {
    to: HashMap<IpAddr, (i64, u16)>,
}

#[derive(Default)]
pub(crate) struct Lateral {
    known: HashSet<u64>,
    recent: HashMap<IpAddr, Recent>,
    since_ns: Option<i64>,
}

fn is_admin(rec: &SessionRecord, ports: &[u16]) -> bool {
    ports.contains(&rec.dst_port) || rec.protocols.iter().any(|p| ADMIN_PROTOCOLS.contains(&p.as_str()))
}

impl Lateral {
    pub fn session(&mut self, rec: &SessionRecord, ctx: &mut Context) {
        let (Some(src), Some(dst)) = (rec.src_ip, rec.dst_ip) else { return };
        let (src, dst) = (src.to_ip(), dst.to_ip());
        let cfg = ctx.cfg;
        if rec.segment > 1
            || src == dst
            || rec.src.databytes == 0
            || rec.dst.databytes == 0
            || !is_admin(rec, &cfg.lateral_ports)
            || !ctx.is_internal(src)
            || !ctx.is_internal(dst)
        {
            return;
        }
        let t = rec.start_ns;
        let since = *self.since_ns.get_or_insert(t);
        let pair = key((src, dst, rec.dst_port));
        if self.known.contains(&pair) {
            return;
        }
        if self.known.len() < MAX_PAIRS {
            self.known.insert(pair);
        }
        // Rows come in the order sessions end, so a later row may have begun before
        // the first one seen: without a learning period nothing is held back.
        if cfg.lateral_learning_s > 0 && t < since + cfg.lateral_learning_s as i64 * NS {
            return;
        }
        let window_ns = cfg.lateral_window_s as i64 * NS;
        let cap = cfg.lateral_hosts as usize;
        if self.recent.len() >= MAX_SOURCES && !self.recent.contains_key(&src) {
            self.recent.retain(|_, r| r.to.values().any(|(at, _)| *at >= t - window_ns));
            if self.recent.len() >= MAX_SOURCES {
                self.recent.clear();
            }
        }
        let recent = self.recent.entry(src).or_default();
        recent.to.retain(|_, (at, _)| *at >= t - window_ns);
        if recent.to.len() < cap {
            recent.to.insert(dst, (t, rec.dst_port));
        }
        if recent.to.len() < cap || !ctx.fresh(("lateral", src), t) {
            return;
        }
        let mut targets: Vec<(IpAddr, (i64, u16))> = recent.to.iter().map(|(a, v)| (*a, *v)).collect();
        targets.sort();
        let first_ns = targets.iter().map(|(_, (at, _))| *at).min().unwrap_or(t);
        let last_ns = targets.iter().map(|(_, (at, _))| *at).max().unwrap_or(t);
        let mut by_port: Vec<(u16, usize)> = Vec::new();
        for (_, (_, port)) in &targets {
            match by_port.iter_mut().find(|(p, _)| p == port) {
                Some((_, n)) => *n += 1,
                None => by_port.push((*port, 1)),
            }
        }
        by_port.sort_by_key(|(p, n)| (std::cmp::Reverse(*n), *p));
        let ports = by_port.iter().map(|(p, n)| format!("port {p} ×{n}")).collect::<Vec<_>>().join(", ");
        let list = |v: &[String]| v.join(", ");
        let nets = list(&cfg.internal_networks);
        let admin_ports = list(&cfg.lateral_ports.iter().map(u16::to_string).collect::<Vec<_>>());
        let protos = list(&ADMIN_PROTOCOLS.iter().map(|p| p.to_string()).collect::<Vec<_>>());
        AlertText {
            detector: "lateral-movement".into(),
            severity: Severity::High,
            source: src.to_string(),
            targets: targets.iter().map(|(a, _)| a.to_string()).collect(),
            message: format!(
                "{src} held administrative sessions with {} internal hosts it had not reached before, in {:.0} s ({ports}; threshold {} in {} s)",
                targets.len(),
                (last_ns - first_ns) as f64 / 1e9,
                cfg.lateral_hosts,
                cfg.lateral_window_s
            ),
            expression: format!(
                "ip.src == {src} && ip.dst == [{nets}] && (port.dst == [{admin_ports}] || protocols == [{protos}]) && databytes.src > 0 && databytes.dst > 0 && {}",
                time_clause(first_ns, last_ns)
            ),
            first_ns,
            last_ns,
        }
        .raise(rec, ctx.out);
    }
}

#[cfg(test)]
mod tests {
    use crate::testing::{probe, talk};
    use crate::{DetectConfig, Detectors};

    #[test]
    fn many_new_internal_admin_peers_are_lateral_movement() {
        let mut d = Detectors::new(DetectConfig::default()).unwrap();
        let mut alerts = Vec::new();
        for h in 1..=12u8 {
            let port = if h % 3 == 0 { 3389 } else { 445 };
            alerts.extend(d.session(&talk([10, 1, 0, 5], [10, 1, 2, h], port, 100 + h as i64)));
        }
        assert_eq!(alerts.len(), 1, "{alerts:?}");
        let a = &alerts[0];
        assert_eq!((a.detector.as_str(), a.source.as_str()), ("lateral-movement", "10.1.0.5"));
        assert_eq!(a.targets.len(), 10);
        assert!(a.message.contains("port 445 ×7, port 3389 ×3"), "{}", a.message);
        assert!(tyto_query::compile(&a.expression, 0).is_ok(), "{}", a.expression);
    }

    #[test]
    fn rows_out_of_start_order_all_count() {
        // Written in the order the sessions ended: the first row began last.
        let mut d = Detectors::new(DetectConfig::default()).unwrap();
        let mut alerts = d.session(&talk([10, 1, 0, 5], [10, 1, 2, 1], 445, 200));
        for h in 2..=10u8 {
            alerts.extend(d.session(&talk([10, 1, 0, 5], [10, 1, 2, h], 445, 100 + h as i64)));
        }
        assert_eq!(alerts.len(), 1, "{alerts:?}");
    }

    #[test]
    fn known_pairs_outside_hosts_probes_and_other_services_are_not() {
        let cfg = DetectConfig { lateral_learning_s: 3600, ..DetectConfig::default() };
        let mut d = Detectors::new(cfg).unwrap();
        // Learnt in the first hour: the same pairs again later are known.
        for round in [0, 7200] {
            for h in 1..=20u8 {
                assert!(d.session(&talk([10, 1, 0, 7], [10, 1, 2, h], 22, 100 + round)).is_empty());
            }
        }
        let mut d = Detectors::new(DetectConfig::default()).unwrap();
        for h in 1..=20u8 {
            assert!(d.session(&talk([10, 1, 0, 5], [192, 0, 2, h], 445, 100)).is_empty(), "outside");
            assert!(d.session(&probe([10, 1, 0, 6], [10, 1, 2, h], 445, 100)).is_empty(), "no data");
            assert!(d.session(&talk([10, 1, 0, 8], [10, 1, 2, h], 80, 100)).is_empty(), "not admin");
        }
    }
}
