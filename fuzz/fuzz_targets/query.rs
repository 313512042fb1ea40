//! Arbitrary text through the expression compiler: no panic; an error always names a
//! column inside the text; what compiles always turns into SQL for both dialects, and
//! SQL for DuckDB never carries a NUL (its C API would cut the statement there), and
//! the in-memory matcher (detectors' rules) compiles it and runs it on a record.
#![no_main]
use libfuzzer_sys::fuzz_target;
use tyto_query::{compile, Dialect};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match compile(text, 1_700_000_000_000_000_000) {
        Ok(filter) => {
            let duck = filter.to_sql(Dialect::DuckDb);
            assert!(!duck.contains('\0'));
            let _ = filter.to_sql(Dialect::ClickHouse);
            if let Ok(m) = tyto_query::Matcher::new(&filter) {
                let _ = m.matches(&tyto_schema::SessionRecord::default());
            }
        }
        Err(e) => {
            assert!(e.column >= 1 && e.column <= text.chars().count() + 1, "{e} in {text:?}");
            let _ = e.pointer(text);
        }
    }
});
