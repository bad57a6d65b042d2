#!/usr/bin/env bash
# Policy export at scale (issue 5): `catalog export --out DIR` of a 50,000-server catalog in each
# format, against the target of 30 s per export.
#
#   scripts/bench-export.sh                         # 50,000 servers x 20 tools = 1,000,000 tools
#   BENCH_SERVERS=5000 scripts/bench-export.sh      # 10% scale
#   BENCH_DB=PATH scripts/bench-export.sh           # reuse a catalog built earlier (skips (b), (c))
#
# Steps: (a) `cargo build --release`; (b) `scripts/gen-catalog.py` writes the servers as JSONL;
# (c) `catalog import` builds the catalog (not timed against the target: see bench-catalog.sh);
# (d) for each format, `/usr/bin/time -v catalog export --out TMP/F --format F`: wall time, peak
# RSS, files written, and a check that index.json lists every server; (e) a table against the
# target. The page cache is warm: the import (or an earlier run) has just read the database.
#
# Environment:
#   BENCH_SERVERS=50000        servers to generate
#   BENCH_TOOLS_PER_SERVER=20  tools per server
#   BENCH_SEED=1               generator seed
#   BENCH_FORMATS="policylayer claude-code intercept codex"   formats to time
#   BENCH_DB=PATH              an existing catalog to export instead of generating one
#   DEVSET=PATH                the devset (default ../shared/data/devset.jsonl beside the repository)
#   BENCH_DIR=PATH             where the temp dir goes (default $TMPDIR or /tmp); ~8 GB at full scale
#   KEEP_TMP=1                 keep the temp dir
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DEVSET=${DEVSET:-$ROOT/../shared/data/devset.jsonl}
SERVERS=${BENCH_SERVERS:-50000}
PER=${BENCH_TOOLS_PER_SERVER:-20}
SEED=${BENCH_SEED:-1}
FORMATS=${BENCH_FORMATS:-policylayer claude-code intercept codex}
TARGET_S=30

. "$ROOT/scripts/lib.sh"

for v in SERVERS PER; do
    [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive number, found '${!v}'"
done
/usr/bin/time --version 2>&1 | grep -q GNU || die "GNU time is needed at /usr/bin/time (apt-get install time)"
command -v python3 >/dev/null || die "python3 is needed"

TMP=$(mktemp -d "${BENCH_DIR:-${TMPDIR:-/tmp}}/bench-export.XXXXXX")
cleanup() {
    if [[ ${KEEP_TMP:-} == 1 ]]; then say "kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT

say "date:    $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
say "machine: $(nproc) cores, $(free -g | awk '/^Mem:/ {print $2}') GiB, $(uname -sr)"
say "commit:  $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo 'not a git checkout')"
say "idle?:   $(cpu_busy) before the run"

step "(a) cargo build --release"
(cd "$ROOT" && cargo build --release --quiet)
CATALOG=$ROOT/target/release/catalog

if [[ -n ${BENCH_DB:-} ]]; then
    DB=$BENCH_DB
    [[ -r $DB ]] || die "cannot read BENCH_DB=$DB"
    step "(b, c) reusing the catalog $DB"
else
    [[ -r $DEVSET ]] || die "cannot read the devset at $DEVSET (set DEVSET=PATH)"
    DB=$TMP/c.db
    step "(b) generating $SERVERS servers x $PER tools"
    python3 "$ROOT/scripts/gen-catalog.py" --servers "$SERVERS" --tools-per-server "$PER" --seed "$SEED" \
        --devset "$DEVSET" --out "$TMP/gen"
    step "(c) catalog import (builds the catalog; timed by bench-catalog.sh, not here)"
    start=$(date +%s.%N)
    "$CATALOG" import "$TMP/gen" --db "$DB" --format json >/dev/null 2>"$TMP/import.err" ||
        die "import failed: $(tail -3 "$TMP/import.err")"
    say "imported in $(python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$start" "$(date +%s.%N)") s"
    rm -rf "$TMP/gen"
fi
read -r NSERVERS NTOOLS < <("$CATALOG" stats --db "$DB" --format json | python3 -c "import json,sys; s=json.load(sys.stdin); print(s['servers'], s['tools'])")
say "catalog: $NSERVERS servers, $NTOOLS current tools"

step "(d) catalog export --out DIR --format F"
RESULTS=()
for F in $FORMATS; do
    OUT=$TMP/out-$F
    rm -rf "$OUT"
    rc=0
    /usr/bin/time -v -o "$TMP/$F.time" "$CATALOG" export --out "$OUT" --format "$F" --db "$DB" >"$TMP/$F.out" 2>"$TMP/$F.err" || rc=$?
    ((rc == 0)) || die "export --format $F failed (exit $rc): $(tail -3 "$TMP/$F.err")"
    read -r WALL RSS_MB USER_S SYS_S < <(parse_gnu_time "$TMP/$F.time")
    FILES=$(find "$OUT" -type f | wc -l)
    BYTES=$(du -sb "$OUT" | cut -f1)
    LISTED=$(python3 -c "import json,sys; m=json.load(open(sys.argv[1])); print(m['servers'] + len(m['skipped']))" "$OUT/index.json")
    [[ $LISTED == "$NSERVERS" ]] || die "index.json accounts for $LISTED servers, the catalog has $NSERVERS"
    say "$F: wall ${WALL}s (user ${USER_S}s, sys ${SYS_S}s), peak RSS ${RSS_MB} MB, $FILES files, $BYTES bytes; $(cat "$TMP/$F.out")"
    RESULTS+=("$F $WALL $RSS_MB")
    rm -rf "$OUT"
done

step "(e) against the target (<= ${TARGET_S} s per export of $NSERVERS servers, $NTOOLS tools)"
printf '%-12s %10s %10s %8s\n' format wall_s peak_MB verdict
for r in "${RESULTS[@]}"; do
    read -r F WALL RSS <<<"$r"
    ok=$(python3 -c "import sys; print('ok' if float(sys.argv[1]) <= float(sys.argv[2]) else 'SLOW')" "$WALL" "$TARGET_S")
    printf '%-12s %10s %10s %8s\n' "$F" "$WALL" "$RSS" "$ok"
done
say "idle?:   $(cpu_busy) after the run"
