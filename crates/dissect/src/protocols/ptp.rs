//! Precision Time Protocol version 2 (IEEE 1588, UDP ports 319 event and 320
//! general): a 34-byte common header whose low nibbles give the message type and
//! the version (2), a message length that fits the datagram, and reserved bytes
//! that are zero. Only the protocol is recorded so far.

use tyto_schema::SessionRecord;

use crate::kit::put_text;
use crate::{Dissector, Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "ptp",
    transports: &[Transport::Udp],
    ports: &[319, 320],
    probe,
    new: || Box::new(Ptp { messages: 0 }),
    later: None,
};

const HEADER: usize = 34;

pub fn probe(_side: Side, d: &[u8]) -> Probe {
    let Some(h) = d.get(..HEADER) else { return Probe::NoMatch };
    let kind = h[0] & 0x0f;
    let len = usize::from(u16::from_be_bytes([h[2], h[3]]));
    // Sync, Delay_Req, Pdelay_*, Follow_Up, Delay_Resp, Pdelay_Resp_Follow_Up,
    // Announce, Signaling, Management.
    let ok = matches!(kind, 0..=3 | 8..=0xd)
        && h[1] & 0x0f == 2
        && (HEADER..=d.len()).contains(&len)
        && h[5] == 0
        && h[16..20] == [0; 4];
    Probe::from(ok)
}

/// Messages read per session (a clock's sync stream says the same things again).
const MAX_MESSAGES: usize = 16;

/// A message type's name, as Arkime and Wireshark write it.
fn message_type(kind: u8) -> &'static str {
    match kind {
        0 => "sync",
        1 => "delay_req",
        2 => "pdelay_req",
        3 => "pdelay_resp",
        8 => "follow_up",
        9 => "delay_resp",
        0xa => "pdelay_resp_follow_up",
        0xb => "announce",
        0xc => "signaling",
        _ => "management",
    }
}

/// Each message's type and the identity of the clock that sent it (the source port
/// identity's first eight bytes, as Arkime writes them).
pub struct Ptp {
    messages: usize,
}

impl Dissector for Ptp {
    fn feed(&mut self, side: Side, data: &[u8], rec: &mut SessionRecord) {
        self.messages += 1;
        if probe(side, data) != Probe::Match {
            return;
        }
        put_text(rec, text_field!("ptp.msgType"), message_type(data[0] & 0x0f));
        put_text(rec, text_field!("ptp.clockId"), &crate::kit::mac_text(&data[20..28]));
    }

    fn wants_more(&self) -> bool {
        self.messages < MAX_MESSAGES
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kit::unhex;

    #[test]
    fn signaling() {
        // `ptpv2.pcap`: a signaling message (54 bytes, padded to 56).
        let mut d =
            unhex("0c02003600000400000000000000000000000000002094fffe00000d0001000105ffffffffffffffffffffff0004");
        d.resize(56, 0);
        assert_eq!(probe(Side::Client, &d), Probe::Match);
        let mut v1 = d.clone();
        v1[1] = 1;
        assert_eq!(probe(Side::Client, &v1), Probe::NoMatch);
        assert_eq!(probe(Side::Client, &d[..40]), Probe::NoMatch);
        let mut p = Ptp { messages: 0 };
        let mut rec = tyto_schema::SessionRecord::default();
        p.feed(Side::Client, &d, &mut rec);
        p.feed(Side::Client, &v1, &mut rec);
        assert_eq!(rec.extra.texts("ptp.msgType"), ["signaling"]);
        assert_eq!(rec.extra.texts("ptp.clockId"), ["00:20:94:ff:fe:00:00:0d"]);
    }
}
