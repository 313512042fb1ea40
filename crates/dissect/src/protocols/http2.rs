//! HTTP/2 in clear text (h2c): the client's connection preface, sent straight away
//! ("prior knowledge", as gRPC inside a cluster) or after an HTTP/1.1 `Upgrade: h2c`
//! answered 101, which the HTTP dissector hands on. Frames are read each way; header
//! blocks (HEADERS, CONTINUATION) are decoded with HPACK into the same fields as
//! HTTP/1's (`http.method`, `host.http`, `http.uri`, `http.statuscode`…, `http.version`
//! `2`), and each stream is a transaction: request, answer, response time from the
//! request's last byte to the answer's, sizes.
//!
//! Bounded: a header block is kept up to `MAX_BLOCK` bytes, each side's HPACK table
//! to `MAX_TABLE` bytes, `MAX_STREAMS` streams at once. Past a bound, or on bytes
//! that are not HTTP/2's framing, that side is no longer read (the protocol stays).

use std::collections::HashMap;

use loona_hpack::Decoder;
use tyto_schema::{SessionRecord, Transaction};

use crate::kit::messages::{Framed, HandOn};
use crate::kit::{file_transaction, put_duration, put_text, starts_with};
use crate::protocols::http::{answer_into_session, authentication, request_values, response_values};
use crate::{Dissector, Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "http2",
    transports: &[Transport::Tcp],
    ports: &[],
    probe,
    new: || Box::<Http2>::default(),
    later: None,
};

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// A frame's header: length (24 bits), type, flags, stream (31 bits).
const FRAME_HEADER: usize = 9;
/// The largest frame RFC 9113 allows.
const MAX_FRAME: usize = (1 << 24) - 1;
const MAX_BLOCK: usize = 64 * 1024;
const MAX_TABLE: usize = 64 * 1024;
const MAX_STREAMS: usize = 128;

const DATA: u8 = 0;
const HEADERS: u8 = 1;
const RST_STREAM: u8 = 3;
const PUSH_PROMISE: u8 = 5;
const CONTINUATION: u8 = 9;
const END_STREAM: u8 = 0x1;
const END_HEADERS: u8 = 0x4;
const PADDED: u8 = 0x8;
const PRIORITY: u8 = 0x20;

pub fn probe(side: Side, data: &[u8]) -> Probe {
    match side {
        Side::Client => starts_with(data, PREFACE),
        // The server's first frame is a SETTINGS frame (type 4, stream 0); the
        // client's preface decides.
        Side::Server => Probe::NeedMore,
    }
}

/// One stream's request and answer.
#[derive(Default)]
struct Stream {
    /// When the request's last byte came.
    sent_ns: Option<i64>,
    txn: Option<Transaction>,
    /// The answer's final headers came (not only 1xx).
    answered: bool,
}

/// A header block being gathered from HEADERS (or PUSH_PROMISE) and CONTINUATION frames.
struct Block {
    stream: u32,
    end_stream: bool,
    /// A server's promise: the request it answers unasked, on the promised stream.
    promise: bool,
    bytes: Vec<u8>,
    /// Its frames' bytes on the wire, headers included.
    wire: usize,
}

/// One direction.
struct Direction {
    frames: Framed,
    /// Preface bytes still to pass over (the client's).
    preface: usize,
    hpack: Decoder<'static>,
    block: Option<Block>,
    stopped: bool,
}

impl Default for Direction {
    fn default() -> Direction {
        let mut hpack = Decoder::new();
        hpack.set_max_allowed_table_size(MAX_TABLE);
        Direction { frames: Framed::default(), preface: 0, hpack, block: None, stopped: false }
    }
}

pub struct Http2 {
    dirs: [Direction; 2],
    streams: HashMap<u32, Stream>,
}

impl Default for Http2 {
    fn default() -> Http2 {
        let mut dirs: [Direction; 2] = Default::default();
        dirs[Side::Client as usize].preface = PREFACE.len();
        Http2 { dirs, streams: HashMap::new() }
    }
}

/// A frame's header, read.
struct Frame {
    kind: u8,
    flags: u8,
    stream: u32,
}

fn frame_header(h: &[u8]) -> Frame {
    Frame { kind: h[3], flags: h[4], stream: u32::from_be_bytes([h[5], h[6], h[7], h[8]]) & 0x7fff_ffff }
}

/// A frame's body without its padding (a length byte first, that many bytes last).
fn unpadded(flags: u8, body: &[u8]) -> Option<&[u8]> {
    if flags & PADDED == 0 {
        return Some(body);
    }
    let (pad, rest) = body.split_first()?;
    rest.get(..rest.len().checked_sub(usize::from(*pad))?)
}

/// A HEADERS frame's header block fragment, without its padding and priority.
fn headers_fragment(flags: u8, body: &[u8]) -> Option<&[u8]> {
    let rest = unpadded(flags, body)?;
    if flags & PRIORITY != 0 {
        rest.get(5..)
    } else {
        Some(rest)
    }
}

/// A PUSH_PROMISE's promised stream and header block fragment.
fn promise(flags: u8, body: &[u8]) -> Option<(u32, &[u8])> {
    let rest = unpadded(flags, body)?;
    let id = rest.get(..4)?;
    Some((u32::from_be_bytes([id[0], id[1], id[2], id[3]]) & 0x7fff_ffff, &rest[4..]))
}

impl Http2 {
    fn frame(&mut self, side: Side, header: &[u8], body: &[u8], rec: &mut SessionRecord) {
        let f = frame_header(header);
        let d = &mut self.dirs[side as usize];
        // A header block is one HEADERS frame and its CONTINUATIONs, nothing between.
        if d.block.is_some() && f.kind != CONTINUATION {
            d.stopped = true;
            return;
        }
        match f.kind {
            HEADERS => {
                let Some(fragment) = headers_fragment(f.flags, body) else {
                    d.stopped = true;
                    return;
                };
                d.block = Some(Block {
                    stream: f.stream,
                    end_stream: f.flags & END_STREAM != 0,
                    promise: false,
                    bytes: fragment.to_vec(),
                    wire: header.len() + body.len(),
                });
            }
            CONTINUATION => match &mut d.block {
                Some(b) if b.stream == f.stream && b.bytes.len() + body.len() <= MAX_BLOCK => {
                    b.bytes.extend_from_slice(body);
                    b.wire += header.len() + body.len();
                }
                _ => {
                    d.stopped = true;
                    return;
                }
            },
            // A promise's header block updates the pusher's HPACK table, and stands
            // for the request the pushed answer answers, on the promised stream.
            PUSH_PROMISE => match promise(f.flags, body) {
                Some((stream, fragment)) => {
                    d.block = Some(Block {
                        stream,
                        end_stream: false,
                        promise: true,
                        bytes: fragment.to_vec(),
                        wire: header.len() + body.len(),
                    })
                }
                None => d.stopped = true,
            },
            RST_STREAM => {
                if let Some(s) = self.streams.remove(&f.stream) {
                    if let Some(t) = s.txn {
                        file_transaction(rec, t);
                    }
                }
                return;
            }
            _ => return,
        }
        if f.flags & END_HEADERS != 0 {
            if let Some(block) = self.dirs[side as usize].block.take() {
                self.header_block(side, block, rec);
            }
        }
    }

    /// A whole header block: decoded (always, as HPACK's table depends on every
    /// block), then read as a request or an answer.
    fn header_block(&mut self, side: Side, block: Block, rec: &mut SessionRecord) {
        let bytes = block.wire;
        let mut fields: Vec<(String, Vec<u8>)> = Vec::new();
        let decoded = self.dirs[side as usize].hpack.decode_with_cb(&block.bytes, |name, value| {
            if fields.len() < 256 {
                fields.push((String::from_utf8_lossy(&name).to_ascii_lowercase(), value.into_owned()));
            }
        });
        if decoded.is_err() {
            self.dirs[side as usize].stopped = true;
            return;
        }
        if block.stream == 0 {
            return;
        }
        if block.promise {
            // Read as the request it stands for, complete as promised.
            self.read_fields(Side::Client, block.stream, &fields, bytes, rec);
            self.stream_ended(Side::Client, block.stream, rec);
            return;
        }
        self.read_fields(side, block.stream, &fields, bytes, rec);
        // Trailers, as a request or an answer without a body, end their stream.
        if block.end_stream {
            self.stream_ended(side, block.stream, rec);
        }
    }

    /// A header block's fields, as a request (the client's) or an answer.
    fn read_fields(
        &mut self,
        side: Side,
        stream: u32,
        fields: &[(String, Vec<u8>)],
        bytes: usize,
        rec: &mut SessionRecord,
    ) {
        let pseudo =
            |name: &str| fields.iter().find(|(n, _)| n == name).map(|(_, v)| String::from_utf8_lossy(v).into_owned());
        // HTTP/1's header list, with the authority as its Host.
        let authority = pseudo(":authority");
        let mut headers: Vec<httparse::Header<'_>> = fields
            .iter()
            .filter(|(n, _)| !n.starts_with(':'))
            .map(|(n, v)| httparse::Header { name: n.as_str(), value: v.as_slice() })
            .collect();
        if let Some(a) = &authority {
            if !headers.iter().any(|h| h.name == "host") {
                headers.push(httparse::Header { name: "host", value: a.as_bytes() });
            }
        }
        match side {
            Side::Client => {
                let (Some(method), Some(path)) = (pseudo(":method"), pseudo(":path").or_else(|| pseudo(":authority")))
                else {
                    return; // trailers
                };
                let req =
                    httparse::Request { method: Some(&method), path: Some(&path), version: None, headers: &mut [] };
                request_values(&headers, &req, &mut rec.extra, true);
                put_text(rec, text_field!("http.version"), "2.0");
                put_text(rec, text_field!("http.version.src"), "2.0");
                authentication(&headers, rec);
                if self.streams.len() >= MAX_STREAMS && !self.streams.contains_key(&stream) {
                    return;
                }
                let txn = rec.transactions.is_some().then(|| {
                    let mut t = Transaction::new("http");
                    t.request_ns = Some(rec.stop_ns);
                    t.request_bytes = bytes as u64;
                    request_values(&headers, &req, &mut t.values, false);
                    t
                });
                self.streams.insert(stream, Stream { sent_ns: None, txn, answered: false });
            }
            Side::Server => {
                let Some(code) = pseudo(":status").and_then(|s| s.parse::<u16>().ok()) else {
                    return; // trailers
                };
                if (100..200).contains(&code) {
                    return; // interim
                }
                answer_into_session(&headers, code, rec);
                put_text(rec, text_field!("http.version.dst"), "2.0");
                if let Some(s) = self.streams.get_mut(&stream) {
                    s.answered = true;
                    if let Some(t) = &mut s.txn {
                        t.response_bytes += bytes as u64;
                        response_values(&headers, code, &mut t.values, false);
                    }
                }
            }
        }
    }

    /// A side ended a stream: the request's last byte, or the answer's (which
    /// times it and files its transaction).
    fn stream_ended(&mut self, side: Side, stream: u32, rec: &mut SessionRecord) {
        match side {
            Side::Client => {
                if let Some(s) = self.streams.get_mut(&stream) {
                    s.sent_ns.get_or_insert(rec.stop_ns);
                }
            }
            Side::Server => {
                let Some(s) = self.streams.remove(&stream) else { return };
                let took = s.sent_ns.filter(|_| s.answered).map(|sent| rec.stop_ns - sent);
                if let Some(ns) = took {
                    put_duration(rec, duration_field!("http.response-time"), ns);
                }
                // A transaction filed already (with an earlier row) keeps only its time here.
                if let Some(mut t) = s.txn {
                    if let Some(ns) = took {
                        t.response_ns = Some(rec.stop_ns);
                        t.response_us = Some(tyto_schema::time::span_micros(ns));
                    }
                    file_transaction(rec, t);
                }
            }
        }
    }
}

impl Dissector for Http2 {
    fn feed(&mut self, side: Side, mut data: &[u8], rec: &mut SessionRecord) {
        let i = side as usize;
        if self.dirs[i].stopped {
            return;
        }
        let skip = self.dirs[i].preface.min(data.len());
        self.dirs[i].preface -= skip;
        data = &data[skip..];
        let mut frames = Vec::new();
        let framing = self.dirs[i].frames.feed(
            data,
            FRAME_HEADER,
            HandOn::AtEnd,
            |h| {
                let len = usize::from(h[0]) << 16 | usize::from(h[1]) << 8 | usize::from(h[2]);
                (len <= MAX_FRAME).then_some(len)
            },
            // Header blocks are kept (within the bound); other frames' bodies are
            // only counted.
            |h| match h[3] {
                HEADERS | CONTINUATION | PUSH_PROMISE => MAX_BLOCK,
                _ => 0,
            },
            |h, body, _| {
                let mut header = [0u8; FRAME_HEADER];
                header.copy_from_slice(&h[..FRAME_HEADER]);
                let len = usize::from(h[0]) << 16 | usize::from(h[1]) << 8 | usize::from(h[2]);
                frames.push((header, body.to_vec(), len));
            },
        );
        for (header, body, len) in frames {
            let kind = header[3];
            if matches!(kind, HEADERS | CONTINUATION | PUSH_PROMISE) && body.len() < len {
                // A header block over the bound: HPACK's table is lost with it.
                self.dirs[i].stopped = true;
                break;
            }
            if kind == DATA {
                // Only a DATA frame's length matters: its bytes were not kept.
                self.data_frame(side, &header, len, rec);
                continue;
            }
            self.frame(side, &header, &body, rec);
            if self.dirs[i].stopped {
                break;
            }
        }
        if !framing {
            self.dirs[i].stopped = true;
        }
    }

    fn end(&mut self, rec: &mut SessionRecord) {
        // The row is written with requests still waiting: their transactions go
        // with it, unanswered; their times stay for an answer in the next row.
        for s in self.streams.values_mut() {
            if let Some(t) = s.txn.take() {
                file_transaction(rec, t);
            }
        }
    }

    fn gap(&mut self, side: Side, _len: u64) {
        // HPACK's table cannot be followed past lost bytes.
        self.dirs[side as usize].stopped = true;
    }

    fn wants_more(&self) -> bool {
        !(self.dirs[0].stopped && self.dirs[1].stopped)
    }
}

impl Http2 {
    /// A DATA frame of `len` bytes (padding included, as HTTP/2 counts flow control).
    fn data_frame(&mut self, side: Side, header: &[u8; FRAME_HEADER], len: usize, rec: &mut SessionRecord) {
        let f = frame_header(header);
        if let Some(t) = self.streams.get_mut(&f.stream).and_then(|s| s.txn.as_mut()) {
            match side {
                Side::Client => t.request_bytes += len as u64,
                Side::Server => t.response_bytes += len as u64,
            }
        }
        if f.flags & END_STREAM != 0 {
            self.stream_ended(side, f.stream, rec);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use loona_hpack::Encoder;
    use tyto_schema::Values;

    fn frame(kind: u8, flags: u8, stream: u32, body: &[u8]) -> Vec<u8> {
        let len = body.len();
        let mut f = vec![(len >> 16) as u8, (len >> 8) as u8, len as u8, kind, flags];
        f.extend_from_slice(&stream.to_be_bytes());
        f.extend_from_slice(body);
        f
    }

    fn block(enc: &mut Encoder<'_>, fields: &[(&str, &str)]) -> Vec<u8> {
        enc.encode(fields.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes())))
    }

    /// A client's two requests and the server's answers in the other order: a gRPC
    /// call with a body and trailers, and a GET answered 404; the second request's
    /// header block split over a CONTINUATION, its HPACK table shared with the first.
    fn conversation() -> (Vec<u8>, Vec<u8>) {
        let (mut c, mut s) = (Encoder::new(), Encoder::new());
        let mut client = PREFACE.to_vec();
        client.extend(frame(4, 0, 0, &[0, 3, 0, 0, 0, 100]));
        let get = block(
            &mut c,
            &[
                (":method", "GET"),
                (":scheme", "http"),
                (":authority", "api.example:8080"),
                (":path", "/v1/items?id=7"),
                ("user-agent", "grpc-go/1.60"),
            ],
        );
        client.extend(frame(HEADERS, END_STREAM | END_HEADERS, 1, &get));
        let post = block(
            &mut c,
            &[
                (":method", "POST"),
                (":scheme", "http"),
                (":authority", "api.example:8080"),
                (":path", "/pkg.Svc/Call"),
                ("content-type", "application/grpc"),
            ],
        );
        let (a, b) = post.split_at(post.len() / 2);
        client.extend(frame(HEADERS, 0, 3, a));
        client.extend(frame(CONTINUATION, END_HEADERS, 3, b));
        client.extend(frame(DATA, END_STREAM, 3, &[0, 0, 0, 0, 1, 7]));
        let mut server = frame(4, 0, 0, &[]);
        let ok = block(&mut s, &[(":status", "200"), ("content-type", "application/grpc"), ("server", "nginx/1.18.0")]);
        server.extend(frame(HEADERS, END_HEADERS, 3, &ok));
        server.extend(frame(DATA, 0, 3, &[0, 0, 0, 0, 3, 1, 2, 3]));
        let trailers = block(&mut s, &[("grpc-status", "0")]);
        server.extend(frame(HEADERS, END_STREAM | END_HEADERS, 3, &trailers));
        let missing = block(&mut s, &[(":status", "404")]);
        server.extend(frame(HEADERS, END_STREAM | END_HEADERS, 1, &missing));
        (client, server)
    }

    fn texts(v: &tyto_schema::Extra, f: &str) -> String {
        match v.get(f) {
            Some(Values::Text(t)) => t.join(","),
            Some(Values::Int(i)) => i.iter().map(i64::to_string).collect::<Vec<_>>().join(","),
            _ => String::new(),
        }
    }

    #[test]
    fn streams_are_transactions_paired_by_id_in_every_segmentation() {
        let (client, server) = conversation();
        assert_eq!(probe(Side::Client, &client), Probe::Match);
        for split in [1, 5, 9, 64, 100_000] {
            let mut h = Http2::default();
            let mut rec = SessionRecord { transactions: Some(Default::default()), ..SessionRecord::default() };
            rec.stop_ns = 1_000;
            for part in client.chunks(split) {
                h.feed(Side::Client, part, &mut rec);
            }
            rec.stop_ns = 5_000_000;
            for part in server.chunks(split) {
                h.feed(Side::Server, part, &mut rec);
            }
            h.end(&mut rec);
            let e = &rec.extra;
            assert_eq!(texts(e, "http.method"), "GET,POST", "{split}");
            assert_eq!(texts(e, "host.http"), "api.example:8080,api.example");
            assert_eq!(texts(e, "http.uri"), "api.example:8080/v1/items?id=7,api.example:8080/pkg.Svc/Call");
            assert_eq!(texts(e, "http.uri.path"), "/v1/items,/pkg.Svc/Call");
            assert_eq!(texts(e, "http.user-agent"), "grpc-go/1.60");
            assert_eq!(texts(e, "http.statuscode"), "200,404");
            assert_eq!(texts(e, "http.version"), "2.0");
            assert_eq!(texts(e, "risk"), "http-obsolete-server");
            let list = &rec.transactions.as_ref().unwrap().list;
            let seen: Vec<(String, String, Option<i64>, u64)> = list
                .iter()
                .map(|t| {
                    (
                        texts(&t.values, "http.uri.path"),
                        texts(&t.values, "http.statuscode"),
                        t.response_us,
                        t.response_bytes,
                    )
                })
                .collect();
            assert_eq!(seen.len(), 2, "{split}");
            assert!(seen.contains(&("/pkg.Svc/Call".into(), "200".into(), Some(4_999), seen[0].3.max(seen[1].3))));
            assert!(seen.iter().any(|(p, c, us, _)| p == "/v1/items" && c == "404" && *us == Some(4_999)));
            assert!(seen.iter().all(|(_, _, _, bytes)| *bytes > 0));
        }
    }

    /// Requests never answered: at most `MAX_STREAMS` wait; the rest are not held.
    #[test]
    fn unanswered_streams_are_bounded() {
        let mut enc = Encoder::new();
        let mut client = PREFACE.to_vec();
        for i in 0..1_000u32 {
            let b = block(
                &mut enc,
                &[(":method", "GET"), (":scheme", "http"), (":authority", "a.example"), (":path", "/x")],
            );
            client.extend(frame(HEADERS, END_STREAM | END_HEADERS, 2 * i + 1, &b));
        }
        let mut h = Http2::default();
        let mut rec = SessionRecord { transactions: Some(Default::default()), ..SessionRecord::default() };
        h.feed(Side::Client, &client, &mut rec);
        assert_eq!(h.streams.len(), MAX_STREAMS);
        h.end(&mut rec);
        assert_eq!(rec.transactions.as_ref().unwrap().list.len(), MAX_STREAMS);
        assert!(h.streams.values().all(|s| s.txn.is_none()), "filed once");
    }

    #[test]
    fn what_is_not_http2s_framing_stops_reading_quietly() {
        let (client, _) = conversation();
        // A header block that HPACK cannot read, then a frame claiming 16 MiB.
        let mut h = Http2::default();
        let mut rec = SessionRecord { transactions: Some(Default::default()), ..SessionRecord::default() };
        let mut bad = PREFACE.to_vec();
        bad.extend(frame(HEADERS, END_STREAM | END_HEADERS, 1, &[0xff, 0xff, 0xff, 0xff, 0x7f]));
        bad.extend(frame(DATA, 0, 1, &[]));
        h.feed(Side::Client, &bad, &mut rec);
        assert!(rec.extra.is_empty());
        h.feed(Side::Client, &client[PREFACE.len()..], &mut rec);
        assert!(rec.extra.is_empty(), "a side stopped stays stopped");
        let mut h = Http2::default();
        let mut huge = PREFACE.to_vec();
        huge.extend([0xff, 0xff, 0xff, HEADERS, END_HEADERS, 0, 0, 0, 1]);
        huge.extend(vec![0u8; 100_000]);
        h.feed(Side::Client, &huge, &mut rec);
        // Held no further than the bound, and never read as a block.
        assert!(h.dirs[0].frames.kept_capacity() <= MAX_BLOCK, "{}", h.dirs[0].frames.kept_capacity());
        assert!(rec.extra.is_empty());
        // A CONTINUATION of another stream breaks the block.
        let mut h = Http2::default();
        let mut odd = PREFACE.to_vec();
        odd.extend(frame(HEADERS, 0, 1, &[0x82]));
        odd.extend(frame(CONTINUATION, END_HEADERS, 3, &[0x84]));
        h.feed(Side::Client, &odd, &mut rec);
        assert!(h.dirs[0].stopped && rec.extra.is_empty());
    }
}
