//! Arbitrary segments (sequence numbers, flags, lengths) into one reassembled
//! direction: no panic, the hold bounds hold, and data is never delivered twice.
#![no_main]
use libfuzzer_sys::fuzz_target;
use tyto_flow::tcp::{Delivery, HoldLimits, TcpDirection};
use tyto_schema::TcpStreamStats;

fuzz_target!(|data: &[u8]| {
    let mut limits = HoldLimits { hold: true, max_bytes: 4096, max_segments: 16 };
    let mut dir = TcpDirection::default();
    let mut stats = TcpStreamStats::default();
    let mut delivered = 0u64;
    let mut offered = 0u64;
    let mut rest = data;
    while rest.len() >= 6 {
        let seq = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]);
        let syn = rest[4] & 1 != 0;
        let len = (rest[5] as usize).min(rest.len() - 6);
        let payload = &rest[6..6 + len];
        offered += len as u64;
        limits.hold = rest[4] & 2 == 0;
        dir.segment(seq, syn, payload, limits, &mut stats, &mut |d| {
            if let Delivery::Data(b) = d {
                delivered += b.len() as u64;
            }
        });
        assert!(dir.held_bytes() <= limits.max_bytes);
        rest = &rest[6 + len..];
    }
    dir.finish(&mut stats, &mut |d| {
        if let Delivery::Data(b) = d {
            delivered += b.len() as u64;
        }
    });
    assert!(delivered <= offered);
});
