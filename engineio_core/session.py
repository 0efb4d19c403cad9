"""One Engine.IO session: packet rules, heartbeat and the polling outbox (PURE).

Time comes in as ``now`` (monotonic seconds); `next_deadline()` says when the session next
needs `on_timer`. The driver owns sockets, locks and wake-ups; this object owns the protocol.

Heartbeat (v4, the server pings): "the server sends a ping packet every pingInterval ms, and the
client has pingTimeout ms to send a pong packet back". A PONG that answers no outstanding PING is
ignored (CVE-2026-48802 hardening: it neither resets nor multiplies timers).

Engine.IO v3 sessions (``protocol == 3``, `engineio_core.v3`) run the heartbeat the other way:
the client PINGs, each PING is answered with a PONG (`SendPong`) and moves the deadline to
``now + ping_interval + ping_timeout`` (``next_ping_at`` holds it); past it the session closes
with ``ping timeout``. The `Beat` table stays in WAITING (GRACE once closing).
"""

from __future__ import annotations

from .config import EngineConfig
from .encoded import EncodedMessage
from .errors import RemoteProtocolError
from .events import (
    Closed,
    Event,
    MessageReceived,
    ProbeFailed,
    ProbeReceived,
    Reason,
    SendPing,
    SendPong,
    Upgraded,
)
from .packets import EnginePacket, PacketType
from .state import (
    OPEN_STATES,
    POLLING_STATES,
    Beat,
    BeatInput,
    Input,
    State,
    beat_transition,
    transition,
)

# How long a server-closed polling session waits for the client's next poll (seconds).
CLOSING_GRACE = 5.0


class OutboxFull(Exception):
    """The polling outbox passed its bound: the client is not polling fast enough."""


class EngineSession:
    __slots__ = (
        "eio_sid",
        "state",
        "outbox",
        "outbox_bytes",
        "next_ping_at",
        "pong_deadline",
        "beat",
        "close_reason",
        "protocol",
        "b64",
        "_cfg",
    )

    def __init__(
        self, eio_sid: str, cfg: EngineConfig, now: float, websocket: bool = False,
        protocol: int = 4, b64: bool = False,
    ):
        self.eio_sid = eio_sid
        self._cfg = cfg
        self.state = State.WEBSOCKET if websocket else State.POLLING
        self.outbox: list[EncodedMessage] = []
        self.outbox_bytes = 0
        self.protocol = protocol
        self.b64 = b64  # v3 polling: binary goes base64 in text payloads
        # v4: when the next PING goes out; v3: when the client's next PING is overdue.
        self.next_ping_at = now + cfg.ping_interval + (cfg.ping_timeout if protocol == 3 else 0.0)
        self.pong_deadline = 0.0
        self.beat = Beat.WAITING
        self.close_reason: str | None = None

    # -- state -------------------------------------------------------------------------------
    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    @property
    def transport(self) -> str:
        return "websocket" if self.state is State.WEBSOCKET else "polling"

    @property
    def accepts_polls(self) -> bool:
        return self.state in POLLING_STATES or self.state is State.CLOSING

    @property
    def awaiting_pong(self) -> bool:
        """A PING went out and its PONG has not come back yet."""
        return self.beat is Beat.AWAITING_PONG

    def _move(self, event: Input) -> None:
        self.state = transition(self.state, event)

    def _move_beat(self, event: BeatInput) -> None:
        self.beat = beat_transition(self.beat, event)

    # -- incoming ----------------------------------------------------------------------------
    def receive(self, packet: EnginePacket, now: float) -> Event | None:
        """A packet from the session's current transport (polling POST or upgraded socket)."""
        ptype = packet.type
        if ptype is PacketType.MESSAGE:
            return MessageReceived(packet.data)
        if ptype is PacketType.PING and self.protocol == 3:
            self.next_ping_at = now + self._cfg.ping_interval + self._cfg.ping_timeout
            return SendPong()
        if ptype is PacketType.PONG and self.protocol != 3:
            if self.beat is Beat.AWAITING_PONG:  # else it answers no PING: ignored
                self._move_beat(BeatInput.PONG)
                self.next_ping_at = now + self._cfg.ping_interval
            return None
        if ptype is PacketType.CLOSE:
            return self.close(Reason.CLIENT_DISCONNECT)
        if ptype is PacketType.NOOP or (ptype is PacketType.UPGRADE and self.state is not State.WEBSOCKET):
            # The reference answers a stray UPGRADE over polling with nothing harmful: ignore.
            return None
        raise RemoteProtocolError(f"unexpected {ptype.name} packet in state {self.state.value}")

    def receive_probe(self, packet: EnginePacket) -> Event:
        """A packet on the candidate WebSocket while the session is still polling/probing.

        Spec: the client sends ``2probe``, the server answers ``3probe``; the client then
        sends ``5`` and the upgrade is complete. Anything else fails the probe (polling goes on).
        """
        if self.state is State.POLLING and packet == EnginePacket(PacketType.PING, "probe"):
            self._move(Input.PROBE)
            return ProbeReceived()
        if self.state is State.PROBING and packet.type is PacketType.UPGRADE:
            self._move(Input.UPGRADE)
            return Upgraded()
        if self.state is State.PROBING:
            self._move(Input.PROBE_FAILED)
        return ProbeFailed(f"Failed websocket upgrade, expected UPGRADE packet, received {packet.type.name}")

    def probe_failed(self) -> None:
        """The candidate WebSocket went away before the upgrade completed."""
        if self.state is State.PROBING:
            self._move(Input.PROBE_FAILED)

    # -- heartbeat ---------------------------------------------------------------------------
    def next_deadline(self) -> float:
        return self.pong_deadline if self.beat is Beat.AWAITING_PONG else self.next_ping_at

    def on_timer(self, now: float) -> Event | None:
        """Called at (or after) `next_deadline()`; says what to do, if anything."""
        if self.state is State.CLOSING:
            if now >= self.next_ping_at:
                return self.close(self.close_reason or Reason.SERVER_DISCONNECT)
            return None
        if not self.is_open:
            return None
        if self.protocol == 3:
            return self.close(Reason.PING_TIMEOUT) if now >= self.next_ping_at else None
        if self.beat is Beat.AWAITING_PONG:
            if now >= self.pong_deadline:
                return self.close(Reason.PING_TIMEOUT)
            return None
        if now >= self.next_ping_at:
            self._move_beat(BeatInput.PING_SENT)
            self.pong_deadline = now + self._cfg.ping_timeout
            return SendPing()
        return None

    # -- closing -----------------------------------------------------------------------------
    def close(self, reason: str) -> Closed | None:
        """Close now. Returns the `Closed` event the first time only."""
        if self.state is State.CLOSED:
            return None
        self._move(Input.CLOSE)
        self.close_reason = reason
        return Closed(reason)

    def close_after_poll(self, reason: str, now: float) -> None:
        """Server close of a polling session with no poll pending: keep the queued CLOSE for
        the client's next poll, for at most `CLOSING_GRACE` seconds."""
        self._move(Input.CLOSE_LATER)
        self.close_reason = reason
        self._move_beat(BeatInput.CLOSE_LATER)
        self.next_ping_at = now + CLOSING_GRACE

    # -- polling outbox ----------------------------------------------------------------------
    def queue(self, message: EncodedMessage) -> None:
        """Queue a message for the next poll, within the outbox bounds."""
        size = message.wire_size()
        if (
            len(self.outbox) >= self._cfg.max_outbox_messages
            or self.outbox_bytes + size > self._cfg.max_outbox_bytes
        ):
            raise OutboxFull(
                f"outbox bound reached ({len(self.outbox)} messages, {self.outbox_bytes} bytes)"
            )
        self.outbox.append(message)
        self.outbox_bytes += size

    def drain(self) -> list[EncodedMessage]:
        out = self.outbox
        self.outbox = []
        self.outbox_bytes = 0
        return out
