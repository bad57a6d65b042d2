#!/usr/bin/env bash
# Wall time and peak memory of `catalog crawl` against many loopback MCP servers: the crawler's
# own overhead (concurrency, JSON-RPC, storing and classifying), not the network's.
#
#   scripts/bench-crawl.sh
#
# Steps: (a) `cargo build --release` of `catalog` and of the harness (examples/mcp-harness.rs);
# (b) HTTP: start the harness (one port answering Streamable HTTP on every /s/<n>/mcp, 50 ms per
# request, 20 tools per server), write a Claude Desktop config naming BENCH_HTTP_SERVERS (2,000)
# of those URLs, and time `catalog crawl --config FILE --db NEW.db --concurrency 256 --quiet
# --format json` with GNU time (wall seconds, peak RSS); (c) stdio: a config of
# BENCH_STDIO_SERVERS (200) commands that each start the harness in stdio mode, crawled with
# `--launch-concurrency 8`; (d) the results table against the targets (HTTP <= 20 s and <= 300 MB,
# stdio <= 60 s). Everything lives in a temp dir removed at the end; the harness is stopped on exit.
#
# Environment:
#   BENCH_HTTP_SERVERS=2000        HTTP servers (URLs on the one harness port); 0 skips the step
#   BENCH_STDIO_SERVERS=200        stdio servers (harness processes); 0 skips the step
#   BENCH_CONCURRENCY=256          catalog crawl --concurrency
#   BENCH_LAUNCH_CONCURRENCY=8     catalog crawl --launch-concurrency
#   BENCH_LATENCY_MS=50            the harness's delay before every HTTP answer
#   BENCH_STDIO_LATENCY_MS=0       the same for stdio answers
#   BENCH_TOOLS_PER_SERVER=20      tools each server lists
#   BENCH_CRAWL_ARGS="..."         more arguments for both crawls (split on spaces)
#   CATALOG=PATH                   time this catalog binary instead of building target/release/catalog
#   KEEP_TMP=1                     keep the temp dir (configs, databases, JSON reports, logs)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
HTTP_SERVERS=${BENCH_HTTP_SERVERS:-2000}
STDIO_SERVERS=${BENCH_STDIO_SERVERS:-200}
CONCURRENCY=${BENCH_CONCURRENCY:-256}
LAUNCH_CONCURRENCY=${BENCH_LAUNCH_CONCURRENCY:-8}
LATENCY_MS=${BENCH_LATENCY_MS:-50}
STDIO_LATENCY_MS=${BENCH_STDIO_LATENCY_MS:-0}
TOOLS=${BENCH_TOOLS_PER_SERVER:-20}
read -r -a EXTRA_ARGS <<<"${BENCH_CRAWL_ARGS:-}"
# Targets.
HTTP_MAX_SECONDS=20
HTTP_MAX_MB=300
STDIO_MAX_SECONDS=60

. "$ROOT/scripts/lib.sh"

command -v python3 >/dev/null || die "python3 is needed to write the configs and read the reports"
for var in HTTP_SERVERS STDIO_SERVERS LATENCY_MS STDIO_LATENCY_MS; do
    [[ ${!var} =~ ^[0-9]+$ ]] || die "BENCH_$var must be a number, found '${!var}'"
done
for var in CONCURRENCY LAUNCH_CONCURRENCY TOOLS; do
    [[ ${!var} =~ ^[1-9][0-9]*$ ]] || die "BENCH_${var/TOOLS/TOOLS_PER_SERVER} must be a positive number, found '${!var}'"
done

TMP=$(mktemp -d "${TMPDIR:-/tmp}/bench-crawl.XXXXXX")
HARNESS_PID=
TIMED_PID=
stop_harness() {
    if [[ -n $HARNESS_PID ]]; then
        kill "$HARNESS_PID" 2>/dev/null || true
        wait "$HARNESS_PID" 2>/dev/null || true
        HARNESS_PID=
    fi
}
cleanup() {
    # A crawl cut short by a signal: GNU time (or Python) and the crawl it runs.
    if [[ -n $TIMED_PID ]]; then
        pkill -TERM -P "$TIMED_PID" 2>/dev/null || true
        kill "$TIMED_PID" 2>/dev/null || true
        wait "$TIMED_PID" 2>/dev/null || true
    fi
    stop_harness
    if [[ ${KEEP_TMP:-} == 1 ]]; then
        say "kept $TMP"
    else
        rm -rf "$TMP"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say "date:    $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
say "machine: $(nproc) cores, $(uname -sr), $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ *//' || echo 'unknown CPU')"
if COMMIT=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null); then
    git -C "$ROOT" diff --quiet HEAD -- src examples Cargo.toml Cargo.lock || COMMIT="$COMMIT with uncommitted changes to src/, examples/ or Cargo"
else
    COMMIT="not a git checkout"
fi
say "commit:  $COMMIT"
say "limits:  $(ulimit -n) open files, $(ulimit -u) processes"
say "idle?:   $(cpu_busy) before the run"

# ---------------------------------------------------------------------------------------------
if [[ -n ${CATALOG:-} ]]; then
    step "(a) cargo build --release --example mcp-harness (catalog: $CATALOG)"
    (cd "$ROOT" && cargo build --release --quiet --example mcp-harness)
else
    step "(a) cargo build --release --bin catalog --example mcp-harness"
    (cd "$ROOT" && cargo build --release --quiet --bin catalog --example mcp-harness)
    CATALOG=$ROOT/target/release/catalog
fi
HARNESS=$ROOT/target/release/examples/mcp-harness
[[ -x $CATALOG ]] || die "no binary at $CATALOG after the build"
[[ -x $HARNESS ]] || die "no harness at $HARNESS after the build"
"$CATALOG" crawl --help >/dev/null 2>&1 || die "this catalog has no working 'crawl' subcommand ('$CATALOG crawl --help' failed)"

# Wall time and peak RSS: GNU time when it is there (installed with apt-get when it is not and we
# can), else a Python wrapper that reads the child's ru_maxrss.
find_gnu_time

# run_timed OUT ERR CMD...: runs CMD with stdout to OUT and stderr to ERR, sets WALL (seconds)
# and RSS_KB (peak resident set, the largest of the command and the children it waited for),
# returns its exit code. The command runs in the background so that a signal reaches our trap at
# once (bash runs traps only between foreground commands).
run_timed() {
    local out=$1 err=$2 rc=0
    shift 2
    if [[ -n $TIME_BIN ]]; then
        "$TIME_BIN" -f '%e %M' -o "$TMP/time.txt" "$@" >"$out" 2>"$err" &
        TIMED_PID=$!
        wait "$TIMED_PID" || rc=$?
        TIMED_PID=
        read -r WALL RSS_KB < <(tail -n 1 "$TMP/time.txt")
    else
        python3 - "$out" "$err" "$@" >"$TMP/time.txt" <<'PY' &
import resource, subprocess, sys, time
out, err, cmd = sys.argv[1], sys.argv[2], sys.argv[3:]
with open(out, "wb") as o, open(err, "wb") as e:
    start = time.perf_counter()
    rc = subprocess.run(cmd, stdout=o, stderr=e).returncode
    wall = time.perf_counter() - start
print(f"{wall:.2f} {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss} {rc}")
PY
        TIMED_PID=$!
        wait "$TIMED_PID" || true
        TIMED_PID=
        read -r WALL RSS_KB rc < <(tail -n 1 "$TMP/time.txt") || rc=1
    fi
    [[ $RSS_KB =~ ^[0-9]+$ ]] || RSS_KB=0
    return "$rc"
}

# summarise NAME SERVERS REPORT: reads the crawl's JSON report, prints what it says and sets OK,
# NOT_OK and TOOLS_TOTAL. Dies when the report is not the crawl's JSON.
summarise() {
    local name=$1 servers=$2 report=$3 line
    line=$(python3 - "$servers" "$TOOLS" "$report" <<'PY'
import json, sys

servers, per_server, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
try:
    with open(path, encoding="utf-8") as f:
        report = json.load(f)
    outcomes = report["outcomes"]
    tools = report["tools"]
except (OSError, ValueError, KeyError, TypeError) as e:
    sys.exit(f"not a crawl report ({type(e).__name__}: {e})")
# Counts, or lists of servers per outcome.
counts = {k: (len(v) if isinstance(v, (list, dict)) else int(v)) for k, v in outcomes.items()}
ok = counts.get("ok", 0)
not_ok = sum(counts.values()) - ok
total = int(tools.get("total", 0))
print(f"{ok} {not_ok} {total}", flush=True)
print(f"  outcomes: {json.dumps(counts, sort_keys=True)}", file=sys.stderr)
print(f"  tools:    {json.dumps(tools, sort_keys=True)} (expected total {servers * per_server})", file=sys.stderr)
if ok + not_ok != servers:
    print(f"  warning: {ok + not_ok} outcomes for {servers} servers", file=sys.stderr)
PY
    ) || die "$name: $(tail -3 "$TMP/$name.err")"
    read -r OK NOT_OK TOOLS_TOTAL <<<"$line"
}

# crawl NAME SERVERS CONFIG ARGS...: times one crawl into a new database, prints the figures and
# sets WALL, RSS_KB, RC, OK, NOT_OK, TOOLS_TOTAL.
crawl() {
    local name=$1 servers=$2 config=$3
    shift 3
    rm -f "$TMP/$name.db"
    local cmd=("$CATALOG" crawl --config "$config" --db "$TMP/$name.db" "$@" --quiet --format json "${EXTRA_ARGS[@]}")
    say "command: catalog crawl --config FILE --db $name.db $* --quiet --format json ${EXTRA_ARGS[*]}"
    RC=0
    run_timed "$TMP/$name.json" "$TMP/$name.err" "${cmd[@]}" || RC=$?
    say "  exit code $RC, ${WALL}s, peak RSS $((RSS_KB / 1024)) MB"
    # A crawl where some servers failed may exit non-zero; the report still says how many.
    summarise "$name" "$servers" "$TMP/$name.json"
    if [[ -s $TMP/$name.err ]]; then
        say "  stderr (last 3 lines):"
        tail -n 3 "$TMP/$name.err" | sed 's/^/    /'
    fi
}

HTTP_ROW=''
STDIO_ROW=''

# ---------------------------------------------------------------------------------------------
if ((HTTP_SERVERS > 0)); then
    step "(b) HTTP: $HTTP_SERVERS servers on one harness port, ${LATENCY_MS} ms per request, $TOOLS tools each"
    "$HARNESS" http --port 0 --latency-ms "$LATENCY_MS" --tools "$TOOLS" 2>"$TMP/harness.err" &
    HARNESS_PID=$!
    PORT=
    for _ in $(seq 100); do
        PORT=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$TMP/harness.err")
        [[ -n $PORT ]] && break
        kill -0 "$HARNESS_PID" 2>/dev/null || die "the harness exited: $(tail -3 "$TMP/harness.err")"
        sleep 0.1
    done
    [[ -n $PORT ]] || die "the harness did not say where it listens within 10 s: $(tail -3 "$TMP/harness.err")"
    say "harness: pid $HARNESS_PID, http://127.0.0.1:$PORT/s/<n>/mcp"

    python3 - "$HTTP_SERVERS" "$PORT" "$TMP/http-config.json" <<'PY'
import json, sys

n, port, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
servers = {f"s{i}": {"url": f"http://127.0.0.1:{port}/s/{i}/mcp"} for i in range(n)}
with open(out, "w", encoding="utf-8") as f:
    json.dump({"mcpServers": servers}, f, indent=1)
PY
    say "config:  $TMP/http-config.json ($HTTP_SERVERS servers, Claude Desktop shape)"

    crawl http "$HTTP_SERVERS" "$TMP/http-config.json" --concurrency "$CONCURRENCY"
    HTTP_ROW="$WALL $RSS_KB $OK $NOT_OK $TOOLS_TOTAL $RC"
    stop_harness
fi

# ---------------------------------------------------------------------------------------------
if ((STDIO_SERVERS > 0)); then
    step "(c) stdio: $STDIO_SERVERS harness processes, launch concurrency $LAUNCH_CONCURRENCY, $TOOLS tools each"
    python3 - "$STDIO_SERVERS" "$HARNESS" "$TOOLS" "$STDIO_LATENCY_MS" "$TMP/stdio-config.json" <<'PY'
import json, sys

n, harness, tools, latency, out = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
servers = {
    f"s{i}": {"command": harness,
              "args": ["stdio", "--tools", tools, "--latency-ms", latency, "--server", str(i)]}
    for i in range(n)
}
with open(out, "w", encoding="utf-8") as f:
    json.dump({"mcpServers": servers}, f, indent=1)
PY
    say "config:  $TMP/stdio-config.json ($STDIO_SERVERS commands: $HARNESS stdio --tools $TOOLS ...)"

    crawl stdio "$STDIO_SERVERS" "$TMP/stdio-config.json" --launch-concurrency "$LAUNCH_CONCURRENCY"
    STDIO_ROW="$WALL $RSS_KB $OK $NOT_OK $TOOLS_TOTAL $RC"
fi

# ---------------------------------------------------------------------------------------------
step "results"
say "idle?:   $(cpu_busy) after the runs"
python3 - "$HTTP_SERVERS" "$STDIO_SERVERS" "$TOOLS" "$HTTP_ROW" "$STDIO_ROW" \
    "$HTTP_MAX_SECONDS" "$HTTP_MAX_MB" "$STDIO_MAX_SECONDS" "$CONCURRENCY" "$LAUNCH_CONCURRENCY" "$LATENCY_MS" <<'PY'
import sys

(http_n, stdio_n, per_server, http_row, stdio_row, http_max_s, http_max_mb, stdio_max_s,
 conc, launch_conc, latency) = sys.argv[1:]
http_max_s, http_max_mb, stdio_max_s = float(http_max_s), float(http_max_mb), float(stdio_max_s)

rows = []
if http_row:
    rows.append((f"http, {http_n} servers, --concurrency {conc}, {latency} ms/request", int(http_n), http_row))
if stdio_row:
    rows.append((f"stdio, {stdio_n} processes, --launch-concurrency {launch_conc}", int(stdio_n), stdio_row))
print(f"{'crawl':<56} {'wall s':>7} {'servers/s':>10} {'peak MB':>8} {'ok':>6} {'not ok':>7} {'tools':>7} {'exit':>5}")
figures = {}
for label, n, row in rows:
    wall, rss_kb, ok, not_ok, tools, rc = row.split()
    wall, mb = float(wall), int(rss_kb) / 1024
    figures[label.split(",")[0]] = (wall, mb, int(ok), n, int(tools))
    print(f"{label:<56} {wall:>7.2f} {n / max(wall, 0.01):>10.0f} {mb:>8.1f} {ok:>6} {not_ok:>7} {tools:>7} {rc:>5}")
print()

def verdict(ok):
    return "met" if ok else "NOT met"

if "http" in figures:
    wall, mb, ok, n, tools = figures["http"]
    print(f"target: http crawl <= {http_max_s:.0f} s: {verdict(wall <= http_max_s)} ({wall:.2f} s)")
    print(f"target: http crawl peak RSS <= {http_max_mb:.0f} MB: {verdict(mb <= http_max_mb)} ({mb:.1f} MB)")
if "stdio" in figures:
    wall, mb, ok, n, tools = figures["stdio"]
    print(f"target: stdio crawl <= {stdio_max_s:.0f} s: {verdict(wall <= stdio_max_s)} ({wall:.2f} s)")
for kind, (wall, mb, ok, n, tools) in figures.items():
    if ok != n or tools != n * int(per_server):
        print(f"check:  {kind}: {ok} of {n} servers ok, {tools} of {n * int(per_server)} tools: the times are not comparable")
PY
