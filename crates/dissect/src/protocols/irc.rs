//! IRC (RFC 1459/2812) on any port: registration (`NICK`, `USER`, `PASS`, `CAP`) or
//! a server's prefixed lines; the nicknames set and the channels joined.

use tyto_schema::SessionRecord;

use crate::kit::lines::{after_ci, trim, LineReader};
use crate::kit::put_text;
use crate::{Dissector, Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "irc",
    transports: &[Transport::Tcp],
    ports: &[6667],
    probe,
    new: || Box::<Irc>::default(),
    later: None,
};

/// Commands read from the client; the rest of a long chat is not.
const MAX_LINES: u32 = 2000;

/// The command of a line, after an optional `:prefix`.
fn command(line: &[u8]) -> Option<(&[u8], &[u8])> {
    let line = if line.first() == Some(&b':') {
        let sp = line.iter().position(|b| *b == b' ')?;
        &line[sp + 1..]
    } else {
        line
    };
    let sp = line.iter().position(|b| *b == b' ').unwrap_or(line.len());
    Some((&line[..sp], line.get(sp + 1..).unwrap_or(&[])))
}

pub fn probe(side: Side, data: &[u8]) -> Probe {
    let Some(nl) = data.iter().position(|b| *b == b'\n') else {
        return if data.len() < 512 { Probe::NeedMore } else { Probe::NoMatch };
    };
    let line = trim(&data[..nl]);
    let ok = match side {
        // `USER` also opens FTP and POP3 logins: IRC's has four parameters.
        Side::Client => match command(line) {
            Some((b"NICK" | b"PASS" | b"CAP", args)) => !args.is_empty(),
            Some((b"USER", args)) => args.split(|b| *b == b' ').count() >= 4,
            _ => false,
        },
        // `:server 001 nick :Welcome`, `:server NOTICE * :*** Looking up your hostname`
        Side::Server => {
            line.first() == Some(&b':')
                && command(line).is_some_and(|(c, args)| {
                    !args.is_empty() && (c == b"NOTICE" || c.len() == 3 && c.iter().all(u8::is_ascii_digit))
                })
        }
    };
    Probe::from(ok)
}

#[derive(Default)]
pub struct Irc {
    lines: LineReader,
    seen: u32,
}

impl Dissector for Irc {
    fn feed(&mut self, side: Side, data: &[u8], rec: &mut SessionRecord) {
        if side == Side::Server || self.seen >= MAX_LINES {
            return;
        }
        let seen = &mut self.seen;
        self.lines.feed(data, |line| {
            *seen += 1;
            let line = trim(line);
            if let Some(nick) = after_ci(line, b"NICK ") {
                let nick = nick.split(|b| *b == b' ').next().unwrap_or(nick);
                let nick = nick.strip_prefix(b":").unwrap_or(nick);
                if !nick.is_empty() {
                    put_text(rec, text_field!("irc.nick"), &String::from_utf8_lossy(nick));
                }
            } else if after_ci(line, b"PASS ").is_some() || after_ci(line, b"USER ").is_some() {
                crate::risk::add(rec, crate::risk::Risk::ClearTextCredentials);
            } else if let Some(channels) = after_ci(line, b"JOIN ") {
                // The channel list as given (`#a,#b`), without keys.
                let channels = channels.split(|b| *b == b' ').next().unwrap_or(channels);
                if !channels.is_empty() && channels != b"0" {
                    put_text(rec, text_field!("irc.channel"), &String::from_utf8_lossy(channels));
                }
            }
            *seen < MAX_LINES
        });
    }

    fn gap(&mut self, side: Side, _len: u64) {
        if side == Side::Client {
            self.lines.reset();
        }
    }

    fn wants_more(&self) -> bool {
        self.seen < MAX_LINES
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tyto_schema::Values;

    #[test]
    fn registration_and_joins() {
        assert_eq!(probe(Side::Client, b"CAP LS 302\r\nNICK bob\r\n"), Probe::Match);
        assert_eq!(probe(Side::Client, b"NICK bob\r\n"), Probe::Match);
        assert_eq!(probe(Side::Server, b":irc.example.net NOTICE * :*** Looking up your hostname\r\n"), Probe::Match);
        assert_eq!(probe(Side::Server, b":irc.example.net 001 bob :Welcome\r\n"), Probe::Match);
        assert_eq!(probe(Side::Client, b"GET / HTTP/1.1\r\n"), Probe::NoMatch);
        assert_eq!(probe(Side::Client, b"NICK"), Probe::NeedMore);
        let mut rec = SessionRecord::default();
        let mut i = Irc::default();
        i.feed(
            Side::Client,
            b"NICK johndoe\r\nUSER john 0 * :John\r\nJOIN #programming,#security\r\nPRIVMSG #a :hi\r\n",
            &mut rec,
        );
        assert_eq!(rec.extra.get("irc.nick"), Some(&Values::Text(vec!["johndoe".into()])));
        assert_eq!(rec.extra.get("irc.channel"), Some(&Values::Text(vec!["#programming,#security".into()])));
    }
}
