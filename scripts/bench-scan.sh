#!/usr/bin/env bash
# Wall time and peak memory of `catalog scan`, side by side with what gating took before it.
#
#   scripts/bench-scan.sh            # (a) and (b)
#   BENCH_SEED=1 scripts/bench-scan.sh   # also (c): the seed list's 67 servers, cold then cached
#
# (a) Offline: the 20 servers of the devset (../shared/data/devset.jsonl) with the most tools,
#     each written as a saved tools/list file; `catalog scan --tools F1 ... --tools F20 --format
#     sarif` beside the earlier way to gate the same files, `catalog classify --input F --fail-on
#     high` once per file (20 processes, no SARIF, no stack or drift findings).
# (b) Launched: a 20-server `.mcp.json` whose entries each run the loopback stdio server
#     tests/it/mcp/list_server.py on one of those files, in the sandbox; `catalog scan .mcp.json
#     --format sarif`, then again against the baseline it wrote (drift checked), beside `catalog
#     crawl --config .mcp.json` (the first of the four commands the old flow needed).
# (c) With BENCH_SEED=1: a config naming every seed server (npx/uvx, pinned), scanned once cold
#     (installs and launches), then with `--cached` (stored listings reused, nothing launched).
#
# Wall seconds and peak RSS come from GNU time. Environment: CATALOG=PATH times that binary
# instead of building target/release/catalog; KEEP_TMP=1 keeps the temp dir.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$ROOT/scripts/lib.sh"
DEVSET=${DEVSET:-$ROOT/../shared/data/devset.jsonl}
[[ -f $DEVSET ]] || die "no devset at $DEVSET; set DEVSET=PATH"
command -v python3 >/dev/null || die "python3 is needed to write the inputs"
find_gnu_time
[[ -n $TIME_BIN ]] || die "GNU time is needed (apt-get install time)"

if [[ -z ${CATALOG:-} ]]; then
    step "building catalog (release)"
    cargo build --release --locked --quiet --manifest-path "$ROOT/Cargo.toml"
    CATALOG=$ROOT/target/release/catalog
fi
CATALOG=$(realpath "$CATALOG")
TMP=$(mktemp -d "${TMPDIR:-/tmp}/bench-scan.XXXXXX")
cleanup() { [[ ${KEEP_TMP:-} == 1 ]] && say "kept $TMP" || rm -rf "$TMP"; }
trap cleanup EXIT

step "writing 20 saved tool lists and a 20-server config"
python3 - "$DEVSET" "$TMP" "$ROOT/tests/it/mcp/list_server.py" <<'PY'
import collections, json, os, re, sys
devset, tmp, server = sys.argv[1:]
by_server = collections.defaultdict(list)
for line in open(devset):
    r = json.loads(line)
    tool = {k: r[k] for k in ("name", "title", "description", "annotations") if r.get(k) is not None}
    tool["inputSchema"] = r.get("input_schema") or {"type": "object"}
    by_server[r["server"]].append(tool)
top = sorted(by_server.items(), key=lambda kv: (-len(kv[1]), kv[0]))[:20]
os.makedirs(f"{tmp}/lists")
os.makedirs(f"{tmp}/repo")
config = {"mcpServers": {}}
for name, tools in top:
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", name).strip("_")
    path = f"{tmp}/lists/{safe}.json"
    with open(path, "w") as f:
        json.dump({"tools": tools}, f)
    with open(f"{tmp}/lists/{safe}.array.json", "w") as f:
        json.dump(tools, f)
    config["mcpServers"][safe] = {"command": sys.executable, "args": [server, f"{tmp}/lists/{safe}.array.json"]}
with open(f"{tmp}/repo/.mcp.json", "w") as f:
    json.dump(config, f, indent=2)
print(f"{len(top)} servers, {sum(len(t) for _, t in top)} tools")
PY

# timed LABEL CMD...: runs CMD under GNU time, appends "LABEL seconds MB exit" to the results.
RESULTS=$TMP/results.txt
timed() {
    local label=$1
    shift
    local code=0
    "$TIME_BIN" -f "%e %M" -o "$TMP/time.txt" "$@" >"$TMP/out.txt" 2>"$TMP/err.txt" || code=$?
    read -r secs kb <"$TMP/time.txt"
    printf '%-58s %8s %8.1f %5s\n' "$label" "$secs" "$(awk -v kb="$kb" 'BEGIN { print kb / 1024 }')" "$code" >>"$RESULTS"
}
printf '%-58s %8s %8s %5s\n' "RUN" "SECONDS" "PEAK MB" "EXIT" >"$RESULTS"

step "(a) offline: 20 saved lists"
mapfile -t LISTS < <(find "$TMP/lists" -name '*.json' ! -name '*.array.json' | sort)
TOOLS_ARGS=()
for f in "${LISTS[@]}"; do TOOLS_ARGS+=(--tools "$f"); done
timed "scan --tools x20 --format sarif" "$CATALOG" scan "${TOOLS_ARGS[@]}" --format sarif --out "$TMP/a.sarif" --cache-dir "$TMP/cache" --quiet
{
    echo 'for f in "$@"; do "$CATALOG" classify --input "$f" --format json --fail-on high >/dev/null || true; done'
} >"$TMP/per-file.sh"
CATALOG=$CATALOG timed "before: classify --input F --fail-on high, x20 processes" env CATALOG="$CATALOG" bash "$TMP/per-file.sh" "${LISTS[@]}"

step "(b) launched: a 20-server .mcp.json, sandboxed"
cd "$TMP/repo"
timed "scan .mcp.json --format sarif --update-baseline" "$CATALOG" scan .mcp.json --format sarif --out "$TMP/b.sarif" --update-baseline --cache-dir "$TMP/cache" --quiet
timed "scan .mcp.json --baseline (drift checked) --fail-on high" "$CATALOG" scan .mcp.json --format sarif --out "$TMP/b2.sarif" --fail-on high --cache-dir "$TMP/cache" --quiet
timed "before: crawl --config .mcp.json (1 of 4 commands)" "$CATALOG" crawl --config .mcp.json --db "$TMP/crawl.db" --cache-dir "$TMP/cache" --quiet --format json
cd "$ROOT"

if [[ ${BENCH_SEED:-} == 1 ]]; then
    step "(c) the seed list's servers: cold, then cached"
    mkdir -p "$TMP/seed"
    python3 - "$ROOT/data/servers.toml" "$TMP/seed/.mcp.json" <<'PY'
import json, sys, tomllib
seed = tomllib.load(open(sys.argv[1], "rb"))["server"]
servers = {}
for s in seed:
    if s["ecosystem"] == "npm":
        entry = {"command": "npx", "args": ["-y", f"{s['package']}@{s['version']}", *s.get("args", [])]}
    else:
        entry = {"command": "uvx", "args": [f"{s['package']}=={s['version']}", *s.get("args", [])]}
    if s.get("env"):
        entry["env"] = s["env"]
    servers[s["name"]] = entry
json.dump({"mcpServers": servers}, open(sys.argv[2], "w"), indent=2)
print(f"{len(servers)} seed servers")
PY
    SEED_CACHE=${BENCH_SEED_CACHE:-$TMP/seed-cache}
    cd "$TMP/seed"
    timed "seed: scan (installs + launches)" "$CATALOG" scan .mcp.json --format json --out "$TMP/seed1.json" --cache-dir "$SEED_CACHE" --quiet --cached
    timed "seed: scan --cached (stored listings)" "$CATALOG" scan .mcp.json --format json --out "$TMP/seed2.json" --cache-dir "$SEED_CACHE" --quiet --cached
    cd "$ROOT"
    python3 - "$TMP/seed1.json" "$TMP/seed2.json" <<'PY'
import collections, json, sys
for p in sys.argv[1:]:
    r = json.load(open(p))
    c = collections.Counter(s["outcome"] for s in r["servers"])
    print(f"{p.rsplit('/', 1)[-1]}: {dict(c)}, {r['summary']['tools']} tools, {r['summary']['findings']} findings")
PY
fi

step "results ($(cpu_busy) before the table)"
cat "$RESULTS"
python3 - "$TMP/a.sarif" "$TMP/b.sarif" <<'PY'
import json, sys
for p in sys.argv[1:]:
    run = json.load(open(p))["runs"][0]
    print(f"{p.rsplit('/', 1)[-1]}: {run['properties']['servers']} servers, {run['properties']['tools']} tools, "
          f"{len(run['results'])} results, {len(run['tool']['driver']['rules'])} rules")
PY
