//! Database traffic from a real server, end to end: a PostgreSQL server (Debian's,
//! started by the test on loopback in a temporary directory) answers queries from
//! `psql`, one of them made slow on purpose (`pg_sleep(0.3)`) and one failing; the
//! packets, captured on loopback by tcpdump, are ingested and searched. The slow query
//! is found by `pgsql.response-time > 250`, with its text and its time, and the
//! failing one by its SQLSTATE.

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

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
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

fn sessions(data: &Path, expr: &str) -> Vec<Value> {
    let out = common::ok(
        common::tyto()
            .args(["sessions", "--format", "ndjson", "--data-dir"])
            .arg(data)
            .args(["--expr", expr])
            .output()
            .unwrap(),
    );
    String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect()
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
    let deadline = Instant::now() + Duration::from_secs(30);
    while !psql(port, "SELECT 1").status.success() {
        assert!(Instant::now() < deadline, "PostgreSQL did not start");
        std::thread::sleep(Duration::from_millis(100));
    }

    // The queries, captured on loopback (tcpdump says when it listens).
    let pcap = dir.path().join("pg.pcap");
    let mut tcpdump = Command::new("tcpdump")
        // Packets as they come (not in blocks a second apart, lost at the signal).
        .args(["-i", "lo", "--immediate-mode", "-U", "-n", "-Z", "root", "-w"])
        .arg(&pcap)
        .args(["tcp", "port", &port.to_string()])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut err = std::io::BufReader::new(tcpdump.stderr.take().unwrap());
    let capture = Stopped(tcpdump);
    let mut line = String::new();
    std::io::BufRead::read_line(&mut err, &mut line).unwrap();
    assert!(line.contains("listening"), "{line}");
    common::ok(psql(port, "SELECT pg_sleep(0.3), 'slow'"));
    common::ok(psql(port, "SELECT count(*) FROM pg_class WHERE relname = 'x'"));
    let failed = psql(port, "SELECT * FROM no_such_table");
    assert!(!failed.status.success());
    std::thread::sleep(Duration::from_millis(300));
    drop(capture);

    let data = dir.path().join("data");
    common::ok(common::tyto().args(["ingest", "--data-dir"]).arg(&data).arg(&pcap).output().unwrap());
    assert_eq!(sessions(&data, "protocols == postgresql").len(), 3, "one connection per psql");

    let slow = sessions(&data, "pgsql.response-time > 250");
    assert_eq!(slow.len(), 1, "{slow:?}");
    let queries: Vec<&str> = slow[0]["pgsql.query"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert_eq!(queries, ["SELECT pg_sleep(?), ?"]);
    let ms: Vec<f64> = slow[0]["pgsql.response-time"].as_array().unwrap().iter().filter_map(Value::as_f64).collect();
    assert!(ms.iter().any(|t| (300.0..1000.0).contains(t)), "{ms:?}");
    assert_eq!(slow[0]["user"], serde_json::json!(["tyto"]));

    let errors = sessions(&data, "pgsql.error == 42P01*");
    assert_eq!(errors.len(), 1);
    let text = errors[0]["pgsql.error"][0].as_str().unwrap();
    assert!(text.starts_with("42P01 ") && text.contains("no_such_table"), "{text}");
    assert_eq!(errors[0]["pgsql.query"][0], "SELECT * FROM no_such_table");
    assert_eq!(sessions(&data, "pgsql.query == \"SELECT count(*) FROM pg_class WHERE relname = ?\"").len(), 1);
}
