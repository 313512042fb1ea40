#!/usr/bin/env bash
# A current ClickHouse engine (chdb, from PyPI) behind the part of ClickHouse's HTTP
# interface Tyto uses (scripts/chdb-server.py), on loopback, for the tests that run the
# ClickHouse store's SQL on a current version as well as on Debian's 18.16:
#   scripts/chdb.sh install                 makes the Python environment (once; in
#                                           ~/.cache/tyto/chdb, or $TYTO_CHDB_VENV)
#   scripts/chdb.sh start DIR HTTP_PORT     starts it in the background on DIR's data,
#                                           waits until it answers; prints its URL
#   scripts/chdb.sh stop DIR                stops it
set -euo pipefail
source "$(dirname "$0")/env.sh"
here=$(cd "$(dirname "$0")" && pwd)
venv=${TYTO_CHDB_VENV:-$HOME/.cache/tyto/chdb}
# The version the tests were written against (ClickHouse 26.9).
chdb_version=4.4.0
cmd=${1:?usage: chdb.sh install|start|stop [DIR [HTTP_PORT]]}
case "$cmd" in
install)
    if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c "import chdb, sys; sys.exit(chdb.__version__ != '$chdb_version')" 2>/dev/null; then
        exit 0
    fi
    python3 -c "import venv, ensurepip" 2>/dev/null || tyto_apt_install chdb.sh python3-venv
    echo "chdb.sh: installing chdb $chdb_version into $venv (about 900 MB)" >&2
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "chdb==$chdb_version"
    ;;
start)
    dir=$(realpath -m "${2:?usage: chdb.sh start DIR HTTP_PORT}")
    port=${3:?usage: chdb.sh start DIR HTTP_PORT}
    "$0" install
    mkdir -p "$dir"
    nohup "$venv/bin/python" "$here/chdb-server.py" "$dir" "$port" >"$dir/server.log" 2>&1 &
    echo $! >"$dir/server.pid"
    for _ in $(seq 1 300); do
        if curl -sf "http://127.0.0.1:$port/ping" >/dev/null 2>&1; then
            echo "http://127.0.0.1:$port"
            exit 0
        fi
        kill -0 "$(cat "$dir/server.pid")" 2>/dev/null || { cat "$dir/server.log" >&2; exit 1; }
        sleep 0.1
    done
    echo "chdb.sh: no answer on port $port after 30 s" >&2
    exit 1
    ;;
stop)
    dir=$(realpath -m "${2:?usage: chdb.sh stop DIR}")
    [ -f "$dir/server.pid" ] && kill "$(cat "$dir/server.pid")" 2>/dev/null || true
    ;;
*)
    echo "usage: chdb.sh install|start|stop [DIR [HTTP_PORT]]" >&2
    exit 2
    ;;
esac
