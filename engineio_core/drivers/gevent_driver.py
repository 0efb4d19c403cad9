"""The gevent driver: greenlets, cooperative sockets, no monkey-patching required.

All session state is touched from the hub's thread only. Calls from foreign OS threads
(`send`/`emit` from a plain `threading.Thread` in an app that did not monkey-patch) are handed
to the hub with `run_callback_threadsafe`, so emitting from a background thread just works.
Because greenlets switch only where they block, critical sections that do not block need no
lock: `lock()` is a no-op context manager.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from contextlib import nullcontext
from typing import Any

import gevent
import gevent.event
import gevent.lock
import gevent.queue
import greenlet
from gevent import monkey

from ..flow import FlowControl, ceiling_reason, stall_reason, unwaited_reason
from .base import BlockingIO, ThreadIO, kernel_unsent, plain_socket, send_failure

_real_get_ident = monkey.get_original("_thread", "get_ident")
_RawGreenlet = greenlet.greenlet
_RealSemaphore = monkey.get_original("threading", "Semaphore")
_THREAD_IO = ThreadIO(
    monkey.get_original("threading", "Thread"), monkey.get_original("queue", "SimpleQueue"), _RealSemaphore
)


def _guarded(fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
    try:
        fn(*args)
    except BaseException:  # noqa: BLE001 - nothing may reach the hub from here
        import logging

        logging.getLogger("engineio_core").exception("unhandled error in a dispatched task")
FLUSH_GRACE = 5.0
# A cork past this many bytes is sent at once, without waiting for the writing greenlet to yield.
CORK_LIMIT = 64 * 1024


class _Workers:
    """Greenlets that run one task each, then park for the next one instead of dying.

    A new greenlet is not cheap on CPython 3.11+: its first Python call allocates a fresh
    frame stack (an mmap, page faults, a munmap when it dies). Event handlers and socket
    reads run on parked workers; at most `MAX_IDLE` park, the rest end."""

    MAX_IDLE = 64
    __slots__ = ("hub", "idle")

    def __init__(self, hub: Any) -> None:
        self.hub = hub
        self.idle: list[Any] = []

    def run(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        """Run `fn(*args)` on a worker now; call from the hub (a loop callback)."""
        idle = self.idle
        worker = idle.pop() if idle else _RawGreenlet(self._work, self.hub)
        worker.switch(fn, args)

    def _work(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        idle = self.idle
        switch = self.hub.switch
        task: Any = None
        while True:
            _guarded(fn, args)
            fn = args = task = None  # type: ignore[assignment]  # nothing kept alive while parked
            if len(idle) >= self.MAX_IDLE:
                return
            idle.append(greenlet.getcurrent())
            while True:
                task = switch()
                if type(task) is tuple and len(task) == 2:
                    break  # `run` sent work; anything else is a stray wake-up: park again
            fn, args = task


class GeventWriter:
    """Writes coalesced per loop pass, then write-through, with flow control.

    Frames written while a greenlet runs are collected ("corked") and sent with ONE
    non-blocking ``send`` when the hub next runs its callbacks, i.e. as soon as the writing
    greenlet yields: a handler that emits 50 messages to 1,000 clients makes 1,000 system
    calls, not 50,000, and a single ack still leaves within the same loop pass. A cork past
    `CORK_LIMIT` bytes is sent at once (a producer that never yields holds no more than that per
    connection). `write_now` sends its frame as its own write (the connect path: a client that
    handles one frame per read event must not find two in one read).

    Only what the socket does not take is queued, for one greenlet that drains it. Past the
    flow's high-water mark the writer is *congested* (producers that may wait, wait; see
    `engineio_core.flow`); it is relieved at the low-water mark. While it has data queued, the
    server's timer loop checks its progress: a socket that takes no byte for `stall_timeout`
    seconds fails the connection as a slow consumer. `max_bytes` unsent is the hard ceiling."""

    __slots__ = (
        "_sock", "_raw", "_loop", "_cork", "_cork_bytes", "_pending", "_pending_bytes", "_busy",
        "_closed", "_high", "_flow", "_on_error", "_then", "_drainer", "_progress", "_watched",
        "_outq",
    )

    # What differs on another green loop (the eventlet driver's writer redefines these four):
    # the non-blocking socket under `sock` (None: no raw fast path), the loop whose
    # `run_callback` flushes the cork, and how the drain greenlet starts and is stopped.
    _raw_socket = staticmethod(plain_socket)
    _spawn = staticmethod(gevent.spawn)
    _spawn_later = staticmethod(gevent.spawn_later)

    @staticmethod
    def _current_loop() -> Any:
        return gevent.get_hub().loop

    @staticmethod
    def _stop(drainer: Any) -> None:
        drainer.kill(block=True, timeout=1)

    def __init__(self, sock: Any, flow: FlowControl, on_error: Callable[[str], None]) -> None:
        self._sock = sock
        # TLS sockets have no raw fast path: everything goes through the drain greenlet.
        self._raw = self._raw_socket(sock)
        self._loop = self._current_loop()
        self._cork: list[bytes] | None = None
        self._cork_bytes = 0
        self._pending: deque[bytes | memoryview] | None = None  # made on first use (~600 B)
        self._pending_bytes = 0
        self._busy = False
        self._closed = False
        self._high = flow.high_water
        self._flow = flow
        self._on_error = on_error
        self._then: Callable[[], None] | None = None
        self._drainer: Any = None
        self._progress = 0.0  # when the socket last took bytes (while data is queued)
        self._watched = False  # a stall check is on the server's timer loop
        self._outq = 0  # the kernel's send queue at the last look (`sample`)

    @property
    def buffered(self) -> int:
        return self._pending_bytes + self._cork_bytes

    def write(self, data: bytes) -> None:
        if self._closed:
            return
        if self._busy or self._raw is None:
            self._enqueue(data)
            return
        cork = self._cork
        if cork is None:
            self._cork = [data]
            self._cork_bytes = len(data)
            self._loop.run_callback(self._flush)
            return
        cork.append(data)
        self._cork_bytes += len(data)
        if self._cork_bytes > CORK_LIMIT:
            self._flush()
        elif self._cork_bytes + self._pending_bytes > self._high:
            self._over()

    def write_now(self, data: bytes) -> None:
        """Write `data` as its own ``send``, after what was written before it."""
        if self._closed:
            return
        if self._cork is not None:
            self._flush()
        if self._busy or self._raw is None:
            self._enqueue(data)  # a chunk of its own: the drainer sends chunks one by one
            return
        self._send(data)

    def _flush(self) -> None:
        """Send what this loop pass wrote, in one non-blocking call (runs in the hub, or in
        the writing greenlet past `CORK_LIMIT`)."""
        cork = self._cork
        if cork is None:
            return
        self._cork = None
        self._cork_bytes = 0
        if self._closed:
            return  # failed meanwhile (a close flushes before it marks the writer closed)
        data = cork[0] if len(cork) == 1 else b"".join(cork)
        if self._busy or self._raw is None:
            self._enqueue(data)
            return
        self._send(data)

    def _send(self, data: bytes) -> None:
        raw = self._raw
        assert raw is not None
        try:
            sent = raw.send(data)
        except BlockingIOError:
            sent = 0
        except OSError as exc:
            self._fail(send_failure(exc))
            return
        flow = self._flow
        if sent < len(data):
            if sent and flow.congested:
                flow.progressed(self, time.monotonic())
            self._enqueue(memoryview(data)[sent:])
        elif flow.congested and self in flow.congested:
            flow.relieve(self)

    def _over(self) -> None:
        """Past the high-water mark: congested; failed past the hard ceiling, or past the bound
        of a recipient nobody waits for (idle: it took no byte for the flow's patience)."""
        flow = self._flow
        unsent = self.buffered
        if unsent > flow.max_bytes:
            self._fail(ceiling_reason(unsent, flow.max_bytes))
        elif flow.idle and flow.over_unwaited(self, unsent):
            self._fail(unwaited_reason(unsent, flow.unwaited_bytes, flow.patience))
        elif self not in flow.congested:
            self._outq = kernel_unsent(self._raw) or 0
            flow.congest(self, time.monotonic())

    def sample(self, now: float) -> None:
        """Flow control's look: the peer took bytes the kernel held since the last one is
        progress (a socket becomes writable only once much of its buffer is free; see
        `kernel_unsent`); idle past the unwaited bound, the writer fails."""
        flow = self._flow
        outq = kernel_unsent(self._raw)
        if outq is not None:
            if outq < self._outq:
                self._progress = now
                flow.progressed(self, now)
            self._outq = outq
        if flow.idle and flow.over_unwaited(self, self.buffered):
            self._fail(unwaited_reason(self.buffered, flow.unwaited_bytes, flow.patience))

    def _enqueue(self, data: bytes | memoryview) -> None:
        pending = self._pending
        if pending is None:
            pending = self._pending = deque()
        pending.append(data)
        self._pending_bytes += len(data)
        if self._pending_bytes + self._cork_bytes > self._high:
            self._over()
            if self._closed:
                return
        if not self._busy:
            self._busy = True
            self._progress = time.monotonic()
            self._drainer = self._spawn(self._drain)
            if not self._watched:
                schedule = self._flow.schedule
                if schedule is not None:
                    self._watched = True
                    schedule(self._flow.stall_timeout, self._check_stall)

    def _check_stall(self) -> None:
        """On the server's timer loop, while data is queued: fail a socket that took no byte
        for `stall_timeout` seconds; otherwise look again when that could next be true."""
        self._watched = False
        if self._closed or not self._busy:
            return
        flow = self._flow
        now = time.monotonic()
        self.sample(now)
        idle = now - self._progress
        if idle >= flow.stall_timeout:
            self._fail(stall_reason(flow.stall_timeout, self.buffered))
            return
        schedule = flow.schedule
        if schedule is not None:
            self._watched = True
            schedule(flow.stall_timeout - idle, self._check_stall)

    def _drain(self) -> None:
        try:
            pending = self._pending
            flow = self._flow
            send = self._sock.send  # cooperative: waits for the socket to be writable
            monotonic = time.monotonic
            while pending:
                chunk = pending[0]
                sent = send(chunk)
                if not pending or pending[0] is not chunk:
                    break  # failed meanwhile: the queue was cleared
                if sent:
                    self._progress = now = monotonic()
                    if flow.congested:
                        flow.progressed(self, now)
                    self._pending_bytes -= sent
                    if sent < len(chunk):
                        pending[0] = memoryview(chunk)[sent:]
                    else:
                        pending.popleft()
                    if flow.congested and self._pending_bytes + self._cork_bytes <= flow.low_water:
                        flow.relieve(self)
        except OSError as exc:
            self._fail(send_failure(exc))
        finally:
            self._busy = False
            if self._closed:
                self._run_then()

    def _fail(self, reason: str) -> None:
        self._cork = None
        self._cork_bytes = 0
        if self._pending is not None:
            self._pending.clear()
        self._pending_bytes = 0
        if not self._closed:
            self._closed = True
            self._flow.relieve(self)
            self._on_error(reason)

    def close(self, then: Callable[[], None] | None = None) -> None:
        """Stop accepting writes; run `then` once what is queued is flushed (at most
        `FLUSH_GRACE` seconds later, for a peer that stopped reading)."""
        if self._cork is not None and not self._closed:
            self._flush()  # what was written before the close goes first
        self._closed = True
        self._flow.relieve(self)
        self._then = then
        if not self._busy:
            self._run_then()
        else:
            self._spawn_later(FLUSH_GRACE, self._force_close)

    def _force_close(self) -> None:
        if self._pending is not None:
            self._pending.clear()
        self._pending_bytes = 0
        drainer = self._drainer
        if drainer is not None and not drainer.dead:
            # Stop the drain blocked on a peer that does not read, before the socket is shut
            # down and handed back (closing it under a waiting greenlet aborts libev).
            self._stop(drainer)
        self._run_then()

    def _run_then(self) -> None:
        then, self._then = self._then, None
        if then is not None:
            then()


class GeventDriver:
    name = "gevent"

    def __init__(self) -> None:
        self._hub: Any = None
        self._guarded: Any = None
        self._pool: _Workers | None = None

    def bind(self) -> None:
        """Adopt the hub of the thread that serves requests (the first one to call)."""
        if self._hub is None:
            self._hub = gevent.get_hub()

    def spawn(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return gevent.spawn(fn, *args, **kwargs)

    def dispatch(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run `fn(*args)` in a new greenlet, fire-and-forget (event handlers).

        A bare greenlet whose parent is the hub, scheduled with one loop callback: about a
        quarter of the cost of `gevent.spawn` per event (no Greenlet bookkeeping, links or
        spawn tree). `fn` must not raise: an exception would surface in the hub, so it is
        caught and reported here."""
        hub = self._hub if self._hub is not None else gevent.get_hub()
        hub.loop.run_callback(self._workers(hub).run, fn, args)

    def run_guarded(self, fn: Callable[..., Any], args: tuple[Any, ...], on_block: Callable[[], None]) -> Any:
        """Run `fn(*args)` here and now; if it blocks (lets the hub run) before returning,
        `on_block()` runs from the hub while it is blocked. A handler that does not block
        costs one scheduled-then-cancelled callback, not a greenlet."""
        hub = self._hub
        if hub is None:
            return fn(*args)
        watch = hub.loop.run_callback(on_block)
        previous, self._guarded = self._guarded, greenlet.getcurrent()
        try:
            return fn(*args)
        finally:
            self._guarded = previous
            watch.stop()

    def read_watcher(self, sock: Any) -> Any:
        """A loop watcher for "`sock` is readable" (start(callback)/stop()/close()), for
        reading a socket from loop callbacks instead of a greenlet parked in ``recv``. None
        for sockets without a raw non-blocking socket underneath (TLS)."""
        if self._hub is None or plain_socket(sock) is None:
            return None
        return self._hub.loop.io(sock.fileno(), 1)

    def run_now(self, fn: Callable[..., Any], *args: Any) -> None:
        """From a loop callback: run `fn(*args)` in a new greenlet at once (not on the next
        loop pass, as `dispatch` does). `fn` must not raise (see `dispatch`)."""
        self._workers(self._hub).run(fn, args)

    def _workers(self, hub: Any) -> _Workers:
        workers = self._pool
        if workers is None or workers.hub is not hub:
            workers = self._pool = _Workers(hub)
        return workers

    def inline_allowed(self) -> bool:
        """True inside `run_guarded` (in the greenlet that called it): work may run inline."""
        return self._guarded is greenlet.getcurrent()

    def may_wait(self) -> bool:
        """Whether the caller may wait for a congested client (flow control): not the hub
        (loop callbacks), not a handler running inline in a client's reader."""
        current = greenlet.getcurrent()
        hub = self._hub
        return current is not self._guarded and (hub is None or current is not hub)

    def thread_permits(self, count: int) -> Any:
        """A semaphore that foreign OS threads acquire and the hub releases (never blocks it)."""
        return _RealSemaphore(count)

    def sleep(self, seconds: float = 0) -> None:
        gevent.sleep(seconds)

    def event(self) -> Any:
        return gevent.event.Event()

    def lock(self) -> Any:
        return nullcontext()

    def monotonic(self) -> float:
        return time.monotonic()

    def in_loop(self) -> bool:
        hub = self._hub
        return hub is None or bool(_real_get_ident() == hub.thread_ident)

    def call_in_loop(self, fn: Callable[..., Any], *args: Any) -> None:
        self._hub.loop.run_callback_threadsafe(fn, *args)

    def writer(self, sock: Any, flow: FlowControl, on_error: Callable[[str], None]) -> GeventWriter:
        return GeventWriter(sock, flow, on_error)

    def queue(self) -> Any:
        return gevent.queue.Queue()

    def blocking_io(self) -> BlockingIO:
        """Where blocking library calls (a broker client's socket) run: greenlets when the app
        monkey-patched the socket module (they are cooperative then), real OS threads
        otherwise (a greenlet blocked in an unpatched ``recv`` would stop the hub)."""
        if monkey.is_module_patched("socket"):
            return _GREENLET_IO
        return _THREAD_IO


class _GreenletIO:
    def start(self, fn: Callable[[], None], name: str) -> Any:
        return gevent.spawn(fn)

    def queue(self) -> Any:
        return gevent.queue.Queue()

    def semaphore(self, count: int) -> Any:
        return gevent.lock.Semaphore(count)


_GREENLET_IO = _GreenletIO()
