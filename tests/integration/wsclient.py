"""A strict RFC 6455 client over plain sockets, written for the Chorus integration tests.

It checks everything the server sends (handshake accept value and subprotocol, unmasked frames,
RSV bits, minimal lengths, control-frame rules, fragment order, UTF-8, close codes) so that a lax
server cannot pass by accident, and it can send deliberately broken frames. Standard library only;
every wait is a socket-readiness wait with a deadline, never a fixed sleep.
"""

import base64
import hashlib
import json
import os
import select
import socket
import struct
import threading
import time

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
SCALE = 4.0 if os.environ.get("CHORUS_SANITIZED") == "1" else 1.0
DEFAULT_TIMEOUT = 5.0 * SCALE
HEAD_BYTES_MAX = 64 * 1024
MESSAGE_BYTES_MAX = 64 * 1024 * 1024

OP_CONT, OP_TEXT, OP_BINARY = 0x0, 0x1, 0x2
OP_CLOSE, OP_PING, OP_PONG = 0x8, 0x9, 0xA
DATA_OPS = (OP_CONT, OP_TEXT, OP_BINARY)
CONTROL_OPS = (OP_CLOSE, OP_PING, OP_PONG)


class WsError(AssertionError):
    """Base of every client-side failure; an AssertionError so pytest reports it as a failure."""


class ProtocolViolation(WsError):
    """The server broke RFC 6455 (or the Chorus handshake rules)."""


class Timeout(WsError):
    """Nothing (or not enough) arrived before the deadline."""


class ConnectionLost(WsError):
    """The TCP connection ended (EOF or reset) without a close frame."""

    def __init__(self, why):
        super().__init__(f"connection lost without a close frame: {why}")
        self.why = why


def accept_value(key):
    return base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()


def mask_payload(payload, key):
    """XORs payload with the 4-byte key; big-int XOR keeps 16 MiB messages fast in Python."""
    n = len(payload)
    if n == 0:
        return b""
    rep = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(rep, "big")).to_bytes(n, "big")


def encode_frame(opcode, payload=b"", fin=True, rsv=0, mask=True, key=None):
    """One frame with a minimal length encoding. rsv is the 3-bit RSV1..RSV3 field (0..7)."""
    payload = bytes(payload)
    b0 = (0x80 if fin else 0) | ((rsv & 7) << 4) | (opcode & 0xF)
    n = len(payload)
    mbit = 0x80 if mask else 0
    if n < 126:
        head = struct.pack("!BB", b0, mbit | n)
    elif n < 65536:
        head = struct.pack("!BBH", b0, mbit | 126, n)
    else:
        head = struct.pack("!BBQ", b0, mbit | 127, n)
    if not mask:
        return head + payload
    key = key if key is not None else os.urandom(4)
    return head + key + mask_payload(payload, key)


def close_payload(code=None, reason=""):
    if code is None:
        return b""
    return struct.pack("!H", code) + reason.encode()


def valid_close_code(code):
    """Codes an endpoint may put on the wire (RFC 6455 7.4 and the IANA registry)."""
    return code in (1000, 1001, 1002, 1003) or 1007 <= code <= 1014 or 3000 <= code <= 4999


class HttpResponse:
    """A parsed HTTP response: a refused upgrade, or a plain GET."""

    def __init__(self, status, reason, headers, body, closed_after=None):
        self.status = status
        self.reason = reason
        self.headers = headers  # lower-cased name -> value (repeats joined with ", ")
        self.body = body
        self.closed_after = closed_after  # True when the server closed the socket after it

    def header(self, name, default=None):
        return self.headers.get(name.lower(), default)

    def header_tokens(self, name):
        return [t.strip().lower() for t in self.header(name, "").split(",") if t.strip()]

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def text(self):
        return self.body.decode("utf-8")

    def __repr__(self):
        return f"HttpResponse({self.status} {self.reason}, {self.headers}, {self.body[:200]!r})"


def _wait_readable(sock, deadline):
    if getattr(sock, "pending", None) and sock.pending():
        return True  # a TLS socket holds decrypted bytes the kernel no longer shows
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        return False
    readable, _, _ = select.select([sock], [], [], remaining)
    return bool(readable)


def _recv_some(sock, deadline, size=1 << 20):
    """Returns bytes (b"" on EOF); raises Timeout at the deadline, ConnectionLost on reset."""
    if not _wait_readable(sock, deadline):
        raise Timeout("timed out waiting for data from the server")
    try:
        return sock.recv(size)
    except (ConnectionResetError, ConnectionAbortedError) as e:
        raise ConnectionLost(f"reset: {e}") from None


def parse_head(head):
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
        raise ProtocolViolation(f"bad status line: {lines[0]!r}")
    status = int(parts[1])
    reason = parts[2] if len(parts) > 2 else ""
    headers = {}
    for line in lines[1:]:
        if not line:
            continue
        if ":" not in line:
            raise ProtocolViolation(f"bad header line: {line!r}")
        name, value = line.split(":", 1)
        name = name.strip().lower()
        value = value.strip()
        headers[name] = headers[name] + ", " + value if name in headers else value
    return status, reason, headers


def read_http_response(sock, buf, deadline, expect_eof=True):
    """Reads a status line, headers and body (Content-Length, chunked, or until EOF)."""
    buf = bytearray(buf)
    eof = False
    while b"\r\n\r\n" not in buf:
        if len(buf) > HEAD_BYTES_MAX:
            raise ProtocolViolation("response head too large")
        try:
            chunk = _recv_some(sock, deadline)
        except ConnectionLost:
            chunk = b""
        if not chunk:
            raise ConnectionLost(f"EOF inside the response head: {bytes(buf)!r}")
        buf += chunk
    end = buf.index(b"\r\n\r\n")
    status, reason, headers = parse_head(bytes(buf[:end]))
    rest = bytearray(buf[end + 4 :])
    body, eof = _read_body(sock, rest, headers, deadline)
    closed_after = eof
    if expect_eof and not eof:
        closed_after = _wait_eof(sock, deadline)
    return HttpResponse(status, reason, headers, bytes(body), closed_after), rest


def _read_body(sock, rest, headers, deadline):
    """Returns (body, saw_eof). rest holds bytes already read after the head; it is consumed."""
    if "content-length" in headers:
        n = int(headers["content-length"])
        while len(rest) < n:
            try:
                chunk = _recv_some(sock, deadline)
            except ConnectionLost:
                chunk = b""
            if not chunk:
                raise ProtocolViolation(f"EOF inside a {n}-byte body: {bytes(rest)!r}")
            rest += chunk
        body = bytes(rest[:n])
        del rest[:n]
        return body, False
    if "chunked" in headers.get("transfer-encoding", "").lower():
        return _read_chunked(sock, rest, deadline), False
    body = bytearray(rest)
    del rest[:]
    while True:
        try:
            chunk = _recv_some(sock, deadline)
        except ConnectionLost:
            chunk = b""
        if not chunk:
            return bytes(body), True
        body += chunk


def _read_chunked(sock, rest, deadline):
    body = bytearray()
    while True:
        while b"\r\n" not in rest:
            chunk = _recv_some(sock, deadline)
            if not chunk:
                raise ProtocolViolation("EOF inside a chunked body")
            rest += chunk
        line_end = rest.index(b"\r\n")
        size = int(bytes(rest[:line_end]).split(b";")[0], 16)
        while len(rest) < line_end + 2 + size + 2:
            chunk = _recv_some(sock, deadline)
            if not chunk:
                raise ProtocolViolation("EOF inside a chunk")
            rest += chunk
        body += rest[line_end + 2 : line_end + 2 + size]
        del rest[: line_end + 2 + size + 2]
        if size == 0:
            return bytes(body)


def _wait_eof(sock, deadline):
    """True when the server closes (EOF or reset) before the deadline; extra bytes are an error."""
    try:
        chunk = _recv_some(sock, deadline)
    except Timeout:
        return False
    except ConnectionLost:
        return True
    if chunk:
        raise ProtocolViolation(f"unexpected bytes after the response: {chunk[:100]!r}")
    return True


class Handshake:
    """An opening handshake in flight: the request is sent now, finish() reads the response.

    Splitting the two lets a test open many connections at once (concurrent joins).
    headers: extra or replacement request headers; a value of None removes a default header.
    sock: a socket already connected to the server, to send the request on (rcvbuf is then
    ignored).
    """

    def __init__(self, port, path, headers=None, subprotocols=None, host="127.0.0.1",
                 timeout=None, rcvbuf=None, key=None, sock=None):
        self.timeout = timeout if timeout is not None else DEFAULT_TIMEOUT
        self.subprotocols = list(subprotocols or [])
        self.key = key if key is not None else base64.b64encode(os.urandom(16)).decode()
        fields = {
            "Host": f"{host}:{port}",
            "Upgrade": "websocket",
            "Connection": "Upgrade",
            "Sec-WebSocket-Key": self.key,
            "Sec-WebSocket-Version": "13",
        }
        if self.subprotocols:
            fields["Sec-WebSocket-Protocol"] = ", ".join(self.subprotocols)
        for name, value in (headers or {}).items():
            match = [k for k in fields if k.lower() == name.lower()]
            for k in match:
                del fields[k]
            if value is not None:
                fields[name] = value
        self.sent_key = fields.get("Sec-WebSocket-Key")
        request = f"GET {path} HTTP/1.1\r\n"
        request += "".join(f"{k}: {v}\r\n" for k, v in fields.items()) + "\r\n"
        if sock is not None:
            self.sock = sock
            self.sock.settimeout(self.timeout)
        else:
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            if rcvbuf is not None:
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            self.sock.settimeout(self.timeout)
            self.sock.connect((host, port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.sendall(request.encode("latin-1") if isinstance(request, str) else request)

    def finish(self):
        """Returns a WsClient on 101, else the HttpResponse of the refusal (socket closed)."""
        deadline = time.monotonic() + self.timeout
        buf = bytearray()
        while b"\r\n\r\n" not in buf:
            if len(buf) > HEAD_BYTES_MAX:
                raise ProtocolViolation("handshake response head too large")
            chunk = _recv_some(self.sock, deadline)
            if not chunk:
                raise ConnectionLost(f"EOF before the handshake response ended: {bytes(buf)!r}")
            buf += chunk
        end = buf.index(b"\r\n\r\n")
        status, reason, headers = parse_head(bytes(buf[:end]))
        rest = bytearray(buf[end + 4 :])
        if status != 101:
            body, eof = _read_body(self.sock, rest, headers, deadline)
            closed = eof or _wait_eof(self.sock, deadline)
            self.sock.close()
            return HttpResponse(status, reason, headers, body, closed)
        response = HttpResponse(status, reason, headers, b"")
        self._check_upgrade(response)
        return WsClient(self.sock, rest, response, self.timeout)

    def _check_upgrade(self, r):
        if r.header("upgrade", "").lower() != "websocket":
            raise ProtocolViolation(f"101 without Upgrade: websocket: {r.headers}")
        if "upgrade" not in r.header_tokens("connection"):
            raise ProtocolViolation(f"101 without Connection: upgrade: {r.headers}")
        want = accept_value(self.sent_key or "")
        if r.header("sec-websocket-accept") != want:
            raise ProtocolViolation(f"bad Sec-WebSocket-Accept {r.header('sec-websocket-accept')!r}"
                                    f", want {want!r}")
        proto = r.header("sec-websocket-protocol")
        if proto is not None and proto not in self.subprotocols:
            raise ProtocolViolation(f"server selected subprotocol {proto!r}, offered "
                                    f"{self.subprotocols}")
        if r.header("sec-websocket-extensions") is not None:
            raise ProtocolViolation(f"server negotiated an extension: {r.headers}")


def connect(port, path, headers=None, subprotocols=None, **kw):
    """Opens a WebSocket: returns a WsClient, or the HttpResponse when the server refuses."""
    return Handshake(port, path, headers=headers, subprotocols=subprotocols, **kw).finish()


class WsClient:
    """An open WebSocket. recv() returns ("text", str), ("binary", bytes), ("ping", bytes),
    ("pong", bytes) or ("close", code, reason); it raises Timeout or ConnectionLost."""

    def __init__(self, sock, buffered, response, timeout=DEFAULT_TIMEOUT):
        self.sock = sock
        self.response = response
        self.subprotocol = response.header("sec-websocket-protocol")
        self.timeout = timeout
        self.auto_pong = True
        self.close_sent = False
        self.close_received = None  # (code, reason) once the server's close frame arrived
        self.eof = False
        self._buf = bytearray(buffered)
        self._frag_op = None
        self._frag_parts = []
        self._frag_bytes = 0
        self._send_lock = threading.Lock()  # a Reader thread may answer pings meanwhile
        self.sock.settimeout(None)

    # ---- sending -------------------------------------------------------------------------
    def send_raw(self, data):
        with self._send_lock:
            self.sock.settimeout(max(self.timeout, 10.0))
            try:
                self.sock.sendall(data)
            finally:
                self.sock.settimeout(None)

    def send_frame(self, opcode, payload=b"", fin=True, rsv=0, mask=True):
        self.send_raw(encode_frame(opcode, payload, fin=fin, rsv=rsv, mask=mask))

    def send_text(self, text):
        self.send_frame(OP_TEXT, text.encode("utf-8"))

    def send_json(self, obj):
        self.send_text(json.dumps(obj, separators=(",", ":")))

    def send_binary(self, data):
        self.send_frame(OP_BINARY, data)

    def send_ping(self, payload=b""):
        self.send_frame(OP_PING, payload)

    def send_pong(self, payload=b""):
        self.send_frame(OP_PONG, payload)

    def send_close(self, code=1000, reason=""):
        self.close_sent = True
        self.send_frame(OP_CLOSE, close_payload(code, reason))

    # ---- receiving -----------------------------------------------------------------------
    def _parse_frame(self):
        """Returns (fin, opcode, payload) when a whole frame is buffered, else None."""
        buf = self._buf
        if len(buf) < 2:
            return None
        b0, b1 = buf[0], buf[1]
        fin, rsv, opcode = bool(b0 & 0x80), (b0 >> 4) & 7, b0 & 0xF
        if rsv:
            raise ProtocolViolation(f"server frame has RSV bits {rsv:03b}")
        if opcode not in DATA_OPS + CONTROL_OPS:
            raise ProtocolViolation(f"server frame has reserved opcode {opcode:#x}")
        if b1 & 0x80:
            raise ProtocolViolation("server frame is masked")
        n, pos = b1 & 0x7F, 2
        if n == 126:
            if len(buf) < 4:
                return None
            n, pos = struct.unpack_from("!H", buf, 2)[0], 4
            if n < 126:
                raise ProtocolViolation(f"non-minimal 16-bit length {n}")
        elif n == 127:
            if len(buf) < 10:
                return None
            n, pos = struct.unpack_from("!Q", buf, 2)[0], 10
            if n >> 63:
                raise ProtocolViolation("64-bit length with the top bit set")
            if n < 65536:
                raise ProtocolViolation(f"non-minimal 64-bit length {n}")
        if opcode in CONTROL_OPS and (n > 125 or not fin):
            raise ProtocolViolation(f"bad control frame: opcode {opcode:#x} len {n} fin {fin}")
        if n > MESSAGE_BYTES_MAX:
            raise ProtocolViolation(f"frame of {n} bytes is beyond this client's limit")
        if len(buf) < pos + n:
            return None
        payload = bytes(buf[pos : pos + n])
        del buf[: pos + n]
        return fin, opcode, payload

    def _next_frame(self, deadline):
        while True:
            frame = self._parse_frame()
            if frame is not None:
                return frame
            if self.eof:
                raise ConnectionLost("EOF")
            try:
                chunk = _recv_some(self.sock, deadline)
            except ConnectionLost:
                self.eof = True
                raise
            if not chunk:
                self.eof = True
                raise ConnectionLost(f"EOF inside a frame: {bytes(self._buf[:50])!r}"
                                     if self._buf else "EOF")
            self._buf += chunk

    def recv(self, timeout=None):
        """The next message or control frame; pings are answered (when auto_pong) and returned."""
        deadline = time.monotonic() + (timeout if timeout is not None else self.timeout)
        while True:
            fin, opcode, payload = self._next_frame(deadline)
            if self.close_received is not None:
                raise ProtocolViolation(f"frame (opcode {opcode:#x}) after the close frame")
            if opcode == OP_PING:
                if self.auto_pong and not self.close_sent:
                    self.send_pong(payload)
                return ("ping", payload)
            if opcode == OP_PONG:
                return ("pong", payload)
            if opcode == OP_CLOSE:
                return self._on_close(payload)
            message = self._on_data(fin, opcode, payload)
            if message is not None:
                return message

    def _on_data(self, fin, opcode, payload):
        if opcode == OP_CONT:
            if self._frag_op is None:
                raise ProtocolViolation("continuation frame without a started message")
        else:
            if self._frag_op is not None:
                raise ProtocolViolation("new data frame inside a fragmented message")
            self._frag_op = opcode
        self._frag_parts.append(payload)
        self._frag_bytes += len(payload)
        if self._frag_bytes > MESSAGE_BYTES_MAX:
            raise ProtocolViolation("message beyond this client's limit")
        if not fin:
            return None
        op, data = self._frag_op, b"".join(self._frag_parts)
        self._frag_op, self._frag_parts, self._frag_bytes = None, [], 0
        if op == OP_TEXT:
            try:
                return ("text", data.decode("utf-8"))
            except UnicodeDecodeError as e:
                raise ProtocolViolation(f"server sent invalid UTF-8 text: {e}") from None
        return ("binary", data)

    def _on_close(self, payload):
        if len(payload) == 1:
            raise ProtocolViolation("server close frame with a 1-byte payload")
        code, reason = None, ""
        if len(payload) >= 2:
            code = struct.unpack_from("!H", payload)[0]
            if not valid_close_code(code):
                raise ProtocolViolation(f"server sent invalid close code {code}")
            try:
                reason = payload[2:].decode("utf-8")
            except UnicodeDecodeError:
                raise ProtocolViolation("server close reason is not UTF-8") from None
        self.close_received = (code, reason)
        if not self.close_sent:
            try:
                self.send_close(code if code is not None else 1000)
            except OSError:
                pass  # the server may already have gone; the close frame was what mattered
        return ("close", code, reason)

    def recv_msg(self, timeout=None):
        """The next text/binary/close message, skipping pings and pongs."""
        deadline = time.monotonic() + (timeout if timeout is not None else self.timeout)
        while True:
            m = self.recv(max(0.0, deadline - time.monotonic()))
            if m[0] not in ("ping", "pong"):
                return m

    def recv_json(self, type=None, timeout=None):
        """The next message, which must be a JSON text object (of the given type, if set)."""
        m = self.recv_msg(timeout)
        if m[0] != "text":
            raise AssertionError(f"expected a text message{' ' + type if type else ''}, got {m!r}")
        try:
            obj = json.loads(m[1])
        except ValueError:
            raise AssertionError(f"server text is not JSON: {m[1][:200]!r}") from None
        if not isinstance(obj, dict) or not isinstance(obj.get("type"), str):
            raise AssertionError(f"server message is not an object with a type: {obj!r}")
        if type is not None and obj["type"] != type:
            raise AssertionError(f"expected a {type!r} message, got {obj!r}")
        return obj

    def recv_binary(self, timeout=None):
        m = self.recv_msg(timeout)
        if m[0] != "binary":
            raise AssertionError(f"expected a binary message, got {m!r}")
        return m[1]

    def expect_close(self, code=None, timeout=None, skip_data=True, eof=True):
        """Reads until the server's close frame; checks its code (an int or a collection) and
        then that the server closes TCP. Returns (code, reason); skipped data is in .skipped."""
        deadline = time.monotonic() + (timeout if timeout is not None else self.timeout)
        self.skipped = []
        while True:
            m = self.recv(max(0.0, deadline - time.monotonic()))
            if m[0] == "close":
                break
            if m[0] in ("text", "binary"):
                if not skip_data:
                    raise AssertionError(f"expected a close frame, got {m!r}")
                self.skipped.append(m)
        got = m[1]
        if code is not None:
            want = code if isinstance(code, (set, tuple, list, frozenset)) else {code}
            assert got in want, f"close code {got} (reason {m[2]!r}), expected {code}"
        if eof:
            self.expect_eof(max(0.5, deadline - time.monotonic()))
        return m[1], m[2]

    def expect_eof(self, timeout=None):
        """Waits for the server to close TCP; frames other than pings before it are an error."""
        deadline = time.monotonic() + (timeout if timeout is not None else self.timeout)
        while not self.eof:
            try:
                frame = self._next_frame(deadline)
            except ConnectionLost:
                return
            if frame[1] != OP_PING or self.close_received is not None:
                raise ProtocolViolation(f"frame after the close handshake: {frame!r}")

    def close(self, code=1000, reason="", timeout=None):
        """Clean close: sends a close frame, waits for the server's reply and for EOF."""
        self.send_close(code, reason)
        got = self.expect_close(timeout=timeout)
        self.sock.close()
        return got

    def abort(self, reset=False):
        """Drops the TCP connection without a close frame (reset=True sends an RST)."""
        if reset:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()

    def fileno(self):
        return self.sock.fileno()
