#!/usr/bin/env bash
# `make soak`: chorusd under 30 minutes of moderate, steady load (paced rooms with chat and
# whispers, plus members that keep joining, leaving and resuming), sampling the server's RSS, fd
# count and end-to-end audio latency every minute into a CSV, then saying whether RSS or fds grew
# after the warm-up. Exit 1 when they grew, or when a load generator reported loss or a failure.
#
# Environment (all optional):
#   SOAK_MINUTES=30      length of the run; SOAK_SAMPLE_S=60 seconds between samples
#   SOAK_WARMUP_MIN      minutes before the baseline sample (default: a fifth, at least 1)
#   SOAK_ROOMS=100 SOAK_MEMBERS=8 SOAK_SPEAKERS=2   the steady rooms (800 connections)
#   SOAK_CHURN_ROOMS=20 SOAK_CHURNERS=40 SOAK_CHURN_RATE=20   joins/leaves/resumes per second
#   SOAK_THREADS=2       chorusd --threads; BUILD=build; SOAK_CSV=bench/results/soak.csv
#   SOAK_RSS_SLACK_MIB=8 SOAK_FD_SLACK=16   growth allowed after the warm-up
#   SOAK_HISTORY=200     chorusd --history (the default 1000 takes ~17 minutes to fill)
set -euo pipefail

cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
CHORUSD=$BUILD/chorusd
BENCH=$BUILD/chorus-bench
MINUTES=${SOAK_MINUTES:-30}
# Room histories grow until they hold --history events (chat and whispers add 1 a second per
# room). 200 fills them within the warm-up, so later growth means a leak, not a filling buffer.
HISTORY=${SOAK_HISTORY:-200}
SAMPLE_S=${SOAK_SAMPLE_S:-60}
WARMUP_MIN=${SOAK_WARMUP_MIN:-$((MINUTES / 5 > 1 ? MINUTES / 5 : 1))}
ROOMS=${SOAK_ROOMS:-100}
MEMBERS=${SOAK_MEMBERS:-8}
SPEAKERS=${SOAK_SPEAKERS:-2}
CHURN_ROOMS=${SOAK_CHURN_ROOMS:-20}
CHURNERS=${SOAK_CHURNERS:-40}
CHURN_RATE=${SOAK_CHURN_RATE:-20}
THREADS=${SOAK_THREADS:-2}
CSV=${SOAK_CSV:-bench/results/soak.csv}
RSS_SLACK_MIB=${SOAK_RSS_SLACK_MIB:-8}
FD_SLACK=${SOAK_FD_SLACK:-16}

for binary in "$CHORUSD" "$BENCH"; do
    [[ -x $binary ]] || { echo "soak: $binary is missing (make $binary)" >&2; exit 2; }
done
[[ $MINUTES =~ ^[0-9]+$ && $MINUTES -ge 1 ]] || { echo "soak: SOAK_MINUTES must be >= 1" >&2; exit 2; }
mkdir -p "$(dirname "$CSV")"
work=$(mktemp -d)
server_pid= rooms_pid= churn_pid=
cleanup() {
    for pid in $rooms_pid $churn_pid; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    if [[ -n $server_pid ]] && kill -0 "$server_pid" 2>/dev/null; then
        kill -TERM "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

source "$(dirname "$0")/../bench/chorusd_launch.sh"

start_server() {
    launch_chorusd "$work/chorusd.log" soak \
        "$CHORUSD" --threads "$THREADS" --resume-grace 5s --history "$HISTORY"
    port=$server_port
}

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$server_pid/status"; }
fd_count() { ls "/proc/$server_pid/fd" | wc -l; }
connections() {
    curl -fsS "http://127.0.0.1:$port/metrics" 2>/dev/null |
        awk '$1 == "chorus_connections" {print $2}' || true
}

# A 5-second, 2-member room on the side: its end-to-end latency is the minute's sample.
probe() {  # out.json
    "$BENCH" rooms --url "ws://127.0.0.1:$port" --rooms 1 --members 2 --speakers 1 --rate 50 \
        --payload 120 --duration 5s --ramp 200ms --drain 1s --quiet yes --run-id "probe$1" \
        --json "$work/probe.json" >/dev/null 2>&1 || true
    python3 - "$work/probe.json" <<'PY'
import json, sys
try:
    r = json.load(open(sys.argv[1]))
    lat = r.get("latency_us", {})
    print(f"{lat.get('p50', 0):.0f},{lat.get('p99', 0):.0f},{lat.get('max', 0):.0f},"
          f"{r.get('loss', 1):.6f}")
except (OSError, ValueError):
    print(",,,")
PY
    rm -f "$work/probe.json"
}

start_server
duration_s=$((MINUTES * 60 + 30))  # the load outlasts the last sample
echo "soak: chorusd pid $server_pid on 127.0.0.1:$port, $MINUTES min, sample every ${SAMPLE_S}s," \
    "warm-up ${WARMUP_MIN} min; CSV $CSV"
echo "soak: rooms $ROOMS x $MEMBERS ($SPEAKERS speakers, 50 frames/s, chat and whispers);" \
    "churn $CHURNERS churners at $CHURN_RATE joins/s in $CHURN_ROOMS rooms (half resume)"
"$BENCH" rooms --url "ws://127.0.0.1:$port" --rooms "$ROOMS" --members "$MEMBERS" \
    --speakers "$SPEAKERS" --rate 50 --payload 120 --chat-rate 1 --whisper-rate 1 \
    --duration "${duration_s}s" --ramp 10s --drain 3s --quiet yes --run-id soakrooms \
    --max-loss 0.001 --json "$work/rooms.json" >"$work/rooms.txt" 2>&1 &
rooms_pid=$!
"$BENCH" churn --url "ws://127.0.0.1:$port" --rooms "$CHURN_ROOMS" --members 3 \
    --churners "$CHURNERS" --churn-rate "$CHURN_RATE" --duration "${duration_s}s" --ramp 5s \
    --drain 3s --quiet yes --run-id soakchurn --json "$work/churn.json" >"$work/churn.txt" 2>&1 &
churn_pid=$!

echo "minute,elapsed_s,rss_kib,fds,connections,probe_p50_us,probe_p99_us,probe_max_us,probe_loss" \
    >"$CSV"
samples=$((MINUTES * 60 / SAMPLE_S))
start=$(date +%s)
for ((i = 1; i <= samples; i++)); do
    sleep $((start + i * SAMPLE_S - $(date +%s) - 7 > 0 ? start + i * SAMPLE_S - $(date +%s) - 7 : 0))
    kill -0 "$server_pid" 2>/dev/null || { echo "soak: chorusd died" >&2; exit 1; }
    latency=$(probe "$i")
    line="$(awk "BEGIN {printf \"%.2f\", $i * $SAMPLE_S / 60}"),$(($(date +%s) - start)),$(rss_kib)"
    line+=",$(fd_count),$(connections),$latency"
    echo "$line" >>"$CSV"
    echo "soak: $line"
done

status=0
wait "$rooms_pid" || { echo "soak: the rooms load failed:"; tail -n 30 "$work/rooms.txt"; status=1; }
rooms_pid=
wait "$churn_pid" || { echo "soak: the churn load failed:"; tail -n 30 "$work/churn.txt"; status=1; }
churn_pid=
kill -0 "$server_pid" 2>/dev/null || { echo "soak: chorusd died" >&2; exit 1; }

python3 - "$CSV" "$WARMUP_MIN" "$RSS_SLACK_MIB" "$FD_SLACK" "$work/rooms.json" \
    "$work/churn.json" <<'PY' || status=1
import csv, json, sys
path, warmup, rss_slack, fd_slack = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
rows = list(csv.DictReader(open(path)))
after = [r for r in rows if float(r["minute"]) >= warmup]
if len(after) < 2:
    print(f"soak: too few samples after the {warmup:g}-minute warm-up to judge growth")
    sys.exit(1)
base, rest = after[0], after[1:]
rss0, fd0 = int(base["rss_kib"]), int(base["fds"])
rss_max, fd_max = max(int(r["rss_kib"]) for r in rest), max(int(r["fds"]) for r in rest)
rss_grew = (rss_max - rss0) / 1024 > max(rss_slack, rss0 / 1024 * 0.05)
fd_grew = fd_max - fd0 > fd_slack
p99 = [float(r["probe_p99_us"]) for r in rows if r["probe_p99_us"]]
print(f"soak: after warm-up: RSS {rss0 / 1024:.1f} -> max {rss_max / 1024:.1f} MiB "
      f"({'GREW' if rss_grew else 'flat'}), fds {fd0} -> max {fd_max} "
      f"({'GREW' if fd_grew else 'flat'}); probe p99 latency "
      f"{min(p99, default=0):.0f}..{max(p99, default=0):.0f} us")
ok = not rss_grew and not fd_grew
for name in sys.argv[5:7]:
    try:
        r = json.load(open(name))
    except (OSError, ValueError):
        print(f"soak: no result from {name}")
        ok = False
        continue
    lat = r.get("latency_us", {})
    print(f"soak: {r.get('scenario')}: {r.get('joined')} joined, loss {r.get('loss', 0):.4%}, "
          f"p50 {lat.get('p50', 0):.0f} us, p99 {lat.get('p99', 0):.0f} us, joins "
          f"{r.get('joins', 0)}, resumes {r.get('resumes', 0)} "
          f"({r.get('resume_failures', 0)} failed), seq gaps {r.get('seq_gaps', 0)}: "
          f"{'PASS' if r.get('passed') else 'FAIL ' + str(r.get('verdict', ''))}")
    ok = ok and bool(r.get("passed"))
sys.exit(0 if ok else 1)
PY
echo "soak: $([[ $status == 0 ]] && echo PASS || echo FAIL) (samples in $CSV)"
exit "$status"
