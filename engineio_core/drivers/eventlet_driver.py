"""The eventlet driver: green threads on eventlet's hub, green sockets, with or without
``eventlet.monkey_patch()``.

The same contract as the gevent driver (see `gevent_driver`): session state is touched from
the hub's OS thread only, and green threads switch only where they block, so `lock()` is a
no-op. Calls from foreign OS threads (an app that did not monkey-patch threads) are handed to
the hub through `_ThreadBridge` (a queue and a pipe the hub watches), as gevent's
``run_callback_threadsafe`` does. The writer is gevent's (corked per hub pass, then one
non-blocking ``send`` on the socket under the green socket, a drain green thread for what
does not fit, the flow-control marks), on eventlet's hub.

WebSockets are read by a green thread each (eventlet has no level-triggered readiness
watcher that coexists with its green sockets), so `read_watcher` returns None and the
engine reads them as it does under any WSGI server.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from contextlib import nullcontext
from typing import Any

import eventlet
import eventlet.hubs
import eventlet.queue
import eventlet.semaphore
import greenlet
from eventlet import patcher
from eventlet.greenio import GreenSocket

from ..flow import FlowControl
from .base import BlockingIO, ThreadIO, is_tls
from .gevent_driver import GeventWriter

_real_thread = patcher.original("_thread")
_real_get_ident = _real_thread.get_ident
_real_os = patcher.original("os")
_real_threading = patcher.original("threading")
_real_queue = patcher.original("queue")
_THREAD_IO = ThreadIO(_real_threading.Thread, _real_queue.SimpleQueue, _real_threading.Semaphore)
_logger = logging.getLogger("engineio_core")


def _guarded(fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
    try:
        fn(*args)
    except BaseException:  # noqa: BLE001 - nothing may reach the hub from here
        _logger.exception("unhandled error in a dispatched task")


def _raw_socket(sock: Any) -> Any:
    """The non-blocking OS socket under an eventlet green socket (None for TLS, or a socket
    that is not green: everything then goes through the drain green thread)."""
    if isinstance(sock, GreenSocket) and not is_tls(sock):
        return sock.fd
    return None


class _HubCallbacks:
    """gevent's ``loop.run_callback`` on eventlet's hub: `fn(*args)` on the next hub pass."""

    __slots__ = ("_schedule",)

    def __init__(self, hub: Any) -> None:
        self._schedule = hub.schedule_call_global

    def run_callback(self, fn: Callable[..., Any], *args: Any) -> Any:
        return self._schedule(0, fn, *args)


def _current_hub_callbacks() -> _HubCallbacks:
    hub = eventlet.hubs.get_hub()
    callbacks: _HubCallbacks | None = getattr(hub, "_engineio_callbacks", None)
    if callbacks is None:
        callbacks = _HubCallbacks(hub)
        hub._engineio_callbacks = callbacks
    return callbacks


def _spawn_after(seconds: float, fn: Callable[..., Any], *args: Any) -> Any:
    return eventlet.spawn_after(seconds, fn, *args)


def _kill(drainer: Any) -> None:
    drainer.kill()


class EventletWriter(GeventWriter):
    """`GeventWriter` on eventlet's hub (see its docstring for the behaviour)."""

    __slots__ = ()
    _raw_socket = staticmethod(_raw_socket)
    _current_loop = staticmethod(_current_hub_callbacks)
    _spawn = staticmethod(eventlet.spawn)
    _spawn_later = staticmethod(_spawn_after)
    _stop = staticmethod(_kill)


class EventletTask:
    """A started green thread with the ``join()`` of a thread (the reference's eventlet
    mode returns such an object from ``start_background_task``)."""

    __slots__ = ("greenthread",)

    def __init__(self, greenthread: Any) -> None:
        self.greenthread = greenthread

    def join(self, timeout: float | None = None) -> None:
        """Wait until the task ends (at most `timeout` seconds); its exception is not raised."""
        with eventlet.Timeout(timeout, False):
            try:
                self.greenthread.wait()
            except Exception:  # noqa: BLE001 - join() reports the end, as Thread.join does
                pass

    def wait(self) -> Any:
        """The task's return value (its exception raised), as eventlet's ``GreenThread.wait``."""
        return self.greenthread.wait()

    def kill(self) -> None:
        self.greenthread.kill()

    def is_alive(self) -> bool:
        return not self.greenthread.dead

    @property
    def dead(self) -> bool:
        return bool(self.greenthread.dead)


class GreenWaiter:
    """A resettable event for green threads (`base.Waiter`): ``set``, ``clear``, ``wait``
    with a timeout. eventlet's own ``Event`` is one-shot. A waiter is resumed from a hub
    callback that checks it still waits, so a wake-up and a timeout never both reach it."""

    __slots__ = ("_flag", "_waiting")

    def __init__(self) -> None:
        self._flag = False
        self._waiting: list[list[Any]] = []

    def set(self) -> None:
        if self._flag:
            return
        self._flag = True
        waiting, self._waiting = self._waiting, []
        if waiting:
            schedule = eventlet.hubs.get_hub().schedule_call_global
            for entry in waiting:
                schedule(0, _resume, entry, True)

    def clear(self) -> None:
        self._flag = False

    def is_set(self) -> bool:
        return self._flag

    def wait(self, timeout: float | None = None) -> bool:
        if self._flag:
            return True
        if timeout is not None and timeout <= 0:
            return False
        hub = eventlet.hubs.get_hub()
        entry: list[Any] = [greenlet.getcurrent(), True]
        self._waiting.append(entry)
        timer = None if timeout is None else hub.schedule_call_global(timeout, _resume, entry, False)
        try:
            return bool(hub.switch())
        finally:
            entry[1] = False
            if timer is not None:
                timer.cancel()
            if entry in self._waiting:
                self._waiting.remove(entry)


def _resume(entry: list[Any], value: bool) -> None:
    if entry[1]:
        entry[1] = False
        entry[0].switch(value)


class _ThreadBridge:
    """Runs calls handed over by other OS threads on the hub: they append to a deque and
    write a byte to a pipe (once per batch); a green thread on the hub waits for the pipe to
    be readable and runs what was handed over, in order."""

    __slots__ = ("_calls", "_read_fd", "_write_fd", "_signalled")

    def __init__(self) -> None:
        self._calls: deque[tuple[Callable[..., Any], tuple[Any, ...]]] = deque()
        self._read_fd, self._write_fd = _real_os.pipe()
        _real_os.set_blocking(self._read_fd, False)
        self._signalled = False
        eventlet.spawn_n(self._run)

    def call(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        self._calls.append((fn, args))
        if not self._signalled:
            self._signalled = True
            _real_os.write(self._write_fd, b"x")

    def _run(self) -> None:
        while True:
            eventlet.hubs.trampoline(self._read_fd, read=True)
            self._signalled = False
            try:
                _real_os.read(self._read_fd, 4096)
            except BlockingIOError:
                pass
            self.drain()

    def drain(self) -> None:
        """Run what was handed over, in order (on the hub's thread)."""
        calls = self._calls
        while calls:
            fn, args = calls.popleft()
            _guarded(fn, args)


class EventletDriver:
    name = "eventlet"

    def __init__(self) -> None:
        self._hub: Any = None
        self._thread_ident: int | None = None
        self._bridge: _ThreadBridge | None = None
        self._guarded: Any = None

    def bind(self) -> None:
        """Adopt the hub of the thread that serves requests (the first one to call)."""
        if self._hub is None:
            self._hub = eventlet.hubs.get_hub()
            self._thread_ident = _real_get_ident()
            self._bridge = _ThreadBridge()

    def spawn(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> EventletTask:
        return EventletTask(eventlet.spawn(fn, *args, **kwargs))

    def dispatch(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run `fn(*args)` in a new green thread, fire-and-forget (event handlers); `fn`
        must not raise (an exception is caught and logged here)."""
        eventlet.spawn_n(_guarded, fn, args)

    def run_guarded(self, fn: Callable[..., Any], args: tuple[Any, ...], on_block: Callable[[], None]) -> Any:
        """Run `fn(*args)` here and now; if it blocks (lets the hub run) before returning,
        `on_block()` runs from the hub while it is blocked (a cancelled hub timer otherwise)."""
        hub = self._hub
        if hub is None:
            return fn(*args)
        watch = hub.schedule_call_global(0, on_block)
        previous, self._guarded = self._guarded, greenlet.getcurrent()
        try:
            return fn(*args)
        finally:
            self._guarded = previous
            watch.cancel()

    def read_watcher(self, sock: Any) -> Any:
        """No readiness watchers: a green thread reads each WebSocket."""
        return None

    def run_now(self, fn: Callable[..., Any], *args: Any) -> None:
        raise NotImplementedError("the eventlet driver has no read watchers")

    def inline_allowed(self) -> bool:
        """True inside `run_guarded` (in the green thread that called it)."""
        return self._guarded is greenlet.getcurrent()

    def may_wait(self) -> bool:
        """Whether the caller may wait for a congested client: not the hub, not a handler
        running inline in a client's reader."""
        current = greenlet.getcurrent()
        hub = self._hub
        return current is not self._guarded and (hub is None or current is not hub.greenlet)

    def thread_permits(self, count: int) -> Any:
        """A semaphore that foreign OS threads acquire and the hub releases."""
        return _real_threading.Semaphore(count)

    def sleep(self, seconds: float = 0) -> None:
        eventlet.sleep(seconds)

    def event(self) -> GreenWaiter:
        return GreenWaiter()

    def lock(self) -> Any:
        return nullcontext()

    def monotonic(self) -> float:
        return time.monotonic()

    def in_loop(self) -> bool:
        return self._hub is None or _real_get_ident() == self._thread_ident

    def call_in_loop(self, fn: Callable[..., Any], *args: Any) -> None:
        if _real_get_ident() == self._thread_ident:
            self._hub.schedule_call_global(0, _guarded, fn, args)
            return
        bridge = self._bridge
        assert bridge is not None, "call_in_loop before the driver was bound to a hub"
        bridge.call(fn, args)

    def run_pending(self) -> None:
        """Run, now, what other OS threads handed to the hub (the test client calls this
        before it looks at what arrived, as gevent's loop runs its thread-safe callbacks
        first); then let ready green threads run."""
        if self._bridge is not None and self.in_loop():
            self._bridge.drain()
        if greenlet.getcurrent() is not eventlet.hubs.get_hub().greenlet:
            eventlet.sleep(0)

    def writer(self, sock: Any, flow: FlowControl, on_error: Callable[[str], None]) -> EventletWriter:
        return EventletWriter(sock, flow, on_error)

    def queue(self) -> Any:
        return eventlet.queue.Queue()

    def blocking_io(self) -> BlockingIO:
        """Where blocking library calls (a broker client's socket) run: green threads when
        eventlet monkey-patched the socket module (redis-py and kombu are cooperative then),
        real OS threads otherwise."""
        if patcher.is_monkey_patched("socket"):
            return _GREEN_IO
        return _THREAD_IO


class _GreenIO:
    def start(self, fn: Callable[[], None], name: str) -> Any:
        return EventletTask(eventlet.spawn(fn))

    def queue(self) -> Any:
        return eventlet.queue.Queue()

    def semaphore(self, count: int) -> Any:
        return eventlet.semaphore.Semaphore(count)


_GREEN_IO = _GreenIO()
