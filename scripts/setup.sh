#!/usr/bin/env bash
# Installs what Tyto's build and tests need on a fresh Debian machine.
# Rust (cargo) must be present; everything else comes from Debian's packages.
set -euo pipefail
source "$(dirname "$0")/env.sh"

need=()
command -v cc >/dev/null || need+=(gcc)
command -v c++ >/dev/null || need+=(g++)
# tshark: the tests check that exported pcaps open in Wireshark's reader.
command -v tshark >/dev/null || need+=(tshark)
# curl and openssl: the API tests log in with curl (Digest, as scripts do) and serve
# HTTPS with a certificate made by openssl.
command -v curl >/dev/null || need+=(curl ca-certificates)
command -v openssl >/dev/null || need+=(openssl)
# tcpdump: the capture-filter compiler is checked against libpcap's on real captures.
command -v tcpdump >/dev/null || need+=(tcpdump)
# nmap: the detection tests scan a test network and expect the alerts.
command -v nmap >/dev/null || need+=(nmap)
# rsyslog: the alert sinks' syslog test sends to a private rsyslogd on loopback.
[ -x /usr/sbin/rsyslogd ] || need+=(rsyslog)
# ip (network namespaces and veth pairs) and kill: the live-capture tests build their
# own network and stop the capture with signals.
command -v ip >/dev/null || need+=(iproute2)
[ -x /bin/kill ] || [ -x /usr/bin/kill ] || need+=(procps)
# man (and groff under it): the manual pages `tyto man` writes are rendered by a test.
command -v man >/dev/null || need+=(man-db)
# clickhouse-server (Debian's 18.16): the ClickHouse store's tests start a private
# server on loopback (scripts/clickhouse.sh).
[ -x /usr/sbin/clickhouse-server ] || need+=(clickhouse-server)
# The Debian package (scripts/package.sh) and its test: objcopy compresses the
# binary's debug sections; systemd-analyze verifies the unit; setpriv and runuser
# run tyto as the unit's user with its capabilities alone.
command -v objcopy >/dev/null || need+=(binutils)
command -v systemd-analyze >/dev/null || need+=(systemd)
command -v setpriv >/dev/null && command -v runuser >/dev/null || need+=(util-linux)
# postgresql (server and psql), redis-server (with redis-cli), mariadb-server and
# memcached: the database tests start private servers on loopback and time their
# answers from the packets.
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && command -v psql >/dev/null || need+=(postgresql)
command -v redis-server >/dev/null && command -v redis-cli >/dev/null || need+=(redis-server)
command -v mariadbd >/dev/null && command -v mariadb >/dev/null || need+=(mariadb-server mariadb-client)
command -v memcached >/dev/null || need+=(memcached)
# ndpiReader (libndpi-bin): `tyto bench` runs it on the same corpus for comparison.
command -v ndpiReader >/dev/null || need+=(libndpi-bin)
tyto_apt_install setup "${need[@]}"
command -v cargo >/dev/null || { echo "setup: cargo not found: install Rust (rustup) first" >&2; exit 1; }
