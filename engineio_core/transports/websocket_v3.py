"""A WebSocket of an Engine.IO v3 session (``allow_eio3``): binary MESSAGEs carry the packet
type byte first, both ways (`engineio_core.v3`); text frames are the v4 ones. A subclass, so
that the v4 send path keeps no per-message version test."""

from __future__ import annotations

from .. import v3
from ..encoded import EncodedMessage
from ..errors import RemoteProtocolError
from .websocket import WebSocket


class WebSocketV3(WebSocket):
    __slots__ = ()

    def send(self, message: EncodedMessage) -> None:
        if self.closed:
            return
        if not message.binary:
            super().send(message)
            return
        forms = message.v3
        threshold = self._compress_from
        if threshold is not None and len(message.packet.data) >= threshold:
            self.writer.write(bytes(self._proto.send_data(forms.ws_payload(), True)))
        else:
            self.writer.write(forms.ws_frame())

    def send_now(self, message: EncodedMessage) -> None:
        if self.closed:
            return
        if not message.binary:
            super().send_now(message)
            return
        forms = message.v3
        threshold = self._compress_from
        if threshold is not None and len(message.packet.data) >= threshold:
            self.writer.write_now(bytes(self._proto.send_data(forms.ws_payload(), True)))
        else:
            self.writer.write_now(forms.ws_frame())

    def feed(self, data: bytes) -> list[str | bytes]:
        """The messages in `data`, binary ones without their type byte."""
        messages = super().feed(data)
        for i, message in enumerate(messages):
            if isinstance(message, bytes):
                try:
                    messages[i] = v3.decode_ws_binary(message)
                except RemoteProtocolError as exc:
                    if i == 0:
                        raise
                    self.failure = exc
                    return messages[:i]
        return messages
