"""Client managers: who is connected, which rooms they are in, and how an emit reaches them.

`ClientManager` is the small interface the server talks to; `LocalManager` keeps everything
in this process. The pub/sub manager (Redis) extends `LocalManager`: it applies each operation
locally and publishes it for the other processes, so the server never knows which one it has.

Method names follow python-socketio's managers (`get_participants`, `sid_from_eio_sid`, …)
because users and test helpers reach for them through ``socketio.server.manager``.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING, Any

from .acks import AckTracker
from .packets import PacketType, SocketPacket
from .rooms import Room, RoomRegistry

if TYPE_CHECKING:
    from .server import SocketServer


def _skip_set(skip_sid: str | Iterable[str] | None) -> frozenset[str]:
    if skip_sid is None:
        return frozenset()
    if isinstance(skip_sid, str):
        return frozenset((skip_sid,))
    return frozenset(skip_sid)


class ClientManager:
    """The interface: connect, disconnect, enter/leave/close room, members, emit, acks."""

    server: SocketServer | None = None

    def set_server(self, server: SocketServer) -> None:
        self.server = server

    def initialize(self) -> None:
        """Called once the server is running (pub/sub managers start listening here)."""

    # The operations below are implemented by LocalManager.
    def connect(self, eio_sid: str, namespace: str) -> str:
        raise NotImplementedError

    def disconnect(self, sid: str, namespace: str, **kwargs: Any) -> None:
        raise NotImplementedError

    def enter_room(self, sid: str, namespace: str, room: Room, eio_sid: str | None = None) -> None:
        raise NotImplementedError

    def leave_room(self, sid: str, namespace: str, room: Room) -> None:
        raise NotImplementedError

    def close_room(self, room: Room, namespace: str) -> None:
        raise NotImplementedError

    def emit(
        self,
        event: str,
        data: list[Any],
        namespace: str,
        room: Room | list[Room] | None = None,
        skip_sid: str | Iterable[str] | None = None,
        callback: Callable[..., Any] | None = None,
        **kwargs: Any,
    ) -> None:
        raise NotImplementedError


class LocalManager(ClientManager):
    """Rooms and acks in memory, for one process.

    Under the threading driver, handlers run in concurrent threads: every read-modify-write of
    the rooms and the ack table happens under the server's lock (a real lock there; a no-op
    under gevent, where nothing switches inside these sections). It is never held while
    sending or while running a callback.
    """

    def __init__(self) -> None:
        self.rooms = RoomRegistry()
        self.acks = AckTracker()
        self._eio_to_sid: dict[tuple[str, str], str] = {}
        self.lock: AbstractContextManager[Any] = nullcontext()

    def set_server(self, server: SocketServer) -> None:
        super().set_server(server)
        self.lock = getattr(server, "_lock", self.lock)

    # -- connections ---------------------------------------------------------------------------
    def connect(self, eio_sid: str, namespace: str) -> str:
        """Register a client in a namespace; returns its new sid."""
        sid = secrets.token_urlsafe(16)  # 128 random bits, 22 characters
        with self.lock:
            self.rooms.connect(namespace, sid, eio_sid)
            self._eio_to_sid[(eio_sid, namespace)] = sid
        return sid

    def disconnect(self, sid: str, namespace: str, **kwargs: Any) -> None:
        with self.lock:
            eio_sid = self.rooms.eio_sid(namespace, sid)
            self.rooms.disconnect(namespace, sid)
            self.acks.drop(sid)
            if eio_sid is not None:
                self._eio_to_sid.pop((eio_sid, namespace), None)

    def is_connected(self, sid: str, namespace: str) -> bool:
        return self.rooms.is_connected(namespace, sid)

    def sid_from_eio_sid(self, eio_sid: str, namespace: str) -> str | None:
        return self._eio_to_sid.get((eio_sid, namespace))

    def eio_sid_from_sid(self, sid: str, namespace: str) -> str | None:
        return self.rooms.eio_sid(namespace, sid)

    def get_namespaces(self) -> list[str]:
        return self.rooms.namespaces()

    def get_participants(self, namespace: str, room: Room | list[Room]) -> Iterator[tuple[str, str]]:
        """(sid, eio_sid) of the members of `room` (or of a list of rooms) in this process."""
        with self.lock:
            return iter(self.rooms.participants(namespace, room))

    # -- rooms ---------------------------------------------------------------------------------
    def enter_room(self, sid: str, namespace: str, room: Room, eio_sid: str | None = None) -> None:
        with self.lock:
            if self.rooms.is_connected(namespace, sid):
                self.rooms.enter(namespace, sid, room)

    def leave_room(self, sid: str, namespace: str, room: Room) -> None:
        with self.lock:
            self.rooms.leave(namespace, sid, room)

    def close_room(self, room: Room, namespace: str) -> None:
        with self.lock:
            self.rooms.close(namespace, room)

    def get_rooms(self, sid: str, namespace: str) -> list[Room]:
        with self.lock:
            return self.rooms.rooms_of(namespace, sid)

    # -- emitting --------------------------------------------------------------------------------
    def emit(
        self,
        event: str,
        data: list[Any],
        namespace: str,
        room: Room | list[Room] | None = None,
        skip_sid: str | Iterable[str] | None = None,
        callback: Callable[..., Any] | None = None,
        **kwargs: Any,
    ) -> None:
        server = self.server
        assert server is not None, "the manager is not attached to a server"
        with self.lock:
            recipients = self.rooms.participants(namespace, room, _skip_set(skip_sid))
            ack_ids = [self.acks.register(sid, callback) for sid, _ in recipients] if callback is not None else []
        args = [event, *data]
        if not recipients:
            if callback is None and not kwargs.get("encoded"):
                # Un-serialisable data raises whether or not anyone is in the room, as in
                # the reference (a bug must not depend on who happens to be connected).
                server.encode(SocketPacket(PacketType.EVENT, namespace, args))
            return
        if callback is None:
            # Encode once (or not at all: `encoded` was made by an emit from another thread);
            # every recipient gets the same encoded messages.
            parts = kwargs.get("encoded") or server.encode(SocketPacket(PacketType.EVENT, namespace, args))
            server.deliver(recipients, parts)
            return
        for (sid, eio_sid), ack_id in zip(recipients, ack_ids, strict=True):
            parts = server.encode(SocketPacket(PacketType.EVENT, namespace, args, ack_id))
            server.deliver(((sid, eio_sid),), parts)

    def emit_encoded(
        self,
        namespace: str,
        room: Room | list[Room] | None,
        skip_sid: str | Iterable[str] | None,
        parts: list[Any],
    ) -> None:
        """Deliver already-encoded messages to the local members of `room`."""
        server = self.server
        assert server is not None
        with self.lock:
            recipients = self.rooms.participants(namespace, room, _skip_set(skip_sid))
        if recipients:
            server.deliver(recipients, parts)

    # -- acks --------------------------------------------------------------------------------------
    def _generate_ack_id(self, sid: str, callback: Callable[..., Any]) -> int:
        with self.lock:
            return self.acks.register(sid, callback)

    def drop_callback(self, sid: str, callback: Callable[..., Any]) -> None:
        """Forget a callback nobody waits for any more (a timed-out `call()`)."""
        with self.lock:
            self.acks.drop_callback(sid, callback)

    def trigger_callback(self, sid: str, ack_id: int, data: list[Any]) -> bool:
        """Run the callback waiting for `ack_id`; False when there is none (logged by caller)."""
        with self.lock:
            callback = self.acks.pop(sid, ack_id)
        if callback is None:
            return False
        callback(*data)
        return True


Manager = LocalManager
