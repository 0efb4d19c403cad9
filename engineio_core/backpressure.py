"""Flow-control waiting: holding a producer back while a recipient of its emits is congested.

`engineio_core.flow` (pure) keeps the table of congested lanes; this module decides who waits
for them and how: a greenlet that may wait waits cooperatively, a foreign OS thread is held back
on a semaphore (`run_from_thread`), and the hub, inline handlers and the message-queue applier
never wait. `EngineServer` owns one and calls it after each delivery that met congestion. It
also runs the table's patience checks (`FlowControl.expire`) on the server's timer loop."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from .connection import Connection
from .driver import Driver
from .events import Reason
from .flow import NO_WAIT, FlowControl, stall_reason, unwaited_reason
from .state import State

if TYPE_CHECKING:  # `logging` imports `threading`: kept out of the pure modules
    import logging

# Calls a foreign thread may have handed to the loop and not seen applied (`run_from_thread`).
THREAD_WINDOW = 64


class Backpressure:
    __slots__ = (
        "_driver", "_flow", "_conns", "_call_later", "_logger", "_thread_permits", "thread_window",
        "close",
    )

    def __init__(
        self, driver: Driver, flow: FlowControl, conns: Mapping[str, Connection],
        call_later: Callable[..., Any], logger: logging.Logger,
    ) -> None:
        self._driver = driver
        self._flow = flow
        self._conns = conns
        self._call_later = call_later
        self._logger = logger
        self._thread_permits: Any = None
        # Calls from foreign threads in flight before the thread waits (0: never waits; the
        # Flask test client, whose loop runs only when the test uses the client, sets that).
        self.thread_window = THREAD_WINDOW
        # `close(conn, reason)`: the server's (to close a polling session that stopped polling).
        self.close: Callable[[Connection, str], None] | None = None
        flow.watch = self._watch

    def _watch(self, lane: object, delay: float) -> None:
        self._call_later(delay, self._look, lane)

    def outbox_over(self, conn: Connection) -> bool:
        """A polling outbox passed the high-water mark: congested, or closed (False) past the
        bound of a client nobody waits for."""
        flow = self._flow
        unsent = conn.session.outbox_bytes
        if flow.over_unwaited(conn, unsent):
            self._drop(conn, unwaited_reason(unsent, flow.unwaited_bytes, flow.patience))
            return False
        flow.congest(conn, self._driver.monotonic())
        return True

    def _close_slow(self, conn: Connection, reason: str) -> None:
        self._logger.warning("%s: %s; closing the session", conn.session.eio_sid, reason)
        if self.close is not None:
            self.close(conn, Reason.TRANSPORT_ERROR)

    def _look(self, lane: object) -> None:
        """The patience check of a congested lane, on the timer loop, while it is congested
        (`FlowControl.expire`). An idle lane already past the unwaited bound (its producer
        wrote it all before the patience ran out: a remote producer, an inline handler) is
        closed now, not at `stall_timeout`; so is a polling client idle for `stall_timeout`
        (a WebSocket's writer closes itself then)."""
        flow = self._flow
        now = self._driver.monotonic()
        sample = getattr(lane, "sample", None)
        if sample is not None and lane in flow.progress:
            sample(now)  # progress since the last look
        delay = flow.expire(lane, now)
        if delay is None:
            return
        if lane in flow.idle:
            if sample is not None:
                sample(now)  # a writer idle past the unwaited bound fails itself
            elif isinstance(lane, Connection):
                unsent = lane.session.outbox_bytes
                if flow.over_unwaited(lane, unsent):
                    self._drop(lane, unwaited_reason(unsent, flow.unwaited_bytes, flow.patience))
                    return
                if flow.quiet(lane, now) >= flow.stall_timeout:
                    self._drop(lane, stall_reason(flow.stall_timeout, unsent))
                    return
        self._call_later(delay, self._look, lane)

    def _drop(self, conn: Connection, reason: str) -> None:
        flow = self._flow
        flow.relieve(conn)
        flow.watched.discard(conn)
        self._close_slow(conn, reason)

    @staticmethod
    def lane(conn: Connection) -> object:
        """What flow control tracks for a connection: its socket writer, or the connection
        itself while it polls."""
        ws = conn.ws
        if ws is not None and conn.session.state is State.WEBSOCKET:
            return getattr(ws, "writer", None)
        return conn

    def writable(self, eio_sid: str) -> bool:
        """Whether a session takes a message now (Node's ``writable``, for volatile emits): a
        WebSocket whose writer is not congested, or a long-poll that waits for data."""
        conn = self._conns.get(eio_sid)
        if conn is None or not conn.session.is_open:
            return False
        ws = conn.ws
        if ws is not None:
            return getattr(ws, "writer", ws) not in self._flow.congested
        return conn.poll_waiter is not None and conn not in self._flow.congested

    def transport_stats(self) -> tuple[int, int, int]:
        """(sessions, of them polling, bytes queued in their outboxes and socket writers): the
        Admin UI's ``server_stats``."""
        polling = queued = 0
        conns = list(self._conns.values())
        for conn in conns:
            ws = conn.ws
            if ws is None:
                polling += 1
                queued += conn.session.outbox_bytes
            else:
                queued += int(getattr(ws, "buffered", 0) or 0)
        return len(conns), polling, queued

    def wait_for(self, eio_sids: Iterable[str]) -> None:
        """Some lane is congested: if one of these recipients' is, wait for it to be relieved
        (a producer that may wait), or tell the thread that asked for this delivery
        (`run_from_thread`). The hub, inline handlers and the message-queue applier never wait."""
        flow = self._flow
        holds = flow.holds
        conns = self._conns
        lanes = []
        for eio_sid in eio_sids:
            conn = conns.get(eio_sid)
            if conn is not None:
                lane = self.lane(conn)
                if holds(lane):
                    lanes.append(lane)
        if not lanes:
            return
        if flow.collect is not None:
            flow.collect.extend(lanes)
        elif self._driver.may_wait() and not NO_WAIT.get():
            done = self._driver.event()
            self._await_lanes(lanes, done.set)
            # Bounded: a lane is relieved when it drains or closes, and stops holding producers
            # when it took no byte for `patience` (`FlowControl.expire`). The bound is a
            # safety net.
            done.wait(flow.stall_timeout * 2 + 1)

    def _await_lanes(self, lanes: list[object], callback: Callable[[], None]) -> None:
        """Call `callback` once every lane in `lanes` is relieved (at once if none is congested)."""
        flow = self._flow
        left = [0]

        def one_done() -> None:
            left[0] -= 1
            if left[0] == 0:
                callback()

        left[0] = 1
        for lane in dict.fromkeys(lanes):
            left[0] += 1
            if not flow.notify(lane, one_done):
                left[0] -= 1
        one_done()

    def run_from_thread(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        """From a foreign OS thread: run `fn(*args)` on the loop, the thread held back while
        `THREAD_WINDOW` of its calls are not applied yet or their recipients are congested."""
        if not self.thread_window:
            self._driver.call_in_loop(self._run_for_thread, fn, args, _nothing)
            return
        permits = self._thread_permits
        if permits is None:
            permits = self._thread_permits = self._driver.thread_permits(self.thread_window)
        permits.acquire()
        self._driver.call_in_loop(self._run_for_thread, fn, args, permits.release)

    def _run_for_thread(self, fn: Callable[..., Any], args: tuple[Any, ...], release: Callable[[], Any]) -> None:
        flow = self._flow
        lanes: list[object] = []
        flow.collect = lanes
        try:
            fn(*args)
        except Exception:
            self._logger.exception("error in a call from another thread")
        finally:
            flow.collect = None
        if lanes:
            self._await_lanes(lanes, release)
        else:
            release()


def _nothing() -> None:
    pass
