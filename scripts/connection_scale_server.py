#!/usr/bin/env python
"""The server of scripts/connection_scale.py: a plain Flask-SocketIO app on gevent, served by
``socketio.run`` as an application would be, in one process.

    .venv/bin/python -I scripts/connection_scale_server.py --port 5000 --ping-interval 5

* ``connect`` / ``disconnect`` handlers count the connected clients (and every disconnect);
* ``blast({seq, size})`` emits one ``bcast`` event ``{"seq": seq, "pad": ...}`` to every client
  of the namespace and acknowledges with the seconds the ``emit`` call took in the server;
* ``GET /scale/stats`` answers the counters, the pid and the process's RSS and open files.

The soft limit of open files is raised to the hard limit at start-up (each connection is one
descriptor). Prints one JSON line when it listens.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import time

from flask import Flask, jsonify

from flask_socketio import SocketIO, emit

STATS = {"connected": 0, "connects": 0, "disconnects": 0, "blasts": 0}
# Python's cyclic garbage collector, seen from gc.callbacks: collections per generation, and
# the longest pause and the total time of the full (generation 2) collections.
GC = {"collections": [0, 0, 0], "gen2_max_ms": 0.0, "gen2_total_ms": 0.0, "frozen": 0,
      "max_ms": [0.0, 0.0, 0.0],  # the longest pause of each generation's collections
      # the same in CPU time of the collecting thread: what the collection itself costs, not
      # stretched by other processes taking the core (a shared machine)
      "max_cpu_ms": [0.0, 0.0, 0.0]}
_gc_started = [0.0, 0.0]


def _gc_watch(phase: str, info: dict[str, int]) -> None:
    if phase == "start":
        _gc_started[0] = time.perf_counter()
        _gc_started[1] = time.thread_time()
        return
    generation = info["generation"]
    GC["collections"][generation] += 1  # type: ignore[index]
    ms = (time.perf_counter() - _gc_started[0]) * 1000
    cpu_ms = (time.thread_time() - _gc_started[1]) * 1000
    GC["max_ms"][generation] = max(GC["max_ms"][generation], ms)  # type: ignore[index]
    GC["max_cpu_ms"][generation] = max(GC["max_cpu_ms"][generation], cpu_ms)  # type: ignore[index]
    if generation == 2:
        GC["gen2_max_ms"] = max(GC["gen2_max_ms"], ms)  # type: ignore[type-var]
        GC["gen2_total_ms"] += ms  # type: ignore[operator]


def rss_kb() -> int:
    with open(f"/proc/{os.getpid()}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def open_files() -> int:
    return len(os.listdir(f"/proc/{os.getpid()}/fd"))


def make_app(ping_interval: float, ping_timeout: float) -> tuple[Flask, SocketIO]:
    app = Flask(__name__)
    socketio = SocketIO(app, async_mode="gevent", ping_interval=ping_interval, ping_timeout=ping_timeout)

    @app.route("/scale/stats")
    def stats():  # type: ignore[no-untyped-def]
        return jsonify(**STATS, pid=os.getpid(), rss_kb=rss_kb(), open_files=open_files(),
                       nofile=resource.getrlimit(resource.RLIMIT_NOFILE), gc=GC,
                       gc_objects=len(gc.get_objects()))

    @app.route("/scale/gc-reset-max", methods=["POST"])
    def gc_reset_max():  # type: ignore[no-untyped-def]
        """Start a new window for the longest pauses (the soak measures its own)."""
        GC["max_ms"] = [0.0, 0.0, 0.0]
        GC["max_cpu_ms"] = [0.0, 0.0, 0.0]
        return jsonify(ok=True)

    @app.route("/scale/gc-freeze", methods=["POST"])
    def gc_freeze():  # type: ignore[no-untyped-def]
        """Move every object alive now out of the collector's sight (``gc.freeze()``): the
        long-lived sessions are then never scanned again by full collections."""
        gc.collect()
        gc.freeze()
        GC["frozen"] = gc.get_freeze_count()
        return jsonify(frozen=GC["frozen"])

    @socketio.on("connect")
    def on_connect(*_args):  # type: ignore[no-untyped-def]
        STATS["connected"] += 1
        STATS["connects"] += 1

    @socketio.on("disconnect")
    def on_disconnect(*_args):  # type: ignore[no-untyped-def]
        STATS["connected"] -= 1
        STATS["disconnects"] += 1

    @socketio.on("blast")
    def blast(spec):  # type: ignore[no-untyped-def]
        t0 = time.perf_counter()
        emit("bcast", {"seq": int(spec["seq"]), "pad": "x" * int(spec.get("size", 0))}, broadcast=True)
        STATS["blasts"] += 1
        return time.perf_counter() - t0

    return app, socketio


def main() -> None:
    parser = argparse.ArgumentParser(description="the connection-scale server (Flask-SocketIO app)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    parser.add_argument("--ping-interval", type=float, default=25.0)
    parser.add_argument("--ping-timeout", type=float, default=20.0)
    parser.add_argument("--backlog", type=int, default=1024, help="listen backlog (capped by net.core.somaxconn)")
    parser.add_argument("--gc-freezer", type=int, default=0, metavar="BATCH",
                        help="engineio_core.gc_freezer.GCFreezer(BATCH): freeze after start-up, then the"
                             " oldest generation's survivors whenever more than BATCH wait (0: off)")
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    gc.callbacks.append(_gc_watch)
    app, socketio = make_app(args.ping_interval, args.ping_timeout)
    if args.gc_freezer:
        from engineio_core.gc_freezer import GCFreezer

        freezer = GCFreezer(args.gc_freezer)
        GC["frozen"] = freezer.freeze_now()

        def freeze_in_batches() -> None:
            while True:
                socketio.sleep(2.0)
                if freezer.check():
                    GC["frozen"] = gc.get_freeze_count()
                    GC["freezes"] = freezer.freezes

        socketio.start_background_task(freeze_in_batches)
    print(json.dumps({"pid": os.getpid(), "port": args.port,
                      "nofile": resource.getrlimit(resource.RLIMIT_NOFILE)}), flush=True)
    socketio.run(app, host=args.host, port=args.port, backlog=args.backlog)


if __name__ == "__main__":
    main()
