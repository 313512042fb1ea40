//! WhatsApp's chat connections (TCP 443 or 5222): the Noise handshake opens with
//! `WA` and a two-byte version, straight away or after an edge-routing header
//! (`ED`, version 0.1, a 3-byte length). Every later message is a frame: a 3-byte
//! header (4 bits of flags, 0 under Noise and 0x8 for the older protocol's
//! encrypted frames, then a 20-bit length) and that many bytes, so a connection
//! picked up part-way, or seen from the server's side only, is told by segments
//! its frames fill exactly. Only the protocol is recorded so far.

use crate::kit::messages::Length;
use crate::kit::{chained, NameOnly};
use crate::{Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "whatsapp",
    transports: &[Transport::Tcp],
    ports: &[],
    probe,
    new: || Box::new(NameOnly),
    later: Some(later),
};

/// `WA`, then the major and minor protocol versions (small numbers).
fn prologue(d: &[u8]) -> Probe {
    if d.len() < 4 {
        return if d.iter().zip(b"WA").all(|(a, b)| a == b) { Probe::NeedMore } else { Probe::NoMatch };
    }
    Probe::from(d.starts_with(b"WA") && d[2] <= 9 && d[3] <= 9)
}

pub fn probe(side: Side, data: &[u8]) -> Probe {
    // The server's first words are a frame (its handshake message).
    if side == Side::Server {
        return later(side, data);
    }
    // The routing header: `ED`, 0, 1, a 3-byte length, the route, then the prologue.
    if let Some(rest) = data.strip_prefix(b"ED\x00\x01") {
        let Some(len) = rest.get(..3) else { return Probe::NeedMore };
        let len = usize::from(len[0]) << 16 | usize::from(len[1]) << 8 | usize::from(len[2]);
        return match rest.get(3 + len..) {
            Some(after) if len <= 64 => prologue(after),
            None if len <= 64 => Probe::NeedMore,
            _ => Probe::NoMatch,
        };
    }
    if data.len() < 4 && b"ED\x00\x01".starts_with(data) {
        return Probe::NeedMore;
    }
    prologue(data)
}

/// Flags of a frame header: none (Noise, or the older protocol's clear frames),
/// or the older protocol's encrypted frame.
const FLAGS: [u8; 2] = [0x00, 0x80];
/// FunXMPP's list token, which opens the older protocol's clear frames.
const LIST: u8 = 0xf8;

/// Whether a frame of this kind and length, whose body begins with `body` (when
/// the segment holds it), can be one: a Noise frame holds a 16-byte tag and a byte,
/// the older protocol's encrypted frame a 4-byte MAC, its clear one a list.
fn plausible_frame(flags: u8, len: usize, body: Option<&u8>) -> bool {
    match flags {
        0 => len >= 17 || (len >= 2 && body.is_none_or(|&b| b == LIST)),
        _ => len >= 4,
    }
}

/// Bytes that begin a frame: a match when they are whole frames, one after another;
/// a segment that ends inside a frame (a large message) cannot tell.
pub fn later(_side: Side, d: &[u8]) -> Probe {
    chained(d, |f| {
        let Some(h) = f.get(..3) else { return Length::NeedMore };
        let flags = h[0] & 0xf0;
        let len = usize::from(h[0] & 0x0f) << 16 | usize::from(h[1]) << 8 | usize::from(h[2]);
        if FLAGS.contains(&flags) && plausible_frame(flags, len, f.get(3)) {
            Length::Is(3 + len)
        } else {
            Length::Bad
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn direct_and_routed_prologues() {
        assert_eq!(probe(Side::Client, b"WA\x01\x05\x00\x00\x18"), Probe::Match);
        assert_eq!(probe(Side::Client, b"ED\x00\x01\x00\x00\x04\x08\x05\x08\x02WA\x02\x01\x00\x00"), Probe::Match);
        assert_eq!(probe(Side::Client, b"ED\x00"), Probe::NeedMore);
        assert_eq!(probe(Side::Client, b"WAIT"), Probe::NoMatch);
        assert_eq!(probe(Side::Client, b"GET /"), Probe::NoMatch);
    }

    #[test]
    fn later_frames_fill_their_segments() {
        use crate::kit::unhex;
        // `wa_voice.pcap`: a Noise frame of 54 bytes from the server.
        let mut noise = unhex("000036");
        noise.extend([0x5a; 54]);
        assert_eq!(later(Side::Server, &noise), Probe::Match);
        // Two frames in one segment.
        let mut two = noise.clone();
        two.extend(unhex("00001d"));
        two.extend([0x11; 29]);
        assert_eq!(later(Side::Client, &two), Probe::Match);
        // `whatsapp_login_chat.pcap`: the older protocol's server opening with two
        // clear frames and an encrypted one.
        let mut opening = unhex("000005f803013a91000003f8019c80003d");
        opening.extend([0x44; 0x3d]);
        assert_eq!(probe(Side::Server, &opening), Probe::Match);
        opening[3] = 0xf7;
        assert_eq!(probe(Side::Server, &opening), Probe::NoMatch, "a short clear frame that is no list");
        // `waze.pcap`: the older protocol's encrypted frames.
        let mut old = unhex("80001b");
        old.extend([0x33; 27]);
        assert_eq!(later(Side::Client, &old), Probe::Match);
        // A frame the segment does not hold all of; one byte more than the frames.
        assert_eq!(later(Side::Server, &noise[..40]), Probe::NeedMore);
        let mut over = noise.clone();
        over.push(0);
        assert_eq!(later(Side::Server, &over), Probe::NeedMore);
        // A frame with other flags after one, other first bytes, frames too short to
        // be encrypted.
        let mut flagged = noise.clone();
        flagged.extend(unhex("40001b"));
        flagged.extend([0x33; 27]);
        assert_eq!(later(Side::Server, &flagged), Probe::NoMatch);
        assert_eq!(later(Side::Server, b"\x17\x03\x03\x00\x10"), Probe::NoMatch);
        assert_eq!(later(Side::Server, &unhex("0000020000")), Probe::NoMatch);
    }
}
