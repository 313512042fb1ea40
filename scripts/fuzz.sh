#!/usr/bin/env bash
# Fuzz targets (fuzz/): `fuzz.sh check` builds them with the stable toolchain;
# `fuzz.sh run TARGET [SECONDS]` fuzzes one with cargo-fuzz (installed on demand),
# seeded with the shared captures.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
export CARGO_TARGET_DIR="$CARGO_TARGET_DIR/fuzz"
case "${1:-check}" in
check)
    cargo check --quiet --manifest-path fuzz/Cargo.toml --bins
    ;;
run)
    target="${2:?usage: fuzz.sh run TARGET [SECONDS]}"
    secs="${3:-60}"
    command -v cargo-fuzz >/dev/null || cargo install --locked cargo-fuzz
    corpus="fuzz/corpus/$target"
    mkdir -p "$corpus"
    if [ -d ../shared/pcaps ] && [ "$target" = read_capture ]; then
        find ../shared/pcaps -name '*.pcap*' ! -name '*.out' -size -64k -exec cp -n {} "$corpus/" \;
    fi
    if [ "$target" = query ]; then
        # Seeds: the forms of the language, so mutation starts from valid expressions.
        i=0
        while IFS= read -r expr; do
            i=$((i + 1))
            printf '%s' "$expr" >"$corpus/seed-$i"
        done <<'SEEDS'
port.dst == 3389 && protocols == rdp
ip.src == 10.1.1.3 && protocols == ftp && country.dst != JPN && bytes > 100000
packets == 1 && ip.protocol == tcp && ip.src != 131.206.0.0/16 && ip.dst != 131.206.0.0/16
http.user-agent == Acunetix || http.user-agent == pangolin
ip.src == 10.1.1.2 && http.uri == *
!(host == [a.com, "b\"c", /x.*y/] || tags == ]a,b[) && starttime > -1d
ip == 2001:db8::1.443 || ip == 10.0.0.1:80 || port == 1-1023 || vlan != EXISTS!
SEEDS
    fi
    if [ "$target" = capture_filter ]; then
        i=0
        for f in 'not port 22' 'host 10.0.0.1 and tcp' 'net 192.168.0.0/16 or ip6' 'tcp dst portrange 6000-6100' \
            'ether src 00:11:22:33:44:55 && !(udp port 53)' 'less 128 or greater 1500' 'ip6 proto 58'; do
            i=$((i + 1))
            printf '%s' "$f" >"$corpus/seed-$i"
        done
    fi
    # cargo-fuzz needs nightly flags; RUSTC_BOOTSTRAP lets the stable compiler take them.
    RUSTC_BOOTSTRAP=1 cargo fuzz run --fuzz-dir fuzz "$target" "$corpus" -- -max_total_time="$secs" -rss_limit_mb=2048
    ;;
*)
    echo "usage: fuzz.sh check | run TARGET [SECONDS]" >&2
    exit 2
    ;;
esac
