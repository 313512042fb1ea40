//! A small JSON file of the data directory that the viewer rewrites whole on every
//! change (views, periodic queries, hunts): read with a size bound, written to a side file
//! and renamed into place, so a reader never sees half a file.

use std::io::Write;
use std::path::PathBuf;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::ApiError;

/// A file larger than this is refused rather than read.
const MAX_FILE_BYTES: u64 = 64 << 20;

pub struct JsonFile {
    path: PathBuf,
}

impl JsonFile {
    pub fn new(path: PathBuf) -> JsonFile {
        JsonFile { path }
    }

    /// The file's modification time and size (None: not there), to tell whether
    /// another process changed it since it was read.
    pub fn stamp(&self) -> Option<(std::time::SystemTime, u64)> {
        std::fs::metadata(&self.path).ok().and_then(|m| Some((m.modified().ok()?, m.len())))
    }

    /// The file's contents; a missing file is the default (empty) value.
    pub fn read<T: DeserializeOwned + Default>(&self) -> Result<T, ApiError> {
        let bad = |why: String| ApiError::internal(format!("{}: {why}", self.path.display()));
        match std::fs::metadata(&self.path) {
            Ok(m) if m.len() > MAX_FILE_BYTES => return Err(bad(format!("larger than {} MiB", MAX_FILE_BYTES >> 20))),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(T::default()),
            Err(e) => return Err(bad(e.to_string())),
        }
        let text = std::fs::read_to_string(&self.path).map_err(|e| bad(e.to_string()))?;
        serde_json::from_str(&text).map_err(|e| bad(format!("not what Tyto wrote there: {e}")))
    }

    /// Replaces the file (mode 0600) with `value`.
    pub fn write<T: Serialize>(&self, value: &T) -> Result<(), ApiError> {
        let bad = |e: std::io::Error| ApiError::internal(format!("writing {}: {e}", self.path.display()));
        let tmp = self.path.with_extension("json.partial");
        let text = serde_json::to_vec_pretty(value).map_err(|e| ApiError::internal(e.to_string()))?;
        {
            let mut opts = std::fs::OpenOptions::new();
            opts.write(true).create(true).truncate(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
            let mut f = opts.open(&tmp).map_err(bad)?;
            f.write_all(&text).map_err(bad)?;
            f.sync_all().map_err(bad)?;
        }
        std::fs::rename(&tmp, &self.path).map_err(bad)
    }
}
