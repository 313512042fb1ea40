//! SNMP v1, v2c and v3 (RFC 3416, RFC 3412) over UDP: the version and, before v3, the
//! community string, from the message's BER header.

use tyto_schema::SessionRecord;

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
}
