//! Failed logins counted per client address and per (address, user name), so that
//! guessing is slowed down where it comes from without letting anyone lock a user out
//! from elsewhere.
//!
//! Keys are a hash of what they stand for (16 bytes, whatever the length of a name),
//! the table is bounded, and when full the oldest windows go first: a flood of new
//! keys cannot grow it nor wipe the counts of the others. An attempt is counted
//! *before* its password is checked and refunded when it succeeds, so a burst of
//! concurrent guesses cannot all slip in before the first one is recorded.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sha2::{Digest as _, Sha256};

/// Wrong passwords from one address (any user) within a window before its logins are refused.
pub const MAX_PER_ADDRESS: u32 = 20;
/// Wrong passwords from one address for one user name within a window.
pub const MAX_PER_NAME: u32 = 5;
pub const WINDOW: Duration = Duration::from_secs(60);
/// Keys the table holds at most (~40 bytes each).
const MAX_KEYS: usize = 50_000;

type Key = [u8; 16];

/// Where a login attempt comes from and whom it names.
#[derive(Clone, Copy, Debug)]
pub struct Attempt {
    address: Key,
    address_name: Key,
}

impl Attempt {
    /// An IPv6 client is counted by its /64, which one host usually holds whole.
    pub fn new(peer: Option<IpAddr>, name: &str) -> Attempt {
        let address: Vec<u8> = match peer {
            Some(IpAddr::V4(a)) => a.octets().to_vec(),
            Some(IpAddr::V6(a)) => match a.to_ipv4_mapped() {
                Some(v4) => v4.octets().to_vec(),
                None => a.octets()[..8].to_vec(),
            },
            None => Vec::new(),
        };
        Attempt { address: key(&[b"a", &address]), address_name: key(&[b"n", &address, &[0], name.as_bytes()]) }
    }
}

fn key(parts: &[&[u8]]) -> Key {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u32).to_le_bytes());
        h.update(p);
    }
    let digest = h.finalize();
    let mut k = [0u8; 16];
    k.copy_from_slice(&digest[..16]);
    k
}

#[derive(Default)]
pub struct Throttle {
    /// Key → (attempts counted, start of its window).
    counts: Mutex<HashMap<Key, (u32, Instant)>>,
}

impl Throttle {
    /// Counts the attempt unless its address or (address, name) is over its limit;
    /// `false`: refused, nothing counted.
    pub fn begin(&self, a: &Attempt) -> bool {
        let mut map = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        let current = |map: &HashMap<Key, (u32, Instant)>, k: &Key| match map.get(k) {
            Some((n, since)) if now.duration_since(*since) < WINDOW => *n,
            _ => 0,
        };
        if current(&map, &a.address) >= MAX_PER_ADDRESS || current(&map, &a.address_name) >= MAX_PER_NAME {
            return false;
        }
        if map.len() + 2 > MAX_KEYS {
            make_room(&mut map, now);
        }
        for k in [a.address, a.address_name] {
            let e = map.entry(k).or_insert((0, now));
            if now.duration_since(e.1) >= WINDOW {
                *e = (0, now);
            }
            e.0 += 1;
        }
        true
    }

    /// The attempt succeeded: its (address, name) count is forgotten and its address
    /// count refunded.
    pub fn succeeded(&self, a: &Attempt) {
        let mut map = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        map.remove(&a.address_name);
        if let Some(e) = map.get_mut(&a.address) {
            e.0 = e.0.saturating_sub(1);
        }
    }

    /// Whether logins of this attempt would be refused now.
    pub fn refused(&self, a: &Attempt) -> bool {
        let map = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        let over = |k: &Key, max: u32| map.get(k).is_some_and(|(n, since)| *n >= max && since.elapsed() < WINDOW);
        over(&a.address, MAX_PER_ADDRESS) || over(&a.address_name, MAX_PER_NAME)
    }

    pub fn len(&self) -> usize {
        self.counts.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

/// Drops the windows that ended, then, if still full, the oldest tenth.
fn make_room(map: &mut HashMap<Key, (u32, Instant)>, now: Instant) {
    map.retain(|_, (_, since)| now.duration_since(*since) < WINDOW);
    if map.len() + 2 > MAX_KEYS {
        let mut starts: Vec<Instant> = map.values().map(|(_, s)| *s).collect();
        let cut = starts.len() / 10;
        let (_, oldest_kept, _) = starts.select_nth_unstable(cut);
        let oldest_kept = *oldest_kept;
        map.retain(|_, (_, since)| *since >= oldest_kept);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn guesses_are_limited_per_address_and_name_not_per_name_alone() {
        let t = Throttle::default();
        let from_a = Attempt::new(ip("10.0.0.1"), "bob");
        for _ in 0..MAX_PER_NAME {
            assert!(t.begin(&from_a));
        }
        assert!(!t.begin(&from_a), "a sixth guess for bob from there");
        assert!(t.refused(&from_a));
        // bob logs in from elsewhere; the guesser may still try other names.
        assert!(t.begin(&Attempt::new(ip("10.0.0.2"), "bob")));
        assert!(t.begin(&Attempt::new(ip("10.0.0.1"), "carol")));
        // One address guessing many names stops at its own limit.
        let t = Throttle::default();
        let n = (0..100).take_while(|i| t.begin(&Attempt::new(ip("10.0.0.9"), &format!("u{i}")))).count();
        assert_eq!(n as u32, MAX_PER_ADDRESS);
        // IPv6 addresses count by /64.
        let t = Throttle::default();
        for i in 0..MAX_PER_NAME {
            assert!(t.begin(&Attempt::new(ip(&format!("2001:db8::{i}")), "bob")));
        }
        assert!(!t.begin(&Attempt::new(ip("2001:db8::ffff"), "bob")));
        assert!(t.begin(&Attempt::new(ip("2001:db8:0:1::1"), "bob")));
    }

    #[test]
    fn a_success_refunds_and_huge_names_cost_a_key() {
        let t = Throttle::default();
        let a = Attempt::new(ip("10.0.0.1"), &"x".repeat(300_000));
        assert!(t.begin(&a));
        assert_eq!(t.len(), 2);
        t.succeeded(&a);
        assert_eq!(t.len(), 1);
        for _ in 0..MAX_PER_NAME * 3 {
            assert!(t.begin(&a));
            t.succeeded(&a);
        }
    }

    #[test]
    fn a_full_table_drops_its_oldest_keys_not_everyone() {
        let t = Throttle::default();
        let victim = Attempt::new(ip("192.0.2.1"), "admin");
        for _ in 0..MAX_PER_NAME {
            t.begin(&victim);
        }
        for i in 0..(MAX_KEYS as u32) {
            let addr = std::net::Ipv4Addr::from(0x0a00_0000 + i);
            t.begin(&Attempt::new(Some(addr.into()), "x"));
        }
        assert!(t.len() <= MAX_KEYS);
        // The flood dropped the oldest tenth at a time; the newest counts survive.
        let last = Attempt::new(Some(std::net::Ipv4Addr::from(0x0a00_0000 + MAX_KEYS as u32 - 1).into()), "x");
        assert!(t.counts.lock().unwrap().contains_key(&last.address_name));
    }
}
