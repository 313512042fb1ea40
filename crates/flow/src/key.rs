use tyto_packet::{Addr, Decoded, Transport};

/// Which side of a session sent a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// From the side that opened the session.
    ToServer,
    /// From the side that answered.
    ToClient,
}

impl Direction {
    pub fn index(self) -> usize {
        match self {
            Direction::ToServer => 0,
            Direction::ToClient => 1,
        }
    }

    pub fn reverse(self) -> Direction {
        match self {
            Direction::ToServer => Direction::ToClient,
            Direction::ToClient => Direction::ToServer,
        }
    }
}

/// A session's identity, the same for both directions: the endpoints are stored
/// in a fixed order (`lo` before `hi`), and `flipped` in [`KeyedPacket`] says which
/// of them sent a given packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FlowKey {
    pub lo: Addr,
    pub hi: Addr,
    pub lo_port: u16,
    pub hi_port: u16,
    /// IP protocol, or 0 for frames without IP (then `ethertype` and the MACs in
    /// `lo`/`hi` identify the session).
    pub proto: u8,
    pub ethertype: u16,
}

/// A packet's key and which endpoint sent it.
#[derive(Clone, Copy, Debug)]
pub struct KeyedPacket {
    pub key: FlowKey,
    /// The sender is `key.hi`.
    pub flipped: bool,
    /// The key is not an endpoint pair: many senders share the session (link-layer
    /// chatter, multicast control), and every packet counts as the source's.
    pub shared: bool,
    /// The key names a conversation from the payload, not its endpoints (a DHCP
    /// client's exchanges, whose addresses change as it is given one): the session
    /// names the first packet's endpoints, and `flipped` says which side sent.
    pub conversation: bool,
}

/// The ethertype a session of undecodable frames is keyed with: 0xFFFF is reserved
/// (IEEE 802) and never on the wire as a type, so no real session shares the key.
pub const UNDECODED: u16 = 0xffff;

impl FlowKey {
    /// The session of every frame of one link type that could not be decoded (cut
    /// short, unknown link type, too deeply nested…): such frames are stored and
    /// found (`protocols == undecoded`) like any other, never dropped.
    pub fn undecoded(link: tyto_packet::LinkType) -> KeyedPacket {
        let mut a = [0u8; 16];
        a[..4].copy_from_slice(&link.0.to_be_bytes());
        Self::shared(Addr(a), 0, UNDECODED)
    }

    /// The key of a decoded frame. Frames without IP are keyed by their MAC pair
    /// and ethertype; IP packets by addresses, protocol and ports (ports are 0
    /// for protocols without them, and for fragments and cut headers).
    pub fn of(d: &Decoded, frame: &[u8]) -> KeyedPacket {
        match &d.ip {
            // IGMP and PIM are multicast control chatter: one session per protocol
            // (as Arkime keeps them), not one per router pair.
            Some(ip) if ip.protocol == 2 || ip.protocol == 103 => Self::shared(Addr::default(), ip.protocol, 0),
            Some(ip) => {
                let (sp, dp) = match ip.transport {
                    Transport::Icmp { .. } | Transport::None => (0, 0),
                    t => t.ports(),
                };
                if let Transport::Udp { .. } = ip.transport {
                    let at = ip.payload_offset as usize;
                    let payload = frame.get(at..at + ip.payload_len as usize).unwrap_or(&[]);
                    if let Some(keyed) = Self::dhcp(sp, dp, payload) {
                        return keyed;
                    }
                }
                Self::ordered(ip.src, sp, ip.dst, dp, ip.protocol, 0)
            }
            None => Self::link_layer(d, frame),
        }
    }

    /// Frames without IP, keyed as Arkime keys them: LLDP, IS-IS and ES-IS in one
    /// session each, ARP by the address asked about, anything else by its MACs (in the
    /// order sent) and ethertype.
    fn link_layer(d: &Decoded, frame: &[u8]) -> KeyedPacket {
        const LLDP: u16 = 0x88cc;
        let payload = frame.get(d.l2_payload_offset as usize..).unwrap_or(&[]);
        if d.ethertype == LLDP {
            return Self::shared(Addr::default(), 0, LLDP);
        }
        if let Some(pdu) = osi_pdu(d, frame) {
            // An 802.3 length field, not a type: key on the LLC SAPs instead, and
            // ES-IS (protocol identifier 0x82) apart from IS-IS and the rest.
            let osi = if pdu.first() == Some(&0x82) { 0xfe82 } else { 0xfefe };
            return Self::shared(Addr::default(), 0, osi);
        }
        if d.ethertype == tyto_packet::ethertype::ARP && payload.len() >= 28 {
            let at = if payload[7] == 1 { 24 } else { 14 };
            let mut a = [0u8; 4];
            a.copy_from_slice(&payload[at..at + 4]);
            return Self::shared(Addr::from_v4(a), 0, d.ethertype);
        }
        let mac = |m: Option<tyto_packet::MacAddr>| {
            let mut a = [0u8; 16];
            if let Some(m) = m {
                a[..6].copy_from_slice(&m.0);
            }
            Addr(a)
        };
        let key = FlowKey {
            lo: mac(d.mac_src),
            hi: mac(d.mac_dst),
            lo_port: 0,
            hi_port: 0,
            proto: 0,
            ethertype: d.ethertype,
        };
        KeyedPacket { key, flipped: false, shared: true, conversation: false }
    }

    /// A DHCP message's conversation, keyed as Arkime keys it: DHCPv4 (UDP 67/68) by
    /// the client's hardware address, so a client's DISCOVER from 0.0.0.0 to the
    /// broadcast address and the OFFER to the address offered are one session;
    /// DHCPv6 (546/547) by the transaction id, so a request to the multicast group
    /// and the server's unicast reply are. Only a message that is one: BOOTP's fixed
    /// part (236 bytes), the options' magic cookie and at least 20 bytes of options
    /// (Arkime's bound, 256 bytes in all), an Ethernet address; a DHCPv6 message
    /// type. The client's side is `lo`: its packets are never flipped.
    fn dhcp(sp: u16, dp: u16, payload: &[u8]) -> Option<KeyedPacket> {
        /// The key's ethertype, which IP sessions otherwise leave 0: apart from every
        /// session keyed by addresses.
        const V4: u16 = 67;
        const V6: u16 = 547;
        let (ethertype, id, from_server): (u16, &[u8], bool) = match (sp, dp) {
            (67 | 68, 67 | 68) => {
                let bootp = payload.len() >= 256
                    && matches!(payload[0], 1 | 2)
                    && payload[1..3] == [1, 6]
                    && payload[236..240] == [0x63, 0x82, 0x53, 0x63];
                if !bootp {
                    return None;
                }
                (V4, &payload[28..34], sp == 67)
            }
            (546 | 547, 546 | 547) => {
                // Message types 1..=21 (SOLICIT … LEASEQUERY_RECONF_REPLY).
                if payload.len() < 4 || !(1..=21).contains(&payload[0]) {
                    return None;
                }
                (V6, &payload[1..4], sp == 547)
            }
            _ => return None,
        };
        let mut a = [0u8; 16];
        a[..id.len()].copy_from_slice(id);
        let (client, server) = if ethertype == V4 { (68, 67) } else { (546, 547) };
        let key = FlowKey { lo: Addr(a), hi: Addr(a), lo_port: client, hi_port: server, proto: 17, ethertype };
        Some(KeyedPacket { key, flipped: from_server, shared: false, conversation: true })
    }

    fn shared(addr: Addr, proto: u8, ethertype: u16) -> KeyedPacket {
        let key = FlowKey { lo: addr, hi: addr, lo_port: 0, hi_port: 0, proto, ethertype };
        KeyedPacket { key, flipped: false, shared: true, conversation: false }
    }

    fn ordered(src: Addr, sp: u16, dst: Addr, dp: u16, proto: u8, ethertype: u16) -> KeyedPacket {
        if (src, sp) <= (dst, dp) {
            let key = FlowKey { lo: src, hi: dst, lo_port: sp, hi_port: dp, proto, ethertype };
            KeyedPacket { key, flipped: false, shared: false, conversation: false }
        } else {
            let key = FlowKey { lo: dst, hi: src, lo_port: dp, hi_port: sp, proto, ethertype };
            KeyedPacket { key, flipped: true, shared: false, conversation: false }
        }
    }

    /// A hash that is the same whichever way the packet travels and on every run,
    /// so the same flow always goes to the same worker.
    pub fn stable_hash(&self) -> u64 {
        dispatch_hasher().hash_one(self)
    }
}

/// Fixed seeds: worker assignment must not change between runs.
fn dispatch_hasher() -> ahash::RandomState {
    ahash::RandomState::with_seeds(0x7479_746f, 0x666c_6f77, 0x6861_7368, 0x2024_1122)
}

/// The OSI network-layer PDU (from its protocol identifier on) of an 802.3 frame
/// whose LLC SAPs are OSI's (0xFE): IS-IS (0x83), ES-IS (0x82), CLNP (0x81).
pub(crate) fn osi_pdu<'a>(d: &Decoded, frame: &'a [u8]) -> Option<&'a [u8]> {
    let payload = frame.get(d.l2_payload_offset as usize..)?;
    // DSAP, SSAP, then a one-byte control field (UI).
    (d.ethertype < 0x0600 && payload.starts_with(&[0xfe, 0xfe])).then(|| payload.get(3..).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tyto_packet::{Ip, Transport};

    fn ip(src: [u8; 4], sp: u16, dst: [u8; 4], dp: u16) -> Decoded {
        Decoded {
            ip: Some(Ip {
                src: Addr::from_v4(src),
                dst: Addr::from_v4(dst),
                v6: false,
                protocol: 6,
                ttl: 64,
                dscp: 0,
                header_offset: 0,
                ip_payload_offset: 20,
                fragment: None,
                transport: Transport::Tcp { src_port: sp, dst_port: dp, seq: 0, ack: 0, flags: 0, window: 0 },
                payload_offset: 40,
                payload_len: 0,
                truncated: false,
            }),
            ..Decoded::default()
        }
    }

    #[test]
    fn both_directions_share_a_key_and_a_hash() {
        let a = FlowKey::of(&ip([10, 0, 0, 1], 1234, [10, 0, 0, 2], 80), &[]);
        let b = FlowKey::of(&ip([10, 0, 0, 2], 80, [10, 0, 0, 1], 1234), &[]);
        assert_eq!(a.key, b.key);
        assert_ne!(a.flipped, b.flipped);
        assert_eq!(a.key.stable_hash(), b.key.stable_hash());
        // Same address both sides: the ports decide.
        let c = FlowKey::of(&ip([1, 1, 1, 1], 5, [1, 1, 1, 1], 6), &[]);
        let d = FlowKey::of(&ip([1, 1, 1, 1], 6, [1, 1, 1, 1], 5), &[]);
        assert_eq!(c.key, d.key);
        assert_ne!(c.flipped, d.flipped);
    }

    /// A DHCP exchange: the client's DISCOVER (0.0.0.0:68 to the broadcast address)
    /// and the server's OFFER (to the address offered) share a key, the OFFER
    /// flipped; another client's does not; a message cut below 256 bytes is keyed by
    /// its addresses.
    #[test]
    fn a_dhcp_exchange_is_keyed_by_the_client() {
        let message = |op: u8, mac: u8, len: usize| {
            let mut m = vec![0u8; len];
            m[0] = op;
            m[1..3].copy_from_slice(&[1, 6]);
            m[28..34].copy_from_slice(&[0, 0x11, 0x22, 0x33, 0x44, mac]);
            m[236..240].copy_from_slice(&[0x63, 0x82, 0x53, 0x63]);
            m
        };
        let udp = |src: [u8; 4], sp: u16, dst: [u8; 4], dp: u16, payload: &[u8]| {
            let mut d = ip(src, sp, dst, dp);
            if let Some(ip) = d.ip.as_mut() {
                ip.protocol = 17;
                ip.transport = Transport::Udp { src_port: sp, dst_port: dp };
                ip.payload_offset = 0;
                ip.payload_len = payload.len() as u32;
            }
            (d, payload.to_vec())
        };
        let (d, f) = udp([0, 0, 0, 0], 68, [255; 4], 67, &message(1, 0x55, 300));
        let discover = FlowKey::of(&d, &f);
        let (d, f) = udp([192, 168, 1, 1], 67, [192, 168, 1, 100], 68, &message(2, 0x55, 300));
        let offer = FlowKey::of(&d, &f);
        assert_eq!(discover.key, offer.key);
        assert!(discover.conversation && !discover.flipped && offer.flipped);
        let (d, f) = udp([0, 0, 0, 0], 68, [255; 4], 67, &message(1, 0x56, 300));
        assert_ne!(FlowKey::of(&d, &f).key, discover.key, "another client");
        let (d, f) = udp([0, 0, 0, 0], 68, [255; 4], 67, &message(1, 0x55, 300)[..255]);
        assert!(!FlowKey::of(&d, &f).conversation, "too short to be keyed by the client");
    }
}
