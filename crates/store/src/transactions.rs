//! Transactions — one row per request and its answer (a DNS lookup, an HTTP
//! request, a database query…) — in a table of their own, laid out alike in both
//! stores so one read serves both:
//!
//! | column           | meaning                                                    |
//! |------------------|------------------------------------------------------------|
//! | `session`        | the session row's id                                       |
//! | `session_start`  | its start (µs): ClickHouse partitions by its day, as the sessions |
//! | `node`           | the sensor                                                 |
//! | `server`, `port` | the server answering: the session's destination address (text) and port |
//! | `kind`           | the protocol (`dns`, `http`, `mysql`, …)                   |
//! | `time`           | the request's time, else the answer's (µs)                 |
//! | `request_time`, `response_time` | when each was seen (µs; NULL when missing)  |
//! | `took`           | the response time (µs; NULL when unanswered), as the session's `*.response-time` |
//! | `request_bytes`, `response_bytes` | sizes                                     |
//! | `failed`         | 1 when the answer says the request failed, 0 when not, NULL unanswered |
//! | `fields`         | the request's and answer's values by catalogue name, as a JSON object |
//!
//! Which sessions' transactions a read wants is said with the sessions' own
//! expression: `session IN (SELECT id FROM sessions WHERE …)`.

use serde_json::Value as Json;
use tyto_schema::{SessionRecord, Transaction, Values};

use crate::rows::micros;
use crate::sql::reads::{json_i64, json_str, Backend};
use crate::sql::where_clause;
use crate::{ListQuery, StoreError};

/// The columns as both stores' inserts name them, in order.
pub(crate) const COLUMNS: &str = "session, session_start, node, server, port, kind, time, request_time, \
                                  response_time, took, request_bytes, response_bytes, failed, fields";

/// The server's address as the `server` column holds it.
pub(crate) fn server(r: &SessionRecord) -> String {
    r.dst_ip.map(|a| a.to_string()).unwrap_or_default()
}

/// A row's transactions with the row, in order.
pub(crate) fn of<'a>(rows: &'a [&'a SessionRecord]) -> impl Iterator<Item = (&'a SessionRecord, &'a Transaction)> {
    rows.iter().flat_map(|&r| r.transactions.iter().flat_map(move |t| t.list.iter().map(move |t| (r, t))))
}

/// When a transaction is filed: its request's time, else its answer's, else (never
/// made that way) the session's start.
pub(crate) fn time_us(r: &SessionRecord, t: &Transaction) -> i64 {
    micros(t.time_ns().unwrap_or(r.start_ns))
}

/// HTTP values a transaction row keeps: what tells one request from another. The
/// session keeps the rest (the full `http.uri` with its query, the user agent, the
/// header names), which would make each row kilobytes (measured: storing whole
/// values cost `tyto ingest` 11% on a capture with long query strings).
const HTTP_STORED: &[&str] =
    &["http.method", "host.http", "http.uri.path", "http.statuscode", "http.content-type", "http.version"];

/// A transaction's values as the `fields` column holds them: a JSON object of
/// catalogue names to lists (numbers as numbers, addresses as text).
pub(crate) fn fields_json(t: &Transaction) -> String {
    // Written straight into one buffer (no map, no string per value): one a
    // transaction, on the store's thread.
    use std::io::Write;
    let mut out: Vec<u8> = Vec::with_capacity(128);
    out.push(b'{');
    for (name, v) in t.values.iter() {
        if t.protocol == "http" && !HTTP_STORED.contains(&name) {
            continue;
        }
        if out.len() > 1 {
            out.push(b',');
        }
        let _ = serde_json::to_writer(&mut out, name);
        out.extend_from_slice(b":[");
        let start = out.len();
        let sep = |out: &mut Vec<u8>| {
            if out.len() > start {
                out.push(b',');
            }
        };
        match v {
            Values::Text(v) => v.iter().for_each(|s| {
                sep(&mut out);
                let _ = serde_json::to_writer(&mut out, s);
            }),
            Values::Int(v) => v.iter().for_each(|i| {
                sep(&mut out);
                let _ = write!(out, "{i}");
            }),
            Values::Ip(v) => v.iter().for_each(|a| {
                sep(&mut out);
                let _ = write!(out, "\"{a}\"");
            }),
        }
        out.push(b']');
    }
    out.push(b'}');
    // Only JSON text was written.
    String::from_utf8(out).unwrap_or_default()
}

/// Which transactions a listing wants.
#[derive(Clone, Debug, Default)]
pub struct TransactionQuery {
    /// The sessions they belong to (their expression) and the time range they fall in.
    pub sessions: ListQuery,
    /// Only this protocol's.
    pub kind: Option<String>,
    /// Only those whose answer says they failed.
    pub failed: bool,
    /// The slowest first (by response time), else the newest first.
    pub slowest: bool,
    pub limit: usize,
}

/// The newest (or slowest) transactions `q` wants, each as the API shows it.
pub(crate) fn list(b: &dyn Backend, q: &TransactionQuery) -> Result<Vec<Json>, StoreError> {
    let s = b.shapes();
    let mut cond = conditions(s, &q.sessions, q.kind.as_deref());
    if q.failed {
        cond.push("failed = 1".into());
    }
    let order = if q.slowest { "took DESC NULLS LAST, time DESC" } else { "time DESC, session" };
    let rows = b.rows(&format!(
        "SELECT session, node, kind, time, response_time, took, request_bytes, response_bytes, failed, fields, \
         server, port FROM transactions WHERE {} ORDER BY {order} LIMIT {}",
        joined(s, &cond),
        q.limit
    ))?;
    Ok(rows.into_iter().map(shown).collect())
}

/// Which services a listing wants: those answering the sessions `sessions` matches,
/// in its time range, of one protocol or all.
#[derive(Clone, Debug, Default)]
pub struct ServiceQuery {
    pub sessions: ListQuery,
    pub kind: Option<String>,
    /// The busiest this many.
    pub limit: usize,
    /// Width of the time buckets, in ns: one for all, or each service's own (about
    /// [`SERVICE_BUCKETS`] over its first to last transaction).
    pub bucket_ns: Option<i64>,
}

/// Buckets over a service's own time span when no width is given.
pub const SERVICE_BUCKETS: i64 = 60;

/// A service (server address, port and protocol) and how it answered.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Service {
    pub server: String,
    pub port: u16,
    pub kind: String,
    pub requests: u64,
    /// Requests whose answer says they failed.
    pub failed: u64,
    /// Requests answered (and timed).
    pub answered: u64,
    /// Response time percentiles, in ms (`None` when nothing was answered).
    pub p50: Option<f64>,
    pub p95: Option<f64>,
    pub p99: Option<f64>,
    /// Width of its buckets, in seconds.
    pub interval: i64,
    pub buckets: Vec<ServiceBucket>,
}

/// A service's requests in one time bucket.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ServiceBucket {
    pub start_ns: i64,
    pub requests: u64,
    pub failed: u64,
    /// The bucket's 95th percentile response time, in ms.
    pub p95: Option<f64>,
}

/// The conditions of a transactions read: time range, kind, sessions.
fn conditions(s: &dyn crate::sql::reads::Shapes, q: &ListQuery, kind: Option<&str>) -> Vec<String> {
    let mut cond = Vec::new();
    if let Some(start) = q.start_ns {
        cond.push(format!("time >= {}", micros(start)));
    }
    if let Some(stop) = q.stop_ns {
        cond.push(format!("time <= {}", micros(stop)));
    }
    if let Some(kind) = kind {
        cond.push(format!("kind = {}", s.string_literal(kind)));
    }
    if q.filter.is_some() {
        cond.push(format!("session {} (SELECT id FROM sessions WHERE {})", s.in_op(), where_clause(s, q)));
    }
    cond
}

fn joined(s: &dyn crate::sql::reads::Shapes, cond: &[String]) -> String {
    if cond.is_empty() {
        s.true_().to_string()
    } else {
        cond.join(" AND ")
    }
}

/// The busiest services with their percentiles, each with its buckets over time.
pub(crate) fn services(b: &dyn Backend, q: &ServiceQuery) -> Result<Vec<Service>, StoreError> {
    let s = b.shapes();
    let cond = conditions(s, &q.sessions, q.kind.as_deref());
    let failed = s.sum("CASE WHEN failed = 1 THEN 1 ELSE 0 END");
    let rows = b.rows(&format!(
        "SELECT server, port, kind, count(*) AS n, {failed}, count(took), {}, {}, {}, min(time), max(time) \
         FROM transactions WHERE {} GROUP BY server, port, kind ORDER BY n DESC, server, port, kind LIMIT {}",
        s.quantile("took", 0.5),
        s.quantile("took", 0.95),
        s.quantile("took", 0.99),
        joined(s, &cond),
        q.limit
    ))?;
    let ms = |v: &Json| (!v.is_null()).then(|| json_f64(v).round() / 1000.0);
    let mut out: Vec<Service> = rows
        .iter()
        .map(|r| Service {
            server: json_str(&r[0]),
            port: json_i64(&r[1]).clamp(0, 65535) as u16,
            kind: json_str(&r[2]),
            requests: json_i64(&r[3]).max(0) as u64,
            failed: json_i64(&r[4]).max(0) as u64,
            answered: json_i64(&r[5]).max(0) as u64,
            p50: ms(&r[6]),
            p95: ms(&r[7]),
            p99: ms(&r[8]),
            interval: match q.bucket_ns {
                Some(ns) => (ns / 1_000_000_000).max(1),
                None => {
                    let span_us = json_i64(&r[10]).saturating_sub(json_i64(&r[9]));
                    tyto_schema::time::nice_interval_s(span_us.saturating_mul(1000), SERVICE_BUCKETS)
                }
            },
            buckets: Vec::new(),
        })
        .collect();
    // The buckets: one query per width (a single one when the width is shared).
    let mut widths: Vec<i64> = out.iter().map(|v| v.interval).collect();
    widths.sort_unstable();
    widths.dedup();
    for width in widths {
        let bucket_us = width * 1_000_000;
        let mut cond = cond.clone();
        let mine: Vec<String> =
            out.iter().filter(|v| v.interval == width).map(|v| s.string_literal(&v.server)).collect();
        cond.push(format!("server IN ({})", mine.join(", ")));
        let rows = b.rows(&format!(
            "SELECT server, port, kind, time - (time % {bucket_us}) AS b, count(*), {failed}, {} FROM transactions \
             WHERE {} GROUP BY server, port, kind, b ORDER BY b",
            s.quantile("took", 0.95),
            joined(s, &cond)
        ))?;
        for r in rows {
            let (server, port, kind) = (json_str(&r[0]), json_i64(&r[1]), json_str(&r[2]));
            let found = out
                .iter_mut()
                .find(|v| v.interval == width && v.server == server && i64::from(v.port) == port && v.kind == kind);
            let Some(v) = found else { continue };
            v.buckets.push(ServiceBucket {
                start_ns: json_i64(&r[3]).saturating_mul(1000),
                requests: json_i64(&r[4]).max(0) as u64,
                failed: json_i64(&r[5]).max(0) as u64,
                p95: ms(&r[6]),
            });
        }
    }
    Ok(out)
}

fn json_f64(v: &Json) -> f64 {
    v.as_f64().or_else(|| v.as_str()?.parse().ok()).unwrap_or(0.0)
}

/// Microseconds as the API shows times and durations: milliseconds.
fn millis(v: &Json) -> Json {
    if v.is_null() {
        return Json::Null;
    }
    Json::from(json_i64(v) as f64 / 1000.0)
}

fn shown(r: Vec<Json>) -> Json {
    let at = |i: usize| r.get(i).cloned().unwrap_or(Json::Null);
    let fields = serde_json::from_str::<Json>(&json_str(&at(9))).unwrap_or(Json::Null);
    let failed = match at(8) {
        Json::Null => Json::Null,
        Json::Bool(b) => Json::Bool(b),
        v => Json::Bool(json_i64(&v) != 0),
    };
    serde_json::json!({
        "session": json_str(&at(0)),
        "node": json_str(&at(1)),
        "kind": json_str(&at(2)),
        "time": millis(&at(3)),
        "answered": millis(&at(4)),
        "response-time": millis(&at(5)),
        "request.bytes": json_i64(&at(6)),
        "response.bytes": json_i64(&at(7)),
        "failed": failed,
        "fields": fields,
        "server": json_str(&at(10)),
        "port": json_i64(&at(11)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_a_json_object_of_lists() {
        let mut t = Transaction::new("mysql");
        t.values.add_text("mysql.query", "SELECT \"x\"").unwrap();
        t.values.add_int("http.statuscode", 404).unwrap();
        t.values.add_ip("ip.dns", tyto_packet::Addr::from_v4([192, 0, 2, 7])).unwrap();
        let j: Json = serde_json::from_str(&fields_json(&t)).unwrap();
        assert_eq!(
            j,
            serde_json::json!({"mysql.query": ["SELECT \"x\""], "http.statuscode": [404], "ip.dns": ["192.0.2.7"]})
        );
        assert_eq!(fields_json(&Transaction::new("dns")), "{}");
        // HTTP keeps what tells its requests apart; the session keeps the rest.
        let mut t = Transaction::new("http");
        t.values.add_text("http.uri", "example.com/a?q=1").unwrap();
        t.values.add_text("http.uri.path", "/a").unwrap();
        t.values.add_text("http.user-agent", "curl/8").unwrap();
        t.values.add_text("http.method", "GET").unwrap();
        let j: Json = serde_json::from_str(&fields_json(&t)).unwrap();
        assert_eq!(j, serde_json::json!({"http.uri.path": ["/a"], "http.method": ["GET"]}));
    }
}
