"""The threading driver, for the Werkzeug dev server and ``flask run``: a thread per
connection, real locks, blocking writes under a per-connection lock."""

from __future__ import annotations

import queue
import selectors
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from ..flow import FlowControl, stall_reason
from .base import ThreadIO, is_tls, send_failure

# How long a write may make no progress (the peer's receive window stays shut) before the
# connection is failed as a slow consumer is the `stall_timeout` option. Without it, one client
# that stops reading blocked the emitting thread in sendall() for ever, and with it every later
# recipient of a broadcast. Writes block, so the writing thread itself is held back by a slow
# client (backpressure needs no high-water mark here).
_DONTWAIT: int = getattr(socket, "MSG_DONTWAIT", 0)


class _Stalled(Exception):
    pass


class ThreadWriter:
    __slots__ = ("_sock", "_lock", "_closed", "_on_error", "_stall", "_bounded")

    def __init__(self, sock: Any, flow: FlowControl, on_error: Callable[[str], None]) -> None:
        self._sock = sock
        self._lock = threading.Lock()
        self._closed = False
        self._on_error = on_error
        self._stall = flow.stall_timeout
        # TLS or an exotic socket: no non-blocking send flag, a plain `sendall`.
        self._bounded = bool(_DONTWAIT) and isinstance(sock, socket.socket) and not is_tls(sock)

    @property
    def buffered(self) -> int:
        return 0

    def write_now(self, data: bytes) -> None:
        """Every write is its own ``send`` here."""
        self.write(data)

    def write(self, data: bytes) -> None:
        if self._closed:
            return
        try:
            with self._lock:
                if self._bounded:
                    self._send_bounded(data)
                else:  # TLS or an exotic socket: no non-blocking send flag
                    self._sock.sendall(data)
        except _Stalled as exc:
            if not self._closed:
                self._closed = True
                self._on_error(stall_reason(self._stall, int(str(exc))))
        except OSError as exc:
            if not self._closed:
                self._closed = True
                self._on_error(send_failure(exc))

    def _send_bounded(self, data: bytes) -> None:
        """sendall(), except that waiting more than `stall_timeout` for the peer to take
        any byte raises `_Stalled` (with the count of bytes left)."""
        sock = self._sock
        view = memoryview(data)
        selector: selectors.BaseSelector | None = None
        try:
            while view:
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
                if not selector.select(self._stall) and not self._closed:
                    raise _Stalled(len(view))
                if self._closed:
                    return
        finally:
            if selector is not None:
                selector.close()

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
