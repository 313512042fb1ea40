//! `communityId`: the Community ID flow hash (version 1, seed 0), the value Zeek,
//! Suricata and Arkime give the same flow, so one tool's records lead to another's
//! (<https://github.com/corelight/community-id-spec>). Both directions of a flow hash
//! alike: the endpoints go in in a fixed order, except ICMP messages that have no
//! answer, which are one-way.

use std::net::IpAddr;

use base64::Engine;
use sha1::{Digest, Sha1};
use tyto_schema::SessionRecord;

/// The spec's default seed, which every tool uses unless told otherwise.
const SEED: u16 = 0;

/// ICMP and ICMPv6 requests and their answers (the spec's tables): a message of one
/// of these types is two-way, its counterpart standing in for the destination port.
fn icmp_counterpart(v6: bool, kind: u8) -> Option<u8> {
    let pairs: &[(u8, u8)] = if v6 {
        &[(128, 129), (133, 134), (135, 136), (139, 140), (144, 145), (130, 131)]
    } else {
        &[(8, 0), (13, 14), (15, 16), (10, 9), (17, 18)]
    };
    pairs.iter().find_map(|&(a, b)| {
        if a == kind {
            Some(b)
        } else if b == kind {
            Some(a)
        } else {
            None
        }
    })
}

/// The Community ID of a flow; `ports` are the transport's, or for ICMP the first
/// message's type and code. `None` for address families other than IPv4 and IPv6.
pub fn community_id(proto: u8, src: IpAddr, dst: IpAddr, ports: Option<(u16, u16)>) -> Option<String> {
    let (s, d): (Vec<u8>, Vec<u8>) = match (src, dst) {
        (IpAddr::V4(a), IpAddr::V4(b)) => (a.octets().to_vec(), b.octets().to_vec()),
        (IpAddr::V6(a), IpAddr::V6(b)) => (a.octets().to_vec(), b.octets().to_vec()),
        _ => return None,
    };
    let mut one_way = false;
    let ports = match (proto, ports) {
        (1 | 58, Some((kind, code))) => match u8::try_from(kind).ok().and_then(|k| icmp_counterpart(proto == 58, k)) {
            Some(other) => Some((kind, u16::from(other))),
            None => {
                one_way = true;
                Some((kind, code))
            }
        },
        (6 | 17 | 132, p) => p,
        _ => None,
    };
    let (mut s, mut d, mut ports) = (s, d, ports);
    let swap = !one_way && (s > d || (s == d && ports.is_some_and(|(a, b)| a > b)));
    if swap {
        std::mem::swap(&mut s, &mut d);
        ports = ports.map(|(a, b)| (b, a));
    }
    let mut h = Sha1::new();
    h.update(SEED.to_be_bytes());
    h.update(&s);
    h.update(&d);
    h.update([proto, 0]);
    if let Some((a, b)) = ports {
        h.update(a.to_be_bytes());
        h.update(b.to_be_bytes());
    }
    Some(format!("1:{}", base64::engine::general_purpose::STANDARD.encode(h.finalize())))
}

/// Fills `communityId` for sessions between two IP addresses.
pub struct CommunityId;

impl tyto_flow::Enrich for CommunityId {
    fn enrich(&self, rec: &mut SessionRecord) {
        let (Some(src), Some(dst)) = (rec.src_ip, rec.dst_ip) else { return };
        let ports = match rec.ip_protocol {
            1 | 58 => {
                rec.icmp_types.first().map(|t| (u16::from(*t), u16::from(rec.icmp_codes.first().copied().unwrap_or(0))))
            }
            6 | 17 | 132 => Some((rec.src_port, rec.dst_port)),
            _ => None,
        };
        if let Some(id) = community_id(rec.ip_protocol, src.to_ip(), dst.to_ip(), ports) {
            let _ = rec.extra.add_text("communityId", &id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(proto: u8, src: &str, dst: &str, ports: Option<(u16, u16)>) -> String {
        community_id(proto, src.parse().unwrap(), dst.parse().unwrap(), ports).unwrap()
    }

    /// The spec's own examples, each from either end.
    #[test]
    fn the_specs_examples() {
        for (proto, a, b, ports, want) in [
            (6, "128.232.110.120", "66.35.250.204", Some((34855, 80)), "1:LQU9qZlK+B5F3KDmev6m5PMibrg="),
            (17, "192.168.1.52", "8.8.8.8", Some((54585, 53)), "1:d/FP5EW3wiY1vCndhwleRRKHowQ="),
            (132, "192.168.170.8", "192.168.170.56", Some((7, 7)), "1:MP2EtRCAUIZvTw6MxJHLV7N7JDs="),
        ] {
            assert_eq!(id(proto, a, b, ports), want);
            assert_eq!(id(proto, b, a, ports.map(|(x, y)| (y, x))), want);
        }
        // An echo request and its reply hash alike.
        assert_eq!(id(1, "192.168.0.89", "192.168.0.1", Some((8, 0))), "1:X0snYXpgwiv9TZtqg64sgzUn6Dk=");
        assert_eq!(id(1, "192.168.0.1", "192.168.0.89", Some((0, 0))), "1:X0snYXpgwiv9TZtqg64sgzUn6Dk=");
        // A message with no answer is one-way: its ends are not reordered.
        assert_ne!(
            id(1, "192.168.0.89", "192.168.0.1", Some((3, 1))),
            id(1, "192.168.0.1", "192.168.0.89", Some((3, 1)))
        );
        // Mixed families have none.
        assert_eq!(community_id(6, "10.0.0.1".parse().unwrap(), "::1".parse().unwrap(), Some((1, 2))), None);
    }
}
