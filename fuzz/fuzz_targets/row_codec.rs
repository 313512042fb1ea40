//! Session rows read back from the row spool (`schema::codec`): damaged files are
//! errors, never panics or unbounded allocations, and what decodes encodes back to
//! the same bytes' meaning.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tyto_schema::codec::{decode, decode_layout, encode};

fuzz_target!(|data: &[u8]| {
    let mut at = 0;
    while at < data.len() {
        let Ok((row, used)) = decode(&data[at..]) else { break };
        assert!(used > 0 && at + used <= data.len());
        let mut again = Vec::new();
        encode(&row, &mut again);
        let (back, n) = decode(&again).expect("an encoded row decodes");
        assert_eq!(n, again.len());
        assert_eq!(back, row);
        at += used;
    }
    // Rows of the older layouts, left in a spool by an earlier version.
    for layout in [1, 2] {
        let mut at = 0;
        while at < data.len() {
            let Ok((_, used)) = decode_layout(&data[at..], layout) else { break };
            assert!(used > 0 && at + used <= data.len());
            at += used;
        }
    }
});
