//! `tyto serve`: the HTTP API (Arkime's routes and parameters where Arkime has them)
//! and the web viewer, behind a login.
//!
//! Every answer is computed in the session store (pages, counts, aggregations) and
//! every reply is bounded: pages and value lists are capped, PCAP and CSV are
//! streamed through a small channel, and store work runs on blocking threads, a few
//! at a time.

mod api;
mod auth;
#[doc(hidden)]
pub mod auth_header;
mod body;
pub mod csv;
mod export;
mod history;
mod hunts;
mod json_file;
mod listen;
mod login;
mod metrics;
pub mod nodes;
mod params;
mod periodic;
mod shortcuts;
mod stores;
mod tags;
mod throttle;
mod ui;
mod upload;
mod user_admin;
pub mod users;
mod views;
mod zone;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context as _;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put, MethodRouter};
use axum::{middleware, Json, Router};
use tyto_store::{ReaderBox as StoreBox, StoreError, StoreUrl};

pub use auth::{is_public, Auth, COOKIE, CSRF_HEADER, UI_HEADER};
pub use export::write_pcap;
pub use listen::Limits;
pub use nodes::{Nodes, NodesConfig};
pub use stores::Stores;
pub use upload::{Ingester, JobState, UploadJob, UploadLimits, Uploads};
pub use users::{new_user, User, UserError, Users};

/// The port Arkime's viewer listens on, which scripts already know.
pub const DEFAULT_PORT: u16 = 8005;

/// What `tyto serve` was told.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    /// Where the sessions are.
    pub store: StoreUrl,
    /// Certificate chain and private key (PEM) to serve HTTPS.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// This node's name and where other nodes' packets are fetched from.
    pub nodes: NodesConfig,
    /// Connections, timeouts.
    pub limits: Limits,
}

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub users: Arc<Users>,
    pub auth: Arc<Auth>,
    pub stores: Arc<Stores>,
    pub data_dir: Arc<PathBuf>,
    pub started: Instant,
    /// The counters of a live capture running in this process (`tyto run`).
    pub live: Option<Arc<dyn tyto_schema::metrics::Metrics>>,
    /// The alert sinks of the detectors running in this process (`tyto run`).
    pub alert_sinks: Vec<Arc<dyn tyto_schema::metrics::Metrics>>,
    /// Counters of the flow and protocol-log outputs, when this process feeds them.
    pub outputs: Vec<Arc<dyn tyto_schema::metrics::Metrics>>,
    /// The threat-intelligence sources this process matches sessions against.
    pub intel: Option<Arc<dyn tyto_schema::metrics::Metrics>>,
    /// Where each node's packets are.
    pub nodes: Arc<Nodes>,
    /// Rows held back for ClickHouse by the capture in this process.
    pub spool: Option<Arc<tyto_store::SpoolCounters>>,
    /// Rows on their way to the store from the capture in this process.
    pub queue: Option<Arc<tyto_store::QueueCounters>>,
    /// Capture files sent to this process, when it owns the store.
    pub uploads: Option<Arc<Uploads>>,
    /// See [`Limits::sample_above`].
    pub sample_above: u64,
    /// What the users asked of this viewer.
    pub history: Arc<history::History>,
    /// Searches of packet payloads, running or done.
    pub hunts: Arc<hunts::Hunts>,
    /// Saved expressions and column choices.
    pub views: Arc<views::Views>,
    /// Expressions run over new sessions every few minutes.
    pub periodic: Arc<periodic::Periodic>,
    /// Named lists of values that expressions use as `$name`.
    pub shortcuts: Arc<shortcuts::ShortcutBook>,
    /// Where alerts raised here go (periodic queries'), when this process writes
    /// the store.
    pub alerts: Option<tyto_store::RowPusher>,
}

/// Where a request's expression finds its shortcuts (the [`params::Params`] extractor).
impl axum::extract::FromRef<AppState> for Arc<shortcuts::ShortcutBook> {
    fn from_ref(state: &AppState) -> Arc<shortcuts::ShortcutBook> {
        state.shortcuts.clone()
    }
}

impl AppState {
    /// Opens the configured store and the data directory's users and secret.
    pub fn open(config: &ServerConfig) -> anyhow::Result<AppState> {
        let data_dir = &config.data_dir;
        if !config.store.exists(data_dir) {
            anyhow::bail!("no session store in {} (run `tyto ingest` first, or pass --data-dir)", data_dir.display());
        }
        let store = config
            .store
            .open_reader(data_dir)
            .with_context(|| format!("opening the session store {}", config.store.display(data_dir)))?;
        let mut nodes = config.nodes.clone();
        nodes.all_local = config.store.is_embedded();
        AppState::with_store(data_dir, store, nodes, config.tls.is_some())
    }

    /// The same over a store this process already holds open (DuckDB allows one
    /// writing process: a capture and its viewer share one database).
    pub fn with_store(
        data_dir: &Path,
        store: StoreBox,
        nodes: NodesConfig,
        secure_cookies: bool,
    ) -> anyhow::Result<AppState> {
        std::fs::create_dir_all(data_dir).with_context(|| format!("creating {}", data_dir.display()))?;
        let secret = auth::load_secret(data_dir).with_context(|| {
            format!("reading or making {}", tyto_schema::DataDir::new(data_dir).server_key().display())
        })?;
        Ok(AppState {
            users: Arc::new(Users::new(data_dir)),
            auth: Arc::new(Auth::new(secret, secure_cookies)),
            stores: Arc::new(Stores::over(store)),
            data_dir: Arc::new(data_dir.to_path_buf()),
            started: Instant::now(),
            live: None,
            alert_sinks: Vec::new(),
            outputs: Vec::new(),
            intel: None,
            nodes: Arc::new(Nodes::new(nodes)),
            spool: None,
            queue: None,
            uploads: None,
            sample_above: tyto_store::SAMPLE_ABOVE,
            history: Arc::new(history::History::new(tyto_schema::DataDir::new(data_dir).history())),
            hunts: Arc::new(hunts::Hunts::new(tyto_schema::DataDir::new(data_dir).hunts())),
            views: Arc::new(views::Views::new(tyto_schema::DataDir::new(data_dir).views())),
            periodic: Arc::new(periodic::Periodic::new(tyto_schema::DataDir::new(data_dir).periodic())),
            shortcuts: Arc::new(shortcuts::ShortcutBook::new(tyto_schema::DataDir::new(data_dir).shortcuts())),
            alerts: None,
        })
    }
}

impl AppState {
    /// How long a query may run before it is interrupted.
    pub fn set_query_timeout(&mut self, timeout: std::time::Duration) {
        if let Some(stores) = Arc::get_mut(&mut self.stores) {
            stores.set_timeout(timeout);
        } else {
            tracing::warn!("the query timeout could not be set: the store pool is shared already");
        }
    }
}

/// An error answer: a status and a message saying what was wrong.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    /// Where in the expression, for expression errors (1-based, in characters).
    pub column: Option<usize>,
}

impl ApiError {
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError { status: StatusCode::BAD_REQUEST, message: message.into(), column: None }
    }
    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError { status: StatusCode::FORBIDDEN, message: message.into(), column: None }
    }
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError { status: StatusCode::NOT_FOUND, message: message.into(), column: None }
    }
    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError { status: StatusCode::INTERNAL_SERVER_ERROR, message: message.into(), column: None }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        if e.is_interrupted() {
            return ApiError {
                status: StatusCode::SERVICE_UNAVAILABLE,
                message: "the query was stopped (out of time, or the server is stopping)".into(),
                column: None,
            };
        }
        if let StoreError::Request(why) = e {
            return ApiError::bad_request(why);
        }
        tracing::warn!("store: {e}");
        ApiError::internal(e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = serde_json::json!({ "error": self.message });
        if let Some(c) = self.column {
            body["column"] = c.into();
        }
        (self.status, Json(body)).into_response()
    }
}

/// Runs file work of a request (users, views, the history) on a blocking thread.
pub(crate) async fn blocking<T, F>(work: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, ApiError> + Send + 'static,
{
    tokio::task::spawn_blocking(work).await.map_err(|e| ApiError::internal(format!("a blocking task failed: {e}")))?
}

pub fn error_response(status: StatusCode, message: &str) -> Response {
    ApiError { status, message: message.to_string(), column: None }.into_response()
}

/// Every route, as (path, handlers): the router is built from this list, and the
/// test that proves no route answers without a login walks it.
pub fn routes() -> Vec<(&'static str, MethodRouter<AppState>)> {
    vec![
        ("/login", get(login::page)),
        ("/api/login", post(login::login)),
        ("/api/logout", post(login::logout)),
        ("/api/user/current", get(login::current)),
        ("/api/users", get(login::list_users)),
        ("/api/user", post(user_admin::add)),
        ("/api/user/settings", post(user_admin::settings)),
        ("/api/user/{name}", post(user_admin::update).delete(user_admin::remove)),
        ("/api/user/{name}/password", post(user_admin::password)),
        ("/api/histories", get(api::histories)),
        ("/api/sessions", get(api::sessions)),
        ("/sessions.json", get(api::sessions)),
        ("/api/sessions.csv", get(api::sessions_csv)),
        ("/sessions.csv", get(api::sessions_csv)),
        ("/api/sessions.pcap", get(export::sessions_pcap)),
        ("/sessions.pcap", get(export::sessions_pcap)),
        ("/api/session/{file}", get(export::session_pcap)),
        ("/api/session/{id}/detail", get(export::detail)),
        ("/api/spiview", get(api::spiview)),
        ("/api/spigraph", get(api::spigraph)),
        ("/api/connections", get(api::connections)),
        ("/api/unique", get(api::unique)),
        ("/unique.txt", get(api::unique)),
        ("/api/multiunique", get(api::multiunique)),
        ("/api/crons", get(periodic::list)),
        ("/api/cron", post(periodic::create)),
        ("/api/cron/{id}", post(periodic::update).delete(periodic::remove)),
        ("/api/cron/{id}/run", post(periodic::run_now)),
        ("/multiunique.txt", get(api::multiunique)),
        ("/api/histogram", get(api::histogram)),
        ("/api/fields", get(api::fields)),
        ("/api/stats", get(api::stats)),
        ("/api/alerts", get(api::alerts)),
        ("/api/transactions", get(api::transactions)),
        ("/api/services", get(api::services)),
        ("/api/sessions/addtags", post(tags::add)),
        ("/addTags", post(tags::add)),
        ("/api/sessions/removetags", post(tags::remove)),
        ("/removeTags", post(tags::remove)),
        ("/api/shortcuts", get(shortcuts::list)),
        ("/api/shortcut", post(shortcuts::create)),
        ("/api/shortcut/{id}", put(shortcuts::update).post(shortcuts::update).delete(shortcuts::remove)),
        ("/api/views", get(views::list)),
        ("/api/view", post(views::save)),
        ("/api/view/{id}", delete(views::delete)),
        ("/api/hunt", post(hunts::start)),
        ("/api/hunts", get(hunts::list)),
        ("/api/hunt/{id}/cancel", post(hunts::cancel)),
        ("/api/hunt/{id}", delete(hunts::remove)),
        ("/api/upload", post(upload::upload)),
        ("/api/uploads", get(upload::list)),
        ("/api/uploads/{id}", get(upload::one)),
        (nodes::NODE_PATH, post(nodes::packets)),
        ("/metrics", get(metrics::prometheus)),
        ("/health", get(metrics::health)),
        ("/", get(ui::index)),
        ("/favicon.ico", get(ui::favicon)),
        ("/assets/{*path}", get(ui::asset)),
    ]
}

/// The whole application: every route of [`routes`] and the fallback, all behind
/// the login gate ([`is_public`] says which pass without a user).
pub fn router(state: AppState) -> Router {
    routes()
        .into_iter()
        .fold(Router::new(), |r, (path, handlers)| r.route(path, handlers))
        .fallback(ui::fallback)
        .layer(middleware::from_fn_with_state(state.clone(), auth::require_user))
        .with_state(state)
}

async fn serve_listener(
    listener: tokio::net::TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    state: AppState,
    limits: Limits,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let stores = state.stores.clone();
    // Queries running when the server stops are interrupted, so it stops now rather
    // than when the slowest of them ends.
    listen::serve(listener, tls, router(state), limits, move || stores.interrupt_all(), shutdown).await
}

/// The certificate chain and key of `tls`, ready to accept connections.
fn tls_acceptor(cert: &Path, key: &Path) -> anyhow::Result<tokio_rustls::TlsAcceptor> {
    use rustls::pki_types::pem::PemObject as _;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .with_context(|| format!("reading the TLS certificate chain {}", cert.display()))?;
    anyhow::ensure!(!chain.is_empty(), "{} holds no certificate", cert.display());
    let key = PrivateKeyDer::from_pem_file(key).with_context(|| format!("reading the TLS key {}", key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .context("the TLS certificate and key do not make a server configuration")?;
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { () = ctrl_c => {}, () = term => {} }
}

/// Completes once `flag` is set (checked every 100 ms): the shutdown of a viewer that
/// runs beside a capture, which owns the signals.
pub async fn until_set(flag: Arc<std::sync::atomic::AtomicBool>) {
    while !flag.load(std::sync::atomic::Ordering::Relaxed) {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// `tyto serve`: runs until Ctrl-C or SIGTERM.
pub fn run(config: &ServerConfig) -> anyhow::Result<()> {
    let state = AppState::open(config)?;
    serve(config, state, shutdown_signal())
}

/// Serves `state` as `config` says until `shutdown` completes.
pub fn serve(
    config: &ServerConfig,
    mut state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    if state.users.all().map(|u| u.is_empty()).unwrap_or(true) {
        eprintln!(
            "tyto: no users yet: add one with `tyto user add NAME --admin --data-dir {}`",
            config.data_dir.display()
        );
    }
    state.set_query_timeout(config.limits.query_timeout);
    state.sample_above = config.limits.sample_above;
    state
        .periodic
        .start(periodic::Runner {
            stores: state.stores.clone(),
            users: state.users.clone(),
            shortcuts: state.shortcuts.clone(),
            alerts: state.alerts.clone(),
            node: state.nodes.own().to_string(),
        })
        .context("starting the periodic queries' thread")?;
    if let Err(e) = state.hunts.resume(&state) {
        eprintln!("tyto: the hunts of the last run are not listed: {}", e.message);
    }
    let tls = match &config.tls {
        Some((cert, key)) => Some(tls_acceptor(cert, key)?),
        None => None,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let out = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("listening on {}", config.listen))?;
        let addr = listener.local_addr()?;
        eprintln!("tyto: viewer at {}", listen::describe(addr, tls.is_some()));
        if tls.is_none() && !addr.ip().is_loopback() {
            eprintln!(
                "tyto: warning: plain HTTP on {addr}: passwords and sessions cross the network in clear; \
                 give --tls-cert and --tls-key"
            );
        }
        serve_listener(listener, tls, state, config.limits, shutdown).await?;
        anyhow::Ok(())
    });
    // Blocking threads still inside the store were interrupted; do not wait for them.
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
    out
}
