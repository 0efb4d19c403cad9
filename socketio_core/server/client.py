"""`ClientState`: what the Socket.IO server keeps per Engine.IO connection (its namespaces,
sessions, decoder). Features see it through the hooks (hooks.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..protocol import codec_v4

if TYPE_CHECKING:
    from ..protocol.codec import Decoder
    from ..protocol.packets import SocketPacket


class ClientState:
    """What the Socket.IO layer keeps per Engine.IO connection."""

    __slots__ = ("eio_sid", "environ", "decoder", "namespaces", "pending", "sessions", "connect_timer",
                 "revision", "gated")

    def __init__(self, eio_sid: str, environ: dict[str, Any], decoder: Decoder) -> None:
        self.eio_sid = eio_sid
        self.environ = environ
        self.decoder = decoder
        self.namespaces: dict[str, str] = {}  # namespace -> sid
        # Namespaces whose connect handler has not accepted yet: the client's events there
        # are dropped (the reference's pre-connect state).
        self.pending: set[str] = set()
        self.sessions: dict[str, dict[str, Any]] = {}
        self.connect_timer: int | None = None
        self.revision = codec_v4.V5  # the Socket.IO protocol revision (4: `codec_v4`)
        # Issue 21: namespaces whose connect handler has not ruled yet (with `always_connect`
        # too), with the client's events that arrived meanwhile: they wait, in order, and are
        # handled once the handler accepts, dropped if it refuses.
        self.gated: dict[str, list[SocketPacket]] = {}
