#!/usr/bin/env python
"""Fill one server process with WebSocket Socket.IO connections, up to its open-file limit.

    .venv/bin/python scripts/connection_scale.py                        # 18,000 connections
    .venv/bin/python scripts/connection_scale.py --connections 19500 --processes 4
    .venv/bin/python scripts/connection_scale.py --connections 2000 --ping-interval 1 --idle 3 --json out.json
    .venv/bin/python scripts/connection_scale.py --soak 300 --timeout 900    # the 5-minute soak (issue 27)

One server process (scripts/connection_scale_server.py: a Flask-SocketIO app on gevent, run by
``socketio.run``, on 127.0.0.1) is filled by ``--processes`` client processes. A client process
is this script with ``--worker``: a lean raw client (non-blocking sockets and one selector,
the WebSocket upgrade, masked frames and the Engine.IO/Socket.IO text packets written by hand,
no library), so it can hold thousands of connections, each answering the server's PINGs.
With two cores or more the server runs on the first core and the clients on the others.

It reports:

* **RSS per connection**: the server's ``VmRSS`` (from /proc) once every client is connected
  and it has settled, minus its RSS before (after a warm-up), divided by the connections;
* **broadcast time**: one ``emit(..., broadcast=True)`` to every connection, from the moment
  the trigger leaves the driver until the last client has the message (the clients stamp each
  delivery with ``CLOCK_MONOTONIC``, which is one clock for every process of the machine);
  ``--broadcasts`` of them, one after the other;
* **heartbeat lateness while idle**: for ``--idle`` seconds after the broadcasts nothing else
  happens; each client stamps every PING (the kernel's receive timestamp) and compares it
  with when it was due, i.e. ``ping_interval`` after the client answered the previous one
  (after the OPEN for the first): the server schedules the next PING when the PONG arrives.
  The 50th/99th percentiles and the maximum of the lateness over every PING scheduled
  inside the window;
* **soak** (``--soak SECONDS``): one broadcast per second for SECONDS instead of three, the
  heartbeat lateness measured over the whole soak, the p50/p99/max of the broadcasts' last
  arrival, and the longest pause of each generation's collections in the server (from
  ``gc.callbacks``: every client of the process freezes for that long), on the wall clock
  and in the collecting thread's CPU time (what the collection costs when other processes
  take the core away);
* **drops**: connections the server closed or that failed, the server's own count of
  disconnects, and that every connection is still there at the end.

Bounded: every phase has a deadline (``--timeout`` for the whole run), the connection count is
capped by the open-file limits (the server needs one descriptor per connection, and so does
each client process), and only 127.0.0.1 is used. Exit status 0 when every connection was made,
got every broadcast and was never dropped; 1 otherwise. ``--json PATH`` writes the report.

Limits that matter (Linux): the open-file limit of each process (``ulimit -n``; the server
raises its soft limit to the hard one), the ephemeral ports of 127.0.0.1
(``net.ipv4.ip_local_port_range``: every client connection to the one server port takes one),
the listen backlog (``--backlog``, capped by ``net.core.somaxconn``).
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import resource
import selectors
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SERVER = REPO / "scripts" / "connection_scale_server.py"

# -- the raw client (one per connection; many per worker process) --------------------------------

CONNECTING, UPGRADING, OPENING, JOINING, CONNECTED, DEAD = range(6)
# The kernel stamps what each read returns with the wall-clock time the data reached the socket
# (SCM_TIMESTAMPNS): the arrival, whatever the client process was busy with then.
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
TIMESPEC = struct.Struct("qq")
BCAST = b'42["bcast",{"seq":'


def masked_text(payload: bytes) -> bytes:
    """One masked text frame (client to server) of a short payload."""
    n = len(payload)
    mask = os.urandom(4)
    if n < 126:
        head = bytes((0x81, 0x80 | n))
    else:
        head = bytes((0x81, 0x80 | 126)) + n.to_bytes(2, "big")
    key = int.from_bytes((mask * (n // 4 + 1))[:n], "big")
    body = (int.from_bytes(payload, "big") ^ key).to_bytes(n, "big")
    return head + mask + body


PONG = b"3"


class Conn:
    """One client connection: its socket and what the measurements need, nothing else."""

    __slots__ = ("sock", "state", "buf", "due", "pings", "late", "bcasts", "why")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.state = CONNECTING
        self.buf = b""
        self.due = 0.0  # when the next PING is due (wall clock)
        self.pings = 0
        self.late: list[tuple[float, float]] = []  # (when it was scheduled, lateness) of each PING
        self.bcasts: dict[int, float] = {}  # seq -> arrival (the kernel's stamp)
        self.why = ""


class Worker:
    """A client process: opens its share of the connections, holds them, answers PINGs,
    stamps broadcasts and PINGs, and talks to the driver in JSON lines (stdin/stdout)."""

    def __init__(self, port: int, count: int, in_flight: int, ping_interval: float, deadline: float) -> None:
        self.port = port
        self.count = count
        self.in_flight = in_flight
        self.ping_interval = ping_interval
        self.deadline = deadline
        self.sel = selectors.DefaultSelector()
        self.conns: list[Conn] = []
        self.opened = 0
        self.pending = 0
        self.connected = 0
        self.dead = 0
        self.failed_connects = 0
        self.errors: dict[str, int] = {}
        self.stdin_buf = b""
        self.request = (f"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                        "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n").encode()
        self.reported_connected = False
        self.want_bcast: dict[int, int] = {}  # seq -> connections still waiting for it
        self.last_bcast: dict[int, tuple[float, float]] = {}  # seq -> (last arrival, last read)

    def out(self, obj: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()

    def error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1

    # -- connections --------------------------------------------------------------------------
    def open_more(self) -> None:
        while self.opened < self.count and self.pending < self.in_flight:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
            rc = sock.connect_ex(("127.0.0.1", self.port))
            conn = Conn(sock)
            self.opened += 1
            self.pending += 1
            self.conns.append(conn)
            if rc not in (0, 115):  # EINPROGRESS
                self.fail(conn, f"connect errno {rc}")
                continue
            self.sel.register(sock, selectors.EVENT_WRITE, conn)

    def fail(self, conn: Conn, why: str) -> None:
        was = conn.state
        if was == DEAD:
            return
        conn.state = DEAD
        conn.why = why
        if was < CONNECTED:
            self.pending -= 1
            self.failed_connects += 1
        else:
            self.dead += 1
            self.connected -= 1
        self.error(why)
        try:
            self.sel.unregister(conn.sock)
        except (KeyError, ValueError):
            pass
        conn.sock.close()

    def send(self, conn: Conn, text: bytes) -> None:
        try:
            conn.sock.send(masked_text(text))  # tiny frames: the socket buffer always has room
        except OSError as exc:
            self.fail(conn, f"send: {exc.__class__.__name__}")

    def writable(self, conn: Conn) -> None:
        err = conn.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err:
            self.fail(conn, f"connect: {os.strerror(err)}")
            return
        conn.sock.send(self.request)
        conn.state = UPGRADING
        self.sel.modify(conn.sock, selectors.EVENT_READ, conn)

    def readable(self, conn: Conn) -> None:
        try:
            data, anc, _flags, _addr = conn.sock.recvmsg(65536, 64)
        except BlockingIOError:
            return
        except OSError as exc:
            self.fail(conn, f"recv: {exc.__class__.__name__}")
            return
        if not data:
            self.fail(conn, "closed by the server")
            return
        now = time.time()
        arrived = now
        for level, kind, cdata in anc:
            if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(cdata) >= TIMESPEC.size:
                sec, nsec = TIMESPEC.unpack_from(cdata)
                arrived = sec + nsec / 1e9
        buf = conn.buf + data if conn.buf else data
        if conn.state == UPGRADING:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                conn.buf = buf
                return
            if not buf.startswith(b"HTTP/1.1 101"):
                self.fail(conn, "upgrade refused: " + buf[:40].decode("latin1").split("\r\n")[0])
                return
            conn.state = OPENING
            buf = buf[end + 4:]
        off = 0
        n = len(buf)
        while n - off >= 2:
            b0, b1 = buf[off], buf[off + 1]
            length = b1 & 0x7F
            start = off + 2
            if length == 126:
                if n - off < 4:
                    break
                length = int.from_bytes(buf[off + 2:off + 4], "big")
                start = off + 4
            elif length == 127:
                if n - off < 10:
                    break
                length = int.from_bytes(buf[off + 2:off + 10], "big")
                start = off + 10
            if n < start + length:
                break
            off = start + length
            opcode = b0 & 0x0F
            if opcode == 1 and b0 & 0x80:
                self.packet(conn, buf[start:off], arrived, now)
            elif opcode == 8:
                self.fail(conn, "close frame from the server")
                return
            elif opcode == 9:
                try:
                    conn.sock.send(bytes((0x8A, 0x80)) + os.urandom(4))  # pong, empty
                except OSError:
                    pass
            else:
                self.fail(conn, f"unexpected frame opcode {opcode}")
                return
            if conn.state == DEAD:
                return
        conn.buf = buf[off:] if off < n else b""

    def packet(self, conn: Conn, text: bytes, arrived: float, now: float) -> None:
        """One Engine.IO text packet; `arrived`: the kernel's stamp, `now`: when it was read."""
        kind = text[:1]
        if kind == b"2":  # PING, due ping_interval after our last PONG reached the server
            conn.pings += 1
            conn.late.append((conn.due - self.ping_interval, arrived - conn.due))
            self.send(conn, PONG)
            conn.due = time.time() + self.ping_interval
        elif text.startswith(BCAST):
            end = text.find(b",", len(BCAST))
            seq = int(text[len(BCAST):end if end > 0 else None].rstrip(b"}"))
            if seq not in conn.bcasts:
                conn.bcasts[seq] = arrived
                last_arrived, last_read = self.last_bcast.get(seq, (0.0, 0.0))
                self.last_bcast[seq] = (max(last_arrived, arrived), max(last_read, now))
                left = self.want_bcast.get(seq)
                if left is not None:
                    left -= 1
                    self.want_bcast[seq] = left
                    if left == 0:
                        self.out({"event": "bcast_done", "seq": seq, "last": self.last_bcast[seq][0],
                                  "last_read": self.last_bcast[seq][1]})
        elif kind == b"0" and conn.state == OPENING:  # Engine.IO OPEN
            info = json.loads(text[1:])
            self.ping_interval = info["pingInterval"] / 1000
            conn.due = arrived + self.ping_interval
            conn.state = JOINING
            self.send(conn, b"40")
        elif text.startswith(b"40") and conn.state == JOINING:  # Socket.IO CONNECT acknowledged
            conn.state = CONNECTED
            self.pending -= 1
            self.connected += 1
        elif text.startswith(b"44") or text.startswith(b"41") or kind == b"1":
            self.fail(conn, "disconnected by the server: " + text[:60].decode(errors="replace"))
        else:
            self.error("unexpected packet")

    # -- the driver's commands ----------------------------------------------------------------
    def command(self, line: str) -> bool:
        """Act on one line from the driver; False to stop."""
        parts = line.split()
        if not parts:
            return True
        if parts[0] == "expect":  # a broadcast is coming: say when every connection has it
            seq = int(parts[1])
            left = sum(1 for c in self.conns if c.state == CONNECTED and seq not in c.bcasts)
            self.want_bcast[seq] = left
            if left == 0:
                self.out({"event": "bcast_done", "seq": seq, "last": None, "last_read": None})
            return True
        if parts[0] == "report":
            self.out(self.report(float(parts[1]), float(parts[2])))
            return True
        if parts[0] == "close":
            return False
        return True

    def report(self, since: float, until: float) -> dict[str, Any]:
        alive = [c for c in self.conns if c.state == CONNECTED]
        # PINGs scheduled inside the window (the PONG before them, or the OPEN, sent after `since`),
        # so that a stall before the window does not count as lateness in it
        # and arrived before `until`
        interval = self.ping_interval
        late = [round(lateness, 5) for c in alive for (t, lateness) in c.late
                if t >= since and t + interval + lateness <= until]
        pings_in_window = [sum(1 for (t, lateness) in c.late if t >= since and t + interval + lateness <= until)
                           for c in alive]
        seqs = sorted({s for c in alive for s in c.bcasts})
        return {
            "event": "report",
            "assigned": self.count,
            "connected": self.connected,
            "alive": len(alive),
            "dropped": self.dead,
            "failed_connects": self.failed_connects,
            "errors": self.errors,
            "lateness": late,
            "min_pings_in_window": min(pings_in_window) if pings_in_window else 0,
            "bcasts": {str(s): {"got": sum(1 for c in alive if s in c.bcasts),
                                "last": max(c.bcasts[s] for c in alive if s in c.bcasts)} for s in seqs},
        }

    def run(self) -> None:
        stdin = sys.stdin.buffer.raw if hasattr(sys.stdin.buffer, "raw") else sys.stdin.buffer
        os.set_blocking(stdin.fileno(), False)
        self.sel.register(stdin.fileno(), selectors.EVENT_READ, None)
        self.open_more()
        last_progress = time.monotonic()
        while time.monotonic() < self.deadline:
            for key, _mask in self.sel.select(timeout=0.5):
                if key.data is None:
                    chunk = os.read(stdin.fileno(), 4096)
                    if not chunk:
                        return  # the driver went away
                    self.stdin_buf += chunk
                    while b"\n" in self.stdin_buf:
                        line, self.stdin_buf = self.stdin_buf.split(b"\n", 1)
                        if not self.command(line.decode()):
                            return
                    continue
                conn: Conn = key.data
                if conn.state == CONNECTING:
                    self.writable(conn)
                else:
                    self.readable(conn)
            if self.opened < self.count:
                self.open_more()
            elif not self.reported_connected and self.pending == 0:
                self.reported_connected = True
                self.out({"event": "connected", "connected": self.connected,
                          "failed_connects": self.failed_connects, "errors": self.errors})
            now = time.monotonic()
            if now - last_progress > 2 and not self.reported_connected:
                last_progress = now
                self.out({"event": "progress", "connected": self.connected, "opened": self.opened})
        self.out({"event": "timeout"})

    def close_all(self) -> None:
        for conn in self.conns:
            if conn.state != DEAD:
                conn.sock.close()


def worker_main(args: argparse.Namespace) -> None:
    raise_nofile()
    worker = Worker(args.port, args.count, args.in_flight, args.ping_interval, time.monotonic() + args.timeout)
    try:
        worker.run()
    finally:
        worker.close_all()


# -- the driver ----------------------------------------------------------------------------------


def raise_nofile() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def proc_kb(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return -1


def proc_cpu_wait(pid: int) -> tuple[float, float]:
    """(CPU seconds used, seconds runnable but waiting for a CPU) of a process so far, from
    /proc/<pid>/stat and the main thread's /proc/<pid>/schedstat."""
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rindex(")") + 2:].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    wait = int(Path(f"/proc/{pid}/schedstat").read_text().split()[1]) / 1e9
    return cpu, wait


def usage(pid: int, since: tuple[float, float, float]) -> dict[str, float]:
    """The server's CPU % and wait % (of one core) since `since` = (wall, cpu, wait)."""
    cpu, wait = proc_cpu_wait(pid)
    wall = time.monotonic() - since[0]
    return {"cpu_pct": round(100 * (cpu - since[1]) / wall, 1), "wait_pct": round(100 * (wait - since[2]) / wall, 1)}


def mark(pid: int) -> tuple[float, float, float]:
    return (time.monotonic(), *proc_cpu_wait(pid))


def tcp_sockstat() -> dict[str, int]:
    """The machine's TCP sockets in use and the buffer memory they hold (``mem``, in pages of
    4 KB, the unit of net.ipv4.tcp_mem), from /proc/net/sockstat, and the kernel's slab memory
    (``slab_kb``, /proc/meminfo). Both ends of every connection are on this machine here."""
    out: dict[str, int] = {}
    for line in Path("/proc/net/sockstat").read_text().splitlines():
        if line.startswith("TCP:"):
            fields = line.split()[1:]
            out = {fields[i]: int(fields[i + 1]) for i in range(0, len(fields) - 1, 2)}
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("Slab:"):  # the kernel's own objects (sockets, files, ...), kB
            out["slab_kb"] = int(line.split()[1])
    return out


def get_json(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=10) as resp:
        result: dict[str, Any] = json.loads(resp.read())
        return result


def percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


class Control:
    """The driver's own connection: it triggers the broadcasts. With ``serve()`` a thread reads
    it from then on, answering PINGs and handing the acks over."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.sock.sendall(Worker(port, 0, 0, 0, 0).request)
        self.buf = b""
        head = self._until(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 101"):
            raise RuntimeError(f"control connection refused: {head[:80]!r}")
        self.next_id = 0
        self._packet(b"0")
        self.sock.sendall(masked_text(b"40"))
        self._packet(b"40")
        self.acks: queue.Queue[bytes | None] = queue.Queue()
        self.closed = False

    def serve(self) -> None:
        self.sock.settimeout(None)
        threading.Thread(target=self._reader, daemon=True).start()

    def _reader(self) -> None:
        try:
            while True:
                self.acks.put(self._packet(b"43"))
        except (OSError, RuntimeError):
            if not self.closed:
                self.acks.put(None)

    def _until(self, marker: bytes) -> bytes:
        while marker not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise RuntimeError("control connection closed")
            self.buf += chunk
        head, self.buf = self.buf.split(marker, 1)
        return head

    def _frame(self) -> bytes:
        while True:
            if len(self.buf) >= 2:
                length, start = self.buf[1] & 0x7F, 2
                if length == 126 and len(self.buf) >= 4:
                    length, start = int.from_bytes(self.buf[2:4], "big"), 4
                if length < 126 and len(self.buf) >= start + length:
                    payload, self.buf = self.buf[start:start + length], self.buf[start + length:]
                    return payload
            chunk = self.sock.recv(65536)
            if not chunk:
                raise RuntimeError("control connection closed")
            self.buf += chunk

    def _packet(self, prefix: bytes) -> bytes:
        """The next text packet starting with `prefix`, answering PINGs meanwhile."""
        while True:
            payload = self._frame()
            if payload == b"2":
                self.sock.sendall(masked_text(PONG))
            elif payload.startswith(prefix):
                return payload

    def blast(self, seq: int, size: int) -> float:
        """Send the trigger; returns when it left (wall clock, as the clients' stamps)."""
        ack_id = self.next_id
        self.next_id += 1
        frame = masked_text(f'42{ack_id}["blast",{{"seq":{seq},"size":{size}}}]'.encode())
        t0 = time.time()
        self.sock.sendall(frame)
        return t0

    def wait_ack(self, timeout: float) -> float:
        """The server's ack of the last trigger: the seconds its emit call took."""
        try:
            payload = self.acks.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError("the broadcast trigger was not acknowledged") from None
        if payload is None:
            raise RuntimeError("the control connection was closed")
        return float(json.loads(payload[payload.index(b"["):])[0])

    def close(self) -> None:
        self.closed = True
        self.sock.close()


class WorkerProc:
    """A client process and a thread reading its JSON lines into a queue."""

    def __init__(self, cmd: list[str]) -> None:
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
        self.lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def read(self, deadline: float, want: str) -> dict[str, Any]:
        """The next JSON line with event `want` (others are dropped), before `deadline`."""
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if line is None:
                raise RuntimeError(f"a client process exited ({self.proc.wait(5)})")
            event = json.loads(line)
            if event.get("event") == want:
                return event
            if event.get("event") == "progress":
                print(f"  client process {self.proc.pid}: {event}", file=sys.stderr)
            if event.get("event") == "timeout":
                raise RuntimeError("a client process ran out of time")
        raise TimeoutError(f"no {want!r} from a client process in time")

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                self.send("close")
                self.proc.wait(15)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait(5)


def pin_prefixes() -> tuple[list[str], list[str]]:
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2 or shutil.which("taskset") is None:
        return [], []
    return ["taskset", "-c", str(cpus[0])], ["taskset", "-c", ",".join(str(c) for c in cpus[1:])]


def run(args: argparse.Namespace) -> dict[str, Any]:
    started = time.monotonic()
    deadline = started + args.timeout
    my_limit = raise_nofile()
    per_proc = -(-args.connections // args.processes)
    if per_proc > my_limit - 50:
        raise SystemExit(f"{per_proc} connections per client process is over its open-file limit"
                         f" ({my_limit}): use more --processes")
    low, high = (int(x) for x in Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    if args.connections + 100 > high - low + 1:
        raise SystemExit(f"{args.connections} connections need as many ephemeral ports of 127.0.0.1;"
                         f" net.ipv4.ip_local_port_range has {high - low + 1}")
    pin_server, pin_clients = pin_prefixes() if not args.no_pin else ([], [])
    port = free_port()
    log = open(args.server_log, "wb") if args.server_log else subprocess.DEVNULL
    server = subprocess.Popen(
        [*pin_server, args.python, "-I", str(SERVER), "--port", str(port), "--ping-interval",
         str(args.ping_interval), "--ping-timeout", str(args.ping_timeout), "--backlog", str(args.backlog),
         "--gc-freezer", str(args.gc_freezer)],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd="/",
        env={k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")},
    )
    workers: list[WorkerProc] = []
    control: Control | None = None
    report: dict[str, Any] = {"connections": args.connections, "processes": args.processes,
                              "gc_freeze": args.gc_freeze, "gc_freezer_batch": args.gc_freezer,
                              "ping_interval_s": args.ping_interval, "server_pid": server.pid,
                              "pinned": bool(pin_server)}
    stats_url = f"http://127.0.0.1:{port}/scale/stats"
    try:
        while True:
            if server.poll() is not None:
                raise RuntimeError(f"the server exited ({server.returncode})")
            try:
                stats = get_json(stats_url)
                break
            except OSError:
                if time.monotonic() > started + 30:
                    raise RuntimeError("the server did not start in 30 s") from None
                time.sleep(0.05)
        report["server_nofile"] = stats["nofile"]
        if args.connections + 50 > stats["nofile"][0]:
            raise SystemExit(f"the server may open {stats['nofile'][0]} files: fewer --connections")
        # Warm up (first requests, imports, the first sessions), then the baseline.
        control = Control(port)
        control.serve()
        warm = [Control(port) for _ in range(20)]
        for c in warm:
            c.close()
        until = time.monotonic() + 10
        while get_json(stats_url)["connected"] != 1 and time.monotonic() < until:
            time.sleep(0.05)
        time.sleep(args.settle)
        rss0 = proc_kb(server.pid, "VmRSS")
        report["server_rss_before_kb"] = rss0
        report["tcp_sockstat"] = {"before": tcp_sockstat()}

        # Fill.
        t_fill = time.monotonic()
        fill_mark = mark(server.pid)
        share = [args.connections // args.processes + (1 if i < args.connections % args.processes else 0)
                 for i in range(args.processes)]
        for count in share:
            workers.append(WorkerProc([*pin_clients, sys.executable, __file__, "--worker", "--port", str(port),
                                       "--count", str(count), "--in-flight", str(args.in_flight),
                                       "--ping-interval", str(args.ping_interval),
                                       "--timeout", str(max(1.0, deadline - time.monotonic()))]))
        connected = 0
        failed = 0
        for w in workers:
            event = w.read(deadline, "connected")
            connected += event["connected"]
            failed += event["failed_connects"]
            if event["errors"]:
                report.setdefault("connect_errors", []).append(event["errors"])
        fill_s = time.monotonic() - t_fill
        report["server_during_fill"] = usage(server.pid, fill_mark)
        report.update(connected=connected, failed_connects=failed, fill_s=round(fill_s, 2),
                      connects_per_s=round(connected / fill_s, 1))
        if args.gc_freeze:
            req = urllib.request.Request(f"http://127.0.0.1:{port}/scale/gc-freeze", method="POST")
            with urllib.request.urlopen(req, timeout=60) as resp:
                report["gc_frozen_objects"] = json.loads(resp.read())["frozen"]
        time.sleep(args.settle)
        rss1 = proc_kb(server.pid, "VmRSS")
        report["tcp_sockstat"]["full"] = tcp_sockstat()
        stats = get_json(stats_url)
        report.update(server_rss_full_kb=rss1, server_connected=stats["connected"] - 1,
                      server_open_files=stats["open_files"],
                      rss_per_conn_kb=round((rss1 - rss0) / max(1, connected), 2))
        print(f"connected {connected}/{args.connections} in {fill_s:.1f} s; server RSS {rss0 / 1024:.1f} ->"
              f" {rss1 / 1024:.1f} MB: {report['rss_per_conn_kb']} KB per connection;"
              f" server open files {stats['open_files']}", file=sys.stderr)

        # Broadcasts (in --soak mode: one per second for the whole soak, heartbeats measured
        # over the same window).
        blasts = []
        blast_mark = mark(server.pid)
        soak_from = time.time()
        if args.soak:
            req = urllib.request.Request(f"http://127.0.0.1:{port}/scale/gc-reset-max", method="POST")
            with urllib.request.urlopen(req, timeout=60):
                pass
            gc_soak0 = get_json(stats_url)["gc"]
        for seq in range(1, args.broadcasts + 1):
            tick = time.monotonic()
            for w in workers:
                w.send(f"expect {seq}")
            t0 = control.blast(seq, args.size)
            emit_s = control.wait_ack(args.broadcast_timeout)
            last = last_read = t0
            for w in workers:
                done = w.read(min(deadline, time.monotonic() + args.broadcast_timeout), "bcast_done")
                if done["last"] is not None:
                    last = max(last, done["last"])
                    last_read = max(last_read, done["last_read"])
            blasts.append({"seq": seq, "all_delivered_s": round(last - t0, 4),
                           "all_read_by_clients_s": round(last_read - t0, 4), "server_emit_s": round(emit_s, 4)})
            print(f"broadcast {seq}: last delivery {1000 * (last - t0):.0f} ms after the trigger"
                  f" (read by the clients {1000 * (last_read - t0):.0f} ms; the server's emit call:"
                  f" {1000 * emit_s:.0f} ms)", file=sys.stderr)
            time.sleep(max(0.0, tick + 1.0 - time.monotonic()) if args.soak else 0.5)
        report["broadcasts"] = blasts
        report["tcp_sockstat"]["after_broadcasts"] = tcp_sockstat()
        report["server_during_broadcasts"] = usage(server.pid, blast_mark)
        report["broadcast_s_median"] = statistics.median(b["all_delivered_s"] for b in blasts)

        if args.soak:
            gc_soak1 = get_json(stats_url)["gc"]
            arrivals = [1000 * b["all_delivered_s"] for b in blasts]
            report["soak"] = {
                "seconds": args.soak, "broadcasts": len(blasts),
                "broadcast_last_arrival_ms": {
                    "p50": round(percentile(arrivals, 50) or 0, 1),
                    "p99": round(percentile(arrivals, 99) or 0, 1), "max": round(max(arrivals), 1)},
                "gc_max_pause_ms_per_generation": [round(ms, 1) for ms in gc_soak1["max_ms"]],
                "gc_max_pause_cpu_ms_per_generation": [round(ms, 1) for ms in gc_soak1.get("max_cpu_ms", [])],
                "gc_collections": [b - a for a, b in zip(gc_soak0["collections"], gc_soak1["collections"],
                                                         strict=True)],
            }
            print(f"soak {args.soak} s: broadcast last arrival {report['soak']['broadcast_last_arrival_ms']}"
                  f" ms; longest GC pause per generation {report['soak']['gc_max_pause_ms_per_generation']} ms",
                  file=sys.stderr)

        # Idle: only the heartbeat (after a soak: the heartbeats of the whole soak).
        idle_from = soak_from if args.soak else time.time()
        idle_mark = mark(server.pid)
        gc_idle0 = get_json(stats_url)["gc"]
        time.sleep(args.idle)
        idle_until = time.time()
        rss2 = proc_kb(server.pid, "VmRSS")
        stats = get_json(stats_url)  # the collector's work in the same window
        report["server_during_idle"] = usage(server.pid, idle_mark)
        lateness: list[float] = []
        alive = dropped = 0
        min_pings = None
        got = {str(seq): 0 for seq in range(1, args.broadcasts + 1)}
        errors: dict[str, int] = {}
        for w in workers:
            w.send(f"report {idle_from} {idle_until}")
            r = w.read(deadline, "report")
            lateness += r["lateness"]
            alive += r["alive"]
            dropped += r["dropped"]
            min_pings = r["min_pings_in_window"] if min_pings is None else min(min_pings, r["min_pings_in_window"])
            for seq, b in r["bcasts"].items():
                got[seq] = got.get(seq, 0) + b["got"]
            for k, v in r["errors"].items():
                errors[k] = errors.get(k, 0) + v
        gc_idle1 = stats["gc"]
        stats = get_json(stats_url)
        report["server_gc"] = {"during_idle": {
            "collections": [b - a for a, b in zip(gc_idle0["collections"], gc_idle1["collections"], strict=True)],
            "gen2_total_ms": round(gc_idle1["gen2_total_ms"] - gc_idle0["gen2_total_ms"], 1)},
            "whole_run": stats["gc"], "objects": stats["gc_objects"]}
        report.update(
            idle_s=args.idle, server_rss_idle_kb=rss2,
            rss_per_conn_after_idle_kb=round((rss2 - rss0) / max(1, connected), 2), alive=alive, dropped=dropped, errors=errors,
            broadcast_received=got, server_connected_end=stats["connected"] - 1,
            server_disconnects=stats["disconnects"] - len(warm),
            server_peak_rss_kb=proc_kb(server.pid, "VmHWM"),
            pings_in_idle=len(lateness), min_pings_per_conn_in_idle=min_pings,
            heartbeat_lateness_ms={
                "p50": None if not lateness else round(1000 * (percentile(lateness, 50) or 0), 2),
                "p99": None if not lateness else round(1000 * (percentile(lateness, 99) or 0), 2),
                "max": None if not lateness else round(1000 * max(lateness), 2),
            },
        )
        print(f"idle {args.idle:.0f} s: {len(lateness)} PINGs, lateness p50"
              f" {report['heartbeat_lateness_ms']['p50']} ms, p99 {report['heartbeat_lateness_ms']['p99']} ms,"
              f" max {report['heartbeat_lateness_ms']['max']} ms; alive {alive}, dropped {dropped},"
              f" server connected {report['server_connected_end']},"
              f" server disconnects {report['server_disconnects']}; server CPU / wait for a CPU:"
              f" {report['server_during_idle']}", file=sys.stderr)
        report["ok"] = (connected == args.connections and alive == args.connections and dropped == 0
                        and report["server_connected_end"] == args.connections
                        and report["server_disconnects"] == 0
                        and all(v == args.connections for v in got.values()))
    except (RuntimeError, TimeoutError, OSError) as exc:
        report["ok"] = False
        report["error"] = f"{exc.__class__.__name__}: {exc}"
    finally:
        for w in workers:
            w.stop()
        if control is not None:
            control.close()
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(5)
        if log is not subprocess.DEVNULL:
            log.close()
    report["wall_s"] = round(time.monotonic() - started, 1)
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--connections", type=int, default=18_000)
    parser.add_argument("--processes", type=int, default=4, help="client processes (each holds its share)")
    parser.add_argument("--in-flight", type=int, default=64, help="handshakes in flight per client process")
    parser.add_argument("--ping-interval", type=float, default=5.0, help="the server's ping_interval, s")
    parser.add_argument("--ping-timeout", type=float, default=20.0, help="the server's ping_timeout, s")
    parser.add_argument("--idle", type=float, default=None, help="idle window, s (default: 3 ping intervals + 1)")
    parser.add_argument("--broadcasts", type=int, default=3)
    parser.add_argument("--size", type=int, default=0, help="padding of the broadcast message, bytes")
    parser.add_argument("--broadcast-timeout", type=float, default=60.0)
    parser.add_argument("--settle", type=float, default=2.0, help="seconds before reading the RSS")
    parser.add_argument("--backlog", type=int, default=1024)
    parser.add_argument("--gc-freeze", action="store_true",
                        help="once every client is connected, the server app calls gc.collect() and"
                             " gc.freeze(): full collections no longer scan the sessions")
    parser.add_argument("--soak", type=int, default=0, metavar="SECONDS",
                        help="soak mode: one broadcast to all per second for SECONDS, then report the"
                             " heartbeat lateness over the whole soak, the broadcasts' last-arrival p50/p99"
                             " and the longest GC pause of each generation (sets --broadcasts SECONDS,"
                             " --idle 1 unless given; raise --timeout: 5 minutes needs --timeout 600)")
    parser.add_argument("--gc-freezer", type=int, default=0, metavar="BATCH",
                        help="the server runs engineio_core's GCFreezer(BATCH): gc.freeze() after start-up,"
                             " then whenever more than BATCH objects wait in the oldest generation"
                             " (50000 is its default; 0: off)")
    parser.add_argument("--timeout", type=float, default=300.0, help="bound on the whole run, s")
    parser.add_argument("--python", default=sys.executable, help="the server's interpreter (this project installed)")
    parser.add_argument("--no-pin", action="store_true", help="do not pin the server and clients to cores")
    parser.add_argument("--server-log", default=None)
    parser.add_argument("--json", type=Path, default=None)
    # the client processes
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker_main(args)
        return 0
    if not 1 <= args.processes <= 64 or not 1 <= args.connections <= 1_000_000:
        parser.error("--processes in 1..64, --connections in 1..1000000")
    if args.soak < 0:
        parser.error("--soak SECONDS must be >= 0")
    if args.soak:
        args.broadcasts = args.soak
    if args.idle is None:
        args.idle = 1.0 if args.soak else 3 * args.ping_interval + 1
    report = run(args)
    text = json.dumps(report, indent=2)
    if args.json:
        args.json.write_text(text + "\n")
    print(text)
    return 0 if report.get("ok") else 1


if __name__ == "__main__":
    raise SystemExit(main())
