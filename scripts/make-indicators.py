#!/usr/bin/env python3
"""Writes N made-up indicators, one a line, as `tyto bench --intel FILE` and an
[[intel.source]] of format "list" read them: the mix of a large feed (addresses
most, then domains, networks and hashes). Deterministic: the same N, the same file.

    scripts/make-indicators.py 1000000 /dev/shm/indicators.txt
"""
import hashlib
import random
import sys

def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    n, out = int(sys.argv[1]), sys.argv[2]
    rnd = random.Random(7)
    words = ["cdn", "api", "update", "mail", "secure", "login", "static", "files", "dl", "app"]
    tlds = ["com", "net", "org", "info", "xyz", "top", "ru", "io"]
    with open(out, "w") as f:
        f.write("# made-up indicators for benchmarks\n")
        for i in range(n):
            r = rnd.random()
            if r < 0.45:
                f.write("%d.%d.%d.%d\n" % (rnd.randrange(1, 224), rnd.randrange(256), rnd.randrange(256), rnd.randrange(256)))
            elif r < 0.50:
                f.write("%d.%d.%d.0/24\n" % (rnd.randrange(1, 224), rnd.randrange(256), rnd.randrange(256)))
            elif r < 0.85:
                f.write("%s%d.%s-%x.%s\n" % (rnd.choice(words), i, rnd.choice(words), rnd.getrandbits(24), rnd.choice(tlds)))
            else:
                h = hashlib.sha256(str(i).encode()).hexdigest()
                f.write((h[:32] if r < 0.93 else h) + "\n")

if __name__ == "__main__":
    main()
