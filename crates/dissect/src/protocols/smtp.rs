//! SMTP (RFC 5321): HELO/EHLO names, envelope senders and recipients, the headers of
//! each message (subject decoded from RFC 2047 words, addresses, Message-ID, mailer,
//! content type, the relays its Received headers name, the other headers by name and
//! value), its MIME parts (attachments' names and types, and the MD5 and SHA-256 of
//! each base64 part's bytes, as Arkime hashes them), and STARTTLS, after which the
//! connection is classified afresh.

use base64::Engine;
use md5::Md5;
use sha2::{Digest, Sha256};
use tyto_schema::SessionRecord;

use crate::kit::lines::{after_ci, first_line, starts_with_ci, trim, LineReader};
use crate::kit::upgrade::Upgrade;
use crate::kit::{hex, loose_ip, magic, ntlm, put_ip, put_text};
use crate::{Dissector, Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "smtp",
    transports: &[Transport::Tcp],
    ports: &[25, 587, 2525],
    probe,
    new: || Box::new(Smtp::default()),
    later: Some(later),
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

/// Service extensions an answer to EHLO lists, a line each after its first (IANA's
/// SMTP Service Extensions registry): no other protocol answers `250` with them.
const EXTENSIONS: &[&[u8]] = &[
    b"8BITMIME",
    b"ATRN",
    b"AUTH",
    b"BINARYMIME",
    b"BURL",
    b"CHECKPOINT",
    b"CHUNKING",
    b"CONNEG",
    b"DELIVERBY",
    b"DSN",
    b"ENHANCEDSTATUSCODES",
    b"ETRN",
    b"EXPN",
    b"FUTURERELEASE",
    b"HELP",
    b"LIMITS",
    b"MT-PRIORITY",
    b"MTRK",
    b"NO-SOLICITING",
    b"PIPELINING",
    b"REQUIRETLS",
    b"RRVS",
    b"SIZE",
    b"SMTPUTF8",
    b"STARTTLS",
    b"SUBMITTER",
    b"VRFY",
];

/// Lines a look at later messages reads at most.
const LATER_LINES: usize = 32;
/// A command or reply line's length at most, its CRLF included (RFC 5321 4.5.3.1).
const MAX_LINE: usize = 512;

/// A session picked up after its greeting and EHLO: the server's answer to EHLO
/// (a line `250-` or `250 ` with a service extension), or the client's envelope
/// (`MAIL FROM:`, `RCPT TO:`, which FTP, POP3 and IMAP do not have). Other lines say
/// nothing either way: `250`, `334` and `AUTH` are FTP's and POP3's too. Whole lines
/// only, the first maybe the end of one whose start was not seen.
pub fn later(side: Side, data: &[u8]) -> Probe {
    let mut rest = data;
    for read in 0..LATER_LINES {
        let line;
        (line, rest) = match first_line(rest, MAX_LINE) {
            Ok(split) => split,
            Err(_) if read > 0 => return Probe::NoMatch,
            Err(undecided) => return undecided,
        };
        let found = match side {
            Side::Server => line.strip_prefix(b"250-").or_else(|| line.strip_prefix(b"250 ")).is_some_and(|ext| {
                let word = ext.split(|b| *b == b' ' || *b == b'=').next().unwrap_or_default();
                EXTENSIONS.iter().any(|e| word.eq_ignore_ascii_case(e))
            }),
            Side::Client => starts_with_ci(line, b"MAIL FROM:") || starts_with_ci(line, b"RCPT TO:"),
        };
        if found {
            return Probe::Match;
        }
    }
    Probe::NoMatch
}

/// Headers of one message kept for folding; longer ones are cut.
const MAX_HEADER: usize = 8192;
/// MIME boundaries followed in one session (nested multiparts add theirs).
const MAX_BOUNDARIES: usize = 16;
/// Headers with a field of their own, left out of `email.has-header.name` and
/// `.value` (as Arkime leaves them out).
const OWN_FIELD_HEADERS: &[&str] = &[
    "cc",
    "to",
    "from",
    "message-id",
    "content-type",
    "subject",
    "x-mailer",
    "user-agent",
    "mime-version",
    "received",
    "x-originating-ip",
];

#[derive(Default, PartialEq, Eq)]
enum Client {
    #[default]
    Commands,
    Headers,
    Body,
    /// The headers of a MIME part, after its boundary line.
    PartHeaders,
    Stopped,
}

/// The MIME part being read: whether its body is base64, and if so the digests of
/// its bytes and the characters of an unfinished quantum.
#[derive(Default)]
struct Part {
    base64: Option<Box<Digests>>,
}

/// The digests of a base64 part's bytes, decoded as mail readers (and Arkime, through
/// glib) decode them: characters outside the alphabet (line breaks, `=`, stray
/// bytes) are skipped, and bits short of a byte at the end are dropped. Written here
/// rather than with the `base64` crate, which refuses such text and would need the
/// lines gathered first.
struct Digests {
    md5: Md5,
    sha256: Sha256,
    /// Bits decoded and not yet a whole byte (the low `bits` of `acc`).
    acc: u32,
    bits: u8,
    /// The part's first bytes, to tell what it is ([`magic::sniff`]).
    head: Vec<u8>,
}

impl Digests {
    fn new() -> Digests {
        Digests { md5: Md5::new(), sha256: Sha256::new(), acc: 0, bits: 0, head: Vec::new() }
    }

    /// One line of the body.
    fn line(&mut self, line: &[u8]) {
        let mut out = [0u8; 64];
        let mut n = 0;
        for &c in line {
            let v = match c {
                b'A'..=b'Z' => c - b'A',
                b'a'..=b'z' => c - b'a' + 26,
                b'0'..=b'9' => c - b'0' + 52,
                b'+' => 62,
                b'/' => 63,
                _ => continue,
            };
            self.acc = (self.acc << 6) | u32::from(v);
            self.bits += 6;
            if self.bits >= 8 {
                self.bits -= 8;
                out[n] = (self.acc >> self.bits) as u8;
                self.acc &= (1 << self.bits) - 1;
                n += 1;
                if n == out.len() {
                    self.update(&out);
                    n = 0;
                }
            }
        }
        self.update(&out[..n]);
    }

    fn update(&mut self, bytes: &[u8]) {
        self.md5.update(bytes);
        self.sha256.update(bytes);
        let room = magic::SNIFF_BYTES - self.head.len();
        self.head.extend_from_slice(&bytes[..room.min(bytes.len())]);
    }
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
    /// MIME boundaries named by the content types read (without their `--`).
    boundaries: Vec<Vec<u8>>,
    part: Part,
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

/// The relays a `Received` header names (the words after `from` and `by`, the part
/// after an `@`) and the addresses in its brackets (`[192.0.2.1]`, `[IPv6:…]`), as
/// Arkime reads them into `host.email` and `ip.email`.
fn received(value: &str) -> (Vec<String>, Vec<std::net::IpAddr>) {
    let (mut hosts, mut ips) = (Vec::new(), Vec::new());
    let mut words = value.split_ascii_whitespace().peekable();
    while let Some(word) = words.next() {
        let keyword = word.trim_start_matches('(');
        if keyword.eq_ignore_ascii_case("from") || keyword.eq_ignore_ascii_case("by") {
            if let Some(next) = words.peek() {
                let name = next.trim_matches(|c| matches!(c, '(' | ')' | ';' | '<' | '>'));
                let name = name.rsplit_once('@').map_or(name, |(_, host)| host);
                if !name.is_empty() && !name.starts_with('[') && !name.contains('=') {
                    hosts.push(name.to_ascii_lowercase());
                }
            }
        }
    }
    let mut rest = value;
    while let Some((_, after)) = rest.split_once('[') {
        let Some((inside, after)) = after.split_once(']') else { break };
        ips.extend(loose_ip(inside.trim()));
        rest = after;
    }
    (hosts, ips)
}

/// A parameter of a header value (`boundary="x"`, `filename=a.zip`), unquoted.
fn parameter<'a>(value: &'a str, name: &str) -> Option<&'a str> {
    let lower = value.to_ascii_lowercase();
    let at = lower.match_indices(name).find_map(|(i, _)| {
        let before = lower[..i].trim_end();
        let rest = lower[i + name.len()..].trim_start();
        (before.is_empty() || before.ends_with(';')).then_some(())?;
        rest.starts_with('=').then(|| value.len() - rest.len() + 1)
    })?;
    let v = value[at..].trim_start();
    let v = match v.strip_prefix('"') {
        Some(quoted) => &quoted[..quoted.find('"').unwrap_or(quoted.len())],
        None => &v[..v.find(';').unwrap_or(v.len())],
    };
    Some(v.trim())
}

impl Smtp {
    /// A boundary named by a content type, to be followed.
    fn boundary_of(&mut self, content_type: &str) {
        if let Some(b) = parameter(content_type, "boundary").filter(|b| !b.is_empty()) {
            if self.boundaries.len() < MAX_BOUNDARIES && !self.boundaries.iter().any(|k| k == b.as_bytes()) {
                self.boundaries.push(b.as_bytes().to_vec());
            }
        }
    }

    /// A line of a message's body that is one of its boundaries (`--b`, `--b--`).
    fn is_boundary(&self, line: &[u8]) -> bool {
        line.strip_prefix(b"--").is_some_and(|rest| self.boundaries.iter().any(|b| rest.starts_with(b)))
    }

    /// A part's end: the digests of a base64 part's bytes, and what they are.
    fn part_done(&mut self, rec: &mut SessionRecord) {
        if let Some(d) = std::mem::take(&mut self.part).base64 {
            if let Some(kind) = magic::sniff(&d.head) {
                put_text(rec, text_field!("email.bodymagic"), kind);
            }
            put_text(rec, text_field!("email.md5"), &hex(&d.md5.finalize()));
            put_text(rec, text_field!("email.sha256"), &hex(&d.sha256.finalize()));
        }
    }

    /// A header of a MIME part.
    fn part_header(&mut self, name: &str, value: &str, rec: &mut SessionRecord) {
        match name {
            "content-type" => {
                let kind = value.split(';').next().unwrap_or(value).trim();
                if !kind.is_empty() && !kind.to_ascii_lowercase().starts_with("multipart/") {
                    put_text(rec, text_field!("email.file-content-type"), kind);
                }
                self.boundary_of(value);
            }
            "content-disposition" => {
                if let Some(name) = parameter(value, "filename").filter(|n| !n.is_empty()) {
                    put_text(rec, text_field!("email.fn"), &decode_words(name));
                }
            }
            "content-transfer-encoding" if value.trim().eq_ignore_ascii_case("base64") => {
                self.part.base64 = Some(Box::new(Digests::new()));
            }
            _ => {}
        }
    }

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
        if self.client == Client::PartHeaders {
            self.part_header(&name, value, rec);
            return;
        }
        put_text(rec, text_field!("email.has-header"), &name);
        if !OWN_FIELD_HEADERS.contains(&name.as_str()) {
            put_text(rec, text_field!("email.has-header.name"), &name);
            put_text(rec, text_field!("email.has-header.value"), value.trim());
        }
        match name.as_str() {
            "subject" if !value.trim().is_empty() => put_text(rec, text_field!("email.subject"), &decode_words(value)),
            "from" | "sender" => addresses(value).iter().for_each(|a| put_text(rec, text_field!("email.src"), a)),
            "to" | "cc" => addresses(value).iter().for_each(|a| put_text(rec, text_field!("email.dst"), a)),
            "message-id" => put_text(rec, text_field!("email.message-id"), value.trim()),
            "x-mailer" | "user-agent" => put_text(rec, text_field!("email.x-mailer"), value.trim()),
            "content-type" => {
                put_text(rec, text_field!("email.content-type"), value.trim());
                self.boundary_of(value);
            }
            "mime-version" => put_text(rec, text_field!("email.mime-version"), value.trim()),
            "received" => {
                let (hosts, ips) = received(value);
                hosts.iter().for_each(|h| put_text(rec, text_field!("host.email"), h));
                ips.into_iter().for_each(|ip| put_ip(rec, ip_field!("ip.email"), ip.into()));
            }
            "x-originating-ip" => {
                if let Some(ip) = loose_ip(value.trim()) {
                    put_ip(rec, ip_field!("ip.email"), ip.into());
                }
            }
            _ => {}
        }
    }

    /// The message's last line (`.`): its parts and boundaries end with it, unhashed
    /// when no boundary closed them (as Arkime).
    fn message_done(&mut self) {
        self.client = Client::Commands;
        self.part = Part::default();
        self.boundaries.clear();
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
            Client::Headers | Client::PartHeaders => {
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
                    self.message_done();
                } else if line.is_empty() {
                    self.client = Client::Body;
                } else if self.client == Client::PartHeaders && self.is_boundary(line) {
                    // A part with no headers or body.
                    self.part_done(rec);
                } else {
                    self.header = line[..line.len().min(MAX_HEADER)].to_vec();
                }
            }
            Client::Body => {
                if line == b"." {
                    self.message_done();
                } else if self.is_boundary(line) {
                    self.part_done(rec);
                    self.client = Client::PartHeaders;
                } else if let Some(d) = &mut self.part.base64 {
                    // Dot-stuffing (RFC 5321 4.5.2) never touches base64 text.
                    d.line(line);
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
    use crate::kit::testing::texts;
    use tyto_schema::Values;

    /// Picked up after the greeting and EHLO (`emotet.pcap`, submission on 587): the
    /// answer to EHLO, or the envelope, names SMTP; an FTP answer or a POP3 command
    /// does not.
    #[test]
    fn later_messages_name_it() {
        let ehlo = b"250-opmta1mto02nd1 hello [173.66.46.97], pleased to meet you\r\n250-HELP\r\n250-AUTH LOGIN PLAIN\r\n250-SIZE 44000000\r\n250 8BITMIME\r\n";
        assert_eq!(later(Side::Server, ehlo), Probe::Match);
        assert_eq!(later(Side::Server, &ehlo[30..]), Probe::Match, "from the middle of a line");
        assert_eq!(later(Side::Client, b"MAIL FROM:<a@b.example> SIZE=1200\r\n"), Probe::Match);
        assert_eq!(later(Side::Client, b"RCPT TO:<c@d.example>\r\n"), Probe::Match);
        assert_eq!(later(Side::Server, b"250 CWD command successful.\r\n"), Probe::NoMatch);
        assert_eq!(later(Side::Server, b"334 VXNlcm5hbWU6\r\n"), Probe::NoMatch);
        assert_eq!(later(Side::Client, b"AUTH LOGIN\r\n"), Probe::NoMatch);
        assert_eq!(later(Side::Client, b"MAIL FRO"), Probe::NeedMore);
    }

    /// Relays and addresses of Received headers, the other headers by name and value,
    /// and a multipart message's attachment: its name, type and digests (a base64
    /// quantum split across lines), only once its closing boundary is read.
    #[test]
    fn relays_headers_and_attachments() {
        let message = b"EHLO c\r\nMAIL FROM:<a@b.example>\r\nDATA\r\n\
Received: from [10.000.000.002] (helo=[10.0.0.3])\r\n\tby MX.Example.net with esmtpa\r\n\
Received: (from alice@localhost) by relay.example.org ([IPv6:2001:db8::1]) id 7;\r\n\
X-Originating-IP: [192.0.2.9]\r\nMIME-Version: 1.0\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\nX-Empty:\r\n\
Content-Type: multipart/mixed; boundary=\"==outer\"\r\n\r\n\
preamble\r\n--==outer\r\nContent-Type: text/plain\r\n\r\nHi\r\n\
--==outer\r\nContent-Type: application/octet-stream; name=x\r\n\
Content-Disposition: attachment;\r\n filename=\"hello.txt\"\r\nContent-Transfer-Encoding: base64\r\n\r\n\
SGVsbG8s\r\nIHdvcmxkIQ==\r\n--==outer--\r\n.\r\n";
        for split in [1, 5, 4096] {
            let mut s = Smtp::default();
            let mut rec = SessionRecord::default();
            for chunk in message.chunks(split) {
                s.feed(Side::Client, chunk, &mut rec);
            }
            assert_eq!(texts(&rec, "host.email"), ["mx.example.net", "localhost", "relay.example.org"], "{split}");
            let ips: Vec<String> = match rec.extra.get("ip.email") {
                Some(Values::Ip(v)) => v.iter().map(|a| a.to_string()).collect(),
                other => panic!("{other:?}"),
            };
            assert_eq!(ips, ["10.0.0.2", "10.0.0.3", "2001:db8::1", "192.0.2.9"]);
            assert_eq!(texts(&rec, "email.mime-version"), ["1.0"]);
            assert_eq!(texts(&rec, "email.has-header.name"), ["date", "x-empty"]);
            assert_eq!(texts(&rec, "email.has-header.value"), ["Mon, 1 Jan 2024 00:00:00 +0000", ""]);
            assert_eq!(texts(&rec, "email.fn"), ["hello.txt"]);
            assert_eq!(texts(&rec, "email.file-content-type"), ["text/plain", "application/octet-stream"]);
            assert_eq!(texts(&rec, "email.md5"), ["6cd3556deb0da54bca060b4c39479839"]);
            assert_eq!(
                texts(&rec, "email.sha256"),
                ["315f5bdb76d078c43b8ac0064e4a0164612b1fce77c869345bfc94c75894edd3"]
            );
            assert!(s.client == Client::Commands);
        }
        // A part cut off by the message's end is not hashed; what is not base64 is
        // skipped (the first part holds no byte).
        let mut s = Smtp::default();
        let mut rec = SessionRecord::default();
        s.feed(
            Side::Client,
            b"DATA\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\
Content-Transfer-Encoding: base64\r\n\r\n!!!!\r\n--b\r\nContent-Transfer-Encoding: base64\r\n\r\nSGk=\r\n.\r\n",
            &mut rec,
        );
        assert_eq!(texts(&rec, "email.md5"), ["d41d8cd98f00b204e9800998ecf8427e"]);
        assert_eq!(parameter("attachment; filename=a.zip; size=3", "filename"), Some("a.zip"));
        assert_eq!(parameter("text/plain; xfilename=no", "filename"), None);
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
