//! The reads every store answers the same way — counts, a field's top values,
//! histograms, connections, the ordered walk of PCAP export — written once over a
//! dialect's [`Shapes`] and run through a [`Backend`], which gives each answer's rows
//! as JSON. Only the answer leaves the store, never the matching rows.

use serde_json::{Map, Value as Json};
use tyto_schema::FieldDef;

use super::{where_clause, Dialect};
use crate::{Bucket, Combination, Link, ListQuery, Sampled, SessionPositions, StoreError, ValueCount, ValueSeries};

/// The pieces of SQL the aggregate queries are made of, per dialect.
pub(crate) trait Shapes: Dialect {
    /// `FROM` reaching the sessions table and the tables of `fields` (joined when
    /// every row needs the field, `inner`, else left-joined), reading only about
    /// `sample` percent of the sessions when given.
    fn from(&self, fields: &[&FieldDef], inner: bool, sample: Option<f64>) -> String;
    /// Whether [`Shapes::from`] can read a sample cheaply (and the dialect has window
    /// functions, which the sampled answers use); a dialect that cannot counts every
    /// session.
    fn can_sample(&self) -> bool;
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
    /// The `q` quantile (0–1) of a numeric column, NULLs left out: the value at rank
    /// floor(q × n) + 1 of the n sorted values (ClickHouse's `quantileExact`).
    fn quantile(&self, column: &str, q: f64) -> String;
}

/// A store that runs SQL.
pub(crate) trait Backend {
    fn shapes(&self) -> &dyn Shapes;
    /// The rows of a query, each as its columns' JSON values (numbers as numbers).
    fn rows(&self, sql: &str) -> Result<Vec<Vec<Json>>, StoreError>;
    /// A value of `f`, as [`Shapes::shown`] selects it, in the form the API shows
    /// (`None` for "none").
    fn value(&self, f: &FieldDef, raw: Json) -> Option<Json>;
    /// The rows of a `SELECT id, node, start (µs), packet_pos` query.
    fn positions(&self, sql: &str) -> Result<Vec<SessionPositions>, StoreError> {
        Ok(self.rows(sql)?.iter().map(|r| positions_of(r)).collect())
    }
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
/// `cond` (in a sample of about `sample` percent when given, each row then with the
/// sample's size, [`SAMPLE_ROWS`]), without rows that hold none.
fn values_of(
    s: &dyn Shapes,
    field: &FieldDef,
    extra: &[String],
    with: &[&FieldDef],
    cond: &str,
    sample: Option<f64>,
) -> String {
    let v = if field.multi { s.unnest_distinct(&s.column(field)) } else { s.column(field) };
    let mut cols = vec![format!("{v} AS v")];
    cols.extend(extra.iter().cloned());
    if sample.is_some() {
        cols.push(SAMPLE_ROWS.into());
    }
    let mut tables = vec![field];
    tables.extend(with.iter().copied());
    format!(
        "SELECT * FROM (SELECT {} FROM {} WHERE {cond}) WHERE {}",
        cols.join(", "),
        s.from(&tables, true, sample),
        s.present(field, "v")
    )
}

/// The column a sampled [`Shapes::from`] adds to each session: how many sessions
/// the sample holds. A sample is drawn anew by each query (whole vectors of rows,
/// their number varying), so each answer is scaled by its own sample's size.
pub(crate) const SAMPLE_ROWS: &str = "tyto_sample_rows";

/// The sample an aggregate over `q` may read (see [`ListQuery::sample_above`]):
/// the percent of sessions to ask for, and the sessions stored. `None`: every one.
/// A sample of more than a quarter of the store is not taken: it costs nearly what
/// counting everything costs, and when few sessions match it is followed by that
/// count anyway (1.5 M sessions, a 1 M sample: 742 ms against 249 ms counted).
fn sample_of(b: &dyn Backend, q: &ListQuery) -> Result<Option<(f64, u64)>, StoreError> {
    let Some(above) = q.sample_above.filter(|_| b.shapes().can_sample()) else { return Ok(None) };
    let rows = b.rows("SELECT count(*) FROM sessions")?;
    let total = rows.first().and_then(|r| r.first()).map_or(0, json_u64);
    let percent = 100.0 * above.max(1) as f64 / total.max(1) as f64;
    Ok((percent <= MOST_SAMPLED_PERCENT).then(|| (percent.max(0.0001), total)))
}

/// The largest share of the store worth sampling (see [`sample_of`]).
const MOST_SAMPLED_PERCENT: f64 = 25.0;

/// From counts in a sample of `read` sessions to estimates for all `total`.
#[derive(Clone, Copy, Debug)]
struct Scale {
    read: u64,
    total: u64,
}

impl Scale {
    /// The scale of an answer whose sample held `read` sessions, of which `seen`
    /// rows were counted, when they stand for more than `q` counts exactly (else the
    /// matching sessions are few enough to count every one).
    fn of(q: &ListQuery, total: u64, read: u64, seen: u64) -> Option<Scale> {
        let scale = Scale { read, total };
        (read > 0 && scale.count(seen) > q.sample_above.unwrap_or(u64::MAX)).then_some(scale)
    }

    fn count(self, c: u64) -> u64 {
        (c as f64 * self.total as f64 / self.read.max(1) as f64).round() as u64
    }

    fn percent(self) -> f64 {
        100.0 * self.read as f64 / self.total.max(1) as f64
    }
}

/// In an aggregate over the groups of a sample, each counted by `count`: the rows
/// the sample held, all groups added up (a window over them).
fn seen(count: &str) -> String {
    format!("CAST(sum({count}) OVER () AS BIGINT)")
}

/// An answer's rows read back: the sample's size and the rows it counted, from the
/// columns at `read` and `seen` of its first row.
fn sample_sizes(rows: &[Vec<Json>], read: usize, seen: usize) -> (u64, u64) {
    let at = |i: usize| rows.first().and_then(|r| r.get(i)).map_or(0, json_u64);
    (at(read), at(seen))
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
) -> Result<Sampled<Vec<ValueCount>>, StoreError> {
    if let Some((percent, total)) = sample_of(b, q)? {
        let (mut values, read, seen) = top_values_in(b, q, field, n, Some(percent))?;
        if let Some(scale) = Scale::of(q, total, read, seen) {
            values.iter_mut().for_each(|v| v.count = scale.count(v.count));
            return Ok(Sampled::estimate(values, scale.percent()));
        }
    }
    Ok(Sampled::exact(top_values_in(b, q, field, n, None)?.0))
}

/// The top values among all sessions or a sample of about `sample` percent of them,
/// with, over a sample, its size and the value rows it held (else 0 and 0).
fn top_values_in(
    b: &dyn Backend,
    q: &ListQuery,
    field: &FieldDef,
    n: usize,
    sample: Option<f64>,
) -> Result<(Vec<ValueCount>, u64, u64), StoreError> {
    let s = b.shapes();
    let cond = where_clause(s, q);
    // Over a sample, every answer row also gives the sample's size and the rows it
    // held (a window over the groups), to scale the counts and judge the sample.
    let sizes = |read: &str, count: &str| match sample {
        Some(_) => format!(", max({read}), {}", seen(count)),
        None => String::new(),
    };
    let sql = if field.multi {
        // Sessions' lists repeat (`protocols` above all): counted as whole lists
        // first, each distinct list is taken apart once rather than every session's.
        let read = if sample.is_some() { format!(", max({SAMPLE_ROWS}) AS r") } else { String::new() };
        let keep_read = if sample.is_some() { ", r" } else { "" };
        format!(
            "SELECT {}, {} AS c{} FROM (SELECT {} AS v, k{keep_read} FROM \
             (SELECT {} AS l, count(*) AS k{read} FROM {} WHERE {cond} GROUP BY l)) \
             WHERE {} GROUP BY v ORDER BY c DESC, v LIMIT {}",
            s.shown(field, "v"),
            s.sum("k"),
            sizes("r", "sum(k)"),
            s.unnest_distinct("l"),
            s.column(field),
            s.from(&[field], true, sample),
            s.present(field, "v"),
            n.max(1)
        )
    } else {
        format!(
            "SELECT {}, count(*) AS c{} FROM ({}) GROUP BY v ORDER BY c DESC, v LIMIT {}",
            s.shown(field, "v"),
            sizes(SAMPLE_ROWS, "count(*)"),
            values_of(s, field, &[], &[], &cond, sample),
            n.max(1)
        )
    };
    let rows = b.rows(&sql)?;
    let (read, seen) = sample_sizes(&rows, 2, 3);
    let values = rows
        .into_iter()
        .filter_map(|mut r| {
            let count = json_u64(r.get(1)?);
            Some(ValueCount { value: b.value(field, r.get_mut(0)?.take())?, count })
        })
        .collect();
    Ok((values, read, seen))
}

pub(crate) fn histogram(b: &dyn Backend, q: &ListQuery, bucket_ns: i64) -> Result<Vec<Bucket>, StoreError> {
    histogram_where(b, &where_clause(b.shapes(), q), bucket_ns)
}

/// The histogram of the sessions meeting `cond`, a condition on the sessions table.
pub(crate) fn histogram_where(b: &dyn Backend, cond: &str, bucket_ns: i64) -> Result<Vec<Bucket>, StoreError> {
    let s = b.shapes();
    let us = (bucket_ns / 1000).max(1);
    let sql = format!(
        "SELECT {} AS b, count(*), {}, {}, {} FROM sessions WHERE {cond} GROUP BY b ORDER BY b",
        s.bucket(us),
        s.sum("packets"),
        s.sum("bytes"),
        s.sum("databytes"),
    );
    Ok(buckets_of(b.rows(&sql)?))
}

/// Rows of `bucket start (µs), sessions, packets, bytes, databytes`.
pub(crate) fn buckets_of(rows: Vec<Vec<Json>>) -> Vec<Bucket> {
    rows.iter()
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
        .collect()
}

pub(crate) fn value_histogram(
    b: &dyn Backend,
    q: &ListQuery,
    field: &FieldDef,
    n: usize,
    bucket_ns: i64,
) -> Result<Sampled<Vec<ValueSeries>>, StoreError> {
    let top = top_values(b, q, field, n)?;
    let sample = match top.sample_percent {
        Some(_) => sample_of(b, q)?,
        None => None,
    };
    if top.rows.is_empty() {
        return Ok(Sampled { rows: Vec::new(), sample_percent: top.sample_percent });
    }
    let s = b.shapes();
    let cond = where_clause(s, q);
    let us = (bucket_ns / 1000).max(1);
    let percent = sample.map(|(p, _)| p);
    let read = if sample.is_some() { format!(", max({SAMPLE_ROWS})") } else { String::new() };
    // The top values are chosen again inside the query rather than passed back as
    // literals: a value's SQL form depends on its column type (addresses are numbers).
    let sql = format!(
        "SELECT {}, b, count(*){read} FROM ({}) WHERE v {} (SELECT v FROM ({}) GROUP BY v ORDER BY count(*) DESC, v LIMIT {}) \
         GROUP BY v, b ORDER BY v, b",
        s.shown(field, "v"),
        values_of(s, field, &[format!("{} AS b", s.bucket(us))], &[], &cond, percent),
        s.in_op(),
        values_of(s, field, &[], &[], &cond, percent),
        n.max(1)
    );
    let rows = b.rows(&sql)?;
    // The series come from a sample of their own: scaled by its size.
    let scale = sample
        .map(|(_, total)| Scale { read: rows.iter().filter_map(|r| r.get(3)).map(json_u64).max().unwrap_or(0), total });
    let mut out: Vec<ValueSeries> =
        top.rows.into_iter().map(|t| ValueSeries { value: t.value, count: t.count, buckets: Vec::new() }).collect();
    for mut r in rows {
        let Some(v) = r.get_mut(0).map(Json::take).and_then(|v| b.value(field, v)) else { continue };
        if let Some(series) = out.iter_mut().find(|s| s.value == v) {
            let sessions = r.get(2).map_or(0, json_u64);
            let sessions = scale.map_or(sessions, |sc| sc.count(sessions));
            series.buckets.push((r.get(1).map_or(0, json_i64).saturating_mul(1000), sessions));
        }
    }
    Ok(Sampled { rows: out, sample_percent: top.sample_percent })
}

pub(crate) fn connections(
    b: &dyn Backend,
    q: &ListQuery,
    src: &FieldDef,
    dst: &FieldDef,
    n: usize,
) -> Result<Sampled<Vec<Link>>, StoreError> {
    if let Some((percent, total)) = sample_of(b, q)? {
        let (mut links, read, seen) = connections_in(b, q, src, dst, n, Some(percent))?;
        if let Some(scale) = Scale::of(q, total, read, seen) {
            for l in &mut links {
                (l.sessions, l.packets, l.bytes) =
                    (scale.count(l.sessions), scale.count(l.packets), scale.count(l.bytes));
            }
            return Ok(Sampled::estimate(links, scale.percent()));
        }
    }
    Ok(Sampled::exact(connections_in(b, q, src, dst, n, None)?.0))
}

/// The heaviest links among all sessions or a sample of about `sample` percent of
/// them, with, over a sample, its size and the links it held (else 0 and 0).
fn connections_in(
    b: &dyn Backend,
    q: &ListQuery,
    src: &FieldDef,
    dst: &FieldDef,
    n: usize,
    sample: Option<f64>,
) -> Result<(Vec<Link>, u64, u64), StoreError> {
    let s = b.shapes();
    // Source values first, then destination values unnested over them: a session
    // with two hosts and one address gives two links.
    let extra = [format!("{} AS d0", s.column(dst)), "packets".into(), "bytes".into()];
    let cond = where_clause(s, q);
    let inner = values_of(s, src, &extra, &[dst], &cond, sample);
    let d = if dst.multi { s.unnest_distinct("d0") } else { "d0".into() };
    let (read, sizes) = match sample {
        Some(_) => (format!(", {SAMPLE_ROWS}"), format!(", max({SAMPLE_ROWS}), {}", seen("count(*)"))),
        None => (String::new(), String::new()),
    };
    let sql = format!(
        "SELECT {}, {}, count(*) AS c, {}, {}{sizes} FROM \
         (SELECT * FROM (SELECT v AS s, {d} AS d, packets, bytes{read} FROM ({inner})) WHERE {}) \
         GROUP BY s, d ORDER BY c DESC, s, d LIMIT {}",
        s.shown(src, "s"),
        s.shown(dst, "d"),
        s.sum("packets"),
        s.sum("bytes"),
        s.present(dst, "d"),
        n.max(1)
    );
    let rows = b.rows(&sql)?;
    let (read, seen) = sample_sizes(&rows, 5, 6);
    let links = rows
        .into_iter()
        .filter_map(|mut r| {
            let at = |r: &Vec<Json>, i: usize| r.get(i).map_or(0, json_u64);
            let (sessions, packets, bytes) = (at(&r, 2), at(&r, 3), at(&r, 4));
            let from = b.value(src, r.get_mut(0)?.take())?;
            let to = b.value(dst, r.get_mut(1)?.take())?;
            Some(Link { src: from, dst: to, sessions, packets, bytes })
        })
        .collect();
    Ok((links, read, seen))
}

pub(crate) fn top_combinations(
    b: &dyn Backend,
    q: &ListQuery,
    fields: &[&FieldDef],
    n: usize,
) -> Result<Vec<Combination>, StoreError> {
    let (first, rest) = match fields.split_first() {
        Some(split) if fields.len() <= crate::MAX_COMBINED_FIELDS => split,
        _ => {
            return Err(StoreError::Request(format!(
                "{} fields to combine: 1 to {}",
                fields.len(),
                crate::MAX_COMBINED_FIELDS
            )))
        }
    };
    let s = b.shapes();
    let cond = where_clause(s, q);
    // The first field's values as `v`, the others' columns as `d1`, `d2`… beside
    // them; then each other field taken apart in a query of its own (two unnestings
    // in one select are zipped by DuckDB but crossed by ClickHouse), its values
    // `v1`, `v2`…, rows without one dropped.
    let extra: Vec<String> = rest.iter().enumerate().map(|(i, f)| format!("{} AS d{}", s.column(f), i + 1)).collect();
    let mut sql = values_of(s, first, &extra, rest, &cond, None);
    let names: Vec<String> = (0..fields.len()).map(|i| if i == 0 { "v".into() } else { format!("v{i}") }).collect();
    for (i, f) in fields.iter().enumerate().skip(1) {
        let d = format!("d{i}");
        let v = if f.multi { s.unnest_distinct(&d) } else { d };
        let mut cols = names[..i].to_vec();
        cols.push(format!("{v} AS v{i}"));
        cols.extend((i + 1..fields.len()).map(|j| format!("d{j}")));
        sql = format!("SELECT * FROM (SELECT {} FROM ({sql})) WHERE {}", cols.join(", "), s.present(f, &names[i]));
    }
    let shown: Vec<String> = fields.iter().zip(&names).map(|(f, v)| s.shown(f, v)).collect();
    let group = names.join(", ");
    let rows = b.rows(&format!(
        "SELECT {}, count(*) AS c FROM ({sql}) GROUP BY {group} ORDER BY c DESC, {group} LIMIT {}",
        shown.join(", "),
        n.max(1)
    ))?;
    Ok(rows
        .into_iter()
        .filter_map(|mut r| {
            let count = json_u64(r.get(fields.len())?);
            let values = fields
                .iter()
                .enumerate()
                .map(|(i, f)| b.value(f, r.get_mut(i)?.take()))
                .collect::<Option<Vec<Json>>>()?;
            Some(Combination { values, count })
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

/// The first time window a walk reads, in microseconds, and the widest (a century:
/// sparse stores are crossed in a few windows; a window too full is narrowed).
const FIRST_WINDOW_US: i64 = 60_000_000;
const WIDEST_WINDOW_US: i64 = 100 * 366 * 86_400_000_000;
/// Walks asking for fewer sessions than this a page read each page with one sorted
/// query (a session's packets, a first match).
const SORTED_PAGE_BELOW: usize = 64;

/// Matching sessions' positions in start order after `after`: about `n` of them (the
/// sessions of whole windows of start time, at most 4n), none when the walk is over.
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
    let key = after.map_or(String::new(), |a| {
        let t = s.time_literal(a.start_ns);
        format!(" AND (start_time > {t} OR (start_time = {t} AND id > {}))", s.string_literal(&a.id))
    });
    let by_start =
        |rows: &mut Vec<SessionPositions>| rows.sort_unstable_by(|x, y| (x.start_ns, &x.id).cmp(&(y.start_ns, &y.id)));
    if n < SORTED_PAGE_BELOW {
        return b.positions(&format!("{select}{key} ORDER BY start_time, id LIMIT {n}"));
    }
    // Keyset paging over windows of start time: each query reads the rows of one
    // window (which the stores' per-block minimum and maximum let them find without
    // reading the rest), unsorted, and they are sorted here: a walk over millions of
    // sessions reads each row about once, and sorting in the store (to cut a page at
    // exactly n) cost more than reading the rows.
    // The start (µs) of the first matching session at or after `from_us`, to jump
    // over stretches with nothing.
    let next_start = |from_us: Option<i64>| -> Result<Option<i64>, StoreError> {
        let from = from_us
            .map_or(String::new(), |us| format!(" AND start_time >= {}", s.time_literal(us.saturating_mul(1000))));
        let rows = b.rows(&format!("SELECT count(*), min({}) FROM sessions WHERE {cond}{key}{from}", s.start_us()))?;
        Ok(rows.first().filter(|r| r.first().is_some_and(|c| json_u64(c) > 0)).and_then(|r| r.get(1)).map(json_i64))
    };
    let mut from_us = match after {
        Some(a) => a.start_ns.div_euclid(1000),
        None => match next_start(None)? {
            None => return Ok(Vec::new()),
            Some(us) => us,
        },
    };
    let mut window = FIRST_WINDOW_US;
    let mut out: Vec<SessionPositions> = Vec::new();
    loop {
        let room = 4 * n - out.len();
        let until_us = from_us.saturating_add(window);
        let span = format!(
            " AND start_time >= {} AND start_time < {}",
            s.time_literal(from_us.saturating_mul(1000)),
            s.time_literal(until_us.saturating_mul(1000))
        );
        let mut rows = b.positions(&format!("{select}{key}{span} LIMIT {}", room + 1))?;
        if rows.len() > room {
            // Too dense for one page: a narrower window, down to one microsecond,
            // whose sessions are then cut in start and id order.
            if window > 1 {
                window = (window / 8).max(1);
                continue;
            }
            // `out` is in order already: earlier windows, each sorted.
            out.extend(b.positions(&format!("{select}{key}{span} ORDER BY start_time, id LIMIT {room}"))?);
            return Ok(out);
        }
        by_start(&mut rows);
        let got = rows.len();
        out.extend(rows);
        if out.len() >= n {
            return Ok(out);
        }
        if got == 0 {
            match next_start(Some(until_us))? {
                None => return Ok(out),
                Some(us) => from_us = us,
            }
            continue;
        }
        // The next window is sized by the density this one showed, to hold what is
        // still wanted with room to spare (each query costs a few milliseconds).
        let wanted = (n - out.len()) as i64;
        window = (window.saturating_mul(wanted) / got as i64 * 5 / 4).clamp(1, WIDEST_WINDOW_US);
        from_us = until_us;
    }
}

/// Session ids looked up per query (each id is ~36 bytes of SQL).
const IDS_PER_QUERY: usize = 2_000;

pub(crate) fn packet_positions(b: &dyn Backend, ids: &[String]) -> Result<Vec<SessionPositions>, StoreError> {
    let s = b.shapes();
    let mut out = Vec::new();
    for chunk in ids.chunks(IDS_PER_QUERY) {
        let list = chunk.iter().map(|i| s.string_literal(i)).collect::<Vec<_>>().join(", ");
        out.extend(b.positions(&format!(
            "SELECT id, node, {}, packet_pos FROM sessions WHERE id IN ({list}) ORDER BY start_time, id",
            s.start_us()
        ))?);
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
