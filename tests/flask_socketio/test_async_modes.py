"""Async modes this stack cannot run on fail at once, saying what it runs on (issue 11, item 10).

* ``async_mode='eventlet'`` (accepted by the reference) raises ``ValueError`` at
  ``SocketIO()``, naming the supported modes. ``'gevent_uwsgi'`` is accepted: the gevent
  driver on uWSGI's gevent loop (served for real in tests/flask_socketio/test_real_clients.py).
* A process that ``eventlet.monkey_patch()``ed before the app was imported: without a check
  the server listened and never answered anyone; now ``SocketIO(app)`` raises a
  ``RuntimeError`` that says why, and so does ``socketio.run()`` when the patching came
  after the ``SocketIO`` object was made. eventlet (a test dependency) runs for real in a
  subprocess.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
from flask import Flask

from flask_socketio import SocketIO
from tests.flask_socketio.conftest import REPO, TIMEOUT, free_port

UNSUPPORTED = ["eventlet", "asyncio", "no-such-mode", "uwsgi"]


def _assert_names_supported_modes(message: str) -> None:
    assert message.startswith("Invalid async_mode specified")
    assert "'gevent'" in message and "'threading'" in message and "'gevent_uwsgi'" in message


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


def test_eventlet_monkey_patched_process_fails_at_socketio() -> None:
    proc = _run("""
        import eventlet
        eventlet.monkey_patch()
        from flask import Flask
        from flask_socketio import SocketIO
        app = Flask("patched")
        socketio = SocketIO(app)
        print("SocketIO was created")
    """)
    assert proc.returncode != 0
    assert "SocketIO was created" not in proc.stdout
    assert "RuntimeError: eventlet has monkey-patched this process" in proc.stderr, proc.stderr[-2000:]
    assert "async_mode='threading'" in proc.stderr


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
    assert "RuntimeError: eventlet has monkey-patched this process" in proc.stderr, proc.stderr[-2000:]


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
