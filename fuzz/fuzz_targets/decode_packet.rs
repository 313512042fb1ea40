//! Any bytes, as a frame of any supported link type: decoding, and keying the
//! decoded frame to its session (which reads DHCP payloads), never panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use tyto_packet::{decode, LinkType};

const LINK_TYPES: [u32; 18] = [0, 1, 9, 12, 14, 50, 101, 104, 105, 107, 108, 113, 127, 192, 228, 229, 239, 276];

fuzz_target!(|data: &[u8]| {
    if let Some((&first, frame)) = data.split_first() {
        let link = LinkType(LINK_TYPES[first as usize % LINK_TYPES.len()]);
        if let Ok(d) = decode(link, frame) {
            let _ = tyto_flow::FlowKey::of(&d, frame);
            if let Some(ip) = d.ip {
                // Offsets handed on must lie inside the frame.
                assert!((ip.payload_offset + ip.payload_len) as usize <= frame.len());
            }
        }
    }
});
