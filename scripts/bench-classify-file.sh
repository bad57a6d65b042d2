#!/usr/bin/env bash
# End-to-end speed and peak memory of `catalog classify` on one large tools/list file, beside
# Cisco's mcp-scanner (static mode, YARA analyzer) on the same file in the same run.
#
#   scripts/bench-classify-file.sh
#
# Steps: (a) build a tools/list JSON of BENCH_TOOLS tools (default 26,000) from the devset's
# records, cycled and renamed per copy (`_c0`, `_c1`, ...), keeping name, title, description,
# inputSchema and annotations; (b) `cargo build --release`; (c) time `catalog classify --input
# FILE --format jsonl > /dev/null` BENCH_RUNS times (hyperfine when installed, else a loop) and
# measure its peak RSS with GNU time; (d) install `cisco-ai-mcp-scanner` into a throwaway venv
# and time `mcp-scanner --analyzers yara static --tools FILE` the same way. If the scanner cannot
# be installed or run offline, the script says why and compares with Cisco's published figure
# instead, labelled as such. Everything lives in a temp dir that is removed at the end.
#
# Environment:
#   BENCH_TOOLS=26000     tools in the generated file
#   BENCH_RUNS=5          timed runs of catalog
#   CISCO_RUNS=3          timed runs of mcp-scanner
#   SKIP_CISCO=1          do not install or run mcp-scanner (the published figure is shown)
#   MCP_SCANNER=PATH      use this mcp-scanner executable instead of installing one
#   DEVSET=PATH           the devset (default ../shared/data/devset.jsonl beside the repo)
#   KEEP_TMP=1            keep the temp dir (the generated file, outputs, logs)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DEVSET=${DEVSET:-$ROOT/../shared/data/devset.jsonl}
N=${BENCH_TOOLS:-26000}
RUNS=${BENCH_RUNS:-5}
CISCO_RUNS=${CISCO_RUNS:-3}
# Cisco's own figure for its static YARA scan, quoted in our issue: not measured here.
PUBLISHED_CISCO_SECONDS=11.3
PUBLISHED_CISCO_TOOLS=26000

. "$ROOT/scripts/lib.sh"

[[ -r $DEVSET ]] || die "cannot read the devset at $DEVSET (it lives in shared/data/devset.jsonl beside the repository; set DEVSET=PATH)"
command -v python3 >/dev/null || die "python3 is needed to generate the tools file"
[[ $N =~ ^[1-9][0-9]*$ ]] || die "BENCH_TOOLS must be a positive number, found '$N'"
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "BENCH_RUNS must be a positive number, found '$RUNS'"
[[ $CISCO_RUNS =~ ^[1-9][0-9]*$ ]] || die "CISCO_RUNS must be a positive number, found '$CISCO_RUNS'"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/bench-classify.XXXXXX")
cleanup() {
    if [[ ${KEEP_TMP:-} == 1 ]]; then
        say "kept $TMP"
    else
        rm -rf "$TMP"
    fi
}
trap cleanup EXIT

say "date:    $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
say "machine: $(nproc) cores, $(uname -sr), $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ *//' || echo 'unknown CPU')"
if COMMIT=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null); then
    git -C "$ROOT" diff --quiet HEAD -- src rules Cargo.toml Cargo.lock || COMMIT="$COMMIT with uncommitted changes to src/, rules/ or Cargo"
else
    COMMIT="not a git checkout"
fi
say "commit:  $COMMIT"
say "idle?:   $(cpu_busy) before the run"

# ---------------------------------------------------------------------------------------------
step "(a) generating a tools/list file of $N tools from $DEVSET"
TOOLS_FILE=$TMP/tools.json
python3 - "$DEVSET" "$N" "$TOOLS_FILE" <<'PY'
import json, sys

src, n, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
records = []
with open(src, encoding="utf-8") as f:
    for line in f:
        if not line.strip():
            continue
        r = json.loads(line)
        tool = {"name": r["name"]}
        # label, label_rule, siblings, server and source are dropped: a server's tools/list has none.
        for key, out_key in (("title", "title"), ("description", "description"),
                             ("input_schema", "inputSchema"), ("annotations", "annotations")):
            if r.get(key) is not None:
                tool[out_key] = r[key]
        # MCP requires inputSchema; Cisco's reader expects it.
        tool.setdefault("inputSchema", {"type": "object", "properties": {}})
        records.append(tool)
if not records:
    sys.exit(f"no records in {src}")
tools = []
for i in range(n):
    tool = dict(records[i % len(records)])
    tool["name"] = f'{tool["name"]}_c{i // len(records)}'
    tools.append(tool)
with open(out, "w", encoding="utf-8") as f:
    json.dump({"tools": tools}, f, ensure_ascii=False)
print(f"{len(tools)} tools from {len(records)} devset records")
PY
say "$(du -h "$TOOLS_FILE" | cut -f1) $TOOLS_FILE"

# ---------------------------------------------------------------------------------------------
step "(b) cargo build --release"
(cd "$ROOT" && cargo build --release --quiet)
CATALOG=$ROOT/target/release/catalog
[[ -x $CATALOG ]] || die "no binary at $CATALOG after the build"

# ---------------------------------------------------------------------------------------------
# Peak RSS: GNU time when it is there (installed with apt-get when it is not and we can), else a
# Python wrapper that reads the child's ru_maxrss.
find_gnu_time

# run_once OUT ERR CMD...: runs CMD with stdout to OUT and stderr to ERR, sets WALL (seconds)
# and RSS_KB (peak resident set of the command), returns its exit code.
run_once() {
    local out=$1 err=$2 rc=0
    shift 2
    if [[ -n $TIME_BIN ]]; then
        local start end
        start=$(date +%s.%N)
        "$TIME_BIN" -v -o "$TMP/time.txt" "$@" >"$out" 2>"$err" || rc=$?
        end=$(date +%s.%N)
        WALL=$(python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.4f}')" "$start" "$end")
        RSS_KB=$(sed -n 's/.*Maximum resident set size (kbytes): *//p' "$TMP/time.txt")
    else
        local line
        line=$(python3 - "$out" "$err" "$@" <<'PY'
import resource, subprocess, sys, time
out, err, cmd = sys.argv[1], sys.argv[2], sys.argv[3:]
with open(out, "wb") as o, open(err, "wb") as e:
    start = time.perf_counter()
    rc = subprocess.run(cmd, stdout=o, stderr=e).returncode
    wall = time.perf_counter() - start
print(f"{wall:.4f} {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss} {rc}")
PY
        )
        read -r WALL RSS_KB rc <<<"$line"
    fi
    RSS_KB=${RSS_KB:-0}
    return "$rc"
}

# measure NAME RUNS WARMUP OUT CMD...: times CMD RUNS times (after WARMUP untimed runs, 0 or 1),
# prints each run, sets MEDIAN, MIN, MAX (seconds) and PEAK_MB. OUT receives the command's stdout.
measure() {
    local name=$1 runs=$2 warmup=$3 out=$4
    shift 4
    local walls=() peak=0 i
    if command -v hyperfine >/dev/null; then
        say "hyperfine: $runs runs"
        hyperfine --style basic --warmup "$warmup" --runs "$runs" --export-json "$TMP/$name.hyperfine.json" \
            --output=null "$(printf '%q ' "$@")"
        mapfile -t walls < <(python3 -c "import json,sys; [print(t) for t in json.load(open(sys.argv[1]))['results'][0]['times']]" "$TMP/$name.hyperfine.json")
        run_once "$out" "$TMP/$name.err" "$@" || die "$name failed (exit $?): $(tail -3 "$TMP/$name.err")"
        peak=$RSS_KB
        say "  peak RSS (separate run): $((peak / 1024)) MB"
    else
        if ((warmup > 0)); then
            run_once "$out" "$TMP/$name.err" "$@" || die "$name failed (exit $?): $(tail -3 "$TMP/$name.err")"
            say "  warm-up: ${WALL}s, peak RSS $((RSS_KB / 1024)) MB"
        fi
        for ((i = 1; i <= runs; i++)); do
            run_once "$out" "$TMP/$name.err" "$@" || die "$name failed (exit $?): $(tail -3 "$TMP/$name.err")"
            walls+=("$WALL")
            if ((RSS_KB > peak)); then peak=$RSS_KB; fi
            say "  run $i: ${WALL}s, peak RSS $((RSS_KB / 1024)) MB"
        done
    fi
    read -r MEDIAN MIN MAX < <(python3 -c "import statistics,sys; w=[float(x) for x in sys.argv[1:]]; print(f'{statistics.median(w):.4f} {min(w):.4f} {max(w):.4f}')" "${walls[@]}")
    PEAK_MB=$(python3 -c "import sys; print(f'{int(sys.argv[1]) / 1024:.1f}')" "$peak")
    say "  median ${MEDIAN}s (min ${MIN}s, max ${MAX}s) over $runs runs, peak RSS ${PEAK_MB} MB"
}

# ---------------------------------------------------------------------------------------------
step "(c) catalog classify --input FILE --format jsonl > /dev/null ($RUNS runs)"
# One untimed run to check that every tool got a verdict.
"$CATALOG" classify --input "$TOOLS_FILE" --format jsonl >"$TMP/catalog.jsonl" 2>"$TMP/catalog.err" || true
VERDICTS=$(wc -l <"$TMP/catalog.jsonl")
[[ $VERDICTS == "$N" ]] || die "catalog printed $VERDICTS verdicts for $N tools: $(tail -3 "$TMP/catalog.err")"
say "checked: $VERDICTS verdicts for $N tools"
measure catalog "$RUNS" 1 /dev/null "$CATALOG" classify --input "$TOOLS_FILE" --format jsonl
OURS_WALL=$MEDIAN OURS_MIN=$MIN OURS_MAX=$MAX OURS_MB=$PEAK_MB

# ---------------------------------------------------------------------------------------------
step "(d) baseline: Cisco mcp-scanner, static mode, YARA analyzer ($CISCO_RUNS runs)"
CISCO_WALL= CISCO_MB= CISCO_LABEL= CISCO_WHY=
SCANNER=
if [[ ${SKIP_CISCO:-} == 1 ]]; then
    CISCO_WHY="SKIP_CISCO=1"
elif [[ -n ${MCP_SCANNER:-} ]]; then
    SCANNER=$MCP_SCANNER
else
    say "installing cisco-ai-mcp-scanner into a throwaway venv ($TMP/venv)"
    if command -v uv >/dev/null; then
        if uv venv --quiet "$TMP/venv" >"$TMP/install.log" 2>&1 &&
            uv pip install --quiet --python "$TMP/venv/bin/python" cisco-ai-mcp-scanner >>"$TMP/install.log" 2>&1; then
            SCANNER=$TMP/venv/bin/mcp-scanner
        fi
    elif python3 -m venv "$TMP/venv" >"$TMP/install.log" 2>&1 &&
        "$TMP/venv/bin/pip" install --quiet --disable-pip-version-check cisco-ai-mcp-scanner >>"$TMP/install.log" 2>&1; then
        SCANNER=$TMP/venv/bin/mcp-scanner
    fi
    if [[ -z $SCANNER ]]; then
        CISCO_WHY="cannot install cisco-ai-mcp-scanner: $(grep -iE 'error|no matching' "$TMP/install.log" | tail -2 | tr '\n' ' ')"
    else
        say "installed: $("$TMP/venv/bin/python" -m pip show cisco-ai-mcp-scanner 2>/dev/null | sed -n 's/^Version: /cisco-ai-mcp-scanner /p')"
    fi
fi
if [[ -n $SCANNER ]]; then
    # Offline: no API keys, no LLM; LiteLLM (a dependency) is told not to fetch its price list.
    CISCO_CMD=(env -u MCP_SCANNER_API_KEY -u MCP_SCANNER_LLM_API_KEY -u OPENAI_API_KEY
        LITELLM_LOCAL_MODEL_COST_MAP=True
        "$SCANNER" --analyzers yara --format summary static --tools "$TOOLS_FILE")
    say "command: mcp-scanner --analyzers yara --format summary static --tools FILE"
    if run_once "$TMP/cisco.out" "$TMP/cisco.err" timeout 900 "${CISCO_CMD[@]}" &&
        SCANNED=$(sed -n 's/^Total tools scanned: *//p' "$TMP/cisco.out") && [[ $SCANNED == "$N" ]]; then
        say "checked: mcp-scanner scanned $SCANNED tools ($(sed -n 's/^Unsafe items: *//p' "$TMP/cisco.out") flagged unsafe); that run took ${WALL}s"
        # That check run was the warm-up (it also loaded the venv's files into the page cache).
        measure cisco "$CISCO_RUNS" 0 "$TMP/cisco.out" timeout 900 "${CISCO_CMD[@]}"
        CISCO_WALL=$MEDIAN CISCO_MB=$PEAK_MB
        CISCO_LABEL="Cisco mcp-scanner --analyzers yara ($CISCO_RUNS runs)"
    else
        CISCO_WHY="mcp-scanner did not scan the file offline (scanned '${SCANNED:-?}' of $N): $(grep -v LiteLLM "$TMP/cisco.err" | tail -3 | tr '\n' ' ')"
    fi
fi
if [[ -z $CISCO_WALL ]]; then
    say "Cisco mcp-scanner NOT measured: $CISCO_WHY"
    say "using Cisco's published figure instead: ${PUBLISHED_CISCO_SECONDS}s for $PUBLISHED_CISCO_TOOLS tools on a 2-core machine (not measured here)"
    CISCO_WALL=$(python3 -c "import sys; print(float(sys.argv[1]) * int(sys.argv[3]) / int(sys.argv[2]))" \
        "$PUBLISHED_CISCO_SECONDS" "$PUBLISHED_CISCO_TOOLS" "$N")
    CISCO_MB=
    CISCO_LABEL="Cisco mcp-scanner (published figure, NOT measured)"
fi

# ---------------------------------------------------------------------------------------------
step "results: $N tools, median wall time"
say "idle?:   $(cpu_busy) after the runs"
python3 - "$N" "catalog classify --format jsonl ($RUNS runs)" "$OURS_WALL" "$OURS_MB" "$CISCO_LABEL" "$CISCO_WALL" "${CISCO_MB:-}" <<'PY'
import sys

n, ours_label, ours, ours_mb, cisco_label, cisco, cisco_mb = sys.argv[1:]
n, ours, cisco = int(n), float(ours), float(cisco)
rows = [
    (ours_label, ours, ours_mb, cisco / ours),
    (cisco_label, cisco, cisco_mb or "n/a", 1.0),
]
print(f"{'tool':<58} {'wall s':>9} {'tools/s':>10} {'peak RSS MB':>12} {'speedup':>8}")
for name, wall, mb, speedup in rows:
    print(f"{name:<58} {wall:>9.3f} {n / wall:>10.0f} {mb:>12} {speedup:>7.1f}x")
speedup = cisco / ours
print()
print(f"target: catalog >= 50x faster than Cisco end to end: {'met' if speedup >= 50 else 'NOT met'} ({speedup:.1f}x)")
print(f"target: catalog peak RSS < 100 MB: {'met' if float(ours_mb) < 100 else 'NOT met'} ({ours_mb} MB)")
PY
