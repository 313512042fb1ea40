//! `beacon`: one client opening sessions to one destination at a regular period —
//! what implants calling home look like. The destination is the name the client
//! asked for (TLS or QUIC server name, HTTP Host) or else the address and port.
//! A pair is a beacon when it has called at least `beacon_min_calls` times, the
//! period (the median gap between calls) is at least `beacon_min_period_s`, the gaps
//! spread little around it (the 10th to 90th percentile within `beacon_max_jitter`
//! of the period), and the calls are alike in size (their bytes' 10th to 90th
//! percentile within half their median). Services periodic by design (NTP, DNS,
//! DHCP, SSDP) and UDP without a name (keep-alives) are left out. One alert per
//! pair while it keeps calling.
//!
//! Bounded: the last `MAX_CALLS` calls per pair, at most `MAX_PAIRS` pairs; past
//! that, pairs silent for longer than `MAX_PERIOD_S` go, then the oldest half.

use std::collections::HashMap;
use std::net::IpAddr;

use tyto_schema::{SessionRecord, Severity};

use crate::window::key;
use crate::{time_clause, AlertText, Context, NS};

const MAX_PAIRS: usize = 50_000;
const MAX_CALLS: usize = 32;
/// Longer periods than a day are not told apart from ordinary returns.
const MAX_PERIOD_S: i64 = 86_400;
/// Service chatter that is periodic by design.
const PERIODIC_SERVICES: &[&str] = &["ntp", "dns", "mdns", "llmnr", "nbns", "dhcp", "dhcpv6", "ssdp"];

enum Destination {
    Name(String),
    Addr(IpAddr, u16),
}

/// One pair's recent calls, in order of start time.
struct Calls {
    destination: Destination,
    /// (start time, bytes both ways).
    calls: Vec<(i64, u64)>,
    last_ns: i64,
    alerted: bool,
}

#[derive(Default)]
pub(crate) struct Beacons {
    /// By a hash of (client, destination): a lookup costs no allocation.
    pairs: HashMap<u64, Calls>,
}

/// The value at fraction `q` of sorted `v` (nearest rank).
fn quantile<T: Copy>(v: &[T], q: f64) -> T {
    v[((v.len() - 1) as f64 * q).round() as usize]
}

impl Beacons {
    /// Takes one session in; true when it is one of a beacon's calls (its pair was
    /// found regular, by this call or an earlier one).
    pub fn session(&mut self, rec: &SessionRecord, ctx: &mut Context) -> bool {
        let (Some(src), Some(dst)) = (rec.src_ip, rec.dst_ip) else { return false };
        if rec.segment > 1
            || !matches!(rec.ip_protocol, 6 | 17)
            || rec.protocols.iter().any(|p| PERIODIC_SERVICES.contains(&p.as_str()))
        {
            return false;
        }
        let name = ["host.tls", "host.quic", "host.http"].iter().find_map(|f| rec.extra.texts(f).first());
        let client = src.to_ip();
        // Nameless datagrams at a steady period are what keep-alives are (NAT
        // bindings, voice and game servers' heartbeats); an implant's call opens a
        // connection, or names where it goes.
        if rec.ip_protocol == 17 && name.is_none() {
            return false;
        }
        let pair = match name {
            Some(n) => key((client, n)),
            None => key((client, dst.to_ip(), rec.dst_port)),
        };
        let t = rec.start_ns;
        if self.pairs.len() >= MAX_PAIRS {
            self.pairs.retain(|_, c| c.last_ns >= t - MAX_PERIOD_S * NS);
            if self.pairs.len() >= MAX_PAIRS {
                let mut last: Vec<i64> = self.pairs.values().map(|c| c.last_ns).collect();
                let cut = *last.select_nth_unstable(MAX_PAIRS / 2).1;
                self.pairs.retain(|_, c| c.last_ns > cut);
            }
        }
        let c = self.pairs.entry(pair).or_insert_with(|| Calls {
            destination: match name {
                Some(n) => Destination::Name(n.to_string()),
                None => Destination::Addr(dst.to_ip(), rec.dst_port),
            },
            calls: Vec::new(),
            last_ns: 0,
            alerted: false,
        });
        // Rows come as sessions end: keep the calls in order of their start.
        let at = c.calls.partition_point(|(s, _)| *s <= t);
        c.calls.insert(at, (t, rec.src.bytes + rec.dst.bytes));
        if c.calls.len() > MAX_CALLS {
            c.calls.remove(0);
        }
        c.last_ns = c.last_ns.max(t);
        if c.alerted || c.calls.len() < ctx.cfg.beacon_min_calls as usize {
            return c.alerted;
        }
        let Some(found) = regular(&c.calls, ctx.cfg) else { return false };
        c.alerted = true;
        let (first_ns, last_ns) = (c.calls[0].0, c.calls[c.calls.len() - 1].0);
        let (target, clause) = match &c.destination {
            Destination::Name(n) => (n.clone(), format!("host == {n}")),
            Destination::Addr(a, p) => (format!("{a}:{p}"), format!("ip.dst == {a} && port.dst == {p}")),
        };
        AlertText {
            detector: "beacon".into(),
            severity: Severity::High,
            source: client.to_string(),
            targets: vec![target.clone()],
            message: format!(
                "{client} called {target} {} times every {:.0} s (jitter {:.0}%), {} bytes a call (±{:.0}%)",
                found.calls,
                found.period_s,
                found.jitter * 100.0,
                found.bytes,
                found.size_spread * 50.0
            ),
            expression: format!("ip.src == {client} && {clause} && {}", time_clause(first_ns, last_ns)),
            first_ns,
            last_ns,
        }
        .raise(rec, ctx.out);
        true
    }
}

struct Regular {
    calls: usize,
    period_s: f64,
    jitter: f64,
    bytes: u64,
    size_spread: f64,
}

/// Whether calls in start order come at a regular period with alike sizes.
fn regular(calls: &[(i64, u64)], cfg: &crate::DetectConfig) -> Option<Regular> {
    let mut gaps: Vec<i64> = calls.windows(2).map(|w| w[1].0 - w[0].0).collect();
    gaps.sort_unstable();
    let period = quantile(&gaps, 0.5);
    if period < cfg.beacon_min_period_s as i64 * NS || period > MAX_PERIOD_S * NS {
        return None;
    }
    let jitter = (quantile(&gaps, 0.9) - quantile(&gaps, 0.1)) as f64 / period as f64;
    if jitter > cfg.beacon_max_jitter {
        return None;
    }
    let mut sizes: Vec<u64> = calls.iter().map(|c| c.1).collect();
    sizes.sort_unstable();
    let bytes = quantile(&sizes, 0.5).max(1);
    let size_spread = (quantile(&sizes, 0.9) - quantile(&sizes, 0.1)) as f64 / bytes as f64;
    (size_spread <= 0.5).then_some(Regular {
        calls: calls.len(),
        period_s: period as f64 / NS as f64,
        jitter,
        bytes,
        size_spread,
    })
}

#[cfg(test)]
mod tests {
    use crate::testing::talk;
    use crate::{DetectConfig, Detectors};
    use tyto_schema::SessionRecord;

    fn call(t_s: f64, host: Option<&str>, bytes: u64) -> SessionRecord {
        let mut s = talk([10, 0, 0, 5], [198, 51, 100, 7], 443, 0);
        s.start_ns = (t_s * 1e9) as i64;
        s.stop_ns = s.start_ns + 200_000_000;
        s.src.bytes = bytes / 3;
        s.dst.bytes = bytes - bytes / 3;
        if let Some(h) = host {
            s.extra.add_text("host.tls", h).unwrap();
        }
        s
    }

    /// A client calling home every 60 s ± 2 s for an hour: one alert; its expression
    /// finds the calls by name.
    #[test]
    fn a_regular_caller_is_a_beacon_once() {
        let mut d = Detectors::new(DetectConfig::default()).unwrap();
        let mut alerts = Vec::new();
        for i in 0..60 {
            let wobble = ((i * 7919) % 5) as f64 - 2.0;
            alerts.extend(d.session(&call(1000.0 + i as f64 * 60.0 + wobble, Some("c2.example.net"), 1500 + i % 7)));
        }
        assert_eq!(alerts.len(), 1, "{alerts:?}");
        let a = &alerts[0];
        assert_eq!((a.detector.as_str(), a.source.as_str()), ("beacon", "10.0.0.5"));
        assert_eq!(a.targets, ["c2.example.net"]);
        assert!((58..=62).any(|p| a.message.contains(&format!("12 times every {p} s"))), "{}", a.message);
        assert!(a.expression.contains("host == c2.example.net"), "{}", a.expression);
        assert!(tyto_query::compile(&a.expression, 0).is_ok(), "{}", a.expression);
    }

    /// Browsing: calls at irregular times, or regular ones whose sizes differ widely,
    /// or too few; and NTP, periodic by design.
    #[test]
    fn irregular_varied_or_few_calls_are_not() {
        let mut d = Detectors::new(DetectConfig::default()).unwrap();
        let mut t = 1000.0;
        for i in 0..60u64 {
            t += 5.0 + ((i * 7919) % 300) as f64;
            assert!(d.session(&call(t, Some("news.example.org"), 1500)).is_empty());
        }
        for i in 0..60u64 {
            let bytes = 1000 + (i * 7919) % 50_000;
            assert!(d.session(&call(1000.0 + i as f64 * 60.0, Some("cdn.example.org"), bytes)).is_empty());
        }
        for i in 0..10 {
            assert!(d.session(&call(1000.0 + i as f64 * 60.0, Some("few.example.org"), 1500)).is_empty());
        }
        for i in 0..60 {
            let mut s = call(1000.0 + i as f64 * 64.0, None, 90);
            s.ip_protocol = 17;
            s.protocols = vec!["udp".into(), "ntp".into()];
            assert!(d.session(&s).is_empty());
        }
    }
}
