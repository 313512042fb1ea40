//! LDAP (RFC 4511) over TCP and connectionless LDAP over UDP: bind names and how
//! they authenticate (`none` for an anonymous simple bind, `simple`, `sasl`, and
//! Microsoft's NTLM binds), NTLMSSP inside binds and their answers, and StartTLS,
//! after which the connection is classified afresh as TLS.

use tyto_schema::SessionRecord;

use crate::kit::der::{header, tlv, tlv_cut, Header};
use crate::kit::messages::{Length, Streams};
use crate::kit::upgrade::Upgrade;
use crate::kit::{ntlm, put_text};
use crate::{Dissector, Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "ldap",
    transports: &[Transport::Tcp, Transport::Udp],
    ports: &[389, 3268],
    probe,
    new: || Box::<Ldap>::default(),
    later: None,
};

/// Binds and their answers are small; search results beyond this are skipped.
const MAX_MESSAGE: usize = 16 << 10;
const MAX_MESSAGES: u32 = 256;
const STARTTLS_OID: &[u8] = b"1.3.6.1.4.1.1466.20037";

/// The length of the LDAPMessage (a SEQUENCE) at the start, header included, once
/// its header is whole. Indefinite lengths are not allowed in LDAP.
fn element(b: &[u8]) -> Length {
    match header(b) {
        Header::NeedMore => Length::NeedMore,
        Header::Is { tag: 0x30, size, len } => Length::Is(size + len),
        _ => Length::Bad,
    }
}

/// The message id and the operation: `(tag, contents)`. Outer lengths of a message
/// cut short are taken as far as it goes (`tlv_cut`).
fn operation(m: &[u8]) -> Option<(u8, &[u8])> {
    let (0x30, body, _) = tlv_cut(m)? else { return None };
    let (0x02, id, rest) = tlv(body)? else { return None };
    if id.is_empty() || id.len() > 4 {
        return None;
    }
    let (op, contents, _) = tlv_cut(rest)?;
    Some((op, contents))
}

/// Requests a client sends and answers a server sends, by application tag.
fn op_of(side: Side, op: u8) -> bool {
    match side {
        // bind, unbind, search, modify, add, delete, modDN, compare, abandon, extended
        Side::Client => matches!(op, 0x60 | 0x42 | 0x63 | 0x66 | 0x68 | 0x4a | 0x6c | 0x6e | 0x50 | 0x77),
        // their results, search entries and references, intermediate responses
        Side::Server => matches!(op, 0x61 | 0x64 | 0x65 | 0x73 | 0x67 | 0x69 | 0x6b | 0x6d | 0x6f | 0x78 | 0x79),
    }
}

pub fn probe(side: Side, data: &[u8]) -> Probe {
    match element(data) {
        Length::Bad => Probe::NoMatch,
        Length::NeedMore => Probe::NeedMore,
        Length::Is(n) if n > MAX_MESSAGE * 64 => Probe::NoMatch,
        // The header of the id and the operation is enough to tell.
        Length::Is(_) => {
            let Header::Is { size, .. } = header(data) else { return Probe::NoMatch };
            let Some(rest) = data.get(size..) else { return Probe::NeedMore };
            match rest {
                [0x02, len @ 1..=4, ..] => match rest.get(2 + usize::from(*len)) {
                    Some(op) => Probe::from(op_of(side, *op)),
                    None => Probe::NeedMore,
                },
                [] | [0x02] => Probe::NeedMore,
                _ => Probe::NoMatch,
            }
        }
    }
}

#[derive(Default)]
pub struct Ldap {
    streams: Streams,
    messages: u32,
    /// StartTLS, by extended operation.
    upgrade: Upgrade,
}

/// What a bind request says: name and authentication type.
fn bind(contents: &[u8], rec: &mut SessionRecord) {
    let Some((0x02, _, rest)) = tlv(contents) else { return };
    let Some((0x04, name, rest)) = tlv(rest) else { return };
    let name = String::from_utf8_lossy(name);
    put_text(rec, text_field!("ldap.bindname"), if name.is_empty() { "<ROOT>" } else { &name });
    let Some((auth, value, _)) = tlv(rest) else { return };
    let kind = match auth {
        0x80 if value.is_empty() => "none",
        0x80 => "simple",
        0xa3 => "sasl",
        0x89 => "sicilyPackageDiscovery",
        0x8a => "ntlmsspNegotiate",
        0x8b => "ntlmsspAuth",
        _ => return,
    };
    put_text(rec, text_field!("ldap.authtype"), kind);
}

impl Dissector for Ldap {
    fn feed(&mut self, side: Side, data: &[u8], rec: &mut SessionRecord) {
        let (messages, upgrade) = (&mut self.messages, &mut self.upgrade);
        // Bytes of earlier feeds held in the buffer: the handoff counts from this feed.
        let before = self.streams.held(side);
        let mut used = 0usize;
        let mut handoff = None;
        self.streams.push(side, data, MAX_MESSAGE, element, |m, cut| {
            used += m.len();
            if *messages >= MAX_MESSAGES || handoff.is_some() {
                return;
            }
            *messages += 1;
            let Some((op, contents)) = operation(m).or_else(|| cut.then_some((0, &[][..]))) else { return };
            match op {
                0x60 => bind(contents, rec),
                0x77 if tlv(contents).is_some_and(|(t, oid, _)| t == 0x80 && oid == STARTTLS_OID) => upgrade.ask(),
                // The extended response that accepts StartTLS: TLS follows it.
                0x78 if upgrade.asked() => {
                    let accepted = matches!(tlv(contents), Some((0x0a, [0], _)));
                    if !upgrade.answer(accepted, !accepted) {
                        handoff = Some(used.saturating_sub(before));
                    }
                }
                _ => {}
            }
            // NTLM travels in binds, their answers (SASL credentials, Microsoft's
            // matched DN) and nowhere else.
            if matches!(op, 0x60 | 0x61) {
                if let Some(n) = ntlm::find(contents) {
                    ntlm::record(rec, &n);
                }
            }
        });
        if let Some(h) = handoff {
            self.upgrade.switch_at(h.min(data.len()));
            self.messages = MAX_MESSAGES;
        }
    }

    fn end(&mut self, rec: &mut SessionRecord) {
        // A bind the capture cut short still names who binds (whole elements only).
        for partial in self.streams.partials() {
            if let Some((0x60, contents)) = operation(partial) {
                bind(contents, rec);
            }
        }
    }

    fn gap(&mut self, side: Side, _len: u64) {
        self.streams.lose(side);
    }

    fn wants_more(&self) -> bool {
        self.messages < MAX_MESSAGES && !self.streams.broken()
    }

    fn handoff(&mut self) -> Option<usize> {
        self.upgrade.take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kit::testing::texts;

    fn ber(tag: u8, contents: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        if contents.len() < 0x80 {
            out.push(contents.len() as u8);
        } else {
            out.extend_from_slice(&[0x82, (contents.len() >> 8) as u8, contents.len() as u8]);
        }
        out.extend_from_slice(contents);
        out
    }

    fn message(id: u8, op: u8, contents: &[u8]) -> Vec<u8> {
        let mut body = ber(0x02, &[id]);
        body.extend_from_slice(&ber(op, contents));
        ber(0x30, &body)
    }

    fn bind_request(name: &str, auth: u8, value: &[u8]) -> Vec<u8> {
        let mut c = ber(0x02, &[3]);
        c.extend_from_slice(&ber(0x04, name.as_bytes()));
        c.extend_from_slice(&ber(auth, value));
        message(1, 0x60, &c)
    }

    #[test]
    fn binds_ntlm_and_starttls() {
        let mut rec = SessionRecord::default();
        let mut l = Ldap::default();
        let mut client = bind_request("", 0x80, b"");
        client.extend_from_slice(&bind_request("cn=admin,dc=example,dc=org", 0x80, b"secret"));
        client.extend_from_slice(&bind_request("", 0x8b, &ntlm::tests::authenticate("LDAPDOM", "frank", "H")));
        assert_eq!(probe(Side::Client, &client), Probe::Match);
        assert_eq!(probe(Side::Client, &client[..3]), Probe::NeedMore);
        assert_eq!(probe(Side::Server, &client), Probe::NoMatch);
        assert_eq!(probe(Side::Client, b"\x30\x03\x0a\x01\x00"), Probe::NoMatch);
        for chunk in client.chunks(3) {
            l.feed(Side::Client, chunk, &mut rec);
        }
        assert_eq!(texts(&rec, "ldap.bindname"), ["<ROOT>", "cn=admin,dc=example,dc=org"]);
        assert_eq!(texts(&rec, "ldap.authtype"), ["none", "simple", "ntlmsspAuth"]);
        assert_eq!(texts(&rec, "user"), ["frank"]);
        let ext = message(2, 0x77, &ber(0x80, STARTTLS_OID));
        l.feed(Side::Client, &ext, &mut rec);
        let mut answer = message(2, 0x78, &[0x0a, 1, 0, 0x04, 0, 0x04, 0]);
        let len = answer.len();
        answer.extend_from_slice(b"\x16\x03\x01");
        l.feed(Side::Server, &answer, &mut rec);
        assert_eq!(l.handoff(), Some(len));
        // A bind cut short by the capture: its name, at the row's end.
        let mut rec = SessionRecord::default();
        let mut l = Ldap::default();
        let bind = bind_request("cn=cut", 0x80, b"password");
        l.feed(Side::Client, &bind[..bind.len() - 3], &mut rec);
        assert!(texts(&rec, "ldap.bindname").is_empty());
        l.end(&mut rec);
        assert_eq!(texts(&rec, "ldap.bindname"), ["cn=cut"]);
        assert!(texts(&rec, "ldap.authtype").is_empty());
    }
}
