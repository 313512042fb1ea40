//! How a part of Tyto that counts (a live capture, an alert sink, a log output's
//! output) shows its counters, so that the viewer can serve them in `/api/stats` and
//! `/metrics` without knowing the part: each part says what its counters are, with
//! their meaning, and the viewer only formats them.

use serde_json::Value;

/// One metric family of the Prometheus exposition: its samples, one per labelled
/// instance (a reading thread, a worker, a sink…).
#[derive(Debug, Clone, PartialEq)]
pub struct Family {
    /// The full name (`tyto_capture_packets_total`).
    pub name: String,
    /// A gauge (a level now) rather than a counter (a total since start).
    pub gauge: bool,
    pub help: &'static str,
    pub samples: Vec<Sample>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// (label, value) pairs, in order.
    pub labels: Vec<(&'static str, String)>,
    pub value: u64,
}

/// A part's counters, read when the viewer is asked for them.
pub trait Metrics: Send + Sync {
    /// As `/api/stats` shows them.
    fn json(&self) -> Value;
    /// As `/metrics` exposes them.
    fn families(&self) -> Vec<Family>;
}

/// The name of a counter (`_total`) or a gauge with `prefix` and `key`.
pub fn metric_name(prefix: &str, key: &str, gauge: bool) -> String {
    if gauge {
        format!("{prefix}_{key}")
    } else {
        format!("{prefix}_{key}_total")
    }
}
