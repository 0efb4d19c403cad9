"""Flow control bookkeeping shared by a server's connections (PURE).

Theory of operation. Every connection has one *lane* of unsent bytes: a WebSocket's writer (the
driver's `SocketWriter`) or a polling session's outbox. A lane whose unsent bytes pass
`high_water` is *congested*: it is entered in `FlowControl.congested` until it drains to
`low_water` or below, or is closed. A producer that may wait (a background task, a greenlet, a
plain thread; never the hub, an inline handler or the message-queue applier) and that just
wrote to a congested lane waits for it to be *relieved* (`notify`).

Only recipients that drain hold producers back. While a lane is congested the table keeps
when it last took a byte (`progressed`: the socket accepted bytes, or the poller polled). A
lane that took no byte for `patience` seconds (a fraction of a second) becomes *idle*
(`expire`): whoever waits on it is released at once, and no producer waits on it again until
it takes a byte (it then rejoins the waited set) or drains. An idle lane keeps its outbox, but
only up to `unwaited_bytes` unsent (`over_unwaited`: then it is closed as a slow consumer), and
at most `stall_timeout` seconds without progress. So a broadcast waits for its slowest
*draining* recipient: a member that stopped reading costs its room at most `patience` once, and
the server at most `unwaited_bytes` (plus one message) of memory for it.

Everything here takes `now` from the caller; the drivers and `Backpressure` feed the table
(`congest`, `progressed`, `relieve`) and run `expire` on the server's timer loop through the
`watch` hook. Idle connections cost nothing here: the table holds congested lanes only.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

# A bound that no buffer reaches (used when a limit is switched off with 0).
UNBOUNDED = 1 << 62


class FlowControl:
    """The flow-control settings of one server and its table of congested lanes."""

    __slots__ = (
        "high_water", "low_water", "max_bytes", "stall_timeout", "patience", "unwaited_bytes",
        "congested", "progress", "idle", "watched", "collect", "schedule", "watch",
    )

    def __init__(
        self, high_water: int, low_water: int, max_bytes: int, stall_timeout: float,
        patience: float = 0.5, unwaited_bytes: int = 512 * 1024,
    ) -> None:
        self.max_bytes = max_bytes or UNBOUNDED
        self.high_water = min(high_water or UNBOUNDED, self.max_bytes)
        self.low_water = min(low_water, self.high_water)
        self.stall_timeout = stall_timeout
        self.patience = min(patience, stall_timeout)
        # An idle lane may hold this much unsent (never less than the high-water mark, where
        # it became congested, nor more than the hard ceiling).
        self.unwaited_bytes = min(max(unwaited_bytes or UNBOUNDED, self.high_water), self.max_bytes)
        # lane -> callbacks to run once it is relieved (or goes idle).
        self.congested: dict[object, list[Callable[[], None]]] = {}
        # congested lane -> when it last took a byte (or became congested).
        self.progress: dict[object, float] = {}
        # Congested lanes that took no byte for `patience`: nobody waits on them.
        self.idle: set[object] = set()
        # Lanes with a patience check pending (one per lane, however often it congests).
        self.watched: set[object] = set()
        # While not None, the lanes a non-waiting producer found congested (see `EngineServer`).
        self.collect: list[object] | None = None
        # `schedule(delay, fn, *args)`: the server's one timer loop (set by the server).
        self.schedule: Callable[..., Any] | None = None
        # `watch(lane, delay)`: run `expire(lane, now)` in `delay` seconds (set by the server).
        self.watch: Callable[[object, float], None] | None = None

    def congest(self, lane: object, now: float) -> None:
        """`lane` passed the high-water mark (at `now`)."""
        if lane not in self.congested:
            self.congested[lane] = []
            self.progress[lane] = now
            if self.watch is not None and lane not in self.watched:
                self.watched.add(lane)
                self.watch(lane, self.patience)

    def progressed(self, lane: object, now: float) -> None:
        """`lane` took bytes at `now`: an idle lane rejoins the waited set."""
        if lane in self.progress:
            self.progress[lane] = now
            if self.idle and lane in self.idle:
                self.idle.discard(lane)

    def holds(self, lane: object) -> bool:
        """Whether a producer that wrote to `lane` waits for it: congested and draining."""
        return lane in self.congested and lane not in self.idle

    def relieve(self, lane: object) -> None:
        """`lane` drained below the low-water mark, or was closed: wake who waits on it."""
        waiters = self.congested.pop(lane, None)
        self.progress.pop(lane, None)
        if self.idle:
            self.idle.discard(lane)
        if waiters:
            for callback in waiters:
                callback()

    def expire(self, lane: object, now: float) -> float | None:
        """The patience check of a congested lane: one that took no byte for `patience` goes
        idle (its waiters are released). Returns the delay to the next check, None once the
        lane is no longer congested (the checks of that lane end)."""
        since = self.progress.get(lane)
        if since is None:
            self.watched.discard(lane)
            return None
        quiet = now - since
        if quiet < self.patience:
            return self.patience - quiet
        if lane not in self.idle:
            self.idle.add(lane)
            waiters = self.congested[lane]
            if waiters:
                self.congested[lane] = []
                for callback in waiters:
                    callback()
        return self.patience

    def quiet(self, lane: object, now: float) -> float:
        """Seconds since a congested lane last took a byte (0 if it is not congested)."""
        since = self.progress.get(lane)
        return 0.0 if since is None else now - since

    def over_unwaited(self, lane: object, unsent: int) -> bool:
        """An idle lane with more than `unwaited_bytes` unsent: to be closed."""
        return unsent > self.unwaited_bytes and lane in self.idle

    def notify(self, lane: object, callback: Callable[[], None]) -> bool:
        """Run `callback` once `lane` is relieved or goes idle. False (and no call) if it does
        not hold producers (not congested, or idle)."""
        waiters = self.congested.get(lane)
        if waiters is None or lane in self.idle:
            return False
        waiters.append(callback)
        return True


def stall_reason(seconds: float, unsent: int) -> str:
    """The logged reason of a connection closed because its socket stopped taking bytes."""
    return f"slow consumer: no progress for {seconds:g} s, {unsent} bytes unsent"


def unwaited_reason(unsent: int, bound: int, patience: float) -> str:
    """The logged reason of a connection closed because it stopped taking bytes and its unsent
    bytes passed the bound of recipients nobody waits for (`max_unwaited_bytes`)."""
    return f"slow consumer: no progress for {patience:g} s, {unsent} bytes unsent (unwaited bound {bound})"


def ceiling_reason(unsent: int, bound: int) -> str:
    """The logged reason of a connection closed at the hard ceiling (`max_outbox_bytes`)."""
    return f"slow consumer: {unsent} bytes unsent (bound {bound})"


# Set in a task that must never wait for a congested client (the message-queue applier: it
# serves every client of its node, so one slow client must not hold the others back).
NO_WAIT: ContextVar[bool] = ContextVar("engineio_core_flow_no_wait", default=False)
