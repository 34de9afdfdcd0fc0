#!/usr/bin/env bash
# Builds the plugins in release mode and installs their .so files into DIR
# (default: plugins/). Each file is copied to a temporary name in DIR and then
# renamed over the old one: a running spine-host keeps the old file mapped and
# does not crash, and the new plugin is used from its next start. (Copying
# over a loaded library in place crashes the process that has it loaded.)
#
# Usage: scripts/install-plugins.sh [DIR]
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
dest="${1:-$root/plugins}"
plugins=(spine_example spine_otc)

packages=()
for lib in "${plugins[@]}"; do packages+=(-p "${lib//_/-}"); done
cargo build --release --quiet --manifest-path "$root/Cargo.toml" "${packages[@]}"

target_dir="${CARGO_TARGET_DIR:-$root/target}"
mkdir -p "$dest"
chmod go-w "$dest" # spine-host refuses a plugins folder that others may write to
for lib in "${plugins[@]}"; do
    built="$target_dir/release/lib$lib.so"
    temporary="$dest/.lib$lib.so.tmp.$$"
    cp "$built" "$temporary"
    mv -f "$temporary" "$dest/lib$lib.so"
    echo "installed $dest/lib$lib.so"
done
