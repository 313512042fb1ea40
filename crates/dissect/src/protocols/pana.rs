//! PANA, network access authentication carrying EAP (RFC 5191, UDP port 716): a
//! 16-byte header — two reserved zero bytes, the message's length, flags, the
//! message type, the session id, a sequence number — then AVPs (code, flags, the
//! data's length, two reserved bytes, the data padded to four bytes). A
//! message whose length is the datagram's, whose type is one of the four, and whose
//! AVPs fill it exactly decides. Read as Arkime files it (`pana.*`): message types,
//! session ids, and the identity of EAP Identity messages in EAP-Payload AVPs.

use tyto_schema::SessionRecord;

use crate::kit::{be16, be32, put_text};
use crate::{Dissector, Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "pana",
    transports: &[Transport::Udp],
    ports: &[716],
    probe,
    new: || Box::<Pana>::default(),
    later: None,
};

const HEADER: usize = 16;
const MESSAGE_TYPES: [&str; 4] = ["client-initiation", "auth", "termination", "notification"];
const AVP_EAP_PAYLOAD: u16 = 2;

/// The AVPs after the header: (code, data) each; `None` once one runs past the end.
fn avps(mut d: &[u8]) -> impl Iterator<Item = Option<(u16, &[u8])>> {
    std::iter::from_fn(move || {
        if d.is_empty() {
            return None;
        }
        let avp = (|| {
            let (code, len) = (be16(d, 0)?, usize::from(be16(d, 4)?));
            // RFC 5191's V flag (0x8000) announces a vendor id before the data, yet
            // senders set it on EAP-Payload AVPs that have none (as Diameter's M bit);
            // read as Arkime reads them, the data straight after the header.
            let data = d.get(8..8 + len)?;
            // The last AVP's padding may be left out.
            d = d.get(8 + len.next_multiple_of(4)..).unwrap_or_default();
            Some((code, data))
        })();
        if avp.is_none() {
            d = &[];
        }
        Some(avp)
    })
}

pub fn probe(_side: Side, d: &[u8]) -> Probe {
    let Some(h) = d.get(..HEADER) else { return Probe::NoMatch };
    let (len, kind) = (usize::from(u16::from_be_bytes([h[2], h[3]])), u16::from_be_bytes([h[6], h[7]]));
    let ok = h[..2] == [0, 0]
        && len == d.len()
        && (1..=4).contains(&kind)
        // Flags: R, S, C, A, P, I; the rest reserved.
        && h[5] & 0x03 == 0
        && avps(&d[HEADER..]).all(|avp| avp.is_some());
    Probe::from(ok)
}

/// An EAP Request or Response of type Identity: the identity.
fn eap_identity(eap: &[u8]) -> Option<&[u8]> {
    let (code, len, kind) = (*eap.first()?, usize::from(be16(eap, 2)?), *eap.get(4)?);
    ((code == 1 || code == 2) && kind == 1).then(|| eap.get(5..len)).flatten().filter(|id| !id.is_empty())
}

/// Messages read per session: the authentication is at its start.
const MAX_MESSAGES: u32 = 64;

#[derive(Default)]
pub struct Pana {
    messages: u32,
}

impl Dissector for Pana {
    fn feed(&mut self, _side: Side, d: &[u8], rec: &mut SessionRecord) {
        if self.messages >= MAX_MESSAGES {
            return;
        }
        self.messages += 1;
        let Some(len) = be16(d, 2).map(usize::from).filter(|n| (HEADER..=d.len()).contains(n)) else { return };
        let (kind, session) = (be16(d, 6).unwrap_or(0), be32(d, 8).unwrap_or(0));
        if let Some(name) = MESSAGE_TYPES.get(usize::from(kind).wrapping_sub(1)) {
            put_text(rec, text_field!("pana.msg-type"), name);
        }
        if session != 0 {
            put_text(rec, text_field!("pana.session-id"), &format!("{session:08x}"));
        }
        for (code, data) in avps(&d[HEADER..len]).map_while(|avp| avp) {
            if code == AVP_EAP_PAYLOAD {
                if let Some(identity) = eap_identity(data) {
                    put_text(rec, text_field!("pana.user"), &String::from_utf8_lossy(identity));
                }
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
    use crate::kit::testing::texts;
    use crate::kit::unhex;

    /// `../arkime/arkime_synthetic.pcap`: a PANA-Client-Initiation carrying an EAP
    /// Response/Identity, and the PANA-Auth-Request answering it.
    const INITIATION: &str = "0000002800000001123456780000000100028000000d00000201000d017465737475736572000000";
    const AUTH: &str = "00000010800000021234567800000002";

    #[test]
    fn probes_by_length_type_and_avps() {
        assert_eq!(probe(Side::Client, &unhex(INITIATION)), Probe::Match);
        assert_eq!(probe(Side::Server, &unhex(AUTH)), Probe::Match);
        let mut longer = unhex(AUTH);
        longer.push(0);
        assert_eq!(probe(Side::Server, &longer), Probe::NoMatch);
        let mut kind = unhex(AUTH);
        kind[7] = 5;
        assert_eq!(probe(Side::Server, &kind), Probe::NoMatch);
        // An AVP running past the end.
        let mut avp = unhex(INITIATION);
        avp[21] = 0x40;
        assert_eq!(probe(Side::Client, &avp), Probe::NoMatch);
        assert_eq!(probe(Side::Client, &[0; 8]), Probe::NoMatch);
    }

    #[test]
    fn message_types_session_ids_and_eap_identities() {
        let mut rec = SessionRecord::default();
        let mut p = Pana::default();
        p.feed(Side::Client, &unhex(INITIATION), &mut rec);
        p.feed(Side::Server, &unhex(AUTH), &mut rec);
        // A message longer than its datagram, or cut in an AVP, gives what it holds.
        p.feed(Side::Server, &unhex("0000ffff00000003aabbccdd00000003"), &mut rec);
        p.feed(Side::Client, &unhex("0000001800000004aabbccdd0000000400020000ffff0000"), &mut rec);
        assert_eq!(texts(&rec, "pana.msg-type"), ["client-initiation", "auth", "notification"]);
        assert_eq!(texts(&rec, "pana.session-id"), ["12345678", "aabbccdd"]);
        assert_eq!(texts(&rec, "pana.user"), ["testuser"]);
    }
}
