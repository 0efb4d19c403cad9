"""The deployment of docs/deployment.md, run for real: the chat example in three gevent
processes on one Redis behind nginx (deploy/nginx.conf, sticky sessions), and under gunicorn
with deploy/gunicorn.conf.py. Clients are the official JavaScript client.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from scale_support import (
    CHAT_APP,
    DEPLOY,
    REPO,
    NodePeer,
    ProcessNode,
    RedisServer,
    cluster_node,
    free_port,
    render_nginx_conf,
    require,
    running,
    start_nginx,
)

pytestmark = pytest.mark.node


@pytest.fixture(scope="module")
def chat_cluster(workdir: Path, redis_server: RedisServer) -> Iterator[list[ProcessNode]]:
    require("redis-server")
    nodes = [cluster_node(f"chat-{i}", workdir, redis_server.url, app=CHAT_APP) for i in range(3)]
    with running(nodes):
        redis_server.wait_subscribers(len(nodes))
        yield nodes
        for node in nodes:
            assert node.alive() and not node.tracebacks(), node.log_text()


@pytest.fixture(scope="module")
def nginx_port(workdir: Path, chat_cluster: list[ProcessNode]) -> Iterator[int]:
    require("nginx")
    with start_nginx(workdir, [node.port for node in chat_cluster]) as port:
        yield port


def server_pid(peer: NodePeer, name: str) -> int:
    return int(peer.wait_events(name, "server_info")[0][0]["pid"])


def other_node(nodes: list[ProcessNode], pid: int) -> ProcessNode:
    return next(node for node in nodes if node.proc is not None and node.proc.pid != pid)


def chat_lines(peer: NodePeer, name: str, count: int) -> list[tuple[Any, Any]]:
    return [(a[0]["name"], a[0]["text"]) for a in peer.wait_events(name, "chat", count)]


def test_nginx_template_placeholders() -> None:
    text = render_nginx_conf("127.0.0.1:8080", [5001, 5002])
    assert "listen 127.0.0.1:8080;" in text
    assert "server 127.0.0.1:5001;" in text and "server 127.0.0.1:5002;" in text
    assert "hash $remote_addr consistent;" in text and "proxy_http_version 1.1;" in text


def test_websocket_upgrade_through_nginx(chat_cluster: list[ProcessNode], nginx_port: int, peer: NodePeer) -> None:
    """Default transports through nginx: polling first, then the upgrade to WebSocket; the
    client joins a room and gets a line sent by a client of another process."""
    via = f"http://127.0.0.1:{nginx_port}"
    peer.connect("browser", via, auth={"name": "alice"})  # polling first (the default)
    assert peer.wait(lambda r: r["type"] == "upgrade" and r["name"] == "browser")["transport"] == "websocket"
    assert peer.transport("browser") == "websocket"
    pid = server_pid(peer, "browser")
    assert peer.call("browser", "join", {"room": "nginx"})["room"] == "nginx"

    direct = other_node(chat_cluster, pid)
    peer.connect("other", direct.url, auth={"name": "bob"}, opts={"transports": ["websocket"]})
    assert server_pid(peer, "other") != pid
    peer.call("other", "join", {"room": "nginx"})
    assert peer.call("other", "chat", "hello through nginx")["ok"] is True
    assert chat_lines(peer, "browser", 1) == [("bob", "hello through nginx")]
    assert peer.call("browser", "chat", "and back")["ok"] is True
    assert chat_lines(peer, "other", 2)[-1] == ("alice", "and back")


def test_polling_only_through_nginx(chat_cluster: list[ProcessNode], nginx_port: int, peer: NodePeer) -> None:
    """Long-polling only (no upgrade): every request of the session must reach the same
    process (sticky sessions), across several round trips."""
    via = f"http://127.0.0.1:{nginx_port}"
    peer.connect("poller", via, auth={"name": "carol"}, opts={"transports": ["polling"]})
    pid = server_pid(peer, "poller")
    peer.call("poller", "join", {"room": "polling"})
    direct = other_node(chat_cluster, pid)
    peer.connect("other", direct.url, auth={"name": "dave"}, opts={"transports": ["websocket"]})
    peer.call("other", "join", {"room": "polling"})
    for i in range(5):
        peer.call("other", "chat", f"line {i}")
    assert chat_lines(peer, "poller", 5)[-5:] == [("dave", f"line {i}") for i in range(5)]
    assert peer.call("poller", "chat", "polled back")["ok"] is True
    assert chat_lines(peer, "other", 6)[-1] == ("carol", "polled back")
    assert peer.transport("poller") == "polling"
    assert not [r for r in peer.reports if r["type"] == "disconnect"]


def test_gunicorn_gevent_worker_with_another_process(workdir: Path, redis_server: RedisServer,
                                                     chat_cluster: list[ProcessNode], peer: NodePeer) -> None:
    """``gunicorn -c deploy/gunicorn.conf.py examples.chat.app:app`` (gevent worker, one
    worker) on the same Redis as the other chat processes."""
    gunicorn = str(REPO / ".venv" / "bin" / "gunicorn")
    port = free_port()
    node = ProcessNode(
        "gunicorn",
        [gunicorn, "-c", str(DEPLOY / "gunicorn.conf.py"), "--bind", f"127.0.0.1:{port}", "examples.chat.app:app"],
        port, {"CHAT_MESSAGE_QUEUE": redis_server.url}, workdir / "gunicorn.log",
    )
    with running([node]):
        redis_server.wait_subscribers(len(chat_cluster) + 1)
        peer.connect("g", node.url, auth={"name": "gina"})  # polling, then upgrade
        assert peer.wait(lambda r: r["type"] == "upgrade" and r["name"] == "g")["transport"] == "websocket"
        peer.connect("p", chat_cluster[0].url, auth={"name": "pete"}, opts={"transports": ["polling"]})
        assert server_pid(peer, "g") != server_pid(peer, "p")
        peer.call("g", "join", {"room": "gunicorn"})
        peer.call("p", "join", {"room": "gunicorn"})
        peer.call("p", "chat", "to gunicorn")
        assert chat_lines(peer, "g", 1) == [("pete", "to gunicorn")]
        peer.call("g", "chat", "from gunicorn")
        assert chat_lines(peer, "p", 2)[-1] == ("gina", "from gunicorn")
        log = node.log.read_text(errors="replace")
        assert "Using worker: gevent" in log and "Traceback" not in log, log


def test_deployment_doc_shows_the_files_the_tests_use() -> None:
    """docs/deployment.md quotes deploy/nginx.conf and deploy/gunicorn.conf.py verbatim."""
    doc = (REPO / "docs" / "deployment.md").read_text()
    for name in ("nginx.conf", "gunicorn.conf.py"):
        text = (DEPLOY / name).read_text()
        assert text in doc, f"docs/deployment.md is out of date: paste deploy/{name} again"
