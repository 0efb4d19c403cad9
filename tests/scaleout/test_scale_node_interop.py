"""Node interop on one Redis (issue 15): our two nodes (with ``node_adapter=True``) and a Node
socket.io server on ``@socket.io/redis-adapter`` form one cluster; the npm
``@socket.io/redis-emitter`` and our `NodeEmitter` reach the clients of both sides."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from scale_support import REPO, RedisServer, cluster_node, free_port, running, wait_for
from test_scale_cluster_ops import APP, Crowd, control, op

from socketio_core.redis_adapter import NodeEmitter


class NodeServer:
    """tests/node/redis_adapter_peer.js."""

    def __init__(self, port: int, redis_url: str) -> None:
        node = shutil.which("node")
        if node is None:
            pytest.skip("node is required")
        self.url = f"http://127.0.0.1:{port}"
        self.proc = subprocess.Popen([node, str(REPO / "tests" / "node" / "redis_adapter_peer.js"),
                                      json.dumps({"port": port, "redis": redis_url})], cwd=str(REPO),
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
        self.lines: list[dict[str, Any]] = []
        self.cond = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()
        self.wait(lambda r: r["type"] == "ready")

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith("{"):
                with self.cond:
                    self.lines.append(json.loads(line))
                    self.cond.notify_all()

    def wait(self, match: Any, timeout: float = 20) -> dict[str, Any]:
        with self.cond:
            def find() -> Any:
                for r in self.lines:
                    if r["type"] == "error":
                        raise AssertionError(r["message"])
                    if match(r):
                        return r
                return None
            assert self.cond.wait_for(find, timeout)
            found = find()
            self.lines.remove(found)
            return found  # type: ignore[no-any-return]

    def send(self, **command: Any) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(command) + "\n")
        self.proc.stdin.flush()
        if command["cmd"] != "fetch":
            self.wait(lambda r: r["type"] == "done" and r["cmd"] == command["cmd"])

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(5)


@pytest.fixture
def mixed(workdir: Path, redis_server: RedisServer) -> Iterator[tuple[list[Any], NodeServer]]:
    ours = [cluster_node(f"interop-{n}", workdir, redis_server.url, app=APP, extra_env={"SCALE_NODE_ADAPTER": "1"})
            for n in ("A", "B")]
    with running(ours):
        node_server = NodeServer(free_port(), redis_server.url)
        try:
            yield ours, node_server
        finally:
            node_server.close()


def test_one_cluster_with_node(mixed: tuple[list[Any], NodeServer], redis_server: RedisServer) -> None:
    import socketio

    ours, node_server = mixed
    urls = [ours[0].url, ours[1].url, node_server.url]
    crowd = Crowd(urls, ["r", "r", "r", "r", "r", "other"], [])  # clients 2 and 5 on the Node server
    py_clients = []
    got: dict[int, list[Any]] = {0: [], 1: []}
    try:
        for k, url in enumerate(urls[:2]):  # one python-socketio client on each of our nodes
            client = socketio.Client(reconnection=False)
            client.on("news", got[k].append)
            client.connect(url, transports=["websocket"], wait_timeout=10)
            client.call("join", "r", timeout=5)
            py_clients.append(client)
        # our two bridges (subscribed once their server runs) and the Node server
        wait_for(lambda: redis_server.subscribers("socket.io-request#/#") == 3, timeout=10)

        node_server.send(cmd="emitter", to="r", event="news", data="node-emitter")
        emitter = NodeEmitter(redis_server.url)
        emitter.emit("news", "py-emitter", to="r")
        ctl = control(ours[0].url)
        op(ctl, op="emit", event="news", data="from-python-node", to="r")
        node_server.send(cmd="emit", to="r", event="news", data="from-node-server")
        expected = ["from-node-server", "from-python-node", "node-emitter", "py-emitter"]

        def all_in() -> bool:
            news = crowd.report()["news"]
            return all(len(news[str(i)]) == 4 for i in range(5)) and all(len(v) == 4 for v in got.values())

        wait_for(all_in, timeout=10)
        news = crowd.report()["news"]
        for i in range(5):
            assert sorted(a[0] for a in news[str(i)]) == expected, (i, news[str(i)])
        assert news["5"] == []
        for k in got:
            assert sorted(got[k]) == expected

        # the emitter's socketsJoin reaches our nodes' clients; a Node fetchSockets sees them
        node_server.send(cmd="emitter_join", to="r", rooms=["joined"])
        ours_in_r = {crowd.sids[i] for i in (0, 1, 3, 4)} | {c.get_sid() for c in py_clients}
        wait_for(lambda: {s["sid"] for s in op(ctl, op="fetch", to="joined")} == ours_in_r, timeout=10)
        node_server.send(cmd="fetch", id=1, to="joined")
        fetched = node_server.wait(lambda r: r["type"] == "fetched")
        assert {s["id"] for s in fetched["sockets"]} == ours_in_r | {crowd.sids[2]}
        ctl.disconnect()
        emitter.close()
    finally:
        for client in py_clients:
            client.disconnect()
        crowd.close()
