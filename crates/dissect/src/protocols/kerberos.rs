//! Kerberos 5 (RFC 4120) over UDP and TCP (where each message follows a 4-byte
//! length): the client and service principals and the realm of AS/TGS requests and
//! replies and KRB-ERRORs.

use tyto_schema::SessionRecord;

use crate::kit::der::{integer, tlv};
use crate::kit::messages::{Framed, HandOn};
use crate::kit::put_text;
use crate::{Dissector, Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "krb5",
    transports: &[Transport::Udp, Transport::Tcp],
    ports: &[88],
    probe,
    new: || Box::new(Kerberos { tcp: Default::default(), messages: 0 }),
    later: None,
};

/// A TCP message is buffered up to this size (tickets with PACs run to a few KiB).
const MAX_MESSAGE: usize = 64 << 10;
const MAX_MESSAGES: usize = 8;
/// Name components kept per principal.
const MAX_COMPONENTS: usize = 8;

/// The contents of context tag `[n]` among a SEQUENCE's elements.
fn field(mut seq: &[u8], n: u8) -> Option<&[u8]> {
    while !seq.is_empty() {
        let (tag, value, rest) = tlv(seq)?;
        if tag == 0xa0 | n {
            return Some(value);
        }
        seq = rest;
    }
    None
}

/// The elements of the SEQUENCE inside an explicit tag's contents.
fn sequence(explicit: &[u8]) -> Option<&[u8]> {
    match tlv(explicit)? {
        (0x30, v, _) => Some(v),
        _ => None,
    }
}

fn string(explicit: &[u8]) -> Option<String> {
    match tlv(explicit)? {
        // GeneralString, as the RFC says; some stacks use the other string types.
        (0x1b | 0x0c | 0x13 | 0x16, v, _) => Some(String::from_utf8_lossy(v).into_owned()),
        _ => None,
    }
}

/// `PrincipalName`: its name-string components joined by `/` (`krbtgt/EXAMPLE.COM`).
fn principal(explicit: &[u8]) -> Option<String> {
    let mut names = sequence(field(sequence(explicit)?, 1)?)?;
    let mut parts = Vec::new();
    while !names.is_empty() && parts.len() < MAX_COMPONENTS {
        let (tag, value, rest) = tlv(names)?;
        if tag == 0x1b || tag == 0x0c {
            parts.push(String::from_utf8_lossy(value).into_owned());
        }
        names = rest;
    }
    (!parts.is_empty()).then(|| parts.join("/"))
}

/// What one message names: client, realm and service; a request's encryption types,
/// an error's code.
#[derive(Debug, Default, PartialEq)]
struct Names {
    cname: Option<String>,
    realm: Option<String>,
    sname: Option<String>,
    etypes: Vec<i64>,
    error: Option<i64>,
}

/// An `Int32` (an INTEGER of at most four bytes, two's complement).
fn int32(explicit: &[u8]) -> Option<i64> {
    match tlv(explicit)? {
        (0x02, v, _) => integer(v, 4),
        _ => None,
    }
}

/// Encryption types offered: `etype [8] SEQUENCE OF Int32` (at most 32 read).
fn etypes(explicit: &[u8]) -> Vec<i64> {
    let mut out = Vec::new();
    let mut list = sequence(explicit).unwrap_or_default();
    while !list.is_empty() && out.len() < 32 {
        let Some((_, _, rest)) = tlv(list) else { break };
        out.extend(int32(list));
        list = rest;
    }
    out
}

/// An encryption type's name (RFC 3961, 4757, 8009, 6803), as Arkime and Wireshark
/// write it; an unknown one, its number.
fn etype_name(e: i64) -> std::borrow::Cow<'static, str> {
    let name = match e {
        1 => "des-cbc-crc",
        2 => "des-cbc-md4",
        3 => "des-cbc-md5",
        5 => "des3-cbc-md5",
        7 => "des3-cbc-sha1",
        16 => "des3-cbc-sha1-kd",
        17 => "aes128-cts-hmac-sha1-96",
        18 => "aes256-cts-hmac-sha1-96",
        19 => "aes128-cts-hmac-sha256-128",
        20 => "aes256-cts-hmac-sha384-192",
        23 => "rc4-hmac",
        24 => "rc4-hmac-exp",
        25 => "camellia128-cts-cmac",
        26 => "camellia256-cts-cmac",
        -135 => "rc4-hmac-old-exp",
        _ => return e.to_string().into(),
    };
    name.into()
}

/// An error code's name (RFC 4120 7.5.9); an unknown one, its number.
fn error_name(code: i64) -> std::borrow::Cow<'static, str> {
    const NAMES: [&str; 77] = [
        "KDC_ERR_NONE",
        "KDC_ERR_NAME_EXP",
        "KDC_ERR_SERVICE_EXP",
        "KDC_ERR_BAD_PVNO",
        "KDC_ERR_C_OLD_MAST_KVNO",
        "KDC_ERR_S_OLD_MAST_KVNO",
        "KDC_ERR_C_PRINCIPAL_UNKNOWN",
        "KDC_ERR_S_PRINCIPAL_UNKNOWN",
        "KDC_ERR_PRINCIPAL_NOT_UNIQUE",
        "KDC_ERR_NULL_KEY",
        "KDC_ERR_CANNOT_POSTDATE",
        "KDC_ERR_NEVER_VALID",
        "KDC_ERR_POLICY",
        "KDC_ERR_BADOPTION",
        "KDC_ERR_ETYPE_NOSUPP",
        "KDC_ERR_SUMTYPE_NOSUPP",
        "KDC_ERR_PADATA_TYPE_NOSUPP",
        "KDC_ERR_TRTYPE_NOSUPP",
        "KDC_ERR_CLIENT_REVOKED",
        "KDC_ERR_SERVICE_REVOKED",
        "KDC_ERR_TGT_REVOKED",
        "KDC_ERR_CLIENT_NOTYET",
        "KDC_ERR_SERVICE_NOTYET",
        "KDC_ERR_KEY_EXPIRED",
        "KDC_ERR_PREAUTH_FAILED",
        "KDC_ERR_PREAUTH_REQUIRED",
        "KDC_ERR_SERVER_NOMATCH",
        "KDC_ERR_MUST_USE_USER2USER",
        "KDC_ERR_PATH_NOT_ACCEPTED",
        "KDC_ERR_SVC_UNAVAILABLE",
        "",
        "KRB_AP_ERR_BAD_INTEGRITY",
        "KRB_AP_ERR_TKT_EXPIRED",
        "KRB_AP_ERR_TKT_NYV",
        "KRB_AP_ERR_REPEAT",
        "KRB_AP_ERR_NOT_US",
        "KRB_AP_ERR_BADMATCH",
        "KRB_AP_ERR_SKEW",
        "KRB_AP_ERR_BADADDR",
        "KRB_AP_ERR_BADVERSION",
        "KRB_AP_ERR_MSG_TYPE",
        "KRB_AP_ERR_MODIFIED",
        "KRB_AP_ERR_BADORDER",
        "",
        "KRB_AP_ERR_BADKEYVER",
        "KRB_AP_ERR_NOKEY",
        "KRB_AP_ERR_MUT_FAIL",
        "KRB_AP_ERR_BADDIRECTION",
        "KRB_AP_ERR_METHOD",
        "KRB_AP_ERR_BADSEQ",
        "KRB_AP_ERR_INAPP_CKSUM",
        "KRB_AP_PATH_NOT_ACCEPTED",
        "KRB_ERR_RESPONSE_TOO_BIG",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "KRB_ERR_GENERIC",
        "KRB_ERR_FIELD_TOOLONG",
        "KDC_ERROR_CLIENT_NOT_TRUSTED",
        "KDC_ERROR_KDC_NOT_TRUSTED",
        "KDC_ERROR_INVALID_SIG",
        "KDC_ERR_KEY_TOO_WEAK",
        "KDC_ERR_CERTIFICATE_MISMATCH",
        "KRB_AP_ERR_NO_TGT",
        "KDC_ERR_WRONG_REALM",
        "KRB_AP_ERR_USER_TO_USER_REQUIRED",
        "KDC_ERR_CANT_VERIFY_CERTIFICATE",
        "KDC_ERR_INVALID_CERTIFICATE",
        "KDC_ERR_REVOKED_CERTIFICATE",
        "KDC_ERR_REVOCATION_STATUS_UNKNOWN",
        "KDC_ERR_REVOCATION_STATUS_UNAVAILABLE",
        "KDC_ERR_CLIENT_NAME_MISMATCH",
        "KDC_ERR_KDC_NAME_MISMATCH",
    ];
    match usize::try_from(code).ok().and_then(|i| NAMES.get(i)).filter(|n| !n.is_empty()) {
        Some(n) => (*n).into(),
        None => code.to_string().into(),
    }
}

fn message(d: &[u8]) -> Option<Names> {
    let (app, body, _) = tlv(d)?;
    let seq = sequence(body)?;
    let pvno = |tag| match tlv(field(seq, tag)?)? {
        (0x02, [5], _) => Some(()),
        _ => None,
    };
    match app {
        // AS-REQ, TGS-REQ: pvno [1], then req-body [4].
        0x6a | 0x6c => {
            pvno(1)?;
            let body = sequence(field(seq, 4)?)?;
            Some(Names {
                cname: field(body, 1).and_then(principal),
                realm: field(body, 2).and_then(string),
                sname: field(body, 3).and_then(principal),
                etypes: field(body, 8).map(etypes).unwrap_or_default(),
                error: None,
            })
        }
        // AS-REP, TGS-REP: pvno [0], crealm [3], cname [4].
        0x6b | 0x6d => {
            pvno(0)?;
            Some(Names {
                cname: field(seq, 4).and_then(principal),
                realm: field(seq, 3).and_then(string),
                ..Names::default()
            })
        }
        // KRB-ERROR: pvno [0], error-code [6], cname [8], realm [9], sname [10].
        0x7e => {
            pvno(0)?;
            Some(Names {
                cname: field(seq, 8).and_then(principal),
                realm: field(seq, 9).and_then(string),
                sname: field(seq, 10).and_then(principal),
                etypes: Vec::new(),
                error: field(seq, 6).and_then(int32),
            })
        }
        _ => None,
    }
}

fn expected_app(side: Side, app: u8) -> bool {
    match side {
        Side::Client => matches!(app, 0x6a | 0x6c),
        Side::Server => matches!(app, 0x6b | 0x6d | 0x7e),
    }
}

pub fn probe(side: Side, data: &[u8]) -> Probe {
    // Over UDP the message is the datagram; the DER must cover it exactly.
    if data.first().is_some_and(|&a| expected_app(side, a)) {
        if let Some((_, _, rest)) = tlv(data) {
            return Probe::from(rest.is_empty() && message(data).is_some());
        }
    }
    // Over TCP: a 4-byte length first, then the message.
    if data.len() < 6 {
        return if data.len() < 5 || expected_app(side, data[4]) { Probe::NeedMore } else { Probe::NoMatch };
    }
    let len = u32::from_be_bytes([data[0], data[1], data[2], data[3]]) as usize;
    if !expected_app(side, data[4]) || !(16..=MAX_MESSAGE).contains(&len) {
        return Probe::NoMatch;
    }
    match data.get(4..4 + len) {
        Some(m) => Probe::from(message(m).is_some()),
        None => Probe::NeedMore,
    }
}

pub struct Kerberos {
    tcp: [Framed; 2],
    messages: usize,
}

impl Kerberos {
    fn record(&mut self, m: &[u8], rec: &mut SessionRecord) {
        self.messages += 1;
        let Some(names) = message(m) else { return };
        if let Some(c) = names.cname {
            put_text(rec, text_field!("krb5.cname"), &c);
        }
        if let Some(r) = names.realm {
            put_text(rec, text_field!("krb5.realm"), &r);
        }
        if let Some(s) = names.sname {
            put_text(rec, text_field!("krb5.sname"), &s);
        }
        // Negative numbers are vendors' private types (Microsoft's old RC4 variants):
        // left out, as Arkime leaves them.
        for e in names.etypes.into_iter().filter(|e| *e > 0) {
            put_text(rec, text_field!("krb5.etype"), &etype_name(e));
        }
        if let Some(code) = names.error {
            put_text(rec, text_field!("krb5.error"), &error_name(code));
        }
    }
}

impl Dissector for Kerberos {
    fn feed(&mut self, side: Side, data: &[u8], rec: &mut SessionRecord) {
        if self.tcp[side as usize].idle() && data.first().is_some_and(|&a| expected_app(side, a)) {
            if let Some((_, _, [])) = tlv(data) {
                self.record(data, rec);
                return;
            }
        }
        // Over TCP a 4-byte length, then the message, kept whole (bounded).
        let mut messages = Vec::new();
        let length =
            |h: &[u8]| Some(u32::from_be_bytes([h[0], h[1], h[2], h[3]]) as usize).filter(|n| *n <= MAX_MESSAGE);
        let framed = self.tcp[side as usize].feed(
            data,
            4,
            HandOn::AtEnd,
            length,
            |_| MAX_MESSAGE,
            |_, m, _| messages.push(m.to_vec()),
        );
        for m in messages {
            self.record(&m, rec);
        }
        if !framed {
            // A length Kerberos cannot have: not followed further.
            self.messages = MAX_MESSAGES;
        }
    }

    fn gap(&mut self, side: Side, _len: u64) {
        self.tcp[side as usize] = Framed::default();
    }

    fn wants_more(&self) -> bool {
        self.messages < MAX_MESSAGES
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tyto_schema::Values;

    fn der(tag: u8, parts: &[Vec<u8>]) -> Vec<u8> {
        let body: Vec<u8> = parts.concat();
        let mut out = vec![tag];
        if body.len() < 0x80 {
            out.push(body.len() as u8);
        } else {
            out.extend_from_slice(&[0x82, (body.len() >> 8) as u8, body.len() as u8]);
        }
        out.extend_from_slice(&body);
        out
    }

    fn gstr(s: &str) -> Vec<u8> {
        der(0x1b, &[s.as_bytes().to_vec()])
    }

    fn name(parts: &[&str]) -> Vec<u8> {
        der(
            0x30,
            &[
                der(0xa0, &[der(0x02, &[vec![1]])]),
                der(0xa1, &[der(0x30, &parts.iter().map(|p| gstr(p)).collect::<Vec<_>>())]),
            ],
        )
    }

    fn as_req() -> Vec<u8> {
        let body = der(
            0x30,
            &[
                der(0xa0, &[der(0x03, &[vec![0, 0x40, 0x81, 0, 0x10]])]),
                der(0xa1, &[name(&["johnson-pc$"])]),
                der(0xa2, &[gstr("HAPPYCRAFT.ORG")]),
                der(0xa3, &[name(&["krbtgt", "HAPPYCRAFT.ORG"])]),
                der(
                    0xa8,
                    &[der(0x30, &[der(0x02, &[vec![18]]), der(0x02, &[vec![23]]), der(0x02, &[vec![0xff, 0x79]])])],
                ),
            ],
        );
        der(
            0x6a,
            &[der(
                0x30,
                &[der(0xa1, &[der(0x02, &[vec![5]])]), der(0xa2, &[der(0x02, &[vec![10]])]), der(0xa4, &[body])],
            )],
        )
    }

    #[test]
    fn requests_over_udp_and_tcp_name_client_realm_and_service() {
        let req = as_req();
        assert_eq!(probe(Side::Client, &req), Probe::Match);
        assert_eq!(probe(Side::Server, &req), Probe::NoMatch);
        let mut framed = (req.len() as u32).to_be_bytes().to_vec();
        framed.extend_from_slice(&req);
        assert_eq!(probe(Side::Client, &framed), Probe::Match);
        assert_eq!(probe(Side::Client, &framed[..20]), Probe::NeedMore);
        assert_eq!(probe(Side::Client, b"GET / HTTP/1.1\r\n"), Probe::NoMatch);
        let mut k = Kerberos { tcp: Default::default(), messages: 0 };
        let mut rec = SessionRecord::default();
        // TCP, in two pieces.
        k.feed(Side::Client, &framed[..30], &mut rec);
        k.feed(Side::Client, &framed[30..], &mut rec);
        assert_eq!(rec.extra.get("krb5.cname"), Some(&Values::Text(vec!["johnson-pc$".into()])));
        assert_eq!(rec.extra.get("krb5.realm"), Some(&Values::Text(vec!["HAPPYCRAFT.ORG".into()])));
        assert_eq!(rec.extra.get("krb5.sname"), Some(&Values::Text(vec!["krbtgt/HAPPYCRAFT.ORG".into()])));
        assert_eq!(rec.extra.texts("krb5.etype"), ["aes256-cts-hmac-sha1-96", "rc4-hmac"]);
        assert_eq!(etype_name(-135), "rc4-hmac-old-exp");
        assert_eq!(error_name(25), "KDC_ERR_PREAUTH_REQUIRED");
        assert_eq!(error_name(30), "30");
        assert_eq!(etype_name(99), "99");
        // Every truncation is refused, none panics.
        for cut in 0..req.len() {
            assert!(message(&req[..cut]).is_none() || cut == req.len());
            let _ = probe(Side::Client, &req[..cut]);
        }
    }
}
