#!/usr/bin/env bash
# A private ClickHouse server on loopback, for tests and trying Tyto out:
#   scripts/clickhouse.sh start DIR [HTTP_PORT]   writes DIR/config.xml, starts the
#                                                  server in the background, waits until
#                                                  it answers; prints its URL
#   scripts/clickhouse.sh stop DIR                 stops it
# The data, logs and configuration all live in DIR; nothing is installed system-wide
# but Debian's clickhouse-server package (installed here when missing).
set -euo pipefail
source "$(dirname "$0")/env.sh"
cmd=${1:?usage: clickhouse.sh start|stop DIR [HTTP_PORT]}
dir=$(realpath -m "${2:?usage: clickhouse.sh start|stop DIR [HTTP_PORT]}")
port=${3:-8123}
case "$cmd" in
start)
    [ -x /usr/sbin/clickhouse-server ] || tyto_apt_install clickhouse.sh clickhouse-server
    mkdir -p "$dir/data" "$dir/tmp" "$dir/log"
    cat >"$dir/config.xml" <<XML
<?xml version="1.0"?>
<yandex>
    <logger><level>warning</level><log>$dir/log/server.log</log><errorlog>$dir/log/error.log</errorlog></logger>
    <listen_host>127.0.0.1</listen_host>
    <http_port>$port</http_port>
    <tcp_port>$((port + 1))</tcp_port>
    <interserver_http_port>$((port + 2))</interserver_http_port>
    <path>$dir/data/</path>
    <tmp_path>$dir/tmp/</tmp_path>
    <user_files_path>$dir/tmp/</user_files_path>
    <mark_cache_size>268435456</mark_cache_size>
    <users_config>$dir/users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <timezone>UTC</timezone>
    <mlock_executable>false</mlock_executable>
    <remote_servers>
        <tyto_local>
            <shard><replica><host>127.0.0.1</host><port>$((port + 1))</port></replica></shard>
        </tyto_local>
    </remote_servers>
</yandex>
XML
    cat >"$dir/users.xml" <<XML
<?xml version="1.0"?>
<yandex>
    <profiles><default><max_memory_usage>4000000000</max_memory_usage></default></profiles>
    <users>
        <default>
            <password></password>
            <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
    </users>
    <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors>
        <result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</yandex>
XML
    /usr/sbin/clickhouse-server --config-file="$dir/config.xml" --pid-file="$dir/server.pid" --daemon
    for _ in $(seq 1 150); do
        if curl -fsS "http://127.0.0.1:$port/ping" >/dev/null 2>&1; then
            echo "http://127.0.0.1:$port"
            exit 0
        fi
        sleep 0.2
    done
    echo "clickhouse.sh: the server in $dir did not answer on port $port; its log:" >&2
    tail -20 "$dir/log/error.log" >&2 || true
    exit 1
    ;;
stop)
    [ -f "$dir/server.pid" ] || exit 0
    pid=$(cat "$dir/server.pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || exit 0; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    ;;
*) echo "usage: clickhouse.sh start|stop DIR [HTTP_PORT]" >&2; exit 2 ;;
esac
