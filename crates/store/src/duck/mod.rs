//! The embedded store: DuckDB, one file in the data directory.

mod aggregate;

use std::path::Path;

use duckdb::types::{TimeUnit, Value};
use duckdb::{params, Connection};
use serde_json::{Map, Value as Json};
use tyto_packet::Addr;
use tyto_query::Dialect;
use tyto_schema::{
    time::format_rfc3339, AlertRecord, FieldDef, FieldKind, FieldValue, SessionRecord, Severity, Source, FIELDS,
    SCHEMA_VERSION,
};

use crate::{
    columns, dump_fields, AlertQuery, Bucket, FileRow, InputFile, Link, ListQuery, SessionPositions, SessionStore,
    StoreError, StoreStats, ValueCount, ValueSeries, MAX_LIST_ROWS,
};

/// The database file inside a data directory.
pub const DB_FILE: &str = "sessions.duckdb";

/// The `WHERE` clause (without the keyword) and its parameters.
pub(crate) fn where_clause(q: &ListQuery) -> (String, Vec<Value>) {
    let mut sql = String::from("true");
    let mut args: Vec<Value> = Vec::new();
    if let Some(s) = q.start_ns {
        sql.push_str(" AND stop_time >= ?");
        args.push(ts(s));
    }
    if let Some(s) = q.stop_ns {
        sql.push_str(" AND start_time <= ?");
        args.push(ts(s));
    }
    if let Some(f) = &q.filter {
        sql.push_str(" AND ");
        sql.push_str(&f.to_sql(Dialect::DuckDb));
    }
    (sql, args)
}

fn order_clause(q: &ListQuery) -> String {
    if q.order.is_empty() {
        return "start_time DESC, id".into();
    }
    let mut keys: Vec<String> = q
        .order
        .iter()
        .map(|k| format!("\"{}\" {} NULLS LAST", k.field.column, if k.descending { "DESC" } else { "ASC" }))
        .collect();
    keys.push("id".into());
    keys.join(", ")
}

/// The embedded store.
pub struct DuckStore {
    conn: Connection,
    /// The database file (`:memory:` for an in-memory store).
    path: std::path::PathBuf,
}

fn sql_type(f: &FieldDef) -> &'static str {
    let base = match f.kind {
        FieldKind::Ip => "UHUGEINT",
        FieldKind::Integer => "BIGINT",
        FieldKind::Date => "TIMESTAMP",
        FieldKind::Text | FieldKind::LowerText => "VARCHAR",
    };
    match (f.multi, base) {
        (false, b) => b,
        (true, "UHUGEINT") => "UHUGEINT[]",
        (true, "BIGINT") => "BIGINT[]",
        (true, "TIMESTAMP") => "TIMESTAMP[]",
        (true, _) => "VARCHAR[]",
    }
}

impl DuckStore {
    /// Opens (creating) the store in a data directory.
    pub fn open(data_dir: &Path) -> Result<DuckStore, StoreError> {
        let path = data_dir.join(DB_FILE);
        let conn = Connection::open(&path).map_err(|source| StoreError::Open { path: path.clone(), source })?;
        let store = DuckStore { conn, path };
        store.init()?;
        Ok(store)
    }

    /// An in-memory store (tests, `dump`-like uses).
    pub fn in_memory() -> Result<DuckStore, StoreError> {
        let store = DuckStore { conn: Connection::open_in_memory()?, path: ":memory:".into() };
        store.init()?;
        Ok(store)
    }

    fn init(&self) -> Result<(), StoreError> {
        self.conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS tyto_meta (key VARCHAR PRIMARY KEY, value VARCHAR);
             CREATE TABLE IF NOT EXISTS alerts (time TIMESTAMP, node VARCHAR, detector VARCHAR,
                severity VARCHAR, source VARCHAR, targets VARCHAR[], message VARCHAR,
                expression VARCHAR, first_time TIMESTAMP, last_time TIMESTAMP)",
        )?;
        let found: Option<String> =
            self.conn.query_row("SELECT value FROM tyto_meta WHERE key = 'schema_version'", [], |r| r.get(0)).ok();
        match found {
            Some(v) => {
                let v: u32 = v.parse().unwrap_or(0);
                if v != SCHEMA_VERSION {
                    return Err(StoreError::Version {
                        place: self.path.display().to_string(),
                        found: v,
                        wanted: SCHEMA_VERSION,
                    });
                }
                self.add_missing_columns()?;
            }
            None => {
                let cols: Vec<String> = FIELDS.iter().map(|f| format!("\"{}\" {}", f.column, sql_type(f))).collect();
                self.conn.execute_batch(&format!(
                    "BEGIN;
                     CREATE TABLE sessions ({});
                     CREATE TABLE files (id UINTEGER, node VARCHAR, path VARCHAR, link_type UINTEGER,
                        packets UBIGINT, bytes UBIGINT, first_time TIMESTAMP, last_time TIMESTAMP);
                     CREATE TABLE inputs (path VARCHAR, size UBIGINT, modified BIGINT, packets UBIGINT,
                        ingested TIMESTAMP DEFAULT current_timestamp);
                     INSERT INTO tyto_meta VALUES ('schema_version', '{SCHEMA_VERSION}');
                     COMMIT;",
                    cols.join(", ")
                ))?;
            }
        }
        Ok(())
    }

    /// Fields added to the catalogue since the store was made become new (empty)
    /// columns: adding a field never needs a new layout version.
    fn add_missing_columns(&self) -> Result<(), StoreError> {
        let mut stmt =
            self.conn.prepare("SELECT column_name FROM information_schema.columns WHERE table_name = 'sessions'")?;
        let have: std::collections::HashSet<String> =
            stmt.query_map([], |r| r.get::<_, String>(0))?.collect::<Result<_, _>>()?;
        for f in FIELDS.iter().filter(|f| !have.contains(f.column)) {
            self.conn.execute_batch(&format!("ALTER TABLE sessions ADD COLUMN \"{}\" {}", f.column, sql_type(f)))?;
        }
        Ok(())
    }

    /// Runs a query whose columns are `fields`, one JSON object per row.
    fn json_rows(&self, sql: &str, args: &[Value], fields: &[&FieldDef]) -> Result<Vec<Map<String, Json>>, StoreError> {
        let mut stmt = self.conn.prepare(sql)?;
        let mut rows = stmt.query(duckdb::params_from_iter(args.iter()))?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            let mut obj = Map::new();
            for (i, f) in fields.iter().enumerate() {
                let v: Value = row.get(i)?;
                if let Some(j) = from_duck(v) {
                    obj.insert(f.name.to_string(), j);
                }
            }
            out.push(obj);
        }
        Ok(out)
    }

    /// Another handle on the same database, for another thread (DuckDB connections
    /// are not shared between threads; clones are cheap).
    pub fn try_clone(&self) -> Result<DuckStore, StoreError> {
        Ok(DuckStore { conn: self.conn.try_clone()?, path: self.path.clone() })
    }

    /// The connection, for the query layer and benchmarks.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }
}

fn ts(ns: i64) -> Value {
    Value::Timestamp(TimeUnit::Microsecond, ns.div_euclid(1000))
}

fn to_duck(v: FieldValue<'_>) -> Value {
    match v {
        // Most multi-valued fields are empty in most sessions: NULL costs the
        // appender nothing, an empty list costs it a list value (and means the same).
        FieldValue::Strs([]) | FieldValue::Ips([]) | FieldValue::Macs([]) => Value::Null,
        FieldValue::Ints(v) | FieldValue::Times(v) if v.is_empty() => Value::Null,
        FieldValue::Null => Value::Null,
        FieldValue::Int(i) => Value::BigInt(i),
        FieldValue::Time(ns) => ts(ns),
        FieldValue::Ip(a) => Value::UHugeInt(a.as_u128()),
        FieldValue::Str(s) => Value::Text(s.to_string()),
        FieldValue::Strs(v) => Value::List(v.iter().map(|s| Value::Text(s.clone())).collect()),
        FieldValue::Ints(v) => Value::List(v.into_iter().map(Value::BigInt).collect()),
        FieldValue::Times(v) => Value::List(v.into_iter().map(ts).collect()),
        FieldValue::Ips(v) => Value::List(v.iter().map(|a| Value::UHugeInt(a.as_u128())).collect()),
        FieldValue::Macs(v) => Value::List(v.iter().map(|m| Value::Text(m.to_string())).collect()),
    }
}

/// The items of a list value that `pick` takes (none when the value is not a list).
fn list_of<T>(v: Value, pick: impl FnMut(Value) -> Option<T>) -> Vec<T> {
    match v {
        Value::List(items) => items.into_iter().filter_map(pick).collect(),
        _ => Vec::new(),
    }
}

fn from_duck(v: Value) -> Option<Json> {
    Some(match v {
        Value::Null => return None,
        Value::List(items) => {
            if items.is_empty() {
                return None;
            }
            Json::Array(items.into_iter().filter_map(from_duck).collect())
        }
        Value::UHugeInt(u) => Json::from(Addr(u.to_be_bytes()).to_string()),
        Value::HugeInt(i) => Json::from(Addr((i as u128).to_be_bytes()).to_string()),
        Value::BigInt(i) => Json::from(i),
        Value::Int(i) => Json::from(i),
        Value::UInt(i) => Json::from(i),
        Value::UBigInt(i) => Json::from(i),
        Value::Timestamp(unit, t) => {
            let ns = match unit {
                TimeUnit::Second => t.saturating_mul(1_000_000_000),
                TimeUnit::Millisecond => t.saturating_mul(1_000_000),
                TimeUnit::Microsecond => t.saturating_mul(1000),
                TimeUnit::Nanosecond => t,
            };
            Json::from(format_rfc3339(ns))
        }
        Value::Text(s) if s.is_empty() => return None,
        Value::Text(s) => Json::from(s),
        other => Json::from(format!("{other:?}")),
    })
}

impl SessionStore for DuckStore {
    fn another(&self) -> Result<crate::StoreBox, StoreError> {
        Ok(Box::new(self.try_clone()?))
    }

    fn describe(&self) -> String {
        format!("duckdb://{}", self.path.parent().unwrap_or(Path::new("")).display())
    }

    fn interrupter(&self) -> crate::Interrupter {
        let handle = self.conn.interrupt_handle();
        crate::Interrupter::new(move || handle.interrupt())
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
        Ok(out)
    }

    fn append(&mut self, rows: &[SessionRecord]) -> Result<(), StoreError> {
        // Dissector fields that no row of the batch has are left out of the appender
        // (they take their NULL default): most of the catalogue is empty in most
        // sessions, and each value appended costs the same whether NULL or not.
        let active: Vec<&FieldDef> = FIELDS
            .iter()
            .filter(|f| match f.source {
                Source::Record(_) => true,
                Source::Extra => rows.iter().any(|r| r.extra.get(f.name).is_some()),
            })
            .collect();
        let tx = self.conn.transaction()?;
        {
            let mut app = tx.appender("sessions")?;
            if active.len() < FIELDS.len() {
                for f in &active {
                    app.add_column(f.column)?;
                }
            }
            let mut values: Vec<Value> = Vec::with_capacity(active.len());
            for rec in rows {
                values.clear();
                values.extend(active.iter().map(|f| to_duck(f.value(rec))));
                app.append_row(duckdb::appender_params_from_iter(values.iter()))?;
            }
            app.flush()?;
        }
        tx.commit()?;
        Ok(())
    }

    fn add_files(&mut self, files: &[FileRow]) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        {
            let mut app = tx.appender("files")?;
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
        }
        tx.commit()?;
        Ok(())
    }

    fn remove_files(&mut self, node: &str, ids: &[u32]) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        for id in ids {
            tx.execute("DELETE FROM files WHERE node = ? AND id = ?", params![node, id])?;
        }
        tx.commit()?;
        Ok(())
    }

    fn expire_sessions(&mut self, before_ns: i64) -> Result<u64, StoreError> {
        let n = self.conn.execute("DELETE FROM sessions WHERE \"stop_time\" < ?", params![ts(before_ns)])?;
        Ok(n as u64)
    }

    fn add_input(&mut self, input: &InputFile, packets: u64) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO inputs (path, size, modified, packets) VALUES (?, ?, ?, ?)",
            params![input.path, input.size, input.modified, packets],
        )?;
        Ok(())
    }

    fn has_input(&self, input: &InputFile) -> Result<bool, StoreError> {
        let n: i64 = self.conn.query_row(
            "SELECT count(*) FROM inputs WHERE path = ? AND size = ? AND modified = ?",
            params![input.path, input.size, input.modified],
            |r| r.get(0),
        )?;
        Ok(n > 0)
    }

    fn list(&self, q: &ListQuery) -> Result<Vec<Map<String, Json>>, StoreError> {
        let fields = q.fields.clone().unwrap_or_else(dump_fields);
        let (cond, args) = where_clause(q);
        let limit = q.limit.clamp(1, MAX_LIST_ROWS);
        let order = order_clause(q);
        // Late materialisation: find the page's rows reading only the filtered and
        // sorted columns, then fetch the ~150 displayed columns for those rows alone.
        // A filter DuckDB cannot push into its scan (ORs over lists) otherwise makes
        // it read every column of every row (measured 1.7 s against 0.25 s on 10 M rows).
        let sql = format!(
            "SELECT {} FROM sessions WHERE rowid IN \
             (SELECT rowid FROM sessions WHERE {cond} ORDER BY {order} LIMIT {limit} OFFSET {}) \
             ORDER BY {order}",
            columns(&fields),
            q.offset
        );
        self.json_rows(&sql, &args, &fields)
    }

    fn packet_positions(&self, ids: &[String]) -> Result<Vec<SessionPositions>, StoreError> {
        let mut stmt =
            self.conn.prepare("SELECT id, node, epoch_us(start_time), packet_pos FROM sessions WHERE id = ?")?;
        let mut out = Vec::new();
        for id in ids {
            let mut rows = stmt.query(params![id])?;
            while let Some(row) = rows.next()? {
                let positions = list_of(row.get(3)?, |v| match v {
                    Value::BigInt(i) => Some(i),
                    _ => None,
                });
                let start_us: i64 = row.get(2)?;
                out.push(SessionPositions {
                    id: row.get(0)?,
                    node: row.get(1)?,
                    start_ns: start_us.saturating_mul(1000),
                    positions,
                });
            }
        }
        Ok(out)
    }

    fn count(&self) -> Result<u64, StoreError> {
        let n: i64 = self.conn.query_row("SELECT count(*) FROM sessions", [], |r| r.get(0))?;
        Ok(n as u64)
    }

    fn count_matching(&self, q: &ListQuery) -> Result<u64, StoreError> {
        let (cond, args) = where_clause(q);
        let mut stmt = self.conn.prepare(&format!("SELECT count(*) FROM sessions WHERE {cond}"))?;
        let n: i64 = stmt.query_row(duckdb::params_from_iter(args.iter()), |r| r.get(0))?;
        Ok(n as u64)
    }

    fn session(&self, id: &str) -> Result<Option<Map<String, Json>>, StoreError> {
        let fields = dump_fields();
        let sql = format!("SELECT {} FROM sessions WHERE id = ? LIMIT 1", columns(&fields));
        Ok(self.json_rows(&sql, &[Value::Text(id.to_string())], &fields)?.pop())
    }

    fn top_values(&self, q: &ListQuery, field: &FieldDef, n: usize) -> Result<Vec<ValueCount>, StoreError> {
        aggregate::top_values(self, q, field, n)
    }

    fn histogram(&self, q: &ListQuery, bucket_ns: i64) -> Result<Vec<Bucket>, StoreError> {
        aggregate::histogram(self, q, bucket_ns)
    }

    fn value_histogram(
        &self,
        q: &ListQuery,
        field: &FieldDef,
        n: usize,
        bucket_ns: i64,
    ) -> Result<Vec<ValueSeries>, StoreError> {
        aggregate::value_histogram(self, q, field, n, bucket_ns)
    }

    fn connections(&self, q: &ListQuery, src: &FieldDef, dst: &FieldDef, n: usize) -> Result<Vec<Link>, StoreError> {
        aggregate::connections(self, q, src, dst, n)
    }

    fn positions_in_order(
        &self,
        q: &ListQuery,
        after: Option<&SessionPositions>,
        n: usize,
    ) -> Result<Vec<SessionPositions>, StoreError> {
        aggregate::positions_in_order(self, q, after, n)
    }

    fn stats(&self) -> Result<StoreStats, StoreError> {
        aggregate::stats(self)
    }

    fn add_alerts(&mut self, alerts: &[AlertRecord]) -> Result<(), StoreError> {
        if alerts.is_empty() {
            return Ok(());
        }
        let tx = self.conn.transaction()?;
        for a in alerts {
            let targets = Value::List(a.targets.iter().map(|t| Value::Text(t.clone())).collect());
            tx.execute(
                "INSERT INTO alerts VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                params![
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
                ],
            )?;
        }
        tx.commit()?;
        Ok(())
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

    #[test]
    fn rows_round_trip_through_duckdb() {
        let tmp = tempfile::tempdir().unwrap();
        let mut store = DuckStore::open(tmp.path()).unwrap();
        store.append(&[sample("a", 100), sample("b", 200)]).unwrap();
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
    fn expiry_deletes_sessions_that_ended_before_the_limit_and_files_are_forgotten() {
        let mut store = DuckStore::in_memory().unwrap();
        store.append(&[sample("old", 100), sample("edge", 200), sample("new", 300)]).unwrap();
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
    fn a_running_query_stops_when_interrupted_and_the_handle_works_on() {
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
        assert_eq!(store.count().unwrap(), 0, "the next query runs");
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
}
