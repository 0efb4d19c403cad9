"""Cluster-wide operations on 3 nodes + Redis with 300 official JS clients (issue 15's
acceptance): fetch_sockets, sockets_join/leave, disconnect_sockets, a broadcast with acks
(300 answers; 10 silent clients -> the timeout error carries 290), server-side calls, and
a node that dies mid-request."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from scale_support import NodeScript, RedisServer, cluster_node, running, wait_for

APP = Path(__file__).resolve().parent / "apps" / "cluster_ops_app.py"
CLIENTS = 300


class Crowd(NodeScript):
    """tests/node/cluster_crowd.js: many JS clients over the nodes."""

    def __init__(self, urls: list[str], rooms: list[Any], silent: list[int]) -> None:
        super().__init__("cluster_crowd.js", {"urls": urls, "rooms": rooms, "silent": silent})
        self.sids: list[str] = self.kind("ready", 60)["sids"]

    def kind(self, kind: str, timeout: float = 20) -> dict[str, Any]:
        """The next record of type `kind`."""
        return self.wait(lambda r: r["type"] == kind, kind, timeout)

    def report(self) -> dict[str, Any]:
        self.write_line("report")
        return self.kind("report")


@pytest.fixture(scope="module")
def nodes(workdir: Path, redis_server: RedisServer) -> Iterator[list[Any]]:
    ns = [cluster_node(f"ops-{n}", workdir, redis_server.url, app=APP) for n in ("A", "B", "C")]
    with running(ns):
        redis_server.wait_subscribers(3)
        yield ns


def control(url: str) -> Any:
    import socketio

    client = socketio.Client(reconnection=False)
    client.connect(url, transports=["websocket"], wait_timeout=10)
    return client


def op(client: Any, wait: float = 30, **spec: Any) -> Any:
    """Run one operation on the control client's node; `wait` bounds the whole round trip."""
    return client.call("op", spec, timeout=wait)


def test_three_nodes_300_clients(nodes: list[Any]) -> None:
    rooms = [["all", f"r{i % 3}"] for i in range(CLIENTS)]  # r0, r1, r2: 100 clients each
    silent = list(range(0, CLIENTS, 30))  # 10 clients that never answer
    crowd = Crowd([n.url for n in nodes], rooms, silent)
    ctl = control(nodes[0].url)
    try:
        sids = crowd.sids
        r1 = {sids[i] for i in range(CLIENTS) if i % 3 == 1}
        fetched = op(ctl, op="fetch", to="r1")
        assert {s["sid"] for s in fetched} == r1 and len(fetched) == 100
        by_sid = {s["sid"]: s for s in fetched}
        for i in range(1, CLIENTS, 3):
            assert set(by_sid[sids[i]]["rooms"]) == {sids[i], "all", "r1"}
            assert by_sid[sids[i]]["query"]["index"] == str(i)
            assert by_sid[sids[i]]["address"] == "127.0.0.1"
        assert len(op(ctl, op="fetch", to="all", skip="r0")) == 200

        # sockets_join / sockets_leave take effect on every node
        op(ctl, op="join", rooms=["vip"], to="r2", skip=sids[2])
        wait_for(lambda: len(op(ctl, op="fetch", to="vip")) == 99, timeout=10)
        op(ctl, op="leave", rooms="vip", to="all", skip="r2")  # nobody outside r2 is in vip: no change
        op(ctl, op="leave", rooms="vip", to=[sids[5], sids[8]])
        wait_for(lambda: {s["sid"] for s in op(ctl, op="fetch", to="vip")}
                 == {sids[i] for i in range(2, CLIENTS, 3)} - {sids[2], sids[5], sids[8]}, timeout=10)

        # a broadcast with acks: 300 answers; 10 silent -> the timeout error carries 290
        answered = [i for i in range(CLIENTS) if i not in silent]
        result = op(ctl, op="call", event="question", data="q", to="all", skip=[sids[i] for i in silent], timeout=10)
        assert sorted(a[0] for a in result["answers"]) == answered
        result = op(ctl, op="call", event="question", data="q2", to="all", timeout=3)
        assert sorted(a[0] for a in result["timeout"]) == answered and len(result["timeout"]) == 290

        # server-side call: one answer per other node
        result = op(ctl, op="server_call")
        assert len(result["answers"]) == 2 and len({a["pid"] for a in result["answers"]}) == 2

        # except-rooms on an emit across nodes
        op(ctl, op="emit", event="news", data="n", to="r0", skip="vip")
        wait_for(lambda: sum(bool(v) for v in crowd.report()["news"].values()) == 100, timeout=10)
        news = crowd.report()["news"]
        assert {int(i) for i, v in news.items() if v} == set(range(0, CLIENTS, 3))

        # disconnect_sockets on every node
        op(ctl, op="disconnect", to="r0")
        wait_for(lambda: sum(crowd.report()["connected"]) == 200, timeout=10)
        connected = crowd.report()["connected"]
        assert [i for i, c in enumerate(connected) if not c] == list(range(0, CLIENTS, 3))
        assert len(op(ctl, op="fetch")) == 200 + 1  # the control client too
    finally:
        ctl.disconnect()
        crowd.close()


def test_a_node_that_dies_is_not_waited_for(workdir: Path, redis_server: RedisServer, nodes: list[Any]) -> None:
    """A hung node (SIGSTOP: still subscribed, never answers) makes a fetch fail by its
    timeout, not later; once it is gone (killed: unsubscribed) requests complete without it."""
    extra = cluster_node("ops-D", workdir, redis_server.url, app=APP)
    with running([extra]):
        redis_server.wait_subscribers(4)
        ctl = control(nodes[0].url)
        try:
            assert len(op(ctl, op="fetch")) == 1
            extra.proc.send_signal(signal.SIGSTOP)
            # the request's timeout is 1 s; the control call gives up after 6 s (TimeoutError)
            result = op(ctl, op="fetch", timeout=1, wait=6)
            assert result == {"timeout": "timeout reached while waiting for fetch_sockets: 2 of 3 nodes answered"}
            extra.proc.kill()
            wait_for(lambda: redis_server.subscribers() == 3, timeout=10)
            assert len(op(ctl, op="fetch", timeout=3)) == 1
        finally:
            ctl.disconnect()
