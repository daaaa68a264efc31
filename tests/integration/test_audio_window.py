"""The audio window (--audio-batch): a room's receivers get its audio once per window, all of
it, in per-sender order, on both backends; whispers wait for the window too; control is never
held and never overtakes audio queued before it; the flag is checked. The latency and send
savings are benchmarks (docs/BENCHMARKS.md), not asserted here.
"""

import struct
import subprocess

import pytest

from harness import CHORUSD, T, audio, barrier, metric, uniq


@pytest.fixture(scope="module", params=["uring", "epoll"])
def server(request, chorusd_module):
    return chorusd_module("--io", request.param, "--audio-batch", "20ms")


def trio(server):
    room = uniq()
    a = server.join(room, user="a")
    b = server.join(room, user="b")
    c = server.join(room, user="c")
    for x, n in ((a, 2), (b, 1)):
        for _ in range(n):
            x.recv_json("joined")
    return a, b, c


@pytest.mark.deadline(60)
def test_every_frame_arrives_in_per_sender_order(server):
    a, b, c = trio(server)
    windows_before = metric(server, "chorus_audio_windows_total") or 0
    for i in range(200):
        a.send_binary(b"\x01" + struct.pack("!I", i) + b"a" * 100)
        b.send_binary(b"\x01" + struct.pack("!I", i) + b"b" * 50)
    want = {a: 200, b: 200, c: 400}
    got = {x: [x.recv_binary(timeout=T(10)) for _ in range(n)] for x, n in want.items()}
    for x in (a, b, c):
        for sender, tail in ((a, b"a" * 100), (b, b"b" * 50)):
            if sender is x:
                continue
            frames = [f for f in got[x] if f[1:5] == sender.member.to_bytes(4, "big")]
            assert frames == [audio(1, sender.member, struct.pack("!I", i) + tail)
                              for i in range(200)]
    assert metric(server, "chorus_audio_windows_total") > windows_before
    for x in (a, b, c):
        assert barrier(x) == []  # nothing more: every frame went out exactly once


def test_whisper_audio_waits_for_the_window_and_reaches_only_its_target(server):
    a, b, c = trio(server)
    a.send_binary(b"\x02" + c.member.to_bytes(4, "big") + b"secret")
    a.send_binary(b"\x01after")
    assert c.recv_binary() == audio(2, a.member, b"secret")
    assert c.recv_binary() == audio(1, a.member, b"after")
    assert b.recv_binary() == audio(1, a.member, b"after")  # no whisper first
    assert barrier(a) == []


def test_control_does_not_overtake_audio_held_before_it(chorusd):
    # The longest window, so that the chat message surely arrives while the audio is held: it
    # takes the held audio with it, in order, instead of waiting or jumping the queue.
    server = chorusd("--audio-batch", "100ms")
    a, b, c = trio(server)
    for i in range(5):
        a.send_binary(b"\x01" + bytes([i]))
        a.send_json({"type": "chat", "text": f"after {i}"})
    for x in (b, c):
        for i in range(5):
            assert x.recv_binary() == audio(1, a.member, bytes([i]))
            assert x.recv_json("chat")["text"] == f"after {i}"


@pytest.mark.parametrize("value, says", [("101ms", "at most 100ms"), ("soon", "duration"),
                                         ("-5ms", "duration")])
def test_audio_batch_flag_is_checked(value, says):
    r = subprocess.run([CHORUSD, "--listen", "127.0.0.1:0", "--audio-batch", value],
                       capture_output=True, text=True, timeout=T(10))
    assert r.returncode == 2 and says in r.stderr, r
