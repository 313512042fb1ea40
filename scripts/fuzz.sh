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
    # cargo-fuzz needs nightly flags; RUSTC_BOOTSTRAP lets the stable compiler take them.
    RUSTC_BOOTSTRAP=1 cargo fuzz run --fuzz-dir fuzz "$target" "$corpus" -- -max_total_time="$secs" -rss_limit_mb=2048
    ;;
*)
    echo "usage: fuzz.sh check | run TARGET [SECONDS]" >&2
    exit 2
    ;;
esac
