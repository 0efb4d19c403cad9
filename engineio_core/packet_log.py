"""The engine's operator-facing log lines (PURE: it is handed its logger).

One line per packet sent or received, as the reference prints them (callers check that INFO is
enabled first, so a disabled log costs one test), and notices about a client that must be seen
once at the default level (ERROR) without flooding it (INFO afterwards)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from .packets import EnginePacket, PacketType, describe

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
        self.logger.info("%s: %s packet %s", eio_sid, direction, describe(redacted(packet)))

    def once(self, key: str, message: str) -> None:
        """At ERROR the first time (seen at the default level), at INFO afterwards. Marked as
        a notice about a client, not a fault of the server, so monitoring can tell them apart."""
        if key in self._seen:
            self.logger.info("%s", message)
            return
        self._seen.add(key)
        self.logger.error("%s (further occurrences will be logged at INFO)", message,
                          extra={"client_notice": True})


_SHOWN_KEYS = frozenset({"sid", "offset"})
_REDACTED = "[redacted]"


def redacted(packet: EnginePacket) -> EnginePacket:
    """The packet as the log shows it (issue 21 #4): a Socket.IO CONNECT (a MESSAGE whose data
    starts with ``0``) carries secrets both ways: the client's auth payload (an Admin UI
    password, a token, a recovery ``pid``) and the server's ack (``{"sid", "pid"}``). Their
    values are replaced with ``[redacted]``, keys kept, ``sid`` and ``offset`` shown."""
    data = packet.data
    if packet.type is not PacketType.MESSAGE or not isinstance(data, str) or not data.startswith("0"):
        return packet
    head, payload = _split_connect(data)
    if not payload:
        return packet
    try:
        value = json.loads(payload)
    except ValueError:
        return EnginePacket(packet.type, f"{head}<{len(payload)} characters redacted>")
    return EnginePacket(packet.type, head + json.dumps(_redact(value), separators=(",", ":")))


def _split_connect(data: str) -> tuple[str, str]:
    """``0/nsp,`` (or ``0``) and the JSON after it."""
    if data.startswith("0/"):
        comma = data.find(",")
        if comma < 0:
            return data, ""
        return data[: comma + 1], data[comma + 1:]
    return "0", data[1:]


def _redact(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): (v if k in _SHOWN_KEYS and isinstance(v, str) else _REDACTED) for k, v in value.items()}
    return _REDACTED
