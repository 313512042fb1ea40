//! `session-spike`: a source (or the whole network) starting far more sessions in
//! one bucket of packet time than its own baseline. The baseline is robust: the
//! median and the median absolute deviation (MAD) of the previous `spike_history`
//! buckets, empty ones included, so one earlier burst does not raise it. A bucket
//! alerts when its count reaches
//! `max(spike_min_sessions, median + spike_mads × max(1.4826 × MAD, 1))`,
//! and only once the source has `spike_min_history` buckets of history.
//!
//! Rows come out when sessions end, not in the order they began: a late row still
//! counts in its own bucket, as long as that bucket is within the history.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;

use tyto_schema::time::format_rfc3339;
use tyto_schema::{SessionRecord, Severity};

use crate::{AlertText, Context, NS};

const MAX_SOURCES: usize = 50_000;

/// Sessions per bucket of one source; `counts.back()` is bucket `top`.
struct Series {
    first_bucket: i64,
    top: i64,
    counts: VecDeque<u32>,
    /// The threshold worked out for one bucket, kept while that bucket fills.
    cached: Option<(i64, u32)>,
}

impl Series {
    fn new(b: i64) -> Series {
        Series { first_bucket: b, top: b, counts: VecDeque::from([0]), cached: None }
    }

    /// Counts one session in bucket `b`; returns the bucket's count, or None when
    /// `b` is older than the history kept.
    fn add(&mut self, b: i64, keep: usize) -> Option<u32> {
        if b > self.top {
            let gap = (b - self.top).min(keep as i64);
            for _ in 0..gap {
                self.counts.push_back(0);
            }
            while self.counts.len() > keep {
                self.counts.pop_front();
            }
            self.top = b;
        }
        let back = (self.top - b) as usize;
        if b < self.first_bucket || back >= self.counts.len() {
            return None;
        }
        let i = self.counts.len() - 1 - back;
        self.counts[i] = self.counts[i].saturating_add(1);
        Some(self.counts[i])
    }

    /// The buckets before `b` (at most `history`), empty ones included.
    fn baseline(&self, b: i64, history: usize) -> Vec<u32> {
        let back = (self.top - b) as usize;
        let end = self.counts.len() - 1 - back;
        self.counts.range(end.saturating_sub(history)..end).copied().collect()
    }
}

/// (median, MAD) of the counts.
fn median_mad(counts: &[u32]) -> (f64, f64) {
    crate::median_mad(counts.iter().map(|c| *c as f64).collect())
}

#[derive(Default)]
pub(crate) struct Spikes {
    per_source: HashMap<IpAddr, Series>,
    total: Option<Series>,
}

impl Spikes {
    pub fn session(&mut self, rec: &SessionRecord, ctx: &mut Context) {
        if rec.segment > 1 {
            return;
        }
        let cfg = ctx.cfg;
        let bucket_ns = cfg.spike_bucket_s as i64 * NS;
        let b = rec.start_ns.div_euclid(bucket_ns);
        let keep = cfg.spike_history as usize + 1;
        let total = self.total.get_or_insert_with(|| Series::new(b));
        check(total, None, b, keep, cfg.spike_total_min_sessions, rec, ctx);
        let Some(src) = rec.src_ip.map(|a| a.to_ip()) else { return };
        if !self.per_source.contains_key(&src) && self.per_source.len() >= MAX_SOURCES {
            self.per_source.retain(|_, s| s.top >= b - keep as i64);
            if self.per_source.len() >= MAX_SOURCES {
                return;
            }
        }
        let series = self.per_source.entry(src).or_insert_with(|| Series::new(b));
        check(series, Some(src), b, keep, cfg.spike_min_sessions, rec, ctx);
    }
}

fn check(s: &mut Series, src: Option<IpAddr>, b: i64, keep: usize, min: u32, rec: &SessionRecord, ctx: &mut Context) {
    let cfg = ctx.cfg;
    let Some(n) = s.add(b, keep) else { return };
    if n < min || b - s.first_bucket < cfg.spike_min_history as i64 {
        return;
    }
    let history = cfg.spike_history as usize;
    let threshold = match s.cached {
        Some((at, th)) if at == b => th,
        _ => {
            let (m, mad) = median_mad(&s.baseline(b, history));
            let th = (m + cfg.spike_mads * (1.4826 * mad).max(1.0)).ceil().max(min as f64).min(u32::MAX as f64) as u32;
            s.cached = Some((b, th));
            th
        }
    };
    // One alert per source per realert period, however many buckets cross it.
    if n < threshold || !ctx.fresh(("spike", src), rec.start_ns) {
        return;
    }
    let baseline = s.baseline(b, history);
    let (m, mad) = median_mad(&baseline);
    let bucket_ns = cfg.spike_bucket_s as i64 * NS;
    let (from, to) = (b * bucket_ns, (b + 1) * bucket_ns);
    let who = src.map(|a| a.to_string()).unwrap_or_else(|| "all sources".into());
    AlertText {
        detector: "session-spike".into(),
        severity: Severity::Medium,
        source: src.map(|a| a.to_string()).unwrap_or_else(|| "*".into()),
        targets: Vec::new(),
        message: format!(
            "{who} started {n} sessions in the {} s from {}, against a baseline of {m:.0} (median of the previous {} buckets, MAD {mad:.0}; threshold {threshold})",
            cfg.spike_bucket_s,
            format_rfc3339(from),
            baseline.len(),
        ),
        expression: format!(
            "{}starttime >= {} && starttime < {}",
            src.map(|a| format!("ip.src == {a} && ")).unwrap_or_default(),
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

    fn sessions(d: &mut Detectors, src: u8, minute: i64, n: u32) -> Vec<tyto_schema::AlertRecord> {
        let mut out = Vec::new();
        for i in 0..n {
            out.extend(d.session(&talk([10, 0, 0, src], [192, 0, 2, (i % 200) as u8], 443, minute * 60 + 1)));
        }
        // The same pairs each minute on the second are beacons too: only spikes here.
        out.retain(|a| a.detector == "session-spike");
        out
    }

    #[test]
    fn a_burst_far_above_the_baseline_alerts_and_a_busy_steady_source_does_not() {
        let cfg = DetectConfig { spike_total_min_sessions: 100_000, ..DetectConfig::default() };
        let mut d = Detectors::new(cfg).unwrap();
        // A busy but steady source (400 a minute) and a quiet one (20 a minute).
        for minute in 0..30 {
            assert!(sessions(&mut d, 1, minute, 400 + (minute % 3) as u32 * 20).is_empty(), "steady, minute {minute}");
            assert!(sessions(&mut d, 2, minute, 20).is_empty());
        }
        let alerts = sessions(&mut d, 2, 30, 600);
        assert_eq!(alerts.len(), 1, "{alerts:?}");
        let a = &alerts[0];
        assert_eq!((a.detector.as_str(), a.source.as_str()), ("session-spike", "10.0.0.2"));
        assert!(a.message.contains("against a baseline of 20"), "{}", a.message);
        assert!(tyto_query::compile(&a.expression, 0).is_ok(), "{}", a.expression);
        // Without history there is no baseline to be far above.
        let mut d = Detectors::new(DetectConfig::default()).unwrap();
        assert!(sessions(&mut d, 3, 0, 2000).is_empty());
    }

    #[test]
    fn rows_that_arrive_late_count_in_their_own_bucket() {
        let mut d = Detectors::new(DetectConfig::default()).unwrap();
        for minute in 0..15 {
            sessions(&mut d, 4, minute, 5);
        }
        // Minute 16 is seen first, then the rows of minute 15's burst arrive.
        sessions(&mut d, 4, 16, 5);
        let alerts = sessions(&mut d, 4, 15, 500);
        assert_eq!(alerts.len(), 1);
        assert!(alerts[0].expression.contains("00:15:00"), "{}", alerts[0].expression);
    }
}
