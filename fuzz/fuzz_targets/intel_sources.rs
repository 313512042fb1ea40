//! Arbitrary bytes as an indicator source of each format: no panic; a refusal
//! names a line of the text (or none); what is accepted is a valid indicator that
//! reads back as itself (a URL with its scheme put back: `192.0.2.1/24` alone is a
//! network mistyped).
#![no_main]
use libfuzzer_sys::fuzz_target;
use tyto_enrich::intel::{classify, parse, Expect, Format, Indicator};

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else { return };
    let Ok(text) = std::str::from_utf8(rest) else { return };
    let format = [Format::List, Format::Csv, Format::Misp, Format::Stix][usize::from(pick % 4)];
    let column = if pick & 0x10 != 0 { "indicator" } else { "2" };
    match parse(text, format, column) {
        Ok(parsed) => {
            for i in &parsed.indicators {
                let text = match i {
                    Indicator::Url(u) => format!("http://{u}"),
                    other => other.to_string(),
                };
                let again = classify(&text, Expect::Any).expect("an indicator reads back");
                assert_eq!(&again, i);
            }
        }
        Err(e) => {
            let lines = text.lines().count().max(1);
            assert!(e.line.is_none_or(|n| n <= lines + 1), "{e} in a text of {lines} lines");
        }
    }
});
