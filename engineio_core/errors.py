"""Exceptions of the Engine.IO layer, named for who is to blame.

`RemoteProtocolError` means the peer sent something the protocol forbids; it carries the HTTP
status, the Engine.IO error code and the message the server answers with in a JSON body
(`error_body`, the Node server's ``{"code":N,"message":"..."}``), or the reason a WebSocket is
closed.
`LocalProtocolError` means our own caller misused the API. Decoders raise nothing else.
"""

from __future__ import annotations

import json
from enum import IntEnum


class ErrorCode(IntEnum):
    """The Engine.IO error codes of the Node server (``Server.errors``), sent in error bodies."""

    UNKNOWN_TRANSPORT = 0
    UNKNOWN_SID = 1
    BAD_HANDSHAKE_METHOD = 2
    BAD_REQUEST = 3
    FORBIDDEN = 4
    UNSUPPORTED_PROTOCOL_VERSION = 5


# The Node server's message for each code (``Server.errorMessages``), word for word: the JS
# client hands the body to the application (``err.context``).
NODE_MESSAGES = {
    ErrorCode.UNKNOWN_TRANSPORT: "Transport unknown",
    ErrorCode.UNKNOWN_SID: "Session ID unknown",
    ErrorCode.BAD_HANDSHAKE_METHOD: "Bad handshake method",
    ErrorCode.BAD_REQUEST: "Bad request",
    ErrorCode.FORBIDDEN: "Forbidden",
    ErrorCode.UNSUPPORTED_PROTOCOL_VERSION: "Unsupported protocol version",
}


def error_body(code: ErrorCode, message: str | None = None) -> str:
    """An error answer's body as the Node server writes it: ``{"code":N,"message":"..."}``,
    Node's message for the code unless the condition is one Node does not check."""
    return json.dumps({"code": int(code), "message": message or NODE_MESSAGES[code]}, separators=(",", ":"))


class EngineIOError(Exception):
    """Base class of every exception raised by `engineio_core`."""


class RemoteProtocolError(EngineIOError):
    """The peer violated the protocol.

    `status` is the HTTP status to answer with (400 unless said otherwise; a WebSocket close
    code for frame errors), `code` the Engine.IO error code and `message` the text of the body
    (`error_body`) and of the log.
    """

    def __init__(self, message: str, status: int = 400, code: ErrorCode = ErrorCode.BAD_REQUEST) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code


class LocalProtocolError(EngineIOError):
    """Our caller used the API in a way it does not allow (e.g. sending to a closed session)."""
