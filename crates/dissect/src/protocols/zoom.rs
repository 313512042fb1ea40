//! Zoom's media over UDP, through its multimedia routers (ports 8801–8810) or peer to
//! peer: RTP and RTCP inside Zoom's own headers, as Princeton's Zoom measurement work
//! describes them and nDPI reads them. Through a router, each datagram begins with
//! an 8-byte SFU header (type 1 to 4 while the call is set up, 5 for media, a
//! sequence number, a direction byte: 0 to Zoom, 4 from it), then a media header
//! whose first byte is the media's kind and so places the RTP header within it
//! (audio 15: after 19 bytes; video 16: 24; screen sharing 13 and 30: 27 and 20;
//! RTCP 33 to 35: 16). A peer-to-peer call's datagrams carry the media header
//! alone. A call set up through a router decides when the two sides' first
//! datagrams (SFU types 1 and 2) carry the same 16-byte token after their first
//! three bytes, or when the client echoes the router's next one (type 3, echoed as
//! type 4: four bytes, a nonce, the router's id), which a flow picked up after its
//! first datagrams still shows; a router's media datagram decides alone (three headers agree, RTP's
//! version and payload type among them); a peer-to-peer stream decides when its RTP
//! numbers advance, as RTP's own. Only the protocol is recorded so far.

use crate::kit::NameOnly;
use crate::protocols::rtp;
use crate::{Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "zoom",
    transports: &[Transport::Udp],
    ports: &[8801, 8802, 8803, 8804, 8805, 8806, 8807, 8808, 8809, 8810],
    probe,
    new: || Box::new(NameOnly),
    later: None,
};

const SFU_MEDIA: u8 = 5;
/// A set-up datagram: three bytes, the call's 16-byte token, more.
const SET_UP_TOKEN: std::ops::Range<usize> = 3..19;
/// The router's check (type 3) and its echo (4): four bytes, then a nonce.
const ECHO_NONCE: std::ops::Range<usize> = 5..9;

/// What a media header holds.
enum Media {
    Rtp { ssrc: u32, seq: u16 },
    Rtcp,
}

/// A media header and the RTP or RTCP packet where its kind places it.
fn media(d: &[u8]) -> Option<Media> {
    let (at, rtcp) = match d.first()? {
        13 => (27, false),
        30 => (20, false),
        15 => (19, false),
        16 => (24, false),
        33..=35 => (16, true),
        _ => return None,
    };
    let inner = d.get(at..)?;
    if rtcp {
        return rtp::compound(inner).map(|_| Media::Rtcp);
    }
    rtp::rtp_header(inner)?;
    let ssrc = u32::from_be_bytes(inner.get(8..12)?.try_into().ok()?);
    Some(Media::Rtp { ssrc, seq: u16::from_be_bytes([inner[2], inner[3]]) })
}

pub fn probe(_side: Side, d: &[u8]) -> Probe {
    match d {
        // Through a router: media decides.
        [SFU_MEDIA, _, _, _, _, _, _, 0 | 4, rest @ ..] if media(rest).is_some() => Probe::Match,
        // The set-up's first datagrams, named by their token (its first four bytes).
        [1 | 2, 0, ..] if d.len() > SET_UP_TOKEN.end => {
            let t = &d[SET_UP_TOKEN];
            Probe::Connection { id: u32::from_be_bytes([t[0], t[1], t[2], t[3]]), seq: 0 }
        }
        // The router's check and the client's echo, named by their nonce.
        [3 | 4, 0, ..] if d.len() >= ECHO_NONCE.end => {
            let n = &d[ECHO_NONCE];
            Probe::Connection { id: u32::from_be_bytes([n[0], n[1], n[2], n[3]]), seq: 0 }
        }
        // The call's set-up (SFU types 1 to 4), or a peer-to-peer call's first
        // datagram: media may follow.
        [1..=4, 0, ..] | [0x1f, 0x02, 0x01, ..] => Probe::NeedMore,
        _ => match media(d) {
            Some(Media::Rtp { ssrc, seq }) => Probe::Plausible { stream: ssrc, seq },
            _ => Probe::NoMatch,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kit::unhex;

    /// An RTP header: version 2, payload type 98, `seq`, SSRC 0x11223344.
    fn rtp_packet(seq: u16) -> Vec<u8> {
        let mut p = vec![0x80, 98];
        p.extend_from_slice(&seq.to_be_bytes());
        p.extend_from_slice(&[0, 0, 0, 1, 0x11, 0x22, 0x33, 0x44]);
        p.extend_from_slice(&[0xab; 40]);
        p
    }

    fn media_header(kind: u8, len: usize) -> Vec<u8> {
        let mut h = vec![kind];
        h.resize(len, 0);
        h
    }

    #[test]
    fn router_media_decides_and_set_up_waits() {
        // `zoom.pcap`: the client's first datagram (SFU type 1).
        let hello = unhex("0100027d464d35fffda234495d0d6d3b51e8960000000000000002007a002a007a002a");
        let answer = unhex("0200017d464d35fffda234495d0d6d3b51e896005a0e3e007a002a0000000000000000");
        let token = Probe::Connection { id: 0x7d46_4d35, seq: 0 };
        assert_eq!((probe(Side::Client, &hello), probe(Side::Server, &answer)), (token, token));
        assert_eq!(probe(Side::Client, &hello[..12]), Probe::NeedMore);
        // `zoom.pcap`: the router's check and the client's echo.
        let nonce = Probe::Connection { id: 0x762a_8d74, seq: 0 };
        assert_eq!(probe(Side::Server, &unhex("0300000001762a8d74005a0e3e")), nonce);
        assert_eq!(probe(Side::Client, &unhex("0400000001762a8d74005a0e3e")), nonce);
        assert_eq!(probe(Side::Client, &unhex("0400000001762a8d")), Probe::NeedMore);
        for (kind, at) in [(15, 19), (16, 24), (13, 27), (30, 20)] {
            let mut d = vec![SFU_MEDIA, 0x01, 0x21, 0, 0, 0, 0, 4];
            d.extend(media_header(kind, at));
            d.extend(rtp_packet(7));
            assert_eq!(probe(Side::Server, &d), Probe::Match, "kind {kind}");
            d[7] = 2;
            assert_eq!(probe(Side::Server, &d), Probe::NoMatch, "direction 2");
        }
        // The RTP header out of place: not Zoom's.
        let mut d = vec![SFU_MEDIA, 0, 1, 0, 0, 0, 0, 0];
        d.extend(media_header(15, 18));
        d.extend(rtp_packet(7));
        assert_eq!(probe(Side::Server, &d), Probe::NoMatch);
    }

    #[test]
    fn peer_to_peer_media_is_a_stream_to_follow() {
        let mut d = media_header(16, 24);
        d.extend(rtp_packet(300));
        assert_eq!(probe(Side::Client, &d), Probe::Plausible { stream: 0x1122_3344, seq: 300 });
        assert_eq!(probe(Side::Client, b"GET / HTTP/1.1\r\n"), Probe::NoMatch);
        assert_eq!(probe(Side::Client, &[]), Probe::NoMatch);
    }
}
