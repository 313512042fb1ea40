//! What a batch of rows holds: both stores write only the columns some row of the
//! batch fills, and leave the rest to the column's default (none).

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
pub(crate) fn fields_held<'r>(rows: impl Iterator<Item = &'r SessionRecord> + Clone) -> Vec<&'static FieldDef> {
    let extra = extra_held(rows.clone());
    FIELDS
        .iter()
        .enumerate()
        .filter(|(i, f)| match f.source {
            Source::Record(_) if !f.multi => true,
            Source::Record(_) => rows.clone().any(|r| holds(f, r)),
            Source::Extra => extra.iter().any(|(at, _)| at == i),
        })
        .map(|(_, f)| f)
        .collect()
}

/// The dissector fields some row holds: each one's place in [`FIELDS`] with the rows
/// (indexes, ascending) that hold it, in the order first met. One pass over the rows'
/// own fields, never over the catalogue: a batch holds a few dozen of its ~250.
pub(crate) fn extra_held<'r>(rows: impl Iterator<Item = &'r SessionRecord>) -> Vec<(usize, Vec<usize>)> {
    // The names a record keeps are the catalogue's own text, so the first sighting
    // of a name (by its address) is looked up once and the rest found among the seen.
    let mut seen: Vec<(&'static str, Option<usize>)> = Vec::new();
    let mut out: Vec<(usize, Vec<usize>)> = Vec::new();
    // Where each catalogue field is in `out`, once it is.
    let mut place: Vec<Option<usize>> = vec![None; FIELDS.len()];
    for (row, r) in rows.enumerate() {
        for (name, values) in r.extra.iter() {
            if values.is_empty() {
                continue;
            }
            let at = match seen.iter().find(|(n, _)| std::ptr::eq(*n, name)) {
                Some((_, at)) => *at,
                None => {
                    let at = FIELDS.iter().position(|f| f.name == name && matches!(f.source, Source::Extra));
                    seen.push((name, at));
                    at
                }
            };
            let Some(at) = at else { continue };
            match place[at] {
                Some(p) => out[p].1.push(row),
                None => {
                    place[at] = Some(out.len());
                    out.push((at, vec![row]));
                }
            }
        }
    }
    out
}
