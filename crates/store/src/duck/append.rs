//! Session rows into DuckDB a column at a time: each batch becomes Arrow record
//! batches of the columns some row of it fills, for the sessions table and for each
//! protocol's side table, appended in one transaction.
//!
//! Why not DuckDB's row appender: it takes one value at a time through the C API
//! (a `duckdb_value` made and freed per list), ~240 calls a row; measured, it spent
//! 77 µs a row, four fifths of `tyto ingest`. Columns built here cost a few
//! nanoseconds a value, and a field no row of the batch holds costs nothing (DuckDB
//! fills its default, NULL).
//!
//! Addresses are 128-bit unsigned (UHUGEINT), which Arrow has no type for: they go as
//! their decimal text, which the appender casts exactly (it casts whatever differs
//! from the table's type); the cast costs ~0.1 µs an address.

use std::sync::Arc;

use duckdb::arrow::array::{
    ArrayRef, Int64Array, Int64Builder, ListBuilder, StringBuilder, TimestampMicrosecondArray,
    TimestampMicrosecondBuilder,
};
use duckdb::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use duckdb::arrow::record_batch::RecordBatch;
use duckdb::Connection;
use tyto_schema::{FieldDef, FieldKind, FieldValue, SessionRecord, Source, FIELDS};

use super::sql::side_table;

use crate::rows::holds;

use crate::StoreError;

/// The fields of the sessions table worth a column in this batch: every single
/// value of the record itself, and the lists and enrichment fields some row holds.
fn main_fields(rows: &[SessionRecord]) -> Vec<&'static FieldDef> {
    FIELDS
        .iter()
        .filter(|f| side_table(f).is_none())
        .filter(|f| match f.source {
            Source::Record(_) if !f.multi => true,
            _ => rows.iter().any(|r| holds(f, r)),
        })
        .collect()
}

/// Each side table some row of the batch has fields of: its fields the batch holds,
/// and the rows (indexes into `rows`) that hold one. One pass over the rows' fields.
fn side_rows(rows: &[SessionRecord]) -> Vec<(String, Vec<&'static FieldDef>, Vec<usize>)> {
    let mut out: Vec<(String, Vec<&'static FieldDef>, Vec<usize>)> = Vec::new();
    for (i, r) in rows.iter().enumerate() {
        for (name, _) in r.extra.iter() {
            let Some(f) = tyto_schema::field(name) else { continue };
            let Some(t) = side_table_of(f) else { continue };
            let at = match out.iter().position(|(name, _, _)| name == t) {
                Some(at) => at,
                None => {
                    out.push((t.to_string(), Vec::new(), Vec::new()));
                    out.len() - 1
                }
            };
            let (_, fields, idx) = &mut out[at];
            if !fields.iter().any(|g| std::ptr::eq(*g, f)) {
                fields.push(f);
            }
            if idx.last() != Some(&i) {
                idx.push(i);
            }
        }
    }
    // Columns in catalogue order, as the tables were made.
    for (_, fields, _) in &mut out {
        fields.sort_by_key(|f| FIELDS.iter().position(|g| std::ptr::eq(g, *f)));
    }
    out
}

/// `side_table`, computed once per field: a batch asks it for every value.
fn side_table_of(f: &'static FieldDef) -> Option<&'static str> {
    static TABLES: std::sync::OnceLock<Vec<Option<String>>> = std::sync::OnceLock::new();
    let tables = TABLES.get_or_init(|| FIELDS.iter().map(side_table).collect());
    let i = FIELDS.iter().position(|g| std::ptr::eq(g, f))?;
    tables[i].as_deref()
}

/// The decimal text of an address, as the appender casts it to UHUGEINT.
fn ip_text<'a>(a: &tyto_packet::Addr, buf: &'a mut String) -> &'a str {
    use std::fmt::Write;
    buf.clear();
    let _ = write!(buf, "{}", a.as_u128());
    buf.as_str()
}

/// One field's column over the batch. An empty list is NULL: it means the same to
/// every query, and costs nothing.
fn column(f: &'static FieldDef, rows: &[&SessionRecord]) -> (Field, ArrayRef) {
    let mut buf = String::new();
    let list_of = |item: DataType| DataType::List(Arc::new(Field::new("item", item, true)));
    let micros = DataType::Timestamp(TimeUnit::Microsecond, None);
    let (kind, array): (DataType, ArrayRef) = match (f.kind, f.multi) {
        (FieldKind::Text | FieldKind::LowerText, false) => {
            let mut b = StringBuilder::with_capacity(rows.len(), rows.len() * 16);
            // `root_id` equal to `id` is stored as NULL (see `sql::col`).
            let root = f.column == "root_id";
            for r in rows {
                match f.value(r) {
                    FieldValue::Str(s) if !(root && s == r.id) => b.append_value(s),
                    _ => b.append_null(),
                }
            }
            (DataType::Utf8, Arc::new(b.finish()))
        }
        (FieldKind::Integer | FieldKind::Date, false) => {
            if f.kind == FieldKind::Date {
                let mut b = TimestampMicrosecondBuilder::with_capacity(rows.len());
                for r in rows {
                    match f.value(r) {
                        FieldValue::Time(ns) | FieldValue::Int(ns) => b.append_value(ns.div_euclid(1000)),
                        _ => b.append_null(),
                    }
                }
                (micros, Arc::new(b.finish()))
            } else {
                let mut b = Int64Builder::with_capacity(rows.len());
                for r in rows {
                    match f.value(r) {
                        FieldValue::Int(i) | FieldValue::Time(i) => b.append_value(i),
                        _ => b.append_null(),
                    }
                }
                (DataType::Int64, Arc::new(b.finish()))
            }
        }
        (FieldKind::Ip, false) => {
            let mut b = StringBuilder::with_capacity(rows.len(), rows.len() * 16);
            for r in rows {
                match f.value(r) {
                    FieldValue::Ip(a) => b.append_value(ip_text(&a, &mut buf)),
                    _ => b.append_null(),
                }
            }
            (DataType::Utf8, Arc::new(b.finish()))
        }
        (FieldKind::Text | FieldKind::LowerText, true) => {
            let mut b = ListBuilder::new(StringBuilder::new());
            for r in rows {
                match f.value(r) {
                    FieldValue::Strs(v) if !v.is_empty() => {
                        v.iter().for_each(|s| b.values().append_value(s));
                        b.append(true);
                    }
                    FieldValue::Macs(v) if !v.is_empty() => {
                        for m in v {
                            use std::fmt::Write;
                            buf.clear();
                            let _ = write!(buf, "{m}");
                            b.values().append_value(&buf);
                        }
                        b.append(true);
                    }
                    _ => b.append_null(),
                }
            }
            (list_of(DataType::Utf8), Arc::new(b.finish()))
        }
        (FieldKind::Integer, true) => {
            let mut b = ListBuilder::new(Int64Builder::new());
            for r in rows {
                match f.value(r) {
                    FieldValue::Ints(v) | FieldValue::Times(v) if !v.is_empty() => {
                        b.values().append_slice(&v);
                        b.append(true);
                    }
                    _ => b.append_null(),
                }
            }
            (list_of(DataType::Int64), Arc::new(b.finish()))
        }
        (FieldKind::Date, true) => {
            let mut b = ListBuilder::new(TimestampMicrosecondBuilder::new());
            for r in rows {
                match f.value(r) {
                    FieldValue::Ints(v) | FieldValue::Times(v) if !v.is_empty() => {
                        v.iter().for_each(|ns| b.values().append_value(ns.div_euclid(1000)));
                        b.append(true);
                    }
                    _ => b.append_null(),
                }
            }
            (list_of(micros.clone()), Arc::new(b.finish()))
        }
        (FieldKind::Ip, true) => {
            let mut b = ListBuilder::new(StringBuilder::new());
            for r in rows {
                match f.value(r) {
                    FieldValue::Ips(v) if !v.is_empty() => {
                        v.iter().for_each(|a| b.values().append_value(ip_text(a, &mut buf)));
                        b.append(true);
                    }
                    _ => b.append_null(),
                }
            }
            (list_of(DataType::Utf8), Arc::new(b.finish()))
        }
    };
    (Field::new(f.column, kind, true), array)
}

/// `rows` as a record batch: their row keys (`first_rk` on), the session's times
/// when `times` (a side table's), then the columns of `fields`.
fn record_batch(
    rows: &[(i64, &SessionRecord)],
    times: bool,
    groups: Option<&[i64]>,
    fields: &[&'static FieldDef],
) -> Result<RecordBatch, StoreError> {
    let micros = DataType::Timestamp(TimeUnit::Microsecond, None);
    let mut schema = vec![Field::new("rk", DataType::Int64, false)];
    let mut arrays: Vec<ArrayRef> = vec![Arc::new(Int64Array::from_iter_values(rows.iter().map(|(rk, _)| *rk)))];
    if let Some(g) = groups {
        schema.push(Field::new("side_groups", DataType::Int64, false));
        arrays.push(Arc::new(Int64Array::from_iter_values(g.iter().copied())));
    }
    if times {
        schema.push(Field::new("side_start", micros.clone(), false));
        schema.push(Field::new("side_stop", micros, false));
        arrays.push(Arc::new(TimestampMicrosecondArray::from_iter_values(
            rows.iter().map(|(_, r)| r.start_ns.div_euclid(1000)),
        )));
        arrays.push(Arc::new(TimestampMicrosecondArray::from_iter_values(
            rows.iter().map(|(_, r)| r.stop_ns.div_euclid(1000)),
        )));
    }
    let records: Vec<&SessionRecord> = rows.iter().map(|(_, r)| *r).collect();
    for f in fields {
        let (field, array) = column(f, &records);
        schema.push(field);
        arrays.push(array);
    }
    RecordBatch::try_new(Arc::new(Schema::new(schema)), arrays)
        .map_err(|e| StoreError::Encode(format!("building a record batch: {e}")))
}

/// Rows per record batch: DuckDB's vector size. duckdb-rs cuts a larger batch into
/// slices of this many rows, and a slice of a list column carries the whole child
/// array along, which it then copies again for every slice (measured: 1 s for the
/// `protocols` of 200,000 rows, against 20 ms in batches of this size).
const ROWS_PER_RECORD_BATCH: usize = 2048;

/// Appends `rows` to `table` in record batches: a side table (`times`) or the
/// sessions table with each row's `side_groups`.
fn append_table(
    tx: &duckdb::Transaction<'_>,
    table: &str,
    rows: &[(i64, &SessionRecord)],
    times: bool,
    groups: Option<&[i64]>,
    fields: &[&'static FieldDef],
) -> Result<(), StoreError> {
    let mut columns = vec!["rk"];
    if times {
        columns.extend(["side_start", "side_stop"]);
    }
    if groups.is_some() {
        columns.push("side_groups");
    }
    columns.extend(fields.iter().map(|f| f.column));
    let mut app = tx.appender_with_columns(table, &columns)?;
    for (i, chunk) in rows.chunks(ROWS_PER_RECORD_BATCH).enumerate() {
        let g = groups.map(|g| &g[i * ROWS_PER_RECORD_BATCH..i * ROWS_PER_RECORD_BATCH + chunk.len()]);
        app.append_record_batch(record_batch(chunk, times, g, fields)?)?;
    }
    app.flush()?;
    Ok(())
}

/// Appends `rows`, with row keys from `first_rk` on, in one transaction: the
/// sessions table, then each side table for the rows that have its fields.
pub(crate) fn append(conn: &Connection, rows: &[SessionRecord], first_rk: i64) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    let keyed: Vec<(i64, &SessionRecord)> = rows.iter().enumerate().map(|(i, r)| (first_rk + i as i64, r)).collect();
    let tx = conn.unchecked_transaction()?;
    let main = main_fields(rows);
    let sides = side_rows(rows);
    let mut groups = vec![0i64; rows.len()];
    for (table, _, idx) in &sides {
        let bit = super::sql::side_bit(table) as i64;
        idx.iter().for_each(|i| groups[*i] |= bit);
    }
    append_table(&tx, "sessions", &keyed, false, Some(&groups), &main)?;
    for (table, fields, idx) in sides {
        let mine: Vec<(i64, &SessionRecord)> = idx.iter().map(|i| keyed[*i]).collect();
        append_table(&tx, &table, &mine, true, None, &fields)?;
    }
    tx.commit()?;
    Ok(())
}
