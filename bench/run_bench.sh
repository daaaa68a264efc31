#!/usr/bin/env bash
# `make bench`: the project's numbers in one table. Runs the Google Benchmark micro-suite briefly,
# then chorusd pinned to CPU 0 and chorus-bench pinned to CPU 1 for a paced `rooms` scenario and
# a `flood` scenario; prints a summary table and writes bench/results/latest.json (git-ignored).
# Arguments are passed to every chorus-bench run (later flags win): make bench BENCH_ARGS="...".
# Environment: BUILD (default build), ROOMS/MEMBERS/SPEAKERS/DURATION for the rooms run,
# SKIP_MICRO=1 to leave out the micro-suite.
set -euo pipefail

cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
CHORUSD=$BUILD/chorusd
BENCH=$BUILD/chorus-bench
MICRO=$BUILD/micro_bench
RESULTS=bench/results
ROOMS=${ROOMS:-200}
MEMBERS=${MEMBERS:-50}
SPEAKERS=${SPEAKERS:-2}
DURATION=${DURATION:-10s}
EXTRA=("$@")

for binary in "$CHORUSD" "$BENCH"; do
    [[ -x $binary ]] || { echo "run_bench: $binary is missing (make $binary)" >&2; exit 2; }
done
mkdir -p "$RESULTS"
work=$(mktemp -d)
server_pid=
cleanup() {
    if [[ -n $server_pid ]] && kill -0 "$server_pid" 2>/dev/null; then
        kill -TERM "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

# CPU pinning needs two CPUs; with one, both share it (and the numbers say so).
cpus=$(nproc)
server_cpu=0
bench_cpu=$((cpus > 1 ? 1 : 0))

if [[ -x $MICRO && ${SKIP_MICRO:-0} != 1 ]]; then
    echo "== micro-benchmarks ($MICRO, short)"
    "$MICRO" --benchmark_min_time=0.05 --benchmark_out="$work/micro.json" \
        --benchmark_out_format=json
else
    echo '{}' >"$work/micro.json"
fi

source "$(dirname "$0")/chorusd_launch.sh"

start_server() {
    launch_chorusd "$work/chorusd.log" run_bench \
        taskset -c "$server_cpu" "$CHORUSD" --threads 1 --max-room-members 1000
}

stop_server() {
    kill -TERM "$server_pid"
    wait "$server_pid" || true
    server_pid=
}

status=0
run_scenario() {  # name scenario flags...
    local name=$1
    shift
    start_server
    echo "== $name: chorusd on CPU $server_cpu (port $server_port), chorus-bench on CPU $bench_cpu"
    local args=("$@" --url "ws://127.0.0.1:$server_port" --server-pid "$server_pid"
        --server-metrics "http://127.0.0.1:$server_port/metrics" --json "$work/$name.json"
        --quiet yes "${EXTRA[@]}")
    echo "chorus-bench ${args[*]}"
    taskset -c "$bench_cpu" "$BENCH" "${args[@]}" || status=1
    [[ -f $work/$name.json ]] || echo '{}' >"$work/$name.json"
    stop_server
}

run_scenario rooms rooms --rooms "$ROOMS" --members "$MEMBERS" --speakers "$SPEAKERS" \
    --rate 50 --payload 120 --duration "$DURATION" --ramp 5s
run_scenario flood flood --rooms 20 --members 50 --speakers 2 --payload 100 --duration 5s \
    --ramp 1s

commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
python3 - "$work" "$RESULTS/latest.json" "$commit" <<'PY'
import json, os, platform, sys, time
work, out, commit = sys.argv[1:4]
def load(name):
    try:
        with open(os.path.join(work, name)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")),
           platform.processor())
result = {"commit": commit, "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
          "machine": {"cpu": cpu, "cpus": os.cpu_count(), "kernel": platform.release()},
          "rooms": load("rooms.json"), "flood": load("flood.json"),
          "micro": load("micro.json").get("benchmarks", [])}
with open(out, "w") as f:
    json.dump(result, f, indent=2)
print(f"\n== summary (commit {commit}, {cpu}, {os.cpu_count()} CPUs)")
head = ("scenario", "conns", "deliveries/s", "p50 us", "p99 us", "p99.9 us", "loss", "reorders",
        "srv CPU s", "deliv/CPU-s", "sends/deliv", "result")
rows = []
for name in ("rooms", "flood"):
    r = result[name]
    if not r:
        rows.append((name,) + ("-",) * (len(head) - 2) + ("no result",))
        continue
    lat, srv, met = r.get("latency_us", {}), r.get("server", {}), r.get("server_metrics", {})
    rows.append((name, str(r.get("joined", 0)), f"{r.get('deliveries_per_sec', 0):,.0f}",
                 f"{lat.get('p50', 0):.0f}", f"{lat.get('p99', 0):.0f}", f"{lat.get('p999', 0):.0f}",
                 f"{r.get('loss', 0):.4%}", str(r.get("reorders", 0)),
                 f"{srv.get('cpu_seconds', 0):.2f}", f"{srv.get('deliveries_per_cpu_second', 0):,.0f}",
                 f"{met.get('sends_per_delivery', 0):.3f}", "PASS" if r.get("passed") else "FAIL"))
for b in result["micro"]:
    if b.get("run_type", "iteration") != "iteration":
        continue
    rows.append(("micro: " + b["name"], "", "", "", "", "", "", "", "", "",
                 "", f"{b.get('real_time', 0):.1f} {b.get('time_unit', 'ns')}"))
widths = [max(len(str(x)) for x in col) for col in zip(head, *rows)]
for row in (head,) + tuple(rows):
    print("  ".join(str(x).rjust(w) if i else str(x).ljust(w) for i, (x, w) in
                    enumerate(zip(row, widths))))
print(f"\nresults: {out}")
PY
exit $status
