//! Distinct things seen for one key within a sliding window of packet time, bounded:
//! at most `cap` of them are remembered, which is enough to decide "at least `cap`".

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash};

#[derive(Default)]
pub(crate) struct Window {
    seen: HashMap<u64, i64>,
    pub first_ns: i64,
    pub last_ns: i64,
}

impl Window {
    /// Adds `target` seen at `t`; returns how many distinct targets fall inside the
    /// window ending at the latest time seen.
    pub fn add(&mut self, target: u64, t: i64, window_ns: i64, cap: usize) -> usize {
        if self.seen.is_empty() {
            self.first_ns = t;
        }
        self.last_ns = self.last_ns.max(t);
        let horizon = self.last_ns - window_ns;
        if self.seen.len() >= cap || self.seen.len() % 64 == 63 {
            self.seen.retain(|_, at| *at >= horizon);
            self.first_ns = self.seen.values().copied().min().unwrap_or(t).min(t);
        }
        if self.seen.len() < cap || self.seen.contains_key(&target) {
            let at = self.seen.entry(target).or_insert(t);
            *at = (*at).max(t);
        }
        self.seen.values().filter(|at| **at >= horizon).count()
    }
}

/// A target's number in a window (a 64-bit hash with fixed seeds: distinct enough to count).
pub(crate) fn key(v: impl Hash) -> u64 {
    crate::fixed_hasher().hash_one(v)
}

/// How many distinct targets a window holds, and the times of its first and last.
#[derive(Clone, Copy)]
pub(crate) struct Span {
    pub n: usize,
    pub first_ns: i64,
    pub last_ns: i64,
}

/// Windows per key, bounded: past `max_keys`, keys idle for longer than the window go.
pub(crate) struct Windows<K> {
    map: HashMap<K, Window>,
    max_keys: usize,
}

impl<K: Hash + Eq> Windows<K> {
    pub fn new(max_keys: usize) -> Self {
        Windows { map: HashMap::new(), max_keys }
    }

    /// Adds `target` to `k`'s window; returns the distinct count and the window's span.
    pub fn add(&mut self, k: K, target: u64, t: i64, window_ns: i64, cap: usize) -> Span {
        if self.map.len() >= self.max_keys && !self.map.contains_key(&k) {
            self.map.retain(|_, w| w.last_ns >= t - window_ns);
            if self.map.len() >= self.max_keys {
                // Still full of live keys: start over rather than grow.
                self.map.clear();
            }
        }
        let w = self.map.entry(k).or_default();
        let n = w.add(target, t, window_ns, cap);
        Span { n, first_ns: w.first_ns, last_ns: w.last_ns }
    }

    /// The targets `k`'s window remembers (at most its cap), in no order.
    pub fn targets(&self, k: &K) -> Vec<u64> {
        self.map.get(k).map(|w| w.seen.keys().copied().collect()).unwrap_or_default()
    }
}
