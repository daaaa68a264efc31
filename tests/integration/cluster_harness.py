"""Runs a Chorus cluster for the integration tests: private redis-server processes (own port,
no persistence unless asked), N chorusd nodes sharing them, an nginx balancer in front, and a
background reader that records everything a client receives until its connection ends.
Everything binds 127.0.0.1; every wait polls a socket or a condition with a deadline.
"""

import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

import pytest

import wsclient
from harness import LIVE_SERVERS, T, Server, http_request, metric, room_path, welcome_of  # noqa: F401

REDIS_SERVER = os.environ.get("REDIS_SERVER") or "/usr/bin/redis-server"
NGINX = os.environ.get("NGINX") or "/usr/sbin/nginx"
SECRET = "cluster-test-secret"


def require(binary, what):
    if not os.access(binary, os.X_OK):
        pytest.skip(f"{what} not installed ({binary}); the cluster tests need it")


def port_below_ephemeral():
    """A free port outside the kernel's ephemeral range. A client that reconnects in a loop to
    a stopped server on an ephemeral port can connect to itself (TCP simultaneous open) and then
    hold the port, so the restarted server could not bind it again."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    for _ in range(200):
        port = random.randint(max(1024, low - 12000), low - 1)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise AssertionError("no free port below the ephemeral range")


def wait_port(port, timeout, what, alive=None):
    """Waits until 127.0.0.1:port accepts a TCP connection."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            pass
        if alive is not None and not alive():
            raise AssertionError(f"{what} exited before its port {port} answered")
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not answer on port {port} in time")
        time.sleep(0.02)


# ---- Redis ----------------------------------------------------------------------------------
class RespError(Exception):
    pass


def resp_encode(args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        b = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(b), b))
    return b"".join(out)


class RespReader:
    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("redis closed the connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n):
        while len(self.buf) < n + 2:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("redis closed the connection")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n + 2 :]
        return data

    def read(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise RespError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self._exact(n)
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self.read() for _ in range(n)]
        raise RespError(f"unexpected RESP reply {line!r}")


def redis_command(port, *args, timeout=2.0, auth=()):
    """One command on a fresh connection (after AUTH *auth when given); returns the decoded
    reply (bytes for bulk strings)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        reader = RespReader(s)
        if auth:
            s.sendall(resp_encode(("AUTH",) + tuple(auth)))
            reader.read()
        s.sendall(resp_encode(args))
        return reader.read()


class RedisServer:
    """A private redis-server child on 127.0.0.1:<port>; its data lives in a temp dir."""

    def __init__(self, port=None, args=(), auth=()):
        """args: more redis-server flags (e.g. --requirepass); auth: what this harness sends
        to AUTH for its own commands (e.g. ("admin-password",))."""
        require(REDIS_SERVER, "redis-server")
        self.args = list(args)
        self.auth = tuple(auth)
        self.port = port or port_below_ephemeral()
        self.dir = tempfile.mkdtemp(prefix="chorus-redis-")
        self.proc = None
        self.start()

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}"

    def start(self):
        assert self.proc is None or self.proc.poll() is not None, "redis already running"
        self.log = open(os.path.join(self.dir, "redis.log"), "ab")
        self.proc = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", self.dir, "--dbfilename", "dump.rdb",
             "--daemonize", "no", "--protected-mode", "no"] + self.args,
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + T(10)
        while True:
            try:
                if redis_command(self.port, "PING", timeout=0.2, auth=self.auth) == "PONG":
                    return
            except (OSError, RespError, ConnectionError):
                pass
            if self.proc.poll() is not None:
                raise AssertionError(f"redis-server exited ({self.proc.returncode}):\n"
                                     f"{self.log_text()[-2000:]}")
            if time.monotonic() > deadline:
                self.kill()
                raise AssertionError(f"redis-server did not answer PING:\n{self.log_text()}")
            time.sleep(0.02)

    def log_text(self):
        try:
            with open(os.path.join(self.dir, "redis.log"), "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def _reap(self):
        self.proc.wait(T(10))
        self.log.close()

    def kill(self):
        """SIGKILL: what is in memory is gone (unless save() wrote it first)."""
        if self.running():
            self.proc.kill()
        if self.proc is not None:
            self._reap()

    def stop(self):
        if self.running():
            self.proc.terminate()
        if self.proc is not None:
            self._reap()

    def save(self):
        """Writes the data set to dump.rdb, which the next start loads."""
        assert self.command("SAVE") == "OK"

    def restart(self, keep_data=False):
        """Stops (SIGKILL) if running and starts again on the same port. keep_data=False starts
        empty; keep_data=True loads what the last save() wrote."""
        self.kill()
        if not keep_data:
            try:
                os.unlink(os.path.join(self.dir, "dump.rdb"))
            except FileNotFoundError:
                pass
        self.start()

    def close(self):
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)

    # ---- checks ------------------------------------------------------------------------------
    def command(self, *args):
        return redis_command(self.port, *args, auth=self.auth)

    def flushall(self):
        return self.command("FLUSHALL")

    def dbsize(self):
        return self.command("DBSIZE")

    def keys(self, pattern="*"):
        return sorted(k.decode() for k in self.command("KEYS", pattern))

    def info(self, section="clients"):
        out = {}
        for line in self.command("INFO", section).decode().splitlines():
            if ":" in line and not line.startswith("#"):
                k, v = line.split(":", 1)
                out[k] = v
        return out


class Partition:
    """A TCP relay between chorusd nodes and one Redis server that can cut the path without
    closing anything, as a network partition does: the cut begins as given bytes pass
    (cut_on()); while cut it reads nothing and opens nothing (the bytes in flight wait in the
    kernels, a new connection gets no answer), and heal() lets everything through again. Point
    a node at .url instead of the Redis server's."""

    def __init__(self, redis_port, delay=0.0, stall_every=0, stall=0.0):
        """delay: seconds each chunk waits before it is passed on (one way); stall_every: every
        n-th chunk (per direction) waits `stall` more, as TCP does when a segment is lost and
        retransmitted after its timeout (loss cannot reorder or drop bytes inside TCP)."""
        self.redis_port = redis_port
        self.delay, self.stall_every, self.stall = delay, stall_every, stall
        self.chunks = 0
        self.stalls = 0  # stalls emulated so far
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.port = port_below_ephemeral()
        self.listener.bind(("127.0.0.1", self.port))
        self.listener.listen(64)
        self.open = threading.Event()
        self.open.set()
        # heal(hold_old=True): connections made before it keep what they carry until
        # release_old(), as a connection whose bytes are stuck in a retransmission queue would.
        self.generation = 0
        self.held_below = 0
        self.old_released = threading.Event()
        self.old_released.set()
        self.marker = None  # cut_on()
        self.closing = False
        self.sockets = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}"

    def cut_on(self, marker):
        """Cuts the path the moment bytes holding `marker` pass (held there until the heal):
        a command is then on the wire when the cut begins, whatever the machine's speed."""
        self.marker = marker

    def heal(self, hold_old=False):
        if hold_old:
            self.old_released.clear()
            self.generation += 1
            self.held_below = self.generation
        self.open.set()

    def release_old(self):
        self.old_released.set()

    def _accept(self):
        while not self.closing:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._connect, args=(client,), daemon=True).start()

    def _connect(self, client):
        self.open.wait()
        if self.closing:
            client.close()
            return
        try:
            upstream = socket.create_connection(("127.0.0.1", self.redis_port), timeout=5)
        except OSError:
            client.close()
            return
        upstream.settimeout(None)
        with self.lock:
            self.sockets += [client, upstream]
            generation = self.generation
        for a, b in ((client, upstream), (upstream, client)):
            threading.Thread(target=self._pump, args=(a, b, generation), daemon=True).start()

    def _pump(self, source, sink, generation):
        tail = b""  # the end of the previous chunk, for a marker split between two
        try:
            while True:
                self.open.wait()
                data = source.recv(65536)
                if not data:
                    break
                marker = self.marker
                if marker is not None and marker in tail + data:
                    self.marker = None
                    self.open.clear()  # this chunk waits below with everything else
                tail = data[-64:]
                with self.lock:  # chunks are counted over all connections and directions
                    self.chunks += 1
                    stall = self.stall_every and self.chunks % self.stall_every == 0
                    self.stalls += 1 if stall else 0
                if self.delay:
                    time.sleep(self.delay)  # the emulated link's latency
                if stall:
                    time.sleep(self.stall)  # an emulated retransmission
                self.open.wait()  # cut while this was read: it waits, never lost
                if generation < self.held_below:
                    self.old_released.wait()
                sink.sendall(data)
        except OSError:
            pass
        for x in (source, sink):
            try:
                x.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self):
        self.closing = True
        self.open.set()
        self.old_released.set()
        self.listener.close()
        with self.lock:
            for x in self.sockets:
                x.close()


# ---- chorusd nodes --------------------------------------------------------------------------
class Cluster:
    """N chorusd nodes on one set of Redis servers. nodes[i] is a harness.Server (or None once
    killed or stopped); extra flags apply to every node."""

    def __init__(self, redis, n=3, flags=(), secret=SECRET, resume_grace="2s",
                 node_timeout="1s", drain_timeout="2s"):
        self.redis = redis if isinstance(redis, (list, tuple)) else [redis]
        self.secret = secret
        self.base = ["--cluster-secret", secret, "--resume-grace", resume_grace,
                     "--node-timeout", node_timeout, "--drain-timeout", drain_timeout]
        self.base += list(flags)
        for r in self.redis:
            self.base += ["--redis", r.url]
        self.nodes = []
        self.all = []
        self._next = 0
        for _ in range(n):
            self.add_node()

    def add_node(self, flags=()):
        """Starts one more node (a replacement gets a new node id and port)."""
        node_id = f"node{self._next}"
        self._next += 1
        server = Server(self.base + ["--node-id", node_id] + list(flags))
        server.node_id = node_id
        self.nodes.append(server)
        self.all.append(server)
        wait_healthy(server, T(10))
        return server

    def __getitem__(self, i):
        return self.nodes[i]

    def kill(self, i):
        """kill -9; the node's clients see their TCP connections reset."""
        server = self.nodes[i]
        server.proc.kill()
        server.proc.wait(T(5))
        self._forget(server)
        return server

    def sigterm(self, i):
        """Sends SIGTERM and returns at once; wait_exit() collects the exit status."""
        server = self.nodes[i]
        server.proc.send_signal(signal.SIGTERM)
        return server

    def wait_exit(self, server, timeout):
        """Waits for a node sent SIGTERM to exit on its own (a second signal could cut its
        drain short); returns (exit code, seconds waited)."""
        t0 = time.monotonic()
        try:
            rc = server.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            server.proc.kill()
            server.proc.wait()
            self._forget(server)
            raise AssertionError(f"{server.node_id} did not exit within {timeout:.0f}s of "
                                 f"SIGTERM\n{server.stderr_text()[-4000:]}") from None
        for t in server._readers:
            t.join(T(5))
        self._forget(server)
        return rc, time.monotonic() - t0

    def _forget(self, server):
        server.stopped = True
        if server in LIVE_SERVERS:
            LIVE_SERVERS.remove(server)

    def stop(self):
        failures = []
        for server in self.all:
            try:
                server.stop()
            except AssertionError as e:
                failures.append(f"{getattr(server, 'node_id', '?')}: {e}")
        return failures

    def logs(self):
        return "\n".join(f"---- {s.node_id} (port {s.port}) ----\n{s.stderr_text()[-3000:]}"
                         for s in self.all)


def healthz(server_or_port):
    """(HTTP status, body "status"); a body without one gives its text instead."""
    port = server_or_port if isinstance(server_or_port, int) else server_or_port.port
    r = http_request(port, "/healthz", timeout=2.0)
    try:
        status = r.json()["status"]
    except (ValueError, KeyError, TypeError):
        status = r.body.decode("utf-8", "replace")
    return r.status, status


def wait_healthy(server, timeout, want=(200, "ok")):
    """Polls /healthz until it answers `want` (a node is ready once its Redis link is up)."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            last = healthz(server)
        except (OSError, wsclient.WsError, ValueError) as e:
            last = repr(e)
        if last == want:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{getattr(server, 'node_id', server)}: /healthz is {last}, "
                                 f"waited for {want}\n{server.stderr_text()[-3000:]}")
        time.sleep(0.02)


# ---- clients --------------------------------------------------------------------------------
def join(server_or_port, room, user, **extra):
    """Joins directly on a node (a Server) or on any port (an int: nginx); returns the client
    with .welcome/.member/.seq set."""
    if isinstance(server_or_port, int):
        c = wsclient.connect(server_or_port, room_path(room, user=user, **extra))
        assert isinstance(c, wsclient.WsClient), f"join via port {server_or_port} refused: {c!r}"
        return welcome_of(c)
    return server_or_port.join(room, user=user, **extra)


LIVE_THREADS = []


def stop_collectors():
    """Stops every reader and pump thread before the sockets are closed under them (a closed fd
    number can be reused by the next socket, which the thread would then use)."""
    threads = list(LIVE_THREADS)
    LIVE_THREADS.clear()
    for t in threads:
        t._halt = True
    for t in threads:
        t.join(T(5))


class Pump(threading.Thread):
    """Sends numbered room audio frames (a 4-byte counter) from one client until finished."""

    def __init__(self, client, every=0.01):
        super().__init__(daemon=True)
        self.client, self.every, self.sent = client, every, 0
        self._halt = False
        self.error = None
        LIVE_THREADS.append(self)
        self.start()

    def run(self):
        while not self._halt:
            try:
                self.client.send_binary(bytes([1]) + self.sent.to_bytes(4, "big"))
            except (OSError, wsclient.WsError) as e:
                self.error = e
                return
            self.sent += 1
            time.sleep(self.every)  # the pacing of the audio, not a wait for an event

    def finish(self):
        self._halt = True
        self.join(T(5))
        assert self.error is None, f"audio pump failed: {self.error!r}"


class Collector(threading.Thread):
    """Records everything one client receives, until its close frame or EOF.

    texts: parsed JSON objects in arrival order; audio: (op, from, payload) tuples;
    close: (code, reason) once a close frame came; ended: True once the connection is over."""

    def __init__(self, client, name=""):
        super().__init__(daemon=True, name=f"collector-{name}")
        self.client = client
        self.cname = name
        self.texts = []
        self.audio = []
        self.close = None
        self.ended = False
        self.lost = None
        self.error = None
        self.cond = threading.Condition()
        self._halt = False
        LIVE_THREADS.append(self)
        self.start()

    def run(self):
        try:
            while not self._halt:
                try:
                    m = self.client.recv_msg(timeout=0.2)
                except wsclient.Timeout:
                    continue
                except wsclient.ConnectionLost as e:
                    with self.cond:
                        self.lost = str(e)
                        self.ended = True
                        self.cond.notify_all()
                    return
                with self.cond:
                    if m[0] == "text":
                        self.texts.append(json.loads(m[1]))
                    elif m[0] == "binary":
                        data = m[1]
                        self.audio.append((data[0], int.from_bytes(data[1:5], "big"), data[5:]))
                    elif m[0] == "close":
                        self.close = (m[1], m[2])
                        self.ended = True
                    self.cond.notify_all()
                if m[0] == "close":
                    try:
                        self.client.expect_eof(T(2))
                    except wsclient.WsError:
                        pass
                    self.client.sock.close()
                    return
        except Exception as e:  # reported by wait()
            with self.cond:
                self.error = e
                self.ended = True
                self.cond.notify_all()

    def wait(self, predicate, timeout, what):
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                value = predicate(self)
                if value:
                    return value
                if self.error is not None:
                    raise AssertionError(f"{self.cname}: reader failed waiting for {what}: "
                                         f"{self.error!r}")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"{self.cname}: timed out waiting for {what}; "
                                         f"texts so far: {self.texts[-10:]}")
                self.cond.wait(remaining)

    def wait_end(self, timeout):
        return self.wait(lambda s: s.ended, timeout, "the connection to end")

    def of_type(self, type_):
        with self.cond:
            return [t for t in self.texts if t.get("type") == type_]

    def wait_text(self, pred, timeout, what):
        """The first text object matching pred."""
        def find(s):
            for t in s.texts:
                if pred(t):
                    return t
            return None
        return self.wait(find, timeout, what)

    def seqd(self):
        """The seq'd events received, in arrival order."""
        with self.cond:
            return [t for t in self.texts if "seq" in t and t.get("type") != "welcome"]

    def audio_from(self, member, op=1):
        with self.cond:
            return [p for (o, f, p) in self.audio if f == member and o == op]

    def poll(self, predicate, timeout):
        """Like wait(), but returns False at the deadline instead of failing."""
        try:
            return self.wait(predicate, timeout, "poll")
        except AssertionError:
            if self.error is not None:
                raise
            return False

    def abort(self):
        """Stops reading, then drops the TCP connection without a close frame."""
        self._halt = True
        self.join(T(5))
        self.client.abort()

    def finish(self):
        self._halt = True
        self.join(T(5))
        if self.error is not None:
            raise self.error


def event_key(e):
    """What every member must agree on about one seq'd event."""
    return (e["seq"], e["type"], e.get("member"), e.get("from"), e.get("text"), e.get("reason"),
            e.get("muted"))


def assert_consecutive(seqs, first, who):
    assert seqs == list(range(first, first + len(seqs))), \
        f"{who}: seqs not consecutive from {first}: {seqs}"


# ---- nginx ----------------------------------------------------------------------------------
NGINX_CONF = """\
{user}
worker_processes 1;
daemon off;
master_process on;
pid {dir}/nginx.pid;
error_log {dir}/error.log info;
events {{ worker_connections 512; }}
http {{
    access_log {dir}/access.log;
    client_body_temp_path {dir}/client_body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    map $http_upgrade $connection_upgrade {{
        default upgrade;
        ''      close;
    }}
{room_map}
    upstream chorus {{
        {balance}
{servers}
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://chorus;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_next_upstream error timeout http_503;
            proxy_next_upstream_tries 3;
            proxy_connect_timeout 2s;
            proxy_read_timeout 1h;
            proxy_send_timeout 1h;
            proxy_buffering off;
        }}
    }}
}}
"""


SHIPPED_NGINX_CONF = os.path.join(os.path.dirname(__file__), "..", "..", "deploy", "nginx.conf")


def shipped_balancing():
    """The room map block and the balancing line of deploy/nginx.conf, so that the tests run
    the room affinity that ships (not a copy of it)."""
    with open(SHIPPED_NGINX_CONF) as f:
        text = f.read()
    room_map = re.search(r"^    map \$uri \$chorus_room \{\n.*?^    \}\n", text, re.M | re.S)
    balance = re.search(r"^        (hash \$chorus_room consistent;|least_conn;)$", text, re.M)
    assert room_map and balance, "deploy/nginx.conf lost its room map or its balancing line"
    return room_map.group(0), balance.group(1)


class Nginx:
    """An nginx balancer over the given chorusd ports, run from a temp dir (no /etc/nginx).
    balance: "shipped" (deploy/nginx.conf's room affinity) or an nginx balancing directive."""

    def __init__(self, upstream_ports, balance="shipped"):
        require(NGINX, "nginx")
        room_map, shipped = shipped_balancing()
        balance = shipped if balance == "shipped" else balance
        self.dir = tempfile.mkdtemp(prefix="chorus-nginx-")
        self.port = port_below_ephemeral()
        servers = "\n".join(f"        server 127.0.0.1:{p} max_fails=1 fail_timeout=30s;"
                            for p in upstream_ports)
        user = "user root root;" if os.geteuid() == 0 else ""
        self.conf = os.path.join(self.dir, "nginx.conf")
        with open(self.conf, "w") as f:
            f.write(NGINX_CONF.format(user=user, dir=self.dir, port=self.port, servers=servers,
                                      room_map=room_map, balance=balance))
        self.proc = subprocess.Popen(
            [NGINX, "-p", self.dir + "/", "-c", self.conf, "-e", os.path.join(self.dir,
                                                                             "error.log")],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            wait_port(self.port, T(10), "nginx", alive=lambda: self.proc.poll() is None)
        except AssertionError as e:
            self.stop()
            raise AssertionError(f"{e}\n{self.error_log()}") from None

    def error_log(self):
        try:
            with open(os.path.join(self.dir, "error.log")) as f:
                return f.read()
        except OSError:
            return ""

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()  # fast shutdown: open WebSockets are not waited for
            try:
                self.proc.wait(T(5))
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stderr:
            self.proc.stderr.close()
        shutil.rmtree(self.dir, ignore_errors=True)


# ---- fixtures shared by the cluster test modules ----------------------------------------------
@pytest.fixture
def redis():
    """A private redis-server for one test."""
    r = RedisServer()
    yield r
    r.close()


def cluster_fixture(default_nodes):
    """A `cluster` fixture: cluster(n, **kw) -> Cluster on the test's Redis; every node is stopped
    and checked (exit 0, no sanitizer report) after the test, except the ones the test killed."""

    @pytest.fixture
    def cluster(redis):
        made = []

        def make(n=default_nodes, **kw):
            c = Cluster(redis, n, **kw)
            made.append(c)
            return c

        yield make
        stop_collectors()
        failures = [f for c in made for f in c.stop()]
        if failures:
            pytest.fail("chorusd node teardown failed:\n" + "\n".join(failures), pytrace=False)

    return cluster


def nginx_fixture():
    """An `nginx` fixture: nginx(ports, **kw) -> Nginx in front of those ports; every reader
    and nginx are stopped after the test (before the nodes, which the cluster fixture stops)."""

    @pytest.fixture
    def nginx(cluster):
        made = []

        def make(ports, **kw):
            lb = Nginx(ports, **kw)
            made.append(lb)
            return lb

        yield make
        stop_collectors()
        for lb in made:
            lb.stop()

    return nginx


def wait_chat(col, text, timeout=None):
    return col.wait_text(lambda t: t.get("type") == "chat" and t.get("text") == text,
                         timeout or T(5), f"chat {text!r}")
