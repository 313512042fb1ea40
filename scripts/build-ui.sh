#!/usr/bin/env bash
# Builds the web UI from source into ui/dist, which the next `cargo build` embeds in
# the tyto binary. Installs Node.js and npm from Debian when they are missing, and
# with --browser also Debian's Chromium, which the browser tests drive.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

need=()
command -v node >/dev/null || need+=(nodejs)
command -v npm >/dev/null || need+=(npm)
if [ "${1:-}" = --browser ] && [ ! -x "${CHROMIUM:-/usr/bin/chromium}" ]; then
    need+=(chromium)
fi
tyto_apt_install build-ui "${need[@]}"

cd ui
# The lock file pins every package; reinstall only when it changed.
if [ ! -f node_modules/.package-lock.json ] || ! cmp -s package-lock.json node_modules/.tyto-lock; then
    echo "build-ui: npm ci" >&2
    npm ci --no-audit --no-fund --loglevel=error
    cp package-lock.json node_modules/.tyto-lock
fi
echo "build-ui: type check and bundle" >&2
npm run --silent build -- --logLevel warn
