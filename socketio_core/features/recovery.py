"""Connection state recovery, the server side: what `SocketServer` calls when it is on.

`SocketServer` holds a `ConnectionRecovery` only when ``connection_state_recovery`` is given;
its hooks are one ``is None`` test each (emit, CONNECT, the CONNECT ack, a disconnect), so a
server with recovery off pays nothing else. The bookkeeping is in recovery.py (pure); the
store is `MemoryRecoveryStore`, per process; with a Redis message queue, recovery_redis.py
subclasses this with sessions and the log in Redis.

The replay happens in one step, as the client sees it: the restored sid is registered and its
rooms entered, then the CONNECT ack ``{"sid", "pid"}`` and the missed packets are sent, in the
log's order, before anything emitted later: one section on the loop (under the server's
lock with threads, where emits take the same lock to log and deliver).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Any

from ..protocol.packets import PacketType, SocketPacket
from .recovery_store import (
    RECOVERABLE_REASONS,
    MemoryRecoveryStore,
    ParkedSession,
    RecoveryOptions,
    RecoveryStore,
    Restored,
    new_pid,
)

if TYPE_CHECKING:
    from engineio_core.encoded import EncodedMessage

    from ..server.pipeline import Outbound
    from ..server.server import ClientState, SocketServer


logger = logging.getLogger("socketio_core.recovery")

SWEEP_INTERVAL = 5.0
"""Most seconds between two sweeps of the in-memory store (expired sessions, old packets)."""

EnvironState = tuple[Callable[[dict[str, Any]], Any], Callable[[dict[str, Any], Any], None]]


def make_recovery(server: SocketServer, option: Any) -> ConnectionRecovery | None:
    """The recovery of `server` for the ``connection_state_recovery`` option (None: off), with
    the in-memory store. (With a Redis message queue, server.py makes a
    `recovery_redis.ClusterRecovery` instead.)"""
    options = RecoveryOptions.parse(option)
    if options is None:
        return None
    if server.manager.is_pubsub:
        logger.warning("connection state recovery with a non-Redis message queue: sessions and the "
                       "replay log are kept per process; a client recovers only on the node it was on")
    store: RecoveryStore = MemoryRecoveryStore(options)
    return ConnectionRecovery(server, options, store)


class ConnectionRecovery:
    """Private ids, the replay log on emit, parking on a drop, restoring on CONNECT."""

    def __init__(self, server: SocketServer, options: RecoveryOptions, store: RecoveryStore) -> None:
        self.server = server
        self.options = options
        self.store = store
        self.pids: dict[str, str] = {}  # sid -> private id, for connected clients
        self.recovered: set[str] = set()  # sids whose current connection was recovered
        self.floors: dict[str, str] = {}  # sid -> the log's position when its session began
        self.clock: Callable[[], float] = time.time
        """Wall-clock seconds (a shared store's entries are compared across processes)."""
        self.environ_state: EnvironState | None = None
        """(dump, load) of per-connection state the layer above keeps in the environ (the
        Flask session of Flask-SocketIO); parked and restored with the session."""
        if not store.shared:
            # Issue 21 #2: expired sessions and old packets go on the timer loop, not only
            # when another client is parked.
            server.when_running(self._sweep)

    def _sweep(self) -> None:
        """Sweep the in-memory store, then again in a while (on the engine's timer loop)."""
        try:
            with self.server.lock:
                self.store.sweep(self.clock())
        finally:
            period = max(0.1, min(SWEEP_INTERVAL, self.options.max_disconnection_duration / 4))
            self.server.eio.call_later(period, self._sweep)

    def install(self) -> None:
        """Plug into the server: `ResumeHook`, `RoomHook`, `SocketHook` and the outbound
        pipeline's `OutboundLog`."""
        server = self.server
        server.recovery = self
        server.hooks.resume = self
        server.hooks.rooms.append(self)
        server.hooks.sockets.append(self)
        server.pipeline.log = self

    # -- hooks ---------------------------------------------------------------------------------
    def resume(self, client: ClientState, namespace: str, auth: Any) -> bool:
        """`ResumeHook.resume`: a CONNECT with ``{"pid", "offset"}``."""
        return self.restore(client, namespace, auth)

    def connect_ack(self, client: ClientState, namespace: str, sid: str) -> dict[str, Any]:
        """`ResumeHook.connect_ack`: ``{"sid", "pid"}`` (a shared store writes the session
        through: `accepted`)."""
        self.started(sid)
        pid = self.pids.get(sid)
        if pid is None:
            pid = self.pids[sid] = new_pid()
        self.accepted(client, namespace, sid)
        return {"sid": sid, "pid": pid}

    # -- replay floors -----------------------------------------------------------------------
    def floor_now(self) -> str:
        """The replay floor of a session that begins now: the log's newest offset."""
        return self.store.position()

    def started(self, sid: str) -> None:
        """`sid` begins (it may receive packets from now on): its replay floor is taken, so
        a recovery never replays what was logged before it existed (issue 21)."""
        self.floors.setdefault(sid, self.floor_now())

    def connected(self, client: ClientState, namespace: str, sid: str) -> None:
        """`SocketHook.connected`: nothing more (the CONNECT ack gave the private id)."""

    def dropping(self, client: ClientState, namespace: str, sid: str, reason: str) -> None:
        """`SocketHook.dropping`: park the session when the reason is recoverable."""
        self.park(client, namespace, sid, reason)

    def disconnected(self, sid: str, namespace: str, reason: str, accepted: bool) -> None:
        """`SocketHook.disconnected`."""
        self.forget(sid)

    def accepted(self, client: ClientState, namespace: str, sid: str) -> None:
        """`sid` was accepted in `namespace` (its CONNECT ack is being sent): a shared store
        writes its session through."""

    def changed(self, sid: str, namespace: str) -> None:
        """The rooms or the session data of a connected `sid` changed (shared store: written
        through)."""

    def was_recovered(self, sid: str) -> bool:
        return sid in self.recovered

    def forget(self, sid: str) -> None:
        self.pids.pop(sid, None)
        self.recovered.discard(sid)
        self.floors.pop(sid, None)

    # -- the replay log (the outbound pipeline's `OutboundLog`) -----------------------------------
    delivers = False
    """This log is per process: the pipeline delivers and publishes what it logs."""

    def append(self, out: Outbound, encode: Callable[[SocketPacket], list[EncodedMessage]]) -> list[EncodedMessage]:
        """A replayable emit: its offset goes last in the arguments, the packet is encoded once
        with it and logged with its rooms and except-rooms (called on the loop, under the
        server's lock: the log's order is the order clients get packets in)."""
        offset = self.store.next_offset()
        parts = encode(SocketPacket(PacketType.EVENT, out.namespace, [out.event, *out.args, offset]))
        self.store.append(offset, out.namespace, out.room_list(), out.skip_list(),  # type: ignore[arg-type]
                          parts, self.clock())
        return parts

    # -- parking -----------------------------------------------------------------------------
    def park(self, client: ClientState, namespace: str, sid: str, reason: str) -> None:
        """Called for each accepted namespace of a connection that closed, before its
        disconnect handler runs (as Node persists before "disconnect")."""
        if reason not in RECOVERABLE_REASONS:
            return
        pid = self.pids.get(sid)
        if pid is None:
            return
        extra = None
        if self.environ_state is not None:
            extra = self.environ_state[0](client.environ)
        rooms: list[Hashable] = [sid, *self.server.manager.get_rooms(sid, namespace)]
        session = ParkedSession(sid, pid, namespace, list(dict.fromkeys(rooms)),
                                client.sessions.get(namespace), extra, floor=self.floors.get(sid, ""))
        try:
            self.store.park(session, self.clock())
        except Exception:  # a shared store that is down: this drop is not recoverable
            logger.exception("connection state recovery: cannot park %s", sid)

    # -- restoring ---------------------------------------------------------------------------
    def restore(self, client: ClientState, namespace: str, auth: Any) -> bool:
        """A CONNECT with ``{"pid", "offset"}``: True when this CONNECT is taken care of
        (recovered now, or being recovered from a shared store); False for a normal
        connection (no private id, or the recovery failed)."""
        if not isinstance(auth, dict):
            return False
        pid, offset = auth.get("pid"), auth.get("offset")
        if not isinstance(pid, str) or not isinstance(offset, str):
            return False
        server = self.server
        with server.lock:
            restored = self.store.restore(namespace, pid, offset, self.clock())
            if restored is None:
                logger.info("%s: state of %s not recovered", client.eio_sid, namespace)
                return False
            self._resume(client, namespace, restored, auth)
        return True

    def _resume(self, client: ClientState, namespace: str, restored: Restored, auth: Any) -> None:
        """Register the recovered client and send it the ack and the missed packets (on the
        loop, under the server's lock)."""
        server = self.server
        session = restored.session
        sid = server.manager.connect(client.eio_sid, namespace, sid=session.sid)
        client.namespaces[namespace] = sid
        for room in session.rooms:
            if room != sid and room is not None:
                server.manager.enter_room(sid, namespace, room)
        if session.data is not None:
            client.sessions[namespace] = session.data
        if session.extra is not None and self.environ_state is not None:
            self.environ_state[1](client.environ, session.extra)
        self.pids[sid] = session.pid
        self.floors[sid] = session.floor  # the session's own floor, not the reconnect's
        self.recovered.add(sid)
        missed: list[EncodedMessage] = [part for parts in restored.missed for part in parts]
        logger.info("%s: recovered %s in %s, %d missed packets", client.eio_sid, sid, namespace,
                    len(restored.missed))
        # skip_middlewares: the CONNECT ack and the missed packets now; else the connect
        # handler decides, the missed packets waiting for its answer, first in line.
        server.resume_session(client, namespace, sid, missed, auth, run_connect=not self.options.skip_middlewares)

