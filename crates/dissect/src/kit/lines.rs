//! Lines of a text protocol out of stream pieces, bounded: a line longer than
//! [`MAX_LINE`] is cut there and the rest of it skipped ([`LineReader`]); and
//! [`LinesAndBlocks`] for protocols whose lines announce counted blocks of bytes
//! (memcached's data blocks, Redis's bulk strings), passed on in pieces, never held.

/// Longer than any command or reply line the text protocols allow (SMTP: 1000
/// octets; folded mail headers are joined by their dissector, not here).
pub const MAX_LINE: usize = 4096;

#[derive(Default)]
pub struct LineReader {
    buf: Vec<u8>,
    /// Skipping the tail of a line already cut.
    skipping: bool,
}

impl LineReader {
    /// Gives each complete line of `data` (after what earlier feeds left), without its
    /// CR LF, to `f`, until `f` returns false; then returns how many bytes of `data`
    /// were used, through the end of that line.
    pub fn feed(&mut self, data: &[u8], mut f: impl FnMut(&[u8]) -> bool) -> Option<usize> {
        let mut start = 0;
        while let Some(nl) = data[start..].iter().position(|b| *b == b'\n') {
            let end = start + nl;
            let go_on = if self.skipping {
                self.skipping = false;
                true
            } else if self.buf.is_empty() {
                f(trim_cr(&data[start..end]))
            } else {
                let room = MAX_LINE - self.buf.len();
                self.buf.extend_from_slice(&data[start..end.min(start + room)]);
                let line = std::mem::take(&mut self.buf);
                let go_on = f(trim_cr(&line));
                self.buf = line;
                self.buf.clear();
                go_on
            };
            start = end + 1;
            if !go_on {
                return Some(start);
            }
        }
        let rest = &data[start..];
        if !self.skipping {
            let room = MAX_LINE - self.buf.len();
            if rest.len() > room {
                // Cut: the line so far is delivered, the rest of it skipped.
                self.buf.extend_from_slice(&rest[..room]);
                let line = std::mem::take(&mut self.buf);
                self.skipping = true;
                if !f(trim_cr(&line)) {
                    return Some(data.len());
                }
            } else {
                self.buf.extend_from_slice(rest);
            }
        }
        None
    }

    /// Drops a partial line (after a gap).
    pub fn reset(&mut self) {
        self.buf = Vec::new();
        self.skipping = false;
    }
}

/// What [`LinesAndBlocks`] hands on.
pub enum Piece<'a> {
    /// A whole line without its CR LF; `cut` when it held over `max` bytes before
    /// its LF (then its first `max`); `wire` is its length on the wire, CR LF included.
    Line { text: &'a [u8], wire: usize, cut: bool },
    /// Part of a block, with the bytes of it still to come.
    Block { bytes: &'a [u8], left: u64 },
}

/// What the protocol reads after a line, or after a block's last piece.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    Line,
    /// A block of this many bytes (zero: a line).
    Block(u64),
    /// Not this protocol any more: the stream is given up.
    Lost,
}

/// One direction of a text protocol with counted blocks.
#[derive(Default)]
pub struct LinesAndBlocks {
    /// The start of a line not ended yet (at most `max` bytes of it).
    line: Vec<u8>,
    /// Its bytes on the wire so far.
    wire: usize,
    block: u64,
    lost: bool,
}

impl LinesAndBlocks {
    /// Reads `data`: lines of at most `max` bytes kept, and the blocks the protocol
    /// asks for after a line (or after a block) by what `each` returns. `false`
    /// once the stream is given up.
    pub fn feed(&mut self, mut data: &[u8], max: usize, mut each: impl FnMut(Piece<'_>) -> Next) -> bool {
        while !data.is_empty() && !self.lost {
            if self.block > 0 {
                let n = self.block.min(data.len() as u64) as usize;
                self.block -= n as u64;
                let next = each(Piece::Block { bytes: &data[..n], left: self.block });
                data = &data[n..];
                if self.block == 0 {
                    self.then(next);
                }
                continue;
            }
            let (upto, ended) = match data.iter().position(|b| *b == b'\n') {
                Some(i) => (i + 1, true),
                None => (data.len(), false),
            };
            let room = max.saturating_sub(self.line.len());
            self.wire += upto;
            if !ended {
                self.line.extend_from_slice(&data[..upto.min(room)]);
                return true;
            }
            let next = if self.line.is_empty() && upto <= max + 1 {
                // The whole line is in this piece: handed on without a copy.
                each(Piece::Line { text: trim_cr(&data[..upto - 1]), wire: self.wire, cut: false })
            } else {
                self.line.extend_from_slice(&data[..(upto - 1).min(room)]);
                let cut = self.wire - 1 > max;
                let line = std::mem::take(&mut self.line);
                let next = each(Piece::Line { text: trim_cr(&line), wire: self.wire, cut });
                self.line = line;
                self.line.clear();
                next
            };
            self.wire = 0;
            data = &data[upto..];
            self.then(next);
        }
        !self.lost
    }

    fn then(&mut self, next: Next) {
        match next {
            Next::Line => {}
            Next::Block(n) => self.block = n,
            Next::Lost => self.lose(),
        }
    }

    /// Bytes were lost, or the protocol gave up: nothing more is read.
    pub fn lose(&mut self) {
        self.lost = true;
        self.line = Vec::new();
    }

    pub fn lost(&self) -> bool {
        self.lost
    }

    /// Between lines and blocks: nothing of either held or owed.
    #[cfg(test)]
    pub fn idle(&self) -> bool {
        self.line.is_empty() && self.block == 0
    }
}

fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Whether `line` starts with `word` (ASCII case ignored).
pub fn starts_with_ci(line: &[u8], word: &[u8]) -> bool {
    line.len() >= word.len() && line[..word.len()].eq_ignore_ascii_case(word)
}

/// The text after `word` and blanks, if `line` starts with `word`.
pub fn after_ci<'a>(line: &'a [u8], word: &[u8]) -> Option<&'a [u8]> {
    starts_with_ci(line, word).then(|| trim(&line[word.len()..]))
}

/// The first line of `data`, trimmed, and what follows its LF; while no LF has come,
/// `NeedMore` if `data` is shorter than `max` (a line of the protocol may still end),
/// else `NoMatch`.
pub fn first_line(data: &[u8], max: usize) -> Result<(&[u8], &[u8]), crate::Probe> {
    match data.iter().position(|b| *b == b'\n') {
        Some(nl) => Ok((trim(&data[..nl]), &data[nl + 1..])),
        None if data.len() < max => Err(crate::Probe::NeedMore),
        None => Err(crate::Probe::NoMatch),
    }
}

pub fn trim(s: &[u8]) -> &[u8] {
    let start = s.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(s.len());
    let end = s.iter().rposition(|b| !b.is_ascii_whitespace()).map_or(start, |e| e + 1);
    &s[start..end.max(start)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_across_pieces_stop_and_cut() {
        let mut r = LineReader::default();
        let mut got = Vec::new();
        assert_eq!(
            r.feed(b"EHLO a\r\nMAIL", |l| {
                got.push(l.to_vec());
                true
            }),
            None
        );
        assert_eq!(
            r.feed(b" FROM:<x>\r\nSTARTTLS\r\nxyz", |l| {
                got.push(l.to_vec());
                l != b"STARTTLS"
            }),
            Some(21)
        );
        assert_eq!(got, vec![b"EHLO a".to_vec(), b"MAIL FROM:<x>".to_vec(), b"STARTTLS".to_vec()]);
        let mut r = LineReader::default();
        let mut n = 0;
        r.feed(&vec![b'a'; MAX_LINE * 3], |l| {
            assert_eq!(l.len(), MAX_LINE);
            n += 1;
            true
        });
        r.feed(b"aaa\nok\n", |l| {
            n += 1;
            assert_eq!(l, b"ok");
            true
        });
        assert_eq!(n, 2);
        assert_eq!(trim(b"  x y \r"), b"x y");
    }

    /// `B n` announces a block of n bytes; `Q` gives the stream up.
    fn blocks(r: &mut LinesAndBlocks, data: &[u8], out: &mut Vec<String>) -> bool {
        r.feed(data, 8, |piece| match piece {
            Piece::Line { text, wire, cut } => {
                out.push(format!("L{}:{wire}{}", String::from_utf8_lossy(text), if cut { "!" } else { "" }));
                match text {
                    [b'B', b' ', n @ ..] => Next::Block(std::str::from_utf8(n).unwrap().parse().unwrap()),
                    b"Q" => Next::Lost,
                    _ => Next::Line,
                }
            }
            Piece::Block { bytes, left } => {
                out.push(format!("B{}+{left}", bytes.len()));
                Next::Line
            }
        })
    }

    #[test]
    fn lines_and_the_blocks_they_announce_in_any_segmentation() {
        let stream = b"a\r\nB 5\r\nx\ny\nzlong line here\nB 0\nb\n";
        for step in 1..stream.len() {
            let mut r = LinesAndBlocks::default();
            let mut out = Vec::new();
            for piece in stream.chunks(step) {
                assert!(blocks(&mut r, piece, &mut out));
            }
            // Block pieces as they came, joined here to compare.
            let mut joined: Vec<String> = Vec::new();
            let mut sum = 0;
            for o in out {
                if let Some(rest) = o.strip_prefix('B') {
                    let (n, left) = rest.split_once('+').unwrap();
                    sum += n.parse::<usize>().unwrap();
                    if left == "0" {
                        joined.push(format!("B{sum}"));
                        sum = 0;
                    }
                } else {
                    joined.push(o);
                }
            }
            assert_eq!(joined, ["La:3", "LB 5:5", "B5", "Llong lin:15!", "LB 0:4", "Lb:2"], "step {step}");
            assert!(r.idle());
        }
        let mut r = LinesAndBlocks::default();
        let mut out = Vec::new();
        assert!(!blocks(&mut r, b"Q\nmore\n", &mut out));
        assert_eq!(out, ["LQ:2"]);
        assert!(r.lost());
        assert_eq!(after_ci(b"helo  Box", b"HELO"), Some(&b"Box"[..]));
    }
}
