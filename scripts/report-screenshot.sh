#!/usr/bin/env bash
# Renders an otc.report HTML file to a PNG of the whole page with headless
# Chromium (Debian's `chromium` package: apt-get install chromium), so a
# person can see what the report looks like without opening a browser.
#
# Usage: scripts/report-screenshot.sh REPORT.html OUT.png [WIDTH]   (WIDTH in px, default 1000)
#
# Chromium runs with a fresh profile and every background service off (this
# machine's network may be closed, and a first run that phones home hangs),
# as root with --no-sandbox, and is killed if it has not finished within
# $CHROMIUM_TIMEOUT seconds (default 120). The page's height is measured
# first, on a copy of the report with one line of script appended (the report
# itself holds none), so the PNG holds the whole page.
set -euo pipefail

if [[ $# -lt 2 || $# -gt 3 ]]; then
    echo "usage: $0 REPORT.html OUT.png [WIDTH]" >&2
    exit 2
fi
report="$1"
out="$2"
width="${3:-1000}"
chromium="${CHROMIUM:-/usr/bin/chromium}"
if [[ ! -f "$report" ]]; then
    echo "$0: no report at $report; expected an HTML file written by otc.report" >&2
    exit 2
fi
if [[ ! -x "$chromium" ]]; then
    echo "$0: expected Chromium at $chromium; install it with apt-get install chromium (or set CHROMIUM)" >&2
    exit 3
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

flags=(--headless --disable-gpu --disable-quic --no-first-run --no-default-browser-check
       --disable-background-networking --disable-component-update --disable-sync
       --disable-dev-shm-usage --hide-scrollbars "--user-data-dir=$work/profile")
if [[ $(id -u) -eq 0 ]]; then
    flags+=(--no-sandbox)
fi

run_chromium() {
    if ! timeout --kill-after=10 "${CHROMIUM_TIMEOUT:-120}" "$chromium" "${flags[@]}" "$@" \
        >"$work/stdout" 2>"$work/stderr"; then
        echo "$0: chromium failed or hung (killed after ${CHROMIUM_TIMEOUT:-120} s); its last words:" >&2
        tail -n 5 "$work/stderr" >&2
        exit 1
    fi
}

# Chromium reads copies in the work folder: the report is self-contained,
# and their URLs need no escaping whatever the report's name. The page's
# height at this width is measured on one of them.
cp "$report" "$work/page.html"
cp "$report" "$work/measure.html"
echo '<script>document.body.setAttribute("data-page-height", document.documentElement.scrollHeight)</script>' \
    >>"$work/measure.html"
run_chromium "--window-size=$width,800" --dump-dom "file://$work/measure.html"
height="$(grep -o 'data-page-height="[0-9]*"' "$work/stdout" | grep -o '[0-9]\+' || true)"
if [[ -z "$height" ]]; then
    echo "$0: could not measure the page's height; chromium printed no page" >&2
    exit 1
fi

run_chromium "--window-size=$width,$height" "--screenshot=$work/page.png" "file://$work/page.html"
mv "$work/page.png" "$out"
echo "$out: ${width}x${height}"
