"""Slow consumers (PROTOCOL.md section 5): a member that never reads must not slow anybody else;
its audio is dropped, and once control traffic piles past --send-queue-hard it is closed with
1013 (then treated as a network drop: left with reason timeout after the grace).
"""

import socket
import struct
import time

import pytest

from harness import T, Reader, audio, room_path, uniq, welcome_of


def slow_member(server, room, user):
    """Joins with a tiny receive buffer and returns the client; the test never reads it after
    the welcome."""
    c = server.finish(server.handshake(room_path(room, user=user), rcvbuf=4096))
    return welcome_of(c)


@pytest.mark.deadline(60)
def test_never_reading_member_does_not_slow_the_room(chorusd):
    server = chorusd()
    room = uniq()
    speaker = server.join(room, user="speaker")
    slow = slow_member(server, room, "slow")
    listeners = [server.join(room, user=f"l{i}") for i in range(2)]
    readers = [Reader(c) for c in [speaker] + listeners]
    for r in readers:
        r.start()
    # Batches of 20 KB stay far below the soft limit, so that the readers' own pace never makes
    # the server drop their audio; 8 MB in all is more than the kernel buffers toward the
    # never-reading member can hold.
    frames, batch = 8000, 20
    payload = b"o" * 1000
    t0 = time.monotonic()
    for start in range(0, frames, batch):
        for i in range(start, start + batch):
            speaker.send_binary(b"\x01" + struct.pack("!I", i) + payload)
        for r in readers[1:]:
            r.wait_for(lambda r, n=start + batch: len(r.binary) >= n, T(5),
                       f"frames up to {start + batch}")
    elapsed = time.monotonic() - t0
    for r in readers[1:]:
        assert r.binary == [audio(1, speaker.member, struct.pack("!I", i) + payload)
                            for i in range(frames)]
    assert elapsed < T(20), f"{frames} frames took {elapsed:.1f}s"
    for r in readers:
        r.finish()
    assert server.http("/healthz").json() == {"status": "ok"}
    # The never-reading member went over its soft limit: its dropped audio is counted.
    assert dropped_audio(server) > 0
    assert slow.sock.fileno() >= 0  # never read; the test ends by dropping it


def dropped_audio(server):
    """The sum of the metrics that count dropped frames (PROTOCOL.md: "counted in metrics")."""
    total = 0.0
    for line in server.http("/metrics").text().splitlines():
        if line.startswith("chorus_") and "drop" in line.split("{")[0].split()[0]:
            total += float(line.split()[-1])
    return total


@pytest.mark.deadline(90)
def test_never_reading_member_closed_at_hard_limit(chorusd):
    server = chorusd("--send-queue-soft", "65536", "--send-queue-hard", "262144",
                     "--text-rate", "100000", "--text-burst", "100000", "--resume-grace", "1s")
    room = uniq()
    speaker = server.join(room, user="speaker")
    slow = slow_member(server, room, "slow")
    listener = server.join(room, user="listener")
    speaker.recv_json("joined")
    speaker.recv_json("joined")
    readers = [Reader(speaker), Reader(listener)]
    for r in readers:
        r.start()

    def slow_left(r):
        return any(e["type"] == "left" and e["member"] == slow.member for e in r.events)

    def chats(r):
        return [e["text"][:12] for e in r.events if e["type"] == "chat"]

    text = "c" * 4000
    sent = 0
    deadline = time.monotonic() + T(40)
    while not slow_left(readers[1]):
        assert time.monotonic() < deadline, f"slow member still in the room after {sent} chats"
        for _ in range(10):  # 40 KB a batch: below the listeners' soft limit
            speaker.send_json({"type": "chat", "text": f"{sent:012d}" + text})
            speaker.send_binary(b"\x01" + b"a" * 500)
            sent += 1
        for r in readers:
            r.wait_for(lambda r, n=sent: len(chats(r)) >= n, T(10), f"chat {sent}")
    left = next(e for e in readers[1].events if e["type"] == "left")
    assert left["reason"] == "timeout", left
    for r in readers:
        assert chats(r) == [f"{i:012d}" for i in range(sent)]
    readers[1].wait_for(lambda r: len(r.binary) >= sent, T(10), "all audio")
    assert readers[1].binary == [audio(1, speaker.member, b"a" * 500)] * sent
    for r in readers:
        r.finish()
    # The slow member's socket: whatever was queued, then a 1013 close, EOF or a reset.
    slow.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    try:
        code, _ = slow.expect_close(timeout=T(10), eof=False)
        assert code == 1013, code
    except Exception as e:
        assert type(e).__name__ == "ConnectionLost", e
    assert server.http("/healthz").json() == {"status": "ok"}
