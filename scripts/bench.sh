#!/usr/bin/env bash
# The OTC load measured against SQLite itself, on this machine, in one go.
#
# Generates (scripts/gen-finra.py) a FINRA-shaped file of ROWS lines (all
# three tiers; weeks of 250,000 lines as in FINRA's files, at least four),
# then times:
#   1. the sqlite3 CLI's own bulk import of that file into a plain table
#      (`.import`: it only parses and inserts): the reference;
#   2. the same import into a database with spine-host's settings (WAL,
#      synchronous=NORMAL), for context: what WAL alone costs;
#   3. otc.ingest, otc.normalize and otc.summarize on a fresh database;
#   4. otc.ingest of the same file again (every line a duplicate);
#   5. ingest + normalize + summarize again on a fresh database, of the same
#      rows with the tiers interleaved line by line (a merged export, a
#      concatenation of files, a re-sorted download): every insert then lands
#      far from the last one in the indexes;
#   6. `spine-host list` with both plugins installed (median of 20 starts).
# For each stage it prints the wall time, rows per second, the peak RSS of
# the process and the ratio to the reference import, then the targets.
#
# Usage: scripts/bench.sh [ROWS]          (default 1000000)
# Environment:
#   BENCH_DIR     work folder (default target/bench); the generated file is
#                 kept there and reused, the databases are deleted at the end
#   BENCH_REPEAT  run stages 1-4 this many times (rounds) and report medians;
#                 each ratio is taken within its round (default 1)
#   BENCH_KEEP=1  keep the databases
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
rows="${1:-1000000}"
repeat="${BENCH_REPEAT:-1}"
work="${BENCH_DIR:-$root/target/bench}"
if ! [[ "$rows" =~ ^[1-9][0-9]*$ && "$repeat" =~ ^[1-9][0-9]*$ ]]; then
    echo "usage: scripts/bench.sh [ROWS]   (ROWS and BENCH_REPEAT are positive integers)" >&2
    exit 2
fi
if ! command -v sqlite3 >/dev/null; then
    echo "bench.sh needs the sqlite3 command-line shell, the reference it measures against." >&2
    echo "Install it with: apt-get install sqlite3   (Debian/Ubuntu; brew install sqlite on macOS)" >&2
    exit 1
fi
for tool in python3 cargo; do
    command -v "$tool" >/dev/null || { echo "bench.sh needs $tool" >&2; exit 1; }
done

# Other processes skew wall times: note how busy the machine was before.
load="$(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo 0)"
mkdir -p "$work"
cd "$root"
echo "building spine-host and the plugins (release)..."
cargo build --release --quiet -p spine-host -p spine-otc -p spine-example
scripts/install-plugins.sh "$work/plugins" >/dev/null
host="${CARGO_TARGET_DIR:-$root/target}/release/spine-host"
export SPINE_PLUGINS_DIR="$work/plugins" SPINE_LOG_LEVEL=warn

data="$work/finra-$rows.psv"
if [[ ! -s "$data" ]]; then
    echo "generating $data..."
    weeks=$(((rows + 249999) / 250000))
    python3 scripts/gen-finra.py "$rows" --weeks "$((weeks < 4 ? 4 : weeks))" -o "$data.tmp"
    mv "$data.tmp" "$data"
fi

# measure NAME COMMAND...: runs the command, appends "NAME SECONDS PEAK_KB" to
# $results. GNU time when there is one; otherwise Python's rusage of the
# child, which is the same kernel figure (VmHWM).
results="$work/results.txt"
: >"$results"
measure() {
    local name="$1" out="$work/time.out"
    shift
    if [[ -x /usr/bin/time ]] && /usr/bin/time -f '%e' true 2>/dev/null; then
        /usr/bin/time -o "$out" -f '%e %M' "$@" >"$work/stdout.txt" 2>"$work/stderr.txt"
    else
        python3 - "$out" "$@" >"$work/stdout.txt" 2>"$work/stderr.txt" <<'EOF'
import resource, subprocess, sys, time
start = time.perf_counter()
code = subprocess.call(sys.argv[2:])
seconds = time.perf_counter() - start
peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
open(sys.argv[1], "w").write(f"{seconds:.2f} {peak_kb}\n")
sys.exit(code)
EOF
    fi || { echo "$name failed:" >&2; cat "$work/stderr.txt" "$work/stdout.txt" >&2; exit 1; }
    echo "$name $(tail -n 1 "$out")" >>"$results"
}

# check_run FIELD=VALUE...: the last run completed with these metrics.
check_run() {
    python3 - "$work/stdout.txt" "$@" <<'EOF'
import json, sys
run = json.load(open(sys.argv[1]))
if run["status"] != "completed":
    sys.exit(f"{run['pipeline']} {run['status']}: {run.get('error')}")
for expected in sys.argv[2:]:
    key, value = expected.split("=")
    if str(run["metrics"].get(key)) != value:
        sys.exit(f"{run['pipeline']}: expected {expected}, got {run['metrics']}")
EOF
}

# The same rows, tiers interleaved line by line within each week (the
# generated file holds a week's tiers one after the other).
interleaved="$work/finra-$rows-interleaved.psv"
if [[ ! -s "$interleaved" || "$interleaved" -ot "$data" ]]; then
    echo "writing $interleaved..."
    python3 - "$data" "$interleaved.tmp" <<'EOF'
import itertools, sys
source, target = sys.argv[1], sys.argv[2]
with open(source, encoding="utf-8") as lines, open(target, "w", encoding="utf-8") as out:
    out.write(next(lines))
    by_tier = {}
    def flush():
        for row in itertools.zip_longest(*by_tier.values()):
            out.writelines(line for line in row if line is not None)
        by_tier.clear()
    current = None
    for line in lines:
        tier = line.split("|", 1)[0]
        if tier != current and tier in by_tier:  # a tier comes back: the next week
            flush()
        current = tier
        by_tier.setdefault(tier, []).append(line)
    flush()
EOF
    mv "$interleaved.tmp" "$interleaved"
fi

columns="tierDescription, issueSymbolIdentifier, issueName, marketParticipantName, MPID,
         totalWeeklyShareQuantity, totalWeeklyTradeCount, lastUpdateDate"
for round in $(seq "$repeat"); do
    echo "round $round of $repeat: sqlite3 .import, otc.ingest, otc.normalize, otc.summarize, re-ingest, interleaved load"
    reference="$work/sqlite3-import.db"
    rm -f "$reference" "$reference-wal" "$reference-shm"
    measure import sqlite3 "$reference" "CREATE TABLE t ($columns)" \
        ".mode list" ".separator |" ".import --skip 1 '$data' t"
    [[ "$(sqlite3 "$reference" "SELECT count(*) FROM t")" == "$rows" ]] ||
        { echo "sqlite3 .import did not load $rows rows" >&2; exit 1; }
    rm -f "$reference" "$reference-wal" "$reference-shm"
    measure import_wal sqlite3 "$reference" "PRAGMA journal_mode=WAL" "PRAGMA synchronous=NORMAL" \
        "CREATE TABLE t ($columns)" ".mode list" ".separator |" ".import --skip 1 '$data' t"
    rm -f "$reference" "$reference-wal" "$reference-shm"

    export SPINE_DATABASE_PATH="$work/spine.db"
    rm -f "$SPINE_DATABASE_PATH" "$SPINE_DATABASE_PATH-wal" "$SPINE_DATABASE_PATH-shm"
    "$host" db init >/dev/null
    measure ingest "$host" run otc.ingest -p "file_path=$data" --json
    check_run "records=$rows" "inserted=$rows"
    measure normalize "$host" run otc.normalize --json
    check_run "processed=$rows" "accepted=$rows"
    measure summarize "$host" run otc.summarize --json
    check_run
    measure reingest "$host" run otc.ingest -p "file_path=$data" --json
    check_run "records=$rows" "duplicates=$rows"
    rm -f "$SPINE_DATABASE_PATH" "$SPINE_DATABASE_PATH-wal" "$SPINE_DATABASE_PATH-shm"
    "$host" db init >/dev/null
    measure ingest_mixed "$host" run otc.ingest -p "file_path=$interleaved" --json
    check_run "records=$rows" "inserted=$rows"
    measure normalize_mixed "$host" run otc.normalize --json
    check_run "processed=$rows" "accepted=$rows"
    measure summarize_mixed "$host" run otc.summarize --json
    check_run
    if [[ "${BENCH_KEEP:-}" != 1 ]]; then
        rm -f "$SPINE_DATABASE_PATH" "$SPINE_DATABASE_PATH-wal" "$SPINE_DATABASE_PATH-shm"
    fi
done

echo "timing spine-host list (20 starts)..."
list_ms="$(python3 - "$host" <<'EOF'
import statistics, subprocess, sys, time
times = []
for _ in range(21):
    start = time.perf_counter()
    subprocess.run([sys.argv[1], "list"], check=True, stdout=subprocess.DEVNULL)
    times.append((time.perf_counter() - start) * 1000)
print(f"{statistics.median(times[1:]):.1f}")  # the first start warms the page cache
EOF
)"

python3 - "$results" "$rows" "$repeat" "$list_ms" "$(nproc)" "$load" <<'EOF'
import statistics, sys
path, rows, repeat, list_ms, cores, load = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), sys.argv[5], sys.argv[6]
runs = {}
for line in open(path):
    name, seconds, kb = line.split()
    runs.setdefault(name, []).append((float(seconds), int(kb)))
def whole_load(stages):
    return [(sum(runs[n][i][0] for n in stages), max(runs[n][i][1] for n in stages)) for i in range(repeat)]
runs["pipeline"] = whole_load(("ingest", "normalize", "summarize"))
runs["pipeline_mixed"] = whole_load(("ingest_mixed", "normalize_mixed", "summarize_mixed"))
wall = {name: statistics.median(s for s, _ in r) for name, r in runs.items()}
peak = {name: max(kb for _, kb in r) / 1024 for name, r in runs.items()}
# Each ratio is taken within a round, against that round's import, and the
# median of those is shown: the machine's speed drifts between rounds.
ratios = {name: [s / base for (s, _), (base, _) in zip(r, runs["import"])] for name, r in runs.items()}
ratio = {name: statistics.median(values) for name, values in ratios.items()}
labels = {
    "import": "sqlite3 .import (reference)",
    "import_wal": "sqlite3 .import, WAL (host's settings)",
    "ingest": "otc.ingest",
    "normalize": "otc.normalize",
    "summarize": "otc.summarize",
    "reingest": "otc.ingest again (all duplicates)",
    "pipeline": "ingest + normalize + summarize",
    "ingest_mixed": "otc.ingest, tiers interleaved",
    "normalize_mixed": "otc.normalize, tiers interleaved",
    "summarize_mixed": "otc.summarize, tiers interleaved",
    "pipeline_mixed": "ingest + normalize + summarize, tiers interleaved",
}
median = f"medians of {repeat} rounds" if repeat > 1 else "one round"
print(f"\n{rows:,} rows, {cores} cores, {median}; load average {load} when the bench started")
if float(load) >= int(cores):
    print("(the machine was busy: wall times and ratios are less reliable; run again when idle)")
print()
spread = repeat > 1
print("| stage | wall s | rows/s | peak RSS MB | × sqlite3 .import |" + (" range of × |" if spread else ""))
print("|---|---:|---:|---:|---:|" + ("---:|" if spread else ""))
for name, label in labels.items():
    extra = f" {min(ratios[name]):.2f}–{max(ratios[name]):.2f} |" if spread else ""
    print(f"| {label} | {wall[name]:.2f} | {rows / wall[name]:,.0f} | {peak[name]:.0f} | {ratio[name]:.2f} |{extra}")
print(f"\nspine-host list: {list_ms:.1f} ms (median of 20 starts)\n")
spine_peak = max(peak[n] for n in ("ingest", "normalize", "summarize", "reingest", "pipeline_mixed"))
targets = [
    ("ingest + normalize + summarize <= 1.5x", ratio["pipeline"] <= 1.5),
    ("the same, tiers interleaved <= 2.0x", ratio["pipeline_mixed"] <= 2.0),
    ("ingest <= 1.0x", ratio["ingest"] <= 1.0),
    ("re-ingest <= 0.5x", ratio["reingest"] <= 0.5),
    (f"peak RSS < 100 MB (largest: {spine_peak:.0f} MB)", spine_peak < 100),
    ("spine-host list < 20 ms", list_ms < 20),
]
print("targets:")
for text, met in targets:
    print(f"  {'met   ' if met else 'MISSED'}  {text}")
EOF
