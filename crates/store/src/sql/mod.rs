//! SQL text for the stores: a checked [`Filter`] and a time range become a `WHERE`
//! condition, walked here once for every dialect; what differs between DuckDB and
//! ClickHouse — literals, how a leaf reads a list, which table holds a field — is the
//! [`Dialect`] each backend implements in its own `sql.rs` (with its tables and its
//! aggregate shapes).
//!
//! Values are written as literals escaped by the dialect (never pasted): the same
//! text can be shown, logged and compared in golden tests, and ClickHouse gets the
//! same text over HTTP.

pub(crate) mod reads;

use tyto_query::{Filter, Order, TextMatch};
use tyto_schema::{FieldDef, FieldKind};

use crate::ListQuery;

/// What differs between the stores' SQL.
pub(crate) trait Dialect {
    /// The SQL that reads a field's value (its quoted column, as a rule).
    fn column(&self, f: &FieldDef) -> String {
        format!("\"{}\"", f.column)
    }
    fn true_(&self) -> &'static str;
    fn false_(&self) -> &'static str;
    fn string_literal(&self, s: &str) -> String;
    fn ip_literal(&self, v: u128) -> String;
    fn time_literal(&self, ns: i64) -> String;
    /// `pred` over one value `x`, applied to the field: directly for a single value,
    /// "any element" for a list. Never NULL: a missing value does not match.
    fn each(&self, f: &FieldDef, pred: &dyn Fn(&str) -> String) -> String;
    /// The field holds a value.
    fn exists(&self, f: &FieldDef) -> String;
    /// How many values a list field holds (0 when it holds none).
    fn count(&self, f: &FieldDef) -> String;
    /// A list field holds this (literal) value / any of these.
    fn list_contains(&self, f: &FieldDef, v: &str) -> String;
    fn list_has_any(&self, f: &FieldDef, list: &str) -> String;
    /// A list field of text holds one of `values` (at least one).
    fn list_holds(&self, f: &FieldDef, values: &[String]) -> String {
        match values {
            [one] => self.list_contains(f, &self.string_literal(one)),
            many => self.list_has_any(f, &many.iter().map(|s| self.string_literal(s)).collect::<Vec<_>>().join(", ")),
        }
    }
    /// A single value against a literal list (`x IN (…)`), for a list of addresses on
    /// a list field too.
    fn ip_in(&self, f: &FieldDef, list: &str) -> String;
    /// `x` matches a LIKE pattern written with `\` escapes.
    fn like(&self, x: &str, pattern: &str) -> String;
    /// `x` matches a regular expression (RE2) as a whole.
    fn regex(&self, x: &str, pattern: &str, case_insensitive: bool) -> String;
    /// The time range of a listing, on the sessions table.
    fn time_range(&self, start_ns: Option<i64>, stop_ns: Option<i64>) -> Vec<String>;
    /// A condition on a field kept outside the sessions table: `leaf` holds for the
    /// session's row there. `None` when every field is a column of `sessions`.
    fn elsewhere(&self, _f: &FieldDef, _leaf: &str, _q: &ListQuery) -> Option<String> {
        None
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
pub(crate) fn like_pattern(p: &str) -> String {
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

/// The condition of a listing: its time range, then its expression.
pub(crate) fn where_clause(d: &dyn Dialect, q: &ListQuery) -> String {
    let mut parts = d.time_range(q.start_ns, q.stop_ns);
    if let Some(f) = &q.filter {
        parts.push(filter(d, f, q));
    }
    if parts.is_empty() {
        d.true_().to_string()
    } else {
        parts.join(" AND ")
    }
}

/// [`Dialect::list_holds`] with the values as literals in the list tests.
pub(crate) fn list_holds_literally<D: Dialect + ?Sized>(d: &D, f: &FieldDef, values: &[String]) -> String {
    match values {
        [one] => d.list_contains(f, &d.string_literal(one)),
        many => d.list_has_any(f, &many.iter().map(|s| d.string_literal(s)).collect::<Vec<_>>().join(", ")),
    }
}

/// A filter alone (no time range), as it reads on the sessions table.
pub(crate) fn filter(d: &dyn Dialect, flt: &Filter, q: &ListQuery) -> String {
    match flt {
        Filter::And(v) if v.is_empty() => d.true_().into(),
        Filter::Or(v) if v.is_empty() => d.false_().into(),
        Filter::And(v) | Filter::Or(v) if v.len() == 1 => filter(d, &v[0], q),
        Filter::And(v) => format!("({})", v.iter().map(|f| filter(d, f, q)).collect::<Vec<_>>().join(" AND ")),
        Filter::Or(v) => format!("({})", v.iter().map(|f| filter(d, f, q)).collect::<Vec<_>>().join(" OR ")),
        Filter::Not(inner) => format!("(NOT {})", filter(d, inner, q)),
        leaf => {
            let (f, sql) = leaf_sql(d, leaf);
            d.elsewhere(f, &sql, q).unwrap_or(sql)
        }
    }
}

/// A leaf's field and its condition on that field's column.
fn leaf_sql<'a>(d: &dyn Dialect, flt: &'a Filter) -> (&'a FieldDef, String) {
    match flt {
        Filter::Exists(f) => (f, d.exists(f)),
        Filter::IntIn { field, values } => {
            if values.len() == 1 {
                let v = values[0];
                return (field, d.each(field, &|x| format!("{x} = {v}")));
            }
            let list = values.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(", ");
            (field, d.each(field, &|x| format!("{x} IN ({list})")))
        }
        Filter::IntRange { field, lo, hi } => (field, d.each(field, &|x| format!("{x} BETWEEN {lo} AND {hi}"))),
        Filter::IntCmp { field, order, value } => {
            (field, d.each(field, &|x| format!("{x} {} {value}", order_op(*order))))
        }
        Filter::IpRange { field, lo, hi } => {
            if lo == hi {
                let v = d.ip_literal(*lo);
                (field, d.each(field, &|x| format!("{x} = {v}")))
            } else {
                let (l, h) = (d.ip_literal(*lo), d.ip_literal(*hi));
                (field, d.each(field, &|x| format!("{x} BETWEEN {l} AND {h}")))
            }
        }
        Filter::IpCmp { field, order, value } => {
            let v = d.ip_literal(*value);
            (field, d.each(field, &|x| format!("{x} {} {v}", order_op(*order))))
        }
        Filter::IpIn { field, values } => {
            let list = values.iter().map(|v| d.ip_literal(*v)).collect::<Vec<_>>().join(", ");
            (field, d.ip_in(field, &list))
        }
        Filter::TimeRange { field, lo, hi } => {
            let (l, h) = (d.time_literal(*lo), d.time_literal(*hi));
            (field, d.each(field, &|x| format!("({x} >= {l} AND {x} < {h})")))
        }
        Filter::TimeCmp { field, order, ns } => {
            let v = d.time_literal(*ns);
            (field, d.each(field, &|x| format!("{x} {} {v}", order_op(*order))))
        }
        Filter::Text { field, m } => (field, text(d, field, m)),
        Filter::Count { field, lo, hi } => (field, format!("({} BETWEEN {lo} AND {hi})", d.count(field))),
        Filter::And(_) | Filter::Or(_) | Filter::Not(_) => unreachable!("combinators are walked by `filter`"),
    }
}

fn text(d: &dyn Dialect, f: &FieldDef, m: &TextMatch) -> String {
    match m {
        TextMatch::Exact(s) if f.multi => d.list_holds(f, std::slice::from_ref(s)),
        TextMatch::Exact(s) => {
            let v = d.string_literal(s);
            d.each(f, &|x| format!("{x} = {v}"))
        }
        TextMatch::AnyOf(values) if f.multi && !values.is_empty() => d.list_holds(f, values),
        TextMatch::AnyOf(values) => {
            let list = values.iter().map(|s| d.string_literal(s)).collect::<Vec<_>>().join(", ");
            if f.multi {
                d.list_has_any(f, &list)
            } else {
                d.each(f, &|x| format!("{x} IN ({list})"))
            }
        }
        TextMatch::Wildcard(p) => {
            let pat = d.string_literal(&like_pattern(p));
            d.each(f, &|x| d.like(x, &pat))
        }
        TextMatch::Regex { pattern, case_insensitive } => d.each(f, &|x| d.regex(x, pattern, *case_insensitive)),
    }
}

/// Whether a field of this kind is text (its "none" is the empty string in ClickHouse).
pub(crate) fn is_text(f: &FieldDef) -> bool {
    matches!(f.kind, FieldKind::Text | FieldKind::LowerText)
}

#[cfg(test)]
mod tests;
