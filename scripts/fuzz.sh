#!/usr/bin/env bash
# Fuzz targets (fuzz/): `fuzz.sh check` builds them with the stable toolchain;
# `fuzz.sh run TARGET [SECONDS]` fuzzes one with cargo-fuzz (installed on demand),
# seeded with the shared captures; `fuzz.sh soak [SECONDS]` runs every target that
# long (default 600 s each) and prints each one's executions and findings (crash
# inputs are kept in fuzz/artifacts/TARGET/). Soaks are run by hand or on a
# schedule, not by CI.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
export CARGO_TARGET_DIR="$CARGO_TARGET_DIR/fuzz"
captures="${TYTO_PCAPS:-../shared/pcaps}"

# Fills fuzz/corpus/TARGET with seeds (kept between runs; the fuzzer adds to them).
seed() {
    local target=$1 corpus="fuzz/corpus/$1"
    mkdir -p "$corpus"
    if [ -d "$captures" ] && [ "$target" = read_capture ]; then
        find "$captures" -name '*.pcap*' ! -name '*.out' -size -64k -exec cp -n {} "$corpus/" \;
    fi
    if [ -d "$captures" ] && [ ! -e "fuzz/corpus/.captures-cut" ]; then
        case "$target" in
        decode_packet | defrag | tcp_reassembly | dissectors)
            python3 scripts/fuzz-seeds.py "$captures" fuzz/corpus >&2 && touch fuzz/corpus/.captures-cut
            ;;
        esac
    fi
    if [ "$target" = intel_sources ]; then
        # Seeds: one source of each format, the first byte choosing the format.
        printf '\0# list\n192.0.2.1\n198.51.100.0/24\n*.bad.example\nhttp://bad.example/x?y\n' >"$corpus/seed-list"
        printf '\1date,indicator\n2026-01-01,e7d705a3286e19ea42f587b344ee6865\n"x,y",a@bad.example\n' >"$corpus/seed-csv"
        printf '\2{"Event":{"Attribute":[{"type":"domain|ip","value":"c2.example|192.0.2.9","to_ids":true}],"Object":[{"Attribute":[{"type":"url","value":"https://c2.example/g"}]}]}}' >"$corpus/seed-misp"
        printf '\3{"type":"bundle","objects":[{"type":"indicator","pattern":"[ipv4-addr:value = '"'"'192.0.2.0/24'"'"'] OR [file:hashes.'"'"'SHA-256'"'"' = '"'"'%s'"'"']"}]}' "$(printf 'ab%.0s' {1..32})" >"$corpus/seed-stix"
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
}

# Fuzzes one target for SECONDS; libFuzzer's output goes to stderr.
run_target() {
    local target=$1 secs=$2
    command -v cargo-fuzz >/dev/null || cargo install --locked cargo-fuzz
    seed "$target"
    # cargo-fuzz needs nightly flags; RUSTC_BOOTSTRAP lets the stable compiler take them.
    RUSTC_BOOTSTRAP=1 cargo fuzz run --fuzz-dir fuzz "$target" "fuzz/corpus/$target" -- \
        -max_total_time="$secs" -rss_limit_mb=2048 -print_final_stats=1
}

case "${1:-check}" in
check)
    cargo check --quiet --manifest-path fuzz/Cargo.toml --bins
    ;;
run)
    run_target "${2:?usage: fuzz.sh run TARGET [SECONDS]}" "${3:-60}"
    ;;
soak)
    secs="${2:-600}"
    logs="fuzz/artifacts/soak-$(date -u +%Y%m%dT%H%M%SZ)"
    mkdir -p "$logs"
    targets=$(sed -n 's/^name = "\(.*\)"$/\1/p' fuzz/Cargo.toml | grep -v '^tyto-fuzz$')
    failed=0
    printf '%-16s %12s %10s %8s %s\n' TARGET EXECS EXECS/S CORPUS FINDINGS
    for t in $targets; do
        if run_target "$t" "$secs" >"$logs/$t.log" 2>&1; then status=none; else status="see $logs/$t.log"; failed=1; fi
        execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$logs/$t.log" | tail -1)
        speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$logs/$t.log" | tail -1)
        corpus=$(find "fuzz/corpus/$t" -type f | wc -l)
        crashes=$(find "fuzz/artifacts/$t" -maxdepth 1 -type f \( -name 'crash-*' -o -name 'oom-*' -o -name 'timeout-*' \) 2>/dev/null | wc -l)
        [ "$crashes" -gt 0 ] && status="$crashes inputs in fuzz/artifacts/$t" && failed=1
        printf '%-16s %12s %10s %8s %s\n' "$t" "${execs:-?}" "${speed:-?}" "$corpus" "$status"
    done
    exit "$failed"
    ;;
*)
    echo "usage: fuzz.sh check | run TARGET [SECONDS] | soak [SECONDS]" >&2
    exit 2
    ;;
esac
