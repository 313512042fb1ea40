//! What the dissectors' tests read back from a row.

use tyto_schema::{SessionRecord, Values};

/// A text field's values in a row (none when it has none).
pub(crate) fn texts(rec: &SessionRecord, f: &str) -> Vec<String> {
    match rec.extra.get(f) {
        Some(Values::Text(v)) => v.clone(),
        _ => Vec::new(),
    }
}

/// An integer field's values in a row (none when it has none).
pub(crate) fn ints(rec: &SessionRecord, f: &str) -> Vec<i64> {
    match rec.extra.get(f) {
        Some(Values::Int(v)) => v.clone(),
        _ => Vec::new(),
    }
}
