//! Arbitrary bytes as another node's packet answer: no panic, no allocation beyond
//! the input's size, and whatever reads back frames to the same bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(kept) = tyto_pcapstore::unframe(data) {
        assert_eq!(tyto_pcapstore::frame(&kept), data);
    }
});
