"""AudioFlow: paced room audio between two members of a room of their own, running beside an
abuse or a fault, so that a test can check that nobody else notices it (every frame arrives, in
order, promptly). Used by the abuse tests.

"Promptly" is the delay the server is responsible for, so that a busy machine does not fail the
test: from the speaker's send to the kernel's receipt of the relayed frame at the listener (not
when the test's own thread got to read it), less the time the room's shard thread was ready to
run but waiting for a CPU (its schedstat run_delay).
"""

import ctypes
import ctypes.util
import os
import socket
import struct
import threading
import time

import harness
from harness import T, audio, uniq
from wsclient import Timeout

# The server's share of speaker to listener, through the whole abuse. The bugs this catches (a
# shard busy with an abuser while audio waits) hold audio for seconds; a loaded machine's stalls
# that are not CPU waits (memory reclaim, I/O, which schedstat does not count) were seen to reach
# 1.04 s under `make test-stress`, so the bound leaves room for them.
AUDIO_LATENCY_MAX = T(2.0)
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)


def _xxh3(data):
    lib = ctypes.CDLL(ctypes.util.find_library("xxhash"))  # chorusd links it, so it is here
    lib.XXH3_64bits.restype = ctypes.c_uint64
    lib.XXH3_64bits.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
    return lib.XXH3_64bits(data, len(data))


def shard_cpu_wait(server, room):
    """A function returning how long (seconds) the thread of `room`'s shard has waited for a CPU
    since it started. A room lives on shard xxh3(room) % threads (docs/ARCHITECTURE.md); the
    shard threads are chorusd's threads after the main one, in the order they were started
    (io_uring's own workers, "iou-*", aside)."""
    pid = server.proc.pid
    threads = int(server.flags[server.flags.index("--threads") + 1])
    tids = []
    for tid in sorted(int(t) for t in os.listdir(f"/proc/{pid}/task")):
        with open(f"/proc/{pid}/task/{tid}/comm") as f:
            if tid != pid and not f.read().startswith("iou-"):
                tids.append(tid)
    assert len(tids) == threads, f"expected {threads} shard threads, found {tids}"
    path = f"/proc/{pid}/task/{tids[_xxh3(room.encode()) % threads]}/schedstat"

    def waited():
        with open(path) as f:
            return int(f.read().split()[1]) / 1e9  # run time, run_delay, timeslices (ns)

    return waited


def server_share(took, waited_before, waited_then):
    """The part of a frame's `took` seconds the server is responsible for: less the time its
    shard waited for a CPU meanwhile (the wait read when the listener read the frame, so never
    more than `took` of it)."""
    return took - min(max(0.0, waited_then - waited_before), max(0.0, took))


class StampedSocket:
    """A client's socket, read with recvmsg: remembers when the kernel received the bytes of
    the last read (SO_TIMESTAMPNS, wall clock) and, with `waited`, the shard's CPU wait just
    after it."""

    def __init__(self, sock, waited=lambda: 0.0):
        self._sock = sock
        self._waited = waited
        self.received = (time.time(), waited())
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)

    def recv(self, size):
        data, ancillary, _, _ = self._sock.recvmsg(size, socket.CMSG_SPACE(16))
        at = time.time()
        for level, kind, value in ancillary:
            if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                seconds, nanoseconds = struct.unpack("qq", value[:16])
                at = seconds + nanoseconds / 1e9
        self.received = (at, self._waited())
        return data

    def fileno(self):
        return self._sock.fileno()

    def __getattr__(self, name):
        return getattr(self._sock, name)


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
        self._waited = shard_cpu_wait(server, self.room)
        self.listener.sock = StampedSocket(self.listener.sock, self._waited)
        self.arrivals = []  # (kernel receipt time, shard CPU wait then, frame)
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
                self._send_frame(self.sent)
                self.sent += 1
                next_at += self.PERIOD
                time.sleep(max(0.0, next_at - time.monotonic()))
        except Exception as e:  # reported by check()
            self.error = e
        finally:
            self._speaker_done.set()

    def _send_frame(self, seq):
        # The CPU wait is read after the clock, so that the wait subtracted is never too long.
        payload = struct.pack("!Idd", seq, time.time(), self._waited()) + b"opus" * 8
        self.speaker.send_binary(b"\x01" + payload)

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
                        self.arrivals.append(self.listener.sock.received + (m[1],))
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
        seqs, worst = [], (0.0, 0.0)
        for arrived, waited_then, frame in self.arrivals:
            assert frame[:5] == audio(1, self.speaker.member, b"")[:5], frame[:16]
            seq, sent_at, waited_before = struct.unpack_from("!Idd", frame, 5)
            seqs.append(seq)
            took = arrived - sent_at
            worst = max(worst, (server_share(took, waited_before, waited_then), took))
        assert seqs == list(range(self.sent)), "the listener lost or reordered audio"
        assert worst[0] < AUDIO_LATENCY_MAX, (
            f"the server held audio up to {worst[0]:.3f}s during the abuse ({worst[1]:.3f}s in "
            f"all, the rest with its shard waiting for a CPU)")
