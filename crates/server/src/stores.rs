//! Store handles for request handlers. A store handle is used by one thread at a
//! time (DuckDB connections are not shared), so handlers borrow one from a small
//! pool on a blocking thread; a semaphore bounds how many queries run at once, and a
//! second, smaller one how many long exports (PCAP, CSV) stream at once.
//!
//! No query outlives its reason to run: each has a time limit, and is interrupted in
//! the store when the limit passes, when its client goes away (the request's future
//! is dropped) or when the server stops ([`Stores::interrupt_all`]). A query's slot is
//! given back only when the store has really stopped working on it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::StatusCode;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tyto_store::{Interrupter, SessionReader, StoreError};

use crate::ApiError;

pub use tyto_store::ReaderBox as StoreBox;
type Factory = Box<dyn Fn() -> Result<StoreBox, StoreError> + Send + Sync>;

/// Queries running at once; more wait their turn.
const QUERIES_AT_ONCE: usize = 4;
/// Streamed exports running at once; more are refused with 503.
const EXPORTS_AT_ONCE: usize = 2;
/// How long a query may run (and wait for a slot) unless configured otherwise.
pub const DEFAULT_QUERY_TIMEOUT: Duration = Duration::from_secs(120);

pub struct Stores {
    factory: Factory,
    idle: Mutex<Vec<StoreBox>>,
    queries: Arc<Semaphore>,
    exports: Arc<Semaphore>,
    timeout: Duration,
    /// The interrupters of the queries and exports running now, by a number of their own.
    running: Arc<Mutex<HashMap<u64, Interrupter>>>,
    next: AtomicU64,
}

/// A store handle held by one export for as long as it streams.
pub struct ExportHandle {
    pub store: StoreBox,
    _running: Running,
    _permit: OwnedSemaphorePermit,
}

/// A query's entry in [`Stores::running`]; leaving removes it.
struct Running {
    id: u64,
    running: Arc<Mutex<HashMap<u64, Interrupter>>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        lock(&self.running).remove(&self.id);
    }
}

/// The interrupter of one query for as long as that query runs. The store handle goes
/// back to the pool when the query ends, and a later request may take it: an interrupt
/// that came after that (a client that left just as its answer was ready) would stop
/// the next request's query instead. So whoever ends the query first, the query
/// itself or the one stopping it, takes the interrupter out, under one lock.
#[derive(Clone)]
struct Armed(Arc<Mutex<Option<Interrupter>>>);

impl Armed {
    fn new(i: Interrupter) -> Armed {
        Armed(Arc::new(Mutex::new(Some(i))))
    }

    /// Interrupts the query if it still runs.
    fn interrupt(&self) {
        let mut slot = lock(&self.0);
        if let Some(i) = slot.take() {
            i.interrupt();
        }
    }

    /// The query is over: later interrupts do nothing. Returns once no interrupt is
    /// under way, so the handle is quiet when it goes back to the pool.
    fn disarm(&self) {
        lock(&self.0).take();
    }
}

/// Interrupts the query unless disarmed: dropped with a request whose client left.
struct InterruptOnDrop(Option<Armed>);

impl Drop for InterruptOnDrop {
    fn drop(&mut self) {
        if let Some(a) = self.0.take() {
            a.interrupt();
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn timed_out(limit: Duration) -> ApiError {
    ApiError {
        status: StatusCode::SERVICE_UNAVAILABLE,
        message: format!(
            "the query was stopped after {} s (the viewer's query_timeout_s); narrow the time range or the expression",
            limit.as_secs_f64()
        ),
        column: None,
    }
}

impl Stores {
    /// Handles made from `base` ([`tyto_store::StoreHandle::reader`]).
    pub fn over(base: StoreBox) -> Stores {
        let base = Mutex::new(base);
        Stores::new(Box::new(move || lock(&base).reader()))
    }

    pub fn new(factory: Factory) -> Stores {
        Stores {
            factory,
            idle: Mutex::new(Vec::new()),
            queries: Arc::new(Semaphore::new(QUERIES_AT_ONCE)),
            exports: Arc::new(Semaphore::new(EXPORTS_AT_ONCE)),
            timeout: DEFAULT_QUERY_TIMEOUT,
            running: Arc::default(),
            next: AtomicU64::new(0),
        }
    }

    /// Another time limit per query.
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout.max(Duration::from_millis(1));
    }

    fn take(&self) -> Result<StoreBox, StoreError> {
        if let Some(s) = lock(&self.idle).pop() {
            return Ok(s);
        }
        (self.factory)()
    }

    fn give_back(&self, s: StoreBox) {
        let mut idle = lock(&self.idle);
        if idle.len() < QUERIES_AT_ONCE {
            idle.push(s);
        }
    }

    fn register(&self, interrupter: Interrupter) -> Running {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        lock(&self.running).insert(id, interrupter);
        Running { id, running: self.running.clone() }
    }

    /// Stops every query and export running now (the server is stopping).
    pub fn interrupt_all(&self) {
        for i in lock(&self.running).values() {
            i.interrupt();
        }
    }

    /// Runs `f` with a store handle on a blocking thread, within the time limit.
    pub async fn run<T, F>(self: &Arc<Self>, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&dyn SessionReader) -> Result<T, ApiError> + Send + 'static,
    {
        let limit = self.timeout;
        let permit = match tokio::time::timeout(limit, self.queries.clone().acquire_owned()).await {
            Ok(Ok(p)) => p,
            Ok(Err(_)) => return Err(ApiError::internal("the server is stopping")),
            Err(_) => return Err(timed_out(limit)),
        };
        let store = self.take()?;
        store.clear_interrupt();
        let interrupter = store.interrupter();
        let armed = Armed::new(interrupter.clone());
        let running = self.register(interrupter);
        let mut on_drop = InterruptOnDrop(Some(armed.clone()));
        let me = self.clone();
        let ended = armed.clone();
        let task = tokio::task::spawn_blocking(move || {
            // The slot goes only when the store is done with the query; the handle goes
            // back to the pool only when nothing can interrupt it any more.
            let _permit = permit;
            let out = f(store.as_ref());
            drop(running);
            ended.disarm();
            me.give_back(store);
            out
        });
        let out = match tokio::time::timeout(limit, task).await {
            Ok(joined) => joined.map_err(|e| ApiError::internal(format!("a query failed: {e}")))?,
            Err(_) => {
                armed.interrupt();
                on_drop.0 = None;
                tracing::warn!("a query ran past {limit:?} and was interrupted");
                return Err(timed_out(limit));
            }
        };
        on_drop.0 = None;
        out
    }

    /// A handle of its own for a background task (a hunt), outside the pool and its
    /// time limit: the task bounds itself.
    pub fn background(&self) -> Result<StoreBox, ApiError> {
        Ok((self.factory)()?)
    }

    /// A handle of its own for a streamed export, or an error when too many stream already.
    pub fn for_export(&self) -> Result<ExportHandle, ApiError> {
        let permit = self.exports.clone().try_acquire_owned().map_err(|_| ApiError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            message: format!("{EXPORTS_AT_ONCE} exports are already streaming; try again when one ends"),
            column: None,
        })?;
        let store = (self.factory)()?;
        let running = self.register(store.interrupter());
        Ok(ExportHandle { store, _running: running, _permit: permit })
    }
}

impl ExportHandle {
    /// What stops this export's store query (its client went away).
    pub fn interrupter(&self) -> Interrupter {
        self.store.interrupter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn until(what: impl Fn() -> bool) {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while !what() {
            assert!(std::time::Instant::now() < deadline, "timed out");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// A browser drops a request when the search changes. If the request's query had
    /// just ended and its store handle gone to the next request, the drop must not stop
    /// that next request's query.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_client_gone_after_its_answer_does_not_stop_the_next_query() {
        let dir = tempfile::tempdir().unwrap();
        drop(tyto_store::DuckStore::open(dir.path()).unwrap());
        let store = tyto_store::StoreUrl::default().open_reader(dir.path()).unwrap();
        let stores = Arc::new(Stores::over(store));
        let idle = |n: usize| {
            let stores = stores.clone();
            move || lock(&stores.idle).len() == n
        };

        // The first request's query runs and ends; its request never sees the answer.
        let mut first = Box::pin(stores.run(|s| Ok(s.count()?)));
        let _ = tokio::time::timeout(Duration::from_millis(1), &mut first).await;
        until(idle(1)).await;

        // The next request takes the same handle and waits before its query.
        let (go, wait) = std::sync::mpsc::channel::<()>();
        let next = tokio::spawn({
            let stores = stores.clone();
            async move {
                stores
                    .run(move |s| {
                        wait.recv().unwrap();
                        Ok(s.count_matching(&tyto_store::ListQuery::default())?)
                    })
                    .await
            }
        });
        until(idle(0)).await;

        drop(first); // the first client leaves
        go.send(()).unwrap();
        assert_eq!(next.await.unwrap().map_err(|e| e.message).unwrap(), 0);
    }
}
