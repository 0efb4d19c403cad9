"""Client managers: who is connected, which rooms they are in, and how an emit reaches them.

`ClientManager` is the interface the server talks to, every method of it: `LocalManager` keeps
everything in this process; `PubSubManager` (pubsub.py) extends it, applying each operation
locally and publishing it for the other processes, so the server never knows which one it has.

A manager does not know the server. When the server adopts it, it calls `attach` with a
`ManagerHost`: the encoder, the delivery function, the server-side disconnect, the lock, the
driver and the JSON module — everything a manager needs from the process it runs in.

Method names follow python-socketio's managers (`get_participants`, `sid_from_eio_sid`, …)
because users and test helpers reach for them through ``socketio.server.manager``.
"""

from __future__ import annotations

import secrets
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..protocol.acks import AckTracker
from ..protocol.packets import PacketType, SocketPacket
from ..protocol.rooms import Room, RoomRegistry
from .pipeline import skip_set

if TYPE_CHECKING:
    from engineio_core.drivers.base import Driver
    from engineio_core.encoded import EncodedMessage

    from .pipeline import Outbound

Recipient = tuple[str, str]
"""(sid, eio_sid) of one client in one namespace."""


@dataclass(frozen=True, slots=True)
class ManagerHost:
    """What the server gives its client manager when it attaches it (`ClientManager.attach`)."""

    encode: Callable[[SocketPacket], list[EncodedMessage]]
    """A packet's Engine.IO messages, encoded once and shareable by every recipient."""
    deliver: Callable[[Iterable[Recipient], Sequence[EncodedMessage]], None]
    """Send encoded messages to clients of this process (held for those not accepted yet)."""
    disconnect: Callable[[str, str], object]
    """Disconnect a client of this process from a namespace, server side, (sid, namespace);
    the manager calls it for a disconnect that another process asked for."""
    lock: AbstractContextManager[Any]
    """Guards the rooms and the ack table (a real lock under threads, a no-op under gevent)."""
    driver: Driver
    """The engine's driver: where tasks, queues and blocking I/O come from."""
    json: Any = None
    """The JSON module the server encodes with (None: the standard one)."""
    apply: Callable[[Outbound, Sequence[EncodedMessage] | None], None] | None = None
    """The server's outbound pipeline, for an emit another process sent (`OutboundPipeline.apply`:
    the packet already encoded, or None to encode it here)."""


class ClientManager(ABC):
    """The interface between `SocketServer` and the clients it serves, locally or in a cluster.

    Under the threading driver handlers run in concurrent threads; every method may be called
    from any of them. Room and ack methods are called on the event loop under gevent.
    """

    is_pubsub: bool = False
    """Whether operations also reach other processes (the Flask test client refuses those)."""
    write_only: bool = False
    """An emit-only manager (an external emitter): it serves no clients of its own."""
    room_observer: Callable[[bool, str, str, Room], None] | None = None
    """Told (joined, sid, namespace, room) after a room change of a client of this process
    (the Admin UI); None: off."""

    @abstractmethod
    def attach(self, host: ManagerHost) -> None:
        """Called once by the server that adopts this manager."""

    @abstractmethod
    def initialize(self) -> None:
        """Called once the server is running (pub/sub managers start listening here)."""

    # -- connections -------------------------------------------------------------------------
    @abstractmethod
    def connect(self, eio_sid: str, namespace: str, sid: str | None = None) -> str:
        """Register a client in a namespace; returns its sid (new, or the given one: a
        connection whose state was recovered keeps its sid)."""

    @abstractmethod
    def disconnect(self, sid: str, namespace: str) -> None:
        """Forget a client of this process (its rooms and pending acks)."""

    @abstractmethod
    def disconnect_remote(self, sid: str, namespace: str) -> None:
        """Disconnect a sid this process does not hold, wherever it is (nothing if local only)."""

    @abstractmethod
    def is_connected(self, sid: str, namespace: str) -> bool: ...

    @abstractmethod
    def sid_from_eio_sid(self, eio_sid: str, namespace: str) -> str | None: ...

    @abstractmethod
    def eio_sid_from_sid(self, sid: str, namespace: str) -> str | None: ...

    @abstractmethod
    def get_namespaces(self) -> list[str]: ...

    @abstractmethod
    def get_participants(self, namespace: str, room: Room | list[Room]) -> Iterator[Recipient]:
        """(sid, eio_sid) of the members of `room` (or of a list of rooms) in this process."""

    # -- rooms -------------------------------------------------------------------------------
    @abstractmethod
    def enter_room(self, sid: str, namespace: str, room: Room, eio_sid: str | None = None) -> None: ...

    @abstractmethod
    def leave_room(self, sid: str, namespace: str, room: Room) -> None: ...

    @abstractmethod
    def close_room(self, room: Room, namespace: str) -> None: ...

    @abstractmethod
    def get_rooms(self, sid: str, namespace: str) -> list[Room]:
        """The rooms of a client, its own sid room included."""

    # -- emitting ----------------------------------------------------------------------------
    @abstractmethod
    def emit(
        self,
        event: str,
        data: list[Any],
        namespace: str,
        room: Room | list[Room] | None = None,
        skip_sid: str | Iterable[str] | None = None,
        callback: Callable[..., Any] | None = None,
        ignore_queue: bool = False,
        encoded: Sequence[EncodedMessage] | None = None,
    ) -> None:
        """Send an event to a sid, a room, a list of rooms or (`room` None) the namespace.

        With a `callback`, each recipient gets its own ack id and the callback runs with the
        client's answer. `ignore_queue` keeps the emit in this process. `encoded` is the
        EVENT packet for ``[event, *data]`` already encoded by the caller (an emit from a
        foreign thread encodes there, so errors raise in the caller); only without callback.
        """

    @abstractmethod
    def recipients(self, namespace: str, rooms: Room | list[Room] | None, skip_sids: frozenset[str],
                   except_rooms: Sequence[Room] = ()) -> list[Recipient]:
        """The pipeline's first stage: (sid, eio_sid) of the clients of this process in `rooms`
        (None: the namespace), minus `skip_sids` and the members of `except_rooms`."""

    @abstractmethod
    def publish_emit(self, out: Outbound, parts: Sequence[EncodedMessage]) -> None:
        """The pipeline's cluster stage: send an emit of this process, already encoded, to the
        other processes (the pipeline calls it only when `is_pubsub`)."""

    # -- acks --------------------------------------------------------------------------------
    @abstractmethod
    def trigger_callback(self, sid: str, ack_id: int, data: list[Any]) -> bool:
        """Run the callback waiting for `ack_id`; False when there is none."""

    @abstractmethod
    def drop_callback(self, sid: str, callback: Callable[..., Any]) -> None:
        """Forget a callback nobody waits for any more (a timed-out `call()`)."""


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
        self.host: ManagerHost | None = None
        self.room_observer = None

    def attach(self, host: ManagerHost) -> None:
        self.host = host
        self.lock = host.lock

    def initialize(self) -> None:
        """Nothing to start: everything is in memory."""

    def _host(self) -> ManagerHost:
        host = self.host
        if host is None:
            raise RuntimeError("the client manager is not attached to a server")
        return host

    # -- connections ---------------------------------------------------------------------------
    def connect(self, eio_sid: str, namespace: str, sid: str | None = None) -> str:
        if sid is None:
            sid = secrets.token_urlsafe(16)  # 128 random bits, 22 characters
        with self.lock:
            self.rooms.connect(namespace, sid, eio_sid)
            self._eio_to_sid[(eio_sid, namespace)] = sid
        return sid

    def disconnect(self, sid: str, namespace: str) -> None:
        with self.lock:
            eio_sid = self.rooms.eio_sid(namespace, sid)
            self.rooms.disconnect(namespace, sid)
            self.acks.drop(sid)
            if eio_sid is not None:
                self._eio_to_sid.pop((eio_sid, namespace), None)

    def disconnect_remote(self, sid: str, namespace: str) -> None:
        """One process: a sid it does not hold is connected nowhere."""

    def is_connected(self, sid: str, namespace: str) -> bool:
        return self.rooms.is_connected(namespace, sid)

    def sid_from_eio_sid(self, eio_sid: str, namespace: str) -> str | None:
        return self._eio_to_sid.get((eio_sid, namespace))

    def eio_sid_from_sid(self, sid: str, namespace: str) -> str | None:
        return self.rooms.eio_sid(namespace, sid)

    def get_namespaces(self) -> list[str]:
        return self.rooms.namespaces()

    def get_participants(self, namespace: str, room: Room | list[Room]) -> Iterator[Recipient]:
        with self.lock:
            return iter(self.rooms.participants(namespace, room))

    # -- rooms ---------------------------------------------------------------------------------
    def enter_room(self, sid: str, namespace: str, room: Room, eio_sid: str | None = None) -> None:
        with self.lock:
            entered = self.rooms.is_connected(namespace, sid)
            if entered:
                self.rooms.enter(namespace, sid, room)
        if entered and self.room_observer is not None:
            self.room_observer(True, sid, namespace, room)

    def leave_room(self, sid: str, namespace: str, room: Room) -> None:
        with self.lock:
            self.rooms.leave(namespace, sid, room)
        if self.room_observer is not None:
            self.room_observer(False, sid, namespace, room)

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
        ignore_queue: bool = False,
        encoded: Sequence[EncodedMessage] | None = None,
    ) -> None:
        host = self._host()
        with self.lock:
            recipients = self.rooms.participants(namespace, room, skip_set(skip_sid))
            ack_ids = [self.acks.register(sid, callback) for sid, _ in recipients] if callback is not None else []
        args = [event, *data]
        if not recipients:
            if callback is None and not encoded:
                # Un-serialisable data raises whether or not anyone is in the room, as in
                # the reference (a bug must not depend on who happens to be connected).
                host.encode(SocketPacket(PacketType.EVENT, namespace, args))
            return
        if callback is None:
            # Encode once (or not at all: the caller encoded it); every recipient gets the
            # same encoded messages.
            host.deliver(recipients, encoded or host.encode(SocketPacket(PacketType.EVENT, namespace, args)))
            return
        for (sid, eio_sid), ack_id in zip(recipients, ack_ids, strict=True):
            parts = host.encode(SocketPacket(PacketType.EVENT, namespace, args, ack_id))
            host.deliver(((sid, eio_sid),), parts)

    def recipients(self, namespace: str, rooms: Room | list[Room] | None, skip_sids: frozenset[str],
                   except_rooms: Sequence[Room] = ()) -> list[Recipient]:
        with self.lock:
            if except_rooms:
                skip = set(skip_sids)
                for room in except_rooms:
                    skip.update(self.rooms.members(namespace, room))
                skip_sids = frozenset(skip)
            return self.rooms.participants(namespace, rooms, skip_sids)

    def publish_emit(self, out: Outbound, parts: Sequence[EncodedMessage]) -> None:
        """One process: there is nobody to publish to."""

    def deliver_local(
        self,
        namespace: str,
        room: Room | list[Room] | None,
        skip_sid: str | Iterable[str] | None,
        parts: Sequence[EncodedMessage],
    ) -> None:
        """Deliver already-encoded messages to the members of `room` in this process."""
        host = self._host()
        with self.lock:
            recipients = self.rooms.participants(namespace, room, skip_set(skip_sid))
        if recipients:
            host.deliver(recipients, parts)

    # -- acks --------------------------------------------------------------------------------------
    def drop_callback(self, sid: str, callback: Callable[..., Any]) -> None:
        with self.lock:
            self.acks.drop_callback(sid, callback)

    def trigger_callback(self, sid: str, ack_id: int, data: list[Any]) -> bool:
        with self.lock:
            callback = self.acks.pop(sid, ack_id)
        if callback is None:
            return False
        callback(*data)
        return True
