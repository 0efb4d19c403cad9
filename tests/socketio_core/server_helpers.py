"""Helpers for the `SocketServer` integration tests (real servers on loopback, real clients).

* `Recorder`: what the server's handlers saw, recorded thread-safely (the server runs in its
  own thread and hub) and waited on with bounded timeouts.
* `LogRecorder`: the records of the ``socketio_core`` logger, with a bounded wait for one.
* `make_server()`: a `SocketServer` and its WSGI app (mounted at ``/socket.io/``).
* `node_client()`: runs ``tests/node/sio_client.js`` (socket.io-client@4) with a list of steps.
* `RawWebSocket` / `RawPolling`: hand-written Engine.IO v4 clients for sending bad input.
* `wire()` / `unwire()`: binaries as ``{"$bin": base64}``, the form they cross to node in.
"""

from __future__ import annotations

import base64
import builtins
import json
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import requests
import websocket

import engineio_core
from socketio_core.exceptions import ConnectionRefusedError, TimeoutError
from socketio_core.server.namespace import Namespace
from socketio_core.server.server import SocketServer
from tests.conftest import LogRecorder, run_node, serve_gevent, serve_werkzeug, wait_for

# What a send (or close) to a peer that has closed the connection can raise, and nothing else:
# websocket-client's closed-socket error, the OS's reset / broken pipe, requests' dropped
# connection. Tests that send after the server may have closed catch these only.
PEER_CLOSED_ERRORS = (websocket.WebSocketConnectionClosedException, ConnectionError,
                      requests.ConnectionError)

__all__ = [
    "TIMEOUT", "Closed", "LogRecorder", "NodeInBackground", "RawPolling", "RawWebSocket",
    "Recorder", "build_app", "capture_logs", "make_server", "node_client", "serve_gevent",
    "serve_werkzeug", "unwire", "wait_for", "wire",
]

TIMEOUT = 10.0


class Recorder:
    """A thread-safe list of ``(kind, *details)`` tuples recorded by server handlers."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.items: list[tuple[Any, ...]] = []

    def add(self, kind: str, *details: Any) -> None:
        with self.cond:
            self.items.append((kind, *details))
            self.cond.notify_all()

    def of(self, kind: str) -> list[tuple[Any, ...]]:
        """The details of every record of `kind`, in order."""
        with self.cond:
            return [item[1:] for item in self.items if item[0] == kind]

    def wait(self, predicate: Callable[[], Any], timeout: float = TIMEOUT) -> Any:
        with self.cond:
            result = self.cond.wait_for(predicate, timeout)
        assert result, f"condition not met within {timeout}s; recorded: {self.items[-20:]}"
        return result

    def wait_kind(self, kind: str, count: int = 1, timeout: float = TIMEOUT) -> list[tuple[Any, ...]]:
        """Block until `count` records of `kind` exist; return their details."""
        self.wait(lambda: len([i for i in self.items if i[0] == kind]) >= count, timeout)
        return self.of(kind)

    def wait_match(self, kind: str, predicate: Callable[..., bool], timeout: float = TIMEOUT) -> tuple[Any, ...]:
        """Block until a record of `kind` whose details satisfy `predicate` exists."""

        def find() -> tuple[Any, ...] | None:
            for item in self.items:
                if item[0] == kind and predicate(*item[1:]):
                    return item[1:]
            return None

        found: tuple[Any, ...] = self.wait(find, timeout)
        return found


@contextmanager
def capture_logs(name: str = "socketio_core") -> Iterator[LogRecorder]:
    """Attach a `LogRecorder` to the logger `name` for the duration of the block."""
    logger = logging.getLogger(name)
    handler = LogRecorder()
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


def make_server(**options: Any) -> tuple[SocketServer, engineio_core.WSGIApp]:
    """A `SocketServer` (gevent, logging on) and the WSGI app serving it at /socket.io/."""
    options.setdefault("logger", True)
    options.setdefault("async_mode", "gevent")
    sio = SocketServer(**options)
    return sio, engineio_core.WSGIApp(sio, engineio_path="socket.io")


def wire(value: Any) -> Any:
    """The JSON view of a value for the node runner (binaries as ``{"$bin": base64}``)."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"$bin": base64.b64encode(bytes(value)).decode()}
    if isinstance(value, (list, tuple)):
        return [wire(v) for v in value]
    if isinstance(value, dict):
        return {k: wire(v) for k, v in value.items()}
    return value


def unwire(value: Any) -> Any:
    """The inverse of `wire`."""
    if isinstance(value, list):
        return [unwire(v) for v in value]
    if isinstance(value, dict):
        if set(value) == {"$bin"}:
            return base64.b64decode(value["$bin"])
        return {k: unwire(v) for k, v in value.items()}
    return value


def node_client(url: str, steps: list[dict[str, Any]], timeout: float = 20.0) -> dict[str, Any]:
    """Run the socket.io-client@4 scenario runner; return its result (asserting it finished)."""
    result = run_node(
        "sio_client.js", {"url": url, "steps": steps, "timeoutMs": int(timeout * 1000)},
        timeout=timeout + 15,
    )
    assert result["ok"], result
    return result


class NodeInBackground:
    """`node_client` in a thread, for tests that act on the server while the client runs."""

    def __init__(self, url: str, steps: list[dict[str, Any]], timeout: float = 20.0) -> None:
        self.result: dict[str, Any] | None = None
        self.error: BaseException | None = None

        def run() -> None:
            try:
                self.result = node_client(url, steps, timeout)
            except BaseException as exc:  # reported by join()
                self.error = exc

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()

    def join(self, timeout: float = 40.0) -> dict[str, Any]:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the node client did not finish"
        if self.error is not None:
            raise self.error
        assert self.result is not None
        return self.result


class ClassNamespace(Namespace):
    def __init__(self, rec: Recorder) -> None:
        super().__init__("/class")
        self.rec = rec

    def on_connect(self, sid: str, environ: dict[str, Any], auth: Any) -> None:
        self.rec.add("connect", "/class", sid, auth)

    def on_disconnect(self, sid: str, reason: str) -> None:
        self.rec.add("disconnect", "/class", sid, reason)

    def on_hello(self, sid: str, name: str) -> str:
        self.emit("greeting", f"hi {name}", to=sid)
        return f"hello {name} from {self.namespace}"


def build_app(**options: Any) -> tuple[SocketServer, engineio_core.WSGIApp, Recorder]:
    """A server with the handlers the client tests exercise, recording into a `Recorder`.

    Namespace ``/``: ``connect`` records ``("connect", "/", sid, auth)`` and emits ``welcome``
    to the new client from inside the handler; ``echo`` acks its arguments; ``echo_num`` acks
    ``2*i``; ``bin_echo`` acks ``(data, b"\\x00srv")``; ``join``/``leave`` a room (ack: the
    rooms); ``close(room)`` closes a room; ``please_send(data)`` answers with ``send()``
    (event ``message``); ``shout(room, msg)`` emits ``room_msg`` to the room, ``room_others`` to the room
    but the sender, then ``end`` to everyone; ``ask_me`` emits ``question`` with a callback
    (recorded as ``answer``, echoed back as ``got_answer``); ``start_call(event, payload,
    timeout)`` runs ``sio.call`` (``call`` / ``call_timeout`` records, ``call_result`` event);
    ``kick_me`` disconnects the client; ``*`` catches the rest. ``/chat`` echoes; ``/false``,
    ``/refused``, ``/refused_plain``, ``/refused_builtin`` and ``/crash`` refuse connections
    in every supported way; ``/class`` is a class-based namespace.
    """
    sio, app = make_server(**options)
    rec = Recorder()

    @sio.on("connect")
    def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
        rec.add("connect", "/", sid, auth)
        # Emitted before the connect handler returns: it must reach the client after the
        # CONNECT acknowledgement.
        sio.emit("welcome", {"sid": sid}, to=sid)

    @sio.on("disconnect")
    def disconnect(sid: str, reason: str) -> None:
        rec.add("disconnect", "/", sid, reason)

    @sio.on("echo")
    def echo(sid: str, *args: Any) -> Any:
        return args

    @sio.on("echo_num")
    def echo_num(sid: str, i: int) -> int:
        return i * 2

    @sio.on("bin_echo")
    def bin_echo(sid: str, data: Any) -> Any:
        rec.add("bin_echo", sid, data)
        return data, b"\x00srv"

    @sio.on("join")
    def join(sid: str, room: str) -> Any:
        sio.enter_room(sid, room)
        return sorted(sio.rooms(sid))

    @sio.on("leave")
    def leave(sid: str, room: str) -> Any:
        sio.leave_room(sid, room)
        return sorted(sio.rooms(sid))

    @sio.on("close")
    def close(sid: str, room: str) -> str:
        sio.close_room(room)
        return "closed"

    @sio.on("please_send")
    def please_send(sid: str, data: Any) -> None:
        sio.send(data, to=sid)

    @sio.on("shout")
    def shout(sid: str, room: str, msg: Any) -> str:
        sio.emit("room_msg", msg, to=room)
        sio.emit("room_others", msg, to=room, skip_sid=sid)
        sio.emit("end", msg)  # everyone: arrives after the room messages, in order
        return "ok"

    @sio.on("ask_me")
    def ask_me(sid: str, payload: Any) -> None:
        def on_answer(*args: Any) -> None:
            rec.add("answer", sid, args)
            sio.emit("got_answer", list(args), to=sid)

        sio.emit("question", payload, to=sid, callback=on_answer)

    @sio.on("start_call")
    def start_call(sid: str, event: str, payload: Any, timeout: float) -> None:
        try:
            result = sio.call(event, payload, to=sid, timeout=timeout)
        except TimeoutError as exc:
            rec.add("call_timeout", sid, exc)
            sio.emit("call_result", "timeout", to=sid)
            return
        rec.add("call", sid, result)
        sio.emit("call_result", wire_tuple(result), to=sid)

    @sio.on("kick_me")
    def kick_me(sid: str) -> None:
        sio.disconnect(sid)

    @sio.on("*")
    def catch_all(event: str, sid: str, *args: Any) -> Any:
        rec.add("catch_all", sid, event, args)
        return "caught", event

    @sio.on("connect", namespace="/chat")
    def chat_connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
        rec.add("connect", "/chat", sid, auth)

    @sio.on("disconnect", namespace="/chat")
    def chat_disconnect(sid: str, reason: str) -> None:
        rec.add("disconnect", "/chat", sid, reason)

    @sio.on("echo", namespace="/chat")
    def chat_echo(sid: str, *args: Any) -> Any:
        return ("chat", *args)

    @sio.on("connect", namespace="/false")
    def refuse_false(sid: str, environ: dict[str, Any], auth: Any) -> bool:
        rec.add("connect", "/false", sid, auth)
        return False

    @sio.on("connect", namespace="/refused")
    def refuse_exc(sid: str, environ: dict[str, Any], auth: Any) -> None:
        rec.add("connect", "/refused", sid, auth)
        raise ConnectionRefusedError("nope", {"k": 1})

    @sio.on("connect", namespace="/refused_plain")
    def refuse_plain(sid: str, environ: dict[str, Any], auth: Any) -> None:
        raise ConnectionRefusedError()

    @sio.on("connect", namespace="/refused_builtin")
    def refuse_builtin(sid: str, environ: dict[str, Any], auth: Any) -> None:
        raise builtins.ConnectionRefusedError("not shown")

    @sio.on("connect", namespace="/crash")
    def crash(sid: str, environ: dict[str, Any], auth: Any) -> None:
        raise RuntimeError("bug in the connect handler")

    @sio.on("disconnect", namespace="/false")
    def never_called(sid: str, reason: str) -> None:
        rec.add("disconnect", "/false", sid, reason)

    sio.register_namespace(ClassNamespace(rec))
    return sio, app, rec


def wire_tuple(value: Any) -> Any:
    return wire(list(value)) if isinstance(value, tuple) else wire(value)




class Closed(Exception):
    """The raw client's connection was closed by the server."""


class RawWebSocket:
    """A hand-written Engine.IO v4 WebSocket client (websocket-client), for bad input.

    `send(text)` sends one Socket.IO text packet (an Engine.IO MESSAGE, ``4`` + text);
    `send_binary(data)` one binary message; `recv()` returns the next Socket.IO message
    (answering PINGs) or raises `Closed`.
    """

    def __init__(self, port: int, query: str = "") -> None:
        url = f"ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket{query}"
        self.ws = websocket.create_connection(url, timeout=TIMEOUT)
        opening = self.ws.recv()
        assert isinstance(opening, str) and opening.startswith("0"), opening
        self.handshake = json.loads(opening[1:])
        self.eio_sid: str = self.handshake["sid"]
        self.closed = False

    def send(self, text: str) -> None:
        self.ws.send("4" + text)

    def send_engine(self, text: str) -> None:
        self.ws.send(text)

    def send_binary(self, data: bytes) -> None:
        self.ws.send_binary(data)

    def recv(self, timeout: float = TIMEOUT) -> str | bytes:
        self.ws.settimeout(timeout)
        while True:
            try:
                opcode, frame = self.ws.recv_data_frame(True)
            except (websocket.WebSocketConnectionClosedException, OSError) as exc:
                # (A timeout is a WebSocketTimeoutException, which is neither: it propagates.)
                self.closed = True
                raise Closed(str(exc)) from None
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                self.closed = True
                raise Closed("close frame")
            if opcode == websocket.ABNF.OPCODE_BINARY:
                return bytes(frame.data)
            if opcode != websocket.ABNF.OPCODE_TEXT:
                continue
            text = frame.data.decode("utf-8")
            if text == "2":
                self.ws.send("3")
            elif text == "1":
                self.closed = True
                raise Closed("engine.io CLOSE packet")
            elif text.startswith("4"):
                return text[1:]

    def expect(self, timeout: float = TIMEOUT) -> str | bytes:
        """The next Socket.IO message (fails if the connection closes)."""
        try:
            return self.recv(timeout)
        except Closed as exc:
            raise AssertionError(f"connection closed unexpectedly: {exc}") from None

    def connect(self, namespace: str = "/", auth: Any = None) -> str:
        """Send CONNECT; return the sid of the CONNECT answer."""
        prefix = "" if namespace == "/" else namespace + ","
        self.send("0" + prefix + (json.dumps(auth) if auth is not None else ""))
        answer = self.expect()
        assert isinstance(answer, str) and answer.startswith("0" + prefix + "{"), answer
        sid: str = json.loads(answer[1 + len(prefix):])["sid"]
        return sid

    def wait_closed(self, timeout: float = TIMEOUT) -> list[str | bytes]:
        """Block until the server closes the connection; return what arrived before."""
        got: list[str | bytes] = []
        try:
            while True:
                got.append(self.recv(timeout))
        except Closed:
            return got
        except websocket.WebSocketTimeoutException:
            raise AssertionError(f"the server did not close the connection; got {got}") from None

    def close(self) -> None:
        try:
            self.ws.close(timeout=1)
        except PEER_CLOSED_ERRORS:
            pass  # the server closed it first


class RawPolling:
    """A hand-written Engine.IO v4 long-polling client (requests)."""

    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}/socket.io/"
        self.http = requests.Session()
        resp = self.http.get(self.base, params={"EIO": "4", "transport": "polling"}, timeout=TIMEOUT)
        assert resp.status_code == 200 and resp.text.startswith("0"), resp.text
        self.handshake = json.loads(resp.text[1:])
        self.eio_sid: str = self.handshake["sid"]

    def _params(self) -> dict[str, str]:
        return {"EIO": "4", "transport": "polling", "sid": self.eio_sid}

    def post_segments(self, *segments: str) -> requests.Response:
        """POST Engine.IO packets (``4…`` messages, ``b<base64>`` binaries), one payload."""
        return self.http.post(self.base, params=self._params(), data="\x1e".join(segments).encode(), timeout=TIMEOUT)

    def send(self, *texts: str) -> requests.Response:
        """POST Socket.IO text packets (each an Engine.IO MESSAGE)."""
        return self.post_segments(*("4" + t for t in texts))

    def send_binary(self, data: bytes) -> requests.Response:
        return self.post_segments("b" + base64.b64encode(data).decode())

    def poll(self) -> requests.Response:
        return self.http.get(self.base, params=self._params(), timeout=TIMEOUT)

    def messages(self) -> list[str | bytes]:
        """One poll's Socket.IO messages; raises `Closed` on an Engine.IO CLOSE or a 400."""
        resp = self.poll()
        if resp.status_code == 400:
            raise Closed(resp.text)
        assert resp.status_code == 200, (resp.status_code, resp.text)
        out: list[str | bytes] = []
        for segment in resp.text.split("\x1e"):
            if segment.startswith("b"):
                out.append(base64.b64decode(segment[1:]))
            elif segment.startswith("4"):
                out.append(segment[1:])
            elif segment == "1":
                raise Closed("engine.io CLOSE packet")
            elif segment == "2":
                self.post_segments("3")
        return out

    def connect(self, namespace: str = "/", auth: Any = None) -> str:
        prefix = "" if namespace == "/" else namespace + ","
        resp = self.send("0" + prefix + (json.dumps(auth) if auth is not None else ""))
        assert resp.status_code == 200, resp.text
        got = self.messages()
        assert got and isinstance(got[0], str) and got[0].startswith("0" + prefix + "{"), got
        sid: str = json.loads(got[0][1 + len(prefix):])["sid"]
        return sid

    def wait_closed(self) -> None:
        """Poll until the server ends the session: a CLOSE packet, then 400 on the next poll."""
        for _ in range(20):
            try:
                self.messages()
            except Closed:
                break
        else:
            raise AssertionError("the server did not close the polling session")
        resp = self.poll()
        assert resp.status_code == 400, (resp.status_code, resp.text)
