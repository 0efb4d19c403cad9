"""Idle connections and dead peers.

* 1000 idle WebSocket connections (Engine.IO open + Socket.IO CONNECT) on one gevent server
  process, through scripts/idle_connections.py: RSS per idle connection, every session
  counted, 20 of them "dead" (never answering PINGs) reaped with ``ping timeout`` while the
  980 others, answering, stay; then everything is reaped when the clients go.
  The long variant: ``scripts/idle_connections.py --connections 10000``.
* A peer that vanishes without a FIN (a raw socket that never answers, a client process
  frozen with SIGSTOP) is disconnected with reason ``ping timeout`` at both layers, while a
  live client on the same server keeps its session.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from hard_support import ROOT, Closed, RawWS, SioEnv, sio_env

SCRIPT = os.path.join(ROOT, "scripts", "idle_connections.py")


def test_1000_idle_websockets_on_one_process(record_property: Any) -> None:
    proc = subprocess.run(
        [sys.executable, SCRIPT, "--connections", "1000", "--hold", "4", "--dead", "20",
         "--ping-interval", "2", "--ping-timeout", "1", "--timeout", "90", "--json"],
        capture_output=True, text=True, timeout=110, cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    print("idle connections:", result)
    for key in ("connections", "rss_before_kb", "rss_after_kb", "rss_per_connection_kb", "open_seconds"):
        record_property(key, result[key])
    assert result["sessions"] == 1000
    assert 0 < result["rss_per_connection_kb"] < 100, result
    # The dead ones, and only them, were reaped by the heartbeat.
    assert result["live_dropped"] == 0
    assert result["after_hold"]["sessions"] == 980
    assert result["after_hold"]["disconnects"].get("ping timeout") == 20
    assert result["pings_answered"] >= 980
    assert result["fresh_client_ok"] is True
    assert result["reaped"] is True
    assert result["disconnects"]["ping timeout"] == 20
    assert result["uncaught"] == 0 and result["logged_errors"] == 0


class LiveClient:
    """A well-behaved client: a thread answers PINGs and queues everything else."""

    def __init__(self, port: int) -> None:
        self.ws = RawWS(port)
        self.sid = self.ws.sio_connect()
        self.messages: queue.Queue[str | bytes] = queue.Queue()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        self.ws.sock.settimeout(0.2)
        while not self.stop.is_set():
            try:
                fin, opcode, payload = self.ws.recv_frame()
            except TimeoutError:
                continue
            except (Closed, OSError):
                return
            if (opcode, payload) == (0x1, b"2"):
                self.ws.send_text("3")
            elif opcode in (0x1, 0x2):
                self.messages.put(payload.decode() if opcode == 0x1 else payload)

    def echo(self, token: str) -> None:
        self.ws.send_text(f'421["echo","{token}"]')
        while (got := self.messages.get(timeout=10)) != f'431["{token}"]':
            assert isinstance(got, str)

    def finish(self) -> None:
        self.stop.set()
        self.thread.join(5)
        self.ws.close()


@contextmanager
def fast_heartbeat() -> Iterator[tuple[SioEnv, LiveClient]]:
    with sio_env(bystander=False, ping_interval=0.3, ping_timeout=0.4) as env:
        live = LiveClient(env.port)
        try:
            yield env, live
        finally:
            live.finish()


def assert_reaped_by_ping_timeout(env: SioEnv, eio_sid: str, sid: str, live: LiveClient) -> None:
    assert env.eio_disconnect_reason(eio_sid, timeout=15) == "ping timeout"
    env.wait_event("disconnect", lambda s, reason: s == sid and reason == "ping timeout")
    assert eio_sid not in env.sio._clients
    assert not env.eio_disconnected(live.ws.eio_sid or "")
    live.echo("after-reap")


def test_raw_peer_that_never_answers_pings_is_reaped() -> None:
    with fast_heartbeat() as (env, live):
        dead = RawWS(env.port)
        sid = dead.sio_connect()
        # ...and it never reads again: the server's PINGs go unanswered.
        assert_reaped_by_ping_timeout(env, dead.eio_sid or "", sid, live)
        dead.close()


CLIENT = r"""
import json, sys, websocket
ws = websocket.create_connection(sys.argv[1] + "/socket.io/?EIO=4&transport=websocket", timeout=30)
opening = ws.recv()
ws.send("40")
ack = ws.recv()
while ack == "2":
    ws.send("3")
    ack = ws.recv()
print(json.dumps({"eio_sid": json.loads(opening[1:])["sid"], "sid": json.loads(ack[2:])["sid"]}), flush=True)
while True:
    if ws.recv() == "2":
        ws.send("3")
"""


def test_frozen_client_process_is_reaped() -> None:
    """SIGSTOP: the process keeps its socket open (no FIN, no RST) but answers nothing."""
    with fast_heartbeat() as (env, live):
        proc = subprocess.Popen([sys.executable, "-c", CLIENT, f"http://127.0.0.1:{env.port}".replace("http", "ws")],
                                stdout=subprocess.PIPE, text=True, cwd=ROOT)
        try:
            assert proc.stdout is not None
            ids = json.loads(proc.stdout.readline())
            # It answers PINGs while it runs: two heartbeats pass with the session intact.
            assert env.sio.eio.is_connected(ids["eio_sid"])
            os.kill(proc.pid, signal.SIGSTOP)
            assert_reaped_by_ping_timeout(env, ids["eio_sid"], ids["sid"], live)
        finally:
            proc.kill()
            proc.wait(10)
