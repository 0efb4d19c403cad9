"""engineio_core: an Engine.IO v4 server written from scratch.

A sans-I/O protocol core (packets, payloads, handshake, session state machine) and thin drivers
for gevent and threads, with WebSocket framing by wsproto. See docs/architecture.md.

The I/O parts (`EngineServer`, `WSGIApp`, `serve`) are imported on first use, so importing a
pure module (``engineio_core.session``...) loads no gevent, socket or threading.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .config import EngineConfig
from .encoded import EncodedMessage
from .errors import EngineIOError, LocalProtocolError, RemoteProtocolError
from .events import Reason
from .packets import EnginePacket, PacketType

if TYPE_CHECKING:
    from .server import EngineServer
    from .serving import serve
    from .wsgi import WSGIApp

# name → the module that defines it, imported by `__getattr__` when first asked for.
_LAZY = {"EngineServer": ".server", "WSGIApp": ".wsgi", "serve": ".serving"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


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
