"""The engine's operator-facing log lines (PURE: it is handed its logger).

One line per packet sent or received, as the reference prints them (callers check that INFO is
enabled first, so a disabled log costs one test), and notices about a client that must be seen
once at the default level (ERROR) without flooding it (INFO afterwards)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .packets import EnginePacket, describe

if TYPE_CHECKING:
    import logging


class PacketLog:
    """The packet lines and the once-only client notices of one server."""

    __slots__ = ("logger", "_seen")

    def __init__(self, logger: logging.Logger) -> None:
        self.logger = logger
        self._seen: set[str] = set()

    def packet(self, eio_sid: str, direction: str, packet: EnginePacket) -> None:
        """``<eio_sid>: Sending|Received packet <TYPE> data <data, cut>``."""
        self.logger.info("%s: %s packet %s", eio_sid, direction, describe(packet))

    def once(self, key: str, message: str) -> None:
        """At ERROR the first time (seen at the default level), at INFO afterwards. Marked as
        a notice about a client, not a fault of the server, so monitoring can tell them apart."""
        if key in self._seen:
            self.logger.info("%s", message)
            return
        self._seen.add(key)
        self.logger.error("%s (further occurrences will be logged at INFO)", message,
                          extra={"client_notice": True})
