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
