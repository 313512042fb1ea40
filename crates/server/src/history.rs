//! What the viewer's users asked of it — searches, views, exports, tag changes,
//! uploads — one JSON line per request in `DATA/history/` (Arkime's history): who,
//! when, which route with which parameters, the answer's status and how long it
//! took. Admins read everyone's, other users their own.
//!
//! Two files at most, each up to [`FILE_BYTES`]: when the newer fills it becomes the
//! older, and the older is dropped. A line that cannot be written is logged and the
//! request answered all the same.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::sync::Mutex;

use axum::http::Method;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Bytes a history file holds before it is set aside.
const FILE_BYTES: u64 = 16 << 20;
/// Bytes of a parameter's value kept (an expression may be 64 KiB).
const VALUE_BYTES: usize = 4096;
const CURRENT: &str = "history.jsonl";
const OLDER: &str = "history.1.jsonl";

/// Routes whose requests are recorded: what reads sessions or changes them. The
/// histogram that comes with every search, the catalogue, the pages' polling of
/// stats and uploads, logins and the history itself are not.
const RECORDED: &[&str] = &[
    "/api/sessions",
    "/sessions.json",
    "/api/sessions.csv",
    "/sessions.csv",
    "/api/sessions.pcap",
    "/sessions.pcap",
    "/api/spiview",
    "/api/spigraph",
    "/api/connections",
    "/api/unique",
    "/unique.txt",
    "/api/multiunique",
    "/multiunique.txt",
    "/api/transactions",
    "/api/services",
    "/api/alerts",
    "/api/sessions/addtags",
    "/addTags",
    "/api/sessions/removetags",
    "/removeTags",
    "/api/upload",
    "/api/users",
    "/api/hunt",
    "/api/user",
    "/api/cron",
];

/// Whether a request to `path` is recorded (a session's detail and PCAP, a hunt's
/// cancel and removal, a periodic query's change, an admin's change of a user too).
pub fn recorded(path: &str) -> bool {
    RECORDED.contains(&path)
        || path.starts_with("/api/session/")
        || path.starts_with("/api/hunt/")
        || path.starts_with("/api/cron/")
        || (path.starts_with("/api/user/") && path != "/api/user/current")
}

/// What a handler adds to its request's line (a tag change's tags and count).
#[derive(Clone, Debug)]
pub struct Detail(pub Value);

/// One request.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Entry {
    /// When it came, in milliseconds since the epoch.
    pub time_ms: i64,
    pub user: String,
    pub method: String,
    pub path: String,
    /// Its query string's parameters, each value cut at [`VALUE_BYTES`].
    pub params: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<Value>,
    pub status: u16,
    /// Until the answer began (a streamed export goes on after).
    pub ms: u64,
}

impl Entry {
    pub fn new(user: &str, method: &Method, path: &str, query: Option<&str>) -> Entry {
        let params = serde_urlencoded::from_str::<Vec<(String, String)>>(query.unwrap_or(""))
            .unwrap_or_default()
            .into_iter()
            // A password in an address is refused, but never recorded either.
            .filter(|(k, _)| k != "password")
            .map(|(k, v)| (cut(k), cut(v)))
            .collect();
        Entry {
            time_ms: tyto_schema::time::now_ns() / 1_000_000,
            user: user.to_string(),
            method: method.to_string(),
            path: path.to_string(),
            params,
            detail: None,
            status: 0,
            ms: 0,
        }
    }

    fn mentions(&self, text: &str) -> bool {
        let has = |s: &str| s.to_lowercase().contains(text);
        has(&self.path)
            || self.params.iter().any(|(k, v)| has(k) || has(v))
            || self.detail.as_ref().is_some_and(|d| has(&d.to_string()))
    }
}

fn cut(mut s: String) -> String {
    if s.len() > VALUE_BYTES {
        let mut end = VALUE_BYTES;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push('…');
    }
    s
}

/// Which entries a listing wants.
#[derive(Clone, Debug, Default)]
pub struct HistoryQuery {
    /// This user's only (always so for a user who is not an admin).
    pub user: Option<String>,
    /// A case-insensitive piece of the route, a parameter or the detail.
    pub text: Option<String>,
    pub start_ms: Option<i64>,
    pub stop_ms: Option<i64>,
    pub offset: usize,
    pub limit: usize,
}

pub struct History {
    dir: PathBuf,
    file: Mutex<Option<File>>,
}

impl History {
    pub fn new(dir: PathBuf) -> History {
        History { dir, file: Mutex::new(None) }
    }

    /// Appends one entry; a failure is logged, never the request's.
    pub fn add(&self, entry: &Entry) {
        if let Err(e) = self.write(entry) {
            tracing::warn!("recording a request in {}: {e}", self.dir.display());
        }
    }

    fn write(&self, entry: &Entry) -> std::io::Result<()> {
        let mut line = serde_json::to_vec(entry)?;
        line.push(b'\n');
        let mut slot = self.file.lock().unwrap_or_else(|p| p.into_inner());
        if slot.is_none() {
            std::fs::create_dir_all(&self.dir)?;
            let mut file = open_append(&self.dir.join(CURRENT))?;
            // A line a crash cut short stays alone on its line.
            if ends_mid_line(&mut file)? {
                file.write_all(b"\n")?;
            }
            *slot = Some(file);
        }
        let Some(file) = slot.as_mut() else { return Ok(()) };
        file.write_all(&line)?;
        if file.metadata()?.len() >= FILE_BYTES {
            *slot = None;
            std::fs::rename(self.dir.join(CURRENT), self.dir.join(OLDER))?;
        }
        Ok(())
    }

    /// The entries `q` wants, newest first, one page of them, with how many match.
    pub fn list(&self, q: &HistoryQuery) -> std::io::Result<(u64, Vec<Entry>)> {
        let text = q.text.as_deref().map(str::to_lowercase).filter(|t| !t.is_empty());
        let mut matching = Vec::new();
        for name in [OLDER, CURRENT] {
            let file = match File::open(self.dir.join(name)) {
                Ok(f) => f,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            for line in BufReader::new(file).lines() {
                // A line cut short by a crash is skipped, not an error.
                let Ok(e) = serde_json::from_str::<Entry>(&line?) else { continue };
                let wanted = q.user.as_ref().is_none_or(|u| *u == e.user)
                    && q.start_ms.is_none_or(|s| e.time_ms >= s)
                    && q.stop_ms.is_none_or(|s| e.time_ms <= s)
                    && text.as_deref().is_none_or(|t| e.mentions(t));
                if wanted {
                    matching.push(e);
                }
            }
        }
        let total = matching.len() as u64;
        let page = matching.into_iter().rev().skip(q.offset).take(q.limit).collect();
        Ok((total, page))
    }
}

fn ends_mid_line(file: &mut File) -> std::io::Result<bool> {
    use std::io::{Read, Seek, SeekFrom};
    if file.metadata()?.len() == 0 {
        return Ok(false);
    }
    let mut last = [0u8];
    let mut reader = &*file;
    reader.seek(SeekFrom::End(-1))?;
    reader.read_exact(&mut last)?;
    Ok(last[0] != b'\n')
}

/// The file, for appending, private to the owner (it says who looked for what).
fn open_append(path: &std::path::Path) -> std::io::Result<File> {
    let mut o = OpenOptions::new();
    o.create(true).append(true).read(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    o.open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(user: &str, path: &str, query: &str) -> Entry {
        Entry::new(user, &Method::GET, path, Some(query))
    }

    #[test]
    fn entries_are_listed_newest_first_per_user_and_text_across_both_files() {
        let dir = tempfile::tempdir().unwrap();
        let h = History::new(dir.path().join("history"));
        h.add(&entry("ann", "/api/sessions", "expression=protocols%20%3D%3D%20dns"));
        h.add(&entry("bob", "/api/spiview", "spi=ip.dst"));
        // The current file set aside as if it had filled: both are read.
        std::fs::rename(dir.path().join("history").join(CURRENT), dir.path().join("history").join(OLDER)).unwrap();
        *h.file.lock().unwrap() = None;
        h.add(&entry("ann", "/api/sessions.pcap", "expression=port.dst%20%3D%3D%2053"));
        let all = HistoryQuery { limit: 10, ..HistoryQuery::default() };
        let (n, got) = h.list(&all).unwrap();
        assert_eq!(n, 3);
        assert_eq!(
            got.iter().map(|e| e.path.as_str()).collect::<Vec<_>>(),
            ["/api/sessions.pcap", "/api/spiview", "/api/sessions"]
        );
        let ann = HistoryQuery { user: Some("ann".into()), ..all.clone() };
        assert_eq!(h.list(&ann).unwrap().0, 2);
        let dns = HistoryQuery { text: Some("DNS".into()), ..all.clone() };
        let (n, got) = h.list(&dns).unwrap();
        assert_eq!((n, got[0].params["expression"].as_str()), (1, "protocols == dns"));
        let page = HistoryQuery { offset: 1, limit: 1, ..all };
        assert_eq!(h.list(&page).unwrap().1[0].path, "/api/spiview");
    }

    #[test]
    fn a_file_that_fills_is_set_aside_and_the_one_before_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let h = History::new(dir.path().to_path_buf());
        let big = "x".repeat(VALUE_BYTES + 10);
        let lines = FILE_BYTES as usize / VALUE_BYTES + 2;
        for i in 0..lines * 2 + 5 {
            h.add(&entry("ann", "/api/sessions", &format!("expression={big}&n={i}")));
        }
        let size = |name: &str| std::fs::metadata(dir.path().join(name)).map(|m| m.len()).unwrap_or(0);
        assert!(size(OLDER) >= FILE_BYTES && size(OLDER) < FILE_BYTES + 2 * VALUE_BYTES as u64);
        assert!(size(CURRENT) < FILE_BYTES);
        let (n, got) = h.list(&HistoryQuery { limit: 1, ..HistoryQuery::default() }).unwrap();
        assert!(n < (lines * 2) as u64, "the oldest were dropped");
        assert_eq!(got[0].params["n"], (lines * 2 + 4).to_string());
        assert!(got[0].params["expression"].ends_with('…'));
    }

    #[test]
    fn a_line_cut_short_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let h = History::new(dir.path().to_path_buf());
        h.add(&entry("ann", "/api/sessions", ""));
        let mut f = open_append(&dir.path().join(CURRENT)).unwrap();
        f.write_all(b"{\"time_ms\":1,\"us").unwrap();
        drop(f);
        *h.file.lock().unwrap() = None;
        h.add(&entry("ann", "/api/spiview", ""));
        let (n, got) = h.list(&HistoryQuery { limit: 10, ..HistoryQuery::default() }).unwrap();
        assert_eq!((n, got[0].path.as_str()), (2, "/api/spiview"));
    }
}
