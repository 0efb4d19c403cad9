"""The hooks features plug into: `SocketServer` calls them, it knows no feature.

Connection state recovery, the Admin UI, cluster operations and the Node bridge are features:
each is an object that implements the protocols of the hooks it needs and adds itself to the
server's `Hooks` (and, for what it sends, to the outbound pipeline: pipeline.py). A hook point
with nobody on it costs the server one truth test (an empty list), as a feature that is off
must.

===================  =====================================================  ====================
hook                 called                                                 used by
===================  =====================================================  ====================
`ConnectionHook`     an Engine.IO connection opens/closes/upgrades; bytes   Admin UI
                     delivered (``packets_out``)
`InboundHook`        a packet and an event arrive from a client             Admin UI
`ResumeHook`         a CONNECT that may resume a session; the CONNECT ack   recovery
`RoomHook`           a client's rooms or session data changed               recovery
`SocketHook`         a namespace connection accepted / dropped / ended      Admin UI, recovery
outbound (pipeline)  every emit: `OutboundLog`, `OutboundObserver`,         recovery, Admin UI,
                     `OutboundMirror`                                       Node bridge
===================  =====================================================  ====================

What a feature may use of the server is its public, typed API (`SocketServer`, `ClientState`);
``tests/structure/test_feature_seams.py`` checks that no feature reads a private name of
another object.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from .client import ClientState

FEATURES = {
    "cluster": "socketio_core.features.cluster:install_cluster",
    "recovery": "socketio_core.features.recovery_redis:install_recovery",
    "admin": "socketio_core.features.admin:instrument",
}
"""Where each feature's installer is: ``installer(server, ...)`` makes the feature and plugs
it into `server`. Features are found by name at run time (plugins), so the server imports none
of them and the package's import graph stays acyclic (features import the server's types)."""


def install_feature(name: str, server: object, *args: Any, **kwargs: Any) -> Any:
    """Install one of `FEATURES` on `server`; returns what its installer returns."""
    module, _, attr = FEATURES[name].partition(":")
    installer: Callable[..., Any] = getattr(importlib.import_module(module), attr)
    return installer(server, *args, **kwargs)


class ConnectionHook(Protocol):
    """Engine.IO connections and the bytes delivered (the Admin UI's counters)."""

    def raw_connection(self) -> None: ...
    def raw_disconnection(self, reason: str) -> None: ...
    def socket_upgraded(self, namespaces: dict[str, str]) -> None: ...
    def packets_out(self, count: int, size: int) -> None: ...


class InboundHook(Protocol):
    """What arrives from clients."""

    def packet_in(self, size: int) -> None: ...
    def event_received(self, sid: str, namespace: str, event: str, args: list[Any]) -> None: ...


class ResumeHook(Protocol):
    """A CONNECT that may resume a session that dropped (connection state recovery)."""

    def resume(self, client: ClientState, namespace: str, auth: Any) -> bool:
        """True when this CONNECT is taken care of (resumed now, or being resumed from a
        shared store: the hook calls `SocketServer.resume_session` or
        `SocketServer.connect_new` later); False for a new connection."""
        ...

    def connect_ack(self, client: ClientState, namespace: str, sid: str) -> dict[str, Any]:
        """The CONNECT ack's data for an accepted `sid` (``{"sid"}`` plus what the feature
        adds: recovery's private id)."""
        ...

    def was_recovered(self, sid: str) -> bool:
        """Whether the current connection of `sid` got its state back."""
        ...

    def started(self, sid: str) -> None:
        """A new `sid` begins (before anything can be sent to it): recovery takes its replay
        floor, so a recovery never replays what was logged before the session existed."""
        ...


class RoomHook(Protocol):
    """The rooms or the session data of a connected client changed."""

    def changed(self, sid: str, namespace: str) -> None: ...


class SocketHook(Protocol):
    """A client's connection to one namespace."""

    def connected(self, client: ClientState, namespace: str, sid: str) -> None:
        """Accepted (its CONNECT ack is out)."""
        ...

    def dropping(self, client: ClientState, namespace: str, sid: str, reason: str) -> None:
        """Its Engine.IO connection closed; called before the disconnect handler runs (as
        Node persists a session before "disconnect")."""
        ...

    def disconnected(self, sid: str, namespace: str, reason: str, accepted: bool) -> None:
        """Gone (`accepted`: its connect handler had accepted it)."""
        ...


class ManagerHook(Protocol):
    """The client manager was replaced before the server runs (`SocketServer.use_manager`: a
    worker of ``workers=N`` joining the workers' bus)."""

    def adopt_manager(self, manager: Any) -> None: ...


class Hooks:
    """The hook points of one server: lists of features (empty: nothing to call)."""

    __slots__ = ("connection", "inbound", "managers", "never_early", "resume", "rooms", "sockets")

    def __init__(self) -> None:
        self.managers: list[ManagerHook] = []
        self.never_early: set[str] = set()
        """Namespaces acked only once their connect handler accepted, whatever
        `always_connect` says (the Admin UI's: its credentials are checked first)."""
        self.connection: list[ConnectionHook] = []
        self.inbound: list[InboundHook] = []
        self.resume: ResumeHook | None = None
        self.rooms: list[RoomHook] = []
        self.sockets: list[SocketHook] = []


class ClusterOperations(Protocol):
    """Cluster-wide operations (`SocketServer.cluster`: features/cluster.py), as the server's
    users call them."""

    server_handlers: dict[str, dict[str, Callable[..., Any]]]

    def adopt_manager(self, manager: Any) -> None: ...

    @property
    def clustered(self) -> bool: ...
    @property
    def can_count(self) -> bool: ...
    def local_members(self, namespace: str, to: Any = None, skip: Any = None) -> list[tuple[str, str]]: ...
    def local_infos(self, namespace: str, to: Any, skip: Any) -> list[dict[str, Any]]: ...
    def apply_local(self, message: dict[str, Any]) -> None: ...
    def fetch_sockets(self, namespace: str = "/", to: Any = None, skip: Any = None,
                      timeout: float = ...) -> list[Any]: ...
    def sockets_join(self, rooms: Any, namespace: str = "/", to: Any = None, skip: Any = None) -> None: ...
    def sockets_leave(self, rooms: Any, namespace: str = "/", to: Any = None, skip: Any = None) -> None: ...
    def disconnect_sockets(self, namespace: str = "/", to: Any = None, skip: Any = None) -> None: ...
    def call(self, event: str, data: Any, namespace: str = "/", to: Any = None, skip: Any = None,
             timeout: float = 60, single_if_sid: bool = False) -> Any: ...
    def on_server(self, event: str, handler: Callable[..., Any], namespace: str = "/") -> None: ...
    def server_emit(self, event: str, *args: Any, namespace: str = "/") -> None: ...
    def server_call(self, event: str, *args: Any, namespace: str = "/", timeout: float = ...) -> list[Any]: ...


class RecoveryFeature(Protocol):
    """Connection state recovery as the layer above sees it (`SocketServer.recovery`)."""

    environ_state: tuple[Callable[[dict[str, Any]], Any], Callable[[dict[str, Any], Any], None]] | None

    def was_recovered(self, sid: str) -> bool: ...


class AdminFeature(Protocol):
    """The Admin UI as the layer above sees it (`SocketServer.admin`): its files."""

    def serves(self, path: str) -> bool: ...
    def serve_ui(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]: ...
    def shutdown(self) -> None: ...
