//! Database traffic from real servers, end to end: PostgreSQL, MariaDB, Redis and
//! memcached
//! (Debian's, started by the tests on loopback in temporary directories) answer their
//! own clients (`psql`, `mariadb`, `redis-cli`), one request made slow on purpose
//! (`pg_sleep(0.3)`, `SLEEP(0.3)`, `DEBUG SLEEP 0.3`) and one failing; the packets,
//! captured on loopback by tcpdump, are ingested and searched. The slow request is
//! found by its response time (`pgsql.response-time > 250`, `mysql.response-time >
//! 250`, `redis.response-time > 250`), with its text and time, and the failing one by
//! its error. memcached (which has no slow command) is spoken to in its text and
//! binary protocols by the test itself.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// A child process stopped (then reaped) when the test ends, however it ends.
struct Stopped(Child);

impl Drop for Stopped {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-INT", &self.0.id().to_string()]).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if matches!(self.0.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// PostgreSQL's server programs (Debian keeps them out of PATH).
fn postgres_bin() -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| Some(e.ok()?.path().join("bin")))
        .filter(|b| b.join("initdb").exists() && b.join("postgres").exists())
        .collect();
    found.sort();
    found.pop()
}

/// A free loopback port, never given twice in this process (the tests run at once;
/// each captures its own server's port).
fn free_port() -> u16 {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let mut given = GIVEN.lock().unwrap_or_else(|p| p.into_inner());
    loop {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        if !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
}

/// Runs a command as the `postgres` user (the server refuses to run as root).
fn as_postgres(program: &Path) -> Command {
    let mut c = Command::new("runuser");
    c.args(["-u", "postgres", "--"]).arg(program);
    c
}

fn psql(port: u16, sql: &str) -> std::process::Output {
    Command::new("psql")
        .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-U", "tyto", "-d", "postgres", "-X", "-c", sql])
        .output()
        .unwrap()
}

/// Polls `ready` every `poll` until it holds; fails the test after `limit`.
fn wait_for(server: &str, limit: Duration, poll: Duration, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !ready() {
        assert!(Instant::now() < deadline, "{server} did not start");
        std::thread::sleep(poll);
    }
}

/// tcpdump on loopback, for one port, until dropped (it says when it listens).
fn capture(pcap: &Path, port: u16) -> Stopped {
    let mut tcpdump = Command::new("tcpdump")
        // Packets as they come (not in blocks a second apart, lost at the signal),
        // with a buffer that holds a burst on a busy machine.
        .args(["-i", "lo", "--immediate-mode", "-B", "65536", "-U", "-n", "-Z", "root", "-w"])
        .arg(pcap)
        .args(["tcp", "port", &port.to_string()])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut err = std::io::BufReader::new(tcpdump.stderr.take().unwrap());
    let running = Stopped(tcpdump);
    let mut line = String::new();
    std::io::BufRead::read_line(&mut err, &mut line).unwrap();
    assert!(line.contains("listening"), "{line}");
    running
}

/// Ingests the capture; checks one session per client connection of `protocol`, and
/// exactly one answered slowly (`{prefix}.response-time > 250`), in 300 ms to 1 s.
/// Returns the data directory and that session.
fn slow_session(dir: &Path, pcap: &Path, protocol: &str, connections: usize, prefix: &str) -> (PathBuf, Value) {
    let data = dir.join("data");
    common::ok(common::tyto().args(["ingest", "--data-dir"]).arg(&data).arg(pcap).output().unwrap());
    assert_eq!(sessions(&data, &format!("protocols == {protocol}")).len(), connections, "one per client");
    let mut slow = sessions(&data, &format!("{prefix}.response-time > 250"));
    assert_eq!(slow.len(), 1, "{slow:?}");
    let session = slow.remove(0);
    let times = session[format!("{prefix}.response-time")].as_array().unwrap();
    let ms: Vec<f64> = times.iter().filter_map(Value::as_f64).collect();
    assert!(ms.iter().any(|t| (300.0..1000.0).contains(t)), "{ms:?}");
    (data, session)
}

/// `tyto transactions` of `kind` with `args`, as JSON.
fn transactions(data: &Path, kind: &str, args: &[&str]) -> Vec<Value> {
    ndjson(
        common::tyto().args(["transactions", "--format", "ndjson", "--kind", kind, "--data-dir"]).arg(data).args(args),
    )
}

/// A command's lines of JSON.
fn ndjson(command: &mut Command) -> Vec<Value> {
    let out = common::ok(command.output().unwrap());
    String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// The slowest transaction of `kind` is the slow session's slow request (its time
/// one of the session's `{kind}.response-time`), and exactly one failed, with `error`.
fn slowest_and_failed(data: &Path, kind: &str, slow: &Value, error: &str) -> (Value, Value) {
    let slowest = transactions(data, kind, &["--slowest", "1"]).remove(0);
    assert_eq!(slowest["session"], slow["id"], "{slowest}");
    let took = slowest["response-time"].as_f64().unwrap();
    assert!((300.0..1000.0).contains(&took), "{slowest}");
    assert!(slow[format!("{kind}.response-time")].as_array().unwrap().contains(&slowest["response-time"]));
    let mut failed = transactions(data, kind, &["--failed"]);
    assert_eq!(failed.len(), 1, "{failed:?}");
    let failed = failed.remove(0);
    assert_eq!(failed["failed"], true);
    assert!(failed["fields"][error][0].is_string(), "{failed}");
    (slowest, failed)
}

fn sessions(data: &Path, expr: &str) -> Vec<Value> {
    ndjson(common::tyto().args(["sessions", "--format", "ndjson", "--data-dir"]).arg(data).args(["--expr", expr]))
}

#[test]
fn a_slow_postgresql_query_is_found_by_its_response_time() {
    let (Some(bin), true) = (postgres_bin(), Command::new("psql").arg("--version").output().is_ok()) else {
        eprintln!("skipping: PostgreSQL is not installed (scripts/setup.sh installs it)");
        return;
    };
    // The server's directory belongs to its user; the capture and the store to root.
    let (server_dir, dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let cluster = server_dir.path().join("cluster");
    std::fs::create_dir(&cluster).unwrap();
    assert!(Command::new("chown").args(["-R", "postgres:postgres"]).arg(server_dir.path()).status().unwrap().success());
    common::ok(
        as_postgres(&bin.join("initdb"))
            .args(["-D"])
            .arg(&cluster)
            .args(["-U", "tyto", "--auth=trust", "--no-sync"])
            .output()
            .unwrap(),
    );
    let port = free_port();
    let server = as_postgres(&bin.join("postgres"))
        .arg("-D")
        .arg(&cluster)
        .args(["-p", &port.to_string(), "-k"])
        .arg(&cluster)
        .args(["-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _server = Stopped(server);
    wait_for("PostgreSQL", Duration::from_secs(30), Duration::from_millis(100), || {
        psql(port, "SELECT 1").status.success()
    });

    // The queries, captured on loopback.
    let pcap = dir.path().join("pg.pcap");
    let capture = capture(&pcap, port);
    common::ok(psql(port, "SELECT pg_sleep(0.3), 'slow'"));
    common::ok(psql(port, "SELECT count(*) FROM pg_class WHERE relname = 'x'"));
    common::ok(psql(port, "SELECT generate_series(1, 1234)"));
    let failed = psql(port, "SELECT * FROM no_such_table");
    assert!(!failed.status.success());
    std::thread::sleep(Duration::from_millis(300));
    drop(capture);

    let (data, slow) = slow_session(dir.path(), &pcap, "postgresql", 4, "pgsql");
    assert_eq!(slow["pgsql.query"], serde_json::json!(["SELECT pg_sleep(?), ?"]));
    assert_eq!(slow["user"], serde_json::json!(["tyto"]));

    let errors = sessions(&data, "pgsql.error == 42P01*");
    assert_eq!(errors.len(), 1);
    let text = errors[0]["pgsql.error"][0].as_str().unwrap();
    assert!(text.starts_with("42P01 ") && text.contains("no_such_table"), "{text}");
    assert_eq!(errors[0]["pgsql.query"][0], "SELECT * FROM no_such_table");
    assert_eq!(sessions(&data, "pgsql.query == \"SELECT count(*) FROM pg_class WHERE relname = ?\"").len(), 1);

    // Each query is a transaction of its own, with its statement and its error.
    let (slowest, failed) = slowest_and_failed(&data, "pgsql", &slow, "pgsql.error");
    assert_eq!(slowest["fields"]["pgsql.query"], serde_json::json!(["SELECT pg_sleep(?), ?"]));
    assert_eq!(failed["fields"]["pgsql.query"], serde_json::json!(["SELECT * FROM no_such_table"]));
    assert_eq!(failed["session"], errors[0]["id"]);
    let all = transactions(&data, "pgsql", &[]);
    assert!(all.iter().all(|t| t["answered"].is_number()), "every query was answered: {all:?}");
    let counted =
        transactions(&data, "pgsql", &["--expr", "pgsql.query == \"SELECT count(*) FROM pg_class WHERE relname = ?\""]);
    assert!(counted.iter().any(|t| t["fields"]["pgsql.query"][0] == "SELECT count(*) FROM pg_class WHERE relname = ?"));
    assert!(
        counted.iter().all(|t| t["fields"]["pgsql.query"][0] != "SELECT pg_sleep(?), ?"),
        "other sessions' left out"
    );
    // The rows a statement returned, as its CommandComplete counts them.
    let big = sessions(&data, "pgsql.rows == 1234");
    assert_eq!(big.len(), 1);
    assert_eq!(big[0]["pgsql.query"], serde_json::json!(["SELECT generate_series(?, ?)"]));
    let series = transactions(&data, "pgsql", &["--expr", "pgsql.rows >= 1000"]);
    assert_eq!(series.len(), 1, "{series:?}");
    assert_eq!(series[0]["fields"]["pgsql.rows"], serde_json::json!([1234]));
}

#[test]
fn a_slow_redis_command_is_found_by_its_response_time() {
    let (Ok(_), Ok(_)) =
        (Command::new("redis-server").arg("--version").output(), Command::new("redis-cli").arg("-v").output())
    else {
        eprintln!("skipping: Redis is not installed (scripts/setup.sh installs it)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let server = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        .args(["--enable-debug-command", "yes", "--dir"])
        .arg(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _server = Stopped(server);
    let cli = |args: &[&str]| Command::new("redis-cli").args(["-p", &port.to_string()]).args(args).output().unwrap();
    wait_for("Redis", Duration::from_secs(30), Duration::from_millis(100), || {
        String::from_utf8_lossy(&cli(&["PING"]).stdout).contains("PONG")
    });

    let pcap = dir.path().join("redis.pcap");
    let capture = capture(&pcap, port);
    common::ok(cli(&["SET", "greeting", &"x".repeat(100_000)]));
    common::ok(cli(&["DEBUG", "SLEEP", "0.3"]));
    let failed = cli(&["NOSUCHCOMMAND", "a"]);
    assert!(String::from_utf8_lossy(&failed.stdout).contains("ERR"), "{failed:?}");
    common::ok(cli(&["GET", "greeting"]));
    std::thread::sleep(Duration::from_millis(300));
    drop(capture);

    let (data, slow) = slow_session(dir.path(), &pcap, "redis", 4, "redis");
    assert!(slow["redis.command"].as_array().unwrap().iter().any(|c| c == "DEBUG"), "{slow}");
    let errors = sessions(&data, "redis.error == ERR*");
    assert_eq!(errors.len(), 1);
    assert!(errors[0]["redis.command"].as_array().unwrap().iter().any(|c| c == "NOSUCHCOMMAND"));
    // The 100 kB value passed through both ways, and every command was answered.
    let big = sessions(&data, "redis.command == SET || redis.command == GET");
    assert_eq!(big.len(), 2);
    for s in &big {
        assert!(!s["redis.response-time"].as_array().unwrap().is_empty(), "{s}");
    }

    let (slowest, failed) = slowest_and_failed(&data, "redis", &slow, "redis.error");
    assert_eq!(slowest["fields"]["redis.command"], serde_json::json!(["DEBUG"]));
    assert_eq!(failed["fields"]["redis.command"], serde_json::json!(["NOSUCHCOMMAND"]));
    let get = transactions(&data, "redis", &["--expr", "redis.key == greeting && redis.command == GET"]);
    let get = get.iter().find(|t| t["fields"]["redis.command"][0] == "GET").expect("the GET");
    assert_eq!(get["fields"]["redis.key"], serde_json::json!(["greeting"]));
    assert!(get["response.bytes"].as_u64().unwrap() > 100_000, "{get}");
}

#[test]
fn a_slow_mariadb_query_is_found_by_its_response_time() {
    let (Ok(_), Ok(_)) =
        (Command::new("mariadbd").arg("--version").output(), Command::new("mariadb").arg("--version").output())
    else {
        eprintln!("skipping: MariaDB is not installed (scripts/setup.sh installs it)");
        return;
    };
    let (server_dir, dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    assert!(Command::new("chown").args(["mysql:mysql"]).arg(server_dir.path()).status().unwrap().success());
    let datadir = server_dir.path().join("data");
    common::ok(
        Command::new("mariadb-install-db")
            .args(["--no-defaults", "--user=mysql", "--auth-root-authentication-method=normal", "--skip-test-db"])
            .arg(format!("--datadir={}", datadir.display()))
            .output()
            .unwrap(),
    );
    let port = free_port();
    let server = Command::new("runuser")
        .args(["-u", "mysql", "--", "mariadbd", "--no-defaults", "--skip-log-bin", "--innodb-buffer-pool-size=16M"])
        .arg(format!("--datadir={}", datadir.display()))
        .arg(format!("--socket={}", server_dir.path().join("sock").display()))
        .args([&format!("--port={port}"), "--bind-address=127.0.0.1"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _server = Stopped(server);
    let client = |sql: &str| {
        Command::new("mariadb")
            .args(["--protocol=tcp", "-h", "127.0.0.1", "-P", &port.to_string(), "-u", "root", "-e", sql])
            .output()
            .unwrap()
    };
    wait_for("MariaDB", Duration::from_secs(60), Duration::from_millis(200), || client("SELECT 1").status.success());

    let pcap = dir.path().join("mariadb.pcap");
    let capture = capture(&pcap, port);
    common::ok(client("SELECT SLEEP(0.3), 'slow'"));
    common::ok(client("SELECT COUNT(*) FROM mysql.user WHERE user = 'nobody'"));
    common::ok(client("WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < 777) SELECT n FROM s"));
    assert!(!client("SELECT * FROM mysql.no_such_table").status.success());
    std::thread::sleep(Duration::from_millis(300));
    drop(capture);

    let (data, slow) = slow_session(dir.path(), &pcap, "mysql", 4, "mysql");
    let queries: Vec<&str> = slow["mysql.query"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert!(queries.contains(&"SELECT SLEEP(?), ?"), "{queries:?}");
    assert_eq!(slow["mysql.user"], serde_json::json!(["root"]));
    let errors = sessions(&data, "mysql.error == \"1146 *\" || mysql.error == 1146*");
    assert_eq!(errors.len(), 1);
    let text = errors[0]["mysql.error"][0].as_str().unwrap();
    assert!(text.starts_with("1146 42S02 ") && text.contains("no_such_table"), "{text}");

    let (slowest, failed) = slowest_and_failed(&data, "mysql", &slow, "mysql.error");
    assert_eq!(slowest["fields"]["mysql.query"], serde_json::json!(["SELECT SLEEP(?), ?"]));
    assert_eq!(failed["fields"]["mysql.query"], serde_json::json!(["SELECT * FROM mysql.no_such_table"]));
    assert_eq!(failed["fields"]["mysql.error"][0], text);
    // The rows of a result set, counted to its last packet (past the sequence
    // numbers' wrap), on the session and on the query's transaction.
    // (MariaDB stops a recursion at 1,000 rows by default.)
    let big = sessions(&data, "mysql.rows == 777");
    assert_eq!(big.len(), 1, "{:?}", sessions(&data, "protocols == mysql"));
    let series = transactions(&data, "mysql", &["--expr", "mysql.rows == 777"]);
    let series: Vec<&Value> = series.iter().filter(|t| t["fields"]["mysql.rows"] == serde_json::json!([777])).collect();
    assert_eq!(series.len(), 1, "{series:?}");
    assert_eq!(sessions(&data, "mysql.rows == 1").len(), 2, "the two one-row answers");

    // Exported as Packetbeat writes MySQL transactions: one ECS document each.
    let log = dir.path().join("mysql.jsonl");
    let config = dir.path().join("tyto.toml");
    let export = format!("[[output]]\nkind = \"file\"\ntarget = \"{}\"\nrecords = [\"mysql\"]\n", log.display());
    std::fs::write(&config, export).unwrap();
    let again = dir.path().join("exported");
    common::ok(
        common::tyto()
            .args(["ingest", "--data-dir"])
            .arg(&again)
            .arg("--config")
            .arg(&config)
            .arg(&pcap)
            .output()
            .unwrap(),
    );
    let docs: Vec<Value> =
        std::fs::read_to_string(&log).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(docs.len(), transactions(&data, "mysql", &["--limit", "1000"]).len(), "one per transaction");
    assert!(docs.iter().all(|d| d["event"]["dataset"] == "mysql" && d["type"] == "mysql"), "{docs:?}");
    let failed: Vec<&Value> = docs.iter().filter(|d| d["event"]["outcome"] == "failure").collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["status"], "Error");
    assert_eq!(failed[0]["tyto"]["mysql_error"], text);
    let slow_doc = docs.iter().find(|d| d["tyto"]["mysql_query"] == "SELECT SLEEP(?), ?").expect("the slow query");
    let us = slow_doc["tyto"]["response_time_us"].as_i64().unwrap();
    assert_eq!(us as f64 / 1000.0, slowest["response-time"].as_f64().unwrap());
}

#[test]
fn memcached_commands_in_both_protocols_are_timed() {
    if Command::new("memcached").arg("--version").output().is_err() {
        eprintln!("skipping: memcached is not installed (scripts/setup.sh installs it)");
        return;
    }
    use std::io::{Read, Write};
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let server = Command::new("memcached")
        .args(["-l", "127.0.0.1", "-p", &port.to_string(), "-U", "0", "-u", "nobody", "-m", "16"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _server = Stopped(server);
    wait_for("memcached", Duration::from_secs(30), Duration::from_millis(50), || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    // Reads until the answer ends with `end`.
    let ask = |s: &mut std::net::TcpStream, request: &[u8], end: &[u8]| {
        s.write_all(request).unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 65536];
        while !got.ends_with(end) {
            let n = s.read(&mut buf).unwrap();
            assert!(n > 0, "memcached closed: {}", String::from_utf8_lossy(&got));
            got.extend_from_slice(&buf[..n]);
        }
        got
    };

    let pcap = dir.path().join("memcached.pcap");
    let capture = capture(&pcap, port);
    let value = "v".repeat(200_000);
    let mut text = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    ask(&mut text, format!("set big 0 0 {}\r\n{value}\r\n", value.len()).as_bytes(), b"STORED\r\n");
    let got = ask(&mut text, b"get big nothing\r\n", b"END\r\n");
    assert_eq!(got.len(), format!("VALUE big 0 {}\r\n", value.len()).len() + value.len() + 7);
    ask(&mut text, b"incr big 1\r\n", b"\r\n");
    drop(text);
    let mut binary = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    // GET of a missing key (status 1, "Not found"), then NOOP.
    let header = |op: u8, key: &[u8], opaque: u32| {
        let mut h = vec![0x80, op];
        h.extend_from_slice(&(key.len() as u16).to_be_bytes());
        h.extend_from_slice(&[0, 0, 0, 0]);
        h.extend_from_slice(&(key.len() as u32).to_be_bytes());
        h.extend_from_slice(&opaque.to_be_bytes());
        h.extend_from_slice(&[0; 8]);
        h.extend_from_slice(key);
        h
    };
    let got = ask(&mut binary, &header(0x00, b"missing", 7), b"Not found");
    assert_eq!(got[0], 0x81);
    drop(binary);
    std::thread::sleep(Duration::from_millis(300));
    drop(capture);

    let data = dir.path().join("data");
    common::ok(common::tyto().args(["ingest", "--data-dir"]).arg(&data).arg(&pcap).output().unwrap());
    let rows = sessions(&data, "protocols == memcache");
    assert_eq!(rows.len(), 2, "{rows:?}");
    let by_commands = |want: &[&str]| {
        rows.iter()
            .find(|r| {
                r["memcache.command"]
                    .as_array()
                    .is_some_and(|c| c.iter().filter_map(Value::as_str).eq(want.iter().copied()))
            })
            .unwrap_or_else(|| panic!("no session with commands {want:?}: {rows:?}"))
    };
    let text = by_commands(&["set", "get", "incr"]);
    // Every command answered: three times (distinct values, at least one).
    assert!(!text["memcache.response-time"].as_array().unwrap().is_empty());
    assert!(text["memcache.status"][0].as_str().unwrap().starts_with("CLIENT_ERROR"), "{text}");
    let binary = by_commands(&["get"]);
    assert_eq!(binary["memcache.status"], serde_json::json!(["0x0001"]));
    assert_eq!(binary["memcache.key"], serde_json::json!(["missing"]), "the binary get's key, after its extras");
    assert_eq!(binary["memcache.response-time"].as_array().unwrap().len(), 1);
    assert_eq!(sessions(&data, "memcache.response-time >= 0").len(), 2);

    // A transaction per command, oldest last: the binary miss is no failure, the
    // increment of a text value is.
    let all = transactions(&data, "memcache", &[]);
    let commands: Vec<(&str, &str, bool)> = all
        .iter()
        .rev()
        .map(|t| {
            let field = |f: &str| t["fields"][f][0].as_str().unwrap_or_default();
            (field("memcache.command"), field("memcache.key"), t["failed"] == true)
        })
        .collect();
    assert_eq!(
        commands,
        [("set", "big", false), ("get", "big", false), ("incr", "big", true), ("get", "missing", false)]
    );
    assert!(all.iter().all(|t| t["response-time"].is_number()), "{all:?}");
    let get = &all[all.len() - 2];
    assert!(get["response.bytes"].as_u64().unwrap() > 200_000, "the value, its VALUE and END lines: {get}");
}

/// SQL Server (no Debian package): Arkime's capture of a TDS 7 login and SQL batch.
/// The answer's first packet came 1.897 ms after the batch (tshark: frames 8 and 9).
#[test]
fn a_sql_server_batch_from_a_real_capture_is_a_transaction() {
    let Some(dir) = common::pcaps_dir() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let pcap = dir.join("arkime/tds7.pcap");
    common::ok(common::tyto().args(["ingest", "--data-dir"]).arg(&data).arg(&pcap).output().unwrap());
    let found = sessions(&data, "tds.query == *syscharsets* && tds.response-time == 1.897");
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0]["user"], serde_json::json!(["testuser"]));
    let all = transactions(&data, "tds", &[]);
    assert_eq!(all.len(), 1, "{all:?}");
    let query =
        "select name from master.dbo.syscharsets where id = convert(tinyint, databasepropertyex ( db_name() , ?))";
    assert_eq!(all[0]["fields"]["tds.query"], serde_json::json!([query]));
    assert_eq!(all[0]["response-time"], 1.897);
    assert_eq!(all[0]["failed"], false);
    assert_eq!(all[0]["session"], found[0]["id"]);
}
