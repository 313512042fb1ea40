use std::net::IpAddr;

use tyto_flow::Enrich;
use tyto_schema::metrics::Metrics;
use tyto_schema::SessionRecord;

use super::*;

fn source(dir: &Path, name: &str, format: Format, column: &str, text: &str) -> IntelSource {
    let path = dir.join(format!("{name}.txt"));
    std::fs::write(&path, text).unwrap();
    IntelSource { name: name.into(), path, format, column: column.into() }
}

fn session(src: &str, dst: &str) -> SessionRecord {
    SessionRecord {
        src_ip: Some(src.parse::<IpAddr>().unwrap().into()),
        dst_ip: Some(dst.parse::<IpAddr>().unwrap().into()),
        ..SessionRecord::default()
    }
}

fn intel_of(intel: &Intel, mut rec: SessionRecord) -> Vec<String> {
    intel.enrich(&mut rec);
    let mut v = rec.extra.texts("intel").to_vec();
    v.sort();
    v
}

#[test]
fn every_kind_matches_the_fields_it_names() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = IntelConfig {
        reload_every_s: 0,
        source: vec![
            source(
                dir.path(),
                "feed",
                Format::List,
                "",
                "198.51.100.0/24\n2001:db8:bad::/48\nevil.example\nbad.example/dl.exe\n\
                 e7d705a3286e19ea42f587b344ee6865\nab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:45:67:89:ab:cd:ef:01\n\
                 boss@phish.example\n",
            ),
            source(dir.path(), "other", Format::Csv, "1", "ioc\n198.51.100.7\n"),
        ],
    };
    let (intel, problems) = Intel::load(&cfg).unwrap();
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(intel.indicators(), 8);

    assert_eq!(intel_of(&intel, session("10.0.0.1", "198.51.100.7")), ["feed:198.51.100.0/24", "other:198.51.100.7"]);
    assert_eq!(intel_of(&intel, session("2001:db8:bad::9", "2001:db8::1")), ["feed:2001:db8:bad::/48"]);
    assert!(intel_of(&intel, session("10.0.0.1", "198.51.101.7")).is_empty());

    let mut rec = session("10.0.0.1", "192.0.2.1");
    rec.extra.add_text("host.dns", "a.b.EVIL.example").unwrap();
    rec.extra.add_text("host.tls", "notevil.example").unwrap();
    rec.extra.add_text("http.uri", "bad.example/dl.exe?id=4").unwrap();
    rec.extra.add_text("tls.ja3", "e7d705a3286e19ea42f587b344ee6865").unwrap();
    rec.extra.add_text("cert.hash", "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01").unwrap();
    rec.extra.add_text("email.src", "Boss <boss@phish.example>").unwrap();
    rec.extra.add_ip("ip.dns", "198.51.100.200".parse::<IpAddr>().unwrap().into()).unwrap();
    assert_eq!(
        intel_of(&intel, rec.clone()),
        [
            "feed:198.51.100.0/24",
            "feed:abcdef0123456789abcdef0123456789abcdef01",
            "feed:bad.example/dl.exe",
            "feed:boss@phish.example",
            "feed:e7d705a3286e19ea42f587b344ee6865",
            "feed:evil.example",
        ]
    );
    intel.enrich(&mut rec);
    assert_eq!(rec.extra.texts("intel.source"), ["feed"]);
    assert_eq!(intel.json()["matched_sessions"], 2 + 1 + 1);
}

#[test]
fn a_bad_source_is_refused_with_its_line_and_the_others_work() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = IntelConfig {
        reload_every_s: 0,
        source: vec![
            source(dir.path(), "good", Format::List, "", "192.0.2.1\n"),
            source(dir.path(), "bad", Format::List, "", "192.0.2.2\n# x\nno such thing\n"),
            IntelSource {
                name: "gone".into(),
                path: dir.path().join("missing"),
                format: Format::Stix,
                column: String::new(),
            },
        ],
    };
    let (intel, problems) = Intel::load(&cfg).unwrap();
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(problems[0].starts_with("intel source `bad` (") && problems[0].contains(": line 3: "), "{}", problems[0]);
    assert!(problems[1].contains("`gone`") && problems[1].contains("missing"), "{}", problems[1]);
    assert_eq!(intel.indicators(), 1);
    assert_eq!(intel_of(&intel, session("192.0.2.1", "192.0.2.2")), ["good:192.0.2.1"]);
    let json = intel.json();
    assert_eq!(json["sources"][1]["indicators"], 0);
    assert!(json["sources"][1]["error"].as_str().unwrap().contains("line 3"));

    let dup = IntelConfig { source: vec![cfg.source[0].clone(), cfg.source[0].clone()], ..IntelConfig::default() };
    assert!(Intel::load(&dup).err().unwrap().contains("given twice"));
    let mut odd = cfg.source[0].clone();
    odd.name = "a:b".into();
    assert!(IntelConfig { source: vec![odd], ..IntelConfig::default() }.check().unwrap_err().contains("`a:b`"));
}

#[test]
fn a_changed_file_is_read_again_and_a_broken_one_keeps_its_last_good_version() {
    let dir = tempfile::tempdir().unwrap();
    let s = source(dir.path(), "feed", Format::List, "", "first.example\n");
    let (intel, _) = Intel::load(&IntelConfig { reload_every_s: 0, source: vec![s.clone()] }).unwrap();
    let named = |name: &str| {
        let mut rec = session("10.0.0.1", "10.0.0.2");
        rec.extra.add_text("host.http", name).unwrap();
        intel_of(&intel, rec)
    };
    assert_eq!(named("www.first.example"), ["feed:first.example"]);
    assert!(intel.reload_changed().is_empty(), "nothing changed");

    // A new length is a change whatever the clock's resolution.
    std::fs::write(&s.path, "second.example\nthird.example\n").unwrap();
    let said = intel.reload_changed();
    assert_eq!(said.len(), 1);
    assert!(said[0].as_ref().unwrap().contains("2 indicators"), "{said:?}");
    assert!(named("www.first.example").is_empty());
    assert_eq!(named("second.example"), ["feed:second.example"]);

    std::fs::write(&s.path, "second.example\nthird example\n").unwrap();
    let said = intel.reload_changed();
    let e = said[0].as_ref().unwrap_err();
    assert!(e.contains("line 2") && e.contains("last good version"), "{e}");
    assert_eq!(named("second.example"), ["feed:second.example"]);
    assert!(intel.families().iter().any(|f| f.name == "tyto_intel_source_refused" && f.samples[0].value == 1));
}

#[test]
fn sessions_without_intel_stay_untouched() {
    let (intel, _) = Intel::load(&IntelConfig::default()).unwrap();
    let mut rec = session("192.0.2.1", "192.0.2.2");
    intel.enrich(&mut rec);
    assert!(rec.extra.is_empty());
}
