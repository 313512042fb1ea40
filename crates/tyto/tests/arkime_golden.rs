//! Sessions against Arkime's golden output: for every capture of the Arkime suite,
//! the number of sessions and each session's per-direction packets, bytes and
//! payload bytes must equal Arkime's. Captures where Tyto deliberately differs are
//! listed below with the reason; the test fails on any other difference, and on a
//! listed capture that now matches (so the list stays true).

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;
use tyto_flow::FlowConfig;
use tyto_schema::SessionRecord;

/// Captures whose sessions differ from Arkime's, and why.
const KNOWN_DIFFERENCES: &[(&str, &str)] = &[
    (
        "arkime_synthetic",
        "some 80 protocols in one capture; Arkime keys several by protocol-specific rules \
        (4in6 kept as the outer packet, SCTP and ICMP variants, empty continuation rows) that Tyto does not copy",
    ),
    (
        "bacnet-stack-services",
        "Arkime splits 802.3 (LLC) frames of one MAC pair into several 'corrupt-ether' \
        sessions on its wall-clock timeouts; Tyto keys them by MAC pair and length field, without timeouts here",
    ),
    (
        "cloudshark-bgp-md5",
        "the BGP session's rows end where Arkime's do (at its first packet after five quiet seconds) \
        with the same packets, but Arkime counts that keepalive's 19 bytes in the next row (it counts a \
        TCP segment's data once it is acknowledged), Tyto in the row of the packet that carried them",
    ),
    (
        "nbns",
        "Arkime counts Ethernet padding as ICMP payload and splits one UDP 137 flow in two on its \
        wall-clock timeout; Tyto counts the IP payload and keeps the flow whole",
    ),
    (
        "single-packets",
        "for a lone mid-stream packet from port 80 Arkime names the receiver as source yet counts \
        the packet as the source's; Tyto names the sender",
    ),
    (
        "vxlan",
        "two VXLAN packets whose inner frame is not IP: Arkime makes a port-less UDP session of them, \
        Tyto keeps them as the outer UDP flows they are",
    ),
    (
        "y2038-bgp",
        "one packet is stamped in 2038: Arkime cuts the row before it, Tyto after it (rows are cut \
        once they pass their age, with the packet that passed it)",
    ),
];

/// One session as both sides describe it.
type Summary = (u8, String, u16, String, u16, u64, u64, u64, u64, u64, u64);

fn golden(path: &Path) -> Option<Vec<Summary>> {
    let text = std::fs::read_to_string(path).ok()?;
    let v: Value = serde_json::from_str(&text).ok()?;
    let mut out = Vec::new();
    for s in v.get("sessions3")?.as_array()? {
        let b = &s["body"];
        let n = |v: &Value| v.as_u64().unwrap_or(0);
        let ip = |v: &Value| v.as_str().unwrap_or("").to_string();
        let port = |v: &Value| v.as_u64().unwrap_or(0) as u16;
        let proto = b["ipProtocol"].as_u64().unwrap_or(0) as u8;
        let (src, dst) = (&b["source"], &b["destination"]);
        let (srcip, dstip) = if proto == 0 { (String::new(), String::new()) } else { (ip(&src["ip"]), ip(&dst["ip"])) };
        out.push((
            proto,
            srcip,
            port(&src["port"]),
            dstip,
            port(&dst["port"]),
            n(&src["packets"]),
            n(&dst["packets"]),
            n(&src["bytes"]),
            n(&dst["bytes"]),
            n(&b["client"]["bytes"]),
            n(&b["server"]["bytes"]),
        ));
    }
    out.sort();
    Some(out)
}

fn ours(rows: &[SessionRecord]) -> Vec<Summary> {
    let mut out: Vec<Summary> = rows
        .iter()
        .map(|r| {
            let ip = |a: Option<tyto_packet::Addr>| a.map(|a| a.to_string()).unwrap_or_default();
            (
                r.ip_protocol,
                if r.ip_protocol == 0 { String::new() } else { ip(r.src_ip) },
                r.src_port,
                if r.ip_protocol == 0 { String::new() } else { ip(r.dst_ip) },
                r.dst_port,
                r.src.packets,
                r.dst.packets,
                r.src.bytes,
                r.dst.bytes,
                r.src.databytes,
                r.dst.databytes,
            )
        })
        .collect();
    out.sort();
    out
}

/// Arkime's regression run reads each capture in a moment of wall-clock time, and
/// there its idle timeouts never fire (a UDP flow silent for 71 s stays one session in
/// `dns-wiresharkrepo`); Tyto's timeouts run on packet time, so the comparison sets
/// them past any gap in the suite. TCP rows are cut at 480 s, Arkime's `tcpSaveTimeout`
/// (which applies to TCP only).
fn arkime_test_config() -> FlowConfig {
    const NEVER: u32 = 100 * 365 * 86_400;
    FlowConfig {
        tcp_idle_s: NEVER,
        udp_idle_s: NEVER,
        icmp_idle_s: NEVER,
        other_idle_s: NEVER,
        tcp_closing_s: NEVER,
        max_row_age_s: 480,
        max_row_age_other_s: NEVER,
        ..FlowConfig::default()
    }
}

#[test]
fn sessions_match_arkime_on_its_capture_suite() {
    let Some(dir) = common::pcaps_dir() else {
        return;
    };
    let dir = dir.join("arkime");
    let mut captures: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "pcap") && p.with_extension("test").exists())
        .collect();
    captures.sort();
    assert!(captures.len() > 100, "the Arkime suite is incomplete: {}", captures.len());
    // With the dissectors, as `tyto ingest` runs: some rows end where a protocol
    // says (a BGP session's pauses).
    let mut cfg = common::config(1, arkime_test_config());
    cfg.analyzers = std::sync::Arc::new(tyto_dissect::Dissectors::default());
    let mut differ: BTreeMap<String, String> = BTreeMap::new();
    for pcap in &captures {
        let name = pcap.file_stem().unwrap().to_string_lossy().to_string();
        let Some(want) = golden(&pcap.with_extension("test")) else {
            continue;
        };
        let (_, rows) = common::run(std::slice::from_ref(pcap), &cfg);
        let got = ours(&rows);
        if got != want {
            let missing: Vec<_> = want.iter().filter(|w| !got.contains(w)).take(3).collect();
            let extra: Vec<_> = got.iter().filter(|g| !want.contains(g)).take(3).collect();
            differ.insert(
                name,
                format!(
                    "{} sessions vs Arkime's {}; Arkime has {missing:?}; Tyto has {extra:?}",
                    got.len(),
                    want.len()
                ),
            );
        }
    }
    let matched = captures.len() - differ.len();
    let ratio = matched as f64 / captures.len() as f64;
    eprintln!("{matched}/{} captures match Arkime ({:.1}%)", captures.len(), ratio * 100.0);
    let mut unexplained = Vec::new();
    for (name, why) in &differ {
        match KNOWN_DIFFERENCES.iter().find(|(n, _)| n == name) {
            Some((_, reason)) => eprintln!("  known: {name}: {reason}"),
            None => unexplained.push(format!("{name}: {why}")),
        }
    }
    let now_matching: Vec<_> =
        KNOWN_DIFFERENCES.iter().filter(|(n, _)| !differ.contains_key(*n)).map(|(n, _)| *n).collect();
    assert!(unexplained.is_empty(), "unexplained differences from Arkime:\n{}", unexplained.join("\n"));
    assert!(now_matching.is_empty(), "listed as different but now matching: {now_matching:?}");
    assert!(ratio >= 0.95, "only {:.1}% of captures match Arkime", ratio * 100.0);
}

/// A DHCP client's exchange is one session, keyed by its hardware address as Arkime
/// keys it: in Arkime's synthetic capture (tshark: frames 401 and 402, DHCP id
/// 0x12345678, client 00:11:22:33:44:55) the DISCOVER from 0.0.0.0:68 to the
/// broadcast address and the OFFER from 192.168.1.1:67 to the address offered. Frame
/// 223, a BOOTP message of 254 bytes (below the 256 Arkime's key asks for), stays a
/// session of its addresses. Through `tyto dump`, with the dissectors.
#[test]
fn a_dhcp_exchange_is_one_session_per_client() {
    let Some(dir) = common::pcaps_dir() else {
        return;
    };
    let pcap = dir.join("arkime/arkime_synthetic.pcap");
    let out = common::ok(common::tyto().args(["dump", "--workers", "1"]).arg(&pcap).output().unwrap());
    let rows: Vec<Value> =
        String::from_utf8_lossy(&out.stdout).lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    let dhcp: Vec<&Value> =
        rows.iter().filter(|r| r["protocols"].as_array().unwrap().contains(&"dhcp".into())).collect();
    let exchange: Vec<&&Value> = dhcp.iter().filter(|r| r["dhcp.id"][0] == "12345678").collect();
    assert_eq!(exchange.len(), 2, "{exchange:#?}");
    let whole = exchange.iter().find(|r| r["dhcp.mac"][0] == "00:11:22:33:44:55").expect("the client's exchange");
    let ends = |r: &Value| (r["ip.src"].clone(), r["port.src"].clone(), r["ip.dst"].clone(), r["port.dst"].clone());
    assert_eq!(ends(whole), ("0.0.0.0".into(), 68.into(), "255.255.255.255".into(), 67.into()));
    assert_eq!((&whole["packets.src"], &whole["packets.dst"]), (&1.into(), &1.into()), "the OFFER is the server's");
    assert_eq!(whole["dhcp.type"], serde_json::json!(["DISCOVER", "OFFER"]));
    let short = exchange.iter().find(|r| r["dhcp.mac"][0] == "00:00:00:00:aa:bb").expect("the short message");
    assert_eq!(short["packets"], 1, "the 254-byte message is a session of its own");
}
