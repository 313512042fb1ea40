//! BitTorrent: the peer wire handshake over TCP (`\x13BitTorrent protocol`, 8
//! reserved bytes, the torrent's 20-byte info hash, the peer's 20-byte id), and the
//! DHT's bencoded KRPC messages over UDP (`d1:ad2:id20:…1:q9:get_peers1:t…1:y1:qe`).
//! Over UDP also uTP (BEP 29), BitTorrent's own transport, whose data packets carry
//! the same handshake. Encrypted (MSE) connections have no plain text to recognise
//! and are left alone.

use tyto_schema::SessionRecord;

use crate::kit::{hex, put_text};
use crate::{Dissector, Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "bittorrent",
    transports: &[Transport::Tcp, Transport::Udp],
    ports: &[6881, 6882, 6883, 6884, 6885, 6886, 6887, 6888, 6889, 6969],
    probe,
    new: || Box::new(BitTorrent { seen: 0 }),
    later: Some(peer_messages),
};

/// Peer-wire messages after the handshake (BEP 3, 10): a 4-byte length, an id, its
/// payload. Bytes that are whole messages, to the byte, of ids and sizes the
/// protocol allows, with something besides keep-alives: two messages at least, or
/// one extension message. A message cut off at the end waits for the rest.
fn peer_messages(_side: Side, data: &[u8]) -> Probe {
    let mut at = 0usize;
    let (mut messages, mut extension) = (0, false);
    while at < data.len() {
        let Some(len) = data.get(at..at + 4).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize) else {
            return Probe::NeedMore;
        };
        if len == 0 {
            at += 4;
            continue;
        }
        let Some(&id) = data.get(at + 4) else { return Probe::NeedMore };
        let allowed = match id {
            // choke, unchoke, interested, not interested; have; request, cancel; port;
            // and the fast extension's (BEP 6): have all, have none; suggest, allowed
            // fast; reject.
            0..=3 | 14 | 15 => len == 1,
            4 | 13 | 17 => len == 5,
            6 | 8 | 16 => len == 13,
            9 => len == 3,
            // bitfield: a bit per piece.
            5 => len <= 1 + 8192,
            // piece: index, offset, a block of at most 128 KiB.
            7 => (9..=9 + (128 << 10)).contains(&len),
            // extension: its id, then its payload; the extension handshake (id 0) is
            // a bencoded dictionary.
            20 => len >= 2 && (data.get(at + 5) != Some(&0) || data.get(at + 6).is_none_or(|b| *b == b'd')),
            _ => false,
        };
        if !allowed {
            return Probe::NoMatch;
        }
        messages += 1;
        extension |= id == 20;
        at += 4 + len;
    }
    if at > data.len() {
        Probe::NeedMore
    } else if messages >= 2 || extension {
        Probe::Match
    } else {
        Probe::NeedMore
    }
}

const HANDSHAKE: &[u8; 20] = b"\x13BitTorrent protocol";
const HANDSHAKE_LEN: usize = 68;
/// Values kept per session, and messages looked at.
const MAX_MESSAGES: usize = 8;

/// A DHT message: a bencoded dictionary whose keys include `y` (the kind: query,
/// response or error) and `t` (the transaction id).
fn is_dht(d: &[u8]) -> bool {
    d.len() >= 12
        && d.len() <= 2048
        && d[0] == b'd'
        && d.last() == Some(&b'e')
        && matches!(&d[1..3], b"1:" | b"2:")
        && find(d, b"1:y1:").is_some_and(|i| matches!(d.get(i + 5), Some(b'q' | b'r' | b'e')))
        && find(d, b"1:t").is_some()
}

/// uTP's packet types: data, fin, state (an acknowledgement), reset, syn.
const UTP_DATA: u8 = 0;
const UTP_STATE: u8 = 2;
const UTP_SYN: u8 = 4;
const UTP_HEADER: usize = 20;
/// Extensions followed per packet (selective acks and extension bits are defined).
const UTP_EXTENSIONS: usize = 4;

/// A uTP packet's type and payload: a 20-byte header (type and version 1, first
/// extension, connection id, timestamps, window, sequence and ack numbers), then a
/// chain of extensions (next type, length, bytes).
fn utp(d: &[u8]) -> Option<(u8, &[u8])> {
    let h = d.get(..UTP_HEADER)?;
    let kind = h[0] >> 4;
    if h[0] & 0x0f != 1 || kind > UTP_SYN {
        return None;
    }
    let mut next = h[1];
    let mut at = UTP_HEADER;
    for _ in 0..UTP_EXTENSIONS {
        if next == 0 {
            return Some((kind, &d[at..]));
        }
        if next > 3 {
            return None;
        }
        let e = d.get(at..at + 2)?;
        next = e[0];
        at += 2 + usize::from(e[1]);
        d.get(at..)?;
    }
    None
}

/// Whether a datagram holds together as uTP: a syn or state packet carries nothing,
/// a data packet something.
fn plausible_utp(d: &[u8]) -> bool {
    match utp(d) {
        Some((UTP_SYN | UTP_STATE, payload)) => payload.is_empty(),
        Some((UTP_DATA, payload)) => !payload.is_empty(),
        Some(_) => true,
        None => false,
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

pub fn probe(_side: Side, data: &[u8]) -> Probe {
    // uTP has no magic of its own: a run of well-formed packets, or the handshake.
    if let Some((_, payload)) = utp(data) {
        if payload.starts_with(HANDSHAKE) {
            return Probe::Match;
        }
        // The sender's connection id changes after the syn; its sequence number does not.
        if plausible_utp(data) {
            return Probe::Plausible { stream: 0, seq: u16::from_be_bytes([data[16], data[17]]) };
        }
    }
    if data.len() < HANDSHAKE.len() {
        // A stream that has begun like the handshake waits for the rest.
        return if !data.is_empty() && HANDSHAKE.starts_with(data) {
            Probe::NeedMore
        } else {
            Probe::from(is_dht(data))
        };
    }
    Probe::from(data.starts_with(HANDSHAKE) || is_dht(data))
}

/// The client's tag in an Azureus-style peer id (`-qB4250-…`), if it has one.
fn client_tag(peer_id: &[u8]) -> Option<&str> {
    let tag = peer_id.get(..8)?;
    let ok = tag[0] == b'-' && tag[7] == b'-' && tag[1..7].iter().all(|b| b.is_ascii_alphanumeric());
    if ok {
        std::str::from_utf8(tag).ok()
    } else {
        None
    }
}

pub struct BitTorrent {
    seen: usize,
}

impl BitTorrent {
    /// The 20 bytes after a bencoded key such as `9:info_hash20:`.
    fn bencoded_20<'a>(d: &'a [u8], key: &[u8]) -> Option<&'a [u8]> {
        let at = find(d, key)? + key.len();
        d.get(at..at + 20)
    }
}

impl Dissector for BitTorrent {
    fn feed(&mut self, _side: Side, data: &[u8], rec: &mut SessionRecord) {
        self.seen += 1;
        let data = match utp(data) {
            Some((UTP_DATA, payload)) if payload.starts_with(HANDSHAKE) => payload,
            _ => data,
        };
        if data.len() >= HANDSHAKE_LEN && data.starts_with(HANDSHAKE) {
            put_text(rec, text_field!("bittorrent.infohash"), &hex(&data[28..48]));
            let peer = &data[48..68];
            match client_tag(peer) {
                Some(tag) => put_text(rec, text_field!("bittorrent.peerid"), tag),
                None => put_text(rec, text_field!("bittorrent.peerid"), &hex(peer)),
            }
        } else if is_dht(data) {
            if let Some(h) = BitTorrent::bencoded_20(data, b"9:info_hash20:") {
                put_text(rec, text_field!("bittorrent.infohash"), &hex(h));
            }
        }
    }

    fn wants_more(&self) -> bool {
        self.seen < MAX_MESSAGES
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tyto_schema::Values;

    /// `bittorrent.pcap`, picked up after both handshakes: a port message, an
    /// extension message with a binary payload, interested; then a request.
    #[test]
    fn peer_messages_without_the_handshake() {
        let mut d = vec![0, 0, 0, 3, 9, 0x9f, 0xff, 0, 0, 0, 3, 20, 3, 0, 0, 0, 0, 1, 2];
        assert_eq!(peer_messages(Side::Client, &d), Probe::Match);
        // A request cut short waits; whole, one message of a fixed size is not enough.
        let request = [0, 0, 0, 13, 6, 0, 0, 3, 0x30, 0, 0, 0x80, 0, 0, 0, 0x40, 0];
        assert_eq!(peer_messages(Side::Client, &request[..9]), Probe::NeedMore);
        assert_eq!(peer_messages(Side::Client, &request), Probe::NeedMore);
        // A size the id does not allow, or an id the protocol lacks.
        assert_eq!(peer_messages(Side::Client, &[0, 0, 0, 2, 2, 0]), Probe::NoMatch);
        assert_eq!(peer_messages(Side::Client, &[0, 0, 0, 1, 42]), Probe::NoMatch);
        // Keep-alives alone prove nothing.
        assert_eq!(peer_messages(Side::Client, &[0; 16]), Probe::NeedMore);
        // Bytes after the last whole message that do not start another.
        d.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 1]);
        assert_eq!(peer_messages(Side::Client, &d), Probe::NoMatch);
    }

    fn handshake() -> Vec<u8> {
        let mut h = HANDSHAKE.to_vec();
        h.extend_from_slice(&[0, 0, 0, 0, 0, 0x10, 0, 5]);
        h.extend_from_slice(&[0xdc; 20]);
        h.extend_from_slice(b"-qB4250-abcdefghijkl");
        h
    }

    fn utp_packet(kind: u8, extension: bool, payload: &[u8]) -> Vec<u8> {
        let mut p = vec![kind << 4 | 1, u8::from(extension) * 2];
        p.extend_from_slice(&[0x5a; 18]);
        if extension {
            p.extend_from_slice(&[0, 8, 0, 0, 0, 0, 0, 0, 0, 0]);
        }
        p.extend_from_slice(payload);
        p
    }

    #[test]
    fn utp_runs_and_the_handshake_inside() {
        assert!(matches!(probe(Side::Client, &utp_packet(UTP_SYN, false, &[])), Probe::Plausible { .. }));
        assert!(matches!(probe(Side::Server, &utp_packet(UTP_STATE, true, &[])), Probe::Plausible { .. }));
        assert_eq!(probe(Side::Client, &utp_packet(UTP_SYN, false, b"x")), Probe::NoMatch, "a syn carries nothing");
        let data = utp_packet(UTP_DATA, true, &handshake());
        assert_eq!(probe(Side::Client, &data), Probe::Match);
        let mut rec = SessionRecord::default();
        BitTorrent { seen: 0 }.feed(Side::Client, &data, &mut rec);
        assert_eq!(rec.extra.get("bittorrent.peerid"), Some(&Values::Text(vec!["-qB4250-".into()])));
        let mut bad_version = utp_packet(UTP_SYN, false, &[]);
        bad_version[0] = 0x42;
        assert_eq!(probe(Side::Client, &bad_version), Probe::NoMatch);
    }

    #[test]
    fn handshakes_and_dht_messages() {
        let h = handshake();
        assert_eq!(probe(Side::Client, &h), Probe::Match);
        assert_eq!(probe(Side::Client, &h[..10]), Probe::NeedMore);
        assert_eq!(probe(Side::Client, b"GET / HTTP/1.1\r\n\r\n"), Probe::NoMatch);
        let mut b = BitTorrent { seen: 0 };
        let mut rec = SessionRecord::default();
        b.feed(Side::Client, &h, &mut rec);
        assert_eq!(rec.extra.get("bittorrent.infohash"), Some(&Values::Text(vec!["dc".repeat(20)])));
        assert_eq!(rec.extra.get("bittorrent.peerid"), Some(&Values::Text(vec!["-qB4250-".into()])));

        let mut q = b"d1:ad2:id20:".to_vec();
        q.extend_from_slice(&[1; 20]);
        q.extend_from_slice(b"9:info_hash20:");
        q.extend_from_slice(&[0xab; 20]);
        q.extend_from_slice(b"e1:q9:get_peers1:t2:aa1:y1:qe");
        assert_eq!(probe(Side::Client, &q), Probe::Match);
        let mut rec = SessionRecord::default();
        BitTorrent { seen: 0 }.feed(Side::Client, &q, &mut rec);
        assert_eq!(rec.extra.get("bittorrent.infohash"), Some(&Values::Text(vec!["ab".repeat(20)])));
        assert_eq!(probe(Side::Client, b"d1:ad2:id20:xe"), Probe::NoMatch);
        assert_eq!(probe(Side::Server, b"d8:intervali1800e5:peers0:e"), Probe::NoMatch);
    }
}
