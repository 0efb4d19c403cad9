#!/usr/bin/env python
"""The target server of the hardening scripts and tests, in a process of its own.

    .venv/bin/python scripts/hardening_server.py --port 0 --port-file /tmp/port

Serves a `socketio_core.SocketServer` behind `engineio_core.WSGIApp` on gevent's pywsgi
(`engineio_core.serving.make_server`), on 127.0.0.1 only. Used by scripts/fuzz_live.py,
scripts/idle_connections.py and scripts/upgrade_load.py, which start it, measure its RSS from
/proc and read its counters, so that what they measure is the server alone.

Socket.IO events (namespace "/"):
  echo(*args)              acks its arguments
  stream({count, interval}) emits "seq" 0..count-1 to the caller, one every `interval` s,
                           then "stream_done" with the count
  broadcast(data)          emits "news" with `data` to everyone
  join(room)               enters the caller into `room`; acks True
  fill(nbytes)             sends the caller `nbytes` in "fill" events of 64 KB (counted in
                           the stats' "filled" once done)
  flood({count, size, room, every, producer})
                           (flow control) emits "tick" [seq, padding of `size` bytes] to `room`
                           `count` times from a background task (producer "task", with a
                           cooperative sleep(0) every `every` emits) or a plain OS thread
                           ("thread"), then "flood_done"; acks True at once

HTTP (any path outside /socket.io/):
  GET /stats  JSON: sessions, clients, connects, disconnect reasons, rss_kb, recovery (the
              in-memory recovery store's sizes and counters, with --recovery), uncaught
              (exceptions that escaped to gevent's hub: crashes), logged_errors (ERROR records
              of the engineio/socketio loggers, less the one-time notices about a client such
              as an unsupported protocol version), fds; ``/stats?greenlets=1`` also counts
              greenlets, gc-tracked objects, timer entries, held queues and environs (a leak
              shows as one of them growing; slow with many connections); ``warnings``: the
              last WARNING records mentioning a slow consumer; ``flood``: the last flood's
              start, end and disconnect times (monotonic seconds since its start).
"""

from __future__ import annotations

import argparse
import collections
import gc
import json
import logging
import os
import sys
import time
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import gevent  # noqa: E402
import gevent.monkey  # noqa: E402
import greenlet  # noqa: E402

import engineio_core  # noqa: E402
from engineio_core.serving import make_server  # noqa: E402
from socketio_core.server.server import SocketServer  # noqa: E402


class Counters(logging.Handler):
    """Counts ERROR records (handler errors, unexpected exceptions) of the server's loggers,
    and keeps the last WARNING records about slow consumers."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.errors = 0
        self.last: list[str] = []
        self.slow: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno < logging.ERROR or getattr(record, "client_notice", False):
            message = record.getMessage()
            if "slow consumer" in message:
                self.slow = (self.slow + [message])[-500:]
            return
        self.errors += 1
        self.last = (self.last + [record.getMessage()])[-5:]


def rss_kb() -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def build(args: argparse.Namespace) -> tuple[SocketServer, Any, dict[str, Any]]:
    counters = Counters()
    loggers = []
    for name in ("hardening_server.sio", "hardening_server.eio"):
        logger = logging.getLogger(name)
        logger.setLevel(logging.DEBUG if args.verbose else logging.WARNING)
        logger.propagate = False
        logger.addHandler(counters)
        if args.verbose:
            logger.addHandler(logging.StreamHandler(sys.stderr))
        loggers.append(logger)
    options: dict[str, Any] = {
        "async_mode": "gevent",
        "logger": loggers[0],
        "engineio_logger": loggers[1],
        "ping_interval": args.ping_interval,
        "ping_timeout": args.ping_timeout,
        "max_http_buffer_size": args.max_http_buffer_size,
        "websocket_compression": args.websocket_compression,
    }
    if args.max_outbox_bytes is not None:
        options["max_outbox_bytes"] = args.max_outbox_bytes
    if args.stall_timeout is not None:
        options["stall_timeout"] = args.stall_timeout
    if args.recovery is not None:
        options["connection_state_recovery"] = json.loads(args.recovery)
    if args.message_queue:
        from socketio_core.brokers.redis_broker import RedisBroker
        from socketio_core.server.pubsub import PubSubManager

        options["client_manager"] = PubSubManager(RedisBroker(args.message_queue, "flow-test"), channel="flow-test")
    sio = SocketServer(**options)
    stats: dict[str, Any] = {"connects": 0, "events": 0, "uncaught": 0,
                             "disconnects": collections.Counter(), "flood": {}, "filled": 0}

    @sio.on("connect")
    def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
        stats["connects"] += 1

    @sio.on("disconnect")
    def disconnect(sid: str, reason: str) -> None:
        stats["disconnects"][reason] += 1
        flood = stats["flood"]
        if "t0" in flood:
            flood.setdefault("disconnected_at", []).append([reason, round(time.monotonic() - flood["t0"], 3)])

    @sio.on("join")
    def join(sid: str, *args: Any) -> bool:
        stats["events"] += 1
        sio.enter_room(sid, str(args[0]) if args else "room")
        return True

    @sio.on("flood")
    def flood(sid: str, *args: Any) -> bool:
        stats["events"] += 1
        spec = args[0] if args and isinstance(args[0], dict) else {}
        count = min(int(spec.get("count", 100)), 100_000)
        padding = "p" * min(int(spec.get("size", 1024)), 1_000_000)
        room = str(spec.get("room", "room"))
        every = max(int(spec.get("every", 0)), 0)
        info = stats["flood"] = {"t0": time.monotonic(), "count": count}

        def run() -> None:
            longest = (0.0, -1)
            for seq in range(count):
                before = time.monotonic()
                sio.emit("tick", (seq, padding), to=room)
                took = time.monotonic() - before
                if took > longest[0]:
                    longest = (took, seq)
                    info["longest_emit"] = [round(took, 3), seq, round(before - info["t0"], 3)]
                if every and (seq + 1) % every == 0:
                    sio.sleep(0)
            sio.emit("flood_done", count, to=room)
            info["done_at"] = round(time.monotonic() - info["t0"], 3)

        if spec.get("producer") == "thread":
            thread_class = gevent.monkey.get_original("threading", "Thread")
            thread_class(target=run, daemon=True).start()
        else:
            sio.start_background_task(run)
        return True

    @sio.on("fill")
    def fill(sid: str, *args: Any) -> None:
        """Sends the caller `nbytes` (at most 8 MB) in "fill" events of 64 KB, inline (a
        handler running in the client's reader never waits): a client that does not read gets
        its kernel buffers filled before a test begins."""
        try:
            nbytes = min(max(int(args[0]), 0), 8 << 20) if args else 0
        except (TypeError, ValueError):
            return
        chunk = "f" * 65536
        for _ in range(nbytes // 65536):
            sio.emit("fill", chunk, to=sid)
        stats["filled"] += 1

    @sio.on("echo")
    def echo(sid: str, *args: Any) -> Any:
        stats["events"] += 1
        return args

    # Handlers take *args: a fuzzer sends any number of arguments, and a TypeError in our own
    # handler would be counted as a server error.
    @sio.on("broadcast")
    def broadcast(sid: str, *args: Any) -> None:
        stats["events"] += 1
        sio.emit("news", args[0] if args else None)

    @sio.on("stream")
    def stream(sid: str, *args: Any) -> None:
        stats["events"] += 1
        spec = args[0] if args and isinstance(args[0], dict) else {}
        try:
            count = min(int(spec.get("count", 100)), 100_000)
            interval = min(max(float(spec.get("interval", 0.02)), 0.0), 1.0)
        except (TypeError, ValueError, OverflowError):
            return  # a fuzzer's spec
        if interval != interval:  # NaN
            return
        for seq in range(count):
            if not sio.is_connected(sid):
                return
            sio.emit("seq", seq, to=sid)
            sio.sleep(interval)
        sio.emit("stream_done", count, to=sid)

    def stats_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        if environ.get("PATH_INFO") != "/stats":
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"Not Found"]
        body: dict[str, Any] = {
            "pid": os.getpid(),
            "sessions": sio.eio.session_count,
            "clients": len(sio._clients),
            "connects": stats["connects"],
            "filled": stats["filled"],
            "events": stats["events"],
            "disconnects": dict(stats["disconnects"]),
            "uncaught": stats["uncaught"],
            "logged_errors": counters.errors,
            "last_errors": counters.last,
            "warnings": counters.slow,
            "flood": {k: v for k, v in stats["flood"].items() if k != "t0"},
            "rss_kb": rss_kb(),
            "fds": len(os.listdir("/proc/self/fd")),
            "recovery": getattr(sio.recovery.store, "stats", dict)() if sio.recovery is not None else None,
        }
        if "greenlets=1" in environ.get("QUERY_STRING", ""):
            gc.collect()
            objects = gc.get_objects()
            body["greenlets"] = sum(1 for o in objects if isinstance(o, greenlet.greenlet))
            body["gc_objects"] = len(objects)
            body["timers"] = len(sio.eio._timers)
            body["held"] = len(sio._held)
            body["environs"] = len(sio.environ)
        if "memory=1" in environ.get("QUERY_STRING", ""):
            body["memory"] = memory_report("trim=1" in environ.get("QUERY_STRING", ""))
        data = json.dumps(body).encode()
        start_response("200 OK", [("Content-Type", "application/json"),
                                  ("Content-Length", str(len(data)))])
        return [data]

    app = engineio_core.WSGIApp(sio, stats_app, engineio_path="socket.io")  # type: ignore[arg-type]
    return sio, app, stats


def mallinfo() -> dict[str, int]:
    """glibc's allocator figures (bytes): `arena` taken with brk, `hblkhd` in mmapped blocks,
    `uordblks` in use, `fordblks` free but kept, `keepcost` trimmable at the top."""
    import ctypes

    class MallInfo2(ctypes.Structure):
        _fields_ = [(name, ctypes.c_size_t) for name in (
            "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
            "fordblks", "keepcost")]

    libc = ctypes.CDLL("libc.so.6")
    libc.mallinfo2.restype = MallInfo2
    info = libc.mallinfo2()
    return {name: int(getattr(info, name)) for name, _ in MallInfo2._fields_}


def memory_report(trim: bool) -> dict[str, Any]:
    """Where the server's memory is (``/stats?memory=1``; ``&trim=1`` first runs a full gc
    and glibc's ``malloc_trim(0)``, and reports the RSS before and after): the allocator's
    figures, pymalloc's arenas, and with ``HARDENING_TRACEMALLOC=1`` the 15 biggest live
    allocation sites (tracemalloc, started at launch)."""
    import ctypes
    import tracemalloc

    report: dict[str, Any] = {}
    if trim:
        gc.collect()
        report["rss_kb_before_trim"] = rss_kb()
        ctypes.CDLL("libc.so.6").malloc_trim(0)
        report["rss_kb_after_trim"] = rss_kb()
    report["mallinfo"] = mallinfo()
    arenas = [line for line in _pymalloc_stats().splitlines() if line.startswith(("# arenas", "Total"))]
    report["pymalloc"] = arenas
    if tracemalloc.is_tracing():
        current, peak = tracemalloc.get_traced_memory()
        report["traced"] = {"current": current, "peak": peak}
        top = tracemalloc.take_snapshot().statistics("traceback")[:15]
        report["top"] = [{"kb": stat.size // 1024, "count": stat.count,
                          "where": [f"{f.filename.rsplit('/', 2)[-1]}:{f.lineno}" for f in stat.traceback[-6:]]}
                         for stat in top]
    return report


def _pymalloc_stats() -> str:
    """`sys._debugmallocstats()` (written to stderr by CPython) as text."""
    import tempfile

    with tempfile.TemporaryFile(mode="w+") as out:
        saved = os.dup(2)
        try:
            os.dup2(out.fileno(), 2)
            sys._debugmallocstats()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        out.seek(0)
        return out.read()


class TargetServer:
    """This script in a subprocess: `start()` it, read `stats()`, `rss_kb()`, then `stop()`.
    (Used by the other hardening scripts, which import this module from scripts/.)"""

    def __init__(self, *options: str, log_path: str | None = None) -> None:
        import tempfile

        self.options = list(options)
        self._dir = tempfile.mkdtemp(prefix="hardening-server-")
        self.port_file = os.path.join(self._dir, "port")
        self.log_path = log_path or os.path.join(self._dir, "server.log")
        self.proc: Any = None
        self.port = 0

    def start(self, timeout: float = 20.0) -> TargetServer:
        import subprocess
        import time

        log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--port-file", self.port_file, *self.options],
            stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while not os.path.exists(self.port_file):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the target server did not start; log:\n{self.log()}")
            time.sleep(0.02)
        with open(self.port_file) as fh:
            self.port = int(fh.read())
        return self

    @property
    def pid(self) -> int:
        return int(self.proc.pid)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stats(self, greenlets: bool = False, timeout: float = 20.0) -> dict[str, Any]:
        import http.client

        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request("GET", "/stats" + ("?greenlets=1" if greenlets else ""))
            result: dict[str, Any] = json.loads(conn.getresponse().read())
            return result
        finally:
            conn.close()

    def rss_kb(self) -> int:
        with open(f"/proc/{self.pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return -1

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log(self) -> str:
        try:
            with open(self.log_path, "rb") as fh:
                return fh.read()[-4000:].decode("utf-8", "replace")
        except OSError:
            return ""

    def stop(self) -> None:
        import shutil
        import subprocess

        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> TargetServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> None:
    if os.environ.get("HARDENING_TRACEMALLOC"):
        import tracemalloc

        tracemalloc.start(int(os.environ["HARDENING_TRACEMALLOC"]))
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=0, help="0: any free port (default)")
    parser.add_argument("--port-file", help="write the port here once listening")
    parser.add_argument("--ping-interval", type=float, default=25.0)
    parser.add_argument("--ping-timeout", type=float, default=20.0)
    parser.add_argument("--max-http-buffer-size", type=int, default=1_000_000)
    parser.add_argument("--max-outbox-bytes", type=int, default=None)
    parser.add_argument("--websocket-compression", action="store_true")
    parser.add_argument("--stall-timeout", type=float, default=None)
    parser.add_argument("--message-queue", default=None, help="redis://... (a PubSubManager)")
    parser.add_argument("--verbose", action="store_true", help="log everything to stderr")
    parser.add_argument("--recovery", default=None, help="connection_state_recovery, as JSON (true, {...})")
    args = parser.parse_args(argv)

    sio, app, stats = build(args)
    hub = gevent.get_hub()
    original_handle_error = hub.handle_error

    def counting_handle_error(context: Any, kind: Any, value: Any, tb: Any) -> Any:
        if kind is not None and not issubclass(kind, (gevent.GreenletExit, KeyboardInterrupt, SystemExit)):
            stats["uncaught"] += 1
        return original_handle_error(context, kind, value, tb)

    hub.handle_error = counting_handle_error
    server = make_server(app, "127.0.0.1", args.port, backlog=4096)
    server.start()
    port = server.server_port
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as fh:
            fh.write(str(port))
        os.replace(tmp, args.port_file)
    print(f"PORT {port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
