#!/usr/bin/env python3
"""Writes crates/enrich/data/oui.tsv — the manufacturer each Ethernet address block
was assigned to (IEEE's MA-L, MA-M and MA-S registries) — from Wireshark's `manuf`
file, the list Arkime reads for its `oui.*` fields too:

    apt-get install libwireshark-data          # /usr/share/wireshark/manuf
    scripts/oui-table.py /usr/share/wireshark/manuf > crates/enrich/data/oui.tsv

Output: a header naming the source, then one line per block: the block's leading
hex digits (6 for MA-L, 7 for MA-M, 9 for MA-S), the organisation's name as
registered (Wireshark's long name; its short one when it has none).
"""
import sys


def main(path):
    import subprocess
    try:
        version = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", "libwireshark-data"],
                                 capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        version = "(version unknown)"
    rows = []
    for line in open(path, encoding="utf-8"):
        if line.startswith("#"):
            continue
        cols = line.rstrip("\n").split("\t")
        if len(cols) < 2 or not cols[0]:
            continue
        prefix, bits = cols[0], 24
        if "/" in prefix:
            prefix, b = prefix.split("/", 1)
            bits = int(b)
        digits = prefix.replace(":", "").replace("-", "").upper()
        if bits % 4 or bits not in (24, 28, 36) or len(digits) < bits // 4:
            continue
        name = (cols[2] if len(cols) > 2 and cols[2].strip() else cols[1]).strip()
        if not name or "\t" in name:
            continue
        rows.append((digits[: bits // 4], name))
    print(f"# Ethernet address blocks and their organisations (IEEE MA-L, MA-M, MA-S), from")
    print(f"# Wireshark's manuf file (Debian libwireshark-data {version}), by scripts/oui-table.py.")
    print("# Columns: the block's leading hex digits, the organisation.")
    for digits, name in rows:
        print(f"{digits}\t{name}")


if __name__ == "__main__":
    main(sys.argv[1])
