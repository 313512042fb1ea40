//! Protocols on ports that are not theirs are found from the payload, and a
//! well-known port carrying something else is not claimed for its usual protocol.

mod common;

use serde_json::Value;

#[test]
fn payload_decides_whatever_the_port() {
    let mut frames = Vec::new();
    let t0 = 1_700_000_000_000_000_000i64;
    common::connection(&mut frames, t0, 40001, 10022, b"SSH-2.0-OpenSSH_9.6\r\n", b"SSH-2.0-OpenSSH_9.2p1\r\n");
    common::connection(
        &mut frames,
        t0 + 1_000_000_000,
        40002,
        5432,
        b"GET /x HTTP/1.1\r\nHost: db.example\r\n\r\n",
        b"HTTP/1.1 204 No Content\r\n\r\n",
    );
    common::connection(&mut frames, t0 + 2_000_000_000, 40003, 8443, &common::client_hello("foreign.example"), b"");
    // Not TLS on 443, not SSH on 22: those ports' protocols are ruled out.
    common::connection(&mut frames, t0 + 3_000_000_000, 40004, 443, b"\x00\x01hello, this is not TLS\n", b"ok\n");
    common::connection(
        &mut frames,
        t0 + 4_000_000_000,
        40005,
        22,
        b"GET / HTTP/1.0\r\n\r\n",
        b"HTTP/1.0 404 Not Found\r\n\r\n",
    );
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("foreign.pcap");
    common::write_pcap(&pcap, &frames);
    let out = common::tyto().arg("dump").arg(&pcap).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let rows: Vec<Value> =
        String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let by_port = |p: u64| rows.iter().find(|r| r["port.dst"].as_u64() == Some(p)).unwrap_or_else(|| panic!("{p}"));
    let strs = |v: &Value| -> Vec<String> {
        v.as_array().into_iter().flatten().filter_map(|s| s.as_str().map(String::from)).collect()
    };
    for (port, proto) in [(10022, "ssh"), (5432, "http"), (8443, "tls"), (22, "http")] {
        let r = by_port(port);
        assert_eq!(strs(&r["protocols"]), vec!["tcp".to_string(), proto.to_string()], "port {port}: {r}");
        assert_eq!(strs(&r["protocols.how"]), vec![format!("{proto}:payload")], "port {port}");
    }
    assert_eq!(strs(&by_port(8443)["host.tls"]), vec!["foreign.example"]);
    assert_eq!(strs(&by_port(5432)["host.http"]), vec!["db.example"]);
    let junk = by_port(443);
    assert_eq!(strs(&junk["protocols"]), vec!["tcp"], "{junk}");
    assert!(junk.get("protocols.how").is_none_or(Value::is_null), "{junk}");
}

/// RDP's UDP transport (MS-RDPEUDP) is RDP wherever it runs: the client's SYN and
/// the server's SYN+ACK, then datagrams nothing is read from; junk on UDP 3389 is
/// not RDP.
#[test]
fn rdp_over_udp_is_named_from_its_handshake() {
    let udp = |t: i64, from_client: bool, (client, port): (u16, u16), payload: &[u8]| {
        let (cli, srv) = ([10, 9, 0, 1], [10, 9, 0, 2]);
        if from_client {
            common::udp(t, cli, srv, client, port, payload)
        } else {
            common::udp(t, srv, cli, port, client, payload)
        }
    };
    let hex = |s: &str| (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect();
    // MS-RDPEUDP 3.1.5.1.1: acknowledging -1, SYN, the initial sequence number, two
    // MTUs of 1232, padded to 1232 bytes; the SYN+ACK acknowledges that number.
    let mut syn: Vec<u8> = hex("ffffffff004000011a2b3c4d04d004d0");
    syn.resize(1232, 0);
    let syn_ack: Vec<u8> = hex("1a2b3c4d0040000598aeca6a04d004d0");
    let t0 = 1_700_000_000_000_000_000i64;
    let mut frames = Vec::new();
    for (i, port) in [3389u16, 13389].into_iter().enumerate() {
        let t = t0 + i as i64 * 1_000_000_000;
        let ports = (50000 + i as u16, port);
        frames.push(udp(t, true, ports, &syn));
        frames.push(udp(t + 1_000_000, false, ports, &syn_ack));
        for k in 0..3 {
            frames.push(udp(t + 2_000_000 + k, true, ports, &[0x5a; 200]));
        }
    }
    frames.push(udp(t0 + 3_000_000_000, true, (50002, 3389), b"\x00\x01not remote desktop"));
    frames.sort_by_key(|f| f.0);
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("rdpudp.pcap");
    common::write_pcap(&pcap, &frames);
    let out = common::tyto().arg("dump").arg(&pcap).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let rows: Vec<Value> =
        String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let protocols = |r: &Value| -> Vec<String> {
        r["protocols"].as_array().into_iter().flatten().filter_map(|s| s.as_str().map(String::from)).collect()
    };
    let named: Vec<(u64, Vec<String>)> = rows.iter().map(|r| (r["port.dst"].as_u64().unwrap(), protocols(r))).collect();
    let rdp = vec!["udp".to_string(), "rdp".to_string()];
    assert!(named.contains(&(3389, rdp.clone())), "{named:?}");
    assert!(named.contains(&(13389, rdp)), "{named:?}");
    assert!(named.contains(&(3389, vec!["udp".to_string()])), "the junk: {named:?}");
}
