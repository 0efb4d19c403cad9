"""Connection state recovery, the protocol's bookkeeping (PURE).

The Socket.IO ≥ 4.6 protocol (Node's ``connectionStateRecovery``): with recovery on, the
CONNECT ack carries a private session id next to the sid (``{"sid", "pid"}``); every
*replayable* packet sent to clients carries an **offset**, a string, as its last argument; a
client that reconnects after an involuntary drop sends ``{"pid", "offset", ...auth}`` in its
CONNECT, and gets back its sid, its rooms, its session data and the replayable packets it
missed since that offset, in order, before anything new.

What is replayable: every EVENT emitted without an ack callback (an ack cannot be restored on
another connection, Node's rule too). Node keeps ``socket.emit`` (to one socket) out of the log
but replays ``io.to(sid)``; a Flask-SocketIO emit to one client has no such distinction, so it
is replayable too.

This module holds the pieces that need no I/O: the options, the parked session, the
in-memory log and park (`MemoryRecoveryStore`), and the matching rule of a logged packet
against a parked client's rooms. Time enters as ``now`` (seconds). A recovery either gives
the *complete* list of missed packets or fails: an unknown or expired private id, an offset
that is not in the log (never seen, or already trimmed by age or size), or another namespace
all fail, and the client gets a normal new connection.
"""

from __future__ import annotations

import secrets
from collections import OrderedDict, deque
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from engineio_core.encoded import EncodedMessage

DEFAULT_MAX_DISCONNECTION_DURATION = 120.0
DEFAULT_MAX_BUFFERED_PACKETS = 10_000
DEFAULT_MAX_BUFFERED_BYTES = 16_777_216
DEFAULT_MAX_TOTAL_BUFFERED_BYTES = 67_108_864
DEFAULT_MAX_PARKED_SESSIONS = 10_000
DEFAULT_MAX_PARKED_BYTES = 33_554_432
DEFAULT_MAX_SESSION_BYTES = 65_536

RECOVERABLE_REASONS = frozenset({"ping timeout", "transport close", "transport error", "client disconnect"})
"""Engine.IO close reasons after which a session is parked. "client disconnect" here is the
Engine.IO CLOSE packet (a client whose transport was closed, e.g. ``socket.io.engine.close()``
over polling; Node calls it "transport close"); a Socket.IO DISCONNECT packet (a manual
``socket.disconnect()``) and a server-side disconnect never reach the park."""

_KEYS = {"max_disconnection_duration", "skip_middlewares", "max_buffered_packets", "max_buffered_bytes",
         "max_total_buffered_bytes", "max_parked_sessions", "max_parked_bytes", "max_session_bytes"}
_SIZES = ("max_buffered_bytes", "max_total_buffered_bytes", "max_parked_sessions", "max_parked_bytes",
          "max_session_bytes")
_SIZE_DEFAULTS = dict(zip(_SIZES, (DEFAULT_MAX_BUFFERED_BYTES, DEFAULT_MAX_TOTAL_BUFFERED_BYTES,
                                   DEFAULT_MAX_PARKED_SESSIONS, DEFAULT_MAX_PARKED_BYTES, DEFAULT_MAX_SESSION_BYTES),
                          strict=True))


@dataclass(frozen=True, slots=True)
class RecoveryOptions:
    """``connection_state_recovery=`` of `SocketServer` / `flask_socketio.SocketIO`."""

    max_disconnection_duration: float = DEFAULT_MAX_DISCONNECTION_DURATION
    """Seconds a dropped session (and the log it needs) is kept."""
    skip_middlewares: bool = True
    """A recovered connection does not run the connect handler again."""
    max_buffered_packets: int = DEFAULT_MAX_BUFFERED_PACKETS
    """Most packets the replay log keeps (per namespace in memory, per channel in Redis)."""
    max_buffered_bytes: int = DEFAULT_MAX_BUFFERED_BYTES
    """Most payload bytes the replay log of one namespace keeps in memory; the oldest
    packets go first (issue 21 #1c)."""
    max_total_buffered_bytes: int = DEFAULT_MAX_TOTAL_BUFFERED_BYTES
    """Most payload bytes the in-memory replay logs of all namespaces keep together."""
    max_parked_sessions: int = DEFAULT_MAX_PARKED_SESSIONS
    """Most dropped sessions parked in memory; past it the oldest is evicted (issue 21 #2)."""
    max_parked_bytes: int = DEFAULT_MAX_PARKED_BYTES
    """Most bytes (room names and session data, estimated) the parked sessions hold."""
    max_session_bytes: int = DEFAULT_MAX_SESSION_BYTES
    """Most bytes one session may park; a larger one is not parked (not recoverable)."""

    @classmethod
    def parse(cls, value: Any) -> RecoveryOptions | None:
        """None/False: off; True: the defaults; a dict (or RecoveryOptions): those options."""
        if value is None or value is False:
            return None
        if value is True:
            return cls()
        if isinstance(value, RecoveryOptions):
            return value
        if not isinstance(value, Mapping):
            raise TypeError("connection_state_recovery must be True, False or a dict of options")
        unknown = set(value) - _KEYS
        if unknown:
            raise ValueError(f"unknown connection_state_recovery options: {sorted(unknown)}; "
                             f"use {sorted(_KEYS)}")
        duration = float(value.get("max_disconnection_duration", DEFAULT_MAX_DISCONNECTION_DURATION))
        size = int(value.get("max_buffered_packets", DEFAULT_MAX_BUFFERED_PACKETS))
        if duration <= 0 or size <= 0:
            raise ValueError("max_disconnection_duration and max_buffered_packets must be positive")
        sizes = {key: int(value.get(key, default)) for key, default in _SIZE_DEFAULTS.items()}
        if any(v <= 0 for v in sizes.values()):
            raise ValueError(f"{', '.join(_SIZES)} must be positive")
        return cls(duration, bool(value.get("skip_middlewares", True)), size, **sizes)


def new_pid() -> str:
    """A private session id: 128 random bits (never sent to anyone but its client)."""
    return secrets.token_urlsafe(16)


@dataclass(slots=True)
class ParkedSession:
    """What a dropped client gets back: its sid, private id, rooms (its sid room included)
    and session data, in one namespace."""

    sid: str
    pid: str
    namespace: str
    rooms: list[Hashable]
    data: Any = None
    extra: Any = None
    """State of the layer above (Flask-SocketIO's forked Flask session)."""
    disconnected_at: float = 0.0
    floor: str = ""
    """The store's newest offset when the session began (issue 21): it may be replayed only
    what was logged after it; an offset below it is unknown (no floor: nothing recoverable)."""


def approx_size(value: Any, limit: int) -> int:
    """What `value` (room names, session data: JSON-like) weighs, roughly, in bytes; counting
    stops a little past `limit` (a huge value is not walked whole)."""
    total = 0
    stack = [value]
    while stack and total <= limit:
        item = stack.pop()
        if isinstance(item, (str, bytes, bytearray)):
            total += len(item) + 48
        elif isinstance(item, dict):
            total += 64 + 16 * len(item)
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, (list, tuple, set, frozenset)):
            total += 56 + 8 * len(item)
            stack.extend(item)
        else:
            total += 32
    return total


def _logged_size(parts: Sequence[EncodedMessage]) -> int:
    return sum(len(part.packet.data) for part in parts) + 200


@dataclass(slots=True)
class Restored:
    session: ParkedSession
    missed: list[Sequence[EncodedMessage]] = field(default_factory=list)
    """The missed packets, oldest first, each as its encoded Engine.IO messages."""


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(word.title() for word in rest)


def should_replay(session_rooms: Iterable[Hashable], rooms: Sequence[Hashable] | None,
                  skip: Iterable[str]) -> bool:
    """Node's rule: a packet sent to `rooms` (None: the whole namespace) except the sids in
    `skip` reaches a client in `session_rooms` (its own sid room included)."""
    members = set(session_rooms)
    if rooms is not None and members.isdisjoint(rooms):
        return False
    return members.isdisjoint(skip)


def room_list(room: Any) -> list[Hashable] | None:
    """An emit's addressee as the log keeps it: None (everyone) or a list of rooms."""
    if room is None:
        return None
    if isinstance(room, (list, tuple, set, frozenset)):
        return list(room)
    return [room]


class RecoveryStore(Protocol):
    """Where parked sessions and the replay log live (memory, or Redis for a cluster)."""

    shared: bool
    """Whether other processes see it (then `restore` does blocking I/O, off the loop)."""

    def next_offset(self) -> str: ...
    def position(self) -> str: ...
    def append(self, offset: str, namespace: str, rooms: list[Hashable] | None, skip: Sequence[str],
               parts: Sequence[EncodedMessage], now: float) -> None: ...
    def park(self, session: ParkedSession, now: float) -> None: ...
    def sweep(self, now: float) -> None: ...
    def stats(self) -> dict[str, int]: ...
    def restore(self, namespace: str, pid: str, offset: str, now: float) -> Restored | None: ...


@dataclass(slots=True)
class _Logged:
    seq: int
    rooms: list[Hashable] | None
    skip: tuple[str, ...]
    parts: Sequence[EncodedMessage]
    at: float
    size: int = 0


class MemoryRecoveryStore:
    """One process: a log per namespace (a deque bounded in packets and in bytes, per
    namespace and for the store, trimmed by age as it grows and on `sweep`) and the parked
    sessions by private id (bounded in count and bytes, the oldest evicted first; expired
    ones dropped on `sweep`, which the server calls from its timer loop).

    Offsets are ``<prefix>-<n>``: `n` counts the packets of this store, so finding an offset
    is an index computation, and the random prefix makes offsets of another process (or of
    this one before a restart) unknown instead of wrong."""

    shared = False

    def __init__(self, options: RecoveryOptions) -> None:
        self.options = options
        self._prefix = secrets.token_hex(4)
        self._seq = 0
        self._logs: dict[str, deque[_Logged]] = {}
        self._trimmed: dict[str, int] = {}  # namespace -> newest seq dropped from its log
        self._parked: OrderedDict[str, ParkedSession] = OrderedDict()
        self._parked_sizes: dict[str, int] = {}
        self.log_bytes: dict[str, int] = {}  # namespace -> payload bytes in its log
        self.total_log_bytes = 0
        self.parked_bytes = 0
        self.counts = {"evicted": 0, "expired": 0, "too_big": 0, "log_trimmed_for_bytes": 0}

    def next_offset(self) -> str:
        self._seq += 1
        return f"{self._prefix}-{self._seq:x}"

    def position(self) -> str:
        """The offset of the newest packet logged so far (a new session's floor)."""
        return f"{self._prefix}-{self._seq:x}"

    def _seq_of(self, offset: str) -> int | None:
        prefix, dash, number = offset.partition("-")
        if not dash or prefix != self._prefix or not number or len(number) > 16:
            return None
        try:
            return int(number, 16)
        except ValueError:
            return None

    def append(self, offset: str, namespace: str, rooms: list[Hashable] | None, skip: Sequence[str],
               parts: Sequence[EncodedMessage], now: float) -> None:
        seq = self._seq_of(offset)
        if seq is None:
            raise ValueError(f"offset {offset!r} was not made by this store")
        log = self._logs.get(namespace)
        if log is None:
            log = self._logs[namespace] = deque()
        size = _logged_size(parts)
        # The packets only, not the wire forms delivery cached on them (a WebSocket frame and
        # payload would triple what the log holds; a replay builds them again).
        kept = [type(part)(part.packet) for part in parts]
        log.append(_Logged(seq, rooms, tuple(skip), kept, now, size))
        self.log_bytes[namespace] = self.log_bytes.get(namespace, 0) + size
        self.total_log_bytes += size
        if len(log) > self.options.max_buffered_packets:
            self._drop_oldest(namespace, log)
        while self.log_bytes[namespace] > self.options.max_buffered_bytes and log:
            self._drop_oldest(namespace, log)
            self.counts["log_trimmed_for_bytes"] += 1
        while self.total_log_bytes > self.options.max_total_buffered_bytes:
            oldest = min((n for n in self._logs if self._logs[n]), key=lambda n: self._logs[n][0].seq)
            self._drop_oldest(oldest, self._logs[oldest])
            self.counts["log_trimmed_for_bytes"] += 1
        self._trim(namespace, log, now)

    def _drop_oldest(self, namespace: str, log: deque[_Logged]) -> None:
        gone = log.popleft()
        self._trimmed[namespace] = gone.seq
        self.log_bytes[namespace] -= gone.size
        self.total_log_bytes -= gone.size

    def _trim(self, namespace: str, log: deque[_Logged], now: float) -> None:
        horizon = now - self.options.max_disconnection_duration
        while log and log[0].at < horizon:
            self._drop_oldest(namespace, log)

    def park(self, session: ParkedSession, now: float) -> None:
        """Park a dropped session: too big a one is not parked; past the count or byte budget
        the oldest parked sessions are evicted (issue 21 #2)."""
        options = self.options
        size = approx_size([session.rooms, session.data, session.extra], options.max_session_bytes)
        self._unpark(session.pid)
        if size > options.max_session_bytes:
            self.counts["too_big"] += 1
            return
        session.disconnected_at = now
        self._parked[session.pid] = session
        self._parked_sizes[session.pid] = size
        self.parked_bytes += size
        self.sweep(now)
        while self._parked and (len(self._parked) > options.max_parked_sessions
                                or self.parked_bytes > options.max_parked_bytes):
            self._unpark(next(iter(self._parked)))
            self.counts["evicted"] += 1

    def _unpark(self, pid: str) -> ParkedSession | None:
        session = self._parked.pop(pid, None)
        if session is not None:
            self.parked_bytes -= self._parked_sizes.pop(pid, 0)
        return session

    def sweep(self, now: float) -> None:
        """Drop the expired parked sessions and the log's packets older than
        ``max_disconnection_duration`` (called on the server's timer loop)."""
        horizon = now - self.options.max_disconnection_duration
        parked = self._parked
        while parked:
            pid, oldest = next(iter(parked.items()))
            if oldest.disconnected_at >= horizon:
                break
            self._unpark(pid)
            self.counts["expired"] += 1
        for namespace, log in self._logs.items():
            self._trim(namespace, log, now)

    def stats(self) -> dict[str, int]:
        """Sizes and counters (shown in the Admin UI's ``server_stats`` as ``recovery``)."""
        return {"parked": len(self._parked), "parkedBytes": self.parked_bytes,
                "logPackets": sum(len(log) for log in self._logs.values()), "logBytes": self.total_log_bytes,
                **{_camel(k): v for k, v in self.counts.items()}}

    def restore(self, namespace: str, pid: str, offset: str, now: float) -> Restored | None:
        session = self._unpark(pid)  # one recovery per park, whatever the outcome
        if session is None or session.namespace != namespace:
            return None
        horizon = now - self.options.max_disconnection_duration
        if session.disconnected_at < horizon:
            return None
        seq = self._seq_of(offset)
        floor = self._seq_of(session.floor)
        if seq is None or seq > self._seq or floor is None or seq < floor:
            return None  # issue 21: an offset from before the session began is unknown
        log = self._logs.get(namespace)
        if log is None:
            log = self._logs[namespace] = deque()
        self._trim(namespace, log, now)
        # Complete only if nothing of this namespace logged after the client's offset was
        # trimmed (by age or size).
        if seq < self._trimmed.get(namespace, 0):
            return None
        # Offsets are shared by every namespace of the store: find the first packet after the
        # client's offset by bisection (seqs increase along the deque).
        lo, hi = 0, len(log)
        while lo < hi:
            mid = (lo + hi) // 2
            if log[mid].seq <= seq:
                lo = mid + 1
            else:
                hi = mid
        rooms = session.rooms
        missed = [log[i].parts for i in range(lo, len(log)) if should_replay(rooms, log[i].rooms, log[i].skip)]
        return Restored(session, missed)
