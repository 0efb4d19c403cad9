"""Engine.IO v4 packets (PURE).

Spec (engine.io-protocol v4): "An encoded packet can be UTF-8 string or binary data. The packet
encoding format for a string is: <packet type>[<data>]"; types are
open=0 close=1 ping=2 pong=3 message=4 upgrade=5 noop=6. Binary payloads travel as raw WebSocket
binary frames, or base64-encoded with a leading ``b`` inside an HTTP long-polling payload.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from enum import IntEnum

from .errors import RemoteProtocolError


class PacketType(IntEnum):
    OPEN = 0
    CLOSE = 1
    PING = 2
    PONG = 3
    MESSAGE = 4
    UPGRADE = 5
    NOOP = 6


_TYPE_BY_CHAR = {str(t.value): t for t in PacketType}
_CHAR_BY_TYPE = {t: str(t.value) for t in PacketType}


@dataclass(frozen=True, slots=True, init=False)
class EnginePacket:
    """One Engine.IO packet. `data` is text (`str`) or binary (`bytes`, MESSAGE only)."""

    type: PacketType
    data: str | bytes = ""

    def __init__(self, type: PacketType, data: str | bytes = "") -> None:
        # By hand: a frozen dataclass's generated __init__ goes through object.__setattr__
        # per field; the slot setters are about three times cheaper (two packets per message).
        _set_type(self, type)
        _set_data(self, data)

    @property
    def binary(self) -> bool:
        return isinstance(self.data, bytes)

    def encode_text(self) -> str:
        """The text form used on WebSocket text frames (binary packets: see `encode_polling`)."""
        if isinstance(self.data, bytes):
            raise ValueError("binary packets have no text form; use encode_polling()")
        return _CHAR_BY_TYPE[self.type] + self.data

    def encode_polling(self) -> str:
        """The form inside an HTTP long-polling payload: binary is ``b`` + base64."""
        if isinstance(self.data, bytes):
            return "b" + base64.b64encode(self.data).decode("ascii")
        return _CHAR_BY_TYPE[self.type] + self.data


def describe(packet: EnginePacket, limit: int = 120) -> str:
    """``<TYPE> data <data>`` for the packet logs, the data cut after `limit` characters."""
    data = packet.data
    if isinstance(data, bytes):
        text = f"<binary, {len(data)} bytes>"
    elif len(data) > limit:
        text = f"{data[:limit]}... ({len(data)} characters)"
    else:
        text = data
    return f"{packet.type.name} data {text}"


_set_type = vars(EnginePacket)["type"].__set__
_set_data = vars(EnginePacket)["data"].__set__


def decode_text(text: str) -> EnginePacket:
    """Decode one text packet (a WebSocket text frame or one polling payload segment).

    A segment starting with ``b`` is a base64 binary MESSAGE (v4 polling payload rule).
    """
    if not text:
        raise RemoteProtocolError("empty packet")
    head = text[0]
    if head == "b":
        try:
            data = base64.b64decode(text[1:], validate=True)
        except (binascii.Error, ValueError):
            raise RemoteProtocolError("invalid base64 in binary packet") from None
        return EnginePacket(PacketType.MESSAGE, data)
    ptype = _TYPE_BY_CHAR.get(head)
    if ptype is None:
        raise RemoteProtocolError(f"unknown packet type {head!r}")
    return EnginePacket(ptype, text[1:])


def decode_binary(data: bytes) -> EnginePacket:
    """A WebSocket binary frame is a binary MESSAGE as it stands (v4: no type byte)."""
    return EnginePacket(PacketType.MESSAGE, bytes(data))


PING = EnginePacket(PacketType.PING)
PONG = EnginePacket(PacketType.PONG)
NOOP = EnginePacket(PacketType.NOOP)
CLOSE = EnginePacket(PacketType.CLOSE)
UPGRADE = EnginePacket(PacketType.UPGRADE)
PROBE_PONG = EnginePacket(PacketType.PONG, "probe")
