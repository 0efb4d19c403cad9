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

from .base import send_failure

# How long a write may make no progress (the peer's receive window stays shut) before the
# connection is failed as a slow consumer. Without it, one client that stops reading blocked
# the emitting thread in sendall() for ever, and with it every later recipient of a broadcast.
WRITE_STALL_TIMEOUT = 10.0
_DONTWAIT: int = getattr(socket, "MSG_DONTWAIT", 0)


class _Stalled(Exception):
    pass


class ThreadWriter:
    __slots__ = ("_sock", "_lock", "_closed", "_on_error")

    def __init__(self, sock: Any, max_bytes: int, on_error: Callable[[str], None]) -> None:
        self._sock = sock
        self._lock = threading.Lock()
        self._closed = False
        self._on_error = on_error

    @property
    def buffered(self) -> int:
        return 0

    def write(self, data: bytes) -> None:
        if self._closed:
            return
        try:
            with self._lock:
                if _DONTWAIT and isinstance(self._sock, socket.socket) and not hasattr(self._sock, "do_handshake"):
                    self._send_bounded(data)
                else:  # TLS or an exotic socket: no non-blocking send flag
                    self._sock.sendall(data)
        except _Stalled as exc:
            if not self._closed:
                self._closed = True
                self._on_error(f"slow consumer: {exc} bytes unsent, no progress for {WRITE_STALL_TIMEOUT}s")
        except OSError as exc:
            if not self._closed:
                self._closed = True
                self._on_error(send_failure(exc))

    def _send_bounded(self, data: bytes) -> None:
        """sendall(), except that waiting more than `WRITE_STALL_TIMEOUT` for the peer to take
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
                if not selector.select(WRITE_STALL_TIMEOUT) and not self._closed:
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


class _Task:
    def __init__(self, thread: threading.Thread) -> None:
        self._thread = thread

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)


class ThreadingDriver:
    name = "threading"

    def bind(self) -> None:
        pass

    def spawn(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> _Task:
        thread = threading.Thread(target=fn, args=args, kwargs=kwargs, daemon=True)
        thread.start()
        return _Task(thread)

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

    def writer(self, sock: Any, max_bytes: int, on_error: Callable[[str], None]) -> ThreadWriter:
        return ThreadWriter(sock, max_bytes, on_error)

    def queue(self) -> Any:
        return queue.Queue()
