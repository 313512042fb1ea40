//! ESP (IP protocol 50, RFC 4303): everything past the header is encrypted, so what
//! a session shows is its Security Parameter Index per direction (the SA a key
//! exchange negotiated: it ties ESP traffic to the IKE session that made it) and the
//! sequence numbers' progress. ESP inside UDP (NAT traversal, port 4500) shares its
//! datagrams with IKE and is read by the ISAKMP dissector through [`spi`].

use tyto_schema::SessionRecord;

use crate::kit::put_text;
use crate::{Dissector, Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "esp",
    transports: &[Transport::Esp],
    ports: &[],
    probe,
    new: || Box::new(Esp::default()),
    later: None,
};

/// The SPI of an ESP packet: a 4-byte SPI and a 4-byte sequence number come first.
/// Zero is never sent; 1–255 are reserved (RFC 4303 2.1) but manual keying uses them.
pub fn spi(packet: &[u8]) -> Option<u32> {
    let h = packet.get(..8)?;
    let spi = u32::from_be_bytes([h[0], h[1], h[2], h[3]]);
    (spi != 0).then_some(spi)
}

/// The IP protocol number already says ESP; the header only has to be whole.
pub fn probe(_side: Side, data: &[u8]) -> Probe {
    Probe::from(spi(data).is_some())
}

/// SPIs kept per session: one per direction and SA; rekeying adds a pair an hour.
const MAX_SPIS: usize = 16;

#[derive(Default)]
pub struct Esp {
    spis: Vec<u32>,
}

impl Esp {
    pub fn record(&mut self, packet: &[u8], rec: &mut SessionRecord) {
        let Some(spi) = spi(packet) else { return };
        if self.spis.len() < MAX_SPIS && !self.spis.contains(&spi) {
            self.spis.push(spi);
            put_text(rec, text_field!("esp.spi"), &format!("{spi:08x}"));
        }
    }
}

impl Dissector for Esp {
    fn feed(&mut self, _side: Side, data: &[u8], rec: &mut SessionRecord) {
        self.record(data, rec);
    }

    fn wants_more(&self) -> bool {
        self.spis.len() < MAX_SPIS
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tyto_schema::Values;

    #[test]
    fn spis_of_both_directions_once_each() {
        let mut e = Esp::default();
        let mut rec = SessionRecord::default();
        assert_eq!(probe(Side::Client, &[0x3d, 0x71, 0x31, 0x5a, 0, 0, 0, 1]), Probe::Match);
        assert_eq!(probe(Side::Client, &[0, 0, 0, 0x6e, 0, 0, 0, 1]), Probe::Match, "manually keyed");
        assert_eq!(probe(Side::Client, &[0, 0, 0, 0, 0, 0, 0, 1]), Probe::NoMatch);
        assert_eq!(probe(Side::Client, &[0x3d, 0x71, 0x31]), Probe::NoMatch);
        for (side, p) in [
            (Side::Client, [0x3d, 0x71, 0x31, 0x5a, 0, 0, 0, 1, 0xaa]),
            (Side::Server, [0xca, 0xfe, 0xba, 0xbe, 0, 0, 0, 1, 0xbb]),
            (Side::Client, [0x3d, 0x71, 0x31, 0x5a, 0, 0, 0, 2, 0xcc]),
        ] {
            e.feed(side, &p, &mut rec);
        }
        assert_eq!(rec.extra.get("esp.spi"), Some(&Values::Text(vec!["3d71315a".into(), "cafebabe".into()])));
    }
}
