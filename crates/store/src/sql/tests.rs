//! The SQL each store is sent, as text: golden forms of the seeds' queries, every
//! kind of value, hostile strings, and every catalogue field in both dialects.

use tyto_query::compile;

use super::{filter, Dialect};
use crate::clickhouse::sql::ClickSql;
use crate::duck::protocol_sets::Known;
use crate::duck::sql::DuckSql;
use crate::ListQuery;

const NOW: i64 = 1_700_000_000_000_000_000;

fn duck(expr: &str) -> String {
    let f = compile(expr, NOW).unwrap_or_else(|e| panic!("{expr}: {e}"));
    filter(&known_protocols(), &f, &ListQuery::default())
}

/// DuckDB's dialect knowing three lists of protocols: 1 [tcp, rdp], 2 [tcp, ftp],
/// 3 [udp, dns].
fn known_protocols() -> DuckSql {
    let known = Known::of(&[(1, &["tcp", "rdp"]), (2, &["tcp", "ftp"]), (3, &["udp", "dns"])]);
    DuckSql { protocol_sets: std::cell::RefCell::new(std::sync::Arc::new(known)) }
}

fn ch(expr: &str) -> String {
    let f = compile(expr, NOW).unwrap_or_else(|e| panic!("{expr}: {e}"));
    filter(&ClickSql { global: false }, &f, &ListQuery::default())
}

/// A leaf on a field of a protocol's table, as DuckDB reads it.
fn side(table: &str, leaf: &str) -> String {
    format!("(rk IN (SELECT rk FROM {table} WHERE {leaf}))")
}

#[test]
fn seed_queries_compile_to_golden_duckdb_sql() {
    let cases: [(&str, &str); 10] = [
        ("port.dst == 3389 && protocols == rdp", r#"(coalesce("dst_port" = 3389, false) AND (protocol_set IN (1)))"#),
        (
            "protocols == ftp && country.dst != JPN",
            r#"((protocol_set IN (2)) AND (NOT coalesce("country_dst" = 'JPN', false)))"#,
        ),
        ("protocols == [tcp, dns]", "(protocol_set IN (1, 2, 3))"),
        ("protocols == smb", "false"),
        (
            "http.user-agent == Acunetix || http.user-agent == pangolin",
            r#"((rk IN (SELECT rk FROM sessions_http WHERE coalesce(list_contains("http_user_agent", 'Acunetix'), false))) OR (rk IN (SELECT rk FROM sessions_http WHERE coalesce(list_contains("http_user_agent", 'pangolin'), false))))"#,
        ),
        (
            "ip.src == 10.1.1.2 && http.uri == *",
            r#"(coalesce("src_ip" = 281470849581314::UHUGEINT, false) AND (rk IN (SELECT rk FROM sessions_http WHERE coalesce(len("http_uri") > 0, false))))"#,
        ),
        (
            "http.uri == malware_site.com && ip.dst != 10.0.0.0/8",
            r#"((rk IN (SELECT rk FROM sessions_http WHERE coalesce(list_contains("http_uri", 'malware_site.com'), false))) AND (NOT coalesce("dst_ip" BETWEEN 281470849515520::UHUGEINT AND 281470866292735::UHUGEINT, false)))"#,
        ),
        (
            "packets == 1 && ip.protocol == tcp",
            r#"(coalesce("packets" = 1, false) AND coalesce("ip_protocol" = 6, false))"#,
        ),
        ("packets >= 1000", r#"coalesce("packets" >= 1000, false)"#),
        (
            "ip.src == 192.168.1.1 || ip.src == 10.1.1.1",
            r#"(coalesce("src_ip" = 281473913979137::UHUGEINT, false) OR coalesce("src_ip" = 281470849581313::UHUGEINT, false))"#,
        ),
    ];
    for (expr, want) in cases {
        assert_eq!(duck(expr), want, "{expr}");
    }
    // `host` is every host field; `!=` on a set means none matches.
    let host = duck("host == nhnent.com");
    assert!(
        host.starts_with(&format!(
            "({} OR ",
            side("sessions_http", r#"coalesce(list_contains("http_host", 'nhnent.com'), false)"#)
        )),
        "{host}"
    );
    assert!(host.contains(r#"list_contains("dns_host", 'nhnent.com')"#) && host.contains("tls_sni"), "{host}");
    // A time range prunes the protocol's table too.
    let f = compile("host.dns == a.example", NOW).unwrap();
    let q = ListQuery { start_ns: Some(1_000_000_000), stop_ns: Some(2_000_000_000), ..ListQuery::default() };
    assert_eq!(
        filter(&DuckSql::default(), &f, &q),
        side(
            "sessions_dns",
            r#"side_stop >= make_timestamp(1000000) AND side_start <= make_timestamp(2000000) AND coalesce(list_contains("dns_host", 'a.example'), false)"#
        )
    );
    assert_eq!(duck("port != 80"), r#"(NOT (coalesce("src_port" = 80, false) OR coalesce("dst_port" = 80, false)))"#);
}

#[test]
fn seed_queries_compile_to_golden_clickhouse_sql() {
    let cases = [
        ("port.dst == 3389 && protocols == rdp", r#"(ifNull("dst_port" = 3389, 0) AND has("protocols", 'rdp'))"#),
        (
            "ip.src == 10.1.1.3 && protocols == ftp && country.dst != JPN && bytes > 100000",
            r#"(ifNull("src_ip" = unhex('00000000000000000000ffff0a010103'), 0) AND has("protocols", 'ftp') AND (NOT ifNull("country_dst" = 'JPN', 0)) AND ifNull("bytes" > 100000, 0))"#,
        ),
        (
            "packets == 1 && ip.protocol == tcp && ip.src != 131.206.0.0/16 && ip.dst != 131.206.0.0/16",
            concat!(
                r#"(ifNull("packets" = 1, 0) AND ifNull("ip_protocol" = 6, 0) AND "#,
                r#"(NOT ifNull("src_ip" BETWEEN unhex('00000000000000000000ffff83ce0000') AND unhex('00000000000000000000ffff83ceffff'), 0)) AND "#,
                r#"(NOT ifNull("dst_ip" BETWEEN unhex('00000000000000000000ffff83ce0000') AND unhex('00000000000000000000ffff83ceffff'), 0)))"#
            ),
        ),
        ("protocols == bittorrent", r#"has("protocols", 'bittorrent')"#),
        ("http.uri == *", r#"notEmpty("http_uri")"#),
        ("host.http == *.example.com", r#"arrayExists(x -> x LIKE '%.example.com', "http_host")"#),
        (r"http.uri == /.*\.php/", r#"arrayExists(x -> match(x, '^(?:.*\\.php)$'), "http_uri")"#),
        ("vlan > 100", r#"arrayExists(x -> x > 100, "vlan")"#),
    ];
    for (expr, want) in cases {
        assert_eq!(ch(expr), want, "{expr}");
    }
}

#[test]
fn values_of_every_kind() {
    assert_eq!(duck("port.dst == [80, 443]"), r#"coalesce("dst_port" IN (80, 443), false)"#);
    assert_eq!(duck("port.dst == 1024-2048"), r#"coalesce("dst_port" BETWEEN 1024 AND 2048, false)"#);
    assert_eq!(
        duck("tags == ]a,b["),
        r#"(coalesce(list_contains("tags", 'a'), false) AND coalesce(list_contains("tags", 'b'), false))"#
    );
    assert_eq!(duck("tags == [a,\"b,c\"]"), r#"coalesce(list_has_any("tags", ['a', 'b,c']), false)"#);
    assert_eq!(duck("tags != EXISTS!"), r#"(NOT coalesce(len("tags") > 0, false))"#);
    assert_eq!(duck("ip.dst == 10.1"), duck("ip.dst == 10.1.0.0/16"));
    assert_eq!(
        duck("ip.dst == 10.0.0.1:443"),
        r#"(coalesce("dst_ip" = 281470849515521::UHUGEINT, false) AND coalesce("dst_port" = 443, false))"#
    );
    let v6 = duck("ip.src == 2001:db8::1.443");
    assert!(
        v6.contains("\"src_port\" = 443") && v6.contains("42540766411282592856903984951653826561::UHUGEINT"),
        "{v6}"
    );
    // `ip` with a port: only address fields that have a port.
    assert_eq!(
        duck("ip == 10.0.0.1:80"),
        concat!(
            r#"((coalesce("src_ip" = 281470849515521::UHUGEINT, false) AND coalesce("src_port" = 80, false)) OR "#,
            r#"(coalesce("dst_ip" = 281470849515521::UHUGEINT, false) AND coalesce("dst_port" = 80, false)))"#
        )
    );
    assert!(duck("ip == 10.0.0.1").contains("dns_ip"), "without a port, every address field");
    // Lower-cased fields lower the value; upper-cased ones raise it; URLs lose their scheme.
    assert_eq!(
        duck("host.http == WWW.Example.COM"),
        side("sessions_http", r#"coalesce(list_contains("http_host", 'www.example.com'), false)"#)
    );
    assert_eq!(
        duck("host.http == https://x.org/a/b"),
        side("sessions_http", r#"coalesce(list_contains("http_host", 'x.org'), false)"#)
    );
    assert_eq!(
        duck("http.uri == http://x.org/a"),
        side("sessions_http", r#"coalesce(list_contains("http_uri", 'x.org/a'), false)"#)
    );
    assert_eq!(duck("country.src == jpn"), r#"coalesce("country_src" = 'JPN', false)"#);
    assert_eq!(
        duck("mac.src == 00-11-22-AA-BB-CC"),
        r#"coalesce(list_contains("mac_src", '00:11:22:aa:bb:cc'), false)"#
    );
    // Text fields keep case; a quoted value with * in it is a wildcard, as in Arkime.
    assert_eq!(
        duck("http.user-agent == \"curl*\""),
        side(
            "sessions_http",
            r#"coalesce(len(list_filter("http_user_agent", lambda x: x LIKE 'curl%' ESCAPE '\')) > 0, false)"#
        )
    );
    assert_eq!(
        duck("http.user-agent == curl?7*"),
        side(
            "sessions_http",
            r#"coalesce(len(list_filter("http_user_agent", lambda x: x LIKE 'curl_7%' ESCAPE '\')) > 0, false)"#
        )
    );
    assert_eq!(
        duck("host.dns == /.*\\.EXAMPLE\\.com/"),
        side(
            "sessions_dns",
            r#"coalesce(len(list_filter("dns_host", lambda x: regexp_full_match(x, '(?i).*\.EXAMPLE\.com'))) > 0, false)"#
        )
    );
    assert_eq!(duck("ip.protocol == [tcp, udp]"), r#"coalesce("ip_protocol" IN (6, 17), false)"#);
    assert_eq!(duck("starttime >= 0"), r#"coalesce("start_time" >= make_timestamp(0), false)"#);
    assert_eq!(
        duck("stoptime < -1h"),
        format!(r#"coalesce("stop_time" < make_timestamp({}), false)"#, (NOW - 3_600_000_000_000) / 1000)
    );
    assert_eq!(
        duck("starttime == \"2024/05/01 10:00:00\""),
        r#"coalesce(("start_time" >= make_timestamp(1714557600000000) AND "start_time" < make_timestamp(1714557601000000)), false)"#
    );
    assert_eq!(duck("source.ip == 10.0.0.1"), duck("ip.src == 10.0.0.1"), "ECS names are aliases");
    // Durations are typed in milliseconds and held in microseconds; a value covers
    // the span of its last digit.
    assert_eq!(duck("tcp.rtt.server > 2"), r#"coalesce("tcp_rtt_server" > 2999, false)"#);
    assert_eq!(duck("tcp.rtt.server <= 2.5"), r#"coalesce("tcp_rtt_server" <= 2599, false)"#);
    assert_eq!(duck("tcp.rtt.server < 2.5"), r#"coalesce("tcp_rtt_server" < 2500, false)"#);
    assert_eq!(duck("tcp.rtt.client == 2.5"), r#"coalesce("tcp_rtt_client" BETWEEN 2500 AND 2599, false)"#);
    assert_eq!(duck("tcp.rtt.client == 300us-1.5s"), r#"coalesce("tcp_rtt_client" BETWEEN 300 AND 1599999, false)"#);
    assert_eq!(ch("tcp.first-data.dst >= 1s"), r#"ifNull("tcp_first_data_dst" >= 1000000, 0)"#);
}

#[test]
fn hostile_strings_stay_inside_their_literals() {
    let cases = [
        (r#"tags == "a'b""#, r#"coalesce(list_contains("tags", 'a''b'), false)"#),
        (
            r#"tags == "'; DROP TABLE sessions; --""#,
            r#"coalesce(list_contains("tags", '''; DROP TABLE sessions; --'), false)"#,
        ),
        (r#"tags == "back\\slash""#, r#"coalesce(list_contains("tags", 'back\slash'), false)"#),
        ("tags == \"nul\u{0}here\"", r#"coalesce(list_contains("tags", ('nul' || chr(0) || 'here')), false)"#),
        (r#"tags == "%_""#, r#"coalesce(list_contains("tags", '%_'), false)"#),
        (r#"tags == "%_*""#, r#"coalesce(len(list_filter("tags", lambda x: x LIKE '\%\_%' ESCAPE '\')) > 0, false)"#),
        (
            r#"tags == a%b_c*"#,
            r#"coalesce(len(list_filter("tags", lambda x: x LIKE 'a\%b\_c%' ESCAPE '\')) > 0, false)"#,
        ),
    ];
    for (expr, want) in cases {
        assert_eq!(duck(expr), want, "{expr}");
    }
    assert_eq!(ch(r#"tags == "'; DROP TABLE x; --\\""#), r#"has("tags", '\'; DROP TABLE x; --\\')"#);
    assert_eq!(ch("tags == \"a\u{0}b\""), r#"has("tags", 'a\x00b')"#);
    assert_eq!(DuckSql::default().string_literal(""), "''");
}

#[test]
fn every_catalogue_field_compiles_for_both_dialects() {
    for f in tyto_schema::FIELDS.iter().filter(|f| f.in_dump) {
        let value = match f.kind {
            tyto_schema::FieldKind::Ip => "10.0.0.1",
            tyto_schema::FieldKind::Integer => "1",
            tyto_schema::FieldKind::Date => "2024-01-01",
            tyto_schema::FieldKind::Duration => "2.5",
            _ => "x*",
        };
        for expr in [format!("{} == {value}", f.name), format!("{} != EXISTS!", f.name)] {
            // (ClickHouse integers and times always hold a value: EXISTS! is constant there.)
            let want = format!("\"{}\"", f.column);
            // (A packed field is read from its table's lists, by name.)
            let duck_want = if crate::duck::sql::packed(f) { format!("'{}'", f.column) } else { want.clone() };
            assert!(duck(&expr).contains(&duck_want), "{expr}");
            if let Some(t) = crate::duck::sql::side_table(f) {
                assert!(duck(&expr).contains(&format!("FROM {t} WHERE")), "{expr}");
            }
            if expr.contains("==") {
                assert!(ch(&expr).contains(&want), "{expr}");
            }
        }
    }
}

#[test]
fn a_long_address_list_is_one_set_test_per_field() {
    let list: Vec<String> = (0..5000).map(|i| format!("10.{}.{}.{}", i / 65536, (i / 256) % 256, i % 256)).collect();
    let expr = format!("ip == [{}]", list.join(","));
    let sql = duck(&expr);
    assert!(sql.contains("\"src_ip\" IN (") && sql.contains("list_has_any("), "{}", &sql[..300]);
    assert!(ch(&expr).contains("\"src_ip\" IN (unhex("));
    let sql = duck("ip.src == [10.0.0.1, 10.0.0.1, 10.0.0.2, 10.1.0.0/16]");
    assert!(sql.contains("BETWEEN") && sql.matches("::UHUGEINT").count() == 4, "{sql}");
}

/// The query fuzzer's inputs (`fuzz/corpus/query`, grown by `scripts/fuzz.sh`, when
/// this checkout has one) and the language's odd corners through both dialects: what
/// compiles becomes SQL without a panic, and DuckDB's never carries a NUL (its C API
/// would cut the statement there). The fuzz target stops at the compiler and the
/// matcher, so that its build need not compile DuckDB.
#[test]
fn fuzzed_and_odd_queries_become_sql_for_both_dialects() {
    let mut texts: Vec<String> = [
        "!(host == [a.com, \"b\\\"c\", /x.*y/] || tags == ]a,b[) && starttime > -1d",
        "ip == 2001:db8::1.443 || ip == 10.0.0.1:80 || port == 1-1023 || vlan != EXISTS!",
        "tags == \"\u{0}\" || host == /\u{0}/ || http.uri == *\u{0}*",
        "((((((((port == 1))))))))",
        "host.dns == [\"\", \"*\", \"**\", \"a*b*c\"]",
        "ip != [::, 0.0.0.0/0, ffff::/16, 10.0.0.1:0]",
        "starttime == \"2024-01-01T00:00:00Z\" && stoptime <= 0 && bytes >= 18446744073709551615",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/query");
    if let Ok(entries) = std::fs::read_dir(&dir) {
        for entry in entries.flatten() {
            if let Ok(text) = std::fs::read(entry.path()).map(String::from_utf8) {
                texts.extend(text.ok());
            }
        }
    }
    let mut compiled = 0;
    for text in &texts {
        let Ok(f) = compile(text, NOW) else { continue };
        let sql = filter(&DuckSql::default(), &f, &ListQuery::default());
        assert!(!sql.contains('\0'), "{text:?}");
        let _ = filter(&ClickSql { global: false }, &f, &ListQuery::default());
        compiled += 1;
    }
    assert!(compiled >= 5, "only {compiled} of {} queries compile", texts.len());
}

/// Every column moved out of `sessions` for being seldom filled is a catalogue
/// field's, and a list: a session without a row in their table then reads as one
/// whose list is empty, which is what the column held for it before.
#[test]
fn the_rare_columns_are_catalogue_lists() {
    for column in crate::duck::sql::RARE_COLUMNS {
        let f = tyto_schema::FIELDS.iter().find(|f| f.column == *column);
        assert!(f.is_some_and(|f| f.multi), "{column}");
        assert_eq!(crate::duck::sql::side_table(f.unwrap()).as_deref(), Some(crate::duck::sql::RARE_TABLE));
    }
}
