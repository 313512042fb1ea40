//! IMAP (RFC 9051): recognised by its greeting or tagged commands, followed as far
//! as STARTTLS, after which the connection is classified afresh; the mailboxes
//! opened (SELECT, EXAMINE) are the session's `email.folder`.

use tyto_schema::SessionRecord;

use crate::kit::lines::{starts_with_ci, trim, LineReader};
use crate::kit::upgrade::Upgrade;
use crate::kit::{ntlm, put_text};
use crate::{Dissector, Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "imap",
    transports: &[Transport::Tcp],
    ports: &[143],
    probe,
    new: || Box::new(Imap::default()),
    later: None,
};

const COMMANDS: &[&[u8]] = &[b"CAPABILITY", b"LOGIN ", b"STARTTLS", b"AUTHENTICATE ", b"ID ", b"NOOP"];

pub fn probe(side: Side, data: &[u8]) -> Probe {
    let Some(nl) = data.iter().position(|b| *b == b'\n') else {
        return if data.len() < 64 { Probe::NeedMore } else { Probe::NoMatch };
    };
    let line = trim(&data[..nl]);
    let ok = match side {
        Side::Server => [&b"* OK"[..], b"* PREAUTH", b"* BYE"].iter().any(|g| starts_with_ci(line, g)),
        Side::Client => match line.iter().position(|b| *b == b' ') {
            // A tag is letters and digits, then one known command, with its
            // arguments where it takes some (SMTP's and POP3's `AUTH LOGIN` is not
            // IMAP's `LOGIN`, which names a user and a password).
            Some(sp) if sp > 0 && line[..sp].iter().all(u8::is_ascii_alphanumeric) => {
                let cmd = &line[sp + 1..];
                COMMANDS.iter().any(|c| starts_with_ci(cmd, c))
            }
            _ => false,
        },
    };
    Probe::from(ok)
}

#[derive(Default)]
pub struct Imap {
    lines: [LineReader; 2],
    /// Tag of the last STARTTLS, answered by the server's line with that tag.
    tag: Vec<u8>,
    upgrade: Upgrade,
    /// `AUTHENTICATE NTLM`: tokens after `+`.
    ntlm: ntlm::TextExchange,
    done: bool,
}

impl Dissector for Imap {
    fn feed(&mut self, side: Side, data: &[u8], rec: &mut SessionRecord) {
        if self.done {
            return;
        }
        let (tag, upgrade) = (&mut self.tag, &mut self.upgrade);
        match side {
            Side::Client => {
                let exchange = &mut self.ntlm;
                self.lines[0].feed(data, |l| {
                    let mut words = l.splitn(2, |b| *b == b' ');
                    let (t, cmd) = (words.next(), words.next());
                    exchange.client(rec, l, cmd.is_some_and(|c| starts_with_ci(c, b"AUTHENTICATE NTLM")));
                    if let (Some(t), Some(cmd)) = (t, cmd) {
                        if trim(cmd).eq_ignore_ascii_case(b"STARTTLS") {
                            *tag = t.to_vec();
                            upgrade.ask();
                        }
                        for verb in [&b"SELECT "[..], b"EXAMINE "] {
                            if starts_with_ci(cmd, verb) {
                                let name = trim(&cmd[verb.len()..]);
                                let name = name.strip_prefix(b"\"").and_then(|n| n.strip_suffix(b"\"")).unwrap_or(name);
                                if !name.is_empty() {
                                    put_text(rec, text_field!("email.folder"), &String::from_utf8_lossy(name));
                                }
                            }
                        }
                        // LOGIN carries the password as an argument.
                        if starts_with_ci(cmd, b"LOGIN ") {
                            crate::risk::add(rec, crate::risk::Risk::ClearTextCredentials);
                        }
                    }
                    true
                });
            }
            Side::Server => {
                let exchange = &mut self.ntlm;
                let used = self.lines[1].feed(data, |l| {
                    exchange.server(rec, l, b"+ ");
                    let t = tag.as_slice();
                    let answered = !t.is_empty() && l.len() > t.len() && l.starts_with(t) && l[t.len()] == b' ';
                    let ok = answered && starts_with_ci(&l[t.len() + 1..], b"OK");
                    upgrade.answer(ok, answered && !ok)
                });
                if let Some(used) = used {
                    self.upgrade.switch_at(used);
                    self.done = true;
                }
            }
        }
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
    fn starttls_hands_over_after_the_tagged_ok() {
        assert_eq!(probe(Side::Server, b"* OK [CAPABILITY IMAP4rev1] ready\r\n"), Probe::Match);
        assert_eq!(probe(Side::Client, b"a001 CAPABILITY\r\n"), Probe::Match);
        assert_eq!(probe(Side::Client, b"GET / HTTP/1.1\r\n"), Probe::NoMatch);
        assert_eq!(probe(Side::Client, b"a1 LOGIN joe secret\r\n"), Probe::Match);
        assert_eq!(probe(Side::Client, b"AUTH LOGIN\r\n"), Probe::NoMatch, "SMTP's");
        assert_eq!(probe(Side::Server, b"* OK"), Probe::NeedMore);
        let mut s = Imap::default();
        let mut rec = SessionRecord::default();
        s.feed(Side::Server, b"* OK ready\r\n", &mut rec);
        s.feed(Side::Client, b"a1 STARTTLS\r\n", &mut rec);
        s.feed(Side::Server, b"* NO x\r\na1 OK Begin TLS\r\n", &mut rec);
        assert_eq!(s.handoff(), Some(25));
        let mut s = Imap::default();
        s.feed(Side::Client, b"a1 STARTTLS\r\n", &mut rec);
        s.feed(Side::Server, b"a1 BAD no\r\n", &mut rec);
        assert_eq!(s.handoff(), None);
        assert!(s.wants_more());
    }

    #[test]
    fn opened_mailboxes_are_folders() {
        let mut s = Imap::default();
        let mut rec = SessionRecord::default();
        s.feed(
            Side::Client,
            b"a1 LOGIN u p\r\na2 SELECT INBOX\r\na3 examine \"Sent Items\"\r\na4 SELECT\r\n",
            &mut rec,
        );
        assert_eq!(
            rec.extra.get("email.folder"),
            Some(&tyto_schema::Values::Text(vec!["INBOX".into(), "Sent Items".into()]))
        );
    }
}
