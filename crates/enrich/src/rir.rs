//! `rir.src` and `rir.dst`: the Regional Internet Registry (ARIN, RIPE, APNIC,
//! LACNIC, AFRINIC) each end's IPv4 /8 was allocated to, as Arkime names and reads
//! them, from IANA's IPv4 Address Space Registry (`data/rir.tsv`, written by
//! `scripts/rir-table.py`, its date in its header). Shipped in the binary: nothing to
//! configure. IPv4 only, by /8, as Arkime: an address of a private range inside a
//! registry's /8 (192.168/16 in ARIN's 192/8) is named by that registry; reserved
//! /8s and IANA's own (10/8, 127/8, multicast) have none.

use std::net::IpAddr;
use std::sync::OnceLock;

use tyto_schema::SessionRecord;

const TABLE: &str = include_str!("../data/rir.tsv");

/// One entry per first octet.
fn rirs() -> &'static [Option<&'static str>; 256] {
    static RIRS: OnceLock<[Option<&'static str>; 256]> = OnceLock::new();
    RIRS.get_or_init(|| {
        let mut by_octet = [None; 256];
        for line in TABLE.lines().filter(|l| !l.starts_with('#')) {
            let Some((prefix, rir)) = line.split_once('\t') else { continue };
            if let Some(Ok(IpAddr::V4(a))) = prefix.strip_suffix("/8").map(str::parse) {
                by_octet[usize::from(a.octets()[0])] = Some(rir);
            }
        }
        by_octet
    })
}

/// The registry of the /8 `ip` belongs to (IPv4, or IPv4 mapped in IPv6).
pub fn rir(ip: IpAddr) -> Option<&'static str> {
    let v4 = match ip {
        IpAddr::V4(a) => a,
        IpAddr::V6(a) => a.to_ipv4_mapped()?,
    };
    rirs()[usize::from(v4.octets()[0])]
}

/// Fills `rir.src` and `rir.dst`.
pub struct Rir;

impl tyto_flow::Enrich for Rir {
    fn enrich(&self, rec: &mut SessionRecord) {
        for (ip, field) in [(rec.src_ip, "rir.src"), (rec.dst_ip, "rir.dst")] {
            if let Some(r) = ip.and_then(|a| rir(a.to_ip())) {
                let _ = rec.extra.add_text(field, r);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_slash_8_names_its_registry() {
        let at = |s: &str| rir(s.parse().unwrap());
        assert_eq!(at("8.8.8.8"), Some("ARIN"));
        assert_eq!(at("193.0.6.139"), Some("RIPE"));
        assert_eq!(at("1.1.1.1"), Some("APNIC"));
        assert_eq!(at("200.160.2.3"), Some("LACNIC"));
        assert_eq!(at("196.216.2.1"), Some("AFRINIC"));
        assert_eq!(at("::ffff:8.8.8.8"), Some("ARIN"));
        assert_eq!(at("192.168.1.1"), Some("ARIN"), "by /8, as Arkime");
        for none in ["10.0.0.1", "127.0.0.1", "224.0.0.1", "2001:4860::8888", "::1"] {
            assert_eq!(at(none), None, "{none}");
        }
        // Every line of the table was read.
        let lines = TABLE.lines().filter(|l| !l.starts_with('#')).count();
        assert_eq!(rirs().iter().flatten().count(), lines);
    }
}
