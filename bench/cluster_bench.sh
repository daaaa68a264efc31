#!/usr/bin/env bash
# Cluster load run (docs/BENCHMARKS.md): the same paced rooms on one node and on two nodes
# sharing one Redis, with every room's members split across both nodes. Servers (and Redis) are
# pinned to SERVER_CPU, chorus-bench to BENCH_CPU. Prints one line per run: deliveries/s, p50/p99
# latency, loss, and the CPU seconds of each process over the whole run, so Redis CPU per
# delivered frame can be read off.
#   bench/cluster_bench.sh [ROOMS ...]        (default: 50 100 200; 10 members, 2 speakers, 50/s)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
CHORUSD=$BUILD/chorusd
BENCH=$BUILD/chorus-bench
SERVER_CPU=${SERVER_CPU:-0}
BENCH_CPU=${BENCH_CPU:-1}
DURATION=${DURATION:-8s}
MEMBERS=${MEMBERS:-10}
SPEAKERS=${SPEAKERS:-2}
RATE=${RATE:-50}
SECRET=cluster-bench-secret-0123456789
out=$(mktemp -d)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$out"
}
trap cleanup EXIT

# free_port
source bench/chorusd_launch.sh
cpu_seconds() {  # utime + stime of a process, in seconds
    awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / hz}' "/proc/$1/stat"
}
wait_ready() {
    for _ in $(seq 200); do
        grep -q 'ready on' "$1" && return 0
        sleep 0.05
    done
    echo "chorusd did not start:" >&2
    cat "$1" >&2
    exit 2
}

# run NODES ROOMS
run() {
    local nodes=$1 rooms=$2 redis_pid="" redis_port urls=() node_pids=() flags=()
    if [ "$nodes" -gt 1 ]; then
        redis_port=$(free_port)
        taskset -c "$SERVER_CPU" redis-server --port "$redis_port" --bind 127.0.0.1 --save '' \
            --appendonly no >"$out/redis.log" 2>&1 &
        redis_pid=$!
        pids+=("$redis_pid")
        for _ in $(seq 100); do
            redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break
            sleep 0.05
        done
        flags=(--redis "redis://127.0.0.1:$redis_port" --cluster-secret "$SECRET")
    fi
    for i in $(seq "$nodes"); do
        local port
        port=$(free_port)
        taskset -c "$SERVER_CPU" "$CHORUSD" --threads 1 --no-pin --listen "127.0.0.1:$port" \
            --node-id "bench$i" "${flags[@]}" 2>"$out/node$i.log" &
        node_pids+=($!)
        pids+=($!)
        wait_ready "$out/node$i.log"
        if [ "$i" = 1 ]; then urls+=(--url "ws://127.0.0.1:$port"); else
            urls+=(--also-url "ws://127.0.0.1:$port"); fi
    done
    taskset -c "$BENCH_CPU" "$BENCH" rooms "${urls[@]}" --rooms "$rooms" --members "$MEMBERS" \
        --speakers "$SPEAKERS" --rate "$RATE" --duration "$DURATION" --ramp 2s --drain 2s \
        --quiet yes --json "$out/result.json" >"$out/bench.log" 2>&1 || true
    local cpus="" total=0
    for i in "${!node_pids[@]}"; do
        cpus+=" node$((i + 1))=$(cpu_seconds "${node_pids[$i]}")s"
    done
    [ -n "$redis_pid" ] && cpus+=" redis=$(cpu_seconds "$redis_pid")s"
    python3 - "$out/result.json" "$nodes" "$rooms" "$cpus" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
lat = r["latency_us"]
print(f"nodes={sys.argv[2]} rooms={sys.argv[3]:>4} deliveries/s={r['deliveries_per_sec']:>9.0f} "
      f"received={r['received']:>8} p50={lat['p50']:>7.0f}us p99={lat['p99']:>7.0f}us "
      f"loss={r['loss']:.4%} reorders={r['reorders']} cpu:{sys.argv[4]}")
PY
    for pid in "${node_pids[@]}" $redis_pid; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    pids=()
}

rooms_list=("$@")
[ ${#rooms_list[@]} -gt 0 ] || rooms_list=(50 100 200)
for rooms in "${rooms_list[@]}"; do
    run 1 "$rooms"
    run 2 "$rooms"
done
