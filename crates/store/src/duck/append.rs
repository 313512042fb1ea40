//! Session rows into DuckDB a column at a time: each batch becomes Arrow record
//! batches of the columns some row of it fills, for the sessions table and for each
//! protocol's side table, appended in one transaction. Of a large batch, the
//! columns are built on a second thread while DuckDB takes those built before
//! (measured: `bench-store` 179K → 204K rows/s, `tyto ingest` 6% sooner).
//!
//! Why not DuckDB's row appender: it takes one value at a time through the C API
//! (a `duckdb_value` made and freed per list), ~240 calls a row; measured, it spent
//! 77 µs a row, four fifths of `tyto ingest`. Columns built here cost a few
//! nanoseconds a value, and a field no row of the batch holds costs nothing (DuckDB
//! fills its default, NULL).
//!
//! Addresses are 128-bit unsigned (UHUGEINT), which Arrow has no type for: they go as
//! 16-byte UUIDs, which the appender casts exactly (it casts whatever differs from
//! the table's type).

use std::sync::Arc;

use duckdb::arrow::array::{
    Array, ArrayBuilder, ArrayRef, FixedSizeBinaryBuilder, Int64Array, Int64Builder, ListBuilder, StringArray,
    StringBuilder, TimestampMicrosecondArray, TimestampMicrosecondBuilder, UInt64Array, UInt8Array,
};
use duckdb::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use duckdb::arrow::record_batch::RecordBatch;
use duckdb::Connection;
use tyto_schema::{FieldDef, FieldKind, FieldValue, SessionRecord, STORED_AT_COLUMN};

use super::sql::{side_bit, side_table, PACKED_NAMES, PACKED_VALUES, SHARED_TABLE};

use crate::rows::fields_held;

use crate::StoreError;

/// A side table's part of a batch: the fields the batch holds of it, and the rows
/// (indexes into the batch, ascending) that hold one.
struct SideRows {
    table: String,
    fields: Vec<&'static FieldDef>,
    rows: Vec<usize>,
}

/// What a batch fills: the fields of the sessions table worth a column (every single
/// value of the record itself, and the lists and dissector fields some row holds),
/// each side table some row has fields of, and each row's `side_groups` (the bits
/// of the groups it has dissector fields of).
fn batch_layout(rows: &[&SessionRecord]) -> (Vec<&'static FieldDef>, Vec<SideRows>, Vec<i64>) {
    let mut main = Vec::new();
    // Each side table's rows as a mark per row of the batch: the fields' rows are
    // each ascending, and marking them is cheaper than sorting their union.
    let mut sides: Vec<(SideRows, Vec<bool>)> = Vec::new();
    let mut groups = vec![0i64; rows.len()];
    for (f, holding) in fields_held(rows.iter().copied(), |f| side_table(f).is_some()) {
        let Some(table) = side_table(f) else {
            main.push(f);
            continue;
        };
        let at = match sides.iter().position(|(s, _)| s.table == table) {
            Some(at) => at,
            None => {
                sides.push((SideRows { table, fields: Vec::new(), rows: Vec::new() }, vec![false; rows.len()]));
                sides.len() - 1
            }
        };
        let bit = side_bit(f) as i64;
        let (side, marks) = &mut sides[at];
        for &i in &holding {
            groups[i] |= bit;
            marks[i] = true;
        }
        side.fields.push(f);
    }
    let sides = sides
        .into_iter()
        .map(|(mut side, marks)| {
            side.rows = marks.iter().enumerate().filter_map(|(i, held)| held.then_some(i)).collect();
            side
        })
        .collect();
    (main, sides, groups)
}

/// An address column: its 16 bytes tagged as a UUID, which DuckDB stores as a
/// 128-bit integer and casts to the table's UHUGEINT exactly (the UUID's flipped top
/// bit flipped back), without the text round trip.
fn address_field(name: &str) -> Field {
    Field::new(name, DataType::FixedSizeBinary(16), true).with_metadata(std::collections::HashMap::from([(
        "ARROW:extension:name".to_string(),
        "arrow.uuid".to_string(),
    )]))
}

fn encode(e: duckdb::arrow::error::ArrowError) -> StoreError {
    StoreError::Encode(format!("building a column: {e}"))
}

/// One field's column over the batch. An empty list is NULL: it means the same to
/// every query, and costs nothing.
fn column(f: &'static FieldDef, rows: &[&SessionRecord]) -> Result<(Field, ArrayRef), StoreError> {
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
        (FieldKind::Integer | FieldKind::Date | FieldKind::Duration, false) => {
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
                        FieldValue::Int(i) | FieldValue::Time(i) | FieldValue::Duration(i) => b.append_value(i),
                        _ => b.append_null(),
                    }
                }
                (DataType::Int64, Arc::new(b.finish()))
            }
        }
        (FieldKind::Ip, false) => {
            let mut b = FixedSizeBinaryBuilder::with_capacity(rows.len(), 16);
            for r in rows {
                match f.value(r) {
                    FieldValue::Ip(a) => b.append_value(a.0).map_err(encode)?,
                    _ => b.append_null(),
                }
            }
            let array = Arc::new(b.finish());
            return Ok((address_field(f.column), array));
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
                            b.values().append_value(std::str::from_utf8(&m.text()).unwrap_or_default());
                        }
                        b.append(true);
                    }
                    _ => b.append_null(),
                }
            }
            (list_of(DataType::Utf8), Arc::new(b.finish()))
        }
        (FieldKind::Integer | FieldKind::Duration, true) => {
            let mut b = ListBuilder::new(Int64Builder::new());
            for r in rows {
                match f.value(r) {
                    FieldValue::Ints(v) | FieldValue::Times(v) | FieldValue::Durations(v) if !v.is_empty() => {
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
            let item = Arc::new(address_field("item"));
            let mut b = ListBuilder::new(FixedSizeBinaryBuilder::new(16)).with_field(item.clone());
            for r in rows {
                match f.value(r) {
                    FieldValue::Ips(v) if !v.is_empty() => {
                        for a in v {
                            b.values().append_value(a.0).map_err(encode)?;
                        }
                        b.append(true);
                    }
                    _ => b.append_null(),
                }
            }
            (DataType::List(item), Arc::new(b.finish()))
        }
    };
    Ok((Field::new(f.column, kind, true), array))
}

/// Numbers of the sessions table's own, a value per row: `side_groups` and
/// `protocol_set`.
type OwnColumns<'a> = [(&'static str, &'a [i64])];

/// `rows`' row keys (`first_rk` on), the session's times when `times` (a side
/// table's), the sessions table's `own` columns: the columns a record batch of
/// any table begins with.
fn key_columns(
    rows: &[(i64, &SessionRecord)],
    times: bool,
    own: &OwnColumns<'_>,
    stored_us: Option<i64>,
) -> (Vec<Field>, Vec<ArrayRef>) {
    let micros = DataType::Timestamp(TimeUnit::Microsecond, None);
    let mut schema = vec![Field::new("rk", DataType::Int64, false)];
    let mut arrays: Vec<ArrayRef> = vec![Arc::new(Int64Array::from_iter_values(rows.iter().map(|(rk, _)| *rk)))];
    for (name, values) in own {
        schema.push(Field::new(*name, DataType::Int64, false));
        arrays.push(Arc::new(Int64Array::from_iter_values(values.iter().copied())));
    }
    if let Some(us) = stored_us {
        schema.push(Field::new(STORED_AT_COLUMN, micros.clone(), false));
        arrays.push(Arc::new(TimestampMicrosecondArray::from_iter_values(rows.iter().map(|_| us))));
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
    (schema, arrays)
}

/// `rows` as a record batch: their [`key_columns`], then the columns of `fields`.
fn record_batch(
    rows: &[(i64, &SessionRecord)],
    times: bool,
    own: &OwnColumns<'_>,
    stored_us: Option<i64>,
    fields: &[&'static FieldDef],
) -> Result<RecordBatch, StoreError> {
    let (mut schema, mut arrays) = key_columns(rows, times, own, stored_us);
    let records: Vec<&SessionRecord> = rows.iter().map(|(_, r)| *r).collect();
    for f in fields {
        let (field, array) = column(f, &records)?;
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

/// What an append hands DuckDB, in order: a table and the columns its batches fill,
/// then those batches.
enum Piece {
    Table(String, Vec<&'static str>),
    Batch(RecordBatch),
}

/// Where [`Piece`]s go: appended at once, or sent to the thread that appends them.
type Sink<'a> = dyn FnMut(Piece) -> Result<(), StoreError> + 'a;

/// Appends [`Piece`]s to their tables on `conn`, each table's batches through one
/// appender.
struct Appending<'c> {
    conn: &'c Connection,
    app: Option<duckdb::Appender<'c>>,
}

impl<'c> Appending<'c> {
    fn take(&mut self, piece: Piece) -> Result<(), StoreError> {
        match piece {
            Piece::Table(table, columns) => {
                self.finish()?;
                self.app = Some(self.conn.appender_with_columns(&table, &columns)?);
            }
            Piece::Batch(batch) => match self.app.as_mut() {
                Some(app) => app.append_record_batch(batch)?,
                None => return Err(StoreError::Encode("a record batch before its table".into())),
            },
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<(), StoreError> {
        if let Some(mut app) = self.app.take() {
            app.flush()?;
        }
        Ok(())
    }
}

/// `rows` of `table` as pieces: a side table (`times`) or the sessions table with
/// its `own` columns.
fn table_pieces(
    sink: &mut Sink<'_>,
    table: &str,
    rows: &[(i64, &SessionRecord)],
    times: bool,
    own: &OwnColumns<'_>,
    stored_us: Option<i64>,
    fields: &[&'static FieldDef],
) -> Result<(), StoreError> {
    let mut columns = vec!["rk"];
    if times {
        columns.extend(["side_start", "side_stop"]);
    }
    columns.extend(own.iter().map(|(name, _)| *name));
    if stored_us.is_some() {
        columns.push(STORED_AT_COLUMN);
    }
    columns.extend(fields.iter().map(|f| f.column));
    sink(Piece::Table(table.to_string(), columns))?;
    for (i, chunk) in rows.chunks(ROWS_PER_RECORD_BATCH).enumerate() {
        let at = i * ROWS_PER_RECORD_BATCH..i * ROWS_PER_RECORD_BATCH + chunk.len();
        let own: Vec<(&'static str, &[i64])> = own.iter().map(|(name, values)| (*name, &values[at.clone()])).collect();
        sink(Piece::Batch(record_batch(chunk, times, &own, stored_us, fields)?))?;
    }
    Ok(())
}

/// Rows an append holds at least for its columns to be built on a thread of their
/// own while DuckDB takes the batches built before (fewer: not worth the thread).
pub(crate) const PIPELINED_ROWS: usize = 4 * ROWS_PER_RECORD_BATCH;

/// Appends `rows`, with row keys from `first_rk` on, in the transaction open on
/// `conn`: the sessions table, then each side table for the rows that have its
/// fields, then their transactions. Of a large batch, the Arrow columns are built
/// on another thread while this one hands DuckDB those built before.
pub(crate) fn append(conn: &Connection, rows: &[&SessionRecord], first_rk: i64) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    let keyed: Vec<(i64, &SessionRecord)> = rows.iter().enumerate().map(|(i, r)| (first_rk + i as i64, *r)).collect();
    let (main, sides, groups) = batch_layout(rows);
    let sets = super::protocol_sets::ids(conn, rows)?;
    let own = [("side_groups", groups.as_slice()), (super::protocol_sets::COLUMN, sets.as_slice())];
    // Every row of the batch stored at the same moment (`dbTimestamp`).
    let stored_us = tyto_schema::time::now_ns().div_euclid(1000);
    let produce = |sink: &mut Sink<'_>| -> Result<(), StoreError> {
        table_pieces(sink, "sessions", &keyed, false, &own, Some(stored_us), &main)?;
        for side in &sides {
            let mine: Vec<(i64, &SessionRecord)> = side.rows.iter().map(|i| keyed[*i]).collect();
            if side.table == SHARED_TABLE {
                packed_pieces(sink, &mine, &side.fields)?;
            } else {
                table_pieces(sink, &side.table, &mine, true, &[], None, &side.fields)?;
            }
        }
        transaction_pieces(sink, rows)
    };
    let mut appending = Appending { conn, app: None };
    if rows.len() < PIPELINED_ROWS {
        produce(&mut |p| appending.take(p))?;
    } else {
        // Two batches in flight: the builder stays a step ahead without holding much.
        let (tx, rx) = std::sync::mpsc::sync_channel::<Piece>(2);
        std::thread::scope(|s| {
            let builder = s.spawn(move || {
                produce(&mut |p| tx.send(p).map_err(|_| StoreError::Encode("the appends stopped".into())))
            });
            // On an append's error the channel closes, which stops the builder.
            let appended = rx.into_iter().try_for_each(|p| appending.take(p));
            let built = builder.join().unwrap_or_else(|_| Err(StoreError::Encode("building columns panicked".into())));
            appended.and(built)
        })?;
    }
    appending.finish()?;
    super::minutes::add(conn, rows)?;
    Ok(())
}

/// A value of a packed field as text into `out`, in the form [`super::sql::col`]
/// reads back (addresses as their 128-bit number, times in microseconds).
fn packed_texts(v: FieldValue<'_>, out: &mut StringBuilder) {
    use std::fmt::Write;
    // Numbers written straight into the builder's buffer, then closed as a value.
    let mut number = |n: &dyn std::fmt::Display| {
        let _ = write!(out, "{n}");
        out.append_value("");
    };
    match v {
        FieldValue::Str(s) => out.append_value(s),
        FieldValue::Strs(v) => v.iter().for_each(|s| out.append_value(s)),
        FieldValue::Int(i) | FieldValue::Duration(i) => number(&i),
        FieldValue::Time(ns) => number(&ns.div_euclid(1000)),
        FieldValue::Ints(v) | FieldValue::Durations(v) => v.iter().for_each(|i| number(i)),
        FieldValue::Times(v) => v.iter().for_each(|ns| number(&ns.div_euclid(1000))),
        FieldValue::Ip(a) => number(&u128::from_be_bytes(a.0)),
        FieldValue::Ips(v) => v.iter().for_each(|a| number(&u128::from_be_bytes(a.0))),
        FieldValue::Macs(v) => v.iter().for_each(|m| out.append_value(String::from_utf8_lossy(&m.text()))),
        FieldValue::Null => {}
    }
}

/// Rows of the shared side table, packed (see [`super::sql::PACKED_NAMES`]): each
/// row's fields of `fields` that hold a value, by name, with their values as text.
fn packed_pieces(
    sink: &mut Sink<'_>,
    rows: &[(i64, &SessionRecord)],
    fields: &[&'static FieldDef],
) -> Result<(), StoreError> {
    let columns = vec!["rk", "side_start", "side_stop", PACKED_NAMES, PACKED_VALUES];
    sink(Piece::Table(SHARED_TABLE.to_string(), columns))?;
    for chunk in rows.chunks(ROWS_PER_RECORD_BATCH) {
        let mut names = ListBuilder::new(StringBuilder::new());
        let mut values = ListBuilder::new(ListBuilder::new(StringBuilder::new()));
        for (_, r) in chunk {
            for f in fields {
                let list = values.values();
                let before = list.values().len();
                packed_texts(f.value(r), list.values());
                // No value (NULL, an empty list): the field is left out.
                if list.values().len() > before {
                    list.append(true);
                    names.values().append_value(f.column);
                }
            }
            names.append(true);
            values.append(true);
        }
        let (names, values) = (names.finish(), values.finish());
        let (mut schema, mut arrays) = key_columns(chunk, true, &[], None);
        schema.push(Field::new(PACKED_NAMES, names.data_type().clone(), true));
        schema.push(Field::new(PACKED_VALUES, values.data_type().clone(), true));
        arrays.extend([Arc::new(names) as ArrayRef, Arc::new(values)]);
        let batch = RecordBatch::try_new(Arc::new(Schema::new(schema)), arrays)
            .map_err(|e| StoreError::Encode(format!("building a record batch of packed fields: {e}")))?;
        sink(Piece::Batch(batch))?;
    }
    Ok(())
}

/// The rows' transactions for their table ([`crate::transactions`]), as Arrow
/// columns: a busy resolver's session holds hundreds.
fn transaction_pieces(sink: &mut Sink<'_>, rows: &[&SessionRecord]) -> Result<(), StoreError> {
    use crate::rows::micros;
    use crate::transactions::{fields_json, of, time_us};
    let all: Vec<_> = of(rows).collect();
    if all.is_empty() {
        return Ok(());
    }
    let columns: Vec<&'static str> = crate::transactions::COLUMNS.split(',').map(str::trim).collect();
    sink(Piece::Table("transactions".to_string(), columns.clone()))?;
    for chunk in all.chunks(ROWS_PER_RECORD_BATCH) {
        let text = |f: &dyn Fn(&SessionRecord, &tyto_schema::Transaction) -> String| -> ArrayRef {
            Arc::new(StringArray::from_iter_values(chunk.iter().map(|(r, t)| f(r, t))))
        };
        // Borrowed where the row holds the text already.
        let borrowed = |f: &dyn for<'a> Fn(&'a SessionRecord, &'a tyto_schema::Transaction) -> &'a str| -> ArrayRef {
            Arc::new(StringArray::from_iter_values(chunk.iter().map(|(r, t)| f(r, t))))
        };
        let int = |f: &dyn Fn(&SessionRecord, &tyto_schema::Transaction) -> Option<i64>| -> ArrayRef {
            Arc::new(Int64Array::from_iter(chunk.iter().map(|(r, t)| f(r, t))))
        };
        let unsigned = |f: &dyn Fn(&tyto_schema::Transaction) -> u64| -> ArrayRef {
            Arc::new(UInt64Array::from_iter_values(chunk.iter().map(|(_, t)| f(t))))
        };
        let arrays: Vec<ArrayRef> = vec![
            borrowed(&|r, _| &r.id),
            int(&|r, _| Some(micros(r.start_ns))),
            borrowed(&|r, _| &r.node),
            text(&|r, _| crate::transactions::server(r)),
            int(&|r, _| Some(i64::from(r.dst_port))),
            borrowed(&|_, t| t.protocol),
            int(&|r, t| Some(time_us(r, t))),
            int(&|_, t| t.request_ns.map(micros)),
            int(&|_, t| t.response_ns.map(micros)),
            int(&|_, t| t.response_us),
            unsigned(&|t| t.request_bytes),
            unsigned(&|t| t.response_bytes),
            Arc::new(UInt8Array::from_iter(chunk.iter().map(|(_, t)| t.failed().map(u8::from)))),
            text(&|_, t| fields_json(t)),
        ];
        let schema: Vec<Field> =
            columns.iter().zip(&arrays).map(|(name, a)| Field::new(*name, a.data_type().clone(), true)).collect();
        let batch = RecordBatch::try_new(Arc::new(Schema::new(schema)), arrays)
            .map_err(|e| StoreError::Encode(format!("building a record batch of transactions: {e}")))?;
        sink(Piece::Batch(batch))?;
    }
    Ok(())
}
