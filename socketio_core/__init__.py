"""socketio_core: the sans-I/O Socket.IO v5 layer (packets, codecs, ...).

PURE: nothing here does I/O, reads the clock or imports a concurrency library.
"""

from .codec import Codec, Decoder, JSONCodec, JSONDecoder
from .errors import LocalProtocolError, RemoteProtocolError, SocketIOError
from .msgpack_codec import MsgPackCodec, MsgPackDecoder
from .packets import RESERVED_EVENTS, PacketType, SocketPacket

__all__ = [
    "RESERVED_EVENTS",
    "Codec",
    "Decoder",
    "JSONCodec",
    "JSONDecoder",
    "LocalProtocolError",
    "MsgPackCodec",
    "MsgPackDecoder",
    "PacketType",
    "RemoteProtocolError",
    "SocketIOError",
    "SocketPacket",
]
