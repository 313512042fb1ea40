//! Arbitrary text through the expression compiler: no panic; an error always names a
//! column inside the text; what compiles, the in-memory matcher (detectors' rules)
//! compiles and runs on a record. The SQL both stores make of it is checked on this
//! target's corpus by the store's tests (`fuzz_corpus_queries_become_sql_…`), which
//! keeps DuckDB's C++ out of the fuzz build.
#![no_main]
use libfuzzer_sys::fuzz_target;
use tyto_query::compile;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match compile(text, 1_700_000_000_000_000_000) {
        Ok(filter) => {
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
