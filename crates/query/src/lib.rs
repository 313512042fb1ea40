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
mod suggest;

pub use check::{parse_when, Filter, Order, TextMatch, MAX_COMPARISONS};
pub use error::QueryError;
pub use eval::Matcher;
pub use ip::{parse_ip_value, IpValue};
pub use parser::{parse, MAX_DEPTH, MAX_EXPRESSION_LEN, MAX_LIST_ITEMS};
pub use suggest::nearest_name;

/// Parses and checks an expression. `now_ns` anchors relative times such as `-1d`.
pub fn compile(text: &str, now_ns: i64) -> Result<Filter, QueryError> {
    let expr = parse(text)?;
    check::check(text, &expr, now_ns)
}

#[cfg(test)]
mod tests;
