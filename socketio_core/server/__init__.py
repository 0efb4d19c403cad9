"""The Socket.IO server: `SocketServer` (the glue between the engine and the protocol),
namespaces, and the client managers (in memory, and over a broker).

Importing this package is PURE: `manager` and `namespace` do no I/O, and the server and the
pub/sub manager, which sit on the engine and its drivers, load on first use of their names.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .manager import ClientManager, LocalManager, ManagerHost
    from .namespace import Namespace
    from .pubsub import PubSubManager, manager_for_url
    from .server import SocketServer

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
    return getattr(importlib.import_module(f".{module}", __name__), name)


__all__ = [
    "ClientManager",
    "LocalManager",
    "ManagerHost",
    "Namespace",
    "PubSubManager",
    "SocketServer",
    "manager_for_url",
]
