//! Attacks on Tyto, each run as an attacker would: against `tyto serve` on loopback
//! (an admin, a user held to `port.dst == 53`, a user held to one hour), with
//! crafted captures, floods of logins and connections, and runaway expressions.
//! Each test is named after what it once let through; peak memory and times are
//! printed for the record.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use md5::{Digest as _, Md5};
use serde_json::Value;

const NS: i64 = 1_000_000_000;

fn now_ns() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as i64
}

struct Server {
    child: Child,
    base: String,
    data: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// `tyto serve` over `data` with `config` (TOML) as its configuration.
    fn start(data: &Path, config: &str) -> Server {
        let cfg = data.parent().unwrap().join(format!("attack-{}.toml", now_ns()));
        std::fs::write(&cfg, config).unwrap();
        let (child, base) = common::serve(data, &["--config", cfg.to_str().unwrap()]);
        Server { child, base, data: data.to_path_buf() }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Peak resident memory so far (VmHWM), bytes.
    fn peak_rss(&self) -> u64 {
        status_kb(self.pid(), "VmHWM:") * 1024
    }

    /// CPU time used so far (user + system), seconds.
    fn cpu_s(&self) -> f64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).unwrap();
        let after = &stat[stat.rfind(')').unwrap() + 2..];
        let f: Vec<&str> = after.split_whitespace().collect();
        let ticks: f64 = f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap();
        // SAFETY: sysconf reads a constant.
        ticks / unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64
    }
}

fn status_kb(pid: u32, key: &str) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = s.lines().find(|l| l.starts_with(key)).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// A request by curl: status, response headers (lower-case), body.
fn curl(args: &[&str]) -> (u16, String, Vec<u8>) {
    let out = Command::new("curl")
        .args(["-s", "-g", "-D", "/dev/stderr", "-o", "/dev/stdout", "--max-time", "60"])
        .args(args)
        .output()
        .expect("curl");
    let headers = String::from_utf8_lossy(&out.stderr).to_lowercase();
    let status = headers
        .lines()
        .rfind(|l| l.starts_with("http/"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, headers, out.stdout)
}

fn get(s: &Server, user: &str, path: &str) -> (u16, Vec<u8>) {
    let (status, _, body) = curl(&["--anyauth", "-u", user, &format!("{}{path}", s.base)]);
    (status, body)
}

fn json(s: &Server, user: &str, path: &str) -> Value {
    let (status, body) = get(s, user, path);
    assert_eq!(status, 200, "{path}: {}", String::from_utf8_lossy(&body));
    serde_json::from_slice(&body).unwrap()
}

const ANN: &str = "ann:ann-secret";
const BOB: &str = "bob:bob-secret";
const CAROL: &str = "carol:carol-secret";

fn http_exchange(user_agent: &str) -> Vec<u8> {
    format!("GET /index.html HTTP/1.1\r\nHost: app.example\r\nUser-Agent: {user_agent}\r\n\r\n").into_bytes()
}

const HTTP_OK: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

/// The capture the server tests search: a DNS exchange and HTTP sessions ten minutes
/// ago (user agents that are spreadsheet formulas), one a day ago, one dated a day
/// in the future.
fn attack_capture(dir: &Path) -> PathBuf {
    let now = now_ns();
    let recent = now - 600 * NS;
    let mut frames = Vec::new();
    frames.push(common::udp(
        recent,
        [10, 9, 0, 1],
        [10, 9, 0, 53],
        33000,
        53,
        b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x03app\x07example\x00\x00\x01\x00\x01",
    ));
    common::connection(
        &mut frames,
        recent + NS,
        40001,
        80,
        &http_exchange("=HYPERLINK(\"http://evil.example\")"),
        HTTP_OK,
    );
    common::connection(&mut frames, recent + 2 * NS, 40002, 80, &http_exchange("-2+3+cmd|' /C calc'!A0"), HTTP_OK);
    common::connection(&mut frames, recent + 3 * NS, 40003, 80, &http_exchange("@SUM(1+1)"), HTTP_OK);
    common::connection(&mut frames, now - 86_400 * NS, 40004, 80, &http_exchange("old/1.0"), HTTP_OK);
    common::connection(&mut frames, now + 86_400 * NS, 40005, 80, &http_exchange("future/1.0"), HTTP_OK);
    frames.sort_by_key(|(t, _)| *t);
    let path = dir.join("attack.pcap");
    common::write_pcap(&path, &frames);
    path
}

/// Ingests the attack capture and adds the three users.
fn attack_data(dir: &Path) -> PathBuf {
    let data = dir.join("data");
    let pcap = attack_capture(dir);
    common::ok(common::tyto().args(["ingest", "--workers", "1", "--data-dir"]).arg(&data).arg(&pcap).output().unwrap());
    common::add_user(&data, &["ann", "--admin"], "ann-secret");
    common::add_user(&data, &["bob", "--expression", "port.dst == 53"], "bob-secret");
    common::add_user(&data, &["carol", "--time-limit", "1"], "carol-secret");
    data
}

fn ids(page: &Value) -> Vec<String> {
    page["data"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap().to_string()).collect()
}

/// The id of the session whose user agent is `ua` (as the admin sees it).
fn id_by_agent(s: &Server, ua: &str) -> String {
    let expr = common::enc(&format!("http.user-agent == \"{}\"", ua.replace('"', "\\\"")));
    let page = json(s, ANN, &format!("/api/sessions?date=-1&expression={expr}"));
    ids(&page).pop().unwrap_or_else(|| panic!("no session with user agent {ua}"))
}

#[test]
fn restricted_users_cannot_open_sessions_outside_their_expression_or_time_by_id() {
    let tmp = tempfile::tempdir().unwrap();
    let s = Server::start(&attack_data(tmp.path()), "");
    let http = id_by_agent(&s, "=HYPERLINK(\"http://evil.example\")");
    let old = id_by_agent(&s, "old/1.0");
    let dns = ids(&json(&s, ANN, &format!("/api/sessions?date=-1&expression={}", common::enc("port.dst == 53"))))
        .pop()
        .unwrap();
    // bob sees port 53 only, whatever id he names.
    for path in [format!("/api/session/{http}/detail"), format!("/api/session/{http}.pcap")] {
        let (status, body) = get(&s, BOB, &path);
        assert_eq!(status, 404, "{path}: {}", String::from_utf8_lossy(&body));
    }
    assert_eq!(get(&s, BOB, &format!("/api/session/{dns}/detail")).0, 200);
    let (status, pcap) = get(&s, BOB, &format!("/api/session/{dns}.pcap"));
    assert_eq!(status, 200);
    assert!(pcap.len() > 24 + 16, "the DNS session's packets");
    // An id list in a PCAP export is narrowed by the forced expression too.
    let (_, pcap) = get(&s, BOB, &format!("/api/sessions.pcap?ids={http},{dns}"));
    let reader = tyto_capture::FileReader::from_reader(Path::new("x.pcap"), std::io::Cursor::new(pcap)).unwrap();
    let mut ports = Vec::new();
    let (_, e) = reader.for_each_packet(|p| ports.push(u16::from_be_bytes([p.data[36], p.data[37]])));
    assert!(e.is_none());
    assert_eq!(ports, [53], "only the DNS query");
    // carol sees the last hour, or any hour she names, not a day ago by id alone.
    assert_eq!(get(&s, CAROL, &format!("/api/session/{http}/detail")).0, 200);
    assert_eq!(get(&s, CAROL, &format!("/api/session/{old}/detail")).0, 404);
    assert_eq!(get(&s, CAROL, &format!("/api/session/{old}.pcap")).0, 404);
    let t = (now_ns() - 86_400 * NS) / NS;
    let window = format!("startTime={}&stopTime={}", t - 1800, t + 1800);
    assert_eq!(get(&s, CAROL, &format!("/api/session/{old}/detail?{window}")).0, 200);
    let too_wide = format!("startTime={}&stopTime={}", t - 7200, t + 1800);
    assert_eq!(get(&s, CAROL, &format!("/api/session/{old}/detail?{too_wide}")).0, 403);
}

#[test]
fn restricted_users_see_no_totals_future_sessions_or_internal_fields() {
    let tmp = tempfile::tempdir().unwrap();
    let s = Server::start(&attack_data(tmp.path()), "");
    let all = json(&s, ANN, "/api/sessions?date=-1");
    let dns_only = json(&s, BOB, "/api/sessions?date=-1");
    assert_eq!(dns_only["recordsTotal"], 1, "bob's total is what bob may see, not {}", all["recordsTotal"]);
    assert_eq!(dns_only["recordsFiltered"], 1);
    let stats = json(&s, BOB, "/api/stats");
    assert_eq!(stats["restricted"], true);
    assert_eq!(stats["store"]["sessions"], 1, "what bob may see: {stats}");
    assert!(stats.get("disk_free_bytes").is_none() && stats["store"].get("nodes").is_none());
    assert_eq!(get(&s, BOB, "/metrics").0, 403);
    assert_eq!(get(&s, CAROL, "/metrics").0, 403);
    assert_eq!(get(&s, ANN, "/metrics").0, 200);
    // An open-ended range of a time-limited user ends now: the future-dated session stays out.
    let start = (now_ns() - 1800 * NS) / NS;
    let page = json(&s, CAROL, &format!("/api/sessions?startTime={start}&fields=http.user-agent"));
    let agents: Vec<String> =
        page["data"].as_array().unwrap().iter().map(|r| r["http.user-agent"].to_string()).collect();
    assert_eq!(agents.len(), 4, "the DNS exchange and three HTTP sessions: {agents:?}");
    assert!(!agents.iter().any(|a| a.contains("future")), "{agents:?}");
    // The packet positions column is not a field anyone may name.
    for path in [
        "/api/spiview?date=-1&spi=packetPos:10",
        "/api/unique?date=-1&field=packetPos",
        "/api/connections?date=-1&srcField=packetPos",
    ] {
        let (status, body) = get(&s, ANN, path);
        assert_eq!(status, 400, "{path}: {}", String::from_utf8_lossy(&body));
    }
    let (status, _) = get(&s, ANN, &format!("/api/sessions?date=-1&expression={}", common::enc("packetPos == 24")));
    assert_eq!(status, 400);
}

#[test]
fn csv_cells_that_a_spreadsheet_would_evaluate_are_neutralised() {
    let tmp = tempfile::tempdir().unwrap();
    let s = Server::start(&attack_data(tmp.path()), "");
    let (status, csv) = get(&s, ANN, "/api/sessions.csv?date=-1&fields=http.user-agent&order=starttime:asc");
    assert_eq!(status, 200);
    let csv = String::from_utf8(csv).unwrap();
    for cell in ["\"'=HYPERLINK(\"\"http://evil.example\"\")\"", "\"'-2+3+cmd|' /C calc'!A0\"", "\"'@SUM(1+1)\""] {
        assert!(csv.contains(cell), "{cell} in\n{csv}");
    }
    // No line has a cell that starts, once unquoted, with a formula character.
    for line in csv.lines().skip(1) {
        let cell = line.split_once(',').map_or(line, |(_, c)| c).trim_start_matches('"');
        assert!(!cell.starts_with(['=', '+', '-', '@']), "{line}");
    }
}

#[test]
fn a_login_may_only_lead_to_this_site() {
    let tmp = tempfile::tempdir().unwrap();
    let s = Server::start(&attack_data(tmp.path()), "");
    for next in ["/%09/evil.example", "%2F%0A%2Fevil.example", "/%01x", "%5C%5Cevil.example", "//evil.example"] {
        let body = format!("username=ann&password=ann-secret&next={next}");
        let (status, headers, _) = curl(&["-d", &body, &format!("{}/api/login", s.base)]);
        assert_eq!(status, 303, "next={next}: {headers}");
        assert!(headers.contains("\nlocation: /\r\n"), "next={next}: {headers}");
    }
}

fn digest_header(user: &str, password: &str, nonce: &str, uri: &str, nc: u32) -> String {
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let ha1 = hex(&Md5::digest(format!("{user}:Tyto:{password}").as_bytes()));
    let ha2 = hex(&Md5::digest(format!("GET:{uri}").as_bytes()));
    let response = hex(&Md5::digest(format!("{ha1}:{nonce}:{nc:08x}:abcdef:auth:{ha2}").as_bytes()));
    format!(
        "Authorization: Digest username=\"{user}\", realm=\"Tyto\", nonce=\"{nonce}\", uri=\"{uri}\", qop=auth, \
         nc={nc:08x}, cnonce=\"abcdef\", response=\"{response}\", algorithm=MD5"
    )
}

fn nonce(s: &Server) -> String {
    let (_, headers, _) = curl(&[&format!("{}/api/user/current", s.base)]);
    headers.split("nonce=\"").nth(1).unwrap().split('"').next().unwrap().to_string()
}

#[test]
fn digest_headers_cannot_be_replayed_and_digest_is_a_choice() {
    let tmp = tempfile::tempdir().unwrap();
    let data = attack_data(tmp.path());
    common::ok(
        common::tyto()
            .args(["user", "add", "dave", "--password", "dave-secret", "--data-dir"])
            .arg(&data)
            .output()
            .unwrap(),
    );
    let s = Server::start(&data, "");
    let uri = "/api/user/current";
    let n = nonce(&s);
    let h = digest_header("ann", "ann-secret", &n, uri, 1);
    let url = format!("{}{uri}", s.base);
    assert_eq!(curl(&["-H", &h, &url]).0, 200);
    let (status, headers, _) = curl(&["-H", &h, &url]);
    assert_eq!(status, 401, "the same header again");
    assert!(headers.contains("stale=true"), "the client is asked for a new nonce: {headers}");
    assert_eq!(curl(&["-H", &digest_header("ann", "ann-secret", &n, uri, 2), &url]).0, 200, "the next count");
    // dave did not choose Digest: his HA1 is not kept, Digest fails, Basic works.
    let raw = std::fs::read_to_string(data.join("users.json")).unwrap();
    let users: Value = serde_json::from_str(&raw).unwrap();
    let dave = users["users"].as_array().unwrap().iter().find(|u| u["name"] == "dave").unwrap();
    assert_eq!(dave["digest_ha1"], "");
    assert_eq!(curl(&["-H", &digest_header("dave", "dave-secret", &nonce(&s), uri, 1), &url]).0, 401);
    assert_eq!(curl(&["--basic", "-u", "dave:dave-secret", &url]).0, 200);
}

#[test]
fn signed_node_requests_cannot_be_replayed_or_renamed() {
    let tmp = tempfile::tempdir().unwrap();
    let s = Server::start(&attack_data(tmp.path()), "[nodes]\nsecret = \"node-secret\"\n");
    let body = r#"{"positions":[-1,24],"max_bytes":1000}"#;
    let t = now_ns() / NS;
    let mac = tyto_server::nodes::sign("node-secret", "POST", "/api/node/packets", t, "viewer", body.as_bytes());
    let url = format!("{}/api/node/packets", s.base);
    let send =
        |header: &str| curl(&["-H", header, "-H", "content-type: application/json", "--data-binary", body, &url]).0;
    assert_eq!(send(&format!("x-tyto-node-auth: t={t}, node=viewer, mac={mac}")), 200);
    assert_eq!(send(&format!("x-tyto-node-auth: t={t}, node=viewer, mac={mac}")), 401, "replayed");
    let mac2 = tyto_server::nodes::sign("node-secret", "POST", "/api/node/packets", t + 1, "viewer", body.as_bytes());
    assert_eq!(send(&format!("x-tyto-node-auth: t={}, node=other, mac={mac2}", t + 1)), 401, "renamed");
}

#[test]
fn a_new_password_ends_the_users_open_sessions() {
    let tmp = tempfile::tempdir().unwrap();
    let data = attack_data(tmp.path());
    let s = Server::start(&data, "");
    let jar = tmp.path().join("cookies");
    let login = format!("{}/api/login", s.base);
    let (status, _, _) = curl(&[
        "-c",
        jar.to_str().unwrap(),
        "-H",
        "content-type: application/json",
        "-d",
        r#"{"username":"ann","password":"ann-secret"}"#,
        &login,
    ]);
    assert_eq!(status, 200);
    let me = format!("{}/api/user/current", s.base);
    assert_eq!(curl(&["-b", jar.to_str().unwrap(), "-H", "x-tyto-ui: 1", &me]).0, 200);
    common::ok(
        common::tyto()
            .args(["user", "passwd", "ann", "--password", "new-secret", "--data-dir"])
            .arg(&data)
            .output()
            .unwrap(),
    );
    assert_eq!(curl(&["-b", jar.to_str().unwrap(), "-H", "x-tyto-ui: 1", &me]).0, 401, "the old cookie");
    assert_eq!(curl(&["--basic", "-u", "ann:ann-secret", &me]).0, 401);
    assert_eq!(curl(&["--basic", "-u", "ann:new-secret", &me]).0, 200);
}

/// `n` requests at once, each from its own loopback address; their statuses.
fn flood(s: &Server, n: usize, auth: impl Fn(usize) -> String) -> Vec<u16> {
    let url = format!("{}/api/user/current", s.base);
    let children: Vec<Child> = (0..n)
        .map(|i| {
            Command::new("curl")
                .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "60"])
                .args(["--interface", &format!("127.0.{}.{}", 1 + i / 250, 1 + i % 250)])
                .args(["-H", &auth(i), &url])
                .stdout(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    children
        .into_iter()
        .map(|c| String::from_utf8_lossy(&c.wait_with_output().unwrap().stdout).parse().unwrap_or(0))
        .collect()
}

fn basic(user: &str, password: &str) -> String {
    let raw = format!("{user}:{password}");
    let b64 =
        Command::new("base64").arg("-w0").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().and_then(|mut c| {
            c.stdin.take().unwrap().write_all(raw.as_bytes())?;
            c.wait_with_output()
        });
    format!("Authorization: Basic {}", String::from_utf8(b64.unwrap().stdout).unwrap().trim())
}

#[test]
fn a_flood_of_wrong_passwords_costs_bounded_memory() {
    let tmp = tempfile::tempdir().unwrap();
    let s = Server::start(&attack_data(tmp.path()), "");
    assert_eq!(get(&s, ANN, "/api/user/current").0, 200);
    let before = s.peak_rss();
    let t0 = Instant::now();
    // 150 at once from 150 addresses (so no throttle applies): every one starts a check.
    let statuses = flood(&s, 150, |i| basic("ann", &format!("guess-{i}")));
    let took = t0.elapsed();
    let peak = s.peak_rss();
    eprintln!(
        "150 concurrent wrong Basic logins: peak RSS {} MB -> {} MB, answered in {:.1} s ({} x 401, {} x 503)",
        before >> 20,
        peak >> 20,
        took.as_secs_f64(),
        statuses.iter().filter(|c| **c == 401).count(),
        statuses.iter().filter(|c| **c == 503).count()
    );
    assert!(statuses.iter().all(|c| *c == 401 || *c == 503), "{statuses:?}");
    // Two checking threads, each with one 19 MiB block of argon2 memory kept.
    assert!(peak - before < 80 << 20, "peak grew by {} MB (1.5 GB before the fix)", (peak - before) >> 20);
    // The server still lets the right password in at once.
    assert_eq!(get(&s, ANN, "/api/user/current").0, 200);
}

#[test]
fn names_cannot_be_told_apart_by_time_nor_locked_out_from_elsewhere() {
    let tmp = tempfile::tempdir().unwrap();
    let s = Server::start(&attack_data(tmp.path()), "");
    let url = format!("{}/api/user/current", s.base);
    let time = |user: &str, addr: &str| {
        let t = Instant::now();
        let status = curl(&["--interface", addr, "--basic", "-u", &format!("{user}:wrong"), &url]).0;
        assert_eq!(status, 401);
        t.elapsed().as_secs_f64()
    };
    let mut known = Vec::new();
    let mut unknown = Vec::new();
    for i in 0..12 {
        known.push(time("ann", &format!("127.0.3.{}", i + 1)));
        unknown.push(time("nobody", &format!("127.0.4.{}", i + 1)));
    }
    known.sort_by(f64::total_cmp);
    unknown.sort_by(f64::total_cmp);
    let (k, u) = (known[6], unknown[6]);
    eprintln!("median wrong-password answer: known user {:.1} ms, unknown {:.1} ms", k * 1e3, u * 1e3);
    assert!(u > k * 0.5 && u < k * 2.0, "known {k:.4} s, unknown {u:.4} s");
    // Five wrong passwords for ann from one address shut that address out for ann...
    for _ in 0..5 {
        assert_eq!(curl(&["--interface", "127.0.5.1", "--basic", "-u", "ann:wrong", &url]).0, 401);
    }
    assert_eq!(curl(&["--interface", "127.0.5.1", "--basic", "-u", "ann:ann-secret", &url]).0, 429);
    // ...not ann, who logs in from her own.
    assert_eq!(curl(&["--interface", "127.0.5.2", "--basic", "-u", "ann:ann-secret", &url]).0, 200);
    // Huge names cost a key's worth of memory, whatever their length.
    let before = status_kb(s.pid(), "VmRSS:");
    let long = "x".repeat(40_000);
    let statuses = flood(&s, 60, |_| basic(&long, "wrong"));
    assert!(statuses.iter().all(|c| *c == 401 || *c == 503), "{statuses:?}");
    let after = status_kb(s.pid(), "VmRSS:");
    eprintln!("60 logins with 40 KB names: RSS {} MB -> {} MB", before >> 10, after >> 10);
    assert!(after < before + 64 * 1024, "RSS {before} kB -> {after} kB");
}

#[test]
fn idle_and_slow_connections_are_closed_and_capped() {
    let tmp = tempfile::tempdir().unwrap();
    let s = Server::start(&attack_data(tmp.path()), "[viewer]\nheader_timeout_s = 1.0\nmax_connections = 100\n");
    let addr = s.base.trim_start_matches("http://").to_string();
    // 90 idle, and 5 sending a header byte now and then (slowloris).
    let mut idle: Vec<TcpStream> = (0..90).map(|_| TcpStream::connect(&addr).unwrap()).collect();
    let mut slow: Vec<TcpStream> = (0..5).map(|_| TcpStream::connect(&addr).unwrap()).collect();
    for c in &mut slow {
        c.write_all(b"GET /api/user/current HTTP/1.1\r\n").unwrap();
    }
    // Past the cap, a connection is answered 503 and closed.
    let mut extra: Vec<TcpStream> = (0..10).map(|_| TcpStream::connect(&addr).unwrap()).collect();
    let mut busy = 0;
    for c in &mut extra {
        c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut b = Vec::new();
        let _ = c.read_to_end(&mut b);
        busy += usize::from(b.starts_with(b"HTTP/1.1 503"));
    }
    assert!(busy >= 5, "{busy} of 10 connections past the cap were told 503");
    for _ in 0..4 {
        std::thread::sleep(Duration::from_millis(500));
        for c in &mut slow {
            let _ = c.write_all(b"X-A: b\r\n");
        }
    }
    // Closed by the server: reading ends (after whatever it said), not waits.
    let closed = |c: &mut TcpStream| {
        c.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
        let mut b = [0u8; 512];
        loop {
            match c.read(&mut b) {
                Ok(0) => return true,
                Ok(_) => continue,
                Err(e) => return !matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut),
            }
        }
    };
    let idle_closed = idle.iter_mut().map(closed).filter(|c| *c).count();
    let slow_closed = slow.iter_mut().map(closed).filter(|c| *c).count();
    assert_eq!((idle_closed, slow_closed), (90, 5), "closed by the server after the header timeout");
    // And the server answers again.
    assert_eq!(get(&s, ANN, "/api/user/current").0, 200);
}

#[test]
fn file_modes_regexes_and_the_listen_default_are_safe() {
    let tmp = tempfile::tempdir().unwrap();
    let data = attack_data(tmp.path());
    let s = Server::start(&data, "");
    use std::os::unix::fs::PermissionsExt;
    let mut checked = 0;
    let mut stack = vec![data.clone()];
    while let Some(p) = stack.pop() {
        for e in std::fs::read_dir(&p).unwrap() {
            let e = e.unwrap();
            let mode = e.metadata().unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "{} is mode {mode:o}", e.path().display());
            checked += 1;
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            }
        }
    }
    assert!(checked >= 4, "{checked}");
    // A pattern RE2 refuses is the user's error (400 with why), not the store's.
    let (status, body) =
        get(&s, ANN, &format!("/api/sessions?date=-1&expression={}", common::enc("http.uri == /a{2000}/")));
    assert_eq!(status, 400, "{}", String::from_utf8_lossy(&body));
    assert!(String::from_utf8_lossy(&body).contains("repetition count"));
    let help = common::ok(common::tyto().args(["serve", "--help"]).output().unwrap());
    assert!(String::from_utf8_lossy(&help.stdout).contains("[default: 127.0.0.1:8005]"));
    // One session's PCAP is streamed, not built whole first.
    let http = id_by_agent(&s, "@SUM(1+1)");
    let (status, headers, _) = curl(&["--anyauth", "-u", ANN, &format!("{}/api/session/{http}.pcap", s.base)]);
    assert_eq!(status, 200);
    assert!(headers.contains("transfer-encoding: chunked"), "{headers}");
    let _ = s.data.clone();
}

/// A store of `rows` synthetic sessions made in SQL (faster than any ingest), with
/// the three users.
fn big_store(dir: &Path, rows: u64) -> PathBuf {
    let data = dir.join("big");
    std::fs::create_dir_all(&data).unwrap();
    let store = tyto_store::DuckStore::open(&data).unwrap();
    let t0 = Instant::now();
    store
        .connection()
        .execute_batch(&format!(
            "INSERT INTO sessions (rk, id, segment, node, ip_protocol, start_time, stop_time, src_ip, dst_ip,
                src_port, dst_port, packets, bytes, protocols)
             SELECT i + 1, 'b' || i, 1, 'local', 6, make_timestamp(1700000000000000 + i * 1000),
                make_timestamp(1700000000000000 + i * 1000 + 500), (281470849515520 + (i % 65536))::UHUGEINT,
                (281473913978880 + (i % 251))::UHUGEINT, 1024 + i % 60000, [80, 443, 53, 22][1 + i % 4], 10, 1000,
                ['tcp', ['http', 'tls', 'dns', 'ssh'][1 + i % 4]]
             FROM range({rows}) t(i);
             INSERT INTO sessions_http (rk, side_start, side_stop, http_host, http_uri, http_user_agent)
             SELECT i + 1, make_timestamp(1700000000000000 + i * 1000), make_timestamp(1700000000000000 + i * 1000 + 500),
                ['h' || (i % 5000) || '.example'], ['h' || (i % 5000) || '.example/' || i], ['agent/' || (i % 97)]
             FROM range({rows}) t(i)"
        ))
        .unwrap();
    eprintln!("{rows} synthetic sessions made in {:.1} s", t0.elapsed().as_secs_f64());
    drop(store);
    common::add_user(&data, &["ann", "--admin"], "ann-secret");
    data
}

#[test]
fn runaway_queries_are_bounded_interrupted_and_stop_with_the_server() {
    let tmp = tempfile::tempdir().unwrap();
    let data = big_store(tmp.path(), 3_000_000);
    let s = Server::start(&data, "[viewer]\nquery_timeout_s = 120.0\n");
    // 5,000 addresses on the six `ip` fields: 20 minutes and 1.9 GB before; now a set test.
    let list: Vec<String> = (0..5000).map(|i| format!("10.0.{}.{}", i / 256, i % 256)).collect();
    let expr = common::enc(&format!("ip == [{}]", list.join(",")));
    let t0 = Instant::now();
    let page = json(&s, ANN, &format!("/api/sessions?date=-1&length=10&expression={expr}"));
    let took = t0.elapsed();
    eprintln!(
        "ip == [5000 addresses] over 3 M sessions: {:.2} s, peak RSS {} MB",
        took.as_secs_f64(),
        s.peak_rss() >> 20
    );
    // Rows whose address (10.0.0.0 + i % 65536) is among the first 5,000: 45 full
    // cycles of 65,536 and the start of the 46th.
    assert_eq!(page["recordsFiltered"], 46 * 5000);
    assert!(took < Duration::from_secs(60), "{took:?}");
    // The same list as ranges on every address field is refused before the store.
    let cidrs: Vec<String> = (0..1000).map(|i| format!("10.{}.{}.0/24", i / 256, i % 256)).collect();
    let (status, body) = get(
        &s,
        ANN,
        &format!("/api/sessions?date=-1&expression={}", common::enc(&format!("ip == [{}]", cidrs.join(",")))),
    );
    assert_eq!(status, 400, "{}", String::from_utf8_lossy(&body));
    assert!(String::from_utf8_lossy(&body).contains("at most 4096"));

    // A client that leaves takes its query with it (left alone, the query runs for
    // seconds: every session counted, as `exact=1` asks, not a sample).
    let slow = "/api/spiview?date=-1&exact=1&spi=id:1000,rootId:1000,http.uri:1000,host.http:1000,http.user-agent:100,\
                port.src:1000,ip.src:1000,ip.dst:1000,starttime:1000,stoptime:1000";
    let t0 = Instant::now();
    assert_eq!(get(&s, ANN, slow).0, 200);
    let alone = t0.elapsed();
    eprintln!("the slow query left alone: {:.2} s", alone.as_secs_f64());
    // The check below watches the server's CPU from 1.2 s to 2.7 s after the start:
    // a query that went on would spend more than 0.3 s of it if it runs past 1.8 s
    // (on this store it takes 2 to 3 s, with the machine's speed).
    assert!(alone > Duration::from_millis(1800), "the query is too quick to show anything ({alone:?})");
    let t0 = Instant::now();
    let (status, _, _) = curl(&["--anyauth", "-u", ANN, "--max-time", "1", &format!("{}{slow}", s.base)]);
    assert_ne!(status, 200, "the client gave up after a second");
    std::thread::sleep(Duration::from_millis(200));
    let cpu0 = s.cpu_s();
    std::thread::sleep(Duration::from_millis(1500));
    let busy = s.cpu_s() - cpu0;
    eprintln!(
        "from {:.1} s, 0.2 s after the client left, the server used {busy:.2} s of CPU in 1.5 s",
        t0.elapsed().as_secs_f64() - 1.5
    );
    assert!(busy < 0.3, "the abandoned query went on ({busy:.2} s of CPU in 1.5 s)");

    // A query in flight does not hold the server when it is told to stop.
    let mut waiting = Command::new("curl")
        .args(["-s", "-o", "/dev/null", "--anyauth", "-u", ANN, &format!("{}{slow}", s.base)])
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(800));
    let t0 = Instant::now();
    // SAFETY: signals our own child.
    unsafe { libc::kill(s.pid() as i32, libc::SIGTERM) };
    let mut s = s;
    let status = loop {
        if let Some(st) = s.child.try_wait().unwrap() {
            break st;
        }
        assert!(t0.elapsed() < Duration::from_secs(10), "still running {:?} after SIGTERM", t0.elapsed());
        std::thread::sleep(Duration::from_millis(50));
    };
    eprintln!("stopped {:.2} s after SIGTERM with a query running ({status})", t0.elapsed().as_secs_f64());
    let _ = waiting.wait();

    // A query past the configured time is stopped and said so.
    let s = Server::start(&data, "[viewer]\nquery_timeout_s = 0.2\n");
    let t0 = Instant::now();
    let (status, body) = get(&s, ANN, slow);
    eprintln!("a 0.2 s limit answered {status} in {:.2} s", t0.elapsed().as_secs_f64());
    assert_eq!(status, 503, "{}", String::from_utf8_lossy(&body));
    assert!(String::from_utf8_lossy(&body).contains("stopped after 0.2 s"));
    assert!(t0.elapsed() < Duration::from_secs(5));
    assert_eq!(get(&s, ANN, "/api/sessions?date=-1&length=1").0, 200, "the next query runs");
}

/// Peak RSS of a command run to its end (kB): its VmHWM, read every few
/// milliseconds while it runs (the kernel's rusage would count the test process's own
/// memory, shared with the child until it executes).
fn run_peak_kb(mut cmd: Command) -> u64 {
    let mut child = cmd.stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let status_path = format!("/proc/{}/status", child.id());
    let mut peak = 0;
    loop {
        if let Ok(s) = std::fs::read_to_string(&status_path) {
            if let Some(kb) = s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)) {
                peak = peak.max(kb.parse().unwrap_or(0));
            }
        }
        if let Some(st) = child.try_wait().unwrap() {
            assert!(st.success(), "{st}");
            return peak;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// `sessions` TCP connections of `bytes` each from the client, every segment
/// after the first 1,000 bytes (so all of it waits behind a hole when `hole`).
fn tcp_bulk(path: &Path, sessions: u32, bytes: u32, hole: bool) {
    let mut frames = Vec::new();
    let t0 = 1_700_000_000 * NS;
    for s in 0..sessions {
        let sport = 20000 + s as u16;
        let mk = |seq: u32, syn: bool, data: &[u8]| {
            let mut b = etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
                .ipv4([10, 1, (s >> 8) as u8, s as u8], [10, 2, 0, 1], 64)
                .tcp(sport, 80, seq, 64240);
            if syn {
                b = b.syn();
            }
            let mut f = Vec::new();
            b.write(&mut f, data).unwrap();
            f
        };
        frames.push((t0 + s as i64, mk(0, true, b"")));
        let chunk = vec![b'a'; 1400];
        let mut seq = 1 + if hole { 1000 } else { 0 };
        let mut sent = 0;
        while sent < bytes {
            frames.push((t0 + s as i64 + 1, mk(seq, false, &chunk)));
            seq += 1400;
            sent += 1400;
        }
    }
    common::write_pcap(path, &frames);
}

#[test]
fn traffic_made_of_holes_and_fragments_takes_bounded_memory() {
    let tmp = tempfile::tempdir().unwrap();
    let (holes, in_order) = (tmp.path().join("holes.pcap"), tmp.path().join("in-order.pcap"));
    tcp_bulk(&holes, 300, 250_000, true);
    tcp_bulk(&in_order, 300, 250_000, false);
    let dump = |p: &Path| {
        let mut c = common::tyto();
        c.args(["dump", "--workers", "1", "--tcp-max-held-total-mib", "16"]).arg(p);
        c
    };
    // The least peak of two runs: on a loaded machine the worker lags and the reader's
    // queue of packets (64 batches of 512) fills further in one run than another,
    // which says nothing of what the budgets hold.
    let least_peak_kb = |p: &Path| run_peak_kb(dump(p)).min(run_peak_kb(dump(p)));
    let ordered_kb = least_peak_kb(&in_order);
    let holes_kb = least_peak_kb(&holes);
    eprintln!(
        "300 sessions x 250 KB: peak RSS {} MB in order, {} MB behind holes (16 MiB budget)",
        ordered_kb >> 10,
        holes_kb >> 10
    );
    // Held data is the budget's at most (93 MB before, against 17 MB in order): the
    // 16 MiB budget and up to 16 MiB besides (measured 24–27 MiB in all above the
    // in-order run; holding the 75 MB behind the holes would be ~50 MiB more).
    assert!(holes_kb < ordered_kb + 16 * 1024 + 16 * 1024, "{holes_kb} kB vs {ordered_kb} kB");

    // Fragments of datagrams that never complete: 1,000 of 40 fragments each.
    let mut frames = Vec::new();
    for id in 0..1000u32 {
        for k in 0..40u32 {
            let mut ip =
                etherparse::Ipv4Header::new(1480, 64, etherparse::IpNumber::UDP, [10, 3, 0, 1], [10, 3, 0, 2]).unwrap();
            ip.identification = id as u16;
            ip.more_fragments = true;
            ip.fragment_offset = etherparse::IpFragOffset::try_new((k * 185) as u16).unwrap();
            let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 8, 0];
            ip.write(&mut f).unwrap();
            f.extend(std::iter::repeat_n(0x55u8, 1480));
            frames.push((1_700_000_000 * NS + (id * 40 + k) as i64, f));
        }
    }
    let frags = tmp.path().join("frags.pcap");
    common::write_pcap(&frags, &frames);
    let frag_kb = least_peak_kb(&frags);
    eprintln!("40,000 fragments of 1,000 incomplete datagrams (60 MB): peak RSS {} MB (32 MiB limit)", frag_kb >> 10);
    // The fragments held (their 32 MiB budget) and what the run holds besides them
    // (measured 15–19 MiB above the in-order run: the reader's queue runs fuller
    // ahead of fragments than of segments). Holding all 60 MB would be ~28 MiB more.
    assert!(frag_kb < ordered_kb + 32 * 1024 + 24 * 1024, "{frag_kb} kB");
}

#[test]
fn frames_that_do_not_decode_are_stored_counted_and_found() {
    let tmp = tempfile::tempdir().unwrap();
    let t0 = 1_700_000_000 * NS;
    let mut frames = vec![(t0, vec![0xaa; 10]), (t0 + 1, vec![0xbb; 10])];
    // A valid UDP datagram under nine MPLS labels.
    let mut mpls = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x88, 0x47];
    for i in 0..9 {
        mpls.extend_from_slice(&[0, 0x10, if i == 8 { 0x01 } else { 0x00 }, 64]);
    }
    let (_, udp_frame) = common::udp(0, [10, 4, 0, 1], [10, 4, 0, 2], 1000, 2000, b"hidden");
    mpls.extend_from_slice(&udp_frame[14..]);
    frames.push((t0 + 2, mpls));
    let path = tmp.path().join("bad.pcap");
    common::write_pcap(&path, &frames);
    // And a file of a link type Tyto does not know.
    let odd = tmp.path().join("odd.pcap");
    let mut f = tyto_pcapstore::pcap_file_header(147).to_vec();
    f.extend_from_slice(&tyto_pcapstore::record_header(t0 + 3, 5, 5));
    f.extend_from_slice(b"hello");
    std::fs::write(&odd, f).unwrap();
    let data = tmp.path().join("data");
    let out = common::tyto()
        .args(["ingest", "--workers", "1", "--data-dir"])
        .arg(&data)
        .args([&path, &odd])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("3 frames could not be decoded") && err.contains("1 frames of unsupported link types"),
        "{err}"
    );
    let count = |expr: &str| {
        let out = common::ok(common::tyto().args(["count", "--expr", expr, "--data-dir"]).arg(&data).output().unwrap());
        String::from_utf8_lossy(&out.stdout).trim().parse::<u64>().unwrap()
    };
    assert_eq!(count("protocols == undecoded"), 2, "one session per link type");
    assert_eq!(count("protocols == undecoded && packets == 3"), 1);
    assert_eq!(count("protocols == undecoded && mac.src == 02:00:00:00:00:01"), 1);
    let listed = common::ok(
        common::tyto()
            .args(["sessions", "--expr", "protocols == undecoded", "--format", "ndjson", "--data-dir"])
            .arg(&data)
            .output()
            .unwrap(),
    );
    let ids: Vec<String> = String::from_utf8_lossy(&listed.stdout)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["id"].as_str().unwrap().to_string())
        .collect();
    let exported = tmp.path().join("out.pcap");
    let mut cmd = common::tyto();
    cmd.args(["export", "-o"]).arg(&exported).arg("--data-dir").arg(&data);
    for id in &ids {
        cmd.args(["--session", id]);
    }
    common::ok(cmd.output().unwrap());
    let mut n = 0;
    let reader = tyto_capture::FileReader::open(&exported).unwrap();
    let (_, e) = reader.for_each_packet(|_| n += 1);
    assert!(e.is_none());
    assert_eq!(n, 4, "every frame read is in the pcap files");
}

#[test]
fn pcapng_binary_timestamps_read_as_the_right_year() {
    let tmp = tempfile::tempdir().unwrap();
    let secs: u64 = 1_685_577_600; // 2023-06-01T00:00:00Z
    let ts = secs << 20;
    let block = |kind: u32, body: &[u8]| {
        let len = 12 + body.len().div_ceil(4) * 4;
        let mut b = kind.to_le_bytes().to_vec();
        b.extend_from_slice(&(len as u32).to_le_bytes());
        b.extend_from_slice(body);
        b.resize(len - 4, 0);
        b.extend_from_slice(&(len as u32).to_le_bytes());
        b
    };
    let mut shb = 0x1a2b3c4du32.to_le_bytes().to_vec();
    shb.extend_from_slice(&[1, 0, 0, 0]);
    shb.extend_from_slice(&(-1i64).to_le_bytes());
    let mut idb = 1u16.to_le_bytes().to_vec();
    idb.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
    idb.extend_from_slice(&[9, 0, 1, 0, 0x80 | 20, 0, 0, 0, 0, 0, 0, 0]);
    let (_, frame) = common::udp(0, [10, 5, 0, 1], [10, 5, 0, 2], 1000, 2000, b"when");
    let mut epb = 0u32.to_le_bytes().to_vec();
    epb.extend_from_slice(&((ts >> 32) as u32).to_le_bytes());
    epb.extend_from_slice(&(ts as u32).to_le_bytes());
    epb.extend_from_slice(&(frame.len() as u32).to_le_bytes());
    epb.extend_from_slice(&(frame.len() as u32).to_le_bytes());
    epb.extend_from_slice(&frame);
    let mut file = block(0x0a0d0d0a, &shb);
    file.extend(block(1, &idb));
    file.extend(block(6, &epb));
    let path = tmp.path().join("binary-resolution.pcapng");
    std::fs::write(&path, file).unwrap();
    let out = common::ok(common::tyto().args(["dump", "--workers", "1"]).arg(&path).output().unwrap());
    let row: Value = serde_json::from_str(String::from_utf8_lossy(&out.stdout).lines().next().unwrap()).unwrap();
    assert_eq!(row["starttime"], "2023-06-01T00:00:00.000000Z");
}
