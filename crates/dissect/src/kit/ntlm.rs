//! NTLMSSP (MS-NLMP) messages wherever a protocol carries them: raw or inside SPNEGO
//! in SMB security blobs, DCE/RPC auth verifiers, LDAP binds and TDS logins, and as
//! base64 in HTTP `Authorization`/`WWW-Authenticate` headers and the `AUTH NTLM`
//! exchanges of SMTP, IMAP and POP3. Not a protocol of its own: the carriers call
//! [`record`], which names `ntlm` in the session's protocols and fills Arkime's
//! `ntlm.*` fields and `user`.

use base64::Engine;
use tyto_schema::SessionRecord;

use crate::kit::{add_protocol, le16, le32, put_int, put_text, utf16le};

const SIGNATURE: &[u8; 8] = b"NTLMSSP\0";
/// `NTLMSSP` in base64, as every token that carries one begins.
const SIGNATURE_BASE64: &[u8] = b"TlRMTVNTUA";
/// Strings are UTF-16LE under this flag, else OEM (8-bit) text.
const NEGOTIATE_UNICODE: u32 = 0x0000_0001;
const NEGOTIATE_VERSION: u32 = 0x0200_0000;
/// Tokens longer than this are not NTLM (an AUTHENTICATE message with its
/// NTLMv2 response and target information is a few hundred bytes to 2 KiB).
const MAX_TOKEN: usize = 16 << 10;

/// What one message says.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Message {
    /// 1 = NEGOTIATE, 2 = CHALLENGE, 3 = AUTHENTICATE.
    pub kind: u32,
    pub domain: Option<String>,
    pub user: Option<String>,
    pub host: Option<String>,
    /// The server's name for itself (CHALLENGE).
    pub target: Option<String>,
    /// The sender's OS version, `major.minor.build`.
    pub version: Option<String>,
}

/// A field's `(length, max length, offset)` record at `at`: its bytes and where they
/// start (a field's bytes must lie within the message).
fn payload(m: &[u8], at: usize) -> Option<(&[u8], usize)> {
    let len = usize::from(le16(m, at)?);
    let offset = le32(m, at + 4)? as usize;
    Some((m.get(offset..offset.checked_add(len)?)?, offset))
}

fn text(bytes: &[u8], unicode: bool) -> Option<String> {
    if bytes.is_empty() {
        return None;
    }
    let s = if unicode { utf16le(bytes) } else { String::from_utf8_lossy(bytes).into_owned() };
    let s = s.trim_end_matches('\0').to_string();
    (!s.is_empty()).then_some(s)
}

/// A message that starts with the signature.
pub(crate) fn parse(m: &[u8]) -> Option<Message> {
    if !m.starts_with(SIGNATURE) {
        return None;
    }
    let kind = le32(m, 8)?;
    // The Version structure sits before the payload, when the flags say it is there
    // and the first payload field starts after it.
    let version = |flags: u32, at: usize, fields: &[usize]| -> Option<String> {
        if flags & NEGOTIATE_VERSION == 0 {
            return None;
        }
        let first = fields.iter().filter_map(|&f| payload(m, f)).filter(|(b, _)| !b.is_empty()).map(|(_, o)| o).min();
        if first.is_some_and(|o| o < at + 8) {
            return None;
        }
        let v = m.get(at..at + 8)?;
        (v[0] != 0).then(|| format!("{}.{}.{}", v[0], v[1], u16::from_le_bytes([v[2], v[3]])))
    };
    let mut out = Message { kind, ..Message::default() };
    match kind {
        1 => {
            let flags = le32(m, 12)?;
            // Domain and workstation are OEM text. Clients fill them without setting
            // the "supplied" flags too (Samba does), so a field in bounds is read.
            out.domain = payload(m, 16).and_then(|(b, _)| text(b, false));
            out.host = payload(m, 24).and_then(|(b, _)| text(b, false));
            out.version = version(flags, 32, &[16, 24]);
        }
        2 => {
            let flags = le32(m, 20)?;
            out.target = payload(m, 12).and_then(|(b, _)| text(b, flags & NEGOTIATE_UNICODE != 0));
            out.version = version(flags, 48, &[12, 40]);
        }
        3 => {
            let flags = le32(m, 60)?;
            let unicode = flags & NEGOTIATE_UNICODE != 0;
            out.domain = payload(m, 28).and_then(|(b, _)| text(b, unicode));
            out.user = payload(m, 36).and_then(|(b, _)| text(b, unicode));
            out.host = payload(m, 44).and_then(|(b, _)| text(b, unicode));
            out.version = version(flags, 64, &[12, 20, 28, 36, 44, 52]);
        }
        _ => return None,
    }
    Some(out)
}

/// The first message inside some bytes (a security blob, SPNEGO token, auth verifier).
pub(crate) fn find(data: &[u8]) -> Option<Message> {
    let at = data.windows(SIGNATURE.len()).position(|w| w == SIGNATURE)?;
    parse(&data[at..])
}

/// The message of a base64 token somewhere in a line of text (`Authorization: NTLM
/// TlRM…`, `334 TlRM…`, `+ TlRM…`, or a SPNEGO token after `Negotiate`).
pub(crate) fn find_base64(line: &[u8]) -> Option<Message> {
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent)
            .with_decode_allow_trailing_bits(true),
    );
    let is_b64 = |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=');
    let token = |from: usize| {
        let t = &line[from..];
        &t[..t.iter().position(|b| !is_b64(b)).unwrap_or(t.len())]
    };
    if let Some(at) = line.windows(SIGNATURE_BASE64.len()).position(|w| w == SIGNATURE_BASE64) {
        let t = token(at);
        return (t.len() <= MAX_TOKEN).then(|| engine.decode(t).ok()).flatten().and_then(|m| parse(&m));
    }
    // SPNEGO: the NTLM message is inside; decode the token after the scheme name.
    let at = line.windows(10).position(|w| w.eq_ignore_ascii_case(b"negotiate "))? + 10;
    let t = token(at);
    if t.len() > MAX_TOKEN {
        return None;
    }
    find(&engine.decode(t).ok()?)
}

/// A line of a text protocol (mail commands and answers, HTTP authentication
/// headers) that carries an NTLM token: its message filed into the session.
pub(crate) fn record_line(rec: &mut SessionRecord, line: &[u8]) {
    if line.len() <= MAX_TOKEN + 64 {
        if let Some(m) = find_base64(line) {
            record(rec, &m);
        }
    }
}

/// The `AUTH NTLM` exchange of a text protocol (SMTP, IMAP, POP3): from the
/// client's command on, its lines are tokens; the server's continuations (`334 …`,
/// `+ …`) carry the challenge, and any other server line ends the exchange. Lines
/// outside one are not looked at, so mail bodies cost nothing here.
#[derive(Default)]
pub(crate) struct TextExchange {
    active: bool,
}

impl TextExchange {
    /// A client line; `opens` when it is the protocol's `AUTH NTLM` command.
    pub(crate) fn client(&mut self, rec: &mut SessionRecord, line: &[u8], opens: bool) {
        self.active |= opens;
        if self.active {
            record_line(rec, line);
        }
    }

    /// A server line; `continuation` is how the protocol's continuations begin
    /// (`334 `, `+ `).
    pub(crate) fn server(&mut self, rec: &mut SessionRecord, line: &[u8], continuation: &[u8]) {
        if !self.active {
            return;
        }
        let bare = &continuation[..continuation.len() - 1];
        if line.starts_with(continuation) || line == bare {
            record_line(rec, line);
        } else {
            self.active = false;
        }
    }
}

/// NTLMSSP, carried inside SMB, HTTP, LDAP, SMTP, IMAP, POP3, DCE/RPC…
pub(crate) static NTLM: crate::SubProtocol = crate::SubProtocol { name: "ntlm", parent: None };

/// Files what a message says into the session.
pub(crate) fn record(rec: &mut SessionRecord, m: &Message) {
    add_protocol(rec, &NTLM);
    put_int(rec, int_field!("ntlm.type"), i64::from(m.kind));
    if let Some(d) = &m.domain {
        put_text(rec, text_field!("ntlm.domain"), d);
    }
    if let Some(h) = &m.host {
        put_text(rec, text_field!("ntlm.host"), h);
    }
    if let Some(t) = &m.target {
        put_text(rec, text_field!("ntlm.targetName"), t);
    }
    if let Some(v) = &m.version {
        put_text(rec, text_field!("ntlm.version"), v);
    }
    if let Some(u) = &m.user {
        put_text(rec, text_field!("user"), u);
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use tyto_schema::Values;

    fn utf16(s: &str) -> Vec<u8> {
        s.encode_utf16().flat_map(u16::to_le_bytes).collect()
    }

    /// An AUTHENTICATE message with a version and the given names.
    pub(crate) fn authenticate(domain: &str, user: &str, host: &str) -> Vec<u8> {
        let fields = [vec![0u8; 24], vec![0u8; 24], utf16(domain), utf16(user), utf16(host), vec![]];
        let mut m = SIGNATURE.to_vec();
        m.extend_from_slice(&3u32.to_le_bytes());
        let mut offset = 88u32;
        let mut body = Vec::new();
        for f in &fields {
            m.extend_from_slice(&(f.len() as u16).to_le_bytes());
            m.extend_from_slice(&(f.len() as u16).to_le_bytes());
            m.extend_from_slice(&offset.to_le_bytes());
            offset += f.len() as u32;
            body.extend_from_slice(f);
        }
        m.extend_from_slice(&(NEGOTIATE_UNICODE | NEGOTIATE_VERSION).to_le_bytes());
        m.extend_from_slice(&[10, 0, 0x61, 0x4a, 0, 0, 0, 15]); // 10.0.19041
        m.extend_from_slice(&[0; 16]); // MIC
        m.extend_from_slice(&body);
        m
    }

    pub(crate) fn challenge(target: &str) -> Vec<u8> {
        let name = utf16(target);
        let mut m = SIGNATURE.to_vec();
        m.extend_from_slice(&2u32.to_le_bytes());
        m.extend_from_slice(&(name.len() as u16).to_le_bytes());
        m.extend_from_slice(&(name.len() as u16).to_le_bytes());
        m.extend_from_slice(&56u32.to_le_bytes());
        m.extend_from_slice(&(NEGOTIATE_UNICODE | NEGOTIATE_VERSION).to_le_bytes());
        m.extend_from_slice(&[0x11; 8]); // server challenge
        m.extend_from_slice(&[0; 8]);
        m.extend_from_slice(&[0, 0, 0, 0, 56, 0, 0, 0]); // empty target info
        m.extend_from_slice(&[6, 3, 0x80, 0x25, 0, 0, 0, 15]); // 6.3.9600
        m.extend_from_slice(&name);
        m
    }

    #[test]
    fn authenticate_challenge_and_negotiate() {
        let a = parse(&authenticate("CORP", "alice", "WS01")).unwrap();
        assert_eq!(a.kind, 3);
        assert_eq!(
            (a.domain.as_deref(), a.user.as_deref(), a.host.as_deref(), a.version.as_deref()),
            (Some("CORP"), Some("alice"), Some("WS01"), Some("10.0.19041"))
        );
        let c = parse(&challenge("SRV")).unwrap();
        assert_eq!((c.kind, c.target.as_deref(), c.version.as_deref()), (2, Some("SRV"), Some("6.3.9600")));
        let mut n = SIGNATURE.to_vec();
        n.extend_from_slice(&1u32.to_le_bytes());
        n.extend_from_slice(&0u32.to_le_bytes());
        n.extend_from_slice(&[3, 0, 3, 0, 32, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        n.extend_from_slice(b"DOM");
        let n = parse(&n).unwrap();
        assert_eq!((n.kind, n.domain.as_deref(), n.version), (1, Some("DOM"), None));
    }

    #[test]
    fn every_truncation_and_wild_offset_is_refused_quietly() {
        let a = authenticate("CORP", "alice", "WS01");
        for cut in 0..a.len() {
            let _ = parse(&a[..cut]);
        }
        let mut wild = a.clone();
        wild[32..36].copy_from_slice(&u32::MAX.to_le_bytes()); // domain offset
        assert_eq!(parse(&wild).unwrap().domain, None);
        assert_eq!(parse(b"NTLMSSP\0\x07\0\0\0"), None);
    }

    #[test]
    fn base64_tokens_raw_and_inside_spnego() {
        let e = base64::engine::general_purpose::STANDARD;
        let line = format!("Authorization: NTLM {}", e.encode(authenticate("D", "bob", "H")));
        assert_eq!(find_base64(line.as_bytes()).unwrap().user.as_deref(), Some("bob"));
        let mut spnego = vec![0xa1, 0x81, 0x00, 0x30, 0x00, 0xa2, 0x00, 0x04, 0x00];
        spnego.extend_from_slice(&challenge("T"));
        let line = format!("WWW-Authenticate: Negotiate {}", e.encode(&spnego));
        assert_eq!(find_base64(line.as_bytes()).unwrap().target.as_deref(), Some("T"));
        assert_eq!(find_base64(b"Authorization: Basic dXNlcjpwYXNz"), None);
        let mut rec = SessionRecord::default();
        record(&mut rec, &parse(&authenticate("D", "bob", "H")).unwrap());
        assert_eq!(rec.protocols, ["ntlm"]);
        assert_eq!(rec.extra.get("user"), Some(&Values::Text(vec!["bob".into()])));
        assert_eq!(rec.extra.get("ntlm.type"), Some(&Values::Int(vec![3])));
    }

    #[test]
    fn text_exchanges_read_only_their_own_lines() {
        let e = base64::engine::general_purpose::STANDARD;
        let auth = e.encode(authenticate("D", "kate", "H"));
        let mut rec = SessionRecord::default();
        let mut x = TextExchange::default();
        // A token outside an exchange is not looked at.
        x.client(&mut rec, auth.as_bytes(), false);
        x.client(&mut rec, b"a1 AUTHENTICATE NTLM", true);
        x.server(&mut rec, format!("+ {}", e.encode(challenge("SRV"))).as_bytes(), b"+ ");
        x.client(&mut rec, auth.as_bytes(), false);
        x.server(&mut rec, b"a1 OK done", b"+ ");
        x.client(&mut rec, e.encode(authenticate("D", "late", "H")).as_bytes(), false);
        assert_eq!(rec.extra.get("user"), Some(&Values::Text(vec!["kate".into()])));
        assert_eq!(rec.extra.get("ntlm.targetName"), Some(&Values::Text(vec!["SRV".into()])));
    }
}
