"""Binary audio frames: room audio to every other member, whisper audio to one, per-sender
order, the errors for malformed frames (rate-limited per code), muting, and --max-frame.
"""

import struct
import threading
import time

import pytest

from harness import (T, Reader, assert_fields, audio, barrier, errors_in, room_path, uniq,
                     welcome_of)
from wsclient import OP_BINARY, OP_CONT, OP_TEXT


@pytest.fixture(scope="module")
def server(chorusd_module):
    return chorusd_module("--max-frame", "1000")


def trio(server):
    room = uniq()
    a = server.join(room, user="a")
    b = server.join(room, user="b")
    c = server.join(room, user="c")
    for x, n in ((a, 2), (b, 1)):
        for _ in range(n):
            x.recv_json("joined")
    return a, b, c


def test_room_audio_goes_to_every_other_member(server):
    a, b, c = trio(server)
    a.send_binary(b"\x01opus-packet")
    for x in (b, c):
        assert x.recv_binary() == audio(1, a.member, b"opus-packet")
    # The sender does not get its own audio back: nothing before the barrier's pong.
    assert barrier(a) == []


@pytest.mark.deadline(45)
def test_per_sender_order_is_preserved(server):
    a, b, c = trio(server)
    for i in range(200):
        a.send_binary(b"\x01" + struct.pack("!I", i) + b"a" * 100)
        b.send_binary(b"\x01" + struct.pack("!I", i) + b"b" * 50)
    got = {a: [], b: [], c: []}
    want = {a: 200, b: 200, c: 400}
    for x in (a, b, c):
        while len(got[x]) < want[x]:
            got[x].append(x.recv_binary(timeout=T(10)))
    for x in (a, b, c):
        for sender, tail in ((a, b"a" * 100), (b, b"b" * 50)):
            if sender is x:
                continue
            frames = [f for f in got[x] if f[1:5] == sender.member.to_bytes(4, "big")]
            assert frames == [audio(1, sender.member, struct.pack("!I", i) + tail)
                              for i in range(200)]


def test_whisper_audio_reaches_target_only(server):
    a, b, c = trio(server)
    a.send_binary(b"\x02" + c.member.to_bytes(4, "big") + b"secret")
    a.send_binary(b"\x01after")
    assert c.recv_binary() == audio(2, a.member, b"secret")
    assert c.recv_binary() == audio(1, a.member, b"after")
    assert b.recv_binary() == audio(1, a.member, b"after")  # no whisper first
    assert barrier(a) == []


def test_whisper_audio_to_absent_member(server):
    a, b, c = trio(server)
    absent = max(a.member, b.member, c.member) + 1000
    a.send_binary(b"\x02" + absent.to_bytes(4, "big") + b"lost")
    assert errors_in(barrier(a)) == ["no_such_member"]


# 0x03 is room audio with a level since v1.1 (test_seats.py): only a bare 0x03 is malformed.
@pytest.mark.parametrize("frame", [b"", b"\x04abc", b"\x03", b"\x00", b"\xff\x01", b"\x02",
                                   b"\x02\x00\x00\x00"])
def test_malformed_binary_is_bad_message(server, frame):
    a, b, c = trio(server)
    a.send_binary(frame)
    assert errors_in(barrier(a)) == ["bad_message"]
    a.send_binary(b"\x01still-open")
    assert b.recv_binary() == audio(1, a.member, b"still-open")


def test_empty_room_audio_is_dropped(server):
    a, b, c = trio(server)
    a.send_binary(b"\x01")
    a.send_binary(b"\x01x")
    assert b.recv_binary() == audio(1, a.member, b"x")
    assert barrier(a) == []


def test_binary_errors_at_most_once_per_code_per_second(server):
    a, b, c = trio(server)
    t0 = time.monotonic()
    for _ in range(10):
        a.send_binary(b"\x07bad op")
    for _ in range(10):
        a.send_binary(b"\x02" + (2**32 - 1).to_bytes(4, "big") + b"nobody")
    codes = errors_in(barrier(a))
    if time.monotonic() - t0 < 0.9:
        assert sorted(codes) == ["bad_message", "no_such_member"], codes
    else:
        assert 1 <= codes.count("bad_message") <= 2 and 1 <= codes.count("no_such_member") <= 2
    # A second later the same code is reported again.
    time.sleep(max(0.0, t0 + 1.1 - time.monotonic()))
    a.send_binary(b"")
    assert errors_in(barrier(a, "again")) == ["bad_message"]


def test_muted_member_audio_dropped_with_one_forbidden_per_second(server):
    a, b, c = trio(server)
    a.send_json({"type": "mute", "muted": True})
    for x in (a, b, c):
        assert_fields(x.recv_json("muted"), {"member": a.member, "muted": True, "by": a.member})
    t0 = time.monotonic()
    for i in range(10):
        a.send_binary(b"\x01muted" + bytes([i]))
    a.send_binary(b"\x02" + b.member.to_bytes(4, "big") + b"muted whisper")
    codes = errors_in(barrier(a))
    if time.monotonic() - t0 < 0.9:
        assert codes == ["forbidden"]
    else:
        assert 1 <= len(codes) <= 2 and set(codes) == {"forbidden"}
    a.send_json({"type": "mute", "muted": False})
    a.send_binary(b"\x01unmuted")
    for x in (b, c):
        assert x.recv_json("muted")["muted"] is False
        assert x.recv_binary() == audio(1, a.member, b"unmuted")


def test_frame_at_max_frame_is_relayed(server):
    a, b, c = trio(server)
    frame = b"\x01" + b"z" * 999
    assert len(frame) == 1000
    a.send_binary(frame)
    assert b.recv_binary() == audio(1, a.member, b"z" * 999)


@pytest.mark.parametrize("kind", ["binary", "text", "fragmented"])
def test_message_over_max_frame_is_1009(server, kind):
    a, b, c = trio(server)
    if kind == "binary":
        a.send_binary(b"\x01" + b"z" * 1000)
    elif kind == "text":
        a.send_json({"type": "chat", "text": "t" * 1000})
    else:
        a.send_frame(OP_BINARY, b"\x01" + b"z" * 599, fin=False)
        a.send_frame(OP_CONT, b"z" * 401, fin=True)
    a.expect_close(1009)
    # Nothing of it reached the others (at most a "left" event); the room goes on.
    b.send_binary(b"\x01next")
    while True:
        m = c.recv_msg()
        if m[0] == "binary":
            assert m[1] == audio(1, b.member, b"next")
            break
        assert m[0] == "text" and '"left"' in m[1], m


def test_fragmented_audio_is_reassembled(server):
    a, b, c = trio(server)
    a.send_frame(OP_BINARY, b"\x01par", fin=False)
    a.send_frame(OP_CONT, b"ts", fin=True)
    assert b.recv_binary() == audio(1, a.member, b"parts")
    a.send_frame(OP_TEXT, b'{"type":"chat",', fin=False)
    a.send_frame(OP_CONT, b'"text":"joined up"}', fin=True)
    assert b.recv_json("chat")["text"] == "joined up"


@pytest.mark.deadline(45)
def test_audio_sent_after_a_welcome_always_arrives(server):
    """The welcome comes only once the member is registered everywhere (PROTOCOL.md section 2):
    a frame the speaker sends after a listener holds its welcome must reach that listener, and
    from its first frame on a listener misses none."""
    room = uniq()
    speaker = server.join(room, user="speaker")
    frames = 600
    sent_at = [0.0] * frames

    def speak():
        for i in range(frames):
            sent_at[i] = time.monotonic()
            speaker.send_binary(b"\x01" + struct.pack("!I", i))
            time.sleep(0.002)

    talker = threading.Thread(target=speak, daemon=True)
    talker.start()
    listeners = []
    for wave in range(4):
        pending = [server.handshake(room_path(room, user=f"l{wave}-{i}")) for i in range(6)]
        for hs in pending:
            c = welcome_of(server.finish(hs))
            c.welcomed_at = time.monotonic()
            reader = Reader(c)
            reader.start()
            listeners.append((c, reader))
        time.sleep(0.1)
    talker.join(T(20))
    last = audio(1, speaker.member, struct.pack("!I", frames - 1))
    for c, reader in listeners:
        if sent_at[-1] > c.welcomed_at:
            reader.wait_for(lambda r: last in r.binary, T(10), "the last frame")
        reader.finish()
        got = [struct.unpack("!I", f[5:9])[0] for f in reader.binary]
        must = [i for i in range(frames) if sent_at[i] > c.welcomed_at]
        assert not set(must) - set(got), (c.member, sorted(set(must) - set(got))[:10])
        if got:
            assert got == list(range(got[0], frames)), (c.member, got[:20])
