//! WebSocket (RFC 6455), after HTTP's `101 Switching Protocols` to `Upgrade:
//! websocket` (HTTP names its successor). A connection's start is never probed for
//! frames: two bytes of header prove little, and a connection seen from its start
//! shows its upgrade. One picked up part-way is named by a text frame: a header
//! that fits its direction (a client's frames masked, a server's not), its payload
//! printable UTF-8, the frames before it well formed. Each direction's frames are
//! read as Arkime reads them: the opcodes, the frames and their payload bytes, the
//! frames masked, close codes and reasons, and the first text frames' first 256
//! bytes, unmasked.

use tyto_schema::{int_field, text_field, SessionRecord};

use crate::kit::{put_int, put_text};
use crate::{Dissector, Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "websocket",
    transports: &[Transport::Tcp],
    ports: &[],
    probe: |_, _| Probe::NoMatch,
    new: || Box::<WebSocket>::default(),
    later: Some(later),
};

/// Arkime's names of the opcodes; a continuation (0) is named by the frame it continues.
const OPCODES: [&str; 16] = [
    "Continuation",
    "Text",
    "Binary",
    "0x3",
    "0x4",
    "0x5",
    "0x6",
    "0x7",
    "Close",
    "Ping",
    "Pong",
    "0xb",
    "0xc",
    "0xd",
    "0xe",
    "0xf",
];
const TEXT: u8 = 1;
const CLOSE: u8 = 8;
/// Bytes of a text frame kept as its sample.
const SAMPLE_BYTES: usize = 256;
/// Text samples a session keeps (Arkime's `websocketTextSampleCnt` default).
const SAMPLES: u32 = 4;
/// A close frame's payload at most (a control frame's, RFC 6455 5.5): the code and
/// up to 123 bytes of reason.
const CLOSE_BYTES: usize = 125;
/// A payload longer than this is not a frame of a stream being followed (Arkime's
/// bound): the direction is given up.
const MAX_PAYLOAD: u64 = 0x7fff_ffff;
/// The longest frame header: two bytes, a 64-bit length, a mask key.
const MAX_HEADER: usize = 14;

/// One frame being read.
#[derive(Default)]
struct Frame {
    /// The frame's opcode, or for a continuation the one it continues.
    opcode: u8,
    /// Payload compressed by an extension (RSV1: permessage-deflate): no text sample.
    compressed: bool,
    mask: Option<[u8; 4]>,
    /// Payload bytes still to come, and how many came.
    left: u64,
    at: u64,
    /// The payload kept (a text sample's bytes or a close frame's), unmasked.
    kept: Vec<u8>,
    /// How many bytes to keep.
    keep: usize,
}

/// One direction's frames.
#[derive(Default)]
struct Direction {
    head: Vec<u8>,
    frame: Option<Frame>,
    /// The last data frame's opcode, for its continuations.
    last_opcode: u8,
    /// Bytes were lost, or a frame made no sense: frames can no longer be found.
    lost: bool,
}

#[derive(Default)]
pub struct WebSocket {
    dirs: [Direction; 2],
    /// This row's counts (each row counts its own frames).
    frames: i64,
    payload_bytes: i64,
    masked: i64,
    /// Text samples kept in the session so far.
    samples: u32,
}

/// The frame header at the start of `h`: (header length, payload length), or `None`
/// while more bytes are needed.
fn header_len(h: &[u8]) -> Option<(usize, u64)> {
    let &b1 = h.get(1)?;
    let masked = b1 & 0x80 != 0;
    let (len_bytes, len) = match b1 & 0x7f {
        126 => (2, u64::from(u16::from_be_bytes(h.get(2..4)?.try_into().ok()?))),
        127 => (8, u64::from_be_bytes(h.get(2..10)?.try_into().ok()?)),
        n => (0, u64::from(n)),
    };
    let total = 2 + len_bytes + if masked { 4 } else { 0 };
    (h.len() >= total).then_some((total, len))
}

/// The mask key of a whole frame header, if the frame is masked.
fn mask_key(header: &[u8]) -> Option<[u8; 4]> {
    let n = header.len();
    (header[1] & 0x80 != 0).then(|| [header[n - 4], header[n - 3], header[n - 2], header[n - 1]])
}

/// Appends `bytes`, the payload's from offset `at` on, unmasked with `key`.
fn unmask(out: &mut Vec<u8>, bytes: &[u8], key: Option<[u8; 4]>, at: u64) {
    out.extend(bytes.iter().enumerate().map(|(n, &b)| key.map_or(b, |k| b ^ k[((at % 4) as usize + n) % 4])));
}

/// Payload bytes as text: control characters but tab and line ends shown as `.`,
/// cut before a character the bytes do not hold whole (or invalid UTF-8).
fn printable(bytes: &[u8], line_ends: bool) -> String {
    let shown: Vec<u8> = bytes
        .iter()
        .map(|&c| if c < 0x20 && c != b'\t' && !(line_ends && (c == b'\n' || c == b'\r')) { b'.' } else { c })
        .collect();
    match std::str::from_utf8(&shown) {
        Ok(s) => s.to_string(),
        Err(e) => String::from_utf8_lossy(&shown[..e.valid_up_to()]).into_owned(),
    }
}

/// Frames looked at before one of them must be text.
const LATER_FRAMES: usize = 8;
/// Payload bytes of a text frame that decide when the frame is longer.
const LATER_TEXT: usize = 64;

/// Bytes a stream picked up part-way may begin with: frames, one of them text (see
/// the module's comment).
fn later(side: Side, data: &[u8]) -> Probe {
    let mut rest = data;
    for _ in 0..LATER_FRAMES {
        let Some((len, payload)) = header_len(rest) else {
            return if rest.len() < MAX_HEADER { Probe::NeedMore } else { Probe::NoMatch };
        };
        let (b0, b1) = (rest[0], rest[1]);
        let opcode = b0 & 0x0f;
        let control = opcode >= CLOSE;
        let well_formed = b0 & 0x70 == 0
            && matches!(opcode, 0..=2 | 8..=10)
            && (b1 & 0x80 != 0) == (side == Side::Client)
            && !(control && (b0 & 0x80 == 0 || payload > 125))
            && payload <= MAX_PAYLOAD;
        if !well_formed {
            return Probe::NoMatch;
        }
        let body = &rest[len..];
        let have = body.len().min(usize::try_from(payload).unwrap_or(usize::MAX));
        if opcode == TEXT && payload >= 2 {
            if have < payload as usize && have < LATER_TEXT {
                return Probe::NeedMore;
            }
            let mut text = Vec::new();
            unmask(&mut text, &body[..have.min(SAMPLE_BYTES)], mask_key(&rest[..len]), 0);
            let valid = match std::str::from_utf8(&text) {
                Ok(_) => true,
                // A cut inside the last character.
                Err(e) => e.error_len().is_none() && have < payload as usize,
            };
            let printable = text.iter().all(|&c| c >= 0x20 || matches!(c, b'\t' | b'\n' | b'\r'));
            return Probe::from(valid && printable);
        }
        if have < payload as usize {
            return Probe::NeedMore;
        }
        rest = &body[have..];
        if rest.is_empty() {
            return Probe::NeedMore;
        }
    }
    Probe::NoMatch
}

impl WebSocket {
    fn read(&mut self, side: Side, mut data: &[u8], rec: &mut SessionRecord) {
        let i = side as usize;
        while !data.is_empty() && !self.dirs[i].lost {
            let d = &mut self.dirs[i];
            if let Some(frame) = d.frame.as_mut() {
                let take = data.len().min(usize::try_from(frame.left).unwrap_or(usize::MAX));
                let want = frame.keep.saturating_sub(frame.kept.len()).min(take);
                unmask(&mut frame.kept, &data[..want], frame.mask, frame.at);
                frame.at += take as u64;
                frame.left -= take as u64;
                data = &data[take..];
                if frame.left == 0 {
                    let done = d.frame.take().unwrap_or_default();
                    self.frame_done(done, rec);
                }
                continue;
            }
            // A header, put together across segments.
            let room = MAX_HEADER - d.head.len();
            let before = d.head.len();
            d.head.extend_from_slice(&data[..data.len().min(room)]);
            let Some((len, payload)) = header_len(&d.head) else {
                data = &data[data.len().min(room)..];
                continue;
            };
            data = &data[len - before..];
            let h = std::mem::take(&mut d.head);
            if payload > MAX_PAYLOAD {
                d.lost = true;
                return;
            }
            let code = h[0] & 0x0f;
            let opcode = if code == 0 { d.last_opcode } else { code };
            if code != 0 && code < CLOSE {
                d.last_opcode = code;
            }
            if code != 0 {
                put_text(rec, text_field!("websocket.opcode"), OPCODES[usize::from(code)]);
            }
            let mask = mask_key(&h[..len]);
            self.frames += 1;
            self.payload_bytes = self.payload_bytes.saturating_add(payload as i64);
            self.masked += i64::from(mask.is_some());
            let compressed = h[0] & 0x40 != 0;
            let keep = match opcode {
                TEXT if self.samples < SAMPLES && !compressed => SAMPLE_BYTES,
                CLOSE if code == CLOSE => CLOSE_BYTES,
                _ => 0,
            };
            let frame = Frame { opcode, compressed, mask, left: payload, at: 0, kept: Vec::new(), keep };
            if payload == 0 {
                self.frame_done(frame, rec);
            } else {
                self.dirs[i].frame = Some(frame);
            }
        }
    }

    /// A frame's payload is read: a text frame's sample, a close frame's code and
    /// reason, filed.
    fn frame_done(&mut self, f: Frame, rec: &mut SessionRecord) {
        match f.opcode {
            TEXT if f.keep > 0 && !f.compressed && self.samples < SAMPLES => {
                let sample = printable(&f.kept, true);
                if !sample.is_empty() {
                    put_text(rec, text_field!("websocket.textSample"), &sample);
                    self.samples += 1;
                }
            }
            CLOSE if f.keep > 0 && f.kept.len() >= 2 => {
                put_int(rec, int_field!("websocket.closeCode"), i64::from(u16::from_be_bytes([f.kept[0], f.kept[1]])));
                let reason = printable(&f.kept[2..], false);
                if !reason.is_empty() {
                    put_text(rec, text_field!("websocket.closeReason"), &reason);
                }
            }
            _ => {}
        }
    }
}

impl Dissector for WebSocket {
    fn feed(&mut self, side: Side, data: &[u8], rec: &mut SessionRecord) {
        self.read(side, data, rec);
    }

    fn end(&mut self, rec: &mut SessionRecord) {
        for (field, n) in [
            (int_field!("websocket.frameCnt"), self.frames),
            (int_field!("websocket.payloadBytes"), self.payload_bytes),
            (int_field!("websocket.maskedFromClient"), self.masked),
        ] {
            if n > 0 {
                put_int(rec, field, n);
            }
        }
        (self.frames, self.payload_bytes, self.masked) = (0, 0, 0);
    }

    fn gap(&mut self, side: Side, _len: u64) {
        let d = &mut self.dirs[side as usize];
        d.lost = true;
        d.frame = None;
        d.head = Vec::new();
    }

    fn wants_more(&self) -> bool {
        self.dirs.iter().any(|d| !d.lost)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kit::testing::{ints, texts};

    /// A frame: FIN and `opcode`, masked with `key` when given.
    fn frame(opcode: u8, payload: &[u8], key: Option<[u8; 4]>) -> Vec<u8> {
        let mut f = vec![0x80 | opcode];
        let mask_bit = if key.is_some() { 0x80 } else { 0 };
        match payload.len() {
            n @ 0..=125 => f.push(mask_bit | n as u8),
            n @ 126..=65535 => {
                f.push(mask_bit | 126);
                f.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                f.push(mask_bit | 127);
                f.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        match key {
            Some(k) => {
                f.extend_from_slice(&k);
                f.extend(payload.iter().enumerate().map(|(i, b)| b ^ k[i % 4]));
            }
            None => f.extend_from_slice(payload),
        }
        f
    }

    #[test]
    fn frames_both_ways_counted_sampled_and_closed() {
        let mut ws = WebSocket::default();
        let mut rec = SessionRecord::default();
        let key = Some([0x12, 0x34, 0x56, 0x78]);
        ws.feed(Side::Server, &frame(TEXT, b"Welcome, 192.168.43.1 !", None), &mut rec);
        // A client frame cut across three segments, its header too.
        let hello = frame(TEXT, b"hello\x01websocket", key);
        for piece in [&hello[..1], &hello[1..7], &hello[7..]] {
            ws.feed(Side::Client, piece, &mut rec);
        }
        ws.feed(Side::Client, &frame(9, b"", key), &mut rec);
        let mut close = 1001u16.to_be_bytes().to_vec();
        close.extend_from_slice(b"going away");
        ws.feed(Side::Server, &frame(CLOSE, &close, None), &mut rec);
        ws.end(&mut rec);
        assert_eq!(texts(&rec, "websocket.textSample"), vec!["Welcome, 192.168.43.1 !", "hello.websocket"]);
        assert_eq!(texts(&rec, "websocket.opcode"), vec!["Text", "Ping", "Close"]);
        assert_eq!(ints(&rec, "websocket.closeCode"), vec![1001]);
        assert_eq!(texts(&rec, "websocket.closeReason"), vec!["going away"]);
        assert_eq!(ints(&rec, "websocket.frameCnt"), vec![4]);
        assert_eq!(ints(&rec, "websocket.payloadBytes"), vec![23 + 15 + 12]);
        assert_eq!(ints(&rec, "websocket.maskedFromClient"), vec![2]);
    }

    #[test]
    fn long_frames_samples_bounds_and_continuations() {
        let mut ws = WebSocket::default();
        let mut rec = SessionRecord::default();
        let big = vec![b'a'; 70_000];
        ws.feed(Side::Server, &frame(TEXT, &big, None), &mut rec);
        // A message in two frames: the continuation is sampled as text.
        let mut first = frame(TEXT, b"one", None);
        first[0] &= 0x7f;
        ws.feed(Side::Server, &first, &mut rec);
        ws.feed(Side::Server, &frame(0, "twö".as_bytes(), None), &mut rec);
        ws.feed(Side::Server, &frame(TEXT, b"three", None), &mut rec);
        ws.feed(Side::Server, &frame(TEXT, b"four", None), &mut rec);
        ws.end(&mut rec);
        let samples = texts(&rec, "websocket.textSample");
        assert_eq!(samples.len(), 4, "{samples:?}");
        assert_eq!(samples[0].len(), SAMPLE_BYTES);
        assert_eq!(&samples[1..], ["one", "twö", "three"]);
        assert_eq!(texts(&rec, "websocket.opcode"), vec!["Text"]);
        assert_eq!(ints(&rec, "websocket.frameCnt"), vec![5]);
        // The next row counts its own frames.
        let mut next = SessionRecord::default();
        ws.feed(Side::Server, &frame(2, &[0xff; 300], None), &mut next);
        ws.end(&mut next);
        assert_eq!(ints(&next, "websocket.frameCnt"), vec![1]);
        assert_eq!(ints(&next, "websocket.payloadBytes"), vec![300]);
        assert_eq!(texts(&next, "websocket.opcode"), vec!["Binary"]);
    }

    #[test]
    fn a_stream_picked_up_part_way_is_named_by_a_text_frame() {
        let key = Some([0xe1, 0x7e, 0x8e, 0xb9]);
        assert_eq!(later(Side::Server, &frame(TEXT, b"Welcome, 192.168.43.1 !", None)), Probe::Match);
        assert_eq!(later(Side::Client, &frame(TEXT, b"test message", key)), Probe::Match);
        // After a ping and a binary frame; then a frame still coming.
        let mut d = frame(9, b"", None);
        d.extend(frame(2, &[0, 1, 2, 3], None));
        d.extend(frame(TEXT, b"{\"op\": \"sub\"}", None));
        assert_eq!(later(Side::Server, &d), Probe::Match);
        assert_eq!(later(Side::Server, &d[..d.len() - 3]), Probe::NeedMore);
        assert_eq!(later(Side::Server, &frame(2, &[0; 10], None)), Probe::NeedMore);
        // A long text frame decides on its first bytes.
        assert_eq!(later(Side::Server, &frame(TEXT, &[b'x'; 5000], None)[..200]), Probe::Match);
        // The wrong direction's masking, control bytes, bad opcodes, reserved bits.
        assert_eq!(later(Side::Client, &frame(TEXT, b"test message", None)), Probe::NoMatch);
        assert_eq!(later(Side::Server, &frame(TEXT, b"test message", key)), Probe::NoMatch);
        assert_eq!(later(Side::Server, &frame(TEXT, b"\x00\x01binary", None)), Probe::NoMatch);
        assert_eq!(later(Side::Server, &frame(3, b"hello", None)), Probe::NoMatch);
        let mut compressed = frame(TEXT, b"hello", None);
        compressed[0] |= 0x40;
        assert_eq!(later(Side::Server, &compressed), Probe::NoMatch);
        assert_eq!(later(Side::Server, b"GET / HTTP/1.1\r\n\r\n"), Probe::NoMatch);
        assert_eq!(later(Side::Server, &[0x81]), Probe::NeedMore);
    }

    #[test]
    fn absurd_lengths_and_lost_bytes_stop_a_direction() {
        let mut ws = WebSocket::default();
        let mut rec = SessionRecord::default();
        let mut absurd = vec![0x82, 127];
        absurd.extend_from_slice(&u64::MAX.to_be_bytes());
        ws.feed(Side::Client, &absurd, &mut rec);
        ws.feed(Side::Client, &frame(TEXT, b"after", None), &mut rec);
        assert!(texts(&rec, "websocket.textSample").is_empty());
        assert!(ws.wants_more(), "the other direction reads on");
        ws.gap(Side::Server, 10);
        assert!(!ws.wants_more());
        // Nothing is read after, and nothing panics on any bytes.
        ws.feed(Side::Server, &[0xff; 64], &mut rec);
        let mut ws = WebSocket::default();
        for n in 0..64u8 {
            ws.feed(Side::Client, &[n.wrapping_mul(37), 0xfe, n, 0, 0, 0, 0, 0, 1], &mut rec);
        }
    }
}
