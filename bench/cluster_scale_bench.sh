#!/usr/bin/env bash
# Cluster scale-out run (docs/CLUSTER.md "Measured", docs/BENCHMARKS.md): one Redis, three
# chorusd nodes and nginx in front, the paced rooms of chorus-bench through nginx. BALANCE picks
# how nginx places members: "shipped" (deploy/nginx.conf's room affinity) or "least_conn" (members
# of a room spread over the nodes: every room spans). Prints one line per run: deliveries/s,
# p50/p99, loss, and over the measured window (after the ramp): Redis commands (INFO
# commandstats, script-internal calls included) and PUBLISHes per delivered frame, and the CPU
# microseconds per delivered frame of Redis, of the three nodes together and of nginx. Redis's
# CPU is also given two other ways: the time it spent inside commands (commandstats usec), and
# the CPU of a second redis-server on the same core with no client at all (its idle floor:
# serverCron and timers), over the same window.
#   BALANCE=shipped|least_conn CHORUSD=build/chorusd bench/cluster_scale_bench.sh [ROOMS ...]
#   (default 100 rooms; MEMBERS=10 SPEAKERS=2 RATE=50 DURATION=8 RAMP=3 NODE_ARGS=)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
CHORUSD=${CHORUSD:-$BUILD/chorusd}
BENCH=${BENCH:-$BUILD/chorus-bench}
BALANCE=${BALANCE:-shipped}
SERVER_CPU=${SERVER_CPU:-0}
BENCH_CPU=${BENCH_CPU:-1}
DURATION=${DURATION:-8}
RAMP=${RAMP:-3}
MEMBERS=${MEMBERS:-10}
SPEAKERS=${SPEAKERS:-2}
RATE=${RATE:-50}
NODES=${NODES:-3}
export NODE_ARGS=${NODE_ARGS:-}  # more chorusd flags, e.g. --node-audio-batch 0
SECRET=cluster-bench-secret-0123456789
out=$(mktemp -d)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$out"
}
trap cleanup EXIT
source bench/chorusd_launch.sh  # free_port

ticks() {  # utime + stime of processes, in clock ticks
    local total=0
    for pid in "$@"; do
        total=$((total + $(awk '{print $14 + $15}' "/proc/$pid/stat")))
    done
    echo "$total"
}
commands() {  # total calls, PUBLISH calls and total usec in Redis's INFO commandstats
    redis-cli -p "$1" info commandstats | tr -d '\r' | awk -F'[=,:]' '
        /^cmdstat_/ { total += $3; usec += $5; if ($1 == "cmdstat_publish") pub = $3 }
        END { printf "%d %d %d\n", total, pub, usec }'
}

# nginx.conf: deploy/nginx.conf's room map, and its balancing line or least_conn.
nginx_conf() {
    local port=$1 servers=$2 balance room_map
    room_map=$(awk '/^    map \$uri \$chorus_room \{/,/^    \}/' deploy/nginx.conf)
    if [ "$BALANCE" = shipped ]; then
        balance=$(grep -oE '^ +hash \$chorus_room consistent;' deploy/nginx.conf)
    else
        balance="least_conn;"
    fi
    local user=""
    [ "$(id -u)" = 0 ] && user="user root root;"
    cat <<CONF
$user
worker_processes 1;
daemon off;
pid $out/nginx.pid;
error_log $out/nginx-error.log warn;
events { worker_connections 16384; }
http {
    access_log off;
    client_body_temp_path $out/cb; proxy_temp_path $out/px; fastcgi_temp_path $out/fc;
    uwsgi_temp_path $out/uw; scgi_temp_path $out/sc;
    map \$http_upgrade \$connection_upgrade { default upgrade; '' close; }
$room_map
    upstream chorus {
        $balance
        zone chorus 64k;
$servers
    }
    server {
        listen 127.0.0.1:$port;
        location / {
            proxy_pass http://chorus;
            proxy_http_version 1.1;
            proxy_set_header Upgrade \$http_upgrade;
            proxy_set_header Connection \$connection_upgrade;
            proxy_buffering off;
            proxy_next_upstream error timeout http_503;
            proxy_read_timeout 1h;
            proxy_send_timeout 1h;
        }
    }
}
CONF
}

run() {
    local rooms=$1 redis_port nginx_port node_pids=() servers=""
    redis_port=$(free_port)
    taskset -c "$SERVER_CPU" redis-server --port "$redis_port" --bind 127.0.0.1 --save '' \
        --appendonly no >"$out/redis.log" 2>&1 &
    local redis_pid=$!
    pids+=("$redis_pid")
    local idle_port
    idle_port=$(free_port)
    taskset -c "$SERVER_CPU" redis-server --port "$idle_port" --bind 127.0.0.1 --save '' \
        --appendonly no >"$out/redis-idle.log" 2>&1 &
    local idle_pid=$!
    pids+=("$idle_pid")
    for _ in $(seq 100); do
        redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break
        sleep 0.05
    done
    for i in $(seq "$NODES"); do
        launch_chorusd "$out/node$i.log" "node$i" taskset -c "$SERVER_CPU" "$CHORUSD" \
            --threads 1 --no-pin --node-id "bench$i" --redis "redis://127.0.0.1:$redis_port" \
            --cluster-secret "$SECRET" $NODE_ARGS
        node_pids+=("$server_pid")
        pids+=("$server_pid")
        servers+="        server 127.0.0.1:$server_port;"$'\n'
    done
    nginx_port=$(free_port)
    nginx_conf "$nginx_port" "$servers" >"$out/nginx.conf"
    taskset -c "$SERVER_CPU" nginx -p "$out/" -c "$out/nginx.conf" -e "$out/nginx-error.log" &
    local nginx_master=$!
    pids+=("$nginx_master")
    for _ in $(seq 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$nginx_port") 2>/dev/null && break
        sleep 0.05
    done
    local nginx_worker
    nginx_worker=$(pgrep -P "$nginx_master" | head -1)
    taskset -c "$BENCH_CPU" "$BENCH" rooms --url "ws://127.0.0.1:$nginx_port" --rooms "$rooms" \
        --members "$MEMBERS" --speakers "$SPEAKERS" --rate "$RATE" --duration "${DURATION}s" \
        --ramp "${RAMP}s" --drain 2s --quiet yes --json "$out/result.json" >"$out/bench.log" 2>&1 &
    local bench_pid=$!
    sleep "$RAMP"  # the measured window starts after the ramp (a bench clock, not a test wait)
    local c0 r0 n0 x0 i0 c1 r1 n1 x1 i1
    c0=$(commands "$redis_port"); r0=$(ticks "$redis_pid"); n0=$(ticks "${node_pids[@]}")
    x0=$(ticks "$nginx_worker"); i0=$(ticks "$idle_pid")
    sleep "$DURATION"
    c1=$(commands "$redis_port"); r1=$(ticks "$redis_pid"); n1=$(ticks "${node_pids[@]}")
    x1=$(ticks "$nginx_worker"); i1=$(ticks "$idle_pid")
    wait "$bench_pid" || true
    python3 - "$out/result.json" "$rooms" "$c0" "$c1" "$r0" "$r1" "$n0" "$n1" "$x0" "$x1" \
        "$(getconf CLK_TCK)" "$DURATION" "$BALANCE" "$(basename "$CHORUSD")" "$i0" "$i1" <<'PY'
import json, os, sys
r = json.load(open(sys.argv[1]))
rooms = sys.argv[2]
c0, c1 = [list(map(int, x.split())) for x in sys.argv[3:5]]
r0, r1, n0, n1, x0, x1 = map(int, sys.argv[5:11])
hz, duration, balance, binary = int(sys.argv[11]), float(sys.argv[12]), sys.argv[13], sys.argv[14]
i0, i1 = int(sys.argv[15]), int(sys.argv[16])
delivered = r["deliveries_per_sec"] * duration
us = lambda ticks: ticks / hz * 1e6 / delivered if delivered else float("nan")
lat = r["latency_us"]
print(f"{binary} {os.environ.get('NODE_ARGS', '')} balance={balance} rooms={rooms} deliveries/s={r['deliveries_per_sec']:.0f} "
      f"p50={lat['p50']:.0f}us p99={lat['p99']:.0f}us loss={r['loss']:.4%} "
      f"redis_cmds/delivery={(c1[0] - c0[0]) / delivered:.4f} "
      f"publish/delivery={(c1[1] - c0[1]) / delivered:.4f} "
      f"redis_us/delivery={us(r1 - r0):.3f} redis_idle_us/delivery={us(i1 - i0):.3f} "
      f"redis_cmd_us/delivery={(c1[2] - c0[2]) / delivered if delivered else float('nan'):.4f} "
      f"nodes_us/delivery={us(n1 - n0):.2f} "
      f"nginx_us/delivery={us(x1 - x0):.2f}")
PY
    kill "$nginx_master" "${node_pids[@]}" "$redis_pid" "$idle_pid" 2>/dev/null || true
    wait 2>/dev/null || true
    pids=()
}

rooms_list=("$@")
[ ${#rooms_list[@]} -gt 0 ] || rooms_list=(100)
for rooms in "${rooms_list[@]}"; do run "$rooms"; done
