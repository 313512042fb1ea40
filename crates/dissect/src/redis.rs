//! Redis (RESP 2 and 3): commands sent as arrays of bulk strings. The user of
//! `AUTH user password` or `HELLO 3 AUTH user password` goes into `user`, the
//! database of `SELECT n` into `redis.db`.

use tyto_schema::SessionRecord;

use crate::{put_text, Dissector, Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "redis",
    transports: &[Transport::Tcp],
    ports: &[6379],
    probe,
    new: || Box::<Redis>::default(),
    later: None,
};

/// Authentication comes first; a few commands are enough.
const MAX_COMMANDS: u32 = 8;
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

pub fn probe(side: Side, data: &[u8]) -> Probe {
    if side == Side::Server {
        return Probe::NeedMore;
    }
    match command(data) {
        None => Probe::NoMatch,
        Some(None) if data.len() < MAX_BUFFER => Probe::NeedMore,
        Some(None) => Probe::NoMatch,
        // The command name is letters.
        Some(Some((args, _))) => Probe::from(args[0].iter().all(u8::is_ascii_alphabetic)),
    }
}

#[derive(Default)]
pub struct Redis {
    buf: Vec<u8>,
    commands: u32,
}

impl Dissector for Redis {
    fn feed(&mut self, side: Side, data: &[u8], rec: &mut SessionRecord) {
        if side == Side::Server || self.commands >= MAX_COMMANDS {
            return;
        }
        let room = MAX_BUFFER.saturating_sub(self.buf.len());
        self.buf.extend_from_slice(&data[..data.len().min(room)]);
        while self.commands < MAX_COMMANDS && !self.buf.is_empty() {
            let (args, used) = match command(&self.buf) {
                Some(Some(c)) => c,
                // Not RESP, or a command longer than the buffer: nothing more to read.
                None => {
                    self.commands = MAX_COMMANDS;
                    return;
                }
                Some(None) => {
                    if self.buf.len() >= MAX_BUFFER {
                        self.commands = MAX_COMMANDS;
                    }
                    return;
                }
            };
            self.commands += 1;
            let name = String::from_utf8_lossy(args[0]).to_ascii_uppercase();
            let user = match (name.as_str(), args.len()) {
                ("AUTH", 3) => Some(args[1]),
                ("AUTH", _) => Some(&b"default"[..]),
                ("HELLO", n) if n >= 5 => {
                    args.iter().position(|a| a.eq_ignore_ascii_case(b"AUTH")).and_then(|i| args.get(i + 1).copied())
                }
                _ => None,
            };
            if let Some(u) = user {
                put_text(rec, "user", &String::from_utf8_lossy(u));
            }
            // The database a connection switches to (0 until it does).
            if name == "SELECT" && args.len() == 2 && args[1].iter().all(u8::is_ascii_digit) && args[1].len() <= 5 {
                put_text(rec, "redis.db", &String::from_utf8_lossy(args[1]));
            }
            self.buf.drain(..used);
        }
    }

    fn gap(&mut self, _side: Side, _len: u64) {
        self.commands = MAX_COMMANDS;
    }

    fn wants_more(&self) -> bool {
        self.commands < MAX_COMMANDS
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
        let mut rec = SessionRecord::default();
        let mut r = Redis::default();
        for c in auth.chunks(5) {
            r.feed(Side::Client, c, &mut rec);
        }
        assert_eq!(rec.extra.get("user"), Some(&Values::Text(vec!["alice".into()])));
        assert_eq!(rec.extra.get("redis.db"), Some(&Values::Text(vec!["3".into()])));
        assert_eq!(r.commands, 3);
    }
}
