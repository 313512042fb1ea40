//! Rows on their way to a store, so that capture never waits on it.
//!
//! A [`RowQueue`] owns the store's writing handle on a thread of its own. Pushing
//! never blocks: rows wait in memory up to [`QueueConfig::memory_rows`]; past that
//! they are written to an on-disk spool (one file per batch, whole or not at all)
//! up to [`QueueConfig::spool_bytes`]; past that they are dropped and counted —
//! rows, never packets, which were written to pcap before their session closed.
//! The store thread takes rows in the order they were pushed: what waits in memory
//! first (once the spool is used, everything new goes there until it is empty),
//! then the spool's files oldest first, appending everything waiting at once, so a
//! slow store gets larger (cheaper) batches rather than a growing backlog.
//!
//! The other things a writer records (pcap files, inputs, alerts, retention) go the
//! same way, in order, but always in memory: they are few and small.

use std::collections::VecDeque;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use tyto_schema::{AlertRecord, SessionRecord};

use crate::{FileRow, InputFile, StoreError, WriterBox};

/// A spool file's first bytes: `TYTOROW` and the layout digit of the rows' codec
/// ([`tyto_schema::codec::LAYOUT`]); files of older layouts are still read.
const MAGIC: &[u8; 8] = b"TYTOROW5";
const _: () = assert!(MAGIC[7] - b'0' == tyto_schema::codec::LAYOUT as u8, "the magic names the codec's layout");
const MAGIC_STEM: &[u8; 7] = b"TYTOROW";

/// The codec layout a spool file's magic names, if it is one of ours.
fn spool_layout(head: &[u8]) -> Option<u32> {
    match head.get(..8)? {
        [stem @ .., digit] if stem == MAGIC_STEM && (b'1'..=MAGIC[7]).contains(digit) => Some(u32::from(digit - b'0')),
        _ => None,
    }
}
/// DuckDB's row group: the rows it compresses and writes to disk as one.
const ROW_GROUP: usize = 122_880;
/// Rows appended at once at most (larger backlogs go in several appends, cut to
/// this size). A store behind its rows gets appends this large, which cost it least
/// per row: two whole row groups, so that no part-filled group is left for the next
/// checkpoint to merge and write again (`tyto bench-store`, 2 M rows: 151K rows/s
/// and 144 MB against 137K and 157 MB in appends of 200,000, 122K in appends of
/// 300,000, 132K in appends of one group).
pub const MAX_APPEND_ROWS: usize = 2 * ROW_GROUP;
/// Rows the store thread gathers before an append (each append has a fixed cost: a
/// transaction, a commit, an appender per table), unless the oldest has waited
/// [`MAX_ROW_WAIT`] or the queue is being flushed.
const MIN_APPEND_ROWS: usize = ROW_GROUP;
/// How long rows wait for company at most (with [`MAX_HOLD`], how soon they are
/// searchable). Short enough that an ingest's appends run beside its reading rather
/// than after it (a capture of 59,565 sessions: 1.23 s against 1.36 s with 0.5 s,
/// for 9% more CPU in appends; the benchmark corpus of 60,306 sessions, against 0.2
/// s: 0.94 of the wall time for 1.02 of the CPU, and 0.93 for 1.03 at 50 ms); a busy
/// sensor fills its appends by count first.
const MAX_ROW_WAIT: Duration = Duration::from_millis(100);
/// How long what the store holds in an open transaction waits for its commit at
/// most ([`crate::SessionWriter::append_held`]); a busy store commits by count
/// first (DuckDB: a row group). Holding appends, with the alerts and files between
/// them, made `tyto ingest` of a 60,306-session capture 12% faster (its store had
/// committed 4 appends and 12 alert batches one by one), for a row searchable this
/// much later; the rows held stay in memory until then, to be written again if the
/// commit fails (+40 MB at most there).
const MAX_HOLD: Duration = Duration::from_millis(500);
/// How often the store thread tries rows its store holds back (ClickHouse away).
const DELIVER_EVERY: Duration = Duration::from_secs(1);

/// Bounds of a queue.
#[derive(Clone, Debug)]
pub struct QueueConfig {
    /// Rows held in memory while the store is busy.
    pub memory_rows: usize,
    /// Where rows go past that (made when needed).
    pub spool_dir: PathBuf,
    /// Bytes the spool holds at most; past that rows are dropped.
    pub spool_bytes: u64,
    /// A test-only pause before each append, to make a store slow on purpose.
    pub test_delay: Duration,
}

impl QueueConfig {
    pub fn new(spool_dir: PathBuf) -> QueueConfig {
        // Room for one whole append of a store behind its rows.
        QueueConfig { memory_rows: MAX_APPEND_ROWS, spool_dir, spool_bytes: 1 << 30, test_delay: Duration::ZERO }
    }
}

/// What a queue went through, for `/metrics`, `/api/stats` and the Stats page.
#[derive(Debug, Default)]
pub struct QueueCounters {
    /// Rows waiting now, in memory and on disk.
    pub waiting_rows: AtomicU64,
    /// Of those, the rows and bytes in the spool.
    pub spooled_rows: AtomicU64,
    pub spooled_bytes: AtomicU64,
    /// Rows that went through the spool to the store.
    pub replayed_rows: AtomicU64,
    /// Rows dropped because the spool was full.
    pub dropped_rows: AtomicU64,
    /// Rows the store took.
    pub stored_rows: AtomicU64,
    /// Rows pushed in all, and rows the queue is done with (stored, dropped, or lost
    /// with a failed append): a pusher waits for its rows by comparing the two.
    pub pushed_rows: AtomicU64,
    pub done_rows: AtomicU64,
    /// Appends the store refused (their rows are lost; the error is logged).
    pub failed_appends: AtomicU64,
}

impl QueueCounters {
    pub fn get(c: &AtomicU64) -> u64 {
        c.load(Ordering::Relaxed)
    }
}

/// Work for the store thread, in order.
enum Job {
    Rows(Vec<SessionRecord>),
    /// A batch of rows written to the spool: its file and row count.
    Spooled(PathBuf, u64, u64),
    Files(Vec<FileRow>),
    RemoveFiles(String, Vec<u32>),
    Alerts(Vec<AlertRecord>),
    Expire(i64),
    Input(InputFile, u64),
}

#[derive(Default)]
struct State {
    jobs: VecDeque<Job>,
    memory_rows: usize,
    /// When the oldest rows in memory came.
    oldest: Option<Instant>,
    /// A flush is waiting: append what there is now.
    flushing: bool,
    spool_bytes: u64,
    spool_files: usize,
    closed: bool,
    /// The store thread is appending (a flush waits for it).
    busy: bool,
    /// The store holds rows appended in a transaction not yet committed (a flush
    /// waits for the commit).
    holding: bool,
    /// The store thread ended (a panic in the store's code too): nothing waits for
    /// it any more; rows pushed stay in memory or the spool for the next run.
    stopped: bool,
}

struct Shared {
    state: Mutex<State>,
    wake: Condvar,
    counters: Arc<QueueCounters>,
    cfg: QueueConfig,
    /// The number of the next spool file.
    next_file: AtomicU64,
    /// Where the rows done with are freed ([`free_elsewhere`]).
    freer: Option<std::sync::mpsc::SyncSender<Vec<Job>>>,
}

/// Starts the thread that frees the rows the store is done with: the store thread
/// freeing them itself spent 3% of `tyto ingest`'s samples on it (~80 ms, most of it
/// on the last commit's 50,000 records, when nothing else runs).
fn start_freer() -> Option<std::sync::mpsc::SyncSender<Vec<Job>>> {
    let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<Job>>(4);
    std::thread::Builder::new().name("tyto-free".into()).spawn(move || rx.into_iter().for_each(drop)).ok()?;
    Some(tx)
}

/// Hands `jobs` to the freeing thread; frees them here when it is behind (or gone),
/// so that no more than a few commits' rows wait to be freed.
fn free_elsewhere(shared: &Shared, jobs: Vec<Job>) {
    if let (Some(tx), false) = (&shared.freer, jobs.is_empty()) {
        // A full or closed channel gives the jobs back in its error, dropped here.
        let _ = tx.try_send(jobs);
    }
}

fn lock(s: &Shared) -> std::sync::MutexGuard<'_, State> {
    s.state.lock().unwrap_or_else(|p| p.into_inner())
}

/// A queue: its store thread, and the pushing side ([`RowPusher`]'s methods, which
/// any number of threads may share through [`RowQueue::pusher`]).
pub struct RowQueue {
    pusher: RowPusher,
    thread: Option<std::thread::JoinHandle<WriterBox>>,
}

/// The pushing side of a queue: a capture's writer and an upload's ingest push
/// into the same queue, each never waiting for the store.
#[derive(Clone)]
pub struct RowPusher {
    shared: Arc<Shared>,
}

impl std::ops::Deref for RowQueue {
    type Target = RowPusher;
    fn deref(&self) -> &RowPusher {
        &self.pusher
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Spool { path: path.to_owned(), source }
}

impl RowQueue {
    /// Starts the store thread with `writer`. Batches left in the spool by an earlier
    /// run go to the store first.
    pub fn start(writer: WriterBox, cfg: QueueConfig) -> Result<RowQueue, StoreError> {
        let mut shared = Shared {
            state: Mutex::new(State::default()),
            wake: Condvar::new(),
            counters: Arc::default(),
            cfg: cfg.clone(),
            next_file: AtomicU64::new(0),
            freer: start_freer(),
        };
        let mut next_file = 0;
        if cfg.spool_dir.is_dir() {
            let mut old: Vec<(u64, PathBuf)> = std::fs::read_dir(&cfg.spool_dir)
                .map_err(io(&cfg.spool_dir))?
                .filter_map(|e| e.ok())
                .filter_map(|e| {
                    let name = e.file_name().to_string_lossy().to_string();
                    Some((name.strip_suffix(".rows")?.parse().ok()?, e.path()))
                })
                .collect();
            old.sort();
            let st = shared.state.get_mut().unwrap_or_else(|p| p.into_inner());
            for (n, path) in old {
                let bytes = std::fs::metadata(&path).map_or(0, |m| m.len());
                let rows = spool_rows(&path).unwrap_or(0);
                st.spool_bytes += bytes;
                st.spool_files += 1;
                shared.counters.spooled_rows.fetch_add(rows, Ordering::Relaxed);
                shared.counters.spooled_bytes.fetch_add(bytes, Ordering::Relaxed);
                shared.counters.waiting_rows.fetch_add(rows, Ordering::Relaxed);
                st.jobs.push_back(Job::Spooled(path, rows, bytes));
                next_file = next_file.max(n + 1);
            }
            if st.spool_files > 0 {
                tracing::warn!(
                    "{} batches of rows wait in {} from an earlier run; they go to the store first",
                    st.spool_files,
                    cfg.spool_dir.display()
                );
            }
        }
        shared.next_file = AtomicU64::new(next_file);
        let shared = Arc::new(shared);
        let s = shared.clone();
        let delay = cfg.test_delay;
        // Gathering must not push rows into the spool: at most half the memory bound.
        let gather_rows = MIN_APPEND_ROWS.min(cfg.memory_rows / 2);
        let thread = std::thread::Builder::new()
            .name("tyto-store".into())
            .spawn(move || store_thread(writer, &s, delay, gather_rows))
            .map_err(|e| StoreError::Spool { path: cfg.spool_dir.clone(), source: e })?;
        Ok(RowQueue { pusher: RowPusher { shared }, thread: Some(thread) })
    }

    /// Another pushing side, for another thread.
    pub fn pusher(&self) -> RowPusher {
        self.pusher.clone()
    }
}

impl RowPusher {
    pub fn counters(&self) -> Arc<QueueCounters> {
        self.shared.counters.clone()
    }

    fn push_job(&self, job: Job) {
        lock(&self.shared).jobs.push_back(job);
        self.shared.wake.notify_all();
    }

    /// Queues rows for the store; never waits for it. Returns the queue's mark after
    /// these rows, for [`RowPusher::wait_done`].
    pub fn push(&self, rows: Vec<SessionRecord>) -> u64 {
        let c = self.shared.counters.clone();
        let n = rows.len() as u64;
        let mark = c.pushed_rows.fetch_add(n, Ordering::Relaxed) + n;
        if rows.is_empty() {
            return mark;
        }
        let cfg = &self.shared.cfg;
        {
            let mut st = lock(&self.shared);
            if st.spool_files == 0 && st.memory_rows + rows.len() <= cfg.memory_rows {
                st.memory_rows += rows.len();
                st.oldest.get_or_insert_with(Instant::now);
                c.waiting_rows.fetch_add(n, Ordering::Relaxed);
                st.jobs.push_back(Job::Rows(rows));
                drop(st);
                self.shared.wake.notify_all();
                return mark;
            }
        }
        // The store is behind: to disk, in order behind what waits already.
        let body = spool_body(&rows);
        let bytes = body.len() as u64;
        let full = lock(&self.shared).spool_bytes + bytes > cfg.spool_bytes;
        if full {
            let dropped = c.dropped_rows.fetch_add(n, Ordering::Relaxed) + n;
            c.done_rows.fetch_add(n, Ordering::Relaxed);
            tracing::error!(
                "the row spool {} is full ({} MiB): {n} session rows dropped ({dropped} in all); their packets are kept",
                cfg.spool_dir.display(),
                cfg.spool_bytes >> 20
            );
            return mark;
        }
        match self.write_spool(&body) {
            Ok(path) => {
                let mut st = lock(&self.shared);
                st.spool_bytes += bytes;
                st.spool_files += 1;
                c.spooled_rows.fetch_add(n, Ordering::Relaxed);
                c.spooled_bytes.fetch_add(bytes, Ordering::Relaxed);
                c.waiting_rows.fetch_add(n, Ordering::Relaxed);
                st.jobs.push_back(Job::Spooled(path, n, bytes));
                drop(st);
                self.shared.wake.notify_all();
            }
            Err(e) => {
                c.dropped_rows.fetch_add(n, Ordering::Relaxed);
                c.done_rows.fetch_add(n, Ordering::Relaxed);
                tracing::error!("{e}: {n} session rows dropped; their packets are kept");
            }
        }
        mark
    }

    /// Waits until the queue is done with every row pushed up to `mark` (stored, or
    /// counted as lost), or `timeout` passed; true when it is.
    pub fn wait_done(&self, mark: u64, timeout: Duration) -> bool {
        let until = Instant::now() + timeout;
        let c = &self.shared.counters;
        loop {
            if QueueCounters::get(&c.done_rows) >= mark {
                return true;
            }
            let left = until.saturating_duration_since(Instant::now());
            let st = lock(&self.shared);
            if left.is_zero() || st.stopped {
                return false;
            }
            drop(self.shared.wake.wait_timeout(st, left.min(Duration::from_millis(50))));
        }
    }

    /// Writes a batch whole (a temporary file renamed into place).
    fn write_spool(&self, body: &[u8]) -> Result<PathBuf, StoreError> {
        let dir = &self.shared.cfg.spool_dir;
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let path = dir.join(format!("{:012}.rows", self.shared.next_file.fetch_add(1, Ordering::Relaxed)));
        let tmp = path.with_extension("partial");
        let mut f = std::fs::File::create(&tmp).map_err(io(&tmp))?;
        f.write_all(body).map_err(io(&tmp))?;
        std::fs::rename(&tmp, &path).map_err(io(&path))?;
        Ok(path)
    }

    pub fn add_files(&self, files: Vec<FileRow>) {
        if !files.is_empty() {
            self.push_job(Job::Files(files));
        }
    }

    pub fn remove_files(&self, node: &str, ids: Vec<u32>) {
        if !ids.is_empty() {
            self.push_job(Job::RemoveFiles(node.to_string(), ids));
        }
    }

    pub fn add_alerts(&self, alerts: Vec<AlertRecord>) {
        if !alerts.is_empty() {
            self.push_job(Job::Alerts(alerts));
        }
    }

    pub fn expire_sessions(&self, before_ns: i64) {
        self.push_job(Job::Expire(before_ns));
    }

    pub fn add_input(&self, input: InputFile, packets: u64) {
        self.push_job(Job::Input(input, packets));
    }

    /// Rows waiting (in memory and on disk).
    pub fn waiting(&self) -> u64 {
        QueueCounters::get(&self.shared.counters.waiting_rows)
    }

    /// Waits until everything pushed so far went to the store, `timeout` passed, or
    /// the store thread ended; returns the rows still waiting.
    pub fn flush(&self, timeout: Duration) -> u64 {
        let until = Instant::now() + timeout;
        let mut st = lock(&self.shared);
        st.flushing = true;
        self.shared.wake.notify_all();
        while (!st.jobs.is_empty() || st.busy || st.holding) && !st.stopped {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            st = self
                .shared
                .wake
                .wait_timeout(st, left.min(Duration::from_millis(100)))
                .map(|(g, _)| g)
                .unwrap_or_else(|p| p.into_inner().0);
        }
        st.flushing = false;
        drop(st);
        self.waiting()
    }
}

impl RowQueue {
    /// Sends everything waiting to the store, then stops its thread and gives the
    /// writing handle back (rows still held by the handle itself, such as
    /// ClickHouse's spool, stay with it).
    pub fn finish(mut self) -> Result<WriterBox, StoreError> {
        lock(&self.pusher.shared).closed = true;
        self.pusher.shared.wake.notify_all();
        let thread = self.thread.take().expect("the store thread runs until finish");
        thread.join().map_err(|_| {
            let kept = self.keep_rows_of_a_dead_thread();
            StoreError::Encode(format!(
                "the store thread failed; {kept} session rows waiting in memory were written to the spool {} \
                 for the next run",
                self.pusher.shared.cfg.spool_dir.display()
            ))
        })
    }

    /// Rows waiting in memory for a store thread that died go to the spool, which
    /// the next run gives the store first; returns how many. (The batch the thread
    /// held when it failed is lost with it; the packets of every row are kept.)
    fn keep_rows_of_a_dead_thread(&self) -> u64 {
        let waiting: Vec<Vec<SessionRecord>> = {
            let mut st = lock(&self.pusher.shared);
            let jobs = std::mem::take(&mut st.jobs);
            jobs.into_iter().filter_map(|j| if let Job::Rows(r) = j { Some(r) } else { None }).collect()
        };
        let mut kept = 0;
        for rows in waiting.iter().filter(|r| !r.is_empty()) {
            match self.pusher.write_spool(&spool_body(rows)) {
                Ok(_) => kept += rows.len() as u64,
                Err(e) => tracing::error!("{e}: {} session rows lost; their packets are kept", rows.len()),
            }
        }
        kept
    }
}

impl Drop for RowQueue {
    fn drop(&mut self) {
        if let Some(t) = self.thread.take() {
            lock(&self.pusher.shared).closed = true;
            self.pusher.shared.wake.notify_all();
            if t.join().is_err() {
                self.keep_rows_of_a_dead_thread();
            }
        }
    }
}

/// A spool file's bytes: the magic, the row count, the rows.
fn spool_body(rows: &[SessionRecord]) -> Vec<u8> {
    let mut body = MAGIC.to_vec();
    body.extend_from_slice(&(rows.len() as u64).to_le_bytes());
    for r in rows {
        tyto_schema::codec::encode(r, &mut body);
    }
    body
}

/// The row count a spool file says it holds.
fn spool_rows(path: &Path) -> Option<u64> {
    let mut head = [0u8; 16];
    let mut f = std::fs::File::open(path).ok()?;
    std::io::Read::read_exact(&mut f, &mut head).ok()?;
    spool_layout(&head).map(|_| u64::from_le_bytes(head[8..16].try_into().unwrap_or_default()))
}

/// A spool file's rows.
fn read_spool(path: &Path) -> Result<Vec<SessionRecord>, StoreError> {
    let bad = |why: String| StoreError::Spool { path: path.to_owned(), source: std::io::Error::other(why) };
    let b = std::fs::read(path).map_err(io(path))?;
    let Some(layout) = spool_layout(&b).filter(|_| b.len() >= 16) else {
        return Err(bad("not a spool file of rows".into()));
    };
    let n = u64::from_le_bytes(b[8..16].try_into().unwrap_or_default());
    let mut rows = Vec::new();
    let mut at = 16;
    while at < b.len() && (rows.len() as u64) < n {
        let (r, used) = tyto_schema::codec::decode_layout(&b[at..], layout)
            .map_err(|e| bad(format!("{e} (after {} rows)", rows.len())))?;
        rows.push(r);
        at += used;
    }
    if rows.len() as u64 != n || at != b.len() {
        return Err(bad(format!("holds {} of the {n} rows it announces", rows.len())));
    }
    Ok(rows)
}

/// Every other batch waiting in memory joins `first` in one append of at most
/// [`MAX_APPEND_ROWS`] (alerts and files between them keep their places; their order
/// with rows does not matter; what does not fit waits first in line for the next).
/// Spooled batches stay where they are: behind. The batches stay apart: a record is
/// large, and gathering them into one vector moved every one into fresh memory
/// under the lock the capture's threads push through.
fn take_waiting_rows(shared: &Shared, mut first: Vec<SessionRecord>) -> Vec<Vec<SessionRecord>> {
    let mut st = lock(shared);
    if first.len() > MAX_APPEND_ROWS {
        let rest = first.split_off(MAX_APPEND_ROWS);
        st.jobs.push_front(Job::Rows(rest));
        return vec![first];
    }
    let mut taken = first.len();
    let mut batches = vec![first];
    let mut i = 0;
    while taken < MAX_APPEND_ROWS && i < st.jobs.len() {
        match &st.jobs[i] {
            Job::Rows(_) => {
                if let Some(Job::Rows(mut more)) = st.jobs.remove(i) {
                    let room = MAX_APPEND_ROWS - taken;
                    if more.len() > room {
                        st.jobs.insert(i, Job::Rows(more.split_off(room)));
                    }
                    taken += more.len();
                    batches.push(more);
                }
            }
            Job::Spooled(..) => break,
            _ => i += 1,
        }
    }
    batches
}

/// A spooled batch read back and appended; its file removed once the store has it
/// (or it cannot be read: kept when the store failed on it, for the next run).
fn replay_spooled(
    writer: &mut WriterBox,
    shared: &Shared,
    path: &Path,
    n: u64,
    bytes: u64,
    delay: Duration,
) -> Result<(), StoreError> {
    let c = &shared.counters;
    let r = read_spool(path).and_then(|rows| {
        if !delay.is_zero() {
            std::thread::sleep(delay);
        }
        writer.append(&rows.iter().collect::<Vec<_>>())
    });
    match &r {
        // Kept when the store failed on it: the next run tries it again.
        Err(StoreError::Spool { .. }) | Ok(()) => {
            let _ = std::fs::remove_file(path);
        }
        Err(_) => {}
    }
    let mut st = lock(shared);
    st.spool_bytes = st.spool_bytes.saturating_sub(bytes);
    st.spool_files = st.spool_files.saturating_sub(1);
    c.spooled_rows.fetch_sub(n.min(QueueCounters::get(&c.spooled_rows)), Ordering::Relaxed);
    c.spooled_bytes.fetch_sub(bytes.min(QueueCounters::get(&c.spooled_bytes)), Ordering::Relaxed);
    c.waiting_rows.fetch_sub(n.min(QueueCounters::get(&c.waiting_rows)), Ordering::Relaxed);
    if r.is_ok() {
        c.stored_rows.fetch_add(n, Ordering::Relaxed);
        c.replayed_rows.fetch_add(n, Ordering::Relaxed);
    }
    c.done_rows.fetch_add(n, Ordering::Relaxed);
    r
}

/// Marks the store thread's end however it ends, unwinding from a panic too, so
/// that a flush or an ingest waiting for its rows is not left waiting for ever.
struct StoppedOnDrop<'a>(&'a Shared);

impl Drop for StoppedOnDrop<'_> {
    fn drop(&mut self) {
        let mut st = lock(self.0);
        st.stopped = true;
        st.busy = false;
        drop(st);
        self.0.wake.notify_all();
    }
}

/// What the store thread does next.
enum Next {
    Job(Job),
    /// Commit the rows the store holds.
    Settle,
    Stop,
}

/// What the store holds in its open transaction: kept until it commits, to write
/// again one by one if it fails first ([`write_again_alone`]).
#[derive(Default)]
struct Held {
    jobs: Vec<Job>,
    since: Option<Instant>,
}

impl Held {
    fn rows(&self) -> u64 {
        rows_in(&self.jobs)
    }

    fn due(&self) -> Option<Instant> {
        self.since.map(|t| t + MAX_HOLD)
    }
}

/// `n` rows are done with: stored, or lost with a failed write.
fn count_done(shared: &Shared, n: u64, stored: bool) {
    let c = &shared.counters;
    c.waiting_rows.fetch_sub(n.min(QueueCounters::get(&c.waiting_rows)), Ordering::Relaxed);
    if stored {
        c.stored_rows.fetch_add(n, Ordering::Relaxed);
    }
    c.done_rows.fetch_add(n, Ordering::Relaxed);
}

/// Writes one job (rows, files, alerts, an input) that the store may hold with
/// those before it; when the store commits, what it held is stored, and when it
/// fails, what it held is written again one by one.
fn write_held(writer: &mut WriterBox, shared: &Shared, held: &mut Held, job: Job) -> Result<(), StoreError> {
    let r = match &job {
        Job::Files(files) => writer.add_files(files),
        Job::Alerts(alerts) => writer.add_alerts(alerts),
        Job::Input(input, packets) => writer.add_input(input, *packets),
        _ => unreachable!("only files, alerts and inputs are held one by one"),
    };
    written(writer, shared, held, vec![job], &r);
    r
}

/// Batches of rows in one append that the store may hold with what went before.
/// When it refuses them, each batch goes again alone, so that one batch it refuses
/// loses only itself.
fn write_rows_held(
    writer: &mut WriterBox,
    shared: &Shared,
    held: &mut Held,
    batches: Vec<Vec<SessionRecord>>,
) -> Result<(), StoreError> {
    let rows: Vec<&SessionRecord> = batches.iter().flatten().collect();
    let r = writer.append_held(&rows);
    drop(rows);
    written(writer, shared, held, batches.into_iter().map(Job::Rows).collect(), &r);
    r
}

/// After `jobs` were written with result `r`: held with what the store holds, or
/// counted done (stored or, refused alone, lost).
fn written(writer: &mut WriterBox, shared: &Shared, held: &mut Held, mut jobs: Vec<Job>, r: &Result<(), StoreError>) {
    if writer.holding() {
        held.jobs.append(&mut jobs);
        held.since.get_or_insert_with(Instant::now);
    } else if r.is_ok() {
        count_done(shared, held.rows() + rows_in(&jobs), true);
        jobs.append(&mut std::mem::take(held).jobs);
        free_elsewhere(shared, jobs);
    } else {
        write_again_alone(writer, shared, std::mem::take(held));
        if jobs.len() > 1 {
            write_again_alone(writer, shared, Held { jobs, since: None });
        } else {
            count_done(shared, rows_in(&jobs), false);
        }
    }
}

fn rows_in(jobs: &[Job]) -> u64 {
    jobs.iter().map(|j| if let Job::Rows(r) = j { r.len() as u64 } else { 0 }).sum()
}

/// Commits what the store holds.
fn settle(writer: &mut WriterBox, shared: &Shared, held: &mut Held) -> Result<(), StoreError> {
    if held.jobs.is_empty() {
        return Ok(());
    }
    let r = writer.settle();
    match &r {
        Ok(()) => {
            count_done(shared, held.rows(), true);
            free_elsewhere(shared, std::mem::take(held).jobs);
        }
        Err(_) => write_again_alone(writer, shared, std::mem::take(held)),
    }
    r
}

/// A failed write or commit rolls back everything the store held with it: each
/// job it held goes again in its own transaction, so that a batch the store
/// refuses loses only itself.
fn write_again_alone(writer: &mut WriterBox, shared: &Shared, held: Held) {
    for job in held.jobs {
        let (r, rows) = match &job {
            Job::Rows(rows) => (writer.append(&rows.iter().collect::<Vec<_>>()), rows.len() as u64),
            Job::Files(files) => (writer.add_files(files), 0),
            Job::Alerts(alerts) => (writer.add_alerts(alerts), 0),
            Job::Input(input, packets) => (writer.add_input(input, *packets), 0),
            _ => (Ok(()), 0),
        };
        if let Err(e) = &r {
            shared.counters.failed_appends.fetch_add(1, Ordering::Relaxed);
            tracing::error!("the store {}: {e}: {rows} session rows lost; their packets are kept", writer.describe());
        }
        count_done(shared, rows, r.is_ok());
    }
}

fn store_thread(mut writer: WriterBox, shared: &Shared, delay: Duration, gather_rows: usize) -> WriterBox {
    let _stopped = StoppedOnDrop(shared);
    let c = &shared.counters;
    let mut next_deliver = Instant::now() + DELIVER_EVERY;
    let mut held = Held::default();
    loop {
        let next = {
            let mut st = lock(shared);
            loop {
                // Held rows are committed when they waited long enough, and before
                // the thread rests (a flush or the end waits for them).
                if held.due().is_some_and(|t| Instant::now() >= t) {
                    st.busy = true;
                    break Next::Settle;
                }
                // Rows wait for company (a cheaper append) unless they waited long
                // enough, the queue is closing or flushed, or something else is due.
                let gather = matches!(st.jobs.front(), Some(Job::Rows(_)))
                    && st.memory_rows < gather_rows
                    && !st.closed
                    && !st.flushing
                    && st.oldest.is_some_and(|t| t.elapsed() < MAX_ROW_WAIT);
                if !gather {
                    if let Some(job) = st.jobs.pop_front() {
                        st.busy = true;
                        break Next::Job(job);
                    }
                }
                if st.jobs.is_empty() && (st.closed || st.flushing) && !held.jobs.is_empty() {
                    st.busy = true;
                    break Next::Settle;
                }
                if st.closed {
                    break Next::Stop;
                }
                let mut wait = next_deliver.saturating_duration_since(Instant::now()).max(Duration::from_millis(10));
                if let (true, Some(t)) = (gather, st.oldest) {
                    wait = wait.min(MAX_ROW_WAIT.saturating_sub(t.elapsed()).max(Duration::from_millis(1)));
                }
                if let Some(t) = held.due() {
                    wait = wait.min(t.saturating_duration_since(Instant::now()).max(Duration::from_millis(1)));
                }
                st = shared.wake.wait_timeout(st, wait).map(|(g, _)| g).unwrap_or_else(|p| p.into_inner().0);
                if Instant::now() >= next_deliver {
                    break Next::Job(Job::Rows(Vec::new()));
                }
            }
        };
        let job = match next {
            Next::Stop => break,
            Next::Settle => None,
            Next::Job(job) => Some(job),
        };
        // Spooled rows, deletions and expiry go in after what the store holds.
        if matches!(job, None | Some(Job::Spooled(..) | Job::RemoveFiles(..) | Job::Expire(_))) {
            if let Err(e) = settle(&mut writer, shared, &mut held) {
                c.failed_appends.fetch_add(1, Ordering::Relaxed);
                tracing::error!("the store {}: {e}", writer.describe());
            }
        }
        let result = match job {
            None => Ok(()),
            Some(Job::Rows(rows)) => {
                let batches = take_waiting_rows(shared, rows);
                let n = batches.iter().map(Vec::len).sum();
                let r = if n == 0 {
                    Ok(())
                } else {
                    if !delay.is_zero() {
                        std::thread::sleep(delay);
                    }
                    write_rows_held(&mut writer, shared, &mut held, batches)
                };
                let mut st = lock(shared);
                st.memory_rows = st.memory_rows.saturating_sub(n);
                if st.memory_rows == 0 {
                    st.oldest = None;
                }
                r
            }
            Some(Job::Spooled(path, n, bytes)) => replay_spooled(&mut writer, shared, &path, n, bytes, delay),
            Some(Job::RemoveFiles(node, ids)) => writer.remove_files(&node, &ids),
            Some(Job::Expire(before)) => writer.expire_sessions(before).map(|n| {
                if n > 0 {
                    tracing::info!("retention: {n} session rows deleted");
                }
            }),
            Some(job) => write_held(&mut writer, shared, &mut held, job),
        };
        if let Err(e) = result {
            c.failed_appends.fetch_add(1, Ordering::Relaxed);
            tracing::error!("the store {}: {e}", writer.describe());
        }
        if Instant::now() >= next_deliver {
            next_deliver = Instant::now() + DELIVER_EVERY;
            // Rows ClickHouse held back while it was away, traffic or not.
            if let Err(e) = writer.deliver_pending(Duration::ZERO) {
                tracing::error!("sending the spool of {}: {e}", writer.describe());
            }
        }
        let mut st = lock(shared);
        st.busy = false;
        st.holding = !held.jobs.is_empty();
        drop(st);
        shared.wake.notify_all();
    }
    writer
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DuckStore, StoreHandle};

    /// The writes other than rows that the queue's test stores take and forget.
    macro_rules! forgetting_writes {
        () => {
            fn add_files(&mut self, _files: &[FileRow]) -> Result<(), StoreError> {
                Ok(())
            }
            fn remove_files(&mut self, _node: &str, _ids: &[u32]) -> Result<(), StoreError> {
                Ok(())
            }
            fn expire_sessions(&mut self, _before_ns: i64) -> Result<u64, StoreError> {
                Ok(0)
            }
            fn add_input(&mut self, _input: &InputFile, _packets: u64) -> Result<(), StoreError> {
                Ok(())
            }
            fn has_input(&self, _input: &InputFile) -> Result<bool, StoreError> {
                Ok(false)
            }
            fn add_alerts(&mut self, _alerts: &[AlertRecord]) -> Result<(), StoreError> {
                Ok(())
            }
        };
    }

    /// A test store that nothing reads.
    macro_rules! readerless {
        ($store:ty) => {
            impl crate::StoreHandle for $store {
                fn reader(&self) -> Result<crate::ReaderBox, StoreError> {
                    Err(StoreError::Encode("no reader".into()))
                }
                fn describe(&self) -> String {
                    stringify!($store).into()
                }
            }
        };
    }

    fn rows(from: u64, n: u64) -> Vec<SessionRecord> {
        (from..from + n)
            .map(|i| SessionRecord {
                id: format!("r{i}"),
                root_id: format!("r{i}"),
                start_ns: i as i64 * 1000,
                stop_ns: i as i64 * 1000 + 1,
                ..SessionRecord::default()
            })
            .collect()
    }

    #[test]
    fn a_backlog_is_appended_in_whole_row_groups() {
        let shared = Shared {
            state: Mutex::new(State::default()),
            wake: Condvar::new(),
            counters: Arc::default(),
            cfg: QueueConfig::new(std::env::temp_dir()),
            next_file: AtomicU64::new(0),
            freer: None,
        };
        let batch = |n: usize| (0..n).map(|_| SessionRecord::default()).collect::<Vec<_>>();
        {
            let mut st = lock(&shared);
            st.jobs.push_back(Job::Rows(batch(100_000)));
            st.jobs.push_back(Job::Alerts(Vec::new()));
            st.jobs.push_back(Job::Rows(batch(200_000)));
        }
        let taken = take_waiting_rows(&shared, batch(50_000));
        // Taken as they waited, in order, the last cut to fit.
        let sizes: Vec<usize> = taken.iter().map(Vec::len).collect();
        assert_eq!(sizes, [50_000, 100_000, MAX_APPEND_ROWS - 150_000]);
        let st = lock(&shared);
        let left: Vec<usize> = st.jobs.iter().map(|j| if let Job::Rows(r) = j { r.len() } else { 0 }).collect();
        // The alert keeps its place; what did not fit waits for the next append.
        assert_eq!(left, [0, 50_000 + 100_000 + 200_000 - MAX_APPEND_ROWS]);
        drop(st);
        // One batch larger than an append is cut too.
        let big = take_waiting_rows(&shared, batch(MAX_APPEND_ROWS + 7));
        assert_eq!(big.iter().map(Vec::len).collect::<Vec<_>>(), [MAX_APPEND_ROWS]);
        assert!(matches!(lock(&shared).jobs.front(), Some(Job::Rows(r)) if r.len() == 7));
    }

    /// A store whose code panics on rows: its thread ends, and nothing waits for it
    /// (`tyto ingest` flushed with no time limit, and waited for ever).
    #[test]
    fn a_store_thread_that_dies_is_not_waited_for() {
        struct Failing;
        readerless!(Failing);
        impl crate::SessionWriter for Failing {
            fn append(&mut self, _rows: &[&SessionRecord]) -> Result<(), StoreError> {
                panic!("a store that fails hard");
            }
            forgetting_writes!();
        }
        let dir = tempfile::tempdir().unwrap();
        let queue = RowQueue::start(Box::new(Failing), QueueConfig::new(dir.path().join("spool"))).unwrap();
        let mark = queue.push(rows(0, 10));
        let started = Instant::now();
        assert_eq!(queue.flush(Duration::from_secs(3600)), 10, "the rows were never stored");
        assert!(!queue.wait_done(mark, Duration::from_secs(3600)));
        assert!(started.elapsed() < Duration::from_secs(60), "waited {:?}", started.elapsed());
        // Rows pushed now wait in memory, and go to the spool for the next run (the
        // batch the thread held is lost with it).
        queue.push(rows(10, 5));
        assert_eq!(queue.waiting(), 15);
        let err = queue.finish().err().expect("the thread's failure is told");
        assert!(err.to_string().contains("5 session rows"), "{err}");
        let spooled: u64 =
            std::fs::read_dir(dir.path().join("spool")).unwrap().map(|e| spool_rows(&e.unwrap().path()).unwrap()).sum();
        assert_eq!(spooled, 5);
    }

    /// A store that holds appends until it settles, and refuses any batch with a
    /// row named `poison` (rolling back what it held, as DuckDB does).
    #[derive(Default)]
    struct Holding {
        staged: Arc<Mutex<Vec<String>>>,
        stored: Arc<Mutex<Vec<String>>>,
    }

    readerless!(Holding);

    impl crate::SessionWriter for Holding {
        fn append(&mut self, rows: &[&SessionRecord]) -> Result<(), StoreError> {
            self.append_held(rows)?;
            self.settle()
        }
        fn append_held(&mut self, rows: &[&SessionRecord]) -> Result<(), StoreError> {
            let mut staged = self.staged.lock().unwrap();
            if rows.iter().any(|r| r.id == "poison") {
                staged.clear();
                return Err(StoreError::Encode("a value the store refuses".into()));
            }
            staged.extend(rows.iter().map(|r| r.id.clone()));
            Ok(())
        }
        fn holding(&self) -> bool {
            !self.staged.lock().unwrap().is_empty()
        }
        fn settle(&mut self) -> Result<(), StoreError> {
            self.stored.lock().unwrap().append(&mut self.staged.lock().unwrap());
            Ok(())
        }
        forgetting_writes!();
    }

    /// Rows the store holds count as done once it commits them (by time, or when a
    /// flush asks); a batch it refuses loses only itself: what it held with it is
    /// written again alone.
    #[test]
    fn held_rows_are_done_when_committed_and_a_refused_batch_loses_only_itself() {
        let dir = tempfile::tempdir().unwrap();
        let store = Holding::default();
        let (staged, stored) = (store.staged.clone(), store.stored.clone());
        let q = RowQueue::start(Box::new(store), QueueConfig::new(dir.path().join("spool"))).unwrap();
        let c = q.counters();
        let mark = q.push(rows(0, 10));
        assert!(q.wait_done(mark, Duration::from_secs(60)), "committed within MAX_HOLD");
        assert_eq!(stored.lock().unwrap().len(), 10);

        q.push(rows(10, 10));
        let t = Instant::now();
        while staged.lock().unwrap().len() < 10 {
            assert!(t.elapsed() < Duration::from_secs(60), "the store never took the rows");
            std::thread::sleep(Duration::from_millis(1));
        }
        let mut poison = rows(20, 3);
        poison[1].id = "poison".into();
        q.push(poison);
        assert_eq!(q.flush(Duration::from_secs(60)), 0);
        assert!(!q.pusher.shared.state.lock().unwrap().holding, "a flush waits for the commit");
        let mut ids = stored.lock().unwrap().clone();
        ids.sort_by_key(|id| id[1..].parse::<u64>().unwrap());
        let want: Vec<String> = (0..20).map(|i| format!("r{i}")).collect();
        assert_eq!(ids, want, "the held batch written again; only the refused one lost");
        assert_eq!(QueueCounters::get(&c.failed_appends), 1);
        assert_eq!(QueueCounters::get(&c.stored_rows), 20);
        assert_eq!(QueueCounters::get(&c.done_rows), 23);
        assert_eq!(q.waiting(), 0);
    }

    /// Batches pushed together go in one append; when the store refuses it, each
    /// goes again alone, and only the refused one is lost.
    #[test]
    fn batches_appended_together_are_refused_apart() {
        let dir = tempfile::tempdir().unwrap();
        let store = Holding::default();
        let stored = store.stored.clone();
        let q = RowQueue::start(Box::new(store), QueueConfig::new(dir.path().join("spool"))).unwrap();
        let mut poison = rows(5, 3);
        poison[0].id = "poison".into();
        // Within the time rows wait for company: one append of the three.
        q.push(rows(0, 5));
        q.push(poison);
        q.push(rows(8, 4));
        assert_eq!(q.flush(Duration::from_secs(60)), 0);
        let mut ids = stored.lock().unwrap().clone();
        ids.sort_by_key(|id| id[1..].parse::<u64>().unwrap());
        let want: Vec<String> = (0..5).chain(8..12).map(|i| format!("r{i}")).collect();
        assert_eq!(ids, want);
        assert_eq!(QueueCounters::get(&q.counters().stored_rows), 9);
        assert_eq!(QueueCounters::get(&q.counters().done_rows), 12);
    }

    #[test]
    fn a_slow_store_spills_to_disk_drops_past_the_bound_and_loses_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let store = DuckStore::open(dir.path()).unwrap();
        let reader = store.reader().unwrap();
        let mut cfg = QueueConfig::new(dir.path().join("spool"));
        cfg.memory_rows = 100;
        cfg.spool_bytes = 40_000;
        cfg.test_delay = Duration::from_millis(50);
        let q = RowQueue::start(Box::new(store), cfg).unwrap();
        let t = Instant::now();
        for b in 0..60 {
            q.push(rows(b * 50, 50));
        }
        assert!(t.elapsed() < Duration::from_millis(500), "pushing never waits: {:?}", t.elapsed());
        let c = q.counters();
        assert!(QueueCounters::get(&c.spooled_rows) > 0, "the backlog went to disk");
        let dropped = QueueCounters::get(&c.dropped_rows);
        assert!(dropped > 0, "the spool's bound held");
        assert_eq!(q.flush(Duration::from_secs(30)), 0);
        let _writer = q.finish().unwrap();
        let stored = reader.count().unwrap();
        assert_eq!(stored + dropped, 3000, "every row stored or counted dropped");
        assert_eq!(QueueCounters::get(&c.stored_rows), stored);
        assert!(QueueCounters::get(&c.replayed_rows) > 0);
        // In order: the ids stored are those pushed, minus whole dropped batches, once each.
        let page =
            reader.list(&crate::ListQuery { limit: 5000, order: Vec::new(), ..crate::ListQuery::default() }).unwrap();
        let ids: std::collections::BTreeSet<String> =
            page.iter().map(|r| r["id"].as_str().unwrap().to_string()).collect();
        assert_eq!(ids.len() as u64, stored);
        assert_eq!(std::fs::read_dir(dir.path().join("spool")).unwrap().count(), 0, "the spool is empty again");
    }

    #[test]
    fn rows_left_in_the_spool_go_first_at_the_next_start() {
        let dir = tempfile::tempdir().unwrap();
        let spool = dir.path().join("spool");
        std::fs::create_dir_all(&spool).unwrap();
        let mut body = MAGIC.to_vec();
        body.extend_from_slice(&3u64.to_le_bytes());
        for r in rows(0, 3) {
            tyto_schema::codec::encode(&r, &mut body);
        }
        std::fs::write(spool.join("000000000007.rows"), &body).unwrap();
        std::fs::write(spool.join("000000000008.rows"), b"TYTOROW1 damaged").unwrap();
        let store = DuckStore::open(dir.path()).unwrap();
        let reader = store.reader().unwrap();
        let q = RowQueue::start(Box::new(store), QueueConfig::new(spool.clone())).unwrap();
        q.flush(Duration::from_secs(10));
        let c = q.counters();
        drop(q);
        assert_eq!(reader.count().unwrap(), 3);
        assert_eq!(QueueCounters::get(&c.failed_appends), 1, "the damaged file is an error, not a panic");
        assert_eq!(std::fs::read_dir(&spool).unwrap().count(), 0);
    }
}
