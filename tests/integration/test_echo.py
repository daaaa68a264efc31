"""RFC 6455 conformance of chorusd's framing layer, through the echo endpoint (--echo-endpoint,
GET /v1/echo): message kinds and sizes, fragmentation, ping/pong, the close handshake, and the
close code for every kind of protocol error. Every test runs on both transports: plain ws and
wss from chorusd's own TLS listener (a test CA made here), where frames and UTF-8 sequences are
cut across TLS records and a 16 MiB message spans about a thousand of them.
"""

import struct

import pytest

from harness import T, check_refusal, make_test_pki, start_tls_server, tls_socket
from wsclient import (OP_BINARY, OP_CLOSE, OP_CONT, OP_PING, OP_TEXT, ConnectionLost,
                      close_payload, encode_frame, mask_payload)

MIB = 1024 * 1024


@pytest.fixture(scope="module", params=["ws", "wss"])
def server(request, chorusd_module, tmp_path_factory):
    if request.param == "ws":
        return chorusd_module("--echo-endpoint")
    pki = make_test_pki(tmp_path_factory.mktemp("pki"))
    return start_tls_server(chorusd_module, pki, "--echo-endpoint")


def open_echo(server):
    """The echo endpoint over the server's transport (wss when it has a TLS listener)."""
    if getattr(server, "tls_port", None) is None:
        return server.ws("/v1/echo")
    return server.ws("/v1/echo", sock=tls_socket(server))


@pytest.fixture
def echo(server):
    return open_echo(server)


def test_text_echo(echo):
    echo.send_text("hello, chorus")
    assert echo.recv_msg() == ("text", "hello, chorus")
    echo.send_text("héllo wörld ✓ 🎤")
    assert echo.recv_msg() == ("text", "héllo wörld ✓ 🎤")


def test_binary_echo(echo):
    data = bytes(range(256)) * 3
    echo.send_binary(data)
    assert echo.recv_msg() == ("binary", data)


def test_empty_messages(echo):
    echo.send_text("")
    assert echo.recv_msg() == ("text", "")
    echo.send_binary(b"")
    assert echo.recv_msg() == ("binary", b"")


def test_fragmented_with_interleaved_ping(echo):
    echo.send_frame(OP_TEXT, b"frag", fin=False)
    echo.send_frame(OP_PING, b"in-between")
    echo.send_frame(OP_CONT, b"men", fin=False)
    echo.send_frame(OP_CONT, b"ted", fin=True)
    got = [echo.recv(), echo.recv()]
    assert ("pong", b"in-between") in got, got
    assert ("text", "fragmented") in got, got


def test_fragmented_binary_with_empty_fragments(echo):
    echo.send_frame(OP_BINARY, b"", fin=False)
    echo.send_frame(OP_CONT, b"\x00\x01", fin=False)
    echo.send_frame(OP_CONT, b"", fin=False)
    echo.send_frame(OP_CONT, b"\x02", fin=True)
    assert echo.recv_msg() == ("binary", b"\x00\x01\x02")


def test_utf8_character_split_across_fragments(echo):
    data = "€uro".encode()  # € is 3 bytes: split it 1 + 2
    echo.send_frame(OP_TEXT, data[:1], fin=False)
    echo.send_frame(OP_CONT, data[1:], fin=True)
    assert echo.recv_msg() == ("text", "€uro")


def test_a_frame_one_byte_per_write(echo):
    # Over wss each write is a TLS record of its own: the frame and its characters arrive cut
    # at every byte, with a ping cut the same way between two fragments.
    text = "größe ✓ 🎤"
    data = text.encode()
    for frame in (encode_frame(OP_TEXT, data[:5], fin=False), encode_frame(OP_PING, b"mid"),
                  encode_frame(OP_CONT, data[5:], fin=True)):
        for i in range(len(frame)):
            echo.send_raw(frame[i : i + 1])
    got = [echo.recv(), echo.recv()]
    assert sorted(got) == [("pong", b"mid"), ("text", text)], got


def test_many_messages_in_one_write(echo):
    # About 1 MiB of 200 frames in one write: over wss, records end inside frames and headers,
    # and the echoes come back coalesced.
    sizes = [1 + i * 50 for i in range(200)]
    echo.send_raw(b"".join(encode_frame(OP_BINARY, bytes([i]) * n) for i, n in enumerate(sizes)))
    for i, n in enumerate(sizes):
        assert echo.recv_msg() == ("binary", bytes([i]) * n), f"message {i}"


def test_64k_message(echo):
    data = bytes((i * 7) & 0xFF for i in range(64 * 1024))
    echo.send_binary(data)
    assert echo.recv_msg() == ("binary", data)
    text = "x" * 65535 + "é"
    echo.send_text(text)
    assert echo.recv_msg() == ("text", text)


@pytest.mark.deadline(60)
def test_16mib_message(echo):
    data = bytes(range(256)) * (16 * MIB // 256)
    assert len(data) == 16 * MIB
    echo.send_binary(data)
    kind, got = echo.recv_msg(timeout=T(30))
    assert kind == "binary" and len(got) == len(data) and got == data


def test_ping_gets_pong_with_same_payload(echo):
    echo.send_ping(b"are you there?")
    assert echo.recv() == ("pong", b"are you there?")
    echo.send_ping(b"")
    assert echo.recv() == ("pong", b"")
    payload = bytes(range(125))
    echo.send_ping(payload)
    assert echo.recv() == ("pong", payload)


def test_unsolicited_pong_is_ignored(echo):
    echo.send_pong(b"nobody asked")
    echo.send_text("still here")
    assert echo.recv_msg() == ("text", "still here")


@pytest.mark.parametrize("code,reason", [(1000, "bye"), (1001, ""), (3000, "app"),
                                         (4999, "x" * 100)])
def test_close_handshake_echoes_code(echo, code, reason):
    echo.send_close(code, reason)
    got_code, _ = echo.expect_close(skip_data=False)
    assert got_code == code


def test_close_without_code(echo):
    echo.send_frame(OP_CLOSE, b"")
    got_code, _ = echo.expect_close(skip_data=False)
    assert got_code in (None, 1000)


def test_unmasked_frame_is_1002(echo):
    echo.send_frame(OP_TEXT, b"naked", mask=False)
    echo.expect_close(1002, skip_data=False)


@pytest.mark.parametrize("rsv", [4, 2, 1])
def test_rsv_bits_are_1002(echo, rsv):
    echo.send_frame(OP_TEXT, b"rsv", rsv=rsv)
    echo.expect_close(1002, skip_data=False)


@pytest.mark.parametrize("opcode", [0x3, 0x7, 0xB, 0xF])
def test_reserved_opcode_is_1002(echo, opcode):
    echo.send_frame(opcode, b"what")
    echo.expect_close(1002, skip_data=False)


def test_control_frame_over_125_bytes_is_1002(echo):
    echo.send_frame(OP_PING, b"p" * 126)
    echo.expect_close(1002, skip_data=False)


def test_fragmented_ping_is_1002(echo):
    echo.send_frame(OP_PING, b"half", fin=False)
    echo.expect_close(1002, skip_data=False)


def test_continuation_without_start_is_1002(echo):
    echo.send_frame(OP_CONT, b"orphan", fin=True)
    echo.expect_close(1002, skip_data=False)


def test_new_message_inside_fragmented_one_is_1002(echo):
    echo.send_frame(OP_TEXT, b"part one", fin=False)
    echo.send_frame(OP_TEXT, b"not a continuation", fin=True)
    echo.expect_close(1002, skip_data=False)


def test_non_minimal_16bit_length_is_1002(echo):
    key = b"\x0a\x0b\x0c\x0d"
    echo.send_raw(bytes([0x82, 0x80 | 126]) + struct.pack("!H", 5) + key
                  + mask_payload(b"hello", key))
    echo.expect_close(1002, skip_data=False)


def test_non_minimal_64bit_length_is_1002(echo):
    key = b"\x0a\x0b\x0c\x0d"
    payload = b"y" * 200
    echo.send_raw(bytes([0x82, 0x80 | 127]) + struct.pack("!Q", 200) + key
                  + mask_payload(payload, key))
    echo.expect_close(1002, skip_data=False)


def test_64bit_length_with_top_bit_is_1002(echo):
    echo.send_raw(bytes([0x82, 0x80 | 127]) + struct.pack("!Q", 1 << 63 | 5) + b"\x00" * 4
                  + b"hello")
    echo.expect_close(1002, skip_data=False)


@pytest.mark.parametrize("data", [b"\xff", b"abc\xc0\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80",
                                  b"ok\xe2\x82"])
def test_invalid_utf8_text_is_1007(echo, data):
    echo.send_frame(OP_TEXT, data)
    echo.expect_close(1007, skip_data=False)


def test_invalid_utf8_split_across_fragments_is_1007(echo):
    echo.send_frame(OP_TEXT, b"fine \xce", fin=False)
    echo.send_frame(OP_CONT, b"A then more", fin=True)
    echo.expect_close(1007, skip_data=False)


def test_truncated_utf8_at_message_end_is_1007(echo):
    echo.send_frame(OP_TEXT, b"fine ", fin=False)
    echo.send_frame(OP_CONT, b"\xf0\x9f\x8e", fin=True)
    echo.expect_close(1007, skip_data=False)


# Autobahn 6.4.1-6.4.4 (fail fast on invalid UTF-8): "κόσμε", U+110000 encoded (invalid from
# its second byte), then "edited". The 1007 close must arrive while the rest is still unsent:
# each test waits for it with a generous deadline and never sends the rest.
KOSME = "κόσμε".encode()
FAIL_FAST = [(b"\xf4\x90\x80\x80", b"edited"), (b"\xf4\x90", b"\x80\x80edited")]


@pytest.mark.parametrize("invalid,rest", FAIL_FAST, ids=["6.4.1", "6.4.2"])
def test_invalid_utf8_fragment_closes_before_the_last_fragment(echo, invalid, rest):
    echo.send_frame(OP_TEXT, KOSME, fin=False)
    echo.send_frame(OP_CONT, invalid, fin=False)
    echo.expect_close(1007, skip_data=False, timeout=T(10))  # the fragment with `rest` is unsent


@pytest.mark.parametrize("invalid,rest", FAIL_FAST, ids=["6.4.3", "6.4.4"])
def test_invalid_utf8_closes_before_the_frame_ends(echo, invalid, rest):
    payload = KOSME + invalid + rest
    frame = encode_frame(OP_TEXT, payload)
    header = len(frame) - len(payload)
    sent = header + len(KOSME) + len(invalid)
    echo.send_raw(frame[: header + len(KOSME)])  # a valid beginning, then the invalid bytes
    echo.send_raw(frame[header + len(KOSME) : sent])
    echo.expect_close(1007, skip_data=False, timeout=T(10))  # frame[sent:] is unsent


def test_invalid_utf8_in_the_first_chunk_of_a_frame_closes_at_once(echo):
    payload = b"ok \xed\xa0\x80" + b"x" * 1000  # a surrogate: invalid from its second byte
    frame = encode_frame(OP_TEXT, payload)
    echo.send_raw(frame[: len(frame) - 1000])
    echo.expect_close(1007, skip_data=False, timeout=T(10))


@pytest.mark.parametrize("code", [0, 999, 1004, 1005, 1006, 1015, 1100, 2999, 5000, 65535])
def test_invalid_close_code_is_1002(echo, code):
    echo.send_frame(OP_CLOSE, struct.pack("!H", code) + b"bad")
    echo.expect_close(1002, skip_data=False)


def test_close_with_one_byte_payload_is_1002(echo):
    echo.send_frame(OP_CLOSE, b"\x03")
    echo.expect_close(1002, skip_data=False)


def test_close_reason_invalid_utf8(echo):
    echo.send_frame(OP_CLOSE, close_payload(1000) + b"\xff\xfe")
    echo.expect_close({1002, 1007}, skip_data=False)


def test_message_over_16mib_is_1009(echo):
    size = 16 * MIB + 1
    key = b"\x00\x00\x00\x00"
    # The header alone decides: the close must come while nearly all the payload is unsent.
    echo.send_raw(bytes([0x82, 0x80 | 127]) + struct.pack("!Q", size) + key + b"\x00" * 1000)
    try:
        echo.expect_close(1009, skip_data=False, timeout=T(20))
    except ConnectionLost:
        pytest.fail("connection reset without a 1009 close frame")


def test_fragmented_message_over_16mib_is_1009(echo):
    # The server reads both 8 MiB fragments (they fit the limit exactly), so plain sends finish.
    chunk = b"\x00" * (8 * MIB)
    echo.send_frame(OP_BINARY, chunk, fin=False)
    echo.send_frame(OP_CONT, chunk, fin=False)
    try:
        echo.send_frame(OP_CONT, b"\x00", fin=True)
    except OSError:
        pass  # the server may close as soon as it has read this frame's header
    echo.expect_close(1009, skip_data=False, timeout=T(20))


def test_echo_keeps_working_after_errors_on_other_connections(server):
    bad = open_echo(server)
    bad.send_frame(OP_TEXT, b"x", mask=False)
    bad.expect_close(1002, skip_data=False)
    good = open_echo(server)
    good.send_text("ok")
    assert good.recv_msg() == ("text", "ok")


def test_echo_endpoint_off_by_default(chorusd):
    server = chorusd()
    check_refusal(server.refused("/v1/echo"), 404, "not_found")
