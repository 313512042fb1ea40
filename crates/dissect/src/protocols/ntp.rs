//! NTP (RFC 5905) over UDP: version, mode and stratum of the 48-byte header. The
//! header has no magic, so the probe asks for a client or server packet whose fields
//! all hold values real implementations send.

use tyto_schema::SessionRecord;

use crate::kit::{put_int, put_text};
use crate::{Dissector, Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "ntp",
    transports: &[Transport::Udp],
    ports: &[123],
    probe,
    new: || Box::new(Ntp { packets: 0 }),
    later: None,
};

const MAX_PACKETS: usize = 4;
const MODES: [&str; 8] =
    ["reserved", "symmetric-active", "symmetric-passive", "client", "server", "broadcast", "control", "private"];

fn plausible(d: &[u8]) -> bool {
    // 48 bytes, plus extension fields or a MAC (key id and digest).
    if !matches!(d.len(), 48 | 52 | 60 | 68 | 72 | 120) {
        return false;
    }
    let version = (d[0] >> 3) & 7;
    let mode = d[0] & 7;
    let stratum = d[1];
    let poll = d[2] as i8;
    let precision = d[3] as i8;
    (1..=4).contains(&version)
        && (1..=5).contains(&mode)
        && stratum <= 16
        && (0..=17).contains(&poll)
        && (-32..=0).contains(&precision)
}

pub fn probe(_side: Side, data: &[u8]) -> Probe {
    Probe::from(plausible(data))
}

/// The reference identifier as Arkime writes it: at strata 0 and 1 its ASCII (a kiss
/// code such as `INIT`, a clock such as `GPS`), above them the upstream server's
/// address in hex; none when it is all zeros.
fn reference_id(stratum: u8, id: &[u8]) -> Option<String> {
    if id.iter().all(|b| *b == 0) {
        return None;
    }
    let text = std::str::from_utf8(id).ok().map(|t| t.trim_end_matches('\0'));
    match text {
        Some(t) if stratum <= 1 && !t.is_empty() && t.bytes().all(|b| b.is_ascii_graphic()) => Some(t.to_string()),
        _ => Some(crate::kit::hex(id)),
    }
}

pub struct Ntp {
    packets: usize,
}

impl Dissector for Ntp {
    fn feed(&mut self, _side: Side, data: &[u8], rec: &mut SessionRecord) {
        self.packets += 1;
        if !plausible(data) {
            return;
        }
        put_int(rec, int_field!("ntp.version"), i64::from((data[0] >> 3) & 7));
        put_text(rec, text_field!("ntp.mode"), MODES[(data[0] & 7) as usize]);
        put_int(rec, int_field!("ntp.stratum"), i64::from(data[1]));
        if let Some(id) = reference_id(data[1], &data[12..16]) {
            put_text(rec, text_field!("ntp.ref-id"), &id);
        }
    }

    fn wants_more(&self) -> bool {
        self.packets < MAX_PACKETS
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tyto_schema::Values;

    #[test]
    fn client_and_server() {
        let mut c = [0u8; 48];
        c[0] = 0x23; // v4, client
        c[2] = 6;
        c[3] = 0xe9; // precision -23
        assert_eq!(probe(Side::Client, &c), Probe::Match);
        let mut s = c;
        s[0] = 0x24;
        s[1] = 2;
        let mut n = Ntp { packets: 0 };
        let mut rec = SessionRecord::default();
        n.feed(Side::Client, &c, &mut rec);
        n.feed(Side::Server, &s, &mut rec);
        assert_eq!(rec.extra.get("ntp.mode"), Some(&Values::Text(vec!["client".into(), "server".into()])));
        assert_eq!(rec.extra.get("ntp.stratum"), Some(&Values::Int(vec![0, 2])));
        assert_eq!(rec.extra.get("ntp.ref-id"), None);
        assert_eq!(reference_id(1, b"GPS\0").as_deref(), Some("GPS"));
        assert_eq!(reference_id(0, b"INIT").as_deref(), Some("INIT"));
        assert_eq!(reference_id(2, &[0x7f, 0x7f, 1, 1]).as_deref(), Some("7f7f0101"));
        assert_eq!(probe(Side::Client, &[0x23; 48]), Probe::NoMatch);
        assert_eq!(probe(Side::Client, &c[..40]), Probe::NoMatch);
    }
}
