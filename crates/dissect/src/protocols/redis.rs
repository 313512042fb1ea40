//! Redis (RESP 2 and 3): commands sent as arrays of bulk strings. The user of
//! `AUTH user password` goes into `user`, the database of `SELECT n` into
//! `redis.db`; each command's name into `redis.command`, and its reply's time (replies
//! come in the order of the commands) into `redis.response-time`, errors into
//! `redis.error`. Both directions are read as streams: values pass without being held.

use tyto_schema::SessionRecord;

use crate::kit::lines::{LinesAndBlocks, Next, Piece};
use crate::kit::put_text;
use crate::{Dissector, Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "redis",
    transports: &[Transport::Tcp],
    ports: &[6379],
    probe,
    new: || Box::<Redis>::default(),
    later: None,
};

/// Bytes the probe waits for at most.
const MAX_BUFFER: usize = 4096;

/// A RESP integer line after its type byte: the number and the bytes used.
fn number(b: &[u8]) -> Option<Option<(usize, usize)>> {
    let Some(end) = b.windows(2).position(|w| w == b"\r\n") else {
        let digits = b.strip_suffix(b"\r").unwrap_or(b);
        return if digits.len() < 12 && digits.iter().all(u8::is_ascii_digit) { Some(None) } else { None };
    };
    let n = std::str::from_utf8(&b[..end]).ok()?.parse().ok()?;
    Some(Some((n, end + 2)))
}

/// A command's arguments (its name first) and the bytes it took.
type Command<'a> = (Vec<&'a [u8]>, usize);

/// The bulk strings of one command array: `None` when it is not RESP, `Some(None)`
/// when more bytes are needed.
fn command(b: &[u8]) -> Option<Option<Command<'_>>> {
    if b.first()? != &b'*' {
        return None;
    }
    let Some((count, mut at)) = number(&b[1..])? else { return Some(None) };
    at += 1;
    if !(1..=64).contains(&count) {
        return None;
    }
    let mut args = Vec::with_capacity(count);
    for _ in 0..count {
        match b.get(at) {
            None => return Some(None),
            Some(b'$') => {}
            Some(_) => return None,
        }
        let Some((len, used)) = number(&b[at + 1..])? else { return Some(None) };
        let start = at + 1 + used;
        let Some(crlf) = b.get(start + len..start + len + 2) else { return Some(None) };
        if crlf != b"\r\n" {
            return None;
        }
        let arg = &b[start..start + len];
        args.push(arg);
        at = start + len + 2;
    }
    Some(Some((args, at)))
}

/// The first bulk string of a command array, once whole (`Some(None)` before).
fn command_name(b: &[u8]) -> Option<Option<&[u8]>> {
    let Some((count, used)) = number(b.get(1..)?)? else { return Some(None) };
    if b[0] != b'*' || !(1..=64).contains(&count) {
        return None;
    }
    let at = 1 + used;
    match b.get(at) {
        None => return Some(None),
        Some(b'$') => {}
        Some(_) => return None,
    }
    let Some((len, used)) = number(&b[at + 1..])? else { return Some(None) };
    let start = at + 1 + used;
    if len > 64 {
        return None;
    }
    Some(b.get(start..start + len))
}

pub fn probe(side: Side, data: &[u8]) -> Probe {
    if side == Side::Server {
        return Probe::NeedMore;
    }
    match command(data) {
        None => Probe::NoMatch,
        // A command too long to wait for (a large value): its name decides.
        Some(None) => match command_name(data) {
            Some(Some(name)) => Probe::from(name.iter().all(u8::is_ascii_alphabetic)),
            Some(None) if data.len() < MAX_BUFFER => Probe::NeedMore,
            _ => Probe::NoMatch,
        },
        // The command name is letters.
        Some(Some((args, _))) => Probe::from(args[0].iter().all(u8::is_ascii_alphabetic)),
    }
}

/// Bytes kept of a line (a type byte's header, a simple string, an error) and of
/// each of a command's first arguments; the rest is skipped, not buffered.
const MAX_LINE: usize = 512;
const MAX_ARG: usize = 64;
/// Arguments kept of a command: enough for `HELLO 3 AUTH user password`.
const MAX_ARGS: usize = 5;
/// Nesting and element counts a message may claim (RESP allows more; no real
/// command or reply comes near).
const MAX_DEPTH: usize = 16;
const MAX_ELEMENTS: i64 = 1 << 24;
/// Commands waiting for their replies at most.
const MAX_PENDING: usize = 256;

/// One message read so far: what is kept of it.
#[derive(Default)]
struct Message {
    /// The top-level type byte (`*` for a command array, `-` for an error…).
    kind: u8,
    /// The first arguments of a command (bulk strings of the top array), or the
    /// line of a top-level simple string or error.
    parts: Vec<Vec<u8>>,
    /// Its bytes on the wire.
    bytes: usize,
}

/// RESP read as a stream, one direction: messages are told apart to the byte
/// without holding their values (bulk strings pass as blocks, the first arguments
/// of a command kept in part).
#[derive(Default)]
struct Reader {
    text: LinesAndBlocks,
    /// The argument the bulk string being read fills, if kept.
    bulk_kept: Option<usize>,
    /// Elements still to read at each open aggregate level.
    open: Vec<i64>,
    msg: Message,
    /// Bytes read since the last message ended: the next message's.
    read: usize,
}

impl Reader {
    /// Whole messages in `data`, in order.
    fn feed(&mut self, data: &[u8], mut done: impl FnMut(Message)) {
        let mut text = std::mem::take(&mut self.text);
        text.feed(data, MAX_LINE, |piece| match piece {
            Piece::Line { text, wire, .. } => {
                self.read += wire;
                self.header(text, &mut done)
            }
            Piece::Block { bytes, left } => {
                self.read += bytes.len();
                if let Some(i) = self.bulk_kept {
                    // The value, without its CRLF, up to the bound.
                    let value = &bytes[..bytes.len().min((left + bytes.len() as u64).saturating_sub(2) as usize)];
                    let part = &mut self.msg.parts[i];
                    let room = MAX_ARG.saturating_sub(part.len());
                    part.extend_from_slice(&value[..value.len().min(room)]);
                }
                if left == 0 {
                    self.bulk_kept = None;
                    self.element_done(&mut done);
                }
                Next::Line
            }
        });
        self.text = text;
    }

    /// A line: a value of its own, or the header of an aggregate or of a bulk
    /// string (whose bytes are then read as a block).
    fn header(&mut self, line: &[u8], done: &mut impl FnMut(Message)) -> Next {
        let Some((&kind, rest)) = line.split_first() else { return Next::Line };
        let top = self.open.is_empty();
        if top {
            self.msg = Message { kind, parts: Vec::new(), bytes: 0 };
        }
        let count = || std::str::from_utf8(rest).ok()?.parse::<i64>().ok();
        match kind {
            // Aggregates: array, map (pairs), set, push, attribute (pairs).
            b'*' | b'%' | b'~' | b'>' | b'|' => {
                let Some(n) = count().filter(|n| *n <= MAX_ELEMENTS) else { return Next::Lost };
                let n = if matches!(kind, b'%' | b'|') { n.saturating_mul(2) } else { n };
                if n <= 0 {
                    self.element_done(done);
                    return Next::Line;
                }
                if self.open.len() >= MAX_DEPTH {
                    return Next::Lost;
                }
                self.open.push(n);
                Next::Line
            }
            // Bulk string, blob error, verbatim string: a length, then the bytes.
            b'$' | b'!' | b'=' => {
                let Some(n) = count().filter(|n| *n <= MAX_MESSAGE_BYTES) else { return Next::Lost };
                if n < 0 {
                    self.element_done(done);
                    return Next::Line;
                }
                // The first arguments of a top-level command are kept.
                if self.open.len() == 1 && self.msg.kind == b'*' && self.msg.parts.len() < MAX_ARGS {
                    self.msg.parts.push(Vec::new());
                    self.bulk_kept = Some(self.msg.parts.len() - 1);
                }
                // The bytes and their CR LF.
                Next::Block(n as u64 + 2)
            }
            // One-line values: simple string, error, integer, null, double, boolean,
            // big number.
            b'+' | b'-' | b':' | b'_' | b',' | b'#' | b'(' => {
                if top {
                    self.msg.parts.push(rest.to_vec());
                }
                self.element_done(done);
                Next::Line
            }
            // An inline command (a line of words), at the top only.
            _ if top => {
                let words = line.split(|b| *b == b' ').filter(|w| !w.is_empty());
                let parts = words.take(MAX_ARGS).map(|w| w[..w.len().min(MAX_ARG)].to_vec()).collect();
                self.msg = Message { kind: b'*', parts, bytes: 0 };
                self.element_done(done);
                Next::Line
            }
            _ => Next::Lost,
        }
    }

    /// One value ended: it counts toward its aggregate, and a message ends when
    /// nothing is open.
    fn element_done(&mut self, done: &mut impl FnMut(Message)) {
        while let Some(left) = self.open.last_mut() {
            *left -= 1;
            if *left > 0 {
                return;
            }
            self.open.pop();
        }
        let mut m = std::mem::take(&mut self.msg);
        m.bytes = std::mem::take(&mut self.read);
        done(m);
    }
}

/// A bulk string's length claimed at most (Redis's own limit is 512 MiB).
const MAX_MESSAGE_BYTES: i64 = 512 << 20;

/// Commands whose first argument is not a key.
const NOT_KEYED: &[&str] = &[
    "ACL",
    "AUTH",
    "CLIENT",
    "CLUSTER",
    "COMMAND",
    "CONFIG",
    "DEBUG",
    "ECHO",
    "EVAL",
    "EVALSHA",
    "EVAL_RO",
    "EVALSHA_RO",
    "FCALL",
    "FLUSHALL",
    "FLUSHDB",
    "FUNCTION",
    "HELLO",
    "INFO",
    "LATENCY",
    "MEMORY",
    "MODULE",
    "OBJECT",
    "PING",
    "PSUBSCRIBE",
    "PUBLISH",
    "PUBSUB",
    "PUNSUBSCRIBE",
    "SCRIPT",
    "SELECT",
    "SHUTDOWN",
    "SLOWLOG",
    "SPUBLISH",
    "SSUBSCRIBE",
    "SUBSCRIBE",
    "SUNSUBSCRIBE",
    "SWAPDB",
    "UNSUBSCRIBE",
    "WAIT",
    "XINFO",
    "XGROUP",
];

#[derive(Default)]
pub struct Redis {
    readers: [Reader; 2],
    /// Commands waiting for replies.
    pending: std::collections::VecDeque<crate::kit::Asked>,
    /// A subscribed connection receives messages no command asked for.
    subscribed: bool,
}

impl Redis {
    fn command(&mut self, m: &Message, rec: &mut SessionRecord) {
        let args = &m.parts;
        let Some(name) = args.first() else { return };
        let name = String::from_utf8_lossy(name).to_ascii_uppercase();
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.') {
            return;
        }
        put_text(rec, text_field!("redis.command"), &name);
        let arg = |i: usize| args.get(i).map(|a| &a[..]);
        let user = match name.as_str() {
            "AUTH" if args.len() >= 3 => arg(1),
            "AUTH" => Some(&b"default"[..]),
            "HELLO" if args.len() >= 5 => {
                args.iter().position(|a| a.eq_ignore_ascii_case(b"AUTH")).and_then(|i| arg(i + 1))
            }
            _ => None,
        };
        if let Some(u) = user {
            put_text(rec, text_field!("user"), &String::from_utf8_lossy(u));
        }
        // The database a connection switches to (0 until it does).
        if let (Some(db), "SELECT") = (arg(1), name.as_str()) {
            if db.iter().all(u8::is_ascii_digit) && (1..=5).contains(&db.len()) {
                put_text(rec, text_field!("redis.db"), &String::from_utf8_lossy(db));
            }
        }
        if matches!(name.as_str(), "SUBSCRIBE" | "PSUBSCRIBE" | "SSUBSCRIBE" | "MONITOR") {
            self.subscribed = true;
        }
        let mut asked = crate::kit::Asked::new(rec, "redis", m.bytes);
        asked.note(text_field!("redis.command"), &name);
        // The first argument is a key, except for commands whose first argument is
        // a subcommand, a password, a script, a channel or a number.
        if let Some(key) = arg(1).filter(|_| !NOT_KEYED.contains(&name.as_str())) {
            let key = String::from_utf8_lossy(key);
            put_text(rec, text_field!("redis.key"), &key);
            asked.note(text_field!("redis.key"), &key);
        }
        if self.pending.len() >= MAX_PENDING {
            if let Some(old) = self.pending.pop_front() {
                old.unanswered(rec);
            }
        }
        self.pending.push_back(asked);
    }

    fn reply(&mut self, m: &Message, rec: &mut SessionRecord) {
        // Pushed messages (RESP3) answer nothing.
        if m.kind == b'>' {
            return;
        }
        // A reply with no command waiting: published messages to a subscriber, or
        // the answer to a command sent before the capture.
        let mut asked = self.pending.pop_front();
        if m.kind == b'-' {
            let text = String::from_utf8_lossy(m.parts.first().map_or(&[][..], |p| &p[..])).into_owned();
            put_text(rec, text_field!("redis.error"), &text);
            if let Some(a) = &mut asked {
                a.note(text_field!("redis.error"), &text);
            }
        }
        if let Some(mut a) = asked {
            a.answer_bytes(m.bytes);
            a.answered(rec, duration_field!("redis.response-time"));
        }
    }
}

impl Dissector for Redis {
    fn feed(&mut self, side: Side, data: &[u8], rec: &mut SessionRecord) {
        let mut messages = Vec::new();
        self.readers[side as usize].feed(data, |m| messages.push(m));
        for m in messages {
            match side {
                Side::Client => self.command(&m, rec),
                // A subscriber's replies and messages cannot be told apart by kind;
                // its timings stop at the subscription.
                Side::Server if self.subscribed => {}
                Side::Server => self.reply(&m, rec),
            }
        }
    }

    fn end(&mut self, rec: &mut SessionRecord) {
        crate::kit::Asked::file_waiting(&mut self.pending, rec);
    }

    fn gap(&mut self, side: Side, _len: u64) {
        self.readers[side as usize].text.lose();
    }

    fn wants_more(&self) -> bool {
        !self.readers[0].text.lost() || !self.readers[1].text.lost()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tyto_schema::Values;

    #[test]
    fn auth_user() {
        let auth =
            b"*3\r\n$4\r\nAUTH\r\n$5\r\nalice\r\n$6\r\nsecret\r\n*2\r\n$6\r\nSELECT\r\n$1\r\n3\r\n*1\r\n$4\r\nPING\r\n";
        assert_eq!(probe(Side::Client, auth), Probe::Match);
        assert_eq!(probe(Side::Client, &auth[..7]), Probe::NeedMore);
        assert_eq!(probe(Side::Client, b"*3\r\nGET"), Probe::NoMatch);
        assert_eq!(probe(Side::Client, b"GET / HTTP/1.1\r\n"), Probe::NoMatch);
        // A command too long to wait for is told by its name.
        let mut set = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$100000\r\n".to_vec();
        set.extend_from_slice(&[b'v'; 5000]);
        assert_eq!(probe(Side::Client, &set), Probe::Match);
        set[9..12].copy_from_slice(b"S3T");
        assert_eq!(probe(Side::Client, &set), Probe::NoMatch);
        let mut rec = SessionRecord::default();
        let mut r = Redis::default();
        for c in auth.chunks(5) {
            r.feed(Side::Client, c, &mut rec);
        }
        assert_eq!(rec.extra.get("user"), Some(&Values::Text(vec!["alice".into()])));
        assert_eq!(rec.extra.get("redis.db"), Some(&Values::Text(vec!["3".into()])));
        assert_eq!(
            rec.extra.get("redis.command"),
            Some(&Values::Text(vec!["AUTH".into(), "SELECT".into(), "PING".into()]))
        );
    }

    /// Commands and replies paired in order in every segmentation (pipelined, a
    /// large value passing through, an error, RESP3 aggregates and a push, an inline
    /// command); nothing of the value is held.
    #[test]
    fn commands_replies_errors_and_response_times() {
        let big = vec![b'v'; 100_000];
        let mut set = format!("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n${}\r\n", big.len()).into_bytes();
        set.extend_from_slice(&big);
        set.extend_from_slice(b"\r\n");
        let client: Vec<(i64, Vec<u8>)> = vec![
            (0, [set, b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n".to_vec()].concat()),
            (100, b"*3\r\n$5\r\nDEBUG\r\n$5\r\nSLEEP\r\n$3\r\n0.3\r\n".to_vec()),
            (500, b"*1\r\n$4\r\nNOPE\r\n".to_vec()),
            (600, b"*2\r\n$7\r\nHGETALL\r\n$1\r\nh\r\n".to_vec()),
            (700, b"PING\r\n".to_vec()),
        ];
        let mut get = format!("${}\r\n", big.len()).into_bytes();
        get.extend_from_slice(&big);
        get.extend_from_slice(b"\r\n");
        let server: Vec<(i64, Vec<u8>)> = vec![
            (5, [b"+OK\r\n".to_vec(), get].concat()),
            (401, b"+OK\r\n".to_vec()),
            (502, b"-ERR unknown command 'NOPE'\r\n".to_vec()),
            (603, b">2\r\n$7\r\nmessage\r\n$1\r\nx\r\n%1\r\n$1\r\na\r\n*2\r\n:1\r\n_\r\n".to_vec()),
            (710, b"+PONG\r\n".to_vec()),
        ];
        for split in [1, 3, 1000, 200_000] {
            let mut r = Redis::default();
            let mut rec = SessionRecord { transactions: Some(Default::default()), ..SessionRecord::default() };
            for ((tc, c), (ts, s)) in client.iter().zip(&server) {
                for (t, side, bytes) in [(tc, Side::Client, c), (ts, Side::Server, s)] {
                    rec.stop_ns = t * 1_000_000;
                    for part in bytes.chunks(split) {
                        r.feed(side, part, &mut rec);
                    }
                }
            }
            let names = ["SET", "GET", "DEBUG", "NOPE", "HGETALL", "PING"];
            assert_eq!(
                rec.extra.get("redis.command"),
                Some(&Values::Text(names.iter().map(|n| n.to_string()).collect())),
                "split {split}"
            );
            assert_eq!(
                rec.extra.get("redis.response-time"),
                Some(&Values::Int(vec![5_000, 301_000, 2_000, 3_000, 10_000]))
            );
            assert_eq!(rec.extra.get("redis.error"), Some(&Values::Text(vec!["ERR unknown command 'NOPE'".into()])));
            assert!(r.readers.iter().all(|d| d.text.idle() && d.open.is_empty() && !d.text.lost()));
            // One transaction a command, with the same times, its key, sizes and error.
            let list = &rec.transactions.as_ref().unwrap().list;
            let took: Vec<Option<i64>> = list.iter().map(|t| t.response_us).collect();
            let ms = |v: i64| Some(v * 1000);
            assert_eq!(took, [ms(5), ms(5), ms(301), ms(2), ms(3), ms(10)], "split {split}");
            let text = |t: &tyto_schema::Transaction, f: &str| match t.values.get(f) {
                Some(Values::Text(v)) => v.join(","),
                _ => String::new(),
            };
            let keys: Vec<String> = list.iter().map(|t| text(t, "redis.key")).collect();
            assert_eq!(keys, ["k", "k", "", "", "h", ""], "DEBUG's SLEEP is a subcommand");
            let failed: Vec<Option<bool>> = list.iter().map(|t| t.failed()).collect();
            assert_eq!(failed, [Some(false), Some(false), Some(false), Some(true), Some(false), Some(false)]);
            assert_eq!(list[0].request_bytes as usize, client[0].1.len() - 20, "SET, without the GET after it");
            assert_eq!(list[1].response_bytes as usize, server[0].1.len() - 5, "the value, without SET's +OK");
            assert_eq!(rec.extra.get("redis.key"), Some(&Values::Text(vec!["k".into(), "h".into()])));
        }
        // Claims past the bounds end the reading, holding nothing.
        let mut r = Redis::default();
        let mut rec = SessionRecord::default();
        r.feed(Side::Server, b"*99999999999\r\n", &mut rec);
        assert!(r.readers[1].text.lost());
        r.feed(Side::Client, &b"*1\r\n".repeat(20), &mut rec);
        assert!(!r.wants_more());
    }
}
