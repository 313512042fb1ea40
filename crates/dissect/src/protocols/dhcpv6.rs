//! DHCPv6 (RFC 8415) over UDP 546/547: message types, the client's MAC (from a
//! link-layer DUID), its FQDN and vendor class, into the DHCP fields. Relay messages
//! are unwrapped to the client's message they carry.

use tyto_schema::SessionRecord;

use crate::kit::{mac_text, put_text};
use crate::{Dissector, Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "dhcpv6",
    transports: &[Transport::Udp],
    ports: &[546, 547],
    probe,
    new: || Box::<Dhcpv6>::default(),
    later: None,
};

const MAX_MESSAGES: u32 = 16;
const RELAY_FORW: u8 = 12;
const RELAY_REPL: u8 = 13;
const OPTION_CLIENTID: u16 = 1;
const OPTION_RELAY_MSG: u16 = 9;
const OPTION_VENDOR_CLASS: u16 = 16;
const OPTION_CLIENT_FQDN: u16 = 39;
/// Relays wrapping relays: a few levels at most.
const MAX_RELAY_DEPTH: usize = 4;

fn type_name(t: u8) -> Option<&'static str> {
    const NAMES: [&str; 14] = [
        "",
        "SOLICIT",
        "ADVERTISE",
        "REQUEST",
        "CONFIRM",
        "RENEW",
        "REBIND",
        "REPLY",
        "RELEASE",
        "DECLINE",
        "RECONFIGURE",
        "INFORMATION-REQUEST",
        "RELAY-FORW",
        "RELAY-REPL",
    ];
    NAMES.get(usize::from(t)).copied().filter(|n| !n.is_empty())
}

/// Option codes and values, in order.
type Options<'a> = Vec<(u16, &'a [u8])>;

/// The options of a message (after its header), when they tile it exactly.
fn options(mut rest: &[u8]) -> Option<Options<'_>> {
    let mut out = Vec::new();
    while !rest.is_empty() {
        let h = rest.get(..4)?;
        let (code, len) = (u16::from_be_bytes([h[0], h[1]]), usize::from(u16::from_be_bytes([h[2], h[3]])));
        out.push((code, rest.get(4..4 + len)?));
        rest = &rest[4 + len..];
    }
    Some(out)
}

/// A message's type and options; relay headers are 34 bytes, client/server ones 4.
fn message(data: &[u8]) -> Option<(u8, Options<'_>)> {
    let kind = *data.first()?;
    type_name(kind)?;
    let header = if matches!(kind, RELAY_FORW | RELAY_REPL) { 34 } else { 4 };
    let opts = options(data.get(header..)?)?;
    // Every message names a client or server, or relays one.
    let known = opts.iter().any(|(c, _)| matches!(*c, 1 | 2 | OPTION_RELAY_MSG | 8 | 6 | 3 | 25));
    known.then_some((kind, opts))
}

pub fn probe(_side: Side, data: &[u8]) -> Probe {
    Probe::from(message(data).is_some())
}

#[derive(Default)]
pub struct Dhcpv6 {
    messages: u32,
}

fn record(data: &[u8], depth: usize, rec: &mut SessionRecord) {
    let Some((kind, opts)) = message(data) else { return };
    if let Some(name) = type_name(kind) {
        put_text(rec, text_field!("dhcp.type"), name);
    }
    // A client's or server's message: its transaction id (a relay's has none).
    if !matches!(kind, RELAY_FORW | RELAY_REPL) {
        put_text(rec, text_field!("dhcp.id"), &crate::kit::hex(&data[1..4]));
    }
    for (code, value) in opts {
        match code {
            OPTION_RELAY_MSG if depth < MAX_RELAY_DEPTH => record(value, depth + 1, rec),
            // DUID-LLT (1) and DUID-LL (3) over Ethernet (hardware type 1) end in the MAC.
            OPTION_CLIENTID if value.len() >= 10 => {
                let duid = u16::from_be_bytes([value[0], value[1]]);
                let hw = u16::from_be_bytes([value[2], value[3]]);
                let mac = match duid {
                    1 if hw == 1 && value.len() == 14 => Some(&value[8..14]),
                    3 if hw == 1 && value.len() == 10 => Some(&value[4..10]),
                    _ => None,
                };
                if let Some(m) = mac {
                    put_text(rec, text_field!("dhcp.mac"), &mac_text(m));
                }
            }
            // Flags, then the name in DNS wire format.
            OPTION_CLIENT_FQDN if value.len() > 1 => {
                let mut labels = Vec::new();
                let mut rest = &value[1..];
                while let Some((&len, tail)) = rest.split_first() {
                    let len = usize::from(len);
                    if len == 0 || len > tail.len() || labels.len() >= 32 {
                        break;
                    }
                    labels.push(String::from_utf8_lossy(&tail[..len]).into_owned());
                    rest = &tail[len..];
                }
                if !labels.is_empty() {
                    put_text(rec, text_field!("dhcp.host"), &labels.join("."));
                }
            }
            // Enterprise number, then length-prefixed class data.
            OPTION_VENDOR_CLASS if value.len() > 6 => {
                let len = usize::from(u16::from_be_bytes([value[4], value[5]]));
                if let Some(class) = value.get(6..6 + len) {
                    put_text(rec, text_field!("dhcp.classId"), &String::from_utf8_lossy(class));
                }
            }
            _ => {}
        }
    }
}

impl Dissector for Dhcpv6 {
    fn feed(&mut self, _side: Side, data: &[u8], rec: &mut SessionRecord) {
        self.messages += 1;
        record(data, 0, rec);
    }

    fn wants_more(&self) -> bool {
        self.messages < MAX_MESSAGES
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tyto_schema::Values;

    fn opt(code: u16, value: &[u8]) -> Vec<u8> {
        let mut o = code.to_be_bytes().to_vec();
        o.extend_from_slice(&(value.len() as u16).to_be_bytes());
        o.extend_from_slice(value);
        o
    }

    #[test]
    fn solicit_with_duid_fqdn_and_vendor_class() {
        let mut m = vec![1, 0x12, 0x34, 0x56];
        m.extend_from_slice(&opt(1, &[0, 1, 0, 1, 0x2a, 0, 0, 0, 0x00, 0x0c, 0x29, 0xaa, 0xbb, 0xcc]));
        m.extend_from_slice(&opt(39, b"\x01\x04host\x07example\x03com\x00"));
        m.extend_from_slice(&opt(16, b"\x00\x00\x01\x37\x00\x08MSFT 5.0"));
        m.extend_from_slice(&opt(8, &[0, 0]));
        assert_eq!(probe(Side::Client, &m), Probe::Match);
        assert_eq!(probe(Side::Client, &m[..m.len() - 1]), Probe::NoMatch);
        assert_eq!(probe(Side::Client, b"\x01\x00\x00\x00"), Probe::NoMatch);
        let mut relay = vec![RELAY_FORW, 0];
        relay.extend_from_slice(&[0; 32]);
        relay.extend_from_slice(&opt(9, &m));
        let mut rec = SessionRecord::default();
        Dhcpv6::default().feed(Side::Client, &relay, &mut rec);
        let t = |f: &str| rec.extra.get(f).cloned();
        assert_eq!(t("dhcp.type"), Some(Values::Text(vec!["RELAY-FORW".into(), "SOLICIT".into()])));
        assert_eq!(t("dhcp.mac"), Some(Values::Text(vec!["00:0c:29:aa:bb:cc".into()])));
        assert!(matches!(t("dhcp.id"), Some(Values::Text(ids)) if ids.len() == 1 && ids[0].len() == 6));
        assert_eq!(t("dhcp.host"), Some(Values::Text(vec!["host.example.com".into()])));
        assert_eq!(t("dhcp.classId"), Some(Values::Text(vec!["MSFT 5.0".into()])));
    }
}
