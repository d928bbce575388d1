# Sourced by ./smsh. Creates/updates .venv and installs Debian packages the project needs.
# Every step is idempotent; output goes to stderr so `./smsh plan --json` stays machine-readable.
SMSH_ROOT="${ROOT:?}"
SMSH_VENV="${SMSH_VENV:-$SMSH_ROOT/.venv}"

smsh_log() { printf 'smsh: %s\n' "$*" >&2; }

smsh_as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"
    elif command -v sudo >/dev/null 2>&1; then sudo "$@"
    else smsh_log "need root to run: $*"; return 1
    fi
}

smsh_apt_updated=0
smsh_apt_install() {
    if [ "$smsh_apt_updated" = 0 ]; then
        smsh_log "apt-get update"
        smsh_as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
        smsh_apt_updated=1
    fi
    smsh_log "apt-get install $*"
    smsh_as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >&2
}

# smsh_ensure_debian_package COMMAND PACKAGE: install PACKAGE when COMMAND is not on PATH (or in sbin).
smsh_ensure_debian_package() {
    if command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]; then return 0; fi
    if ! command -v apt-get >/dev/null 2>&1; then
        smsh_log "$1 not found and apt-get is not available; install $2 by hand"; return 1
    fi
    smsh_apt_install "$2"
}

smsh_python() {
    for candidate in python3.13 python3.12 python3.11 python3; do
        if command -v "$candidate" >/dev/null 2>&1 &&
            "$candidate" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
            echo "$candidate"; return 0
        fi
    done
    smsh_log "Python >= 3.11 is required"; return 1
}

# smsh_ensure_venv runtime|dev
smsh_ensure_venv() {
    local mode="$1" py stamp want extra
    py="$(smsh_python)"
    if [ ! -x "$SMSH_VENV/bin/python" ]; then
        smsh_log "creating $SMSH_VENV"
        if ! "$py" -m venv "$SMSH_VENV" >/dev/null 2>&1; then
            # Debian's python3 ships without ensurepip: python3-venv provides it.
            rm -rf "$SMSH_VENV"
            smsh_apt_install python3-venv
            "$py" -m venv "$SMSH_VENV"
        fi
    fi
    extra=""
    [ "$mode" = dev ] && extra="[dev]"
    want="$mode $(cat "$SMSH_ROOT/pyproject.toml" | sha256sum | cut -c1-16)"
    stamp="$SMSH_VENV/.smsh-installed-$mode"
    if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
        smsh_log "installing sms-harness$extra into $SMSH_VENV (first run takes a minute)"
        "$SMSH_VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip >&2
        "$SMSH_VENV/bin/python" -m pip install -q --disable-pip-version-check -e "$SMSH_ROOT$extra" >&2
        echo "$want" > "$stamp"
    fi
}
