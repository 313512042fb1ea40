//! OSPF (IP protocol 89; OSPFv2, RFC 2328 A.3.1, and OSPFv3, RFC 5340 A.3.1): every
//! packet's common header names its type, the sending router and the area, which is
//! what Arkime records (Arkime from a session's first ten packets, Tyto from all: a
//! session's later link-state updates and acknowledgements are listed too).

use tyto_schema::{text_field, SessionRecord};

use crate::kit::put_text;
use crate::{Dissector, Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol =
    Protocol { name: "ospf", transports: &[Transport::Ospf], ports: &[], probe, new: || Box::new(Ospf), later: None };

/// Arkime's names of the packet types 1 to 5.
const TYPES: [&str; 5] = ["Hello", "DBDesc", "LSReq", "LSUpdate", "LSAck"];

/// A whole common header: version 2 (24 bytes) or 3 (16), a length that covers the
/// header and fits the packet. `(type, router id, area id)`.
fn header(p: &[u8]) -> Option<(u8, [u8; 4], [u8; 4])> {
    let (&version, &kind) = (p.first()?, p.get(1)?);
    let header_len = match version {
        2 => 24,
        3 => 16,
        _ => return None,
    };
    let len = usize::from(u16::from_be_bytes(p.get(2..4)?.try_into().ok()?));
    let whole = (header_len..=p.len()).contains(&len);
    whole.then(|| (kind, p[4..8].try_into().unwrap_or_default(), p[8..12].try_into().unwrap_or_default()))
}

/// The IP protocol number already says OSPF; the header only has to be whole.
pub fn probe(_side: Side, data: &[u8]) -> Probe {
    Probe::from(header(data).is_some())
}

pub struct Ospf;

impl Dissector for Ospf {
    fn feed(&mut self, _side: Side, data: &[u8], rec: &mut SessionRecord) {
        let Some((kind, router, area)) = header(data) else { return };
        match TYPES.get(usize::from(kind).wrapping_sub(1)) {
            Some(name) => put_text(rec, text_field!("ospf.msgType"), name),
            None => put_text(rec, text_field!("ospf.msgType"), &format!("unk-{kind}")),
        }
        put_text(rec, text_field!("ospf.routerId"), &std::net::Ipv4Addr::from(router).to_string());
        put_text(rec, text_field!("ospf.areaId"), &std::net::Ipv4Addr::from(area).to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kit::testing::texts;
    use crate::kit::unhex;

    #[test]
    fn hellos_and_database_descriptions_of_v2_and_v3() {
        // Arkime's `ospf.pcap`, frame 4: a Hello of router 172.16.0.2 in area 0.
        let hello =
            unhex("02010030ac10000200000000a37b00000000000000000000fffffffc000a020000000028000000000000000000ac100001");
        assert_eq!(probe(Side::Client, &hello), Probe::Match);
        let mut rec = SessionRecord::default();
        let mut d = Ospf;
        d.feed(Side::Client, &hello, &mut rec);
        let mut dbd = hello.clone();
        dbd[1] = 2;
        d.feed(Side::Client, &dbd, &mut rec);
        // OSPFv3: a 16-byte header, router 1.1.1.1, area 0.0.0.1.
        let v3 = unhex("03030010010101010000000100000000");
        d.feed(Side::Client, &v3, &mut rec);
        assert_eq!(texts(&rec, "ospf.msgType"), ["Hello", "DBDesc", "LSReq"]);
        assert_eq!(texts(&rec, "ospf.routerId"), ["172.16.0.2", "1.1.1.1"]);
        assert_eq!(texts(&rec, "ospf.areaId"), ["0.0.0.0", "0.0.0.1"]);
    }

    #[test]
    fn cut_or_odd_headers_are_not_ospf() {
        let mut hello = vec![2, 1, 0, 44];
        hello.resize(44, 0);
        assert_eq!(probe(Side::Client, &hello[..43]), Probe::NoMatch, "length past the packet");
        assert_eq!(probe(Side::Client, &hello[..10]), Probe::NoMatch);
        hello[0] = 4;
        assert_eq!(probe(Side::Client, &hello), Probe::NoMatch, "version 4");
        let mut rec = SessionRecord::default();
        Ospf.feed(Side::Client, &[], &mut rec);
        Ospf.feed(Side::Client, &hello, &mut rec);
        assert!(texts(&rec, "ospf.msgType").is_empty());
        // A type of no name, as Arkime names it.
        hello[0] = 2;
        hello[1] = 9;
        Ospf.feed(Side::Client, &hello, &mut rec);
        assert_eq!(texts(&rec, "ospf.msgType"), ["unk-9"]);
    }
}
