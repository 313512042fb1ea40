#!/usr/bin/env python3
"""Seeds for the fuzz targets, cut from the shared captures: frames for
`decode_packet`, IPv4 fragments for `defrag`, TCP segments for `tcp_reassembly`
and each flow's payloads for `dissectors`, in the byte layouts those targets read.

usage: fuzz-seeds.py CAPTURES_DIR CORPUS_DIR   (writes CORPUS_DIR/<target>/seed-*)
Classic pcap files only (pcapng ones are skipped); at most a few thousand seeds per
target, each under 64 KiB, so mutation starts from real traffic.
"""

import os
import struct
import sys

MAX_SEEDS = 3000
MAX_SEED_BYTES = 64 << 10
# decode_packet's first byte picks a link type from its list: 1 is Ethernet, 0 is 0 (null).
LINK_INDEX = {1: 1, 0: 0, 101: 6, 113: 11, 276: 17}


def records(path):
    """(link type, frame) of each record of a classic pcap file."""
    with open(path, "rb") as f:
        head = f.read(24)
        if len(head) < 24:
            return
        magic = struct.unpack("<I", head[:4])[0]
        if magic in (0xA1B2C3D4, 0xA1B23C4D):
            end = "<"
        elif magic in (0xD4C3B2A1, 0x4D3CB2A1):
            end = ">"
        else:
            return
        link = struct.unpack(end + "I", head[20:24])[0] & 0xFFFF
        while True:
            rec = f.read(16)
            if len(rec) < 16:
                return
            caplen = struct.unpack(end + "I", rec[8:12])[0]
            if caplen > 262144:
                return
            data = f.read(caplen)
            if len(data) < caplen:
                return
            yield link, data


def ipv4_of(link, frame):
    """The IPv4 packet in an Ethernet (one VLAN tag at most) or raw frame."""
    if link == 1:
        if len(frame) < 14:
            return None
        at, etype = 14, struct.unpack("!H", frame[12:14])[0]
        if etype == 0x8100 and len(frame) >= 18:
            at, etype = 18, struct.unpack("!H", frame[16:18])[0]
        return frame[at:] if etype == 0x0800 else None
    if link in (101, 228):
        return frame if frame[:1] and frame[0] >> 4 == 4 else None
    return None


class Seeds:
    def __init__(self, root, target):
        self.dir = os.path.join(root, target)
        os.makedirs(self.dir, exist_ok=True)
        self.n = 0

    def add(self, data):
        if self.n >= MAX_SEEDS or not data or len(data) > MAX_SEED_BYTES:
            return
        self.n += 1
        with open(os.path.join(self.dir, "seed-%05d" % self.n), "wb") as f:
            f.write(data)


def main():
    captures, corpus = sys.argv[1], sys.argv[2]
    frames = Seeds(corpus, "decode_packet")
    frags = Seeds(corpus, "defrag")
    segs = Seeds(corpus, "tcp_reassembly")
    dissect = Seeds(corpus, "dissectors")
    paths = []
    for d, _, files in os.walk(captures):
        paths += [os.path.join(d, f) for f in files if f.endswith(".pcap")]
    for path in sorted(paths):
        flows = {}
        fragments = []
        for link, frame in records(path):
            if link in LINK_INDEX:
                frames.add(bytes([LINK_INDEX[link]]) + frame)
            ip = ipv4_of(link, frame)
            if ip is None or len(ip) < 20:
                continue
            ihl = (ip[0] & 15) * 4
            total = min(struct.unpack("!H", ip[2:4])[0], len(ip))
            flags_off = struct.unpack("!H", ip[6:8])[0]
            if flags_off & 0x3FFF:
                fragments.append(ip[:total])
                continue
            proto, src, dst = ip[9], ip[12:16], ip[16:20]
            body = ip[ihl:total]
            if proto == 6 and len(body) >= 20:
                sport, dport, seq = struct.unpack("!HHI", body[:8])
                off, flags = (body[12] >> 4) * 4, body[13]
                payload = body[off:]
                key = (6, min((src, sport), (dst, dport)), max((src, sport), (dst, dport)))
                first = flows.setdefault(key, [(src, sport), []])
                to_client = (src, sport) != first[0]
                first[1].append((to_client, payload, seq, flags & 2 != 0))
            elif proto == 17 and len(body) >= 8:
                sport, dport = struct.unpack("!HH", body[:4])
                key = (17, min((src, sport), (dst, dport)), max((src, sport), (dst, dport)))
                first = flows.setdefault(key, [(src, sport), []])
                first[1].append(((src, sport) != first[0], body[8:], 0, False))
        if fragments:
            frags.add(b"\xfe".join(fragments[:64]))
        for (proto, _, _), (_, packets) in flows.items():
            # dissectors: a mode byte (0 TCP, 1 UDP), then 0xff-separated pieces,
            # each led by a control byte (bit 0: toward the client).
            pieces = [bytes([1 if c else 0]) + p.replace(b"\xff", b"\xfe") for c, p, _, _ in packets[:24] if p]
            if pieces:
                dissect.add(bytes([0 if proto == 6 else 1]) + b"\xff".join(pieces))
            if proto == 6:
                # tcp_reassembly: seq (le u32), flags (bit 0 SYN), length, payload; one direction.
                out = b""
                for c, p, seq, syn in packets[:32]:
                    if not c:
                        p = p[:255]
                        out += struct.pack("<IBB", seq, 1 if syn else 0, len(p)) + p
                segs.add(out)
    for s in (frames, frags, segs, dissect):
        print("%s: %d seeds" % (s.dir, s.n))


if __name__ == "__main__":
    main()
