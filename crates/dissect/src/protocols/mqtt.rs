//! MQTT 3.1, 3.1.1 and 5.0 over TCP: the CONNECT's client id, protocol version,
//! flags, will topic and user name; packet types both ways; topics published,
//! subscribed and unsubscribed; QoS levels; the CONNACK's return code.

use tyto_schema::SessionRecord;

use crate::kit::messages::{Length, Streams};
use crate::kit::{put_int, put_text};
use crate::{Dissector, Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "mqtt",
    transports: &[Transport::Tcp],
    ports: &[1883],
    probe,
    new: || Box::<Mqtt>::default(),
    later: None,
};

/// Headers, topics and CONNECT payloads fit; the rest of a long PUBLISH is skipped.
const MAX_HEAD: usize = 4 << 10;
const MAX_PACKETS: u32 = 4096;
/// Longer topics are not recorded (a topic is at most 64 KiB; analysts want names).
const MAX_TOPIC: usize = 256;

const TYPES: [&str; 16] = [
    "RESERVED",
    "CONNECT",
    "CONNACK",
    "PUBLISH",
    "PUBACK",
    "PUBREC",
    "PUBREL",
    "PUBCOMP",
    "SUBSCRIBE",
    "SUBACK",
    "UNSUBSCRIBE",
    "UNSUBACK",
    "PINGREQ",
    "PINGRESP",
    "DISCONNECT",
    "AUTH",
];

/// A variable byte integer: its value and its size.
fn varint(b: &[u8]) -> Option<Option<(usize, usize)>> {
    let mut value = 0usize;
    for i in 0..4 {
        let Some(&byte) = b.get(i) else { return Some(None) };
        value |= usize::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some(Some((value, i + 1)));
        }
    }
    None
}

fn packet(b: &[u8]) -> Length {
    if b.is_empty() {
        return Length::NeedMore;
    }
    match varint(&b[1..]) {
        None => Length::Bad,
        Some(None) => Length::NeedMore,
        Some(Some((len, size))) => Length::Is(1 + size + len),
    }
}

pub fn probe(side: Side, data: &[u8]) -> Probe {
    if side == Side::Server {
        return Probe::NeedMore;
    }
    // CONNECT, with its protocol name.
    if data.first().is_some_and(|b| *b != 0x10) {
        return Probe::NoMatch;
    }
    let Some(Some((_, size))) = data.get(1..).and_then(varint) else {
        return if data.len() < 5 { Probe::NeedMore } else { Probe::NoMatch };
    };
    let name = &data[1 + size..];
    let want: &[&[u8]] = &[b"\x00\x04MQTT", b"\x00\x06MQIsdp"];
    if want.iter().any(|w| name.starts_with(w)) {
        Probe::Match
    } else if want.iter().any(|w| w.starts_with(name)) {
        Probe::NeedMore
    } else {
        Probe::NoMatch
    }
}

/// What follows an MQTT 5 property list.
fn skip_properties(b: &[u8]) -> Option<&[u8]> {
    let (len, size) = varint(b)??;
    b.get(size + len..)
}

/// A length-prefixed string and what follows it.
fn string(b: &[u8]) -> Option<(&[u8], &[u8])> {
    let len = usize::from(u16::from_be_bytes([*b.first()?, *b.get(1)?]));
    Some((b.get(2..2 + len)?, &b[2 + len..]))
}

#[derive(Default)]
pub struct Mqtt {
    streams: Streams,
    version: u8,
    packets: u32,
}

fn topic(rec: &mut SessionRecord, t: &[u8]) {
    if !t.is_empty() && t.len() <= MAX_TOPIC {
        put_text(rec, text_field!("mqtt.topic"), &String::from_utf8_lossy(t));
    }
}

/// A CONNECT's body; the protocol level it names is kept for later packets.
fn connect(body: &[u8], version: &mut u8, rec: &mut SessionRecord) -> Option<()> {
    let (_, rest) = string(body)?;
    let (&level, rest) = rest.split_first()?;
    let (&flags, rest) = rest.split_first()?;
    *version = level;
    let name = match level {
        3 => "3.1",
        4 => "3.1.1",
        5 => "5.0",
        _ => return None,
    };
    put_text(rec, text_field!("mqtt.version"), name);
    for (bit, name) in [(0x02, "cleanSession"), (0x04, "hasWill"), (0x20, "willRetain"), (0x40, "hasPassword")] {
        if flags & bit != 0 {
            put_text(rec, text_field!("mqtt.flags"), name);
        }
    }
    let mut rest = rest.get(2..)?; // keep alive
    if level == 5 {
        rest = skip_properties(rest)?;
    }
    let (client, mut rest) = string(rest)?;
    put_text(rec, text_field!("mqtt.clientId"), &String::from_utf8_lossy(client));
    if flags & 0x04 != 0 {
        put_int(rec, int_field!("mqtt.qos"), i64::from((flags >> 3) & 3));
        if level == 5 {
            rest = skip_properties(rest)?;
        }
        let (will, r) = string(rest)?;
        put_text(rec, text_field!("mqtt.willTopic"), &String::from_utf8_lossy(will));
        rest = string(r)?.1; // the will message
    }
    if flags & 0x80 != 0 {
        let (user, _) = string(rest)?;
        if !user.is_empty() {
            put_text(rec, text_field!("user"), &String::from_utf8_lossy(user));
        }
    }
    Some(())
}

/// One packet (or the head of a long one).
fn read_packet(p: &[u8], version: &mut u8, rec: &mut SessionRecord) {
    let kind = p[0] >> 4;
    put_text(rec, text_field!("mqtt.type"), TYPES[usize::from(kind)]);
    let Some(Some((_, size))) = varint(&p[1..]) else { return };
    let body = &p[1 + size..];
    match kind {
        1 => {
            connect(body, version, rec);
        }
        2 => {
            if let Some(code) = body.get(1) {
                put_int(rec, int_field!("mqtt.connackCode"), i64::from(*code));
            }
        }
        3 => {
            put_int(rec, int_field!("mqtt.qos"), i64::from((p[0] >> 1) & 3));
            if let Some((t, _)) = string(body) {
                topic(rec, t);
            }
        }
        8 | 10 => {
            // Packet id, (v5) properties, then topics (with options when subscribing).
            let Some(mut rest) = body.get(2..) else { return };
            if *version == 5 {
                let Some(after) = skip_properties(rest) else { return };
                rest = after;
            }
            while let Some((t, r)) = string(rest) {
                topic(rec, t);
                rest = if kind == 8 { r.get(1..).unwrap_or(&[]) } else { r };
            }
        }
        _ => {}
    }
}

impl Dissector for Mqtt {
    fn feed(&mut self, side: Side, data: &[u8], rec: &mut SessionRecord) {
        let (version, packets) = (&mut self.version, &mut self.packets);
        self.streams.push(side, data, MAX_HEAD, packet, |p, _| {
            if *packets < MAX_PACKETS {
                *packets += 1;
                read_packet(p, version, rec);
            }
        });
    }

    fn gap(&mut self, side: Side, _len: u64) {
        self.streams.lose(side);
    }

    fn wants_more(&self) -> bool {
        self.packets < MAX_PACKETS && !self.streams.broken()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tyto_schema::Values;

    fn with_header(first: u8, body: &[u8]) -> Vec<u8> {
        let mut p = vec![first, body.len() as u8];
        p.extend_from_slice(body);
        p
    }

    fn s(v: &str) -> Vec<u8> {
        let mut out = (v.len() as u16).to_be_bytes().to_vec();
        out.extend_from_slice(v.as_bytes());
        out
    }

    #[test]
    fn connect_subscribe_publish_and_connack() {
        let mut body = s("MQTT");
        body.extend_from_slice(&[4, 0x02 | 0x04 | 0x10 | 0x80 | 0x40, 0, 60]);
        for part in ["dev-1", "status/dev-1", "gone", "alice", "pw"] {
            body.extend_from_slice(&s(part));
        }
        let connect = with_header(0x10, &body);
        assert_eq!(probe(Side::Client, &connect), Probe::Match);
        assert_eq!(probe(Side::Client, &connect[..4]), Probe::NeedMore);
        assert_eq!(probe(Side::Client, b"\x10\x20\x00\x04HTTP"), Probe::NoMatch);
        let mut sub = vec![0, 1];
        sub.extend_from_slice(&s("sensors/#"));
        sub.push(1);
        let mut client = connect;
        client.extend_from_slice(&with_header(0x82, &sub));
        let mut publish = s("sensors/t");
        publish.extend_from_slice(&[0, 2, b'2', b'1']);
        client.extend_from_slice(&with_header(0x32, &publish));
        let mut rec = SessionRecord::default();
        let mut m = Mqtt::default();
        for c in client.chunks(3) {
            m.feed(Side::Client, c, &mut rec);
        }
        m.feed(Side::Server, &[0x20, 2, 0, 0], &mut rec);
        let texts = |f: &str| match rec.extra.get(f) {
            Some(Values::Text(v)) => v.clone(),
            _ => vec![],
        };
        assert_eq!(texts("mqtt.clientId"), ["dev-1"]);
        assert_eq!(texts("mqtt.version"), ["3.1.1"]);
        assert_eq!(texts("mqtt.flags"), ["cleanSession", "hasWill", "hasPassword"]);
        assert_eq!(texts("mqtt.willTopic"), ["status/dev-1"]);
        assert_eq!(texts("user"), ["alice"]);
        assert_eq!(texts("mqtt.topic"), ["sensors/#", "sensors/t"]);
        assert_eq!(texts("mqtt.type"), ["CONNECT", "SUBSCRIBE", "PUBLISH", "CONNACK"]);
        assert_eq!(rec.extra.get("mqtt.qos"), Some(&Values::Int(vec![2, 1])));
        assert_eq!(rec.extra.get("mqtt.connackCode"), Some(&Values::Int(vec![0])));
    }
}
