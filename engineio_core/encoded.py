"""Encode-once messages (PURE).

An `EncodedMessage` is one Engine.IO packet with its wire forms built lazily and at most once:
the polling segment (``4hello`` / ``b<base64>``) and the complete unmasked WebSocket frame.
A broadcast builds one and hands the same object to every recipient, so N recipients cost N
appends and zero re-encodes. Frames are parsed, negotiated, compressed and closed by wsproto;
only the server-to-client data frame, whose bytes do not depend on the connection when no
extension is in use, is laid out here (RFC 6455 §5.2: FIN, opcode, unmasked length, payload).
"""

from __future__ import annotations

from . import v3
from .packets import EnginePacket, PacketType

OPCODE_TEXT = 0x1
OPCODE_BINARY = 0x2


def ws_frame(opcode: int, payload: bytes) -> bytes:
    """One final, unmasked WebSocket frame (server to client frames are never masked)."""
    n = len(payload)
    if n < 126:
        header = bytes((0x80 | opcode, n))
    elif n < 0x10000:
        header = bytes((0x80 | opcode, 126)) + n.to_bytes(2, "big")
    else:
        header = bytes((0x80 | opcode, 127)) + n.to_bytes(8, "big")
    return header + payload


# The header of a final, unmasked text frame of 0 to 125 bytes, by payload length.
_SHORT_TEXT_HEADERS = tuple(bytes((0x80 | OPCODE_TEXT, n)) for n in range(126))


class EncodedMessage:
    """A packet plus its lazily built, shareable wire forms. Never mutated once built."""

    __slots__ = ("packet", "_segment", "_frame", "_ws_payload", "_v3")

    def __init__(self, packet: EnginePacket) -> None:
        self.packet = packet
        self._segment: str | None = None
        self._frame: bytes | None = None
        self._ws_payload: str | bytes | None = None
        self._v3: V3Forms | None = None  # Engine.IO v3 forms, built when a v3 client needs them

    @classmethod
    def message(cls, data: str | bytes) -> EncodedMessage:
        return cls(EnginePacket(PacketType.MESSAGE, data))

    @property
    def binary(self) -> bool:
        return isinstance(self.packet.data, bytes)

    def polling_segment(self) -> str:
        seg = self._segment
        if seg is None:
            seg = self._segment = self.packet.encode_polling()
        return seg

    def ws_payload(self) -> str | bytes:
        """The WebSocket message payload: text ``<type><data>``, or the raw binary data."""
        payload = self._ws_payload
        if payload is None:
            data = self.packet.data
            payload = data if isinstance(data, bytes) else self.packet.encode_text()
            self._ws_payload = payload
        return payload

    def ws_frame(self) -> bytes:
        frame = self._frame
        if frame is None:
            payload = self.ws_payload()
            if isinstance(payload, bytes):
                frame = ws_frame(OPCODE_BINARY, payload)
            else:
                encoded = payload.encode("utf-8")
                size = len(encoded)
                if size < 126:  # most messages: the two-byte header, built in place
                    frame = _SHORT_TEXT_HEADERS[size] + encoded
                else:
                    frame = ws_frame(OPCODE_TEXT, encoded)
            self._frame = frame
        return frame

    @property
    def v3(self) -> V3Forms:
        """The Engine.IO v3 wire forms of this message (built once, shared like the v4 ones)."""
        forms = self._v3
        if forms is None:
            forms = self._v3 = V3Forms(self)
        return forms

    def wire_size(self) -> int:
        """An estimate of the bytes this message occupies in an outbox."""
        data = self.packet.data
        return len(data) + 10

    def __repr__(self) -> str:
        return f"EncodedMessage({self.packet!r})"


class V3Forms:
    """The Engine.IO v3 wire forms of one `EncodedMessage`, each built at most once: the text
    payload record, the binary payload record, and the WebSocket frame (text frames are the
    v4 ones; a binary frame carries the type byte first)."""

    __slots__ = ("_message", "_segment", "_record", "_frame", "_ws_payload")

    def __init__(self, message: EncodedMessage) -> None:
        self._message = message
        self._segment: str | None = None
        self._record: bytes | None = None
        self._frame: bytes | None = None
        self._ws_payload: str | bytes | None = None

    def polling_segment(self) -> str:
        seg = self._segment
        if seg is None:
            seg = self._segment = v3.text_segment(self._message.packet)
        return seg

    def binary_record(self) -> bytes:
        record = self._record
        if record is None:
            record = self._record = v3.binary_record(self._message.packet)
        return record

    def ws_payload(self) -> str | bytes:
        payload = self._ws_payload
        if payload is None:
            data = self._message.packet.data
            payload = v3.ws_binary(data) if isinstance(data, bytes) else self._message.ws_payload()
            self._ws_payload = payload
        return payload

    def ws_frame(self) -> bytes:
        message = self._message
        if not message.binary:
            return message.ws_frame()
        frame = self._frame
        if frame is None:
            payload = self.ws_payload()
            assert isinstance(payload, bytes)
            frame = self._frame = ws_frame(OPCODE_BINARY, payload)
        return frame
