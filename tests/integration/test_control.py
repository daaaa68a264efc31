"""Client text messages: chat, whisper, self-mute, ping/pong, the error replies for malformed
or oversized messages (the connection stays open), the text rate limit, and admin-only actions
refused in dev mode.
"""

import json
import time

import pytest

from harness import T, assert_fields, barrier, errors_in, uniq
from wsclient import OP_CONT, OP_TEXT, encode_frame


@pytest.fixture(scope="module")
def server(chorusd_module):
    return chorusd_module()


def trio(server):
    room = uniq()
    a = server.join(room, user="a", name="Ann")
    b = server.join(room, user="b")
    c = server.join(room, user="c")
    for x, n in ((a, 2), (b, 1)):
        for _ in range(n):
            x.recv_json("joined")
    return a, b, c


def test_chat_reaches_everyone_including_sender(server):
    a, b, c = trio(server)
    a.send_json({"type": "chat", "text": "hello ✓"})
    chats = [x.recv_json("chat") for x in (a, b, c)]
    for chat in chats:
        assert_fields(chat, {"type": "chat", "seq": 4, "from": a.member, "text": "hello ✓"})
    b.send_json({"type": "chat", "text": ""})
    for x in (a, b, c):
        assert_fields(x.recv_json("chat"), {"seq": 5, "from": b.member, "text": ""})


def test_whisper_text_to_target_only(server):
    a, b, c = trio(server)
    a.send_json({"type": "whisper", "to": c.member, "text": "psst"})
    a.send_json({"type": "chat", "text": "public"})
    w = c.recv_json("whisper")
    assert_fields(w, {"from": a.member, "text": "psst"})
    assert "seq" not in w, w
    for x in (a, b, c):
        assert x.recv_json("chat")["text"] == "public"  # nothing before it for a and b


def test_whisper_to_absent_member(server):
    a, b, c = trio(server)
    a.send_json({"type": "whisper", "to": 4000000000, "text": "anyone?"})
    assert errors_in(barrier(a)) == ["no_such_member"]


def test_self_mute_and_unmute(server):
    a, b, c = trio(server)
    b.send_json({"type": "mute", "muted": True})
    for x in (a, b, c):
        assert_fields(x.recv_json("muted"), {"seq": 4, "member": b.member, "muted": True,
                                             "by": b.member})
    late = server.join(a.welcome["room"], user="late")
    listed = {m["member"]: m for m in late.welcome["members"]}
    assert listed[b.member]["muted"] is True and listed[a.member]["muted"] is False
    b.send_json({"type": "mute", "muted": False})
    for x in (a, b, c):
        x.recv_json("joined")
        assert_fields(x.recv_json("muted"), {"seq": 6, "member": b.member, "muted": False,
                                             "by": b.member})


@pytest.mark.parametrize("t", [123, -7, 1.5, 0, 12345678901234567890123, "text", "",
                               {"nested": [1, {"x": None}], "s": "é"}, [1, 2], None, True,
                               False])
def test_ping_echoes_t_verbatim(server, t):
    a = server.join(uniq(), user="a")
    a.send_json({"type": "ping", "t": t})
    pong = a.recv_json("pong")
    assert pong["t"] == t and type(pong["t"]) is type(t), pong


BAD_MESSAGES = [
    "not json",
    "{\"type\":\"chat\",\"text\":\"unterminated",
    "[1,2,3]",
    "\"just a string\"",
    "42",
    "{}",
    "{\"type\":\"dance\"}",
    "{\"type\":7}",
    "{\"type\":\"chat\"}",
    "{\"type\":\"chat\",\"text\":5}",
    "{\"type\":\"chat\",\"text\":null}",
    "{\"type\":\"whisper\",\"text\":\"x\"}",
    "{\"type\":\"whisper\",\"to\":\"9\",\"text\":\"x\"}",
    "{\"type\":\"whisper\",\"to\":1.5,\"text\":\"x\"}",
    "{\"type\":\"whisper\",\"to\":true,\"text\":\"x\"}",
    "{\"type\":\"whisper\",\"to\":1}",
    "{\"type\":\"mute\"}",
    "{\"type\":\"mute\",\"muted\":\"yes\"}",
    "{\"type\":\"mute\",\"muted\":1}",
    "{\"type\":\"mute\",\"member\":\"2\",\"muted\":true}",
    "{\"type\":\"kick\"}",
    "{\"type\":\"kick\",\"member\":\"2\"}",
    "{\"type\":\"kick\",\"member\":2.5}",
]


def test_bad_messages_get_bad_message_and_connection_stays(server):
    a, b, c = trio(server)
    for i, text in enumerate(BAD_MESSAGES):
        a.send_text(text)
        assert errors_in(barrier(a, i)) == ["bad_message"], text
    a.send_json({"type": "chat", "text": "still here"})
    assert b.recv_json("chat")["text"] == "still here"


def test_every_rejected_text_gets_one_error(server):
    a = server.join(uniq(), user="a")
    for _ in range(5):
        a.send_text("garbage")
    assert errors_in(barrier(a)) == ["bad_message"] * 5


def test_invalid_utf8_closes_a_room_connection_before_the_message_ends(server):
    # Room text is read like echo text: bad UTF-8 is 1007 as soon as it arrives (Autobahn 6.4).
    a = server.join(uniq(), user="a")
    b = server.join(uniq(), user="b")
    a.send_frame(OP_TEXT, '{"type":"chat","text":"κόσμε'.encode(), fin=False)
    a.send_frame(OP_CONT, b"\xf4\x90", fin=False)
    a.expect_close(1007, timeout=T(10))  # the rest of the message is never sent
    frame = b'{"type":"chat","text":"ok \xed\xa0\x80 and more"}'
    b.send_raw(encode_frame(OP_TEXT, frame)[:-10])  # one frame, its end withheld
    b.expect_close(1007, timeout=T(10))


def test_text_size_limit(server):
    a, b, c = trio(server)
    ok = "€" * 1365 + "x"  # 4096 bytes of UTF-8
    assert len(ok.encode()) == 4096
    a.send_json({"type": "chat", "text": ok})
    assert b.recv_json("chat")["text"] == ok
    a.send_json({"type": "chat", "text": ok + "y"})
    a.send_json({"type": "whisper", "to": b.member, "text": "w" * 4097})
    codes = errors_in([m for m in barrier(a) if json.loads(m[1])["type"] != "chat"])
    assert codes == ["too_big", "too_big"]
    b.send_json({"type": "chat", "text": "next"})
    assert_fields(b.recv_json("chat"), {"text": "next", "seq": 5})  # nothing big in between


def test_non_admin_cannot_kick_or_mute_others(server):
    a, b, c = trio(server)
    a.send_json({"type": "kick", "member": b.member})
    a.send_json({"type": "mute", "member": b.member, "muted": True})
    assert errors_in(barrier(a)) == ["forbidden", "forbidden"]
    b.send_json({"type": "chat", "text": "unharmed"})
    assert_fields(c.recv_json("chat"), {"text": "unharmed", "seq": 4})


def test_text_rate_limit(chorusd):
    server = chorusd("--text-rate", "5", "--text-burst", "5")
    a = server.join(uniq(), user="a")
    t0 = time.monotonic()
    for i in range(30):
        a.send_json({"type": "ping", "t": i})
    sent_in = time.monotonic() - t0
    time.sleep(0.5)  # lets the bucket refill so that the final ping is not itself discarded
    elapsed = time.monotonic() - t0
    pongs, too_fast = [], 0
    for m in barrier(a, "final"):
        obj = json.loads(m[1])
        if obj["type"] == "pong":
            pongs.append(obj["t"])
        else:
            assert obj["type"] == "error" and obj["code"] == "too_fast", obj
            too_fast += 1
    assert pongs == sorted(pongs)
    assert 5 <= len(pongs) <= 5 + 5 * sent_in + 1, (pongs, sent_in)
    assert too_fast >= 1
    assert too_fast <= int(elapsed) + 1, (too_fast, elapsed)
