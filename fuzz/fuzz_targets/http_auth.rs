//! Arbitrary `Authorization: Digest …` parameter lists: no panic, a bounded number of
//! parameters, and lower-case names.
#![no_main]
use libfuzzer_sys::fuzz_target;

#[path = "../../crates/server/src/auth_header.rs"]
#[allow(dead_code)]
mod auth_header;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let params = auth_header::auth_params(text);
    assert!(params.len() <= 32);
    for (k, v) in &params {
        assert_eq!(*k, k.to_ascii_lowercase());
        assert!(k.len() + v.len() <= text.len());
    }
});
