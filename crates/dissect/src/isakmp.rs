//! ISAKMP / IKE (IKEv1, RFC 2408/2409; IKEv2, RFC 7296) over UDP 500, and over 4500
//! after NAT traversal's four-zero-byte non-ESP marker: the version and exchange
//! types and SPIs of the 28-byte header, whose length field must equal the
//! datagram's. Field names and values as Arkime's.

use tyto_schema::SessionRecord;

use crate::{hex, put_text, Dissector, Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "isakmp",
    transports: &[Transport::Udp],
    ports: &[500, 4500],
    probe,
    new: || Box::new(Isakmp { seen: 0 }),
};

const HEADER: usize = 28;
const MAX_MESSAGES: usize = 8;

/// The IKE message of a datagram (past a NAT-T marker), with its version and exchange.
fn header(d: &[u8]) -> Option<(&[u8], u8, u8)> {
    let m = if d.len() >= 4 + HEADER && d[..4] == [0, 0, 0, 0] { &d[4..] } else { d };
    if m.len() < HEADER || m[..8] == [0; 8] {
        return None;
    }
    let next_payload = m[16];
    let version = m[17];
    let exchange = m[18];
    let length = u32::from_be_bytes([m[24], m[25], m[26], m[27]]) as usize;
    let ok = match version {
        0x10 => matches!(exchange, 1..=6 | 32 | 33) && matches!(next_payload, 1..=13 | 20 | 21 | 130..=132),
        0x20 => matches!(exchange, 34..=37 | 43) && matches!(next_payload, 0 | 33..=48 | 53),
        _ => false,
    };
    (ok && length == m.len()).then_some((m, version >> 4, exchange))
}

pub fn probe(_side: Side, data: &[u8]) -> Probe {
    Probe::from(header(data).is_some())
}

/// Exchange types named as Arkime names them.
fn exchange_name(version: u8, e: u8) -> String {
    match (version, e) {
        (1, 1) => "base".into(),
        (1, 2) => "identity-protection".into(),
        (1, 3) => "authentication-only".into(),
        (1, 4) => "aggressive".into(),
        (1, 5) => "informational".into(),
        (1, 6) => "transaction".into(),
        (1, 32) => "quick-mode".into(),
        (1, 33) => "new-group".into(),
        (2, 34) => "ike-sa-init".into(),
        (2, 35) => "ike-auth".into(),
        (2, 36) => "create-child-sa".into(),
        (2, 37) => "informational".into(),
        (2, 43) => "ike-intermediate".into(),
        (_, e) => e.to_string(),
    }
}

pub struct Isakmp {
    seen: usize,
}

impl Dissector for Isakmp {
    fn feed(&mut self, _side: Side, data: &[u8], rec: &mut SessionRecord) {
        self.seen += 1;
        if let Some((m, version, exchange)) = header(data) {
            put_text(rec, "isakmp.version", &format!("{version}.0"));
            put_text(rec, "isakmp.exchange-type", &exchange_name(version, exchange));
            put_text(rec, "isakmp.initiator-spi", &hex(&m[..8]));
            // Zero until the responder has answered.
            if m[8..16] != [0; 8] {
                put_text(rec, "isakmp.responder-spi", &hex(&m[8..16]));
            }
        }
    }

    fn wants_more(&self) -> bool {
        self.seen < MAX_MESSAGES
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tyto_schema::Values;

    fn ike(version: u8, exchange: u8, next: u8, body: usize) -> Vec<u8> {
        let mut m = vec![0u8; HEADER + body];
        m[..8].copy_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8]);
        m[16] = next;
        m[17] = version;
        m[18] = exchange;
        let len = (HEADER + body) as u32;
        m[24..28].copy_from_slice(&len.to_be_bytes());
        m
    }

    #[test]
    fn ikev1_ikev2_and_nat_traversal() {
        let v2 = ike(0x20, 34, 33, 200);
        assert_eq!(probe(Side::Client, &v2), Probe::Match);
        let mut natt = vec![0, 0, 0, 0];
        natt.extend_from_slice(&ike(0x20, 35, 46, 80));
        assert_eq!(probe(Side::Client, &natt), Probe::Match);
        assert_eq!(probe(Side::Client, &ike(0x10, 2, 1, 60)), Probe::Match);
        let mut wrong_len = v2.clone();
        wrong_len.push(0);
        assert_eq!(probe(Side::Client, &wrong_len), Probe::NoMatch);
        assert_eq!(probe(Side::Client, &ike(0x30, 34, 33, 10)), Probe::NoMatch);
        assert_eq!(probe(Side::Client, &[0u8; 60]), Probe::NoMatch);
        let mut s = Isakmp { seen: 0 };
        let mut rec = SessionRecord::default();
        s.feed(Side::Client, &natt, &mut rec);
        assert_eq!(rec.extra.get("isakmp.version"), Some(&Values::Text(vec!["2.0".into()])));
        assert_eq!(rec.extra.get("isakmp.exchange-type"), Some(&Values::Text(vec!["ike-auth".into()])));
        assert_eq!(rec.extra.get("isakmp.initiator-spi"), Some(&Values::Text(vec!["0102030405060708".into()])));
        assert_eq!(rec.extra.get("isakmp.responder-spi"), None, "zero: not answered yet");
    }
}
