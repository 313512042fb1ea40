#!/usr/bin/env bash
# Runs every check and test: formatting, lints, unit and end-to-end tests (the
# end-to-end ones read ../shared/pcaps when it is there), and the fuzz targets' build.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
scripts/setup.sh
echo "== cargo fmt --check" >&2
cargo fmt --all --check
echo "== cargo clippy -D warnings" >&2
cargo clippy --workspace --all-targets --quiet -- -D warnings
echo "== fuzz targets build" >&2
scripts/fuzz.sh check
echo "== cargo test" >&2
cargo test --workspace
