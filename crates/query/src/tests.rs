use super::*;

const NOW: i64 = 1_700_000_000_000_000_000;

fn err(expr: &str) -> QueryError {
    match compile(expr, NOW) {
        Ok(f) => panic!("{expr} compiled to {f:?}"),
        Err(e) => e,
    }
}

#[test]
fn precedence_is_not_then_and_then_or() {
    use ast::Expr;
    let e = parse("a == 1 || b == 2 && !c == 3").unwrap();
    let Expr::Or(parts) = e else { panic!("{e:?}") };
    assert_eq!(parts.len(), 2);
    let Expr::And(and) = &parts[1] else { panic!("{parts:?}") };
    assert!(matches!(and[1], Expr::Not(_)));
    // Parentheses override, `&`/`|`/`=` are Arkime's short forms.
    let e = parse("(port.src = 1 | port.dst = 2) & port.src = 3").unwrap();
    assert!(matches!(e, Expr::And(_)), "{e:?}");
}

#[test]
fn errors_name_the_column_and_the_cause() {
    let e = err("ip.scr == 10.0.0.1");
    assert_eq!((e.column, e.message.as_str()), (1, "unknown field 'ip.scr' (did you mean 'ip.src'?)"));
    let e = err("ip.src == 10.0.0.1 && port.dst == http");
    assert_eq!(e.column, 35);
    assert!(e.message.contains("'http' is not a number"), "{e}");
    let e = err("ip.dst == 10.0.0.0/33");
    assert_eq!(e.column, 11);
    assert!(e.message.contains("prefix length"), "{e}");
    let e = err("http.uri == /a(b/");
    assert!(e.message.starts_with("bad regular expression"), "{e}");
    // What RE2 (the stores' engine) refuses is refused here, with why.
    assert!(err("http.uri == /a{2000}/").message.contains("repetition count of 2000"));
    assert!(err("http.uri == /(x{2,1001})+/").message.contains("1001"));
    assert!(err("http.uri == /((a{100}){100}){100}/").message.contains("too large"));
    assert!(compile("http.uri == /a{1000}/", NOW).is_ok());
    assert_eq!(err("(port.src == 1 && port.dst == 2").to_string(), "column 1: '(' is never closed");
    assert_eq!(err("port.src == 1)").to_string(), "column 14: ')' has no '(' before it");
    assert_eq!(err("port.src == 1 &&").to_string(), "column 15: '&&' has nothing after it");
    assert_eq!(err("port.src == 1 || && port.dst == 2").to_string(), "column 15: '||' has nothing after it");
    assert_eq!(err("port.src ==").to_string(), "column 12: expected a value after '==', found the end");
    assert_eq!(
        err("port.src 80").to_string(),
        "column 10: expected ==, !=, <, <=, > or >= after 'port.src', found '80'"
    );
    assert_eq!(err("").to_string(), "column 1: empty expression");
    assert_eq!(err("tags == \"open").to_string(), "column 9: string starting here is not closed with \"");
    assert_eq!(err("tags == [a,b").to_string(), "column 9: list starting here is not closed with ]");
    assert!(err("http.uri < abc").message.contains("does not apply"));
    assert!(err("ip.src == *.1").message.contains("wildcards do not apply"));
    assert!(err("ip.dns == 10.0.0.1:53").message.contains("has no port"));
    assert!(err("starttime > yesterday").message.contains("is not a time"));
    for bad in ["fast", "-2", "2.5h", "0.0005", "1.5us", "3-", "5-2", ".s"] {
        let e = err(&format!("tcp.rtt.server == {bad}"));
        assert!(e.message.contains("is not a duration") || e.message.contains("empty range"), "{bad}: {e}");
    }
    assert!(err("tcp.rtt.server > 1-2").message.contains("a range takes"));
    assert!(err("tcp.rtt.server == /1/").message.contains("holds durations"));
    assert!(err("packets < EXISTS!").message.contains("EXISTS!"));
    assert!(err(&"(".repeat(100)).message.contains("nested"));
    // Columns count characters, not bytes.
    assert_eq!(err("tags == \"é\" && bogus == 1").column, 16);
}

#[test]
fn an_expression_that_expands_past_the_bound_is_refused_with_why() {
    let cidrs: Vec<String> = (0..1000).map(|i| format!("10.{}.{}.0/24", i / 256, i % 256)).collect();
    let e = err(&format!("ip == [{}]", cidrs.join(",")));
    assert_eq!(e.column, 1);
    assert!(e.message.contains("7000 comparisons") && e.message.contains("at most 4096"), "{e}");
    // The same ranges on one field are within the bound.
    assert_eq!(compile(&format!("ip.src == [{}]", cidrs.join(",")), NOW).unwrap().comparisons(), 1000);
}

#[test]
fn a_long_address_list_is_one_set_test_per_field() {
    // 5,000 addresses on the seven fields of `ip`: seven set tests, not 35,000
    // comparisons (this expression once held the store for twenty minutes).
    let list: Vec<String> = (0..5000).map(|i| format!("10.{}.{}.{}", i / 65536, (i / 256) % 256, i % 256)).collect();
    let f = compile(&format!("ip == [{}]", list.join(",")), NOW).unwrap();
    assert_eq!(f.comparisons(), 7);
    // Repeats collapse; ranges stay ranges beside the set.
    let f = compile("ip.src == [10.0.0.1, 10.0.0.1, 10.0.0.2, 10.1.0.0/16]", NOW).unwrap();
    assert_eq!(f.comparisons(), 2);
    let Filter::Or(parts) = f else { panic!("{f:?}") };
    assert!(matches!(&parts[1], Filter::IpIn { values, .. } if values.len() == 2), "{parts:?}");
    // All-of lists keep one comparison per item.
    assert_eq!(compile("ip.src == ]10.0.0.1, 10.0.0.2[", NOW).unwrap().comparisons(), 2);
}

/// Arkime's grammar: `/…/` is a regular expression only when its closing slash ends
/// the value; a path (`/js/app.js`) or an unclosed slash is a word.
#[test]
fn a_slash_begins_a_regex_only_when_one_ends_the_value() {
    use ast::{Expr, Value};
    let value = |q: &str| match parse(q).unwrap() {
        Expr::Term(t) => t.value,
        other => panic!("{other:?}"),
    };
    let word = |w: &str| Value::Word(w.into());
    assert_eq!(value("http.uri == /js/app.js"), word("/js/app.js"));
    assert_eq!(value("file == /data/*.pcap"), word("/data/*.pcap"));
    assert_eq!(value("http.uri == /unclosed"), word("/unclosed"));
    assert_eq!(value("http.uri == /a.*b/"), Value::Regex("a.*b".into()));
    assert_eq!(value("(http.uri == /a.*b/)"), Value::Regex("a.*b".into()));
    let Value::List { items, all: false } = value("http.uri == [/js/app.js, /x.*/ ]") else { panic!() };
    let items: Vec<Value> = items.into_iter().map(|(v, _)| v).collect();
    assert_eq!(items, [word("/js/app.js"), Value::Regex("x.*".into())]);
    assert!(parse("http.uri == /js/app.js && port.dst == 80").is_ok());
    assert!(compile("file == /data/*.pcap || http.uri == /a/", NOW).is_ok());
}

#[test]
fn a_time_covers_the_span_of_its_last_digit() {
    const S: i64 = 1_000_000_000;
    let day = tyto_schema::time::parse_time("2024-05-01").unwrap();
    let at = |w: &str| parse_when_span(w, NOW).unwrap();
    assert_eq!(at("2024-05-01"), (day, 86_400 * S));
    assert_eq!(at("2024/05/01 10:00"), (day + 36_000 * S, 60 * S));
    assert_eq!(at("2024-05-01T10:00:07Z"), (day + 36_007 * S, S));
    assert_eq!(at("2024-05-01T10:00:07.5"), (day + 36_007 * S + S / 2, S / 10));
    assert_eq!(at("2024-05-01T10:00:07.123456"), (day + 36_007 * S + 123_456_000, 1_000));
    // Finer than the stores keep: the microsecond it falls in.
    assert_eq!(at("2024-05-01T10:00:07.123456789"), (day + 36_007 * S + 123_456_000, 1_000));
    assert_eq!(at("1714557600"), (1_714_557_600 * S, S));
    assert_eq!(at("-5"), (-5 * S, S), "epoch seconds before 1970, as parse_time reads them");
    assert_eq!(at("1714557600.25"), (1_714_557_600 * S + S / 4, S / 100));
    assert_eq!(at("-1h"), (NOW - 3_600 * S, S));
    assert_eq!(parse_when("1714557600.25", NOW), Some(1_714_557_600 * S + S / 4));
    assert!(parse_when_span("1714557600.", NOW).is_none() && parse_when_span(".5", NOW).is_none());

    // `<`, `==` and `>` split the moments; `<=` and `>` take the whole span.
    let (t, w) = at("2024-05-01T10:00:07.5");
    let cmp = |op: &str| match compile(&format!("starttime {op} \"2024-05-01T10:00:07.5\""), NOW).unwrap() {
        Filter::TimeCmp { order, ns, .. } => (Some(order), ns, ns),
        Filter::TimeRange { lo, hi, .. } => (None, lo, hi),
        f => panic!("{op}: {f:?}"),
    };
    assert_eq!(cmp("<"), (Some(Order::Lt), t, t));
    assert_eq!(cmp("<="), (Some(Order::Lt), t + w, t + w));
    assert_eq!(cmp(">"), (Some(Order::Ge), t + w, t + w));
    assert_eq!(cmp(">="), (Some(Order::Ge), t, t));
    assert_eq!(cmp("=="), (None, t, t + w));
}

#[test]
fn a_star_makes_a_wildcard_quoted_or_not_and_a_question_mark_only_beside_one() {
    let m = |e: &str| match compile(e, NOW).unwrap() {
        Filter::Text { m, .. } => format!("{m:?}"),
        f => format!("{f:?}"),
    };
    assert_eq!(m("http.user-agent == \"Mozilla/5.0 (X11*\""), "Wildcard(\"Mozilla/5.0 (X11*\")");
    assert!(m("http.uri == /search?q").starts_with("Exact"));
    assert!(m("http.uri == \"a b?c\"").starts_with("Exact"));
    assert!(m("http.uri == a?b*").starts_with("Wildcard"));
    assert!(m("http.uri == \"*\"").starts_with("Exists"));
    assert!(m("http.uri == [\"a b*\", c]").contains("Wildcard"));
}

#[test]
fn an_exact_value_stays_exact_whatever_it_holds() {
    let m = |v: &str| match compile(&format!("http.uri == {}", exact_value(v)), NOW).unwrap() {
        Filter::Text { m, .. } => m,
        f => panic!("{v}: {f:?}"),
    };
    assert!(matches!(m("a b\"c\\d"), TextMatch::Exact(s) if s == "a b\"c\\d"));
    let TextMatch::Regex { pattern, .. } = m("*.example.com/a?b=/c\\*") else { panic!() };
    let re = regex::Regex::new(&format!("^(?:{pattern})$")).unwrap();
    assert!(re.is_match("*.example.com/a?b=/c\\*"));
    assert!(!re.is_match("x.example.com/a?b=/c\\*"));
}

#[test]
fn shortcuts_spread_their_values_as_a_typed_list_would() {
    use std::collections::HashMap;
    let book: HashMap<String, Shortcut> = [
        ("servers", ShortcutKind::Ip, &["10.0.0.1", "10.0.0.2", "192.168.0.0/16"][..]),
        ("web", ShortcutKind::Number, &["80", "443", "8000-8080"][..]),
        ("bad-hosts", ShortcutKind::String, &["Evil.example", "*.star.example", "a\"b"][..]),
        ("empty", ShortcutKind::String, &[][..]),
    ]
    .into_iter()
    .map(|(n, kind, v)| (n.to_string(), Shortcut { kind, values: v.iter().map(|s| s.to_string()).collect() }))
    .collect();
    let with = |e: &str| compile_in(e, &Context { now_ns: NOW, shortcuts: &book, zone: &Utc });
    let same = |a: &str, b: &str| {
        let (x, y) = (with(a).unwrap(), compile(b, NOW).unwrap());
        assert_eq!(format!("{x:?}"), format!("{y:?}"), "{a} against {b}");
    };
    same("ip.src == $servers", "ip.src == [10.0.0.1, 10.0.0.2, 192.168.0.0/16]");
    same("ip.src != $servers", "ip.src != [10.0.0.1, 10.0.0.2, 192.168.0.0/16]");
    same("ip == $servers", "ip == [10.0.0.1, 10.0.0.2, 192.168.0.0/16]");
    same("port.dst == $web", "port.dst == [80, 443, 8000-8080]");
    // Beside typed values in a list; twice; lower-case fields fold a shortcut's values.
    same("port.dst == [22, $web]", "port.dst == [22, 80, 443, 8000-8080]");
    let Filter::Text { m: TextMatch::AnyOf(v), .. } = with("host.http == [$bad-hosts, x]").unwrap() else {
        panic!("not one set test")
    };
    assert_eq!(v, ["evil.example", "*.star.example", "a\"b", "x"]);
    // A shortcut's value is exact: its `*` is a star, not a wildcard.
    let Filter::Text { m: TextMatch::AnyOf(v), .. } = with("http.user-agent == $bad-hosts").unwrap() else {
        panic!("not one set test")
    };
    assert_eq!(v, ["Evil.example", "*.star.example", "a\"b"]);
    // What is refused, and where.
    let refused = |e: &str, column: usize, says: &str| {
        let err = with(e).unwrap_err();
        assert_eq!(err.column, column, "{e}: {err}");
        assert!(err.message.contains(says), "{e}: {err}");
    };
    refused("ip.src == $nothing", 11, "no shortcut named '$nothing'");
    refused("port.dst == [22, $nothing]", 18, "no shortcut named '$nothing'");
    refused("port.dst == $servers", 13, "'$servers' holds IP addresses and port.dst holds integers");
    refused("host.http == $web", 14, "holds numbers");
    refused("starttime == $web", 14, "holds numbers and starttime holds times");
    refused("port.dst >= $web", 10, "a shortcut takes == or !=, not '>='");
    refused("port.dst == ]$web, 80[", 13, "all-of list");
    refused("host.http == $empty", 14, "'$empty' holds no values");
    // Without shortcuts (the CLI, the detectors), `$name` is an unknown shortcut.
    assert!(err("ip.src == $servers").message.contains("no shortcut named"));
    // A quoted `$` is text, not a shortcut.
    assert!(compile("http.uri == \"$servers\"", NOW).is_ok());
    assert!(valid_shortcut_name("my-list_2") && !valid_shortcut_name("a b") && !valid_shortcut_name(""));
}

/// A zone two hours ahead of UTC, one hour ahead before its change at
/// 2024-03-31T01:00:00Z (as central Europe's clocks moved that day).
struct TwoHoursAhead;

impl Zone for TwoHoursAhead {
    fn instant(&self, wall_ns: i64) -> Option<i64> {
        const H: i64 = 3_600_000_000_000;
        let change = 1_711_846_800 * 1_000_000_000;
        // Wall clocks jumped from 02:00 to 03:00 (one-hour offset before).
        Some(if wall_ns - H < change { wall_ns - H } else { (wall_ns - 2 * H).max(change) })
    }
}

#[test]
fn times_written_without_z_are_read_in_the_users_zone() {
    const S: i64 = 1_000_000_000;
    let zone = TwoHoursAhead;
    let at = |w: &str| parse_when_span_in(w, NOW, &zone).unwrap();
    // A wall-clock time is the zone's; with `Z`, epoch seconds or relative, an instant.
    assert_eq!(at("2024-05-01T12:00:00"), (1_714_557_600 * S, S));
    assert_eq!(at("2024/05/01 12:00"), (1_714_557_600 * S, 60 * S));
    assert_eq!(at("2024-05-01T12:00:00Z").0, 1_714_564_800 * S);
    assert_eq!(at("1714564800").0, 1_714_564_800 * S);
    assert_eq!(at("-1h").0, NOW - 3600 * S);
    // A day is the zone's day; the day clocks went forward is 23 hours long.
    assert_eq!(at("2024-05-01"), (1_714_514_400 * S, 86_400 * S));
    assert_eq!(at("2024-03-31"), (1_711_839_600 * S, 23 * 3600 * S));
    // In an expression, the same span.
    let in_zone = |e: &str| compile_in(e, &Context { now_ns: NOW, shortcuts: &NoShortcuts, zone: &zone }).unwrap();
    let Filter::TimeRange { lo, hi, .. } = in_zone("starttime == \"2024/05/01 12:00:00\"") else { panic!() };
    assert_eq!((lo, hi), (1_714_557_600 * S, 1_714_557_601 * S));
    let Filter::TimeRange { lo, .. } = compile("starttime == \"2024/05/01 12:00:00\"", NOW).unwrap() else { panic!() };
    assert_eq!(lo, 1_714_564_800 * S, "UTC without a zone");
}
