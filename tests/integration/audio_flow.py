"""AudioFlow: paced room audio between two members of a room of their own, running beside an
abuse or a fault, so that a test can check that nobody else notices it (every frame arrives, in
order, promptly). Used by the abuse tests.
"""

import struct
import threading
import time

import harness
from harness import T, audio, uniq
from wsclient import Timeout

AUDIO_LATENCY_MAX = T(1.0)  # speaker to listener, through the whole abuse


class AudioFlow:
    """A speaker and a listener in a room of their own: paced room audio (50 frames/s) for the
    whole abuse. check() asserts that every frame arrived, in order, within AUDIO_LATENCY_MAX.
    Abusers that must share the flow's shard join its room (a room lives on one shard)."""

    PERIOD = 0.02

    def __init__(self, server):
        self.server = server
        self.room = uniq("flow")
        self.speaker = server.join(self.room, user="speaker")
        self.listener = server.join(self.room, user="listener")
        self.speaker.recv_json("joined")
        self.speaker_reader = harness.Reader(self.speaker)
        self.arrivals = []  # (arrival time, frame)
        self.sent = 0
        self.error = None
        self._stop = threading.Event()
        self._speaker_done = threading.Event()  # set once `sent` is final
        self._cond = threading.Condition()
        self._threads = [threading.Thread(target=self._speak, daemon=True),
                         threading.Thread(target=self._listen, daemon=True)]

    def __enter__(self):
        self.speaker_reader.start()
        for t in self._threads:
            t.start()
        self.wait_frames(1, "the first audio frame")
        return self

    def __exit__(self, kind, value, tb):
        if kind is not None:
            self._stop.set()
            self.speaker_reader.stop = True
            return False
        self.check()
        return False

    def _speak(self):
        next_at = time.monotonic()
        try:
            while not self._stop.is_set():
                payload = struct.pack("!Id", self.sent, time.monotonic()) + b"opus" * 8
                self.speaker.send_binary(b"\x01" + payload)
                self.sent += 1
                next_at += self.PERIOD
                time.sleep(max(0.0, next_at - time.monotonic()))
        except Exception as e:  # reported by check()
            self.error = e
        finally:
            self._speaker_done.set()

    def _listen(self):
        # Until the speaker has finished and all it sent is here. Stopping on _stop instead lost
        # the frame of a speaker held between its look at _stop and its send (a busy machine
        # holds threads there for long): the listener left before that frame came.
        try:
            while not (self._speaker_done.is_set() and len(self.arrivals) >= self.sent):
                try:
                    m = self.listener.recv_msg(timeout=0.2)
                except Timeout:
                    continue
                if m[0] == "binary":
                    with self._cond:
                        self.arrivals.append((time.monotonic(), m[1]))
                        self._cond.notify_all()
                elif m[0] == "close":
                    raise AssertionError(f"the listener was closed: {m!r}")
        except Exception as e:
            with self._cond:
                self.error = e
                self._cond.notify_all()

    def wait_frames(self, n, what):
        deadline = time.monotonic() + T(5)
        with self._cond:
            while len(self.arrivals) < n:
                assert self.error is None, f"audio flow failed: {self.error!r}"
                remaining = deadline - time.monotonic()
                assert remaining > 0, f"timed out waiting for {what}"
                self._cond.wait(remaining)

    def check(self):
        self._stop.set()
        self._threads[0].join(T(5))
        assert not self._threads[0].is_alive(), "the speaker did not stop"
        assert self.error is None, f"audio flow failed: {self.error!r}"
        self.wait_frames(self.sent, f"all {self.sent} audio frames")
        self._threads[1].join(T(5))
        self.speaker_reader.finish()
        seqs, worst = [], 0.0
        for arrived, frame in self.arrivals:
            assert frame[:5] == audio(1, self.speaker.member, b"")[:5], frame[:16]
            seq, sent_at = struct.unpack_from("!Id", frame, 5)
            seqs.append(seq)
            worst = max(worst, arrived - sent_at)
        assert seqs == list(range(self.sent)), "the listener lost or reordered audio"
        assert worst < AUDIO_LATENCY_MAX, f"audio took up to {worst:.3f}s during the abuse"
