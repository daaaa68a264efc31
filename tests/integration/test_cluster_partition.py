"""A node cut off from Redis (issue 15), with a relay that stops carrying bytes without closing
anything, as a network partition does (cluster_harness.Partition; no netns needed): the cut
node's members keep talking among themselves, the other nodes time them out, and when the path
heals the node re-registers them. Checked: nobody is closed, every member's seqs keep
increasing, no member id is held twice in Redis, and the room works across nodes again.
"""


from cluster_harness import redis  # noqa: F401 (a fixture)
from cluster_harness import (Cluster, Collector, Partition, healthz, join, stop_collectors,
                             wait_chat, wait_healthy)
from harness import T, uniq, wait_until


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


def alice_apart_from_bob_and_carol(c):
    """One room: alice on node 0, bob and carol on node 1 (behind the partition), each with a
    Collector; returns once alice has seen both join."""
    room = uniq()
    alice = join(c[0], room, "alice")
    bob, carol = join(c[1], room, "bob"), join(c[1], room, "carol")
    cols = {n: Collector(x, n) for n, x in (("alice", alice), ("bob", bob), ("carol", carol))}
    cols["alice"].wait(lambda s: len(s.of_type("joined")) == 2, T(5), "alice: joins")
    return room, alice, bob, carol, cols


def seqs_increase(col, after, who):
    seqs = [e["seq"] for e in col.seqd()]
    assert all(s > after for s in seqs), f"{who}: seq at or below {after}: {seqs}"
    assert seqs == sorted(set(seqs)), f"{who}: seqs not strictly increasing: {seqs}"


def test_node_cut_off_past_node_timeout_talks_locally_and_comes_back(redis):
    part = Partition(redis.port)
    c = split_cluster(redis, part)
    try:
        room, alice, bob, carol, cols = alice_apart_from_bob_and_carol(c)

        # The cut begins as bob's chat is on its way to Redis (cut_on: whatever the machine's
        # speed; a chat sent once the node has seen the cut never reaches Redis, and then alice
        # would never see it). The cut node's members go on among themselves: chat and audio.
        part.cut_on(b"during the cut")
        bob.send_json({"type": "chat", "text": "during the cut"})
        wait_chat(cols["carol"], "during the cut", T(15))
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
        # Re-registered (the restore script runs once the link is up): each member once in
        # Redis, under its own id.
        key = f"chorus:{{{room}}}:m"
        held = wait_until(lambda: (lambda h: h if len(h) >= 6 else None)(
            redis.command("HGETALL", key)), T(10), "bob and carol re-registered")
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
        # A ping answered on each connection: whatever the node queued for it before (an
        # extra left, a second copy, a close) has arrived.
        for n, x in (("alice", alice), ("bob", bob), ("carol", carol)):
            x.send_json({"type": "ping", "t": "end"})
            cols[n].wait(lambda s: any(e.get("t") == "end" for e in s.of_type("pong")), T(10),
                         f"{n}: the closing ping's pong")
        for n, col in cols.items():
            assert not col.ended and col.error is None, f"{n}: {col.close} {col.lost}"
            assert col.of_type("error") == [], f"{n}: {col.of_type('error')}"
            seqs_increase(col, {"alice": alice, "bob": bob, "carol": carol}[n].welcome["seq"], n)
        # What each side saw of the other (docs/CLUSTER.md, "What users see"): the cut node's
        # members saw nobody leave; alice saw them leave (timeout) and, after the heal, their
        # chat from during the cut, once, and everything after it. No event came twice: the
        # chat sent as the cut began has an unknown outcome for the cut node, which delivers it
        # itself; the script, held in the network, runs when the path heals, and the node drops
        # that copy by its op id.
        assert cols["bob"].of_type("left") == [] and cols["carol"].of_type("left") == []
        for n, col in cols.items():
            texts = [e["text"] for e in col.of_type("chat")]
            assert len(texts) == len(set(texts)), f"{n} got a chat twice: {texts}"
            assert "during the cut" in texts, texts
        assert [e["text"] for e in cols["alice"].of_type("chat")] == \
            ["during the cut", "after the cut", "carol is back"]
    finally:
        stop_collectors()
        failures = c.stop()
        part.close()
    assert not failures, failures


def test_slow_lossy_path_to_redis_keeps_order_and_ids(redis):
    # Both nodes reach Redis over a link with 2 ms each way and, every 5th chunk relayed, a
    # 200 ms stall: what loss does to a TCP stream (the lost segment's retransmission holds back
    # everything behind it), far more often than 1% loss would. The contract holds: one seq order, consecutive, on both nodes;
    # each sender's audio in order; whispers to their target only; unique member ids.
    links = [Partition(redis.port, delay=0.002, stall_every=5, stall=0.2) for _ in range(2)]
    c = Cluster(redis, 0, resume_grace="5s", node_timeout="3s")
    direct = c.base
    try:
        for link in links:
            c.base = [link.url if x == redis.url else x for x in direct]
            c.add_node()
        c.base = direct
        room = uniq()
        people = {}
        for i, name in enumerate(["a", "b", "d", "e"]):
            people[name] = join(c[i % 2], room, name)
        cols = {n: Collector(x, n) for n, x in people.items()}
        cols["a"].wait(lambda s: len(s.of_type("joined")) == 3, T(10), "a: joins")
        cols["d"].wait(lambda s: len(s.of_type("joined")) == 1, T(10), "d: e joined")
        ids = [x.member for x in people.values()]
        assert len(set(ids)) == 4, ids
        n = 30
        for i in range(n):
            for name, x in people.items():
                x.send_json({"type": "chat", "text": f"{name}{i}"})
                x.send_binary(frame(1, f"{name}:{i:03d}".encode()))
        people["a"].send_binary(bytes([2]) + people["b"].member.to_bytes(4, "big") + b"to b")
        for name, col in cols.items():
            col.wait(lambda s: len(s.of_type("chat")) >= 4 * n, T(30), f"{name}: chats")
        orders = {name: [(e["seq"], e["text"]) for e in col.of_type("chat")]
                  for name, col in cols.items()}
        assert orders["a"] == orders["b"] == orders["d"] == orders["e"], "orders differ"
        seqs = [s for s, _ in orders["a"]]
        assert seqs == list(range(seqs[0], seqs[0] + 4 * n)), seqs
        for name, x in people.items():
            mine = [t for _, t in orders["a"] if t.startswith(name)]
            assert mine == [f"{name}{i}" for i in range(n)], mine
        for name, col in cols.items():
            col.wait(lambda s: len([a for a in s.audio if a[0] == 1]) >= 3 * n, T(30),
                     f"{name}: audio")
            for other, x in people.items():
                if other != name:
                    assert col.audio_from(x.member) == \
                        [f"{other}:{i:03d}".encode() for i in range(n)], (name, other)
        cols["b"].wait(lambda s: s.audio_from(people["a"].member, op=2), T(10), "b: whisper")
        for name in ("a", "d", "e"):
            assert cols[name].audio_from(people["a"].member, op=2) == []
        assert all(link.stalls > 0 for link in links), [link.stalls for link in links]
    finally:
        stop_collectors()
        failures = c.stop()
        for link in links:
            link.close()
    assert not failures, failures


def test_event_whose_reply_was_cut_off_is_delivered_once_when_its_script_runs_late(redis):
    """A chat sent as the cut begins: its script is on the wire, the reply never comes, so the
    cut node delivers it itself. The script's bytes are stuck on the old connection and reach
    Redis only after the node has come back on new ones: the copy Redis then publishes (a later
    seq) must not reach the cut node's members a second time (docs/CLUSTER.md, op ids)."""
    part = Partition(redis.port)
    c = split_cluster(redis, part)
    try:
        room, alice, bob, carol, cols = alice_apart_from_bob_and_carol(c)

        part.cut_on(b"as the cut began")  # the script is on the wire when the cut begins
        bob.send_json({"type": "chat", "text": "as the cut began"})
        for n in ("bob", "carol"):  # delivered by their node once the script's reply failed
            wait_chat(cols[n], "as the cut began", T(15))
        # The other node times bob and carol out, so Redis holds alice alone until the cut node
        # re-registers them: their return to the hash below is then a sign that it did.
        cols["alice"].wait(lambda s: len(s.of_type("left")) == 2, T(15), "alice: timeouts")
        key = f"chorus:{{{room}}}:m"
        assert len(redis.command("HGETALL", key)) == 2
        part.heal(hold_old=True)
        wait_healthy(c[1], T(15))
        # Re-registered (the restore script runs on the new connections once the node's
        # subscription to the room is confirmed): what is sent from here on reaches the node's
        # members (events during the cut itself do not: docs/CLUSTER.md).
        wait_until(lambda: len(redis.command("HGETALL", key)) >= 6, T(10), "re-registered")
        alice.send_json({"type": "chat", "text": "after the heal"})
        for n in ("bob", "carol"):
            wait_chat(cols[n], "after the heal", T(10))

        part.release_old()  # the stuck script runs now, and Redis publishes its event
        wait_chat(cols["alice"], "as the cut began", T(10))
        alice.send_json({"type": "chat", "text": "last"})
        for n in ("bob", "carol"):  # after the published copy on their node's subscription
            wait_chat(cols[n], "last", T(10))
        for n, col in cols.items():
            texts = [e["text"] for e in col.of_type("chat")]
            assert len(texts) == len(set(texts)), f"{n} got a chat twice: {texts}"
            assert not col.ended and col.error is None, f"{n}: {col.close} {col.lost}"
            seqs_increase(col, {"alice": alice, "bob": bob, "carol": carol}[n].welcome["seq"], n)
    finally:
        stop_collectors()
        failures = c.stop()
        part.close()
    assert not failures, failures
