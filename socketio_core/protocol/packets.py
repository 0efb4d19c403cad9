"""Socket.IO v5 packets: the packet types, the packet value object and the payload rules.

Spec: https://github.com/socketio/socket.io/blob/main/docs/socket.io-protocol/v5-current.md
("socket.io-protocol v5"). The rules here are shared by the JSON codec (:mod:`.codec`) and
the msgpack codec (:mod:`.msgpack_codec`): both decoders reject the same malformed packets
and both encoders refuse to produce them.

Decoded packets never carry the ``BINARY_EVENT`` / ``BINARY_ACK`` types: those are a detail
of the JSON wire format (the decoder re-assembles the attachments and reports ``EVENT`` /
``ACK`` with :class:`bytes` inside ``data``, as the JavaScript parser does). Encoders accept
either type and pick the wire type from the data.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Any

__all__ = [
    "DEFAULT_NAMESPACE",
    "MAX_ACK_ID",
    "RESERVED_EVENTS",
    "PacketType",
    "SocketPacket",
    "make_packet",
    "namespace_problem",
    "payload_problem",
]

DEFAULT_NAMESPACE = "/"

#: The largest ack id a JavaScript peer can represent exactly (``Number.MAX_SAFE_INTEGER``).
MAX_ACK_ID = 2**53 - 1

#: Event names a client may not emit. socket.io-parser: "These strings must not be used as
#: event names, as they have a special meaning" -- connect, connect_error, disconnect,
#: disconnecting, newListener, removeListener. The codecs do not reject them (a packet named
#: like this is well-formed); the server ignores such events (see CVE-2024-38355).
RESERVED_EVENTS: frozenset[str] = frozenset(
    {
        "connect",
        "connect_error",
        "disconnect",
        "disconnecting",
        "newListener",
        "removeListener",
    }
)


class PacketType(IntEnum):
    """The seven Socket.IO packet types ("Here is the list of available packet types")."""

    CONNECT = 0
    DISCONNECT = 1
    EVENT = 2
    ACK = 3
    CONNECT_ERROR = 4
    BINARY_EVENT = 5
    BINARY_ACK = 6


@dataclass(frozen=True, slots=True, init=False)
class SocketPacket:
    """One Socket.IO packet.

    ``data`` is the JSON-like payload (``None`` when the packet has none): for ``EVENT`` the
    list ``[event_name, *args]``, for ``ACK`` the list of returned values, for ``CONNECT`` the
    optional auth / handshake object, for ``CONNECT_ERROR`` an object or a string.
    ``id`` is the acknowledgement id, or ``None``.
    """

    type: PacketType
    namespace: str = DEFAULT_NAMESPACE
    data: Any = None
    id: int | None = None

    def __init__(
        self,
        type: PacketType,
        namespace: str = DEFAULT_NAMESPACE,
        data: Any = None,
        id: int | None = None,
    ) -> None:
        # Written by hand: the generated frozen __init__ goes through object.__setattr__ for
        # every field; the slot descriptors' setters are a third cheaper (one packet per emit).
        _set_type(self, type)
        _set_namespace(self, namespace)
        _set_data(self, data)
        _set_id(self, id)

    @classmethod
    def event(
        cls, name: str, *args: Any, namespace: str = DEFAULT_NAMESPACE, id: int | None = None
    ) -> SocketPacket:
        """An ``EVENT`` packet carrying ``[name, *args]``; ``id`` requests an acknowledgement."""
        return cls(PacketType.EVENT, namespace, [name, *args], id)

    @classmethod
    def ack(cls, id: int, *args: Any, namespace: str = DEFAULT_NAMESPACE) -> SocketPacket:
        """An ``ACK`` packet answering the event with ack id ``id`` with ``args``."""
        return cls(PacketType.ACK, namespace, list(args), id)

    @classmethod
    def connect(cls, namespace: str = DEFAULT_NAMESPACE, data: Any = None) -> SocketPacket:
        """A ``CONNECT`` packet (the client's request with its auth object, or the server's
        acceptance carrying ``{"sid": ...}``)."""
        return cls(PacketType.CONNECT, namespace, data)

    @classmethod
    def connect_error(cls, namespace: str = DEFAULT_NAMESPACE, data: Any = None) -> SocketPacket:
        """A ``CONNECT_ERROR`` packet; ``data`` is an object such as ``{"message": ...}`` or a
        string."""
        return cls(PacketType.CONNECT_ERROR, namespace, data)

    @classmethod
    def disconnect(cls, namespace: str = DEFAULT_NAMESPACE) -> SocketPacket:
        """A ``DISCONNECT`` packet (no payload)."""
        return cls(PacketType.DISCONNECT, namespace)

    @property
    def event_name(self) -> str | None:
        """The event name of an ``EVENT``/``BINARY_EVENT`` packet, else ``None``."""
        if self.type in _EVENT_TYPES and isinstance(self.data, (list, tuple)) and self.data:
            name = self.data[0]
            return name if isinstance(name, str) else None
        return None

    @property
    def args(self) -> list[Any]:
        """The arguments: ``data[1:]`` of an event, all of ``data`` of an ack, else ``[]``."""
        if not isinstance(self.data, (list, tuple)):
            return []
        if self.type in _EVENT_TYPES:
            return list(self.data[1:])
        if self.type in _ACK_TYPES:
            return list(self.data)
        return []


_EVENT = PacketType.EVENT  # module constants: enum member lookups are slow on hot paths
_ACK = PacketType.ACK
_EVENT_TYPES = frozenset({PacketType.EVENT, PacketType.BINARY_EVENT})
_ACK_TYPES = frozenset({PacketType.ACK, PacketType.BINARY_ACK})

_new_object = object.__new__
_set_type = vars(SocketPacket)["type"].__set__
_set_namespace = vars(SocketPacket)["namespace"].__set__
_set_data = vars(SocketPacket)["data"].__set__
_set_id = vars(SocketPacket)["id"].__set__


def make_packet(ptype: PacketType, namespace: str, data: Any, ack_id: int | None) -> SocketPacket:
    """Build a :class:`SocketPacket` from already validated fields, for the decoders.

    Equivalent to ``SocketPacket(ptype, namespace, data, ack_id)`` but skips the frozen
    dataclass ``__init__`` (which goes through ``object.__setattr__`` per field), about a
    third cheaper on the per-packet hot path.
    """
    packet: SocketPacket = _new_object(SocketPacket)
    _set_type(packet, ptype)
    _set_namespace(packet, namespace)
    _set_data(packet, data)
    _set_id(packet, ack_id)
    return packet


def namespace_problem(namespace: object) -> str | None:
    """Why ``namespace`` cannot be encoded with the default parser, or ``None`` if it can.

    Spec: "with the built-in parser, the namespace is delimited by a comma and there is no
    escape sequence, so a namespace encoded with this parser MUST NOT contain a comma."
    """
    if not isinstance(namespace, str):
        return f"namespace must be a str, not {type(namespace).__name__}"
    if not namespace.startswith("/"):
        return f"namespace must start with '/': {namespace!r}"
    if "," in namespace:
        return f"namespace must not contain ',': {namespace!r}"
    if not namespace.isascii() and any(0xD800 <= ord(c) <= 0xDFFF for c in namespace):
        return f"namespace must not contain lone surrogates: {namespace!r}"
    return None


def payload_problem(ptype: PacketType, data: Any, has_data: bool, ack_id: int | None) -> str | None:
    """Why ``data`` / ``ack_id`` are not a valid payload for a packet of type ``ptype``.

    Returns ``None`` when they are valid. ``has_data`` tells an absent payload from a present
    one (a JSON ``null`` payload is present, and valid for no packet type). Used by the
    decoders (the reason becomes a :class:`RemoteProtocolError`) and by the encoders (a
    :class:`LocalProtocolError`).
    """
    # The common shapes first, cheaply: a named event, an ack with its id.
    if data.__class__ is list and (
        (ptype is _EVENT and data and data[0].__class__ is str)
        or (ptype is _ACK and ack_id is not None)
    ):
        return None
    if ptype in _EVENT_TYPES:
        # Spec, EVENT: "The payload is mandatory and MUST be a non-empty array. If that's not
        # the case, then the receiver MUST close the connection."
        if not has_data:
            return f"{ptype.name} packet without payload"
        if not isinstance(data, (list, tuple)):
            return f"{ptype.name} payload must be an array, not {_json_type(data)}"
        if not data:
            return f"{ptype.name} payload must be a non-empty array"
        # CVE-2023-32695: the event name must be a string (not an object, number, ...).
        if not isinstance(data[0], str):
            return f"{ptype.name} name must be a string, not {_json_type(data[0])}"
        return None
    if ptype in _ACK_TYPES:
        # Spec, Acknowledgement: "The receiver MUST respond with an ACK packet with the same
        # event ID. The payload is mandatory and MUST be an array (possibly empty)."
        if ack_id is None:
            return f"{ptype.name} packet without an ack id"
        if not has_data:
            return f"{ptype.name} packet without payload"
        if not isinstance(data, (list, tuple)):
            return f"{ptype.name} payload must be an array, not {_json_type(data)}"
        return None
    # Spec: "optionally, an acknowledgment id" -- only events request one and only acks
    # answer one, so an id on any other packet type is meaningless.
    if ack_id is not None:
        return f"{ptype.name} packet must not carry an ack id"
    if ptype is PacketType.CONNECT:
        # Spec: "Client > { type: CONNECT, namespace: "/admin", data: { "token": "123" } }"
        # -- the payload is optional and, when present, an object (the auth payload).
        if has_data and not isinstance(data, dict):
            return f"CONNECT payload must be an object, not {_json_type(data)}"
        return None
    if ptype is PacketType.DISCONNECT:
        # Spec: "{ type: DISCONNECT, namespace: "/admin" }" is encoded "1/admin," -- no payload.
        if has_data:
            return f"DISCONNECT packet must not carry a payload, got {_json_type(data)}"
        return None
    # CONNECT_ERROR -- spec: "data: { message: "Not authorized" }"; python-socketio sends a
    # plain string ("Unable to connect"), which socket.io-parser also accepts.
    if not has_data:
        return "CONNECT_ERROR packet without payload"
    if not isinstance(data, (dict, str)):
        return f"CONNECT_ERROR payload must be an object or a string, not {_json_type(data)}"
    return None


def _json_type(value: object) -> str:
    """A JSON-flavoured name for the type of ``value``, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (list, tuple)):
        return "array"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "binary"
    return type(value).__name__
