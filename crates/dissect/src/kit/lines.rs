//! Lines of a text protocol out of stream pieces, bounded: a line longer than
//! [`MAX_LINE`] is cut there and the rest of it skipped.

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
        assert_eq!(after_ci(b"helo  Box", b"HELO"), Some(&b"Box"[..]));
    }
}
