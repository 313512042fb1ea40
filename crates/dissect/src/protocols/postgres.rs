//! PostgreSQL's frontend/backend protocol: the startup message's user, database and
//! application name, and the SSL request after which (answered `S`) the connection
//! is TLS; then the queries (simple, and extended-protocol batches up to their Sync),
//! their errors, and how long each took until the server was ready again.

use tyto_schema::SessionRecord;

use crate::kit::messages::{Framed, HandOn};
use crate::kit::upgrade::Upgrade;
use crate::kit::{put_int, put_text};
use crate::{Dissector, Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "postgresql",
    transports: &[Transport::Tcp],
    ports: &[5432],
    probe,
    new: || Box::<Postgres>::default(),
    later: Some(typed_messages),
};

/// The largest typed message believed when picking a connection up: rows and COPY
/// data are far smaller in practice.
const MAX_MESSAGE: usize = 1 << 24;

/// Typed messages after the startup (a type byte, a 4-byte length counting itself),
/// from either side: whole messages to the byte, of types the protocol has and with
/// the sizes their types fix, two at least. A message cut off at the end waits.
fn typed_messages(_side: Side, data: &[u8]) -> Probe {
    let mut at = 0usize;
    let mut messages = 0;
    while at < data.len() {
        let Some(h) = data.get(at..at + 5) else { return Probe::NeedMore };
        let len = u32::from_be_bytes([h[1], h[2], h[3], h[4]]) as usize;
        let body = data.get(at + 5..at + 1 + len.max(4));
        let allowed = match h[0] {
            // ParseComplete, BindComplete, CloseComplete, NoData, PortalSuspended,
            // EmptyQueryResponse, CopyDone; Flush, Terminate, Sync.
            b'1' | b'2' | b'3' | b'n' | b's' | b'I' | b'c' | b'H' | b'X' => len == 4,
            // ReadyForQuery: idle, in a transaction, or in a failed one.
            b'Z' => len == 5 && body.is_none_or(|b| matches!(b.first(), Some(b'I' | b'T' | b'E'))),
            b'K' => len == 12,
            // Sync (4) or ParameterStatus (name and value, each ending in NUL).
            b'S' => len == 4 || (len >= 6 && body.is_none_or(|b| b.last() == Some(&0))),
            // A simple query's text ends in NUL.
            b'Q' => len >= 5 && body.is_none_or(|b| b.last() == Some(&0)),
            b'A' | b'B' | b'C' | b'D' | b'E' | b'F' | b'G' | b'N' | b'P' | b'R' | b'T' | b'V' | b'W' | b'd' | b'f'
            | b'p' | b't' | b'v' => (4..=MAX_MESSAGE).contains(&len),
            _ => false,
        };
        if !allowed {
            return Probe::NoMatch;
        }
        messages += 1;
        at += 1 + len;
    }
    if at == data.len() && messages >= 2 {
        Probe::Match
    } else {
        Probe::NeedMore
    }
}

const PROTOCOL_3: u32 = 0x0003_0000;
const SSL_REQUEST: u32 = 80_877_103;
const GSSENC_REQUEST: u32 = 80_877_104;
/// Startup messages are a few hundred bytes; the server refuses anything above 10 000.
const MAX_STARTUP: usize = 10_000;

/// `(length, code)` of the client's first message.
fn head(data: &[u8]) -> Option<(usize, u32)> {
    let h = data.get(..8)?;
    Some((u32::from_be_bytes([h[0], h[1], h[2], h[3]]) as usize, u32::from_be_bytes([h[4], h[5], h[6], h[7]])))
}

pub fn probe(side: Side, data: &[u8]) -> Probe {
    if side == Side::Server {
        // The client speaks first; its message decides.
        return Probe::NeedMore;
    }
    match head(data) {
        // Lengths are far below 2^16: a prefix of zeros may still be one.
        None if data.iter().take(2).all(|b| *b == 0) => Probe::NeedMore,
        None => Probe::NoMatch,
        Some((8, SSL_REQUEST | GSSENC_REQUEST)) => Probe::Match,
        Some((len, PROTOCOL_3)) if (9..=MAX_STARTUP).contains(&len) => {
            // Parameters are `name\0value\0` pairs of printable text.
            let params = &data[8..len.min(data.len())];
            Probe::from(params.iter().all(|b| *b == 0 || (0x20..0x7f).contains(b) || *b >= 0x80))
        }
        Some(_) => Probe::NoMatch,
    }
}

/// Query text kept of one message at most (the rest is skipped, not buffered).
const MAX_QUERY: usize = 4096;
/// Requests waiting for their ReadyForQuery at most, and prepared statements
/// remembered by name: a hostile client cannot grow either without bound.
const MAX_PENDING: usize = 64;
const MAX_STATEMENTS: usize = 64;

#[derive(Default)]
pub struct Postgres {
    client: Vec<u8>,
    ssl_requested: bool,
    upgrade: Upgrade,
    /// The startup is behind (or was never seen): both sides speak typed messages.
    typed: bool,
    done: bool,
    framers: [Framed; 2],
    /// Requests waiting for the server's ReadyForQuery.
    pending: std::collections::VecDeque<crate::kit::Asked>,
    /// Bytes the client sent since its last request (an extended-protocol batch).
    sent_bytes: usize,
    /// The statement of the extended-protocol batch being sent (Parse, or Bind of a
    /// statement parsed before), and statements parsed by name.
    batch: Option<String>,
    statements: Vec<(Vec<u8>, String)>,
}

/// The text of a NUL-terminated string at the start of `b`, and what follows it.
fn cstr(b: &[u8]) -> (&[u8], &[u8]) {
    match b.iter().position(|c| *c == 0) {
        Some(i) => (&b[..i], &b[i + 1..]),
        None => (b, &[]),
    }
}

impl Postgres {
    fn startup(&mut self, rec: &mut SessionRecord) {
        // A connection picked up after its startup: typed messages from the first byte
        // (a startup begins with its length's zero high byte).
        if self.client.first().is_some_and(|b| *b != 0) {
            self.typed = true;
            let bytes = std::mem::take(&mut self.client);
            self.typed_messages(Side::Client, &bytes, rec);
            return;
        }
        // SSL requests come first (the startup follows in clear when refused).
        while let Some((8, SSL_REQUEST)) = head(&self.client) {
            self.ssl_requested = true;
            self.client.drain(..8);
        }
        let Some((len, code)) = head(&self.client) else { return };
        if code != PROTOCOL_3 || !(8..=MAX_STARTUP).contains(&len) {
            self.done = true;
            return;
        }
        if self.client.len() < len {
            return;
        }
        let mut parts = self.client[8..len].split(|b| *b == 0);
        while let (Some(name), Some(value)) = (parts.next(), parts.next()) {
            let field = match name {
                b"user" => text_field!("postgresql.user"),
                b"database" => text_field!("postgresql.db"),
                b"application_name" => text_field!("postgresql.app"),
                _ => continue,
            };
            let value = String::from_utf8_lossy(value);
            if !value.is_empty() {
                put_text(rec, field, &value);
                if field == text_field!("postgresql.user") {
                    put_text(rec, text_field!("user"), &value);
                }
            }
        }
        self.typed = true;
        let rest = self.client.split_off(len);
        self.client = Vec::new();
        self.typed_messages(Side::Client, &rest, rec);
    }

    /// Queries and their answers: a simple query, or an extended-protocol batch up
    /// to its Sync, is one request; the server's ReadyForQuery ends its answer.
    fn typed_messages(&mut self, side: Side, data: &[u8], rec: &mut SessionRecord) {
        let keep = |h: &[u8]| match (side, h[0]) {
            (Side::Client, b'Q' | b'P') => MAX_QUERY,
            // Bind: the portal's and the statement's names.
            (Side::Client, b'B') => 256,
            (Side::Server, b'E') => 1024,
            // CommandComplete: its tag (`SELECT 5`, `INSERT 0 1`).
            (Side::Server, b'C') => 64,
            _ => 0,
        };
        // A message is handed on once the part kept is held (its type alone, for
        // most): ReadyForQuery times an answer by its header.
        let body_len = |h: &[u8]| {
            let len = u32::from_be_bytes([h[1], h[2], h[3], h[4]]) as usize;
            (4..=MAX_MESSAGE).contains(&len).then(|| len - 4)
        };
        let mut messages = Vec::new();
        let framed = self.framers[side as usize]
            .feed(data, 5, HandOn::WhenKept, body_len, keep, |h, body, _| messages.push((h[0], body.to_vec())));
        if !framed {
            self.done = true;
            return;
        }
        for (kind, body) in messages {
            match side {
                Side::Client => self.sent_bytes += body.len() + 5,
                Side::Server => {
                    if let Some(asked) = self.pending.front_mut() {
                        asked.answer_bytes(body.len() + 5);
                    }
                }
            }
            match (side, kind) {
                (Side::Client, b'Q') => {
                    let text = crate::kit::sql::normalise(&String::from_utf8_lossy(cstr(&body).0));
                    put_text(rec, text_field!("pgsql.query"), &text);
                    self.request(rec, Some(&text));
                }
                (Side::Client, b'P') => {
                    let (name, rest) = cstr(&body);
                    let text = crate::kit::sql::normalise(&String::from_utf8_lossy(cstr(rest).0));
                    if !name.is_empty() {
                        self.statements.retain(|(n, _)| n != name);
                        if self.statements.len() >= MAX_STATEMENTS {
                            self.statements.remove(0);
                        }
                        self.statements.push((name.to_vec(), text.clone()));
                    }
                    self.batch = Some(text);
                }
                (Side::Client, b'B') if self.batch.is_none() => {
                    let statement = cstr(cstr(&body).1).0;
                    self.batch = self.statements.iter().find(|(n, _)| n == statement).map(|(_, t)| t.clone());
                }
                (Side::Client, b'S') => {
                    let text = self.batch.take();
                    if let Some(text) = &text {
                        put_text(rec, text_field!("pgsql.query"), text);
                    }
                    self.request(rec, text.as_deref());
                }
                (Side::Server, b'E') => {
                    // Fields: a code byte and a NUL-terminated value each; SQLSTATE is C.
                    let (mut code, mut message) = (String::new(), String::new());
                    let mut rest = &body[..];
                    while let Some((&field, after)) = rest.split_first() {
                        if field == 0 {
                            break;
                        }
                        let (value, next) = cstr(after);
                        match field {
                            b'C' => code = String::from_utf8_lossy(value).into_owned(),
                            b'M' => message = String::from_utf8_lossy(value).into_owned(),
                            _ => {}
                        }
                        rest = next;
                    }
                    if !code.is_empty() {
                        let error = format!("{code} {message}");
                        put_text(rec, text_field!("pgsql.error"), &error);
                        if let Some(asked) = self.pending.front_mut() {
                            asked.note(text_field!("pgsql.error"), &error);
                        }
                    }
                }
                (Side::Server, b'C') => {
                    if let Some(rows) = tag_rows(cstr(&body).0) {
                        put_int(rec, int_field!("pgsql.rows"), rows);
                        if let Some(asked) = self.pending.front_mut() {
                            asked.note_int(int_field!("pgsql.rows"), rows);
                        }
                    }
                }
                (Side::Server, b'Z') => {
                    if let Some(asked) = self.pending.pop_front() {
                        asked.answered(rec, duration_field!("pgsql.response-time"));
                    }
                }
                _ => {}
            }
        }
    }

    /// A request is sent (a simple query, or a Sync ending a batch): its statement,
    /// when one was read.
    fn request(&mut self, rec: &mut SessionRecord, statement: Option<&str>) {
        let mut asked = crate::kit::Asked::new(rec, "pgsql", std::mem::take(&mut self.sent_bytes));
        if let Some(text) = statement {
            asked.note(text_field!("pgsql.query"), text);
        }
        if self.pending.len() >= MAX_PENDING {
            if let Some(old) = self.pending.pop_front() {
                old.unanswered(rec);
            }
        }
        self.pending.push_back(asked);
    }
}

/// The rows a CommandComplete tag counts: its last word, for the commands whose
/// tag ends in one (`SELECT 5`, `INSERT 0 1`, `UPDATE 3`; not `CREATE TABLE`).
fn tag_rows(tag: &[u8]) -> Option<i64> {
    let tag = std::str::from_utf8(tag).ok()?;
    let mut words = tag.split(' ');
    let command = words.next()?;
    if !matches!(command, "SELECT" | "INSERT" | "UPDATE" | "DELETE" | "MERGE" | "COPY" | "FETCH" | "MOVE") {
        return None;
    }
    words.next_back()?.parse().ok()
}

impl Dissector for Postgres {
    fn feed(&mut self, side: Side, data: &[u8], rec: &mut SessionRecord) {
        if self.done {
            return;
        }
        match side {
            Side::Client if self.typed => self.typed_messages(side, data, rec),
            Side::Client => {
                let room = (MAX_STARTUP + MAX_QUERY).saturating_sub(self.client.len());
                self.client.extend_from_slice(&data[..data.len().min(room)]);
                self.startup(rec);
            }
            // The answer to an SSL request: `S`, then TLS once the client starts it;
            // `N`, and the startup follows in clear.
            Side::Server if self.ssl_requested => {
                self.ssl_requested = false;
                match data.split_first() {
                    Some((b'S', _)) => {
                        self.upgrade.switch_at(1);
                        self.done = true;
                    }
                    Some((_, rest)) => self.typed_messages(side, rest, rec),
                    None => {}
                }
            }
            Side::Server => self.typed_messages(side, data, rec),
        }
    }

    fn end(&mut self, rec: &mut SessionRecord) {
        crate::kit::Asked::file_waiting(&mut self.pending, rec);
    }

    fn gap(&mut self, _side: Side, _len: u64) {
        self.done = true;
    }

    fn wants_more(&self) -> bool {
        !self.done
    }

    fn handoff(&mut self) -> Option<usize> {
        self.upgrade.take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_complete_tags_count_rows() {
        let rows = |t: &str| tag_rows(t.as_bytes());
        assert_eq!(rows("SELECT 5"), Some(5));
        assert_eq!(rows("INSERT 0 1"), Some(1));
        assert_eq!(rows("UPDATE 30"), Some(30));
        assert_eq!(rows("COPY 7"), Some(7));
        assert_eq!(rows("COPY"), None, "before PostgreSQL 8.2");
        assert_eq!(rows("CREATE TABLE"), None);
        assert_eq!(rows("SELECT x"), None);
    }
    use tyto_schema::Values;

    /// A connection picked up after its startup: the client's simple query, then the
    /// server's rows and ReadyForQuery.
    #[test]
    fn typed_messages_after_the_startup() {
        let mut q = vec![b'Q', 0, 0, 0, 13];
        q.extend_from_slice(b"SELECT 1\0");
        assert_eq!(typed_messages(Side::Client, &q), Probe::NeedMore, "one message alone");
        let mut answer = vec![b'C', 0, 0, 0, 13];
        answer.extend_from_slice(b"SELECT 1\0");
        answer.extend_from_slice(&[b'Z', 0, 0, 0, 5, b'I']);
        assert_eq!(typed_messages(Side::Server, &answer), Probe::Match);
        // Not ready for query with a status the protocol does not have.
        let n = answer.len();
        answer[n - 1] = b'x';
        assert_eq!(typed_messages(Side::Server, &answer), Probe::NoMatch);
        assert_eq!(typed_messages(Side::Client, b"GET / HTTP/1.1\r\n"), Probe::NoMatch);
        // Sync has no body.
        assert_eq!(typed_messages(Side::Client, &[b'S', 0, 0, 0, 4, b'S', 0, 0, 0, 4]), Probe::Match);
        assert_eq!(typed_messages(Side::Client, &[b'X', 0, 0, 0, 5, 0]), Probe::NoMatch);
    }

    fn startup(params: &[(&str, &str)]) -> Vec<u8> {
        let mut body = PROTOCOL_3.to_be_bytes().to_vec();
        for (k, v) in params {
            body.extend_from_slice(k.as_bytes());
            body.push(0);
            body.extend_from_slice(v.as_bytes());
            body.push(0);
        }
        body.push(0);
        let mut m = ((body.len() + 4) as u32).to_be_bytes().to_vec();
        m.extend_from_slice(&body);
        m
    }

    fn message(kind: u8, body: &[u8]) -> Vec<u8> {
        let mut m = vec![kind];
        m.extend_from_slice(&((body.len() + 4) as u32).to_be_bytes());
        m.extend_from_slice(body);
        m
    }

    /// Queries timed to the server's ReadyForQuery in every segmentation: a simple
    /// query, one that fails (its SQLSTATE kept), and an extended-protocol batch of a
    /// named statement executed twice (the second by name alone); rows are skipped.
    #[test]
    fn queries_errors_and_response_times() {
        let ready = message(b'Z', b"I");
        let mut client: Vec<(i64, Vec<u8>)> = vec![(0, startup(&[("user", "u")]))];
        let mut server: Vec<(i64, Vec<u8>)> = vec![(1, [message(b'R', &[0, 0, 0, 0]), ready.clone()].concat())];
        client.push((10, message(b'Q', b"SELECT pg_sleep(0.3), 'x'\0")));
        let row = message(b'D', &[b'r'; 70_000]);
        server.push((310, [message(b'T', b"t\0"), row.clone(), message(b'C', b"SELECT 1\0"), ready.clone()].concat()));
        client.push((400, message(b'Q', b"SELECT * FROM nope\0")));
        let error = message(b'E', b"SERROR\0C42P01\0Mrelation \"nope\" does not exist\0\0");
        server.push((402, [error, ready.clone()].concat()));
        let parse = message(b'P', b"s1\0SELECT a FROM t WHERE id = $1\0\0\0");
        let bind = message(b'B', b"\0s1\0\0\0\0\0\0\0");
        let batch = [parse, bind.clone(), message(b'E', b"\0\0\0\0\0"), message(b'S', b"")].concat();
        client.push((500, batch));
        server.push((
            507,
            [message(b'1', b""), message(b'2', b""), row, message(b'C', b"INSERT 0 12\0"), ready.clone()].concat(),
        ));
        client.push((600, [bind, message(b'E', b"\0\0\0\0\0"), message(b'S', b"")].concat()));
        server.push((620, ready));
        for split in [1, 3, 64, 100_000] {
            let mut p = Postgres::default();
            let mut rec = SessionRecord { transactions: Some(Default::default()), ..SessionRecord::default() };
            for ((tc, c), (ts, s)) in client.iter().zip(&server) {
                for (t, side, bytes) in [(tc, Side::Client, c), (ts, Side::Server, s)] {
                    rec.stop_ns = t * 1_000_000;
                    for part in bytes.chunks(split) {
                        p.feed(side, part, &mut rec);
                    }
                }
            }
            assert_eq!(
                rec.extra.get("pgsql.query"),
                Some(&Values::Text(vec![
                    "SELECT pg_sleep(?), ?".into(),
                    "SELECT * FROM nope".into(),
                    "SELECT a FROM t WHERE id = ?".into()
                ])),
                "split {split}"
            );
            assert_eq!(
                rec.extra.get("pgsql.error"),
                Some(&Values::Text(vec!["42P01 relation \"nope\" does not exist".into()]))
            );
            assert_eq!(rec.extra.get("pgsql.response-time"), Some(&Values::Int(vec![300_000, 2_000, 7_000, 20_000])));
            // CommandComplete's counts, on the session and on each request's transaction.
            assert_eq!(rec.extra.get("pgsql.rows"), Some(&Values::Int(vec![1, 12])));
            let rows: Vec<_> =
                rec.transactions.as_ref().unwrap().list.iter().map(|t| t.values.get("pgsql.rows").cloned()).collect();
            assert_eq!(rows, [Some(Values::Int(vec![1])), None, Some(Values::Int(vec![12])), None]);
            assert!(p.wants_more());
        }
        // Picked up mid-way: typed messages from the first byte.
        let mut p = Postgres::default();
        let mut rec = SessionRecord::default();
        p.feed(Side::Client, &message(b'Q', b"SELECT 2\0"), &mut rec);
        rec.stop_ns = 3_000_000;
        p.feed(Side::Server, &message(b'Z', b"I"), &mut rec);
        assert_eq!(rec.extra.get("pgsql.response-time"), Some(&Values::Int(vec![3_000])));
        // A length the protocol cannot have ends the reading.
        p.feed(Side::Server, &[b'D', 0xff, 0xff, 0xff, 0xff], &mut rec);
        assert!(!p.wants_more());
    }

    #[test]
    fn startup_parameters_and_ssl_request() {
        let s = startup(&[("user", "appuser"), ("database", "myappdb"), ("application_name", "MyApp")]);
        assert_eq!(probe(Side::Client, &s), Probe::Match);
        assert_eq!(probe(Side::Client, &s[..5]), Probe::NeedMore);
        assert_eq!(probe(Side::Client, b"GET / HT"), Probe::NoMatch);
        let mut rec = SessionRecord::default();
        let mut p = Postgres::default();
        for chunk in s.chunks(5) {
            p.feed(Side::Client, chunk, &mut rec);
        }
        assert_eq!(rec.extra.get("postgresql.db"), Some(&Values::Text(vec!["myappdb".into()])));
        assert_eq!(rec.extra.get("postgresql.app"), Some(&Values::Text(vec!["MyApp".into()])));
        assert_eq!(rec.extra.get("user"), Some(&Values::Text(vec!["appuser".into()])));
        let mut p = Postgres::default();
        let mut ssl = 8u32.to_be_bytes().to_vec();
        ssl.extend_from_slice(&SSL_REQUEST.to_be_bytes());
        assert_eq!(probe(Side::Client, &ssl), Probe::Match);
        p.feed(Side::Client, &ssl, &mut rec);
        p.feed(Side::Server, b"S", &mut rec);
        assert_eq!(p.handoff(), Some(1));
        // A length shorter than its own header (found by fuzzing).
        let mut p = Postgres::default();
        p.feed(Side::Client, &[0, 0, 0, 1, 0, 3, 0, 0, 0xff], &mut rec);
        assert!(!p.wants_more());
    }
}
