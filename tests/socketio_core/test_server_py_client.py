"""`SocketServer` against the python-socketio client (a test-time dependency only).

The servers are the ones of `server_helpers.build_app`: under gevent (pywsgi) with the JSON
and the msgpack parsers, and under threads on the Werkzeug dev server (``async_mode=
'threading'``), each reached over WebSocket, long-polling, and polling upgraded to WebSocket.

Two python-engineio client limits shape these tests (the node tests have neither):

* ``Client.disconnect()`` queues DISCONNECT and CLOSE, then stops its writer without waiting
  for them to be sent, so the server may never hear of a client-side disconnect (it then ends
  the session by ping timeout). Disconnect reasons are checked with node; here only the
  server-side disconnect is. Its own ``disconnect()`` then waits for its pending poll, which
  the server answers at the next PING: hence the short ``ping_interval``.
* its payload decoder refuses a poll response of more than 16 packets ("Too many packets in
  payload") and drops the connection, so polling tests keep bursts below that.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
import socketio
from server_helpers import TIMEOUT, Recorder, build_app, serve_gevent, serve_werkzeug

from socketio_core.server.server import SocketServer

_tags = itertools.count()

SERVERS = [("gevent", "default"), ("gevent", "msgpack"), ("threading", "default")]
TRANSPORTS = {"websocket": ["websocket"], "polling": ["polling"], "upgrade": None}


@dataclass
class Env:
    sio: SocketServer
    rec: Recorder
    url: str
    serializer: str
    async_mode: str

    def sid_of(self, auth_tag: str, namespace: str = "/") -> str:
        found = self.rec.wait_match(
            "connect", lambda ns, sid, auth: ns == namespace and isinstance(auth, dict) and auth.get("tag") == auth_tag
        )
        return str(found[1])


@pytest.fixture(scope="module", params=SERVERS, ids=["gevent-json", "gevent-msgpack", "threading-werkzeug"])
def env(request: pytest.FixtureRequest) -> Iterator[Env]:
    async_mode, serializer = request.param
    # A short ping interval bounds how long a poll the client abandoned (see above) lingers.
    sio, app, rec = build_app(async_mode=async_mode, serializer=serializer, ping_interval=1)
    serve = serve_gevent if async_mode == "gevent" else serve_werkzeug
    with serve(app) as srv:
        yield Env(sio, rec, srv.url, serializer, async_mode)


@pytest.fixture(params=list(TRANSPORTS))
def transports(request: pytest.FixtureRequest) -> list[str] | None:
    return TRANSPORTS[request.param]


class Client:
    """A python-socketio client whose received events are recorded."""

    def __init__(self, env: Env, **kwargs: Any) -> None:
        self.client = socketio.Client(reconnection=False, serializer=env.serializer, handle_sigint=False, **kwargs)
        self.events = Recorder()
        self.client.on("*", self._any)
        self.client.on("disconnect", lambda reason=None: self.events.add("disconnect", reason))

    def _any(self, event: str, *args: Any) -> None:
        self.events.add(event, *args)

    def wait(self, event: str, count: int = 1) -> list[tuple[Any, ...]]:
        return self.events.wait_kind(event, count)


@contextmanager
def connected(env: Env, transports: list[str] | None = None, namespaces: list[str] | None = None,
              **kwargs: Any) -> Iterator[tuple[Client, str]]:
    """A connected `Client` and its auth tag; disconnected at the end."""
    t = f"py-{next(_tags)}"
    c = Client(env, **kwargs)
    c.client.connect(env.url, auth={"tag": t}, transports=transports, namespaces=namespaces, wait_timeout=TIMEOUT)
    try:
        yield c, t
    finally:
        c.client.disconnect()


def test_connect_auth_and_acks(env: Env, transports: list[str] | None) -> None:
    with connected(env, transports) as (c, t):
        sid = env.sid_of(t)
        assert c.client.get_sid() == sid
        assert env.rec.wait_match("connect", lambda ns, s, a: s == sid)[2] == {"tag": t}
        assert c.wait("welcome") == [({"sid": sid},)]
        # A tuple return value is several ack arguments: python-socketio's call() gives a tuple.
        assert c.client.call("echo", ("a", {"b": [1, None]}), timeout=TIMEOUT) == ("a", {"b": [1, None]})
        assert c.client.call("echo_num", 21, timeout=TIMEOUT) == 42
        acked = Recorder()
        c.client.emit("echo", "cb", callback=lambda *args: acked.add("ack", *args))
        assert acked.wait_kind("ack") == [("cb",)]
        if transports is not None:
            assert env.sio.transport(sid) == transports[0]


def test_binary_roundtrip(env: Env, transports: list[str] | None) -> None:
    payload = {"a": b"\x00\x01", "nested": [b"", {"b": bytes(range(256))}], "n": 1}
    with connected(env, transports) as (c, t):
        sid = env.sid_of(t)
        assert c.client.call("bin_echo", payload, timeout=TIMEOUT) == (payload, b"\x00srv")
        assert env.rec.wait_match("bin_echo", lambda s, d: s == sid) == (sid, payload)


def test_server_call_to_the_python_client(env: Env, transports: list[str] | None) -> None:
    with connected(env, transports) as (c, t):
        sid = env.sid_of(t)
        c.client.on("call_q", lambda data: ("answer", data))
        c.client.emit("start_call", ("call_q", {"q": b"\x01"}, TIMEOUT))
        c.wait("call_result")
        assert env.rec.wait_match("call", lambda s, r: s == sid) == (sid, ("answer", {"q": b"\x01"}))
        # (python-socketio's client acks every event, so the timeout is tested with node.)


def test_callback_emit_to_the_python_client(env: Env) -> None:
    with connected(env) as (c, t):
        sid = env.sid_of(t)
        c.client.on("question", lambda *args: ("yes", *args))
        c.client.emit("ask_me", "really?")
        assert c.wait("got_answer") == [(["yes", "really?"],)]
        assert env.rec.wait_match("answer", lambda s, a: s == sid) == (sid, ("yes", "really?"))


def test_rooms(env: Env) -> None:
    room = f"py-room-{next(_tags)}"
    with connected(env) as (a, _), connected(env, ["websocket"]) as (b, _), connected(env, ["polling"]) as (c, _):
        assert a.client.call("join", room, timeout=TIMEOUT) == sorted([a.client.get_sid(), room])
        b.client.call("join", room, timeout=TIMEOUT)
        assert b.client.call("shout", (room, "hello"), timeout=TIMEOUT) == "ok"
        for client in (a, b, c):
            client.wait("end")
        assert a.events.of("room_msg") == [("hello",)]
        assert a.events.of("room_others") == [("hello",)]
        assert b.events.of("room_msg") == [("hello",)]
        assert b.events.of("room_others") == []  # the sender was skipped
        assert c.events.of("room_msg") == [] and c.events.of("room_others") == []


def test_namespaces_and_disconnect_reasons(env: Env) -> None:
    with connected(env, namespaces=["/", "/chat"]) as (c, t):
        sid = env.sid_of(t)
        chat_sid = env.sid_of(t, "/chat")
        assert c.client.call("echo", "x", namespace="/chat", timeout=TIMEOUT) == ("chat", "x")
        c.client.emit("kick_me")
        env.rec.wait_match("disconnect", lambda ns, s, reason: s == sid and reason == "server disconnect")
        # /chat is still connected on the same Engine.IO connection.
        assert c.client.call("echo", "y", namespace="/chat", timeout=TIMEOUT) == ("chat", "y")
        assert not [d for d in env.rec.of("disconnect") if d[1] == chat_sid]


def test_connect_refused(env: Env) -> None:
    c = Client(env)
    c.client.on("connect_error", lambda data: c.events.add("connect_error", data), namespace="/refused")
    with pytest.raises(socketio.exceptions.ConnectionError, match="/refused"):
        c.client.connect(env.url, namespaces=["/refused"], auth={"tag": "refused"}, wait_timeout=TIMEOUT)
    c.client.disconnect()
    assert c.events.of("connect_error") == [({"message": "nope", "data": {"k": 1}},)]


def test_concurrent_calls_to_one_client(env: Env) -> None:
    """Calls from many server tasks to one client: every ack reaches its own caller."""
    count = 30  # over WebSocket: python-engineio's 16-packet poll limit does not apply
    with connected(env, ["websocket"]) as (c, t):
        sid = env.sid_of(t)
        c.client.on("call_q", lambda data: data)
        for i in range(count):
            c.client.emit("start_call", ("call_q", i, TIMEOUT))
        c.wait("call_result", count)
        results = sorted(r[1] for r in env.rec.of("call") if r[0] == sid)
        assert results == list(range(count))
