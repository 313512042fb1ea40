//! Discord voice over UDP: the IP discovery exchange that opens each voice
//! connection (74 bytes: type 1 or 2, length 70, SSRC, the address as NUL-padded
//! text, port), before the RTP media; and the keep-alive pings a client sends its
//! voice servers, echoed back (8 bytes: `13 37 CA FE` and a little-endian counter).
//! The media after it is RTP whose header carries a one-byte-header extension
//! (`BE DE`) and whose sealed payload ends with the nonce of Discord's transport
//! encryption, a 32-bit little-endian counter one higher in each packet of a
//! stream: a flow picked up after the exchange is told by those counters, where RTP
//! alone would be named. Only the protocol is recorded so far.

use crate::kit::NameOnly;
use crate::protocols::rtp;
use crate::{Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "discord",
    transports: &[Transport::Udp],
    ports: &[],
    probe,
    new: || Box::new(NameOnly),
    later: Some(later),
};

const SIZE: usize = 74;
const PING_MAGIC: [u8; 4] = [0x13, 0x37, 0xca, 0xfe];
const PING: usize = 8;

pub fn probe(_side: Side, data: &[u8]) -> Probe {
    if data.len() == PING && data.starts_with(&PING_MAGIC) {
        return Probe::Match;
    }
    if data.len() != SIZE || data[2..4] != [0, 70] || data[0] != 0 {
        return Probe::NoMatch;
    }
    let address = &data[8..72];
    let text = address.iter().take_while(|b| **b != 0).count();
    let padded = address[text..].iter().all(|b| *b == 0);
    let ok = match data[1] {
        // The request carries no address; the answer the client's public one.
        1 => padded,
        2 => padded && text > 0 && address[..text].iter().all(|b| b.is_ascii_hexdigit() || matches!(b, b'.' | b':')),
        _ => false,
    };
    Probe::from(ok)
}

/// An RTP header (12 bytes, no CSRCs) with its extension's profile, an AEAD tag and
/// the nonce at least.
const SEALED_SHORTEST: usize = 12 + 4 + 16 + 4;

/// Any datagram: an opening as [`probe`], or voice, whose nonce numbers the stream.
pub fn later(side: Side, d: &[u8]) -> Probe {
    if probe(side, d) == Probe::Match {
        return Probe::Match;
    }
    let voice = d.len() >= SEALED_SHORTEST && d[0] & 0x1f == 0x10 && d[12..14] == [0xbe, 0xde];
    match rtp::rtp_header(d) {
        Some(_) if voice => {
            let ssrc = u32::from_be_bytes([d[8], d[9], d[10], d[11]]);
            let nonce = &d[d.len() - 4..];
            Probe::Plausible { stream: ssrc, seq: u16::from_le_bytes([nonce[0], nonce[1]]) }
        }
        // The voice's RTCP, sealed too: the media may follow.
        _ if d.len() >= 8 && d[0] >> 6 == 2 && (200..=204).contains(&d[1]) => Probe::NeedMore,
        _ => Probe::NoMatch,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keep_alive_ping() {
        // `discord.pcap`: a ping and its echo are the same 8 bytes.
        assert_eq!(probe(Side::Client, &[0x13, 0x37, 0xca, 0xfe, 5, 0, 0, 0]), Probe::Match);
        assert_eq!(probe(Side::Client, &[0x13, 0x37, 0xca, 0xfe, 5, 0, 0, 0, 0]), Probe::NoMatch);
    }

    #[test]
    fn voice_is_numbered_by_its_nonce() {
        use crate::kit::unhex;
        // `discord.pcap`: the client's voice, SSRC 0xace3, nonces 0x4492 and 0x4493.
        let packet = |rtp: &str, nonce: &str| {
            let mut d = unhex(rtp);
            d.resize(280, 0x5a);
            d.extend(unhex(nonce));
            d
        };
        let first = packet("907856153a4255230000ace3bede0001", "92440080");
        let next = packet("907856163a4258e30000ace3bede0001", "93440080");
        assert_eq!(later(Side::Client, &first), Probe::Plausible { stream: 0xace3, seq: 0x4492 });
        assert_eq!(later(Side::Client, &next), Probe::Plausible { stream: 0xace3, seq: 0x4493 });
        // RTP without the extension, or with CSRCs, is not Discord's voice.
        let mut plain = first.clone();
        plain[0] = 0x80;
        assert_eq!(later(Side::Client, &plain), Probe::NoMatch);
        let mut csrc = first.clone();
        csrc[0] = 0x91;
        assert_eq!(later(Side::Client, &csrc), Probe::NoMatch);
        assert_eq!(later(Side::Client, &first[..SEALED_SHORTEST - 1]), Probe::NoMatch);
        // Its RTCP (a sender report) leaves the flow to the media.
        assert_eq!(later(Side::Client, &unhex("80c80006ace322ad3a801fd26afe5931")), Probe::NeedMore);
    }

    #[test]
    fn ip_discovery() {
        let mut req = vec![0, 1, 0, 70, 0, 2, 0x4b, 0x18];
        req.resize(SIZE, 0);
        assert_eq!(probe(Side::Client, &req), Probe::Match);
        let mut answer = vec![0, 2, 0, 70, 0, 2, 0x4b, 0x18];
        answer.extend_from_slice(b"84.59.132.100");
        answer.resize(72, 0);
        answer.extend_from_slice(&[0xc3, 0x50]);
        assert_eq!(probe(Side::Server, &answer), Probe::Match);
        assert_eq!(probe(Side::Server, &answer[..73]), Probe::NoMatch);
        req[20] = 1;
        assert_eq!(probe(Side::Client, &req), Probe::NoMatch);
    }
}
