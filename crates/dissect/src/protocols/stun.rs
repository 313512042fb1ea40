//! STUN and TURN (RFC 5389, RFC 8656, and RFC 3489's classic STUN) over UDP and TCP:
//! the 20-byte header whose length and (since RFC 5389) magic cookie make it sure.
//! ICE (WebRTC, WhatsApp and other calls) multiplexes the media on the same UDP
//! ports, told apart by the first byte (RFC 7983): DTLS records go to the DTLS
//! dissector (`dtls`, its JA3/JA4 and certificates), RTP and RTCP packets are the
//! call's SRTP (`srtp`, with their payload types and SSRCs, which stay in clear).

use tyto_schema::SessionRecord;

use crate::kit::add_protocol;
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
}

impl Dissector for Stun {
    fn feed(&mut self, side: Side, data: &[u8], rec: &mut SessionRecord) {
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
}

const MAGIC_COOKIE: [u8; 4] = [0x21, 0x12, 0xa4, 0x42];

/// Message types of classic STUN: binding and shared-secret requests and responses.
const CLASSIC_TYPES: &[u16] = &[0x0001, 0x0101, 0x0111, 0x0002, 0x0102, 0x0112];

pub fn probe(_side: Side, data: &[u8]) -> Probe {
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
}
