"""https and wss:// from chorusd itself (--tls-listen): a test CA made here signs the server's
certificate; Python's ssl module is the client. Rooms, audio, the page, /healthz and /metrics
on the TLS listener on both loop backends; plain HTTP, garbage and a stalled handshake on the TLS
port; TLS 1.1 refused; ALPN; session resumption; SIGHUP reload with a good and a bad certificate
while a room connection stays up; the self-signed mode's fingerprint; bad files at start.
"""

import hashlib
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import time
import warnings

import pytest

import wsclient
from harness import (CHORUS_BENCH, CHORUSD, T, audio, free_port, make_test_pki, metric,
                     room_path, uniq, wait_until, welcome_of)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """A test CA and two server certificates it signs (for reload), for 127.0.0.1/localhost."""
    return make_test_pki(tmp_path_factory.mktemp("pki"), ("one", "two"))


def client_context(pki=None, alpn=("http/1.1",)):
    if pki is None:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    else:
        ctx = ssl.create_default_context(cafile=str(pki / "ca.pem"))
    if alpn:
        ctx.set_alpn_protocols(list(alpn))
    return ctx


def tls_connect(port, ctx, timeout=None):
    raw = socket.create_connection(("127.0.0.1", port), timeout=timeout or T(10))
    return ctx.wrap_socket(raw, server_hostname="127.0.0.1")


def https(port, ctx, path):
    with tls_connect(port, ctx) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
                  .encode())
        response, _ = wsclient.read_http_response(s, b"", time.monotonic() + T(10))
        return response


def wss_join(server, ctx, room, user):
    sock = tls_connect(server.tls_port, ctx)
    c = server.finish(server.handshake(room_path(room, user=user), sock=sock))
    assert isinstance(c, wsclient.WsClient), f"join refused over wss: {c!r}"
    return welcome_of(c)


def fingerprint(sock):
    return hashlib.sha256(sock.getpeercert(binary_form=True)).hexdigest()


def file_fingerprint(pem_path):
    der = ssl.PEM_cert_to_DER_cert(open(pem_path).read())
    return hashlib.sha256(der).hexdigest()


def start_tls(chorusd, pki, *flags, cert="one"):
    port = free_port()
    server = chorusd("--tls-listen", f"127.0.0.1:{port}", "--tls-cert", str(pki / f"{cert}.pem"),
                     "--tls-key", str(pki / f"{cert}.key"), *flags)
    server.tls_port = port
    wait_until(lambda: https_ok(port, pki), T(10), "the TLS listener to answer")
    return server


def https_ok(port, pki):
    try:
        return https(port, client_context(pki), "/healthz").status == 200
    except OSError:
        return False


@pytest.mark.parametrize("io", ["uring", "epoll"])
def test_wss_rooms_audio_page_health_and_metrics(chorusd, pki, io):
    server = start_tls(chorusd, pki, "--io", io)
    ctx = client_context(pki)
    page = https(server.tls_port, ctx, "/")
    assert page.status == 200 and b"<!doctype html>" in page.body.lower()
    health = https(server.tls_port, ctx, "/healthz")
    assert health.status == 200 and health.json()["status"] == "ok"
    # Several rooms, so that some joins are handed to the other shard with their TLS session.
    for i in range(6):
        room = uniq()
        a = wss_join(server, ctx, room, "a")
        b = wss_join(server, ctx, room, "b")
        plain = server.join(room, user="c")  # the plain listener shares the room
        a.recv_json("joined")
        a.recv_json("joined")
        b.recv_json("joined")
        a.send_binary(b"\x01opus-over-tls" + bytes([i]))
        for x in (b, plain):
            assert x.recv_binary() == audio(1, a.member, b"opus-over-tls" + bytes([i]))
        plain.send_binary(b"\x01" + b"p" * 3000)  # several frames' worth in one record
        for x in (a, b):
            assert x.recv_binary() == audio(1, plain.member, b"p" * 3000)
    assert metric(server, "chorus_handoffs_total") > 0
    wait_until(lambda: metric(server, "chorus_tls_handshakes_total") >= 6 * 2 + 2, T(10),
               "the TLS handshakes to be counted")
    assert "chorus_connections" in https(server.tls_port, ctx, "/metrics").text()
    # Every one of them TLS 1.3, so every session's records were handed over to chorusd's own
    # record layer (OpenSSL's session freed), handoffs to the other shard included.
    wait_until(lambda: metric(server, "chorus_tls_own_records_total") ==
               metric(server, "chorus_tls_handshakes_total"), T(10),
               "every TLS 1.3 session to have handed its records over")


def test_alpn_is_http11_and_tls11_is_refused(chorusd, pki):
    server = start_tls(chorusd, pki)
    with tls_connect(server.tls_port, client_context(pki, alpn=("h2", "http/1.1"))) as s:
        assert s.selected_alpn_protocol() == "http/1.1"
        assert s.version() in ("TLSv1.3", "TLSv1.2")
    with tls_connect(server.tls_port, client_context(pki, alpn=("h2",))) as s:
        assert s.selected_alpn_protocol() is None  # no ALPN rather than a failed handshake
    old = client_context(pki)
    with warnings.catch_warnings():  # TLS 1.1 is deprecated: that is the point
        warnings.simplefilter("ignore", DeprecationWarning)
        old.minimum_version = ssl.TLSVersion.TLSv1_1
        old.maximum_version = ssl.TLSVersion.TLSv1_1
    try:
        old.set_ciphers("ALL:@SECLEVEL=0")
    except ssl.SSLError:
        pass
    with pytest.raises(ssl.SSLError) as refused:
        tls_connect(server.tls_port, old).close()
    assert "version" in str(refused.value).lower(), refused.value  # the server's alert
    tls12 = client_context(pki)
    tls12.maximum_version = ssl.TLSVersion.TLSv1_2
    with tls_connect(server.tls_port, tls12) as s:
        assert s.version() == "TLSv1.2"
    assert https_ok(server.tls_port, pki)
    # The TLS 1.2 session kept OpenSSL's records; the TLS 1.3 ones did not.
    wait_until(lambda: metric(server, "chorus_tls_handshakes_total") -
               metric(server, "chorus_tls_own_records_total") == 1, T(10),
               "exactly the TLS 1.2 handshake to keep OpenSSL's records")


def test_session_ticket_resumes(chorusd, pki):
    server = start_tls(chorusd, pki)
    ctx = client_context(pki)
    with tls_connect(server.tls_port, ctx) as s:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        wsclient.read_http_response(s, b"", time.monotonic() + T(10))  # the ticket came first
        session = s.session
    raw = socket.create_connection(("127.0.0.1", server.tls_port), timeout=T(10))
    with ctx.wrap_socket(raw, server_hostname="127.0.0.1", session=session) as s:
        assert s.session_reused


def test_plain_http_to_the_tls_port_gets_a_clear_400_and_a_close(chorusd, pki):
    server = start_tls(chorusd, pki)
    r = wsclient_http(server.tls_port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    assert r.status == 400 and b"https://" in r.body
    assert r.closed_after
    wait_until(lambda: metric(server, "chorus_tls_plain_http_total") == 1, T(10),
               "the plain request to be counted")
    assert metric(server, "chorus_tls_failures_total") == 1
    assert https_ok(server.tls_port, pki)


def wsclient_http(port, raw):
    with socket.create_connection(("127.0.0.1", port), timeout=T(10)) as s:
        s.sendall(raw)
        response, _ = wsclient.read_http_response(s, b"", time.monotonic() + T(10))
        return response


def read_until_closed(sock, deadline):
    """Reads until EOF or a reset; returns what arrived before it."""
    got = b""
    while time.monotonic() < deadline:
        sock.settimeout(max(0.1, deadline - time.monotonic()))
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return got
        except socket.timeout:
            continue
        if not chunk:
            return got
        got += chunk
    raise AssertionError("the server kept the connection open")


def test_garbage_and_truncated_hellos_are_closed_and_cost_nobody_else(chorusd, pki):
    server = start_tls(chorusd, pki)
    ctx = client_context(pki)
    room = uniq()
    member = wss_join(server, ctx, room, "stays")
    with socket.create_connection(("127.0.0.1", server.tls_port), timeout=T(10)) as s:
        s.sendall(b"\x16\x03\x01\x00\x10" + os.urandom(16) + os.urandom(300))
        got = read_until_closed(s, time.monotonic() + T(10))
        assert not got or got[0] == 0x15  # nothing, or a TLS alert record
    with socket.create_connection(("127.0.0.1", server.tls_port), timeout=T(10)) as s:
        s.sendall(os.urandom(2000))
        read_until_closed(s, time.monotonic() + T(10))
    member.send_text('{"type":"ping"}')  # still served; whatever the answer, no close
    assert https_ok(server.tls_port, pki)
    assert member.recv(timeout=T(10))[0] == "text"


def hello_bytes(ctx):
    """The first flight of a real client, taken from an in-memory handshake."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(incoming, outgoing, server_hostname="127.0.0.1")
    with pytest.raises(ssl.SSLWantReadError):
        obj.do_handshake()
    return outgoing.read()


def test_a_stalled_handshake_is_closed_by_the_handshake_timeout(chorusd, pki):
    server = start_tls(chorusd, pki, "--handshake-timeout", "1s")
    hello = hello_bytes(client_context(pki))
    stalled = []
    for cut in (0, 5, len(hello) // 2):
        s = socket.create_connection(("127.0.0.1", server.tls_port), timeout=T(10))
        stalled.append((s, time.monotonic()))
        s.sendall(hello[:cut])
    for s, connected in stalled:
        read_until_closed(s, time.monotonic() + T(20))
        # Only a lower bound: the timeout closed it (the server accepted after we connected),
        # not the bytes it got.
        assert time.monotonic() - connected >= 0.95
        s.close()
    assert https_ok(server.tls_port, pki)


def test_sighup_reloads_the_certificate_without_dropping_connections(chorusd, pki, tmp_path):
    cert, key = tmp_path / "live.pem", tmp_path / "live.key"
    shutil.copy(pki / "one.pem", cert)
    shutil.copy(pki / "one.key", key)
    port = free_port()
    server = chorusd("--tls-listen", f"127.0.0.1:{port}", "--tls-cert", str(cert),
                     "--tls-key", str(key))
    server.tls_port = port
    wait_until(lambda: https_ok(port, pki), T(10), "the TLS listener")
    ctx = client_context(pki)
    room = uniq()
    a = wss_join(server, ctx, room, "a")
    b = wss_join(server, ctx, room, "b")
    a.recv_json("joined")
    with tls_connect(port, ctx) as s:
        assert fingerprint(s) == file_fingerprint(pki / "one.pem")

    shutil.copy(pki / "two.pem", cert)
    shutil.copy(pki / "two.key", key)
    server.proc.send_signal(signal.SIGHUP)
    want = file_fingerprint(pki / "two.pem")

    def serves_two():
        with tls_connect(port, ctx) as s:
            return fingerprint(s) == want
    wait_until(serves_two, T(10), "the reloaded certificate")
    a.send_binary(b"\x01after-reload")  # the connections made before it still carry audio
    assert b.recv_binary() == audio(1, a.member, b"after-reload")

    cert.write_text("-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n")
    server.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: "keeping the old certificate" in server.stderr_text(), T(10),
               "the bad reload to be logged")
    assert str(cert) in server.stderr_text()
    with tls_connect(port, ctx) as s:
        assert fingerprint(s) == want
    b.send_binary(b"\x01still-here")
    assert a.recv_binary() == audio(1, b.member, b"still-here")


def test_self_signed_mode_prints_the_fingerprint_it_serves(chorusd):
    port = free_port()
    server = chorusd("--tls-listen", f"127.0.0.1:{port}", "--tls-self-signed")
    printed = [l for l in server.stderr_text().splitlines() if "SHA-256 fingerprint" in l]
    assert printed, server.stderr_text()
    assert f"https://localhost:{port}/" in server.stderr_text()
    with tls_connect(port, client_context()) as s:
        served = fingerprint(s)
    assert printed[0].split()[-1].replace(":", "").lower() == served
    assert "kernel" in server.stderr_text()  # the kTLS line, said once


@pytest.mark.parametrize("problem", ["missing", "garbage", "mismatch", "alone"])
def test_bad_tls_files_at_start_exit_nonzero_with_a_clear_error(pki, tmp_path, problem):
    bad = tmp_path / "bad.pem"
    bad.write_text("garbage\n")
    cert, key = str(pki / "one.pem"), str(pki / "one.key")
    flags = {"missing": ["--tls-cert", str(tmp_path / "nope.pem"), "--tls-key", key],
             "garbage": ["--tls-cert", str(bad), "--tls-key", key],
             "mismatch": ["--tls-cert", cert, "--tls-key", str(pki / "two.key")],
             "alone": ["--tls-cert", cert]}[problem]
    proc = subprocess.run([CHORUSD, "--listen", f"127.0.0.1:{free_port()}", "--tls-listen",
                           f"127.0.0.1:{free_port()}", *flags], capture_output=True,
                          timeout=T(20))
    assert proc.returncode != 0
    err = proc.stderr.decode()
    assert "ready on" not in err
    expect = {"missing": "nope.pem", "garbage": str(bad), "mismatch": "does not match",
              "alone": "go together"}[problem]
    assert expect in err, err


@pytest.mark.deadline(60)
def test_hundreds_of_handshakes_at_once_cost_a_room_nothing_but_time(chorusd, pki):
    server = start_tls(chorusd, pki, "--handshake-timeout", "2s")
    ctx = client_context(pki)
    room = uniq()
    a = wss_join(server, ctx, room, "a")
    b = wss_join(server, ctx, room, "b")
    a.recv_json("joined")
    # Each sends a real ClientHello (the server pays a key exchange and a signature) and then
    # never finishes; half of them send only half of it.
    flock = []
    for i in range(300):
        s = socket.create_connection(("127.0.0.1", server.tls_port), timeout=T(10))
        hello = hello_bytes(ctx)
        s.sendall(hello if i % 2 else hello[: len(hello) // 2])
        flock.append(s)
    for i in range(20):
        a.send_binary(b"\x01during-the-flock" + bytes([i]))
    for i in range(20):
        assert b.recv_binary(timeout=T(20)) == audio(1, a.member, b"during-the-flock" + bytes([i]))
    deadline = time.monotonic() + T(30)
    for s in flock:  # the handshake timeout ends every one of them
        read_until_closed(s, deadline)
        s.close()
    assert https_ok(server.tls_port, pki)


@pytest.mark.deadline(90)
@pytest.mark.parametrize("scenario", ["flood", "rooms"])
def test_chorus_bench_speaks_wss(chorusd, tmp_path, scenario):
    port = free_port()
    server = chorusd("--tls-listen", f"127.0.0.1:{port}", "--tls-self-signed")
    out = tmp_path / "bench.json"
    args = [CHORUS_BENCH, scenario, "--url", f"wss://127.0.0.1:{port}", "--insecure",
            "--rooms", "6", "--members", "8", "--speakers", "2", "--payload", "120",
            "--duration", "2s", "--ramp", "500ms", "--drain", f"{T(3):.0f}s", "--json", str(out),
            "--server-pid", str(server.proc.pid)]
    result = subprocess.run(args, capture_output=True, text=True, timeout=T(60))
    assert result.returncode == 0, f"chorus-bench over wss failed:\n{result.stdout}{result.stderr}"
    report = json.loads(out.read_text())
    assert report["connections"] == 48 and report["loss"] == 0 and report["reorders"] == 0
    assert report["received"] == report["expected"] > 0
    # Without --insecure the self-signed certificate is refused, and the bench says why.
    refused = subprocess.run([CHORUS_BENCH, "flood", "--url", f"wss://127.0.0.1:{port}",
                              "--rooms", "1", "--members", "2", "--speakers", "1",
                              "--duration", "1s"], capture_output=True, text=True, timeout=T(60))
    assert refused.returncode != 0
    assert "certificate verify failed" in refused.stdout + refused.stderr


def test_listen_off_serves_tls_only_and_needs_a_tls_listener(pki):
    port = free_port()
    proc = subprocess.Popen([CHORUSD, "--threads", "1", "--listen", "off", "--tls-listen",
                             f"127.0.0.1:{port}", "--tls-cert", str(pki / "one.pem"),
                             "--tls-key", str(pki / "one.key")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_until(lambda: https_ok(port, pki), T(10), "the TLS-only server to answer")
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=T(20))
    assert proc.returncode == 0, err.decode()
    assert f"ready on 127.0.0.1:{port} (TLS)" in err.decode()
    alone = subprocess.run([CHORUSD, "--listen", "off"], capture_output=True, timeout=T(20))
    assert alone.returncode == 2 and b"nothing to listen on" in alone.stderr


@pytest.mark.deadline(90)
def test_sighup_under_load_drops_nothing(chorusd, pki, tmp_path):
    cert, key = tmp_path / "live.pem", tmp_path / "live.key"
    shutil.copy(pki / "one.pem", cert)
    shutil.copy(pki / "one.key", key)
    port = free_port()
    server = chorusd("--tls-listen", f"127.0.0.1:{port}", "--tls-cert", str(cert),
                     "--tls-key", str(key))
    bench = subprocess.Popen([CHORUS_BENCH, "rooms", "--url", f"wss://127.0.0.1:{port}",
                              "--insecure", "--rooms", "6", "--members", "8", "--speakers", "2",
                              "--rate", "50", "--payload", "120", "--duration", f"{T(4):.0f}s",
                              "--ramp", "500ms", "--drain", f"{T(3):.0f}s"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: (metric(server, "chorus_tls_handshakes_total") or 0) >= 48, T(20),
                   "every bench connection to finish its handshake")
        shutil.copy(pki / "two.pem", cert)
        shutil.copy(pki / "two.key", key)
        server.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: "certificate reloaded" in server.stderr_text(), T(10), "the reload")
        cert.write_text("garbage\n")
        server.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: "keeping the old certificate" in server.stderr_text(), T(10),
                   "the refused reload")
        out, err = bench.communicate(timeout=T(60))
    finally:
        if bench.poll() is None:
            bench.kill()
            bench.wait()
    # Exit 0 means: no connection closed early, no loss, no reordering.
    assert bench.returncode == 0, f"chorus-bench over a reload failed:\n{out}{err}"
    assert "0 closed early" in out
