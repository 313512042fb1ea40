//! The search language end to end: the Arkime suite's captures are ingested, then
//! `tyto count` and `tyto sessions --expr` must find exactly the sessions that a
//! predicate written here in plain Rust finds in `tyto dump`'s output of the same
//! captures. The predicates read the JSON directly, sharing no code with the compiler.

mod common;

use common::ok;

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde_json::Value;

type Pred = fn(&Value) -> bool;

fn num(r: &Value, f: &str) -> i64 {
    r.get(f).and_then(Value::as_i64).unwrap_or(0)
}

/// A duration field's value (shown in milliseconds) in microseconds, as held.
fn micros(r: &Value, f: &str) -> Option<i64> {
    r.get(f).and_then(Value::as_f64).map(|ms| (ms * 1000.0).round() as i64)
}

fn text(r: &Value, f: &str) -> Option<String> {
    r.get(f).and_then(Value::as_str).map(str::to_string)
}

fn list(r: &Value, f: &str) -> Vec<Value> {
    r.get(f).and_then(Value::as_array).cloned().unwrap_or_default()
}

fn has(r: &Value, f: &str, v: &str) -> bool {
    list(r, f).iter().any(|x| x.as_str() == Some(v))
}

fn ip(r: &Value, f: &str) -> Option<IpAddr> {
    text(r, f).map(|s| s.parse().unwrap())
}

/// IPv4 CIDR membership, computed on its own here.
fn in_v4(a: Option<IpAddr>, net: [u8; 4], bits: u32) -> bool {
    match a {
        Some(IpAddr::V4(a)) => {
            let mask = if bits == 0 { 0 } else { u32::MAX << (32 - bits) };
            u32::from(a) & mask == u32::from_be_bytes(net) & mask
        }
        _ => false,
    }
}

/// Every address of a session: the endpoints and the addresses protocols carry.
fn any_ip(r: &Value) -> impl Iterator<Item = IpAddr> + '_ {
    let lists =
        ["ip.dns", "ip.dns.nameserver", "ip.dns.mailserver", "ip.xff", "ip.socks", "dhcp.requestIp", "ip.email"]
            .into_iter()
            .flat_map(|f| list(r, f));
    ip(r, "ip.src")
        .into_iter()
        .chain(ip(r, "ip.dst"))
        .chain(lists.filter_map(|v| v.as_str().map(|s| s.parse().unwrap())))
}

fn is(a: Option<IpAddr>, s: &str) -> bool {
    a == Some(s.parse().unwrap())
}

/// Every expression of the seed documents, verbatim, then more of the language.
const QUERIES: &[(&str, Pred)] = &[
    ("port.dst == 3389 && protocols == rdp", |r| num(r, "port.dst") == 3389 && has(r, "protocols", "rdp")),
    ("protocols == ftp && country.dst != JPN", |r| {
        has(r, "protocols", "ftp") && text(r, "country.dst").as_deref() != Some("JPN")
    }),
    ("ip.src == 10.1.1.3 && protocols == ftp && country.dst != JPN && bytes > 100000", |r| {
        is(ip(r, "ip.src"), "10.1.1.3")
            && has(r, "protocols", "ftp")
            && text(r, "country.dst").as_deref() != Some("JPN")
            && num(r, "bytes") > 100_000
    }),
    ("protocols == bittorrent", |r| has(r, "protocols", "bittorrent")),
    // Quoted values are wildcards when they hold a `*`, as in Arkime; `?` only beside one.
    ("http.user-agent == \"Mozilla/5.0 (Windows NT*\"", |r| {
        list(r, "http.user-agent").iter().filter_map(Value::as_str).any(|u| u.starts_with("Mozilla/5.0 (Windows NT"))
    }),
    ("http.uri == \"www.example.com/pat*q?v\"", |r| {
        list(r, "http.uri").iter().filter_map(Value::as_str).any(|u| {
            let b = u.as_bytes();
            u.starts_with("www.example.com/pat") && b.len() >= 22 && b[b.len() - 1] == b'v' && b[b.len() - 3] == b'q'
        })
    }),
    ("http.uri == www.example.com/path?q?v || http.uri == \"www.example.com/path?q=v\"", |r| {
        has(r, "http.uri", "www.example.com/path?q=v")
    }),
    ("http.user-agent == Acunetix || http.user-agent == pangolin", |r| {
        has(r, "http.user-agent", "Acunetix") || has(r, "http.user-agent", "pangolin")
    }),
    ("ip.src == 10.1.1.2 && http.uri == *", |r| is(ip(r, "ip.src"), "10.1.1.2") && !list(r, "http.uri").is_empty()),
    ("http.uri == malware_site.com && ip.dst != 10.0.0.0/8", |r| {
        has(r, "http.uri", "malware_site.com") && !in_v4(ip(r, "ip.dst"), [10, 0, 0, 0], 8)
    }),
    ("packets == 1 && ip.protocol == tcp && ip.src != 131.206.0.0/16 && ip.dst != 131.206.0.0/16", |r| {
        num(r, "packets") == 1
            && num(r, "ip.protocol") == 6
            && !in_v4(ip(r, "ip.src"), [131, 206, 0, 0], 16)
            && !in_v4(ip(r, "ip.dst"), [131, 206, 0, 0], 16)
    }),
    ("ip.src == 192.168.1.1 || ip.src == 10.1.1.1", |r| {
        is(ip(r, "ip.src"), "192.168.1.1") || is(ip(r, "ip.src"), "10.1.1.1")
    }),
    ("packets >= 1000", |r| num(r, "packets") >= 1000),
    ("host == nhnent.com", |r| {
        ["host.http", "host.dns", "host.tls", "host.quic", "host.smb", "dhcp.host", "host.socks"]
            .iter()
            .chain(&["host.dns.nameserver", "host.dns.mailserver"])
            .any(|f| has(r, f, "nhnent.com"))
    }),
    ("ip.dst == 10.0.0.0/8 && port.dst == [53, 80, 443]", |r| {
        in_v4(ip(r, "ip.dst"), [10, 0, 0, 0], 8) && [53, 80, 443].contains(&num(r, "port.dst"))
    }),
    ("ip == 192.168", |r| any_ip(r).any(|a| in_v4(Some(a), [192, 168, 0, 0], 16))),
    ("ip != 192.168", |r| !any_ip(r).any(|a| in_v4(Some(a), [192, 168, 0, 0], 16))),
    // A list of single addresses is one set test per field, beside its ranges.
    ("ip == [10.0.0.1, 192.168.1.1, 8.8.8.8, 10.0.0.1, 10.1.1.0/30]", |r| {
        any_ip(r).any(|a| {
            ["10.0.0.1", "192.168.1.1", "8.8.8.8"].iter().any(|s| is(Some(a), s)) || in_v4(Some(a), [10, 1, 1, 0], 30)
        })
    }),
    ("ip.dst != [10.0.0.1, 10.0.0.2]", |r| !is(ip(r, "ip.dst"), "10.0.0.1") && !is(ip(r, "ip.dst"), "10.0.0.2")),
    ("ip == 10.0.0.1:80 || ip.dst == 10.0.0.2:53", |r| {
        (is(ip(r, "ip.src"), "10.0.0.1") && num(r, "port.src") == 80)
            || (is(ip(r, "ip.dst"), "10.0.0.1") && num(r, "port.dst") == 80)
            || (is(ip(r, "ip.dst"), "10.0.0.2") && num(r, "port.dst") == 53)
    }),
    ("ip == :53", |r| num(r, "port.src") == 53 || num(r, "port.dst") == 53),
    ("protocols == udp && !(port.dst == 53 || port.src == 53)", |r| {
        has(r, "protocols", "udp") && num(r, "port.dst") != 53 && num(r, "port.src") != 53
    }),
    ("port != [53, 80, 443] && ip.protocol == [tcp, udp]", |r| {
        let p = [53, 80, 443];
        !p.contains(&num(r, "port.src")) && !p.contains(&num(r, "port.dst")) && [6, 17].contains(&num(r, "ip.protocol"))
    }),
    ("vlan == EXISTS!", |r| !list(r, "vlan").is_empty()),
    ("vlan != EXISTS! && ip.src != EXISTS!", |r| list(r, "vlan").is_empty() && r.get("ip.src").is_none()),
    ("ip.protocol != [tcp, udp, icmp]", |r| ![6, 17, 1].contains(&num(r, "ip.protocol"))),
    ("port.dst == 1-1023 && packets.dst == 0", |r| {
        (1..=1023).contains(&num(r, "port.dst")) && num(r, "packets.dst") == 0
    }),
    ("tcpflags.syn > 0 && tcpflags.syn-ack == 0", |r| num(r, "tcpflags.syn") > 0 && num(r, "tcpflags.syn-ack") == 0),
    ("mac.src == 00:* || mac.dst == *:FF", |r| {
        list(r, "mac.src").iter().any(|m| m.as_str().is_some_and(|m| m.starts_with("00:")))
            || list(r, "mac.dst").iter().any(|m| m.as_str().is_some_and(|m| m.ends_with(":ff")))
    }),
    ("mac == /.*:0[0-9]:.*/", |r| {
        ["mac.src", "mac.dst"].iter().any(|f| {
            list(r, f).iter().filter_map(Value::as_str).any(|m| {
                let parts: Vec<&str> = m.split(':').collect();
                parts[1..parts.len() - 1].iter().any(|p| p.starts_with('0') && p.as_bytes()[1].is_ascii_digit())
            })
        })
    }),
    ("ip.src == ipv6 && ip.dst != ipv6", |r| {
        matches!(ip(r, "ip.src"), Some(IpAddr::V6(_))) && !matches!(ip(r, "ip.dst"), Some(IpAddr::V6(_)))
    }),
    ("ip == ipv4 && ip.protocol == udp", |r| num(r, "ip.protocol") == 17 && any_ip(r).any(|a| a.is_ipv4())),
    ("ip.src == 2000::/3", |r| matches!(ip(r, "ip.src"), Some(IpAddr::V6(a)) if a.octets()[0] & 0xe0 == 0x20)),
    ("ip.dst == [224.0.0.0/4, ff00::/8]", |r| match ip(r, "ip.dst") {
        Some(IpAddr::V4(a)) => a.octets()[0] >= 224 && a.octets()[0] < 240,
        Some(IpAddr::V6(a)) => a.octets()[0] == 0xff,
        None => false,
    }),
    ("session.closereason == tcp-close", |r| text(r, "session.closereason").as_deref() == Some("tcp-close")),
    ("databytes.src > 0 && databytes.dst == 0", |r| num(r, "databytes.src") > 0 && num(r, "databytes.dst") == 0),
    ("ttl.src < 64 && ttl.src > 1", |r| {
        let t: Vec<i64> = list(r, "ttl.src").iter().filter_map(Value::as_i64).collect();
        t.iter().any(|&x| x < 64) && t.iter().any(|&x| x > 1)
    }),
    ("tunnel == [gre, vxlan, mpls] || outerip.src == EXISTS!", |r| {
        ["gre", "vxlan", "mpls"].iter().any(|t| has(r, "tunnel", t)) || !list(r, "outerip.src").is_empty()
    }),
    ("icmp.type == 8 && icmp.type != 0", |r| {
        let t: Vec<i64> = list(r, "icmp.type").iter().filter_map(Value::as_i64).collect();
        t.contains(&8) && !t.contains(&0)
    }),
    ("protocols == ]tcp, udp[", |r| has(r, "protocols", "tcp") && has(r, "protocols", "udp")),
    // TCP health: durations typed in milliseconds cover the span of their last digit.
    ("tcp.handshake == [reset, failed]", |r| matches!(text(r, "tcp.handshake").as_deref(), Some("reset" | "failed"))),
    ("tcp.rtt.server > 20 && tcp.rtt.client <= 1.5", |r| {
        micros(r, "tcp.rtt.server").is_some_and(|us| us > 20_999)
            && micros(r, "tcp.rtt.client").is_some_and(|us| us <= 1_599)
    }),
    ("tcp.rtt.client == 0.1-2 || tcp.first-data.dst >= 1s", |r| {
        micros(r, "tcp.rtt.client").is_some_and(|us| (100..=2_999).contains(&us))
            || micros(r, "tcp.first-data.dst").is_some_and(|us| us >= 1_000_000)
    }),
    ("(tcp.rst.src > 0 || tcp.rst.dst > 0) && tcp.handshake != ok && tcp.rtt.client != EXISTS!", |r| {
        (num(r, "tcp.rst.src") > 0 || num(r, "tcp.rst.dst") > 0)
            && text(r, "tcp.handshake").as_deref() != Some("ok")
            && r.get("tcp.rtt.client").is_none()
    }),
    ("http.response-time > 100 || dns.response-time == 10-50", |r| {
        let us = |f: &str| -> Vec<i64> {
            list(r, f).iter().filter_map(Value::as_f64).map(|ms| (ms * 1000.0).round() as i64).collect()
        };
        us("http.response-time").iter().any(|&t| t > 100_999)
            || us("dns.response-time").iter().any(|t| (10_000..=50_999).contains(t))
    }),
    ("tcp.zerowindow.src > 0 || tcp.zerowindow.dst > 0 || tcp.windowfull.src > 0 || tcp.windowfull.dst > 0", |r| {
        ["tcp.zerowindow.src", "tcp.zerowindow.dst", "tcp.windowfull.src", "tcp.windowfull.dst"]
            .iter()
            .any(|f| num(r, f) > 0)
    }),
    // Fields the dissectors fill, on the same captures.
    ("host == www.example.com", |r| {
        ["host.http", "host.dns", "host.tls", "host.quic", "host.smb", "dhcp.host", "host.socks"]
            .iter()
            .chain(&["host.dns.nameserver", "host.dns.mailserver"])
            .any(|f| has(r, f, "www.example.com"))
    }),
    ("protocols == dns && host.dns == *.com && dns.query.type == [A, aaaa]", |r| {
        has(r, "protocols", "dns")
            && list(r, "host.dns").iter().any(|h| h.as_str().is_some_and(|h| h.ends_with(".com")))
            && (has(r, "dns.query.type", "A") || has(r, "dns.query.type", "AAAA"))
    }),
    ("http.method == POST || http.statuscode >= 400", |r| {
        has(r, "http.method", "POST") || list(r, "http.statuscode").iter().any(|c| c.as_i64().is_some_and(|c| c >= 400))
    }),
    ("tls.ja3 == EXISTS! && tls.version != TLSv1.3", |r| {
        !list(r, "tls.ja3").is_empty() && !has(r, "tls.version", "TLSv1.3")
    }),
    ("ssh.ver == /ssh-2\\.0-openssh.*/", |r| {
        list(r, "ssh.ver").iter().any(|v| v.as_str().is_some_and(|v| v.starts_with("ssh-2.0-openssh")))
    }),
    ("protocols.how == *:payload && port.dst != [22, 53, 80, 443]", |r| {
        !list(r, "protocols.how").is_empty()
            && list(r, "protocols.how").iter().any(|h| h.as_str().is_some_and(|h| h.ends_with(":payload")))
            && ![22, 53, 80, 443].contains(&num(r, "port.dst"))
    }),
    // TCP's flag counts are values of TCP sessions only, as in Arkime.
    ("tcpflags.syn == 0 || tcpflags.fin == EXISTS! && ip.protocol != tcp", |r| {
        num(r, "ip.protocol") == 6 && num(r, "tcpflags.syn") == 0
    }),
    ("tcpflags.ack != 1 && ip.protocol == udp", |r| num(r, "ip.protocol") == 17),
    // Counts of values (Arkime's `.cnt`), in the sessions table and in side tables,
    // with counts that admit none.
    ("host.dns.cnt > 1", |r| list(r, "host.dns").len() > 1),
    ("protocols == http && http.uri.cnt < 2", |r| has(r, "protocols", "http") && list(r, "http.uri").len() < 2),
    ("protocols.cnt == [3, 5-6]", |r| matches!(list(r, "protocols").len(), 3 | 5 | 6)),
    ("cert.cnt >= 2 || dns.query.type.cnt != 1 && protocols == dns", |r| {
        list(r, "cert.hash").len() >= 2 || list(r, "dns.query.type").len() != 1 && has(r, "protocols", "dns")
    }),
    // Words of a value (Arkime's `.tokens`): split at non-word characters, any case.
    ("host.dns.tokens == \"google com\" || http.user-agent.tokens == [mozilla, curl]", |r| {
        let words = |v: &Value| -> Vec<String> {
            v.as_str()
                .unwrap_or_default()
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .filter(|w| !w.is_empty())
                .map(str::to_ascii_lowercase)
                .collect()
        };
        list(r, "host.dns").iter().any(|h| words(h).windows(2).any(|w| w == ["google", "com"]))
            || list(r, "http.user-agent").iter().any(|u| words(u).iter().any(|w| w == "mozilla" || w == "curl"))
    }),
    ("tags == \"'; DROP TABLE sessions; --\" || protocols == \"a\\\"b\\\\c\"", |_| false),
];

fn ingest(data: &Path, inputs: &[PathBuf]) {
    ok(common::tyto().args(["ingest", "--workers", "2", "--data-dir"]).arg(data).args(inputs).output().unwrap());
}

fn ids(rows: &[Value]) -> BTreeSet<String> {
    rows.iter().map(|r| r["id"].as_str().unwrap().to_string()).collect()
}

fn stored_ids(data: &Path, args: &[&str]) -> BTreeSet<String> {
    let out = ok(common::tyto()
        .args(["sessions", "--format", "ndjson", "--limit", "1000000", "--data-dir"])
        .arg(data)
        .args(args)
        .output()
        .unwrap());
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["id"].as_str().unwrap().to_string())
        .collect()
}

fn count(data: &Path, args: &[&str]) -> usize {
    let out = ok(common::tyto().args(["count", "--data-dir"]).arg(data).args(args).output().unwrap());
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

#[test]
fn expressions_find_exactly_the_sessions_they_describe() {
    let Some(files) = common::arkime_captures() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    ingest(&data, &files);
    let out = ok(common::tyto().args(["dump", "--workers", "2"]).args(&files).output().unwrap());
    let rows: Vec<Value> =
        String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(count(&data, &[]), rows.len());
    assert_eq!(stored_ids(&data, &[]), ids(&rows), "dump and the store hold the same sessions");

    let mut nonzero = 0;
    for (expr, pred) in QUERIES {
        let want: Vec<Value> = rows.iter().filter(|r| pred(r)).cloned().collect();
        let got = stored_ids(&data, &["--expr", expr]);
        assert_eq!(got, ids(&want), "{expr}");
        assert_eq!(count(&data, &["--expr", expr]), want.len(), "{expr}");
        eprintln!("{:>5}  {expr}", want.len());
        nonzero += usize::from(!want.is_empty());
    }
    assert!(nonzero >= 26, "only {nonzero} expressions matched anything: the captures no longer exercise the language");

    // The in-memory evaluation detectors run on each new session selects what the SQL does.
    let cfg = tyto_flow::PipelineConfig {
        analyzers: std::sync::Arc::new(tyto_dissect::Dissectors::default()),
        ..common::config(2, tyto_flow::FlowConfig::default())
    };
    let (_, records) = common::run(&files, &cfg);
    assert_eq!(records.len(), rows.len());
    for (expr, _) in QUERIES {
        let filter = tyto_query::compile(expr, 0).unwrap();
        let matcher = tyto_query::Matcher::new(&filter).unwrap();
        let got: BTreeSet<String> = records.iter().filter(|r| matcher.matches(r)).map(|r| r.id.clone()).collect();
        assert_eq!(got, stored_ids(&data, &["--expr", expr]), "in memory: {expr}");
    }

    // Time ranges: flags and expressions agree with the records' times.
    let mut starts: Vec<&str> = rows.iter().map(|r| r["starttime"].as_str().unwrap()).collect();
    starts.sort();
    let mid = starts[starts.len() / 2];
    let mid_s = &mid[..19];
    let after = rows.iter().filter(|r| r["stoptime"].as_str().unwrap() >= mid).count();
    let before = rows.iter().filter(|r| r["starttime"].as_str().unwrap() <= mid).count();
    assert_eq!(count(&data, &["--start", mid]), after);
    assert_eq!(count(&data, &["--stop", mid]), before);
    let started_from = rows.iter().filter(|r| &r["starttime"].as_str().unwrap()[..19] >= mid_s).count();
    assert_eq!(
        count(&data, &["--expr", &format!("starttime >= \"{}\"", mid_s.replace('-', "/").replace('T', " "))]),
        started_from
    );
    // Relative times: an hour ago, computed here (a few test captures carry future dates).
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as i64;
    let hour_ago = tyto_schema::time::format_rfc3339(now - 3_600_000_000_000);
    let recent = rows.iter().filter(|r| r["stoptime"].as_str().unwrap() >= hour_ago.as_str()).count();
    assert_eq!(count(&data, &["--start", "-1h"]), recent);
    assert_eq!(count(&data, &["--expr", "stoptime < -1h"]), rows.len() - recent);

    // A time typed to any precision means the span its last digit covers, and the six
    // comparisons agree: the rows' own times (fixed-width text, so a prefix is that
    // span) against what the store counts. The second with the most sessions, a
    // session's millisecond and microsecond inside it, a minute, a day, epoch seconds.
    let mut per_second: std::collections::BTreeMap<&str, usize> = Default::default();
    for s in &starts {
        *per_second.entry(&s[..19]).or_default() += 1;
    }
    let (busiest, n) = per_second.iter().max_by_key(|(_, n)| **n).map(|(s, n)| (*s, *n)).unwrap();
    assert!(n >= 3, "no second holds several sessions: the sub-second cases test nothing");
    let inner = starts.iter().filter(|s| s.starts_with(busiest)).nth(n / 2).unwrap();
    let epoch = tyto_schema::time::parse_time(&inner[..26]).unwrap();
    let arkime = |t: &str| t.replace('-', "/").replace('T', " ");
    let typed: [(String, &str); 6] = [
        (format!("\"{}\"", arkime(busiest)), busiest),
        (format!("\"{}\"", &inner[..23]), &inner[..23]),
        (format!("\"{}Z\"", &inner[..26]), &inner[..26]),
        (format!("\"{}\"", arkime(&busiest[..16])), &busiest[..16]),
        (format!("\"{}\"", arkime(&busiest[..10])), &busiest[..10]),
        (
            format!("{}.{:03}", epoch.div_euclid(1_000_000_000), epoch.rem_euclid(1_000_000_000) / 1_000_000),
            &inner[..23],
        ),
    ];
    for (value, prefix) in &typed {
        let of = |r: &Value| r["starttime"].as_str().unwrap()[..prefix.len()].to_string();
        let mut seen = Vec::new();
        for op in ["==", "!=", "<", "<=", ">", ">="] {
            let want = rows
                .iter()
                .filter(|r| {
                    let t = of(r);
                    let t = t.as_str();
                    match op {
                        "==" => t == *prefix,
                        "!=" => t != *prefix,
                        "<" => t < *prefix,
                        "<=" => t <= *prefix,
                        ">" => t > *prefix,
                        _ => t >= *prefix,
                    }
                })
                .count();
            let expr = format!("starttime {op} {value}");
            assert_eq!(count(&data, &["--expr", &expr]), want, "{expr}");
            seen.push(want);
        }
        assert!(seen[0] > 0 && seen[2] + seen[4] > 0, "{value}: {seen:?} leaves a comparison untested");
    }
}

#[test]
fn bad_expressions_exit_2_with_the_column() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let pcap = tmp.path().join("s.pcap");
    ok(common::tyto().args(["sample", "--hosts", "2", "-o"]).arg(&pcap).output().unwrap());
    ingest(&data, &[pcap]);
    for (expr, want) in [
        ("ip.scr == 10.0.0.1", "column 1: unknown field 'ip.scr' (did you mean 'ip.src'?)"),
        ("port.dst == 80 &&", "column 16: '&&' has nothing after it"),
        ("(port.dst == 80", "column 1: '(' is never closed"),
        ("ip.dst == 10.0.0.0/40", "column 11: '10.0.0.0/40' is not an IP value"),
        ("http.uri == /[a/", "column 13: bad regular expression"),
        ("port.dst == eighty", "column 13: 'eighty' is not a number"),
    ] {
        for cmd in ["count", "sessions"] {
            let out = common::tyto().args([cmd, "--data-dir"]).arg(&data).args(["--expr", expr]).output().unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{cmd} {expr}: {err}");
            assert!(err.contains(want), "{cmd} {expr}: {err}");
            assert!(err.contains(&format!("  {expr}\n")), "the expression is shown under the message: {err}");
        }
    }
    let out = common::tyto().args(["count", "--data-dir"]).arg(&data).args(["--start", "yesterday"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--start \"yesterday\" is not a time"));
}

#[test]
fn fields_lists_the_catalogue_with_sets_and_aliases() {
    let out = ok(common::tyto().args(["fields", "--json"]).output().unwrap());
    let rows: Vec<Value> =
        String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let by_name = |n: &str| rows.iter().find(|r| r["name"] == n).unwrap_or_else(|| panic!("{n} missing")).clone();
    assert_eq!(by_name("ip.src")["type"], "ip");
    assert_eq!(by_name("http.uri")["multi"], true);
    assert_eq!(by_name("host.http")["aliases"][0], "http.host");
    assert_eq!(by_name("host")["members"].as_array().unwrap().len(), 10);
    let table = ok(common::tyto().arg("fields").output().unwrap());
    let table = String::from_utf8_lossy(&table.stdout);
    assert!(table.lines().any(|l| l.starts_with("country.dst ") && l.contains("destination.geo.country_iso_code")));
}
