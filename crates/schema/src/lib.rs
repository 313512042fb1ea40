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
    all_names, field, field_handle, lookup, micros_as_millis, DurationField, FieldDef, FieldKind, FieldSet, FieldValue,
    IntField, IpField, Named, Source, Takes, TextField, TimeField, Transform, FIELDS, FIELD_SETS, IP_PORT_PAIRS,
    STORED_AT_COLUMN,
};
pub use extra::{Extra, ExtraError, Values, MAX_TEXT_LEN, MAX_VALUES_PER_FIELD};
pub use layout::DataDir;
pub use record::{
    CloseReason, DirStats, Handshake, Payload8, SequenceChecks, SessionRecord, TcpFlagCounts, TcpHealth, TcpStreamStats,
};
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

/// A [`TextField`] for a catalogue name, checked when the program is compiled: a
/// name the catalogue lacks, or one of a field that does not hold text, is an error.
///
/// ```
/// assert_eq!(tyto_schema::text_field!("host.dns").0, "host.dns");
/// ```
/// A misspelt name does not compile:
/// ```compile_fail
/// let _ = tyto_schema::text_field!("host.dnz");
/// ```
/// Nor does a field of another kind:
/// ```compile_fail
/// let _ = tyto_schema::text_field!("http.statuscode");
/// ```
#[macro_export]
macro_rules! text_field {
    ($name:literal) => {
        $crate::__field_handle!(TextField, Text, $name)
    };
}

/// An [`IntField`], checked as [`text_field!`] is.
#[macro_export]
macro_rules! int_field {
    ($name:literal) => {
        $crate::__field_handle!(IntField, Int, $name)
    };
}

/// A [`DurationField`], checked as [`text_field!`] is.
#[macro_export]
macro_rules! duration_field {
    ($name:literal) => {
        $crate::__field_handle!(DurationField, Duration, $name)
    };
}

/// A [`TimeField`], checked as [`text_field!`] is.
#[macro_export]
macro_rules! time_field {
    ($name:literal) => {
        $crate::__field_handle!(TimeField, Time, $name)
    };
}

/// An [`IpField`], checked as [`text_field!`] is.
#[macro_export]
macro_rules! ip_field {
    ($name:literal) => {
        $crate::__field_handle!(IpField, Ip, $name)
    };
}

/// The handle macros' one body: a constant, so the check runs when compiling.
#[doc(hidden)]
#[macro_export]
macro_rules! __field_handle {
    ($handle:ident, $takes:ident, $name:literal) => {{
        const F: $crate::$handle = $crate::$handle($crate::field_handle($name, $crate::Takes::$takes));
        F
    }};
}
