//! Flow records and protocol logs out of Tyto, into the pipelines teams already run:
//! fluentd's forward protocol, the Elasticsearch/OpenSearch `_bulk` API in the
//! Elastic Common Schema, and JSON-lines files.
//!
//! Each configured output has its own thread and a bounded queue of records. The
//! caller (the store writer) only ever tries to enqueue: a slow or absent receiver
//! fills its queue, and what does not fit is dropped and counted; it never stalls
//! capture. A failed delivery is retried with doubling pauses for as long as the run
//! lasts, so a receiver that comes back gets everything that fitted in the queue, in
//! order; at the end of a run a grace period, then what is left is counted as dropped.

mod bulk;
pub mod documents;
mod file;
mod fluent;
pub mod msgpack;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TrySendError};
use serde::{Deserialize, Serialize};
use tyto_schema::metrics::{metric_name, Family, Metrics, Sample};
use tyto_schema::SessionRecord;

pub use documents::{ecs_fields, index_template, Document, EcsType, RecordKind, ECS_VERSION, FLOW_FIELDS};

/// Where an output sends its records.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputKind {
    /// fluentd's (or Fluent Bit's) forward input: MessagePack over TCP.
    #[default]
    Fluentd,
    /// The `_bulk` API of Elasticsearch or OpenSearch.
    Elasticsearch,
    /// A JSON-lines file, rotated.
    File,
}

impl OutputKind {
    pub fn as_str(self) -> &'static str {
        match self {
            OutputKind::Fluentd => "fluentd",
            OutputKind::Elasticsearch => "elasticsearch",
            OutputKind::File => "file",
        }
    }
}

/// How flow records are written by fluentd and file outputs (Elasticsearch always
/// gets ECS documents; DNS, HTTP and TLS records are ECS documents everywhere).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FlowFormat {
    /// NetFlow-like, flat, keyed by Tyto's field names.
    #[default]
    Flat,
    /// An ECS document (`event.dataset: flow`).
    Ecs,
}

/// One `[[output]]` table of the configuration file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OutputConfig {
    pub kind: OutputKind,
    /// `HOST:PORT` for fluentd, `http(s)://HOST:PORT` for Elasticsearch, a path for a file.
    pub target: String,
    /// Which records: `flow`, `dns`, `http`, `tls`, `mysql`, `pgsql`, `redis`, `mongodb`, `memcache`.
    pub records: Vec<RecordKind>,
    pub flow_format: FlowFormat,
    /// fluentd: records are tagged `<tag>.<record kind>`.
    pub tag: String,
    /// fluentd: ask for an acknowledgement of every chunk and resend until it comes.
    pub ack: bool,
    /// Elasticsearch: indices are `<index>-YYYY.MM.DD` (packet time).
    pub index: String,
    /// Elasticsearch: basic authentication, when a user is given.
    pub user: String,
    pub password: String,
    /// file: rotate past this many MiB, or this many seconds (0: never), keeping this many old files.
    pub rotate_mib: u64,
    pub rotate_s: u64,
    pub keep: u32,
    /// Records held while the receiver is slow or away; past this they are dropped.
    pub queue: u32,
    /// Records sent in one chunk or request.
    pub batch: u32,
    /// A partial batch waits at most this long before it goes.
    pub flush_ms: u32,
    /// First pause after a failure; it doubles up to `max_retry_ms`.
    pub retry_ms: u32,
    pub max_retry_ms: u32,
    /// Connecting, sending and waiting for an answer, each.
    pub timeout_ms: u32,
    /// At the end of a run, how long to keep delivering what is held before it is dropped.
    pub end_wait_s: u32,
}

impl Default for OutputConfig {
    fn default() -> Self {
        OutputConfig {
            kind: OutputKind::Fluentd,
            target: String::new(),
            records: vec![RecordKind::Flow],
            flow_format: FlowFormat::Flat,
            tag: "tyto".into(),
            ack: true,
            index: "tyto".into(),
            user: String::new(),
            password: String::new(),
            rotate_mib: 256,
            rotate_s: 3600,
            keep: 24,
            queue: 100_000,
            batch: 500,
            flush_ms: 1000,
            retry_ms: 200,
            max_retry_ms: 30_000,
            timeout_ms: 10_000,
            end_wait_s: 20,
        }
    }
}

impl OutputConfig {
    /// What the logs and counters call this output.
    pub fn label(&self) -> String {
        format!("{} {}", self.kind.as_str(), self.target)
    }

    /// Checks what can be checked without connecting; the message names the setting.
    pub fn check(&self) -> Result<(), String> {
        let label = format!("export ({})", self.kind.as_str());
        if self.target.is_empty() {
            return Err(format!("{label}: target is missing"));
        }
        if self.records.is_empty() {
            return Err(format!("{label}: records is empty ({})", RecordKind::ALL.map(RecordKind::as_str).join(", ")));
        }
        if self.queue == 0 || self.batch == 0 || self.timeout_ms == 0 || self.retry_ms == 0 {
            return Err(format!("{label}: queue, batch, timeout_ms and retry_ms must be at least 1"));
        }
        match self.kind {
            OutputKind::Fluentd => {
                if self.target.rsplit_once(':').is_none_or(|(h, p)| h.is_empty() || p.parse::<u16>().is_err()) {
                    return Err(format!(
                        "{label}: target '{}' is not HOST:PORT (fluentd's default port is 24224)",
                        self.target
                    ));
                }
                if self.tag.is_empty() {
                    return Err(format!("{label}: tag is empty"));
                }
            }
            OutputKind::Elasticsearch => {
                if !(self.target.starts_with("http://") || self.target.starts_with("https://")) {
                    return Err(format!("{label}: target '{}' is not an http:// or https:// URL", self.target));
                }
                let ok = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(c);
                if self.index.is_empty() || !self.index.chars().all(ok) || self.index.starts_with(['-', '_', '.']) {
                    return Err(format!(
                        "{label}: index '{}' is not a valid index name (lower-case letters, digits, - _ .)",
                        self.index
                    ));
                }
            }
            OutputKind::File => {
                if self.keep == 0 {
                    return Err(format!("{label}: keep must be at least 1"));
                }
            }
        }
        Ok(())
    }
}

/// What one output did, for the logs, `/api/stats` and `/metrics`.
#[derive(Debug, Default)]
pub struct OutputCounters {
    /// `fluentd 127.0.0.1:24224`, `elasticsearch http://…`, `file /var/log/…`.
    pub label: String,
    /// Records the receiver took (acknowledged, where the protocol acknowledges).
    pub sent: AtomicU64,
    /// Deliveries that failed and were tried again.
    pub retries: AtomicU64,
    /// Records the receiver refused for good (a document Elasticsearch cannot index).
    pub rejected: AtomicU64,
    /// Records dropped: the queue was full, or the run ended before they went.
    pub dropped: AtomicU64,
    /// Records waiting in the queue now.
    pub queued: AtomicU64,
}

impl OutputCounters {
    pub fn get(&self) -> [(&'static str, u64); 5] {
        [
            ("sent", self.sent.load(Ordering::Relaxed)),
            ("retries", self.retries.load(Ordering::Relaxed)),
            ("rejected", self.rejected.load(Ordering::Relaxed)),
            ("dropped", self.dropped.load(Ordering::Relaxed)),
            ("queued", self.queued.load(Ordering::Relaxed)),
        ]
    }
}

/// What each counter of [`OutputCounters::get`] means.
fn counter_help(key: &str) -> &'static str {
    match key {
        "sent" => "Records the receiver took (acknowledged where the protocol acknowledges).",
        "retries" => "Deliveries that failed and were tried again.",
        "rejected" => "Records the receiver refused for good.",
        "dropped" => "Records dropped: the queue was full, or the run ended before they went.",
        _ => "Records waiting in the queue.",
    }
}

impl Metrics for OutputCounters {
    fn json(&self) -> serde_json::Value {
        let mut m = serde_json::Map::new();
        m.insert("output".into(), self.label.clone().into());
        for (key, v) in self.get() {
            m.insert(key.into(), v.into());
        }
        serde_json::Value::Object(m)
    }

    /// `tyto_export_KEY_total` by output, and the gauge `tyto_export_queued`.
    fn families(&self) -> Vec<Family> {
        self.get()
            .into_iter()
            .map(|(key, value)| {
                let gauge = key == "queued";
                Family {
                    name: metric_name("tyto_export", key, gauge),
                    gauge,
                    help: counter_help(key),
                    samples: vec![Sample { labels: vec![("output", self.label.clone())], value }],
                }
            })
            .collect()
    }
}

/// A record as the queues carry it: built once, shared by every output that sends it.
type Shared = Arc<Document>;

/// The records of `kind` a row yields: a flat flow record, or ECS documents.
fn build(rec: &SessionRecord, kind: RecordKind, flat: bool) -> Vec<Shared> {
    if flat {
        let body = documents::flow_record(rec);
        return vec![Arc::new(Document { kind, time_ns: rec.start_ns, id: rec.id.clone(), body })];
    }
    let mut docs = Vec::new();
    documents::ecs_documents(rec, kind, &mut docs);
    docs.into_iter().map(Arc::new).collect()
}

/// What one attempt at delivering a batch came to.
#[derive(Debug, Default)]
struct Attempt {
    /// Indexes (in the batch) of records to send again.
    retry: Vec<usize>,
    /// Records refused for good, and why (the first refusal), for the log.
    rejected: u64,
    refusal: Option<String>,
    /// Why records are sent again, for the log.
    error: Option<String>,
}

impl Attempt {
    fn all_again(n: usize, error: String) -> Attempt {
        Attempt { retry: (0..n).collect(), error: Some(error), ..Attempt::default() }
    }
}

/// A way of delivering a batch of records.
trait Deliver: Send {
    fn deliver(&mut self, batch: &[Shared]) -> Attempt;
}

struct Output {
    config: OutputConfig,
    tx: Option<Sender<Shared>>,
    counters: Arc<OutputCounters>,
    thread: Option<JoinHandle<()>>,
}

/// Queues the records of one row for every output that wants them; never blocks.
/// Each kind of record is built once per row and shared by the outputs that want it.
fn queue_documents(outputs: &[Output], rec: &SessionRecord) {
    let mut built: Vec<(RecordKind, bool, Vec<Shared>)> = Vec::new();
    for o in outputs {
        let Some(tx) = &o.tx else { continue };
        for &kind in &o.config.records {
            let flat = kind == RecordKind::Flow
                && o.config.kind != OutputKind::Elasticsearch
                && o.config.flow_format == FlowFormat::Flat;
            let i = match built.iter().position(|(k, f, _)| *k == kind && *f == flat) {
                Some(i) => i,
                None => {
                    built.push((kind, flat, build(rec, kind, flat)));
                    built.len() - 1
                }
            };
            for d in &built[i].2 {
                match tx.try_send(d.clone()) {
                    Ok(()) => {
                        o.counters.queued.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                        o.counters.dropped.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }
    }
}

/// Every configured output, fed with each session row as it is written. The rows'
/// documents are built on a thread of the outputs' own, not the caller's: the
/// caller is the store's writer, which must keep up with capture.
pub struct Outputs {
    outputs: Arc<Vec<Output>>,
    /// Batches of rows for the document builder.
    rows: Option<Sender<Arc<Vec<SessionRecord>>>>,
    builder: Option<JoinHandle<()>>,
    /// Set when the end-of-run grace period is over: workers stop retrying.
    give_up: Arc<AtomicBool>,
}

/// Batches of rows waiting for the document builder; past this they are dropped
/// (counted on every output).
const ROW_BATCHES_QUEUED: usize = 256;

impl Outputs {
    /// Checks every output and starts its thread. Nothing connects yet: a receiver
    /// that is away at the start is retried like one that went away later.
    pub fn start(configs: &[OutputConfig]) -> Result<Outputs, String> {
        let give_up = Arc::new(AtomicBool::new(false));
        let mut outputs = Vec::new();
        for c in configs {
            c.check()?;
            let deliver: Box<dyn Deliver> = match c.kind {
                OutputKind::Fluentd => Box::new(fluent::Forward::new(c)),
                OutputKind::Elasticsearch => Box::new(bulk::Bulk::new(c)),
                OutputKind::File => Box::new(file::JsonLines::new(c)),
            };
            let (tx, rx) = crossbeam_channel::bounded(c.queue as usize);
            let counters = Arc::new(OutputCounters { label: c.label(), ..OutputCounters::default() });
            let worker = Worker { config: c.clone(), rx, counters: counters.clone(), give_up: give_up.clone() };
            let thread = std::thread::Builder::new()
                .name(format!("export-{}", c.kind.as_str()))
                .spawn(move || worker.run(deliver))
                .map_err(|e| format!("export: cannot start a thread: {e}"))?;
            outputs.push(Output { config: c.clone(), tx: Some(tx), counters, thread: Some(thread) });
        }
        let outputs = Arc::new(outputs);
        let (rows, builder) = if outputs.is_empty() {
            (None, None)
        } else {
            let (tx, rx) = crossbeam_channel::bounded::<Arc<Vec<SessionRecord>>>(ROW_BATCHES_QUEUED);
            let outs = outputs.clone();
            let thread = std::thread::Builder::new()
                .name("export-build".into())
                .spawn(move || {
                    for batch in rx {
                        for rec in batch.iter() {
                            queue_documents(&outs, rec);
                        }
                    }
                })
                .map_err(|e| format!("export: cannot start a thread: {e}"))?;
            (Some(tx), Some(thread))
        };
        Ok(Outputs { outputs, rows, builder, give_up })
    }

    /// Queues a batch of rows for every output; never blocks (a full queue drops the
    /// batch, counted on every output).
    pub fn sessions(&self, rows: Arc<Vec<SessionRecord>>) {
        let Some(tx) = &self.rows else { return };
        let n = rows.len() as u64;
        if tx.try_send(rows).is_err() {
            for o in self.outputs.iter() {
                o.counters.dropped.fetch_add(n, Ordering::Relaxed);
            }
        }
    }

    /// Whether any output is configured.
    pub fn is_empty(&self) -> bool {
        self.outputs.is_empty()
    }

    pub fn counters(&self) -> Vec<Arc<OutputCounters>> {
        self.outputs.iter().map(|o| o.counters.clone()).collect()
    }

    /// Ends the run: outputs deliver what they hold for up to their `end_wait_s`,
    /// then give up and count the rest as dropped. Returns when every thread has finished.
    pub fn close(&mut self) {
        // The builder first, so every row given is queued before the queues close.
        self.rows = None;
        if let Some(b) = self.builder.take() {
            let _ = b.join();
        }
        let Some(outputs) = Arc::get_mut(&mut self.outputs) else { return };
        for o in outputs.iter_mut() {
            o.tx = None;
        }
        let grace = self.outputs.iter().map(|o| o.config.end_wait_s).max().unwrap_or(0);
        let deadline = Instant::now() + Duration::from_secs(u64::from(grace));
        while self.outputs.iter().any(|o| o.thread.as_ref().is_some_and(|t| !t.is_finished())) {
            if Instant::now() >= deadline {
                self.give_up.store(true, Ordering::Relaxed);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        if let Some(outputs) = Arc::get_mut(&mut self.outputs) {
            for o in outputs.iter_mut() {
                if let Some(t) = o.thread.take() {
                    let _ = t.join();
                }
            }
        }
    }
}

impl Drop for Outputs {
    fn drop(&mut self) {
        self.give_up.store(true, Ordering::Relaxed);
        self.rows = None;
        if let Some(b) = self.builder.take() {
            let _ = b.join();
        }
        if let Some(outputs) = Arc::get_mut(&mut self.outputs) {
            for o in outputs.iter_mut() {
                o.tx = None;
            }
        }
    }
}

struct Worker {
    config: OutputConfig,
    rx: Receiver<Shared>,
    counters: Arc<OutputCounters>,
    give_up: Arc<AtomicBool>,
}

impl Worker {
    fn run(self, mut deliver: Box<dyn Deliver>) {
        let max = self.config.batch as usize;
        let flush = Duration::from_millis(u64::from(self.config.flush_ms));
        let mut batch: Vec<Shared> = Vec::with_capacity(max.min(4096));
        let mut open = true;
        while open || !batch.is_empty() {
            // Fill the batch: up to `batch` records, or what came within `flush_ms`.
            let started = Instant::now();
            while open && batch.len() < max {
                let wait = flush.saturating_sub(started.elapsed());
                match self.rx.recv_timeout(wait) {
                    Ok(d) => {
                        self.counters.queued.fetch_sub(1, Ordering::Relaxed);
                        batch.push(d);
                    }
                    Err(RecvTimeoutError::Timeout) => break,
                    Err(RecvTimeoutError::Disconnected) => open = false,
                }
            }
            if batch.is_empty() {
                continue;
            }
            batch = self.send(&mut *deliver, batch);
            if self.give_up.load(Ordering::Relaxed) {
                self.drop_rest(batch.len());
                return;
            }
        }
    }

    /// Delivers a batch, retrying what failed until it goes or the run gives up;
    /// returns the emptied vector for reuse.
    fn send(&self, deliver: &mut dyn Deliver, mut batch: Vec<Shared>) -> Vec<Shared> {
        let mut pause = Duration::from_millis(u64::from(self.config.retry_ms));
        let max_pause = Duration::from_millis(u64::from(self.config.max_retry_ms.max(self.config.retry_ms)));
        let mut logged = false;
        loop {
            let a = deliver.deliver(&batch);
            let delivered = batch.len() - a.retry.len() - a.rejected as usize;
            self.counters.sent.fetch_add(delivered as u64, Ordering::Relaxed);
            self.counters.rejected.fetch_add(a.rejected, Ordering::Relaxed);
            if a.rejected > 0 {
                let why = a.refusal.as_deref().unwrap_or("no reason given");
                eprintln!("tyto: export to {}: {} record(s) refused: {why}", self.counters.label, a.rejected);
            }
            if a.retry.is_empty() {
                if logged {
                    eprintln!("tyto: export to {}: delivering again", self.counters.label);
                }
                batch.clear();
                return batch;
            }
            if !logged {
                let why = a.error.as_deref().unwrap_or("no reason given");
                eprintln!("tyto: export to {}: {why}; retrying", self.counters.label);
                logged = true;
            }
            batch = a.retry.iter().map(|&i| batch[i].clone()).collect();
            self.counters.retries.fetch_add(1, Ordering::Relaxed);
            // Wait, in small steps so the end of a run is noticed.
            let until = Instant::now() + pause;
            while Instant::now() < until {
                if self.give_up.load(Ordering::Relaxed) {
                    return batch;
                }
                std::thread::sleep(Duration::from_millis(10).min(pause));
            }
            pause = (pause * 2).min(max_pause);
        }
    }

    /// The run is over: what is still held is counted as dropped.
    fn drop_rest(&self, in_batch: usize) {
        let rest = self.rx.try_iter().count();
        self.counters.queued.fetch_sub(rest as u64, Ordering::Relaxed);
        let lost = (in_batch + rest) as u64;
        if lost > 0 {
            self.counters.dropped.fetch_add(lost, Ordering::Relaxed);
            eprintln!("tyto: export to {}: {lost} record(s) not delivered before the end", self.counters.label);
        }
    }
}

/// The daily index (or file) date of a record: `2026.11.23`.
pub(crate) fn day(ns: i64) -> String {
    tyto_schema::time::format_rfc3339(ns)[..10].replace('-', ".")
}

#[cfg(test)]
mod tests;
