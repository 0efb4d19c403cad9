"""Events the pure session reports to its driver (PURE). Frozen and slotted."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True, init=False)
class MessageReceived:
    data: str | bytes

    def __init__(self, data: str | bytes) -> None:
        _set_message_data(self, data)  # the slot setter: one event per message, kept cheap


_set_message_data = vars(MessageReceived)["data"].__set__


@dataclass(frozen=True, slots=True)
class ProbeReceived:
    """``2probe`` on the candidate WebSocket: answer ``3probe`` there, NOOP the pending poll."""


@dataclass(frozen=True, slots=True)
class Upgraded:
    """``5`` on the candidate WebSocket: it is now the session's transport."""


@dataclass(frozen=True, slots=True)
class ProbeFailed:
    reason: str


@dataclass(frozen=True, slots=True)
class SendPing:
    """The heartbeat is due: send a PING on the current transport."""


@dataclass(frozen=True, slots=True)
class SendPong:
    """Engine.IO v3: the client pinged; answer a PONG on the current transport."""


@dataclass(frozen=True, slots=True)
class Closed:
    """The session is over; `reason` is one of the Engine.IO close reasons."""

    reason: str


Event = MessageReceived | ProbeReceived | Upgraded | ProbeFailed | SendPing | SendPong | Closed


class Reason:
    """Close reasons, as the reference names them (`SocketIO.reason`)."""

    SERVER_DISCONNECT = "server disconnect"
    CLIENT_DISCONNECT = "client disconnect"
    PING_TIMEOUT = "ping timeout"
    TRANSPORT_CLOSE = "transport close"
    TRANSPORT_ERROR = "transport error"
