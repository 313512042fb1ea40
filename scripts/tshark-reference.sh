#!/usr/bin/env bash
# Writes what Wireshark measures on the shared nDPI captures, for the tests that
# hold Tyto's figures against it (run again when the captures change; needs tshark):
#   crates/tyto/tests/data/tshark_initial_rtt.tsv — per TCP connection whose opening
#   Wireshark timed: capture, the two endpoints (innermost addresses, as Wireshark's
#   Source and Destination columns show them), tcp.analysis.initial_rtt in nanoseconds;
#   crates/tyto/tests/data/tshark_response_times.tsv — every http.time and dns.time:
#   capture, `http` or `dns`, the two endpoints, the time in nanoseconds.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
captures="${1:-$here/../shared/pcaps/ndpi}"
out="$here/crates/tyto/tests/data/tshark_initial_rtt.tsv"
times="$here/crates/tyto/tests/data/tshark_response_times.tsv"
command -v tshark >/dev/null || { echo "tshark is not installed (apt-get install tshark)" >&2; exit 1; }
{
    printf '# %s\n' "$(tshark --version 2>/dev/null | sed -n 1p)"
    printf '# capture\tendpoint\tendpoint\tinitial_rtt_ns\n'
    for f in "$captures"/*.pcap "$captures"/*.pcapng; do
        [ -e "$f" ] || continue
        # The first packet of each TCP stream that carries the figure (a damaged
        # capture ends tshark early: what it read stands).
        { tshark -n -r "$f" -Y tcp.analysis.initial_rtt -T fields -E separator=/t \
            -e tcp.stream -e _ws.col.Source -e tcp.srcport -e _ws.col.Destination -e tcp.dstport \
            -e tcp.analysis.initial_rtt 2>/dev/null || true; } |
            awk -F'\t' -v name="$(basename "$f")" '!seen[$1]++ {
                split($6, t, "."); ns = t[1] * 1000000000 + substr(t[2] "000000000", 1, 9);
                printf "%s\t%s %s\t%s %s\t%d\n", name, $2, $3, $4, $5, ns }'
    done
} >"$out.tmp"
{
    printf '# %s\n' "$(tshark --version 2>/dev/null | sed -n 1p)"
    printf '# capture\tkind\tendpoint\tendpoint\tresponse_time_ns\n'
    for f in "$captures"/*.pcap "$captures"/*.pcapng; do
        [ -e "$f" ] || continue
        for kind in http dns; do
            # The innermost transport's ports (a tunnel over UDP carries its own).
            transport=tcp
            [ "$kind" = dns ] && transport=udp
            { tshark -n -r "$f" -Y "$kind.time" -T fields -E separator=/t -E occurrence=l \
                -e _ws.col.Source -e $transport.srcport -e tcp.srcport -e _ws.col.Destination \
                -e $transport.dstport -e tcp.dstport -e "$kind.time" 2>/dev/null || true; } |
                awk -F'\t' -v name="$(basename "$f")" -v kind="$kind" '$7 != "" {
                    sp = $2 != "" ? $2 : $3; dp = $5 != "" ? $5 : $6;
                    split($7, t, "."); ns = t[1] * 1000000000 + substr(t[2] "000000000", 1, 9);
                    printf "%s\t%s\t%s %s\t%s %s\t%d\n", name, kind, $1, sp, $4, dp, ns }'
        done
    done
} >"$times.tmp"
mv "$out.tmp" "$out"
mv "$times.tmp" "$times"
echo "$(grep -vc '^#' "$out") connections in $out, $(grep -vc '^#' "$times") response times in $times"
