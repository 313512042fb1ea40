//! The counters of a live capture, per reading thread and per worker, shared with
//! the viewer's Stats page and `/metrics` (apart from `live`, which fills them, so
//! that the pipeline's workers can publish theirs without naming the live module).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

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
