"""The default Socket.IO v5 codec: packets as JSON text plus binary attachments.

Spec (socket.io-protocol v5, "Packet encoding / Format")::

    <packet type>[<# of binary attachments>-][<namespace>,][<acknowledgment id>][JSON-stringified payload without binary]

    + binary attachments extracted

Each encoded part travels as its own Engine.IO message: the text part as a text message,
each attachment as a binary message, in order. :meth:`JSONCodec.encode` returns those parts;
:meth:`JSONCodec.decoder` returns an incremental :class:`JSONDecoder` (one per connection)
that is fed the messages one by one and returns a :class:`SocketPacket` when one is complete.

Theory of operation of the decoder (two states):

* **idle** -- a text message is parsed. A ``BINARY_EVENT`` / ``BINARY_ACK`` packet is
  validated completely (header, JSON, placeholders) and moves the decoder to *collecting*;
  any other packet is returned at once. A binary message is an error.
* **collecting** -- binary messages are appended until the announced count is reached; then
  the placeholders are replaced and the packet is returned (as ``EVENT`` / ``ACK``), back to
  *idle*. A text message is an error. :meth:`JSONDecoder.reset` returns to *idle*, dropping
  what was collected (call it when the connection ends: CVE-2026-48804).

Every decoding failure raises :class:`RemoteProtocolError` -- never ``ValueError``,
``RecursionError`` or anything else -- and resets the decoder to *idle*.
"""

from __future__ import annotations

import json as _stdlib_json
import re
from collections.abc import Callable, Sequence
from json import encoder as _json_encoder
from typing import Any, Protocol

from .binary import (
    BINARY_TYPES,
    MAX_DEPTH,
    Slot,
    deconstruct,
    fill,
    find_placeholders,
    has_binary,
)
from .errors import LocalProtocolError, RemoteProtocolError
from .packets import (
    DEFAULT_NAMESPACE,
    MAX_ACK_ID,
    PacketType,
    SocketPacket,
    make_packet,
    namespace_problem,
    payload_problem,
)

__all__ = ["Codec", "Decoder", "JSONCodec", "JSONDecoder"]

_DIGITS = re.compile(r"[0-9]*")  # ASCII digits only (str.isdigit() accepts "²", "٣", ...)
_SURROGATE = re.compile("[\ud800-\udfff]")
_TYPE_BY_CHAR: dict[str, PacketType] = {str(t.value): t for t in PacketType}
_EVENT_TYPES = frozenset({PacketType.EVENT, PacketType.BINARY_EVENT})
_DATA_TYPES = frozenset(
    {PacketType.EVENT, PacketType.ACK, PacketType.BINARY_EVENT, PacketType.BINARY_ACK}
)
_BINARY_PACKET_TYPES = frozenset({PacketType.BINARY_EVENT, PacketType.BINARY_ACK})
# Longest attachment count we convert with int(); anything longer is "too many" anyway.
_MAX_ATTACHMENT_DIGITS = 6
_JSON_WHITESPACE = " \t\n\r"
_EVENT = PacketType.EVENT
_ACK = PacketType.ACK
# CPython's C encoder factory (absent on some other interpreters).
_c_make_encoder: Any = getattr(_json_encoder, "c_make_encoder", None)


class Decoder(Protocol):
    """What the server needs from an incremental packet decoder (one per connection)."""

    def feed(self, message: str | bytes) -> SocketPacket | None:
        """Take one Engine.IO message; return a complete packet or ``None``."""
        ...

    @property
    def awaiting_attachments(self) -> int:
        """How many binary messages the partial packet still waits for (0 if none)."""
        ...

    def reset(self) -> None:
        """Drop any partial packet."""
        ...


class Codec(Protocol):
    """What the server needs from a packet codec (:class:`JSONCodec`, ``MsgPackCodec``)."""

    def encode(self, packet: SocketPacket) -> Sequence[str | bytes]:
        """The Engine.IO messages that carry ``packet``, in order."""
        ...

    def decoder(self) -> Decoder:
        """A new incremental decoder."""
        ...


def _reject_constant(name: str) -> Any:
    # Python's json accepts NaN / Infinity / -Infinity; JSON (and JSON.parse) do not.
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    # A number too big for a double (``1e400``) would decode as infinity, which the encoder
    # (``allow_nan=False``) then refuses: an app echoing client data would fail on it. Refuse
    # it at the door, like NaN (found by scripts/fuzz_live.py).
    value = float(text)
    if value - value != 0.0:
        raise ValueError(f"number {text[:24]} is out of range")
    return value


def _escape_surrogate(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def _namespace_at(text: str, pos: int) -> tuple[str, int]:
    """Spec: "[<namespace>,]" -- a namespace starts with "/" and runs to the next comma (or to
    the end: "1/admin," and "1/admin" are the same packet). A "?query" suffix, sent by old
    clients, is not part of the namespace."""
    if pos >= len(text) or text[pos] != "/":
        return DEFAULT_NAMESPACE, pos
    comma = text.find(",", pos)
    if comma < 0:
        namespace, pos = text[pos:], len(text)
    else:
        namespace, pos = text[pos:comma], comma + 1
    query = namespace.find("?")
    return (namespace[:query] if query >= 0 else namespace), pos


class JSONCodec:
    """The default Socket.IO parser, wire-compatible with the JavaScript ``socket.io-parser``.

    :param json: a module (or object) with ``dumps(obj, separators=...)`` and ``loads(text)``,
        e.g. ``flask.json``. By default the standard library is used with compact separators,
        non-ASCII text kept as is (``ensure_ascii=False``, as ``JSON.stringify`` does; lone
        surrogates are escaped as ``\\udXXX``, also as ``JSON.stringify`` does) and ``NaN`` /
        ``Infinity`` refused in both directions (``JSON.parse`` rejects them).
    :param max_attachments: the most binary attachments one packet may announce when decoding
        (socket.io-parser ``maxAttachments``, default 10; CVE-2026-33151). The encoder refuses
        to produce more, since the JavaScript client would drop the connection.
    :param max_ack_id: the largest ack id accepted or produced (default ``2**53 - 1``, the
        largest integer a JavaScript peer represents exactly).

    Encoding errors raise :class:`LocalProtocolError` (a :class:`TypeError`).
    """

    __slots__ = (
        "json",
        "max_attachments",
        "max_ack_id",
        "_dumps",
        "_loads",
        "_raw_decode",
        "_stdlib",
        "_max_id_digits",
        "_binary_dumpers",
    )

    json: Any
    max_attachments: int
    max_ack_id: int

    def __init__(
        self, json: Any = None, max_attachments: int = 10, max_ack_id: int = MAX_ACK_ID
    ) -> None:
        if (
            type(max_attachments) is not int
            or not 0 <= max_attachments < 10**_MAX_ATTACHMENT_DIGITS
        ):
            raise ValueError(
                f"max_attachments must be an int in [0, 999999], not {max_attachments!r}"
            )
        if type(max_ack_id) is not int or max_ack_id < 0:
            raise ValueError(f"max_ack_id must be a non-negative int, not {max_ack_id!r}")
        self.json = json
        self.max_attachments = max_attachments
        self.max_ack_id = max_ack_id
        self._max_id_digits = len(str(max_ack_id))
        self._dumps: Callable[[Any], Any]
        self._loads: Callable[[str], Any]
        self._raw_decode: Callable[[str, int], tuple[Any, int]] | None = None
        # Encoders that write binary values as placeholders in the same pass (see
        # _binary_dumper); one is taken out of the list per call, so that threads and
        # greenlets never share one (list.pop is atomic).
        self._binary_dumpers: list[_BinaryDumper] | None = None
        if json is None:
            self._stdlib = True
            std_encoder = _stdlib_json.JSONEncoder(
                separators=(",", ":"), ensure_ascii=False, allow_nan=False
            )
            self._dumps = std_encoder.encode
            if _c_make_encoder is not None:
                # One C encoder for the codec's lifetime instead of one per call (what
                # JSONEncoder.encode does). Created without circular-reference markers, it keeps
                # no state between calls; circular data ends in a RecursionError, translated
                # like any other encoding error.
                c_encode = _c_make_encoder(
                    None,
                    std_encoder.default,
                    _json_encoder.encode_basestring,
                    None,
                    ":",
                    ",",
                    False,
                    False,
                    False,
                )

                def dumps_fast(data: Any) -> str:
                    return "".join(c_encode(data, 0))

                self._dumps = dumps_fast
                self._binary_dumpers = [_binary_dumper()]
            std_decoder = _stdlib_json.JSONDecoder(parse_constant=_reject_constant, parse_float=_finite_float)
            self._loads = std_decoder.decode
            self._raw_decode = std_decoder.raw_decode
        else:
            self._stdlib = False
            module_dumps = json.dumps

            def dumps(data: Any) -> Any:
                return module_dumps(data, separators=(",", ":"))

            self._dumps = dumps
            self._loads = json.loads

    def decoder(self) -> JSONDecoder:
        """A new incremental decoder for one connection."""
        return JSONDecoder(self)

    # -- encoding ------------------------------------------------------------------------

    def encode(self, packet: SocketPacket) -> list[str | bytes]:
        """Encode ``packet`` as ``[text, *attachments]``.

        An ``EVENT`` or ``ACK`` whose data contains ``bytes`` / ``bytearray`` / ``memoryview``
        (anywhere in nested lists, tuples and dicts) is sent as ``BINARY_EVENT`` /
        ``BINARY_ACK`` with placeholders; a ``BINARY_*`` packet without binary data is sent as
        plain ``EVENT`` / ``ACK`` (socket.io-parser: "if the object contains binary data ...
        the array will contain one string with the packet metadata and placeholders").

        Raises :class:`LocalProtocolError` (a :class:`TypeError`) for a packet the protocol
        cannot carry: un-serialisable data, binary data in another packet type, a payload of
        the wrong shape, a bad namespace or ack id, too many attachments.
        """
        ptype = self._checked_header(packet)
        namespace = packet.namespace
        ack_id = packet.id
        head, text, attachments = self._encode_payload(ptype, packet.data, ack_id)

        if text.__class__ is not str:  # a json module may return bytes (orjson does)
            text = _as_text(text)
        if not text.isascii() and _SURROGATE.search(text) is not None:
            # A lone surrogate cannot be sent as UTF-8. It can only occur inside a JSON string,
            # where JSON.stringify writes it as an escape: do the same.
            text = _SURROGATE.sub(_escape_surrogate, text)
        # Spec: "the namespace is only included if it is different from the main namespace".
        if namespace != DEFAULT_NAMESPACE:
            head += namespace + ","
        if ack_id is not None:
            head += str(ack_id)
        if attachments:
            parts: list[str | bytes] = [head + text]
            parts.extend(attachments)
            return parts
        return [head + text]

    def encode_plain_ack(self, namespace: str, data: list[Any], ack_id: int) -> str | None:
        """The text of ``ACK(namespace, data, ack_id)`` when it is plain: the main namespace, a
        valid ack id, data the standard library's JSON encoder takes as it is (no binary) and
        no lone surrogate. ``None`` otherwise: then `encode` decides (and raises). The text is
        what `encode` returns for the same packet; one pass, no packet object, no checks a
        plain ack does not need (the reply to every event with a callback)."""
        if (
            self._stdlib
            and namespace == DEFAULT_NAMESPACE
            and data.__class__ is list
            and ack_id.__class__ is int
            and 0 <= ack_id <= self.max_ack_id
        ):
            try:
                text: str = self._dumps(data)  # the standard library's: a str
            except (TypeError, ValueError, RecursionError):
                return None  # binary data, or not serialisable: the general path decides
            if text.isascii() or _SURROGATE.search(text) is None:
                return "3" + str(ack_id) + text
        return None

    def _checked_header(self, packet: SocketPacket) -> PacketType:
        """The packet's type, after checking its type, namespace and ack id can be sent."""
        ptype = packet.type
        if ptype.__class__ is not PacketType:
            try:
                ptype = PacketType(ptype)
            except (ValueError, TypeError):
                raise LocalProtocolError(f"unknown packet type {ptype!r}") from None
        namespace = packet.namespace
        if namespace != DEFAULT_NAMESPACE:
            problem = namespace_problem(namespace)
            if problem is not None:
                raise LocalProtocolError(problem)
        ack_id = packet.id
        if ack_id is not None and (type(ack_id) is not int or not 0 <= ack_id <= self.max_ack_id):
            raise LocalProtocolError(
                f"ack id must be an int in [0, {self.max_ack_id}], not {ack_id!r:.40}"
            )
        return ptype

    def _encode_payload(
        self, ptype: PacketType, data: Any, ack_id: int | None
    ) -> tuple[str, Any, list[bytes]]:
        """(type head, JSON text, attachments) of a packet's data, binary split out."""
        has_data = data is not None
        problem = payload_problem(ptype, data, has_data, ack_id)
        if problem is not None:
            raise LocalProtocolError(problem)
        attachments: list[bytes] = []
        if ptype not in _DATA_TYPES:
            if has_data and has_binary(data):
                raise LocalProtocolError(
                    f"binary data is only allowed in EVENT and ACK packets, not {ptype.name}"
                )
            return _TYPE_CHAR[ptype], self._dump_checked(data) if has_data else "", attachments
        is_event = ptype in _EVENT_TYPES
        dumpers = self._binary_dumpers
        if dumpers is not None:
            # One pass of the C encoder whose `default` hook turns each binary value into its
            # placeholder (numbered as deconstruct() numbers them: list order, then dict
            # order): no Python walk copying the containers, no failed first pass.
            try:
                dump, found = dumpers.pop()
            except IndexError:  # in use by another thread or greenlet: make another
                dump, found = _binary_dumper()
            try:
                text = dump(data)
            except (TypeError, ValueError) as exc:
                raise _not_serialisable(exc) from exc
            except RecursionError:
                text = ""  # deep or circular: deconstruct() below names the problem
            finally:
                if found:
                    attachments = found.copy()
                    found.clear()
                dumpers.append((dump, found))
            if not text or (attachments and self._refused(text, attachments)):
                payload, attachments = deconstruct(data)
                text = self._dump_attachments(payload, attachments)
        elif self._stdlib:
            # Fast path: the standard library cannot serialise bytes, so data without
            # binary is encoded in one pass with no extra walk over it.
            try:
                text = self._dumps(data)
            except (TypeError, ValueError, RecursionError) as exc:
                payload, attachments = deconstruct(data)
                if not attachments:  # it failed for another reason
                    raise _not_serialisable(exc) from exc
                text = self._dump_attachments(payload, attachments)
        elif has_binary(data):
            payload, attachments = deconstruct(data)
            text = self._dump_attachments(payload, attachments)
        else:
            text = self._dump_checked(data)
        if attachments:
            # Spec: "51-["baz",{"_placeholder":true,"num":0}]" -- type, count, "-".
            return ("5" if is_event else "6") + str(len(attachments)) + "-", text, attachments
        return "2" if is_event else "3", text, attachments

    def _refused(self, text: str, attachments: list[bytes]) -> bool:
        """Whether a binary packet's text may break a limit: more JSON openers than
        MAX_DEPTH (maybe nested deeper than the decoders accept) or too many attachments.
        Then the encoder walks the data, and names the problem."""
        return (
            text.count("[") + text.count("{") > MAX_DEPTH
            or len(attachments) > self.max_attachments
        )

    def _dump_attachments(self, payload: Any, attachments: list[bytes]) -> Any:
        """The JSON text of a deconstructed payload, checking the attachment count."""
        if len(attachments) > self.max_attachments:
            raise LocalProtocolError(
                f"data has {len(attachments)} binary attachments, more than max_attachments="
                f"{self.max_attachments} (the peer's parser would refuse the packet)"
            )
        return self._dump_checked(payload)

    def _dump_checked(self, data: Any) -> Any:
        try:
            return self._dumps(data)
        except Exception as exc:  # any json module: translate once, at the seam
            raise _not_serialisable(exc) from exc

    # -- decoding (used by JSONDecoder) ----------------------------------------------------

    def _decode_text(self, text: str) -> tuple[SocketPacket, int]:
        """Parse one text message; return the packet and its announced attachment count."""
        if self._raw_decode is not None:
            fast = self._decode_plain(text)
            if fast is not None:
                return fast
        length = len(text)
        if length == 0:
            raise RemoteProtocolError("empty packet")
        ptype = _TYPE_BY_CHAR.get(text[0])
        if ptype is None:
            raise RemoteProtocolError(f"unknown packet type {text[0]!r}")
        count, pos = self._attachment_count(text, ptype)
        namespace, pos = _namespace_at(text, pos)
        ack_id, pos = self._ack_id_at(text, pos)
        data, has_data = self._payload_at(text, pos)

        problem = payload_problem(ptype, data, has_data, ack_id)
        if problem is not None:
            raise RemoteProtocolError(problem)
        if count:  # decoded binary packets are reported as EVENT / ACK
            ptype = _EVENT if ptype is PacketType.BINARY_EVENT else _ACK
        return make_packet(ptype, namespace, data, ack_id), count


    def _attachment_count(self, text: str, ptype: PacketType) -> tuple[int, int]:
        """(announced attachment count, position after it) of a packet's text."""
        length = len(text)
        end = _DIGITS.match(text, 1).end()  # type: ignore[union-attr]  # "*" always matches
        has_dash = end < length and text[end] == "-"
        if ptype not in _BINARY_PACKET_TYPES:
            if end > 1 and has_dash:
                raise RemoteProtocolError(f"{ptype.name} packet must not announce binary attachments")
            return 0, 1
        # Spec: "<packet type>[<# of binary attachments>-]..." -- the count is present
        # exactly for the binary types, and (socket.io-parser) at least 1.
        if end == 1 or not has_dash:
            raise RemoteProtocolError(
                f"{ptype.name} packet must announce its attachments as '<count>-' after the type"
            )
        if end - 1 > _MAX_ATTACHMENT_DIGITS:
            raise RemoteProtocolError(
                f"too many attachments: a {end - 1}-digit count, at most "
                f"{self.max_attachments} allowed"
            )
        count = int(text[1:end])
        if count < 1:
            raise RemoteProtocolError(f"{ptype.name} packet must announce at least one attachment")
        if count > self.max_attachments:
            raise RemoteProtocolError(
                f"too many attachments: {count} announced, at most {self.max_attachments} allowed"
            )
        return count, end + 1

    def _ack_id_at(self, text: str, pos: int) -> tuple[int | None, int]:
        """Spec: "[<acknowledgment id>]" -- decimal digits right before the payload."""
        end = _DIGITS.match(text, pos).end()  # type: ignore[union-attr]
        if end == pos:
            return None, pos
        if end - pos > self._max_id_digits:
            raise RemoteProtocolError(
                f"ack id too long: {end - pos} digits, at most {self._max_id_digits} allowed"
            )
        ack_id = int(text[pos:end])
        if ack_id > self.max_ack_id:
            raise RemoteProtocolError(f"ack id {ack_id} exceeds the maximum {self.max_ack_id}")
        return ack_id, end

    def _payload_at(self, text: str, pos: int) -> tuple[Any, bool]:
        """Spec: "[JSON-stringified payload without binary]" -- the rest of the message.
        Returns (data, whether there was any)."""
        length = len(text)
        if pos >= length:
            return None, False
        first = text[pos]
        if first not in _JSON_STARTS:
            raise RemoteProtocolError(
                f"unexpected {first!r} at offset {pos}: expected a namespace ('/'), an ack "
                "id or a JSON payload"
            )
        try:
            raw_decode = self._raw_decode
            if raw_decode is not None and first not in _JSON_WHITESPACE:
                # Parse in place (no copy of the payload); trailing JSON whitespace is fine.
                data, end = raw_decode(text, pos)
                if end != length and text[end:].strip(_JSON_WHITESPACE):
                    raise ValueError(f"Extra data at offset {end}")
            else:
                data = self._loads(text[pos:])
        except RecursionError:
            raise RemoteProtocolError("invalid JSON payload: nested too deeply") from None
        except Exception as exc:  # any json module: translate once, at the seam
            raise RemoteProtocolError(f"invalid JSON payload: {str(exc):.120}") from None
        return data, True

    def _decode_plain(self, text: str) -> tuple[SocketPacket, int] | None:
        """The common case in one pass: an EVENT or ACK of the main namespace, ``2[...]``,
        ``3<id>[...]``, or their binary forms ``5<n>-[...]``, ``6<n>-<id>[...]``, fully valid
        (placeholders aside: the decoder checks those). Returns the packet and its attachment
        count; None for anything else, valid or not: the general parser then decides (and
        names the problem), so this path never changes what is accepted."""
        length = len(text)
        if length < 3:
            return None
        kind = text[0]
        count = 0
        start = 1
        if kind == "2":
            ptype = _EVENT
        elif kind == "3":
            ptype = _ACK
        elif kind == "5" or kind == "6":
            ptype = _EVENT if kind == "5" else _ACK
            start = text.find("-", 2, 2 + _MAX_ATTACHMENT_DIGITS) + 1
            digits = text[1 : start - 1]
            if start <= 0 or start >= length or not (digits.isascii() and digits.isdigit()):
                return None
            count = int(digits)
            if not 1 <= count <= self.max_attachments:
                return None
        else:
            return None
        end = start if text[start] == "[" else _DIGITS.match(text, start).end()  # type: ignore[union-attr]
        if end >= length or text[end] != "[" or end - start > self._max_id_digits:
            return None
        ack_id = int(text[start:end]) if end > start else None
        if ack_id is not None and ack_id > self.max_ack_id:
            return None
        try:
            data, stop = self._raw_decode(text, end)  # type: ignore[misc]
        except Exception:  # noqa: BLE001 - the general parser reports it
            return None
        if stop != length and text[stop:].strip(_JSON_WHITESPACE):
            return None
        if payload_problem(ptype, data, True, ack_id) is not None:
            return None
        return make_packet(ptype, DEFAULT_NAMESPACE, data, ack_id), count


_BinaryDumper = tuple[Callable[[Any], str], list[bytes]]


def _binary_dumper() -> _BinaryDumper:
    """A one-pass JSON encoder that writes each binary value as a placeholder, and the list
    where it puts the binaries (the caller empties it after each call)."""
    found: list[bytes] = []
    append = found.append

    def placeholder(obj: Any) -> dict[str, Any]:
        if obj.__class__ is bytes:
            append(obj)
        elif isinstance(obj, BINARY_TYPES):
            append(bytes(obj))
        else:
            raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")
        # Spec: each binary is replaced by {"_placeholder":true,"num":<index>}.
        return {"_placeholder": True, "num": len(found) - 1}

    encode = _c_make_encoder(
        None, placeholder, _json_encoder.encode_basestring, None, ":", ",", False, False, False
    )

    def dump(data: Any) -> str:
        return "".join(encode(data, 0))

    return dump, found


# Characters that may start a JSON text (RFC 8259: optional whitespace, then a value).
_JSON_STARTS = frozenset('[{"-0123456789tfn \t\r\n')
_TYPE_CHAR: dict[PacketType, str] = {t: str(t.value) for t in PacketType}


def _as_text(value: Any) -> str:
    if isinstance(value, (bytes, bytearray, memoryview)):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise LocalProtocolError(f"json module returned invalid UTF-8: {exc}") from exc
    raise LocalProtocolError(f"json module's dumps() returned {type(value).__name__}, not str")


def _not_serialisable(exc: Exception) -> LocalProtocolError:
    return LocalProtocolError(f"packet data is not JSON serialisable: {str(exc):.200}")


class JSONDecoder:
    """Incremental decoder of :class:`JSONCodec` messages for one connection.

    Feed it every Socket.IO message of the connection in order (``str`` for text messages,
    ``bytes`` for binary ones). See the module docstring for the two states.
    """

    __slots__ = ("_codec", "_pending", "_slots", "_expected", "_received")

    def __init__(self, codec: JSONCodec) -> None:
        self._codec = codec
        # Idle: no partial packet, and no lists (one decoder per connection: an idle
        # connection keeps no containers for the garbage collector to track).
        self._pending: SocketPacket | None = None
        self._slots: list[Slot] | None = None
        self._expected = 0
        self._received: list[bytes] | None = None

    @property
    def awaiting_attachments(self) -> int:
        """How many binary messages the partial packet still waits for (0 when idle)."""
        if self._pending is None or self._received is None:
            return 0
        return self._expected - len(self._received)

    def reset(self) -> None:
        """Drop a partial binary packet and its attachments (call it on disconnect)."""
        self._pending = None
        self._slots = None
        self._expected = 0
        self._received = None

    def feed(self, message: str | bytes) -> SocketPacket | None:
        """Decode one message.

        Returns the complete packet, or ``None`` while a ``BINARY_EVENT`` / ``BINARY_ACK``
        waits for more attachments. Raises :class:`RemoteProtocolError` for anything invalid
        (and resets), or :class:`LocalProtocolError` if ``message`` is neither text nor bytes.
        """
        if isinstance(message, str):
            if self._pending is not None:
                waiting = self.awaiting_attachments
                self.reset()
                raise RemoteProtocolError(
                    f"text message received while {waiting} binary attachment(s) are awaited"
                )
            packet, count = self._codec._decode_text(message)
            if not count:
                return packet
            slots = find_placeholders(packet.data, count)
            self._pending = packet
            self._slots = slots
            self._expected = count
            self._received = []
            return None
        if isinstance(message, (bytes, bytearray, memoryview)):
            pending = self._pending
            received = self._received
            if pending is None or received is None:
                raise RemoteProtocolError("unexpected binary attachment")
            received.append(message if message.__class__ is bytes else bytes(message))
            if len(received) < self._expected:
                return None
            fill(self._slots, received)  # type: ignore[arg-type]  # set with _received
            self._pending = None  # reset(), inlined
            self._slots = None
            self._expected = 0
            self._received = None
            return pending
        raise LocalProtocolError(f"feed() takes str or bytes, not {type(message).__name__}")
