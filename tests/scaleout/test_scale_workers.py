"""``socketio.run(app, workers=2)`` and ``gunicorn -w 2 -k gevent`` (deploy/gunicorn_workers.conf.py):
one port, two worker processes, real clients.

200 official JavaScript clients (half polling only, half upgrading to WebSocket) on
tests/scaleout/apps/workers_app.py: sessions are spread over both workers, rooms span them, a
burst emitted by a handler and one from a background task reach every member once and in
order (over the workers' local bus), a server-to-client call crosses workers, `fetch_sockets`
sees every client; a worker killed with SIGKILL is restarted and its clients come back. The
supervisor's own life: SIGTERM stops every worker, and workers whose supervisor was killed
with SIGKILL exit by themselves and free the port.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from scale_support import (
    APPS,
    DEPLOY,
    PYTHON,
    NodeScript,
    ProcessNode,
    RedisServer,
    free_port,
    port_open,
    wait_for,
    wait_http,
)

WORKERS_APP = APPS / "workers_app.py"
CROWD = 200
ROOMS = 4


def children(pid: int) -> set[int]:
    """The live child processes of `pid` (from /proc)."""
    found: set[int] = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            found.add(int(entry))
    return found


def socket_directories(pids: set[int]) -> set[Path]:
    """The directories of the Unix sockets these processes listen on (from /proc/net/unix)."""
    inodes: set[str] = set()
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            target = os.readlink(fd)
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    found: set[Path] = set()
    for line in Path("/proc/net/unix").read_text().splitlines()[1:]:
        fields = line.split()
        if len(fields) >= 8 and fields[6] in inodes and "socketio-workers-" in fields[7]:
            found.add(Path(fields[7]).parent)
    return found


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def workers_node(workdir: Path, name: str, env: dict[str, str] | None = None, workers: int = 2) -> ProcessNode:
    port = free_port()
    return ProcessNode(name, [PYTHON, str(WORKERS_APP), "--port", str(port), "--workers", str(workers)], port,
                       env or {}, workdir / f"{name}-{port}.log")


def gunicorn_node(workdir: Path, name: str) -> ProcessNode:
    """docs/deployment.md's command line: ``gunicorn -c deploy/gunicorn_workers.conf.py -w 2``."""
    port = free_port()
    argv = [str(Path(PYTHON).parent / "gunicorn"), "-c", str(DEPLOY / "gunicorn_workers.conf.py"), "-w", "2",
            "-b", f"127.0.0.1:{port}", "--chdir", str(APPS), "workers_app:app"]
    return ProcessNode(name, argv, port, {}, workdir / f"{name}-{port}.log")


@pytest.fixture(params=["run", "gunicorn"])
def node(workdir: Path, request: pytest.FixtureRequest) -> Iterator[ProcessNode]:
    make = workers_node if request.param == "run" else gunicorn_node
    server = make(workdir, f"workers-{request.param}").start()
    try:
        wait_http(server.url + "/pid", timeout=30)
        assert server.proc is not None
        wait_for(lambda: len(children(server.proc.pid)) == 2, timeout=30)  # type: ignore[union-attr]
        yield server
    finally:
        server.stop()


class Crowd:
    def __init__(self, url: str, count: int) -> None:
        self.count = count
        self.script = NodeScript("workers_crowd.js", {"url": url, "count": count, "rooms": ROOMS})
        self.ready = self.script.wait(lambda r: r["type"] == "ready", "the crowd joined", timeout=60)
        self._ids = 0

    def report(self) -> dict[str, Any]:
        self.script.write_line("report")
        return self.script.wait(lambda r: r["type"] == "report", "a report")

    def emit(self, sender: int, event: str, *args: Any) -> Any:
        self._ids += 1
        ident = self._ids
        self.script.write_line(json.dumps({"emit": [sender, event, *args], "id": ident}))
        record = self.script.wait(lambda r: r["type"] == "emitted" and r["id"] == ident, f"the ack of {event}", timeout=30)
        assert record["error"] is None, record
        return record["answer"]

    def wait_news(self, source: str, count: int, members: list[int]) -> dict[str, Any]:
        """Until every member got `count` news from `source`; the last report."""
        def complete() -> dict[str, Any] | None:
            report = self.report()
            for i in members:
                if len([n for n in report["news"][str(i)] if n[0][0] == source]) < count:
                    return None
            return report

        result: dict[str, Any] = wait_for(complete, timeout=30, interval=0.2)
        return result

    def close(self) -> None:
        self.script.write_line("exit")
        self.script.close()


def news_of(report: dict[str, Any], i: int, source: str) -> list[int]:
    return [n[0][1] for n in report["news"][str(i)] if n[0][0] == source]


def test_200_clients_on_two_workers_act_as_one_server(node: ProcessNode) -> None:
    assert node.proc is not None
    supervisor = node.proc.pid
    workers = children(supervisor)
    crowd = Crowd(node.url, CROWD)
    try:
        joined = crowd.ready["joined"]
        pids = [info["pid"] for info in joined]
        assert set(pids) == workers, "the sessions are spread over both workers"
        if node.name.endswith("-run"):  # socketio.run balances handshakes (gunicorn: the kernel)
            assert min(pids.count(pid) for pid in workers) >= CROWD * 0.4, "evenly"
        for room in range(ROOMS):
            assert {pids[i] for i in range(CROWD) if i % ROOMS == room} == workers, f"room-{room} spans the workers"
        # The upgrading half reaches WebSocket; the polling half stays on polling.
        wait_for(lambda: all(t == ("websocket" if i % 2 else "polling")
                             for i, t in enumerate(crowd.report()["transports"])), timeout=30, interval=0.2)

        # A burst from a handler and one from a background task, on different workers.
        first, other = 0, next(i for i in range(CROWD) if pids[i] != pids[0])
        assert crowd.emit(first, "burst", "all", 30, "handler") == pids[first]
        assert crowd.emit(other, "bg_burst", "all", 30, "task") == pids[other]
        report = crowd.wait_news("handler", 30, list(range(CROWD)))
        report = crowd.wait_news("task", 30, list(range(CROWD)))
        for i in range(CROWD):
            assert news_of(report, i, "handler") == list(range(30)), f"client {i}: once and in order"
            assert news_of(report, i, "task") == list(range(30)), f"client {i}: once and in order"
        # A room: only its members, on both workers.
        crowd.emit(first, "burst", "room-1", 5, "room1")
        report = crowd.wait_news("room1", 5, [i for i in range(CROWD) if i % ROOMS == 1])
        for i in range(CROWD):
            assert news_of(report, i, "room1") == (list(range(5)) if i % ROOMS == 1 else [])

        # A server-to-client call from one worker to a client of the other, and fetch_sockets.
        assert crowd.emit(first, "ask", joined[other]["sid"], "hello") == [other, "hello"]
        assert crowd.emit(other, "ask", joined[first]["sid"], "back") == [first, "back"]
        assert crowd.emit(first, "count", "all") == CROWD
        assert crowd.emit(other, "count", "room-2") == CROWD // ROOMS

        # SIGKILL one worker: the supervisor forks a new one, the clients come back.
        victim = pids[first]
        on_victim = [i for i in range(CROWD) if pids[i] == victim]
        os.kill(victim, signal.SIGKILL)
        def replaced() -> set[int] | None:  # one snapshot of /proc, read once
            now = children(supervisor)
            return now if len(now) == 2 and victim not in now else None

        restarted = wait_for(replaced, timeout=30) - workers
        assert len(restarted) == 1, (workers, victim, children(supervisor))

        def back() -> dict[str, Any] | None:
            report = crowd.report()
            ok = (all(report["connected"]) and all(report["connects"][i] >= 2 for i in on_victim)
                  and all(report["joined"][i]["pid"] != victim for i in on_victim))  # rejoined too
            return report if ok else None

        report = wait_for(back, timeout=60, interval=0.2)
        rejoined = [report["joined"][i]["pid"] for i in range(CROWD)]
        assert set(rejoined) <= workers - {victim} | restarted
        # Everyone hears a burst again, whichever worker holds them now.
        crowd.emit(next(i for i in range(CROWD) if i not in on_victim), "burst", "all", 10, "after")
        report = crowd.wait_news("after", 10, list(range(CROWD)))
        for i in range(CROWD):
            assert news_of(report, i, "after") == list(range(10))
        assert crowd.emit(first, "count", "all") == CROWD
    finally:
        crowd.close()
    assert "Traceback" not in node.log_text(), node.log_text()
    assert "Invalid request" not in node.log_text(), node.log_text()


def test_sigterm_stops_every_worker(workdir: Path) -> None:
    server = workers_node(workdir, "sigterm").start()
    try:
        wait_http(server.url + "/pid", timeout=30)
        assert server.proc is not None
        wait_for(lambda: len(children(server.proc.pid)) == 2, timeout=30)  # type: ignore[union-attr]
        workers = children(server.proc.pid)
        server.proc.send_signal(signal.SIGTERM)
        assert server.proc.wait(30) == 0
        wait_for(lambda: not any(alive(pid) for pid in workers), timeout=10)
        assert not port_open(server.port)
    finally:
        server.stop()


def test_workers_exit_when_the_supervisor_is_killed(workdir: Path) -> None:
    server = workers_node(workdir, "orphans").start()
    try:
        wait_http(server.url + "/pid", timeout=30)
        assert server.proc is not None
        wait_for(lambda: len(children(server.proc.pid)) == 2, timeout=30)  # type: ignore[union-attr]
        workers = children(server.proc.pid)
        directories = socket_directories(workers)
        assert len(directories) == 1
        server.proc.send_signal(signal.SIGKILL)
        server.proc.wait(10)
        wait_for(lambda: not any(alive(pid) for pid in workers), timeout=20)
        wait_for(lambda: not port_open(server.port), timeout=10)
        assert not directories.pop().exists(), "the last worker out removes the socket directory"
    finally:
        server.stop()


def test_the_admin_ui_sees_every_worker(workdir: Path) -> None:
    """The Admin UI's cluster view: server_stats from each worker (one server id each), and
    all_sockets lists the clients of both."""
    import socketio  # the python-socketio client (test-time only)

    server = workers_node(workdir, "admin", {"WORKERS_ADMIN": "1"}).start()
    try:
        wait_http(server.url + "/pid", timeout=30)
        assert server.proc is not None
        wait_for(lambda: len(children(server.proc.pid)) == 2, timeout=30)  # type: ignore[union-attr]
        crowd = Crowd(server.url, 20)
        try:
            pids = {info["pid"] for info in crowd.ready["joined"]}
            assert len(pids) == 2
            stats: dict[str, Any] = {}
            sockets: list[Any] = []
            admin = socketio.Client()
            admin.on("server_stats", lambda data: stats.setdefault(data["serverId"], data), namespace="/admin")
            admin.on("all_sockets", lambda data: sockets.extend(data), namespace="/admin")
            admin.connect(server.url, namespaces=["/admin"], auth={"username": "admin", "password": "pw"},
                          transports=["polling"])
            try:
                wait_for(lambda: len(stats) == 2 and sockets, timeout=20, interval=0.05)
                assert {data["pid"] for data in stats.values() if "pid" in data} <= pids
                ids = {s["id"] for s in sockets if s.get("nsp") == "/"}
                assert ids == {info["sid"] for info in crowd.ready["joined"]}
            finally:
                admin.disconnect()
        finally:
            crowd.close()
    finally:
        server.stop()


def test_killed_worker_clients_recover_with_redis(workdir: Path, redis_server: RedisServer) -> None:
    """With recovery on and a Redis message queue, the clients of a killed worker come back
    recovered (their sid, rooms and missed packets), on whichever worker they reach."""
    server = workers_node(workdir, "recovery", {"WORKERS_MESSAGE_QUEUE": redis_server.url, "WORKERS_RECOVERY": "1"})
    server.start()
    try:
        wait_http(server.url + "/pid", timeout=30)
        assert server.proc is not None
        supervisor = server.proc.pid
        wait_for(lambda: len(children(supervisor)) == 2, timeout=30)
        redis_server.wait_subscribers(2)
        crowd = Crowd(server.url, 20)
        try:
            pids = [info["pid"] for info in crowd.ready["joined"]]
            victim = pids[0]
            on_victim = [i for i in range(20) if pids[i] == victim]
            # A packet with an offset first: a client recovers from the last offset it saw.
            crowd.emit(1, "burst", "all", 3, "before")
            crowd.wait_news("before", 3, list(range(20)))
            os.kill(victim, signal.SIGKILL)

            def back() -> dict[str, Any] | None:
                report = crowd.report()
                ok = all(report["connected"]) and all(report["connects"][i] >= 2 for i in on_victim)
                return report if ok else None

            report = wait_for(back, timeout=60, interval=0.2)
            assert all(report["recovered"][i] for i in on_victim), report["recovered"]
            assert all(report["joined"][i]["sid"] == crowd.ready["joined"][i]["sid"] for i in on_victim)
            # Nothing twice: each client saw the burst once, recovered or not.
            assert all(news_of(report, i, "before") == [0, 1, 2] for i in range(20))
        finally:
            crowd.close()
    finally:
        server.stop()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(subprocess.call([sys.executable, "-m", "pytest", __file__]))
