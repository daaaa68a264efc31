"""The HTTP side of chorusd: the upgrade handshake and its refusals (status, JSON body,
Connection: close), subprotocol and extension negotiation, limits (headers, connections, room
size, origins, handshake timeout) and the plain endpoints (/healthz, /metrics, /v1/rooms, /).
"""

import base64
import os
import re
import socket
import threading
import time

import pytest

from harness import T, check_refusal, http_request, room_path, uniq, wait_until
import wsclient
from wsclient import WsClient


@pytest.fixture(scope="module")
def server(chorusd_module):
    return chorusd_module("--echo-endpoint")


def refusal_body(response):
    """The JSON body every refusal carries, whatever its status."""
    body = response.json()
    assert isinstance(body.get("error"), str) and isinstance(body.get("message"), str), body
    assert "close" in response.header_tokens("connection"), response.headers
    return body


# ---- paths and query validation -------------------------------------------------------------

def test_unknown_path_is_404(server):
    check_refusal(server.refused("/v1/nope"), 404, "not_found")
    check_refusal(server.refused("/v2/rooms/r?user=a"), 404, "not_found")
    r = server.http("/definitely/not/here")
    assert r.status == 404


def test_plain_get_on_room_url_is_426(server):
    r = server.http(room_path(uniq(), user="alice"))
    check_refusal(r, 426, "upgrade_required")


@pytest.mark.parametrize("query,why", [
    ("user=a&name=" + "%E4%B8%AD" * 22, "name"),  # 66 bytes of UTF-8, 22 characters
    ("user=a&name=" + "n" * 100, "name"),
    ("user=bad!id", "user"),
    ("name=nobody", "user"),
    ("user=a&admin=2", "admin"),
])
def test_plain_get_of_a_bad_join_answers_its_refusal(server, query, why):
    # A browser cannot see why an upgrade was refused; the page asks the same URL over plain
    # HTTP, which must give the join's own refusal, not a bare 426 (issue 13, bug 6).
    path = f"/v1/rooms/{uniq()}?{query}"
    upgrade = check_refusal(server.refused(path), 400, "bad_request")
    plain = check_refusal(server.http(path), 400, "bad_request")
    assert plain == upgrade and why in plain["message"], (plain, upgrade)


@pytest.mark.parametrize("room", ["a%41b", "a:b", "a~b", "a@b", "a!b", "a%2Fb", "caf\xe9",
                                  "r" * 65])
def test_bad_room_is_400(server, room):
    check_refusal(server.refused(f"/v1/rooms/{room}?user=alice"), 400, "bad_request")


def test_room_and_user_of_64_bytes_are_fine(server):
    room = ("Az09_.-" * 10)[:60] + os.urandom(2).hex()
    assert len(room) == 64
    user = "u" * 64
    c = server.join(room, user=user)
    assert c.welcome["room"] == room and c.welcome["user"] == user


@pytest.mark.parametrize("query", ["user=a%21", "user=a%20b", "user=" + "u" * 65, "user=",
                                   "name=bob", "", "user=%C3%A9"])
def test_bad_or_missing_user_is_400(server, query):
    path = f"/v1/rooms/{uniq()}" + (f"?{query}" if query else "")
    check_refusal(server.refused(path), 400, "bad_request")


def test_user_is_percent_decoded(server):
    c = server.ws(f"/v1/rooms/{uniq()}?user=al%69ce")
    w = c.recv_json("welcome")
    assert w["user"] == "alice" and w["name"] == "alice"


@pytest.mark.parametrize("name", ["%01", "a%0Ab", "%1F", "tab%09", "%7F", "c1%C2%85"])
def test_name_with_control_characters_is_400(server, name):
    check_refusal(server.refused(f"/v1/rooms/{uniq()}?user=bob&name={name}"), 400,
                  "bad_request")


@pytest.mark.parametrize("name", ["%FF", "%C3", "%ED%A0%80", "%C0%AF"])
def test_name_with_invalid_utf8_is_400(server, name):
    check_refusal(server.refused(f"/v1/rooms/{uniq()}?user=bob&name={name}"), 400,
                  "bad_request")


def test_name_length_limit(server):
    ok = server.join(uniq(), user="bob", name="é" * 32)
    assert ok.welcome["name"] == "é" * 32
    path = room_path(uniq(), user="bob", name="é" * 32 + "a")
    check_refusal(server.refused(path), 400, "bad_request")


def test_empty_name_is_allowed(server):
    c = server.ws(f"/v1/rooms/{uniq()}?user=bob&name=")
    assert c.recv_json("welcome")["name"] == ""


@pytest.mark.parametrize("query", ["user=a%2", "user=a%zz", "user=%", "user=bob&name=%G1",
                                   "user=bob&name=ab%", "user=bob&name=%%41"])
def test_bad_percent_escape_is_400(server, query):
    check_refusal(server.refused(f"/v1/rooms/{uniq()}?{query}"), 400, "bad_request")


# ---- the RFC 6455 handshake -----------------------------------------------------------------

def test_missing_key_is_400(server):
    r = server.refused(room_path(uniq(), user="a"), headers={"Sec-WebSocket-Key": None})
    check_refusal(r, 400, "bad_request")


@pytest.mark.parametrize("key", ["hello", base64.b64encode(b"x" * 15).decode(),
                                 base64.b64encode(b"x" * 17).decode(), "!!!!!!!!!!!!!!!!!!!!!!==",
                                 ""])
def test_bad_key_is_400(server, key):
    r = server.refused(room_path(uniq(), user="a"), headers={"Sec-WebSocket-Key": key})
    check_refusal(r, 400, "bad_request")


@pytest.mark.parametrize("version", ["8", "12", "14", None])
def test_wrong_version_is_refused(server, version):
    r = server.refused(room_path(uniq(), user="a"), headers={"Sec-WebSocket-Version": version})
    if r.status == 426:
        check_refusal(r, 426, "upgrade_required")
        assert "13" in r.header_tokens("sec-websocket-version"), r.headers
    else:
        check_refusal(r, 400, "bad_request")


def test_missing_upgrade_header_is_426(server):
    r = server.refused(room_path(uniq(), user="a"), headers={"Upgrade": None})
    check_refusal(r, 426, "upgrade_required")


def test_connection_header_tokens_are_case_insensitive(server):
    c = server.ws(room_path(uniq(), user="a"), headers={"Connection": "keep-alive, UPGRADE",
                                                       "Upgrade": "WebSocket"})
    c.recv_json("welcome")


@pytest.mark.deadline(30)
def test_huge_headers_are_431(server):
    s = socket.create_connection(("127.0.0.1", server.port), timeout=T(5))
    request = (f"GET {room_path(uniq(), user='a')} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
               "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
               + "".join(f"X-Filler-{i}: {'f' * 1000}\r\n" for i in range(100)) + "\r\n")

    def send():
        try:
            s.sendall(request.encode())
        except OSError:
            pass  # the server may close before reading everything

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    r, _ = wsclient.read_http_response(s, b"", time.monotonic() + T(5))
    sender.join(T(5))
    s.close()
    assert r.status == 431, r
    refusal_body(r)
    assert r.closed_after


# ---- negotiation ---------------------------------------------------------------------------

def test_subprotocol_selected_when_offered(server):
    c = server.ws(room_path(uniq(), user="a"), subprotocols=["chorus.v1"])
    assert c.subprotocol == "chorus.v1"
    c.recv_json("welcome")
    c2 = server.ws(room_path(uniq(), user="a"), subprotocols=["other.v9", "chorus.v1"])
    assert c2.subprotocol == "chorus.v1"


def test_no_subprotocol_when_not_offered(server):
    c = server.ws(room_path(uniq(), user="a"))
    assert c.subprotocol is None
    c2 = server.ws(room_path(uniq(), user="a"), subprotocols=["other.v9"])
    assert c2.subprotocol is None


def test_permessage_deflate_is_declined(server):
    # Handshake.finish raises if Sec-WebSocket-Extensions comes back.
    c = server.ws(room_path(uniq(), user="a"), headers={
        "Sec-WebSocket-Extensions": "permessage-deflate; client_max_window_bits"})
    c.recv_json("welcome")
    e = server.ws("/v1/echo", headers={"Sec-WebSocket-Extensions": "permessage-deflate"})
    e.send_text("plain")
    assert e.recv_msg() == ("text", "plain")


# ---- timeouts and limits -------------------------------------------------------------------

def test_handshake_timeout_closes_silent_socket(chorusd):
    server = chorusd("--handshake-timeout", "300ms", "--echo-endpoint")
    established = server.ws("/v1/echo")
    silent = socket.create_connection(("127.0.0.1", server.port))
    partial = socket.create_connection(("127.0.0.1", server.port))
    partial.sendall(b"GET /v1/echo HTTP/1.1\r\nHost: x\r\n")
    t0 = time.monotonic()
    for s in (silent, partial):
        s.settimeout(T(5))
        try:
            while s.recv(4096):
                pass  # a 408-style response before closing is fine
        except ConnectionResetError:
            pass
        except socket.timeout:
            pytest.fail("server kept an idle pre-handshake socket open")
    assert time.monotonic() - t0 >= 0.2
    # The timeout is for the handshake only: an upgraded connection is not affected.
    established.send_text("alive")
    assert established.recv_msg() == ("text", "alive")


def test_healthz(server):
    r = server.http("/healthz")
    assert r.status == 200
    assert r.json() == {"status": "ok"}


METRIC_LINE = re.compile(r"^(chorus_[A-Za-z0-9_:]*)(\{[^}]*\})?\s+(\S+)(\s+\d+)?$")


def test_metrics_is_prometheus_text(server):
    e = server.ws("/v1/echo")
    e.send_text("count me")
    e.recv_msg()
    r = server.http("/metrics")
    assert r.status == 200
    assert r.header("content-type", "").startswith("text/plain"), r.headers
    names = set()
    for line in r.text().splitlines():
        if not line.strip() or line.startswith("#"):
            if line.startswith("# TYPE") or line.startswith("# HELP"):
                assert line.split()[2].startswith("chorus_"), line
            continue
        m = METRIC_LINE.match(line)
        assert m, f"not a Prometheus sample line: {line!r}"
        float(m.group(3))
        names.add(m.group(1))
    assert any("conn" in n for n in names), names
    assert any("frame" in n for n in names), names


def test_rooms_lists_member_counts(server):
    r1, r2 = uniq(), uniq()
    server.join(r1, user="a")
    server.join(r1, user="b")
    server.join(r2, user="c")
    rooms = server.rooms()
    assert rooms.get(r1) == 2 and rooms.get(r2) == 1, rooms
    r = server.http("/v1/rooms")
    assert r.header("content-type", "").startswith("application/json"), r.headers


def test_root_serves_html(server):
    r = server.http("/")
    assert r.status == 200
    assert r.header("content-type", "").startswith("text/html"), r.headers
    assert b"<html" in r.body.lower() or b"<!doctype html" in r.body.lower()


def test_web_dir_overrides_embedded_page(chorusd, tmp_path):
    (tmp_path / "index.html").write_text("<!doctype html><html><body>dev page</body></html>")
    server = chorusd("--web", str(tmp_path))
    r = server.http("/")
    assert r.status == 200 and b"dev page" in r.body


def test_allowed_origins(chorusd):
    server = chorusd("--allowed-origins", "http://good.example,https://also.example")
    path = room_path(uniq(), user="a")
    check_refusal(server.refused(path, headers={"Origin": "http://evil.example"}), 403,
                  "forbidden")
    check_refusal(server.refused(path, headers={"Origin": "http://good.example.evil"}), 403,
                  "forbidden")
    server.ws(path, headers={"Origin": "http://good.example"}).recv_json("welcome")
    server.ws(room_path(uniq(), user="b"),
              headers={"Origin": "https://also.example"}).recv_json("welcome")


def test_max_connections(chorusd):
    server = chorusd("--max-connections", "3")
    room = uniq()
    clients = [server.join(room, user=f"u{i}") for i in range(3)]
    check_refusal(server.refused(room_path(room, user="u3")), 503, "overloaded")
    clients[0].close()

    def retry():
        c = server.connect(room_path(room, user="u4"))
        return c if isinstance(c, WsClient) else None

    c = wait_until(retry, T(5), "a free connection slot after one client left")
    c.recv_json("welcome")


def test_max_connections_per_ip(chorusd):
    server = chorusd("--max-connections-per-ip", "2")
    room = uniq()
    server.join(room, user="a")
    server.join(room, user="b")
    check_refusal(server.refused(room_path(room, user="c")), 503, "overloaded")


def test_max_room_members(chorusd):
    server = chorusd("--max-room-members", "2")
    room = uniq()
    a = server.join(room, user="a")
    server.join(room, user="b")
    check_refusal(server.refused(room_path(room, user="c")), 409, "room_full")
    server.join(uniq(), user="c")  # other rooms are not affected
    a.close()

    def retry():
        c = server.connect(room_path(room, user="c"))
        return c if isinstance(c, WsClient) else None

    wait_until(retry, T(5), "room space after a member left").recv_json("welcome")


@pytest.mark.parametrize("request_bytes", [
    b"HELLO\r\n\r\n", b"GET\r\n\r\n",
    b"GET /v1/rooms/r?user=a HTTP/1.1\r\nNoColonHere\r\n\r\n"])
def test_malformed_request_is_400(server, request_bytes):
    r = http_request(server.port, None, raw=request_bytes)
    assert r.status == 400, r
    assert refusal_body(r)["error"] == "bad_request"


@pytest.mark.parametrize("value", ["2", "2s", "500ms"])
def test_duration_flag_forms(chorusd, value):
    server = chorusd("--handshake-timeout", value, "--resume-grace", value, "--ping-interval",
                     value, "--idle-timeout", value)
    server.join(uniq(), user="a")
