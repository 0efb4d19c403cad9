"""The Flask-facing API (section a of the reference behaviour), tested the way Flask-SocketIO
users test their apps: with ``socketio.test_client(app)``.

Each test builds its own small app, so nothing leaks between tests. The test client runs
handlers synchronously: after ``emit()`` returns, whatever the handler emitted is in
``get_received()``; no waiting is needed.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
from flask import Flask, g, request, session
from flask.sessions import SessionInterface, SessionMixin

from flask_socketio import (
    ConnectionRefusedError,
    Namespace,
    SocketIO,
    SocketIOTestClient,
    close_room,
    disconnect,
    emit,
    join_room,
    leave_room,
    rooms,
    send,
)

# -- helpers ---------------------------------------------------------------------------------


def make_app(**options: Any) -> tuple[Flask, SocketIO]:
    app = Flask(__name__)
    app.config["SECRET_KEY"] = "test-secret"
    return app, SocketIO(app, **options)


def names(received: list[dict[str, Any]]) -> list[str]:
    return [item["name"] for item in received]


def add_sid_handler(socketio: SocketIO, namespace: str = "/") -> None:
    """An event 'sid' whose ACK is the caller's sid (the test client does not know it)."""

    @socketio.on("sid", namespace=namespace)
    def _sid() -> str:
        return request.sid  # type: ignore[attr-defined, no-any-return]


# -- construction: SocketIO(app) and init_app ----------------------------------------------------


def test_socketio_app_registers_extension_and_wraps_wsgi_app() -> None:
    app, socketio = make_app()
    assert app.extensions["socketio"] is socketio
    assert app.wsgi_app is socketio.sockio_mw
    client = socketio.test_client(app)
    assert isinstance(client, SocketIOTestClient)
    assert client.is_connected()


def test_init_app_keeps_handlers_registered_before() -> None:
    socketio = SocketIO(ping_interval=7)
    assert socketio.server is None

    @socketio.on("early")
    def early(data: Any) -> Any:
        return ["early", data]

    @socketio.event
    def early_event() -> str:
        return "early_event"

    @socketio.event(namespace="/ns")
    def early_ns_event() -> str:
        return "early in /ns"

    class Early(Namespace):
        def on_hello(self) -> str:
            return "class hello"

    socketio.on_namespace(Early("/class"))
    socketio.on_event("early_on_event", lambda: "on_event", namespace="/ns")

    app = Flask(__name__)
    socketio.init_app(app, manage_session=False)
    assert app.extensions["socketio"] is socketio
    assert socketio.manage_session is False
    # Constructor options and init_app options are merged.
    assert socketio.server_options["ping_interval"] == 7
    assert socketio.server is not None

    @socketio.on("late")
    def late() -> str:
        return "late"

    client = socketio.test_client(app)
    assert client.emit("early", 1, callback=True) == ["early", 1]
    assert client.emit("early_event", callback=True) == "early_event"
    assert client.emit("late", callback=True) == "late"
    client.connect("/ns")
    assert client.emit("early_ns_event", namespace="/ns", callback=True) == "early in /ns"
    assert client.emit("early_on_event", namespace="/ns", callback=True) == "on_event"
    client.connect("/class")
    assert client.emit("hello", namespace="/class", callback=True) == "class hello"


def test_init_app_async_mode_option() -> None:
    socketio = SocketIO()
    socketio.init_app(Flask(__name__), async_mode="threading")
    assert socketio.async_mode == "threading"
    assert socketio.server is not None and socketio.server.async_mode == "threading"


def test_invalid_async_mode_raises_value_error() -> None:
    with pytest.raises(ValueError):
        SocketIO(Flask(__name__), async_mode="no-such-mode")


def test_server_attributes() -> None:
    app, socketio = make_app(ping_interval=12, allow_upgrades=False, cookie="io")
    client = socketio.test_client(app)
    server = socketio.server
    assert server is not None
    assert socketio.server_options["ping_interval"] == 12
    assert server.eio.allow_upgrades is False
    assert server.eio.cookie == "io"
    # server.environ: the WSGI environ of every connection, by Engine.IO sid.
    assert client.eio_sid in server.environ
    assert server.environ[client.eio_sid]["flask.app"] is app
    # server.manager: rooms and participants.
    participants = list(server.manager.get_participants("/", None))
    assert len(participants) == 1 and participants[0][1] == client.eio_sid
    assert server.manager.sid_from_eio_sid(client.eio_sid, "/") == participants[0][0]


def test_reason_values() -> None:
    reason = SocketIO.reason
    assert reason.SERVER_DISCONNECT == "server disconnect"
    assert reason.CLIENT_DISCONNECT == "client disconnect"
    assert reason.PING_TIMEOUT == "ping timeout"
    assert reason.TRANSPORT_CLOSE == "transport close"
    assert reason.TRANSPORT_ERROR == "transport error"


# -- connecting ------------------------------------------------------------------------------------


def test_connect_with_auth_query_string_and_headers() -> None:
    app, socketio = make_app()
    seen: dict[str, Any] = {}

    @socketio.on("connect")
    def on_connect(auth: Any) -> None:
        seen.update(
            auth=auth, foo=request.args.get("foo"), header=request.headers.get("X-Test"),
            sid=request.sid, namespace=request.namespace,  # type: ignore[attr-defined]
        )
        emit("welcome", {"auth": auth})

    add_sid_handler(socketio)
    client = socketio.test_client(app, auth={"token": "abc"}, query_string="?foo=bar",
                                  headers={"X-Test": "yes"})
    assert client.is_connected()
    assert seen["auth"] == {"token": "abc"}
    assert seen["foo"] == "bar"
    assert seen["header"] == "yes"
    assert seen["namespace"] == "/"
    assert seen["sid"] == client.emit("sid", callback=True)
    assert client.get_received() == [{"name": "welcome", "args": [{"auth": {"token": "abc"}}], "namespace": "/"}]
    # get_received() clears the queue.
    assert client.get_received() == []


def test_query_string_without_question_mark() -> None:
    app, socketio = make_app()

    @socketio.on("q")
    def q() -> Any:
        return request.args.to_dict()

    client = socketio.test_client(app, query_string="a=1&b=2")
    assert client.emit("q", callback=True) == {"a": "1", "b": "2"}


def test_connect_handler_without_auth_argument_and_auth_none() -> None:
    app, socketio = make_app()
    calls: list[Any] = []

    @socketio.on("connect")
    def no_arg() -> None:
        calls.append("no-arg")

    @socketio.on("connect", namespace="/auth")
    def with_auth(auth: Any) -> None:
        calls.append(auth)

    client = socketio.test_client(app, auth={"ignored": True})
    client.connect("/auth")
    assert calls == ["no-arg", None]


def test_connect_refused_by_returning_false() -> None:
    app, socketio = make_app()

    @socketio.on("connect")
    def on_connect(auth: Any) -> bool:
        return bool(auth and auth.get("ok"))

    refused = socketio.test_client(app, auth={"ok": False})
    assert not refused.is_connected()
    accepted = socketio.test_client(app, auth={"ok": True})
    assert accepted.is_connected()
    with pytest.raises(RuntimeError):
        refused.emit("anything")


def test_connect_refused_with_connection_refused_error() -> None:
    app, socketio = make_app()
    disconnects: list[Any] = []

    @socketio.on("connect")
    def on_connect() -> None:
        raise ConnectionRefusedError("unauthorized!", {"code": 401})

    @socketio.on("disconnect")
    def on_disconnect() -> None:
        disconnects.append(request.sid)  # type: ignore[attr-defined]

    client = socketio.test_client(app)
    assert not client.is_connected()
    # A refused client was never connected: no disconnect handler call.
    assert disconnects == []
    exc = ConnectionRefusedError("unauthorized!", {"code": 401})
    assert exc.args == ("unauthorized!", {"code": 401})
    assert isinstance(exc, ConnectionRefusedError)


def test_connect_refused_in_one_namespace_only() -> None:
    app, socketio = make_app()

    @socketio.on("connect", namespace="/private")
    def private() -> bool:
        return False

    client = socketio.test_client(app)
    client.connect("/private")
    assert client.is_connected("/")
    assert not client.is_connected("/private")


def test_unknown_namespace_is_refused_unless_namespaces_star() -> None:
    app, socketio = make_app()
    client = socketio.test_client(app)
    client.connect("/nowhere")
    assert not client.is_connected("/nowhere")

    app2, socketio2 = make_app(namespaces="*")
    client2 = socketio2.test_client(app2, namespace="/anywhere")
    assert client2.is_connected("/anywhere")


def test_disconnect_handler_with_and_without_reason() -> None:
    app, socketio = make_app()
    seen: list[Any] = []

    @socketio.on("disconnect")
    def with_reason(reason: str) -> None:
        seen.append(("/", reason, request.sid))  # type: ignore[attr-defined]

    @socketio.on("disconnect", namespace="/legacy")
    def legacy() -> None:
        seen.append(("/legacy", request.namespace))  # type: ignore[attr-defined]

    add_sid_handler(socketio)
    client = socketio.test_client(app)
    client.connect("/legacy")
    sid = client.emit("sid", callback=True)
    client.disconnect("/legacy")
    assert not client.is_connected("/legacy")
    assert client.is_connected("/")
    client.disconnect()
    assert not client.is_connected()
    assert seen == [("/legacy", "/legacy"), ("/", SocketIO.reason.CLIENT_DISCONNECT, sid)]
    with pytest.raises(RuntimeError):
        client.disconnect()


def test_server_side_disconnect() -> None:
    app, socketio = make_app()
    reasons: list[str] = []

    @socketio.on("kick_me")
    def kick_me() -> None:
        disconnect()

    @socketio.on("disconnect")
    def on_disconnect(reason: str) -> None:
        reasons.append(reason)

    client = socketio.test_client(app)
    client.emit("kick_me")
    assert not client.is_connected()
    assert reasons == [SocketIO.reason.SERVER_DISCONNECT]


def test_disconnect_silent_is_accepted() -> None:
    app, socketio = make_app()

    @socketio.on("leave_quietly")
    def leave_quietly() -> None:
        disconnect(silent=True)

    client = socketio.test_client(app)
    client.emit("leave_quietly")
    assert not client.is_connected()


# -- emitting and sending -------------------------------------------------------------------------


def test_emit_and_send_from_handlers() -> None:
    app, socketio = make_app()

    @socketio.on("message")
    def on_message(message: Any) -> None:
        send(message)

    @socketio.on("json")
    def on_json(data: Any) -> None:
        send(data, json=True)

    @socketio.on("multi")
    def on_multi(*args: Any) -> None:
        emit("multi_back", *args)
        emit("tuple_back", args)
        emit("list_back", list(args))
        emit("no_args")

    client = socketio.test_client(app)
    client.send("hello")
    client.send({"a": [1, 2]}, json=True)
    client.emit("multi", 1, "two", {"three": 3})
    assert client.get_received() == [
        {"name": "message", "args": "hello", "namespace": "/"},
        {"name": "json", "args": {"a": [1, 2]}, "namespace": "/"},
        {"name": "multi_back", "args": [1, "two", {"three": 3}], "namespace": "/"},
        {"name": "tuple_back", "args": [1, "two", {"three": 3}], "namespace": "/"},
        {"name": "list_back", "args": [[1, "two", {"three": 3}]], "namespace": "/"},
        {"name": "no_args", "args": [], "namespace": "/"},
    ]


def test_binary_data_round_trip() -> None:
    app, socketio = make_app()

    @socketio.on("bin")
    def on_bin(data: bytes) -> Any:
        emit("bin_back", {"payload": data + b"!", "size": len(data)})
        return data[::-1]

    client = socketio.test_client(app)
    assert client.emit("bin", b"\x00\x01\x02", callback=True) == b"\x02\x01\x00"
    assert client.get_received() == [
        {"name": "bin_back", "args": [{"payload": b"\x00\x01\x02!", "size": 3}], "namespace": "/"}
    ]


def test_callback_returns_the_ack() -> None:
    app, socketio = make_app()

    @socketio.on("one")
    def one() -> Any:
        return {"value": 1}

    @socketio.on("several")
    def several() -> Any:
        return "one", 2

    @socketio.on("none")
    def none() -> None:
        return None

    @socketio.on("message")
    def message(data: Any) -> Any:
        return "got " + data

    @socketio.on("json")
    def json_handler(data: Any) -> Any:
        return data["n"] + 1

    client = socketio.test_client(app)
    assert client.emit("one", callback=True) == {"value": 1}
    assert client.emit("several", callback=True) == ["one", 2]
    assert client.emit("none", callback=True) == []
    assert client.emit("one") is None  # no callback asked: nothing returned
    assert client.send("hi", callback=True) == "got hi"
    assert client.send({"n": 41}, json=True, callback=True) == 42


def test_request_sid_namespace_and_event() -> None:
    app, socketio = make_app()
    seen: list[Any] = []

    @socketio.on("inspect", namespace="/ns")
    def inspect(*args: Any) -> None:
        seen.append((request.sid, request.namespace, request.event))  # type: ignore[attr-defined]

    add_sid_handler(socketio, "/ns")
    client = socketio.test_client(app, namespace="/ns")
    sid = client.emit("sid", namespace="/ns", callback=True)
    client.emit("inspect", 1, {"two": 2}, namespace="/ns")
    assert seen == [(sid, "/ns", {"message": "inspect", "args": (1, {"two": 2})})]


def test_handlers_run_in_app_and_request_context() -> None:
    app, socketio = make_app()
    app.config["GREETING"] = "hi"

    @socketio.on("ctx")
    def ctx() -> Any:
        from flask import current_app

        g.value = "set"
        return [current_app.config["GREETING"], request.path, g.value]

    @socketio.on("g_again")
    def g_again() -> Any:
        return getattr(g, "value", None)  # g is per event, not per connection

    client = socketio.test_client(app)
    assert client.emit("ctx", callback=True) == ["hi", "/socket.io", "set"]
    assert client.emit("g_again", callback=True) == []


def test_namespaces_are_independent() -> None:
    app, socketio = make_app()

    @socketio.on("echo")
    def echo_root(data: Any) -> None:
        emit("echo", ["root", data])

    @socketio.on("echo", namespace="/chat")
    def echo_chat(data: Any) -> None:
        emit("echo", ["chat", data])
        emit("cross", "to root", namespace="/")

    client = socketio.test_client(app, namespace="/chat")
    assert client.is_connected("/chat")
    assert not client.is_connected("/")
    client.connect()
    assert client.is_connected("/")
    client.emit("echo", 1, namespace="/chat")
    client.emit("echo", 2)
    assert client.get_received("/chat") == [{"name": "echo", "args": [["chat", 1]], "namespace": "/chat"}]
    assert client.get_received("/") == [
        {"name": "cross", "args": ["to root"], "namespace": "/"},
        {"name": "echo", "args": [["root", 2]], "namespace": "/"},
    ]


def test_catch_all_event() -> None:
    app, socketio = make_app()
    seen: list[Any] = []

    @socketio.on("*")
    def catch_all(event: str, *args: Any) -> Any:
        seen.append((event, args, request.namespace))  # type: ignore[attr-defined]
        return f"caught {event}"

    @socketio.on("known")
    def known() -> str:
        return "known"

    client = socketio.test_client(app)
    assert client.emit("known", callback=True) == "known"
    assert client.emit("whatever", 1, 2, callback=True) == "caught whatever"
    assert seen == [("whatever", (1, 2), "/")]


def test_catch_all_namespace() -> None:
    app, socketio = make_app(namespaces="*")
    seen: list[Any] = []

    @socketio.on("connect", namespace="*")
    def any_connect(auth: Any) -> None:
        seen.append(("connect", request.namespace, auth))  # type: ignore[attr-defined]

    @socketio.on("hello", namespace="*")
    def any_hello(data: Any) -> Any:
        seen.append(("hello", request.namespace, data))  # type: ignore[attr-defined]
        emit("hello_back", data)
        return request.namespace  # type: ignore[attr-defined]

    @socketio.on("*", namespace="*")
    def anything(event: str, data: Any) -> Any:
        seen.append(("*", request.namespace, event, data))  # type: ignore[attr-defined]
        return event

    client = socketio.test_client(app, namespace="/one", auth={"k": 1})
    assert client.is_connected("/one")
    assert client.emit("hello", "x", namespace="/one", callback=True) == "/one"
    assert client.emit("other", "y", namespace="/one", callback=True) == "other"
    assert client.get_received("/one") == [{"name": "hello_back", "args": ["x"], "namespace": "/one"}]
    assert seen == [("connect", "/one", {"k": 1}), ("hello", "/one", "x"), ("*", "/one", "other", "y")]


def test_event_decorator_and_on_event() -> None:
    app, socketio = make_app()

    @socketio.event
    def plain(data: Any) -> Any:
        return ["plain", data]

    @socketio.event(namespace="/ns")
    def in_ns(data: Any) -> Any:
        return ["in_ns", data]

    def handler(data: Any) -> Any:
        return ["on_event", data, request.namespace]  # type: ignore[attr-defined]

    socketio.on_event("via on_event", handler)
    socketio.on_event("via on_event", handler, namespace="/ns")

    client = socketio.test_client(app)
    client.connect("/ns")
    assert client.emit("plain", 1, callback=True) == ["plain", 1]
    assert client.emit("in_ns", 2, namespace="/ns", callback=True) == ["in_ns", 2]
    assert client.emit("via on_event", 3, callback=True) == ["on_event", 3, "/"]
    assert client.emit("via on_event", 4, namespace="/ns", callback=True) == ["on_event", 4, "/ns"]


def test_decorator_returns_the_original_function() -> None:
    _app, socketio = make_app()

    def handler() -> str:
        return "same"

    assert socketio.on("x")(handler) is handler
    assert socketio.on_error()(handler) is handler
    assert socketio.on_error_default(handler) is handler


def test_emitted_data_is_copied_at_emit_time() -> None:
    app, socketio = make_app()

    @socketio.on("mutate")
    def mutate() -> None:
        data = {"items": [1]}
        emit("snapshot", data)
        data["items"].append(2)

    client = socketio.test_client(app)
    client.emit("mutate")
    assert client.get_received() == [{"name": "snapshot", "args": [{"items": [1]}], "namespace": "/"}]


def test_unserialisable_data_raises_type_error() -> None:
    app, socketio = make_app()

    @socketio.on("ping")
    def ping() -> str:
        return "pong"

    @socketio.on("emit_bad")
    def emit_bad() -> None:
        emit("bad", {"set": {1, 2}})

    client = socketio.test_client(app)
    with pytest.raises(TypeError):
        client.emit("ping", object())
    with pytest.raises(TypeError):
        client.emit("emit_bad")  # raised in the handler, surfaced in the test
    with pytest.raises(TypeError):
        client.send(object(), json=True)
    with pytest.raises(TypeError):
        socketio.emit("broadcast", {"bad": object()})
    # The client is still usable.
    assert client.emit("ping", callback=True) == "pong"


def test_emit_when_not_connected_raises() -> None:
    app, socketio = make_app()
    client = socketio.test_client(app)
    client.disconnect()
    with pytest.raises(RuntimeError):
        client.emit("x")
    with pytest.raises(RuntimeError):
        client.send("x")


# -- error handlers ----------------------------------------------------------------------------


def test_error_handlers_per_namespace_and_default() -> None:
    app, socketio = make_app()
    seen: list[Any] = []

    @socketio.on("fail")
    def fail_root(value: Any) -> None:
        raise ValueError(f"root {value}")

    @socketio.on("fail", namespace="/chat")
    def fail_chat(value: Any) -> None:
        raise KeyError(value)

    @socketio.on("fail", namespace="/other")
    def fail_other(value: Any) -> None:
        raise RuntimeError(f"other {value}")

    @socketio.on_error()
    def on_root_error(e: Exception) -> Any:
        seen.append(("root", type(e).__name__, request.event))  # type: ignore[attr-defined]
        return {"handled": "root", "error": str(e)}

    @socketio.on_error("/chat")
    def on_chat_error(e: Exception) -> Any:
        seen.append(("chat", type(e).__name__, request.namespace))  # type: ignore[attr-defined]
        return "chat", "handled"

    @socketio.on_error_default
    def on_default_error(e: Exception) -> Any:
        seen.append(("default", type(e).__name__, request.sid is not None))  # type: ignore[attr-defined]
        return "default handled"

    client = socketio.test_client(app)
    client.connect("/chat")
    client.connect("/other")
    assert client.emit("fail", 1, callback=True) == {"handled": "root", "error": "root 1"}
    assert client.emit("fail", 2, namespace="/chat", callback=True) == ["chat", "handled"]
    assert client.emit("fail", 3, namespace="/other", callback=True) == "default handled"
    assert seen == [
        ("root", "ValueError", {"message": "fail", "args": (1,)}),
        ("chat", "KeyError", "/chat"),
        ("default", "RuntimeError", True),
    ]


def test_error_handler_can_emit_and_event_without_callback() -> None:
    app, socketio = make_app()

    @socketio.on("fail")
    def fail() -> None:
        raise ZeroDivisionError("nope")

    @socketio.on_error_default
    def on_error(e: Exception) -> None:
        emit("error_report", str(e))

    client = socketio.test_client(app)
    client.emit("fail")
    assert client.get_received() == [{"name": "error_report", "args": ["nope"], "namespace": "/"}]
    # The client stays connected after a handler error.
    assert client.is_connected()


def test_error_handler_must_be_callable() -> None:
    _app, socketio = make_app()
    with pytest.raises(ValueError):
        socketio.on_error()("not callable")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        socketio.on_error_default("not callable")  # type: ignore[arg-type]


def test_connection_refused_error_is_not_sent_to_error_handlers() -> None:
    app, socketio = make_app()
    handled: list[Any] = []

    @socketio.on("connect")
    def on_connect() -> None:
        raise ConnectionRefusedError("go away")

    @socketio.on_error_default
    def on_error(e: Exception) -> None:
        handled.append(e)

    client = socketio.test_client(app)
    assert not client.is_connected()
    assert handled == []


# -- class-based namespaces ----------------------------------------------------------------------


class ChatNamespace(Namespace):
    def __init__(self, namespace: str, log: list[Any]) -> None:
        super().__init__(namespace)
        self.log = log

    def on_connect(self, auth: Any = None) -> None:
        self.log.append(("connect", request.sid, request.namespace, auth))  # type: ignore[attr-defined]
        emit("welcome", request.namespace)  # type: ignore[attr-defined]

    def on_disconnect(self, reason: str) -> None:
        self.log.append(("disconnect", reason))

    def on_my_event(self, data: Any) -> Any:
        emit("my_response", data)
        return "acked", data

    def on_bound(self, room: str) -> None:
        join_room(room)
        self.emit("bound_emit", {"room": room}, room=room)
        self.send("bound send", room=request.sid)  # type: ignore[attr-defined]
        self.send({"as": "json"}, room=request.sid, json=True)  # type: ignore[attr-defined]

    def on_close(self, room: str) -> None:
        self.close_room(room)

    def on_who(self) -> Any:
        return rooms()

    def on_session_set(self, value: Any) -> None:
        session["value"] = value

    def on_session_get(self) -> Any:
        return session.get("value")


def test_class_based_namespace() -> None:
    app, socketio = make_app()
    log: list[Any] = []
    socketio.on_namespace(ChatNamespace("/chat", log))
    client = socketio.test_client(app, namespace="/chat", auth={"user": "u"})
    other = socketio.test_client(app, namespace="/chat")
    assert client.is_connected("/chat")
    assert log[0][0] == "connect" and log[0][2:] == ("/chat", {"user": "u"})
    sid = log[0][1]
    assert client.get_received("/chat") == [{"name": "welcome", "args": ["/chat"], "namespace": "/chat"}]
    other.get_received("/chat")

    assert client.emit("my_event", {"x": 1}, namespace="/chat", callback=True) == ["acked", {"x": 1}]
    assert client.get_received("/chat") == [{"name": "my_response", "args": [{"x": 1}], "namespace": "/chat"}]

    # Bound emit/send/close_room default to the namespace.
    client.emit("bound", "room1", namespace="/chat")
    other.emit("bound", "room1", namespace="/chat")
    got = client.get_received("/chat")
    assert got == [
        {"name": "bound_emit", "args": [{"room": "room1"}], "namespace": "/chat"},
        {"name": "message", "args": "bound send", "namespace": "/chat"},
        {"name": "json", "args": {"as": "json"}, "namespace": "/chat"},
        {"name": "bound_emit", "args": [{"room": "room1"}], "namespace": "/chat"},
    ]
    assert sorted(client.emit("who", namespace="/chat", callback=True)) == sorted([sid, "room1"])
    client.emit("close", "room1", namespace="/chat")
    assert client.emit("who", namespace="/chat", callback=True) == [sid]
    other.get_received("/chat")

    # Events without a method are ignored.
    client.emit("no_such_method", namespace="/chat")
    assert client.get_received("/chat") == []
    assert client.is_connected("/chat")

    # The managed session works in class-based namespaces too.
    client.emit("session_set", 99, namespace="/chat")
    assert client.emit("session_get", namespace="/chat", callback=True) == 99
    assert other.emit("session_get", namespace="/chat", callback=True) == []

    client.disconnect("/chat")
    assert log[-1] == ("disconnect", SocketIO.reason.CLIENT_DISCONNECT)


def test_decorator_handler_wins_over_class_method() -> None:
    app, socketio = make_app()
    log: list[Any] = []
    socketio.on_namespace(ChatNamespace("/chat", log))

    @socketio.on("my_event", namespace="/chat")
    def decorated(data: Any) -> str:
        return "decorated"

    client = socketio.test_client(app, namespace="/chat")
    assert client.emit("my_event", 1, namespace="/chat", callback=True) == "decorated"


def test_class_namespace_legacy_disconnect_without_reason() -> None:
    app, socketio = make_app()
    log: list[Any] = []

    class Legacy(Namespace):
        def on_disconnect(self) -> None:
            log.append(("disconnect", request.namespace))  # type: ignore[attr-defined]

    socketio.on_namespace(Legacy("/legacy"))
    client = socketio.test_client(app, namespace="/legacy")
    client.disconnect("/legacy")
    assert log == [("disconnect", "/legacy")]


def test_class_namespace_error_hook() -> None:
    """Flask-SocketIO 5.7: an ``error(self, exc)`` method gets the exceptions of ``on_*``
    methods, and its return value becomes the ACK."""
    app, socketio = make_app()
    errors: list[Any] = []

    class WithErrorHook(Namespace):
        def on_connect(self) -> None:
            pass

        def on_disconnect(self) -> None:  # legacy form, no reason
            errors.append("disconnect called")

        def on_fail(self, value: Any) -> None:
            raise ValueError(f"bad {value}")

        def on_ok(self) -> str:
            return "ok"

        def error(self, exc: Exception) -> Any:
            errors.append((type(exc).__name__, str(exc), request.event))  # type: ignore[attr-defined]
            return {"error": str(exc)}

    socketio.on_namespace(WithErrorHook("/hook"))
    client = socketio.test_client(app, namespace="/hook")
    assert client.emit("fail", 7, namespace="/hook", callback=True) == {"error": "bad 7"}
    assert client.emit("ok", namespace="/hook", callback=True) == "ok"
    client.disconnect("/hook")
    assert errors == [("ValueError", "bad 7", {"message": "fail", "args": (7,)}), "disconnect called"]


def test_class_namespace_without_error_hook_uses_socketio_error_handlers() -> None:
    app, socketio = make_app()

    class Failing(Namespace):
        def on_fail(self) -> None:
            raise KeyError("k")

    socketio.on_namespace(Failing("/f"))

    @socketio.on_error("/f")
    def on_f_error(e: Exception) -> str:
        return "namespace error handler: " + type(e).__name__

    client = socketio.test_client(app, namespace="/f")
    assert client.emit("fail", namespace="/f", callback=True) == "namespace error handler: KeyError"


def test_on_namespace_rejects_non_namespaces() -> None:
    _app, socketio = make_app()
    with pytest.raises(ValueError, match="Not a namespace instance."):
        socketio.on_namespace(object())


# -- rooms and broadcasting ----------------------------------------------------------------------


def make_room_app() -> tuple[Flask, SocketIO]:
    app, socketio = make_app()
    add_sid_handler(socketio)

    @socketio.on("join")
    def on_join(room: str) -> Any:
        join_room(room)
        return rooms()

    @socketio.on("leave")
    def on_leave(room: str) -> Any:
        leave_room(room)
        return rooms()

    @socketio.on("close")
    def on_close(room: str) -> None:
        close_room(room)

    @socketio.on("rooms_of")
    def rooms_of(sid: str) -> Any:
        return rooms(sid=sid)

    @socketio.on("join_other")
    def join_other(sid: str, room: str) -> None:
        join_room(room, sid=sid)

    @socketio.on("to")
    def to(target: Any, data: Any) -> None:
        emit("msg", data, to=target)

    @socketio.on("room_kw")
    def room_kw(target: Any, data: Any) -> None:
        send(data, room=target)

    @socketio.on("broadcast")
    def broadcast(data: Any, include_self: bool) -> None:
        emit("msg", data, broadcast=True, include_self=include_self)

    @socketio.on("room_not_me")
    def room_not_me(room: str, data: Any) -> None:
        emit("msg", data, to=room, include_self=False)

    @socketio.on("skip")
    def skip(sids: Any, data: Any) -> None:
        emit("msg", data, broadcast=True, skip_sid=sids)

    return app, socketio


def msgs(client: SocketIOTestClient) -> list[Any]:
    return [item["args"] for item in client.get_received()]


def test_rooms_join_leave_and_own_sid() -> None:
    app, socketio = make_room_app()
    a = socketio.test_client(app)
    b = socketio.test_client(app)
    sid_a = a.emit("sid", callback=True)
    sid_b = b.emit("sid", callback=True)
    assert sid_a != sid_b
    assert sorted(a.emit("join", "red", callback=True)) == sorted([sid_a, "red"])
    assert sorted(a.emit("join", "blue", callback=True)) == sorted([sid_a, "red", "blue"])
    assert sorted(a.emit("leave", "blue", callback=True)) == sorted([sid_a, "red"])
    assert b.emit("rooms_of", sid_a, callback=True) == a.emit("rooms_of", sid_a, callback=True)
    # Joining another client into a room.
    a.emit("join_other", sid_b, "red")
    assert sorted(b.emit("rooms_of", sid_b, callback=True)) == sorted([sid_b, "red"])


def test_emit_to_room_personal_room_and_room_kwarg() -> None:
    app, socketio = make_room_app()
    a, b, c = (socketio.test_client(app) for _ in range(3))
    sid_c = c.emit("sid", callback=True)
    a.emit("join", "red")
    b.emit("join", "red")
    c.emit("to", "red", "to red")
    assert msgs(a) == [["to red"]] and msgs(b) == [["to red"]] and msgs(c) == []
    a.emit("to", sid_c, "to c only")
    assert msgs(a) == [] and msgs(b) == [] and msgs(c) == [["to c only"]]
    c.emit("room_kw", "red", "send to red")
    assert msgs(a) == ["send to red"] and msgs(b) == ["send to red"] and msgs(c) == []


def test_emit_to_list_of_rooms_reaches_each_client_once() -> None:
    app, socketio = make_room_app()
    a, b, c = (socketio.test_client(app) for _ in range(3))
    a.emit("join", "red")
    a.emit("join", "blue")
    b.emit("join", "blue")
    c.emit("join", "green")
    c.emit("to", ["red", "blue"], "red+blue")
    assert msgs(a) == [["red+blue"]]
    assert msgs(b) == [["red+blue"]]
    assert msgs(c) == []


def test_broadcast_include_self_and_skip_sid() -> None:
    app, socketio = make_room_app()
    a, b, c = (socketio.test_client(app) for _ in range(3))
    sid_b = b.emit("sid", callback=True)
    sid_c = c.emit("sid", callback=True)
    a.emit("broadcast", "all", True)
    assert msgs(a) == [["all"]] and msgs(b) == [["all"]] and msgs(c) == [["all"]]
    a.emit("broadcast", "not me", False)
    assert msgs(a) == [] and msgs(b) == [["not me"]] and msgs(c) == [["not me"]]
    a.emit("skip", sid_b, "skip b")
    assert msgs(a) == [["skip b"]] and msgs(b) == [] and msgs(c) == [["skip b"]]
    a.emit("skip", [sid_b, sid_c], "skip b and c")
    assert msgs(a) == [["skip b and c"]] and msgs(b) == [] and msgs(c) == []
    b.emit("join", "red")
    c.emit("join", "red")
    b.emit("room_not_me", "red", "red, not b")
    assert msgs(a) == [] and msgs(b) == [] and msgs(c) == [["red, not b"]]


def test_broadcast_stays_in_its_namespace() -> None:
    app, socketio = make_room_app()

    @socketio.on("connect", namespace="/other")
    def other_connect() -> None:
        pass

    a = socketio.test_client(app)
    b = socketio.test_client(app, namespace="/other")
    a.emit("broadcast", "root only", True)
    assert msgs(a) == [["root only"]]
    assert b.get_received("/other") == []


def test_close_room() -> None:
    app, socketio = make_room_app()
    a, b = socketio.test_client(app), socketio.test_client(app)
    sid_a = a.emit("sid", callback=True)
    a.emit("join", "red")
    b.emit("join", "red")
    b.emit("close", "red")
    assert a.emit("rooms_of", sid_a, callback=True) == [sid_a]
    b.emit("to", "red", "nobody")
    assert msgs(a) == [] and msgs(b) == []
    # SocketIO.close_room, outside any handler.
    a.emit("join", "blue")
    socketio.close_room("blue")
    socketio.emit("msg", "to blue", to="blue")
    assert msgs(a) == []


# -- socketio.emit / send outside handlers ---------------------------------------------------------


def test_socketio_emit_and_send_outside_handler_context() -> None:
    app, socketio = make_room_app()

    @socketio.on("connect", namespace="/ns")
    def ns_connect() -> None:
        pass

    a, b = socketio.test_client(app), socketio.test_client(app)
    a.connect("/ns")
    sid_b = b.emit("sid", callback=True)
    a.emit("join", "red")
    socketio.emit("news", {"all": True})
    assert a.get_received() == [{"name": "news", "args": [{"all": True}], "namespace": "/"}]
    assert b.get_received() == [{"name": "news", "args": [{"all": True}], "namespace": "/"}]
    socketio.emit("news", "red only", to="red")
    socketio.emit("news", "b only", room=sid_b)
    socketio.emit("news", "ns only", namespace="/ns")
    socketio.emit("news", 1, 2, to="red")
    socketio.send("plain message")
    socketio.send({"j": 1}, json=True, to=sid_b)
    assert a.get_received() == [
        {"name": "news", "args": ["red only"], "namespace": "/"},
        {"name": "news", "args": [1, 2], "namespace": "/"},
        {"name": "message", "args": "plain message", "namespace": "/"},
    ]
    assert b.get_received() == [
        {"name": "news", "args": ["b only"], "namespace": "/"},
        {"name": "message", "args": "plain message", "namespace": "/"},
        {"name": "json", "args": {"j": 1}, "namespace": "/"},
    ]
    assert a.get_received("/ns") == [{"name": "news", "args": ["ns only"], "namespace": "/ns"}]


def test_emit_from_background_task() -> None:
    app, socketio = make_app()
    client = socketio.test_client(app)

    def worker(count: int) -> None:
        for i in range(count):
            socketio.sleep(0)
            socketio.emit("tick", i)

    task = socketio.start_background_task(worker, 3)
    task.join()
    assert client.get_received() == [{"name": "tick", "args": [i], "namespace": "/"} for i in range(3)]


def test_background_task_with_app_context() -> None:
    app, socketio = make_app()
    app.config["ANSWER"] = 42
    client = socketio.test_client(app)

    def worker() -> None:
        from flask import current_app

        with app.app_context():
            socketio.emit("answer", current_app.config["ANSWER"])

    socketio.start_background_task(worker).join()
    assert client.get_received() == [{"name": "answer", "args": [42], "namespace": "/"}]


def test_call_needs_async_handlers() -> None:
    app, socketio = make_app()

    @socketio.on("sid")
    def sid() -> Any:
        return request.sid  # type: ignore[attr-defined]

    client = socketio.test_client(app)
    target = client.emit("sid", callback=True)
    with pytest.raises(RuntimeError):
        socketio.call("question", to=target, timeout=1)


# -- sessions --------------------------------------------------------------------------------------


def session_app(**options: Any) -> tuple[Flask, SocketIO]:
    app, socketio = make_app(**options)

    @app.route("/login/<user>")
    def login(user: str) -> str:
        session["user"] = user
        return "ok"

    @app.route("/whoami")
    def whoami() -> Any:
        return {"user": session.get("user"), "socket_value": session.get("socket_value")}

    @socketio.on("set")
    def set_value(value: Any) -> None:
        session["socket_value"] = value

    @socketio.on("get")
    def get_value() -> Any:
        return {"user": session.get("user"), "socket_value": session.get("socket_value")}

    return app, socketio


def test_managed_session_persists_per_connection_only() -> None:
    app, socketio = session_app()
    assert socketio.manage_session is True
    a, b = socketio.test_client(app), socketio.test_client(app)
    a.emit("set", "a's value")
    assert a.emit("get", callback=True) == {"user": None, "socket_value": "a's value"}
    assert b.emit("get", callback=True) == {"user": None, "socket_value": None}
    # Per connection: a new connection starts again from the HTTP session.
    a.disconnect()
    a2 = socketio.test_client(app)
    assert a2.emit("get", callback=True) == {"user": None, "socket_value": None}


def test_flask_test_client_cookies_reach_the_socket_session() -> None:
    app, socketio = session_app()
    http = app.test_client()
    assert http.get("/login/alice").status_code == 200
    client = socketio.test_client(app, flask_test_client=http)
    assert client.emit("get", callback=True) == {"user": "alice", "socket_value": None}
    client.emit("set", 5)
    assert client.emit("get", callback=True) == {"user": "alice", "socket_value": 5}
    # Managed session: socket changes never reach the HTTP session.
    assert http.get("/whoami").get_json() == {"user": "alice", "socket_value": None}
    # A client without the cookies sees an empty session.
    anonymous = socketio.test_client(app)
    assert anonymous.emit("get", callback=True) == {"user": None, "socket_value": None}


def test_managed_session_is_forked_at_connect() -> None:
    """HTTP changes after the Socket.IO connection was made are not seen by it."""
    app, socketio = session_app()
    http = app.test_client()
    http.get("/login/alice")
    client = socketio.test_client(app, flask_test_client=http)
    http.get("/login/bob")
    assert client.emit("get", callback=True)["user"] == "alice"
    assert http.get("/whoami").get_json()["user"] == "bob"


class _ServerSideSession(dict, SessionMixin):  # type: ignore[type-arg]
    def __init__(self, sid: str, data: dict[str, Any] | None = None) -> None:
        super().__init__(data or {})
        self.sid = sid
        self.modified = False

    def __setitem__(self, key: str, value: Any) -> None:
        self.modified = True
        super().__setitem__(key, value)


class _ServerSideSessions(SessionInterface):
    """A minimal server-side session store (as Flask-Session would be): the cookie carries
    only an id."""

    def __init__(self) -> None:
        self.store: dict[str, dict[str, Any]] = {}
        self.counter = 0

    def open_session(self, app: Flask, request: Any) -> _ServerSideSession:
        sid = request.cookies.get("ssid")
        if sid is None or sid not in self.store:
            self.counter += 1
            sid = f"s{self.counter}"
        return _ServerSideSession(sid, self.store.get(sid))

    def save_session(self, app: Flask, session: Any, response: Any) -> None:
        self.store[session.sid] = dict(session)
        response.set_cookie("ssid", session.sid)


def test_unmanaged_session_is_shared_with_http_on_server_side_sessions() -> None:
    app, socketio = session_app(manage_session=False)
    assert socketio.manage_session is False
    app.session_interface = _ServerSideSessions()
    http = app.test_client()
    http.get("/login/alice")
    client = socketio.test_client(app, flask_test_client=http)
    assert client.emit("get", callback=True) == {"user": "alice", "socket_value": None}
    client.emit("set", "from socket")
    # The Socket.IO handler wrote the shared store: HTTP sees it, and so does the next event.
    assert http.get("/whoami").get_json() == {"user": "alice", "socket_value": "from socket"}
    assert client.emit("get", callback=True) == {"user": "alice", "socket_value": "from socket"}
    http.get("/login/bob")
    assert client.emit("get", callback=True)["user"] == "bob"


def test_unmanaged_cookie_session_never_reaches_http() -> None:
    app, socketio = session_app(manage_session=False)
    http = app.test_client()
    http.get("/login/alice")
    client = socketio.test_client(app, flask_test_client=http)
    assert client.emit("get", callback=True)["user"] == "alice"
    client.emit("set", 1)
    assert http.get("/whoami").get_json() == {"user": "alice", "socket_value": None}


# -- message queue, logging ---------------------------------------------------------------------


def test_test_client_refuses_a_message_queue_manager() -> None:
    from socketio_core.server.manager import LocalManager

    class RemoteManager(LocalManager):
        """Stands for a pub/sub manager: its operations reach other processes."""

        is_pubsub = True

    app, socketio = make_app(client_manager=RemoteManager())
    with pytest.raises(RuntimeError, match="message queue"):
        socketio.test_client(app)


def test_test_client_refuses_message_queue_url() -> None:
    import socketio_core.server.pubsub  # noqa: F401  (a broken import fails this test, never skips it)
    app, socketio = make_app(message_queue="redis://127.0.0.1:1/0")
    with pytest.raises(RuntimeError, match="message queue"):
        socketio.test_client(app)


def test_message_queue_manager_is_write_only_without_app() -> None:
    import socketio_core.server.pubsub  # noqa: F401  (a broken import fails this test, never skips it)
    emitter = SocketIO(message_queue="redis://127.0.0.1:1/0")
    assert emitter.server is not None
    assert emitter.server_options["client_manager"].write_only is True
    app = Flask(__name__)
    server = SocketIO(app, message_queue="redis://127.0.0.1:1/0")
    assert server.server_options["client_manager"].write_only is False


@pytest.mark.usefixtures("fresh_loggers")
def test_logger_options() -> None:
    custom = logging.getLogger("tests.flask_socketio.custom")
    custom_eio = logging.getLogger("tests.flask_socketio.custom_eio")
    _app, socketio = make_app(logger=custom, engineio_logger=custom_eio)
    assert socketio.server is not None
    assert socketio.server.logger is custom
    assert socketio.server.eio.logger is custom_eio

    _app, quiet = make_app(logger=False, engineio_logger=False)
    assert quiet.server is not None
    assert not quiet.server.logger.isEnabledFor(logging.WARNING)
    assert quiet.server.logger.isEnabledFor(logging.ERROR)
    assert not quiet.server.eio.logger.isEnabledFor(logging.WARNING)

    _app, loud = make_app(logger=True, engineio_logger=True)
    assert loud.server is not None
    assert loud.server.logger.isEnabledFor(logging.INFO)
    assert loud.server.eio.logger.isEnabledFor(logging.INFO)


@pytest.mark.usefixtures("fresh_loggers")
def test_engineio_logger_true_logs_bad_requests(caplog: pytest.LogCaptureFixture) -> None:
    app, socketio = make_app(logger=True, engineio_logger=True)
    assert socketio.server is not None
    caplog.set_level(logging.INFO, logger=socketio.server.eio.logger.name)
    resp = app.test_client().get("/socket.io/?EIO=4&transport=polling&sid=no-such-session")
    assert resp.status_code == 400
    assert any("no-such-session" in record.getMessage() for record in caplog.records
               if record.name == socketio.server.eio.logger.name)


# -- the HTTP side keeps working --------------------------------------------------------------------


def test_http_routes_and_engineio_endpoint_share_the_app() -> None:
    app, socketio = make_app()

    @app.route("/")
    def index() -> str:
        return "index"

    http = app.test_client()
    assert http.get("/").get_data(as_text=True) == "index"
    resp = http.get("/socket.io/?EIO=4&transport=polling")
    assert resp.status_code == 200
    assert resp.get_data(as_text=True).startswith("0{")
    assert http.get("/missing").status_code == 404


def test_custom_path() -> None:
    app, socketio = make_app(path="/custom-sio")
    http = app.test_client()
    assert http.get("/custom-sio/?EIO=4&transport=polling").status_code == 200
    assert http.get("/socket.io/?EIO=4&transport=polling").status_code == 404


# -- more of the surface users touch ------------------------------------------------------------


def test_unhandled_handler_exception_surfaces_in_the_test() -> None:
    """As with Flask-SocketIO's test client: without an error handler, the exception of a
    handler reaches the test that emitted (instead of only being logged)."""
    app, socketio = make_app()

    @socketio.on("bad")
    def bad() -> None:
        raise ZeroDivisionError("in handler")

    @socketio.on("good")
    def good() -> str:
        return "fine"

    client = socketio.test_client(app)
    with pytest.raises(ZeroDivisionError, match="in handler"):
        client.emit("bad", callback=True)
    assert client.is_connected()
    assert client.emit("good", callback=True) == "fine"


def test_overridden_trigger_event_sees_every_event() -> None:
    app, socketio = make_app()
    seen: list[Any] = []

    class Dynamic(Namespace):
        def trigger_event(self, event: str, *args: Any) -> Any:
            seen.append(event)
            if event == "dynamic":
                return "handled by trigger_event"
            return super().trigger_event(event, *args)

        def on_static(self) -> str:
            return "static method"

    socketio.on_namespace(Dynamic("/dyn"))
    client = socketio.test_client(app, namespace="/dyn")
    assert client.is_connected("/dyn")
    assert client.emit("dynamic", namespace="/dyn", callback=True) == "handled by trigger_event"
    assert client.emit("static", namespace="/dyn", callback=True) == "static method"
    assert seen == ["connect", "dynamic", "static"]


def test_class_namespace_inherited_server_helpers() -> None:
    app, socketio = make_app()

    class Helpers(Namespace):
        def on_enter(self, room: str) -> Any:
            self.enter_room(request.sid, room)  # type: ignore[attr-defined]
            return sorted(self.rooms(request.sid))  # type: ignore[attr-defined]

        def on_exit(self, room: str) -> Any:
            self.leave_room(request.sid, room)  # type: ignore[attr-defined]
            return self.rooms(request.sid)  # type: ignore[attr-defined]

        def on_store(self, value: Any) -> None:
            with self.session(request.sid) as sess:  # type: ignore[attr-defined]
                sess["value"] = value

        def on_load(self) -> Any:
            return self.get_session(request.sid).get("value")  # type: ignore[attr-defined]

        def on_bye(self) -> None:
            self.disconnect(request.sid)  # type: ignore[attr-defined]

    socketio.on_namespace(Helpers("/h"))
    client = socketio.test_client(app, namespace="/h")
    rooms_now = client.emit("enter", "r1", namespace="/h", callback=True)
    assert "r1" in rooms_now and len(rooms_now) == 2
    assert client.emit("exit", "r1", namespace="/h", callback=True) == [r for r in rooms_now if r != "r1"]
    client.emit("store", {"k": 1}, namespace="/h")
    assert client.emit("load", namespace="/h", callback=True) == {"k": 1}
    client.emit("bye", namespace="/h")
    assert not client.is_connected("/h")


def test_disconnect_another_client() -> None:
    app, socketio = make_app()
    add_sid_handler(socketio)
    reasons: list[str] = []

    @socketio.on("kick")
    def kick(sid: str) -> None:
        disconnect(sid=sid)

    @socketio.on("disconnect")
    def on_disconnect(reason: str) -> None:
        reasons.append(reason)

    a, b = socketio.test_client(app), socketio.test_client(app)
    a.emit("kick", b.emit("sid", callback=True))
    assert a.is_connected() and not b.is_connected()
    assert reasons == [SocketIO.reason.SERVER_DISCONNECT]


def test_environ_is_dropped_when_the_client_goes() -> None:
    app, socketio = make_app()
    client = socketio.test_client(app)
    assert socketio.server is not None
    assert client.eio_sid in socketio.server.environ
    client.disconnect()
    assert client.eio_sid not in socketio.server.environ


def test_flask_json_option() -> None:
    import datetime
    import uuid

    from flask import json as flask_json

    app = Flask(__name__)
    socketio = SocketIO(app, json=flask_json)
    when = datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
    ident = uuid.UUID("12345678-1234-5678-1234-567812345678")

    @socketio.on("stamp")
    def stamp() -> Any:
        emit("stamped", {"when": when, "id": ident})
        return {"id": ident}

    client = socketio.test_client(app)
    assert client.emit("stamp", callback=True) == {"id": str(ident)}
    assert client.get_received() == [
        {"name": "stamped", "args": [{"when": "Tue, 02 Jan 2024 03:04:05 GMT", "id": str(ident)}], "namespace": "/"}
    ]
    # Outside any app context too.
    socketio.emit("outside", {"id": ident})
    assert client.get_received()[0]["args"] == [{"id": str(ident)}]


def test_connect_to_namespace_with_its_own_auth() -> None:
    app, socketio = make_app()
    seen: list[Any] = []

    @socketio.on("connect", namespace="/a")
    def connect_a(auth: Any) -> None:
        seen.append(("/a", auth))

    client = socketio.test_client(app, auth={"root": True})
    client.connect("/a", auth={"ns": "a"})
    assert client.is_connected("/a")
    assert seen == [("/a", {"ns": "a"})]


def test_rooms_inside_connect_handler_and_join_there() -> None:
    app, socketio = make_app()
    seen: list[Any] = []

    @socketio.on("connect")
    def on_connect() -> None:
        seen.append(list(rooms()))
        join_room("lobby")

    a, b = socketio.test_client(app), socketio.test_client(app)
    assert len(seen) == 2 and all(len(r) == 1 for r in seen)
    socketio.emit("lobby news", 1, to="lobby")
    assert msgs(a) == [[1]] and msgs(b) == [[1]]


def test_url_for_and_hooks_in_handlers() -> None:
    """Handlers get a full request context (url_for works), but the HTTP request hooks
    (before_request / after_request) are not run for Socket.IO events."""
    from flask import url_for

    app, socketio = make_app()
    hooks: list[str] = []

    @app.route("/page/<int:n>")
    def page(n: int) -> str:
        return str(n)

    @app.before_request
    def before() -> None:
        hooks.append("before_request")

    @app.after_request
    def after(response: Any) -> Any:
        hooks.append("after_request")
        return response

    @socketio.on("link")
    def link(n: int) -> Any:
        return [url_for("page", n=n), url_for("page", n=n, _external=True)]

    client = socketio.test_client(app)
    assert client.emit("link", 3, callback=True) == ["/page/3", "http://localhost/page/3"]
    assert client.emit("link", 4, callback=True) == ["/page/4", "http://localhost/page/4"]
    assert hooks == []
    assert app.test_client().get("/page/1").get_data(as_text=True) == "1"
    assert hooks == ["before_request", "after_request"]


def test_each_event_has_its_own_request_attributes() -> None:
    app, socketio = make_app()
    seen: list[Any] = []

    @socketio.on("connect", namespace="/b")
    def connect_b() -> None:
        pass

    @socketio.on("probe", namespace="*")
    def probe(tag: str) -> None:
        seen.append((tag, request.namespace, request.event["args"]))  # type: ignore[attr-defined]

    a = socketio.test_client(app)
    a.connect("/b")
    a.emit("probe", "first")
    a.emit("probe", "second", namespace="/b")
    a.emit("probe", "third")
    assert seen == [("first", "/", ("first",)), ("second", "/b", ("second",)), ("third", "/", ("third",))]


def test_unhandled_connect_and_disconnect_exceptions_surface() -> None:
    app, socketio = make_app()

    @socketio.on("connect", namespace="/broken")
    def broken_connect() -> None:
        raise KeyError("connect failed")

    @socketio.on("disconnect")
    def broken_disconnect() -> None:
        raise LookupError("disconnect failed")

    client = socketio.test_client(app)
    with pytest.raises(KeyError):
        client.connect("/broken")
    assert not client.is_connected("/broken")  # refused, as the server does
    with pytest.raises(LookupError):
        client.disconnect()
    assert not client.is_connected()
    assert socketio.server is not None and client.eio_sid not in socketio.server.environ


def test_teardown_functions_and_signals_run_once_per_event() -> None:
    """Each event runs in its own request context, torn down as Flask tears down a request:
    ``teardown_request`` and ``teardown_appcontext`` functions and the ``request_tearing_down``
    signal, once per event, with the handler's unhandled exception when there is one. (The
    context skips the teardown dispatch only when nothing is registered.)"""
    from flask.signals import request_tearing_down

    app = Flask(__name__)
    socketio = SocketIO(app)
    seen: list[tuple[str, Any]] = []

    @socketio.on("ok")
    def ok() -> str:
        g.mark = "set in the handler"
        return "done"

    @socketio.on("boom")
    def boom() -> None:
        raise RuntimeError("handler failed")

    @socketio.on_error_default
    def on_error(exc: Exception) -> str:
        return "handled"

    client = socketio.test_client(app)
    assert client.emit("ok", callback=True) == "done"  # nothing registered yet: the lean path

    @app.teardown_request
    def request_done(exc: BaseException | None) -> None:
        seen.append(("request", g.get("mark")))

    @app.teardown_appcontext
    def app_done(exc: BaseException | None) -> None:
        seen.append(("appcontext", None))

    def on_signal(sender: Any, exc: BaseException | None = None, **extra: Any) -> None:
        seen.append(("signal", sender.name))

    request_tearing_down.connect(on_signal, app)
    try:
        assert client.emit("ok", callback=True) == "done"
        assert seen == [("request", "set in the handler"), ("signal", app.name), ("appcontext", None)]
        seen.clear()
        assert client.emit("boom", callback=True) == "handled"
        assert [kind for kind, _ in seen] == ["request", "signal", "appcontext"]
    finally:
        request_tearing_down.disconnect(on_signal, app)
