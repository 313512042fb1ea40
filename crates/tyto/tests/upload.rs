//! Captures sent to a running viewer, end to end: `tyto serve` owns the store (a
//! second `tyto ingest` on its data directory is refused with the way round it),
//! `tyto ingest --server` uploads files that the viewer ingests into its own store,
//! with tags and progress; who may upload, and what a hostile or oversized upload
//! gets, are checked on the same server.

mod common;

use std::path::PathBuf;

use serde_json::Value;

struct Served(std::process::Child);

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn get_json(base: &str, user: &str, path: &str) -> Value {
    let (status, body) = common::curl(user, &format!("{base}{path}"), &[]);
    assert_eq!(status, 200, "{path}: {}", String::from_utf8_lossy(&body));
    serde_json::from_slice(&body).unwrap()
}

fn rows_of(file: &PathBuf) -> usize {
    let out = common::ok(common::tyto().args(["dump", "--workers", "1"]).arg(file).output().unwrap());
    String::from_utf8_lossy(&out.stdout).lines().count()
}

fn send(base: &str, user: &str, password: &str, extra: &[&str], files: &[&PathBuf]) -> std::process::Output {
    common::tyto()
        .args(["ingest", "--server", base, "--user", user])
        .args(extra)
        .args(files)
        .env("TYTO_PASSWORD", password)
        .output()
        .unwrap()
}

#[test]
fn files_sent_to_a_running_viewer_are_ingested_into_its_store() {
    let Some(pcaps) = common::pcaps_dir() else { return };
    let first = pcaps.join("arkime/imap.pcap");
    let second = pcaps.join("arkime/smtp-decrypted.pcap");
    let third = pcaps.join("arkime/socks-https-example.pcap");
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    common::ok(
        common::tyto().args(["ingest", "--workers", "1", "--data-dir"]).arg(&data).arg(&first).output().unwrap(),
    );
    common::add_user(&data, &["ann", "--admin"], "ann-secret");
    common::add_user(&data, &["uma", "--upload"], "uma-secret");
    common::add_user(&data, &["bob"], "bob-secret");
    let config = dir.path().join("tyto.toml");
    std::fs::write(&config, "[viewer]\nmax_upload_mib = 1\n").unwrap();
    let (child, base) = common::serve(&data, &["--config", config.to_str().unwrap()]);
    let _served = Served(child);
    let before =
        get_json(&base, "ann:ann-secret", "/api/sessions?length=1&date=-1")["recordsFiltered"].as_u64().unwrap();
    assert_eq!(before as usize, rows_of(&first));

    // The store is the viewer's: a second writer is told where to send the files.
    let out = common::tyto().args(["ingest", "--data-dir"]).arg(&data).arg(&second).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("held by another Tyto process") && err.contains("--server"), "{err}");

    // Sent, tagged, ingested, searchable at once.
    let out = common::ok(send(&base, "ann", "ann-secret", &["--tags", "sent,case-7"], &[&second, &third]));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("smtp-decrypted.pcap:") && said.contains("session rows"), "{said}");
    let expected = rows_of(&second) + rows_of(&third);
    let tagged = get_json(&base, "ann:ann-secret", "/api/sessions?length=1&date=-1&expression=tags%20%3D%3D%20case-7");
    assert_eq!(tagged["recordsFiltered"].as_u64().unwrap() as usize, expected);
    let all = get_json(&base, "ann:ann-secret", "/api/sessions?length=1&date=-1")["recordsFiltered"].as_u64().unwrap();
    assert_eq!(all as usize, rows_of(&first) + expected, "the earlier sessions are still there");
    // Their packets are the viewer's too: the PCAP of the sent sessions is whole.
    let (status, pcap) = common::curl(
        "ann:ann-secret",
        &format!("{base}/api/sessions.pcap?date=-1&expression={}", common::enc("tags == sent")),
        &[],
    );
    assert_eq!(status, 200);
    let sent_bytes = std::fs::metadata(&second).unwrap().len() + std::fs::metadata(&third).unwrap().len();
    assert!(pcap.len() as u64 > sent_bytes / 2, "{} bytes of PCAP for {sent_bytes} sent", pcap.len());

    // The listing says how each went; a user sees their own uploads.
    let jobs = get_json(&base, "ann:ann-secret", "/api/uploads");
    let jobs = jobs["data"].as_array().unwrap();
    assert_eq!(jobs.len(), 2);
    for j in jobs {
        assert_eq!(j["state"], "done", "{j}");
        assert_eq!(j["user"], "ann");
        assert!(j["packets"].as_u64().unwrap() > 0 && j["read_bytes"] == j["bytes"], "{j}");
        assert_eq!(j["tags"], serde_json::json!(["sent", "case-7"]));
    }
    let out = common::ok(send(&base, "uma", "uma-secret", &[], &[&first]));
    assert!(out.status.success());
    let mine = get_json(&base, "uma:uma-secret", "/api/uploads");
    assert_eq!(mine["data"].as_array().unwrap().len(), 1, "uma sees her upload only");

    // Not every user may upload; a wrong password is refused before anything is read.
    let out = send(&base, "bob", "bob-secret", &[], &[&first]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("may not upload"));
    let out = send(&base, "ann", "wrong", &[], &[&first]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("401"), "{}", String::from_utf8_lossy(&out.stderr));

    // Hostile uploads: not a capture, a capture cut short, too big. Each gets a clear
    // error; what was read before the damage is kept; the server goes on.
    let junk = dir.path().join("junk.pcap");
    std::fs::write(&junk, b"this is not a capture file at all").unwrap();
    let out = send(&base, "ann", "ann-secret", &[], &[&junk]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("upload of junk.pcap failed: junk.pcap: not a pcap or pcapng file"), "{err}");
    assert!(!err.contains(data.to_str().unwrap()), "no server path in errors: {err}");
    let cut = dir.path().join("cut.pcap");
    let whole = std::fs::read(&third).unwrap();
    std::fs::write(&cut, &whole[..whole.len() * 2 / 3]).unwrap();
    let out = send(&base, "ann", "ann-secret", &["--tags", "cut"], &[&cut]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("packets before it are stored"), "{err}");
    let kept = get_json(&base, "ann:ann-secret", "/api/sessions?length=1&date=-1&expression=tags%20%3D%3D%20cut");
    assert!(kept["recordsFiltered"].as_u64().unwrap() > 0, "sessions read before the cut are kept");
    let big = dir.path().join("big.pcap");
    std::fs::write(&big, vec![0u8; 1_200_000]).unwrap();
    let out = send(&base, "ann", "ann-secret", &[], &[&big]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("413") && err.contains("at most 1 MiB"), "{err}");
    let (status, body) = common::curl("ann:ann-secret", &format!("{base}/api/upload?name=x.pcap"), &["-X", "POST"]);
    assert_eq!(status, 400, "{}", String::from_utf8_lossy(&body));
    assert!(String::from_utf8_lossy(&body).contains("empty"));
    assert!(std::fs::read_dir(data.join("uploads")).unwrap().next().is_none(), "uploads are deleted once read");
    let after = get_json(&base, "ann:ann-secret", "/api/uploads");
    assert!(after["data"].as_array().unwrap().iter().any(|j| j["state"] == "failed"));
}
