//! Who is asking: a login cookie (browsers), HTTP Digest or Basic (scripts, as
//! `curl --anyauth -u user:pass` does). Every route but the login page and static
//! assets goes through [`require_user`].
//!
//! - Cookie sessions live in memory (bounded, expiring); the cookie is HttpOnly and
//!   SameSite=Strict, and requests that change state with a cookie must also carry
//!   the session's CSRF token in `X-Tyto-CSRF`.
//! - Digest nonces carry their time and an HMAC of it under the server's secret, so
//!   no nonce table is kept; they last [`NONCE_LIFE`] and a stale one is answered
//!   with `stale=true`, which clients retry silently.
//! - Basic checks argon2 (slow on purpose); a correct check is remembered briefly so
//!   a script's every request does not pay it again.
//! - Failed logins are counted per address and per name; past a few, logins from
//!   there are refused for a while.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;
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
use crate::users::{hex, User, REALM};
use crate::{error_response, AppState};

pub const COOKIE: &str = "tyto_sid";
pub const CSRF_HEADER: &str = "x-tyto-csrf";
/// The web UI sends this so that a 401 does not make the browser pop up its own dialog.
pub const UI_HEADER: &str = "x-tyto-ui";
const NONCE_LIFE: Duration = Duration::from_secs(300);
const COOKIE_IDLE: Duration = Duration::from_secs(8 * 3600);
const MAX_COOKIE_SESSIONS: usize = 10_000;
const BASIC_CACHE_LIFE: Duration = Duration::from_secs(300);
const MAX_BASIC_CACHE: usize = 1_000;
const MAX_FAILURES: u32 = 5;
const FAILURE_WINDOW: Duration = Duration::from_secs(60);
const MAX_THROTTLE_KEYS: usize = 10_000;

/// The server's secret: signs Digest nonces. Made once per data directory.
pub fn load_secret(data_dir: &Path) -> std::io::Result<[u8; 32]> {
    let path = data_dir.join("server.key");
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
    last_used: Instant,
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

pub struct Auth {
    secret: [u8; 32],
    cookies: Mutex<HashMap<String, CookieSession>>,
    basic_ok: Mutex<HashMap<[u8; 32], Instant>>,
    failures: Mutex<HashMap<String, (u32, Instant)>>,
    pub secure_cookies: bool,
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

impl Auth {
    pub fn new(secret: [u8; 32], secure_cookies: bool) -> Auth {
        Auth {
            secret,
            cookies: Mutex::new(HashMap::new()),
            basic_ok: Mutex::new(HashMap::new()),
            failures: Mutex::new(HashMap::new()),
            secure_cookies,
        }
    }

    fn hmac(&self, data: &[u8]) -> Vec<u8> {
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(&self.secret).expect("any key length");
        m.update(data);
        m.finalize().into_bytes().to_vec()
    }

    pub fn new_nonce(&self) -> String {
        let t = format!("{:x}", now_s());
        format!("{t}.{}", hex(&self.hmac(t.as_bytes())[..16]))
    }

    /// `Some(true)` fresh, `Some(false)` genuine but too old, `None` not ours.
    fn nonce_fresh(&self, nonce: &str) -> Option<bool> {
        let (t, mac) = nonce.split_once('.')?;
        if !ct_eq(mac.as_bytes(), hex(&self.hmac(t.as_bytes())[..16]).as_bytes()) {
            return None;
        }
        let then = u64::from_str_radix(t, 16).ok()?;
        let now = now_s();
        Some(now.saturating_sub(then) <= NONCE_LIFE.as_secs() && then <= now + 5)
    }

    /// Starts a cookie session; returns (token, csrf).
    pub fn start_session(&self, user: &str) -> (String, String) {
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
        map.insert(token.clone(), CookieSession { user: user.into(), csrf: csrf.clone(), last_used: Instant::now() });
        (token, csrf)
    }

    pub fn end_session(&self, token: &str) {
        lock(&self.cookies).remove(token);
    }

    fn cookie_user(&self, token: &str) -> Option<(String, String)> {
        let mut map = lock(&self.cookies);
        let s = map.get_mut(token)?;
        if s.last_used.elapsed() > COOKIE_IDLE {
            map.remove(token);
            return None;
        }
        s.last_used = Instant::now();
        Some((s.user.clone(), s.csrf.clone()))
    }

    /// Whether logins for this key (an address or a name) are refused for now.
    pub fn throttled(&self, key: &str) -> bool {
        let map = lock(&self.failures);
        map.get(key).is_some_and(|(n, since)| *n >= MAX_FAILURES && since.elapsed() < FAILURE_WINDOW)
    }

    pub fn failed(&self, key: &str) {
        let mut map = lock(&self.failures);
        if map.len() >= MAX_THROTTLE_KEYS {
            map.retain(|_, (_, since)| since.elapsed() < FAILURE_WINDOW);
            if map.len() >= MAX_THROTTLE_KEYS {
                map.clear();
            }
        }
        let e = map.entry(key.into()).or_insert((0, Instant::now()));
        if e.1.elapsed() >= FAILURE_WINDOW {
            *e = (0, Instant::now());
        }
        e.0 += 1;
    }

    pub fn succeeded(&self, key: &str) {
        lock(&self.failures).remove(key);
    }

    /// A password check (argon2), remembered for a few minutes when it succeeds.
    pub fn password_ok(&self, user: &User, password: &str) -> bool {
        let mut h = Sha256::new();
        sha2::Digest::update(&mut h, user.name.as_bytes());
        sha2::Digest::update(&mut h, [0]);
        sha2::Digest::update(&mut h, password.as_bytes());
        sha2::Digest::update(&mut h, [0]);
        sha2::Digest::update(&mut h, user.argon2.as_bytes());
        let key: [u8; 32] = sha2::Digest::finalize(h).into();
        if lock(&self.basic_ok).get(&key).is_some_and(|t| t.elapsed() < BASIC_CACHE_LIFE) {
            return true;
        }
        if !user.check_password(password) {
            return false;
        }
        let mut map = lock(&self.basic_ok);
        if map.len() >= MAX_BASIC_CACHE {
            map.clear();
        }
        map.insert(key, Instant::now());
        true
    }
}

fn md5_hex(s: &str) -> String {
    hex(&Md5::digest(s.as_bytes()))
}

enum HeaderCheck {
    Ok(User),
    Stale,
    Refused,
}

fn check_authorization(state: &AppState, value: &str, method: &Method, uri: &str, peer: &str) -> HeaderCheck {
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    if scheme.eq_ignore_ascii_case("basic") {
        let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(rest.trim()) else {
            return HeaderCheck::Refused;
        };
        let Ok(text) = String::from_utf8(raw) else { return HeaderCheck::Refused };
        let Some((name, password)) = text.split_once(':') else { return HeaderCheck::Refused };
        if state.auth.throttled(peer) || state.auth.throttled(name) {
            return HeaderCheck::Refused;
        }
        match state.users.get(name) {
            Ok(Some(u)) if state.auth.password_ok(&u, password) => HeaderCheck::Ok(u),
            _ => {
                state.auth.failed(peer);
                state.auth.failed(name);
                HeaderCheck::Refused
            }
        }
    } else if scheme.eq_ignore_ascii_case("digest") {
        let p = auth_params(rest);
        let get = |k: &str| p.get(k).map(String::as_str).unwrap_or("");
        if get("realm") != REALM || !matches!(get("algorithm"), "" | "MD5" | "md5") || get("uri") != uri {
            return HeaderCheck::Refused;
        }
        let name = get("username");
        if state.auth.throttled(peer) {
            return HeaderCheck::Refused;
        }
        let Ok(Some(user)) = state.users.get(name) else {
            state.auth.failed(peer);
            return HeaderCheck::Refused;
        };
        let ha2 = md5_hex(&format!("{}:{}", method.as_str(), get("uri")));
        let expected = match get("qop") {
            "auth" => {
                md5_hex(&format!("{}:{}:{}:{}:auth:{ha2}", user.digest_ha1, get("nonce"), get("nc"), get("cnonce")))
            }
            "" => md5_hex(&format!("{}:{}:{ha2}", user.digest_ha1, get("nonce"))),
            _ => return HeaderCheck::Refused,
        };
        if !ct_eq(expected.as_bytes(), get("response").to_ascii_lowercase().as_bytes()) {
            state.auth.failed(peer);
            return HeaderCheck::Refused;
        }
        match state.auth.nonce_fresh(get("nonce")) {
            Some(true) => HeaderCheck::Ok(user),
            Some(false) => HeaderCheck::Stale,
            None => HeaderCheck::Refused,
        }
    } else {
        HeaderCheck::Refused
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
        // Nodes sign their requests with the shared secret; the handler checks it.
        || (path == crate::nodes::NODE_PATH && method == Method::POST)
        || path.starts_with("/assets/")
}

fn unauthorized(state: &AppState, headers: &HeaderMap, stale: bool) -> Response {
    let mut r = error_response(StatusCode::UNAUTHORIZED, "log in first: a session cookie, HTTP Digest or Basic");
    // The UI asks with its own header and gets no challenge, so the browser does not
    // pop up its password dialog; scripts get both schemes (curl --anyauth picks Digest).
    if !headers.contains_key(UI_HEADER) {
        let digest = format!(
            "Digest realm=\"{REALM}\", qop=\"auth\", algorithm=MD5, nonce=\"{}\"{}",
            state.auth.new_nonce(),
            if stale { ", stale=true" } else { "" }
        );
        let h = r.headers_mut();
        h.append(header::WWW_AUTHENTICATE, HeaderValue::from_str(&digest).expect("ascii"));
        h.append(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"Tyto\", charset=\"UTF-8\""));
    }
    r
}

pub fn peer(req: &Request) -> String {
    req.extensions()
        .get::<ConnectInfo<std::net::SocketAddr>>()
        .map_or_else(|| "unknown".to_string(), |c| c.0.ip().to_string())
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
        if let Some((name, csrf)) = state.auth.cookie_user(&token) {
            if let Ok(Some(user)) = state.users.get(&name) {
                authed = Some(Authed { user, via: Via::Cookie { csrf } });
            }
        }
    }
    if authed.is_none() {
        if let Some(value) = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) {
            let uri = req.uri().path_and_query().map_or(path.clone(), |p| p.as_str().to_string());
            let value = value.to_string();
            let peer = peer(&req);
            let st = state.clone();
            let m = method.clone();
            // argon2 takes tens of milliseconds: off the async threads.
            let checked = tokio::task::spawn_blocking(move || check_authorization(&st, &value, &m, &uri, &peer)).await;
            match checked {
                Ok(HeaderCheck::Ok(user)) => authed = Some(Authed { user, via: Via::Header }),
                Ok(HeaderCheck::Stale) => stale = true,
                _ => {}
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
    req.extensions_mut().insert(authed);
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonces_are_ours_and_expire() {
        let a = Auth::new([7; 32], false);
        let n = a.new_nonce();
        assert_eq!(a.nonce_fresh(&n), Some(true));
        assert_eq!(Auth::new([8; 32], false).nonce_fresh(&n), None, "another server's nonce");
        let old = format!("{:x}", 1_000_000u64);
        let forged = format!("{old}.{}", hex(&a.hmac(old.as_bytes())[..16]));
        assert_eq!(a.nonce_fresh(&forged), Some(false));
        assert_eq!(a.nonce_fresh("zz.zz"), None);
    }
}
