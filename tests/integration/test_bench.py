"""chorus-bench against the real chorusd, briefly: the load generator and the server agree on
the protocol (no loss, no reorders, every control message seen) in each scenario it offers.
"""

import json
import os
import subprocess

import pytest

from harness import CHORUS_BENCH, T


def run_bench(server, tmp_path, scenario, *flags):
    if not os.access(CHORUS_BENCH, os.X_OK):
        pytest.skip(f"no chorus-bench at {CHORUS_BENCH} (set CHORUS_BENCH)")
    out = tmp_path / f"{scenario}.json"
    args = [CHORUS_BENCH, scenario, "--url", f"ws://127.0.0.1:{server.port}", "--quiet", "yes",
            "--max-loss", "0", "--json", str(out), *flags]
    proc = subprocess.run(args, stdin=subprocess.DEVNULL, capture_output=True, timeout=T(30))
    text = proc.stdout.decode(errors="replace") + proc.stderr.decode(errors="replace")
    assert proc.returncode == 0, f"{args} exited with {proc.returncode}:\n{text[-3000:]}"
    return json.loads(out.read_text())


@pytest.mark.deadline(40)
def test_bench_rooms(chorusd, tmp_path):
    server = chorusd()
    result = run_bench(server, tmp_path, "rooms", "--rooms", "5", "--members", "4",
                       "--speakers", "1", "--chat-rate", "2", "--whisper-rate", "1",
                       "--duration", "2s", "--ramp", "500ms", "--drain", "1s",
                       "--server-pid", str(server.proc.pid),
                       "--server-metrics", f"http://127.0.0.1:{server.port}/metrics")
    assert result["joined"] == result["connections"] == 20
    assert result["received"] == result["expected"] > 0
    assert result["loss"] == 0 and result["reorders"] == 0
    assert result["control_received"] == result["control_expected"]


@pytest.mark.deadline(40)
def test_bench_churn_with_resume(chorusd, tmp_path):
    server = chorusd("--resume-grace", "5s")
    result = run_bench(server, tmp_path, "churn", "--rooms", "2", "--members", "3",
                       "--churners", "2", "--churn-rate", "4", "--duration", "2s",
                       "--ramp", "500ms", "--drain", "1s")
    assert result["resume_failures"] == 0 and result["seq_gaps"] == 0
    assert result["resumes"] > 0


@pytest.mark.deadline(40)
def test_bench_echo(chorusd, tmp_path):
    server = chorusd("--echo-endpoint")
    result = run_bench(server, tmp_path, "echo", "--connections", "4", "--size", "1000",
                       "--depth", "4", "--duration", "1s", "--ramp", "200ms", "--drain", "500ms")
    assert result["loss"] == 0 and result["received"] > 0
