//! MySQL / MariaDB client protocol: the server's version from its greeting, the user
//! from the login packet, and the SSL request after which the connection is TLS; then
//! each command (the query text of COM_QUERY and COM_STMT_PREPARE, normalised), the
//! time to the first packet of its answer (as Packetbeat times it) and the error that
//! answer is.

use tyto_schema::SessionRecord;

use crate::kit::messages::{Framed, HandOn};
use crate::kit::upgrade::Upgrade;
use crate::kit::{add_int_to_transaction, put_int, put_text};
use crate::{Dissector, Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "mysql",
    transports: &[Transport::Tcp],
    ports: &[3306],
    probe,
    new: || Box::new(Mysql::default()),
    later: Some(later_packets),
};

/// `CLIENT_SSL` in the capability flags.
const CLIENT_SSL: u32 = 0x0800;
/// `CLIENT_PROTOCOL_41`: the login packet layout below.
const CLIENT_PROTOCOL_41: u32 = 0x0200;
/// A greeting or login packet is far shorter (plugins, attributes included).
const MAX_PACKET: usize = 4096;

/// One packet: 3-byte little-endian length, sequence number, payload.
fn packet(data: &[u8]) -> Option<(u8, &[u8], usize)> {
    let h = data.get(..4)?;
    let len = u32::from_le_bytes([h[0], h[1], h[2], 0]) as usize;
    let payload = data.get(4..4 + len)?;
    Some((h[3], payload, 4 + len))
}

/// Commands and their answers after the login, from either side: whole packets to
/// the byte whose sequence numbers count up by one from a command's 0 (two packets
/// at least), or one query (sequence 0, COM_QUERY or COM_INIT_DB) of readable text.
fn later_packets(_side: Side, data: &[u8]) -> Probe {
    let mut at = 0usize;
    let mut last: Option<u8> = None;
    let mut packets = 0;
    let mut command = false;
    while at < data.len() {
        let Some(h) = data.get(at..at + 4) else { return Probe::NeedMore };
        let len = u32::from_le_bytes([h[0], h[1], h[2], 0]) as usize;
        let seq = h[3];
        let follows = match last {
            Some(l) => seq == l.wrapping_add(1) || seq == 0,
            None => true,
        };
        if len == 0 || !follows {
            return Probe::NoMatch;
        }
        if seq == 0 {
            // COM_QUIT, COM_INIT_DB, COM_QUERY, COM_PING, COM_STMT_PREPARE,
            // COM_STMT_EXECUTE, COM_STMT_CLOSE, COM_STMT_RESET.
            let Some(&c) = data.get(at + 4) else { return Probe::NeedMore };
            if !matches!(c, 0x01 | 0x02 | 0x03 | 0x0e | 0x16 | 0x17 | 0x19 | 0x1a) {
                return Probe::NoMatch;
            }
            // Alone, only a query (or a database name) of readable text is enough.
            let text = data.get(at + 5..at + 4 + len).unwrap_or(&[]);
            command |= matches!(c, 0x02 | 0x03)
                && len >= 8
                && text.iter().all(|b| *b >= 0x20 || matches!(b, b'\t' | b'\r' | b'\n'));
        }
        last = Some(seq);
        packets += 1;
        at += 4 + len;
    }
    if at > data.len() {
        Probe::NeedMore
    } else if packets >= 2 || command {
        Probe::Match
    } else {
        Probe::NeedMore
    }
}

/// Greeting: protocol 10, then the version as a NUL-terminated string of digits,
/// dots and letters.
fn greeting_version(payload: &[u8]) -> Option<&[u8]> {
    if payload.first() != Some(&10) {
        return None;
    }
    let rest = &payload[1..];
    let nul = rest.iter().position(|b| *b == 0)?;
    let v = &rest[..nul];
    let ok = v.first().is_some_and(u8::is_ascii_digit) && v.iter().all(|b| (0x20..0x7f).contains(b));
    ok.then_some(v)
}

pub fn probe(side: Side, data: &[u8]) -> Probe {
    if side == Side::Client {
        return Probe::NoMatch;
    }
    let Some(h) = data.get(..4) else { return Probe::NeedMore };
    let len = u32::from_le_bytes([h[0], h[1], h[2], 0]) as usize;
    if h[3] != 0 || !(10..MAX_PACKET).contains(&len) {
        return Probe::NoMatch;
    }
    match packet(data) {
        None => Probe::NeedMore,
        Some((_, payload, _)) if greeting_version(payload).is_some() => Probe::Match,
        Some(_) => Probe::NoMatch,
    }
}

/// Bytes kept of a packet's payload: a query's text, an error's message; the rest
/// passes without being held.
const MAX_KEPT: usize = 4096;
/// Commands waiting for an answer at most.
const MAX_PENDING: usize = 64;

#[derive(Default)]
pub struct Mysql {
    framers: [Framed; 2],
    /// The login is behind (or was never seen).
    logged_in: [bool; 2],
    upgrade: Upgrade,
    lost: bool,
    /// Commands sent (their command byte), waiting for the first packet of their answer.
    pending: std::collections::VecDeque<(u8, crate::kit::Asked)>,
    /// Where the answer being read is, after its first packet.
    answer: Answer,
    /// The client's login asked for OK packets instead of EOF ones
    /// (`CLIENT_DEPRECATE_EOF`); unknown when the login was not seen.
    deprecate_eof: Option<bool>,
}

/// A result set being read: its rows are counted up to its last packet.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
enum Answer {
    #[default]
    Other,
    /// Column definitions still to come; the transaction filed for the command.
    Columns { left: u64, index: Option<usize> },
    /// Rows so far, and whether the EOF packet ending the columns was read.
    Rows { rows: i64, columns_ended: bool, index: Option<usize> },
}

/// `CLIENT_DEPRECATE_EOF` in the capability flags.
const CLIENT_DEPRECATE_EOF: u32 = 1 << 24;

/// A length-encoded integer at the start of `b`.
fn lenenc(b: &[u8]) -> Option<u64> {
    match *b.first()? {
        n @ 0..=0xfa => Some(u64::from(n)),
        0xfc => Some(u64::from(u16::from_le_bytes(b.get(1..3)?.try_into().ok()?))),
        0xfd => Some(u64::from(u32::from_le_bytes([*b.get(1)?, *b.get(2)?, *b.get(3)?, 0]))),
        0xfe => Some(u64::from_le_bytes(b.get(1..9)?.try_into().ok()?)),
        _ => None,
    }
}

/// Rows a command's answer counted: on the session, and on its transaction.
fn rows_counted(rec: &mut SessionRecord, index: Option<usize>, rows: i64) {
    put_int(rec, int_field!("mysql.rows"), rows);
    if let Some(i) = index {
        add_int_to_transaction(rec, i, int_field!("mysql.rows"), rows);
    }
}

impl Mysql {
    /// `end`: where in the bytes just fed the packet ended (the TLS handoff's place).
    fn client_packet(&mut self, seq: u8, payload: &[u8], end: usize, rec: &mut SessionRecord) {
        // Every command begins a new sequence; the login and its exchanges do not.
        if seq == 0 {
            let Some((&command, text)) = payload.split_first() else { return };
            // A client waits for an answer's end before its next command: one not
            // seen ending is left uncounted.
            self.answer = Answer::Other;
            let mut asked = crate::kit::Asked::new(rec, "mysql", payload.len() + 4);
            if matches!(command, 0x03 | 0x16) {
                let query = crate::kit::sql::normalise(&String::from_utf8_lossy(text));
                put_text(rec, text_field!("mysql.query"), &query);
                asked.note(text_field!("mysql.query"), &query);
            }
            // Quit, closing a statement and sending its long data get no answer.
            if !matches!(command, 0x01 | 0x18 | 0x19) {
                if self.pending.len() >= MAX_PENDING {
                    if let Some((_, old)) = self.pending.pop_front() {
                        old.unanswered(rec);
                    }
                }
                self.pending.push_back((command, asked));
            }
            return;
        }
        if self.logged_in[0] || payload.len() < 32 {
            return;
        }
        // The login packet (the answer to the greeting).
        self.logged_in[0] = true;
        let caps = u32::from_le_bytes([payload[0], payload[1], payload[2], payload[3]]);
        self.deprecate_eof = Some(caps & CLIENT_DEPRECATE_EOF != 0);
        if caps & CLIENT_PROTOCOL_41 != 0 {
            if payload.len() == 32 && caps & CLIENT_SSL != 0 {
                self.upgrade.switch_at(end);
                self.lost = true;
            } else if let Some(user) = payload[32..].split(|b| *b == 0).next().filter(|u| !u.is_empty()) {
                put_text(rec, text_field!("mysql.user"), &String::from_utf8_lossy(user));
            }
        }
    }

    fn server_packet(&mut self, seq: u8, payload: &[u8], rec: &mut SessionRecord) {
        if seq == 0 && !self.logged_in[1] {
            self.logged_in[1] = true;
            if let Some(v) = greeting_version(payload) {
                put_text(rec, text_field!("mysql.ver"), &String::from_utf8_lossy(v));
            }
            return;
        }
        // The first packet of a command's answer: its time, and the error it is.
        // (Sequence numbers wrap after 255: a long result set's go round again.)
        if seq != 1 || self.answer != Answer::Other {
            self.rest_of_answer(payload, rec);
            return;
        }
        self.answer = Answer::Other;
        let Some((command, mut asked)) = self.pending.pop_front() else { return };
        asked.answer_bytes(payload.len() + 4);
        if let [0xff, c0, c1, rest @ ..] = payload {
            let code = u16::from_le_bytes([*c0, *c1]);
            let (state, message) = match rest {
                [b'#', state @ ..] if state.len() >= 5 => (&state[..5], &state[5..]),
                _ => (&[][..], rest),
            };
            let text = format!("{code} {} {}", String::from_utf8_lossy(state), String::from_utf8_lossy(message));
            let error = text.split_whitespace().collect::<Vec<_>>().join(" ");
            put_text(rec, text_field!("mysql.error"), &error);
            asked.note(text_field!("mysql.error"), &error);
        }
        let index = asked.answered(rec, duration_field!("mysql.response-time"));
        // A query's or a statement's answer: an OK packet with the rows it changed,
        // or a result set (its column count first).
        if !matches!(command, 0x03 | 0x17) {
            return;
        }
        match payload.first() {
            Some(0x00) if payload.len() >= 7 => {
                if let Some(rows) = lenenc(&payload[1..]) {
                    rows_counted(rec, index, rows.min(i64::MAX as u64) as i64);
                }
            }
            Some(0x01..=0xfa | 0xfc | 0xfd) => {
                if let Some(left) = lenenc(payload).filter(|n| *n > 0) {
                    self.answer = Answer::Columns { left, index };
                }
            }
            _ => {}
        }
    }

    /// A packet after a result set's first: a column definition, the EOF ending
    /// them, a row, or the EOF (or OK) ending the rows.
    fn rest_of_answer(&mut self, payload: &[u8], rec: &mut SessionRecord) {
        self.answer = match self.answer {
            Answer::Other => Answer::Other,
            Answer::Columns { left: 1, index } => Answer::Rows { rows: 0, columns_ended: false, index },
            Answer::Columns { left, index } => Answer::Columns { left: left - 1, index },
            Answer::Rows { rows, columns_ended, index } => {
                // EOF packets are shorter than 9 bytes; with CLIENT_DEPRECATE_EOF the
                // rows end in an OK packet marked 0xfe instead (a row cannot begin
                // 0xfe unless it is over 16 MiB).
                let end = payload.first() == Some(&0xfe) && (payload.len() < 9 || self.deprecate_eof == Some(true));
                match payload.first() {
                    Some(0xff) => Answer::Other,
                    _ if end && !columns_ended && rows == 0 && self.deprecate_eof != Some(true) => {
                        Answer::Rows { rows, columns_ended: true, index }
                    }
                    _ if end => {
                        rows_counted(rec, index, rows);
                        Answer::Other
                    }
                    _ => Answer::Rows { rows: rows + 1, columns_ended, index },
                }
            }
        };
    }
}

impl Dissector for Mysql {
    fn feed(&mut self, side: Side, data: &[u8], rec: &mut SessionRecord) {
        if self.lost {
            return;
        }
        let mut packets: Vec<(u8, Vec<u8>, usize)> = Vec::new();
        // A packet is handed on at its last byte: the answer's time is its end's.
        let le24 = |h: &[u8]| Some(u32::from_le_bytes([h[0], h[1], h[2], 0]) as usize);
        self.framers[side as usize].feed(
            data,
            4,
            HandOn::AtEnd,
            le24,
            |_| MAX_KEPT,
            |h, payload, end| packets.push((h[3], payload.to_vec(), end)),
        );
        for (seq, payload, end) in packets {
            match side {
                Side::Client => self.client_packet(seq, &payload, end, rec),
                Side::Server => self.server_packet(seq, &payload, rec),
            }
            if self.lost {
                return;
            }
        }
    }

    fn end(&mut self, rec: &mut SessionRecord) {
        crate::kit::Asked::file_waiting(self.pending.iter_mut().map(|(_, asked)| asked), rec);
        // The row is written: the transactions' places in it go with it.
        self.answer = match self.answer {
            Answer::Columns { left, .. } => Answer::Columns { left, index: None },
            Answer::Rows { rows, columns_ended, .. } => Answer::Rows { rows, columns_ended, index: None },
            Answer::Other => Answer::Other,
        };
    }

    fn gap(&mut self, _side: Side, _len: u64) {
        self.lost = true;
    }

    fn wants_more(&self) -> bool {
        !self.lost
    }

    fn handoff(&mut self) -> Option<usize> {
        self.upgrade.take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tyto_schema::Values;

    /// A packet: its length (3 bytes), sequence number and payload.
    fn packet(seq: u8, payload: &[u8]) -> Vec<u8> {
        let mut p = (payload.len() as u32).to_le_bytes()[..3].to_vec();
        p.push(seq);
        p.extend_from_slice(payload);
        p
    }

    /// A connection picked up after the login: a query, then its answer.
    #[test]
    fn commands_after_the_login() {
        let query = packet(0, b"\x03SELECT * FROM t WHERE id = 1");
        assert_eq!(later_packets(Side::Client, &query), Probe::Match);
        assert_eq!(later_packets(Side::Client, &query[..10]), Probe::NeedMore);
        // A binary "query" alone is not enough.
        assert_eq!(later_packets(Side::Client, &packet(0, &[3, 0, 1, 2, 0xff, 0xfe, 0, 0, 0])), Probe::NeedMore);
        // The answer: column count, then a column definition, numbered on.
        let answer = [packet(1, &[1]), packet(2, &[3, b'd', b'e', b'f'])].concat();
        assert_eq!(later_packets(Side::Server, &answer), Probe::Match);
        let skipped = [packet(1, &[1]), packet(3, &[3, b'd', b'e', b'f'])].concat();
        assert_eq!(later_packets(Side::Server, &skipped), Probe::NoMatch);
        assert_eq!(later_packets(Side::Client, &packet(0, b"\x42unknown command")), Probe::NoMatch);
    }

    fn greeting() -> Vec<u8> {
        let mut p = vec![10];
        p.extend_from_slice(b"8.0.36\0");
        p.extend_from_slice(&[0; 40]);
        let mut out = (p.len() as u32).to_le_bytes()[..3].to_vec();
        out.push(0);
        out.extend_from_slice(&p);
        out
    }

    fn login(caps: u32, user: &[u8]) -> Vec<u8> {
        let mut p = caps.to_le_bytes().to_vec();
        p.extend_from_slice(&[0; 28]);
        p.extend_from_slice(user);
        let mut out = (p.len() as u32).to_le_bytes()[..3].to_vec();
        out.push(1);
        out.extend_from_slice(&p);
        out
    }

    #[test]
    fn version_user_and_ssl_request() {
        let g = greeting();
        assert_eq!(probe(Side::Server, &g[..6]), Probe::NeedMore);
        assert_eq!(probe(Side::Server, &g), Probe::Match);
        assert_eq!(probe(Side::Server, b"HTTP/1.1 200 OK\r\n"), Probe::NoMatch);
        let mut m = Mysql::default();
        let mut rec = SessionRecord::default();
        m.feed(Side::Server, &g, &mut rec);
        m.feed(Side::Client, &login(0x0200 | 0x8000, b"root\0\x14pass"), &mut rec);
        assert_eq!(rec.extra.get("mysql.ver"), Some(&Values::Text(vec!["8.0.36".into()])));
        assert_eq!(rec.extra.get("mysql.user"), Some(&Values::Text(vec!["root".into()])));
        assert_eq!(m.handoff(), None);
        let mut m = Mysql::default();
        m.feed(Side::Server, &g, &mut rec);
        let mut req = login(0x0200 | 0x0800, b"");
        req.extend_from_slice(b"\x16\x03\x01");
        m.feed(Side::Client, &req, &mut rec);
        assert_eq!(m.handoff(), Some(36));
    }

    /// Commands timed to the first packet of their answers in every segmentation: a
    /// slow query with a large result, a failing one, a prepared statement, a
    /// command that gets no answer; the result rows pass without being held.
    #[test]
    fn queries_errors_and_response_times() {
        let row = packet(3, &[b'r'; 70_000]);
        let exchange: Vec<(i64, Side, Vec<u8>)> = vec![
            (0, Side::Server, greeting()),
            (1, Side::Client, login(0x0200, b"app\0")),
            (2, Side::Server, packet(2, &[0, 0, 0, 2, 0, 0, 0])),
            (10, Side::Client, packet(0, b"\x03SELECT SLEEP(0.3), 'x'")),
            (310, Side::Server, [packet(1, &[1]), packet(2, b"\x03def"), row, packet(4, &[0xfe, 0, 0, 2, 0])].concat()),
            (400, Side::Client, packet(0, b"\x03SELECT * FROM nope")),
            (403, Side::Server, packet(1, b"\xff\x7a\x04#42S02Table 'db.nope' doesn't exist")),
            (
                500,
                Side::Client,
                [packet(0, b"\x19\x01\x00\x00\x00"), packet(0, b"\x16SELECT a FROM t WHERE b = ?")].concat(),
            ),
            (506, Side::Server, packet(1, &[0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0])),
        ];
        for split in [1, 3, 1000, 100_000] {
            let mut m = Mysql::default();
            let mut rec = SessionRecord::default();
            for (t, side, bytes) in &exchange {
                rec.stop_ns = t * 1_000_000;
                for part in bytes.chunks(split) {
                    m.feed(*side, part, &mut rec);
                }
            }
            assert_eq!(rec.extra.get("mysql.user"), Some(&Values::Text(vec!["app".into()])));
            assert_eq!(
                rec.extra.get("mysql.query"),
                Some(&Values::Text(vec![
                    "SELECT SLEEP(?), ?".into(),
                    "SELECT * FROM nope".into(),
                    "SELECT a FROM t WHERE b = ?".into()
                ])),
                "split {split}"
            );
            assert_eq!(rec.extra.get("mysql.response-time"), Some(&Values::Int(vec![300_000, 3_000, 6_000])));
            assert_eq!(
                rec.extra.get("mysql.error"),
                Some(&Values::Text(vec!["1146 42S02 Table 'db.nope' doesn't exist".into()]))
            );
            assert!(m.framers.iter().all(|f| f.kept_capacity() <= 2 * MAX_KEPT));
            // The SELECT's one row; the prepared statement's answer is no result set.
            assert_eq!(rec.extra.get("mysql.rows"), Some(&Values::Int(vec![1])));
        }
    }

    /// Result sets counted to their last packet, with and without the EOF packets
    /// (CLIENT_DEPRECATE_EOF), past the sequence numbers' wrap; an OK packet's
    /// changed rows; each on its command's transaction.
    #[test]
    fn rows_of_result_sets_and_changes() {
        // Two columns, then `rows` rows, with EOF packets or an ending OK packet.
        let result = |rows: usize, eof: bool| {
            let mut seq = 1u8;
            let mut next = |payload: &[u8]| {
                let p = packet(seq, payload);
                seq = seq.wrapping_add(1);
                p
            };
            let mut out = [next(&[2]), next(b"\x03def a"), next(b"\x03def b")].concat();
            if eof {
                out.extend(next(&[0xfe, 0, 0, 2, 0]));
            }
            for i in 0..rows {
                out.extend(next(format!("\x01{}\x01x", i % 10).as_bytes()));
            }
            out.extend(if eof { next(&[0xfe, 0, 0, 2, 0]) } else { next(&[0xfe, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0]) });
            out
        };
        for (caps, eof) in [(0x0200, true), (0x0200 | CLIENT_DEPRECATE_EOF, false)] {
            let mut m = Mysql::default();
            let mut rec = SessionRecord { transactions: Some(Default::default()), ..SessionRecord::default() };
            m.feed(Side::Server, &greeting(), &mut rec);
            m.feed(Side::Client, &login(caps, b"app\0"), &mut rec);
            m.feed(Side::Server, &packet(2, &[0, 0, 0, 2, 0, 0, 0]), &mut rec);
            for rows in [0, 300, 2] {
                m.feed(Side::Client, &packet(0, b"\x03SELECT a, b FROM t"), &mut rec);
                for part in result(rows, eof).chunks(7) {
                    m.feed(Side::Server, part, &mut rec);
                }
            }
            m.feed(Side::Client, &packet(0, b"\x03UPDATE t SET a = 1"), &mut rec);
            // OK: 3 rows changed (length-encoded), no insert id, status, warnings.
            m.feed(Side::Server, &packet(1, &[0, 3, 0, 2, 0, 0, 0]), &mut rec);
            m.feed(Side::Client, &packet(0, &[0x0e]), &mut rec);
            m.feed(Side::Server, &packet(1, &[0, 0, 0, 2, 0, 0, 0]), &mut rec);
            assert_eq!(rec.extra.get("mysql.rows"), Some(&Values::Int(vec![0, 300, 2, 3])), "EOF packets: {eof}");
            let rows: Vec<_> =
                rec.transactions.as_ref().unwrap().list.iter().map(|t| t.values.get("mysql.rows").cloned()).collect();
            let int = |n| Some(Values::Int(vec![n]));
            assert_eq!(rows, [int(0), int(300), int(2), int(3), None], "a ping changes no rows");
        }
    }
}
