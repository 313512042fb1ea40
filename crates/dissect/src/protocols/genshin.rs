//! Genshin Impact (miHoYo), two openings. Over UDP the game's KCP transport opens
//! with a 20-byte handshake: `000000FF`, zero, a conversation id, the constant
//! `499602D2` and `FFFFFFFF` (the server answers `00000145`, its ids, `499602D2`,
//! `14514545`). Over TCP the launcher's first messages carry `01000000`, a length
//! byte that counts the whole message, a type (7 asks, 8 answers) and two zero bytes.
//! After the handshake every datagram is KCP segments, each with a 28-byte header
//! (the conversation, a token, KCP's command, fragment and window, then its time,
//! sequence numbers and the data's length, little-endian) and that much data, so a
//! flow picked up among them is told by datagrams its segments fill exactly. Only
//! the protocol is recorded so far.

use crate::kit::messages::Length;
use crate::kit::{chained, NameOnly};
use crate::{Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "genshin",
    transports: &[Transport::Udp, Transport::Tcp],
    ports: &[],
    probe,
    new: || Box::new(NameOnly),
    later: Some(later),
};

const HANDSHAKE: usize = 20;
const KCP_CONSTANT: [u8; 4] = [0x49, 0x96, 0x02, 0xd2];

pub fn probe(_side: Side, d: &[u8]) -> Probe {
    // A KCP handshake is a datagram of its own; a TCP message opens a stream.
    if d.len() == HANDSHAKE && d[12..16] == KCP_CONSTANT {
        let ok = (d[..8] == [0, 0, 0, 0xff, 0, 0, 0, 0] && d[16..] == [0xff; 4])
            || (d[..4] == [0, 0, 0x01, 0x45] && d[16..] == [0x14, 0x51, 0x45, 0x45]);
        if ok {
            return Probe::Match;
        }
    }
    match crate::kit::starts_with(d, &[0x01, 0, 0, 0]) {
        Probe::Match => {}
        other => return other,
    }
    let Some(h) = d.get(..8) else { return Probe::NeedMore };
    let len = usize::from(h[4]);
    if !(7..=8).contains(&h[5]) || h[6..8] != [0, 0] || len < 16 {
        return Probe::NoMatch;
    }
    crate::kit::once_whole(d, len)
}

/// A KCP segment's header in the game's transport.
const SEGMENT_HEADER: usize = 28;
/// KCP's commands: push, acknowledge, window probe, window size.
const KCP_COMMANDS: std::ops::RangeInclusive<u8> = 0x51..=0x54;

/// A datagram of KCP segments: a match when they fill it exactly, one conversation
/// and token throughout.
pub fn later(_side: Side, d: &[u8]) -> Probe {
    let Some(conversation) = d.get(..8) else { return Probe::NoMatch };
    // A datagram is whole: segments cut short or running past its end rule it out.
    let segments = chained(d, |s| match s.get(..SEGMENT_HEADER) {
        Some(h) if h[..8] == *conversation && KCP_COMMANDS.contains(&h[8]) => {
            Length::Is(SEGMENT_HEADER.saturating_add(u32::from_le_bytes([h[24], h[25], h[26], h[27]]) as usize))
        }
        _ => Length::Bad,
    });
    Probe::from(segments == Probe::Match)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kit::unhex;

    #[test]
    fn kcp_handshake_and_launcher_messages() {
        // `genshin-impact.pcap`.
        assert_eq!(probe(Side::Client, &unhex("000000ff0000000000000000499602d2ffffffff")), Probe::Match);
        assert_eq!(probe(Side::Server, &unhex("00000145000318323a0da215499602d214514545")), Probe::Match);
        assert_eq!(probe(Side::Client, &unhex("000000ff0000000000000000499602d3ffffffff")), Probe::NoMatch);
        let mut hello = unhex("010000002a0700000000aec675e100004da6");
        assert_eq!(probe(Side::Client, &hello), Probe::NeedMore);
        hello.resize(0x2a, 0);
        assert_eq!(probe(Side::Client, &hello), Probe::Match);
        assert_eq!(probe(Side::Client, &unhex("010000002a0900000000aec675e10000")), Probe::NoMatch);
    }

    #[test]
    fn kcp_segments_fill_their_datagram() {
        // `genshin-impact.pcap`: an acknowledgement, and a push with 83 bytes.
        let ack = unhex("ac220200cdc49aba520000016cc97eb6000000000100000000000000");
        assert_eq!(later(Side::Server, &ack), Probe::Match);
        let mut push = unhex("ac220200cdc49aba510000016cc97eb6000000000000000053000000");
        push.resize(SEGMENT_HEADER + 0x53, 0xe8);
        assert_eq!(later(Side::Client, &push), Probe::Match);
        // Two segments in one datagram; one of another conversation; a byte short.
        let mut two = ack.clone();
        two.extend(&push);
        assert_eq!(later(Side::Server, &two), Probe::Match);
        let mut other = ack.clone();
        other.extend(&push);
        other[SEGMENT_HEADER] ^= 1;
        assert_eq!(later(Side::Server, &other), Probe::NoMatch);
        assert_eq!(later(Side::Client, &push[..push.len() - 1]), Probe::NoMatch);
        // Another command; a length past the datagram.
        let mut cmd = ack.clone();
        cmd[8] = 0x50;
        assert_eq!(later(Side::Server, &cmd), Probe::NoMatch);
        let mut long = ack.clone();
        long[27] = 0xff;
        assert_eq!(later(Side::Server, &long), Probe::NoMatch);
    }
}
