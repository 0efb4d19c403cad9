"""`serve_workers()`: serve a WSGI app from N worker processes on one port (gevent).

The supervisor (`supervisor.Supervisor`) binds the port and forks the workers; each worker
runs the project's HTTP server (`serving.HTTPServer`) on the inherited listening socket, with
a `router.Router` that hands requests for other workers' sessions over to them, and names the
sessions it creates with its tag (`tags`).
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from typing import Any

from .router import Router, check_handover_possible, remove_worker_files
from .supervisor import Supervisor, WorkerInfo, worker_count
from .tags import set_worker_tag


def serve_workers(app: Callable[..., Any], host: str = "127.0.0.1", port: int = 5000,
                  workers: int | str | None = "auto", on_worker: Callable[[WorkerInfo], None] | None = None,
                  grace: float = 10.0, on_ready: Callable[[Supervisor], None] | None = None,
                  **server_options: Any) -> None:
    """Serve `app` on ``host:port`` from `workers` processes (``'auto'``: one per core) until
    SIGTERM or SIGINT. `on_worker(info)` runs first thing in each worker (the Socket.IO layer
    joins the workers' bus there); `server_options` are those of `serving.make_server`."""
    count = worker_count(workers)
    check_handover_possible(bool(server_options.get("certfile") or server_options.get("ssl_context")))

    def serve(info: WorkerInfo) -> None:
        run_worker(app, info, on_worker, grace, server_options)

    Supervisor(serve, host, port, count, grace=grace, on_ready=on_ready).run()


def run_worker(app: Callable[..., Any], info: WorkerInfo, on_worker: Callable[[WorkerInfo], None] | None,
               grace: float, server_options: dict[str, Any]) -> None:
    """One worker (in the forked child): serve until SIGTERM or the supervisor is gone."""
    import gevent

    gevent.reinit()  # forked with os.fork: the hub must be renewed in the child
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a terminal's Ctrl-C: the supervisor stops us
    orphaned: list[bool] = []  # the lifeline ended: the supervisor is gone

    def early_exit(signum: int, frame: Any) -> None:
        raise SystemExit(0)  # SIGTERM while starting (the supervisor died): clean up, then exit

    signal.signal(signal.SIGTERM, early_exit)
    try:
        _serve_worker(app, info, on_worker, grace, server_options, orphaned)
    finally:
        remove_worker_files(info.directory, info.tag, last=bool(orphaned) or os.getppid() != info.supervisor_pid)


def _serve_worker(app: Callable[..., Any], info: WorkerInfo, on_worker: Callable[[WorkerInfo], None] | None,
                  grace: float, server_options: dict[str, Any], orphaned: list[bool]) -> None:
    import gevent
    from gevent.socket import wait_read

    from ..serving import make_server

    set_worker_tag(info.tag)
    if on_worker is not None:
        on_worker(info)
    info.listener.setblocking(False)  # gevent waits for it to be readable, then accepts
    server = make_server(app, listener=info.listener, **server_options)
    # One connection per wake-up (gevent's default takes up to 100 at once): every worker is
    # woken by a new connection, so a burst of connections is spread over them instead of
    # going to whichever worker woke first.
    server.max_accept = 1
    router = Router(info.directory, info.tag, loads=info.loads, slot=info.index, count=info.count)
    server.router = router
    router.start(server)
    stopping: list[bool] = []

    def stop() -> None:
        if not stopping:
            stopping.append(True)
            gevent.spawn(server.stop, timeout=grace)

    def watch_lifeline() -> None:
        while True:
            wait_read(info.lifeline)
            try:
                if os.read(info.lifeline, 1) == b"":
                    break
            except BlockingIOError:
                continue
        orphaned.append(True)  # end of file: the supervisor is gone (getppid may not say so yet)
        stop()

    gevent.signal_handler(signal.SIGTERM, stop)
    os.set_blocking(info.lifeline, False)
    gevent.spawn(watch_lifeline)
    try:
        server.serve_forever()
    finally:
        router.close()


__all__ = ["serve_workers", "run_worker"]
