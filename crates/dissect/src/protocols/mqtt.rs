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
    later: Some(later),
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

/// Whether a fixed header's flags are the ones its packet type allows (MQTT 3.1.1
/// 2.2.2): PUBLISH's are DUP, QoS (not 3) and RETAIN; PUBREL, SUBSCRIBE and
/// UNSUBSCRIBE carry 2; the rest 0.
fn flags_ok(first: u8) -> bool {
    match (first >> 4, first & 0x0f) {
        (0, _) => false,
        (3, f) => (f >> 1) & 3 != 3,
        (6 | 8 | 10, f) => f == 2,
        (_, f) => f == 0,
    }
}

/// A topic (or topic filter) at the start of `b`: a length, then text.
fn topic_at(b: &[u8]) -> bool {
    string(b).is_some_and(|(t, _)| !t.is_empty() && t.iter().all(|c| c.is_ascii_graphic() || *c == b' '))
}

/// Bytes from a segment's start in a connection picked up after its CONNECT:
/// packets that follow each other to the byte, each with the flags its type
/// allows, one of them a PUBLISH, SUBSCRIBE or UNSUBSCRIBE naming a topic in text,
/// or three of them at least. A packet cut off at the end waits for the rest.
pub fn later(_side: Side, data: &[u8]) -> Probe {
    let (mut at, mut packets, mut topic) = (0, 0, false);
    while at < data.len() {
        let first = data[at];
        if !flags_ok(first) {
            return Probe::NoMatch;
        }
        let (len, size) = match varint(&data[at + 1..]) {
            None => return Probe::NoMatch,
            Some(None) => return Probe::NeedMore,
            Some(Some(v)) => v,
        };
        let Some(body) = data.get(at + 1 + size..at + 1 + size + len) else { return Probe::NeedMore };
        topic |= match first >> 4 {
            3 => topic_at(body),
            // A packet id, then the first filter.
            8 | 10 => body.get(2..).is_some_and(topic_at),
            _ => false,
        };
        packets += 1;
        at += 1 + size + len;
    }
    if topic || packets >= 3 {
        Probe::Match
    } else {
        Probe::NeedMore
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
    use crate::kit::unhex;
    use tyto_schema::Values;

    /// `mqtt.pcap` after its CONNECT: a SUBSCRIBE, a SUBACK, a PUBLISH, DISCONNECT.
    #[test]
    fn packets_of_a_connection_picked_up_part_way() {
        let subscribe = unhex("821e00010019617374722f733732302f3032443530353032323344332f393900");
        assert_eq!(later(Side::Client, &subscribe), Probe::Match);
        assert_eq!(later(Side::Client, &subscribe[..10]), Probe::NeedMore);
        let publish = unhex("3010000b612f622f632f7465737431323334");
        assert_eq!(later(Side::Server, &publish), Probe::Match);
        // A topic that is no text, a flag its type does not allow.
        assert_eq!(later(Side::Server, &unhex("30080003ff00fe31323334")), Probe::NeedMore);
        assert_eq!(later(Side::Server, &unhex("8103000100")), Probe::NoMatch);
        // Small packets alone wait; three of them decide; one byte too many does not.
        assert_eq!(later(Side::Server, &unhex("9003000100")), Probe::NeedMore);
        assert_eq!(later(Side::Server, &unhex("20020000900300010040020001")), Probe::Match);
        assert_eq!(later(Side::Server, &unhex("2002000090030001004002000100")), Probe::NoMatch);
        assert_eq!(later(Side::Client, b"GET / HTTP/1.1\r\n"), Probe::NoMatch);
    }

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
