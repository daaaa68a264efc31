"""A node cut off from Redis (issue 15), with a relay that stops carrying bytes without closing
anything, as a network partition does (cluster_harness.Partition; no netns needed): the cut
node's members keep talking among themselves, the other nodes time them out, and when the path
heals the node re-registers them. Checked: nobody is closed, every member's seqs keep
increasing, no member id is held twice in Redis, and the room works across nodes again.
"""

import time

from cluster_harness import redis  # noqa: F401 (a fixture)
from cluster_harness import (Cluster, Collector, Partition, healthz, join, stop_collectors,
                             wait_chat, wait_healthy)
from harness import T, uniq


def frame(op, payload):
    return bytes([op]) + payload


def split_cluster(redis, part):
    """Node 0 talks to Redis directly, node 1 through the partition."""
    c = Cluster(redis, 1, resume_grace="2s", node_timeout="1s")
    direct = c.base
    c.base = [part.url if x == redis.url else x for x in direct]
    c.add_node()
    c.base = direct
    return c


def seqs_increase(col, after, who):
    seqs = [e["seq"] for e in col.seqd()]
    assert all(s > after for s in seqs), f"{who}: seq at or below {after}: {seqs}"
    assert seqs == sorted(set(seqs)), f"{who}: seqs not strictly increasing: {seqs}"


def test_node_cut_off_past_node_timeout_talks_locally_and_comes_back(redis):
    part = Partition(redis.port)
    c = split_cluster(redis, part)
    try:
        room = uniq()
        alice = join(c[0], room, "alice")
        bob, carol = join(c[1], room, "bob"), join(c[1], room, "carol")
        cols = {n: Collector(x, n) for n, x in (("alice", alice), ("bob", bob), ("carol", carol))}
        cols["alice"].wait(lambda s: len(s.of_type("joined")) == 2, T(5), "alice: joins")

        part.cut()
        # The cut node's members go on among themselves: chat and audio.
        bob.send_json({"type": "chat", "text": "during the cut"})
        wait_chat(cols["carol"], "during the cut")
        bob.send_binary(frame(1, b"local audio"))
        cols["carol"].wait(lambda s: s.audio_from(bob.member) == [b"local audio"], T(5),
                           "carol: bob's audio during the cut")
        # Past --node-timeout and the grace, the other node times bob and carol out.
        lefts = cols["alice"].wait(lambda s: len(s.of_type("left")) == 2 and s.of_type("left"),
                                   T(15), "alice: bob and carol time out")
        assert sorted(e["member"] for e in lefts) == sorted([bob.member, carol.member])
        assert all(e["reason"] == "timeout" for e in lefts), lefts
        wait_healthy(c[1], T(10), want=(200, "degraded"))
        assert healthz(c[0]) == (200, "ok")

        part.heal()
        wait_healthy(c[1], T(15))
        # Re-registered: each member once in Redis, under its own id.
        held = redis.command("HGETALL", f"chorus:{{{room}}}:m")
        ids = sorted(int(held[i]) for i in range(0, len(held), 2))
        assert ids == sorted([alice.member, bob.member, carol.member]), held
        # The room works across nodes again, both ways.
        alice.send_json({"type": "chat", "text": "after the cut"})
        for n in ("bob", "carol"):
            wait_chat(cols[n], "after the cut", T(10))
        carol.send_json({"type": "chat", "text": "carol is back"})
        wait_chat(cols["alice"], "carol is back", T(10))
        bob.send_binary(frame(1, b"across again"))
        cols["alice"].wait(lambda s: s.audio_from(bob.member) == [b"across again"], T(10),
                           "alice: bob's audio after the cut")
        time.sleep(0.5)  # a window for anything wrong to arrive (an extra left, a close)
        for n, col in cols.items():
            assert not col.ended and col.error is None, f"{n}: {col.close} {col.lost}"
            assert col.of_type("error") == [], f"{n}: {col.of_type('error')}"
            seqs_increase(col, {"alice": alice, "bob": bob, "carol": carol}[n].welcome["seq"], n)
        # What each side saw of the other (docs/CLUSTER.md, "What users see"): the cut node's
        # members saw nobody leave; alice saw them leave (timeout) and, after the heal, their
        # chat from during the cut, once, and everything after it. No event came twice.
        assert cols["bob"].of_type("left") == [] and cols["carol"].of_type("left") == []
        for n, col in cols.items():
            texts = [e["text"] for e in col.of_type("chat")]
            # Known limit (docs/CLUSTER.md): an event sent just as the cut begins has an unknown
            # outcome for the cut node; it delivers it locally, and the script, held in the
            # network, may still run when the path heals: its members may see it twice.
            once = [t for t in texts if t != "during the cut"]
            assert len(once) == len(set(once)), f"{n} got a chat twice: {texts}"
            assert 1 <= texts.count("during the cut") <= (1 if n == "alice" else 2), texts
        assert [e["text"] for e in cols["alice"].of_type("chat")] == \
            ["during the cut", "after the cut", "carol is back"]
    finally:
        stop_collectors()
        failures = c.stop()
        part.close()
    assert not failures, failures
