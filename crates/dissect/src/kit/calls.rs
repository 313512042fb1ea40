//! Endpoints of calls an application was named on. A call's ICE checks, TURN
//! allocations and media go over several sessions from the same client address and
//! port, and only some of them carry what names the application (a TURN server's
//! realm, an application's own STUN attributes). As nDPI's STUN cache does, the
//! endpoints of a session whose messages named its application are filed here, and
//! a STUN or RTP session that named none takes the application filed for either of
//! its endpoints when its row is written (which is after the naming session's first
//! messages, whichever closes first).
//!
//! One table a pipeline, like [`super::expect`]'s, so that workers see each other's
//! sessions and two pipelines never do; bounded (the oldest endpoint makes room), and
//! a lookup when nothing is filed costs an atomic load.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

use tyto_packet::Addr;

/// Endpoints kept: a few hundred calls' worth.
const MAX_ENDPOINTS: usize = 4096;

type Endpoint = (Addr, u16);

#[derive(Debug, Default)]
struct Table {
    apps: HashMap<Endpoint, &'static str>,
    /// Filing order, oldest first, for the bound.
    order: VecDeque<Endpoint>,
}

/// The named calls' endpoints of one pipeline.
#[derive(Debug, Default)]
pub struct CallEndpoints {
    table: Mutex<Table>,
    /// Endpoints filed, read without the lock.
    filed: AtomicUsize,
}

impl CallEndpoints {
    fn table(&self) -> MutexGuard<'_, Table> {
        // A worker that panicked while holding it left a table that is still whole.
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A session between `endpoints` was named `app` by its messages.
    pub fn file(&self, endpoints: [Endpoint; 2], app: &'static str) {
        let mut t = self.table();
        for e in endpoints {
            if t.apps.insert(e, app).is_none() {
                t.order.push_back(e);
            }
        }
        while t.order.len() > MAX_ENDPOINTS {
            if let Some(old) = t.order.pop_front() {
                t.apps.remove(&old);
            }
        }
        self.filed.store(t.order.len(), Ordering::Relaxed);
    }

    /// The application filed for either endpoint, the first one's first.
    pub fn find(&self, endpoints: [Endpoint; 2]) -> Option<&'static str> {
        if self.filed.load(Ordering::Relaxed) == 0 {
            return None;
        }
        let t = self.table();
        endpoints.iter().find_map(|e| t.apps.get(e).copied())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn either_endpoint_names_a_later_session_and_the_table_stays_bounded() {
        let client = (Addr::from_v4([192, 168, 12, 169]), 43_068);
        let turn = (Addr::from_v4([35, 158, 183, 167]), 3478);
        let stun = (Addr::from_v4([172, 253, 121, 127]), 19_302);
        let calls = CallEndpoints::default();
        assert_eq!(calls.find([client, stun]), None);
        calls.file([client, turn], "signalvoip");
        assert_eq!(calls.find([client, stun]), Some("signalvoip"), "the client's port");
        assert_eq!(calls.find([(client.0, 43_069), turn]), Some("signalvoip"), "the server's");
        assert_eq!(calls.find([(client.0, 43_069), stun]), None);
        for port in 0..MAX_ENDPOINTS as u16 {
            calls.file([(Addr::from_v4([10, 0, 0, 1]), port), (Addr::from_v4([10, 0, 0, 2]), port)], "zoom");
        }
        assert_eq!(calls.table().apps.len(), MAX_ENDPOINTS);
        assert_eq!(calls.find([client, stun]), None, "the oldest made room");
    }
}
