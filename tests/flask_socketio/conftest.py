"""Shared helpers for the Flask layer's tests (tests/flask_socketio and tests/browser).

* `free_port()`: an ephemeral TCP port on 127.0.0.1 that was free a moment ago.
* `ServerProcess`: a server started as a subprocess (``socketio.run``, gunicorn, ``flask run``,
  the chat example), waited for with a bounded poll of its Engine.IO endpoint, and stopped
  (terminate, then kill) when the ``with`` block ends. Its output goes to a log file that a
  failure message quotes.
* `EventLog`: what a python-socketio client received, recorded thread-safely and waited on
  with bounded timeouts (no sleeps as synchronisation).
* `python_client()`: a connected ``socketio.Client`` that records into an `EventLog`.
* `fresh_loggers` fixture: restores the ``socketio_core``/``engineio_core`` loggers, which
  ``logger=True`` changes process-wide.

Everything here is importable as ``tests.flask_socketio.conftest``.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# tests/ is on sys.path (the rootdir conftest): make sure `flask_socketio` is the real package,
# not tests/flask_socketio seen as a namespace package.
if REPO not in sys.path:
    sys.path.insert(0, REPO)

APPS_DIR = os.path.join(REPO, "tests", "flask_socketio", "apps")
VENV_BIN = os.path.dirname(sys.executable)
TIMEOUT = 15.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(predicate: Callable[[], Any], timeout: float = TIMEOUT, what: str = "condition") -> Any:
    """Poll `predicate` until it is truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met within {timeout}s")
        time.sleep(0.01)


class ServerProcess:
    """A server in a subprocess on 127.0.0.1:`port`, ready once its Engine.IO endpoint
    answers a handshake."""

    def __init__(self, argv: list[str], port: int, env: dict[str, str] | None = None,
                 cwd: str = REPO, ready_path: str = "/socket.io/?EIO=4&transport=polling") -> None:
        self.argv = argv
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.cwd = cwd
        self.ready_path = ready_path
        self.env = dict(os.environ)
        self.env["PYTHONPATH"] = os.pathsep.join(
            p for p in (REPO, APPS_DIR, self.env.get("PYTHONPATH", "")) if p
        )
        self.env["PYTHONUNBUFFERED"] = "1"
        self.env.pop("FLASK_RUN_FROM_CLI", None)
        self.env.update(env or {})
        self.log = tempfile.NamedTemporaryFile(prefix="flask-sio-server-", suffix=".log", delete=False)
        self.proc: subprocess.Popen[bytes] | None = None

    def output(self) -> str:
        self.log.flush()
        with open(self.log.name, encoding="utf-8", errors="replace") as fh:
            return fh.read()

    def start(self, timeout: float = 30.0) -> ServerProcess:
        import requests

        self.proc = subprocess.Popen(
            self.argv, cwd=self.cwd, env=self.env, stdin=subprocess.DEVNULL,
            stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited early (rc={self.proc.returncode}):\n{self.output()}")
            try:
                resp = requests.get(self.url + self.ready_path, timeout=2)
                if resp.status_code == 200:
                    return self
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise AssertionError(f"server not ready within {timeout}s:\n{self.output()}")
            time.sleep(0.05)

    def wait_exit(self, timeout: float = TIMEOUT) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout)

    def stop(self) -> None:
        proc = self.proc
        if proc is not None and proc.poll() is None:
            try:
                os.killpg(proc.pid, 15)
            except ProcessLookupError:
                pass
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, 9)
                proc.wait(5)
        self.log.close()

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
        try:
            os.unlink(self.log.name)
        except OSError:
            pass


class EventLog:
    """Events a client received: ``[(event, args), ...]``, with bounded waits."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self.items: list[tuple[str, tuple[Any, ...]]] = []

    def add(self, event: str, *args: Any) -> None:
        with self._cond:
            self.items.append((event, args))
            self._cond.notify_all()

    def of(self, event: str) -> list[tuple[Any, ...]]:
        with self._cond:
            return [args for name, args in self.items if name == event]

    def wait(self, event: str, count: int = 1, timeout: float = TIMEOUT) -> list[tuple[Any, ...]]:
        with self._cond:
            ok = self._cond.wait_for(lambda: len([1 for n, _ in self.items if n == event]) >= count, timeout)
            got = [args for name, args in self.items if name == event]
        assert ok, f"expected {count} {event!r} event(s) within {timeout}s, got {got!r}"
        return got


@contextmanager
def python_client(url: str, events: tuple[str, ...] = (), namespaces: list[str] | None = None,
                  auth: Any = None, transports: list[str] | None = None,
                  log: EventLog | None = None,
                  engineio_logger: logging.Logger | None = None) -> Iterator[tuple[Any, EventLog]]:
    """A python-socketio client connected to `url`, recording `events` of every namespace."""
    import socketio

    log = log or EventLog()
    client = socketio.Client(reconnection=False, engineio_logger=engineio_logger or False)
    for ns in namespaces or ["/"]:
        for event in events:
            client.on(event, (lambda e: lambda *args: log.add(e, *args))(event), namespace=ns)
        client.on("connect_error", lambda data: log.add("connect_error", data), namespace=ns)
        client.on("disconnect", (lambda n: lambda *args: log.add("disconnect", n, *args))(ns), namespace=ns)
    client.connect(url, namespaces=namespaces or ["/"], auth=auth, transports=transports,
                   wait_timeout=TIMEOUT)
    try:
        yield client, log
    finally:
        _let_writes_finish(client)
        client.disconnect()


def _let_writes_finish(client: Any, timeout: float = 5.0) -> None:
    """Wait (bounded) until the client has sent what it queued. python-engineio's polling
    write loop drops the CLOSE packet of a disconnect() that comes while it is still
    finishing a POST (it re-checks its state first); the server then sees the client go only
    at the next ping, 25 s later."""
    queue = getattr(getattr(client, "eio", None), "queue", None)
    if getattr(client, "eio", None) is not None and getattr(client.eio, "state", "") != "connected":
        return  # nothing more will be written
    # Issue 21 #7: never give up silently (a changed client or a write that never ends would
    # make the wait a no-op, and the test after it flaky).
    assert queue is not None and hasattr(queue, "unfinished_tasks"), "python-engineio's write queue is gone"
    deadline = time.monotonic() + timeout
    while queue.unfinished_tasks:
        assert time.monotonic() < deadline, f"the client still had {queue.unfinished_tasks} writes after {timeout}s"
        time.sleep(0.005)


@pytest.fixture
def fresh_loggers() -> Iterator[None]:
    """Put the core loggers back as they were (``logger=True`` changes them process-wide)."""
    saved = []
    for name in ("socketio_core", "engineio_core"):
        logger = logging.getLogger(name)
        saved.append((logger, logger.level, list(logger.handlers)))
        logger.setLevel(logging.NOTSET)
    try:
        yield
    finally:
        for logger, level, handlers in saved:
            logger.setLevel(level)
            logger.handlers[:] = handlers
