#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;

use tyto_flow::analyzer::NoAnalysis;
use tyto_flow::{FlowConfig, PipelineConfig, Progress, RunReport};
use tyto_schema::SessionRecord;

/// The shared captures: `$TYTO_PCAPS`, or `shared/pcaps` beside the repository.
pub fn pcaps_dir() -> Option<PathBuf> {
    let dir = match std::env::var_os("TYTO_PCAPS") {
        Some(d) => PathBuf::from(d),
        None => manifest_dir().join("../../../shared/pcaps"),
    };
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!("skipping: no shared captures at {} (set TYTO_PCAPS)", dir.display());
        None
    }
}

/// The `.pcap` files of the Arkime suite, sorted.
pub fn arkime_captures() -> Option<Vec<PathBuf>> {
    let dir = pcaps_dir()?.join("arkime");
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "pcap"))
        .collect();
    v.sort();
    Some(v)
}

/// This crate's directory as cargo gives it when running the test: the compiled-in
/// `env!` value goes stale when a cached build is reused from another checkout path.
pub fn manifest_dir() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from).unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into())
}

pub fn config(workers: usize, flow: FlowConfig) -> PipelineConfig {
    PipelineConfig { flow, workers, node: "test".into(), pcap: None, analyzers: Arc::new(NoAnalysis), enrich: None }
}

/// Runs files through the pipeline and collects every row.
pub fn run(files: &[PathBuf], cfg: &PipelineConfig) -> (RunReport, Vec<SessionRecord>) {
    let (tx, rx) = crossbeam_channel::unbounded();
    let report = tyto_flow::run(files, cfg, tx, &Progress::default());
    let rows = rx.into_iter().flatten().collect();
    (report, rows)
}

/// The `tyto` binary built for these tests.
pub fn tyto() -> std::process::Command {
    std::process::Command::new(env!("CARGO_BIN_EXE_tyto"))
}

/// The command's output, after asserting it succeeded (showing its output if not).
pub fn ok(out: std::process::Output) -> std::process::Output {
    assert!(
        out.status.success(),
        "status {:?}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Starts `tyto serve` on a free loopback port; returns once it listens, with its
/// address (`http://127.0.0.1:PORT`).
pub fn serve(data: &std::path::Path, extra: &[&str]) -> (std::process::Child, String) {
    use std::io::{BufRead, BufReader};
    let mut child = tyto()
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data)
        .args(extra)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let base = loop {
        let line = lines.next().expect("tyto serve ended before listening").unwrap();
        if let Some(url) = line.strip_prefix("tyto: viewer at ") {
            break url.trim_end_matches('/').to_string();
        }
    };
    // Keep draining stderr so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (child, base)
}

/// `tyto user add` with the password on standard input; HTTP Digest allowed, as
/// `curl --anyauth` uses it.
pub fn add_user(data: &std::path::Path, args: &[&str], password: &str) {
    let mut c = tyto()
        .args(["user", "add", "--digest"])
        .args(args)
        .arg("--data-dir")
        .arg(data)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(c.stdin.as_mut().unwrap(), format!("{password}\n").as_bytes()).unwrap();
    assert!(c.wait().unwrap().success());
}

/// A private ClickHouse server on loopback (`scripts/clickhouse.sh`), stopped when
/// dropped. Its data lives in a temporary folder (in /dev/shm when there is one).
pub struct ClickHouse {
    dir: tempfile::TempDir,
    pub port: u16,
    /// The script that starts and stops it: `clickhouse.sh` (Debian's 18.16 server)
    /// or `chdb.sh` (a current ClickHouse engine behind its HTTP interface).
    script: &'static str,
}

/// Three free consecutive loopback ports (HTTP, native, interserver), never given
/// before in this process: a server stopped for a while (the outage test) must find
/// its ports free again when it restarts, not taken by another test's server. They
/// are below the kernel's ephemeral range (32768–60999 by default), where the
/// outgoing connections of every other test would otherwise take one meanwhile.
fn free_ports() -> u16 {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let mut given = GIVEN.lock().unwrap_or_else(|p| p.into_inner());
    // A start that differs between processes (test binaries run one after another).
    let seed = (std::process::id() as u64).wrapping_mul(2_654_435_761) ^ tyto_schema::time::now_ns() as u64;
    for i in 0..2000u64 {
        let port = 20_000 + ((seed.wrapping_add(i * 7919)) % 12_000) as u16;
        if given.iter().any(|g| g.abs_diff(port) < 3) {
            continue;
        }
        if (0..3).all(|i| std::net::TcpListener::bind(("127.0.0.1", port + i)).is_ok()) {
            given.push(port);
            return port;
        }
    }
    panic!("no three free consecutive ports on loopback between 20000 and 32000");
}

impl ClickHouse {
    /// Debian's clickhouse-server 18.16 (`scripts/clickhouse.sh`).
    pub fn start() -> Option<ClickHouse> {
        let installed = std::path::Path::new("/usr/sbin/clickhouse-server").exists();
        ClickHouse::launch("clickhouse.sh", installed, "clickhouse-server: scripts/setup.sh installs it")
    }

    /// A current ClickHouse (26.x: chdb's engine, `scripts/chdb.sh`), answering the
    /// HTTP requests the store sends.
    pub fn start_current() -> Option<ClickHouse> {
        let venv = std::env::var_os("TYTO_CHDB_VENV")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/tyto/chdb"));
        let installed = venv.join("bin/python").exists();
        ClickHouse::launch("chdb.sh", installed, "chdb: scripts/chdb.sh install makes it, scripts/test.sh runs that")
    }

    /// Starts one with `script`, its data in a new temporary folder: in memory where
    /// there is a tmpfs (ClickHouse 18.16 writes a file per column per part, and the
    /// Arkime captures span 139 days, one part each). When it is not `installed`,
    /// says so and gives `None`, unless `TYTO_CLICKHOUSE_TESTS=1` (set by
    /// scripts/test.sh) makes it required.
    fn launch(script: &'static str, installed: bool, what: &str) -> Option<ClickHouse> {
        if !installed {
            assert!(std::env::var_os("TYTO_CLICKHOUSE_TESTS").is_none(), "missing: {what}");
            eprintln!("skipped: not installed: {what}");
            return None;
        }
        let shm = std::path::Path::new("/dev/shm");
        let dir = if shm.is_dir() { tempfile::tempdir_in(shm) } else { tempfile::tempdir() }.unwrap();
        let ch = ClickHouse { dir, port: free_ports(), script };
        ch.run_script("start");
        Some(ch)
    }

    fn run_script(&self, what: &str) {
        let out = std::process::Command::new(manifest_dir().join("../../scripts").join(self.script))
            .arg(what)
            .arg(self.dir.path())
            .arg(self.port.to_string())
            .output()
            .unwrap();
        ok(out);
    }

    /// `clickhouse://127.0.0.1:PORT/DATABASE`.
    pub fn url(&self, database: &str) -> String {
        format!("clickhouse://127.0.0.1:{}/{database}", self.port)
    }

    pub fn stop(&self) {
        self.run_script("stop");
    }

    /// Stops it the hard way (SIGKILL): inserts in flight lose their answers.
    pub fn kill(&self) {
        let pid = std::fs::read_to_string(self.dir.path().join("server.pid")).unwrap();
        let pid = pid.trim();
        assert!(std::process::Command::new("kill").args(["-9", pid]).status().unwrap().success());
        while std::path::Path::new(&format!("/proc/{pid}")).exists() {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// Starts it again on the same data.
    pub fn restart(&self) {
        self.run_script("start");
    }

    /// Runs a query over HTTP; its text answer.
    pub fn query(&self, sql: &str) -> String {
        self.query_with(sql, "")
    }

    /// [`ClickHouse::query`] with settings of its own (`name=value&…`).
    pub fn query_with(&self, sql: &str, settings: &str) -> String {
        let out = std::process::Command::new("curl")
            .args(["-sS", "--fail-with-body", "--data-binary", sql])
            .arg(format!("http://127.0.0.1:{}/?{settings}", self.port))
            .output()
            .expect("curl");
        String::from_utf8_lossy(&ok(out).stdout).into_owned()
    }
}

impl Drop for ClickHouse {
    fn drop(&mut self) {
        let _ = std::process::Command::new(manifest_dir().join("../../scripts").join(self.script))
            .arg("stop")
            .arg(self.dir.path())
            .output();
    }
}

/// curl's answer: status and body.
pub fn curl(user: &str, url: &str, extra: &[&str]) -> (u16, Vec<u8>) {
    let out = std::process::Command::new("curl")
        .args(["-s", "-g", "--anyauth", "-u", user, "-w", "\n%{http_code}"])
        .args(extra)
        .arg(url)
        .output()
        .expect("curl (scripts/setup.sh installs it)");
    let body = out.stdout;
    let cut = body.iter().rposition(|&b| b == b'\n').unwrap();
    let status = String::from_utf8_lossy(&body[cut + 1..]).parse().unwrap();
    (status, body[..cut].to_vec())
}

/// A query-string value, percent-encoded.
pub fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// One TCP connection: handshake, the client's bytes, the server's bytes, FINs.
pub fn connection(out: &mut Vec<(i64, Vec<u8>)>, t0: i64, sport: u16, dport: u16, ask: &[u8], answer: &[u8]) {
    connection_answered_after(out, t0, sport, dport, ask, answer, 1_000_000);
}

/// [`connection`], the server's bytes `delay_ns` after the client's (the other
/// packets a millisecond apart).
pub fn connection_answered_after(
    out: &mut Vec<(i64, Vec<u8>)>,
    t0: i64,
    sport: u16,
    dport: u16,
    ask: &[u8],
    answer: &[u8],
    delay_ns: i64,
) {
    let (cli, srv) = ([10, 9, 0, 1], [10, 9, 0, 2]);
    let mut t = t0;
    let mut seg = |from_client: bool, seq: u32, ack: u32, syn: bool, fin: bool, data: &[u8]| {
        let (src, dst, sp, dp) = if from_client { (cli, srv, sport, dport) } else { (srv, cli, dport, sport) };
        let mut b = etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
            .ipv4(src, dst, 64)
            .tcp(sp, dp, seq, 64240);
        if syn {
            b = b.syn();
        }
        if ack != 0 {
            b = b.ack(ack);
        }
        if fin {
            b = b.fin();
        }
        let mut frame = Vec::new();
        b.write(&mut frame, data).unwrap();
        t += if !from_client && !data.is_empty() { delay_ns } else { 1_000_000 };
        out.push((t, frame));
    };
    let (c, s) = (1000u32, 5000u32);
    let (a, b) = (ask.len() as u32, answer.len() as u32);
    seg(true, c, 0, true, false, b"");
    seg(false, s, c + 1, true, false, b"");
    seg(true, c + 1, s + 1, false, false, b"");
    seg(true, c + 1, s + 1, false, false, ask);
    seg(false, s + 1, c + 1 + a, false, false, answer);
    seg(true, c + 1 + a, s + 1 + b, false, true, b"");
    seg(false, s + 1 + b, c + 2 + a, false, true, b"");
    seg(true, c + 2 + a, s + 2 + b, false, false, b"");
}

/// One UDP datagram as an Ethernet frame, with its time.
pub fn udp(t: i64, src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16, payload: &[u8]) -> (i64, Vec<u8>) {
    let mut f = Vec::new();
    etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
        .ipv4(src, dst, 64)
        .udp(sport, dport)
        .write(&mut f, payload)
        .unwrap();
    (t, f)
}

/// Writes Ethernet frames, with their times in nanoseconds, as a classic pcap.
pub fn write_pcap(path: &std::path::Path, frames: &[(i64, Vec<u8>)]) {
    use std::io::Write;
    use tyto_pcapstore::{pcap_file_header, record_header};
    let mut f = std::fs::File::create(path).unwrap();
    f.write_all(&pcap_file_header(1)).unwrap();
    for (t, frame) in frames {
        f.write_all(&record_header(*t, frame.len() as u32, frame.len() as u32)).unwrap();
        f.write_all(frame).unwrap();
    }
}

/// A TLS 1.2 ClientHello naming `name`.
pub fn client_hello(name: &str) -> Vec<u8> {
    let name = name.as_bytes();
    let mut sni = vec![0, 0];
    let list = (name.len() + 3) as u16;
    sni.extend_from_slice(&(list + 2).to_be_bytes());
    sni.extend_from_slice(&list.to_be_bytes());
    sni.push(0);
    sni.extend_from_slice(&(name.len() as u16).to_be_bytes());
    sni.extend_from_slice(name);
    let mut body = vec![3, 3];
    body.extend_from_slice(&[0x11; 32]);
    body.push(0);
    body.extend_from_slice(&[0, 2, 0xc0, 0x2f, 1, 0]);
    body.extend_from_slice(&(sni.len() as u16).to_be_bytes());
    body.extend_from_slice(&sni);
    let mut hs = vec![1];
    hs.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    hs.extend_from_slice(&body);
    let mut rec = vec![22, 3, 1];
    rec.extend_from_slice(&(hs.len() as u16).to_be_bytes());
    rec.extend_from_slice(&hs);
    rec
}

static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Two namespaces, `a` (the sensor's) and `b` (the client's), joined by veth
/// `va`–`vb` with 10.77.0.1/24 and 10.77.0.2/24. Deleted on drop.
pub struct Net {
    pub a: String,
    pub b: String,
}

pub fn ip(args: &[&str]) -> bool {
    std::process::Command::new("ip").args(args).stderr(std::process::Stdio::null()).status().is_ok_and(|s| s.success())
}

pub fn sh_ok(args: &[&str]) {
    let out = std::process::Command::new("ip").args(args).output().expect("ip (iproute2)");
    assert!(out.status.success(), "ip {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr));
}

impl Net {
    pub fn new() -> Option<Net> {
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let tag = format!("tyto{}x{n}", std::process::id());
        let net = Net { a: format!("{tag}a"), b: format!("{tag}b") };
        if !ip(&["netns", "add", &net.a]) {
            eprintln!("skipping: the kernel refuses network namespaces here (`ip netns add` failed; needs root)");
            return None;
        }
        sh_ok(&["netns", "add", &net.b]);
        sh_ok(&["link", "add", "va", "netns", &net.a, "type", "veth", "peer", "name", "vb", "netns", &net.b]);
        for (ns, dev, addr) in [(&net.a, "va", "10.77.0.1/24"), (&net.b, "vb", "10.77.0.2/24")] {
            sh_ok(&["-n", ns, "link", "set", "lo", "up"]);
            sh_ok(&["-n", ns, "addr", "add", addr, "dev", dev]);
            sh_ok(&["-n", ns, "link", "set", dev, "up"]);
        }
        Some(net)
    }

    /// Runs `f` on a thread that lives in namespace `ns` (sockets it opens are there).
    pub fn within<T: Send + 'static>(
        &self,
        ns: &str,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> std::thread::JoinHandle<T> {
        let path = format!("/var/run/netns/{ns}");
        std::thread::spawn(move || {
            let file = std::fs::File::open(&path).unwrap();
            // SAFETY: setns on this thread only, with a namespace file descriptor.
            let rc = unsafe { libc::setns(std::os::fd::AsRawFd::as_raw_fd(&file), libc::CLONE_NEWNET) };
            assert_eq!(rc, 0, "setns {path}: {}", std::io::Error::last_os_error());
            f()
        })
    }

    /// A command run inside namespace `ns`.
    pub fn command(&self, ns: &str, program: &str) -> std::process::Command {
        let mut c = std::process::Command::new("ip");
        c.args(["netns", "exec", ns, program]);
        c
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        ip(&["netns", "del", &self.a]);
        ip(&["netns", "del", &self.b]);
    }
}
