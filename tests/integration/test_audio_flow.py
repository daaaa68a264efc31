"""AudioFlow's own bookkeeping, which every abuse test relies on: what it reports must come from
the server, never from how the machine happened to schedule the test's threads.
"""

import threading

from audio_flow import AudioFlow
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
    speaker_send = flow.speaker.send_binary

    def held_send(data):
        if flow.sent == 2 and not held.is_set():
            held.set()
            # Held here (past the stop check) until check() has begun, every frame counted so
            # far has arrived, and the listener has looked at its exit condition since then.
            assert flow._stop.wait(T(5)), "check() did not begin"
            flow.wait_frames(flow.sent, "the frames before the held one")
            with polls:
                seen = listener_polls[0]
                polls.wait_for(lambda: listener_polls[0] > seen or listener_gone[0], T(5))
        speaker_send(data)

    flow.listener.recv_msg = counted_recv
    flow._threads[1] = threading.Thread(target=listen_then_tell, daemon=True)
    flow.speaker.send_binary = held_send
    with flow:
        assert held.wait(T(5)), "the speaker never reached its third frame"
    assert flow.sent == 3
