//! IPv4 and IPv6 fragment reassembly, in any arrival order, with bounded memory.
//!
//! It runs before packets are shared out to workers, because only the first
//! fragment carries the ports that choose the worker. A complete datagram comes out
//! as one rebuilt frame (for the session's analysis) plus the original fragment
//! frames (which are what gets stored and counted). Fragments that never complete
//! come out as orphans when they time out or are pushed out by the bounds, so no
//! packet is lost.

use std::collections::{HashMap, VecDeque};

use tyto_packet::{decode, Addr, Decoded, LinkType};

/// The largest datagram rebuilt (the IP total-length field's range).
const MAX_DATAGRAM: u32 = 65_535;
/// Fragments held for one datagram; real ones use a handful, attacks use thousands.
const MAX_FRAGMENTS_PER_DATAGRAM: usize = 128;
/// Frame bytes held over all pending datagrams.
const MAX_HELD_BYTES: usize = 32 << 20;

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
struct FragKey {
    src: Addr,
    dst: Addr,
    id: u32,
    proto: u8,
}

/// One original fragment frame.
#[derive(Debug)]
pub struct Piece {
    pub ts_ns: i64,
    pub wire_len: u32,
    pub link: LinkType,
    pub frame: Vec<u8>,
    pub decoded: Decoded,
}

/// A rebuilt datagram and the fragments it came from (in arrival order).
#[derive(Debug)]
pub struct Reassembled {
    pub frame: Vec<u8>,
    pub decoded: Decoded,
    pub link: LinkType,
    pub pieces: Vec<Piece>,
}

struct Pending {
    first_ns: i64,
    pieces: Vec<Piece>,
    /// Offset + length of the last fragment, once seen.
    total: Option<u32>,
    bytes: usize,
}

/// Counters for the stats page and the run report.
#[derive(Clone, Copy, Debug, Default)]
pub struct DefragStats {
    pub fragments: u64,
    pub reassembled: u64,
    /// Datagrams given up (timeout, bounds, or inconsistent fragments).
    pub abandoned: u64,
}

pub struct Defragmenter {
    pending: HashMap<FragKey, Pending>,
    /// Arrival order, for timeouts and for pushing out the oldest.
    order: VecDeque<FragKey>,
    held_bytes: usize,
    max_datagrams: usize,
    timeout_ns: i64,
    orphans: Vec<Piece>,
    pub stats: DefragStats,
}

impl Defragmenter {
    pub fn new(max_datagrams: usize, timeout_s: u32) -> Defragmenter {
        Defragmenter {
            pending: HashMap::new(),
            order: VecDeque::new(),
            held_bytes: 0,
            max_datagrams: max_datagrams.max(1),
            timeout_ns: timeout_s as i64 * 1_000_000_000,
            orphans: Vec::new(),
            stats: DefragStats::default(),
        }
    }

    /// Takes one fragment (its `decoded.ip.fragment` is set). Returns the datagram
    /// when this fragment completes it.
    pub fn add(&mut self, piece: Piece) -> Option<Reassembled> {
        let ip = piece.decoded.ip?;
        let frag = ip.fragment?;
        self.stats.fragments += 1;
        let key = FragKey { src: ip.src, dst: ip.dst, id: frag.id, proto: if ip.v6 { 0 } else { ip.protocol } };
        // Every fragment is held within the bound, not only a datagram's first: the
        // oldest datagrams are given up (their fragments become packets) to make room.
        let cost = held_cost(&piece);
        while self.held_bytes + cost > MAX_HELD_BYTES
            || (!self.pending.contains_key(&key) && self.pending.len() >= self.max_datagrams)
        {
            if !self.abandon_oldest() {
                break;
            }
        }
        let p = match self.pending.entry(key) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => {
                self.order.push_back(key);
                e.insert(Pending { first_ns: piece.ts_ns, pieces: Vec::new(), total: None, bytes: 0 })
            }
        };
        let len = data_len(&piece);
        let end = frag.offset.saturating_add(len);
        if !frag.more {
            p.total = Some(end);
        }
        let bad = end > MAX_DATAGRAM || p.pieces.len() >= MAX_FRAGMENTS_PER_DATAGRAM;
        p.bytes += cost;
        self.held_bytes += cost;
        p.pieces.push(piece);
        if bad {
            self.abandon(key);
            return None;
        }
        let total = p.total?;
        if !covers(&p.pieces, total) {
            return None;
        }
        let p = self.remove(key)?;
        match rebuild(&p.pieces, total) {
            Some((frame, decoded, link)) => {
                self.stats.reassembled += 1;
                Some(Reassembled { frame, decoded, link, pieces: p.pieces })
            }
            None => {
                self.stats.abandoned += 1;
                self.orphans.extend(p.pieces);
                None
            }
        }
    }

    /// Gives up datagrams whose first fragment is older than the timeout.
    pub fn expire(&mut self, now_ns: i64) {
        while let Some(key) = self.order.front().copied() {
            match self.pending.get(&key) {
                Some(p) if now_ns.saturating_sub(p.first_ns) > self.timeout_ns => self.abandon(key),
                Some(_) => break,
                None => {
                    self.order.pop_front();
                }
            }
        }
    }

    /// Gives up everything still pending (end of input).
    pub fn abandon_all(&mut self) {
        while self.abandon_oldest() {}
    }

    /// Fragments given up since the last call; the caller turns them into packets.
    pub fn take_orphans(&mut self) -> Vec<Piece> {
        std::mem::take(&mut self.orphans)
    }

    fn abandon_oldest(&mut self) -> bool {
        while let Some(key) = self.order.pop_front() {
            if self.pending.contains_key(&key) {
                self.abandon(key);
                return true;
            }
        }
        false
    }

    fn abandon(&mut self, key: FragKey) {
        if let Some(p) = self.remove(key) {
            self.stats.abandoned += 1;
            self.orphans.extend(p.pieces);
        }
    }

    fn remove(&mut self, key: FragKey) -> Option<Pending> {
        let p = self.pending.remove(&key)?;
        self.held_bytes -= p.bytes;
        Some(p)
    }
}

/// What holding a fragment costs: its bytes and its bookkeeping.
fn held_cost(p: &Piece) -> usize {
    p.frame.len() + std::mem::size_of::<Piece>()
}

/// Bytes held now (for tests and accounting).
impl Defragmenter {
    pub fn held_bytes(&self) -> usize {
        self.held_bytes
    }
}

fn data_len(p: &Piece) -> u32 {
    let ip = p.decoded.ip.expect("fragments are IP");
    let frag = ip.fragment.expect("fragments have fragment info");
    let end = ip.payload_offset + ip.payload_len;
    end.saturating_sub(frag.data_offset)
}

/// Whether the fragments cover 0..total without a hole.
fn covers(pieces: &[Piece], total: u32) -> bool {
    let mut spans: Vec<(u32, u32)> = pieces
        .iter()
        .map(|p| {
            let off = p.decoded.ip.and_then(|ip| ip.fragment).map_or(0, |f| f.offset);
            (off, off + data_len(p))
        })
        .collect();
    spans.sort_unstable();
    let mut reach = 0;
    for (s, e) in spans {
        if s > reach {
            return false;
        }
        reach = reach.max(e);
    }
    reach >= total
}

/// Builds the whole datagram: the first fragment's headers, then every fragment's
/// data in place (the first copy of overlapping bytes wins).
fn rebuild(pieces: &[Piece], total: u32) -> Option<(Vec<u8>, Decoded, LinkType)> {
    let first = pieces.iter().find(|p| p.decoded.ip.and_then(|i| i.fragment).is_some_and(|f| f.offset == 0))?;
    let ip = first.decoded.ip?;
    let hdr_end = if ip.v6 { ip.header_offset as usize + 40 } else { ip.fragment?.data_offset as usize };
    let mut frame = Vec::with_capacity(hdr_end + total as usize);
    frame.extend_from_slice(first.frame.get(..hdr_end)?);
    let h = ip.header_offset as usize;
    if ip.v6 {
        frame[h + 4..h + 6].copy_from_slice(&(total as u16).to_be_bytes());
        frame[h + 6] = ip.protocol;
    } else {
        let ihl = hdr_end - h;
        let len = u16::try_from(ihl as u32 + total).ok()?;
        frame[h + 2..h + 4].copy_from_slice(&len.to_be_bytes());
        frame[h + 6] = 0;
        frame[h + 7] = 0;
    }
    frame.resize(hdr_end + total as usize, 0);
    let mut filled = vec![false; total as usize];
    for p in pieces {
        let pip = p.decoded.ip?;
        let f = pip.fragment?;
        let data = p.frame.get(f.data_offset as usize..(pip.payload_offset + pip.payload_len) as usize)?;
        for (i, b) in data.iter().enumerate() {
            let at = f.offset as usize + i;
            if at < total as usize && !filled[at] {
                filled[at] = true;
                frame[hdr_end + at] = *b;
            }
        }
    }
    let mut decoded = decode(first.link, &frame).ok()?;
    // Keep what the outer layers of the first frame said (they are not rebuilt).
    decoded.ip.as_mut()?.fragment = None;
    Some((frame, decoded, first.link))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A UDP datagram of `len` payload bytes cut into IPv4 fragments of `size` data bytes.
    fn fragments(len: usize, size: usize) -> Vec<Vec<u8>> {
        let mut udp = Vec::new();
        udp.extend_from_slice(&1111u16.to_be_bytes());
        udp.extend_from_slice(&53u16.to_be_bytes());
        udp.extend_from_slice(&((8 + len) as u16).to_be_bytes());
        udp.extend_from_slice(&[0, 0]);
        udp.extend((0..len).map(|i| (i % 251) as u8));
        udp.chunks(size)
            .enumerate()
            .map(|(i, chunk)| {
                let off = (i * size / 8) as u16;
                let more = (i + 1) * size < udp.len();
                let mut p = vec![0x45, 0];
                p.extend_from_slice(&((20 + chunk.len()) as u16).to_be_bytes());
                p.extend_from_slice(&[0xbe, 0xef]);
                p.extend_from_slice(&(off | if more { 0x2000 } else { 0 }).to_be_bytes());
                p.extend_from_slice(&[64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]);
                p.extend_from_slice(chunk);
                p
            })
            .collect()
    }

    fn piece(frame: Vec<u8>) -> Piece {
        let decoded = decode(LinkType::RAW, &frame).unwrap();
        Piece { ts_ns: 0, wire_len: frame.len() as u32, link: LinkType::RAW, frame, decoded }
    }

    #[test]
    fn reassembles_in_any_order() {
        let frags = fragments(3000, 1480);
        assert_eq!(frags.len(), 3);
        for order in [[0, 1, 2], [2, 1, 0], [1, 2, 0], [2, 0, 1]] {
            let mut d = Defragmenter::new(16, 30);
            let mut done = None;
            for i in order {
                if let Some(r) = d.add(piece(frags[i].clone())) {
                    done = Some(r);
                }
            }
            let r = done.expect("complete");
            assert_eq!(r.pieces.len(), 3);
            let ip = r.decoded.ip.unwrap();
            assert_eq!(ip.payload_len, 3000);
            assert_eq!(ip.transport.ports(), (1111, 53));
            assert_eq!(&r.frame[28..31], &[0, 1, 2]);
            assert!(d.take_orphans().is_empty());
        }
    }

    #[test]
    fn every_fragment_is_held_within_the_byte_bound() {
        // Datagrams that never complete, each of many fragments: before, only a
        // datagram's first fragment was checked against the bound (163 MB held).
        let frags = fragments(60_000, 1480);
        let mut d = Defragmenter::new(4096, 30);
        let mut orphans = 0;
        for id in 0..1000u16 {
            for f in &frags[..frags.len() - 1] {
                let mut f = f.clone();
                f[4..6].copy_from_slice(&id.to_be_bytes());
                assert!(d.add(piece(f)).is_none());
                assert!(d.held_bytes() <= MAX_HELD_BYTES, "{}", d.held_bytes());
            }
            orphans += d.take_orphans().len();
        }
        assert!(orphans > 0, "the oldest were given up to make room");
        d.abandon_all();
        orphans += d.take_orphans().len();
        assert_eq!(orphans, 1000 * (frags.len() - 1), "no fragment lost");
    }

    #[test]
    fn incomplete_datagrams_become_orphans_on_timeout_and_bounds() {
        let frags = fragments(3000, 1480);
        let mut d = Defragmenter::new(2, 30);
        let mut p = piece(frags[0].clone());
        p.ts_ns = 0;
        assert!(d.add(p).is_none());
        d.expire(10_000_000_000);
        assert!(d.take_orphans().is_empty());
        d.expire(31_000_000_000);
        assert_eq!(d.take_orphans().len(), 1);
        // Bounded: a flood of distinct ids never holds more than two datagrams.
        for id in 0..100u16 {
            let mut f = frags[0].clone();
            f[4..6].copy_from_slice(&id.to_be_bytes());
            d.add(piece(f));
            assert!(d.pending.len() <= 2);
        }
        assert_eq!(d.take_orphans().len(), 98);
        d.abandon_all();
        assert_eq!(d.take_orphans().len(), 2);
    }
}
