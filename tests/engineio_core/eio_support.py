"""Helpers for the engineio_core tests: a recording Engine.IO app and raw HTTP over loopback.

`EngineHarness` wraps an `EngineServer` whose handlers record every connect, message and
disconnect (thread-safely: the server runs in its own thread/hub) and echo messages back.
`http()` speaks HTTP/1.1 through `http.client` with a bounded timeout and returns the status,
the headers and the raw body, so tests can assert exact status lines and JSON-quoted bodies.
The server fixtures of `tests/conftest.py` are re-exported from here.
"""

from __future__ import annotations

import http.client as httpclient
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import engineio_core
from tests.conftest import run_node, serve_gevent, serve_werkzeug, wait_for

__all__ = [
    "EngineHarness", "Response", "handshake", "http", "make_harness", "poll", "post",
    "run_node", "serve_gevent", "serve_werkzeug", "wait_for", "wait_poll_pending",
]

TIMEOUT = 10.0


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")

    def json(self) -> Any:
        return json.loads(self.body)


def http(
    port: int,
    method: str = "GET",
    query: str = "EIO=4&transport=polling",
    body: bytes | str | None = None,
    headers: dict[str, str] | None = None,
    path: str = "/engine.io/",
    timeout: float = TIMEOUT,
) -> Response:
    """One request on a fresh connection; headers are returned with lower-case names."""
    conn = httpclient.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        if isinstance(body, str):
            body = body.encode("utf-8")
        conn.request(method, f"{path}?{query}" if query else path, body=body, headers=headers or {})
        resp = conn.getresponse()
        data = resp.read()
        return Response(resp.status, {k.lower(): v for k, v in resp.getheaders()}, data)
    finally:
        conn.close()


def handshake(port: int, query: str = "EIO=4&transport=polling", **kwargs: Any) -> str:
    """Open a polling session; return its sid."""
    resp = http(port, "GET", query, **kwargs)
    assert resp.status == 200, (resp.status, resp.body)
    assert resp.text.startswith("0"), resp.text
    sid: str = json.loads(resp.text[1:])["sid"]
    return sid


def poll(port: int, sid: str, **kwargs: Any) -> Response:
    return http(port, "GET", f"EIO=4&transport=polling&sid={sid}", **kwargs)


def post(port: int, sid: str, body: bytes | str, **kwargs: Any) -> Response:
    return http(port, "POST", f"EIO=4&transport=polling&sid={sid}", body=body, **kwargs)


@dataclass
class EngineHarness:
    """An `EngineServer` with recording, echoing handlers."""

    eio: engineio_core.EngineServer
    app: engineio_core.WSGIApp
    connects: list[str] = field(default_factory=list)
    messages: list[tuple[str, str | bytes]] = field(default_factory=list)
    disconnects: list[tuple[str, str, float]] = field(default_factory=list)
    cond: threading.Condition = field(default_factory=threading.Condition)

    def wait(self, predicate: Callable[[], Any], timeout: float = TIMEOUT) -> Any:
        """Block until `predicate()` (evaluated under the lock) is truthy, or fail."""
        with self.cond:
            ok = self.cond.wait_for(predicate, timeout)
        assert ok, "condition not met in time"
        return ok

    def wait_disconnect(self, sid: str, timeout: float = TIMEOUT) -> tuple[str, float]:
        """The (reason, monotonic time) of `sid`'s disconnect, once it happened."""
        self.wait(lambda: any(d[0] == sid for d in self.disconnects), timeout)
        with self.cond:
            for d_sid, reason, at in self.disconnects:
                if d_sid == sid:
                    return reason, at
        raise AssertionError("unreachable")

    def disconnected(self, sid: str) -> bool:
        with self.cond:
            return any(d[0] == sid for d in self.disconnects)

    def assert_alive(self, port: int, sid: str) -> None:
        """`sid` still works both ways: a POSTed message is echoed back on the next poll."""
        resp = post(port, sid, "4still-alive")
        assert (resp.status, resp.text) == (200, "ok")
        resp = poll(port, sid)
        assert (resp.status, resp.text) == (200, "4still-alive")


def make_harness(
    connect: Callable[[str, dict[str, Any]], Any] | None = None,
    echo: bool = True,
    wsgi_app: Callable[..., Any] | None = None,
    **options: Any,
) -> EngineHarness:
    eio = engineio_core.EngineServer(**options)
    harness = EngineHarness(eio, engineio_core.WSGIApp(eio, wsgi_app))

    @eio.on("connect")
    def on_connect(eio_sid: str, environ: dict[str, Any]) -> Any:
        result = connect(eio_sid, environ) if connect is not None else None
        if result is not False:
            with harness.cond:
                harness.connects.append(eio_sid)
                harness.cond.notify_all()
        return result

    @eio.on("message")
    def on_message(eio_sid: str, data: str | bytes) -> None:
        with harness.cond:
            harness.messages.append((eio_sid, data))
            harness.cond.notify_all()
        if echo:
            eio.send(eio_sid, data)

    @eio.on("disconnect")
    def on_disconnect(eio_sid: str, reason: str) -> None:
        at = time.monotonic()
        with harness.cond:
            harness.disconnects.append((eio_sid, reason, at))
            harness.cond.notify_all()

    return harness


def wait_poll_pending(eio: engineio_core.EngineServer, sid: str, timeout: float = TIMEOUT) -> None:
    """Block until `sid` has a long-poll waiting in the server (reads a private attribute: the
    only way to order "GET is pending" before a concurrent request without sleeping)."""
    def pending() -> bool:
        conn = eio._conns.get(sid)
        return conn is not None and conn.poll_waiter is not None

    wait_for(pending, timeout)
