#!/usr/bin/env bash
# The paced ladder (make bench-ladder, docs/BENCHMARKS.md): chorus-bench rooms of 50 members, 2
# speakers at 50 frames/s, 120-byte payloads, at growing room counts, one fresh chorusd per step
# (server on CPU 0, bench on CPU 1), each step's --json kept, then one HTML page of them all.
#
#   LADDER_ROOMS     room counts, commas or spaces (default 10,20,40,60,80,100,120)
#   LADDER_DURATION  measured time per step (default 10s)
#   LADDER_ARGS      more chorus-bench flags for every step
#   SERVER_ARGS      more chorusd flags, e.g. "--audio-batch 20ms"
#   LADDER_OUT       folder for the steps (default $BUILD/ladder); the page is $LADDER_OUT.html
#   SERVER_CPU, BENCH_CPU   the cores to pin to (default 0 and 1); pinning is skipped, with a
#                    warning, where taskset or the core is missing
#   CHORUSD, CHORUS_BENCH   the binaries (default $BUILD/chorusd and $BUILD/chorus-bench)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
rooms_list=${LADDER_ROOMS:-10,20,40,60,80,100,120}
duration=${LADDER_DURATION:-10s}
out=${LADDER_OUT:-$BUILD/ladder}
server_cpu=${SERVER_CPU:-0}
bench_cpu=${BENCH_CPU:-1}
chorusd=${CHORUSD:-$BUILD/chorusd}
chorus_bench=${CHORUS_BENCH:-$BUILD/chorus-bench}
read -ra bench_args <<<"${LADDER_ARGS:-}"
read -ra server_args <<<"${SERVER_ARGS:-}"
for binary in "$chorusd" "$chorus_bench"; do
    [[ -x $binary ]] || { echo "ladder: no $binary (run make first)" >&2; exit 2; }
done

# Prefixes that pin a command to a core (exec'd by taskset, so $! is the server's own pid).
server_pin=() bench_pin=()
if command -v taskset >/dev/null && ((server_cpu < $(nproc --all) && bench_cpu < $(nproc --all)))
then
    server_pin=(taskset -c "$server_cpu")
    bench_pin=(taskset -c "$bench_cpu")
else
    echo "ladder: cannot pin to CPUs $server_cpu and $bench_cpu here; running unpinned" >&2
fi

source bench/chorusd_launch.sh
mkdir -p "$out"
rm -f "$out"/step-*.json "$out"/step-*.txt
steps=()
for rooms in ${rooms_list//,/ }; do
    launch_chorusd "$out/chorusd-$rooms.log" ladder "${server_pin[@]}" "$chorusd" \
        --threads 1 --max-room-members 1000 "${server_args[@]}"
    step=$out/step-$(printf '%04d' "$rooms")
    status=0
    "${bench_pin[@]}" "$chorus_bench" rooms --rooms "$rooms" --members 50 --speakers 2 \
        --rate 50 --payload 120 --duration "$duration" --ramp 3s \
        --url "ws://127.0.0.1:$server_port" --server-pid "$server_pid" \
        --server-metrics "http://127.0.0.1:$server_port/metrics" \
        --json "$step.json" --quiet yes "${bench_args[@]}" >"$step.txt" 2>&1 || status=$?
    kill -TERM "$server_pid"
    wait "$server_pid" || true
    # Exit 1 is a measured failure (loss, a refused join): a point on the ladder. Anything else
    # (bad flags, no JSON) stops the ladder.
    if ((status > 1)) || [[ ! -s $step.json ]]; then
        echo "ladder: the step with $rooms rooms did not run (exit $status):" >&2
        cat "$step.txt" >&2
        exit 2
    fi
    steps+=("$step.json")
    echo "ladder: $rooms rooms: $(grep -E 'end-to-end latency|deliveries per server|result' \
        "$step.txt" | sed -E 's/^ +//; s/ {2,}/ /g' | paste -sd ';' -)"
done
title="chorusd --threads 1 ${SERVER_ARGS:-} (CPU $server_cpu); rooms of 50, 2 speakers, 50 frames/s, \
120 B, $duration per step (bench on CPU $bench_cpu)"
"$chorus_bench" ladder-report "${steps[@]}" --report "$out.html" --title "$title"
echo "ladder: $out.html"
