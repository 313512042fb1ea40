//! The store named by a URL: `duckdb:///var/lib/tyto` (or `duckdb://` for the data
//! directory) and `clickhouse://user:pass@host:8123/db?cluster=name`
//! (`clickhouse+https://` for TLS).

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::clickhouse::{ClickConfig, ClickStore, Mode};
use crate::{DuckStore, ReaderBox, StoreError, WriterBox, DB_FILE};

/// Default spool bound: what a sensor holds on disk while ClickHouse is away.
const DEFAULT_SPOOL_MIB: u64 = 1024;

#[derive(Clone, Debug)]
pub enum StoreUrl {
    /// The embedded store in this folder (`None`: the data directory).
    DuckDb {
        dir: Option<PathBuf>,
    },
    ClickHouse(ClickConfig),
}

impl Default for StoreUrl {
    fn default() -> Self {
        StoreUrl::DuckDb { dir: None }
    }
}

fn bad(text: &str, why: &str) -> StoreError {
    StoreError::Url(format!("store URL {:?}: {why}", redact(text)))
}

/// The URL with its password replaced, for messages.
fn redact(text: &str) -> String {
    let Some((scheme, rest)) = text.split_once("://") else { return text.to_string() };
    let (auth, host) = match rest.rsplit_once('@') {
        Some((a, h)) => (Some(a), h),
        None => (None, rest),
    };
    match auth {
        Some(a) => match a.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
            None => format!("{scheme}://{a}@{host}"),
        },
        None => text.to_string(),
    }
}

/// `%xx` escapes decoded (user names and passwords may hold `@`, `:` or `/`).
fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn plain_name(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

impl StoreUrl {
    pub fn parse(text: &str) -> Result<StoreUrl, StoreError> {
        let (scheme, rest) =
            text.split_once("://").ok_or_else(|| bad(text, "expected duckdb://… or clickhouse://…"))?;
        match scheme {
            "duckdb" => Ok(StoreUrl::DuckDb { dir: (!rest.is_empty()).then(|| PathBuf::from(rest)) }),
            "clickhouse" | "clickhouse+http" | "clickhouse+https" => {
                let tls = scheme == "clickhouse+https";
                let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
                let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
                let (auth, hostport) = match authority.rsplit_once('@') {
                    Some((a, h)) => (Some(a), h),
                    None => (None, authority),
                };
                let (user, password) = match auth {
                    None => ("default".to_string(), String::new()),
                    Some(a) => {
                        let (u, p) = a.split_once(':').unwrap_or((a, ""));
                        let u = percent_decode(u).ok_or_else(|| bad(text, "bad %-escape in the user name"))?;
                        let p = percent_decode(p).ok_or_else(|| bad(text, "bad %-escape in the password"))?;
                        (if u.is_empty() { "default".into() } else { u }, p)
                    }
                };
                if hostport.is_empty() {
                    return Err(bad(text, "no host"));
                }
                let has_port = match hostport.rfind(']') {
                    Some(close) => hostport[close..].contains(':'),
                    None => hostport.contains(':'),
                };
                let host = if has_port {
                    let (_, port) = hostport.rsplit_once(':').unwrap_or_default();
                    port.parse::<u16>().map_err(|_| bad(text, "the port is not a number from 1 to 65535"))?;
                    hostport.to_string()
                } else {
                    format!("{hostport}:{}", if tls { 8443 } else { 8123 })
                };
                let database = path.trim_end_matches('/');
                let database = if database.is_empty() { "tyto" } else { database };
                if !plain_name(database) {
                    return Err(bad(text, "the database name must be letters, digits and '_'"));
                }
                let mut cfg = ClickConfig {
                    base: format!("{}://{host}", if tls { "https" } else { "http" }),
                    user,
                    password,
                    database: database.to_string(),
                    cluster: None,
                    spool_bytes: DEFAULT_SPOOL_MIB << 20,
                    timeout: Duration::from_secs(30),
                };
                for pair in query.split('&').filter(|p| !p.is_empty()) {
                    let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                    match k {
                        "cluster" if plain_name(v) => cfg.cluster = Some(v.to_string()),
                        "cluster" => return Err(bad(text, "the cluster name must be letters, digits and '_'")),
                        "spool_mib" => {
                            let n: u64 = v.parse().map_err(|_| bad(text, "spool_mib is a number of MiB"))?;
                            cfg.spool_bytes = n << 20;
                        }
                        "timeout_s" => {
                            let n: u64 = v
                                .parse()
                                .ok()
                                .filter(|n| *n > 0)
                                .ok_or_else(|| bad(text, "timeout_s is a number of seconds above 0"))?;
                            cfg.timeout = Duration::from_secs(n);
                        }
                        _ => return Err(bad(text, &format!("unknown option {k:?} (cluster, spool_mib, timeout_s)"))),
                    }
                }
                Ok(StoreUrl::ClickHouse(cfg))
            }
            _ => Err(bad(text, &format!("unknown kind of store {scheme:?} (duckdb, clickhouse, clickhouse+https)"))),
        }
    }

    /// Whether this is the embedded store (one writing process).
    pub fn is_embedded(&self) -> bool {
        matches!(self, StoreUrl::DuckDb { .. })
    }

    fn duck_dir<'a>(&'a self, data_dir: &'a Path) -> &'a Path {
        match self {
            StoreUrl::DuckDb { dir: Some(d) } => d,
            _ => data_dir,
        }
    }

    /// For messages: where the sessions are, password hidden.
    pub fn display(&self, data_dir: &Path) -> String {
        match self {
            StoreUrl::DuckDb { .. } => format!("duckdb://{}", self.duck_dir(data_dir).display()),
            StoreUrl::ClickHouse(c) => c.display(),
        }
    }

    /// Whether there is a store to read (the DuckDB file exists; a ClickHouse server is
    /// always worth asking).
    pub fn exists(&self, data_dir: &Path) -> bool {
        match self {
            StoreUrl::DuckDb { .. } => self.duck_dir(data_dir).join(DB_FILE).exists(),
            StoreUrl::ClickHouse(_) => true,
        }
    }

    /// Opens the store to write sessions of `node`, making its tables when there are
    /// none; rows ClickHouse cannot take wait in `<data_dir>/spool`.
    pub fn open_writer(&self, data_dir: &Path, node: &str) -> Result<WriterBox, StoreError> {
        match self {
            StoreUrl::DuckDb { .. } => {
                let dir = self.duck_dir(data_dir);
                std::fs::create_dir_all(dir)
                    .map_err(|e| StoreError::Url(format!("creating {}: {e}", dir.display())))?;
                Ok(Box::new(DuckStore::open(dir)?.for_writing()?))
            }
            StoreUrl::ClickHouse(c) => Ok(Box::new(ClickStore::open(
                c.clone(),
                Mode::Write {
                    node: node.to_string(),
                    spool_dir: tyto_schema::DataDir::new(data_dir).clickhouse_spool(),
                },
            )?)),
        }
    }

    /// The store as a viewer that also ingests uploads holds it: writing as
    /// [`StoreUrl::open_writer`] does, but DuckDB keeps a thread per core, for the
    /// viewer's queries rather than for a capture's workers.
    pub fn open_owner(&self, data_dir: &Path, node: &str) -> Result<WriterBox, StoreError> {
        match self {
            StoreUrl::DuckDb { .. } => Ok(Box::new(DuckStore::open(self.duck_dir(data_dir))?)),
            StoreUrl::ClickHouse(_) => self.open_writer(data_dir, node),
        }
    }

    /// Opens an existing store to search.
    pub fn open_reader(&self, data_dir: &Path) -> Result<ReaderBox, StoreError> {
        match self {
            StoreUrl::DuckDb { .. } => {
                let dir = self.duck_dir(data_dir);
                if !dir.join(DB_FILE).exists() {
                    return Err(StoreError::NotInitialised { place: format!("{}", dir.display()) });
                }
                Ok(Box::new(DuckStore::open(dir)?))
            }
            StoreUrl::ClickHouse(c) => Ok(Box::new(ClickStore::open(c.clone(), Mode::Read)?)),
        }
    }

    /// `tyto db init` and `tyto db upgrade`: makes the tables, or brings them to this
    /// Tyto's layout; returns what was done, one line per step.
    pub fn migrate(&self, data_dir: &Path, upgrade: bool) -> Result<Vec<String>, StoreError> {
        match self {
            StoreUrl::DuckDb { .. } => {
                let dir = self.duck_dir(data_dir);
                let existed = dir.join(DB_FILE).exists();
                std::fs::create_dir_all(dir)
                    .map_err(|e| StoreError::Url(format!("creating {}: {e}", dir.display())))?;
                // Opening makes the tables and adds the catalogue's new columns.
                drop(DuckStore::open(dir)?);
                Ok(vec![if existed {
                    format!("{} is up to date", dir.join(DB_FILE).display())
                } else {
                    format!("created {}", dir.join(DB_FILE).display())
                }])
            }
            StoreUrl::ClickHouse(c) => ClickStore::migrate(c.clone(), upgrade),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ch(text: &str) -> ClickConfig {
        match StoreUrl::parse(text).unwrap() {
            StoreUrl::ClickHouse(c) => c,
            other => panic!("{text}: {other:?}"),
        }
    }

    #[test]
    fn store_urls_are_read_with_their_defaults() {
        let c = ch("clickhouse://127.0.0.1");
        assert_eq!(
            (c.base.as_str(), c.user.as_str(), c.database.as_str()),
            ("http://127.0.0.1:8123", "default", "tyto")
        );
        let c = ch("clickhouse+https://ro%40x:p%3Ass@ch.example:9443/flows/?cluster=c1&spool_mib=5&timeout_s=3");
        assert_eq!(c.base, "https://ch.example:9443");
        assert_eq!((c.user.as_str(), c.password.as_str()), ("ro@x", "p:ss"));
        assert_eq!((c.database.as_str(), c.cluster.as_deref()), ("flows", Some("c1")));
        assert_eq!((c.spool_bytes, c.timeout), (5 << 20, Duration::from_secs(3)));
        assert_eq!(ch("clickhouse://[::1]").base, "http://[::1]:8123");
        assert_eq!(ch("clickhouse://[::1]:9").base, "http://[::1]:9");
        assert!(matches!(StoreUrl::parse("duckdb://").unwrap(), StoreUrl::DuckDb { dir: None }));
        assert!(
            matches!(StoreUrl::parse("duckdb:///var/x").unwrap(), StoreUrl::DuckDb { dir: Some(d) } if d == Path::new("/var/x"))
        );
    }

    #[test]
    fn bad_store_urls_say_what_is_wrong_and_hide_the_password() {
        for (text, says) in [
            ("/var/lib/tyto", "expected duckdb://"),
            ("mysql://x", "unknown kind of store"),
            ("clickhouse://u:secret@h:99999", "port"),
            ("clickhouse://u:secret@h/db;drop", "database name"),
            ("clickhouse://h?cluster=a b", "cluster name"),
            ("clickhouse://h?replicas=2", "unknown option"),
            ("clickhouse://u:secret%zz@h", "%-escape"),
            ("clickhouse://", "no host"),
        ] {
            let e = StoreUrl::parse(text).err().unwrap_or_else(|| panic!("{text} accepted")).to_string();
            assert!(e.contains(says), "{text}: {e}");
            assert!(!e.contains("secret"), "{text}: {e}");
        }
    }
}
