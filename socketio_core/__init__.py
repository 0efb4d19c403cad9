"""socketio_core: the Socket.IO v5 layer.

PURE at package level: importing ``socketio_core`` (or any pure module of it: packets, codecs,
rooms, acks, manager, namespace) does no I/O and loads no concurrency library. The server and
the pub/sub manager, which sit on the engine and its drivers, are loaded on first use of their
names here (``socketio_core.SocketServer``) or by importing their modules.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .codec import Codec, Decoder, JSONCodec, JSONDecoder
from .errors import LocalProtocolError, RemoteProtocolError, SocketIOError
from .msgpack_codec import MsgPackCodec, MsgPackDecoder
from .packets import RESERVED_EVENTS, PacketType, SocketPacket

if TYPE_CHECKING:
    from .manager import ClientManager, LocalManager, ManagerHost
    from .namespace import Namespace
    from .pubsub import PubSubManager, manager_for_url
    from .server import SocketServer

# name -> module that defines it, imported when the name is first asked for
_LAZY = {
    "ClientManager": "manager",
    "LocalManager": "manager",
    "ManagerHost": "manager",
    "Namespace": "namespace",
    "PubSubManager": "pubsub",
    "manager_for_url": "pubsub",
    "SocketServer": "server",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


__all__ = [
    "RESERVED_EVENTS",
    "ClientManager",
    "Codec",
    "Decoder",
    "JSONCodec",
    "JSONDecoder",
    "LocalManager",
    "LocalProtocolError",
    "ManagerHost",
    "MsgPackCodec",
    "MsgPackDecoder",
    "Namespace",
    "PacketType",
    "PubSubManager",
    "RemoteProtocolError",
    "SocketIOError",
    "SocketPacket",
    "SocketServer",
    "manager_for_url",
]
