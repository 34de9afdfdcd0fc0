#!/usr/bin/env bash
# The main job, end to end on the bundled FINRA sample files: builds the host
# and the plugins (release), installs the plugins, starts a fresh database,
# runs otc.load (ingest, normalize, summarize and analytics in one run) and
# otc.coverage, then prints the latest complete week's top symbols, their ATS
# against their non-ATS volume, and the ATS and non-ATS market shares, and
# writes that week's HTML report (otc.report) and prints its path. (The
# latest week may hold only NMS Tier 1: the other tiers come two weeks later.)
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
"$host" run otc.load -p file_path=data/finra -p analytics=true
echo
# Coverage as on the day of the sample's last publication (2025-12-29): what
# was loaded, missing or not yet published then.
"$host" run otc.coverage -p as_of=2025-12-29

complete="(SELECT MAX(week_ending) FROM otc_venue_share WHERE venue_type = 'ATS' AND complete = 1)"
echo
echo "Top 10 symbols by ATS volume in the latest complete week:"
"$host" query "SELECT week_ending, tier, symbol, issue_name, total_volume, total_trades, venue_count,
                      iif(avg_trade_size IS NULL, NULL, printf('%.2f', avg_trade_size)) AS avg_trade_size
               FROM otc_symbol_summary WHERE week_ending = $complete AND venue_type = 'ATS'
               ORDER BY total_volume DESC, symbol LIMIT 10"
echo
echo "ATS market share in the latest complete week, all tiers together:"
"$host" query "SELECT rank, venue, venue_name, total_volume, total_trades, symbol_count,
                      iif(market_share_pct IS NULL, NULL, printf('%.2f', market_share_pct)) AS market_share_pct
               FROM otc_venue_share WHERE week_ending = $complete AND tier = 'ALL' AND venue_type = 'ATS'
               ORDER BY rank LIMIT 10"
echo
echo "Non-ATS market share in the latest complete week (De Minimis Firms: the small firms together):"
"$host" query "SELECT rank, venue, is_aggregate, total_volume, symbol_count,
                      iif(market_share_pct IS NULL, NULL, printf('%.2f', market_share_pct)) AS market_share_pct
               FROM otc_venue_share WHERE week_ending = $complete AND tier = 'ALL' AND venue_type = 'NON_ATS'
               ORDER BY rank LIMIT 10"
echo
echo "ATS against non-ATS volume of the top symbols in the latest complete week, all tiers:"
"$host" query "SELECT symbol, ats_volume, non_ats_volume, iif(ats_share_pct IS NULL, NULL, printf('%.2f', ats_share_pct)) AS ats_share_pct,
                      iif(ats_avg_trade_size IS NULL, NULL, printf('%.2f', ats_avg_trade_size)) AS ats_avg_trade_size,
                      iif(non_ats_avg_trade_size IS NULL, NULL, printf('%.2f', non_ats_avg_trade_size)) AS non_ats_avg_trade_size
               FROM otc_symbol_offexchange WHERE week_ending = $complete AND tier = 'ALL'
               ORDER BY ats_volume + non_ats_volume DESC, symbol LIMIT 10"
echo
echo "The latest complete week's report (one HTML file; it opens offline):"
report_run="$("$host" run otc.report)"
echo "$report_run"
report="$(awk '$1 == "out" { print $2 }' <<<"$report_run")"
echo
echo "Report: $root/$report"
