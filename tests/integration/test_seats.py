"""Mic seats and raised hands (PROTOCOL.md v1.1) on one node: hosts, seat state in the welcome,
every seat and hand message with its events and errors (in the order of precedence), leave and
timeout releases, the grace keeping a seat, and the seat flags. Audio in seat mode, op 0x03 and
the speaking set are in test_seats_audio.py.
"""

import subprocess

import pytest

from harness import (CHORUSD, T, assert_fields, barrier, check_refusal, errors_in, make_jwt,
                     room_path, uniq, welcome_of)
from seats_helpers import everyone, host_and_two, member, seats_of, texts


@pytest.fixture(scope="module")
def server(chorusd_module):
    return chorusd_module("--max-seats", "8", "--resume-grace", "5s")


def test_hosts_are_marked_everywhere(server):
    room = uniq()
    h = member(server, room, "host", admin=True)
    assert h.welcome["admin"] is True
    a = member(server, room, "a", admin=False)
    assert a.welcome["admin"] is False
    assert [m["admin"] for m in a.welcome["members"]] == [True]
    joined = h.recv_json("joined")
    assert_fields(joined, {"member": a.member, "admin": False})
    b = member(server, room, "b")
    assert_fields(h.recv_json("joined"), {"member": b.member, "admin": False})
    assert {m["member"]: m["admin"] for m in b.welcome["members"]} == {h.member: True,
                                                                        a.member: False}


@pytest.mark.parametrize("value", ["yes", "2", ""])
def test_admin_query_other_than_0_or_1_is_refused(server, value):
    check_refusal(server.refused(room_path(uniq(), user="x", admin=value)), 400, "bad_request")


def test_welcome_carries_seats_and_hands(chorusd):
    s = chorusd("--default-seats", "3")
    room = uniq()
    h = member(s, room, "host", admin=True)
    assert h.welcome["seats"]["count"] == 3
    assert h.welcome["seats"]["list"] == [
        {"seat": i, "member": None, "locked": False, "muted": False} for i in range(3)]
    assert h.welcome["hands"] == []
    h.send_json({"type": "take_seat", "seat": 1})
    h.recv_json("seats")
    a = member(s, room, "a")
    a.send_json({"type": "hand", "raised": True})
    a.recv_json("hand")
    b = member(s, room, "b")
    assert seats_of(b.welcome["seats"]) == [None, h.member, None]
    assert b.welcome["hands"] == [a.member]


def test_seat_mode_off_by_default(server):
    room, h, a, b = host_and_two(server)
    assert h.welcome["seats"] == {"count": 0, "list": []}
    a.send_json({"type": "take_seat", "seat": 0})
    a.send_json({"type": "take_seat"})
    a.send_json({"type": "leave_seat"})
    assert errors_in(barrier(a)) == ["no_such_seat", "no_such_seat", "not_seated"]


def test_seats_count_opens_and_closes_seats(server):
    room, h, a, b = host_and_two(server)
    h.send_json({"type": "seats", "count": 4})
    for c in (h, a, b):
        e = c.recv_json("seats")
        assert_fields(e, {"by": h.member, "count": 4})
        assert seats_of(e) == [None] * 4
    seq = e["seq"]
    a.send_json({"type": "take_seat", "seat": 3})
    for c in (h, a, b):
        e = c.recv_json("seats")
        assert seats_of(e) == [None, None, None, a.member] and e["seq"] == seq + 1
    h.send_json({"type": "seats", "count": 2})  # a stands up with its seat gone: one event
    e = b.recv_json("seats")
    assert_fields(e, {"by": h.member, "count": 2, "seq": seq + 2})
    assert seats_of(e) == [None, None]
    h.send_json({"type": "seats", "count": 3})  # the seat comes back empty
    assert seats_of(b.recv_json("seats")) == [None, None, None]
    assert barrier(b) == []


def test_seats_count_errors(server):
    room, h, a, b = host_and_two(server)
    for bad in ({"type": "seats"}, {"type": "seats", "count": 9}, {"type": "seats", "count": -1},
                {"type": "seats", "count": 1.5}, {"type": "seats", "count": "4"}):
        h.send_json(bad)
    a.send_json({"type": "seats", "count": 9})  # bad_message before forbidden
    a.send_json({"type": "seats", "count": 2})
    assert errors_in(barrier(h)) == ["bad_message"] * 5
    assert errors_in(barrier(a)) == ["bad_message", "forbidden"]
    h.send_json({"type": "seats", "count": 0})  # already 0: no event, no error
    assert barrier(h) == []


def test_take_move_leave_and_their_events(server):
    room, h, a, b = host_and_two(server, seats=3)
    a.send_json({"type": "take_seat", "seat": 1})
    e = everyone("seats", h, a, b)
    assert_fields(e, {"by": a.member, "count": 3})
    assert seats_of(e) == [None, a.member, None]
    a.send_json({"type": "take_seat", "seat": 1})  # its own seat: nothing
    assert barrier(a) == []
    a.send_json({"type": "take_seat", "seat": 2})  # a move: one event
    assert seats_of(everyone("seats", h, a, b)) == [None, None, a.member]
    b.send_json({"type": "take_seat"})  # the lowest free seat
    assert seats_of(everyone("seats", h, a, b)) == [b.member, None, a.member]
    b.send_json({"type": "take_seat"})  # seated already: nothing happens
    assert barrier(b) == []
    a.send_json({"type": "leave_seat"})
    e = everyone("seats", h, a, b)
    assert_fields(e, {"by": a.member})
    assert seats_of(e) == [b.member, None, None]
    a.send_json({"type": "leave_seat"})
    assert errors_in(barrier(a)) == ["not_seated"]
    assert barrier(h) == []


def test_take_seat_errors(server):
    room, h, a, b = host_and_two(server, seats=2)
    a.send_json({"type": "take_seat", "seat": 0})
    everyone("seats", h, a, b)
    h.send_json({"type": "seat", "seat": 1, "locked": True})
    everyone("seats", h, a, b)
    b.send_json({"type": "take_seat", "seat": 0})
    b.send_json({"type": "take_seat", "seat": 1})
    b.send_json({"type": "take_seat", "seat": 2})
    b.send_json({"type": "take_seat", "seat": 4000000000})
    b.send_json({"type": "take_seat"})  # only the locked one is free
    b.send_json({"type": "take_seat", "seat": "0"})
    b.send_json({"type": "take_seat", "seat": -1})
    assert errors_in(barrier(b)) == ["seat_taken", "seat_locked", "no_such_seat", "no_such_seat",
                                     "seat_taken", "bad_message", "bad_message"]
    assert barrier(h) == []


def test_a_listener_without_speak_may_not_sit(chorusd):
    # Dev mode has no speak flag, so tokens make the host and the listener.
    secret = "seats-test-secret-0123456789"
    s = chorusd("--default-seats", "2", "--auth-secret", secret)
    room = uniq()

    def token(sub, **claims):
        return make_jwt(secret, {"sub": sub, "room": room, "exp": 4102444800, **claims})

    h = welcome_of(s.ws(room_path(room, token=token("host", admin=True), admin=0)))
    assert h.welcome["admin"] is True  # the token decides, not the query
    listener = welcome_of(s.ws(room_path(room, token=token("lis", speak=False), admin=1)))
    assert listener.welcome["admin"] is False
    h.recv_json("joined")
    listener.send_json({"type": "take_seat", "seat": 0})
    listener.send_json({"type": "take_seat", "seat": 9})  # forbidden before no_such_seat
    assert errors_in(barrier(listener)) == ["forbidden", "forbidden"]
    h.send_json({"type": "move", "member": listener.member, "seat": 0})
    h.send_json({"type": "move", "member": listener.member, "seat": None})  # standing: nothing
    assert errors_in(barrier(h)) == ["forbidden"]
    listener.send_json({"type": "hand", "raised": True})  # a listener may ask
    assert everyone("hand", h, listener)["raised"] is True


def test_seat_lock_and_mute(server):
    room, h, a, b = host_and_two(server, seats=2)
    a.send_json({"type": "take_seat", "seat": 0})
    everyone("seats", h, a, b)
    h.send_json({"type": "seat", "seat": 0, "muted": True})
    e = everyone("seats", h, a, b)
    assert_fields(e, {"by": h.member})
    assert e["list"][0] == {"seat": 0, "member": a.member, "locked": False, "muted": True}
    h.send_json({"type": "seat", "seat": 0, "muted": True})  # no change: nothing
    h.send_json({"type": "seat", "seat": 0, "locked": True, "muted": False})  # one event
    e = everyone("seats", h, a, b)
    assert e["list"][0] == {"seat": 0, "member": None, "locked": True, "muted": False}
    assert errors_in(barrier(h)) == []
    h.send_json({"type": "seat", "seat": 0})
    h.send_json({"type": "seat", "locked": True})
    h.send_json({"type": "seat", "seat": None, "locked": True})
    h.send_json({"type": "seat", "seat": 0, "locked": "yes"})
    h.send_json({"type": "seat", "seat": 5, "locked": True})
    a.send_json({"type": "seat", "seat": 0, "locked": False})
    a.send_json({"type": "seat", "seat": 5})  # bad_message before forbidden
    assert errors_in(barrier(h)) == ["bad_message"] * 4 + ["no_such_seat"]
    assert errors_in(barrier(a)) == ["forbidden", "bad_message"]


def test_move_by_a_host(server):
    room, h, a, b = host_and_two(server, seats=3)
    b.send_json({"type": "hand", "raised": True})
    everyone("hand", h, a, b)
    h.send_json({"type": "seat", "seat": 2, "locked": True})
    everyone("seats", h, a, b)
    h.send_json({"type": "move", "member": b.member, "seat": 2})  # locked: a host may
    e = everyone("seats", h, a, b)
    assert_fields(e, {"by": h.member})
    assert seats_of(e) == [None, None, b.member]
    lowered = everyone("hand", h, a, b)
    assert_fields(lowered, {"by": h.member, "member": b.member, "raised": False,
                            "seq": e["seq"] + 1})
    h.send_json({"type": "move", "member": b.member, "seat": 0})
    assert seats_of(everyone("seats", h, a, b)) == [b.member, None, None]
    h.send_json({"type": "move", "member": a.member, "seat": 0})
    h.send_json({"type": "move", "member": 4000000000, "seat": 0})
    h.send_json({"type": "move", "member": a.member, "seat": 3})
    h.send_json({"type": "move", "member": a.member})
    h.send_json({"type": "move", "seat": 1})
    a.send_json({"type": "move", "member": 4000000000, "seat": 9})  # forbidden first
    assert errors_in(barrier(h)) == ["seat_taken", "no_such_member", "no_such_seat",
                                     "bad_message", "bad_message"]
    assert errors_in(barrier(a)) == ["forbidden"]
    h.send_json({"type": "move", "member": b.member, "seat": None})
    assert seats_of(everyone("seats", h, a, b)) == [None, None, None]
    h.send_json({"type": "move", "member": b.member, "seat": None})  # standing: nothing
    assert barrier(h) == []


def test_hands(server):
    room, h, a, b = host_and_two(server, seats=1)
    a.send_json({"type": "hand", "raised": True})
    assert_fields(everyone("hand", h, a, b), {"by": a.member, "member": a.member,
                                              "raised": True})
    b.send_json({"type": "hand", "raised": True})
    everyone("hand", h, a, b)
    a.send_json({"type": "hand", "raised": True})  # raised already: nothing
    assert barrier(a) == []
    c = member(server, room, "c")
    assert c.welcome["hands"] == [a.member, b.member]
    assert_fields(everyone("joined", h, a, b), {"member": c.member})
    h.send_json({"type": "hand", "member": b.member, "raised": False})
    assert_fields(everyone("hand", h, a, b, c), {"by": h.member, "member": b.member,
                                                 "raised": False})
    a.send_json({"type": "hand", "member": b.member, "raised": False})
    h.send_json({"type": "hand", "member": a.member, "raised": True})
    h.send_json({"type": "hand", "member": 4000000000, "raised": False})
    h.send_json({"type": "hand", "member": 4000000000, "raised": True})  # forbidden first
    h.send_json({"type": "hand"})
    assert errors_in(barrier(a)) == ["forbidden"]
    assert errors_in(barrier(h)) == ["forbidden", "no_such_member", "forbidden", "bad_message"]
    # Taking a seat lowers the hand; a seated member may raise it again; turning seats off
    # lowers no hand.
    a.send_json({"type": "take_seat"})
    e = everyone("seats", h, a, b, c)
    assert_fields(everyone("hand", h, a, b, c), {"by": a.member, "member": a.member,
                                                 "raised": False, "seq": e["seq"] + 1})
    a.send_json({"type": "hand", "raised": True})
    assert everyone("hand", h, a, b, c)["raised"] is True
    h.send_json({"type": "seats", "count": 0})
    assert everyone("seats", h, a, b, c)["count"] == 0
    d = member(server, room, "d")
    assert d.welcome["hands"] == [a.member]
    assert seats_of(d.welcome["seats"]) == []


def test_leaving_releases_seat_then_hand(server):
    room, h, a, b = host_and_two(server, seats=2)
    a.send_json({"type": "take_seat", "seat": 1})
    h.recv_json("seats")
    a.send_json({"type": "hand", "raised": True})
    h.recv_json("hand")
    b.send_json({"type": "hand", "raised": True})
    h.recv_json("hand")
    a.close()
    left = h.recv_json("left")
    seats = h.recv_json("seats")
    hand = h.recv_json("hand")
    assert_fields(seats, {"by": 0, "seq": left["seq"] + 1})
    assert seats_of(seats) == [None, None]
    assert_fields(hand, {"by": 0, "member": a.member, "raised": False, "seq": left["seq"] + 2})
    b.close()  # a hand but no seat: left then hand
    left = h.recv_json("left")
    assert_fields(h.recv_json("hand"), {"by": 0, "member": b.member, "seq": left["seq"] + 1})
    c = member(server, room, "c")
    c.close()  # nothing to release: left alone
    h.recv_json("joined")
    assert h.recv_json("left")["member"] == c.member
    assert barrier(h) == []


def test_kick_and_replace_release_too(server):
    room, h, a, b = host_and_two(server, seats=2)
    a.send_json({"type": "take_seat"})
    h.recv_json("seats")
    h.send_json({"type": "kick", "member": a.member})
    assert h.recv_json("left")["reason"] == "kicked"
    assert seats_of(h.recv_json("seats")) == [None, None]
    b.send_json({"type": "take_seat"})
    h.recv_json("seats")
    b2 = member(server, room, "b")  # the same user again: b is replaced
    assert h.recv_json("left")["reason"] == "replaced"
    assert seats_of(h.recv_json("seats")) == [None, None]
    assert_fields(h.recv_json("joined"), {"member": b2.member})
    assert seats_of(b2.welcome["seats"]) == [None, None]


def test_timeout_releases_after_the_grace_and_resume_keeps_the_seat(chorusd):
    s = chorusd("--default-seats", "2", "--resume-grace", "1s")
    room = uniq()
    h = member(s, room, "host", admin=True)
    a = member(s, room, "a")
    h.recv_json("joined")
    a.send_json({"type": "take_seat", "seat": 1})
    a.send_json({"type": "hand", "raised": True})
    h.recv_json("seats")
    h.recv_json("hand")
    a.abort()
    # Away within the grace: a resume keeps the seat and the hand, no event.
    a2 = welcome_of(s.ws(room_path(room, user="a", resume=a.welcome["resume"],
                                   last_seq=a.welcome["seq"])))
    assert a2.member == a.member and a2.welcome["resumed"] is True
    assert seats_of(a2.welcome["seats"]) == [None, a.member]
    assert a2.welcome["hands"] == [a.member]
    a2.abort()
    left = h.recv_json("left", timeout=T(10))
    assert_fields(left, {"member": a.member, "reason": "timeout"})
    assert_fields(h.recv_json("seats"), {"by": 0, "seq": left["seq"] + 1})
    assert_fields(h.recv_json("hand"), {"by": 0, "member": a.member, "seq": left["seq"] + 2})


def test_seat_events_are_replayed_on_resume(chorusd):
    s = chorusd("--default-seats", "2", "--resume-grace", "5s")
    room = uniq()
    h = member(s, room, "host", admin=True)
    a = member(s, room, "a")
    h.recv_json("joined")
    a.abort()
    h.send_json({"type": "move", "member": a.member, "seat": 0})  # away: a host may still move
    e = h.recv_json("seats")
    a2 = welcome_of(s.ws(room_path(room, user="a", resume=a.welcome["resume"],
                                   last_seq=a.welcome["seq"])))
    assert seats_of(a2.welcome["seats"]) == [a.member, None]
    assert a2.recv_json("seats") == e


@pytest.mark.parametrize("flags, says", [
    (["--max-seats", "33"], "--max-seats is at most 32"),
    (["--default-seats", "9", "--max-seats", "8"], "--default-seats must not be above"),
    (["--speaking-level", "128"], "--speaking-level is a level from 0"),
    (["--max-seats", "-1"], "--max-seats takes a whole number"),
])
def test_seat_flags_are_checked(flags, says):
    r = subprocess.run([CHORUSD, "--listen", "127.0.0.1:0"] + flags, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=T(10))
    assert r.returncode == 2 and says in r.stderr.decode(), r


def test_default_seats_open_seat_mode_for_new_rooms(chorusd):
    s = chorusd("--default-seats", "2", "--max-seats", "4")
    h = member(s, uniq(), "host", admin=True)
    assert h.welcome["seats"]["count"] == 2
    h.send_json({"type": "seats", "count": 5})  # above --max-seats
    h.send_json({"type": "seats", "count": 4})
    got = texts(barrier(h))
    assert [m["type"] for m in got] == ["error", "seats"], got
    assert got[0]["code"] == "bad_message" and got[1]["count"] == 4
