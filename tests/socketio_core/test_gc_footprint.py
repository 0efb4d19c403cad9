"""How many objects the garbage collector tracks per idle WebSocket connection (issue 27).

A full (generation 2) collection scans every tracked object of the process: at 18,000
connections each tracked object per connection costs about 10 ms of pause. This test opens
200 real WebSocket Socket.IO connections (raw sockets, the upgrade and the CONNECT written by
hand) to a real server on 127.0.0.1 in this process, and counts the tracked objects that
appeared, minus the client sockets themselves. A count, not a time: deterministic.

The goal of issue 27 is at most 10 per connection; the stack is not there yet (see
docs/architecture.md, "Garbage collection"): the bound below is what it holds today, so the
count can only go down. A second test checks that closing connections leaves no cyclic
garbage: with gc.freeze() (see docs/architecture.md) a cycle would never be freed.
"""

from __future__ import annotations

import gc
import os
import socket
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import serve_gevent, wait_for
from tests.socketio_core.server_helpers import make_server

CONNECTIONS = 200
#: Tracked objects per idle connection measured when this test was written (26.3; 32.3 before
#: the write-error closure became a slotted object and idle readers and WebSockets stopped
#: keeping empty lists, and the environ its request-body reader). The goal is 10. The count is
#: of the whole process: in the full suite it measured 26.3 to 33.4 (once, with 4 lists and 3
#: io objects per connection more; which earlier test leaves them is not found yet), so the
#: ceiling is that worst run, not the best one.
CEILING = 34


def _masked(payload: bytes) -> bytes:
    mask = os.urandom(4)
    return bytes([0x81, 0x80 | len(payload)]) + mask + bytes(
        b ^ mask[i % 4] for i, b in enumerate(payload)
    )


def _read_until(sock: socket.socket, marker: bytes, buf: bytes = b"") -> bytes:
    while marker not in buf:
        chunk = sock.recv(4096)
        assert chunk, f"the server closed the connection before {marker!r}"
        buf += chunk
    return buf


def _connect(port: int) -> socket.socket:
    """One WebSocket Engine.IO session, connected to Socket.IO namespace "/"."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(
        b"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: localhost\r\n"
        b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    buf = _read_until(sock, b'"maxPayload"', _read_until(sock, b"\r\n\r\n"))
    sock.sendall(_masked(b"40"))
    _read_until(sock, b'40{"sid"', buf)
    return sock


def _tracked(exclude: set[int]) -> Counter[str]:
    gc.collect()
    return Counter(type(o).__name__ for o in gc.get_objects() if id(o) not in exclude)


@pytest.fixture
def server() -> Iterator[tuple[Any, int]]:
    sio, app = make_server(logger=False)
    with serve_gevent(app) as served:
        yield sio, served.port


def test_tracked_objects_per_idle_websocket_connection(server: tuple[Any, int]) -> None:
    sio, port = server
    warm = [_connect(port) for _ in range(3)]  # first-use allocations happen before the count
    wait_for(lambda: len(sio._clients) == 3)
    socks: list[socket.socket] = []
    before = _tracked({id(socks)})
    try:
        for _ in range(CONNECTIONS):
            socks.append(_connect(port))
        wait_for(lambda: len(sio._clients) == 3 + CONNECTIONS)
        after = _tracked({id(s) for s in socks} | {id(socks)})
        added = after - before
        per_connection = sum(added.values()) / CONNECTIONS
        breakdown = {name: round(count / CONNECTIONS, 2) for name, count in added.most_common(12)}
        assert per_connection <= CEILING, (per_connection, breakdown)
        # No greenlet per idle connection: reading is driven by readiness callbacks.
        assert added["greenlet"] < CONNECTIONS // 10, breakdown
    finally:
        for sock in socks + warm:
            sock.close()
    wait_for(lambda: len(sio._clients) == 0)


def test_closed_connections_leave_no_cyclic_garbage(server: tuple[Any, int]) -> None:
    sio, port = server
    warm = [_connect(port) for _ in range(3)]
    wait_for(lambda: len(sio._clients) == 3)
    gc.collect()
    gc.disable()  # what the closed connections leave must wait for the collect() below
    try:
        socks = [_connect(port) for _ in range(CONNECTIONS)]
        wait_for(lambda: len(sio._clients) == 3 + CONNECTIONS)
        for sock in socks:
            sock.close()
        wait_for(lambda: len(sio._clients) == 3)
        # Reference counting alone must free a closed connection: a cycle per connection
        # (19 objects each before the write-error handler held its connection weakly) would
        # make this at least CONNECTIONS.
        unreachable = gc.collect()
    finally:
        gc.enable()
        for sock in warm:
            sock.close()
    assert unreachable < CONNECTIONS, unreachable
