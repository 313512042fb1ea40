//! DHCP (RFC 2131, RFC 2132) over UDP: message type, client hardware address, host
//! name, vendor class and requested address, from BOOTP messages with the magic cookie.

use tyto_packet::Addr;
use tyto_schema::SessionRecord;

use crate::kit::{mac_text, put_ip, put_text};
use crate::{Dissector, Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "dhcp",
    transports: &[Transport::Udp],
    ports: &[67, 68],
    probe,
    new: || Box::new(Dhcp { messages: 0 }),
    later: None,
};

const MAGIC_COOKIE: [u8; 4] = [0x63, 0x82, 0x53, 0x63];
const OPTIONS_AT: usize = 240;
const MAX_MESSAGES: usize = 16;
const TYPES: [&str; 19] = [
    "",
    "DISCOVER",
    "OFFER",
    "REQUEST",
    "DECLINE",
    "ACK",
    "NAK",
    "RELEASE",
    "INFORM",
    "FORCERENEW",
    "LEASEQUERY",
    "LEASEUNASSIGNED",
    "LEASEUNKNOWN",
    "LEASEACTIVE",
    "BULKLEASEQUERY",
    "LEASEQUERYDONE",
    "ACTIVELEASEQUERY",
    "LEASEQUERYSTATUS",
    "TLS",
];

fn is_dhcp(d: &[u8]) -> bool {
    d.len() >= OPTIONS_AT && matches!(d[0], 1 | 2) && d[2] <= 16 && d[236..240] == MAGIC_COOKIE
}

pub fn probe(_side: Side, data: &[u8]) -> Probe {
    Probe::from(is_dhcp(data))
}

pub struct Dhcp {
    messages: usize,
}

impl Dissector for Dhcp {
    fn feed(&mut self, _side: Side, d: &[u8], rec: &mut SessionRecord) {
        self.messages += 1;
        if !is_dhcp(d) {
            return;
        }
        put_text(rec, text_field!("dhcp.id"), &crate::kit::hex(&d[4..8]));
        // Ethernet addresses only (htype 1, hlen 6).
        if d[1] == 1 && d[2] == 6 {
            put_text(rec, text_field!("dhcp.mac"), &mac_text(&d[28..34]));
        }
        let mut at = OPTIONS_AT;
        while let Some(&code) = d.get(at) {
            match code {
                0 => {
                    at += 1;
                    continue;
                }
                255 => break,
                _ => {}
            }
            let Some(&len) = d.get(at + 1) else { break };
            let Some(v) = d.get(at + 2..at + 2 + len as usize) else { break };
            match (code, v) {
                (53, [t]) => {
                    put_text(rec, text_field!("dhcp.type"), TYPES.get(*t as usize).copied().unwrap_or("UNKNOWN"))
                }
                (12, name) => put_text(rec, text_field!("dhcp.host"), &String::from_utf8_lossy(name)),
                (60, class) => put_text(rec, text_field!("dhcp.classId"), &String::from_utf8_lossy(class)),
                (50, [a, b, c, e]) => {
                    put_ip(rec, ip_field!("dhcp.requestIp"), Addr::from_v4([*a, *b, *c, *e]));
                }
                _ => {}
            }
            at += 2 + len as usize;
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
    fn discover_with_options() {
        let mut d = vec![0u8; OPTIONS_AT];
        d[0] = 1;
        d[1] = 1;
        d[2] = 6;
        d[28..34].copy_from_slice(&[0x00, 0x1A, 0x2b, 3, 4, 5]);
        d[236..240].copy_from_slice(&MAGIC_COOKIE);
        d.extend_from_slice(&[53, 1, 1, 0, 12, 4, b'h', b'o', b's', b't', 50, 4, 10, 0, 0, 9, 60, 3, b'M', b'S', b'F']);
        d.extend_from_slice(&[61, 200, 1]); // an option running past the end
        assert_eq!(probe(Side::Client, &d), Probe::Match);
        assert_eq!(probe(Side::Client, &d[..200]), Probe::NoMatch);
        let mut h = Dhcp { messages: 0 };
        let mut rec = SessionRecord::default();
        h.feed(Side::Client, &d, &mut rec);
        assert_eq!(rec.extra.get("dhcp.type"), Some(&Values::Text(vec!["DISCOVER".into()])));
        assert_eq!(rec.extra.get("dhcp.host"), Some(&Values::Text(vec!["host".into()])));
        assert_eq!(rec.extra.get("dhcp.mac"), Some(&Values::Text(vec!["00:1a:2b:03:04:05".into()])));
        assert_eq!(rec.extra.get("dhcp.classId"), Some(&Values::Text(vec!["MSF".into()])));
        assert!(rec.extra.get("dhcp.requestIp").is_some());
    }
}
