#!/usr/bin/env bash
# Runs every check and test: formatting, lints, the UI's type check and build, unit
# and end-to-end tests (the end-to-end ones read ../shared/pcaps when it is there;
# the browser test drives the UI in headless Chromium, screenshots in artifacts/),
# the ClickHouse tests start private servers on loopback (Debian's 18.16 and a current
# engine through chdb); the Debian package is built,
# installed, run and purged; and the fuzz targets' build.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
scripts/setup.sh
# The UI first, so that the binary the tests build embeds it; then the browser test
# (crates/tyto/tests/browser.rs) must run, not skip.
scripts/build-ui.sh --browser
export TYTO_BROWSER_TESTS=1
# The ClickHouse tests must run, not skip (setup.sh installed the server), on
# Debian's 18.16 and on a current ClickHouse (chdb's engine, from PyPI, made once).
scripts/chdb.sh install
export TYTO_CLICKHOUSE_TESTS=1
# The package test installs the .deb on this machine (as root), runs it, purges it.
export TYTO_PACKAGE_TESTS=1
export TYTO_ARTIFACTS="${TYTO_ARTIFACTS:-$PWD/artifacts/browser}"
echo "== cargo fmt --check" >&2
cargo fmt --all --check
echo "== cargo clippy -D warnings" >&2
cargo clippy --workspace --all-targets --quiet -- -D warnings
echo "== fuzz targets build" >&2
scripts/fuzz.sh check
echo "== cargo test" >&2
cargo test --workspace
