"""The test client behaves as Flask-SocketIO 5.7's does where user test suites can tell:
errors reach the test, background tasks run while the test waits with ``time.sleep()``, the
import path and the "not connected" errors. Each expectation was read off the reference stack
running the same app (Flask-SocketIO 5.7 with python-socketio 5.18, gevent installed).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from flask_socketio import Namespace, SocketIO, emit

# -- helpers ---------------------------------------------------------------------------------------


def make_app(**options: Any) -> tuple[Flask, SocketIO]:
    app = Flask(__name__)
    app.config["SECRET_KEY"] = "test-secret"
    return app, SocketIO(app, **options)


def collect(client: Any, count: int, timeout: float = 10.0, wait: Callable[[float], None] = time.sleep) -> list[Any]:
    """What a user's test does (``time.sleep`` then ``get_received()``), bounded: read until
    `count` messages arrived or `timeout` passed."""
    got: list[Any] = []
    deadline = time.monotonic() + timeout
    while len(got) < count and time.monotonic() < deadline:
        wait(0.01)
        got.extend(item["args"] for item in client.get_received())
    return got


class Unserialisable:
    pass


# -- item 5: exceptions and un-serialisable data reach the test --------------------------------------


def test_error_handler_that_reraises_raises_in_the_test() -> None:
    app, socketio = make_app()

    @socketio.on("boom")
    def boom(_: Any) -> None:
        raise ValueError("bad")

    seen: list[BaseException] = []

    @socketio.on_error()
    def reraise(exc: BaseException) -> None:
        seen.append(exc)
        raise exc

    client = socketio.test_client(app)
    with pytest.raises(ValueError, match="bad"):
        client.emit("boom", 1)
    assert [type(e) for e in seen] == [ValueError]
    # The client is still usable afterwards.
    assert client.is_connected()


def test_error_handler_raising_another_exception_raises_that_one() -> None:
    app, socketio = make_app()

    @socketio.on("boom", namespace="/ns")
    def boom() -> None:
        raise KeyError("k")

    @socketio.on_error_default
    def default(exc: BaseException) -> None:
        raise RuntimeError(f"wrapped {exc!r}")

    client = socketio.test_client(app, namespace="/ns")
    with pytest.raises(RuntimeError, match="wrapped KeyError"):
        client.emit("boom", namespace="/ns", callback=True)


def test_error_handler_return_value_is_the_ack_and_nothing_raises() -> None:
    app, socketio = make_app()

    @socketio.on("boom")
    def boom() -> None:
        raise ValueError("bad")

    @socketio.on_error()
    def handled(exc: BaseException) -> str:
        return f"handled {type(exc).__name__}"

    client = socketio.test_client(app)
    assert client.emit("boom", callback=True) == "handled ValueError"
    assert client.emit("boom") is None
    assert client.get_received() == []


def test_class_namespace_error_hook_that_reraises_raises_in_the_test() -> None:
    app, socketio = make_app()

    class Chat(Namespace):
        def on_boom(self) -> None:
            raise LookupError("missing")

        def error(self, exc: BaseException) -> None:
            raise exc

    socketio.on_namespace(Chat("/chat"))
    client = socketio.test_client(app, namespace="/chat")
    with pytest.raises(LookupError, match="missing"):
        client.emit("boom", namespace="/chat")


@pytest.mark.parametrize("how", ["emit", "broadcast", "socketio.emit", "with callback"])
def test_emitting_unserialisable_data_from_a_handler_raises_type_error(how: str) -> None:
    app, socketio = make_app()

    @socketio.on("go")
    def go() -> None:
        if how == "emit":
            emit("out", Unserialisable())
        elif how == "broadcast":
            emit("out", Unserialisable(), broadcast=True)
        elif how == "socketio.emit":
            socketio.emit("out", {1, 2})
        else:
            emit("out", Unserialisable(), callback=lambda *a: None)

    client = socketio.test_client(app)
    with pytest.raises(TypeError, match="not JSON serializable"):
        client.emit("go")
    assert client.get_received() == []


def test_emitting_unserialisable_data_to_an_empty_room_raises_type_error() -> None:
    """The reference encodes before it looks for recipients; so do we, so the bug shows up in
    the test whether or not someone is in the room."""
    app, socketio = make_app()

    @socketio.on("go")
    def go() -> None:
        socketio.emit("out", Unserialisable(), to="nobody-is-here")

    client = socketio.test_client(app)
    with pytest.raises(TypeError, match="not JSON serializable"):
        client.emit("go")


def test_error_handler_receives_the_type_error_of_an_unserialisable_emit() -> None:
    app, socketio = make_app()

    @socketio.on("go")
    def go() -> None:
        emit("out", Unserialisable())

    @socketio.on_error()
    def handled(exc: BaseException) -> Any:
        return [isinstance(exc, TypeError), "not JSON serializable" in str(exc)]

    client = socketio.test_client(app)
    assert client.emit("go", callback=True) == [True, True]


def test_unserialisable_ack_raises_type_error_only_when_an_ack_was_asked_for() -> None:
    app, socketio = make_app()

    @socketio.on("ask")
    def ask() -> Any:
        return (1, Unserialisable())

    @socketio.on_error()
    def never(exc: BaseException) -> str:  # the ACK is encoded after the handler: not its error
        return "error handler"

    client = socketio.test_client(app)
    assert client.emit("ask") is None
    with pytest.raises(TypeError, match="not JSON serializable"):
        client.emit("ask", callback=True)


def test_client_emit_of_unserialisable_data_raises_type_error() -> None:
    app, socketio = make_app()
    client = socketio.test_client(app)
    with pytest.raises(TypeError):
        client.emit("x", Unserialisable())


# -- item 6: background tasks run while the test waits with time.sleep ------------------------------


@pytest.mark.parametrize("async_mode", ["gevent", "threading"])
@pytest.mark.parametrize("task_sleep", ["socketio.sleep", "time.sleep"])
def test_background_task_runs_while_the_test_sleeps(async_mode: str, task_sleep: str) -> None:
    """A user's test: a handler starts a task that emits every so often; the test sleeps with
    plain ``time.sleep`` (no gevent, no monkey-patching) and then reads what arrived."""
    app, socketio = make_app(async_mode=async_mode)
    started: list[Any] = []

    def ticker(count: int) -> None:
        for i in range(count):
            if task_sleep == "socketio.sleep":
                socketio.sleep(0.01)
            else:
                time.sleep(0.01)
            socketio.emit("tick", i)

    @socketio.on("start")
    def start() -> str:
        started.append(socketio.start_background_task(ticker, 5))
        return "started"

    client = socketio.test_client(app)
    assert client.emit("start", callback=True) == "started"
    assert collect(client, 5) == [[0], [1], [2], [3], [4]]
    started[0].join(5)  # the task object has join(), as the reference's


@pytest.mark.parametrize("async_mode", ["gevent", "threading"])
def test_background_task_emits_are_not_lost_while_the_test_reads(async_mode: str) -> None:
    """The task emits while the test calls get_received() over and over: every message
    arrives once, in order (under gevent they go through the server's loop; under threads the
    client's queue is locked)."""
    app, socketio = make_app(async_mode=async_mode)
    total = 300

    def burst() -> None:
        for i in range(total):
            socketio.emit("n", i)
            if i % 50 == 0:
                time.sleep(0.001)

    @socketio.on("start")
    def start() -> None:
        socketio.start_background_task(burst)

    client = socketio.test_client(app)
    client.emit("start")
    assert collect(client, total, wait=lambda s: None) == [[i] for i in range(total)]


@pytest.mark.parametrize("async_mode", ["gevent", "threading"])
def test_a_task_emitting_more_than_the_thread_window_is_all_there_after_one_read(async_mode: str) -> None:
    """A task emits 500 messages without pausing while the test waits (not reading); after
    the task ends, ONE get_received() returns all of them, as in the reference's threading
    mode. (Under gevent, calls from a thread wait for the loop past a window; the loop runs
    only when the test uses the client, so the task must not wait for it.)"""
    app, socketio = make_app(async_mode=async_mode)
    total = 500
    finished = threading.Event()

    def burst() -> None:
        for i in range(total):
            socketio.emit("n", i)
        finished.set()

    @socketio.on("start")
    def start() -> None:
        socketio.start_background_task(burst)

    client = socketio.test_client(app)
    client.emit("start")
    assert finished.wait(10), "the task was held back while the test waited"
    assert [item["args"] for item in client.get_received()] == [[i] for i in range(total)]


def test_background_task_runs_while_the_test_waits_on_a_thread_event() -> None:
    """Any plain blocking wait of the test thread lets the task run (gevent default mode)."""
    app, socketio = make_app()
    done = threading.Event()

    def task() -> None:
        socketio.sleep(0.01)
        socketio.emit("done", "yes")
        done.set()

    @socketio.on("start")
    def start() -> None:
        socketio.start_background_task(task)

    client = socketio.test_client(app)
    client.emit("start")
    assert done.wait(10), "the background task never ran"
    assert client.get_received() == [{"name": "done", "args": ["yes"], "namespace": "/"}]


def test_socketio_sleep_in_the_test_also_lets_the_task_run() -> None:
    """Suites written for the reference under gevent wait with ``socketio.sleep()``."""
    app, socketio = make_app()

    def task() -> None:
        socketio.emit("hello", 1)

    @socketio.on("start")
    def start() -> None:
        socketio.start_background_task(task)

    client = socketio.test_client(app)
    client.emit("start")
    assert collect(client, 1, wait=socketio.sleep) == [[1]]


def test_background_task_can_join_rooms_and_emit_to_them() -> None:
    app, socketio = make_app()
    sids: list[str] = []

    @socketio.on("connect")
    def connect() -> None:
        from flask import request

        sids.append(request.sid)  # type: ignore[attr-defined]

    def task() -> None:
        socketio.server.enter_room(sids[0], "room")  # type: ignore[union-attr]
        socketio.emit("in room", "r", to="room")

    @socketio.on("start")
    def start() -> None:
        socketio.start_background_task(task)

    client = socketio.test_client(app)
    other = socketio.test_client(app)
    client.emit("start")
    assert collect(client, 1) == [["r"]]
    assert other.get_received() == []


# -- item 7: import path and "not connected" -----------------------------------------------------------


def test_test_client_module_path() -> None:
    import flask_socketio
    from flask_socketio.test_client import SocketIOTestClient

    assert SocketIOTestClient is flask_socketio.SocketIOTestClient
    app, socketio = make_app()
    assert isinstance(SocketIOTestClient(app, socketio), SocketIOTestClient)


def test_get_received_on_a_refused_client_raises_not_connected() -> None:
    app, socketio = make_app()

    @socketio.on("connect")
    def connect() -> bool:
        return False

    client = socketio.test_client(app)
    assert not client.is_connected()
    with pytest.raises(RuntimeError, match="^not connected$"):
        client.get_received()


def test_get_received_after_a_server_side_disconnect_raises_not_connected() -> None:
    from flask_socketio import disconnect

    app, socketio = make_app()

    @socketio.on("kick")
    def kick() -> None:
        emit("bye")
        disconnect()

    client = socketio.test_client(app)
    client.emit("kick")
    assert not client.is_connected()
    with pytest.raises(RuntimeError, match="^not connected$"):
        client.get_received()
    with pytest.raises(RuntimeError, match="^not connected$"):
        client.get_received("/never-connected")
