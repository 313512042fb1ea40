//! Protocols on ports that are not theirs are found from the payload, and a
//! well-known port carrying something else is not claimed for its usual protocol.

mod common;

use std::io::Write;

use etherparse::PacketBuilder;
use serde_json::Value;
use tyto_pcapstore::{pcap_file_header, record_header};

/// A TLS 1.2 ClientHello naming `foreign.example`.
fn client_hello() -> Vec<u8> {
    let name = b"foreign.example";
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

/// One TCP connection: handshake, the client's bytes, the server's bytes, FINs.
fn connection(out: &mut Vec<(i64, Vec<u8>)>, t0: i64, sport: u16, dport: u16, ask: &[u8], answer: &[u8]) {
    let (cli, srv) = ([10, 9, 0, 1], [10, 9, 0, 2]);
    let mut t = t0;
    let mut seg = |from_client: bool, seq: u32, ack: u32, syn: bool, fin: bool, data: &[u8]| {
        let (src, dst, sp, dp) = if from_client { (cli, srv, sport, dport) } else { (srv, cli, dport, sport) };
        let mut b =
            PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2]).ipv4(src, dst, 64).tcp(sp, dp, seq, 64240);
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
        t += 1_000_000;
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

#[test]
fn payload_decides_whatever_the_port() {
    let mut frames = Vec::new();
    let t0 = 1_700_000_000_000_000_000i64;
    connection(&mut frames, t0, 40001, 10022, b"SSH-2.0-OpenSSH_9.6\r\n", b"SSH-2.0-OpenSSH_9.2p1\r\n");
    connection(
        &mut frames,
        t0 + 1_000_000_000,
        40002,
        5432,
        b"GET /x HTTP/1.1\r\nHost: db.example\r\n\r\n",
        b"HTTP/1.1 204 No Content\r\n\r\n",
    );
    connection(&mut frames, t0 + 2_000_000_000, 40003, 8443, &client_hello(), b"");
    // Not TLS on 443, not SSH on 22: those ports' protocols are ruled out.
    connection(&mut frames, t0 + 3_000_000_000, 40004, 443, b"\x00\x01hello, this is not TLS\n", b"ok\n");
    connection(
        &mut frames,
        t0 + 4_000_000_000,
        40005,
        22,
        b"GET / HTTP/1.0\r\n\r\n",
        b"HTTP/1.0 404 Not Found\r\n\r\n",
    );
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("foreign.pcap");
    let mut f = std::fs::File::create(&pcap).unwrap();
    f.write_all(&pcap_file_header(1)).unwrap();
    for (t, frame) in &frames {
        f.write_all(&record_header(*t, frame.len() as u32, frame.len() as u32)).unwrap();
        f.write_all(frame).unwrap();
    }
    drop(f);
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
