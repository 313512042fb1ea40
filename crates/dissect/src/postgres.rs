//! PostgreSQL's frontend/backend protocol: the startup message's user, database and
//! application name, and the SSL request after which (answered `S`) the connection
//! is TLS.

use tyto_schema::SessionRecord;

use crate::{put_text, Dissector, Probe, Protocol, Side, Transport};

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

#[derive(Default)]
pub struct Postgres {
    client: Vec<u8>,
    ssl_requested: bool,
    handoff: Option<usize>,
    done: bool,
}

impl Postgres {
    fn startup(&mut self, rec: &mut SessionRecord) {
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
                b"user" => "postgresql.user",
                b"database" => "postgresql.db",
                b"application_name" => "postgresql.app",
                _ => continue,
            };
            let value = String::from_utf8_lossy(value);
            if !value.is_empty() {
                put_text(rec, field, &value);
                if field == "postgresql.user" {
                    put_text(rec, "user", &value);
                }
            }
        }
        self.done = true;
    }
}

impl Dissector for Postgres {
    fn feed(&mut self, side: Side, data: &[u8], rec: &mut SessionRecord) {
        if self.done {
            return;
        }
        match side {
            Side::Client => {
                let room = (MAX_STARTUP + 8).saturating_sub(self.client.len());
                self.client.extend_from_slice(&data[..data.len().min(room)]);
                self.startup(rec);
            }
            // The answer to an SSL request: `S`, then TLS once the client starts it.
            Side::Server if self.ssl_requested => {
                self.ssl_requested = false;
                if data.first() == Some(&b'S') {
                    self.handoff = Some(1);
                    self.done = true;
                }
            }
            Side::Server => {}
        }
    }

    fn gap(&mut self, _side: Side, _len: u64) {
        self.done = true;
    }

    fn wants_more(&self) -> bool {
        !self.done
    }

    fn handoff(&mut self) -> Option<usize> {
        self.handoff.take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
