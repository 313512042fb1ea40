//! A worker's session table: sessions by flow key, bounded, with their idle order.
//!
//! Entries live in a slab (a freed slot is reused), a hash map finds them by key, and
//! one doubly linked list per timeout class keeps them in least-recently-seen order,
//! so that idle expiry and eviction of the oldest cost O(1) per session written out.
//! The table knows keys, classes and times; what a session holds is the caller's `T`.

use std::collections::HashMap;

use crate::key::FlowKey;

/// Which timeout applies to a session.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Class {
    Tcp = 0,
    Udp = 1,
    Icmp = 2,
    Other = 3,
    /// A TCP session after its FINs or a reset: late ACKs and resets still join it.
    Closing = 4,
}

pub(crate) const CLASSES: usize = 5;
pub(crate) const ALL_CLASSES: [Class; CLASSES] = [Class::Tcp, Class::Udp, Class::Icmp, Class::Other, Class::Closing];

/// A session's place in the table, valid until it is removed.
pub(crate) type Handle = u32;
const NIL: Handle = Handle::MAX;

struct Entry<T> {
    key: FlowKey,
    last_ns: i64,
    class: Class,
    prev: Handle,
    next: Handle,
    value: T,
}

#[derive(Clone, Copy)]
struct List {
    head: Handle,
    tail: Handle,
}

pub(crate) struct SessionTable<T> {
    map: HashMap<FlowKey, Handle, ahash::RandomState>,
    slots: Vec<Option<Entry<T>>>,
    free: Vec<Handle>,
    lists: [List; CLASSES],
}

impl<T> SessionTable<T> {
    pub fn new() -> SessionTable<T> {
        SessionTable {
            map: HashMap::with_hasher(ahash::RandomState::new()),
            slots: Vec::new(),
            free: Vec::new(),
            lists: [List { head: NIL, tail: NIL }; CLASSES],
        }
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn find(&self, key: &FlowKey) -> Option<Handle> {
        self.map.get(key).copied()
    }

    /// Adds a session seen at `now_ns`, most recent of its class.
    pub fn insert(&mut self, key: FlowKey, class: Class, now_ns: i64, value: T) -> Handle {
        let entry = Entry { key, last_ns: now_ns, class, prev: NIL, next: NIL, value };
        let h = match self.free.pop() {
            Some(h) => {
                self.slots[h as usize] = Some(entry);
                h
            }
            None => {
                self.slots.push(Some(entry));
                (self.slots.len() - 1) as Handle
            }
        };
        self.map.insert(key, h);
        self.push_tail(class, h);
        h
    }

    /// Takes a session out; its handle may then name another.
    pub fn remove(&mut self, h: Handle) -> (FlowKey, T) {
        self.unlink(h);
        let e = self.slots[h as usize].take().expect("a handle names a session of the table");
        self.free.push(h);
        self.map.remove(&e.key);
        (e.key, e.value)
    }

    fn entry(&self, h: Handle) -> &Entry<T> {
        self.slots[h as usize].as_ref().expect("a handle names a session of the table")
    }

    fn entry_mut(&mut self, h: Handle) -> &mut Entry<T> {
        self.slots[h as usize].as_mut().expect("a handle names a session of the table")
    }

    pub fn get(&self, h: Handle) -> &T {
        &self.entry(h).value
    }

    pub fn get_mut(&mut self, h: Handle) -> &mut T {
        &mut self.entry_mut(h).value
    }

    pub fn class(&self, h: Handle) -> Class {
        self.entry(h).class
    }

    /// When the session was last seen (the latest packet time, never earlier).
    pub fn last_ns(&self, h: Handle) -> i64 {
        self.entry(h).last_ns
    }

    /// The session was seen at `now_ns`: it becomes the most recent of `class`.
    pub fn touch(&mut self, h: Handle, class: Class, now_ns: i64) {
        let e = self.entry_mut(h);
        e.last_ns = e.last_ns.max(now_ns);
        self.unlink(h);
        self.push_tail(class, h);
    }

    /// The session seen longest ago, whatever its class (the one to evict).
    pub fn oldest(&self) -> Option<Handle> {
        self.lists.iter().filter(|l| l.head != NIL).map(|l| (self.entry(l.head).last_ns, l.head)).min().map(|(_, h)| h)
    }

    /// The least recently seen session of `class` if it was last seen more than
    /// `timeout_ns` before `now_ns`.
    pub fn idle(&self, class: Class, now_ns: i64, timeout_ns: i64) -> Option<Handle> {
        let head = self.lists[class as usize].head;
        (head != NIL && now_ns.saturating_sub(self.entry(head).last_ns) > timeout_ns).then_some(head)
    }

    /// Every session's handle, in slot order.
    pub fn handles(&self) -> Vec<Handle> {
        (0..self.slots.len() as Handle).filter(|h| self.slots[*h as usize].is_some()).collect()
    }

    fn push_tail(&mut self, class: Class, h: Handle) {
        let c = class as usize;
        let tail = self.lists[c].tail;
        let e = self.entry_mut(h);
        e.class = class;
        e.prev = tail;
        e.next = NIL;
        if tail == NIL {
            self.lists[c].head = h;
        } else {
            self.entry_mut(tail).next = h;
        }
        self.lists[c].tail = h;
    }

    fn unlink(&mut self, h: Handle) {
        let (prev, next, c) = {
            let e = self.entry(h);
            (e.prev, e.next, e.class as usize)
        };
        if prev == NIL {
            self.lists[c].head = next;
        } else {
            self.entry_mut(prev).next = next;
        }
        if next == NIL {
            self.lists[c].tail = prev;
        } else {
            self.entry_mut(next).prev = prev;
        }
    }
}

#[cfg(test)]
mod tests {
    use tyto_packet::Addr;

    use super::*;

    fn key(n: u16) -> FlowKey {
        FlowKey {
            lo: Addr::from_v4([10, 0, 0, 1]),
            hi: Addr::from_v4([10, 0, 0, 2]),
            lo_port: n,
            hi_port: 80,
            proto: 6,
            ethertype: 0x0800,
        }
    }

    /// The handles of `class` from least to most recently seen, following the links
    /// both ways (they must agree).
    fn order<T>(t: &SessionTable<T>, class: Class) -> Vec<Handle> {
        let mut fwd = Vec::new();
        let mut h = t.lists[class as usize].head;
        while h != NIL {
            fwd.push(h);
            h = t.entry(h).next;
        }
        let mut back = Vec::new();
        let mut h = t.lists[class as usize].tail;
        while h != NIL {
            back.push(h);
            h = t.entry(h).prev;
        }
        back.reverse();
        assert_eq!(fwd, back, "the links agree both ways");
        fwd
    }

    #[test]
    fn keys_find_their_sessions_and_freed_slots_are_reused() {
        let mut t = SessionTable::new();
        let a = t.insert(key(1), Class::Tcp, 10, "a");
        let b = t.insert(key(2), Class::Udp, 20, "b");
        assert_eq!((t.find(&key(1)), t.find(&key(2)), t.find(&key(3))), (Some(a), Some(b), None));
        assert_eq!((t.get(a), t.get(b), t.len()), (&"a", &"b", 2));
        assert_eq!(t.remove(a), (key(1), "a"));
        assert_eq!((t.find(&key(1)), t.len()), (None, 1));
        let c = t.insert(key(3), Class::Tcp, 30, "c");
        assert_eq!(c, a, "the freed slot is taken again");
        assert_eq!(t.handles(), vec![c, b]);
        *t.get_mut(c) = "c2";
        assert_eq!(t.get(c), &"c2");
    }

    #[test]
    fn idle_sessions_leave_in_the_order_they_were_last_seen() {
        let mut t = SessionTable::new();
        let hs: Vec<Handle> = (0..4).map(|n| t.insert(key(n), Class::Udp, 100 + n as i64, n)).collect();
        t.touch(hs[0], Class::Udp, 200); // seen again: now the most recent
        assert_eq!(order(&t, Class::Udp), vec![hs[1], hs[2], hs[3], hs[0]]);
        // A timeout of 50 at time 152: sessions last seen before 102 are idle.
        assert_eq!(t.idle(Class::Udp, 152, 50), Some(hs[1]));
        t.remove(hs[1]);
        assert_eq!(t.idle(Class::Udp, 152, 50), None, "102 is not more than 50 before 152");
        assert_eq!(t.idle(Class::Udp, 153, 50), Some(hs[2]));
        assert_eq!(t.idle(Class::Tcp, i64::MAX, 0), None, "an empty class has nothing idle");
        // A packet older than the last one never moves time back.
        t.touch(hs[0], Class::Udp, 50);
        assert_eq!(t.last_ns(hs[0]), 200);
    }

    #[test]
    fn eviction_takes_the_oldest_of_every_class() {
        let mut t = SessionTable::new();
        let tcp = t.insert(key(1), Class::Tcp, 300, ());
        let udp = t.insert(key(2), Class::Udp, 100, ());
        let icmp = t.insert(key(3), Class::Icmp, 200, ());
        assert_eq!(t.oldest(), Some(udp));
        t.touch(udp, Class::Udp, 400);
        assert_eq!(t.oldest(), Some(icmp));
        t.remove(icmp);
        assert_eq!(t.oldest(), Some(tcp));
        t.remove(tcp);
        t.remove(udp);
        assert_eq!((t.oldest(), t.len()), (None, 0));
    }

    #[test]
    fn a_closing_session_moves_to_its_own_list() {
        let mut t = SessionTable::new();
        let a = t.insert(key(1), Class::Tcp, 1, ());
        let b = t.insert(key(2), Class::Tcp, 2, ());
        let c = t.insert(key(3), Class::Tcp, 3, ());
        t.touch(b, Class::Closing, 4);
        assert_eq!((order(&t, Class::Tcp), order(&t, Class::Closing)), (vec![a, c], vec![b]));
        assert_eq!(t.class(b), Class::Closing);
        t.remove(a);
        t.remove(c);
        assert_eq!(order(&t, Class::Tcp), Vec::<Handle>::new());
        assert_eq!(t.idle(Class::Closing, 10, 5), Some(b));
    }
}
