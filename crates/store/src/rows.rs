//! What a batch of rows holds: both stores write only the columns some row of the
//! batch fills, and leave the rest to the column's default (none).

use std::collections::HashSet;

use tyto_schema::{FieldDef, FieldValue, SessionRecord, Source, FIELDS};

/// Whether `f` holds a value in `r` (an empty list is none).
pub(crate) fn holds(f: &FieldDef, r: &SessionRecord) -> bool {
    match f.value(r) {
        FieldValue::Null => false,
        FieldValue::Strs(v) => !v.is_empty(),
        FieldValue::Ips(v) => !v.is_empty(),
        FieldValue::Macs(v) => !v.is_empty(),
        FieldValue::Ints(v) | FieldValue::Times(v) => !v.is_empty(),
        _ => true,
    }
}

/// The catalogue fields some row holds, in catalogue order. The record's own single
/// values (addresses, ports, times, counts) always count: they are never "none".
pub(crate) fn fields_held(rows: &[&SessionRecord]) -> Vec<&'static FieldDef> {
    let extra: HashSet<&str> = rows.iter().flat_map(|r| r.extra.iter().map(|(name, _)| name)).collect();
    FIELDS
        .iter()
        .filter(|f| match f.source {
            Source::Record(_) if !f.multi => true,
            Source::Record(_) => rows.iter().any(|r| holds(f, r)),
            Source::Extra => extra.contains(f.name),
        })
        .collect()
}
