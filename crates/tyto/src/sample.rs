//! A synthetic capture made by Tyto itself, for the quick start and for tests: every
//! client host opens an HTTP session, resolves a name over DNS and pings; a few
//! flows ride a VLAN or a GRE tunnel, and one datagram is fragmented. With
//! `incidents`, a few hosts then misbehave in the ways the detectors look for: a port
//! scan, lateral movement over SMB, an ARP sweep, a DNS tunnel, a burst of NXDOMAIN,
//! a session-rate spike and a scanner's user agent.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use anyhow::{Context, Result};
use tyto_pcapstore::{pcap_file_header, record_header};

/// 2024-05-01T12:00:00Z.
const START_NS: i64 = 1_714_564_800_000_000_000;
const SERVER_MAC: [u8; 6] = [0x00, 0x1b, 0x21, 0x3a, 0x4f, 0x10];

struct Pkt {
    ts_ns: i64,
    frame: Vec<u8>,
}

fn checksum(data: &[u8], mut sum: u32) -> u16 {
    for chunk in data.chunks(2) {
        let word = if chunk.len() == 2 { u16::from_be_bytes([chunk[0], chunk[1]]) } else { (chunk[0] as u16) << 8 };
        sum += word as u32;
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

fn ipv4(proto: u8, src: [u8; 4], dst: [u8; 4], id: u16, frag: u16, payload: &[u8]) -> Vec<u8> {
    let mut h = vec![0x45, 0];
    h.extend_from_slice(&((20 + payload.len()) as u16).to_be_bytes());
    h.extend_from_slice(&id.to_be_bytes());
    h.extend_from_slice(&frag.to_be_bytes());
    h.extend_from_slice(&[64, proto, 0, 0]);
    h.extend_from_slice(&src);
    h.extend_from_slice(&dst);
    let c = checksum(&h, 0);
    h[10..12].copy_from_slice(&c.to_be_bytes());
    h.extend_from_slice(payload);
    h
}

fn pseudo_sum(src: [u8; 4], dst: [u8; 4], proto: u8, len: usize) -> u32 {
    let mut s = 0u32;
    for w in [&src[..2], &src[2..], &dst[..2], &dst[2..]] {
        s += u16::from_be_bytes([w[0], w[1]]) as u32;
    }
    s + proto as u32 + len as u32
}

#[allow(clippy::too_many_arguments)]
fn tcp(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16, seq: u32, ack: u32, flags: u8, data: &[u8]) -> Vec<u8> {
    let mut t = Vec::with_capacity(20 + data.len());
    t.extend_from_slice(&sport.to_be_bytes());
    t.extend_from_slice(&dport.to_be_bytes());
    t.extend_from_slice(&seq.to_be_bytes());
    t.extend_from_slice(&ack.to_be_bytes());
    t.extend_from_slice(&[0x50, flags, 0xfa, 0xf0, 0, 0, 0, 0]);
    t.extend_from_slice(data);
    let c = checksum(&t, pseudo_sum(src, dst, 6, t.len()));
    t[16..18].copy_from_slice(&c.to_be_bytes());
    ipv4(6, src, dst, seq as u16, 0x4000, &t)
}

fn udp(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16, data: &[u8]) -> Vec<u8> {
    let mut u = Vec::with_capacity(8 + data.len());
    u.extend_from_slice(&sport.to_be_bytes());
    u.extend_from_slice(&dport.to_be_bytes());
    u.extend_from_slice(&((8 + data.len()) as u16).to_be_bytes());
    u.extend_from_slice(&[0, 0]);
    u.extend_from_slice(data);
    let c = checksum(&u, pseudo_sum(src, dst, 17, u.len()));
    u[6..8].copy_from_slice(&c.to_be_bytes());
    ipv4(17, src, dst, sport, 0, &u)
}

fn eth(src: [u8; 6], dst: [u8; 6], vlan: Option<u16>, ip: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(18 + ip.len());
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    if let Some(v) = vlan {
        f.extend_from_slice(&[0x81, 0x00]);
        f.extend_from_slice(&v.to_be_bytes());
    }
    f.extend_from_slice(&[0x08, 0x00]);
    f.extend_from_slice(ip);
    if f.len() < 60 {
        f.resize(60, 0); // Ethernet's minimum frame: padding that is not payload
    }
    f
}

fn dns_query(id: u16, name: &str, answer: Option<[u8; 4]>) -> Vec<u8> {
    let mut m = Vec::new();
    m.extend_from_slice(&id.to_be_bytes());
    m.extend_from_slice(if answer.is_some() { &[0x81, 0x80] } else { &[0x01, 0x00] });
    m.extend_from_slice(&[0, 1, 0, answer.is_some() as u8, 0, 0, 0, 0]);
    for label in name.split('.') {
        m.push(label.len() as u8);
        m.extend_from_slice(label.as_bytes());
    }
    m.extend_from_slice(&[0, 0, 1, 0, 1]);
    if let Some(a) = answer {
        m.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0x0e, 0x10, 0, 4]);
        m.extend_from_slice(&a);
    }
    m
}

fn host(h: u32) -> ([u8; 4], [u8; 6]) {
    let ip = [10, 1, (h / 250) as u8, (h % 250 + 1) as u8];
    (ip, [0x02, 0x00, 0x0a, 0x01, ip[2], ip[3]])
}

fn traffic(hosts: u32) -> Vec<Pkt> {
    let web = [192, 0, 2, 10];
    let dns = [192, 0, 2, 53];
    let gw = [192, 0, 2, 1];
    let mut out = Vec::new();
    for h in 0..hosts {
        let (ip, mac) = host(h);
        let t0 = START_NS + h as i64 * 500_000_000;
        let ms = |n: i64| t0 + n * 1_000_000;
        let vlan = (h % 7 == 3).then_some(100 + (h % 3) as u16);
        let to_srv = |ip_pkt: Vec<u8>| eth(mac, SERVER_MAC, vlan, &ip_pkt);
        let to_cli = |ip_pkt: Vec<u8>| eth(SERVER_MAC, mac, vlan, &ip_pkt);
        // DNS, then HTTP to the answer.
        let name = format!("www{}.example.com", h % 5);
        let dport = 40_000 + (h % 20_000) as u16;
        out.push(Pkt { ts_ns: ms(0), frame: to_srv(udp(ip, dns, dport, 53, &dns_query(h as u16, &name, None))) });
        out.push(Pkt { ts_ns: ms(3), frame: to_cli(udp(dns, ip, 53, dport, &dns_query(h as u16, &name, Some(web)))) });
        let sport = 50_000 + (h % 15_000) as u16;
        // Initial sequence numbers spread out, with room below 2^32 for the bytes sent.
        let isn = |step: u64| ((step * (h as u64 + 1)) % 4_000_000_000) as u32;
        let (c, s) = (isn(1_000_000), isn(2_000_000));
        let req =
            format!("GET /page/{h} HTTP/1.1\r\nHost: {name}\r\nUser-Agent: tyto-sample/1.0\r\nAccept: */*\r\n\r\n");
        let body = format!("<html><body>page {h}</body></html>");
        let resp =
            format!("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\n\r\n{body}", body.len());
        let (rq, rs) = (req.len() as u32, resp.len() as u32);
        out.push(Pkt { ts_ns: ms(10), frame: to_srv(tcp(ip, web, sport, 80, c, 0, 0x02, b"")) });
        out.push(Pkt { ts_ns: ms(11), frame: to_cli(tcp(web, ip, 80, sport, s, c + 1, 0x12, b"")) });
        out.push(Pkt { ts_ns: ms(12), frame: to_srv(tcp(ip, web, sport, 80, c + 1, s + 1, 0x10, b"")) });
        out.push(Pkt { ts_ns: ms(13), frame: to_srv(tcp(ip, web, sport, 80, c + 1, s + 1, 0x18, req.as_bytes())) });
        out.push(Pkt {
            ts_ns: ms(20),
            frame: to_cli(tcp(web, ip, 80, sport, s + 1, c + 1 + rq, 0x18, resp.as_bytes())),
        });
        out.push(Pkt { ts_ns: ms(21), frame: to_srv(tcp(ip, web, sport, 80, c + 1 + rq, s + 1 + rs, 0x11, b"")) });
        out.push(Pkt { ts_ns: ms(22), frame: to_cli(tcp(web, ip, 80, sport, s + 1 + rs, c + 2 + rq, 0x11, b"")) });
        out.push(Pkt { ts_ns: ms(23), frame: to_srv(tcp(ip, web, sport, 80, c + 2 + rq, s + 2 + rs, 0x10, b"")) });
        // A ping.
        let echo = |kind: u8| {
            let mut m = vec![kind, 0, 0, 0, 0, 1, 0, (h % 256) as u8];
            m.extend_from_slice(&[0x61; 32]);
            let c = checksum(&m, 0);
            m[2..4].copy_from_slice(&c.to_be_bytes());
            m
        };
        out.push(Pkt { ts_ns: ms(100), frame: to_srv(ipv4(1, ip, gw, h as u16, 0, &echo(8))) });
        out.push(Pkt { ts_ns: ms(101), frame: to_cli(ipv4(1, gw, ip, h as u16, 0, &echo(0))) });
    }
    // A UDP datagram too large for one frame, sent as three fragments, last first.
    let (ip, mac) = host(0);
    let big: Vec<u8> = (0..3000u32).map(|i| (i % 251) as u8).collect();
    let whole = udp(ip, [192, 0, 2, 99], 5000, 9999, &big);
    let payload = &whole[20..];
    for (n, chunk) in payload.chunks(1480).enumerate().rev() {
        let more = (n + 1) * 1480 < payload.len();
        let frag = ((n * 1480 / 8) as u16) | if more { 0x2000 } else { 0 };
        let frame = eth(mac, SERVER_MAC, None, &ipv4(17, ip, [192, 0, 2, 99], 0x7777, frag, chunk));
        out.push(Pkt { ts_ns: START_NS + 2_000_000_000 - n as i64 * 1000, frame });
    }
    // A ping carried in GRE between two routers.
    let inner = ipv4(1, [172, 16, 0, 1], [172, 16, 0, 2], 1, 0, &[8, 0, 0xf7, 0xfe, 0, 1, 0, 1]);
    let mut gre = vec![0, 0, 0x08, 0x00];
    gre.extend_from_slice(&inner);
    let frame = eth(mac, SERVER_MAC, None, &ipv4(47, [198, 51, 100, 1], [198, 51, 100, 2], 9, 0, &gre));
    out.push(Pkt { ts_ns: START_NS + 3_000_000_000, frame });
    out.sort_by_key(|p| p.ts_ns);
    out
}

/// One TCP conversation: handshake, a request, a response, both FINs.
fn conversation(
    out: &mut Vec<Pkt>,
    t0: i64,
    client: ([u8; 4], [u8; 6]),
    server: [u8; 4],
    ports: (u16, u16),
    req: &[u8],
    resp: &[u8],
) {
    let ((ip, mac), srv, (sport, dport)) = (client, server, ports);
    let ms = |n: i64| t0 + n * 1_000_000;
    let to_srv = |p: Vec<u8>| eth(mac, SERVER_MAC, None, &p);
    let to_cli = |p: Vec<u8>| eth(SERVER_MAC, mac, None, &p);
    let (c, s) = (0x1000_0000u32.wrapping_add(sport as u32 * 977), 0x2000_0000u32.wrapping_add(dport as u32 * 131));
    let (rq, rs) = (req.len() as u32, resp.len() as u32);
    out.push(Pkt { ts_ns: ms(0), frame: to_srv(tcp(ip, srv, sport, dport, c, 0, 0x02, b"")) });
    out.push(Pkt { ts_ns: ms(1), frame: to_cli(tcp(srv, ip, dport, sport, s, c + 1, 0x12, b"")) });
    out.push(Pkt { ts_ns: ms(2), frame: to_srv(tcp(ip, srv, sport, dport, c + 1, s + 1, 0x10, b"")) });
    out.push(Pkt { ts_ns: ms(3), frame: to_srv(tcp(ip, srv, sport, dport, c + 1, s + 1, 0x18, req)) });
    out.push(Pkt { ts_ns: ms(8), frame: to_cli(tcp(srv, ip, dport, sport, s + 1, c + 1 + rq, 0x18, resp)) });
    out.push(Pkt { ts_ns: ms(9), frame: to_srv(tcp(ip, srv, sport, dport, c + 1 + rq, s + 1 + rs, 0x11, b"")) });
    out.push(Pkt { ts_ns: ms(10), frame: to_cli(tcp(srv, ip, dport, sport, s + 1 + rs, c + 2 + rq, 0x11, b"")) });
    out.push(Pkt { ts_ns: ms(11), frame: to_srv(tcp(ip, srv, sport, dport, c + 2 + rq, s + 2 + rs, 0x10, b"")) });
}

/// A DNS message with one question of `qtype`; an answer when `rdata` is given, or
/// just the response code `rcode`.
fn dns_message(id: u16, name: &str, qtype: u16, response: Option<(u8, Option<&[u8]>)>) -> Vec<u8> {
    let mut m = Vec::new();
    m.extend_from_slice(&id.to_be_bytes());
    let answers = matches!(response, Some((_, Some(_)))) as u8;
    match response {
        Some((rcode, _)) => m.extend_from_slice(&[0x81, 0x80 | rcode]),
        None => m.extend_from_slice(&[0x01, 0x00]),
    }
    m.extend_from_slice(&[0, 1, 0, answers, 0, 0, 0, 0]);
    for label in name.split('.') {
        m.push(label.len() as u8);
        m.extend_from_slice(label.as_bytes());
    }
    m.push(0);
    m.extend_from_slice(&qtype.to_be_bytes());
    m.extend_from_slice(&[0, 1]);
    if let Some((_, Some(rdata))) = response {
        m.extend_from_slice(&[0xc0, 0x0c]);
        m.extend_from_slice(&qtype.to_be_bytes());
        m.extend_from_slice(&[0, 1, 0, 0, 0, 60]);
        m.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        m.extend_from_slice(rdata);
    }
    m
}

/// Letters and digits that look random (base32, as DNS tunnels encode data).
fn scrambled(seed: u32, len: usize) -> String {
    let mut x = seed.wrapping_mul(2_654_435_761) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            b"abcdefghijklmnopqrstuvwxyz234567"[(x % 32) as usize] as char
        })
        .collect()
}

/// What the detectors are for, each from its own host, from two minutes in.
fn incidents() -> Vec<Pkt> {
    let mut out = Vec::new();
    let attacker = ([10, 1, 9, 9], [0x02, 0x00, 0x0a, 0x01, 0x09, 0x09]);
    let web = [192, 0, 2, 10];
    let dns = [192, 0, 2, 53];
    let at = |s: i64| START_NS + s * 1_000_000_000;
    // A SYN scan of 200 ports of the web server, answered by resets.
    for port in 1..=200u16 {
        let t = at(120) + port as i64 * 2_000_000;
        let (ip, mac) = attacker;
        out.push(Pkt { ts_ns: t, frame: eth(mac, SERVER_MAC, None, &tcp(ip, web, 61_000, port, 7, 0, 0x02, b"")) });
        let rst = tcp(web, ip, port, 61_000, 0, 8, 0x14, b"");
        out.push(Pkt { ts_ns: t + 300_000, frame: eth(SERVER_MAC, mac, None, &rst) });
    }
    // Lateral movement: SMB sessions with data, to 12 internal hosts.
    let mut negotiate = vec![0, 0, 0, 0x44, 0xfe, b'S', b'M', b'B', 64, 0];
    negotiate.resize(0x48, 0);
    let mut answer = vec![0, 0, 0, 0x80, 0xfe, b'S', b'M', b'B', 64, 0];
    answer.resize(0x84, 0);
    for h in 0..12u32 {
        let (target, _) = host(h);
        conversation(
            &mut out,
            at(180) + h as i64 * 500_000_000,
            attacker,
            target,
            (49_200 + h as u16, 445),
            &negotiate,
            &answer,
        );
    }
    // An ARP sweep of 40 addresses, unanswered.
    for h in 1..=40u8 {
        let (ip, mac) = attacker;
        let mut f = vec![0xff; 6];
        f.extend_from_slice(&mac);
        f.extend_from_slice(&[0x08, 0x06, 0, 1, 0x08, 0x00, 6, 4, 0, 1]);
        f.extend_from_slice(&mac);
        f.extend_from_slice(&ip);
        f.extend_from_slice(&[0; 6]);
        f.extend_from_slice(&[10, 1, 5, h]);
        f.resize(60, 0);
        out.push(Pkt { ts_ns: at(240) + h as i64 * 10_000_000, frame: f });
    }
    // A DNS tunnel: TXT lookups of data-carrying names, answered with TXT records.
    let tunneller = ([10, 1, 9, 8], [0x02, 0x00, 0x0a, 0x01, 0x09, 0x08]);
    for i in 0..40u32 {
        let name = format!("{}.{}.t.tunnel.example", scrambled(i, 50), scrambled(i + 1000, 30));
        let mut txt = vec![40];
        txt.extend_from_slice(scrambled(i + 2000, 40).as_bytes());
        let (ip, mac) = tunneller;
        let port = 30_000 + i as u16;
        let t = at(300) + i as i64 * 200_000_000;
        let q = udp(ip, dns, port, 53, &dns_message(i as u16, &name, 16, None));
        let a = udp(dns, ip, 53, port, &dns_message(i as u16, &name, 16, Some((0, Some(&txt)))));
        out.push(Pkt { ts_ns: t, frame: eth(mac, SERVER_MAC, None, &q) });
        out.push(Pkt { ts_ns: t + 5_000_000, frame: eth(SERVER_MAC, mac, None, &a) });
    }
    // Generated domain names, 40 of them NXDOMAIN.
    let dga = ([10, 1, 9, 7], [0x02, 0x00, 0x0a, 0x01, 0x09, 0x07]);
    for i in 0..40u32 {
        let name = format!("{}.example", scrambled(i + 5000, 14));
        let (ip, mac) = dga;
        let port = 31_000 + i as u16;
        let t = at(360) + i as i64 * 300_000_000;
        let q = udp(ip, dns, port, 53, &dns_message(i as u16, &name, 1, None));
        let a = udp(dns, ip, 53, port, &dns_message(i as u16, &name, 1, Some((3, None))));
        out.push(Pkt { ts_ns: t, frame: eth(mac, SERVER_MAC, None, &q) });
        out.push(Pkt { ts_ns: t + 5_000_000, frame: eth(SERVER_MAC, mac, None, &a) });
    }
    // A host that fetches one page a minute for a quarter of an hour, then 400 in a minute.
    let burster = ([10, 1, 9, 6], [0x02, 0x00, 0x0a, 0x01, 0x09, 0x06]);
    let page = b"GET /status HTTP/1.1\r\nHost: status.example\r\n\r\n";
    let ok = b"HTTP/1.1 204 No Content\r\n\r\n";
    for minute in 0..15u16 {
        conversation(&mut out, at(minute as i64 * 60 + 5), burster, web, (20_000 + minute, 80), page, ok);
    }
    for i in 0..400u16 {
        conversation(&mut out, at(15 * 60 + 5) + i as i64 * 100_000_000, burster, web, (21_000 + i, 80), page, ok);
    }
    // A vulnerability scanner's request.
    let sqlmap = b"GET /item?id=1%27%20AND%201=1 HTTP/1.1\r\nHost: shop.example\r\nUser-Agent: sqlmap/1.7.2#stable (https://sqlmap.org)\r\n\r\n";
    conversation(&mut out, at(420), attacker, web, (52_000, 80), sqlmap, b"HTTP/1.1 500 Internal Server Error\r\n\r\n");
    out
}

pub fn write_sample(path: &Path, hosts: u32, with_incidents: bool) -> Result<()> {
    let hosts = hosts.clamp(1, 60_000);
    let file = File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let mut w = BufWriter::new(file);
    w.write_all(&pcap_file_header(1))?;
    let mut packets = traffic(hosts);
    if with_incidents {
        packets.extend(incidents());
        packets.sort_by_key(|p| p.ts_ns);
    }
    for p in &packets {
        w.write_all(&record_header(p.ts_ns, p.frame.len() as u32, p.frame.len() as u32))?;
        w.write_all(&p.frame)?;
    }
    w.flush()?;
    eprintln!("wrote {} packets ({} client hosts) to {}", packets.len(), hosts, path.display());
    Ok(())
}
