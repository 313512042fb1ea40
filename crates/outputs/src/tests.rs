//! Unit tests of the records and the three protocols' framing; the outputs end to end
//! (against receivers that follow each protocol) are in the `tyto` crate's tests.

use std::sync::Arc;

use serde_json::{json, Value};
use tyto_packet::{Addr, MacAddr};
use tyto_schema::{DirStats, SessionRecord, Transaction, Transactions};

use crate::documents::{ecs_documents, ecs_fields, ecs_flow, flow_record, index_template};
use crate::{bulk, file, fluent, Deliver, Document, OutputConfig, OutputCounters, RecordKind};
use std::sync::atomic::Ordering;
use tyto_schema::metrics::{Metrics, Sample};

fn row() -> SessionRecord {
    let mut r = SessionRecord {
        id: "260101-abc".into(),
        root_id: "260101-abc".into(),
        segment: 1,
        node: "sensor-a".into(),
        ip_protocol: 17,
        src_ip: Some(Addr::from_v4([10, 0, 0, 5])),
        dst_ip: Some(Addr::from_v4([192, 0, 2, 53])),
        src_port: 40000,
        dst_port: 53,
        start_ns: 1_767_225_600_000_000_000,
        stop_ns: 1_767_225_600_003_000_000,
        src: DirStats { packets: 1, bytes: 80, databytes: 38 },
        dst: DirStats { packets: 1, bytes: 96, databytes: 54 },
        protocols: vec!["udp".into(), "dns".into()],
        vlans: vec![100],
        mac_src: vec![MacAddr([0x02, 0, 0x0a, 0x01, 0, 6])],
        ..SessionRecord::default()
    };
    r.extra.add_text("country.dst", "USA").unwrap();
    r.extra.add_text("asn.dst", "AS15169 Google LLC").unwrap();
    r.extra.add_text("host.dns", "www.example.com").unwrap();
    let mut t = Transaction::new("dns");
    t.request_ns = Some(r.start_ns);
    t.response_ns = Some(r.stop_ns);
    t.request_bytes = 38;
    t.response_bytes = 54;
    for (f, v) in [("host.dns", "www.example.com"), ("host.dns", "example.com"), ("dns.query.type", "A")] {
        t.values.add_text(f, v).unwrap();
    }
    t.values.add_text("dns.status", "NOERROR").unwrap();
    t.values.add_ip("ip.dns", Addr::from_v4([93, 184, 216, 34])).unwrap();
    r.transactions = Some(Transactions { list: vec![t], dropped: 0 });
    r
}

/// Every leaf of a document, by dotted path.
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

#[test]
fn the_flow_record_is_flat_and_named_as_analysts_search() {
    let f = flow_record(&row());
    assert_eq!(f["ip.src"], "10.0.0.5");
    assert_eq!(f["port.dst"], 53);
    assert_eq!(f["protocols"], json!(["udp", "dns"]));
    assert_eq!(f["bytes.dst"], 96);
    assert_eq!(f["country.dst"], "USA");
    assert_eq!(f["starttime"], "2026-01-01T00:00:00.000000Z");
    assert!(f.get("tcpflags.syn").is_some(), "counters are written even when zero");
    assert!(f.get("host.http").is_none(), "empty values are left out");
}

#[test]
fn ecs_documents_convert_what_ecs_spells_differently() {
    let d = ecs_flow(&row());
    assert_eq!(d["event"]["dataset"], "flow");
    assert_eq!(d["source"]["ip"], "10.0.0.5");
    assert_eq!(d["destination"]["geo"]["country_iso_code"], "US", "alpha-3 becomes alpha-2");
    assert_eq!(d["destination"]["as"]["number"], 15169);
    assert_eq!(d["destination"]["as"]["organization"]["name"], "Google LLC");
    assert_eq!(d["network"]["iana_number"], "17", "a keyword in ECS");
    assert_eq!(d["network"]["vlan"]["id"], json!(["100"]));
    assert_eq!(d["network"]["transport"], "udp");
    assert_eq!(d["source"]["mac"], json!(["02-00-0A-01-00-06"]));
    assert_eq!(d["event"]["duration"], 3_000_000);
    assert_eq!(d["tyto"]["databytes"], 92, "fields without an ECS name go under tyto.<column>");

    let mut docs = Vec::new();
    ecs_documents(&row(), RecordKind::Dns, &mut docs);
    assert_eq!(docs.len(), 1);
    let dns = &docs[0].body;
    assert_eq!(docs[0].id, "260101-abc-dns0");
    assert_eq!(dns["dns"]["question"]["name"], "www.example.com", "the question, not the CNAME target");
    assert_eq!(dns["dns"]["type"], "answer");
    assert_eq!(dns["dns"]["resolved_ip"], "93.184.216.34");
    assert_eq!(dns["dns"]["response_code"], "NOERROR");
    assert_eq!(dns["event"]["outcome"], "success");
    assert_eq!(dns["source"]["bytes"], 38);
    assert_eq!(dns["destination"]["bytes"], 54);
    assert_eq!(dns["tyto"]["session_id"], "260101-abc");

    let mut tls = row();
    tls.protocols = vec!["tcp".into(), "tls".into()];
    tls.extra.add_text("tls.version", "TLSv1.3").unwrap();
    tls.extra.add_text("cert.hash", "ab12").unwrap();
    let mut docs = Vec::new();
    ecs_documents(&tls, RecordKind::Tls, &mut docs);
    assert_eq!(docs[0].body["tls"]["version"], json!(["1.3"]));
    assert_eq!(docs[0].body["tls"]["version_protocol"], "tls");
    assert_eq!(docs[0].body["tls"]["server"]["hash"]["sha1"], json!(["AB12"]));
}

/// The template maps every field a document can hold, with the type its values have.
#[test]
fn the_index_template_maps_every_field_of_every_document() {
    let fields = ecs_fields();
    let template = index_template("tyto-*");
    let mut docs = Vec::new();
    let mut tls = row();
    tls.protocols.push("tls".into());
    tls.extra.add_text("tls.version", "TLSv1.2").unwrap();
    // A failed query beside the lookup: a database transaction's document.
    let mut query = Transaction::new("mysql");
    query.request_ns = Some(tls.start_ns);
    query.response_ns = Some(tls.start_ns + 2_500_000);
    query.response_us = Some(2_500);
    query.values.add_text("mysql.query", "SELECT * FROM t WHERE id = ?").unwrap();
    query.values.add_text("mysql.error", "1146 42S02 Table 't' doesn't exist").unwrap();
    tls.transactions.as_mut().unwrap().list.push(query);
    for k in RecordKind::ALL {
        ecs_documents(&tls, k, &mut docs);
    }
    assert_eq!(docs.len(), 4, "flow, dns, tls, mysql");
    let mysql = &docs.iter().find(|d| d.kind == RecordKind::Mysql).unwrap().body;
    assert_eq!(mysql["event"]["dataset"], "mysql");
    assert_eq!(mysql["event"]["outcome"], "failure");
    assert_eq!(mysql["status"], "Error");
    assert_eq!(mysql["event"]["duration"], 2_500_000);
    assert_eq!(mysql["tyto"]["mysql_query"], "SELECT * FROM t WHERE id = ?");
    for d in &docs {
        let mut out = Vec::new();
        leaves(&d.body, "", &mut out);
        for (path, v) in out {
            let (_, t) = fields.iter().find(|(p, _)| *p == path).unwrap_or_else(|| panic!("{path} is not mapped"));
            let mut node = &template["template"]["mappings"];
            for part in path.split('.') {
                node = &node["properties"][part];
            }
            assert_eq!(node["type"], t.as_str(), "{path}");
            let items = match v {
                Value::Array(a) => a,
                x => vec![x],
            };
            for x in items {
                let fits = match t {
                    crate::EcsType::Long => x.is_i64() || x.is_u64(),
                    crate::EcsType::Float => x.is_number(),
                    crate::EcsType::Ip => x.as_str().is_some_and(|s| s.parse::<std::net::IpAddr>().is_ok()),
                    crate::EcsType::Date => x.as_str().is_some_and(|s| s.ends_with('Z') && s.len() >= 20),
                    crate::EcsType::Keyword => x.is_string(),
                };
                assert!(fits, "{path}: {x} is not a {}", t.as_str());
            }
        }
    }
}

#[test]
fn bulk_answers_are_read_item_by_item() {
    let answer = json!({"took": 3, "errors": true, "items": [
        {"create": {"_id": "a", "status": 201}},
        {"create": {"_id": "b", "status": 409, "error": {"type": "version_conflict_engine_exception"}}},
        {"create": {"_id": "c", "status": 429, "error": {"type": "es_rejected_execution_exception"}}},
        {"create": {"_id": "d", "status": 400, "error": {"type": "mapper_parsing_exception", "reason": "failed to parse"}}},
        {"create": {"_id": "e", "status": 503}},
    ]});
    let a = bulk::read_answer(5, &answer);
    assert_eq!(a.retry, vec![2, 4]);
    assert_eq!(a.rejected, 1);
    assert!(a.refusal.unwrap().contains("mapper_parsing_exception"));
    assert!(bulk::read_answer(2, &json!({"errors": false, "items": []})).retry.is_empty());
    assert_eq!(
        bulk::read_answer(2, &json!({"errors": true, "items": []})).retry,
        vec![0, 1],
        "items missing: all again"
    );
}

#[test]
fn a_forward_message_is_what_the_specification_describes() {
    let docs = vec![
        Arc::new(Document {
            kind: RecordKind::Flow,
            time_ns: 1_700_000_000_500_000_000,
            id: "x".into(),
            body: json!({"a": 1}),
        }),
        Arc::new(Document {
            kind: RecordKind::Flow,
            time_ns: 1_700_000_001_000_000_000,
            id: "y".into(),
            body: json!({"a": 2}),
        }),
    ];
    let m = fluent::message("tyto.flow", &docs, Some("Y2h1bms="));
    let v = rmpv::decode::read_value(&mut &m[..]).unwrap();
    let parts = v.as_array().unwrap();
    assert_eq!(parts[0].as_str(), Some("tyto.flow"));
    let entries = parts[1].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    let rmpv::Value::Ext(0, time) = &entries[0].as_array().unwrap()[0] else { panic!("EventTime") };
    assert_eq!(time[..4], 1_700_000_000u32.to_be_bytes());
    assert_eq!(time[4..], 500_000_000u32.to_be_bytes());
    let option = parts[2].as_map().unwrap();
    assert!(option.iter().any(|(k, v)| k.as_str() == Some("chunk") && v.as_str() == Some("Y2h1bms=")));
    assert!(option.iter().any(|(k, v)| k.as_str() == Some("size") && v.as_u64() == Some(2)));
}

#[test]
fn files_rotate_and_keep_the_newest() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("flows.jsonl");
    let cfg = OutputConfig {
        kind: crate::OutputKind::File,
        target: path.display().to_string(),
        rotate_mib: 0,
        keep: 2,
        ..OutputConfig::default()
    };
    let mut out = file::JsonLines::new(&cfg);
    out.set_rotate_bytes(100);
    let doc = |i: usize| Document {
        kind: RecordKind::Flow,
        time_ns: 0,
        id: i.to_string(),
        body: json!({ "n": i, "pad": "x".repeat(40) }),
    };
    let mut written = 0;
    for round in 0..5 {
        let batch: Vec<Arc<Document>> = (0..2).map(|j| Arc::new(doc(round * 2 + j))).collect();
        let a = out.deliver(&batch);
        assert!(a.retry.is_empty());
        written += 2;
    }
    assert_eq!(written, 10);
    let old = file::rotated(&path);
    assert_eq!(old.len(), 2, "{old:?}");
    let last: Vec<Value> =
        std::fs::read_to_string(&old[1]).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(last.iter().map(|v| v["n"].as_u64().unwrap()).collect::<Vec<_>>(), vec![8, 9]);
}

#[test]
fn settings_are_checked_with_their_names() {
    let bad = |c: OutputConfig| c.check().unwrap_err();
    let base = OutputConfig { target: "127.0.0.1:24224".into(), ..OutputConfig::default() };
    assert!(base.check().is_ok());
    assert!(bad(OutputConfig { target: "localhost".into(), ..base.clone() }).contains("HOST:PORT"));
    assert!(bad(OutputConfig { records: vec![], ..base.clone() }).contains("records"));
    let es =
        OutputConfig { kind: crate::OutputKind::Elasticsearch, target: "http://127.0.0.1:9200".into(), ..base.clone() };
    assert!(es.check().is_ok());
    assert!(bad(OutputConfig { index: "Tyto".into(), ..es.clone() }).contains("index"));
    assert!(bad(OutputConfig { target: "127.0.0.1:9200".into(), ..es }).contains("http://"));
    let toml_like: OutputConfig =
        serde_json::from_value(json!({"kind": "file", "target": "/tmp/x.jsonl", "records": ["flow", "dns"]})).unwrap();
    assert_eq!(toml_like.records, vec![RecordKind::Flow, RecordKind::Dns]);
    assert!(serde_json::from_value::<OutputConfig>(json!({"kind": "kafka"})).is_err());
}

#[test]
fn an_outputs_counters_as_the_viewer_shows_them() {
    let c = OutputCounters { label: "file /tmp/x".into(), ..OutputCounters::default() };
    c.sent.store(5, Ordering::Relaxed);
    c.queued.store(2, Ordering::Relaxed);
    assert_eq!(
        c.json(),
        serde_json::json!({ "output": "file /tmp/x", "sent": 5, "retries": 0, "rejected": 0, "dropped": 0, "queued": 2 })
    );
    let fams = c.families();
    let names: Vec<(&str, bool)> = fams.iter().map(|f| (f.name.as_str(), f.gauge)).collect();
    assert_eq!(
        names,
        [
            ("tyto_export_sent_total", false),
            ("tyto_export_retries_total", false),
            ("tyto_export_rejected_total", false),
            ("tyto_export_dropped_total", false),
            ("tyto_export_queued", true)
        ]
    );
    assert_eq!(fams[4].samples, vec![Sample { labels: vec![("output", "file /tmp/x".into())], value: 2 }]);
}
