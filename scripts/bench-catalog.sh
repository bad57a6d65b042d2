#!/usr/bin/env bash
# Catalog at scale (issue 3): ingest of a generated catalog into SQLite (and the tantivy index
# when this build writes one), its size on disk, and `catalog show` / `catalog stats` latency.
#
#   scripts/bench-catalog.sh                                      # 50,000 servers x 20 = 1,000,000 tools
#   BENCH_SERVERS=5000 scripts/bench-catalog.sh                   # 10% scale
#
# Steps: (a) `cargo build --release`; (b) `scripts/gen-catalog.py` writes BENCH_SERVERS servers x
# BENCH_TOOLS_PER_SERVER tools as JSONL (1,000 servers per file) from the devset's records into a
# temp dir; (c) `/usr/bin/time -v catalog import DIR --db TMP/c.db --format json > /dev/null`:
# wall time, peak RSS, and a check that `catalog stats` counts every tool; (d) bytes of the
# database (with its -wal/-shm files) and of the index directory beside it (`c.db.index`; reported
# as absent when this build writes none), per tool, and per table and index (SQLite's dbstat);
# (e) `catalog show SERVER TOOL` and `catalog show SERVER` for SHOW_SAMPLES random tools, each a
# fresh process (one untimed warm-up), median/p90/max ms; (f) `catalog stats`; (g) `catalog
# reindex`, when this build has it: the index phase alone. Then a table against the targets.
# The page cache is warm for (e)-(g): the import has just written the files.
#
# Environment:
#   BENCH_SERVERS=50000          servers to generate
#   BENCH_TOOLS_PER_SERVER=20    tools per server
#   BENCH_SEED=1                 generator seed (and the seed of the random tools for `show`)
#   SHOW_SAMPLES=25              random tools timed with `show SERVER TOOL` (and their servers)
#   STATS_RUNS=3                 timed runs of `catalog stats`
#   BENCH_REINDEX=0              skip timing `catalog reindex`
#   BENCH_BREAKDOWN=0            skip the per-table size breakdown (reads the whole database)
#   DEVSET=PATH                  the devset (default ../shared/data/devset.jsonl beside the repo)
#   BENCH_DIR=PATH               where the temp dir goes (default $TMPDIR or /tmp); needs ~10 GB
#                                free at full scale (1.5 GB of JSONL + the database and index)
#   KEEP_TMP=1                   keep the temp dir (generated files, database, logs)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DEVSET=${DEVSET:-$ROOT/../shared/data/devset.jsonl}
SERVERS=${BENCH_SERVERS:-50000}
PER=${BENCH_TOOLS_PER_SERVER:-20}
SEED=${BENCH_SEED:-1}
SAMPLES=${SHOW_SAMPLES:-25}
STATS_RUNS=${STATS_RUNS:-3}
# Targets from issue 3.
INGEST_TARGET_S=120
PEAK_TARGET_MB=1024
SHOW_TARGET_MS=50

. "$ROOT/scripts/lib.sh"

[[ -r $DEVSET ]] || die "cannot read the devset at $DEVSET (it lives in shared/data/devset.jsonl beside the repository; set DEVSET=PATH)"
command -v python3 >/dev/null || die "python3 is needed to generate the catalog"
for v in SERVERS PER SAMPLES STATS_RUNS; do
    [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive number, found '${!v}'"
done
/usr/bin/time --version 2>&1 | grep -q GNU || die "GNU time is needed at /usr/bin/time for peak RSS (apt-get install time)"
TOOLS=$((SERVERS * PER))

TMP=$(mktemp -d "${BENCH_DIR:-${TMPDIR:-/tmp}}/bench-catalog.XXXXXX")
cleanup() {
    if [[ ${KEEP_TMP:-} == 1 ]]; then
        say "kept $TMP"
    else
        rm -rf "$TMP"
    fi
}
trap cleanup EXIT
GEN=$TMP/gen
DB=$TMP/c.db
INDEX=$DB.index

say "date:    $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
say "machine: $(nproc) cores, $(free -g | awk '/^Mem:/ {print $2}') GiB, $(uname -sr), $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ *//' || echo 'unknown CPU')"
if COMMIT=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null); then
    git -C "$ROOT" diff --quiet HEAD -- src rules Cargo.toml Cargo.lock || COMMIT="$COMMIT with uncommitted changes to src/, rules/ or Cargo"
    [[ -z $(git -C "$ROOT" ls-files --others --exclude-standard -- src rules) ]] || COMMIT="$COMMIT (and untracked files in src/ or rules/)"
else
    COMMIT="not a git checkout"
fi
say "commit:  $COMMIT"
say "scale:   $SERVERS servers x $PER tools = $TOOLS tools; temp dir $TMP ($(df -h --output=avail "$TMP" | tail -1 | tr -d ' ') free)"
say "idle?:   $(cpu_busy) before the run"

# ---------------------------------------------------------------------------------------------
step "(a) cargo build --release"
(cd "$ROOT" && cargo build --release --quiet)
CATALOG=$ROOT/target/release/catalog
[[ -x $CATALOG ]] || die "no binary at $CATALOG after the build"

# ---------------------------------------------------------------------------------------------
step "(b) generating $SERVERS servers x $PER tools from $DEVSET"
python3 "$ROOT/scripts/gen-catalog.py" --servers "$SERVERS" --tools-per-server "$PER" --seed "$SEED" \
    --devset "$DEVSET" --out "$GEN"
INPUT_BYTES=$(du -sb "$GEN" | cut -f1)

# ---------------------------------------------------------------------------------------------
# timed NAME CMD...: runs CMD under GNU time with stdout to TMP/NAME.out and stderr to TMP/NAME.err;
# sets WALL (s, from time's own clock), RSS_MB, USER_S, SYS_S; dies when CMD fails.
timed() {
    local name=$1 rc=0
    shift
    /usr/bin/time -v -o "$TMP/$name.time" "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" || rc=$?
    ((rc == 0)) || die "$name failed (exit $rc): $(tail -3 "$TMP/$name.err")"
    read -r WALL RSS_MB USER_S SYS_S < <(parse_gnu_time "$TMP/$name.time")
}

step "(c) catalog import DIR --db TMP/c.db --format json > /dev/null"
timed import "$CATALOG" import "$GEN" --db "$DB" --format json
IMPORT_WALL=$WALL IMPORT_MB=$RSS_MB
say "wall ${WALL}s (user ${USER_S}s, sys ${SYS_S}s), peak RSS ${RSS_MB} MB, $(python3 -c "import sys; print(f'{int(sys.argv[1]) / float(sys.argv[2]):,.0f}')" "$TOOLS" "$WALL") tools/s"
say "stderr: $(wc -l <"$TMP/import.err") line(s)$( [[ -s $TMP/import.err ]] && printf ': %s' "$(head -3 "$TMP/import.err" | tr '\n' ' ')")"
python3 - "$TMP/import.out" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
extra = {k: v for k, v in r.items() if k not in ("servers", "problems", "failed")}
print(f"import report: {len(r.get('servers', []))} servers, {len(r.get('problems', []))} problems, {len(r.get('failed', []))} failed; {json.dumps(extra)}")
PY
timed stats0 "$CATALOG" stats --db "$DB" --format json
STORED=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['tools'])" "$TMP/stats0.out")
[[ $STORED == "$TOOLS" ]] || die "catalog stats counts $STORED tools, $TOOLS were generated"
say "checked: catalog stats counts $STORED tools"

# ---------------------------------------------------------------------------------------------
step "(d) bytes on disk"
DB_BYTES=0
for f in "$DB" "$DB-wal" "$DB-shm"; do
    if [[ -e $f ]]; then
        b=$(stat -c %s "$f")
        DB_BYTES=$((DB_BYTES + b))
        say "  $(basename "$f"): $b bytes"
    fi
done
if [[ -d $INDEX ]]; then
    INDEX_BYTES=$(du -sb "$INDEX" | cut -f1)
    say "  $(basename "$INDEX")/: $INDEX_BYTES bytes in $(find "$INDEX" -type f | wc -l) files"
else
    INDEX_BYTES=
    say "  $(basename "$INDEX")/: absent (this build writes no search index)"
fi
OTHER=$(find "$TMP" -mindepth 1 -maxdepth 1 ! -name gen ! -name 'c.db*' ! -name '*.time' ! -name '*.out' ! -name '*.err' -printf '%f ' || true)
[[ -z $OTHER ]] || say "  other files beside the database: $OTHER"
say "  input JSONL: $INPUT_BYTES bytes ($((INPUT_BYTES / TOOLS)) per tool)"
if [[ ${BENCH_BREAKDOWN:-1} != 0 ]]; then
    say "  per table and index (SQLite dbstat; payload = bytes of row data):"
    python3 - "$DB" "$TOOLS" <<'PY'
import sqlite3, sys
db, tools = sys.argv[1], int(sys.argv[2])
con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
try:
    rows = con.execute("SELECT name, sum(pgsize), sum(payload), sum(ncell) FROM dbstat GROUP BY name ORDER BY 2 DESC").fetchall()
except sqlite3.Error as e:
    print(f"    (no dbstat in this Python's SQLite: {e})")
    sys.exit(0)
total = sum(r[1] for r in rows)
for name, size, payload, cells in rows:
    print(f"    {name:<40} {size / 1e6:>10.1f} MB {size / tools:>8.0f} B/tool  payload {payload / 1e6:>9.1f} MB  {100 * size / total:>5.1f}%")
# The JSON columns, whichever tables have them in this schema version.
avgs = []
for (table,) in con.execute("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name").fetchall():
    for col in con.execute(f'PRAGMA table_info("{table}")').fetchall():
        if col[1].endswith("_json"):
            n = con.execute(f'SELECT avg(length("{col[1]}")) FROM "{table}"').fetchone()[0] or 0
            avgs.append(f"{table}.{col[1]} {n:.0f} B")
if avgs:
    print("    average length: " + ", ".join(avgs))
PY
fi

# ---------------------------------------------------------------------------------------------
# latency NAME CMD...: times each line of TMP/NAME.cmds (tab-separated arguments appended to CMD)
# as a fresh process, after one untimed warm-up; prints median/p90/max ms; sets MEDIAN_MS, MAX_MS.
latency() {
    local name=$1
    shift
    read -r MEDIAN_MS P90_MS MAX_MS < <(python3 - "$TMP/$name.cmds" "$@" <<'PY'
import statistics, subprocess, sys, time
cmds, base = sys.argv[1], sys.argv[2:]
args = [line.rstrip("\n").split("\t") for line in open(cmds, encoding="utf-8") if line.strip()]
def run(a):
    start = time.perf_counter()
    p = subprocess.run(base + a, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    ms = (time.perf_counter() - start) * 1000
    if p.returncode != 0:
        sys.exit(f"{' '.join(base + a)} failed: {p.stderr.decode()[-300:]}")
    return ms
run(args[0])
ms = sorted(run(a) for a in args)
p90 = ms[min(len(ms) - 1, int(round(0.9 * (len(ms) - 1))))]
print(f"{statistics.median(ms):.1f} {p90:.1f} {ms[-1]:.1f}")
PY
    )
    say "  $name: median ${MEDIAN_MS} ms, p90 ${P90_MS} ms, max ${MAX_MS} ms over $(grep -c . "$TMP/$name.cmds") runs"
}

step "(e) catalog show: $SAMPLES random tools, each a fresh process"
python3 - "$DB" "$SAMPLES" "$SEED" "$TMP" <<'PY'
import random, sqlite3, sys
db, n, seed, tmp = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
top = con.execute("SELECT max(id) FROM tools").fetchone()[0]
rng = random.Random(seed)
picks = []
while len(picks) < n:
    row = con.execute("SELECT s.name, t.name FROM tools t JOIN servers s ON s.id = t.server_id WHERE t.id = ?",
                      (rng.randint(1, top),)).fetchone()
    if row:
        picks.append(row)
with open(f"{tmp}/show_tool.cmds", "w", encoding="utf-8") as f:
    f.writelines(f"{s}\t{t}\n" for s, t in picks)
with open(f"{tmp}/show_server.cmds", "w", encoding="utf-8") as f:
    f.writelines(f"{s}\n" for s, _ in picks)
print("  e.g. catalog show " + " ".join(picks[0]))
PY
latency show_tool "$CATALOG" show --db "$DB" --format json
SHOW_MEDIAN=$MEDIAN_MS SHOW_MAX=$MAX_MS
latency show_server "$CATALOG" show --db "$DB" --format json
SERVER_MEDIAN=$MEDIAN_MS SERVER_MAX=$MAX_MS

# ---------------------------------------------------------------------------------------------
step "(f) catalog stats --format json ($STATS_RUNS runs)"
for ((i = 0; i < STATS_RUNS; i++)); do printf -- '--format\tjson\n'; done >"$TMP/stats.cmds"
latency stats "$CATALOG" stats --db "$DB"
STATS_MEDIAN=$MEDIAN_MS

# ---------------------------------------------------------------------------------------------
REINDEX_WALL= REINDEX_MB=
if [[ ${BENCH_REINDEX:-1} != 0 ]] && "$CATALOG" reindex --help >/dev/null 2>&1; then
    step "(g) catalog reindex: the search index phase alone, from SQLite"
    timed reindex "$CATALOG" reindex --db "$DB" --format json
    REINDEX_WALL=$WALL REINDEX_MB=$RSS_MB
    say "wall ${WALL}s (user ${USER_S}s, sys ${SYS_S}s), peak RSS ${RSS_MB} MB"
    [[ -d $INDEX ]] && say "  index after reindex: $(du -sb "$INDEX" | cut -f1) bytes"
fi

# ---------------------------------------------------------------------------------------------
step "results: $TOOLS tools across $SERVERS servers"
say "idle?:   $(cpu_busy) after the runs"
python3 - "$TOOLS" "$IMPORT_WALL" "$IMPORT_MB" "$DB_BYTES" "${INDEX_BYTES:-}" "$SHOW_MEDIAN" "$SHOW_MAX" \
    "$SERVER_MEDIAN" "$SERVER_MAX" "$STATS_MEDIAN" "${REINDEX_WALL:-}" "${REINDEX_MB:-}" "$INPUT_BYTES" \
    "$INGEST_TARGET_S" "$PEAK_TARGET_MB" "$SHOW_TARGET_MS" <<'PY'
import sys
(tools, wall, mb, db_bytes, index_bytes, show_med, show_max, server_med, server_max, stats_med,
 reindex_wall, reindex_mb, input_bytes, t_ingest, t_peak, t_show) = sys.argv[1:]
tools, wall, mb, db_bytes, input_bytes = int(tools), float(wall), float(mb), int(db_bytes), int(input_bytes)
t_ingest, t_peak, t_show = float(t_ingest), float(t_peak), float(t_show)
scale = 1_000_000 / tools

def verdict(ok):
    return "met" if ok else "NOT met"

rows = []
rows.append(("ingest wall time (import)", f"{wall:.1f} s", f"<= {t_ingest:.0f} s", verdict(wall <= t_ingest)))
if tools != 1_000_000:
    rows.append(("  linear extrapolation to 1M tools", f"{wall * scale:.0f} s", f"<= {t_ingest:.0f} s", "(estimate)"))
rows.append(("ingest peak RSS", f"{mb:.0f} MB", f"<= {t_peak:.0f} MB", verdict(mb <= t_peak)))
rows.append(("show SERVER TOOL, median / max", f"{float(show_med):.1f} / {float(show_max):.1f} ms", f"<= {t_show:.0f} ms",
             verdict(float(show_max) <= t_show)))
rows.append(("show SERVER, median / max", f"{float(server_med):.1f} / {float(server_max):.1f} ms", "-", ""))
rows.append(("stats, median", f"{float(stats_med):.0f} ms", "-", ""))
rows.append(("database bytes (with -wal/-shm)", f"{db_bytes / 1e6:,.0f} MB = {db_bytes / tools:,.0f} B/tool", "report", ""))
if index_bytes:
    ib = int(index_bytes)
    rows.append(("index bytes (c.db.index/)", f"{ib / 1e6:,.0f} MB = {ib / tools:,.0f} B/tool", "report", ""))
    rows.append(("database + index", f"{(db_bytes + ib) / 1e6:,.0f} MB = {(db_bytes + ib) / tools:,.0f} B/tool", "report", ""))
else:
    rows.append(("index bytes (c.db.index/)", "absent: not written by this build", "report", ""))
rows.append(("input JSONL bytes", f"{input_bytes / 1e6:,.0f} MB = {input_bytes / tools:,.0f} B/tool", "-", ""))
if reindex_wall:
    rows.append(("reindex alone (index phase)", f"{float(reindex_wall):.1f} s, {float(reindex_mb):.0f} MB", "-", ""))
w = max(len(r[0]) for r in rows)
v = max(len(r[1]) for r in rows)
print(f"{'measure':<{w}}  {'value':<{v}}  {'target':<10}  verdict")
for name, value, target, ok in rows:
    print(f"{name:<{w}}  {value:<{v}}  {target:<10}  {ok}")
print()
print("search: CATALOG_BENCH_DB=<this database> cargo bench --bench search (1-3 word queries with one filter, beside SQLite FTS5)")
PY
