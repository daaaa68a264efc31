"""chorus-bench against the real server: a 3-second rooms scenario (two shards, so rooms are
handed off between cores) must finish with zero loss and zero reordering, and its --json must
carry the keys scripts compare; a run that cannot join must fail with a non-zero exit.
"""

import json
import os
import subprocess

import pytest

from harness import CHORUS_BENCH, T, metric

JSON_KEYS = ("scenario", "connections", "sent", "expected", "received", "loss", "reorders",
             "deliveries_per_sec", "latency_us", "handshake_us", "server")
PERCENTILE_KEYS = ("p50", "p90", "p99", "p999", "max")


def run_bench(args, timeout):
    if not os.access(CHORUS_BENCH, os.X_OK):
        pytest.fail(f"no chorus-bench binary at {CHORUS_BENCH} (set CHORUS_BENCH)", pytrace=False)
    return subprocess.run([CHORUS_BENCH] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=timeout, text=True)


@pytest.mark.deadline(60)
def test_rooms_scenario_has_no_loss_and_no_reordering(chorusd, tmp_path):
    server = chorusd()
    out = tmp_path / "rooms.json"
    result = run_bench(["rooms", "--url", f"ws://127.0.0.1:{server.port}", "--rooms", "8",
                        "--members", "10", "--speakers", "2", "--rate", "50", "--payload", "120",
                        "--chat-rate", "2", "--whisper-rate", "2", "--duration", "3s",
                        "--ramp", "500ms", "--drain", f"{T(3):.0f}s",
                        "--server-pid", str(server.proc.pid),
                        "--server-metrics", f"http://127.0.0.1:{server.port}/metrics",
                        "--json", str(out)], timeout=T(40))
    assert result.returncode == 0, f"chorus-bench failed:\n{result.stdout}\n{result.stderr}"
    report = json.loads(out.read_text())
    for key in JSON_KEYS:
        assert key in report, f"missing {key} in {report}"
    for key in PERCENTILE_KEYS:
        assert key in report["latency_us"] and key in report["handshake_us"]
    assert report["scenario"] == "rooms"
    assert report["connections"] == 80 and report["joined"] == 80
    # Each frame goes to the 9 other members. How many frames the paced speakers manage in 3 s
    # depends on the machine (a starved bench thread skips what fell due), so only "every
    # speaker spoke" is asserted; loss and order below are the correctness check.
    assert report["sent"] >= 8 * 2
    assert report["expected"] == report["sent"] * 9
    assert report["received"] == report["expected"]
    assert report["control_received"] == report["control_expected"] > 0
    assert report["loss"] == 0 and report["reorders"] == 0 and report["gaps"] == 0
    assert report["errors"] == 0 and report["failed"] == 0
    assert 0 < report["latency_us"]["p50"] <= report["latency_us"]["p99"]
    assert report["server"]["cpu_seconds"] > 0 and report["server"]["peak_rss_bytes"] > 0
    assert report["server_metrics"]["fanout"]["count"] >= report["sent"]
    assert report["passed"] is True


@pytest.mark.deadline(40)
def test_rooms_with_seats_sit_first_then_talk_with_levels(chorusd, tmp_path):
    server = chorusd()
    out = tmp_path / "seats.json"
    result = run_bench(["rooms", "--url", f"ws://127.0.0.1:{server.port}", "--rooms", "4",
                        "--members", "8", "--speakers", "3", "--seats", "4", "--rate", "50",
                        "--duration", "2s", "--ramp", "500ms", "--drain", f"{T(3):.0f}s",
                        "--json", str(out)], timeout=T(40))
    assert result.returncode == 0, f"chorus-bench failed:\n{result.stdout}\n{result.stderr}"
    report = json.loads(out.read_text())
    # No forbidden audio (every speaker sat before it talked), no seq gap over the seats events.
    assert report["errors"] == 0 and report["gaps"] == 0 and report["failed"] == 0
    assert report["sent"] >= 4 * 3
    assert report["received"] == report["expected"] == report["sent"] * 7
    assert report["passed"] is True
    assert metric(server, "chorus_audio_dropped_forbidden_total") == 0


def test_refused_joins_fail_the_run(chorusd, tmp_path):
    server = chorusd("--max-room-members", "3")
    out = tmp_path / "full.json"
    result = run_bench(["rooms", "--url", f"ws://127.0.0.1:{server.port}", "--rooms", "1",
                        "--members", "5", "--speakers", "1", "--duration", "1s", "--ramp", "0",
                        "--drain", "1s", "--json", str(out)], timeout=T(30))
    assert result.returncode == 1, result.stdout + result.stderr
    report = json.loads(out.read_text())
    assert report["failed"] == 2 and report["passed"] is False
    assert "409" in report["first_error"]


@pytest.mark.deadline(40)
def test_echo_scenario_round_trips(chorusd):
    server = chorusd("--echo-endpoint")
    result = run_bench(["echo", "--url", f"ws://127.0.0.1:{server.port}", "--connections", "8",
                        "--size", "200", "--depth", "4", "--duration", "1s", "--ramp", "0"],
                       timeout=T(30))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "PASS" in result.stdout


@pytest.mark.deadline(40)
def test_churn_scenario_resumes_and_keeps_seq(chorusd):
    server = chorusd()
    result = run_bench(["churn", "--url", f"ws://127.0.0.1:{server.port}", "--rooms", "3",
                        "--members", "4", "--churners", "6", "--churn-rate", "30",
                        "--duration", "2s", "--ramp", "0"], timeout=T(30))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "PASS" in result.stdout
