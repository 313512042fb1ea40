//! Periodic queries (Arkime's "cron queries"): an expression run every few minutes
//! over the sessions stored since its last run — by `dbTimestamp`, the time each
//! session was handed to the store, so sessions of an old capture ingested today are
//! new too — which tags them and/or raises an alert. Kept in `periodic.json` in the
//! data directory and run by one thread of the viewer from its start; each run is
//! the query's owner's search (their forced expression and time limit apply).

use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::HeaderMap;
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tyto_schema::time::{format_rfc3339, now_ns};
use tyto_schema::{AlertRecord, Severity};
use tyto_store::{RowPusher, TagChange};

use crate::auth::Authed;
use crate::json_file::JsonFile;
use crate::params::{parse_tags, Params};
use crate::stores::Stores;
use crate::users::Users;
use crate::{blocking, ApiError, AppState};

const MAX_QUERIES: usize = 1_000;
const MAX_NAME: usize = 100;
const MAX_EVERY_MINUTES: u32 = 7 * 24 * 60;
/// How often the runner looks for queries that are due.
const TICK: Duration = Duration::from_secs(2);
/// Sessions stored this recently are left to the next run by default: a batch is
/// stamped when the store is handed it, and its transaction (or, for ClickHouse,
/// its insert) ends within about a second (the row queue's `MAX_HOLD`).
const DEFAULT_LAG_S: u32 = 10;
const MAX_LAG_S: u32 = 3_600;

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct PeriodicQuery {
    pub id: u64,
    pub name: String,
    pub user: String,
    pub expression: String,
    /// Tags put on each new matching session.
    #[serde(default)]
    pub tags: Vec<String>,
    /// The severity of an alert raised when a run finds sessions, if wanted.
    #[serde(default)]
    pub alert: Option<String>,
    pub every_minutes: u32,
    /// Sessions stored in the last this many seconds wait for the next run.
    pub lag_s: u32,
    pub enabled: bool,
    pub created_ms: i64,
    /// Sessions stored before this moment (µs) have been processed.
    pub processed_to_us: i64,
    #[serde(default)]
    pub last_run_ms: Option<i64>,
    #[serde(default)]
    pub last_matched: u64,
    #[serde(default)]
    pub total_matched: u64,
    #[serde(default)]
    pub last_error: Option<String>,
    /// Run at the next tick whatever the schedule (`POST /api/cron/ID/run`).
    #[serde(default)]
    pub run_now: bool,
}

impl PeriodicQuery {
    fn due(&self, now_ms: i64) -> bool {
        self.enabled
            && (self.run_now || self.last_run_ms.is_none_or(|t| now_ms - t >= i64::from(self.every_minutes) * 60_000))
    }
}

#[derive(Default, Serialize, Deserialize)]
struct QueriesFile {
    next_id: u64,
    queries: Vec<PeriodicQuery>,
}

/// The periodic queries of a data directory and the thread that runs them.
pub struct Periodic {
    file: JsonFile,
    /// Held while the file is read and rewritten.
    lock: Mutex<()>,
    /// Wakes the runner early (a query added or asked to run).
    wake: (Mutex<bool>, Condvar),
}

/// What a run needs of the viewer.
pub struct Runner {
    pub stores: Arc<Stores>,
    pub users: Arc<Users>,
    pub shortcuts: Arc<crate::shortcuts::ShortcutBook>,
    /// Where alerts go, when this process writes the store.
    pub alerts: Option<RowPusher>,
    pub node: String,
}

impl Periodic {
    pub fn new(path: PathBuf) -> Periodic {
        Periodic { file: JsonFile::new(path), lock: Mutex::new(()), wake: (Mutex::new(false), Condvar::new()) }
    }

    fn held(&self) -> std::sync::MutexGuard<'_, ()> {
        self.lock.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn read(&self) -> Result<QueriesFile, ApiError> {
        self.file.read()
    }

    /// The queries `user` may see: their own, or every one for an admin.
    pub fn visible(&self, user: &str, admin: bool) -> Result<Vec<PeriodicQuery>, ApiError> {
        Ok(self.read()?.queries.into_iter().filter(|q| admin || q.user == user).collect())
    }

    fn change(&self, f: impl FnOnce(&mut QueriesFile) -> Result<(), ApiError>) -> Result<(), ApiError> {
        let _held = self.held();
        let mut file = self.read()?;
        f(&mut file)?;
        self.file.write(&file)
    }

    fn poke(&self) {
        *self.wake.0.lock().unwrap_or_else(|p| p.into_inner()) = true;
        self.wake.1.notify_all();
    }

    /// Starts the runner thread (once, at the viewer's start).
    pub fn start(self: &Arc<Self>, runner: Runner) -> std::io::Result<()> {
        let me = self.clone();
        std::thread::Builder::new().name("tyto-periodic".into()).spawn(move || me.run(runner)).map(drop)
    }

    fn run(&self, runner: Runner) {
        loop {
            {
                let mut woken = self.wake.0.lock().unwrap_or_else(|p| p.into_inner());
                if !*woken {
                    woken = self.wake.1.wait_timeout(woken, TICK).map(|(g, _)| g).unwrap_or_else(|p| p.into_inner().0);
                }
                *woken = false;
            }
            let due: Vec<PeriodicQuery> = match self.read() {
                Ok(f) => f.queries.into_iter().filter(|q| q.due(now_ns() / 1_000_000)).collect(),
                Err(e) => {
                    tracing::warn!("periodic queries: {}", e.message);
                    continue;
                }
            };
            for q in due {
                let started_ms = now_ns() / 1_000_000;
                let to_us = now_ns() / 1000 - i64::from(q.lag_s) * 1_000_000;
                let outcome = if to_us <= q.processed_to_us { Ok(0) } else { run_once(&q, to_us, &runner) };
                let saved = self.change(|file| {
                    // The query may have been removed or changed while it ran.
                    if let Some(now) = file.queries.iter_mut().find(|x| x.id == q.id) {
                        now.last_run_ms = Some(started_ms);
                        now.run_now = false;
                        match &outcome {
                            Ok(n) => {
                                now.processed_to_us = now.processed_to_us.max(to_us);
                                now.last_matched = *n;
                                now.total_matched += n;
                                now.last_error = None;
                            }
                            Err(e) => now.last_error = Some(e.clone()),
                        }
                    }
                    Ok(())
                });
                if let Err(e) = saved {
                    tracing::warn!("periodic query {}: {}", q.name, e.message);
                }
            }
        }
    }
}

/// The expression a run asks: the query's own, over the sessions stored in
/// `[from, to)` (µs).
pub fn window_expression(expression: &str, from_us: i64, to_us: i64) -> String {
    let at = |us: i64| format!("{}.{:06}", us.div_euclid(1_000_000), us.rem_euclid(1_000_000));
    let window = format!("dbTimestamp >= {} && dbTimestamp < {}", at(from_us.max(0)), at(to_us));
    match expression.trim() {
        "" => window,
        e => format!("({e}) && {window}"),
    }
}

/// One run: counts the new matching sessions, tags them, raises the alert.
fn run_once(q: &PeriodicQuery, to_us: i64, runner: &Runner) -> Result<u64, String> {
    let user = runner
        .users
        .get(&q.user)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("user {} no longer exists", q.user))?;
    let expression = window_expression(&q.expression, q.processed_to_us, to_us);
    let query = Params::of(&[("expression", expression.clone()), ("date", "-1".into())])
        .with_shortcuts(runner.shortcuts.clone())
        .search(&user)
        .map_err(|e| e.message)?;
    let store = runner.stores.background().map_err(|e| e.message)?;
    let matched = store.count_matching(&query).map_err(|e| e.to_string())?;
    if matched == 0 {
        return Ok(0);
    }
    if !q.tags.is_empty() {
        store.change_tags(&query, &TagChange { add: q.tags.clone(), remove: Vec::new() }).map_err(|e| e.to_string())?;
    }
    if let (Some(severity), Some(sink)) = (q.alert.as_deref().and_then(Severity::parse), &runner.alerts) {
        let now = now_ns();
        sink.add_alerts(vec![AlertRecord {
            time_ns: now,
            node: runner.node.clone(),
            detector: "periodic-query".into(),
            severity,
            source: q.name.clone(),
            targets: Vec::new(),
            message: format!("periodic query {:?} ({}): {matched} new sessions match", q.name, q.user),
            expression,
            first_ns: q.processed_to_us.saturating_mul(1000),
            last_ns: to_us.saturating_mul(1000),
        }]);
    }
    Ok(matched)
}

/// `GET /api/crons`: the user's periodic queries (an admin's: every one).
pub async fn list(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
) -> Result<Json<Value>, ApiError> {
    let periodic = state.periodic.clone();
    let (name, admin) = (authed.user.name.clone(), authed.user.admin);
    let queries = blocking(move || periodic.visible(&name, admin)).await?;
    Ok(Json(json!({ "data": queries.iter().map(shown).collect::<Vec<_>>(), "alerts": state.alerts.is_some() })))
}

fn shown(q: &PeriodicQuery) -> Value {
    let mut v = serde_json::to_value(q).unwrap_or_default();
    v["processed_to"] = json!(format_rfc3339(q.processed_to_us.saturating_mul(1000)));
    v
}

/// `POST /api/cron`: `name`, `expression` (or Arkime's `query`), `tags`, `alert`
/// (low/medium/high), `every` (minutes, 5), `lag` (seconds, 10), `since` (a time:
/// sessions stored from then on; now by default), `enabled`.
pub async fn create(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    params: Params,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let params = params.with_body(&headers, &body)?;
    let now = now_ns();
    let mut q = PeriodicQuery {
        id: 0,
        name: String::new(),
        user: authed.user.name.clone(),
        expression: String::new(),
        tags: Vec::new(),
        alert: None,
        every_minutes: 5,
        lag_s: DEFAULT_LAG_S,
        enabled: true,
        created_ms: now / 1_000_000,
        processed_to_us: now / 1000,
        last_run_ms: None,
        last_matched: 0,
        total_matched: 0,
        last_error: None,
        run_now: false,
    };
    if let Some(ns) = params.time("since", now, crate::zone::of(&authed.user).as_ref())? {
        q.processed_to_us = ns / 1000;
    }
    apply(&params, &mut q, &authed, state.alerts.is_some())?;
    if q.name.is_empty() {
        return Err(ApiError::bad_request("name: missing"));
    }
    let periodic = state.periodic.clone();
    let saved = blocking(move || {
        let mut saved = None;
        periodic.change(|file| {
            if file.queries.len() >= MAX_QUERIES {
                return Err(ApiError::bad_request(format!("the viewer holds {MAX_QUERIES} periodic queries already")));
            }
            file.next_id += 1;
            q.id = file.next_id;
            file.queries.push(q.clone());
            saved = Some(q);
            Ok(())
        })?;
        periodic.poke();
        Ok(saved)
    })
    .await?;
    Ok(Json(json!({ "success": true, "query": saved.as_ref().map(shown) })))
}

/// The settable parts of a query from request parameters, each checked.
fn apply(params: &Params, q: &mut PeriodicQuery, authed: &Authed, can_alert: bool) -> Result<(), ApiError> {
    if let Some(name) = params.get("name") {
        let name = name.trim();
        if name.is_empty() || name.len() > MAX_NAME || name.chars().any(char::is_control) {
            return Err(ApiError::bad_request(format!("name: 1 to {MAX_NAME} characters")));
        }
        q.name = name.to_string();
    }
    if let Some(e) = params.get("expression").or(params.get("query")) {
        // Checked as a search of its owner would be (the forced expression included).
        params.with("expression", e.to_string()).search(&authed.user)?;
        q.expression = e.trim().to_string();
    }
    if let Some(t) = params.get("tags") {
        q.tags = parse_tags(Some(t))?;
    }
    if let Some(a) = params.get("alert") {
        q.alert = match a {
            "none" | "false" | "0" => None,
            s if Severity::parse(s).is_some() => {
                if !can_alert {
                    return Err(ApiError::bad_request(
                        "alert: this viewer does not write the store (run it with the capture, or `tyto serve` \
                         on its data directory), so it cannot raise alerts; tag instead",
                    ));
                }
                Some(s.to_string())
            }
            s => return Err(ApiError::bad_request(format!("alert={s:?}: low, medium, high or none"))),
        };
    }
    q.every_minutes = u32::try_from(params.number("every", q.every_minutes as usize, MAX_EVERY_MINUTES as usize)?)
        .unwrap_or(MAX_EVERY_MINUTES)
        .max(1);
    q.lag_s = u32::try_from(params.number("lag", q.lag_s as usize, MAX_LAG_S as usize)?).unwrap_or(MAX_LAG_S);
    if let Some(on) = params.bool("enabled")? {
        q.enabled = on;
    }
    if q.tags.is_empty() && q.alert.is_none() {
        return Err(ApiError::bad_request("a periodic query needs tags to add, an alert to raise, or both"));
    }
    Ok(())
}

/// The query `id` if `authed` may change it (its owner, or an admin).
fn mine<'a>(file: &'a mut QueriesFile, id: u64, authed: &Authed) -> Result<&'a mut PeriodicQuery, ApiError> {
    file.queries
        .iter_mut()
        .find(|q| q.id == id && (authed.user.admin || q.user == authed.user.name))
        .ok_or_else(|| ApiError::not_found(format!("no periodic query {id} of yours")))
}

/// `POST /api/cron/ID`: changes what `POST /api/cron` set (not `since`).
pub async fn update(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    UrlPath(id): UrlPath<u64>,
    params: Params,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let params = params.with_body(&headers, &body)?;
    let periodic = state.periodic.clone();
    let can_alert = state.alerts.is_some();
    let saved = blocking(move || {
        let mut saved = None;
        periodic.change(|file| {
            let q = mine(file, id, &authed)?;
            let mut changed = q.clone();
            apply(&params, &mut changed, &authed, can_alert)?;
            *q = changed.clone();
            saved = Some(changed);
            Ok(())
        })?;
        Ok(saved)
    })
    .await?;
    Ok(Json(json!({ "success": true, "query": saved.as_ref().map(shown) })))
}

/// `POST /api/cron/ID/run`: runs the query at once over what was stored since its
/// last run.
pub async fn run_now(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    UrlPath(id): UrlPath<u64>,
) -> Result<Json<Value>, ApiError> {
    let periodic = state.periodic.clone();
    blocking(move || {
        periodic.change(|file| {
            mine(file, id, &authed)?.run_now = true;
            Ok(())
        })?;
        periodic.poke();
        Ok(())
    })
    .await?;
    Ok(Json(json!({ "success": true })))
}

/// `DELETE /api/cron/ID`.
pub async fn remove(
    State(state): State<AppState>,
    Extension(authed): Extension<Authed>,
    UrlPath(id): UrlPath<u64>,
) -> Result<Json<Value>, ApiError> {
    let periodic = state.periodic.clone();
    blocking(move || {
        periodic.change(|file| {
            mine(file, id, &authed)?;
            file.queries.retain(|q| q.id != id);
            Ok(())
        })
    })
    .await?;
    Ok(Json(json!({ "success": true })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_asks_for_the_sessions_stored_in_its_window() {
        assert_eq!(
            window_expression("protocols == dns", 1_700_000_000_123_456, 1_700_000_060_000_000),
            "(protocols == dns) && dbTimestamp >= 1700000000.123456 && dbTimestamp < 1700000060.000000"
        );
        assert_eq!(window_expression(" ", -5, 7), "dbTimestamp >= 0.000000 && dbTimestamp < 0.000007");
        // The window is exactly [from, to) to the microsecond.
        let f = tyto_query::compile(&window_expression("", 1_000_001, 2_000_002), 0).unwrap();
        let tyto_query::Filter::And(parts) = f else { panic!("{f:?}") };
        let bounds: Vec<_> = parts
            .iter()
            .map(|p| match p {
                tyto_query::Filter::TimeCmp { order, ns, .. } => (*order, *ns),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(bounds, [(tyto_query::Order::Ge, 1_000_001_000), (tyto_query::Order::Lt, 2_000_002_000)]);
    }

    #[test]
    fn a_query_is_due_when_enabled_and_its_interval_passed_or_asked_to_run() {
        let mut q = PeriodicQuery {
            id: 1,
            name: "n".into(),
            user: "u".into(),
            expression: String::new(),
            tags: vec!["t".into()],
            alert: None,
            every_minutes: 5,
            lag_s: 0,
            enabled: true,
            created_ms: 0,
            processed_to_us: 0,
            last_run_ms: None,
            last_matched: 0,
            total_matched: 0,
            last_error: None,
            run_now: false,
        };
        assert!(q.due(1_000), "never run");
        q.last_run_ms = Some(1_000);
        assert!(!q.due(1_000 + 299_999));
        assert!(q.due(1_000 + 300_000));
        q.run_now = true;
        assert!(q.due(1_001));
        q.enabled = false;
        assert!(!q.due(10_000_000));
    }
}
