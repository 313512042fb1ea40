//! Detection end to end on ingested captures: `tyto sample --incidents` writes a
//! capture in which hosts scan, move laterally over SMB, sweep with ARP, tunnel
//! through DNS, hit NXDOMAIN, burst and use a scanner's user agent; `tyto ingest`
//! with a configuration (a policy rule, and every sink: a webhook received here, a
//! private rsyslogd on loopback over UDP and TCP, a JSON-lines file) must raise each
//! alert with the right source, store it, list it (`tyto alerts`, `/api/alerts`), and
//! deliver it to every sink once. Also: a dead sink delays nothing and is counted,
//! and the shared captures (ordinary traffic) raise only the alerts they deserve.

mod common;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{ok, tyto};
use serde_json::Value;

/// An HTTP receiver on loopback that answers 200 and keeps every request body.
fn webhook_receiver() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hooks/tyto", listener.local_addr().unwrap());
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let kept = bodies.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let mut reader = BufReader::new(conn.try_clone().unwrap());
            let mut len = 0;
            let mut request_line = String::new();
            reader.read_line(&mut request_line).unwrap();
            loop {
                let mut l = String::new();
                if reader.read_line(&mut l).unwrap() == 0 || l == "\r\n" {
                    break;
                }
                if let Some(v) = l.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap();
                }
            }
            let mut body = vec![0; len];
            reader.read_exact(&mut body).unwrap();
            assert!(request_line.starts_with("POST /hooks/tyto "), "{request_line}");
            kept.lock().unwrap().push(String::from_utf8(body).unwrap());
            let _ = conn.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok");
        }
    });
    (url, bodies)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Debian's rsyslogd, alone with its own configuration: UDP and TCP inputs on
/// loopback, every message written to `out` with the RFC 5424 parts it parsed.
struct Rsyslog {
    child: Child,
    out: PathBuf,
    udp: u16,
    tcp: u16,
}

impl Rsyslog {
    fn start(dir: &Path) -> Option<Rsyslog> {
        let rsyslogd = Path::new("/usr/sbin/rsyslogd");
        if !rsyslogd.exists() {
            eprintln!("skipping the syslog part: rsyslog is not installed (scripts/setup.sh installs it)");
            return None;
        }
        let (udp, tcp) = (free_port(), free_port());
        let out = dir.join("syslog.out");
        let conf = dir.join("rsyslog.conf");
        std::fs::write(
            &conf,
            format!(
                r#"global(workDirectory="{work}")
module(load="imudp")
module(load="imtcp")
input(type="imudp" address="127.0.0.1" port="{udp}")
input(type="imtcp" address="127.0.0.1" port="{tcp}")
template(name="parts" type="string" string="%protocol-version%|%hostname%|%app-name%|%msgid%|%syslogfacility%|%syslogseverity%|%timereported:::date-rfc3339%|%inputname%|%msg%\n")
*.* action(type="omfile" file="{out}" template="parts")
"#,
                work = dir.display(),
                out = out.display()
            ),
        )
        .unwrap();
        let child = Command::new(rsyslogd)
            .args(["-n", "-f"])
            .arg(&conf)
            .arg("-i")
            .arg(dir.join("rsyslogd.pid"))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", tcp)).is_err() {
            assert!(started.elapsed() < Duration::from_secs(20), "rsyslogd did not listen");
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(Rsyslog { child, out, udp, tcp })
    }

    /// The lines written, once there are `n` of them (or after a time limit).
    fn lines(&self, n: usize) -> Vec<String> {
        let started = Instant::now();
        loop {
            let text = std::fs::read_to_string(&self.out).unwrap_or_default();
            let lines: Vec<String> = text.lines().map(String::from).collect();
            if lines.len() >= n || started.elapsed() > Duration::from_secs(20) {
                return lines;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Rsyslog {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn alerts(data: &Path, args: &[&str]) -> Vec<Value> {
    let out = ok(tyto().args(["alerts", "--format", "ndjson", "--data-dir"]).arg(data).args(args).output().unwrap());
    String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn count(data: &Path, expr: &str) -> u64 {
    let out = ok(tyto().args(["count", "--expr", expr, "--data-dir"]).arg(data).output().unwrap());
    String::from_utf8(out.stdout).unwrap().trim().parse().unwrap()
}

/// What the sample's incidents must raise: detector, source, and the fewest evidence
/// sessions its expression must find.
const EXPECTED: &[(&str, &str, u64)] = &[
    ("vertical-scan", "10.1.9.9", 50),
    ("lateral-movement", "10.1.9.9", 10),
    ("arp-sweep", "02:00:0a:01:09:09", 30),
    ("dns-txt", "10.1.9.8", 30),
    ("dns-odd-names", "10.1.9.8", 10),
    ("dns-nxdomain", "10.1.9.7", 30),
    ("rule:scanner-agent", "10.1.9.9", 1),
    ("session-spike", "10.1.9.6", 300),
];

#[test]
fn incidents_raise_their_alerts_and_reach_every_sink() {
    let tmp = tempfile::tempdir().unwrap();
    let pcap = tmp.path().join("incidents.pcap");
    ok(tyto().args(["sample", "--incidents", "-o"]).arg(&pcap).output().unwrap());
    let (hook, bodies) = webhook_receiver();
    let syslog = Rsyslog::start(tmp.path());
    let jsonl = tmp.path().join("alerts.jsonl");
    // Two runs over the same capture into two data directories: one sends syslog
    // over UDP, the other over TCP; both go to the webhook and the file.
    let transports: Vec<String> = match &syslog {
        Some(s) => vec![format!("udp://127.0.0.1:{}", s.udp), format!("tcp://127.0.0.1:{}", s.tcp)],
        None => vec![String::new()],
    };
    let mut datas = Vec::new();
    for (i, target) in transports.iter().enumerate() {
        let config = tmp.path().join(format!("tyto{i}.toml"));
        std::fs::write(
            &config,
            format!(
                r#"[detect]
rules = [{{ name = "scanner-agent", expression = "http.user-agent == *sqlmap*", severity = "high" }}]
[alerts]
webhook_url = "{hook}"
syslog = "{target}"
syslog_facility = 10
jsonl = "{}"
"#,
                jsonl.display()
            ),
        )
        .unwrap();
        let data = tmp.path().join(format!("data{i}"));
        let out = ok(tyto()
            .arg("ingest")
            .arg(&pcap)
            .arg("--config")
            .arg(&config)
            .arg("--data-dir")
            .arg(&data)
            .output()
            .unwrap());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(&format!("{} alerts raised", EXPECTED.len())), "{stderr}");
        assert!(!stderr.contains("alert sink"), "every sink delivered: {stderr}");
        datas.push(data);
    }
    let data = &datas[0];

    // Stored, each with its source, and its expression finds the evidence.
    let all = alerts(data, &[]);
    assert_eq!(all.len(), EXPECTED.len(), "{all:#?}");
    for (detector, source, evidence) in EXPECTED {
        let a = all
            .iter()
            .find(|a| a["detector"] == *detector)
            .unwrap_or_else(|| panic!("no {detector} alert in {all:#?}"));
        assert_eq!(a["source"], *source, "{a}");
        let n = count(data, a["expression"].as_str().unwrap());
        assert!(n >= *evidence, "{detector}: {} finds {n} sessions", a["expression"]);
    }
    // Searchable.
    assert_eq!(alerts(data, &["--severity", "high"]).len(), 3, "lateral movement, odd DNS names, the rule");
    assert_eq!(alerts(data, &["--detector", "rule:*"]).len(), 1);
    assert_eq!(alerts(data, &["--source", "10.1.9.9"]).len(), 3);
    assert_eq!(alerts(data, &["--text", "TUNNEL.example"]).len(), 2);
    assert_eq!(alerts(data, &["--start", "2024-05-01T12:05:00", "--stop", "2024-05-01T12:06:59"]).len(), 3);
    let bad = tyto().args(["alerts", "--severity", "urgent", "--data-dir"]).arg(data).output().unwrap();
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--severity is low, medium or high"));

    // Each sink got every alert of both runs, once.
    let runs = transports.len();
    let hooks: Vec<Value> = bodies.lock().unwrap().iter().map(|b| serde_json::from_str(b).unwrap()).collect();
    assert_eq!(hooks.len(), EXPECTED.len() * runs);
    for h in &hooks {
        let text = h["text"].as_str().unwrap();
        let a = &h["alert"];
        assert!(text.contains(a["message"].as_str().unwrap()), "{h}");
        assert!(text.starts_with(&format!(
            "[{}] {}",
            a["severity"].as_str().unwrap(),
            a["detector"].as_str().unwrap()
        )));
    }
    let seen: BTreeSet<String> = hooks.iter().map(|h| h["alert"]["detector"].as_str().unwrap().to_string()).collect();
    assert_eq!(seen, EXPECTED.iter().map(|e| e.0.to_string()).collect());
    let lines: Vec<Value> =
        std::fs::read_to_string(&jsonl).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), EXPECTED.len() * runs);
    let sorted = |v: &[Value]| {
        let mut v: Vec<String> = v.iter().map(Value::to_string).collect();
        v.sort();
        v
    };
    assert_eq!(sorted(&lines[..EXPECTED.len()]), sorted(&all), "the file holds what the store lists");
    if let Some(s) = &syslog {
        let got = s.lines(EXPECTED.len() * 2);
        assert_eq!(got.len(), EXPECTED.len() * 2, "{got:#?}");
        for input in ["imudp", "imtcp"] {
            let of_input = got.iter().filter(|l| l.contains(&format!("|{input}|"))).count();
            assert_eq!(of_input, EXPECTED.len(), "{input}: {got:#?}");
        }
        // The first run sent over UDP, the second over TCP; which session crosses a
        // threshold (so an alert's time) may differ between runs with two workers.
        let of_run = [alerts(&datas[0], &[]), alerts(&datas[1], &[])];
        for line in &got {
            // version|host|app|msgid|facility|severity|time|input|msg, as rsyslog parsed them.
            let p: Vec<&str> = line.splitn(9, '|').collect();
            assert_eq!(&p[..3], ["1", "local", "tyto"], "{line}");
            let run = &of_run[usize::from(p[7] == "imtcp")];
            let a = run.iter().find(|a| a["detector"] == p[3]).unwrap_or_else(|| panic!("{line}"));
            assert_eq!(p[4], "10", "facility");
            let level = match a["severity"].as_str().unwrap() {
                "high" => "2",
                "medium" => "4",
                _ => "5",
            };
            assert_eq!(p[5], level, "{line}");
            assert!(p[6].starts_with(&a["time"].as_str().unwrap()[..19]), "the alert's own time: {line}");
            assert!(p[8].contains(a["message"].as_str().unwrap()), "{line}");
        }
    }

    // The API lists them too, newest first, with the same filters.
    common::add_user(data, &["ann"], "ann-secret");
    let (mut server, base) = common::serve(data, &[]);
    let get = |path: &str| -> (u16, Value) {
        let out = Command::new("curl")
            .args(["-s", "-g", "--anyauth", "-u", "ann:ann-secret", "-w", "\n%{http_code}"])
            .arg(format!("{base}{path}"))
            .output()
            .unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        let (body, status) = text.rsplit_once('\n').unwrap();
        (status.parse().unwrap(), serde_json::from_str(body).unwrap_or(Value::Null))
    };
    let (status, page) = get("/api/alerts?date=-1");
    assert_eq!(status, 200);
    assert_eq!(page["recordsFiltered"], EXPECTED.len());
    assert_eq!(page["data"][0]["detector"], "session-spike", "newest first");
    let (_, page) = get("/api/alerts?date=-1&severity=high&order=asc&length=2");
    assert_eq!((page["recordsFiltered"].as_u64(), page["data"].as_array().unwrap().len()), (Some(3), 2));
    assert_eq!(page["data"][0]["detector"], "lateral-movement");
    let (status, err) = get("/api/alerts?severity=urgent");
    assert_eq!(status, 400);
    assert!(err["error"].as_str().unwrap().contains("severity"), "{err}");
    let _ = server.kill();
    let _ = server.wait();
}

#[test]
fn a_dead_sink_delays_nothing_and_is_counted() {
    let tmp = tempfile::tempdir().unwrap();
    let pcap = tmp.path().join("incidents.pcap");
    ok(tyto().args(["sample", "--incidents", "-o"]).arg(&pcap).output().unwrap());
    let config = tmp.path().join("tyto.toml");
    // Nothing listens there: every delivery fails at once.
    let port = free_port();
    std::fs::write(
        &config,
        format!("[alerts]\nwebhook_url = \"http://127.0.0.1:{port}/x\"\nsyslog = \"tcp://127.0.0.1:{port}\"\nattempts = 3\nretry_ms = 100\n"),
    )
    .unwrap();
    let started = Instant::now();
    let data = tmp.path().join("data");
    let out =
        ok(tyto().arg("ingest").arg(&pcap).arg("--config").arg(&config).arg("--data-dir").arg(&data).output().unwrap());
    assert!(started.elapsed() < Duration::from_secs(30), "ingest waited {:?}", started.elapsed());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let n = EXPECTED.len() - 1; // no rule configured here
    for sink in ["webhook", "syslog"] {
        assert!(stderr.contains(&format!("alert sink {sink}: 0 alerts sent, {n} failed after retries")), "{stderr}");
    }
    assert_eq!(alerts(&data, &[]).len(), n, "stored whatever the sinks did");
    // A configuration naming an impossible sink is refused before anything is read.
    std::fs::write(&config, "[alerts]\nsyslog = \"syslog.example:514\"\n").unwrap();
    let out =
        tyto().arg("ingest").arg(&pcap).arg("--config").arg(&config).arg("--data-dir").arg(&data).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not udp://HOST:PORT or tcp://HOST:PORT"));
}

/// Ordinary traffic of hundreds of applications: the only alerts are a real SYN scan
/// (ndpi/synscan.pcap, nmap against scanme.nmap.org) and a real DNS tunnel
/// (ndpi/dns-tunnel-iodine.pcap).
#[test]
fn the_shared_captures_raise_only_what_they_deserve() {
    let Some(dir) = common::pcaps_dir() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let out = tyto().args(["ingest", "--data-dir"]).arg(&data).arg(&dir).output().unwrap();
    assert!(matches!(out.status.code(), Some(0) | Some(1)), "{}", String::from_utf8_lossy(&out.stderr));
    let got: BTreeSet<(String, String)> = alerts(&data, &[])
        .iter()
        .map(|a| (a["detector"].as_str().unwrap().to_string(), a["source"].as_str().unwrap().to_string()))
        .collect();
    let want: BTreeSet<(String, String)> =
        [("vertical-scan", "172.16.0.8"), ("dns-odd-names", "10.0.2.30"), ("dns-subdomains", "10.0.2.30")]
            .iter()
            .map(|(d, s)| (d.to_string(), s.to_string()))
            .collect();
    assert_eq!(got, want);
}

/// An hour of a client calling home every 60 s ± 2 s over TLS (a fresh connection
/// each time, the same server name, alike sizes), beside ordinary browsing by the
/// same client: TLS to a dozen sites at irregular times, one of them visited over
/// and over, and plain HTTP. One `beacon` alert, for the caller, whose expression
/// finds its calls.
#[test]
fn a_client_calling_home_on_a_schedule_is_a_beacon() {
    let tmp = tempfile::tempdir().unwrap();
    let mut frames = Vec::new();
    let t0 = 1_700_000_000 * 1_000_000_000i64;
    let answer = {
        let mut a = vec![22, 3, 3, 0, 200];
        a.extend_from_slice(&[2; 200]);
        a
    };
    let mut sport = 20_000u16;
    let mut next_port = || {
        sport += 1;
        sport
    };
    for i in 0..60i64 {
        // A fixed pseudo-random wobble of -2…+2 s.
        let wobble = (i * 7919 % 5 - 2) * 1_000_000_000;
        common::connection(
            &mut frames,
            t0 + i * 60_000_000_000 + wobble,
            next_port(),
            443,
            &common::client_hello("update.example.net"),
            &answer,
        );
    }
    let sites = ["news.example.org", "mail.example.com", "cdn.example.org", "shop.example.com", "wiki.example.org"];
    let mut t = t0;
    for i in 0..240i64 {
        t += (3 + i * 7919 % 41) * 1_000_000_000;
        let site = sites[(i * 31 % 5) as usize];
        let size = 200 + (i * 7919 % 9000) as usize;
        common::connection(&mut frames, t, next_port(), 443, &common::client_hello(site), &vec![7; size]);
        if i % 4 == 0 {
            let ask = format!("GET /page/{i} HTTP/1.1\r\nHost: {site}\r\n\r\n");
            common::connection(
                &mut frames,
                t + 500_000_000,
                next_port(),
                80,
                ask.as_bytes(),
                b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
            );
        }
    }
    frames.sort_by_key(|f| f.0);
    let pcap = tmp.path().join("calls-home.pcap");
    common::write_pcap(&pcap, &frames);
    let data = tmp.path().join("data");
    ok(tyto().args(["ingest", "--data-dir"]).arg(&data).arg(&pcap).output().unwrap());
    let found = alerts(&data, &[]);
    assert_eq!(found.len(), 1, "{found:#?}");
    let a = &found[0];
    assert_eq!((a["detector"].as_str(), a["source"].as_str()), (Some("beacon"), Some("10.9.0.1")));
    assert_eq!(a["targets"], serde_json::json!(["update.example.net"]));
    let expr = a["expression"].as_str().unwrap();
    assert!(count(&data, expr) >= 12, "{expr}");
    assert_eq!(count(&data, &format!("{expr} && host.tls != update.example.net")), 0, "{expr}");
    // The calls written from the one that showed the period on carry the risk
    // (rows come as sessions end, not in start order), and only calls do.
    let periodic = count(&data, "risk == periodic-flow");
    assert!(periodic > 0 && periodic <= 60 - 11, "{periodic}");
    let calls = "risk == periodic-flow && ip.src == 10.9.0.1 && host.tls == update.example.net && risk.score >= 10";
    assert_eq!(count(&data, calls), periodic);
}

/// A web service answering in about 10 ms for twenty minutes, then in 800 ms for
/// five:
/// `service-latency` names it once, with an expression that finds the slow sessions.
#[test]
fn a_service_answering_slowly_for_minutes_raises_a_latency_alert() {
    let tmp = tempfile::tempdir().unwrap();
    let mut frames = Vec::new();
    let t0 = 1_714_564_800_000_000_000i64;
    let mut sport = 20_000u16;
    for minute in 0..31i64 {
        let delay_ms = if (20..25).contains(&minute) { 800 } else { 10 + minute % 3 };
        for i in 0..12i64 {
            sport += 1;
            let t = t0 + minute * 60_000_000_000 + i * 4_000_000_000;
            common::connection_answered_after(
                &mut frames,
                t,
                sport,
                8080,
                b"GET /status HTTP/1.1\r\nHost: svc.example\r\n\r\n",
                b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
                delay_ms * 1_000_000,
            );
        }
    }
    frames.sort_by_key(|f| f.0);
    let pcap = tmp.path().join("slow.pcap");
    common::write_pcap(&pcap, &frames);
    let data = tmp.path().join("data");
    // One worker: rows in the order sessions end (several workers' rows reach the
    // detectors in batches, later than the detector waits for).
    ok(tyto().args(["ingest", "--workers", "1", "--data-dir"]).arg(&data).arg(&pcap).output().unwrap());
    let raised = alerts(&data, &["--detector", "service-latency"]);
    assert_eq!(raised.len(), 1, "{raised:?}");
    let a = &raised[0];
    assert_eq!(a["source"], "10.9.0.2");
    let message = a["message"].as_str().unwrap();
    assert!(message.contains("http service 10.9.0.2:8080 answered slowly for 3 buckets"), "{message}");
    // The expression finds slow sessions, and only those.
    let expression = a["expression"].as_str().unwrap();
    let slow = count(&data, expression);
    assert!(slow >= 12, "{expression}: {slow}");
    assert_eq!(count(&data, &format!("({expression}) && http.response-time < 100")), 0);
}
