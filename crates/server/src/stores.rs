//! Store handles for request handlers. A store handle is used by one thread at a
//! time (DuckDB connections are not shared), so handlers borrow one from a small
//! pool on a blocking thread; a semaphore bounds how many queries run at once, and a
//! second, smaller one how many long exports (PCAP, CSV) stream at once.

use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tyto_store::{SessionStore, StoreError};

use crate::ApiError;

pub use tyto_store::StoreBox;
type Factory = Box<dyn Fn() -> Result<StoreBox, StoreError> + Send + Sync>;

/// Queries running at once; more wait their turn.
const QUERIES_AT_ONCE: usize = 4;
/// Streamed exports running at once; more are refused with 503.
const EXPORTS_AT_ONCE: usize = 2;

pub struct Stores {
    factory: Factory,
    idle: Mutex<Vec<StoreBox>>,
    queries: Arc<Semaphore>,
    exports: Arc<Semaphore>,
}

/// A store handle held by one export for as long as it streams.
pub struct ExportHandle {
    pub store: StoreBox,
    _permit: OwnedSemaphorePermit,
}

impl Stores {
    /// Handles made from `base` ([`SessionStore::another`]).
    pub fn over(base: StoreBox) -> Stores {
        let base = Mutex::new(base);
        Stores::new(Box::new(move || {
            let b = base.lock().unwrap_or_else(|p| p.into_inner());
            b.another()
        }))
    }

    pub fn new(factory: Factory) -> Stores {
        Stores {
            factory,
            idle: Mutex::new(Vec::new()),
            queries: Arc::new(Semaphore::new(QUERIES_AT_ONCE)),
            exports: Arc::new(Semaphore::new(EXPORTS_AT_ONCE)),
        }
    }

    fn take(&self) -> Result<StoreBox, StoreError> {
        if let Some(s) = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop() {
            return Ok(s);
        }
        (self.factory)()
    }

    fn give_back(&self, s: StoreBox) {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < QUERIES_AT_ONCE {
            idle.push(s);
        }
    }

    /// Runs `f` with a store handle on a blocking thread.
    pub async fn run<T, F>(self: &Arc<Self>, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&dyn SessionStore) -> Result<T, ApiError> + Send + 'static,
    {
        let _permit = self.queries.acquire().await.map_err(|_| ApiError::internal("the server is stopping"))?;
        let me = self.clone();
        tokio::task::spawn_blocking(move || {
            let store = me.take()?;
            let out = f(store.as_ref());
            me.give_back(store);
            out
        })
        .await
        .map_err(|e| ApiError::internal(format!("a query failed: {e}")))?
    }

    /// A handle of its own for a streamed export, or an error when too many stream already.
    pub fn for_export(&self) -> Result<ExportHandle, ApiError> {
        let permit = self.exports.clone().try_acquire_owned().map_err(|_| ApiError {
            status: axum::http::StatusCode::SERVICE_UNAVAILABLE,
            message: format!("{EXPORTS_AT_ONCE} exports are already streaming; try again when one ends"),
            column: None,
        })?;
        Ok(ExportHandle { store: (self.factory)()?, _permit: permit })
    }
}
