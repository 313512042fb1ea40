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
    assert!(e.message.contains("9000 comparisons") && e.message.contains("at most 4096"), "{e}");
    // The same ranges on one field are within the bound.
    assert_eq!(compile(&format!("ip.src == [{}]", cidrs.join(",")), NOW).unwrap().comparisons(), 1000);
}

#[test]
fn a_long_address_list_is_one_set_test_per_field() {
    // 5,000 addresses on the nine fields of `ip`: nine set tests, not 45,000
    // comparisons (this expression once held the store for twenty minutes).
    let list: Vec<String> = (0..5000).map(|i| format!("10.{}.{}.{}", i / 65536, (i / 256) % 256, i % 256)).collect();
    let f = compile(&format!("ip == [{}]", list.join(",")), NOW).unwrap();
    assert_eq!(f.comparisons(), 9);
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

#[test]
fn counts_of_values_are_searched_as_arkime_counts_them() {
    let rec = |tags: &[&str]| tyto_schema::SessionRecord {
        tags: tags.iter().map(|t| t.to_string()).collect(),
        ..Default::default()
    };
    let holds =
        |expr: &str, r: &tyto_schema::SessionRecord| Matcher::new(&compile(expr, NOW).unwrap()).unwrap().matches(r);
    let (none, one, three) = (rec(&[]), rec(&["a"]), rec(&["a", "b", "c"]));
    for (expr, want) in [
        ("tags.cnt == 0", [true, false, false]),
        ("tags.cnt == 1", [false, true, false]),
        ("tags.cnt != 1", [true, false, true]),
        ("tags.cnt > 1", [false, false, true]),
        ("tags.cnt < 2", [true, true, false]),
        ("tags.cnt <= 3", [true, true, true]),
        ("tags.cnt >= 3", [false, false, true]),
        ("tags.cnt == 2-5", [false, false, true]),
        ("tags.cnt == [0,3]", [true, false, true]),
        ("tags.cnt == -1", [false, false, false]),
        ("tags.cnt < 0", [false, false, false]),
        ("tags.cnt >= 0", [true, true, true]),
    ] {
        let got = [&none, &one, &three].map(|r| holds(expr, r));
        assert_eq!(got, want, "{expr}");
    }
    // A count that admits none is the negation of the counts it excludes (no leaf of
    // a count matches an empty field, so a store's side table needs no row for it).
    let Filter::Not(inner) = compile("tags.cnt < 2", NOW).unwrap() else { panic!() };
    assert!(matches!(*inner, Filter::Count { lo: 2, hi: i64::MAX, .. }), "{inner:?}");
    // Only fields that hold many values have a count; a count takes numbers.
    assert!(err("port.src.cnt == 1").message.contains("unknown field"));
    assert!(err("tags.cnt == abc").message.contains("'abc' is not a number (tags.cnt holds integers)"));
    assert!(err("tags.cnt == /1/").message.contains("compare it with numbers"));
    assert!(err("tags.cnt == EXISTS!").message.contains("compare it with numbers"));
    // Arkime's certificate count counts the certificates' fingerprints.
    assert!(compile("cert.cnt > 1", NOW).is_ok());
}

#[test]
fn tokens_search_the_words_of_a_value_as_arkime_splits_them() {
    let rec = |uris: &[&str]| {
        let mut r = tyto_schema::SessionRecord::default();
        let _ = r.extra.add_texts("http.uri", uris.iter().map(|u| u.to_string()));
        r
    };
    let holds =
        |expr: &str, r: &tyto_schema::SessionRecord| Matcher::new(&compile(expr, NOW).unwrap()).unwrap().matches(r);
    let login = rec(&["example.com/Admin/login.php?next=/home", "example.com/favicon.ico"]);
    for (expr, want) in [
        ("http.uri.tokens == admin", true),
        ("http.uri.tokens == LOGIN", true),
        ("http.uri.tokens == \"admin login\"", true),
        ("http.uri.tokens == \"admin/login.php\"", true),
        ("http.uri.tokens == \"login admin\"", false),
        ("http.uri.tokens == adm", false),
        ("http.uri.tokens == com", true),
        ("http.uri.tokens == [nothing, favicon]", true),
        ("http.uri.tokens == ]home, favicon[", true),
        ("http.uri.tokens == ]home, absent[", false),
        ("http.uri.tokens != php", false),
        // Wildcards and regular expressions apply to the whole value, as Arkime's.
        ("http.uri.tokens == *login*", true),
        ("http.uri.tokens == /.*favicon.*/", true),
        ("http.uri.tokens == EXISTS!", true),
    ] {
        assert_eq!(holds(expr, &login), want, "{expr}");
    }
    assert!(!holds("http.uri.tokens == admin", &rec(&[])));
    assert!(err("http.uri.tokens == \"/.\"").message.contains("holds no word"));
    assert!(err("http.uri.tokens > a").message.contains("does not apply"));
    assert!(err("port.src.tokens == 1").message.contains("unknown field"));
}

/// Arkime's fields Tyto does not have, each with why. Every field of Arkime's list
/// (`../shared/reference/arkime_fields.tsv`) is searchable in Tyto under Arkime's
/// name (a field, a name for several, an alias, a `.cnt` or a `.tokens`) or is here;
/// nothing here is searchable (a field added leaves this list in the same change).
/// A name ending with `.` stands for every field of that group.
const LEFT_OUT: &[(&str, &str)] = &[
    // Arkime's own bookkeeping.
    (
        "srcNode",
        "Arkime's record of the node a session was sent from to another cluster; Tyto does not forward sessions",
    ),
    ("scrubbed.by", "who scrubbed a session's data in Arkime; Tyto does not scrub stored sessions"),
    ("view", "a saved view named inside an expression; Tyto's views are applied from the viewer and the API"),
    ("huntId", "a hunt's matches are tagged `hunt:NAME` (`tags == hunt:NAME`) instead"),
    ("huntName", "a hunt's matches are tagged `hunt:NAME` (`tags == hunt:NAME`) instead"),
    ("asset", "Arkime's asset names come from its WISE plugins; Tyto keeps no asset inventory"),
    // Imports Tyto does not take.
    ("suricata.", "Suricata's alerts are not imported; Tyto's own rules and intel raise alerts"),
    ("zeekintel.", "Zeek's intel matches are not imported; Tyto matches intel lists itself (`intel`, `intel.source`)"),
];

/// Arkime's field list (`../shared/reference/arkime_fields.tsv`), when it is there.
fn arkime_reference() -> Option<String> {
    // At run time: a cached build reused from another checkout keeps a stale `env!`.
    let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into());
    let tsv = std::path::Path::new(&dir).join("../../../shared/reference/arkime_fields.tsv");
    let text = std::fs::read_to_string(&tsv);
    if text.is_err() {
        eprintln!("skipping: {} not found", tsv.display());
    }
    text.ok()
}

/// Every name is Arkime's, except fields Arkime does not have (listed, so a
/// misspelt Arkime name cannot slip in).
#[test]
fn names_are_arkimes_unless_arkime_lacks_the_field() {
    let Some(text) = arkime_reference() else { return };
    let arkime: std::collections::HashSet<&str> = text.lines().filter_map(|l| l.split('\t').next()).collect();
    let tyto_only = [
        "tcp.retransmissions",
        "tcp.outoforder",
        "tcp.overlaps",
        "tcp.gapbytes",
        "tcp.handshake",
        "tcp.rtt.server",
        "tcp.rtt.client",
        "tcp.first-data.src",
        "tcp.first-data.dst",
        "tcp.zerowindow.src",
        "tcp.zerowindow.dst",
        "tcp.windowfull.src",
        "tcp.windowfull.dst",
        "tcp.rst.src",
        "tcp.rst.dst",
        "http.response-time",
        "dns.response-time",
        "pgsql.query",
        "pgsql.response-time",
        "pgsql.error",
        "pgsql.rows",
        "tds.query",
        "tds.rpc",
        "tds.response-time",
        "tds.error",
        "tunnel",
        "session.closereason",
        "packetPos",
        "protocols.how",
        "risk",
        "risk.score",
        "app",
        "category",
        "intel",
        "intel.source",
        "http.content-type",
        "host.tls",
        "tls.alpn",
        "cert.sha256",
        "rdp.cookie",
        "bittorrent.infohash",
        "bittorrent.peerid",
        "esp.spi",
        "iec104.apciType",
        "iec104.uFunction",
        "iec104.typeId",
        "iec104.typeName",
        "iec104.cot",
        "iec104.commonAddress",
        "rtp.payloadType",
        "rtp.codec",
        "rtp.ssrc",
        "rtcp.cname",
        "ftp.control",
        "mongodb.command",
        "mongodb.collection",
        "mongodb.db",
        "redis.db",
        "redis.command",
        "redis.response-time",
        "redis.error",
        "redis.key",
        "mysql.query",
        "mysql.response-time",
        "mysql.error",
        "mysql.rows",
        "mongodb.response-time",
        "mongodb.error",
        "memcache.command",
        "memcache.key",
        "memcache.response-time",
        "memcache.status",
    ];
    // Fields Arkime defines from its configuration's `headers-http-request` and
    // `headers-http-response` (its sample configuration names these two), not in
    // its code's field list.
    let arkime_configured = ["http.referer", "http.location"];
    let names = tyto_schema::FIELDS.iter().map(|f| f.name).chain(tyto_schema::FIELD_SETS.iter().map(|s| s.name));
    let foreign: Vec<&str> =
        names.filter(|n| !arkime.contains(n) && !tyto_only.contains(n) && !arkime_configured.contains(n)).collect();
    assert!(foreign.is_empty(), "not Arkime's names: {foreign:?}");
}

#[test]
fn every_arkime_field_is_searchable_or_left_out_with_a_reason() {
    let Some(text) = arkime_reference() else { return };
    let searchable = |name: &str| {
        tyto_schema::lookup(name).is_some()
            || check::counted_field(name).is_some()
            || check::tokenised_field(name).is_some()
    };
    let left_out = |name: &str| {
        LEFT_OUT.iter().find(|(n, _)| *n == name || n.ends_with('.') && name.starts_with(n)).map(|(_, why)| *why)
    };
    // The reference's own placeholders (`<expression>`) name no field.
    let names: Vec<&str> =
        text.lines().skip(1).filter_map(|l| l.split('\t').next()).filter(|n| !n.starts_with('<')).collect();
    let unexplained: Vec<&str> = names.iter().copied().filter(|n| !searchable(n) && left_out(n).is_none()).collect();
    assert!(unexplained.is_empty(), "Arkime's fields neither searchable nor left out with a reason: {unexplained:?}");
    let stale: Vec<&str> = names.iter().copied().filter(|n| searchable(n) && left_out(n).is_some()).collect();
    assert!(stale.is_empty(), "searchable, yet listed as left out: {stale:?}");
    // Every entry of the list stands for a field of Arkime's.
    for (entry, why) in LEFT_OUT {
        assert!(!why.is_empty());
        assert!(names.iter().any(|n| n == entry || entry.ends_with('.') && n.starts_with(entry)), "{entry}");
    }
    let here = names.iter().filter(|n| searchable(n)).count();
    eprintln!("{here} of Arkime's {} fields are searchable; {} left out", names.len(), names.len() - here);
}

#[test]
fn tcp_flag_counts_hold_values_on_tcp_sessions_only() {
    let rec = |protocol: u8| tyto_schema::SessionRecord { ip_protocol: protocol, ..Default::default() };
    let holds =
        |expr: &str, r: &tyto_schema::SessionRecord| Matcher::new(&compile(expr, NOW).unwrap()).unwrap().matches(r);
    let (tcp, udp) = (rec(6), rec(17));
    assert!(holds("tcpflags.syn == 0", &tcp) && !holds("tcpflags.syn == 0", &udp));
    assert!(holds("tcpflags.syn == EXISTS!", &tcp) && !holds("tcpflags.syn == EXISTS!", &udp));
    assert!(!holds("tcpflags.syn != 0", &tcp) && holds("tcpflags.syn != 0", &udp));
}
