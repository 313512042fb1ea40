//! DCE/RPC connection-oriented PDUs over TCP (the endpoint mapper on 135, services on
//! dynamic ports, or straight on 445): packet types, the interfaces bound (UUID,
//! major version and the name of well-known ones, which also goes into `protocols`
//! as Arkime does), operation numbers requested, and NTLMSSP in auth verifiers.

use tyto_schema::SessionRecord;

use crate::kit::messages::{Length, Streams};
use crate::kit::{add_protocol, hex, ntlm, put_int, put_text};
use crate::{Dissector, Probe, Protocol, Side, SubProtocol, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "dcerpc",
    transports: &[Transport::Tcp],
    ports: &[135],
    probe,
    new: || Box::<DceRpc>::default(),
    later: None,
};

/// Binds and requests are read from their first bytes; the rest of a long fragment
/// (request data) is skipped.
const MAX_FRAGMENT: usize = 8 << 10;
/// Enough packets to see the binds and a first run of calls.
const MAX_PDUS: u32 = 512;
const MAX_CONTEXTS: usize = 16;

/// Interfaces by UUID: the ones analysts look for (lateral movement, remote
/// services, directory replication, coercion).
pub(crate) static INTERFACES: &[(&str, SubProtocol)] = &[
    ("12345778-1234-abcd-ef00-0123456789ab", SubProtocol { name: "lsarpc", parent: Some(&PROTOCOL) }),
    ("12345778-1234-abcd-ef00-0123456789ac", SubProtocol { name: "samr", parent: Some(&PROTOCOL) }),
    ("12345678-1234-abcd-ef00-01234567cffb", SubProtocol { name: "netlogon", parent: Some(&PROTOCOL) }),
    ("12345678-1234-abcd-ef00-0123456789ab", SubProtocol { name: "spoolss", parent: Some(&PROTOCOL) }),
    ("367abb81-9844-35f1-ad32-98f038001003", SubProtocol { name: "svcctl", parent: Some(&PROTOCOL) }),
    ("4b324fc8-1670-01d3-1278-5a47bf6ee188", SubProtocol { name: "srvsvc", parent: Some(&PROTOCOL) }),
    ("6bffd098-a112-3610-9833-46c3f87e345a", SubProtocol { name: "wkssvc", parent: Some(&PROTOCOL) }),
    ("1ff70682-0a51-30e8-076d-740be8cee98b", SubProtocol { name: "atsvc", parent: Some(&PROTOCOL) }),
    ("378e52b0-c0a9-11cf-822d-00aa0051e40f", SubProtocol { name: "sasec", parent: Some(&PROTOCOL) }),
    ("86d35949-83c9-4044-b424-db363231fd0c", SubProtocol { name: "itaskscheduler", parent: Some(&PROTOCOL) }),
    ("338cd001-2244-31f1-aaaa-900038001003", SubProtocol { name: "winreg", parent: Some(&PROTOCOL) }),
    ("c681d488-d850-11d0-8c52-00c04fd90f7e", SubProtocol { name: "efsrpc", parent: Some(&PROTOCOL) }),
    ("df1941c5-fe89-4e79-bf10-463657acf44d", SubProtocol { name: "efsr", parent: Some(&PROTOCOL) }),
    ("3919286a-b10c-11d0-9ba8-00c04fd92ef5", SubProtocol { name: "dssetup", parent: Some(&PROTOCOL) }),
    ("e1af8308-5d1f-11c9-91a4-08002b14a0fa", SubProtocol { name: "epmapper", parent: Some(&PROTOCOL) }),
    ("e3514235-4b06-11d1-ab04-00c04fc2dcd2", SubProtocol { name: "drsuapi", parent: Some(&PROTOCOL) }),
    ("00000131-0000-0000-c000-000000000046", SubProtocol { name: "iremunknown", parent: Some(&PROTOCOL) }),
    ("00000143-0000-0000-c000-000000000046", SubProtocol { name: "iremunknown2", parent: Some(&PROTOCOL) }),
    ("00000134-0000-0000-c000-000000000046", SubProtocol { name: "iremunknown2", parent: Some(&PROTOCOL) }),
    ("000001a0-0000-0000-c000-000000000046", SubProtocol { name: "isystemactivator", parent: Some(&PROTOCOL) }),
    ("99fcfec4-5260-101b-bbcb-00aa0021347a", SubProtocol { name: "ioxidresolver", parent: Some(&PROTOCOL) }),
    ("4d9f4ab8-7d1c-11cf-861e-0020af6e7c57", SubProtocol { name: "iactivation", parent: Some(&PROTOCOL) }),
    ("82273fdc-e32a-18c3-3f78-827929dc23ea", SubProtocol { name: "eventlog", parent: Some(&PROTOCOL) }),
    ("f6beaff7-1e19-4fbb-9f8f-b89e2018337c", SubProtocol { name: "even6", parent: Some(&PROTOCOL) }),
    ("894de0c0-0d55-11d3-a322-00c04fa321a1", SubProtocol { name: "initshutdown", parent: Some(&PROTOCOL) }),
    ("d95afe70-a6d5-4259-822e-2c84da1ddb0d", SubProtocol { name: "windowsshutdown", parent: Some(&PROTOCOL) }),
    ("4fc742e0-4a10-11cf-8273-00aa004ae673", SubProtocol { name: "netdfs", parent: Some(&PROTOCOL) }),
    ("3dde7c30-165d-11d1-ab8f-00805f14db40", SubProtocol { name: "backupkey", parent: Some(&PROTOCOL) }),
    ("76f03f96-cdfd-44fc-a22c-64950a001209", SubProtocol { name: "iremotewinspool", parent: Some(&PROTOCOL) }),
    ("50abc2a4-574d-40b3-9d66-ee4fd5fba076", SubProtocol { name: "dnsserver", parent: Some(&PROTOCOL) }),
    ("6bffd098-a112-3610-9833-46c3f874532d", SubProtocol { name: "dhcpsrv", parent: Some(&PROTOCOL) }),
    ("5b821720-f63b-11d0-aad2-00c04fc324db", SubProtocol { name: "dhcpsrv2", parent: Some(&PROTOCOL) }),
    ("91ae6020-9e3c-11cf-8d7c-00aa00c091be", SubProtocol { name: "icertpassage", parent: Some(&PROTOCOL) }),
    ("906b0ce0-c70b-1067-b317-00dd010662da", SubProtocol { name: "ixnremote", parent: Some(&PROTOCOL) }),
];

const TYPES: [&str; 20] = [
    "request",
    "ping",
    "response",
    "fault",
    "working",
    "nocall",
    "reject",
    "ack",
    "cl-cancel",
    "fack",
    "cancel-ack",
    "bind",
    "bind-ack",
    "bind-nak",
    "alter-context",
    "alter-context-resp",
    "auth3",
    "shutdown",
    "co-cancel",
    "orphaned",
];

/// The common header: version 5.0 or 5.1, a known type, a sane data representation.
fn header_ok(h: &[u8]) -> bool {
    h[0] == 5 && h[1] <= 1 && usize::from(h[2]) < TYPES.len() && h[4] & 0xee == 0 && h[5] <= 3
}

fn little_endian(h: &[u8]) -> bool {
    h[4] & 0x10 != 0
}

fn u16_at(h: &[u8], at: usize, le: bool) -> Option<u16> {
    let b: [u8; 2] = h.get(at..at + 2)?.try_into().ok()?;
    Some(if le { u16::from_le_bytes(b) } else { u16::from_be_bytes(b) })
}

fn fragment(b: &[u8]) -> Length {
    if b.len() < 16 {
        return Length::NeedMore;
    }
    match u16_at(b, 8, little_endian(b)) {
        Some(n) if header_ok(b) && n >= 16 => Length::Is(usize::from(n)),
        _ => Length::Bad,
    }
}

pub fn probe(side: Side, data: &[u8]) -> Probe {
    if data.len() < 16 {
        let plausible = data.first().is_none_or(|v| *v == 5) && data.get(1).is_none_or(|v| *v <= 1);
        return if plausible { Probe::NeedMore } else { Probe::NoMatch };
    }
    // Connections start with a bind (or a request on a bound pipe); answers with
    // their acknowledgement, a refusal or a response.
    let first = match side {
        Side::Client => matches!(data[2], 0 | 11 | 14),
        Side::Server => matches!(data[2], 2 | 3 | 12 | 13 | 15),
    };
    Probe::from(first && matches!(fragment(data), Length::Is(n) if n <= 65535))
}

fn uuid(b: &[u8], le: bool) -> String {
    let u32_of = |x: &[u8]| {
        let a = [x[0], x[1], x[2], x[3]];
        if le {
            u32::from_le_bytes(a)
        } else {
            u32::from_be_bytes(a)
        }
    };
    let u16_of = |x: &[u8]| if le { u16::from_le_bytes([x[0], x[1]]) } else { u16::from_be_bytes([x[0], x[1]]) };
    let tail = hex(&b[8..16]);
    format!("{:08x}-{:04x}-{:04x}-{}-{}", u32_of(&b[0..4]), u16_of(&b[4..6]), u16_of(&b[6..8]), &tail[..4], &tail[4..])
}

#[derive(Default)]
pub struct DceRpc {
    streams: Streams,
    pdus: u32,
}

/// One PDU (or the head of a long one), into the record.
fn pdu(p: &[u8], rec: &mut SessionRecord) {
    let le = little_endian(p);
    let kind = usize::from(p[2]);
    put_text(rec, text_field!("dcerpc.msgType"), TYPES[kind]);
    match kind {
        // Bind, alter context: the abstract syntaxes of each presentation context.
        11 | 14 => {
            let n = usize::from(p.get(24).copied().unwrap_or(0)).min(MAX_CONTEXTS);
            let mut at = 28;
            for _ in 0..n {
                let Some(ctx) = p.get(at..at + 24) else { break };
                let id = uuid(&ctx[4..20], le);
                if let Some(major) = u16_at(ctx, 20, le) {
                    put_text(rec, text_field!("dcerpc.version"), &major.to_string());
                }
                if let Some((_, sub)) = INTERFACES.iter().find(|(u, _)| *u == id) {
                    put_text(rec, text_field!("dcerpc.interface"), sub.name);
                    add_protocol(rec, sub);
                }
                put_text(rec, text_field!("dcerpc.uuid"), &id);
                at += 24 + 20 * usize::from(ctx[2]);
            }
        }
        0 => {
            if let Some(op) = u16_at(p, 22, le) {
                put_int(rec, int_field!("dcerpc.opnum"), i64::from(op));
            }
        }
        _ => {}
    }
    // The auth verifier closes the fragment; a cut fragment has lost it.
    let auth = usize::from(u16_at(p, 10, le).unwrap_or(0));
    let whole = usize::from(u16_at(p, 8, le).unwrap_or(0)) == p.len();
    if auth > 0 && whole && auth <= p.len() - 16 {
        if let Some(m) = ntlm::find(&p[p.len() - auth..]) {
            ntlm::record(rec, &m);
        }
    }
}

impl Dissector for DceRpc {
    fn feed(&mut self, side: Side, data: &[u8], rec: &mut SessionRecord) {
        let pdus = &mut self.pdus;
        self.streams.push(side, data, MAX_FRAGMENT, fragment, |p, _cut| {
            if *pdus < MAX_PDUS {
                *pdus += 1;
                pdu(p, rec);
            }
        });
    }

    fn gap(&mut self, side: Side, _len: u64) {
        self.streams.lose(side);
    }

    fn wants_more(&self) -> bool {
        self.pdus < MAX_PDUS && !self.streams.broken()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tyto_schema::Values;

    fn header(kind: u8, body: &[u8], auth: &[u8]) -> Vec<u8> {
        let len = 16 + body.len() + auth.len();
        let mut p = vec![5, 0, kind, 3, 0x10, 0, 0, 0];
        p.extend_from_slice(&(len as u16).to_le_bytes());
        p.extend_from_slice(&(auth.len() as u16).to_le_bytes());
        p.extend_from_slice(&1u32.to_le_bytes());
        p.extend_from_slice(body);
        p.extend_from_slice(auth);
        p
    }

    #[test]
    fn bind_request_and_ntlm_verifier() {
        // samr 12345778-1234-abcd-ef00-0123456789ac v1.0, little-endian.
        let mut body = vec![0xb8, 0x10, 0xb8, 0x10, 0, 0, 0, 0, 1, 0, 0, 0];
        body.extend_from_slice(&[0, 0, 1, 0]);
        body.extend_from_slice(&[0x78, 0x57, 0x34, 0x12, 0x34, 0x12, 0xcd, 0xab]);
        body.extend_from_slice(&[0xef, 0x00, 0x01, 0x23, 0x45, 0x67, 0x89, 0xac]);
        body.extend_from_slice(&[1, 0, 0, 0]);
        body.extend_from_slice(&[0x33; 20]);
        let mut auth = vec![10, 2, 0, 0, 0, 0, 0, 0];
        auth.extend_from_slice(&ntlm::tests::authenticate("D", "ivy", "H"));
        let bind = header(11, &body, &auth);
        let request = header(0, &[0, 0, 0, 0, 0, 0, 5, 0, 1, 2, 3], &[]);
        let mut stream = bind.clone();
        stream.extend_from_slice(&request);
        assert_eq!(probe(Side::Client, &bind), Probe::Match);
        assert_eq!(probe(Side::Client, &bind[..3]), Probe::NeedMore);
        assert_eq!(probe(Side::Client, b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03abcdefgh"), Probe::NoMatch);
        let mut rec = SessionRecord::default();
        let mut d = DceRpc::default();
        for chunk in stream.chunks(5) {
            d.feed(Side::Client, chunk, &mut rec);
        }
        let get = |f: &str| rec.extra.get(f).cloned();
        assert_eq!(get("dcerpc.interface"), Some(Values::Text(vec!["samr".into()])));
        assert_eq!(get("dcerpc.uuid"), Some(Values::Text(vec!["12345778-1234-abcd-ef00-0123456789ac".into()])));
        assert_eq!(get("dcerpc.version"), Some(Values::Text(vec!["1".into()])));
        assert_eq!(get("dcerpc.msgType"), Some(Values::Text(vec!["bind".into(), "request".into()])));
        assert_eq!(get("dcerpc.opnum"), Some(Values::Int(vec![5])));
        assert_eq!(get("user"), Some(Values::Text(vec!["ivy".into()])));
        assert!(rec.protocols.contains(&"samr".to_string()));
    }
}
