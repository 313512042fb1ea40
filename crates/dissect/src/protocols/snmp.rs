//! SNMP v1, v2c and v3 (RFC 3416, RFC 3412) over UDP: the version and, before v3, the
//! community string, from the message's BER header; the PDU's type, error status,
//! variable names and a v2 trap's OID; v3's authoritative engine and security level.

use tyto_schema::SessionRecord;

use crate::kit::der::oid_text;
use crate::kit::{put_int, put_text};
use crate::risk::{self, Risk};
use crate::{Dissector, Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "snmp",
    transports: &[Transport::Udp],
    ports: &[161, 162],
    probe,
    new: || Box::new(Snmp { messages: 0 }),
    later: None,
};

/// Messages read per session: the version and community do not change.
const MAX_MESSAGES: usize = 4;

/// A BER tag-length header: tag, content length, header length.
fn tlv(d: &[u8]) -> Option<(u8, usize, usize)> {
    let tag = *d.first()?;
    let first = *d.get(1)?;
    if first < 0x80 {
        return Some((tag, first as usize, 2));
    }
    let n = (first & 0x7f) as usize;
    if n == 0 || n > 3 {
        return None;
    }
    let mut len = 0usize;
    for b in d.get(2..2 + n)? {
        len = (len << 8) | *b as usize;
    }
    Some((tag, len, 2 + n))
}

/// A v1 or v2c response's error status (RFC 3416: `Response-PDU [2] { INTEGER
/// request-id, INTEGER error-status, … }`), from the bytes after the community.
/// Only responses: a GetBulk request holds other numbers in the same places.
fn response_error(pdu: &[u8]) -> Option<i64> {
    let (tag, _, h) = tlv(pdu)?;
    if tag != 0xa2 {
        return None;
    }
    let (tag, id_len, idh) = tlv(pdu.get(h..)?)?;
    let at = h + idh + id_len;
    let (tag2, elen, eh) = tlv(pdu.get(at..)?)?;
    if tag != 0x02 || tag2 != 0x02 || !(1..=4).contains(&elen) {
        return None;
    }
    let bytes = pdu.get(at + eh..at + eh + elen)?;
    Some(bytes.iter().fold(0i64, |v, b| (v << 8) | i64::from(*b)))
}

/// Before v3: the community string, and the bytes after it (the PDU).
/// Variables read per message at most.
const MAX_VARIABLES: usize = 64;

/// The elements of a constructed BER value, in order (tag and contents).
fn elements(mut d: &[u8]) -> impl Iterator<Item = (u8, &[u8])> {
    std::iter::from_fn(move || {
        let (tag, len, h) = tlv(d)?;
        let body = d.get(h..h + len)?;
        d = &d[h + len..];
        Some((tag, body))
    })
}

/// RFC 3416's error-status names.
const ERRORS: [&str; 19] = [
    "noError",
    "tooBig",
    "noSuchName",
    "badValue",
    "readOnly",
    "genErr",
    "noAccess",
    "wrongType",
    "wrongLength",
    "wrongEncoding",
    "wrongValue",
    "noCreation",
    "inconsistentValue",
    "resourceUnavailable",
    "commitFailed",
    "undoFailed",
    "authorizationError",
    "notWritable",
    "inconsistentName",
];

/// snmpTrapOID.0, whose value names a v2 trap.
const TRAP_OID: &str = "1.3.6.1.6.3.1.1.4.1.0";

/// A v1 or v2c PDU: its type, error status, variable names and trap OID.
fn pdu(d: &[u8], rec: &mut SessionRecord) {
    let Some((tag, body)) = elements(d).next() else { return };
    let kind = match tag {
        0xa0 => "GetRequest",
        0xa1 => "GetNextRequest",
        0xa2 => "GetResponse",
        0xa3 => "SetRequest",
        0xa4 => "Trap",
        0xa5 => "GetBulkRequest",
        0xa6 => "InformRequest",
        0xa7 => "SNMPv2-Trap",
        0xa8 => "Report",
        _ => return,
    };
    put_text(rec, text_field!("snmp.type"), kind);
    let mut parts = elements(body);
    // A v1 trap: enterprise, agent address, generic and specific trap, time stamp,
    // variables; the others: request id, error status and index, variables.
    let variables = if tag == 0xa4 {
        if let Some((0x06, enterprise)) = parts.next() {
            oid_text(enterprise).into_iter().for_each(|o| put_text(rec, text_field!("snmp.trap-oid"), &o));
        }
        parts.nth(3)
    } else {
        let status = parts.nth(1);
        // GetBulk's second integer is its non-repeaters, not a status.
        if let (Some((0x02, [s])), false) = (status, tag == 0xa5) {
            if let Some(name) = ERRORS.get(usize::from(*s)).filter(|_| *s != 0) {
                put_text(rec, text_field!("snmp.error"), name);
            }
        }
        parts.nth(1)
    };
    let Some((0x30, list)) = variables else { return };
    for (tag, bind) in elements(list).take(MAX_VARIABLES) {
        if tag != 0x30 {
            break;
        }
        let mut bind = elements(bind);
        let Some((0x06, name)) = bind.next() else { continue };
        let Some(name) = oid_text(name) else { continue };
        if name == TRAP_OID {
            if let Some((0x06, value)) = bind.next() {
                oid_text(value).into_iter().for_each(|o| put_text(rec, text_field!("snmp.trap-oid"), &o));
            }
        }
        put_text(rec, text_field!("snmp.variable"), &name);
    }
}

/// A v3 message after its version: the security level its flags ask for, and the
/// authoritative engine and user name of its USM parameters.
fn v3(d: &[u8], rec: &mut SessionRecord) {
    let mut parts = elements(d);
    let Some((0x30, global)) = parts.next() else { return };
    if let Some((0x04, [flags])) = elements(global).nth(2) {
        let level = match flags & 3 {
            0 => "noAuthNoPriv",
            1 => "authNoPriv",
            _ => "authPriv",
        };
        put_text(rec, text_field!("snmp.secLevel"), level);
    }
    let Some((0x04, security)) = parts.next() else { return };
    // The USM parameters' sequence is read to the end of the octet string that holds
    // it, whatever length it claims (as agents that miscount it are read elsewhere).
    let Some((0x30, _, h)) = tlv(security) else { return };
    let mut usm = elements(&security[h..]);
    if let Some((0x04, engine)) = usm.next().filter(|(_, e)| !e.is_empty()) {
        put_text(rec, text_field!("snmp.engineId"), &crate::kit::hex(engine));
    }
    // Engine boots and time, then the user name.
    if let Some((0x04, user)) = usm.nth(2).filter(|(_, u)| !u.is_empty()) {
        put_text(rec, text_field!("user"), &String::from_utf8_lossy(user));
    }
}

struct Community<'a> {
    text: &'a [u8],
    pdu: &'a [u8],
}

/// `SEQUENCE { INTEGER version, OCTET STRING community | SEQUENCE header, … }`.
fn header(d: &[u8]) -> Option<(i64, Option<Community<'_>>)> {
    let (tag, len, h) = tlv(d)?;
    if tag != 0x30 || h + len != d.len() {
        return None;
    }
    let (tag, vlen, vh) = tlv(&d[h..])?;
    if tag != 0x02 || vlen != 1 {
        return None;
    }
    let version = i64::from(*d.get(h + vh)?);
    let at = h + vh + 1;
    let (tag, clen, ch) = tlv(d.get(at..)?)?;
    match (version, tag) {
        (0 | 1, 0x04) => {
            let text = d.get(at + ch..at + ch + clen)?;
            Some((version, Some(Community { text, pdu: &d[at + ch + clen..] })))
        }
        (3, 0x30) => Some((version, None)),
        _ => None,
    }
}

/// A v3 message's elements after its version.
fn v3_body(d: &[u8]) -> Option<&[u8]> {
    let (_, _, h) = tlv(d)?;
    let (_, vlen, vh) = tlv(d.get(h..)?)?;
    d.get(h + vh + vlen..)
}

pub fn probe(_side: Side, data: &[u8]) -> Probe {
    Probe::from(header(data).is_some())
}

pub struct Snmp {
    messages: usize,
}

impl Dissector for Snmp {
    fn feed(&mut self, _side: Side, data: &[u8], rec: &mut SessionRecord) {
        self.messages += 1;
        let Some((version, community)) = header(data) else { return };
        // On the wire 0 is v1, 1 is v2c, 3 is v3.
        put_int(
            rec,
            int_field!("snmp.version"),
            if version == 0 {
                1
            } else if version == 1 {
                2
            } else {
                3
            },
        );
        if let Some(c) = community {
            put_text(rec, text_field!("snmp.community"), &String::from_utf8_lossy(c.text));
            if response_error(c.pdu).is_some_and(|e| e != 0) {
                risk::add(rec, Risk::ErrorCodeDetected);
            }
            pdu(c.pdu, rec);
        } else if let Some(after_version) = v3_body(data) {
            v3(after_version, rec);
        }
    }

    fn wants_more(&self) -> bool {
        self.messages < MAX_MESSAGES
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tyto_schema::Values;

    #[test]
    fn v2c_get_request() {
        // version 1 (v2c), community "public", GetRequest PDU.
        let m = [0x30, 0x0f, 0x02, 0x01, 0x01, 0x04, 0x06, b'p', b'u', b'b', b'l', b'i', b'c', 0xa0, 0x02, 0x05, 0x00];
        assert_eq!(probe(Side::Client, &m), Probe::Match);
        assert_eq!(probe(Side::Client, &m[..10]), Probe::NoMatch);
        let mut s = Snmp { messages: 0 };
        let mut rec = SessionRecord::default();
        s.feed(Side::Client, &m, &mut rec);
        assert_eq!(rec.extra.get("snmp.version"), Some(&Values::Int(vec![2])));
        assert_eq!(rec.extra.get("snmp.community"), Some(&Values::Text(vec!["public".into()])));
        assert_eq!(probe(Side::Client, &[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]), Probe::NoMatch);
    }

    /// A response saying noSuchName (2) is an error code; one saying noError is not,
    /// nor a GetBulk request, whose non-repeaters sit where a response's status does.
    #[test]
    fn error_status_of_responses() {
        let message = |pdu_tag: u8, status: u8| {
            let pdu = [pdu_tag, 0x0b, 0x02, 0x01, 0x2a, 0x02, 0x01, status, 0x02, 0x01, 0x00, 0x30, 0x00];
            let mut m = vec![0x30, (3 + 8 + pdu.len()) as u8, 0x02, 0x01, 0x01, 0x04, 0x06];
            m.extend_from_slice(b"public");
            m.extend_from_slice(&pdu);
            let mut rec = SessionRecord::default();
            Snmp { messages: 0 }.feed(Side::Server, &m, &mut rec);
            assert_eq!(rec.extra.get("snmp.version"), Some(&Values::Int(vec![2])), "{pdu_tag:x}");
            rec.extra.texts("risk").iter().any(|r| r == "error-code-detected")
        };
        assert!(message(0xa2, 2));
        assert!(!message(0xa2, 0));
        assert!(!message(0xa5, 2));
    }

    fn ber(tag: u8, body: &[u8]) -> Vec<u8> {
        let mut v = vec![tag, body.len() as u8];
        v.extend_from_slice(body);
        v
    }

    /// The PDU's type, its error, its variables' names, and a v2 trap's OID (the
    /// value of snmpTrapOID.0).
    #[test]
    fn pdu_types_variables_and_traps() {
        let oid = |o: &[u8]| ber(0x06, o);
        let bind = |name: &[u8], value: Vec<u8>| ber(0x30, &[oid(name), value].concat());
        // 1.3.6.1.2.1.1.3.0 (sysUpTime.0) and 1.3.6.1.6.3.1.1.4.1.0 = 1.3.6.1.6.3.1.1.5.3.
        let uptime = [0x2b, 6, 1, 2, 1, 1, 3, 0];
        let trap_oid = [0x2b, 6, 1, 6, 3, 1, 1, 4, 1, 0];
        let binds = ber(
            0x30,
            &[bind(&uptime, ber(0x43, &[1])), bind(&trap_oid, oid(&[0x2b, 6, 1, 6, 3, 1, 1, 5, 3]))].concat(),
        );
        let pdu_body = [ber(0x02, &[7]), ber(0x02, &[2]), ber(0x02, &[0]), binds].concat();
        let m = ber(0x30, &[ber(0x02, &[1]), ber(0x04, b"public"), ber(0xa7, &pdu_body)].concat());
        let mut rec = SessionRecord::default();
        Snmp { messages: 0 }.feed(Side::Client, &m, &mut rec);
        assert_eq!(rec.extra.texts("snmp.type"), ["SNMPv2-Trap"]);
        assert_eq!(rec.extra.texts("snmp.error"), ["noSuchName"]);
        assert_eq!(rec.extra.texts("snmp.variable"), ["1.3.6.1.2.1.1.3.0", TRAP_OID]);
        assert_eq!(rec.extra.texts("snmp.trap-oid"), ["1.3.6.1.6.3.1.1.5.3"]);
        assert_eq!(oid_text(&[1]).as_deref(), Some("0.1"));
        assert_eq!(oid_text(&[0x2b, 0x86]), Some("1.3".into()));
        assert_eq!(oid_text(&[0xff; 12]), None);
    }

    /// A v3 message: the security level of its flags, its authoritative engine.
    #[test]
    fn v3_engine_and_level() {
        let global =
            ber(0x30, &[ber(0x02, &[1]), ber(0x02, &[0x05, 0xdc]), ber(0x04, &[0x03]), ber(0x02, &[3])].concat());
        let usm = ber(
            0x04,
            &ber(
                0x30,
                &[ber(0x04, &[0x80, 0x00, 0x1f, 0x88]), ber(0x02, &[0]), ber(0x02, &[0]), ber(0x04, b"ops")].concat(),
            ),
        );
        let m = ber(0x30, &[ber(0x02, &[3]), global, usm, ber(0x30, &[])].concat());
        let mut rec = SessionRecord::default();
        Snmp { messages: 0 }.feed(Side::Client, &m, &mut rec);
        assert_eq!(rec.extra.get("snmp.version"), Some(&Values::Int(vec![3])));
        assert_eq!(rec.extra.texts("snmp.secLevel"), ["authPriv"]);
        assert_eq!(rec.extra.texts("snmp.engineId"), ["80001f88"]);
        assert_eq!(rec.extra.texts("user"), ["ops"]);
    }
}
