"""Connection state recovery on one node, with the official client (socket.io-client@4).

The client joins a room, its Engine.IO connection is closed (``socket.io.engine.close()``), the
server broadcasts 100 messages to the room meanwhile, and the client reconnects: it must be
recovered (same sid, ``socket.recovered``), get the 100 in order with no duplicate, still be in
the room with its session data, over WebSocket and polling, JSON and msgpack. Past
``max_disconnection_duration`` or the log's size bound, or after a manual disconnect, it gets a
normal new connection and nothing is replayed.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from recovery_support import NodeClients

import engineio_core
from socketio_core.server.server import SocketServer
from tests.conftest import serve_gevent

pytestmark = pytest.mark.node
MISSED = 100


class App:
    def __init__(self, **recovery: Any) -> None:
        serializer = recovery.pop("serializer", "default")
        self.sio = SocketServer(async_mode="gevent", serializer=serializer,
                                connection_state_recovery=recovery or True)
        self.wsgi = engineio_core.WSGIApp(self.sio, engineio_path="socket.io")
        self.cond = threading.Condition()
        self.connects: list[str] = []
        self.disconnects: list[tuple[str, str]] = []
        sio = self.sio

        @sio.on("connect")
        def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
            with self.cond:
                self.connects.append(sid)
                self.cond.notify_all()

        @sio.on("disconnect")
        def disconnect(sid: str, reason: str) -> None:
            with self.cond:
                self.disconnects.append((sid, reason))
                self.cond.notify_all()

        @sio.on("join")
        def join(sid: str, room: str, data: Any) -> bool:
            sio.enter_room(sid, room)
            sio.save_session(sid, data)
            return True

        @sio.on("whoami")
        def whoami(sid: str) -> Any:
            return {"sid": sid, "rooms": sorted(sio.rooms(sid)), "session": sio.get_session(sid),
                    "recovered": sio.recovered(sid)}

    def wait_disconnects(self, count: int) -> None:
        with self.cond:
            assert self.cond.wait_for(lambda: len(self.disconnects) >= count, 10), self.disconnects

    def broadcast(self, numbers: range, room: str = "r") -> None:
        """Emit `msg` i to the room, from this (foreign) thread, and wait until the loop has
        applied them all."""
        for i in numbers:
            self.sio.emit("msg", i, to=room)
        done = threading.Event()
        self.sio.eio.run_from_thread(done.set)
        assert done.wait(10)


@pytest.fixture
def served() -> Iterator[Any]:
    apps: list[Any] = []

    def serve(**recovery: Any) -> tuple[App, str]:
        app = App(**recovery)
        ctx = serve_gevent(app.wsgi)
        srv = ctx.__enter__()
        apps.append(ctx)
        return app, srv.url

    yield serve
    for ctx in apps:
        ctx.__exit__(None, None, None)


def numbers(report: dict[str, Any], client: int = 0) -> list[int]:
    return [args[0] for args in report["events"][client]]


@pytest.mark.parametrize("serializer", ["default", "msgpack"])
@pytest.mark.parametrize("transport", ["websocket", "polling"])
def test_recovers_room_session_and_missed_messages(served: Any, transport: str, serializer: str) -> None:
    app, url = served(serializer=serializer)
    node = NodeClients(url, transports=[transport], parser=serializer)
    try:
        sid = node.joined["ids"][0]
        app.broadcast(range(0, 1))  # the client's first offset
        node.command("wait msg 1", "waited")
        node.command("drop", "dropped")
        app.wait_disconnects(1)
        app.broadcast(range(1, 1 + MISSED))
        back = node.command("reconnect", "reconnected")
        assert back["recovered"] == [True] and back["ids"] == [sid]
        who = node.command("whoami", "whoami")["answers"][0]
        assert who == {"sid": sid, "rooms": sorted(["r", sid]), "session": {"tag": 0}, "recovered": True}
        app.broadcast(range(1 + MISSED, 2 + MISSED))
        node.command(f"wait msg {2 + MISSED}", "waited")
        report = node.command("report", "report")
        assert numbers(report) == list(range(0, 2 + MISSED))
        # Every replayable packet carries its offset last: a string.
        assert all(len(args) == 2 and isinstance(args[1], str) for args in report["events"][0])
        assert app.connects == [sid]  # skip_middlewares: the connect handler ran once
    finally:
        node.close()


def test_node_replays_except_rooms_broadcasts_not_volatile_nor_ack_emits() -> None:
    """The reference for the test below, run: Node socket.io 4.8 (node_modules) replays a
    broadcast with ``except`` rooms, filtered by the client's rooms (its sid, "r": the
    broadcasts except its sid or except "r" are not replayed), and neither a volatile
    broadcast nor one that waits for acks."""
    from tests.conftest import run_node

    result = run_node("recovery_rules_node.js", {}, timeout=30)
    assert result == {"recovered": True, "got": [
        ["first", "string"], ["skip_rooms", 0, "string"], ["skip_rooms", 1, "string"],
        ["skip_rooms", 2, "string"], ["plain", "string"]]}


@pytest.mark.parametrize("transport", ["websocket", "polling"])
def test_skip_rooms_broadcasts_are_replayed_volatile_and_ack_emits_are_not(served: Any, transport: str) -> None:
    """Node socket.io 4.8's rules (checked by running it): a broadcast with except-rooms is
    logged with them and replayed, filtered by the rooms the client was in; volatile emits and
    emits with an ack are not logged."""
    app, url = served()
    node = NodeClients(url, transports=[transport])
    try:
        sid = node.joined["ids"][0]
        app.broadcast(range(0, 1))
        node.command("wait msg 1", "waited")
        node.command("drop", "dropped")
        app.wait_disconnects(1)
        sio = app.sio
        for i in range(1, 21):
            sio.emit("msg", i, to="r", skip_rooms="muted")
        sio.emit("msg", -1, to="r", skip_rooms=["muted", "r"])  # the client's own room: left out
        sio.emit("msg", -2, skip_sid=sid)  # the client's sid: left out
        sio.emit("msg", -3, to="r", volatile=True)
        sio.emit("msg", -4, to="r", callback=lambda *args: None)
        app.broadcast(range(0, 0))  # wait until the loop applied the emits above
        back = node.command("reconnect", "reconnected")
        assert back["recovered"] == [True] and back["ids"] == [sid]
        app.broadcast(range(21, 22))
        node.command("wait msg 22", "waited")
        assert numbers(node.command("report", "report")) == list(range(0, 22))
    finally:
        node.close()


def test_past_max_disconnection_duration_nothing_is_replayed(served: Any) -> None:
    app, url = served(max_disconnection_duration=30)
    node = NodeClients(url)
    try:
        sid = node.joined["ids"][0]
        app.broadcast(range(0, 1))
        node.command("wait msg 1", "waited")
        node.command("drop", "dropped")
        app.wait_disconnects(1)
        app.broadcast(range(1, 1 + MISSED))
        real = app.sio.recovery.clock
        app.sio.recovery.clock = lambda: real() + 31  # the client comes back 31 s later
        back = node.command("reconnect", "reconnected")
        assert back["recovered"] == [False] and back["ids"] != [sid]
        who = node.command("whoami", "whoami")["answers"][0]
        assert who["rooms"] == [who["sid"]] and who["recovered"] is False
        app.broadcast(range(1000, 1001), room=who["sid"])
        node.command("wait msg 2", "waited")
        assert numbers(node.command("report", "report")) == [0, 1000]
        assert len(app.connects) == 2
    finally:
        node.close()


def test_past_the_log_size_nothing_is_replayed(served: Any) -> None:
    app, url = served(max_buffered_packets=50)
    node = NodeClients(url)
    try:
        app.broadcast(range(0, 1))
        node.command("wait msg 1", "waited")
        node.command("drop", "dropped")
        app.wait_disconnects(1)
        app.broadcast(range(1, 1 + MISSED))  # 100 > 50: the client's offset is gone
        back = node.command("reconnect", "reconnected")
        assert back["recovered"] == [False]
        who = node.command("whoami", "whoami")["answers"][0]
        app.broadcast(range(1000, 1001), room=who["sid"])
        node.command("wait msg 2", "waited")
        assert numbers(node.command("report", "report")) == [0, 1000]
    finally:
        node.close()


def test_a_manual_disconnect_is_not_recoverable(served: Any) -> None:
    app, url = served()
    node = NodeClients(url)
    try:
        sid = node.joined["ids"][0]
        app.broadcast(range(0, 1))
        node.command("wait msg 1", "waited")
        node.command("manual", "dropped")
        app.wait_disconnects(1)
        assert app.disconnects[0][1] == "client disconnect"
        app.broadcast(range(1, 11))
        back = node.command("reconnect", "reconnected")
        assert back["recovered"] == [False] and back["ids"] != [sid]
    finally:
        node.close()
