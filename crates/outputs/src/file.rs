//! JSON-lines files, one record a line, rotated by size and age. The file being
//! written keeps its configured name; a rotated one gets the time it was closed
//! (`flows.jsonl` → `flows-20261123T101500.123Z-0001.jsonl`), and the oldest past `keep`
//! are deleted.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::{Attempt, Deliver, OutputConfig, Shared};

pub struct JsonLines {
    path: PathBuf,
    file: Option<File>,
    written: u64,
    opened: Instant,
    rotate_bytes: u64,
    rotate_after: Option<Duration>,
    keep: usize,
    rotations: u32,
}

impl JsonLines {
    pub fn new(c: &OutputConfig) -> JsonLines {
        JsonLines {
            path: PathBuf::from(&c.target),
            file: None,
            written: 0,
            opened: Instant::now(),
            rotate_bytes: c.rotate_mib.saturating_mul(1 << 20),
            rotate_after: (c.rotate_s > 0).then(|| Duration::from_secs(c.rotate_s)),
            keep: c.keep as usize,
            rotations: 0,
        }
    }

    fn open(&mut self) -> Result<&mut File, String> {
        if self.file.is_none() {
            if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            }
            let f = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)
                .map_err(|e| format!("{}: {e}", self.path.display()))?;
            self.written = f.metadata().map(|m| m.len()).unwrap_or(0);
            self.opened = Instant::now();
            self.file = Some(f);
        }
        Ok(self.file.as_mut().expect("just set"))
    }

    #[cfg(test)]
    pub fn set_rotate_bytes(&mut self, n: u64) {
        self.rotate_bytes = n;
    }

    fn due(&self) -> bool {
        (self.rotate_bytes > 0 && self.written >= self.rotate_bytes)
            || self.rotate_after.is_some_and(|d| self.opened.elapsed() >= d && self.written > 0)
    }

    fn rotate(&mut self) -> Result<(), String> {
        self.file = None;
        let stamp = compact_time(std::time::SystemTime::now());
        let (stem, ext) = stem_and_extension(&self.path);
        // A number after the time keeps rotations of one millisecond in order.
        let mut target;
        loop {
            self.rotations += 1;
            target = self.path.with_file_name(format!("{stem}-{stamp}-{:04}{ext}", self.rotations % 10_000));
            if !target.exists() {
                break;
            }
        }
        std::fs::rename(&self.path, &target).map_err(|e| format!("{}: {e}", self.path.display()))?;
        // Names sort by time: the oldest come first.
        let mut old = rotated(&self.path);
        while old.len() > self.keep {
            let gone = old.remove(0);
            let _ = std::fs::remove_file(&gone);
        }
        Ok(())
    }
}

fn stem_and_extension(path: &Path) -> (String, String) {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    match name.rfind('.').filter(|i| *i > 0) {
        Some(i) => (name[..i].to_string(), name[i..].to_string()),
        None => (name, String::new()),
    }
}

/// The rotated files of a path, oldest first.
pub fn rotated(path: &Path) -> Vec<PathBuf> {
    let (stem, ext) = stem_and_extension(path);
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let prefix = format!("{stem}-");
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                        n.starts_with(&prefix)
                            && n.ends_with(&ext)
                            && n[prefix.len()..].starts_with(|c: char| c.is_ascii_digit())
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
}

/// `20261123T101500.123Z`, from the wall clock (files rotate in real time); names
/// sort in time order.
fn compact_time(t: std::time::SystemTime) -> String {
    let ns = t.duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as i64).unwrap_or(0);
    let s = tyto_schema::time::format_rfc3339(ns);
    // 2026-11-23T10:15:00.123456Z
    format!("{}T{}.{}Z", s[..10].replace('-', ""), s[11..19].replace(':', ""), &s[20..23])
}

impl Deliver for JsonLines {
    fn deliver(&mut self, batch: &[Shared]) -> Attempt {
        let path = self.path.display().to_string();
        // The batch goes in one write, so a failure can be undone whole.
        let mut buf = Vec::with_capacity(batch.len() * 512);
        for d in batch {
            if serde_json::to_writer(&mut buf, &d.body).is_ok() {
                buf.push(b'\n');
            }
        }
        let before = self.written;
        let f = match self.open() {
            Ok(f) => f,
            Err(e) => return Attempt::all_again(batch.len(), e),
        };
        if let Err(e) = f.write_all(&buf) {
            // A disk that filled up: cut what part of the batch got in, so the
            // retry does not leave half a line behind.
            let _ = f.set_len(before);
            self.file = None;
            return Attempt::all_again(batch.len(), format!("{path}: {e}"));
        }
        self.written += buf.len() as u64;
        if self.due() {
            if let Err(e) = self.rotate() {
                eprintln!("tyto: export to file {path}: rotation failed: {e}");
            }
        }
        Attempt::default()
    }
}
