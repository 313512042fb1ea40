//! A map the workers of one pipeline share: what one session learnt for the others
//! (a call's endpoints, the names DNS answers gave addresses). Bounded, the oldest
//! key making room; a lookup when nothing is filed costs an atomic load.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

#[derive(Debug)]
struct Table<K, V> {
    // aHash: keys are addresses and ports, hashed at each row's end.
    values: HashMap<K, V, ahash::RandomState>,
    /// Filing order, oldest first, for the bound.
    order: VecDeque<K>,
}

#[derive(Debug)]
pub struct SharedMap<K, V, const MAX: usize> {
    table: Mutex<Table<K, V>>,
    /// Keys filed, read without the lock.
    filed: AtomicUsize,
}

impl<K, V, const MAX: usize> Default for SharedMap<K, V, MAX> {
    fn default() -> Self {
        SharedMap {
            table: Mutex::new(Table { values: HashMap::default(), order: VecDeque::new() }),
            filed: AtomicUsize::new(0),
        }
    }
}

impl<K: Copy + Eq + Hash, V: Clone + PartialEq, const MAX: usize> SharedMap<K, V, MAX> {
    fn table(&self) -> MutexGuard<'_, Table<K, V>> {
        // A worker that panicked while holding it left a table that is still whole.
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Files `value` under each of `keys` (replacing what they held).
    pub fn file(&self, keys: impl IntoIterator<Item = K>, value: V) {
        let mut t = self.table();
        for k in keys {
            if t.values.get(&k) == Some(&value) {
                continue;
            }
            if t.values.insert(k, value.clone()).is_none() {
                t.order.push_back(k);
            }
        }
        while t.order.len() > MAX {
            if let Some(old) = t.order.pop_front() {
                t.values.remove(&old);
            }
        }
        self.filed.store(t.order.len(), Ordering::Relaxed);
    }

    /// The value filed under the first of `keys` that has one.
    pub fn find(&self, keys: impl IntoIterator<Item = K>) -> Option<V> {
        if self.filed.load(Ordering::Relaxed) == 0 {
            return None;
        }
        let t = self.table();
        keys.into_iter().find_map(|k| t.values.get(&k).cloned())
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.table().values.len()
    }
}
