#!/usr/bin/env bash
# Builds Tyto, makes a sample capture, ingests it, lists its sessions and serves the
# viewer and API on http://$listen/ (user "demo", password "demo-tyto") until
# Ctrl-C. TYTO_DEMO_LISTEN changes the address; TYTO_DEMO_NO_SERVE=1 stops after listing.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
scripts/setup.sh
scripts/build-ui.sh
echo "demo: building (the first build compiles DuckDB: about 20 minutes on 2 cores)" >&2
tyto_build --quiet
work="${TYTO_DEMO_DIR:-$PWD/tyto-demo}"
rm -rf "$work/data"
mkdir -p "$work"
"$TYTO_BIN" sample --incidents -o "$work/sample.pcap"
"$TYTO_BIN" ingest "$work/sample.pcap" --data-dir "$work/data"
"$TYTO_BIN" sessions --data-dir "$work/data" --limit 20
"$TYTO_BIN" alerts --data-dir "$work/data"
listen="${TYTO_DEMO_LISTEN:-127.0.0.1:8005}"
echo "demo-tyto" | "$TYTO_BIN" user add demo --admin --digest --data-dir "$work/data"
echo
echo "demo: data in $work/data. Try, in another terminal:"
echo "  curl --anyauth -u demo:demo-tyto 'http://$listen/sessions.json?length=3'"
echo "  curl --anyauth -u demo:demo-tyto 'http://$listen/api/spiview?spi=protocols:10,ip.dst:10'"
echo "  curl --anyauth -u demo:demo-tyto 'http://$listen/api/alerts?date=-1&severity=high'"
echo "  curl --anyauth -u demo:demo-tyto -o dns.pcap 'http://$listen/api/sessions.pcap?expression=protocols==dns'"
echo "  (stop the server first for CLI commands on the same data: DuckDB has one writer)"
echo "  $TYTO_BIN sessions --data-dir $work/data --expr 'protocols == http && host.http == *.example.com'"
[ "${TYTO_DEMO_NO_SERVE:-}" = 1 ] && exit 0
echo
echo "demo: viewer at http://$listen/ (user demo, password demo-tyto); Ctrl-C stops it"
exec "$TYTO_BIN" serve --data-dir "$work/data" --listen "$listen"
