//! Tyto's capture-filter compiler against libpcap's, on real captures: for each filter
//! and each Ethernet capture, the packets our program keeps must be exactly those
//! `tcpdump -r FILE -w - FILTER` keeps. Skips, saying so, without tcpdump (installed
//! by scripts/setup.sh) or without the shared captures.

use std::path::{Path, PathBuf};
use std::process::Command;

use tyto_capture::filter::compile;
use tyto_capture::FileReader;
use tyto_packet::LinkType;

const FILTERS: &[&str] = &[
    "tcp",
    "udp",
    "icmp",
    "ip6",
    "arp",
    "not port 80",
    "port 53 or port 443",
    "tcp dst port 80",
    "udp src port 53",
    "portrange 1-1023",
    "tcp portrange 8000-9000",
    "net 10.0.0.0/8",
    "src net 192.168",
    "dst net 172.16.0.0 mask 255.240.0.0",
    "ip and not net 10.0.0.0/8",
    "ip6 and tcp",
    "icmp6",
    "ip proto 17",
    "ip6 proto 17",
    "less 100",
    "greater 1000",
    "ether broadcast",
    "ether multicast",
    "(tcp or udp) and not (port 53 or port 80 or port 443)",
    "udp and (port 67 or 68)",
    "!tcp && !udp",
];

fn pcaps() -> Option<PathBuf> {
    let dir = std::env::var_os("TYTO_PCAPS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/pcaps"));
    dir.is_dir().then_some(dir)
}

/// The captures to compare on: Ethernet, classic pcap, a spread of protocols.
fn captures(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for sub in ["arkime", "ndpi"] {
        let Ok(entries) = std::fs::read_dir(dir.join(sub)) else { continue };
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "pcap"))
            .filter(|p| std::fs::metadata(p).is_ok_and(|m| m.len() < 2 << 20))
            .collect();
        files.sort();
        out.extend(files.into_iter().step_by(4));
    }
    out.retain(|p| {
        let mut ethernet = true;
        let (_, err) = FileReader::open(p).unwrap().for_each_packet(|pkt| ethernet &= pkt.link == LinkType::ETHERNET);
        ethernet && err.is_none()
    });
    out
}

/// (timestamp, captured length) of each packet kept.
fn kept_by_tcpdump(file: &Path, filter: &str, scratch: &Path) -> Vec<(i64, usize)> {
    let out = Command::new("tcpdump").arg("-r").arg(file).arg("-w").arg(scratch).arg(filter).output().unwrap();
    assert!(out.status.success(), "tcpdump {filter}: {}", String::from_utf8_lossy(&out.stderr));
    let mut kept = Vec::new();
    let (_, err) = FileReader::open(scratch).unwrap().for_each_packet(|p| kept.push((p.ts_ns / 1000, p.data.len())));
    assert!(err.is_none(), "{err:?}");
    kept
}

#[test]
fn filters_keep_what_tcpdump_keeps() {
    if Command::new("tcpdump").arg("--version").output().is_err() {
        eprintln!("skipping: tcpdump is not installed (scripts/setup.sh installs it)");
        return;
    }
    let Some(dir) = pcaps() else {
        eprintln!("skipping: no shared captures");
        return;
    };
    let files = captures(&dir);
    assert!(files.len() >= 20, "{} captures", files.len());
    let scratch = tempfile::tempdir().unwrap();
    let out = scratch.path().join("kept.pcap");
    let mut compared = 0u64;
    for filter in FILTERS {
        let program = compile(filter, 262_144).unwrap();
        for file in &files {
            let mut ours = Vec::new();
            let (_, _) = FileReader::open(file).unwrap().for_each_packet(|p| {
                if program.run(p.data, p.wire_len) > 0 {
                    ours.push((p.ts_ns / 1000, p.data.len()));
                }
            });
            let theirs = kept_by_tcpdump(file, filter, &out);
            assert_eq!(ours.len(), theirs.len(), "{filter:?} on {}", file.display());
            assert_eq!(ours, theirs, "{filter:?} on {}", file.display());
            compared += 1;
        }
    }
    eprintln!("{compared} filter × capture pairs agree with tcpdump ({} captures)", files.len());
}
