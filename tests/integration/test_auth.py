"""JWT auth (--auth-secret): who may join, identity from the token, speak:false, admin mute
(sticky) and kick, and the admin-only /v1/rooms listing.
"""

import time

import pytest

from harness import (assert_fields, audio, barrier, check_refusal, errors_in, make_jwt,
                     room_path, uniq)

SECRET = "s3cret"


@pytest.fixture(scope="module")
def server(chorusd_module):
    return chorusd_module("--auth-secret", SECRET)


def token(sub, room, exp=None, secret=SECRET, alg="HS256", **claims):
    body = {"sub": sub, "room": room, "exp": exp if exp is not None else int(time.time()) + 300}
    body.update(claims)
    return make_jwt(secret, body, alg=alg)


def join(server, room, sub, **claims):
    return server.join(room, token=token(sub, room, **claims))


def test_token_gives_identity_and_query_user_is_ignored(server):
    room = uniq()
    c = server.join(room, token=token("alice", room, name="Alice A."), user="mallory",
                    name="Mal")
    assert_fields(c.welcome, {"room": room, "user": "alice", "name": "Alice A.",
                              "resumed": False, "gap": False})
    d = join(server, room, "bob")
    assert d.welcome["name"] == "bob"
    listed = d.welcome["members"][0]
    assert_fields(listed, {"user": "alice", "name": "Alice A.", "speak": True, "muted": False})


def test_missing_token_is_401(server):
    room = uniq()
    check_refusal(server.refused(room_path(room)), 401, "unauthorized")
    check_refusal(server.refused(room_path(room, user="alice")), 401, "unauthorized")


@pytest.mark.parametrize("case", ["expired", "bad_signature", "alg_none", "hs512", "garbage",
                                  "no_exp", "no_sub", "two_parts", "exp_string"])
def test_invalid_token_is_401(server, case):
    room = uniq()
    now = int(time.time())
    tok = {
        "expired": lambda: token("alice", room, exp=now - 60),
        "bad_signature": lambda: token("alice", room, secret="wrong"),
        "alg_none": lambda: make_jwt("", {"sub": "alice", "room": room, "exp": now + 300},
                                     alg="none"),
        "hs512": lambda: token("alice", room, alg="HS512"),
        "garbage": lambda: "not.a.jwt",
        "no_exp": lambda: make_jwt(SECRET, {"sub": "alice", "room": room}),
        "no_sub": lambda: make_jwt(SECRET, {"room": room, "exp": now + 300}),
        "two_parts": lambda: token("alice", room).rsplit(".", 1)[0],
        "exp_string": lambda: make_jwt(SECRET, {"sub": "alice", "room": room,
                                                "exp": str(now + 300)}),
    }[case]()
    check_refusal(server.refused(room_path(room, token=tok)), 401, "unauthorized")


def test_alg_none_with_valid_hs256_signature_is_401(server):
    room = uniq()
    good = token("alice", room)
    _, claims, sig = good.split(".")
    forged = make_jwt(SECRET, {}, header={"alg": "none", "typ": "JWT"}).split(".")[0]
    check_refusal(server.refused(room_path(room, token=f"{forged}.{claims}.{sig}")), 401,
                  "unauthorized")


def test_plain_get_with_a_bad_token_answers_the_token_refusal(server):
    # The page's way to learn why its upgrade was refused (issue 13, bug 6): the same URL over
    # plain HTTP gives the join's refusal, and 426 only when the token would be accepted.
    room = uniq()
    now = int(time.time())
    expired = check_refusal(server.http(room_path(room, token=token("a", room, exp=now - 60))),
                            401, "unauthorized")
    assert "expired" in expired["message"], expired
    check_refusal(server.http(room_path(room)), 401, "unauthorized")
    check_refusal(server.http(room_path(room, token=token("a", "elsewhere"))), 403, "forbidden")
    check_refusal(server.http(room_path(room, token=token("a", room))), 426, "upgrade_required")


def test_token_for_another_room_is_403(server):
    check_refusal(server.refused(room_path(uniq(), token=token("alice", "elsewhere"))), 403,
                  "forbidden")


def test_wildcard_room_token(server):
    room = uniq()
    c = server.join(room, token=token("alice", "*"))
    assert c.welcome["room"] == room


def test_speak_false_audio_dropped_with_forbidden(server):
    room = uniq()
    quiet = join(server, room, "quiet", speak=False)
    other = join(server, room, "other")
    assert_fields(other.welcome["members"][0], {"member": quiet.member, "speak": False})
    assert_fields(quiet.recv_json("joined"), {"member": other.member, "speak": True})
    for _ in range(5):
        quiet.send_binary(b"\x01not allowed")
    quiet.send_binary(b"\x02" + other.member.to_bytes(4, "big") + b"nor this")
    assert errors_in(barrier(quiet)) == ["forbidden"]
    quiet.send_json({"type": "chat", "text": "text is fine"})
    m = other.recv_msg()
    assert m[0] == "text" and "text is fine" in m[1], m  # no audio came first


def test_admin_mute_is_sticky(server):
    room = uniq()
    admin = join(server, room, "boss", admin=True)
    target = join(server, room, "t")
    admin.recv_json("joined")
    admin.send_json({"type": "mute", "member": target.member, "muted": True})
    for x in (admin, target):
        assert_fields(x.recv_json("muted"), {"member": target.member, "muted": True,
                                             "by": admin.member})
    target.send_json({"type": "mute", "muted": False})
    assert errors_in(barrier(target)) == ["forbidden"]
    target.send_binary(b"\x01muted")
    # At most one forbidden a second; a server may count the text one just sent.
    assert errors_in(barrier(target, "2")) in (["forbidden"], [])
    admin.send_json({"type": "mute", "member": target.member, "muted": False})
    for x in (admin, target):
        assert_fields(x.recv_json("muted"), {"member": target.member, "muted": False,
                                             "by": admin.member})
    target.send_binary(b"\x01speaking again")
    assert admin.recv_binary() == audio(1, target.member, b"speaking again")


def test_admin_kick(server):
    room = uniq()
    admin = join(server, room, "boss", admin=True)
    target = join(server, room, "t")
    bystander = join(server, room, "by")
    admin.recv_json("joined")
    admin.recv_json("joined")
    target.recv_json("joined")
    admin.send_json({"type": "kick", "member": target.member})
    target.expect_close(4001)
    for x in (admin, bystander):
        assert_fields(x.recv_json("left"), {"member": target.member, "user": "t",
                                            "reason": "kicked"})
    admin.send_json({"type": "kick", "member": target.member})
    assert errors_in(barrier(admin)) == ["no_such_member"]


def test_non_admin_token_cannot_kick(server):
    room = uniq()
    a = join(server, room, "a", admin=False)
    b = join(server, room, "b")
    a.recv_json("joined")
    a.send_json({"type": "kick", "member": b.member})
    assert errors_in(barrier(a)) == ["forbidden"]


def test_rooms_listing_needs_admin_token(server):
    room = uniq()
    join(server, room, "someone")
    assert server.http("/v1/rooms").status == 401
    bad = server.http("/v1/rooms", headers={"Authorization": "Bearer nonsense"})
    assert bad.status == 401
    user_tok = token("u", "*")
    assert server.http("/v1/rooms", headers={"Authorization": f"Bearer {user_tok}"}).status == 403
    admin_tok = token("root", "*", admin=True)
    assert server.rooms(headers={"Authorization": f"Bearer {admin_tok}"}).get(room) == 1
    assert server.rooms(path=f"/v1/rooms?token={admin_tok}").get(room) == 1
    for r in (server.http("/v1/rooms"),
              server.http("/v1/rooms", headers={"Authorization": f"Bearer {user_tok}"})):
        body = r.json()
        assert isinstance(body.get("error"), str) and isinstance(body.get("message"), str)


def test_auth_secret_file(chorusd, tmp_path):
    secret_file = tmp_path / "secret"
    secret_file.write_text("from-a-file")
    server = chorusd("--auth-secret-file", str(secret_file))
    room = uniq()
    c = server.join(room, token=token("alice", room, secret="from-a-file"))
    assert c.welcome["user"] == "alice"
    check_refusal(server.refused(room_path(room, token=token("bob", room))), 401,
                  "unauthorized")
