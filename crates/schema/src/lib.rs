//! The session record and the field catalogue.
//!
//! [`SessionRecord`] is what the flow pipeline produces for each session (or each
//! segment of a long one). [`FIELDS`] describes every field once: the name analysts
//! type (Arkime's), its type, whether it holds many values, the store column, the ECS
//! name used on export, and how to read it from a record. The `dump` output, the
//! store's table and (later) the query compiler and the viewer all read this list, so
//! a field is added in one place.

pub mod alert;
mod catalogue;
pub mod codec;
mod extra;
pub mod layout;
pub mod metrics;
mod record;
pub mod time;
mod transaction;

pub use alert::{AlertRecord, Severity};
pub use catalogue::{
    all_names, field, lookup, micros_as_millis, FieldDef, FieldKind, FieldSet, FieldValue, Named, Source, Transform,
    FIELDS, FIELD_SETS, IP_PORT_PAIRS,
};
pub use extra::{Extra, ExtraError, Values, MAX_TEXT_LEN, MAX_VALUES_PER_FIELD};
pub use layout::DataDir;
pub use record::{CloseReason, DirStats, Handshake, SessionRecord, TcpFlagCounts, TcpHealth, TcpStreamStats};
pub use transaction::KINDS as TRANSACTION_KINDS;
pub use transaction::{Transaction, Transactions, MAX_TRANSACTIONS};

use serde_json::{Map, Value};

/// The session as one JSON object keyed by field name: what `tyto dump` prints.
/// Empty multi-valued fields and absent values are left out.
pub fn record_to_json(rec: &SessionRecord) -> Value {
    let mut obj = Map::new();
    // The record's own fields, then only the dissector fields it holds: asking each
    // of the catalogue's dissector fields would scan the row's values once per field.
    for f in FIELDS.iter().filter(|f| f.in_dump && !matches!(f.source, Source::Extra)) {
        if let Some(v) = f.value(rec).to_json() {
            obj.insert(f.name.to_string(), v);
        }
    }
    for (name, _) in rec.extra.iter() {
        if let Some(f) = field(name).filter(|f| f.in_dump) {
            if let Some(v) = f.value(rec).to_json() {
                obj.insert(f.name.to_string(), v);
            }
        }
    }
    Value::Object(obj)
}
