"""Engine.IO protocol v3 wire forms (PURE), for ``allow_eio3=True``.

Served next to v4 on the same server (socket.io-client 1.x/2.x speak v3). What differs from v4
(engine.io-protocol v3; engine.io-parser 4.0.0 changelog, "Encoding changes between v3 and v4"):

- **WebSocket binary frames** carry the packet type as a leading byte: ``04 01 02 03`` is a
  binary MESSAGE of ``01 02 03`` (v4 sends the data as it stands). Text frames are the same.
- **Text polling payloads** are ``<length>:<packet>`` repeated, with no separator; the length
  counts the packet's characters as JavaScript does (UTF-16 code units: ``"4:4€€€"``, and an
  emoji counts 2). A binary packet in a text payload is ``b<type><base64>`` (``b4AQID``).
- **Binary polling payloads** (``application/octet-stream``, when the client supports binary
  and a packet is binary): per packet a marker byte (0: text, 1: binary), the decimal digits of
  the length one per byte (values 0-9), 0xFF, then the packet: UTF-8 text ``<type><data>``, or
  the type byte and the raw data. ``00 06 ff 34 68 65 6c 6c 6f 01 04 ff 04 01 02 03`` is
  ``4hello`` then binary ``01 02 03``.
- **The heartbeat runs the other way**: the client sends PING (``2``) every ``pingInterval``,
  the server answers PONG (``3``); no PING for ``pingInterval + pingTimeout`` closes the
  session (see `EngineSession`).

Everything here raises only `RemoteProtocolError` on bad input.
"""

from __future__ import annotations

import base64
import binascii

from .errors import RemoteProtocolError
from .packets import EnginePacket, PacketType, decode_text

PROTOCOL = 3
_MESSAGE_BYTE = b"\x04"
_MAX_LENGTH_DIGITS = 10  # a length of 10 digits is already past any max_http_buffer_size


def js_length(text: str) -> int:
    """The length JavaScript gives `text`: its UTF-16 code units."""
    if text.isascii():
        return len(text)
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


# -- packets ----------------------------------------------------------------------------------
def packet_text(packet: EnginePacket) -> str:
    """A packet in a text payload: ``<type><data>``, or ``b<type><base64>`` when binary."""
    data = packet.data
    if isinstance(data, bytes):
        return "b" + str(int(packet.type)) + base64.b64encode(data).decode("ascii")
    return packet.encode_text()


def text_segment(packet: EnginePacket) -> str:
    """One ``<length>:<packet>`` record of a text payload."""
    body = packet_text(packet)
    return f"{js_length(body)}:{body}"


def binary_record(packet: EnginePacket) -> bytes:
    """One record of a binary payload: marker, length digits, 0xFF, packet bytes."""
    data = packet.data
    if isinstance(data, bytes):
        body = bytes((int(packet.type),)) + data
        marker = 1
    else:
        body = packet.encode_text().encode("utf-8")
        marker = 0
    digits = bytes(int(c) for c in str(len(body)))
    return bytes((marker,)) + digits + b"\xff" + body


def ws_binary(data: bytes) -> bytes:
    """A binary MESSAGE as a v3 WebSocket binary frame's payload: the type byte first."""
    return _MESSAGE_BYTE + data


def decode_ws_binary(data: bytes) -> bytes:
    """The data of a v3 WebSocket binary frame (a binary MESSAGE: type byte 4, then data)."""
    if not data:
        raise RemoteProtocolError("empty binary packet")
    if data[0] != 4:
        raise RemoteProtocolError(f"binary packet of type {data[0]}: only MESSAGE (4) may be binary")
    return bytes(data[1:])


def decode_packet_text(text: str) -> EnginePacket:
    """One packet of a v3 text payload (``b<type><base64>`` is a binary MESSAGE)."""
    if text[:1] == "b":
        if text[1:2] != "4":
            raise RemoteProtocolError("a base64 packet must be a MESSAGE (b4...)")
        try:
            raw = base64.b64decode(text[2:], validate=True)
        except (binascii.Error, ValueError):
            raise RemoteProtocolError("invalid base64 in binary packet") from None
        return EnginePacket(PacketType.MESSAGE, raw)
    return decode_text(text)


# -- payloads ---------------------------------------------------------------------------------
def encode_text_payload(segments: list[str]) -> str:
    """Join already-encoded ``<length>:<packet>`` records (see `text_segment`)."""
    return "".join(segments)


def encode_binary_payload(records: list[bytes]) -> bytes:
    return b"".join(records)


def _check_count(count: int, max_packets: int) -> None:
    if max_packets and count > max_packets:
        raise RemoteProtocolError(f"too many packets in payload ({count} > {max_packets})")


def decode_text_payload(body: str, max_packets: int) -> list[EnginePacket]:
    """Split and decode a v3 text payload, all or nothing."""
    if not body:
        raise RemoteProtocolError("empty payload")
    if body.isascii():
        return _decode_records(body, max_packets)
    # Lengths count UTF-16 code units: walk the payload in those units.
    units = body.encode("utf-16-le", "surrogatepass")
    packets: list[EnginePacket] = []
    pos, end = 0, len(units)
    while pos < end:
        colon = _find_unit(units, pos, ":")
        length = _parse_length(units[pos:colon].decode("utf-16-le", "surrogatepass"))
        start = colon + 2
        stop = start + 2 * length
        if stop > end:
            raise RemoteProtocolError("payload record longer than the payload")
        try:
            text = units[start:stop].decode("utf-16-le")
        except UnicodeDecodeError:
            raise RemoteProtocolError("payload record splits a character") from None
        packets.append(_decode_record(text))
        _check_count(len(packets), max_packets)
        pos = stop
    return packets


def _decode_records(body: str, max_packets: int) -> list[EnginePacket]:
    packets: list[EnginePacket] = []
    pos, end = 0, len(body)
    while pos < end:
        colon = body.find(":", pos, pos + _MAX_LENGTH_DIGITS + 1)
        if colon < 0:
            raise RemoteProtocolError("payload record without a length")
        length = _parse_length(body[pos:colon])
        stop = colon + 1 + length
        if stop > end:
            raise RemoteProtocolError("payload record longer than the payload")
        packets.append(_decode_record(body[colon + 1:stop]))
        _check_count(len(packets), max_packets)
        pos = stop
    return packets


def _find_unit(units: bytes, pos: int, char: str) -> int:
    """The byte offset of the UTF-16-LE code unit `char` at or after `pos` (unit-aligned)."""
    target = char.encode("utf-16-le")
    limit = min(len(units), pos + 2 * (_MAX_LENGTH_DIGITS + 1))
    for i in range(pos, limit, 2):
        if units[i:i + 2] == target:
            return i
    raise RemoteProtocolError("payload record without a length")


def _parse_length(digits: str) -> int:
    if not digits or not digits.isascii() or not digits.isdigit():
        raise RemoteProtocolError(f"invalid payload record length {digits[:12]!r}")
    length = int(digits)
    if length == 0:
        raise RemoteProtocolError("empty packet in payload")
    return length


def _decode_record(text: str) -> EnginePacket:
    return decode_packet_text(text)


def decode_binary_payload(body: bytes, max_packets: int) -> list[EnginePacket]:
    """Split and decode a v3 binary payload (``application/octet-stream``), all or nothing."""
    if not body:
        raise RemoteProtocolError("empty payload")
    packets: list[EnginePacket] = []
    pos, end = 0, len(body)
    while pos < end:
        marker = body[pos]
        if marker > 1:
            raise RemoteProtocolError(f"invalid binary payload record marker {marker}")
        sep = body.find(b"\xff", pos + 1, pos + 2 + _MAX_LENGTH_DIGITS)
        if sep < 0 or sep == pos + 1:
            raise RemoteProtocolError("binary payload record without a length")
        digits = body[pos + 1:sep]
        if any(d > 9 for d in digits):
            raise RemoteProtocolError("invalid binary payload record length")
        length = int("".join(str(d) for d in digits))
        start, stop = sep + 1, sep + 1 + length
        if length == 0 or stop > end:
            raise RemoteProtocolError("binary payload record of an invalid length")
        chunk = body[start:stop]
        if marker == 0:
            try:
                text = chunk.decode("utf-8")
            except UnicodeDecodeError:
                raise RemoteProtocolError("payload is not valid UTF-8") from None
            packets.append(decode_packet_text(text))
        else:
            packets.append(EnginePacket(PacketType.MESSAGE, decode_ws_binary(chunk)))
        _check_count(len(packets), max_packets)
        pos = stop
    return packets


def unescape_jsonp(data: str) -> str:
    """A JSONP POST's ``d=`` field: the client writes newlines as ``\\n`` (a backslash and an
    n) into its form; a doubled backslash before the n keeps it literal (engine.io's rule)."""
    if "\\n" not in data:
        return data
    out: list[str] = []
    i, n = 0, len(data)
    while i < n:
        if data.startswith("\\\\n", i):
            out.append("\\\\n")
            i += 3
        elif data.startswith("\\n", i):
            out.append("\n")
            i += 2
        else:
            out.append(data[i])
            i += 1
    return "".join(out)
