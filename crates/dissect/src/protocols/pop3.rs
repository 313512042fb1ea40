//! POP3 (RFC 1939): recognised by its greeting or first command, followed as far as
//! STLS (RFC 2595), after which the connection is classified afresh.

use tyto_schema::SessionRecord;

use crate::kit::lines::{starts_with_ci, trim, LineReader};
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

pub fn probe(side: Side, data: &[u8]) -> Probe {
    let Some(nl) = data.iter().position(|b| *b == b'\n') else {
        return if data.len() < 64 { Probe::NeedMore } else { Probe::NoMatch };
    };
    let line = trim(&data[..nl]);
    let ok = match side {
        // A greeting (or any answer: a capture may miss the greeting) has text after
        // `+OK`; Redis answers a bare `+OK`.
        Side::Server => starts_with_ci(line, b"+OK ") && line.len() > 4,
        // `USER` alone is FTP's too: the server's answer decides.
        Side::Client if starts_with_ci(line, b"USER ") => return Probe::NeedMore,
        Side::Client => [&b"CAPA"[..], b"STLS", b"APOP ", b"UIDL"].iter().any(|c| starts_with_ci(line, c)),
    };
    Probe::from(ok)
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
        assert_eq!(probe(Side::Server, b"+OK password required for user\r\n"), Probe::Match);
        let mut s = Pop3::default();
        let mut rec = SessionRecord::default();
        s.feed(Side::Server, b"+OK hi\r\n", &mut rec);
        s.feed(Side::Client, b"STLS\r\n", &mut rec);
        s.feed(Side::Server, b"+OK Begin TLS\r\n", &mut rec);
        assert_eq!(s.handoff(), Some(15));
    }
}
