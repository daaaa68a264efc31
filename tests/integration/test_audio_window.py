"""The audio window (--audio-batch): a room's receivers get its audio once per window, all of
it, in per-sender order, on both backends; whispers wait for the window too; control is never
held and never overtakes audio queued before it; the flag is checked. The latency and send
savings are benchmarks (docs/BENCHMARKS.md), not asserted here.
"""

import subprocess

import pytest

from harness import CHORUSD, T, audio, metric
# The room-audio checks of test_audio.py, collected here again: they run against this module's
# servers, with the window on.
from test_audio import (test_per_sender_order_is_preserved,  # noqa: F401
                        test_room_audio_goes_to_every_other_member,
                        test_whisper_audio_reaches_target_only, trio)


@pytest.fixture(scope="module", params=["uring", "epoll"])
def server(request, chorusd_module):
    return chorusd_module("--io", request.param, "--audio-batch", "20ms")


def test_windows_are_released(server):
    a, b, c = trio(server)
    before = metric(server, "chorus_audio_windows_total") or 0
    a.send_binary(b"\x01one")
    for x in (b, c):
        assert x.recv_binary() == audio(1, a.member, b"one")
    assert metric(server, "chorus_audio_windows_total") > before


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
