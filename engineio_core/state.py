"""The Engine.IO session state machine as a table (PURE).

Theory of operation
-------------------
A session starts on one transport. Polling sessions begin in POLLING; a client that opens a
WebSocket without a sid begins in WEBSOCKET directly. To upgrade, the client opens a WebSocket
carrying its sid and sends ``2probe``: the session moves to PROBING, the server answers
``3probe`` over the new socket and, as Node's upgrade check, answers a waiting poll with a
NOOP every 100 ms (a poll that gets data first carries the data). While PROBING, polling
keeps working in both directions. The client then sends ``5`` (UPGRADE) over the WebSocket and
the session moves to WEBSOCKET, after which HTTP requests for it are refused. A probe that goes
wrong (any other packet, or the socket closing) falls back to POLLING.

Closing: a close from either side, a ping timeout or a transport error moves to CLOSED. When the
*server* closes a polling session with no poll pending, the session waits in CLOSING so the
client's next poll still receives the CLOSE packet; the timer reaps it if no poll comes.

The states:

- POLLING: the transport is HTTP long-polling (GET takes the outbox, POST carries packets in).
- PROBING: still polling, and a candidate WebSocket answered ``3probe``; ``5`` on it upgrades.
- WEBSOCKET: the transport is the WebSocket; HTTP requests for the session are refused.
- CLOSING: closed by the server; the outbox (ending with CLOSE) waits for one more poll.
- CLOSED: over; terminal.

The heartbeat is a second, smaller table (`Beat`, `BEAT_TRANSITIONS`), run beside the first:
WAITING (the next PING is due at ``next_ping_at``) → AWAITING_PONG (a PING went out, the PONG
is due by ``pong_deadline``) → WAITING again on the PONG. A server close that waits for a poll
stops it (GRACE: the deadline is then the end of the wait). A PONG that answers no PING is not
an input: it is ignored before the table is consulted (CVE-2026-48802 hardening).
Engine.IO v3 sessions (``allow_eio3``) use the same state table; their heartbeat is the
client's (it PINGs, the server answers, ``next_ping_at`` is the deadline for its next PING),
so their `Beat` stays WAITING until a server close moves it to GRACE.

Any input not listed for a state is illegal and raises `LocalProtocolError` naming the state.
"""

from __future__ import annotations

from enum import Enum

from .errors import LocalProtocolError


class State(Enum):
    POLLING = "polling"
    PROBING = "probing"
    WEBSOCKET = "websocket"
    CLOSING = "closing"
    CLOSED = "closed"


class Input(Enum):
    PROBE = "probe"  # 2probe received on the candidate WebSocket
    UPGRADE = "upgrade"  # 5 received on the candidate WebSocket
    PROBE_FAILED = "probe failed"
    CLOSE_LATER = "close later"  # server close with no poll pending
    CLOSE = "close"


TRANSITIONS: dict[tuple[State, Input], State] = {
    (State.POLLING, Input.PROBE): State.PROBING,
    (State.PROBING, Input.UPGRADE): State.WEBSOCKET,
    (State.PROBING, Input.PROBE_FAILED): State.POLLING,
    (State.POLLING, Input.CLOSE_LATER): State.CLOSING,
    (State.PROBING, Input.CLOSE_LATER): State.CLOSING,
    (State.POLLING, Input.CLOSE): State.CLOSED,
    (State.PROBING, Input.CLOSE): State.CLOSED,
    (State.WEBSOCKET, Input.CLOSE): State.CLOSED,
    (State.CLOSING, Input.CLOSE): State.CLOSED,
}

OPEN_STATES = frozenset({State.POLLING, State.PROBING, State.WEBSOCKET})
POLLING_STATES = frozenset({State.POLLING, State.PROBING})


def transition(state: State, event: Input) -> State:
    try:
        return TRANSITIONS[(state, event)]
    except KeyError:
        raise LocalProtocolError(f"{event.value!r} is not allowed in state {state.value}") from None


class Beat(Enum):
    WAITING = "waiting"  # the next PING is due at `next_ping_at`
    AWAITING_PONG = "awaiting pong"  # a PING went out; no PONG by `pong_deadline` closes
    GRACE = "grace"  # CLOSING: no heartbeat; `next_ping_at` is the end of the wait for a poll


class BeatInput(Enum):
    PING_SENT = "ping sent"
    PONG = "pong"
    CLOSE_LATER = "close later"


BEAT_TRANSITIONS: dict[tuple[Beat, BeatInput], Beat] = {
    (Beat.WAITING, BeatInput.PING_SENT): Beat.AWAITING_PONG,
    (Beat.AWAITING_PONG, BeatInput.PONG): Beat.WAITING,
    (Beat.WAITING, BeatInput.CLOSE_LATER): Beat.GRACE,
    (Beat.AWAITING_PONG, BeatInput.CLOSE_LATER): Beat.GRACE,
}


def beat_transition(beat: Beat, event: BeatInput) -> Beat:
    try:
        return BEAT_TRANSITIONS[(beat, event)]
    except KeyError:
        raise LocalProtocolError(f"{event.value!r} is not allowed in heartbeat state {beat.value}") from None
