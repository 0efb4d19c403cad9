"""Helpers for the hardening tests (issue 7): hostile input against a *running* server.

Imported by the test modules as `hard_support` (tests/hardening is on sys.path when they run).

* `RawWS`: a WebSocket client written by hand on a plain socket. The upgrade request and every
  frame byte are ours, so a test can send what no library would: reserved bits, unknown
  opcodes, a length field of 2**40, unmasked frames, fragmented control frames…
* `SioEnv` / `sio_env()`: a `socketio_core.SocketServer` behind `engineio_core.WSGIApp` on
  gevent's pywsgi (`serve_gevent` of tests/conftest.py), whose handlers record connects,
  disconnects (with reasons, at both layers) and events, and whose loggers are captured.
* `flask_env()`: the same, built with `flask_socketio.SocketIO` around a Flask app.
* `Bystander`: a well-behaved client connected before the offence. `env.assert_served()`
  checks that it still receives what the server emits to it, and still gets its acks.
* `http()`: one raw HTTP/1.1 exchange with a bounded timeout.
* `rss_kb(pid)`: the resident set size of a process (Linux /proc).

Every wait is bounded and waits on an observable condition; nothing sleeps to synchronise.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import socket
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import engineio_core
from socketio_core.server.server import SocketServer
from tests.conftest import (
    ROOT,
    LogRecorder,
    node_available,
    run_node,
    serve_gevent,
    serve_werkzeug,
    wait_for,
)

__all__ = [
    "PEER_CLOSED", "ROOT", "Bystander", "Closed", "LogRecorder", "RawWS", "SioEnv", "flask_env", "http",
    "node_available", "rss_kb", "run_node", "serve_gevent", "sio_env", "wait_for",
]

TIMEOUT = 10.0
_counter = iter(range(1_000_000))


class Closed(Exception):
    """The server closed the connection (close frame, Engine.IO CLOSE or EOF)."""


# What a send to a peer that closed the connection can raise: `Closed` (a POST answered 400
# after the session ended, or EOF), the OS's reset / broken pipe. Tests catch only these.
PEER_CLOSED = (Closed, ConnectionError)


# -- logs -------------------------------------------------------------------------------------


def private_logger(kind: str, recorder: LogRecorder) -> logging.Logger:
    """A logger of our own (so other tests' logger settings never hide our records)."""
    logger = logging.getLogger(f"hardening.{kind}.{next(_counter)}")
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    logger.addHandler(recorder)
    return logger


# -- raw HTTP ---------------------------------------------------------------------------------


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def error(self) -> str:
        """The message of an Engine.IO error body: Node's ``{"code":N,"message":"..."}``."""
        assert self.headers.get("content-type", "") == "application/json", self.headers
        value = json.loads(self.body)
        assert set(value) == {"code", "message"}, value
        message: str = value["message"]
        return message


def read_response(sock: socket.socket, buf: bytes = b"") -> tuple[Response, bytes]:
    """Read one HTTP response (Content-Length or until EOF); return it and the bytes after."""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise Closed(f"EOF before the response head: {buf[:200]!r}")
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if status == 101:
        return Response(status, headers, b""), rest
    if "content-length" in headers:
        length = int(headers["content-length"])
        while len(rest) < length:
            chunk = sock.recv(65536)
            if not chunk:
                break
            rest += chunk
        return Response(status, headers, rest[:length]), rest[length:]
    while True:  # no length: the body ends with the connection
        try:
            chunk = sock.recv(65536)
        except (ConnectionResetError, TimeoutError):
            break
        if not chunk:
            break
        rest += chunk
    return Response(status, headers, rest), b""


def http(port: int, method: str = "GET", target: str = "/socket.io/?EIO=4&transport=polling",
         body: bytes | str = b"", headers: dict[str, str] | None = None,
         raw_head: bytes | None = None, body_parts: list[bytes] | None = None,
         timeout: float = TIMEOUT) -> Response:
    """One request on a fresh connection. `raw_head` replaces the request head entirely;
    `body_parts` are written one by one after it (a body that never ends, say)."""
    if isinstance(body, str):
        body = body.encode("utf-8")
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        if raw_head is None:
            lines = [f"{method} {target} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Connection: close"]
            hdrs = dict(headers or {})
            if body or method == "POST":
                hdrs.setdefault("Content-Length", str(len(body)))
            lines += [f"{k}: {v}" for k, v in hdrs.items()]
            raw_head = ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")
            sock.sendall(raw_head + body)
        else:
            sock.sendall(raw_head)
        for part in body_parts or []:
            try:
                sock.sendall(part)
            except OSError:
                break  # the server may answer and close before reading it all
        response, _ = read_response(sock)
        return response


def handshake(port: int, path: str = "/socket.io/") -> str:
    """Open an Engine.IO polling session; return its sid."""
    resp = http(port, target=f"{path}?EIO=4&transport=polling")
    assert resp.status == 200 and resp.text.startswith("0{"), (resp.status, resp.text)
    sid: str = json.loads(resp.text[1:])["sid"]
    return sid


# -- a hand-written WebSocket client ----------------------------------------------------------


def frame(opcode: int, payload: bytes = b"", fin: bool = True, rsv: int = 0,
          mask: bytes | None = b"\x11\x22\x33\x44", length: int | None = None) -> bytes:
    """One client frame (RFC 6455 §5.2). `rsv` is the 3 reserved bits (RSV1=4, RSV2=2,
    RSV3=1); `mask=None` sends it unmasked; `length` overrides the announced payload length."""
    n = len(payload) if length is None else length
    head = bytes([(0x80 if fin else 0) | (rsv & 7) << 4 | (opcode & 0x0F)])
    mbit = 0x80 if mask is not None else 0
    if n < 126:
        head += bytes([mbit | n])
    elif n < 1 << 16:
        head += bytes([mbit | 126]) + struct.pack("!H", n)
    else:
        head += bytes([mbit | 127]) + struct.pack("!Q", n)
    if mask is None:
        return head + payload
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return head + mask + masked


def socketio_connect(client: Any, auth: Any = None) -> str:
    """Send a Socket.IO CONNECT to "/" on an open Engine.IO client; return the sid it got."""
    client.send_text("40" + (json.dumps(auth) if auth is not None else ""))
    answer = client.recv_message()
    assert isinstance(answer, str) and answer.startswith("40{"), answer
    sid = json.loads(answer[2:])["sid"]
    assert isinstance(sid, str)
    return sid


class RawWS:
    """A WebSocket client on a plain socket, upgrade request included.

    `status` is the HTTP status of the upgrade answer (101, or an error with `response`).
    Engine.IO helpers: `open()` reads the OPEN packet; `sio_connect()` joins namespace "/".
    """

    def __init__(self, port: int, query: str = "EIO=4&transport=websocket", path: str = "/socket.io/",
                 headers: dict[str, str] | None = None, rcvbuf: int | None = None,
                 timeout: float = TIMEOUT) -> None:
        self.port = port
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf is not None:
            # Before connect(), so the advertised window is small from the start.
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect(("127.0.0.1", port))
        key = base64.b64encode(os.urandom(16)).decode()
        hdrs = {"Host": f"127.0.0.1:{port}", "Upgrade": "websocket", "Connection": "Upgrade",
                "Sec-WebSocket-Key": key, "Sec-WebSocket-Version": "13"}
        hdrs.update(headers or {})
        request = f"GET {path}?{query} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in hdrs.items() if v is not None)
        self.sock.sendall((request + "\r\n").encode())
        self.response, self.buf = read_response(self.sock)
        self.status = self.response.status
        # permessage-deflate, if the server accepted it: inflate what it sends compressed.
        accepted = self.response.headers.get("sec-websocket-extensions", "")
        self.inflater = zlib.decompressobj(-15) if accepted.startswith("permessage-deflate") else None
        self.eio_sid: str | None = None
        self.sid: str | None = None
        self.closed = False

    # frames -----------------------------------------------------------------------------
    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def send_frame(self, opcode: int, payload: bytes = b"", **kwargs: Any) -> None:
        self.sock.sendall(frame(opcode, payload, **kwargs))

    def send_text(self, text: str) -> None:
        self.send_frame(0x1, text.encode("utf-8"))

    def send_binary(self, data: bytes) -> None:
        self.send_frame(0x2, data)

    def _need(self, n: int) -> None:
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise Closed("EOF")
            self.buf += chunk

    def recv_frame(self, keep_rsv: bool = False) -> tuple[bool, int, bytes]:
        """The next server frame: (fin, opcode, payload). Server frames are never masked.
        With `keep_rsv`, the opcode keeps the RSV bits above it (RSV1 = 0x40)."""
        self._need(2)
        b0, b1 = self.buf[0], self.buf[1]
        assert b1 & 0x80 == 0, "a server frame must not be masked"
        n, pos = b1 & 0x7F, 2
        if n == 126:
            self._need(4)
            n, pos = struct.unpack("!H", self.buf[2:4])[0], 4
        elif n == 127:
            self._need(10)
            n, pos = struct.unpack("!Q", self.buf[2:10])[0], 10
        self._need(pos + n)
        payload, self.buf = self.buf[pos:pos + n], self.buf[pos + n:]
        return bool(b0 & 0x80), b0 & (0x7F if keep_rsv else 0x0F), payload

    def recv_message(self, answer_pings: bool = True) -> str | bytes:
        """The next Engine.IO packet (text or binary); answers Engine.IO PINGs with PONGs
        unless told not to; raises `Closed` on a close frame, Engine.IO CLOSE or EOF."""
        parts: list[bytes] = []
        first_opcode = 0
        compressed = False
        while True:
            fin, opcode, payload = self.recv_frame(keep_rsv=True)
            compressed = compressed or bool(opcode & 0x40)
            opcode &= 0x0F
            if opcode == 0x8:
                self.closed = True
                self.close_code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
                raise Closed(f"close frame {self.close_code}")
            if opcode == 0x9:
                self.send_frame(0xA, payload)
                continue
            if opcode == 0xA:
                continue
            if opcode in (0x1, 0x2):
                first_opcode, parts = opcode, [payload]
            else:
                parts.append(payload)
            if not fin:
                continue
            data = b"".join(parts)
            if compressed:
                assert self.inflater is not None, "compressed frame without permessage-deflate"
                data = self.inflater.decompress(data + b"\x00\x00\xff\xff")
            if first_opcode == 0x2:
                return data
            text = data.decode("utf-8")
            if text == "2" and answer_pings:
                self.send_text("3")
                continue
            if text == "1":
                self.closed = True
                raise Closed("engine.io CLOSE")
            return text

    def expect_close(self, timeout: float = TIMEOUT) -> int | None:
        """Read until the server's close frame; its code (1005: none), or None on a bare EOF
        or reset (the server dropped the connection without a close frame)."""
        self.sock.settimeout(timeout)
        try:
            while True:
                fin, opcode, payload = self.recv_frame()
                if opcode == 0x8:
                    self.closed = True
                    return struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
        except (Closed, ConnectionResetError, BrokenPipeError):
            self.closed = True
            return None

    def expect_closed(self) -> None:
        """The server ended the session: an Engine.IO CLOSE packet, then close frame 1000."""
        got: list[str | bytes] = []
        try:
            while True:
                got.append(self.recv_message())
        except Closed as exc:
            assert str(exc) == "engine.io CLOSE", (exc, got)
        assert self.expect_close() == 1000

    def wait_eof(self, timeout: float = TIMEOUT) -> None:
        """Read (and drop) everything until the server ends the TCP connection."""
        self.sock.settimeout(timeout)
        try:
            while self.sock.recv(65536):
                pass
        except (ConnectionResetError, BrokenPipeError):
            pass

    # Engine.IO / Socket.IO --------------------------------------------------------------
    def open(self) -> str:
        """Read the Engine.IO OPEN packet; return the eio sid."""
        assert self.status == 101, (self.status, self.response.body)
        opening = self.recv_message()
        assert isinstance(opening, str) and opening.startswith("0{"), opening
        self.eio_sid = json.loads(opening[1:])["sid"]
        assert self.eio_sid is not None
        return self.eio_sid

    def sio_connect(self, auth: Any = None) -> str:
        """Engine.IO open + Socket.IO CONNECT to "/"; return the Socket.IO sid."""
        if self.eio_sid is None:
            self.open()
        self.sid = socketio_connect(self, auth)
        return self.sid

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


class PollClient:
    """A hand-written Engine.IO long-polling client with the same helpers as `RawWS`."""

    def __init__(self, port: int, path: str = "/socket.io/") -> None:
        self.port = port
        self.eio_sid: str | None = handshake(port, path)
        self.target = f"{path}?EIO=4&transport=polling&sid={self.eio_sid}"
        self.sid: str | None = None
        self.pending: list[str | bytes] = []

    def post(self, *segments: str) -> Response:
        return http(self.port, "POST", self.target, body="\x1e".join(segments).encode("utf-8", "surrogatepass"))

    def send_text(self, text: str) -> None:
        resp = self.post(text)
        if resp.status != 200:
            raise Closed(f"POST answered {resp.status} {resp.body!r}")

    def send_binary(self, data: bytes) -> None:
        resp = self.post("b" + base64.b64encode(data).decode())
        if resp.status != 200:
            raise Closed(f"POST answered {resp.status} {resp.body!r}")

    def recv_message(self) -> str | bytes:
        """The next Engine.IO packet other than PING/NOOP (answers PINGs); `Closed` on CLOSE
        or on a 400 (the session is gone)."""
        for _ in range(50):
            while self.pending:
                packet = self.pending.pop(0)
                if packet == "2":
                    self.post("3")
                elif packet == "6":
                    continue
                elif packet == "1":
                    raise Closed("engine.io CLOSE")
                else:
                    return packet
            resp = http(self.port, "GET", self.target)
            if resp.status != 200:
                raise Closed(f"poll answered {resp.status} {resp.body!r}")
            for segment in resp.text.split("\x1e"):
                self.pending.append(base64.b64decode(segment[1:]) if segment.startswith("b") else segment)
        raise AssertionError("no message in 50 polls")

    def sio_connect(self, auth: Any = None) -> str:
        self.sid = socketio_connect(self, auth)
        return self.sid

    def expect_closed(self) -> None:
        """The server ended the session: a CLOSE packet, then 400 "Session ID unknown"."""
        try:
            while True:
                self.recv_message()
        except Closed:
            pass
        resp = http(self.port, "GET", self.target)
        assert (resp.status, resp.error()) == (400, "Session ID unknown")

    def close(self) -> None:
        pass


# -- servers under test -----------------------------------------------------------------------


class Bystander:
    """A well-behaved Socket.IO client (raw WebSocket) connected before an offence."""

    def __init__(self, port: int) -> None:
        self.ws = RawWS(port)
        self.sid = self.ws.sio_connect(auth={"who": "bystander"})
        self.eio_sid = self.ws.eio_sid

    def next_event(self, timeout: float = TIMEOUT) -> str:
        self.ws.sock.settimeout(timeout)
        message = self.ws.recv_message()
        assert isinstance(message, str), message
        return message

    def close(self) -> None:
        self.ws.close()


@dataclass
class SioEnv:
    """A running Socket.IO server and what its handlers and loggers saw."""

    sio: SocketServer
    port: int
    logs: LogRecorder
    cond: threading.Condition = field(default_factory=threading.Condition)
    events: list[tuple[Any, ...]] = field(default_factory=list)
    bystanders: list[Bystander] = field(default_factory=list)
    path: str = "/socket.io/"

    def record(self, *item: Any) -> None:
        with self.cond:
            self.events.append(item)
            self.cond.notify_all()

    def of(self, kind: str) -> list[tuple[Any, ...]]:
        with self.cond:
            return [e[1:] for e in self.events if e[0] == kind]

    def wait_event(self, kind: str, predicate: Callable[..., bool] = lambda *a: True,
                   timeout: float = TIMEOUT) -> tuple[Any, ...]:
        def find() -> tuple[Any, ...] | None:
            for e in self.events:
                if e[0] == kind and predicate(*e[1:]):
                    return e[1:]
            return None

        with self.cond:
            found = self.cond.wait_for(find, timeout)
        assert found, f"no {kind} event in time; last: {self.events[-10:]}"
        return found  # type: ignore[no-any-return]

    def eio_disconnect_reason(self, eio_sid: str, timeout: float = TIMEOUT) -> str:
        """The Engine.IO disconnect reason of a session, once it is gone."""
        reason: str = self.wait_event("eio_disconnect", lambda s, r: s == eio_sid, timeout)[1]
        return reason

    def eio_disconnected(self, eio_sid: str) -> bool:
        return any(s == eio_sid for s, _ in self.of("eio_disconnect"))

    def bystander(self) -> Bystander:
        b = Bystander(self.port)
        self.bystanders.append(b)
        return b

    def assert_served(self, bystander: Bystander | None = None) -> None:
        """The bystander still gets a server emit and the ack of its own event."""
        b = bystander or self.bystanders[0]
        token = f"tok-{next(_counter)}"
        self.sio.emit("news", token, to=b.sid)
        assert b.next_event() == f'42["news","{token}"]'
        b.ws.send_text(f'42{next(_counter)}["echo","{token}"]')
        got = b.next_event()
        assert got.startswith("43") and got.endswith(f'["{token}"]'), got
        assert not self.eio_disconnected(b.eio_sid or "")

    def close(self) -> None:
        for b in self.bystanders:
            b.close()


def _instrument(sio: SocketServer, env: SioEnv) -> None:
    """Record Engine.IO-level disconnects (with reasons) around the Socket.IO server's own."""
    inner = sio.eio.handlers["disconnect"]

    def on_eio_disconnect(eio_sid: str, reason: str) -> None:
        env.record("eio_disconnect", eio_sid, reason)
        inner(eio_sid, reason)

    sio.eio.on("disconnect", on_eio_disconnect)


def _handlers(on: Callable[..., Any], env_box: list[SioEnv]) -> None:
    def rec(*item: Any) -> None:
        env_box[0].record(*item)

    on("connect", lambda sid, environ, auth: rec("connect", sid, auth))
    on("disconnect", lambda sid, reason: rec("disconnect", sid, reason))
    on("echo", lambda sid, *args: args)
    on("bin", lambda sid, *args: (rec("bin", sid, args), "got it")[1])
    on("*", lambda event, sid, *args: rec("catch_all", event, sid, args))


@contextmanager
def sio_env(bystander: bool = True, **options: Any) -> Iterator[SioEnv]:
    """A `SocketServer` on loopback, with a connected bystander by default: gevent's pywsgi,
    or the Werkzeug dev server (threads) with ``async_mode="threading"``."""
    logs = LogRecorder()
    options.setdefault("async_mode", "gevent")
    options.setdefault("logger", private_logger("sio", logs))
    options.setdefault("engineio_logger", private_logger("eio", logs))
    sio = SocketServer(**options)
    box: list[SioEnv] = []
    _handlers(lambda event, fn: sio.on(event, fn), box)
    app = engineio_core.WSGIApp(sio, engineio_path="socket.io")  # type: ignore[arg-type]
    serve = serve_werkzeug if options["async_mode"] == "threading" else serve_gevent
    with serve(app) as served:
        env = SioEnv(sio, served.port, logs)
        box.append(env)
        _instrument(sio, env)
        try:
            if bystander:
                env.bystander()
            yield env
        finally:
            env.close()


@contextmanager
def flask_env(bystander: bool = True, **options: Any) -> Iterator[SioEnv]:
    """The same, through `flask_socketio.SocketIO` around a Flask app (the users' stack)."""
    import flask

    import flask_socketio

    logs = LogRecorder()
    app = flask.Flask(f"hardening{next(_counter)}")
    app.config["SECRET_KEY"] = "hardening"

    @app.route("/")
    def index() -> str:
        return "index"

    @app.route("/body", methods=["POST"])
    def body() -> bytes:
        return flask.request.get_data()

    options.setdefault("async_mode", "gevent")
    options.setdefault("logger", private_logger("sio", logs))
    options.setdefault("engineio_logger", private_logger("eio", logs))
    socketio = flask_socketio.SocketIO(app, **options)
    box: list[SioEnv] = []

    def on(event: str, fn: Callable[..., Any]) -> None:
        # Flask-SocketIO handlers take no sid: it is flask.request.sid.
        if event == "*":
            socketio.on("*")(lambda event, *args: fn(event, flask.request.sid, *args))  # type: ignore[attr-defined]
        elif event == "connect":
            socketio.on("connect")(lambda auth=None: fn(flask.request.sid, None, auth))  # type: ignore[attr-defined]
        elif event == "disconnect":
            socketio.on("disconnect")(lambda reason=None: fn(flask.request.sid, reason))  # type: ignore[attr-defined]
        else:
            socketio.on(event)(lambda *args: fn(flask.request.sid, *args))  # type: ignore[attr-defined]

    _handlers(on, box)
    with serve_gevent(app) as served:
        sio = socketio.server
        assert sio is not None
        env = SioEnv(sio, served.port, logs)
        box.append(env)
        _instrument(sio, env)
        try:
            if bystander:
                env.bystander()
            yield env
        finally:
            env.close()


# -- processes --------------------------------------------------------------------------------


def rss_kb(pid: int | None = None) -> int:
    """Resident set size in KiB (Linux)."""
    with open(f"/proc/{pid or os.getpid()}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def monotonic() -> float:
    return time.monotonic()
