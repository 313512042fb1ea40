//! Batches ClickHouse could not take, kept on disk in arrival order until it can.
//! Each batch is one file written whole and then renamed into place, so a crash
//! leaves either the whole batch or none of it; the folder's total size is bounded
//! and a full spool drops new batches, counted and logged, rather than filling the
//! disk the pcap files need.

use std::collections::VecDeque;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::StoreError;

const MAGIC: &[u8; 8] = b"TYTOSPL1";
/// Header bytes read at most (ids and row ends of one batch).
const MAX_HEADER: usize = 64 << 20;

/// Rows bound for one table, in RowBinary.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Batch {
    /// The table inserted into (`sessions`, `files`, `alerts`).
    pub table: String,
    pub columns: String,
    /// Session ids, in row order (a transaction's session's; empty for other tables): what is checked before a
    /// batch that may have landed is sent again.
    pub ids: Vec<String>,
    /// Start times (µs) of the first and last rows, to look the ids up in few parts.
    pub min_us: i64,
    pub max_us: i64,
    /// The insert's query id, the same on every try: a try whose answer was lost is
    /// found still running by it (and a second one with it is refused meanwhile).
    pub query_id: String,
    pub row_ends: Vec<usize>,
    #[serde(skip)]
    pub body: Vec<u8>,
}

impl Batch {
    pub fn rows(&self) -> usize {
        self.row_ends.len()
    }

    /// The same batch with only the rows `keep` says.
    pub fn only(&self, keep: impl Fn(usize) -> bool) -> Batch {
        let mut out = Batch {
            table: self.table.clone(),
            columns: self.columns.clone(),
            ids: Vec::new(),
            min_us: self.min_us,
            max_us: self.max_us,
            query_id: self.query_id.clone(),
            row_ends: Vec::new(),
            body: Vec::new(),
        };
        let mut start = 0;
        for (i, &end) in self.row_ends.iter().enumerate() {
            if keep(i) {
                out.body.extend_from_slice(&self.body[start..end]);
                out.row_ends.push(out.body.len());
                if let Some(id) = self.ids.get(i) {
                    out.ids.push(id.clone());
                }
            }
            start = end;
        }
        out
    }
}

/// What the spool holds and what it went through, for logs and `/metrics`.
#[derive(Debug, Default)]
pub struct SpoolCounters {
    /// Held now.
    pub batches: AtomicU64,
    pub rows: AtomicU64,
    pub bytes: AtomicU64,
    /// Rows sent from the spool once the server was back.
    pub replayed_rows: AtomicU64,
    /// Rows dropped because the spool was full.
    pub dropped_rows: AtomicU64,
    /// Rows the server refused outright (kept aside in `refused/`).
    pub refused_rows: AtomicU64,
}

impl SpoolCounters {
    pub fn get(c: &AtomicU64) -> u64 {
        c.load(Ordering::Relaxed)
    }
}

struct Entry {
    path: PathBuf,
    bytes: u64,
    rows: u64,
}

pub(crate) struct Spool {
    dir: PathBuf,
    max_bytes: u64,
    entries: VecDeque<Entry>,
    next_seq: u64,
    pub counters: Arc<SpoolCounters>,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Spool { path: path.to_owned(), source }
}

fn seq_of(name: &str) -> Option<u64> {
    name.strip_suffix(".batch")?.parse().ok()
}

fn corrupt(path: &Path, why: &str) -> StoreError {
    StoreError::Spool { path: path.to_owned(), source: std::io::Error::other(why.to_string()) }
}

impl Spool {
    /// Opens the folder, finding batches a previous run left, oldest first.
    pub fn open(dir: &Path, max_bytes: u64) -> Result<Spool, StoreError> {
        fs::create_dir_all(dir).map_err(io(dir))?;
        let mut found = Vec::new();
        for e in fs::read_dir(dir).map_err(io(dir))? {
            let e = e.map_err(io(dir))?;
            let name = e.file_name().to_string_lossy().into_owned();
            if let Some(seq) = seq_of(&name) {
                let bytes = e.metadata().map_err(io(dir))?.len();
                found.push((seq, e.path(), bytes));
            } else if name.ends_with(".tmp") {
                // A batch whose writing was cut: it was never in the spool.
                let _ = fs::remove_file(e.path());
            }
        }
        found.sort();
        let counters = Arc::new(SpoolCounters::default());
        let mut spool = Spool { dir: dir.to_owned(), max_bytes, entries: VecDeque::new(), next_seq: 1, counters };
        for (seq, path, bytes) in found {
            let rows = match Spool::read(&path) {
                Ok(b) => b.rows() as u64,
                Err(e) => {
                    tracing::error!("{e}; set aside");
                    spool.set_aside(&path, "bad");
                    continue;
                }
            };
            spool.next_seq = spool.next_seq.max(seq + 1);
            spool.add_entry(Entry { path, bytes, rows });
        }
        Ok(spool)
    }

    fn add_entry(&mut self, e: Entry) {
        self.counters.batches.fetch_add(1, Ordering::Relaxed);
        self.counters.rows.fetch_add(e.rows, Ordering::Relaxed);
        self.counters.bytes.fetch_add(e.bytes, Ordering::Relaxed);
        self.entries.push_back(e);
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Keeps a batch at the end; `false` when the spool is full and it was dropped.
    pub fn push(&mut self, b: &Batch) -> Result<bool, StoreError> {
        let header = serde_json::to_vec(b).map_err(|e| corrupt(&self.dir, &e.to_string()))?;
        let size = (MAGIC.len() + 4 + header.len() + b.body.len()) as u64;
        if SpoolCounters::get(&self.counters.bytes) + size > self.max_bytes {
            self.counters.dropped_rows.fetch_add(b.rows() as u64, Ordering::Relaxed);
            return Ok(false);
        }
        let path = self.dir.join(format!("{:016}.batch", self.next_seq));
        let tmp = path.with_extension("tmp");
        {
            let mut f = fs::File::create(&tmp).map_err(io(&tmp))?;
            f.write_all(MAGIC).map_err(io(&tmp))?;
            f.write_all(&(header.len() as u32).to_le_bytes()).map_err(io(&tmp))?;
            f.write_all(&header).map_err(io(&tmp))?;
            f.write_all(&b.body).map_err(io(&tmp))?;
            f.sync_all().map_err(io(&tmp))?;
        }
        fs::rename(&tmp, &path).map_err(io(&path))?;
        self.next_seq += 1;
        self.add_entry(Entry { path, bytes: size, rows: b.rows() as u64 });
        Ok(true)
    }

    fn read(path: &Path) -> Result<Batch, StoreError> {
        let data = fs::read(path).map_err(io(path))?;
        if data.len() < 12 || &data[..8] != MAGIC {
            return Err(corrupt(path, "not a spooled batch"));
        }
        let len = u32::from_le_bytes([data[8], data[9], data[10], data[11]]) as usize;
        if len > MAX_HEADER || 12 + len > data.len() {
            return Err(corrupt(path, "its header is cut"));
        }
        let mut b: Batch = serde_json::from_slice(&data[12..12 + len]).map_err(|e| corrupt(path, &e.to_string()))?;
        b.body = data[12 + len..].to_vec();
        let ends_ok =
            b.row_ends.windows(2).all(|w| w[0] <= w[1]) && b.row_ends.last().is_none_or(|&e| e == b.body.len());
        if !ends_ok || (!b.ids.is_empty() && b.ids.len() != b.row_ends.len()) {
            return Err(corrupt(path, "its rows do not add up"));
        }
        Ok(b)
    }

    /// The oldest batch. One that cannot be read is set aside (and said) and the
    /// next one is taken.
    pub fn front(&mut self) -> Option<Batch> {
        loop {
            let e = self.entries.front()?;
            match Spool::read(&e.path) {
                Ok(b) => return Some(b),
                Err(err) => {
                    tracing::error!("{err}; set aside");
                    let path = e.path.clone();
                    self.pop();
                    self.set_aside(&path, "bad");
                }
            }
        }
    }

    /// Forgets the oldest batch (sent, or set aside).
    pub fn pop(&mut self) {
        if let Some(e) = self.entries.pop_front() {
            let _ = fs::remove_file(&e.path);
            self.counters.batches.fetch_sub(1, Ordering::Relaxed);
            self.counters.rows.fetch_sub(e.rows, Ordering::Relaxed);
            self.counters.bytes.fetch_sub(e.bytes, Ordering::Relaxed);
        }
    }

    /// Moves a file into `<spool>/<folder>/` for someone to look at.
    fn set_aside(&self, path: &Path, folder: &str) {
        let to = self.dir.join(folder);
        let _ = fs::create_dir_all(&to);
        if let Some(name) = path.file_name() {
            let _ = fs::rename(path, to.join(name));
        }
    }

    /// Keeps a batch the server refused in `refused/`, out of the queue.
    pub fn refuse(&mut self, b: &Batch) {
        self.counters.refused_rows.fetch_add(b.rows() as u64, Ordering::Relaxed);
        let dir = self.dir.join("refused");
        let seq = self.next_seq;
        self.next_seq += 1;
        let saved = fs::create_dir_all(&dir).and_then(|()| {
            let header = serde_json::to_vec(b).map_err(std::io::Error::other)?;
            let mut f = fs::File::create(dir.join(format!("{seq:016}.batch")))?;
            f.write_all(MAGIC)?;
            f.write_all(&(header.len() as u32).to_le_bytes())?;
            f.write_all(&header)?;
            f.write_all(&b.body)
        });
        if let Err(e) = saved {
            tracing::error!("keeping a refused batch in {}: {e}", dir.display());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(n: usize) -> Batch {
        let mut body = Vec::new();
        let mut row_ends = Vec::new();
        for i in 0..n {
            body.extend_from_slice(format!("row{i};").as_bytes());
            row_ends.push(body.len());
        }
        Batch {
            table: "sessions".into(),
            columns: "id".into(),
            ids: (0..n).map(|i| format!("id{i}")).collect(),
            min_us: 1,
            max_us: 2,
            query_id: "q1".into(),
            row_ends,
            body,
        }
    }

    #[test]
    fn batches_come_back_in_order_after_a_restart_and_a_full_spool_drops_and_counts() {
        let tmp = tempfile::tempdir().unwrap();
        let mut s = Spool::open(tmp.path(), 400).unwrap();
        assert!(s.push(&batch(2)).unwrap());
        assert!(s.push(&batch(3)).unwrap());
        assert!(!s.push(&batch(40)).unwrap(), "over the bound");
        assert_eq!(SpoolCounters::get(&s.counters.dropped_rows), 40);
        drop(s);
        std::fs::write(tmp.path().join("0000000000000009.tmp"), b"half").unwrap();
        let mut s = Spool::open(tmp.path(), 400).unwrap();
        assert_eq!(SpoolCounters::get(&s.counters.rows), 5);
        assert_eq!(s.front().unwrap().rows(), 2);
        s.pop();
        let b = s.front().unwrap();
        assert_eq!((b.rows(), b.ids[2].as_str()), (3, "id2"));
        let cut = b.only(|i| i != 1);
        assert_eq!(cut.body, b"row0;row2;");
        assert_eq!(
            (cut.row_ends.as_slice(), cut.ids.as_slice()),
            (&[5usize, 10][..], &["id0".to_string(), "id2".to_string()][..])
        );
        s.pop();
        assert!(s.front().is_none());
        assert!(!tmp.path().join("0000000000000009.tmp").exists());
    }

    #[test]
    fn a_damaged_batch_is_set_aside_not_replayed() {
        let tmp = tempfile::tempdir().unwrap();
        let mut s = Spool::open(tmp.path(), 1 << 20).unwrap();
        s.push(&batch(1)).unwrap();
        s.push(&batch(2)).unwrap();
        drop(s);
        let first = tmp.path().join("0000000000000001.batch");
        let data = std::fs::read(&first).unwrap();
        std::fs::write(&first, &data[..data.len() - 2]).unwrap();
        let mut s = Spool::open(tmp.path(), 1 << 20).unwrap();
        assert_eq!(s.front().unwrap().rows(), 2);
        assert!(tmp.path().join("bad/0000000000000001.batch").exists());
    }
}
