//! A small DER/BER reader for the few ASN.1 messages read here (Kerberos, LDAP,
//! SPNEGO): they need a handful of tags each, every length is checked against what is
//! left, and nothing is allocated, where a general ASN.1 crate would decode whole
//! structures the dissectors do not need.

/// What the start of an element says, before its contents are all there.
pub(crate) enum Header {
    /// The tag or the length is not complete yet.
    NeedMore,
    /// A high tag number or an indefinite or over-long length: not read here.
    Bad,
    /// The tag, the size of tag and length, and the contents' length.
    Is { tag: u8, size: usize, len: usize },
}

pub(crate) fn header(d: &[u8]) -> Header {
    let (Some(&tag), Some(&first)) = (d.first(), d.get(1)) else { return Header::NeedMore };
    if tag & 0x1f == 0x1f {
        return Header::Bad; // high tag numbers are not used by these protocols
    }
    if first < 0x80 {
        return Header::Is { tag, size: 2, len: usize::from(first) };
    }
    let n = usize::from(first & 0x7f);
    if n == 0 || n > 4 {
        return Header::Bad;
    }
    match d.get(2..2 + n) {
        None => Header::NeedMore,
        Some(len) => Header::Is { tag, size: 2 + n, len: len.iter().fold(0usize, |a, b| (a << 8) | usize::from(*b)) },
    }
}

/// One DER element: its tag, its contents, and what follows it.
pub(crate) fn tlv(d: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let Header::Is { tag, size, len } = header(d) else { return None };
    let contents = d.get(size..size.checked_add(len)?)?;
    Some((tag, contents, &d[size + len..]))
}

/// As [`tlv`], for a message cut short (a truncated capture): contents run to the
/// end of what is there when the length says more.
pub(crate) fn tlv_cut(d: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    tlv(d).or_else(|| {
        let (&tag, rest) = d.split_first()?;
        let (&first, rest) = rest.split_first()?;
        let skip = if first < 0x80 { 0 } else { usize::from(first & 0x7f) };
        (tag & 0x1f != 0x1f && skip <= 4).then(|| (tag, rest.get(skip..).unwrap_or(&[]), &[][..]))
    })
}
/// An INTEGER's contents as a number (two's complement), when they are at most
/// `max` bytes (and eight).
pub(crate) fn integer(contents: &[u8], max: usize) -> Option<i64> {
    let &first = contents.first()?;
    (contents.len() <= max.min(8)).then(|| {
        let sign = if first & 0x80 != 0 { -1i64 } else { 0 };
        contents.iter().fold(sign, |n, b| (n << 8) | i64::from(*b))
    })
}

/// An OBJECT IDENTIFIER's contents as dotted numbers.
pub(crate) fn oid_text(b: &[u8]) -> Option<String> {
    use std::fmt::Write;
    let mut out = String::new();
    let mut v: u64 = 0;
    let mut first = true;
    for &x in b {
        v = v.checked_mul(128)? | u64::from(x & 0x7f);
        if x & 0x80 == 0 {
            if first {
                let (a, b) = if v < 80 { (v / 40, v % 40) } else { (2, v - 80) };
                let _ = write!(out, "{a}.{b}");
                first = false;
            } else {
                let _ = write!(out, ".{v}");
            }
            v = 0;
        }
    }
    (!first).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_in_twos_complement_within_their_bound() {
        assert_eq!(integer(&[0x13, 0xe8, 0x14, 0x21], 8), Some(333_976_609));
        assert_eq!(integer(&[0xff, 0x79], 4), Some(-135));
        assert_eq!(integer(&[0x00, 0x80], 2), Some(128));
        assert_eq!(integer(&[1, 2, 3, 4, 5], 4), None);
        assert_eq!(integer(&[1; 9], 16), None);
        assert_eq!(integer(&[], 4), None);
    }
}
