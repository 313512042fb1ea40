//! Checked filters to SQL, one generator for every dialect. Values are written as
//! literals escaped here (never pasted): the same text can then be shown, logged and
//! compared in golden tests, and both dialects are covered by one escaping routine each.
//!
//! Storage the SQL assumes, per field kind (the stores create it from the catalogue):
//!
//! | kind    | DuckDB             | ClickHouse                                  |
//! |---------|--------------------|---------------------------------------------|
//! | ip      | UHUGEINT (v4 mapped) | FixedString(16), IPv6 bytes (v4 mapped)   |
//! | integer | BIGINT             | Int64 (Nullable when a dissector fills it)  |
//! | date    | TIMESTAMP          | Int64 microseconds (18.16 has no DateTime64) |
//! | text    | VARCHAR            | String                                      |
//! | lists   | T[] (NULL if empty)| Array(T) (empty)                            |

use tyto_schema::{FieldDef, FieldKind};

use crate::check::{Filter, Order, TextMatch};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    DuckDb,
    ClickHouse,
}

fn ident(f: &FieldDef) -> String {
    // Catalogue columns are [a-z0-9_]; quoting keeps reserved words harmless.
    format!("\"{}\"", f.column)
}

/// A string literal. DuckDB's C API takes NUL-terminated SQL, so a NUL (or any
/// control character) inside a value must never reach the text: those are written
/// as `chr(n)` pieces. ClickHouse takes backslash escapes.
pub fn string_literal(d: Dialect, s: &str) -> String {
    match d {
        Dialect::DuckDb => {
            let mut pieces: Vec<String> = Vec::new();
            let mut cur = String::new();
            for c in s.chars() {
                if c.is_control() {
                    if !cur.is_empty() {
                        pieces.push(format!("'{}'", std::mem::take(&mut cur)));
                    }
                    pieces.push(format!("chr({})", c as u32));
                } else if c == '\'' {
                    cur.push_str("''");
                } else {
                    cur.push(c);
                }
            }
            if !cur.is_empty() || pieces.is_empty() {
                pieces.push(format!("'{cur}'"));
            }
            if pieces.len() == 1 {
                pieces.pop().unwrap_or_default()
            } else {
                format!("({})", pieces.join(" || "))
            }
        }
        Dialect::ClickHouse => {
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
    }
}

fn ip_literal(d: Dialect, v: u128) -> String {
    match d {
        Dialect::DuckDb => format!("{v}::UHUGEINT"),
        Dialect::ClickHouse => format!("unhex('{v:032x}')"),
    }
}

fn time_literal(d: Dialect, ns: i64) -> String {
    let micros = ns.div_euclid(1000);
    match d {
        Dialect::DuckDb => format!("make_timestamp({micros})"),
        Dialect::ClickHouse => micros.to_string(),
    }
}

fn order_op(o: Order) -> &'static str {
    match o {
        Order::Lt => "<",
        Order::Le => "<=",
        Order::Gt => ">",
        Order::Ge => ">=",
    }
}

/// `*`/`?` pattern to LIKE, with `\` escaping LIKE's own `%`, `_` and `\`.
fn like_pattern(p: &str) -> String {
    let mut out = String::with_capacity(p.len());
    for c in p.chars() {
        match c {
            '*' => out.push('%'),
            '?' => out.push('_'),
            '%' | '_' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

struct Gen {
    d: Dialect,
}

impl Gen {
    fn lit_true(&self) -> &'static str {
        match self.d {
            Dialect::DuckDb => "true",
            Dialect::ClickHouse => "1",
        }
    }

    fn lit_false(&self) -> &'static str {
        match self.d {
            Dialect::DuckDb => "false",
            Dialect::ClickHouse => "0",
        }
    }

    /// `pred` over one value `x`, applied to the field: directly for a single value,
    /// "any element" for a list. Never NULL: a missing value does not match.
    fn each(&self, f: &FieldDef, pred: impl Fn(&str) -> String) -> String {
        let col = ident(f);
        match (f.multi, self.d) {
            (false, Dialect::DuckDb) => format!("coalesce({}, false)", pred(&col)),
            (false, Dialect::ClickHouse) => format!("ifNull({}, 0)", pred(&col)),
            (true, Dialect::DuckDb) => format!("coalesce(len(list_filter({col}, lambda x: {})) > 0, false)", pred("x")),
            (true, Dialect::ClickHouse) => format!("arrayExists(x -> {}, {col})", pred("x")),
        }
    }

    fn filter(&self, flt: &Filter) -> String {
        let d = self.d;
        match flt {
            Filter::And(v) if v.is_empty() => self.lit_true().into(),
            Filter::Or(v) if v.is_empty() => self.lit_false().into(),
            Filter::And(v) | Filter::Or(v) if v.len() == 1 => self.filter(&v[0]),
            Filter::And(v) => format!("({})", v.iter().map(|f| self.filter(f)).collect::<Vec<_>>().join(" AND ")),
            Filter::Or(v) => format!("({})", v.iter().map(|f| self.filter(f)).collect::<Vec<_>>().join(" OR ")),
            Filter::Not(inner) => format!("(NOT {})", self.filter(inner)),
            Filter::Exists(f) => {
                let col = ident(f);
                match (f.multi, f.kind, d) {
                    (true, _, Dialect::DuckDb) => format!("coalesce(len({col}) > 0, false)"),
                    (true, _, Dialect::ClickHouse) => format!("notEmpty({col})"),
                    (false, FieldKind::Text | FieldKind::LowerText, Dialect::DuckDb) => {
                        format!("coalesce({col} <> '', false)")
                    }
                    (false, FieldKind::Text | FieldKind::LowerText, Dialect::ClickHouse) => format!("{col} != ''"),
                    (false, FieldKind::Ip, Dialect::ClickHouse) => format!("{col} != unhex('{:032x}')", 0),
                    (false, _, Dialect::DuckDb) => format!("({col} IS NOT NULL)"),
                    // Dissectors' numbers are Nullable in ClickHouse; the record's own always hold a value.
                    (false, _, Dialect::ClickHouse) if matches!(f.source, tyto_schema::Source::Extra) => {
                        format!("isNotNull({col})")
                    }
                    (false, _, Dialect::ClickHouse) => self.lit_true().into(),
                }
            }
            Filter::IntIn { field, values } => {
                if values.len() == 1 {
                    let v = values[0];
                    return self.each(field, |x| format!("{x} = {v}"));
                }
                let list = values.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(", ");
                self.each(field, |x| format!("{x} IN ({list})"))
            }
            Filter::IntRange { field, lo, hi } => self.each(field, |x| format!("{x} BETWEEN {lo} AND {hi}")),
            Filter::IntCmp { field, order, value } => self.each(field, |x| format!("{x} {} {value}", order_op(*order))),
            Filter::IpRange { field, lo, hi } => {
                if lo == hi {
                    let v = ip_literal(d, *lo);
                    self.each(field, |x| format!("{x} = {v}"))
                } else {
                    let (l, h) = (ip_literal(d, *lo), ip_literal(d, *hi));
                    self.each(field, |x| format!("{x} BETWEEN {l} AND {h}"))
                }
            }
            Filter::IpCmp { field, order, value } => {
                let v = ip_literal(d, *value);
                self.each(field, |x| format!("{x} {} {v}", order_op(*order)))
            }
            Filter::IpIn { field, values } => {
                let list = values.iter().map(|v| ip_literal(d, *v)).collect::<Vec<_>>().join(", ");
                match (field.multi, d) {
                    (true, Dialect::DuckDb) => format!("coalesce(list_has_any({}, [{list}]), false)", ident(field)),
                    // FixedString(16) and unhex()'s String share no array supertype on 18.16.
                    _ => self.each(field, |x| format!("{x} IN ({list})")),
                }
            }
            Filter::TimeRange { field, lo, hi } => {
                let (l, h) = (time_literal(d, *lo), time_literal(d, *hi));
                self.each(field, |x| format!("({x} >= {l} AND {x} < {h})"))
            }
            Filter::TimeCmp { field, order, ns } => {
                let v = time_literal(d, *ns);
                self.each(field, |x| format!("{x} {} {v}", order_op(*order)))
            }
            Filter::Text { field, m } => self.text(field, m),
        }
    }

    fn text(&self, f: &FieldDef, m: &TextMatch) -> String {
        let d = self.d;
        match m {
            TextMatch::Exact(s) => {
                let v = string_literal(d, s);
                match (f.multi, d) {
                    (true, Dialect::DuckDb) => format!("coalesce(list_contains({}, {v}), false)", ident(f)),
                    (true, Dialect::ClickHouse) => format!("has({}, {v})", ident(f)),
                    (false, _) => self.each(f, |x| format!("{x} = {v}")),
                }
            }
            TextMatch::AnyOf(values) => {
                let list = values.iter().map(|s| string_literal(d, s)).collect::<Vec<_>>().join(", ");
                match (f.multi, d) {
                    (true, Dialect::DuckDb) => format!("coalesce(list_has_any({}, [{list}]), false)", ident(f)),
                    (true, Dialect::ClickHouse) => format!("hasAny({}, [{list}])", ident(f)),
                    (false, _) => self.each(f, |x| format!("{x} IN ({list})")),
                }
            }
            TextMatch::Wildcard(p) => {
                let pat = string_literal(d, &like_pattern(p));
                match d {
                    Dialect::DuckDb => self.each(f, |x| format!("{x} LIKE {pat} ESCAPE '\\'")),
                    Dialect::ClickHouse => self.each(f, |x| format!("{x} LIKE {pat}")),
                }
            }
            TextMatch::Regex { pattern, case_insensitive } => {
                let flags = if *case_insensitive { "(?i)" } else { "" };
                match d {
                    Dialect::DuckDb => {
                        let re = string_literal(d, &format!("{flags}{pattern}"));
                        self.each(f, |x| format!("regexp_full_match({x}, {re})"))
                    }
                    Dialect::ClickHouse => {
                        let re = string_literal(d, &format!("{flags}^(?:{pattern})$"));
                        self.each(f, |x| format!("match({x}, {re})"))
                    }
                }
            }
        }
    }
}

impl Filter {
    /// A boolean SQL expression for a `WHERE` clause.
    pub fn to_sql(&self, dialect: Dialect) -> String {
        Gen { d: dialect }.filter(self)
    }
}
