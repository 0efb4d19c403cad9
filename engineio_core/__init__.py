"""engineio_core: an Engine.IO v4 server written from scratch.

A sans-I/O protocol core (packets, payloads, handshake, session state machine) and thin drivers
for gevent and threads, with WebSocket framing by wsproto. See docs/architecture.md.
"""

from .config import EngineConfig
from .encoded import EncodedMessage
from .errors import EngineIOError, LocalProtocolError, RemoteProtocolError
from .events import Reason
from .packets import EnginePacket, PacketType
from .server import EngineServer
from .serving import serve
from .wsgi import WSGIApp

__all__ = [
    "EncodedMessage",
    "EngineConfig",
    "EngineIOError",
    "EnginePacket",
    "EngineServer",
    "LocalProtocolError",
    "PacketType",
    "Reason",
    "RemoteProtocolError",
    "WSGIApp",
    "serve",
]
