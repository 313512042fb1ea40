//! One direction of a stream cut into length-framed messages, holding at most a
//! fixed number of bytes of each: [`Messages`] for framings whose length a function
//! reads from the first bytes (SMB over NetBIOS, DCE/RPC fragments, LDAP's BER, TDS
//! packets, SOCKS's negotiation, whose messages are as long as their contents say; a
//! longer message is given by its head as soon as it is held, the rest skipped
//! without being buffered), and [`Framed`] for a fixed-size header giving the body's
//! length, where the protocol says how much of each body to keep and whether the
//! message is handed on once that much is held or at its last byte (MySQL's packets,
//! PostgreSQL's typed messages — their response times depend on it —, TLS's records
//! and the handshake messages their payloads carry, SSH's binary packets).

use crate::Side;

/// What a framing says of the bytes at the start of a message.
pub(crate) enum Length {
    /// The header is not complete yet.
    NeedMore,
    /// The whole message, header included, is this many bytes.
    Is(usize),
    /// Not this framing: the stream is given up.
    Bad,
}

#[derive(Default)]
pub(crate) struct Messages {
    buf: Vec<u8>,
    /// Bytes of an over-long message still to pass over.
    skip: u64,
    broken: bool,
}

impl Messages {
    /// Feeds stream bytes; calls `each` with every message completed (or the first
    /// `max` bytes of a longer one, with `true` for "cut").
    pub(crate) fn push(
        &mut self,
        mut data: &[u8],
        max: usize,
        length: impl Fn(&[u8]) -> Length,
        mut each: impl FnMut(&[u8], bool),
    ) {
        while !data.is_empty() && !self.broken {
            if self.skip > 0 {
                let n = (data.len() as u64).min(self.skip);
                self.skip -= n;
                data = &data[n as usize..];
                continue;
            }
            // Never more than `max` bytes held.
            let take = data.len().min(max.saturating_sub(self.buf.len()).max(1));
            self.buf.extend_from_slice(&data[..take]);
            data = &data[take..];
            loop {
                match length(&self.buf) {
                    // A zero length would never move on.
                    Length::Bad | Length::Is(0) => {
                        self.broken = true;
                        self.buf = Vec::new();
                        return;
                    }
                    Length::NeedMore if self.buf.len() >= max => {
                        self.broken = true;
                        self.buf = Vec::new();
                        return;
                    }
                    Length::NeedMore => break,
                    Length::Is(n) if n <= self.buf.len() => {
                        each(&self.buf[..n], false);
                        self.buf.drain(..n);
                        if self.buf.is_empty() {
                            break;
                        }
                    }
                    Length::Is(n) if self.buf.len() >= max => {
                        each(&self.buf, true);
                        self.skip = (n - self.buf.len()) as u64;
                        self.buf.clear();
                        break;
                    }
                    Length::Is(_) => break,
                }
            }
        }
    }

    /// Bytes were lost: the framing cannot be found again.
    pub(crate) fn lose(&mut self) {
        self.broken = true;
        self.buf = Vec::new();
    }

    /// Bytes held from earlier feeds.
    pub(crate) fn held(&self) -> usize {
        self.buf.len()
    }

    /// The start of a message not complete yet.
    pub(crate) fn partial(&self) -> &[u8] {
        &self.buf
    }

    pub(crate) fn broken(&self) -> bool {
        self.broken
    }
}

/// Both directions of a connection, each cut into messages.
#[derive(Default)]
pub(crate) struct Streams([Messages; 2]);

impl Streams {
    pub(crate) fn push(
        &mut self,
        side: Side,
        data: &[u8],
        max: usize,
        length: impl Fn(&[u8]) -> Length,
        each: impl FnMut(&[u8], bool),
    ) {
        self.0[side as usize].push(data, max, length, each);
    }

    pub(crate) fn lose(&mut self, side: Side) {
        self.0[side as usize].lose();
    }

    pub(crate) fn held(&self, side: Side) -> usize {
        self.0[side as usize].held()
    }

    /// The starts of the messages not complete yet, each side's.
    pub(crate) fn partials(&self) -> [&[u8]; 2] {
        [self.0[0].partial(), self.0[1].partial()]
    }

    /// This direction cannot be followed any more.
    pub(crate) fn side_broken(&self, side: Side) -> bool {
        self.0[side as usize].broken()
    }

    /// Neither direction can be followed any more.
    pub(crate) fn broken(&self) -> bool {
        self.0[0].broken() && self.0[1].broken()
    }
}

/// When [`Framed`] hands a message on.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum HandOn {
    /// At its last byte (with the part of its body kept).
    AtEnd,
    /// As soon as the part of its body kept is held; the rest is passed over.
    WhenKept,
}

/// One direction of a framing with a fixed-size header that gives the body's length.
#[derive(Default)]
pub(crate) struct Framed {
    head: Vec<u8>,
    kept: Vec<u8>,
    /// Body bytes to keep, of the message being read.
    want: usize,
    /// Body bytes of it still to come.
    left: usize,
    handed: bool,
    lost: bool,
}

impl Framed {
    /// Reads `data`: `header` bytes of header, whose body is `body_len(header)` bytes
    /// long (`None`: not this framing, and the stream is given up: `false` is
    /// returned, now and for every later call), of which `keep(header)` are kept.
    /// `each(header, body kept, where in data it was handed on)`.
    pub(crate) fn feed(
        &mut self,
        mut data: &[u8],
        header: usize,
        hand_on: HandOn,
        body_len: impl Fn(&[u8]) -> Option<usize>,
        keep: impl Fn(&[u8]) -> usize,
        mut each: impl FnMut(&[u8], &[u8], usize),
    ) -> bool {
        let total = data.len();
        while !self.lost {
            if self.head.len() < header {
                if data.is_empty() {
                    break;
                }
                let n = (header - self.head.len()).min(data.len());
                self.head.extend_from_slice(&data[..n]);
                data = &data[n..];
                if self.head.len() < header {
                    break;
                }
                let Some(len) = body_len(&self.head) else {
                    self.lost = true;
                    break;
                };
                self.left = len;
                self.want = keep(&self.head).min(len);
                self.kept.clear();
                self.handed = false;
            }
            let take = (self.want - self.kept.len()).min(data.len());
            self.kept.extend_from_slice(&data[..take]);
            self.left -= take;
            data = &data[take..];
            if hand_on == HandOn::WhenKept && !self.handed && self.kept.len() == self.want {
                each(&self.head, &self.kept, total - data.len());
                self.handed = true;
            }
            let skip = self.left.min(data.len());
            self.left -= skip;
            data = &data[skip..];
            if self.left > 0 {
                break;
            }
            if !self.handed {
                each(&self.head, &self.kept, total - data.len());
            }
            self.head.clear();
        }
        !self.lost
    }

    /// Between messages: nothing of one held.
    pub(crate) fn idle(&self) -> bool {
        self.head.is_empty() && !self.lost
    }

    /// Bytes of the message being read that are kept (bounded by what `keep` asks).
    #[cfg(test)]
    pub(crate) fn kept_capacity(&self) -> usize {
        self.kept.capacity()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two-byte headers: a type, then the body's length.
    fn framed(f: &mut Framed, data: &[u8], hand_on: HandOn) -> (bool, Vec<(u8, Vec<u8>, usize)>) {
        let mut out = Vec::new();
        let ok = f.feed(
            data,
            2,
            hand_on,
            |h| (h[1] < 200).then_some(usize::from(h[1])),
            |h| usize::from(h[0]),
            |h, b, at| out.push((h[0], b.to_vec(), at)),
        );
        (ok, out)
    }

    #[test]
    fn framed_messages_are_handed_on_at_their_end_or_once_kept() {
        // Keep 2 of a 4-byte body, then an empty body.
        let stream = [2, 4, b'a', b'b', b'c', b'd', 0, 0];
        let mut end = Framed::default();
        assert_eq!(framed(&mut end, &stream, HandOn::AtEnd), (true, vec![(2, b"ab".to_vec(), 6), (0, vec![], 8)]));
        // Fed byte by byte: the bytes whose feeding hands a message on.
        let handing_bytes = |hand_on: HandOn| -> Vec<usize> {
            let mut f = Framed::default();
            (0..stream.len()).filter(|i| !framed(&mut f, &stream[*i..*i + 1], hand_on).1.is_empty()).collect()
        };
        // At its end, each message is handed on by the byte that ends it.
        assert_eq!(handing_bytes(HandOn::AtEnd), [5, 7]);
        let mut kept = Framed::default();
        assert_eq!(framed(&mut kept, &stream, HandOn::WhenKept), (true, vec![(2, b"ab".to_vec(), 4), (0, vec![], 8)]));
        assert_eq!(handing_bytes(HandOn::WhenKept), [3, 7]);
        // A length the framing cannot have: given up for good.
        let mut lost = Framed::default();
        assert!(!framed(&mut lost, &[1, 250, 0], HandOn::AtEnd).0);
        assert_eq!(framed(&mut lost, &stream, HandOn::AtEnd), (false, vec![]));
    }

    /// A 2-byte big-endian length counting the whole message.
    fn length(b: &[u8]) -> Length {
        match b.get(..2) {
            None => Length::NeedMore,
            Some(h) => match u16::from_be_bytes([h[0], h[1]]) as usize {
                n if n < 2 => Length::Bad,
                n => Length::Is(n),
            },
        }
    }

    #[test]
    fn whole_cut_and_skipped_messages_in_any_segmentation() {
        let mut stream = vec![0, 5, b'a', b'b', b'c'];
        stream.extend_from_slice(&[0, 40]);
        stream.extend_from_slice(&[b'x'; 38]);
        stream.extend_from_slice(&[0, 3, b'z']);
        for step in 1..stream.len() {
            let mut m = Messages::default();
            let mut seen = Vec::new();
            for chunk in stream.chunks(step) {
                m.push(chunk, 16, length, |msg, cut| seen.push((msg.to_vec(), cut)));
            }
            assert_eq!(seen.len(), 3, "step {step}");
            assert_eq!(seen[0], (vec![0, 5, b'a', b'b', b'c'], false));
            assert_eq!(seen[1].0.len(), 16);
            assert!(seen[1].1);
            assert_eq!(seen[2], (vec![0, 3, b'z'], false));
            assert!(!m.broken());
        }
    }

    #[test]
    fn bad_framing_stops_for_good() {
        let mut m = Messages::default();
        let mut n = 0;
        m.push(&[0, 1, 0, 5, 1, 2, 3], 16, length, |_, _| n += 1);
        assert!(m.broken());
        m.push(&[0, 3, 1], 16, length, |_, _| n += 1);
        assert_eq!(n, 0);
    }
}
