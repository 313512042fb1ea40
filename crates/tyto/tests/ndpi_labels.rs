//! Classification against nDPI's labels for its own regression captures
//! (`../shared/pcaps/ndpi/`): of the flows nDPI decided from the payload
//! (`Confidence: DPI`), the share whose protocol Tyto's `protocols` carries, per
//! protocol, per capture and overall, with the confusions. Fails if all flows
//! together fall below 90%, or a protocol Tyto dissects below its floor (raise the
//! floors as dissectors improve).

mod common;

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;

/// nDPI's master protocol names to Tyto's `protocols` values.
const ALIASES: &[(&str, &str)] = &[
    ("HTTP", "http"),
    ("TLS", "tls"),
    ("DNS", "dns"),
    ("SSH", "ssh"),
    ("QUIC", "quic"),
    ("DTLS", "dtls"),
    ("SOCKS", "socks"),
    ("SMTP", "smtp"),
    ("IMAP", "imap"),
    ("POP3", "pop3"),
    ("FTP_CONTROL", "ftp"),
    ("MySQL", "mysql"),
    ("MDNS", "mdns"),
    ("LLMNR", "llmnr"),
    ("NetBIOS", "nbns"),
    ("STUN", "stun"),
    ("NTP", "ntp"),
    ("SNMP", "snmp"),
    ("Syslog", "syslog"),
    ("SIP", "sip"),
    ("DHCP", "dhcp"),
    ("SSDP", "ssdp"),
    ("DNScrypt", "dnscrypt"),
    ("BitTorrent", "bittorrent"),
    ("Kerberos", "krb5"),
    ("IPSec", "isakmp"),
    ("Gnutella", "gnutella"),
    // SMB over NetBIOS sessions: nDPI's master is NetBIOS, ours names SMB.
    ("NetBIOS", "smb"),
    ("SMBv1", "smb"),
    ("SMBv23", "smb"),
    ("LDAP", "ldap"),
    ("DCERPC", "dcerpc"),
    ("RDP", "rdp"),
    ("MsSQL-TDS", "tds"),
    ("PostgreSQL", "postgresql"),
    ("Oracle", "oracle"),
    ("MQTT", "mqtt"),
    ("Modbus", "modbus"),
    ("DNP3", "dnp3"),
    ("IRC", "irc"),
    ("TFTP", "tftp"),
    ("BGP", "bgp"),
    ("Radius", "radius"),
    ("Zabbix", "zabbix"),
    ("FIX", "fix"),
    ("Jabber", "xmpp"),
    ("RTSP", "rtsp"),
    ("BITCOIN", "bitcoin"),
    ("Redis", "redis"),
    ("MongoDB", "mongodb"),
    ("Telnet", "telnet"),
    ("VNC", "vnc"),
    ("OpenVPN", "openvpn"),
    ("WireGuard", "wireguard"),
    ("DHCPV6", "dhcpv6"),
    ("HTTP2", "http2"),
    ("ETHEREUM", "ethereum"),
    ("Discord", "discord"),
    ("SD-RTN", "sd-rtn"),
    ("AliCloud", "alicloud"),
    ("NFS", "nfs"),
    ("WhatsApp", "whatsapp"),
    ("Dropbox", "dropbox"),
    ("OPC-UA", "opcua"),
    ("S7CommPlus", "s7comm-plus"),
    ("IEC60870", "iec104"),
    ("Teredo", "teredo"),
    ("RTP", "rtp"),
    ("RTCP", "rtcp"),
    ("FTP_DATA", "ftp-data"),
    // Media on an ICE (STUN) flow: encrypted RTP.
    ("SRTP", "srtp"),
    // TLS on IMAP's port: nDPI names the service, Tyto the TLS it reads.
    ("IMAPS", "tls"),
    // HTTP sent to a proxy is HTTP.
    ("HTTP_Proxy", "http"),
    // Nest's log sink speaks Weave.
    ("NestLogSink", "weave"),
    ("AVAST", "avast"),
    ("HP_VIRTGRP", "hpvirtgrp"),
    ("Monero", "monero"),
    ("Xiaomi", "xiaomi"),
    ("Viber", "viber"),
    ("GenshinImpact", "genshin"),
    ("Nintendo", "nintendo"),
    ("Telegram", "telegram"),
    ("CryNetwork", "crynet"),
    ("RiotGames", "riotgames"),
    ("EAQ", "eaq"),
    ("H323", "h323"),
    ("EthernetIP", "enip"),
    ("HiSLIP", "hislip"),
    ("IEEE-C37118", "c37118"),
    ("CiscoSkinny", "skinny"),
    ("MGCP", "mgcp"),
    ("Cassandra", "cassandra"),
    ("AMQP", "amqp"),
    ("Nats", "nats"),
    ("Munin", "munin"),
    ("AJP", "ajp"),
    ("RSH", "rsh"),
    ("COAP", "coap"),
    ("CAPWAP", "capwap"),
    ("LISP", "lisp"),
    ("FINS", "fins"),
    ("HART-IP", "hart-ip"),
    ("PTPv2", "ptp"),
    ("RTMP", "rtmp"),
];

type Key = (String, String, u64, String, u64);

/// `192.168.1.2:80` or `[2001:db8::1]:443`. Addresses are rewritten in the standard
/// text form Tyto writes (RFC 5952): nDPI compresses a single zero group too
/// (`b00c::3` for `b00c:0:3`).
fn endpoint(s: &str) -> Option<(String, u64)> {
    let (ip, port) = s.rsplit_once(':')?;
    let ip = ip.trim_start_matches('[').trim_end_matches(']');
    let ip = ip.parse::<std::net::IpAddr>().map_or_else(|_| ip.to_string(), |a| a.to_string());
    Some((ip, port.parse().ok()?))
}

/// (transport, endpoints, nDPI master protocol) of each flow nDPI decided by payload.
fn labels(out: &str) -> Vec<(Key, String)> {
    let mut v = Vec::new();
    for line in out.lines() {
        if !line.contains("[Confidence: DPI]") {
            continue;
        }
        let mut words = line.split_whitespace().skip(1);
        let (Some(proto), Some(a), Some("<->"), Some(b)) = (words.next(), words.next(), words.next(), words.next())
        else {
            continue;
        };
        let (Some(a), Some(b)) = (endpoint(a), endpoint(b)) else { continue };
        let Some(label) = line.split("[proto: ").nth(1).and_then(|r| r.split(']').next()) else { continue };
        // `7.295/HTTP.1kxun`, `VXLAN:91.119/TLS.Facebook`: the master follows the '/'.
        let master = label.rsplit('/').next().unwrap_or("").split('.').next().unwrap_or("").to_string();
        v.push(((proto.to_lowercase(), a.0, a.1, b.0, b.1), master));
    }
    v
}

#[test]
fn protocols_agree_with_ndpi_where_ndpi_read_the_payload() {
    let Some(dir) = common::pcaps_dir().map(|d| d.join("ndpi")) else { return };
    let mut outs: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".pcap.out"))
        .collect();
    outs.sort();
    // per nDPI protocol: (flows, found by Tyto); and what Tyto said instead.
    let mut tally: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut confusion: BTreeMap<(String, String), usize> = BTreeMap::new();
    // per capture: (flows, found by Tyto).
    let mut captures: Vec<(String, usize, usize)> = Vec::new();
    for out in outs {
        let pcap = out.with_extension("");
        let Ok(text) = std::fs::read(&out) else { continue };
        let flows = labels(&String::from_utf8_lossy(&text));
        if flows.is_empty() || !pcap.exists() {
            continue;
        }
        let dump = common::tyto().args(["dump", "--workers", "1"]).arg(&pcap).output().unwrap();
        let mut ours: HashMap<Key, Vec<String>> = HashMap::new();
        for line in String::from_utf8_lossy(&dump.stdout).lines() {
            let Ok(r) = serde_json::from_str::<Value>(line) else { continue };
            // Tor is named from relay certificates only: never outside the Tor capture.
            if r["protocols"].as_array().is_some_and(|p| p.iter().any(|p| p == "tor")) {
                assert!(pcap.ends_with("tor.pcap"), "tor in {}: {r}", pcap.display());
            }
            let t = match r["ip.protocol"].as_i64() {
                Some(6) => "tcp",
                Some(17) => "udp",
                _ => continue,
            };
            let s = |f: &str| r[f].as_str().unwrap_or("").to_string();
            let n = |f: &str| r[f].as_u64().unwrap_or(0);
            let protos: Vec<String> =
                r["protocols"].as_array().into_iter().flatten().filter_map(|p| p.as_str().map(String::from)).collect();
            for k in [
                (t.to_string(), s("ip.src"), n("port.src"), s("ip.dst"), n("port.dst")),
                (t.to_string(), s("ip.dst"), n("port.dst"), s("ip.src"), n("port.src")),
            ] {
                ours.entry(k).or_default().extend(protos.iter().cloned());
            }
        }
        let name = pcap.file_name().unwrap_or_default().to_string_lossy().to_string();
        captures.push((name, flows.len(), 0));
        for (key, master) in flows {
            let t = tally.entry(master.clone()).or_default();
            t.0 += 1;
            let got = ours.get(&key).cloned().unwrap_or_default();
            let mut wants = ALIASES.iter().filter(|(n, _)| *n == master).map(|(_, ours)| *ours);
            if wants.any(|w| got.iter().any(|g| g == w)) {
                t.1 += 1;
                if let Some(c) = captures.last_mut() {
                    c.2 += 1;
                }
            } else {
                let said = got.iter().find(|g| !matches!(g.as_str(), "tcp" | "udp")).cloned().unwrap_or("-".into());
                // `TYTO_SHOW_MISSES=TLS` lists the flows of one protocol Tyto missed.
                if std::env::var("TYTO_SHOW_MISSES").is_ok_and(|p| p == master) {
                    eprintln!("missed {master}: {} {key:?} (Tyto: {got:?})", pcap.display());
                }
                *confusion.entry((master, said)).or_default() += 1;
            }
        }
    }
    let total: usize = tally.values().map(|t| t.0).sum();
    let found: usize = tally.values().map(|t| t.1).sum();
    let share = |ok: usize, n: usize| 100.0 * ok as f64 / n.max(1) as f64;
    // Captures where Tyto missed a flow, then every protocol, largest first.
    for (name, n, ok) in captures.iter().filter(|(_, n, ok)| ok < n) {
        eprintln!("capture {name}: {ok}/{n} {:.1}%", share(*ok, *n));
    }
    let mut rows: Vec<_> = tally.iter().collect();
    rows.sort_by_key(|(name, t)| (std::cmp::Reverse(t.0), name.to_string()));
    for (name, (n, ok)) in rows {
        eprintln!("{name:>28}: {ok:>5}/{n:<5} {:5.1}%", share(*ok, *n));
    }
    let mut conf: Vec<_> = confusion.iter().filter(|((m, _), _)| ALIASES.iter().any(|(n, _)| n == m)).collect();
    conf.sort_by_key(|(_, n)| std::cmp::Reverse(**n));
    for ((m, said), n) in conf.iter() {
        eprintln!("confused: nDPI {m}, Tyto {said}: {n}");
    }
    eprintln!("all DPI flows: {found}/{total} ({:.1}%)", 100.0 * found as f64 / total.max(1) as f64);
    assert!(found as f64 >= 0.9 * total as f64, "{found}/{total} below 90%");
    // Floors as measured when each dissector landed.
    for (name, floor) in [
        ("HTTP", 0.95),
        ("TLS", 0.97),
        ("DNS", 0.95),
        ("SSH", 1.0),
        ("QUIC", 0.85),
        ("DTLS", 0.95),
        ("SNMP", 0.95),
        ("NTP", 0.95),
        ("SIP", 0.8),
        ("STUN", 0.9),
        ("POP3", 0.95),
        ("DNScrypt", 0.9),
        ("Kerberos", 0.95),
        ("IPSec", 0.95),
        ("BitTorrent", 0.95),
        ("Gnutella", 1.0),
        ("Zabbix", 0.95),
        ("DNP3", 0.95),
        ("RTSP", 0.95),
        ("BITCOIN", 0.95),
        ("FIX", 0.6),
        ("Jabber", 0.45),
        ("ETHEREUM", 0.95),
        ("Discord", 0.95),
        ("OpenVPN", 0.7),
        ("SD-RTN", 0.95),
        ("AliCloud", 0.95),
        ("NFS", 0.6),
        ("WhatsApp", 0.95),
        ("HTTP_Proxy", 0.95),
        ("OPC-UA", 1.0),
        ("S7CommPlus", 1.0),
        ("IEC60870", 1.0),
        ("Teredo", 1.0),
        ("RTP", 1.0),
        ("RTCP", 1.0),
        ("FTP_DATA", 1.0),
        ("SRTP", 1.0),
        ("IMAPS", 0.95),
        ("NestLogSink", 1.0),
        ("Telegram", 1.0),
        ("AVAST", 1.0),
        ("HP_VIRTGRP", 1.0),
        ("EAQ", 1.0),
        ("CryNetwork", 1.0),
        ("RiotGames", 1.0),
        ("GenshinImpact", 1.0),
        ("Nintendo", 1.0),
        ("Viber", 0.6),
        ("Xiaomi", 1.0),
        ("Monero", 1.0),
        ("H323", 0.8),
        ("EthernetIP", 1.0),
        ("HiSLIP", 1.0),
        ("IEEE-C37118", 1.0),
        ("CiscoSkinny", 1.0),
        ("MGCP", 1.0),
        ("Cassandra", 1.0),
        ("AMQP", 1.0),
        ("Nats", 1.0),
        ("Munin", 1.0),
        ("AJP", 1.0),
        ("RSH", 1.0),
        ("COAP", 1.0),
        ("CAPWAP", 1.0),
        ("LISP", 1.0),
        ("FINS", 1.0),
        ("HART-IP", 1.0),
        ("PTPv2", 1.0),
        ("RTMP", 1.0),
    ] {
        let (n, ok) = tally.get(name).copied().unwrap_or((0, 0));
        let share = ok as f64 / n.max(1) as f64;
        eprintln!("dissected {name}: {ok}/{n} ({:.1}%)", share * 100.0);
        assert!(n > 0 && share >= floor, "{name}: {ok}/{n} below {floor}");
    }
}

/// A passive-mode listing (`PASV`, `227 … (90,130,70,73,100,85)`, `LIST`): its data
/// connection is named from the control connection's announcement and linked to it.
#[test]
fn ftp_data_connections_are_linked_to_their_control_session() {
    let Some(pcap) = common::pcaps_dir().map(|d| d.join("ndpi/ftp.pcap")) else { return };
    // With two workers the control and data connections may sit in different ones.
    for workers in ["1", "2"] {
        let out = common::ok(common::tyto().args(["dump", "--workers", workers]).arg(&pcap).output().unwrap());
        let rows: Vec<Value> =
            String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        check_ftp_links(&rows);
    }
}

fn check_ftp_links(rows: &[Value]) {
    let port = |r: &Value, p: u64| r["port.src"].as_u64() == Some(p) || r["port.dst"].as_u64() == Some(p);
    let control = rows.iter().find(|r| port(r, 21)).expect("the control session");
    let texts = |r: &Value, f: &str| -> Vec<String> {
        r[f].as_array().into_iter().flatten().filter_map(|v| v.as_str().map(String::from)).collect()
    };
    // The listing, then `RETR 1MB.zip` after a second PASV.
    for (data_port, command, file) in [(25685, "LIST", None), (24523, "RETR", Some("1MB.zip"))] {
        let data = rows.iter().find(|r| port(r, data_port)).expect("the data session");
        assert!(texts(data, "protocols").contains(&"ftp-data".to_string()), "{data}");
        assert_eq!(texts(data, "protocols.how"), ["ftp-data:ftp"]);
        assert_eq!(texts(data, "ftp.control"), [control["id"].as_str().unwrap().to_string()]);
        assert_eq!(texts(data, "ftp.command"), [command]);
        assert_eq!(texts(data, "ftp.filename"), file.map(String::from).into_iter().collect::<Vec<_>>());
    }
}

/// Tor relays' link handshakes are named `tor` wherever nDPI names them from the
/// payload (`TLS.Tor`), and also on the capture's four other connections to relays
/// (the same relay certificates; nDPI calls those plain TLS). The main test checks
/// that no other capture has any `tor`.
#[test]
fn tor_where_ndpi_reads_tor_and_only_there() {
    let Some(dir) = common::pcaps_dir().map(|d| d.join("ndpi")) else { return };
    let out = std::fs::read_to_string(dir.join("tor.pcap.out")).unwrap();
    let mut ndpi: Vec<u64> = out
        .lines()
        .filter(|l| l.contains("/TLS.Tor]") && l.contains("Confidence: DPI"))
        .filter_map(|l| l.split_whitespace().nth(2)?.rsplit(':').next()?.parse().ok())
        .collect();
    let dump = common::ok(common::tyto().args(["dump", "--workers", "1"]).arg(dir.join("tor.pcap")).output().unwrap());
    let mut ours: Vec<u64> = String::from_utf8_lossy(&dump.stdout)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|r| r["protocols"].as_array().is_some_and(|p| p.iter().any(|p| p == "tor")))
        .filter_map(|r| r["port.src"].as_u64())
        .collect();
    ndpi.sort();
    ours.sort();
    assert!(ndpi.len() >= 3, "{ndpi:?}");
    assert!(ndpi.iter().all(|p| ours.contains(p)), "nDPI {ndpi:?}, Tyto {ours:?}");
    assert_eq!(ours, [51110, 51111, 51112, 51174, 51175, 51176, 51185]);
}
