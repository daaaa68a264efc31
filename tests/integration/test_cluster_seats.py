"""Mic seats, hands and the speaking set across nodes (PROTOCOL.md v1.1 in a cluster): one seat
taken from two nodes at once is won by exactly one member, the other gets seat_taken; a seat and
a hand survive a resume on another node; a kill -9 of the sitter's node releases both exactly
once, after the grace; hosts, seats and hands in welcomes agree across nodes; the speaking set
is the same on every node; seats and hands changed on a node cut off from Redis give way to the
room's when it is back, with `by` 0 events to that node's members. The waits that are bare
sleeps are the time-based contract itself.
"""

import time

from cluster_harness import redis  # noqa: F401 (a fixture)
from cluster_harness import Collector, cluster_fixture, join, wait_chat, wait_healthy
from harness import T, assert_fields, metric, uniq

cluster = cluster_fixture(2)


def seats_of(event):
    return [s["member"] for s in event["list"]]


def test_welcomes_agree_across_nodes(cluster):
    c = cluster(2, flags=("--default-seats", "3"))
    room = uniq()
    h = join(c[0], room, "host", admin=1)
    assert h.welcome["admin"] is True
    assert seats_of(h.welcome["seats"]) == [None, None, None]
    a = join(c[1], room, "a")
    assert {m["member"]: m["admin"] for m in a.welcome["members"]} == {h.member: True}
    assert_fields(h.recv_json("joined"), {"member": a.member, "admin": False})
    a.send_json({"type": "take_seat", "seat": 2})
    e = h.recv_json("seats")
    assert_fields(e, {"by": a.member, "count": 3})
    assert a.recv_json("seats") == e
    a.send_json({"type": "hand", "raised": True})
    assert h.recv_json("hand") == a.recv_json("hand")
    h.send_json({"type": "seat", "seat": 0, "locked": True})
    e = a.recv_json("seats")
    assert h.recv_json("seats") == e
    b = join(c[0], room, "b")
    assert seats_of(b.welcome["seats"]) == [None, None, a.member]
    assert b.welcome["seats"]["list"][0]["locked"] is True
    assert b.welcome["hands"] == [a.member]
    d = join(c[1], room, "d")
    assert d.welcome["seats"] == b.welcome["seats"] and d.welcome["hands"] == [a.member]
    assert {m["member"]: m["admin"] for m in d.welcome["members"]} == {
        h.member: True, a.member: False, b.member: False}


def test_one_seat_raced_from_two_nodes_has_one_winner(cluster):
    c = cluster(2, flags=("--default-seats", "1"))
    room = uniq()
    a = join(c[0], room, "a")
    b = join(c[1], room, "b")
    a.recv_json("joined")
    col_a, col_b = Collector(a, "a"), Collector(b, "b")

    def errors():
        return col_a.of_type("error") + col_b.of_type("error")

    rounds = 12
    for n in range(rounds):
        a.send_json({"type": "take_seat", "seat": 0})
        b.send_json({"type": "take_seat", "seat": 0})
        for col in (col_a, col_b):  # the winner stands up once it has seen itself sit
            col.wait(lambda s, n=n: len(s.of_type("seats")) > 2 * n, T(10), f"round {n}: taken")
        winner = seats_of(col_a.of_type("seats")[2 * n])[0]
        assert winner in (a.member, b.member)
        loser = col_b if winner == a.member else col_a
        lost = len(loser.of_type("error"))
        loser.wait(lambda s, k=lost: len(s.of_type("error")) > k or len(errors()) > n, T(10),
                   f"round {n}: the loser's error")
        (a if winner == a.member else b).send_json({"type": "leave_seat"})
        for col in (col_a, col_b):  # both nodes have the seat free again
            col.wait(lambda s, n=n: len(s.of_type("seats")) >= 2 * n + 2, T(10),
                     f"round {n}: free again")
    a.send_json({"type": "chat", "text": "end"})
    wait_chat(col_a, "end")
    wait_chat(col_b, "end")
    # One winner and one seat_taken per round, the same events in the same order on both nodes.
    assert [e["code"] for e in errors()] == ["seat_taken"] * rounds, errors()
    assert col_a.seqd() == col_b.seqd()
    takes = col_a.of_type("seats")
    assert len(takes) == 2 * rounds
    for n in range(rounds):
        assert seats_of(takes[2 * n])[0] is not None and seats_of(takes[2 * n + 1]) == [None]
    # How many rounds the two nodes really raced (their requests crossed in Redis) depends on
    # timing; it is printed for the record, never asserted.
    print("seat commits retried:", sum(metric(n, "chorus_cluster_seat_retries_total") or 0
                                       for n in (c[0], c[1])))


def test_seat_and_hand_survive_a_resume_on_another_node(cluster):
    c = cluster(2, flags=("--default-seats", "2"), resume_grace="5s")
    room = uniq()
    h = join(c[0], room, "host", admin=1)
    a = join(c[0], room, "a")
    h.recv_json("joined")
    a.send_json({"type": "take_seat", "seat": 1})
    a.send_json({"type": "hand", "raised": True})
    h.recv_json("seats")
    h.recv_json("hand")
    col_h = Collector(h, "host")
    a.abort()
    a2 = join(c[1], room, "a", resume=a.welcome["resume"], last_seq=a.welcome["seq"] + 2)
    assert_fields(a2.welcome, {"member": a.member, "resumed": True})
    assert seats_of(a2.welcome["seats"]) == [None, a.member]
    assert a2.welcome["hands"] == [a.member]
    # Its node knows the seat: its audio reaches the host on the other node.
    a2.send_binary(b"\x01" + b"from the seat")
    col_h.wait(lambda s: s.audio_from(a.member) == [b"from the seat"], T(10), "a's audio")
    a2.send_json({"type": "chat", "text": "resumed"})
    wait_chat(col_h, "resumed")
    assert col_h.of_type("seats") == [] and col_h.of_type("hand") == []
    assert col_h.of_type("left") == []


def test_kill_9_of_the_sitters_node_releases_once_after_the_grace(cluster):
    c = cluster(3, flags=("--default-seats", "2"), resume_grace="2s", node_timeout="1s")
    room = uniq()
    h = join(c[0], room, "host", admin=1)
    o = join(c[2], room, "o")
    a = join(c[1], room, "a")
    h.recv_json("joined")
    h.recv_json("joined")
    o.recv_json("joined")
    a.send_json({"type": "take_seat", "seat": 0})
    a.send_json({"type": "hand", "raised": True})
    for x in (h, o):
        x.recv_json("seats")
        x.recv_json("hand")
    col_h, col_o = Collector(h, "host"), Collector(o, "o")
    t_kill = time.monotonic()
    c.kill(1)
    for col in (col_h, col_o):
        col.wait_text(lambda t: t.get("type") == "hand", T(15), "the released hand")
    assert time.monotonic() - t_kill >= 1.3 + 2.0 - 0.5, "released before the grace was over"
    h.send_json({"type": "chat", "text": "after"})  # anything more would come before this
    wait_chat(col_h, "after")
    wait_chat(col_o, "after")
    for col in (col_h, col_o):
        kinds = [(t["type"], t.get("by")) for t in col.seqd()]
        assert kinds == [("left", None), ("seats", 0), ("hand", 0), ("chat", None)], col.seqd()
        left, seats, hand = col.seqd()[:3]
        assert_fields(left, {"member": a.member, "reason": "timeout"})
        assert seats_of(seats) == [None, None] and seats["seq"] == left["seq"] + 1
        assert_fields(hand, {"member": a.member, "raised": False, "seq": left["seq"] + 2})
    assert col_h.seqd() == col_o.seqd()


def test_speaking_set_is_the_same_on_every_node(cluster):
    c = cluster(2)
    room = uniq()
    a = join(c[0], room, "a")
    b = join(c[1], room, "b")
    a.recv_json("joined")
    col_a, col_b = Collector(a, "a"), Collector(b, "b")
    deadline = time.monotonic() + T(10)

    def spoke(col):
        return [t for t in col.of_type("speaking") if t["members"] == [a.member]]

    while not (spoke(col_a) and spoke(col_b)):
        assert time.monotonic() < deadline, (col_a.of_type("speaking"), col_b.of_type("speaking"))
        a.send_binary(bytes([0x03, 20]) + b"opus")
        time.sleep(0.02)  # the pacing of the audio
    for col in (col_a, col_b):
        col.wait(lambda s: s.of_type("speaking")[-1]["members"] == [], T(10), "silence")
    assert col_b.audio_from(a.member)  # relayed as 0x01


def test_seats_go_on_among_a_nodes_members_while_redis_is_down_and_come_back(cluster, redis):
    c = cluster(2, flags=("--default-seats", "2"))
    room = uniq()
    h = join(c[0], room, "host", admin=1)
    a = join(c[0], room, "a")
    h.recv_json("joined")
    a.send_json({"type": "take_seat", "seat": 0})
    e = h.recv_json("seats")
    assert seats_of(e) == [a.member, None] and a.recv_json("seats") == e
    redis.save()  # it comes back with the room, its members and its seats
    redis.kill()
    wait_healthy(c[0], T(5), want=(200, "degraded"))
    # Degraded: the change is applied among the members of this node, numbered after the last
    # seq seen, and the seated member is still heard.
    a.send_json({"type": "take_seat", "seat": 1})
    e = h.recv_json("seats")
    assert seats_of(e) == [None, a.member] and a.recv_json("seats") == e
    a.send_binary(b"\x01" + b"degraded")
    assert h.recv_binary() == b"\x01" + a.member.to_bytes(4, "big") + b"degraded"
    redis.start()
    wait_healthy(c[0], T(10))
    wait_healthy(c[1], T(10))
    # Back: Redis kept a on seat 0, and the members here are told so (the change made while cut
    # off is not in the room's order); a newcomer elsewhere sees the same; changes commit again.
    e = h.recv_json("seats", timeout=T(10))
    assert_fields(e, {"by": 0})
    assert seats_of(e) == [a.member, None] and a.recv_json("seats") == e
    b = join(c[1], room, "b")
    assert seats_of(b.welcome["seats"]) == [a.member, None]
    a.send_json({"type": "leave_seat"})
    col_b = Collector(b, "b")
    e = col_b.wait_text(lambda t: t.get("type") == "seats", T(10), "b: a stood up")
    assert seats_of(e) == [None, None]


def test_hands_raised_while_redis_is_down_give_way_to_the_rooms_when_it_comes_back(cluster, redis):
    c = cluster(2)
    room = uniq()
    h = join(c[0], room, "host", admin=1)
    a = join(c[0], room, "a")
    h.recv_json("joined")
    a.send_json({"type": "hand", "raised": True})
    assert h.recv_json("hand") == a.recv_json("hand")
    redis.save()  # it comes back with a's hand up
    redis.kill()
    wait_healthy(c[0], T(5), want=(200, "degraded"))
    # Degraded: a lowers its hand and the host raises one, among the members here only.
    a.send_json({"type": "hand", "raised": False})
    e = h.recv_json("hand")
    assert_fields(e, {"member": a.member, "raised": False})
    assert a.recv_json("hand") == e
    h.send_json({"type": "hand", "raised": True})
    e = a.recv_json("hand")
    assert_fields(e, {"member": h.member, "raised": True})
    assert h.recv_json("hand") == e
    col_h, col_a = Collector(h, "host"), Collector(a, "a")
    redis.start()
    wait_healthy(c[0], T(10))
    wait_healthy(c[1], T(10))
    # Back: the room's hands stand (a's up, the host's down), told by 0, one event per hand.
    def by_0(col):
        return [(t["member"], t["raised"]) for t in col.of_type("hand") if t.get("by") == 0]

    for col in (col_h, col_a):
        col.wait(lambda s: len(by_0(s)) >= 2, T(10), "the room's hands")
    for col in (col_h, col_a):
        assert sorted(by_0(col)) == sorted([(a.member, True), (h.member, False)]), by_0(col)
    assert [t["seq"] for t in col_h.of_type("hand")] == [t["seq"] for t in col_a.of_type("hand")]
    b = join(c[1], room, "b")
    assert b.welcome["hands"] == [a.member]
