//! How a TCP connection opened and behaved, timed at the sensor: the handshake's
//! round trips split at the sensor, the first payload byte each way, windows that
//! closed or filled, resets by side. Fed every segment of a session beside
//! reassembly; what it found goes into the row's [`TcpHealth`].
//!
//! Timings follow Wireshark's: the handshake is timed from the client's most recent
//! SYN (a retransmitted SYN restarts it), so `rtt.server + rtt.client` equals
//! `tcp.analysis.initial_rtt`; "window full" is Wireshark's `tcp.analysis.window_full`
//! (a segment that reaches the right edge of the window the receiver advertised),
//! which needs the window scaling both SYNs agreed on.

use tyto_packet::tcpflag;
use tyto_schema::time::span_micros;
use tyto_schema::{Handshake, SequenceChecks, TcpHealth};

use crate::key::Direction;

/// TCP's largest window shift (RFC 7323).
const MAX_WINDOW_SHIFT: u8 = 14;

/// One TCP segment, as the tracker reads it.
#[derive(Clone, Copy, Debug, Default)]
pub struct Segment<'a> {
    pub ts_ns: i64,
    pub seq: u32,
    pub ack: u32,
    pub flags: u16,
    /// The window field as sent (unscaled).
    pub window: u16,
    pub payload_len: u32,
    /// The TCP options (read on SYNs only, for the window scale).
    pub options: &'a [u8],
}

/// What one side last advertised: the byte it expects next and its window (raw).
#[derive(Clone, Copy, Default)]
struct Advertised {
    ack: u32,
    window: u16,
}

/// The state kept per TCP session.
#[derive(Default)]
pub struct HealthTracker {
    /// The client's most recent SYN.
    syn_ns: Option<i64>,
    /// The server's first answer (SYN-ACK or reset) to that SYN, and whether it was
    /// a SYN-ACK.
    answer_ns: Option<i64>,
    answer_accepts: bool,
    /// A SYN-ACK was seen.
    answered: bool,
    complete: bool,
    server_refused: bool,
    /// Per direction ([`Direction::index`]): the SYN was seen, with its window shift
    /// option when it carried one.
    syn_seen: [bool; 2],
    shift_offered: [Option<u8>; 2],
    /// Per direction: what it last advertised (from segments with ACK and no SYN).
    advertised: [Option<Advertised>; 2],
    first_data_seen: [bool; 2],
    /// The opening's sequence numbers, as far as seen.
    checks: Option<SequenceChecks>,
    /// The client's latest SYN's sequence number.
    last_syn_seq: Option<u32>,
    /// The server's first SYN-ACK: its sequence number (the server's ISN) and what
    /// it acknowledged; and the end of what the server has sent since.
    syn_ack: Option<(u32, u32)>,
    server_sent_to: u32,
    /// Whether the first SYN-ACK came before any SYN ([`HealthTracker::tcpseq_dst`]).
    syn_ack_first: bool,
}

impl HealthTracker {
    /// Takes one segment sent in `dir`; `start_ns` is the session's first packet.
    pub fn segment(&mut self, dir: Direction, s: &Segment<'_>, start_ns: i64, out: &mut TcpHealth) {
        let d = dir.index();
        let syn = s.flags & tcpflag::SYN != 0;
        let ack = s.flags & tcpflag::ACK != 0;
        let rst = s.flags & tcpflag::RST != 0;
        let fin = s.flags & tcpflag::FIN != 0;
        let from_client = dir == Direction::ToServer;
        if rst {
            *if from_client { &mut out.rst_src } else { &mut out.rst_dst } += 1;
            if !from_client && !self.complete && self.syn_ns.is_some() && !self.answered {
                self.server_refused = true;
            }
        }
        if syn {
            self.syn_seen[d] = true;
            if let Some(shift) = window_shift(s.options) {
                self.shift_offered[d] = Some(shift);
            }
        }
        if !self.complete {
            self.handshake(from_client, syn, ack, s, out);
        }
        if syn || self.checks.is_some_and(|c| !c.syn_ack_validated) {
            self.check_sequences(from_client, syn, ack, s);
        }
        if s.window == 0 && !(syn || fin || rst) {
            *if from_client { &mut out.zero_window_src } else { &mut out.zero_window_dst } += 1;
        }
        if s.payload_len > 0 && !(syn || fin || rst) && self.fills_window(d, s) {
            *if from_client { &mut out.window_full_src } else { &mut out.window_full_dst } += 1;
        }
        if ack && !syn {
            self.advertised[d] = Some(Advertised { ack: s.ack, window: s.window });
        }
        // Time to the first payload byte means something only from a seen opening.
        if s.payload_len > 0 && !syn && !rst && !self.first_data_seen[d] && self.syn_seen[0] {
            self.first_data_seen[d] = true;
            let us = Some(span_micros(s.ts_ns.saturating_sub(start_ns)));
            *if from_client { &mut out.first_data_src_us } else { &mut out.first_data_dst_us } = us;
        }
    }

    fn handshake(&mut self, from_client: bool, syn: bool, ack: bool, s: &Segment<'_>, out: &mut TcpHealth) {
        let rst = s.flags & tcpflag::RST != 0;
        match (from_client, syn, ack) {
            // A SYN sent again restarts the clock: the client did not get the
            // answer to the last one (or it was refused), so the exchange that opens
            // the connection is this SYN's.
            (true, true, false) => {
                self.syn_ns = Some(s.ts_ns);
                self.answer_ns = None;
            }
            // The first answer (a SYN-ACK, or a reset refusing the SYN) times the
            // server's side: the first refusal of a SYN tried again and again, or the
            // SYN-ACK of the try that was accepted.
            (false, true, true) | (false, false, _) if syn || rst => {
                if let (Some(syn_ns), None) = (self.syn_ns, self.answer_ns) {
                    self.answer_ns = Some(s.ts_ns);
                    self.answer_accepts = syn;
                    if syn || out.rtt_server_us.is_none() {
                        out.rtt_server_us = Some(span_micros(s.ts_ns - syn_ns));
                    }
                }
                self.answered |= syn;
            }
            // The client's first ACK after its SYN completes the opening (its SYN-ACK
            // may have gone another way, unseen). The client's side is timed from the
            // SYN-ACK; both sides are rounded from the SYN so they add up exactly to
            // the ACK's time from the SYN (Wireshark's initial RTT).
            (true, false, true) if !rst && self.syn_ns.is_some() => {
                self.complete = true;
                if let (Some(syn_ns), Some(_), true, Some(server)) =
                    (self.syn_ns, self.answer_ns, self.answer_accepts, out.rtt_server_us)
                {
                    out.rtt_client_us = Some((span_micros(s.ts_ns - syn_ns) - server).max(0));
                }
            }
            _ => {}
        }
    }

    /// Arkime's checks of the opening: each SYN's initial number, whether the
    /// SYN-ACK acknowledged one seen (before or after it), whether the client then
    /// acknowledged the SYN-ACK's: an ACK going on from where the SYN-ACK said the
    /// client was, acknowledging the server's ISN and at most what the server sent.
    fn check_sequences(&mut self, from_client: bool, syn: bool, ack: bool, s: &Segment<'_>) {
        let c = self.checks.get_or_insert_with(SequenceChecks::default);
        let answers = |seq: Option<u32>, ack: u32| seq.is_some_and(|q| q.wrapping_add(1) == ack);
        match (from_client, syn, ack) {
            (true, true, false) => {
                c.syn_validated |= self.syn_ack.is_some_and(|(_, acked)| answers(Some(s.seq), acked));
                match c.isn_src {
                    None => c.isn_src = Some(s.seq),
                    Some(first) if first == s.seq => return,
                    Some(_) => {}
                }
                c.isn_count_src = c.isn_count_src.saturating_add(1);
                self.last_syn_seq = Some(s.seq);
            }
            (false, true, true) => {
                if self.syn_ack.is_none() {
                    self.syn_ack = Some((s.seq, s.ack));
                    self.server_sent_to = s.seq.wrapping_add(1);
                    self.syn_ack_first = c.isn_src.is_none();
                }
                c.syn_validated |= answers(c.isn_src, s.ack) || answers(self.last_syn_seq, s.ack);
            }
            // The end of the server's data: Arkime's check does not count a FIN's
            // sequence number (`CVE-2018-6794.pcap`: an ACK of the data and the FIN
            // together is not taken as acknowledging the SYN-ACK).
            (false, false, _) => {
                let end = s.seq.wrapping_add(s.payload_len);
                if self.syn_ack.is_some() && (end.wrapping_sub(self.server_sent_to) as i32) > 0 {
                    self.server_sent_to = end;
                }
            }
            (true, false, true) => {
                if let Some((isn, acked)) = self.syn_ack {
                    let first = isn.wrapping_add(1);
                    let within = s.ack.wrapping_sub(first) <= self.server_sent_to.wrapping_sub(first);
                    c.syn_ack_validated |= within && s.seq == acked;
                }
            }
            _ => {}
        }
    }

    /// What the opening's sequence numbers showed, for every row of the session.
    pub fn sequence_checks(&self) -> Option<SequenceChecks> {
        self.checks
    }

    /// Arkime's `tcpseq.dst`: the first SYN-ACK's sequence number when it came
    /// before any SYN (an opening captured out of order, or without its SYN), 0 when
    /// a SYN came first; none without a SYN-ACK. Read from Arkime's output on its
    /// test captures, where every opening seen in order gives 0.
    pub fn tcpseq_dst(&self) -> Option<u32> {
        self.syn_ack.map(|(isn, _)| if self.syn_ack_first { isn } else { 0 })
    }

    /// Whether the segment reaches the right edge of the window the other side last
    /// advertised (known only once both SYNs told how windows scale).
    fn fills_window(&self, d: usize, s: &Segment<'_>) -> bool {
        let o = 1 - d;
        let (true, true, Some(other)) = (self.syn_seen[0], self.syn_seen[1], self.advertised[o]) else {
            return false;
        };
        // Scaling is in force only when both sides offered it.
        let shift = match (self.shift_offered[d], self.shift_offered[o]) {
            (Some(_), Some(theirs)) => theirs.min(MAX_WINDOW_SHIFT),
            _ => 0,
        };
        let edge = other.ack.wrapping_add(u32::from(other.window) << shift);
        other.window != 0 && s.seq.wrapping_add(s.payload_len) == edge
    }

    /// The opening's outcome, for the session's first row.
    pub fn handshake_outcome(&self) -> Handshake {
        if !self.syn_seen[0] || self.syn_ns.is_none() {
            Handshake::Unseen
        } else if self.complete {
            Handshake::Ok
        } else if self.server_refused {
            Handshake::Reset
        } else {
            Handshake::Failed
        }
    }
}

/// The window scale option's shift, if the options carry one (RFC 7323: kind 3,
/// length 3). Malformed options end the walk.
fn window_shift(options: &[u8]) -> Option<u8> {
    let mut at = 0;
    while let Some(&kind) = options.get(at) {
        match kind {
            0 => return None,
            1 => at += 1,
            _ => {
                let len = *options.get(at + 1)? as usize;
                if len < 2 {
                    return None;
                }
                if kind == 3 && len == 3 {
                    return options.get(at + 2).copied();
                }
                at += len;
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const SYN: u16 = tcpflag::SYN;
    const SYN_ACK: u16 = tcpflag::SYN | tcpflag::ACK;
    const ACK: u16 = tcpflag::ACK;
    const RST: u16 = tcpflag::RST;
    const MS: i64 = 1_000_000;

    struct Run {
        t: HealthTracker,
        h: TcpHealth,
    }

    impl Run {
        fn new() -> Run {
            Run { t: HealthTracker::default(), h: TcpHealth::default() }
        }
        #[allow(clippy::too_many_arguments)]
        fn seg(&mut self, dir: Direction, ts_ms: i64, flags: u16, seq: u32, ack: u32, window: u16, len: u32) {
            let s = Segment { ts_ns: ts_ms * MS, seq, ack, flags, window, payload_len: len, options: &[] };
            self.t.segment(dir, &s, 0, &mut self.h);
        }
        fn syn_with_shift(&mut self, dir: Direction, ts_ms: i64, flags: u16, seq: u32, ack: u32, shift: u8) {
            let options = [2, 4, 5, 0xb4, 1, 3, 3, shift];
            let s = Segment { ts_ns: ts_ms * MS, seq, ack, flags, window: 65535, payload_len: 0, options: &options };
            self.t.segment(dir, &s, 0, &mut self.h);
        }
    }

    use Direction::{ToClient as S2C, ToServer as C2S};

    #[test]
    fn the_openings_sequence_numbers_are_checked_as_arkime_checks_them() {
        let checks = |r: &Run| r.t.sequence_checks().unwrap();
        // A whole opening: each side's initial number acknowledged.
        let mut r = Run::new();
        r.seg(C2S, 0, SYN, 1000, 0, 64240, 0);
        r.seg(S2C, 1, SYN_ACK, 5000, 1001, 64240, 0);
        r.seg(C2S, 2, ACK, 1001, 5001, 64240, 0);
        let c = checks(&r);
        assert_eq!((c.isn_src, c.isn_count_src, c.syn_validated, c.syn_ack_validated), (Some(1000), 1, true, true));
        assert_eq!(r.t.tcpseq_dst(), Some(0), "the SYN came first");
        // A SYN-ACK acknowledging a number no SYN of the session carried, and an
        // ACK that does not acknowledge the SYN-ACK.
        let mut r = Run::new();
        r.seg(C2S, 0, SYN, 1000, 0, 64240, 0);
        r.seg(S2C, 1, SYN_ACK, 5000, 77, 64240, 0);
        r.seg(C2S, 2, ACK, 1001, 9999, 64240, 0);
        let c = checks(&r);
        assert_eq!((c.syn_validated, c.syn_ack_validated), (false, false));
        // Three attempts with new numbers, the first sent twice: three ISNs; the
        // answer to the last one validates it.
        let mut r = Run::new();
        for (t, isn) in [(0, 1000), (1000, 1000), (2000, 2000), (3000, 3000)] {
            r.seg(C2S, t, SYN, isn, 0, 64240, 0);
        }
        r.seg(S2C, 3001, SYN_ACK, 8000, 3001, 64240, 0);
        let c = checks(&r);
        assert_eq!((c.isn_src, c.isn_count_src, c.syn_validated, c.syn_ack_validated), (Some(1000), 3, true, false));
        // The SYN-ACK alone (its SYN not captured), acknowledged by the client.
        let mut r = Run::new();
        r.seg(S2C, 0, SYN_ACK, 8000, 3001, 64240, 0);
        r.seg(C2S, 1, ACK, 3001, 8001, 64240, 0);
        let c = checks(&r);
        assert_eq!((c.isn_src, c.isn_count_src, c.syn_validated, c.syn_ack_validated), (None, 0, false, true));
        assert_eq!(r.t.tcpseq_dst(), Some(8000), "the SYN-ACK came first");
        // The client's ACK must go on from where the SYN-ACK said it was, and may
        // acknowledge the server's data too, but no byte the server never sent.
        let mut r = Run::new();
        r.seg(C2S, 0, SYN, 1000, 0, 64240, 0);
        r.seg(S2C, 1, SYN_ACK, 5000, 1001, 64240, 0);
        r.seg(C2S, 2, ACK, 555_555, 5001, 64240, 0);
        assert!(!checks(&r).syn_ack_validated);
        let mut r = Run::new();
        r.seg(C2S, 0, SYN, 1000, 0, 64240, 0);
        r.seg(S2C, 1, SYN_ACK, 5000, 1001, 64240, 0);
        r.seg(C2S, 2, ACK, 1001, 5100, 64240, 0);
        assert!(!checks(&r).syn_ack_validated, "acknowledges bytes not sent");
        r.seg(S2C, 3, ACK, 5001, 1001, 64240, 21);
        r.seg(C2S, 4, ACK, 1001, 5022, 64240, 0);
        assert!(checks(&r).syn_ack_validated);
        // An ACK of the server's data and its FIN together: not taken, as Arkime
        // does not take it.
        let mut r = Run::new();
        r.seg(C2S, 0, SYN, 1000, 0, 64240, 0);
        r.seg(S2C, 1, SYN_ACK, 5000, 1001, 64240, 0);
        r.seg(S2C, 2, ACK | tcpflag::FIN, 5001, 1001, 64240, 10);
        r.seg(C2S, 3, ACK, 1001, 5012, 64240, 0);
        assert!(!checks(&r).syn_ack_validated);
        // The SYN-ACK before its SYN (captured out of order) still validates it.
        let mut r = Run::new();
        r.seg(S2C, 0, SYN_ACK, 21000, 20001, 64240, 0);
        r.seg(C2S, 1, SYN, 20000, 0, 64240, 0);
        assert!(checks(&r).syn_validated);
        // A server ISN of 2^32 - 1: its successor is 0.
        let mut r = Run::new();
        r.seg(C2S, 0, SYN, 40000, 0, 64240, 0);
        r.seg(S2C, 1, SYN_ACK, u32::MAX, 40001, 64240, 0);
        r.seg(C2S, 2, ACK, 40001, 0, 64240, 0);
        assert!(checks(&r).syn_ack_validated);
        // Picked up mid-stream: nothing to check.
        let mut r = Run::new();
        r.seg(C2S, 0, ACK, 3001, 8001, 64240, 10);
        assert_eq!(r.t.sequence_checks(), None);
    }

    #[test]
    fn a_handshake_is_timed_on_each_side_of_the_sensor() {
        let mut r = Run::new();
        r.seg(C2S, 0, SYN, 100, 0, 64240, 0);
        r.seg(S2C, 30, SYN_ACK, 5000, 101, 65160, 0);
        r.seg(C2S, 32, ACK, 101, 5001, 502, 0);
        r.seg(C2S, 33, ACK | tcpflag::PSH, 101, 5001, 502, 80);
        r.seg(S2C, 70, ACK, 5001, 181, 508, 1200);
        assert_eq!(r.h.rtt_server_us, Some(30_000));
        assert_eq!(r.h.rtt_client_us, Some(2_000));
        assert_eq!(r.h.first_data_src_us, Some(33_000));
        assert_eq!(r.h.first_data_dst_us, Some(70_000));
        assert_eq!(r.t.handshake_outcome(), Handshake::Ok);
    }

    #[test]
    fn a_retransmitted_syn_restarts_the_clock() {
        let mut r = Run::new();
        r.seg(C2S, 0, SYN, 100, 0, 64240, 0);
        r.seg(C2S, 1000, SYN, 100, 0, 64240, 0);
        r.seg(S2C, 1010, SYN_ACK, 5000, 101, 65160, 0);
        r.seg(S2C, 2010, SYN_ACK, 5000, 101, 65160, 0);
        r.seg(C2S, 2011, ACK, 101, 5001, 502, 0);
        assert_eq!(r.h.rtt_server_us, Some(10_000), "the first answer to the latest SYN");
        assert_eq!(r.h.rtt_client_us, Some(1_001_000), "from that answer to the ACK");
    }

    #[test]
    fn refused_unanswered_and_unseen_openings() {
        let mut refused = Run::new();
        refused.seg(C2S, 0, SYN, 100, 0, 64240, 0);
        refused.seg(S2C, 1, RST | ACK, 0, 101, 0, 0);
        assert_eq!(refused.t.handshake_outcome(), Handshake::Reset);
        assert_eq!((refused.h.rst_src, refused.h.rst_dst), (0, 1));
        assert_eq!(refused.h.zero_window_dst, 0, "a reset's zero window is no event");
        assert_eq!(refused.h.rtt_server_us, Some(1000), "the refusal times the server");
        assert_eq!(refused.h.rtt_client_us, None);

        let mut unanswered = Run::new();
        unanswered.seg(C2S, 0, SYN, 100, 0, 64240, 0);
        unanswered.seg(C2S, 1000, SYN, 100, 0, 64240, 0);
        assert_eq!(unanswered.t.handshake_outcome(), Handshake::Failed);

        // Answered, never acknowledged, then reset by the client (a half-open scan).
        let mut half_open = Run::new();
        half_open.seg(C2S, 0, SYN, 100, 0, 1024, 0);
        half_open.seg(S2C, 1, SYN_ACK, 5000, 101, 65160, 0);
        half_open.seg(C2S, 2, RST, 101, 0, 0, 0);
        assert_eq!(half_open.t.handshake_outcome(), Handshake::Failed);
        assert_eq!(half_open.h.rtt_server_us, Some(1000));
        assert_eq!((half_open.h.rst_src, half_open.h.rst_dst), (1, 0));

        let mut midstream = Run::new();
        midstream.seg(C2S, 0, ACK, 101, 5001, 502, 100);
        midstream.seg(S2C, 1, ACK, 5001, 201, 502, 100);
        assert_eq!(midstream.t.handshake_outcome(), Handshake::Unseen);
        assert_eq!(midstream.h.first_data_src_us, None, "no opening, no time to first data");
    }

    #[test]
    fn the_exchange_that_opened_the_connection_is_the_one_timed() {
        // Answers the client did not get: it sent the SYN again, each time answered.
        let mut r = Run::new();
        r.seg(C2S, 0, SYN, 100, 0, 64240, 0);
        r.seg(S2C, 4, SYN_ACK, 5000, 101, 65160, 0);
        r.seg(C2S, 1009, SYN, 100, 0, 64240, 0);
        r.seg(S2C, 1017, SYN_ACK, 5000, 101, 65160, 0);
        r.seg(C2S, 1018, ACK, 101, 5001, 502, 0);
        assert_eq!((r.h.rtt_server_us, r.h.rtt_client_us), (Some(8_000), Some(1_000)));
        // A SYN sent again and acknowledged before its answer is seen: no split, the
        // earlier exchange's server figure stands.
        let mut r = Run::new();
        r.seg(C2S, 0, SYN, 100, 0, 64240, 0);
        r.seg(S2C, 865, SYN_ACK, 5000, 101, 65160, 0);
        r.seg(C2S, 997, SYN, 100, 0, 64240, 0);
        r.seg(C2S, 1000, ACK, 101, 5001, 502, 0);
        assert_eq!(r.t.handshake_outcome(), Handshake::Ok);
        assert_eq!((r.h.rtt_server_us, r.h.rtt_client_us), (Some(865_000), None));
        // Refused, and tried again: the first refusal is timed.
        let mut r = Run::new();
        r.seg(C2S, 0, SYN, 100, 0, 64240, 0);
        r.seg(S2C, 35, RST | ACK, 0, 101, 0, 0);
        r.seg(C2S, 500, SYN, 100, 0, 64240, 0);
        r.seg(S2C, 538, RST | ACK, 0, 101, 0, 0);
        assert_eq!(r.h.rtt_server_us, Some(35_000));
        assert_eq!(r.t.handshake_outcome(), Handshake::Reset);
        // Refused, tried again on the same ports and accepted: the accepted try.
        r.seg(C2S, 1000, SYN, 100, 0, 64240, 0);
        r.seg(S2C, 1002, SYN_ACK, 5000, 101, 65160, 0);
        r.seg(C2S, 1003, ACK, 101, 5001, 502, 0);
        assert_eq!(r.t.handshake_outcome(), Handshake::Ok);
        assert_eq!((r.h.rtt_server_us, r.h.rtt_client_us), (Some(2_000), Some(1_000)));
    }

    #[test]
    fn an_answer_that_went_another_way_still_opens() {
        // Asymmetric routing: the SYN-ACK is not seen, the client's ACK is.
        let mut r = Run::new();
        r.seg(C2S, 0, SYN, 100, 0, 64240, 0);
        r.seg(C2S, 104, ACK, 101, 5001, 502, 0);
        assert_eq!(r.t.handshake_outcome(), Handshake::Ok);
        assert_eq!((r.h.rtt_server_us, r.h.rtt_client_us), (None, None), "no split without the answer");
    }

    #[test]
    fn times_are_rounded_to_the_microsecond_and_add_up() {
        let mut r = Run::new();
        let at = |ns: i64, flags: u16, dir: Direction, r: &mut Run| {
            let s = Segment { ts_ns: ns, flags, window: 1000, ack: 5001, ..Segment::default() };
            r.t.segment(dir, &s, 0, &mut r.h);
        };
        at(0, SYN, C2S, &mut r);
        at(1_400, SYN_ACK, S2C, &mut r);
        at(2_800, ACK, C2S, &mut r);
        assert_eq!(r.h.rtt_server_us, Some(1));
        assert_eq!(r.h.rtt_client_us, Some(2), "3 µs from the SYN, less the server's 1");
    }

    #[test]
    fn zero_windows_and_full_windows_are_counted_by_sender() {
        let mut r = Run::new();
        r.syn_with_shift(C2S, 0, SYN, 100, 0, 7);
        r.syn_with_shift(S2C, 1, SYN_ACK, 5000, 101, 2);
        // The client advertises 100 << 7 = 12800 bytes from 5001.
        r.seg(C2S, 2, ACK, 101, 5001, 100, 0);
        r.seg(S2C, 3, ACK, 5001, 101, 1000, 6400);
        assert_eq!(r.h.window_full_dst, 0);
        r.seg(S2C, 4, ACK, 11401, 101, 1000, 6400);
        assert_eq!(r.h.window_full_dst, 1, "5001 + 12800 reached");
        r.seg(C2S, 5, ACK, 101, 17801, 0, 0);
        r.seg(C2S, 6, ACK, 101, 17801, 0, 0);
        assert_eq!(r.h.zero_window_src, 2);
        r.seg(S2C, 7, ACK, 17801, 101, 1000, 1);
        assert_eq!(r.h.window_full_dst, 1, "a zero window has no edge to fill");
        assert_eq!(r.h.window_full_src, 0);
    }

    #[test]
    fn window_scaling_counts_only_when_both_sides_offer_it() {
        let mut r = Run::new();
        r.syn_with_shift(C2S, 0, SYN, 100, 0, 7);
        r.seg(S2C, 1, SYN_ACK, 5000, 101, 65160, 0);
        r.seg(C2S, 2, ACK, 101, 5001, 100, 0);
        // Unscaled: the edge is 5001 + 100.
        r.seg(S2C, 3, ACK, 5001, 101, 1000, 100);
        assert_eq!(r.h.window_full_dst, 1);
    }

    #[test]
    fn options_are_walked_safely() {
        assert_eq!(window_shift(&[1, 1, 3, 3, 8]), Some(8));
        assert_eq!(window_shift(&[2, 4, 5, 0xb4, 4, 2, 3, 3, 7]), Some(7));
        assert_eq!(window_shift(&[2, 0, 3, 3, 7]), None, "a zero length ends the walk");
        assert_eq!(window_shift(&[2, 200]), None);
        assert_eq!(window_shift(&[3, 3]), None);
        assert_eq!(window_shift(&[]), None);
        assert_eq!(window_shift(&[0, 3, 3, 7]), None, "end of options");
    }
}
