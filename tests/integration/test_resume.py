"""Reconnect and resume (PROTOCOL.md section 6): a dropped member stays away for the grace
period, a resume restores it with replay of missed events and held whispers, gaps, grace expiry,
bad tokens, takeover of a live connection (4009) and replacement by a plain rejoin.
"""

import json
import time

import pytest

from audio_flow import StampedSocket
from harness import (T, assert_fields, audio, barrier, errors_in, uniq, wait_sessions,
                     welcome_of)


def pair(server, room=None):
    room = room or uniq()
    a = server.join(room, user="a")
    b = server.join(room, user="b")
    assert a.recv_json("joined")["seq"] == 2
    return room, a, b


def resume(server, room, old, last_seq=None, user="a", **kw):
    return server.join(room, user=user, resume=old.welcome["resume"], last_seq=last_seq, **kw)


@pytest.mark.parametrize("reset", [False, True])
def test_drop_keeps_member_until_grace_then_left_timeout(chorusd, reset):
    server = chorusd("--resume-grace", "1s")
    room, a, b = pair(server)
    # When the kernel received the left, not when this busy test got round to reading it: a is
    # still a member, only away, until the grace is over, whatever the machine's load.
    b.sock = StampedSocket(b.sock)
    t0 = time.time()
    a.abort(reset=reset)
    left = b.recv_json("left", timeout=T(5))
    assert_fields(left, {"seq": 3, "member": a.member, "user": "a", "reason": "timeout"})
    assert b.sock.received[0] - t0 >= 0.8, b.sock.received[0] - t0


def test_close_frame_leaves_at_once(chorusd):
    server = chorusd("--resume-grace", "10s")
    room, a, b = pair(server)
    a.close()
    assert_fields(b.recv_json("left", timeout=T(2)), {"member": a.member, "reason": "closed"})


def test_resume_replays_missed_events_then_held_whispers(chorusd):
    server = chorusd("--resume-grace", "5s")
    room, a, b = pair(server)
    a.abort()
    wait_sessions(server, 1)  # held whispers need the server to know that a is away
    b.send_json({"type": "chat", "text": "m1"})
    c = server.join(room, user="c")
    b.send_json({"type": "whisper", "to": a.member, "text": "w1"})
    b.send_binary(b"\x01room audio while a is away")
    b.send_binary(b"\x02" + a.member.to_bytes(4, "big") + b"whisper audio while away")
    b.send_json({"type": "whisper", "to": a.member, "text": "w2"})
    c.send_json({"type": "chat", "text": "m2"})
    assert b.recv_json("chat")["text"] == "m1"
    assert b.recv_json("joined")["member"] == c.member
    assert b.recv_json("chat")["text"] == "m2"
    assert errors_in(barrier(b)) == []  # a is still a member: no no_such_member

    a2 = resume(server, room, a, last_seq=2)
    assert_fields(a2.welcome, {"member": a.member, "user": "a", "resumed": True, "gap": False,
                               "seq": 5})
    assert {m["member"] for m in a2.welcome["members"]} == {b.member, c.member}
    assert_fields(a2.recv_json("chat"), {"seq": 3, "from": b.member, "text": "m1"})
    assert_fields(a2.recv_json("joined"), {"seq": 4, "member": c.member, "user": "c"})
    assert_fields(a2.recv_json("chat"), {"seq": 5, "from": c.member, "text": "m2"})
    for text in ("w1", "w2"):
        w = a2.recv_json("whisper")
        assert_fields(w, {"from": b.member, "text": text})
        assert "seq" not in w
    assert barrier(a2) == []  # no audio from the away time
    b.send_json({"type": "chat", "text": "live"})
    assert_fields(a2.recv_json("chat"), {"seq": 6, "text": "live"})
    # b and c never saw a leave or rejoin.
    assert_fields(b.recv_json("chat"), {"seq": 6, "text": "live"})
    assert c.recv_binary() == audio(1, b.member, b"room audio while a is away")
    assert_fields(c.recv_json("chat"), {"seq": 5, "text": "m2"})
    assert_fields(c.recv_json("chat"), {"seq": 6, "text": "live"})


def test_resume_chain(chorusd):
    server = chorusd("--resume-grace", "5s")
    room, a, b = pair(server)
    a.abort()
    a2 = resume(server, room, a, last_seq=2)
    assert a2.welcome["resumed"] is True and a2.member == a.member
    a2.abort()
    b.send_json({"type": "chat", "text": "x"})
    b.recv_json("chat")
    a3 = resume(server, room, a2, last_seq=2)
    assert_fields(a3.welcome, {"member": a.member, "resumed": True, "gap": False, "seq": 3})
    assert_fields(a3.recv_json("chat"), {"seq": 3, "text": "x"})


def test_resume_without_last_seq_has_gap(chorusd):
    server = chorusd("--resume-grace", "5s")
    room, a, b = pair(server)
    a.abort()
    b.send_json({"type": "chat", "text": "missed"})
    b.recv_json("chat")
    a2 = resume(server, room, a)
    assert_fields(a2.welcome, {"member": a.member, "resumed": True, "gap": True, "seq": 3})
    assert [m["member"] for m in a2.welcome["members"]] == [b.member]
    b.send_json({"type": "chat", "text": "live"})
    assert_fields(a2.recv_json("chat"), {"seq": 4, "text": "live"})  # nothing replayed


@pytest.mark.parametrize("missed,gap", [(2, False), (3, True)])
def test_history_bound(chorusd, missed, gap):
    server = chorusd("--resume-grace", "5s", "--history", "2")
    room, a, b = pair(server)
    a.abort()
    for i in range(missed):
        b.send_json({"type": "chat", "text": f"c{i}"})
        b.recv_json("chat")
    a2 = resume(server, room, a, last_seq=2)
    assert_fields(a2.welcome, {"member": a.member, "resumed": True, "gap": gap,
                               "seq": 2 + missed})
    if not gap:
        for i in range(missed):
            assert_fields(a2.recv_json("chat"), {"seq": 3 + i, "text": f"c{i}"})
    b.send_json({"type": "chat", "text": "live"})
    assert_fields(a2.recv_json("chat"), {"seq": 3 + missed, "text": "live"})


def forged(tok):
    mid = len(tok) // 2
    return tok[:mid] + ("A" if tok[mid] != "A" else "B") + tok[mid + 1:]


def assert_ordinary_join(c, old_member, seq):
    """PROTOCOL.md section 6 (v1.0.1): a resume that cannot happen is an ordinary join."""
    assert_fields(c.welcome, {"resumed": False, "gap": True, "seq": seq})
    assert c.member != old_member


# Each bad token of user a's, offered by user a while a is away: never a refusal (a browser cannot
# see why an upgrade failed and would retry the token forever) but an ordinary join that replaces
# the away member, as a plain rejoin would.
@pytest.mark.parametrize("bad", ["forged", "truncated", "extended", "short", "not$valid", "%zz",
                                 "empty", "of_b", "upper"])
def test_token_that_does_not_verify_is_ordinary_join(chorusd, bad):
    server = chorusd("--resume-grace", "5s")
    room, a, b = pair(server)
    a.abort()
    wait_sessions(server, 1)
    tok = a.welcome["resume"]
    token = {"forged": forged(tok), "truncated": tok[:-1], "extended": tok + "x", "short": "AAAA",
             "empty": "", "of_b": b.welcome["resume"], "upper": tok.upper()}.get(bad, bad)
    if bad == "%zz":  # a malformed percent escape, sent as is
        a2 = welcome_of(server.ws(f"/v1/rooms/{room}?user=a&resume=%zz&last_seq=2"))
    else:
        a2 = server.join(room, user="a", resume=token, last_seq=2)
    assert_ordinary_join(a2, a.member, 4)
    assert [m["member"] for m in a2.welcome["members"]] == [b.member]
    assert_fields(b.recv_json("left"), {"seq": 3, "member": a.member, "reason": "replaced"})
    assert_fields(b.recv_json("joined"), {"seq": 4, "member": a2.member, "user": "a"})


def test_token_for_another_user_or_room_is_ordinary_join(chorusd):
    server = chorusd("--resume-grace", "5s")
    room, a, b = pair(server)
    other_room = uniq()
    a.abort()
    wait_sessions(server, 1)
    tok = a.welcome["resume"]
    b2 = server.join(room, user="b2", resume=tok, last_seq=2)
    assert_ordinary_join(b2, a.member, 3)
    assert_fields(b.recv_json("joined"), {"seq": 3, "member": b2.member, "user": "b2"})
    elsewhere = server.join(other_room, user="a", resume=tok, last_seq=2)
    assert_ordinary_join(elsewhere, None, 1)  # ids are per room
    a2 = resume(server, room, a, last_seq=3)  # neither disturbed a: its token still resumes it
    assert_fields(a2.welcome, {"member": a.member, "resumed": True, "gap": False, "seq": 3})
    assert barrier(b) == []


# A token signed with a key this process does not have: another process (a restart) with a random
# key, or with another --resume-key. With the same --resume-key the token verifies, but nobody is
# held for it after a restart: an ordinary join too.
@pytest.mark.parametrize("keys", [(), ("k1", "k2"), ("k1", "k1")])
def test_token_from_before_a_restart_is_ordinary_join(chorusd, keys):
    flags = [("--resume-key", k) for k in keys] or [(), ()]
    before = chorusd("--resume-grace", "5s", *flags[0])
    room, a, b = pair(before)
    before.stop()
    after = chorusd("--resume-grace", "5s", *flags[1])
    a2 = after.join(room, user="a", resume=a.welcome["resume"], last_seq=2)
    assert_ordinary_join(a2, 0, 1)
    assert a2.welcome["members"] == []


def test_resume_after_grace_is_ordinary_join(chorusd):
    server = chorusd("--resume-grace", "500ms")
    room, a, b = pair(server)
    a.abort()
    assert_fields(b.recv_json("left", timeout=T(5)), {"member": a.member, "reason": "timeout"})
    a2 = resume(server, room, a, last_seq=2)
    assert_ordinary_join(a2, a.member, 4)
    assert [m["member"] for m in a2.welcome["members"]] == [b.member]
    assert_fields(b.recv_json("joined"), {"seq": 4, "member": a2.member, "user": "a"})


def test_resume_takes_over_live_connection_with_4009(chorusd):
    server = chorusd("--resume-grace", "5s")
    room, a, b = pair(server)
    a2 = resume(server, room, a, last_seq=2)
    assert_fields(a2.welcome, {"member": a.member, "resumed": True, "gap": False, "seq": 2})
    a.expect_close(4009)
    assert barrier(b) == []  # no left, no joined
    a2.send_json({"type": "chat", "text": "same me"})
    assert_fields(b.recv_json("chat"), {"seq": 3, "from": a.member, "text": "same me"})


def test_plain_rejoin_replaces_old_connection(chorusd):
    server = chorusd("--resume-grace", "5s")
    room, a, b = pair(server)
    a2 = server.join(room, user="a")
    a.expect_close(4009)
    assert a2.member != a.member
    assert_fields(a2.welcome, {"resumed": False, "seq": 4})
    assert [m["member"] for m in a2.welcome["members"]] == [b.member]
    assert_fields(b.recv_json("left"), {"seq": 3, "member": a.member, "reason": "replaced"})
    assert_fields(b.recv_json("joined"), {"seq": 4, "member": a2.member, "user": "a"})
    assert barrier(b) == []


def test_plain_rejoin_while_away_replaces(chorusd):
    server = chorusd("--resume-grace", "5s")
    room, a, b = pair(server)
    a.abort()
    wait_sessions(server, 1)
    a2 = server.join(room, user="a")
    assert a2.member != a.member and a2.welcome["resumed"] is False
    assert_fields(b.recv_json("left"), {"seq": 3, "member": a.member, "reason": "replaced"})
    assert_fields(b.recv_json("joined"), {"seq": 4, "member": a2.member})


def test_replay_is_the_bytes_that_were_broadcast(chorusd):
    # The history keeps joined events as their fields and renders them again for a replay: the
    # resuming member must get the very text the others got live (names needing JSON escapes,
    # non-ASCII and a slash, a mute between two joins, a leave).
    server = chorusd("--resume-grace", "5s")
    room, a, b = pair(server)
    a.abort()
    wait_sessions(server, 1)
    c = server.join(room, user="c.q", name='Zo\u00eb "\\quoted\\" \u266a')
    c.send_json({"type": "mute", "muted": True})
    d = server.join(room, user="d", name="</d> \u00e9t\u00e9")
    c.close()
    live = []
    for _ in range(4):  # joined c, muted c, joined d, left c
        kind, text = b.recv_msg()
        assert kind == "text"
        live.append(text)
    assert [json.loads(t)["type"] for t in live] == ["joined", "muted", "joined", "left"]

    a2 = resume(server, room, a, last_seq=2)
    assert_fields(a2.welcome, {"resumed": True, "gap": False, "seq": 6})
    assert [a2.recv_msg() for _ in live] == [("text", t) for t in live]
    assert barrier(a2) == []
    d.close()
