#!/usr/bin/env bash
# make test-stress: runs the integration suite STRESS_RUNS times while mixed load (CPU, memory,
# I/O and disk writes from stress-ng) runs beside it, the way a shared CI machine is busy. Every
# failure is reported with its test name and run; the exit status is non-zero if any run failed.
# With STRESS_BESIDE set, that command is the load instead (CI: the sanitizer and fuzz builds,
# a parallel compile in other build folders); it must succeed too. With STRESS_SUITE set, that
# command is what each run runs instead of the integration suite (CI: `make test`, the whole
# suite: unit, integration and web tests).
set -uo pipefail
cd "$(dirname "$0")/.."

runs=${STRESS_RUNS:-5}
build=${BUILD:-build}
python=${PYTHON:-/usr/bin/python3}
: "${CHORUSD:=$PWD/$build/chorusd}" "${CHORUS_BENCH:=$PWD/$build/chorus-bench}"
export CHORUSD CHORUS_BENCH
logs=$(mktemp -d /tmp/chorus-stress.XXXXXX)

if [ -n "${STRESS_BESIDE:-}" ]; then
    # A make of its own (not the jobserver of the make that runs this script).
    env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL bash -c "$STRESS_BESIDE" >"$logs/beside.log" 2>&1 &
    load=$!
    trap 'kill $load 2>/dev/null' EXIT
else
    command -v stress-ng >/dev/null || { echo "test-stress needs stress-ng (make deps)"; exit 2; }
    # The load outlives no run by much: it is stopped on exit, and its own timeout bounds it.
    stress-ng --cpu 2 --vm 1 --vm-bytes 512M --io 1 --hdd 1 --hdd-bytes 64M \
      --temp-path "$logs" --timeout "$((runs * 900))s" --quiet &
    load=$!
    trap 'kill $load 2>/dev/null; wait $load 2>/dev/null' EXIT
fi

# What names a failed test: pytest's summary lines, GoogleTest's and node's test runner's.
failure_lines='^(FAILED|ERROR) |^\[  FAILED  \] [A-Za-z]|^ *not ok '
failed_runs=0
for run in $(seq 1 "$runs"); do
    started=$SECONDS
    if [ -n "${STRESS_SUITE:-}" ]; then
        env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL bash -c "$STRESS_SUITE" >"$logs/run$run.log" 2>&1
    else
        "$python" -m pytest -q -p no:cacheprovider -rfE tests/integration >"$logs/run$run.log" 2>&1
    fi
    status=$?
    summary=$(tail -n 1 "$logs/run$run.log")
    echo "stress run $run/$runs: exit $status in $((SECONDS - started)) s: $summary"
    if [ $status -ne 0 ]; then
        failed_runs=$((failed_runs + 1))
        # The failed tests' names, or (a crash, a build error: no name) the end of the log.
        grep -E "$failure_lines" "$logs/run$run.log" | sed "s/^/  run $run: /" ||
            tail -n 30 "$logs/run$run.log" | sed "s/^/  run $run: /"
    fi
done

if [ -n "${STRESS_BESIDE:-}" ]; then
    echo "runs done; waiting for the load beside them: $STRESS_BESIDE"
    if ! wait $load; then
        tail -n 40 "$logs/beside.log"
        echo "the load beside the runs failed: $STRESS_BESIDE"
        exit 1
    fi
    trap - EXIT
fi

echo
echo "stress summary: $runs runs under load, $failed_runs with failures (logs in $logs)"
if [ $failed_runs -ne 0 ]; then
    echo "failing tests, with how many runs each failed in:"
    for log in "$logs"/run*.log; do  # each name once per run (GoogleTest lists it twice)
        grep -E "$failure_lines" "$log" | sed -E '/^(FAILED|ERROR) /s/ - .*//; s/ \([0-9]+ ms\)$//' |
            sort -u
    done | sort | uniq -c | sort -rn
    exit 1
fi
echo "$runs passed, 0 failed"
