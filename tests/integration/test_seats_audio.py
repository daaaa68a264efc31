"""Room audio in seat mode (PROTOCOL.md v1.1 section 4) and op 0x03 with its level, from which
the server derives the speaking set (section 5): who may be heard, 0x03 relayed as 0x01, a bad
0x03, `speaking` messages for loud members only, after a joiner's welcome, and empty again in
silence.
"""

import json
import threading

import pytest

from harness import T, barrier, errors_in
from seats_helpers import drain_joined, everyone, host_and_two, member, texts


@pytest.fixture(scope="module")
def server(chorusd_module):
    return chorusd_module("--max-seats", "8", "--resume-grace", "5s")


def audio_op3(level, payload):
    return bytes([0x03, level]) + payload


def binaries(messages):
    return [m[1] for m in messages if m[0] == "binary"]


def test_audio_in_seat_mode(server):
    room, h, a, b = host_and_two(server, seats=2)
    a.send_binary(b"\x01v1")  # standing: dropped, one error (then at most one a second)
    a.send_binary(b"\x01v2")
    a.send_binary(audio_op3(10, b"v3"))
    assert errors_in(barrier(a)) == ["forbidden"]
    a.send_json({"type": "take_seat", "seat": 0})
    everyone("seats", h, a, b)
    a.send_binary(b"\x01s1")
    a.send_binary(audio_op3(200, b"s2"))
    a.send_binary(b"\x02" + b.member.to_bytes(4, "big") + b"w")  # whispers ignore seats
    frm = a.member.to_bytes(4, "big")
    assert barrier(b) == [("binary", b"\x01" + frm + b"s1"), ("binary", b"\x01" + frm + b"s2"),
                          ("binary", b"\x02" + frm + b"w")]
    assert binaries(barrier(h)) == [b"\x01" + frm + b"s1", b"\x01" + frm + b"s2"]
    b.send_binary(b"\x02" + a.member.to_bytes(4, "big") + b"w2")  # standing, whispering
    assert barrier(b) == []
    assert binaries(barrier(a)) == [b"\x02" + b.member.to_bytes(4, "big") + b"w2"]
    # A muted seat: its sitter's audio is dropped with an error; the mute stays with the seat.
    b.send_json({"type": "take_seat", "seat": 1})
    everyone("seats", h, a, b)
    h.send_json({"type": "seat", "seat": 1, "muted": True})
    everyone("seats", h, a, b)
    b.send_binary(b"\x01m1")
    b.send_binary(audio_op3(0, b"m2"))
    assert errors_in(barrier(b)) == ["forbidden"]
    assert barrier(h) == []  # nothing relayed from the muted seat
    # Seat mode off again: v1 rules, anyone with speak talks.
    h.send_json({"type": "seats", "count": 0})
    everyone("seats", h, a, b)
    b.send_binary(b"\x01ok")
    assert barrier(h) == [("binary", b"\x01" + b.member.to_bytes(4, "big") + b"ok")]


def test_op3_relayed_as_op1_and_bad_op3(server):
    room, h, a, b = host_and_two(server)
    a.send_binary(bytes([0x03]))  # too short
    a.send_binary(bytes([0x03, 5]))  # no payload: dropped silently
    assert errors_in(barrier(a)) == ["bad_message"]
    a.send_binary(audio_op3(0, b"loud"))
    a.send_binary(audio_op3(255, b"quiet"))
    frm = a.member.to_bytes(4, "big")
    got = [m for m in barrier(b) if m[0] == "binary"]
    assert got == [("binary", b"\x01" + frm + b"loud"), ("binary", b"\x01" + frm + b"quiet")]


def wait_speaking(c, want, timeout):
    """Reads until a `speaking` message listing `want`; returns the speaking messages seen."""
    seen = []
    while True:
        raw = c.recv_msg(timeout=timeout)
        if raw[0] != "text":
            continue  # audio
        m = json.loads(raw[1])
        if m["type"] != "speaking":
            continue
        assert "seq" not in m, m
        seen.append(m["members"])
        if m["members"] == want:
            return seen


class Talker(threading.Thread):
    """Sends 0x03 frames with `level` every 20 ms until stopped (the client's only writer)."""

    def __init__(self, client, level):
        super().__init__(daemon=True)
        self.client, self.level = client, level
        self.done = threading.Event()

    def run(self):
        while not self.done.wait(0.02):
            self.client.send_binary(audio_op3(self.level, b"opus"))

    def stop(self):
        self.done.set()
        self.join(T(5))


def test_speaking_set_from_levels(server):
    room, h, a, b = host_and_two(server)
    c = member(server, room, "c")
    drain_joined((h, 1), (a, 1), (b, 1))
    talkers = [Talker(a, 30), Talker(b, 20), Talker(c, 60)]  # c: quieter than the threshold
    for t in talkers:
        t.start()
    try:
        seen = wait_speaking(h, [b.member, a.member], T(10))
        assert all(set(s) <= {a.member, b.member} for s in seen), seen
        # A joiner hears the set right after its welcome: the set as it is then, loudest first.
        # That is [b, a] unless a talker thread went 300 ms without sending (a loaded machine),
        # when its member has rightly left the set; c, too quiet, is never in it.
        d = member(server, room, "d")
        first = d.recv_json()
        assert first["type"] == "speaking" and first["members"], first
        assert first["members"] in ([b.member, a.member], [b.member], [a.member]), first
    finally:
        for t in talkers:
            t.stop()
    wait_speaking(h, [], T(10))  # silence empties it


def test_only_relayed_level_frames_count(server):
    room, h, a, b = host_and_two(server, seats=1)
    a.send_json({"type": "take_seat"})
    everyone("seats", h, a, b)
    b.send_binary(b"\x01" + b"v1 only")  # standing in seat mode: dropped, not counted
    b.send_binary(audio_op3(0, b"x"))
    assert errors_in(barrier(b)) == ["forbidden"]
    a.send_binary(b"\x01" + b"v1")  # 0x01 never makes anyone speaking
    a.send_binary(audio_op3(10, b"y"))
    # The first set announced is a alone: b's dropped frame, just before, did not count.
    assert wait_speaking(h, [a.member], T(10))[0] == [a.member]
    wait_speaking(h, [], T(10))
