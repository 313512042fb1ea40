//! HTTP/1.x: requests and responses on a kept-alive connection, bodies skipped by
//! Content-Length or chunked framing. Headers are parsed by `httparse`.

use tyto_schema::{Extra, SessionRecord, TextField, Transaction};

use base64::Engine;
use md5::Md5;
use sha2::{Digest, Sha256};

use crate::kit::lines::{trim, LineReader};
use crate::kit::upgrade::Upgrade;
use crate::kit::{file_transaction, magic, ntlm, put_duration, put_text, starts_with};
use crate::{Dissector, Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "http",
    transports: &[Transport::Tcp],
    ports: &[80, 8000, 8008, 8080, 8081, 3128],
    probe,
    new: || Box::new(Http::default()),
    later: None,
};

const METHODS: &[&[u8]] = &[
    b"GET ",
    b"POST ",
    b"HEAD ",
    b"PUT ",
    b"DELETE ",
    b"OPTIONS ",
    b"CONNECT ",
    b"TRACE ",
    b"PATCH ",
    b"PROPFIND ",
    b"PROPPATCH ",
    b"MKCOL ",
    b"COPY ",
    b"MOVE ",
    b"LOCK ",
    b"UNLOCK ",
    b"SEARCH ",
    b"REPORT ",
];

/// A header block larger than this is not HTTP we can follow; parsing stops.
pub const MAX_HEADER_BYTES: usize = 32 * 1024;
/// Headers read per message (more are ignored by httparse's error; parsing stops).
const MAX_HEADERS: usize = 96;
/// Request methods remembered to pair responses with (a HEAD response has no body).
const MAX_PENDING: usize = 64;

/// A request line must end in an HTTP version: SIP and RTSP share the method names
/// (`OPTIONS sip:… SIP/2.0`).
fn request_line(data: &[u8]) -> Probe {
    let Some(end) = data.iter().position(|b| *b == b'\n') else {
        return if data.len() < MAX_HEADER_BYTES { Probe::NeedMore } else { Probe::NoMatch };
    };
    let line = data[..end].strip_suffix(b"\r").unwrap_or(&data[..end]);
    if line.ends_with(b" HTTP/1.1") || line.ends_with(b" HTTP/1.0") {
        Probe::Match
    } else {
        Probe::NoMatch
    }
}

/// The longest extension method taken (`RPC_IN_DATA`, `VERSION-CONTROL`).
const MAX_METHOD: usize = 24;

/// A method outside the list (Outlook Anywhere's `RPC_IN_DATA`, WebDAV's
/// extensions): an upper-case token and a request line that ends in an HTTP version.
fn extension_method(data: &[u8]) -> Probe {
    let token =
        data.iter().take_while(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || matches!(b, b'_' | b'-')).count();
    match data.get(token) {
        None if token <= MAX_METHOD => Probe::NeedMore,
        Some(b' ') if (1..=MAX_METHOD).contains(&token) => request_line(data),
        _ => Probe::NoMatch,
    }
}

pub fn probe(side: Side, data: &[u8]) -> Probe {
    match side {
        Side::Client => {
            // A response first: the connection was picked up after its request.
            let mut best = starts_with(data, b"HTTP/1.");
            if best == Probe::Match {
                return best;
            }
            for m in METHODS {
                match starts_with(data, m) {
                    Probe::Match => return request_line(data),
                    Probe::NeedMore
                    | Probe::Plausible { .. }
                    | Probe::Connection { .. }
                    | Probe::Masked { .. }
                    | Probe::Marked { .. } => best = Probe::NeedMore,
                    Probe::NoMatch => {}
                }
            }
            if best == Probe::NoMatch {
                best = extension_method(data);
            }
            best
        }
        Side::Server => starts_with(data, b"HTTP/1."),
    }
}

#[derive(Default, Clone, Copy, Debug, PartialEq, Eq)]
enum Body {
    /// Reading a header block.
    #[default]
    Headers,
    Length(u64),
    /// Chunked: reading a size line.
    ChunkSize,
    /// Chunk data, then its CRLF.
    ChunkData(u64),
    /// After the last chunk: trailer lines up to an empty one.
    Trailer,
    /// The body runs to the end of the connection.
    ToEnd,
    /// Lost track (gap, oversized or malformed headers).
    Stopped,
}

#[derive(Default)]
struct Direction {
    /// A header block not complete yet (httparse finds its end).
    buf: Vec<u8>,
    /// A chunked body's size and trailer lines.
    lines: LineReader,
    body: Body,
    /// MD5 and SHA-256 of the body being read (after chunked framing, before any
    /// content decoding, as Arkime hashes them), its length so far and first bytes.
    hash: Option<Box<BodyDigest>>,
}

/// Bytes of a body's start kept to tell what it is (a program: a DOS stub's text
/// ends before 128; the other formats [`magic::sniff`] knows).
const BODY_HEAD: usize = magic::SNIFF_BYTES;

struct BodyDigest {
    md5: Md5,
    sha256: Sha256,
    len: u64,
    head: [u8; BODY_HEAD],
    /// Its start was looked at (once it filled, or at the body's end).
    judged: bool,
    /// A request's body, its first [`REQUEST_BODY_KEPT`] bytes (`http.reqbody`).
    kept: Option<Vec<u8>>,
}

/// Bytes of a request body kept as text: Arkime's `maxReqBody` as its own test
/// configuration sets it, which holds the form posts, SOAP and JSON calls and
/// uploads' parts of its captures whole.
const REQUEST_BODY_KEPT: usize = 2000;

impl BodyDigest {
    fn new(request: bool) -> BodyDigest {
        BodyDigest {
            md5: Md5::new(),
            sha256: Sha256::new(),
            len: 0,
            head: [0; BODY_HEAD],
            judged: false,
            kept: request.then(Vec::new),
        }
    }

    /// Files what the body's start shows it is, and marks the session when that is
    /// a program: once, as soon as that start is held, so a download cut short is
    /// judged too.
    fn judge(&mut self, rec: &mut SessionRecord, at_end: bool) {
        if !self.judged && (at_end || self.len >= BODY_HEAD as u64) {
            self.judged = true;
            if self.is_program() {
                crate::risk::add(rec, crate::risk::Risk::BinaryApplicationTransfer);
            }
            let head = &self.head[..(self.len as usize).min(BODY_HEAD)];
            if let Some(kind) = magic::sniff(head) {
                put_text(rec, text_field!("http.bodymagic"), kind);
            }
        }
    }

    /// A Windows program (an MZ header and its DOS stub) or an ELF one.
    fn is_program(&self) -> bool {
        let head = &self.head[..(self.len as usize).min(BODY_HEAD)];
        let dos_stub = b"This program cannot be run in DOS mode";
        (head.starts_with(b"MZ") && head.windows(dos_stub.len()).any(|w| w == dos_stub)) || head.starts_with(b"\x7fELF")
    }
}

impl Direction {
    fn hash(&mut self, bytes: &[u8]) {
        if let Some(h) = &mut self.hash {
            h.md5.update(bytes);
            h.sha256.update(bytes);
            let at = (h.len as usize).min(BODY_HEAD);
            let take = (BODY_HEAD - at).min(bytes.len());
            h.head[at..at + take].copy_from_slice(&bytes[..take]);
            h.len += bytes.len() as u64;
            if let Some(kept) = &mut h.kept {
                let room = REQUEST_BODY_KEPT - kept.len();
                kept.extend_from_slice(&bytes[..room.min(bytes.len())]);
            }
        }
    }

    /// The body ended: its hashes go into the session (empty bodies have none), and
    /// a program sent marks the session.
    fn hash_done(&mut self, rec: &mut SessionRecord) {
        if let Some(mut h) = self.hash.take() {
            h.judge(rec, true);
            let BodyDigest { md5, sha256, len, kept, .. } = *h;
            if len > 0 {
                put_text(rec, text_field!("http.md5"), &crate::kit::hex(&md5.finalize()));
                put_text(rec, text_field!("http.sha256"), &crate::kit::hex(&sha256.finalize()));
            }
            // A request body that is text (a form, SOAP, JSON): binary uploads stay
            // in the packets.
            if let Some(text) = kept.as_deref().and_then(request_body_text) {
                put_text(rec, text_field!("http.reqbody"), text);
            }
        }
    }
}

/// A request body's first bytes as text: UTF-8 (a character cut by the limit
/// dropped) without control characters but tabs and line ends.
fn request_body_text(kept: &[u8]) -> Option<&str> {
    let text = match std::str::from_utf8(kept) {
        Ok(t) => t,
        Err(e) if e.error_len().is_none() => std::str::from_utf8(&kept[..e.valid_up_to()]).ok()?,
        Err(_) => return None,
    };
    let clean = text.chars().all(|c| !c.is_control() || matches!(c, '\t' | '\r' | '\n'));
    (!text.is_empty() && clean).then_some(text)
}

/// A request not answered yet.
struct Pending {
    method: String,
    /// When its last byte (headers, or body when it has one) was read.
    sent_ns: Option<i64>,
    /// Its transaction, when the row keeps them.
    txn: Option<Transaction>,
}

#[derive(Default)]
pub struct Http {
    dirs: [Direction; 2],
    /// Requests not yet answered, oldest first.
    pending: std::collections::VecDeque<Pending>,
    /// The filed transaction whose response body is being read (its index in the row).
    answering: Option<usize>,
    /// A CONNECT was accepted: the connection becomes the tunnel after this response.
    tunnel: bool,
    /// The protocol the switch named (WebSocket), for [`Dissector::successor`].
    successor: Option<&'static Protocol>,
    /// The response being read answers a request whose last byte was read then: its
    /// response time is taken when its own last byte is.
    timing: Option<i64>,
    upgrade: Upgrade,
    /// The first bytes seen decide which side answers: a connection picked up
    /// mid-way (or opened by the server, as reverse proxies do) may show a response
    /// from the side that seems to have opened it.
    roles: Option<bool>,
}

pub(crate) fn header<'a>(headers: &'a [httparse::Header<'a>], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case(name))
        .and_then(|h| std::str::from_utf8(h.value).ok())
        .map(str::trim)
}

/// The body framing a message's headers announce.
fn framing(headers: &[httparse::Header<'_>]) -> Option<Body> {
    if header(headers, "transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked")) {
        return Some(Body::ChunkSize);
    }
    header(headers, "content-length").map(|v| match v.parse::<u64>() {
        Ok(0) => Body::Headers,
        Ok(n) => Body::Length(n),
        Err(_) => Body::Stopped,
    })
}

/// What a request says, into a session's values, or a transaction's (`names`: with
/// the header names, which only the session keeps: a string each, for every
/// request, would be most of a transaction's allocations).
pub(crate) fn request_values(
    headers: &[httparse::Header<'_>],
    req: &httparse::Request<'_, '_>,
    extra: &mut Extra,
    names: bool,
) {
    let mut put = |f: TextField, v: &str| crate::kit::add_text(extra, f, v);
    let method = req.method.unwrap_or("");
    let path = req.path.unwrap_or("");
    let host = header(headers, "host");
    put(text_field!("http.method"), method);
    if let Some(v) = req.version {
        put(text_field!("http.version"), &format!("1.{v}"));
    }
    if let Some(h) = host {
        put(text_field!("host.http"), h);
        // As Arkime: `name:port` is also searchable as the bare name.
        if let Some((name, port)) = h.rsplit_once(':') {
            if !name.is_empty() && !name.ends_with(':') && port.bytes().all(|b| b.is_ascii_digit()) {
                put(text_field!("host.http"), name.trim_start_matches('[').trim_end_matches(']'));
            }
        }
    }
    // As Arkime: the URI is the host followed by the path (absolute-form requests,
    // as sent to proxies, are stored without their scheme).
    let uri = match path.split_once("://") {
        Some((_, rest)) => rest.to_string(),
        None => format!("{}{path}", host.unwrap_or("")),
    };
    put(text_field!("http.uri"), &uri);
    let plain_path = path.split(['?', '#']).next().unwrap_or(path);
    put(text_field!("http.uri.path"), plain_path);
    if let Some(ua) = header(headers, "user-agent") {
        put(text_field!("http.user-agent"), ua);
    }
    if let Some(v) = req.version {
        put(text_field!("http.version.src"), &format!("1.{v}"));
    }
    if names {
        request_headers(headers, path, extra);
    }
    // The client a request was forwarded for: the first address of each
    // X-Forwarded-For (the proxies after it add the ones they heard from), as Arkime
    // keeps it; what is not an address is left out.
    for h in headers.iter().filter(|h| h.name.eq_ignore_ascii_case("x-forwarded-for")) {
        let value = String::from_utf8_lossy(h.value);
        if let Some(ip) = value.split(',').next().and_then(|first| crate::kit::loose_ip(first.trim())) {
            let r = extra.add_ip(ip_field!("ip.xff").0, ip.into());
            debug_assert!(r.is_ok());
        }
    }
}

/// What a response says, into a session's values, or a transaction's (`names`: with
/// the header names, as for a request).
pub(crate) fn response_values(headers: &[httparse::Header<'_>], code: u16, extra: &mut Extra, names: bool) {
    let r = extra.add_int(int_field!("http.statuscode").0, i64::from(code));
    debug_assert!(r.is_ok());
    let mut put = |f: TextField, v: &str| crate::kit::add_text(extra, f, v);
    if let Some(ct) = header(headers, "content-type") {
        put(text_field!("http.content-type"), ct.split(';').next().unwrap_or(ct).trim());
    }
    if names {
        use crate::kit::add_texts;
        // Each field's values go in together, as a request's.
        add_texts(extra, text_field!("http.hasheader.dst"), headers.iter().map(|h| h.name));
        let location = |h: &&httparse::Header<'_>| h.name.eq_ignore_ascii_case("location");
        add_texts(extra, text_field!("http.location"), headers.iter().filter(location).map(header_text));
        let others = || headers.iter().filter(|h| !location(h));
        add_texts(extra, text_field!("http.header.response.field"), others().map(|h| h.name));
        add_texts(extra, text_field!("http.hasheader.dst.value"), others().map(|h| header_value(h.value)));
    }
}

/// Request headers with a field of their own, left out of `http.header.request.field`
/// (as Arkime leaves them out).
const OWN_FIELD_HEADERS: &[&str] = &["host", "user-agent", "referer", "x-forwarded-for", "authorization"];

/// A request's header names and values, its Referer, cookies, query string and
/// authorization scheme, into the session's values (Arkime's request header fields).
fn request_headers(headers: &[httparse::Header<'_>], path: &str, extra: &mut Extra) {
    use crate::kit::add_texts;
    let value = header_text;
    // Each field's values go in together: a message's headers are many, and most are
    // repeats of the last request's.
    add_texts(extra, text_field!("http.hasheader.src"), headers.iter().map(|h| h.name));
    let others = || headers.iter().filter(|h| !OWN_FIELD_HEADERS.iter().any(|own| h.name.eq_ignore_ascii_case(own)));
    add_texts(extra, text_field!("http.header.request.field"), others().map(|h| h.name));
    add_texts(extra, text_field!("http.hasheader.src.value"), others().map(|h| header_value(h.value)));
    let mut put = |f: TextField, v: &str| crate::kit::add_text(extra, f, v);
    for h in headers {
        if h.name.eq_ignore_ascii_case("referer") {
            put(text_field!("http.referer"), &value(h));
        } else if h.name.eq_ignore_ascii_case("authorization") {
            if let Some(scheme) = value(h).split_whitespace().next() {
                put(text_field!("http.authtype"), scheme);
            }
        } else if h.name.eq_ignore_ascii_case("cookie") {
            // `a=1; b=2`: a part without `=` names no cookie.
            for part in value(h).split(';') {
                if let Some((key, v)) = part.split_once('=') {
                    let (key, v) = (key.trim(), v.trim());
                    if !key.is_empty() {
                        put(text_field!("http.cookie.key"), key);
                    }
                    if !v.is_empty() {
                        put(text_field!("http.cookie.value"), v);
                    }
                }
            }
        }
    }
    // The query string, read as Arkime reads it: each piece before a `=` or `&` is a
    // key (or, after a `=`, a value), percent-decoded; a last piece is kept only as
    // a value (`?a=1&flag` has keys `a`, values `1`).
    let query = path.split_once('?').map_or("", |(_, q)| q);
    let query = query.split('#').next().unwrap_or(query);
    let (mut start, mut in_value) = (0, false);
    for (i, c) in query.bytes().enumerate().filter(|(_, c)| matches!(c, b'&' | b'=')) {
        if i > start {
            let field = if in_value { text_field!("http.uri.value") } else { text_field!("http.uri.key") };
            put(field, &percent_decoded(&query[start..i]));
        }
        start = i + 1;
        in_value = c == b'=';
    }
    if in_value && query.len() > start {
        put(text_field!("http.uri.value"), &percent_decoded(&query[start..]));
    }
}

/// A header's value as text, trimmed (Referer, Location, Authorization, Cookie).
fn header_text(h: &httparse::Header<'_>) -> String {
    String::from_utf8_lossy(h.value).trim().to_owned()
}

/// A header's value as the header value fields keep it: trimmed, its first KiB (as
/// Arkime), as text (borrowed when it is UTF-8, as nearly all are).
fn header_value(value: &[u8]) -> std::borrow::Cow<'_, str> {
    const MAX: usize = 1024;
    let value = trim(value);
    let value = &value[..value.len().min(MAX)];
    match std::str::from_utf8(value) {
        Ok(s) => std::borrow::Cow::Borrowed(s),
        // Cut inside a character, or not UTF-8 at all.
        Err(e) if e.error_len().is_none() => {
            std::borrow::Cow::Borrowed(std::str::from_utf8(&value[..e.valid_up_to()]).unwrap_or_default())
        }
        Err(_) => String::from_utf8_lossy(value),
    }
}

/// `%41` as `A`; a `%` not followed by two hex digits is kept as it is, and bytes that
/// are not UTF-8 are replaced.
fn percent_decoded(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        match (b[i], b.get(i + 1).copied().and_then(hex), b.get(i + 2).copied().and_then(hex)) {
            (b'%', Some(hi), Some(lo)) => {
                out.push((hi * 16 + lo) as u8);
                i += 3;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// What an answer's headers say of the session, whatever HTTP version carried them:
/// its values, who authenticates, and the risks a server's headers show.
pub(crate) fn answer_into_session(headers: &[httparse::Header<'_>], code: u16, rec: &mut SessionRecord) {
    response_values(headers, code, &mut rec.extra, true);
    authentication(headers, rec);
    if header(headers, "server").is_some_and(crate::risk::obsolete_server) {
        crate::risk::add(rec, crate::risk::Risk::HttpObsoleteServer);
    }
    // A file sent as an attachment, to be saved rather than shown.
    if header(headers, "content-disposition").is_some_and(|d| d.to_ascii_lowercase().contains("filename")) {
        crate::risk::add(rec, crate::risk::Risk::BinaryDataTransfer);
    }
}

/// Who authenticates: the user of Basic credentials, and NTLM tokens (raw, or
/// inside SPNEGO after `Negotiate`) in either direction.
pub(crate) fn authentication(headers: &[httparse::Header<'_>], rec: &mut SessionRecord) {
    for h in headers {
        let name = h.name;
        if name.eq_ignore_ascii_case("authorization") || name.eq_ignore_ascii_case("proxy-authorization") {
            let value = String::from_utf8_lossy(h.value);
            let mut words = value.split_whitespace();
            if words.next().is_some_and(|s| s.eq_ignore_ascii_case("basic")) {
                let decoded = words.next().and_then(|t| base64::engine::general_purpose::STANDARD.decode(t).ok());
                if let Some(user) = decoded.as_deref().and_then(|d| d.split(|b| *b == b':').next()) {
                    let user = String::from_utf8_lossy(user);
                    if !user.is_empty() {
                        put_text(rec, text_field!("http.user"), &user);
                        put_text(rec, text_field!("user"), &user);
                    }
                    // Basic is the password itself, base64-encoded.
                    crate::risk::add(rec, crate::risk::Risk::ClearTextCredentials);
                }
                continue;
            }
        } else if !name.eq_ignore_ascii_case("www-authenticate") && !name.eq_ignore_ascii_case("proxy-authenticate") {
            continue;
        }
        ntlm::record_line(rec, h.value);
    }
}

impl Http {
    /// A message's last byte was read (the packet that carried it is the record's
    /// newest): a request is then sent, a response's time is taken.
    fn message_done(&mut self, side: Side, rec: &mut SessionRecord) {
        match side {
            Side::Client => {
                if let Some(p) = self.pending.back_mut() {
                    p.sent_ns.get_or_insert(rec.stop_ns);
                }
            }
            Side::Server => {
                if let Some(sent) = self.timing.take() {
                    put_duration(rec, duration_field!("http.response-time"), rec.stop_ns - sent);
                    let took = tyto_schema::time::span_micros(rec.stop_ns - sent);
                    let list = rec.transactions.as_mut().map(|l| &mut l.list);
                    if let Some(t) = self.answering.and_then(|i| list?.get_mut(i)) {
                        t.response_us = Some(took);
                    }
                }
            }
        }
    }

    /// Body bytes read: counted into the transaction of the message they belong to.
    fn body_bytes(&mut self, side: Side, n: u64, rec: &mut SessionRecord) {
        let Some(list) = rec.transactions.as_mut() else { return };
        let t = match side {
            Side::Client => self.pending.back_mut().and_then(|p| p.txn.as_mut()),
            // The row may have been written since (a long session): the index is then gone.
            Side::Server => self.answering.and_then(|i| list.list.get_mut(i)),
        };
        if let Some(t) = t {
            match side {
                Side::Client => t.request_bytes += n,
                Side::Server => t.response_bytes += n,
            }
        }
    }

    fn request(
        &mut self,
        headers: &[httparse::Header<'_>],
        req: &httparse::Request<'_, '_>,
        header_len: usize,
        rec: &mut SessionRecord,
    ) -> Body {
        let method = req.method.unwrap_or("");
        request_values(headers, req, &mut rec.extra, true);
        authentication(headers, rec);
        if self.pending.len() < MAX_PENDING {
            let txn = rec.transactions.is_some().then(|| {
                let mut t = Transaction::new("http");
                t.request_ns = Some(rec.stop_ns);
                t.request_bytes = header_len as u64;
                request_values(headers, req, &mut t.values, false);
                t
            });
            self.pending.push_back(Pending { method: method.to_string(), sent_ns: None, txn });
        }
        let body = framing(headers).unwrap_or(Body::Headers);
        if body == Body::Headers {
            self.message_done(Side::Client, rec);
        }
        body
    }

    fn response(
        &mut self,
        headers: &[httparse::Header<'_>],
        code: u16,
        header_len: usize,
        rec: &mut SessionRecord,
    ) -> Body {
        answer_into_session(headers, code, rec);
        self.answering = None;
        // Interim responses (1xx) answer no request yet, but for Switching Protocols.
        let final_answer = code >= 200 || code == 101;
        let mut answered = if final_answer { self.pending.pop_front() } else { None };
        self.timing = answered.as_ref().and_then(|p| p.sent_ns);
        if final_answer && rec.transactions.is_some() {
            let mut t = answered.as_mut().and_then(|p| p.txn.take()).unwrap_or_else(|| Transaction::new("http"));
            t.response_ns = Some(rec.stop_ns);
            t.response_bytes = header_len as u64;
            response_values(headers, code, &mut t.values, false);
            self.answering = file_transaction(rec, t);
        }
        // Switching protocols (h2c, WebSocket): what follows is the new protocol's,
        // named here when it is WebSocket (its frames alone prove nothing).
        if code == 101 {
            self.message_done(Side::Server, rec);
            self.tunnel = true;
            let upgrade = header(headers, "upgrade").unwrap_or("");
            if upgrade.split(',').any(|p| p.trim().eq_ignore_ascii_case("websocket")) {
                self.successor = Some(&super::websocket::PROTOCOL);
            }
            return Body::Stopped;
        }
        let method = answered.map(|p| p.method);
        if method.as_deref() == Some("HEAD") || code < 200 || code == 204 || code == 304 {
            self.message_done(Side::Server, rec);
            return Body::Headers;
        }
        if method.as_deref() == Some("CONNECT") && (200..300).contains(&code) {
            self.message_done(Side::Server, rec);
            self.tunnel = true;
            return Body::Stopped;
        }
        let body = framing(headers).unwrap_or(Body::ToEnd);
        // A body to the end of the connection has no last byte to wait for: its
        // response is timed at its headers, as Wireshark times it.
        if matches!(body, Body::Headers | Body::ToEnd) {
            self.message_done(Side::Server, rec);
        }
        body
    }

    /// Parses one header block from the front of the buffer; returns the bytes used.
    fn headers(&mut self, side: Side, rec: &mut SessionRecord) -> Option<usize> {
        let i = side as usize;
        let buf = std::mem::take(&mut self.dirs[i].buf);
        let mut storage = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let (used, next) = match side {
            Side::Client => {
                let mut req = httparse::Request::new(&mut storage);
                match req.parse(&buf) {
                    Ok(httparse::Status::Complete(n)) => {
                        let hs: Vec<httparse::Header<'_>> = req.headers.to_vec();
                        (Some(n), self.request(&hs, &req, n, rec))
                    }
                    Ok(httparse::Status::Partial) if buf.len() < MAX_HEADER_BYTES => (None, Body::Headers),
                    _ => (None, Body::Stopped),
                }
            }
            Side::Server => {
                let mut resp = httparse::Response::new(&mut storage);
                match resp.parse(&buf) {
                    Ok(httparse::Status::Complete(n)) => {
                        let code = resp.code.unwrap_or(0);
                        if let Some(v) = resp.version {
                            let version = format!("1.{v}");
                            put_text(rec, text_field!("http.version.dst"), &version);
                            put_text(rec, text_field!("http.version"), &version);
                        }
                        (Some(n), self.response(resp.headers, code, n, rec))
                    }
                    Ok(httparse::Status::Partial) if buf.len() < MAX_HEADER_BYTES => (None, Body::Headers),
                    _ => (None, Body::Stopped),
                }
            }
        };
        self.dirs[i].buf = buf;
        self.dirs[i].body = next;
        if used.is_some() && matches!(next, Body::Length(_) | Body::ChunkSize | Body::ToEnd) {
            self.dirs[i].hash = Some(Box::new(BodyDigest::new(side == Side::Client)));
        }
        used
    }
}

impl Http {
    /// The side as HTTP sees it: the one that sends requests is the client.
    fn role(&mut self, side: Side, first: &[u8]) -> Side {
        let swapped = *self.roles.get_or_insert_with(|| side == Side::Client && first.starts_with(b"HTTP/1."));
        match (swapped, side) {
            (false, s) => s,
            (true, Side::Client) => Side::Server,
            (true, Side::Server) => Side::Client,
        }
    }
}

impl Http {
    /// Reads one direction's bytes: headers, bodies, their framing.
    fn read(&mut self, side: Side, mut data: &[u8], rec: &mut SessionRecord) {
        let side = self.role(side, data);
        let i = side as usize;
        let total = data.len();
        while !data.is_empty() {
            match self.dirs[i].body {
                Body::Stopped => return,
                Body::ToEnd => {
                    self.dirs[i].hash(data);
                    return;
                }
                Body::Length(n) => {
                    let skip = (data.len() as u64).min(n);
                    self.dirs[i].hash(&data[..skip as usize]);
                    data = &data[skip as usize..];
                    self.body_bytes(side, skip, rec);
                    self.dirs[i].body = if skip == n { Body::Headers } else { Body::Length(n - skip) };
                    if skip == n {
                        self.dirs[i].hash_done(rec);
                        self.message_done(side, rec);
                    }
                }
                Body::ChunkData(n) => {
                    let skip = (data.len() as u64).min(n);
                    self.dirs[i].hash(&data[..skip as usize]);
                    data = &data[skip as usize..];
                    self.body_bytes(side, skip, rec);
                    // The chunk's trailing CRLF is read as an empty size line.
                    self.dirs[i].body = if skip == n { Body::ChunkSize } else { Body::ChunkData(n - skip) };
                }
                Body::ChunkSize | Body::Trailer => {
                    // Size and trailer lines, until the body leaves them (chunk data,
                    // or the next message after the trailer's empty line).
                    let d = &mut self.dirs[i];
                    let mut lines = std::mem::take(&mut d.lines);
                    let used = lines.feed(data, |line| {
                        let line = trim(line);
                        d.body = match (d.body, line.is_empty()) {
                            (Body::ChunkSize, true) => Body::ChunkSize,
                            (Body::ChunkSize, false) => {
                                let hex = line.split(|b| *b == b';').next().map(trim).unwrap_or_default();
                                match std::str::from_utf8(hex).ok().and_then(|h| u64::from_str_radix(h, 16).ok()) {
                                    Some(0) => {
                                        d.hash_done(rec);
                                        Body::Trailer
                                    }
                                    Some(n) => Body::ChunkData(n),
                                    None => Body::Stopped,
                                }
                            }
                            (_, true) => Body::Headers,
                            (_, false) => Body::Trailer,
                        };
                        matches!(d.body, Body::ChunkSize | Body::Trailer)
                    });
                    d.lines = lines;
                    let Some(used) = used else { return };
                    data = &data[used..];
                    if self.dirs[i].body == Body::Headers {
                        self.message_done(side, rec);
                    }
                }
                Body::Headers => {
                    let d = &mut self.dirs[i];
                    let before = d.buf.len();
                    let room = MAX_HEADER_BYTES.saturating_sub(before).max(1);
                    let take = data.len().min(room);
                    d.buf.extend_from_slice(&data[..take]);
                    match self.headers(side, rec) {
                        Some(used) => {
                            // The buffer held no complete block before, so the block
                            // ends inside the new bytes; what follows it is body or the
                            // next message, read on from `data` without copying.
                            data = &data[used.saturating_sub(before).min(take)..];
                            self.dirs[i].buf.clear();
                            if self.tunnel {
                                // Whatever follows the accepting response is the tunnel's.
                                self.upgrade.switch_at(total - data.len());
                                self.dirs = Default::default();
                                self.dirs[0].body = Body::Stopped;
                                self.dirs[1].body = Body::Stopped;
                                return;
                            }
                        }
                        None => {
                            data = &data[take..];
                            if self.dirs[i].body == Body::Stopped {
                                self.dirs[i].buf = Vec::new();
                            }
                            if data.is_empty() {
                                return;
                            }
                        }
                    }
                }
            }
        }
    }
}

impl Dissector for Http {
    fn feed(&mut self, side: Side, data: &[u8], rec: &mut SessionRecord) {
        self.read(side, data, rec);
        for d in &mut self.dirs {
            if let Some(h) = &mut d.hash {
                h.judge(rec, false);
            }
        }
    }
    fn end(&mut self, rec: &mut SessionRecord) {
        // A body that runs to the end of the connection ends with it.
        for d in &mut self.dirs {
            if d.body == Body::ToEnd {
                d.hash_done(rec);
            }
        }
        // Requests not answered yet go out as they are; their methods stay to
        // frame the responses if the session goes on in another row.
        for p in &mut self.pending {
            if let Some(t) = p.txn.take() {
                file_transaction(rec, t);
            }
        }
        self.answering = None;
    }

    fn gap(&mut self, side: Side, _len: u64) {
        let side = self.role(side, &[]);
        let d = &mut self.dirs[side as usize];
        d.body = Body::Stopped;
        d.buf = Vec::new();
        d.lines.reset();
        d.hash = None;
    }

    fn wants_more(&self) -> bool {
        // A body to the end of the connection is read on while it is being hashed.
        self.dirs.iter().any(|d| match d.body {
            Body::Stopped => false,
            Body::ToEnd => d.hash.is_some(),
            _ => true,
        })
    }

    fn handoff(&mut self) -> Option<usize> {
        self.upgrade.take()
    }

    fn successor(&self) -> Option<&'static Protocol> {
        self.successor
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kit::testing::texts;
    use tyto_schema::Values;

    const REQS: &[u8] = b"GET /index.html?q=1 HTTP/1.1\r\nHost: WWW.Example.com\r\nUser-Agent: curl/8.5.0\r\n\r\n\
POST /form HTTP/1.1\r\nHost: www.example.com\r\nContent-Length: 5\r\n\r\nhello\
HEAD /h HTTP/1.1\r\nHost: www.example.com\r\n\r\n\
GET /c HTTP/1.1\r\nHost: www.example.com\r\n\r\n";
    const RESPS: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: 3\r\n\r\nabc\
HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nwxyz\r\n0\r\n\r\n\
HTTP/1.1 200 OK\r\nContent-Length: 999\r\n\r\n\
HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n";

    fn run(split: usize) -> SessionRecord {
        let mut h = Http::default();
        let mut rec = SessionRecord::default();
        for part in REQS.chunks(split) {
            h.feed(Side::Client, part, &mut rec);
        }
        for part in RESPS.chunks(split) {
            h.feed(Side::Server, part, &mut rec);
        }
        rec
    }

    /// Arkime's header fields: names and values of headers without a field of their
    /// own, cookies, the query string decoded, the authorization scheme, versions.
    #[test]
    fn headers_cookies_and_queries_as_arkime_files_them() {
        let mut h = Http::default();
        let mut rec = SessionRecord::default();
        h.feed(
            Side::Client,
            b"GET /s?q=a%20b&lang=&x%3Dy=1&&flag HTTP/1.0\r\nHost: a.example\r\nReferer: http://b.example/\r\n\
Cookie: sid=AB12; theme=dark ; junk\r\nAuthorization: Basic dTpw\r\nAccept-Language:  en-US \r\n\r\n",
            &mut rec,
        );
        h.feed(
            Side::Server,
            b"HTTP/1.1 302 Found\r\nLocation: /login\r\nServer: Demo/1.0\r\nContent-Length: 0\r\n\r\n",
            &mut rec,
        );
        let sorted = |f: &str| {
            let mut v = texts(&rec, f);
            v.sort();
            v
        };
        assert_eq!(texts(&rec, "http.version.src"), ["1.0"]);
        assert_eq!(texts(&rec, "http.version.dst"), ["1.1"]);
        assert_eq!(sorted("http.version"), ["1.0", "1.1"]);
        assert_eq!(texts(&rec, "http.referer"), ["http://b.example/"]);
        assert_eq!(texts(&rec, "http.authtype"), ["basic"]);
        assert_eq!(sorted("http.cookie.key"), ["sid", "theme"]);
        assert_eq!(sorted("http.cookie.value"), ["AB12", "dark"]);
        assert_eq!(sorted("http.uri.key"), ["lang", "q", "x=y"]);
        assert_eq!(sorted("http.uri.value"), ["1", "a b"]);
        assert_eq!(sorted("http.header.request.field"), ["accept-language", "cookie"]);
        assert_eq!(sorted("http.hasheader.src.value"), ["en-us", "sid=ab12; theme=dark ; junk"]);
        assert_eq!(sorted("http.hasheader.src"), ["accept-language", "authorization", "cookie", "host", "referer"]);
        assert_eq!(texts(&rec, "http.location"), ["/login"]);
        assert_eq!(sorted("http.header.response.field"), ["content-length", "server"]);
        assert_eq!(sorted("http.hasheader.dst.value"), ["0", "demo/1.0"]);
        assert_eq!(percent_decoded("%zz%4"), "%zz%4");
        assert_eq!(header_value("é".repeat(600).as_bytes()).len(), 1024);
        assert_eq!(header_value(b"  a\xff "), "a\u{fffd}");
        assert_eq!(percent_decoded("%C3%A9%ff"), "é\u{fffd}");
    }

    /// A program's start in an answer marks the session even when the download is
    /// cut short; so does an old server, an attachment, and a program's type.
    #[test]
    fn request_bodies_kept_as_text() {
        assert_eq!(request_body_text(b"a=1&b=2"), Some("a=1&b=2"));
        assert_eq!(request_body_text(b"{\"k\":\n\t1}\r\n"), Some("{\"k\":\n\t1}\r\n"));
        // A character cut by the limit is dropped; binary and control bytes are not text.
        assert_eq!(request_body_text("caf\u{e9}".as_bytes()[..4].as_ref()), Some("caf"));
        assert_eq!(request_body_text(b"PK\x03\x04\x14\x00"), None);
        assert_eq!(request_body_text(&[0xff, 0xfe, b'a']), None);
        assert_eq!(request_body_text(b""), None);
        let mut rec = SessionRecord::default();
        let mut h = Http::default();
        let long = "x".repeat(3000);
        let req = format!("POST /f HTTP/1.1\r\nHost: a\r\nContent-Length: 3000\r\n\r\n{long}");
        h.feed(Side::Client, req.as_bytes(), &mut rec);
        h.feed(Side::Server, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", &mut rec);
        assert_eq!(texts(&rec, "http.reqbody"), [&long[..REQUEST_BODY_KEPT]]);
    }

    #[test]
    fn programs_attachments_and_old_servers_are_risks() {
        let risks = |answer: &[u8], split: usize| {
            let mut h = Http::default();
            let mut rec = SessionRecord::default();
            h.feed(Side::Client, b"GET /x HTTP/1.1\r\nHost: a.example\r\nUser-Agent: curl/8\r\n\r\n", &mut rec);
            for part in answer.chunks(split) {
                h.feed(Side::Server, part, &mut rec);
            }
            crate::risk::assess(&mut rec);
            let mut r = texts(&rec, "risk");
            r.sort();
            r
        };
        let mut exe =
            b"HTTP/1.1 200 OK\r\nServer: nginx/1.10.3\r\nContent-Type: image/png\r\nContent-Length: 90000\r\n\r\nMZ"
                .to_vec();
        exe.extend_from_slice(&[0x90; 76]);
        exe.extend_from_slice(b"This program cannot be run in DOS mode.\r\r\n$");
        exe.extend_from_slice(&[0; 300]);
        for split in [1, 7, 100, 10_000] {
            assert_eq!(risks(&exe, split), ["binary-application-transfer", "http-obsolete-server"], "{split}");
        }
        let attachment = b"HTTP/1.1 200 OK\r\nServer: Apache/2.4.58\r\nContent-Disposition: attachment; filename=\"a.mp3\"\r\nContent-Length: 2\r\n\r\nID";
        assert_eq!(risks(attachment, 5), ["binary-data-transfer"]);
        let dll = b"HTTP/1.1 200 OK\r\nContent-Type: application/x-msdownload\r\nContent-Length: 2\r\n\r\nMZ";
        assert_eq!(risks(dll, 1000), ["binary-application-transfer"]);
        let text = b"HTTP/1.1 200 OK\r\nServer: nginx/1.24.0\r\nContent-Length: 2\r\n\r\nMZ";
        assert_eq!(risks(text, 1000), Vec::<String>::new());
        assert!(crate::risk::obsolete_server("Apache/2.2.22 (Debian)") && crate::risk::obsolete_server("nginx/1.21.9"));
        assert!(
            !crate::risk::obsolete_server("Apache/2.4.0")
                && !crate::risk::obsolete_server("Apache/2.2")
                && !crate::risk::obsolete_server("Apache")
        );
    }

    #[test]
    fn forwarded_for_addresses() {
        assert_eq!(crate::kit::loose_ip("10.000.000.03"), Some([10, 0, 0, 3].into()));
        assert_eq!(crate::kit::loose_ip("[2001:db8::1]"), "2001:db8::1".parse().ok());
        assert_eq!(crate::kit::loose_ip("192.0.2.7"), Some([192, 0, 2, 7].into()));
        for not in ["unknown", "1.2.3", "1.2.3.256", "1.2.3.4.5", "1..2.3", "0001.2.3.4", ""] {
            assert_eq!(crate::kit::loose_ip(not), None, "{not}");
        }
    }

    #[test]
    fn keep_alive_messages_in_every_segmentation() {
        for split in [1, 2, 3, 7, 16, 64, 1000] {
            let rec = run(split);
            assert_eq!(texts(&rec, "http.method"), ["GET", "POST", "HEAD"], "split {split}");
            assert_eq!(texts(&rec, "host.http"), ["www.example.com"]);
            assert_eq!(
                texts(&rec, "http.uri"),
                ["WWW.Example.com/index.html?q=1", "www.example.com/form", "www.example.com/h", "www.example.com/c"]
            );
            assert_eq!(texts(&rec, "http.uri.path"), ["/index.html", "/form", "/h", "/c"]);
            assert_eq!(texts(&rec, "http.user-agent"), ["curl/8.5.0"]);
            assert_eq!(texts(&rec, "http.content-type"), ["text/html"]);
            // 200, then 404 (chunked, after a 100), then the HEAD's 200 without its
            // announced body, then 500.
            assert_eq!(rec.extra.get("http.statuscode"), Some(&Values::Int(vec![200, 100, 404, 500])), "split {split}");
        }
    }

    /// Each response is timed from its request's last byte to its own last byte,
    /// whatever the segmentation: a byte read in a segment is "seen" at the time of
    /// that segment (here, its end offset in microseconds; answers a second later).
    #[test]
    fn responses_are_timed_from_the_last_byte_of_the_request_to_their_own() {
        let end = |text: &[u8], pattern: &[u8], nth: usize| {
            let mut at = 0;
            for _ in 0..=nth {
                at += text[at..].windows(pattern.len()).position(|w| w == pattern).unwrap() + pattern.len();
            }
            at
        };
        // Where each request and each final answer ends.
        let sent = [end(REQS, b"\r\n\r\n", 0), end(REQS, b"hello", 0), end(REQS, b"\r\n\r\n", 2), REQS.len()];
        let answered = [end(RESPS, b"abc", 0), end(RESPS, b"0\r\n\r\n", 0), end(RESPS, b"999\r\n\r\n", 0), RESPS.len()];
        for split in [1, 5, 64, 1000] {
            let seen = |byte_end: usize, len: usize| (byte_end.div_ceil(split) * split).min(len) as i64 * 1000;
            let mut h = Http::default();
            let mut rec = SessionRecord::default();
            for (i, part) in REQS.chunks(split).enumerate() {
                rec.stop_ns = ((i + 1) * split).min(REQS.len()) as i64 * 1000;
                h.feed(Side::Client, part, &mut rec);
            }
            for (i, part) in RESPS.chunks(split).enumerate() {
                rec.stop_ns = 1_000_000_000 + ((i + 1) * split).min(RESPS.len()) as i64 * 1000;
                h.feed(Side::Server, part, &mut rec);
            }
            // A field's values are distinct: equal times are kept once.
            let mut want: Vec<i64> = Vec::new();
            for (s, a) in sent.iter().zip(answered) {
                let us = (1_000_000_000 + seen(a, RESPS.len()) - seen(*s, REQS.len())) / 1000;
                if !want.contains(&us) {
                    want.push(us);
                }
            }
            assert_eq!(rec.extra.get("http.response-time"), Some(&Values::Int(want)), "split {split}");
        }
    }

    /// One transaction per request with its own response (the 100 Continue answers
    /// nothing), sizes with bodies, in every segmentation; the last request, never
    /// answered, is filed when the row is written.
    #[test]
    fn each_request_is_a_transaction_with_its_response() {
        for split in [1, 7, 1000] {
            let mut h = Http::default();
            let mut rec = SessionRecord { transactions: Some(Default::default()), ..SessionRecord::default() };
            rec.stop_ns = 10;
            for part in REQS.chunks(split) {
                h.feed(Side::Client, part, &mut rec);
            }
            rec.stop_ns = 20;
            // All but the last response.
            let cut = RESPS.windows(12).position(|w| w == b"HTTP/1.1 500").unwrap();
            for part in RESPS[..cut].chunks(split) {
                h.feed(Side::Server, part, &mut rec);
            }
            h.end(&mut rec);
            let list = &rec.transactions.as_ref().unwrap().list;
            let summary: Vec<_> = list
                .iter()
                .map(|t| {
                    let text = |f| match t.values.get(f) {
                        Some(Values::Text(v)) => v.join(","),
                        _ => String::new(),
                    };
                    let code = match t.values.get("http.statuscode") {
                        Some(Values::Int(v)) => v[0],
                        _ => 0,
                    };
                    (text("http.method"), text("http.uri.path"), code, t.response_ns)
                })
                .collect();
            assert_eq!(
                summary,
                [
                    ("GET".into(), "/index.html".into(), 200, Some(20)),
                    ("POST".into(), "/form".into(), 404, Some(20)),
                    ("HEAD".into(), "/h".into(), 200, Some(20)),
                    ("GET".into(), "/c".into(), 0, None),
                ],
                "split {split}"
            );
            let get_len = REQS.windows(4).position(|w| w == b"POST").unwrap() as u64;
            assert_eq!(list[0].request_bytes, get_len);
            assert_eq!(list[0].response_bytes, 78 + 3, "headers and the 3-byte body");
            assert_eq!(list[1].request_bytes, 65 + 5);
            assert!(list.iter().all(|t| t.request_ns == Some(10)));
        }
    }

    #[test]
    fn probes_look_at_the_first_bytes_only() {
        assert_eq!(probe(Side::Client, b"GE"), Probe::NeedMore);
        assert_eq!(probe(Side::Client, b"GET / HTTP/1.0"), Probe::NeedMore, "the line is not complete yet");
        assert_eq!(probe(Side::Client, b"GET / HTTP/1.0\r\n"), Probe::Match);
        assert_eq!(probe(Side::Client, b"OPTIONS sip:bob@example.com SIP/2.0\r\n"), Probe::NoMatch);
        assert_eq!(probe(Side::Client, b"SSH-2.0-x"), Probe::NoMatch);
        assert_eq!(probe(Side::Client, b"HTTP/1.0 403 Forbidden\r\n"), Probe::Match, "picked up mid-way");
        assert_eq!(probe(Side::Client, b"RPC_IN_DATA /rpc/rpcproxy.dll?mail:6001 HTTP/1.1\r\n"), Probe::Match);
        assert_eq!(probe(Side::Client, b"RPC_IN"), Probe::NeedMore);
        assert_eq!(probe(Side::Client, b"EHLO mail.example.com\r\n"), Probe::NoMatch);
        assert_eq!(probe(Side::Server, b"HTTP/1.1 200"), Probe::Match);
        assert_eq!(probe(Side::Server, b"220 ftp"), Probe::NoMatch);
    }

    #[test]
    fn a_response_first_makes_its_sender_the_server() {
        let mut h = Http::default();
        let mut rec = SessionRecord::default();
        h.feed(Side::Client, b"HTTP/1.0 403 Forbidden\r\nContent-Length: 4\r\n\r\nnope", &mut rec);
        h.feed(Side::Server, b"GET /again HTTP/1.0\r\n\r\n", &mut rec);
        assert_eq!(rec.extra.get("http.statuscode"), Some(&Values::Int(vec![403])));
        assert_eq!(rec.extra.get("http.method"), Some(&Values::Text(vec!["GET".into()])));
    }

    #[test]
    fn garbage_and_huge_headers_stop_quietly() {
        let mut h = Http::default();
        let mut rec = SessionRecord::default();
        h.feed(Side::Client, b"GET / HTTP/1.1\r\nBad Header\x00\r\n\r\n", &mut rec);
        let big = vec![b'a'; 100_000];
        h.feed(Side::Server, b"HTTP/1.1 200 OK\r\nX: ", &mut rec);
        h.feed(Side::Server, &big, &mut rec);
        assert!(!h.wants_more());
    }
}
