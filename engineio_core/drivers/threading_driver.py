"""The threading driver, for the Werkzeug dev server and ``flask run``: a thread per
connection, real locks, blocking writes under a per-connection lock."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from .base import send_failure


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
                self._sock.sendall(data)
        except OSError as exc:
            if not self._closed:
                self._closed = True
                self._on_error(send_failure(exc))

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
