"""The server's one timer loop: every session's heartbeat deadline and every `call_later`
callback on one heap (`timers.TimerHeap`), served by one task. No sleeping greenlet or thread
per connection (the cause of CVE-2026-48802 in the reference).

A key is a session id (str: `on_session(key, deadline, now)` decides whether the entry is
stale) or a callback token (a negative int)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .driver import Driver, Waiter
from .timers import TimerHeap

if TYPE_CHECKING:  # `logging` imports `threading`: kept out of the pure modules
    import logging


class TimerLoop:
    __slots__ = ("heap", "_driver", "_on_session", "_logger", "_wake", "_task", "_callbacks", "_seq")

    def __init__(
        self, driver: Driver, on_session: Callable[[str, float, float], None], logger: logging.Logger
    ) -> None:
        self.heap = TimerHeap()
        self._driver = driver
        self._on_session = on_session
        self._logger = logger
        self._wake: Waiter | None = None
        self._task: Any = None
        self._callbacks: dict[int, tuple[Callable[..., Any], tuple[Any, ...]]] = {}
        self._seq = 0

    def call_later(self, delay: float, fn: Callable[..., Any], *args: Any) -> int:
        """Run `fn(*args)` after `delay` seconds; returns a handle for `cancel`."""
        self._seq += 1
        token = self._seq
        self._callbacks[token] = (fn, args)
        self.push(self._driver.monotonic() + delay, -token)
        return token

    def cancel(self, token: int) -> None:
        self._callbacks.pop(token, None)

    def push(self, deadline: float, key: str | int) -> None:
        """Wake at `deadline` for `key`; starts the loop on first use."""
        if self.heap.push(deadline, key):
            if self._task is None:
                self._wake = self._driver.event()
                self._task = self._driver.spawn(self._run)
            elif self._wake is not None:
                self._wake.set()

    def _run(self) -> None:
        wake = self._wake
        assert wake is not None
        monotonic = self._driver.monotonic
        heap = self.heap
        while True:
            now = monotonic()
            for deadline, key in heap.pop_due(now):
                if isinstance(key, int):
                    self._run_callback(-key)
                    continue
                try:
                    self._on_session(str(key), deadline, now)
                except Exception:
                    self._logger.exception("timer handling error")
            nxt = heap.next_deadline()
            timeout = None if nxt is None else max(0.0, nxt - monotonic())
            wake.wait(timeout)
            wake.clear()

    def _run_callback(self, token: int) -> None:
        callback = self._callbacks.pop(token, None)
        if callback is not None:
            try:
                callback[0](*callback[1])
            except Exception:
                self._logger.exception("timer callback error")
