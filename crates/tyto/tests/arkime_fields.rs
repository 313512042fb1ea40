//! Dissector values against Arkime's golden output for the same captures: HTTP
//! (host, URIs, methods, status codes, user agents), DNS (host names, query types),
//! TLS (server name, version, cipher, JA3, JA3S, JA4), SSH (version strings), SMB, NTLMSSP, LDAP,
//! DCE/RPC and more. Prints the share of sessions whose values equal
//! Arkime's per protocol, and the differences; fails when a share drops below the
//! floor measured when the dissector landed (raise the floors as dissectors improve).

mod common;

use std::collections::{BTreeSet, HashMap};

use serde_json::Value;

/// Addresses as one text for each (Arkime writes IPv6 with every zero).
fn addresses(v: Option<&Value>) -> BTreeSet<String> {
    strings(v, false).into_iter().map(|a| a.parse::<std::net::IpAddr>().map_or(a, |ip| ip.to_string())).collect()
}

fn strings(v: Option<&Value>, lower: bool) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let one;
    let list = match v {
        Some(Value::Array(a)) => a,
        Some(x @ (Value::String(_) | Value::Number(_))) => {
            one = vec![x.clone()];
            &one
        }
        _ => return out,
    };
    {
        for x in list {
            let s = match x {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            out.insert(if lower { s.to_lowercase() } else { s });
        }
    }
    out
}

type Key = (String, i64, String, i64);
/// Arkime's field name in a protocol's object, and ours.
type FieldPairs = &'static [(&'static str, &'static str)];

fn key(src: &str, sport: i64, dst: &str, dport: i64) -> Key {
    (src.to_string(), sport, dst.to_string(), dport)
}

#[test]
fn dissector_values_match_arkime() {
    let Some(dir) = common::pcaps_dir().map(|d| d.join("arkime")) else { return };
    // Sessions by capture and endpoints (several captures reuse the same addresses).
    // Sessions by capture and endpoints (several captures reuse the same addresses,
    // and some the same endpoints for several sessions: those pair up in time order).
    let dump = |pcap: &std::path::Path| -> HashMap<Key, Vec<Value>> {
        let out = common::ok(common::tyto().args(["dump", "--workers", "1"]).arg(pcap).output().unwrap());
        let mut ours: HashMap<Key, Vec<Value>> = HashMap::new();
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let r: Value = serde_json::from_str(line).unwrap();
            let s = |f: &str| r.get(f).and_then(Value::as_str).unwrap_or("").to_string();
            let n = |f: &str| r.get(f).and_then(Value::as_i64).unwrap_or(0);
            let k = key(&s("ip.src"), n("port.src"), &s("ip.dst"), n("port.dst"));
            let back = key(&k.2, k.3, &k.0, k.1);
            ours.entry(k).or_default().push(r.clone());
            ours.entry(back).or_default().push(r);
        }
        for list in ours.values_mut() {
            list.sort_by_key(|r| r["starttime"].as_str().unwrap_or("").to_string());
        }
        ours
    };
    let mut tally: HashMap<&str, (usize, usize)> = HashMap::new();
    let mut exact_tally: HashMap<&str, (usize, usize)> = HashMap::new();
    let mut misses = Vec::new();
    let mut tests: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "test"))
        .collect();
    tests.sort();
    for path in tests {
        let Ok(golden) = serde_json::from_str::<Value>(&std::fs::read_to_string(&path).unwrap()) else { continue };
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let pcap = path.with_extension("pcap");
        if !pcap.exists() {
            continue;
        }
        let ours = dump(&pcap);
        let mut sessions = golden["sessions3"].as_array().cloned().unwrap_or_default();
        sessions.sort_by_key(|s| s["body"]["firstPacket"].as_i64().unwrap_or(0));
        let key_of = |b: &Value| {
            let (src, dst) = (&b["source"], &b["destination"]);
            key(
                src["ip"].as_str().unwrap_or(""),
                src["port"].as_i64().unwrap_or(0),
                dst["ip"].as_str().unwrap_or(""),
                dst["port"].as_i64().unwrap_or(0),
            )
        };
        let mut used: HashMap<Key, usize> = HashMap::new();
        for s in &sessions {
            let b = &s["body"];
            let k = key_of(b);
            let nth = used.entry(k.clone()).or_default();
            *nth += 1;
            // An ARP session has no addresses in Arkime's record: Tyto's is the ARP
            // row of the same sender's frames.
            let a = &b["arp"];
            if a.is_object() {
                let macs = strings(b["source"].get("mac"), true);
                let row = ours.values().flatten().find(|r| {
                    strings(r.get("protocols"), false).contains("arp")
                        && !strings(r.get("mac.src"), true).is_disjoint(&macs)
                });
                let get = |f: &str, lower: bool| row.map(|r| strings(r.get(f), lower)).unwrap_or_default();
                let pairs = [
                    (strings(a.get("opcode"), false), get("arp.opcode", false)),
                    (strings(a.get("ip"), false), get("arp.ip", false)),
                    (strings(a.get("mac"), true), get("arp.mac", true)),
                ];
                let t = tally.entry("arp").or_default();
                t.1 += 1;
                if pairs.iter().all(|(want, got)| want == got) {
                    t.0 += 1;
                } else {
                    misses.push(format!("{name} arp: {pairs:?}"));
                }
                continue;
            }
            let Some(r) = ours.get(&k).and_then(|list| list.get(*nth - 1)) else { continue };
            let mut check = |proto: &'static str, pairs: Vec<(BTreeSet<String>, BTreeSet<String>)>| {
                let t = tally.entry(proto).or_default();
                t.1 += 1;
                if pairs.iter().all(|(want, got)| want == got) {
                    t.0 += 1;
                } else {
                    misses.push(format!(
                        "{name} {proto}: {:?}",
                        pairs.iter().filter(|(w, g)| w != g).collect::<Vec<_>>()
                    ));
                }
            };
            let st = &b["stun"];
            if st.is_object() {
                let f = |k: &str| strings(st.get(k), false);
                let g = |k: &str| strings(r.get(k), false);
                check(
                    "stun",
                    vec![
                        (f("type"), g("stun.type")),
                        (f("mappedIp"), g("stun.mapped-ip")),
                        (f("mappedPort"), g("stun.mapped-port")),
                        (f("xorMappedIp"), g("stun.xor-mapped-ip")),
                        (f("xorMappedPort"), g("stun.xor-mapped-port")),
                        (f("xorRelayedIp"), g("stun.xor-relayed-ip")),
                        (f("xorPeerIp"), g("stun.xor-peer-ip")),
                        (f("username"), g("stun.username")),
                        (f("software"), g("stun.software")),
                        (f("realm"), g("stun.realm")),
                        (f("error"), g("stun.error")),
                        (f("attributes"), g("stun.attributes")),
                    ],
                );
            }
            // The first payload bytes each way, and the length in milliseconds.
            check(
                "payload8",
                vec![
                    (strings(b.get("srcPayload8"), true), strings(r.get("payload8.src.hex"), true)),
                    (strings(b.get("dstPayload8"), true), strings(r.get("payload8.dst.hex"), true)),
                ],
            );
            check("session.length", vec![(strings(b.get("length"), false), strings(r.get("session.length"), false))]);
            if b.get("tcpseq").is_some() {
                // Arkime writes the two checks as JSON booleans.
                let of = |v: Option<&Value>| match v {
                    Some(Value::Bool(b)) => BTreeSet::from([b.to_string()]),
                    v => strings(v, false),
                };
                check(
                    "tcp sequence checks",
                    vec![
                        (of(b.get("tcpSynValidated")), of(r.get("tcp.synValidated"))),
                        (of(b.get("tcpSynAckValidated")), of(r.get("tcp.synAckValidated"))),
                        (of(b.get("srcISNCnt")), of(r.get("tcp.srcISNCnt"))),
                        (of(b["tcpseq"].get("src")), of(r.get("tcpseq.src"))),
                        (of(b["tcpseq"].get("dst")), of(r.get("tcpseq.dst"))),
                    ],
                );
            }
            if b.get("initRTT").is_some() {
                check("initRTT", vec![(strings(b.get("initRTT"), false), strings(r.get("initRTT"), false))]);
            }
            // Ethernet blocks' organisations, as Arkime names them from the same registry.
            if b.get("srcOui").is_some() || b.get("dstOui").is_some() {
                check(
                    "oui",
                    vec![
                        (strings(b.get("srcOui"), false), strings(r.get("oui.src"), false)),
                        (strings(b.get("dstOui"), false), strings(r.get("oui.dst"), false)),
                    ],
                );
            }
            // A tunnel's outer Ethernet addresses and their organisations, either side:
            // Arkime files the outer frame's first six bytes (its destination) as the
            // source; Tyto files each address on the side that sent the frame.
            if b.get("srcOuterMac").is_some() || b.get("dstOuterMac").is_some() {
                let both = |m: &Value, a: &str, b: &str, lower: bool| -> BTreeSet<String> {
                    strings(m.get(a), lower).into_iter().chain(strings(m.get(b), lower)).collect()
                };
                let mut pairs =
                    vec![(both(b, "srcOuterMac", "dstOuterMac", true), both(r, "outermac.src", "outermac.dst", true))];
                // Registries change: where Arkime's older one names no organisation,
                // Tyto's newer one may (`94:2a:6f`, Ubiquiti).
                let organisations = both(b, "srcOuterOui", "dstOuterOui", false);
                if !organisations.is_empty() {
                    pairs.push((organisations, both(r, "outeroui.src", "outeroui.dst", false)));
                }
                check("outer mac", pairs);
            }
            // 802.1Q and 802.1ad tags apart.
            if b.get("dot1q").is_some() || b.get("dot1ad").is_some() {
                let ids = |key: &str| strings(b.get(key).and_then(|v| v.get("id")), false);
                check(
                    "vlan kinds",
                    vec![
                        (ids("dot1q"), strings(r.get("vlan.dot1q"), false)),
                        (ids("dot1ad"), strings(r.get("vlan.dot1ad"), false)),
                    ],
                );
            }
            // Non-zero DSCP values of each side, on the sessions where Arkime has any.
            if b.get("srcDscp").is_some() || b.get("dstDscp").is_some() {
                check(
                    "dscp",
                    vec![
                        (strings(b.get("srcDscp"), false), strings(r.get("dscp.src"), false)),
                        (strings(b.get("dstDscp"), false), strings(r.get("dscp.dst"), false)),
                    ],
                );
            }
            // Registries of IPv4 ends; Arkime's own test configuration names 10/8
            // `TEST` (a registry of its test file, not IANA's), which is not compared.
            let rir =
                |key: &str| strings(b.get(key), false).into_iter().filter(|r| r != "TEST").collect::<BTreeSet<_>>();
            if !strings(b.get("srcRIR"), false).contains("TEST") && !strings(b.get("dstRIR"), false).contains("TEST") {
                check(
                    "rir",
                    vec![
                        (rir("srcRIR"), strings(r.get("rir.src"), false)),
                        (rir("dstRIR"), strings(r.get("rir.dst"), false)),
                    ],
                );
            }
            // `cip` is named with EtherNet/IP's CIP services.
            if strings(b.get("protocol"), false).contains("enip") {
                let cip = |p: BTreeSet<String>| BTreeSet::from([p.contains("cip").to_string()]);
                check("cip", vec![(cip(strings(b.get("protocol"), false)), cip(strings(r.get("protocols"), false)))]);
            }
            let h = &b["http"];
            if h.is_object() && strings(b.get("protocol"), false).contains("http") {
                check(
                    "http",
                    vec![
                        (strings(h.get("host"), true), strings(r.get("host.http"), true)),
                        (strings(h.get("uri"), false), strings(r.get("http.uri"), false)),
                        (strings(h.get("method"), false), strings(r.get("http.method"), false)),
                        (strings(h.get("statuscode"), false), strings(r.get("http.statuscode"), false)),
                        (strings(h.get("useragent"), false), strings(r.get("http.user-agent"), false)),
                        (strings(h.get("md5"), false), strings(r.get("http.md5"), false)),
                        (strings(h.get("sha256"), false), strings(r.get("http.sha256"), false)),
                        (strings(h.get("xffIp"), false), strings(r.get("ip.xff"), false)),
                    ],
                );
                check(
                    "http.bodymagic",
                    vec![(strings(h.get("bodyMagic"), true), strings(r.get("http.bodymagic"), true))],
                );
                check(
                    "http.reqbody",
                    vec![(strings(h.get("requestBody"), false), strings(r.get("http.reqbody"), false))],
                );
                check(
                    "http headers",
                    vec![
                        (strings(h.get("clientVersion"), false), strings(r.get("http.version.src"), false)),
                        (strings(h.get("serverVersion"), false), strings(r.get("http.version.dst"), false)),
                        (strings(h.get("request-referer"), false), strings(r.get("http.referer"), false)),
                        (strings(h.get("requestHeaderField"), true), strings(r.get("http.header.request.field"), true)),
                        (strings(h.get("requestHeaderValue"), true), strings(r.get("http.hasheader.src.value"), true)),
                        (
                            strings(h.get("responseHeaderField"), true),
                            strings(r.get("http.header.response.field"), true),
                        ),
                        (strings(h.get("responseHeaderValue"), true), strings(r.get("http.hasheader.dst.value"), true)),
                        (strings(h.get("response-location"), false), strings(r.get("http.location"), false)),
                        (strings(h.get("cookieKey"), false), strings(r.get("http.cookie.key"), false)),
                        (strings(h.get("cookieValue"), false), strings(r.get("http.cookie.value"), false)),
                        (strings(h.get("key"), false), strings(r.get("http.uri.key"), false)),
                        (strings(h.get("value"), false), strings(r.get("http.uri.value"), false)),
                        (strings(h.get("authType"), true), strings(r.get("http.authtype"), true)),
                    ],
                );
            }
            if let Some(msgs) = b["dns"].as_array() {
                let mut hosts = BTreeSet::new();
                let mut types = BTreeSet::new();
                let mut txt = BTreeSet::new();
                let (mut ips, mut nameserver_ips, mut mailserver_ips) =
                    (BTreeSet::new(), BTreeSet::new(), BTreeSet::new());
                for m in msgs {
                    hosts.extend(strings(m.get("host"), true));
                    ips.extend(addresses(m.get("ip")));
                    nameserver_ips.extend(addresses(m.get("nameserverIp")));
                    mailserver_ips.extend(addresses(m.get("mailserverIp")));
                    if let Some(t) = m["qt"].as_str() {
                        types.insert(t.to_string());
                    }
                    for a in m["answers"].as_array().into_iter().flatten() {
                        txt.extend(strings(a.get("txt"), false));
                    }
                }
                check(
                    "dns",
                    vec![
                        (hosts, strings(r.get("host.dns"), true)),
                        (types, strings(r.get("dns.query.type"), false)),
                        (txt, strings(r.get("dns.answer.txt"), false)),
                        (ips, addresses(r.get("ip.dns"))),
                        (nameserver_ips, addresses(r.get("ip.dns.nameserver"))),
                        (mailserver_ips, addresses(r.get("ip.dns.mailserver"))),
                    ],
                );
                // Every record of the responses, as Arkime files them.
                let of_answers = |key: &str, lower: bool| -> BTreeSet<String> {
                    let answers = msgs.iter().flat_map(|m| m["answers"].as_array().into_iter().flatten());
                    answers.flat_map(|a| strings(a.get(key), lower)).collect()
                };
                let of_messages =
                    |key: &str| -> BTreeSet<String> { msgs.iter().flat_map(|m| strings(m.get(key), false)).collect() };
                check(
                    "dns.answer",
                    vec![
                        (of_answers("name", true), strings(r.get("dns.answer.name"), true)),
                        (of_answers("type", false), strings(r.get("dns.answer.type"), false)),
                        (of_answers("class", false), strings(r.get("dns.answer.class"), false)),
                        (of_answers("ttl", false), strings(r.get("dns.answer.ttl"), false)),
                        (of_answers("ip", false), strings(r.get("dns.answer.ip"), false)),
                        (of_answers("nameserver", true), strings(r.get("host.dns.nameserver"), true)),
                        (of_answers("priority", false), strings(r.get("dns.answer.priority"), false)),
                        (of_answers("https", false), strings(r.get("dns.answer.https"), false)),
                        (of_answers("caa", false), strings(r.get("dns.answer.caa"), false)),
                        (of_answers("rrsig", false), strings(r.get("dns.answer.rrsig"), false)),
                        (of_answers("nsec", false), strings(r.get("dns.answer.nsec"), false)),
                        (of_answers("ds", false), strings(r.get("dns.answer.ds"), false)),
                        (of_messages("headerFlags"), strings(r.get("dns.header_flags"), false)),
                        (of_messages("answersCnt"), strings(r.get("dns.answer.cnt"), false)),
                    ],
                );
            }
            let t = &b["tls"];
            if t.is_object() && strings(b.get("protocol"), false).contains("dtls") {
                // Arkime records only JA4 of a DTLS handshake.
                check("tls", vec![(strings(t.get("ja4"), false), strings(r.get("tls.ja4"), false))]);
            } else if t.is_object() && !strings(b.get("protocol"), false).contains("quic") {
                // Arkime files the server name under the HTTP host.
                let sni = if strings(b.get("protocol"), false).contains("http") {
                    strings(r.get("host.tls"), true)
                } else {
                    strings(b["http"].get("host"), true)
                };
                check(
                    "tls",
                    vec![
                        (sni, strings(r.get("host.tls"), true)),
                        (strings(t.get("version"), false), strings(r.get("tls.version"), false)),
                        (strings(t.get("cipher"), false), strings(r.get("tls.cipher"), false)),
                        (strings(t.get("ja3"), false), strings(r.get("tls.ja3"), false)),
                        (strings(t.get("ja3s"), false), strings(r.get("tls.ja3s"), false)),
                        (strings(t.get("ja4"), false), strings(r.get("tls.ja4"), false)),
                    ],
                );
                check(
                    "tls strings",
                    vec![
                        (strings(t.get("ja3string"), true), strings(r.get("tls.ja3string"), true)),
                        (strings(t.get("ja3sstring"), true), strings(r.get("tls.ja3sstring"), true)),
                        (strings(t.get("ja4_r"), true), strings(r.get("tls.ja4_r"), true)),
                        (strings(t.get("srcSessionId"), true), strings(r.get("tls.sessionid.src"), true)),
                        (strings(t.get("dstSessionId"), true), strings(r.get("tls.sessionid.dst"), true)),
                    ],
                );
            }
            if let Some(certs) = b["cert"].as_array() {
                let mut want: [BTreeSet<String>; 14] = Default::default();
                for c in certs {
                    want[0].extend(strings(c.get("subjectCN"), true));
                    want[1].extend(strings(c.get("issuerCN"), true));
                    want[2].extend(strings(c.get("serial"), true));
                    want[3].extend(strings(c.get("hash"), true));
                    want[4].extend(strings(c.get("alt"), true));
                    want[5].extend(strings(c.get("subjectON"), false));
                    want[6].extend(strings(c.get("subjectOU"), false));
                    want[7].extend(strings(c.get("issuerOU"), false));
                    want[8].extend(strings(c.get("publicAlgorithm"), false));
                    want[9].extend(strings(c.get("curve"), false));
                    want[10].extend(strings(c.get("validDays"), false));
                    want[11].extend(strings(c.get("validSeconds"), false));
                    want[12].extend(strings(c.get("remainingDays"), false));
                    want[13].extend(strings(c.get("remainingSeconds"), false));
                }
                let [scn, icn, serial, hash, alt, son, sou, iou, algorithm, curve, days, seconds, left_days, left_seconds] =
                    want;
                check(
                    "cert",
                    vec![
                        (scn, strings(r.get("cert.subject.cn"), true)),
                        (icn, strings(r.get("cert.issuer.cn"), true)),
                        (serial, strings(r.get("cert.serial"), true)),
                        (hash, strings(r.get("cert.hash"), true)),
                        (alt, strings(r.get("cert.alt"), true)),
                        (son, strings(r.get("cert.subject.on"), false)),
                    ],
                );
                check(
                    "cert keys and validity",
                    vec![
                        (sou, strings(r.get("cert.subject.ou"), false)),
                        (iou, strings(r.get("cert.issuer.ou"), false)),
                        (algorithm, strings(r.get("cert.publicAlgorithm"), false)),
                        (curve, strings(r.get("cert.curve"), false)),
                        (days, strings(r.get("cert.validfor"), false)),
                        (seconds, strings(r.get("cert.validforSeconds"), false)),
                        (left_days, strings(r.get("cert.remainingDays"), false)),
                        (left_seconds, strings(r.get("cert.remainingSeconds"), false)),
                    ],
                );
            }
            if strings(b.get("protocol"), false).contains("quic") {
                let q = &b["quic"];
                // Arkime files an IETF QUIC server name under the HTTP host.
                let mut hosts = strings(q.get("host"), true);
                hosts.extend(strings(b["http"].get("host"), true));
                check(
                    "quic",
                    vec![
                        (hosts, strings(r.get("host.quic"), true)),
                        // Arkime records the version of Google QUIC only.
                        (
                            strings(q.get("version"), false),
                            strings(r.get("quic.version"), false)
                                .into_iter()
                                .filter(|v| v.starts_with('Q') || q.get("version").is_some())
                                .collect(),
                        ),
                        (strings(q.get("useragent"), false), strings(r.get("quic.user-agent"), false)),
                        (strings(b["tls"].get("ja4"), false), strings(r.get("tls.ja4"), false)),
                    ],
                );
            }
            let my = &b["mysql"];
            if my.is_object() {
                check(
                    "mysql",
                    vec![
                        (strings(my.get("version"), false), strings(r.get("mysql.ver"), false)),
                        (strings(my.get("user"), true), strings(r.get("mysql.user"), true)),
                    ],
                );
            }
            let so = &b["socks"];
            if so.is_object() {
                check(
                    "socks",
                    vec![
                        (strings(so.get("ip"), false), strings(r.get("ip.socks"), false)),
                        (strings(so.get("host"), true), strings(r.get("host.socks"), true)),
                        (strings(so.get("port"), false), strings(r.get("port.socks"), false)),
                        (strings(so.get("user"), false), strings(r.get("socks.user"), false)),
                    ],
                );
            }
            let e = &b["email"];
            if e.is_object() && strings(b.get("protocol"), false).contains("smtp") {
                check(
                    "smtp",
                    vec![
                        (strings(e.get("smtpHello"), true), strings(r.get("email.smtp-hello"), true)),
                        (strings(e.get("src"), true), strings(r.get("email.src"), true)),
                        (strings(e.get("dst"), true), strings(r.get("email.dst"), true)),
                        (strings(e.get("subject"), false), strings(r.get("email.subject"), false)),
                    ],
                );
                check(
                    "smtp headers and parts",
                    vec![
                        (strings(e.get("mimeVersion"), false), strings(r.get("email.mime-version"), false)),
                        (strings(e.get("headerField"), true), strings(r.get("email.has-header.name"), true)),
                        (strings(e.get("headerValue"), false), strings(r.get("email.has-header.value"), false)),
                        (strings(e.get("host"), true), strings(r.get("host.email"), true)),
                        (strings(e.get("ip"), false), strings(r.get("ip.email"), false)),
                        (strings(e.get("filename"), false), strings(r.get("email.fn"), false)),
                        (strings(e.get("md5"), true), strings(r.get("email.md5"), true)),
                        (strings(e.get("sha256"), true), strings(r.get("email.sha256"), true)),
                        (strings(e.get("bodyMagic"), true), strings(r.get("email.bodymagic"), true)),
                    ],
                );
            }
            if e.is_object() && strings(b.get("protocol"), false).contains("imap") {
                check("imap", vec![(strings(e.get("folder"), false), strings(r.get("email.folder"), false))]);
            }
            let k = &b["krb5"];
            if k.is_object() {
                check(
                    "krb5",
                    vec![
                        (strings(k.get("cname"), false), strings(r.get("krb5.cname"), false)),
                        (strings(k.get("realm"), false), strings(r.get("krb5.realm"), false)),
                        (strings(k.get("sname"), false), strings(r.get("krb5.sname"), false)),
                        (strings(k.get("etype"), false), strings(r.get("krb5.etype"), false)),
                        (strings(k.get("error"), false), strings(r.get("krb5.error"), false)),
                    ],
                );
            }
            let ik = &b["isakmp"];
            if ik.is_object() {
                check(
                    "isakmp",
                    vec![
                        (strings(ik.get("version"), false), strings(r.get("isakmp.version"), false)),
                        (strings(ik.get("exchangeType"), true), strings(r.get("isakmp.exchange-type"), true)),
                        (strings(ik.get("initiatorSpi"), true), strings(r.get("isakmp.initiator-spi"), true)),
                        (strings(ik.get("responderSpi"), true), strings(r.get("isakmp.responder-spi"), true)),
                    ],
                );
                check(
                    "isakmp proposals",
                    vec![
                        (strings(ik.get("encryption"), false), strings(r.get("isakmp.encryption"), false)),
                        (strings(ik.get("hash"), false), strings(r.get("isakmp.hash"), false)),
                        (strings(ik.get("authMethod"), false), strings(r.get("isakmp.auth-method"), false)),
                        (strings(ik.get("dhGroup"), false), strings(r.get("isakmp.dh-group"), false)),
                        (strings(ik.get("vendorId"), true), strings(r.get("isakmp.vendor-id"), true)),
                    ],
                );
            }
            // Arkime reads NTLM in SMB1 SPNEGO blobs only, and only the AUTHENTICATE
            // message there: where it has no value, ours may hold more (the dialect
            // it misses, the other NTLM messages, SMB2 session setups). A session
            // agrees when Arkime's values are all ours, and every value beyond them
            // comes from the NTLM exchange we decoded; exact agreement is printed too.
            let ntlm_values: BTreeSet<String> =
                ["user", "ntlm.domain", "ntlm.host"].iter().flat_map(|f| strings(r.get(*f), true)).collect();
            let explained = |want: BTreeSet<String>, got: BTreeSet<String>, extra_ok: &dyn Fn(&str) -> bool| {
                let covers = want.is_subset(&got) && got.difference(&want).all(|v| extra_ok(v));
                let exact = want == got;
                (if covers { (want.clone(), want) } else { (want, got) }, exact)
            };
            let sm = &b["smb"];
            if strings(b.get("protocol"), false).contains("smb") {
                let f = |n: &str, lower: bool| strings(sm.get(n), lower);
                let o = |n: &str, lower: bool| strings(r.get(n), lower);
                let from_ntlm = |v: &str| ntlm_values.contains(&v.to_lowercase());
                let dialect_missed = |v: &str| f("dialect", false).is_empty() && v.starts_with("NT LM");
                let pairs = [
                    explained(f("dialect", false), o("smb.dialect", false), &dialect_missed),
                    explained(f("share", false), o("smb.share", false), &|_| false),
                    explained(f("filename", false), o("smb.fn", false), &|_| false),
                    explained(f("os", false), o("smb.os", false), &|_| false),
                    explained(f("version", false), o("smb.ver", false), &|_| false),
                    explained(f("domain", false), o("smb.domain", false), &from_ntlm),
                    explained(f("user", false), o("smb.user", false), &from_ntlm),
                    explained(f("host", true), o("host.smb", true), &from_ntlm),
                ];
                let exact = pairs.iter().all(|(_, e)| *e);
                let t = exact_tally.entry("smb").or_default();
                t.1 += 1;
                t.0 += usize::from(exact);
                check("smb", pairs.into_iter().map(|(p, _)| p).collect());
            }
            let nt = &b["ntlm"];
            if nt.is_object() {
                let f = |n: &str| strings(nt.get(n), false);
                let o = |n: &str| strings(r.get(n), false);
                let pairs = [
                    explained(f("type"), o("ntlm.type"), &|_| true),
                    explained(f("domain"), o("ntlm.domain"), &|_| false),
                    explained(f("host"), o("ntlm.host"), &|_| true),
                    explained(f("targetName"), o("ntlm.targetName"), &|_| true),
                    explained(f("version"), o("ntlm.version"), &|_| true),
                    explained(strings(b.get("user"), true), strings(r.get("user"), true), &|_| false),
                ];
                let exact = pairs.iter().all(|(_, e)| *e);
                let t = exact_tally.entry("ntlm").or_default();
                t.1 += 1;
                t.0 += usize::from(exact);
                check("ntlm", pairs.into_iter().map(|(p, _)| p).collect());
            }
            let ld = &b["ldap"];
            if ld.is_object() {
                check(
                    "ldap",
                    vec![
                        (strings(ld.get("authtype"), false), strings(r.get("ldap.authtype"), false)),
                        (strings(ld.get("bindname"), false), strings(r.get("ldap.bindname"), false)),
                    ],
                );
            }
            let dc = &b["dcerpc"];
            if dc.is_object() {
                let f = |n: &str| strings(dc.get(n), true);
                let o = |n: &str| strings(r.get(n), true);
                check(
                    "dcerpc",
                    vec![
                        (f("interface"), o("dcerpc.interface")),
                        (f("uuid"), o("dcerpc.uuid")),
                        (f("version"), o("dcerpc.version")),
                        (f("msgType"), o("dcerpc.msgType")),
                        (f("opnum"), o("dcerpc.opnum")),
                    ],
                );
            }
            // Protocols whose Arkime fields map one to one onto ours (Arkime's name in
            // the body, then our catalogue's), plus `user` where the protocol sets it.
            let simple: &[(&str, &str, FieldPairs)] = &[
                (
                    "rdp",
                    "rdp",
                    &[("requestedProtocols", "rdp.requested-protocols"), ("selectedProtocol", "rdp.selected-protocol")],
                ),
                (
                    "postgresql",
                    "postgresql",
                    &[("user", "postgresql.user"), ("db", "postgresql.db"), ("app", "postgresql.app")],
                ),
                ("tds", "tds", &[]),
                (
                    "mqtt",
                    "mqtt",
                    &[
                        ("clientId", "mqtt.clientId"),
                        ("topic", "mqtt.topic"),
                        ("version", "mqtt.version"),
                        ("type", "mqtt.type"),
                        ("willTopic", "mqtt.willTopic"),
                        ("qos", "mqtt.qos"),
                        ("flags", "mqtt.flags"),
                        ("connackCode", "mqtt.connackCode"),
                    ],
                ),
                (
                    "modbus",
                    "modbus",
                    &[
                        ("unitid", "modbus.unitid"),
                        ("transactionid", "modbus.transactionid"),
                        ("protocolid", "modbus.protocolid"),
                        ("funccode", "modbus.funccode"),
                        ("exccode", "modbus.exccode"),
                    ],
                ),
                (
                    "dnp3",
                    "dnp3",
                    &[("src", "dnp3.src"), ("dst", "dnp3.dst"), ("func", "dnp3.func"), ("funcName", "dnp3.funcName")],
                ),
                ("irc", "irc", &[("nick", "irc.nick"), ("channel", "irc.channel")]),
                ("tftp", "tftp", &[("filename", "tftp.filename"), ("opcode", "tftp.opcode")]),
                ("sctp", "sctp", &[("protoId", "sctp.protoId")]),
                (
                    "bacnet",
                    "bacnet",
                    &[
                        ("function", "bacnet.function"),
                        ("service", "bacnet.service"),
                        ("apduType", "bacnet.apdu-type"),
                        ("objectName", "bacnet.object-name"),
                    ],
                ),
                (
                    "adb",
                    "adb",
                    &[
                        ("command", "adb.command"),
                        ("version", "adb.version"),
                        ("maxpayload", "adb.maxpayload"),
                        ("systemtype", "adb.systemtype"),
                        ("serial", "adb.serial"),
                        ("authtype", "adb.authtype"),
                        ("service", "adb.service"),
                        ("streamid", "adb.streamid"),
                        ("sync.operation", "adb.sync.operation"),
                        ("sync.path", "adb.sync.path"),
                        ("shell.exitcode", "adb.shell.exitcode"),
                        ("forward.direction", "adb.forward.direction"),
                        ("forward.local", "adb.forward.local"),
                        ("forward.remote", "adb.forward.remote"),
                    ],
                ),
                ("isis", "isis", &[("msgType", "isis.msgType")]),
                ("m3ua", "m3ua", &[("si", "m3ua.si")]),
                ("sccp", "sccp", &[("src", "sccp.src"), ("dst", "sccp.dst")]),
                ("sccp", "tcap", &[("opcode", "tcap.opcode")]),
                (
                    "camel",
                    "camel",
                    &[
                        ("op", "camel.op"),
                        ("calling", "camel.calling"),
                        ("called", "camel.called"),
                        ("imsi", "camel.imsi"),
                    ],
                ),
                (
                    "c1222",
                    "c1222",
                    &[
                        ("calledApTitle", "c1222.calledApTitle"),
                        ("callingApTitle", "c1222.callingApTitle"),
                        ("calledApInvocationId", "c1222.calledApInvocationId"),
                        ("callingApInvocationId", "c1222.callingApInvocationId"),
                        ("securityMode", "c1222.securityMode"),
                        ("responseControl", "c1222.responseControl"),
                    ],
                ),
                (
                    "pana",
                    "pana",
                    &[("msgType", "pana.msg-type"), ("sessionId", "pana.session-id"), ("user", "pana.user")],
                ),
                (
                    "ospf",
                    "ospf",
                    &[("msgType", "ospf.msgType"), ("routerId", "ospf.routerId"), ("areaId", "ospf.areaId")],
                ),
                (
                    "websocket",
                    "websocket",
                    &[
                        ("opcode", "websocket.opcode"),
                        ("closeCode", "websocket.closeCode"),
                        ("closeReason", "websocket.closeReason"),
                        ("payloadBytes", "websocket.payloadBytes"),
                        ("frameCnt", "websocket.frameCnt"),
                        ("textSample", "websocket.textSample"),
                        ("maskedFromClient", "websocket.maskedFromClient"),
                    ],
                ),
                ("bgp", "bgp", &[("type", "bgp.type")]),
                (
                    "radius",
                    "radius",
                    &[
                        ("user", "radius.user"),
                        ("mac", "radius.mac"),
                        ("endpointIp", "radius.endpoint-ip"),
                        ("framedIp", "radius.framed-ip"),
                        ("msgType", "radius.msgType"),
                        ("nasIp", "radius.nasIp"),
                        ("nasPort", "radius.nasPort"),
                    ],
                ),
                (
                    "oracle",
                    "oracle",
                    &[("user", "oracle.user"), ("host", "oracle.host"), ("service", "oracle.service")],
                ),
                (
                    "opcua",
                    "opcua",
                    &[("endpointUrl", "opcua.endpointUrl"), ("securityPolicyUri", "opcua.securityPolicyUri")],
                ),
                (
                    "s7comm",
                    "s7comm",
                    &[
                        ("rosctr", "s7comm.rosctr"),
                        ("func", "s7comm.func"),
                        ("funcName", "s7comm.funcName"),
                        ("pduref", "s7comm.pduref"),
                        ("errorClass", "s7comm.errorClass"),
                        ("errorCode", "s7comm.errorCode"),
                    ],
                ),
                ("s7comm-plus", "s7comm", &[("opcode", "s7comm.opcode")]),
                (
                    "ftp",
                    "ftp",
                    &[("command", "ftp.command"), ("banner", "ftp.banner"), ("responseCode", "ftp.responseCode")],
                ),
                ("ntp", "ntp", &[("mode", "ntp.mode"), ("refId", "ntp.ref-id")]),
                ("dhcp", "dhcp", &[("id", "dhcp.id"), ("mac", "dhcp.mac"), ("host", "dhcp.host")]),
                ("ptp", "ptp", &[("msgType", "ptp.msgType"), ("clockId", "ptp.clockId")]),
                (
                    "synchrophasor",
                    "synchrophasor",
                    &[
                        ("frameType", "synchrophasor.frameType"),
                        ("idcode", "synchrophasor.idcode"),
                        ("cmd", "synchrophasor.cmd"),
                        ("station", "synchrophasor.station"),
                        ("dataRate", "synchrophasor.dataRate"),
                        ("numPMU", "synchrophasor.numPMU"),
                    ],
                ),
                (
                    "enip",
                    "enip",
                    &[
                        ("command", "enip.command"),
                        ("status", "enip.status"),
                        ("service", "enip.service"),
                        ("class", "enip.class"),
                        ("vendor", "enip.vendor"),
                        ("product", "enip.product"),
                        ("deviceType", "enip.device-type"),
                    ],
                ),
                (
                    "diameter",
                    "diameter",
                    &[
                        ("app", "diameter.app"),
                        ("cmd", "diameter.cmd"),
                        ("sessionId", "diameter.session-id"),
                        ("originHost", "diameter.origin-host"),
                        ("originRealm", "diameter.origin-realm"),
                        ("destHost", "diameter.dest-host"),
                        ("destRealm", "diameter.dest-realm"),
                        ("user", "diameter.user"),
                        ("resultCode", "diameter.resultCode"),
                    ],
                ),
                (
                    "nbns",
                    "nbns",
                    &[
                        ("name", "nbns.name"),
                        ("queryHost", "nbns.queryHost"),
                        ("queryType", "nbns.queryType"),
                        ("host", "nbns.host"),
                        ("ip", "nbns.ip"),
                    ],
                ),
                (
                    "sip",
                    "sip",
                    &[
                        ("method", "sip.method"),
                        ("callid", "sip.callid"),
                        ("from", "sip.from"),
                        ("to", "sip.to"),
                        ("via", "sip.via"),
                        ("contact", "sip.contact"),
                        ("user", "sip.user"),
                    ],
                ),
                (
                    "snmp",
                    "snmp",
                    &[
                        ("community", "snmp.community"),
                        ("type", "snmp.type"),
                        ("error", "snmp.error"),
                        ("variable", "snmp.variable"),
                        ("trapOid", "snmp.trap-oid"),
                        ("engineId", "snmp.engineId"),
                        ("secLevel", "snmp.secLevel"),
                    ],
                ),
            ];
            for (proto, key, fields) in simple {
                if !strings(b.get("protocol"), false).contains(*proto) {
                    continue;
                }
                let mut pairs: Vec<_> =
                    fields.iter().map(|(a, o)| (strings(b[*key].get(*a), false), strings(r.get(*o), false))).collect();
                // Arkime files PostgreSQL users under its own field only; ours also under `user`.
                if *proto != "postgresql" {
                    pairs.push((strings(b.get("user"), true), strings(r.get("user"), true)));
                }
                check(proto, pairs);
            }
            if b["ssh"]["version"].is_array() {
                let sh = &b["ssh"];
                check(
                    "ssh",
                    vec![
                        (strings(sh.get("version"), true), strings(r.get("ssh.ver"), true)),
                        (strings(sh.get("hassh"), true), strings(r.get("ssh.hassh"), true)),
                        (strings(sh.get("hasshServer"), true), strings(r.get("ssh.hasshServer"), true)),
                        (strings(sh.get("key"), false), strings(r.get("ssh.key"), false)),
                    ],
                );
            }
        }
    }
    for m in &misses {
        eprintln!("differs: {m:.300}");
    }
    // Floors as measured when these dissectors landed; see the README for what is missing.
    for (proto, (ok, total)) in &exact_tally {
        eprintln!("{proto}: {ok}/{total} sessions exactly equal Arkime's (no value beyond Arkime's)");
    }
    for (proto, floor) in [
        ("payload8", 0.9),
        ("session.length", 0.9),
        ("initRTT", 0.9),
        // `gtp-iphone.pcap`'s connections share their addresses and ports with UDP
        // sessions that Arkime groups otherwise (see `sip` below), so pairing rows by
        // endpoints misses one; `y2038-bgp.pcap`'s rows are cut at another packet
        // (the session test's known differences).
        ("tcp sequence checks", 0.99),
        // y2038-bgp's rows are cut at another packet (see `known` above); gre-sample's
        // DSCP 48 is on none of the session's packets as tshark reads them.
        ("dscp", 0.85),
        ("vlan kinds", 0.9),
        // One of arkime_synthetic's tunnels (no outer IP) is not followed.
        ("outer mac", 0.85),
        // Arkime's registry is older: renamed organisations (Netasq, now Stormshield).
        ("oui", 0.9),
        ("rir", 0.99),
        ("http", 0.9),
        ("http headers", 0.88),
        // vxlan.pcap's ARP inside VXLAN stays the outer UDP flow it travels in (one
        // of the session test's known differences).
        ("arp", 0.5),
        ("synchrophasor", 1.0),
        ("enip", 1.0),
        ("cip", 1.0),
        // `single-packets.pcap`'s lone response has no request to pair with.
        ("http.bodymagic", 1.0),
        ("http.reqbody", 0.98),
        ("dns", 0.95),
        ("dns.answer", 0.85),
        ("stun", 0.8),
        ("tls", 0.95),
        ("ssh", 1.0),
        ("socks", 0.9),
        ("smtp", 0.85),
        ("cert", 0.9),
        ("cert keys and validity", 0.94),
        ("tls strings", 0.94),
        ("smtp headers and parts", 0.84),
        ("imap", 1.0),
        ("ftp", 1.0),
        ("ntp", 1.0),
        ("dhcp", 1.0),
        ("nbns", 0.85),
        ("isakmp proposals", 0.87),
        // Over TCP and SCTP (`diameter_synthetic.pcap`).
        ("diameter", 1.0),
        ("ptp", 1.0),
        // SIP over TCP: only what a segment's first message holds is read (a long
        // REGISTER's later headers are not), and Arkime groups the GTP-tunnelled SIP
        // of `gtp-iphone.pcap` into other sessions.
        ("sip", 0.28),
        // Arkime reads `arkime_synthetic.pcap`'s three malformed requests, whose
        // lengths do not add up; Tyto does not take them for SNMP.
        ("snmp", 0.83),
        ("mysql", 1.0),
        ("quic", 0.6),
        ("krb5", 0.9),
        ("isakmp", 1.0),
        ("smb", 0.9),
        ("ntlm", 0.9),
        ("ldap", 0.9),
        ("dcerpc", 0.95),
        ("rdp", 0.9),
        ("postgresql", 0.9),
        ("tds", 0.9),
        ("mqtt", 0.85),
        ("modbus", 0.5),
        ("dnp3", 0.9),
        ("irc", 0.9),
        ("tftp", 0.9),
        ("websocket", 1.0),
        ("sctp", 1.0),
        ("adb", 1.0),
        ("isis", 1.0),
        ("m3ua", 1.0),
        ("sccp", 1.0),
        ("camel", 1.0),
        ("c1222", 1.0),
        ("pana", 1.0),
        // Per pair of endpoints every value is Arkime's; `bacnet-stack-services.pcap`'s
        // datagrams between one pair are cut into sessions at other times (Arkime's
        // run has no idle timeouts), so some sessions pair with another's values.
        ("bacnet", 0.5),
        // Arkime reads a session's first ten packets only; Tyto lists the LSUpdate and
        // LSAck packets that come later in two of `ospf.pcap`'s three sessions.
        ("ospf", 0.33),
        ("bgp", 0.55),
        ("radius", 0.7),
        ("oracle", 0.9),
        ("opcua", 1.0),
        ("s7comm", 1.0),
        // Arkime reads a digest length in every version; real version 1 and 2 PDUs have
        // none (the opcode follows the length), as in `../ndpi/s7comm-plus.pcap`.
        ("s7comm-plus", 0.5),
    ] {
        let (ok, total) = tally.get(proto).copied().unwrap_or((0, 0));
        let share = ok as f64 / total.max(1) as f64;
        eprintln!("{proto}: {ok}/{total} sessions equal Arkime's ({:.1}%)", share * 100.0);
        assert!(total > 0 && share >= floor, "{proto}: {share:.3} below {floor}");
    }
}

/// ESP SPIs (Arkime has no field for them): of ESP sessions, and of ESP inside IKE's
/// NAT-traversal UDP session, the SPIs Wireshark shows.
#[test]
fn esp_spis_as_wireshark_shows_them() {
    let Some(dir) = common::pcaps_dir().map(|d| d.join("arkime")) else { return };
    let spis = |pcap: &str, udp: bool| -> BTreeSet<String> {
        let out = common::ok(common::tyto().args(["dump", "--workers", "1"]).arg(dir.join(pcap)).output().unwrap());
        let mut all = BTreeSet::new();
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let r: Value = serde_json::from_str(line).unwrap();
            let proto = r["ip.protocol"].as_i64();
            if (udp && proto == Some(17)) || (!udp && proto == Some(50)) {
                all.extend(strings(r.get("esp.spi"), false));
            }
        }
        all
    };
    // `tshark -r wireshark-esp.pcap -T fields -e esp.spi | sort -u`
    let manual: BTreeSet<String> = [0x0a..=0x0d, 0x14..=0x17, 0x6e..=0x71, 0x78..=0x7b]
        .into_iter()
        .flatten()
        .map(|s: u32| format!("{s:08x}"))
        .collect();
    assert_eq!(spis("wireshark-esp.pcap", false), manual);
    assert_eq!(spis("ike-cert_synthetic.pcap", true), BTreeSet::from(["cafebabe".into(), "deadbeef".into()]));
}

/// `payload8` searched as Arkime's own viewer tests search it (`tests/api-sessions.t`:
/// the expressions and counts on `http-301-get.pcap`), in hex and as text, with
/// wildcards, regular expressions and the either-direction sets; the session's length
/// and Community ID; DNS responses' records and names' words; a TURN allocation's STUN
/// fields.
/// A data directory holding `inputs` ingested with `options` (kept while the
/// folder lives), and what `tyto count` answers for an expression there.
fn ingested(inputs: &[std::path::PathBuf], options: &[&str]) -> (tempfile::TempDir, impl Fn(&str) -> u64) {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    common::ok(common::tyto().arg("ingest").args(options).arg("--data-dir").arg(&data).args(inputs).output().unwrap());
    let count = move |expr: &str| -> u64 {
        let out = common::ok(common::tyto().args(["count", "--expr", expr, "--data-dir"]).arg(&data).output().unwrap());
        String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
    };
    (tmp, count)
}

/// Ingests captures of Arkime's suite (by name) and holds each expression to the
/// number of sessions it should count.
fn counts_hold(captures: &[&str], options: &[&str], counts: &[(&str, u64)]) {
    let Some(dir) = common::pcaps_dir().map(|d| d.join("arkime")) else { return };
    let inputs: Vec<std::path::PathBuf> = captures.iter().map(|c| dir.join(c)).collect();
    let (_data, count) = ingested(&inputs, options);
    for (expr, want) in counts {
        assert_eq!(count(expr), *want, "{expr}");
    }
}

/// DNSSEC, CAA and HTTPS records searched as Arkime shows them (counts: tshark's
/// sessions holding each record, well formed).
#[test]
fn dns_records_searched_as_arkime_shows_them() {
    let Some(dir) = common::pcaps_dir().map(|d| d.join("arkime")) else { return };
    let inputs = [dir.join("dnssec_synthetic.pcap"), dir.join("dns-https.pcap"), dir.join("arkime_synthetic.pcap")];
    let (_data, count) = ingested(&inputs, &[]);
    for (expr, want) in [
        ("dns.answer.rrsig == \"RRSIG A 13 2 3600 1737849600 1735257600 12345 example.com\"", 2),
        ("dns.answer.nsec == \"NSEC next.example.com A NS AAAA RRSIG NSEC\"", 1),
        ("dns.answer.ds == /DS 54321 13 2 AABBCCDD.*/", 2),
        ("dns.answer.caa == \"CAA 0 issue letsencrypt.org\"", 1),
        (
            "dns.answer.https == \"HTTPS 1 . alpn=h3,h2 ipv4hint=104.16.132.229,104.16.133.229 \
             ipv6hint=2606:4700::6810:84e5,2606:4700::6810:85e5\"",
            1,
        ),
    ] {
        assert_eq!(count(expr), want, "{expr}");
    }
}

/// Bodies and attachments searched by what they are (counts: tshark's sessions
/// whose response body is gzip-encoded, a zip archive, an HTML page; whose mail
/// carries a zip attachment).
#[test]
fn bodies_searched_by_what_they_are() {
    counts_hold(
        &["http-content-gzip.pcap", "http-content-zip.pcap", "http-simple-get.pcap", "smtp-zip.pcap"],
        &[],
        &[
            ("http.bodymagic == application/x-gzip", 1),
            ("http.bodymagic == application/zip", 1),
            ("http.bodymagic == text/html", 1),
            ("http.bodymagic == application/*", 2),
            ("http.bodymagic == image/gif", 0),
            ("email.bodymagic == application/zip", 1),
            ("email.bodymagic == text/html", 0),
        ],
    );
}

/// Request bodies that are text, searched (tshark: `arkime_synthetic.pcap`'s eight
/// POSTs, three of them SOAP envelopes, one `hello`, one a JSON login; the
/// multipart upload of `http-post-upload.pcap`).
#[test]
fn request_bodies_searched() {
    counts_hold(
        &["arkime_synthetic.pcap", "http-post-upload.pcap"],
        &[],
        &[
            ("http.reqbody == hello", 1),
            ("http.reqbody == \"<s:Envelope*\"", 3),
            ("http.reqbody == /.*testpass.*/", 1),
            ("http.reqbody == *WebKitFormBoundary*", 1),
            ("http.method == POST && http.reqbody == *", 9),
        ],
    );
}

/// SOCKS 5 opened by either end of a connection (counts from the captures' bytes:
/// in `socks5-reverse.pcap` the side that accepted on 8855 sends the greeting and
/// `CONNECT 74.125.131.103:80`, then an HTTP request through it; in
/// `socks5-http-302.pcap` the connecting side asks for `www.google.com:80`).
#[test]
fn socks_opened_by_either_side() {
    counts_hold(
        &["socks5-reverse.pcap", "socks5-http-302.pcap"],
        &[],
        &[
            ("protocols == socks", 2),
            ("ip.socks == 74.125.131.103 && port.socks == 80 && port.dst == 8855", 1),
            ("host.socks == www.google.com", 1),
            ("protocols == socks && protocols == http", 2),
            ("protocols == http && host.http == www.google.com && port.dst == 8855", 1),
        ],
    );
}

/// A BGP session's rows end at its first packet after five seconds without a message,
/// as Arkime writes them (tshark: `cloudshark-bgp-md5.pcap` opens, exchanges OPENs
/// and keepalives within 0.03 s, then a keepalive comes 60 s later: two rows, the
/// second a continuation; `ospf.pcap`'s keepalives, in a connection picked up
/// part-way, one row).
#[test]
fn bgp_rows_end_at_a_pause_as_arkime_writes_them() {
    counts_hold(
        &["cloudshark-bgp-md5.pcap", "ospf.pcap"],
        &[],
        &[
            ("port.dst == 179 && session.segments == 1", 2),
            ("port.dst == 179 && session.segments == 2", 1),
            ("session.closereason == quiet", 1),
            ("protocols == bgp && session.closereason == quiet && packets == 14", 1),
        ],
    );
}

/// ARP's operations and the bindings replies announce (tshark: `arkime_synthetic.pcap`
/// frames 245 and 246, 10.0.8.100 asking for 10.0.8.1 and the reply naming it at
/// 6a:70:c5:af:f1:f9).
#[test]
fn arp_bindings_searched_as_arkime_files_them() {
    counts_hold(
        &["arkime_synthetic.pcap"],
        &[],
        &[
            ("protocols == arp", 1),
            ("arp.opcode == 1 && arp.opcode == 2", 1),
            ("arp.ip == 10.0.8.1", 1),
            ("arp.ip == 10.0.8.100", 0),
            ("arp.mac == 6a:70:c5:af:f1:f9", 1),
            ("arp.ip == 10.0.8.0/24 && ip.src == 10.0.8.100", 1),
        ],
    );
}

/// ADB's values searched. `adb_synthetic.pcap` read with tshark (`adb` on port 5555,
/// the payloads of OPEN, CNXN and WRTE messages, and the port-5037 requests): OPENs
/// of `shell:` (40001), `shell,v2:` (40003) and `shell,v2,TERM=…,pty:` (40007); one
/// device banner with serial HVA12345; a sync SEND of `/sdcard/upload.txt,0644`;
/// forwards of tcp:8080 from 40004's OPEN and from 40006's `host:forward:` request,
/// 40004's reverse ones too; 40003's shell v2 exit packet holds 42; 40001 answers
/// the AUTH token with its RSA public key; 40005 turns to TLS after STLS both ways.
#[test]
fn adb_values_searched() {
    counts_hold(
        &["adb_synthetic.pcap"],
        &[],
        &[
            ("adb.service == shell", 3),
            ("adb.service == host", 1),
            ("adb.serial == HVA12345", 1),
            ("adb.sync.path == /sdcard/upload.txt", 1),
            ("adb.forward.local == tcp:8080", 2),
            ("adb.forward.direction == reverse", 1),
            ("adb.shell.exitcode == 42", 1),
            ("adb.authtype == rsapublickey", 1),
            ("protocols == adb && protocols == tls", 1),
        ],
    );
}

/// C12.22 and PANA values searched. Read with tshark: `c1222.pcap`'s two
/// associations (ports 1577 and 42787) each a request and an answer, every EPSEM
/// flags byte 0x88 (ciphertext with authentication, response always); the answers'
/// calling AP invocation ids are 44 and 11, the second request's calling AP title
/// 1.3.6.1.4.1.33507.1919.88.1 (its OBJECT IDENTIFIER's bytes). `pana_synthetic.pcap`:
/// one exchange (12345 to 716) of types 1 to 4, its termination's session id
/// 0xaabbccdd, and `eap.identity` testuser@example.com.
#[test]
fn c1222_and_pana_values_searched() {
    counts_hold(
        &["c1222.pcap", "pana_synthetic.pcap"],
        &[],
        &[
            ("protocols == c1222", 2),
            ("c1222.securityMode == ciphertext-with-auth", 2),
            ("c1222.callingApInvocationId == 44", 1),
            ("c1222.callingApInvocationId == [44, 11]", 2),
            ("c1222.calledApTitle == 1.3.6.1.4.1.33507.1919.88.1", 1),
            ("protocols == pana", 1),
            ("pana.msg-type == termination && pana.msg-type == notification", 1),
            ("pana.session-id == aabbccdd", 1),
            ("pana.user == testuser@example.com", 1),
        ],
    );
}

/// IS-IS PDU types searched. tshark's `isis.type` on
/// `packetlife-ISIS_level2_adjacency.pcap`: 34 level-2 LAN hellos (16), 3 level-2
/// LSPs (20), 6 level-2 CSNPs (25), and no level-1 PDU; Arkime files every IS-IS
/// frame of a capture in one session.
#[test]
fn isis_pdu_types_searched() {
    counts_hold(
        &["packetlife-ISIS_level2_adjacency.pcap"],
        &[],
        &[
            ("protocols == isis", 1),
            ("isis.msgType == lan-l2-hello && isis.msgType == l2-lsp && isis.msgType == l2-csnp", 1),
            ("isis.msgType == [lan-l1-hello, l1-lsp, l1-csnp, l1-psnp]", 0),
            ("isis.msgType.cnt == 3", 1),
        ],
    );
}

/// `entropy.src`/`entropy.dst` with `--entropy`, off without it. The values were
/// worked out apart from Tyto: each direction's bytes from tshark (`-z
/// follow,tcp,raw` for the TCP session, `udp.payload` for DNS), their Shannon
/// entropy in bits times 100, rounded (Python's `collections.Counter` and `log2`).
#[test]
fn entropy_of_each_directions_data_when_asked() {
    let Some(dir) = common::pcaps_dir().map(|d| d.join("arkime")) else { return };
    let entropy = |pcap: &str, on: bool| -> Vec<(Value, Value)> {
        let mut cmd = common::tyto();
        cmd.args(["dump", "--workers", "1"]).arg(dir.join(pcap));
        if on {
            cmd.arg("--entropy");
        }
        let out = common::ok(cmd.output().unwrap());
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .map(|r| (r["entropy.src"].clone(), r["entropy.dst"].clone()))
            .collect()
    };
    assert_eq!(entropy("http-301-get.pcap", true), [(Value::from(533), Value::from(480))]);
    assert_eq!(entropy("dns-mx.pcap", true), [(Value::from(272), Value::from(482))]);
    assert_eq!(entropy("http-301-get.pcap", false), [(Value::Null, Value::Null)]);
}

/// SS7 over SIGTRAN searched. `m3ua_synthetic.pcap` read with tshark (SCTP payload
/// protocols, `mtp3.service_indicator`, `m3ua.protocol_data_si`, `sccp.called.pc`,
/// `camel.callingPartyNumber`): M2UA on three associations (10.1.1.1 and 10.3.3.3
/// port 2904, 10.20.1.1 port 2906); ISUP (5) on three, TUP (4) on two; SCCP called
/// point code 500 on four (both 2907s, 10.5.5.5 and 10.7.7.7); 111111111 calling in
/// 10.5.5.5's InitialDP that two DATA fragments carry; 888888888 in two sessions
/// (10.7.7.7, 10.20.3.1); an InitialDP in nine sessions, and in 10.20.2.1's, whose
/// M3UA carries it in the drafts' Protocol Data parameter (0x0002), which tshark
/// leaves undecoded and Arkime's output reads (777777777 calling).
#[test]
fn sigtran_values_searched() {
    counts_hold(
        &["m3ua_synthetic.pcap"],
        &[],
        &[
            ("protocols == m2ua", 3),
            ("protocols == isup && m3ua.si == 5", 3),
            ("m3ua.si == 4 && protocols == tup", 2),
            ("sccp.dst == 500 && sccp.src == 600", 4),
            ("camel.calling == 111111111", 1),
            ("camel.calling == 888888888", 2),
            ("camel.op == initialDP && tcap.opcode == 0", 10),
            ("camel.calling == 777777777", 2),
        ],
    );
}

/// Synchrophasor frames' values searched (tshark: `synchrophasor_synthetic.pcap`
/// holds one CFG-1 and one CFG-3 frame, the CFG-3 naming stations PMU-ALPHA and
/// PMU-BRAVO, and a CFG-2 naming DeltaPMU).
#[test]
fn synchrophasor_values_searched() {
    counts_hold(
        &["synchrophasor_synthetic.pcap"],
        &[],
        &[
            ("synchrophasor.frameType == cfg3", 1),
            ("synchrophasor.frameType == cfg1", 1),
            ("synchrophasor.station == PMU-ALPHA && synchrophasor.station == PMU-BRAVO", 1),
            ("synchrophasor.station == DeltaPMU", 1),
            ("synchrophasor.numPMU == 2 && synchrophasor.frameType == cfg3", 1),
        ],
    );
}

/// The opening's sequence checks searched. `tcp_handshake_synthetic.pcap`, read with
/// tshark (`tcp.seq_raw`, `tcp.ack_raw`, flags): of its 14 connections, 12 have a
/// SYN-ACK acknowledging a SYN's number seen in it (not 40007, whose SYN is missing,
/// nor 40013, never answered); 6 have the client acknowledge the SYN-ACK's number
/// from where the SYN-ACK said it was (40001, 40007, 40008 — its ACK covers the
/// server's 21 bytes too —, 40009, 40012, 40014); two have SYNs with several numbers
/// (40003: 3000 and 7777777; 40013: 30000 and 30500 twice).
#[test]
fn sequence_checks_searched() {
    counts_hold(
        &["tcp_handshake_synthetic.pcap"],
        &[],
        &[
            ("tcp.synValidated == true", 12),
            ("tcp.synValidated == false", 2),
            ("tcp.synAckValidated == true", 6),
            ("tcp.srcISNCnt > 1", 2),
            ("tcp.srcISNCnt == 3", 1),
            ("tcpseq.src == 7777777", 0),
            ("tcpseq.src == 20000", 1),
            // The SYN-ACK's number where it came before any SYN (40007: 11000; 40012:
            // 21000), 0 where a SYN came first and a SYN-ACK followed (11 connections),
            // none where no SYN-ACK came (40013).
            ("tcpseq.dst == [11000, 21000]", 2),
            ("tcpseq.dst == 0", 11),
            ("tcpseq.dst == EXISTS!", 13),
        ],
    );
}

/// EtherNet/IP and CIP values searched (tshark on `arkime_synthetic.pcap`: five
/// conversations carry a ListIdentity (`enip.command == 0x0063`), one names vendor
/// 0x0031 (Siemens), one a Connection Manager class (`cip.class == 0x06`), four
/// carry CIP, one a status of 8, two a device type of 0x000c).
#[test]
fn enip_values_searched() {
    counts_hold(
        &["arkime_synthetic.pcap"],
        &[],
        &[
            ("enip.command == ListIdentity", 5),
            ("enip.vendor == Siemens", 1),
            ("enip.class == \"Connection Manager\"", 1),
            ("protocols == cip", 4),
            ("enip.status == 8", 1),
            ("enip.device-type == DeviceType-0x000c", 2),
        ],
    );
}

#[test]
fn payload8_searched_as_arkime_searches_it() {
    let Some(dir) = common::pcaps_dir().map(|d| d.join("arkime")) else { return };
    let inputs =
        [dir.join("http-301-get.pcap"), dir.join("dns-udp.pcap"), dir.join("turn.pcap"), dir.join("dns-mx.pcap")];
    let (_data, count) = ingested(&inputs, &["--community-id"]);
    for (expr, want) in [
        ("payload8.src.utf8 == \"GET / HT\"", 1),
        ("payload8.src.utf8 == GET*", 1),
        ("payload8.src.utf8 == /GET.*/", 1),
        ("payload8.src.utf8 == /.*NOT.*/", 0),
        ("payload8.src.hex == 474554202F204854", 1),
        ("payload8.src.hex == [474554202f204854, 00]", 1),
        ("protocols == http && payload8.src.hex != 474554202f204854", 0),
        ("payload.src == 474554*", 1),
        ("payload8.dst.utf8 == HTTP/1.1", 1),
        ("payload8.hex == 485454502f312e31", 1),
        ("payload8.utf8 == \"GET / HT\"", 1),
        ("payload8.utf8 == nothing", 0),
        ("session.length == 126", 1),
        // Half of SYN → ACK (41.753 ms, tshark's tcp.analysis.initial_rtt), as Arkime.
        ("initRTT == 20", 1),
        ("initRTT == 20 && protocols == http", 1),
        // The Community ID Zeek and Suricata give this flow (checked with the spec's
        // reference implementation).
        ("communityId == \"1:/wxImZfyysTBc/FfJh8ZIhrdJbI=\"", 1),
        // A response's records as Arkime files them (dns-udp.pcap: www.github.com).
        ("dns.answer.type == NS && dns.answer.ttl == 328", 1),
        ("dns.answer.type == NS && dns.answer.ttl == [327, 328]", 2),
        ("dns.answer.ns == ns1.p16.dynect.net && dns.answer.ip == 192.30.252.128", 1),
        ("dns.header_flags == RA && dns.answer.cnt == 10", 2),
        ("dns.query.host == www.github.com && host.dns.all == ns4.p16.dynect.net", 2),
        // A TURN allocation over TCP (turn.pcap), as Arkime's fields show it.
        ("stun.realm == turn.cloudflare.com && stun.error == 401 && stun.type == \"CreatePermission Response\"", 1),
        ("stun.xor-relayed-ip == 104.30.147.243 && stun.xor-mapped-ip == 108.56.17.155", 1),
        ("dns.answer.name == github.com && dns.answer.class == IN", 2),
    ] {
        assert_eq!(count(expr), want, "{expr}");
    }
    // The capture each session came from, by its absolute path, a pattern of paths
    // (a bare word beginning with a slash, as in Arkime) or a regular expression.
    let dir = std::fs::canonicalize(&dir).unwrap();
    let dir = dir.to_string_lossy();
    assert_eq!(count(&format!("file == {dir}/http-301-get.pcap")), 1);
    assert_eq!(count(&format!("file == {dir}/*.pcap")), 6);
    assert_eq!(count(&format!("file == {dir}/dns-udp.pcap && protocols == dns")), 3);
    assert_eq!(count("file == /.*http-301-get[.]pcap/"), 1);
    // Words of DNS names, with Arkime's own viewer tests' counts (`tests/api-sessions.t`).
    let dns = format!("(file == {dir}/dns-udp.pcap || file == {dir}/dns-mx.pcap)");
    for (words, want) in [
        ("dns.host.tokens == github", 2),
        ("dns.host.tokens == mx", 1),
        ("dns.host.tokens == [github, mx]", 3),
        ("dns.host.tokens != [github, mx]", 1),
    ] {
        assert_eq!(count(&format!("{dns} && {words}")), want, "{words}");
    }
}

/// An internationalised name looked up: `host.dns` holds it decoded and `dns.puny` its
/// `xn--` form, with the counts Arkime's own viewer tests give for the same name
/// (`tests/api-sessions.t` on its `dns-punycode.pcap`; the capture is made here).
#[test]
fn internationalised_names_are_decoded_as_arkime_decodes_them() {
    let tmp = tempfile::tempdir().unwrap();
    let mut query = b"\x4a\x21\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00".to_vec();
    for label in ["xn--80a0adav", "xn--80ao21a"] {
        query.push(label.len() as u8);
        query.extend_from_slice(label.as_bytes());
    }
    query.extend_from_slice(b"\x00\x00\x01\x00\x01");
    let pcap = tmp.path().join("dns-punycode.pcap");
    common::write_pcap(
        &pcap,
        &[common::udp(1_700_000_000_000_000_000, [10, 0, 0, 1], [10, 0, 0, 53], 40000, 53, &query)],
    );
    let data = tmp.path().join("data");
    common::ok(common::tyto().args(["ingest", "--data-dir"]).arg(&data).arg(&pcap).output().unwrap());
    let count = |expr: &str| -> u64 {
        let out = common::ok(common::tyto().args(["count", "--expr", expr, "--data-dir"]).arg(&data).output().unwrap());
        String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
    };
    assert_eq!(count("dns.puny == xn--80a0adav.xn--80ao21a"), 1);
    assert_eq!(count("dns.host == \"уаноо.қаз\""), 1);
    assert_eq!(count("host.dns == \"УАНОО.ҚАЗ\""), 1);
    assert_eq!(count("host.dns == xn--80a0adav.xn--80ao21a"), 0);
}

/// WebSocket frames after HTTP's upgrade, searched (tshark: one WebSocket stream in
/// each capture, the synthetic one closed with code 1000; the frames' texts as
/// `websocket.payload.text` shows them).
#[test]
fn websocket_frames_searched() {
    counts_hold(
        &["websocket.pcap", "arkime_synthetic.pcap"],
        &[],
        &[
            ("protocols == websocket", 2),
            ("websocket.opcode == Text", 2),
            ("websocket.opcode == Close", 1),
            ("websocket.closeCode == 1000", 1),
            ("websocket.closeReason == bye-split", 1),
            ("websocket.textSample == \"hello websocket\"", 1),
            ("websocket.textSample == *Frag*", 1),
            ("websocket.frameCnt == 5", 2),
            ("websocket.payloadBytes > 100", 1),
            ("websocket.maskedFromClient >= 3", 1),
            ("protocols.how == websocket:http", 2),
        ],
    );
}

/// SCTP's payload protocol identifiers searched (tshark's
/// `sctp.data_payload_proto_id`: two Diameter associations, 46; two HTTP ones, 0).
#[test]
fn sctp_protocol_ids_searched() {
    counts_hold(
        &["diameter_synthetic.pcap", "sctp-www.pcap"],
        &[],
        &[
            ("sctp.protoId == 46", 2),
            ("sctp.protoId == 0", 2),
            ("sctp.protoId == [46, 0]", 4),
            ("sctp.protoId == 3", 0),
            ("sctp.protoId.cnt == 1", 4),
            // Their user messages read as each direction's stream: tshark's `http`
            // and `diameter` frames are in all four.
            ("protocols == diameter && protocols == sctp", 2),
            ("protocols == http && protocols == sctp && http.method == GET", 2),
        ],
    );
}

/// BACnet searched (tshark: `arkime_synthetic.pcap`'s one BACnet/IP conversation, a
/// ReadProperty of the object name `AHU-1` and its complex answer).
#[test]
fn bacnet_values_searched() {
    counts_hold(
        &["arkime_synthetic.pcap"],
        &[],
        &[
            ("protocols == bacnet", 1),
            ("bacnet.function == original-unicast", 1),
            ("bacnet.service == read-property", 1),
            ("bacnet.apdu-type == [confirmed-request, complex-ack]", 1),
            ("bacnet.object-name == AHU-1", 1),
            ("bacnet.object-name == SYNERGY", 0),
        ],
    );
}
