//! Stored packets on the wire between nodes: what one sensor answers when a viewer
//! asks for packets it holds.

use crate::{KeptPackets, PacketPos, StoredPacket};

const MAGIC: &[u8; 8] = b"TYTOPKT1";

/// Packets as the endpoint answers: a magic, the number of packets whose files are
/// gone (u64), then per packet: file id (u32), offset (u64), link type (u32),
/// time (i64 ns), wire length (u32), captured length (u32), bytes. Little-endian.
pub fn frame(kept: &KeptPackets) -> Vec<u8> {
    let size: usize = kept.packets.iter().map(|p| 32 + p.data.len()).sum();
    let mut out = Vec::with_capacity(16 + size);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&kept.gone.to_le_bytes());
    for p in &kept.packets {
        out.extend_from_slice(&p.pos.file.to_le_bytes());
        out.extend_from_slice(&p.pos.offset.to_le_bytes());
        out.extend_from_slice(&p.link_type.to_le_bytes());
        out.extend_from_slice(&p.ts_ns.to_le_bytes());
        out.extend_from_slice(&p.wire_len.to_le_bytes());
        out.extend_from_slice(&(p.data.len() as u32).to_le_bytes());
        out.extend_from_slice(&p.data);
    }
    out
}

/// Reads what [`frame`] wrote; an answer cut or malformed is an error, not a panic.
pub fn unframe(b: &[u8]) -> Result<KeptPackets, String> {
    fn take<'a>(b: &mut &'a [u8], n: usize) -> Result<&'a [u8], String> {
        if b.len() < n {
            return Err("the answer is cut short".into());
        }
        let (head, rest) = b.split_at(n);
        *b = rest;
        Ok(head)
    }
    let mut b = b;
    if take(&mut b, 8)? != MAGIC {
        return Err("the answer is not a packet list".into());
    }
    let u64_of = |s: &[u8]| u64::from_le_bytes(s.try_into().unwrap_or_default());
    let u32_of = |s: &[u8]| u32::from_le_bytes(s.try_into().unwrap_or_default());
    let mut kept = KeptPackets { gone: u64_of(take(&mut b, 8)?), ..KeptPackets::default() };
    while !b.is_empty() {
        let file = u32_of(take(&mut b, 4)?);
        let offset = u64_of(take(&mut b, 8)?);
        let link_type = u32_of(take(&mut b, 4)?);
        let ts_ns = u64_of(take(&mut b, 8)?) as i64;
        let wire_len = u32_of(take(&mut b, 4)?);
        let len = u32_of(take(&mut b, 4)?) as usize;
        let data = take(&mut b, len)?.to_vec();
        kept.packets.push(StoredPacket { pos: PacketPos { file, offset }, link_type, ts_ns, wire_len, data });
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
        for cut in 0..b.len() {
            if cut != 16 {
                assert!(unframe(&b[..cut]).is_err(), "cut at {cut}");
            }
        }
    }
}
