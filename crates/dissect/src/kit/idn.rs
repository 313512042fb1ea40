//! Internationalised domain names: a name's `xn--` labels decoded to Unicode
//! (RFC 3492's Punycode), as Arkime shows `xn--80a0adav.xn--80ao21a` as `уаноо.қаз`.
//! Written here rather than taken from the `idna` crate: only decoding is needed, and
//! that crate's Unicode tables (ICU) would weigh more than every dissector together.

const BASE: u32 = 36;
const T_MIN: u32 = 1;
const T_MAX: u32 = 26;
const SKEW: u32 = 38;
const DAMP: u32 = 700;
const INITIAL_BIAS: u32 = 72;
const INITIAL_N: u32 = 128;
/// A DNS label is at most 63 bytes: so many code points at most.
const MAX_LABEL: usize = 63;

/// The name with each `xn--` label decoded, lower case; `None` when it has no such
/// label or one does not decode (left as sent).
pub(crate) fn to_unicode(name: &str) -> Option<String> {
    let is_ace = |l: &str| l.len() > 4 && l.as_bytes()[..4].eq_ignore_ascii_case(b"xn--");
    if !name.split('.').any(is_ace) {
        return None;
    }
    let mut out = String::with_capacity(name.len() * 2);
    for (i, label) in name.split('.').enumerate() {
        if i > 0 {
            out.push('.');
        }
        if is_ace(label) {
            out.extend(decode(&label[4..])?.chars().flat_map(char::to_lowercase));
        } else {
            out.push_str(&label.to_ascii_lowercase());
        }
    }
    Some(out)
}

fn adapt(delta: u32, points: u32, first: bool) -> u32 {
    let mut delta = if first { delta / DAMP } else { delta / 2 };
    delta += delta / points;
    let mut k = 0;
    while delta > ((BASE - T_MIN) * T_MAX) / 2 {
        delta /= BASE - T_MIN;
        k += BASE;
    }
    k + (BASE - T_MIN + 1) * delta / (delta + SKEW)
}

/// RFC 3492 section 6.2: one label's Punycode (without `xn--`) to its code points.
fn decode(input: &str) -> Option<String> {
    let (basic, encoded) = match input.rfind('-') {
        Some(at) => (&input[..at], &input[at + 1..]),
        None => ("", input),
    };
    if !basic.is_ascii() || encoded.is_empty() {
        return None;
    }
    let mut output: Vec<char> = basic.chars().collect();
    let (mut n, mut i, mut bias) = (INITIAL_N, 0u32, INITIAL_BIAS);
    let mut digits = encoded.bytes();
    let mut next = digits.next();
    while next.is_some() {
        let old_i = i;
        let mut w = 1u32;
        let mut k = BASE;
        loop {
            let digit = match next? {
                b @ b'a'..=b'z' => b - b'a',
                b @ b'A'..=b'Z' => b - b'A',
                b @ b'0'..=b'9' => b - b'0' + 26,
                _ => return None,
            } as u32;
            next = digits.next();
            i = i.checked_add(digit.checked_mul(w)?)?;
            let t = if k <= bias {
                T_MIN
            } else if k >= bias + T_MAX {
                T_MAX
            } else {
                k - bias
            };
            if digit < t {
                break;
            }
            w = w.checked_mul(BASE - t)?;
            k += BASE;
        }
        if output.len() >= MAX_LABEL {
            return None;
        }
        let points = output.len() as u32 + 1;
        bias = adapt(i - old_i, points, old_i == 0);
        n = n.checked_add(i / points)?;
        i %= points;
        output.insert(i as usize, char::from_u32(n)?);
        i += 1;
    }
    Some(output.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_decode_as_rfc_3492_and_arkime_show_them() {
        // Arkime's own test name (`dns-punycode.pcap`).
        assert_eq!(to_unicode("xn--80a0adav.xn--80ao21a").as_deref(), Some("уаноо.қаз"));
        assert_eq!(to_unicode("www.XN--Bcher-kva.example").as_deref(), Some("www.bücher.example"));
        // RFC 3492 section 7.1's samples (A: Arabic, L: Japanese with basic characters).
        assert_eq!(decode("egbpdaj6bu4bxfgehfvwxn").as_deref(), Some("ليهمابتكلموشعربي؟"));
        assert_eq!(decode("3B-ww4c5e180e575a65lsy2b").as_deref(), Some("3年B組金八先生"));
        // Nothing to decode, or not Punycode: left as sent.
        assert_eq!(to_unicode("www.example.com"), None);
        assert_eq!(to_unicode("xn--.example"), None);
        assert_eq!(to_unicode("xn--a!b.example"), None);
        assert_eq!(to_unicode("xn--zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz9"), None);
    }
}
