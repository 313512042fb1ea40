//! OpenVPN's control channel, over UDP or TCP (where a 2-byte length frames each
//! packet): recognised by the client's hard-reset packet, without or with tls-auth
//! (an HMAC of SHA-1, SHA-256 or SHA-512, then a replay id and time); tls-crypt
//! wraps the packet and is not recognised. The TLS handshake the control packets
//! carry is reassembled in order and read by the TLS dissector (SNI, cipher, JA3,
//! JA4, certificates), as Arkime does; `tls` joins `protocols`.

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
    later: None,
};

const P_CONTROL_V1: u8 = 4;
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
        if len >= 14 && data.len() >= 2 + len && client_reset(data[2]) && reset_body(&data[11..2 + len]).is_some() {
            return Probe::Match;
        }
    }
    match data.first() {
        Some(&op) if client_reset(op) && data.len() >= 14 => Probe::from(reset_body(&data[9..]).is_some()),
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
        // A datagram starts with the opcode; a TCP stream with a length.
        let tcp = *self.tcp.get_or_insert_with(|| !data.first().is_some_and(|op| client_reset(*op)));
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
        assert_eq!(probe(Side::Client, b"GET / HTTP/1.1\r\n"), Probe::NoMatch);
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
