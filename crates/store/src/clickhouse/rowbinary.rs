//! Rows to ClickHouse's RowBinary format, written here: it is a handful of rules
//! (little-endian integers, LEB128 lengths, fixed strings as raw bytes), and writing
//! it straight from the catalogue's values avoids building every row twice.
//!
//! Column types, per field (they work on 18.16 and current releases alike):
//!
//! | kind         | single value                               | list            |
//! |--------------|--------------------------------------------|-----------------|
//! | ip           | FixedString(16), v4 mapped, zeros = none   | Array(FixedString(16)) |
//! | integer/date | Int64 (dates in µs); Nullable for fields dissectors fill | Array(Int64) |
//! | duration     | Nullable(Int64), µs                        | Array(Int64)    |
//! | text         | String, empty = none                       | Array(String)   |

use tyto_schema::{AlertRecord, FieldDef, FieldKind, FieldValue, SessionRecord, Source};

use crate::FileRow;

/// Whether a single-valued number can be absent: dissector fields and durations can,
/// the record's own others (ports, counts, times) always hold a value.
pub(crate) fn nullable(f: &FieldDef) -> bool {
    !f.multi
        && match f.kind {
            FieldKind::Duration => true,
            FieldKind::Integer | FieldKind::Date => matches!(f.source, Source::Extra),
            _ => false,
        }
}

pub(crate) fn column_type(f: &FieldDef) -> &'static str {
    match (f.kind, f.multi) {
        (FieldKind::Ip, false) => "FixedString(16)",
        (FieldKind::Ip, true) => "Array(FixedString(16))",
        (FieldKind::Integer | FieldKind::Date | FieldKind::Duration, false) if nullable(f) => "Nullable(Int64)",
        (FieldKind::Integer | FieldKind::Date | FieldKind::Duration, false) => "Int64",
        (FieldKind::Integer | FieldKind::Date | FieldKind::Duration, true) => "Array(Int64)",
        (FieldKind::Text | FieldKind::LowerText, false) => "String",
        (FieldKind::Text | FieldKind::LowerText, true) => "Array(String)",
    }
}

fn varint(out: &mut Vec<u8>, mut n: u64) {
    loop {
        let b = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

fn string(out: &mut Vec<u8>, s: &str) {
    varint(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

pub(crate) use crate::rows::micros;

/// One field's value in its column's encoding.
fn value(out: &mut Vec<u8>, f: &FieldDef, v: FieldValue<'_>) {
    let null = nullable(f);
    let int = |out: &mut Vec<u8>, i: i64| {
        if null {
            out.push(0);
        }
        out.extend_from_slice(&i.to_le_bytes());
    };
    match v {
        FieldValue::Int(i) | FieldValue::Duration(i) => int(out, i),
        FieldValue::Time(ns) => int(out, micros(ns)),
        FieldValue::Ip(a) => out.extend_from_slice(&a.0),
        FieldValue::Str(s) => string(out, s),
        FieldValue::Strs(v) => {
            varint(out, v.len() as u64);
            v.iter().for_each(|s| string(out, s));
        }
        FieldValue::Ints(v) | FieldValue::Durations(v) => {
            varint(out, v.len() as u64);
            v.iter().for_each(|i| out.extend_from_slice(&i.to_le_bytes()));
        }
        FieldValue::Times(v) => {
            varint(out, v.len() as u64);
            v.iter().for_each(|t| out.extend_from_slice(&micros(*t).to_le_bytes()));
        }
        FieldValue::Ips(v) => {
            varint(out, v.len() as u64);
            v.iter().for_each(|a| out.extend_from_slice(&a.0));
        }
        FieldValue::Macs(v) => {
            varint(out, v.len() as u64);
            v.iter().for_each(|m| string(out, &m.to_string()));
        }
        // Nothing: what the column holds for "none".
        FieldValue::Null => match (f.kind, f.multi) {
            (_, true) => out.push(0),
            (FieldKind::Ip, false) => out.extend_from_slice(&[0; 16]),
            (FieldKind::Text | FieldKind::LowerText, false) => out.push(0),
            (FieldKind::Integer | FieldKind::Date | FieldKind::Duration, false) if null => out.push(1),
            (FieldKind::Integer | FieldKind::Date | FieldKind::Duration, false) => {
                out.extend_from_slice(&0i64.to_le_bytes())
            }
        },
    }
}

/// Rows in RowBinary with where each ends, so a batch can be cut to the rows that
/// did not land.
pub(crate) struct Encoded {
    pub body: Vec<u8>,
    pub row_ends: Vec<usize>,
}

/// Session rows: `fields` in their order, then the time they were stored
/// ([`tyto_schema::STORED_AT_COLUMN`], a nullable number of microseconds).
pub(crate) fn sessions(rows: &[&SessionRecord], fields: &[&FieldDef], stored_us: i64) -> Encoded {
    let mut body = Vec::with_capacity(rows.len() * 256);
    let mut row_ends = Vec::with_capacity(rows.len());
    for r in rows {
        for f in fields {
            value(&mut body, f, f.value(r));
        }
        body.push(0);
        body.extend_from_slice(&stored_us.to_le_bytes());
        row_ends.push(body.len());
    }
    Encoded { body, row_ends }
}

/// The rows of [`super::sql::MORE_TABLE`]: each session's id, start and stop, then
/// `fields` in their order.
pub(crate) fn more(rows: &[&SessionRecord], fields: &[&FieldDef]) -> Encoded {
    let mut body = Vec::with_capacity(rows.len() * 128);
    let mut row_ends = Vec::with_capacity(rows.len());
    for r in rows {
        string(&mut body, &r.id);
        body.extend_from_slice(&micros(r.start_ns).to_le_bytes());
        body.extend_from_slice(&micros(r.stop_ns).to_le_bytes());
        for f in fields {
            value(&mut body, f, f.value(r));
        }
        row_ends.push(body.len());
    }
    Encoded { body, row_ends }
}

/// The rows' transactions ([`crate::transactions::COLUMNS`]), and each one's session id.
pub(crate) fn transactions(rows: &[&SessionRecord]) -> (Encoded, Vec<String>) {
    use crate::transactions::{fields_json, time_us};
    let (mut body, mut row_ends, mut ids) = (Vec::new(), Vec::new(), Vec::new());
    let opt = |out: &mut Vec<u8>, v: Option<i64>| match v {
        Some(v) => {
            out.push(0);
            out.extend_from_slice(&v.to_le_bytes());
        }
        None => out.push(1),
    };
    for r in rows {
        for t in r.transactions.iter().flat_map(|t| t.list.iter()) {
            string(&mut body, &r.id);
            body.extend_from_slice(&micros(r.start_ns).to_le_bytes());
            string(&mut body, &r.node);
            string(&mut body, &crate::transactions::server(r));
            body.extend_from_slice(&r.dst_port.to_le_bytes());
            string(&mut body, t.protocol);
            body.extend_from_slice(&time_us(r, t).to_le_bytes());
            opt(&mut body, t.request_ns.map(micros));
            opt(&mut body, t.response_ns.map(micros));
            opt(&mut body, t.response_us);
            body.extend_from_slice(&t.request_bytes.to_le_bytes());
            body.extend_from_slice(&t.response_bytes.to_le_bytes());
            match t.failed() {
                Some(f) => body.extend_from_slice(&[0, u8::from(f)]),
                None => body.push(1),
            }
            string(&mut body, &fields_json(t));
            row_ends.push(body.len());
            ids.push(r.id.clone());
        }
    }
    (Encoded { body, row_ends }, ids)
}

pub(crate) const FILE_COLUMNS: &str = "id, node, path, link_type, packets, bytes, first_time, last_time";

pub(crate) fn files(files: &[FileRow]) -> Encoded {
    let mut body = Vec::new();
    let mut row_ends = Vec::new();
    for f in files {
        body.extend_from_slice(&f.id.to_le_bytes());
        string(&mut body, &f.node);
        string(&mut body, &f.path);
        body.extend_from_slice(&f.link_type.to_le_bytes());
        body.extend_from_slice(&f.packets.to_le_bytes());
        body.extend_from_slice(&f.bytes.to_le_bytes());
        body.extend_from_slice(&micros(f.first_ns).to_le_bytes());
        body.extend_from_slice(&micros(f.last_ns).to_le_bytes());
        row_ends.push(body.len());
    }
    Encoded { body, row_ends }
}

pub(crate) const ALERT_COLUMNS: &str =
    "time, node, detector, severity, source, targets, message, expression, first_time, last_time";

pub(crate) fn alerts(alerts: &[AlertRecord]) -> Encoded {
    let mut body = Vec::new();
    let mut row_ends = Vec::new();
    for a in alerts {
        body.extend_from_slice(&micros(a.time_ns).to_le_bytes());
        string(&mut body, &a.node);
        string(&mut body, &a.detector);
        string(&mut body, a.severity.as_str());
        string(&mut body, &a.source);
        varint(&mut body, a.targets.len() as u64);
        a.targets.iter().for_each(|t| string(&mut body, t));
        string(&mut body, &a.message);
        string(&mut body, &a.expression);
        body.extend_from_slice(&micros(a.first_ns).to_le_bytes());
        body.extend_from_slice(&micros(a.last_ns).to_le_bytes());
        row_ends.push(body.len());
    }
    Encoded { body, row_ends }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_are_leb128() {
        let mut v = Vec::new();
        varint(&mut v, 0);
        varint(&mut v, 127);
        varint(&mut v, 128);
        varint(&mut v, 300);
        assert_eq!(v, [0, 127, 0x80, 1, 0xac, 2]);
    }

    #[test]
    fn every_field_has_a_column_type_and_absent_values_take_their_none() {
        let rec = SessionRecord::default();
        for f in tyto_schema::FIELDS.iter() {
            assert!(!column_type(f).is_empty());
            let mut out = Vec::new();
            value(&mut out, f, f.value(&rec));
            assert!(!out.is_empty(), "{} wrote nothing", f.name);
        }
    }
}
