//! EtherNet/IP (ODVA, TCP and UDP port 44818): CIP carried in a 24-byte
//! encapsulation header — a little-endian command (List Services, List Identity,
//! Register Session, SendRRData, SendUnitData…), the length of the data that
//! follows, a session handle, a status, the sender's context and options (zero). The
//! probe wants a known command whose length frames the message exactly and zero
//! options.
//!
//! Fields as Arkime files them: every message's command and status
//! (`enip.command`, `enip.status`); from SendRRData and SendUnitData the CIP
//! service of each connected or unconnected data item and the object class its
//! request path names first (`enip.service`, `enip.class`, and `cip` in
//! `protocols`); from a ListIdentity answer the device's vendor, type and product
//! name (`enip.vendor`, `enip.device-type`, `enip.product`). Names Arkime's tables
//! do not hold are written as it writes them (`Service-0x4f`, `Class-0x6b`,
//! `Vendor-9999`, `DeviceType-0x000c`).

use tyto_schema::SessionRecord;

use crate::kit::messages::{Length, Streams};
use crate::kit::{add_protocol, framed, le16, le32, put_int, put_text};
use crate::{Dissector, Probe, Protocol, Side, SubProtocol, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "enip",
    transports: &[Transport::Tcp, Transport::Udp],
    ports: &[44818],
    probe,
    new: || Box::<Enip>::default(),
    later: None,
};

/// The Common Industrial Protocol, named when a data item carries a CIP service.
pub static CIP: SubProtocol = SubProtocol { name: "cip", parent: Some(&PROTOCOL) };

const HEADER: usize = 24;

pub fn probe(_side: Side, d: &[u8]) -> Probe {
    let Some(command) = le16(d, 0) else { return Probe::NeedMore };
    if command_name(command).is_none() {
        return Probe::NoMatch;
    }
    let (Some(len), Some(options)) = (le16(d, 2), le32(d, 20)) else { return Probe::NeedMore };
    if options != 0 {
        return Probe::NoMatch;
    }
    if command == 0 && len == 0 {
        // An empty NOP is 24 zero bytes, as any zero-filled payload is: EtherNet/IP
        // only when a message of another command follows it.
        return match d.get(HEADER..HEADER + 2) {
            None => Probe::NeedMore,
            Some([0, 0]) => Probe::NoMatch,
            Some(_) => probe(Side::Client, &d[HEADER..]),
        };
    }
    // The next message must start right after this one.
    framed(d, HEADER + usize::from(len), |next| le16(next, 0).is_none_or(|c| command_name(c).is_some()))
}

/// The encapsulation's commands (NOP, List Services, List Identity, List
/// Interfaces, Register and Unregister Session, SendRRData, SendUnitData, Indicate
/// Status, Cancel) by name; no other command is EtherNet/IP.
fn command_name(command: u16) -> Option<&'static str> {
    Some(match command {
        0x0000 => "NOP",
        0x0004 => "ListServices",
        0x0063 => "ListIdentity",
        0x0064 => "ListInterfaces",
        0x0065 => "RegisterSession",
        0x0066 => "UnRegisterSession",
        0x006f => "SendRRData",
        0x0070 => "SendUnitData",
        0x0072 => "IndicateStatus",
        0x0073 => "Cancel",
        _ => return None,
    })
}

/// CIP's common and Logix services (Volume 1, Appendix A; the reply bit cleared).
fn service_name(service: u8) -> Option<&'static str> {
    Some(match service & 0x7f {
        0x01 => "Get_Attributes_All",
        0x02 => "Set_Attributes_All",
        0x03 => "Get_Attribute_List",
        0x04 => "Set_Attribute_List",
        0x05 => "Reset",
        0x06 => "Start",
        0x07 => "Stop",
        0x08 => "Create",
        0x09 => "Delete",
        0x0a => "Multiple_Service_Packet",
        0x0d => "Apply_Attributes",
        0x0e => "Get_Attribute_Single",
        0x10 => "Set_Attribute_Single",
        0x11 => "Find_Next_Object_Instance",
        0x14 => "Error_Response",
        0x15 => "Restore",
        0x16 => "Save",
        0x17 => "NoOp",
        0x18 => "Get_Member",
        0x19 => "Set_Member",
        0x1a => "Insert_Member",
        0x1b => "Remove_Member",
        0x1c => "GroupSync",
        0x4b => "Execute_PCCC",
        0x4c => "Read_Tag",
        0x4d => "Write_Tag",
        0x4e => "Forward_Close",
        0x52 => "Read_Tag_Fragmented",
        0x53 => "Write_Tag_Fragmented",
        0x54 => "Forward_Open",
        0x55 => "Get_Connection_Owner",
        0x5b => "Large_Forward_Open",
        _ => return None,
    })
}

/// CIP object classes (Volume 1, chapter 5, and the network volumes' objects).
fn class_name(class: u32) -> Option<&'static str> {
    Some(match class {
        0x01 => "Identity",
        0x02 => "Message Router",
        0x03 => "DeviceNet",
        0x04 => "Assembly",
        0x05 => "Connection",
        0x06 => "Connection Manager",
        0x07 => "Register",
        0x08 => "Discrete Input Point",
        0x09 => "Discrete Output Point",
        0x0a => "Analog Input Point",
        0x0b => "Analog Output Point",
        0x0e => "Presence Sensing",
        0x0f => "Parameter",
        0x10 => "Parameter Group",
        0x1d => "Discrete Input Group",
        0x1e => "Discrete Output Group",
        0x1f => "Discrete Group",
        0x20 => "Analog Input Group",
        0x21 => "Analog Output Group",
        0x22 => "Analog Group",
        0x23 => "Position Sensor",
        0x24 => "Position Controller Supervisor",
        0x25 => "Position Controller",
        0x26 => "Block Sequencer",
        0x27 => "Command Block",
        0x28 => "Motor Data",
        0x29 => "Control Supervisor",
        0x2a => "AC/DC Drive",
        0x2b => "Acknowledge Handler",
        0x2c => "Overload",
        0x2d => "Softstart",
        0x2e => "Selection",
        0x30 => "S-Device Supervisor",
        0x31 => "S-Analog Sensor",
        0x32 => "S-Analog Actuator",
        0x33 => "S-Single Stage Controller",
        0x34 => "S-Gas Calibration",
        0x35 => "Trip Point",
        0x37 => "File",
        0x38 => "S-Partial Pressure",
        0x39 => "Safety Supervisor",
        0x3a => "Safety Validator",
        0x3b => "Safety Discrete Output Point",
        0x3c => "Safety Discrete Output Group",
        0x3d => "Safety Discrete Input Point",
        0x3e => "Safety Discrete Input Group",
        0x3f => "Safety Dual Channel Output",
        0x40 => "S-Sensor Calibration",
        0x41 => "Event Log",
        0x42 => "Motion Device Axis",
        0x43 => "Time Sync",
        0x44 => "Modbus",
        0xf0 => "ControlNet",
        0xf1 => "ControlNet Keeper",
        0xf2 => "ControlNet Scheduling",
        0xf3 => "Connection Configuration",
        0xf4 => "Port",
        0xf5 => "TCP/IP Interface",
        0xf6 => "EtherNet Link",
        0xf7 => "CompoNet",
        0xf8 => "CompoNet Repeater",
        _ => return None,
    })
}

/// ODVA vendor ids of the makers most often met (the same few Arkime names).
fn vendor_name(vendor: u16) -> Option<&'static str> {
    Some(match vendor {
        0x0001 => "Rockwell Automation/Allen-Bradley",
        0x0002 => "Namco Controls Corp.",
        0x0005 => "Schneider Electric",
        0x000c => "Festo",
        0x0017 => "OMRON",
        0x001a => "Hitachi",
        0x002a => "Mitsubishi Electric",
        0x0031 => "Siemens",
        0x0036 => "Bosch Rexroth",
        0x004d => "Lenze",
        0x005a => "Beckhoff",
        0x0064 => "Yaskawa",
        0x0090 => "Pilz",
        0x0100 => "Phoenix Contact",
        0x011b => "WAGO",
        0x012e => "Rockwell Automation",
        _ => return None,
    })
}

/// A message is at most the header and a 16-bit length of data.
const MAX_MESSAGE: usize = HEADER + u16::MAX as usize;
/// Messages read per session; a long-lived I/O connection repeats itself.
const MAX_MESSAGES: u32 = 2048;
/// Common packet format items read per message (Arkime reads 16, ListIdentity 8).
const MAX_ITEMS: u16 = 16;
const MAX_IDENTITY_ITEMS: u16 = 8;

fn message(b: &[u8]) -> Length {
    match (le16(b, 0), le16(b, 2)) {
        (Some(command), Some(len)) if command_name(command).is_some() => Length::Is(HEADER + usize::from(len)),
        (Some(_), Some(_)) => Length::Bad,
        _ => Length::NeedMore,
    }
}

/// The common packet format's items: `(type, data)` each, as long as they are whole.
fn items(b: &[u8], max: u16) -> impl Iterator<Item = (u16, &[u8])> {
    let count = le16(b, 0).filter(|n| (1..=max).contains(n)).unwrap_or(0);
    let mut at = 2;
    (0..count).map_while(move |_| {
        let (kind, len) = (le16(b, at)?, usize::from(le16(b, at + 2)?));
        let data = b.get(at + 4..at + 4 + len)?;
        at += 4 + len;
        Some((kind, data))
    })
}

/// The first class a CIP request path names: logical class segments (8, 16 or 32
/// bits) after any other logical, port or data segments.
fn path_class(path: &[u8]) -> Option<u32> {
    let mut at = 0;
    while let Some(&segment) = path.get(at) {
        at += 1;
        let format = segment & 0x03;
        match segment & 0xe0 {
            0x20 if segment & 0x1c == 0 => {
                return match format {
                    0 => path.get(at).map(|v| u32::from(*v)),
                    1 => le16(path, at + 1).map(u32::from),
                    2 => le32(path, at + 1),
                    _ => None,
                };
            }
            0x20 => at += [1, 3, 5].get(usize::from(format))?,
            0x80 => {
                let len = usize::from(*path.get(at)?);
                at += 1 + len + (len & 1);
            }
            0x00 => {
                if segment & 0x0f == 0x0f {
                    at += 2;
                }
                if segment & 0x10 != 0 {
                    let len = usize::from(*path.get(at)?);
                    at += 1 + len + (len & 1);
                } else {
                    at += 1;
                }
            }
            _ => return None,
        }
    }
    None
}

/// SendRRData and SendUnitData: an interface handle and timeout, then items; the
/// connected (0xb1, after its sequence number) and unconnected (0xb2) data items
/// carry a CIP request or reply.
fn send_data(body: &[u8], rec: &mut SessionRecord) {
    for (kind, data) in items(body.get(6..).unwrap_or_default(), MAX_ITEMS) {
        let cip = match kind {
            0xb1 => data.get(2..).unwrap_or_default(),
            0xb2 => data,
            _ => continue,
        };
        let Some(&service) = cip.first() else { continue };
        add_protocol(rec, &CIP);
        if service & 0x80 != 0 {
            put_text(rec, text_field!("enip.service"), service_name(service).unwrap_or("Reply"));
            continue;
        }
        match service_name(service) {
            Some(name) => put_text(rec, text_field!("enip.service"), name),
            None => put_text(rec, text_field!("enip.service"), &format!("Service-0x{:02x}", service & 0x7f)),
        }
        let words = cip.get(1).map_or(0, |n| usize::from(*n) * 2);
        let path = cip.get(2..).unwrap_or_default();
        let path = &path[..words.min(path.len())];
        if let Some(class) = path_class(path) {
            match class_name(class) {
                Some(name) => put_text(rec, text_field!("enip.class"), name),
                None => put_text(rec, text_field!("enip.class"), &format!("Class-0x{class:02x}")),
            }
        }
    }
}

/// A ListIdentity answer's identity items (0x0c): protocol version and socket
/// address, then vendor id, device type, product code, revision, status, serial
/// number and the product name (a short string).
fn list_identity(body: &[u8], rec: &mut SessionRecord) {
    for (_, item) in items(body, MAX_IDENTITY_ITEMS).filter(|(kind, _)| *kind == 0x0c) {
        let (Some(vendor), Some(device_type), Some(&name_len)) = (le16(item, 18), le16(item, 20), item.get(32)) else {
            continue;
        };
        match vendor_name(vendor) {
            Some(name) => put_text(rec, text_field!("enip.vendor"), name),
            None => put_text(rec, text_field!("enip.vendor"), &format!("Vendor-{vendor}")),
        }
        put_text(rec, text_field!("enip.device-type"), &format!("DeviceType-0x{device_type:04x}"));
        if let Some(name) = item.get(33..33 + usize::from(name_len)).filter(|n| !n.is_empty()) {
            put_text(rec, text_field!("enip.product"), &String::from_utf8_lossy(name));
        }
    }
}

#[derive(Default)]
pub struct Enip {
    streams: Streams,
    messages: u32,
}

impl Dissector for Enip {
    fn feed(&mut self, side: Side, data: &[u8], rec: &mut SessionRecord) {
        let messages = &mut self.messages;
        self.streams.push(side, data, MAX_MESSAGE, message, |m, cut| {
            if cut || *messages >= MAX_MESSAGES || m.len() < HEADER {
                return;
            }
            *messages += 1;
            let (Some(command), Some(status)) = (le16(m, 0), le32(m, 8)) else { return };
            if let Some(name) = command_name(command) {
                put_text(rec, text_field!("enip.command"), name);
            }
            put_int(rec, int_field!("enip.status"), i64::from(status));
            let body = &m[HEADER..];
            match command {
                0x0063 if status == 0 && !body.is_empty() => list_identity(body, rec),
                0x006f | 0x0070 if !body.is_empty() => send_data(body, rec),
                _ => {}
            }
        });
    }

    fn gap(&mut self, side: Side, _len: u64) {
        self.streams.lose(side);
    }

    fn wants_more(&self) -> bool {
        self.messages < MAX_MESSAGES && !self.streams.broken()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kit::unhex;

    #[test]
    fn list_identity_answer_names_the_device() {
        // `arkime_synthetic.pcap`: a ListIdentity answer over UDP.
        let m = unhex(
            "63003a00785634120000000000000000000000000000000001000c00340001000002af120a28020a0000000000000000\
             05000e002a0001020000bebafeca1253796e7468657469632d504c432d5465737403",
        );
        let mut rec = SessionRecord::default();
        Enip::default().feed(Side::Server, &m, &mut rec);
        assert_eq!(rec.extra.texts("enip.command"), ["ListIdentity"]);
        assert_eq!(rec.extra.texts("enip.vendor"), ["Schneider Electric"]);
        assert_eq!(rec.extra.texts("enip.device-type"), ["DeviceType-0x000e"]);
        assert_eq!(rec.extra.texts("enip.product"), ["Synthetic-PLC-Test"]);
        assert_eq!(rec.extra.get("enip.status"), Some(&tyto_schema::Values::Int(vec![0])));
        assert!(!rec.protocols.iter().any(|p| p == "cip"));
    }

    #[test]
    fn cip_services_and_the_classes_their_paths_name() {
        // Forward_Open to the Connection Manager (unconnected), then an unconnected
        // request whose path routes through a port segment with a 7-byte link
        // address before naming the Identity class.
        let forward_open = unhex(
            "6f003a007856341200000000000000000000000000000000000000000a00020000000000b2002a0054022006240100\
             0000000000000000000000000000000000000000000000000000000000000000000000",
        );
        let routed = unhex(
            "6f0022000100000000000000000000000000000000000000000000000000020000000000b20012000e081107312e322e\
             332e3400200124013007",
        );
        // A connected SendUnitData naming class 0x6b, and an answer (reply bit set).
        let connected = unhex(
            "70001e0078563412000000000000000000000000000000000000000000000200a100040001000080b1000a0003004c02206b240101 00",
        );
        let reply = unhex("6f0014007856341200000000000000000000000000000000000000000a00020000000000b2000400d4000000");
        let mut rec = SessionRecord::default();
        let mut enip = Enip::default();
        let mut client = forward_open.clone();
        client.extend_from_slice(&routed);
        client.extend_from_slice(&connected);
        // Cut anywhere: messages are whole however the stream arrives.
        for part in client.chunks(7) {
            enip.feed(Side::Client, part, &mut rec);
        }
        enip.feed(Side::Server, &reply, &mut rec);
        assert_eq!(rec.extra.texts("enip.command"), ["SendRRData", "SendUnitData"]);
        assert_eq!(rec.extra.texts("enip.service"), ["Forward_Open", "Get_Attribute_Single", "Read_Tag"]);
        assert_eq!(rec.extra.texts("enip.class"), ["Connection Manager", "Identity", "Class-0x6b"]);
        assert!(rec.protocols.iter().any(|p| p == "cip"));
    }

    #[test]
    fn hostile_messages_are_read_no_further_than_they_go() {
        assert_eq!(path_class(&[0x20]), None);
        assert_eq!(path_class(&[0x21, 0x00]), None);
        assert_eq!(path_class(&[0x11, 0xff]), None);
        assert_eq!(path_class(&[0x91, 0x03, b'a', b'b', b'c', 0x00, 0x20, 0x02]), Some(2));
        assert_eq!(path_class(&[0x24, 0x01, 0x20, 0x05]), Some(5));
        assert_eq!(path_class(&[0x40]), None);
        // Items claiming more than the message holds, and absurd counts.
        let mut rec = SessionRecord::default();
        send_data(&unhex("00000000000002000000b200ff00"), &mut rec);
        send_data(&unhex("000000000000ffff"), &mut rec);
        list_identity(&unhex("01000c00ff00"), &mut rec);
        list_identity(&unhex("01000c000400000000"), &mut rec);
        assert!(rec.extra.iter().next().is_none());
    }

    #[test]
    fn send_rr_data() {
        // `ethernetIP.pcap`: SendRRData carrying a CIP request (82 bytes).
        let mut m = unhex("70003a0000010210000000001a392f000000000000000000000000000a000200a10004000913");
        assert_eq!(probe(Side::Client, &m), Probe::NeedMore);
        m.resize(82, 0);
        assert_eq!(probe(Side::Client, &m), Probe::Match);
        let mut two = m.clone();
        two.extend_from_slice(&m[..10]);
        assert_eq!(probe(Side::Client, &two), Probe::Match);
        two[82] = 0x99;
        assert_eq!(probe(Side::Client, &two), Probe::NoMatch);
        let mut options = m.clone();
        options[20] = 1;
        assert_eq!(probe(Side::Client, &options), Probe::NoMatch);
        // An empty NOP first (`arkime_synthetic.pcap`'s client): named by what follows.
        let nop = [0u8; 24];
        assert_eq!(probe(Side::Client, &nop), Probe::NeedMore);
        assert_eq!(probe(Side::Client, &[0u8; 48]), Probe::NoMatch);
        let mut then = nop.to_vec();
        then.extend_from_slice(&m);
        assert_eq!(probe(Side::Client, &then), Probe::Match);
        then[24] = 0x99;
        assert_eq!(probe(Side::Client, &then), Probe::NoMatch);
    }
}
