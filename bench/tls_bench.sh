#!/usr/bin/env bash
# ws against wss side by side (docs/BENCHMARKS.md, "wss:// against ws://"): one chorusd with a
# plain and a TLS listener (self-signed), pinned to CPU 0, chorus-bench pinned to CPU 1. Runs
# flood (lock-step) and paced rooms over ws:// and wss:// alternately, ROUNDS times, so that a
# busy machine's noise lands on both; then idle connections over each on a fresh server for
# memory per connection. Prints one table; JSON per run under bench/results/tls/.
# Environment: BUILD (build), ROUNDS (2), FLOOD_ROOMS (20), PACED_ROOMS (40), IDLE (2000).
set -euo pipefail

cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
CHORUSD=$BUILD/chorusd
BENCH=$BUILD/chorus-bench
ROUNDS=${ROUNDS:-2}
FLOOD_ROOMS=${FLOOD_ROOMS:-20}
PACED_ROOMS=${PACED_ROOMS:-40}
IDLE=${IDLE:-2000}
RESULTS=bench/results/tls
rm -rf "$RESULTS"
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
source "$(dirname "$0")/chorusd_launch.sh"

start_server() {
    tls_port=$(free_port)
    launch_chorusd "$work/chorusd.log" tls_bench taskset -c 0 "$CHORUSD" --threads 1 \
        --max-room-members 1000 --tls-self-signed --tls-listen "127.0.0.1:$tls_port"
}
stop_server() {
    kill -TERM "$server_pid"
    wait "$server_pid" || true
    server_pid=
}
url() { [[ $1 == wss ]] && echo "wss://127.0.0.1:$tls_port" || echo "ws://127.0.0.1:$server_port"; }
bench() {  # bench NAME SCHEME ARGS...
    local name=$1 scheme=$2
    shift 2
    local args=("$@" --url "$(url "$scheme")" --server-pid "$server_pid" --quiet yes
                --server-metrics "http://127.0.0.1:$server_port/metrics"
                --json "$RESULTS/$name-$scheme.json")
    [[ $scheme == wss ]] && args+=(--insecure)
    echo "taskset -c 1 $BENCH ${args[*]}" >&2
    taskset -c 1 "$BENCH" "${args[@]}" >"$work/$name-$scheme.txt" 2>&1 ||
        { cat "$work/$name-$scheme.txt" >&2; echo "tls_bench: $name over $scheme failed" >&2; }
}

start_server
for round in $(seq "$ROUNDS"); do
    for scheme in ws wss; do
        bench "flood$round" "$scheme" flood --rooms "$FLOOD_ROOMS" --members 50 --speakers 2 \
            --payload 100 --duration 5s --ramp 2s
        bench "paced$round" "$scheme" rooms --rooms "$PACED_ROOMS" --members 50 --speakers 2 \
            --rate 50 --payload 120 --duration 10s --ramp 3s
    done
done
stop_server
for scheme in ws wss; do
    start_server
    bench idle "$scheme" idle --connections "$IDLE" --members 50 --ramp 2s --duration 5s
    stop_server
done

python3 - "$RESULTS" <<'PY'
import glob, json, os, re, sys
rows = []
for path in sorted(glob.glob(os.path.join(sys.argv[1], "*.json"))):
    name = os.path.basename(path)[:-5]
    with open(path) as f:  # chorus-bench writes a quantile past the last bucket as inf
        r = json.loads(re.sub(r":\s*-?inf\b", ": null", f.read()))
    server = r.get("server", {})
    rows.append((name, r.get("connections"), r.get("deliveries_per_sec"), server.get("cpu_seconds"),
                 server.get("deliveries_per_cpu_second"), server.get("rss_per_connection"),
                 r.get("loss"), r.get("bench_cpu_seconds"),
                 r.get("server_metrics", {}).get("sends_per_delivery")))
print(f"{'run':14} {'conns':>6} {'deliv/s':>10} {'srv CPU s':>9} {'deliv/srv CPU-s':>15} "
      f"{'RSS/conn B':>10} {'loss':>6} {'bench CPU s':>11} {'sends/deliv':>11}")
for name, conns, dps, cpu, per_cpu, rss, loss, bcpu, spd in rows:
    fmt = lambda v, spec: format(v, spec) if isinstance(v, (int, float)) else "-"
    print(f"{name:14} {fmt(conns, '6d')} {fmt(dps, '10.0f')} {fmt(cpu, '9.2f')} "
          f"{fmt(per_cpu, '15.0f')} {fmt(rss, '10.0f')} {fmt(loss, '6.3f')} {fmt(bcpu, '11.2f')} "
          f"{fmt(spd, '11.3f')}")
PY
