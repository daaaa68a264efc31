#!/usr/bin/env bash
# Server memory per idle connection (docs/BENCHMARKS.md, "Idle connections"): a fresh
# `chorusd --threads 1` pinned to CPU 0 per round, `chorus-bench idle` pinned to CPU 1, and the
# server's RSS growth per connection as the bench reports it. The number moves with how well
# the server keeps up during the ramp (a stalled pass leaves receive buffers and frame-pool
# reserves behind, most of it handed back within seconds), so it runs ROUNDS times and prints
# each round with its handshake p99 and the RSS per connection again after the 5 s hold.
# Environment: BUILD (build), N (9000), MEMBERS (50), RAMP (2s), ROUNDS (3), SERVER_ARGS.
set -euo pipefail

cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
N=${N:-9000}
MEMBERS=${MEMBERS:-50}
RAMP=${RAMP:-2s}
ROUNDS=${ROUNDS:-3}
work=$(mktemp -d)
server_pid=
source "$(dirname "$0")/chorusd_launch.sh"
trap 'stop_chorusd; rm -rf "$work"' EXIT

for round in $(seq "$ROUNDS"); do
    # shellcheck disable=SC2086  # SERVER_ARGS is a list of flags
    launch_chorusd "$work/chorusd.log" idle_bench taskset -c 0 "$BUILD/chorusd" --threads 1 \
        ${SERVER_ARGS:-}
    args=(idle --connections "$N" --members "$MEMBERS" --ramp "$RAMP" --duration 5s
          --url "ws://127.0.0.1:$server_port" --server-pid "$server_pid" --quiet yes
          --json "$work/idle.json")
    [[ $round == 1 ]] && echo "taskset -c 1 $BUILD/chorus-bench ${args[*]}" >&2
    taskset -c 1 "$BUILD/chorus-bench" "${args[@]}" >"$work/idle.txt" 2>&1 ||
        { cat "$work/idle.txt" >&2; echo "idle_bench: round $round failed" >&2; }
    # The bench samples RSS 0.5 s after the ramp; this is after its 5 s hold (the connections
    # are still open: they close when the server stops).
    end_kib=$(awk '/^VmRSS:/ {print $2}' "/proc/$server_pid/status")
    kill -TERM "$server_pid"
    wait "$server_pid" || true
    server_pid=
    python3 - "$work/idle.json" "$round" "$end_kib" <<'PY'
import json, re, sys
with open(sys.argv[1]) as f:  # chorus-bench writes a quantile past the last bucket as inf
    r = json.loads(re.sub(r":\s*-?inf\b", ": null", f.read()))
server = r.get("server", {})
handshake = r.get("handshake_us", {})
joined = r.get("connections") or 1
after_hold = (int(sys.argv[3]) * 1024 - server.get("rss_before_bytes", 0)) / joined
print(f"round {sys.argv[2]}: {r.get('connections')} connections, "
      f"{server.get('rss_per_connection', 0):.0f} B RSS per connection "
      f"({after_hold:.0f} B after the hold), "
      f"peak RSS {server.get('peak_rss_bytes', 0) / 2**20:.1f} MiB, "
      f"handshake p99 {(handshake.get('p99') or 0) / 1000:.1f} ms")
PY
done
