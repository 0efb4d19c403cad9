"""In-process fan-out: one ``emit`` to a room of N sessions, no sockets, no event loop.

Ours: a ``socketio_core.SocketServer`` with N *virtual* Engine.IO sessions
(``server.eio.attach_virtual``), each connected to ``/`` with a real CONNECT packet through
``server._handle_eio_message`` and put in one room. The sink of a session stands where a
WebSocket transport would and keeps what it gets in a list: the measured path is everything
up to the connection's outbox (encode once, look up the room, N deliveries).

The reference (best effort, for a ratio): python-socketio's ``Server`` with N in-memory
python-engineio ``Socket`` objects registered in ``server.eio.sockets``; a delivery is its
``queue.put`` of the Engine.IO packet, which is where its WebSocket writer picks it up.

    python benchmarks/bench_fanout.py --impl ours --sessions 1000 --duration 1
    .venv-ref/bin/python -I benchmarks/bench_fanout.py --impl reference

Prints one JSON object: emits/s and deliveries/s for each session count, per second of this
process's CPU time (so that other processes on a shared machine do not count), and per
wall-clock second.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
ROOM = "fanout"


def environ() -> dict[str, Any]:
    return {"REQUEST_METHOD": "GET", "PATH_INFO": "/socket.io/", "QUERY_STRING": "EIO=4&transport=websocket"}


class Sink:
    """Stands where a WebSocket would: the server calls ``send(EncodedMessage)``."""

    __slots__ = ("outbox",)

    def __init__(self) -> None:
        self.outbox: list[Any] = []

    def send(self, message: Any) -> None:
        self.outbox.append(message)

    def close(self, code: int = 1000, reason: str = "") -> None:
        pass


def ours(sessions: int) -> tuple[Callable[[int], None], Callable[[], int], str]:
    """A server with `sessions` virtual sessions in one room; returns (emit, drain, where)."""
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    import socketio_core
    from socketio_core.server.server import SocketServer

    server = SocketServer(async_handlers=False)
    sinks: list[Sink] = []
    for n in range(sessions):
        eio_sid = f"bench{n:08d}"
        sink = Sink()
        server.eio.attach_virtual(eio_sid, environ(), sink)
        server._handle_eio_connect(eio_sid, environ())
        server._handle_eio_message(eio_sid, "0")
        sid = server._clients[eio_sid].namespaces["/"]
        server.enter_room(sid, ROOM)
        sinks.append(sink)
    drain = _drainer(sinks)
    assert drain() == sessions, "every session gets its CONNECT ack"

    def emit(i: int) -> None:
        server.emit("bcast", {"i": i, "pad": ""}, to=ROOM)

    return emit, drain, socketio_core.__file__


def reference(sessions: int) -> tuple[Callable[[int], None], Callable[[], int], str]:
    import socketio  # the reference stack, only in its own venv
    from engineio.socket import Socket

    server = socketio.Server(async_mode="gevent")
    socks = []
    for n in range(sessions):
        eio_sid = f"bench{n:08d}"
        sock = Socket(server.eio, eio_sid)
        sock.connected = True
        server.eio.sockets[eio_sid] = sock
        server._handle_eio_connect(eio_sid, environ())
        server._handle_eio_message(eio_sid, "0")
        sid = server.manager.sid_from_eio_sid(eio_sid, "/")
        server.enter_room(sid, ROOM)
        socks.append(sock)

    def drain() -> int:
        count = 0
        for sock in socks:
            count += sock.queue.qsize()
            sock.queue = server.eio.create_queue()
        return count

    assert drain() == sessions, "every session gets its CONNECT ack"

    def emit(i: int) -> None:
        server.emit("bcast", {"i": i, "pad": ""}, to=ROOM)

    return emit, drain, socketio.__file__


def _drainer(sinks: list[Sink]) -> Callable[[], int]:
    def drain() -> int:
        count = 0
        for sink in sinks:
            count += len(sink.outbox)
            sink.outbox.clear()
        return count

    return drain


def measure(impl: str, sessions: int, duration: float) -> dict[str, Any]:
    build = ours if impl == "ours" else reference
    t0 = time.perf_counter()
    emit, drain, where = build(sessions)
    setup = time.perf_counter() - t0
    batch = max(1, 20_000 // sessions)  # deliveries held between drains stay bounded
    emits = 0
    busy = 0.0  # CPU seconds of this process in emit(): time the machine gave to others is not ours
    wall = 0.0
    delivered = 0
    deadline = time.perf_counter() + duration
    while time.perf_counter() < deadline:
        start, cpu = time.perf_counter(), time.process_time()
        for i in range(batch):
            emit(i)
        busy += time.process_time() - cpu
        wall += time.perf_counter() - start
        emits += batch
        delivered += drain()
    if delivered != emits * sessions:
        raise SystemExit(f"{impl}: {delivered} deliveries for {emits} emits x {sessions} sessions")
    return {
        "sessions": sessions,
        "emits": emits,
        "emits_per_s": emits / busy,
        "deliveries_per_s": emits * sessions / busy,
        "deliveries_per_wall_s": emits * sessions / wall,
        "connect_s": setup,
        "module": where,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--impl", choices=["ours", "reference"], default="ours")
    parser.add_argument("--sessions", default="1000,10000", help="comma-separated room sizes")
    parser.add_argument("--duration", type=float, default=1.0, help="seconds per room size")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sessions.split(",") if s]
    if not 0 < args.duration <= 30:
        parser.error("--duration must be in (0, 30]")
    results = {str(n): measure(args.impl, n, args.duration) for n in sizes}
    print(json.dumps({"impl": args.impl, "results": results}))


if __name__ == "__main__":
    main()
