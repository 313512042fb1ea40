//! `oui.src`, `oui.dst`, `outeroui.*`, `dhcp.oui` and `arp.oui`: the organisation each Ethernet
//! address's block was assigned to, as Arkime names them (`VMware, Inc.`), from IEEE's
//! MA-L, MA-M and MA-S registries as Wireshark's `manuf` file lists them
//! (`data/oui.tsv`, written by `scripts/oui-table.py`, its source in its header).
//! Shipped in the binary: nothing to configure. A locally administered or group
//! address names no organisation unless the registry lists its block.

use std::collections::HashMap;
use std::sync::OnceLock;

use tyto_packet::MacAddr;
use tyto_schema::{SessionRecord, Values};

const TABLE: &str = include_str!("../data/oui.tsv");

/// The blocks, by their leading hex digits read as a number: MA-L (24 bits), MA-M
/// (28) and MA-S (36), looked up longest first.
struct Blocks {
    by_bits: [(u32, HashMap<u64, &'static str, ahash::RandomState>); 3],
}

fn blocks() -> &'static Blocks {
    static BLOCKS: OnceLock<Blocks> = OnceLock::new();
    BLOCKS.get_or_init(|| {
        let mut by_bits = [36, 28, 24].map(|bits| (bits, HashMap::default()));
        for line in TABLE.lines().filter(|l| !l.starts_with('#')) {
            let Some((digits, name)) = line.split_once('\t') else { continue };
            let Ok(prefix) = u64::from_str_radix(digits, 16) else { continue };
            if let Some((_, map)) = by_bits.iter_mut().find(|(bits, _)| *bits as usize == digits.len() * 4) {
                map.entry(prefix).or_insert(name);
            }
        }
        Blocks { by_bits }
    })
}

/// The MA-L holder of the blocks IEEE splits into MA-M and MA-S blocks.
const REGISTRATION_AUTHORITY: &str = "IEEE Registration Authority";

/// The organisation an address's block was assigned to.
pub fn organisation(mac: MacAddr) -> Option<&'static str> {
    let value = mac.0.iter().fold(0u64, |v, b| v << 8 | u64::from(*b));
    let [longest, longer, ma_l] = &blocks().by_bits;
    let holder = ma_l.1.get(&(value >> 24)).copied();
    // Most addresses are of an MA-L block: one lookup. Smaller blocks are carved out
    // of the Registration Authority's (or of none listed).
    if holder.is_some_and(|h| h != REGISTRATION_AUTHORITY) {
        return holder;
    }
    [longest, longer].iter().find_map(|(bits, map)| map.get(&(value >> (48 - bits))).copied()).or(holder)
}

/// An address written `00:50:56:c0:00:08` (or with `-`).
fn mac_of(text: &str) -> Option<MacAddr> {
    let mut out = [0u8; 6];
    let mut parts = text.split([':', '-']);
    for byte in &mut out {
        let part = parts.next()?;
        if part.len() != 2 {
            return None;
        }
        *byte = u8::from_str_radix(part, 16).ok()?;
    }
    parts.next().is_none().then_some(MacAddr(out))
}

/// Fills `oui.src`, `oui.dst`, `outeroui.src`, `outeroui.dst`, `dhcp.oui` and `arp.oui`.
pub struct Oui;

impl tyto_flow::Enrich for Oui {
    fn enrich(&self, rec: &mut SessionRecord) {
        let mut found: Vec<(&'static str, &'static str)> = Vec::new();
        for (macs, field) in [(&rec.mac_src, "oui.src"), (&rec.mac_dst, "oui.dst")] {
            found.extend(macs.iter().filter_map(|m| organisation(*m)).map(|o| (field, o)));
        }
        // Addresses dissectors and the flow layer file as text.
        for (from, field) in [
            ("outermac.src", "outeroui.src"),
            ("outermac.dst", "outeroui.dst"),
            ("dhcp.mac", "dhcp.oui"),
            ("arp.mac", "arp.oui"),
        ] {
            if let Some(Values::Text(list)) = rec.extra.get(from) {
                let macs = list.iter().filter_map(|t| mac_of(t));
                found.extend(macs.filter_map(organisation).map(|o| (field, o)));
            }
        }
        for (field, organisation) in found {
            let _ = rec.extra.add_text(field, organisation);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_name_the_organisation_of_their_block() {
        let mac = |s: &str| mac_of(s).unwrap();
        assert_eq!(organisation(mac("00:50:56:c0:00:08")), Some("VMware, Inc."));
        assert_eq!(organisation(mac("00:0c:29:12:34:56")), Some("VMware, Inc."));
        // A block of 28 and one of 36 bits inside MA-L blocks of others.
        let (m28, m36) = (blocks().by_bits[1].1.iter().next().unwrap(), blocks().by_bits[0].1.iter().next().unwrap());
        let from = |prefix: u64, bits: u32| {
            let bytes = (prefix << (48 - bits)).to_be_bytes();
            MacAddr(std::array::from_fn(|i| bytes[2 + i]))
        };
        assert_eq!(organisation(from(*m28.0, 28)), Some(*m28.1));
        assert_eq!(organisation(from(*m36.0, 36)), Some(*m36.1));
        assert_eq!(organisation(mac("02:00:00:00:00:01")), None);
        assert_eq!(mac_of("00:50:56:c0:00"), None);
        assert_eq!(mac_of("00:50:56:c0:00:08:01"), None);
        // Every line of the table was read.
        let lines = TABLE.lines().filter(|l| !l.starts_with('#')).count();
        assert_eq!(blocks().by_bits.iter().map(|(_, m)| m.len()).sum::<usize>(), lines);
    }
}
