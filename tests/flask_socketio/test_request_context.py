"""The per-event request context keeps Flask's public contract (issue 11, item 8).

Expectations were read off Flask-SocketIO 5.7 running the same handlers: ``copy()`` /
``copy_current_request_context`` (same request, same sid, same session), manual
``push()``/``pop()`` of a copy, ``has_request_context()``, ``after_this_request`` (accepted,
never called: no response is processed for an event), and the signals and teardown functions
(one ``request_tearing_down`` and one teardown per popped request context, one app context
per event). Every test runs on the fast path (the context that reuses the connection's
routing) and on Flask's standard `RequestContext`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import flask
import pytest
from flask import (
    Flask,
    after_this_request,
    copy_current_request_context,
    has_request_context,
    request,
    session,
)
from flask import signals as flask_signals

from flask_socketio import SocketIO, disconnect, emit
from flask_socketio import request_context as rc
from tests.conftest import serve_gevent
from tests.flask_socketio.conftest import python_client


@pytest.fixture(params=["fast", "standard"], autouse=True)
def context_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    if request.param == "standard":
        monkeypatch.setattr(rc, "FAST_PATH", False)
    else:
        assert rc.FAST_PATH, "the installed Flask should take the fast path"
    yield request.param


def make_app(**options: Any) -> tuple[Flask, SocketIO]:
    app = Flask(__name__)
    app.config["SECRET_KEY"] = "test-secret"

    @app.route("/")
    def index() -> str:
        return "index"

    return app, SocketIO(app, **options)


def test_the_event_context_type(context_path: str) -> None:
    app, socketio = make_app()

    @socketio.on("kind")
    def kind() -> str:
        return type(flask.globals.request_ctx._get_current_object()).__name__

    expected = "_EventContext" if context_path == "fast" else "RequestContext"
    assert socketio.test_client(app).emit("kind", callback=True) == expected


def test_copy_current_request_context_in_a_handler() -> None:
    app, socketio = make_app()

    @socketio.on("copy")
    def copy_event() -> Any:
        session["k"] = "v"
        sid = request.sid  # type: ignore[attr-defined]

        @copy_current_request_context
        def later() -> Any:
            return [request.sid == sid, request.namespace, has_request_context(),  # type: ignore[attr-defined]
                    session.get("k"), request.event["message"]]  # type: ignore[attr-defined]

        return later()

    client = socketio.test_client(app)
    assert client.emit("copy", callback=True) == [True, "/", True, "v", "copy"]


def test_copied_context_in_a_thread_can_emit_to_the_client() -> None:
    app, socketio = make_app()

    @socketio.on("work")
    def work() -> bool:
        out: dict[str, Any] = {}

        @copy_current_request_context
        def in_thread() -> None:
            out["sid"] = request.sid  # type: ignore[attr-defined]
            emit("from thread", "hi")

        thread = threading.Thread(target=in_thread)
        thread.start()
        thread.join(10)
        return out.get("sid") == request.sid  # type: ignore[attr-defined]

    client = socketio.test_client(app)
    assert client.emit("work", callback=True) is True
    assert client.get_received() == [{"name": "from thread", "args": ["hi"], "namespace": "/"}]


def test_manual_copy_push_and_pop() -> None:
    app, socketio = make_app()

    @socketio.on("manual")
    def manual() -> Any:
        ctx = flask.globals.request_ctx.copy()
        ctx.push()
        try:
            inner = [request.sid, flask.globals.request_ctx._get_current_object() is ctx]  # type: ignore[attr-defined]
        finally:
            ctx.pop()
        # Back in the event's own context.
        return [inner[0] == request.sid, inner[1], has_request_context()]  # type: ignore[attr-defined]

    assert socketio.test_client(app).emit("manual", callback=True) == [True, True, True]


def test_has_request_context_only_inside_handlers() -> None:
    app, socketio = make_app()

    @socketio.on("inside")
    def inside() -> bool:
        return has_request_context()

    client = socketio.test_client(app)
    assert client.emit("inside", callback=True) is True
    assert not has_request_context()


def test_after_this_request_is_accepted_and_never_called() -> None:
    """As in Flask-SocketIO: no response is processed for a Socket.IO event."""
    app, socketio = make_app()
    called: list[str] = []

    @socketio.on("after")
    def after() -> str:
        @after_this_request
        def hook(response: Any) -> Any:
            called.append("hook")
            return response

        return "ok"

    client = socketio.test_client(app)
    assert client.emit("after", callback=True) == "ok"
    assert called == []


def test_signals_and_teardown_per_event_and_per_copy() -> None:
    app, socketio = make_app()
    counts: dict[str, int] = {}
    names = ("request_tearing_down", "appcontext_pushed", "appcontext_popped", "appcontext_tearing_down",
             "request_started", "request_finished")
    receivers = []
    for name in names:
        def receiver(sender: Any, _name: str = name, **kwargs: Any) -> None:
            counts[_name] = counts.get(_name, 0) + 1

        receivers.append(receiver)
        getattr(flask_signals, name).connect(receiver, app)
    teardowns: list[str] = []
    app.teardown_request(lambda exc: teardowns.append("request"))
    app.teardown_appcontext(lambda exc: teardowns.append("appcontext"))

    @socketio.on("plain")
    def plain() -> None:
        pass

    @socketio.on("copied")
    def copied() -> None:
        copy_current_request_context(lambda: None)()

    client = socketio.test_client(app)
    counts.clear()
    teardowns.clear()
    client.emit("plain")
    assert counts == {"request_tearing_down": 1, "appcontext_pushed": 1, "appcontext_popped": 1,
                      "appcontext_tearing_down": 1}
    assert teardowns == ["request", "appcontext"]
    counts.clear()
    teardowns.clear()
    client.emit("copied")
    # The copy is a request context of its own: popping it tears down once more (as Flask-SocketIO).
    assert counts == {"request_tearing_down": 2, "appcontext_pushed": 1, "appcontext_popped": 1,
                      "appcontext_tearing_down": 1}
    assert teardowns == ["request", "request", "appcontext"]
    for name, receiver in zip(names, receivers, strict=True):
        getattr(flask_signals, name).disconnect(receiver, app)


def test_g_is_fresh_per_event_and_request_is_new_per_event() -> None:
    app, socketio = make_app()
    seen: list[Any] = []

    @socketio.on("g")
    def g_event(value: int) -> Any:
        seen.append(id(request._get_current_object()))  # type: ignore[attr-defined]
        previous = getattr(flask.g, "value", None)
        flask.g.value = value
        return previous

    client = socketio.test_client(app)
    assert client.emit("g", 1, callback=True) == []
    assert client.emit("g", 2, callback=True) == []
    assert len(seen) == 2


def test_official_example_disconnect_button_with_a_real_client() -> None:
    """Flask-SocketIO's example app: the Disconnect button emits ``disconnect_request``; the
    server answers with an emit whose callback (a copied request context) disconnects the
    client once it acknowledges."""
    app, socketio = make_app()

    @socketio.event
    def disconnect_request() -> None:
        @copy_current_request_context
        def can_disconnect() -> None:
            disconnect()

        session["receive_count"] = session.get("receive_count", 0) + 1
        emit("my_response", {"data": "Disconnected!", "count": session["receive_count"]},
             callback=can_disconnect)

    with serve_gevent(app) as served:
        with python_client(served.url, events=("my_response",)) as (client, log):
            client.emit("disconnect_request")
            assert log.wait("my_response") == [({"data": "Disconnected!", "count": 1},)]
            # The client acknowledged; the server's callback disconnected it.
            assert log.wait("disconnect")[0][0] == "/"


def test_each_event_request_is_fresh_and_equals_a_constructed_one() -> None:
    """An event's request object is new (nothing set or cached on one event's request is seen
    by the next) and has what werkzeug's constructor gives for the connection's environ."""
    app, socketio = make_app()
    seen: list[Any] = []

    @socketio.on("req")
    def req(step: int) -> Any:
        current = request._get_current_object()  # type: ignore[attr-defined]
        linked = request.environ["werkzeug.request"] is current
        built = app.request_class(request.environ, populate_request=False)
        fresh = {name: getattr(built, name) for name in ("method", "scheme", "server", "root_path", "path",
                                                         "query_string", "remote_addr", "host", "url")}
        mine = {name: getattr(current, name) for name in fresh}
        leftover = getattr(current, "mark", None)
        args_before = "args" in vars(current)
        current.mark = step
        args = current.args  # cached on this request object only
        seen.append(current)
        return [mine == fresh, leftover, args_before, args.get("x"), linked]

    client = socketio.test_client(app, query_string="x=1")
    assert client.emit("req", 1, callback=True) == [True, None, False, "1", True]
    assert client.emit("req", 2, callback=True) == [True, None, False, "1", True]
    assert seen[0] is not seen[1]
    assert seen[1].environ.get("werkzeug.request") is None  # as Flask: no cycle after the pop


def test_a_request_class_with_its_own_constructor_is_constructed_per_event() -> None:
    app, socketio = make_app()
    built: list[int] = []

    class CountingRequest(flask.Request):
        def __init__(self, environ: dict[str, Any], *args: Any, **kwargs: Any) -> None:
            super().__init__(environ, *args, **kwargs)
            built.append(1)
            self.stamp = len(built)

    app.request_class = CountingRequest

    @socketio.on("stamp")
    def stamp() -> int:
        return int(request.stamp)  # type: ignore[attr-defined]

    client = socketio.test_client(app)
    first = client.emit("stamp", callback=True)
    assert client.emit("stamp", callback=True) == first + 1


def test_an_overridden_app_context_is_used_per_event() -> None:
    pushed: list[str] = []

    class TracingContext(flask.ctx.AppContext):
        def push(self) -> None:
            pushed.append("push")
            super().push()

    class TracingFlask(Flask):
        def app_context(self) -> flask.ctx.AppContext:
            return TracingContext(self)

    app = TracingFlask(__name__)
    socketio = SocketIO(app)

    @socketio.on("ctx")
    def ctx() -> str:
        flask.g.here = True
        return type(flask.globals.app_ctx._get_current_object()).__name__

    client = socketio.test_client(app)
    pushed.clear()
    assert client.emit("ctx", callback=True) == "TracingContext"
    assert pushed == ["push"]
