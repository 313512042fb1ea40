//! Tabular Data Stream (Microsoft SQL Server, Sybase): the user of a TDS 7 login or
//! of a TDS 4.2/5.0 login record, and NTLMSSP inside logins and SSPI messages; then
//! each request — an SQL batch (its text, normalised) or an RPC (its procedure's
//! name) — with its answer: response time (to the answer's first packet, as MySQL's)
//! and the errors the answer begins with. Logins after an encrypting pre-login are
//! inside TLS and not seen.

use tyto_schema::SessionRecord;

use crate::kit::messages::{Length, Streams};
use crate::kit::{ntlm, put_text, utf16le};
use crate::{Dissector, Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "tds",
    transports: &[Transport::Tcp],
    ports: &[1433],
    probe,
    new: || Box::<Tds>::default(),
    later: Some(later_packets),
};

const SQL_BATCH: u8 = 0x01;
const LOGIN_LEGACY: u8 = 0x02;
const RPC: u8 = 0x03;
const LOGIN7: u8 = 0x10;
const SSPI: u8 = 0x11;
const PRELOGIN: u8 = 0x12;
const TABULAR_RESULT: u8 = 0x04;
const ATTENTION: u8 = 0x06;
const BULK_LOAD: u8 = 0x07;
const TRANSACTION_MANAGER: u8 = 0x0e;
const MAX_PACKET: usize = 32 << 10;
/// Packets read before the first request, at most (the login's exchange).
const MAX_PACKETS: u32 = 16;
/// Bytes of a message kept to read its text or its first tokens.
const MAX_KEPT: usize = 16 << 10;
/// Requests waiting for an answer at most (TDS answers one at a time; MARS
/// interleaves a few).
const MAX_PENDING: usize = 16;
/// RPCs named by number (`ProcIDSwitch`), MS-TDS 2.2.6.6.
const PROC_IDS: [&str; 15] = [
    "",
    "sp_cursor",
    "sp_cursoropen",
    "sp_cursorprepare",
    "sp_cursorexecute",
    "sp_cursorprepexec",
    "sp_cursorunprepare",
    "sp_cursorfetch",
    "sp_cursoroption",
    "sp_cursorclose",
    "sp_executesql",
    "sp_prepare",
    "sp_execute",
    "sp_prepexec",
    "sp_prepexecrpc",
];

/// The 8-byte packet header: type, status, length (header included), channel,
/// packet number, window.
fn packet(b: &[u8]) -> Length {
    match b.get(..8) {
        None => Length::NeedMore,
        Some(h) if h[1] & !0x1f == 0 && h[7] == 0 => match usize::from(u16::from_be_bytes([h[2], h[3]])) {
            n if n >= 8 => Length::Is(n),
            _ => Length::Bad,
        },
        Some(_) => Length::Bad,
    }
}

/// Packets after the login, from either side: SQL batches, RPCs, attentions, bulk
/// loads, transaction requests and tabular results, whole to the byte, numbered one
/// after another on each side (two packets at least, or one of over 64 bytes).
fn later_packets(_side: Side, data: &[u8]) -> Probe {
    let mut at = 0usize;
    let mut last_number: Option<u8> = None;
    let mut packets = 0;
    while at < data.len() {
        let len = match packet(&data[at..]) {
            Length::NeedMore => return Probe::NeedMore,
            Length::Bad => return Probe::NoMatch,
            Length::Is(n) => n,
        };
        let h = &data[at..at + 8];
        let number = h[6];
        let kind_ok = matches!(h[0], SQL_BATCH | RPC | TABULAR_RESULT | ATTENTION | BULK_LOAD | TRANSACTION_MANAGER);
        // Each message's packets count up from 1; a new message may start again.
        let numbered = number == 1 || last_number.is_some_and(|n| number == n.wrapping_add(1));
        if !kind_ok || !numbered || len > MAX_PACKET {
            return Probe::NoMatch;
        }
        last_number = Some(number);
        packets += 1;
        at += len;
    }
    if at > data.len() {
        Probe::NeedMore
    } else if packets >= 2 || at > 64 {
        Probe::Match
    } else {
        Probe::NeedMore
    }
}

pub fn probe(side: Side, data: &[u8]) -> Probe {
    if side == Side::Server {
        return Probe::NeedMore;
    }
    let Some(h) = data.get(..8) else {
        return if data.first().is_none_or(|t| matches!(*t, PRELOGIN | LOGIN7 | LOGIN_LEGACY)) {
            Probe::NeedMore
        } else {
            Probe::NoMatch
        };
    };
    let len = usize::from(u16::from_be_bytes([h[2], h[3]]));
    if !matches!(packet(data), Length::Is(_)) || h[1] > 1 || !(16..=MAX_PACKET).contains(&len) {
        return Probe::NoMatch;
    }
    let Some(p) = data.get(8..len) else { return Probe::NeedMore };
    let ok = match h[0] {
        // Pre-login: option tokens (type, offset, length) up to 0xff; the first is
        // the version, its data right after the table.
        PRELOGIN => {
            let end = p.iter().step_by(5).position(|t| *t == 0xff);
            end.is_some_and(|n| n > 0 && p[0] == 0 && usize::from(u16::from_be_bytes([p[1], p[2]])) == n * 5 + 1)
        }
        // Login7: its own length first, equal to the packet's payload when whole.
        LOGIN7 => p.len() >= 94 && u32::from_le_bytes([p[0], p[1], p[2], p[3]]) as usize == p.len(),
        // The fixed legacy login record: 30-byte names each with its length byte.
        LOGIN_LEGACY => p.len() >= 62 && p[30] <= 30 && p[61] <= 30 && p[61] > 0,
        _ => false,
    };
    Probe::from(ok)
}

#[derive(Default)]
pub struct Tds {
    streams: Streams,
    packets: u32,
    /// Requests were seen: the login is behind.
    requests: bool,
    exchange: Exchange,
}

/// Requests and their answers after the login (apart from the framing, so packets
/// are handed to it as the framing finds them, without a copy).
#[derive(Default)]
struct Exchange {
    /// A request or answer being read (its packets until end-of-message): its type,
    /// first bytes and size, per side.
    message: [Option<Message>; 2],
    /// Requests sent, oldest first; the one being answered has its answer's time.
    pending: std::collections::VecDeque<(crate::kit::Asked, Option<i64>)>,
}

struct Message {
    kind: u8,
    kept: Vec<u8>,
    bytes: usize,
}

/// A message's payload after TDS 7.2's ALL_HEADERS, when it begins with them (its
/// total length, then headers each with its own length): text in UTF-16 never
/// begins with a length that fits.
fn after_all_headers(p: &[u8]) -> &[u8] {
    let u32_at = |at: usize| p.get(at..at + 4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize);
    match (u32_at(0), u32_at(4)) {
        (Some(total), Some(first)) if (10..=p.len()).contains(&total) && (6..=total - 4).contains(&first) => {
            &p[total..]
        }
        _ => p,
    }
}

/// An RPC's procedure: its name, or the name of a well-known number.
fn rpc_name(p: &[u8]) -> Option<String> {
    let p = after_all_headers(p);
    let len = usize::from(u16::from_le_bytes([*p.first()?, *p.get(1)?]));
    if len == 0xffff {
        let id = usize::from(u16::from_le_bytes([*p.get(2)?, *p.get(3)?]));
        return PROC_IDS.get(id).filter(|n| !n.is_empty()).map(|n| n.to_string());
    }
    p.get(2..2 + len * 2).map(utf16le).filter(|n| !n.is_empty())
}

/// The errors an answer begins with (ERROR tokens, after any ENVCHANGE, INFO or
/// LOGINACK): `number message`. Reading stops at the first token of another kind,
/// whose length depends on what came before.
fn answer_errors(p: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let mut at = 0;
    while let (Some(&token), Some(len)) =
        (p.get(at), p.get(at + 1..at + 3).map(|b| usize::from(u16::from_le_bytes([b[0], b[1]]))))
    {
        let Some(body) = p.get(at + 3..at + 3 + len) else { break };
        match token {
            // ERROR: number, state, class, message (US_VARCHAR in UTF-16).
            0xaa if body.len() >= 8 => {
                let number = i32::from_le_bytes([body[0], body[1], body[2], body[3]]);
                let chars = usize::from(u16::from_le_bytes([body[6], body[7]]));
                let text = body.get(8..8 + chars * 2).map(utf16le).unwrap_or_default();
                out.push(format!("{number} {text}"));
            }
            0xaa | 0xab | 0xad | 0xe3 => {}
            _ => break,
        }
        at += 3 + len;
    }
    out
}

fn login(kind: u8, p: &[u8], rec: &mut SessionRecord) {
    let user = match kind {
        LOGIN7 if p.len() >= 94 => {
            // Offset/length pairs (in UTF-16 units) after the 36-byte fixed part; the
            // user name is the second.
            let off = usize::from(u16::from_le_bytes([p[40], p[41]]));
            let len = usize::from(u16::from_le_bytes([p[42], p[43]])) * 2;
            p.get(off..off + len).map(utf16le)
        }
        LOGIN_LEGACY if p.len() >= 62 => {
            let len = usize::from(p[61]).min(30);
            Some(String::from_utf8_lossy(&p[31..31 + len]).into_owned())
        }
        _ => None,
    };
    if let Some(u) = user.filter(|u| !u.is_empty()) {
        put_text(rec, text_field!("user"), &u);
    }
}

impl Exchange {
    /// One packet of a message after the login.
    fn packet(&mut self, side: Side, p: &[u8], rec: &mut SessionRecord) {
        let (kind, end) = (p[0], p[1] & 0x01 != 0);
        let payload = &p[8..];
        let m = self.message[side as usize].get_or_insert_with(|| Message { kind, kept: Vec::new(), bytes: 0 });
        let room = MAX_KEPT.saturating_sub(m.kept.len());
        m.kept.extend_from_slice(&payload[..payload.len().min(room)]);
        m.bytes += p.len();
        // An answer is timed by its first packet.
        if side == Side::Server {
            if let Some((_, first @ None)) = self.pending.front_mut() {
                *first = Some(rec.stop_ns);
            }
        }
        if !end {
            return;
        }
        let Some(m) = self.message[side as usize].take() else { return };
        match (side, m.kind) {
            (Side::Client, SQL_BATCH | RPC) => {
                let mut asked = crate::kit::Asked::new(rec, "tds", m.bytes);
                if m.kind == SQL_BATCH {
                    let text = crate::kit::sql::normalise(&utf16le(after_all_headers(&m.kept)));
                    put_text(rec, text_field!("tds.query"), &text);
                    asked.note(text_field!("tds.query"), &text);
                } else if let Some(name) = rpc_name(&m.kept) {
                    put_text(rec, text_field!("tds.rpc"), &name);
                    asked.note(text_field!("tds.rpc"), &name);
                }
                if self.pending.len() >= MAX_PENDING {
                    if let Some((old, _)) = self.pending.pop_front() {
                        old.unanswered(rec);
                    }
                }
                self.pending.push_back((asked, None));
            }
            (Side::Server, TABULAR_RESULT) => {
                let Some((mut asked, first)) = self.pending.pop_front() else { return };
                for e in answer_errors(&m.kept) {
                    put_text(rec, text_field!("tds.error"), &e);
                    asked.note(text_field!("tds.error"), &e);
                }
                asked.answer_bytes(m.bytes);
                asked.answered_at(rec, duration_field!("tds.response-time"), first.unwrap_or(rec.stop_ns));
            }
            _ => {}
        }
    }
}

impl Dissector for Tds {
    fn feed(&mut self, side: Side, data: &[u8], rec: &mut SessionRecord) {
        let (packets, requests, exchange) = (&mut self.packets, &mut self.requests, &mut self.exchange);
        self.streams.push(side, data, MAX_PACKET, packet, |p, _cut| {
            if p.len() < 8 {
                return;
            }
            if side == Side::Client && matches!(p[0], SQL_BATCH | RPC) {
                *requests = true;
            }
            if *requests {
                exchange.packet(side, p, rec);
                return;
            }
            if *packets >= MAX_PACKETS {
                return;
            }
            *packets += 1;
            let payload = &p[8..];
            match p[0] {
                LOGIN7 | LOGIN_LEGACY if side == Side::Client => login(p[0], payload, rec),
                _ => {}
            }
            // NTLM rides in the login (SSPI data), SSPI messages, and the server's
            // answers (an SSPI token in the login response).
            if matches!(p[0], LOGIN7 | SSPI | 0x04) {
                if let Some(m) = ntlm::find(payload) {
                    ntlm::record(rec, &m);
                }
            }
        });
    }

    fn end(&mut self, rec: &mut SessionRecord) {
        crate::kit::Asked::file_waiting(self.exchange.pending.iter_mut().map(|(a, _)| a), rec);
    }

    fn gap(&mut self, side: Side, _len: u64) {
        self.streams.lose(side);
        self.exchange.message[side as usize] = None;
    }

    fn wants_more(&self) -> bool {
        !self.streams.broken()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tyto_schema::Values;

    /// A connection picked up after the login: an SQL batch and its result.
    #[test]
    fn packets_after_the_login() {
        let mut batch = tds(SQL_BATCH, &[0x41; 80]);
        assert_eq!(later_packets(Side::Client, &batch), Probe::Match);
        assert_eq!(later_packets(Side::Client, &batch[..40]), Probe::NeedMore);
        let result = tds(TABULAR_RESULT, &[0xfd, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(later_packets(Side::Server, &result), Probe::NeedMore, "short and alone");
        assert_eq!(later_packets(Side::Server, &[result.clone(), result.clone()].concat()), Probe::Match);
        // A login is the first probe's; a type TDS lacks is nothing.
        assert_eq!(later_packets(Side::Client, &tds(LOGIN7, &[0; 100])), Probe::NoMatch);
        batch[0] = 0x42;
        assert_eq!(later_packets(Side::Client, &batch), Probe::NoMatch);
    }

    fn tds(kind: u8, payload: &[u8]) -> Vec<u8> {
        let len = (payload.len() + 8) as u16;
        let mut p = vec![kind, 1];
        p.extend_from_slice(&len.to_be_bytes());
        p.extend_from_slice(&[0, 0, 1, 0]);
        p.extend_from_slice(payload);
        p
    }

    fn utf16(s: &str) -> Vec<u8> {
        s.encode_utf16().flat_map(u16::to_le_bytes).collect()
    }

    /// Requests after the login, each with its answer: an SQL batch (TDS 7.2's
    /// ALL_HEADERS first, in two packets), an RPC by number, one that failed.
    #[test]
    fn batches_rpcs_errors_and_response_times() {
        let mut headers = 22u32.to_le_bytes().to_vec();
        headers.extend_from_slice(&18u32.to_le_bytes());
        headers.extend_from_slice(&[2, 0]);
        headers.extend_from_slice(&[0; 12]);
        let batch = [headers.clone(), utf16("SELECT name FROM sys.tables WHERE id = 42")].concat();
        let (first, second) = batch.split_at(30);
        let mut part = tds(SQL_BATCH, first);
        part[1] = 0; // not the end of the message
        let rpc = [headers, 0xffffu16.to_le_bytes().to_vec(), 10u16.to_le_bytes().to_vec(), vec![0, 0]].concat();
        let bad = utf16("SELECT * FROM nowhere");
        let mut error = vec![0xaa];
        let text = utf16("Invalid object name 'nowhere'.");
        let body =
            [208i32.to_le_bytes().to_vec(), vec![1, 16], (text.len() as u16 / 2).to_le_bytes().to_vec(), text].concat();
        error.extend_from_slice(&(body.len() as u16).to_le_bytes());
        error.extend_from_slice(&body);
        error.extend_from_slice(&[0xfd, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        let done = [0xfd, 0, 0, 0xc1, 0, 1, 0, 0, 0, 0, 0, 0, 0];
        let exchange: Vec<(i64, Side, Vec<u8>)> = vec![
            (0, Side::Client, part),
            (1, Side::Client, tds(SQL_BATCH, second)),
            (4, Side::Server, tds(TABULAR_RESULT, &done)),
            (10, Side::Client, tds(RPC, &rpc)),
            (12, Side::Server, tds(TABULAR_RESULT, &done)),
            (20, Side::Client, tds(SQL_BATCH, &bad)),
            (27, Side::Server, tds(TABULAR_RESULT, &error)),
            (30, Side::Client, tds(SQL_BATCH, &utf16("WAITFOR DELAY '00:01'"))),
        ];
        let mut t = Tds::default();
        let mut rec = SessionRecord { transactions: Some(Default::default()), ..SessionRecord::default() };
        for (ms, side, bytes) in &exchange {
            rec.stop_ns = ms * 1_000_000;
            for c in bytes.chunks(7) {
                t.feed(*side, c, &mut rec);
            }
        }
        t.end(&mut rec);
        let text = |f: &str| match rec.extra.get(f) {
            Some(Values::Text(v)) => v.clone(),
            _ => Vec::new(),
        };
        assert_eq!(
            text("tds.query"),
            ["SELECT name FROM sys.tables WHERE id = ?", "SELECT * FROM nowhere", "WAITFOR DELAY ?"]
        );
        assert_eq!(text("tds.rpc"), ["sp_executesql"]);
        assert_eq!(text("tds.error"), ["208 Invalid object name 'nowhere'."]);
        assert_eq!(rec.extra.get("tds.response-time"), Some(&Values::Int(vec![3_000, 2_000, 7_000])));
        let list = &rec.transactions.as_ref().unwrap().list;
        let got: Vec<(Option<i64>, Option<bool>)> = list.iter().map(|t| (t.response_us, t.failed())).collect();
        assert_eq!(
            got,
            [(Some(3_000), Some(false)), (Some(2_000), Some(false)), (Some(7_000), Some(true)), (None, None)],
            "the last one never answered"
        );
        assert_eq!(list[0].request_bytes as usize, exchange[0].2.len() + exchange[1].2.len());
        // A request without an answer, many times: bounded.
        let mut t = Tds::default();
        let mut rec = SessionRecord::default();
        for _ in 0..1000 {
            t.feed(Side::Client, &tds(SQL_BATCH, &utf16("SELECT 1")), &mut rec);
        }
        assert!(t.exchange.pending.len() <= MAX_PENDING);
    }

    #[test]
    fn prelogin_then_login7_user_and_ntlm() {
        let prelogin = tds(PRELOGIN, &[0, 0, 11, 0, 6, 1, 0, 17, 0, 1, 0xff, 16, 0, 0, 0, 0, 0, 0]);
        assert_eq!(probe(Side::Client, &prelogin), Probe::Match);
        assert_eq!(probe(Side::Client, &prelogin[..4]), Probe::NeedMore);
        assert_eq!(probe(Side::Client, b"\x16\x03\x01\x00\x10\x01\x00\x0c\x03\x03abcdefgh"), Probe::NoMatch);
        let user: Vec<u8> = "testuser".encode_utf16().flat_map(u16::to_le_bytes).collect();
        let sspi = ntlm::tests::authenticate("TDSDOM", "mona", "H");
        let mut login = vec![0u8; 94];
        login[40..42].copy_from_slice(&94u16.to_le_bytes());
        login[42..44].copy_from_slice(&8u16.to_le_bytes());
        login.extend_from_slice(&user);
        login.extend_from_slice(&sspi);
        let n = login.len() as u32;
        login[..4].copy_from_slice(&n.to_le_bytes());
        let login = tds(LOGIN7, &login);
        assert_eq!(probe(Side::Client, &login), Probe::Match);
        let mut rec = SessionRecord::default();
        let mut t = Tds::default();
        t.feed(Side::Client, &prelogin, &mut rec);
        for c in login.chunks(10) {
            t.feed(Side::Client, c, &mut rec);
        }
        assert_eq!(rec.extra.get("user"), Some(&Values::Text(vec!["testuser".into(), "mona".into()])));
    }
}
