"""Redis goes away mid-traffic and comes back on the same port.

What must hold: no handler sees an exception, clients of the emitting node still get its
messages (local first), every node's listener reconnects by itself, and messages emitted once
the listeners are back arrive. Messages published while Redis was down are dropped and logged
(pub/sub has no memory; docs/deployment.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from scale_support import CHANNEL, NodePeer, ProcessNode, RedisServer, cluster_node, running

pytestmark = pytest.mark.node
WS = {"transports": ["websocket"]}


@pytest.fixture
def outage_cluster(workdir: Path) -> Iterator[tuple[RedisServer, list[ProcessNode]]]:
    redis_server = RedisServer(workdir).start()
    nodes = [cluster_node(f"outage-{name}", workdir, redis_server.url) for name in ("A", "B")]
    try:
        with running(nodes):
            redis_server.wait_subscribers(2)
            yield redis_server, nodes
    finally:
        redis_server.stop()


def test_redis_killed_and_restarted_mid_traffic(outage_cluster: tuple[RedisServer, list[ProcessNode]],
                                                peer: NodePeer) -> None:
    redis_server, (a_node, b_node) = outage_cluster
    sid_a = peer.connect("a", a_node.url, opts=WS, acks={"ping?": {"value": ["pong"]}})["id"]
    peer.connect("b", b_node.url, opts=WS)
    peer.connect("b_local", b_node.url, opts=WS)
    for name in ("a", "b_local"):
        peer.call(name, "join", "live")

    def tick(i: int) -> None:
        # The handler's ack is True: emitting never raised into it, Redis up or down.
        assert peer.call("b", "broadcast", {"event": "tick", "args": [i], "to": "live"}) is True

    for i in range(10):
        tick(i)
    peer.wait_events("a", "tick", 10)

    redis_server.kill()
    for i in range(10, 30):
        tick(i)
    # Local first: b's own clients get every message while the queue is down.
    assert [args[0] for args in peer.wait_events("b_local", "tick", 30)] == list(range(30))

    redis_server.start()  # same port, empty: every listener must subscribe again by itself
    redis_server.wait_subscribers(2, timeout=30)
    for i in range(100, 110):
        tick(i)
    peer.wait(lambda r: r["type"] == "event" and r["name"] == "a" and r["event"] == "tick" and r["args"] == [109])
    received = [args[0] for args in peer.events("a", "tick")]
    after = [v for v in received if v >= 100]
    during = [v for v in received if 10 <= v < 30]
    assert after == list(range(100, 110)), received
    # Messages published during the outage were dropped (some may still have been waiting for
    # the publisher when Redis came back): never duplicated, never out of order.
    assert received[:10] == list(range(10)) and during == sorted(set(during)), received
    # Acks across nodes work again (the reply travels back over the new connection).
    answer = peer.call("b", "ask", {"sid": sid_a, "event": "ping?", "timeout": 10})
    assert answer["answer"] == "pong"

    # The outage was logged on both sides, and nothing raised.
    b_log = b_node.log.read_text(errors="replace")
    a_log = a_node.log.read_text(errors="replace")
    assert "message queue publish failed" in b_log and "dropped" in b_log
    assert "listener lost its connection" in a_log and "listener lost its connection" in b_log
    for node in (a_node, b_node):
        assert node.alive() and not node.tracebacks(), node.log_text()


def test_write_only_emitter_while_redis_is_down(outage_cluster: tuple[RedisServer, list[ProcessNode]],
                                               caplog: pytest.LogCaptureFixture) -> None:
    """An external emitter never raises into its caller when Redis is down: the message is
    dropped and logged, and the next emit after Redis is back goes through."""
    from flask_socketio import SocketIO

    redis_server, _ = outage_cluster
    emitter = SocketIO(message_queue=redis_server.url, channel=CHANNEL)
    redis_server.kill()
    with caplog.at_level("ERROR", logger="socketio_core.pubsub"):
        emitter.emit("lost", 1, to="nobody")
    assert "message dropped" in caplog.text
    redis_server.start()
    spy = redis_server.client().pubsub(ignore_subscribe_messages=True)
    spy.subscribe(CHANNEL)
    try:
        emitter.emit("found", 2, to="somebody")
        message = None
        for _ in range(50):
            message = spy.get_message(timeout=0.1)
            if message is not None:
                break
        assert message is not None and b'"found"' in message["data"]
    finally:
        spy.close()
