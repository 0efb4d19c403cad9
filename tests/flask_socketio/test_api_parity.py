"""Small differences an API probe against Flask-SocketIO 5.7 / python-socketio 5.18 found
(issue 11, item 11). The expected values were printed by the reference stack running the
same code.

* ``ConnectionRefusedError``: ``str()`` and ``args`` of a plain exception (the reference's is
  not the builtin ``OSError`` subclass, whose 2- and 3-argument forms are errno/strerror).
* ``server.eio.ping_interval``, ``ping_interval_grace_period``, ``ping_timeout``,
  ``async_mode``: present, in seconds, as configured.
* No auth, or the ``{}`` the python-socketio client sends: the connect handler gets ``None``
  (test client, python-socketio client, official JS client).
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from flask import Flask

from flask_socketio import ConnectionRefusedError, SocketIO, emit
from tests.conftest import run_node, serve_gevent
from tests.flask_socketio.conftest import TIMEOUT

# -- ConnectionRefusedError ---------------------------------------------------------------------------

# (args, str(), .args, .error_args) as the reference prints them.
REFERENCE_REFUSALS = [
    ((), "", (), {"message": "Connection rejected by server"}),
    (("x",), "x", ("x",), {"message": "x"}),
    (("x", {"a": 1}), "('x', {'a': 1})", ("x", {"a": 1}), {"message": "x", "data": {"a": 1}}),
    (("x", 1, 2), "('x', 1, 2)", ("x", 1, 2), {"message": "x", "data": (1, 2)}),
]


@pytest.mark.parametrize(("args", "text", "exc_args", "error_args"), REFERENCE_REFUSALS)
def test_connection_refused_error_str_and_args(args: tuple[Any, ...], text: str, exc_args: tuple[Any, ...],
                                               error_args: dict[str, Any]) -> None:
    exc = ConnectionRefusedError(*args)
    assert str(exc) == text
    assert exc.args == exc_args
    assert exc.error_args == error_args
    assert not isinstance(exc, OSError)


def test_refusal_with_several_data_arguments_reaches_a_real_client() -> None:
    import socketio

    app = Flask(__name__)
    sio = SocketIO(app)

    @sio.on("connect")
    def connect() -> None:
        raise ConnectionRefusedError("go away", 1, 2)

    errors: list[Any] = []
    got = threading.Event()
    with serve_gevent(app) as served:
        client = socketio.Client(reconnection=False)

        @client.on("connect_error")
        def on_error(data: Any) -> None:
            errors.append(data)
            got.set()

        with pytest.raises(socketio.exceptions.ConnectionError):
            client.connect(served.url, wait_timeout=TIMEOUT)
        assert got.wait(TIMEOUT)
    assert errors == [{"message": "go away", "data": [1, 2]}]


# -- engine attributes ----------------------------------------------------------------------------------


def test_engine_attributes_as_the_reference() -> None:
    server = SocketIO(Flask(__name__)).server
    assert server is not None
    eio = server.eio
    assert (eio.ping_interval, eio.ping_interval_grace_period, eio.ping_timeout) == (25, 0, 20)
    assert eio.async_mode == server.async_mode == "gevent"

    server = SocketIO(Flask(__name__), ping_interval=(7, 3), ping_timeout=4.5, async_mode="threading").server
    assert server is not None
    eio = server.eio
    assert (eio.ping_interval, eio.ping_interval_grace_period, eio.ping_timeout) == (7, 3, 4.5)
    assert eio.async_mode == "threading"


# -- the connect handler's auth when the client sends none ----------------------------------------------


def auth_app() -> tuple[Flask, SocketIO]:
    app = Flask(__name__)
    sio = SocketIO(app)

    @sio.on("connect")
    def connect(auth: Any) -> None:
        emit("auth", repr(auth))

    return app, sio


@pytest.mark.parametrize(("auth", "expected"), [(None, "None"), ({}, "None"), ({"t": 1}, "{'t': 1}")])
def test_test_client_auth(auth: Any, expected: str) -> None:
    app, sio = auth_app()
    client = sio.test_client(app, auth=auth)
    assert client.get_received() == [{"name": "auth", "args": [expected], "namespace": "/"}]


def test_python_client_without_auth_gives_none() -> None:
    """python-socketio's client sends ``40{}`` when no auth is given."""
    import socketio

    app, sio = auth_app()
    seen: list[Any] = []
    got = threading.Event()
    with serve_gevent(app) as served:
        client = socketio.Client(reconnection=False)

        @client.on("auth")
        def on_auth(value: Any) -> None:
            seen.append(value)
            got.set()

        client.connect(served.url, wait_timeout=TIMEOUT)
        try:
            assert got.wait(TIMEOUT)
        finally:
            client.disconnect()
    assert seen == ["None"]


def test_js_client_without_auth_gives_none() -> None:
    app, sio = auth_app()
    with serve_gevent(app) as served:
        result = run_node("sio_client.js", {"url": served.url, "steps": [
            {"op": "connect", "name": "a"},
            {"op": "wait", "name": "a", "event": "auth"},
        ]})
    assert result["ok"], result
    events = result["sockets"]["a"]["events"]
    assert [args for name, *args in events if name == "auth"] == [["None"]]


def test_threading_background_task_is_a_thread() -> None:
    """In threading mode the reference returns the started (daemon) thread itself: apps call
    ``is_alive()`` and ``join()`` on it."""
    app = Flask(__name__)
    socketio = SocketIO(app, async_mode="threading")
    release = threading.Event()
    task = socketio.start_background_task(release.wait, 10)
    assert isinstance(task, threading.Thread) and task.daemon
    assert task.is_alive()
    release.set()
    task.join(10)
    assert not task.is_alive()
