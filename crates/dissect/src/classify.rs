//! Payload-first classification: the flow layer's [`SessionAnalyzer`] for every TCP
//! and UDP session. The first bytes of each direction are held (bounded) while the
//! registered probes look at them; the first protocol to recognise them gets the
//! session, and what was held is replayed to it in arrival order.

use tyto_flow::analyzer::{AnalyzerFactory, Opening, SessionAnalyzer};
use tyto_flow::{Direction, FlowKey};
use tyto_schema::SessionRecord;

use std::sync::Arc;

use crate::kit::calls::CallEndpoints;
use crate::kit::expect::{self, Expectations};
use crate::kit::names::ResolvedNames;
use crate::kit::{add_protocol, put_text};
use crate::protocols::{dns, ftp, rtp, socks, stun};
use crate::{Dissector, Learnt, Probe, Protocol, Side, Transport, PROTOCOLS};

/// Stream bytes held per direction while no probe has decided: enough for any
/// protocol's greeting or first request line; past it the session stays unknown.
pub const PROBE_BYTES: usize = 4096;
/// Datagrams of each side looked at before a UDP session is left unknown: a side
/// that sends a burst first does not use up the other's chance to say what the
/// session is, up to [`PROBE_DATAGRAMS_IN_ALL`]. A session only one side has
/// spoken in is left after twice this many.
pub const PROBE_DATAGRAMS: usize = 8;
/// Datagrams of both sides looked at, at most, before a UDP session is left unknown.
const PROBE_DATAGRAMS_IN_ALL: usize = 4 * PROBE_DATAGRAMS;
/// Protocols one connection may hand over to (SOCKS → HTTP CONNECT → TLS is two).
const MAX_HANDOFFS: usize = 4;
/// Datagrams that must continue a stream (on their side: same stream, sequence
/// number 1 to [`MAX_SEQ_STEP`] ahead of the last, another mark for a
/// [`Probe::Masked`], the stream alone for a [`Probe::Marked`]) to decide a
/// plausible protocol: three datagrams at least. For a [`Probe::Connection`], a
/// side's first datagram naming the id the other side's named decides alone.
pub const PLAUSIBLE_RUN: u8 = 2;
/// Sequence numbers may skip what was lost or reordered, not more.
const MAX_SEQ_STEP: u16 = 64;
/// A stream side whose bytes may begin mid-message (its start was not captured, or
/// bytes were lost) is probed afresh from this many segment starts before it is
/// given up: a sender starts each new message in a new segment more often than not.
const RESYNC_SEGMENTS: u8 = 8;

/// How a plausible protocol's next datagram continues a run: see [`Probe`].
#[derive(Clone, Copy, PartialEq, Eq)]
enum Continues {
    /// Same stream, a number 1 to [`MAX_SEQ_STEP`] ahead ([`Probe::Plausible`]).
    Counting,
    /// As `Counting`, or a side's first datagram naming the other side's id
    /// ([`Probe::Connection`]).
    EitherSide,
    /// Same stream, another mark ([`Probe::Masked`]).
    Changing,
    /// Same stream ([`Probe::Marked`]).
    Same,
}

/// A plausible protocol's progress: each side's last (stream, sequence number), and
/// how many datagrams continued one.
struct Run {
    protocol: usize,
    last: [Option<(u32, u16)>; 2],
    continued: u8,
}

/// The dissectors, as the flow layer's analyzer factory: one a pipeline, shared by
/// its workers.
#[derive(Debug, Default)]
pub struct Dissectors {
    /// File each request and its answer with the row as a transaction (for the
    /// store's transactions table and the log outputs).
    pub transactions: bool,
    /// Connections the pipeline's sessions announced for others (FTP data).
    expected: Arc<Expectations>,
    /// Endpoints of the pipeline's calls whose application was named.
    calls: Arc<CallEndpoints>,
    /// Names the pipeline's DNS answers gave addresses.
    names: Arc<ResolvedNames>,
}

impl Dissectors {
    /// As a sensor, an ingest and an upload run them: every transaction filed, for
    /// the store's transactions table and the log outputs.
    pub fn storing() -> Dissectors {
        Dissectors { transactions: true, ..Dissectors::default() }
    }

    /// A classifier sharing this pipeline's tables.
    fn classifier(&self, transport: Transport) -> Classifier {
        let mut c = Classifier::new(transport);
        c.transactions = self.transactions;
        c.expected = Arc::clone(&self.expected);
        c.calls = Arc::clone(&self.calls);
        c.names = Arc::clone(&self.names);
        c
    }
}

impl AnalyzerFactory for Dissectors {
    fn create(&self, key: &FlowKey, opening: Opening) -> Option<Box<dyn SessionAnalyzer>> {
        let transport = match key.proto {
            6 => Transport::Tcp,
            17 => Transport::Udp,
            50 => Transport::Esp,
            89 => Transport::Ospf,
            132 => Transport::Sctp,
            _ => return None,
        };
        let mut c = self.classifier(transport);
        if opening == Opening::Unseen {
            c.opening_unseen();
        }
        if transport == Transport::Tcp {
            if let Some(link) = self.expected.take((key.lo, key.lo_port), (key.hi, key.hi_port)) {
                c.announced(link);
            }
        }
        if transport == Transport::Sctp {
            let mut messages = self.classifier(Transport::Tcp);
            messages.opening_unseen();
            return Some(Box::new(SctpAnalyzer { chunks: c, messages, fragments: Default::default() }));
        }
        Some(Box::new(c))
    }
}

/// An SCTP association: SCTP's own protocols (M3UA, M2UA) read each packet's
/// chunks, and the DATA chunks' whole user messages also make each direction a
/// stream for the protocols read over TCP (Diameter, HTTP), as Arkime reads them.
/// The first to name the association keeps it.
struct SctpAnalyzer {
    chunks: Classifier,
    messages: Classifier,
    /// Each direction's user message arriving in fragments.
    fragments: [crate::kit::sctp::Fragments; 2],
}

impl SessionAnalyzer for SctpAnalyzer {
    fn stream(&mut self, _dir: Direction, _data: &[u8], _rec: &mut SessionRecord) {}

    fn gap(&mut self, _dir: Direction, _len: u64, _rec: &mut SessionRecord) {}

    fn datagram(&mut self, dir: Direction, data: &[u8], rec: &mut SessionRecord) {
        if !self.messages.decided() {
            self.chunks.datagram(dir, data, rec);
        }
        if !self.chunks.decided() {
            for chunk in crate::kit::sctp::data_chunks(data) {
                // SIGTRAN's adaptation layers (IUA, M2UA, M3UA, SUA, M2PA) are read
                // from the chunks alone: their messages are no TCP protocol's.
                if (1..=5).contains(&chunk.ppid) {
                    continue;
                }
                if let Some((_, message)) = self.fragments[idx(side_of(dir))].message(chunk) {
                    self.messages.stream(dir, &message, rec);
                }
            }
        }
    }

    fn flush(&mut self, rec: &mut SessionRecord) {
        self.chunks.flush(rec);
        self.messages.flush(rec);
    }
}

enum State {
    Probing,
    Decided(&'static Protocol, Box<dyn Dissector>),
    Unknown,
}

/// Protocols by their index in [`PROTOCOLS`], a bit each, in words enough for twice
/// the registry's protocols (a test checks that they fit): of fixed size, so a
/// classifier allocates nothing for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct ProtocolSet([u64; 4]);

impl ProtocolSet {
    const EMPTY: ProtocolSet = ProtocolSet([0; 4]);
    /// Protocols a set can name.
    #[cfg(test)]
    const CAPACITY: usize = 4 * 64;

    fn contains(&self, i: usize) -> bool {
        self.0[i / 64] & (1 << (i % 64)) != 0
    }

    fn insert(&mut self, i: usize) {
        self.0[i / 64] |= 1 << (i % 64);
    }
}

pub struct Classifier {
    transport: Transport,
    state: State,
    /// Held bytes per side (streams), or held datagrams in order.
    held: [Vec<u8>; 2],
    /// Arrival order of what is held: (side, length).
    order: Vec<(Side, usize)>,
    /// Datagrams probed, per side.
    datagrams: [usize; 2],
    /// Protocols whose probe said "not this".
    rejected: ProtocolSet,
    /// Of the protocols either side may open ([`opened_by_either_side`]), those each
    /// role's bytes did not open (rejected when both did not).
    refused: [ProtocolSet; 2],
    saw_payload: bool,
    /// The runs of the protocols whose probes found the datagrams plausible.
    plausible: Vec<Run>,
    /// How the protocol was decided: by its `payload`, by the session that
    /// announced this one (`ftp`), or by the protocol that switched to it (`http`).
    how: &'static str,
    /// Protocols decided before a handoff, oldest first: every row names them all.
    earlier: Vec<&'static Protocol>,
    transactions: bool,
    /// The pipeline's table of announced connections.
    expected: Arc<Expectations>,
    /// The pipeline's table of named calls' endpoints.
    calls: Arc<CallEndpoints>,
    /// The pipeline's table of resolved names.
    names: Arc<ResolvedNames>,
    /// Whether the protocol's client is known: the opener of a connection whose
    /// handshake was seen, or whichever side a probe recognised as client or server.
    roles_known: bool,
    /// The protocol's client is the side that did not open the session (a stream
    /// picked up after its first packets, beginning with the server's words).
    swapped: bool,
    /// Per side: its bytes may begin mid-message (see [`Resync`]); None while they
    /// are known to begin the stream.
    resync: [Option<Resync>; 2],
}

/// A stream side whose bytes may begin mid-message. Any of its first
/// [`RESYNC_SEGMENTS`] segments may be where a message begins: each is a start the
/// probes look at, with the bytes after it, until no protocol is left for it.
#[derive(Default)]
struct Resync {
    /// Offsets into the side's held bytes still worth probing from.
    starts: Vec<usize>,
    /// Segments taken as starts so far.
    tried: u8,
}

/// What the probes made of one side's bytes.
enum Probed {
    Found(&'static Protocol),
    Undecided,
    /// Every protocol said no.
    Exhausted,
}

fn side_of(dir: Direction) -> Side {
    match dir {
        Direction::ToServer => Side::Client,
        Direction::ToClient => Side::Server,
    }
}

/// A protocol's answer for bytes that may begin any of its messages: its probe for
/// the stream's beginning, and its look at later messages where it has one.
fn ask(p: &Protocol, role: Side, data: &[u8]) -> Probe {
    let first = (p.probe)(role, data);
    let later = match p.later {
        Some(later) if first != Probe::Match => later(role, data),
        _ => return first,
    };
    match (first, later) {
        (_, Probe::Match) | (Probe::NoMatch, _) => later,
        _ => first,
    }
}

/// A probe's answer for the side's role, or, while the roles are not known, for the
/// other role when that one matches (then `true`: the sides are exchanged). A side
/// that one role rejects and the other has not decided is still undecided.
fn either_role(probe: impl Fn(Side, &[u8]) -> Probe, role: Side, roles_known: bool, data: &[u8]) -> (Probe, bool) {
    let said = probe(role, data);
    if said == Probe::Match || roles_known {
        return (said, false);
    }
    match probe(other(role), data) {
        Probe::Match => (Probe::Match, true),
        Probe::NoMatch => (said, false),
        _ if said == Probe::NoMatch => (Probe::NeedMore, false),
        _ => (said, false),
    }
}

fn other(side: Side) -> Side {
    match side {
        Side::Client => Side::Server,
        Side::Server => Side::Client,
    }
}

fn idx(side: Side) -> usize {
    match side {
        Side::Client => 0,
        Side::Server => 1,
    }
}

impl Classifier {
    pub fn new(transport: Transport) -> Classifier {
        Classifier {
            transport,
            state: State::Probing,
            held: [Vec::new(), Vec::new()],
            order: Vec::new(),
            datagrams: [0; 2],
            rejected: ProtocolSet::EMPTY,
            refused: [ProtocolSet::EMPTY; 2],
            saw_payload: false,
            plausible: Vec::new(),
            how: "payload",
            earlier: Vec::new(),
            transactions: false,
            expected: Arc::default(),
            calls: Arc::default(),
            names: Arc::default(),
            roles_known: true,
            swapped: false,
            resync: [None, None],
        }
    }

    /// The session's first packet did not open it: either side may be the
    /// protocol's client (datagrams have no opening at all), and on a connection
    /// whose handshake was not captured either stream may begin mid-message.
    pub fn opening_unseen(&mut self) {
        self.roles_known = false;
        if self.transport == Transport::Tcp {
            self.resync = [Some(Resync::default()), Some(Resync::default())];
        }
    }

    /// The protocol's role of the side that sent the bytes.
    fn role(&self, side: Side) -> Side {
        if self.swapped {
            other(side)
        } else {
            side
        }
    }

    /// This connection is one an FTP control connection announced: decided by that.
    fn announced(&mut self, link: expect::SharedLink) {
        self.state = State::Decided(&ftp::DATA, Box::new(ftp::FtpData::linked(link)));
        self.how = "ftp";
    }

    /// Whether a protocol named the session.
    fn decided(&self) -> bool {
        matches!(self.state, State::Decided(..))
    }

    /// A new row starts without a transaction list: it gets one before any feed.
    fn keep_transactions(&self, rec: &mut SessionRecord) {
        if self.transactions && rec.transactions.is_none() {
            rec.transactions = Some(Default::default());
        }
    }

    fn candidates(&self) -> impl Iterator<Item = (usize, &'static Protocol)> + '_ {
        PROTOCOLS
            .iter()
            .copied()
            .enumerate()
            .filter(move |(i, p)| !self.rejected.contains(*i) && p.transports.contains(&self.transport))
    }

    /// Runs the probes on `data` (one side's stream so far, or one datagram). While
    /// the roles are not known a probe is also asked with the sides exchanged, and
    /// a match that way settles them. A datagram may be any message of its
    /// protocol, so protocols' looks at later messages are asked too.
    fn probe(&mut self, side: Side, data: &[u8]) -> Probed {
        let datagram = self.transport != Transport::Tcp;
        let mut undecided = false;
        let mut rejected = self.rejected;
        let mut plausible = Vec::new();
        let role = self.role(side);
        let roles_known = self.roles_known;
        // The protocol recognised, and whether the sides had to be exchanged.
        let mut found = None;
        let mut refused = self.refused;
        for (i, p) in self.candidates() {
            let reversible = !datagram && roles_known && opened_by_either_side(p);
            let (said, exchanged) = if datagram {
                either_role(|side, d| ask(p, side, d), role, roles_known, data)
            } else if reversible {
                // The accepting side opening it: its bytes read as the opener's.
                match (p.probe)(role, data) {
                    Probe::NoMatch if role == Side::Server => ((p.probe)(Side::Client, data), true),
                    said => (said, false),
                }
            } else {
                either_role(p.probe, role, roles_known, data)
            };
            match said {
                Probe::Match => {
                    found = Some((p, exchanged));
                    break;
                }
                // Ruled out only once neither side can have opened it.
                Probe::NoMatch if reversible && !refused[1 - idx(role)].contains(i) => {
                    refused[idx(role)].insert(i);
                    undecided = true;
                }
                Probe::NoMatch => rejected.insert(i),
                Probe::NeedMore => undecided = true,
                Probe::Plausible { stream, seq } => {
                    undecided = true;
                    plausible.push((i, p, stream, seq, Continues::Counting));
                }
                Probe::Connection { id, seq } => {
                    undecided = true;
                    plausible.push((i, p, id, seq, Continues::EitherSide));
                }
                Probe::Masked { stream, mark } => {
                    undecided = true;
                    plausible.push((i, p, stream, u16::from(mark), Continues::Changing));
                }
                Probe::Marked { stream } => {
                    undecided = true;
                    plausible.push((i, p, stream, 0, Continues::Same));
                }
            }
        }
        self.refused = refused;
        if let Some((p, exchanged)) = found {
            // What the connecting side sent before the accepting side opened the
            // protocol is no part of it.
            if exchanged && roles_known {
                self.drop_held(other(side), usize::MAX);
            }
            self.swapped ^= exchanged;
            self.roles_known = true;
            return Probed::Found(p);
        }
        self.rejected = rejected;
        // A stream is re-probed whole each time: only datagrams make a run.
        if self.transport != Transport::Tcp {
            for (i, p, stream, seq, continues) in plausible {
                let at = match self.plausible.iter().position(|r| r.protocol == i) {
                    Some(at) => at,
                    None => {
                        self.plausible.push(Run { protocol: i, last: [None; 2], continued: 0 });
                        self.plausible.len() - 1
                    }
                };
                let run = &mut self.plausible[at];
                let (mine, theirs) = (idx(side), 1 - idx(side));
                match run.last[mine] {
                    Some((s, q)) => {
                        let next = match continues {
                            Continues::Changing => seq != q,
                            Continues::Same => true,
                            _ => (1..=MAX_SEQ_STEP).contains(&seq.wrapping_sub(q)),
                        };
                        if s == stream && next {
                            run.continued += 1;
                        }
                    }
                    // A side's first datagram that names the connection id the other
                    // side's did decides: two endpoints do not echo 32 bits of each
                    // other's header by chance, and a short exchange may have no
                    // third datagram. Sides number their datagrams each their own
                    // way. (RTP's streams are each side's own: the same SSRC both
                    // ways proves nothing.)
                    None => {
                        if continues == Continues::EitherSide && run.last[theirs].is_some_and(|(s, _)| s == stream) {
                            run.continued = PLAUSIBLE_RUN;
                        }
                    }
                }
                run.last[mine] = Some((stream, seq));
                if run.continued >= PLAUSIBLE_RUN {
                    self.roles_known = true;
                    return Probed::Found(p);
                }
            }
        }
        if !undecided && self.candidates().next().is_none() {
            return Probed::Exhausted;
        }
        Probed::Undecided
    }

    /// Probes each start of a side whose bytes may begin mid-message, oldest first,
    /// with every protocol (a start one protocol rejects says nothing of the next).
    /// Starts no protocol wants are dropped. Returns the protocol recognised, having
    /// dropped the held bytes before its start.
    fn probe_starts(&mut self, side: Side) -> Option<&'static Protocol> {
        let i = idx(side);
        let role = self.role(side);
        let resync = self.resync[i].as_mut()?;
        let mut found = None;
        resync.starts.retain(|&start| {
            if found.is_some() {
                return true;
            }
            let data = self.held[i].get(start..).unwrap_or(&[]);
            let mut alive = false;
            for p in PROTOCOLS.iter().copied().filter(|p| p.transports.contains(&self.transport)) {
                let (said, exchanged) = either_role(|side, d| ask(p, side, d), role, self.roles_known, data);
                match said {
                    Probe::Match => {
                        found = Some((p, start, exchanged));
                        return true;
                    }
                    Probe::NoMatch => {}
                    _ => alive = true,
                }
            }
            alive
        });
        let (p, start, exchanged) = found?;
        self.swapped ^= exchanged;
        self.roles_known = true;
        self.drop_held(side, start);
        Some(p)
    }

    /// A UDP session's datagrams have had their chance: see [`PROBE_DATAGRAMS`].
    fn probed_enough(&self) -> bool {
        let [a, b] = self.datagrams;
        (a >= PROBE_DATAGRAMS && b >= PROBE_DATAGRAMS)
            || a + b >= PROBE_DATAGRAMS_IN_ALL
            || (a.min(b) == 0 && a.max(b) >= 2 * PROBE_DATAGRAMS)
    }

    /// Forgets the first `n` held bytes of one side (`usize::MAX`: all of them).
    fn drop_held(&mut self, side: Side, mut n: usize) {
        let i = idx(side);
        self.held[i].drain(..n.min(self.held[i].len()));
        self.order.retain_mut(|(s, len)| {
            if *s != side || n == 0 {
                return true;
            }
            let cut = n.min(*len);
            n -= cut;
            *len -= cut;
            *len > 0
        });
    }

    /// A side whose bytes may begin mid-message is given up on: no start is left
    /// and no more may be taken, or its window is full. The session is unknown when
    /// the other side has nothing left to probe either.
    fn resync_exhausted(&self, side: Side) -> bool {
        let i = idx(side);
        match &self.resync[i] {
            Some(r) => r.starts.is_empty() && (r.tried >= RESYNC_SEGMENTS || self.held[i].len() >= PROBE_BYTES),
            None => false,
        }
    }

    fn decide(&mut self, p: &'static Protocol, rec: &mut SessionRecord) {
        add_protocol(rec, p);
        put_text(rec, text_field!("protocols.how"), &format!("{}:payload", p.name));
        self.state = State::Decided(p, (p.new)());
        // The streams are in step with the protocol now: a handoff starts afresh at a
        // message boundary, and bytes lost later are the dissector's to skip.
        self.resync = [None, None];
        // Replay what was held, in the order it came (a stream may hand over again
        // while replaying: `stream_side` takes care of that).
        let held = std::mem::take(&mut self.held);
        let order = std::mem::take(&mut self.order);
        let mut at = [0usize, 0];
        for (side, len) in order {
            let i = idx(side);
            if let Some(chunk) = held[i].get(at[i]..at[i] + len) {
                match self.transport {
                    Transport::Tcp => self.stream_side(side, chunk, rec),
                    Transport::Udp | Transport::Esp | Transport::Ospf | Transport::Sctp => {
                        let role = self.role(side);
                        if let State::Decided(_, d) = &mut self.state {
                            d.feed(role, chunk, rec);
                            file_learnt(&self.calls, &self.names, d.as_mut(), rec);
                        }
                    }
                }
            }
            at[i] += len;
        }
    }

    /// The decided protocol has ended: `next` follows it when the switch named it,
    /// or what follows is probed afresh.
    fn hand_over(&mut self, next: Option<&'static Protocol>) {
        let State::Decided(p, _) = std::mem::replace(&mut self.state, State::Unknown) else { return };
        self.earlier.push(p);
        if let Some(next) = next.filter(|_| self.earlier.len() <= MAX_HANDOFFS) {
            self.state = State::Decided(next, (next.new)());
            self.how = p.name;
        } else if self.earlier.len() <= MAX_HANDOFFS {
            self.state = State::Probing;
            self.how = "payload";
            self.rejected = ProtocolSet::EMPTY;
            self.refused = [ProtocolSet::EMPTY; 2];
            self.plausible.clear();
        }
    }

    fn stream_side(&mut self, side: Side, data: &[u8], rec: &mut SessionRecord) {
        let role = self.role(side);
        match &mut self.state {
            State::Decided(_, d) => {
                d.feed(role, data, rec);
                for a in d.announced() {
                    self.expected.expect(a);
                }
                file_learnt(&self.calls, &self.names, d.as_mut(), rec);
                if let Some(used) = d.handoff() {
                    let next = d.successor();
                    self.hand_over(next);
                    let rest = data.get(used..).unwrap_or(&[]);
                    if !rest.is_empty() {
                        self.stream_side(side, rest, rec);
                    }
                }
            }
            State::Unknown => {}
            State::Probing => {
                self.saw_payload = true;
                let i = idx(side);
                let buf = &mut self.held[i];
                let take = data.len().min(PROBE_BYTES - buf.len());
                if let Some(r) = self.resync[i].as_mut() {
                    if take > 0 && r.tried < RESYNC_SEGMENTS {
                        r.starts.push(buf.len());
                        r.tried += 1;
                    }
                }
                buf.extend_from_slice(&data[..take]);
                self.order.push((side, take));
                let found = if self.resync[i].is_some() {
                    match self.probe_starts(side) {
                        Some(p) => Probed::Found(p),
                        None if self.resync_exhausted(side) => Probed::Exhausted,
                        None => Probed::Undecided,
                    }
                } else {
                    let seen = std::mem::take(&mut self.held[i]);
                    let found = self.probe(side, &seen);
                    self.held[i] = seen;
                    found
                };
                let full = self.held[i].len() >= PROBE_BYTES;
                match found {
                    Probed::Found(p) => {
                        self.decide(p, rec);
                        // Bytes past the probe window go straight on.
                        if take < data.len() {
                            self.stream_side(side, &data[take..], rec);
                        }
                    }
                    // A side picked up mid-way is given up on alone while the other
                    // side may still say what this is.
                    Probed::Exhausted if self.resync[i].is_some() && !self.resync_exhausted(other(side)) => {
                        self.drop_held(side, usize::MAX);
                    }
                    Probed::Exhausted => self.state = State::Unknown,
                    // So is one whose window filled while some protocol still hoped
                    // (a body's bytes that keep a probe waiting): its bytes go, the
                    // session stays open to what either side sends next. Once its
                    // segment starts are used up it is given up on as above: a long
                    // answer's body must not give up the session before the client's
                    // next request (a session neither side names is given up when
                    // the other side has had its chance too).
                    Probed::Undecided if full && self.resync[i].is_some() && !self.resync_exhausted(other(side)) => {
                        if let Some(r) = self.resync[i].as_mut() {
                            r.starts.clear();
                        }
                        self.drop_held(side, usize::MAX);
                    }
                    Probed::Undecided if full => self.give_up(),
                    Probed::Undecided => {}
                }
            }
        }
    }

    fn give_up(&mut self) {
        self.held = [Vec::new(), Vec::new()];
        self.order = Vec::new();
        self.state = State::Unknown;
    }
}

/// Protocols a connection's accepting side may open as well as its connecting side:
/// SOCKS offered back over a connection a host made (a "reverse" proxy: malware
/// that calls out, then carries its controller's connections), where the side
/// that sends the greeting is SOCKS's client.
fn opened_by_either_side(p: &Protocol) -> bool {
    std::ptr::eq(p, &socks::PROTOCOL)
}

/// Whether `p` is what a call's sessions are decided as: those that take the
/// application of a call named on the same endpoints.
fn carries_calls(p: &Protocol) -> bool {
    [&stun::PROTOCOL, &rtp::PROTOCOL, &rtp::RTCP].into_iter().any(|c| std::ptr::eq(c, p))
}

fn endpoints(rec: &SessionRecord) -> Option<[(tyto_packet::Addr, u16); 2]> {
    Some([(rec.src_ip?, rec.src_port), (rec.dst_ip?, rec.dst_port)])
}

/// Files what the session's dissector has just learnt for other sessions: the call
/// it named (under the session's endpoints), the names its answers gave addresses.
fn file_learnt(calls: &CallEndpoints, names: &ResolvedNames, d: &mut dyn Dissector, rec: &SessionRecord) {
    match d.learnt() {
        None => {}
        Some(Learnt::Call(app)) => {
            if let Some(e) = endpoints(rec) {
                calls.file(e, app);
            }
        }
        Some(Learnt::Names(resolved)) => {
            for (addr, name) in resolved {
                names.file([addr], std::sync::Arc::from(name));
            }
        }
    }
}

impl SessionAnalyzer for Classifier {
    fn stream(&mut self, dir: Direction, data: &[u8], rec: &mut SessionRecord) {
        self.keep_transactions(rec);
        self.stream_side(side_of(dir), data, rec);
    }

    fn gap(&mut self, dir: Direction, len: u64, _rec: &mut SessionRecord) {
        let side = side_of(dir);
        let role = self.role(side);
        match &mut self.state {
            State::Decided(_, d) => d.gap(role, len),
            // Bytes after a hole begin mid-message: probe from the next segments on.
            State::Probing => {
                self.drop_held(side, usize::MAX);
                let tried = self.resync[idx(side)].as_ref().map_or(0, |r| r.tried);
                self.resync[idx(side)] = Some(Resync { starts: Vec::new(), tried });
            }
            State::Unknown => {}
        }
    }

    fn datagram(&mut self, dir: Direction, data: &[u8], rec: &mut SessionRecord) {
        self.keep_transactions(rec);
        let side = side_of(dir);
        let role = self.role(side);
        match &mut self.state {
            State::Decided(_, d) => {
                d.feed(role, data, rec);
                file_learnt(&self.calls, &self.names, d.as_mut(), rec);
            }
            State::Unknown => {}
            State::Probing => {
                if data.is_empty() {
                    return;
                }
                self.saw_payload = true;
                self.datagrams[idx(side)] += 1;
                let take = data.len().min(PROBE_BYTES);
                match self.probe(side, data) {
                    Probed::Found(p) => {
                        self.decide(p, rec);
                        let role = self.role(side);
                        if let State::Decided(_, d) = &mut self.state {
                            d.feed(role, data, rec);
                            file_learnt(&self.calls, &self.names, d.as_mut(), rec);
                        }
                    }
                    Probed::Exhausted => self.state = State::Unknown,
                    Probed::Undecided if self.probed_enough() => self.give_up(),
                    Probed::Undecided => {
                        // Held so that a later match still sees the session's first datagrams.
                        let total: usize = self.held.iter().map(Vec::len).sum();
                        if total + take <= 2 * PROBE_BYTES {
                            self.held[idx(side)].extend_from_slice(&data[..take]);
                            self.order.push((side, take));
                        }
                    }
                }
            }
        }
    }

    fn flush(&mut self, rec: &mut SessionRecord) {
        // An announcement filed after this connection opened: the worker that holds
        // the control connection read its answer later than this one read the SYN.
        if self.transport == Transport::Tcp && !matches!(self.state, State::Decided(..)) {
            if let (Some(a), Some(b)) = (rec.src_ip, rec.dst_ip) {
                if let Some(link) = self.expected.take((a, rec.src_port), (b, rec.dst_port)) {
                    self.announced(link);
                }
            }
        }
        for p in &self.earlier {
            add_protocol(rec, *p);
            put_text(rec, text_field!("protocols.how"), &format!("{}:payload", p.name));
        }
        match &mut self.state {
            // Every row of a long session names its protocol.
            State::Decided(p, d) => {
                d.end(rec);
                if carries_calls(p) && rec.extra.get("app").is_none() {
                    if let Some(app) = endpoints(rec).and_then(|e| self.calls.find(e)) {
                        put_text(rec, text_field!("app"), app);
                    }
                }
                add_protocol(rec, *p);
                put_text(rec, text_field!("protocols.how"), &format!("{}:{}", p.name, self.how));
            }
            // No payload said what this is: the port's protocol, labelled as a guess,
            // unless the payload already ruled that protocol out.
            State::Probing | State::Unknown if self.saw_payload => {
                let by_port = self.candidates().find(|(_, p)| p.ports.contains(&rec.dst_port));
                if let Some((_, p)) = by_port {
                    add_protocol(rec, p);
                    put_text(rec, text_field!("protocols.how"), &format!("{}:port", p.name));
                }
            }
            _ => {}
        }
        // The name an earlier answer gave the server's address, for a session that
        // is not itself a lookup and names no server itself (a name it sends is the
        // one it asked for, or better: it may name one of several names).
        // (The cheap tests first: this runs at the end of every row.)
        let names_server =
            |rec: &SessionRecord| ["host.tls", "host.quic", "host.http"].iter().any(|f| !rec.extra.texts(f).is_empty());
        if rec.resolved.is_none() && !rec.protocols.iter().any(|p| p == dns::PROTOCOL.name) && !names_server(rec) {
            rec.resolved = rec.dst_ip.and_then(|a| self.names.find([a]));
        }
        crate::risk::assess(rec);
    }

    fn wants_more(&self) -> bool {
        match &self.state {
            State::Decided(_, d) => d.wants_more(),
            State::Probing => true,
            State::Unknown => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kit::testing::texts;

    /// A SOCKS5 tunnel carrying HTTP, then SMTP upgraded by STARTTLS: each protocol
    /// hands the connection on and every one of them is named.
    #[test]
    fn handoffs_name_every_protocol_on_the_connection() {
        let mut c = Classifier::new(Transport::Tcp);
        let mut rec = SessionRecord::default();
        c.stream(Direction::ToServer, &[5, 1, 0], &mut rec);
        c.stream(Direction::ToClient, &[5, 0], &mut rec);
        c.stream(Direction::ToServer, &[5, 1, 0, 1, 10, 0, 0, 2, 0, 80], &mut rec);
        // The reply and the first response bytes of the tunnel in one segment.
        c.stream(Direction::ToClient, &[5, 0, 0, 1, 10, 0, 0, 2, 0, 80], &mut rec);
        c.stream(Direction::ToServer, b"GET / HTTP/1.1\r\nHost: a.example\r\n\r\n", &mut rec);
        c.stream(Direction::ToClient, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", &mut rec);
        c.flush(&mut rec);
        assert_eq!(rec.protocols, vec!["socks", "http"]);
        assert_eq!(texts(&rec, "host.http"), vec!["a.example"]);
        assert_eq!(texts(&rec, "protocols.how"), vec!["socks:payload", "http:payload"]);

        let mut c = Classifier::new(Transport::Tcp);
        let mut rec = SessionRecord::default();
        c.stream(Direction::ToClient, b"220 mx ESMTP\r\n", &mut rec);
        c.stream(Direction::ToServer, b"EHLO me\r\nSTARTTLS\r\n", &mut rec);
        c.stream(Direction::ToClient, b"220 go\r\n", &mut rec);
        let hello = crate::protocols::tls::tests::client_hello();
        c.stream(Direction::ToServer, &hello, &mut rec);
        c.flush(&mut rec);
        assert_eq!(rec.protocols, vec!["smtp", "tls"]);
        assert_eq!(texts(&rec, "email.smtp-hello"), vec!["me"]);
        assert!(!texts(&rec, "tls.ja3").is_empty());
    }

    /// HTTP's switch to WebSocket names the protocol that follows: its frames are
    /// read, not probed for.
    #[test]
    fn an_upgrade_to_websocket_is_followed_by_its_frames() {
        let mut c = Classifier::new(Transport::Tcp);
        let mut rec = SessionRecord::default();
        c.stream(
            Direction::ToServer,
            b"GET /chat HTTP/1.1\r\nHost: a.example\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
            &mut rec,
        );
        // The switch and the server's first frame in one segment.
        let mut answer =
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: WebSocket\r\nConnection: Upgrade\r\n\r\n".to_vec();
        answer.extend_from_slice(&[0x81, 2, b'h', b'i']);
        c.stream(Direction::ToClient, &answer, &mut rec);
        c.stream(Direction::ToServer, &[0x81, 0x82, 1, 2, 3, 4, b'y' ^ 1, b'o' ^ 2], &mut rec);
        c.flush(&mut rec);
        assert_eq!(rec.protocols, vec!["http", "websocket"]);
        assert_eq!(texts(&rec, "protocols.how"), vec!["http:payload", "websocket:http"]);
        assert_eq!(texts(&rec, "websocket.textSample"), vec!["hi", "yo"]);

        // Another switch (h2c) is probed for as before.
        let mut c = Classifier::new(Transport::Tcp);
        let mut rec = SessionRecord::default();
        c.stream(Direction::ToServer, b"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: h2c\r\n\r\n", &mut rec);
        c.stream(Direction::ToClient, b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n", &mut rec);
        c.stream(Direction::ToClient, &[0x81, 2, b'h', b'i'], &mut rec);
        c.flush(&mut rec);
        assert_eq!(rec.protocols, vec!["http"]);
    }

    /// A handoff loop (a tunnel inside a tunnel inside…) stops after a few.
    #[test]
    fn every_protocol_has_a_place_in_a_protocol_set() {
        assert!(PROTOCOLS.len() <= ProtocolSet::CAPACITY, "add a word to `ProtocolSet`");
        let mut set = ProtocolSet::EMPTY;
        for i in [0, 63, 64, 127, 128, ProtocolSet::CAPACITY - 1] {
            assert!(!set.contains(i));
            set.insert(i);
            assert!(set.contains(i));
        }
        assert!(!set.contains(1) && !set.contains(65) && !set.contains(129));
    }

    /// RTP-looking datagrams: version 2, PCMU, a sequence number and an SSRC.
    fn rtp_like(seq: u16, ssrc: u32) -> Vec<u8> {
        let mut d = vec![0x80, 0];
        d.extend_from_slice(&seq.to_be_bytes());
        d.extend_from_slice(&[0, 0, 0, 160]);
        d.extend_from_slice(&ssrc.to_be_bytes());
        d.extend_from_slice(&[0x2a; 40]);
        d
    }

    #[test]
    fn plausible_datagrams_decide_only_as_one_advancing_stream() {
        let run = |datagrams: &[Vec<u8>]| {
            let mut c = Classifier::new(Transport::Udp);
            let mut rec = SessionRecord::default();
            for d in datagrams {
                c.datagram(Direction::ToServer, d, &mut rec);
            }
            c.flush(&mut rec);
            rec.protocols
        };
        assert_eq!(run(&[rtp_like(7, 1), rtp_like(8, 1), rtp_like(10, 1)]), ["rtp"]);
        // A header that never moves (Omron FINS reads as RTP version 2, PCMU).
        assert!(run(&[rtp_like(0x0200, 1), rtp_like(0x0200, 1), rtp_like(0x0200, 1), rtp_like(0x0200, 1)]).is_empty());
        // Or whose "SSRC" changes each time.
        assert!(run(&[rtp_like(1, 1), rtp_like(2, 2), rtp_like(3, 3), rtp_like(4, 4)]).is_empty());
        // RTP's streams are each side's own: the same SSRC both ways does not continue
        // a run (a game's constant header read as RTP did); a connection id both
        // directions carry (Google QUIC's) does.
        let sides = |datagrams: &[(Direction, Vec<u8>)]| {
            let mut c = Classifier::new(Transport::Udp);
            let mut rec = SessionRecord::default();
            for (dir, d) in datagrams {
                c.datagram(*dir, d, &mut rec);
            }
            c.flush(&mut rec);
            rec.protocols
        };
        let (to_server, to_client) = (Direction::ToServer, Direction::ToClient);
        assert!(
            sides(&[(to_client, rtp_like(1, 5)), (to_client, rtp_like(2, 5)), (to_server, rtp_like(90, 5))]).is_empty()
        );
        // Google QUIC (Q024, `quic.pcap`): the server's packets 1 and 2, then the
        // client's with the same connection id.
        let gquic = |flags: u8, number: u8| {
            let mut g = vec![flags, 0xb2, 0xde, 0x5d, 0xf1, 0x4f, 0x55, 0x45, 0xeb, number];
            g.extend_from_slice(&[0xae; 40]);
            g
        };
        assert_eq!(
            sides(&[(to_client, gquic(0x0c, 1)), (to_client, gquic(0x0c, 2)), (to_server, gquic(0x0c, 2))]),
            ["quic"]
        );
        // A short exchange: the server's packet and the client's naming its id decide.
        assert_eq!(sides(&[(to_client, gquic(0x0c, 3)), (to_server, gquic(0x0c, 3))]), ["quic"]);
        // IETF QUIC picked up after its handshake: the server's packets name no id; the
        // client's name the server's under first bytes masked afresh (`quic_sh.pcap`).
        let short = |first: u8, tail: u8| {
            let mut d = vec![first];
            d.extend_from_slice(&[0x01, 0xdf, 0xc0, 0xfe, 0x62, 0xc6, 0x40, 0x77, 0x3c, 0xde, 0xce, 0xfe]);
            d.extend((0..38u8).map(|i| i.wrapping_mul(97) ^ tail));
            d
        };
        assert_eq!(
            sides(&[(to_server, short(0x53, 1)), (to_server, short(0x4f, 2)), (to_server, short(0x45, 3))]),
            ["quic"]
        );
        // A first byte that never changes is a header, not a mask.
        assert!(
            sides(&[(to_server, short(0x53, 1)), (to_server, short(0x53, 2)), (to_server, short(0x53, 3))]).is_empty()
        );
    }

    /// SOCKS 5 opened by the side that accepted the connection, after the connecting
    /// side sent something of its own (`socks5-reverse.pcap`): the greeting's side
    /// is SOCKS's client, and the tunnel's HTTP is read with the same roles.
    #[test]
    fn socks_opened_by_the_accepting_side() {
        let mut c = Classifier::new(Transport::Tcp);
        let mut rec = SessionRecord::default();
        c.stream(Direction::ToServer, &[0x4e, 0x5a, 0x8d, 0x08, 0x87, 0x4e], &mut rec);
        c.stream(Direction::ToClient, &[5, 1, 0], &mut rec);
        c.stream(Direction::ToClient, &[5, 1, 0, 1, 0x4a, 0x7d, 0x83, 0x67, 0, 80], &mut rec);
        c.stream(Direction::ToServer, &[5, 0], &mut rec);
        c.stream(Direction::ToServer, &[5, 0, 0, 1, 0x4a, 0x7d, 0x83, 0x67, 0, 80], &mut rec);
        c.stream(Direction::ToClient, b"GET /search HTTP/1.1\r\nHost: www.google.com\r\n\r\n", &mut rec);
        c.stream(Direction::ToServer, b"HTTP/1.1 302 Found\r\nContent-Length: 0\r\n\r\n", &mut rec);
        c.flush(&mut rec);
        assert_eq!(rec.protocols, ["socks", "http"]);
        assert_eq!(texts(&rec, "host.http"), ["www.google.com"]);
        // Neither side opening it rules SOCKS out as before.
        let mut c = Classifier::new(Transport::Tcp);
        let mut rec = SessionRecord::default();
        c.stream(Direction::ToServer, &[0x4e, 0x5a, 0x8d, 0x08, 0x87, 0x4e], &mut rec);
        c.stream(Direction::ToClient, &[0x17, 0x03, 0x03, 0, 2, 1, 1], &mut rec);
        c.flush(&mut rec);
        assert!(!rec.protocols.iter().any(|p| p == "socks"));
    }

    /// A side that sends a burst first (a server's stream of packets after a flow was
    /// picked up) does not use up the other side's datagrams: each side has its own
    /// eight, within a bound for both; a flow only one side speaks in is given up.
    #[test]
    fn each_side_of_a_datagram_flow_has_its_own_chance() {
        let mut c = Classifier::new(Transport::Udp);
        let mut rec = SessionRecord::default();
        // The server's IETF QUIC packets after the handshake: no id, nothing to
        // tell them by, but nothing against QUIC either.
        let noise = |i: u8| {
            let mut d = vec![0x44 | (i & 0x3b), i.wrapping_mul(31), i.wrapping_mul(7), 0x55];
            d.extend((0..40u16).map(|j| ((u16::from(i) * 251 + j * 13 + u16::from(i) * j * 7) % 256) as u8));
            d
        };
        for i in 0..14 {
            c.datagram(Direction::ToClient, &noise(i), &mut rec);
        }
        assert!(c.wants_more());
        // The client's IETF QUIC packets, naming the server's connection id.
        for first in [0x53, 0x4f, 0x45] {
            let mut d = vec![first, 0x01, 0xdf, 0xc0, 0xfe, 0x62, 0xc6, 0x40, 0x77];
            d.extend((0..40u8).map(|j| j.wrapping_mul(first) ^ 0x9c));
            c.datagram(Direction::ToServer, &d, &mut rec);
        }
        c.flush(&mut rec);
        assert_eq!(rec.protocols, ["quic"]);
        let mut one_way = Classifier::new(Transport::Udp);
        let mut rec = SessionRecord::default();
        for i in 0..2 * PROBE_DATAGRAMS as u8 {
            one_way.datagram(Direction::ToClient, &noise(i), &mut rec);
        }
        assert!(!one_way.wants_more(), "{:?}", rec.protocols);
        let mut both = Classifier::new(Transport::Udp);
        for i in 0..PROBE_DATAGRAMS_IN_ALL as u8 {
            let dir = if i % 8 == 0 { Direction::ToServer } else { Direction::ToClient };
            both.datagram(dir, &noise(i), &mut rec);
        }
        assert!(!both.wants_more());
    }

    /// A connection picked up after its handshake and first request: the server's
    /// words come first from the side that "opened" it, and the first bytes of each
    /// side are the tail of a message. The protocol is still named, with its roles.
    #[test]
    fn a_stream_picked_up_midway_is_named_from_a_later_message_and_either_side() {
        let mut c = Classifier::new(Transport::Tcp);
        c.opening_unseen();
        let mut rec = SessionRecord::default();
        // The rest of an HTTP response body, from the server (seen first, so the opener).
        c.stream(Direction::ToServer, b"ody of an earlier answer, no header in sight", &mut rec);
        // The client's next request.
        c.stream(Direction::ToClient, b"GET /next HTTP/1.1\r\nHost: b.example\r\n\r\n", &mut rec);
        // The server's answer to it.
        c.stream(Direction::ToServer, b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", &mut rec);
        c.flush(&mut rec);
        assert_eq!(rec.protocols, vec!["http"]);
        assert_eq!(texts(&rec, "host.http"), vec!["b.example"]);
        assert_eq!(texts(&rec, "http.method"), vec!["GET"]);

        // SMTP whose handshake was lost: the greeting comes from the side seen first.
        let mut c = Classifier::new(Transport::Tcp);
        c.opening_unseen();
        let mut rec = SessionRecord::default();
        c.stream(Direction::ToServer, b"220 mx.example ESMTP\r\n", &mut rec);
        c.stream(Direction::ToClient, b"EHLO me\r\n", &mut rec);
        c.flush(&mut rec);
        assert_eq!(rec.protocols, vec!["smtp"]);
        assert_eq!(texts(&rec, "email.smtp-hello"), vec!["me"]);
    }

    /// A side picked up mid-way whose window fills while a probe still waits (the
    /// body of an answer whose start was lost) lets its bytes go; the other side's
    /// next request still names the session. So when the window fills only after
    /// the side's segment starts are used up (a body in many segments, `1kxun.pcap`
    /// picked up mid-answer).
    #[test]
    fn a_side_whose_window_fills_undecided_leaves_the_other_side_to_decide() {
        // Bytes that read as the start of an 8 KiB Kerberos message over TCP (its
        // probe waits for the rest): one segment larger than the window, or as many
        // segments as the side may start from, and more, each such a start.
        let start = [0, 0, 0x1f, 0xff, 0x6a];
        let whole = [&start[..], &[0x5a; PROBE_BYTES + 1000]].concat();
        let mut segment = start.to_vec();
        segment.resize(PROBE_BYTES / usize::from(RESYNC_SEGMENTS) + 100, 0x5a);
        let many = vec![segment; 2 * usize::from(RESYNC_SEGMENTS)];
        for body in [vec![whole], many] {
            let mut c = Classifier::new(Transport::Tcp);
            c.opening_unseen();
            let mut rec = SessionRecord::default();
            for segment in &body {
                c.stream(Direction::ToServer, segment, &mut rec);
            }
            c.stream(Direction::ToClient, b"GET /next HTTP/1.1\r\nHost: b.example\r\n\r\n", &mut rec);
            c.flush(&mut rec);
            assert_eq!(rec.protocols, vec!["http"], "{} segments", body.len());
        }
    }

    /// Bytes after a hole are not a beginning; the next message is.
    #[test]
    fn after_lost_bytes_probing_resumes_at_a_later_segment() {
        let mut c = Classifier::new(Transport::Tcp);
        let mut rec = SessionRecord::default();
        c.gap(Direction::ToServer, 1000, &mut rec);
        c.stream(Direction::ToServer, &[0x5a; 300], &mut rec);
        c.stream(Direction::ToServer, &crate::protocols::tls::tests::client_hello(), &mut rec);
        c.flush(&mut rec);
        assert_eq!(rec.protocols, vec!["tls"]);
        assert!(!texts(&rec, "tls.ja3").is_empty());
    }

    /// With the handshake seen, the roles are the transport's: a server greeting sent
    /// by the opener is not taken for one, and bytes no probe knows leave it unknown.
    #[test]
    fn a_stream_seen_from_its_start_keeps_its_roles_and_its_beginning() {
        let mut c = Classifier::new(Transport::Tcp);
        let mut rec = SessionRecord::default();
        c.stream(Direction::ToServer, &[0x5a; 300], &mut rec);
        c.stream(Direction::ToServer, b"GET / HTTP/1.1\r\nHost: c.example\r\n\r\n", &mut rec);
        c.flush(&mut rec);
        assert!(rec.protocols.is_empty(), "{:?}", rec.protocols);
    }

    /// A mid-stream side is probed from at most [`RESYNC_SEGMENTS`] segment starts,
    /// within the probe window.
    #[test]
    fn resynchronising_is_bounded() {
        let mut c = Classifier::new(Transport::Tcp);
        c.opening_unseen();
        let mut rec = SessionRecord::default();
        for _ in 0..PROBE_BYTES / 200 + 1 {
            c.stream(Direction::ToServer, &[0x5a; 200], &mut rec);
            c.stream(Direction::ToClient, &[0xa5; 200], &mut rec);
        }
        assert!(matches!(c.state, State::Unknown), "still probing");
        c.stream(Direction::ToServer, b"GET / HTTP/1.1\r\nHost: c.example\r\n\r\n", &mut rec);
        c.flush(&mut rec);
        assert!(rec.protocols.is_empty(), "{:?}", rec.protocols);
    }

    #[test]
    fn handoffs_are_bounded() {
        let mut c = Classifier::new(Transport::Tcp);
        let mut rec = SessionRecord::default();
        for _ in 0..10 {
            c.stream(Direction::ToServer, &[5, 1, 0], &mut rec);
            c.stream(Direction::ToClient, &[5, 0], &mut rec);
            c.stream(Direction::ToServer, &[5, 1, 0, 1, 10, 0, 0, 2, 0, 80], &mut rec);
            c.stream(Direction::ToClient, &[5, 0, 0, 1, 10, 0, 0, 2, 0, 80], &mut rec);
        }
        assert_eq!(c.earlier.len(), MAX_HANDOFFS + 1);
        assert!(!c.wants_more());
    }
}
