//! SQL text as databases' own statistics show it (pg_stat_statements, MySQL's
//! digests): literals replaced by `?`, whitespace and comments collapsed, so the
//! same query with other values is one value to search and count.

/// Characters kept of a normalised statement at most.
const MAX_LEN: usize = 1024;

/// `SELECT * FROM t WHERE id = 42 AND name = 'x'` → `SELECT * FROM t WHERE id = ? AND name = ?`.
/// Quoted identifiers (`"…"`, `` `…` ``) stay; strings (`'…'`, with `''` and `\'`
/// inside), numbers (not part of a name), `$1`-style parameters and dollar-quoted
/// strings become `?`.
pub fn normalise(sql: &str) -> String {
    let b = sql.as_bytes();
    let mut out = String::with_capacity(sql.len().min(MAX_LEN));
    let mut i = 0;
    let mut space = false;
    let word_char = |c: u8| c.is_ascii_alphanumeric() || c == b'_' || c >= 0x80;
    while i < b.len() && out.len() < MAX_LEN {
        let c = b[i];
        let prev_word = !space && out.as_bytes().last().is_some_and(|p| word_char(*p));
        // Whitespace and comments: one space.
        if c.is_ascii_whitespace() {
            space = true;
            i += 1;
            continue;
        }
        if b[i..].starts_with(b"--") || b[i..].starts_with(b"#") && !prev_word {
            i = b[i..].iter().position(|c| *c == b'\n').map_or(b.len(), |n| i + n + 1);
            space = true;
            continue;
        }
        if b[i..].starts_with(b"/*") {
            i = b[i + 2..].windows(2).position(|w| w == b"*/").map_or(b.len(), |n| i + 2 + n + 2);
            space = true;
            continue;
        }
        if space && !out.is_empty() {
            out.push(' ');
        }
        space = false;
        match c {
            b'\'' => {
                i += 1;
                while i < b.len() {
                    match b[i] {
                        b'\\' => i += 2,
                        b'\'' if b.get(i + 1) == Some(&b'\'') => i += 2,
                        b'\'' => break,
                        _ => i += 1,
                    }
                }
                i += 1;
                out.push('?');
            }
            b'"' | b'`' => {
                let end = b[i + 1..].iter().position(|x| *x == c).map_or(b.len(), |n| i + 1 + n + 1);
                out.push_str(&String::from_utf8_lossy(&b[i..end.min(b.len())]));
                i = end;
            }
            b'$' if b.get(i + 1).is_some_and(u8::is_ascii_digit) => {
                i += 1;
                while i < b.len() && b[i].is_ascii_digit() {
                    i += 1;
                }
                out.push('?');
            }
            b'$' => {
                // Dollar quoting: `$tag$ … $tag$`.
                let tag_end = b[i + 1..].iter().position(|x| *x == b'$').map(|n| i + 1 + n);
                match tag_end {
                    Some(t) if b[i + 1..t].iter().all(|x| word_char(*x)) => {
                        let tag = &b[i..=t];
                        let close = b[t + 1..].windows(tag.len()).position(|w| w == tag);
                        i = close.map_or(b.len(), |n| t + 1 + n + tag.len());
                        out.push('?');
                    }
                    _ => {
                        out.push('$');
                        i += 1;
                    }
                }
            }
            c if c.is_ascii_digit() && !prev_word => {
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'.') {
                    i += 1;
                }
                out.push('?');
            }
            _ => {
                let start = i;
                i += 1;
                while i < b.len() && b[i] >= 0x80 {
                    i += 1;
                }
                out.push_str(&String::from_utf8_lossy(&b[start..i]));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::normalise;

    #[test]
    fn literals_become_placeholders() {
        for (sql, want) in [
            ("SELECT * FROM t WHERE id = 42 AND name = 'x'", "SELECT * FROM t WHERE id = ? AND name = ?"),
            ("select  pg_sleep(0.3)", "select pg_sleep(?)"),
            ("SELECT 'it''s', 'a\\'b', -1.5e3 FROM t2", "SELECT ?, ?, -? FROM t2"),
            ("INSERT INTO \"Tab 1\" VALUES ($1, $2)", "INSERT INTO \"Tab 1\" VALUES (?, ?)"),
            ("SELECT $$a 'b' c$$, $x$y$x$", "SELECT ?, ?"),
            ("SELECT 1 -- why\n, 2 /* note */ FROM `t`", "SELECT ? , ? FROM `t`"),
            ("SELECT col1, x2 FROM t3", "SELECT col1, x2 FROM t3"),
            ("SELECT 'unterminated", "SELECT ?"),
            ("SELECT \"open", "SELECT \"open"),
            ("", ""),
            ("SELECT 'é', naïve FROM t", "SELECT ?, naïve FROM t"),
        ] {
            assert_eq!(normalise(sql), want, "{sql}");
        }
        assert!(normalise(&"SELECT 1, ".repeat(1000)).len() <= 1024 + 4);
    }
}
