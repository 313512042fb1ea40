use super::*;
use crate::tcpflag;

const MAC_A: [u8; 6] = [0x00, 0x1f, 0x5b, 0xff, 0x51, 0xcb];
const MAC_B: [u8; 6] = [0x00, 0x13, 0x72, 0xc4, 0xf1, 0xe1];

fn eth(ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&MAC_B); // destination
    f.extend_from_slice(&MAC_A); // source
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

fn ipv4(proto: u8, src: [u8; 4], dst: [u8; 4], payload: &[u8]) -> Vec<u8> {
    let total = (20 + payload.len()) as u16;
    let mut p = vec![0x45, 0x00];
    p.extend_from_slice(&total.to_be_bytes());
    p.extend_from_slice(&[0x12, 0x34, 0x00, 0x00, 64, proto, 0, 0]);
    p.extend_from_slice(&src);
    p.extend_from_slice(&dst);
    p.extend_from_slice(payload);
    p
}

fn tcp(sport: u16, dport: u16, flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut t = Vec::new();
    t.extend_from_slice(&sport.to_be_bytes());
    t.extend_from_slice(&dport.to_be_bytes());
    t.extend_from_slice(&1000u32.to_be_bytes());
    t.extend_from_slice(&0u32.to_be_bytes());
    t.extend_from_slice(&[0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
    t.extend_from_slice(payload);
    t
}

fn udp(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut u = Vec::new();
    u.extend_from_slice(&sport.to_be_bytes());
    u.extend_from_slice(&dport.to_be_bytes());
    u.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    u.extend_from_slice(&[0, 0]);
    u.extend_from_slice(payload);
    u
}

#[test]
fn ethernet_ipv4_tcp_with_padding() {
    // A bare SYN is 54 bytes; Ethernet pads it to 60. The padding is not payload.
    let mut f = eth(0x0800, &ipv4(6, [10, 0, 0, 1], [10, 0, 0, 2], &tcp(61450, 80, 0x02, b"")));
    f.extend_from_slice(&[0u8; 6]);
    let d = decode(LinkType::ETHERNET, &f).unwrap();
    assert_eq!(d.mac_src, Some(MacAddr(MAC_A)));
    assert_eq!(d.mac_dst, Some(MacAddr(MAC_B)));
    let ip = d.ip.unwrap();
    assert_eq!(ip.src.to_string(), "10.0.0.1");
    assert_eq!(ip.payload_len, 0);
    match ip.transport {
        Transport::Tcp { src_port, dst_port, flags, .. } => {
            assert_eq!((src_port, dst_port), (61450, 80));
            assert_eq!(flags, tcpflag::SYN);
        }
        other => panic!("expected TCP, got {other:?}"),
    }
}

#[test]
fn qinq_and_vlan_tags_are_recorded() {
    let inner = ipv4(17, [1, 1, 1, 1], [2, 2, 2, 2], &udp(5000, 53, b"abcd"));
    let mut tagged = vec![0x00, 0x64, 0x81, 0x00, 0x00, 0xc8, 0x08, 0x00];
    tagged.extend_from_slice(&inner);
    let d = decode(LinkType::ETHERNET, &eth(0x88a8, &tagged)).unwrap();
    assert_eq!(d.vlan_count, 2);
    assert_eq!(d.vlans, [100, 200]);
    assert!(d.encap.contains(Encap::QINQ) && d.encap.contains(Encap::VLAN));
    assert_eq!(d.ip.unwrap().payload_len, 4);
}

#[test]
fn vxlan_keys_on_the_inner_packet() {
    let inner = eth(0x0800, &ipv4(6, [192, 168, 0, 1], [192, 168, 0, 2], &tcp(1234, 443, 0x18, b"hello")));
    let mut vx = vec![0x08, 0, 0, 0, 0, 0, 42, 0];
    vx.extend_from_slice(&inner);
    let outer = eth(0x0800, &ipv4(17, [10, 0, 0, 1], [10, 0, 0, 2], &udp(50000, 4789, &vx)));
    let d = decode(LinkType::ETHERNET, &outer).unwrap();
    let ip = d.ip.unwrap();
    assert_eq!(ip.src.to_string(), "192.168.0.1");
    assert_eq!(ip.payload_len, 5);
    assert_eq!(d.vni, Some(42));
    assert!(d.encap.contains(Encap::VXLAN));
    let (osrc, odst) = d.outer_ip.unwrap();
    assert_eq!((osrc.to_string(), odst.to_string()), ("10.0.0.1".into(), "10.0.0.2".into()));
}

#[test]
fn a_tunnel_that_does_not_parse_falls_back_to_the_outer_packet() {
    // UDP to port 4789 whose payload is not VXLAN (the I flag is clear).
    let outer = eth(0x0800, &ipv4(17, [10, 0, 0, 1], [10, 0, 0, 2], &udp(50000, 4789, &[0u8; 30])));
    let d = decode(LinkType::ETHERNET, &outer).unwrap();
    assert_eq!(d.ip.unwrap().transport, Transport::Udp { src_port: 50000, dst_port: 4789 });
    assert_eq!(d.encap, Encap::default());
    assert_eq!(d.outer_ip, None);
}

#[test]
fn gre_carries_ipv4() {
    let inner = ipv4(1, [172, 16, 0, 1], [172, 16, 0, 2], &[8, 0, 0, 0, 0, 1, 0, 1]);
    let mut g = vec![0x00, 0x00, 0x08, 0x00];
    g.extend_from_slice(&inner);
    let d = decode(LinkType::ETHERNET, &eth(0x0800, &ipv4(47, [1, 0, 0, 1], [1, 0, 0, 2], &g))).unwrap();
    let ip = d.ip.unwrap();
    assert_eq!(ip.protocol, 1);
    assert_eq!(ip.transport, Transport::Icmp { kind: 8, code: 0 });
    assert!(d.encap.contains(Encap::GRE));
}

#[test]
fn ipv4_fragments_are_flagged() {
    let mut p = ipv4(17, [1, 1, 1, 1], [2, 2, 2, 2], &[0u8; 16]);
    p[6] = 0x00;
    p[7] = 0x02; // offset 2 * 8 = 16 bytes
    let d = decode(LinkType::RAW, &p).unwrap();
    let ip = d.ip.unwrap();
    assert_eq!(ip.fragment, Some(Fragment { id: 0x1234, offset: 16, more: false, data_offset: 20 }));
    assert_eq!(ip.transport, Transport::None);
    assert_eq!(ip.payload_len, 16);
}

#[test]
fn ipv6_with_extension_and_fragment_header() {
    let mut p = vec![0x60, 0, 0, 0];
    let payload_len = 8 + 8 + 8 + 4u16; // hop-by-hop, fragment, udp, data
    p.extend_from_slice(&payload_len.to_be_bytes());
    p.extend_from_slice(&[0, 64]); // next = hop-by-hop
    p.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    p.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
    p.extend_from_slice(&[44, 0, 0, 0, 0, 0, 0, 0]); // hop-by-hop → fragment
    p.extend_from_slice(&[17, 0, 0x00, 0x01, 0, 0, 0, 7]); // first fragment, more follow
    p.extend_from_slice(&udp(53, 5353, b"abcd"));
    let d = decode(LinkType::RAW, &p).unwrap();
    let ip = d.ip.unwrap();
    assert!(ip.v6);
    assert_eq!(ip.protocol, 17);
    assert_eq!(ip.fragment, Some(Fragment { id: 7, offset: 0, more: true, data_offset: 56 }));
    assert_eq!(ip.transport, Transport::Udp { src_port: 53, dst_port: 5353 });
}

#[test]
fn linux_cooked_and_loopback_link_types() {
    let ip = ipv4(6, [127, 0, 0, 1], [127, 0, 0, 1], &tcp(1, 2, 0x10, b"x"));
    let mut sll = vec![0, 0, 0, 1, 0, 6];
    sll.extend_from_slice(&MAC_A);
    sll.extend_from_slice(&[0, 0, 0x08, 0x00]);
    sll.extend_from_slice(&ip);
    let d = decode(LinkType::LINUX_SLL, &sll).unwrap();
    assert_eq!(d.mac_src, Some(MacAddr(MAC_A)));
    assert_eq!(d.ip.unwrap().payload_len, 1);

    let mut null = 2u32.to_le_bytes().to_vec();
    null.extend_from_slice(&ip);
    assert_eq!(decode(LinkType::NULL, &null).unwrap().ip.unwrap().payload_len, 1);
}

#[test]
fn non_ip_frames_keep_their_ethertype() {
    let d = decode(LinkType::ETHERNET, &eth(0x0806, &[0u8; 28])).unwrap();
    assert_eq!(d.ethertype, 0x0806);
    assert!(d.ip.is_none());
}

#[test]
fn truncated_headers_are_errors_with_offsets() {
    let f = eth(0x0800, &[0x45, 0x00, 0x00]);
    assert_eq!(decode(LinkType::ETHERNET, &f), Err(DecodeError::Truncated { layer: "ipv4", offset: 14 }));
    assert_eq!(decode(LinkType(9999), &f), Err(DecodeError::UnsupportedLinkType(9999)));
    assert!(decode(LinkType::ETHERNET, &[]).is_err());
}

#[test]
fn a_cut_tcp_header_is_flagged_not_dropped() {
    let mut p = ipv4(6, [1, 1, 1, 1], [2, 2, 2, 2], &[0u8; 10]);
    p.truncate(30);
    let ip = decode(LinkType::RAW, &p).unwrap().ip.unwrap();
    assert!(ip.truncated);
    assert_eq!(ip.transport, Transport::None);
}

#[test]
fn every_prefix_of_a_tunnelled_frame_decodes_without_panic() {
    let inner = eth(0x0800, &ipv4(6, [192, 168, 0, 1], [192, 168, 0, 2], &tcp(1234, 443, 0x18, b"hello")));
    let mut vx = vec![0x08, 0, 0, 0, 0, 0, 42, 0];
    vx.extend_from_slice(&inner);
    let outer = eth(0x8100, &{
        let mut v = vec![0, 5, 0x08, 0x00];
        v.extend_from_slice(&ipv4(17, [10, 0, 0, 1], [10, 0, 0, 2], &udp(50000, 4789, &vx)));
        v
    });
    for n in 0..=outer.len() {
        for lt in [1u32, 101, 113, 276, 0, 105, 127, 192, 239, 9, 104, 107] {
            let _ = decode(LinkType(lt), &outer[..n]);
        }
    }
}

#[test]
fn mpls_pppoe_and_erspan_lead_to_the_inner_packet() {
    let inner = ipv4(17, [10, 9, 9, 9], [10, 8, 8, 8], &udp(1000, 2000, b"x"));
    // Two MPLS labels, the second with bottom-of-stack.
    let mut mpls = vec![0x00, 0x01, 0x00, 0x40, 0x00, 0x02, 0x01, 0x40];
    mpls.extend_from_slice(&inner);
    let d = decode(LinkType::ETHERNET, &eth(0x8847, &mpls)).unwrap();
    assert!(d.encap.contains(Encap::MPLS));
    assert_eq!(d.ip.unwrap().transport.ports(), (1000, 2000));

    let mut pppoe = vec![0x11, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x21];
    pppoe.extend_from_slice(&inner);
    let d = decode(LinkType::ETHERNET, &eth(0x8864, &pppoe)).unwrap();
    assert!(d.encap.contains(Encap::PPPOE));
    assert_eq!(d.ip.unwrap().src.to_string(), "10.9.9.9");

    // ERSPAN type II: GRE with a sequence number, an 8-byte header, then Ethernet.
    let mut gre = vec![0x10, 0x00, 0x88, 0xbe, 0, 0, 0, 1, 0x10, 0, 0, 1, 0, 0, 0, 0];
    gre.extend_from_slice(&eth(0x0800, &inner));
    let d = decode(LinkType::ETHERNET, &eth(0x0800, &ipv4(47, [1, 1, 1, 1], [2, 2, 2, 2], &gre))).unwrap();
    assert!(d.encap.contains(Encap::ERSPAN));
    assert_eq!(d.ip.unwrap().src.to_string(), "10.9.9.9");
    assert_eq!(d.outer_mac_src, Some(MacAddr(MAC_A)));
}

#[test]
fn geneve_gtp_and_ipv6_in_ipv4() {
    let inner = ipv4(6, [172, 16, 1, 1], [172, 16, 1, 2], &tcp(5555, 22, 0x02, b""));
    let mut geneve = vec![0x00, 0x00, 0x08, 0x00, 0x00, 0x00, 0x07, 0x00];
    geneve.extend_from_slice(&inner);
    let d = decode(LinkType::ETHERNET, &eth(0x0800, &ipv4(17, [1, 1, 1, 1], [2, 2, 2, 2], &udp(1, 6081, &geneve))))
        .unwrap();
    assert!(d.encap.contains(Encap::GENEVE));
    assert_eq!(d.vni, Some(7));
    assert_eq!(d.ip.unwrap().transport.ports(), (5555, 22));

    let mut gtp = vec![0x30, 0xff, 0x00, inner.len() as u8, 0, 0, 0, 9];
    gtp.extend_from_slice(&inner);
    let d = decode(LinkType::ETHERNET, &eth(0x0800, &ipv4(17, [1, 1, 1, 1], [2, 2, 2, 2], &udp(2152, 2152, &gtp))))
        .unwrap();
    assert!(d.encap.contains(Encap::GTPU));
    assert_eq!(d.ip.unwrap().src.to_string(), "172.16.1.1");

    let mut v6 = vec![0x60, 0, 0, 0, 0, 8, 17, 64];
    v6.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    v6.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
    v6.extend_from_slice(&udp(7, 8, b""));
    let d = decode(LinkType::ETHERNET, &eth(0x0800, &ipv4(41, [1, 1, 1, 1], [2, 2, 2, 2], &v6))).unwrap();
    assert!(d.encap.contains(Encap::IP_IN_IP));
    assert!(d.ip.unwrap().v6);
}

#[test]
fn sll2_nflog_and_radiotap_wifi() {
    let ip = ipv4(17, [10, 0, 0, 1], [10, 0, 0, 2], &udp(53, 53, b"abcd"));
    let mut sll2 = vec![0x08, 0x00, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6];
    sll2.extend_from_slice(&MAC_A);
    sll2.extend_from_slice(&[0, 0]);
    sll2.extend_from_slice(&ip);
    let d = decode(LinkType::LINUX_SLL2, &sll2).unwrap();
    assert_eq!(d.mac_src, Some(MacAddr(MAC_A)));
    assert_eq!(d.ip.unwrap().payload_len, 4);

    // NFLOG: header, a prefix TLV (padded to 4), then the payload TLV.
    let mut nflog = vec![2, 0, 0, 0];
    nflog.extend_from_slice(&[7, 0, 10, 0, b'a', b'b', b'c', 0]);
    nflog.extend_from_slice(&((4 + ip.len()) as u16).to_le_bytes());
    nflog.extend_from_slice(&9u16.to_le_bytes());
    nflog.extend_from_slice(&ip);
    assert_eq!(decode(LinkType::NFLOG, &nflog).unwrap().ip.unwrap().transport.ports(), (53, 53));

    // Radiotap (8 bytes), an 802.11 data frame to the AP, LLC/SNAP, IPv4.
    let mut wifi = vec![0, 0, 8, 0, 0, 0, 0, 0];
    wifi.extend_from_slice(&[0x08, 0x01, 0, 0]); // data, to-DS
    wifi.extend_from_slice(&MAC_B); // BSSID
    wifi.extend_from_slice(&MAC_A); // source
    wifi.extend_from_slice(&[0x02, 0, 0, 0, 0, 0x99]); // destination
    wifi.extend_from_slice(&[0, 0]);
    wifi.extend_from_slice(&[0xaa, 0xaa, 0x03, 0, 0, 0, 0x08, 0x00]);
    wifi.extend_from_slice(&ip);
    let d = decode(LinkType::IEEE802_11_RADIOTAP, &wifi).unwrap();
    assert_eq!(d.mac_src, Some(MacAddr(MAC_A)));
    assert_eq!(d.mac_dst, Some(MacAddr([0x02, 0, 0, 0, 0, 0x99])));
    assert_eq!(d.ip.unwrap().dst.to_string(), "10.0.0.2");
}
