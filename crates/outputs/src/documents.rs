//! The records Tyto exports, built from a session row.
//!
//! - A *flow record* (NetFlow-like, flat): one per row, keyed by the catalogue's
//!   expression names, the names analysts search with and `tyto dump` prints.
//! - *ECS documents*: one per row (`flow`), per DNS query/answer and HTTP
//!   request/response (the row's transactions) and per TLS handshake, laid out as
//!   Packetbeat lays them out. Every catalogue field lands under its ECS name where
//!   the catalogue gives one and under `tyto.<column>` otherwise, so the mapping and
//!   the index template both come from the one catalogue.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use tyto_schema::time::format_rfc3339;
use tyto_schema::{field, FieldDef, FieldKind, SessionRecord, Source, Transaction, FIELDS};

/// What a record is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RecordKind {
    /// One per session row.
    Flow,
    /// One per DNS query and its answer.
    Dns,
    /// One per HTTP request and its response.
    Http,
    /// One per TLS (or DTLS) handshake.
    Tls,
    /// One per database or cache request and its answer, as Packetbeat writes them.
    Mysql,
    Pgsql,
    Tds,
    Redis,
    Mongodb,
    Memcache,
}

impl RecordKind {
    pub const ALL: [RecordKind; 10] = [
        RecordKind::Flow,
        RecordKind::Dns,
        RecordKind::Http,
        RecordKind::Tls,
        RecordKind::Mysql,
        RecordKind::Pgsql,
        RecordKind::Tds,
        RecordKind::Redis,
        RecordKind::Mongodb,
        RecordKind::Memcache,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RecordKind::Flow => "flow",
            RecordKind::Dns => "dns",
            RecordKind::Http => "http",
            RecordKind::Tls => "tls",
            RecordKind::Mysql => "mysql",
            RecordKind::Pgsql => "pgsql",
            RecordKind::Tds => "tds",
            RecordKind::Redis => "redis",
            RecordKind::Mongodb => "mongodb",
            RecordKind::Memcache => "memcache",
        }
    }

    /// Whether records of this kind are transactions (request/answer pairs).
    pub fn is_transaction(self) -> bool {
        !matches!(self, RecordKind::Flow | RecordKind::Tls)
    }

    /// The kind of a transaction's documents.
    fn of_transaction(t: &Transaction) -> Option<RecordKind> {
        RecordKind::ALL.into_iter().find(|k| k.is_transaction() && k.as_str() == t.protocol)
    }
}

/// One record on its way out.
#[derive(Clone, Debug, PartialEq)]
pub struct Document {
    pub kind: RecordKind,
    /// Packet time it is filed under (daily index names, fluentd's event time).
    pub time_ns: i64,
    /// Stable across runs and retries: a receiver that already holds it can tell.
    pub id: String,
    pub body: Value,
}

/// The version of the Elastic Common Schema the documents follow.
pub const ECS_VERSION: &str = "8.11.0";

/// The catalogue fields of a flow record, in the order written.
pub const FLOW_FIELDS: &[&str] = &[
    "id",
    "rootId",
    "session.segments",
    "node",
    "starttime",
    "stoptime",
    "ip.protocol",
    "ip.src",
    "port.src",
    "ip.dst",
    "port.dst",
    "protocols",
    "packets.src",
    "packets.dst",
    "bytes.src",
    "bytes.dst",
    "databytes.src",
    "databytes.dst",
    "tcpflags.syn",
    "tcpflags.syn-ack",
    "tcpflags.ack",
    "tcpflags.psh",
    "tcpflags.fin",
    "tcpflags.rst",
    "tcpflags.urg",
    "vlan",
    "mac.src",
    "mac.dst",
    "country.src",
    "country.dst",
    "asn.src",
    "asn.dst",
    "host.http",
    "host.tls",
    "host.quic",
    "host.dns",
    "user",
    "tags",
    "session.closereason",
];

/// The NetFlow-like record of a row: `{"ip.src": "10.0.0.1", "port.src": 51000, …}`.
/// Empty values are left out.
pub fn flow_record(rec: &SessionRecord) -> Value {
    let mut obj = Map::new();
    for name in FLOW_FIELDS {
        let Some(f) = field(name) else { continue };
        if let Some(v) = f.value(rec).to_json() {
            obj.insert((*name).to_string(), v);
        }
    }
    Value::Object(obj)
}

/// The type of an ECS field, as the index template maps it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EcsType {
    Keyword,
    Long,
    Float,
    Ip,
    Date,
}

impl EcsType {
    pub fn as_str(self) -> &'static str {
        match self {
            EcsType::Keyword => "keyword",
            EcsType::Long => "long",
            EcsType::Float => "float",
            EcsType::Ip => "ip",
            EcsType::Date => "date",
        }
    }
}

/// ECS fields that hold numbers as keywords (the catalogue holds them as integers).
const NUMBERS_AS_KEYWORDS: &[&str] = &["network.iana_number", "network.vlan.id"];

/// The fields every ECS document may carry besides the catalogue's, with their types.
const STRUCTURE: &[(&str, EcsType)] = &[
    ("@timestamp", EcsType::Date),
    ("ecs.version", EcsType::Keyword),
    ("event.kind", EcsType::Keyword),
    ("event.category", EcsType::Keyword),
    ("event.type", EcsType::Keyword),
    ("event.dataset", EcsType::Keyword),
    ("event.outcome", EcsType::Keyword),
    ("event.duration", EcsType::Long),
    ("observer.type", EcsType::Keyword),
    ("observer.product", EcsType::Keyword),
    ("network.transport", EcsType::Keyword),
    ("network.type", EcsType::Keyword),
    ("client.ip", EcsType::Ip),
    ("client.port", EcsType::Long),
    ("client.bytes", EcsType::Long),
    ("client.packets", EcsType::Long),
    ("server.ip", EcsType::Ip),
    ("server.port", EcsType::Long),
    ("server.bytes", EcsType::Long),
    ("server.packets", EcsType::Long),
    ("related.ip", EcsType::Ip),
    ("source.as.number", EcsType::Long),
    ("destination.as.number", EcsType::Long),
    ("dns.type", EcsType::Keyword),
    ("http.request.bytes", EcsType::Long),
    ("http.response.bytes", EcsType::Long),
    ("status", EcsType::Keyword),
    ("type", EcsType::Keyword),
    ("tyto.response_time_us", EcsType::Long),
    ("tls.version_protocol", EcsType::Keyword),
    ("tyto.session_id", EcsType::Keyword),
];

/// Where a catalogue field goes in an ECS document.
fn ecs_path(f: &FieldDef) -> String {
    match f.ecs {
        Some(name) => name.to_string(),
        None => format!("tyto.{}", f.column),
    }
}

fn ecs_type(f: &FieldDef, path: &str) -> EcsType {
    if NUMBERS_AS_KEYWORDS.contains(&path) {
        return EcsType::Keyword;
    }
    match f.kind {
        FieldKind::Ip => EcsType::Ip,
        FieldKind::Integer => EcsType::Long,
        FieldKind::Duration => EcsType::Float,
        FieldKind::Date => EcsType::Date,
        FieldKind::Text | FieldKind::LowerText => EcsType::Keyword,
    }
}

/// Every field an ECS document can hold, with its type: the index template, and
/// what the tests hold every document to.
pub fn ecs_fields() -> Vec<(String, EcsType)> {
    let mut out: Vec<(String, EcsType)> = STRUCTURE.iter().map(|(p, t)| (p.to_string(), *t)).collect();
    for f in FIELDS.iter().filter(|f| f.in_dump) {
        let path = ecs_path(f);
        let t = ecs_type(f, &path);
        if !out.iter().any(|(p, _)| *p == path) {
            out.push((path, t));
        }
    }
    out
}

/// The index template for Elasticsearch and OpenSearch (`_index_template`).
pub fn index_template(pattern: &str) -> Value {
    let mut properties = Map::new();
    for (path, t) in ecs_fields() {
        let mut at = &mut properties;
        let parts: Vec<&str> = path.split('.').collect();
        // `@timestamp` has no dot; every other path nests objects.
        for p in &parts[..parts.len() - 1] {
            let entry = at.entry(p.to_string()).or_insert_with(|| json!({ "properties": {} }));
            at = entry["properties"].as_object_mut().expect("an object node");
        }
        let mut mapping = json!({ "type": t.as_str() });
        if t == EcsType::Keyword {
            mapping["ignore_above"] = json!(1024);
        }
        at.insert(parts[parts.len() - 1].to_string(), mapping);
    }
    json!({
        "index_patterns": [pattern],
        "priority": 200,
        "_meta": { "description": "Tyto flow records and protocol logs (ECS)", "ecs_version": ECS_VERSION },
        "template": { "mappings": { "dynamic": true, "properties": properties } }
    })
}

/// Sets `path` (dotted) in a nested object.
fn put(doc: &mut Map<String, Value>, path: &str, v: Value) {
    let mut at = doc;
    let mut parts = path.split('.').peekable();
    while let Some(p) = parts.next() {
        if parts.peek().is_none() {
            at.insert(p.to_string(), v);
            return;
        }
        let entry = at.entry(p.to_string()).or_insert_with(|| Value::Object(Map::new()));
        if !entry.is_object() {
            // Two fields would claim one name: the first stays.
            return;
        }
        at = entry.as_object_mut().expect("checked");
    }
}

/// A value as ECS wants it, with what ECS splits out of it.
fn put_ecs(doc: &mut Map<String, Value>, f: &FieldDef, value: Value) {
    let path = ecs_path(f);
    let each = |v: &Value, conv: &dyn Fn(&str) -> Option<String>| -> Value {
        match v {
            Value::Array(list) => {
                Value::Array(list.iter().filter_map(|x| x.as_str().and_then(conv).map(Value::from)).collect::<Vec<_>>())
            }
            Value::String(s) => conv(s).map_or(Value::Null, Value::from),
            other => other.clone(),
        }
    };
    let value = if NUMBERS_AS_KEYWORDS.contains(&path.as_str()) {
        match value {
            Value::Array(list) => Value::Array(list.iter().map(|n| Value::from(n.to_string())).collect()),
            n => Value::from(n.to_string()),
        }
    } else if path.ends_with(".geo.country_iso_code") {
        // Stored as Arkime stores it (alpha-3); ECS wants ISO 3166 alpha-2.
        each(&value, &|s| isocountry::CountryCode::for_alpha3_caseless(s).ok().map(|c| c.alpha2().to_string()))
    } else if path.ends_with(".mac") {
        // ECS writes addresses as 00-00-5E-00-53-23.
        each(&value, &|s| Some(s.to_ascii_uppercase().replace(':', "-")))
    } else if path.contains(".hash.") || path.ends_with(".serial_number") {
        each(&value, &|s| Some(s.to_ascii_uppercase()))
    } else if let Some(side) = path.strip_suffix(".as.organization.name") {
        // `AS15169 Google LLC`: the number and the organisation are two ECS fields.
        let Some(s) = value.as_str() else { return };
        let (num, org) = s.split_once(' ').unwrap_or((s, ""));
        if let Some(n) = num.strip_prefix("AS").and_then(|n| n.parse::<u64>().ok()) {
            put(doc, &format!("{side}.as.number"), Value::from(n));
        }
        if org.is_empty() {
            return;
        }
        Value::from(org)
    } else if path == "tls.version" {
        // `TLSv1.3` is version 1.3 of protocol tls.
        let split = |s: &str| {
            let (proto, ver) = s.split_once('v')?;
            let proto = proto.to_ascii_lowercase();
            Some((proto, if ver == "3" && s.starts_with("SSL") { "3.0".to_string() } else { ver.to_string() }))
        };
        let first = match &value {
            Value::Array(l) => l.first().and_then(Value::as_str).map(str::to_string),
            Value::String(s) => Some(s.clone()),
            _ => None,
        };
        if let Some((proto, _)) = first.as_deref().and_then(split) {
            put(doc, "tls.version_protocol", Value::from(proto));
        }
        each(&value, &|s| split(s).map(|(_, v)| v))
    } else if path.starts_with("dns.question.") || path == "url.domain" {
        // One question per message: the first (a CNAME's target is an answer); one
        // domain per request (the Host header, before its bare name without port).
        match value {
            Value::Array(mut l) if !l.is_empty() => l.swap_remove(0),
            v => v,
        }
    } else {
        value
    };
    if !value.is_null() && value.as_array().is_none_or(|a| !a.is_empty()) {
        put(doc, &path, value);
    }
}

fn ip_json(a: Option<tyto_packet::Addr>) -> Option<Value> {
    a.map(|a| Value::from(a.to_string()))
}

/// What every document about a row carries: the sensor, the endpoints, the network.
fn base(rec: &SessionRecord, dataset: RecordKind, time_ns: i64) -> Map<String, Value> {
    let mut doc = Map::new();
    doc.insert("@timestamp".into(), Value::from(format_rfc3339(time_ns)));
    put(&mut doc, "ecs.version", Value::from(ECS_VERSION));
    put(&mut doc, "event.kind", Value::from("event"));
    put(&mut doc, "event.category", json!(["network"]));
    let types = if dataset == RecordKind::Flow { json!(["connection"]) } else { json!(["connection", "protocol"]) };
    put(&mut doc, "event.type", types);
    put(&mut doc, "event.dataset", Value::from(dataset.as_str()));
    put(&mut doc, "observer.type", Value::from("sensor"));
    put(&mut doc, "observer.product", Value::from("tyto"));
    if let Some(t) = tyto_packet::ipproto::name(rec.ip_protocol).filter(|_| rec.src_ip.is_some()) {
        put(&mut doc, "network.transport", Value::from(t));
    }
    if let Some(a) = rec.src_ip {
        put(&mut doc, "network.type", Value::from(if a.is_v4() { "ipv4" } else { "ipv6" }));
    }
    // The side that opened the session asked: it is the client.
    let ends = [("client", rec.src_ip, rec.src_port), ("server", rec.dst_ip, rec.dst_port)];
    let mut related = Vec::new();
    for (side, ip, port) in ends {
        if let Some(ip) = ip_json(ip) {
            put(&mut doc, &format!("{side}.ip"), ip.clone());
            related.push(ip);
            if port != 0 {
                put(&mut doc, &format!("{side}.port"), Value::from(port));
            }
        }
    }
    if !related.is_empty() {
        related.dedup();
        put(&mut doc, "related.ip", Value::Array(related));
    }
    doc
}

/// The session fields every transaction document repeats.
const TRANSACTION_SESSION_FIELDS: &[&str] = &[
    "node",
    "ip.protocol",
    "ip.src",
    "port.src",
    "ip.dst",
    "port.dst",
    "vlan",
    "mac.src",
    "mac.dst",
    "country.src",
    "country.dst",
    "asn.src",
    "asn.dst",
    "tags",
];

fn session_fields(doc: &mut Map<String, Value>, rec: &SessionRecord, names: &[&str]) {
    for name in names {
        if let Some(f) = field(name) {
            if let Some(v) = f.value(rec).to_json() {
                put_ecs(doc, f, v);
            }
        }
    }
}

/// The ECS document of a whole row (`event.dataset: flow`): every catalogue field.
pub fn ecs_flow(rec: &SessionRecord) -> Value {
    let mut doc = base(rec, RecordKind::Flow, rec.start_ns);
    for f in FIELDS.iter().filter(|f| f.in_dump) {
        if let Some(v) = f.value(rec).to_json() {
            put_ecs(&mut doc, f, v);
        }
    }
    let counts = [("client", &rec.src), ("server", &rec.dst)];
    for (side, d) in counts {
        put(&mut doc, &format!("{side}.bytes"), Value::from(d.bytes));
        put(&mut doc, &format!("{side}.packets"), Value::from(d.packets));
    }
    put(&mut doc, "event.duration", Value::from(rec.stop_ns.saturating_sub(rec.start_ns)));
    Value::Object(doc)
}

/// The ECS document of one transaction of a row.
pub fn ecs_transaction(rec: &SessionRecord, t: &Transaction) -> Option<Value> {
    let kind = RecordKind::of_transaction(t)?;
    let mut doc = base(rec, kind, t.time_ns().unwrap_or(rec.start_ns));
    session_fields(&mut doc, rec, TRANSACTION_SESSION_FIELDS);
    for (name, _) in t.values.iter() {
        let Some(f) = field(name).filter(|f| matches!(f.source, Source::Extra)) else { continue };
        // One request and one answer: a single value is written as one, not a list.
        let v = match t.values.field_value(f).to_json() {
            Some(Value::Array(mut l)) if l.len() == 1 => l.swap_remove(0),
            Some(v) => v,
            None => continue,
        };
        put_ecs(&mut doc, f, v);
    }
    // A transaction's sizes are its own messages', as Packetbeat counts them.
    put(&mut doc, "source.bytes", Value::from(t.request_bytes));
    put(&mut doc, "client.bytes", Value::from(t.request_bytes));
    put(&mut doc, "destination.bytes", Value::from(t.response_bytes));
    put(&mut doc, "server.bytes", Value::from(t.response_bytes));
    if let Some(ns) = t.request_ns {
        put(&mut doc, "event.start", Value::from(format_rfc3339(ns)));
    }
    if let Some(ns) = t.response_ns {
        put(&mut doc, "event.end", Value::from(format_rfc3339(ns)));
    }
    if let (Some(a), Some(b)) = (t.request_ns, t.response_ns) {
        put(&mut doc, "event.duration", Value::from(b.saturating_sub(a).max(0)));
    }
    // Whether it succeeded, as far as its answer says: ECS's outcome, and Packetbeat's
    // status of a database transaction.
    let (outcome, status) = match t.failed() {
        None => ("unknown", "Unknown"),
        Some(true) => ("failure", "Error"),
        Some(false) => ("success", "OK"),
    };
    put(&mut doc, "event.outcome", Value::from(outcome));
    if let Some(us) = t.response_us {
        // The response time as the session's `*.response-time` has it (for HTTP, from
        // the request's last byte), beside `event.duration` from first to first.
        put(&mut doc, "tyto.response_time_us", Value::from(us));
    }
    match kind {
        RecordKind::Dns => {
            put(&mut doc, "dns.type", Value::from(if t.response_ns.is_some() { "answer" } else { "query" }));
        }
        RecordKind::Http => {
            if t.request_ns.is_some() {
                put(&mut doc, "http.request.bytes", Value::from(t.request_bytes));
            }
            if t.response_ns.is_some() {
                put(&mut doc, "http.response.bytes", Value::from(t.response_bytes));
            }
        }
        // Packetbeat's `status` of a database transaction.
        _ => {
            put(&mut doc, "status", Value::from(status));
            put(&mut doc, "type", Value::from(kind.as_str()));
        }
    }
    put(&mut doc, "tyto.session_id", Value::from(rec.id.as_str()));
    Some(Value::Object(doc))
}

/// Whether the row holds a TLS or DTLS handshake worth a document.
pub fn has_tls(rec: &SessionRecord) -> bool {
    rec.protocols.iter().any(|p| p == "tls" || p == "dtls")
        && ["tls.version", "host.tls", "tls.ja3", "cert.hash"].iter().any(|f| rec.extra.get(f).is_some())
}

/// The ECS document of a row's TLS handshake: the client's offer, the server's
/// choice and its certificates.
pub fn ecs_tls(rec: &SessionRecord) -> Value {
    let mut doc = base(rec, RecordKind::Tls, rec.start_ns);
    session_fields(&mut doc, rec, TRANSACTION_SESSION_FIELDS);
    for f in FIELDS.iter().filter(|f| f.group == "tls" || f.group == "cert") {
        if let Some(v) = f.value(rec).to_json() {
            put_ecs(&mut doc, f, v);
        }
    }
    put(&mut doc, "event.start", Value::from(format_rfc3339(rec.start_ns)));
    put(&mut doc, "tyto.session_id", Value::from(rec.id.as_str()));
    Value::Object(doc)
}

/// The documents of `kind` a row yields (one flow, one TLS handshake, or its
/// transactions of that protocol), with ids stable across runs.
pub fn ecs_documents(rec: &SessionRecord, kind: RecordKind, out: &mut Vec<Document>) {
    match kind {
        RecordKind::Flow => {
            out.push(Document { kind, time_ns: rec.start_ns, id: rec.id.clone(), body: ecs_flow(rec) });
        }
        RecordKind::Tls => {
            if has_tls(rec) {
                out.push(Document { kind, time_ns: rec.start_ns, id: format!("{}-tls", rec.id), body: ecs_tls(rec) });
            }
        }
        _ => {
            let Some(list) = rec.transactions.as_ref() else { return };
            for (i, t) in list.list.iter().enumerate().filter(|(_, t)| t.protocol == kind.as_str()) {
                if let Some(body) = ecs_transaction(rec, t) {
                    let time_ns = t.time_ns().unwrap_or(rec.start_ns);
                    out.push(Document { kind, time_ns, id: format!("{}-{}{i}", rec.id, kind.as_str()), body });
                }
            }
        }
    }
}
