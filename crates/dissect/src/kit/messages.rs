//! One direction of a stream cut into length-framed messages (SMB over NetBIOS,
//! DCE/RPC fragments, LDAP's BER, TDS packets), holding at most a fixed number of
//! bytes: a longer message (a file read or write) is given by its head, and the rest
//! of it is skipped without being buffered.

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

    /// Neither direction can be followed any more.
    pub(crate) fn broken(&self) -> bool {
        self.0[0].broken() && self.0[1].broken()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
