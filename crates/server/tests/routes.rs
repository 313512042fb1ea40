//! The login gate, in process: every route of the router refuses a request without
//! a login (but the login page and static assets); Basic, Digest and the cookie with
//! its CSRF token let one in; logins from another site and password guessing are
//! refused.

use axum::body::Body;
use axum::http::{header, Method, Request, Response, StatusCode};
use axum::Router;
use md5::{Digest as _, Md5};
use tower::ServiceExt;
use tyto_server::{is_public, new_user, router, routes, AppState};

fn app() -> (tempfile::TempDir, AppState, Router) {
    let dir = tempfile::tempdir().unwrap();
    drop(tyto_store::DuckStore::open(dir.path()).unwrap());
    let config = tyto_server::ServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.path().to_path_buf(),
        store: tyto_store::StoreUrl::default(),
        tls: None,
        nodes: tyto_server::NodesConfig::default(),
        limits: tyto_server::Limits::default(),
    };
    let state = AppState::open(&config).unwrap();
    state.users.add(new_user("ann", true), "ann's password", true).unwrap();
    let mut bob = new_user("bob", false);
    bob.export_pcap = false;
    state.users.add(bob, "bob's password", false).unwrap();
    let app = router(state.clone());
    (dir, state, app)
}

async fn send(app: &Router, req: Request<Body>) -> Response<Body> {
    app.clone().oneshot(req).await.unwrap()
}

async fn body_json(r: Response<Body>) -> serde_json::Value {
    let b = http_body_util::BodyExt::collect(r.into_body()).await.unwrap().to_bytes();
    serde_json::from_slice(&b).unwrap_or(serde_json::Value::Null)
}

fn basic(user: &str, pass: &str) -> String {
    use base64::Engine as _;
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}")))
}

fn hex_md5(s: &str) -> String {
    Md5::digest(s.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test]
async fn no_route_answers_without_a_login() {
    let (_dir, _state, app) = app();
    let mut paths: Vec<String> = routes()
        .iter()
        .map(|(p, _)| p.replace("{file}", "abc.pcap").replace("{id}", "abc").replace("{*path}", "index.js"))
        .collect();
    paths.extend(["/nowhere".into(), "/api/nowhere".into(), "/assets/../api/sessions".into()]);
    let methods = [Method::GET, Method::POST, Method::PUT, Method::DELETE, Method::PATCH, Method::HEAD];
    let mut checked = 0;
    for path in &paths {
        for m in &methods {
            if is_public(m, path) {
                continue;
            }
            for accept in ["application/json", "text/html"] {
                let req = Request::builder().method(m).uri(path).header(header::ACCEPT, accept).body(Body::empty());
                let r = send(&app, req.unwrap()).await;
                let s = r.status();
                let to_login = s == StatusCode::SEE_OTHER && r.headers()[header::LOCATION] == "/login";
                assert!(
                    s == StatusCode::UNAUTHORIZED || to_login,
                    "{m} {path} ({accept}) answered {s} without a login"
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 200, "{checked}");
    // The public ones answer, and give away nothing else.
    let r = send(&app, Request::get("/login").body(Body::empty()).unwrap()).await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = send(&app, Request::get("/assets/nothing.js").body(Body::empty()).unwrap()).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    // The health check says up, and nothing more; other methods still need a login.
    let r = send(&app, Request::get("/health").body(Body::empty()).unwrap()).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()[header::CACHE_CONTROL], "no-store");
    let b = http_body_util::BodyExt::collect(r.into_body()).await.unwrap().to_bytes();
    assert_eq!(&b[..], b"up\n");
    let r = send(&app, Request::post("/health").body(Body::empty()).unwrap()).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn basic_and_digest_let_scripts_in() {
    let (_dir, _state, app) = app();
    let get = |auth: Option<String>| {
        let mut b = Request::get("/api/user/current?x=1");
        if let Some(a) = auth {
            b = b.header(header::AUTHORIZATION, a);
        }
        b.body(Body::empty()).unwrap()
    };
    let r = send(&app, get(None)).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let challenges: Vec<String> =
        r.headers().get_all(header::WWW_AUTHENTICATE).iter().map(|v| v.to_str().unwrap().to_string()).collect();
    assert!(challenges.iter().any(|c| c.starts_with("Basic ")), "{challenges:?}");
    let digest = challenges.iter().find(|c| c.starts_with("Digest ")).expect("a Digest challenge");
    let nonce = digest.split("nonce=\"").nth(1).unwrap().split('"').next().unwrap().to_string();

    let r = send(&app, get(Some(basic("ann", "ann's password")))).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(body_json(r).await["user"]["name"], "ann");
    assert_eq!(send(&app, get(Some(basic("ann", "wrong")))).await.status(), StatusCode::UNAUTHORIZED);

    // Digest as RFC 7616 (MD5, qop=auth) computes it.
    let uri = "/api/user/current?x=1";
    let digest_header = |password: &str, uri_in_header: &str| {
        let ha1 = hex_md5(&format!("ann:Tyto:{password}"));
        let ha2 = hex_md5(&format!("GET:{uri_in_header}"));
        let response = hex_md5(&format!("{ha1}:{nonce}:00000001:0a4f113b:auth:{ha2}"));
        format!(
            "Digest username=\"ann\", realm=\"Tyto\", nonce=\"{nonce}\", uri=\"{uri_in_header}\", qop=auth, \
             nc=00000001, cnonce=\"0a4f113b\", response=\"{response}\", algorithm=MD5"
        )
    };
    let r = send(&app, get(Some(digest_header("ann's password", uri)))).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(send(&app, get(Some(digest_header("nope", uri)))).await.status(), StatusCode::UNAUTHORIZED);
    // A response computed for another URI is not accepted for this one.
    let other = digest_header("ann's password", "/api/users");
    assert_eq!(send(&app, get(Some(other))).await.status(), StatusCode::UNAUTHORIZED);
    // Not an admin: bob may not list users; ann may.
    let users = |who: &str, pw: &str| {
        Request::get("/api/users").header(header::AUTHORIZATION, basic(who, pw)).body(Body::empty()).unwrap()
    };
    assert_eq!(send(&app, users("bob", "bob's password")).await.status(), StatusCode::FORBIDDEN);
    let r = send(&app, users("ann", "ann's password")).await;
    let list = body_json(r).await;
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert!(!list.to_string().contains("argon2"), "no secrets in listings: {list}");
}

fn login_request(user: &str, password: &str, origin: &str) -> Request<Body> {
    Request::post("/api/login")
        .header(header::HOST, "tyto.test:8005")
        .header(header::ORIGIN, origin)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(serde_json::json!({ "username": user, "password": password }).to_string()))
        .unwrap()
}

#[tokio::test]
async fn the_cookie_needs_its_csrf_token_to_change_anything() {
    let (_dir, _state, app) = app();
    let r = send(&app, login_request("ann", "ann's password", "http://evil.example")).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "a login from another site");

    let r = send(&app, login_request("ann", "ann's password", "http://tyto.test:8005")).await;
    assert_eq!(r.status(), StatusCode::OK);
    let set_cookie = r.headers()[header::SET_COOKIE].to_str().unwrap().to_string();
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(set_cookie.contains(attr), "{set_cookie}");
    }
    let cookie = set_cookie.split(';').next().unwrap().to_string();
    let csrf = body_json(r).await["csrf"].as_str().unwrap().to_string();

    let with_cookie = |b: axum::http::request::Builder| b.header(header::COOKIE, &cookie);
    let r = send(&app, with_cookie(Request::get("/api/user/current")).body(Body::empty()).unwrap()).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(body_json(r).await["csrf"], csrf.as_str());

    let r = send(&app, with_cookie(Request::post("/api/logout")).body(Body::empty()).unwrap()).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "logout without the CSRF header");
    let r = send(
        &app,
        with_cookie(Request::post("/api/logout")).header("x-tyto-csrf", "forged").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r =
        send(&app, with_cookie(Request::post("/api/logout")).header("x-tyto-csrf", &csrf).body(Body::empty()).unwrap())
            .await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = send(&app, with_cookie(Request::get("/api/user/current")).body(Body::empty()).unwrap()).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "the cookie ended with the logout");

    // A form login redirects, and only to a path of this site.
    let form = Request::post("/api/login")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from("username=ann&password=ann%27s+password&next=%2F%2Fevil.example"))
        .unwrap();
    let r = send(&app, form).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()[header::LOCATION], "/");
    assert!(r.headers().contains_key(header::SET_COOKIE));
    // Oversized and malformed login bodies are refused cleanly.
    let big = Request::post("/api/login").body(Body::from(vec![b'a'; 100_000])).unwrap();
    assert_eq!(send(&app, big).await.status(), StatusCode::BAD_REQUEST);
    let bad = Request::post("/api/login")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from("{\"username\": 5"))
        .unwrap();
    assert_eq!(send(&app, bad).await.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn password_guessing_is_slowed_down() {
    let (_dir, _state, app) = app();
    for _ in 0..5 {
        let r = send(&app, login_request("bob", "guess", "http://tyto.test:8005")).await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    let r = send(&app, login_request("bob", "bob's password", "http://tyto.test:8005")).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS, "the right password after five wrong ones, at once");
    let r = send(
        &app,
        Request::get("/api/user/current")
            .header(header::AUTHORIZATION, basic("bob", "bob's password"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS, "Basic is throttled too");
}
