"""Three server processes on one message queue act as one Socket.IO server: on Redis and on
RabbitMQ (``amqp://``, through kombu), the same tests (the `broker` fixture).

Each node is tests/scaleout/apps/cluster_app.py run with ``socketio.run`` (gevent); the clients
are the official JavaScript client (tests/node/scale_peer.js). "Did not arrive" is always
checked behind a later message from the same sender, which the channel delivers in order.
"""

from __future__ import annotations

import json
import pickle
import subprocess
from typing import Any

import pytest
from scale_support import (
    CHANNEL,
    PYTHON,
    REPO,
    NodePeer,
    ProcessNode,
    RabbitServer,
    RabbitSpy,
    RedisServer,
    wait_for,
)

Broker = RedisServer | RabbitServer

pytestmark = pytest.mark.node

WS = {"transports": ["websocket"]}


def connect(peer: NodePeer, name: str, node: ProcessNode, **kwargs: Any) -> str:
    """Connect `name` to `node`; returns its sid (checked to be held by that node)."""
    kwargs.setdefault("opts", WS)
    report = peer.connect(name, node.url, **kwargs)
    welcome = peer.welcome(name)
    assert welcome["sid"] == report["id"]
    assert node.proc is not None and welcome["pid"] == node.proc.pid
    return str(report["id"])


def broadcast(peer: NodePeer, sender: str, event: str, *args: Any, **spec: Any) -> None:
    """`sender`'s node runs ``socketio.emit(event, *args, **spec)``."""
    assert peer.call(sender, "broadcast", {"event": event, "args": list(args), **spec}) is True


def got(peer: NodePeer, name: str, event: str) -> list[list[Any]]:
    return peer.events(name, event)


# -- 1. broadcasts across nodes, and external emitters ----------------------------------------
def test_room_broadcast_from_another_node(cluster: list[ProcessNode], peer: NodePeer) -> None:
    a_node, b_node, c_node = cluster
    connect(peer, "a", a_node)
    connect(peer, "b", b_node)
    connect(peer, "c", c_node)
    assert "lobby" in peer.call("a", "join", "lobby")
    broadcast(peer, "b", "news", {"text": "hello"}, [1, 2], to="lobby")
    assert peer.wait_events("a", "news") == [[{"text": "hello"}, [1, 2]]]
    # c is not in the room: behind a namespace-wide broadcast from the same node, nothing else.
    broadcast(peer, "b", "everyone", 1)
    peer.wait_events("c", "everyone")
    assert got(peer, "c", "news") == []
    assert peer.wait_events("a", "everyone") == [[1]]


def test_binary_and_app_json_across_nodes(cluster: list[ProcessNode], peer: NodePeer) -> None:
    a_node, b_node, _ = cluster
    connect(peer, "a", a_node)
    connect(peer, "b", b_node)
    peer.call("a", "join", "bin")
    # The app serialises with flask.json (datetimes) and sends bytes (attachments): the message
    # queue must carry whatever the local clients can receive.
    assert peer.call("b", "stamp", "bin") is True
    expected = [[{"at": "Mon, 06 May 2024 07:08:09 GMT", "raw": {"type": "Buffer", "data": [0, 255]}}]]
    assert peer.wait_events("a", "stamp") == expected


def test_namespace_broadcast_across_nodes(cluster: list[ProcessNode], peer: NodePeer) -> None:
    a_node, b_node, c_node = cluster
    for name, node in (("a", a_node), ("b", b_node), ("c", c_node)):
        peer.connect(name, node.url, nsp="/ns", opts=WS)
    peer.connect("root", a_node.url, opts=WS)  # the same room name in "/": not a member
    peer.call("root", "join", "ns-room")
    for name in ("a", "c"):
        assert peer.call(name, "join", "ns-room") is True
    assert peer.call("b", "broadcast", {"event": "ns_news", "args": [1], "to": "ns-room"}) is True
    assert peer.call("b", "broadcast", {"event": "ns_bin", "args": ["b"], "to": "ns-room", "binary": True}) is True
    assert peer.call("b", "broadcast", {"event": "ns_all", "args": []}) is True
    for name in ("a", "c"):
        assert peer.wait_events(name, "ns_news") == [[1]]
        assert peer.wait_events(name, "ns_bin") == [["b", {"type": "Buffer", "data": [1, 2]}]]
    for name in ("a", "b", "c"):
        peer.wait_events(name, "ns_all")
    broadcast(peer, "root", "root_marker", to="ns-room")
    peer.wait_events("root", "root_marker")
    assert got(peer, "root", "ns_news") == [] and got(peer, "root", "ns_all") == []
    assert got(peer, "b", "ns_news") == []


def test_write_only_emitter_ours(cluster: list[ProcessNode], peer: NodePeer, broker: Broker) -> None:
    """``SocketIO(message_queue=url)`` without an app, in a short-lived script: the message is
    published before emit() returns (the script exits right after)."""
    a_node, b_node, _ = cluster
    connect(peer, "a", a_node)
    connect(peer, "b", b_node)
    peer.call("a", "join", "ext")
    peer.call("b", "join", "ext")
    script = (
        "from flask_socketio import SocketIO\n"
        f"io = SocketIO(message_queue={broker.url!r}, channel={CHANNEL!r})\n"
        "assert io.server.manager.write_only\n"
        "io.emit('ext', {'from': 'ours'}, b'\\x00\\x01\\xff', to='ext')\n"
        "io.emit('ext_all', 'all', namespace='/')\n"
    )
    proc = subprocess.run([PYTHON, "-c", script], cwd=str(REPO), capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    for name in ("a", "b"):
        (args,) = peer.wait_events(name, "ext")
        assert args[0] == {"from": "ours"}
        assert args[1] == {"type": "Buffer", "data": [0, 1, 255]}  # a binary attachment
        assert peer.wait_events(name, "ext_all") == [["all"]]


def test_python_socketio_emitter_interop(cluster: list[ProcessNode], peer: NodePeer, broker: Broker) -> None:
    """python-socketio's ``RedisManager`` / ``KombuManager`` (``write_only=True``) on the same
    channel reaches our clients."""
    a_node, b_node, c_node = cluster
    sid_a = connect(peer, "a", a_node)
    connect(peer, "b", b_node)
    connect(peer, "c", c_node)
    for name in ("a", "b", "c"):
        peer.call(name, "join", "interop")
    emitter = broker.reference_emitter(CHANNEL)
    emitter.emit("interop", {"n": 1}, room="interop")
    emitter.emit("interop_multi", (1, "two", b"\x03"), room="interop", skip_sid=sid_a)
    emitter.emit("to_sid", "only a", room=sid_a)
    for name in ("a", "b", "c"):
        assert peer.wait_events(name, "interop") == [[{"n": 1}]]
    for name in ("b", "c"):
        assert peer.wait_events(name, "interop_multi") == [[1, "two", {"type": "Buffer", "data": [3]}]]
    assert peer.wait_events("a", "to_sid") == [["only a"]]
    emitter.emit("after", None, room="interop")
    peer.wait_events("a", "after")
    assert got(peer, "a", "interop_multi") == []  # skip_sid
    assert got(peer, "b", "to_sid") == [] and got(peer, "c", "to_sid") == []


def test_envelope_schema_and_local_emits_stay_local(cluster: list[ProcessNode], peer: NodePeer,
                                                    broker: Broker) -> None:
    """What a node publishes: python-socketio's field names plus the encoded packet; an emit to
    a client of the same node (``emit()`` answering the sender) is not published at all."""
    spy = broker.spy()
    try:
        broker.wait_subscribers(len(cluster) + 1)
        sid_a = connect(peer, "a", cluster[0])  # the connect handler emits "welcome" to a
        broadcast(peer, "a", "schema", {"k": "v"}, to="schema-room", skip_sid=sid_a)
        message = wait_for(lambda: next((m for m in spy.decoded() if m and m.get("event") == "schema"), None))
        assert {"method", "event", "data", "binary", "namespace", "room", "skip_sid", "callback",
                "host_id", "packet", "v"} <= set(message)
        assert message["method"] == "emit" and message["data"] == [{"k": "v"}]
        assert message["room"] == "schema-room" and message["skip_sid"] == sid_a
        assert message["namespace"] == "/" and message["binary"] is False and message["callback"] is None
        assert message["packet"] == ['2["schema",{"k":"v"}]']
        welcomes = [m for m in spy.decoded() if m and m.get("event") == "welcome"]
        assert welcomes == []
        if isinstance(spy, RabbitSpy):  # what python-socketio's KombuManager decodes as JSON
            assert set(spy.content_types) == {"application/json"}
    finally:
        spy.close()


# -- 2. order ---------------------------------------------------------------------------------
@pytest.mark.parametrize("run", range(3))
def test_broadcasts_from_one_handler_arrive_in_order_on_other_nodes(
        cluster: list[ProcessNode], peer: NodePeer, run: int) -> None:
    a_node, b_node, c_node = cluster
    room = f"order-{run}"
    connect(peer, "sender", a_node)
    for name, node in (("local", a_node), ("b", b_node), ("c", c_node)):
        connect(peer, name, node)
        peer.call(name, "join", room)
    assert peer.call("sender", "burst", {"room": room, "count": 30}) == 30
    for name in ("local", "b", "c"):
        values = [args[0] for args in peer.wait_events(name, "seq", 30)]
        assert values == list(range(30)), f"{name}: {values}"


# -- 3. acks across nodes ----------------------------------------------------------------------
def test_call_a_client_on_another_node(cluster: list[ProcessNode], peer: NodePeer) -> None:
    a_node, b_node, _ = cluster
    sid_a = connect(peer, "a", a_node, acks={"question": {"value": [{"answer": 42}, "two"]}, "echo": "echo"})
    connect(peer, "b", b_node)
    result = peer.call("b", "ask", {"sid": sid_a, "event": "question", "data": "?"})
    assert result == {"answer": [{"answer": 42}, "two"], "pid": b_node.proc.pid}  # type: ignore[union-attr]
    assert peer.wait_events("a", "question") == [["?"]]
    result = peer.call("b", "ask", {"sid": sid_a, "event": "echo", "data": {"x": [1]}})
    assert result["answer"] == {"x": [1]}


def test_emit_with_callback_to_a_client_on_another_node(cluster: list[ProcessNode], peer: NodePeer) -> None:
    """The callback runs on the emitting node, in the request context of the handler that
    emitted (it may block, as any handler), and can emit to that handler's client."""
    a_node, b_node, _ = cluster
    sid_a = connect(peer, "a", a_node, acks={"confirm": {"value": ["yes", 2]}})
    sid_b = connect(peer, "b", b_node)
    assert peer.call("b", "ask_cb", {"sid": sid_a, "event": "confirm", "data": 1}) is True
    (args,) = peer.wait_events("b", "cb_result")
    assert args == [{"args": ["yes", 2], "requester": sid_b, "pid": b_node.proc.pid}]  # type: ignore[union-attr]


def test_call_times_out_when_the_remote_client_does_not_answer(cluster: list[ProcessNode], peer: NodePeer) -> None:
    a_node, b_node, _ = cluster
    sid_a = connect(peer, "a", a_node)  # answers no ack
    connect(peer, "b", b_node)
    assert peer.call("b", "ask", {"sid": sid_a, "event": "silent", "timeout": 0.5}) == {"error": "TimeoutError"}
    peer.wait_events("a", "silent")
    # The timed-out call leaves nothing behind on the node that asked.
    assert peer.call("b", "pending_remote_callbacks") == 0


# -- 4. rooms and disconnects of sids on other nodes ------------------------------------------
def _rooms_of(peer: NodePeer, name: str) -> list[str]:
    return list(peer.call(name, "rooms"))


def test_enter_and_leave_room_of_a_sid_on_another_node(cluster: list[ProcessNode], peer: NodePeer) -> None:
    a_node, b_node, c_node = cluster
    sid_a = connect(peer, "a", a_node)
    connect(peer, "b", b_node)
    connect(peer, "c", c_node)
    assert peer.call("b", "remote_join", {"sid": sid_a, "room": "remote"}) is True
    wait_for(lambda: "remote" in _rooms_of(peer, "a"))
    broadcast(peer, "c", "in_remote", 1, to="remote")
    assert peer.wait_events("a", "in_remote") == [[1]]
    assert peer.call("c", "remote_leave", {"sid": sid_a, "room": "remote"}) is True
    wait_for(lambda: "remote" not in _rooms_of(peer, "a"))
    broadcast(peer, "b", "in_remote", 2, to="remote")
    broadcast(peer, "b", "marker", to=sid_a)
    peer.wait_events("a", "marker")
    assert got(peer, "a", "in_remote") == [[1]]


def test_close_room_everywhere(cluster: list[ProcessNode], peer: NodePeer) -> None:
    a_node, b_node, c_node = cluster
    for name, node in (("a", a_node), ("b", b_node), ("c", c_node)):
        connect(peer, name, node)
        peer.call(name, "join", "doomed")
    assert peer.call("b", "close", "doomed") is True
    for name in ("a", "b", "c"):
        wait_for(lambda name=name: "doomed" not in _rooms_of(peer, name))
    broadcast(peer, "b", "in_doomed", to="doomed")
    broadcast(peer, "b", "marker")
    for name in ("a", "b", "c"):
        peer.wait_events(name, "marker")
        assert got(peer, name, "in_doomed") == []


def test_disconnect_a_sid_on_another_node(cluster: list[ProcessNode], peer: NodePeer) -> None:
    """The disconnect runs on the node that holds the client; its disconnect handler (which
    blocks briefly and then emits) runs normally there."""
    a_node, b_node, c_node = cluster
    sid_a = connect(peer, "a", a_node)
    connect(peer, "b", b_node)
    connect(peer, "watcher", c_node)
    peer.call("watcher", "join", "watchers")
    assert peer.call("b", "remote_disconnect", {"sid": sid_a}) is True
    report = peer.wait(lambda r: r["type"] == "disconnect" and r["name"] == "a")
    assert report["reason"] == "io server disconnect"
    (args,) = peer.wait_events("watcher", "gone")
    assert args == [{"sid": sid_a, "pid": a_node.proc.pid}]  # type: ignore[union-attr]


def test_skip_sid_and_include_self_across_nodes(cluster: list[ProcessNode], peer: NodePeer) -> None:
    a_node, b_node, c_node = cluster
    sid_a = connect(peer, "a", a_node)
    connect(peer, "a2", a_node)
    connect(peer, "b", b_node)
    connect(peer, "c", c_node)
    for name in ("a", "a2", "b", "c"):
        peer.call(name, "join", "skips")
    broadcast(peer, "b", "skipped", 1, to="skips", skip_sid=sid_a)  # b's node skips a sid on A
    broadcast(peer, "a", "not_self", 2, to="skips", include_self=False)
    # Order is kept per emitting node, not across nodes: one marker from each node that
    # broadcast above, after its broadcast, says everything it sent has arrived.
    broadcast(peer, "b", "marker_b", to="skips")
    broadcast(peer, "a2", "marker_a", to="skips")
    for name in ("a", "a2", "b", "c"):
        peer.wait_events(name, "marker_b")
        peer.wait_events(name, "marker_a")
    assert got(peer, "a", "skipped") == [] and got(peer, "a", "not_self") == []
    for name in ("a2", "b", "c"):
        assert got(peer, name, "skipped") == [[1]]
        assert got(peer, name, "not_self") == [[2]]


# -- 6. garbage on the channel ----------------------------------------------------------------
GARBAGE: list[bytes] = [
    b"\x80\x81 not json",
    b"",
    b"[1, 2, 3]",
    b'"a string"',
    b"null",
    b'{"no": "method"}',
    b'{"method": 42}',
    b'{"method": "nonsense", "host_id": "x"}',
    b'{"method": "emit"}',
    b'{"method": "emit", "event": "g", "namespace": 5, "room": "garbage"}',
    b'{"method": "emit", "event": "g", "namespace": "no-slash", "room": "garbage"}',
    b'{"method": "emit", "event": "g", "room": {"a": 1}}',
    b'{"method": "emit", "event": "g", "room": "garbage", "skip_sid": 7}',
    b'{"method": "emit", "event": "g", "room": "garbage", "binary": true, "data": ["x", "!!not base64"]}',
    b'{"method": "emit", "event": "g", "room": "garbage", "binary": true, "data": 5}',
    b'{"method": "emit", "event": "g", "room": "garbage", "v": 1, "packet": ["hello"]}',
    b'{"method": "emit", "event": "g", "room": "garbage", "v": 1, "packet": [123]}',
    b'{"method": "emit", "event": "g", "room": "garbage", "v": 1, "packet": ["2/other,[\\"g\\"]"]}',
    b'{"method": "emit", "event": "g", "room": "garbage", "v": 1, "packet": ["51-[\\"g\\",{\\"_placeholder\\":true,\\"num\\":0}]"]}',
    b'{"method": "emit", "event": "g", "room": "garbage", "v": 1, "packet": [{"b64": "%%%"}]}',
    b'{"method": "emit", "event": "g", "room": "garbage", "callback": "nope"}',
    b'{"method": "emit", "event": "g", "room": "garbage", "callback": [1, 2]}',
    b'{"method": "callback", "host_id": "x", "id": "1", "args": 5}',
    b'{"method": "enter_room", "sid": 5, "room": "r"}',
    b'{"method": "enter_room", "sid": "s", "room": {"x": 1}, "namespace": "/"}',
    b'{"method": "leave_room", "sid": null}',
    b'{"method": "close_room", "room": [[1]]}',
    b'{"method": "disconnect", "sid": ["x"], "namespace": "/"}',
    b'{"method": "disconnect", "sid": "unknown-sid", "namespace": 3}',
    pickle.dumps({"method": "emit", "event": "g", "data": ["pickled"], "room": "garbage"}),
]


def test_garbage_on_the_channel_is_ignored_and_logged(cluster: list[ProcessNode], peer: NodePeer,
                                                      broker: Broker) -> None:
    a_node, b_node, c_node = cluster
    for name, node in (("a", a_node), ("b", b_node), ("c", c_node)):
        connect(peer, name, node)
        peer.call(name, "join", "garbage")
    for raw in GARBAGE:
        broker.publish(raw)
    # A huge but valid message and a valid one from outside still go through.
    broker.publish(json.dumps({"method": "emit", "event": "big", "data": ["x" * 200_000],
                               "room": "garbage", "namespace": "/", "binary": False}))
    broker.publish(json.dumps({"method": "emit", "event": "ok", "data": ["fine"], "room": "garbage"}))
    broadcast(peer, "b", "after_garbage", "still here", to="garbage")
    for name in ("a", "b", "c"):
        assert peer.wait_events(name, "ok") == [["fine"]]
        assert peer.wait_events(name, "big")[0][0] == "x" * 200_000
        assert peer.wait_events(name, "after_garbage") == [["still here"]]
        assert got(peer, name, "g") == []
        report = [r for r in peer.reports if r["type"] == "disconnect" and r["name"] == name]
        assert report == [], f"{name} was disconnected by garbage: {report}"
    for node in cluster:
        assert node.alive()
        log = node.log.read_text(errors="replace")
        wait_for(lambda node=node: node.log.read_text(errors="replace").count("ignoring") >= 20)
        assert "Traceback" not in log, log


# -- 7. 300 clients on 3 nodes ----------------------------------------------------------------
def test_one_broadcast_reaches_300_clients_on_3_nodes_exactly_once(cluster: list[ProcessNode], peer: NodePeer) -> None:
    urls = [node.url for node in cluster]
    crowd = peer.crowd("crowd", urls, 300, transports=["websocket"])
    assert crowd["connected"] == 300, crowd["errors"][:5]
    assert sorted(crowd["perUrl"].values()) == [100, 100, 100]
    assert peer.crowd_join("crowd", "join", "crowd-room") == 300
    connect(peer, "sender", cluster[1])
    broadcast(peer, "sender", "hello300", {"to": "all"}, to="crowd-room")
    broadcast(peer, "sender", "marker300", to="crowd-room")

    def all_marked() -> list[int] | None:
        counts = peer.crowd_counts("crowd", "marker300")
        return counts if all(counts) else None

    wait_for(all_marked, timeout=30, interval=0.1)
    counts = peer.crowd_counts("crowd", "hello300")
    assert len(counts) == 300 and set(counts) == {1}, counts
