//! STUN and TURN (RFC 5389, RFC 8656, and RFC 3489's classic STUN) over UDP and TCP:
//! the 20-byte header whose length and (since RFC 5389) magic cookie make it sure.
//! ICE (WebRTC, WhatsApp and other calls) multiplexes the media on the same UDP
//! ports, told apart by the first byte (RFC 7983): DTLS records go to the DTLS
//! dissector (`dtls`, its JA3/JA4 and certificates), RTP and RTCP packets are the
//! call's SRTP (`srtp`, with their payload types and SSRCs, which stay in clear).
//! The STUN messages name the calling application (`app`) where their attributes
//! are an application's own, as nDPI reads them (see [`call_app`]), and give
//! Arkime's `stun.*` fields (see [`message_values`]).

use tyto_packet::Addr;
use tyto_schema::SessionRecord;

use crate::kit::{add_protocol, add_text, put_int, put_ip};
use crate::protocols::dtls::Dtls;
use crate::protocols::rtp;
use crate::{Dissector, Probe, Protocol, Side, SubProtocol, Transport};

/// SRTP media multiplexed with STUN on one port (RFC 7983).
pub static SRTP: SubProtocol = SubProtocol { name: "srtp", parent: Some(&PROTOCOL) };

pub static PROTOCOL: Protocol = Protocol {
    name: "stun",
    transports: &[Transport::Udp, Transport::Tcp],
    ports: &[3478, 5349, 19302],
    probe,
    new: || Box::<Stun>::default(),
    later: None,
};

/// Datagrams looked at: the ICE checks, the DTLS handshake and the media's first.
const MAX_DATAGRAMS: u32 = 64;

#[derive(Default)]
pub struct Stun {
    dtls: Option<Box<Dtls>>,
    datagrams: u32,
    /// The application a message named, until the classifier files it.
    named: Option<&'static str>,
}

/// The message of a stream that frames each STUN or media packet with its 2-byte
/// length (RFC 4571, as ICE over TCP does, RFC 6544): `data` without the length,
/// when what follows it is a STUN message of exactly that length with the magic
/// cookie.
fn framed(data: &[u8]) -> Option<&[u8]> {
    let (frame, message) = (u16::from_be_bytes([*data.first()?, *data.get(1)?]) as usize, data.get(2..)?);
    let body = u16::from_be_bytes([*message.get(2)?, *message.get(3)?]) as usize;
    (message[0] < 0x40 && message.get(4..8)? == MAGIC_COOKIE && frame == 20 + body).then_some(message)
}

impl Dissector for Stun {
    fn feed(&mut self, side: Side, data: &[u8], rec: &mut SessionRecord) {
        let data = match rec.ip_protocol {
            6 => framed(data).unwrap_or(data),
            _ => data,
        };
        if data.first().is_some_and(|b| *b < 4) {
            message_values(data, rec);
            if rec.extra.get("app").is_none() {
                if let Some(app) = call_app(data) {
                    let _ = rec.extra.add_text("app", app);
                    self.named = Some(app);
                }
            }
        }
        // A TCP stream is STUN alone (RFC 7983's demultiplexing is for datagrams).
        if rec.ip_protocol != 17 {
            self.datagrams = MAX_DATAGRAMS;
            return;
        }
        self.datagrams += 1;
        match data.first() {
            Some(20..=63) => {
                add_protocol(rec, &crate::protocols::dtls::PROTOCOL);
                self.dtls.get_or_insert_with(Box::default).feed(side, data, rec);
            }
            Some(128..=191) if rtp::rtp_header(data).is_some() || rtp::compound(data).is_some() => {
                add_protocol(rec, &SRTP);
                rtp::header_values(data, rec);
            }
            _ => {}
        }
    }

    fn wants_more(&self) -> bool {
        self.datagrams < MAX_DATAGRAMS
    }

    fn learnt(&mut self) -> Option<crate::Learnt> {
        self.named.take().map(crate::Learnt::Call)
    }
}

const MAGIC_COOKIE: [u8; 4] = [0x21, 0x12, 0xa4, 0x42];

/// A message type's name as Arkime writes it: the method, then `Request`,
/// `Indication`, `Response` or `Error` (RFC 5389 §6, RFC 8656 and RFC 6062's methods).
fn type_name(kind: u16) -> Option<String> {
    let method = (kind & 0x000f) | ((kind & 0x00e0) >> 1) | ((kind & 0x3e00) >> 2);
    let class = ((kind >> 7) & 0b10) | ((kind >> 4) & 0b01);
    let method = match method {
        0x001 => "Binding",
        0x003 => "Allocate",
        0x004 => "Refresh",
        0x006 => "Send",
        0x007 => "Data",
        0x008 => "CreatePermission",
        0x009 => "ChannelBind",
        0x00a => "Connect",
        0x00b => "ConnectionBind",
        0x00c => "ConnectionAttempt",
        _ => return None,
    };
    Some(format!("{method} {}", ["Request", "Indication", "Response", "Error"][usize::from(class)]))
}

/// An address attribute (family, port, address), XOR-ed with the magic cookie and
/// the transaction id when `xor` (RFC 5389 §15.1–15.2).
fn address(value: &[u8], xor: Option<&[u8; 16]>) -> Option<(Addr, u16)> {
    let (family, port) = (*value.get(1)?, u16::from_be_bytes([*value.get(2)?, *value.get(3)?]));
    let mask = |i: usize| xor.map_or(0, |k| k[i]);
    let port = port ^ u16::from_be_bytes([mask(0), mask(1)]);
    let addr = match family {
        1 => {
            let b = value.get(4..8)?;
            Addr::from_v4([b[0] ^ mask(0), b[1] ^ mask(1), b[2] ^ mask(2), b[3] ^ mask(3)])
        }
        2 => {
            let b = value.get(4..20)?;
            Addr(std::array::from_fn(|i| b[i] ^ mask(i)))
        }
        _ => return None,
    };
    Some((addr, port))
}

/// One message's type, the XOR key of its addresses (the magic cookie and the
/// transaction id, RFC 5389 §15.2) and its attributes, cut to the length it claims.
struct Message<'a> {
    kind: u16,
    key: [u8; 16],
    attributes: &'a [u8],
}

impl Message<'_> {
    fn read(data: &[u8]) -> Option<Message<'_>> {
        let h = data.get(..20)?;
        let kind = u16::from_be_bytes([h[0], h[1]]);
        if kind & 0xc000 != 0 {
            return None;
        }
        let len = usize::from(u16::from_be_bytes([h[2], h[3]]));
        let body = &data[20..];
        let mut key = [0u8; 16];
        key.copy_from_slice(&h[4..20]);
        Some(Message { kind, key, attributes: &body[..len.min(body.len())] })
    }
}

/// Each attribute of a message's `attributes`: its type, the length it claims, and
/// as much of its value as the message holds (padded to four bytes between them).
fn attributes(body: &[u8]) -> impl Iterator<Item = (u16, usize, &[u8])> {
    let mut at = 0;
    std::iter::from_fn(move || {
        let a = body.get(at..at + 4)?;
        let (attribute, n) = (u16::from_be_bytes([a[0], a[1]]), usize::from(u16::from_be_bytes([a[2], a[3]])));
        let value = body.get(at + 4..).map_or(&[][..], |v| &v[..n.min(v.len())]);
        at += 4 + n.next_multiple_of(4);
        Some((attribute, n, value))
    })
}

/// Arkime's `stun.*` fields from one message: its type, the mapped, XOR-mapped,
/// relayed and peer addresses, user name, software, realm, error code, and the ICE
/// and integrity attributes present.
pub fn message_values(data: &[u8], rec: &mut SessionRecord) {
    let Some(m) = Message::read(data) else { return };
    if let Some(name) = type_name(m.kind) {
        add_text(&mut rec.extra, text_field!("stun.type"), &name);
    }
    let key = &m.key;
    // Text up to its first NUL (as Arkime reads it: classic STUN's user names are
    // binary, padded with zeros).
    let text = |v: &[u8]| String::from_utf8_lossy(v.split(|b| *b == 0).next().unwrap_or_default()).into_owned();
    for (attribute, n, value) in attributes(m.attributes) {
        // An attribute longer than the message ends the reading.
        if value.len() < n {
            break;
        }
        let mut put_address = |ip, port, xor| {
            if let Some((addr, p)) = address(value, xor) {
                put_ip(rec, ip, addr);
                put_int(rec, port, i64::from(p));
            }
        };
        match attribute {
            0x0001 => put_address(ip_field!("stun.mapped-ip"), int_field!("stun.mapped-port"), None),
            0x0020 | 0x8020 => {
                put_address(ip_field!("stun.xor-mapped-ip"), int_field!("stun.xor-mapped-port"), Some(key))
            }
            0x0016 => put_address(ip_field!("stun.xor-relayed-ip"), int_field!("stun.xor-relayed-port"), Some(key)),
            0x0012 => put_address(ip_field!("stun.xor-peer-ip"), int_field!("stun.xorPeerPort"), Some(key)),
            0x0006 if (1..513).contains(&n) && value[0] != 0 => {
                add_text(&mut rec.extra, text_field!("stun.username"), &text(value))
            }
            0x8022 if (1..763).contains(&n) && value[0] != 0 => {
                add_text(&mut rec.extra, text_field!("stun.software"), &text(value))
            }
            0x0014 if (1..763).contains(&n) && value[0] != 0 => {
                add_text(&mut rec.extra, text_field!("stun.realm"), &text(value))
            }
            0x0009 if n >= 4 => {
                put_int(rec, int_field!("stun.error"), i64::from(value[2] & 0x7) * 100 + i64::from(value[3]))
            }
            0x8028 | 0x8029 | 0x802a | 0x0025 => {
                let name = match attribute {
                    0x8028 => "fingerprint",
                    0x8029 => "ice-controlled",
                    0x802a => "ice-controlling",
                    _ => "use-candidate",
                };
                add_text(&mut rec.extra, text_field!("stun.attributes"), name);
            }
            _ => {}
        }
    }
}

/// The calling application a STUN message belongs to, by what only that application
/// sends (as nDPI tells them apart): WhatsApp's own message types (0x0800–0x0805) and
/// attributes (0x4000–0x4002); Zoom's attribute 0x0103; Skype's and Teams' (a
/// four-byte candidate identifier, Microsoft's implementation version 2 or 3, and
/// their other private attributes); Google's 0xFF03; and the TURN server's realm
/// (Google, Signal, Facebook, Telegram, Viber, an adult site's CDN). libwebrtc's network-info attribute (0xC057) is sent by
/// every WebRTC client, so it names none.
pub fn call_app(data: &[u8]) -> Option<&'static str> {
    let m = Message::read(data)?;
    if (0x0800..=0x0805).contains(&m.kind) {
        return Some("whatsappcall");
    }
    attributes(m.attributes).find_map(|(attribute, n, value)| match attribute {
        0x0103 => Some("zoom"),
        0x4000..=0x4002 => Some("whatsappcall"),
        0x0014 => {
            let realm = String::from_utf8_lossy(value).to_ascii_lowercase();
            if realm.contains("google.com") {
                Some("googlecall")
            } else if realm.contains("signal.org") || realm.contains("whispersystems.org") {
                Some("signalvoip")
            } else if realm.contains("facebook") {
                Some("facebookvoip")
            } else if realm.contains("telegram") {
                Some("telegramvoip")
            } else if realm.contains("viber") {
                Some("vibervoip")
            } else if realm.contains("stripcdn.com") {
                Some("adultcontent")
            } else {
                None
            }
        }
        0x8054 if n == 4 && value.get(1..4) == Some(&[0, 0, 0]) => Some("skype-teamscall"),
        // MS-TURN's own attributes: the implementation version (whatever version) and
        // service quality among them.
        0x24df | 0x3802 | 0x8036 | 0x8095 | 0x0800 | 0x8006 | 0x8070 | 0x8055 => Some("skype-teamscall"),
        0xff03 => Some("googlecall"),
        _ => None,
    })
}

/// Message types of classic STUN: binding and shared-secret requests and responses.
const CLASSIC_TYPES: &[u16] = &[0x0001, 0x0101, 0x0111, 0x0002, 0x0102, 0x0112];

pub fn probe(_side: Side, data: &[u8]) -> Probe {
    if framed(data).is_some() {
        return Probe::Match;
    }
    let Some(h) = data.get(..20) else {
        return if data.len() < 20 && data.first().is_some_and(|b| b & 0xc0 == 0) {
            Probe::NeedMore
        } else {
            Probe::NoMatch
        };
    };
    let kind = u16::from_be_bytes([h[0], h[1]]);
    let len = u16::from_be_bytes([h[2], h[3]]) as usize;
    // The length covers the attributes, which are padded to four bytes; a TCP stream
    // may already hold the next message, a datagram holds exactly one.
    // Some implementations (WhatsApp's) count unpadded attributes: with the magic
    // cookie, any length that the bytes hold will do.
    let cookie = h[4..8] == MAGIC_COOKIE;
    let fits = (len.is_multiple_of(4) || cookie) && data.len() >= 20 + len;
    let exact = data.len() == 20 + len;
    if kind & 0xc000 != 0 || !fits {
        return if kind & 0xc000 == 0 && (len.is_multiple_of(4) || cookie) && len < 4096 {
            Probe::NeedMore
        } else {
            Probe::NoMatch
        };
    }
    if cookie || (exact && CLASSIC_TYPES.contains(&kind)) {
        Probe::Match
    } else {
        Probe::NoMatch
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tyto_schema::Values;

    #[test]
    fn dtls_and_srtp_on_the_ice_flow() {
        let mut rec = SessionRecord { ip_protocol: 17, ..SessionRecord::default() };
        let mut s = Stun::default();
        // A DTLS 1.2 record (handshake, epoch 0) and a WebRTC Opus packet (PT 111).
        s.feed(Side::Client, &[22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], &mut rec);
        let mut media = vec![0x90, 111, 0, 1, 0, 0, 0, 160, 0xca, 0xfe, 0xba, 0xbe, 0xbe, 0xde, 0, 1, 0x10, 0x2a, 0, 0];
        media.extend_from_slice(&[0x77; 60]);
        s.feed(Side::Server, &media, &mut rec);
        assert_eq!(rec.protocols, ["dtls", "srtp"]);
        assert_eq!(rec.extra.get("rtp.ssrc"), Some(&Values::Text(vec!["cafebabe".into()])));
        // Over TCP the stream is STUN's alone.
        let mut tcp = Stun::default();
        tcp.feed(Side::Client, &media, &mut SessionRecord { ip_protocol: 6, ..SessionRecord::default() });
        assert!(!tcp.wants_more());
    }

    /// A binding request with one attribute.
    fn request(kind: u16, attribute: u16, value: &[u8]) -> Vec<u8> {
        let padded = value.len().next_multiple_of(4);
        let mut m = kind.to_be_bytes().to_vec();
        m.extend_from_slice(&((4 + padded) as u16).to_be_bytes());
        m.extend_from_slice(&MAGIC_COOKIE);
        m.extend_from_slice(&[7; 12]);
        m.extend_from_slice(&attribute.to_be_bytes());
        m.extend_from_slice(&(value.len() as u16).to_be_bytes());
        m.extend_from_slice(value);
        m.resize(20 + 4 + padded, 0);
        m
    }

    #[test]
    fn arkimes_stun_fields() {
        use tyto_schema::Values;
        // A Binding success response with XOR-MAPPED-ADDRESS 192.0.2.1:32853 and SOFTWARE.
        let mut m = request(0x0101, 0x0020, &[0, 1, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43]);
        let mut sw = request(0x0101, 0x8022, b"test vector");
        m.extend_from_slice(&sw.split_off(20));
        let len = (m.len() - 20) as u16;
        m[2..4].copy_from_slice(&len.to_be_bytes());
        let mut rec = SessionRecord { ip_protocol: 17, ..SessionRecord::default() };
        message_values(&m, &mut rec);
        assert_eq!(rec.extra.texts("stun.type"), ["Binding Response"]);
        assert_eq!(rec.extra.ips("stun.xor-mapped-ip"), [Addr::from_v4([192, 0, 2, 1])]);
        assert_eq!(rec.extra.ints("stun.xor-mapped-port"), [32853]);
        assert_eq!(rec.extra.texts("stun.software"), ["test vector"]);
        // An Allocate error 401 with its realm; ICE attributes by name.
        message_values(&request(0x0113, 0x0009, &[0, 0, 4, 1, b'x']), &mut rec);
        message_values(&request(0x0003, 0x0014, b"turn.example"), &mut rec);
        message_values(&request(0x0001, 0x802a, &[0; 8]), &mut rec);
        assert_eq!(rec.extra.get("stun.error"), Some(&Values::Int(vec![401])));
        assert_eq!(rec.extra.texts("stun.realm"), ["turn.example"]);
        assert_eq!(rec.extra.texts("stun.attributes"), ["ice-controlling"]);
        assert_eq!(
            rec.extra.texts("stun.type"),
            ["Binding Response", "Allocate Error", "Allocate Request", "Binding Request"]
        );
        // An attribute claiming more than the message holds ends the walk.
        let mut cut = request(0x0001, 0x0006, b"user");
        cut[22] = 0x7f;
        message_values(&cut, &mut SessionRecord::default());
        assert_eq!(type_name(0x0017), Some("Data Indication".into()));
        assert_eq!(type_name(0x0108), Some("CreatePermission Response".into()));
        assert_eq!(type_name(0x0002), None);
    }

    #[test]
    fn calls_are_named_by_their_applications_own_attributes() {
        assert_eq!(call_app(&request(0x0001, 0x4001, &[1, 2, 3, 4])), Some("whatsappcall"));
        assert_eq!(call_app(&request(0x0801, 0x0006, b"user")), Some("whatsappcall"));
        assert_eq!(call_app(&request(0x0001, 0x8054, &[1, 0, 0, 0])), Some("skype-teamscall"));
        assert_eq!(call_app(&request(0x0001, 0x8070, &[0, 0, 0, 3])), Some("skype-teamscall"));
        assert_eq!(call_app(&request(0x0101, 0x8070, &[0, 0, 0, 7])), Some("skype-teamscall"));
        assert_eq!(call_app(&request(0x0003, 0x0014, b"turn.telegram.org")), Some("telegramvoip"));
        assert_eq!(call_app(&request(0x0001, 0x0103, &[0; 8])), Some("zoom"));
        assert_eq!(call_app(&request(0x0003, 0x0014, b"Signal.org")), Some("signalvoip"));
        // A realm of no known service, an ordinary binding request: no application.
        assert_eq!(call_app(&request(0x0003, 0x0014, b"example.net")), None);
        assert_eq!(call_app(&request(0x0001, 0x8022, b"libjingle")), None);
        // Lengths beyond the message are cut, not trusted.
        let mut m = request(0x0001, 0x8022, b"x");
        m[22] = 0xff;
        assert_eq!(call_app(&m), None);
        assert_eq!(call_app(&m[..21]), None);
        // Fed to the dissector, the first message names the session's application.
        let mut rec = SessionRecord { ip_protocol: 17, ..SessionRecord::default() };
        let mut s = Stun::default();
        s.feed(Side::Client, &request(0x0001, 0x4000, &[0; 4]), &mut rec);
        s.feed(Side::Client, &request(0x0001, 0x0103, &[0; 4]), &mut rec);
        assert_eq!(rec.extra.texts("app"), ["whatsappcall"]);
    }

    #[test]
    fn binding_request_with_and_without_cookie() {
        let mut m = vec![0, 1, 0, 8, 0x21, 0x12, 0xa4, 0x42];
        m.extend_from_slice(&[9; 12]);
        m.extend_from_slice(&[0x80, 0x22, 0, 4, b'a', b'b', b'c', b'd']);
        assert_eq!(probe(Side::Client, &m), Probe::Match);
        m[4] = 0;
        assert_eq!(probe(Side::Client, &m), Probe::Match);
        m[1] = 9;
        assert_eq!(probe(Side::Client, &m), Probe::NoMatch);
        assert_eq!(probe(Side::Client, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"), Probe::NoMatch);
    }

    /// ICE over TCP frames each message with its length (RFC 4571): a Teams call's
    /// Binding request (`stun.pcap`, frame 3: 0x0068 then a message of 0x54 bytes of
    /// attributes) is STUN, read past the length.
    #[test]
    fn a_message_framed_with_its_length_on_tcp() {
        let message = request(0x0001, 0x8054, &[1, 0, 0, 0]);
        let mut stream = (message.len() as u16).to_be_bytes().to_vec();
        stream.extend_from_slice(&message);
        assert!(matches!(probe(Side::Client, &stream), Probe::Match));
        let mut rec = SessionRecord { ip_protocol: 6, ..SessionRecord::default() };
        Stun::default().feed(Side::Client, &stream, &mut rec);
        assert_eq!(rec.extra.texts("stun.type"), ["Binding Request"]);
        assert_eq!(rec.extra.texts("app"), ["skype-teamscall"]);
        // A length that is not the message's is no frame.
        stream[1] ^= 4;
        assert!(framed(&stream).is_none());
    }
}
