//! `service-latency`: a service (server address, port and protocol) answering far
//! slower than it usually does, for several buckets of packet time in a row. Each
//! bucket's 95th percentile of the response times its sessions carried
//! (`http.response-time`, `pgsql.response-time`…) is held against the median and MAD
//! of the previous `latency_history` buckets that had answers (the same robust
//! baseline as `session-spike`): a bucket is slow at
//! `max(latency_min_ms, median + latency_mads × max(1.4826 × MAD, median / 10))`, and
//! `latency_buckets` slow buckets in a row raise the alert, once the service has
//! `latency_min_history` buckets of history. Rows come late (when their sessions
//! end): a bucket is judged once the service has answers five buckets later, and
//! rows later than that are not counted. Live capture hands rows on every second;
//! an ingest with several workers hands each worker's rows on in batches, which can
//! be later than that (`--workers 1` keeps them in order).

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;

use tyto_schema::time::format_rfc3339;
use tyto_schema::{SessionRecord, Severity, Values};

use crate::{AlertText, Context, NS};

/// The response-time fields, by the protocol they time.
const TIMED: &[(&str, &str)] = &[
    ("http", "http.response-time"),
    ("dns", "dns.response-time"),
    ("pgsql", "pgsql.response-time"),
    ("mysql", "mysql.response-time"),
    ("tds", "tds.response-time"),
    ("redis", "redis.response-time"),
    ("mongodb", "mongodb.response-time"),
    ("memcache", "memcache.response-time"),
];
const MAX_SERVICES: usize = 20_000;
/// Answers kept per bucket for its percentile (the first ones).
const MAX_SAMPLES: usize = 4096;
/// A bucket needs this many answers for a percentile worth comparing.
const MIN_SAMPLES: usize = 5;

type Key = (IpAddr, u16, &'static str);

/// Buckets kept open for rows that come late (rows come when sessions end, and the
/// workers' rows interleave): a bucket is judged once the service has answers this
/// many buckets later.
const LATE_BUCKETS: i64 = 5;

struct Service {
    /// Answers of the buckets not judged yet, oldest first: (bucket, samples).
    open: VecDeque<(i64, Vec<i64>)>,
    /// Buckets up to this one are judged; later rows for them are dropped.
    judged_to: i64,
    /// 95th percentiles (µs) of the buckets judged, newest last.
    history: VecDeque<i64>,
    /// Buckets judged so far, and the slow ones in a row (with the first one's start).
    judged: u32,
    slow_run: u32,
    run_start: i64,
    last_judged: i64,
}

#[derive(Default)]
pub(crate) struct Latency {
    services: HashMap<Key, Service>,
}

fn percentile_95(v: &mut [i64]) -> i64 {
    v.sort_unstable();
    v[((v.len() - 1) as f64 * 0.95).round() as usize]
}

impl Latency {
    pub fn session(&mut self, rec: &SessionRecord, ctx: &mut Context) {
        let (Some(server), port) = (rec.dst_ip.map(|a| a.to_ip()), rec.dst_port) else { return };
        let bucket_ns = ctx.cfg.latency_bucket_s as i64 * NS;
        let b = rec.stop_ns.div_euclid(bucket_ns);
        for (kind, field) in TIMED {
            let Some(Values::Int(times)) = rec.extra.get(field) else { continue };
            let key = (server, port, *kind);
            if !self.services.contains_key(&key) && self.services.len() >= MAX_SERVICES {
                let stale = b - ctx.cfg.latency_history as i64;
                self.services.retain(|_, s| s.judged_to >= stale);
                if self.services.len() >= MAX_SERVICES {
                    continue;
                }
            }
            let s = self.services.entry(key).or_insert_with(|| Service {
                open: VecDeque::new(),
                judged_to: b - 1,
                history: VecDeque::new(),
                judged: 0,
                slow_run: 0,
                run_start: 0,
                last_judged: b - 1,
            });
            if b <= s.judged_to {
                continue;
            }
            let at = s.open.partition_point(|(ob, _)| *ob < b);
            if s.open.get(at).is_none_or(|(ob, _)| *ob != b) {
                s.open.insert(at, (b, Vec::new()));
            }
            let held: usize = s.open.iter().map(|(_, v)| v.len()).sum();
            let room = MAX_SAMPLES.saturating_sub(held);
            s.open[at].1.extend(times.iter().take(room));
            // Buckets far enough behind the newest are complete.
            while let Some(&(ob, _)) = s.open.front() {
                if ob > b - LATE_BUCKETS {
                    break;
                }
                let (ob, samples) = s.open.pop_front().unwrap_or_default();
                s.judged_to = ob;
                judge(s, key, ob, samples, bucket_ns, rec, ctx);
            }
        }
    }
}

/// Bucket `b` is complete: slow or not against the service's history, and the
/// alert when enough slow ones came in a row.
fn judge(
    s: &mut Service,
    key: Key,
    b: i64,
    mut samples: Vec<i64>,
    bucket_ns: i64,
    rec: &SessionRecord,
    ctx: &mut Context,
) {
    let cfg = ctx.cfg;
    // Buckets without (enough) answers between: a run of slow ones is broken.
    let follows = b == s.last_judged + 1;
    s.last_judged = b;
    if samples.len() < MIN_SAMPLES {
        s.slow_run = 0;
        return;
    }
    if !follows {
        s.slow_run = 0;
    }
    let p95 = percentile_95(&mut samples);
    let (m, mad) = crate::median_mad(s.history.iter().map(|v| *v as f64).collect());
    let threshold = (m + cfg.latency_mads * (1.4826 * mad).max(m / 10.0)).max(cfg.latency_min_ms * 1000.0);
    let known = s.judged >= cfg.latency_min_history;
    s.judged += 1;
    let slow = known && p95 as f64 > threshold;
    // Slow buckets stay out of the baseline, so a long slowdown does not become normal.
    if !slow {
        s.history.push_back(p95);
        while s.history.len() > cfg.latency_history as usize {
            s.history.pop_front();
        }
        s.slow_run = 0;
        return;
    }
    if s.slow_run == 0 {
        s.run_start = b * bucket_ns;
    }
    s.slow_run += 1;
    let (ip, port, kind) = key;
    if s.slow_run < cfg.latency_buckets || !ctx.fresh(("latency", key), rec.stop_ns) {
        return;
    }
    let (from, to) = (s.run_start, (b + 1) * bucket_ns);
    let ms = |us: f64| us / 1000.0;
    AlertText {
        detector: "service-latency".into(),
        severity: Severity::Medium,
        source: ip.to_string(),
        targets: vec![format!("{ip}:{port}")],
        message: format!(
            "{kind} service {ip}:{port} answered slowly for {} buckets of {} s from {}: 95th percentile {:.1} ms \
             against a baseline of {:.1} ms (median of the previous {} buckets, MAD {:.1} ms; threshold {:.1} ms)",
            s.slow_run,
            cfg.latency_bucket_s,
            format_rfc3339(from),
            ms(p95 as f64),
            ms(m),
            s.history.len(),
            ms(mad),
            ms(threshold),
        ),
        expression: format!(
            "ip.dst == {ip} && port.dst == {port} && {kind}.response-time > {:.3} && stoptime >= {} && stoptime < {}",
            ms(threshold),
            format_rfc3339(from),
            format_rfc3339(to)
        ),
        first_ns: from,
        last_ns: to - 1,
    }
    .raise(rec, ctx.out);
}

#[cfg(test)]
mod tests {
    use crate::testing::talk;
    use crate::{DetectConfig, Detectors};
    use tyto_schema::AlertRecord;

    /// Twenty requests to a PostgreSQL server in minute `minute`, answered in `ms`.
    fn minute_of_queries(d: &mut Detectors, minute: i64, ms: i64) -> Vec<AlertRecord> {
        let mut out = Vec::new();
        for i in 0..20 {
            let mut s = talk([10, 0, 0, 9], [10, 0, 1, 5], 5432, minute * 60 + 1 + i);
            s.extra.add_int("pgsql.response-time", ms * 1000 + i * 37).unwrap();
            out.extend(d.session(&s));
        }
        out.retain(|a| a.detector == "service-latency");
        out
    }

    #[test]
    fn a_service_slower_than_its_baseline_for_three_minutes_alerts_once() {
        let mut d = Detectors::new(DetectConfig::default()).unwrap();
        for minute in 0..30 {
            assert!(minute_of_queries(&mut d, minute, 20 + minute % 3).is_empty(), "steady, minute {minute}");
        }
        // Two slow minutes, then back: not enough.
        assert!(minute_of_queries(&mut d, 30, 900).is_empty());
        assert!(minute_of_queries(&mut d, 31, 900).is_empty());
        assert!(minute_of_queries(&mut d, 32, 21).is_empty());
        // Three slow minutes in a row (judged five minutes on, late rows waited for).
        let mut alerts = Vec::new();
        for minute in 33..45 {
            alerts.extend(minute_of_queries(&mut d, minute, 1500));
        }
        assert_eq!(alerts.len(), 1, "{alerts:?}");
        let a = &alerts[0];
        assert_eq!((a.detector.as_str(), a.source.as_str()), ("service-latency", "10.0.1.5"));
        assert!(a.message.contains("pgsql service 10.0.1.5:5432"), "{}", a.message);
        assert!(a.message.contains("baseline of 21."), "{}", a.message);
        assert!(tyto_query::compile(&a.expression, 0).is_ok(), "{}", a.expression);
        assert!(a.expression.contains("pgsql.response-time > "), "{}", a.expression);
    }

    #[test]
    fn slow_but_usual_services_and_new_services_do_not_alert() {
        let mut d = Detectors::new(DetectConfig::default()).unwrap();
        // Always slow is its normal; a new service has no history to be far above.
        for minute in 0..40 {
            assert!(minute_of_queries(&mut d, minute, 2000 + (minute % 5) * 100).is_empty(), "minute {minute}");
        }
        let mut d = Detectors::new(DetectConfig::default()).unwrap();
        for minute in 0..5 {
            assert!(minute_of_queries(&mut d, minute, 5000 * (minute + 1)).is_empty());
        }
    }
}
