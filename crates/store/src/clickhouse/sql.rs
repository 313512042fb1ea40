//! ClickHouse's SQL: its tables, how a filter's leaves read them, and its aggregate
//! shapes, in what 18.16 understands (no CTEs: sub-selects; `arrayJoin` for a list's
//! values) and current releases alike.
//!
//! Layout (version 1): one `sessions` table with every catalogue field, a MergeTree
//! partitioned by the day sessions started and ordered by (start time, id); `files`,
//! `inputs`, `alerts`. ClickHouse stores an absent value as its type's default at
//! almost no cost, so fields need no side tables here.
//!
//! | kind    | column                                                     |
//! |---------|------------------------------------------------------------|
//! | ip      | FixedString(16), IPv6 bytes (v4 mapped), zeros = none      |
//! | integer | Int64 (Nullable when a dissector fills it)                 |
//! | date    | Int64 microseconds (18.16 has no DateTime64)               |
//! | text    | String, empty = none                                       |
//! | lists   | Array(T) (empty)                                           |

use tyto_schema::{FieldDef, FieldKind};

use super::rowbinary;
use crate::sql::{is_text, Dialect};

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
        let mut out = Vec::new();
        if let Some(s) = start_ns {
            out.push(format!("stop_time >= {}", self.time_literal(s)));
        }
        if let Some(s) = stop_ns {
            out.push(format!("start_time <= {}", self.time_literal(s)));
        }
        out
    }
}

impl crate::sql::reads::Shapes for ClickSql {
    fn from(&self, _fields: &[&FieldDef], _inner: bool, _sample: Option<f64>) -> String {
        "sessions".into()
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
