//! Payload-first classification: the flow layer's [`SessionAnalyzer`] for every TCP
//! and UDP session. The first bytes of each direction are held (bounded) while the
//! registered probes look at them; the first protocol to recognise them gets the
//! session, and what was held is replayed to it in arrival order.

use tyto_flow::analyzer::{AnalyzerFactory, SessionAnalyzer};
use tyto_flow::{Direction, FlowKey};
use tyto_schema::SessionRecord;

use crate::{add_protocol, put_text, Dissector, Probe, Protocol, Side, Transport, PROTOCOLS};

/// Stream bytes held per direction while no probe has decided: enough for any
/// protocol's greeting or first request line; past it the session stays unknown.
pub const PROBE_BYTES: usize = 4096;
/// Datagrams looked at before a UDP session is left unknown.
pub const PROBE_DATAGRAMS: usize = 8;

/// The dissectors, as the flow layer's analyzer factory.
pub struct Dissectors;

impl AnalyzerFactory for Dissectors {
    fn create(&self, key: &FlowKey) -> Option<Box<dyn SessionAnalyzer>> {
        let transport = match key.proto {
            6 => Transport::Tcp,
            17 => Transport::Udp,
            _ => return None,
        };
        Some(Box::new(Classifier::new(transport)))
    }
}

enum State {
    Probing,
    Decided(&'static Protocol, Box<dyn Dissector>),
    Unknown,
}

pub struct Classifier {
    transport: Transport,
    state: State,
    /// Held bytes per side (streams), or held datagrams in order.
    held: [Vec<u8>; 2],
    /// Arrival order of what is held: (side, length).
    order: Vec<(Side, usize)>,
    datagrams: usize,
    /// Protocols whose probe said "not this" (bit per index in `PROTOCOLS`).
    rejected: u64,
    saw_payload: bool,
}

fn side_of(dir: Direction) -> Side {
    match dir {
        Direction::ToServer => Side::Client,
        Direction::ToClient => Side::Server,
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
            datagrams: 0,
            rejected: 0,
            saw_payload: false,
        }
    }

    fn candidates(&self) -> impl Iterator<Item = (usize, &'static Protocol)> + '_ {
        PROTOCOLS
            .iter()
            .copied()
            .enumerate()
            .filter(move |(i, p)| self.rejected & (1 << i) == 0 && p.transports.contains(&self.transport))
    }

    /// Runs the probes on `data` (one side's stream so far, or one datagram).
    fn probe(&mut self, side: Side, data: &[u8]) -> Option<&'static Protocol> {
        let mut undecided = false;
        let mut rejected = self.rejected;
        for (i, p) in self.candidates() {
            match (p.probe)(side, data) {
                Probe::Match => return Some(p),
                Probe::NoMatch => rejected |= 1 << i,
                Probe::NeedMore => undecided = true,
            }
        }
        self.rejected = rejected;
        if !undecided && self.candidates().next().is_none() {
            self.state = State::Unknown;
        }
        None
    }

    fn decide(&mut self, p: &'static Protocol, rec: &mut SessionRecord) {
        add_protocol(rec, p.name);
        put_text(rec, "protocols.how", &format!("{}:payload", p.name));
        let mut d = (p.new)();
        // Replay what was held, in the order it came.
        let mut at = [0usize, 0];
        for &(side, len) in &self.order {
            let i = idx(side);
            if let Some(chunk) = self.held[i].get(at[i]..at[i] + len) {
                d.feed(side, chunk, rec);
            }
            at[i] += len;
        }
        self.held = [Vec::new(), Vec::new()];
        self.order = Vec::new();
        self.state = State::Decided(p, d);
    }

    fn give_up(&mut self) {
        self.held = [Vec::new(), Vec::new()];
        self.order = Vec::new();
        self.state = State::Unknown;
    }
}

impl SessionAnalyzer for Classifier {
    fn stream(&mut self, dir: Direction, data: &[u8], rec: &mut SessionRecord) {
        let side = side_of(dir);
        match &mut self.state {
            State::Decided(_, d) => d.feed(side, data, rec),
            State::Unknown => {}
            State::Probing => {
                self.saw_payload = true;
                let buf = &mut self.held[idx(side)];
                let take = data.len().min(PROBE_BYTES - buf.len());
                buf.extend_from_slice(&data[..take]);
                self.order.push((side, take));
                let seen = std::mem::take(&mut self.held[idx(side)]);
                let found = self.probe(side, &seen);
                let full = seen.len() >= PROBE_BYTES;
                self.held[idx(side)] = seen;
                match found {
                    Some(p) => {
                        self.decide(p, rec);
                        // Bytes past the probe window go straight on.
                        if let State::Decided(_, d) = &mut self.state {
                            if take < data.len() {
                                d.feed(side, &data[take..], rec);
                            }
                        }
                    }
                    None if full => self.give_up(),
                    None => {}
                }
            }
        }
    }

    fn gap(&mut self, dir: Direction, len: u64, _rec: &mut SessionRecord) {
        match &mut self.state {
            State::Decided(_, d) => d.gap(side_of(dir), len),
            // Bytes after a hole cannot be probed as a beginning.
            State::Probing => self.give_up(),
            State::Unknown => {}
        }
    }

    fn datagram(&mut self, dir: Direction, data: &[u8], rec: &mut SessionRecord) {
        let side = side_of(dir);
        match &mut self.state {
            State::Decided(_, d) => d.feed(side, data, rec),
            State::Unknown => {}
            State::Probing => {
                if data.is_empty() {
                    return;
                }
                self.saw_payload = true;
                self.datagrams += 1;
                let take = data.len().min(PROBE_BYTES);
                match self.probe(side, data) {
                    Some(p) => {
                        self.decide(p, rec);
                        if let State::Decided(_, d) = &mut self.state {
                            d.feed(side, data, rec);
                        }
                    }
                    None if self.datagrams >= PROBE_DATAGRAMS => self.give_up(),
                    None => {
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
        match &self.state {
            // Every row of a long session names its protocol.
            State::Decided(p, _) => {
                add_protocol(rec, p.name);
                put_text(rec, "protocols.how", &format!("{}:payload", p.name));
            }
            // No payload said what this is: the port's protocol, labelled as a guess,
            // unless the payload already ruled that protocol out.
            State::Probing | State::Unknown if self.saw_payload => {
                let by_port = self.candidates().find(|(_, p)| p.ports.contains(&rec.dst_port));
                if let Some((_, p)) = by_port {
                    add_protocol(rec, p.name);
                    put_text(rec, "protocols.how", &format!("{}:port", p.name));
                }
            }
            _ => {}
        }
    }

    fn wants_more(&self) -> bool {
        match &self.state {
            State::Decided(_, d) => d.wants_more(),
            State::Probing => true,
            State::Unknown => false,
        }
    }
}
