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
    assert!(e.message.contains("6000 comparisons") && e.message.contains("at most 4096"), "{e}");
    // The same ranges on one field are within the bound.
    assert_eq!(compile(&format!("ip.src == [{}]", cidrs.join(",")), NOW).unwrap().comparisons(), 1000);
}

#[test]
fn a_long_address_list_is_one_set_test_per_field() {
    // 5,000 addresses on the six fields of `ip`: six set tests, not 30,000 comparisons
    // (this expression once held the store for twenty minutes).
    let list: Vec<String> = (0..5000).map(|i| format!("10.{}.{}.{}", i / 65536, (i / 256) % 256, i % 256)).collect();
    let f = compile(&format!("ip == [{}]", list.join(",")), NOW).unwrap();
    assert_eq!(f.comparisons(), 6);
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
