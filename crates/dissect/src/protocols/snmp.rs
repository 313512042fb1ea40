//! SNMP v1, v2c and v3 (RFC 3416, RFC 3412) over UDP: the version and, before v3, the
//! community string, from the message's BER header.

use tyto_schema::SessionRecord;

use crate::kit::{put_int, put_text};
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

/// `SEQUENCE { INTEGER version, OCTET STRING community | SEQUENCE header, … }`.
fn header(d: &[u8]) -> Option<(i64, Option<&[u8]>)> {
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
        (0 | 1, 0x04) => Some((version, Some(d.get(at + ch..at + ch + clen)?))),
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
            put_text(rec, text_field!("snmp.community"), &String::from_utf8_lossy(c));
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
}
