//! Times against Wireshark's, on the shared nDPI captures.
//!
//! TCP handshakes: for every TCP connection of the shared
//! nDPI captures whose opening tshark timed (`tcp.analysis.initial_rtt`, kept in
//! `data/tshark_initial_rtt.tsv` by `scripts/tshark-reference.sh`), Tyto's
//! `tcp.rtt.server + tcp.rtt.client` (SYN to SYN-ACK, SYN-ACK to ACK, split at the
//! sensor) must equal it to the microsecond, or, for a SYN refused by a reset,
//! `tcp.rtt.server` alone. The report names every connection that differs.
//!
//! Where they differ, Wireshark is the one to doubt (seen on these captures): it
//! holds the figure in 32-bit nanoseconds (2.147483647 s at most), takes a round trip
//! of 0 for "not yet timed" and times the next packet instead, and keeps the refusal
//! of a SYN tried again on the same ports and then accepted, where Tyto times the
//! exchange that opened the connection.
//!
//! Response times: every `http.time` and `dns.time` tshark gives
//! (`data/tshark_response_times.tsv`) is among Tyto's `http.response-time` /
//! `dns.response-time` values of the same connection, to the microsecond. Where not:
//! Wireshark pairs an HTTP request with its `100 Continue` (Tyto with the final
//! answer); Tyto's HTTP parser stops at a hole in a stream where Wireshark finds the
//! next message; multicast DNS answers come from other hosts (other sessions).

mod common;

use std::collections::{BTreeMap, HashMap};

use tyto_schema::{Handshake, SessionRecord, Values};

/// Two endpoints, in either order.
type Pair = (String, String);

fn pair(a: String, b: String) -> Pair {
    if a <= b {
        (a, b)
    } else {
        (b, a)
    }
}

/// Wireshark's figures per capture: the connection's endpoints and its initial RTT in
/// nanoseconds.
fn reference() -> BTreeMap<String, Vec<(Pair, i64)>> {
    let text = std::fs::read_to_string(common::manifest_dir().join("tests/data/tshark_initial_rtt.tsv")).unwrap();
    let mut by_capture: BTreeMap<String, Vec<(Pair, i64)>> = BTreeMap::new();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let f: Vec<&str> = line.split('\t').collect();
        let ns: i64 = f[3].parse().unwrap();
        by_capture.entry(f[0].to_string()).or_default().push((pair(f[1].into(), f[2].into()), ns));
    }
    by_capture
}

/// What Tyto timed per connection: the initial RTT its split adds up to, or `None`
/// where it could not split (the answer to the SYN was not seen).
fn timed(rows: &[SessionRecord]) -> HashMap<Pair, Vec<Option<i64>>> {
    let mut out: HashMap<Pair, Vec<Option<i64>>> = HashMap::new();
    for r in rows.iter().filter(|r| r.ip_protocol == 6 && r.segment == 1) {
        let h = &r.tcp_health;
        let figure = match (h.handshake, h.rtt_server_us, h.rtt_client_us) {
            (_, Some(s), Some(c)) => Some(s + c),
            (Handshake::Reset, Some(s), None) => Some(s),
            (Handshake::Ok, _, _) => None,
            _ => continue,
        };
        let end = |ip: Option<tyto_packet::Addr>, port: u16| {
            format!("{} {port}", ip.map(|a| a.to_string()).unwrap_or_default())
        };
        out.entry(pair(end(r.src_ip, r.src_port), end(r.dst_ip, r.dst_port))).or_default().push(figure);
    }
    out
}

#[test]
fn handshake_round_trips_equal_wiresharks() {
    let Some(dir) = common::pcaps_dir().map(|d| d.join("ndpi")) else { return };
    let cfg = common::config(1, tyto_flow::FlowConfig::default());
    let (mut equal, mut unsplit, mut unseen, mut ceiling) = (0, 0, 0, 0);
    let mut differ = Vec::new();
    for (capture, connections) in reference() {
        let (_, rows) = common::run(&[dir.join(&capture)], &cfg);
        let mut ours = timed(&rows);
        for (ends, theirs_ns) in connections {
            let theirs = tyto_schema::time::span_micros(theirs_ns);
            match ours.get_mut(&ends).and_then(|v| (!v.is_empty()).then(|| v.remove(0))) {
                Some(Some(us)) if us == theirs => equal += 1,
                Some(Some(us)) if theirs_ns == i64::from(i32::MAX) && us >= theirs => ceiling += 1,
                Some(Some(us)) => differ.push(format!("{capture} {ends:?}: Wireshark {theirs} µs, Tyto {us} µs")),
                Some(None) => unsplit += 1,
                None => unseen += 1,
            }
        }
    }
    let compared = equal + differ.len();
    eprintln!(
        "initial RTT: {equal} of {compared} connections timed by both equal to the microsecond \
         ({:.2}%); {ceiling} longer than Wireshark's ceiling of 2.147 s; {unsplit} opened without the \
         SYN-ACK in the capture (no split); {unseen} not timed by Tyto",
        100.0 * equal as f64 / compared.max(1) as f64
    );
    for d in &differ {
        eprintln!("  differs: {d}");
    }
    assert!(compared >= 1000, "only {compared} connections compared: the reference or the captures changed");
    assert!(equal as f64 >= 0.99 * compared as f64, "{} of {compared} differ", differ.len());
    assert!(differ.len() <= 5, "{} differ", differ.len());
    assert!(unseen <= 10, "{unseen} connections Wireshark timed have no timed opening in Tyto");
}

/// Tyto's values of a duration field per connection, in microseconds.
fn durations(rows: &[SessionRecord], field: &str) -> HashMap<Pair, Vec<i64>> {
    let mut out: HashMap<Pair, Vec<i64>> = HashMap::new();
    for r in rows {
        if let Some(Values::Int(v)) = r.extra.get(field) {
            let end = |ip: Option<tyto_packet::Addr>, port: u16| {
                format!("{} {port}", ip.map(|a| a.to_string()).unwrap_or_default())
            };
            out.entry(pair(end(r.src_ip, r.src_port), end(r.dst_ip, r.dst_port))).or_default().extend(v);
        }
    }
    out
}

/// Tyto's response times of a kind's transactions per connection, in microseconds.
fn transaction_times(rows: &[SessionRecord], kind: &str) -> HashMap<Pair, Vec<i64>> {
    let mut out: HashMap<Pair, Vec<i64>> = HashMap::new();
    for r in rows {
        let end = |ip: Option<tyto_packet::Addr>, port: u16| {
            format!("{} {port}", ip.map(|a| a.to_string()).unwrap_or_default())
        };
        let times =
            r.transactions.iter().flat_map(|t| &t.list).filter(|t| t.protocol == kind).filter_map(|t| t.response_us);
        out.entry(pair(end(r.src_ip, r.src_port), end(r.dst_ip, r.dst_port))).or_default().extend(times);
    }
    out
}

#[test]
fn response_times_equal_wiresharks() {
    let Some(dir) = common::pcaps_dir().map(|d| d.join("ndpi")) else { return };
    let text = std::fs::read_to_string(common::manifest_dir().join("tests/data/tshark_response_times.tsv")).unwrap();
    let mut by_capture: BTreeMap<String, Vec<(String, Pair, i64)>> = BTreeMap::new();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let f: Vec<&str> = line.split('\t').collect();
        let ns: i64 = f[4].parse().unwrap();
        by_capture.entry(f[0].into()).or_default().push((f[1].into(), pair(f[2].into(), f[3].into()), ns));
    }
    // Transactions filed, as `tyto ingest` files them: each one's time is compared too.
    let cfg = tyto_flow::PipelineConfig {
        analyzers: std::sync::Arc::new(tyto_dissect::Dissectors::storing()),
        ..common::config(1, tyto_flow::FlowConfig::default())
    };
    // Per kind (and per kind's transactions): values equal, values compared, values to multicast groups and past
    // Wireshark's ceiling (not compared).
    let mut tally: BTreeMap<String, (usize, usize, usize, usize)> = BTreeMap::new();
    let mut differ: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (capture, times) in by_capture {
        let (_, rows) = common::run(&[dir.join(&capture)], &cfg);
        let ours = [
            ("http", durations(&rows, "http.response-time")),
            ("dns", durations(&rows, "dns.response-time")),
            ("http transactions", transaction_times(&rows, "http")),
            ("dns transactions", transaction_times(&rows, "dns")),
        ];
        let times = times.into_iter().flat_map(|(kind, ends, ns)| {
            [(kind.clone(), ends.clone(), ns), (format!("{kind} transactions"), ends, ns)]
        });
        for (kind, ends, ns) in times {
            let t = tally.entry(kind.clone()).or_default();
            let multicast = [&ends.0, &ends.1].iter().any(|e| {
                e.split(' ').next().and_then(|a| a.parse::<std::net::IpAddr>().ok()).is_some_and(|a| a.is_multicast())
            });
            if multicast {
                t.2 += 1;
                continue;
            }
            let theirs = tyto_schema::time::span_micros(ns);
            let got = ours.iter().find(|(k, _)| *k == kind).and_then(|(_, m)| m.get(&ends));
            if ns == i64::from(i32::MAX) && got.is_some_and(|v| v.iter().any(|us| *us >= theirs)) {
                t.3 += 1;
                continue;
            }
            t.1 += 1;
            if got.is_some_and(|v| v.contains(&theirs)) {
                t.0 += 1;
            } else {
                let got: Option<Vec<i64>> = got.map(|v| v.iter().take(8).copied().collect());
                differ
                    .entry(kind)
                    .or_default()
                    .push(format!("{capture} {ends:?}: Wireshark {theirs} µs, Tyto {got:?}"));
            }
        }
    }
    for (kind, (equal, compared, multicast, ceiling)) in &tally {
        eprintln!(
            "{kind}.time: {equal} of {compared} equal to the microsecond ({:.1}%); not compared: {multicast} \
             to multicast groups, {ceiling} longer than Wireshark's ceiling of 2.147 s",
            100.0 * *equal as f64 / (*compared).max(1) as f64
        );
        for d in differ.get(kind).into_iter().flatten() {
            eprintln!("  differs: {d}");
        }
    }
    for (kind, floor, least) in
        [("http", 0.95, 300), ("dns", 0.95, 500), ("http transactions", 0.95, 300), ("dns transactions", 0.95, 500)]
    {
        let (equal, compared, ..) = tally.get(kind).copied().unwrap_or_default();
        assert!(compared >= least, "{kind}: only {compared} compared");
        assert!(equal as f64 >= floor * compared as f64, "{kind}: {equal} of {compared}");
    }
}
