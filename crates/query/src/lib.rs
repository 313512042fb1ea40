//! Arkime's search expressions, compiled to SQL.
//!
//! text → [`parse`] → syntax tree with byte spans ([`ast`]) → [`check`] against the
//! field catalogue → [`Filter`] (typed), which each store turns into its own SQL
//! (`tyto_store`, one module per dialect).
//! Every failure is a [`QueryError`] with the column where the expression went wrong.
//! [`Matcher`] evaluates a filter on one record in memory, as the SQL would.

pub mod ast;
mod check;
mod error;
mod eval;
mod ip;
mod parser;
mod shortcuts;
mod suggest;

pub use check::{
    parse_when, parse_when_span, parse_when_span_in, Filter, Order, TextMatch, Utc, Zone, MAX_COMPARISONS,
};
pub use error::QueryError;
pub use eval::Matcher;
pub use ip::{parse_ip_value, IpValue};
pub use parser::{parse, MAX_DEPTH, MAX_EXPRESSION_LEN, MAX_LIST_ITEMS};
pub use shortcuts::{valid_name as valid_shortcut_name, NoShortcuts, Shortcut, ShortcutKind, Shortcuts};
pub use suggest::nearest_name;

/// Parses and checks an expression. `now_ns` anchors relative times such as `-1d`.
pub fn compile(text: &str, now_ns: i64) -> Result<Filter, QueryError> {
    compile_in(text, &Context { now_ns, shortcuts: &NoShortcuts, zone: &Utc })
}

/// What an expression is read against besides the catalogue: the time now (for
/// `-1d`), the `$name` lists its user may name, and the zone its times are typed in.
pub struct Context<'a> {
    pub now_ns: i64,
    pub shortcuts: &'a dyn Shortcuts,
    pub zone: &'a dyn Zone,
}

/// [`compile`] in a context.
pub fn compile_in(text: &str, context: &Context<'_>) -> Result<Filter, QueryError> {
    let expr = parse(text)?;
    check::check(text, &expr, context)
}

/// A text value as an expression reads it exactly: quoted, or, holding a `*` (which
/// makes a quoted value a wildcard, as in Arkime), a regular expression of itself.
pub fn exact_value(s: &str) -> String {
    if s.contains('*') {
        let mut out = String::from("/");
        for c in regex_syntax::escape(s).chars() {
            if c == '/' {
                out.push('\\');
            }
            out.push(c);
        }
        out.push('/');
        out
    } else {
        format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
    }
}

#[cfg(test)]
mod tests;
