//! A small DER/BER reader for the few ASN.1 messages read here (Kerberos, LDAP,
//! SPNEGO): they need a handful of tags each, every length is checked against what is
//! left, and nothing is allocated, where a general ASN.1 crate would decode whole
//! structures the dissectors do not need.

/// One DER element: its tag, its contents, and what follows it.
pub(crate) fn tlv(d: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = d.split_first()?;
    if tag & 0x1f == 0x1f {
        return None; // high tag numbers are not used by these protocols
    }
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (first as usize, rest)
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        (rest[..n].iter().fold(0usize, |a, b| (a << 8) | *b as usize), &rest[n..])
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
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
