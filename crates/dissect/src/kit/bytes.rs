//! Reading bytes: the probes' common shapes (a fixed opening, a whole message, one
//! message framed after another), integers at an offset, and the text forms values
//! are recorded in.

use crate::kit::messages::Length;
use crate::Probe;

/// A probe for a fixed opening: `Match` once the bytes start with `token`,
/// `NeedMore` while they are a prefix of it.
pub(crate) fn starts_with(data: &[u8], token: &[u8]) -> Probe {
    let n = data.len().min(token.len());
    if data[..n] != token[..n] {
        Probe::NoMatch
    } else if n < token.len() {
        Probe::NeedMore
    } else {
        Probe::Match
    }
}

/// A probe whose checks passed on a message of `len` bytes: `Match` once it is all
/// there.
pub(crate) fn once_whole(data: &[u8], len: usize) -> Probe {
    framed(data, len, |_| true)
}

/// A probe whose checks passed on a first message of `len` bytes, in a framing where
/// messages follow one another: `NeedMore` until it is all there, `Match` when the
/// stream ends with it, and when more bytes follow, whether `next` accepts them as
/// the start of another message.
pub(crate) fn framed(data: &[u8], len: usize, next: impl FnOnce(&[u8]) -> bool) -> Probe {
    match data.get(len..) {
        None => Probe::NeedMore,
        Some([]) => Probe::Match,
        Some(rest) => Probe::from(next(rest)),
    }
}

/// A probe for a stream of messages that each announce their whole length (read by
/// `length` from a message's first bytes): the lengths must lead from one message
/// exactly to the next. `Match` once a message is whole and the bytes end where a
/// message does, `NeedMore` while the last one is cut short; any message `length`
/// calls bad rules it out (eDonkey, Elasticsearch's transport, TeamViewer).
pub(crate) fn chained(data: &[u8], mut length: impl FnMut(&[u8]) -> Length) -> Probe {
    let (mut at, mut whole) = (0, 0);
    while at < data.len() {
        match length(&data[at..]) {
            Length::NeedMore => return Probe::NeedMore,
            Length::Bad | Length::Is(0) => return Probe::NoMatch,
            Length::Is(n) => at += n,
        }
        whole += usize::from(at <= data.len());
    }
    if whole > 0 && at == data.len() {
        Probe::Match
    } else {
        Probe::NeedMore
    }
}

/// Little-endian integers at an offset, when the bytes are there (SMB, NTLMSSP).
pub(crate) fn le16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

/// Big-endian (network order) ones, where a parser reads many.
pub(crate) fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

pub(crate) fn le32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

pub(crate) fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// An Ethernet address as the catalogue keeps them: `00:1a:2b:03:04:05`.
pub(crate) fn mac_text(mac: &[u8]) -> String {
    mac.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":")
}

/// UTF-16LE text (SMB, NTLMSSP, TDS, RDP), bad units replaced.
pub(crate) fn utf16le(bytes: &[u8]) -> String {
    let units = bytes.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]]));
    char::decode_utf16(units).map(|c| c.unwrap_or('\u{fffd}')).collect()
}

/// Lower-case hex, as fingerprints, hashes and SPIs are recorded.
pub(crate) fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    push_hex(&mut out, bytes);
    out
}

/// Lower-case hex of `bytes` onto the end of `out`.
pub(crate) fn push_hex(out: &mut String, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 15)] as char);
    }
}

/// Bytes from a hex dump (tests quote captures this way).
#[cfg(test)]
pub(crate) fn unhex(s: &str) -> Vec<u8> {
    let digits: Vec<u8> = s.bytes().filter(u8::is_ascii_hexdigit).collect();
    digits.chunks(2).map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap()).collect()
}

/// An address as mail relays and proxies write it (`X-Forwarded-For`, `Received`):
/// IPv6 maybe in brackets or after `IPv6:`, an IPv4 octet maybe with leading zeros
/// (`10.000.000.03`, read as Arkime reads it).
pub(crate) fn loose_ip(text: &str) -> Option<std::net::IpAddr> {
    let text = text.trim_start_matches('[').trim_end_matches(']');
    let text = text.strip_prefix("IPv6:").unwrap_or(text);
    if let Ok(ip) = text.parse() {
        return Some(ip);
    }
    let octets: Vec<u8> = text
        .split('.')
        .map(|o| {
            (!o.is_empty() && o.len() <= 3 && o.bytes().all(|b| b.is_ascii_digit())).then(|| o.parse().ok()).flatten()
        })
        .collect::<Option<_>>()?;
    let octets: [u8; 4] = octets.try_into().ok()?;
    Some(std::net::IpAddr::from(octets))
}
