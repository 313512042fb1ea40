//! TCP reassembly of one direction into an ordered byte stream.
//!
//! In-order segments pass straight through without a copy. Segments ahead of a hole
//! are held (copied) up to a bound; when the bound is reached, or the session ends,
//! the hole is given up as a gap and the stream goes on. Retransmitted bytes are
//! dropped; a held segment that overlaps another with different bytes is counted
//! (the first copy wins, as most receivers do).

use tyto_schema::TcpStreamStats;

/// What reassembly hands on.
#[derive(Debug, PartialEq, Eq)]
pub enum Delivery<'a> {
    Data(&'a [u8]),
    /// This many bytes are missing before the next data.
    Gap(u64),
}

/// Held segments further ahead than this are garbage (or a different connection),
/// not a hole: TCP windows do not reach 1 GiB.
const MAX_AHEAD: u32 = 1 << 30;

/// Bounds on what one direction may hold.
#[derive(Clone, Copy, Debug)]
pub struct HoldLimits {
    /// Whether anyone still wants the bytes: when false nothing is buffered, but
    /// the sequence bookkeeping (and its counters) goes on.
    pub hold: bool,
    pub max_bytes: u32,
    pub max_segments: u32,
}

struct Held {
    seq: u32,
    data: Vec<u8>,
}

/// One direction of a TCP session.
#[derive(Default)]
pub struct TcpDirection {
    /// The next sequence number expected, once known.
    next: Option<u32>,
    /// Sorted by sequence (all ahead of `next`).
    held: Vec<Held>,
    held_bytes: u32,
}

fn ahead(seq: u32, of: u32) -> i64 {
    seq.wrapping_sub(of) as i32 as i64
}

impl TcpDirection {
    /// Takes one segment.
    pub fn segment(
        &mut self,
        seq: u32,
        syn: bool,
        payload: &[u8],
        limits: HoldLimits,
        stats: &mut TcpStreamStats,
        out: &mut dyn FnMut(Delivery<'_>),
    ) {
        let seq = if syn {
            let data_start = seq.wrapping_add(1);
            if self.next.is_none() || self.held.is_empty() && self.next == Some(data_start) {
                self.next = Some(data_start);
            }
            data_start
        } else {
            seq
        };
        if payload.is_empty() {
            return;
        }
        let next = *self.next.get_or_insert(seq);
        let d = ahead(seq, next);
        if d <= 0 {
            let skip = (-d) as u64;
            if skip >= payload.len() as u64 {
                stats.retransmissions += 1;
                return;
            }
            if skip > 0 {
                stats.retransmissions += 1;
            }
            let fresh = &payload[skip as usize..];
            out(Delivery::Data(fresh));
            self.next = Some(next.wrapping_add(fresh.len() as u32));
            self.drain(out);
            return;
        }
        if d as u64 > MAX_AHEAD as u64 {
            stats.dropped_segments += 1;
            return;
        }
        stats.out_of_order += 1;
        let hold = limits.hold;
        let full = self.held.len() as u32 >= limits.max_segments
            || self.held_bytes as u64 + payload.len() as u64 > limits.max_bytes as u64;
        if !hold || full {
            if !hold && self.held.is_empty() {
                // Nobody listens: jump over the hole without holding anything.
                stats.gap_bytes += d as u64;
                out(Delivery::Gap(d as u64));
                out(Delivery::Data(payload));
                self.next = Some(seq.wrapping_add(payload.len() as u32));
                return;
            }
            if self.held.is_empty() {
                // Nothing of this direction's own to give up (its share of the
                // worker's budget is spent): the hole is given up at once.
                stats.gap_bytes += d as u64;
                out(Delivery::Gap(d as u64));
                out(Delivery::Data(payload));
                self.next = Some(seq.wrapping_add(payload.len() as u32));
                return;
            }
            // Give up on the oldest hole to make room, then try again.
            self.skip_first_hole(stats, out);
            if self.held.is_empty() || ahead(seq, self.next.unwrap_or(seq)) <= 0 {
                return self.segment(seq, false, payload, limits, stats, out);
            }
            if !hold {
                return;
            }
            if self.held.len() as u32 >= limits.max_segments
                || self.held_bytes as u64 + payload.len() as u64 > limits.max_bytes as u64
            {
                stats.dropped_segments += 1;
                return;
            }
        }
        self.insert(seq, payload, stats);
    }

    fn insert(&mut self, seq: u32, payload: &[u8], stats: &mut TcpStreamStats) {
        let base = self.next.unwrap_or(seq);
        let key = ahead(seq, base);
        let at = self.held.partition_point(|h| ahead(h.seq, base) <= key);
        // A copy of a held segment, or one overlapping it with other bytes?
        for h in self.held[at.saturating_sub(1)..].iter().take(2) {
            let (hs, he) = (ahead(h.seq, base), ahead(h.seq, base) + h.data.len() as i64);
            let (s, e) = (key, key + payload.len() as i64);
            let (os, oe) = (s.max(hs), e.min(he));
            if os < oe {
                let mine = &payload[(os - s) as usize..(oe - s) as usize];
                let theirs = &h.data[(os - hs) as usize..(oe - hs) as usize];
                if mine == theirs {
                    if s >= hs && e <= he {
                        stats.retransmissions += 1;
                        return;
                    }
                } else {
                    stats.overlaps += 1;
                }
            }
        }
        self.held_bytes += payload.len() as u32;
        self.held.insert(at, Held { seq, data: payload.to_vec() });
    }

    /// Delivers held segments that now follow on.
    fn drain(&mut self, out: &mut dyn FnMut(Delivery<'_>)) {
        while let Some(first) = self.held.first() {
            let next = self.next.unwrap_or(first.seq);
            let d = ahead(first.seq, next);
            if d > 0 {
                break;
            }
            let h = self.held.remove(0);
            self.held_bytes -= h.data.len() as u32;
            let skip = (-d) as u64;
            if skip < h.data.len() as u64 {
                let fresh = &h.data[skip as usize..];
                out(Delivery::Data(fresh));
                self.next = Some(next.wrapping_add(fresh.len() as u32));
            }
        }
    }

    /// Declares the hole before the first held segment lost and delivers what follows.
    fn skip_first_hole(&mut self, stats: &mut TcpStreamStats, out: &mut dyn FnMut(Delivery<'_>)) {
        if let (Some(first), Some(next)) = (self.held.first(), self.next) {
            let gap = ahead(first.seq, next);
            if gap > 0 {
                stats.gap_bytes += gap as u64;
                out(Delivery::Gap(gap as u64));
                self.next = Some(first.seq);
            }
            self.drain(out);
        }
    }

    /// The session is ending: everything held is delivered, holes as gaps.
    pub fn finish(&mut self, stats: &mut TcpStreamStats, out: &mut dyn FnMut(Delivery<'_>)) {
        while !self.held.is_empty() {
            self.skip_first_hole(stats, out);
        }
    }

    /// Bytes held now (for memory accounting).
    pub fn held_bytes(&self) -> u32 {
        self.held_bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: HoldLimits = HoldLimits { hold: true, max_bytes: 1 << 16, max_segments: 64 };

    fn run(dir: &mut TcpDirection, stats: &mut TcpStreamStats, segs: &[(u32, &[u8])]) -> (Vec<u8>, u64) {
        let mut bytes = Vec::new();
        let mut gaps = 0;
        for (seq, data) in segs {
            dir.segment(*seq, false, data, LIMITS, stats, &mut |d| match d {
                Delivery::Data(b) => bytes.extend_from_slice(b),
                Delivery::Gap(n) => gaps += n,
            });
        }
        dir.finish(stats, &mut |d| match d {
            Delivery::Data(b) => bytes.extend_from_slice(b),
            Delivery::Gap(n) => gaps += n,
        });
        (bytes, gaps)
    }

    #[test]
    fn every_segmentation_and_order_gives_the_same_stream() {
        let text: &[u8] = b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n";
        let isn = u32::MAX - 10; // the sequence space wraps inside the stream
        for size in 1..=text.len() {
            let chunks: Vec<(u32, &[u8])> =
                text.chunks(size).enumerate().map(|(i, c)| (isn.wrapping_add((i * size) as u32), c)).collect();
            for order in [false, true] {
                let mut segs = chunks.clone();
                if order {
                    segs[1..].reverse(); // first in place, the rest backwards
                }
                let mut dir = TcpDirection::default();
                let mut stats = TcpStreamStats::default();
                let (bytes, gaps) = run(&mut dir, &mut stats, &segs);
                assert_eq!(bytes, text, "size {size} reversed {order}");
                assert_eq!(gaps, 0);
            }
        }
    }

    #[test]
    fn retransmissions_and_overlaps_are_counted_once_delivered_once() {
        let mut dir = TcpDirection::default();
        let mut stats = TcpStreamStats::default();
        let (bytes, _) = run(
            &mut dir,
            &mut stats,
            &[(100, b"abcd"), (100, b"abcd"), (102, b"cdef"), (110, b"XY"), (110, b"ZZ"), (106, b"ghij")],
        );
        assert_eq!(bytes, b"abcdefghijXY");
        assert_eq!(stats.retransmissions, 2);
        assert_eq!(stats.overlaps, 1);
        assert_eq!(stats.out_of_order, 2);
    }

    #[test]
    fn a_hole_that_never_fills_becomes_a_gap_at_the_end() {
        let mut dir = TcpDirection::default();
        let mut stats = TcpStreamStats::default();
        let (bytes, gaps) = run(&mut dir, &mut stats, &[(0, b"ab"), (5, b"fg")]);
        assert_eq!(bytes, b"abfg");
        assert_eq!(gaps, 3);
        assert_eq!(stats.gap_bytes, 3);
    }

    #[test]
    fn a_direction_allowed_nothing_gives_its_hole_up_at_once() {
        let mut dir = TcpDirection::default();
        let mut stats = TcpStreamStats::default();
        let none = HoldLimits { hold: true, max_bytes: 0, max_segments: 64 };
        let mut got = Vec::new();
        let mut gaps = 0;
        for (seq, data) in [(0u32, &b"ab"[..]), (5, b"fg"), (3, b"de")] {
            dir.segment(seq, false, data, none, &mut stats, &mut |d| match d {
                Delivery::Data(b) => got.extend_from_slice(b),
                Delivery::Gap(n) => gaps += n,
            });
        }
        assert_eq!((got.as_slice(), gaps), (&b"abfg"[..], 3));
        assert_eq!(dir.held_bytes(), 0);
    }

    #[test]
    fn the_bound_on_held_bytes_holds() {
        let mut dir = TcpDirection::default();
        let mut stats = TcpStreamStats::default();
        let limits = HoldLimits { hold: true, max_bytes: 10, max_segments: 3 };
        let mut delivered = 0usize;
        dir.segment(0, false, b"a", limits, &mut stats, &mut |_| {});
        for i in 0..100u32 {
            dir.segment(10 + i * 4, false, b"xyz", limits, &mut stats, &mut |d| {
                if let Delivery::Data(b) = d {
                    delivered += b.len()
                }
            });
            assert!(dir.held_bytes() <= 10);
            assert!(dir.held.len() <= 3);
        }
        assert!(delivered > 0);
        assert!(stats.gap_bytes > 0);
    }
}
