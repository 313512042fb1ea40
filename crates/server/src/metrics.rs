//! Live capture counters: as JSON in `/api/stats` and as Prometheus text at `/metrics`
//! (behind the same login as every route; Prometheus scrapes with `basic_auth`).

use std::fmt::Write as _;
use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use tyto_flow::LiveCounters;

use crate::{ApiError, AppState};

/// Per interface (summed over its reading threads) and per thread.
pub fn capture_json(live: &LiveCounters) -> Value {
    let load = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
    let mut interfaces: Vec<(String, [u64; 6])> = Vec::new();
    let mut threads = Vec::new();
    for (i, s) in live.sources.iter().enumerate() {
        let v = [
            load(&s.packets),
            load(&s.bytes),
            load(&s.kernel_packets),
            load(&s.kernel_drops),
            load(&s.queue_drops),
            load(&s.decode_errors),
        ];
        match interfaces.iter_mut().find(|(n, _)| *n == s.interface) {
            Some((_, sum)) => sum.iter_mut().zip(v).for_each(|(a, b)| *a += b),
            None => interfaces.push((s.interface.clone(), v)),
        }
        threads.push(json!({
            "thread": i,
            "interface": s.interface,
            "packets": v[0], "bytes": v[1], "kernel_packets": v[2], "kernel_drops": v[3],
            "queue_drops": v[4], "decode_errors": v[5],
            "error": s.last_error.lock().unwrap_or_else(|p| p.into_inner()).clone(),
        }));
    }
    let workers: Vec<Value> = live
        .workers
        .iter()
        .enumerate()
        .map(|(i, w)| {
            json!({
                "worker": i,
                "packets": load(&w.packets),
                "bytes": load(&w.bytes),
                "sessions_live": load(&w.sessions_live),
                "sessions_written": load(&w.sessions_written),
                "rows_written": load(&w.rows_written),
                "evicted": load(&w.evicted),
                "pcap_write_errors": load(&w.pcap_write_errors),
            })
        })
        .collect();
    json!({
        "node": live.node,
        "started_ns": live.started_ns,
        "interfaces": interfaces.iter().map(|(name, v)| json!({
            "interface": name, "packets": v[0], "bytes": v[1], "kernel_packets": v[2],
            "kernel_drops": v[3], "queue_drops": v[4], "decode_errors": v[5],
        })).collect::<Vec<_>>(),
        "threads": threads,
        "workers": workers,
    })
}

/// The Prometheus text exposition of the same counters.
pub fn prometheus_text(live: Option<&LiveCounters>, sessions: u64, disk: Option<(u64, u64)>, uptime_s: u64) -> String {
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
        let per_thread = |f: &dyn Fn(&tyto_flow::SourceCounters) -> u64| -> Vec<(String, u64)> {
            live.sources
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    (format!("{{node=\"{node}\",interface=\"{}\",thread=\"{i}\"}}", escape(&s.interface)), f(s))
                })
                .collect()
        };
        let l = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
        for (name, help, get) in [
            (
                "tyto_capture_packets_total",
                "Packets read from the capture ring.",
                &(|s: &tyto_flow::SourceCounters| l(&s.packets)) as &dyn Fn(&tyto_flow::SourceCounters) -> u64,
            ),
            ("tyto_capture_bytes_total", "Bytes of packets read from the capture ring.", &|s| l(&s.bytes)),
            (
                "tyto_capture_kernel_packets_total",
                "Packets that passed the capture filter, as the kernel counts them.",
                &|s| l(&s.kernel_packets),
            ),
            ("tyto_capture_kernel_drops_total", "Packets the kernel dropped because the ring was full.", &|s| {
                l(&s.kernel_drops)
            }),
            ("tyto_capture_queue_drops_total", "Packets dropped because a worker's queue was full.", &|s| {
                l(&s.queue_drops)
            }),
            ("tyto_capture_decode_errors_total", "Frames that could not be decoded.", &|s| l(&s.decode_errors)),
        ] {
            family(name, "counter", help, &per_thread(get));
        }
        let per_worker = |f: &dyn Fn(&tyto_flow::WorkerCounters) -> u64| -> Vec<(String, u64)> {
            live.workers
                .iter()
                .enumerate()
                .map(|(i, w)| (format!("{{node=\"{node}\",worker=\"{i}\"}}"), f(w)))
                .collect()
        };
        family(
            "tyto_worker_packets_total",
            "counter",
            "Packets processed by the worker.",
            &per_worker(&|w| l(&w.packets)),
        );
        family(
            "tyto_worker_sessions_live",
            "gauge",
            "Sessions held open by the worker.",
            &per_worker(&|w| l(&w.sessions_live)),
        );
        family(
            "tyto_worker_sessions_written_total",
            "counter",
            "Sessions written to the store.",
            &per_worker(&|w| l(&w.sessions_written)),
        );
        family(
            "tyto_worker_rows_written_total",
            "counter",
            "Session rows written (long sessions span several).",
            &per_worker(&|w| l(&w.rows_written)),
        );
        family(
            "tyto_worker_evicted_total",
            "counter",
            "Sessions written early because the session table was full.",
            &per_worker(&|w| l(&w.evicted)),
        );
        family(
            "tyto_worker_pcap_write_errors_total",
            "counter",
            "Packets that could not be written to pcap files.",
            &per_worker(&|w| l(&w.pcap_write_errors)),
        );
    }
    family("tyto_store_sessions", "gauge", "Session rows in the store.", &[(String::new(), sessions)]);
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

/// A label value as Prometheus wants it.
fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// `GET /metrics`.
pub async fn prometheus(State(state): State<AppState>) -> Result<Response, ApiError> {
    let data_dir = state.data_dir.clone();
    let sessions = state.stores.run(|store| Ok(store.count()?)).await?;
    let disk = tyto_pcapstore::disk_space(&data_dir);
    let text = prometheus_text(state.live.as_deref(), sessions, disk, state.started.elapsed().as_secs());
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text).into_response())
}
