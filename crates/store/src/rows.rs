//! What a batch of rows holds: both stores write only the columns some row of the
//! batch fills, and leave the rest to the column's default (none).

use tyto_schema::{FieldDef, FieldValue, SessionRecord, Source, FIELDS};

/// Times are stored in microseconds (both stores, every table).
pub(crate) fn micros(ns: i64) -> i64 {
    ns.div_euclid(1000)
}

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

/// The catalogue fields some row holds, in catalogue order, each dissector field
/// (and each list of the record for which `rows_of` says so) with the rows (indexes,
/// ascending) that hold it. The record's own single values (addresses, ports, times,
/// counts) always count: they are never "none"; its fields come with no rows unless
/// asked for (every row has their columns).
pub(crate) fn fields_held<'r>(
    rows: impl Iterator<Item = &'r SessionRecord> + Clone,
    rows_of: impl Fn(&FieldDef) -> bool,
) -> Vec<(&'static FieldDef, Vec<usize>)> {
    let mut by_field = extra_rows(rows.clone());
    FIELDS
        .iter()
        .zip(by_field.iter_mut())
        .filter_map(|(f, holding)| {
            let held = match f.source {
                Source::Record(_) if f.multi && rows_of(f) => {
                    holding.extend(rows.clone().enumerate().filter(|(_, r)| holds(f, r)).map(|(i, _)| i));
                    !holding.is_empty()
                }
                Source::Record(_) => !f.multi || rows.clone().any(|r| holds(f, r)),
                Source::Extra => !holding.is_empty(),
            };
            held.then(|| (f, std::mem::take(holding)))
        })
        .collect()
}

/// For each field of [`FIELDS`], the rows (indexes, ascending) whose dissector
/// fields hold a value of it. One pass over the rows' own fields, never over the
/// catalogue: a batch holds a few dozen of its ~250.
fn extra_rows<'r>(rows: impl Iterator<Item = &'r SessionRecord>) -> Vec<Vec<usize>> {
    // The names a record keeps are the catalogue's own text, so the first sighting
    // of a name (by its address) is looked up once and the rest found by address.
    let mut seen: std::collections::HashMap<(usize, usize), Option<usize>, ahash::RandomState> = Default::default();
    let mut by_field: Vec<Vec<usize>> = vec![Vec::new(); FIELDS.len()];
    for (row, r) in rows.enumerate() {
        for (name, values) in r.extra.iter() {
            if values.is_empty() {
                continue;
            }
            let at = *seen
                .entry((name.as_ptr() as usize, name.len()))
                .or_insert_with(|| FIELDS.iter().position(|f| f.name == name && matches!(f.source, Source::Extra)));
            if let Some(at) = at {
                by_field[at].push(row);
            }
        }
    }
    by_field
}
