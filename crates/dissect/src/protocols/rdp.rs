//! RDP's connection sequence over TPKT/X.224: the client's cookie (`mstshash=`, the
//! user name, also into `user`), the security protocols requested and the one the
//! server selects, after which a TLS-based choice hands the connection to TLS; with
//! standard RDP security, the client core data of the MCS Connect Initial (client
//! name, keyboard layout, build). Over UDP (MS-RDPEUDP, the transport a client adds
//! beside its TCP connection), the handshake: the client's SYN (acknowledging -1,
//! the SYN flag, an initial sequence number and two MTUs of 1132 to 1232 bytes,
//! padded to 1232), the server's SYN+ACK acknowledging that number, and nothing more
//! read from the datagrams after it, which DTLS or TLS protects.

use tyto_schema::{SessionRecord, TextField};

use crate::kit::messages::{Length, Streams};
use crate::kit::upgrade::Upgrade;
use crate::kit::{put_int, put_text, utf16le};
use crate::{Dissector, Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "rdp",
    transports: &[Transport::Tcp, Transport::Udp],
    ports: &[3389],
    probe,
    new: || Box::<Rdp>::default(),
    later: None,
};

const MAX_PDU: usize = 8 << 10;
const COOKIE: &[u8] = b"Cookie: mstshash=";
const NEG_REQUEST: u8 = 0x01;
const NEG_RESPONSE: u8 = 0x02;
const NEG_FAILURE: u8 = 0x03;

/// Keyboard layouts by their Windows identifiers (the common ones; others as hex).
const KEYBOARDS: &[(u32, &str)] = &[
    (0x0401, "ar-SA"),
    (0x0404, "zh-TW"),
    (0x0405, "cs-CZ"),
    (0x0407, "de-DE"),
    (0x0408, "el-GR"),
    (0x0409, "en-US"),
    (0x040c, "fr-FR"),
    (0x040d, "he-IL"),
    (0x040e, "hu-HU"),
    (0x0410, "it-IT"),
    (0x0411, "ja-JP"),
    (0x0412, "ko-KR"),
    (0x0413, "nl-NL"),
    (0x0415, "pl-PL"),
    (0x0416, "pt-BR"),
    (0x0418, "ro-RO"),
    (0x0419, "ru-RU"),
    (0x041b, "sk-SK"),
    (0x041d, "sv-SE"),
    (0x041e, "th-TH"),
    (0x041f, "tr-TR"),
    (0x0422, "uk-UA"),
    (0x0429, "fa-IR"),
    (0x042a, "vi-VN"),
    (0x0804, "zh-CN"),
    (0x0809, "en-GB"),
    (0x0816, "pt-PT"),
    (0x0c0a, "es-ES"),
];

/// TPKT: version 3, reserved 0, a 16-bit length counting the header.
pub(crate) fn tpkt(b: &[u8]) -> Length {
    match b.get(..4) {
        None if b.first().is_none_or(|v| *v == 3) => Length::NeedMore,
        Some([3, 0, hi, lo]) if u16::from_be_bytes([*hi, *lo]) >= 7 => {
            Length::Is(usize::from(u16::from_be_bytes([*hi, *lo])))
        }
        _ => Length::Bad,
    }
}

/// MS-RDPEUDP's flags (RDPUDP_FEC_HEADER's uFlags): SYN, ACK, and every flag defined.
const UDP_SYN: u16 = 0x0001;
const UDP_ACK: u16 = 0x0004;
const UDP_FLAGS: u16 = 0x1fff;
/// The MTUs a SYN or SYN+ACK may name.
const UDP_MTUS: std::ops::RangeInclusive<u16> = 1132..=1232;

/// An RDP-UDP handshake datagram: the FEC header (the sequence number acknowledged,
/// the receive window, the flags) and the SYN data (the sender's initial sequence
/// number, its MTUs). The client's SYN acknowledges -1 and is padded to the largest
/// MTU; the server's SYN+ACK acknowledges the client's number, so the two name one
/// connection.
fn udp_handshake(side: Side, d: &[u8]) -> Option<Probe> {
    let h = d.get(..16)?;
    let word = |at: usize| u16::from_be_bytes([h[at], h[at + 1]]);
    let flags = word(6);
    if flags & !UDP_FLAGS != 0 || flags & UDP_SYN == 0 || !UDP_MTUS.contains(&word(12)) || !UDP_MTUS.contains(&word(14))
    {
        return None;
    }
    match (side, flags & UDP_ACK != 0) {
        (Side::Client, false) if h[..4] == [0xff; 4] && d.len() >= usize::from(*UDP_MTUS.start()) => Some(Probe::Match),
        (Side::Server, true) => Some(Probe::Connection { id: u32::from_be_bytes([h[0], h[1], h[2], h[3]]), seq: 0 }),
        _ => None,
    }
}

pub fn probe(side: Side, data: &[u8]) -> Probe {
    if let Some(said) = udp_handshake(side, data) {
        return said;
    }
    if data.len() < 12 {
        return if matches!(tpkt(data), Length::Bad) { Probe::NoMatch } else { Probe::NeedMore };
    }
    // A connection request (client) or confirm (server) with RDP's own contents:
    // the cookie or a negotiation structure. Other X.224 users (ISO-on-TCP for S7,
    // H.245) lack both.
    let code = match side {
        Side::Client => 0xe0,
        Side::Server => 0xd0,
    };
    let variable = &data[11..];
    let rdp = variable.starts_with(&COOKIE[..COOKIE.len().min(variable.len())])
        || variable.starts_with(b"Cookie: msts=")
        || matches!(variable.first(), Some(&(NEG_REQUEST | NEG_RESPONSE | NEG_FAILURE)))
            && variable.get(2..4).is_none_or(|l| l == [8, 0]);
    Probe::from(matches!(tpkt(data), Length::Is(_)) && data[5] == code && rdp)
}

fn protocols(rec: &mut SessionRecord, field: TextField, bits: u32) {
    if bits == 0 {
        put_text(rec, field, "rdp");
    }
    for (bit, name) in [(1, "ssl"), (2, "nla"), (4, "rdstls"), (8, "nla-ext")] {
        if bits & bit != 0 {
            put_text(rec, field, name);
        }
    }
}

#[derive(Default)]
pub struct Rdp {
    streams: Streams,
    /// The server chose a TLS-based protocol: TLS follows the confirm.
    upgrade: Upgrade,
    done: bool,
}

/// The Client Core Data block inside an MCS Connect Initial (after the GCC
/// conference's `Duca` key).
fn client_core(pdu: &[u8], rec: &mut SessionRecord) {
    let Some(at) = pdu.windows(4).position(|w| w == b"Duca") else { return };
    let mut blocks = &pdu[at + 4..];
    // The user data follows a PER length (one or two bytes).
    match blocks.first() {
        Some(l) if l & 0x80 != 0 => blocks = blocks.get(2..).unwrap_or(&[]),
        Some(_) => blocks = &blocks[1..],
        None => return,
    }
    while blocks.len() >= 4 {
        let kind = u16::from_le_bytes([blocks[0], blocks[1]]);
        let len = usize::from(u16::from_le_bytes([blocks[2], blocks[3]]));
        let Some(block) = blocks.get(4..len.max(4)) else { return };
        if kind == 0xc001 && block.len() >= 52 {
            let u32_at = |i: usize| u32::from_le_bytes([block[i], block[i + 1], block[i + 2], block[i + 3]]);
            let layout = u32_at(12);
            match KEYBOARDS.iter().find(|(id, _)| *id == layout) {
                Some((_, name)) => put_text(rec, text_field!("rdp.keyboard-layout"), name),
                None if layout != 0 => put_text(rec, text_field!("rdp.keyboard-layout"), &format!("0x{layout:04x}")),
                None => {}
            }
            let build = u32_at(16);
            if build != 0 {
                put_int(rec, int_field!("rdp.client-build"), i64::from(build));
            }
            let name = utf16le(&block[20..52]);
            let name = name.trim_end_matches('\0');
            if !name.is_empty() {
                put_text(rec, text_field!("rdp.client-name"), name);
            }
            return;
        }
        blocks = &blocks[len.max(4)..];
    }
}

impl Dissector for Rdp {
    fn feed(&mut self, side: Side, data: &[u8], rec: &mut SessionRecord) {
        if self.done {
            return;
        }
        let before = self.streams.held(side);
        let (mut used, mut handoff, mut done) = (0usize, None, false);
        self.streams.push(side, data, MAX_PDU, tpkt, |pdu, _cut| {
            used += pdu.len();
            if handoff.is_some() || done || pdu.len() < 7 {
                return;
            }
            let variable = pdu.get(11..).unwrap_or(&[]);
            // The negotiation structure (8 bytes, type first) follows the cookie line,
            // or whatever else comes first, and may be followed by correlation info.
            let neg = |kind: u8| {
                let after_cookie = variable.windows(2).position(|w| w == b"\r\n").map_or(0, |i| i + 2);
                [after_cookie, variable.len().saturating_sub(8)].into_iter().find_map(|at| {
                    let s = variable.get(at..at + 8)?;
                    (s[0] == kind && s[2..4] == [8, 0]).then(|| u32::from_le_bytes([s[4], s[5], s[6], s[7]]))
                })
            };
            match pdu[5] {
                0xe0 => {
                    if let Some(rest) = variable.strip_prefix(COOKIE) {
                        let end = rest.iter().position(|b| *b == b'\r' || *b == b'\n').unwrap_or(rest.len());
                        let user = String::from_utf8_lossy(&rest[..end]);
                        if !user.is_empty() {
                            put_text(rec, text_field!("rdp.cookie"), &user);
                            put_text(rec, text_field!("user"), &user);
                        }
                    }
                    if let Some(bits) = neg(NEG_REQUEST) {
                        protocols(rec, text_field!("rdp.requested-protocols"), bits);
                    }
                }
                // Without a negotiation response (standard RDP security, or a
                // failure) RDP's own encryption follows.
                0xd0 => {
                    if let Some(bits) = neg(NEG_RESPONSE) {
                        protocols(rec, text_field!("rdp.selected-protocol"), bits);
                        if bits != 0 {
                            handoff = Some(used.saturating_sub(before));
                        }
                    }
                }
                0xf0 if variable.is_empty() || pdu.get(7..9) == Some(&[0x7f, 0x65]) => {
                    client_core(pdu, rec);
                    done = true;
                }
                _ => {}
            }
        });
        if let Some(h) = handoff {
            self.upgrade.switch_at(h.min(data.len()));
            self.done = true;
        }
        self.done |= done;
    }

    fn gap(&mut self, side: Side, _len: u64) {
        self.streams.lose(side);
    }

    fn wants_more(&self) -> bool {
        !(self.done || self.streams.broken())
    }

    fn handoff(&mut self) -> Option<usize> {
        self.upgrade.take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kit::testing::texts;
    use tyto_schema::Values;

    /// MS-RDPEUDP's handshake: the client's SYN (built as section 3.1.5.1.1 says) and
    /// a server's SYN+ACK as one answered a scan (BinaryEdge's published grab).
    #[test]
    fn udp_handshake_is_rdp() {
        let mut syn = crate::kit::unhex("ffffffff0040000112345678" /* ISN */);
        syn.extend(crate::kit::unhex("04d004d0"));
        syn.resize(1232, 0);
        assert_eq!(probe(Side::Client, &syn), Probe::Match);
        let syn_ack = crate::kit::unhex("000000000040000598aeca6a04d004d0");
        assert_eq!(probe(Side::Server, &syn_ack), Probe::Connection { id: 0, seq: 0 });
        // Not padded; an MTU out of range; an undefined flag; BGP's marker.
        assert_eq!(probe(Side::Client, &syn[..600]), Probe::NoMatch);
        let mut mtu = syn.clone();
        mtu[13] = 0x6b; // 1131
        assert_eq!(probe(Side::Client, &mtu), Probe::NoMatch);
        let mut flag = syn.clone();
        flag[6] = 0x20;
        assert_eq!(probe(Side::Client, &flag), Probe::NoMatch);
        let mut bgp = vec![0xff; 16];
        bgp.extend([0, 29, 1, 4]);
        assert_eq!(probe(Side::Client, &bgp), Probe::NoMatch);
        // The dissector reads nothing from the datagrams, and does not choke on them.
        let mut rec = tyto_schema::SessionRecord::default();
        let mut rdp = Rdp::default();
        rdp.feed(Side::Client, &syn, &mut rec);
        rdp.feed(Side::Server, &syn_ack, &mut rec);
        assert!(texts(&rec, "rdp.cookie").is_empty());
    }

    fn pdu(code: u8, variable: &[u8]) -> Vec<u8> {
        let len = 4 + 7 + variable.len();
        let mut p = vec![3, 0, (len >> 8) as u8, len as u8, 6 + variable.len() as u8, code, 0, 0, 0, 0, 0];
        p.extend_from_slice(variable);
        p
    }

    #[test]
    fn cookie_negotiation_and_handoff_to_tls() {
        let mut v = b"Cookie: mstshash=rdpuser\r\n".to_vec();
        v.extend_from_slice(&[NEG_REQUEST, 0, 8, 0, 3, 0, 0, 0]);
        let request = pdu(0xe0, &v);
        assert_eq!(probe(Side::Client, &request), Probe::Match);
        assert_eq!(probe(Side::Client, &request[..5]), Probe::NeedMore);
        assert_eq!(
            probe(Side::Client, b"\x03\x00\x00\x16\x11\xe0\x00\x00\x00\x01\x00\xc1\x02\x01\x00"),
            Probe::NoMatch
        );
        let confirm = pdu(0xd0, &[NEG_RESPONSE, 0, 8, 0, 1, 0, 0, 0]);
        assert_eq!(probe(Side::Server, &confirm), Probe::Match);
        let mut rec = SessionRecord::default();
        let mut r = Rdp::default();
        for chunk in request.chunks(4) {
            r.feed(Side::Client, chunk, &mut rec);
        }
        let mut server = confirm.clone();
        server.extend_from_slice(b"\x16\x03\x03");
        r.feed(Side::Server, &server, &mut rec);
        assert_eq!(r.handoff(), Some(confirm.len()));
        assert_eq!(texts(&rec, "user"), ["rdpuser"]);
        assert_eq!(texts(&rec, "rdp.requested-protocols"), ["ssl", "nla"]);
        assert_eq!(texts(&rec, "rdp.selected-protocol"), ["ssl"]);
    }

    #[test]
    fn client_core_data_under_standard_security() {
        let mut rec = SessionRecord::default();
        let mut r = Rdp::default();
        r.feed(Side::Client, &pdu(0xe0, b"Cookie: mstshash=bob\r\n"), &mut rec);
        r.feed(Side::Server, &pdu(0xd0, &[]), &mut rec);
        let mut core = vec![0x01, 0xc0, 0, 0];
        core.extend_from_slice(&[4, 0, 8, 0, 0, 4, 0, 3, 1, 0xca, 3, 0xaa]);
        core.extend_from_slice(&0x0409u32.to_le_bytes());
        core.extend_from_slice(&2600u32.to_le_bytes());
        let mut name: Vec<u8> = "WS-01".encode_utf16().flat_map(u16::to_le_bytes).collect();
        name.resize(32, 0);
        core.extend_from_slice(&name);
        core.resize(216, 0);
        let n = core.len() as u16;
        core[2..4].copy_from_slice(&n.to_le_bytes());
        let mut mcs = vec![3, 0, 0, 0, 2, 0xf0, 0x80, 0x7f, 0x65, 0x82, 0x01, 0x00];
        mcs.extend_from_slice(b"\x04\x01\x01\x04\x01\x01\x01\x01\xff\x30\x19....Duca\x81\x2a");
        mcs.extend_from_slice(&core);
        let len = mcs.len() as u16;
        mcs[2..4].copy_from_slice(&len.to_be_bytes());
        r.feed(Side::Client, &mcs, &mut rec);
        assert_eq!(texts(&rec, "rdp.client-name"), ["WS-01"]);
        assert_eq!(texts(&rec, "rdp.keyboard-layout"), ["en-US"]);
        assert_eq!(rec.extra.get("rdp.client-build"), Some(&Values::Int(vec![2600])));
        assert!(!r.wants_more());
    }
}
