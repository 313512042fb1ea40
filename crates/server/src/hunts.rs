//! Hunts (Arkime's packet search): the payloads of the first packets of every session
//! an expression selects, searched for text (any case or exact), hex bytes or a
//! regular expression, in either direction or one, in the background, one hunt at a
//! time, with progress and a cancel. Sessions that match are tagged `hunt:NAME` and
//! listed with the hunt.
//!
//! A hunt is bounded: sessions ([`MAX_SESSIONS`]), packets and bytes read per
//! session, bytes read in all and time. Only sessions its user may see are searched
//! (the forced expression and time limit apply as to any search), and only users who
//! may see packet bytes may hunt. Hunts live as long as the server (their tags stay).

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode};
use axum::{Extension, Json};
use regex::bytes::{Regex, RegexBuilder};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tyto_packet::{decode, LinkType};
use tyto_pcapstore::{decode_positions, PacketReader};
use tyto_store::{ListQuery, SessionPositions, SessionReader, TagChange};

use crate::auth::Authed;
use crate::export::sent_by;
use crate::history::Detail;
use crate::json_file::JsonFile;
use crate::nodes::Nodes;
use crate::params::Params;
use crate::stores::Stores;
use crate::{blocking, ApiError, AppState};

/// Sessions one hunt searches at most.
pub const MAX_SESSIONS: u64 = 1_000_000;
/// Packets searched per session: the default and the most.
const DEFAULT_PACKETS: usize = 50;
const MAX_PACKETS: usize = 10_000;
/// Packet bytes read per session at most, and per hunt.
const SESSION_BYTES: usize = 16 << 20;
const HUNT_BYTES: u64 = 64 << 30;
/// How long a hunt runs at most.
const HUNT_TIME: Duration = Duration::from_secs(3600);
/// Sessions whose places are read per store query.
const SESSIONS_PER_STEP: usize = 1000;
/// Matches kept in a hunt's listing (all are tagged).
const LISTED_MATCHES: usize = 10_000;
/// Hunts kept in the list (the oldest finished ones go first).
const KEPT_HUNTS: usize = 200;
/// Bytes a pattern may hold, and the compiled regular expression's size limit.
const MAX_PATTERN: usize = 1024;
const REGEX_SIZE: usize = 1 << 20;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Both,
    Src,
    Dst,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    Queued,
    Running,
    Finished,
    Cancelled,
    Failed,
}

/// What a hunt looks for, as asked.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Spec {
    pub name: String,
    pub search: String,
    /// `ascii` (any case), `asciicase`, `hex` or `regex` (Arkime's names).
    #[serde(rename = "searchType")]
    pub kind: String,
    pub direction: Direction,
    /// Packets searched per session (the first ones).
    pub size: usize,
    pub expression: Option<String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Progress {
    pub sessions_total: u64,
    pub sessions_searched: u64,
    pub packets_searched: u64,
    pub bytes_searched: u64,
    pub matched: u64,
    /// The first matching sessions' ids.
    pub matches: Vec<String>,
    /// Packets whose pcap files retention deleted.
    pub packets_gone: u64,
    pub seconds: f64,
    /// Why it stopped early (a bound) or failed.
    pub message: Option<String>,
}

pub struct Hunt {
    pub id: u64,
    pub user: String,
    pub created_ms: i64,
    pub spec: Spec,
    query: ListQuery,
    pattern: Regex,
    state: Mutex<(Stage, Progress)>,
    cancel: AtomicBool,
}

impl Hunt {
    /// The tag its matches get.
    pub fn tag(&self) -> String {
        format!("hunt:{}", self.spec.name)
    }

    fn json(&self) -> Value {
        let (state, progress) = &*lock(&self.state);
        json!({
            "id": self.id,
            "user": self.user,
            "created_ms": self.created_ms,
            "state": state,
            "tag": self.tag(),
            "spec": self.spec,
            "progress": progress,
        })
    }

    fn set(&self, f: impl FnOnce(&mut Stage, &mut Progress)) {
        let mut s = lock(&self.state);
        let (state, progress) = &mut *s;
        f(state, progress);
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The hunts of this server and the thread that runs them, one at a time. The list
/// is kept in `hunts.json` at each change of a hunt's stage, so it outlives the
/// server: hunts that were waiting or running when it stopped start again (from the
/// beginning: their tags are put on once whatever the runs).
#[derive(Default)]
pub struct Hunts {
    list: Mutex<Vec<Arc<Hunt>>>,
    queue: Mutex<VecDeque<Arc<Hunt>>>,
    wake: Condvar,
    next: AtomicU64,
    runner: Mutex<bool>,
    file: Option<JsonFile>,
    /// Held while the file is written.
    saving: Mutex<()>,
}

/// A hunt as `hunts.json` keeps it: what was asked, of which sessions (the range
/// the search had, the expression its owner typed), and how far it got.
#[derive(Serialize, Deserialize)]
struct SavedHunt {
    id: u64,
    user: String,
    created_ms: i64,
    spec: Spec,
    start_ns: Option<i64>,
    stop_ns: Option<i64>,
    stage: Stage,
    progress: Progress,
}

#[derive(Default, Serialize, Deserialize)]
struct SavedHunts {
    hunts: Vec<SavedHunt>,
}

/// What the runner needs of the server.
struct Context {
    stores: Arc<Stores>,
    nodes: Arc<Nodes>,
    data_dir: Arc<PathBuf>,
}

impl Context {
    fn of(state: &AppState) -> Context {
        Context { stores: state.stores.clone(), nodes: state.nodes.clone(), data_dir: state.data_dir.clone() }
    }
}

/// A saved hunt's sessions, asked again as its owner's search: the expression they
/// typed (with their forced expression as it is now) over the range it had.
fn requery(state: &AppState, h: &SavedHunt) -> Result<ListQuery, ApiError> {
    let user = state
        .users
        .get(&h.user)
        .map_err(|e| ApiError::internal(e.to_string()))?
        .ok_or_else(|| ApiError::not_found(format!("user {} no longer exists", h.user)))?;
    let mut pairs = vec![("date", "-1".to_string())];
    if let Some(e) = &h.spec.expression {
        pairs.push(("expression", e.clone()));
    }
    let mut q = Params::of(&pairs).with_shortcuts(state.shortcuts.clone()).search(&user)?;
    q.start_ns = h.start_ns.or(q.start_ns);
    q.stop_ns = h.stop_ns.or(q.stop_ns);
    Ok(q)
}

impl Hunts {
    pub fn new(path: PathBuf) -> Hunts {
        Hunts { file: Some(JsonFile::new(path)), ..Hunts::default() }
    }

    /// Writes the list to `hunts.json` (a failure is logged: the hunts go on).
    fn save(&self) {
        let Some(file) = &self.file else { return };
        let saved = SavedHunts {
            hunts: lock(&self.list)
                .iter()
                .map(|h| {
                    let (stage, progress) = lock(&h.state).clone();
                    SavedHunt {
                        id: h.id,
                        user: h.user.clone(),
                        created_ms: h.created_ms,
                        spec: h.spec.clone(),
                        start_ns: h.query.start_ns,
                        stop_ns: h.query.stop_ns,
                        stage,
                        progress,
                    }
                })
                .collect(),
        };
        let _held = lock(&self.saving);
        if let Err(e) = file.write(&saved) {
            tracing::warn!("hunts: {}", e.message);
        }
    }

    /// Reads `hunts.json` at the server's start: finished hunts are listed as they
    /// ended, waiting and running ones start again as their owners' searches.
    pub fn resume(self: &Arc<Self>, state: &AppState) -> Result<(), ApiError> {
        let Some(file) = &self.file else { return Ok(()) };
        let saved: SavedHunts = file.read()?;
        let mut again = Vec::new();
        // The pattern of a hunt that cannot run again: it never matches.
        let never = Regex::new("$^").expect("a valid pattern");
        for h in saved.hunts {
            let pattern = pattern(&h.spec.kind, &h.spec.search);
            let live = matches!(h.stage, Stage::Queued | Stage::Running);
            let query = if live { requery(state, &h) } else { Ok(ListQuery::default()) };
            let (stage, progress, pattern, query) = match (pattern, query) {
                (Ok(p), Ok(q)) if live => (
                    Stage::Queued,
                    Progress {
                        message: Some("started again: the viewer stopped during the hunt".into()),
                        ..Progress::default()
                    },
                    p,
                    q,
                ),
                (Ok(p), Ok(q)) => (h.stage, h.progress, p, q),
                (Err(e), _) | (_, Err(e)) => (
                    Stage::Failed,
                    Progress { message: Some(format!("not started again: {}", e.message)), ..h.progress },
                    never.clone(),
                    ListQuery::default(),
                ),
            };
            self.next.fetch_max(h.id, Ordering::Relaxed);
            let hunt = Arc::new(Hunt {
                id: h.id,
                user: h.user,
                created_ms: h.created_ms,
                spec: h.spec,
                query,
                pattern,
                state: Mutex::new((stage, progress)),
                cancel: AtomicBool::new(false),
            });
            if stage == Stage::Queued {
                again.push(hunt.clone());
            }
            lock(&self.list).push(hunt);
        }
        if !again.is_empty() {
            self.start_runner(Context::of(state))?;
            lock(&self.queue).extend(again);
            self.wake.notify_one();
        }
        Ok(())
    }

    fn start_runner(self: &Arc<Self>, ctx: Context) -> Result<(), ApiError> {
        let mut started = lock(&self.runner);
        if !*started {
            let me = self.clone();
            std::thread::Builder::new()
                .name("tyto-hunts".into())
                .spawn(move || me.run(ctx))
                .map_err(|e| ApiError::internal(format!("starting the hunts' thread: {e}")))?;
            *started = true;
        }
        Ok(())
    }

    fn add(self: &Arc<Self>, hunt: Arc<Hunt>, ctx: Context) -> Result<(), ApiError> {
        self.start_runner(ctx)?;
        {
            let mut list = lock(&self.list);
            list.push(hunt.clone());
            while list.len() > KEPT_HUNTS {
                let Some(old) = list.iter().position(|h| !matches!(lock(&h.state).0, Stage::Queued | Stage::Running))
                else {
                    break;
                };
                list.remove(old);
            }
        }
        self.save();
        lock(&self.queue).push_back(hunt);
        self.wake.notify_one();
        Ok(())
    }

    fn run(&self, ctx: Context) {
        loop {
            let hunt = {
                let mut q = lock(&self.queue);
                loop {
                    if let Some(h) = q.pop_front() {
                        break h;
                    }
                    q = self.wake.wait(q).unwrap_or_else(|p| p.into_inner());
                }
            };
            if hunt.cancel.load(Ordering::Relaxed) {
                hunt.set(|s, _| *s = Stage::Cancelled);
                self.save();
                continue;
            }
            hunt.set(|s, _| *s = Stage::Running);
            self.save();
            let started = Instant::now();
            let ended = search(&hunt, &ctx, started);
            hunt.set(|s, p| {
                p.seconds = started.elapsed().as_secs_f64();
                *s = match ended {
                    Ok(()) if hunt.cancel.load(Ordering::Relaxed) => Stage::Cancelled,
                    Ok(()) => Stage::Finished,
                    Err(e) => {
                        p.message = Some(e);
                        Stage::Failed
                    }
                };
            });
            self.save();
            tracing::info!(hunt = hunt.id, user = %hunt.user, "hunt {:?} ended: {}", hunt.spec.name, hunt.json()["progress"]);
        }
    }
}

/// The first `n` packets' places of an encoded list (file switches kept).
fn first_packets(encoded: &[i64], n: usize) -> &[i64] {
    let mut seen = 0;
    for (i, v) in encoded.iter().enumerate() {
        if *v >= 0 {
            seen += 1;
            if seen > n {
                return &encoded[..i];
            }
        }
    }
    encoded
}

fn search(hunt: &Hunt, ctx: &Context, started: Instant) -> Result<(), String> {
    let store = ctx.stores.background().map_err(|e| e.message)?;
    let store: &dyn SessionReader = store.as_ref();
    let total = store.count_matching(&hunt.query).map_err(|e| e.to_string())?;
    hunt.set(|_, p| p.sessions_total = total.min(MAX_SESSIONS));
    let one_way = hunt.spec.direction != Direction::Both;
    let (mut after, mut pending): (Option<SessionPositions>, Vec<String>) = (None, Vec::new());
    let (mut searched, mut bytes_read) = (0u64, 0u64);
    let tag = TagChange { add: vec![hunt.tag()], remove: Vec::new() };
    let stop = |why: Option<String>| hunt.set(|_, p| p.message = why);
    let mut local: Option<PacketReader> = None;
    'walk: loop {
        let page =
            store.positions_in_order(&hunt.query, after.as_ref(), SESSIONS_PER_STEP).map_err(|e| e.to_string())?;
        let Some(last) = page.last().cloned() else { break };
        // Each session's client address and port, when one direction is wanted.
        let clients = if one_way { clients_of(store, &hunt.query, &page)? } else { Default::default() };
        for s in &page {
            if hunt.cancel.load(Ordering::Relaxed) {
                break 'walk;
            }
            if searched >= MAX_SESSIONS {
                stop(Some(format!("stopped after {MAX_SESSIONS} sessions, the most a hunt searches")));
                break 'walk;
            }
            if bytes_read >= HUNT_BYTES || started.elapsed() >= HUNT_TIME {
                stop(Some(format!(
                    "stopped after {} GiB or {} minutes, the most a hunt reads",
                    HUNT_BYTES >> 30,
                    HUNT_TIME.as_secs() / 60
                )));
                break 'walk;
            }
            let wanted = first_packets(&s.positions, hunt.spec.size);
            let kept = if ctx.nodes.is_remote(&s.node) {
                ctx.nodes.read(&ctx.data_dir, &s.node, wanted, SESSION_BYTES).map_err(|e| e.message)?
            } else {
                // One reader for the whole hunt: its open files serve the next session.
                let reader = match &mut local {
                    Some(r) => r,
                    None => local.insert(crate::nodes::local_reader(&ctx.data_dir).map_err(|e| e.message)?),
                };
                reader
                    .read_kept(&decode_positions(wanted), SESSION_BYTES)
                    .map_err(|e| format!("reading a stored packet: {e}"))?
            };
            let client = clients.iter().find(|(id, _, _)| *id == s.id).map(|(_, ip, port)| (ip.as_str(), *port));
            let (mut found, mut packets, mut bytes) = (false, 0u64, 0u64);
            for p in &kept.packets {
                packets += 1;
                bytes += p.data.len() as u64;
                let Ok(d) = decode(LinkType(p.link_type), &p.data) else { continue };
                let Some(ip) = d.ip.as_ref() else { continue };
                if let Some((cip, cport)) = client {
                    if sent_by(ip, cip, cport) != (hunt.spec.direction == Direction::Src) {
                        continue;
                    }
                }
                if hunt.pattern.is_match(ip.payload(&p.data)) {
                    found = true;
                    break;
                }
            }
            searched += 1;
            bytes_read += bytes;
            if found {
                pending.push(s.id.clone());
            }
            let flush = pending.len() >= SESSIONS_PER_STEP;
            if flush {
                store
                    .change_tags(&hunt.query.clone().with_ids(std::mem::take(&mut pending)), &tag)
                    .map_err(|e| e.to_string())?;
            }
            hunt.set(|_, p| {
                p.sessions_searched = searched;
                p.packets_searched += packets;
                p.bytes_searched = bytes_read;
                p.packets_gone += kept.gone;
                p.seconds = started.elapsed().as_secs_f64();
                if found {
                    p.matched += 1;
                    if p.matches.len() < LISTED_MATCHES {
                        p.matches.push(s.id.clone());
                    }
                }
            });
        }
        after = Some(last);
    }
    if !pending.is_empty() {
        store.change_tags(&hunt.query.clone().with_ids(pending), &tag).map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// (id, client address, client port) of a page's sessions.
fn clients_of(
    store: &dyn SessionReader,
    q: &ListQuery,
    page: &[SessionPositions],
) -> Result<Vec<(String, String, u16)>, String> {
    let fields = ["id", "ip.src", "port.src"].map(|n| tyto_schema::field(n).expect("catalogue field"));
    let ids = page.iter().map(|s| s.id.clone()).collect();
    let rows = store
        .list(&ListQuery { limit: page.len(), fields: Some(fields.to_vec()), ..q.clone().with_ids(ids) })
        .map_err(|e| e.to_string())?;
    Ok(rows
        .iter()
        .map(|r| {
            let text = |k: &str| r.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
            let port = r.get("port.src").and_then(Value::as_u64).unwrap_or(0);
            (text("id"), text("ip.src"), u16::try_from(port).unwrap_or(0))
        })
        .collect())
}

/// The pattern of a search: text (any case or exact) and hex as literal bytes, a
/// regular expression as written (RE2 syntax, over bytes).
fn pattern(kind: &str, search: &str) -> Result<Regex, ApiError> {
    let bad = |m: String| ApiError::bad_request(m);
    let (text, case_insensitive) = match kind {
        "ascii" => (regex::escape(search), true),
        "asciicase" => (regex::escape(search), false),
        "hex" => {
            let digits: String = search.chars().filter(|c| !c.is_whitespace() && *c != ':').collect();
            if digits.is_empty() || digits.len() % 2 == 1 || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(bad(format!("search {search:?}: not hex bytes (pairs of 0-9, a-f)")));
            }
            let bytes: String =
                digits.as_bytes().chunks(2).map(|p| format!("\\x{}", std::str::from_utf8(p).unwrap_or("00"))).collect();
            (bytes, false)
        }
        "regex" => (search.to_string(), false),
        other => return Err(bad(format!("searchType={other:?}: ascii, asciicase, hex or regex"))),
    };
    RegexBuilder::new(&text)
        .case_insensitive(case_insensitive)
        .unicode(false)
        .size_limit(REGEX_SIZE)
        .build()
        .map_err(|e| bad(format!("search {search:?}: not a regular expression: {e}")))
}

/// `POST /api/hunt`: starts a hunt over the sessions of the search (`expression`,
/// `date` or `startTime`/`stopTime`): `name`, `search`, `searchType` (ascii,
/// asciicase, hex, regex), `src`/`dst` (directions searched; both by default), `size`
/// (packets per session, 50 by default). Parameters in the query string or a form or
/// JSON body. 202 with the hunt.
pub async fn start(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    params: Params,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Extension<Detail>, Json<Value>), ApiError> {
    let user = &authed.user;
    if !user.see_packets {
        return Err(ApiError::forbidden(format!("user {} may not see packets, so may not hunt in them", user.name)));
    }
    let params = params.with_body(&headers, body.as_ref())?;
    let name = params.get("name").map(str::trim).unwrap_or_default().to_string();
    if name.is_empty() || name.len() > 64 || name.chars().any(|c| c.is_control() || c == ',') {
        return Err(ApiError::bad_request("name: 1 to 64 characters, no commas (the matches' tag is hunt:NAME)"));
    }
    let search = params.get("search").unwrap_or_default().to_string();
    if search.is_empty() || search.len() > MAX_PATTERN {
        return Err(ApiError::bad_request(format!("search: 1 to {MAX_PATTERN} bytes")));
    }
    let kind = params.get("searchType").or(params.get("type")).unwrap_or("ascii").to_string();
    let pattern = pattern(&kind, &search)?;
    let direction = match (params.bool("src")?, params.bool("dst")?) {
        (Some(true), Some(false)) => Direction::Src,
        (Some(false), Some(true)) => Direction::Dst,
        (Some(false), Some(false)) => return Err(ApiError::bad_request("src and dst are both off: nothing to search")),
        _ => Direction::Both,
    };
    let size = params.number("size", DEFAULT_PACKETS, MAX_PACKETS)?.max(1);
    let query = params.search(user)?;
    let spec = Spec {
        name: name.clone(),
        search,
        kind,
        direction,
        size,
        expression: params.get("expression").map(String::from),
    };
    let hunts = state.hunts.clone();
    let hunt = Arc::new(Hunt {
        id: hunts.next.fetch_add(1, Ordering::Relaxed) + 1,
        user: user.name.clone(),
        created_ms: tyto_schema::time::now_ns() / 1_000_000,
        spec,
        query,
        pattern,
        state: Mutex::new((Stage::Queued, Progress::default())),
        cancel: AtomicBool::new(false),
    });
    let out = hunt.json();
    let (queued, ctx) = (hunt.clone(), Context::of(&state));
    blocking(move || hunts.add(queued, ctx)).await?;
    let detail = json!({ "hunt": hunt.id, "name": name, "search": hunt.spec.search, "searchType": hunt.spec.kind });
    Ok((StatusCode::ACCEPTED, Extension(Detail(detail)), Json(out)))
}

/// `GET /api/hunts`: the hunts, newest first, with their progress: an admin's list
/// holds everyone's, anyone else's their own.
pub async fn list(State(state): State<AppState>, Extension(authed): Extension<Authed>) -> Json<Value> {
    let hunts: Vec<Value> = lock(&state.hunts.list)
        .iter()
        .rev()
        .filter(|h| authed.user.admin || h.user == authed.user.name)
        .map(|h| h.json())
        .collect();
    Json(json!({ "data": hunts }))
}

fn own(state: &AppState, authed: &Authed, id: u64) -> Result<Arc<Hunt>, ApiError> {
    lock(&state.hunts.list)
        .iter()
        .find(|h| h.id == id && (authed.user.admin || h.user == authed.user.name))
        .cloned()
        .ok_or_else(|| ApiError::not_found(format!("no hunt {id}")))
}

/// `POST /api/hunt/ID/cancel`: stops a hunt (what it found stays tagged).
pub async fn cancel(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    UrlPath(id): UrlPath<u64>,
) -> Result<Json<Value>, ApiError> {
    let hunt = own(&state, &authed, id)?;
    hunt.cancel.store(true, Ordering::Relaxed);
    hunt.set(|s, _| {
        if *s == Stage::Queued {
            *s = Stage::Cancelled;
        }
    });
    let hunts = state.hunts.clone();
    blocking(move || {
        hunts.save();
        Ok(())
    })
    .await?;
    Ok(Json(hunt.json()))
}

/// `DELETE /api/hunt/ID`: cancels a hunt and takes it off the list (its tags stay).
pub async fn remove(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    UrlPath(id): UrlPath<u64>,
) -> Result<Json<Value>, ApiError> {
    let hunt = own(&state, &authed, id)?;
    hunt.cancel.store(true, Ordering::Relaxed);
    lock(&state.hunts.list).retain(|h| h.id != id);
    let hunts = state.hunts.clone();
    blocking(move || {
        hunts.save();
        Ok(())
    })
    .await?;
    Ok(Json(json!({ "success": true })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_what_each_kind_means() {
        let p = |k: &str, s: &str| pattern(k, s).unwrap();
        assert!(p("ascii", "get /").is_match(b"GET /index.html"));
        assert!(!p("asciicase", "get /").is_match(b"GET /index.html"));
        assert!(p("asciicase", "a.b").is_match(b"xa.b") && !p("asciicase", "a.b").is_match(b"axb"));
        assert!(p("hex", "00 ff:10").is_match(b"\x01\x00\xff\x10"));
        assert!(p("regex", r"GET /[a-z]+\.html").is_match(b"GET /index.html HTTP/1.1"));
        assert!(p("regex", r"\xff\x00").is_match(b"\xff\x00"), "regular expressions over bytes");
        for (k, s) in [("hex", "abc"), ("hex", "zz"), ("regex", "(unclosed"), ("base64", "x"), ("regex", "a{100000}")] {
            assert!(pattern(k, s).is_err(), "{k} {s}");
        }
    }

    #[test]
    fn the_first_packets_keep_their_file() {
        assert_eq!(first_packets(&[-1, 10, 20, -2, 30, 40], 3), &[-1, 10, 20, -2, 30]);
        assert_eq!(first_packets(&[-1, 10, 20], 5), &[-1, 10, 20]);
        assert_eq!(first_packets(&[-1, 10, 20, -2, 30], 2), &[-1, 10, 20, -2]);
    }
}
