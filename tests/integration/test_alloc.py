"""The audio fan-out path allocates nothing once warm: the frame pools' heap-allocation counter
(exported on /metrics) stays flat while thousands of audio frames flow through a room."""

import re

from harness import T, Reader, uniq


def heap_allocations(server):
    text = server.http("/metrics").body.decode()
    match = re.search(r"^chorus_frame_buffer_heap_allocations_total (\d+)$", text, re.M)
    assert match, "metric missing"
    return int(match.group(1))


def test_audio_fan_out_allocates_nothing_once_warm(chorusd):
    server = chorusd()
    room = uniq()
    speaker = server.join(room, user="speaker")
    listeners = [server.join(room, user=f"l{i}") for i in range(5)]
    readers = [Reader(c) for c in listeners]
    for r in readers:
        r.start()

    def burst(first, count):
        for i in range(first, first + count):
            speaker.send_binary(b"\x01" + i.to_bytes(4, "big") + b"x" * 120)
        for r in readers:
            r.wait_for(lambda r, n=first + count: len(r.binary) >= n, T(10), f"{first + count}")

    for start in range(0, 6500, 500):
        burst(start, 500)
    allocations = heap_allocations(server)
    for r in readers:
        r.finish()
    # A pool grows only when more frames are in flight at once than ever before, never per
    # frame. Each burst of 500 is fully delivered before the next starts, so at most ~500 audio
    # frames (plus a few control messages) are ever alive: 6500 frames x 5 receivers (32500
    # deliveries) must cost no more buffers than that, however fast the receivers read.
    assert allocations <= 600, f"{allocations} heap allocations for 6500 frames"
