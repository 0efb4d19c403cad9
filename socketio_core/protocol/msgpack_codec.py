"""The msgpack Socket.IO codec, wire-compatible with the JavaScript ``socket.io-msgpack-parser``.

Each packet is one binary Engine.IO message: a msgpack map ``{"type", "data", "nsp"}`` plus
``"id"`` when there is an acknowledgement id. Binary values travel natively inside ``data``
(msgpack ``bin``), so this codec never uses ``BINARY_EVENT`` / ``BINARY_ACK`` -- and neither
does the JavaScript parser, whose decoder rejects types above ``CONNECT_ERROR``.

Peer quirks handled on decode:

* the JavaScript client encodes its whole packet object, so maps may carry extra keys (it
  sends ``"options": {"compress": true}``); unknown keys are ignored;
* ``"data": nil`` (python-socketio always writes ``data``) is the same as no ``data``;
* notepack.io (the msgpack library of the JavaScript parser) writes ``undefined`` as the
  extension ``(0, b"\\x00")`` and ``ArrayBuffer`` / typed arrays (what browsers send) as
  extension type 0 holding the bytes. The default extension hook turns the first into
  ``None`` and the second into ``bytes``. msgpack-python cannot tell a ``fixext 1`` from an
  ``ext 8`` of length 1, so a one-byte ``ArrayBuffer`` holding ``0x00`` also decodes as
  ``None``. Other extension types decode as :class:`msgpack.ExtType`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NoReturn

import msgpack

from .errors import LocalProtocolError, RemoteProtocolError
from .packets import MAX_ACK_ID, PacketType, SocketPacket, make_packet, payload_problem

__all__ = ["MsgPackCodec", "MsgPackDecoder"]

_NOTEPACK_EXT = 0  # notepack.io: ArrayBuffer / typed array, and (as fixext 1) undefined
_NOTEPACK_UNDEFINED = b"\x00"
# The type written on the wire: BINARY_EVENT / BINARY_ACK travel as EVENT / ACK.
_WIRE_TYPE: dict[PacketType, int] = {t: t.value for t in PacketType}
_WIRE_TYPE[PacketType.BINARY_EVENT] = PacketType.EVENT.value
_WIRE_TYPE[PacketType.BINARY_ACK] = PacketType.ACK.value
_PACKET_TYPES: dict[int, PacketType] = {
    t.value: t for t in PacketType if t not in (PacketType.BINARY_EVENT, PacketType.BINARY_ACK)
}


def notepack_ext_hook(code: int, data: bytes) -> Any:
    """The default extension hook: notepack.io's type-0 extensions, else ``msgpack.ExtType``."""
    if code == _NOTEPACK_EXT:
        return None if data == _NOTEPACK_UNDEFINED else bytes(data)
    return msgpack.ExtType(code, data)


def _raise_header_problem(obj: dict[Any, Any], raw_type: Any, ptype: PacketType | None) -> NoReturn:
    """Raise the precise error for a packet map with a bad "type" or "nsp"."""
    # strict_map_key lets str and bin keys through; only str keys name the fields.
    for key in obj:
        if type(key) is not str:
            raise RemoteProtocolError(f"packet map keys must be strings, got {key!r:.40}")
    if ptype is None:
        if type(raw_type) is int and raw_type in (PacketType.BINARY_EVENT, PacketType.BINARY_ACK):
            raise RemoteProtocolError(
                f"packet type {raw_type} ({PacketType(raw_type).name}) is not used by the "
                "msgpack parser"
            )
        raise RemoteProtocolError(f"invalid packet type {raw_type!r:.40}")
    if "nsp" not in obj:
        raise RemoteProtocolError('packet without "nsp"')
    raise RemoteProtocolError(f'"nsp" must be a string, not {type(obj["nsp"]).__name__}')


class MsgPackCodec:
    """The msgpack parser (same interface as :class:`~socketio_core.protocol.codec.JSONCodec`).

    :param default: passed to ``msgpack.packb`` to convert otherwise unsupported objects.
    :param ext_hook: passed to ``msgpack.unpackb``; defaults to :func:`notepack_ext_hook`.
    :param max_ack_id: the largest ack id accepted or produced (default ``2**53 - 1``).

    Encoding errors raise :class:`LocalProtocolError` (a :class:`TypeError`).
    """

    __slots__ = ("default", "ext_hook", "max_ack_id")

    default: Callable[[Any], Any] | None
    ext_hook: Callable[[int, bytes], Any]
    max_ack_id: int

    def __init__(
        self,
        default: Callable[[Any], Any] | None = None,
        ext_hook: Callable[[int, bytes], Any] | None = None,
        max_ack_id: int = MAX_ACK_ID,
    ) -> None:
        if type(max_ack_id) is not int or max_ack_id < 0:
            raise ValueError(f"max_ack_id must be a non-negative int, not {max_ack_id!r}")
        self.default = default
        self.ext_hook = ext_hook if ext_hook is not None else notepack_ext_hook
        self.max_ack_id = max_ack_id

    def decoder(self) -> MsgPackDecoder:
        """A new decoder for one connection (msgpack packets are never split)."""
        return MsgPackDecoder(self)

    def encode(self, packet: SocketPacket) -> list[bytes]:
        """Encode ``packet`` as one binary message: ``[msgpack_bytes]``.

        ``BINARY_EVENT`` / ``BINARY_ACK`` are written as ``EVENT`` / ``ACK``. Raises
        :class:`LocalProtocolError` for data msgpack cannot serialise, a payload of the wrong
        shape for the packet type, a bad namespace or ack id.
        """
        ptype = packet.type
        if ptype.__class__ is not PacketType:
            try:
                ptype = PacketType(ptype)
            except (ValueError, TypeError):
                raise LocalProtocolError(f"unknown packet type {ptype!r}") from None
        namespace = packet.namespace
        if namespace != "/" and (not isinstance(namespace, str) or not namespace.startswith("/")):
            raise LocalProtocolError(
                f"namespace must be a str starting with '/', not {namespace!r}"
            )
        ack_id = packet.id
        if ack_id is not None and (type(ack_id) is not int or not 0 <= ack_id <= self.max_ack_id):
            raise LocalProtocolError(
                f"ack id must be an int in [0, {self.max_ack_id}], not {ack_id!r:.40}"
            )
        data = packet.data
        problem = payload_problem(ptype, data, data is not None, ack_id)
        if problem is not None:
            raise LocalProtocolError(problem)
        obj: dict[str, Any] = {"type": _WIRE_TYPE[ptype]}
        if data is not None:
            # No "data": nil for an absent payload: the JavaScript parser accepts only a
            # missing data member for DISCONNECT ("decoded.data === undefined").
            obj["data"] = data
        obj["nsp"] = namespace
        if ack_id is not None:
            obj["id"] = ack_id
        try:
            # msgpack >= 1.0 packs bytes as bin (use_bin_type=True) by default; keyword
            # arguments cost a few hundred ns per call, so pass only what differs.
            default = self.default
            if default is None:
                encoded: bytes = msgpack.packb(obj)
            else:
                encoded = msgpack.packb(obj, default=default)
        except Exception as exc:  # translate once, at the seam
            raise LocalProtocolError(
                f"packet data is not msgpack serialisable: {str(exc):.200}"
            ) from exc
        return [encoded]


class MsgPackDecoder:
    """Decoder of :class:`MsgPackCodec` messages; each message is a whole packet."""

    __slots__ = ("_codec",)

    def __init__(self, codec: MsgPackCodec) -> None:
        self._codec = codec

    @property
    def awaiting_attachments(self) -> int:
        """Always 0: msgpack packets carry their binary data inline."""
        return 0

    def reset(self) -> None:
        """Nothing to drop: this decoder keeps no state between messages."""

    def feed(self, message: str | bytes) -> SocketPacket | None:
        """Decode one binary message into a packet (never returns ``None``).

        Raises :class:`RemoteProtocolError` for anything that is not a valid packet, or
        :class:`LocalProtocolError` if ``message`` is neither text nor bytes.
        """
        if message.__class__ is not bytes:
            if isinstance(message, str):
                raise RemoteProtocolError(
                    "unexpected text message: the msgpack parser sends binary only"
                )
            if not isinstance(message, (bytes, bytearray, memoryview)):
                raise LocalProtocolError(f"feed() takes str or bytes, not {type(message).__name__}")
        codec = self._codec
        try:
            # unpackb bounds every str/bin/array/map/ext length by the message length.
            obj = msgpack.unpackb(
                message, raw=False, strict_map_key=True, use_list=True, ext_hook=codec.ext_hook
            )
        except msgpack.StackError:
            raise RemoteProtocolError("invalid msgpack: nested too deeply") from None
        except RecursionError:
            raise RemoteProtocolError("invalid msgpack: nested too deeply") from None
        except Exception as exc:  # msgpack, UTF-8 or ext_hook errors: translate at the seam
            reason = str(exc) or type(exc).__name__
            raise RemoteProtocolError(f"invalid msgpack: {reason:.120}") from None
        if type(obj) is not dict:
            raise RemoteProtocolError(f"packet must be a msgpack map, not {type(obj).__name__}")

        raw_type = obj.get("type")
        ptype = _PACKET_TYPES.get(raw_type) if raw_type.__class__ is int else None
        namespace = obj.get("nsp")
        if ptype is None or type(namespace) is not str:
            _raise_header_problem(obj, raw_type, ptype)
        if namespace != "/":
            if not namespace.startswith("/"):
                raise RemoteProtocolError(f"namespace must start with '/': {namespace!r:.40}")
            query = namespace.find("?")
            if query >= 0:
                namespace = namespace[:query]

        ack_id = obj.get("id")
        if ack_id is not None and (type(ack_id) is not int or not 0 <= ack_id <= codec.max_ack_id):
            raise RemoteProtocolError(
                f"ack id must be an integer in [0, {codec.max_ack_id}], got {ack_id!r:.40}"
            )
        data = obj.get("data")
        problem = payload_problem(ptype, data, data is not None, ack_id)
        if problem is not None:
            raise RemoteProtocolError(problem)
        return make_packet(ptype, namespace, data, ack_id)
