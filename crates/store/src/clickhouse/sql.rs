//! ClickHouse's SQL: its tables, how a filter's leaves read them, and its aggregate
//! shapes, in what 18.16 understands (no CTEs: sub-selects; `arrayJoin` for a list's
//! values) and current releases alike.
//!
//! Layout (version 2): `sessions`, a MergeTree partitioned by the day sessions started
//! and ordered by (start time, id), holds every field of the record, the enrichment
//! fields and those of the protocols most sessions carry ([`WIDE_GROUPS`]); the
//! fields of every other protocol are in [`MORE_TABLE`], with a row only for the
//! sessions that have one, keyed and partitioned as `sessions` by the session's id
//! and times (`side_start`, `side_stop`). Then `files`, `inputs`, `alerts`,
//! `transactions`.
//!
//! Why: an insert pays for every column of the table, filled or not — the server
//! makes each absent value, writes, checksums and compresses it. 250,000 rows of 28
//! filled columns took 2.9–3.1 s into the 421 columns of layout 1 and 0.75–0.84 s
//! into 102 (measured on 18.16, `INSERT … SELECT`, merges stopped). A leaf on a
//! field of [`MORE_TABLE`] reads `id IN (SELECT id FROM sessions_more WHERE <time
//! range> AND <leaf>)`, keeping every leaf's two-valued meaning as the embedded
//! store's side tables do; the reads that show or count such a field join its rows.
//!
//! | kind    | column                                                     |
//! |---------|------------------------------------------------------------|
//! | ip      | FixedString(16), IPv6 bytes (v4 mapped), zeros = none      |
//! | integer | Int64 (Nullable when a dissector fills it)                 |
//! | date    | Int64 microseconds (18.16 has no DateTime64)               |
//! | text    | String, empty = none                                       |
//! | lists   | Array(T) (empty)                                           |

use tyto_schema::{FieldDef, FieldKind, Source};

use super::rowbinary;
use crate::sql::{is_text, Dialect};
use crate::ListQuery;

/// Catalogue groups whose fields are columns of `sessions`: the enrichment of every
/// session and the protocols most sessions with dissector fields carry (on the
/// shared nDPI captures 21,500 of 22,450 such sessions: DNS, HTTP, TLS,
/// certificates, QUIC). Moving a group in or out of this list is a new layout.
pub(crate) const WIDE_GROUPS: &[&str] = &["general", "dns", "http", "tls", "cert", "quic"];

/// The table of every other protocol's fields.
pub(crate) const MORE_TABLE: &str = "sessions_more";

/// Whether `f`'s column is in [`MORE_TABLE`] rather than `sessions`.
pub(crate) fn in_more(f: &FieldDef) -> bool {
    matches!(f.source, Source::Extra) && !WIDE_GROUPS.contains(&f.group)
}

/// A string literal, with backslash escapes.
pub fn string_literal(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            c if c.is_control() && (c as u32) < 0x80 => out.push_str(&format!("\\x{:02X}", c as u32)),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

fn col(f: &FieldDef) -> String {
    format!("\"{}\"", f.column)
}

/// ClickHouse's dialect; `global` when the tables are Distributed over a cluster.
pub(crate) struct ClickSql {
    pub global: bool,
}

impl Dialect for ClickSql {
    fn true_(&self) -> &'static str {
        "1"
    }

    fn false_(&self) -> &'static str {
        "0"
    }

    fn string_literal(&self, s: &str) -> String {
        string_literal(s)
    }

    fn ip_literal(&self, v: u128) -> String {
        format!("unhex('{v:032x}')")
    }

    fn time_literal(&self, ns: i64) -> String {
        ns.div_euclid(1000).to_string()
    }

    fn each(&self, f: &FieldDef, pred: &dyn Fn(&str) -> String) -> String {
        let c = col(f);
        if f.multi {
            format!("arrayExists(x -> {}, {c})", pred("x"))
        } else {
            format!("ifNull({}, 0)", pred(&c))
        }
    }

    fn exists(&self, f: &FieldDef) -> String {
        let c = col(f);
        match (f.multi, f.kind) {
            (true, _) => format!("notEmpty({c})"),
            (false, FieldKind::Text | FieldKind::LowerText) => format!("{c} != ''"),
            (false, FieldKind::Ip) => format!("{c} != unhex('{:032x}')", 0),
            // Dissectors' numbers and durations are Nullable; the record's others always
            // hold a value.
            (false, _) if rowbinary::nullable(f) => format!("isNotNull({c})"),
            (false, _) => "1".into(),
        }
    }

    fn count(&self, f: &FieldDef) -> String {
        format!("length({})", col(f))
    }

    fn list_contains(&self, f: &FieldDef, v: &str) -> String {
        format!("has({}, {v})", col(f))
    }

    fn list_has_any(&self, f: &FieldDef, list: &str) -> String {
        format!("hasAny({}, [{list}])", col(f))
    }

    fn ip_in(&self, f: &FieldDef, list: &str) -> String {
        // FixedString(16) and unhex()'s String share no array supertype on 18.16.
        self.each(f, &|x| format!("{x} IN ({list})"))
    }

    fn like(&self, x: &str, pattern: &str) -> String {
        format!("{x} LIKE {pattern}")
    }

    fn regex(&self, x: &str, pattern: &str, case_insensitive: bool) -> String {
        let flags = if case_insensitive { "(?i)" } else { "" };
        format!("match({x}, {})", string_literal(&format!("{flags}^(?:{pattern})$")))
    }

    fn time_range(&self, start_ns: Option<i64>, stop_ns: Option<i64>) -> Vec<String> {
        self.range("start_time", "stop_time", start_ns, stop_ns)
    }

    fn elsewhere(&self, f: &FieldDef, leaf: &str, q: &ListQuery) -> Option<String> {
        if !in_more(f) {
            return None;
        }
        let mut conds = self.range("side_start", "side_stop", q.start_ns, q.stop_ns);
        conds.push(leaf.to_string());
        Some(format!(
            "(id {} (SELECT id FROM {MORE_TABLE} WHERE {}))",
            crate::sql::reads::Shapes::in_op(self),
            conds.join(" AND ")
        ))
    }
}

impl ClickSql {
    /// A time range's conditions on a table's start and stop columns.
    fn range(&self, start: &str, stop: &str, start_ns: Option<i64>, stop_ns: Option<i64>) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(s) = start_ns {
            out.push(format!("{stop} >= {}", self.time_literal(s)));
        }
        if let Some(s) = stop_ns {
            out.push(format!("{start} <= {}", self.time_literal(s)));
        }
        out
    }

    /// `sessions`, joined by id to the rows of [`MORE_TABLE`] when some of `fields`
    /// are there (only those columns; `where_more` narrows its rows): every session
    /// kept (`LEFT`, absent fields reading as none) or only those having a row there.
    pub(crate) fn joined(&self, fields: &[&FieldDef], inner: bool, where_more: Option<&str>) -> String {
        let mut cols: Vec<String> = Vec::new();
        for f in fields.iter().filter(|f| in_more(f)) {
            let c = format!("\"{}\"", f.column);
            if !cols.contains(&c) {
                cols.push(c);
            }
        }
        if cols.is_empty() {
            return "sessions".into();
        }
        // 18.16 joins by `USING` a sub-select; `ANY` takes a session's one row. Over a
        // cluster the sub-select runs once, on the asking server (`GLOBAL`).
        let global = if self.global { "GLOBAL " } else { "" };
        let kind = if inner { "INNER" } else { "LEFT" };
        let cond = where_more.map(|w| format!(" WHERE {w}")).unwrap_or_default();
        format!(
            "sessions {global}ANY {kind} JOIN (SELECT id, {} FROM {MORE_TABLE}{cond}) AS more USING id",
            cols.join(", ")
        )
    }
}

impl crate::sql::reads::Shapes for ClickSql {
    fn from(&self, fields: &[&FieldDef], inner: bool, _sample: Option<f64>) -> String {
        self.joined(fields, inner, None)
    }

    /// Not here: ClickHouse's own `SAMPLE` needs a sampling key this layout lacks;
    /// a hash of the start time as the sample (tried) cost more than it saved but for
    /// fields of many values (`port.dst` at 100 M sessions: 1.2 s counted, 5.8 s over
    /// a 1 % hash sample, which still reads every row's start time).
    fn can_sample(&self) -> bool {
        false
    }

    fn unnest_distinct(&self, column: &str) -> String {
        format!("arrayJoin(arrayDistinct({column}))")
    }

    fn present(&self, f: &FieldDef, v: &str) -> String {
        match f.kind {
            FieldKind::Ip => format!("{v} != unhex('{:032x}')", 0),
            _ if is_text(f) => format!("{v} != ''"),
            FieldKind::Integer | FieldKind::Date | FieldKind::Duration if rowbinary::nullable(f) => {
                format!("isNotNull({v})")
            }
            _ => "1".into(),
        }
    }

    fn shown(&self, f: &FieldDef, v: &str) -> String {
        match f.kind {
            FieldKind::Ip => format!("hex({v})"),
            _ => v.to_string(),
        }
    }

    fn bucket(&self, us: i64) -> String {
        format!("intDiv(start_time, {us}) * {us}")
    }

    fn start_us(&self) -> &'static str {
        "start_time"
    }

    fn sum(&self, column: &str) -> String {
        format!("sum({column})")
    }

    fn in_op(&self) -> &'static str {
        // `GLOBAL IN` over Distributed tables: the sub-select runs once, on the asking
        // server; plain `IN` would run it on every shard, which ClickHouse refuses.
        if self.global {
            "GLOBAL IN"
        } else {
            "IN"
        }
    }

    fn quantile(&self, column: &str, q: f64) -> String {
        // Exact, as DuckDB's: the service pages compare stores.
        format!("quantileExact({q})({column})")
    }
}
