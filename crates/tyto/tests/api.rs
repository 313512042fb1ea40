//! The HTTP API end to end: Arkime's captures are ingested, `tyto serve` runs on
//! loopback, and curl asks what scripts ask (Digest via `--anyauth`, as the seed
//! does). Every answer is checked against counts made here from `tyto dump` of the
//! same captures, which never touches the store or the server.

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};

use serde_json::Value;

struct Server {
    child: Child,
    base: String,
    _dir: tempfile::TempDir,
    data: PathBuf,
    /// The ClickHouse the sessions are in, when not the embedded store.
    _clickhouse: Option<common::ClickHouse>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Ingests `files` into the embedded store, or into a ClickHouse started here, and
/// serves them.
fn start(files: &[PathBuf], clickhouse: Option<common::ClickHouse>) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let store = clickhouse.as_ref().map_or_else(|| "duckdb://".to_string(), |c| c.url("api"));
    common::ok(
        common::tyto()
            .args(["ingest", "--workers", "1", "--store", &store, "--data-dir"])
            .arg(&data)
            .args(files)
            .output()
            .unwrap(),
    );
    let add = |args: &[&str], password: &str| common::add_user(&data, args, password);
    add(&["ann", "--admin"], "ann-secret");
    add(&["bob", "--no-pcap", "--no-packets", "--expression", "protocols == dns"], "bob-secret");
    add(&["cy", "--expression", "protocols == dns"], "cy-secret");
    let (child, base) = common::serve(&data, &["--store", &store]);
    Server { child, base, _dir: dir, data, _clickhouse: clickhouse }
}

fn get_json(s: &Server, user: &str, path: &str) -> Value {
    let (status, body) = common::curl(user, &format!("{}{path}", s.base), &[]);
    assert_eq!(status, 200, "{path}: {}", String::from_utf8_lossy(&body));
    serde_json::from_slice(&body).unwrap()
}

/// Values of a field in a row, as the API shows them (a session counts once per distinct value).
fn values(row: &Value, field: &str) -> BTreeSet<String> {
    match row.get(field) {
        Some(Value::Array(a)) => a.iter().map(show).collect(),
        Some(Value::Null) | None => BTreeSet::new(),
        Some(v) => [show(v)].into(),
    }
}

fn show(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn dump(files: &[PathBuf]) -> Vec<Value> {
    let out = common::ok(common::tyto().args(["dump", "--workers", "1"]).args(files).output().unwrap());
    String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn has(row: &Value, field: &str, value: &str) -> bool {
    values(row, field).contains(value)
}

fn num(row: &Value, field: &str) -> u64 {
    row.get(field).and_then(Value::as_u64).unwrap_or(0)
}

fn time_ns(row: &Value, field: &str) -> i64 {
    tyto_query::parse_when(row[field].as_str().unwrap(), 0).unwrap()
}

/// Packets of a capture file as (time, link type), read by Tyto's own reader.
fn read_capture(bytes: &[u8]) -> Vec<(i64, u32)> {
    let reader =
        tyto_capture::FileReader::from_reader(Path::new("download"), std::io::Cursor::new(bytes.to_vec())).unwrap();
    let mut out = Vec::new();
    let (_, err) = reader.for_each_packet(|p| out.push((p.ts_ns, p.link.0)));
    assert!(err.is_none(), "{err:?}");
    out
}

#[test]
fn api_answers_agree_with_counts_made_independently() {
    let Some(files) = common::arkime_captures() else { return };
    check_api(&files, start(&files, None));
}

/// The same test, every answer, with the sessions in ClickHouse.
#[test]
fn api_answers_agree_with_counts_made_independently_from_clickhouse() {
    let Some(files) = common::arkime_captures() else { return };
    let Some(ch) = common::ClickHouse::start() else { return };
    check_api(&files, start(&files, Some(ch)));
}

/// The same answers from a current ClickHouse (26.x, chdb's engine behind its HTTP
/// interface): the SQL the store sends — tables, inserts and every query the API
/// makes — runs on today's versions as on Debian's 18.16.
#[test]
fn api_answers_agree_with_counts_made_independently_from_current_clickhouse() {
    let Some(files) = common::arkime_captures() else { return };
    let Some(ch) = common::ClickHouse::start_current() else { return };
    check_api(&files, start(&files, Some(ch)));
}

fn check_api(files: &[PathBuf], mut s: Server) {
    let rows = dump(files);
    let ann = "ann:ann-secret";

    // The seed's command, as written.
    let out =
        Command::new("curl").args(["--anyauth", "-u", ann, &format!("{}/sessions.json", s.base)]).output().unwrap();
    let page: Value = serde_json::from_slice(&out.stdout).expect("curl --anyauth gets JSON");
    assert_eq!(page["recordsTotal"], rows.len());
    assert_eq!(page["recordsFiltered"], rows.len());
    assert_eq!(page["data"].as_array().unwrap().len(), 100.min(rows.len()), "the default page");

    // Search, counts, paging, order, columns.
    let dns: Vec<&Value> = rows.iter().filter(|r| has(r, "protocols", "dns")).collect();
    assert!(dns.len() > 20);
    let p = get_json(&s, ann, &format!("/api/sessions?expression={}&length=10000", common::enc("protocols == dns")));
    assert_eq!(p["recordsFiltered"], dns.len());
    assert_eq!(p["data"].as_array().unwrap().len(), dns.len());
    let ids =
        |p: &Value| -> BTreeSet<String> { p["data"].as_array().unwrap().iter().map(|r| show(&r["id"])).collect() };
    let first = get_json(&s, ann, "/api/sessions?length=7&order=bytes:desc");
    let second = get_json(&s, ann, "/api/sessions?length=7&start=7&order=bytes:desc");
    assert!(ids(&first).is_disjoint(&ids(&second)));
    let max_bytes = rows.iter().map(|r| num(r, "bytes")).max().unwrap();
    assert_eq!(num(&first["data"][0], "bytes"), max_bytes);
    let last_first = num(&first["data"][6], "bytes");
    assert!(second["data"].as_array().unwrap().iter().all(|r| num(r, "bytes") <= last_first));
    let narrow = get_json(&s, ann, "/sessions.json?length=3&fields=ip.src,port.dst");
    for r in narrow["data"].as_array().unwrap() {
        let keys: BTreeSet<&str> = r.as_object().unwrap().keys().map(String::as_str).collect();
        assert!(keys.is_subset(&["id", "ip.src", "port.dst"].into()), "{keys:?}");
    }
    // A time range: only sessions active in it.
    let t0 = rows.iter().map(|r| time_ns(r, "starttime")).min().unwrap();
    let t_mid = t0 + 86_400 * 1_000_000_000;
    let in_range = rows.iter().filter(|r| time_ns(r, "stoptime") >= t0 && time_ns(r, "starttime") <= t_mid).count();
    let p = get_json(
        &s,
        ann,
        &format!("/api/sessions?startTime={}&stopTime={}&length=1", t0 / 1_000_000_000, t_mid / 1_000_000_000),
    );
    assert_eq!(p["recordsTotal"], in_range);

    // SPI view: value counts per field.
    let spi = get_json(&s, ann, "/api/spiview?spi=ip.dst:10,protocols:100,port.dst:5");
    for field in ["ip.dst", "protocols", "port.dst"] {
        let mut counts: HashMap<String, u64> = HashMap::new();
        for r in &rows {
            for v in values(r, field) {
                *counts.entry(v).or_default() += 1;
            }
        }
        let got = spi["spi"][field].as_array().unwrap();
        assert!(!got.is_empty());
        for vc in got {
            assert_eq!(vc["count"].as_u64(), counts.get(&show(&vc["value"])).copied(), "{field} {vc}");
        }
        let top = counts.values().max().unwrap();
        assert_eq!(got[0]["count"].as_u64(), Some(*top), "{field}: most frequent first");
    }

    // Connections: sessions per (source, destination) pair.
    let conn = get_json(&s, ann, "/api/connections?length=20");
    let mut pairs: HashMap<(String, String), (u64, u64)> = HashMap::new();
    for r in &rows {
        let e = pairs.entry((show(&r["ip.src"]), show(&r["ip.dst"]))).or_default();
        e.0 += 1;
        e.1 += num(r, "bytes");
    }
    let links = conn["links"].as_array().unwrap();
    assert_eq!(links.len(), 20.min(pairs.len()));
    for l in links {
        let want = pairs[&(show(&l["src"]), show(&l["dst"]))];
        assert_eq!((l["sessions"].as_u64().unwrap(), l["bytes"].as_u64().unwrap()), want);
    }
    let node_ids: BTreeSet<String> = conn["nodes"].as_array().unwrap().iter().map(|n| show(&n["id"])).collect();
    assert!(links.iter().all(|l| node_ids.contains(&show(&l["src"])) && node_ids.contains(&show(&l["dst"]))));

    // Unique values with counts.
    let (status, text) = common::curl(ann, &format!("{}/api/unique?field=protocols&counts=1", s.base), &[]);
    assert_eq!(status, 200);
    let mut proto_counts: BTreeMap<String, u64> = BTreeMap::new();
    for r in &rows {
        for v in values(r, "protocols") {
            *proto_counts.entry(v).or_default() += 1;
        }
    }
    let listed: BTreeMap<String, u64> = String::from_utf8(text)
        .unwrap()
        .lines()
        .map(|l| {
            let (v, c) = l.rsplit_once(", ").unwrap();
            (v.to_string(), c.parse().unwrap())
        })
        .collect();
    assert_eq!(listed, proto_counts);

    // Combinations of values (Arkime's multiunique): every combination a session's
    // values make, counted once per session, against the same made from the dump.
    for exp in ["ip.src,port.dst", "protocols,ip.dst", "ip.dst,protocols,host.dns"] {
        let fields: Vec<&str> = exp.split(',').collect();
        let mut want: BTreeMap<Vec<String>, u64> = BTreeMap::new();
        for r in &rows {
            let mut combos: Vec<Vec<String>> = vec![vec![]];
            for f in &fields {
                let mut vals = values(r, f);
                // ClickHouse keeps an address as 16 bytes, all zero meaning none: the
                // unspecified address `::` is no value there (as in its SPI view).
                if s._clickhouse.is_some() {
                    vals.remove("::");
                }
                combos = combos
                    .into_iter()
                    .flat_map(|c| vals.iter().map(move |v| [c.clone(), vec![v.clone()]].concat()))
                    .collect();
            }
            for c in combos {
                *want.entry(c).or_default() += 1;
            }
        }
        let url = format!("{}/multiunique.txt?exp={exp}&counts=1&separator=%20%7C%20&date=-1", s.base);
        let (status, text) = common::curl(ann, &url, &[]);
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&text));
        let text = String::from_utf8(text).unwrap();
        let got: BTreeMap<Vec<String>, u64> = text
            .lines()
            .map(|l| {
                let mut parts: Vec<String> = l.split(" | ").map(String::from).collect();
                let count = parts.pop().unwrap().parse().unwrap();
                (parts, count)
            })
            .collect();
        assert_eq!(got, want, "{exp}");
        let counts: Vec<u64> = text.lines().map(|l| l.rsplit_once(" | ").unwrap().1.parse().unwrap()).collect();
        assert!(counts.windows(2).all(|w| w[0] >= w[1]), "{exp}: most frequent first");
        if exp.contains("host.dns") {
            assert!(got.len() > 5, "few DNS names: the three-field case tests little");
        }
    }
    let (status, text) = common::curl(ann, &format!("{}/api/multiunique?exp=ip.src,port.dts", s.base), &[]);
    assert_eq!(status, 400);
    assert!(String::from_utf8_lossy(&text).contains("port.dst"), "{}", String::from_utf8_lossy(&text));
    let nine = ["ip.src"; 9].join(",");
    assert_eq!(common::curl(ann, &format!("{}/api/multiunique?exp={nine}", s.base), &[]).0, 400);

    // Histogram: per-minute buckets add up to the totals, bucket by bucket.
    let h = get_json(&s, ann, "/api/histogram?interval=60");
    assert_eq!(h["interval"], 60);
    let mut per_minute: BTreeMap<i64, (u64, u64, u64)> = BTreeMap::new();
    for r in &rows {
        let e = per_minute.entry(time_ns(r, "starttime").div_euclid(60_000_000_000) * 60_000_000_000).or_default();
        e.0 += 1;
        e.1 += num(r, "packets");
        e.2 += num(r, "bytes");
    }
    let got: BTreeMap<i64, (u64, u64, u64)> = h["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| (b["start_ns"].as_i64().unwrap(), (num(b, "sessions"), num(b, "packets"), num(b, "bytes"))))
        .collect();
    assert_eq!(got, per_minute);
    let auto = get_json(&s, ann, "/api/histogram");
    assert!(auto["buckets"].as_array().unwrap().len() <= 400, "auto interval {}", auto["interval"]);

    // SPI graph: each value's series adds up to its count.
    let g = get_json(&s, ann, "/api/spigraph?field=protocols&size=5&interval=3600");
    for item in g["items"].as_array().unwrap() {
        let sum: u64 = item["buckets"].as_array().unwrap().iter().map(|b| b[1].as_u64().unwrap()).sum();
        assert_eq!(sum, item["count"].as_u64().unwrap());
        assert_eq!(Some(&item["count"].as_u64().unwrap()), proto_counts.get(&show(&item["value"])));
    }

    // CSV: one line per matching session, plus the header.
    let (status, csv) = common::curl(
        ann,
        &format!("{}/api/sessions.csv?expression={}&length=100000", s.base, common::enc("protocols == dns")),
        &[],
    );
    assert_eq!(status, 200);
    let csv = String::from_utf8(csv).unwrap();
    assert!(csv.starts_with("id,ip.protocol,starttime"), "{}", &csv[..80]);
    assert_eq!(csv.lines().count(), dns.len() + 1);

    // PCAP of every matching session: every packet, in time order, readable.
    let (status, pcap) =
        common::curl(ann, &format!("{}/api/sessions.pcap?expression={}", s.base, common::enc("protocols == dns")), &[]);
    assert_eq!(status, 200);
    let packets = read_capture(&pcap);
    assert_eq!(packets.len() as u64, dns.iter().map(|r| num(r, "packets")).sum::<u64>());
    assert!(packets.windows(2).all(|w| w[0].0 <= w[1].0), "time order");
    let tmp = s.data.join("dns.pcap");
    std::fs::write(&tmp, &pcap).unwrap();
    let tshark = Command::new("tshark").arg("-r").arg(&tmp).output().expect("tshark (scripts/setup.sh installs it)");
    assert!(tshark.status.success(), "{}", String::from_utf8_lossy(&tshark.stderr));
    assert_eq!(String::from_utf8_lossy(&tshark.stdout).lines().count(), packets.len());

    // One session's PCAP and its detail.
    let http = rows
        .iter()
        .find(|r| has(r, "protocols", "http") && has(r, "http.method", "GET") && num(r, "packets.dst") > 0)
        .expect("an HTTP session");
    let endpoints = format!(
        "ip.src == {} && port.src == {} && ip.dst == {} && port.dst == {}",
        show(&http["ip.src"]),
        http["port.src"],
        show(&http["ip.dst"]),
        http["port.dst"]
    );
    let p = get_json(&s, ann, &format!("/api/sessions?length=1000&expression={}", common::enc(&endpoints)));
    let found =
        p["data"].as_array().unwrap().iter().find(|r| r["starttime"] == http["starttime"]).expect("the session");
    let id = show(&found["id"]);
    let (status, one) = common::curl(ann, &format!("{}/api/session/{id}.pcap", s.base), &[]);
    assert_eq!(status, 200);
    assert_eq!(read_capture(&one).len() as u64, num(http, "packets"));
    let d = get_json(&s, ann, &format!("/api/session/{id}/detail"));
    assert_eq!(d["session"]["id"], id.as_str());
    let shown = d["packets"].as_array().unwrap();
    assert_eq!(shown.len() as u64, num(http, "packets").min(500));
    let from_src = shown.iter().filter(|p| p["direction"] == "src").count() as u64;
    assert_eq!(from_src, num(http, "packets.src").min(shown.len() as u64));
    assert!(d["payload"]["src"]["text"].as_str().unwrap().starts_with("GET "), "{}", d["payload"]["src"]["text"]);
    assert!(d["payload"]["dst"]["text"].as_str().unwrap().starts_with("HTTP/1."));
    assert!(shown[0]["hex"].as_str().unwrap().len() >= 2 * 14);

    // Catalogue and stats.
    let fields = get_json(&s, ann, "/api/fields");
    assert!(fields.as_array().unwrap().iter().any(|f| f["name"] == "ip.src"));
    let stats = get_json(&s, ann, "/api/stats");
    assert_eq!(stats["store"]["sessions"], rows.len());
    assert!(stats["disk_total_bytes"].as_u64().unwrap() > 0);

    // A restricted user: the forced expression narrows every search; no PCAP, no bytes.
    let bob = "bob:bob-secret";
    let p = get_json(&s, bob, "/api/sessions?length=1");
    assert_eq!(p["recordsFiltered"], dns.len());
    let p = get_json(&s, bob, &format!("/api/sessions?length=1&expression={}", common::enc("protocols == http")));
    assert_eq!(p["recordsFiltered"], 0);
    assert_eq!(common::curl(bob, &format!("{}/api/session/{id}.pcap", s.base), &[]).0, 403);
    assert_eq!(common::curl(bob, &format!("{}/api/sessions.pcap", s.base), &[]).0, 403);
    // bob opens a DNS session without its bytes, and no other session at all.
    let dns_id = show(&dns[0]["id"]);
    assert!(get_json(&s, bob, &format!("/api/session/{dns_id}/detail"))["packets"].is_null());
    assert_eq!(common::curl(bob, &format!("{}/api/session/{id}/detail", s.base), &[]).0, 404);

    // Transactions: every answered HTTP request and DNS lookup of a session is one,
    // timed as the session's `*.response-time` (whose distinct values they give).
    check_transactions(&s, &rows);

    // Bad requests say which parameter and why; nothing escapes the data directory.
    let bad = |path: &str| -> (u16, Value) {
        let (status, body) = common::curl(ann, &format!("{}{path}", s.base), &[]);
        (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
    };
    let (st, e) = bad(&format!("/api/sessions?expression={}", common::enc("ip.src == 10.0.0.0/33")));
    assert_eq!(st, 400);
    assert!(e["column"].as_u64().is_some() && e["error"].as_str().unwrap().starts_with("expression: column"), "{e}");
    let (st, e) = bad("/api/spiview?spi=ip.dstt:10");
    assert_eq!(st, 400);
    assert!(e["error"].as_str().unwrap().contains("did you mean ip.dst"), "{e}");
    assert_eq!(bad("/api/sessions?length=-1").0, 400);
    assert_eq!(bad("/api/sessions?length=99999999").0, 400);
    assert_eq!(bad("/api/histogram?interval=0").0, 400);
    assert_eq!(bad("/api/session/..%2F..%2Fetc%2Fpasswd.pcap").0, 400);
    assert_eq!(bad("/api/session/nosuchsession.pcap").0, 404);
    assert_eq!(bad("/api/session/nosuchsession/detail").0, 404);
    assert_eq!(common::curl("ann:wrong", &format!("{}/sessions.json", s.base), &[]).0, 401);
    // A load balancer's check needs no login and learns only up or down.
    let out = Command::new("curl").args(["-s", "-w", "\n%{http_code}"]).arg(format!("{}/health", s.base)).output();
    assert_eq!(String::from_utf8_lossy(&out.unwrap().stdout), "up\n\n200");

    // Last: they change what the store holds.
    check_views(&s);
    check_hunts(&s, &rows);
    check_tags(&s, &rows);
    check_periodic(&s, &rows);
    check_shortcuts(&s, &rows);
    check_time_zone(&s, &rows);
    check_history(&s);
    check_user_admin(&s);
    check_restart(&mut s);
}

/// What the viewer keeps outlives it: after a restart on the same data directory the
/// hunts are listed as they ended, a hunt that was running when the server stopped
/// (written so into `hunts.json` while it was down) runs again to the same matches,
/// and a periodic query is still there, paused as it was.
fn check_restart(s: &mut Server) {
    let ann = "ann:ann-secret";
    let (st, made) = common::curl(
        ann,
        &format!("{}/api/cron", s.base),
        &["-X", "POST", "--data", "name=kept&expression=protocols == dns&tags=kept&enabled=false"],
    );
    assert_eq!(st, 200, "{}", String::from_utf8_lossy(&made));
    let hunts_before = get_json(s, ann, "/api/hunts");
    let finished: Vec<Value> = hunts_before["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["state"] == "finished" && h["progress"]["matched"].as_u64() > Some(0))
        .cloned()
        .collect();
    assert!(!finished.is_empty(), "{hunts_before}");
    let _ = s.child.kill();
    let _ = s.child.wait();
    // A hunt the server was running when it stopped: the first finished one again.
    let path = s.data.join("hunts.json");
    let mut saved: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let original = saved["hunts"].as_array().unwrap().iter().find(|h| h["id"] == finished[0]["id"]).unwrap().clone();
    let mut running = original.clone();
    running["id"] = serde_json::json!(original["id"].as_u64().unwrap() + 1000);
    running["stage"] = serde_json::json!("running");
    running["progress"] = serde_json::json!({ "sessions_total": 0, "sessions_searched": 0, "packets_searched": 0,
        "bytes_searched": 0, "matched": 0, "matches": [], "packets_gone": 0, "seconds": 0.0, "message": null });
    saved["hunts"].as_array_mut().unwrap().push(running);
    std::fs::write(&path, serde_json::to_vec(&saved).unwrap()).unwrap();
    let store = s._clickhouse.as_ref().map_or_else(|| "duckdb://".to_string(), |c| c.url("api"));
    let (child, base) = common::serve(&s.data, &["--store", &store]);
    (s.child, s.base) = (child, base);

    let hunts_after = get_json(s, ann, "/api/hunts");
    for h in &finished {
        let again = hunts_after["data"].as_array().unwrap().iter().find(|x| x["id"] == h["id"]).unwrap();
        assert_eq!((&again["state"], &again["progress"]["matches"]), (&h["state"], &h["progress"]["matches"]));
    }
    let id = original["id"].as_u64().unwrap() + 1000;
    let mut resumed = Value::Null;
    for _ in 0..300 {
        let list = get_json(s, ann, "/api/hunts");
        resumed = list["data"].as_array().unwrap().iter().find(|x| x["id"] == id).cloned().unwrap();
        if resumed["state"] == "finished" {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(resumed["state"], "finished", "{resumed}");
    assert_eq!(resumed["progress"]["matches"], original["progress"]["matches"], "{resumed}");
    assert!(resumed["progress"]["message"].as_str().is_some_and(|m| m.contains("started again")), "{resumed}");
    // A new hunt's id follows the kept ones.
    let (st, body) = common::curl(
        ann,
        &format!("{}/api/hunt?date=-1", s.base),
        &["-X", "POST", "--data", "name=after-restart&search=nowhere-to-be-found"],
    );
    assert_eq!(st, 202, "{}", String::from_utf8_lossy(&body));
    let fresh: Value = serde_json::from_slice(&body).unwrap();
    assert!(fresh["id"].as_u64().unwrap() > id, "{fresh}");
    let crons = get_json(s, ann, "/api/crons");
    let kept = crons["data"].as_array().unwrap().iter().find(|q| q["name"] == "kept").unwrap().clone();
    assert_eq!(kept["enabled"], false, "{kept}");
    let (st, _) = common::curl(ann, &format!("{}/api/cron/{}", s.base, kept["id"]), &["-X", "DELETE"]);
    assert_eq!(st, 200);
}

/// Users managed from the viewer as `tyto user` manages them: an admin adds dee, who
/// then logs in; her rights change and take effect at once; a new password ends the
/// old one; removed, she is refused. Not admins may do none of it; an admin cannot
/// remove herself; a password in the address is refused and never recorded.
fn check_user_admin(s: &Server) {
    let (ann, bob) = ("ann:ann-secret", "bob:bob-secret");
    let call = |user: &str, method: &str, path: &str, form: &str| -> (u16, Value) {
        let (st, body) = common::curl(user, &format!("{}{path}", s.base), &["-X", method, "--data", form]);
        (st, serde_json::from_slice(&body).unwrap_or(Value::Null))
    };
    let (st, d) =
        call(ann, "POST", "/api/user", "name=dee&password=dee-secret-1&digest=true&upload=true&time_limit_hours=none");
    assert_eq!(st, 201, "{d}");
    assert_eq!(
        (d["name"].as_str(), d["upload"].as_bool(), d["admin"].as_bool()),
        (Some("dee"), Some(true), Some(false))
    );
    let dee = "dee:dee-secret-1";
    assert_eq!(common::curl(dee, &format!("{}/api/sessions?length=1", s.base), &[]).0, 200, "dee logs in");
    assert_eq!(common::curl(dee, &format!("{}/api/sessions.pcap", s.base), &[]).0, 200);
    let (st, d) = call(
        ann,
        "POST",
        "/api/user/dee",
        &format!("export_pcap=false&expression={}", common::enc("protocols == dns")),
    );
    assert_eq!(st, 200, "{d}");
    assert_eq!(d["expression"], "protocols == dns");
    assert_eq!(common::curl(dee, &format!("{}/api/sessions.pcap", s.base), &[]).0, 403, "her right is gone at once");
    let listed = get_json(s, ann, "/api/users");
    assert!(listed.as_array().unwrap().iter().any(|u| u["name"] == "dee" && u["export_pcap"] == false));
    assert_eq!(call(ann, "POST", "/api/user/dee/password", "password=dee-secret-2&digest=true").0, 200);
    assert_eq!(common::curl(dee, &format!("{}/api/sessions?length=1", s.base), &[]).0, 401, "the old password");
    assert_eq!(common::curl("dee:dee-secret-2", &format!("{}/api/sessions?length=1", s.base), &[]).0, 200);
    // Refusals.
    assert_eq!(call(bob, "POST", "/api/user", "name=eve&password=x").0, 403);
    assert_eq!(call(bob, "DELETE", "/api/user/dee", "").0, 403);
    assert_eq!(call(ann, "DELETE", "/api/user/ann", "").0, 400);
    assert_eq!(call(ann, "POST", "/api/user/ann", "admin=false").0, 400);
    assert_eq!(call(ann, "POST", "/api/user", "name=dee&password=again").0, 400, "exists");
    assert_eq!(call(ann, "POST", "/api/user", "name=../x&password=p").0, 400);
    assert_eq!(call(ann, "POST", "/api/user", "name=fay").0, 400, "no password");
    let (st, e) = call(ann, "POST", "/api/user/dee", &format!("expression={}", common::enc("ip.src == 1.2.3.4/33")));
    assert_eq!(st, 400, "{e}");
    assert_eq!(call(ann, "POST", "/api/user/dee", "time_limit_hours=soon").0, 400);
    assert_eq!(call(ann, "POST", "/api/user/nobody", "upload=true").0, 404);
    let (st, _) = common::curl(ann, &format!("{}/api/user?name=gus&password=in-the-address", s.base), &["-X", "POST"]);
    assert_eq!(st, 400);
    let h = get_json(s, ann, "/api/histories?length=10000&searchTerm=in-the-address");
    assert_eq!(h["recordsFiltered"], 0, "a password in the address is never recorded: {h}");
    assert_eq!(call(ann, "DELETE", "/api/user/dee", "").0, 200);
    assert_eq!(common::curl("dee:dee-secret-2", &format!("{}/api/sessions?length=1", s.base), &[]).0, 401);
}

/// Saved views: ann's shared view and her own, bob's; each sees their own and the
/// shared ones; a view's expression and columns are checked when saved; the same
/// name replaces; only the owner (or an admin) deletes one.
fn check_views(s: &Server) {
    let (ann, bob) = ("ann:ann-secret", "bob:bob-secret");
    let post = |user: &str, extra: &[&str]| -> (u16, Value) {
        let mut args = vec!["-X", "POST"];
        args.extend(extra);
        let (st, body) = common::curl(user, &format!("{}/api/view", s.base), &args);
        (st, serde_json::from_slice(&body).unwrap_or(Value::Null))
    };
    let names = |user: &str| -> Vec<String> {
        let v = get_json(s, user, "/api/views");
        v["data"].as_array().unwrap().iter().map(|v| show(&v["name"])).collect()
    };
    let form =
        format!("name=web&shared=true&columns=ip.src,host.http,info&expression={}", common::enc("protocols == http"));
    let (st, web) = post(ann, &["--data", &form]);
    assert_eq!(st, 200, "{web}");
    assert_eq!(web["columns"], serde_json::json!(["ip.src", "host.http", "info"]));
    assert_eq!(post(ann, &["--data", "name=mine&expression=port.dst%20%3D%3D%2053"]).0, 200);
    let json = r#"{"name": "bobs", "expression": "host.dns == *.com", "columns": ["info"]}"#;
    assert_eq!(post(bob, &["-H", "Content-Type: application/json", "--data", json]).0, 200);
    assert_eq!(names(ann), ["mine", "web"]);
    assert_eq!(names(bob), ["bobs", "web"]);
    // Saved again under its name: the same view, a new expression.
    let (_, again) =
        post(ann, &["--data", &format!("name=web&shared=true&expression={}", common::enc("port.dst == 80"))]);
    assert_eq!(again["id"], web["id"]);
    let (st, e) = post(ann, &["--data", &format!("name=bad&expression={}", common::enc("ip.src == 10.0.0.0/33"))]);
    assert_eq!(st, 400);
    assert!(e["error"].as_str().unwrap().starts_with("expression: column"), "{e}");
    let (st, e) = post(ann, &["--data", "name=bad&columns=ip.srcc"]);
    assert_eq!(st, 400);
    assert!(e["error"].as_str().unwrap().contains("did you mean"), "{e}");
    assert_eq!(post(ann, &["--data", "expression=port.dst%20%3D%3D%2053"]).0, 400, "no name");
    let url = format!("{}/api/view/{}", s.base, web["id"]);
    assert_eq!(common::curl(bob, &url, &["-X", "DELETE"]).0, 404, "not bob's");
    assert_eq!(common::curl(ann, &url, &["-X", "DELETE"]).0, 200);
    assert_eq!(names(bob), ["bobs"]);
}

/// A hunt for a request path that one session alone holds (in `tyto dump`'s every
/// field) finds that session and no other — as text in another case, as hex, as a
/// regular expression, from the client's side — over every session, and tags it; bob
/// may not hunt (he may not see packets); bad hunts say what is wrong.
fn check_hunts(s: &Server, rows: &[Value]) {
    let (ann, bob) = ("ann:ann-secret", "bob:bob-secret");
    let texts: Vec<String> = rows.iter().map(Value::to_string).collect();
    let (path, id) = rows
        .iter()
        .flat_map(|r| values(r, "http.uri.path").into_iter().map(move |p| (p, show(&r["id"]))))
        .filter(|(p, _)| p.len() >= 16 && p.len() <= 200 && p.bytes().all(|b| b.is_ascii_graphic()) && !p.contains('%'))
        .filter(|(p, _)| texts.iter().filter(|t| t.contains(&format!("\"{p}")) || t.contains(p.as_str())).count() == 1)
        .max_by_key(|(p, _)| p.len())
        .expect("a request path of one session only");
    let start = |user: &str, form: &str| -> (u16, Value) {
        let (st, body) = common::curl(user, &format!("{}/api/hunt?date=-1", s.base), &["-X", "POST", "--data", form]);
        (st, serde_json::from_slice(&body).unwrap_or(Value::Null))
    };
    let finished = |hunt: u64| -> Value {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
        loop {
            let list = get_json(s, ann, "/api/hunts");
            let h = list["data"].as_array().unwrap().iter().find(|h| h["id"] == hunt).cloned().expect("listed");
            if h["state"] != "queued" && h["state"] != "running" {
                return h;
            }
            assert!(std::time::Instant::now() < deadline, "hunt {hunt} still {}", h["state"]);
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    };
    let hex: String = path.bytes().map(|b| format!("{b:02x}")).collect();
    let escaped: String = path
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c.to_string() } else { format!("\\x{:02x}", c as u32) })
        .collect();
    for (name, form) in [
        ("find-text", format!("name=find-text&searchType=ascii&search={}", common::enc(&path.to_uppercase()))),
        ("find-hex", format!("name=find-hex&searchType=hex&search={hex}")),
        ("find-re", format!("name=find-re&searchType=regex&search={}", common::enc(&escaped))),
        ("find-src", format!("name=find-src&searchType=asciicase&src=true&dst=false&search={}", common::enc(&path))),
    ] {
        let (st, h) = start(ann, &form);
        assert_eq!(st, 202, "{name}: {h}");
        let h = finished(h["id"].as_u64().unwrap());
        assert_eq!(h["state"], "finished", "{name}: {h}");
        let p = &h["progress"];
        assert_eq!(p["sessions_searched"].as_u64(), Some(rows.len() as u64), "{name}: every session: {h}");
        assert_eq!(p["matched"], 1, "{name} finds {path:?} in one session: {h}");
        assert_eq!(p["matches"][0].as_str(), Some(id.as_str()), "{name}: {h}");
        assert!(p["bytes_searched"].as_u64().unwrap() > 0);
        let tagged = get_json(
            s,
            ann,
            &format!("/api/sessions?date=-1&expression={}", common::enc(&format!("tags == \"hunt:{name}\""))),
        );
        assert_eq!(tagged["recordsFiltered"], 1, "{name}");
        assert_eq!(tagged["data"][0]["id"].as_str(), Some(id.as_str()));
    }
    let (st, b) = start(bob, "name=x&search=GET");
    assert_eq!(st, 403, "{b}");
    // cy sees DNS only, packets included: her hunt searches the DNS sessions alone.
    let dns = rows.iter().filter(|r| has(r, "protocols", "dns")).count();
    let (st, h) = start("cy:cy-secret", &format!("name=cy-looks&searchType=asciicase&search={}", common::enc(&path)));
    assert_eq!(st, 202, "{h}");
    let h = finished(h["id"].as_u64().unwrap());
    assert_eq!(h["progress"]["sessions_searched"].as_u64(), Some(dns as u64), "{h}");
    assert_eq!(h["progress"]["matched"], 0, "{h}");
    let theirs = get_json(s, "cy:cy-secret", "/api/hunts");
    assert!(theirs["data"].as_array().unwrap().iter().all(|h| h["user"] == "cy"), "her hunts only");
    for bad in [
        "name=x&searchType=hex&search=zz",
        "search=GET",
        "name=x",
        "name=x&searchType=regex&search=(",
        "name=a,b&search=x",
    ] {
        let (st, e) = start(ann, bad);
        assert_eq!(st, 400, "{bad}: {e}");
        assert!(e["error"].as_str().is_some_and(|m| m.contains("search") || m.contains("name")), "{bad}: {e}");
    }
}

/// Periodic queries (Arkime's cron queries): a query over the sessions stored since
/// a day ago tags exactly its matches at its first run and raises one alert; run
/// again, nothing stored since is new; one made now (the default) finds nothing of
/// what was stored before it; bob's forced expression bounds his; bad queries 400.
/// Shortcuts: `$name` in an expression finds what the list typed out would, counted
/// from `tyto dump`'s rows; only its maker, those it is shared with and admins may
/// name it, only its maker (or an admin) change it; a wrong kind or name is a 400
/// at its column.
fn check_shortcuts(s: &Server, rows: &[Value]) {
    let (ann, bob) = ("ann:ann-secret", "bob:bob-secret");
    let call = |user: &str, method: &str, path: &str, form: &str| -> (u16, Value) {
        let (status, body) =
            common::curl(user, &format!("{}{path}", s.base), &["-X", method, "--data-urlencode", form]);
        (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
    };
    let make = |user: &str, form: &[&str]| -> (u16, Value) {
        let mut args = vec!["-X", "POST"];
        for f in form {
            args.extend(["--data-urlencode", f]);
        }
        let (status, body) = common::curl(user, &format!("{}/api/shortcut", s.base), &args);
        (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
    };
    let count = |user: &str, expr: &str| -> Result<u64, (u16, Value)> {
        let (st, body) = common::curl(
            user,
            &format!("{}/api/sessions?date=-1&length=1&expression={}", s.base, common::enc(expr)),
            &[],
        );
        let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        if st == 200 {
            Ok(v["recordsFiltered"].as_u64().unwrap())
        } else {
            Err((st, v))
        }
    };
    let model = |keep: &dyn Fn(&Value) -> bool| rows.iter().filter(|r| keep(r)).count() as u64;
    // The three busiest destinations, the DNS and TLS ports, two names asked of DNS.
    let mut by_dst: BTreeMap<String, usize> = BTreeMap::new();
    for r in rows {
        for a in values(r, "ip.dst") {
            *by_dst.entry(a).or_default() += 1;
        }
    }
    let mut busiest: Vec<(String, usize)> = by_dst.into_iter().collect();
    busiest.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let servers: Vec<String> = busiest.iter().take(3).map(|(a, _)| a.clone()).collect();
    let names: Vec<String> =
        rows.iter().flat_map(|r| values(r, "host.dns")).collect::<BTreeSet<_>>().into_iter().take(2).collect();
    assert!(servers.len() == 3 && names.len() == 2);
    let in_servers = |r: &Value| values(r, "ip.dst").iter().any(|a| servers.contains(a));
    let in_ports = |r: &Value| [53, 443].contains(&num(r, "port.dst"));
    let in_names = |r: &Value| values(r, "host.dns").iter().any(|n| names.contains(n));

    let (st, made) =
        make(ann, &["name=servers", "type=ip", &format!("value={}", servers.join("\n")), "description=busiest"]);
    assert_eq!(st, 200, "{made}");
    assert_eq!((made["shortcut"]["type"].as_str(), made["shortcut"]["count"].as_u64()), (Some("ip"), Some(3)));
    let servers_id = made["shortcut"]["id"].as_u64().unwrap();
    assert_eq!(make(ann, &["name=ports", "type=number", "value=53,443"]).0, 200);
    let (st, made) = make(ann, &["name=asked", "type=string", &format!("value={}", names.join("\n")), "shared=true"]);
    assert_eq!(st, 200, "{made}");

    assert_eq!(count(ann, "ip.dst == $servers"), Ok(model(&in_servers)));
    assert_eq!(count(ann, "ip.dst != $servers"), Ok(rows.len() as u64 - model(&in_servers)));
    assert_eq!(count(ann, "port.dst == $ports && ip.dst == $servers"), Ok(model(&|r| in_ports(r) && in_servers(r))));
    assert_eq!(count(ann, "host.dns == [$asked]"), Ok(model(&in_names)));
    assert_eq!(
        count(ann, "ip.dst == $servers"),
        count(ann, &format!("ip.dst == [{}]", servers.join(","))),
        "as the list typed out"
    );
    // bob (forced to DNS) names only what is shared with him, and sees it through his expression.
    let dns = |r: &Value| has(r, "protocols", "dns");
    assert_eq!(count(bob, "host.dns == $asked"), Ok(model(&|r| dns(r) && in_names(r))));
    let (st, e) = count(bob, "protocols == dns && ip.dst == $servers").unwrap_err();
    assert_eq!(st, 400);
    assert!(e["error"].as_str().unwrap().contains("column 31: no shortcut named '$servers'"), "{e}");
    let listed = |user: &str, q: &str| -> Vec<String> {
        get_json(s, user, &format!("/api/shortcuts{q}"))["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| show(&v["name"]))
            .collect()
    };
    assert_eq!(listed(bob, ""), ["asked"]);
    assert_eq!(listed(ann, ""), ["asked", "ports", "servers"]);
    assert_eq!(listed(ann, "?fieldType=ip"), ["servers"]);
    assert_eq!(listed(ann, "?searchTerm=BUSIEST"), ["servers"]);
    // Shared with bob by name: he may name it, not change or delete it.
    let url = format!("/api/shortcut/{servers_id}");
    assert_eq!(call(bob, "PUT", &url, "value=10.0.0.1").0, 404, "not shared with bob yet");
    let (st, e) = call(ann, "PUT", &url, "users=bob");
    assert_eq!(st, 200, "{e}");
    assert_eq!(count(bob, "ip.dst == $servers"), Ok(model(&|r| dns(r) && in_servers(r))));
    assert_eq!(listed(bob, ""), ["asked", "servers"]);
    assert!(
        get_json(s, bob, "/api/shortcuts?fieldType=ip")["data"][0].get("users").is_none(),
        "only its maker sees with whom"
    );
    assert_eq!(call(bob, "PUT", &url, "value=10.0.0.1").0, 403);
    assert_eq!(call(bob, "DELETE", &url, "x=1").0, 403);
    // Changed, a search finds what it holds now.
    let (st, e) = call(ann, "PUT", &url, &format!("value={}", servers[0]));
    assert_eq!(st, 200, "{e}");
    assert_eq!(count(ann, "ip.dst == $servers"), Ok(model(&|r| values(r, "ip.dst").contains(&servers[0]))));
    // Refused, saying why and where.
    let (st, e) = count(ann, "port.dst == $servers").unwrap_err();
    assert_eq!(st, 400);
    assert!(
        e["error"].as_str().unwrap().contains("column 13: '$servers' holds IP addresses and port.dst holds integers"),
        "{e}"
    );
    assert_eq!(make(ann, &["name=servers", "type=ip", "value=10.0.0.1"]).0, 400, "a name is unique");
    let (st, e) = make(ann, &["name=bad", "type=ip", "value=10.0.0.1\nexample.com"]);
    assert!(st == 400 && e["error"].as_str().unwrap().contains("example.com"), "{e}");
    assert_eq!(make(ann, &["name=a b", "type=ip", "value=10.0.0.1"]).0, 400);
    assert_eq!(make(ann, &["name=x", "type=mac", "value=1"]).0, 400);
    // Deleted, it is gone from expressions.
    assert_eq!(call(ann, "DELETE", &url, "x=1").0, 200);
    assert!(count(ann, "ip.dst == $servers").is_err());
    // A forced expression names no shortcut: a list its user could change (bob's
    // own) would let them widen what they see. Setting one is refused, saying why.
    assert_eq!(make(bob, &["name=bobs", "type=number", "value=53"]).0, 200);
    let (st, e) = call(ann, "POST", "/api/user/bob", "expression=protocols == dns || port.dst == $bobs");
    assert!(st == 400 && e["error"].as_str().unwrap().contains("no shortcut named '$bobs'"), "{e}");
    assert_eq!(count(bob, ""), Ok(model(&dns)), "bob's forced expression unchanged");
}

/// A user's time zone: the wall clock their typed times are read in. Set to
/// Asia/Kolkata (+05:30 all year), a second written as Kolkata's clock finds the
/// sessions that began in it, as the same second in UTC with `Z` does; a time range
/// typed as wall-clock text too; back to UTC, the same text is UTC again.
fn check_time_zone(s: &Server, rows: &[Value]) {
    let ann = "ann:ann-secret";
    let set = |zone: &str| -> (u16, Value) {
        let (st, body) = common::curl(
            ann,
            &format!("{}/api/user/settings", s.base),
            &["-X", "POST", "--data-urlencode", &format!("timezone={zone}")],
        );
        (st, serde_json::from_slice(&body).unwrap_or(Value::Null))
    };
    let count = |q: &str| -> u64 {
        get_json(s, ann, &format!("/api/sessions?length=1&{q}"))["recordsFiltered"].as_u64().unwrap()
    };
    // The busiest second of the capture, as UTC text and as Kolkata's clock.
    let mut by_second: BTreeMap<String, u64> = BTreeMap::new();
    for r in rows {
        *by_second.entry(show(&r["starttime"])[..19].to_string()).or_default() += 1;
    }
    let (utc, n) = by_second.iter().max_by_key(|(k, n)| (**n, std::cmp::Reverse((*k).clone()))).unwrap();
    let ns = tyto_schema::time::parse_time(utc).unwrap();
    let kolkata = tyto_schema::time::format_rfc3339(ns + 19_800 * 1_000_000_000)[..19].replace('T', " ");
    let expr = |t: &str| format!("date=-1&expression={}", common::enc(&format!("starttime == \"{t}\"")));

    let (st, me) = set("Asia/Kolkata");
    assert_eq!((st, me["time_zone"].as_str()), (200, Some("Asia/Kolkata")), "{me}");
    assert_eq!(get_json(s, ann, "/api/user/current")["user"]["time_zone"], "Asia/Kolkata");
    assert_eq!(count(&expr(&kolkata)), *n, "{kolkata} in Kolkata is {utc} UTC");
    assert_eq!(count(&expr(&format!("{utc}Z"))), *n, "with Z, UTC whatever the zone");
    // Ten minutes from that second, typed as Kolkata's clock and as UTC.
    let later = |ns: i64| tyto_schema::time::format_rfc3339(ns + 600 * 1_000_000_000)[..19].to_string();
    let local_range = format!(
        "startTime={}&stopTime={}",
        common::enc(&kolkata),
        common::enc(&later(ns + 19_800 * 1_000_000_000).replace('T', " "))
    );
    let utc_range = format!("startTime={}Z&stopTime={}Z", utc, later(ns));
    let in_range = count(&utc_range);
    assert!(in_range >= *n, "{utc_range}: {in_range}");
    assert_eq!(count(&local_range), in_range, "a time range typed in the zone");
    // Refused, saying why; back to UTC.
    let (st, e) = set("Mars/Olympus");
    assert!(st == 400 && e["error"].as_str().unwrap().contains("not a time zone"), "{e}");
    assert_eq!(set("UTC").1["time_zone"], "UTC");
    assert_eq!(count(&expr(&utc.replace('T', " "))), *n);
}

fn check_periodic(s: &Server, rows: &[Value]) {
    let (ann, bob) = ("ann:ann-secret", "bob:bob-secret");
    let post = |user: &str, path: &str, form: &str| -> (u16, Value) {
        let (status, body) = common::curl(user, &format!("{}{path}", s.base), &["-X", "POST", "--data", form]);
        (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
    };
    let count = |expr: &str| -> u64 {
        let p = get_json(s, ann, &format!("/api/sessions?date=-1&length=1&expression={}", common::enc(expr)));
        p["recordsFiltered"].as_u64().unwrap()
    };
    // Waits for the query's run after `after_ms` and gives the query as listed.
    let ran = |user: &str, id: u64, after_ms: i64| -> Value {
        for _ in 0..150 {
            let list = get_json(s, user, "/api/crons");
            let q = list["data"].as_array().unwrap().iter().find(|q| q["id"] == id).cloned().unwrap();
            if q["last_run_ms"].as_i64().is_some_and(|t| t >= after_ms) {
                return q;
            }
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
        panic!("periodic query {id} did not run");
    };
    let now_ms = || std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let dns = rows.iter().filter(|r| has(r, "protocols", "dns")).count() as u64;
    let smb = rows.iter().filter(|r| has(r, "protocols", "smb")).count() as u64;
    assert!(dns > 0 && smb > 0);
    assert_eq!(count("tags == cron-dns || tags == cron-bob || tags == cron-late"), 0);

    let t0 = now_ms();
    let (st, made) =
        post(ann, "/api/cron", "name=dns-watch&query=protocols == dns&tags=cron-dns&alert=low&every=1&lag=0&since=-1d");
    assert_eq!(st, 200, "{made}");
    let id = made["query"]["id"].as_u64().unwrap();
    let q = ran(ann, id, t0);
    assert_eq!((q["last_matched"].as_u64(), q["last_error"].clone()), (Some(dns), Value::Null), "{q}");
    assert_eq!(count("tags == cron-dns"), dns);
    assert_eq!(count("tags == cron-dns && protocols != dns"), 0);
    // Its alert, with an expression that finds the sessions it counted.
    let mut alert = Value::Null;
    for _ in 0..100 {
        let a = get_json(s, ann, "/api/alerts?length=1000");
        if let Some(found) = a["data"].as_array().unwrap().iter().find(|a| a["detector"] == "periodic-query") {
            alert = found.clone();
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert_eq!((alert["source"].as_str(), alert["severity"].as_str()), (Some("dns-watch"), Some("low")), "{alert}");
    assert_eq!(count(alert["expression"].as_str().unwrap()), dns, "{alert}");
    // Run again at once: nothing was stored since.
    let t1 = now_ms();
    assert_eq!(post(ann, &format!("/api/cron/{id}/run"), "").0, 200);
    let q = ran(ann, id, t1);
    assert_eq!((q["last_matched"].as_u64(), q["total_matched"].as_u64()), (Some(0), Some(dns)), "{q}");

    // Made now: what was stored before is not new.
    let t2 = now_ms();
    let (st, late) = post(ann, "/api/cron", "name=late&expression=protocols == smb&tags=cron-late&lag=0");
    assert_eq!(st, 200, "{late}");
    let late = late["query"]["id"].as_u64().unwrap();
    assert_eq!(ran(ann, late, t2)["last_matched"].as_u64(), Some(0));
    assert_eq!(count("tags == cron-late"), 0);

    // bob's query runs as bob: his forced expression (DNS only) bounds it.
    let t3 = now_ms();
    let (st, b) = post(bob, "/api/cron", "name=bob-all&tags=cron-bob&since=-1d&lag=0");
    assert_eq!(st, 200, "{b}");
    let bid = b["query"]["id"].as_u64().unwrap();
    assert_eq!(ran(bob, bid, t3)["last_matched"].as_u64(), Some(dns));
    assert_eq!(count("tags == cron-bob"), dns);
    // Each sees their own; an admin sees all; only the owner or an admin changes one.
    let listed = |user: &str| get_json(s, user, "/api/crons")["data"].as_array().unwrap().len();
    assert_eq!((listed(bob), listed(ann)), (1, 3));
    let (st, _) = common::curl(bob, &format!("{}/api/cron/{id}", s.base), &["-X", "DELETE"]);
    assert_eq!(st, 404);
    let (st, off) = post(ann, &format!("/api/cron/{bid}"), "enabled=false&every=60");
    assert_eq!(
        (st, off["query"]["enabled"].as_bool(), off["query"]["every_minutes"].as_u64()),
        (200, Some(false), Some(60))
    );
    for bad in [
        "query=protocols == dns&tags=x",
        "name=n",
        "name=n&tags=x&expression=protocls == dns",
        "name=n&alert=urgent",
        "name=n&tags=x&every=soon",
        "name=n&tags=x&since=later",
    ] {
        let (st, e) = post(ann, "/api/cron", bad);
        assert_eq!(st, 400, "{bad}: {e}");
        assert!(e["error"].as_str().is_some_and(|m| !m.is_empty()), "{bad}: {e}");
    }
    for q in [id, late, bid] {
        let (st, _) = common::curl(ann, &format!("{}/api/cron/{q}", s.base), &["-X", "DELETE"]);
        assert_eq!(st, 200);
    }
    assert_eq!(listed(ann), 0);
}

/// The history holds what was asked above, newest first: an admin reads everyone's,
/// bob only his own; refusals are there too; a tag change says its tags and
/// sessions though they came in a form body; reading the catalogue or the history
/// is not recorded.
fn check_history(s: &Server) {
    let (ann, bob) = ("ann:ann-secret", "bob:bob-secret");
    let h = get_json(s, ann, "/api/histories?length=10000");
    let entries = h["data"].as_array().unwrap();
    assert_eq!(h["recordsFiltered"].as_u64().unwrap() as usize, entries.len());
    let users: BTreeSet<&str> = entries.iter().map(|e| e["user"].as_str().unwrap()).collect();
    assert_eq!(users, BTreeSet::from(["ann", "bob", "cy"]));
    assert!(entries.windows(2).all(|w| w[0]["time_ms"].as_i64() >= w[1]["time_ms"].as_i64()), "newest first");
    let any = |pred: &dyn Fn(&Value) -> bool| entries.iter().any(pred);
    assert!(any(&|e| e["path"] == "/api/sessions"
        && e["params"]["expression"] == "protocols == dns"
        && e["status"] == 200));
    assert!(any(&|e| e["user"] == "bob" && e["path"] == "/api/sessions/removetags" && e["status"] == 403));
    assert!(any(&|e| e["path"] == "/api/sessions/addtags"
        && e["detail"]["tags"] == serde_json::json!(["case-7", "triage"])
        && e["detail"]["ids"] == 3
        && e["detail"]["sessions"] == 3));
    assert!(any(&|e| e["path"] == "/api/sessions.pcap" && e["status"] == 200), "exports");
    assert!(!any(&|e| e["path"] == "/api/fields" || e["path"] == "/api/histories"));
    // bob asks for ann's and gets his own.
    let b = get_json(s, bob, "/api/histories?length=10000&user=ann");
    let mine = b["data"].as_array().unwrap();
    assert!(!mine.is_empty() && mine.iter().all(|e| e["user"] == "bob"));
    // A piece of text: the requests that mention it, and only those.
    let t = get_json(s, ann, "/api/histories?length=10000&searchTerm=BOB-saw");
    let found = t["data"].as_array().unwrap();
    assert!(found.len() >= 2 && found.iter().all(|e| e.to_string().to_lowercase().contains("bob-saw")), "{t}");
    let (st, _) = common::curl(ann, &format!("{}/api/histories?startTime=soon", s.base), &[]);
    assert_eq!(st, 400);
}

/// Tags put on and taken off (Arkime's addTags/removeTags, both routes): by ids, by
/// expression, with the parameters in the query string, a form or JSON; a forced
/// expression bounds what its user tags; taking tags off takes the right to. Each
/// change is seen by searching `tags`, and counted against `tyto dump`'s rows.
fn check_tags(s: &Server, rows: &[Value]) {
    let (ann, bob) = ("ann:ann-secret", "bob:bob-secret");
    let count = |expr: &str| -> u64 {
        let p = get_json(s, ann, &format!("/api/sessions?date=-1&length=1&expression={}", common::enc(expr)));
        p["recordsFiltered"].as_u64().unwrap()
    };
    let post = |user: &str, path: &str, extra: &[&str]| -> (u16, Value) {
        let mut args = vec!["-X", "POST"];
        args.extend(extra);
        let (status, body) = common::curl(user, &format!("{}{path}", s.base), &args);
        (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
    };
    let already = |tag: &str| rows.iter().filter(|r| has(r, "tags", tag)).count() as u64;
    for tag in ["case-7", "triage", "dns-seen", "bob-saw"] {
        assert_eq!(count(&format!("tags == {tag}")), already(tag), "{tag} before any change");
    }
    let ids_of = |proto: &str| -> Vec<String> {
        rows.iter().filter(|r| has(r, "protocols", proto)).map(|r| show(&r["id"])).collect()
    };
    let (http, dns) = (ids_of("http"), ids_of("dns"));
    assert!(http.len() >= 3 && dns.len() >= 3);

    // By ids, as a form.
    let form = format!("tags=case-7, triage&ids={}", http[..3].join(","));
    let (st, a) = post(ann, "/api/sessions/addtags", &["--data", &form]);
    assert_eq!((st, a["sessions"].as_u64()), (200, Some(3)), "{a}");
    assert_eq!(count("tags == case-7 && tags == triage"), 3);
    // By expression, in the query string, with a JSON body of tags (Arkime's old route).
    let path = format!("/addTags?date=-1&expression={}", common::enc("protocols == dns"));
    let (st, a) = post(ann, &path, &["-H", "Content-Type: application/json", "--data", r#"{"tags":["dns-seen"]}"#]);
    assert_eq!((st, a["sessions"].as_u64()), (200, Some(dns.len() as u64)), "{a}");
    assert_eq!(count("tags == dns-seen"), dns.len() as u64);
    // Again: no tag twice.
    post(ann, &path, &["-H", "Content-Type: application/json", "--data", r#"{"tags":"dns-seen"}"#]);
    let one = get_json(
        s,
        ann,
        &format!("/api/sessions?date=-1&fields=tags&expression={}", common::enc(&format!("id == {}", dns[0]))),
    );
    let tags = &one["data"][0]["tags"];
    assert_eq!(tags.as_array().unwrap().iter().filter(|t| *t == "dns-seen").count(), 1, "{tags}");

    // bob sees DNS only: HTTP sessions named by id stay as they were; tagging all he
    // sees tags the DNS sessions and nothing else; he may not take tags off.
    let (st, b) = post(bob, "/api/sessions/addtags", &["--data", &format!("tags=bob-saw&ids={}", http.join(","))]);
    assert_eq!((st, b["sessions"].as_u64()), (200, Some(0)), "{b}");
    let (st, b) = post(bob, "/api/sessions/addtags?date=-1", &["--data", "tags=bob-saw"]);
    assert_eq!((st, b["sessions"].as_u64()), (200, Some(dns.len() as u64)), "{b}");
    assert_eq!(count("tags == bob-saw"), dns.len() as u64);
    assert_eq!(count("tags == bob-saw && protocols != dns"), 0);
    let (st, b) = post(bob, "/api/sessions/removetags?date=-1", &["--data", "tags=bob-saw"]);
    assert_eq!(st, 403, "{b}");
    assert!(b["error"].as_str().unwrap().contains("may not take tags off"), "{b}");

    // ann takes tags off: by expression, then by ids.
    let (st, a) = post(
        ann,
        "/removeTags?date=-1",
        &["--data", &format!("tags=triage&expression={}", common::enc("tags == triage"))],
    );
    assert_eq!((st, a["sessions"].as_u64()), (200, Some(3)), "{a}");
    assert_eq!(count("tags == triage"), 0);
    assert_eq!(count("tags == case-7"), 3, "the other tag stays");
    let (st, _) = post(ann, "/api/sessions/removetags", &["--data", &format!("tags=case-7,bob-saw&ids={}", http[0])]);
    assert_eq!(st, 200);
    assert_eq!(count("tags == case-7"), 2);

    // Bad requests say what was wrong.
    let (st, e) = post(ann, "/api/sessions/addtags", &["--data", "ids=x"]);
    assert_eq!(st, 400);
    assert!(e["error"].as_str().unwrap().starts_with("tags: missing"), "{e}");
    let (st, e) = post(ann, "/api/sessions/addtags", &["--data", "tags=a&ids=no%20such"]);
    assert_eq!(st, 400);
    assert!(e["error"].as_str().unwrap().contains("is not a session id"), "{e}");
    let (st, _) = post(ann, "/api/sessions/addtags", &["-H", "Content-Type: application/json", "--data", "[1,2]"]);
    assert_eq!(st, 400);
    let (st, _) = post(ann, "/api/sessions/addtags", &["--data", "tags=a%01b&ids=x"]);
    assert_eq!(st, 400);
}

fn check_transactions(s: &Server, rows: &[Value]) {
    let (ann, bob) = ("ann:ann-secret", "bob:bob-secret");
    let micros = |v: &Value| (v.as_f64().unwrap() * 1000.0).round() as i64;
    let all = get_json(s, ann, "/api/transactions?length=10000");
    let all = all["data"].as_array().unwrap();
    assert!(all.len() < 10000, "the page holds them all");
    for kind in ["http", "dns"] {
        let mut theirs: BTreeMap<String, BTreeSet<i64>> = BTreeMap::new();
        for t in all.iter().filter(|t| t["kind"] == kind && t["response-time"].is_number()) {
            theirs.entry(show(&t["session"])).or_default().insert(micros(&t["response-time"]));
        }
        let field = format!("{kind}.response-time");
        let ours: BTreeMap<String, BTreeSet<i64>> = rows
            .iter()
            .filter_map(|r| Some((show(&r["id"]), r.get(&field)?.as_array()?.iter().map(micros).collect())))
            .collect();
        assert!(ours.len() > 10, "{kind}: {} sessions timed", ours.len());
        let differ: Vec<_> = ours.iter().filter(|(id, times)| theirs.get(*id) != Some(times)).collect();
        assert!(
            differ.is_empty(),
            "{kind}: {} of {} sessions differ: {:?}",
            differ.len(),
            ours.len(),
            &differ[..3.min(differ.len())]
        );
        assert_eq!(theirs.len(), ours.len(), "{kind}: no transaction timed outside a timed session");
    }
    // Services: the transactions grouped by server, port and kind, counted here.
    let services = get_json(s, ann, "/api/services?length=200");
    let services = services["services"].as_array().unwrap();
    let mut groups: BTreeMap<(String, u64, String), Vec<&Value>> = BTreeMap::new();
    for t in all {
        groups.entry((show(&t["server"]), t["port"].as_u64().unwrap(), show(&t["kind"]))).or_default().push(t);
    }
    assert_eq!(services.len(), groups.len().min(200));
    for v in services {
        let key = (show(&v["server"]), v["port"].as_u64().unwrap(), show(&v["kind"]));
        let mine = &groups[&key];
        assert_eq!(v["requests"], mine.len(), "{key:?}");
        assert_eq!(v["failed"], mine.iter().filter(|t| t["failed"] == true).count(), "{key:?}");
        let mut took: Vec<i64> =
            mine.iter().filter(|t| t["response-time"].is_number()).map(|t| micros(&t["response-time"])).collect();
        took.sort_unstable();
        assert_eq!(v["answered"], took.len(), "{key:?}");
        for (name, q) in [("p50", 0.5), ("p95", 0.95), ("p99", 0.99)] {
            let want = (!took.is_empty()).then(|| took[((q * took.len() as f64) as usize).min(took.len() - 1)]);
            assert_eq!(v[name].as_f64().map(|ms| (ms * 1000.0).round() as i64), want, "{name} of {key:?}");
        }
        let in_buckets: u64 = v["buckets"].as_array().unwrap().iter().map(|b| b["requests"].as_u64().unwrap()).sum();
        assert_eq!(in_buckets, mine.len() as u64, "{key:?}: every request in a bucket");
    }
    let busiest: Vec<u64> = services.iter().map(|v| v["requests"].as_u64().unwrap()).collect();
    assert!(busiest.windows(2).all(|w| w[0] >= w[1]), "busiest first");

    // The slowest, and one kind: the same transactions, ordered.
    let slowest = get_json(s, ann, "/api/transactions?slowest=5&kind=dns");
    let slowest = slowest["data"].as_array().unwrap();
    let mut dns: Vec<i64> = all
        .iter()
        .filter(|t| t["kind"] == "dns")
        .filter_map(|t| t["response-time"].as_f64())
        .map(|ms| (ms * 1000.0).round() as i64)
        .collect();
    dns.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(slowest.iter().map(|t| micros(&t["response-time"])).collect::<Vec<_>>(), dns[..5]);
    // A session's expression picks its transactions.
    let lookups =
        get_json(s, ann, &format!("/api/transactions?length=10000&expression={}", common::enc("protocols == dns")));
    let dns_sessions: BTreeSet<String> =
        rows.iter().filter(|r| has(r, "protocols", "dns")).map(|r| show(&r["id"])).collect();
    let lookups = lookups["data"].as_array().unwrap();
    assert!(!lookups.is_empty() && lookups.iter().all(|t| dns_sessions.contains(&show(&t["session"]))));
    // Bob sees through his forced expression (protocols == dns): the same ones.
    let his = get_json(s, bob, "/api/transactions?length=10000");
    assert_eq!(his["data"].as_array().unwrap().len(), lookups.len());
    let (status, body) = common::curl(ann, &format!("{}/api/transactions?kind=gopher", s.base), &[]);
    assert_eq!(status, 400);
    let e: Value = serde_json::from_slice(&body).unwrap();
    assert!(e["error"].as_str().unwrap().starts_with("kind=\"gopher\": one of dns, http"), "{e}");
}

#[test]
fn tls_serves_the_same_api() {
    let Some(files) = common::arkime_captures() else { return };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    common::ok(common::tyto().args(["ingest", "--data-dir"]).arg(&data).arg(&files[0]).output().unwrap());
    common::ok(
        common::tyto().args(["user", "add", "ann", "--password", "pw", "--data-dir"]).arg(&data).output().unwrap(),
    );
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let made = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl (scripts/setup.sh installs it)");
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let (child, base) =
        common::serve(&data, &["--tls-cert", cert.to_str().unwrap(), "--tls-key", key.to_str().unwrap()]);
    let _guard =
        Server { child, base: base.clone(), _dir: tempfile::tempdir().unwrap(), data: data.clone(), _clickhouse: None };
    assert!(base.starts_with("https://127.0.0.1:") && !base.ends_with(":0"), "{base}");
    let (status, body) = common::curl("ann:pw", &format!("{base}/api/user/current"), &["-k"]);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    // The login cookie is marked Secure over HTTPS.
    let out = Command::new("curl")
        .args(["-s", "-k", "-D", "-", "-o", "/dev/null", "-H", "Content-Type: application/json", "--data"])
        .arg(r#"{"username":"ann","password":"pw"}"#)
        .arg(format!("{base}/api/login"))
        .output()
        .unwrap();
    let headers = String::from_utf8_lossy(&out.stdout).to_lowercase();
    assert!(headers.contains("set-cookie: tyto_sid=") && headers.contains("; secure"), "{headers}");
}

/// Over a store larger than `[viewer] sample_above`, the SPI view, SPI graph and
/// connections estimate from a sample and say so (`samplePercent`); `exact=1`, value
/// lists and a search few sessions match count every session.
#[test]
fn large_stores_give_estimates_that_say_so() {
    let s = serve_many(None);
    estimates(&s);
}

/// ClickHouse counts every session however large the store (its tables have no
/// sampling key): the same questions get exact answers that say nothing of samples.
#[test]
fn clickhouse_counts_every_session_however_large() {
    let Some(ch) = common::ClickHouse::start() else { return };
    counts_every_session(ch);
}

/// The same on a current ClickHouse (chdb's engine).
#[test]
fn current_clickhouse_counts_every_session_however_large() {
    let Some(ch) = common::ClickHouse::start_current() else { return };
    counts_every_session(ch);
}

fn counts_every_session(ch: common::ClickHouse) {
    let s = serve_many(Some(ch));
    let ann = "ann:ann-secret";
    let exact = get_json(&s, ann, "/api/spiview?date=-1&spi=port.dst:5&exact=1");
    let asked = get_json(&s, ann, "/api/spiview?date=-1&spi=port.dst:5");
    assert_eq!(asked["samplePercent"], serde_json::json!({}));
    assert_eq!(asked["spi"], exact["spi"]);
    for path in ["/api/spigraph?date=-1&field=port.dst&size=3&interval=3600", "/api/connections?date=-1&length=10"] {
        assert!(get_json(&s, ann, path)["samplePercent"].is_null(), "{path}");
    }
}

/// 30,000 sessions (several DuckDB vectors of 2,048, in one row group) served with
/// `[viewer] sample_above = 6000`.
fn serve_many(clickhouse: Option<common::ClickHouse>) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let (pcap, data, config) = (dir.path().join("many.pcap"), dir.path().join("data"), dir.path().join("tyto.toml"));
    common::ok(common::tyto().args(["sample", "--hosts", "10000", "-o"]).arg(&pcap).output().unwrap());
    let store = clickhouse.as_ref().map_or_else(|| "duckdb://".to_string(), |c| c.url("estimates"));
    common::ok(
        common::tyto()
            .args(["ingest", "--workers", "1", "--store", &store, "--data-dir"])
            .arg(&data)
            .arg(&pcap)
            .output()
            .unwrap(),
    );
    common::add_user(&data, &["ann", "--admin"], "ann-secret");
    std::fs::write(&config, "[viewer]\nsample_above = 6000\n").unwrap();
    let (child, base) = common::serve(&data, &["--store", &store, "--config", config.to_str().unwrap()]);
    Server { child, base, _dir: dir, data, _clickhouse: clickhouse }
}

fn estimates(s: &Server) {
    let ann = "ann:ann-secret";

    let exact = get_json(s, ann, "/api/spiview?date=-1&spi=protocols:5,port.dst:5&exact=1");
    let estimate = get_json(s, ann, "/api/spiview?date=-1&spi=protocols:5,port.dst:5");
    assert_eq!(exact["samplePercent"], serde_json::json!({}), "exact=1 counts every session");
    for field in ["protocols", "port.dst"] {
        let p = estimate["samplePercent"][field].as_f64().unwrap_or_else(|| panic!("{field}: {estimate}"));
        assert!(p > 0.0 && p < 100.0, "{field}: {p}% read");
        // The most frequent values, each near its exact count.
        let exact_counts: HashMap<String, u64> = exact["spi"][field]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| (show(&v["value"]), v["count"].as_u64().unwrap()))
            .collect();
        let top = &estimate["spi"][field][0];
        let want = exact_counts[&show(&top["value"])];
        let got = top["count"].as_u64().unwrap();
        assert!(got.abs_diff(want) * 5 <= want, "{field} {}: {got} estimated, {want} held", show(&top["value"]));
    }
    let graph = get_json(s, ann, "/api/spigraph?date=-1&field=port.dst&size=3&interval=3600");
    assert!(graph["samplePercent"].as_f64().is_some(), "{graph}");
    let graph = get_json(s, ann, "/api/spigraph?date=-1&field=port.dst&size=3&interval=3600&exact=1");
    assert!(graph["samplePercent"].is_null());
    let conn = get_json(s, ann, "/api/connections?date=-1&length=10");
    assert!(conn["samplePercent"].as_f64().is_some(), "{}", conn["samplePercent"]);

    // Few sessions match: counted exactly.
    let one = get_json(s, ann, "/api/sessions?date=-1&length=1");
    let host = show(&one["data"][0]["ip.src"]);
    let few = get_json(
        s,
        ann,
        &format!("/api/spiview?date=-1&spi=port.dst:5&expression={}", common::enc(&format!("ip.src == {host}"))),
    );
    assert_eq!(few["samplePercent"], serde_json::json!({}), "{few}");
    let total: u64 = few["spi"]["port.dst"].as_array().unwrap().iter().map(|v| v["count"].as_u64().unwrap()).sum();
    assert_eq!(total, few["recordsFiltered"].as_u64().unwrap());
    // Value lists are never estimated.
    let (status, text) = common::curl(ann, &format!("{}/api/unique?field=port.dst&counts=1&date=-1", s.base), &[]);
    assert_eq!(status, 200);
    let listed: u64 =
        String::from_utf8(text).unwrap().lines().map(|l| l.rsplit_once(", ").unwrap().1.parse::<u64>().unwrap()).sum();
    assert_eq!(listed, get_json(s, ann, "/api/sessions?date=-1&length=1")["recordsFiltered"].as_u64().unwrap());
}
