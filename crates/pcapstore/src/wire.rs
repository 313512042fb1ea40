//! Stored packets on the wire between nodes: what one sensor answers when a viewer
//! asks for packets it holds. The answer is a stream: each packet goes out as it is
//! read and is used as it arrives, so neither side holds a whole answer; the number
//! of packets whose files are gone comes last, once it is known.

use std::io::Read;

use crate::{KeptPackets, PacketPos, StoredPacket};

/// Version 2: packets first, the count of missing ones in a trailer.
const MAGIC: &[u8; 8] = b"TYTOPKT2";
/// What starts a packet record, and the trailer.
const PACKET: u8 = b'P';
const END: u8 = b'E';
/// Bytes one packet may claim: a pcap record is never larger (Tyto's files cap records at 256 KiB).
const MAX_PACKET_BYTES: usize = 1 << 20;

/// The answer's first bytes.
pub fn frame_start() -> &'static [u8] {
    MAGIC
}

/// Appends one packet: a tag, file id (u32), offset (u64), link type (u32), time
/// (i64 ns), wire length (u32), captured length (u32), bytes. Little-endian.
pub fn frame_packet(out: &mut Vec<u8>, p: &StoredPacket) {
    out.push(PACKET);
    out.extend_from_slice(&p.pos.file.to_le_bytes());
    out.extend_from_slice(&p.pos.offset.to_le_bytes());
    out.extend_from_slice(&p.link_type.to_le_bytes());
    out.extend_from_slice(&p.ts_ns.to_le_bytes());
    out.extend_from_slice(&p.wire_len.to_le_bytes());
    out.extend_from_slice(&(p.data.len() as u32).to_le_bytes());
    out.extend_from_slice(&p.data);
}

/// Appends the trailer: the number of packets whose files are gone (u64).
pub fn frame_end(out: &mut Vec<u8>, gone: u64) {
    out.push(END);
    out.extend_from_slice(&gone.to_le_bytes());
}

/// A whole answer at once (tests, small answers).
pub fn frame(kept: &KeptPackets) -> Vec<u8> {
    let mut out = MAGIC.to_vec();
    for p in &kept.packets {
        frame_packet(&mut out, p);
    }
    frame_end(&mut out, kept.gone);
    out
}

/// Reads an answer as it arrives, giving each packet to `each`; returns the number of
/// packets gone. An answer cut short or malformed is an error, not a panic, and
/// nothing larger than one packet is held.
pub fn unframe_each(mut r: impl Read, mut each: impl FnMut(StoredPacket)) -> Result<u64, String> {
    let cut = |e: std::io::Error| {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            "the answer is cut short".to_string()
        } else {
            format!("reading the answer: {e}")
        }
    };
    let mut magic = [0u8; 8];
    r.read_exact(&mut magic).map_err(cut)?;
    if &magic != MAGIC {
        return Err("the answer is not a packet list (or from a Tyto of another version)".into());
    }
    loop {
        let mut tag = [0u8; 1];
        r.read_exact(&mut tag).map_err(cut)?;
        match tag[0] {
            END => {
                let mut gone = [0u8; 8];
                r.read_exact(&mut gone).map_err(cut)?;
                return Ok(u64::from_le_bytes(gone));
            }
            PACKET => {
                let mut head = [0u8; 32];
                r.read_exact(&mut head).map_err(cut)?;
                let u32_at = |i: usize| u32::from_le_bytes(head[i..i + 4].try_into().unwrap_or_default());
                let u64_at = |i: usize| u64::from_le_bytes(head[i..i + 8].try_into().unwrap_or_default());
                let len = u32_at(28) as usize;
                if len > MAX_PACKET_BYTES {
                    return Err(format!("a packet of {len} bytes (at most {MAX_PACKET_BYTES})"));
                }
                let mut data = vec![0u8; len];
                r.read_exact(&mut data).map_err(cut)?;
                each(StoredPacket {
                    pos: PacketPos { file: u32_at(0), offset: u64_at(4) },
                    link_type: u32_at(12),
                    ts_ns: u64_at(16) as i64,
                    wire_len: u32_at(24),
                    data,
                });
            }
            other => return Err(format!("unexpected record tag {other:#04x} in the answer")),
        }
    }
}

/// Reads a whole answer; bytes after its trailer are an error too.
pub fn unframe(b: &[u8]) -> Result<KeptPackets, String> {
    let mut kept = KeptPackets::default();
    let mut rest = b;
    kept.gone = unframe_each(&mut rest, |p| kept.packets.push(p))?;
    if !rest.is_empty() {
        return Err(format!("{} bytes after the end of the answer", rest.len()));
    }
    Ok(kept)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framed_packets_read_back_and_cut_answers_are_errors() {
        let kept = KeptPackets {
            packets: vec![StoredPacket {
                pos: PacketPos { file: 3, offset: 24 },
                link_type: 1,
                ts_ns: 1_700_000_000_123_456_000,
                wire_len: 60,
                data: vec![1, 2, 3],
            }],
            gone: 2,
            ..KeptPackets::default()
        };
        let b = frame(&kept);
        let back = unframe(&b).unwrap();
        assert_eq!((back.gone, back.packets.len()), (2, 1));
        assert_eq!(back.packets[0].data, [1, 2, 3]);
        assert_eq!(back.packets[0].ts_ns, 1_700_000_000_123_456_000);
        assert_eq!(back.packets[0].pos, PacketPos { file: 3, offset: 24 });
        for cut in 0..b.len() {
            assert!(unframe(&b[..cut]).is_err(), "cut at {cut}");
        }
        let mut huge = MAGIC.to_vec();
        huge.push(PACKET);
        huge.extend_from_slice(&[0; 28]);
        huge.extend_from_slice(&u32::MAX.to_le_bytes());
        assert!(unframe(&huge).unwrap_err().contains("at most"));
        assert!(unframe(b"TYTOPKT1\0\0\0\0\0\0\0\0").unwrap_err().contains("another version"));
        let mut longer = b.clone();
        longer.push(0);
        assert!(unframe(&longer).unwrap_err().contains("after the end"));
    }
}
