//! OpenVPN's control channel, over UDP or TCP (where a 2-byte length frames each
//! packet): recognised by the client's hard-reset packet, without or with tls-auth
//! (an HMAC of SHA-1, SHA-256 or SHA-512, then a replay id and time) or tls-crypt
//! (the replay id and time in clear, the rest encrypted). A flow picked
//! up after its reset is recognised from its later packets: the server's reset,
//! acknowledgements and control packets that carry TLS records, and packets whose
//! clear replay ids count up in one session (tls-auth, tls-crypt, and data packets
//! of AEAD ciphers). The TLS handshake the control packets carry is reassembled in
//! order and read by the TLS dissector (SNI, cipher, JA3, JA4, certificates), as
//! Arkime does; `tls` joins `protocols`.

use tyto_schema::SessionRecord;

use crate::kit::add_protocol;
use crate::kit::messages::{Length, Streams};
use crate::protocols::tls;
use crate::{Dissector, Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "openvpn",
    transports: &[Transport::Udp, Transport::Tcp],
    ports: &[1194],
    probe,
    new: || Box::new(OpenVpn::new()),
    later: Some(later),
};

const P_CONTROL_SOFT_RESET_V1: u8 = 3;
const P_CONTROL_V1: u8 = 4;
const P_ACK_V1: u8 = 5;
const P_DATA_V1: u8 = 6;
const P_CONTROL_HARD_RESET_SERVER_V2: u8 = 8;
const P_DATA_V2: u8 = 9;
/// What tls-auth adds after the session id (an HMAC of SHA-1, SHA-256 or SHA-512, a
/// replay id and a time), or nothing.
const AUTH_SIZES: [usize; 4] = [0, 20 + 8, 32 + 8, 64 + 8];
/// Acknowledgements one packet carries at most (OpenVPN's `RELIABLE_ACK_SIZE`).
const MAX_ACKS: usize = 8;
/// TCP packets stay below 64 KiB.
const MAX_PACKET: usize = 64 << 10;
/// The handshake is over within a few dozen control packets.
const MAX_PACKETS: u32 = 128;

/// P_CONTROL_HARD_RESET_CLIENT_V2 and _V3, key id 0.
fn client_reset(op: u8) -> bool {
    op == 7 << 3 || op == 10 << 3
}

/// The packet after its opcode and session id: an empty acknowledgement list and
/// message id 0, straight away or after tls-auth's HMAC, replay id and time. The
/// size of what tls-auth adds, when it is one of those.
fn reset_body(rest: &[u8]) -> Option<usize> {
    let tail_ok = |t: &[u8]| t.len() >= 5 && t[0] == 0 && t[1..5] == [0, 0, 0, 0];
    [0, 20 + 8, 32 + 8, 64 + 8].into_iter().find(|&skip| {
        rest.len() >= skip + 5 && {
            let t = &rest[skip..];
            // The packet ends there, or a TLS record (the ClientHello) starts (V3 may carry one).
            tail_ok(t) && (t.len() == 5 || t.get(5) == Some(&0x16))
        }
    })
}

/// A client's hard reset wrapped by tls-crypt (`p` from the opcode): the session id,
/// the replay id of the session's first packet and its time in clear, the rest
/// encrypted.
fn crypted_reset(p: &[u8]) -> bool {
    p.first().is_some_and(|op| client_reset(*op))
        && p.get(11..13) == Some(&[0, 1])
        && p.get(13..).is_some_and(plausible_time)
}

/// A control packet's message id and TLS bytes: after the opcode, session id and
/// tls-auth's `auth` bytes come the acknowledgements (a count, ids, and the peer's
/// session id when there are any), then the message id.
fn control_payload(p: &[u8], auth: usize) -> Option<(u32, &[u8])> {
    let mut at = 9 + auth;
    let acks = usize::from(*p.get(at)?);
    at += 1 + 4 * acks + if acks > 0 { 8 } else { 0 };
    let id = u32::from_be_bytes(p.get(at..at + 4)?.try_into().ok()?);
    Some((id, p.get(at + 4..)?))
}

/// A replay id's time: seconds since 1970, between 2010 and 2040.
fn plausible_time(b: &[u8]) -> bool {
    b.get(..4).is_some_and(|t| (1_262_304_000..2_208_988_800).contains(&u32::from_be_bytes([t[0], t[1], t[2], t[3]])))
}

/// A message or acknowledged id: a handshake numbers its messages from 0, a few
/// dozen at most.
fn small_id(b: &[u8]) -> bool {
    b.get(..4).is_some_and(|id| id[..2] == [0, 0])
}

/// A packet of a flow after the client's hard reset (the whole datagram, or one
/// TCP frame without its length). What proves OpenVPN: the server's hard reset
/// answering a client's; an acknowledgement to the byte; a control packet carrying
/// the start of a TLS record. Packets with a clear replay id (tls-auth and tls-crypt
/// after the session id, with the time after it; AEAD data packets) are plausible,
/// their session (or peer id) the stream and the id the sequence. A control packet
/// carrying the middle of a TLS record proves nothing either way; anything else is
/// not OpenVPN.
fn later_packet(p: &[u8]) -> Probe {
    let Some(&op) = p.first() else { return Probe::NeedMore };
    match op >> 3 {
        // Peer id, then AEAD's replay id, a 16-byte tag and something encrypted.
        P_DATA_V2 if p.len() > 1 + 3 + 4 + 16 => Probe::Plausible {
            stream: u32::from_be_bytes([op, p[1], p[2], p[3]]),
            seq: u16::from_be_bytes([p[6], p[7]]),
        },
        // AEAD's replay id straight after the opcode.
        P_DATA_V1 if p.len() > 1 + 4 + 16 => {
            Probe::Plausible { stream: u32::from_be_bytes([op, p[1], p[2], 0]), seq: u16::from_be_bytes([p[3], p[4]]) }
        }
        P_DATA_V1 | P_DATA_V2 => Probe::NoMatch,
        P_CONTROL_SOFT_RESET_V1 | P_CONTROL_V1 | P_ACK_V1 | 7 | P_CONTROL_HARD_RESET_SERVER_V2 | 10
            if p.len() > 1 + 8 =>
        {
            control_packet(op, p)
        }
        _ => Probe::NoMatch,
    }
}

/// [`later_packet`] for control packets: session id, tls-auth's or tls-crypt's
/// bytes, acknowledgements, message id, TLS bytes.
fn control_packet(op: u8, p: &[u8]) -> Probe {
    // A control packet whose acknowledgements and message id read well, carrying
    // something other than a record's start.
    let mut unproved = false;
    for auth in AUTH_SIZES {
        if auth > 0 && !p.get(9 + auth - 4..).is_some_and(plausible_time) {
            continue;
        }
        let Some(&acks) = p.get(9 + auth) else { continue };
        let acks = usize::from(acks);
        let ids = 9 + auth + 1;
        if acks > MAX_ACKS || !(0..acks).all(|i| p.get(ids + 4 * i..).is_some_and(small_id)) {
            continue;
        }
        let after_acks = ids + 4 * acks + if acks > 0 { 8 } else { 0 };
        let proved = match op >> 3 {
            P_ACK_V1 => acks > 0 && p.len() == after_acks,
            // The server's answer to the client's reset acknowledges it, as message 0.
            P_CONTROL_HARD_RESET_SERVER_V2 => {
                acks == 1 && p.get(ids..ids + 4) == Some(&[0; 4]) && p.get(after_acks..after_acks + 4) == Some(&[0; 4])
            }
            P_CONTROL_V1 | P_CONTROL_SOFT_RESET_V1 if p.get(after_acks..).is_some_and(small_id) => {
                unproved = true;
                p.get(after_acks + 4..after_acks + 7)
                    .is_some_and(|r| (20..=23).contains(&r[0]) && r[1] == 3 && r[2] <= 4)
            }
            _ => false,
        };
        if proved {
            return Probe::Match;
        }
    }
    // tls-crypt (and tls-auth, whatever its HMAC): the replay id and its time.
    for auth in [0, 20, 32, 64] {
        let at = 9 + auth;
        if p.get(at + 4..).is_some_and(plausible_time) {
            let id = &p[at..at + 4];
            return Probe::Plausible {
                stream: u32::from_be_bytes([p[5], p[6], p[7], p[8]]),
                seq: u16::from_be_bytes([id[2], id[3]]),
            };
        }
    }
    if unproved {
        Probe::NeedMore
    } else {
        Probe::NoMatch
    }
}

/// A flow picked up part-way: one datagram (an opcode first), or bytes from a TCP
/// segment's start (a length first, opcodes coming after: OpenVPN's packets stay
/// far below 2 KiB): frames that follow each other to the byte, one of which proves
/// OpenVPN or three of one data session with advancing replay ids.
pub fn later(_side: Side, data: &[u8]) -> Probe {
    match data.first() {
        None => Probe::NeedMore,
        Some(&b) if b >= 0x08 => later_packet(data),
        Some(_) => {
            let mut at = 0;
            let mut run: Option<(u32, u16)> = None;
            let mut continued = 0;
            while let Some(h) = data.get(at..at + 2) {
                let len = usize::from(u16::from_be_bytes([h[0], h[1]]));
                if len == 0 || len >= 2048 {
                    return Probe::NoMatch;
                }
                let Some(p) = data.get(at + 2..at + 2 + len) else { return Probe::NeedMore };
                match later_packet(p) {
                    Probe::Match => return Probe::Match,
                    Probe::NoMatch => return Probe::NoMatch,
                    Probe::Plausible { stream, seq } => {
                        if run.is_some_and(|(s, q)| s == stream && (1..=64).contains(&seq.wrapping_sub(q))) {
                            continued += 1;
                            if continued >= 2 {
                                return Probe::Match;
                            }
                        }
                        run = Some((stream, seq));
                    }
                    _ => {}
                }
                at += 2 + len;
            }
            Probe::NeedMore
        }
    }
}

/// TCP framing: a 2-byte length, then the packet.
fn framed(b: &[u8]) -> Length {
    match b.get(..2) {
        None => Length::NeedMore,
        Some(h) => match usize::from(u16::from_be_bytes([h[0], h[1]])) {
            0 => Length::Bad,
            n => Length::Is(2 + n),
        },
    }
}

pub fn probe(side: Side, data: &[u8]) -> Probe {
    if side == Side::Server {
        return Probe::NeedMore;
    }
    // Over TCP, a length counting the rest of the packet comes first.
    if data.len() >= 2 {
        let len = usize::from(u16::from_be_bytes([data[0], data[1]]));
        if len >= 14
            && data.len() >= 2 + len
            && client_reset(data[2])
            && (reset_body(&data[11..2 + len]).is_some() || crypted_reset(&data[2..2 + len]))
        {
            return Probe::Match;
        }
    }
    match data.first() {
        Some(&op) if client_reset(op) && data.len() >= 14 => {
            Probe::from(reset_body(&data[9..]).is_some() || crypted_reset(data))
        }
        Some(&op) if client_reset(op) => Probe::NoMatch,
        // A TCP length whose packet has not arrived whole yet.
        Some(_) if data.len() < 16 && data.get(2).is_none_or(|op| client_reset(*op)) => Probe::NeedMore,
        _ => Probe::NoMatch,
    }
}

pub struct OpenVpn {
    /// TCP, once known: its packets are framed.
    tcp: Option<bool>,
    streams: Streams,
    /// What tls-auth adds to each control packet, from the hard reset.
    auth: Option<usize>,
    /// The next control message id each side sends, to feed TLS in order.
    next: [u32; 2],
    tls: tls::Tls,
    packets: u32,
}

impl OpenVpn {
    fn new() -> OpenVpn {
        OpenVpn {
            tcp: None,
            streams: Streams::default(),
            auth: None,
            next: [0; 2],
            tls: tls::Tls::default(),
            packets: 0,
        }
    }

    fn packet(&mut self, side: Side, p: &[u8], rec: &mut SessionRecord) {
        self.packets += 1;
        let Some(&op) = p.first() else { return };
        if client_reset(op) && self.auth.is_none() {
            self.auth = p.get(9..).and_then(reset_body);
        }
        let Some(auth) = self.auth else { return };
        let i = side as usize;
        // Hard resets (client V2, V3 and server V2) take message ids too, usually 0.
        if matches!(op >> 3, 7 | 8 | 10) && op & 7 == 0 {
            if let Some((id, _)) = control_payload(p, auth) {
                self.next[i] = self.next[i].max(id.saturating_add(1));
            }
            return;
        }
        if op >> 3 != P_CONTROL_V1 {
            return;
        }
        let Some((id, tls)) = control_payload(p, auth) else { return };
        // Retransmissions are dropped; a message out of order is not reordered.
        if id != self.next[i] || tls.is_empty() {
            return;
        }
        self.next[i] += 1;
        add_protocol(rec, &crate::protocols::tls::PROTOCOL);
        self.tls.feed(side, tls, rec);
    }
}

impl Dissector for OpenVpn {
    fn feed(&mut self, side: Side, data: &[u8], rec: &mut SessionRecord) {
        if !self.wants_more() {
            return;
        }
        // A datagram starts with an opcode (0x08 and up); a TCP stream with a length
        // below 2 KiB.
        let tcp = *self.tcp.get_or_insert_with(|| data.first().is_some_and(|b| *b < 0x08));
        if !tcp {
            if self.packets == 0 {
                self.tls = tls::Tls::carried(tls::Flavor::TlsOverUdp);
            }
            return self.packet(side, data, rec);
        }
        let mut packets = Vec::new();
        self.streams.push(side, data, MAX_PACKET, framed, |p, cut| {
            if !cut {
                packets.push(p[2..].to_vec());
            }
        });
        for p in packets {
            self.packet(side, &p, rec);
        }
    }

    fn gap(&mut self, side: Side, _len: u64) {
        self.streams.lose(side);
        self.packets = MAX_PACKETS;
    }

    fn wants_more(&self) -> bool {
        self.packets < MAX_PACKETS && self.tls.wants_more() && !self.streams.broken()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kit::unhex;

    #[test]
    fn hard_resets() {
        let plain = [0x38, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0, 0];
        assert_eq!(probe(Side::Client, &plain), Probe::Match);
        let mut auth = vec![0x38, 1, 2, 3, 4, 5, 6, 7, 8];
        auth.extend_from_slice(&[0x99; 20]);
        auth.extend_from_slice(&[0, 0, 0, 1, 0x60, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(probe(Side::Client, &auth), Probe::Match);
        let mut tcp = vec![0, plain.len() as u8];
        tcp.extend_from_slice(&plain);
        assert_eq!(probe(Side::Client, &tcp), Probe::Match);
        assert_eq!(probe(Side::Client, &tcp[..3]), Probe::NeedMore);
        assert_eq!(probe(Side::Client, &[0x38, 1, 2, 3, 4, 5, 6, 7, 8, 1, 0, 0, 0, 0]), Probe::NoMatch);
        // tls-crypt over TCP (`openvpn.pcap`): the first replay id and its time.
        let crypt =
            [0, 0x36, 0x38, 0x2a, 0x56, 0xd9, 0x79, 0xd9, 0x9e, 0xcc, 0xf4, 0, 0, 0, 1, 0x63, 0xcf, 0x4f, 0xf5, 0x98];
        let mut whole = crypt.to_vec();
        whole.resize(2 + 0x36, 0xaa);
        assert_eq!(probe(Side::Client, &whole), Probe::Match);
        whole[14] = 2;
        assert_eq!(probe(Side::Client, &whole), Probe::NoMatch);
        assert_eq!(probe(Side::Client, b"GET / HTTP/1.1\r\n"), Probe::NoMatch);
    }

    /// Packets of `openvpn.pcap` and `openvpn-tlscrypt.pcap` after the client's reset.
    #[test]
    fn later_packets_of_a_flow_picked_up_part_way() {
        let server_reset = unhex("40d31c3a6964602fa00100000000334857703d96db3900000000");
        assert_ne!(probe(Side::Server, &server_reset), Probe::Match);
        assert_eq!(later(Side::Server, &server_reset), Probe::Match);
        let ack = unhex("28334857703d96db390100000000d31c3a6964602fa0");
        assert_eq!(later(Side::Client, &ack), Probe::Match);
        // An acknowledgement is exactly that long.
        assert_eq!(later(Side::Client, &[&ack[..], &[0]].concat()), Probe::NoMatch);
        let control = unhex("20d31c3a6964602fa00100000005334857703d96db3900000002140303000101");
        assert_eq!(later(Side::Client, &control), Probe::Match);
        // A control packet carrying the middle of a TLS record proves nothing either way.
        let middle = unhex("20d31c3a6964602fa000000000028c49cc6865ac2f2fd01d20a3db553b7b");
        assert_eq!(later(Side::Server, &middle), Probe::NeedMore);
        // tls-crypt: the session, then a replay id counting up and its time.
        let crypt = |id: u8| unhex(&format!("2053c96dd083724fd2000000{id:02x}625a9e97f242867d2ea2472101e3caec"));
        assert_eq!(later(Side::Server, &crypt(4)), Probe::Plausible { stream: 0x8372_4fd2, seq: 4 });
        // AEAD data with a peer id.
        let data = unhex("48000001000000070102030405060708090a0b0c0d0e0f1011");
        assert_eq!(later(Side::Client, &data), Probe::Plausible { stream: 0x4800_0001, seq: 7 });
        assert_eq!(later(Side::Client, &data[..10]), Probe::NoMatch);
        assert_eq!(later(Side::Client, b"GET / HTTP/1.1\r\n"), Probe::NoMatch);
        // Over TCP: frames that follow each other, one of which proves it.
        let framed = |p: &[u8]| [&(p.len() as u16).to_be_bytes()[..], p].concat();
        let stream = [framed(&middle), framed(&ack)].concat();
        assert_eq!(later(Side::Client, &stream), Probe::Match);
        assert_eq!(later(Side::Client, &stream[..30]), Probe::NeedMore);
        // Three data packets of one peer with advancing ids.
        let mut data_stream = Vec::new();
        for id in 7..10u8 {
            let mut d = data.clone();
            d[7] = id;
            data_stream.extend(framed(&d));
        }
        assert_eq!(later(Side::Client, &data_stream), Probe::Match);
        assert_eq!(later(Side::Client, &data_stream[..60]), Probe::NeedMore);
        assert_eq!(later(Side::Client, &[0x09, 0x00, 1, 2]), Probe::NoMatch);
    }

    #[test]
    fn tls_inside_control_packets_in_order() {
        let mut rec = SessionRecord::default();
        let mut o = OpenVpn::new();
        o.feed(Side::Client, &[0x38, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0, 0], &mut rec);
        let hello = b"\x16\x03\x01\x00\x2f\x01\x00\x00\x2b\x03\x03";
        let mut control = vec![0x20, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0, 1];
        control.extend_from_slice(hello);
        o.feed(Side::Client, &control, &mut rec);
        // A retransmission is not fed twice.
        o.feed(Side::Client, &control, &mut rec);
        assert_eq!(o.next, [2, 0]);
        assert_eq!(rec.protocols, ["tls"]);
        assert_eq!(
            control_payload(
                &[0x20, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 9, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 2, 0x16],
                0
            ),
            Some((2, &[0x16][..]))
        );
    }
}
