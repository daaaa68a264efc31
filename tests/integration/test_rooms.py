"""Room membership as every member sees it: the welcome, joined/left events with consecutive
seq in one order for everybody, names, unique member ids, big rooms, many rooms at once, and a
room's end (seq restarts at 1).
"""

import pytest

from harness import (MEMBER_MAX, RESUME_TOKEN_RE, T, assert_fields, room_path, uniq, wait_until,
                     welcome_of)


@pytest.fixture(scope="module")
def server(chorusd_module):
    return chorusd_module()


def check_welcome(w, room, user, name=None):
    assert w["type"] == "welcome"
    assert w["room"] == room
    assert isinstance(w["member"], int) and 1 <= w["member"] <= MEMBER_MAX, w
    assert w["user"] == user
    assert w["name"] == (name if name is not None else user)
    assert isinstance(w["seq"], int) and w["seq"] >= 1, w
    assert w["resumed"] is False and w["gap"] is False, w
    assert isinstance(w["resume"], str) and RESUME_TOKEN_RE.match(w["resume"]), w
    assert isinstance(w["members"], list), w
    for m in w["members"]:
        assert set(("member", "user", "name", "muted", "speak")) <= set(m), m


def test_first_member_welcome(server):
    room = uniq()
    a = server.join(room, user="alice")
    check_welcome(a.welcome, room, "alice")
    assert a.welcome["seq"] == 1
    assert a.welcome["members"] == []


def test_second_member_sees_first_and_first_sees_joined(server):
    room = uniq()
    a = server.join(room, user="alice", name="Alice")
    b = server.join(room, user="bob")
    check_welcome(b.welcome, room, "bob")
    assert b.welcome["seq"] == 2
    assert len(b.welcome["members"]) == 1
    assert_fields(b.welcome["members"][0], {"member": a.member, "user": "alice", "name": "Alice",
                                            "muted": False, "speak": True})
    assert_fields(a.recv_json("joined"), {"seq": 2, "member": b.member, "user": "bob",
                                          "name": "bob", "muted": False, "speak": True})
    assert a.member != b.member
    b.close()
    assert_fields(a.recv_json("left"), {"seq": 3, "member": b.member, "user": "bob",
                                        "reason": "closed"})


def test_name_is_percent_decoded_and_plus_is_literal(server):
    room = uniq()
    c = server.ws(f"/v1/rooms/{room}?user=zoe&name=Z%C3%B6e+%26+Co%2B")
    w = c.recv_json("welcome")
    assert w["name"] == "Zöe+&+Co+"
    d = server.join(room, user="dan", name="Dan 🎤")
    assert d.welcome["members"][0]["name"] == "Zöe+&+Co+"
    assert c.recv_json("joined")["name"] == "Dan 🎤"


def test_member_ids_unique(server):
    room = uniq()
    clients = [server.join(room, user=f"u{i}") for i in range(10)]
    ids = [c.member for c in clients]
    assert len(set(ids)) == len(ids)
    seqs = [c.welcome["seq"] for c in clients]
    assert seqs == list(range(1, 11))


def collect_events(client, until, timeout):
    """Reads text events until until(events) holds; returns them."""
    events = []
    while not until(events):
        events.append(client.recv_json(timeout=timeout))
    return events


def assert_consecutive(events, first_seq):
    seqs = [e["seq"] for e in events if "seq" in e]
    assert seqs == list(range(first_seq + 1, first_seq + 1 + len(seqs))), seqs


def test_events_consecutive_and_same_order_everywhere(server):
    room = uniq()
    members = [server.join(room, user=f"m{i}") for i in range(5)]
    for c in members[:-1]:
        collect_events(c, lambda ev, c=c: c.seq + len(ev) == members[-1].seq, T(5))
    # Interleave chats from every member with joins and a leave.
    for round_ in range(10):
        for i, c in enumerate(members):
            c.send_json({"type": "chat", "text": f"{i}:{round_}"})
        if round_ == 3:
            late1 = server.join(room, user="late1")
        if round_ == 6:
            server.join(room, user="late2")
            late1.close()
    stay = members  # present from before the first chat to the end
    expected_chats = {f"{i}:{r}" for i in range(5) for r in range(10)}

    def done(events):
        chats = {e["text"] for e in events if e["type"] == "chat"}
        kinds = [e["type"] for e in events]
        return chats == expected_chats and kinds.count("joined") == 2 and "left" in kinds

    views = []
    for c in stay:
        events = collect_events(c, done, T(5))
        assert_consecutive(events, members[-1].seq)
        views.append([(e["seq"], e["type"], e.get("from", e.get("member")), e.get("text"))
                      for e in events])
    for view in views[1:]:
        assert view == views[0]
    # Per-sender chat order is the send order.
    for i in range(5):
        mine = [t for (_, kind, _, t) in views[0] if kind == "chat" and t.startswith(f"{i}:")]
        assert mine == [f"{i}:{r}" for r in range(10)]
    froms = {t: f for (_, kind, f, t) in views[0] if kind == "chat"}
    for i, c in enumerate(members):
        assert froms[f"{i}:0"] == c.member


def check_room_views(clients):
    """The welcome/joined invariants for clients that joined one room concurrently."""
    by_member = {c.member: c for c in clients}
    assert len(by_member) == len(clients), "member ids not unique"
    seqs = sorted(c.seq for c in clients)
    assert seqs == list(range(1, len(clients) + 1)), seqs
    for c in clients:
        earlier = {m for m, o in by_member.items() if o.seq < c.seq}
        listed = {m["member"] for m in c.welcome["members"]}
        assert listed == earlier, (c.seq, listed, earlier)
        for m in c.welcome["members"]:
            assert m["user"] == by_member[m["member"]].welcome["user"]
    for c in clients:
        later = sorted((o.seq, m) for m, o in by_member.items() if o.seq > c.seq)
        joined = [c.recv_json("joined", timeout=T(10)) for _ in later]
        assert [(j["seq"], j["member"]) for j in joined] == later
        for j in joined:
            assert j["user"] == by_member[j["member"]].welcome["user"]


@pytest.mark.deadline(60)
def test_fifty_member_room_concurrent_joins(server):
    room = uniq()
    clients = server.join_many(room, [f"user{i}" for i in range(50)])
    check_room_views(clients)
    assert server.rooms().get(room) == 50


@pytest.mark.deadline(60)
def test_many_rooms_at_once(server):
    rooms = [uniq() for _ in range(20)]
    pending = [(room, server.handshake(room_path(room, user=f"p{i}")))
               for i in range(5) for room in rooms]
    by_room = {room: [] for room in rooms}
    for room, hs in pending:
        by_room[room].append(welcome_of(server.finish(hs)))
    for room, clients in by_room.items():
        check_room_views(clients)
    # Chat stays inside its room.
    for room, clients in by_room.items():
        clients[0].send_json({"type": "chat", "text": room})
    for room, clients in by_room.items():
        for c in clients:
            chat = c.recv_json("chat")
            assert chat["text"] == room and chat["seq"] == 6


def test_room_ends_when_empty_and_seq_restarts(server):
    room = uniq()
    a = server.join(room, user="a")
    b = server.join(room, user="b")
    a.recv_json("joined")
    a.close()
    b.recv_json("left")
    b.close()
    wait_until(lambda: room not in server.rooms(), T(5), "the empty room to end")
    c = server.join(room, user="c")
    assert c.welcome["seq"] == 1 and c.welcome["members"] == []


@pytest.mark.parametrize("old_state", ["connected", "away"])
def test_lone_member_rejoining_replaces_itself_in_the_same_room(chorusd, old_state):
    """A member alone in its room joins again without resume (a page reload). Replacing it
    must not end the room under the newcomer (this once freed the room mid-join)."""
    server = chorusd("--resume-grace", "10s")
    room = uniq()
    old = server.join(room, user="alice")
    assert old.welcome["seq"] == 1
    if old_state == "away":
        old.abort()
        wait_until(lambda: server.rooms().get(room) == 1, T(5), "the room to hold alice")
    new = server.join(room, user="alice")
    if old_state == "connected":
        old.expect_close(4009)
    assert new.member != old.member and new.welcome["resumed"] is False
    # The room lived on: its seq continued past the old join, the left and the new joined.
    assert new.welcome["seq"] == 3 and new.welcome["members"] == []
    bob = server.join(room, user="bob")
    assert [m["member"] for m in bob.welcome["members"]] == [new.member]
    assert new.recv_json("joined")["member"] == bob.member
