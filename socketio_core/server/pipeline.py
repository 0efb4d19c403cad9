"""The outbound pipeline: every emit of a server takes this one path, in named stages.

    recipients (local, then cluster) → encode once → replay log → report → mirror → deliver

Whatever its options (``to``, ``skip_sid``, ``skip_rooms``, ``volatile``, a callback) and
wherever it starts (a handler, a background task, a plain thread, the Flask test client, a
message applied from the queue, a broadcast of the Node cluster, an entry of the shared replay
log), an emit is one `Outbound` and goes through `OutboundPipeline`:

1. **recipients** — the clients of this process in ``rooms`` (None: the namespace), minus
   ``skip_sids`` and the members of ``except_rooms`` (`ClientManager.recipients`); a volatile
   emit keeps only those whose transport takes a message now (Node's ``writable``).
2. **encode once** — one packet, one list of Engine.IO messages for every recipient (an emit
   with an ack callback is encoded per recipient: each has its own ack id).
3. **replay log** (connection state recovery, `OutboundLog`) — Node's rules: an EVENT without
   an ack and not volatile gets an offset (its last argument) and is logged with its rooms and
   except-rooms, so that a client that comes back is replayed what it missed, filtered by the
   rooms it was in. A shared log (Redis Streams) also carries the packet to every node: then
   it is delivered when read back, and the two stages below the log are the log's.
4. **cluster** — the packet, already encoded, is published for the other processes
   (`ClientManager.publish_emit`; nothing for a process alone or an ``ignore_queue`` emit).
5. **report** (the Admin UI, `OutboundObserver`) — the node that delivers reports what it
   delivers, one ``event_sent`` per recipient.
6. **mirror** (the Node bridge, `OutboundMirror`) — an emit this process originates is also
   published for the Node servers of a mixed cluster.
7. **deliver** — `Deliver` (the server's: held for clients whose connect handler has not
   accepted yet, then `EngineServer.send_many`).

A feature that is off costs one test in its stage. Emits from a foreign OS thread are encoded
in that thread (bad data raises in the caller; later changes to the data are not sent) and run
on the loop, where the order of the log is decided.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from ..protocol.packets import PacketType, SocketPacket

if TYPE_CHECKING:
    from engineio_core.drivers.base import Driver
    from engineio_core.encoded import EncodedMessage

Recipient = tuple[str, str]
"""(sid, eio_sid) of one client in one namespace."""
Encode = Callable[[SocketPacket], "list[EncodedMessage]"]
Deliver = Callable[[Sequence[Recipient], "Sequence[EncodedMessage]"], None]

LOCAL = "local"
"""Origins of an emit: this process (a handler, a task, a thread, the test client)…"""
QUEUE = "queue"
"""…another process of the cluster, through the message queue…"""
NODE = "node"
"""…a server of the Node cluster (`NodeRedisBridge`)…"""
LOG = "log"
"""…or the shared replay log, read back (a cluster with connection state recovery)."""


class Outbound(NamedTuple):
    """One emit, as every stage sees it (immutable; a named tuple rather than a frozen
    dataclass because it is made on every emit, and a frozen dataclass costs about three times
    as much to build). Addressing is Node's: ``rooms`` is a room (a sid is a room), a list of
    rooms (their union) or None (the whole namespace); the members of ``except_rooms`` and the
    sids of ``skip_sids`` are left out."""

    event: str
    args: list[Any]
    namespace: str = "/"
    rooms: Any = None
    skip_sids: frozenset[str] = frozenset()
    except_rooms: tuple[Hashable, ...] = ()
    volatile: bool = False
    callback: Callable[..., Any] | None = None
    local_only: bool = False
    """``ignore_queue``: the other processes do not get it (a shared log still logs it)."""
    origin: str = LOCAL

    @property
    def replayable(self) -> bool:
        """Node's rule: an EVENT without an ack and not volatile is logged for recovery."""
        return self.callback is None and not self.volatile

    def skip_list(self) -> list[Hashable]:
        """The sids and the rooms left out, as one list of rooms (a sid is a room): what the
        replay log keeps and filters with."""
        return [*sorted(self.skip_sids), *self.except_rooms]

    def room_list(self) -> list[Hashable] | None:
        """The addressee as a list of rooms, or None for the whole namespace."""
        rooms = self.rooms
        if rooms is None:
            return None
        if isinstance(rooms, (list, tuple, set, frozenset)):
            return list(rooms)
        return [rooms]


def skip_set(skip_sid: Any) -> frozenset[str]:
    """``skip_sid`` (None, a sid or several) as a set."""
    if skip_sid is None:
        return frozenset()
    if isinstance(skip_sid, str):
        return frozenset((skip_sid,))
    return frozenset(skip_sid)


# -- the hooks of the stages ------------------------------------------------------------------------
class OutboundLog(Protocol):
    """The replay log of connection state recovery (stage 3)."""

    delivers: bool
    """True when the log also carries the packet to every node, this one included (a shared
    stream): the pipeline then neither publishes nor delivers it itself."""

    def append(self, out: Outbound, encode: Encode) -> Sequence[EncodedMessage]:
        """Give `out` its offset, encode it once (with `encode`), log it with its rooms and
        except-rooms; returns the encoded messages. Called on the loop, under the lock."""
        ...


class OutboundObserver(Protocol):
    """Told what this node delivers (stage 5: the Admin UI's ``event_sent``)."""

    def event_sent(self, out: Outbound, recipients: Sequence[Recipient]) -> None: ...


class OutboundMirror(Protocol):
    """Publishes the emits this process originates elsewhere (stage 6: the Node cluster)."""

    def mirror(self, out: Outbound) -> None: ...


class Recipients(Protocol):
    """What the pipeline needs of the client manager (`manager.ClientManager` has it all)."""

    is_pubsub: bool

    def recipients(self, namespace: str, rooms: Any, skip_sids: frozenset[str],
                   except_rooms: Sequence[Hashable] = ()) -> list[Recipient]: ...

    def publish_emit(self, out: Outbound, parts: Sequence[EncodedMessage]) -> None: ...

    def emit(self, event: str, data: list[Any], namespace: str, room: Any = None, skip_sid: Any = None,
             callback: Callable[..., Any] | None = None, ignore_queue: bool = False,
             encoded: Sequence[EncodedMessage] | None = None) -> None: ...


class OutboundPipeline:
    """The stages above, for one server. `log`, `observer` and `mirrors` are the hooks of
    the features (None / empty when off)."""

    def __init__(self, manager: Recipients, encode: Encode, deliver: Deliver,
                 writable: Callable[[str], bool], driver: Driver, lock: AbstractContextManager[Any],
                 run_from_thread: Callable[..., None]) -> None:
        self.manager = manager
        self.encode = encode
        self.deliver = deliver
        self.writable = writable
        self.driver = driver
        self.lock = lock
        self.run_from_thread = run_from_thread
        self.log: OutboundLog | None = None
        self.observer: OutboundObserver | None = None
        self.mirrors: list[OutboundMirror] = []

    # -- entries -----------------------------------------------------------------------------
    def emit(self, out: Outbound) -> None:
        """An emit of this process, from any thread."""
        if self.driver.in_loop():
            self.run(out, None)
            return
        encoded = None
        if out.callback is None:
            # From a foreign thread: encode here, so that bad data raises in the caller and
            # later changes to it are not what gets sent; the rest runs on the loop.
            encoded = self.encode(SocketPacket(PacketType.EVENT, out.namespace, [out.event, *out.args]))
        self.run_from_thread(self.run, out, encoded)

    def run(self, out: Outbound, encoded: Sequence[EncodedMessage] | None) -> None:
        """Every stage, on the loop. `encoded`: the packet of ``[event, *args]`` when the
        caller encoded it already (another node, a foreign thread)."""
        if out.callback is not None:
            self._run_with_acks(out)
            return
        log = self.log
        if log is not None and out.replayable and out.origin is LOCAL:
            with self.lock:  # threads: the log's order is the order clients get packets in
                parts = log.append(out, self.encode)
                if log.delivers:
                    # Delivered when read back from the log (origin LOG); reported here, for
                    # the clients of this node, as the node that emits.
                    if self.observer is not None:
                        recipients = self.recipients(out)
                        if recipients:
                            self.observer.event_sent(out, recipients)
                    if self.mirrors:
                        self._mirror(out)
                    return
                self._fan_out(out, parts)
            return
        if encoded is None:
            encoded = self.encode(SocketPacket(PacketType.EVENT, out.namespace, [out.event, *out.args]))
        self._fan_out(out, encoded)

    def apply(self, out: Outbound, encoded: Sequence[EncodedMessage] | None) -> None:
        """An emit another process (the queue, the Node cluster, the shared log) sends to the
        clients of this one: the same stages, on the loop, without publishing it again."""
        self.run(out, encoded)

    # -- stages --------------------------------------------------------------------------------
    def recipients(self, out: Outbound) -> list[Recipient]:
        """Stage 1: this process's clients of `out` (a volatile emit: those that can take it)."""
        recipients = self.manager.recipients(out.namespace, out.rooms, out.skip_sids, out.except_rooms)
        if out.volatile and recipients:
            writable = self.writable
            recipients = [r for r in recipients if writable(r[1])]
        return recipients

    def _fan_out(self, out: Outbound, parts: Sequence[EncodedMessage]) -> None:
        """Stages 1, 4, 5, 6 and 7 for a packet encoded once (each stage whose feature is off
        is one test: this is the hot path of every emit)."""
        manager = self.manager
        recipients = manager.recipients(out.namespace, out.rooms, out.skip_sids, out.except_rooms)
        if out.volatile and recipients:
            writable = self.writable
            recipients = [r for r in recipients if writable(r[1])]
        if manager.is_pubsub and out.origin is LOCAL and not out.local_only:
            manager.publish_emit(out, parts)
        if self.observer is not None and recipients and out.origin is not LOG:
            self.observer.event_sent(out, recipients)
        if self.mirrors:
            self._mirror(out)
        if recipients:
            self.deliver(recipients, parts)

    def _mirror(self, out: Outbound) -> None:
        if out.origin is LOCAL and not out.local_only:
            for mirror in self.mirrors:
                mirror.mirror(out)  # queues it for a publisher: never blocks, never raises

    def _run_with_acks(self, out: Outbound) -> None:
        """An emit with an ack callback: each recipient has its own ack id, so its own
        encoding; never logged (Node's rule), never mirrored. The manager registers the
        callbacks (and routes the answer of a client of another process)."""
        recipients = None
        if self.observer is not None or out.except_rooms or out.volatile:
            recipients = self.recipients(out)
            if self.observer is not None and recipients:
                self.observer.event_sent(out, recipients)
        if out.except_rooms or out.volatile:  # addressed one by one: the manager has no filter
            for sid, _ in recipients or ():
                self.manager.emit(out.event, out.args, out.namespace, room=sid, callback=out.callback,
                                  ignore_queue=True)
            return
        self.manager.emit(out.event, out.args, out.namespace, room=out.rooms, skip_sid=out.skip_sids or None,
                          callback=out.callback, ignore_queue=out.local_only or out.origin is not LOCAL)
