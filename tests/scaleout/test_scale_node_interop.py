"""Node interop on one Redis (issue 15): our two nodes (with ``node_adapter=True``) and a Node
socket.io server on ``@socket.io/redis-adapter`` form one cluster; the npm
``@socket.io/redis-emitter`` and our `NodeEmitter` reach the clients of both sides."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from scale_support import NodeScript, RedisServer, cluster_node, free_port, running, wait_for
from test_scale_cluster_ops import APP, Crowd, control, op

from socketio_core.brokers.node_adapter import NodeEmitter


class NodeServer(NodeScript):
    """tests/node/redis_adapter_peer.js."""

    def __init__(self, port: int, redis_url: str) -> None:
        super().__init__("redis_adapter_peer.js", {"port": port, "redis": redis_url})
        self.url = f"http://127.0.0.1:{port}"
        self.wait(lambda r: r["type"] == "ready", "ready")

    def send(self, **command: Any) -> None:
        self.write_line(json.dumps(command))
        if command["cmd"] != "fetch":
            self.wait(lambda r: r["type"] == "done" and r["cmd"] == command["cmd"], f"done {command['cmd']}")


@pytest.fixture(scope="module")
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
        fetched = node_server.wait(lambda r: r["type"] == "fetched", "fetched")
        assert {s["id"] for s in fetched["sockets"]} == ours_in_r | {crowd.sids[2]}
        ctl.disconnect()
        emitter.close()
    finally:
        for client in py_clients:
            client.disconnect()
        crowd.close()


@pytest.mark.parametrize("count", [500, 5000])
def test_a_burst_reaches_the_node_servers_clients_complete_and_in_order(
        mixed: tuple[list[Any], NodeServer], redis_server: RedisServer, count: int) -> None:
    """One handler of our node emits `count` ticks to a room; a JS client of the Node
    redis-adapter server gets every one, in order (the bridge used to start a thread per
    emit: 496 of 500 arrived, 448 out of order, "Too many connections")."""
    ours, node_server = mixed
    crowd = Crowd([node_server.url], ["burst"], [])
    try:
        wait_for(lambda: redis_server.subscribers("socket.io-request#/#") == 3, timeout=10)
        ctl = control(ours[0].url)
        assert op(ctl, op="burst", event="news", count=count, to="burst") == "ok"
        wait_for(lambda: len(crowd.report()["news"]["0"]) >= count, timeout=60, interval=0.2)
        assert [args[0] for args in crowd.report()["news"]["0"]] == list(range(count))
        ctl.disconnect()
    finally:
        crowd.close()


def test_node_emitter_except_volatile_and_several_rooms(redis_server: RedisServer) -> None:
    """Issue 21 #7: the npm ``@socket.io/redis-emitter`` into one of our servers (its Node
    bridge): ``to(["a", "b"]).except("x")`` reaches a client only in the second room and not
    one in the excepted room; ``volatile`` skips a long-polling client with no GET waiting
    (mutants: the first room only, ``except`` ignored, ``volatile`` ignored)."""
    import sys as _sys

    _sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "hardening"))
    from hard_support import PollClient, RawWS, sio_env

    from socketio_core.features.node_bridge import NodeRedisBridge

    node_server = NodeServer(free_port(), redis_server.url)
    try:
        with sio_env(bystander=False) as env:
            NodeRedisBridge(env.sio, redis_server.url)
            sio = env.sio
            clients = {}
            for name, rooms in (("a", ["a"]), ("b", ["b"]), ("x", ["a", "x"])):
                ws = RawWS(env.port)
                sid = ws.sio_connect()
                for room in rooms:
                    sio.enter_room(sid, room)
                clients[name] = ws
            poller = PollClient(env.port)
            sio.enter_room(poller.sio_connect(), "a")
            # The bridge listens once the server runs: probe until a probe arrives.
            for attempt in range(50):
                node_server.send(cmd="emitter", to="a", event="probe", data=attempt)
                clients["a"].sock.settimeout(0.2)
                try:
                    got = clients["a"].recv_message()
                except OSError:
                    continue
                clients["a"].sock.settimeout(10)
                assert isinstance(got, str) and got.startswith('42["probe",')
                break
            else:
                raise AssertionError("the Node emitter never reached our server")
            for name in ("x", "b"):
                clients[name].sock.settimeout(10)
            node_server.send(cmd="emitter", to=["a", "b"], event="multi", data=1, **{"except": "x"})
            node_server.send(cmd="emitter", to="a", event="volatile", data=2, volatile=True)
            node_server.send(cmd="emitter", to=["a", "b", "x"], event="last", data=3)
            def rest(ws: Any) -> list[str]:
                out: list[str] = []
                while not out or not out[-1].startswith('42["last"'):
                    message = ws.recv_message()
                    if not str(message).startswith('42["probe"'):
                        out.append(str(message))
                return out

            assert rest(clients["a"]) == ['42["multi",1]', '42["volatile",2]', '42["last",3]']
            assert rest(clients["b"]) == ['42["multi",1]', '42["last",3]']  # only in the second room
            assert rest(clients["x"]) == ['42["volatile",2]', '42["last",3]']  # excepted from "multi" only
            polled: list[str] = []
            while not polled or not polled[-1].startswith('42["last"'):
                message = str(poller.recv_message())
                if not message.startswith('42["probe"'):
                    polled.append(message)
            assert polled == ['42["multi",1]', '42["last",3]']  # not polling: no volatile
            for ws in clients.values():
                ws.close()
    finally:
        node_server.close()
