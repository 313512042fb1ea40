//! The Debian package as a user meets it: `scripts/package.sh` packages the binary
//! under test, `dpkg -i` installs it on this machine, and the test checks its files,
//! user and permissions, verifies the unit with `systemd-analyze`, runs `tyto run` as
//! the unit would (the `tyto` user, only the unit's capabilities, no new privileges)
//! capturing on a veth pair in network namespaces it makes, finds the traffic it
//! sent through the viewer, stops it cleanly, upgrades the package over itself
//! (the data stays) and purges it (nothing stays).
//!
//! It changes the machine, so it runs only with `TYTO_PACKAGE_TESTS=1` (as
//! `scripts/test.sh` sets it), as root.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::Net;

const REQUEST: &[u8] = b"GET /from-the-package HTTP/1.1\r\nHost: package.test\r\n\r\n";
const RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

fn run(program: &str, args: &[&str]) -> String {
    let out = Command::new(program).args(args).output().unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {}: {}\n{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn installed() -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f", "${Status}", "tyto"])
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("installed"))
}

/// Purges the package when the test ends, however it ends.
struct Installed;

impl Drop for Installed {
    fn drop(&mut self) {
        let _ = Command::new("dpkg").args(["--purge", "tyto"]).output();
    }
}

/// Owner, group and mode of a path.
fn owner(path: &str) -> (String, String, u32) {
    let m = std::fs::metadata(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let name = |id: u32, db: &str| run("getent", &[db, &id.to_string()]).split(':').next().unwrap().to_string();
    (name(m.uid(), "passwd"), name(m.gid(), "group"), m.permissions().mode() & 0o7777)
}

/// The capabilities a unit file's `key` lists (`CAP_NET_RAW` → `net_raw`).
fn unit_caps(unit: &str, key: &str) -> Vec<String> {
    unit.lines()
        .filter_map(|l| l.strip_prefix(key)?.strip_prefix('='))
        .flat_map(|v| v.split_whitespace().map(|c| c.trim_start_matches("CAP_").to_lowercase()).collect::<Vec<_>>())
        .collect()
}

#[test]
fn the_package_installs_runs_as_its_user_upgrades_and_purges() {
    if std::env::var_os("TYTO_PACKAGE_TESTS").is_none() {
        eprintln!("skipping: set TYTO_PACKAGE_TESTS=1 to install the package on this machine (scripts/test.sh does)");
        return;
    }
    assert!(run("id", &["-u"]).trim() == "0", "the package test installs a package: it needs root");
    let root = common::manifest_dir().join("../..");
    let out = tempfile::tempdir().unwrap();
    let built = Instant::now();
    let deb = run(
        root.join("scripts/package.sh").to_str().unwrap(),
        &["--binary", env!("CARGO_BIN_EXE_tyto"), "--out", out.path().to_str().unwrap()],
    );
    let deb = PathBuf::from(deb.trim());
    let size = std::fs::metadata(&deb).unwrap().len();
    eprintln!("package: {} ({:.1} MB) in {:.1} s", deb.display(), size as f64 / 1e6, built.elapsed().as_secs_f64());
    let fields = run("dpkg-deb", &["-f", deb.to_str().unwrap(), "Package", "Installed-Size", "Depends"]);
    assert!(fields.contains("Package: tyto"), "{fields}");

    if installed() {
        run("dpkg", &["--purge", "tyto"]);
    }
    let _purge = Installed;
    let t = Instant::now();
    run("dpkg", &["-i", deb.to_str().unwrap()]);
    eprintln!("package: installed in {:.1} s", t.elapsed().as_secs_f64());

    // Files, user, permissions.
    assert_eq!(owner("/usr/bin/tyto"), ("root".into(), "root".into(), 0o755));
    assert_eq!(owner("/etc/tyto/tyto.toml"), ("root".into(), "tyto".into(), 0o640));
    assert_eq!(owner("/var/lib/tyto"), ("tyto".into(), "tyto".into(), 0o750));
    for f in [
        "/usr/lib/systemd/system/tyto.service",
        "/usr/share/man/man1/tyto.1.gz",
        "/usr/share/man/man1/tyto-run.1.gz",
        "/usr/share/bash-completion/completions/tyto",
        "/usr/share/zsh/vendor-completions/_tyto",
        "/usr/share/fish/vendor_completions.d/tyto.fish",
        "/usr/share/doc/tyto/copyright",
    ] {
        assert!(Path::new(f).is_file(), "{f} is installed");
    }
    let user = run("getent", &["passwd", "tyto"]);
    assert!(user.trim().ends_with(":/var/lib/tyto:/usr/sbin/nologin"), "a system user without a shell: {user}");
    let uid: u32 = user.split(':').nth(2).unwrap().parse().unwrap();
    assert!(uid < 1000, "a system user: {user}");
    let config = std::fs::read_to_string("/etc/tyto/tyto.toml").unwrap();
    assert!(config.contains("data_dir = \"/var/lib/tyto\""));
    assert!(run("/usr/bin/tyto", &["--version"]).starts_with("tyto "));
    assert!(run("dpkg-query", &["-W", "-f", "${Conffiles}", "tyto"]).contains("/etc/tyto/tyto.toml"));
    run("systemd-analyze", &["verify", "/usr/lib/systemd/system/tyto.service"]);

    // `tyto run` as the unit runs it.
    let unit = std::fs::read_to_string("/usr/lib/systemd/system/tyto.service").unwrap();
    assert!(
        unit.contains("User=tyto") && unit.contains("NoNewPrivileges=yes") && unit.contains("ProtectSystem=strict")
    );
    let ambient = unit_caps(&unit, "AmbientCapabilities");
    let bounding = unit_caps(&unit, "CapabilityBoundingSet");
    assert_eq!(ambient, ["net_raw"], "capture needs raw sockets and nothing more");
    let Some(net) = Net::new() else { panic!("the package test needs network namespaces") };
    let conf_dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(conf_dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let test_config = conf_dir.path().join("tyto.toml");
    let config = config
        .replace("interfaces = []", "interfaces = [\"va\"]")
        .replace("listen = \"127.0.0.1:8005\"", "listen = \"127.0.0.1:0\"");
    assert!(config.contains("interfaces = [\"va\"]") && config.contains("listen = \"127.0.0.1:0\""));
    std::fs::write(&test_config, config).unwrap();
    std::fs::set_permissions(&test_config, std::fs::Permissions::from_mode(0o644)).unwrap();
    let mut add = Command::new("runuser")
        .args(["-u", "tyto", "--", "/usr/bin/tyto", "user", "add", "ann", "--admin", "--digest"])
        .args(["--data-dir", "/var/lib/tyto"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    add.stdin.as_mut().unwrap().write_all(b"ann-secret\n").unwrap();
    assert!(add.wait().unwrap().success());
    let caps = |set: &[String]| {
        std::iter::once("-all".to_string()).chain(set.iter().map(|c| format!("+{c}"))).collect::<Vec<_>>().join(",")
    };
    let mut child = net
        .command(&net.a, "setpriv")
        .args(["--reuid=tyto", "--regid=tyto", "--init-groups", "--no-new-privs"])
        .arg(format!("--inh-caps={}", caps(&ambient)))
        .arg(format!("--ambient-caps={}", caps(&ambient)))
        .arg(format!("--bounding-set={}", caps(&bounding)))
        .args(["--", "/usr/bin/tyto", "run", "--config"])
        .arg(&test_config)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let (mut url, mut capturing) = (None, false);
    while url.is_none() || !capturing {
        let Some(Ok(line)) = lines.next() else {
            let _ = child.kill();
            panic!("tyto run ended before capturing: {:?}", child.wait());
        };
        eprintln!("[tyto] {line}");
        if let Some(u) = line.strip_prefix("tyto: viewer at ") {
            url = Some(u.trim_end_matches('/').to_string());
        }
        capturing |= line.starts_with("tyto: capturing on");
    }
    std::thread::spawn(move || lines.map_while(Result::ok).for_each(|l| eprintln!("[tyto] {l}")));
    let url = url.unwrap();
    let pid = child.id().to_string();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| status.lines().find(|l| l.starts_with(name)).unwrap_or_default().to_string();
    assert!(field("Uid:").split_whitespace().skip(1).all(|u| u == uid.to_string()), "{}", field("Uid:"));
    assert_eq!(field("CapEff:").split_whitespace().nth(1), Some("0000000000002000"), "CAP_NET_RAW alone");
    assert_eq!(field("NoNewPrivs:").split_whitespace().nth(1), Some("1"));

    let server = net.within(&net.a, || {
        let l = TcpListener::bind("10.77.0.1:8080").unwrap();
        let (mut s, _) = l.accept().unwrap();
        let mut req = vec![0u8; REQUEST.len()];
        s.read_exact(&mut req).unwrap();
        s.write_all(RESPONSE).unwrap();
    });
    std::thread::sleep(Duration::from_millis(200));
    net.within(&net.b, || {
        let mut s = TcpStream::connect("10.77.0.1:8080").unwrap();
        s.write_all(REQUEST).unwrap();
        let mut resp = Vec::new();
        s.read_to_end(&mut resp).unwrap();
        assert_eq!(resp, RESPONSE);
    })
    .join()
    .unwrap();
    server.join().unwrap();
    let idle = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    eprintln!("package: tyto run's memory while idle: {}", idle.lines().find(|l| l.starts_with("VmRSS")).unwrap());

    // The session shows in the viewer once written (closed TCP: the closing wait).
    let search = format!("{url}/api/sessions?date=-1&expression=port.dst%3D%3D8080%26%26protocols%3D%3Dhttp");
    let started = Instant::now();
    loop {
        let out = net
            .command(&net.a, "curl")
            .args(["-sS", "--fail", "--anyauth", "-u", "ann:ann-secret", &search])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        if v["recordsFiltered"].as_u64() == Some(1) {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "the session never showed: {v}");
        std::thread::sleep(Duration::from_millis(500));
    }
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let exit = child.wait().unwrap();
    assert!(exit.success(), "stopped cleanly by SIGTERM: {exit:?}");
    for entry in std::fs::read_dir("/var/lib/tyto").unwrap() {
        let path = entry.unwrap().path();
        let (user, _, _) = owner(path.to_str().unwrap());
        assert_eq!(user, "tyto", "{} belongs to the service's user", path.display());
    }
    let count = |what: &str| {
        run("runuser", &["-u", "tyto", "--", "/usr/bin/tyto", "count", "--data-dir", "/var/lib/tyto", "--expr", what])
    };
    assert_eq!(count("port.dst == 8080").trim(), "1");

    // Upgrade over itself: the data stays.
    run("dpkg", &["-i", deb.to_str().unwrap()]);
    assert_eq!(count("port.dst == 8080").trim(), "1", "the sessions survive an upgrade");
    assert_eq!(owner("/var/lib/tyto"), ("tyto".into(), "tyto".into(), 0o750));

    // Purge: nothing stays.
    run("dpkg", &["--purge", "tyto"]);
    for gone in ["/usr/bin/tyto", "/etc/tyto", "/var/lib/tyto", "/usr/lib/systemd/system/tyto.service"] {
        assert!(!Path::new(gone).exists(), "{gone} is gone after purge");
    }
    assert!(Command::new("getent").args(["passwd", "tyto"]).output().unwrap().stdout.is_empty(), "the user is gone");
}
