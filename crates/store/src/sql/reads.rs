//! The reads every store answers the same way — counts, a field's top values,
//! histograms, connections, the ordered walk of PCAP export — written once over a
//! dialect's [`Shapes`] and run through a [`Backend`], which gives each answer's rows
//! as JSON. Only the answer leaves the store, never the matching rows.

use serde_json::{Map, Value as Json};
use tyto_schema::FieldDef;

use super::{where_clause, Dialect};
use crate::{Bucket, Link, ListQuery, SessionPositions, StoreError, ValueCount, ValueSeries};

/// The pieces of SQL the aggregate queries are made of, per dialect.
pub(crate) trait Shapes: Dialect {
    /// `FROM` reaching the sessions table and the tables of `fields` (joined when
    /// every row needs the field, `inner`, else left-joined).
    fn from(&self, fields: &[&FieldDef], inner: bool) -> String;
    /// One row per distinct element of a list column.
    fn unnest_distinct(&self, column: &str) -> String;
    /// `v`, a value of `f`, is there (not "none").
    fn present(&self, f: &FieldDef, v: &str) -> String;
    /// `v`, a value of `f`, as selected for reading back.
    fn shown(&self, f: &FieldDef, v: &str) -> String;
    /// The start of a session's time bucket of `us` microseconds, in microseconds.
    fn bucket(&self, us: i64) -> String;
    /// The session's start time in microseconds.
    fn start_us(&self) -> &'static str;
    /// A sum of a column, as a 64-bit number (0 over no rows).
    fn sum(&self, column: &str) -> String;
    /// `IN` with a sub-select.
    fn in_op(&self) -> &'static str;
}

/// A store that runs SQL.
pub(crate) trait Backend {
    fn shapes(&self) -> &dyn Shapes;
    /// The rows of a query, each as its columns' JSON values (numbers as numbers).
    fn rows(&self, sql: &str) -> Result<Vec<Vec<Json>>, StoreError>;
    /// A value of `f`, as [`Shapes::shown`] selects it, in the form the API shows
    /// (`None` for "none").
    fn value(&self, f: &FieldDef, raw: Json) -> Option<Json>;
}

pub(crate) fn json_u64(v: &Json) -> u64 {
    v.as_u64().or_else(|| v.as_f64().map(|f| f.max(0.0) as u64)).or_else(|| v.as_str()?.parse().ok()).unwrap_or(0)
}

pub(crate) fn json_i64(v: &Json) -> i64 {
    v.as_i64().or_else(|| v.as_f64().map(|f| f as i64)).or_else(|| v.as_str()?.parse().ok()).unwrap_or(0)
}

pub(crate) fn json_str(v: &Json) -> String {
    v.as_str().unwrap_or_default().to_string()
}

/// Values of `field` as `v` (a row per distinct value a session holds) beside the
/// `extra` columns (of `sessions`, or of the tables of `with`), for sessions matching
/// `cond`, without rows that hold none.
fn values_of(s: &dyn Shapes, field: &FieldDef, extra: &[String], with: &[&FieldDef], cond: &str) -> String {
    let v = if field.multi { s.unnest_distinct(&s.column(field)) } else { s.column(field) };
    let mut cols = vec![format!("{v} AS v")];
    cols.extend(extra.iter().cloned());
    let mut tables = vec![field];
    tables.extend(with.iter().copied());
    format!(
        "SELECT * FROM (SELECT {} FROM {} WHERE {cond}) WHERE {}",
        cols.join(", "),
        s.from(&tables, true),
        s.present(field, "v")
    )
}

pub(crate) fn count_matching(b: &dyn Backend, q: &ListQuery) -> Result<u64, StoreError> {
    let cond = where_clause(b.shapes(), q);
    let rows = b.rows(&format!("SELECT count(*) FROM sessions WHERE {cond}"))?;
    Ok(rows.first().and_then(|r| r.first()).map_or(0, json_u64))
}

pub(crate) fn top_values(
    b: &dyn Backend,
    q: &ListQuery,
    field: &FieldDef,
    n: usize,
) -> Result<Vec<ValueCount>, StoreError> {
    let s = b.shapes();
    let cond = where_clause(s, q);
    let sql = if field.multi {
        // Sessions' lists repeat (`protocols` above all): counted as whole lists
        // first, each distinct list is taken apart once rather than every session's.
        format!(
            "SELECT {}, {} AS c FROM (SELECT {} AS v, k FROM \
             (SELECT {} AS l, count(*) AS k FROM {} WHERE {cond} GROUP BY l)) \
             WHERE {} GROUP BY v ORDER BY c DESC, v LIMIT {}",
            s.shown(field, "v"),
            s.sum("k"),
            s.unnest_distinct("l"),
            s.column(field),
            s.from(&[field], true),
            s.present(field, "v"),
            n.max(1)
        )
    } else {
        format!(
            "SELECT {}, count(*) AS c FROM ({}) GROUP BY v ORDER BY c DESC, v LIMIT {}",
            s.shown(field, "v"),
            values_of(s, field, &[], &[], &cond),
            n.max(1)
        )
    };
    Ok(b.rows(&sql)?
        .into_iter()
        .filter_map(|mut r| {
            let count = json_u64(r.get(1)?);
            Some(ValueCount { value: b.value(field, r.get_mut(0)?.take())?, count })
        })
        .collect())
}

pub(crate) fn histogram(b: &dyn Backend, q: &ListQuery, bucket_ns: i64) -> Result<Vec<Bucket>, StoreError> {
    let s = b.shapes();
    let us = (bucket_ns / 1000).max(1);
    let sql = format!(
        "SELECT {} AS b, count(*), {}, {}, {} FROM sessions WHERE {} GROUP BY b ORDER BY b",
        s.bucket(us),
        s.sum("packets"),
        s.sum("bytes"),
        s.sum("databytes"),
        where_clause(s, q)
    );
    Ok(b.rows(&sql)?
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
    b: &dyn Backend,
    q: &ListQuery,
    field: &FieldDef,
    n: usize,
    bucket_ns: i64,
) -> Result<Vec<ValueSeries>, StoreError> {
    let top = top_values(b, q, field, n)?;
    if top.is_empty() {
        return Ok(Vec::new());
    }
    let s = b.shapes();
    let cond = where_clause(s, q);
    let us = (bucket_ns / 1000).max(1);
    // The top values are chosen again inside the query rather than passed back as
    // literals: a value's SQL form depends on its column type (addresses are numbers).
    let sql = format!(
        "SELECT {}, b, count(*) FROM ({}) WHERE v {} (SELECT v FROM ({}) GROUP BY v ORDER BY count(*) DESC, v LIMIT {}) \
         GROUP BY v, b ORDER BY v, b",
        s.shown(field, "v"),
        values_of(s, field, &[format!("{} AS b", s.bucket(us))], &[], &cond),
        s.in_op(),
        values_of(s, field, &[], &[], &cond),
        n.max(1)
    );
    let mut out: Vec<ValueSeries> =
        top.into_iter().map(|t| ValueSeries { value: t.value, count: t.count, buckets: Vec::new() }).collect();
    for mut r in b.rows(&sql)? {
        let Some(v) = r.get_mut(0).map(Json::take).and_then(|v| b.value(field, v)) else { continue };
        if let Some(series) = out.iter_mut().find(|s| s.value == v) {
            series.buckets.push((r.get(1).map_or(0, json_i64).saturating_mul(1000), r.get(2).map_or(0, json_u64)));
        }
    }
    Ok(out)
}

pub(crate) fn connections(
    b: &dyn Backend,
    q: &ListQuery,
    src: &FieldDef,
    dst: &FieldDef,
    n: usize,
) -> Result<Vec<Link>, StoreError> {
    let s = b.shapes();
    // Source values first, then destination values unnested over them: a session
    // with two hosts and one address gives two links.
    let extra = [format!("{} AS d0", s.column(dst)), "packets".into(), "bytes".into()];
    let inner = values_of(s, src, &extra, &[dst], &where_clause(s, q));
    let d = if dst.multi { s.unnest_distinct("d0") } else { "d0".into() };
    let sql = format!(
        "SELECT {}, {}, count(*) AS c, {}, {} FROM \
         (SELECT * FROM (SELECT v AS s, {d} AS d, packets, bytes FROM ({inner})) WHERE {}) \
         GROUP BY s, d ORDER BY c DESC, s, d LIMIT {}",
        s.shown(src, "s"),
        s.shown(dst, "d"),
        s.sum("packets"),
        s.sum("bytes"),
        s.present(dst, "d"),
        n.max(1)
    );
    Ok(b.rows(&sql)?
        .into_iter()
        .filter_map(|mut r| {
            let at = |r: &Vec<Json>, i: usize| r.get(i).map_or(0, json_u64);
            let (sessions, packets, bytes) = (at(&r, 2), at(&r, 3), at(&r, 4));
            let from = b.value(src, r.get_mut(0)?.take())?;
            let to = b.value(dst, r.get_mut(1)?.take())?;
            Some(Link { src: from, dst: to, sessions, packets, bytes })
        })
        .collect())
}

/// A row of `id, node, start (µs), packet_pos`.
fn positions_of(r: &[Json]) -> SessionPositions {
    SessionPositions {
        id: r.first().map(json_str).unwrap_or_default(),
        node: r.get(1).map(json_str).unwrap_or_default(),
        start_ns: r.get(2).map_or(0, json_i64).saturating_mul(1000),
        positions: r.get(3).and_then(Json::as_array).map(|a| a.iter().map(json_i64).collect()).unwrap_or_default(),
    }
}

/// The first time window a walk reads, in microseconds; it grows while windows hold
/// fewer sessions than asked for, up to a year.
const FIRST_WINDOW_US: i64 = 60_000_000;
const WIDEST_WINDOW_US: i64 = 366 * 86_400_000_000;

pub(crate) fn positions_in_order(
    b: &dyn Backend,
    q: &ListQuery,
    after: Option<&SessionPositions>,
    n: usize,
) -> Result<Vec<SessionPositions>, StoreError> {
    let s = b.shapes();
    let n = n.max(1);
    let cond = where_clause(s, q);
    let select = format!("SELECT id, node, {}, packet_pos FROM sessions WHERE {cond}", s.start_us());
    // Keyset paging over time windows: each query reads the rows of one window of
    // start times (which the stores' per-block minimum and maximum let them find
    // without reading the rest) after the last row given, so a walk over millions of
    // sessions reads each row about once. A plain `ORDER BY … LIMIT` after the last
    // row would read every later row again for every page.
    // The start (µs) of the first matching session at or after `from_us`: one read of
    // what is left, to jump over stretches with nothing.
    let first_start_us = |from_us: Option<i64>| -> Result<Option<i64>, StoreError> {
        let after = from_us
            .map_or(String::new(), |us| format!(" AND start_time >= {}", s.time_literal(us.saturating_mul(1000))));
        let rows = b.rows(&format!("{select}{after} ORDER BY start_time, id LIMIT 1"))?;
        Ok(rows.first().map(|r| positions_of(r).start_ns.div_euclid(1000)))
    };
    let (mut from_us, mut key) = match after {
        Some(a) => (a.start_ns.div_euclid(1000), Some((a.start_ns, a.id.clone()))),
        None => match first_start_us(None)? {
            None => return Ok(Vec::new()),
            Some(us) => (us, None),
        },
    };
    let mut window = FIRST_WINDOW_US;
    let mut out: Vec<SessionPositions> = Vec::new();
    loop {
        let until_us = from_us.saturating_add(window);
        let mut wher = format!(
            "start_time >= {} AND start_time < {}",
            s.time_literal(from_us.saturating_mul(1000)),
            s.time_literal(until_us.saturating_mul(1000))
        );
        if let Some((start_ns, id)) = &key {
            let t = s.time_literal(*start_ns);
            wher.push_str(&format!(" AND (start_time > {t} OR (start_time = {t} AND id > {}))", s.string_literal(id)));
        }
        let wanted = n - out.len();
        let rows = b.rows(&format!("{select} AND {wher} ORDER BY start_time, id LIMIT {wanted}"))?;
        out.extend(rows.iter().map(|r| positions_of(r)));
        if out.len() >= n {
            return Ok(out);
        }
        if let Some(last) = out.last() {
            key = Some((last.start_ns, last.id.clone()));
        }
        if rows.is_empty() && window >= WIDEST_WINDOW_US {
            // A year with nothing: on to the next session's start, or the end.
            match first_start_us(Some(until_us))? {
                None => return Ok(out),
                Some(us) => {
                    from_us = us;
                    window = FIRST_WINDOW_US;
                    continue;
                }
            }
        }
        from_us = until_us;
        // Empty windows grow faster: sparse data reaches a year in five steps. A
        // window that held some rows says how dense the data is: the next is sized
        // to hold what is still wanted (with room to spare), each query having a
        // fixed cost of a few milliseconds.
        let growth = match rows.len() {
            0 => 16,
            got => ((wanted - got) as i64 * 3 / 2 / got as i64).clamp(4, 1 << 20),
        };
        window = window.saturating_mul(growth).min(WIDEST_WINDOW_US);
    }
}

/// Session ids looked up per query (each id is ~36 bytes of SQL).
const IDS_PER_QUERY: usize = 2_000;

pub(crate) fn packet_positions(b: &dyn Backend, ids: &[String]) -> Result<Vec<SessionPositions>, StoreError> {
    let s = b.shapes();
    let mut out = Vec::new();
    for chunk in ids.chunks(IDS_PER_QUERY) {
        let list = chunk.iter().map(|i| s.string_literal(i)).collect::<Vec<_>>().join(", ");
        let rows = b.rows(&format!(
            "SELECT id, node, {}, packet_pos FROM sessions WHERE id IN ({list}) ORDER BY start_time, id",
            s.start_us()
        ))?;
        out.extend(rows.iter().map(|r| positions_of(r)));
    }
    Ok(out)
}

/// Rows whose columns are `fields`, as objects keyed by field name.
pub(crate) fn objects(b: &dyn Backend, sql: &str, fields: &[&FieldDef]) -> Result<Vec<Map<String, Json>>, StoreError> {
    Ok(b.rows(sql)?
        .into_iter()
        .map(|row| {
            let mut obj = Map::new();
            for (f, v) in fields.iter().zip(row) {
                let v = match v {
                    Json::Array(items) => {
                        let items: Vec<Json> = items.into_iter().filter_map(|i| b.value(f, i)).collect();
                        (!items.is_empty()).then_some(Json::Array(items))
                    }
                    v => b.value(f, v),
                };
                if let Some(v) = v {
                    obj.insert(f.name.to_string(), v);
                }
            }
            obj
        })
        .collect())
}
