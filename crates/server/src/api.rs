//! Search and aggregation routes: sessions (JSON, CSV), SPI view, SPI graph,
//! connections, unique values, histogram, the field catalogue, stats.

use std::collections::HashMap;

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde_json::{json, Map, Value};
use tyto_schema::{FieldDef, FIELDS};
use tyto_store::{ListQuery, SessionReader};

use crate::auth::Authed;
use crate::body::stream_body;
use crate::params::{field_named, Params, MAX_PAGE};
use crate::stores::StoreBox;
use crate::{csv, ApiError, AppState};

/// Rows a CSV export holds at most.
const MAX_CSV_ROWS: usize = 1_000_000;
/// Rows fetched from the store per CSV chunk.
const CSV_CHUNK: usize = 5_000;
/// Values per field in an SPI view, and fields per request.
const MAX_SPI_VALUES: usize = 1_000;
const MAX_SPI_FIELDS: usize = 32;
/// Values listed by `unique` at most.
const MAX_UNIQUE: usize = 1_000_000;
/// Buckets a histogram aims for when no interval is given.
const TARGET_BUCKETS: i64 = 240;

/// `GET /api/sessions`: a page of matching sessions, the number matched and the
/// number in the time range.
pub async fn sessions(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    params: Params,
) -> Result<Json<Value>, ApiError> {
    let q = params.page(&authed.user, MAX_PAGE)?;
    // The total in range is what the user may see there, not what the store holds.
    let visible = params.visible(&authed.user)?;
    let out = state
        .stores
        .run(move |store| {
            let rows = store.list(&q)?;
            let matched = store.count_matching(&q)?;
            let in_range = store.count_matching(&visible)?;
            Ok(json!({ "data": rows, "recordsFiltered": matched, "recordsTotal": in_range }))
        })
        .await?;
    Ok(Json(out))
}

/// Columns of a CSV export when none are asked for (Arkime's default set, our names).
const CSV_DEFAULT: &[&str] = &[
    "id",
    "ip.protocol",
    "starttime",
    "stoptime",
    "ip.src",
    "port.src",
    "ip.dst",
    "port.dst",
    "packets",
    "bytes",
    "databytes",
    "protocols",
    "node",
];

/// `GET /api/sessions.csv`: the same search as `sessions`, as CSV (one row per session).
pub async fn sessions_csv(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    params: Params,
) -> Result<Response, ApiError> {
    let mut q = params.page(&authed.user, MAX_CSV_ROWS)?;
    let fields: Vec<&'static FieldDef> = match q.fields.take() {
        Some(f) => f,
        None => CSV_DEFAULT.iter().filter_map(|n| tyto_schema::field(n)).collect(),
    };
    q.fields = Some(fields.clone());
    let handle = state.stores.for_export()?;
    let body = stream_body(move |tx| {
        let store: StoreBox = handle.store;
        let header = csv::header(&fields);
        if tx.blocking_send(Ok(header.into())).is_err() {
            return;
        }
        let total = q.limit;
        let mut done = 0;
        while done < total {
            let page = ListQuery { limit: CSV_CHUNK.min(total - done), offset: q.offset + done, ..q.clone() };
            let rows = match store.list(&page) {
                Ok(r) => r,
                Err(e) => {
                    let _ = tx.blocking_send(Err(std::io::Error::other(e.to_string())));
                    return;
                }
            };
            let mut chunk = String::new();
            for r in &rows {
                csv::push_row(&mut chunk, &fields, r);
            }
            if tx.blocking_send(Ok(chunk.into())).is_err() || rows.len() < page.limit {
                return;
            }
            done += rows.len();
        }
    });
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (header::CONTENT_DISPOSITION, "attachment; filename=\"sessions.csv\""),
        ],
        body,
    )
        .into_response())
}

/// `GET /api/spiview?spi=field:N,field2:N`: the N most frequent values of each field.
pub async fn spiview(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    params: Params,
) -> Result<Json<Value>, ApiError> {
    let q = params.aggregate_search(&authed.user, state.sample_above)?;
    let spec = params.get("spi").ok_or_else(|| ApiError::bad_request("spi: missing (field:count,field:count…)"))?;
    let mut wanted: Vec<(&'static FieldDef, usize)> = Vec::new();
    for part in spec.split(',').filter(|p| !p.trim().is_empty()) {
        let (name, n) = part.split_once(':').unwrap_or((part, "100"));
        let f = field_named("spi", name)?;
        let n: usize = n.trim().parse().ok().filter(|n| (1..=MAX_SPI_VALUES).contains(n)).ok_or_else(|| {
            ApiError::bad_request(format!("spi: {n:?} after {name}: a count from 1 to {MAX_SPI_VALUES}"))
        })?;
        wanted.push((f, n));
    }
    if wanted.is_empty() || wanted.len() > MAX_SPI_FIELDS {
        return Err(ApiError::bad_request(format!("spi: from 1 to {MAX_SPI_FIELDS} fields")));
    }
    let out = state
        .stores
        .run(move |store| {
            let mut spi = Map::new();
            let mut sampled = Map::new();
            for (f, n) in wanted {
                let values = store.top_values(&q, f, n)?;
                spi.insert(f.name.to_string(), json!(values.rows));
                if let Some(p) = values.sample_percent {
                    sampled.insert(f.name.to_string(), json!(p));
                }
            }
            Ok(json!({ "recordsFiltered": store.count_matching(&q)?, "spi": spi, "samplePercent": sampled }))
        })
        .await?;
    Ok(Json(out))
}

/// A bucket width near `span / TARGET_BUCKETS`, rounded up to one a person reads easily.
pub fn nice_interval_s(span_ns: i64) -> i64 {
    tyto_schema::time::nice_interval_s(span_ns, TARGET_BUCKETS)
}

fn interval_for(params: &Params, store: &dyn SessionReader, q: &ListQuery) -> Result<i64, ApiError> {
    if let Some(v) = params.get("interval") {
        return v
            .trim()
            .parse::<i64>()
            .ok()
            .filter(|s| (1..=365 * 86_400).contains(s))
            .ok_or_else(|| ApiError::bad_request(format!("interval={v:?}: seconds per bucket, 1 to 31536000")));
    }
    let (a, b) = match (q.start_ns, q.stop_ns) {
        (Some(a), Some(b)) => (a, b),
        _ => {
            let s = store.stats()?;
            (q.start_ns.or(s.first_ns).unwrap_or(0), q.stop_ns.or(s.last_ns).unwrap_or(0))
        }
    };
    Ok(nice_interval_s(b.saturating_sub(a)))
}

/// `GET /api/histogram`: sessions, packets and bytes per time bucket (`interval`
/// seconds, or chosen so the range makes about 240 buckets).
pub async fn histogram(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    params: Params,
) -> Result<Json<Value>, ApiError> {
    let q = params.search(&authed.user)?;
    let out = state
        .stores
        .run(move |store| {
            let interval = interval_for(&params, store, &q)?;
            let buckets = store.histogram(&q, interval * 1_000_000_000)?;
            Ok(json!({ "interval": interval, "buckets": buckets }))
        })
        .await?;
    Ok(Json(out))
}

/// `GET /api/spigraph?field=F&size=N`: the N most frequent values of F, each with its
/// sessions per time bucket, plus the totals per bucket.
pub async fn spigraph(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    params: Params,
) -> Result<Json<Value>, ApiError> {
    let q = params.aggregate_search(&authed.user, state.sample_above)?;
    let f = params.field("field", Some("node"))?;
    let size = params.number("size", 20, 100)?.max(1);
    let out = state
        .stores
        .run(move |store| {
            let interval = interval_for(&params, store, &q)?;
            let series = store.value_histogram(&q, f, size, interval * 1_000_000_000)?;
            let totals = store.histogram(&q, interval * 1_000_000_000)?;
            Ok(json!({
                "field": f.name,
                "interval": interval,
                "items": series.rows,
                "samplePercent": series.sample_percent,
                "totals": totals,
            }))
        })
        .await?;
    Ok(Json(out))
}

/// `GET /api/connections`: the heaviest links between values of `srcField` and
/// `dstField` (default source and destination IP), and the nodes they join.
pub async fn connections(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    params: Params,
) -> Result<Json<Value>, ApiError> {
    let q = params.aggregate_search(&authed.user, state.sample_above)?;
    let src = params.field("srcField", Some("ip.src"))?;
    let dst = params.field("dstField", Some("ip.dst"))?;
    let n = params.number("length", 100, 10_000)?.max(1);
    let out = state
        .stores
        .run(move |store| {
            let links = store.connections(&q, src, dst, n)?;
            // Nodes: each value once, with the side(s) it was seen on and its totals.
            let mut index: HashMap<String, usize> = HashMap::new();
            let mut nodes: Vec<Value> = Vec::new();
            let mut node = |v: &Value, side: u8, l: &tyto_store::Link| {
                let key = v.to_string();
                let i = *index.entry(key).or_insert_with(|| {
                    nodes.push(json!({ "id": v, "type": 0, "sessions": 0, "packets": 0, "bytes": 0 }));
                    nodes.len() - 1
                });
                let n = &mut nodes[i];
                n["type"] = (n["type"].as_u64().unwrap_or(0) | u64::from(side)).into();
                for (k, add) in [("sessions", l.sessions), ("packets", l.packets), ("bytes", l.bytes)] {
                    n[k] = (n[k].as_u64().unwrap_or(0) + add).into();
                }
            };
            for l in &links.rows {
                node(&l.src, 1, l);
                node(&l.dst, 2, l);
            }
            Ok(json!({
                "srcField": src.name,
                "dstField": dst.name,
                "recordsFiltered": store.count_matching(&q)?,
                "nodes": nodes,
                "links": links.rows,
                "samplePercent": links.sample_percent,
            }))
        })
        .await?;
    Ok(Json(out))
}

/// `GET /api/unique?field=F[&counts=1]`: the distinct values of F among matching
/// sessions, most frequent first, one per line (`value, count` with counts).
pub async fn unique(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    params: Params,
) -> Result<Response, ApiError> {
    let q = params.search(&authed.user)?;
    let f = params.field(if params.get("exp").is_some() { "exp" } else { "field" }, None)?;
    let n = params.number("length", 100_000, MAX_UNIQUE)?.max(1);
    let counts = params.flag("counts");
    let values = state.stores.run(move |store| Ok(store.top_values(&q, f, n)?)).await?;
    let mut text = String::new();
    for v in values.rows {
        let shown = match &v.value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        text.push_str(&shown);
        if counts {
            text.push_str(&format!(", {}", v.count));
        }
        text.push('\n');
    }
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response())
}

/// `GET /api/multiunique` (and `/multiunique.txt`), as Arkime's: `exp` a comma list
/// of fields; each line the values a session holds together, most frequent first,
/// joined by `separator` (`, `), with `counts=1` the number of sessions after one
/// more; `length` lines at most.
pub async fn multiunique(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    params: Params,
) -> Result<Response, ApiError> {
    let q = params.search(&authed.user)?;
    let names = params.get("exp").or(params.get("fields")).unwrap_or_default();
    let fields = names
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(|n| crate::params::field_named("exp", n))
        .collect::<Result<Vec<_>, _>>()?;
    if fields.is_empty() || fields.len() > tyto_store::MAX_COMBINED_FIELDS {
        return Err(ApiError::bad_request(format!(
            "exp: 1 to {} field names, separated by commas",
            tyto_store::MAX_COMBINED_FIELDS
        )));
    }
    let n = params.number("length", 100_000, MAX_UNIQUE)?.max(1);
    let counts = params.flag("counts");
    let separator = params.get("separator").unwrap_or(", ").to_string();
    if separator.len() > 16 {
        return Err(ApiError::bad_request("separator: at most 16 bytes"));
    }
    let combos = state.stores.run(move |store| Ok(store.top_combinations(&q, &fields, n)?)).await?;
    let mut text = String::new();
    for c in combos {
        let shown: Vec<String> = c
            .values
            .iter()
            .map(|v| match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect();
        text.push_str(&shown.join(&separator));
        if counts {
            text.push_str(&separator);
            text.push_str(&c.count.to_string());
        }
        text.push('\n');
    }
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response())
}

/// `GET /api/histories`: what users asked of this viewer (searches, views, exports,
/// tag changes, uploads), newest first, a page at a time (`start`, `length`): an
/// admin's of everyone (or of `user`), anyone else's of themselves; `searchTerm` (or
/// `text`) a piece of the route or a parameter; `startTime`/`stopTime` in epoch
/// seconds.
pub async fn histories(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    params: Params,
) -> Result<Json<Value>, ApiError> {
    let user = match params.get("user") {
        _ if !authed.user.admin => Some(authed.user.name.clone()),
        Some(u) => Some(u.to_string()),
        None => None,
    };
    let seconds = |name: &str| -> Result<Option<i64>, ApiError> {
        params
            .get(name)
            .map(|v| {
                v.trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|s| s.is_finite() && s.abs() < 1e11)
                    .map(|s| (s * 1000.0) as i64)
                    .ok_or_else(|| ApiError::bad_request(format!("{name}={v:?}: epoch seconds")))
            })
            .transpose()
    };
    let q = crate::history::HistoryQuery {
        user,
        text: params.get("searchTerm").or(params.get("text")).map(String::from),
        start_ms: seconds("startTime")?,
        stop_ms: seconds("stopTime")?,
        offset: params.number("start", 0, 10_000_000)?,
        limit: params.number("length", 100, MAX_PAGE)?,
    };
    let history = state.history.clone();
    let (total, entries) =
        crate::blocking(move || history.list(&q).map_err(|e| ApiError::internal(format!("reading the history: {e}"))))
            .await?;
    Ok(Json(json!({ "data": entries, "recordsFiltered": total })))
}

/// `GET /api/fields`: the catalogue, for completion and column choosers: every
/// field, then the names that stand for several fields (they carry `members`).
pub async fn fields() -> Json<Value> {
    let list: Vec<Value> = FIELDS
        .iter()
        .filter(|f| f.in_dump)
        .map(|f| f.to_json())
        .chain(tyto_schema::FIELD_SETS.iter().map(|s| s.to_json()))
        .collect();
    Json(Value::Array(list))
}

/// `GET /api/transactions`: request/answer pairs of the sessions `expression`
/// matches (with the user's forced expression, as every search), newest first, or
/// the `slowest` N; `kind` and `failed` narrow them.
pub async fn transactions(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    params: Params,
) -> Result<Json<Value>, ApiError> {
    let sessions = params.search(&authed.user)?;
    let kind = transaction_kind(&params)?;
    let failed = match params.get("failed").unwrap_or("false") {
        "true" | "1" => true,
        "false" | "0" => false,
        other => return Err(ApiError::bad_request(format!("failed={other:?}: true or false"))),
    };
    let slowest = params.get("slowest").is_some();
    let limit =
        if slowest { params.number("slowest", 100, MAX_PAGE)? } else { params.number("length", 100, MAX_PAGE)? };
    let q = tyto_store::TransactionQuery { sessions, kind, failed, slowest, limit };
    let rows = state.stores.run(move |store| Ok(store.transactions(&q)?)).await?;
    Ok(Json(json!({ "data": rows })))
}

/// `GET /api/services`: the busiest services (server address, port and protocol) of
/// the sessions `expression` matches — requests, failures, response time p50/p95/p99
/// — each with its requests, failures and p95 per time bucket (`interval` seconds,
/// or about 240 buckets over the search's range, or 60 over the service's own).
pub async fn services(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    params: Params,
) -> Result<Json<Value>, ApiError> {
    let sessions = params.search(&authed.user)?;
    let kind = transaction_kind(&params)?;
    let limit = params.number("length", 20, 200)?;
    // One width for every service when asked for, or when the search has a time
    // range; else each service's own, from its first to its last transaction (a
    // store spanning years holds services that answered for minutes).
    let shared = params.get("interval").is_some() || (sessions.start_ns.is_some() && sessions.stop_ns.is_some());
    let out = state
        .stores
        .run(move |store| {
            let bucket_ns = if shared { Some(interval_for(&params, store, &sessions)? * 1_000_000_000) } else { None };
            let q = tyto_store::ServiceQuery { sessions, kind, limit, bucket_ns };
            Ok(json!({ "services": store.services(&q)? }))
        })
        .await?;
    Ok(Json(out))
}

/// `kind=`: one of the transaction kinds, if given.
fn transaction_kind(params: &Params) -> Result<Option<String>, ApiError> {
    let Some(k) = params.get("kind").map(str::trim).filter(|k| !k.is_empty()) else { return Ok(None) };
    match tyto_schema::TRANSACTION_KINDS.iter().find(|known| **known == k) {
        Some(k) => Ok(Some(k.to_string())),
        None => Err(ApiError::bad_request(format!("kind={k:?}: one of {}", tyto_schema::TRANSACTION_KINDS.join(", ")))),
    }
}

/// `GET /api/alerts`: alerts raised by the detectors, newest first (`order=asc` for
/// oldest first), a page at a time (`start`, `length`), within the time range of
/// `startTime`/`stopTime` or `date` (as for sessions), narrowed by `detector` (`rule:*`
/// for every rule), `source`, `severity` (that or higher) and `text` (in the message,
/// source or targets). Each alert carries the expression that finds its evidence.
pub async fn alerts(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    params: Params,
) -> Result<Json<Value>, ApiError> {
    if authed.user.expression.as_deref().is_some_and(|e| !e.trim().is_empty()) {
        // Alerts are about hosts the user's forced expression may hide.
        return Err(ApiError::forbidden(format!(
            "user {} sees sessions through a forced expression, and alerts are not filtered by it",
            authed.user.name
        )));
    }
    let range = params.search(&authed.user)?;
    let min_severity = match params.get("severity").filter(|s| !s.is_empty()) {
        Some(s) => Some(
            tyto_schema::Severity::parse(s)
                .ok_or_else(|| ApiError::bad_request(format!("severity={s:?}: low, medium or high")))?,
        ),
        None => None,
    };
    let newest_first = match params.get("order").unwrap_or("desc") {
        "desc" => true,
        "asc" => false,
        other => return Err(ApiError::bad_request(format!("order={other:?}: asc or desc"))),
    };
    let text = |name: &str| params.get(name).map(str::trim).filter(|v| !v.is_empty()).map(String::from);
    let q = tyto_store::AlertQuery {
        start_ns: range.start_ns,
        stop_ns: range.stop_ns,
        detector: text("detector"),
        source: text("source"),
        min_severity,
        text: text("text"),
        offset: params.number("start", 0, 1_000_000)?,
        limit: params.number("length", 100, MAX_PAGE)?,
        newest_first,
    };
    let (total, rows) = state.stores.run(move |store| Ok(store.alerts(&q)?)).await?;
    Ok(Json(json!({ "data": rows, "recordsFiltered": total })))
}

/// `GET /api/stats`: what the store holds, disk space, uptime. A user who sees part
/// of the sessions gets the number they can see and nothing of the whole.
pub async fn stats(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    params: Params,
) -> Result<Json<Value>, ApiError> {
    let uptime = state.started.elapsed().as_secs();
    if authed.user.is_restricted() {
        let visible = params.visible(&authed.user)?;
        let sessions = state.stores.run(move |store| Ok(store.count_matching(&visible)?)).await?;
        return Ok(Json(json!({
            "version": env!("CARGO_PKG_VERSION"),
            "uptime_s": uptime,
            "store": { "sessions": sessions },
            "restricted": true,
        })));
    }
    let data_dir = state.data_dir.clone();
    let capture = state.live.as_deref().map(|l| l.json());
    let alert_sinks = crate::metrics::parts_json(&state.alert_sinks);
    let outputs = crate::metrics::parts_json(&state.outputs);
    let intel = state.intel.as_deref().map(|i| i.json());
    let spool = crate::metrics::spool_json(state.spool.as_deref());
    let queue = crate::metrics::queue_json(state.queue.as_deref());
    let out = state
        .stores
        .run(move |store| {
            let s = store.stats()?;
            let db_bytes = s.stored_bytes;
            let (free, total) = tyto_pcapstore::disk_space(&data_dir).unwrap_or((0, 0));
            Ok(json!({
                "version": env!("CARGO_PKG_VERSION"),
                "uptime_s": uptime,
                "store": s,
                "db_bytes": db_bytes,
                "disk_free_bytes": free,
                "disk_total_bytes": total,
                "capture": capture,
                "alert_sinks": alert_sinks,
                "exports": outputs,
                "intel": intel,
                "spool": spool,
                "queue": queue,
            }))
        })
        .await?;
    Ok(Json(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_make_a_readable_number_of_buckets() {
        assert_eq!(nice_interval_s(0), 1);
        assert_eq!(nice_interval_s(60 * 1_000_000_000), 1);
        assert_eq!(nice_interval_s(3600 * 1_000_000_000), 30);
        assert_eq!(nice_interval_s(86_400 * 1_000_000_000), 600);
        assert_eq!(nice_interval_s(i64::MAX), 365 * 86_400);
    }
}
