"""Fixtures for the scale-out tests: a private redis-server, a private RabbitMQ node and
cluster nodes (real processes), and the interactive JavaScript client. The services are started
by the tests themselves on free 127.0.0.1 ports and stopped at the end
(scripts/services-setup.sh installs the binaries).

`broker` is each message queue the cluster tests run on, ``redis`` and ``rabbitmq``: the same
tests, parametrized. RabbitMQ takes seconds to boot, so one node serves the whole session.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from scale_support import (  # noqa: E402
    NodePeer,
    ProcessNode,
    RabbitServer,
    RedisServer,
    cluster_node,
    require,
    running,
)

BROKERS = ["redis", "rabbitmq"]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("scaleout")


@pytest.fixture(scope="module")
def redis_server(workdir: Path) -> Iterator[RedisServer]:
    require("redis-server")
    server = RedisServer(workdir).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def rabbit_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RabbitServer]:
    require("rabbitmq-server")
    server = RabbitServer(tmp_path_factory.mktemp("rabbitmq")).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module", params=BROKERS)
def broker(request: pytest.FixtureRequest) -> RedisServer | RabbitServer:
    """The message queue under test: the module's redis-server, or the session's RabbitMQ."""
    name = "redis_server" if request.param == "redis" else "rabbit_server"
    server: RedisServer | RabbitServer = request.getfixturevalue(name)
    return server


@pytest.fixture(scope="module")
def cluster(workdir: Path, broker: RedisServer | RabbitServer) -> Iterator[list[ProcessNode]]:
    """Three cluster_app nodes (A, B, C) on one broker, every listener subscribed. B runs on
    eventlet (``eventlet.monkey_patch()``, issue 25), A and C on gevent: every cross-node test
    has the broker's listener and publisher under eventlet on one side."""
    nodes = [cluster_node(f"{name}-{broker.name}", workdir, broker.url,
                          extra_env={"SCALE_EVENTLET": "1"} if name == "B" else None)
             for name in ("A", "B", "C")]
    with running(nodes):
        broker.wait_subscribers(len(nodes))
        yield nodes
        for node in nodes:
            assert node.alive(), f"node {node.name} died:\n{node.log_text()}"
            assert not node.tracebacks(), f"node {node.name} logged errors:\n{node.log_text()}"


@pytest.fixture
def peer() -> Iterator[NodePeer]:
    client = NodePeer()
    try:
        yield client
    finally:
        client.close()
