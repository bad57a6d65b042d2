# shellcheck shell=bash
# Helpers shared by the benchmark scripts; source it: `. "$ROOT/scripts/lib.sh"`.

say() { printf '%s\n' "$*"; }
step() { printf '\n==> %s\n' "$*"; }
die() {
    printf 'error: %s\n' "$*" >&2
    exit 1
}

# How busy the CPUs were over one second, as "N% of all cores busy over 1 s" (or "unknown").
# Other work on the machine skews every figure; on this VM the load average stays near 2 even when
# idle, so it is no guide.
cpu_busy() {
    python3 - <<'PY'
import time

def snap():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return sum(v), v[3] + v[4]

try:
    t0, i0 = snap()
    time.sleep(1)
    t1, i1 = snap()
    print(f"{100 * (1 - (i1 - i0) / max(t1 - t0, 1)):.0f}% of all cores busy over 1 s")
except (OSError, ValueError, IndexError):
    print("unknown")
PY
}

# Sets TIME_BIN to GNU time (installing it with apt-get when it is missing and we are root), or
# to "" when it cannot be had; callers then measure with Python instead.
# shellcheck disable=SC2034 # TIME_BIN is read by the scripts that source this file
find_gnu_time() {
    TIME_BIN=
    if /usr/bin/time --version 2>&1 | grep -q GNU; then
        TIME_BIN=/usr/bin/time
    elif [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
        say "GNU time is missing: apt-get install -y time"
        if apt-get install -y -qq time >/dev/null 2>&1 || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq time >/dev/null 2>&1; }; then
            TIME_BIN=/usr/bin/time
        else
            say "apt-get could not install GNU time; measuring with Python instead"
        fi
    else
        say "GNU time is missing; measuring with Python instead"
    fi
}

# parse_gnu_time FILE: prints "WALL_S RSS_MB USER_S SYS_S" from the report of `/usr/bin/time -v -o FILE`.
parse_gnu_time() {
    python3 - "$1" <<'PY'
import re, sys
t = open(sys.argv[1]).read()
def field(label):
    return re.search(re.escape(label) + r": *(.+)", t).group(1).strip()
parts = [float(p) for p in field("Elapsed (wall clock) time (h:mm:ss or m:ss)").split(":")]
wall = sum(p * 60 ** i for i, p in enumerate(reversed(parts)))
print(f"{wall:.2f} {int(field('Maximum resident set size (kbytes)')) / 1024:.0f} {field('User time (seconds)')} {field('System time (seconds)')}")
PY
}
