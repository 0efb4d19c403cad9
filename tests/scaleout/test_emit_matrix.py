"""The emit matrix (issue 22): every emit form × every origin × each feature set, with real
clients, through the one outbound pipeline.

Forms: plain (everyone), ``to=room``, ``skip_sid``, ``skip_rooms``, ``volatile``, a callback
with ``timeout`` (answers collected). Origins: the handler itself, a background task, a plain
OS thread (tests/scaleout/apps/matrix_app.py). Feature sets, one module-scoped server set each
(shared by all their cases): connection state recovery on (replayable forms carry an offset,
volatile and ack emits do not: Node's rule, seen on the wire), the Admin UI in development mode
(one ``event_sent`` report per recipient), two nodes on a real Redis (the clients are spread
over both), and the Node bridge (a Node ``@socket.io/redis-adapter`` server's JS clients get
every form but the one with acks, filtered by Node's adapter from our rooms/except/flags).

Recipients: client 0 (in ``r``, the one whose sid is skipped), 1 (in ``r``), 2 (in ``r`` and
``muted``), 3 (in no room); on the Node server: 0 in ``r``, 1 in ``r`` and ``muted``, 2 in none.
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from scale_support import ProcessNode, RedisServer, free_port, running, wait_for
from test_scale_cluster_ops import Crowd
from test_scale_node_interop import NodeServer

APP = Path(__file__).resolve().parent / "apps" / "matrix_app.py"
FORMS = ["plain", "to_room", "skip_sid", "skip_rooms", "volatile", "callback"]
ORIGINS = ["handler", "task", "thread"]
FEATURES = ["recovery", "admin", "redis_two_nodes", "node_bridge"]
EXPECTED = {  # form -> (our clients that get it, the Node server's clients that get it)
    "plain": ({0, 1, 2, 3}, {0, 1, 2}),
    "to_room": ({0, 1, 2}, {0, 1}),
    "skip_sid": ({1, 2}, {0, 1}),
    "skip_rooms": ({0, 1}, {0}),
    "volatile": ({0, 1, 2}, {0, 1}),
    "callback": ({0, 1, 2}, set()),
}
ROOMS = [["r"], ["r"], ["r", "muted"], []]
_tags = itertools.count()


class Client:
    """A python-socketio client that records the ``news`` it gets (and answers them)."""

    def __init__(self, url: str, rooms: list[str], namespace: str = "/", auth: Any = None) -> None:
        import socketio

        self.got: list[list[Any]] = []
        self.client = socketio.Client(reconnection=False)
        self.client.on("news", self._news)
        self.client.connect(url, transports=["websocket"], namespaces=[namespace], auth=auth, wait_timeout=10)
        self.sid = self.client.call("join", rooms, timeout=10) if namespace == "/" else ""

    def _news(self, *args: Any) -> str:
        self.got.append(list(args))
        return "ack"

    def tagged(self, tag: str) -> list[list[Any]]:
        return [args for args in self.got if args and args[0] == tag]


class Matrix:
    def __init__(self, feature: str, urls: list[str], node_server: NodeServer | None = None) -> None:
        self.feature = feature
        self.clients = [Client(urls[i % len(urls)], rooms) for i, rooms in enumerate(ROOMS)]
        self.crowd = Crowd([node_server.url], [["r"], ["r", "muted"], []], []) if node_server else None
        self.admin: Client | None = None
        self.reports: list[list[Any]] = []
        if feature == "admin":
            import socketio

            self.admin_client = socketio.Client(reconnection=False)
            self.admin_client.on("event_sent", lambda *args: self.reports.append(list(args)), namespace="/admin")
            self.admin_client.connect(urls[0], transports=["websocket"], namespaces=["/admin"], wait_timeout=10)

    def close(self) -> None:
        for client in self.clients:
            client.client.disconnect()
        if self.crowd is not None:
            self.crowd.close()
        if self.feature == "admin":
            self.admin_client.disconnect()


def node(name: str, workdir: Path, env: dict[str, str]) -> ProcessNode:
    port = free_port()
    return ProcessNode(name, [sys.executable, str(APP), "--port", str(port)], port, env, workdir / f"{name}.log")


@pytest.fixture(scope="module", params=FEATURES)
def matrix(request: pytest.FixtureRequest, workdir: Path, redis_server: RedisServer) -> Iterator[Matrix]:
    feature = request.param
    queue = {"MATRIX_QUEUE": redis_server.url}
    if feature == "recovery":
        nodes = [node("matrix-recovery", workdir, {"MATRIX_RECOVERY": "1"})]
    elif feature == "admin":
        nodes = [node("matrix-admin", workdir, {"MATRIX_ADMIN": "1"})]
    elif feature == "redis_two_nodes":
        nodes = [node(f"matrix-{n}", workdir, queue) for n in ("A", "B")]
    else:
        nodes = [node("matrix-bridge", workdir, {**queue, "MATRIX_NODE_ADAPTER": "1"})]
    with running(nodes):
        node_server = None
        if feature == "node_bridge":
            node_server = NodeServer(free_port(), redis_server.url)
            wait_for(lambda: redis_server.subscribers("socket.io-request#/#") == 2, timeout=10)
        if feature == "redis_two_nodes":
            redis_server.wait_subscribers(2)
        state = Matrix(feature, [n.url for n in nodes], node_server)
        try:
            yield state
        finally:
            state.close()
            if node_server is not None:
                node_server.close()
        for n in nodes:
            assert n.tracebacks() == [], n.log_text()


@pytest.mark.parametrize("origin", ORIGINS)
@pytest.mark.parametrize("form", FORMS)
def test_every_form_from_every_origin(matrix: Matrix, form: str, origin: str) -> None:
    tag = f"{form}-{origin}-{next(_tags)}"
    ours, theirs = EXPECTED[form]
    emitter = matrix.clients[0]
    answers = emitter.client.call("fire", {"form": form, "origin": origin, "tag": tag, "skip": emitter.sid},
                                  timeout=20)
    if form == "callback":
        assert answers == len(ours)
    wait_for(lambda: all(matrix.clients[i].tagged(tag) for i in ours), timeout=10)
    if matrix.crowd is not None and theirs:
        def node_got() -> set[int]:
            news = matrix.crowd.report()["news"]  # type: ignore[union-attr]
            return {i for i in range(3) if any(args and args[0] == tag for args in news[str(i)])}

        wait_for(lambda: node_got() >= theirs, timeout=10, interval=0.1)
    # Nothing more arrives: a marker emitted after it to everyone is the last thing awaited.
    marker = f"marker-{next(_tags)}"
    emitter.client.call("fire", {"form": "plain", "origin": "handler", "tag": marker}, timeout=20)
    wait_for(lambda: all(c.tagged(marker) for c in matrix.clients), timeout=10)
    got = {i for i, c in enumerate(matrix.clients) if c.tagged(tag)}
    assert got == ours
    assert all(len(matrix.clients[i].tagged(tag)) == 1 for i in ours)
    if matrix.crowd is not None:
        wait_for(lambda: all(any(a and a[0] == marker for a in v) for v in matrix.crowd.report()["news"].values()),  # type: ignore[union-attr]
                 timeout=10, interval=0.1)
        news = matrix.crowd.report()["news"]
        assert {i for i in range(3) if any(args and args[0] == tag for args in news[str(i)])} == theirs
    if matrix.feature == "recovery":
        # Node's rule on the wire: a replayable packet carries its offset as its last argument.
        replayable = form not in ("volatile", "callback")
        for i in ours:
            (args,) = matrix.clients[i].tagged(tag)
            assert len(args) == (2 if replayable else 1), args
            assert not replayable or isinstance(args[1], str)
    if matrix.feature == "admin":
        wait_for(lambda: len([r for r in matrix.reports if r[2][0] == "news" and r[2][1] == tag]) >= len(ours),
                 timeout=10)
        reported = {r[1] for r in matrix.reports if r[2][0] == "news" and r[2][1] == tag}
        assert reported == {matrix.clients[i].sid for i in ours}
