"""Slow consumers over wss (PROTOCOL.md section 5 on the TLS listener): encryption must not hide
a receiver that never reads. Its ciphertext backs up in the kernel like plain bytes do, so its
audio is dropped past --send-queue-soft and it is closed at --send-queue-hard (1013, counted),
while the readers in its room get every chat and frame in order. One thread per test: an SSL
socket is not for a reader thread and a writer thread at once.
"""

import json
import socket
import time

import pytest

from harness import (T, audio, make_test_pki, metric, room_path, start_tls_server, tls_socket,
                     uniq, welcome_of)
from wsclient import ConnectionLost, Timeout


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_test_pki(tmp_path_factory.mktemp("pki"))


def wss_join(server, room, user, rcvbuf=None):
    if rcvbuf is None:
        sock = tls_socket(server)
    else:  # a tiny receive window, set before connecting, as test_slow_consumer's plain member
        raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        raw.settimeout(T(10))
        raw.connect(("127.0.0.1", server.tls_port))
        sock = server.tls_context.wrap_socket(raw, server_hostname="127.0.0.1")
    c = server.finish(server.handshake(room_path(room, user=user), sock=sock))
    return welcome_of(c)


class Inbox:
    """What one client has received, read on demand on the test's own thread."""

    def __init__(self, client):
        self.client = client
        self.chats = []
        self.binary = []
        self.left = []

    def drain_until(self, predicate, what):
        deadline = time.monotonic() + T(10)
        while not predicate(self):
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"timed out waiting for {what}"
            try:
                m = self.client.recv_msg(timeout=remaining)
            except Timeout:
                continue
            if m[0] == "binary":
                self.binary.append(m[1])
                continue
            event = json.loads(m[1])
            if event["type"] == "chat":
                self.chats.append(event["text"][:12])
            elif event["type"] == "left":
                self.left.append(event)


@pytest.mark.deadline(90)
@pytest.mark.parametrize("io", ["uring", "epoll"])  # each backend has its own full-socket path
def test_never_reading_wss_member_loses_audio_then_is_closed_at_the_hard_limit(chorusd, pki, io):
    server = start_tls_server(chorusd, pki, "--io", io, "--send-queue-soft", "65536",
                              "--send-queue-hard", "262144", "--text-rate", "100000",
                              "--text-burst", "100000", "--resume-grace", "1s")
    room = uniq()
    speaker = wss_join(server, room, "speaker")
    slow = wss_join(server, room, "slow", rcvbuf=4096)
    listener = wss_join(server, room, "listener")
    speaker.recv_json("joined")
    speaker.recv_json("joined")
    inboxes = [Inbox(speaker), Inbox(listener)]
    text = "c" * 4000
    sent = 0
    deadline = time.monotonic() + T(40)
    while not inboxes[1].left:
        assert time.monotonic() < deadline, f"slow member still in the room after {sent} chats"
        for _ in range(10):  # 40 KB a batch: below the readers' soft limit
            speaker.send_json({"type": "chat", "text": f"{sent:012d}" + text})
            speaker.send_binary(b"\x01" + b"a" * 500)
            sent += 1
        for box in inboxes:
            box.drain_until(lambda b, n=sent: len(b.chats) >= n, f"chat {sent}")
    assert [e["member"] for e in inboxes[1].left] == [slow.member]
    assert inboxes[1].left[0]["reason"] == "timeout", inboxes[1].left
    for box in inboxes:
        assert box.chats == [f"{i:012d}" for i in range(sent)]
    inboxes[1].drain_until(lambda b: len(b.binary) >= sent, "all audio")
    assert inboxes[1].binary == [audio(1, speaker.member, b"a" * 500)] * sent
    assert inboxes[0].binary == []  # the speaker does not hear itself
    assert metric(server, 'chorus_closes_total{code="1013"}') == 1
    assert metric(server, "chorus_audio_dropped_slow_total") > 0
    # The slow member's socket: whatever was queued, then EOF or a reset (no 1013 frame: it
    # would sit behind the data it was not reading).
    slow.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    with pytest.raises(ConnectionLost):
        slow.expect_close(timeout=T(20), eof=False)
    assert server.http("/healthz").json() == {"status": "ok"}
