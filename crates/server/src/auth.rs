//! Who is asking: a login cookie (browsers), HTTP Digest or Basic (scripts, as
//! `curl --anyauth -u user:pass` does). Every route but the login page and static
//! assets goes through [`require_user`].
//!
//! - Cookie sessions live in memory (bounded, expiring); the cookie is HttpOnly and
//!   SameSite=Strict, and requests that change state with a cookie must also carry
//!   the session's CSRF token in `X-Tyto-CSRF`. A session ends when its user's
//!   password changes.
//! - Digest nonces carry their time and an HMAC of it under the server's secret; they
//!   last [`NONCE_LIFE`] and a stale one is answered with `stale=true`, which clients
//!   retry silently. Each nonce's highest `nc` is remembered, so a header cannot be
//!   replayed. Digest works only for users who chose it (`tyto user add --digest`):
//!   its stored HA1 is as good as the password on this realm.
//! - Passwords (logins, Basic) are checked with argon2, slow and memory-hungry on
//!   purpose: at most [`CHECKS_AT_ONCE`] run at a time and [`CHECKS_WAITING`] wait, so a
//!   flood of guesses costs a fixed amount of memory; an unknown name costs the same
//!   check as a known one, so names cannot be told apart by time. A correct Basic check
//!   is remembered briefly so a script's every request does not pay it again.
//! - Failed logins are counted before the check ([`crate::throttle`]).

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use md5::{Digest as _, Md5};
use sha2::Sha256;

use crate::auth_header::auth_params;
use crate::throttle::{Attempt, Throttle};
use crate::users::{hex, User, REALM};
use crate::{error_response, AppState};

pub const COOKIE: &str = "tyto_sid";
pub const CSRF_HEADER: &str = "x-tyto-csrf";
/// The web UI sends this so that a 401 does not make the browser pop up its own dialog.
pub const UI_HEADER: &str = "x-tyto-ui";
const NONCE_LIFE: Duration = Duration::from_secs(300);
/// Nonces whose `nc` is remembered; past it the oldest are forgotten (and a client
/// holding one is asked for a new nonce).
const MAX_NONCES: usize = 10_000;
const COOKIE_IDLE: Duration = Duration::from_secs(8 * 3600);
const MAX_COOKIE_SESSIONS: usize = 10_000;
const BASIC_CACHE_LIFE: Duration = Duration::from_secs(300);
const MAX_BASIC_CACHE: usize = 1_000;
/// argon2 checks running at once (each takes ~19 MiB and tens of ms of one core).
pub const CHECKS_AT_ONCE: usize = 2;
/// Checks waiting for their turn; past this a login is answered 503 at once.
pub const CHECKS_WAITING: usize = 64;

/// The server's secret: signs Digest nonces. Made once per data directory.
pub fn load_secret(data_dir: &Path) -> std::io::Result<[u8; 32]> {
    let path = tyto_schema::DataDir::new(data_dir).server_key();
    if let Ok(text) = std::fs::read_to_string(&path) {
        let bytes: Vec<u8> = (0..text.trim().len() / 2)
            .filter_map(|i| u8::from_str_radix(text.trim().get(i * 2..i * 2 + 2)?, 16).ok())
            .collect();
        if let Ok(key) = <[u8; 32]>::try_from(bytes) {
            return Ok(key);
        }
    }
    let mut key = [0u8; 32];
    getrandom::fill(&mut key).map_err(|e| std::io::Error::other(e.to_string()))?;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    std::io::Write::write_all(&mut opts.open(&path)?, hex(&key).as_bytes())?;
    Ok(key)
}

pub fn random_token() -> String {
    let mut b = [0u8; 24];
    getrandom::fill(&mut b).expect("the system's random source");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

struct CookieSession {
    user: String,
    csrf: String,
    /// Which password the session was opened with ([`password_tag`]).
    password: [u8; 8],
    last_used: Instant,
}

/// A short fingerprint of a user's stored hash: it changes with the password.
fn password_tag(user: &User) -> [u8; 8] {
    let d = <Sha256 as sha2::Digest>::digest(user.argon2.as_bytes());
    let mut t = [0u8; 8];
    t.copy_from_slice(&d[..8]);
    t
}

/// How a request proved who it is.
#[derive(Clone, Debug)]
pub enum Via {
    Cookie { csrf: String },
    Header,
}

/// The user behind a request, put in its extensions by [`require_user`].
#[derive(Clone, Debug)]
pub struct Authed {
    pub user: User,
    pub via: Via,
}

/// Why a login was not let in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Wrong user or password (or a header not ours).
    Wrong,
    /// Too many wrong passwords from there lately.
    Throttled,
    /// Too many checks waiting already.
    Busy,
}

pub struct Auth {
    secret: [u8; 32],
    cookies: Mutex<HashMap<String, CookieSession>>,
    basic_ok: Mutex<HashMap<[u8; 32], Instant>>,
    pub throttle: Throttle,
    /// Digest nonce → the highest `nc` used with it, and when it was first used.
    nonce_counts: Mutex<HashMap<String, (u64, Instant)>>,
    checks: PasswordChecks,
    pub secure_cookies: bool,
}

/// A password check to run: the stored hash, the password given, where the answer goes.
type CheckJob = (Option<String>, String, tokio::sync::oneshot::Sender<bool>);

/// argon2 checks on [`CHECKS_AT_ONCE`] threads of their own, fed by a queue of
/// [`CHECKS_WAITING`]. Threads of their own, not the runtime's blocking pool: each
/// check takes 19 MiB, and the C allocator keeps freed blocks in a per-thread arena,
/// so checks spread over many threads kept hundreds of MB (measured: 726 MB after
/// 150 wrong logins); two long-lived threads keep two blocks.
struct PasswordChecks {
    jobs: std::sync::mpsc::SyncSender<CheckJob>,
}

impl PasswordChecks {
    fn start() -> PasswordChecks {
        let (jobs, queue) = std::sync::mpsc::sync_channel::<CheckJob>(CHECKS_WAITING);
        let queue = Arc::new(Mutex::new(queue));
        for i in 0..CHECKS_AT_ONCE {
            let queue = queue.clone();
            let spawned = std::thread::Builder::new().name(format!("tyto-login-{i}")).spawn(move || {
                let mut memory = Vec::new();
                loop {
                    let job = lock(&queue).recv();
                    let Ok((hash, password, answer)) = job else { return };
                    // Unknown names are checked against the decoy, made here so that
                    // only these threads ever run argon2.
                    let hash = hash.as_deref().unwrap_or_else(|| decoy_hash());
                    let _ = answer.send(crate::users::verify_password_in(hash, &password, &mut memory));
                }
            });
            if let Err(e) = spawned {
                tracing::error!("starting a password check thread: {e}");
            }
        }
        PasswordChecks { jobs }
    }

    /// Whether `password` matches `hash`; `Busy` when the queue is full.
    /// `hash` `None`: an unknown name, checked against the decoy.
    async fn check(&self, hash: Option<String>, password: String) -> Result<bool, Refusal> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.jobs.try_send((hash, password, tx)).map_err(|_| Refusal::Busy)?;
        rx.await.map_err(|_| Refusal::Busy)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn now_s() -> u64 {
    (tyto_schema::time::now_ns() / 1_000_000_000).max(0) as u64
}

fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A hash no password matches, checked for unknown names so they take as long as known ones.
fn decoy_hash() -> &'static str {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY.get_or_init(|| {
        let mut pw = [0u8; 32];
        let _ = getrandom::fill(&mut pw);
        crate::users::hash_password("", &hex(&pw)).map(|(h, _)| h).unwrap_or_default()
    })
}

impl Auth {
    pub fn new(secret: [u8; 32], secure_cookies: bool) -> Auth {
        Auth {
            secret,
            cookies: Mutex::new(HashMap::new()),
            basic_ok: Mutex::new(HashMap::new()),
            throttle: Throttle::default(),
            nonce_counts: Mutex::new(HashMap::new()),
            checks: PasswordChecks::start(),
            secure_cookies,
        }
    }

    fn hmac(&self, data: &[u8]) -> Vec<u8> {
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(&self.secret).expect("any key length");
        m.update(data);
        m.finalize().into_bytes().to_vec()
    }

    pub fn new_nonce(&self) -> String {
        let mut r = [0u8; 8];
        let _ = getrandom::fill(&mut r);
        let t = format!("{:x}-{}", now_s(), hex(&r));
        format!("{t}.{}", hex(&self.hmac(t.as_bytes())[..16]))
    }

    /// `Some(true)` fresh, `Some(false)` genuine but too old, `None` not ours.
    fn nonce_fresh(&self, nonce: &str) -> Option<bool> {
        let (t, mac) = nonce.split_once('.')?;
        if !ct_eq(mac.as_bytes(), hex(&self.hmac(t.as_bytes())[..16]).as_bytes()) {
            return None;
        }
        let then = u64::from_str_radix(t.split('-').next()?, 16).ok()?;
        let now = now_s();
        Some(now.saturating_sub(then) <= NONCE_LIFE.as_secs() && then <= now + 5)
    }

    /// Takes `nc` for `nonce` if it is higher than any used with it before.
    fn nonce_count_ok(&self, nonce: &str, nc: u64) -> bool {
        let mut map = lock(&self.nonce_counts);
        if let Some((last, _)) = map.get_mut(nonce) {
            if nc <= *last {
                return false;
            }
            *last = nc;
            return true;
        }
        if map.len() >= MAX_NONCES {
            map.retain(|_, (_, first)| first.elapsed() <= NONCE_LIFE);
            if map.len() >= MAX_NONCES {
                // Forgetting a nonce would let its headers be replayed: refuse it instead
                // (the client is asked for a new one).
                return false;
            }
        }
        map.insert(nonce.to_string(), (nc, Instant::now()));
        true
    }

    /// Starts a cookie session; returns (token, csrf).
    pub fn start_session(&self, user: &User) -> (String, String) {
        let token = random_token();
        let csrf = random_token();
        let mut map = lock(&self.cookies);
        if map.len() >= MAX_COOKIE_SESSIONS {
            map.retain(|_, s| s.last_used.elapsed() < COOKIE_IDLE);
            if map.len() >= MAX_COOKIE_SESSIONS {
                if let Some(oldest) = map.iter().min_by_key(|(_, s)| s.last_used).map(|(k, _)| k.clone()) {
                    map.remove(&oldest);
                }
            }
        }
        let session = CookieSession {
            user: user.name.clone(),
            csrf: csrf.clone(),
            password: password_tag(user),
            last_used: Instant::now(),
        };
        map.insert(token.clone(), session);
        (token, csrf)
    }

    pub fn end_session(&self, token: &str) {
        lock(&self.cookies).remove(token);
    }

    /// The session's user name, CSRF token and password tag.
    fn cookie_user(&self, token: &str) -> Option<(String, String, [u8; 8])> {
        let mut map = lock(&self.cookies);
        let s = map.get_mut(token)?;
        if s.last_used.elapsed() > COOKIE_IDLE {
            map.remove(token);
            return None;
        }
        s.last_used = Instant::now();
        Some((s.user.clone(), s.csrf.clone(), s.password))
    }

    /// A password check of `name` (the user as `lookup` finds it), within the throttle
    /// and the bound on concurrent checks. The same work is done whether the name
    /// exists or not.
    pub async fn check_password(
        self: &Arc<Self>,
        lookup: impl FnOnce() -> Option<User> + Send + 'static,
        name: &str,
        password: String,
        peer: Option<IpAddr>,
    ) -> Result<User, Refusal> {
        let attempt = Attempt::new(peer, name);
        let user = tokio::task::spawn_blocking(lookup).await.ok().flatten();
        let cache_key = user.as_ref().map(|u| basic_key(u, &password));
        if let (Some(u), Some(k)) = (&user, &cache_key) {
            if lock(&self.basic_ok).get(k).is_some_and(|t| t.elapsed() < BASIC_CACHE_LIFE) {
                return Ok(u.clone());
            }
        }
        if !self.throttle.begin(&attempt) {
            return Err(Refusal::Throttled);
        }
        let hash = user.as_ref().map(|u| u.argon2.clone());
        let ok = self.checks.check(hash, password).await?;
        match (ok, user) {
            (true, Some(u)) => {
                self.throttle.succeeded(&attempt);
                let mut map = lock(&self.basic_ok);
                if map.len() >= MAX_BASIC_CACHE {
                    map.retain(|_, t| t.elapsed() < BASIC_CACHE_LIFE);
                    if map.len() >= MAX_BASIC_CACHE {
                        map.clear();
                    }
                }
                if let Some(k) = cache_key {
                    map.insert(k, Instant::now());
                }
                Ok(u)
            }
            _ => Err(Refusal::Wrong),
        }
    }
}

/// What a correct Basic check is remembered by: the user, the password and the hash
/// it matched (so a new password forgets it).
fn basic_key(user: &User, password: &str) -> [u8; 32] {
    let mut h = <Sha256 as sha2::Digest>::new();
    for part in [user.name.as_bytes(), password.as_bytes(), user.argon2.as_bytes()] {
        sha2::Digest::update(&mut h, (part.len() as u64).to_le_bytes());
        sha2::Digest::update(&mut h, part);
    }
    sha2::Digest::finalize(h).into()
}

fn md5_hex(s: &str) -> String {
    hex(&Md5::digest(s.as_bytes()))
}

enum HeaderCheck {
    Ok(User),
    Stale,
    Refused(Refusal),
}

/// A Digest header (RFC 7616, MD5, qop=auth) checked against the user's HA1.
fn check_digest(state: &AppState, rest: &str, method: &Method, uri: &str, peer: Option<IpAddr>) -> HeaderCheck {
    let p = auth_params(rest);
    let get = |k: &str| p.get(k).map(String::as_str).unwrap_or("");
    if get("realm") != REALM
        || !matches!(get("algorithm"), "" | "MD5" | "md5")
        || get("uri") != uri
        || get("qop") != "auth"
    {
        return HeaderCheck::Refused(Refusal::Wrong);
    }
    let Ok(nc) = u64::from_str_radix(get("nc"), 16) else { return HeaderCheck::Refused(Refusal::Wrong) };
    let name = get("username");
    let attempt = Attempt::new(peer, name);
    if state.auth.throttle.refused(&attempt) {
        return HeaderCheck::Refused(Refusal::Throttled);
    }
    let user = match state.users.get(name) {
        Ok(Some(u)) if !u.digest_ha1.is_empty() => Some(u),
        _ => None,
    };
    let ha1 = user.as_ref().map_or("", |u| u.digest_ha1.as_str());
    let ha2 = md5_hex(&format!("{}:{}", method.as_str(), get("uri")));
    let expected = md5_hex(&format!("{ha1}:{}:{}:{}:auth:{ha2}", get("nonce"), get("nc"), get("cnonce")));
    let Some(user) = user.filter(|_| ct_eq(expected.as_bytes(), get("response").to_ascii_lowercase().as_bytes()))
    else {
        state.auth.throttle.begin(&attempt);
        return HeaderCheck::Refused(Refusal::Wrong);
    };
    match state.auth.nonce_fresh(get("nonce")) {
        Some(true) if state.auth.nonce_count_ok(get("nonce"), nc) => HeaderCheck::Ok(user),
        // A replayed count, or a nonce too old: the client asks for a new one.
        Some(_) => HeaderCheck::Stale,
        None => HeaderCheck::Refused(Refusal::Wrong),
    }
}

async fn check_authorization(
    state: &AppState,
    value: &str,
    method: &Method,
    uri: &str,
    peer: Option<IpAddr>,
) -> HeaderCheck {
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    if scheme.eq_ignore_ascii_case("basic") {
        let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(rest.trim()) else {
            return HeaderCheck::Refused(Refusal::Wrong);
        };
        let Ok(text) = String::from_utf8(raw) else { return HeaderCheck::Refused(Refusal::Wrong) };
        let Some((name, password)) = text.split_once(':') else { return HeaderCheck::Refused(Refusal::Wrong) };
        let users = state.users.clone();
        let who = name.to_string();
        match state.auth.check_password(move || users.get(&who).ok().flatten(), name, password.to_string(), peer).await
        {
            Ok(u) => HeaderCheck::Ok(u),
            Err(r) => HeaderCheck::Refused(r),
        }
    } else if scheme.eq_ignore_ascii_case("digest") {
        check_digest(state, rest, method, uri, peer)
    } else {
        HeaderCheck::Refused(Refusal::Wrong)
    }
}

pub fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    for v in headers.get_all(header::COOKIE) {
        for part in v.to_str().ok()?.split(';') {
            if let Some((k, val)) = part.trim().split_once('=') {
                if k == name {
                    return Some(val.to_string());
                }
            }
        }
    }
    None
}

/// Routes that answer without a login.
pub fn is_public(method: &Method, path: &str) -> bool {
    matches!(path, "/login" | "/favicon.ico")
        || (path == "/api/login" && method == Method::POST)
        // Up or down and nothing else, for load balancers (`metrics::health`).
        || (path == "/health" && (method == Method::GET || method == Method::HEAD))
        // Nodes sign their requests with the shared secret; the handler checks it.
        || (path == crate::nodes::NODE_PATH && method == Method::POST)
        || path.starts_with("/assets/")
}

fn unauthorized(state: &AppState, headers: &HeaderMap, stale: bool) -> Response {
    let mut r = error_response(StatusCode::UNAUTHORIZED, "log in first: a session cookie, HTTP Digest or Basic");
    // The UI asks with its own header and gets no challenge, so the browser does not
    // pop up its password dialog; scripts get Basic, and Digest when some user chose it
    // (curl --anyauth picks Digest whenever it is offered).
    if !headers.contains_key(UI_HEADER) {
        let h = r.headers_mut();
        if state.users.all().is_ok_and(|users| users.iter().any(|u| !u.digest_ha1.is_empty())) {
            let digest = format!(
                "Digest realm=\"{REALM}\", qop=\"auth\", algorithm=MD5, nonce=\"{}\"{}",
                state.auth.new_nonce(),
                if stale { ", stale=true" } else { "" }
            );
            h.append(header::WWW_AUTHENTICATE, HeaderValue::from_str(&digest).expect("ascii"));
        }
        h.append(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"Tyto\", charset=\"UTF-8\""));
    }
    r
}

/// The answer to a refused login: 401 (with challenges), 429 or 503.
pub fn refused(state: &AppState, headers: &HeaderMap, why: Refusal) -> Response {
    match why {
        Refusal::Wrong => unauthorized(state, headers, false),
        Refusal::Throttled => {
            let mut r =
                error_response(StatusCode::TOO_MANY_REQUESTS, "too many failed logins from here; wait a minute");
            r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("60"));
            r
        }
        Refusal::Busy => {
            let mut r = error_response(StatusCode::SERVICE_UNAVAILABLE, "too many logins at once; try again shortly");
            r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            r
        }
    }
}

pub fn peer(req: &Request) -> Option<IpAddr> {
    req.extensions().get::<ConnectInfo<std::net::SocketAddr>>().map(|c| c.0.ip())
}

/// The gate in front of every route.
pub async fn require_user(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    if is_public(&method, &path) {
        return next.run(req).await;
    }
    let headers = req.headers().clone();
    let mut authed = None;
    let mut stale = false;
    if let Some(token) = cookie_value(&headers, COOKIE) {
        if let Some((name, csrf, tag)) = state.auth.cookie_user(&token) {
            match state.users.get(&name) {
                Ok(Some(user)) if password_tag(&user) == tag => {
                    authed = Some(Authed { user, via: Via::Cookie { csrf } })
                }
                // The user is gone or has a new password: the session ends.
                _ => state.auth.end_session(&token),
            }
        }
    }
    if authed.is_none() {
        if let Some(value) = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) {
            let uri = req.uri().path_and_query().map_or(path.clone(), |p| p.as_str().to_string());
            match check_authorization(&state, value, &method, &uri, peer(&req)).await {
                HeaderCheck::Ok(user) => authed = Some(Authed { user, via: Via::Header }),
                HeaderCheck::Stale => stale = true,
                HeaderCheck::Refused(Refusal::Wrong) => {}
                HeaderCheck::Refused(why) => return refused(&state, &headers, why),
            }
        }
    }
    let Some(authed) = authed else {
        let wants_page = method == Method::GET
            && !path.starts_with("/api/")
            && headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|a| a.contains("text/html"));
        if wants_page {
            return Redirect::to("/login").into_response();
        }
        return unauthorized(&state, &headers, stale);
    };
    let changes_state = !matches!(method, Method::GET | Method::HEAD | Method::OPTIONS);
    if changes_state {
        if let Via::Cookie { csrf, .. } = &authed.via {
            let sent = headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()).unwrap_or("");
            if !ct_eq(sent.as_bytes(), csrf.as_bytes()) {
                return error_response(StatusCode::FORBIDDEN, "missing or wrong X-Tyto-CSRF header");
            }
        }
    }
    let entry = crate::history::recorded(&path)
        .then(|| crate::history::Entry::new(&authed.user.name, &method, &path, req.uri().query()));
    req.extensions_mut().insert(authed);
    let started = std::time::Instant::now();
    let resp = next.run(req).await;
    if let Some(mut entry) = entry {
        entry.status = resp.status().as_u16();
        entry.ms = started.elapsed().as_millis() as u64;
        entry.detail = resp.extensions().get::<crate::history::Detail>().map(|d| d.0.clone());
        state.history.add(&entry);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonces_are_ours_and_expire() {
        let a = Auth::new([7; 32], false);
        let n = a.new_nonce();
        assert_eq!(a.nonce_fresh(&n), Some(true));
        assert_ne!(a.new_nonce(), n, "two nonces of one second differ");
        assert_eq!(Auth::new([8; 32], false).nonce_fresh(&n), None, "another server's nonce");
        let old = format!("{:x}-00", 1_000_000u64);
        let forged = format!("{old}.{}", hex(&a.hmac(old.as_bytes())[..16]));
        assert_eq!(a.nonce_fresh(&forged), Some(false));
        assert_eq!(a.nonce_fresh("zz.zz"), None);
    }

    #[test]
    fn a_nonce_count_is_taken_once_and_only_upwards() {
        let a = Auth::new([7; 32], false);
        assert!(a.nonce_count_ok("n1", 1));
        assert!(!a.nonce_count_ok("n1", 1), "replayed");
        assert!(a.nonce_count_ok("n1", 2));
        assert!(!a.nonce_count_ok("n1", 1));
        assert!(a.nonce_count_ok("n2", 1));
    }
}
