//! Threat intelligence: indicator lists from feeds (plain lists, CSV, MISP, STIX
//! 2.1), matched against every session as it is written — addresses by prefix
//! (a trie per family), domains with their subdomains (by suffix), URLs, hashes and
//! fingerprints (JA3, JA4, HASSH, certificate and file hashes) and e-mail addresses
//! exactly. A match fills `intel` (`SOURCE:indicator`) and `intel.source`.
//!
//! Sources are read at start and read again when their file changes, without a
//! restart: the workers see a new index at their next session (an atomic swap, no
//! lock on the hot path). A source that cannot be read is refused whole, with the
//! line at fault; the other sources work on, and a source that was good keeps its
//! last good version until its file is mended.

mod formats;
mod indicator;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use prefix_trie::PrefixMap;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tyto_schema::metrics::{Family, Metrics, Sample};
use tyto_schema::{SessionRecord, Values};

pub use formats::{parse, Format, Parsed, SourceError, MAX_INDICATORS};
pub use indicator::{classify, Expect, Indicator};

/// The `[intel]` section of the configuration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IntelConfig {
    /// Seconds between looks at the source files: a file changed since is read
    /// again and takes effect without a restart (0: read at start only).
    pub reload_every_s: u32,
    /// One `[[intel.source]]` table per indicator file.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub source: Vec<IntelSource>,
}

impl Default for IntelConfig {
    fn default() -> Self {
        IntelConfig { reload_every_s: 10, source: Vec::new() }
    }
}

/// One indicator file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntelSource {
    /// The name matches carry (`intel == NAME:indicator`, `intel.source == NAME`).
    pub name: String,
    pub path: PathBuf,
    /// `list` (one indicator a line), `csv`, `misp` or `stix`.
    #[serde(default)]
    pub format: Format,
    /// CSV only: the column of the indicators, by header name or number from 1.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub column: String,
}

/// Sources at most: a session's matches are kept as one bit per source.
pub const MAX_SOURCES: usize = 64;
/// Bytes one source file may have.
const MAX_SOURCE_BYTES: u64 = 2 << 30;

impl IntelConfig {
    /// Checks the sources' names and count; the message names the one at fault.
    pub fn check(&self) -> Result<(), String> {
        if self.source.len() > MAX_SOURCES {
            return Err(format!("at most {MAX_SOURCES} sources (there are {})", self.source.len()));
        }
        for (i, s) in self.source.iter().enumerate() {
            let ok = !s.name.is_empty()
                && s.name.len() <= 64
                && s.name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
            if !ok {
                return Err(format!(
                    "source {}: name `{}` must be 1–64 letters, digits, `-`, `_` or `.`",
                    i + 1,
                    s.name
                ));
            }
            if self.source[..i].iter().any(|o| o.name == s.name) {
                return Err(format!("source name `{}` is given twice", s.name));
            }
            if s.path.as_os_str().is_empty() {
                return Err(format!("source `{}` has no path", s.name));
            }
            if !s.column.is_empty() && s.format != Format::Csv {
                return Err(format!("source `{}`: `column` is for the csv format only", s.name));
            }
        }
        Ok(())
    }
}

/// Every source's indicators, each with the bit of every source listing it.
#[derive(Default)]
struct Index {
    names: Vec<Arc<str>>,
    v4: PrefixMap<Ipv4Net, u64>,
    v6: PrefixMap<Ipv6Net, u64>,
    domains: Exact,
    urls: Exact,
    fingerprints: Exact,
    emails: Exact,
    len: usize,
}

/// Indicators matched whole. aHash rather than SipHash: a session's names are
/// hashed once per parent domain, on the worker's hot path (keys come from feeds,
/// not from the traffic, so flooding one bucket is not the traffic's to choose).
type Exact = HashMap<Box<str>, u64, ahash::RandomState>;

/// What a session field holds, for matching: the fields an indicator of each
/// kind is looked for in.
#[derive(Clone, Copy)]
enum Role {
    Ip,
    Domain,
    Url,
    Fingerprint,
    Email,
}

fn role(field: &str) -> Option<Role> {
    Some(match field {
        "ip.dns" | "ip.dns.nameserver" | "ip.dns.mailserver" | "ip.xff" | "ip.socks" => Role::Ip,
        "host.http" | "host.dns" | "dns.puny" | "host.tls" | "host.quic" | "dns.answer.cname" | "cert.alt"
        | "cert.subject.cn" | "host.socks" => Role::Domain,
        "http.uri" => Role::Url,
        "tls.ja3" | "tls.ja3s" | "tls.ja4" | "ssh.hassh" | "cert.hash" | "cert.sha256" | "http.md5" | "http.sha256" => {
            Role::Fingerprint
        }
        "email.src" | "email.dst" => Role::Email,
        _ => return None,
    })
}

impl Index {
    fn build(sources: &[(Arc<str>, Arc<Vec<Indicator>>)]) -> Index {
        let mut index = Index::default();
        for (bit, (name, list)) in sources.iter().enumerate() {
            index.names.push(name.clone());
            for i in list.iter() {
                index.insert(i, 1 << bit);
            }
        }
        index.len = index.v4.len()
            + index.v6.len()
            + index.domains.len()
            + index.urls.len()
            + index.fingerprints.len()
            + index.emails.len();
        index
    }

    fn insert(&mut self, i: &Indicator, bit: u64) {
        let map = match i {
            Indicator::Ip(IpNet::V4(n)) => return *self.v4.entry(*n).or_default() |= bit,
            Indicator::Ip(IpNet::V6(n)) => return *self.v6.entry(*n).or_default() |= bit,
            Indicator::Domain(s) => (&mut self.domains, s),
            Indicator::Url(s) => (&mut self.urls, s),
            Indicator::Fingerprint(s) => (&mut self.fingerprints, s),
            Indicator::Email(s) => (&mut self.emails, s),
        };
        *map.0.entry(map.1.as_str().into()).or_default() |= bit;
    }

    /// The indicators a session matches, each with its sources' bits. One pass
    /// over the session's fields (looking each field up by name instead costs a
    /// scan of them per name: most of the time matching took).
    fn matches(&self, rec: &SessionRecord) -> Vec<(String, u64)> {
        let mut hits: Vec<(String, u64)> = Vec::new();
        let ips_listed = !self.v4.is_empty() || !self.v6.is_empty();
        if ips_listed {
            for a in [rec.src_ip, rec.dst_ip].into_iter().flatten() {
                self.address(a.to_ip(), &mut hits);
            }
        }
        for (field, values) in rec.extra.iter() {
            match (role(field), values) {
                (Some(Role::Ip), Values::Ip(list)) if ips_listed => {
                    for a in list {
                        self.address(a.to_ip(), &mut hits);
                    }
                }
                (Some(Role::Domain), Values::Text(names)) if !self.domains.is_empty() => {
                    for name in names {
                        // The name, then each parent: `a.b.example` → `b.example` → `example`.
                        let mut suffix = name.trim_end_matches('.');
                        loop {
                            if let Some(bits) = self.domains.get(suffix) {
                                hit(&mut hits, suffix, *bits);
                            }
                            match suffix.split_once('.') {
                                Some((_, parent)) => suffix = parent,
                                None => break,
                            }
                        }
                    }
                }
                (Some(Role::Url), Values::Text(uris)) if !self.urls.is_empty() => {
                    for uri in uris {
                        let without_query = uri.split_once('?').map(|(u, _)| u);
                        for u in std::iter::once(uri.as_str()).chain(without_query) {
                            if let Some(bits) = self.urls.get(u) {
                                hit(&mut hits, u, *bits);
                            }
                        }
                    }
                }
                (Some(Role::Fingerprint), Values::Text(list)) if !self.fingerprints.is_empty() => {
                    for v in list {
                        // Certificate fingerprints are kept with `:` between bytes.
                        let key: std::borrow::Cow<str> = if v.contains(':') {
                            v.replace(':', "").to_ascii_lowercase().into()
                        } else if v.bytes().any(|b| b.is_ascii_uppercase()) {
                            v.to_ascii_lowercase().into()
                        } else {
                            v.as_str().into()
                        };
                        if let Some(bits) = self.fingerprints.get(key.as_ref()) {
                            hit(&mut hits, &key, *bits);
                        }
                    }
                }
                (Some(Role::Email), Values::Text(list)) if !self.emails.is_empty() => {
                    for v in list {
                        // `Name <a@b>` as mail headers write it.
                        let addr = v.rsplit_once('<').map_or(v.as_str(), |(_, a)| a.trim_end_matches('>')).trim();
                        if let Some(bits) = self.emails.get(addr) {
                            hit(&mut hits, addr, *bits);
                        }
                    }
                }
                _ => {}
            }
        }
        hits
    }

    /// The listed networks holding `ip`.
    fn address(&self, ip: std::net::IpAddr, hits: &mut Vec<(String, u64)>) {
        // Most addresses are in no listed network: the shortest match says so
        // without the covering walk, which allocates.
        match ip {
            std::net::IpAddr::V4(a) if self.v4.get_spm(&Ipv4Net::from(a)).is_some() => {
                for (net, bits) in self.v4.cover(&Ipv4Net::from(a)) {
                    hit(hits, &Indicator::Ip(net.into()).to_string(), *bits);
                }
            }
            std::net::IpAddr::V6(a) if self.v6.get_spm(&Ipv6Net::from(a)).is_some() => {
                for (net, bits) in self.v6.cover(&Ipv6Net::from(a)) {
                    hit(hits, &Indicator::Ip(net.into()).to_string(), *bits);
                }
            }
            _ => {}
        }
    }
}

/// Adds a match once (the same indicator may be met in several fields).
fn hit(hits: &mut Vec<(String, u64)>, text: &str, bits: u64) {
    if !hits.iter().any(|(t, _)| t == text) {
        hits.push((text.to_string(), bits));
    }
}

/// One source as last read.
struct SourceState {
    cfg: IntelSource,
    /// The file last read (good or bad).
    stamp: Option<Stamp>,
    indicators: Arc<Vec<Indicator>>,
    skipped: u64,
    /// When the indicators in use were read (0: never).
    loaded_ns: i64,
    /// Why the file as it is now was refused.
    error: Option<String>,
}

/// The indicator sources and their index, shared by every worker.
pub struct Intel {
    reload_every: Duration,
    index: ArcSwap<Index>,
    sources: Mutex<Vec<SourceState>>,
    /// Held while changed files are read.
    reading: Mutex<()>,
    matched: AtomicU64,
    reloads: AtomicU64,
}

/// A file's modification time and length: a change to either is a change.
type Stamp = (SystemTime, u64);

fn stamp(path: &Path) -> Option<Stamp> {
    let m = std::fs::metadata(path).ok()?;
    Some((m.modified().ok()?, m.len()))
}

/// Reads and parses one source file; the error names the source, the file and the line.
fn read_source(s: &IntelSource) -> Result<Parsed, String> {
    let fail = |what: String| format!("intel source `{}` ({}): {what}", s.name, s.path.display());
    let len = std::fs::metadata(&s.path).map_err(|e| fail(e.to_string()))?.len();
    if len > MAX_SOURCE_BYTES {
        return Err(fail(format!("{len} bytes, more than the {MAX_SOURCE_BYTES} a source may have")));
    }
    let bytes = std::fs::read(&s.path).map_err(|e| fail(e.to_string()))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let line = e.as_bytes()[..at].iter().filter(|b| **b == b'\n').count() + 1;
        fail(format!("line {line}: not UTF-8 text"))
    })?;
    formats::parse(&text, s.format, &s.column).map_err(|e| fail(e.to_string()))
}

impl Intel {
    /// Reads every source. A source that cannot be read is left out and its error
    /// returned with the others'; only a configuration that is wrong itself fails.
    pub fn load(cfg: &IntelConfig) -> Result<(Arc<Intel>, Vec<String>), String> {
        cfg.check()?;
        let mut problems = Vec::new();
        let sources = cfg
            .source
            .iter()
            .map(|s| {
                let mut state = SourceState {
                    cfg: s.clone(),
                    stamp: stamp(&s.path),
                    indicators: Arc::default(),
                    skipped: 0,
                    loaded_ns: 0,
                    error: None,
                };
                state.take(read_source(s), &mut problems);
                state
            })
            .collect::<Vec<_>>();
        let intel = Intel {
            reload_every: Duration::from_secs(cfg.reload_every_s.into()),
            index: ArcSwap::from_pointee(Index::default()),
            sources: Mutex::new(sources),
            reading: Mutex::new(()),
            matched: AtomicU64::new(0),
            reloads: AtomicU64::new(0),
        };
        let lists = Self::lists(&intel.sources.lock().unwrap_or_else(|p| p.into_inner()));
        intel.index.store(Arc::new(Index::build(&lists)));
        Ok((Arc::new(intel), problems))
    }

    /// Each source's name and indicators, as the index is built from them.
    fn lists(sources: &[SourceState]) -> Vec<(Arc<str>, Arc<Vec<Indicator>>)> {
        sources.iter().map(|s| (Arc::from(s.cfg.name.as_str()), s.indicators.clone())).collect()
    }

    /// Indicators in use, all sources together (one listed by two sources counts once).
    pub fn indicators(&self) -> usize {
        self.index.load().len
    }

    /// Reads again the sources whose file changed; returns what happened, for the
    /// log (`Ok`: read, with its count; `Err`: refused, the last good version kept).
    pub fn reload_changed(&self) -> Vec<Result<String, String>> {
        // Files are read without the lock held: the statistics (which take it) do
        // not wait for a large feed to be parsed. One watcher reads at a time.
        let _one_at_a_time = self.reading.lock().unwrap_or_else(|p| p.into_inner());
        let changed: Vec<(usize, IntelSource, Option<Stamp>)> = {
            let sources = self.sources.lock().unwrap_or_else(|p| p.into_inner());
            sources
                .iter()
                .enumerate()
                .filter_map(|(i, s)| {
                    let now = stamp(&s.cfg.path);
                    (now != s.stamp).then(|| (i, s.cfg.clone(), now))
                })
                .collect()
        };
        let read: Vec<_> = changed.into_iter().map(|(i, cfg, now)| (i, now, read_source(&cfg))).collect();
        let mut sources = self.sources.lock().unwrap_or_else(|p| p.into_inner());
        let mut said = Vec::new();
        for (i, now, parsed) in read {
            let s = &mut sources[i];
            s.stamp = now;
            let mut problems = Vec::new();
            s.take(parsed, &mut problems);
            match problems.pop() {
                Some(e) => said.push(Err(format!("{e} (its last good version stays in use)"))),
                None => said.push(Ok(format!(
                    "intel source `{}` read again: {} indicators",
                    s.cfg.name,
                    s.indicators.len()
                ))),
            }
        }
        if said.iter().any(Result::is_ok) {
            let lists = Self::lists(&sources);
            drop(sources);
            self.index.store(Arc::new(Index::build(&lists)));
            self.reloads.fetch_add(1, Ordering::Relaxed);
        }
        said
    }

    /// Looks at the source files every `reload_every_s` on a thread of its own, for
    /// as long as this `Intel` is in use; `log` is told what each look found.
    pub fn watch(self: &Arc<Self>, log: impl Fn(Result<String, String>) + Send + 'static) {
        if self.reload_every.is_zero() {
            return;
        }
        let weak: Weak<Intel> = Arc::downgrade(self);
        let every = self.reload_every;
        let _ = std::thread::Builder::new().name("tyto-intel".into()).spawn(move || loop {
            std::thread::sleep(every);
            let Some(intel) = weak.upgrade() else { return };
            for said in intel.reload_changed() {
                log(said);
            }
        });
    }
}

impl SourceState {
    fn take(&mut self, read: Result<Parsed, String>, problems: &mut Vec<String>) {
        match read {
            Ok(p) => {
                self.indicators = Arc::new(p.indicators);
                self.skipped = p.skipped;
                self.loaded_ns = tyto_schema::time::now_ns();
                self.error = None;
            }
            Err(e) => {
                self.error = Some(e.clone());
                problems.push(e);
            }
        }
    }
}

impl tyto_flow::Enrich for Intel {
    fn enrich(&self, rec: &mut SessionRecord) {
        let index = self.index.load();
        if index.len == 0 {
            return;
        }
        let hits = index.matches(rec);
        if hits.is_empty() {
            return;
        }
        self.matched.fetch_add(1, Ordering::Relaxed);
        for (text, bits) in hits {
            for (bit, name) in index.names.iter().enumerate() {
                if bits & (1 << bit) != 0 {
                    let _ = rec.extra.add_text("intel", &format!("{name}:{text}"));
                    let _ = rec.extra.add_text("intel.source", name);
                }
            }
        }
    }
}

impl Metrics for Intel {
    fn json(&self) -> serde_json::Value {
        let sources = self.sources.lock().unwrap_or_else(|p| p.into_inner());
        let list: Vec<serde_json::Value> = sources
            .iter()
            .map(|s| {
                json!({
                    "name": s.cfg.name,
                    "path": s.cfg.path,
                    "format": s.cfg.format.to_string(),
                    "indicators": s.indicators.len(),
                    "skipped": s.skipped,
                    "loaded": (s.loaded_ns > 0).then(|| tyto_schema::time::format_rfc3339(s.loaded_ns)),
                    "error": s.error,
                })
            })
            .collect();
        json!({
            "indicators": self.indicators(),
            "matched_sessions": self.matched.load(Ordering::Relaxed),
            "reloads": self.reloads.load(Ordering::Relaxed),
            "sources": list,
        })
    }

    fn families(&self) -> Vec<Family> {
        let sources = self.sources.lock().unwrap_or_else(|p| p.into_inner());
        let per_source = |f: &dyn Fn(&SourceState) -> u64| {
            sources.iter().map(|s| Sample { labels: vec![("source", s.cfg.name.clone())], value: f(s) }).collect()
        };
        vec![
            Family {
                name: "tyto_intel_indicators".into(),
                gauge: true,
                help: "Indicators in use, per source",
                samples: per_source(&|s| s.indicators.len() as u64),
            },
            Family {
                name: "tyto_intel_source_refused".into(),
                gauge: true,
                help: "1 when the source's file as it is now was refused (its last good version is in use)",
                samples: per_source(&|s| u64::from(s.error.is_some())),
            },
            Family {
                name: "tyto_intel_matched_sessions_total".into(),
                gauge: false,
                help: "Sessions that matched at least one indicator",
                samples: vec![Sample { labels: Vec::new(), value: self.matched.load(Ordering::Relaxed) }],
            },
        ]
    }
}

#[cfg(test)]
mod tests;
