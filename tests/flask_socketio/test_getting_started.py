"""Every code example of the getting-started guide (shared/reference/getting-started.txt),
written as the guide writes it, works.

The guide's examples print; the tests read what they printed (``capsys``). Where the text
lost a line (mostly decorators, and bodies that were only ``pass``), the obvious line is
put back and marked ``# (reconstructed)``. Examples that need a real client (the page's
JavaScript, acknowledgements the client answers, refused connections as the client sees
them) run against a real server with the official JavaScript client under node or the
python-socketio client.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from flask import Flask, request

from flask_socketio import (
    ConnectionRefusedError,
    Namespace,
    SocketIO,
    emit,
    join_room,
    leave_room,
    send,
)
from tests.conftest import run_node, serve_gevent
from tests.flask_socketio.conftest import EventLog, free_port, python_client, wait_until


class Printed:
    """What the examples printed so far (stdout is captured by pytest's ``capsys``)."""

    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self._capsys = capsys
        self._text = ""

    @property
    def text(self) -> str:
        self._text += self._capsys.readouterr().out
        return self._text

    def lines(self) -> list[str]:
        return self.text.splitlines()

    def wait_for(self, fragment: str) -> None:
        wait_until(lambda: fragment in self.text, what=f"{fragment!r} printed")


@pytest.fixture
def printed(capsys: pytest.CaptureFixture[str]) -> Printed:
    return Printed(capsys)


def new_app() -> tuple[Flask, SocketIO]:
    # The guide's first example, as written.
    app = Flask(__name__)
    app.config["SECRET_KEY"] = "secret!"
    socketio = SocketIO(app)
    return app, socketio


# -- Initialization -------------------------------------------------------------------------------


def test_initialization_and_socketio_run() -> None:
    """``socketio = SocketIO(app)`` ... ``socketio.run(app)`` starts a server that serves
    Socket.IO (gevent here); ``socketio.stop()`` ends it."""
    app = Flask(__name__)
    app.config["SECRET_KEY"] = "secret!"
    socketio = SocketIO(app)

    @app.route("/")
    def index() -> str:
        return "index page"

    port = free_port()
    errors: list[BaseException] = []

    def serve() -> None:
        try:
            # The guide: `if __name__ == '__main__': socketio.run(app)`; a free port here.
            socketio.run(app, port=port)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    wait_until(lambda: socketio.wsgi_server is not None and socketio.wsgi_server.started, what="server started")
    with python_client(url) as (client, _log):
        assert client.connected
        import requests

        assert requests.get(url + "/", timeout=5).text == "index page"
    socketio.stop()
    thread.join(10)
    assert not thread.is_alive(), "socketio.stop() did not stop socketio.run()"
    assert errors == []


def test_init_app_style() -> None:
    socketio = SocketIO()
    app = Flask(__name__)
    app.config["SECRET_KEY"] = "secret!"
    socketio.init_app(app)
    assert app.extensions["socketio"] is socketio
    assert socketio.test_client(app).is_connected()


# -- The page's JavaScript --------------------------------------------------------------------------


def test_page_snippet_connects_and_emits(printed: Printed) -> None:
    """``var socket = io(); socket.on('connect', ...emit('my event', {data: "I'm connected!"}))``
    with the official JavaScript client."""
    app, socketio = new_app()

    @socketio.on("my event")
    def handle_my_custom_event(json: Any) -> None:
        print("received json: " + str(json))
        emit("my response", json)

    with serve_gevent(app) as served:
        result = run_node("flask_getting_started.js", {"url": served.url, "responses": 1})
    assert result["ok"], result
    assert result["responses"] == [[{"data": "I'm connected!"}]]
    assert "received json: {'data': \"I'm connected!\"}" in printed.lines()


# -- Receiving Messages ---------------------------------------------------------------------------


def test_receive_unnamed_string_message(printed: Printed) -> None:
    app, socketio = new_app()

    @socketio.on("message")  # (reconstructed)
    def handle_message(data: str) -> None:
        print("received message: " + data)

    socketio.test_client(app).send("hello")
    assert printed.lines() == ["received message: hello"]


def test_receive_unnamed_json_message(printed: Printed) -> None:
    app, socketio = new_app()

    @socketio.on("json")  # (reconstructed)
    def handle_json(json: Any) -> None:
        print("received json: " + str(json))

    socketio.test_client(app).send({"a": 1}, json=True)
    assert printed.lines() == ["received json: {'a': 1}"]


def test_receive_custom_named_event(printed: Printed) -> None:
    app, socketio = new_app()

    @socketio.on("my event")
    def handle_my_custom_event(json: Any) -> None:
        print("received json: " + str(json))

    client = socketio.test_client(app)
    # "string, bytes, int, or JSON"
    for value in ("text", b"\x01\x02", 42, {"k": [1, 2]}):
        client.emit("my event", value)
    assert printed.lines() == [
        "received json: text",
        "received json: b'\\x01\\x02'",
        "received json: 42",
        "received json: {'k': [1, 2]}",
    ]


def test_receive_multiple_arguments(printed: Printed) -> None:
    app, socketio = new_app()

    @socketio.on("my event")  # (reconstructed)
    def handle_my_custom_event(arg1: str, arg2: str, arg3: str) -> None:
        print("received args: " + arg1 + arg2 + arg3)

    socketio.test_client(app).emit("my event", "a", "b", "c")
    assert printed.lines() == ["received args: abc"]


def test_event_decorator(printed: Printed) -> None:
    app, socketio = new_app()

    @socketio.event  # (reconstructed)
    def my_custom_event(arg1: str, arg2: str, arg3: str) -> None:
        print("received args: " + arg1 + arg2 + arg3)

    socketio.test_client(app).emit("my_custom_event", "x", "y", "z")
    assert printed.lines() == ["received args: xyz"]


def test_event_in_namespace(printed: Printed) -> None:
    app, socketio = new_app()

    @socketio.on("my event", namespace="/test")
    def handle_my_custom_namespace_event(json: Any) -> None:
        print("received json: " + str(json))

    client = socketio.test_client(app, namespace="/test")
    client.emit("my event", {"ns": "test"}, namespace="/test")
    # When a namespace is not specified, the global namespace '/' is used: nobody handles it.
    client.connect()
    client.emit("my event", {"ns": "root"})
    assert printed.lines() == ["received json: {'ns': 'test'}"]


def test_on_event_method(printed: Printed) -> None:
    app, socketio = new_app()

    def my_function_handler(data: Any) -> None:
        print("handled: " + str(data))  # (reconstructed: the body was lost)

    socketio.on_event("my event", my_function_handler, namespace="/test")
    client = socketio.test_client(app, namespace="/test")
    client.emit("my event", 7, namespace="/test")
    assert printed.lines() == ["handled: 7"]


def make_ack_app() -> tuple[Flask, SocketIO]:
    app, socketio = new_app()

    @socketio.on("my event")
    def handle_my_custom_event(json: Any) -> Any:
        print("received json: " + str(json))
        return "one", 2

    return app, socketio


def test_handler_return_values_are_the_ack(printed: Printed) -> None:
    app, socketio = make_ack_app()
    client = socketio.test_client(app)
    assert client.emit("my event", {"q": 1}, callback=True) == ["one", 2]
    assert printed.lines() == ["received json: {'q': 1}"]


def test_handler_return_values_reach_the_js_callback() -> None:
    """"the client callback function will be invoked with two arguments, 'one' and 2"."""
    app, socketio = make_ack_app()
    with serve_gevent(app) as served:
        result = run_node("flask_getting_started.js", {"url": served.url, "ackEmits": 2})
    assert result["ok"], result
    assert result["acks"] == [["one", 2], ["one", 2]]


def test_handler_without_return_value_acks_without_arguments() -> None:
    app, socketio = new_app()

    @socketio.on("my event")
    def handle_my_custom_event(json: Any) -> None:
        pass

    with serve_gevent(app) as served:
        result = run_node("flask_getting_started.js", {"url": served.url, "ackEmits": 1})
    assert result["ok"], result
    assert result["acks"] == [[]]


# -- Sending Messages -----------------------------------------------------------------------------


def test_bounce_with_send_and_emit() -> None:
    app, socketio = new_app()

    @socketio.on("message")  # (reconstructed)
    def handle_message(message: Any) -> None:
        send(message)  # (reconstructed)

    @socketio.on("json")  # (reconstructed)
    def handle_json(json: Any) -> None:
        send(json, json=True)

    @socketio.on("my event")
    def handle_my_custom_event(json: Any) -> None:
        emit("my response", json)

    client = socketio.test_client(app)
    client.send("plain")
    client.send({"j": 1}, json=True)
    client.emit("my event", {"e": 1})
    assert client.get_received() == [
        {"name": "message", "args": "plain", "namespace": "/"},
        {"name": "json", "args": {"j": 1}, "namespace": "/"},
        {"name": "my response", "args": [{"e": 1}], "namespace": "/"},
    ]


def test_send_and_emit_to_another_namespace() -> None:
    app, socketio = new_app()

    @socketio.on("message")  # (reconstructed)
    def handle_message(message: Any) -> None:
        send(message, namespace="/chat")

    @socketio.on("my event")
    def handle_my_custom_event(json: Any) -> None:
        emit("my response", json, namespace="/chat")

    @socketio.on("connect", namespace="/chat")  # (the client must be connected to /chat)
    def chat_connect() -> None:
        pass

    client = socketio.test_client(app)
    client.connect("/chat")
    other = socketio.test_client(app, namespace="/chat")
    client.send("to chat")
    client.emit("my event", {"to": "chat"})
    assert client.get_received("/") == []
    assert client.get_received("/chat") == [
        {"name": "message", "args": "to chat", "namespace": "/chat"},
        {"name": "my response", "args": [{"to": "chat"}], "namespace": "/chat"},
    ]
    # Only the sender: not a broadcast.
    assert other.get_received("/chat") == []
    # A sender that is not connected to /chat reaches nobody there (never everybody).
    outsider = socketio.test_client(app)
    outsider.send("lost")
    outsider.emit("my event", "lost too")
    assert other.get_received("/chat") == []
    assert client.get_received("/chat") == []
    assert outsider.get_received("/") == []


def test_emit_a_tuple_sends_several_arguments() -> None:
    app, socketio = new_app()

    @socketio.on("my event")
    def handle_my_custom_event(json: Any) -> None:
        emit("my response", ("foo", "bar", json), namespace="/chat")

    @socketio.on("connect", namespace="/chat")
    def chat_connect() -> None:
        pass

    client = socketio.test_client(app)
    client.connect("/chat")
    client.emit("my event", {"x": 1})
    assert client.get_received("/chat") == [
        {"name": "my response", "args": ["foo", "bar", {"x": 1}], "namespace": "/chat"}
    ]


def make_callback_app() -> tuple[Flask, SocketIO]:
    app, socketio = new_app()

    def ack() -> None:
        print("message was received!")

    @socketio.on("my event")
    def handle_my_custom_event(json: Any) -> None:
        emit("my response", json, callback=ack)

    return app, socketio


def test_server_side_ack_callback_with_js_client(printed: Printed) -> None:
    app, socketio = make_callback_app()
    with serve_gevent(app) as served:
        result = run_node("flask_getting_started.js", {"url": served.url, "responses": 1})
        assert result["ok"], result
        assert result["askedAck"] == 1
        printed.wait_for("message was received!")


def test_server_side_ack_callback_gets_client_arguments(printed: Printed) -> None:
    """"If the client-side callback is invoked with arguments, these are provided as
    arguments to the server-side callback as well.\""""
    app, socketio = new_app()
    got: list[Any] = []

    def ack(*args: Any) -> None:
        got.append((args, request.sid))  # type: ignore[attr-defined]
        print("message was received!", *args)

    @socketio.on("my event")
    def handle_my_custom_event(json: Any) -> None:
        emit("my response", json, callback=ack)

    log = EventLog()
    with serve_gevent(app) as served:
        import socketio as sio_client_pkg

        client = sio_client_pkg.Client(reconnection=False)

        @client.on("my response")
        def my_response(data: Any) -> Any:
            log.add("my response", data)
            return "thanks", data["n"]

        client.connect(served.url, wait_timeout=10)
        try:
            client.emit("my event", {"n": 5})
            log.wait("my response")
            printed.wait_for("message was received! thanks 5")
            # The callback runs in the request context of the handler that emitted.
            assert got == [(("thanks", 5), client.get_sid())]
        finally:
            client.disconnect()


def test_broadcast() -> None:
    app, socketio = new_app()

    @socketio.on("my event")
    def handle_my_custom_event(data: Any) -> None:
        emit("my response", data, broadcast=True)

    @socketio.on("connect", namespace="/other")
    def other_connect() -> None:
        pass

    sender, peer = socketio.test_client(app), socketio.test_client(app)
    elsewhere = socketio.test_client(app, namespace="/other")
    sender.emit("my event", "hi all")
    expected = [{"name": "my response", "args": ["hi all"], "namespace": "/"}]
    assert sender.get_received() == expected  # including the sender
    assert peer.get_received() == expected
    assert elsewhere.get_received("/other") == []


def test_server_originated_emit() -> None:
    app, socketio = new_app()
    a, b = socketio.test_client(app), socketio.test_client(app)

    def some_function() -> None:
        socketio.emit("some event", {"data": 42})

    some_function()
    assert a.get_received() == b.get_received() == [{"name": "some event", "args": [{"data": 42}], "namespace": "/"}]


def test_server_originated_emit_from_background_thread_to_real_clients() -> None:
    """"for example in a background thread": a plain thread, outside any context."""
    app, socketio = new_app()
    with serve_gevent(app) as served:
        with python_client(served.url, events=("some event",)) as (_c1, log1), \
                python_client(served.url, events=("some event",)) as (_c2, log2):

            def some_function() -> None:
                socketio.emit("some event", {"data": 42})

            thread = threading.Thread(target=some_function)
            thread.start()
            thread.join(10)
            assert log1.wait("some event") == [({"data": 42},)]
            assert log2.wait("some event") == [({"data": 42},)]


# -- Rooms ------------------------------------------------------------------------------------------


def make_rooms_app() -> tuple[Flask, SocketIO]:
    app, socketio = new_app()

    @socketio.on("join")  # (reconstructed)
    def on_join(data: Any) -> None:
        username = data["username"]
        room = data["room"]
        join_room(room)  # (reconstructed)
        send(username + " has entered the room.", to=room)

    @socketio.on("leave")  # (reconstructed)
    def on_leave(data: Any) -> None:
        username = data["username"]
        room = data["room"]
        leave_room(room)  # (reconstructed)
        send(username + " has left the room.", to=room)

    @socketio.on("whisper")
    def whisper(sid: str, text: str) -> None:
        # "to address a message to a single client, the session ID of the client can be
        # used as the to argument"
        send(text, to=sid)

    @socketio.on("my sid")
    def my_sid() -> Any:
        return request.sid  # type: ignore[attr-defined]

    return app, socketio


def texts(client: Any) -> list[Any]:
    return [item["args"] for item in client.get_received()]


def test_join_and_leave_rooms() -> None:
    app, socketio = make_rooms_app()
    ann, ben, cid = (socketio.test_client(app) for _ in range(3))
    ann.emit("join", {"username": "ann", "room": "r1"})
    assert texts(ann) == ["ann has entered the room."]
    ben.emit("join", {"username": "ben", "room": "r1"})
    cid.emit("join", {"username": "cid", "room": "r2"})
    assert texts(ann) == ["ben has entered the room."]
    assert texts(ben) == ["ben has entered the room."]
    assert texts(cid) == ["cid has entered the room."]
    ann.emit("leave", {"username": "ann", "room": "r1"})
    assert texts(ann) == []  # ann left before the message was sent
    assert texts(ben) == ["ann has left the room."]
    assert texts(cid) == []


def test_personal_room_and_context_free_emit_to_room() -> None:
    app, socketio = make_rooms_app()
    ann, ben = socketio.test_client(app), socketio.test_client(app)
    ben_sid = ben.emit("my sid", callback=True)
    ann.emit("whisper", ben_sid, "psst")
    assert texts(ann) == [] and texts(ben) == ["psst"]
    ann.emit("join", {"username": "ann", "room": "r1"})
    texts(ann)
    socketio.send("to r1 from the server", to="r1")
    socketio.emit("announce", "to ben", to=ben_sid)
    assert texts(ann) == ["to r1 from the server"]
    assert texts(ben) == [["to ben"]]


# -- Connection events ------------------------------------------------------------------------------


def test_connect_and_disconnect_handlers(printed: Printed) -> None:
    app, socketio = new_app()

    @socketio.on("connect")  # (reconstructed)
    def test_connect(auth: Any) -> None:
        emit("my response", {"data": "Connected"})

    @socketio.on("disconnect")  # (reconstructed)
    def test_disconnect() -> None:
        print("Client disconnected")

    client = socketio.test_client(app)
    assert client.get_received() == [{"name": "my response", "args": [{"data": "Connected"}], "namespace": "/"}]
    client.disconnect()
    assert printed.lines() == ["Client disconnected"]


def test_auth_argument_is_optional() -> None:
    app, socketio = new_app()
    seen: list[Any] = []

    @socketio.on("connect")
    def test_connect(auth: Any) -> None:
        seen.append(auth)

    @socketio.on("connect", namespace="/noauth")
    def connect_without_auth() -> None:
        seen.append("no auth argument")

    socketio.test_client(app, auth={"token": "t"})
    socketio.test_client(app)  # no auth details: None
    socketio.test_client(app, namespace="/noauth", auth={"token": "discarded"})
    assert seen == [{"token": "t"}, None, "no auth argument"]


def make_refusing_app() -> tuple[Flask, SocketIO]:
    app, socketio = new_app()

    def authenticate(args: Any) -> bool:  # the guide's `self.authenticate`, as a function
        return args.get("token") == "good"

    @socketio.on("connect")  # (reconstructed)
    def connect() -> None:
        if not authenticate(request.args):
            raise ConnectionRefusedError("unauthorized!")

    @socketio.on("connect", namespace="/falsy")
    def connect_falsy() -> bool:
        return False  # "The connection event handler can return False to reject the connection"

    return app, socketio


def test_connection_refused_error_with_test_client() -> None:
    app, socketio = make_refusing_app()
    assert not socketio.test_client(app).is_connected()
    assert socketio.test_client(app, query_string="token=good").is_connected()
    refused = socketio.test_client(app, query_string="token=good")
    refused.connect("/falsy")
    assert not refused.is_connected("/falsy")


def test_connection_refused_error_reaches_the_client() -> None:
    """"any arguments passed to the exception are returned to the client in the error
    packet"."""
    import socketio as sio_client_pkg

    app, socketio = make_refusing_app()
    with serve_gevent(app) as served:
        errors = EventLog()
        client = sio_client_pkg.Client(reconnection=False)
        client.on("connect_error", lambda data: errors.add("connect_error", data))
        with pytest.raises(sio_client_pkg.exceptions.ConnectionError):
            client.connect(served.url, wait_timeout=10)
        assert errors.wait("connect_error") == [({"message": "unauthorized!"},)]
        with python_client(served.url + "?token=good") as (good, _log):
            assert good.connected


def test_connection_events_per_namespace() -> None:
    app, socketio = new_app()
    seen: list[str] = []

    @socketio.on("connect")
    def root_connect() -> None:
        seen.append("connect /")

    @socketio.on("connect", namespace="/chat")
    def chat_connect() -> None:
        seen.append("connect /chat")

    @socketio.on("disconnect", namespace="/chat")
    def chat_disconnect() -> None:
        seen.append("disconnect /chat")

    client = socketio.test_client(app)
    client.connect("/chat")
    client.disconnect("/chat")
    assert seen == ["connect /", "connect /chat", "disconnect /chat"]


# -- Class-based namespaces -----------------------------------------------------------------------


class MyCustomNamespace(Namespace):
    def on_connect(self) -> None:
        pass  # (reconstructed)

    def on_disconnect(self) -> None:
        pass  # (reconstructed)

    def on_my_event(self, data: Any) -> None:
        emit("my_response", data)


def test_class_based_namespace() -> None:
    app, socketio = new_app()
    socketio.on_namespace(MyCustomNamespace("/test"))
    client = socketio.test_client(app, namespace="/test")
    client.emit("my_event", {"hello": "ns"}, namespace="/test")
    client.emit("no_such_event", namespace="/test")  # ignored
    assert client.get_received("/test") == [{"name": "my_response", "args": [{"hello": "ns"}], "namespace": "/test"}]
    client.disconnect("/test")
    assert not client.is_connected("/test")


def test_class_based_namespace_helpers_default_to_their_namespace() -> None:
    app, socketio = new_app()

    class Helpers(Namespace):
        def on_shout(self, data: Any) -> None:
            self.emit("shouted", data.upper())  # everyone in /test
            self.send("sent in " + self.namespace, room=request.sid)  # type: ignore[attr-defined]

    socketio.on_namespace(Helpers("/test"))
    a = socketio.test_client(app, namespace="/test")
    b = socketio.test_client(app, namespace="/test")
    a.emit("shout", "hey", namespace="/test")
    assert a.get_received("/test") == [
        {"name": "shouted", "args": ["HEY"], "namespace": "/test"},
        {"name": "message", "args": "sent in /test", "namespace": "/test"},
    ]
    assert b.get_received("/test") == [{"name": "shouted", "args": ["HEY"], "namespace": "/test"}]


def test_decorated_handler_wins_over_class_method() -> None:
    app, socketio = new_app()
    socketio.on_namespace(MyCustomNamespace("/test"))

    @socketio.on("my_event", namespace="/test")
    def decorated(data: Any) -> None:
        emit("from_decorator", data)

    client = socketio.test_client(app, namespace="/test")
    client.emit("my_event", 1, namespace="/test")
    assert client.get_received("/test") == [{"name": "from_decorator", "args": [1], "namespace": "/test"}]


# -- Error handling --------------------------------------------------------------------------------


def test_error_handlers() -> None:
    app, socketio = new_app()
    called: list[str] = []

    @socketio.on_error()  # Handles the default namespace
    def error_handler(e: Exception) -> None:
        called.append("default namespace: " + str(e))  # (reconstructed: `pass`)

    @socketio.on_error("/chat")  # handles the '/chat' namespace
    def error_handler_chat(e: Exception) -> None:
        called.append("/chat: " + str(e))  # (reconstructed: `pass`)

    @socketio.on_error_default  # handles all namespaces without an explicit error handler
    def default_error_handler(e: Exception) -> None:
        called.append("any: " + str(e))  # (reconstructed: `pass`)

    def failing(data: Any) -> None:
        raise RuntimeError(data)

    for namespace in ("/", "/chat", "/news"):
        socketio.on_event("fail", failing, namespace=namespace)
    client = socketio.test_client(app)
    client.connect("/chat")
    client.connect("/news")
    client.emit("fail", "a")
    client.emit("fail", "b", namespace="/chat")
    client.emit("fail", "c", namespace="/news")
    assert called == ["default namespace: a", "/chat: b", "any: c"]


def test_request_event_in_error_handler(printed: Printed) -> None:
    app, socketio = new_app()

    @socketio.on("my error event")
    def on_my_event(data: Any) -> None:
        raise RuntimeError()

    @socketio.on_error_default  # (reconstructed)
    def default_error_handler(e: Exception) -> None:
        print(request.event["message"])  # type: ignore[attr-defined] # "my error event"
        print(request.event["args"])  # type: ignore[attr-defined] # (data,)

    socketio.test_client(app).emit("my error event", "payload")
    assert printed.lines() == ["my error event", "('payload',)"]


# -- Debugging and Troubleshooting ---------------------------------------------------------------


@pytest.mark.usefixtures("fresh_loggers")
def test_logging_options(caplog: pytest.LogCaptureFixture) -> None:
    import logging

    socketio = SocketIO(logger=True, engineio_logger=True)
    app = Flask(__name__)
    socketio.init_app(app)
    assert socketio.server is not None
    assert socketio.server.logger.isEnabledFor(logging.INFO)
    assert socketio.server.eio.logger.isEnabledFor(logging.INFO)
    caplog.set_level(logging.INFO)
    # "Logging can help identify the cause of connection problems, 400 responses, ..."
    resp = app.test_client().get("/socket.io/?EIO=4&transport=polling&sid=unknown-sid")
    assert resp.status_code == 400
    assert any("unknown-sid" in r.getMessage() for r in caplog.records)
