"""The Redis cluster (issue 5): one room spread over several chorusd nodes behaves as one room
(audio, chat, whispers, admin actions, one seq order, unique member ids); members of a killed
or drained node resume on another node without losing events; a Redis outage degrades to
same-node service and recovers without restarting nodes; Redis losing its data keeps seqs
increasing and member ids unique.
"""

import ctypes
import ctypes.util
import time

import wsclient
from cluster_harness import redis  # noqa: F401 (a fixture)
from cluster_harness import (Cluster, Collector, Pump, RedisServer, assert_consecutive,
                             cluster_fixture, event_key, healthz, join, metric, nginx_fixture,
                             stop_collectors, wait_chat, wait_healthy)
from harness import T, assert_fields, check_refusal, make_jwt, room_path, uniq, wait_until

AUTH = "cluster-auth-secret"


cluster = cluster_fixture(3)


def frame(op, payload, target=None):
    head = bytes([op]) + (target.to_bytes(4, "big") if target is not None else b"")
    return head + payload


def last_seq(col, welcome_seq):
    seqs = [e["seq"] for e in col.seqd()]
    return max([welcome_seq] + seqs)


def seq_list(*cols):
    return [e["seq"] for col in cols for e in col.seqd()]


# ---- one room over three nodes --------------------------------------------------------------
def test_room_over_three_nodes_audio_chat_whispers_one_order(cluster):
    c = cluster(3)
    room = uniq()
    a = join(c[0], room, "a")
    b = join(c[1], room, "b")
    d = join(c[2], room, "d")
    assert_fields(a.welcome, {"seq": 1, "resumed": False, "gap": False, "members": []})
    assert_fields(b.welcome, {"seq": 2})
    assert_fields(d.welcome, {"seq": 3})
    assert [(m["member"], m["user"]) for m in b.welcome["members"]] == [(a.member, "a")]
    assert sorted((m["member"], m["user"]) for m in d.welcome["members"]) == \
        sorted([(a.member, "a"), (b.member, "b")])
    assert len({a.member, b.member, d.member}) == 3, "member ids collide across nodes"
    clients = {"a": a, "b": b, "d": d}
    cols = {k: Collector(v, k) for k, v in clients.items()}
    cols["a"].wait(lambda s: len(s.seqd()) >= 2, T(5), "a: joined b and d")
    assert [(e["type"], e["seq"], e["member"]) for e in cols["a"].seqd()] == \
        [("joined", 2, b.member), ("joined", 3, d.member)]
    # A node sends a room's audio to the nodes it knows hold members of it, and learns of d's
    # node from d's joined event: b's node too must have it before b talks (on a loaded machine
    # it came after b's first frames, which rightly never went to d's node).
    cols["b"].wait(lambda s: len(s.seqd()) >= 1, T(5), "b: joined d")
    assert [(e["type"], e["seq"], e["member"]) for e in cols["b"].seqd()] == \
        [("joined", 3, d.member)]

    # Room audio: every member gets every other member's frames, in each sender's order.
    n = 40
    for i in range(n):
        for name, cl in clients.items():
            cl.send_binary(frame(1, f"{name}:{i:04d}".encode()))
    for name, col in cols.items():
        col.wait(lambda s: len(s.audio) >= 2 * n, T(5), f"{name}: audio from both others")
        for other, cl in clients.items():
            want = [f"{other}:{i:04d}".encode() for i in range(n)] if other != name else []
            assert col.audio_from(cl.member) == want, f"{name}: audio from {other}"

    # A chat burst from members on three nodes: everyone sees the same seq order.
    for i in range(6):
        for name, cl in clients.items():
            cl.send_json({"type": "chat", "text": f"{name}-{i}"})
    for name, col in cols.items():
        col.wait(lambda s: len(s.of_type("chat")) >= 18, T(5), f"{name}: 18 chats")
    lists = {name: [event_key(e) for e in col.seqd() if e["seq"] > 3]
             for name, col in cols.items()}
    assert lists["a"] == lists["b"] == lists["d"], f"members disagree on the order: {lists}"
    assert_consecutive([k[0] for k in lists["a"]], 4, "chat burst")
    for name, cl in clients.items():  # each sender's chats in its send order
        mine = [k[4] for k in lists["a"] if k[3] == cl.member]
        assert mine == [f"{name}-{i}" for i in range(6)], mine

    # Whispers across nodes reach only the target; a missing target is no_such_member.
    a.send_json({"type": "whisper", "to": d.member, "text": "a to d"})
    b.send_json({"type": "whisper", "to": a.member, "text": "b to a"})
    a.send_binary(frame(2, b"a whispers audio to d", d.member))
    stranger = max(a.member, b.member, d.member) + 1000
    b.send_json({"type": "whisper", "to": stranger, "text": "nobody"})
    cols["d"].wait(lambda s: s.of_type("whisper") and [x for x in s.audio if x[0] == 2],
                   T(5), "d: a's whispers")
    cols["a"].wait(lambda s: s.of_type("whisper"), T(5), "a: b's whisper")
    err = cols["b"].wait_text(lambda t: t.get("type") == "error", T(5), "b: no_such_member")
    assert err["code"] == "no_such_member", err
    d.send_json({"type": "chat", "text": "end"})
    for name, col in cols.items():
        wait_chat(col, "end")
    assert [(w["from"], w["text"]) for w in cols["d"].of_type("whisper")] == [(a.member, "a to d")]
    assert [(w["from"], w["text"]) for w in cols["a"].of_type("whisper")] == [(b.member, "b to a")]
    assert cols["b"].of_type("whisper") == []
    assert [(x[1], x[2]) for x in cols["d"].audio if x[0] == 2] == \
        [(a.member, b"a whispers audio to d")]
    for name in ("a", "b"):
        assert [x for x in cols[name].audio if x[0] == 2] == [], f"{name} got a whisper"
    assert cols["a"].of_type("error") == [] and cols["d"].of_type("error") == []
    assert [e["code"] for e in cols["b"].of_type("error")] == ["no_such_member"]
    for col in cols.values():
        assert not col.ended and col.error is None


def test_concurrent_joins_on_three_nodes_get_unique_ids_and_one_order(cluster):
    c = cluster(3)
    room = uniq()
    pending = [(f"u{i}", c[i % 3].handshake(room_path(room, user=f"u{i}"))) for i in range(9)]
    clients = {}
    for user, hs in pending:
        cl = c[int(user[1:]) % 3].finish(hs)
        assert isinstance(cl, wsclient.WsClient), f"{user} refused: {cl!r}"
        clients[user] = cl
        cl.welcome = cl.recv_json("welcome")
        cl.member = cl.welcome["member"]
    ids = [cl.member for cl in clients.values()]
    assert len(set(ids)) == 9, f"member ids collide: {ids}"
    by_seq = sorted(clients.values(), key=lambda cl: cl.welcome["seq"])
    assert [cl.welcome["seq"] for cl in by_seq] == list(range(1, 10))
    for i, cl in enumerate(by_seq):
        earlier = {o.member for o in by_seq[:i]}
        assert {m["member"] for m in cl.welcome["members"]} == earlier, \
            f"welcome.members of seq {cl.welcome['seq']} on a cluster"
        later = [(o.welcome["seq"], o.member) for o in by_seq[i + 1:]]
        got = [cl.recv_json("joined") for _ in later]
        assert [(j["seq"], j["member"]) for j in got] == later


def test_mute_and_kick_across_nodes(cluster):
    c = cluster(3, flags=("--auth-secret", AUTH))
    room = uniq()

    def tok(user, admin=False):
        return make_jwt(AUTH, {"sub": user, "room": room, "exp": int(time.time()) + 300,
                               "admin": admin})

    boss = c[0].join(room, token=tok("boss", admin=True))
    x = c[1].join(room, token=tok("x"))
    y = c[2].join(room, token=tok("y"))
    cols = {"boss": Collector(boss, "boss"), "x": Collector(x, "x"), "y": Collector(y, "y")}
    boss.send_json({"type": "mute", "member": x.member, "muted": True})
    for name, col in cols.items():
        ev = col.wait_text(lambda t: t.get("type") == "muted", T(5), f"{name}: muted")
        assert_fields(ev, {"seq": 4, "member": x.member, "muted": True, "by": boss.member})
    x.send_json({"type": "mute", "muted": False})  # an admin mute is sticky
    err = cols["x"].wait_text(lambda t: t.get("type") == "error", T(5), "x: forbidden")
    assert err["code"] == "forbidden", err
    x.send_binary(frame(1, b"muted audio"))  # dropped on x's node
    boss.send_json({"type": "kick", "member": x.member})
    cols["x"].wait_end(T(5))
    assert cols["x"].close and cols["x"].close[0] == 4001, cols["x"].close
    for name in ("boss", "y"):
        ev = cols[name].wait_text(lambda t: t.get("type") == "left", T(5), f"{name}: left")
        assert_fields(ev, {"seq": 5, "member": x.member, "reason": "kicked"})
    y.send_json({"type": "chat", "text": "end"})
    for name in ("boss", "y"):
        wait_chat(cols[name], "end")
        assert cols[name].audio == [], f"{name} got audio from a muted member"
        assert [event_key(e) for e in cols[name].seqd() if e["seq"] > 3] == \
            [event_key(e) for e in cols["boss"].seqd() if e["seq"] > 3]


# ---- kill -9 ---------------------------------------------------------------------------------
def test_kill9_members_resume_on_other_nodes_and_lost_member_times_out_once(cluster):
    c = cluster(3)  # resume grace 2s, node timeout 1s
    room = uniq()
    a = join(c[0], room, "a")
    lost = join(c[0], room, "lost")
    b = join(c[1], room, "b")
    e = join(c[2], room, "e")
    cols = {n: Collector(cl, n) for n, cl in (("a", a), ("lost", lost), ("b", b), ("e", e))}
    cols["a"].wait(lambda s: len(s.seqd()) == 3, T(5), "a: three joins")
    t0 = time.monotonic()
    c.kill(0)
    cols["a"].wait_end(T(5))
    cols["lost"].wait_end(T(5))
    b.send_json({"type": "chat", "text": "while away 1"})
    wait_chat(cols["e"], "while away 1")  # two nodes: make the order of the two chats known
    e.send_json({"type": "chat", "text": "while away 2"})
    wait_chat(cols["b"], "while away 2")

    a2 = join(c[1], room, "a", resume=a.welcome["resume"], last_seq=4)
    assert_fields(a2.welcome, {"member": a.member, "user": "a", "resumed": True, "gap": False})
    assert a2.welcome["seq"] >= 6, a2.welcome
    assert b.member in {m["member"] for m in a2.welcome["members"]}
    cols["a2"] = Collector(a2, "a2")
    cols["a2"].wait(lambda s: any(x["seq"] >= a2.welcome["seq"] for x in s.seqd()) or
                    a2.welcome["seq"] == 4, T(5), "a2: replay")
    replay = [x for x in cols["a2"].seqd() if x["seq"] <= a2.welcome["seq"]]
    assert [(x["seq"], x["type"], x.get("text")) for x in replay][:2] == \
        [(5, "chat", "while away 1"), (6, "chat", "while away 2")], replay
    assert_consecutive([x["seq"] for x in replay], 5, "a2 replay")

    # "lost" never comes back: one left (timeout) after node timeout + grace, never two.
    for n in ("b", "e", "a2"):
        left = cols[n].wait_text(lambda t: t.get("type") == "left", T(10), f"{n}: left")
        assert_fields(left, {"member": lost.member, "user": "lost", "reason": "timeout"})
    took = time.monotonic() - t0
    assert took >= 1.8, f"left came {took:.2f}s after the kill, before the 2s grace"
    time.sleep(1.0)  # time-based contract: a second node's timer would have fired by now
    e.send_json({"type": "chat", "text": "end"})
    for n in ("b", "e", "a2"):
        wait_chat(cols[n], "end")
        lefts = cols[n].of_type("left")
        assert len(lefts) == 1, f"{n}: {lefts}"
    after = {n: [event_key(x) for x in cols[n].seqd() if x["seq"] > 6]
             for n in ("b", "e", "a2")}
    assert after["b"] == after["e"] == after["a2"], after
    for n, first in (("b", 4), ("e", 5)):
        assert_consecutive(seq_list(cols[n]), first, n)
    assert_consecutive(seq_list(cols["a"], cols["a2"]), 2, "a across the kill")

    # A replacement node (a new instance) serves the same room.
    f = join(c.add_node(), room, "f")
    assert {m["member"] for m in f.welcome["members"]} == {a.member, b.member, e.member}
    assert f.member not in {a.member, lost.member, b.member, e.member}
    for n in ("b", "e", "a2"):
        j = cols[n].wait_text(lambda t: t.get("type") == "joined" and t["member"] == f.member,
                              T(5), f"{n}: joined f")
        assert_fields(j, {"seq": f.welcome["seq"], "member": f.member, "user": "f"})


# ---- SIGTERM drain ---------------------------------------------------------------------------
def counters(payloads):
    return [int.from_bytes(p, "big") for p in payloads]


def test_sigterm_drains_clients_who_resume_elsewhere_without_losing_events(cluster):
    c = cluster(3, drain_timeout="3s")
    room = uniq()
    a = join(c[0], room, "a")
    d = join(c[0], room, "d")
    b = join(c[1], room, "b")
    e = join(c[2], room, "e")
    cols = {n: Collector(cl, n) for n, cl in (("a", a), ("d", d), ("b", b), ("e", e))}
    pump = Pump(b)
    cols["a"].wait(lambda s: len(s.audio) >= 5, T(5), "a: audio from b")
    e.send_json({"type": "chat", "text": "before"})
    wait_chat(cols["a"], "before")

    node0 = c.sigterm(0)
    seen = []
    deadline = time.monotonic() + T(2)
    while time.monotonic() < deadline:
        try:
            seen.append(healthz(node0.port))
        except (OSError, wsclient.WsError):
            break  # no longer accepting: too late to catch the 503
        if seen[-1] != (200, "ok"):
            break
    assert set(seen) <= {(200, "ok"), (503, "draining")}, seen
    for i in range(5):  # events while the drained members move
        e.send_json({"type": "chat", "text": f"during {i}"})
    for n in ("a", "d"):
        cols[n].wait_end(T(5))
        assert cols[n].close is not None and cols[n].close[0] == 1001, \
            f"{n}: {cols[n].close} {cols[n].lost}"
    a2 = join(c[1], room, "a", resume=a.welcome["resume"],
              last_seq=last_seq(cols["a"], a.welcome["seq"]))
    d2 = join(c[2], room, "d", resume=d.welcome["resume"],
              last_seq=last_seq(cols["d"], d.welcome["seq"]))
    for old, new in ((a, a2), (d, d2)):
        assert_fields(new.welcome, {"member": old.member, "resumed": True, "gap": False})
    cols["a2"], cols["d2"] = Collector(a2, "a2"), Collector(d2, "d2")
    rc, took = c.wait_exit(node0, T(10))
    node0.check_clean(rc)

    cols["a2"].wait(lambda s: len(s.audio) >= 5, T(5), "a2: audio from b again")
    pump.finish()
    e.send_json({"type": "chat", "text": "end"})
    for n in ("a2", "d2", "b", "e"):
        wait_chat(cols[n], "end")
    cols["e"].wait(lambda s: len(s.audio_from(b.member)) >= pump.sent, T(5), "e: all of b's audio")
    for n, first in (("a", a.welcome["seq"]), ("d", d.welcome["seq"]), ("b", b.welcome["seq"]),
                     ("e", e.welcome["seq"])):
        parts = [cols[n]] + ([cols[n + "2"]] if n + "2" in cols else [])
        assert_consecutive(seq_list(*parts), first + 1, f"{n} across the drain")
        for p in parts:
            assert p.of_type("left") == [], f"{n}: {p.of_type('left')}"
            assert p.of_type("error") == [], f"{n}: {p.of_type('error')}"
    got = counters(cols["e"].audio_from(b.member))
    assert got == list(range(pump.sent)), f"e lost or reordered b's audio ({len(got)} of " \
                                          f"{pump.sent})"
    for n in ("a", "a2", "d", "d2"):
        got = counters(cols[n].audio_from(b.member))
        assert got == sorted(set(got)), f"{n}: b's audio out of order"


# ---- Redis outage ----------------------------------------------------------------------------
def until_audio_flows(sender, col, timeout, what):
    """Sends probe audio until col receives one (service restored): subscriptions come back
    asynchronously, so a probe may be lost; the next one is sent after 0.1 s."""
    deadline = time.monotonic() + timeout
    before = len(col.audio_from(sender.member))
    sent = 0
    while not col.poll(lambda s: len(s.audio_from(sender.member)) > before, 0.1):
        assert time.monotonic() < deadline, f"audio never flowed again: {what}"
        sender.send_binary(frame(1, b"probe%d" % sent))
        sent += 1


def test_redis_restart_degrades_then_recovers_without_node_restart(cluster, redis):
    c = cluster(2)
    room = uniq()
    a = join(c[0], room, "a")
    a2 = join(c[0], room, "a2")
    b = join(c[1], room, "b")
    cols = {n: Collector(cl, n) for n, cl in (("a", a), ("a2", a2), ("b", b))}
    cols["a"].wait(lambda s: len(s.seqd()) == 2, T(5), "a: joins")
    assert metric(c[0], "chorus_cluster_up") == 1

    redis.save()
    redis.kill()
    for node in c.nodes:
        wait_healthy(node, T(5), want=(200, "degraded"))
        assert metric(node, "chorus_cluster_up") == 0
    for i in range(10):
        a.send_binary(frame(1, b"local%d" % i))
    cols["a2"].wait(lambda s: len(s.audio_from(a.member)) >= 10, T(5), "a2: same-node audio")
    assert cols["a2"].audio_from(a.member) == [b"local%d" % i for i in range(10)]
    check_refusal(c[1].refused(room_path(room, user="late")), 503, "overloaded")

    redis.restart(keep_data=True)
    for node in c.nodes:
        wait_healthy(node, T(10))
    wait_until(lambda: all(metric(n, "chorus_cluster_up") == 1 for n in c.nodes), T(5),
               "chorus_cluster_up back to 1")
    until_audio_flows(b, cols["a"], T(5), "b -> a")
    until_audio_flows(a, cols["b"], T(5), "a -> b")
    seen = max(seq_list(cols["a"]) + seq_list(cols["b"]))
    a.send_json({"type": "chat", "text": "back"})
    for n in ("a", "a2", "b"):
        ev = wait_chat(cols[n], "back")
        assert ev["seq"] > seen
    late = join(c[1], room, "late")
    assert late.member not in {a.member, a2.member, b.member}
    assert {m["member"] for m in late.welcome["members"]} == {a.member, a2.member, b.member}
    for n in ("a", "a2", "b"):
        j = cols[n].wait_text(lambda t: t.get("type") == "joined" and t["member"] == late.member,
                              T(5), f"{n}: joined late")
        assert j["seq"] == late.welcome["seq"]


def test_redis_data_loss_keeps_seq_increasing_and_ids_unique(cluster, redis):
    c = cluster(2, resume_grace="15s")
    room = uniq()
    a = join(c[0], room, "a")
    x = join(c[0], room, "x")
    b = join(c[1], room, "b")
    cols = {n: Collector(cl, n) for n, cl in (("a", a), ("x", x), ("b", b))}
    for i in range(2):
        b.send_json({"type": "chat", "text": f"c{i}"})
    wait_chat(cols["x"], "c1")
    x_last = last_seq(cols["x"], x.welcome["seq"])
    assert x_last == 5
    cols["x"].abort()
    b.send_json({"type": "chat", "text": "x missed this"})
    wait_chat(cols["a"], "x missed this")
    seen = max(seq_list(cols["a"]) + seq_list(cols["b"]))

    redis.restart(keep_data=False)
    for node in c.nodes:
        wait_healthy(node, T(10))
    until_audio_flows(b, cols["a"], T(5), "b -> a")
    until_audio_flows(a, cols["b"], T(5), "a -> b")
    b.send_json({"type": "chat", "text": "after loss"})
    evs = [wait_chat(cols[n], "after loss") for n in ("a", "b")]
    assert evs[0]["seq"] == evs[1]["seq"] > seen, (evs, seen)

    live = {a.member, x.member, b.member}
    newbie = join(c[1], room, "newbie")
    other = join(c[0], room, "other")
    assert newbie.member not in live and other.member not in live | {newbie.member}
    assert newbie.welcome["seq"] > evs[0]["seq"]
    assert {a.member, b.member} <= {m["member"] for m in newbie.welcome["members"]}

    x2 = join(c[1], room, "x", resume=x.welcome["resume"], last_seq=x_last)
    assert_fields(x2.welcome, {"member": x.member, "resumed": True})
    assert x2.welcome["seq"] >= other.welcome["seq"]
    col = Collector(x2, "x2")
    if not x2.welcome["gap"]:  # a correct replay: everything after x_last, in order
        col.wait(lambda s: any(e["seq"] == x2.welcome["seq"] for e in s.seqd()), T(5),
                 "x2: replay")
        replay = [e for e in col.seqd() if e["seq"] <= x2.welcome["seq"]]
        assert_consecutive([e["seq"] for e in replay], x_last + 1, "x2 replay")
        assert replay[0].get("text") == "x missed this", replay
    b.send_json({"type": "chat", "text": "live"})
    ev = wait_chat(col, "live")
    assert ev["seq"] > x2.welcome["seq"]


# ---- resume tokens that cannot resume (PROTOCOL.md section 6, v1.0.1) ------------------------
def flipped(token):
    i = len(token) // 2
    return token[:i] + ("A" if token[i] != "A" else "B") + token[i + 1:]


def test_resume_that_cannot_happen_is_ordinary_join_on_any_node(cluster, chorusd):
    """Forged, malformed, another user's or room's token, one signed with a key the cluster does
    not have, and a valid token whose grace is over: each is an ordinary join (new member id,
    resumed false, gap true) on the member's node and on another one, never an HTTP refusal."""
    c = cluster(2)  # resume grace 2s
    room = uniq()
    a = join(c[0], room, "a")
    b = join(c[1], room, "b")
    col = Collector(b, "b")
    token = a.welcome["resume"]
    foreign = chorusd().join(room, user="a").welcome["resume"]  # another process's random key
    other_user = join(c[1], room, "x", resume=token, last_seq=2)
    other_room = join(c[0], uniq(), "a", resume=token, last_seq=2)
    for joined in (other_user, other_room):
        assert_fields(joined.welcome, {"resumed": False, "gap": True})
    assert other_user.member != a.member  # (ids are per room: other_room may reuse a's)
    seen = {a.member, other_user.member}
    for i, bad in enumerate([flipped(token), foreign, token[:-1], "AAAA", ""]):
        again = join(c[i % 2], room, "a", resume=bad, last_seq=2)
        assert_fields(again.welcome, {"resumed": False, "gap": True})
        assert again.member not in seen, again.welcome
        seen.add(again.member)
        col.wait(lambda s: again.member in {e.get("member") for e in s.of_type("joined")}, T(5),
                 f"b: joined {again.member}")
        a = again
    # A valid token whose grace ran out: the member left (timeout), then an ordinary join.
    token = a.welcome["resume"]
    a.abort()
    col.wait(lambda s: any(e.get("member") == a.member and e.get("reason") == "timeout"
                           for e in s.of_type("left")), T(8), "b: a left (timeout)")
    late = join(c[1], room, "a", resume=token, last_seq=2)
    assert_fields(late.welcome, {"resumed": False, "gap": True})
    assert late.member not in seen


# ---- behind nginx ----------------------------------------------------------------------------
nginx = nginx_fixture()


def sessions(node):
    return metric(node, "chorus_websocket_sessions") or 0


def test_through_nginx_resume_after_the_node_is_killed(cluster, nginx):
    c = cluster(2, resume_grace="60s")  # the resume must not race the grace on a busy machine
    lb = nginx([c[0].port, c[1].port])
    assert healthz(lb.port) == (200, "ok")
    room = uniq()
    a = join(lb.port, room, "a")
    home = wait_until(lambda: [i for i, n in enumerate(c.nodes) if sessions(n) == 1] or None,
                      T(5), "a's session on one node")
    assert len(home) == 1, home
    home, other = home[0], 1 - home[0]
    b = join(c[other], room, "b")
    col_a, col_b = Collector(a, "a"), Collector(b, "b")
    col_a.wait(lambda s: s.of_type("joined"), T(5), "a: joined b")
    c.kill(home)
    col_a.wait_end(T(5))
    b.send_json({"type": "chat", "text": "missed"})
    wait_chat(col_b, "missed")

    a2 = join(lb.port, room, "a", resume=a.welcome["resume"], last_seq=2)
    assert_fields(a2.welcome, {"member": a.member, "resumed": True, "gap": False, "seq": 3})
    assert sessions(c[other]) == 2
    assert_fields(a2.recv_json("chat"), {"seq": 3, "from": b.member, "text": "missed"})
    a2.send_json({"type": "chat", "text": "back"})
    assert_fields(wait_chat(col_b, "back"), {"seq": 4, "from": a.member})
    a2.send_binary(frame(1, b"via nginx"))
    col_b.wait(lambda s: s.audio_from(a.member), T(5), "b: a's audio")
    assert col_b.audio_from(a.member) == [b"via nginx"]
    assert col_b.of_type("left") == []


# ---- rooms sharded over two Redis servers ----------------------------------------------------
def test_rooms_spread_over_two_redis_servers(redis):
    second = RedisServer()
    c = Cluster([redis, second], 2)
    try:
        # Random room names all hash to one server once in 128 runs: pick 4 for each server
        # by the nodes' own hash (xxh3 with the cluster's seed, modulo the server count).
        rooms, per_server = [], [0, 0]
        while len(rooms) < 8:
            room = uniq()
            home = redis_server_for(room, 2)
            if per_server[home] < 4:
                per_server[home] += 1
                rooms.append(room)
        pairs = []
        for room in rooms:
            a = join(c[0], room, "a")
            b = join(c[1], room, "b")
            pairs.append((room, a, b, Collector(a, "a"), Collector(b, "b")))
        for room, a, b, col_a, col_b in pairs:
            # a's node sends the room's audio to b's node once it has b's joined event.
            joined = col_a.wait_text(lambda t: t.get("type") == "joined", T(5), "joined")
            assert_fields(joined, {"seq": 2, "member": b.member})
            a.send_binary(frame(1, room.encode()))
            b.send_json({"type": "whisper", "to": a.member, "text": room})
            col_b.wait(lambda s: len(s.audio_from(a.member)) == 1, T(5), f"{room}: audio")
            assert col_b.audio_from(a.member) == [room.encode()]
            w = col_a.wait_text(lambda t: t.get("type") == "whisper", T(5), f"{room}: whisper")
            assert_fields(w, {"from": b.member, "text": room})
        # Each server holds the rooms hashed to it, and both hold some.
        held = [{k.split("{")[1].split("}")[0] for k in r.keys("chorus:{*}:m")}
                for r in (redis, second)]
        assert held[0] | held[1] == set(rooms), held
        assert held[0] and held[1] and not held[0] & held[1], held
    finally:
        stop_collectors()
        failures = c.stop()
        second.close()
    assert not failures, failures


def redis_server_for(room, servers):
    """The Redis server a node sends `room` to (redis_engine's server_for)."""
    lib = ctypes.CDLL(ctypes.util.find_library("xxhash"))  # chorusd links it, so it is here
    lib.XXH3_64bits_withSeed.restype = ctypes.c_uint64
    lib.XXH3_64bits_withSeed.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint64]
    data = room.encode()
    return lib.XXH3_64bits_withSeed(data, len(data), 0x63686f72) % servers
