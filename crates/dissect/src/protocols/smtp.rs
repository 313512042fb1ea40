//! SMTP (RFC 5321): HELO/EHLO names, envelope senders and recipients, the headers of
//! each message (subject decoded from RFC 2047 words, addresses, Message-ID, mailer,
//! content type), and STARTTLS, after which the connection is classified afresh.

use base64::Engine;
use tyto_schema::SessionRecord;

use crate::kit::lines::{after_ci, starts_with_ci, trim, LineReader};
use crate::kit::upgrade::Upgrade;
use crate::kit::{ntlm, put_text};
use crate::{Dissector, Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "smtp",
    transports: &[Transport::Tcp],
    ports: &[25, 587, 2525],
    probe,
    new: || Box::new(Smtp::default()),
    later: None,
};

/// The greeting (`220`) names SMTP, or the client's first command is a HELO.
pub fn probe(side: Side, data: &[u8]) -> Probe {
    let line = &data[..data.iter().position(|b| *b == b'\n').unwrap_or(data.len())];
    match side {
        Side::Server => {
            if !b"220"[..line.len().min(3)].eq(&line[..line.len().min(3)]) {
                return Probe::NoMatch;
            }
            let upper = line.to_ascii_uppercase();
            if upper.windows(4).any(|w| w == b"SMTP") {
                Probe::Match
            } else {
                // FTP greets with 220 too: the client's first command decides.
                Probe::NeedMore
            }
        }
        Side::Client => {
            if line.len() < 5 {
                let n = line.len();
                let known = [&b"EHLO "[..], b"HELO "].iter().any(|w| w[..n].eq_ignore_ascii_case(line));
                return if known { Probe::NeedMore } else { Probe::NoMatch };
            }
            Probe::from(starts_with_ci(line, b"EHLO ") || starts_with_ci(line, b"HELO "))
        }
    }
}

/// Headers of one message kept for folding; longer ones are cut.
const MAX_HEADER: usize = 8192;

#[derive(Default, PartialEq, Eq)]
enum Client {
    #[default]
    Commands,
    Headers,
    Body,
    Stopped,
}

#[derive(Default)]
pub struct Smtp {
    lines: [LineReader; 2],
    client: Client,
    /// The header being read, joined across folded lines.
    header: Vec<u8>,
    /// `STARTTLS`.
    upgrade: Upgrade,
    /// `AUTH NTLM`: tokens after `334`.
    ntlm: ntlm::TextExchange,
    done: bool,
}

/// Addresses of a header or envelope value: inside `<…>`, else words with an `@`.
fn addresses(value: &str) -> Vec<String> {
    let mut out = Vec::new();
    for part in value.split(',') {
        let a = match (part.find('<'), part.rfind('>')) {
            (Some(s), Some(e)) if s < e => part[s + 1..e].trim(),
            _ => part.split_whitespace().find(|w| w.contains('@')).unwrap_or("").trim_matches(['"', '\'']),
        };
        if !a.is_empty() {
            out.push(a.to_string());
        }
    }
    out
}

/// Decodes RFC 2047 encoded words (`=?charset?B|Q?text?=`); anything malformed is
/// kept as it came. Blanks between two encoded words are dropped, as the RFC says.
pub fn decode_words(value: &str) -> String {
    let mut out = String::new();
    let mut rest = value;
    let mut last_was_word = false;
    while let Some(start) = rest.find("=?") {
        let (before, from) = rest.split_at(start);
        let decoded = from[2..].split_once('?').and_then(|(charset, r)| {
            let (enc, r) = r.split_once('?')?;
            let (text, after) = r.split_once("?=")?;
            let bytes = match enc {
                "B" | "b" => {
                    base64::engine::general_purpose::STANDARD.decode(text.trim_end_matches('=')).ok().or_else(|| {
                        base64::engine::general_purpose::STANDARD_NO_PAD.decode(text.trim_end_matches('=')).ok()
                    })?
                }
                "Q" | "q" => quoted_printable(text),
                _ => return None,
            };
            let charset = charset.split('*').next().unwrap_or(charset);
            let coding = encoding_rs::Encoding::for_label(charset.as_bytes()).unwrap_or(encoding_rs::UTF_8);
            Some((coding.decode(&bytes).0.into_owned(), after))
        });
        match decoded {
            Some((text, after)) => {
                if !(last_was_word && before.trim().is_empty()) {
                    out.push_str(before);
                }
                out.push_str(&text);
                rest = after;
                last_was_word = true;
            }
            None => {
                out.push_str(before);
                out.push_str("=?");
                rest = &from[2..];
                last_was_word = false;
            }
        }
    }
    out.push_str(rest);
    out
}

fn quoted_printable(text: &str) -> Vec<u8> {
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'_' => out.push(b' '),
            b'=' => {
                let hex = b.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(v) => {
                        out.push(v);
                        i += 2;
                    }
                    None => out.push(b'='),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    out
}

impl Smtp {
    fn header_done(&mut self, rec: &mut SessionRecord) {
        let h = std::mem::take(&mut self.header);
        // Raw 8-bit headers are UTF-8 or, failing that, what mail clients send most: Windows-1252.
        let text = match std::str::from_utf8(&h) {
            Ok(t) => std::borrow::Cow::Borrowed(t),
            Err(_) => encoding_rs::WINDOWS_1252.decode(&h).0,
        };
        let Some((name, value)) = text.split_once(':') else { return };
        let name = name.trim().to_ascii_lowercase();
        // The one blank after the colon belongs to the syntax, the rest to the value.
        let value = value.strip_prefix(' ').unwrap_or(value).trim_end();
        if name.is_empty() || name.contains(' ') {
            return;
        }
        put_text(rec, text_field!("email.has-header"), &name);
        match name.as_str() {
            "subject" if !value.trim().is_empty() => put_text(rec, text_field!("email.subject"), &decode_words(value)),
            "from" | "sender" => addresses(value).iter().for_each(|a| put_text(rec, text_field!("email.src"), a)),
            "to" | "cc" => addresses(value).iter().for_each(|a| put_text(rec, text_field!("email.dst"), a)),
            "message-id" => put_text(rec, text_field!("email.message-id"), value.trim()),
            "x-mailer" | "user-agent" => put_text(rec, text_field!("email.x-mailer"), value.trim()),
            "content-type" => put_text(rec, text_field!("email.content-type"), value.trim()),
            _ => {}
        }
    }

    fn client_line(&mut self, line: &[u8], rec: &mut SessionRecord) {
        match self.client {
            Client::Commands => {
                self.ntlm.client(rec, line, starts_with_ci(line, b"AUTH NTLM"));
                if let Some(name) = after_ci(line, b"EHLO").or_else(|| after_ci(line, b"HELO")) {
                    if !name.is_empty() {
                        put_text(rec, text_field!("email.smtp-hello"), &String::from_utf8_lossy(name));
                    }
                } else if let Some(v) = after_ci(line, b"MAIL FROM:") {
                    addresses(&String::from_utf8_lossy(v))
                        .iter()
                        .for_each(|a| put_text(rec, text_field!("email.src"), a));
                } else if let Some(v) = after_ci(line, b"RCPT TO:") {
                    addresses(&String::from_utf8_lossy(v))
                        .iter()
                        .for_each(|a| put_text(rec, text_field!("email.dst"), a));
                } else if trim(line).eq_ignore_ascii_case(b"DATA") {
                    self.client = Client::Headers;
                } else if trim(line).eq_ignore_ascii_case(b"STARTTLS") {
                    self.upgrade.ask();
                } else if starts_with_ci(line, b"BDAT") {
                    // Binary chunks are not lines: the rest is not followed.
                    self.client = Client::Stopped;
                }
            }
            Client::Headers => {
                let folded = line.first().is_some_and(|b| *b == b' ' || *b == b'\t');
                if folded && !self.header.is_empty() {
                    // Unfolding removes the line break only (RFC 5322 2.2.3).
                    let room = MAX_HEADER.saturating_sub(self.header.len());
                    self.header.extend_from_slice(&line[..line.len().min(room)]);
                    return;
                }
                if !self.header.is_empty() {
                    self.header_done(rec);
                }
                if line == b"." {
                    self.client = Client::Commands;
                } else if line.is_empty() {
                    self.client = Client::Body;
                } else {
                    self.header = line[..line.len().min(MAX_HEADER)].to_vec();
                }
            }
            Client::Body => {
                if line == b"." {
                    self.client = Client::Commands;
                }
            }
            Client::Stopped => {}
        }
    }
}

impl Dissector for Smtp {
    fn feed(&mut self, side: Side, data: &[u8], rec: &mut SessionRecord) {
        if self.done {
            return;
        }
        match side {
            Side::Client => {
                let mut lines = std::mem::take(&mut self.lines[0]);
                lines.feed(data, |l| {
                    self.client_line(l, rec);
                    self.client != Client::Stopped
                });
                self.lines[0] = lines;
                if self.client == Client::Stopped {
                    self.done = true;
                }
            }
            Side::Server => {
                let (upgrade, exchange) = (&mut self.upgrade, &mut self.ntlm);
                let used = self.lines[1].feed(data, |l| {
                    exchange.server(rec, l, b"334 ");
                    // Multi-line replies (`250-…`) end with `code SP`.
                    let last = l.get(3).is_none_or(|b| *b == b' ');
                    // Replies to commands sent before STARTTLS come first (pipelining),
                    // so no other reply is taken for its refusal.
                    upgrade.answer(last && l.starts_with(b"220"), false)
                });
                if let Some(used) = used {
                    self.upgrade.switch_at(used);
                    self.done = true;
                }
            }
        }
    }

    fn gap(&mut self, side: Side, _len: u64) {
        self.lines[side as usize].reset();
        if side == Side::Client {
            // Mid-message bytes lost: what follows cannot be told from commands.
            self.done = true;
        }
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
    use tyto_schema::Values;

    fn texts(rec: &SessionRecord, f: &str) -> Vec<String> {
        match rec.extra.get(f) {
            Some(Values::Text(v)) => v.clone(),
            _ => Vec::new(),
        }
    }

    #[test]
    fn envelope_headers_and_starttls() {
        let mut s = Smtp::default();
        let mut rec = SessionRecord::default();
        assert_eq!(probe(Side::Server, b"220 mx.example.org ESMTP Postfix\r\n"), Probe::Match);
        assert_eq!(probe(Side::Server, b"220 ready\r\n"), Probe::NeedMore);
        assert_eq!(probe(Side::Client, b"EHL"), Probe::NeedMore);
        assert_eq!(probe(Side::Client, b"USER bob\r\n"), Probe::NoMatch);
        s.feed(Side::Server, b"220 mx ESMTP\r\n", &mut rec);
        let client = b"EHLO Client.Example\r\nMAIL FROM:<Alice@Example.org> SIZE=10\r\nRCPT TO:<bob@example.net>\r\n\
DATA\r\nFrom: \"Alice\" <alice@example.org>\r\nTo: bob@example.net, Carol <carol@example.net>\r\n\
Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?= =?ISO-8859-1?B?aGVq?=\r\n and more\r\nX-Mailer: mutt\r\n\r\nbody\r\n.\r\nSTARTTLS\r\n";
        for chunk in client.chunks(7) {
            s.feed(Side::Client, chunk, &mut rec);
        }
        s.feed(Side::Server, b"250 ok\r\n220-go\r\n220 go ahead\r\n\x16\x03\x01", &mut rec);
        assert_eq!(s.handoff(), Some(30));
        assert!(!s.wants_more());
        assert_eq!(texts(&rec, "email.smtp-hello"), vec!["client.example"]);
        assert_eq!(texts(&rec, "email.src"), vec!["alice@example.org"]);
        assert_eq!(texts(&rec, "email.dst"), vec!["bob@example.net", "carol@example.net"]);
        assert_eq!(texts(&rec, "email.subject"), vec!["Grüßehej and more"]);
        assert_eq!(texts(&rec, "email.x-mailer"), vec!["mutt"]);
        assert_eq!(texts(&rec, "email.has-header"), vec!["from", "to", "subject", "x-mailer"]);
    }

    #[test]
    fn malformed_words_are_kept() {
        assert_eq!(decode_words("=?utf-8?X?abc?= x"), "=?utf-8?X?abc?= x");
        assert_eq!(decode_words("a =?utf-8?q?b=?= c =?"), "a b= c =?");
        assert_eq!(decode_words("=?gb2312?B?xOO6ww==?="), "你好");
        assert_eq!(decode_words("plain"), "plain");
    }
}
