"""Exceptions of the Engine.IO layer, named for who is to blame.

`RemoteProtocolError` means the peer sent something the protocol forbids; it carries the HTTP
status and the JSON-quoted body the server answers with (or the reason a WebSocket is closed).
`LocalProtocolError` means our own caller misused the API. Decoders raise nothing else.
"""

from __future__ import annotations


class EngineIOError(Exception):
    """Base class of every exception raised by `engineio_core`."""


class RemoteProtocolError(EngineIOError):
    """The peer violated the protocol.

    `status` is the HTTP status to answer with (400 unless said otherwise) and `message` the
    text that is sent JSON-quoted in the body and written to the log.
    """

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class LocalProtocolError(EngineIOError):
    """Our caller used the API in a way it does not allow (e.g. sending to a closed session)."""
