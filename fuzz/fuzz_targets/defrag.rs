//! Arbitrary IP fragments into the reassembler: no panic, and every fragment comes
//! back out (inside a rebuilt datagram or as an orphan) — none is lost.
#![no_main]
use libfuzzer_sys::fuzz_target;
use tyto_flow::defrag::{Defragmenter, Piece};
use tyto_packet::{decode, LinkType};

fuzz_target!(|data: &[u8]| {
    let mut d = Defragmenter::new(8, 30);
    let mut fed = 0usize;
    let mut out = 0usize;
    for (i, frame) in data.split(|b| *b == 0xfe).enumerate() {
        let Ok(decoded) = decode(LinkType::RAW, frame) else { continue };
        if !decoded.ip.is_some_and(|ip| ip.fragment.is_some()) {
            continue;
        }
        fed += 1;
        let piece = Piece {
            ts_ns: i as i64 * 1_000_000_000,
            wire_len: frame.len() as u32,
            link: LinkType::RAW,
            frame: frame.to_vec(),
            decoded,
        };
        if let Some(whole) = d.add(piece) {
            out += whole.pieces.len();
        }
        d.expire(i as i64 * 1_000_000_000);
        out += d.take_orphans().len();
    }
    d.abandon_all();
    out += d.take_orphans().len();
    assert_eq!(fed, out);
});
