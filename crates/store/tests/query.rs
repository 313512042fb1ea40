//! Expressions over fields that dissectors and enrichment fill (HTTP, DNS, TLS,
//! countries…): records carrying such values are stored, and every expression must
//! find exactly the records a plain-Rust predicate over the same records picks.

use tyto_packet::Addr;
use tyto_query::compile;
use tyto_schema::{SessionRecord, Values};
use tyto_store::{DuckStore, ListQuery, SessionReader, SessionWriter};

fn texts<'a>(r: &'a SessionRecord, f: &str) -> &'a [String] {
    match r.extra.get(f) {
        Some(Values::Text(v)) => v,
        _ => &[],
    }
}

fn ints(r: &SessionRecord, f: &str) -> Vec<i64> {
    match r.extra.get(f) {
        Some(Values::Int(v)) => v.clone(),
        _ => Vec::new(),
    }
}

fn v4(a: [u8; 4]) -> Addr {
    Addr::from_v4(a)
}

const HOSTILE: &[&str] = &["'; DROP TABLE sessions; --", "back\\slash", "nul\u{0}byte", "100%_*?", "quote\"d", "é ü"];

/// Deterministic variety: every combination appears, none is hand-placed for a query.
fn records(n: u64) -> Vec<SessionRecord> {
    let hosts = ["nhnent.com", "WWW.Example.COM", "mail.example.com", "evil.test"];
    let agents = ["Acunetix", "pangolin", "Mozilla/5.0 (X11; Linux)", "curl/8.5.0"];
    let uris = ["malware_site.com", "malware_site.com/x.php", "a.org/index.html", "b.net/login.php?u=1"];
    let countries = [Some("JPN"), Some("usa"), None];
    let v6: Addr = "2001:db8::5".parse::<std::net::IpAddr>().unwrap().into();
    let srcs = [v4([10, 1, 1, 2]), v4([10, 1, 1, 3]), v4([192, 168, 1, 1]), v6];
    let dsts = [v4([10, 9, 8, 7]), v4([8, 8, 8, 8]), v4([131, 206, 1, 1])];
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move |m: usize| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x % m as u64) as usize
    };
    (0..n)
        .map(|i| {
            let mut r = SessionRecord {
                id: format!("s{i}"),
                root_id: format!("s{i}"),
                segment: 1,
                node: "t".into(),
                ip_protocol: 6,
                src_ip: Some(srcs[next(srcs.len())]),
                dst_ip: Some(dsts[next(dsts.len())]),
                src_port: 40000 + next(100) as u16,
                dst_port: [80, 443, 21, 3389, 53][next(5)],
                start_ns: 1_700_000_000_000_000_000 + i as i64 * 1_000_000_000,
                stop_ns: 1_700_000_000_000_000_000 + i as i64 * 1_000_000_000 + 500_000_000,
                protocols: vec!["tcp".into(), ["http", "ftp", "rdp", "bittorrent", "dns"][next(5)].into()],
                ..SessionRecord::default()
            };
            r.src.packets = 1 + next(3) as u64;
            r.src.bytes = [60, 5_000, 200_000][next(3)];
            if next(2) == 0 {
                r.extra.add_text("host.http", hosts[next(hosts.len())]).unwrap();
                r.extra.add_text("http.user-agent", agents[next(agents.len())]).unwrap();
                r.extra.add_text("http.uri", uris[next(uris.len())]).unwrap();
                r.extra.add_text("http.uri", uris[next(uris.len())]).unwrap();
                r.extra.add_int("http.statuscode", [200, 404, 500][next(3)]).unwrap();
            }
            if next(3) == 0 {
                r.extra.add_text("host.dns", hosts[next(hosts.len())]).unwrap();
                r.extra.add_ip("ip.dns", v4([10, 0, next(3) as u8, 1])).unwrap();
            }
            if next(4) == 0 {
                r.extra.add_text("host.tls", hosts[next(hosts.len())]).unwrap();
                let t = 1_500_000_000_000_000_000 + next(3) as i64 * 100_000_000_000_000_000;
                r.extra.add_time("cert.notafter", t).unwrap();
            }
            if let Some(c) = countries[next(countries.len())] {
                r.extra.add_text("country.dst", c).unwrap();
            }
            if let Some(c) = countries[next(countries.len())] {
                r.extra.add_text("country.src", c).unwrap();
            }
            r.tags.push(HOSTILE[next(HOSTILE.len())].into());
            r
        })
        .collect()
}

type Pred = fn(&SessionRecord) -> bool;

fn any_host(r: &SessionRecord, h: &str) -> bool {
    ["host.http", "host.dns", "host.tls"].iter().any(|f| texts(r, f).iter().any(|x| x == h))
}

fn country(r: &SessionRecord, f: &str) -> Option<String> {
    texts(r, f).first().cloned()
}

const CASES: &[(&str, Pred)] = &[
    ("port.dst == 3389 && protocols == rdp", |r| r.dst_port == 3389 && r.protocols.iter().any(|p| p == "rdp")),
    ("protocols == ftp && country.dst != JPN", |r| {
        r.protocols.iter().any(|p| p == "ftp") && country(r, "country.dst").as_deref() != Some("JPN")
    }),
    ("ip.src == 10.1.1.3 && protocols == ftp && country.dst != JPN && bytes > 100000", |r| {
        r.src_ip == Some(v4([10, 1, 1, 3]))
            && r.protocols.iter().any(|p| p == "ftp")
            && country(r, "country.dst").as_deref() != Some("JPN")
            && r.bytes() > 100_000
    }),
    ("protocols == bittorrent", |r| r.protocols.iter().any(|p| p == "bittorrent")),
    ("http.user-agent == Acunetix || http.user-agent == pangolin", |r| {
        texts(r, "http.user-agent").iter().any(|a| a == "Acunetix" || a == "pangolin")
    }),
    ("ip.src == 10.1.1.2 && http.uri == *", |r| {
        r.src_ip == Some(v4([10, 1, 1, 2])) && !texts(r, "http.uri").is_empty()
    }),
    ("http.uri == malware_site.com && ip.dst != 10.0.0.0/8", |r| {
        texts(r, "http.uri").iter().any(|u| u == "malware_site.com") && r.dst_ip != Some(v4([10, 9, 8, 7]))
    }),
    ("packets == 1 && ip.protocol == tcp && ip.src != 131.206.0.0/16 && ip.dst != 131.206.0.0/16", |r| {
        r.packets() == 1 && r.ip_protocol == 6 && r.dst_ip != Some(v4([131, 206, 1, 1]))
    }),
    ("host == nhnent.com", |r| any_host(r, "nhnent.com")),
    ("host == WWW.EXAMPLE.com", |r| any_host(r, "www.example.com")),
    ("host != [nhnent.com, evil.test]", |r| !any_host(r, "nhnent.com") && !any_host(r, "evil.test")),
    ("host.http == *.example.com", |r| texts(r, "host.http").iter().any(|h| h.ends_with(".example.com"))),
    ("http.uri == *.php*", |r| texts(r, "http.uri").iter().any(|u| u.contains(".php"))),
    ("http.uri == /.*\\.php/", |r| texts(r, "http.uri").iter().any(|u| u.ends_with(".php"))),
    ("http.uri == http://malware_site.com/x.php", |r| {
        texts(r, "http.uri").iter().any(|u| u == "malware_site.com/x.php")
    }),
    ("http.user-agent == /moz.*/", |_| false),
    ("http.user-agent == Mozilla*", |r| texts(r, "http.user-agent").iter().any(|a| a.starts_with("Mozilla"))),
    ("http.user-agent == \"curl/8.5.0\"", |r| texts(r, "http.user-agent").iter().any(|a| a == "curl/8.5.0")),
    ("http.statuscode >= 400", |r| ints(r, "http.statuscode").iter().any(|&c| c >= 400)),
    ("http.statuscode != 200 && http.statuscode == EXISTS!", |r| {
        let c = ints(r, "http.statuscode");
        !c.is_empty() && !c.contains(&200)
    }),
    (
        "ip.dns == 10.0.1.0/24",
        |r| matches!(r.extra.get("ip.dns"), Some(Values::Ip(v)) if v.contains(&v4([10, 0, 1, 1]))),
    ),
    ("ip == 10.0.2", |r| matches!(r.extra.get("ip.dns"), Some(Values::Ip(v)) if v.contains(&v4([10, 0, 2, 1])))),
    ("cert.notafter < 2020-01-01", |r| ints(r, "cert.notafter").iter().any(|&t| t < 1_577_836_800_000_000_000)),
    ("country == usa", |r| ["country.src", "country.dst"].iter().any(|f| country(r, f).as_deref() == Some("USA"))),
    ("country != USA", |r| !["country.src", "country.dst"].iter().any(|f| country(r, f).as_deref() == Some("USA"))),
    ("country.src == EXISTS! && country.dst != EXISTS!", |r| {
        country(r, "country.src").is_some() && country(r, "country.dst").is_none()
    }),
    ("tags == \"'; DROP TABLE sessions; --\"", |r| r.tags.iter().any(|t| t == HOSTILE[0])),
    ("tags == \"back\\\\slash\"", |r| r.tags.iter().any(|t| t == HOSTILE[1])),
    ("tags == \"nul\u{0}byte\"", |r| r.tags.iter().any(|t| t == HOSTILE[2])),
    ("tags == \"100%_*?\"", |r| r.tags.iter().any(|t| t == HOSTILE[3])),
    ("tags == 100%_*", |r| r.tags.iter().any(|t| t.starts_with("100%_"))),
    ("tags == \"quote\\\"d\" || tags == \"é ü\"", |r| r.tags.iter().any(|t| t == HOSTILE[4] || t == HOSTILE[5])),
    ("ip.src == 2001:db8::/32 && port.dst == [80,443]", |r| {
        r.src_ip.is_some_and(|a| a.as_u128() >> 96 == 0x2001_0db8) && [80, 443].contains(&r.dst_port)
    }),
];

#[test]
fn dissector_fields_are_searchable_and_hostile_values_stay_values() {
    let recs = records(3000);
    let mut store = DuckStore::in_memory().unwrap();
    store.append(&recs.iter().collect::<Vec<_>>()).unwrap();
    let mut nonzero = 0;
    for (expr, pred) in CASES {
        let filter = compile(expr, 0).unwrap_or_else(|e| panic!("{expr}: {e}"));
        let q = ListQuery { filter: Some(filter), limit: 10_000, ..ListQuery::default() };
        let want: Vec<&SessionRecord> = recs.iter().filter(|r| pred(r)).collect();
        assert_eq!(store.count_matching(&q).unwrap(), want.len() as u64, "{expr}");
        let mut got: Vec<String> =
            store.list(&q).unwrap().iter().map(|r| r["id"].as_str().unwrap().to_string()).collect();
        let mut want_ids: Vec<String> = want.iter().map(|r| r.id.clone()).collect();
        got.sort();
        want_ids.sort();
        assert_eq!(got, want_ids, "{expr}");
        nonzero += usize::from(!want.is_empty());
    }
    assert!(nonzero >= CASES.len() - 2, "the records no longer exercise the cases");
    assert_eq!(store.count().unwrap(), 3000, "nothing was dropped by a hostile value");
}

fn expected_counts<K: Ord + Clone>(items: impl Iterator<Item = K>) -> std::collections::BTreeMap<K, u64> {
    let mut m = std::collections::BTreeMap::new();
    for k in items {
        *m.entry(k).or_insert(0) += 1;
    }
    m
}

/// Value counts, histograms, connections and ordered walks agree with counts made
/// here over the same records.
#[test]
fn aggregations_agree_with_counts_made_by_hand() {
    use tyto_schema::field;
    use tyto_store::SortKey;
    let recs = records(2000);
    let mut store = DuckStore::in_memory().unwrap();
    store.append(&recs.iter().collect::<Vec<_>>()).unwrap();
    let all = ListQuery::default();

    // Single-valued field.
    let want = expected_counts(recs.iter().map(|r| r.dst_port as i64));
    let top = store.top_values(&all, field("port.dst").unwrap(), 100).unwrap().rows;
    assert_eq!(top.len(), want.len());
    for t in &top {
        assert_eq!(t.count, want[&t.value.as_i64().unwrap()], "{:?}", t.value);
    }
    assert!(top.windows(2).all(|w| w[0].count >= w[1].count), "most frequent first");

    // Multi-valued field, under an expression: a session counts once per distinct value.
    let q = ListQuery { filter: Some(compile("port.dst == 80", 0).unwrap()), ..ListQuery::default() };
    let want = expected_counts(recs.iter().filter(|r| r.dst_port == 80).flat_map(|r| {
        let mut u: Vec<String> = texts(r, "http.uri").to_vec();
        u.sort();
        u.dedup();
        u
    }));
    let top = store.top_values(&q, field("http.uri").unwrap(), 2).unwrap().rows;
    assert_eq!(top.len(), 2, "n is a limit");
    for t in &top {
        assert_eq!(t.count, want[t.value.as_str().unwrap()]);
    }
    assert_eq!(top[0].count, *want.values().max().unwrap());

    // Addresses come back as text.
    let top = store.top_values(&all, field("ip.src").unwrap(), 10).unwrap().rows;
    let want = expected_counts(recs.iter().map(|r| r.src_ip.unwrap().to_string()));
    for t in &top {
        assert_eq!(t.count, want[t.value.as_str().unwrap()]);
    }

    // Histogram: 60 s buckets of start times.
    let minute = 60_000_000_000i64;
    let hist = store.histogram(&all, minute).unwrap();
    let want = expected_counts(recs.iter().map(|r| r.start_ns.div_euclid(minute) * minute));
    assert_eq!(hist.len(), want.len());
    for b in &hist {
        assert_eq!(b.sessions, want[&b.start_ns]);
        let in_bucket = recs.iter().filter(|r| r.start_ns.div_euclid(minute) * minute == b.start_ns);
        assert_eq!(b.bytes, in_bucket.map(|r| r.bytes()).sum::<u64>());
    }

    // Value series: per bucket counts sum to the value's total.
    let series = store.value_histogram(&all, field("port.dst").unwrap(), 3, minute).unwrap().rows;
    assert_eq!(series.len(), 3);
    for s in &series {
        assert_eq!(s.buckets.iter().map(|b| b.1).sum::<u64>(), s.count);
        let port = s.value.as_i64().unwrap();
        for (start, n) in &s.buckets {
            let want = recs
                .iter()
                .filter(|r| r.dst_port as i64 == port && r.start_ns.div_euclid(minute) * minute == *start)
                .count() as u64;
            assert_eq!(*n, want);
        }
    }

    // Connections between addresses.
    let links = store.connections(&all, field("ip.src").unwrap(), field("ip.dst").unwrap(), 1000).unwrap().rows;
    let want = expected_counts(recs.iter().map(|r| (r.src_ip.unwrap().to_string(), r.dst_ip.unwrap().to_string())));
    assert_eq!(links.len(), want.len());
    for l in &links {
        let key = (l.src.as_str().unwrap().to_string(), l.dst.as_str().unwrap().to_string());
        assert_eq!(l.sessions, want[&key]);
    }
    assert_eq!(links.iter().map(|l| l.sessions).sum::<u64>(), recs.len() as u64);

    // Paging and sorting: pages of a sorted listing put together are the whole listing.
    let order = vec![SortKey { field: field("bytes").unwrap(), descending: false }];
    let fields = Some(vec![field("id").unwrap(), field("bytes").unwrap()]);
    let mut paged = Vec::new();
    for page in 0..4 {
        let q =
            ListQuery { limit: 500, offset: page * 500, order: order.clone(), fields: fields.clone(), ..all.clone() };
        let rows = store.list(&q).unwrap();
        assert!(rows.iter().all(|r| r.len() == 2), "only the fields asked for");
        paged.extend(rows);
    }
    assert_eq!(paged.len(), recs.len());
    let bytes: Vec<i64> = paged.iter().map(|r| r["bytes"].as_i64().unwrap()).collect();
    assert!(bytes.windows(2).all(|w| w[0] <= w[1]), "ascending by bytes");
    let mut ids: Vec<&str> = paged.iter().map(|r| r["id"].as_str().unwrap()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), recs.len(), "no row twice, none left out");

    // The ordered walk visits every matching row once, oldest first.
    let q = ListQuery { filter: Some(compile("protocols == http", 0).unwrap()), ..ListQuery::default() };
    let mut walked = Vec::new();
    let mut after = None;
    loop {
        let page = store.positions_in_order(&q, after.as_ref(), 37).unwrap();
        let Some(last) = page.last().cloned() else { break };
        walked.extend(page);
        after = Some(last);
    }
    let want: Vec<&str> =
        recs.iter().filter(|r| r.protocols.iter().any(|p| p == "http")).map(|r| r.id.as_str()).collect();
    assert_eq!(walked.len(), want.len());
    assert!(walked.windows(2).all(|w| w[0].start_ns <= w[1].start_ns));

    let one_id = |id: &str| ListQuery {
        filter: Some(compile(&format!("id == \"{id}\""), 0).unwrap()),
        limit: 1,
        ..ListQuery::default()
    };
    let one = store.list(&one_id(&recs[7].id)).unwrap().pop().unwrap();
    assert_eq!(one["port.dst"], recs[7].dst_port as i64);
    assert!(store.list(&one_id("no-such-id")).unwrap().is_empty());
    let stats = store.stats().unwrap();
    assert_eq!(stats.sessions, 2000);
    assert_eq!(stats.first_ns, Some(recs[0].start_ns));
}

/// Over a store larger than `sample_above`, top values, value series and links are
/// estimated from a sample and say so; few matching sessions, or no `sample_above`,
/// are counted exactly.
#[test]
fn large_aggregates_are_estimated_from_a_sample_and_say_so() {
    use tyto_schema::field;
    // 120,000 sessions: port 80 for six in ten (with an HTTP host, in a side table),
    // 443 for three, 53 for one; one destination in a thousand is rare. One DuckDB
    // row group, read by one thread: the sample (whole vectors of 2,048 rows, a fifth
    // of them here) is the same on every run.
    let recs: Vec<SessionRecord> = (0..120_000u64)
        .map(|i| {
            let mut r = SessionRecord {
                id: format!("s{i}"),
                node: "t".into(),
                ip_protocol: 6,
                src_ip: Some(v4([10, 0, 0, (i % 7) as u8])),
                dst_ip: Some(if i % 1000 == 0 { v4([192, 0, 2, 1]) } else { v4([10, 1, 0, (i % 3) as u8]) }),
                dst_port: [80, 80, 80, 80, 80, 80, 443, 443, 443, 53][(i % 10) as usize],
                start_ns: 1_700_000_000_000_000_000 + i as i64 * 1_000_000,
                stop_ns: 1_700_000_000_000_000_000 + i as i64 * 1_000_000 + 1,
                protocols: vec!["tcp".into()],
                ..SessionRecord::default()
            };
            if r.dst_port == 80 {
                r.extra.add_text("host.http", ["a.example", "b.example"][(i % 4 / 3) as usize]).unwrap();
            }
            r
        })
        .collect();
    let mut store = DuckStore::in_memory().unwrap();
    store.append(&recs.iter().collect::<Vec<_>>()).unwrap();
    let sampled = ListQuery { sample_above: Some(24_000), ..ListQuery::default() };
    // Counts scaled by the share the sample held: near, not exact.
    let near = |got: u64, want: u64| (got as f64 - want as f64).abs() <= want as f64 * 0.1;

    let top = store.top_values(&sampled, field("port.dst").unwrap(), 10).unwrap();
    // A fifth asked for; the share read is what the sample held.
    assert!(top.sample_percent.is_some_and(|p| (5.0..50.0).contains(&p)), "{:?}", top.sample_percent);
    let ports: Vec<i64> = top.rows.iter().map(|v| v.value.as_i64().unwrap()).collect();
    assert_eq!(ports, [80, 443, 53], "most frequent first");
    for (v, want) in top.rows.iter().zip([72_000, 36_000, 12_000]) {
        assert!(near(v.count, want), "{} sessions estimated for {}, {want} held", v.count, v.value);
    }

    // A field of a side table: the sample of sessions joined with it.
    let top = store.top_values(&sampled, field("host.http").unwrap(), 10).unwrap();
    assert!(top.sample_percent.is_some());
    assert_eq!(top.rows.len(), 2);
    assert_eq!(top.rows[0].value, "a.example");
    assert!(near(top.rows[0].count, 54_000) && near(top.rows[1].count, 18_000), "{:?}", top.rows);

    let series = store.value_histogram(&sampled, field("port.dst").unwrap(), 2, 60_000_000_000).unwrap();
    assert!(series.sample_percent.is_some());
    for s in &series.rows {
        assert!(near(s.buckets.iter().map(|b| b.1).sum(), s.count), "a series' buckets add up to its count");
    }
    let links = store.connections(&sampled, field("ip.src").unwrap(), field("port.dst").unwrap(), 100).unwrap();
    assert!(links.sample_percent.is_some());
    assert!(near(links.rows.iter().map(|l| l.sessions).sum(), 120_000));

    // Few sessions match: counted exactly, whatever the store's size.
    let rare = ListQuery { filter: Some(compile("ip.dst == 192.0.2.1", 0).unwrap()), ..sampled.clone() };
    let top = store.top_values(&rare, field("port.dst").unwrap(), 10).unwrap();
    assert_eq!(top.sample_percent, None);
    assert_eq!(top.rows.iter().map(|v| v.count).sum::<u64>(), 120);
    // Nothing may be estimated: every value counted.
    let top = store.top_values(&ListQuery::default(), field("port.dst").unwrap(), 10).unwrap();
    assert_eq!(top.sample_percent, None);
    assert_eq!(
        top.rows.iter().map(|v| (v.value.as_i64().unwrap(), v.count)).collect::<Vec<_>>(),
        [(80, 72_000), (443, 36_000), (53, 12_000)]
    );
}

#[test]
fn the_ordered_walk_visits_every_session_once_however_dense_or_sparse() {
    // One a second, then a gap of five years, then 1,500 in the same microsecond,
    // then one a millisecond: windows that grow, jump, narrow and give up narrowing.
    let mut recs = records(3000);
    let base = 1_700_000_000_000_000_000i64;
    let gap = 5 * 366 * 86_400 * 1_000_000_000i64;
    for (i, r) in recs.iter_mut().enumerate() {
        r.start_ns = match i {
            0..1000 => base + i as i64 * 1_000_000_000,
            1000..2500 => base + gap,
            _ => base + gap + 1_000 + (i as i64 - 2500) * 1_000_000,
        };
        r.stop_ns = r.start_ns + 1_000;
    }
    let mut store = DuckStore::in_memory().unwrap();
    store.append(&recs.iter().collect::<Vec<_>>()).unwrap();
    let mut want: Vec<(i64, String)> = recs.iter().map(|r| (r.start_ns, r.id.clone())).collect();
    want.sort();
    for n in [1, 37, 100, 500] {
        let (mut walked, mut after, mut pages) = (Vec::new(), None, 0);
        loop {
            let page = store.positions_in_order(&ListQuery::default(), after.as_ref(), n).unwrap();
            let Some(last) = page.last().cloned() else { break };
            assert!(page.len() <= 4 * n, "a page of {} for {n}", page.len());
            walked.extend(page.into_iter().map(|s| (s.start_ns, s.id)));
            after = Some(last);
            pages += 1;
            assert!(pages <= 3000, "the walk for {n} ends");
        }
        assert_eq!(walked, want, "pages of about {n}: every session once, in start and id order");
    }
}

/// Tags put on and taken off by expression (one on a side table's field, one on the
/// sessions table's) change exactly the sessions a plain-Rust model of the same
/// change picks: tags kept, none twice, hostile tags stay values, a list emptied
/// holds nothing.
#[test]
fn tags_change_on_exactly_the_sessions_an_expression_selects() {
    let mut recs = records(2000);
    let mut store = DuckStore::in_memory().unwrap();
    store.append(&recs.iter().collect::<Vec<_>>()).unwrap();
    let apply =
        |recs: &mut Vec<SessionRecord>, pred: &dyn Fn(&SessionRecord) -> bool, add: &[&str], remove: &[&str]| {
            let mut n = 0;
            for r in recs.iter_mut().filter(|r| pred(r)) {
                r.tags.retain(|t| !add.contains(&t.as_str()) && !remove.contains(&t.as_str()));
                r.tags.extend(add.iter().map(|t| t.to_string()));
                n += 1;
            }
            n
        };
    let change = |expr: &str, add: &[&str], remove: &[&str]| {
        let q = ListQuery { filter: Some(compile(expr, 0).unwrap()), ..ListQuery::default() };
        let change = tyto_store::TagChange {
            add: add.iter().map(|t| t.to_string()).collect(),
            remove: remove.iter().map(|t| t.to_string()).collect(),
        };
        store.change_tags(&q, &change).unwrap()
    };
    let http_evil = |r: &SessionRecord| texts(r, "host.http").iter().any(|h| h == "evil.test");
    let steps: Vec<(&str, Pred, Vec<&str>, Vec<&str>)> = vec![
        ("host.http == evil.test", http_evil, vec!["case-7", HOSTILE[0]], vec![]),
        ("port.dst == 80", |r: &SessionRecord| r.dst_port == 80, vec!["web", "case-7"], vec![HOSTILE[1]]),
        ("tags == case-7", |r: &SessionRecord| r.tags.iter().any(|t| t == "case-7"), vec![], vec!["case-7"]),
        // Every tag off the sessions holding only one: their lists empty.
        ("port.dst == 21", |r: &SessionRecord| r.dst_port == 21, vec![], HOSTILE.to_vec()),
    ];
    for (expr, pred, add, remove) in &steps {
        let want = apply(&mut recs, pred, add, remove);
        assert!(want > 0, "{expr} selects nothing: the records no longer exercise it");
        assert_eq!(change(expr, add, remove), want, "{expr}");
    }
    let mut got: Vec<(String, Vec<String>)> = store
        .list(&ListQuery {
            limit: 10_000,
            fields: Some(vec![tyto_schema::field("id").unwrap(), tyto_schema::field("tags").unwrap()]),
            ..ListQuery::default()
        })
        .unwrap()
        .iter()
        .map(|r| {
            let tags = r.get("tags").and_then(|t| t.as_array()).cloned().unwrap_or_default();
            (r["id"].as_str().unwrap().to_string(), tags.iter().map(|t| t.as_str().unwrap().to_string()).collect())
        })
        .collect();
    got.sort();
    let mut want: Vec<(String, Vec<String>)> = recs.iter().map(|r| (r.id.clone(), r.tags.clone())).collect();
    want.sort();
    for ((id, g), (_, w)) in got.iter().zip(&want) {
        let (mut g, mut w) = (g.clone(), w.clone());
        g.sort();
        w.sort();
        assert_eq!(g, w, "tags of {id}");
    }
    assert_eq!(got.len(), want.len());
    let untagged = recs.iter().filter(|r| r.tags.is_empty()).count() as u64;
    assert!(untagged > 0);
    let q = ListQuery { filter: Some(compile("tags != EXISTS!", 0).unwrap()), ..ListQuery::default() };
    assert_eq!(store.count_matching(&q).unwrap(), untagged, "an emptied list holds nothing");
}
