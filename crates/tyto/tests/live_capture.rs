//! Live capture end to end, on a network the test builds itself: two network
//! namespaces joined by a veth pair. `tyto run` captures on
//! one end while the test sends known traffic from the other — HTTP over TCP, DNS
//! over UDP, pings, a VLAN-tagged frame, and UDP the capture filter must keep out — then
//! the sessions, their fields and the exported packets must match what was sent.
//! Also: counters in the API and at /metrics, SIGINT flushing everything, and a
//! kill -9 leaving readable pcap files with a restart carrying on in new ones.
//!
//! Needs root (namespaces); skips, saying so, where the kernel refuses them.

mod common;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{ok, sh_ok, tyto, Net};
use serde_json::Value;

/// A running tyto, killed if the test ends early (a failed assertion).
struct Running(Option<Child>);

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// `tyto run` (or `capture`) in the sensor's namespace; returns once it captures
/// (and, for `run`, serves).
fn start(net: &Net, data: &Path, command: &str, extra: &[&str]) -> (Running, Option<String>) {
    start_with(net, data, command, extra, &[])
}

/// The same with environment variables set for tyto.
fn start_with(
    net: &Net,
    data: &Path,
    command: &str,
    extra: &[&str],
    env: &[(&str, &str)],
) -> (Running, Option<String>) {
    use std::io::{BufRead, BufReader};
    let mut child = net
        .command(&net.a, env!("CARGO_BIN_EXE_tyto"))
        .args([command, "-i", "va", "--node", "live", "--data-dir"])
        .arg(data)
        .args(extra)
        .envs(env.iter().copied())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut url = None;
    let mut capturing = false;
    while !capturing || (command == "run" && url.is_none()) {
        let line = lines.next().expect("tyto ended before capturing").unwrap();
        eprintln!("[tyto] {line}");
        if let Some(u) = line.strip_prefix("tyto: viewer at ") {
            url = Some(u.trim_end_matches('/').to_string());
        }
        capturing |= line.starts_with("tyto: capturing on");
    }
    std::thread::spawn(move || {
        for l in lines.map_while(Result::ok) {
            eprintln!("[tyto] {l}");
        }
    });
    (Running(Some(child)), url)
}

fn signal(child: &Running, sig: &str) {
    // `ip netns exec` runs tyto in place of itself (exec), so the pid is tyto's.
    let pid = child.0.as_ref().expect("running").id();
    assert!(Command::new("kill").args([sig, &pid.to_string()]).status().unwrap().success());
}

const REQUEST: &[u8] = b"GET /live-test HTTP/1.1\r\nHost: live.test\r\nUser-Agent: tyto-live-test\r\n\r\n";
const RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello";
const HTTP_CONNECTIONS: usize = 5;
const PINGS: u16 = 3;

/// A DNS query for `name` (type A), and the answer to it with `addr`.
fn dns(name: &str, id: u16, answer: Option<Ipv4Addr>) -> Vec<u8> {
    let mut m = Vec::new();
    m.extend_from_slice(&id.to_be_bytes());
    m.extend_from_slice(if answer.is_some() { &[0x81, 0x80] } else { &[0x01, 0x00] });
    m.extend_from_slice(&[0, 1, 0, u8::from(answer.is_some()), 0, 0, 0, 0]);
    for label in name.split('.') {
        m.push(label.len() as u8);
        m.extend_from_slice(label.as_bytes());
    }
    m.extend_from_slice(&[0, 0, 1, 0, 1]);
    if let Some(a) = answer {
        m.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4]);
        m.extend_from_slice(&a.octets());
    }
    m
}

/// ICMP echo requests from this thread's namespace (a raw socket; the peer's kernel answers).
fn ping(to: Ipv4Addr, count: u16) {
    // SAFETY: a raw ICMP socket used with valid buffers and addresses.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_RAW, libc::IPPROTO_ICMP);
        assert!(fd >= 0, "raw socket: {}", std::io::Error::last_os_error());
        let mut sa: libc::sockaddr_in = std::mem::zeroed();
        sa.sin_family = libc::AF_INET as u16;
        sa.sin_addr.s_addr = u32::from(to).to_be();
        for seq in 1..=count {
            let mut pkt = vec![8u8, 0, 0, 0, 0x12, 0x34, (seq >> 8) as u8, seq as u8];
            pkt.extend_from_slice(b"tyto-ping-payload");
            let sum = checksum(&pkt);
            pkt[2..4].copy_from_slice(&sum.to_be_bytes());
            let n = libc::sendto(
                fd,
                pkt.as_ptr().cast(),
                pkt.len(),
                0,
                (&sa as *const libc::sockaddr_in).cast(),
                std::mem::size_of::<libc::sockaddr_in>() as u32,
            );
            assert_eq!(n, pkt.len() as isize);
            std::thread::sleep(Duration::from_millis(20));
        }
        libc::close(fd);
    }
}

/// A VLAN 100 tagged UDP frame (10.78.0.2 → 10.78.0.1:7000) sent raw on `dev`: the
/// receiving kernel takes the tag off before any capture sees the frame, so the
/// capture has to put it back. (A raw frame, not a VLAN interface: those need the
/// 802.1Q module, which not every kernel has.)
fn send_tagged(dev: &str, payload: &[u8]) {
    let mut ip = vec![0x45, 0, 0, 0, 0, 1, 0x40, 0, 64, 17, 0, 0, 10, 78, 0, 2, 10, 78, 0, 1];
    let total = (20 + 8 + payload.len()) as u16;
    ip[2..4].copy_from_slice(&total.to_be_bytes());
    let sum = checksum(&ip);
    ip[10..12].copy_from_slice(&sum.to_be_bytes());
    let mut frame = vec![0xff; 6];
    frame.extend_from_slice(&[0x02, 0, 0, 0, 0, 0x0b, 0x81, 0x00, 0x00, 100, 0x08, 0x00]);
    frame.extend_from_slice(&ip);
    frame.extend_from_slice(&40000u16.to_be_bytes());
    frame.extend_from_slice(&7000u16.to_be_bytes());
    frame.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    frame.extend_from_slice(&[0, 0]);
    frame.extend_from_slice(payload);
    // SAFETY: a packet socket bound to one interface, sending one valid buffer.
    unsafe {
        let fd = libc::socket(libc::AF_PACKET, libc::SOCK_RAW, 0);
        assert!(fd >= 0, "packet socket: {}", std::io::Error::last_os_error());
        let name = std::ffi::CString::new(dev).unwrap();
        let mut sll: libc::sockaddr_ll = std::mem::zeroed();
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_ifindex = libc::if_nametoindex(name.as_ptr()) as i32;
        sll.sll_halen = 6;
        let n = libc::sendto(
            fd,
            frame.as_ptr().cast(),
            frame.len(),
            0,
            (&sll as *const libc::sockaddr_ll).cast(),
            std::mem::size_of::<libc::sockaddr_ll>() as u32,
        );
        assert_eq!(n, frame.len() as isize, "{}", std::io::Error::last_os_error());
        libc::close(fd);
    }
}

fn checksum(b: &[u8]) -> u16 {
    let mut sum: u32 = b.chunks(2).map(|c| u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]) as u32).sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Sends the known traffic: servers in `a`, clients in `b`.
fn send_traffic(net: &Net) {
    let servers = net.within(&net.a, || {
        let http = TcpListener::bind("10.77.0.1:8080").unwrap();
        let dns_sock = UdpSocket::bind("10.77.0.1:53").unwrap();
        let filtered = UdpSocket::bind("10.77.0.1:9").unwrap();
        let h = std::thread::spawn(move || {
            for _ in 0..HTTP_CONNECTIONS {
                let (mut s, _) = http.accept().unwrap();
                let mut req = vec![0u8; REQUEST.len()];
                s.read_exact(&mut req).unwrap();
                s.write_all(RESPONSE).unwrap();
            }
        });
        let mut buf = [0u8; 512];
        let (n, from) = dns_sock.recv_from(&mut buf).unwrap();
        let id = u16::from_be_bytes([buf[0], buf[1]]);
        assert_eq!(&buf[..n], &dns("live.example.test", id, None)[..]);
        dns_sock.send_to(&dns("live.example.test", id, Some(Ipv4Addr::new(10, 77, 0, 9))), from).unwrap();
        filtered.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let _ = filtered.recv_from(&mut buf);
        h.join().unwrap();
    });
    std::thread::sleep(Duration::from_millis(300));
    net.within(&net.b, || {
        for _ in 0..HTTP_CONNECTIONS {
            let mut s = TcpStream::connect("10.77.0.1:8080").unwrap();
            s.write_all(REQUEST).unwrap();
            let mut resp = Vec::new();
            s.read_to_end(&mut resp).unwrap();
            assert_eq!(resp, RESPONSE);
        }
        let u = UdpSocket::bind("10.77.0.2:5353").unwrap();
        u.send_to(&dns("live.example.test", 0x4242, None), "10.77.0.1:53").unwrap();
        let mut buf = [0u8; 512];
        u.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        u.recv_from(&mut buf).unwrap();
        send_tagged("vb", b"over vlan 100");
        UdpSocket::bind("10.77.0.2:0").unwrap().send_to(b"kept out by the filter", "10.77.0.1:9").unwrap();
        ping(Ipv4Addr::new(10, 77, 0, 1), PINGS);
    })
    .join()
    .unwrap();
    servers.join().unwrap();
}

fn sessions(data: &Path, expr: &str) -> Vec<Value> {
    let out = ok(tyto()
        .args(["sessions", "--format", "ndjson", "--limit", "10000", "--expr", expr, "--data-dir"])
        .arg(data)
        .output()
        .unwrap());
    String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn num(v: &Value, field: &str) -> u64 {
    v[field].as_u64().unwrap_or_else(|| panic!("{field} in {v}"))
}

/// curl in the sensor's namespace, logged in as `ann`.
fn get(net: &Net, url: &str) -> String {
    let out =
        net.command(&net.a, "curl").args(["-sS", "--fail", "--anyauth", "-u", "ann:ann-secret", url]).output().unwrap();
    assert!(out.status.success(), "{url}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn live_capture_records_what_was_sent() {
    let Some(net) = Net::new() else { return };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    common::add_user(&data, &["ann", "--admin"], "ann-secret");
    let (child, url) = start(&net, &data, "run", &["--listen", "127.0.0.1:0", "--filter", "not udp port 9"]);
    let url = url.expect("tyto run serves the viewer");
    send_traffic(&net);
    // Sessions end by the clock too: rows of closed TCP sessions arrive within the
    // closing wait (5 s) plus a sweep; the rest are written at shutdown.
    std::thread::sleep(Duration::from_millis(1500));

    let stats: Value = serde_json::from_str(&get(&net, &format!("{url}/api/stats"))).unwrap();
    let capture = &stats["capture"];
    let iface = &capture["interfaces"][0];
    assert_eq!(iface["interface"], "va", "{capture}");
    let captured = num(iface, "packets");
    assert!(captured >= (HTTP_CONNECTIONS * 8) as u64, "{capture}");
    assert_eq!(num(iface, "kernel_drops"), 0, "{capture}");
    assert_eq!(num(iface, "queue_drops"), 0, "{capture}");
    let metrics = get(&net, &format!("{url}/metrics"));
    assert!(metrics.contains("# TYPE tyto_capture_packets_total counter"), "{metrics}");
    let line = metrics
        .lines()
        .find(|l| l.starts_with("tyto_capture_packets_total{node=\"live\",interface=\"va\",thread=\"0\"}"))
        .unwrap_or_else(|| panic!("{metrics}"));
    assert!(line.rsplit(' ').next().unwrap().parse::<u64>().unwrap() >= captured);
    assert!(metrics.contains("tyto_worker_sessions_live{node=\"live\",worker=\"0\"}"));

    live_stats_page(&net, &url);

    // A capture file sent to the running sensor goes into the same store, beside the
    // live traffic (one writer: the sensor's own row queue and pcap folder).
    let uploaded = common::pcaps_dir().map(|p| p.join("arkime/imap.pcap"));
    if let Some(file) = &uploaded {
        let out = net
            .command(&net.a, env!("CARGO_BIN_EXE_tyto"))
            .args(["ingest", "--server", &url, "--user", "ann", "--tags", "uploaded"])
            .arg(file)
            .env("TYTO_PASSWORD", "ann-secret")
            .output()
            .unwrap();
        ok(out);
    }

    signal(&child, "-INT");
    let status = wait(child, Duration::from_secs(30));
    assert!(status.success(), "SIGINT ends with status 0, not {status:?}");
    if let Some(file) = &uploaded {
        let dumped = ok(tyto().args(["dump", "--workers", "1"]).arg(file).output().unwrap());
        let expected = String::from_utf8_lossy(&dumped.stdout).lines().count();
        let rows = sessions(&data, "tags == uploaded");
        assert_eq!(rows.len(), expected, "the uploaded file's sessions are stored");
        assert!(rows.iter().all(|r| r["node"] == "live"));
    }

    // HTTP: every connection, with its host, URI, agent, and the bytes each way.
    let http = sessions(&data, "port.dst == 8080 && ip.src == 10.77.0.2");
    assert_eq!(http.len(), HTTP_CONNECTIONS, "{http:?}");
    for s in &http {
        assert_eq!(s["ip.dst"], "10.77.0.1");
        assert_eq!(s["host.http"], serde_json::json!(["live.test"]), "{s}");
        assert_eq!(s["http.uri"], serde_json::json!(["live.test/live-test"]), "{s}");
        assert_eq!(s["http.user-agent"], serde_json::json!(["tyto-live-test"]), "{s}");
        assert_eq!(num(s, "databytes.src"), REQUEST.len() as u64, "{s}");
        assert_eq!(num(s, "databytes.dst"), RESPONSE.len() as u64, "{s}");
        assert!(s["protocols"].as_array().unwrap().contains(&"http".into()), "{s}");
        assert_eq!(s["node"], "live");
    }
    // DNS: the query and its answer.
    let dns_rows = sessions(&data, "host.dns == live.example.test");
    assert_eq!(dns_rows.len(), 1, "{dns_rows:?}");
    assert_eq!(num(&dns_rows[0], "packets"), 2);
    assert_eq!(dns_rows[0]["ip.dns"], serde_json::json!(["10.77.0.9"]), "{}", dns_rows[0]);
    // Pings: each request and its reply.
    let icmp = sessions(&data, "ip.protocol == icmp && ip.dst == 10.77.0.1");
    assert_eq!(icmp.len(), 1, "{icmp:?}");
    assert_eq!(num(&icmp[0], "packets"), 2 * PINGS as u64, "{}", icmp[0]);
    // VLAN: the tag the kernel took off is back in the frame.
    let vlan = sessions(&data, "vlan == 100");
    assert_eq!(vlan.len(), 1, "{vlan:?}");
    assert_eq!(vlan[0]["ip.dst"], "10.78.0.1");
    // The capture filter kept port 9 out.
    assert!(sessions(&data, "port.dst == 9").is_empty());

    // The exported packets hold what was sent.
    let ids: Vec<String> = http.iter().map(|s| s["id"].as_str().unwrap().to_string()).collect();
    let pcap = dir.path().join("http.pcap");
    let mut export = tyto();
    export.args(["export", "-o"]).arg(&pcap).arg("--data-dir").arg(&data).arg("--session").args(&ids);
    ok(export.output().unwrap());
    let bytes = std::fs::read(&pcap).unwrap();
    let found = |needle: &[u8]| bytes.windows(needle.len()).filter(|w| *w == needle).count();
    assert_eq!(found(REQUEST), HTTP_CONNECTIONS);
    assert_eq!(found(RESPONSE), HTTP_CONNECTIONS);
}

/// The Stats page in headless Chromium shows the live counters (when the browser
/// tests are on: TYTO_BROWSER_TESTS=1, as scripts/test.sh sets).
fn live_stats_page(net: &Net, url: &str) {
    if std::env::var("TYTO_BROWSER_TESTS").map_or(true, |v| v != "1") {
        eprintln!("skipping the live Stats page in Chromium (TYTO_BROWSER_TESTS is not 1)");
        return;
    }
    let ui = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../ui");
    let artifacts = std::env::var_os("TYTO_ARTIFACTS")
        .map_or_else(|| std::env::temp_dir().join("tyto-browser-artifacts"), PathBuf::from);
    let out = net
        .command(&net.a, "node")
        .arg(ui.join("tests/live-stats.mjs"))
        .current_dir(&ui)
        .env("TYTO_URL", url)
        .env("TYTO_USER", "ann")
        .env("TYTO_PASSWORD", "ann-secret")
        .env("TYTO_INTERFACE", "va")
        .env("TYTO_ARTIFACTS", &artifacts)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "live Stats page:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("{}", String::from_utf8_lossy(&out.stdout).trim());
}

fn wait(mut running: Running, limit: Duration) -> std::process::ExitStatus {
    let mut child = running.0.take().expect("running");
    let until = Instant::now() + limit;
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        if Instant::now() > until {
            let _ = child.kill();
            panic!("tyto did not stop within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn pcap_files(data: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(data.join("pcap")).unwrap().map(|e| e.unwrap().path()).collect();
    v.sort();
    v
}

#[test]
fn kill_9_leaves_readable_files_and_a_restart_carries_on_in_new_ones() {
    let Some(net) = Net::new() else { return };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (child, _) = start(&net, &data, "capture", &[]);
    send_traffic(&net);
    // Closed TCP sessions wait 5 s for late packets, then within a second their
    // packets are flushed to the files and their rows handed to the store, which
    // commits them within 0.6 s (0.1 s gathering, 0.5 s held).
    std::thread::sleep(Duration::from_millis(8000));
    signal(&child, "-KILL");
    let _ = wait(child, Duration::from_secs(10));
    let before = pcap_files(&data);
    assert!(!before.is_empty());
    let mut packets = 0;
    for f in &before {
        let reader = tyto_capture::FileReader::open(f).unwrap();
        let (summary, error) = reader.for_each_packet(|_| {});
        // At worst the last record is cut short; everything before it reads.
        assert!(matches!(error, None | Some(tyto_capture::ReadError::Truncated { .. })), "{f:?}: {error:?}");
        packets += summary.packets;
    }
    assert!(packets >= (HTTP_CONNECTIONS * 8) as u64, "{packets} packets survived");
    // Rows stored before the kill point at packets that are in the files.
    let stored = sessions(&data, "port.dst == 8080");
    assert!(!stored.is_empty(), "closed TCP sessions were stored");
    let pcap = dir.path().join("after-kill.pcap");
    let mut export = tyto();
    export.args(["export", "-o"]).arg(&pcap).arg("--data-dir").arg(&data).arg("--session");
    export.args(stored.iter().map(|s| s["id"].as_str().unwrap().to_string()));
    ok(export.output().unwrap());

    // The restart stores zstd-compressed files, read back by position as well.
    let config = dir.path().join("zstd.toml");
    std::fs::write(&config, "[pcap]\nzstd_level = 3\n").unwrap();
    let (child, _) = start(&net, &data, "capture", &["--config", config.to_str().unwrap()]);
    net.within(&net.b, || ping(Ipv4Addr::new(10, 77, 0, 1), 2)).join().unwrap();
    std::thread::sleep(Duration::from_millis(500));
    signal(&child, "-TERM");
    assert!(wait(child, Duration::from_secs(30)).success(), "SIGTERM ends with status 0");
    let after = pcap_files(&data);
    let new: Vec<_> = after.iter().filter(|f| !before.contains(f)).collect();
    assert!(!new.is_empty(), "the restart wrote new files");
    let max_old = before.iter().filter_map(|f| tyto_pcapstore::parse_file_id(&f.file_name()?.to_string_lossy())).max();
    for f in &new {
        let id = tyto_pcapstore::parse_file_id(&f.file_name().unwrap().to_string_lossy()).unwrap();
        assert!(Some(id) > max_old, "{f:?} continues the numbering");
    }
    for f in &before {
        assert!(after.contains(f), "{f:?} is kept");
    }
    assert!(new.iter().all(|f| f.to_string_lossy().ends_with(".pcap.zst")), "{new:?}");
    let pings = sessions(&data, "ip.protocol == icmp && packets == 4");
    assert_eq!(pings.len(), 1, "{pings:?}");
    let pcap = dir.path().join("from-zstd.pcap");
    ok(tyto()
        .args(["export", "-o"])
        .arg(&pcap)
        .arg("--data-dir")
        .arg(&data)
        .args(["--session", pings[0]["id"].as_str().unwrap()])
        .output()
        .unwrap());
    let bytes = std::fs::read(&pcap).unwrap();
    assert_eq!(bytes.windows(17).filter(|w| *w == b"tyto-ping-payload").count(), 4);
}

/// A small file system of its own for the data directory (tmpfs), unmounted on drop.
struct SmallDisk(PathBuf);

impl SmallDisk {
    fn mount(at: &Path, mib: u32) -> Option<SmallDisk> {
        std::fs::create_dir_all(at).unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={mib}m"), "tyto-test"])
            .arg(at)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            eprintln!("skipping: cannot mount a tmpfs here (needs root)");
            return None;
        }
        Some(SmallDisk(at.to_path_buf()))
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn retention_deletes_the_oldest_files_and_nothing_else() {
    let Some(net) = Net::new() else { return };
    let dir = tempfile::tempdir().unwrap();
    let Some(disk) = SmallDisk::mount(&dir.path().join("disk"), 48) else { return };
    let data = disk.0.join("data");
    let config = dir.path().join("tyto.toml");
    // Files of 1 MiB, checked every second; keep half the 48 MiB free. Two rings share
    // the interface by flow hash: every flow must still be whole in one session.
    std::fs::write(
        &config,
        "[pcap]\nmax_file_mib = 1\n[retention]\nmin_free_percent = 50.0\ncheck_every_s = 1\n[capture]\nblocks = 16\nthreads_per_interface = 2\n",
    )
    .unwrap();
    let (child, _) = start(&net, &data, "capture", &["--config", config.to_str().unwrap()]);
    const FLOWS: u16 = 40;
    const PER_FLOW: usize = 700; // × 1400 bytes ≈ 1 MiB per flow, 40 MiB in all
    net.within(&net.b, || {
        let payload = [0x5au8; 1400];
        for f in 0..FLOWS {
            let s = UdpSocket::bind(("10.77.0.2", 20000 + f)).unwrap();
            for _ in 0..PER_FLOW {
                s.send_to(&payload, "10.77.0.1:7100").unwrap();
            }
            // About 7 MiB/s: retention (once a second) keeps up on a 48 MiB disk.
            std::thread::sleep(Duration::from_millis(150));
        }
    })
    .join()
    .unwrap();
    std::thread::sleep(Duration::from_millis(2500));
    signal(&child, "-INT");
    assert!(wait(child, Duration::from_secs(30)).success());

    // Oldest first: what is left is the newest files, without a gap.
    let left: Vec<u32> = pcap_files(&data)
        .iter()
        .filter_map(|f| tyto_pcapstore::parse_file_id(&f.file_name()?.to_string_lossy()))
        .collect();
    let newest = *left.iter().max().unwrap();
    assert!(left.len() < newest as usize, "some files were deleted: {left:?}");
    let oldest_left = *left.iter().min().unwrap();
    assert_eq!(left, (oldest_left..=newest).collect::<Vec<_>>(), "the oldest went first, none in between");
    let (free, total) = tyto_pcapstore::disk_space(&data).unwrap();
    assert!(free * 100 / total >= 40, "retention kept about half the disk free: {free} of {total}");
    // Nothing else lost: every session is stored, the store is whole, and a session
    // whose packets went says so on export.
    let rows = sessions(&data, "port.dst == 7100");
    assert_eq!(rows.len(), FLOWS as usize, "every flow's session is stored");
    for r in &rows {
        assert_eq!(num(r, "packets"), PER_FLOW as u64, "{r}");
    }
    let first = rows.iter().min_by_key(|r| num(r, "port.src")).unwrap();
    let out = tyto()
        .args(["export", "-o"])
        .arg(dir.path().join("gone.pcap"))
        .arg("--data-dir")
        .arg(&data)
        .args(["--session", first["id"].as_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("deleted by retention"), "{stderr}");
    let last = rows.iter().max_by_key(|r| num(r, "port.src")).unwrap();
    let pcap = dir.path().join("kept.pcap");
    ok(tyto()
        .args(["export", "-o"])
        .arg(&pcap)
        .arg("--data-dir")
        .arg(&data)
        .args(["--session", last["id"].as_str().unwrap()])
        .output()
        .unwrap());
    assert_eq!(std::fs::metadata(&pcap).unwrap().len(), 24 + PER_FLOW as u64 * (16 + 14 + 20 + 8 + 1400));
}

/// The test network with `10.77.0.H` for each H in `hosts` on the server's side, when
/// nmap is installed to scan it.
fn nmap_targets(hosts: std::ops::Range<u8>) -> Option<Net> {
    if Command::new("nmap").arg("--version").output().is_err() {
        eprintln!("skipping: nmap is not installed (scripts/setup.sh installs it)");
        return None;
    }
    let net = Net::new()?;
    for h in hosts {
        sh_ok(&["-n", &net.a, "addr", "add", &format!("10.77.0.{h}/24"), "dev", "va"]);
    }
    Some(net)
}

/// Lets the capture see the last packets, stops it, and lists the alerts it stored.
fn stop_and_read_alerts(child: Running, data: &Path) -> Vec<Value> {
    std::thread::sleep(Duration::from_millis(1500));
    signal(&child, "-INT");
    assert!(wait(child, Duration::from_secs(60)).success());
    let out = ok(tyto().args(["alerts", "--format", "ndjson", "--data-dir"]).arg(data).output().unwrap());
    String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// nmap (Debian's) from the client's namespace while Tyto captures: a SYN scan, a
/// connect scan and a UDP scan of one host, a ping sweep and a connect sweep of 40
/// addresses, an ARP sweep of 50; then SMB-like conversations with 12 hosts. Each
/// raises its alert with the right source, and each alert's expression finds its
/// evidence sessions.
#[test]
fn nmap_scans_raise_alerts() {
    let Some(net) = nmap_targets(100..140) else { return };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (child, _) = start(&net, &data, "capture", &[]);
    let nmap = |args: &[&str]| {
        let out = net.command(&net.b, "nmap").args(["-n", "-T5", "--max-retries", "0"]).args(args).output().unwrap();
        assert!(out.status.success(), "nmap {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    nmap(&["-sS", "-p", "1-200", "10.77.0.1"]);
    nmap(&["-sT", "-p", "1000-1200", "10.77.0.1"]);
    nmap(&["-sU", "--min-rate", "2000", "-p", "2000-2200", "10.77.0.1"]);
    // --send-ip: on one link nmap would otherwise ping with ARP only.
    nmap(&["-sn", "--send-ip", "10.77.0.100-139"]);
    nmap(&["-sT", "-Pn", "-p", "3389", "10.77.0.100-139"]);
    // Without --send-ip, on its own link, nmap pings with ARP: an ARP sweep.
    nmap(&["-sn", "10.77.0.150-199"]);
    // Lateral movement: SMB-like conversations (data both ways) with 12 hosts.
    let listener = net.within(&net.a, || TcpListener::bind("0.0.0.0:445").unwrap()).join().unwrap();
    let server = std::thread::spawn(move || {
        for conn in listener.incoming().take(12) {
            let mut conn = conn.unwrap();
            let mut request = [0u8; 72];
            conn.read_exact(&mut request).unwrap();
            conn.write_all(&[0u8; 132]).unwrap();
        }
    });
    net.within(&net.b, || {
        for h in 100..112 {
            let mut c = TcpStream::connect((Ipv4Addr::new(10, 77, 0, h), 445)).unwrap();
            c.write_all(&[0u8; 72]).unwrap();
            let mut reply = [0u8; 132];
            c.read_exact(&mut reply).unwrap();
        }
    })
    .join()
    .unwrap();
    server.join().unwrap();
    let alerts = stop_and_read_alerts(child, &data);
    let has = |detector: &str, target: &str| {
        alerts.iter().any(|a| {
            a["detector"] == detector
                && a["source"] == "10.77.0.2"
                && a["targets"].as_array().unwrap().iter().any(|t| t == target)
        })
    };
    let tcp_vertical = alerts
        .iter()
        .filter(|a| a["detector"] == "vertical-scan" && a["message"].as_str().unwrap().contains(" tcp "))
        .count();
    assert!(tcp_vertical >= 1 && has("vertical-scan", "10.77.0.1"), "{alerts:#?}");
    assert!(
        alerts.iter().any(|a| a["detector"] == "vertical-scan" && a["message"].as_str().unwrap().contains(" udp ")),
        "UDP scan: {alerts:#?}"
    );
    assert!(has("horizontal-scan", "icmp"), "ping sweep: {alerts:#?}");
    assert!(has("horizontal-scan", "tcp port 3389"), "connect sweep: {alerts:#?}");
    let lateral = alerts.iter().find(|a| a["detector"] == "lateral-movement").expect("lateral movement");
    assert_eq!(lateral["source"], "10.77.0.2");
    assert_eq!(lateral["targets"].as_array().unwrap().len(), 10, "{lateral}");
    let link = Command::new("ip").args(["-n", &net.b, "-o", "link", "show", "vb"]).output().unwrap();
    let link = String::from_utf8(link.stdout).unwrap();
    let mac = link.split("link/ether ").nth(1).unwrap().split(' ').next().unwrap().to_string();
    let sweep = alerts.iter().find(|a| a["detector"] == "arp-sweep").expect("ARP sweep");
    assert_eq!(sweep["source"], mac.as_str());
    assert!(
        alerts.iter().all(|a| a["source"] == "10.77.0.2" || a["source"] == mac.as_str()),
        "no other source: {alerts:#?}"
    );
    for a in &alerts {
        let expr = a["expression"].as_str().unwrap();
        let out = ok(tyto().args(["count", "--expr", expr, "--data-dir"]).arg(&data).output().unwrap());
        let n: u64 = String::from_utf8(out.stdout).unwrap().trim().parse().unwrap();
        let least = if a["detector"] == "lateral-movement" { 10 } else { 30 };
        assert!(n >= least, "{expr} finds {n} sessions");
    }
}

/// nmap connect-sweeping 20 addresses on three administrative ports (22, 3389,
/// 5985): 20 hosts a port, below the per-port threshold (30), yet one scan alert
/// naming the scanner and the three ports, whose expression finds the 60 probes.
#[test]
fn an_nmap_sweep_over_a_few_ports_raises_a_scan_alert() {
    let Some(net) = nmap_targets(100..120) else { return };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (child, _) = start(&net, &data, "capture", &[]);
    let out = net
        .command(&net.b, "nmap")
        .args(["-n", "-T5", "--max-retries", "0", "-sT", "-Pn", "-p", "22,3389,5985", "10.77.0.100-119"])
        .output()
        .unwrap();
    assert!(out.status.success(), "nmap: {}", String::from_utf8_lossy(&out.stderr));
    let alerts = stop_and_read_alerts(child, &data);
    let sweep: Vec<&Value> = alerts.iter().filter(|a| a["detector"] == "horizontal-scan").collect();
    assert_eq!(sweep.len(), 1, "{alerts:#?}");
    assert_eq!(sweep[0]["source"], "10.77.0.2");
    assert_eq!(sweep[0]["targets"], serde_json::json!(["tcp port 22", "tcp port 3389", "tcp port 5985"]));
    let expr = sweep[0]["expression"].as_str().unwrap();
    let out = ok(tyto().args(["count", "--expr", expr, "--data-dir"]).arg(&data).output().unwrap());
    let n: u64 = String::from_utf8(out.stdout).unwrap().trim().parse().unwrap();
    assert_eq!(n, 60, "{expr}");
}

#[test]
fn a_slow_store_costs_no_packet_and_no_session() {
    let Some(net) = Net::new() else { return };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    common::add_user(&data, &["ann", "--admin"], "ann-secret");
    let config = dir.path().join("tyto.toml");
    // Every write to the store takes half a second more, and only 200 rows wait in
    // memory: the backlog goes to the row spool on disk and comes back in order.
    std::fs::write(&config, "[queue]\nmemory_rows = 200\n[flow]\nudp_timeout_s = 1\n").unwrap();
    let (child, url) = start_with(
        &net,
        &data,
        "run",
        &["--listen", "127.0.0.1:0", "--config", config.to_str().unwrap()],
        &[("TYTO_TEST_STORE_DELAY_MS", "500")],
    );
    let url = url.expect("tyto run serves the viewer");
    const FLOWS: u16 = 3000;
    let started = Instant::now();
    net.within(&net.b, || {
        // 3,000 sessions (one datagram each, from as many ports) in about three seconds.
        for f in 0..FLOWS {
            let s = UdpSocket::bind(("10.77.0.2", 30000 + f)).unwrap();
            s.send_to(b"one datagram, one session", "10.77.0.1:7200").unwrap();
            if f % 100 == 99 {
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    })
    .join()
    .unwrap();
    let sent = started.elapsed();
    // Sessions close after a second idle: the store, slowed down, is now behind.
    std::thread::sleep(Duration::from_millis(2500));
    let stats: Value = serde_json::from_str(&get(&net, &format!("{url}/api/stats"))).unwrap();
    eprintln!("queue while the store is slow: {}", stats["queue"]);
    assert!(num(&stats["queue"], "spooled_rows") + num(&stats["queue"], "replayed_rows") > 0, "{stats}");
    let iface = &stats["capture"]["interfaces"][0];
    assert_eq!(num(iface, "kernel_drops"), 0, "{iface}");
    assert_eq!(num(iface, "queue_drops"), 0, "{iface}");
    let metrics = get(&net, &format!("{url}/metrics"));
    assert!(metrics.contains("tyto_store_queue_waiting_rows "), "{metrics}");
    signal(&child, "-INT");
    assert!(wait(child, Duration::from_secs(60)).success());
    let rows = sessions(&data, "ip.src == 10.77.0.2 && port.dst == 7200");
    let ids: std::collections::BTreeSet<&str> = rows.iter().map(|r| r["id"].as_str().unwrap()).collect();
    let ports: std::collections::BTreeSet<u64> = rows.iter().map(|r| num(r, "port.src")).collect();
    eprintln!("{FLOWS} sessions sent in {sent:?}, {} stored, {} distinct", rows.len(), ids.len());
    assert_eq!(ports.len(), FLOWS as usize, "every session stored");
    assert_eq!(rows.len(), FLOWS as usize, "and stored once");
    assert_eq!(ids.len(), rows.len());
    assert!(std::fs::read_dir(data.join("spool").join("rows")).unwrap().next().is_none(), "the spool is empty");
}

/// Polls `check` on the viewer's JSON at `path` until it holds (or 20 s pass).
fn wait_for(net: &Net, url: &str, path: &str, check: impl Fn(&Value) -> bool) -> Value {
    let until = Instant::now() + Duration::from_secs(20);
    loop {
        let v: Value = serde_json::from_str(&get(net, &format!("{url}{path}"))).unwrap();
        if check(&v) {
            return v;
        }
        assert!(Instant::now() < until, "{path} never became what was awaited: {v}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn an_indicator_file_changed_during_a_run_takes_effect_without_restart() {
    let Some(net) = Net::new() else { return };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    common::add_user(&data, &["ann", "--admin"], "ann-secret");
    let feed = dir.path().join("feed.txt");
    std::fs::write(&feed, "first.intel.test\n").unwrap();
    let config = dir.path().join("tyto.toml");
    std::fs::write(
        &config,
        format!(
            "[flow]\nudp_timeout_s = 1\n[intel]\nreload_every_s = 1\n[[intel.source]]\nname = \"feed\"\npath = \"{}\"\n",
            feed.display()
        ),
    )
    .unwrap();
    let (child, url) = start(&net, &data, "run", &["--listen", "127.0.0.1:0", "--config", config.to_str().unwrap()]);
    let url = url.expect("tyto run serves the viewer");
    // A DNS query for each name, each from a port of its own: a session each.
    let ask = |queries: &'static [(&'static str, u16)]| {
        net.within(&net.b, move || {
            for (name, port) in queries {
                let u = UdpSocket::bind(("10.77.0.2", *port)).unwrap();
                u.send_to(&dns(name, *port, None), "10.77.0.1:53").unwrap();
            }
        })
        .join()
        .unwrap();
    };
    let written = |ports: &str, n: u64| {
        let path =
            format!("/api/sessions?date=-1&length=10&expression={}", common::enc(&format!("port.src == [{ports}]")));
        wait_for(&net, &url, &path, move |v| v["recordsFiltered"] == n);
    };

    ask(&[("first.intel.test", 31001), ("second.intel.test", 31002)]);
    written("31001,31002", 2);
    let stats = wait_for(&net, &url, "/api/stats", |v| v["intel"]["matched_sessions"] == 1);
    assert_eq!(stats["intel"]["sources"][0]["indicators"], 1, "{}", stats["intel"]);

    std::fs::write(&feed, "# changed while running\nsecond.intel.test\n").unwrap();
    wait_for(&net, &url, "/api/stats", |v| v["intel"]["reloads"] == 1);
    let metrics = get(&net, &format!("{url}/metrics"));
    assert!(metrics.contains("tyto_intel_indicators{source=\"feed\"} 1"), "{metrics}");
    ask(&[("first.intel.test", 31003), ("second.intel.test", 31004)]);
    written("31003,31004", 2);

    let alerts = stop_and_read_alerts(child, &data);
    let ports = |expr: &str| -> Vec<u64> {
        let mut v: Vec<u64> = sessions(&data, expr).iter().map(|r| num(r, "port.src")).collect();
        v.sort();
        v
    };
    assert_eq!(ports("intel == \"feed:first.intel.test\""), [31001]);
    assert_eq!(ports("intel == \"feed:second.intel.test\""), [31004]);
    assert_eq!(ports("port.src == [31001,31002,31003,31004] && intel.source != feed"), [31002, 31003]);
    let intel: Vec<&Value> = alerts.iter().filter(|a| a["detector"] == "intel").collect();
    assert_eq!(intel.len(), 2, "{alerts:?}");
}
