#!/usr/bin/env python
"""Hold many idle WebSocket connections on one gevent server process; report its memory.

    .venv/bin/python scripts/idle_connections.py                       # 1000 connections
    .venv/bin/python scripts/idle_connections.py --connections 10000   # the long variant
    .venv/bin/python scripts/idle_connections.py --connections 10000 \\
        --ping-interval 5 --ping-timeout 5 --hold 15 --dead 500        # plus dead clients

What it does:

1. raises its own RLIMIT_NOFILE soft limit (the server subprocess inherits it): N client
   sockets here and N server sockets there;
2. starts scripts/hardening_server.py (a `socketio_core.SocketServer` on gevent's pywsgi,
   127.0.0.1) in a subprocess and measures its RSS from /proc after a warm-up connection;
3. opens N WebSocket connections, each Engine.IO-open and connected to Socket.IO namespace "/"
   (hand-written client: upgrade request, masked frames), in batches;
4. waits until the server reports N sessions, measures RSS again: RSS per idle connection;
5. holds them for ``--hold`` seconds, answering the server's PINGs, except ``--dead K`` of
   them (the last opened) that never answer (a client that vanished without a FIN): the server must reap exactly
   those with reason ``ping timeout`` within ping_interval + ping_timeout, and keep the rest;
6. checks that a fresh client still connects and gets an ack, closes everything and waits
   until the server has forgotten every session.

Prints one JSON object (``--json``) or a short report. Every loop is bounded in time.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import resource
import select
import socket
import struct
import sys
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hardening_server import TargetServer  # noqa: E402

BATCH = 250


def raise_nofile(wanted: int) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def masked_text(text: str) -> bytes:
    payload = text.encode()
    mask = os.urandom(4)
    assert len(payload) < 126
    return bytes([0x81, 0x80 | len(payload)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


class Client:
    """One hand-written WebSocket client (no library: the point is to be cheap and exact)."""

    __slots__ = ("sock", "buf", "eio_sid", "sid", "pings")

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.buf = b""
        self.eio_sid = ""
        self.sid = ""
        self.pings = 0

    def send_upgrade(self, port: int) -> None:
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            (f"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
             f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
             f"Sec-WebSocket-Version: 13\r\n\r\n").encode()
        )

    def read_upgrade(self) -> None:
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("EOF during the upgrade")
            self.buf += chunk
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 101"):
            raise ConnectionError(head.decode("latin-1"))

    def frames(self) -> list[tuple[int, bytes]]:
        """Complete frames in the buffer (unfragmented server frames)."""
        out = []
        while len(self.buf) >= 2:
            n, pos = self.buf[1] & 0x7F, 2
            if n == 126:
                if len(self.buf) < 4:
                    break
                n, pos = struct.unpack("!H", self.buf[2:4])[0], 4
            elif n == 127:
                if len(self.buf) < 10:
                    break
                n, pos = struct.unpack("!Q", self.buf[2:10])[0], 10
            if len(self.buf) < pos + n:
                break
            out.append((self.buf[0] & 0x0F, self.buf[pos:pos + n]))
            self.buf = self.buf[pos + n:]
        return out

    def read_text(self) -> str:
        while True:
            for opcode, payload in self.frames():
                if opcode == 0x8:
                    raise ConnectionError("closed by the server")
                if opcode == 0x1:
                    text = payload.decode()
                    if text == "2":
                        self.answer_ping()
                        continue
                    # Put back nothing: callers read one message at a time in lock step.
                    return text
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("EOF")
            self.buf += chunk

    def answer_ping(self) -> None:
        self.pings += 1
        self.sock.sendall(masked_text("3"))

    def pump(self) -> bool:
        """Read what is there (non-blocking caller: after select); answer PINGs. False: gone."""
        try:
            chunk = self.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return True
        except OSError:
            return False
        if not chunk:
            return False
        self.buf += chunk
        for opcode, payload in self.frames():
            if opcode == 0x8:
                return False
            if opcode == 0x1 and payload == b"2":
                self.answer_ping()
        return True


class Pinger:
    """Answers the server's PINGs on every registered client that is not `dead`."""

    def __init__(self) -> None:
        self.poller = select.epoll()
        self.by_fd: dict[int, Client] = {}
        self.dropped = 0

    def add(self, client: Client) -> None:
        client.sock.setblocking(False)
        fd = client.sock.fileno()
        self.by_fd[fd] = client
        self.poller.register(fd, select.EPOLLIN)

    def service(self, timeout: float) -> None:
        for fd, _ in self.poller.poll(timeout):
            c = self.by_fd.get(fd)
            if c is not None and not c.pump():
                self.dropped += 1
                self.poller.unregister(fd)
                del self.by_fd[fd]

    def run_for(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            self.service(min(left, 0.5))

    def close(self) -> None:
        self.poller.close()


def open_clients(port: int, count: int, dead: int, pinger: Pinger, deadline: float) -> list[Client]:
    """Open `count` connections in batches; between batches, answer PINGs on those already
    open, so a slow opening phase never times anyone out. The last `dead` opened never answer
    (the last, so that none is reaped before all are counted)."""
    clients: list[Client] = []
    while len(clients) < count:
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {len(clients)} of {count} connections opened in time")
        batch = [Client(port) for _ in range(min(BATCH, count - len(clients)))]
        for c in batch:
            c.send_upgrade(port)
        for c in batch:
            c.read_upgrade()
            opening = c.read_text()
            assert opening.startswith("0{"), opening
            c.eio_sid = json.loads(opening[1:])["sid"]
            c.sock.sendall(masked_text("40"))
        for c in batch:
            ack = c.read_text()
            assert ack.startswith("40{"), ack
            c.sid = json.loads(ack[2:])["sid"]
        for c in batch:
            if len(clients) < count - dead:
                pinger.add(c)
            clients.append(c)
        pinger.service(0)
    return clients


def wait_stats(server: TargetServer, predicate: Any, timeout: float, what: str,
               pinger: Pinger | None = None) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        stats = server.stats()
        if predicate(stats):
            return stats
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not reached within {timeout}s: {stats}")
        if pinger is not None:
            pinger.run_for(0.1)
        else:
            time.sleep(0.1)


def fresh_client_works(port: int) -> bool:
    c = Client(port)
    try:
        c.send_upgrade(port)
        c.read_upgrade()
        assert c.read_text().startswith("0{")
        c.sock.sendall(masked_text("40"))
        assert c.read_text().startswith("40{")
        c.sock.sendall(masked_text('421["echo","fresh"]'))
        return c.read_text() == '431["fresh"]'
    finally:
        c.sock.close()


def run(connections: int, hold_seconds: float, dead: int, ping_interval: float,
        ping_timeout: float, timeout: float) -> dict[str, Any]:
    limit = raise_nofile(2 * connections + 1024)
    if limit < connections + 64:
        raise SystemExit(f"RLIMIT_NOFILE is {limit}: too low for {connections} connections")
    started = time.monotonic()
    deadline = started + timeout
    server = TargetServer("--ping-interval", str(ping_interval), "--ping-timeout", str(ping_timeout))
    result: dict[str, Any] = {"connections": connections, "nofile": limit, "dead": dead,
                              "ping_interval": ping_interval, "ping_timeout": ping_timeout}
    clients: list[Client] = []
    with server:
        assert fresh_client_works(server.port)  # warm-up: imports, first greenlets, caches
        wait_stats(server, lambda s: s["sessions"] == 0, 10, "warm-up session gone")
        result["rss_before_kb"] = server.rss_kb()
        t0 = time.monotonic()
        pinger = Pinger()
        try:
            clients = open_clients(server.port, connections, dead, pinger, deadline)
            result["open_seconds"] = round(time.monotonic() - t0, 2)
            # Measured before any dead client can have been reaped (that takes a ping interval
            # plus a ping timeout from its connection).
            stats = wait_stats(server, lambda s: s["sessions"] >= connections and s["clients"] >= connections,
                               min(60.0, max(5.0, deadline - time.monotonic())), f"{connections} sessions", pinger)
            result["rss_after_kb"] = server.rss_kb()
            result["sessions"] = stats["sessions"]
            result["rss_per_connection_kb"] = round(
                (result["rss_after_kb"] - result["rss_before_kb"]) / connections, 2)
            if hold_seconds > 0:
                pinger.run_for(hold_seconds)
                result["live_dropped"] = pinger.dropped
                stats = server.stats()
                result["after_hold"] = {"sessions": stats["sessions"], "disconnects": stats["disconnects"]}
                result["pings_answered"] = sum(c.pings for c in clients)
            result["fresh_client_ok"] = fresh_client_works(server.port)
        finally:
            pinger.close()
            for c in clients:
                c.sock.close()
        stats = wait_stats(server, lambda s: s["sessions"] == 0 and s["clients"] == 0,
                           min(60.0, max(10.0, deadline - time.monotonic())), "every session reaped")
        result["reaped"] = True
        result["disconnects"] = stats["disconnects"]
        result["rss_end_kb"] = server.rss_kb()
        result["uncaught"] = stats["uncaught"]
        result["logged_errors"] = stats["logged_errors"]
    result["seconds"] = round(time.monotonic() - started, 2)
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--hold", type=float, default=0.0, help="seconds to hold them, answering PINGs")
    parser.add_argument("--dead", type=int, default=0, help="connections that never answer PINGs")
    parser.add_argument("--ping-interval", type=float, default=25.0)
    parser.add_argument("--ping-timeout", type=float, default=20.0)
    parser.add_argument("--timeout", type=float, default=600.0, help="overall bound (seconds)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    if not 0 <= args.dead <= args.connections:
        parser.error("--dead must be between 0 and --connections")
    result = run(args.connections, args.hold, args.dead, args.ping_interval, args.ping_timeout, args.timeout)
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:>24}: {value}")


if __name__ == "__main__":
    main()
