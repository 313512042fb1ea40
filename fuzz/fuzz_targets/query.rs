//! Arbitrary text through the expression compiler (with a shortcut of each kind, so
//! `$name` values are spread too): no panic; an error always names a column inside
//! the text; what compiles, the in-memory matcher (detectors' rules) compiles and
//! runs on a record. The SQL both stores make of it is checked on this
//! target's corpus by the store's tests (`fuzz_corpus_queries_become_sql_…`), which
//! keeps DuckDB's C++ out of the fuzz build.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::collections::HashMap;
use std::sync::OnceLock;

use tyto_query::{compile_in, Context, Shortcut, ShortcutKind, Utc};

fn shortcuts() -> &'static HashMap<String, Shortcut> {
    static BOOK: OnceLock<HashMap<String, Shortcut>> = OnceLock::new();
    BOOK.get_or_init(|| {
        [
            ("a", ShortcutKind::Ip, &["10.0.0.1", "10.0.0.0/8", "::1", "1.2.3.4:80"][..]),
            ("n", ShortcutKind::Number, &["80", "443"][..]),
            ("s", ShortcutKind::String, &["x", "*y", "a\"b"][..]),
        ]
        .into_iter()
        .map(|(name, kind, values)| {
            (name.to_string(), Shortcut { kind, values: values.iter().map(|v| v.to_string()).collect() })
        })
        .collect()
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let context = Context { now_ns: 1_700_000_000_000_000_000, shortcuts: shortcuts(), zone: &Utc };
    match compile_in(text, &context) {
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
