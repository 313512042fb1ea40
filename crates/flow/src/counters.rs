//! The counters of a live capture, per reading thread and per worker, shared with
//! the viewer's Stats page and `/metrics` (apart from `live`, which fills them, so
//! that the pipeline's workers can publish theirs without naming the live module).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{json, Map, Value};
use tyto_schema::metrics::{metric_name, Family, Metrics, Sample};

use crate::worker::{Worker, WorkerStats};

/// Counters of one reading thread.
#[derive(Debug, Default)]
pub struct SourceCounters {
    pub interface: String,
    /// Packets and bytes read from the ring.
    pub packets: AtomicU64,
    pub bytes: AtomicU64,
    /// The kernel's count of packets that passed the capture filter, and of those it
    /// dropped because the ring was full.
    pub kernel_packets: AtomicU64,
    pub kernel_drops: AtomicU64,
    /// Packets dropped because a worker's queue was full.
    pub queue_drops: AtomicU64,
    /// Frames that could not be decoded (stored all the same, in a session of their
    /// own per link type: `protocols == undecoded`).
    pub decode_errors: AtomicU64,
    /// The last read error, if the source had one.
    pub last_error: Mutex<Option<String>>,
}

/// Counters of one worker.
#[derive(Debug, Default)]
pub struct WorkerCounters {
    pub packets: AtomicU64,
    pub bytes: AtomicU64,
    pub sessions_live: AtomicU64,
    pub sessions_written: AtomicU64,
    pub rows_written: AtomicU64,
    pub evicted: AtomicU64,
    pub pcap_write_errors: AtomicU64,
}

impl WorkerCounters {
    pub(crate) fn publish(&self, w: &Worker) {
        self.publish_final(&w.stats);
        self.sessions_live.store(w.live_sessions() as u64, Ordering::Relaxed);
    }

    pub(crate) fn publish_final(&self, s: &WorkerStats) {
        self.packets.store(s.packets, Ordering::Relaxed);
        self.bytes.store(s.bytes, Ordering::Relaxed);
        self.sessions_written.store(s.sessions_written, Ordering::Relaxed);
        self.rows_written.store(s.rows_written, Ordering::Relaxed);
        self.evicted.store(s.evicted, Ordering::Relaxed);
        self.pcap_write_errors.store(s.pcap_write_errors, Ordering::Relaxed);
        self.sessions_live.store(0, Ordering::Relaxed);
    }
}

/// Every counter of a live capture, read by the viewer's Stats page and `/metrics`.
#[derive(Debug)]
pub struct LiveCounters {
    pub node: String,
    /// When the capture started (ns since the epoch).
    pub started_ns: i64,
    pub sources: Vec<SourceCounters>,
    pub workers: Vec<WorkerCounters>,
}

impl LiveCounters {
    pub fn new(node: &str, interfaces: &[String], workers: usize) -> Arc<LiveCounters> {
        Arc::new(LiveCounters {
            node: node.to_string(),
            started_ns: tyto_schema::time::now_ns(),
            sources: interfaces
                .iter()
                .map(|i| SourceCounters { interface: i.clone(), ..SourceCounters::default() })
                .collect(),
            workers: (0..workers.max(1)).map(|_| WorkerCounters::default()).collect(),
        })
    }
}

/// Where a counter is kept.
type SourceCounter = fn(&SourceCounters) -> &AtomicU64;
type WorkerCounter = fn(&WorkerCounters) -> &AtomicU64;

/// Each counter of a reading thread once: its key (JSON, and the Prometheus name
/// `tyto_capture_KEY_total`), its meaning, where it is.
const SOURCE_COUNTERS: [(&str, &str, SourceCounter); 6] = [
    ("packets", "Packets read from the capture ring.", |s| &s.packets),
    ("bytes", "Bytes of packets read from the capture ring.", |s| &s.bytes),
    ("kernel_packets", "Packets that passed the capture filter, as the kernel counts them.", |s| &s.kernel_packets),
    ("kernel_drops", "Packets the kernel dropped because the ring was full.", |s| &s.kernel_drops),
    ("queue_drops", "Packets dropped because a worker's queue was full.", |s| &s.queue_drops),
    ("decode_errors", "Frames that could not be decoded.", |s| &s.decode_errors),
];

/// Each counter of a worker once: key (`tyto_worker_KEY`, `_total` for counters),
/// whether it is a gauge, meaning, where it is.
const WORKER_COUNTERS: [(&str, bool, &str, WorkerCounter); 7] = [
    ("packets", false, "Packets processed by the worker.", |w| &w.packets),
    ("bytes", false, "Bytes of packets processed by the worker.", |w| &w.bytes),
    ("sessions_live", true, "Sessions held open by the worker.", |w| &w.sessions_live),
    ("sessions_written", false, "Sessions written to the store.", |w| &w.sessions_written),
    ("rows_written", false, "Session rows written (long sessions span several).", |w| &w.rows_written),
    ("evicted", false, "Sessions written early because the session table was full.", |w| &w.evicted),
    ("pcap_write_errors", false, "Packets that could not be written to pcap files.", |w| &w.pcap_write_errors),
];

fn load(a: &AtomicU64) -> u64 {
    a.load(Ordering::Relaxed)
}

impl Metrics for LiveCounters {
    /// Per interface (summed over its reading threads), per thread and per worker.
    fn json(&self) -> Value {
        let mut interfaces: Vec<Map<String, Value>> = Vec::new();
        let mut threads = Vec::new();
        for (i, s) in self.sources.iter().enumerate() {
            let mut thread = Map::new();
            thread.insert("thread".into(), json!(i));
            thread.insert("interface".into(), json!(s.interface));
            let at = match interfaces.iter().position(|m| m["interface"] == s.interface.as_str()) {
                Some(at) => at,
                None => {
                    let mut m = Map::new();
                    m.insert("interface".into(), json!(s.interface));
                    interfaces.push(m);
                    interfaces.len() - 1
                }
            };
            for (key, _, counter) in SOURCE_COUNTERS {
                let v = load(counter(s));
                thread.insert(key.into(), json!(v));
                let sum = interfaces[at].get(key).and_then(Value::as_u64).unwrap_or(0) + v;
                interfaces[at].insert(key.into(), json!(sum));
            }
            thread.insert("error".into(), json!(s.last_error.lock().unwrap_or_else(|p| p.into_inner()).clone()));
            threads.push(Value::Object(thread));
        }
        let workers: Vec<Value> = self
            .workers
            .iter()
            .enumerate()
            .map(|(i, w)| {
                let mut m = Map::new();
                m.insert("worker".into(), json!(i));
                for (key, _, _, counter) in WORKER_COUNTERS {
                    m.insert(key.into(), json!(load(counter(w))));
                }
                Value::Object(m)
            })
            .collect();
        json!({
            "node": self.node,
            "started_ns": self.started_ns,
            "interfaces": interfaces,
            "threads": threads,
            "workers": workers,
        })
    }

    fn families(&self) -> Vec<Family> {
        let mut out = Vec::new();
        for (key, help, counter) in SOURCE_COUNTERS {
            let samples = self
                .sources
                .iter()
                .enumerate()
                .map(|(i, s)| Sample {
                    labels: vec![
                        ("node", self.node.clone()),
                        ("interface", s.interface.clone()),
                        ("thread", i.to_string()),
                    ],
                    value: load(counter(s)),
                })
                .collect();
            out.push(Family { name: metric_name("tyto_capture", key, false), gauge: false, help, samples });
        }
        for (key, gauge, help, counter) in WORKER_COUNTERS {
            let samples = self
                .workers
                .iter()
                .enumerate()
                .map(|(i, w)| Sample {
                    labels: vec![("node", self.node.clone()), ("worker", i.to_string())],
                    value: load(counter(w)),
                })
                .collect();
            out.push(Family { name: metric_name("tyto_worker", key, gauge), gauge, help, samples });
        }
        out
    }
}
