"""Fixtures for the scale-out tests: a private redis-server and cluster nodes (real processes),
and the interactive JavaScript client. The services are started by the tests themselves on
free 127.0.0.1 ports and stopped at the end (scripts/services-setup.sh installs the binaries).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from scale_support import NodePeer, ProcessNode, RedisServer, cluster_node, require, running  # noqa: E402


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


@pytest.fixture(scope="module")
def cluster(workdir: Path, redis_server: RedisServer) -> Iterator[list[ProcessNode]]:
    """Three cluster_app nodes (A, B, C) on one Redis, every listener subscribed."""
    nodes = [cluster_node(name, workdir, redis_server.url) for name in ("A", "B", "C")]
    with running(nodes):
        redis_server.wait_subscribers(len(nodes))
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
