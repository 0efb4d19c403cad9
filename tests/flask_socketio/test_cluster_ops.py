"""Cluster-wide operations with one process (the local manager): real server, real
python-socketio clients. The same operations across Redis nodes: tests/scaleout/test_scale_cluster_ops.py."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import pytest
from flask import Flask, request

from flask_socketio import SocketIO, join_room
from socketio_core.features.cluster import BroadcastTimeoutError
from tests.conftest import serve_gevent, wait_for
from tests.flask_socketio.conftest import python_client


def make_app() -> tuple[Flask, SocketIO]:
    app = Flask(__name__)
    socketio = SocketIO(app)

    @socketio.on("join")
    def on_join(room: str) -> str:
        join_room(room)
        return request.sid  # type: ignore[attr-defined, no-any-return]

    return app, socketio


@contextmanager
def clients(url: str, rooms: list[str], answer: dict[int, bool] | None = None) -> Iterator[list[Any]]:
    """One python-socketio client per entry of `rooms`, each joined to its room; client i
    answers ``question`` with ``[i, data]`` unless ``answer[i]`` is False. Each client gets
    ``.sid``, ``.log`` (its EventLog) and ``.index``."""
    answer = answer or {}
    release = threading.Event()  # a non-answering client's handler waits for the end
    with ExitStack() as stack:
        stack.callback(release.set)
        out = []
        for i, room in enumerate(rooms):
            client, log = stack.enter_context(python_client(url, events=("news", "bye")))
            if answer.get(i, True):
                client.on("question", (lambda k: lambda data: [k, data])(i))
            else:
                def never(data: Any, log: Any = log) -> None:
                    log.add("unanswered", data)
                    release.wait(30)  # a python-socketio client acks whatever a handler returns

                client.on("question", never)
            client.sid_ = client.call("join", room, timeout=5)
            client.log_ = log
            out.append(client)
        yield out


def test_fetch_join_leave_disconnect_with_filters() -> None:
    app, socketio = make_app()
    with serve_gevent(app) as served, clients(served.url, ["red", "red", "blue", "red"]) as cs:
        red = {c.sid_ for i, c in enumerate(cs) if i in (0, 1, 3)}
        found = socketio.fetch_sockets(to="red")
        assert {s.sid for s in found} == red
        for s in found:
            assert s.rooms[0] == s.sid and "red" in s.rooms
            assert s.handshake["address"] == "127.0.0.1"
            assert "user-agent" in s.handshake["headers"]
        # skip a room: a sid is a room
        assert {s.sid for s in socketio.fetch_sockets(to="red", skip_rooms=cs[1].sid_)} == red - {cs[1].sid_}
        assert {s.sid for s in socketio.fetch_sockets()} == {c.sid_ for c in cs}

        socketio.sockets_join("vip", to="red", skip_rooms=cs[0].sid_)
        wait_for(lambda: {s.sid for s in socketio.fetch_sockets(to="vip")} == {cs[1].sid_, cs[3].sid_})
        socketio.sockets_leave("vip", to=cs[1].sid_)
        wait_for(lambda: {s.sid for s in socketio.fetch_sockets(to="vip")} == {cs[3].sid_})

        socketio.disconnect_sockets(to="blue")
        cs[2].log_.wait("disconnect")
        wait_for(lambda: {s.sid for s in socketio.fetch_sockets()} == {cs[0].sid_, cs[1].sid_, cs[3].sid_})
        assert cs[0].connected and not cs[0].log_.of("disconnect")


def test_broadcast_call_returns_every_answer_and_times_out_with_the_partial_list() -> None:
    app, socketio = make_app()
    with serve_gevent(app) as served, clients(served.url, ["red", "red", "blue", "red"], {3: False}) as cs:
        answers = socketio.call("question", "q1", to=["red", "blue"], skip_rooms=cs[3].sid_, timeout=5)
        assert sorted(answers) == [[0, "q1"], [1, "q1"], [2, "q1"]]
        assert sorted(socketio.call("question", "all", broadcast=True, skip_rooms="red", timeout=5)) == [[2, "all"]]
        with pytest.raises(BroadcastTimeoutError) as info:
            socketio.call("question", "q2", to="red", timeout=1)
        assert sorted(info.value.answers) == [[0, "q2"], [1, "q2"]]
        assert isinstance(info.value, TimeoutError)
        # to=sid keeps Flask-SocketIO's meaning: that client's answer itself
        assert socketio.call("question", "one", to=cs[2].sid_, timeout=5) == [2, "one"]
        # an empty room asked for in the list form: nobody to wait for
        assert socketio.call("question", "none", to=["nobody-here"], timeout=5) == []
        # a single name that reaches nobody (a sid that went away): TimeoutError, as the
        # reference's call to one client, but at once instead of after the timeout
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            socketio.call("question", "gone", to="nobody-here", timeout=30)
        assert time.monotonic() - started < 30


def test_emit_with_timeout_calls_back_once_with_the_list() -> None:
    app, socketio = make_app()
    with serve_gevent(app) as served, clients(served.url, ["red", "red", "red"], {2: False}) as cs:
        done = threading.Event()
        got: list[Any] = []
        socketio.emit("question", "cb", to="red", timeout=1,
                      callback=lambda err, answers: (got.append((err, sorted(answers))), done.set()))
        assert done.wait(10)
        (err, answers), = got
        assert isinstance(err, BroadcastTimeoutError)
        assert answers == [[0, "cb"], [1, "cb"]]
        assert cs[2].log_.wait("unanswered") == [("cb",)]


def test_emit_skip_rooms_and_volatile() -> None:
    app, socketio = make_app()
    with serve_gevent(app) as served, clients(served.url, ["red", "red", "blue"]) as cs:
        socketio.sockets_join("muted", to=cs[1].sid_)
        wait_for(lambda: [s.sid for s in socketio.fetch_sockets(to="muted")] == [cs[1].sid_])
        socketio.emit("news", "n1", skip_rooms="muted")
        socketio.emit("news", "n2", to="red", skip_rooms=["muted"], volatile=True)
        socketio.emit("bye", "end")
        for c in cs:
            c.log_.wait("bye")
        assert cs[0].log_.of("news") == [("n1",), ("n2",)]
        assert cs[1].log_.of("news") == []
        assert cs[2].log_.of("news") == [("n1",)]


def test_server_side_emit_has_no_other_node_with_one_process() -> None:
    app, socketio = make_app()
    seen: list[Any] = []
    socketio.on_server("ping")(lambda *args: seen.append(args))
    with serve_gevent(app):
        socketio.server_emit("ping", 1)
        assert socketio.server_call("ping", 2, timeout=1) == []
    assert seen == []  # Node's serverSideEmit never reaches the emitting node itself


def test_volatile_emit_is_dropped_for_a_client_whose_transport_is_congested() -> None:
    app, socketio = make_app()
    ready = socketio.test_client(app)
    busy = socketio.test_client(app)
    eio = socketio.server.eio  # type: ignore[union-attr]
    conn = eio._conns[busy.eio_sid]
    eio.flow.congest(getattr(conn.ws, "writer", conn.ws), 0.0)  # its lane cannot take more now
    socketio.emit("tick", 1, volatile=True)
    socketio.emit("tock", 2)  # not volatile: queued for everyone
    assert [(m["name"], m["args"]) for m in ready.get_received()] == [("tick", [1]), ("tock", [2])]
    assert [(m["name"], m["args"]) for m in busy.get_received()] == [("tock", [2])]
