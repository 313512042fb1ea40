//! POP3 (RFC 1939): recognised by its greeting or first command, followed as far as
//! STLS (RFC 2595), after which the connection is classified afresh.

use tyto_schema::SessionRecord;

use crate::kit::lines::{first_line, starts_with_ci, trim, LineReader};
use crate::kit::ntlm;
use crate::kit::upgrade::Upgrade;
use crate::{Dissector, Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "pop3",
    transports: &[Transport::Tcp],
    ports: &[110],
    probe,
    new: || Box::new(Pop3::default()),
    later: None,
};

/// Commands POP3 shares with FTP (`USER`, `PASS`, `LIST`, `RETR`…) or SMTP (`AUTH`,
/// `RSET`…): alone they say nothing, so a client's later lines decide.
const SHARED_COMMANDS: [&[u8]; 10] =
    [b"USER ", b"PASS ", b"AUTH", b"STAT", b"LIST", b"RETR ", b"DELE ", b"NOOP", b"RSET", b"QUIT"];

/// Commands only POP3 has (RFC 1939, 2449, 2595).
const OWN_COMMANDS: [&[u8]; 5] = [b"CAPA", b"STLS", b"APOP ", b"UIDL", b"TOP "];

/// A client's lines looked at, at most: past them, the server's answers decide.
const CLIENT_LINES: usize = 8;
/// A line still without its end after this many bytes is not a probe's.
const PROBE_LINE: usize = 64;

pub fn probe(side: Side, data: &[u8]) -> Probe {
    match side {
        // A greeting (or any answer: a capture may miss the greeting) has text after
        // `+OK`; Redis answers a bare `+OK`.
        Side::Server => match first_line(data, PROBE_LINE) {
            Ok((line, _)) => Probe::from(starts_with_ci(line, b"+OK ") && line.len() > 4),
            Err(undecided) => undecided,
        },
        Side::Client => client_lines(data),
    }
}

/// A client's first lines: a command of POP3's own decides; before it, commands it
/// shares with FTP and SMTP (and the SASL answer after `AUTH`) are passed over; any
/// other line is not POP3's.
fn client_lines(data: &[u8]) -> Probe {
    let mut rest = data;
    let mut after_auth = false;
    for _ in 0..CLIENT_LINES {
        let line;
        (line, rest) = match first_line(rest, PROBE_LINE) {
            Ok(split) => split,
            Err(undecided) => return undecided,
        };
        if OWN_COMMANDS.iter().any(|c| starts_with_ci(line, c)) {
            return Probe::Match;
        }
        let sasl =
            after_auth && !line.is_empty() && line.iter().all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(b));
        if !sasl && !SHARED_COMMANDS.iter().any(|c| starts_with_ci(line, c)) {
            return Probe::NoMatch;
        }
        after_auth = starts_with_ci(line, b"AUTH");
    }
    Probe::NeedMore
}

#[derive(Default)]
pub struct Pop3 {
    lines: [LineReader; 2],
    /// `STLS`.
    upgrade: Upgrade,
    /// `AUTH NTLM`: tokens after `+`.
    ntlm: ntlm::TextExchange,
    done: bool,
}

impl Dissector for Pop3 {
    fn feed(&mut self, side: Side, data: &[u8], rec: &mut SessionRecord) {
        if self.done {
            return;
        }
        let upgrade = &mut self.upgrade;
        match side {
            Side::Client => {
                let exchange = &mut self.ntlm;
                self.lines[0].feed(data, |l| {
                    exchange.client(rec, l, starts_with_ci(l, b"AUTH NTLM"));
                    if trim(l).eq_ignore_ascii_case(b"STLS") {
                        upgrade.ask();
                    }
                    // USER and PASS in clear (APOP sends a digest).
                    if starts_with_ci(l, b"USER ") || starts_with_ci(l, b"PASS ") {
                        crate::risk::add(rec, crate::risk::Risk::ClearTextCredentials);
                    }
                    true
                });
            }
            Side::Server => {
                let exchange = &mut self.ntlm;
                let used = self.lines[1].feed(data, |l| {
                    exchange.server(rec, l, b"+ ");
                    upgrade.answer(starts_with_ci(l, b"+OK"), starts_with_ci(l, b"-ERR"))
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
    fn stls_hands_over() {
        assert_eq!(probe(Side::Server, b"+OK POP3 ready\r\n"), Probe::Match);
        assert_eq!(probe(Side::Server, b"+OK\r\n"), Probe::NoMatch);
        assert_eq!(probe(Side::Client, b"CAPA\r\n"), Probe::Match);
        // FTP sends USER too: the answer decides.
        assert_eq!(probe(Side::Client, b"user someone@example.com\r\n"), Probe::NeedMore);
        // A client heard without its server: its own command after shared ones decides.
        assert_eq!(probe(Side::Client, b"AUTH\r\nCAPA\r\n"), Probe::Match);
        assert_eq!(probe(Side::Client, b"AUTH PLAIN\r\nAGRpZ2l0YWw=\r\nUIDL\r\n"), Probe::Match);
        assert_eq!(probe(Side::Client, b"USER a\r\nPASS b\r\nSTAT\r\n"), Probe::NeedMore);
        assert_eq!(probe(Side::Client, b"USER a\r\nSYST\r\n"), Probe::NoMatch);
        assert_eq!(probe(Side::Client, b"EHLO mail.example.com\r\nAUTH LOGIN\r\n"), Probe::NoMatch);
        assert_eq!(probe(Side::Server, b"+OK password required for user\r\n"), Probe::Match);
        let mut s = Pop3::default();
        let mut rec = SessionRecord::default();
        s.feed(Side::Server, b"+OK hi\r\n", &mut rec);
        s.feed(Side::Client, b"STLS\r\n", &mut rec);
        s.feed(Side::Server, b"+OK Begin TLS\r\n", &mut rec);
        assert_eq!(s.handoff(), Some(15));
    }
}
