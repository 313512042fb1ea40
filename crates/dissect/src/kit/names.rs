//! The names DNS answers gave addresses. A session to an address that an earlier
//! answer in the pipeline gave for a name (the name asked, or its CNAMEs') keeps
//! that name beside its row ([`tyto_schema::SessionRecord::resolved`]), so a session
//! without a name of its own — TLS without a server name, QUIC picked up after its
//! Initial, a plain TCP connection — can still be placed, as nDPI's DNS cache places
//! flows. The last answer for an address wins.
//!
//! One table a pipeline, like [`super::expect`]'s, so that workers see each other's
//! answers and two pipelines never do; bounded (the oldest address makes room), and
//! a lookup when nothing is filed costs an atomic load.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tyto_packet::Addr;

/// Addresses kept: names of a few thousand lookups (a name is at most 253 bytes).
const MAX_ADDRESSES: usize = 16_384;

#[derive(Debug, Default)]
struct Table {
    names: HashMap<Addr, Arc<str>>,
    /// Filing order, oldest first, for the bound.
    order: VecDeque<Addr>,
}

/// The resolved names of one pipeline.
#[derive(Debug, Default)]
pub struct ResolvedNames {
    table: Mutex<Table>,
    /// Addresses filed, read without the lock.
    filed: AtomicUsize,
}

impl ResolvedNames {
    fn table(&self) -> MutexGuard<'_, Table> {
        // A worker that panicked while holding it left a table that is still whole.
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// An answer gave `addr` for `name`.
    pub fn file(&self, addr: Addr, name: &str) {
        let mut t = self.table();
        if t.names.get(&addr).is_some_and(|n| **n == *name) {
            return;
        }
        if t.names.insert(addr, Arc::from(name)).is_none() {
            t.order.push_back(addr);
        }
        while t.order.len() > MAX_ADDRESSES {
            if let Some(old) = t.order.pop_front() {
                t.names.remove(&old);
            }
        }
        self.filed.store(t.order.len(), Ordering::Relaxed);
    }

    /// The name last filed for `addr`.
    pub fn find(&self, addr: Addr) -> Option<Arc<str>> {
        if self.filed.load(Ordering::Relaxed) == 0 {
            return None;
        }
        self.table().names.get(&addr).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_answer_names_an_address_and_the_table_stays_bounded() {
        let a = Addr::from_v4([93, 184, 216, 34]);
        let names = ResolvedNames::default();
        assert_eq!(names.find(a), None);
        names.file(a, "www.example.com");
        assert_eq!(names.find(a).as_deref(), Some("www.example.com"));
        names.file(a, "cdn.example.net");
        assert_eq!(names.find(a).as_deref(), Some("cdn.example.net"));
        for i in 0..MAX_ADDRESSES as u32 {
            names.file(Addr::from_v4((0x0a00_0000 + i).to_be_bytes()), "x.example");
        }
        assert_eq!(names.table().names.len(), MAX_ADDRESSES);
        assert_eq!(names.find(a), None, "the oldest made room");
    }
}
