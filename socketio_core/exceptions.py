"""Exceptions users raise or catch (names as in python-socketio, so imports keep working)."""

from __future__ import annotations

import builtins
from typing import Any

from .protocol.errors import SocketIOError


class ConnectionRefusedError(SocketIOError):
    """Raise from a connect handler to refuse the connection.

    The arguments reach the client in the CONNECT_ERROR packet: the first is the message,
    a second is ``data`` (more than two: ``data`` is the tuple of the rest). Without arguments
    the message is ``"Connection rejected by server"``. As python-socketio's, it is not the
    builtin (an ``OSError``, whose two- and three-argument forms mean errno, strerror and
    filename): ``args`` and ``str()`` are those of a plain exception.
    """

    def __init__(self, *args: Any) -> None:
        if not args:
            self.error_args: dict[str, Any] = {"message": "Connection rejected by server"}
        elif len(args) == 1:
            self.error_args = {"message": str(args[0])}
        else:
            self.error_args = {"message": str(args[0])}
            self.error_args["data"] = args[1] if len(args) == 2 else args[1:]
        super().__init__(*args)


class TimeoutError(SocketIOError, builtins.TimeoutError):  # noqa: A001 - the reference's name
    """`call()` got no acknowledgement in time."""


class DisconnectedError(SocketIOError):
    """The client went away while `call()` waited for its acknowledgement."""
