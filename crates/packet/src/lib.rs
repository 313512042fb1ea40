//! Decoding of captured frames: link layer, encapsulations and tunnels, IPv4/IPv6,
//! and the transport header — everything a flow table needs to key and count a packet.
//!
//! The decoder is hand-written rather than built on `etherparse` because it must walk
//! nested encapsulations (VLAN, MPLS, PPPoE, GRE/ERSPAN, VXLAN, Geneve, GTP-U, IP-in-IP)
//! in one bounded loop, fall back to the outer packet when a tunnel's payload does not
//! parse, and return plain offsets (not borrows) so a decoded packet can travel to a
//! worker thread beside its bytes. It never allocates and never panics: every read is
//! bounds-checked, and a frame too short for a header is an error naming the layer.

mod addr;
mod decode;
pub mod sctp;

pub use addr::{Addr, MacAddr};
pub use decode::{decode, DecodeError, Decoded, Encap, Fragment, Ip, Transport, MAX_ENCAP_DEPTH};

/// A capture file's link-layer type (the pcap `LINKTYPE_*` number). Unknown values survive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LinkType(pub u32);

impl LinkType {
    pub const NULL: LinkType = LinkType(0);
    pub const ETHERNET: LinkType = LinkType(1);
    pub const PPP: LinkType = LinkType(9);
    /// Some systems write raw IP as 12 or 14 instead of 101.
    pub const RAW_ALT12: LinkType = LinkType(12);
    pub const RAW_ALT14: LinkType = LinkType(14);
    pub const PPP_HDLC: LinkType = LinkType(50);
    pub const RAW: LinkType = LinkType(101);
    pub const C_HDLC: LinkType = LinkType(104);
    pub const IEEE802_11: LinkType = LinkType(105);
    pub const FRELAY: LinkType = LinkType(107);
    pub const LOOP: LinkType = LinkType(108);
    pub const LINUX_SLL: LinkType = LinkType(113);
    pub const IEEE802_11_RADIOTAP: LinkType = LinkType(127);
    pub const PPI: LinkType = LinkType(192);
    pub const IPV4: LinkType = LinkType(228);
    pub const IPV6: LinkType = LinkType(229);
    pub const NFLOG: LinkType = LinkType(239);
    pub const LINUX_SLL2: LinkType = LinkType(276);

    /// Whether [`decode`] understands this link type.
    pub fn is_supported(self) -> bool {
        matches!(
            self.0,
            0 | 1 | 9 | 12 | 14 | 50 | 101 | 104 | 105 | 107 | 108 | 113 | 127 | 192 | 228 | 229 | 239 | 276
        )
    }
}

/// Ethertypes the decoder acts on.
pub mod ethertype {
    pub const IPV4: u16 = 0x0800;
    pub const ARP: u16 = 0x0806;
    pub const TRANSPARENT_ETHERNET: u16 = 0x6558;
    pub const VLAN: u16 = 0x8100;
    pub const IPV6: u16 = 0x86dd;
    pub const MPLS_UNICAST: u16 = 0x8847;
    pub const MPLS_MULTICAST: u16 = 0x8848;
    pub const PPPOE_SESSION: u16 = 0x8864;
    pub const QINQ: u16 = 0x88a8;
    pub const ERSPAN_II: u16 = 0x88be;
    pub const ERSPAN_III: u16 = 0x22eb;
    pub const PPP: u16 = 0x880b;
    pub const QINQ_OLD: u16 = 0x9100;
}

/// IP protocol numbers the decoder acts on.
pub mod ipproto {
    pub const ICMP: u8 = 1;
    pub const IPIP: u8 = 4;
    pub const TCP: u8 = 6;
    pub const UDP: u8 = 17;
    pub const IPV6: u8 = 41;
    pub const GRE: u8 = 47;
    pub const ESP: u8 = 50;
    pub const AH: u8 = 51;
    pub const ICMPV6: u8 = 58;
    pub const SCTP: u8 = 132;

    /// The protocol a typed name means, for searches (`ip.protocol == tcp`, Arkime's
    /// names) and capture filters (`proto udp`). `name` must be lower-case.
    pub fn number(name: &str) -> Option<u8> {
        Some(match name {
            "icmp" => 1,
            "igmp" => 2,
            "tcp" => 6,
            "udp" => 17,
            "gre" => 47,
            "esp" => 50,
            "ah" => 51,
            "icmp6" | "icmpv6" => 58,
            "ospf" => 89,
            "pim" => 103,
            "sctp" => 132,
            _ => return None,
        })
    }

    /// The name analysts type for a protocol number (`ip.protocol == tcp`).
    pub fn name(p: u8) -> Option<&'static str> {
        Some(match p {
            1 => "icmp",
            2 => "igmp",
            4 => "ipip",
            6 => "tcp",
            17 => "udp",
            41 => "ipv6",
            47 => "gre",
            50 => "esp",
            51 => "ah",
            58 => "icmpv6",
            89 => "ospf",
            103 => "pim",
            112 => "vrrp",
            132 => "sctp",
            _ => return None,
        })
    }
}

/// TCP flag bits as they sit in the header's 13th byte (plus AE from the 12th).
pub mod tcpflag {
    pub const FIN: u16 = 0x001;
    pub const SYN: u16 = 0x002;
    pub const RST: u16 = 0x004;
    pub const PSH: u16 = 0x008;
    pub const ACK: u16 = 0x010;
    pub const URG: u16 = 0x020;
    pub const ECE: u16 = 0x040;
    pub const CWR: u16 = 0x080;
    pub const AE: u16 = 0x100;
}
