#!/usr/bin/env bash
# Builds Tyto's Debian package: tyto_VERSION_ARCH.deb with the binary, the example
# configuration as /etc/tyto/tyto.toml (data in /var/lib/tyto), the systemd unit
# tyto.service (`tyto run` as the system user tyto, capturing with CAP_NET_RAW
# only), manual pages and shell completions. Install it with `dpkg -i`.
#
# Usage: scripts/package.sh [--binary PATH] [--out DIR]
#   --binary  package this binary rather than building one (the package test
#             packages the binary it tests)
#   --out     where the .deb goes (default: $CARGO_TARGET_DIR/debian); its path is
#             printed on standard output
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

binary=""
out="$CARGO_TARGET_DIR/debian"
while (($#)); do
    case $1 in
    --binary) binary=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    *) echo "package: unknown option $1 (see the top of $0)" >&2; exit 2 ;;
    esac
done
for tool in dpkg-deb objcopy gzip; do
    command -v "$tool" >/dev/null || { echo "package: $tool is missing (scripts/setup.sh installs it)" >&2; exit 1; }
done
if [ -z "$binary" ]; then
    scripts/setup.sh
    scripts/build-ui.sh
    echo "package: building (the first build compiles DuckDB: about 20 minutes on 2 cores)" >&2
    tyto_build --quiet
    binary=$TYTO_BIN
fi

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
arch=$(dpkg --print-architecture)
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
root=$stage/root
install -d "$root/DEBIAN" "$root/usr/bin" "$root/etc/tyto" "$root/usr/lib/systemd/system" \
    "$root/usr/share/man/man1" "$root/usr/share/doc/tyto" \
    "$root/usr/share/bash-completion/completions" "$root/usr/share/zsh/vendor-completions" \
    "$root/usr/share/fish/vendor_completions.d"

# The binary with its debug sections compressed: Tyto's line tables stay for
# backtraces, and the file is a fifth smaller.
objcopy --compress-debug-sections=zlib "$binary" "$root/usr/bin/tyto"
chmod 0755 "$root/usr/bin/tyto"
tyto=$root/usr/bin/tyto

sed 's|^data_dir = .*|data_dir = "/var/lib/tyto"|' tyto.example.toml >"$root/etc/tyto/tyto.toml"
grep -q '^data_dir = "/var/lib/tyto"$' "$root/etc/tyto/tyto.toml" || {
    echo "package: tyto.example.toml has no data_dir line to point at /var/lib/tyto" >&2
    exit 1
}
"$tyto" config check "$root/etc/tyto/tyto.toml" >/dev/null
install -m 0644 packaging/tyto.service "$root/usr/lib/systemd/system/tyto.service"

"$tyto" man --dir "$root/usr/share/man/man1"
gzip -9n "$root"/usr/share/man/man1/*.1
"$tyto" completions bash >"$root/usr/share/bash-completion/completions/tyto"
"$tyto" completions zsh >"$root/usr/share/zsh/vendor-completions/_tyto"
"$tyto" completions fish >"$root/usr/share/fish/vendor_completions.d/tyto.fish"
cat >"$root/usr/share/doc/tyto/copyright" <<EOF
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: tyto

Files: *
License: Apache-2.0
 On Debian systems the full text is in /usr/share/common-licenses/Apache-2.0.
EOF
install -m 0644 README.md "$root/usr/share/doc/tyto/README.md"
find "$root/usr/share" -type f -exec chmod 0644 {} +

install -m 0755 packaging/debian/postinst packaging/debian/prerm packaging/debian/postrm "$root/DEBIAN/"
echo /etc/tyto/tyto.toml >"$root/DEBIAN/conffiles"
cat >"$root/DEBIAN/control" <<EOF
Package: tyto
Version: $version
Architecture: $arch
Maintainer: Tyto developers <tyto@localhost>
Section: net
Priority: optional
Depends: libc6 (>= 2.34), libgcc-s1, libstdc++6, passwd
Installed-Size: $(du -sk --exclude=DEBIAN "$root" | cut -f1)
Description: network forensics: full packet capture, indexed sessions, search
 Tyto captures packets (AF_PACKET) or reads capture files, keeps every packet
 in rotated pcap files, builds sessions with application metadata found from
 payloads (HTTP, TLS, DNS, SMB, and a hundred more), indexes them in an
 embedded DuckDB store (or ClickHouse), and serves a web viewer and an
 Arkime-compatible API with search expressions, SPI views and PCAP export.
EOF

mkdir -p "$out"
deb="$(cd "$out" && pwd)/tyto_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz -z1 --build "$root" "$deb" >/dev/null
echo "$deb"
