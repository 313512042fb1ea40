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
