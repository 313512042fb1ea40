# Shared settings for the project's scripts (sourced, not run).
# Builds go to a target directory outside the clone so that a fresh clone on the
# same machine reuses them (DuckDB's C++ alone takes ~20 minutes on 2 cores).
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/tyto/target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
# Every build uses the same package set and profile, so features resolve the same
# way each time and DuckDB is compiled once, not once per command.
tyto_build() {
    cargo build --workspace --all-targets "$@"
}
TYTO_BIN="$CARGO_TARGET_DIR/debug/tyto"

# Installs the Debian packages given (as root; otherwise names them and fails).
# The first argument is the script's name for its messages.
tyto_apt_install() {
    local who=$1
    shift
    (($#)) || return 0
    if [ "$(id -u)" -ne 0 ]; then
        echo "$who: please install: $* (needs root)" >&2
        return 1
    fi
    echo "$who: installing $*" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}
