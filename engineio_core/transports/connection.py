"""The I/O side of one session, and what a transport may ask of the server.

`Connection` is the per-session record the server's registry holds: the pure `EngineSession`
plus the I/O attached to it (a pending poll, the WebSocket, a candidate WebSocket). The
transports (`transports.polling`, `transports.websocket_serving`) never reach into
`EngineServer`: they talk to it through `TransportHost`, the small typed interface below.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Protocol

from ..config import EngineConfig
from ..connection import Connection as Connection  # re-exported: its old home
from ..drivers.base import Driver
from ..events import Event
from ..flow import FlowControl
from ..packets import EnginePacket

if TYPE_CHECKING:  # `logging` imports `threading`: kept out of the pure modules' imports
    import logging

    from .websocket import WebSocket

StartResponse = Callable[..., Any]


class TransportHost(Protocol):
    """What the transports need from the server (`EngineServer` implements it)."""

    config: EngineConfig
    logger: logging.Logger
    driver: Driver
    flow: FlowControl
    lock: Any  # guards a session's outbox between a delivering thread and a poll (threading)

    def open_session(
        self, environ: dict[str, Any], eio_sid: str = "", ws: WebSocket | None = None,
        on_open: Callable[[Connection], None] | None = None, protocol: int = 4, b64: bool = False,
    ) -> Connection | None:
        """Register a new session (over `ws`, or polling) and run the connect handler; None if
        it refused. `on_open` sees the connection before the handler runs. `protocol` is the
        Engine.IO revision (3 with ``allow_eio3``); `b64`: v3 polling wants base64 binary."""
        ...

    def at_capacity(self) -> bool:
        """True when `max_sessions` are open (a new session is answered 503)."""
        ...

    def generate_id(self) -> str: ...

    def handle_event(self, conn: Connection, event: Event) -> None:
        """Deliver what the session reported (a message to the handler, a close...)."""
        ...

    def close(self, conn: Connection, reason: str, send_close: bool = False) -> None:
        """Close a session (idempotent); the disconnect handler runs once."""
        ...

    def finish(self, conn: Connection) -> None:
        """Forget a session whose CLOSE went out, and end any pending poll."""
        ...

    def notify(self, event: str, conn: Connection) -> None:
        """Tell the application: ``opened`` (the session's OPEN packet is out, or answers the
        handshake request: what it sends from now on follows it) or ``upgrade`` (the session
        moved to its WebSocket)."""
        ...

    def schedule(self, conn: Connection) -> None:
        """The session's next deadline moved: put it on the timer loop."""
        ...

    def call_later(self, delay: float, fn: Callable[..., Any], *args: Any) -> int:
        """Run `fn(*args)` after `delay` seconds on the timer loop."""
        ...

    def polled(self, conn: Connection) -> None:
        """A connection's outbox was taken (flow control: relieved, healthy again)."""
        ...

    def log_packet(self, eio_sid: str, direction: str, packet: EnginePacket) -> None: ...

    def respond_error(
        self, environ: dict[str, Any], start_response: StartResponse, status: int, message: str
    ) -> Iterable[bytes]:
        """An HTTP error answer (JSON-quoted message) to a request that is not served."""
        ...
