#!/usr/bin/env bash
# Builds Tyto, makes a sample capture, ingests it and lists its sessions.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
scripts/setup.sh
echo "demo: building (the first build compiles DuckDB: about 20 minutes on 2 cores)" >&2
tyto_build --quiet
work="${TYTO_DEMO_DIR:-$PWD/tyto-demo}"
rm -rf "$work/data"
mkdir -p "$work"
"$TYTO_BIN" sample -o "$work/sample.pcap"
"$TYTO_BIN" ingest "$work/sample.pcap" --data-dir "$work/data"
"$TYTO_BIN" sessions --data-dir "$work/data" --limit 20
echo
echo "demo: data in $work/data. Try:"
echo "  $TYTO_BIN sessions --data-dir $work/data --format ndjson --limit 3"
echo "  $TYTO_BIN sessions --data-dir $work/data --expr 'protocols == http && host.http == *.example.com'"
echo "  $TYTO_BIN count --data-dir $work/data --expr 'ip.src == 10.1.0.0/16 && protocols == dns'"
echo "  $TYTO_BIN export --data-dir $work/data --session <ID> -o session.pcap && tshark -r session.pcap"
