//! Arbitrary segments (directions, times, flags, numbers, TCP options) into the TCP
//! health tracker: no panic, no negative time, no more events than segments.
#![no_main]
use libfuzzer_sys::fuzz_target;
use tyto_flow::tcp_health::{HealthTracker, Segment};
use tyto_flow::Direction;
use tyto_schema::TcpHealth;

fuzz_target!(|data: &[u8]| {
    let mut tracker = HealthTracker::default();
    let mut health = TcpHealth::default();
    let mut segments = 0u32;
    let mut rest = data;
    while rest.len() >= 16 {
        let word = |at: usize| u32::from_le_bytes([rest[at], rest[at + 1], rest[at + 2], rest[at + 3]]);
        let options_len = (rest[15] as usize % 41).min(rest.len() - 16);
        let s = Segment {
            // Times may go backwards, as in merged captures.
            ts_ns: i64::from(word(0) as i32) * 1000,
            seq: word(4),
            ack: word(8),
            flags: u16::from(rest[12]) | (u16::from(rest[13] & 1) << 8),
            window: u16::from(rest[14]) << (rest[13] >> 4),
            payload_len: u32::from((rest[13] >> 1) & 7) * 500,
            options: &rest[16..16 + options_len],
        };
        let dir = if rest[13] & 0x80 == 0 { Direction::ToServer } else { Direction::ToClient };
        tracker.segment(dir, &s, 0, &mut health);
        segments += 1;
        rest = &rest[16 + options_len..];
    }
    let _ = tracker.handshake_outcome();
    for t in [health.rtt_server_us, health.rtt_client_us, health.first_data_src_us, health.first_data_dst_us] {
        assert!(t.is_none_or(|t| t >= 0));
    }
    for n in [health.zero_window_src + health.zero_window_dst, health.rst_src + health.rst_dst] {
        assert!(n <= segments);
    }
    assert!(health.window_full_src + health.window_full_dst <= segments);
});
