//! Live capture counters: as JSON in `/api/stats` and as Prometheus text at `/metrics`
//! (behind the same login as every route; Prometheus scrapes with `basic_auth`).

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use tyto_schema::metrics::{Family, Metrics};
use tyto_store::{QueueCounters, SpoolCounters};

use crate::{ApiError, AppState};

/// Each part's JSON, in order (`/api/stats`'s `alert_sinks` and `exports`).
pub fn parts_json(parts: &[Arc<dyn Metrics>]) -> Value {
    parts.iter().map(|p| p.json()).collect()
}

fn load(a: &AtomicU64) -> u64 {
    a.load(Ordering::Relaxed)
}

/// Families of several parts of one kind (sinks, outputs) as one family per name,
/// their samples in the parts' order.
fn merged(parts: impl IntoIterator<Item = Vec<Family>>) -> Vec<Family> {
    let mut out: Vec<Family> = Vec::new();
    for fam in parts.into_iter().flatten() {
        match out.iter_mut().find(|f| f.name == fam.name) {
            Some(f) => f.samples.extend(fam.samples),
            None => out.push(fam),
        }
    }
    out
}

/// What `/metrics` reports.
struct Snapshot<'a> {
    live: Option<&'a dyn Metrics>,
    sinks: &'a [Arc<dyn Metrics>],
    outputs: &'a [Arc<dyn Metrics>],
    intel: Option<&'a dyn Metrics>,
    spool: Option<&'a SpoolCounters>,
    queue: Option<&'a QueueCounters>,
    sessions: u64,
    disk: Option<(u64, u64)>,
    uptime_s: u64,
}

/// The Prometheus text exposition of the same counters.
fn prometheus_text(m: &Snapshot<'_>) -> String {
    let Snapshot { live, sinks, outputs, intel, spool, queue, sessions, disk, uptime_s } = *m;
    let mut out = String::new();
    let mut family = |name: &str, kind: &str, help: &str, samples: &[(String, u64)]| {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
        for (labels, v) in samples {
            let _ = writeln!(out, "{name}{labels} {v}");
        }
    };
    let parts = live
        .map(|l| l.families())
        .into_iter()
        .chain([merged(sinks.iter().map(|p| p.families())), merged(outputs.iter().map(|p| p.families()))])
        .chain(intel.map(|i| i.families()));
    for f in parts.flatten() {
        let samples: Vec<(String, u64)> = f
            .samples
            .iter()
            .map(|s| {
                let labels: Vec<String> = s.labels.iter().map(|(k, v)| format!("{k}=\"{}\"", escape(v))).collect();
                (format!("{{{}}}", labels.join(",")), s.value)
            })
            .collect();
        family(&f.name, if f.gauge { "gauge" } else { "counter" }, f.help, &samples);
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
        outputs: &state.outputs,
        intel: state.intel.as_deref(),
        spool: state.spool.as_deref(),
        queue: state.queue.as_deref(),
        sessions,
        disk,
        uptime_s: uptime,
    });
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text).into_response())
}

/// How long `/health` waits for the store.
const HEALTH_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// `GET /health`, for load balancers and service managers: no login, and nothing in
/// the answer but whether this viewer can answer searches now (its store replies
/// within [`HEALTH_WAIT`]): `200 up` or `503 down`.
pub async fn health(State(state): State<AppState>) -> Response {
    let probe = state.stores.run(|store| Ok(store.count()?));
    let up = matches!(tokio::time::timeout(HEALTH_WAIT, probe).await, Ok(Ok(_)));
    let (status, text) =
        if up { (axum::http::StatusCode::OK, "up\n") } else { (axum::http::StatusCode::SERVICE_UNAVAILABLE, "down\n") };
    let headers = [(header::CONTENT_TYPE, "text/plain; charset=utf-8"), (header::CACHE_CONTROL, "no-store")];
    (status, headers, text).into_response()
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use tyto_schema::metrics::Sample;

    use super::*;

    /// A part that counts, as a sink or a log output would.
    struct Part(&'static str, u64);

    impl Metrics for Part {
        fn json(&self) -> Value {
            json!({ "sink": self.0, "sent": self.1 })
        }

        fn families(&self) -> Vec<Family> {
            ["sent", "queued"]
                .into_iter()
                .map(|key| Family {
                    name: tyto_schema::metrics::metric_name("tyto_test", key, key == "queued"),
                    gauge: key == "queued",
                    help: "A test counter.",
                    samples: vec![Sample { labels: vec![("sink", self.0.to_string())], value: self.1 }],
                })
                .collect()
        }
    }

    #[test]
    fn parts_of_one_kind_share_each_family_and_labels_are_escaped() {
        let parts: Vec<Arc<dyn Metrics>> = vec![Arc::new(Part("a", 1)), Arc::new(Part("b\"\\\n", 2))];
        let text = prometheus_text(&Snapshot {
            live: None,
            sinks: &parts,
            outputs: &[],
            intel: None,
            spool: None,
            queue: None,
            sessions: 7,
            disk: None,
            uptime_s: 3,
        });
        let want = "# HELP tyto_test_sent_total A test counter.\n\
                    # TYPE tyto_test_sent_total counter\n\
                    tyto_test_sent_total{sink=\"a\"} 1\n\
                    tyto_test_sent_total{sink=\"b\\\"\\\\\\n\"} 2\n\
                    # HELP tyto_test_queued A test counter.\n\
                    # TYPE tyto_test_queued gauge\n\
                    tyto_test_queued{sink=\"a\"} 1\n\
                    tyto_test_queued{sink=\"b\\\"\\\\\\n\"} 2\n";
        assert!(text.starts_with(want), "{text}");
        assert!(text.contains("\ntyto_store_sessions 7\n") && text.ends_with("tyto_uptime_seconds 3\n"), "{text}");
        assert_eq!(parts_json(&parts), json!([{ "sink": "a", "sent": 1 }, { "sink": "b\"\\\n", "sent": 2 }]));
    }
}
