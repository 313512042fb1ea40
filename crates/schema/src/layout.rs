//! What a data directory holds, named once. Every part of Tyto that reads or writes
//! inside `--data-dir` asks [`DataDir`] for the path, so the layout can be read (and
//! changed) here alone:
//!
//! ```text
//! DATA/
//!   pcap/<node>/…        packets, as captured or ingested (pcapstore)
//!   sessions.duckdb      the embedded store, unless --store names another place
//!   spool/rows/          session rows waiting for a slow store
//!   spool/               rows waiting for ClickHouse (and spool/refused/)
//!   uploads/             captures sent to the viewer, until ingested
//!   users.json           the viewer's users
//!   history/             what the viewer's users searched, exported and changed
//!   views.json           the viewer's saved views
//!   server.key           the viewer's secret (signs Digest nonces and node requests)
//! ```

use std::path::{Path, PathBuf};

/// A data directory and the places inside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataDir(PathBuf);

impl DataDir {
    pub fn new(root: impl Into<PathBuf>) -> DataDir {
        DataDir(root.into())
    }

    pub fn root(&self) -> &Path {
        &self.0
    }

    /// The pcap files, one folder per node below it.
    pub fn pcap(&self) -> PathBuf {
        self.0.join("pcap")
    }

    /// Session rows the store could not take yet (the row queue's on-disk part).
    pub fn row_spool(&self) -> PathBuf {
        self.0.join("spool").join("rows")
    }

    /// Rows written for ClickHouse and not yet acknowledged by it.
    pub fn clickhouse_spool(&self) -> PathBuf {
        self.0.join("spool")
    }

    /// Captures received by the viewer, deleted once read.
    pub fn uploads(&self) -> PathBuf {
        self.0.join("uploads")
    }

    /// The viewer's users and their rights.
    pub fn users(&self) -> PathBuf {
        self.0.join("users.json")
    }

    /// The viewer's saved views (expressions and columns, per user).
    pub fn views(&self) -> PathBuf {
        self.0.join("views.json")
    }

    /// Payload hunts, finished and waiting (`tyto serve`'s list).
    pub fn hunts(&self) -> PathBuf {
        self.0.join("hunts.json")
    }

    /// Periodic queries (`tyto serve`'s, and `tyto run`'s viewer's).
    pub fn periodic(&self) -> PathBuf {
        self.0.join("periodic.json")
    }

    /// Named lists of values that expressions use as `$name`.
    pub fn shortcuts(&self) -> PathBuf {
        self.0.join("shortcuts.json")
    }

    /// The viewer's record of what its users asked (newest file `history.jsonl`).
    pub fn history(&self) -> PathBuf {
        self.0.join("history")
    }

    /// The viewer's secret.
    pub fn server_key(&self) -> PathBuf {
        self.0.join("server.key")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_place_is_inside_the_directory_and_apart() {
        let d = DataDir::new("/var/lib/tyto");
        let places = [
            d.pcap(),
            d.row_spool(),
            d.clickhouse_spool(),
            d.uploads(),
            d.users(),
            d.history(),
            d.views(),
            d.periodic(),
            d.shortcuts(),
            d.hunts(),
            d.server_key(),
        ];
        for (i, p) in places.iter().enumerate() {
            assert!(p.starts_with(d.root()), "{}", p.display());
            for q in &places[i + 1..] {
                assert_ne!(p, q);
            }
        }
    }
}
