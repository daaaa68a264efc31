"""Runs the real chorusd for the integration tests and talks to it: start on a free loopback
port, wait for the readiness line, stop with SIGTERM and check the exit status and sanitizer
output; plus helpers to join rooms, make JWTs and issue raw HTTP requests.
"""

import base64
import hashlib
import hmac
import itertools
import json
import os
import re
import signal
import socket
import ssl
import subprocess
import threading
import time
import urllib.parse

import wsclient
from wsclient import SCALE, HttpResponse

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CHORUSD = os.environ.get("CHORUSD") or os.path.join(REPO, "build", "chorusd")
CHORUS_BENCH = os.environ.get("CHORUS_BENCH") or os.path.join(REPO, "build", "chorus-bench")
SANITIZED = os.environ.get("CHORUS_SANITIZED") == "1"
READY_RE = re.compile(r"^chorusd: ready on (\S+)")
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                     "WARNING: ThreadSanitizer")
RESUME_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]+$")
MEMBER_MAX = 2**32 - 1

_names = itertools.count(1)
LIVE_SERVERS = []  # checked after every test, so that a crash is blamed on the test that saw it


def T(seconds):
    """A timeout scaled for sanitizer builds."""
    return seconds * SCALE


def uniq(prefix="r"):
    """A room or user id unique within this test run."""
    return f"{prefix}{next(_names)}-{os.urandom(3).hex()}"


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def quote(value):
    return urllib.parse.quote(value, safe="")


def room_path(room, user=None, name=None, token=None, **extra):
    """/v1/rooms/{room}?user=..&name=..; values are percent-encoded, None values left out."""
    query = []
    for key, value in (("user", user), ("name", name), ("token", token)):
        if value is not None:
            query.append(f"{key}={quote(value)}")
    for key, value in extra.items():
        if value is not None:
            query.append(f"{key}={quote(str(value))}")
    return f"/v1/rooms/{room}" + ("?" + "&".join(query) if query else "")


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_jwt(secret, claims, alg="HS256", header=None, signature=None):
    """An HS256 JWT; alg/header/signature let tests forge bad ones."""
    head = header if header is not None else {"alg": alg, "typ": "JWT"}
    signing_input = b64url(json.dumps(head).encode()) + "." + b64url(json.dumps(claims).encode())
    if signature is None:
        digest = {"HS256": hashlib.sha256, "HS512": hashlib.sha512}.get(alg)
        sig = hmac.new(secret.encode(), signing_input.encode(), digest).digest() if digest else b""
        signature = b64url(sig)
    return signing_input + "." + signature


def http_request(port, path, headers=None, method="GET", timeout=None, raw=None):
    """One raw HTTP/1.1 request on a fresh socket; returns an HttpResponse."""
    timeout = timeout if timeout is not None else wsclient.DEFAULT_TIMEOUT
    fields = {"Host": f"127.0.0.1:{port}", "Connection": "close"}
    fields.update(headers or {})
    request = raw if raw is not None else (
        f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in fields.items())
        + "\r\n").encode("latin-1")
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(request)
        deadline = time.monotonic() + timeout
        response, _ = wsclient.read_http_response(s, b"", deadline, expect_eof=True)
        return response


def check_refusal(response, status, code):
    """Every refusal: the status, a JSON {"error","message"} body and Connection: close."""
    assert isinstance(response, HttpResponse), "expected a refusal, got an open WebSocket"
    assert response.status == status, f"expected {status}, got {response!r}"
    body = response.json()
    assert body.get("error") == code, f"expected error {code!r}, got {body!r}"
    assert isinstance(body.get("message"), str) and body["message"], body
    assert "close" in response.header_tokens("connection"), response.headers
    assert response.closed_after, "server kept the socket open after a refusal"
    return body


class Server:
    """One chorusd process on 127.0.0.1:<free port>, or on `port`. With wait_ready=False the
    constructor returns as soon as the process runs: the test observes readiness itself (the
    port answering, as a load balancer does)."""

    def __init__(self, flags=(), env=None, port=None, wait_ready=True):
        self.flags = list(flags)
        if "--threads" not in self.flags:
            self.flags = ["--threads", "2"] + self.flags
        self.clients = []
        self.stopped = False
        self.wait_ready = wait_ready
        for attempt in range(3):
            if self._start(env, port):
                LIVE_SERVERS.append(self)
                return
        raise AssertionError(f"chorusd did not start: {self.args}\n{self.stderr_text()}")

    def _start(self, env, port):
        if not os.access(CHORUSD, os.X_OK):
            raise AssertionError(f"no chorusd binary at {CHORUSD} (set CHORUSD)")
        self.port = port or free_port()
        self.args = [CHORUSD, "--listen", f"127.0.0.1:{self.port}"] + self.flags
        self._lines = []
        self._line_times = []  # when each line arrived (time.monotonic())
        self._cond = threading.Condition()
        self.proc = subprocess.Popen(self.args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=env)
        self._readers = [threading.Thread(target=self._pump, args=(self.proc.stderr, True),
                                          daemon=True),
                         threading.Thread(target=self._pump, args=(self.proc.stdout, False),
                                          daemon=True)]
        for t in self._readers:
            t.start()
        if not self.wait_ready:
            return True
        deadline = time.monotonic() + T(10)
        with self._cond:
            while True:
                ready = [l for l in self._lines if READY_RE.match(l)]
                if ready:
                    self.ready_line = ready[0]
                    assert f":{self.port}" in ready[0], ready[0]
                    return True
                if self.proc.poll() is not None:
                    if "in use" in self.stderr_text().lower():
                        return False  # lost the race for the port: try another
                    raise AssertionError(f"chorusd exited with {self.proc.returncode} before "
                                         f"ready: {self.args}\n{self.stderr_text()}")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    self.proc.kill()
                    self.proc.wait()
                    raise AssertionError(f"chorusd not ready in time: {self.args}\n"
                                         f"{self.stderr_text()}")
                self._cond.wait(min(remaining, 0.5))

    def _pump(self, stream, is_stderr):
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\n")
            with self._cond:
                self._lines.append(line if is_stderr else "[stdout] " + line)
                self._line_times.append(time.monotonic())
                self._cond.notify_all()

    def stderr_since(self, t0):
        """The lines that arrived after time.monotonic() `t0`, each with its offset from it."""
        with self._cond:
            return "\n".join(f"+{at - t0:.3f}s {line}"
                             for line, at in zip(self._lines, self._line_times) if at >= t0)

    def thread_states(self):
        """Each thread of the process: name, state and the kernel function it sleeps in (for a
        process that does not exit: where it hangs)."""
        out = []
        try:
            for tid in sorted(os.listdir(f"/proc/{self.proc.pid}/task"), key=int):
                base = f"/proc/{self.proc.pid}/task/{tid}"
                try:
                    with open(f"{base}/comm") as f:
                        name = f.read().strip()
                    with open(f"{base}/stat") as f:
                        state = f.read().rsplit(")", 1)[1].split()[0]
                    with open(f"{base}/wchan") as f:
                        wchan = f.read().strip()
                except OSError:
                    continue
                out.append(f"  {tid} {name} {state} {wchan}")
        except OSError as e:
            out.append(f"  (cannot read /proc: {e})")
        return "\n".join(out) or "  (none left)"

    def stderr_text(self):
        with self._cond:
            return "\n".join(self._lines)

    # ---- lifecycle ------------------------------------------------------------------------
    def terminate(self, timeout=None):
        """SIGTERM, then waits; returns (exit code, seconds taken). The default wait is longer
        than the default --drain-timeout (10 s), the promise a drain keeps; tests of a prompt
        exit pass their own."""
        t0 = time.monotonic()
        timeout = timeout if timeout is not None else T(15)
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            where = self.thread_states()
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"chorusd did not exit within {timeout}s of SIGTERM; its "
                                 f"threads then:\n{where}\nstderr, seconds after SIGTERM:\n"
                                 f"{self.stderr_since(t0)[-4000:]}")
        for t in self._readers:
            t.join(T(5))
        return rc, time.monotonic() - t0

    def stop(self):
        """Teardown: drops the clients, SIGTERM, asserts exit 0 and a sanitizer-clean stderr."""
        if self.stopped:
            return
        self.stopped = True
        if self in LIVE_SERVERS:
            LIVE_SERVERS.remove(self)
        for c in self.clients:
            try:
                c.sock.close()
            except OSError:
                pass
        rc, _ = self.terminate()
        self.check_clean(rc)

    def check_alive(self):
        """Fails (once) when the process has died on its own."""
        rc = self.proc.poll()
        if rc is None or self.stopped:
            return
        self.stopped = True
        LIVE_SERVERS.remove(self)
        for t in self._readers:
            t.join(T(5))
        raise AssertionError(f"chorusd died (exit {rc}) during this test: {self.args}\n"
                             f"{self.stderr_text()[-6000:]}")

    def check_clean(self, rc):
        text = self.stderr_text()
        for marker in SANITIZER_MARKERS:
            assert marker not in text, f"sanitizer report in chorusd stderr:\n{text[-8000:]}"
        assert rc == 0, f"chorusd exited with {rc}\n{text[-4000:]}"

    # ---- clients --------------------------------------------------------------------------
    def handshake(self, path, **kw):
        return wsclient.Handshake(self.port, path, **kw)

    def finish(self, hs):
        result = hs.finish()
        if isinstance(result, wsclient.WsClient):
            self.clients.append(result)
        return result

    def connect(self, path, **kw):
        """WsClient or the HttpResponse of a refusal."""
        return self.finish(self.handshake(path, **kw))

    def ws(self, path, **kw):
        c = self.connect(path, **kw)
        assert isinstance(c, wsclient.WsClient), f"upgrade refused for {path}: {c!r}"
        return c

    def refused(self, path, **kw):
        r = self.connect(path, **kw)
        assert isinstance(r, HttpResponse), f"upgrade for {path} was accepted"
        return r

    def join(self, room, user=None, name=None, token=None, **kw):
        """Joins a room and reads the welcome; returns the client with .welcome and .member."""
        extra = {k: kw.pop(k) for k in ("resume", "last_seq", "admin") if k in kw}
        c = self.ws(room_path(room, user=user, name=name, token=token, **extra), **kw)
        return welcome_of(c)

    def join_many(self, room, users, **kw):
        """Opens all handshakes at once, then reads every welcome (concurrent joins)."""
        pending = [self.handshake(room_path(room, user=u), **kw) for u in users]
        clients = []
        for hs in pending:
            c = self.finish(hs)
            assert isinstance(c, wsclient.WsClient), f"join refused: {c!r}"
            clients.append(welcome_of(c))
        return clients

    def http(self, path, headers=None, **kw):
        return http_request(self.port, path, headers=headers, **kw)

    def rooms(self, headers=None, path="/v1/rooms"):
        r = self.http(path, headers=headers)
        assert r.status == 200, r
        return {e["room"]: e["members"] for e in r.json()["rooms"]}


def welcome_of(c):
    w = c.recv_json("welcome")
    c.welcome = w
    c.member = w["member"]
    c.seq = w["seq"]
    return c


def wait_until(predicate, timeout, what):
    """Polls a cheap server-side query until it holds (for states no event announces)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def metric(server, name):
    """The value of a metric (summed over label sets), or None when absent."""
    r = server.http("/metrics")
    assert r.status == 200, r
    total, seen = 0.0, False
    for line in r.text().splitlines():
        if line.startswith("#"):
            continue
        key, _, value = line.rpartition(" ")
        if key == name or key.startswith(name + "{"):
            total += float(value)
            seen = True
    return total if seen else None


def wait_sessions(server, count):
    """Waits until the server holds `count` WebSocket sessions. No protocol event announces that
    a member whose TCP connection dropped is away (held whispers need that), but the session
    gauge falls once the server has seen the drop: poll it instead of sleeping."""
    wait_until(lambda: metric(server, "chorus_websocket_sessions") == count, T(10),
               f"{count} open WebSocket sessions")


def audio(op, member, payload):
    return bytes([op]) + member.to_bytes(4, "big") + payload


def assert_fields(obj, expected):
    """obj carries every key of expected with that value (extra keys are allowed)."""
    wrong = {k: obj.get(k, "<absent>") for k, v in expected.items()
             if k not in obj or obj[k] != v or type(obj[k]) is not type(v)}
    assert not wrong, f"{obj!r}: wrong fields {wrong}, expected {expected}"


def barrier(client, t="sync"):
    """Sends a ping and returns every message received before its pong, in order. A client's
    messages are handled in order, so whatever they caused for this client comes before."""
    client.send_json({"type": "ping", "t": t})
    before = []
    while True:
        m = client.recv_msg()
        if m[0] == "text":
            obj = json.loads(m[1])
            if obj.get("type") == "pong" and obj.get("t") == t:
                return before
        before.append(m)


def errors_in(messages):
    """The codes of messages that must all be error objects."""
    codes = []
    for m in messages:
        assert m[0] == "text", f"expected only error messages, got {m!r}"
        obj = json.loads(m[1])
        assert obj.get("type") == "error", f"expected only error messages, got {obj!r}"
        assert isinstance(obj.get("message"), str), obj
        codes.append(obj.get("code"))
    return codes


class Reader(threading.Thread):
    """Drains a client in the background, keeping binary frames and parsed text events."""

    def __init__(self, client):
        super().__init__(daemon=True)
        self.client = client
        self.binary = []
        self.events = []
        self.event_times = []  # per event: its socket's last receipt time, if it records one
        self.error = None
        self.cond = threading.Condition()
        self.stop = False

    def run(self):
        try:
            while not self.stop:
                try:
                    m = self.client.recv_msg(timeout=0.2)
                except wsclient.Timeout:  # lets the loop look at self.stop
                    continue
                with self.cond:
                    if m[0] == "binary":
                        self.binary.append(m[1])
                    elif m[0] == "text":
                        self.events.append(json.loads(m[1]))
                        self.event_times.append(getattr(self.client.sock, "received", (None,))[0])
                    else:
                        self.events.append({"type": "<" + m[0] + ">", "raw": m})
                        self.event_times.append(getattr(self.client.sock, "received", (None,))[0])
                    self.cond.notify_all()
        except Exception as e:  # reported by wait_for / finish
            with self.cond:
                self.error = e
                self.cond.notify_all()

    def wait_for(self, predicate, timeout, what):
        deadline = time.monotonic() + timeout
        with self.cond:
            while not predicate(self):
                if self.error is not None:
                    raise AssertionError(f"reader failed while waiting for {what}: {self.error}")
                remaining = deadline - time.monotonic()
                assert remaining > 0, f"timed out waiting for {what}"
                self.cond.wait(remaining)

    def finish(self):
        self.stop = True
        self.join(T(5))
        if self.error is not None:
            raise self.error


# ---- TLS ----------------------------------------------------------------------------------
def make_test_pki(directory, names=("server",)):
    """A test CA (ca.pem, ca.key) in `directory` (a pathlib.Path) and, for each name, a server
    certificate it signs for 127.0.0.1 and localhost (<name>.pem, <name>.key): openssl CLI."""

    def openssl(*args):
        subprocess.run(["openssl", *args], check=True, capture_output=True)

    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes")
    openssl("req", "-x509", *ec, "-keyout", str(directory / "ca.key"),
            "-out", str(directory / "ca.pem"), "-days", "2", "-subj", "/CN=chorus test CA")
    (directory / "ext.cnf").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    for name in names:
        openssl("req", *ec, "-keyout", str(directory / f"{name}.key"),
                "-out", str(directory / f"{name}.csr"), "-subj", f"/CN=chorus {name}")
        openssl("x509", "-req", "-in", str(directory / f"{name}.csr"),
                "-CA", str(directory / "ca.pem"), "-CAkey", str(directory / "ca.key"),
                "-CAcreateserial", "-days", "2", "-extfile", str(directory / "ext.cnf"),
                "-out", str(directory / f"{name}.pem"))
    return directory


def start_tls_server(start, pki, *flags, name="server"):
    """start(*flags) (a chorusd fixture) with a TLS listener on a free port beside the plain
    one, serving pki/<name>.pem; the server gains .tls_port and .tls_context (a client context
    that trusts the test CA and checks the certificate)."""
    for attempt in range(3):
        port = free_port()
        try:
            server = start("--tls-listen", f"127.0.0.1:{port}",
                           "--tls-cert", str(pki / f"{name}.pem"),
                           "--tls-key", str(pki / f"{name}.key"), *flags)
        except AssertionError as e:
            if attempt == 2 or "in use" not in str(e).lower():
                raise
            continue  # lost the TLS port to another process: try another
        server.tls_port = port
        server.tls_context = ssl.create_default_context(cafile=str(pki / "ca.pem"))
        return server


def tls_socket(server):
    """A TLS connection to the server's TLS listener, handshake done and certificate checked."""
    raw = socket.create_connection(("127.0.0.1", server.tls_port), timeout=T(10))
    return server.tls_context.wrap_socket(raw, server_hostname="127.0.0.1")
