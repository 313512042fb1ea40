//! The web UI's files (embedded at build time when `ui/dist` exists) and, when the
//! UI was not built, a front page that says how to build it.

use axum::extract::{Path, Request};
use axum::http::{header, Method, StatusCode};
use axum::response::{Html, IntoResponse, Response};

use crate::ApiError;

include!(concat!(env!("OUT_DIR"), "/ui_files.rs"));

const NOT_BUILT: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Tyto</title>
<style>body{font:15px system-ui,sans-serif;max-width:46em;margin:3em auto;line-height:1.5}code{background:#eee;padding:0 .3em}</style>
</head><body><h1>Tyto</h1>
<p>This binary was built without the web UI. Build it with <code>scripts/build-ui.sh</code>
(it needs Node.js) and then <code>cargo build</code> again.</p>
<p>The API answers meanwhile: <a href="/api/sessions?length=20">/api/sessions</a>,
<a href="/api/spiview?spi=protocols:20,ip.dst:20">/api/spiview</a>,
<a href="/api/stats">/api/stats</a>, <a href="/api/fields">/api/fields</a>.</p>
</body></html>"#;

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next().unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        _ => "application/octet-stream",
    }
}

fn file(path: &str) -> Option<&'static [u8]> {
    UI_FILES.iter().find(|(p, _)| *p == path).map(|(_, b)| *b)
}

/// Security headers every page carries: no framing, no sniffing, scripts and styles
/// from this site only.
fn page_headers() -> [(header::HeaderName, &'static str); 4] {
    [
        (header::CONTENT_TYPE, "text/html; charset=utf-8"),
        (header::CACHE_CONTROL, "no-store"),
        (header::HeaderName::from_static("x-frame-options"), "DENY"),
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
        ),
    ]
}

/// `GET /`: the UI's page, or how to build it.
pub async fn index() -> Response {
    match file("index.html") {
        Some(b) => (page_headers(), b).into_response(),
        None => (page_headers(), Html(NOT_BUILT)).into_response(),
    }
}

pub async fn favicon() -> Response {
    match file("favicon.svg") {
        Some(b) => ([(header::CONTENT_TYPE, "image/svg+xml")], b).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// `GET /assets/…`: the UI's scripts and styles (their names carry a content hash,
/// so they may be cached for good).
pub async fn asset(Path(path): Path<String>) -> Response {
    let key = format!("assets/{path}");
    match file(&key) {
        Some(b) => (
            [
                (header::CONTENT_TYPE, content_type(&key)),
                (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
            ],
            b,
        )
            .into_response(),
        None => ApiError::not_found(format!("no asset {path}")).into_response(),
    }
}

/// Any other path: the UI's page for its own routes (`/sessions`, `/spiview`…), a
/// 404 for the API and everything else.
pub async fn fallback(req: Request) -> Response {
    let path = req.uri().path();
    if req.method() == Method::GET && !path.starts_with("/api/") && !path.contains('.') {
        return index().await;
    }
    ApiError::not_found(format!("no route {} {path}", req.method())).into_response()
}
