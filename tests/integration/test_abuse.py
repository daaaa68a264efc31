"""Abuse against the real chorusd (issue 7): slowloris and never-finished handshakes, half-open
sockets, absurd frame lengths, endless fragments, ping and frame floods, invalid JSON storms,
oversized heads, static-file traversal, forged and replayed resume tokens, a reconnect storm and
fd exhaustion. Each test checks the status or close code, that OTHER members' audio keeps flowing
meanwhile (AudioFlow), and that the server stays healthy with its memory (VmRSS) bounded.
"""

import json
import os
import selectors
import socket
import struct
import threading
import time

import pytest

import harness
from audio_flow import AudioFlow, shard_cpu_wait
from harness import SANITIZED, T, audio, check_refusal, room_path, uniq
from wsclient import OP_BINARY, OP_CONT, OP_PING, OP_TEXT, ConnectionLost, Timeout

# Memory the server may gain during one abuse (ASan's quarantine and shadow make it larger).
RSS_GROWTH_MB = 512 if SANITIZED else 64


# ---- helpers --------------------------------------------------------------------------------

def rss_mb(server):
    with open(f"/proc/{server.proc.pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS in /proc/<pid>/status")


def fd_count(server):
    return len(os.listdir(f"/proc/{server.proc.pid}/fd"))


def plain_get(port, path, timeout=None):
    """(status, body) of one GET; blocking socket with a timeout, so any fd number works
    (select() stops at 1024, and some tests hold more sockets than that)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout or T(5)) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        data = bytearray()
        while True:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            data += chunk
    head, _, body = bytes(data).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 "), data[:200]
    return int(head.split()[1]), body


def assert_healthy(server, rss_before=None):
    server.check_alive()
    status, body = plain_get(server.port, "/healthz")
    assert status == 200 and json.loads(body) == {"status": "ok"}, (status, body)
    if rss_before is not None:
        grown = rss_mb(server) - rss_before
        assert grown < RSS_GROWTH_MB, f"chorusd RSS grew by {grown:.0f} MiB during the abuse"


def masked(opcode, payload=b"", fin=True):
    """A client frame with an all-zero mask key (legal, and cheap to build by the 100k)."""
    b0 = (0x80 if fin else 0) | opcode
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", b0, 0x80 | n)
    elif n < 65536:
        head = struct.pack("!BBH", b0, 0x80 | 126, n)
    else:
        head = struct.pack("!BBQ", b0, 0x80 | 127, n)
    return head + b"\0\0\0\0" + payload


def send_ignoring_close(client, data):
    """Sends bytes the server may stop reading halfway (it closes on a violation)."""
    try:
        client.sock.sendall(data)
    except OSError:
        pass


class Bulk:
    """Many raw client sockets driven by one epoll selector (no fd-number limit): opening
    handshakes, whole server frames, EOF. Just enough WebSocket for joins and resumes."""

    def __init__(self, port):
        self.port = port
        self.sel = selectors.DefaultSelector()
        self.conns = []

    def open(self, request=b"", **info):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=T(5))
        if request:
            s.sendall(request)
        s.setblocking(False)
        c = dict(sock=s, buf=bytearray(), status=None, head=b"", texts=[], closed=False,
                 close_code=None, **info)
        self.sel.register(s, selectors.EVENT_READ, c)
        self.conns.append(c)
        return c

    def join(self, room, user, **extra):
        key = "dGhlIHNhbXBsZSBub25jZQ=="
        request = (f"GET {room_path(room, user=user, **extra)} HTTP/1.1\r\nHost: x\r\n"
                   f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                   f"Sec-WebSocket-Key: {key}\r\n\r\n").encode()
        return self.open(request, room=room, user=user)

    def _parse(self, c):
        buf = c["buf"]
        if c["status"] is None:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            c["head"] = bytes(buf[:end])
            c["status"] = int(c["head"].split()[1])
            del buf[: end + 4]
        if c["status"] != 101:
            return
        while len(buf) >= 2:
            n, pos = buf[1] & 0x7F, 2
            if n == 126:
                if len(buf) < 4:
                    return
                n, pos = struct.unpack_from("!H", buf, 2)[0], 4
            elif n == 127:
                if len(buf) < 10:
                    return
                n, pos = struct.unpack_from("!Q", buf, 2)[0], 10
            if len(buf) < pos + n:
                return
            op, payload = buf[0] & 0x0F, bytes(buf[pos: pos + n])
            del buf[: pos + n]
            if op == OP_TEXT:
                c["texts"].append(json.loads(payload))
            elif op == 0x8:
                c["close_code"] = struct.unpack("!H", payload[:2])[0] if payload else 1005

    def pump(self, until, timeout, what):
        """Reads whatever arrives until until(self) holds."""
        deadline = time.monotonic() + timeout
        while not until(self):
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"timed out waiting for {what}"
            for key, _ in self.sel.select(min(remaining, 0.2)):
                c = key.data
                try:
                    chunk = c["sock"].recv(1 << 16)
                except (ConnectionResetError, ConnectionAbortedError):
                    chunk = b""
                except BlockingIOError:
                    continue
                if not chunk:
                    c["closed"] = True
                    self.sel.unregister(c["sock"])
                    continue
                c["buf"] += chunk
                self._parse(c)

    @staticmethod
    def welcome(c):
        return next((t for t in c["texts"] if t.get("type") == "welcome"), None)

    def close_all(self, conns=None):
        for c in list(conns if conns is not None else self.conns):
            if not c["closed"]:
                self.sel.unregister(c["sock"])
                c["closed"] = True
            c["sock"].close()
            if c in self.conns:
                self.conns.remove(c)


@pytest.fixture(scope="module")
def server(chorusd_module):
    return chorusd_module("--max-frame", "16384", "--text-rate", "20", "--text-burst", "50")


# ---- handshakes that never end ---------------------------------------------------------------

@pytest.mark.deadline(30)
def test_slowloris_and_stalled_handshakes_are_cut_at_the_deadline(chorusd):
    """A byte every 100 ms, a head missing its last CRLF, and silence: all closed at the
    handshake deadline (counted from accept, so dribbling does not extend it)."""
    # One shard, so that the time it waited for a CPU after the deadline (a busy machine) is
    # known, and not taken for lateness.
    server = chorusd("--handshake-timeout", "1s", "--threads", "1")
    cpu_wait = shard_cpu_wait(server, "any room")
    rss = rss_mb(server)
    head = (f"GET {room_path(uniq(), user='slow')} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\nX-Pad: ").encode() + b"p" * 500
    with AudioFlow(server):
        t0 = time.monotonic()
        socks = {("dribble", i): socket.create_connection(("127.0.0.1", server.port))
                 for i in range(10)}
        for i in range(5):
            s = socket.create_connection(("127.0.0.1", server.port))
            s.sendall(head + b"\r\n")  # one CRLF short of the end of the head
            socks[("stalled", i)] = s
        for i in range(5):
            socks[("silent", i)] = socket.create_connection(("127.0.0.1", server.port))
        closed_at, off_cpu, sent, waited_at_deadline = {}, {}, 0, None

        def note_closed(name):
            closed_at[name] = time.monotonic() - t0
            off_cpu[name] = 0.0 if waited_at_deadline is None else cpu_wait() - waited_at_deadline

        while len(closed_at) < len(socks) and time.monotonic() - t0 < T(5):
            if waited_at_deadline is None and time.monotonic() - t0 >= 1.0:
                waited_at_deadline = cpu_wait()
            for name, s in socks.items():
                if name in closed_at:
                    continue
                try:
                    if name[0] == "dribble" and sent < len(head):
                        s.send(head[sent: sent + 1])
                    s.setblocking(False)
                    data = s.recv(4096)
                    assert data == b"", f"{name}: server sent {data!r} on a handshake timeout"
                    note_closed(name)
                except BlockingIOError:
                    pass
                except (ConnectionResetError, BrokenPipeError):
                    note_closed(name)
            sent += 1
            time.sleep(0.1)
        for s in socks.values():
            s.close()
    assert len(closed_at) == len(socks), f"still open after 5 s: {set(socks) - set(closed_at)}"
    assert min(closed_at.values()) >= 0.9, f"closed before the deadline: {closed_at}"
    late = {name: round(at - off_cpu[name], 3) for name, at in closed_at.items()}
    assert max(late.values()) <= 1.0 + T(1.0), (
        f"closed late: {late} (seen at {closed_at}, less the shard's wait for a CPU since)")
    assert_healthy(server, rss)


@pytest.mark.deadline(40)
def test_thousand_half_open_sockets_then_normal_clients_join(chorusd):
    server = chorusd("--handshake-timeout", "6s")
    rss = rss_mb(server)
    with AudioFlow(server):
        bulk = Bulk(server.port)
        # Keep low fd numbers for the select()-based clients opened while the 1000 are held.
        spare = [os.open(os.devnull, os.O_RDONLY) for _ in range(8)]
        for _ in range(1000):
            bulk.open()
        for fd in spare:
            os.close(fd)
        # Joins that had to wait for the silent sockets to time out would take 6 s or more.
        t0 = time.monotonic()
        room = uniq()
        c = server.join(room, user="c")
        d = server.join(room, user="d")
        c.send_binary(b"\x01late audio")
        assert d.recv_binary() == audio(1, c.member, b"late audio")
        assert time.monotonic() - t0 < 5.0, "joins waited for the silent sockets' handshake timeout"
        assert_healthy(server)
        bulk.pump(lambda b: all(x["closed"] for x in b.conns), T(6) + T(4),
                  "the 1000 silent sockets to be closed")
        assert all(x["status"] is None and not x["buf"] for x in bulk.conns)
        bulk.close_all()
    assert_healthy(server, rss)


# ---- frames ---------------------------------------------------------------------------------

@pytest.mark.parametrize("length, code", [(2**63, 1002), (2**63 + 5, 1002), (2**40, 1009),
                                          (2**16, 1009)])
def test_absurd_frame_length(server, length, code):
    """The top bit of a 64-bit length is a protocol error; a huge legal length is too big.
    Either way the close comes at once, before any payload."""
    rss = rss_mb(server)
    with AudioFlow(server) as flow:
        abuser = server.join(flow.room, user="abuser")
        abuser.send_raw(struct.pack("!BBQ", 0x80 | OP_BINARY, 0x80 | 127, length) + b"\0" * 4
                        + b"\x01" * 100)
        abuser.expect_close(code, timeout=T(2))
    assert_healthy(server, rss)


@pytest.mark.parametrize("opcode", [OP_BINARY, OP_TEXT])
def test_endless_continuation_frames_close_1009_at_the_limit(server, opcode):
    rss = rss_mb(server)
    with AudioFlow(server) as flow:
        abuser = server.join(flow.room, user="abuser")
        first = b"\x01" + b"a" * 999 if opcode == OP_BINARY else b"a" * 1000
        frames = [masked(opcode, first, fin=False)]
        frames += [masked(OP_CONT, b"a" * 1000, fin=False) for _ in range(200)]
        sender = threading.Thread(target=send_ignoring_close,
                                  args=(abuser, b"".join(frames)), daemon=True)
        sender.start()
        abuser.expect_close(1009, timeout=T(3))
        sender.join(T(5))
        # Nothing of the never-finished message reached the room.
        assert all(len(frame) < 100 for *_, frame in flow.arrivals)
    assert_healthy(server, rss)


def test_ping_flood_gets_every_pong(server):
    rss = rss_mb(server)
    with AudioFlow(server) as flow:
        abuser = server.join(flow.room, user="abuser")
        count = 10_000
        abuser.send_raw(b"".join(masked(OP_PING, b"%d" % i) for i in range(count)))
        pongs = []
        deadline = time.monotonic() + T(10)
        while len(pongs) < count:
            m = abuser.recv(timeout=max(0.1, deadline - time.monotonic()))
            assert m[0] != "close", m
            if m[0] == "pong":
                pongs.append(m[1])
        assert pongs == [b"%d" % i for i in range(count)]
        abuser.send_json({"type": "ping", "t": "after"})
        assert_healthy(server)
    assert_healthy(server, rss)


@pytest.mark.deadline(40)
def test_hundred_thousand_tiny_frames_leave_others_unaffected(server):
    """100k frames sent at once: empty room audio (dropped), whisper audio to itself (relayed to
    a sender that does not read: dropped over the soft limit), an unknown op (bad_message, at
    most once a second). Nobody else notices."""
    rss = rss_mb(server)
    with AudioFlow(server) as flow:
        abuser = server.join(flow.room, user="abuser")
        kinds = [masked(OP_BINARY, b"\x01"),
                 masked(OP_BINARY, b"\x02" + abuser.member.to_bytes(4, "big") + b"w"),
                 masked(OP_BINARY, b"\x07x")]
        flood = b"".join(kinds[i % 3] for i in range(100_000))
        t0 = time.monotonic()
        abuser.send_raw(flood)
        errors, whispers = [], 0
        abuser.send_json({"type": "ping", "t": "end"})
        while True:
            m = abuser.recv_msg(timeout=T(10))
            if m[0] == "binary":
                whispers += m[1][0] == 2
                continue
            assert m[0] == "text", m
            obj = json.loads(m[1])
            if obj["type"] == "pong":
                break
            if obj["type"] == "error":
                errors.append(obj["code"])
        elapsed = time.monotonic() - t0
        assert set(errors) <= {"bad_message"}, errors
        assert 1 <= len(errors) <= elapsed + 2, f"{len(errors)} errors in {elapsed:.1f}s"
        assert whispers > 0
    assert_healthy(server, rss)


def test_invalid_json_storm_gets_bad_message_then_too_fast(server):
    rss = rss_mb(server)
    bad = [b"not json", b"{", b'{"type":1}', b'{"type":"nope"}', b"[]", b'{"type":"chat"}',
           b'{"type":"whisper","to":"x","text":"y"}', b'{"type":"ping"} trailing', b"\"\"",
           b'{"type":"kick","member":-1}']
    with AudioFlow(server) as flow:
        abuser = server.join(flow.room, user="abuser")
        t0 = time.monotonic()
        abuser.send_raw(b"".join(masked(OP_TEXT, bad[i % len(bad)]) for i in range(5000)))
        codes, last_text = [], time.monotonic()
        while time.monotonic() - last_text < T(1.5):  # the room's audio keeps arriving
            try:
                m = abuser.recv_msg(timeout=0.2)
            except Timeout:
                continue
            if m[0] == "text":
                obj = json.loads(m[1])
                assert obj["type"] == "error", obj
                codes.append(obj["code"])
                last_text = time.monotonic()
        elapsed = time.monotonic() - t0
        assert set(codes) == {"bad_message", "too_fast"}, codes[:60]
        first_too_fast = codes.index("too_fast")
        assert codes[:50] == ["bad_message"] * 50, codes[:60]
        assert first_too_fast <= 50 + 20 * elapsed + 1, codes[:60]
        assert codes.count("bad_message") <= 50 + 20 * elapsed + 1, (elapsed, len(codes))
        assert codes.count("too_fast") <= elapsed + 2, (elapsed, codes.count("too_fast"))
        # The connection stays open, and the bucket refills. The room's audio keeps arriving
        # meanwhile, so the pong is not necessarily the next message.
        before_pong = harness.barrier(abuser, "still here")
        assert all(m[0] == "binary" for m in before_pong), before_pong
    assert_healthy(server, rss)


# ---- HTTP heads ------------------------------------------------------------------------------

def _head(target, extra=""):
    return (f"GET {target} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            f"{extra}\r\n").encode("latin-1")


OVERSIZED = {
    "url_10k": (lambda r: _head(f"/v1/rooms/{r}?user=u&pad={'a' * 10000}"), 431,
                "headers_too_large"),
    "header_9k": (lambda r: _head(room_path(r, user="u"), f"X-Big: {'b' * 9000}\r\n"), 431,
                  "headers_too_large"),
    "many_headers": (lambda r: _head(room_path(r, user="u"),
                                     "".join(f"X-H{i}: {'h' * 40}\r\n" for i in range(300))),
                     431, "headers_too_large"),
    "room_65": (lambda r: _head(room_path("r" * 65, user="u")), 400, "bad_request"),
    "user_65": (lambda r: _head(room_path(r, user="u" * 65)), 400, "bad_request"),
    "name_7k": (lambda r: _head(room_path(r, user="u", name="n" * 7000)), 400, "bad_request"),
    "no_colon": (lambda r: _head(room_path(r, user="u"), "garbage line\r\n"), 400,
                 "bad_request"),
    "nul_in_header": (lambda r: _head(room_path(r, user="u"), "X-A: a\0b\r\n"), 400,
                      "bad_request"),
}


@pytest.mark.parametrize("case", sorted(OVERSIZED))
def test_oversized_or_malformed_heads_are_refused(server, case):
    build, status, code = OVERSIZED[case]
    rss = rss_mb(server)
    with AudioFlow(server) as flow:
        r = harness.http_request(server.port, "", raw=build(flow.room), timeout=T(5))
        check_refusal(r, status, code)
        assert flow.speaker_reader.events == [], "the refused request touched the room"
    assert_healthy(server, rss)


def test_endless_head_is_cut_at_the_limit(server):
    """A megabyte of header bytes without an end: 431 once the head limit is passed (or a reset
    while the rest is still arriving); the server never buffers it all."""
    rss = rss_mb(server)
    with AudioFlow(server):
        s = socket.create_connection(("127.0.0.1", server.port), timeout=T(5))
        s.sendall(b"GET / HTTP/1.1\r\nX-Endless: ")
        try:
            for _ in range(1024):
                s.sendall(b"e" * 1024)
        except (BrokenPipeError, ConnectionResetError):
            pass
        try:
            data = s.recv(65536)
        except ConnectionResetError:
            data = b""
        s.close()
        assert data == b"" or data.startswith(b"HTTP/1.1 431 "), data[:200]
    assert_healthy(server, rss)


# ---- static files ----------------------------------------------------------------------------

TRAVERSALS = ["/../secret.txt", "/..%2fsecret.txt", "/%2e%2e/secret.txt", "/%2E%2E/secret.txt",
              "/%2e%2e%2fsecret.txt", "/.%2e/secret.txt", "/%2e./secret.txt",
              "/%252e%252e/secret.txt", "/%252e%252e%252fsecret.txt", "/..\\secret.txt",
              "/%5c..%5csecret.txt", "/..%5csecret.txt", "/index.html/../../secret.txt",
              "/./../secret.txt", "//secret.txt", "/%2f..%2fsecret.txt", "/%00/../secret.txt",
              "/index.html%00", "/%c0%ae%c0%ae/secret.txt", "/web/../../secret.txt",
              "/../web/index.html", "http://127.0.0.1/../secret.txt", "/..", "/%2e%2e",
              "/..;/secret.txt", "/.../secret.txt", "/ ../secret.txt"]


def test_static_traversal_never_leaves_the_web_root(chorusd, tmp_path):
    web = tmp_path / "web"
    web.mkdir()
    (web / "index.html").write_text("<h1>public page</h1>")
    (tmp_path / "secret.txt").write_text("TOP-SECRET-CONTENT")
    server = chorusd("--web", str(web))
    rss = rss_mb(server)
    r = server.http("/index.html")
    assert r.status == 200 and b"public page" in r.body
    with AudioFlow(server):
        for target in TRAVERSALS:
            raw = f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
            r = harness.http_request(server.port, "", raw=raw.encode("latin-1"), timeout=T(5))
            assert r.status in (400, 404), f"{target}: {r!r}"
            assert b"TOP-SECRET" not in r.body, target
            r.json()  # a JSON refusal body, not a file
    assert_healthy(server, rss)


# ---- resume tokens ---------------------------------------------------------------------------

def _flip(token):
    i = len(token) // 2
    return token[:i] + ("A" if token[i] != "A" else "B") + token[i + 1:]


def test_forged_expired_and_replayed_resume_tokens(chorusd):
    server = chorusd("--resume-grace", "1s")
    rss = rss_mb(server)
    with AudioFlow(server):
        room = uniq()
        a = server.join(room, user="a")
        b = server.join(room, user="b")
        assert a.recv_json("joined")["member"] == b.member
        token = a.welcome["resume"]
        other_room = server.join(uniq(), user="a").welcome["resume"]
        forged = [_flip(token), token[:-1], token + "A", "A" * len(token), "", "%zz",
                  "x" * 4000, b.welcome["resume"], other_room, token.upper()]
        paths = [room_path(room, user="a", resume=bad, last_seq=0) for bad in forged
                 if bad != token]
        paths.append(f"/v1/rooms/{room}?user=a&resume=%zz")  # a malformed escape
        # None verifies: each is an ordinary join (PROTOCOL.md section 6, v1.0.1) that replaces
        # the member as a plain rejoin would, never a refusal.
        for path in paths:
            bad = harness.welcome_of(server.ws(path))
            assert bad.welcome["resumed"] is False and bad.welcome["gap"] is True, path
            a.expect_close(4009)
            assert b.recv_json("left")["member"] == a.member
            assert b.recv_json("joined")["member"] == bad.member != a.member
            a = bad
        token = a.welcome["resume"]
        # Replayed: the current token takes over the live connection (4009) with no left/joined
        # for the others. Each resume draws a new session, so a replayed OLD token no longer
        # resumes: it is an ordinary join that replaces the member (4009, left "replaced").
        a2 = server.join(room, user="a", resume=token, last_seq=2)
        a.expect_close(4009)
        assert a2.welcome["resumed"] is True and a2.member == a.member
        assert harness.barrier(b) == []
        a3 = server.join(room, user="a", resume=a2.welcome["resume"], last_seq=2)
        a2.expect_close(4009)
        assert a3.welcome["resumed"] is True and a3.member == a.member
        assert harness.barrier(b) == []
        stale = server.join(room, user="a", resume=token, last_seq=2)
        a3.expect_close(4009)
        assert stale.welcome["resumed"] is False and stale.member != a.member
        left = b.recv_json("left")
        assert left["member"] == a.member and left["reason"] == "replaced"
        assert b.recv_json("joined")["member"] == stale.member
        token, a3 = stale.welcome["resume"], stale
        a = stale
        # Expired: after the grace (and the left), the token only gets an ordinary join.
        a3.abort()
        left = b.recv_json("left", timeout=T(3))
        assert left["member"] == a.member and left["reason"] == "timeout"
        a4 = server.join(room, user="a", resume=token, last_seq=2)
        assert a4.welcome["resumed"] is False and a4.member != a.member
        assert b.recv_json("joined")["member"] == a4.member
    assert_healthy(server, rss)


# ---- many clients at once --------------------------------------------------------------------

@pytest.mark.deadline(60)
def test_reconnect_storm_of_a_thousand_resumes(chorusd):
    server = chorusd("--resume-grace", "20s")
    rss = rss_mb(server)
    rooms, per_room = 20, 50
    with AudioFlow(server):
        bulk = Bulk(server.port)
        for r in range(rooms):
            room = uniq("storm")
            for u in range(per_room):
                bulk.join(room, f"u{u}")
        bulk.pump(lambda b: all(Bulk.welcome(c) for c in b.conns), T(20), "1000 welcomes")
        # Each client's last seq: everyone in its room has joined once all welcomes are in.
        bulk.pump(lambda b: all(c["texts"][-1]["seq"] == per_room for c in b.conns), T(10),
                  "every joined event")
        old = {(c["room"], c["user"]): (Bulk.welcome(c)["member"], Bulk.welcome(c)["resume"])
               for c in bulk.conns}
        bulk.close_all()  # a network drop for all of them at once
        time.sleep(T(0.3))
        t0 = time.monotonic()
        for (room, user), (member, token) in old.items():
            bulk.join(room, user, resume=token, last_seq=per_room)
        bulk.pump(lambda b: all(Bulk.welcome(c) or c["closed"] for c in b.conns), T(20),
                  "1000 resumed welcomes")
        storm_s = time.monotonic() - t0
        for c in bulk.conns:
            w = Bulk.welcome(c)
            assert w is not None, f"no welcome: status {c['status']} {c['head'][:200]!r}"
            assert w["resumed"] is True and w["gap"] is False, w
            assert w["member"] == old[(c["room"], c["user"])][0]
            assert w["seq"] == per_room
        print(f"1000 resumes in {storm_s:.2f}s; chorusd fds {fd_count(server)}")
        assert_healthy(server)
        bulk.close_all()
    assert_healthy(server, rss)


@pytest.mark.deadline(40)
def test_fd_exhaustion_refuses_politely_and_recovers(chorusd, tmp_path, monkeypatch):
    """chorusd under `ulimit -n 64` (so --max-connections defaults to 16): the extra clients get
    503 overloaded or a closed socket, members keep talking, and once the crowd leaves new
    clients join again."""
    wrapper = tmp_path / "chorusd-64fds"
    wrapper.write_text(f'#!/bin/sh\nulimit -n 64 || exit 97\nexec "{harness.CHORUSD}" "$@"\n')
    wrapper.chmod(0o755)
    monkeypatch.setattr(harness, "CHORUSD", str(wrapper))
    server = chorusd()
    with open(f"/proc/{server.proc.pid}/limits") as f:
        assert any(l.startswith("Max open files") and l.split()[3] == "64" for l in f), \
            "the wrapper did not lower the fd limit"
    rss = rss_mb(server)
    with AudioFlow(server):
        bulk = Bulk(server.port)
        crowd = [bulk.open() for _ in range(100)]
        bulk.pump(lambda b: sum(c["closed"] for c in crowd) >= 100 - 16, T(10),
                  "the connections beyond the limit to be refused")
        refused = [c for c in crowd if c["closed"]]
        polite = [c for c in refused if c["status"] == 503]
        assert all(c["status"] in (None, 503) for c in refused)
        assert polite, "no refusal said 503 overloaded"
        assert all(b'"overloaded"' in bytes(c["buf"]) for c in polite)
        # Full: a new member is refused (503 or a closed socket), the flow goes on.
        late = bulk.join(uniq(), "late")
        bulk.pump(lambda b: late["closed"], T(5), "the late join to be refused")
        assert late["status"] in (None, 503), late["head"]
        bulk.close_all()
        # The crowd went away: joins work again.
        room = uniq()

        def joined():
            try:
                c = server.join(room, user="again")
            except (AssertionError, ConnectionLost, OSError):
                return None
            return c

        again = harness.wait_until(joined, T(5), "a join once the crowd left")
        other = server.join(room, user="other")
        other.send_binary(b"\x01back")
        assert again.recv_json("joined")["member"] == other.member
        assert again.recv_binary() == audio(1, other.member, b"back")
    assert_healthy(server, rss)


# ---- floods of small frames and malformed numbers (both were server bugs, now fixed) ------


def _flood_until_sent(client, data):
    """Sends it all, or until the server cuts the abuser off (a reset is the 1013 close)."""
    client.sock.settimeout(T(20))
    try:
        client.sock.sendall(data)
    except (ConnectionResetError, BrokenPipeError):
        pass


@pytest.mark.deadline(40)
def test_ping_flood_from_a_client_that_never_reads_is_bounded(chorusd):
    """300k pings (38 MB of pongs) from a client with a tiny receive buffer that does not read:
    the pongs beyond --send-queue-hard must close it (1013, a reset), not pile up in the
    server."""
    server = chorusd()
    rss = rss_mb(server)
    with AudioFlow(server):
        count = 300_000
        abuser = server.join(uniq(), user="abuser", rcvbuf=4096)
        _flood_until_sent(abuser, masked(OP_PING, b"p" * 125) * count)
        time.sleep(T(1))
        grown = rss_mb(server) - rss
        assert grown < RSS_GROWTH_MB, f"chorusd holds {grown:.0f} MiB of pongs for one client"
        pongs = 0
        with pytest.raises(ConnectionLost):
            while True:
                m = abuser.recv(timeout=T(2))
                assert m[0] != "close", m  # 1013 goes without a close frame
                pongs += m[0] == "pong"
        assert pongs < count


@pytest.mark.deadline(40)
def test_audio_flood_to_a_member_that_never_reads_is_dropped(chorusd):
    """1M tiny room-audio frames (27 MB) into a room whose other member never reads: beyond
    --send-queue-soft they must be dropped (chorus_audio_dropped_slow_total), memory bounded."""
    server = chorusd()
    rss = rss_mb(server)
    with AudioFlow(server):
        room = uniq()
        abuser = server.join(room, user="abuser")
        server.join(room, user="victim", rcvbuf=4096)  # never reads
        _flood_until_sent(abuser, masked(OP_BINARY, b"\x01" + b"w" * 20) * 1_000_000)
        time.sleep(T(1))
        grown = rss_mb(server) - rss
        metrics = server.http("/metrics").text()
        dropped = [l for l in metrics.splitlines() if l.startswith("chorus_audio_dropped_slow")]
        assert grown < RSS_GROWTH_MB, f"chorusd holds {grown:.0f} MiB of audio; {dropped}"
        assert dropped and int(dropped[0].split()[-1]) > 0, dropped


@pytest.mark.parametrize("text", ['{"type":"ping","t":01}', '{"type":"ping","t":-}',
                                  '{"type":"ping","t":1x<>/}',
                                  '{"type":"chat","t":1e999,"text":"a"} {"type":"x"}'])
def test_malformed_numbers_get_bad_message(server, text):
    c = server.join(uniq(), user="c")
    c.send_text(text)
    reply = c.recv_json()
    assert reply["type"] == "error" and reply["code"] == "bad_message", reply
