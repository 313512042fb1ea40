//! Flow records and protocol logs out, end to end. `tyto ingest` runs with four
//! outputs at once:
//! - fluentd forward with acknowledgements, to a receiver written here from the
//!   Forward protocol v1 specification (Message, Forward and PackedForward modes,
//!   EventTime, `chunk` → `ack`). It refuses connections for its first seconds, then
//!   drops the first connection mid-message and stalls on the second without
//!   acknowledging: records count as received only once acknowledged;
//! - `_bulk` to a receiver written from the Elasticsearch bulk API's description:
//!   `create` semantics by `_id` (409 for a document it holds), per-item errors, an
//!   index template that must come first and must map every field of every
//!   document (as `dynamic: strict` would). It answers its first request 429, loses
//!   the answer to its second, refuses a few items with 429 and one for good;
//! - two JSON-lines files: flat flow records rotated at 1 MiB, ECS logs unrotated.
//!
//! Every record must arrive once, in the order written, with the documented fields,
//! and every ECS document must hold to the ECS field types. Last, a receiver that
//! accepts and never reads must not hold the ingest up: its records are dropped
//! and counted.

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{ok, tyto};
use serde_json::{json, Value};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A MessagePack value as JSON (maps with string keys, as fluentd records are).
fn to_json(v: &rmpv::Value) -> Value {
    match v {
        rmpv::Value::Nil => Value::Null,
        rmpv::Value::Boolean(b) => json!(b),
        rmpv::Value::Integer(i) => i.as_u64().map(Value::from).or(i.as_i64().map(Value::from)).unwrap(),
        rmpv::Value::F32(f) => json!(f),
        rmpv::Value::F64(f) => json!(f),
        rmpv::Value::String(s) => json!(s.as_str().unwrap()),
        rmpv::Value::Array(a) => Value::Array(a.iter().map(to_json).collect()),
        rmpv::Value::Map(m) => {
            Value::Object(m.iter().map(|(k, v)| (k.as_str().unwrap().to_string(), to_json(v))).collect())
        }
        other => panic!("not a record value: {other:?}"),
    }
}

/// EventTime (extension 0) or an integer of seconds, in nanoseconds.
fn event_time(v: &rmpv::Value) -> i64 {
    match v {
        rmpv::Value::Ext(0, b) if b.len() == 8 => {
            let s = u32::from_be_bytes(b[..4].try_into().unwrap()) as i64;
            let n = u32::from_be_bytes(b[4..].try_into().unwrap()) as i64;
            s * 1_000_000_000 + n
        }
        rmpv::Value::Integer(i) => i.as_i64().unwrap() * 1_000_000_000,
        other => panic!("not an event time: {other:?}"),
    }
}

/// An event a forward receiver took: tag, time, record.
type Event = (String, i64, Value);

/// The forward protocol's receiving side. `misbehave` scripts the first connections.
fn fluent_receiver(port: u16, refuse_for: Duration) -> (Arc<Mutex<Vec<Event>>>, Arc<AtomicUsize>) {
    let events = Arc::new(Mutex::new(Vec::new()));
    let connections = Arc::new(AtomicUsize::new(0));
    let (kept, count) = (events.clone(), connections.clone());
    std::thread::spawn(move || {
        // Refuses: nothing listens yet.
        std::thread::sleep(refuse_for);
        let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
        for conn in listener.incoming() {
            let Ok(conn) = conn else { continue };
            let n = count.fetch_add(1, Ordering::SeqCst);
            let kept = kept.clone();
            // A thread per connection, as a server has: a stalled one holds up no other.
            std::thread::spawn(move || forward_connection(conn, n, &kept));
        }
    });
    (events, connections)
}

/// Serves one forward connection; the first two misbehave.
fn forward_connection(mut conn: TcpStream, n: usize, kept: &Mutex<Vec<Event>>) {
    match n {
        // Drops the connection in the middle of the first message.
        0 => {
            let mut part = [0u8; 100];
            let _ = conn.read(&mut part);
            return;
        }
        // Reads a whole message and stalls past the sender's timeout, no ack.
        1 => {
            let _ = rmpv::decode::read_value(&mut conn);
            std::thread::sleep(Duration::from_millis(3500));
            return;
        }
        _ => {}
    }
    while let Ok(msg) = rmpv::decode::read_value(&mut conn) {
        let parts = msg.as_array().expect("a message is an array");
        let tag = parts[0].as_str().expect("a tag").to_string();
        let (entries, option): (Vec<(i64, Value)>, Option<&rmpv::Value>) = match &parts[1] {
            // Forward mode: [tag, [[time, record], …], option?]
            rmpv::Value::Array(list) => (
                list.iter()
                    .map(|e| {
                        let e = e.as_array().unwrap();
                        (event_time(&e[0]), to_json(&e[1]))
                    })
                    .collect(),
                parts.get(2),
            ),
            // PackedForward: [tag, bin(stream of [time, record]), option?]
            rmpv::Value::Binary(b) => {
                let mut at = &b[..];
                let mut out = Vec::new();
                while !at.is_empty() {
                    let e = rmpv::decode::read_value(&mut at).unwrap();
                    let e = e.as_array().unwrap();
                    out.push((event_time(&e[0]), to_json(&e[1])));
                }
                (out, parts.get(2))
            }
            // Message mode: [tag, time, record, option?]
            t => (vec![(event_time(t), to_json(&parts[2]))], parts.get(3)),
        };
        let chunk = option
            .and_then(|o| o.as_map())
            .and_then(|m| m.iter().find(|(k, _)| k.as_str() == Some("chunk")))
            .and_then(|(_, v)| v.as_str())
            .map(str::to_string);
        if let Some(size) = option
            .and_then(|o| o.as_map())
            .and_then(|m| m.iter().find(|(k, _)| k.as_str() == Some("size")))
            .and_then(|(_, v)| v.as_u64())
        {
            assert_eq!(size as usize, entries.len(), "option size");
        }
        kept.lock().unwrap().extend(entries.into_iter().map(|(t, r)| (tag.clone(), t, r)));
        if let Some(c) = chunk {
            let mut ack = Vec::new();
            rmp::encode::write_map_len(&mut ack, 1).unwrap();
            rmp::encode::write_str(&mut ack, "ack").unwrap();
            rmp::encode::write_str(&mut ack, &c).unwrap();
            if conn.write_all(&ack).is_err() {
                break;
            }
        }
    }
}

/// What the bulk receiver holds and saw.
#[derive(Default)]
struct Elastic {
    template: Option<Value>,
    /// Documents by (index, id), and ids in the order first stored.
    docs: HashMap<(String, String), Value>,
    order: Vec<String>,
    refused: Vec<String>,
    requests: usize,
    /// What a real cluster would have refused: fields not in the template, wrong index.
    violations: Vec<String>,
}

fn mapped(template: &Value, path: &str) -> Option<String> {
    let mut node = &template["template"]["mappings"];
    for part in path.split('.') {
        node = node.get("properties")?.get(part)?;
    }
    node["type"].as_str().map(str::to_string)
}

fn leaves(v: &Value, prefix: &str, out: &mut Vec<(String, Value)>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let p = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                leaves(x, &p, out);
            }
        }
        other => out.push((prefix.to_string(), other.clone())),
    }
}

impl Elastic {
    /// One `_bulk` body: `create` action lines each followed by a document.
    fn bulk(&mut self, body: &str, request: usize) -> Value {
        let lines: Vec<&str> = body.lines().collect();
        assert!(lines.len().is_multiple_of(2), "action and document lines pair up");
        let mut items = Vec::new();
        let mut errors = false;
        for (i, pair) in lines.chunks(2).enumerate() {
            let action: Value = serde_json::from_str(pair[0]).unwrap();
            let doc: Value = serde_json::from_str(pair[1]).unwrap();
            let create = &action["create"];
            let (index, id) =
                (create["_index"].as_str().unwrap().to_string(), create["_id"].as_str().unwrap().to_string());
            let day = doc["@timestamp"].as_str().unwrap()[..10].replace('-', ".");
            if index != format!("tyto-{day}") {
                self.violations.push(format!("{id} in {index}, dated {day}"));
            }
            match &self.template {
                None => self.violations.push("a document before the index template".into()),
                Some(t) => {
                    let mut out = Vec::new();
                    leaves(&doc, "", &mut out);
                    for (path, _) in out {
                        if mapped(t, &path).is_none() {
                            self.violations.push(format!("{path} is not in the template"));
                        }
                    }
                }
            }
            let key = (index.clone(), id.clone());
            let held = self.docs.contains_key(&key);
            let (status, error) = if held {
                (409, Some("version_conflict_engine_exception"))
            } else if request == 3 && i % 7 == 3 {
                (429, Some("es_rejected_execution_exception"))
            } else if request == 3 && i == 0 {
                self.refused.push(id.clone());
                (400, Some("mapper_parsing_exception"))
            } else {
                self.docs.insert(key, doc);
                self.order.push(id.clone());
                (201, None)
            };
            errors |= error.is_some();
            let mut item = json!({ "_index": index, "_id": id, "status": status });
            if let Some(e) = error {
                item["error"] = json!({ "type": e, "reason": "as the test scripted" });
            }
            items.push(json!({ "create": item }));
        }
        json!({ "took": 1, "errors": errors, "items": items })
    }
}

/// The receiver's HTTP side: keep-alive connections, requests with Content-Length.
fn elastic_receiver() -> (String, Arc<Mutex<Elastic>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let state = Arc::new(Mutex::new(Elastic::default()));
    let shared = state.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { continue };
            let state = shared.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(conn.try_clone().unwrap());
                let mut conn = conn;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let mut len = 0;
                    loop {
                        let mut h = String::new();
                        if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                            break;
                        }
                        if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                            len = v.trim().parse().unwrap();
                        }
                    }
                    let mut body = vec![0; len];
                    reader.read_exact(&mut body).unwrap();
                    let body = String::from_utf8(body).unwrap();
                    let (status, answer) = {
                        let mut es = state.lock().unwrap();
                        if line.starts_with("PUT /_index_template/tyto ") {
                            es.template = Some(serde_json::from_str(&body).unwrap());
                            (200, json!({ "acknowledged": true }))
                        } else if line.starts_with("POST /_bulk ") {
                            let n = es.requests;
                            es.requests += 1;
                            match n {
                                0 => (
                                    429,
                                    json!({ "error": { "type": "es_rejected_execution_exception" }, "status": 429 }),
                                ),
                                1 => {
                                    // Indexed, but the answer never reaches the sender.
                                    es.bulk(&body, n);
                                    return;
                                }
                                _ => (200, es.bulk(&body, n)),
                            }
                        } else {
                            (404, json!({ "error": format!("no route for {}", line.trim()) }))
                        }
                    };
                    let text = answer.to_string();
                    let head = format!(
                        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
                        text.len()
                    );
                    if conn.write_all(head.as_bytes()).and_then(|_| conn.write_all(text.as_bytes())).is_err() {
                        return;
                    }
                }
            });
        }
    });
    (url, state)
}

/// The ECS reference: field → type.
fn ecs_reference() -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(common::manifest_dir().join("tests/data/ecs_reference.tsv")).unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (f, t) = l.split_once('\t').unwrap();
            (f.to_string(), t.to_string())
        })
        .collect()
}

/// Holds one ECS document to the reference: every field is ECS's (or Tyto's own,
/// under `tyto.`), and every value fits its type.
fn check_ecs(doc: &Value, reference: &BTreeMap<String, String>, template: &Value) {
    let mut out = Vec::new();
    leaves(doc, "", &mut out);
    for (path, v) in out {
        let t = if path.starts_with("tyto.") {
            mapped(template, &path).unwrap_or_else(|| panic!("{path} is not in the template"))
        } else {
            let t = reference.get(&path).unwrap_or_else(|| panic!("{path} is not an ECS field")).clone();
            let m = mapped(template, &path).unwrap_or_else(|| panic!("{path} is not in the template"));
            // keyword, wildcard and constant_keyword are one family.
            let family = |t: &str| if t == "wildcard" { "keyword".to_string() } else { t.to_string() };
            assert_eq!(family(&m), family(&t), "{path}: the template's type against ECS's");
            t
        };
        let values = match v {
            Value::Array(a) => a,
            x => vec![x],
        };
        for x in values {
            let fits = match t.as_str() {
                "long" => x.is_u64() || x.is_i64(),
                "ip" => x.as_str().is_some_and(|s| s.parse::<std::net::IpAddr>().is_ok()),
                "date" => x.as_str().is_some_and(|s| s.len() >= 20 && s.ends_with('Z') && s.as_bytes()[10] == b'T'),
                "keyword" | "wildcard" => x.is_string(),
                "boolean" => x.is_boolean(),
                other => panic!("{path}: type {other} not checked"),
            };
            assert!(fits, "{path}: {x} is not a valid {t}");
        }
    }
}

fn read_lines(paths: &[PathBuf]) -> Vec<Value> {
    paths
        .iter()
        .flat_map(|p| {
            std::fs::read_to_string(p).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect::<Vec<_>>()
        })
        .collect()
}

/// The rotated files of `flows.jsonl`, oldest first, then the current one.
fn flow_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_str().unwrap().starts_with("flows-"))
        .collect();
    v.sort();
    v.push(dir.join("flows.jsonl"));
    v
}

#[test]
fn every_record_arrives_once_in_order_through_misbehaving_receivers() {
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("sample.pcap");
    let hosts = 2000;
    ok(tyto().args(["sample", "--hosts", &hosts.to_string(), "--output"]).arg(&pcap).output().unwrap());
    let mut inputs = vec![pcap];
    // TLS handshakes with certificates, and DTLS, from the shared captures.
    if let Some(shared) = common::pcaps_dir() {
        for f in ["https-generalizedtime.pcap", "cloudshark-dtls1.pcap"] {
            let to = dir.path().join(f);
            std::fs::copy(shared.join("arkime").join(f), &to).unwrap();
            inputs.push(to);
        }
    }
    let fluent_port = free_port();
    let (events, connections) = fluent_receiver(fluent_port, Duration::from_millis(1500));
    let (es_url, es) = elastic_receiver();
    let logs = dir.path().join("logs").join("ecs.jsonl");
    let config = dir.path().join("tyto.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[[output]]
kind = "fluentd"
target = "127.0.0.1:{fluent_port}"
records = ["flow", "dns", "http", "tls"]
tag = "tyto"
ack = true
batch = 300
timeout_ms = 2000
retry_ms = 100
max_retry_ms = 400

[[output]]
kind = "elasticsearch"
target = "{es_url}"
records = ["dns", "http", "tls"]
index = "tyto"
batch = 1000
retry_ms = 100

[[output]]
kind = "file"
target = "{flows}"
records = ["flow"]
rotate_mib = 1
keep = 100

[[output]]
kind = "file"
target = "{logs}"
records = ["dns", "http", "tls"]
"#,
            flows = dir.path().join("flows.jsonl").display(),
            logs = logs.display(),
        ),
    )
    .unwrap();
    let data = dir.path().join("data");
    let started = Instant::now();
    let out = ok(tyto()
        .arg("ingest")
        .args(&inputs)
        .arg("--data-dir")
        .arg(&data)
        .arg("--config")
        .arg(&config)
        .output()
        .unwrap());
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    eprintln!("{stderr}\ningest with four outputs: {:.1} s", started.elapsed().as_secs_f64());

    // What the store holds is what should have gone out.
    let sessions = ok(tyto()
        .args(["sessions", "--format", "ndjson", "--limit", "1000000", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap());
    let stored: Vec<Value> =
        String::from_utf8(sessions.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let stored_ids: BTreeSet<String> = stored.iter().map(|s| s["id"].as_str().unwrap().to_string()).collect();
    let tls_sessions = stored
        .iter()
        .filter(|s| {
            let p = s["protocols"].as_array().unwrap();
            p.contains(&json!("tls")) || p.contains(&json!("dtls"))
        })
        .count();
    assert!(stored.len() >= 3 * hosts, "{} rows", stored.len());

    // Files: flat flow records, rotated, once each; every documented field.
    let flow_paths = flow_files(dir.path());
    assert!(flow_paths.len() >= 3, "1 MiB rotation over several MiB: {flow_paths:?}");
    let flows = read_lines(&flow_paths);
    let file_ids: Vec<String> = flows.iter().map(|f| f["id"].as_str().unwrap().to_string()).collect();
    assert_eq!(file_ids.len(), stored_ids.len(), "one flow record per row");
    assert!(file_ids.iter().cloned().collect::<BTreeSet<_>>() == stored_ids, "the file's flows are the stored rows");
    let http_flow = flows.iter().find(|f| f["port.dst"] == 80).unwrap();
    for key in [
        "ip.src",
        "port.src",
        "ip.dst",
        "ip.protocol",
        "protocols",
        "packets.src",
        "packets.dst",
        "bytes.src",
        "bytes.dst",
        "starttime",
        "stoptime",
        "tcpflags.syn",
        "tcpflags.fin",
        "host.http",
        "node",
        "session.closereason",
    ] {
        assert!(http_flow.get(key).is_some(), "{key} in {http_flow}");
    }

    // fluentd: everything acknowledged once, in the order written, despite the refusals,
    // the dropped connection and the stall.
    assert!(connections.load(Ordering::SeqCst) >= 3, "the misbehaving connections were made");
    let events = events.lock().unwrap().clone();
    let by_tag = |tag: &str| -> Vec<&Event> { events.iter().filter(|e| e.0 == tag).collect() };
    let fluent_flow_ids: Vec<String> =
        by_tag("tyto.flow").iter().map(|e| e.2["id"].as_str().unwrap().to_string()).collect();
    let first_difference = fluent_flow_ids.iter().zip(&file_ids).position(|(a, b)| a != b);
    assert_eq!(
        (fluent_flow_ids.len(), first_difference),
        (file_ids.len(), None),
        "fluentd got the flows once each, in the order the file did"
    );
    for e in by_tag("tyto.flow") {
        let start = tyto_schema::time::parse_time(e.2["starttime"].as_str().unwrap()).unwrap();
        assert_eq!(e.1 / 1000, start / 1000, "the event time is the session's start");
    }
    let dns_events = by_tag("tyto.dns");
    let http_events = by_tag("tyto.http");
    let sample_hosts =
        |list: &[&Event]| list.iter().filter(|e| e.2["source"]["ip"].as_str().unwrap().starts_with("10.1.")).count();
    assert_eq!(sample_hosts(&dns_events), hosts, "one DNS transaction per sample host");
    assert_eq!(sample_hosts(&http_events), hosts, "one HTTP transaction per sample host");
    assert_eq!(by_tag("tyto.tls").len(), tls_sessions);

    // The documented ECS fields, checked on what fluentd received.
    let dns = dns_events.iter().find(|e| e.2["source"]["ip"] == "10.1.0.8").unwrap();
    assert_eq!(dns.2["event"]["dataset"], "dns");
    assert_eq!(dns.2["dns"]["question"]["name"], "www2.example.com");
    assert_eq!(dns.2["dns"]["question"]["type"], "A");
    assert_eq!(dns.2["dns"]["resolved_ip"], "192.0.2.10");
    assert_eq!(dns.2["dns"]["type"], "answer");
    assert_eq!(dns.2["event"]["duration"], 3_000_000, "answered after 3 ms");
    assert_eq!(dns.2["destination"]["port"], 53);
    assert_eq!(dns.2["network"]["transport"], "udp");
    let http = http_events.iter().find(|e| e.2["url"]["path"] == "/page/7").unwrap();
    assert_eq!(http.2["http"]["request"]["method"], "GET");
    assert_eq!(http.2["http"]["response"]["status_code"], 200);
    assert_eq!(http.2["url"]["domain"], "www2.example.com");
    assert_eq!(http.2["user_agent"]["original"], "tyto-sample/1.0");
    assert_eq!(http.2["http"]["response"]["mime_type"], "text/html");
    assert_eq!(http.2["event"]["duration"], 7_000_000, "request at 13 ms, response at 20 ms");
    let body = "<html><body>page 7</body></html>".len();
    let head = format!("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {body}\r\n\r\n").len();
    assert_eq!(http.2["http"]["response"]["bytes"], head + body);
    assert!(stored_ids.contains(http.2["tyto"]["session_id"].as_str().unwrap()));

    // Elasticsearch: the template first, each document once despite the 429s and
    // the lost answer, one refused for good and counted.
    let es = es.lock().unwrap();
    assert!(es.violations.is_empty(), "{:?}", &es.violations[..es.violations.len().min(5)]);
    assert_eq!(es.refused.len(), 1);
    let transactions = dns_events.len() + http_events.len() + by_tag("tyto.tls").len();
    assert_eq!(es.order.len(), transactions - 1, "every document but the refused one, once");
    assert!(stderr.contains(&format!("{} records sent, 1 refused, 0 dropped", transactions - 1)), "{stderr}");
    let logs_written = read_lines(std::slice::from_ref(&logs));
    assert_eq!(logs_written.len(), transactions);

    // Every ECS document holds to ECS's types and to the template.
    let reference = ecs_reference();
    let template = es.template.clone().unwrap();
    for d in es.docs.values().chain(logs_written.iter()) {
        check_ecs(d, &reference, &template);
    }
    for (_, _, r) in events.iter().filter(|e| e.0 != "tyto.flow") {
        check_ecs(r, &reference, &template);
    }
    if tls_sessions > 0 {
        let tls = es.docs.values().find(|d| d["event"]["dataset"] == "tls" && d["tls"]["server"]["x509"].is_object());
        let tls = tls.expect("a TLS handshake with its certificate");
        assert!(tls["tls"]["version"].is_array() && tls["tls"]["server"]["hash"]["sha1"].is_array(), "{tls}");
    }
}

/// A receiver that takes the connection and never reads: the ingest is not held up;
/// what does not fit the queue is dropped, what is held at the end is dropped after
/// `end_wait_s`, and both are counted.
#[test]
fn a_stalled_receiver_never_holds_the_ingest_up() {
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("sample.pcap");
    ok(tyto().args(["sample", "--hosts", "3000", "--output"]).arg(&pcap).output().unwrap());
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let held = Arc::new(Mutex::new(Vec::<TcpStream>::new()));
    let keep = held.clone();
    std::thread::spawn(move || {
        for c in listener.incoming().flatten() {
            keep.lock().unwrap().push(c);
        }
    });
    let config = dir.path().join("tyto.toml");
    std::fs::write(
        &config,
        format!(
            "[[output]]\nkind = \"fluentd\"\ntarget = \"{addr}\"\nrecords = [\"flow\", \"dns\", \"http\"]\nqueue = 500\ntimeout_ms = 500\nend_wait_s = 2\n"
        ),
    )
    .unwrap();
    let started = Instant::now();
    let out = ok(tyto()
        .arg("ingest")
        .arg(&pcap)
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .arg("--config")
        .arg(&config)
        .output()
        .unwrap());
    let took = started.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("{stderr}\ningest against a stalled receiver: {:.1} s", took.as_secs_f64());
    assert!(took < Duration::from_secs(30), "{took:?}");
    // 3 rows and 2 transactions per host, 500 at most held.
    let line = stderr.lines().find(|l| l.contains("records sent")).unwrap();
    let count = |what: &str| -> u64 {
        let before = &line[..line.find(what).unwrap_or_else(|| panic!("{what} in {line}"))];
        before.trim_end().rsplit(' ').next().unwrap().parse().unwrap()
    };
    assert_eq!(count("records sent"), 0, "nothing was acknowledged: {line}");
    let rows: u64 = stderr.split(" session rows").next().unwrap().rsplit(' ').next().unwrap().parse().unwrap();
    assert_eq!(count("dropped"), rows + 2 * 3000, "every record counted as dropped: {line}");
}
