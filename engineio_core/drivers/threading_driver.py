"""The threading driver, for the Werkzeug dev server and ``flask run``: a thread per
connection, real locks, blocking writes under a per-connection lock."""

from __future__ import annotations

import queue
import selectors
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from ..flow import FlowControl, stall_reason, unwaited_reason
from .base import ThreadIO, is_tls, kernel_unsent, send_failure

# Writes block here: the writing thread itself is held back by a slow client (backpressure
# needs no high-water mark), but only while that client drains. A write that makes no progress
# for the flow's patience (`stall_patience`) hands what is left to a drain thread of that
# connection, and later writes are queued behind it (no longer blocking) up to
# `max_unwaited_bytes`; the connection is closed past that, or when the drain thread's socket
# takes no byte for `stall_timeout`. Without this, one client that stopped reading held the
# emitting thread (and every later recipient of a broadcast) for `stall_timeout`.
_DONTWAIT: int = getattr(socket, "MSG_DONTWAIT", 0)


class ThreadWriter:
    __slots__ = (
        "_sock", "_lock", "_closed", "_on_error", "_flow", "_bounded", "_pending", "_pending_bytes",
    )

    def __init__(self, sock: Any, flow: FlowControl, on_error: Callable[[str], None]) -> None:
        self._sock = sock
        self._lock = threading.Lock()
        self._closed = False
        self._on_error = on_error
        self._flow = flow
        # TLS or an exotic socket: no non-blocking send flag, a plain `sendall`.
        self._bounded = bool(_DONTWAIT) and isinstance(sock, socket.socket) and not is_tls(sock)
        # While not None, a drain thread owns the socket and writes queue here.
        self._pending: deque[memoryview] | None = None
        self._pending_bytes = 0

    @property
    def buffered(self) -> int:
        return self._pending_bytes

    def sample(self, now: float) -> None:
        """Not in the flow table: blocking writes measure their own progress."""

    def write_now(self, data: bytes) -> None:
        """Every write is its own ``send`` here."""
        self.write(data)

    def write(self, data: bytes) -> None:
        if self._closed:
            return
        reason = None
        with self._lock:
            if self._pending is not None:
                reason = self._queue(memoryview(data))
            elif not self._bounded:  # TLS or an exotic socket: no non-blocking send flag
                reason = self._sendall(data)
            else:
                try:
                    left = self._send(memoryview(data), self._flow.patience)
                except OSError as exc:
                    reason = send_failure(exc)
                else:
                    if left is not None:  # no progress for the patience: a drain thread takes over
                        self._pending = deque((left,))
                        self._pending_bytes = len(left)
                        threading.Thread(target=self._drain, daemon=True, name="engineio-drain").start()
        if reason is not None:
            self._fail(reason)

    def _sendall(self, data: bytes) -> str | None:
        try:
            self._sock.sendall(data)
        except OSError as exc:
            return send_failure(exc)
        return None

    def _queue(self, view: memoryview) -> str | None:
        """Behind the drain thread, within the bound of a client nobody waits for."""
        assert self._pending is not None
        bound = self._flow.unwaited_bytes
        if self._pending_bytes + len(view) > bound:
            return unwaited_reason(self._pending_bytes + len(view), bound, self._flow.patience)
        self._pending.append(view)
        self._pending_bytes += len(view)
        return None

    def _drain(self) -> None:
        """The drain thread: sends what queued while the client did not read, then hands the
        socket back to the writers (the client drains again: it holds them back again)."""
        stall = self._flow.stall_timeout
        while not self._closed:
            with self._lock:
                pending = self._pending
                if not pending:
                    self._pending = None
                    self._pending_bytes = 0
                    return
                chunk = pending[0]
            try:
                left = self._send(chunk, stall)
            except OSError as exc:
                self._fail(send_failure(exc))
                return
            if left is not None:
                self._fail(stall_reason(stall, self._pending_bytes - len(chunk) + len(left)))
                return
            with self._lock:
                if self._closed:  # failed meanwhile: the queue was cleared
                    return
                pending.popleft()
                self._pending_bytes -= len(chunk)

    def _send(self, view: memoryview, limit: float) -> memoryview | None:
        """Send `view`; returns what is left once the peer took no byte for `limit` seconds
        (None: all sent, or the writer was closed)."""
        sock = self._sock
        selector: selectors.BaseSelector | None = None
        try:
            while view and not self._closed:
                try:
                    sent = sock.send(view, _DONTWAIT)
                except (BlockingIOError, InterruptedError):
                    sent = 0
                if sent:
                    view = view[sent:]
                    continue
                if selector is None:
                    selector = selectors.DefaultSelector()
                    selector.register(sock, selectors.EVENT_WRITE)
                if not self._wait_writable(selector, limit):
                    return view
        finally:
            if selector is not None:
                selector.close()
        return None

    def _wait_writable(self, selector: selectors.BaseSelector, limit: float) -> bool:
        """Wait for room in the send buffer while the peer takes bytes (the kernel's send
        queue shrinks: `kernel_unsent`); False once it took none for `limit` seconds."""
        outq = kernel_unsent(self._sock)
        while not selector.select(limit):
            if self._closed:
                return True
            now = kernel_unsent(self._sock)
            if outq is None or now is None or now >= outq:
                return False
            outq = now
        return True

    def _fail(self, reason: str) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self._pending is not None:
                self._pending.clear()
            self._pending_bytes = 0
        self._on_error(reason)

    def close(self, then: Callable[[], None] | None = None) -> None:
        self._closed = True
        if then is not None:
            then()


class ThreadingDriver:
    name = "threading"

    def bind(self) -> None:
        pass

    def spawn(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> threading.Thread:
        """A started daemon thread (as the reference's threading mode returns: ``join()``,
        ``is_alive()``, ``name``…)."""
        thread = threading.Thread(target=fn, args=args, kwargs=kwargs, daemon=True)
        thread.start()
        return thread

    def dispatch(self, fn: Callable[..., Any], *args: Any) -> None:
        self.spawn(fn, *args)

    def run_guarded(self, fn: Callable[..., Any], args: tuple[Any, ...], on_block: Callable[[], None]) -> Any:
        return fn(*args)  # a thread per connection: handlers are dispatched to threads anyway

    def read_watcher(self, sock: Any) -> Any:
        """Threads read with blocking ``recv``: no readiness watchers."""
        return None

    def run_now(self, fn: Callable[..., Any], *args: Any) -> None:
        raise NotImplementedError("the threading driver has no read watchers")

    def inline_allowed(self) -> bool:
        return False

    def may_wait(self) -> bool:
        """Writes block here: nobody needs to wait on a high-water mark."""
        return False

    def thread_permits(self, count: int) -> Any:
        return threading.Semaphore(count)

    def sleep(self, seconds: float = 0) -> None:
        time.sleep(seconds)

    def event(self) -> threading.Event:
        return threading.Event()

    def lock(self) -> Any:
        return threading.RLock()

    def monotonic(self) -> float:
        return time.monotonic()

    def in_loop(self) -> bool:
        return True

    def call_in_loop(self, fn: Callable[..., Any], *args: Any) -> None:
        fn(*args)

    def writer(self, sock: Any, flow: FlowControl, on_error: Callable[[str], None]) -> ThreadWriter:
        return ThreadWriter(sock, flow, on_error)

    def queue(self) -> Any:
        return queue.Queue()

    def blocking_io(self) -> ThreadIO:
        """Blocking library calls (a broker's listen/publish) run in threads of their own."""
        return ThreadIO(threading.Thread, queue.SimpleQueue, threading.Semaphore)
