//! Where session rows live. The rest of the program sees a [`SessionWriter`] (what
//! a sensor or an ingest appends) and [`SessionReader`]s (what the viewer and the
//! command line ask), chosen by a URL ([`StoreUrl`]): embedded DuckDB (one file in
//! the data directory, the default) or a ClickHouse server or cluster that many
//! sensors write to. Tables are laid out from the field catalogue, so a new field is
//! a new column with no change here, and the layout's version is recorded and
//! checked on open.
//!
//! Each backend owns its SQL (`duck/sql.rs`, `clickhouse/sql.rs`: tables, literals,
//! how a filter leaf reads a column); the filter walk and the aggregate queries are
//! written once over them (`sql/`).

mod clickhouse;
mod duck;
mod queue;
mod rows;
mod sql;
mod transactions;
mod url;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value as Json};
use tyto_query::{Filter, TextMatch};
use tyto_schema::{AlertRecord, FieldDef, SessionRecord, Severity, FIELDS};

pub use clickhouse::{ClickConfig, ClickStore, SpoolCounters};
pub use duck::{DuckStore, DB_FILE, DUCKDB_LAYOUT};
pub use queue::{QueueConfig, QueueCounters, RowPusher, RowQueue, MAX_APPEND_ROWS};
pub use transactions::{Service, ServiceBucket, ServiceQuery, TransactionQuery};
pub use url::StoreUrl;

/// Literals as each store's SQL writes them (for tools that build their own SQL).
pub mod literal {
    pub use crate::clickhouse::string_literal as clickhouse;
    pub use crate::duck::string_literal as duckdb;
}

/// Rows a listing returns at most, whatever is asked.
pub const MAX_LIST_ROWS: usize = 1_000_000;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{path}: {source}")]
    Open { path: PathBuf, source: duckdb::Error },
    #[error(
        "{place} holds sessions in layout version {found}; this Tyto reads version {wanted}{}",
        if found < wanted { " (`tyto db upgrade --store URL` brings it there)" } else { " (a newer Tyto wrote it)" }
    )]
    Version { place: String, found: u32, wanted: u32 },
    #[error("session store: {0}")]
    Db(#[from] duckdb::Error),
    #[error("{0}")]
    Url(String),
    #[error("{place} has no Tyto tables (run `tyto db init --store URL` first)")]
    NotInitialised { place: String },
    #[error("{place} lacks columns {missing} (run `tyto db upgrade --store URL`)")]
    Outdated { place: String, missing: String },
    /// ClickHouse answered with an error.
    #[error("ClickHouse at {server}: {message}")]
    ClickHouse { server: String, message: String },
    /// ClickHouse could not be reached, or the answer was lost.
    #[error("ClickHouse at {server} unreachable: {message}")]
    Unreachable { server: String, message: String },
    #[error("spool {path}: {source}")]
    Spool { path: PathBuf, source: std::io::Error },
    /// Rows could not be put in the store's format (a bug, not the input's fault).
    #[error("encoding rows: {0}")]
    Encode(String),
    /// Rows read could not be turned back into values (a bug, not the input's fault).
    #[error("reading rows: {0}")]
    Decode(String),
    /// The question cannot be asked of a store (the caller's to check first).
    #[error("{0}")]
    Request(String),
    /// The handle was interrupted before this query began: the request it served is over.
    #[error("session store: the query was interrupted")]
    Interrupted,
}

impl StoreError {
    /// Whether the store stopped the query because it was told to (an [`Interrupter`])
    /// or ran out of time, rather than failing.
    pub fn is_interrupted(&self) -> bool {
        match self {
            StoreError::Db(e) => {
                let text = e.to_string();
                text.contains("INTERRUPT") || text.contains("Interrupted")
            }
            // 394 QUERY_WAS_CANCELLED, 159 TIMEOUT_EXCEEDED.
            StoreError::ClickHouse { message, .. } | StoreError::Unreachable { message, .. } => {
                message.contains("Code: 394") || message.contains("Code: 159")
            }
            StoreError::Interrupted => true,
            _ => false,
        }
    }
}

/// A pcap file written during ingest, recorded beside the sessions.
#[derive(Clone, Debug)]
pub struct FileRow {
    pub id: u32,
    pub node: String,
    pub path: String,
    pub link_type: u32,
    pub packets: u64,
    pub bytes: u64,
    pub first_ns: i64,
    pub last_ns: i64,
}

/// A capture file as ingest saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputFile {
    /// Canonical path.
    pub path: String,
    pub size: u64,
    /// Modification time, seconds since the epoch.
    pub modified: i64,
}

impl InputFile {
    pub fn of(path: &Path) -> std::io::Result<InputFile> {
        let canonical = std::fs::canonicalize(path)?;
        let meta = std::fs::metadata(&canonical)?;
        let modified = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_secs() as i64);
        Ok(InputFile { path: canonical.display().to_string(), size: meta.len(), modified })
    }
}

/// Which rows a listing or a count wants.
#[derive(Clone, Debug, Default)]
pub struct ListQuery {
    /// Only sessions whose last packet is at or after this (ns).
    pub start_ns: Option<i64>,
    /// Only sessions whose first packet is at or before this (ns).
    pub stop_ns: Option<i64>,
    /// Only sessions that match this expression.
    pub filter: Option<Filter>,
    pub limit: usize,
    /// Rows of the ordered result skipped before the page.
    pub offset: usize,
    /// Sort keys; empty means newest first. The id always breaks ties, so pages are stable.
    pub order: Vec<SortKey>,
    /// The fields a listing returns; `None` means every field `dump` prints.
    pub fields: Option<Vec<&'static FieldDef>>,
    /// Top values and links over a store of more than four times this many sessions
    /// may be estimated from a sample of about this many (the answer says so; see
    /// [`SAMPLE_ABOVE`]): what the viewer's SPI view, graph and connections want.
    /// Exports and value lists (`/api/unique`) leave it `None` and get every value.
    pub sample_above: Option<u64>,
}

impl ListQuery {
    /// This query narrowed to the sessions of these ids: what a route that names
    /// sessions by id asks, within what the query already allows.
    pub fn with_ids(mut self, ids: Vec<String>) -> ListQuery {
        let id = tyto_schema::field("id").expect("the catalogue has id");
        let by_id = Filter::Text { field: id, m: TextMatch::AnyOf(ids) };
        self.filter = Some(match self.filter.take() {
            Some(f) => Filter::And(vec![f, by_id]),
            None => by_id,
        });
        self
    }
}

/// One sort key of a listing.
#[derive(Clone, Copy, Debug)]
pub struct SortKey {
    pub field: &'static FieldDef,
    pub descending: bool,
}

/// A reading handle on a store, for one thread at a time.
pub type ReaderBox = Box<dyn SessionReader + Send>;
/// The writing handle on a store.
pub type WriterBox = Box<dyn SessionWriter + Send>;

/// Stops the query a store handle is running, from another thread: when a request's
/// time is up, its client went away, or the server stops. The handle's later queries
/// are refused too, until [`SessionReader::clear_interrupt`] (a request runs several
/// queries, and one interrupted between two must not let the next run whole).
#[derive(Clone)]
pub struct Interrupter(Arc<dyn Fn() + Send + Sync>);

impl Interrupter {
    pub fn new(stop: impl Fn() + Send + Sync + 'static) -> Interrupter {
        Interrupter(Arc::new(stop))
    }

    pub fn interrupt(&self) {
        (self.0)()
    }
}

/// A store handle's "interrupted" mark, shared with its [`Interrupter`]: set when it
/// is interrupted, checked before each query, cleared by the next request.
#[derive(Clone, Default)]
pub(crate) struct StopFlag(Arc<std::sync::atomic::AtomicBool>);

impl StopFlag {
    pub(crate) fn stop(&self) {
        self.0.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    pub(crate) fn clear(&self) {
        self.0.store(false, std::sync::atomic::Ordering::SeqCst);
    }

    /// [`StoreError::Interrupted`] once stopped.
    pub(crate) fn check(&self) -> Result<(), StoreError> {
        match self.0.load(std::sync::atomic::Ordering::SeqCst) {
            true => Err(StoreError::Interrupted),
            false => Ok(()),
        }
    }
}

impl std::fmt::Debug for Interrupter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Interrupter")
    }
}

/// What every handle on a store offers.
pub trait StoreHandle {
    /// A reading handle on the same store, for another thread (rows a writer holds
    /// back for delivery stay with the writer).
    fn reader(&self) -> Result<ReaderBox, StoreError>;
    /// Which backend and where, for messages (`duckdb:///var/lib/tyto`).
    fn describe(&self) -> String;
}

/// What a store answers: searches, aggregations, the packets' places, totals.
pub trait SessionReader: StoreHandle {
    /// What stops this handle's running query from another thread.
    fn interrupter(&self) -> Interrupter;
    /// Lets the handle run queries again after an interrupt (a new request takes it).
    fn clear_interrupt(&self) {}
    /// The layout: version, tables and what they hold, for `tyto db info`.
    fn info(&self) -> Result<Vec<(String, String)>, StoreError>;
    /// A page of rows in the query's order (newest first by default), as JSON objects
    /// keyed by field name (catalogue order).
    fn list(&self, q: &ListQuery) -> Result<Vec<Map<String, Json>>, StoreError>;
    /// The node and stored packet positions (Arkime's encoding) of each id found.
    fn packet_positions(&self, ids: &[String]) -> Result<Vec<SessionPositions>, StoreError>;
    /// Rows stored.
    fn count(&self) -> Result<u64, StoreError>;
    /// Rows in the query's time range that match its filter (its limit is ignored).
    fn count_matching(&self, q: &ListQuery) -> Result<u64, StoreError>;
    /// The `n` most frequent values of a field among matching sessions (a session
    /// counts once per distinct value it holds), most frequent first.
    fn top_values(&self, q: &ListQuery, field: &FieldDef, n: usize) -> Result<Sampled<Vec<ValueCount>>, StoreError>;
    /// Sessions, packets and bytes of matching sessions per time bucket (by start time).
    fn histogram(&self, q: &ListQuery, bucket_ns: i64) -> Result<Vec<Bucket>, StoreError>;
    /// The `n` most frequent values of a field, each with its sessions per time bucket.
    fn value_histogram(
        &self,
        q: &ListQuery,
        field: &FieldDef,
        n: usize,
        bucket_ns: i64,
    ) -> Result<Sampled<Vec<ValueSeries>>, StoreError>;
    /// Pairs of values (source field, destination field) of matching sessions, the
    /// heaviest `n` by sessions.
    fn connections(
        &self,
        q: &ListQuery,
        src: &FieldDef,
        dst: &FieldDef,
        n: usize,
    ) -> Result<Sampled<Vec<Link>>, StoreError>;
    /// The `n` most frequent combinations of values of `fields` (one to
    /// [`MAX_COMBINED_FIELDS`]) among matching sessions, most frequent first: a
    /// session counts once per distinct combination its values make, and not at all
    /// when one of the fields has no value (Arkime's `multiunique`).
    fn top_combinations(&self, q: &ListQuery, fields: &[&FieldDef], n: usize) -> Result<Vec<Combination>, StoreError>;
    /// Matching sessions' packet positions in start-time order, a page at a time: pass
    /// the last row of a page as `after` for the next one; an empty page ends the walk.
    /// A page holds about `n` sessions (whole windows of start time, at most 4n;
    /// exactly the first `n` when `n` is small).
    fn positions_in_order(
        &self,
        q: &ListQuery,
        after: Option<&SessionPositions>,
        n: usize,
    ) -> Result<Vec<SessionPositions>, StoreError>;
    /// Totals of the store: sessions, their time span, pcap files and bytes per node.
    fn stats(&self) -> Result<StoreStats, StoreError>;
    /// Alerts that match `q`, oldest first (newest first with `q.newest_first`), one
    /// page of them, with how many match in all.
    fn alerts(&self, q: &AlertQuery) -> Result<(u64, Vec<Json>), StoreError>;
    /// Transactions (request/answer pairs), newest or slowest first, each as the API
    /// shows it.
    fn transactions(&self, q: &TransactionQuery) -> Result<Vec<Json>, StoreError>;
    /// The busiest services (server, port, protocol) of the transactions `q` wants,
    /// with response time percentiles, each over time.
    fn services(&self, q: &ServiceQuery) -> Result<Vec<Service>, StoreError>;
    /// Adds and takes off tags on the sessions `q` selects (its time range and
    /// filter; limit and order ignored); returns how many it selected. The one change
    /// an analyst makes to what capture stored (Arkime's addTags and removeTags).
    fn change_tags(&self, q: &ListQuery, change: &TagChange) -> Result<u64, StoreError>;
}

/// Tags to put on sessions and tags to take off them. A tag both added and removed
/// is added.
#[derive(Clone, Debug, Default)]
pub struct TagChange {
    pub add: Vec<String>,
    pub remove: Vec<String>,
}

impl TagChange {
    /// Tags a session keeps none of after the change (before the added go on): the
    /// removed and the added, so an added tag is never there twice.
    pub fn taken_off(&self) -> impl Iterator<Item = &String> {
        self.remove.iter().chain(&self.add)
    }
}

/// What a store takes: session rows, the pcap files they point into, alerts, and
/// what retention removes. One writing handle per store.
pub trait SessionWriter: StoreHandle {
    /// Appends rows (one batch, one transaction). Borrowed, so that batches that
    /// waited apart go in one append without a record being moved.
    fn append(&mut self, rows: &[&SessionRecord]) -> Result<(), StoreError>;
    /// Appends rows that may stay in one open transaction with what went before
    /// them until [`SessionWriter::settle`] (or a bound the store sets): cheaper per
    /// row, and readers see them only once settled. Pcap files, alerts and inputs
    /// join a transaction held open. A failure rolls back everything it held.
    fn append_held(&mut self, rows: &[&SessionRecord]) -> Result<(), StoreError> {
        self.append(rows)
    }
    /// Whether the store holds writes in an open transaction.
    fn holding(&self) -> bool {
        false
    }
    /// Stores what the store holds. When it fails, what it held is lost.
    fn settle(&mut self) -> Result<(), StoreError> {
        Ok(())
    }
    /// Tries to deliver rows written but held back (ClickHouse's spool while the
    /// server is away), for at most `wait`; returns the rows still held back.
    fn deliver_pending(&mut self, _wait: Duration) -> Result<u64, StoreError> {
        Ok(0)
    }
    /// The counters of rows held back, when this backend holds any back.
    fn spool(&self) -> Option<Arc<SpoolCounters>> {
        None
    }
    /// Records pcap files written.
    fn add_files(&mut self, files: &[FileRow]) -> Result<(), StoreError>;
    /// Forgets pcap files that retention deleted.
    fn remove_files(&mut self, node: &str, ids: &[u32]) -> Result<(), StoreError>;
    /// Deletes the rows of sessions that ended before `before_ns`; returns how many.
    fn expire_sessions(&mut self, before_ns: i64) -> Result<u64, StoreError>;
    /// Records a capture file read in full, so it is not ingested twice.
    fn add_input(&mut self, input: &InputFile, packets: u64) -> Result<(), StoreError>;
    /// Whether this capture file (same path, size and time) was ingested already (by
    /// this node).
    fn has_input(&self, input: &InputFile) -> Result<bool, StoreError>;
    /// Stores alerts.
    fn add_alerts(&mut self, alerts: &[AlertRecord]) -> Result<(), StoreError>;
}

/// Which alerts a listing wants. Text conditions are exact, except `detector`
/// (a trailing `*` matches any rest: `rule:*`) and `text` (a case-insensitive
/// substring of the message, source and targets).
#[derive(Clone, Debug, Default)]
pub struct AlertQuery {
    pub start_ns: Option<i64>,
    pub stop_ns: Option<i64>,
    pub detector: Option<String>,
    pub source: Option<String>,
    /// This severity or higher.
    pub min_severity: Option<Severity>,
    pub text: Option<String>,
    pub offset: usize,
    pub limit: usize,
    pub newest_first: bool,
}

/// Over a store of more than four times this many sessions (a smaller sample saves
/// little), an aggregate that may be estimated reads a sample of about this many first. When what matches in the sample stands for more sessions
/// than this, its counts, scaled by the share the sample held, are the answer: exact
/// top values of tens of millions of sessions cost seconds (grouping 40 M addresses:
/// 5–8 s on two cores), a 1 % sample of 100 M a few tenths, and the most frequent
/// values of a large set are what a sample estimates well (within 1 % at 100 M).
/// Otherwise few sessions match, and they are counted exactly.
pub const SAMPLE_ABOVE: u64 = 1_000_000;

/// An aggregate's answer, and whether its counts are estimates from a sample.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Sampled<T> {
    pub rows: T,
    /// The percent of the sessions that were read when the counts were estimated
    /// from a sample (each count scaled by 100 / this); `None` when they are exact.
    pub sample_percent: Option<f64>,
}

impl<T> Sampled<T> {
    pub fn exact(rows: T) -> Sampled<T> {
        Sampled { rows, sample_percent: None }
    }

    pub fn estimate(rows: T, percent: f64) -> Sampled<T> {
        Sampled { rows, sample_percent: Some(percent) }
    }
}

/// The most fields [`SessionReader::top_combinations`] combines: each is a join or
/// an unnesting more.
pub const MAX_COMBINED_FIELDS: usize = 8;

/// A value and the number of sessions that hold it.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ValueCount {
    pub value: Json,
    pub count: u64,
}

/// Values of several fields that sessions hold together, and how many do.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Combination {
    pub values: Vec<Json>,
    pub count: u64,
}

/// Totals of one time bucket.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Bucket {
    /// Start of the bucket, ns since the epoch.
    pub start_ns: i64,
    pub sessions: u64,
    pub packets: u64,
    pub bytes: u64,
    pub databytes: u64,
}

/// One value of a field and its sessions per time bucket.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ValueSeries {
    pub value: Json,
    pub count: u64,
    /// (bucket start in ns, sessions), buckets with no session left out.
    pub buckets: Vec<(i64, u64)>,
}

/// Traffic between two values (addresses, hosts…).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Link {
    pub src: Json,
    pub dst: Json,
    pub sessions: u64,
    pub packets: u64,
    pub bytes: u64,
}

/// A session row's id, node, start and stored packet positions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionPositions {
    pub id: String,
    /// The sensor that holds its packets.
    pub node: String,
    pub start_ns: i64,
    pub positions: Vec<i64>,
}

/// The pcap files one node wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct NodeFiles {
    pub node: String,
    pub files: u64,
    pub packets: u64,
    pub bytes: u64,
}

/// What the store holds.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct StoreStats {
    pub sessions: u64,
    /// First packet of the oldest session and last packet of the newest (ns).
    pub first_ns: Option<i64>,
    pub last_ns: Option<i64>,
    pub nodes: Vec<NodeFiles>,
    /// Link types of the stored pcap files.
    pub link_types: Vec<u32>,
    /// Bytes the store takes on disk (the DuckDB file; ClickHouse's parts).
    pub stored_bytes: u64,
}

/// The fields a row shows when none are chosen: every field `dump` prints.
fn dump_fields() -> Vec<&'static FieldDef> {
    FIELDS.iter().filter(|f| f.in_dump).collect()
}
