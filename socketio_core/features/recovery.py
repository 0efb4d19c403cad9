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
    room_list,
)

if TYPE_CHECKING:
    from engineio_core.encoded import EncodedMessage

# The server and its per-connection state are typed loosely here: `server` imports this
# module, and the package keeps its import graph acyclic (type-only imports included).
SocketServer = Any
ClientState = Any

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
            with self.server._lock:
                self.store.sweep(self.clock())
        finally:
            period = max(0.1, min(SWEEP_INTERVAL, self.options.max_disconnection_duration / 4))
            self.server.eio.call_later(period, self._sweep)

    # -- ids ---------------------------------------------------------------------------------
    def floor_now(self) -> str:
        """The replay floor of a session that begins now: the log's newest offset."""
        return self.store.position()

    def started(self, sid: str) -> None:
        """`sid` begins (it may receive packets from now on): its replay floor is taken, so
        a recovery never replays what was logged before it existed (issue 21)."""
        self.floors.setdefault(sid, self.floor_now())

    def connect_ack(self, sid: str) -> dict[str, Any]:
        self.started(sid)
        pid = self.pids.get(sid)
        if pid is None:
            pid = self.pids[sid] = new_pid()
        return {"sid": sid, "pid": pid}

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

    # -- emitting ----------------------------------------------------------------------------
    def emit(self, event: str, args: list[Any], namespace: str, target: Any, skip_sid: Any,
             ignore_queue: bool) -> None:
        """A replayable emit: its offset goes last in the arguments, the packet is encoded once
        with it, logged, and handed to the manager already encoded."""
        server = self.server
        if not server.eio.driver.in_loop():
            # From a foreign thread: un-serialisable data raises here, in the caller; the
            # offset is taken on the loop, where the log's order is decided.
            server.encode(SocketPacket(PacketType.EVENT, namespace, [event, *args]))
            server.eio.run_from_thread(self._emit, event, list(args), namespace, target, skip_sid, ignore_queue)
            return
        self._emit(event, args, namespace, target, skip_sid, ignore_queue)

    def _emit(self, event: str, args: list[Any], namespace: str, target: Any, skip_sid: Any,
              ignore_queue: bool) -> None:
        server = self.server
        with server._lock:  # threads: the log's order is the order clients get packets in
            offset = self.store.next_offset()
            full = [*args, offset]
            parts = server.encode(SocketPacket(PacketType.EVENT, namespace, [event, *full]))
            skip = [skip_sid] if isinstance(skip_sid, str) else list(skip_sid or ())
            self.store.append(offset, namespace, room_list(target), skip, parts, self.clock())
            server.manager.emit(event, full, namespace, room=target, skip_sid=skip_sid,
                                ignore_queue=ignore_queue, encoded=parts)

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
        with server._lock:
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
        if self.options.skip_middlewares:
            if client.connect_timer is not None:
                server.eio.cancel_call(client.connect_timer)
                client.connect_timer = None
            server._send_packet(client.eio_sid, SocketPacket(PacketType.CONNECT, namespace, self.connect_ack(sid)))
            self.accepted(client, namespace, sid)
            send = server.eio.send_encoded
            for part in missed:
                send(client.eio_sid, part)
            return
        # The connect handler decides; the missed packets wait for its answer, first in line.
        client.pending.add(namespace)
        client.gated[namespace] = []  # its events wait for that answer too (issue 21)
        server._held[sid] = missed
        server._dispatch(server._run_connect, client, namespace, sid, auth)

