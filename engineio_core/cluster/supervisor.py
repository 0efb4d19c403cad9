"""The supervisor of ``workers=N``: one port, N forked worker processes.

The supervisor binds the listening socket, makes a private directory for the workers' Unix
sockets (hand-over, `router`; the local bus, `socketio_core.brokers.local_bus`) and forks
the workers; every worker accepts on the inherited listening socket, so the kernel spreads
new connections (and so new sessions) across them. The supervisor itself serves nothing: it
waits for its children.

* A worker that dies (crash, SIGKILL, OOM kill) is forked again in the same slot, with the
  same tag: its sessions are gone (their clients reconnect), requests for them get an
  unknown-sid answer from the new worker. A worker that dies within `QUICK_DEATH` seconds of
  its start is restarted after a growing delay (0.1 s doubling to 5 s), not in a tight loop.
* SIGTERM or SIGINT to the supervisor: SIGTERM to every worker, which stops accepting and
  ends its connections; past ``grace`` seconds the rest get SIGKILL. Then the supervisor
  removes the socket directory and returns.
* A worker whose supervisor is gone, even killed with SIGKILL, exits by itself: on Linux the
  kernel sends it SIGTERM (``prctl(PR_SET_PDEATHSIG)``), and everywhere it watches a pipe
  whose other end only the supervisor holds (end of file: the supervisor is gone). No orphan
  keeps the port.

The workers are forked from the supervisor as it is when `run` is called (the app built, the
server not started yet): each starts its own event loop, listeners and background work.
"""

from __future__ import annotations

import ctypes
import logging
import mmap
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger("engineio_core.cluster")

QUICK_DEATH = 1.0
"""A worker that dies this soon after its start is restarted after a delay (crash loop)."""
MAX_RESTART_DELAY = 5.0
PR_SET_PDEATHSIG = 1


@dataclass(frozen=True, slots=True)
class WorkerInfo:
    """What a worker is given: its slot, its tag (session ids name it), the shared socket
    directory, the listening socket and the pipe that tells it the supervisor is gone."""

    index: int
    tag: str
    directory: str
    listener: socket.socket
    lifeline: int
    supervisor_pid: int
    count: int = 1
    loads: Any = None
    """Shared memory (survives the fork): the handshakes each worker kept (`router`)."""


def cpu_count() -> int:
    """The cores this process may run on (``workers='auto'``)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def worker_count(workers: int | str | None) -> int:
    """``workers=`` as a number: ``'auto'`` is the number of cores; None is 1."""
    if workers is None:
        return 1
    if workers == "auto":
        return cpu_count()
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a positive number or 'auto', not {workers!r}")
    return workers


class _Stop(Exception):
    pass


class Supervisor:
    """Fork `count` workers that each call `serve(info)` (which must not return until the
    worker is to exit), keep them running, stop them on SIGTERM/SIGINT (`run`)."""

    def __init__(self, serve: Callable[[WorkerInfo], None], host: str, port: int, count: int,
                 grace: float = 10.0, backlog: int = 2048, directory: str | None = None,
                 on_ready: Callable[[Supervisor], None] | None = None) -> None:
        self.serve = serve
        self.count = count
        self.grace = grace
        self.on_ready = on_ready
        self.listener = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind((host, port))
        self.listener.listen(backlog)
        self.address: tuple[str, int] = self.listener.getsockname()[:2]
        self.directory = directory or tempfile.mkdtemp(prefix="socketio-workers-")
        os.makedirs(self.directory, mode=0o700, exist_ok=True)
        self.pids: dict[int, int] = {}  # pid -> slot
        self._started: dict[int, float] = {}  # slot -> when its worker was forked
        self._failures: dict[int, int] = {}  # slot -> quick deaths in a row
        self._lifeline_r, self._lifeline_w = os.pipe()
        self.loads = mmap.mmap(-1, 8 * count)  # anonymous and shared: the workers see one copy
        self.pid = os.getpid()

    @property
    def port(self) -> int:
        return int(self.address[1])

    def run(self) -> None:
        """Fork the workers and supervise them until SIGTERM or SIGINT; then stop them."""
        previous = {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            for slot in range(self.count):
                self._spawn(slot)
            logger.info("%d workers serving http://%s:%d", self.count, self.address[0], self.port)
            if self.on_ready is not None:
                self.on_ready(self)
            while True:
                self._reap_one()
        except _Stop:
            pass
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            self._stop_all()
            self._cleanup()

    def _on_signal(self, signum: int, frame: object) -> None:
        raise _Stop

    def _reap_one(self) -> None:
        try:
            pid, status = os.waitpid(-1, 0)
        except ChildProcessError:
            raise _Stop from None  # no children at all (cannot happen while we supervise)
        slot = self.pids.pop(pid, None)
        if slot is None:
            return
        how = (f"signal {os.WTERMSIG(status)}" if os.WIFSIGNALED(status)
               else f"exit code {os.WEXITSTATUS(status)}")
        logger.error("worker %d (pid %d) died (%s); restarting it", slot, pid, how)
        self._remove_sockets(slot)
        if time.monotonic() - self._started.get(slot, 0.0) < QUICK_DEATH:
            failures = self._failures[slot] = self._failures.get(slot, 0) + 1
            time.sleep(min(0.1 * 2 ** (failures - 1), MAX_RESTART_DELAY))
        else:
            self._failures[slot] = 0
        self._spawn(slot)

    def _spawn(self, slot: int) -> None:
        info = WorkerInfo(slot, str(slot), self.directory, self.listener, self._lifeline_r, self.pid,
                          self.count, self.loads)
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # the worker: never returns into the caller's code
            code = 1
            try:
                os.close(self._lifeline_w)
                _die_with_parent(self.pid)
                for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGCHLD):
                    signal.signal(sig, signal.SIG_DFL)
                self.serve(info)
                code = 0
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 0
            except BaseException:
                logger.exception("worker %d failed", slot)
            finally:
                try:
                    sys.stdout.flush()
                    sys.stderr.flush()
                finally:
                    os._exit(code)
        self.pids[pid] = slot
        self._started[slot] = time.monotonic()

    def _stop_all(self) -> None:
        for pid in list(self.pids):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                self.pids.pop(pid, None)
        deadline = time.monotonic() + self.grace
        while self.pids:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid:
                self.pids.pop(pid, None)
                continue
            if time.monotonic() > deadline:
                for pid in list(self.pids):
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                deadline = float("inf")
            time.sleep(0.02)
        self.pids.clear()

    def _remove_sockets(self, slot: int) -> None:
        for suffix in (".fd", ".bus"):
            try:
                os.unlink(os.path.join(self.directory, f"{slot}{suffix}"))
            except OSError:
                pass

    def _cleanup(self) -> None:
        self.listener.close()
        for fd in (self._lifeline_r, self._lifeline_w):
            try:
                os.close(fd)
            except OSError:
                pass
        shutil.rmtree(self.directory, ignore_errors=True)


def _die_with_parent(parent: int) -> None:
    """Linux: SIGTERM to this process when its parent dies (however it dies)."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:  # it died before prctl took effect
        os._exit(0)


__all__ = ["Supervisor", "WorkerInfo", "cpu_count", "worker_count"]
