"""`SocketServer` against the official JavaScript client (socket.io-client@4 under node).

Each test drives ``tests/node/sio_client.js`` with a list of steps and checks what the client
saw (its JSON result) and what the server's handlers saw (a `Recorder`). Two module-wide
servers serve every test: one with the default (JSON) parser, one with msgpack, where the
client uses ``socket.io-msgpack-parser``. Synchronisation is by events only: the client waits
for named events, the server side waits on its recorder, each with a bounded timeout.
"""

from __future__ import annotations

import builtins
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from server_helpers import (
    NodeInBackground,
    Recorder,
    build_app,
    make_server,
    node_client,
    serve_gevent,
    serve_werkzeug,
    unwire,
    wire,
)

from socketio_core.exceptions import TimeoutError
from socketio_core.server.server import SocketServer

pytestmark = pytest.mark.node

_tags = itertools.count()


def tag() -> str:
    """A unique marker, sent as auth, to find this test's client in the shared recorder."""
    return f"client-{next(_tags)}"


@dataclass
class Env:
    sio: SocketServer
    rec: Recorder
    url: str
    serializer: str

    def opts(self, **extra: Any) -> dict[str, Any]:
        """Client options matching the server's serializer."""
        if self.serializer == "msgpack":
            extra["parser"] = "msgpack"
        return extra

    def sid_of(self, auth_tag: str, namespace: str = "/") -> str:
        found = self.rec.wait_match(
            "connect", lambda ns, sid, auth: ns == namespace and isinstance(auth, dict) and auth.get("tag") == auth_tag
        )
        return str(found[1])


@pytest.fixture(scope="module", params=["default", "msgpack"])
def env(request: pytest.FixtureRequest) -> Iterator[Env]:
    sio, app, rec = build_app(serializer=request.param)
    with serve_gevent(app) as srv:
        yield Env(sio, rec, srv.url, request.param)


@pytest.fixture(scope="module")
def json_env() -> Iterator[Env]:
    sio, app, rec = build_app()
    with serve_gevent(app) as srv:
        yield Env(sio, rec, srv.url, "default")


def events(result: dict[str, Any], name: str, event: str) -> list[list[Any]]:
    """The arguments of every `event` the client socket `name` received."""
    return [e[1:] for e in result["sockets"][name]["events"] if e[0] == event]


# -- connecting ------------------------------------------------------------------------------


@pytest.mark.parametrize("transports", [None, ["polling"], ["websocket"]], ids=["upgrade", "polling", "websocket"])
def test_connect_with_auth_sees_auth_and_transport(env: Env, transports: list[str] | None) -> None:
    t = tag()
    opts = env.opts(transports=transports) if transports else env.opts()
    result = node_client(env.url, [
        {"op": "connect", "name": "a", "auth": {"tag": t, "token": "s3cret"}, "opts": opts},
        {"op": "wait", "name": "a", "event": "welcome"},
        {"op": "emit", "name": "a", "event": "echo", "args": ["x", 1, {"y": [None, True]}], "ack": True},
    ])
    sid = env.sid_of(t)
    auth = env.rec.wait_match("connect", lambda ns, s, auth: s == sid)[2]
    assert result["sockets"]["a"]["id"] == sid
    assert auth == {"tag": t, "token": "s3cret"}
    assert events(result, "a", "welcome") == [[{"sid": sid}]]
    assert result["acks"]["echo"] == ["x", 1, {"y": [None, True]}]


@pytest.mark.parametrize("transports", [["polling"], ["websocket"]])
def test_server_reports_the_transport(json_env: Env, transports: list[str]) -> None:
    env = json_env
    t = tag()
    run = NodeInBackground(env.url, [
        {"op": "connect", "name": "a", "auth": {"tag": t}, "opts": {"transports": transports}},
        {"op": "wait", "name": "a", "event": "done"},
    ])
    sid = env.sid_of(t)
    assert env.sio.transport(sid) == transports[0]
    assert env.sio.get_environ(sid)["PATH_INFO"] == "/socket.io/"
    env.sio.emit("done", to=sid)
    run.join()


REFUSALS = {
    "/false": {"message": "Connection rejected by server", "data": None},  # return False
    "/refused": {"message": "nope", "data": {"k": 1}},  # ConnectionRefusedError("nope", {"k": 1})
    "/refused_plain": {"message": "Connection rejected by server", "data": None},
    "/refused_builtin": {"message": "Connection refused by server", "data": None},
    "/crash": {"message": "Connection rejected by server", "data": None},  # handler raised
    "/nope": {"message": "Invalid namespace", "data": None},  # no such namespace
}


def test_connect_refusals_reach_connect_error(env: Env) -> None:
    """Every way of refusing, one client (one Engine.IO connection) each, in one node run."""
    result = node_client(env.url, [
        {"op": "connect", "name": namespace, "nsp": namespace, "auth": {"tag": tag()}, "opts": env.opts()}
        for namespace in REFUSALS
    ])
    for namespace, error in REFUSALS.items():
        client = result["sockets"][namespace]
        assert not client["connected"], namespace
        assert client["connectError"] == error, namespace


def test_refused_client_gets_no_disconnect_handler(json_env: Env) -> None:
    env = json_env
    t = tag()
    node_client(env.url, [
        {"op": "connect", "name": "a", "nsp": "/false", "auth": {"tag": t}},
        # The same connection can still join another namespace.
        {"op": "connect", "name": "b", "share": "a", "nsp": "/", "auth": {"tag": t}},
        {"op": "emit", "name": "b", "event": "echo", "args": [1], "ack": True},
    ])
    refused_sid = env.sid_of(t, "/false")
    sid = env.sid_of(t)
    env.rec.wait_match("disconnect", lambda ns, s, reason: s == sid)
    assert not [d for d in env.rec.of("disconnect") if d[1] == refused_sid]


def test_chat_namespace(env: Env) -> None:
    t = tag()
    result = node_client(env.url, [
        {"op": "connect", "name": "a", "nsp": "/chat", "auth": {"tag": t}, "opts": env.opts()},
        {"op": "emit", "name": "a", "event": "echo", "args": ["hi"], "ack": True},
    ])
    sid = env.sid_of(t, "/chat")
    assert result["sockets"]["a"]["id"] == sid
    assert result["acks"]["echo"] == ["chat", "hi"]
    # Only /chat was joined: the "/" connect handler never ran for this client.
    assert not [c for c in env.rec.of("connect") if c[0] == "/" and c[2] == {"tag": t}]


def test_class_based_namespace(env: Env) -> None:
    t = tag()
    result = node_client(env.url, [
        {"op": "connect", "name": "a", "nsp": "/class", "auth": {"tag": t}, "opts": env.opts()},
        {"op": "emit", "name": "a", "event": "hello", "args": ["bob"], "ack": True},
        {"op": "wait", "name": "a", "event": "greeting"},
        {"op": "disconnect", "name": "a"},
    ])
    sid = env.sid_of(t, "/class")
    assert result["acks"]["hello"] == ["hello bob from /class"]
    assert events(result, "a", "greeting") == [["hi bob"]]
    assert env.rec.wait_match("disconnect", lambda ns, s, reason: s == sid) == ("/class", sid, "client disconnect")


def test_catch_all_event_handler(env: Env) -> None:
    t = tag()
    result = node_client(env.url, [
        {"op": "connect", "name": "a", "auth": {"tag": t}, "opts": env.opts()},
        {"op": "emit", "name": "a", "event": "no_such_handler", "args": [1, "two"], "ack": True},
    ])
    sid = env.sid_of(t)
    assert result["acks"]["no_such_handler"] == ["caught", "no_such_handler"]
    assert env.rec.wait_match("catch_all", lambda s, *_: s == sid) == (sid, "no_such_handler", (1, "two"))


# -- rooms -----------------------------------------------------------------------------------


def test_rooms_isolation(env: Env) -> None:
    room = f"room-{tag()}"
    o = env.opts()
    result = node_client(env.url, [
        {"op": "connect", "name": "a", "opts": o},
        {"op": "connect", "name": "b", "opts": o},
        {"op": "connect", "name": "c", "opts": o},
        {"op": "emit", "name": "a", "event": "join", "args": [room], "ack": True, "key": "join_a"},
        {"op": "emit", "name": "b", "event": "join", "args": [room], "ack": True, "key": "join_b"},
        {"op": "emit", "name": "a", "event": "shout", "args": [room, "first"], "ack": True},
        {"op": "wait", "name": "a", "event": "end"},
        {"op": "wait", "name": "b", "event": "end"},
        {"op": "wait", "name": "c", "event": "end"},
        {"op": "emit", "name": "b", "event": "leave", "args": [room], "ack": True, "key": "leave_b"},
        {"op": "emit", "name": "a", "event": "shout", "args": [room, "second"], "ack": True},
        {"op": "wait", "name": "a", "event": "end", "count": 2},
        {"op": "wait", "name": "b", "event": "end", "count": 2},
        {"op": "wait", "name": "c", "event": "end", "count": 2},
        {"op": "emit", "name": "c", "event": "close", "args": [room], "ack": True, "key": "close"},
        {"op": "emit", "name": "a", "event": "shout", "args": [room, "third"], "ack": True},
        {"op": "wait", "name": "a", "event": "end", "count": 3},
        {"op": "wait", "name": "b", "event": "end", "count": 3},
    ])
    a, b = result["sockets"]["a"]["id"], result["sockets"]["b"]["id"]
    assert result["acks"]["join_a"] == [sorted([a, room])]
    assert result["acks"]["join_b"] == [sorted([b, room])]
    assert result["acks"]["leave_b"] == [[b]]
    assert result["acks"]["close"] == ["closed"]
    assert events(result, "a", "room_msg") == [["first"], ["second"]]  # not "third": closed
    assert events(result, "a", "room_others") == []  # skip_sid
    assert events(result, "b", "room_msg") == [["first"]]
    assert events(result, "b", "room_others") == [["first"]]
    assert events(result, "c", "room_msg") == []
    assert events(result, "c", "room_others") == []
    # Order: each client saw its room messages before the broadcast that followed them.
    names_b = [e[0] for e in result["sockets"]["b"]["events"] if e[0] != "welcome"]
    assert names_b == ["room_msg", "room_others", "end", "end", "end"]


def test_send_is_a_message_event(env: Env) -> None:
    result = node_client(env.url, [
        {"op": "connect", "name": "a", "opts": env.opts()},
        {"op": "emit", "name": "a", "event": "please_send", "args": [{"text": "hi", "raw": wire(b"\x07")}]},
        {"op": "wait", "name": "a", "event": "message"},
    ])
    assert unwire(events(result, "a", "message")) == [[{"text": "hi", "raw": b"\x07"}]]


def test_catch_all_namespace_handlers() -> None:
    """Handlers on namespace ``'*'`` accept any namespace and get it first."""
    sio, app = make_server()
    rec = Recorder()
    sio.on("connect", lambda ns, sid, environ, auth: rec.add("connect", ns, sid, auth), namespace="*")
    sio.on("disconnect", lambda ns, sid, reason: rec.add("disconnect", ns, sid, reason), namespace="*")
    sio.on("ping", lambda ns, sid, *args: ("pong", ns, *args), namespace="*")
    sio.on("*", lambda event, ns, sid, *args: ("star", event, ns, *args), namespace="*")
    with serve_gevent(app) as srv:
        result = node_client(srv.url, [
            {"op": "connect", "name": "a", "nsp": "/anything", "auth": {"k": 1}},
            {"op": "emit", "name": "a", "event": "ping", "args": [1], "ack": True},
            {"op": "emit", "name": "a", "event": "other", "args": [2], "ack": True},
            {"op": "disconnect", "name": "a"},
        ])
        sid = result["sockets"]["a"]["id"]
        assert rec.wait_kind("connect") == [("/anything", sid, {"k": 1})]
        assert result["acks"]["ping"] == ["pong", "/anything", 1]
        assert result["acks"]["other"] == ["star", "other", "/anything", 2]
        assert rec.wait_kind("disconnect") == [("/anything", sid, "client disconnect")]


# -- binary, acks, call() --------------------------------------------------------------------


BINARY_PAYLOAD = {
    "a": b"\x01\x02\x03",
    "nested": [b"", {"b": bytes(range(256))}, "text"],
    "n": 1,
}


def test_binary_event_and_binary_ack(env: Env) -> None:
    t = tag()
    result = node_client(env.url, [
        {"op": "connect", "name": "a", "auth": {"tag": t}, "opts": env.opts()},
        {"op": "emit", "name": "a", "event": "bin_echo", "args": [wire(BINARY_PAYLOAD)], "ack": True},
    ])
    sid = env.sid_of(t)
    assert env.rec.wait_match("bin_echo", lambda s, data: s == sid) == (sid, BINARY_PAYLOAD)
    assert unwire(result["acks"]["bin_echo"]) == [BINARY_PAYLOAD, b"\x00srv"]


def test_server_to_client_binary_event_with_binary_ack(env: Env) -> None:
    t = tag()
    result = node_client(env.url, [
        {"op": "connect", "name": "a", "auth": {"tag": t}, "opts": env.opts(), "acks": {"question": "echo"}},
        {"op": "emit", "name": "a", "event": "ask_me", "args": [wire(BINARY_PAYLOAD)]},
        {"op": "wait", "name": "a", "event": "got_answer"},
    ])
    sid = env.sid_of(t)
    assert unwire(events(result, "a", "question")) == [[BINARY_PAYLOAD]]
    assert env.rec.wait_match("answer", lambda s, args: s == sid) == (sid, (BINARY_PAYLOAD,))
    assert unwire(events(result, "a", "got_answer")) == [[[BINARY_PAYLOAD]]]


def test_server_to_client_ack_callback(env: Env) -> None:
    t = tag()
    result = node_client(env.url, [
        {"op": "connect", "name": "a", "auth": {"tag": t}, "opts": env.opts(),
         "acks": {"question": {"value": ["answer", 42, {"deep": [1]}]}}},
        {"op": "emit", "name": "a", "event": "ask_me", "args": ["what?"]},
        {"op": "wait", "name": "a", "event": "got_answer"},
    ])
    sid = env.sid_of(t)
    assert events(result, "a", "question") == [["what?"]]
    assert env.rec.wait_match("answer", lambda s, args: s == sid) == (sid, ("answer", 42, {"deep": [1]}))
    assert env.sio.manager.acks.pending(sid) == 0  # type: ignore[attr-defined]


CALL_ACKS = {  # what the client acks -> what call() returns
    "call_one": ([7], 7),
    "call_several": (["x", 2], ("x", 2)),
    "call_none": ([], None),
    "call_binary": ([wire(b"\xff\x00")], b"\xff\x00"),
}


def test_call_returns_the_client_ack(env: Env) -> None:
    t = tag()
    steps: list[dict[str, Any]] = [
        {"op": "connect", "name": "a", "auth": {"tag": t}, "opts": env.opts(),
         "acks": {event: {"value": ack} for event, (ack, _) in CALL_ACKS.items()}},
    ]
    for count, event in enumerate(CALL_ACKS, 1):
        steps.append({"op": "emit", "name": "a", "event": "start_call", "args": [event, "payload?", 10]})
        steps.append({"op": "wait", "name": "a", "event": "call_result", "count": count})
    result = node_client(env.url, steps)
    sid = env.sid_of(t)
    env.rec.wait(lambda: len([c for c in env.rec.of("call") if c[0] == sid]) == len(CALL_ACKS))
    assert [c[1] for c in env.rec.of("call") if c[0] == sid] == [r for _, r in CALL_ACKS.values()]
    for event in CALL_ACKS:
        assert events(result, "a", event) == [["payload?"]]


def test_call_times_out_when_the_client_never_acks(env: Env) -> None:
    t = tag()
    result = node_client(env.url, [
        {"op": "connect", "name": "a", "auth": {"tag": t}, "opts": env.opts()},  # acks nothing
        {"op": "emit", "name": "a", "event": "start_call", "args": ["never_acked", None, 0.3]},
        {"op": "wait", "name": "a", "event": "call_result"},
    ])
    sid = env.sid_of(t)
    exc = env.rec.wait_match("call_timeout", lambda s, e: s == sid)[1]
    assert isinstance(exc, TimeoutError) and isinstance(exc, builtins.TimeoutError)
    assert events(result, "a", "call_result") == [["timeout"]]
    assert events(result, "a", "never_acked") == [[]]
    assert env.sio.manager.acks.pending(sid) == 0  # type: ignore[attr-defined]


def test_call_and_emit_from_a_foreign_thread(json_env: Env) -> None:
    """The test thread is not the server's hub thread: emit/call must hop to it."""
    env = json_env
    t = tag()
    run = NodeInBackground(env.url, [
        {"op": "connect", "name": "a", "auth": {"tag": t}, "acks": {"from_thread": {"value": ["thread", 1]}}},
        {"op": "wait", "name": "a", "event": "finish"},
    ])
    sid = env.sid_of(t)
    try:
        assert env.sio.call("from_thread", {"q": 1}, to=sid, timeout=10) == ("thread", 1)
        with pytest.raises(TimeoutError):
            env.sio.call("not_acked", to=sid, timeout=0.2)
        # Encoded in the calling thread: bad data raises here, later changes are not sent.
        with pytest.raises(TypeError):
            env.sio.emit("bad", object(), to=sid)
        payload = {"v": 1}
        env.sio.emit("snap", payload, to=sid)
        payload["v"] = 2
    finally:
        env.sio.emit("finish", "bye", to=sid)
    result = run.join()
    assert events(result, "a", "from_thread") == [[{"q": 1}]]
    assert events(result, "a", "snap") == [[{"v": 1}]]
    assert events(result, "a", "bad") == []
    assert events(result, "a", "finish") == [["bye"]]


def test_call_without_a_target_is_refused(json_env: Env) -> None:
    with pytest.raises(ValueError, match="broadcast"):
        json_env.sio.call("x", "y")


def test_thousand_acked_emits_in_flight(env: Env) -> None:
    result = node_client(env.url, [
        {"op": "connect", "name": "a", "opts": env.opts()},
        {"op": "burst", "name": "a", "event": "echo_num", "count": 1000},
    ], timeout=40)
    burst = result["bursts"]["echo_num"]
    assert burst["received"] == 1000
    assert burst["duplicates"] == 0
    assert burst["values"] == [2 * i for i in range(1000)]


def test_hundred_clients_connect_at_once(json_env: Env) -> None:
    env = json_env
    result = node_client(env.url, [{"op": "crowd", "count": 100, "event": "welcome"}], timeout=40)
    crowd = result["crowd"]
    assert crowd["errors"] == []
    assert crowd["connected"] == 100
    assert crowd["distinctIds"] == 100
    assert crowd["welcomed"] == 100
    # The welcome was emitted inside the connect handler, yet arrived after the CONNECT ack.
    assert crowd["ordered"] == 100
    # Each client got exactly its own welcome.
    assert crowd["welcomes"] == [[[{"sid": sid}]] for sid in crowd["ids"]]


# -- disconnecting ---------------------------------------------------------------------------


@pytest.mark.parametrize("transports", [["polling"], ["websocket"]])
def test_client_disconnect_reason(env: Env, transports: list[str]) -> None:
    t = tag()
    result = node_client(env.url, [
        {"op": "connect", "name": "a", "auth": {"tag": t}, "opts": env.opts(transports=transports)},
        {"op": "emit", "name": "a", "event": "echo", "args": [1], "ack": True},
        {"op": "disconnect", "name": "a"},
    ])
    sid = env.sid_of(t)
    assert env.rec.wait_match("disconnect", lambda ns, s, r: s == sid) == ("/", sid, "client disconnect")
    assert result["sockets"]["a"]["disconnectReason"] == "io client disconnect"


@pytest.mark.parametrize("transports", [["polling"], ["websocket"]])
def test_server_disconnect_reason(env: Env, transports: list[str]) -> None:
    t = tag()
    result = node_client(env.url, [
        {"op": "connect", "name": "a", "auth": {"tag": t}, "opts": env.opts(transports=transports)},
        {"op": "emit", "name": "a", "event": "kick_me"},
        {"op": "waitDisconnect", "name": "a"},
    ])
    sid = env.sid_of(t)
    assert result["sockets"]["a"]["disconnectReason"] == "io server disconnect"
    assert env.rec.wait_match("disconnect", lambda ns, s, r: s == sid) == ("/", sid, "server disconnect")
    with pytest.raises(KeyError):
        env.sio.get_session(sid)


def test_namespace_disconnect_keeps_the_others(env: Env) -> None:
    t = tag()
    result = node_client(env.url, [
        {"op": "connect", "name": "main", "auth": {"tag": t}, "opts": env.opts()},
        {"op": "connect", "name": "chat", "share": "main", "nsp": "/chat", "auth": {"tag": t}},
        {"op": "emit", "name": "chat", "event": "echo", "args": ["in chat"], "ack": True, "key": "chat1"},
        {"op": "disconnect", "name": "chat"},
        {"op": "emit", "name": "main", "event": "echo", "args": ["still here"], "ack": True, "key": "main1"},
        # The Manager reuses its /chat socket (and its auth): a new CONNECT, a new sid.
        {"op": "connect", "name": "chat2", "share": "main", "nsp": "/chat"},
        {"op": "emit", "name": "chat2", "event": "echo", "args": ["back"], "ack": True, "key": "chat2"},
    ])
    main_sid = env.sid_of(t)
    chat_sid = env.sid_of(t, "/chat")
    assert env.rec.wait_match("disconnect", lambda ns, s, r: s == chat_sid) == ("/chat", chat_sid, "client disconnect")
    assert result["acks"]["chat1"] == ["chat", "in chat"]
    assert result["acks"]["main1"] == ["still here"]
    assert result["acks"]["chat2"] == ["chat", "back"]
    assert result["sockets"]["main"]["disconnectReason"] is None
    chat_sids = [c[1] for c in env.rec.of("connect") if c[0] == "/chat" and c[2] == {"tag": t}]
    assert len(set(chat_sids)) == 2 and chat_sids[0] == chat_sid
    env.rec.wait_match("disconnect", lambda ns, s, r: s == main_sid)


def test_session_lives_per_namespace(json_env: Env) -> None:
    env = json_env
    t = tag()
    run = NodeInBackground(env.url, [
        {"op": "connect", "name": "a", "auth": {"tag": t}},
        {"op": "connect", "name": "chat", "share": "a", "nsp": "/chat", "auth": {"tag": t}},
        {"op": "wait", "name": "a", "event": "done"},
    ])
    sid = env.sid_of(t)
    chat_sid = env.sid_of(t, "/chat")
    with env.sio.session(sid) as session:
        session["user"] = "ann"
    env.sio.save_session(chat_sid, {"room": "x"}, namespace="/chat")
    assert env.sio.get_session(sid) == {"user": "ann"}
    assert env.sio.get_session(chat_sid, namespace="/chat") == {"room": "x"}
    with pytest.raises(KeyError):
        env.sio.get_session(chat_sid)  # that sid is not in "/"
    env.sio.emit("done", to=sid)
    run.join()


# -- threading driver on the Werkzeug dev server ---------------------------------------------


@pytest.fixture(scope="module")
def werkzeug_env() -> Iterator[Env]:
    sio, app, rec = build_app(async_mode="threading")
    with serve_werkzeug(app) as srv:
        yield Env(sio, rec, srv.url, "default")


@pytest.mark.parametrize("transports", [None, ["polling"], ["websocket"]], ids=["upgrade", "polling", "websocket"])
def test_threading_on_werkzeug(werkzeug_env: Env, transports: list[str] | None) -> None:
    env = werkzeug_env
    t = tag()
    room = f"wz-room-{t}"
    opts = {"transports": transports} if transports else {}
    result = node_client(env.url, [
        {"op": "connect", "name": "a", "auth": {"tag": t}, "opts": opts,
         "acks": {"question": "echo", "call_q": {"value": ["from node"]}}},
        {"op": "connect", "name": "b", "opts": opts},
        {"op": "wait", "name": "a", "event": "welcome"},
        {"op": "emit", "name": "a", "event": "bin_echo", "args": [wire(BINARY_PAYLOAD)], "ack": True},
        {"op": "emit", "name": "a", "event": "join", "args": [room], "ack": True},
        {"op": "emit", "name": "b", "event": "shout", "args": [room, "hi"], "ack": True},
        {"op": "wait", "name": "a", "event": "end"},
        {"op": "wait", "name": "b", "event": "end"},
        {"op": "emit", "name": "a", "event": "ask_me", "args": [wire(b"\x01")]},
        {"op": "wait", "name": "a", "event": "got_answer"},
        {"op": "emit", "name": "a", "event": "start_call", "args": ["call_q", None, 10]},
        {"op": "wait", "name": "a", "event": "call_result"},
        {"op": "burst", "name": "a", "event": "echo_num", "count": 200},
        {"op": "emit", "name": "a", "event": "kick_me"},
        {"op": "waitDisconnect", "name": "a"},
    ], timeout=30)
    sid = env.sid_of(t)
    assert unwire(result["acks"]["bin_echo"]) == [BINARY_PAYLOAD, b"\x00srv"]
    assert events(result, "a", "room_msg") == [["hi"]] and events(result, "b", "room_msg") == []
    assert unwire(events(result, "a", "got_answer")) == [[[b"\x01"]]]
    assert env.rec.wait_match("call", lambda s, r: s == sid) == (sid, "from node")
    assert result["bursts"]["echo_num"]["values"] == [2 * i for i in range(200)]
    assert result["sockets"]["a"]["disconnectReason"] == "io server disconnect"
    assert env.rec.wait_match("disconnect", lambda ns, s, r: s == sid) == ("/", sid, "server disconnect")


def test_threading_on_werkzeug_crowd(werkzeug_env: Env) -> None:
    result = node_client(werkzeug_env.url, [{"op": "crowd", "count": 30, "event": "welcome"}], timeout=40)
    crowd = result["crowd"]
    assert (crowd["connected"], crowd["welcomed"], crowd["ordered"], crowd["errors"]) == (30, 30, 30, [])
