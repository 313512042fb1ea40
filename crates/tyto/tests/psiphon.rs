//! Psiphon's unfronted meek over HTTPS is named from the server certificate its
//! servers generate, and an ordinary self-signed certificate for the same name is
//! not.

mod common;

use serde_json::Value;

/// The server's TLS 1.2 flight: ServerHello, Certificate (one), ServerHelloDone.
fn server_flight(der: &[u8]) -> Vec<u8> {
    let message = |kind: u8, body: &[u8]| {
        let mut m = vec![kind];
        m.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
        m.extend_from_slice(body);
        m
    };
    let mut hello = vec![3, 3];
    hello.extend_from_slice(&[0x22; 32]);
    hello.extend_from_slice(&[0, 0xc0, 0x2f, 0]);
    let mut chain = ((der.len() + 3) as u32).to_be_bytes()[1..].to_vec();
    chain.extend_from_slice(&(der.len() as u32).to_be_bytes()[1..]);
    chain.extend_from_slice(der);
    let mut flight = message(2, &hello);
    flight.extend(message(11, &chain));
    flight.extend(message(14, &[]));
    let mut record = vec![22, 3, 3];
    record.extend_from_slice(&(flight.len() as u16).to_be_bytes());
    record.extend(flight);
    record
}

#[test]
fn meek_server_certificate_names_psiphon() {
    let testdata = common::manifest_dir().join("../dissect/testdata");
    let meek = std::fs::read(testdata.join("psiphon-meek.der")).unwrap();
    let openssl = std::fs::read(testdata.join("self-signed-openssl.der")).unwrap();
    let hello = common::client_hello("cdn.quietfern.net");
    let mut frames = Vec::new();
    let t0 = 1_790_000_000_000_000_000i64;
    common::connection(&mut frames, t0, 40001, 443, &hello, &server_flight(&meek));
    common::connection(&mut frames, t0 + 1_000_000_000, 40002, 443, &hello, &server_flight(&openssl));
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("meek.pcap");
    common::write_pcap(&pcap, &frames);
    let out = common::ok(common::tyto().arg("dump").arg(&pcap).output().unwrap());
    let rows: Vec<Value> =
        String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let protocols = |port: u64| -> Vec<String> {
        let r = rows.iter().find(|r| r["port.src"].as_u64() == Some(port)).unwrap();
        assert_eq!(r["cert.subject.cn"][0], "cdn.quietfern.net", "{r}");
        r["protocols"].as_array().unwrap().iter().map(|p| p.as_str().unwrap().to_string()).collect()
    };
    assert_eq!(protocols(40001), ["tcp", "tls", "psiphon"]);
    assert_eq!(protocols(40002), ["tcp", "tls"]);
}
