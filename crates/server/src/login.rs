//! The login page, logging in and out, and who is logged in.

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::{Extension, Json};
use serde_json::{json, Value};

use crate::auth::{cookie_value, peer, Authed, Refusal, Via, COOKIE};
use crate::params::Params;
use crate::{ApiError, AppState};

const LOGIN_PAGE: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Tyto — log in</title>
<style>
body{font:15px system-ui,sans-serif;background:#10141a;color:#e6e9ef;display:grid;place-items:center;height:100vh;margin:0}
form{background:#1a212b;padding:2em 2.5em;border-radius:8px;min-width:18em;box-shadow:0 4px 24px #0006}
h1{font-size:1.3em;margin:0 0 1em}label{display:block;margin:.8em 0 .3em;color:#9aa5b5}
input{width:100%;box-sizing:border-box;padding:.55em;border:1px solid #334;border-radius:4px;background:#0d1117;color:inherit}
button{margin-top:1.4em;width:100%;padding:.6em;border:0;border-radius:4px;background:#3b82f6;color:white;font-weight:600;cursor:pointer}
.error{color:#f87171;margin-top:1em}
</style></head><body>
<form method="post" action="/api/login">
<h1>Tyto</h1>
<label for="username">User</label><input id="username" name="username" autocomplete="username" required autofocus>
<label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required>
<input type="hidden" name="next" value="{{NEXT}}">
<button type="submit">Log in</button>
{{ERROR}}
</form></body></html>"#;

fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

/// Only a path of this site may follow a login (no `//host` or `scheme:` open
/// redirect). Browsers drop tabs and line breaks from a location and read `\` as `/`,
/// so `/<tab>/evil.example` would be `//evil.example`: no control character, space or
/// backslash passes.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && n.len() < 2048
                && !n.chars().any(|c| c.is_control() || c.is_whitespace() || c == '\\') =>
        {
            n.to_string()
        }
        _ => "/".to_string(),
    }
}

/// `GET /login`.
pub async fn page(params: Params) -> Response {
    let error = match params.get("failed") {
        Some("throttled") => "<p class=\"error\">Too many failed logins; wait a minute.</p>",
        Some("busy") => "<p class=\"error\">Too many logins at once; try again shortly.</p>",
        Some(_) => "<p class=\"error\">Wrong user or password.</p>",
        None => "",
    };
    let html = LOGIN_PAGE.replace("{{NEXT}}", &escape_html(&safe_next(params.get("next")))).replace("{{ERROR}}", error);
    ([(header::CACHE_CONTROL, "no-store"), (header::HeaderName::from_static("x-frame-options"), "DENY")], Html(html))
        .into_response()
}

fn session_cookie(state: &AppState, token: &str, max_age: Option<u64>) -> HeaderValue {
    let secure = if state.auth.secure_cookies { "; Secure" } else { "" };
    let age = max_age.map(|a| format!("; Max-Age={a}")).unwrap_or_default();
    HeaderValue::from_str(&format!("{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict{secure}{age}"))
        .expect("token is URL-safe base64")
}

/// A login form or fetch must come from this site: its Origin, when sent, names our Host.
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) != Some("cross-site");
    };
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("");
    origin.split_once("://").is_some_and(|(_, h)| h == host)
}

/// `POST /api/login`: a form (redirects) or JSON `{"username", "password"}` (answers
/// with the user and the CSRF token). Sets the session cookie.
pub async fn login(State(state): State<AppState>, req: Request) -> Response {
    let who = peer(&req);
    let headers = req.headers().clone();
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.starts_with("application/json"));
    let body: Bytes = match axum::body::to_bytes(req.into_body(), 64 << 10).await {
        Ok(b) => b,
        Err(_) => return ApiError::bad_request("the login request's body is too large").into_response(),
    };
    if !same_origin(&headers) {
        return ApiError::forbidden("login from another site refused").into_response();
    }
    let fields: Option<(String, String, Option<String>)> = if is_json {
        serde_json::from_slice::<Value>(&body).ok().and_then(|v| {
            Some((v.get("username")?.as_str()?.to_string(), v.get("password")?.as_str()?.to_string(), None))
        })
    } else {
        serde_urlencoded::from_bytes::<Vec<(String, String)>>(&body).ok().and_then(|pairs| {
            let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
            Some((get("username")?, get("password")?, get("next")))
        })
    };
    let Some((name, password, next)) = fields else {
        return ApiError::bad_request("a login needs username and password").into_response();
    };
    let fail = |status: StatusCode, why: &str, what: &str| -> Response {
        if is_json {
            ApiError { status, message: why.to_string(), column: None }.into_response()
        } else {
            Redirect::to(&format!("/login?failed={what}")).into_response()
        }
    };
    let users = state.users.clone();
    let n = name.clone();
    let user = match state.auth.check_password(move || users.get(&n).ok().flatten(), &name, password, who).await {
        Ok(u) => u,
        Err(Refusal::Throttled) => {
            return fail(StatusCode::TOO_MANY_REQUESTS, "too many failed logins; wait a minute", "throttled")
        }
        Err(Refusal::Busy) => {
            return fail(StatusCode::SERVICE_UNAVAILABLE, "too many logins at once; try again shortly", "busy")
        }
        Err(Refusal::Wrong) => return fail(StatusCode::UNAUTHORIZED, "wrong user or password", "1"),
    };
    let (token, csrf) = state.auth.start_session(&user);
    let cookie = session_cookie(&state, &token, None);
    let mut resp = if is_json {
        Json(json!({ "user": user.info(), "csrf": csrf })).into_response()
    } else {
        Redirect::to(&safe_next(next.as_deref())).into_response()
    };
    resp.headers_mut().insert(header::SET_COOKIE, cookie);
    resp
}

/// `POST /api/logout`.
pub async fn logout(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(token) = cookie_value(&headers, COOKIE) {
        state.auth.end_session(&token);
    }
    let mut resp = Json(json!({ "ok": true })).into_response();
    resp.headers_mut().insert(header::SET_COOKIE, session_cookie(&state, "", Some(0)));
    resp
}

/// `GET /api/user/current`: who is logged in, what they may do, and (for a cookie
/// session) the CSRF token its changes must carry.
pub async fn current(Extension(authed): Extension<Authed>) -> Json<Value> {
    let csrf = match &authed.via {
        Via::Cookie { csrf, .. } => Some(csrf.clone()),
        Via::Header => None,
    };
    Json(json!({ "user": authed.user.info(), "csrf": csrf }))
}

/// `GET /api/users` (admins).
pub async fn list_users(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
) -> Result<Json<Value>, ApiError> {
    if !authed.user.admin {
        return Err(ApiError::forbidden("only admins list users"));
    }
    let users = state.users.all().map_err(|e| ApiError::internal(e.to_string()))?;
    Ok(Json(json!(users.iter().map(|u| u.info()).collect::<Vec<_>>())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_follow_a_login() {
        assert_eq!(safe_next(Some("/sessions?x=1")), "/sessions?x=1");
        for bad in ["//evil.example", "https://evil.example", "/\\evil", "evil", "/\t/evil.example", "/\n/x", "/ /x"] {
            assert_eq!(safe_next(Some(bad)), "/", "{bad}");
        }
        assert_eq!(escape_html("\"><script>"), "&quot;&gt;&lt;script&gt;");
    }
}
