//! Memcached over TCP, both of its protocols. Text: a command line (`get k1 k2`,
//! `set k flags exptime bytes [noreply]` followed by a data block), answered by a
//! line (`STORED`, `NOT_FOUND`, `CLIENT_ERROR …`) or, for retrievals and `stats`,
//! by values or lines up to `END`. Binary: 24-byte headers (magic 0x80 asking,
//! 0x81 answering) whose `opaque` pairs an answer with its request. From each
//! request: the command, the key it names and the time to its answer; from each answer that is an
//! error, its status. Values pass without being held.

use tyto_schema::SessionRecord;

use crate::kit::lines::{LinesAndBlocks, Next, Piece};
use crate::kit::messages::{Framed, HandOn};
use crate::kit::put_text;
use crate::{Dissector, Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "memcache",
    transports: &[Transport::Tcp],
    ports: &[11211],
    probe,
    new: || Box::<Memcache>::default(),
    later: Some(probe),
};

/// A command or answer line is short; longer is not memcached (keys are 250 bytes).
const MAX_LINE: usize = 2048;
/// Requests waiting for answers at most.
const MAX_PENDING: usize = 256;
/// A data block's size claimed at most (memcached's default item limit is 1 MiB;
/// it can be raised to 1 GiB).
const MAX_BLOCK: usize = 1 << 30;

/// Text commands, and whether a data block follows the line.
const COMMANDS: &[(&str, bool)] = &[
    ("get", false),
    ("gets", false),
    ("gat", false),
    ("gats", false),
    ("set", true),
    ("add", true),
    ("replace", true),
    ("append", true),
    ("prepend", true),
    ("cas", true),
    ("delete", false),
    ("incr", false),
    ("decr", false),
    ("touch", false),
    ("stats", false),
    ("version", false),
    ("flush_all", false),
    ("verbosity", false),
    ("quit", false),
    ("mn", false),
    ("mg", false),
    ("ms", true),
    ("md", false),
    ("ma", false),
];

/// Binary opcodes' names (the quiet variants answer only on error).
fn binary_command(op: u8) -> &'static str {
    match op {
        0x00 | 0x09 => "get",
        0x0c | 0x0d => "getk",
        0x01 | 0x11 => "set",
        0x02 | 0x12 => "add",
        0x03 | 0x13 => "replace",
        0x04 | 0x14 => "delete",
        0x05 | 0x15 => "incr",
        0x06 | 0x16 => "decr",
        0x07 | 0x17 => "quit",
        0x08 | 0x18 => "flush",
        0x0a => "noop",
        0x0b => "version",
        0x0e | 0x19 => "append",
        0x0f | 0x1a => "prepend",
        0x10 => "stat",
        0x1c => "touch",
        0x1d | 0x1e => "gat",
        0x20 => "sasl-list-mechs",
        0x21 => "sasl-auth",
        0x22 => "sasl-step",
        _ => "other",
    }
}

/// Answers that are errors (text), as their first word.
const ERRORS: &[&[u8]] = &[b"ERROR", b"CLIENT_ERROR", b"SERVER_ERROR"];

fn text_command(line: &[u8]) -> Option<(&'static str, bool)> {
    let word = line.split(|b| *b == b' ' || *b == b'\r' || *b == b'\n').next()?;
    COMMANDS.iter().find(|(c, _)| c.as_bytes() == word).map(|(c, block)| (*c, *block))
}

pub fn probe(side: Side, data: &[u8]) -> Probe {
    match data.first() {
        None => Probe::NeedMore,
        // A binary header: magic, a known opcode, a body that holds key and extras.
        Some(&m @ (0x80 | 0x81)) => {
            let Some(h) = data.get(..24) else { return Probe::NeedMore };
            let asking = m == 0x80;
            if asking != (side == Side::Client) {
                return Probe::NoMatch;
            }
            let key = u16::from_be_bytes([h[2], h[3]]) as u32;
            let body = u32::from_be_bytes([h[8], h[9], h[10], h[11]]);
            let command = binary_command(h[1]);
            // Storage and retrieval name a key (a Skinny register message reads as
            // a keyless get).
            let keyed = !matches!(command, "quit" | "flush" | "noop" | "version" | "stat" | "other")
                && !command.starts_with("sasl");
            Probe::from(command != "other" && h[5] == 0 && key + h[4] as u32 <= body && (key > 0 || !keyed))
        }
        Some(_) => {
            let Some(end) = data.iter().position(|b| *b == b'\n') else {
                return if data.len() < 64 { Probe::NeedMore } else { Probe::NoMatch };
            };
            let line = &data[..end];
            if line.last() != Some(&b'\r') {
                return Probe::NoMatch;
            }
            match side {
                // A command with its arguments (a key at least, but for a few).
                Side::Client => Probe::from(text_command(line).is_some_and(|(c, _)| {
                    line.len() > c.len() + 1 || matches!(c, "stats" | "version" | "quit" | "flush_all" | "mn")
                })),
                Side::Server => Probe::from(
                    [&b"VALUE "[..], b"STAT ", b"STORED\r", b"END\r", b"VERSION ", b"DELETED\r"]
                        .iter()
                        .any(|p| line.starts_with(p) || (p.ends_with(b"\r") && line == &p[..p.len()])),
                ),
            }
        }
    }
}

/// What one direction is reading.
#[derive(Default)]
struct Reader {
    /// The text protocol's lines and the data blocks they announce.
    text: LinesAndBlocks,
    /// The binary protocol's 24-byte headers and their bodies.
    packets: Framed,
    lost: bool,
}

/// A binary packet's extras and key: what is kept of its body (keys are at most 250
/// bytes; a longer length is cut there).
fn extras_and_key(h: &[u8]) -> usize {
    usize::from(h[4]) + usize::from(u16::from_be_bytes([h[2], h[3]])).min(250)
}

/// A text request waiting for its answer: when sent, and whether its answer runs to
/// `END`.
struct Waiting {
    asked: crate::kit::Asked,
    to_end: bool,
    /// A binary request's opaque.
    opaque: Option<u32>,
}

#[derive(Default)]
pub struct Memcache {
    readers: [Reader; 2],
    pending: std::collections::VecDeque<Waiting>,
    /// The binary protocol is spoken.
    binary: Option<bool>,
}

impl Memcache {
    /// A command line (`wire` bytes with its CR LF); what follows it.
    fn request_line(&mut self, line: &[u8], wire: usize, rec: &mut SessionRecord) -> Next {
        let Some((command, block)) = text_command(line) else { return Next::Line };
        put_text(rec, text_field!("memcache.command"), command);
        let words: Vec<&[u8]> = line.trim_ascii_end().split(|b| *b == b' ').filter(|w| !w.is_empty()).collect();
        let mut asked = crate::kit::Asked::new(rec, "memcache", wire);
        asked.note(text_field!("memcache.command"), command);
        if let Some(key) = words.get(1).filter(|_| !matches!(command, "stats" | "version" | "verbosity" | "flush_all"))
        {
            let key = String::from_utf8_lossy(key);
            put_text(rec, text_field!("memcache.key"), &key);
            asked.note(text_field!("memcache.key"), &key);
        }
        let mut next = Next::Line;
        if block {
            // `set key flags exptime bytes [noreply]` (`cas` has its unique after bytes;
            // the meta `ms key datalen flags…`).
            let size_at = if command == "ms" { 2 } else { 4 };
            let size = words.get(size_at).and_then(|w| std::str::from_utf8(w).ok()?.parse::<usize>().ok());
            next = match size {
                // The data and its CR LF pass.
                Some(n) if n <= MAX_BLOCK => Next::Block(n as u64 + 2),
                _ => Next::Lost,
            };
        }
        let noreply = words.last() == Some(&&b"noreply"[..]) || (command.len() == 2 && words.iter().any(|w| w == b"q"));
        if noreply || command == "quit" {
            return next;
        }
        let to_end = matches!(command, "get" | "gets" | "gat" | "gats" | "stats");
        self.push(Waiting { asked, to_end, opaque: None }, rec);
        next
    }

    /// An answer line (`wire` bytes with its CR LF); what follows it.
    fn answer_line(&mut self, line: &[u8], wire: usize, rec: &mut SessionRecord) -> Next {
        let word = line.split(|b| *b == b' ').next().unwrap_or_default();
        if let Some(w) = self.pending.front_mut() {
            w.asked.answer_bytes(wire);
        }
        if word == b"VALUE" {
            // `VALUE key flags bytes [cas]`: its block passes.
            let size = line.trim_ascii_end().split(|b| *b == b' ').nth(3);
            return match size.and_then(|w| std::str::from_utf8(w).ok()?.parse::<usize>().ok()) {
                Some(n) if n <= MAX_BLOCK => {
                    if let Some(w) = self.pending.front_mut() {
                        w.asked.answer_bytes(n + 2);
                    }
                    Next::Block(n as u64 + 2)
                }
                _ => Next::Lost,
            };
        }
        // Lines of a multi-line answer, before its END.
        if self.pending.front().is_some_and(|w| w.to_end) && word == b"STAT" {
            return Next::Line;
        }
        if ERRORS.contains(&word) {
            let status = String::from_utf8_lossy(line.trim_ascii_end());
            put_text(rec, text_field!("memcache.status"), &status);
            if let Some(w) = self.pending.front_mut() {
                w.asked.note(text_field!("memcache.status"), &status);
            }
        }
        let ends = self.pending.front().is_none_or(|w| !w.to_end) || word == b"END" || ERRORS.contains(&word);
        if ends {
            if let Some(w) = self.pending.pop_front() {
                w.asked.answered(rec, duration_field!("memcache.response-time"));
            }
        }
        Next::Line
    }

    fn push(&mut self, w: Waiting, rec: &mut SessionRecord) {
        if self.pending.len() >= MAX_PENDING {
            if let Some(old) = self.pending.pop_front() {
                old.asked.unanswered(rec);
            }
        }
        self.pending.push_back(w);
    }

    /// One binary packet, from its header and the start of its body (extras, then
    /// key): a request remembered by its opaque, an answer timed.
    fn binary_packet(&mut self, side: Side, h: &[u8], kept: &[u8], rec: &mut SessionRecord) {
        let opaque = u32::from_be_bytes([h[12], h[13], h[14], h[15]]);
        match side {
            Side::Client => {
                let command = binary_command(h[1]);
                put_text(rec, text_field!("memcache.command"), command);
                let body = u32::from_be_bytes([h[8], h[9], h[10], h[11]]) as usize;
                let mut asked = crate::kit::Asked::new(rec, "memcache", h.len() + body);
                asked.note(text_field!("memcache.command"), command);
                // Keys are text without spaces or control characters, in both protocols.
                let key = kept
                    .get(usize::from(h[4])..)
                    .filter(|k| !k.is_empty() && k.iter().all(|b| (0x21..0x7f).contains(b) || *b >= 0x80));
                if let Some(key) = key {
                    let key = String::from_utf8_lossy(key);
                    put_text(rec, text_field!("memcache.key"), &key);
                    asked.note(text_field!("memcache.key"), &key);
                }
                self.push(Waiting { asked, to_end: false, opaque: Some(opaque) }, rec);
            }
            Side::Server => {
                let status = u16::from_be_bytes([h[6], h[7]]);
                let body = u32::from_be_bytes([h[8], h[9], h[10], h[11]]) as usize;
                let at = self.pending.iter().position(|w| w.opaque == Some(opaque));
                let mut w = at.and_then(|i| self.pending.remove(i));
                if status != 0 {
                    let status = format!("0x{status:04x}");
                    put_text(rec, text_field!("memcache.status"), &status);
                    if let Some(w) = &mut w {
                        w.asked.note(text_field!("memcache.status"), &status);
                    }
                }
                if let Some(mut w) = w {
                    w.asked.answer_bytes(h.len() + body);
                    w.asked.answered(rec, duration_field!("memcache.response-time"));
                }
            }
        }
    }
}

impl Dissector for Memcache {
    fn feed(&mut self, side: Side, data: &[u8], rec: &mut SessionRecord) {
        let i = side as usize;
        if self.binary.is_none() {
            if let Some(&first) = data.first() {
                self.binary = Some(matches!(first, 0x80 | 0x81));
            }
        }
        if self.readers[i].lost || data.is_empty() {
            return;
        }
        if self.binary == Some(true) {
            let magic = if side == Side::Client { 0x80 } else { 0x81 };
            let body_len = |h: &[u8]| (h[0] == magic).then(|| u32::from_be_bytes([h[8], h[9], h[10], h[11]]) as usize);
            // A request is known once its key is held; an answer by its header.
            let keep = |h: &[u8]| if side == Side::Client { extras_and_key(h) } else { 0 };
            let mut packets = std::mem::take(&mut self.readers[i].packets);
            let framed = packets.feed(data, 24, HandOn::WhenKept, body_len, keep, |h, kept, _| {
                self.binary_packet(side, h, kept, rec);
            });
            self.readers[i].packets = packets;
            self.readers[i].lost = !framed;
            return;
        }
        let mut text = std::mem::take(&mut self.readers[i].text);
        let going = text.feed(data, MAX_LINE, |piece| match piece {
            // A longer line is no memcached.
            Piece::Line { cut: true, .. } => Next::Lost,
            Piece::Line { text, wire, .. } => match side {
                Side::Client => self.request_line(text, wire, rec),
                Side::Server => self.answer_line(text, wire, rec),
            },
            Piece::Block { .. } => Next::Line,
        });
        self.readers[i].text = text;
        self.readers[i].lost = !going;
    }

    fn end(&mut self, rec: &mut SessionRecord) {
        crate::kit::Asked::file_waiting(self.pending.iter_mut().map(|w| &mut w.asked), rec);
    }

    fn gap(&mut self, side: Side, _len: u64) {
        self.readers[side as usize].lost = true;
    }

    fn wants_more(&self) -> bool {
        !self.readers[0].lost || !self.readers[1].lost
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tyto_schema::Values;

    #[test]
    fn probes_both_protocols_from_either_side() {
        assert_eq!(probe(Side::Client, b"get user:1\r\n"), Probe::Match);
        assert_eq!(probe(Side::Client, b"set k 0 0 5\r\nhello\r\n"), Probe::Match);
        assert_eq!(probe(Side::Client, b"stats\r\n"), Probe::Match);
        assert_eq!(probe(Side::Client, b"get"), Probe::NeedMore);
        assert_eq!(probe(Side::Client, b"GET / HTTP/1.1\r\n"), Probe::NoMatch);
        assert_eq!(probe(Side::Client, b"get\r\n"), Probe::NoMatch, "a get names a key");
        assert_eq!(probe(Side::Server, b"VALUE k 0 5\r\nhello\r\nEND\r\n"), Probe::Match);
        assert_eq!(probe(Side::Server, b"STORED\r\n"), Probe::Match);
        assert_eq!(probe(Side::Server, b"220 smtp ready\r\n"), Probe::NoMatch);
        let mut get = vec![0x80, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 7];
        get.extend_from_slice(&[0; 8]);
        get.push(b'k');
        assert_eq!(probe(Side::Client, &get), Probe::Match);
        assert_eq!(probe(Side::Server, &get), Probe::NoMatch, "a request's magic from the server");
        assert_eq!(probe(Side::Client, &get[..10]), Probe::NeedMore);
        // A get without a key is not memcached: here a Skinny register message.
        let skinny = crate::kit::unhex("80000000 00000000 01000000 4e4f4e5345435552455f434f4e46000000000000");
        assert_eq!(probe(Side::Client, &skinny), Probe::NoMatch);
        let mut noop = vec![0x80, 0x0a];
        noop.extend_from_slice(&[0; 22]);
        assert_eq!(probe(Side::Client, &noop), Probe::Match, "a noop names no key");
    }

    /// Text requests timed to their answers in every segmentation: a retrieval
    /// with two values (passing through), a store, a quiet store, stats, an error.
    #[test]
    fn text_commands_answers_and_times() {
        let big = "v".repeat(100_000);
        let exchange: Vec<(i64, Side, Vec<u8>)> = vec![
            (0, Side::Client, format!("set big 0 0 {}\r\n{big}\r\n", big.len()).into_bytes()),
            (2, Side::Server, b"STORED\r\n".to_vec()),
            (10, Side::Client, b"set quiet 0 0 1 noreply\r\nx\r\nget big quiet\r\n".to_vec()),
            (
                15,
                Side::Server,
                format!("VALUE big 0 {}\r\n{big}\r\nVALUE quiet 0 1\r\nx\r\nEND\r\n", big.len()).into_bytes(),
            ),
            (20, Side::Client, b"stats\r\nbogus\r\n".to_vec()),
            (24, Side::Server, b"STAT pid 1\r\nSTAT uptime 5\r\nEND\r\nERROR\r\n".to_vec()),
        ];
        for split in [1, 4, 1000, 200_000] {
            let mut m = Memcache::default();
            let mut rec = SessionRecord::default();
            for (t, side, bytes) in &exchange {
                rec.stop_ns = t * 1_000_000;
                for part in bytes.chunks(split) {
                    m.feed(*side, part, &mut rec);
                }
            }
            assert_eq!(
                rec.extra.get("memcache.command"),
                Some(&Values::Text(vec!["set".into(), "get".into(), "stats".into()])),
                "split {split}"
            );
            // `bogus` is no command: its ERROR answers nothing waiting.
            assert_eq!(rec.extra.get("memcache.response-time"), Some(&Values::Int(vec![2_000, 5_000, 4_000])));
            assert_eq!(rec.extra.get("memcache.status"), Some(&Values::Text(vec!["ERROR".into()])));
            assert!(m.readers.iter().all(|r| !r.lost && r.text.idle()));
        }
    }

    /// Binary answers pair with their requests by opaque, out of order too; a
    /// request's key is read after its extras, in any segmentation.
    #[test]
    fn binary_answers_pair_by_opaque() {
        let packet = |magic: u8, op: u8, status: u16, extras: &[u8], key: &[u8], value: &[u8], opaque: u32| {
            let mut h = vec![magic, op];
            h.extend_from_slice(&(key.len() as u16).to_be_bytes());
            h.extend_from_slice(&[extras.len() as u8, 0]);
            h.extend_from_slice(&status.to_be_bytes());
            h.extend_from_slice(&((extras.len() + key.len() + value.len()) as u32).to_be_bytes());
            h.extend_from_slice(&opaque.to_be_bytes());
            h.extend_from_slice(&[0; 8]);
            [h, extras.to_vec(), key.to_vec(), value.to_vec()].concat()
        };
        let requests =
            [packet(0x80, 0x00, 0, b"", b"a", b"", 1), packet(0x80, 0x01, 0, &[0; 8], b"k2", &[b'x'; 5000], 2)]
                .concat();
        for split in [1, 7, 24, 30, 6000] {
            let mut m = Memcache::default();
            let mut rec = SessionRecord::default();
            for part in requests.chunks(split) {
                m.feed(Side::Client, part, &mut rec);
            }
            rec.stop_ns = 3_000_000;
            m.feed(Side::Server, &packet(0x81, 0x01, 0, b"", b"", b"", 2), &mut rec);
            rec.stop_ns = 9_000_000;
            for part in packet(0x81, 0x00, 1, b"", b"", b"Not found", 1).chunks(split) {
                m.feed(Side::Server, part, &mut rec);
            }
            assert_eq!(rec.extra.get("memcache.command"), Some(&Values::Text(vec!["get".into(), "set".into()])));
            assert_eq!(rec.extra.get("memcache.key"), Some(&Values::Text(vec!["a".into(), "k2".into()])), "{split}");
            assert_eq!(rec.extra.get("memcache.response-time"), Some(&Values::Int(vec![3_000, 9_000])));
            assert_eq!(rec.extra.get("memcache.status"), Some(&Values::Text(vec!["0x0001".into()])));
            assert!(m.pending.is_empty());
            assert!(m.wants_more());
        }
        // Another magic where a request's is due: the framing is given up.
        let mut m = Memcache::default();
        let mut rec = SessionRecord::default();
        m.feed(Side::Client, &packet(0x80, 0x00, 0, b"", b"a", b"", 1), &mut rec);
        m.feed(Side::Client, &packet(0x81, 0x00, 0, b"", b"b", b"", 2), &mut rec);
        assert!(m.readers[0].lost);
    }
}
