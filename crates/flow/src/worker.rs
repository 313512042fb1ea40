//! One worker: the sessions of the flows hashed to it, with nothing shared.
//!
//! Sessions live in a [`SessionTable`] (by key, in idle order per timeout class); a
//! packet finds or opens its session, is stored, counted and handed to the session's
//! analyzer; rows are written when a session ends, idles out or reaches a row limit.

use tyto_packet::{tcpflag, Addr, Decoded, Encap, LinkType, MacAddr, Transport};
use tyto_pcapstore::PcapWriter;
use tyto_schema::{CloseReason, SessionRecord};

use crate::analyzer::{AnalyzerFactory, Opening, SessionAnalyzer};
use crate::config::FlowConfig;
use crate::key::{Direction, KeyedPacket};
use crate::table::{Class, Handle, SessionTable, ALL_CLASSES, CLASSES};
use crate::tcp::{Delivery, HoldLimits, TcpDirection};
use crate::tcp_health::{HealthTracker, Segment};

/// Distinct values kept per multi-valued link field (MACs, TTLs, VLANs…).
const MAX_LIST_VALUES: usize = 16;
/// No pcap file yet for the session's current row.
const NO_FILE: u32 = u32::MAX;

/// A packet in flight from the reader to its session's worker (in a batch between
/// threads it is a `pipeline::BatchedPacket`, offsets into the batch's bytes).
pub struct PacketIn<'a> {
    pub ts_ns: i64,
    pub wire_len: u32,
    pub link: LinkType,
    pub data: &'a [u8],
    pub decoded: Decoded,
    pub keyed: KeyedPacket,
    /// Identifies the packet's origin (file and index) for stable session ids.
    pub origin: u64,
    /// The input file the packet was read from (its place in the run's list), or
    /// [`NO_INPUT`] (live capture).
    pub input: u32,
    /// For a datagram rebuilt from fragments: the original frames, which are stored
    /// and counted in its place.
    pub pieces: &'a [PieceIn<'a>],
}

/// [`PacketIn::input`] of a packet read from no file.
pub const NO_INPUT: u32 = u32::MAX;

/// An original fragment frame of a rebuilt datagram.
pub struct PieceIn<'a> {
    pub ts_ns: i64,
    pub wire_len: u32,
    pub link: LinkType,
    pub data: &'a [u8],
}

struct TcpState {
    dirs: [TcpDirection; 2],
    fin: [bool; 2],
    rst: bool,
    /// A SYN or SYN-ACK was seen: the connection's start is known.
    handshake: bool,
    /// Sequence number of the first SYN (without ACK).
    syn_seq: Option<u32>,
    health: HealthTracker,
}

struct Session {
    rec: SessionRecord,
    /// The source (the side that opened the session) is `key.hi`.
    src_is_hi: bool,
    tcp: Option<Box<TcpState>>,
    analyzer: Option<Box<dyn SessionAnalyzer>>,
    cur_file: u32,
    id_seed: u64,
    /// The input files its packets came from ([`PacketIn::input`]), each once.
    inputs: Vec<u32>,
    /// The non-zero DSCP values of each direction's packets (bit n: value n), for
    /// Arkime's `dscp.src`/`dscp.dst`: a bit per packet, the values when the row is
    /// written.
    dscp: [u64; 2],
    /// VLAN tags by kind and tunnels' outer Ethernet addresses, for the row's
    /// values; only sessions that carry them pay for them.
    link: Option<Box<LinkValues>>,
    /// Each direction's byte values (`[flow] entropy`), from its first data byte on.
    entropy: Option<Box<ByteCounts>>,
}

/// How often each byte value came in each direction's TCP and UDP data since the
/// row began, for Arkime's `entropy.src`/`entropy.dst`.
struct ByteCounts {
    counts: [[u32; 256]; 2],
    total: [u32; 2],
}

impl ByteCounts {
    /// Counts `bytes` of direction `dir` into `slot`, made at the first byte.
    fn add(slot: &mut Option<Box<ByteCounts>>, dir: Direction, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        let c = slot.get_or_insert_with(|| Box::new(ByteCounts { counts: [[0; 256]; 2], total: [0; 2] }));
        let d = dir.index();
        // Past 4 GiB a direction's histogram stops: its shares are known by then.
        let room = (u32::MAX - c.total[d]) as usize;
        let bytes = &bytes[..bytes.len().min(room)];
        for &b in bytes {
            c.counts[d][usize::from(b)] += 1;
        }
        c.total[d] += bytes.len() as u32;
    }

    /// The Shannon entropy of direction `d`'s bytes in bits, times 100 and rounded
    /// (Arkime's integer); `None` without data.
    fn entropy(&self, d: usize) -> Option<i64> {
        let total = f64::from(self.total[d]);
        (self.total[d] > 0).then(|| {
            let bits: f64 = self.counts[d]
                .iter()
                .filter(|n| **n > 0)
                .map(|n| {
                    let p = f64::from(*n) / total;
                    -p * p.log2()
                })
                .sum();
            (bits * 100.0).round() as i64
        })
    }

    /// Into the row being written: each direction's entropy; the next row counts
    /// afresh (as Arkime's mid-session saves).
    fn write(slot: &mut Option<Box<ByteCounts>>, rec: &mut SessionRecord) {
        let Some(c) = slot.take() else { return };
        for (d, field) in [(0, "entropy.src"), (1, "entropy.dst")] {
            if let Some(e) = c.entropy(d) {
                let _ = rec.extra.add_int(field, e);
            }
        }
    }
}

/// Link values Arkime files apart from `vlan` and `mac.*`: each value once, bounded.
#[derive(Default)]
struct LinkValues {
    dot1q: Vec<u16>,
    dot1ad: Vec<u16>,
    outer_mac_src: Vec<MacAddr>,
    outer_mac_dst: Vec<MacAddr>,
}

impl LinkValues {
    fn note(&mut self, d: &Decoded, dir: Direction) {
        for (i, v) in d.vlans[..(d.vlan_count as usize).min(d.vlans.len())].iter().enumerate() {
            let list = if d.vlan_ad & (1 << i) != 0 { &mut self.dot1ad } else { &mut self.dot1q };
            push_distinct(list, *v);
        }
        let (src, dst) = match dir {
            Direction::ToServer => (d.outer_mac_src, d.outer_mac_dst),
            Direction::ToClient => (d.outer_mac_dst, d.outer_mac_src),
        };
        for (list, mac) in [(&mut self.outer_mac_src, src), (&mut self.outer_mac_dst, dst)] {
            if let Some(m) = mac {
                push_distinct(list, m);
            }
        }
    }

    /// Files the values in the row (the next row starts afresh).
    fn write(self, rec: &mut SessionRecord) {
        for (field, ids) in [("vlan.dot1q", &self.dot1q), ("vlan.dot1ad", &self.dot1ad)] {
            for id in ids {
                let _ = rec.extra.add_int(field, i64::from(*id));
            }
        }
        for (field, macs) in [("outermac.src", &self.outer_mac_src), ("outermac.dst", &self.outer_mac_dst)] {
            for m in macs {
                let _ = rec.extra.add_text(field, &m.to_string());
            }
        }
    }
}

/// What a worker counted.
#[derive(Clone, Debug, Default)]
pub struct WorkerStats {
    pub packets: u64,
    pub bytes: u64,
    pub sessions_written: u64,
    pub rows_written: u64,
    pub evicted: u64,
    pub pcap_write_errors: u64,
    pub first_pcap_error: Option<String>,
    /// TCP segments that could not be held because the worker's budget for
    /// out-of-order bytes was spent (their holes became gaps early).
    pub held_budget_full: u64,
}

/// Where a worker's finished rows go.
pub trait RecordSink: Send {
    fn push(&mut self, rec: SessionRecord);
    /// Hands on whatever is held back for batching (live capture does this each
    /// second, so rows are searchable soon after their sessions end).
    fn flush(&mut self) {}
}

/// The sessions of one worker.
pub struct Worker {
    cfg: FlowConfig,
    node: String,
    max_sessions: usize,
    table: SessionTable<Session>,
    timeouts_ns: [i64; CLASSES],
    analyzers: std::sync::Arc<dyn AnalyzerFactory>,
    pcap: Option<PcapWriter>,
    out: Box<dyn RecordSink>,
    now_ns: i64,
    /// Out-of-order TCP bytes held by all sessions ([`FlowConfig::tcp_max_held_total`]).
    held_total: u64,
    /// The run's input files by [`PacketIn::input`], as the `file` field names them.
    input_names: std::sync::Arc<[String]>,
    pub stats: WorkerStats,
}

impl Worker {
    pub fn new(
        cfg: FlowConfig,
        node: String,
        max_sessions: usize,
        analyzers: std::sync::Arc<dyn AnalyzerFactory>,
        pcap: Option<PcapWriter>,
        out: Box<dyn RecordSink>,
    ) -> Worker {
        let s = |x: u32| x as i64 * 1_000_000_000;
        let timeouts_ns =
            [s(cfg.tcp_idle_s), s(cfg.udp_idle_s), s(cfg.icmp_idle_s), s(cfg.other_idle_s), s(cfg.tcp_closing_s)];
        Worker {
            cfg,
            node,
            max_sessions: max_sessions.max(1),
            table: SessionTable::new(),
            timeouts_ns,
            analyzers,
            pcap,
            out,
            now_ns: i64::MIN,
            held_total: 0,
            input_names: std::sync::Arc::from(Vec::new()),
            stats: WorkerStats::default(),
        }
    }

    /// Names the run's input files, for the `file` field of the rows.
    pub fn set_input_names(&mut self, names: std::sync::Arc<[String]>) {
        self.input_names = names;
    }

    /// Takes one packet (or one rebuilt datagram with its fragments).
    pub fn packet(&mut self, p: &PacketIn<'_>) {
        let key = p.keyed.key;
        let tcp = tcp_segment_of(p);
        let mut idx = self.table.find(&key);
        if let Some(i) = idx {
            let (s, class) = (self.table.get(i), self.table.class(i));
            // A closed TCP session takes packets for `tcp_closing_s` more (late ACKs,
            // resets); after that, or after idling, the key starts a new session. So
            // does a new connection reusing the ports: a SYN, after FIN or RST, that
            // is not a copy of the first SYN.
            let idle = p.ts_ns.saturating_sub(self.table.last_ns(i)) > self.timeouts_ns[class as usize];
            let reused = match (&tcp, s.tcp.as_ref()) {
                (Some(seg), Some(t)) => {
                    seg.flags & tcpflag::SYN != 0
                        && seg.flags & tcpflag::ACK == 0
                        && (t.rst || t.fin[0] || t.fin[1])
                        && t.syn_seq != Some(seg.seq)
                }
                _ => false,
            };
            if idle || reused {
                let reason = if class == Class::Closing || reused { CloseReason::TcpClose } else { CloseReason::Idle };
                self.close(i, reason);
                idx = None;
            }
        }
        let i = match idx {
            Some(i) => i,
            None => self.create(p, tcp.as_ref().map(|t| t.flags)),
        };
        // Judged before the packet's own messages can move the time on. Only in a
        // connection whose opening was seen: Arkime, whose rows these are, reads no
        // messages in one picked up part-way.
        let s = self.table.get(i);
        let quiet = s.rec.quiet_after_ns.is_some_and(|t| p.ts_ns >= t) && s.tcp.as_ref().is_some_and(|t| t.handshake);
        self.add_packet(i, p, tcp.as_ref());
        // A row that reached its packet limit or its age, or whose protocol paused
        // and spoke again, is written with this packet in it; the next packet starts
        // the linked row.
        let s = self.table.get(i);
        let max_age = if key.proto == 6 { self.cfg.max_row_age_s } else { self.cfg.max_row_age_other_s };
        let max_age = max_age as i64 * 1_000_000_000;
        if s.rec.src.packets + s.rec.dst.packets >= self.cfg.max_packets_per_row as u64 {
            self.write_row(i, CloseReason::MaxPackets);
        } else if p.ts_ns.saturating_sub(s.rec.start_ns) >= max_age {
            self.write_row(i, CloseReason::MaxAge);
        } else if quiet {
            self.write_row(i, CloseReason::Quiet);
        }
    }

    /// Writes out the sessions idle at packet time `now_ns`. The reader calls this
    /// at fixed points of the packet stream (once a second of packet time), the same
    /// for every worker, so results do not depend on the number of workers.
    pub fn sweep(&mut self, now_ns: i64) {
        self.now_ns = now_ns;
        self.expire(now_ns);
    }

    fn expire(&mut self, now_ns: i64) {
        for class in ALL_CLASSES {
            while let Some(h) = self.table.idle(class, now_ns, self.timeouts_ns[class as usize]) {
                let reason = if class == Class::Closing { CloseReason::TcpClose } else { CloseReason::Idle };
                self.close(h, reason);
            }
        }
    }

    /// Sessions held now.
    pub fn live_sessions(&self) -> usize {
        self.table.len()
    }

    /// Pushes stored packets to their files, then rows to the sink: a row is handed on
    /// only once its packets are in the files (so even a killed process leaves no row
    /// pointing at packets that were never written).
    pub fn flush(&mut self) {
        if let Some(w) = self.pcap.as_mut() {
            if let Err(e) = w.flush() {
                self.stats.pcap_write_errors += 1;
                self.stats.first_pcap_error.get_or_insert(e.to_string());
            }
        }
        self.out.flush();
    }

    /// Files the worker closed since the last call (rotation).
    pub fn take_closed_files(&mut self) -> Vec<tyto_pcapstore::WrittenFile> {
        self.pcap.as_mut().map(|w| w.take_finished()).unwrap_or_default()
    }

    /// Writes every session out (end of input or shutdown).
    pub fn finish(mut self) -> (WorkerStats, Option<PcapWriter>) {
        for h in self.table.handles() {
            let reason =
                if self.table.class(h) == Class::Closing { CloseReason::TcpClose } else { CloseReason::EndOfInput };
            self.close(h, reason);
        }
        if let Some(w) = self.pcap.as_mut() {
            if let Err(e) = w.flush() {
                self.stats.pcap_write_errors += 1;
                self.stats.first_pcap_error.get_or_insert(e.to_string());
            }
        }
        (self.stats, self.pcap)
    }

    fn create(&mut self, p: &PacketIn<'_>, tcp_flags: Option<u16>) -> Handle {
        if self.table.len() >= self.max_sessions {
            if let Some(oldest) = self.table.oldest() {
                self.stats.evicted += 1;
                self.close(oldest, CloseReason::Evicted);
            }
        }
        let key = p.keyed.key;
        let sender_is_hi = p.keyed.flipped;
        // The opener is the SYN's sender; a SYN-ACK seen first was sent by the server.
        let syn_ack = tcp_flags.is_some_and(|f| f & tcpflag::SYN != 0 && f & tcpflag::ACK != 0);
        let src_is_hi = if syn_ack && !p.keyed.shared { !sender_is_hi } else { sender_is_hi };
        let (class, tcp) = match (key.proto, p.decoded.ip.map(|ip| ip.transport)) {
            (6, Some(Transport::Tcp { .. })) => (
                Class::Tcp,
                Some(Box::new(TcpState {
                    dirs: Default::default(),
                    fin: [false; 2],
                    rst: false,
                    handshake: false,
                    syn_seq: None,
                    health: HealthTracker::default(),
                })),
            ),
            (6, _) => (Class::Tcp, None),
            (17, _) => (Class::Udp, None),
            (1, _) | (58, _) => (Class::Icmp, None),
            _ => (Class::Other, None),
        };
        let (src_addr, dst_addr, src_port, dst_port) = match p.decoded.ip {
            // A shared session names the first packet's endpoints.
            Some(ip) if p.keyed.shared => (ip.src, ip.dst, 0, 0),
            // A conversation keyed by its payload: the first packet's endpoints.
            Some(ip) if p.keyed.conversation => {
                let (sp, dp) = ip.transport.ports();
                (ip.src, ip.dst, sp, dp)
            }
            _ if src_is_hi => (key.hi, key.lo, key.hi_port, key.lo_port),
            _ => (key.lo, key.hi, key.lo_port, key.hi_port),
        };
        let id_seed = ahash::RandomState::with_seeds(1, 2, 3, 4).hash_one((p.origin, key));
        let mut rec = SessionRecord {
            node: self.node.clone(),
            segment: 1,
            ip_protocol: key.proto,
            ethertype: p.decoded.ethertype,
            start_ns: p.ts_ns,
            stop_ns: p.ts_ns,
            ..SessionRecord::default()
        };
        if p.decoded.ip.is_some() {
            rec.src_ip = Some(src_addr);
            rec.dst_ip = Some(dst_addr);
            rec.src_port = src_port;
            rec.dst_port = dst_port;
            if let Some(name) = tyto_packet::ipproto::name(key.proto) {
                rec.protocols.push(name.to_string());
            }
        } else {
            if let Some((sender, target)) = arp_addresses(&p.decoded, p.data) {
                rec.src_ip = Some(sender);
                rec.dst_ip = Some(target);
            }
            rec.protocols.push(ether_protocol_name(&p.decoded, p.data).to_string());
        }
        rec.id = session_id(p.ts_ns, id_seed, 1);
        rec.root_id = rec.id.clone();
        let opening = if tcp_flags.is_some_and(|f| f & tcpflag::SYN != 0) { Opening::Seen } else { Opening::Unseen };
        let analyzer = self.analyzers.create(&key, opening);
        let s = Session {
            rec,
            src_is_hi,
            tcp,
            analyzer,
            cur_file: NO_FILE,
            id_seed,
            inputs: Vec::new(),
            dscp: [0; 2],
            link: None,
            entropy: None,
        };
        self.table.insert(key, class, p.ts_ns, s)
    }

    /// A packet joins session `i`: stored, counted, given to the analyzer, and the
    /// session becomes the most recently seen.
    fn add_packet(&mut self, i: Handle, p: &PacketIn<'_>, tcp: Option<&Segment<'_>>) {
        self.store_frames(i, p);
        let s = self.table.get_mut(i);
        let dir =
            if p.keyed.shared || p.keyed.flipped == s.src_is_hi { Direction::ToServer } else { Direction::ToClient };
        let payload = count_packet(&mut s.rec, p, dir);
        self.stats.packets += 1;
        self.stats.bytes += p.wire_len as u64;
        note_link_facts(&mut s.rec, &p.decoded, dir);
        if p.decoded.ip.is_none() {
            note_arp(&mut s.rec, &p.decoded, p.data);
            note_osi(&mut s.rec, &p.decoded, p.data);
        }
        if p.decoded.vlan_count > 0 || p.decoded.outer_mac_src.is_some() {
            s.link.get_or_insert_with(Default::default).note(&p.decoded, dir);
        }
        if p.input != NO_INPUT && s.inputs.last() != Some(&p.input) && !s.inputs.contains(&p.input) {
            s.inputs.push(p.input);
        }
        if let Some(ip) = p.decoded.ip {
            if ip.dscp != 0 {
                s.dscp[dir.index()] |= 1 << (ip.dscp & 63);
            }
            let ttls = if dir == Direction::ToServer { &mut s.rec.ttl_src } else { &mut s.rec.ttl_dst };
            if ttls.len() < 4 {
                push_distinct(ttls, ip.ttl);
            }
            match ip.transport {
                Transport::Icmp { kind, code } => {
                    push_distinct(&mut s.rec.icmp_types, kind);
                    push_distinct(&mut s.rec.icmp_codes, code);
                }
                Transport::Tcp { .. } => {}
                _ => {
                    // ESP's analyzer reads the SPI and sequence number, which are
                    // header to the byte counts above.
                    let datagram = if ip.protocol == tyto_packet::ipproto::ESP {
                        let start = ip.ip_payload_offset as usize;
                        p.data.get(start..start + 8).unwrap_or(payload)
                    } else {
                        payload
                    };
                    match ip.protocol {
                        tyto_packet::ipproto::UDP => {
                            s.rec.payload8[dir.index()].datagram(payload);
                            if self.cfg.entropy {
                                ByteCounts::add(&mut s.entropy, dir, payload);
                            }
                        }
                        tyto_packet::ipproto::SCTP => {
                            if let Some((data, protocol_id)) = sctp_user_data(payload) {
                                // Each direction's first user message: its bytes, and
                                // the protocol its sender says it carries (as Arkime).
                                if s.rec.payload8[dir.index()].bytes().is_empty() {
                                    let _ = s.rec.extra.add_int("sctp.protoId", i64::from(protocol_id));
                                }
                                s.rec.payload8[dir.index()].datagram(data);
                            }
                        }
                        _ => {}
                    }
                    if let Some(a) = s.analyzer.as_mut() {
                        if !datagram.is_empty() {
                            a.datagram(dir, datagram, &mut s.rec);
                        }
                    }
                }
            }
        }
        if let Some(seg) = tcp {
            count_tcp_flags(&mut s.rec, seg.flags);
            if let Some(t) = s.tcp.as_mut() {
                let start_ns = s.rec.start_ns;
                t.health.segment(dir, seg, start_ns, &mut s.rec.tcp_health);
            }
            self.tcp_segment(i, dir, seg.seq, seg.ack, seg.flags, payload);
        }
        // Most recently seen now; a TCP session reset or closed both ways waits
        // `tcp_closing_s` for its last packets.
        let closing = self.table.get(i).tcp.as_ref().is_some_and(|t| t.rst || (t.fin[0] && t.fin[1]));
        let class = if closing { Class::Closing } else { self.table.class(i) };
        self.table.touch(i, class, p.ts_ns);
    }

    /// Stores the frames (a rebuilt datagram's original fragments in its place);
    /// their positions go into the record.
    fn store_frames(&mut self, i: Handle, p: &PacketIn<'_>) {
        if let Some(w) = self.pcap.as_mut() {
            let s = self.table.get_mut(i);
            if p.pieces.is_empty() {
                store_frame(w, &mut self.stats, s, p.link, p.ts_ns, p.wire_len, p.data);
            }
            for piece in p.pieces {
                store_frame(w, &mut self.stats, s, piece.link, piece.ts_ns, piece.wire_len, piece.data);
            }
        }
    }

    /// A TCP segment through the session's reassembly, in-order data to its
    /// analyzer, within the worker's budget of held out-of-order bytes.
    fn tcp_segment(&mut self, i: Handle, dir: Direction, seq: u32, ack_num: u32, flags: u16, payload: &[u8]) {
        let s = self.table.get_mut(i);
        let rec = &mut s.rec;
        let Some(t) = s.tcp.as_mut() else { return };
        let syn = flags & tcpflag::SYN != 0;
        let ack = flags & tcpflag::ACK != 0;
        // Without an analyzer the stream is still reassembled, so its anomaly
        // counters mean the same with or without dissectors.
        let mut limits = HoldLimits {
            hold: s.analyzer.as_ref().is_none_or(|a| a.wants_more()),
            max_bytes: self.cfg.tcp_max_held_bytes,
            max_segments: self.cfg.tcp_max_held_segments,
        };
        let analyzer = &mut s.analyzer;
        let mut entropy = self.cfg.entropy.then_some(&mut s.entropy);
        t.handshake |= syn;
        if t.syn_seq.is_none() && syn {
            // The opener's first sequence number, from its SYN or the SYN-ACK.
            t.syn_seq = Some(if ack { ack_num.wrapping_sub(1) } else { seq });
        }
        // Payload bytes count from a connection whose start was seen, as in Arkime; a
        // stream picked up mid-way is still reassembled and analyzed.
        let counted = t.handshake;
        let mut tstats = rec.tcp_stream;
        // A reset's payload is not data the receiver would see; data on a SYN (TCP
        // Fast Open) is left out as Arkime leaves it.
        let data = if flags & tcpflag::RST != 0 || syn { &[][..] } else { payload };
        // The worker's budget for held bytes is shared: this direction may grow by
        // what is left of it.
        let held_before = t.dirs[dir.index()].held_bytes();
        let left = self.cfg.tcp_max_held_total.saturating_sub(self.held_total);
        if left < data.len() as u64 {
            limits.max_bytes = limits.max_bytes.min(held_before);
            if !data.is_empty() && limits.hold {
                self.stats.held_budget_full += 1;
            }
        } else {
            limits.max_bytes = limits.max_bytes.min(held_before.saturating_add(left.min(u32::MAX as u64) as u32));
        }
        t.dirs[dir.index()].segment(seq, syn, data, limits, &mut tstats, &mut |d| match d {
            Delivery::Data(b) => {
                let st = if dir == Direction::ToServer { &mut rec.src } else { &mut rec.dst };
                if counted {
                    st.databytes += b.len() as u64;
                    rec.payload8[dir.index()].stream(b);
                }
                if let Some(slot) = entropy.as_deref_mut() {
                    ByteCounts::add(slot, dir, b);
                }
                if let Some(a) = analyzer.as_mut() {
                    a.stream(dir, b, rec);
                }
            }
            Delivery::Gap(n) => {
                if let Some(a) = analyzer.as_mut() {
                    a.gap(dir, n, rec);
                }
            }
        });
        rec.tcp_stream = tstats;
        let held_after = t.dirs[dir.index()].held_bytes();
        self.held_total = (self.held_total + u64::from(held_after)).saturating_sub(u64::from(held_before));
        if flags & tcpflag::RST != 0 {
            t.rst = true;
        }
        if flags & tcpflag::FIN != 0 {
            t.fin[dir.index()] = true;
        }
    }

    /// Writes the current row; the session continues in a linked row.
    fn write_row(&mut self, i: Handle, reason: CloseReason) {
        let last_ns = self.table.last_ns(i);
        let s = self.table.get_mut(i);
        let mut rec = std::mem::take(&mut s.rec);
        if let Some(a) = s.analyzer.as_mut() {
            a.flush(&mut rec);
        }
        if let Some(t) = s.tcp.as_ref() {
            note_handshake(&mut rec, &t.health);
        }
        rec.close_reason = reason;
        note_inputs(&mut rec, &s.inputs, &self.input_names);
        note_dscp(&mut rec, std::mem::take(&mut s.dscp));
        if let Some(link) = s.link.take() {
            link.write(&mut rec);
        }
        ByteCounts::write(&mut s.entropy, &mut rec);
        let next_segment = rec.segment + 1;
        let next = SessionRecord {
            id: session_id(last_ns, s.id_seed, next_segment),
            root_id: rec.root_id.clone(),
            segment: next_segment,
            node: rec.node.clone(),
            ip_protocol: rec.ip_protocol,
            ethertype: rec.ethertype,
            src_ip: rec.src_ip,
            dst_ip: rec.dst_ip,
            src_port: rec.src_port,
            dst_port: rec.dst_port,
            start_ns: i64::MAX,
            stop_ns: i64::MIN,
            protocols: rec.protocols.clone(),
            vlans: rec.vlans.clone(),
            vnis: rec.vnis.clone(),
            mac_src: rec.mac_src.clone(),
            mac_dst: rec.mac_dst.clone(),
            outer_ip_src: rec.outer_ip_src.clone(),
            outer_ip_dst: rec.outer_ip_dst.clone(),
            tunnels: rec.tunnels.clone(),
            tags: rec.tags.clone(),
            payload8: rec.payload8.clone(),
            ..SessionRecord::default()
        };
        s.rec = next;
        s.cur_file = NO_FILE;
        s.inputs.clear();
        self.stats.rows_written += 1;
        self.out.push(rec);
    }

    /// Writes the session's last row and forgets it.
    fn close(&mut self, i: Handle, reason: CloseReason) {
        let (_, mut s) = self.table.remove(i);
        let rec = &mut s.rec;
        if let Some(t) = s.tcp.as_mut() {
            let held = u64::from(t.dirs[0].held_bytes()) + u64::from(t.dirs[1].held_bytes());
            self.held_total = self.held_total.saturating_sub(held);
            for (d, dir) in [(0usize, Direction::ToServer), (1, Direction::ToClient)] {
                let analyzer = &mut s.analyzer;
                let mut entropy = self.cfg.entropy.then_some(&mut s.entropy);
                let mut tstats = rec.tcp_stream;
                t.dirs[d].finish(&mut tstats, &mut |del| {
                    if let (Delivery::Data(b), Some(slot)) = (&del, entropy.as_deref_mut()) {
                        ByteCounts::add(slot, dir, b);
                    }
                    if let Some(a) = analyzer.as_mut() {
                        match del {
                            Delivery::Data(b) => a.stream(dir, b, rec),
                            Delivery::Gap(n) => a.gap(dir, n, rec),
                        }
                    }
                });
                rec.tcp_stream = tstats;
            }
        }
        if let Some(a) = s.analyzer.as_mut() {
            a.flush(rec);
        }
        if let Some(t) = s.tcp.as_ref() {
            note_handshake(rec, &t.health);
        }
        // A row opened for a continuation that never got a packet is not written.
        if rec.src.packets + rec.dst.packets == 0 {
            return;
        }
        rec.close_reason = reason;
        note_inputs(rec, &s.inputs, &self.input_names);
        note_dscp(rec, s.dscp);
        if let Some(link) = s.link.take() {
            link.write(rec);
        }
        ByteCounts::write(&mut s.entropy, rec);
        self.stats.sessions_written += 1;
        self.stats.rows_written += 1;
        self.out.push(std::mem::take(rec));
    }
}

/// Times and counts of one packet (or rebuilt datagram) in direction `dir`; returns
/// its IP payload.
fn count_packet<'p>(rec: &mut SessionRecord, p: &PacketIn<'p>, dir: Direction) -> &'p [u8] {
    rec.start_ns = rec.start_ns.min(p.ts_ns);
    rec.stop_ns = rec.stop_ns.max(p.ts_ns);
    for piece in p.pieces {
        rec.start_ns = rec.start_ns.min(piece.ts_ns);
        rec.stop_ns = rec.stop_ns.max(piece.ts_ns);
    }
    let payload = match p.decoded.ip {
        Some(ip) => {
            let start = ip.payload_offset as usize;
            p.data.get(start..start + ip.payload_len as usize).unwrap_or(&[])
        }
        None => &[],
    };
    let stats = if dir == Direction::ToServer { &mut rec.src } else { &mut rec.dst };
    // A datagram rebuilt from fragments counts as one packet of its rebuilt length
    // (as Arkime counts it); its original frames are what is stored.
    stats.packets += 1;
    stats.bytes += p.wire_len as u64;
    // Payload bytes, counted as Arkime counts them: TCP's as reassembly delivers them
    // (once, retransmitted or not), UDP/SCTP/ICMP/ESP/AH's as carried, and none for
    // other protocols (routing and multicast control).
    if matches!(rec.ip_protocol, 1 | 17 | 50 | 51 | 58 | 132) {
        stats.databytes += payload.len() as u64;
    }
    payload
}

/// The user data of the first DATA chunk of an SCTP packet's chunks, and its payload
/// protocol identifier, as Arkime takes an SCTP session's first payload bytes.
fn sctp_user_data(chunks: &[u8]) -> Option<(&[u8], u32)> {
    let first = tyto_packet::sctp::data_chunks(chunks).next()?;
    (!first.data.is_empty()).then_some((first.data, first.ppid))
}

/// `file`: the names of the input files a row's packets came from.
fn note_inputs(rec: &mut SessionRecord, inputs: &[u32], names: &[String]) {
    for name in inputs.iter().filter_map(|i| names.get(*i as usize)) {
        let _ = rec.extra.add_text("file", name);
    }
}

/// The DSCP values each direction's packets carried (bits of `seen`, source first).
fn note_dscp(rec: &mut SessionRecord, seen: [u64; 2]) {
    for (field, mut bits) in [("dscp.src", seen[0]), ("dscp.dst", seen[1])] {
        while bits != 0 {
            let _ = rec.extra.add_int(field, i64::from(bits.trailing_zeros()));
            bits &= bits - 1;
        }
    }
}

/// Link-level facts (MACs, VLANs, VNIs, outer addresses, tunnels), each value once.
fn note_link_facts(rec: &mut SessionRecord, d: &Decoded, dir: Direction) {
    if let Some(m) = d.mac_src {
        let list = if dir == Direction::ToServer { &mut rec.mac_src } else { &mut rec.mac_dst };
        push_distinct(list, m);
    }
    if let Some(m) = d.mac_dst {
        let list = if dir == Direction::ToServer { &mut rec.mac_dst } else { &mut rec.mac_src };
        push_distinct(list, m);
    }
    for v in &d.vlans[..(d.vlan_count as usize).min(d.vlans.len())] {
        push_distinct(&mut rec.vlans, *v);
    }
    if let Some(v) = d.vni {
        push_distinct(&mut rec.vnis, v);
    }
    if let Some((a, b)) = d.outer_ip {
        let (os, od) = if dir == Direction::ToServer { (a, b) } else { (b, a) };
        push_distinct(&mut rec.outer_ip_src, os);
        push_distinct(&mut rec.outer_ip_dst, od);
    }
    if d.encap != Encap::default() {
        for name in d.encap.names() {
            if !rec.tunnels.iter().any(|t| t == name) && rec.tunnels.len() < MAX_LIST_VALUES {
                rec.tunnels.push(name.to_string());
            }
        }
    }
}

/// The packet's TCP segment, with its options when it is a SYN (where the window
/// scale is offered).
fn tcp_segment_of<'p>(p: &PacketIn<'p>) -> Option<Segment<'p>> {
    let ip = p.decoded.ip?;
    let Transport::Tcp { seq, ack, flags, window, .. } = ip.transport else { return None };
    let options = if flags & tcpflag::SYN != 0 {
        p.data.get(ip.ip_payload_offset as usize + 20..ip.payload_offset as usize).unwrap_or(&[])
    } else {
        &[]
    };
    Some(Segment { ts_ns: p.ts_ns, seq, ack, flags, window, payload_len: ip.payload_len, options })
}

/// The opening's outcome belongs to the session's first row; its sequence checks
/// to every row (as Arkime keeps them).
fn note_handshake(rec: &mut SessionRecord, health: &HealthTracker) {
    if rec.segment == 1 {
        rec.tcp_health.handshake = health.handshake_outcome();
    }
    rec.tcp_health.sequence_checks = health.sequence_checks();
    if let Some(isn) = health.tcpseq_dst() {
        let _ = rec.extra.add_int("tcpseq.dst", i64::from(isn));
    }
}

fn count_tcp_flags(rec: &mut SessionRecord, flags: u16) {
    let f = &mut rec.tcp_flags;
    let syn = flags & tcpflag::SYN != 0;
    let ack = flags & tcpflag::ACK != 0;
    if syn && !ack {
        f.syn += 1;
    }
    if syn && ack {
        f.syn_ack += 1;
    }
    if flags & 0x3f == tcpflag::ACK {
        f.ack += 1;
    }
    f.psh += (flags & tcpflag::PSH != 0) as u32;
    f.fin += (flags & tcpflag::FIN != 0) as u32;
    f.rst += (flags & tcpflag::RST != 0) as u32;
    f.urg += (flags & tcpflag::URG != 0) as u32;
    f.ece += (flags & tcpflag::ECE != 0) as u32;
    f.cwr += (flags & tcpflag::CWR != 0) as u32;
    f.ae += (flags & tcpflag::AE != 0) as u32;
}

/// Writes one frame to the worker's pcap files and notes its place in the session.
#[allow(clippy::too_many_arguments)]
fn store_frame(
    w: &mut PcapWriter,
    stats: &mut WorkerStats,
    s: &mut Session,
    link: LinkType,
    ts_ns: i64,
    wire_len: u32,
    data: &[u8],
) {
    match w.write(link.0, ts_ns, wire_len, data) {
        Ok(pos) => {
            if pos.file != s.cur_file {
                s.cur_file = pos.file;
                s.rec.packet_pos.push(-(pos.file as i64));
            }
            s.rec.packet_pos.push(pos.offset as i64);
        }
        Err(e) => {
            stats.pcap_write_errors += 1;
            stats.first_pcap_error.get_or_insert(e.to_string());
        }
    }
}

fn push_distinct<T: PartialEq>(list: &mut Vec<T>, v: T) {
    if list.len() < MAX_LIST_VALUES && !list.contains(&v) {
        list.push(v);
    }
}

/// `YYMMDD-` and 24 hex digits: the day lets a store find a session's partition
/// from its id alone, the rest is a hash of where the session began.
pub fn session_id(ts_ns: i64, seed: u64, segment: u32) -> String {
    let day = tyto_schema::time::format_rfc3339(ts_ns);
    let lo = ahash::RandomState::with_seeds(5, 6, 7, 8).hash_one((seed, segment));
    format!("{}{}{}-{:016x}{:08x}", &day[2..4], &day[5..7], &day[8..10], seed, lo as u32)
}

/// The sender's and the target's IPv4 addresses of an ARP frame (Ethernet and IPv4
/// only), so ARP sessions are found by address (`ip.dst` is the address asked about).
fn arp_addresses(d: &Decoded, frame: &[u8]) -> Option<(Addr, Addr)> {
    let arp = arp_message(d, frame)?;
    let v4 = |at: usize| Addr::from_v4([arp[at], arp[at + 1], arp[at + 2], arp[at + 3]]);
    Some((v4(14), v4(24)))
}

/// An ARP frame's message, when it is Ethernet and IPv4 ARP (hardware type 1,
/// protocol 0x0800, address sizes 6 and 4) and whole (28 bytes).
fn arp_message<'a>(d: &Decoded, frame: &'a [u8]) -> Option<&'a [u8]> {
    let arp = frame.get(d.l2_payload_offset as usize..)?;
    (d.ethertype == tyto_packet::ethertype::ARP && arp.len() >= 28 && arp[..6] == [0, 1, 8, 0, 6, 4]).then_some(arp)
}

/// An ARP frame's operation, and for a reply its sender's hardware and protocol
/// addresses (the binding the network is told), as Arkime files them (`arp.*`).
/// Ethernet and IPv4 ARP only.
fn note_arp(rec: &mut SessionRecord, d: &Decoded, frame: &[u8]) {
    let Some(arp) = arp_message(d, frame) else { return };
    let op = u16::from_be_bytes([arp[6], arp[7]]);
    let _ = rec.extra.add_int("arp.opcode", i64::from(op));
    if op == 2 {
        let mac = tyto_packet::MacAddr([arp[8], arp[9], arp[10], arp[11], arp[12], arp[13]]);
        let _ = rec.extra.add_text("arp.mac", &mac.to_string());
        let _ = rec.extra.add_ip("arp.ip", Addr::from_v4([arp[14], arp[15], arp[16], arp[17]]));
    }
}

/// The PDU type of an IS-IS or ES-IS frame, as Arkime names them (`isis.msgType`,
/// `esis.type`): the low five bits of the PDU's fifth byte.
fn note_osi(rec: &mut SessionRecord, d: &Decoded, frame: &[u8]) {
    let Some(pdu) = crate::key::osi_pdu(d, frame) else { return };
    let kind = pdu.get(4).map(|t| t & 0x1f);
    match pdu.first() {
        Some(&ESIS) => {
            let name = match kind {
                Some(2) => "esh".to_string(),
                Some(4) => "ish".to_string(),
                Some(6) => "rd".to_string(),
                Some(n) => format!("unknown-{n}"),
                None => return,
            };
            let _ = rec.extra.add_text("esis.type", &name);
        }
        Some(&ISIS) => {
            let name = match kind {
                Some(15) => "lan-l1-hello".to_string(),
                Some(16) => "lan-l2-hello".to_string(),
                Some(17) => "p2p-hello".to_string(),
                Some(18) => "l1-lsp".to_string(),
                Some(20) => "l2-lsp".to_string(),
                Some(24) => "l1-csnp".to_string(),
                Some(25) => "l2-csnp".to_string(),
                Some(26) => "l1-psnp".to_string(),
                Some(27) => "l2-psnp".to_string(),
                Some(n) => format!("unk-{n}"),
                // Arkime counts the bytes after the protocol identifier.
                None => format!("err-len-{}", pdu.len().saturating_sub(1)),
            };
            let _ = rec.extra.add_text("isis.msgType", &name);
        }
        _ => {}
    }
}

/// OSI network-layer protocol identifiers (ISO/TR 9577).
const ISIS: u8 = 0x83;
const ESIS: u8 = 0x82;

/// The `protocols` value of a session of frames that carry no IP.
fn ether_protocol_name(d: &Decoded, frame: &[u8]) -> &'static str {
    // Other OSI protocols (CLNP) are filed with IS-IS, their routing protocol.
    if let Some(pdu) = crate::key::osi_pdu(d, frame) {
        return if pdu.first() == Some(&ESIS) { "esis" } else { "isis" };
    }
    match d.ethertype {
        crate::key::UNDECODED => "undecoded",
        0x0806 => "arp",
        0x8035 => "rarp",
        0x88cc => "lldp",
        0x888e => "eapol",
        0x88f7 => "ptp",
        0x8863 => "pppoe-discovery",
        0x8809 => "lacp",
        0x22f0..=0x22f3 => "avb",
        t if t < 0x0600 => "llc",
        _ => "unknown-ether",
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tyto_packet::decode;

    use super::*;
    use crate::analyzer::NoAnalysis;
    use crate::key::FlowKey;

    /// Rows written, shared with the test.
    #[derive(Clone, Default)]
    struct Rows(Arc<Mutex<Vec<SessionRecord>>>);

    impl RecordSink for Rows {
        fn push(&mut self, rec: SessionRecord) {
            self.0.lock().unwrap().push(rec);
        }
    }

    impl Rows {
        fn take(&self) -> Vec<SessionRecord> {
            std::mem::take(&mut self.0.lock().unwrap())
        }
    }

    fn worker(cfg: FlowConfig, max_sessions: usize) -> (Worker, Rows) {
        let rows = Rows::default();
        let w = Worker::new(cfg, "test".into(), max_sessions, Arc::new(NoAnalysis), None, Box::new(rows.clone()));
        (w, rows)
    }

    /// An Ethernet/IPv4/TCP frame from 10.0.0.1:`sport` to 10.0.0.2:80 (or back when
    /// `back`), with `payload`.
    fn tcp_frame(sport: u16, back: bool, seq: u32, flags: u8, payload: &[u8]) -> Vec<u8> {
        let (mut src, mut dst, mut sp, mut dp) = ([10, 0, 0, 1], [10, 0, 0, 2], sport, 80u16);
        if back {
            (src, dst, sp, dp) = (dst, src, dp, sp);
        }
        let mut f = vec![0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 1, 0x08, 0x00];
        let total = (20 + 20 + payload.len()) as u16;
        f.extend_from_slice(&[0x45, 0, (total >> 8) as u8, total as u8, 0, 0, 0x40, 0, 64, 6, 0, 0]);
        f.extend_from_slice(&src);
        f.extend_from_slice(&dst);
        f.extend_from_slice(&sp.to_be_bytes());
        f.extend_from_slice(&dp.to_be_bytes());
        f.extend_from_slice(&seq.to_be_bytes());
        f.extend_from_slice(&[0, 0, 0, 0, 0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
        f.extend_from_slice(payload);
        f
    }

    const SYN: u8 = 0x02;
    const ACK: u8 = 0x10;
    const FIN_ACK: u8 = 0x11;
    const SYN_ACK: u8 = 0x12;
    const PSH_ACK: u8 = 0x18;

    fn feed(w: &mut Worker, ts_s: f64, frame: &[u8]) {
        let decoded = decode(LinkType::ETHERNET, frame).unwrap();
        let keyed = FlowKey::of(&decoded, frame);
        let p = PacketIn {
            ts_ns: (ts_s * 1e9) as i64,
            wire_len: frame.len() as u32,
            link: LinkType::ETHERNET,
            data: frame,
            decoded,
            keyed,
            // As the reader numbers packets: unique per packet.
            origin: (ts_s * 1e6) as u64,
            input: NO_INPUT,
            pieces: &[],
        };
        w.packet(&p);
    }

    /// A whole connection from port `sport` starting at `t`: handshake, one request,
    /// FIN both ways.
    fn connection(w: &mut Worker, t: f64, sport: u16, isn: u32) {
        feed(w, t, &tcp_frame(sport, false, isn, SYN, b""));
        feed(w, t + 0.01, &tcp_frame(sport, true, 5000, SYN_ACK, b""));
        feed(w, t + 0.02, &tcp_frame(sport, false, isn + 1, ACK, b""));
        feed(w, t + 0.03, &tcp_frame(sport, false, isn + 1, PSH_ACK, b"GET / HTTP/1.0\r\n\r\n"));
        feed(w, t + 0.04, &tcp_frame(sport, false, isn + 19, FIN_ACK, b""));
        feed(w, t + 0.05, &tcp_frame(sport, true, 5001, FIN_ACK, b""));
    }

    #[test]
    fn sctp_first_data_chunk() {
        // An INIT-ACK-like chunk (type 2, 8 bytes), then DATA (payload protocol 46,
        // Diameter) with "GET / HT…".
        let mut chunks = vec![2, 0, 0, 6, 1, 2, 0, 0];
        chunks.extend_from_slice(&[0, 3, 0, 26, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 46]);
        chunks.extend_from_slice(b"GET / HTTP");
        assert_eq!(sctp_user_data(&chunks), Some((&b"GET / HTTP"[..], 46)));
        // Bad lengths end the walk; a DATA chunk cut short gives what it holds.
        assert_eq!(sctp_user_data(&[0, 0, 0, 2, 9, 9]), None);
        assert_eq!(sctp_user_data(&chunks[8..26]), Some((&b"GE"[..], 46)));
        assert_eq!(sctp_user_data(&chunks[..8]), None);
        assert_eq!(sctp_user_data(&chunks[8..22]), None, "cut inside the protocol id");
        assert_eq!(sctp_user_data(&[]), None);
    }

    #[test]
    fn byte_counts_give_shannon_entropy_times_100_per_direction() {
        let mut slot = None;
        ByteCounts::add(&mut slot, Direction::ToServer, b"");
        assert!(slot.is_none(), "nothing counted before the first data byte");
        ByteCounts::add(&mut slot, Direction::ToServer, b"aaaa");
        let all: Vec<u8> = (0..=255).collect();
        ByteCounts::add(&mut slot, Direction::ToClient, &all);
        ByteCounts::add(&mut slot, Direction::ToClient, &all);
        let c = slot.as_ref().unwrap();
        assert_eq!((c.entropy(0), c.entropy(1)), (Some(0), Some(800)));
        ByteCounts::add(&mut slot, Direction::ToServer, b"bbbb");
        assert_eq!(slot.as_ref().unwrap().entropy(0), Some(100));
        let mut rec = SessionRecord::default();
        ByteCounts::write(&mut slot, &mut rec);
        assert_eq!(rec.extra.ints("entropy.src"), [100]);
        assert_eq!(rec.extra.ints("entropy.dst"), [800]);
        assert!(slot.is_none(), "the next row counts afresh");
    }

    /// An 802.3 frame to the all-IS (or all-ES) multicast group with OSI's LLC SAPs
    /// and the network PDU `pdu`.
    fn osi_frame(pdu: &[u8]) -> Vec<u8> {
        let mut f = vec![0x09, 0x00, 0x2b, 0x00, 0x00, 0x05, 0, 0, 0, 0, 0, 1];
        f.extend_from_slice(&((3 + pdu.len()) as u16).to_be_bytes());
        f.extend_from_slice(&[0xfe, 0xfe, 0x03]);
        f.extend_from_slice(pdu);
        f
    }

    #[test]
    fn is_is_and_es_is_frames_are_a_session_each_with_their_pdu_types() {
        let (mut w, rows) = worker(FlowConfig::default(), 100);
        // IS-IS: protocol id, length indicator, version, id length, PDU type.
        feed(&mut w, 1.0, &osi_frame(&[0x83, 27, 1, 0, 0x10, 1, 0, 0]));
        feed(&mut w, 1.1, &osi_frame(&[0x83, 33, 1, 0, 0x14, 1, 0, 0]));
        feed(&mut w, 1.2, &osi_frame(&[0x83, 33]));
        // ES-IS: an ISH and an ESH.
        feed(&mut w, 1.3, &osi_frame(&[0x82, 15, 1, 0, 0x04, 0, 30]));
        feed(&mut w, 1.4, &osi_frame(&[0x82, 15, 1, 0, 0x02, 0, 30]));
        let _ = w.finish();
        let mut rows = rows.take();
        rows.sort_by_key(|r| r.protocols.clone());
        let names: Vec<_> = rows.iter().map(|r| r.protocols.clone()).collect();
        assert_eq!(names, [vec!["esis".to_string()], vec!["isis".to_string()]]);
        assert_eq!(rows[0].extra.texts("esis.type"), ["ish", "esh"]);
        assert_eq!(rows[1].extra.texts("isis.msgType"), ["lan-l2-hello", "l2-lsp", "err-len-1"]);
    }

    #[test]
    fn a_new_syn_on_closed_ports_starts_a_new_session_and_a_copy_does_not() {
        let (mut w, rows) = worker(FlowConfig::default(), 100);
        connection(&mut w, 1.0, 40000, 100);
        // A retransmitted copy of the first SYN belongs to the closed session.
        feed(&mut w, 1.5, &tcp_frame(40000, false, 100, SYN, b""));
        assert_eq!(w.live_sessions(), 1);
        assert!(rows.take().is_empty());
        // A new connection reusing the ports (another ISN) closes the first.
        connection(&mut w, 2.0, 40000, 9000);
        let first = rows.take();
        assert_eq!(first.len(), 1);
        assert_eq!((first[0].src.packets, first[0].dst.packets), (5, 2));
        assert_eq!(first[0].close_reason, CloseReason::TcpClose);
        assert_eq!(first[0].src.databytes, 18);
        let (stats, _) = w.finish();
        let second = rows.take();
        assert_eq!(second.len(), 1);
        assert_ne!(second[0].id, first[0].id);
        assert_eq!((second[0].src.packets, second[0].dst.packets), (4, 2));
        assert_eq!((stats.sessions_written, stats.packets), (2, 13));
    }

    #[test]
    fn sessions_idle_out_by_their_class_timeout() {
        let cfg = FlowConfig { tcp_idle_s: 30, tcp_closing_s: 5, ..FlowConfig::default() };
        let (mut w, rows) = worker(cfg, 100);
        connection(&mut w, 0.0, 40001, 1); // closed: waits 5 s
        feed(&mut w, 0.0, &tcp_frame(40002, false, 1, SYN, b"")); // open: waits 30 s
        w.sweep(4_000_000_000);
        assert_eq!(w.live_sessions(), 2);
        w.sweep(6_000_000_000);
        let closed = rows.take();
        assert_eq!((closed.len(), closed[0].src_port, closed[0].close_reason), (1, 40001, CloseReason::TcpClose));
        w.sweep(29_000_000_000);
        assert_eq!(w.live_sessions(), 1);
        w.sweep(31_000_000_000);
        let idle = rows.take();
        assert_eq!((idle.len(), idle[0].src_port, idle[0].close_reason), (1, 40002, CloseReason::Idle));
        assert_eq!(w.live_sessions(), 0);
        // A packet after the timeout, without a sweep between, starts a new row too.
        feed(&mut w, 40.0, &tcp_frame(40003, false, 1, SYN, b""));
        feed(&mut w, 80.0, &tcp_frame(40003, false, 2, ACK, b""));
        assert_eq!(rows.take().len(), 1);
        assert_eq!(w.live_sessions(), 1);
    }

    #[test]
    fn a_full_table_writes_out_the_session_seen_longest_ago() {
        let (mut w, rows) = worker(FlowConfig::default(), 3);
        for (t, port) in [(1.0, 1), (2.0, 2), (3.0, 3)] {
            feed(&mut w, t, &tcp_frame(port, false, 1, SYN, b""));
        }
        feed(&mut w, 4.0, &tcp_frame(1, false, 2, ACK, b"")); // port 1 seen again
        feed(&mut w, 5.0, &tcp_frame(4, false, 1, SYN, b""));
        let out = rows.take();
        assert_eq!((out.len(), out[0].src_port, out[0].close_reason), (1, 2, CloseReason::Evicted));
        assert_eq!((w.live_sessions(), w.stats.evicted), (3, 1));
    }

    #[test]
    fn a_row_full_of_packets_continues_in_a_linked_row() {
        let cfg = FlowConfig { max_packets_per_row: 4, ..FlowConfig::default() };
        let (mut w, rows) = worker(cfg, 10);
        connection(&mut w, 1.0, 40000, 100);
        let (_, _) = w.finish();
        let out = rows.take();
        assert_eq!(out.len(), 2);
        assert_eq!((out[0].segment, out[1].segment), (1, 2));
        assert_eq!(out[1].root_id, out[0].id);
        assert_eq!(out[0].close_reason, CloseReason::MaxPackets);
        let packets: Vec<u64> = out.iter().map(|r| r.src.packets + r.dst.packets).collect();
        assert_eq!(packets, [4, 2]);
    }
}
