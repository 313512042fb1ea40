#!/usr/bin/env bash
# Live-capture load test: builds two network namespaces joined by a veth pair, runs
# `tyto capture` on one end and replays a capture at rising rates from the other with
# tcpreplay (installed from Debian if missing), then prints, per rate, the packets
# sent, captured and dropped (kernel ring, worker queues) and the capture's packets/s.
# Needs root.   usage: scripts/capture-load.sh [CAPTURE] [RATES_PPS...]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
command -v tcpreplay >/dev/null || tyto_apt_install capture-load tcpreplay
cargo build --quiet --workspace --bin tyto
tyto="$CARGO_TARGET_DIR/debug/tyto"
work=$(mktemp -d)
capture="${1:-}"
shift || true
rates=("$@")
[ ${#rates[@]} -gt 0 ] || rates=(20000 50000 100000 200000 0)
if [ -z "$capture" ]; then
    capture="$work/sample.pcap"
    "$tyto" sample -o "$capture" --hosts 2000 >/dev/null
fi
a="tytoload$$a"
b="tytoload$$b"
cleanup() {
    ip netns del "$a" 2>/dev/null || true
    ip netns del "$b" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
ip netns add "$a"
ip netns add "$b"
ip link add va netns "$a" type veth peer name vb netns "$b"
ip -n "$a" link set va up
ip -n "$b" link set vb up
ip -n "$a" link set va mtu 9000
ip -n "$b" link set vb mtu 9000

printf '%-10s %10s %10s %10s %10s %12s\n' "rate/s" "sent" "captured" "kern.drop" "queue.drop" "captured/s"
for rate in "${rates[@]}"; do
    data="$work/data-$rate"
    ip netns exec "$a" "$tyto" capture -i va --node load --data-dir "$data" 2>"$work/tyto.log" &
    pid=$!
    until grep -q "capturing on" "$work/tyto.log"; do sleep 0.1; done
    if [ "$rate" = 0 ]; then speed=(--topspeed); label=top; else speed=(--pps="$rate"); label=$rate; fi
    start=$(date +%s.%N)
    sent=$(ip netns exec "$b" tcpreplay -i vb "${speed[@]}" --loop=5 "$capture" 2>&1 |
        awk '/Successful packets:/ {print $3}')
    end=$(date +%s.%N)
    sleep 1
    kill -INT "$pid"
    wait "$pid" || true
    line=$(grep "stopped after" "$work/tyto.log")
    captured=$(sed -E 's/.*: ([0-9]+) packets,.*/\1/' <<<"$line")
    kdrop=$(sed -E 's/.* ([0-9]+) dropped by the kernel.*/\1/' <<<"$line")
    qdrop=$(sed -E 's/.* ([0-9]+) by full queues.*/\1/' <<<"$line")
    pps=$(awk -v n="$captured" -v s="$start" -v e="$end" 'BEGIN {printf "%.0f", n / (e - s)}')
    printf '%-10s %10s %10s %10s %10s %12s\n' "$label" "$sent" "$captured" "$kdrop" "$qdrop" "$pps"
done
