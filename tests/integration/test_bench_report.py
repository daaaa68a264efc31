"""chorus-bench --report and the ladder against the real server: the HTML page a short rooms run
writes is one self-contained document (no script, no fetched resource, a CSP that forbids
fetching) with its SVG charts and the run's numbers, and its --json is strict JSON; echo runs get
their latency charts and a note where the server's stages were not read; ladder-report and
bench/ladder.sh turn steps into one page, and refuse input that is not a step.
"""

import json
import os
import re
import subprocess

import pytest

from harness import CHORUS_BENCH, CHORUSD, REPO, T

FORBIDDEN = ("<script", "src=", "href=", "url(", "@import", "<link", "<iframe", "<img")


def run_bench(args, timeout):
    if not os.access(CHORUS_BENCH, os.X_OK):
        pytest.fail(f"no chorus-bench binary at {CHORUS_BENCH} (set CHORUS_BENCH)", pytrace=False)
    return subprocess.run([CHORUS_BENCH] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=timeout, text=True)


def strict_json(path):
    def refuse(name):
        raise ValueError(f"{path} holds {name}, which is not JSON")
    return json.loads(path.read_text(), parse_constant=refuse)


def visible_text(html):
    """The page without its tags and without the command line (which names the server's URL)."""
    html = re.sub(r"<code>.*?</code>", "", html, flags=re.S)
    return re.sub(r"<[^>]+>", " ", html)


def check_self_contained(html):
    assert html.startswith("<!doctype html>"), html[:80]
    assert html.rstrip().endswith("</html>")
    assert "Content-Security-Policy\" content=\"default-src 'none'" in html
    for forbidden in FORBIDDEN:
        assert forbidden not in html, forbidden
    # A URL may only appear as text inside the command line, never in markup or styles.
    outside_code = re.sub(r"<code>.*?</code>", "", html, flags=re.S)
    assert "http://" not in outside_code and "https://" not in outside_code
    assert not re.search(r"\b(nan|inf|infinity)\b", html, re.I)
    assert html.count("<svg ") == html.count("</svg>")
    assert html.count("<section>") == html.count("</section>")


@pytest.mark.deadline(90)
def test_rooms_report_is_one_self_contained_page(chorusd, tmp_path):
    server = chorusd()
    page, data = tmp_path / "rooms.html", tmp_path / "rooms<&>.json"  # shown escaped
    result = run_bench(["rooms", "--url", f"ws://127.0.0.1:{server.port}", "--rooms", "6",
                        "--members", "8", "--speakers", "2", "--rate", "50", "--payload", "120",
                        "--duration", "3s", "--ramp", "500ms", "--drain", f"{T(3):.0f}s",
                        "--server-pid", str(server.proc.pid),
                        "--server-metrics", f"http://127.0.0.1:{server.port}/metrics",
                        "--json", str(data), "--report", str(page)],
                       timeout=T(60))
    assert result.returncode == 0, f"chorus-bench failed:\n{result.stdout}\n{result.stderr}"
    report = strict_json(data)
    assert report["load"] == {"rooms": 6, "members": 8, "speakers": 2, "rate": 50,
                              "payload_bytes": 120, "duration_seconds": 3}
    assert report["command"].startswith("chorus-bench rooms --url ws://127.0.0.1:")
    html = page.read_text()
    check_self_contained(html)
    # Latency over time, distribution, deliveries per second, CPU, server stages.
    assert html.count("<svg ") == 5, html
    for title in ("End-to-end latency percentiles per time bucket",
                  "Distribution of end-to-end latency", "Deliveries per second",
                  "CPU use over time", "Server stages: share of samples"):
        assert f"<title>{title}" in html, title
    text = visible_text(html)
    assert "48 of 48 joined" in text
    assert f"{report['expected']} / {report['received']}" in text
    assert "PASS" in text
    assert "rooms&lt;&amp;&gt;.json" in html and "rooms<&>" not in html
    assert "No receiver saw a gap" in text  # zero loss: a note, not an empty chart
    # The line charts draw a point per second of the 3-second window that saw deliveries (a
    # stalled machine may leave a second empty), plus the drain's seconds that had stragglers.
    latency_svg = html.split("<title>End-to-end latency percentiles")[1].split("</svg>")[0]
    first_path = re.search(r'<path d="([^"]+)"', latency_svg).group(1)
    points = first_path.count("M") + first_path.count(" L")
    assert 2 <= points <= 4 + T(3), first_path


@pytest.mark.deadline(60)
def test_echo_report_has_latency_and_says_what_is_missing(chorusd, tmp_path):
    server = chorusd("--echo-endpoint")
    page = tmp_path / "echo.html"
    result = run_bench(["echo", "--url", f"ws://127.0.0.1:{server.port}", "--connections", "8",
                        "--depth", "2", "--duration", "2s", "--ramp", "0", "--report", str(page)],
                       timeout=T(40))
    assert result.returncode == 0, result.stdout + result.stderr
    html = page.read_text()
    check_self_contained(html)
    assert "<title>End-to-end latency percentiles per time bucket" in html
    assert "<title>Distribution of end-to-end latency" in html
    assert "pass --server-metrics" in html
    assert "pass --server-pid PID" in html


def write_step(path, rooms, p99, server=True):
    step = {"scenario": "rooms", "connections": rooms * 50, "command": f"chorus-bench rooms "
            f"--rooms {rooms}", "load": {"rooms": rooms}, "loss": 0, "window_seconds": 10,
            "deliveries_per_sec": rooms * 4900, "bench_cpu_seconds": rooms / 20,
            "latency_us": {"p50": 300, "p99": p99, "max": p99 * 3}, "passed": True,
            "verdict": "ok"}
    if server:
        step["server"] = {"cpu_seconds": rooms / 15, "deliveries_per_cpu_second": 250000}
    path.write_text(json.dumps(step))
    return str(path)


@pytest.mark.deadline(30)
def test_ladder_report_draws_steps_and_refuses_bad_input(tmp_path):
    steps = [write_step(tmp_path / f"s{r}.json", r, 1000 + r * 10) for r in (40, 10, 20)]
    page = tmp_path / "ladder.html"
    result = run_bench(["ladder-report", *steps, "--report", str(page), "--title", "t<1>"],
                       timeout=T(20))
    assert result.returncode == 0, result.stderr
    html = page.read_text()
    check_self_contained(html)
    assert html.count("<svg ") == 4
    assert "3 steps" in html and "t&lt;1&gt;" in html
    rows = re.findall(r'<tr><td class="num">(\d+)<', html)
    assert rows == ["10", "20", "40"]
    (tmp_path / "bad.json").write_text('{"scenario": "rooms", "latency_us": {"p99": inf}}')
    result = run_bench(["ladder-report", steps[0], str(tmp_path / "bad.json"), "--report",
                        str(tmp_path / "never.html")], timeout=T(20))
    assert result.returncode == 2
    assert "bad.json" in result.stderr
    assert not (tmp_path / "never.html").exists()
    result = run_bench(["ladder-report", str(tmp_path / "missing.json"), "--report",
                        str(page)], timeout=T(20))
    assert result.returncode == 2 and "cannot read" in result.stderr
    result = run_bench(["ladder-report", steps[0]], timeout=T(20))
    assert result.returncode == 2 and "usage" in result.stderr


@pytest.mark.deadline(120)
def test_ladder_script_runs_steps_against_chorusd(tmp_path):
    out = tmp_path / "ladder"
    env = dict(os.environ, CHORUSD=CHORUSD, CHORUS_BENCH=CHORUS_BENCH, LADDER_ROOMS="1,2",
               LADDER_DURATION="1s", LADDER_ARGS=f"--ramp 200ms --drain {T(3):.0f}s",
               LADDER_OUT=str(out), SERVER_ARGS="--max-seats 8")
    result = subprocess.run(["bash", os.path.join(REPO, "bench", "ladder.sh")], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            timeout=T(100))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ladder: 1 rooms:" in result.stdout and "ladder: 2 rooms:" in result.stdout
    for rooms in (1, 2):
        step = strict_json(out / f"step-{rooms:04d}.json")
        assert step["load"]["rooms"] == rooms and step["passed"] is True
        assert step["server"]["cpu_seconds"] >= 0
    html = (tmp_path / "ladder.html").read_text()
    check_self_contained(html)
    assert html.count("<svg ") == 4
    assert "--max-seats 8" in html  # the server's flags, in the subtitle
