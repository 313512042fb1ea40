#!/usr/bin/env python3
"""Writes crates/enrich/data/apps.tsv — which application a server name belongs to,
and the application's category — from nDPI's own host-name and certificate tables,
read out of a built nDPI library (its `host_match`, `*_host_match` and
`tls_certificate_match` arrays: facts about where services live, not nDPI's code),
and the categories of the applications Tyto names by their own protocol from
nDPI's protocol table (the library is loaded for that: see `protocol_table`):

    pip download --no-deps --only-binary :all: nfstream==6.6.0   # bundles nDPI 5.0
    unzip nfstream-6.6.0-*.whl _lib_engine.abi3.so
    pip install pyelftools
    scripts/app-table.py _lib_engine.abi3.so > crates/enrich/data/apps.tsv

Any libndpi built with its symbol table will do. Each array entry is nDPI's
`ndpi_protocol_match` on x86-64 (two string pointers, the protocol id, category,
breed, level: 32 bytes), or for certificates `ndpi_tls_cert_name_match` (a string
pointer and the protocol id: 16 bytes); the pointers are relocations of the shared
object.

Output: a header naming the source, then one line per name pattern:
pattern, app, category, nDPI's name for the app, where in nDPI it was read.

With `--addresses`, writes crates/enrich/data/app-addresses.tsv instead: the
networks of nDPI's per-application address lists (`ndpi_protocol_<name>_protocol_list`
and its `_6`) for the applications in ADDRESS_LISTS, one CIDR per line: IPv4 entries
are `ndpi_network` (address, prefix length, protocol id: 8 bytes), IPv6 ones
`ndpi_network6` (a string pointer, prefix length, protocol id: 16 bytes).
"""
import os
import re
import struct
import sys

from elftools.elf.elffile import ELFFile
from elftools.elf.relocation import RelocationSection

# nDPI's ndpi_protocol_category_t, by value, as Tyto names categories (nDPI's names in
# lower case, words joined by `-`).
CATEGORIES = {
    0: "unspecified", 1: "media", 2: "vpn", 3: "email", 4: "data-transfer", 5: "web",
    6: "social-network", 7: "download", 8: "game", 9: "chat", 10: "voip", 11: "database",
    12: "remote-access", 13: "cloud", 14: "network", 15: "collaborative", 16: "rpc",
    17: "streaming", 18: "system", 19: "software-update", 25: "music", 26: "video",
    27: "shopping", 28: "productivity", 29: "file-sharing", 30: "connectivity-check",
    31: "iot-scada", 32: "virtual-assistant", 33: "cybersecurity", 34: "adult-content",
    99: "mining", 100: "malware", 101: "advertisement", 102: "banned-site",
    103: "site-unavailable", 104: "allowed-site", 105: "antimalware",
    106: "crypto-currency", 107: "gambling", 108: "health", 109: "artificial-intelligence",
    110: "finance", 111: "news", 112: "sport", 113: "business", 114: "internet",
    115: "blockchain", 116: "blog", 117: "government", 118: "education", 119: "cdn",
    120: "hardware-software", 121: "dating", 122: "travel", 123: "food", 124: "bots",
    125: "scanners", 126: "hosting", 127: "art", 128: "fashion", 129: "books",
    130: "science", 131: "maps-navigation", 132: "login-portal", 133: "legal",
    134: "environmental-services", 135: "culture", 136: "housing", 137: "telecommunication",
    138: "transportation", 139: "design", 140: "employment", 141: "events", 142: "weather",
    143: "lifestyle", 144: "real-estate", 145: "security", 146: "environment",
    147: "hobby", 148: "computer-science", 149: "construction", 150: "engineering",
    151: "religion", 152: "entertainment", 153: "agriculture", 154: "technology",
    155: "beauty", 156: "history", 157: "politics", 158: "vehicles",
}


# Applications nDPI names from a protocol's payload rather than from a name (Tyto's
# dissectors name them: the STUN dissector's calls), with the category nDPI gives them
# in its results (`[cat: VoIP/10]`).
NAMED_BY_PAYLOAD = [
    ("WhatsAppCall", 10, "stun"),
    ("SignalVoip", 10, "stun"),
    ("Skype_TeamsCall", 10, "stun"),
    ("GoogleCall", 10, "stun"),
    ("FacebookVoip", 10, "stun"),
    ("TelegramVoip", 10, "stun"),
    ("ViberVoip", 10, "stun"),
    ("AdultContent", 34, "stun"),
]


# Applications whose own protocol a Tyto dissector names from the payload (Tyto's
# protocol name, nDPI's): a session of that protocol belongs to that application,
# with the category nDPI's protocol table gives it. Open protocols with many
# implementations (BitTorrent, OpenVPN, Bitcoin…) are protocols, not applications.
NAMED_BY_PROTOCOL = [
    ("alicloud", "AliCloud"), ("avast", "AVAST"), ("checkmk", "CHECKMK"), ("citrix", "Citrix"),
    ("crynet", "CryNetwork"), ("discord", "Discord"), ("dropbox", "Dropbox"), ("eaq", "EAQ"),
    ("genshin", "GenshinImpact"), ("hpvirtgrp", "HP_VIRTGRP"), ("kismet", "Kismet"),
    ("munin", "Munin"), ("nintendo", "Nintendo"), ("oicq", "OICQ"), ("riotgames", "RiotGames"),
    ("sd-rtn", "SD-RTN"), ("source-engine", "Source_Engine"), ("teamviewer", "TeamViewer"),
    ("teamspeak", "TeamSpeak"), ("telegram", "Telegram"), ("viber", "Viber"),
    ("whatsapp", "WhatsApp"), ("xiaomi", "Xiaomi"), ("zabbix", "Zabbix"), ("zoom", "Zoom"),
    # Sub-protocols, with the dissector that names them (from a link's names and
    # certificates).
    ("tor", "Tor", "tls"), ("psiphon", "Psiphon", "tls"),
]


def protocol_table(path):
    """nDPI's protocol table, by name: (id, category). Read from the library loaded
    and initialised (the table is built at run time, not an array in the file): each
    entry of `ndpi_get_proto_defaults` starts with the protocol's name (32 bytes) and
    its category (4 bytes); the entries' spacing is checked against the name pointers
    `ndpi_get_proto_name` returns."""
    import ctypes
    lib = ctypes.CDLL(os.path.abspath(path))
    ptr = ctypes.c_void_p
    lib.ndpi_init_detection_module.restype = ptr
    lib.ndpi_init_detection_module.argtypes = [ptr]
    lib.ndpi_finalize_initialization.argtypes = [ptr]
    lib.ndpi_get_proto_defaults.restype = ptr
    lib.ndpi_get_proto_defaults.argtypes = [ptr]
    lib.ndpi_get_num_protocols.argtypes = [ptr]
    lib.ndpi_get_proto_name.restype = ptr
    lib.ndpi_get_proto_name.argtypes = [ptr, ctypes.c_uint16]
    module = lib.ndpi_init_detection_module(None)
    if not module or lib.ndpi_finalize_initialization(module) != 0:
        sys.exit(f"{path}: nDPI did not initialise")
    table = lib.ndpi_get_proto_defaults(module)
    stride = lib.ndpi_get_proto_name(module, 1) - lib.ndpi_get_proto_name(module, 0)
    out = {}
    for i in range(lib.ndpi_get_num_protocols(module)):
        entry = table + stride * i
        if lib.ndpi_get_proto_name(module, i) != entry:
            sys.exit(f"{path}: protocol {i}'s name is not where its table entry starts")
        raw = ctypes.string_at(entry, 36)
        name = raw[:32].split(b"\0")[0].decode()
        out[name] = (i, struct.unpack("<I", raw[32:36])[0])
    return out


# The address lists Tyto reads, by nDPI's symbol name: those of the applications
# whose calls nDPI names by the STUN server's owner (Google: GoogleCall, Facebook:
# FacebookVoip), as its STUN dissector does when a call's attributes name none.
ADDRESS_LISTS = ["google", "facebook"]


class Library:
    """A built nDPI library's arrays: its symbols, and the bytes and strings they
    point to (pointers are R_X86_64_RELATIVE relocations of the shared object)."""

    def __init__(self, path):
        self.path = path
        self.f = open(path, "rb")
        self.elf = ELFFile(self.f)
        self.relocated = {}
        for s in self.elf.iter_sections():
            if isinstance(s, RelocationSection):
                for r in s.iter_relocations():
                    if r["r_info_type"] == 8:  # R_X86_64_RELATIVE
                        self.relocated[r["r_offset"]] = r["r_addend"]
        self.symbols = self.elf.get_section_by_name(".symtab")
        if self.symbols is None:
            sys.exit(f"{path}: no symbol table (a stripped build): nDPI's arrays cannot be found")
        self.f.seek(0)
        found = re.search(rb"\0(\d+\.\d+\.\d+-\d+-[0-9a-f]{7,})\0", self.f.read())
        self.version = found.group(1).decode() if found else "(version unknown)"

    def offset(self, vaddr):
        """Where `vaddr` is in the file; None for memory the file does not hold."""
        for seg in self.elf.iter_segments():
            if seg["p_type"] == "PT_LOAD" and seg["p_vaddr"] <= vaddr < seg["p_vaddr"] + seg["p_filesz"]:
                return vaddr - seg["p_vaddr"] + seg["p_offset"]
        return None

    def read(self, vaddr, n):
        at = self.offset(vaddr)
        if at is None:
            raise ValueError(f"address {vaddr:#x} is in no segment")
        self.f.seek(at)
        return self.f.read(n)

    def text(self, vaddr):
        self.f.seek(self.offset(vaddr))
        b = b""
        while b"\0" not in b:
            b += self.f.read(64)
        return b.split(b"\0", 1)[0].decode("utf-8")

    def u32(self, vaddr):
        return struct.unpack("<I", self.read(vaddr, 4))[0]


def app_name(ndpi):
    """`NetFlix` → `netflix`, `Skype_TeamsCall` → `skype-teamscall`."""
    return re.sub(r"[^a-z0-9.]+", "-", ndpi.lower()).strip("-")


def main(path):
    lib = Library(path)
    relocated, text, u32, symbols, version = lib.relocated, lib.text, lib.u32, lib.symbols, lib.version
    arrays = sorted(
        (s for s in symbols.iter_symbols()
         if s.name == "host_match" or s.name.endswith("_host_match") or s.name == "tls_certificate_match"),
        key=lambda s: (s.name != "host_match", s.name),
    )
    rows, seen, by_id = [], set(), {}
    for sym in arrays:
        if sym.name == "tls_certificate_match":
            continue
        for i in range(sym["st_size"] // 32):
            entry = sym["st_value"] + 32 * i
            if entry not in relocated or entry + 8 not in relocated:
                continue  # the array's terminating entry
            pattern, ndpi = text(relocated[entry]), text(relocated[entry + 8])
            protocol_id = u32(entry + 16) & 0xFFFF
            category = CATEGORIES.get(u32(entry + 20))
            if category is None:
                sys.exit(f"{sym.name}[{i}] {pattern}: unknown category {u32(entry + 20)}")
            by_id.setdefault(protocol_id, (ndpi, category))
            if ("host", pattern.lower()) in seen:
                continue  # nDPI keeps the first of a repeated pattern
            seen.add(("host", pattern.lower()))
            rows.append(("host", pattern.lower(), app_name(ndpi), category, ndpi, f"nDPI {sym.name}"))
    # Certificate names: nDPI's `ndpi_tls_cert_name_match` (a string pointer and the
    # protocol id: 16 bytes), named and categorised as the host tables name that id,
    # or as the protocol table does for an application no host name places
    # (FortiClient: its gateways' certificates alone name it).
    protocols = protocol_table(path)
    for name, (protocol_id, category) in protocols.items():
        if protocol_id not in by_id and category in CATEGORIES:
            by_id[protocol_id] = (name, CATEGORIES[category])
    for sym in (s for s in arrays if s.name == "tls_certificate_match"):
        for i in range(sym["st_size"] // 16):
            entry = sym["st_value"] + 16 * i
            if entry not in relocated:
                continue
            pattern = text(relocated[entry])
            named = by_id.get(u32(entry + 8) & 0xFFFF)
            if named is None or ("certificate", pattern.lower()) in seen:
                continue
            seen.add(("certificate", pattern.lower()))
            rows.append(("certificate", pattern.lower(), app_name(named[0]), named[1], named[0], f"nDPI {sym.name}"))
    for tyto, ndpi, *by in NAMED_BY_PROTOCOL:
        if ndpi not in protocols:
            sys.exit(f"{path}: nDPI has no protocol {ndpi}")
        category = CATEGORIES[protocols[ndpi][1]]
        dissector = by[0] if by else tyto
        rows.append(("protocol", tyto, app_name(ndpi), category, ndpi, f"nDPI protocol table; named by Tyto's {dissector} dissector"))
    for ndpi, category, dissector in NAMED_BY_PAYLOAD:
        rows.append(("app", "-", app_name(ndpi), CATEGORIES[category], ndpi, f"nDPI results; named by Tyto's {dissector} dissector"))
    print(f"# Applications by server name, and their categories: nDPI {version},")
    print("# read from its host_match, *_host_match and tls_certificate_match tables by")
    print("# scripts/app-table.py (see there for how). Columns: where the pattern is matched")
    print("# (host: a server name; certificate: a certificate's subject or issuer name;")
    print("# protocol: a session of that protocol, the pattern being Tyto's name for it; app:")
    print("# named by a dissector from the payload, no pattern), pattern, app, category,")
    print("# nDPI's name, source.")
    for r in rows:
        print("\t".join(r))


def addresses(path):
    import ipaddress
    lib = Library(path)
    by_name = {s.name: s for s in lib.symbols.iter_symbols()}
    print(f"# Networks of applications, by nDPI {lib.version}'s address lists,")
    print("# read by scripts/app-table.py --addresses (see there for how). Columns: network,")
    print("# app, nDPI's list.")
    for app in ADDRESS_LISTS:
        for suffix, step in (("", 8), ("_6", 16)):
            name = f"ndpi_protocol_{app}_protocol_list{suffix}"
            sym = by_name.get(name)
            if sym is None:
                sys.exit(f"{path}: no {name}")
            for i in range(sym["st_size"] // step):
                entry = sym["st_value"] + step * i
                if lib.offset(entry) is None:
                    break
                if step == 8:
                    net, cidr, _ = struct.unpack("<IBxH", lib.read(entry, 8))
                    if net == 0 and cidr == 0:
                        continue  # the array's terminating entry
                    network = ipaddress.ip_network((net, cidr), strict=False)
                else:
                    if entry not in lib.relocated:
                        continue
                    cidr, _ = struct.unpack("<BxH", lib.read(entry + 8, 4))
                    network = ipaddress.ip_network((lib.text(lib.relocated[entry]), cidr), strict=False)
                print(f"{network}\t{app}\tnDPI {name}")


if __name__ == "__main__":
    if sys.argv[1] == "--addresses":
        addresses(sys.argv[2])
    else:
        main(sys.argv[1])
