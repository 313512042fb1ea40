//! Detectors over the stream of finished sessions, in packet time (so a capture of
//! last week's incident raises last week's alerts), and the sinks alerts are sent to.
//!
//! - [`scan`]: vertical and horizontal scans from probe sessions; ARP sweeps.
//! - [`lateral`]: an internal host talking to many internal hosts on administrative
//!   services, counted on pairs not seen before.
//! - [`spike`]: sessions per source (and overall) far above their own baseline
//!   (median and MAD of the previous buckets).
//! - [`latency`]: services answering far slower than their own baseline, for
//!   several buckets in a row.
//! - [`dns`]: long or high-entropy names, NXDOMAIN bursts, many subdomains of one
//!   domain, heavy TXT lookups.
//! - [`rules`]: any search expression, evaluated on each session as it is written.
//! - `intel`: sessions that matched a threat-intelligence indicator.
//!
//! Every detector keeps bounded state. An alert for the same detector and key is
//! raised again only after `realert_s`; past `max_alerts_per_minute` (of packet time)
//! alerts are counted as suppressed instead of raised.

pub mod beacon;
pub mod dns;
mod intel;
pub mod latency;
pub mod lateral;
pub mod rules;
pub mod scan;
pub mod sinks;
pub mod spike;
mod window;

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash};

use serde::{Deserialize, Serialize};
use tyto_schema::{AlertRecord, SessionRecord, Severity};

pub use rules::Rule;
pub use sinks::{AlertSinks, SinkCounters, SinksConfig};

const NS: i64 = 1_000_000_000;

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        0.0
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// The median of the values and their median absolute deviation (MAD): the robust
/// baseline of the detectors that hold a figure against its own past.
pub(crate) fn median_mad(mut v: Vec<f64>) -> (f64, f64) {
    let m = median(&mut v);
    let mut dev: Vec<f64> = v.iter().map(|x| (x - m).abs()).collect();
    (m, median(&mut dev))
}

/// The detectors' settings: the `[detect]` section of the configuration file, where
/// each is documented with its default.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DetectConfig {
    /// Seconds before the same detector raises the same alert (same source…) again.
    pub realert_s: u32,
    /// Alerts raised per minute of packet time at most; the rest are counted.
    pub max_alerts_per_minute: u32,
    /// The networks that are "internal" (CIDRs), for lateral movement.
    pub internal_networks: Vec<String>,
    pub scan_window_s: u32,
    pub vertical_scan_ports: u32,
    pub horizontal_scan_hosts: u32,
    /// A sweep over a few ports: probes to this many (host, port) pairs…
    pub sweep_pairs: u32,
    /// …of at least this many hosts…
    pub sweep_hosts: u32,
    /// …on 2 to this many ports (more is a vertical scan's business).
    pub sweep_max_ports: u32,
    pub lateral_window_s: u32,
    pub lateral_hosts: u32,
    pub lateral_ports: Vec<u16>,
    pub lateral_learning_s: u32,
    pub spike_bucket_s: u32,
    pub spike_history: u32,
    pub spike_min_history: u32,
    pub spike_mads: f64,
    pub spike_min_sessions: u32,
    pub spike_total_min_sessions: u32,
    /// Service latency: buckets of this many seconds…
    pub latency_bucket_s: u32,
    /// …judged against the median and MAD of this many earlier ones…
    pub latency_history: u32,
    /// …once this many have been judged…
    pub latency_min_history: u32,
    pub latency_mads: f64,
    /// …a bucket being slow only above this many milliseconds…
    pub latency_min_ms: f64,
    /// …and this many slow buckets in a row raising the alert.
    pub latency_buckets: u32,
    pub dns_window_s: u32,
    pub dns_long_name: u32,
    pub dns_entropy_bits: f64,
    pub dns_odd_names: u32,
    pub dns_nxdomain: u32,
    pub dns_subdomains: u32,
    pub dns_txt: u32,
    /// Beacons: a client calling one destination at least this many times…
    pub beacon_min_calls: u32,
    /// …at a period of at least this many seconds…
    pub beacon_min_period_s: u32,
    /// …whose gaps spread (10th to 90th percentile) within this share of it.
    pub beacon_max_jitter: f64,
    pub rules: Vec<Rule>,
}

impl Default for DetectConfig {
    fn default() -> Self {
        DetectConfig {
            realert_s: 600,
            max_alerts_per_minute: 100,
            internal_networks: ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"].map(String::from).to_vec(),
            scan_window_s: 60,
            vertical_scan_ports: 50,
            horizontal_scan_hosts: 30,
            sweep_pairs: 40,
            sweep_hosts: 10,
            sweep_max_ports: 10,
            lateral_window_s: 3600,
            lateral_hosts: 10,
            lateral_ports: vec![22, 135, 139, 445, 3389, 5985, 5986],
            lateral_learning_s: 0,
            spike_bucket_s: 60,
            spike_history: 60,
            spike_min_history: 10,
            spike_mads: 10.0,
            spike_min_sessions: 300,
            spike_total_min_sessions: 3000,
            latency_bucket_s: 60,
            latency_history: 60,
            latency_min_history: 10,
            latency_mads: 10.0,
            latency_min_ms: 100.0,
            latency_buckets: 3,
            dns_window_s: 300,
            dns_long_name: 100,
            dns_entropy_bits: 3.8,
            dns_odd_names: 10,
            dns_nxdomain: 30,
            dns_subdomains: 150,
            dns_txt: 30,
            beacon_min_calls: 12,
            beacon_min_period_s: 10,
            beacon_max_jitter: 0.15,
            rules: Vec::new(),
        }
    }
}

impl DetectConfig {
    /// Checks the settings; the message names the setting that is wrong.
    pub fn check(&self) -> Result<(), String> {
        Detectors::new(self.clone()).map(|_| ())
    }
}

/// What every detector needs besides the session: the configuration, the internal
/// networks, and the record of alerts already raised.
pub(crate) struct Context<'a> {
    pub cfg: &'a DetectConfig,
    pub internal: &'a [(u128, u128)],
    dedup: &'a mut Dedup,
    pub out: &'a mut Vec<AlertRecord>,
}

impl Context<'_> {
    /// True (and remembered) when no alert for `key` was raised in the last
    /// `realert_s` seconds before `t_ns`: the caller then builds and pushes its alert.
    pub fn fresh(&mut self, key: impl Hash, t_ns: i64) -> bool {
        self.dedup.fresh(key, t_ns, self.cfg.realert_s as i64 * NS)
    }

    pub fn is_internal(&self, a: std::net::IpAddr) -> bool {
        let v = addr_u128(a);
        self.internal.iter().any(|(lo, hi)| (*lo..=*hi).contains(&v))
    }
}

/// When each (detector, key) last raised an alert. Bounded: past `MAX_KEYS` keys,
/// those older than the realert period are forgotten.
#[derive(Default)]
struct Dedup {
    last: HashMap<u64, i64>,
}

const MAX_DEDUP_KEYS: usize = 100_000;

impl Dedup {
    fn fresh(&mut self, key: impl Hash, t: i64, realert_ns: i64) -> bool {
        let k = fixed_hasher().hash_one(key);
        if self.last.get(&k).is_some_and(|at| (t - at).abs() < realert_ns) {
            return false;
        }
        if self.last.len() >= MAX_DEDUP_KEYS {
            self.last.retain(|_, at| t - *at < realert_ns);
            if self.last.len() >= MAX_DEDUP_KEYS {
                self.last.clear();
            }
        }
        self.last.insert(k, t);
        true
    }
}

/// Hashes with fixed seeds: the same keys hash the same on every run.
pub(crate) fn fixed_hasher() -> std::hash::BuildHasherDefault<std::collections::hash_map::DefaultHasher> {
    std::hash::BuildHasherDefault::default()
}

/// What the detectors say of one session row.
#[derive(Debug, Default)]
pub struct Judgement {
    pub alerts: Vec<AlertRecord>,
    /// One of a beacon's regular calls: the row is marked `periodic-flow`.
    pub periodic: bool,
}

/// The detection engine: feed it every session row as it is written.
pub struct Detectors {
    cfg: DetectConfig,
    internal: Vec<(u128, u128)>,
    scans: scan::Scans,
    lateral: lateral::Lateral,
    spikes: spike::Spikes,
    latency: latency::Latency,
    dns: dns::DnsWatch,
    beacons: beacon::Beacons,
    intel: intel::IntelHits,
    rules: rules::Rules,
    dedup: Dedup,
    minute: i64,
    in_minute: u32,
    suppressed: u64,
}

impl Detectors {
    /// Fails with a message naming the setting when the configuration is unusable.
    pub fn new(cfg: DetectConfig) -> Result<Detectors, String> {
        let positive = [
            ("realert_s", cfg.realert_s),
            ("max_alerts_per_minute", cfg.max_alerts_per_minute),
            ("scan_window_s", cfg.scan_window_s),
            ("lateral_window_s", cfg.lateral_window_s),
            ("spike_bucket_s", cfg.spike_bucket_s),
            ("latency_bucket_s", cfg.latency_bucket_s),
            ("latency_buckets", cfg.latency_buckets),
            ("dns_window_s", cfg.dns_window_s),
        ];
        for (name, v) in positive {
            if v == 0 {
                return Err(format!("{name} must be at least 1"));
            }
        }
        let thresholds = [
            ("vertical_scan_ports", cfg.vertical_scan_ports, 65_536),
            ("horizontal_scan_hosts", cfg.horizontal_scan_hosts, 1_000_000),
            ("sweep_pairs", cfg.sweep_pairs, 1_000_000),
            ("sweep_hosts", cfg.sweep_hosts, 1_000_000),
            ("sweep_max_ports", cfg.sweep_max_ports, 1_000),
            ("lateral_hosts", cfg.lateral_hosts, 100_000),
            ("spike_history", cfg.spike_history, 10_000),
            ("latency_history", cfg.latency_history, 10_000),
            ("spike_min_sessions", cfg.spike_min_sessions, u32::MAX),
            ("spike_total_min_sessions", cfg.spike_total_min_sessions, u32::MAX),
            ("dns_odd_names", cfg.dns_odd_names, 100_000),
            ("dns_nxdomain", cfg.dns_nxdomain, 100_000),
            ("dns_subdomains", cfg.dns_subdomains, 100_000),
            ("dns_txt", cfg.dns_txt, 100_000),
            ("beacon_min_calls", cfg.beacon_min_calls, 1_000),
        ];
        for (name, v, max) in thresholds {
            if v < 2 || v > max {
                return Err(format!("{name} must be between 2 and {max} (it is {v})"));
            }
        }
        if cfg.spike_min_history >= cfg.spike_history {
            return Err("spike_min_history must be less than spike_history".into());
        }
        if !(cfg.spike_mads.is_finite() && cfg.spike_mads > 0.0) {
            return Err("spike_mads must be a positive number".into());
        }
        if cfg.latency_min_history >= cfg.latency_history {
            return Err("latency_min_history must be less than latency_history".into());
        }
        if !(cfg.latency_mads.is_finite() && cfg.latency_mads > 0.0) {
            return Err("latency_mads must be a positive number".into());
        }
        if !(cfg.latency_min_ms.is_finite() && cfg.latency_min_ms >= 0.0) {
            return Err("latency_min_ms must be a number of milliseconds, 0 or more".into());
        }
        if !(cfg.dns_entropy_bits.is_finite() && cfg.dns_entropy_bits > 0.0) {
            return Err("dns_entropy_bits must be a positive number".into());
        }
        if !(cfg.beacon_max_jitter.is_finite() && (0.0..1.0).contains(&cfg.beacon_max_jitter)) {
            return Err("beacon_max_jitter must be at least 0 and below 1".into());
        }
        if cfg.beacon_min_period_s == 0 {
            return Err("beacon_min_period_s must be at least 1".into());
        }
        let mut internal = Vec::new();
        for net in &cfg.internal_networks {
            match tyto_query::parse_ip_value(net) {
                Ok(tyto_query::IpValue { range: Some(r), port: None }) => internal.push(r),
                Ok(_) => return Err(format!("internal_networks: '{net}' is not an address or CIDR")),
                Err(why) => return Err(format!("internal_networks: '{net}': {why}")),
            }
        }
        Ok(Detectors {
            scans: scan::Scans::default(),
            lateral: lateral::Lateral::default(),
            spikes: spike::Spikes::default(),
            latency: latency::Latency::default(),
            dns: dns::DnsWatch::default(),
            beacons: beacon::Beacons::default(),
            intel: intel::IntelHits,
            rules: rules::Rules::new(&cfg.rules)?,
            internal,
            cfg,
            dedup: Dedup::default(),
            minute: i64::MIN,
            in_minute: 0,
            suppressed: 0,
        })
    }

    /// Looks at one session row; returns the alerts it raises.
    pub fn session(&mut self, rec: &SessionRecord) -> Vec<AlertRecord> {
        self.judge(rec).alerts
    }

    /// Looks at one session row: the alerts it raises, and what the detectors
    /// found of the session itself.
    pub fn judge(&mut self, rec: &SessionRecord) -> Judgement {
        let mut out = Vec::new();
        let mut ctx = Context { cfg: &self.cfg, internal: &self.internal, dedup: &mut self.dedup, out: &mut out };
        self.scans.session(rec, &mut ctx);
        self.lateral.session(rec, &mut ctx);
        self.spikes.session(rec, &mut ctx);
        self.latency.session(rec, &mut ctx);
        self.dns.session(rec, &mut ctx);
        let periodic = self.beacons.session(rec, &mut ctx);
        self.intel.session(rec, &mut ctx);
        self.rules.session(rec, &mut ctx);
        out.retain(|a| {
            let minute = a.time_ns.div_euclid(60 * NS);
            if minute != self.minute {
                (self.minute, self.in_minute) = (minute, 0);
            }
            self.in_minute += 1;
            let keep = self.in_minute <= self.cfg.max_alerts_per_minute;
            self.suppressed += u64::from(!keep);
            keep
        });
        Judgement { alerts: out, periodic }
    }

    /// Alerts not raised because of `max_alerts_per_minute`.
    pub fn suppressed(&self) -> u64 {
        self.suppressed
    }
}

pub(crate) fn addr_u128(a: std::net::IpAddr) -> u128 {
    match a {
        std::net::IpAddr::V4(v4) => u128::from_be_bytes(v4.to_ipv6_mapped().octets()),
        std::net::IpAddr::V6(v6) => u128::from_be_bytes(v6.octets()),
    }
}

/// `starttime` bounds that take in every session from `first_ns` to `last_ns`
/// (whole seconds, outward).
pub(crate) fn time_clause(first_ns: i64, last_ns: i64) -> String {
    format!(
        "starttime >= {} && starttime <= {}",
        tyto_schema::time::format_rfc3339(first_ns - first_ns.rem_euclid(NS)),
        tyto_schema::time::format_rfc3339(last_ns + NS - last_ns.rem_euclid(NS))
    )
}

pub(crate) fn proto_name(p: u8) -> &'static str {
    tyto_packet::ipproto::name(p).unwrap_or("ip")
}

/// How an alert about one session names its ends: the client (its address, else
/// its Ethernet address), the server (`addr:port`, `[v6]:port`), the protocols
/// (` (tcp, tls)`), and the clause that keeps the client's sessions (` && ip.src == …`).
pub(crate) struct SessionEnds {
    pub client: String,
    pub server: String,
    pub protocols: String,
    pub client_clause: String,
}

impl SessionEnds {
    pub fn of(rec: &SessionRecord) -> SessionEnds {
        let src = rec.src_ip.map(|a| a.to_ip());
        let client = match (src, rec.mac_src.first()) {
            (Some(a), _) => a.to_string(),
            (None, Some(m)) => m.to_string(),
            (None, None) => String::new(),
        };
        let server = match rec.dst_ip.map(|a| a.to_ip()) {
            Some(std::net::IpAddr::V6(a)) if rec.dst_port != 0 => format!("[{a}]:{}", rec.dst_port),
            Some(a) if rec.dst_port != 0 => format!("{a}:{}", rec.dst_port),
            Some(a) => a.to_string(),
            None => String::new(),
        };
        let protocols =
            if rec.protocols.is_empty() { String::new() } else { format!(" ({})", rec.protocols.join(", ")) };
        let client_clause = src.map(|a| format!(" && ip.src == {a}")).unwrap_or_default();
        SessionEnds { client, server, protocols, client_clause }
    }
}

/// The parts every alert shares, filled from the session that crossed the line.
pub(crate) struct AlertText {
    pub detector: String,
    pub severity: Severity,
    pub source: String,
    pub targets: Vec<String>,
    pub message: String,
    pub expression: String,
    pub first_ns: i64,
    pub last_ns: i64,
}

impl AlertText {
    pub fn raise(self, rec: &SessionRecord, out: &mut Vec<AlertRecord>) {
        out.push(AlertRecord {
            time_ns: rec.start_ns,
            node: rec.node.clone(),
            detector: self.detector,
            severity: self.severity,
            source: self.source,
            targets: self.targets,
            message: self.message,
            expression: self.expression,
            first_ns: self.first_ns,
            last_ns: self.last_ns,
        });
    }
}

#[cfg(test)]
pub(crate) mod testing {
    use tyto_packet::Addr;
    use tyto_schema::SessionRecord;

    /// A TCP session of `src` to `dst:port` at `t_s` that carried no data.
    pub fn probe(src: [u8; 4], dst: [u8; 4], port: u16, t_s: i64) -> SessionRecord {
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

    /// The same with data both ways.
    pub fn talk(src: [u8; 4], dst: [u8; 4], port: u16, t_s: i64) -> SessionRecord {
        let mut s = probe(src, dst, port, t_s);
        s.src.packets = 5;
        s.src.databytes = 300;
        s.dst.packets = 5;
        s.dst.databytes = 900;
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_checked_by_name() {
        let bad = |f: fn(&mut DetectConfig)| {
            let mut c = DetectConfig::default();
            f(&mut c);
            Detectors::new(c).err().unwrap()
        };
        assert!(bad(|c| c.internal_networks.push("10.0.0.0/33".into())).contains("internal_networks"));
        assert!(bad(|c| c.lateral_hosts = 1).contains("lateral_hosts"));
        assert!(bad(|c| c.spike_min_history = 60).contains("spike_min_history"));
        assert!(bad(|c| c.rules.push(Rule {
            name: "x".into(),
            expression: "port.dst == ".into(),
            severity: "high".into()
        }))
        .contains("rule 'x'"));
        assert!(Detectors::new(DetectConfig::default()).is_ok());
    }

    #[test]
    fn alerts_past_the_minute_limit_are_counted_not_raised() {
        let cfg = DetectConfig {
            max_alerts_per_minute: 3,
            rules: vec![Rule { name: "any-ssh".into(), expression: "port.dst == 22".into(), severity: "low".into() }],
            ..DetectConfig::default()
        };
        let mut d = Detectors::new(cfg).unwrap();
        let mut n = 0;
        for h in 1..=10u8 {
            n += d.session(&testing::talk([10, 0, 0, h], [192, 0, 2, 1], 22, 100)).len();
        }
        assert_eq!((n, d.suppressed()), (3, 7));
        // The next minute starts afresh.
        assert_eq!(d.session(&testing::talk([10, 0, 0, 99], [192, 0, 2, 1], 22, 200)).len(), 1);
    }
}
