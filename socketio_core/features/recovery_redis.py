"""Connection state recovery across nodes: the parked sessions and the replay log in Redis.

Used when ``connection_state_recovery`` is on and the message queue is Redis
(``message_queue='redis://…'``). A client whose node went away (killed, restarted, or a
re-route of the load balancer) reconnects to any node and gets its sid, rooms, session data
and every packet it missed, as on one node (recovery_server.py).

**The replay log is a Redis Stream** (``<channel>:recovery:log``), one per channel, every
namespace in it. It is also the way replayable packets travel between nodes: an emit is
encoded once by the emitting node with a placeholder where the offset goes, and added to the
stream (``XADD … MAXLEN ~ max_buffered_packets``); every node, the emitting one included,
reads the stream in order (``XREAD BLOCK``) and delivers each entry to its own clients with
the entry's id spliced in as the offset. So there is one order, Redis's: every client sees
its packets in the order of their offsets, whichever node emitted them, and the offset a
client sends back names a position in that order — everything after it that reached the
client's rooms is exactly what it missed. (Delivering the local copy before the ``XADD`` has
an id, as pub/sub does, would let a client see two nodes' packets in an order different from
their ids, and a reconnect would then replay one twice or miss one.)

**The session is written through**: at connect, on each room or session change, and every
quarter of ``max_disconnection_duration`` while connected (``SET … PX``), and once more when
the connection drops. A node that is killed cannot park anything, so the copy must already be
there; its TTL makes it expire ``max_disconnection_duration`` after the last write at the
latest, never later. A manual disconnect deletes it (not recoverable). The copy of a
connected client (``…:recovery:live:<pid>``, with its node's host id) is not claimable while
that node's heartbeat key (``…:recovery:alive:<host>``, `ALIVE_TTL`) exists: a pid recovers
only a session whose client is gone, and only once (issue 21 #1b); a parked one (the drop
was seen) is claimable at once. A claim that finds a live node retries every `CLAIM_RETRY`
until the key of a killed node has expired, then gives up (a new connection).

**Restore** (off the loop, on the recovery worker): ``GETDEL`` the session (one node, one
recovery per drop, whatever the outcome); then, on the loop, entries this node applies from now on that
match its rooms are buffered; then ``XRANGE`` from the offset: complete only if the offset's
own entry is still in the stream (trimming removes the oldest entries only, so everything after
it is there too) and at most ``max_buffered_packets`` follow it; else the client gets a normal
new connection. On the loop again: the log's entries after the offset up to the newest entry
this node has applied (the stream reader may be behind the ``XRANGE``: later ones reach the
client live, as any client), then the buffered ones with a later id (nothing twice, nothing
missed), and the client is registered in the same step.

Offsets are the stream ids in a fixed width (``<13 digits ms>-<6 hex seq>``, 20 characters),
so splicing one into an encoded packet never changes its length (a msgpack string's header
stays right).
"""

from __future__ import annotations

import json as stdlib_json
import logging
import secrets
import time
from collections.abc import Callable, Hashable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from engineio_core.encoded import EncodedMessage

from ..brokers.core import Listener, Publisher
from ..protocol.packets import PacketType, SocketPacket
from ..server.pipeline import LOG, Outbound
from .recovery import ConnectionRecovery, make_recovery
from .recovery_store import (
    RECOVERABLE_REASONS,
    ParkedSession,
    RecoveryOptions,
    Restored,
    should_replay,
)

if TYPE_CHECKING:
    from ..brokers.redis_broker import RedisBroker
    from ..server.pubsub import PubSubManager
    from ..server.server import ClientState, SocketServer

logger = logging.getLogger("socketio_core.recovery")

OFFSET_WIDTH = 20
READ_COUNT = 512
READ_BLOCK_MS = 1000
MAX_BACKLOG = 10_000
"""Most writes waiting for the recovery worker (a hung Redis): past it emits are dropped and
logged, as the pub/sub publisher does."""
MAX_BATCH = 256
MAX_INBOX = 64
"""Most batches read from the stream and not applied yet (the reader then waits)."""
ALIVE_TTL = 3.0
"""Seconds a node's ``alive`` key outlives its last refresh (refreshed every `ALIVE_PERIOD`):
the session of a client still connected to a node whose key exists cannot be claimed."""
ALIVE_PERIOD = 1.0
CLAIM_RETRY = 0.25
"""Seconds between two claims of a session whose node still looks alive; the claim gives up
(a new connection) after `CLAIM_WINDOW`: a killed node's key has long expired then."""
CLAIM_WINDOW = 2 * ALIVE_TTL + 1.0

Entry = tuple[tuple[int, int], dict[bytes, bytes]]
"""A stream entry: its id as (ms, seq) and its fields."""


# -- offsets -----------------------------------------------------------------------------------
def parse_id(entry_id: bytes | str) -> tuple[int, int]:
    text = entry_id.decode("ascii") if isinstance(entry_id, bytes) else entry_id
    ms, _, seq = text.partition("-")
    return int(ms), int(seq)


def offset_of(entry_id: tuple[int, int]) -> str:
    """The offset clients see for a stream id (fixed width)."""
    ms, seq = entry_id
    if ms >= 10**13 or seq >= 16**6:
        raise ValueError(f"stream id {ms}-{seq} does not fit an offset")
    return f"{ms:013d}-{seq:06x}"


_HEX = frozenset("0123456789abcdef")


def id_of_offset(offset: str) -> tuple[int, int] | None:
    """The stream id an offset names (None: not an offset of this store)."""
    if len(offset) != OFFSET_WIDTH or offset[13] != "-":
        return None
    ms, seq = offset[:13], offset[14:]
    if not ms.isdigit() or not ms.isascii() or not set(seq) <= _HEX:
        return None
    return int(ms), int(seq, 16)


def _id_text(entry_id: tuple[int, int]) -> str:
    return f"{entry_id[0]}-{entry_id[1]}"


# -- entries ---------------------------------------------------------------------------------------
def entry_fields(namespace: str, rooms: list[Hashable] | None, skip: Sequence[str],
                 parts: Sequence[EncodedMessage], placeholder: str, local_to: str = "") -> dict[bytes, bytes]:
    """A log entry: the namespace, the addressee, the skipped sids, the host it is local to
    (an ``ignore_queue`` emit: logged for recovery, delivered by its own node only), the
    emitting node's offset placeholder and the encoded parts (``t`` text / ``b`` binary), the
    first one holding the placeholder."""
    fields: dict[bytes, bytes] = {
        b"o": placeholder.encode(),
        b"n": namespace.encode(),
        b"r": stdlib_json.dumps(rooms).encode(),
        b"s": stdlib_json.dumps(list(skip)).encode(),
        b"h": local_to.encode(),
    }
    for i, part in enumerate(parts):
        data = part.packet.data
        fields[b"p%d" % i] = b"b" + data if isinstance(data, bytes) else b"t" + data.encode()
    return fields


@dataclass(slots=True)
class LogEntry:
    namespace: str
    rooms: list[Hashable] | None
    skip: list[str]
    local_to: str
    parts: list[EncodedMessage]


def read_entry(fields: dict[bytes, bytes], offset: str) -> LogEntry:
    """An entry's parts with `offset` where the emitting node put its placeholder."""
    placeholder = fields[b"o"]
    if len(placeholder) != OFFSET_WIDTH:
        raise ValueError("bad offset placeholder")
    rooms = stdlib_json.loads(fields[b"r"])
    skip = stdlib_json.loads(fields[b"s"])
    if rooms is not None and not isinstance(rooms, list):
        raise ValueError("bad rooms")
    if not isinstance(skip, list):
        raise ValueError("bad skip")
    parts: list[EncodedMessage] = []
    i = 0
    while True:
        raw = fields.get(b"p%d" % i)
        if raw is None:
            break
        kind, body = raw[:1], raw[1:]
        if i == 0:
            where = body.rfind(placeholder)
            if where < 0:
                raise ValueError("entry without an offset placeholder")
            body = body[:where] + offset.encode() + body[where + len(placeholder):]
        if kind == b"t":
            parts.append(EncodedMessage.message(body.decode()))
        elif kind == b"b":
            parts.append(EncodedMessage.message(body))
        else:
            raise ValueError("bad part")
        i += 1
    if not parts:
        raise ValueError("entry without parts")
    return LogEntry(fields[b"n"].decode(), rooms, skip, fields.get(b"h", b"").decode(), parts)


def session_to_json(session: ParkedSession, json: Any, host: str = "") -> str:
    """The session as Redis keeps it; `host`: the node the client is connected to (a live
    session's write-through copy), "" for a parked one."""
    text = json.dumps({"sid": session.sid, "pid": session.pid, "nsp": session.namespace,
                       "rooms": session.rooms, "data": session.data, "extra": session.extra,
                       "floor": session.floor, "host": host})
    return text if isinstance(text, str) else text.decode()


def session_from_json(raw: bytes | str, json: Any) -> ParkedSession | None:
    try:
        value = json.loads(raw)
        sid, pid, nsp, rooms = value["sid"], value["pid"], value["nsp"], value["rooms"]
        floor = value.get("floor", "")
        if not (isinstance(sid, str) and isinstance(pid, str) and isinstance(nsp, str) and isinstance(rooms, list)
                and isinstance(floor, str)):
            return None
        return ParkedSession(sid, pid, nsp, rooms, value.get("data"), value.get("extra"), floor=floor)
    except Exception:
        return None


# -- the store -------------------------------------------------------------------------------------
class RedisRecoveryStore:
    """Blocking Redis operations of the recovery (run on the recovery worker and the stream
    reader, never on the event loop). `connect(**options)` returns a redis-py client."""

    shared = True

    def __init__(self, connect: Callable[..., Any], prefix: str, options: RecoveryOptions,
                 json: Any = None) -> None:
        self._connect = connect
        self.options = options
        self.json = json or stdlib_json
        self.stream = f"{prefix}:recovery:log"
        self.session_prefix = f"{prefix}:recovery:session:"
        self.live_prefix = f"{prefix}:recovery:live:"  # issue 21 #1b: write-through copies
        self.alive_prefix = f"{prefix}:recovery:alive:"
        self.placeholder = "~ofs" + secrets.token_hex(8)
        """What an emitting node encodes where the offset goes (as long as an offset)."""
        self._client: Any = None
        self._reader: Any = None

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = self._connect(socket_timeout=5.0)
        return self._client

    def reset(self) -> None:
        self._client = None
        self._reader = None

    def reset_reader(self) -> None:
        """Close the stream reader's connection: the next `read` makes a new one."""
        reader, self._reader = self._reader, None
        if reader is not None:
            try:
                reader.close()
            except Exception:
                pass

    def session_key(self, pid: str) -> str:
        return self.session_prefix + pid

    @property
    def ttl_ms(self) -> int:
        return max(1, int(self.options.max_disconnection_duration * 1000))

    # -- writes --------------------------------------------------------------------------------
    def write(self, ops: list[tuple[Any, ...]]) -> None:
        """``("x", fields)``: add a log entry; ``("set", pid, text)``: park a session (claimable
        at once), with the TTL; ``("live", pid, text)``: the write-through copy of a connected
        session (claimable only once its node is gone); ``("del", pid)``: forget one;
        ``("alive", host)``: a node's heartbeat. In order, one round trip."""
        pipe = self.client.pipeline(transaction=False)
        maxlen = self.options.max_buffered_packets
        for op in ops:
            if op[0] == "x":
                pipe.xadd(self.stream, op[1], maxlen=maxlen, approximate=True)
            elif op[0] == "set":
                pipe.set(self.session_key(op[1]), op[2], px=self.ttl_ms)
                pipe.delete(self.live_prefix + op[1])
            elif op[0] == "live":
                pipe.set(self.live_prefix + op[1], op[2], px=self.ttl_ms)
            elif op[0] == "del":
                pipe.delete(self.session_key(op[1]), self.live_prefix + op[1])
            elif op[0] == "alive":
                pipe.set(self.alive_prefix + op[1], b"1", px=int(ALIVE_TTL * 1000))
        pipe.execute()

    def trim(self, now: float) -> None:
        """Drop the log's entries older than ``max_disconnection_duration``."""
        horizon = int((now - self.options.max_disconnection_duration) * 1000)
        if horizon > 0:
            self.client.xtrim(self.stream, minid=f"{horizon}-0", approximate=True)

    # -- restoring ------------------------------------------------------------------------------
    def take(self, pid: str) -> ParkedSession | None:
        """The parked session of `pid`, removed (GETDEL: one recovery per park), or the
        write-through copy of a session whose node is gone; None for anything else."""
        return self.claim(pid)[0]

    def claim(self, pid: str) -> tuple[ParkedSession | None, bool]:
        """(the session, False) when `pid` may recover, removed so that nobody else does;
        (None, True) while its client is connected to a live node (issue 21 #1b: a live
        session is never copied); (None, False) when unknown."""
        client = self.client
        raw = client.getdel(self.session_key(pid))
        if raw is not None:
            return session_from_json(raw, self.json), False
        raw = client.get(self.live_prefix + pid)
        if raw is None:
            return None, False
        try:
            host = self.json.loads(raw).get("host")
        except Exception:
            host = None
        if isinstance(host, str) and host and client.exists(self.alive_prefix + host):
            return None, True
        raw = client.getdel(self.live_prefix + pid)  # its node is gone: one claimer only
        return (None if raw is None else session_from_json(raw, self.json)), False

    @staticmethod
    def below_floor(session: ParkedSession, offset: str) -> bool:
        """Issue 21: an offset from before the session began (or a session without a floor)
        is unknown: nothing logged before a client existed is replayed to it."""
        floor, entry_id = id_of_offset(session.floor), id_of_offset(offset)
        return floor is None or entry_id is None or entry_id < floor

    def entries_after(self, offset: str) -> list[Entry] | None:
        """The log's entries after `offset`, oldest first; None when that would not be
        complete (the offset's entry was trimmed, or more than ``max_buffered_packets``
        follow it)."""
        entry_id = id_of_offset(offset)
        if entry_id is None:
            return None
        limit = self.options.max_buffered_packets + 1
        rows = self.client.xrange(self.stream, min=_id_text(entry_id), count=limit + 1)
        if not rows or parse_id(rows[0][0]) != entry_id or len(rows) > limit:
            return None
        return [(parse_id(i), f) for i, f in rows[1:]]

    def restore(self, namespace: str, pid: str, offset: str, now: float) -> Restored | None:
        """The whole recovery in one call (blocking): the session and the packets it missed."""
        session = self.take(pid)
        if session is None or session.namespace != namespace or self.below_floor(session, offset):
            return None
        entries = self.entries_after(offset)
        if entries is None:
            return None
        missed: list[Sequence[EncodedMessage]] = []
        for entry_id, fields in entries:
            entry = read_entry(fields, offset_of(entry_id))
            if entry.namespace == namespace and should_replay(session.rooms, entry.rooms, entry.skip):
                missed.append(entry.parts)
        return Restored(session, missed)

    # -- reading ---------------------------------------------------------------------------------
    def last_id(self) -> tuple[int, int]:
        rows = self.client.xrevrange(self.stream, count=1)
        return parse_id(rows[0][0]) if rows else (0, 0)

    def read(self, after: tuple[int, int], block_ms: int = READ_BLOCK_MS) -> list[Entry]:
        if self._reader is None:
            self._reader = self._connect(socket_timeout=block_ms / 1000 + 10)
        answer = self._reader.xread({self.stream: _id_text(after)}, count=READ_COUNT, block=block_ms)
        if not answer:
            return []
        return [(parse_id(i), f) for i, f in answer[0][1]]


# -- the server side ------------------------------------------------------------------------------
def install_recovery(server: SocketServer, option: Any) -> ConnectionRecovery | None:
    """Turn connection state recovery on for `server` (the ``connection_state_recovery``
    option; None: off): with a Redis message queue the sessions and the log are in Redis
    (recovery_redis.py), else in memory. The recovery plugs into the server's hooks."""
    recovery = make_cluster_recovery(server, option) or make_recovery(server, option)
    if recovery is not None:
        recovery.install()
    return recovery


def make_cluster_recovery(server: SocketServer, option: Any) -> ClusterRecovery | None:
    """A `ClusterRecovery` when recovery is on and the manager publishes through Redis."""
    from ..brokers.redis_broker import RedisBroker  # imports no redis until a broker connects
    from ..server.pubsub import PubSubManager

    options = RecoveryOptions.parse(option)
    manager = server.manager
    if options is None or not isinstance(manager, PubSubManager) or not isinstance(manager.broker, RedisBroker):
        return None
    return ClusterRecovery(server, manager, manager.broker, options)


@dataclass(slots=True)
class _Restoring:
    namespace: str
    rooms: list[Hashable]
    buffer: list[tuple[tuple[int, int], list[EncodedMessage]]] = field(default_factory=list)


class ClusterRecovery(ConnectionRecovery):
    """`ConnectionRecovery` whose sessions and log are in Redis (see the module docstring)."""

    @property
    def host_id(self) -> str:
        """This node's id: the manager's (a forked worker takes a new one: `renew_host_id`)."""
        return self.manager.host_id

    def __init__(self, server: SocketServer, manager: PubSubManager, broker: RedisBroker,
                 options: RecoveryOptions) -> None:
        self.redis = RedisRecoveryStore(broker.connect, manager.channel, options, manager.json)
        super().__init__(server, options, self.redis)  # type: ignore[arg-type]
        self.manager = manager
        self._live: dict[str, tuple[ClientState, str]] = {}  # sid -> (client, namespace), connected here
        self._parked: set[str] = set()  # sids parked at their drop (the store keeps them)
        self._restoring: dict[str, _Restoring] = {}
        self._applied: tuple[int, int] | None = None  # the newest entry this node has applied
        driver = server.eio.driver
        # The broker core (brokers/core.py): the writes go through one ordered, bounded, batched
        # worker; the stream is read by one listener whose applier runs on the loop.
        self.worker: Publisher[tuple[Any, ...]] = Publisher(
            driver, self._run_batch, "socketio-recovery-worker", "connection state recovery", logger,
            MAX_BACKLOG, MAX_BATCH)
        self.reader: Listener[list[Entry]] = Listener(
            driver, self._subscribe, self._apply_entries, "socketio-recovery-reader", "connection state recovery",
            f"the recovery stream {self.redis.stream!r}", logger, MAX_INBOX)
        self._position: tuple[int, int] | None = None  # the newest entry read from the stream
        self._started = False
        server.when_running(self.start)

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> None:
        """Start the recovery worker, the stream reader and the session refresher (once, when
        the server runs)."""
        if self._started:
            return
        self._started = True
        self.reader.start()
        self._submit(("alive", self.host_id))
        self.server.eio.driver.spawn(self._refresh_forever)

    def _submit(self, item: tuple[Any, ...]) -> None:
        self.worker.submit(item)

    def _run_batch(self, batch: list[tuple[Any, ...]]) -> None:
        """The worker's send: the writes in one round trip, a call (a blocking read of a
        recovery) in its turn."""
        writes: list[tuple[Any, ...]] = []
        for item in batch:
            if item[0] == "call":
                self._flush(writes)
                writes = []
                try:
                    item[1](*item[2:])
                except Exception:
                    logger.exception("connection state recovery: Redis call failed")
            else:
                writes.append(item)
        self._flush(writes)

    def _flush(self, writes: list[tuple[Any, ...]]) -> None:
        if not writes:
            return
        for attempt in (1, 2):
            try:
                self.redis.write(writes)
                return
            except Exception as exc:
                self.redis.reset()
                if attempt == 2:
                    logger.error("connection state recovery: %d Redis writes lost: %s", len(writes), exc)

    # -- the log: emitting and reading -----------------------------------------------------------
    delivers = True
    """The stream carries each logged packet to every node, this one included: the pipeline
    neither publishes nor delivers it (`_apply` hands it back to the pipeline when read)."""

    def append(self, out: Outbound, encode: Callable[[SocketPacket], list[EncodedMessage]]) -> list[EncodedMessage]:
        """Encode once, with the placeholder for the offset, and add to the log (with the
        rooms and except-rooms); every node delivers it from there, this one too."""
        placeholder = self.redis.placeholder
        parts = encode(SocketPacket(PacketType.EVENT, out.namespace, [out.event, *out.args, placeholder]))
        self._submit(("x", entry_fields(out.namespace, out.room_list(), out.skip_list(),  # type: ignore[arg-type]
                                         parts, placeholder, self.host_id if out.local_only else "")))
        return parts

    def _subscribe(self) -> Iterator[list[Entry]]:
        """The reader's subscription: connects (one round trip: raises when Redis is away),
        then the stream's entries after the newest one read, in batches, from a reading
        connection of its own (closed with the subscription)."""
        self.redis.reset_reader()
        if self._position is None:
            self._position = self.redis.last_id()
            self.server.eio.driver.call_in_loop(self._start_at, self._position)
        else:
            self.redis.last_id()
        return self._entries()

    def _entries(self) -> Iterator[list[Entry]]:
        try:
            while True:
                entries = self.redis.read(self._position or (0, 0))
                if entries:
                    self._position = entries[-1][0]
                    yield entries
        finally:
            self.redis.reset_reader()

    def _start_at(self, position: tuple[int, int]) -> None:
        if self._applied is None:
            self._applied = position

    def _apply_entries(self, entries: list[Entry]) -> None:
        """The reader's applier (on the loop): each entry, in stream order."""
        for entry_id, fields in entries:
            try:
                self._apply(entry_id, fields)
            except Exception:
                logger.exception("connection state recovery: bad log entry %s", entry_id)

    def _apply(self, entry_id: tuple[int, int], fields: dict[bytes, bytes]) -> None:
        self._applied = entry_id
        entry = read_entry(fields, offset_of(entry_id))
        if self._restoring:
            for pending in self._restoring.values():
                if pending.namespace == entry.namespace and should_replay(pending.rooms, entry.rooms, entry.skip):
                    pending.buffer.append((entry_id, entry.parts))
        if entry.local_to and entry.local_to != self.host_id:
            return
        # The skipped names are rooms (a sid is a room): the pipeline leaves their members out.
        # (Its Admin UI report was made by the node that emitted it.)
        self.server.pipeline.apply(Outbound("", [], entry.namespace, entry.rooms,
                                            except_rooms=tuple(entry.skip), origin=LOG), entry.parts)

    # -- sessions --------------------------------------------------------------------------------
    def floor_now(self) -> str:
        """The newest entry this node has applied (a stream id); before the reader started,
        this node's clock (the ids are Redis's milliseconds)."""
        return offset_of(self._applied or (int(time.time() * 1000), 0))

    def _snapshot(self, client: ClientState, namespace: str, sid: str, host: str = "") -> str | None:
        pid = self.pids.get(sid)
        if pid is None:
            return None
        rooms: list[Hashable] = [sid, *self.server.manager.get_rooms(sid, namespace)]
        extra = self.environ_state[0](client.environ) if self.environ_state is not None else None
        session = ParkedSession(sid, pid, namespace, list(dict.fromkeys(rooms)),
                                client.sessions.get(namespace), extra, floor=self.floors.get(sid, ""))
        try:
            return session_to_json(session, self.redis.json, host)
        except (TypeError, ValueError) as exc:
            logger.warning("connection state recovery: the session of %s is not JSON (%s); "
                           "it cannot be recovered on another node", sid, exc)
            return None

    def _write(self, sid: str) -> None:
        live = self._live.get(sid)
        if live is None:
            return
        text = self._snapshot(live[0], live[1], sid, self.host_id)
        if text is not None:
            self._submit(("live", self.pids[sid], text))

    def accepted(self, client: ClientState, namespace: str, sid: str) -> None:
        self._live[sid] = (client, namespace)
        self._parked.discard(sid)
        self._write(sid)

    def changed(self, sid: str, namespace: str) -> None:
        if sid in self._live:
            # After the room change itself, which may still be on its way to the loop.
            self.server.in_loop(self._write, sid)

    def _refresh_forever(self) -> None:
        driver = self.server.eio.driver
        period = max(0.5, self.options.max_disconnection_duration / 4)
        due = time.monotonic() + period
        while True:
            driver.sleep(min(ALIVE_PERIOD, period))
            try:
                self._submit(("alive", self.host_id))  # this node's heartbeat (issue 21 #1b)
                if time.monotonic() < due:
                    continue
                due = time.monotonic() + period
                for sid in list(self._live):
                    self._write(sid)
                self._submit(("call", self.redis.trim, time.time()))
            except Exception:
                logger.exception("connection state recovery: refresh failed")

    def park(self, client: ClientState, namespace: str, sid: str, reason: str) -> None:
        if reason not in RECOVERABLE_REASONS:
            return
        text = self._snapshot(client, namespace, sid)
        if text is not None:
            self._parked.add(sid)
            self._submit(("set", self.pids[sid], text))

    def forget(self, sid: str) -> None:
        pid = self.pids.get(sid)
        self._live.pop(sid, None)
        if sid in self._parked:
            self._parked.discard(sid)
        elif pid is not None:
            self._submit(("del", pid))  # a manual disconnect or a refusal: not recoverable
        super().forget(sid)

    # -- restoring ---------------------------------------------------------------------------
    def restore(self, client: ClientState, namespace: str, auth: Any) -> bool:
        if not isinstance(auth, dict):
            return False
        pid, offset = auth.get("pid"), auth.get("offset")
        if not isinstance(pid, str) or not isinstance(offset, str) or id_of_offset(offset) is None:
            return False
        for sid, live_pid in self.pids.items():
            if live_pid == pid and sid in self._live:  # connected here: never copied (issue 21)
                logger.info("%s: pid of a connected session refused", client.eio_sid)
                return False
        self._submit(("call", self._take, client, namespace, pid, offset, auth, time.monotonic()))
        return True

    def _present(self, client: ClientState) -> bool:
        return self.server.client_state(client.eio_sid) is client

    def _take(self, client: ClientState, namespace: str, pid: str, offset: str, auth: Any, since: float) -> None:
        """Worker: the session, then back on the loop."""
        session: ParkedSession | None = None
        busy = False
        try:
            session, busy = self.redis.claim(pid)
        except Exception as exc:
            self.redis.reset()
            logger.error("connection state recovery: cannot read session: %s", exc)
        if busy and time.monotonic() - since < CLAIM_WINDOW:
            # Its node still looks alive: a killed node's key expires within ALIVE_TTL.
            self.server.eio.driver.call_in_loop(self._retry_take, client, namespace, pid, offset, auth, since)
            return
        self.server.eio.driver.call_in_loop(self._taken, client, namespace, session, offset, auth)

    def _retry_take(self, client: Any, namespace: str, pid: str, offset: str, auth: Any, since: float) -> None:
        if self._present(client) and namespace not in client.namespaces:
            self.server.eio.call_later(CLAIM_RETRY, self._submit, ("call", self._take, client, namespace, pid,
                                                                   offset, auth, since))

    def _taken(self, client: Any, namespace: str, session: ParkedSession | None, offset: str, auth: Any) -> None:
        """Loop: from now on the entries read for its rooms are kept, then the log is read."""
        if not self._present(client) or namespace in client.namespaces:
            return
        if session is None or session.namespace != namespace or self.redis.below_floor(session, offset):
            logger.info("%s: state of %s not recovered", client.eio_sid, namespace)
            self.server.connect_new(client, namespace, auth)
            return
        self._restoring[session.sid] = _Restoring(namespace, list(session.rooms))
        self._submit(("call", self._fetch, client, namespace, session, offset, auth))

    def _fetch(self, client: ClientState, namespace: str, session: ParkedSession, offset: str, auth: Any) -> None:
        entries: list[Entry] | None = None
        try:
            entries = self.redis.entries_after(offset)
        except Exception as exc:
            self.redis.reset()
            logger.error("connection state recovery: cannot read the log: %s", exc)
        self.server.eio.driver.call_in_loop(self._fetched, client, namespace, session, offset, entries, auth)

    def _fetched(self, client: ClientState, namespace: str, session: ParkedSession, offset: str,
                 entries: list[Entry] | None, auth: Any) -> None:
        pending = self._restoring.pop(session.sid, None)
        if not self._present(client) or namespace in client.namespaces or pending is None:
            return
        if entries is None:
            logger.info("%s: state of %s not recovered (the log no longer covers offset %s)",
                        client.eio_sid, namespace, offset)
            self.server.connect_new(client, namespace, auth)
            return
        # The log up to what this node has applied (the rest comes live, as to any client),
        # then what was buffered since `_taken` and is not in that part of the log.
        missed: list[Sequence[EncodedMessage]] = []
        last = id_of_offset(offset) or (0, 0)
        applied = self._applied
        for entry_id, fields in entries:
            if applied is not None and entry_id > applied:
                break
            entry = read_entry(fields, offset_of(entry_id))
            if entry.namespace == namespace and should_replay(session.rooms, entry.rooms, entry.skip):
                missed.append(entry.parts)
            last = entry_id
        missed.extend(parts for entry_id, parts in pending.buffer if entry_id > last)
        with self.server.lock:
            self._resume(client, namespace, Restored(session, missed), auth)
