//! The embedded store: DuckDB, one file in the data directory. Its tables and SQL
//! are in [`sql`]; rows go in a column at a time ([`append`]).

mod append;
mod minutes;
pub(crate) mod protocol_sets;
pub(crate) mod sql;

use std::path::Path;

use duckdb::types::{TimeUnit, Value};
use duckdb::{params, Connection};
use serde_json::{Map, Value as Json};
use tyto_packet::Addr;
use tyto_schema::{time::format_rfc3339, AlertRecord, FieldDef, SessionRecord, Severity, FIELDS};

use sql::{side_table, side_tables, sql_type, DuckSql};
pub use sql::{string_literal, DUCKDB_LAYOUT};

use crate::sql::reads::{self, Backend, Shapes};
use crate::sql::where_clause;
use crate::{
    dump_fields, AlertQuery, Bucket, Combination, FileRow, InputFile, Interrupter, Link, ListQuery, ReaderBox, Sampled,
    SessionPositions, SessionReader, SessionWriter, StopFlag, StoreError, StoreHandle, StoreStats, ValueCount,
    ValueSeries, MAX_LIST_ROWS,
};

/// Pages of newest-first listings reaching at most this many sessions are read from
/// the newest sessions back ([`DuckStore::newest_first`]); deeper pages read all.
const NEWEST_FIRST_ROWS: usize = 10_000;
/// Rows of a query, each its columns' values.
type Rows = Vec<Vec<Json>>;
/// The first span of start times a newest-first page reads: an hour.
const FIRST_NEWEST_SPAN_US: i64 = 3_600_000_000;

/// The database file inside a data directory.
pub const DB_FILE: &str = "sessions.duckdb";

/// How many times a read is written and run when new lists of protocols keep
/// being stored under it (see [`DuckStore::again_if_changed`]).
const READ_ATTEMPTS: u32 = 3;

/// The embedded store.
pub struct DuckStore {
    conn: Connection,
    /// The database file (`:memory:` for an in-memory store).
    path: std::path::PathBuf,
    /// The next row key to give (a writing handle's; read from the table when needed).
    next_rk: Option<i64>,
    /// How searches are written, with the lists of protocols last read.
    sql: DuckSql,
    /// Set while a read runs ([`DuckStore::again_if_changed`]): every statement of it
    /// is written with the lists read just before it, which the check after it
    /// compares with.
    lists_fixed: std::cell::Cell<bool>,
    /// Set by this handle's [`Interrupter`]: queries are refused until cleared. DuckDB
    /// forgets an interrupt when the next statement begins, so one that comes between
    /// two statements of a request would otherwise be lost.
    stopped: StopFlag,
    /// Rows a writing handle appended in a transaction still open
    /// ([`SessionWriter::append_held`]).
    held: usize,
}

/// Rows a writing handle holds in one open transaction at most: a row group, which
/// DuckDB writes straight to the database file when the transaction commits, rather
/// than to its log and then again at the next checkpoint. A commit is the dearest
/// part of an append of a few thousand rows (measured: a 60,306-session capture's
/// rows in appends of 6,000 took the store thread 2.33 s committed one by one,
/// 1.38–1.77 s held in one transaction).
const HOLD_ROWS: usize = 122_880;

fn ts(ns: i64) -> Value {
    Value::Timestamp(TimeUnit::Microsecond, ns.div_euclid(1000))
}

/// The items of a list value that `pick` takes (none when the value is not a list).
fn list_of<T>(v: Value, pick: impl FnMut(Value) -> Option<T>) -> Vec<T> {
    match v {
        Value::List(items) => items.into_iter().filter_map(pick).collect(),
        _ => Vec::new(),
    }
}

/// A DuckDB value as JSON in the API's form: addresses as text, times in RFC 3339,
/// empty text and lists as nothing (`Null`).
fn to_json(v: Value) -> Json {
    match v {
        Value::Null => Json::Null,
        Value::List(items) => {
            let items: Vec<Json> = items.into_iter().map(to_json).filter(|j| !j.is_null()).collect();
            if items.is_empty() {
                Json::Null
            } else {
                Json::Array(items)
            }
        }
        // Addresses are UHUGEINT; duckdb-rs reads a list's as HUGEINT. Sums, which DuckDB
        // makes HUGEINT too, are cast to BIGINT by the queries (`Shapes::sum`).
        Value::UHugeInt(u) => Json::from(Addr(u.to_be_bytes()).to_string()),
        Value::HugeInt(i) => Json::from(Addr((i as u128).to_be_bytes()).to_string()),
        Value::BigInt(i) => Json::from(i),
        Value::Int(i) => Json::from(i),
        Value::UInt(i) => Json::from(i),
        Value::UBigInt(i) => Json::from(i),
        Value::SmallInt(i) => Json::from(i),
        Value::TinyInt(i) => Json::from(i),
        Value::UTinyInt(i) => Json::from(i),
        Value::USmallInt(i) => Json::from(i),
        Value::Double(d) => Json::from(d),
        Value::Boolean(b) => Json::from(b),
        Value::Timestamp(unit, t) => {
            let ns = match unit {
                TimeUnit::Second => t.saturating_mul(1_000_000_000),
                TimeUnit::Millisecond => t.saturating_mul(1_000_000),
                TimeUnit::Microsecond => t.saturating_mul(1000),
                TimeUnit::Nanosecond => t,
            };
            Json::from(format_rfc3339(ns))
        }
        Value::Text(s) if s.is_empty() => Json::Null,
        Value::Text(s) => Json::from(s),
        other => Json::from(format!("{other:?}")),
    }
}

/// A column's JSON value as the API shows the field: durations (held in
/// microseconds) in milliseconds, the rest as [`to_json`] made them.
fn as_shown(f: &FieldDef, v: Json) -> Json {
    match (f.kind, v) {
        (tyto_schema::FieldKind::Duration, Json::Array(items)) => {
            Json::Array(items.into_iter().map(|i| as_shown(f, i)).collect())
        }
        (tyto_schema::FieldKind::Duration, v) => v.as_i64().map_or(v, tyto_schema::micros_as_millis),
        (_, v) => v,
    }
}

impl DuckStore {
    /// Opens (creating) the store in a data directory.
    pub fn open(data_dir: &Path) -> Result<DuckStore, StoreError> {
        let path = data_dir.join(DB_FILE);
        let conn = Connection::open(&path).map_err(|source| StoreError::Open { path: path.clone(), source })?;
        let store = DuckStore {
            conn,
            path,
            next_rk: None,
            sql: DuckSql::default(),
            lists_fixed: Default::default(),
            stopped: Default::default(),
            held: 0,
        };
        store.init()?;
        Ok(store)
    }

    /// An in-memory store (tests, `dump`-like uses).
    pub fn in_memory() -> Result<DuckStore, StoreError> {
        let store = DuckStore {
            conn: Connection::open_in_memory()?,
            path: ":memory:".into(),
            next_rk: None,
            sql: DuckSql::default(),
            lists_fixed: Default::default(),
            stopped: Default::default(),
            held: 0,
        };
        store.init()?;
        Ok(store)
    }

    fn init(&self) -> Result<(), StoreError> {
        self.conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS tyto_meta (key VARCHAR PRIMARY KEY, value VARCHAR);
             CREATE TABLE IF NOT EXISTS alerts (time TIMESTAMP, node VARCHAR, detector VARCHAR,
                severity VARCHAR, source VARCHAR, targets VARCHAR[], message VARCHAR,
                expression VARCHAR, first_time TIMESTAMP, last_time TIMESTAMP);
             CREATE TABLE IF NOT EXISTS transactions (session VARCHAR, session_start BIGINT, node VARCHAR,
                server VARCHAR, port INTEGER, kind VARCHAR, time BIGINT, request_time BIGINT, response_time BIGINT, took BIGINT,
                request_bytes UBIGINT, response_bytes UBIGINT, failed UTINYINT, fields VARCHAR)",
        )?;
        let found: Option<String> =
            self.conn.query_row("SELECT value FROM tyto_meta WHERE key = 'schema_version'", [], |r| r.get(0)).ok();
        match found {
            Some(v) => {
                let v: u32 = v.parse().unwrap_or(0);
                if v == 2 {
                    let tx = self.conn.unchecked_transaction()?;
                    tx.execute_batch(&sql::migrate_from_layout_2(&self.columns()?).join(";\n"))?;
                    tx.commit()?;
                }
                if v == 2 || v == 3 {
                    let tx = self.conn.unchecked_transaction()?;
                    tx.execute_batch(&sql::migrate_from_layout_3(&self.columns()?).join(";\n"))?;
                    tx.commit()?;
                }
                if (2..=4).contains(&v) {
                    let tx = self.conn.unchecked_transaction()?;
                    tx.execute_batch(&sql::migrate_from_layout_4(&self.columns()?).join(";\n"))?;
                    tx.commit()?;
                } else if v != DUCKDB_LAYOUT {
                    return Err(StoreError::Version {
                        place: self.path.display().to_string(),
                        found: v,
                        wanted: DUCKDB_LAYOUT,
                    });
                }
                self.add_missing_tables_and_columns()?;
            }
            None => {
                let mut sql = String::from("BEGIN;\n");
                for stmt in sql::create_session_tables().into_iter().chain([minutes::create(), protocol_sets::create()])
                {
                    sql.push_str(&stmt);
                    sql.push_str(";\n");
                }
                sql.push_str(&format!(
                    "CREATE TABLE files (id UINTEGER, node VARCHAR, path VARCHAR, link_type UINTEGER,
                        packets UBIGINT, bytes UBIGINT, first_time TIMESTAMP, last_time TIMESTAMP);
                     CREATE TABLE inputs (path VARCHAR, size UBIGINT, modified BIGINT, packets UBIGINT,
                        ingested TIMESTAMP DEFAULT current_timestamp);
                     INSERT INTO tyto_meta VALUES ('schema_version', '{DUCKDB_LAYOUT}');
                     COMMIT;"
                ));
                self.conn.execute_batch(&sql)?;
            }
        }
        Ok(())
    }

    /// Fields added to the catalogue since the store was made become new (empty)
    /// columns, and new groups new side tables: adding a field never needs a new
    /// layout version. A store made before the per-minute totals gets them, counted
    /// from its sessions.
    fn add_missing_tables_and_columns(&self) -> Result<(), StoreError> {
        let have = self.columns()?;
        let tables: std::collections::HashSet<&str> = have.iter().map(|(t, _)| t.as_str()).collect();
        if !tables.contains(minutes::TABLE) {
            let tx = self.conn.unchecked_transaction()?;
            tx.execute_batch(&format!("{}; {}", minutes::create(), minutes::fill(None)))?;
            tx.commit()?;
        }
        if !tables.contains(protocol_sets::TABLE) {
            self.conn.execute_batch(&protocol_sets::create())?;
        }
        if !have.contains(&("sessions".to_string(), protocol_sets::COLUMN.to_string())) {
            self.conn.execute_batch(&format!("ALTER TABLE sessions ADD COLUMN {} BIGINT", protocol_sets::COLUMN))?;
        }
        protocol_sets::fill(&self.conn)?;
        for (table, fields) in side_tables() {
            if !tables.contains(table.as_str()) && table == sql::SHARED_TABLE {
                self.conn.execute_batch(&sql::create_packed_table())?;
            } else if !tables.contains(table.as_str()) {
                self.conn.execute_batch(&sql::create_side_table(&table, &fields))?;
            }
        }
        // (The fields of the shared table are packed: a new one needs no column.)
        for f in FIELDS.iter().filter(|f| !sql::packed(f)) {
            let table = side_table(f).unwrap_or_else(|| "sessions".into());
            if tables.contains(table.as_str()) && !have.contains(&(table.clone(), f.column.to_string())) {
                self.conn.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN \"{}\" {}", f.column, sql_type(f)))?;
            }
        }
        Ok(())
    }

    /// The store's (table, column) pairs.
    fn columns(&self) -> Result<std::collections::HashSet<(String, String)>, StoreError> {
        let mut stmt = self.conn.prepare("SELECT table_name, column_name FROM information_schema.columns")?;
        let have = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
        Ok(have.collect::<Result<_, _>>()?)
    }

    /// This store as the process that captures or ingests holds it: DuckDB's own
    /// threads (which compress and checkpoint) one rather than one per core, so they
    /// leave the cores to reading and dissecting packets (measured: `tyto bench`'s
    /// ingest 1.2 s against 1.4 s on two cores). Queries of a viewer in the same
    /// process run on one thread too.
    pub fn for_writing(self) -> Result<DuckStore, StoreError> {
        self.conn.execute_batch("SET threads = 1")?;
        Ok(self)
    }

    /// Another handle on the same database, for another thread (DuckDB connections
    /// are not shared between threads; clones are cheap).
    pub fn try_clone(&self) -> Result<DuckStore, StoreError> {
        Ok(DuckStore {
            conn: self.conn.try_clone()?,
            path: self.path.clone(),
            next_rk: None,
            sql: DuckSql::default(),
            lists_fixed: Default::default(),
            stopped: Default::default(),
            held: 0,
        })
    }

    /// The connection, for the query layer and benchmarks.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// The newest page of a search (`page_of` with the search's condition narrowed),
    /// read from the newest sessions back: the last hour of the store, then sixteen
    /// times as far back, and so on. The sessions that started in such a span come
    /// before every other match in newest-first order, so once the span holds the
    /// page, the page is exact. Reading the newest first keeps DuckDB from reading a
    /// column for every session (ordering by id read all of them: at 100 M sessions a
    /// page of a host searched for took 13 s, its newest 16 hours 0.4 s). `None`
    /// when the span grew to hold every session asked for: the whole search answers.
    fn newest_first(
        &self,
        q: &ListQuery,
        limit: usize,
        page_of: &dyn Fn(&str) -> Result<Rows, StoreError>,
    ) -> Result<Option<Rows>, StoreError> {
        let Some((oldest_us, newest_us)) = minutes::span_us(&self.conn)? else { return Ok(None) };
        let newest_us = q.stop_ns.map_or(newest_us, |ns| newest_us.min(ns.div_euclid(1000).saturating_add(1)));
        let mut span_us = FIRST_NEWEST_SPAN_US;
        loop {
            let from_us = newest_us.saturating_sub(span_us);
            if from_us <= oldest_us || q.start_ns.is_some_and(|ns| ns.div_euclid(1000) >= from_us) {
                return Ok(None);
            }
            let from_ns = from_us.saturating_mul(1000);
            // The span's sessions (the side tables' conditions narrowed too), by start.
            let span = ListQuery { start_ns: Some(from_ns), ..q.clone() };
            let cond =
                format!("({}) AND start_time >= {}", where_clause(self.shapes(), &span), sql::time_literal(from_ns));
            let page = page_of(&cond)?;
            if page.len() >= limit {
                return Ok(Some(page));
            }
            span_us = span_us.saturating_mul(16);
        }
    }

    /// A page of rows in two steps. First the page's row keys, in order, reading only
    /// the filtered and sorted columns. Then the shown columns of those rows alone:
    /// each table read where its row keys fall between the page's least and greatest
    /// (zone maps skip the rest) and among the page's. Reading the shown columns with
    /// the filter makes DuckDB read every column of every row (1.7 s against 0.25 s on
    /// 10 M), and joining whole side tables costs a scan of each.
    fn page(&self, q: &ListQuery, fields: &[&FieldDef]) -> Result<Vec<Map<String, Json>>, StoreError> {
        let cond = where_clause(self.shapes(), q);
        let limit = q.limit.clamp(1, MAX_LIST_ROWS);
        let order_fields: Vec<&FieldDef> = q.order.iter().map(|k| k.field).collect();
        let order = if q.order.is_empty() {
            "start_time DESC, id".to_string()
        } else {
            let mut keys: Vec<String> = q
                .order
                .iter()
                .map(|k| format!("{} {} NULLS LAST", sql::col(k.field), if k.descending { "DESC" } else { "ASC" }))
                .collect();
            keys.push("id".into());
            keys.join(", ")
        };
        let from = DuckSql::from(&order_fields, false, None);
        let page_of = |cond: &str| {
            self.query_rows(&format!(
                "SELECT rk, side_groups FROM {from} WHERE {cond} ORDER BY {order} LIMIT {limit} OFFSET {}",
                q.offset
            ))
        };
        let newest = if q.order.is_empty() && q.offset + limit <= NEWEST_FIRST_ROWS {
            self.newest_first(q, limit, &page_of)?
        } else {
            None
        };
        let page = match newest {
            Some(page) => page,
            None => page_of(&cond)?,
        };
        let keys: Vec<i64> = page.iter().filter_map(|r| r.first().and_then(Json::as_i64)).collect();
        let groups = page.iter().filter_map(|r| r.get(1).and_then(Json::as_i64)).fold(0i64, |a, g| a | g);
        let (Some(lo), Some(hi)) = (keys.iter().min(), keys.iter().max()) else { return Ok(Vec::new()) };
        let list = keys.iter().map(i64::to_string).collect::<Vec<_>>().join(", ");
        // Each table that holds shown fields (a side table only when some row of the
        // page has a row there), its rows of the page.
        let mut tables: Vec<(Option<String>, Vec<usize>)> = Vec::new();
        for (i, f) in fields.iter().enumerate() {
            let t = side_table(f);
            if t.is_some() && groups & sql::side_bit(f) as i64 == 0 {
                continue;
            }
            match tables.iter_mut().find(|(name, _)| *name == t) {
                Some((_, v)) => v.push(i),
                None => tables.push((t, vec![i])),
            }
        }
        let mut rows: std::collections::HashMap<i64, Map<String, Json>> =
            keys.iter().map(|k| (*k, Map::new())).collect();
        for (table, idx) in tables {
            let cols = idx.iter().map(|i| sql::col(fields[*i])).collect::<Vec<_>>().join(", ");
            let sql = format!(
                "SELECT rk, {cols} FROM {} WHERE rk BETWEEN {lo} AND {hi} AND rk IN ({list})",
                table.as_deref().unwrap_or("sessions")
            );
            for mut r in self.query_rows(&sql)? {
                let Some(obj) = r.first().and_then(Json::as_i64).and_then(|k| rows.get_mut(&k)) else { continue };
                for (i, v) in idx.iter().zip(r.drain(1..)) {
                    if !v.is_null() {
                        obj.insert(fields[*i].name.to_string(), as_shown(fields[*i], v));
                    }
                }
            }
        }
        // In the fields' order, as a listing shows them.
        Ok(keys
            .iter()
            .filter_map(|k| rows.remove(k))
            .map(|obj| {
                let mut ordered = Map::new();
                for f in fields {
                    if let Some(v) = obj.get(f.name) {
                        ordered.insert(f.name.to_string(), v.clone());
                    }
                }
                ordered
            })
            .collect())
    }

    /// Runs `read`, and again when a list of protocols never seen before was stored
    /// while it ran: its SQL names the numbers of the lists read just before it
    /// ([`protocol_sets::Known::holding`]), so rows holding a newer list may have been
    /// seen and missed. Lists are only ever added, numbered upwards, and a statement
    /// sees what was stored before it began: when the largest number after the read
    /// is still the one before it, nothing was missed. Bounded: the store must add a
    /// new list under the same search [`READ_ATTEMPTS`] times in a row to make it fail.
    fn again_if_changed<T>(&self, read: impl Fn() -> Result<T, StoreError>) -> Result<T, StoreError> {
        for _ in 0..READ_ATTEMPTS {
            let written_with = self.lists_now()?;
            self.lists_fixed.set(true);
            let answer = read();
            self.lists_fixed.set(false);
            let answer = answer?;
            if self.lists_now()? == written_with {
                return Ok(answer);
            }
        }
        Err(StoreError::Request(protocol_sets::CHANGED.to_string()))
    }

    /// The largest number of the lists of protocols the store holds now (which this
    /// handle then knows).
    fn lists_now(&self) -> Result<i64, StoreError> {
        let known = self.sql.protocol_sets.borrow().clone();
        let now = protocol_sets::Known::read(&self.conn, &known)?;
        let largest = now.largest();
        *self.sql.protocol_sets.borrow_mut() = now;
        Ok(largest)
    }

    /// Rows of an arbitrary query as JSON values (the store's [`Backend`]).
    fn query_rows(&self, sql: &str) -> Result<Vec<Vec<Json>>, StoreError> {
        self.stopped.check()?;
        let mut stmt = self.conn.prepare(sql)?;
        let mut rows = stmt.query([])?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            let n = row.as_ref().column_count();
            let mut r = Vec::with_capacity(n);
            for i in 0..n {
                r.push(to_json(row.get::<_, Value>(i)?));
            }
            out.push(r);
        }
        Ok(out)
    }
}

impl Backend for DuckStore {
    /// The dialect, with the lists of protocols the store holds now.
    fn shapes(&self) -> &dyn Shapes {
        if self.stopped.check().is_err() || self.lists_fixed.get() {
            // The search that follows is refused anyway, or is written with the
            // lists read before it.
            return &self.sql;
        }
        // On an error the last lists read stay; a read's own check fails it rather
        // than let it answer wrong.
        if let Err(e) = self.lists_now() {
            tracing::warn!("reading the lists of protocols: {e}");
        }
        &self.sql
    }

    fn rows(&self, sql: &str) -> Result<Vec<Vec<Json>>, StoreError> {
        self.query_rows(sql)
    }

    fn value(&self, f: &FieldDef, raw: Json) -> Option<Json> {
        (!raw.is_null()).then(|| as_shown(f, raw))
    }

    /// Read as Arrow columns: a walk over every session's packet positions spent
    /// most of its time turning each position into a JSON number and back.
    fn positions(&self, sql: &str) -> Result<Vec<SessionPositions>, StoreError> {
        use duckdb::arrow::array::{Array, AsArray};
        use duckdb::arrow::compute::cast;
        use duckdb::arrow::datatypes::{DataType, Field, Int64Type};
        self.stopped.check()?;
        let bad = |e: duckdb::arrow::error::ArrowError| StoreError::Decode(format!("packet positions: {e}"));
        let mut stmt = self.conn.prepare(sql)?;
        let mut out = Vec::new();
        for batch in stmt.query_arrow([])? {
            if batch.num_columns() < 4 {
                return Err(StoreError::Decode("packet positions: too few columns".into()));
            }
            let text = |i: usize| cast(batch.column(i), &DataType::Utf8).map_err(bad);
            let (ids, nodes) = (text(0)?, text(1)?);
            let (ids, nodes) = (ids.as_string::<i32>(), nodes.as_string::<i32>());
            let starts = cast(batch.column(2), &DataType::Int64).map_err(bad)?;
            let starts = starts.as_primitive::<Int64Type>();
            let lists = cast(batch.column(3), &DataType::List(Field::new_list_field(DataType::Int64, true).into()))
                .map_err(bad)?;
            let lists = lists.as_list::<i32>();
            for row in 0..batch.num_rows() {
                let positions = if lists.is_null(row) {
                    Vec::new()
                } else {
                    lists.value(row).as_primitive::<Int64Type>().iter().flatten().collect()
                };
                out.push(SessionPositions {
                    id: ids.value(row).to_string(),
                    node: nodes.value(row).to_string(),
                    start_ns: starts.value(row).saturating_mul(1000),
                    positions,
                });
            }
        }
        Ok(out)
    }
}

impl StoreHandle for DuckStore {
    fn reader(&self) -> Result<ReaderBox, StoreError> {
        Ok(Box::new(self.try_clone()?))
    }

    fn describe(&self) -> String {
        format!("duckdb://{}", self.path.parent().unwrap_or(Path::new("")).display())
    }
}

impl SessionReader for DuckStore {
    fn interrupter(&self) -> Interrupter {
        let handle = self.conn.interrupt_handle();
        let stopped = self.stopped.clone();
        Interrupter::new(move || {
            stopped.stop();
            handle.interrupt();
        })
    }

    fn clear_interrupt(&self) {
        self.stopped.clear();
    }

    fn info(&self) -> Result<Vec<(String, String)>, StoreError> {
        let version: String =
            self.conn.query_row("SELECT value FROM tyto_meta WHERE key = 'schema_version'", [], |r| r.get(0))?;
        let mut out = vec![
            ("store".to_string(), self.describe()),
            (
                "engine".to_string(),
                format!("DuckDB {}", self.conn.query_row("SELECT version()", [], |r| r.get::<_, String>(0))?),
            ),
            ("layout version".to_string(), version),
            ("file".to_string(), self.path.display().to_string()),
        ];
        let bytes = std::fs::metadata(&self.path).map_or(0, |m| m.len());
        out.push(("bytes on disk".to_string(), bytes.to_string()));
        for table in ["sessions", "files", "inputs", "alerts"] {
            let n: i64 = self.conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))?;
            out.push((format!("{table} rows"), n.to_string()));
        }
        let mut side = Vec::new();
        for (table, _) in side_tables() {
            let n: i64 = self.conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))?;
            if n > 0 {
                side.push(format!("{} {n}", table.trim_start_matches("sessions_")));
            }
        }
        out.push(("protocol rows".to_string(), if side.is_empty() { "none".into() } else { side.join(", ") }));
        Ok(out)
    }

    fn list(&self, q: &ListQuery) -> Result<Vec<Map<String, Json>>, StoreError> {
        let fields = q.fields.clone().unwrap_or_else(dump_fields);
        self.again_if_changed(|| self.page(q, &fields))
    }

    fn packet_positions(&self, ids: &[String]) -> Result<Vec<SessionPositions>, StoreError> {
        self.again_if_changed(|| reads::packet_positions(self, ids))
    }

    fn transactions(&self, q: &crate::TransactionQuery) -> Result<Vec<Json>, StoreError> {
        self.again_if_changed(|| crate::transactions::list(self, q))
    }

    fn services(&self, q: &crate::ServiceQuery) -> Result<Vec<crate::Service>, StoreError> {
        self.again_if_changed(|| crate::transactions::services(self, q))
    }

    fn change_tags(&self, q: &ListQuery, change: &crate::TagChange) -> Result<u64, StoreError> {
        let list = |tags: &mut dyn Iterator<Item = &String>| {
            tags.map(|t| sql::string_literal(t)).collect::<Vec<_>>().join(", ")
        };
        let off = list(&mut change.taken_off());
        if off.is_empty() {
            return Ok(0);
        }
        let on = list(&mut change.add.iter());
        // A failed UPDATE changed nothing, so it can be written and run again.
        self.again_if_changed(|| {
            let cond = where_clause(self.shapes(), q);
            self.stopped.check()?;
            // A list comprehension rather than a lambda: DuckDB changes its lambda
            // syntax. An empty list is stored as NULL, as the appender stores it.
            let changed = self.conn.execute(
                &format!(
                    "UPDATE sessions SET tags = nullif(list_concat(\
                     [t FOR t IN coalesce(tags, []::VARCHAR[]) IF NOT list_contains([{off}], t)], [{on}]::VARCHAR[]), \
                     []::VARCHAR[]) WHERE {cond}"
                ),
                [],
            )?;
            Ok(changed as u64)
        })
    }

    fn count(&self) -> Result<u64, StoreError> {
        let n: i64 = self.conn.query_row("SELECT count(*) FROM sessions", [], |r| r.get(0))?;
        Ok(n as u64)
    }

    fn count_matching(&self, q: &ListQuery) -> Result<u64, StoreError> {
        self.again_if_changed(|| reads::count_matching(self, q))
    }

    fn top_values(&self, q: &ListQuery, field: &FieldDef, n: usize) -> Result<Sampled<Vec<ValueCount>>, StoreError> {
        self.again_if_changed(|| reads::top_values(self, q, field, n))
    }

    fn histogram(&self, q: &ListQuery, bucket_ns: i64) -> Result<Vec<Bucket>, StoreError> {
        self.again_if_changed(|| match minutes::histogram(self, q, bucket_ns)? {
            Some(buckets) => Ok(buckets),
            None => reads::histogram(self, q, bucket_ns),
        })
    }

    fn value_histogram(
        &self,
        q: &ListQuery,
        field: &FieldDef,
        n: usize,
        bucket_ns: i64,
    ) -> Result<Sampled<Vec<ValueSeries>>, StoreError> {
        self.again_if_changed(|| reads::value_histogram(self, q, field, n, bucket_ns))
    }

    fn connections(
        &self,
        q: &ListQuery,
        src: &FieldDef,
        dst: &FieldDef,
        n: usize,
    ) -> Result<Sampled<Vec<Link>>, StoreError> {
        self.again_if_changed(|| reads::connections(self, q, src, dst, n))
    }

    fn top_combinations(&self, q: &ListQuery, fields: &[&FieldDef], n: usize) -> Result<Vec<Combination>, StoreError> {
        self.again_if_changed(|| reads::top_combinations(self, q, fields, n))
    }

    fn positions_in_order(
        &self,
        q: &ListQuery,
        after: Option<&SessionPositions>,
        n: usize,
    ) -> Result<Vec<SessionPositions>, StoreError> {
        self.again_if_changed(|| reads::positions_in_order(self, q, after, n))
    }

    fn stats(&self) -> Result<StoreStats, StoreError> {
        let (sessions, first, last): (i64, Option<i64>, Option<i64>) = self.conn.query_row(
            "SELECT count(*), epoch_us(min(start_time)), epoch_us(max(stop_time)) FROM sessions",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        let mut stmt = self.conn.prepare(
            "SELECT node, count(*), coalesce(sum(packets), 0)::BIGINT, coalesce(sum(bytes), 0)::BIGINT \
             FROM files GROUP BY node ORDER BY node",
        )?;
        let nodes = stmt
            .query_map([], |r| {
                Ok(crate::NodeFiles {
                    node: r.get(0)?,
                    files: r.get::<_, i64>(1)?.max(0) as u64,
                    packets: r.get::<_, i64>(2)?.max(0) as u64,
                    bytes: r.get::<_, i64>(3)?.max(0) as u64,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let mut stmt = self.conn.prepare("SELECT DISTINCT link_type FROM files ORDER BY link_type")?;
        let link_types = stmt.query_map([], |r| r.get::<_, u32>(0))?.collect::<Result<Vec<_>, _>>()?;
        Ok(StoreStats {
            sessions: sessions.max(0) as u64,
            first_ns: first.map(|t| t.saturating_mul(1000)),
            last_ns: last.map(|t| t.saturating_mul(1000)),
            nodes,
            link_types,
            stored_bytes: std::fs::metadata(&self.path).map_or(0, |m| m.len()),
        })
    }

    fn alerts(&self, q: &AlertQuery) -> Result<(u64, Vec<Json>), StoreError> {
        // Every value is a bound parameter; only fixed SQL text is assembled here.
        let mut conds = vec!["time >= ?".to_string(), "time <= ?".to_string()];
        let mut args: Vec<Value> = vec![ts(q.start_ns.unwrap_or(0)), ts(q.stop_ns.unwrap_or(i64::MAX / 2))];
        if let Some(d) = &q.detector {
            match d.strip_suffix('*') {
                Some(prefix) => {
                    conds.push("starts_with(detector, ?)".into());
                    args.push(Value::Text(prefix.into()));
                }
                None => {
                    conds.push("detector = ?".into());
                    args.push(Value::Text(d.clone()));
                }
            }
        }
        if let Some(src) = &q.source {
            conds.push("source = ?".into());
            args.push(Value::Text(src.clone()));
        }
        if let Some(min) = q.min_severity {
            let allowed: Vec<&str> = Severity::ALL.into_iter().filter(|s| *s >= min).map(Severity::as_str).collect();
            conds.push(format!("severity IN ({})", vec!["?"; allowed.len()].join(", ")));
            args.extend(allowed.into_iter().map(|s| Value::Text(s.into())));
        }
        if let Some(t) = &q.text {
            conds.push(
                "(contains(lower(message), ?) OR contains(lower(source), ?) OR contains(lower(array_to_string(targets, ' ')), ?))"
                    .into(),
            );
            let t = t.to_lowercase();
            args.extend([Value::Text(t.clone()), Value::Text(t.clone()), Value::Text(t)]);
        }
        let wher = conds.join(" AND ");
        let total: i64 = self.conn.query_row(
            &format!("SELECT count(*) FROM alerts WHERE {wher}"),
            duckdb::params_from_iter(args.iter()),
            |r| r.get(0),
        )?;
        let dir = if q.newest_first { "DESC" } else { "ASC" };
        let mut stmt = self.conn.prepare(&format!(
            "SELECT epoch_ns(time), node, detector, severity, source, targets, message, expression,
                    epoch_ns(first_time), epoch_ns(last_time)
             FROM alerts WHERE {wher} ORDER BY time {dir}, detector, source LIMIT ? OFFSET ?"
        ))?;
        args.push(Value::BigInt(q.limit as i64));
        args.push(Value::BigInt(q.offset as i64));
        let rows = stmt.query_map(duckdb::params_from_iter(args.iter()), |r| {
            let targets = list_of(r.get(5)?, |t| match t {
                Value::Text(s) => Some(s),
                _ => None,
            });
            let severity = Severity::parse(&r.get::<_, String>(3)?).unwrap_or(Severity::Medium);
            let alert = AlertRecord {
                time_ns: r.get(0)?,
                node: r.get(1)?,
                detector: r.get(2)?,
                severity,
                source: r.get(4)?,
                targets,
                message: r.get(6)?,
                expression: r.get(7)?,
                first_ns: r.get(8)?,
                last_ns: r.get(9)?,
            };
            Ok(alert.to_json())
        })?;
        Ok((total as u64, rows.collect::<Result<_, _>>()?))
    }
}

impl Drop for DuckStore {
    fn drop(&mut self) {
        // DuckDB rolls back a transaction open when its connection closes.
        if let Err(e) = self.settle() {
            tracing::error!("storing the last rows of {}: {e}", self.path.display());
        }
    }
}

impl DuckStore {
    /// Runs `write` in the transaction this handle holds open, or in one of its own.
    fn write_in_transaction(
        &mut self,
        write: impl FnOnce(&Connection) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let own = self.held == 0;
        self.write_open(write)?;
        if own {
            self.commit()
        } else {
            Ok(())
        }
    }

    /// Runs `write` in the transaction this handle holds open, opening one when it
    /// holds none, and leaves it open. A failure rolls back what it held too (DuckDB
    /// aborts a transaction one of whose statements failed).
    fn write_open(&mut self, write: impl FnOnce(&Connection) -> Result<(), StoreError>) -> Result<(), StoreError> {
        if self.held == 0 {
            self.conn.execute_batch("BEGIN TRANSACTION")?;
        }
        write(&self.conn).inspect_err(|_| {
            self.held = 0;
            let _ = self.conn.execute_batch("ROLLBACK");
        })
    }

    fn commit(&mut self) -> Result<(), StoreError> {
        self.held = 0;
        if let Err(e) = self.conn.execute_batch("COMMIT") {
            let _ = self.conn.execute_batch("ROLLBACK");
            return Err(e.into());
        }
        Ok(())
    }
}

impl SessionWriter for DuckStore {
    fn append(&mut self, rows: &[&SessionRecord]) -> Result<(), StoreError> {
        self.append_held(rows)?;
        self.settle()
    }

    fn append_held(&mut self, rows: &[&SessionRecord]) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        let next = match self.next_rk {
            Some(n) => n,
            None => self.conn.query_row("SELECT coalesce(max(rk), 0) + 1 FROM sessions", [], |r| r.get::<_, i64>(0))?,
        };
        self.write_open(|conn| append::append(conn, rows, next))?;
        self.held += rows.len();
        // Keys given in a transaction rolled back are not given again: keys need
        // only be unique.
        self.next_rk = Some(next + rows.len() as i64);
        if self.held >= HOLD_ROWS {
            self.commit()?;
        }
        Ok(())
    }

    fn holding(&self) -> bool {
        self.held > 0
    }

    fn settle(&mut self) -> Result<(), StoreError> {
        if self.held == 0 {
            return Ok(());
        }
        self.commit()
    }

    fn add_files(&mut self, files: &[FileRow]) -> Result<(), StoreError> {
        self.write_in_transaction(|conn| {
            let mut app = conn.appender("files")?;
            for f in files {
                app.append_row(params![
                    f.id,
                    f.node,
                    f.path,
                    f.link_type,
                    f.packets,
                    f.bytes,
                    ts(f.first_ns),
                    ts(f.last_ns)
                ])?;
            }
            app.flush()?;
            Ok(())
        })
    }

    fn remove_files(&mut self, node: &str, ids: &[u32]) -> Result<(), StoreError> {
        self.settle()?;
        let tx = self.conn.transaction()?;
        for id in ids {
            tx.execute("DELETE FROM files WHERE node = ? AND id = ?", params![node, id])?;
        }
        tx.commit()?;
        Ok(())
    }

    fn expire_sessions(&mut self, before_ns: i64) -> Result<u64, StoreError> {
        self.settle()?;
        let tx = self.conn.transaction()?;
        for (table, _) in side_tables() {
            tx.execute(&format!("DELETE FROM {table} WHERE side_stop < ?"), params![ts(before_ns)])?;
        }
        let n = tx.execute("DELETE FROM sessions WHERE \"stop_time\" < ?", params![ts(before_ns)])?;
        tx.execute("DELETE FROM transactions WHERE time < ?", params![before_ns.div_euclid(1000)])?;
        if n > 0 {
            minutes::refresh(&tx, before_ns)?;
        }
        tx.commit()?;
        Ok(n as u64)
    }

    fn add_input(&mut self, input: &InputFile, packets: u64) -> Result<(), StoreError> {
        self.write_in_transaction(|conn| {
            conn.execute(
                "INSERT INTO inputs (path, size, modified, packets) VALUES (?, ?, ?, ?)",
                params![input.path, input.size, input.modified, packets],
            )?;
            Ok(())
        })
    }

    fn has_input(&self, input: &InputFile) -> Result<bool, StoreError> {
        let n: i64 = self.conn.query_row(
            "SELECT count(*) FROM inputs WHERE path = ? AND size = ? AND modified = ?",
            params![input.path, input.size, input.modified],
            |r| r.get(0),
        )?;
        Ok(n > 0)
    }

    fn add_alerts(&mut self, alerts: &[AlertRecord]) -> Result<(), StoreError> {
        if alerts.is_empty() {
            return Ok(());
        }
        self.write_in_transaction(|conn| {
            let mut insert = conn.prepare("INSERT INTO alerts VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")?;
            for a in alerts {
                let targets = Value::List(a.targets.iter().map(|t| Value::Text(t.clone())).collect());
                insert.execute(params![
                    ts(a.time_ns),
                    a.node,
                    a.detector,
                    a.severity.as_str(),
                    a.source,
                    targets,
                    a.message,
                    a.expression,
                    ts(a.first_ns),
                    ts(a.last_ns)
                ])?;
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tyto_packet::MacAddr;

    fn sample(id: &str, start_s: i64) -> SessionRecord {
        SessionRecord {
            id: id.into(),
            root_id: id.into(),
            segment: 1,
            node: "test".into(),
            ip_protocol: 6,
            src_ip: Some(Addr::from_v4([10, 0, 0, 1])),
            dst_ip: Some("2001:db8::1".parse::<std::net::IpAddr>().unwrap().into()),
            src_port: 1234,
            dst_port: 80,
            start_ns: start_s * 1_000_000_000 + 123_456_000,
            stop_ns: start_s * 1_000_000_000 + 999_000_000,
            protocols: vec!["tcp".into()],
            mac_src: vec![MacAddr([0, 1, 2, 3, 4, 5])],
            packet_pos: vec![-1, 24, 100],
            ..SessionRecord::default()
        }
    }

    /// The histogram read from the minutes table, for every kind of time range and
    /// bucket, equals the one counted from the sessions (an expression that every
    /// session matches makes the store read them) — also after an expiry, over several
    /// batches, and in a store made before the minutes table, which opening fills.
    #[test]
    fn histograms_from_minutes_equal_those_counted_from_sessions() {
        let t0 = 1_700_000_000i64;
        // Sessions over six hours; every seventh lasts up to two hours, so many reach
        // into a range from before it.
        let rows: Vec<SessionRecord> = (0..20_000i64)
            .map(|i| {
                let mut r = sample(&format!("s{i}"), t0 + i * 1_087 % 21_600);
                r.start_ns += i * 7_919 % 1_000_000_000 - 123_456_000;
                r.stop_ns = r.start_ns + if i % 7 == 0 { i * 104_729 % 7_200 } else { i % 50 } * 1_000_000_000;
                r.src.packets = (i % 13) as u64;
                r.src.bytes = (i * 31 % 9_000) as u64;
                r.dst.databytes = (i % 101) as u64;
                r
            })
            .collect();
        let tmp = tempfile::tempdir().unwrap();
        let mut store = DuckStore::open(tmp.path()).unwrap();
        for batch in rows.chunks(3_000) {
            store.append(&batch.iter().collect::<Vec<_>>()).unwrap();
        }
        let everything = tyto_query::compile("packets >= 0", 0).unwrap();
        let check = |store: &DuckStore, what: &str| {
            let s = 1_000_000_000i64;
            let ranges = [
                (None, None),
                (Some(t0 * s), None),
                (None, Some((t0 + 9_000) * s + 1)),
                (Some((t0 + 3_599) * s + 500_000_000), Some((t0 + 14_400) * s - 1)),
                (Some((t0 + 7_200) * s), Some((t0 + 10_800) * s)),
                (Some((t0 + 100) * s + 1), Some((t0 + 130) * s)),
            ];
            for (start_ns, stop_ns) in ranges {
                for bucket_s in [60, 300, 3_600, 86_400, 7] {
                    let q = ListQuery { start_ns, stop_ns, ..ListQuery::default() };
                    let counted = ListQuery { filter: Some(everything.clone()), ..q.clone() };
                    let want = store.histogram(&counted, bucket_s * s).unwrap();
                    assert!(!want.is_empty() || start_ns.is_some());
                    let got = store.histogram(&q, bucket_s * s).unwrap();
                    let differs = got.iter().zip(&want).find(|(g, w)| g != w);
                    assert!(
                        got.len() == want.len() && differs.is_none(),
                        "{what}: range {start_ns:?}..{stop_ns:?}, buckets of {bucket_s} s: {} buckets for {}; {differs:?}",
                        got.len(),
                        want.len()
                    );
                }
            }
        };
        check(&store, "appended");
        let gone = store.expire_sessions((t0 + 5_000) * 1_000_000_000).unwrap();
        assert!(gone > 0 && gone < rows.len() as u64);
        check(&store, "after an expiry");
        store.conn.execute_batch(&format!("DROP TABLE {}", minutes::TABLE)).unwrap();
        drop(store);
        let store = DuckStore::open(tmp.path()).unwrap();
        check(&store, "filled when opened");
    }

    /// Tests on the protocols read each list's number: they find what the lists
    /// hold — for every expression form, with empty lists, in a store made before
    /// the numbers (opening gives them), and after rows appended without one.
    #[test]
    fn protocol_tests_by_number_find_what_the_lists_hold() {
        let lists: [&[&str]; 6] =
            [&["tcp", "http"], &["udp", "dns"], &[], &["tcp", "tls", "http2"], &["tcp"], &["tcp", "http", "tls"]];
        let rows: Vec<SessionRecord> = (0..600)
            .map(|i| {
                let mut r = sample(&format!("p{i}"), 1_000 + i);
                r.protocols = lists[i as usize % lists.len()].iter().map(|p| p.to_string()).collect();
                r
            })
            .collect();
        fn holds(r: &SessionRecord, any: &[&str]) -> bool {
            r.protocols.iter().any(|p| any.contains(&p.as_str()))
        }
        type Holds = Box<dyn Fn(&SessionRecord) -> bool>;
        let expressions: [(&str, Holds); 6] = [
            ("protocols == http", Box::new(|r| holds(r, &["http"]))),
            ("protocols != http", Box::new(|r| !holds(r, &["http"]))),
            ("protocols == [dns, tls]", Box::new(|r| holds(r, &["dns", "tls"]))),
            ("protocols != [dns, tls]", Box::new(|r| !holds(r, &["dns", "tls"]))),
            ("protocols == nosuch", Box::new(|_| false)),
            ("protocols == http && protocols != tls", Box::new(|r| holds(r, &["http"]) && !holds(r, &["tls"]))),
        ];
        let check = |store: &DuckStore, what: &str| {
            for (e, want) in &expressions {
                let q = ListQuery { filter: Some(tyto_query::compile(e, 0).unwrap()), ..ListQuery::default() };
                let want = rows.iter().filter(|r| want(r)).count() as u64;
                assert_eq!(store.count_matching(&q).unwrap(), want, "{what}: {e}");
            }
        };
        let tmp = tempfile::tempdir().unwrap();
        let mut store = DuckStore::open(tmp.path()).unwrap();
        store.append(&rows[..300].iter().collect::<Vec<_>>()).unwrap();
        store.append(&rows[300..].iter().collect::<Vec<_>>()).unwrap();
        check(&store, "appended");
        let sets: i64 =
            store.conn.query_row(&format!("SELECT count(*) FROM {}", protocol_sets::TABLE), [], |r| r.get(0)).unwrap();
        assert_eq!(sets, lists.len() as i64, "each list once");
        // A store from before the numbers.
        store
            .conn
            .execute_batch(&format!(
                "ALTER TABLE sessions DROP COLUMN {}; DROP TABLE {}",
                protocol_sets::COLUMN,
                protocol_sets::TABLE
            ))
            .unwrap();
        drop(store);
        let store = DuckStore::open(tmp.path()).unwrap();
        check(&store, "numbered when opened");
        // Rows an older Tyto appended, without their number.
        store
            .conn
            .execute_batch(&format!("UPDATE sessions SET {} = NULL WHERE rk % 3 = 0", protocol_sets::COLUMN))
            .unwrap();
        drop(store);
        let store = DuckStore::open(tmp.path()).unwrap();
        check(&store, "rows without a number numbered when opened");
        // A search whose SQL was written before a new list was stored misses the rows
        // that hold it...
        let http =
            ListQuery { filter: Some(tyto_query::compile("protocols == http", 0).unwrap()), ..ListQuery::default() };
        let before = store.count_matching(&http).unwrap();
        let writer = std::cell::RefCell::new(store.try_clone().unwrap());
        let stored = std::cell::Cell::new(0);
        let store_new_list = || {
            stored.set(stored.get() + 1);
            let mut new = sample(&format!("new{}", stored.get()), 5_000 + stored.get());
            new.protocols = vec!["tcp".into(), "http".into(), format!("new{}", stored.get())];
            writer.borrow_mut().append(&[&new]).unwrap();
        };
        let written_before = format!("SELECT count(*) FROM sessions WHERE {}", where_clause(store.shapes(), &http));
        store_new_list();
        let stale = || store.conn.query_row(&written_before, [], |r| r.get::<_, i64>(0)).map_err(StoreError::from);
        assert_eq!(stale().unwrap(), before as i64, "the SQL names the lists it knew");
        assert_eq!(store.count_matching(&http).unwrap(), before + 1);
        // ...so a read is checked after it ran: when a list was stored between writing
        // its SQL and running it, it is written and run again, and counts the new rows.
        let runs = std::cell::Cell::new(0);
        let raced = store.again_if_changed(|| {
            runs.set(runs.get() + 1);
            let wher = where_clause(store.shapes(), &http);
            if runs.get() == 1 {
                store_new_list();
                // A later statement of the same read is written with the same lists,
                // so it cannot hide from the check after the read that they grew.
                assert_eq!(where_clause(store.shapes(), &http), wher);
            }
            Ok(store
                .conn
                .query_row(&format!("SELECT count(*) FROM sessions WHERE {wher}"), [], |r| r.get::<_, i64>(0))?)
        });
        assert_eq!((raced.unwrap(), runs.get()), (before as i64 + 2, 2), "one more run");
        // Bounded: a store that changes under every attempt gives the error.
        let runs = std::cell::Cell::new(0);
        let err = store
            .again_if_changed(|| {
                runs.set(runs.get() + 1);
                store_new_list();
                Ok(())
            })
            .unwrap_err();
        assert!(
            err.to_string().contains(protocol_sets::CHANGED) && runs.get() == READ_ATTEMPTS,
            "{err} after {}",
            runs.get()
        );
        // A read that does not change the store runs once.
        let runs = std::cell::Cell::new(0);
        store
            .again_if_changed(|| {
                runs.set(runs.get() + 1);
                Ok(())
            })
            .unwrap();
        assert_eq!(runs.get(), 1);
        // Other errors are not retried.
        let runs = std::cell::Cell::new(0);
        let _ = store.again_if_changed(|| {
            runs.set(runs.get() + 1);
            store.query_rows("SELECT no_such_column FROM sessions")
        });
        assert_eq!(runs.get(), 1);
    }

    #[test]
    fn rows_round_trip_through_duckdb() {
        let tmp = tempfile::tempdir().unwrap();
        let mut store = DuckStore::open(tmp.path()).unwrap();
        store.append(&[&sample("a", 100), &sample("b", 200)]).unwrap();
        assert_eq!(store.count().unwrap(), 2);
        drop(store);
        let store = DuckStore::open(tmp.path()).unwrap();
        let rows = store.list(&ListQuery { limit: 10, ..ListQuery::default() }).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0]["id"], "b", "newest first");
        assert_eq!(rows[0]["ip.src"], "10.0.0.1");
        assert_eq!(rows[0]["ip.dst"], "2001:db8::1");
        assert_eq!(rows[0]["starttime"], "1970-01-01T00:03:20.123456Z");
        assert_eq!(rows[0]["mac.src"], serde_json::json!(["00:01:02:03:04:05"]));
        assert!(rows[0].get("vlan").is_none(), "empty lists are left out");
        let only_old =
            store.list(&ListQuery { stop_ns: Some(150 * 1_000_000_000), limit: 10, ..ListQuery::default() }).unwrap();
        assert_eq!(only_old.len(), 1);
        let found = store.packet_positions(&["a".into()]).unwrap();
        assert_eq!((found[0].id.as_str(), found[0].node.as_str()), ("a", "test"));
        assert_eq!(found[0].positions, [-1, 24, 100]);
        let mut store = store;
        let input = InputFile { path: "/x.pcap".into(), size: 10, modified: 5 };
        assert!(!store.has_input(&input).unwrap());
        store.add_input(&input, 3).unwrap();
        assert!(store.has_input(&input).unwrap());
        assert!(!store.has_input(&InputFile { size: 11, ..input }).unwrap());
    }

    #[test]
    fn addresses_over_the_whole_128_bit_range_are_stored_exactly_and_found() {
        // Addresses go to DuckDB as 16-byte UUIDs and are cast to UHUGEINT: the top
        // bit (set in fe80::, ff02::) and the lowest byte must survive both ways.
        let v6 = |s: &str| -> Addr { s.parse::<std::net::IpAddr>().unwrap().into() };
        let cases = ["fe80::1", "ff02::fb", "::ffff:10.0.0.1", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "::"];
        let mut store = DuckStore::in_memory().unwrap();
        let rows: Vec<SessionRecord> = cases
            .iter()
            .enumerate()
            .map(|(i, a)| {
                let mut r = sample(&format!("s{i}"), 100 + i as i64);
                r.src_ip = Some(v6(a));
                r.extra.add_ip("ip.dns", v6(a)).unwrap();
                r.extra.add_ip("ip.dns", v6("2001:db8::53")).unwrap();
                r
            })
            .collect();
        store.append(&rows.iter().collect::<Vec<_>>()).unwrap();
        let page = store.list(&ListQuery { limit: 10, ..ListQuery::default() }).unwrap();
        for (i, a) in cases.iter().enumerate() {
            let row = page.iter().find(|r| r["id"] == format!("s{i}")).unwrap();
            let shown = v6(a).to_string();
            assert_eq!(row["ip.src"], shown.as_str(), "{a}");
            assert_eq!(row["ip.dns"], serde_json::json!([shown, "2001:db8::53"]), "{a}");
            for expr in [format!("ip.src == {shown}"), format!("ip.dns == {shown}")] {
                let filter = Some(tyto_query::compile(&expr, 0).unwrap());
                let found = store.count_matching(&ListQuery { filter, ..ListQuery::default() }).unwrap();
                assert_eq!(found, 1, "{expr}");
            }
        }
    }

    #[test]
    fn expiry_deletes_sessions_that_ended_before_the_limit_and_files_are_forgotten() {
        let mut store = DuckStore::in_memory().unwrap();
        store.append(&[&sample("old", 100), &sample("edge", 200), &sample("new", 300)]).unwrap();
        // "edge" ended at 200.999 s: kept by a limit at 200.5 s, as is "new".
        assert_eq!(store.expire_sessions(200_500_000_000).unwrap(), 1);
        let ids: Vec<_> = store
            .list(&ListQuery { limit: 10, ..ListQuery::default() })
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(ids, ["new", "edge"]);
        let file = |id| FileRow {
            id,
            node: "n".into(),
            path: format!("n-{id:08}.pcap"),
            link_type: 1,
            packets: 1,
            bytes: 100,
            first_ns: 0,
            last_ns: 0,
        };
        store.add_files(&[file(1), file(2)]).unwrap();
        store.remove_files("n", &[1]).unwrap();
        let left: i64 = store.connection().query_row("SELECT count(*) FROM files", [], |r| r.get(0)).unwrap();
        assert_eq!(left, 1);
    }

    #[test]
    fn a_running_query_stops_when_interrupted_and_so_do_the_next_until_cleared() {
        let store = DuckStore::in_memory().unwrap();
        let stop = store.interrupter();
        let t0 = std::time::Instant::now();
        let stopper = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(300));
            stop.interrupt();
        });
        // Minutes of work if left alone.
        let r: Result<i64, _> =
            store.conn.query_row("SELECT count(*) FROM range(100000000000) t(i) WHERE i % 7 = 3", [], |r| r.get(0));
        stopper.join().unwrap();
        let err = StoreError::from(r.unwrap_err());
        assert!(err.is_interrupted(), "{err}");
        assert!(t0.elapsed() < std::time::Duration::from_secs(10), "{:?}", t0.elapsed());
        // The request's later searches are refused (DuckDB itself would run them:
        // an interrupt between two statements is forgotten), until a new one clears it.
        let everything = ListQuery::default();
        let refused = store.count_matching(&everything).unwrap_err();
        assert!(matches!(refused, StoreError::Interrupted), "{refused}");
        assert!(store.list(&ListQuery { limit: 1, ..ListQuery::default() }).unwrap_err().is_interrupted());
        store.clear_interrupt();
        assert_eq!(store.count_matching(&everything).unwrap(), 0, "the next request's query runs");
        // Interrupted while idle: the next query is refused, not started.
        store.interrupter().interrupt();
        assert!(store.count_matching(&everything).unwrap_err().is_interrupted());
        store.clear_interrupt();
        assert_eq!(store.count().unwrap(), 0);
    }

    /// Newest-first pages read from the newest sessions back equal the pages of the
    /// whole search: dense and rare matches (a side table's field, found in a span
    /// of hours, of weeks, or only in all of it), deeper pages, time ranges that end
    /// before the newest session or start within the first span, sessions that
    /// start at the same moment (the id orders them), and a search nothing matches.
    #[test]
    fn newest_pages_read_from_the_newest_sessions_back_equal_the_whole_search() {
        // Forty days, a session every seven minutes, every tenth with a twin of the
        // same start; every 13th names a common host, every 300th a rare one.
        let mut rows = Vec::new();
        for i in 0..8_300i64 {
            let mut r = sample(&format!("s{i:05}"), 1_700_000_000 + i * 420);
            if i % 13 == 0 {
                let _ = r.extra.add_text("host.http", "common.example.com");
            }
            if i % 300 == 7 {
                let _ = r.extra.add_text("host.http", "rare.example.com");
            }
            r.dst_port = if i % 2 == 0 { 80 } else { 443 };
            if i % 10 == 0 {
                let mut twin = r.clone();
                twin.id = format!("t{i:05}");
                twin.root_id = twin.id.clone();
                rows.push(twin);
            }
            rows.push(r);
        }
        let (_tmp, store) = store_holding(&rows);
        let id = tyto_schema::field("id").unwrap();
        let day_ns = 86_400_000_000_000i64;
        let last_ns = rows.iter().map(|r| r.start_ns).max().unwrap();
        type Case = (&'static str, Option<i64>, Option<i64>, usize, Box<dyn Fn(&SessionRecord) -> bool>);
        let cases: Vec<Case> = vec![
            ("", None, None, 0, Box::new(|_| true)),
            ("", None, None, 250, Box::new(|_| true)),
            (
                "host.http == common.example.com",
                None,
                None,
                0,
                Box::new(|r| r.id[1..].parse::<i64>().unwrap() % 13 == 0),
            ),
            (
                "host.http == common.example.com && port.dst == 80",
                None,
                None,
                40,
                Box::new(|r| r.id[1..].parse::<i64>().unwrap() % 26 == 0),
            ),
            (
                "host.http == rare.example.com",
                None,
                None,
                0,
                Box::new(|r| r.id[1..].parse::<i64>().unwrap() % 300 == 7),
            ),
            ("host.http == none.example.com", None, None, 0, Box::new(|_| false)),
            ("port.dst == 443", None, Some(last_ns - 20 * day_ns), 0, Box::new(|r| r.dst_port == 443)),
            ("", Some(last_ns - 1_800_000_000_000), None, 0, Box::new(|_| true)),
        ];
        for (expr, start_ns, stop_ns, offset, matches) in cases {
            let filter = (!expr.is_empty()).then(|| tyto_query::compile(expr, 0).unwrap());
            let q = ListQuery { filter, start_ns, stop_ns, limit: 100, offset, ..ListQuery::default() };
            let got: Vec<String> =
                store.page(&q, &[id]).unwrap().iter().map(|o| o["id"].as_str().unwrap().to_string()).collect();
            let mut want: Vec<&SessionRecord> = rows
                .iter()
                .filter(|r| matches(r))
                .filter(|r| start_ns.is_none_or(|s| r.stop_ns >= s) && stop_ns.is_none_or(|s| r.start_ns <= s))
                .collect();
            want.sort_by(|a, b| b.start_ns.cmp(&a.start_ns).then_with(|| a.id.cmp(&b.id)));
            let want: Vec<String> = want.iter().skip(offset).take(100).map(|r| r.id.clone()).collect();
            assert_eq!(got, want, "{expr:?} from {start_ns:?} to {stop_ns:?}, offset {offset}");
        }
    }

    /// A store in a new folder, holding `rows`.
    fn store_holding(rows: &[SessionRecord]) -> (tempfile::TempDir, DuckStore) {
        let tmp = tempfile::tempdir().unwrap();
        let mut store = DuckStore::open(tmp.path()).unwrap();
        store.append(&rows.iter().collect::<Vec<_>>()).unwrap();
        (tmp, store)
    }

    fn count(store: &DuckStore, expr: &str) -> u64 {
        let q = ListQuery { filter: Some(tyto_query::compile(expr, 0).unwrap()), ..ListQuery::default() };
        store.count_matching(&q).unwrap()
    }

    /// The first page of up to 100 sessions, showing the fields named.
    fn first_page(store: &DuckStore, shown: &[&str]) -> Vec<Map<String, Json>> {
        let fields: Vec<&FieldDef> = shown.iter().map(|n| tyto_schema::field(n).unwrap()).collect();
        store.page(&ListQuery { limit: 100, ..ListQuery::default() }, &fields).unwrap()
    }

    /// A number the store's SQL answers.
    fn number(store: &DuckStore, sql: &str) -> i64 {
        store.conn.query_row(sql, [], |r| r.get(0)).unwrap()
    }

    /// The store in `dir` opened again (after its layout was set back), now of this
    /// layout.
    fn reopened(dir: &std::path::Path) -> DuckStore {
        let store = DuckStore::open(dir).unwrap();
        let version: String =
            store.conn.query_row("SELECT value FROM tyto_meta WHERE key = 'schema_version'", [], |r| r.get(0)).unwrap();
        assert_eq!(version, DUCKDB_LAYOUT.to_string());
        store
    }

    /// Forty sessions, a Modbus function code on every other one (3 to 6 in turn),
    /// and what `more` adds to each.
    fn forty_sessions(more: impl Fn(i64, &mut SessionRecord)) -> Vec<SessionRecord> {
        (0..40)
            .map(|i| {
                let mut r = sample(&format!("s{i}"), 100 + i);
                if i % 2 == 0 {
                    r.extra.add_int("modbus.funccode", 3 + i % 4).unwrap();
                }
                more(i, &mut r);
                r
            })
            .collect()
    }

    /// A layout-2 store (a table per group) is brought to this layout when opened:
    /// the groups that now share a table keep every value, one row a session, found
    /// by searches and shown on pages as before; a column an old table lacked (a
    /// field added since) is there, empty.
    #[test]
    fn a_layout_2_store_is_migrated_when_opened() {
        let rows = forty_sessions(|i, r| {
            if i % 3 == 0 {
                r.extra.add_text("ntlm.domain", &format!("DOM{i}")).unwrap();
                r.extra.add_text("smb.share", "IPC$").unwrap();
            }
            if i % 5 == 0 {
                r.extra.add_text("host.dns", "example.com").unwrap();
            }
        });
        let (tmp, store) = store_holding(&rows);
        let expressions = [
            "modbus.funccode == 3",
            "ntlm.domain == DOM12 || modbus.funccode == 5",
            "smb.share == IPC$ && modbus.funccode == 3",
            "modbus.funccode != 4",
            "host.dns == example.com && ntlm.domain == EXISTS!",
        ];
        let counts: Vec<u64> = expressions.iter().map(|e| count(&store, e)).collect();
        assert_eq!(counts[0], 10, "function 3 on every fourth of 40 rows");
        let shown = ["id", "modbus.funccode", "ntlm.domain", "smb.share", "host.dns"];
        let before = first_page(&store, &shown);
        assert!(before.iter().any(|r| r.get("ntlm.domain").is_some() && r.get("modbus.funccode").is_some()));
        // Layout 2: the shared table's groups each in a table of their own, one of
        // them without a column added later.
        let mut sql = Vec::new();
        for (group, cols) in
            [("modbus", vec!["modbus_function"]), ("ntlm", vec!["ntlm_domain"]), ("smb", vec!["smb_share"])]
        {
            // (The shared table's fields read back by their expressions.)
            let value = |c: &str| sql::col(FIELDS.iter().find(|f| f.column == c).unwrap());
            let any = cols.iter().map(|c| format!("{} IS NOT NULL", value(c))).collect::<Vec<_>>().join(" OR ");
            let named = cols.iter().map(|c| format!("{} AS {c}", value(c))).collect::<Vec<_>>().join(", ");
            sql.push(format!(
                "CREATE TABLE sessions_{group} AS SELECT rk, side_start, side_stop, {named} FROM {} WHERE {any}",
                sql::SHARED_TABLE
            ));
        }
        sql.push(format!("DROP TABLE {}", sql::SHARED_TABLE));
        // (Its rows have none of the columns layout 4 moved out of `sessions`.)
        sql.push(format!("DROP TABLE {}", sql::RARE_TABLE));
        sql.push("UPDATE tyto_meta SET value = '2' WHERE key = 'schema_version'".into());
        store.conn.execute_batch(&sql.join(";\n")).unwrap();
        drop(store);
        let store = reopened(tmp.path());
        let after: Vec<u64> = expressions.iter().map(|e| count(&store, e)).collect();
        assert_eq!(after, counts, "{expressions:?}");
        assert_eq!(first_page(&store, &shown), before);
        let shared = number(&store, &format!("SELECT count(*) FROM {}", sql::SHARED_TABLE));
        assert_eq!(shared, 27, "one row for each session with modbus, ntlm or smb fields");
        let old = number(&store, "SELECT count(*) FROM information_schema.tables WHERE table_name = 'sessions_modbus'");
        assert_eq!(old, 0, "the old tables are gone");
        // A field the old tables lacked is a column, empty, and new rows fill it.
        assert_eq!(count(&store, "modbus.unitid == EXISTS!"), 0);
    }

    /// A layout-4 store (the shared table a column per field) is brought to this
    /// layout when opened: every value packed, of every kind (texts, numbers,
    /// addresses), found by searches and shown on pages as before; new rows go in
    /// packed beside them.
    #[test]
    fn a_layout_4_store_is_packed_when_opened() {
        let rows = forty_sessions(|i, r| {
            if i % 3 == 0 {
                r.extra.add_text("smb.share", &format!("SHARE{i}")).unwrap();
                r.extra.add_text("smb.share", "IPC$").unwrap();
            }
            if i % 5 == 0 {
                r.extra.add_ip("stun.mapped-ip", Addr::from_v4([192, 0, 2, i as u8])).unwrap();
                let v6 = Addr("2001:db8::1".parse::<std::net::Ipv6Addr>().unwrap().octets());
                r.extra.add_ip("stun.mapped-ip", v6).unwrap();
                r.extra.add_int("stun.mapped-port", 3478).unwrap();
            }
        });
        let (tmp, store) = store_holding(&rows);
        let expressions = [
            "modbus.funccode == 3",
            "smb.share == SHARE12 || modbus.funccode == 5",
            "smb.share == IPC$ && modbus.funccode == 3",
            "modbus.funccode != 4",
            "stun.mapped-ip == 192.0.2.0/28",
            "stun.mapped-ip == 2001:db8::1 && stun.mapped-port == 3478",
            "smb.share.cnt == 2 && stun.mapped-ip == EXISTS!",
            "smb.share == /SHARE[0-9]/",
        ];
        let counts: Vec<u64> = expressions.iter().map(|e| count(&store, e)).collect();
        assert_eq!(counts, [10, 11, 4, 40, 4, 8, 3, 4], "{expressions:?}");
        let shown = ["id", "modbus.funccode", "smb.share", "stun.mapped-ip", "stun.mapped-port"];
        let before = first_page(&store, &shown);
        assert!(before.iter().any(|r| r.get("stun.mapped-ip").is_some() && r.get("smb.share").is_some()));
        // Layout 4: a column per field of the shared table.
        let shared: Vec<&FieldDef> = FIELDS.iter().filter(|f| sql::packed(f)).collect();
        let named = shared.iter().map(|f| format!("{} AS \"{}\"", sql::col(f), f.column)).collect::<Vec<_>>();
        let sql = [
            format!(
                "CREATE TABLE wide AS SELECT rk, side_start, side_stop, {} FROM {}",
                named.join(", "),
                sql::SHARED_TABLE
            ),
            format!("DROP TABLE {}", sql::SHARED_TABLE),
            format!("ALTER TABLE wide RENAME TO {}", sql::SHARED_TABLE),
            "UPDATE tyto_meta SET value = '4' WHERE key = 'schema_version'".into(),
        ];
        store.conn.execute_batch(&sql.join(";\n")).unwrap();
        drop(store);
        let mut store = reopened(tmp.path());
        let after: Vec<u64> = expressions.iter().map(|e| count(&store, e)).collect();
        assert_eq!(after, counts, "{expressions:?}");
        assert_eq!(first_page(&store, &shown), before);
        let columns = number(
            &store,
            &format!("SELECT count(*) FROM information_schema.columns WHERE table_name = '{}'", sql::SHARED_TABLE),
        );
        assert_eq!(columns, 5, "row key, times, names and values");
        // New rows beside the packed old ones.
        let mut more = sample("new", 500);
        more.extra.add_int("modbus.funccode", 3).unwrap();
        store.append(&[&more]).unwrap();
        assert_eq!(count(&store, "modbus.funccode == 3"), 11);
    }

    /// A layout-3 store, whose `sessions` had the seldom-filled columns, opens with
    /// them moved to their side table: searches count and pages show what they did,
    /// a session without any of them has no row there, and new rows go there.
    #[test]
    fn a_layout_3_store_moves_its_rare_columns_out_of_sessions() {
        let rows: Vec<SessionRecord> = (0..30)
            .map(|i| {
                let mut r = sample(&format!("r{i}"), 100 + i);
                if i % 3 == 0 {
                    r.vlans = vec![100 + (i % 2) as u16];
                    r.tunnels = vec!["vlan".into()];
                }
                if i % 5 == 0 {
                    r.ip_protocol = 1;
                    r.icmp_types = vec![8];
                    r.extra.add_text("user", &format!("user{i}")).unwrap();
                }
                if i % 7 == 0 {
                    r.extra.add_text("host.dns", "example.com").unwrap();
                }
                r
            })
            .collect();
        let (tmp, store) = store_holding(&rows);
        let expressions = [
            "vlan == 100",
            "vlan != 100",
            "tunnel == vlan && icmp.type == 8",
            "vlan == EXISTS!",
            "vlan != EXISTS!",
            "vlan.cnt == 0",
            "user == user10 || host.dns == example.com",
            "icmp.type == 8 && vlan.cnt > 0",
        ];
        let counts: Vec<u64> = expressions.iter().map(|e| count(&store, e)).collect();
        // Worked out from the rows: i % 3 == 0 (10 rows), half of them vlan 100.
        assert_eq!(counts[..6], [5, 25, 2, 10, 20, 20], "{expressions:?}");
        let shown = ["id", "vlan", "tunnel", "icmp.type", "user", "host.dns"];
        let before = first_page(&store, &shown);
        assert!(before.iter().any(|r| r.get("vlan").is_some() && r.get("icmp.type").is_some()));
        // Layout 3: the columns back in `sessions`, filled from their table.
        let rare = sql::side_tables().into_iter().find(|(t, _)| t == sql::RARE_TABLE).unwrap().1;
        let mut stmts: Vec<String> = rare
            .iter()
            .map(|f| format!("ALTER TABLE sessions ADD COLUMN \"{}\" {}", f.column, sql::sql_type(f)))
            .collect();
        let set = rare.iter().map(|f| format!("\"{0}\" = r.\"{0}\"", f.column)).collect::<Vec<_>>().join(", ");
        stmts.push(format!("UPDATE sessions SET {set} FROM {} r WHERE sessions.rk = r.rk", sql::RARE_TABLE));
        stmts.push(format!("DROP TABLE {}", sql::RARE_TABLE));
        stmts.push("UPDATE tyto_meta SET value = '3' WHERE key = 'schema_version'".into());
        store.conn.execute_batch(&stmts.join(";\n")).unwrap();
        drop(store);
        let mut store = reopened(tmp.path());
        let after: Vec<u64> = expressions.iter().map(|e| count(&store, e)).collect();
        assert_eq!(after, counts, "{expressions:?}");
        assert_eq!(first_page(&store, &shown), before);
        let moved = number(&store, &format!("SELECT count(*) FROM {}", sql::RARE_TABLE));
        assert_eq!(moved, 14, "a row for each session with a VLAN, an ICMP type or a user (i % 3 or i % 5 == 0)");
        let left = number(
            &store,
            "SELECT count(*) FROM information_schema.columns WHERE table_name = 'sessions' AND column_name = 'vlan'",
        );
        assert_eq!(left, 0, "the column left `sessions`");
        let mut more = sample("new", 500);
        more.vlans = vec![100];
        store.append(&[&more]).unwrap();
        assert_eq!(count(&store, "vlan == 100"), counts[0] + 1);
    }

    #[test]
    fn a_store_of_another_layout_version_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        drop(DuckStore::open(tmp.path()).unwrap());
        {
            let conn = Connection::open(tmp.path().join(DB_FILE)).unwrap();
            conn.execute("UPDATE tyto_meta SET value = '999' WHERE key = 'schema_version'", []).unwrap();
        }
        let err = DuckStore::open(tmp.path()).err().unwrap();
        assert!(err.to_string().contains("version 999"), "{err}");
    }

    fn alert(detector: &str) -> AlertRecord {
        AlertRecord {
            time_ns: 1_700_000_000_000_000_000,
            node: "test".into(),
            detector: detector.into(),
            severity: Severity::Low,
            source: "10.0.0.1".into(),
            targets: vec!["10.0.0.2".into()],
            message: "m".into(),
            expression: "ip.src == 10.0.0.1".into(),
            first_ns: 1_700_000_000_000_000_000,
            last_ns: 1_700_000_000_000_000_000,
        }
    }

    /// Appends held in one open transaction: readers see them once settled, alerts
    /// join them, a failure rolls back all that was held, and closing settles.
    #[test]
    fn held_appends_are_seen_once_settled_and_fail_together() {
        let tmp = tempfile::tempdir().unwrap();
        let mut w = DuckStore::open(tmp.path()).unwrap().for_writing().unwrap();
        let reader = w.reader().unwrap();
        let alerts = || reader.alerts(&crate::AlertQuery { limit: 10, ..Default::default() }).unwrap().0;
        w.append_held(&[&sample("a", 1_700_000_000), &sample("b", 1_700_000_001)]).unwrap();
        w.add_alerts(&[alert("first")]).unwrap();
        assert!(w.holding());
        assert_eq!((reader.count().unwrap(), alerts()), (0, 0), "held until settled");
        w.settle().unwrap();
        assert!(!w.holding());
        assert_eq!((reader.count().unwrap(), alerts()), (2, 1));

        // A statement that fails in the held transaction (here: alerts into a table
        // dropped in it) takes the rows held with it, and the drop too.
        w.append_held(&[&sample("c", 1_700_000_002)]).unwrap();
        w.conn.execute_batch("DROP TABLE alerts").unwrap();
        assert!(w.add_alerts(&[alert("second")]).is_err());
        assert!(!w.holding());
        assert_eq!((reader.count().unwrap(), alerts()), (2, 1));

        // Rows still held when the handle closes are stored.
        w.append_held(&[&sample("d", 1_700_000_003)]).unwrap();
        drop(w);
        assert_eq!(reader.count().unwrap(), 3);
    }

    /// A large append (its columns built on a thread of their own) that DuckDB
    /// refuses half-way, at a side table, returns the error, stores none of its rows
    /// (the sessions already handed over are rolled back with the rest), and leaves
    /// the store taking the next append.
    #[test]
    fn a_large_append_refused_half_way_stores_none_of_it() {
        let tmp = tempfile::tempdir().unwrap();
        let mut store = DuckStore::open(tmp.path()).unwrap();
        let n = 3 * append::PIPELINED_ROWS;
        let with_http: Vec<SessionRecord> = (0..n)
            .map(|i| {
                let mut r = sample(&format!("h{i}"), 1_700_000_000 + i as i64);
                r.extra.add_text("host.http", "example.com").unwrap();
                r
            })
            .collect();
        store.conn.execute_batch("DROP TABLE sessions_http").unwrap();
        let err = store.append(&with_http.iter().collect::<Vec<_>>()).unwrap_err();
        assert!(err.to_string().contains("sessions_http"), "{err}");
        assert_eq!(store.count().unwrap(), 0);
        let plain: Vec<SessionRecord> = (0..n).map(|i| sample(&format!("p{i}"), 1_700_000_000 + i as i64)).collect();
        store.append(&plain.iter().collect::<Vec<_>>()).unwrap();
        assert_eq!(store.count().unwrap(), n as u64);
    }
}
