//! A synthetic capture made by Tyto itself, for the quick start and for tests: every
//! client host opens an HTTP session, resolves a name over DNS and pings; a few
//! flows ride a VLAN or a GRE tunnel, and one datagram is fragmented.

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
        let (c, s) = (1_000_000 * (h + 1), 2_000_000 * (h + 1));
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

pub fn write_sample(path: &Path, hosts: u32) -> Result<()> {
    let hosts = hosts.clamp(1, 60_000);
    let file = File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let mut w = BufWriter::new(file);
    w.write_all(&pcap_file_header(1))?;
    let packets = traffic(hosts);
    for p in &packets {
        w.write_all(&record_header(p.ts_ns, p.frame.len() as u32, p.frame.len() as u32))?;
        w.write_all(&p.frame)?;
    }
    w.flush()?;
    eprintln!("wrote {} packets ({} client hosts) to {}", packets.len(), hosts, path.display());
    Ok(())
}
