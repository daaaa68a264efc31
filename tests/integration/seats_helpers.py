"""Helpers shared by the seat tests (test_seats.py, test_seats_audio.py): members joined with
or without host rights, a host and two members in a fresh room, and readers for seat events.
"""

import json

from harness import room_path, uniq, welcome_of


def member(server, room, user, admin=False, **extra):
    c = server.ws(room_path(room, user=user, admin=1 if admin else None, **extra))
    return welcome_of(c)


def drain_joined(*clients_and_counts):
    for c, n in clients_and_counts:
        for _ in range(n):
            c.recv_json("joined")


def host_and_two(server, seats=None):
    """A host and two members in a fresh room (joins read), optionally with `seats` open."""
    room = uniq()
    h = member(server, room, "host", admin=True)
    a = member(server, room, "a")
    b = member(server, room, "b")
    drain_joined((h, 2), (a, 1))
    if seats is not None:
        h.send_json({"type": "seats", "count": seats})
        for c in (h, a, b):
            c.recv_json("seats")
    return room, h, a, b


def texts(messages):
    return [json.loads(m[1]) for m in messages if m[0] == "text"]


def seats_of(event):
    return [s["member"] for s in event["list"]]


def everyone(kind, *clients):
    """The next message of each client, which must be the same `kind` event for all."""
    got = [c.recv_json(kind) for c in clients]
    assert all(g == got[0] for g in got), got
    return got[0]
