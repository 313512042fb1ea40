#!/usr/bin/env python3
"""Writes crates/enrich/data/rir.tsv — which Regional Internet Registry each /8 of the
IPv4 address space was allocated to — from IANA's registry (XML):

  https://www.iana.org/assignments/ipv4-address-space/ipv4-address-space.xml

    scripts/rir-table.py ipv4-address-space.xml > crates/enrich/data/rir.tsv

A block's registry is named by its WHOIS server (`whois.arin.net` → ARIN), as Arkime
names it (IPv4 only, as Arkime); blocks without one (reserved, private, IANA's own)
are left out.
"""
import sys
import xml.etree.ElementTree as ET

NS = {"i": "http://www.iana.org/assignments"}


def rows(path):
    root = ET.parse(path).getroot()
    updated = root.findtext("i:updated", namespaces=NS)
    out = []
    for rec in root.iterfind("i:record", NS):
        whois = (rec.findtext("i:whois", namespaces=NS) or "").strip()
        if not whois.startswith("whois."):
            continue
        rir = whois.split(".")[1].upper()
        if rir == "IANA":
            continue  # IANA's own blocks: no registry
        first, bits = rec.findtext("i:prefix", namespaces=NS).strip().split("/")
        out.append((f"{int(first)}.0.0.0/{bits}", rir))
    return updated, out


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    updated, blocks = rows(sys.argv[1])
    print("# Regional Internet Registries by IPv4 /8, from IANA's IPv4 Address Space Registry")
    print(f"# (updated {updated}); written by scripts/rir-table.py.")
    for prefix, rir in blocks:
        print(f"{prefix}\t{rir}")


if __name__ == "__main__":
    main()
