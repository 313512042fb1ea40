//! Payload-first classification: the flow layer's [`SessionAnalyzer`] for every TCP
//! and UDP session. The first bytes of each direction are held (bounded) while the
//! registered probes look at them; the first protocol to recognise them gets the
//! session, and what was held is replayed to it in arrival order.

use tyto_flow::analyzer::{AnalyzerFactory, SessionAnalyzer};
use tyto_flow::{Direction, FlowKey};
use tyto_schema::SessionRecord;

use crate::{add_protocol, expect, ftp, put_text, Dissector, Probe, Protocol, Side, Transport, PROTOCOLS};

/// Stream bytes held per direction while no probe has decided: enough for any
/// protocol's greeting or first request line; past it the session stays unknown.
pub const PROBE_BYTES: usize = 4096;
/// Datagrams looked at before a UDP session is left unknown.
pub const PROBE_DATAGRAMS: usize = 8;
/// Protocols one connection may hand over to (SOCKS → HTTP CONNECT → TLS is two).
const MAX_HANDOFFS: usize = 4;
/// Datagrams that must continue their side's stream (same stream, sequence number
/// 1 to [`MAX_SEQ_STEP`] ahead of the last) to decide a [`Probe::Plausible`]
/// protocol: with the first of each side, three datagrams at least.
pub const PLAUSIBLE_RUN: u8 = 2;
/// Sequence numbers may skip what was lost or reordered, not more.
const MAX_SEQ_STEP: u16 = 64;

/// A plausible protocol's progress: each side's last (stream, sequence number), and
/// how many datagrams continued one.
struct Run {
    protocol: usize,
    last: [Option<(u32, u16)>; 2],
    continued: u8,
}

/// The dissectors, as the flow layer's analyzer factory.
#[derive(Clone, Copy, Debug, Default)]
pub struct Dissectors {
    /// File DNS and HTTP transactions with each row (for the exporters).
    pub transactions: bool,
}

impl AnalyzerFactory for Dissectors {
    fn create(&self, key: &FlowKey) -> Option<Box<dyn SessionAnalyzer>> {
        let transport = match key.proto {
            6 => Transport::Tcp,
            17 => Transport::Udp,
            50 => Transport::Esp,
            _ => return None,
        };
        let mut c = Classifier::new(transport);
        c.transactions = self.transactions;
        if transport == Transport::Tcp {
            if let Some(link) = expect::take((key.lo, key.lo_port), (key.hi, key.hi_port)) {
                c.announced(link);
            }
        }
        Some(Box::new(c))
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
    /// Protocols whose probe said "not this" (bit per index in `PROTOCOLS`; a test
    /// keeps the registry within its width).
    rejected: u128,
    saw_payload: bool,
    /// The runs of the protocols whose probes found the datagrams plausible.
    plausible: Vec<Run>,
    /// How the protocol was decided: by its `payload`, or by the session that
    /// announced this one (`ftp`).
    how: &'static str,
    /// Protocols decided before a handoff, oldest first: every row names them all.
    earlier: Vec<&'static Protocol>,
    transactions: bool,
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
            plausible: Vec::new(),
            how: "payload",
            earlier: Vec::new(),
            transactions: false,
        }
    }

    /// This connection is one an FTP control connection announced: decided by that.
    fn announced(&mut self, link: expect::SharedLink) {
        self.state = State::Decided(&ftp::DATA, Box::new(ftp::FtpData::linked(link)));
        self.how = "ftp";
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
            .filter(move |(i, p)| self.rejected & (1u128 << i) == 0 && p.transports.contains(&self.transport))
    }

    /// Runs the probes on `data` (one side's stream so far, or one datagram).
    fn probe(&mut self, side: Side, data: &[u8]) -> Option<&'static Protocol> {
        let mut undecided = false;
        let mut rejected = self.rejected;
        let mut plausible = Vec::new();
        for (i, p) in self.candidates() {
            match (p.probe)(side, data) {
                Probe::Match => return Some(p),
                Probe::NoMatch => rejected |= 1u128 << i,
                Probe::NeedMore => undecided = true,
                Probe::Plausible { stream, seq } => {
                    undecided = true;
                    plausible.push((i, p, stream, seq));
                }
            }
        }
        self.rejected = rejected;
        // A stream is re-probed whole each time: only datagrams make a run.
        if self.transport != Transport::Tcp {
            for (i, p, stream, seq) in plausible {
                let at = match self.plausible.iter().position(|r| r.protocol == i) {
                    Some(at) => at,
                    None => {
                        self.plausible.push(Run { protocol: i, last: [None; 2], continued: 0 });
                        self.plausible.len() - 1
                    }
                };
                let run = &mut self.plausible[at];
                let last = &mut run.last[idx(side)];
                if let Some((s, q)) = *last {
                    if s == stream && (1..=MAX_SEQ_STEP).contains(&seq.wrapping_sub(q)) {
                        run.continued += 1;
                    }
                }
                *last = Some((stream, seq));
                if run.continued >= PLAUSIBLE_RUN {
                    return Some(p);
                }
            }
        }
        if !undecided && self.candidates().next().is_none() {
            self.state = State::Unknown;
        }
        None
    }

    fn decide(&mut self, p: &'static Protocol, rec: &mut SessionRecord) {
        add_protocol(rec, p.name);
        put_text(rec, "protocols.how", &format!("{}:payload", p.name));
        self.state = State::Decided(p, (p.new)());
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
                    Transport::Udp | Transport::Esp => {
                        if let State::Decided(_, d) = &mut self.state {
                            d.feed(side, chunk, rec);
                        }
                    }
                }
            }
            at[i] += len;
        }
    }

    /// The decided protocol ended and another follows: probe afresh.
    fn hand_over(&mut self) {
        let State::Decided(p, _) = std::mem::replace(&mut self.state, State::Unknown) else { return };
        self.earlier.push(p);
        if self.earlier.len() <= MAX_HANDOFFS {
            self.state = State::Probing;
            self.rejected = 0;
            self.plausible.clear();
        }
    }

    fn stream_side(&mut self, side: Side, data: &[u8], rec: &mut SessionRecord) {
        match &mut self.state {
            State::Decided(_, d) => {
                d.feed(side, data, rec);
                if let Some(used) = d.handoff() {
                    self.hand_over();
                    let rest = data.get(used..).unwrap_or(&[]);
                    if !rest.is_empty() {
                        self.stream_side(side, rest, rec);
                    }
                }
            }
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
                        if take < data.len() {
                            self.stream_side(side, &data[take..], rec);
                        }
                    }
                    None if full => self.give_up(),
                    None => {}
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

impl SessionAnalyzer for Classifier {
    fn stream(&mut self, dir: Direction, data: &[u8], rec: &mut SessionRecord) {
        self.keep_transactions(rec);
        self.stream_side(side_of(dir), data, rec);
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
        self.keep_transactions(rec);
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
        // An announcement filed after this connection opened: the worker that holds
        // the control connection read its answer later than this one read the SYN.
        if self.transport == Transport::Tcp && !matches!(self.state, State::Decided(..)) {
            if let (Some(a), Some(b)) = (rec.src_ip, rec.dst_ip) {
                if let Some(link) = expect::take((a, rec.src_port), (b, rec.dst_port)) {
                    self.announced(link);
                }
            }
        }
        for p in &self.earlier {
            add_protocol(rec, p.name);
            put_text(rec, "protocols.how", &format!("{}:payload", p.name));
        }
        match &mut self.state {
            // Every row of a long session names its protocol.
            State::Decided(p, d) => {
                d.end(rec);
                add_protocol(rec, p.name);
                put_text(rec, "protocols.how", &format!("{}:{}", p.name, self.how));
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

#[cfg(test)]
mod tests {
    use super::*;
    use tyto_schema::Values;

    fn texts(rec: &SessionRecord, f: &str) -> Vec<String> {
        match rec.extra.get(f) {
            Some(Values::Text(v)) => v.clone(),
            _ => Vec::new(),
        }
    }

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
        let hello = crate::tls::tests::client_hello();
        c.stream(Direction::ToServer, &hello, &mut rec);
        c.flush(&mut rec);
        assert_eq!(rec.protocols, vec!["smtp", "tls"]);
        assert_eq!(texts(&rec, "email.smtp-hello"), vec!["me"]);
        assert!(!texts(&rec, "tls.ja3").is_empty());
    }

    /// A handoff loop (a tunnel inside a tunnel inside…) stops after a few.
    #[test]
    fn every_protocol_has_a_rejection_bit() {
        assert!(PROTOCOLS.len() <= u128::BITS as usize, "widen `Classifier::rejected`");
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
