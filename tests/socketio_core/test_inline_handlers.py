"""Handlers run inline in the WebSocket reader, under the driver's guard: a handler that blocks
hands reading over to a new greenlet. These tests pin what users can observe: a blocked
handler never stalls its connection (later events, PONGs and the acks a `call()` waits for
are still read), and a client's events keep their order."""

from __future__ import annotations

import threading
from typing import Any

import socketio  # the python-socketio *client* (test-time only)
from server_helpers import TIMEOUT, make_server, serve_gevent, wait_for


def connect(url: str) -> socketio.Client:
    client = socketio.Client(reconnection=False)
    client.connect(url, transports=["websocket"], wait_timeout=TIMEOUT)
    return client


def test_a_blocked_handler_does_not_stall_its_connection() -> None:
    sio, app = make_server()
    release = threading.Event()
    seen: list[str] = []

    @sio.on("slow")
    def slow(sid: str) -> str:
        seen.append("slow started")
        while not release.is_set():  # blocks (cooperatively) until the test releases it
            sio.sleep(0.01)
        seen.append("slow done")
        return "slow"

    @sio.on("fast")
    def fast(sid: str, n: int) -> int:
        seen.append(f"fast {n}")
        return n

    with serve_gevent(app) as srv:
        client = connect(srv.url)
        try:
            slow_ack: list[Any] = []
            client.emit("slow", callback=lambda value: slow_ack.append(value))
            wait_for(lambda: "slow started" in seen)
            # The connection is still read while "slow" blocks: these run and are acked.
            for n in range(5):
                assert client.call("fast", n, timeout=TIMEOUT) == n
            assert slow_ack == []
            release.set()
            wait_for(lambda: slow_ack == ["slow"])
        finally:
            client.disconnect()
    assert seen[:1] == ["slow started"] and seen[-1] == "slow done"
    assert [s for s in seen if s.startswith("fast")] == [f"fast {n}" for n in range(5)]


def test_call_to_the_same_client_from_a_handler() -> None:
    """The handler waits for an ack that arrives on its own connection: no deadlock."""
    sio, app = make_server()

    @sio.on("ask_back")
    def ask_back(sid: str) -> Any:
        return sio.call("question", "ping?", to=sid, timeout=TIMEOUT)

    with serve_gevent(app) as srv:
        client = connect(srv.url)
        client.on("question", lambda text: text.replace("?", "!"))
        try:
            assert client.call("ask_back", timeout=TIMEOUT) == "ping!"
        finally:
            client.disconnect()


def test_a_handler_blocked_past_the_ping_timeout_keeps_the_connection() -> None:
    sio, app = make_server(ping_interval=0.2, ping_timeout=0.3)
    release = threading.Event()
    disconnects: list[str] = []
    sio.on("disconnect", lambda sid, reason: disconnects.append(reason))

    @sio.on("long")
    def long(sid: str) -> str:
        # Longer than ping_interval + ping_timeout: the PONGs must still be read meanwhile.
        while not release.wait(0):
            sio.sleep(0.05)
        return "done"

    # Count heartbeat reschedules (one after each PING sent, one after each PONG read).
    beats: list[str] = []
    schedule = sio.eio.schedule

    def counting_schedule(conn: Any) -> None:
        beats.append(conn.session.eio_sid)
        schedule(conn)

    sio.eio.schedule = counting_schedule  # type: ignore[method-assign]
    with serve_gevent(app) as srv:
        client = connect(srv.url)
        try:
            acked: list[Any] = []
            client.emit("long", callback=lambda value: acked.append(value))
            wait_for(lambda: len(sio.eio._conns) == 1)
            start = len(beats)
            # At least 4 full heartbeats (> ping_interval + ping_timeout) go by while the
            # handler blocks, and the session survives them.
            wait_for(lambda: len(beats) - start >= 8)
            assert disconnects == []
            release.set()
            wait_for(lambda: acked == ["done"])
            assert client.connected
        finally:
            client.disconnect()


def test_events_of_one_client_keep_their_order() -> None:
    sio, app = make_server()
    order: list[int] = []

    @sio.on("n")
    def on_n(sid: str, n: int) -> None:
        order.append(n)
        if n % 10 == 0:
            sio.emit("echo", n, to=sid)

    with serve_gevent(app) as srv:
        client = connect(srv.url)
        echoes: list[int] = []
        client.on("echo", lambda n: echoes.append(n))
        try:
            for n in range(200):
                client.emit("n", n)
            wait_for(lambda: len(order) == 200)
            wait_for(lambda: len(echoes) == 20)
        finally:
            client.disconnect()
    assert order == list(range(200))
    assert echoes == list(range(0, 200, 10))
