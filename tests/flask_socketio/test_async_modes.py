"""Async modes: what runs, and what fails at once saying what runs (issues 11 and 25).

* An unknown ``async_mode`` raises ``ValueError`` at ``SocketIO()``, naming the supported
  modes. ``'gevent_uwsgi'`` is accepted: the gevent driver on uWSGI's gevent loop (served for
  real in tests/flask_socketio/test_real_clients.py), and so is ``'eventlet'`` (issue 25).
* A process that ``eventlet.monkey_patch()``ed runs on eventlet (``async_mode`` None picks it,
  and the start-up log line says so); a gevent mode in such a process, or a process patched
  by both gevent and eventlet, raises a ``RuntimeError`` that says what to do, at
  ``SocketIO()`` or at ``socketio.run()`` when the patching came after the ``SocketIO``
  object was made. eventlet runs for real in subprocesses only: its patching must never
  reach this (gevent) pytest process.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
from flask import Flask

from flask_socketio import SocketIO
from tests.flask_socketio.conftest import REPO, TIMEOUT, free_port

UNSUPPORTED = ["asyncio", "no-such-mode", "uwsgi", "eventlet_uwsgi"]


def _assert_names_supported_modes(message: str) -> None:
    assert message.startswith("Invalid async_mode specified")
    assert "'gevent'" in message and "'threading'" in message and "'gevent_uwsgi'" in message
    assert "'eventlet'" in message


@pytest.mark.parametrize("mode", UNSUPPORTED)
def test_unsupported_async_mode_fails_at_socketio_with_app(mode: str) -> None:
    with pytest.raises(ValueError) as info:
        SocketIO(Flask(__name__), async_mode=mode)
    _assert_names_supported_modes(str(info.value))
    assert repr(mode) in str(info.value)


@pytest.mark.parametrize("mode", UNSUPPORTED)
def test_unsupported_async_mode_fails_at_socketio_without_app_and_at_init_app(mode: str) -> None:
    with pytest.raises(ValueError) as info:
        SocketIO(async_mode=mode)
    _assert_names_supported_modes(str(info.value))
    socketio = SocketIO()
    with pytest.raises(ValueError) as info:
        socketio.init_app(Flask(__name__), async_mode=mode)
    _assert_names_supported_modes(str(info.value))


@pytest.mark.parametrize("mode", ["gevent", "threading", "gevent_uwsgi", None])
def test_supported_async_modes_are_accepted(mode: str | None) -> None:
    socketio = SocketIO(Flask(__name__), async_mode=mode)
    assert socketio.async_mode in ("gevent", "threading", "gevent_uwsgi")
    if mode is not None:
        assert socketio.async_mode == mode
    if mode == "gevent_uwsgi":  # the gevent driver: uWSGI's gevent loop is gevent's hub
        assert socketio.server is not None and socketio.server.eio.driver.name == "gevent"


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-W", "ignore", "-c", textwrap.dedent(code)],
                          capture_output=True, text=True, timeout=TIMEOUT * 2, cwd=REPO)


def test_eventlet_monkey_patched_process_runs_on_eventlet() -> None:
    """Before issue 25 this process got a RuntimeError at SocketIO(app)."""
    proc = _run("""
        import eventlet
        eventlet.monkey_patch()
        import logging, sys
        logging.basicConfig(stream=sys.stdout, level=logging.INFO, format="%(message)s")
        from flask import Flask
        from flask_socketio import SocketIO
        app = Flask("patched")
        auto = SocketIO(app, engineio_logger=True)
        explicit = SocketIO(Flask("explicit"), async_mode="eventlet")
        print("modes", auto.async_mode, explicit.async_mode, explicit.server.eio.driver.name)
    """)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "modes eventlet eventlet eventlet" in proc.stdout
    assert "Server initialized for eventlet." in proc.stdout


def test_eventlet_mode_without_monkey_patching() -> None:
    """async_mode='eventlet' in a process that did not patch: the driver uses green sockets
    and eventlet's hub by itself (the test client drives it)."""
    proc = _run("""
        from flask import Flask
        from flask_socketio import SocketIO
        app = Flask("unpatched")
        socketio = SocketIO(app, async_mode="eventlet")
        @socketio.on("echo")
        def echo(data):
            socketio.sleep(0.01)
            return data
        client = socketio.test_client(app)
        print("echo", client.emit("echo", {"x": 1}, callback=True), socketio.async_mode)
    """)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "echo {'x': 1} eventlet" in proc.stdout


@pytest.mark.parametrize("patch", [True, False])
def test_test_client_and_background_tasks_under_eventlet(patch: bool) -> None:
    """The test client under eventlet, as under gevent: a background task (started from a
    handler, sleeping with socketio.sleep) emits; the test waits with time.sleep() and finds
    the messages in get_received(), in order."""
    proc = _run(f"""
        import eventlet
        if {patch!r}:
            eventlet.monkey_patch()
        import time
        from flask import Flask
        from flask_socketio import SocketIO, emit
        app = Flask("tasks")
        socketio = SocketIO(app, async_mode="eventlet")
        def ticker(sid):
            for i in range(3):
                socketio.sleep(0.01)
                socketio.emit("tick", i, to=sid)
        @socketio.on("start")
        def start():
            from flask import request
            socketio.start_background_task(ticker, request.sid)
            emit("started")
        client = socketio.test_client(app)
        client.emit("start")
        deadline = time.monotonic() + 10
        ticks = []
        while len(ticks) < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
            ticks += [m["args"][0] for m in client.get_received() if m["name"] == "tick"]
        print("ticks", ticks)
    """)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "ticks [0, 1, 2]" in proc.stdout, proc.stdout + proc.stderr[-2000:]


@pytest.mark.parametrize("mode", ["gevent", "gevent_uwsgi"])
def test_gevent_mode_in_an_eventlet_patched_process_fails_at_socketio(mode: str) -> None:
    proc = _run(f"""
        import eventlet
        eventlet.monkey_patch()
        from flask import Flask
        from flask_socketio import SocketIO
        socketio = SocketIO(Flask("patched"), async_mode={mode!r})
        print("SocketIO was created")
    """)
    assert proc.returncode != 0
    assert "SocketIO was created" not in proc.stdout
    assert f"MixedPatchingError: async_mode={mode!r} in a process that eventlet monkey-patched" in proc.stderr, \
        proc.stderr[-2000:]
    assert "use async_mode='eventlet'" in proc.stderr


def test_eventlet_patched_after_socketio_fails_at_run_before_listening() -> None:
    port = free_port()
    proc = _run(f"""
        from flask import Flask
        from flask_socketio import SocketIO
        app = Flask("patched-late")
        socketio = SocketIO(app)
        import eventlet
        eventlet.monkey_patch()
        socketio.run(app, port={port})
        print("run returned")
    """)
    assert proc.returncode != 0
    assert "run returned" not in proc.stdout
    assert "MixedPatchingError: async_mode='gevent' in a process that eventlet monkey-patched" in proc.stderr, \
        proc.stderr[-2000:]


def test_gevent_and_eventlet_patching_one_process_fails_with_a_clear_error() -> None:
    proc = _run("""
        from gevent import monkey
        monkey.patch_all()
        import eventlet
        eventlet.monkey_patch()
        from flask import Flask
        from flask_socketio import SocketIO
        socketio = SocketIO(Flask("mixed"))
        print("SocketIO was created")
    """)
    assert "SocketIO was created" not in proc.stdout
    assert "both gevent and eventlet have monkey-patched this process" in proc.stderr, proc.stderr[-2000:]


def test_eventlet_mode_in_a_gevent_patched_process_fails_at_socketio() -> None:
    proc = _run("""
        from gevent import monkey
        monkey.patch_all()
        from flask import Flask
        from flask_socketio import SocketIO
        socketio = SocketIO(Flask("gevent-patched"), async_mode="eventlet")
        print("SocketIO was created")
    """)
    assert proc.returncode != 0
    assert "SocketIO was created" not in proc.stdout
    assert "async_mode='eventlet' in a process that gevent monkey-patched" in proc.stderr, proc.stderr[-2000:]


def test_eventlet_imported_but_not_patched_is_fine() -> None:
    proc = _run("""
        import eventlet  # installed and imported (e.g. by another library), never patched
        from flask import Flask
        from flask_socketio import SocketIO
        app = Flask("unpatched")
        socketio = SocketIO(app)
        client = socketio.test_client(app)
        print("connected", client.is_connected(), socketio.async_mode)
    """)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "connected True gevent" in proc.stdout
