#!/usr/bin/env bash
# Installs Debian's Chromium (and a font set for it) when it is missing: the
# rendered-page test of otc.report and scripts/report-screenshot.sh use it.
# Called by .ci/run and by that test itself, so `cargo test --workspace` on a
# fresh machine needs nothing installed by hand. Needs root and apt-get;
# otherwise it says what to do and exits 3. Does nothing when Chromium is
# already there.
#
# Usage: scripts/install-chromium.sh
set -euo pipefail

chromium="${CHROMIUM:-/usr/bin/chromium}"
if [[ -x "$chromium" ]]; then
    exit 0
fi
if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
    echo "$0: $chromium is missing; install Debian's chromium package as root (apt-get install chromium)" >&2
    exit 3
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium fonts-liberation >/dev/null
"$chromium" --version >/dev/null
