"""Shared test fixtures: real servers on 127.0.0.1 ephemeral ports, real clients.

`serve_gevent(app)` runs gevent's pywsgi (through `engineio_core.serving.make_server`) in its
own OS thread with its own hub; `serve_werkzeug(app)` runs the Werkzeug dev server in threads.
Both yield a `Served` with `.url`/`.port` and stop cleanly. `run_node(script, options)` runs a
JS peer from tests/node with the official clients installed by scripts/setup.sh.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NODE_DIR = os.path.join(ROOT, "tests", "node")


@dataclass
class Served:
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


@contextmanager
def serve_gevent(app: Callable[..., Any], **kwargs: Any) -> Iterator[Served]:
    """Serve `app` on gevent pywsgi in a dedicated thread (own hub) on an ephemeral port."""
    import gevent

    from engineio_core.serving import make_server

    ready = threading.Event()
    box: dict[str, Any] = {}

    def run() -> None:
        server = make_server(app, "127.0.0.1", 0, **kwargs)
        server.start()
        box["server"] = server
        box["hub"] = gevent.get_hub()
        box["stop"] = gevent.event.Event()
        ready.set()
        box["stop"].wait()
        server.stop(timeout=1)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert ready.wait(10), "server thread did not start"
    try:
        yield Served("127.0.0.1", box["server"].server_port)
    finally:
        box["hub"].loop.run_callback_threadsafe(box["stop"].set)
        thread.join(5)


@contextmanager
def serve_werkzeug(app: Callable[..., Any]) -> Iterator[Served]:
    """Serve `app` on the Werkzeug dev server (threaded) on an ephemeral port."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Served("127.0.0.1", server.server_port)
    finally:
        server.shutdown()
        thread.join(5)


def node_available() -> bool:
    return shutil.which("node") is not None and os.path.isdir(os.path.join(ROOT, "node_modules"))


def run_node(script: str, options: dict[str, Any], timeout: float = 60) -> dict[str, Any]:
    """Run tests/node/<script> with JSON options; return the JSON object it prints last."""
    if not node_available():
        pytest.fail("node and the npm packages are required: run scripts/setup.sh")
    proc = subprocess.run(
        ["node", os.path.join(NODE_DIR, script), json.dumps(options)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    assert lines, f"node printed no result (rc={proc.returncode}): {proc.stdout}\n{proc.stderr}"
    result: dict[str, Any] = json.loads(lines[-1])
    return result


class LogRecorder(logging.Handler):
    """The formatted records of a logger, from every thread, with bounded waits."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.cond = threading.Condition()
        self.records: list[tuple[int, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        with self.cond:
            self.records.append((record.levelno, record.getMessage()))
            self.cond.notify_all()

    def messages(self) -> list[str]:
        with self.cond:
            return [message for _, message in self.records]

    def has(self, *fragments: str) -> bool:
        return any(all(f in m for f in fragments) for m in self.messages())

    def wait_for(self, *fragments: str, timeout: float = 10.0) -> str:
        """Block until a message containing every fragment was logged; return it."""

        def find() -> str | None:
            for _, message in self.records:
                if all(f in message for f in fragments):
                    return message
            return None

        with self.cond:
            found = self.cond.wait_for(find, timeout)
        assert found, f"no log message with {fragments}; last: {self.messages()[-20:]}"
        return str(found)


def wait_for(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.01) -> Any:
    """Poll `predicate` until truthy or `timeout` (a bounded wait on an observable condition)."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)
