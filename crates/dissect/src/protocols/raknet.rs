//! RakNet, the UDP transport of many games (Roblox, Minecraft Bedrock and others
//! built on it). A connection opens with "offline" messages that carry RakNet's
//! 16-byte magic (games add their own, the magic after the id); once connected,
//! datagrams carry a flags byte (0x80 set) and a 24-bit number, then frames, or
//! acknowledge ranges of those numbers. Offline messages are recognised alone; a
//! flow picked up after its opening by connected datagrams whose frames fill them
//! exactly, three in a row with advancing numbers. Only the protocol is recorded.

use crate::kit::NameOnly;
use crate::{Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "raknet",
    transports: &[Transport::Udp],
    ports: &[19132, 19133],
    probe,
    new: || Box::new(NameOnly),
    later: Some(later),
};

const MAGIC: [u8; 16] =
    [0x00, 0xff, 0xff, 0x00, 0xfe, 0xfe, 0xfe, 0xfe, 0xfd, 0xfd, 0xfd, 0xfd, 0x12, 0x34, 0x56, 0x78];

/// An offline message: its id, and the magic where that message has it.
pub fn probe(_side: Side, d: &[u8]) -> Probe {
    let magic_at = match d.first() {
        // Unconnected pings: a time (8 bytes), then the magic.
        Some(0x01 | 0x02) => 9,
        // Incompatible protocol version: the version, then the magic.
        Some(0x19) => 2,
        // Unconnected pong: a time and the server's id, then the magic.
        Some(0x1c) => 17,
        // Open connection requests and replies, and the messages games add
        // (Roblox's 0x78–0x7e): the magic first.
        Some(_) => 1,
        None => return Probe::NoMatch,
    };
    Probe::from(d.get(magic_at..magic_at + MAGIC.len()) == Some(&MAGIC[..]))
}

/// The stream a run of connected datagrams is counted in (RakNet has no id in clear
/// for it).
const RUN: u32 = u32::from_be_bytes(*b"RakN");

/// A connected datagram whose parts fill it exactly: data datagrams in a run with
/// advancing numbers (one alone is not enough: RTP's packets have the same first
/// byte, and a fixed size that the frames can fill), acknowledgements undecided
/// (RTP with padding begins as a NAK does); an offline message as [`probe`].
pub fn later(side: Side, d: &[u8]) -> Probe {
    match d.first() {
        Some(0xc0 | 0xa0) if acknowledgement_fills(d) => Probe::NeedMore,
        Some(0xc0 | 0xa0) => Probe::NoMatch,
        // Valid, maybe needing acknowledgement, a pair or continuous: the low two
        // bits are unused.
        Some(&flags @ 0x80..=0x9c) if flags & 0x03 == 0 && frames_fill(d) => {
            Probe::Plausible { stream: RUN, seq: u16::from_le_bytes([d[1], d[2]]) }
        }
        Some(0x80..=0x9f) => Probe::NoMatch,
        _ => probe(side, d),
    }
}

/// ACK and NAK: a record count, then records of one number or of a range (24-bit
/// numbers).
fn acknowledgement_fills(d: &[u8]) -> bool {
    let Some(count) = d.get(1..3).map(|c| u16::from_be_bytes([c[0], c[1]])) else { return false };
    let mut at = 3;
    for _ in 0..count {
        at += match d.get(at) {
            Some(1) => 4,
            Some(0) => 7,
            _ => return false,
        };
    }
    count > 0 && at == d.len()
}

/// Data: flags, a 24-bit number, then frames, each a flags byte (reliability in the
/// top 3 bits, a split bit), a length in bits, the indexes its reliability calls
/// for, a split header when split, and the body.
fn frames_fill(d: &[u8]) -> bool {
    let mut at = 4;
    while at < d.len() {
        let (Some(&flags), Some(bits)) = (d.get(at), d.get(at + 1..at + 3)) else { return false };
        let bits = usize::from(u16::from_be_bytes([bits[0], bits[1]]));
        // Reliability in the top 3 bits, the split bit; the low 4 bits unused.
        let reliability = flags >> 5;
        if flags & 0x0f != 0 {
            return false;
        }
        let mut header = 3;
        // Reliable kinds carry a message index; sequenced ones a sequence index;
        // ordered and sequenced ones an order index and channel.
        header += if matches!(reliability, 2 | 3 | 4 | 6 | 7) { 3 } else { 0 };
        header += if matches!(reliability, 1 | 4) { 3 } else { 0 };
        header += if matches!(reliability, 1 | 3 | 4 | 7) { 4 } else { 0 };
        header += if flags & 0x10 != 0 { 10 } else { 0 };
        if bits == 0 {
            return false;
        }
        at += header + bits.div_ceil(8);
    }
    at == d.len() && d.len() > 4
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kit::unhex;

    #[test]
    fn offline_messages_name_it() {
        // `raknet.pcap`: open connection request 2 and reply 2.
        let request = unhex("0700ffff00fefefefefdfdfdfd12345678046b66dc32ea7e024000000000490f027c");
        assert_eq!(probe(Side::Client, &request), Probe::Match);
        let reply = unhex("0800ffff00fefefefefdfdfdfd12345678000591a53605222004a5457b7aadd5024000");
        assert_eq!(probe(Side::Server, &reply), Probe::Match);
        let mut no_magic = request.clone();
        no_magic[5] = 0;
        assert_eq!(probe(Side::Client, &no_magic), Probe::NoMatch);
        assert_eq!(probe(Side::Client, &request[..10]), Probe::NoMatch);
    }

    #[test]
    fn connected_datagrams_continue_it() {
        // `raknet.pcap`: a data datagram (number 1, one reliable ordered frame of
        // 0x2f0 bits), and acknowledgements of five numbers and of one.
        let mut data = unhex("84010000 60 02f0 000000 00000000");
        data.resize(14 + 0x2f0 / 8, 0xff);
        let run = Probe::Plausible { stream: RUN, seq: 1 };
        assert_eq!(later(Side::Client, &data), run);
        // Two frames, the second unreliable.
        let mut two = data.clone();
        two.extend_from_slice(&unhex("00 0010 abcd"));
        assert_eq!(later(Side::Client, &two), run);
        let mut unused_bits = data.clone();
        unused_bits[4] |= 0x01;
        assert_eq!(later(Side::Client, &unused_bits), Probe::NoMatch);
        assert_eq!(later(Side::Client, &data[..40]), Probe::NoMatch, "the frame does not fit");
        two.push(0);
        assert_eq!(later(Side::Client, &two), Probe::NoMatch, "a byte too many");
        let five = unhex("c000050100000001000000010000000100000001000000");
        assert_eq!(later(Side::Server, &five), Probe::NeedMore);
        assert_eq!(later(Side::Server, &unhex("c0000100010000020000")), Probe::NeedMore);
        assert_eq!(later(Side::Server, &five[..20]), Probe::NoMatch);
        assert_eq!(later(Side::Server, &unhex("c00000")), Probe::NoMatch);
        assert_eq!(later(Side::Client, &unhex("84010000")), Probe::NoMatch);
        // And an offline message, as the probe: Roblox's own, the magic after its id.
        assert_eq!(later(Side::Client, &unhex("7b00ffff00fefefefefdfdfdfd12345678050000")), Probe::Match);
    }
}
