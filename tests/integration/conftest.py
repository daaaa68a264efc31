"""pytest fixtures for the chorusd integration tests: a per-test server factory, a per-module
shared server, and a hard per-test deadline (SIGALRM) so that no test can hang the suite.
"""

import signal

import pytest

from harness import LIVE_SERVERS, T, Server


class TestDeadline(Exception):
    pass


def pytest_configure(config):
    config.addinivalue_line("markers", "deadline(seconds): per-test time limit (default 30 s)")


@pytest.fixture(autouse=True)
def _deadline(request):
    marker = request.node.get_closest_marker("deadline")
    limit = T(marker.args[0] if marker else 30)

    def on_alarm(signum, frame):
        raise TestDeadline(f"{request.node.nodeid} ran past its {limit:.0f}s deadline")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, limit)
    yield
    signal.setitimer(signal.ITIMER_REAL, 0)
    signal.signal(signal.SIGALRM, previous)
    for server in list(LIVE_SERVERS):
        server.check_alive()


def _factory():
    servers = []

    def start(*flags, env=None):
        server = Server(flags, env=env)
        servers.append(server)
        return server

    def stop_all():
        failures = []
        for server in servers:
            try:
                server.stop()
            except AssertionError as e:
                failures.append(str(e))
        if failures:
            pytest.fail("chorusd teardown failed:\n" + "\n".join(failures), pytrace=False)

    return start, stop_all


@pytest.fixture
def chorusd():
    """chorusd(*flags) -> Server; every server is stopped and checked after the test."""
    start, stop_all = _factory()
    yield start
    stop_all()


@pytest.fixture(scope="module")
def chorusd_module():
    """Like chorusd, but the servers live for the whole test module."""
    start, stop_all = _factory()
    yield start
    stop_all()
