"""AudioFlow's own bookkeeping, which every abuse test relies on: what it reports must come from
the server, never from how the machine happened to schedule the test's threads.
"""

import threading

from audio_flow import AudioFlow, server_share
from harness import T


def test_a_frame_sent_while_the_flow_stops_is_waited_for(chorusd):
    """A busy machine can hold the speaker between its last look at the stop flag and its send
    for as long as it likes. The listener must still wait for that frame: it used to stop as soon
    as it had every frame counted so far, and check() then timed out "waiting for all N audio
    frames" although the server had relayed every one."""
    server = chorusd()
    flow = AudioFlow(server)
    polls = threading.Condition()
    listener_polls, listener_gone = [0], [False]
    listener_recv = flow.listener.recv_msg

    def counted_recv(*args, **kw):
        with polls:
            listener_polls[0] += 1
            polls.notify_all()
        return listener_recv(*args, **kw)

    def listen_then_tell():
        try:
            flow._listen()
        finally:
            with polls:
                listener_gone[0] = True
                polls.notify_all()

    held = threading.Event()
    send_frame = flow._send_frame

    def held_send(seq):
        if seq == 2 and not held.is_set():
            held.set()
            # Held here (past the stop check) until check() has begun, every frame counted so
            # far has arrived, and the listener has looked at its exit condition since then.
            assert flow._stop.wait(T(5)), "check() did not begin"
            flow.wait_frames(flow.sent, "the frames before the held one")
            with polls:
                seen = listener_polls[0]
                polls.wait_for(lambda: listener_polls[0] > seen or listener_gone[0], T(5))
        send_frame(seq)

    flow.listener.recv_msg = counted_recv
    flow._threads[1] = threading.Thread(target=listen_then_tell, daemon=True)
    flow._send_frame = held_send
    with flow:
        assert held.wait(T(5)), "the speaker never reached its third frame"
    assert flow.sent == 3


def test_the_server_is_not_blamed_for_time_its_shard_waited_for_a_cpu():
    """A frame that took 2.5 s while the room's shard waited 2 s for a CPU (a busy machine) was
    held 0.5 s by the server; a frame that took 1.5 s with no wait was held 1.5 s by it."""
    assert server_share(2.5, 10.0, 12.0) == 0.5
    assert server_share(1.5, 3.0, 3.0) == 1.5
    # The wait is read when the listener reads the frame, which may be after it arrived: the
    # server's share never goes below zero.
    assert server_share(0.3, 1.0, 2.0) == 0.0
