"""`Connection`: the I/O side of one Engine.IO session (its pending poll, its WebSocket(s), its
environ). PURE: plain state, so that the pure modules handed connections (`backpressure`) may
name the type; the transports that fill it are in `engineio_core.transports`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .driver import Waiter
    from .session import EngineSession
    from .transports.websocket import WebSocket


class Connection:
    """The I/O side of one session: its pending poll, its WebSocket(s) and its environ."""

    __slots__ = ("session", "environ", "poll_waiter", "posting", "ws", "probe_ws", "__weakref__")

    def __init__(self, session: EngineSession, environ: dict[str, Any]) -> None:
        self.session = session
        self.environ = environ
        self.poll_waiter: Waiter | None = None
        # The transport messages are delivered to: a `WebSocket`, or the test client's sink.
        self.ws: WebSocket | Any | None = None
        self.probe_ws: WebSocket | None = None
        self.posting = False

    def wake_poll(self) -> None:
        """End the pending long-poll, if there is one (it then answers what is queued)."""
        waiter = self.poll_waiter
        if waiter is not None:
            waiter.set()
