#!/usr/bin/env bash
# The main job, end to end on the bundled FINRA sample files: builds the host
# and the plugins (release), installs the plugins, starts a fresh database and
# runs otc.ingest -> otc.normalize -> otc.summarize, then prints the latest
# week's top symbols and venue market shares.
#
# Usage: scripts/demo.sh            (database: demo.db, or $SPINE_DATABASE_PATH)
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

cargo build --release --quiet -p spine-host
scripts/install-plugins.sh plugins

host="${CARGO_TARGET_DIR:-$root/target}/release/spine-host"
export SPINE_DATABASE_PATH="${SPINE_DATABASE_PATH:-demo.db}"
export SPINE_PLUGINS_DIR="$root/plugins"

echo
"$host" db reset --yes
echo
"$host" run otc.ingest -p file_path=data/finra
"$host" run otc.normalize
"$host" run otc.summarize

latest="(SELECT MAX(week_ending) FROM otc_symbol_summary)"
echo
echo "Top 10 symbols by volume in the latest week:"
"$host" query "SELECT week_ending, tier, symbol, total_volume, total_trades, venue_count, avg_trade_size
               FROM otc_symbol_summary WHERE week_ending = $latest
               ORDER BY total_volume DESC, symbol LIMIT 10"
echo
echo "Venue market share in the latest week, all tiers together:"
"$host" query "SELECT rank, mpid, total_volume, total_trades, symbol_count, market_share_pct
               FROM otc_venue_share WHERE week_ending = $latest AND tier = 'ALL'
               ORDER BY rank LIMIT 10"
