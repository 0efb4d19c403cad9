"""How the broker listeners wait before reconnecting: 0.1 s, doubling to 5 s at most, and back
to 0.1 s once a connection works (the Redis and RabbitMQ listeners, the Node channel listener,
the recovery stream reader: one policy)."""

from __future__ import annotations

import time

BACKOFF_START = 0.1
BACKOFF_MAX = 5.0


class Backoff:
    """The delay before the next reconnection attempt (`delay`, for the log line)."""

    __slots__ = ("delay",)

    def __init__(self) -> None:
        self.delay = BACKOFF_START

    def reset(self) -> None:
        """A connection worked: the next failure waits the shortest delay again."""
        self.delay = BACKOFF_START

    def sleep(self) -> None:
        """Wait the current delay (the caller runs in a thread or greenlet of its own), then
        double it for the next failure."""
        time.sleep(self.delay)
        self.delay = min(self.delay * 2, BACKOFF_MAX)
