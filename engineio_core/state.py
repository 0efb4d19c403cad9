"""The Engine.IO session state machine as a table (PURE).

Theory of operation
-------------------
A session starts on one transport. Polling sessions begin in POLLING; a client that opens a
WebSocket without a sid begins in WEBSOCKET directly. To upgrade, the client opens a WebSocket
carrying its sid and sends ``2probe``: the session moves to PROBING, the server answers
``3probe`` over the new socket and ends any pending poll with a NOOP. While PROBING, polling
keeps working in both directions. The client then sends ``5`` (UPGRADE) over the WebSocket and
the session moves to WEBSOCKET, after which HTTP requests for it are refused. A probe that goes
wrong (any other packet, or the socket closing) falls back to POLLING.

Closing: a close from either side, a ping timeout or a transport error moves to CLOSED. When the
*server* closes a polling session with no poll pending, the session waits in CLOSING so the
client's next poll still receives the CLOSE packet; the timer reaps it if no poll comes.

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
