use std::fmt;

use crate::{ethertype as et, ipproto, Addr, LinkType, MacAddr};

/// Encapsulations followed before giving up and keying the session on the outer
/// packet: an attacker can nest tunnels forever, a real network rarely nests three.
pub const MAX_ENCAP_DEPTH: u8 = 8;
/// MPLS labels followed in one stack (RFC 3032 sets no limit; real stacks hold 1–4).
const MAX_MPLS_LABELS: usize = 8;
/// IPv6 extension headers followed before the transport header.
const MAX_IPV6_EXT_HEADERS: usize = 8;
/// GTP-U extension headers followed.
const MAX_GTP_EXT_HEADERS: usize = 8;

/// Why a frame could not be decoded, and where.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// The frame ends inside a header.
    Truncated { layer: &'static str, offset: u32 },
    /// A header's fields contradict each other or the frame.
    Malformed { layer: &'static str, offset: u32 },
    /// The capture's link type is not one the decoder knows.
    UnsupportedLinkType(u32),
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Truncated { layer, offset } => {
                write!(f, "frame truncated in the {layer} header at byte {offset}")
            }
            DecodeError::Malformed { layer, offset } => {
                write!(f, "malformed {layer} header at byte {offset}")
            }
            DecodeError::UnsupportedLinkType(lt) => write!(f, "unsupported link type {lt}"),
        }
    }
}

impl std::error::Error for DecodeError {}

/// The encapsulations a frame passed through, as bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Hash)]
pub struct Encap(pub u16);

impl Encap {
    pub const VLAN: Encap = Encap(1 << 0);
    pub const QINQ: Encap = Encap(1 << 1);
    pub const MPLS: Encap = Encap(1 << 2);
    pub const PPPOE: Encap = Encap(1 << 3);
    pub const GRE: Encap = Encap(1 << 4);
    pub const ERSPAN: Encap = Encap(1 << 5);
    pub const VXLAN: Encap = Encap(1 << 6);
    pub const GENEVE: Encap = Encap(1 << 7);
    pub const GTPU: Encap = Encap(1 << 8);
    pub const IP_IN_IP: Encap = Encap(1 << 9);
    pub const PPP: Encap = Encap(1 << 10);

    const NAMES: [(Encap, &'static str); 11] = [
        (Encap::VLAN, "vlan"),
        (Encap::QINQ, "qinq"),
        (Encap::MPLS, "mpls"),
        (Encap::PPPOE, "pppoe"),
        (Encap::GRE, "gre"),
        (Encap::ERSPAN, "erspan"),
        (Encap::VXLAN, "vxlan"),
        (Encap::GENEVE, "geneve"),
        (Encap::GTPU, "gtp"),
        (Encap::IP_IN_IP, "ip-in-ip"),
        (Encap::PPP, "ppp"),
    ];

    pub fn contains(self, other: Encap) -> bool {
        self.0 & other.0 == other.0
    }

    pub fn insert(&mut self, other: Encap) {
        self.0 |= other.0;
    }

    /// The names of the encapsulations present, in a fixed order.
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        Self::NAMES.iter().filter(move |(bit, _)| self.contains(*bit)).map(|(_, n)| *n)
    }
}

/// A fragment of an IP datagram: where its data sits in the whole.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fragment {
    /// IPv4 identification or IPv6 fragment identification.
    pub id: u32,
    /// Offset of this fragment's data in the datagram, in bytes.
    pub offset: u32,
    /// More fragments follow.
    pub more: bool,
    /// Where this fragment's data starts in the frame (after the IPv6 fragment header).
    pub data_offset: u32,
}

/// The transport header of the innermost IP packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    Tcp {
        src_port: u16,
        dst_port: u16,
        seq: u32,
        ack: u32,
        /// See [`crate::tcpflag`].
        flags: u16,
        window: u16,
    },
    Udp {
        src_port: u16,
        dst_port: u16,
    },
    Icmp {
        kind: u8,
        code: u8,
    },
    Sctp {
        src_port: u16,
        dst_port: u16,
    },
    /// Another IP protocol, a fragment, or a transport header cut short.
    None,
}

impl Transport {
    pub fn ports(&self) -> (u16, u16) {
        match *self {
            Transport::Tcp { src_port, dst_port, .. }
            | Transport::Udp { src_port, dst_port }
            | Transport::Sctp { src_port, dst_port } => (src_port, dst_port),
            _ => (0, 0),
        }
    }
}

/// The innermost IP packet of a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ip {
    pub src: Addr,
    pub dst: Addr,
    pub v6: bool,
    /// The transport protocol (after IPv6 extension headers).
    pub protocol: u8,
    pub ttl: u8,
    pub dscp: u8,
    /// Where this IP header starts in the frame.
    pub header_offset: u32,
    /// Where the IP payload (after extension headers) starts.
    pub ip_payload_offset: u32,
    pub fragment: Option<Fragment>,
    pub transport: Transport,
    /// Where the transport payload starts, and its length (Ethernet padding excluded).
    pub payload_offset: u32,
    pub payload_len: u32,
    /// The transport header was cut short (by the snap length or a corrupt length field).
    pub truncated: bool,
}

impl Ip {
    /// The transport payload within its frame (what a frame cut short holds of it).
    pub fn payload<'a>(&self, frame: &'a [u8]) -> &'a [u8] {
        let start = self.payload_offset as usize;
        let end = start.saturating_add(self.payload_len as usize).min(frame.len());
        frame.get(start..end).unwrap_or(&[])
    }
}

/// What the decoder learned of a frame. Plain data and offsets: `Copy`, no borrows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Decoded {
    pub mac_src: Option<MacAddr>,
    pub mac_dst: Option<MacAddr>,
    /// The outermost Ethernet addresses when the frame carries Ethernet in a tunnel.
    pub outer_mac_src: Option<MacAddr>,
    pub outer_mac_dst: Option<MacAddr>,
    /// 802.1Q / 802.1ad tags, outermost first (the first two kept).
    pub vlans: [u16; 2],
    pub vlan_count: u8,
    /// Which of `vlans` came as 802.1ad (QinQ) service tags: bit i for `vlans[i]`.
    pub vlan_ad: u8,
    /// VXLAN or Geneve network identifier.
    pub vni: Option<u32>,
    pub encap: Encap,
    /// The outermost IP addresses when the session's packet travelled in a tunnel.
    pub outer_ip: Option<(Addr, Addr)>,
    /// The innermost link layer's ethertype (0 where the link layer has none).
    pub ethertype: u16,
    /// Where the innermost link layer's payload starts (for frames that are not IP).
    pub l2_payload_offset: u32,
    pub ip: Option<Ip>,
}

/// Decodes one frame of the given link type.
pub fn decode(link: LinkType, frame: &[u8]) -> Result<Decoded, DecodeError> {
    let mut d = Decoded::default();
    let start = link_start(link, frame, &mut d)?;
    walk(start, frame, &mut d, 0)?;
    Ok(d)
}

/// Where decoding goes next.
#[derive(Clone, Copy, Debug)]
enum Step {
    Ether(usize),
    EtherType(u16, usize),
    /// IPv4 or IPv6, told apart by the version nibble.
    IpAny(usize),
    Ipv4(usize),
    Ipv6(usize),
    /// A PPP protocol field at this offset.
    Ppp(usize),
    /// The frame is not IP: stop here.
    Done,
}

fn be16(b: &[u8], at: usize, layer: &'static str) -> Result<u16, DecodeError> {
    match b.get(at..at + 2) {
        Some(s) => Ok(u16::from_be_bytes([s[0], s[1]])),
        None => Err(trunc(layer, at)),
    }
}

fn be32(b: &[u8], at: usize, layer: &'static str) -> Result<u32, DecodeError> {
    match b.get(at..at + 4) {
        Some(s) => Ok(u32::from_be_bytes([s[0], s[1], s[2], s[3]])),
        None => Err(trunc(layer, at)),
    }
}

fn byte(b: &[u8], at: usize, layer: &'static str) -> Result<u8, DecodeError> {
    b.get(at).copied().ok_or(trunc(layer, at))
}

fn need(b: &[u8], at: usize, len: usize, layer: &'static str) -> Result<(), DecodeError> {
    if at.checked_add(len).is_some_and(|end| end <= b.len()) {
        Ok(())
    } else {
        Err(trunc(layer, at))
    }
}

fn trunc(layer: &'static str, offset: usize) -> DecodeError {
    DecodeError::Truncated { layer, offset: offset as u32 }
}

fn malformed(layer: &'static str, offset: usize) -> DecodeError {
    DecodeError::Malformed { layer, offset: offset as u32 }
}

fn mac_at(b: &[u8], at: usize) -> MacAddr {
    let mut m = [0u8; 6];
    m.copy_from_slice(&b[at..at + 6]);
    MacAddr(m)
}

/// Interprets the link-layer header and says where the network layer starts.
fn link_start(link: LinkType, b: &[u8], d: &mut Decoded) -> Result<Step, DecodeError> {
    Ok(match link {
        LinkType::ETHERNET => Step::Ether(0),
        LinkType::RAW | LinkType::RAW_ALT12 | LinkType::RAW_ALT14 => Step::IpAny(0),
        LinkType::IPV4 => Step::Ipv4(0),
        LinkType::IPV6 => Step::Ipv6(0),
        LinkType::NULL | LinkType::LOOP => {
            // The 4-byte address family is in the writer's byte order (NULL) or
            // network order (LOOP), and IPv6's value differs between systems:
            // the version nibble that follows is the reliable guide.
            need(b, 0, 4, "loopback")?;
            Step::IpAny(4)
        }
        LinkType::LINUX_SLL => {
            need(b, 0, 16, "linux cooked")?;
            let hatype = be16(b, 2, "linux cooked")?;
            let halen = be16(b, 4, "linux cooked")?;
            if hatype == 1 && halen == 6 {
                d.mac_src = Some(mac_at(b, 6));
            }
            Step::EtherType(be16(b, 14, "linux cooked")?, 16)
        }
        LinkType::LINUX_SLL2 => {
            need(b, 0, 20, "linux cooked v2")?;
            let hatype = be16(b, 8, "linux cooked v2")?;
            if hatype == 1 && b[11] == 6 {
                d.mac_src = Some(mac_at(b, 12));
            }
            Step::EtherType(be16(b, 0, "linux cooked v2")?, 20)
        }
        LinkType::PPP | LinkType::PPP_HDLC => {
            if b.len() >= 2 && b[0] == 0xff && b[1] == 0x03 {
                Step::Ppp(2)
            } else {
                Step::Ppp(0)
            }
        }
        LinkType::C_HDLC => Step::EtherType(be16(b, 2, "cisco hdlc")?, 4),
        LinkType::FRELAY => frame_relay(b)?,
        LinkType::NFLOG => nflog(b)?,
        LinkType::IEEE802_11 => wifi(b, 0, d)?,
        LinkType::IEEE802_11_RADIOTAP => {
            need(b, 0, 4, "radiotap")?;
            let len = u16::from_le_bytes([b[2], b[3]]) as usize;
            if len < 8 {
                return Err(malformed("radiotap", 2));
            }
            wifi(b, len, d)?
        }
        LinkType::PPI => {
            need(b, 0, 8, "ppi")?;
            let len = u16::from_le_bytes([b[2], b[3]]) as usize;
            let dlt = u32::from_le_bytes([b[4], b[5], b[6], b[7]]);
            if len < 8 {
                return Err(malformed("ppi", 2));
            }
            need(b, 0, len, "ppi")?;
            match dlt {
                1 => Step::Ether(len),
                105 => wifi(b, len, d)?,
                101 | 228 | 229 => Step::IpAny(len),
                _ => return Err(DecodeError::UnsupportedLinkType(dlt)),
            }
        }
        other => return Err(DecodeError::UnsupportedLinkType(other.0)),
    })
}

/// Frame Relay (Q.922 address, then an NLPID).
fn frame_relay(b: &[u8]) -> Result<Step, DecodeError> {
    need(b, 0, 4, "frame relay")?;
    let at = 2;
    if b[at] != 0x03 {
        // Cisco's encapsulation: an ethertype straight after the address.
        return Ok(Step::EtherType(be16(b, at, "frame relay")?, at + 2));
    }
    let at = at + 1; // UI control field, then an NLPID
    match byte(b, at, "frame relay")? {
        0xcc => Ok(Step::Ipv4(at + 1)),
        0x8e => Ok(Step::Ipv6(at + 1)),
        0x80 => Ok(Step::EtherType(be16(b, at + 4, "frame relay")?, at + 6)),
        0x00 if b.get(at + 1) == Some(&0x80) => Ok(Step::EtherType(be16(b, at + 5, "frame relay")?, at + 7)),
        _ => Ok(Step::Done),
    }
}

/// Linux NFLOG: a 4-byte header then TLVs; the packet is the NFULA_PAYLOAD TLV.
fn nflog(b: &[u8]) -> Result<Step, DecodeError> {
    const NFULA_PAYLOAD: u16 = 9;
    need(b, 0, 4, "nflog")?;
    let family = b[0];
    let mut at = 4;
    while at + 4 <= b.len() {
        // TLV lengths and types are in the host order of the capturing machine:
        // little-endian on every platform that writes these files in practice.
        let len = u16::from_le_bytes([b[at], b[at + 1]]) as usize;
        let kind = u16::from_le_bytes([b[at + 2], b[at + 3]]) & 0x7fff;
        if len < 4 {
            return Err(malformed("nflog", at));
        }
        if kind == NFULA_PAYLOAD {
            return Ok(match family {
                2 => Step::Ipv4(at + 4),
                10 => Step::Ipv6(at + 4),
                _ => Step::IpAny(at + 4),
            });
        }
        at += (len + 3) & !3;
    }
    Ok(Step::Done)
}

/// An 802.11 frame starting at `at`: data frames lead, through LLC/SNAP, to an ethertype.
fn wifi(b: &[u8], at: usize, d: &mut Decoded) -> Result<Step, DecodeError> {
    need(b, at, 24, "802.11")?;
    let fc0 = b[at];
    let fc1 = b[at + 1];
    let frame_type = (fc0 >> 2) & 0x3;
    if frame_type != 2 {
        return Ok(Step::Done); // management and control frames carry no IP
    }
    if fc1 & 0x40 != 0 {
        return Ok(Step::Done); // protected: the payload is encrypted
    }
    let to_ds = fc1 & 0x1 != 0;
    let from_ds = fc1 & 0x2 != 0;
    let mut hdr = 24;
    if to_ds && from_ds {
        hdr += 6;
    }
    let qos = fc0 & 0x80 != 0;
    if qos {
        hdr += 2;
        if fc1 & 0x80 != 0 {
            hdr += 4; // HT control
        }
    }
    need(b, at, hdr + 8, "802.11")?;
    let (src, dst) = match (to_ds, from_ds) {
        (false, false) => (at + 10, at + 4),
        (true, false) => (at + 10, at + 16),
        (false, true) => (at + 16, at + 4),
        (true, true) => (at + 24, at + 16),
    };
    d.mac_src = Some(mac_at(b, src));
    d.mac_dst = Some(mac_at(b, dst));
    let llc = at + hdr;
    if b[llc] == 0xaa && b[llc + 1] == 0xaa && b[llc + 2] == 0x03 {
        Ok(Step::EtherType(be16(b, llc + 6, "802.11 snap")?, llc + 8))
    } else {
        Ok(Step::Done)
    }
}

/// Follows the frame from `step` to its innermost IP packet.
fn walk(mut step: Step, b: &[u8], d: &mut Decoded, depth: u8) -> Result<(), DecodeError> {
    let mut mpls_labels = 0usize;
    loop {
        step = match step {
            Step::Done => return Ok(()),
            Step::Ether(at) => {
                need(b, at, 14, "ethernet")?;
                if d.mac_src.is_some() && d.outer_mac_src.is_none() && depth > 0 {
                    d.outer_mac_src = d.mac_src;
                    d.outer_mac_dst = d.mac_dst;
                }
                d.mac_dst = Some(mac_at(b, at));
                d.mac_src = Some(mac_at(b, at + 6));
                Step::EtherType(be16(b, at + 12, "ethernet")?, at + 14)
            }
            Step::EtherType(t, at) => {
                d.ethertype = t;
                d.l2_payload_offset = at as u32;
                match t {
                    et::IPV4 => Step::Ipv4(at),
                    et::IPV6 => Step::Ipv6(at),
                    et::VLAN | et::QINQ | et::QINQ_OLD => {
                        let tci = be16(b, at, "vlan")?;
                        if (d.vlan_count as usize) < d.vlans.len() {
                            d.vlans[d.vlan_count as usize] = tci & 0x0fff;
                            if t != et::VLAN {
                                d.vlan_ad |= 1 << d.vlan_count;
                            }
                        }
                        d.vlan_count = d.vlan_count.saturating_add(1);
                        d.encap.insert(if t == et::VLAN { Encap::VLAN } else { Encap::QINQ });
                        if d.vlan_count > MAX_ENCAP_DEPTH {
                            return Err(malformed("vlan", at));
                        }
                        Step::EtherType(be16(b, at + 2, "vlan")?, at + 4)
                    }
                    et::MPLS_UNICAST | et::MPLS_MULTICAST => {
                        d.encap.insert(Encap::MPLS);
                        let mut at = at;
                        loop {
                            let label = be32(b, at, "mpls")?;
                            at += 4;
                            mpls_labels += 1;
                            if label & 0x100 != 0 {
                                break;
                            }
                            if mpls_labels >= MAX_MPLS_LABELS {
                                return Err(malformed("mpls", at));
                            }
                        }
                        match byte(b, at, "mpls")? >> 4 {
                            4 => Step::Ipv4(at),
                            6 => Step::Ipv6(at),
                            // A pseudowire control word, then Ethernet.
                            0 => Step::Ether(at + 4),
                            _ => Step::Done,
                        }
                    }
                    et::PPPOE_SESSION => {
                        need(b, at, 6, "pppoe")?;
                        d.encap.insert(Encap::PPPOE);
                        Step::Ppp(at + 6)
                    }
                    _ => Step::Done,
                }
            }
            Step::Ppp(at) => match be16(b, at, "ppp")? {
                0x0021 => Step::Ipv4(at + 2),
                0x0057 => Step::Ipv6(at + 2),
                _ => Step::Done,
            },
            Step::IpAny(at) => match byte(b, at, "ip")? >> 4 {
                4 => Step::Ipv4(at),
                6 => Step::Ipv6(at),
                _ => return Err(malformed("ip", at)),
            },
            Step::Ipv4(at) => return ipv4(b, at, d, depth),
            Step::Ipv6(at) => return ipv6(b, at, d, depth),
        };
    }
}

fn ipv4(b: &[u8], at: usize, d: &mut Decoded, depth: u8) -> Result<(), DecodeError> {
    need(b, at, 20, "ipv4")?;
    let vihl = b[at];
    if vihl >> 4 != 4 {
        return Err(malformed("ipv4", at));
    }
    let ihl = (vihl & 0x0f) as usize * 4;
    if ihl < 20 {
        return Err(malformed("ipv4", at));
    }
    need(b, at, ihl, "ipv4")?;
    let total = be16(b, at + 2, "ipv4")? as usize;
    // The total length bounds the packet (Ethernet pads short frames); a capture cut
    // by the snap length holds less than it says. TSO-offloaded captures write 0.
    let end = if total == 0 {
        b.len()
    } else if total < ihl {
        return Err(malformed("ipv4", at + 2));
    } else {
        (at + total).min(b.len())
    };
    let frag = be16(b, at + 6, "ipv4")?;
    let more = frag & 0x2000 != 0;
    let offset = (frag & 0x1fff) as u32 * 8;
    let mut src = [0u8; 4];
    let mut dst = [0u8; 4];
    src.copy_from_slice(&b[at + 12..at + 16]);
    dst.copy_from_slice(&b[at + 16..at + 20]);
    let ip = Ip {
        src: Addr::from_v4(src),
        dst: Addr::from_v4(dst),
        v6: false,
        protocol: b[at + 9],
        ttl: b[at + 8],
        dscp: b[at + 1] >> 2,
        header_offset: at as u32,
        ip_payload_offset: (at + ihl) as u32,
        fragment: (more || offset != 0).then_some(Fragment {
            id: be16(b, at + 4, "ipv4")? as u32,
            offset,
            more,
            data_offset: (at + ihl) as u32,
        }),
        transport: Transport::None,
        payload_offset: (at + ihl) as u32,
        payload_len: end.saturating_sub(at + ihl) as u32,
        truncated: false,
    };
    transport(b, ip, end, d, depth)
}

fn ipv6(b: &[u8], at: usize, d: &mut Decoded, depth: u8) -> Result<(), DecodeError> {
    need(b, at, 40, "ipv6")?;
    if b[at] >> 4 != 6 {
        return Err(malformed("ipv6", at));
    }
    let plen = be16(b, at + 4, "ipv6")? as usize;
    let end = if plen == 0 { b.len() } else { (at + 40 + plen).min(b.len()) };
    let mut next = b[at + 6];
    let mut src = [0u8; 16];
    let mut dst = [0u8; 16];
    src.copy_from_slice(&b[at + 8..at + 24]);
    dst.copy_from_slice(&b[at + 24..at + 40]);
    let mut off = at + 40;
    let mut fragment = None;
    for _ in 0..MAX_IPV6_EXT_HEADERS {
        match next {
            // hop-by-hop, routing, destination options
            0 | 43 | 60 => {
                need(b, off, 8, "ipv6 extension")?;
                next = b[off];
                off += (b[off + 1] as usize + 1) * 8;
            }
            44 => {
                need(b, off, 8, "ipv6 fragment")?;
                next = b[off];
                let fo = be16(b, off + 2, "ipv6 fragment")?;
                let more = fo & 1 != 0;
                let offset = (fo >> 3) as u32 * 8;
                let id = be32(b, off + 4, "ipv6 fragment")?;
                off += 8;
                if more || offset != 0 {
                    fragment = Some(Fragment { id, offset, more, data_offset: off as u32 });
                }
                if offset != 0 {
                    break; // a later fragment holds no headers, only data
                }
            }
            _ => break,
        }
    }
    if off > end {
        return Err(trunc("ipv6 extension", off));
    }
    let ip = Ip {
        src: Addr(src),
        dst: Addr(dst),
        v6: true,
        protocol: next,
        ttl: b[at + 7],
        dscp: ((u16::from_be_bytes([b[at], b[at + 1]]) >> 6) & 0x3f) as u8,
        header_offset: at as u32,
        ip_payload_offset: off as u32,
        fragment,
        transport: Transport::None,
        payload_offset: off as u32,
        payload_len: (end - off) as u32,
        truncated: false,
    };
    transport(b, ip, end, d, depth)
}

/// Decodes the transport header of `ip` (whose payload ends at `end`) and follows
/// tunnels carried inside it.
fn transport(b: &[u8], mut ip: Ip, end: usize, d: &mut Decoded, depth: u8) -> Result<(), DecodeError> {
    let at = ip.ip_payload_offset as usize;
    if ip.fragment.is_some_and(|f| f.offset != 0) {
        d.ip = Some(ip);
        return Ok(()); // no transport header in a later fragment
    }
    let seg = &b[..end];
    let avail = end - at;
    let set_payload = |ip: &mut Ip, hdr: usize| {
        ip.payload_offset = (at + hdr) as u32;
        ip.payload_len = (avail - hdr) as u32;
    };
    match ip.protocol {
        ipproto::TCP => {
            if avail < 20 {
                ip.truncated = true;
            } else {
                let doff = (seg[at + 12] >> 4) as usize * 4;
                if doff < 20 || doff > avail {
                    ip.truncated = true;
                } else {
                    ip.transport = Transport::Tcp {
                        src_port: be16(seg, at, "tcp")?,
                        dst_port: be16(seg, at + 2, "tcp")?,
                        seq: be32(seg, at + 4, "tcp")?,
                        ack: be32(seg, at + 8, "tcp")?,
                        flags: (seg[at + 13] as u16) | (((seg[at + 12] & 1) as u16) << 8),
                        window: be16(seg, at + 14, "tcp")?,
                    };
                    set_payload(&mut ip, doff);
                }
            }
        }
        ipproto::UDP => {
            if avail < 8 {
                ip.truncated = true;
            } else {
                let src_port = be16(seg, at, "udp")?;
                let dst_port = be16(seg, at + 2, "udp")?;
                ip.transport = Transport::Udp { src_port, dst_port };
                set_payload(&mut ip, 8);
                if ip.fragment.is_none() && depth < MAX_ENCAP_DEPTH {
                    let mut inner = *d;
                    if let Some(step) = udp_tunnel(seg, at + 8, src_port, dst_port, &mut inner) {
                        if enter_tunnel(b, step, &ip, &mut inner, depth, end) {
                            *d = inner;
                            return Ok(());
                        }
                    }
                }
            }
        }
        ipproto::ICMP | ipproto::ICMPV6 => {
            if avail < 2 {
                ip.truncated = true;
            } else {
                // The whole ICMP message is the payload (as Arkime counts it).
                ip.transport = Transport::Icmp { kind: seg[at], code: seg[at + 1] };
            }
        }
        ipproto::ESP | ipproto::AH if avail >= 8 => {
            // SPI and sequence number are header, the rest is payload.
            set_payload(&mut ip, 8);
        }
        ipproto::SCTP => {
            if avail < 12 {
                ip.truncated = true;
            } else {
                ip.transport =
                    Transport::Sctp { src_port: be16(seg, at, "sctp")?, dst_port: be16(seg, at + 2, "sctp")? };
                set_payload(&mut ip, 12);
            }
        }
        ipproto::GRE if ip.fragment.is_none() && depth < MAX_ENCAP_DEPTH => {
            let mut inner = *d;
            if let Some(step) = gre(seg, at, &mut inner) {
                if enter_tunnel(b, step, &ip, &mut inner, depth, end) {
                    *d = inner;
                    return Ok(());
                }
            }
        }
        ipproto::IPIP | ipproto::IPV6 if ip.fragment.is_none() && depth < MAX_ENCAP_DEPTH => {
            let step = if ip.protocol == ipproto::IPIP { Step::Ipv4(at) } else { Step::Ipv6(at) };
            let mut inner = *d;
            inner.encap.insert(Encap::IP_IN_IP);
            if enter_tunnel(b, step, &ip, &mut inner, depth, end) {
                *d = inner;
                return Ok(());
            }
        }
        _ => {}
    }
    d.ip = Some(ip);
    Ok(())
}

/// Tries the inner packet of a tunnel into `inner` (a copy of the outer state). When
/// it does not decode to IP the caller keys the session on the outer packet instead,
/// so nothing is lost to a wrong guess.
fn enter_tunnel(b: &[u8], step: Step, outer: &Ip, inner: &mut Decoded, depth: u8, end: usize) -> bool {
    if inner.outer_ip.is_none() {
        inner.outer_ip = Some((outer.src, outer.dst));
    }
    // The inner packet may not run past the outer packet's end.
    walk(step, &b[..end], inner, depth + 1).is_ok() && inner.ip.is_some()
}

/// VXLAN, Geneve and GTP-U ride UDP on well-known ports.
fn udp_tunnel(b: &[u8], at: usize, src_port: u16, dst_port: u16, d: &mut Decoded) -> Option<Step> {
    const VXLAN: u16 = 4789;
    const GENEVE: u16 = 6081;
    const GTP_U: u16 = 2152;
    if dst_port == VXLAN {
        let h = b.get(at..at + 8)?;
        if h[0] & 0x08 == 0 {
            return None;
        }
        d.encap.insert(Encap::VXLAN);
        d.vni = Some(u32::from_be_bytes([0, h[4], h[5], h[6]]));
        Some(Step::Ether(at + 8))
    } else if dst_port == GENEVE {
        let h = b.get(at..at + 8)?;
        if h[0] >> 6 != 0 {
            return None;
        }
        let len = 8 + (h[0] & 0x3f) as usize * 4;
        let proto = u16::from_be_bytes([h[2], h[3]]);
        d.encap.insert(Encap::GENEVE);
        d.vni = Some(u32::from_be_bytes([0, h[4], h[5], h[6]]));
        match proto {
            et::TRANSPARENT_ETHERNET => Some(Step::Ether(at + len)),
            et::IPV4 => Some(Step::Ipv4(at + len)),
            et::IPV6 => Some(Step::Ipv6(at + len)),
            _ => None,
        }
    } else if dst_port == GTP_U || src_port == GTP_U {
        let h = b.get(at..at + 8)?;
        // Version 1, protocol type GTP, message G-PDU.
        if h[0] >> 5 != 1 || h[0] & 0x10 == 0 || h[1] != 0xff {
            return None;
        }
        let mut off = at + 8;
        if h[0] & 0x07 != 0 {
            let mut next = *b.get(off + 3)?;
            off += 4;
            let mut n = 0;
            while next != 0 {
                n += 1;
                if n > MAX_GTP_EXT_HEADERS {
                    return None;
                }
                let len = *b.get(off)? as usize * 4;
                if len == 0 {
                    return None;
                }
                next = *b.get(off + len - 1)?;
                off += len;
            }
        }
        d.encap.insert(Encap::GTPU);
        Some(Step::IpAny(off))
    } else {
        None
    }
}

/// GRE (RFC 2784/2890, and PPTP's enhanced GRE), including ERSPAN.
fn gre(b: &[u8], at: usize, d: &mut Decoded) -> Option<Step> {
    let h = b.get(at..at + 4)?;
    let flags = u16::from_be_bytes([h[0], h[1]]);
    let proto = u16::from_be_bytes([h[2], h[3]]);
    let version = flags & 0x7;
    let mut off = at + 4;
    if flags & 0x8000 != 0 {
        off += 4; // checksum + reserved
    }
    if flags & 0x2000 != 0 {
        off += 4; // key (PPTP: payload length + call id)
    }
    let seq = flags & 0x1000 != 0;
    if seq {
        off += 4;
    }
    if version == 1 && flags & 0x0080 != 0 {
        off += 4; // acknowledgment number
    }
    if version > 1 {
        return None;
    }
    d.encap.insert(Encap::GRE);
    match proto {
        et::IPV4 => Some(Step::Ipv4(off)),
        et::IPV6 => Some(Step::Ipv6(off)),
        et::TRANSPARENT_ETHERNET => Some(Step::Ether(off)),
        et::MPLS_UNICAST => Some(Step::EtherType(proto, off)),
        et::PPP => {
            d.encap.insert(Encap::PPP);
            if b.get(off..off + 2) == Some(&[0xff, 0x03]) {
                Some(Step::Ppp(off + 2))
            } else {
                Some(Step::Ppp(off))
            }
        }
        et::ERSPAN_II => {
            d.encap.insert(Encap::ERSPAN);
            // Type I has no sequence number and no ERSPAN header.
            Some(Step::Ether(if seq { off + 8 } else { off }))
        }
        et::ERSPAN_III => {
            d.encap.insert(Encap::ERSPAN);
            let o = *b.get(off + 11)? & 0x01 != 0;
            Some(Step::Ether(off + 12 + if o { 8 } else { 0 }))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests;
