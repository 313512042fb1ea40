//! ClickHouse's aggregations for the viewer and the ordered walk of PCAP export:
//! the same answers as DuckDB's, in 18.16's SQL (no CTEs: sub-selects instead;
//! `arrayJoin` for a list's values).

use serde_json::Value as Json;
use tyto_schema::{FieldDef, FieldKind};

use super::{json_i64, json_str, json_u64, lit, present, where_clause, ClickStore};
use crate::{Bucket, Link, ListQuery, NodeFiles, SessionPositions, StoreError, StoreStats, ValueCount, ValueSeries};

/// `v` (one row per distinct value a session holds) beside `extra` columns, for
/// matching sessions that hold a value.
fn values_of(field: &FieldDef, extra: &[&str], cond: &str) -> String {
    let v = if field.multi {
        format!("arrayJoin(arrayDistinct(\"{}\"))", field.column)
    } else {
        format!("\"{}\"", field.column)
    };
    let mut cols = vec![format!("{v} AS v")];
    cols.extend(extra.iter().map(|c| c.to_string()));
    format!("SELECT * FROM (SELECT {} FROM sessions WHERE {cond}) WHERE {}", cols.join(", "), present(field, "v"))
}

/// A value of `field` named `v` as selected for output.
fn shown(field: &FieldDef, v: &str) -> String {
    match field.kind {
        FieldKind::Ip => format!("hex({v})"),
        _ => v.to_string(),
    }
}

/// A single value read back (the field's kind, not a list).
fn value(field: &FieldDef, v: Json) -> Option<Json> {
    super::scalar(field.kind, v)
}

fn bucket_expr(bucket_ns: i64) -> String {
    let us = (bucket_ns / 1000).max(1);
    format!("intDiv(start_time, {us}) * {us}")
}

pub(crate) fn top_values(
    store: &ClickStore,
    q: &ListQuery,
    field: &FieldDef,
    n: usize,
) -> Result<Vec<ValueCount>, StoreError> {
    let sql = format!(
        "SELECT {}, count() AS c FROM ({}) GROUP BY v ORDER BY c DESC, v LIMIT {}",
        shown(field, "v"),
        values_of(field, &[], &where_clause(q)),
        n.max(1)
    );
    Ok(store
        .http
        .rows(&sql)?
        .into_iter()
        .filter_map(|mut r| {
            let count = json_u64(r.get(1)?);
            Some(ValueCount { value: value(field, r.get_mut(0)?.take())?, count })
        })
        .collect())
}

pub(crate) fn histogram(store: &ClickStore, q: &ListQuery, bucket_ns: i64) -> Result<Vec<Bucket>, StoreError> {
    let sql = format!(
        "SELECT {} AS b, count(), sum(packets), sum(bytes), sum(databytes) FROM sessions WHERE {} \
         GROUP BY b ORDER BY b",
        bucket_expr(bucket_ns),
        where_clause(q)
    );
    Ok(store
        .http
        .rows(&sql)?
        .iter()
        .map(|r| {
            let at = |i: usize| r.get(i).map_or(0, json_u64);
            Bucket {
                start_ns: r.first().map_or(0, json_i64).saturating_mul(1000),
                sessions: at(1),
                packets: at(2),
                bytes: at(3),
                databytes: at(4),
            }
        })
        .collect())
}

pub(crate) fn value_histogram(
    store: &ClickStore,
    q: &ListQuery,
    field: &FieldDef,
    n: usize,
    bucket_ns: i64,
) -> Result<Vec<ValueSeries>, StoreError> {
    let top = top_values(store, q, field, n)?;
    if top.is_empty() {
        return Ok(Vec::new());
    }
    let cond = where_clause(q);
    let b = format!("{} AS b", bucket_expr(bucket_ns));
    // The top values chosen again inside the query (as DuckDB's does): a value's SQL
    // form depends on its column type.
    let sql = format!(
        "SELECT {}, b, count() FROM ({}) WHERE v {} (SELECT v FROM ({}) GROUP BY v ORDER BY count() DESC, v LIMIT {}) \
         GROUP BY v, b ORDER BY v, b",
        shown(field, "v"),
        values_of(field, &[&b], &cond),
        store.in_op(),
        values_of(field, &[], &cond),
        n.max(1)
    );
    let mut out: Vec<ValueSeries> =
        top.into_iter().map(|t| ValueSeries { value: t.value, count: t.count, buckets: Vec::new() }).collect();
    for mut r in store.http.rows(&sql)? {
        let Some(v) = r.get_mut(0).map(Json::take).and_then(|v| value(field, v)) else { continue };
        if let Some(series) = out.iter_mut().find(|s| s.value == v) {
            series.buckets.push((r.get(1).map_or(0, json_i64).saturating_mul(1000), r.get(2).map_or(0, json_u64)));
        }
    }
    Ok(out)
}

pub(crate) fn connections(
    store: &ClickStore,
    q: &ListQuery,
    src: &FieldDef,
    dst: &FieldDef,
    n: usize,
) -> Result<Vec<Link>, StoreError> {
    let d0 = format!("\"{}\" AS d0", dst.column);
    let inner = values_of(src, &[&d0, "packets", "bytes"], &where_clause(q));
    let d = if dst.multi { "arrayJoin(arrayDistinct(d0))" } else { "d0" };
    let sql = format!(
        "SELECT {}, {}, count() AS c, sum(packets), sum(bytes) FROM \
         (SELECT * FROM (SELECT v AS s, {d} AS d, packets, bytes FROM ({inner})) WHERE {}) \
         GROUP BY s, d ORDER BY c DESC, s, d LIMIT {}",
        shown(src, "s"),
        shown(dst, "d"),
        super::present(dst, "d"),
        n.max(1)
    );
    Ok(store
        .http
        .rows(&sql)?
        .into_iter()
        .filter_map(|mut r| {
            let at = |r: &Vec<Json>, i: usize| r.get(i).map_or(0, json_u64);
            let (sessions, packets, bytes) = (at(&r, 2), at(&r, 3), at(&r, 4));
            let s = value(src, r.get_mut(0)?.take())?;
            let d = value(dst, r.get_mut(1)?.take())?;
            Some(Link { src: s, dst: d, sessions, packets, bytes })
        })
        .collect())
}

/// A row of `id, node, start_time, packet_pos`.
pub(crate) fn positions_of(r: &[Json]) -> SessionPositions {
    SessionPositions {
        id: r.first().map(json_str).unwrap_or_default(),
        node: r.get(1).map(json_str).unwrap_or_default(),
        start_ns: r.get(2).map_or(0, json_i64).saturating_mul(1000),
        positions: r.get(3).and_then(Json::as_array).map(|a| a.iter().map(json_i64).collect()).unwrap_or_default(),
    }
}

pub(crate) fn positions_in_order(
    store: &ClickStore,
    q: &ListQuery,
    after: Option<&SessionPositions>,
    n: usize,
) -> Result<Vec<SessionPositions>, StoreError> {
    let mut cond = where_clause(q);
    // Keyset paging, as DuckDB's: each page starts after the last row of the one before.
    if let Some(a) = after {
        let t = a.start_ns.div_euclid(1000);
        cond.push_str(&format!(" AND (start_time > {t} OR (start_time = {t} AND id > {}))", lit(&a.id)));
    }
    let sql = format!(
        "SELECT id, node, start_time, packet_pos FROM sessions WHERE {cond} ORDER BY start_time, id LIMIT {}",
        n.max(1)
    );
    Ok(store.http.rows(&sql)?.iter().map(|r| positions_of(r)).collect())
}

pub(crate) fn stats(store: &ClickStore) -> Result<StoreStats, StoreError> {
    let rows = store.http.rows("SELECT count(), min(start_time), max(stop_time) FROM sessions")?;
    let r = rows.first().cloned().unwrap_or_default();
    let sessions = r.first().map_or(0, json_u64);
    let (first_ns, last_ns) = if sessions == 0 {
        (None, None)
    } else {
        (r.get(1).map(|v| json_i64(v).saturating_mul(1000)), r.get(2).map(|v| json_i64(v).saturating_mul(1000)))
    };
    let nodes = store
        .http
        .rows("SELECT node, count(), sum(packets), sum(bytes) FROM files GROUP BY node ORDER BY node")?
        .iter()
        .map(|r| NodeFiles {
            node: r.first().map(json_str).unwrap_or_default(),
            files: r.get(1).map_or(0, json_u64),
            packets: r.get(2).map_or(0, json_u64),
            bytes: r.get(3).map_or(0, json_u64),
        })
        .collect();
    let link_types = store
        .http
        .rows("SELECT DISTINCT link_type FROM files ORDER BY link_type")?
        .iter()
        .filter_map(|r| r.first().and_then(Json::as_u64).and_then(|v| u32::try_from(v).ok()))
        .collect();
    let db = lit(&store.cfg.database);
    let tables = ["sessions", "files", "inputs", "alerts"].map(|t| lit(&store.local(t))).join(", ");
    let stored_bytes = store.http.in_database("system").number(&format!(
        "SELECT sum(bytes) FROM system.parts WHERE database = {db} AND table IN ({tables}) AND active"
    ))?;
    Ok(StoreStats { sessions, first_ns, last_ns, nodes, link_types, stored_bytes: stored_bytes.max(0) as u64 })
}
