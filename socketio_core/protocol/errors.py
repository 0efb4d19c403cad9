"""Exceptions of the Socket.IO layer.

The names say who is to blame:

* :class:`RemoteProtocolError` -- the peer sent something that is not a valid Socket.IO
  packet. The decoders raise this and nothing else; the caller closes that one connection.
* :class:`LocalProtocolError` -- our own caller misused the API (for example it asked to emit
  data that cannot be serialised). It is also a :class:`TypeError`, so ``emit()`` of
  un-serialisable data fails synchronously with the exception type Python users expect.
"""

from __future__ import annotations

__all__ = ["LocalProtocolError", "RemoteProtocolError", "SocketIOError"]


class SocketIOError(Exception):
    """Base class of every error raised by :mod:`socketio_core`."""


class RemoteProtocolError(SocketIOError):
    """The peer violated the Socket.IO protocol.

    :attr:`reason` is a precise, human-readable description of what was wrong with the
    input (it is also the ``str()`` of the exception), suitable for a log line.
    """

    reason: str

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class LocalProtocolError(SocketIOError, TypeError):
    """Our caller asked for something the protocol cannot express.

    Raised by the encoders, e.g. for data that is not JSON/msgpack serialisable, a namespace
    that does not start with ``/``, or a packet whose payload has the wrong shape for its
    type. Subclasses :class:`TypeError` so that user code catching ``TypeError`` around an
    ``emit()`` keeps working.
    """
