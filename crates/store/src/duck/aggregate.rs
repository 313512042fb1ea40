//! DuckDB's aggregations for the viewer (value counts, histograms, connection graphs) and the
//! ordered walk that query-wide PCAP export needs, done in DuckDB so that only the
//! answer, never the matching rows, leaves the store.

use duckdb::types::Value;
use tyto_schema::FieldDef;

use super::{from_duck, where_clause, DuckStore};
use crate::{Bucket, Link, ListQuery, NodeFiles, SessionPositions, StoreError, StoreStats, ValueCount, ValueSeries};

/// Values of `field` (one row per distinct value a session holds) beside `extra`
/// columns, for matching sessions: the SQL of a sub-select with columns `v`, then the
/// extras under their own names.
fn values_of(field: &FieldDef, extra: &[&str], cond: &str) -> String {
    let mut cols = vec![if field.multi {
        format!("unnest(list_distinct(\"{}\")) AS v", field.column)
    } else {
        format!("\"{}\" AS v", field.column)
    }];
    cols.extend(extra.iter().map(|c| c.to_string()));
    format!("SELECT {} FROM sessions WHERE {cond}", cols.join(", "))
}

fn bucket_expr(bucket_ns: i64) -> String {
    // Microseconds: what DuckDB's timestamps hold.
    let us = (bucket_ns / 1000).max(1);
    format!("(epoch_us(start_time) // {us}) * {us} AS b")
}

fn count(v: Value) -> u64 {
    match v {
        Value::BigInt(i) => i.max(0) as u64,
        Value::HugeInt(i) => i.clamp(0, u64::MAX as i128) as u64,
        Value::UBigInt(u) => u,
        Value::Int(i) => i.max(0) as u64,
        Value::Double(d) => d.max(0.0) as u64,
        _ => 0,
    }
}

fn int(v: Value) -> i64 {
    match v {
        Value::BigInt(i) => i,
        Value::HugeInt(i) => i.clamp(i64::MIN as i128, i64::MAX as i128) as i64,
        Value::Int(i) => i.into(),
        _ => 0,
    }
}

pub(crate) fn top_values(
    store: &DuckStore,
    q: &ListQuery,
    field: &FieldDef,
    n: usize,
) -> Result<Vec<ValueCount>, StoreError> {
    let (cond, args) = where_clause(q);
    let sql = format!(
        "SELECT v, count(*) AS c FROM ({}) WHERE v IS NOT NULL GROUP BY v ORDER BY c DESC, v LIMIT {}",
        values_of(field, &[], &cond),
        n.max(1)
    );
    let mut stmt = store.conn.prepare(&sql)?;
    let mut rows = stmt.query(duckdb::params_from_iter(args.iter()))?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        if let Some(value) = from_duck(row.get(0)?) {
            out.push(ValueCount { value, count: count(row.get(1)?) });
        }
    }
    Ok(out)
}

pub(crate) fn histogram(store: &DuckStore, q: &ListQuery, bucket_ns: i64) -> Result<Vec<Bucket>, StoreError> {
    let (cond, args) = where_clause(q);
    let sql = format!(
        "SELECT b, count(*), sum(packets), sum(bytes), sum(databytes) FROM \
         (SELECT {}, packets, bytes, databytes FROM sessions WHERE {cond}) GROUP BY b ORDER BY b",
        bucket_expr(bucket_ns)
    );
    let mut stmt = store.conn.prepare(&sql)?;
    let mut rows = stmt.query(duckdb::params_from_iter(args.iter()))?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(Bucket {
            start_ns: int(row.get(0)?).saturating_mul(1000),
            sessions: count(row.get(1)?),
            packets: count(row.get(2)?),
            bytes: count(row.get(3)?),
            databytes: count(row.get(4)?),
        });
    }
    Ok(out)
}

pub(crate) fn value_histogram(
    store: &DuckStore,
    q: &ListQuery,
    field: &FieldDef,
    n: usize,
    bucket_ns: i64,
) -> Result<Vec<ValueSeries>, StoreError> {
    let top = top_values(store, q, field, n)?;
    if top.is_empty() {
        return Ok(Vec::new());
    }
    let (cond, args) = where_clause(q);
    let b = bucket_expr(bucket_ns);
    // The top values are chosen again inside the query rather than passed back as
    // literals: a value's SQL form depends on its column type (addresses are numbers).
    let sql = format!(
        "WITH vals AS ({}), top AS (SELECT v FROM vals WHERE v IS NOT NULL GROUP BY v ORDER BY count(*) DESC, v LIMIT {}) \
         SELECT v, b, count(*) FROM vals WHERE v IN (SELECT v FROM top) GROUP BY v, b ORDER BY v, b",
        values_of(field, &[&b], &cond),
        n.max(1)
    );
    let mut stmt = store.conn.prepare(&sql)?;
    let mut rows = stmt.query(duckdb::params_from_iter(args.iter()))?;
    let mut out: Vec<ValueSeries> =
        top.into_iter().map(|t| ValueSeries { value: t.value, count: t.count, buckets: Vec::new() }).collect();
    while let Some(row) = rows.next()? {
        let Some(value) = from_duck(row.get(0)?) else { continue };
        if let Some(series) = out.iter_mut().find(|s| s.value == value) {
            series.buckets.push((int(row.get(1)?).saturating_mul(1000), count(row.get(2)?)));
        }
    }
    Ok(out)
}

pub(crate) fn connections(
    store: &DuckStore,
    q: &ListQuery,
    src: &FieldDef,
    dst: &FieldDef,
    n: usize,
) -> Result<Vec<Link>, StoreError> {
    let (cond, args) = where_clause(q);
    // Source values first, then destination values unnested over them: a session
    // with two hosts and one address gives two links.
    let inner = values_of(src, &[&format!("\"{}\" AS d", dst.column), "packets", "bytes"], &cond);
    let d = if dst.multi { "unnest(list_distinct(d))" } else { "d" };
    let sql = format!(
        "SELECT s, d, count(*) AS c, sum(packets), sum(bytes) FROM \
         (SELECT v AS s, {d} AS d, packets, bytes FROM ({inner}) WHERE v IS NOT NULL) \
         WHERE d IS NOT NULL GROUP BY s, d ORDER BY c DESC, s, d LIMIT {}",
        n.max(1)
    );
    let mut stmt = store.conn.prepare(&sql)?;
    let mut rows = stmt.query(duckdb::params_from_iter(args.iter()))?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let (Some(s), Some(d)) = (from_duck(row.get(0)?), from_duck(row.get(1)?)) else { continue };
        out.push(Link {
            src: s,
            dst: d,
            sessions: count(row.get(2)?),
            packets: count(row.get(3)?),
            bytes: count(row.get(4)?),
        });
    }
    Ok(out)
}

pub(crate) fn positions_in_order(
    store: &DuckStore,
    q: &ListQuery,
    after: Option<&SessionPositions>,
    n: usize,
) -> Result<Vec<SessionPositions>, StoreError> {
    let (mut cond, mut args) = where_clause(q);
    // Keyset paging: each page starts after the last row of the one before, so a
    // walk over millions of rows never re-reads what it skipped.
    if let Some(a) = after {
        cond.push_str(" AND (start_time > ? OR (start_time = ? AND id > ?))");
        args.push(super::ts(a.start_ns));
        args.push(super::ts(a.start_ns));
        args.push(Value::Text(a.id.clone()));
    }
    let sql = format!(
        "SELECT id, node, epoch_us(start_time), packet_pos FROM sessions WHERE {cond} ORDER BY start_time, id LIMIT {}",
        n.max(1)
    );
    let mut stmt = store.conn.prepare(&sql)?;
    let mut rows = stmt.query(duckdb::params_from_iter(args.iter()))?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let positions = match row.get::<_, Value>(3)? {
            Value::List(items) => items.into_iter().map(int).collect(),
            _ => Vec::new(),
        };
        out.push(SessionPositions {
            id: row.get(0)?,
            node: row.get(1)?,
            start_ns: int(row.get(2)?).saturating_mul(1000),
            positions,
        });
    }
    Ok(out)
}

pub(crate) fn stats(store: &DuckStore) -> Result<StoreStats, StoreError> {
    let (sessions, first, last): (i64, Option<i64>, Option<i64>) = store.conn.query_row(
        "SELECT count(*), epoch_us(min(start_time)), epoch_us(max(stop_time)) FROM sessions",
        [],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    let mut stmt = store.conn.prepare(
        "SELECT node, count(*), coalesce(sum(packets), 0)::BIGINT, coalesce(sum(bytes), 0)::BIGINT \
         FROM files GROUP BY node ORDER BY node",
    )?;
    let nodes = stmt
        .query_map([], |r| {
            Ok(NodeFiles {
                node: r.get(0)?,
                files: r.get::<_, i64>(1)?.max(0) as u64,
                packets: r.get::<_, i64>(2)?.max(0) as u64,
                bytes: r.get::<_, i64>(3)?.max(0) as u64,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let mut stmt = store.conn.prepare("SELECT DISTINCT link_type FROM files ORDER BY link_type")?;
    let link_types = stmt.query_map([], |r| r.get::<_, u32>(0))?.collect::<Result<Vec<_>, _>>()?;
    Ok(StoreStats {
        sessions: sessions.max(0) as u64,
        first_ns: first.map(|t| t.saturating_mul(1000)),
        last_ns: last.map(|t| t.saturating_mul(1000)),
        nodes,
        link_types,
        stored_bytes: std::fs::metadata(&store.path).map_or(0, |m| m.len()),
    })
}
