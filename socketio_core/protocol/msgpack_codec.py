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
from .packets import (  # the slot setters make_packet uses
    DEFAULT_NAMESPACE,
    MAX_ACK_ID,
    PacketType,
    SocketPacket,
    _new_object,
    _set_data,
    _set_id,
    _set_namespace,
    _set_type,
    make_packet,
    payload_problem,
)

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
_EVENT = PacketType.EVENT
_ACK = PacketType.ACK

# The bytes msgpack writes for the constant parts of the common packets (an EVENT or ACK of
# the main namespace): the head up to the "data" value and the tail after it.
_FRAME_HEADS: dict[tuple[PacketType, bool], bytes] = {
    (ptype, with_id): bytes((0x84 if with_id else 0x83,))
    + b"\xa4type"
    + bytes((ptype.value,))
    + b"\xa4data"
    for ptype in (_EVENT, _ACK)
    for with_id in (False, True)
}
_EVENT_HEAD = _FRAME_HEADS[_EVENT, False]
_EVENT_ID_HEAD = _FRAME_HEADS[_EVENT, True]
_ACK_ID_HEAD = _FRAME_HEADS[_ACK, True]
_HEAD_SIZE = len(_EVENT_HEAD)
_ROOT_TAIL = b"\xa3nsp\xa1/"
_ROOT_ID_TAIL = _ROOT_TAIL + b"\xa2id"
#: What the decoder's fast path accepts: head -> (type, whether an "id" follows "nsp").
_FAST_HEADS: dict[bytes, tuple[PacketType, bool]] = {
    head: key for key, head in _FRAME_HEADS.items() if key != (_ACK, False)
}
_FIXINTS = [bytes((value,)) for value in range(0x80)]
_UINT_SIZES = {0xCC: 1, 0xCD: 2, 0xCE: 4, 0xCF: 8}  # uint 8/16/32/64: bytes after the marker
# The longest id tail: "nsp" "/" "id" and a uint 64.
_MAX_ID_TAIL = len(_ROOT_ID_TAIL) + 9


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

    :param default: passed to ``msgpack.Packer`` to convert otherwise unsupported objects.
    :param ext_hook: passed to ``msgpack.unpackb``; defaults to :func:`notepack_ext_hook`.
    :param max_ack_id: the largest ack id accepted or produced (default ``2**53 - 1``).

    Encoding errors raise :class:`LocalProtocolError` (a :class:`TypeError`).
    """

    __slots__ = ("_default", "ext_hook", "max_ack_id", "_packers")

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
        self._default = default
        self.ext_hook = ext_hook if ext_hook is not None else notepack_ext_hook
        self.max_ack_id = max_ack_id
        # Reused Packers (cheaper than packb's new one per call). One is taken out of the list
        # for each call, so threads and greenlets never share one (list.pop is atomic).
        self._packers: list[msgpack.Packer] = [msgpack.Packer(default=default)]

    @property
    def default(self) -> Callable[[Any], Any] | None:
        """The hook that converts objects msgpack cannot serialise (see ``msgpack.Packer``)."""
        return self._default

    @default.setter
    def default(self, value: Callable[[Any], Any] | None) -> None:
        self._default = value
        self._packers = [msgpack.Packer(default=value)]

    def decoder(self) -> MsgPackDecoder:
        """A new decoder for one connection (msgpack packets are never split)."""
        return MsgPackDecoder(self)

    def encode(self, packet: SocketPacket) -> list[bytes]:
        """Encode ``packet`` as one binary message: ``[msgpack_bytes]``.

        ``BINARY_EVENT`` / ``BINARY_ACK`` are written as ``EVENT`` / ``ACK``. Raises
        :class:`LocalProtocolError` for data msgpack cannot serialise, a payload of the wrong
        shape for the packet type, a bad namespace or ack id.

        The message is the map ``{"type", "data", "nsp", "id"}`` in that order, written as a
        precomputed head (map header, ``"type"``, ``"data"`` key), the packed ``data`` (the
        only part msgpack is asked to pack) and a tail (``"nsp"``, ``"id"``): the same bytes as
        ``msgpack.packb`` of the map, without building the map or packing its constant keys.
        """
        ptype = packet.type
        data = packet.data
        ack_id = packet.id
        # The common packets first: a named event, an event with an ack id, an ack.
        if packet.namespace == DEFAULT_NAMESPACE and data.__class__ is list:
            if ack_id is None:
                if ptype is _EVENT and data and data[0].__class__ is str:
                    head = _EVENT_HEAD
                    tail = _ROOT_TAIL
                else:
                    head, tail = self._frame(packet)
            elif (
                ack_id.__class__ is int
                and 0 <= ack_id <= self.max_ack_id
                and (ptype is _ACK or (ptype is _EVENT and data and data[0].__class__ is str))
            ):
                head = _ACK_ID_HEAD if ptype is _ACK else _EVENT_ID_HEAD
                tail = _ROOT_ID_TAIL + _pack_uint(ack_id)
            else:
                head, tail = self._frame(packet)
        else:
            head, tail = self._frame(packet)
        if data is None:
            return [head + tail]
        packers = self._packers
        try:
            packer = packers.pop()
        except IndexError:  # in use by another thread or greenlet: take a new one
            packer = msgpack.Packer(default=self._default)
        try:
            body: bytes = packer.pack(data)
        except Exception as exc:  # translate once, at the seam
            raise LocalProtocolError(
                f"packet data is not msgpack serialisable: {str(exc):.200}"
            ) from exc
        finally:
            # A Packer resets its buffer when pack() fails, so it is reusable either way.
            packers.append(packer)
        return [head + body + tail]

    def _frame(self, packet: SocketPacket) -> tuple[bytes, bytes]:
        """(head, tail) of any packet, after checking its type, namespace, ack id and payload."""
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
        # No "data": nil for an absent payload: the JavaScript parser accepts only a missing
        # data member for DISCONNECT ("decoded.data === undefined").
        size = 2 + (data is not None) + (ack_id is not None)
        head = bytes((0x80 | size,)) + b"\xa4type" + bytes((_WIRE_TYPE[ptype],))
        if data is not None:
            head += b"\xa4data"
        try:
            tail = b"\xa3nsp" + msgpack.packb(namespace)
        except Exception as exc:  # a lone surrogate in the namespace
            raise LocalProtocolError(f"namespace is not msgpack serialisable: {exc}") from exc
        if ack_id is not None:
            tail += b"\xa2id" + _pack_uint(ack_id)
        return head, tail


def _pack_uint(value: int) -> bytes:
    """msgpack's encoding of a non-negative int below 2**64 (what ``packb`` writes)."""
    if value < 0x80:
        return _FIXINTS[value]
    packed: bytes = msgpack.packb(value)
    return packed


def _unpack_uint(packed: bytes) -> int | None:
    """The value of a msgpack unsigned int that is all of ``packed``, else ``None``."""
    size = len(packed)
    first = packed[0] if size else 0xC1
    if first < 0x80:
        return first if size == 1 else None
    if _UINT_SIZES.get(first) == size - 1:
        return int.from_bytes(packed[1:], "big")
    return None


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
        codec = self._codec
        if message.__class__ is bytes:
            packet = _decode_common(message, codec)  # type: ignore[arg-type]
            if packet is not None:
                return packet
        elif isinstance(message, str):
            raise RemoteProtocolError(
                "unexpected text message: the msgpack parser sends binary only"
            )
        elif not isinstance(message, (bytes, bytearray, memoryview)):
            raise LocalProtocolError(f"feed() takes str or bytes, not {type(message).__name__}")
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


def _decode_common(message: bytes, codec: MsgPackCodec) -> SocketPacket | None:
    """The common packets, fully valid, with one ``unpackb`` of the ``data`` value only.

    An EVENT or ACK of the main namespace written as our encoder and python-socketio write it
    (keys "type", "data", "nsp" and maybe "id", in that order): the constant head and tail are
    compared as bytes and only ``data`` is unpacked. When the bytes in between are exactly one
    msgpack value and the tail is exactly "nsp" "/" "id" <uint>, the whole message is that map
    (msgpack values are self-delimiting), so this accepts what the general path accepts -- and
    returns ``None`` for anything else, valid or not, for the general path to decide and name
    the problem. (One difference: ``data`` nested exactly as deep as msgpack's limit of 1024
    levels is accepted here, where the enclosing map would pass the limit.)
    """
    if message.startswith(_EVENT_HEAD):
        ptype, with_id = _EVENT, False
    else:
        kind = _FAST_HEADS.get(message[:_HEAD_SIZE])
        if kind is None:
            return None
        ptype, with_id = kind
    size = len(message)
    if with_id:
        cut = message.rfind(_ROOT_ID_TAIL, max(_HEAD_SIZE, size - _MAX_ID_TAIL))
        if cut < 0:
            return None
        ack_id = _unpack_uint(message[cut + len(_ROOT_ID_TAIL) :])
        if ack_id is None or ack_id > codec.max_ack_id:
            return None
    else:
        if not message.endswith(_ROOT_TAIL):
            return None
        cut = size - len(_ROOT_TAIL)
        ack_id = None
    try:
        data = msgpack.unpackb(message[_HEAD_SIZE:cut], ext_hook=codec.ext_hook)
    except Exception:  # noqa: BLE001 - the general path reports it
        return None
    if data.__class__ is not list or (
        ptype is _EVENT and (not data or data[0].__class__ is not str)
    ):
        return None
    packet: SocketPacket = _new_object(SocketPacket)  # make_packet, inlined
    _set_type(packet, ptype)
    _set_namespace(packet, DEFAULT_NAMESPACE)
    _set_data(packet, data)
    _set_id(packet, ack_id)
    return packet
