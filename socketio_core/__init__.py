"""socketio_core: the Socket.IO v5 layer.

PURE at package level: importing ``socketio_core`` (or any pure module of it: packets, codecs,
rooms, acks, manager, namespace) does no I/O and loads no concurrency library. The server and
the pub/sub manager, which sit on the engine and its drivers, are loaded on first use of their
names here (``socketio_core.SocketServer``) or by importing their modules.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
from typing import TYPE_CHECKING, Any

from .protocol.codec import Codec, Decoder, JSONCodec, JSONDecoder
from .protocol.errors import LocalProtocolError, RemoteProtocolError, SocketIOError
from .protocol.msgpack_codec import MsgPackCodec, MsgPackDecoder
from .protocol.packets import RESERVED_EVENTS, PacketType, SocketPacket

if TYPE_CHECKING:
    from .server.manager import ClientManager, LocalManager, ManagerHost
    from .server.namespace import Namespace
    from .server.pubsub import PubSubManager, manager_for_url
    from .server.server import SocketServer

# name -> module that defines it, imported when the name is first asked for
_LAZY = {
    "ClientManager": "server.manager",
    "LocalManager": "server.manager",
    "ManagerHost": "server.manager",
    "Namespace": "server.namespace",
    "PubSubManager": "server.pubsub",
    "manager_for_url": "server.pubsub",
    "SocketServer": "server.server",
}

# The modules' paths before the package was split into protocol/, server/, brokers/ and
# features/ (0.x releases documented some of them, e.g. ``socketio_core.pubsub.manager_for_url``).
# ``import socketio_core.pubsub`` keeps working: a finder hands out the module that lives at the
# new path, loaded on demand (so the pure modules stay pure).
_MOVED = {
    "socketio_core.packets": "socketio_core.protocol.packets",
    "socketio_core.binary": "socketio_core.protocol.binary",
    "socketio_core.codec": "socketio_core.protocol.codec",
    "socketio_core.codec_v4": "socketio_core.protocol.codec_v4",
    "socketio_core.msgpack_codec": "socketio_core.protocol.msgpack_codec",
    "socketio_core.errors": "socketio_core.protocol.errors",
    "socketio_core.acks": "socketio_core.protocol.acks",
    "socketio_core.rooms": "socketio_core.protocol.rooms",
    "socketio_core.namespace": "socketio_core.server.namespace",
    "socketio_core.manager": "socketio_core.server.manager",
    "socketio_core.pubsub": "socketio_core.server.pubsub",
    "socketio_core.backoff": "socketio_core.brokers.backoff",
    "socketio_core.redis_backend": "socketio_core.brokers.redis_broker",
    "socketio_core.kombu_backend": "socketio_core.brokers.kombu_broker",
    # The Node protocol and NodeEmitter are in brokers/node_adapter.py, the bridge is a feature;
    # features/node_bridge.py re-exports both halves under the old name.
    "socketio_core.redis_adapter": "socketio_core.features.node_bridge",
    "socketio_core.recovery": "socketio_core.features.recovery_store",
    "socketio_core.recovery_server": "socketio_core.features.recovery",
    "socketio_core.recovery_redis": "socketio_core.features.recovery_redis",
    "socketio_core.cluster": "socketio_core.features.cluster",
    "socketio_core.admin": "socketio_core.features.admin",
}


class _MovedModuleFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Resolves an old module path of `_MOVED` to the module at its new path."""

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname not in _MOVED:
            return None
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec: Any) -> Any:
        return importlib.import_module(_MOVED[spec.name])

    def exec_module(self, module: Any) -> None:
        """The module at the new path is already executed."""


if not any(isinstance(f, _MovedModuleFinder) for f in sys.meta_path):
    sys.meta_path.append(_MovedModuleFinder())


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
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
