"""Drain, exit and restart are one promise: a node started right after the old one exits, on the
same port, welcomes a join sent the moment its port accepts a TCP connection, every time (single
node and cluster). The port is probed as a load balancer's health check and the next client
probe it: a plain connect every 10 ms, the join sent on the first connection that succeeds,
never a log line. A Redis that is really down at start still gives the documented degraded
service (503 for joins, /healthz "degraded"), at once rather than after a wait.
"""

import socket
import time

import pytest

import wsclient
from cluster_harness import redis  # noqa: F401 (a fixture)
from cluster_harness import SECRET, RedisServer, healthz, port_below_ephemeral, wait_healthy
from harness import Server, T, check_refusal, room_path, uniq, welcome_of

RESTARTS = 30
POLL_S = 0.01  # the probe's interval between refused connects


def connect_when_open(server, deadline):
    """A plain TCP connect every POLL_S until one succeeds; returns the connected socket."""
    while True:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.connect(("127.0.0.1", server.port))
            return sock
        except ConnectionRefusedError:
            sock.close()
        server.check_alive()
        assert time.monotonic() < deadline, f"port {server.port} never accepted a connection"
        time.sleep(POLL_S)


def probe_join(server, room):
    """Sends a join on the first connection the port accepts; returns the client after its
    welcome, or fails with what came back instead."""
    sock = connect_when_open(server, time.monotonic() + T(30))
    hs = wsclient.Handshake(server.port, room_path(room, user="u"), sock=sock)
    c = server.finish(hs)
    assert isinstance(c, wsclient.WsClient), f"join refused: {c!r}"
    return welcome_of(c)


def restart_loop(flags, restarts=RESTARTS):
    """Starts chorusd on one port `restarts` times; each start is probed, joined, then stopped
    (SIGTERM, exit 0) before the next one starts. Fails listing every start that went wrong."""
    port = port_below_ephemeral()  # polling a closed ephemeral port could connect to itself
    failures = []
    for i in range(restarts):
        server = Server(flags, port=port, wait_ready=False)
        try:
            c = probe_join(server, uniq("restart"))
            assert c.welcome["member"] >= 1, c.welcome
        except (AssertionError, OSError) as e:
            failures.append(f"start {i}: {type(e).__name__}: {e}")
        try:
            server.stop()
        except AssertionError as e:
            failures.append(f"start {i}: stop: {e}")
    assert not failures, (f"{len(failures)} of {restarts} starts failed a join sent the moment "
                          f"the port accepted:\n" + "\n".join(failures))


@pytest.mark.deadline(240)
@pytest.mark.parametrize("io", ["auto", "epoll"])
def test_single_node_restarted_on_its_port_welcomes_the_first_connection(io):
    restart_loop(["--io", io])


@pytest.mark.deadline(240)
def test_cluster_node_restarted_on_its_port_welcomes_the_first_connection(redis):
    # Four shards: a start long enough that a probe would land between the port opening and the
    # first Redis connection if the node listened before it could serve.
    restart_loop(["--threads", "4", "--cluster-secret", SECRET, "--redis", redis.url,
                  "--node-id", "restarted", "--drain-timeout", "2s"])


@pytest.mark.deadline(60)
def test_node_started_while_redis_is_down_serves_degraded_then_recovers():
    redis_port = port_below_ephemeral()  # nothing listens there yet
    server = Server(["--cluster-secret", SECRET, "--redis", f"redis://127.0.0.1:{redis_port}"],
                    port=port_below_ephemeral(), wait_ready=False)
    redis_server = None
    try:
        # The first attempt is refused at once and the port opens: degraded, as documented.
        sock = connect_when_open(server, time.monotonic() + T(30))
        hs = wsclient.Handshake(server.port, room_path(uniq(), user="u"), sock=sock)
        check_refusal(server.finish(hs), 503, "overloaded")
        assert healthz(server) == (200, "degraded")

        redis_server = RedisServer(port=redis_port)
        wait_healthy(server, T(10))
        c = server.join(uniq(), user="u")
        assert c.welcome["member"] >= 1
    finally:
        server.stop()
        if redis_server is not None:
            redis_server.close()
