//! MongoDB's wire protocol: a message header (length, request id, response-to,
//! opcode) that a client opens with a query or an OP_MSG. From each command the
//! client sends (the BSON body of an OP_MSG, or a legacy OP_QUERY on `db.$cmd`): the
//! command name, the collection it names, the database (`$db`, or the query's
//! namespace), and the user of SCRAM's first message or of `authenticate`. Each
//! answer is paired with its command by the request id it answers (so answers out of
//! order pair right): its time, and its error (`ok: 0` with `code` and `errmsg`, or a
//! legacy reply's `$err`). Compressed messages are timed, not read.

use tyto_schema::SessionRecord;

use crate::kit::messages::{Length, Streams};
use crate::kit::put_text;
use crate::{Dissector, Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "mongodb",
    transports: &[Transport::Tcp],
    ports: &[27017],
    probe,
    new: || Box::<MongoDb>::default(),
    later: None,
};

/// Commands are small; a bulk insert is read from its head.
const MAX_HELD: usize = 64 * 1024;
const MAX_COMMANDS: u32 = 256;
/// Top-level elements of a document looked at.
const MAX_ELEMENTS: usize = 64;
/// Commands whose value is the collection they work on.
const COLLECTION_COMMANDS: &[&str] = &[
    "find",
    "insert",
    "update",
    "delete",
    "aggregate",
    "count",
    "distinct",
    "findAndModify",
    "create",
    "drop",
    "listIndexes",
    "createIndexes",
    "dropIndexes",
    "getMore",
    "collMod",
    "renameCollection",
];

const OP_REPLY: i32 = 1;
const OP_QUERY: i32 = 2004;
/// Commands waiting for their answers at most.
const MAX_PENDING: usize = 256;
const OP_COMPRESSED: i32 = 2012;
const OP_MSG: i32 = 2013;
/// The server's default limit on a message.
const MAX_MESSAGE: i32 = 48_000_000;

pub fn probe(side: Side, data: &[u8]) -> Probe {
    if side == Side::Server {
        return Probe::NeedMore;
    }
    let Some(h) = data.get(..16) else { return Probe::NeedMore };
    let i32_at = |i: usize| i32::from_le_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]);
    let (len, response_to, opcode) = (i32_at(0), i32_at(8), i32_at(12));
    if !(21..=MAX_MESSAGE).contains(&len) || response_to != 0 {
        return Probe::NoMatch;
    }
    let body = &data[16..];
    let ok = match opcode {
        // Flags, then a section of kind 0: one BSON document whose length fits.
        OP_MSG => match body.get(..9) {
            Some(b) => {
                let doc = i32::from_le_bytes([b[5], b[6], b[7], b[8]]);
                b[1..4] == [0, 0, 0] && b[4] <= 1 && (5..=len - 20).contains(&doc)
            }
            None => return Probe::NeedMore,
        },
        // Flags, then a NUL-terminated `db.collection` name.
        OP_QUERY => {
            let name = body.get(4..).unwrap_or(&[]);
            match name.iter().position(|b| *b == 0) {
                Some(end) => end > 0 && name[..end].contains(&b'.') && name[..end].iter().all(|b| b.is_ascii_graphic()),
                None => return if name.len() < 256 { Probe::NeedMore } else { Probe::NoMatch },
            }
        }
        // The original opcode, then sizes and a known compressor (noop, snappy, zlib, zstd).
        OP_COMPRESSED => match body.get(..9) {
            Some(b) => matches!(i32::from_le_bytes([b[0], b[1], b[2], b[3]]), OP_QUERY | OP_MSG) && b[8] <= 3,
            None => return Probe::NeedMore,
        },
        _ => false,
    };
    Probe::from(ok)
}

fn message(b: &[u8]) -> Length {
    match b.get(..4) {
        None => Length::NeedMore,
        Some(l) => match i32::from_le_bytes([l[0], l[1], l[2], l[3]]) {
            n @ 16..=MAX_MESSAGE => Length::Is(n as usize),
            _ => Length::Bad,
        },
    }
}

/// The top-level elements of a BSON document: (type, key, value bytes).
fn elements(doc: &[u8]) -> Vec<(u8, &[u8], &[u8])> {
    let mut out = Vec::new();
    let Some(len) = doc.get(..4).map(|l| i32::from_le_bytes([l[0], l[1], l[2], l[3]]) as usize) else { return out };
    let doc = &doc[..len.min(doc.len())];
    let mut at = 4;
    let i32_at = |at: usize| doc.get(at..at + 4).map(|l| i32::from_le_bytes([l[0], l[1], l[2], l[3]]).max(0) as usize);
    while out.len() < MAX_ELEMENTS {
        let Some(&kind) = doc.get(at) else { break };
        let Some(key_len) = doc.get(at + 1..).and_then(|k| k.iter().position(|b| *b == 0)) else { break };
        let key = &doc[at + 1..at + 1 + key_len];
        let v = at + 2 + key_len;
        let size = match kind {
            0x00 => break,
            0x01 | 0x09 | 0x11 | 0x12 => Some(8),
            0x02 | 0x0d | 0x0e => i32_at(v).map(|n| 4 + n),
            0x03 | 0x04 | 0x0f => i32_at(v),
            0x05 => i32_at(v).map(|n| 5 + n),
            0x06 | 0x0a | 0x7f | 0xff => Some(0),
            0x07 => Some(12),
            0x08 => Some(1),
            0x10 => Some(4),
            0x13 => Some(16),
            _ => None,
        };
        let Some(value) = size.and_then(|n| doc.get(v..v + n)) else { break };
        out.push((kind, key, value));
        at = v + value.len();
    }
    out
}

/// A BSON string's text (length, bytes, NUL).
fn string(value: &[u8]) -> Option<String> {
    let text = value.get(4..)?.strip_suffix(&[0])?;
    Some(String::from_utf8_lossy(text).into_owned())
}

/// SCRAM's client-first message, `n,,n=user,r=nonce` (`=2C` and `=3D` escape `,` and `=`).
fn scram_user(payload: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(payload).ok()?;
    let user = text.strip_prefix("n,")?.split_once(",n=")?.1.split(',').next()?;
    Some(user.replace("=2C", ",").replace("=3D", "="))
}

/// One command document, and the database its message names outside it.
fn command(doc: &[u8], db: Option<&str>, rec: &mut SessionRecord, asked: &mut crate::kit::Asked) {
    let elements = elements(doc);
    let Some(&(kind, name, value)) = elements.first() else { return };
    let name = String::from_utf8_lossy(name).into_owned();
    put_text(rec, text_field!("mongodb.command"), &name);
    asked.note(text_field!("mongodb.command"), &name);
    if kind == 0x02 && COLLECTION_COMMANDS.contains(&name.as_str()) {
        if let Some(c) = string(value) {
            put_text(rec, text_field!("mongodb.collection"), &c);
            asked.note(text_field!("mongodb.collection"), &c);
        }
    }
    for &(kind, key, value) in &elements {
        match (kind, key) {
            (0x02, b"$db") => {
                if let Some(d) = string(value) {
                    put_text(rec, text_field!("mongodb.db"), &d);
                    asked.note(text_field!("mongodb.db"), &d);
                }
            }
            (0x02, b"user") if name == "authenticate" => {
                if let Some(u) = string(value) {
                    put_text(rec, text_field!("user"), &u);
                }
            }
            // Binary: length, subtype, bytes.
            (0x05, b"payload") if name == "saslStart" => {
                if let Some(u) = value.get(5..).and_then(scram_user) {
                    put_text(rec, text_field!("user"), &u);
                }
            }
            _ => {}
        }
    }
    if let Some(d) = db {
        put_text(rec, text_field!("mongodb.db"), d);
        asked.note(text_field!("mongodb.db"), d);
    }
}

fn client_message(m: &[u8], rec: &mut SessionRecord, asked: &mut crate::kit::Asked) {
    let opcode = i32::from_le_bytes([m[12], m[13], m[14], m[15]]);
    let body = &m[16..];
    match opcode {
        // Flags, then sections; the body is the one of kind 0.
        OP_MSG if body.get(4) == Some(&0) => command(&body[5..], None, rec, asked),
        // Flags, the `db.collection` namespace, skip and return counts, the query.
        OP_QUERY => {
            let Some(ns_len) = body.get(4..).and_then(|n| n.iter().position(|b| *b == 0)) else { return };
            let ns = String::from_utf8_lossy(&body[4..4 + ns_len]).into_owned();
            let db = ns.split('.').next().filter(|d| !d.is_empty());
            if let Some(query) = body.get(4 + ns_len + 1 + 8..) {
                command(query, db, rec, asked);
            }
        }
        _ => {}
    }
}

/// An answer's error, if it is one: `ok: 0` (with `code` and `errmsg`), or `$err`.
fn answer_error(doc: &[u8]) -> Option<String> {
    let (mut failed, mut code, mut text) = (false, None, None);
    for (kind, key, value) in elements(doc) {
        match (kind, key) {
            (0x01, b"ok") => failed = value.try_into().map(f64::from_le_bytes).is_ok_and(|v: f64| v == 0.0),
            (0x10, b"ok") => failed = value == [0, 0, 0, 0],
            (0x10, b"code") => code = value.try_into().ok().map(i32::from_le_bytes),
            (0x02, b"errmsg") => text = string(value),
            (0x02, b"$err") => {
                failed = true;
                text = string(value);
            }
            _ => {}
        }
    }
    failed.then(|| match (code, text) {
        (Some(c), Some(t)) => format!("{c} {t}"),
        (Some(c), None) => c.to_string(),
        (None, t) => t.unwrap_or_default(),
    })
}

fn server_message(m: &[u8], pending: &mut Vec<(i32, crate::kit::Asked)>, rec: &mut SessionRecord) {
    let i32_at = |at: usize| i32::from_le_bytes([m[at], m[at + 1], m[at + 2], m[at + 3]]);
    let (answers, opcode) = (i32_at(8), i32_at(12));
    let mut asked = pending.iter().position(|(id, _)| *id == answers).map(|i| pending.remove(i).1);
    let body = &m[16..];
    let doc = match opcode {
        OP_MSG if body.get(4) == Some(&0) => body.get(5..),
        // Flags, cursor id, starting from, number returned, then the documents.
        OP_REPLY => body.get(20..),
        _ => None,
    };
    if let Some(e) = doc.and_then(answer_error) {
        put_text(rec, text_field!("mongodb.error"), &e);
        if let Some(a) = &mut asked {
            a.note(text_field!("mongodb.error"), &e);
        }
    }
    if let Some(mut a) = asked {
        a.answer_bytes(m.len());
        a.answered(rec, duration_field!("mongodb.response-time"));
    }
}

#[derive(Default)]
pub struct MongoDb {
    streams: Streams,
    commands: u32,
    /// Commands waiting for answers, by request id.
    pending: Vec<(i32, crate::kit::Asked)>,
}

impl Dissector for MongoDb {
    fn feed(&mut self, side: Side, data: &[u8], rec: &mut SessionRecord) {
        let (commands, pending) = (&mut self.commands, &mut self.pending);
        self.streams.push(side, data, MAX_HELD, message, |m, _cut| {
            if m.len() < 16 || *commands >= MAX_COMMANDS {
                return;
            }
            match side {
                Side::Client => {
                    *commands += 1;
                    if pending.len() >= MAX_PENDING {
                        pending.remove(0).1.unanswered(rec);
                    }
                    let mut asked = crate::kit::Asked::new(rec, "mongodb", m.len());
                    client_message(m, rec, &mut asked);
                    pending.push((i32::from_le_bytes([m[4], m[5], m[6], m[7]]), asked));
                }
                Side::Server => server_message(m, pending, rec),
            }
        });
    }

    fn end(&mut self, rec: &mut SessionRecord) {
        crate::kit::Asked::file_waiting(self.pending.iter_mut().map(|(_, a)| a), rec);
    }

    fn gap(&mut self, side: Side, _len: u64) {
        self.streams.lose(side);
    }

    fn wants_more(&self) -> bool {
        self.commands < MAX_COMMANDS && !self.streams.broken()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tyto_schema::Values;

    fn doc(elements: &[(u8, &str, Vec<u8>)]) -> Vec<u8> {
        let mut body = Vec::new();
        for (kind, key, value) in elements {
            body.push(*kind);
            body.extend_from_slice(key.as_bytes());
            body.push(0);
            body.extend_from_slice(value);
        }
        let mut d = ((body.len() + 5) as i32).to_le_bytes().to_vec();
        d.extend(body);
        d.push(0);
        d
    }

    fn bson_string(s: &str) -> Vec<u8> {
        let mut v = ((s.len() + 1) as i32).to_le_bytes().to_vec();
        v.extend_from_slice(s.as_bytes());
        v.push(0);
        v
    }

    fn op_msg(body: &[u8]) -> Vec<u8> {
        let mut m = ((16 + 5 + body.len()) as i32).to_le_bytes().to_vec();
        m.extend_from_slice(&1i32.to_le_bytes());
        m.extend_from_slice(&0i32.to_le_bytes());
        m.extend_from_slice(&OP_MSG.to_le_bytes());
        m.extend_from_slice(&[0, 0, 0, 0, 0]);
        m.extend_from_slice(body);
        m
    }

    #[test]
    fn commands_databases_and_scram_users() {
        let mut payload = vec![0, 0, 0, 0, 0];
        payload.extend_from_slice(b"n,,n=app=2Cuser,r=fyko+d2lbbFgONRv9qkxdawL");
        let n = (payload.len() - 5) as i32;
        payload[..4].copy_from_slice(&n.to_le_bytes());
        let sasl = doc(&[
            (0x10, "saslStart", 1i32.to_le_bytes().to_vec()),
            (0x02, "mechanism", bson_string("SCRAM-SHA-256")),
            (0x05, "payload", payload),
            (0x02, "$db", bson_string("admin")),
        ]);
        let find = doc(&[
            (0x02, "find", bson_string("orders")),
            (0x03, "filter", doc(&[(0x10, "qty", 5i32.to_le_bytes().to_vec())])),
            (0x08, "singleBatch", vec![1]),
            (0x02, "$db", bson_string("shop")),
        ]);
        let mut stream = op_msg(&sasl);
        stream.extend(op_msg(&find));
        assert_eq!(probe(Side::Client, &stream), Probe::Match);
        let mut rec = SessionRecord::default();
        let mut m = MongoDb::default();
        for c in stream.chunks(7) {
            m.feed(Side::Client, c, &mut rec);
        }
        assert_eq!(rec.extra.get("user"), Some(&Values::Text(vec!["app,user".into()])));
        assert_eq!(rec.extra.get("mongodb.command"), Some(&Values::Text(vec!["saslStart".into(), "find".into()])));
        assert_eq!(rec.extra.get("mongodb.collection"), Some(&Values::Text(vec!["orders".into()])));
        assert_eq!(rec.extra.get("mongodb.db"), Some(&Values::Text(vec!["admin".into(), "shop".into()])));
        // Hostile lengths inside a document stop the walk.
        assert!(elements(&[0xff, 0xff, 0xff, 0x7f, 0x02, b'a', 0, 0xff, 0xff, 0xff, 0x7f]).is_empty());
    }

    #[test]
    fn hello_as_op_msg_and_legacy_query() {
        let mut m = Vec::new();
        m.extend_from_slice(&41i32.to_le_bytes());
        m.extend_from_slice(&7i32.to_le_bytes());
        m.extend_from_slice(&0i32.to_le_bytes());
        m.extend_from_slice(&OP_MSG.to_le_bytes());
        m.extend_from_slice(&[0, 0, 0, 0, 0]);
        m.extend_from_slice(&20i32.to_le_bytes());
        m.extend_from_slice(&[0x10, b'h', b'i', 0, 1, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(probe(Side::Client, &m), Probe::Match);
        assert_eq!(probe(Side::Client, &m[..10]), Probe::NeedMore);
        let mut q = Vec::new();
        q.extend_from_slice(&60i32.to_le_bytes());
        q.extend_from_slice(&1i32.to_le_bytes());
        q.extend_from_slice(&0i32.to_le_bytes());
        q.extend_from_slice(&OP_QUERY.to_le_bytes());
        q.extend_from_slice(&[0, 0, 0, 0]);
        q.extend_from_slice(b"admin.$cmd\0");
        assert_eq!(probe(Side::Client, &q), Probe::Match);
        assert_eq!(probe(Side::Client, b"GET / HTTP/1.1\r\nHost: example.org\r\n"), Probe::NoMatch);
    }

    /// An OP_MSG with its request id and the id it answers.
    fn op_msg_ids(id: i32, answers: i32, body: &[u8]) -> Vec<u8> {
        let mut m = op_msg(body);
        m[4..8].copy_from_slice(&id.to_le_bytes());
        m[8..12].copy_from_slice(&answers.to_le_bytes());
        m
    }

    /// Answers pair with their commands by request id, out of order too; an `ok: 0`
    /// answer is an error with its code and message.
    #[test]
    fn answers_are_timed_by_the_request_they_answer() {
        let find = doc(&[(0x02, "find", bson_string("users")), (0x02, "$db", bson_string("app"))]);
        let slow = doc(&[(0x02, "aggregate", bson_string("events")), (0x02, "$db", bson_string("app"))]);
        let ok = doc(&[(0x01, "ok", 1f64.to_le_bytes().to_vec())]);
        let failed = doc(&[
            (0x01, "ok", 0f64.to_le_bytes().to_vec()),
            (0x02, "errmsg", bson_string("ns does not exist")),
            (0x10, "code", 26i32.to_le_bytes().to_vec()),
        ]);
        let mut m = MongoDb::default();
        let mut rec = SessionRecord::default();
        let at = |m: &mut MongoDb, rec: &mut SessionRecord, ms: i64, side: Side, bytes: Vec<u8>| {
            rec.stop_ns = ms * 1_000_000;
            for part in bytes.chunks(7) {
                m.feed(side, part, rec);
            }
        };
        at(&mut m, &mut rec, 0, Side::Client, op_msg_ids(10, 0, &slow));
        at(&mut m, &mut rec, 1, Side::Client, op_msg_ids(11, 0, &find));
        at(&mut m, &mut rec, 4, Side::Server, op_msg_ids(90, 11, &failed));
        at(&mut m, &mut rec, 300, Side::Server, op_msg_ids(91, 10, &ok));
        // An answer to nothing seen is not timed.
        at(&mut m, &mut rec, 301, Side::Server, op_msg_ids(92, 77, &ok));
        assert_eq!(rec.extra.get("mongodb.response-time"), Some(&Values::Int(vec![3_000, 300_000])));
        assert_eq!(rec.extra.get("mongodb.error"), Some(&Values::Text(vec!["26 ns does not exist".into()])));
        assert!(m.pending.is_empty());
    }
}
