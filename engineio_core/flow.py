"""Flow control bookkeeping shared by a server's connections (PURE).

Theory of operation. Every connection has one *lane* of unsent bytes: a WebSocket's writer (the
driver's `SocketWriter`) or a polling session's outbox. A lane whose unsent bytes pass
`high_water` is *congested*: it is entered in `FlowControl.congested` until it drains to
`low_water` or below, or is closed. A producer that may wait (a background task, a greenlet, a
plain thread; never the hub, an inline handler or the message-queue applier) and that just
wrote to a congested lane waits for it to be *relieved* (`notify`). A lane is relieved when it
drains, when it is closed, or, for a WebSocket, when its socket has taken no byte for
`stall_timeout` seconds (the writer is then failed as a slow consumer, which closes it).
So a broadcast waits on its slowest *healthy* recipient only, and a stalled one costs at most
`high_water` plus one message while producers wait, `max_bytes` (the hard ceiling) otherwise.

Idle connections cost nothing here: the table holds congested lanes only.
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
        "high_water", "low_water", "max_bytes", "stall_timeout", "congested", "collect", "schedule",
        "unhealthy",
    )

    def __init__(self, high_water: int, low_water: int, max_bytes: int, stall_timeout: float) -> None:
        self.max_bytes = max_bytes or UNBOUNDED
        self.high_water = min(high_water or UNBOUNDED, self.max_bytes)
        self.low_water = min(low_water, self.high_water)
        self.stall_timeout = stall_timeout
        # lane -> callbacks to run once it is relieved.
        self.congested: dict[object, list[Callable[[], None]]] = {}
        # While not None, the lanes a non-waiting producer found congested (see `EngineServer`).
        self.collect: list[object] | None = None
        # Polling lanes whose client let a producer wait `stall_timeout` without polling: not
        # waited on again until their next poll (they are closed at the ping timeout or bound).
        self.unhealthy: set[object] = set()
        # `schedule(delay, fn, *args)`: the server's one timer loop (set by the server).
        self.schedule: Callable[..., Any] | None = None

    def congest(self, lane: object) -> None:
        """`lane` passed the high-water mark."""
        if lane not in self.congested:
            self.congested[lane] = []

    def relieve(self, lane: object) -> None:
        """`lane` drained below the low-water mark, or was closed: wake who waits on it."""
        waiters = self.congested.pop(lane, None)
        if waiters:
            for callback in waiters:
                callback()

    def notify(self, lane: object, callback: Callable[[], None]) -> bool:
        """Run `callback` once `lane` is relieved. False (and no call) if it is not congested."""
        waiters = self.congested.get(lane)
        if waiters is None:
            return False
        waiters.append(callback)
        return True


def stall_reason(seconds: float, unsent: int) -> str:
    """The logged reason of a connection closed because its socket stopped taking bytes."""
    return f"slow consumer: no progress for {seconds:g} s, {unsent} bytes unsent"


def ceiling_reason(unsent: int, bound: int) -> str:
    """The logged reason of a connection closed at the hard ceiling (`max_outbox_bytes`)."""
    return f"slow consumer: {unsent} bytes unsent (bound {bound})"


# Set in a task that must never wait for a congested client (the message-queue applier: it
# serves every client of its node, so one slow client must not hold the others back).
NO_WAIT: ContextVar[bool] = ContextVar("engineio_core_flow_no_wait", default=False)
