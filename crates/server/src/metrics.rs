//! Live capture counters: as JSON in `/api/stats` and as Prometheus text at `/metrics`
//! (behind the same login as every route; Prometheus scrapes with `basic_auth`).

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};
use tyto_detect::SinkCounters;
use tyto_export::OutputCounters;
use tyto_flow::{LiveCounters, SourceCounters, WorkerCounters};
use tyto_store::{QueueCounters, SpoolCounters};

use crate::{ApiError, AppState};

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

type SinkCounter = fn(&SinkCounters) -> &AtomicU64;

/// Each counter of an alert sink once: key (`tyto_alert_sink_KEY_total`), meaning, where.
const SINK_COUNTERS: [(&str, &str, SinkCounter); 4] = [
    ("sent", "Alerts delivered.", |c| &c.sent),
    ("retries", "Deliveries that failed and were tried again.", |c| &c.retries),
    ("failed", "Alerts given up after every attempt failed.", |c| &c.failed),
    ("dropped", "Alerts dropped because the sink's queue was full.", |c| &c.dropped),
];

/// One object per alert sink.
pub fn sinks_json(sinks: &[Arc<SinkCounters>]) -> Value {
    sinks
        .iter()
        .map(|c| {
            let mut m = Map::new();
            m.insert("sink".into(), json!(c.name));
            for (key, _, counter) in SINK_COUNTERS {
                m.insert(key.into(), json!(load(counter(c))));
            }
            Value::Object(m)
        })
        .collect()
}

/// One object per exporter output, with its counters (`OutputCounters::get`).
pub fn exports_json(outputs: &[Arc<OutputCounters>]) -> Value {
    outputs
        .iter()
        .map(|c| {
            let mut m = Map::new();
            m.insert("output".into(), json!(c.label));
            for (key, v) in c.get() {
                m.insert(key.into(), json!(v));
            }
            Value::Object(m)
        })
        .collect()
}

/// What each exporter counter means, by its key in `OutputCounters::get`.
fn export_help(key: &str) -> &'static str {
    match key {
        "sent" => "Records the receiver took (acknowledged where the protocol acknowledges).",
        "retries" => "Deliveries that failed and were tried again.",
        "rejected" => "Records the receiver refused for good.",
        "dropped" => "Records dropped: the queue was full, or the run ended before they went.",
        _ => "Records waiting in the queue.",
    }
}

fn load(a: &AtomicU64) -> u64 {
    a.load(Ordering::Relaxed)
}

/// Per interface (summed over its reading threads) and per thread.
pub fn capture_json(live: &LiveCounters) -> Value {
    let mut interfaces: Vec<Map<String, Value>> = Vec::new();
    let mut threads = Vec::new();
    for (i, s) in live.sources.iter().enumerate() {
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
    let workers: Vec<Value> = live
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
        "node": live.node,
        "started_ns": live.started_ns,
        "interfaces": interfaces,
        "threads": threads,
        "workers": workers,
    })
}

/// What `/metrics` reports.
struct Snapshot<'a> {
    live: Option<&'a LiveCounters>,
    sinks: &'a [Arc<SinkCounters>],
    exports: &'a [Arc<OutputCounters>],
    spool: Option<&'a SpoolCounters>,
    queue: Option<&'a QueueCounters>,
    sessions: u64,
    disk: Option<(u64, u64)>,
    uptime_s: u64,
}

/// The Prometheus text exposition of the same counters.
fn prometheus_text(m: &Snapshot<'_>) -> String {
    let Snapshot { live, sinks, exports, spool, queue, sessions, disk, uptime_s } = *m;
    let mut out = String::new();
    let mut family = |name: &str, kind: &str, help: &str, samples: &[(String, u64)]| {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
        for (labels, v) in samples {
            let _ = writeln!(out, "{name}{labels} {v}");
        }
    };
    if let Some(live) = live {
        let node = escape(&live.node);
        for (key, help, counter) in SOURCE_COUNTERS {
            let samples: Vec<(String, u64)> = live
                .sources
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    (
                        format!("{{node=\"{node}\",interface=\"{}\",thread=\"{i}\"}}", escape(&s.interface)),
                        load(counter(s)),
                    )
                })
                .collect();
            family(&format!("tyto_capture_{key}_total"), "counter", help, &samples);
        }
        for (key, gauge, help, counter) in WORKER_COUNTERS {
            let samples: Vec<(String, u64)> = live
                .workers
                .iter()
                .enumerate()
                .map(|(i, w)| (format!("{{node=\"{node}\",worker=\"{i}\"}}"), load(counter(w))))
                .collect();
            let (name, kind) = if gauge {
                (format!("tyto_worker_{key}"), "gauge")
            } else {
                (format!("tyto_worker_{key}_total"), "counter")
            };
            family(&name, kind, help, &samples);
        }
    }
    if !sinks.is_empty() {
        for (key, help, counter) in SINK_COUNTERS {
            let samples: Vec<(String, u64)> =
                sinks.iter().map(|c| (format!("{{sink=\"{}\"}}", escape(c.name)), load(counter(c)))).collect();
            family(&format!("tyto_alert_sink_{key}_total"), "counter", help, &samples);
        }
    }
    if let Some(first) = exports.first() {
        for (i, (key, _)) in first.get().into_iter().enumerate() {
            let samples: Vec<(String, u64)> =
                exports.iter().map(|c| (format!("{{output=\"{}\"}}", escape(&c.label)), c.get()[i].1)).collect();
            let (name, kind) = if key == "queued" {
                ("tyto_export_queued".to_string(), "gauge")
            } else {
                (format!("tyto_export_{key}_total"), "counter")
            };
            family(&name, kind, export_help(key), &samples);
        }
    }
    family("tyto_store_sessions", "gauge", "Session rows in the store.", &[(String::new(), sessions)]);
    if let Some(s) = spool {
        for (key, gauge, help, v) in spool_values(s) {
            let (name, kind) = if gauge {
                (format!("tyto_store_spool_{key}"), "gauge")
            } else {
                (format!("tyto_store_spool_{key}_total"), "counter")
            };
            family(&name, kind, help, &[(String::new(), v)]);
        }
    }
    if let Some(q) = queue {
        for (key, gauge, help, v) in queue_values(q) {
            let (name, kind) = if gauge {
                (format!("tyto_store_queue_{key}"), "gauge")
            } else {
                (format!("tyto_store_queue_{key}_total"), "counter")
            };
            family(&name, kind, help, &[(String::new(), v)]);
        }
    }
    if let Some((free, total)) = disk {
        family(
            "tyto_disk_free_bytes",
            "gauge",
            "Free bytes on the data directory's file system.",
            &[(String::new(), free)],
        );
        family(
            "tyto_disk_total_bytes",
            "gauge",
            "Size of the data directory's file system.",
            &[(String::new(), total)],
        );
    }
    family("tyto_uptime_seconds", "gauge", "Seconds since this process started serving.", &[(String::new(), uptime_s)]);
    out
}

/// The ClickHouse spool's counters: (name, gauge?, help, value).
fn spool_values(s: &SpoolCounters) -> [(&'static str, bool, &'static str, u64); 6] {
    [
        ("batches", true, "Batches held on disk while ClickHouse does not take them.", load(&s.batches)),
        ("rows", true, "Session rows held on disk while ClickHouse does not take them.", load(&s.rows)),
        ("bytes", true, "Bytes the spool holds.", load(&s.bytes)),
        ("replayed_rows", false, "Rows sent from the spool once ClickHouse was back.", load(&s.replayed_rows)),
        ("dropped_rows", false, "Rows dropped because the spool was full.", load(&s.dropped_rows)),
        ("refused_rows", false, "Rows ClickHouse refused outright (kept in spool/refused).", load(&s.refused_rows)),
    ]
}

/// The row queue's counters: (name, gauge?, help, value).
fn queue_values(q: &QueueCounters) -> [(&'static str, bool, &'static str, u64); 7] {
    let load = QueueCounters::get;
    [
        ("waiting_rows", true, "Session rows waiting for the store, in memory and on disk.", load(&q.waiting_rows)),
        ("spooled_rows", true, "Of those, rows in the row spool on disk.", load(&q.spooled_rows)),
        ("spooled_bytes", true, "Bytes the row spool holds.", load(&q.spooled_bytes)),
        ("stored_rows", false, "Session rows the store took.", load(&q.stored_rows)),
        ("replayed_rows", false, "Rows that went through the row spool to the store.", load(&q.replayed_rows)),
        ("dropped_rows", false, "Rows dropped because the row spool was full (packets kept).", load(&q.dropped_rows)),
        ("failed_appends", false, "Writes the store refused.", load(&q.failed_appends)),
    ]
}

/// The row queue's counters for `/api/stats`.
pub fn queue_json(q: Option<&QueueCounters>) -> Value {
    match q {
        None => Value::Null,
        Some(q) => Value::Object(queue_values(q).into_iter().map(|(k, _, _, v)| (k.to_string(), v.into())).collect()),
    }
}

/// The spool's counters for `/api/stats`.
pub fn spool_json(s: Option<&SpoolCounters>) -> Value {
    match s {
        None => Value::Null,
        Some(s) => Value::Object(spool_values(s).into_iter().map(|(k, _, _, v)| (k.to_string(), v.into())).collect()),
    }
}

/// A label value as Prometheus wants it.
fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// `GET /metrics`.
pub async fn prometheus(
    State(state): State<AppState>,
    axum::Extension(authed): axum::Extension<crate::auth::Authed>,
) -> Result<Response, ApiError> {
    if authed.user.is_restricted() {
        return Err(ApiError::forbidden(format!(
            "user {} sees part of the sessions; the capture's totals are not theirs to read",
            authed.user.name
        )));
    }
    let data_dir = state.data_dir.clone();
    let sessions = state.stores.run(|store| Ok(store.count()?)).await?;
    let disk = tyto_pcapstore::disk_space(&data_dir);
    let uptime = state.started.elapsed().as_secs();
    let text = prometheus_text(&Snapshot {
        live: state.live.as_deref(),
        sinks: &state.alert_sinks,
        exports: &state.exports,
        spool: state.spool.as_deref(),
        queue: state.queue.as_deref(),
        sessions,
        disk,
        uptime_s: uptime,
    });
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text).into_response())
}
