//! ClickHouse's HTTP interface: a query is the body of a POST, data to insert follows
//! `INSERT … FORMAT RowBinary` given in the URL. Written over `ureq` (already used for
//! the log outputs) rather than a ClickHouse crate: the one crate that speaks to 18.16
//! needs its validation turned off and brings an async runtime the writer thread
//! does not want.

use std::time::Duration;

use base64::Engine as _;
use serde_json::Value as Json;

use crate::StoreError;

/// Numbers the reads of this process, for their query ids.
static READS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Bytes a read's grouping or sorting holds in memory before ClickHouse spills it to
/// disk. Without it the connections of 100 M sessions (some 29 M distinct pairs)
/// outgrew a 4 GB per-query limit and failed; at most half the server's
/// `max_memory_usage`, as ClickHouse advises (its default is 10 GB).
const SPILL_BYTES: &str = "1000000000";

/// Bytes of an answer read at most: a page of a million rows of every field fits.
const MAX_ANSWER_BYTES: u64 = 1 << 30;

/// Why a request failed, as far as knowing whether the server took it.
#[derive(Debug)]
pub(crate) enum Failure {
    /// Nothing reached the server (refused, no route, name unknown): send again.
    NotSent(String),
    /// Sent, but the answer was lost or says "try later": the data may have landed.
    Unknown(String),
    /// The server refused it for what it is (syntax, types, missing table): sending
    /// it again gives the same answer.
    Refused(String),
}

impl Failure {
    pub(crate) fn message(&self) -> &str {
        match self {
            Failure::NotSent(m) | Failure::Unknown(m) | Failure::Refused(m) => m,
        }
    }
}

/// ClickHouse error codes that say "later" rather than "never".
const TRANSIENT_CODES: &[u32] = &[
    3,   // UNEXPECTED_END_OF_FILE (the body was cut)
    159, // TIMEOUT_EXCEEDED
    164, // READONLY (a replica catching up)
    202, // TOO_MANY_SIMULTANEOUS_QUERIES
    203, // NO_FREE_CONNECTION
    209, // SOCKET_TIMEOUT
    216, // QUERY_WITH_SAME_ID_IS_ALREADY_RUNNING (an earlier try of the same batch)
    210, // NETWORK_ERROR
    241, // MEMORY_LIMIT_EXCEEDED
    242, // TABLE_IS_READ_ONLY
    252, // TOO_MANY_PARTS
    319, // UNKNOWN_STATUS_OF_INSERT
    425, // SYSTEM_ERROR
];

/// The `Code: N` that starts ClickHouse's error text.
fn error_code(text: &str) -> Option<u32> {
    let rest = text.trim_start().strip_prefix("Code: ")?;
    let end = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
    rest[..end].parse().ok()
}

#[derive(Clone)]
pub(crate) struct Http {
    agent: ureq::Agent,
    pub(crate) base: String,
    pub(crate) database: String,
    auth: String,
    /// The id of the read this handle runs now, for `KILL QUERY` ([`Http::interrupter`]).
    reading: std::sync::Arc<std::sync::Mutex<Option<String>>>,
    /// Set by the interrupter: later reads are refused until cleared (an interrupt
    /// between two reads of a request has no query to kill).
    pub(crate) stopped: crate::StopFlag,
    /// Inserts of at most this many rows skip the server's squashing ([`Http::insert`]);
    /// 0 on servers where that could split an insert.
    pub(crate) unsquashed_rows: usize,
}

impl Http {
    pub(crate) fn new(base: &str, user: &str, password: &str, database: &str, timeout: Duration) -> Http {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .max_idle_connections_per_host(4)
            .build()
            .new_agent();
        let auth = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}")));
        Http {
            agent,
            base: base.to_string(),
            database: database.to_string(),
            auth,
            reading: Default::default(),
            stopped: Default::default(),
            unsquashed_rows: 0,
        }
    }

    /// The same server for another thread: its reads are its own to interrupt.
    pub(crate) fn for_another_thread(&self) -> Http {
        Http { reading: Default::default(), stopped: Default::default(), ..self.clone() }
    }

    /// Kills the read this handle runs (if any) on the server, from another thread.
    pub(crate) fn interrupter(&self) -> crate::Interrupter {
        let me = self.clone();
        crate::Interrupter::new(move || {
            me.stopped.stop();
            let Some(id) = me.reading.lock().unwrap_or_else(|p| p.into_inner()).clone() else { return };
            let killer = me.in_database("system");
            // Off the caller's thread: the caller may be an async runtime.
            std::thread::spawn(move || {
                let sql = format!("KILL QUERY WHERE query_id = {} ASYNC", super::sql::string_literal(&id));
                if let Err(e) = killer.post(None, &[], sql.as_bytes()) {
                    tracing::warn!("ClickHouse at {}: stopping query {id}: {}", killer.base, e.message());
                }
            });
        })
    }

    /// Another host (a server of the cluster), at this handle's scheme and port and
    /// with its credentials and database.
    pub(crate) fn at_host(&self, host: &str) -> Http {
        let (scheme, rest) = self.base.split_once("://").unwrap_or(("http", &self.base));
        let port =
            rest.rsplit_once(':').map(|(_, p)| p).filter(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
        let host = if host.contains(':') { format!("[{host}]") } else { host.to_string() };
        let base = match port {
            Some(p) => format!("{scheme}://{host}:{p}"),
            None => format!("{scheme}://{host}"),
        };
        Http { base, ..self.clone() }
    }

    /// The same server, another database (`system` for what exists).
    pub(crate) fn in_database(&self, database: &str) -> Http {
        Http { database: database.to_string(), ..self.clone() }
    }

    /// Sends `body` with `query` (and settings) in the URL; the answer's text. The
    /// body is borrowed: a batch's rows stay with it, to be tried again or spooled,
    /// and a copy of each (tens of megabytes of fresh memory) took the writer as
    /// long as encoding them.
    fn post(&self, query: Option<&str>, settings: &[(&str, &str)], body: &[u8]) -> Result<String, Failure> {
        let mut req = self.agent.post(format!("{}/", self.base)).header("Authorization", &self.auth);
        req = req.query("database", &self.database);
        if let Some(q) = query {
            req = req.query("query", q);
        }
        for (k, v) in settings {
            req = req.query(*k, *v);
        }
        let mut resp = match req.send(body) {
            Ok(r) => r,
            Err(e) => {
                let msg = e.to_string();
                return Err(match e {
                    ureq::Error::ConnectionFailed | ureq::Error::HostNotFound => Failure::NotSent(msg),
                    ureq::Error::Io(io)
                        if matches!(
                            io.kind(),
                            std::io::ErrorKind::ConnectionRefused | std::io::ErrorKind::AddrNotAvailable
                        ) =>
                    {
                        Failure::NotSent(msg)
                    }
                    _ => Failure::Unknown(msg),
                });
            }
        };
        let status = resp.status().as_u16();
        let text = resp
            .body_mut()
            .with_config()
            .limit(MAX_ANSWER_BYTES)
            .read_to_string()
            .map_err(|e| Failure::Unknown(format!("reading the answer: {e}")))?;
        if status == 200 {
            return Ok(text);
        }
        let message = format!("HTTP {status}: {}", text.trim().chars().take(600).collect::<String>());
        match error_code(&text) {
            Some(c) if TRANSIENT_CODES.contains(&c) => Err(Failure::Unknown(message)),
            Some(_) => Err(Failure::Refused(message)),
            None if status >= 500 || status == 429 => Err(Failure::Unknown(message)),
            None => Err(Failure::Refused(message)),
        }
    }

    pub(crate) fn error(&self, f: Failure) -> StoreError {
        match f {
            Failure::Refused(message) => StoreError::ClickHouse { server: self.base.clone(), message },
            Failure::NotSent(message) | Failure::Unknown(message) => {
                StoreError::Unreachable { server: self.base.clone(), message }
            }
        }
    }

    /// Runs a statement that returns nothing (DDL, ALTER).
    pub(crate) fn execute(&self, sql: &str) -> Result<(), StoreError> {
        self.post(None, &[], sql.as_bytes()).map(drop).map_err(|f| self.error(f))
    }

    /// Runs a query; its rows as arrays of JSON values (64-bit integers as numbers).
    pub(crate) fn rows(&self, sql: &str) -> Result<Vec<Vec<Json>>, StoreError> {
        let id =
            format!("tyto-read-{}-{}", std::process::id(), READS.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
        *self.reading.lock().unwrap_or_else(|p| p.into_inner()) = Some(id.clone());
        // Checked after the id is published: an interrupter that came before either
        // refuses this read here or finds the id to kill.
        if let Err(e) = self.stopped.check() {
            *self.reading.lock().unwrap_or_else(|p| p.into_inner()) = None;
            return Err(e);
        }
        let answer = self.post(
            None,
            &[
                ("output_format_json_quote_64bit_integers", "0"),
                ("query_id", &id),
                ("max_bytes_before_external_group_by", SPILL_BYTES),
                ("max_bytes_before_external_sort", SPILL_BYTES),
            ],
            format!("{sql} FORMAT JSONCompact").as_bytes(),
        );
        *self.reading.lock().unwrap_or_else(|p| p.into_inner()) = None;
        let text = answer.map_err(|f| self.error(f))?;
        let mut answer: Json = serde_json::from_str(&text).map_err(|e| StoreError::ClickHouse {
            server: self.base.clone(),
            message: format!("an answer that is not JSON ({e})"),
        })?;
        match answer.get_mut("data").map(Json::take) {
            Some(Json::Array(rows)) => Ok(rows
                .into_iter()
                .map(|r| match r {
                    Json::Array(v) => v,
                    other => vec![other],
                })
                .collect()),
            _ => Err(StoreError::ClickHouse { server: self.base.clone(), message: "an answer without data".into() }),
        }
    }

    /// One number from a query's first row and column.
    pub(crate) fn number(&self, sql: &str) -> Result<i64, StoreError> {
        let rows = self.rows(sql)?;
        Ok(rows
            .first()
            .and_then(|r| r.first())
            .map_or(0, |v| v.as_i64().or_else(|| v.as_str()?.parse().ok()).unwrap_or(0)))
    }

    /// Inserts `body` (`rows` RowBinary rows) into `table (columns)` as query `query_id`.
    pub(crate) fn insert(
        &self,
        table: &str,
        columns: &str,
        body: &[u8],
        rows: usize,
        sync: bool,
        query_id: &str,
    ) -> Result<(), Failure> {
        let query = format!("INSERT INTO {table} ({columns}) FORMAT RowBinary");
        let mut settings = vec![("query_id", query_id)];
        // The body is parsed into one block, which the server's squashing (meant to
        // gather small blocks into one part) copies whole for nothing: 12% of an
        // insert's time on 18.16.
        if rows <= self.unsquashed_rows {
            settings.extend([("min_insert_block_size_rows", "0"), ("min_insert_block_size_bytes", "0")]);
        }
        // A Distributed table forwards in the background by default; waiting for it
        // makes "inserted" mean "on the shards", which the replay check relies on.
        if sync {
            settings.push(("insert_distributed_sync", "1"));
        }
        self.post(Some(&query), &settings, body).map(drop)
    }

    /// The most rows an insert can hold and still be parsed into one block, and so
    /// land as one part without squashing: `max_insert_block_size` on servers that
    /// cut an insert's body by rows alone; 0 (squash every insert) on those that parse
    /// a body in parallel pieces (20.x on: `input_format_parallel_parsing`), or lack
    /// the settings.
    pub(crate) fn unsquashed_rows(&self) -> Result<usize, StoreError> {
        let rows = self.in_database("system").rows(
            "SELECT name, value FROM system.settings WHERE name IN \
             ('input_format_parallel_parsing', 'max_insert_block_size', 'min_insert_block_size_rows', \
             'min_insert_block_size_bytes')",
        )?;
        let value = |name: &str| {
            rows.iter().find(|r| r.first().and_then(|n| n.as_str()) == Some(name)).and_then(|r| r.get(1).cloned())
        };
        let whole = value("input_format_parallel_parsing").is_none()
            && value("min_insert_block_size_rows").is_some()
            && value("min_insert_block_size_bytes").is_some();
        let max_rows = value("max_insert_block_size").and_then(|v| v.as_str().and_then(|s| s.parse().ok()));
        Ok(if whole { max_rows.unwrap_or(0) } else { 0 })
    }

    /// Whether the server still runs query `query_id` (an insert whose answer was lost).
    pub(crate) fn running(&self, query_id: &str) -> Result<bool, StoreError> {
        let sql =
            format!("SELECT count() FROM system.processes WHERE query_id = {}", super::sql::string_literal(query_id));
        Ok(self.in_database("system").number(&sql)? > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_are_read_from_clickhouse_answers() {
        assert_eq!(error_code("Code: 252, e.displayText() = DB::Exception: Too many parts"), Some(252));
        assert_eq!(error_code("Code: 62, e.displayText() = DB::Exception: Syntax error"), Some(62));
        assert_eq!(error_code("Bad Gateway"), None);
        assert_eq!(error_code("Code: "), None);
    }

    /// An interrupt between two reads (no query to kill) refuses the next read,
    /// without asking the server, until the mark is cleared.
    #[test]
    fn an_interrupt_between_reads_refuses_the_next() {
        // Nothing listens on port 1: a read that reached the network would fail otherwise.
        let http = Http::new("http://127.0.0.1:1", "u", "p", "db", Duration::from_secs(1));
        http.interrupter().interrupt();
        assert!(matches!(http.rows("SELECT 1"), Err(StoreError::Interrupted)));
        http.stopped.clear();
        let err = http.rows("SELECT 1").unwrap_err();
        assert!(!matches!(err, StoreError::Interrupted), "{err}");
    }
}
