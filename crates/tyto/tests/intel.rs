//! Threat intelligence end to end: indicator files of every format (a plain list,
//! CSV, a MISP event, a STIX 2.1 bundle), built from what Arkime's captures hold,
//! and one broken file; `tyto ingest --config` of the captures must mark exactly
//! the sessions an independent reading of `tyto dump` says match, refuse the broken
//! source naming its line, and raise one `intel` alert per indicator and client.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use common::{arkime_captures, ok, tyto};
use serde_json::{json, Value};

fn texts(s: &Value, field: &str) -> Vec<String> {
    match &s[field] {
        Value::Array(a) => a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect(),
        Value::String(v) => vec![v.clone()],
        _ => Vec::new(),
    }
}

fn first(sessions: &[Value], field: &str, pick: impl Fn(&str) -> bool) -> String {
    sessions
        .iter()
        .flat_map(|s| texts(s, field))
        .find(|v| pick(v))
        .unwrap_or_else(|| panic!("no {field} in the captures"))
}

/// The indicators a session matches, read from its fields without Tyto's matcher:
/// (source, indicator) pairs.
fn expected(s: &Value, sources: &[(&str, Vec<(String, &str)>)]) -> BTreeSet<String> {
    let all = |fields: &[&str]| fields.iter().flat_map(|f| texts(s, f)).collect::<Vec<_>>();
    let ips = all(&["ip.src", "ip.dst", "ip.dns", "ip.xff", "ip.socks"]);
    let names = all(&[
        "host.http",
        "host.dns",
        "host.tls",
        "host.quic",
        "dns.answer.cname",
        "cert.alt",
        "cert.subject.cn",
        "host.socks",
    ]);
    let uris = all(&["http.uri"]);
    let hashes: Vec<String> =
        all(&["tls.ja3", "tls.ja3s", "tls.ja4", "ssh.hassh", "cert.hash", "cert.sha256", "http.md5", "http.sha256"])
            .into_iter()
            .map(|h| h.replace(':', "").to_lowercase())
            .collect();
    let emails = all(&["email.src", "email.dst"]);
    let mut out = BTreeSet::new();
    for (source, indicators) in sources {
        for (value, kind) in indicators {
            let hit = match *kind {
                "ip" => ips.contains(value),
                "domain" => names.iter().any(|n| n == value || n.ends_with(&format!(".{value}"))),
                "url" => uris.iter().any(|u| u == value || u.split('?').next() == Some(value)),
                "hash" => hashes.contains(value),
                "email" => emails.contains(value),
                _ => unreachable!(),
            };
            if hit {
                out.insert(format!("{source}:{value}"));
            }
        }
    }
    out
}

fn ndjson(out: std::process::Output) -> Vec<Value> {
    String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[test]
fn indicator_files_of_every_format_mark_exactly_their_sessions_and_alert() {
    let Some(files) = arkime_captures() else { return };
    let dumped = ndjson(ok(tyto().arg("dump").args(&files).output().unwrap()));
    let by_start = |f: &str| {
        let mut v: Vec<&Value> = dumped.iter().filter(|s| !texts(s, f).is_empty()).collect();
        v.sort_by_key(|s| s["id"].as_str().unwrap_or("").to_string());
        v.into_iter().cloned().collect::<Vec<Value>>()
    };

    // The indicators, each taken from a different kind of session.
    let tls_server = first(&by_start("cert.hash"), "ip.dst", |_| true);
    let dns_name = first(&by_start("host.dns"), "host.dns", |n| n.split('.').count() >= 3);
    let parent = dns_name.split_once('.').unwrap().1.to_string();
    let uri = first(&by_start("http.uri"), "http.uri", |u| u.contains('?') && !u.contains(' '));
    let uri_path = uri.split('?').next().unwrap().to_string();
    let ja3 = first(&by_start("tls.ja3"), "tls.ja3", |_| true);
    let email = first(&by_start("email.src"), "email.src", |e| !e.contains('<') && e.contains('@'));
    let http_server = first(&by_start("http.uri"), "ip.dst", |ip| *ip != tls_server);
    let cert = first(&by_start("cert.hash"), "cert.hash", |_| true).replace(':', "");
    // A name (HTTP over SCTP's Host is an address, which another pick may be).
    let not_for_ids =
        first(&by_start("host.http"), "host.http", |h| h.contains('.') && h.parse::<std::net::IpAddr>().is_err());
    let sni = first(&by_start("host.tls"), "host.tls", |h| h.contains('.'));
    let body = first(&by_start("http.sha256"), "http.sha256", |_| true);

    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("list.txt"), format!("# a plain list\n{tls_server}\n*.{parent}\nhttp://{uri_path}\n"))
        .unwrap();
    std::fs::write(
        d.join("feed.csv"),
        format!("first_seen,indicator,comment\n2026-01-01,{ja3},\"a, quoted comment\"\n2026-01-02,{email},x\n"),
    )
    .unwrap();
    let misp = json!({"Event": {"info": "test event", "Attribute": [
        {"type": "ip-dst", "value": http_server, "to_ids": true},
        {"type": "x509-fingerprint-sha1", "value": cert, "to_ids": true},
        {"type": "hostname", "value": not_for_ids, "to_ids": false},
        {"type": "regkey", "value": "HKLM\\Software\\x", "to_ids": true},
    ]}});
    std::fs::write(d.join("misp.json"), serde_json::to_string_pretty(&misp).unwrap()).unwrap();
    let stix = json!({"type": "bundle", "id": "bundle--5d0092c5-5f74-4287-9642-33f4c354e56d", "objects": [
        {"type": "indicator", "spec_version": "2.1", "pattern_type": "stix", "pattern": format!("[domain-name:value = '{sni}']")},
        {"type": "indicator", "spec_version": "2.1", "pattern_type": "stix", "pattern": format!("[file:hashes.'SHA-256' = '{body}']")},
    ]});
    std::fs::write(d.join("stix.json"), serde_json::to_string_pretty(&stix).unwrap()).unwrap();
    std::fs::write(d.join("broken.txt"), "192.0.2.1\n# fine so far\nnot-an-indicator\n").unwrap();
    let source = |name: &str, file: &str, format: &str, column: &str| {
        let column = if column.is_empty() { String::new() } else { format!("column = \"{column}\"\n") };
        format!(
            "[[intel.source]]\nname = \"{name}\"\npath = \"{}\"\nformat = \"{format}\"\n{column}\n",
            d.join(file).display()
        )
    };
    let config = d.join("tyto.toml");
    std::fs::write(
        &config,
        format!(
            "[intel]\nreload_every_s = 0\n\n{}{}{}{}{}[detect]\nrealert_s = 1000000000\nmax_alerts_per_minute = 1000000\n",
            source("list", "list.txt", "list", ""),
            source("csv", "feed.csv", "csv", "indicator"),
            source("misp", "misp.json", "misp", ""),
            source("stix", "stix.json", "stix", ""),
            source("broken", "broken.txt", "list", ""),
        ),
    )
    .unwrap();

    let sources: Vec<(&str, Vec<(String, &str)>)> = vec![
        ("list", vec![(tls_server.clone(), "ip"), (parent.clone(), "domain"), (uri_path.clone(), "url")]),
        ("csv", vec![(ja3.clone(), "hash"), (email.clone(), "email")]),
        ("misp", vec![(http_server.clone(), "ip"), (cert.clone(), "hash")]),
        ("stix", vec![(sni.clone(), "domain"), (body.clone(), "hash")]),
    ];
    let want: BTreeMap<String, BTreeSet<String>> = dumped
        .iter()
        .map(|s| (s["id"].as_str().unwrap().to_string(), expected(s, &sources)))
        .filter(|(_, v)| !v.is_empty())
        .collect();
    for (source, indicators) in &sources {
        for (value, _) in indicators {
            let label = format!("{source}:{value}");
            assert!(want.values().any(|v| v.contains(&label)), "{label} matches no session: a bad choice of indicator");
        }
    }

    let data = d.join("data");
    let out =
        tyto().args(["ingest", "--config"]).arg(&config).arg("--data-dir").arg(&data).args(&files).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() || out.status.code() == Some(1), "{stderr}");
    assert!(
        stderr.contains("intel source `broken`") && stderr.contains("line 3: `not-an-indicator` is not"),
        "the broken source is refused with its line:\n{stderr}"
    );

    let got: BTreeMap<String, BTreeSet<String>> = ndjson(ok(tyto()
        .args(["sessions", "--format", "ndjson", "--limit", "100000", "--expr"])
        .arg("intel.source == [list, csv, misp, stix, broken]")
        .arg("--data-dir")
        .arg(&data)
        .output()
        .unwrap()))
    .iter()
    .map(|s| (s["id"].as_str().unwrap().to_string(), texts(s, "intel").into_iter().collect()))
    .collect();
    eprintln!("{} sessions matched {} indicators", got.len(), got.values().flatten().collect::<BTreeSet<_>>().len());
    assert_eq!(got, want);
    assert!(!got.values().flatten().any(|l| l.contains(&not_for_ids)), "an attribute not for detection matched");

    // One alert per indicator and client, each finding its sessions again.
    let alerts: Vec<Value> =
        ndjson(ok(tyto().args(["alerts", "--format", "ndjson", "--data-dir"]).arg(&data).output().unwrap()))
            .into_iter()
            .filter(|a| a["detector"] == "intel")
            .collect();
    let mut pairs: Vec<(String, String)> = alerts
        .iter()
        .flat_map(|a| texts(a, "targets").into_iter().map(|t| (t, a["source"].as_str().unwrap().to_string())))
        .collect();
    pairs.sort();
    let mut want_pairs: Vec<(String, String)> = dumped
        .iter()
        .flat_map(|s| {
            let src = s["ip.src"].as_str().unwrap_or("").to_string();
            expected(s, &sources).into_iter().map(move |l| (l, src.clone()))
        })
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    want_pairs.sort();
    eprintln!("{} intel alerts for {} (indicator, client) pairs", alerts.len(), pairs.len());
    assert_eq!(pairs, want_pairs);
    for a in &alerts {
        let expr = a["expression"].as_str().unwrap();
        let n = ok(tyto().args(["count", "--expr", expr, "--data-dir"]).arg(&data).output().unwrap());
        let n: u64 = String::from_utf8(n.stdout).unwrap().trim().parse().unwrap();
        assert!(n >= 1, "{expr} finds nothing");
    }
    assert!(Path::new(&data).is_dir());
}
