"""The message queue goes away mid-traffic and comes back on the same port: Redis, and
RabbitMQ (the session's node, killed and started again).

What must hold: no handler sees an exception, clients of the emitting node still get its
messages (local first), every node's listener reconnects by itself, and messages emitted once
the listeners are back arrive. Messages published while the broker was down are dropped and
logged (pub/sub has no memory; docs/deployment.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from scale_support import (
    CHANNEL,
    NodePeer,
    ProcessNode,
    RabbitServer,
    RedisServer,
    cluster_node,
    running,
    wait_for,
)

pytestmark = pytest.mark.node
WS = {"transports": ["websocket"]}
Broker = RedisServer | RabbitServer


@pytest.fixture(params=["redis", "rabbitmq"])
def outage_cluster(request: pytest.FixtureRequest, workdir: Path) -> Iterator[tuple[Broker, list[ProcessNode]]]:
    """Two nodes on a broker of their own (Redis), or on the session's RabbitMQ node, which is
    running again when the test ends."""
    broker: Broker
    if request.param == "redis":
        broker = RedisServer(workdir).start()
    else:
        broker = request.getfixturevalue("rabbit_server")
    nodes = [cluster_node(f"outage-{name}-{broker.name}", workdir, broker.url) for name in ("A", "B")]
    try:
        with running(nodes):
            broker.wait_subscribers(2)
            yield broker, nodes
    finally:
        if isinstance(broker, RedisServer):
            broker.stop()
        elif not broker.ping():
            broker.start()


def test_broker_killed_and_restarted_mid_traffic(outage_cluster: tuple[Broker, list[ProcessNode]],
                                                 peer: NodePeer) -> None:
    broker, (a_node, b_node) = outage_cluster
    sid_a = peer.connect("a", a_node.url, opts=WS, acks={"ping?": {"value": ["pong"]}})["id"]
    peer.connect("b", b_node.url, opts=WS)
    peer.connect("b_local", b_node.url, opts=WS)
    for name in ("a", "b_local"):
        peer.call(name, "join", "live")

    def tick(i: int) -> None:
        # The handler's ack is True: emitting never raised into it, broker up or down.
        assert peer.call("b", "broadcast", {"event": "tick", "args": [i], "to": "live"}) is True

    for i in range(10):
        tick(i)
    peer.wait_events("a", "tick", 10)

    broker.kill()
    for i in range(10, 30):
        tick(i)
    # Local first: b's own clients get every message while the queue is down.
    assert [args[0] for args in peer.wait_events("b_local", "tick", 30)] == list(range(30))

    broker.start()  # same port, no queues: every listener must subscribe again by itself
    broker.wait_subscribers(2, timeout=30)
    for i in range(100, 110):
        tick(i)
    peer.wait(lambda r: r["type"] == "event" and r["name"] == "a" and r["event"] == "tick" and r["args"] == [109])
    received = [args[0] for args in peer.events("a", "tick")]
    after = [v for v in received if v >= 100]
    during = [v for v in received if 10 <= v < 30]
    assert after == list(range(100, 110)), received
    # Messages published during the outage were dropped (some may still have been waiting for
    # the publisher when the broker came back): never duplicated, never out of order.
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


def test_write_only_emitter_while_broker_is_down(outage_cluster: tuple[Broker, list[ProcessNode]],
                                                caplog: pytest.LogCaptureFixture) -> None:
    """An external emitter never raises into its caller when the broker is down: the message
    is dropped and logged, and the next emit after the broker is back goes through."""
    from flask_socketio import SocketIO

    broker, _ = outage_cluster
    emitter = SocketIO(message_queue=broker.url, channel=CHANNEL)
    broker.kill()
    with caplog.at_level("ERROR", logger="socketio_core.pubsub"):
        emitter.emit("lost", 1, to="nobody")
    assert "message dropped" in caplog.text
    broker.start()
    spy = broker.spy(CHANNEL)
    try:
        emitter.emit("found", 2, to="somebody")
        found = wait_for(lambda: [m for m in spy.messages if b'"found"' in m], timeout=10)
        assert len(found) == 1
    finally:
        spy.close()
