"""Server→client acknowledgement callbacks (PURE).

Ids are per sid, counting from 1. Pending callbacks die with their client (`drop`), so a
client that never answers cannot make the table grow after it is gone.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .packets import MAX_ACK_ID


class AckTracker:
    __slots__ = ("_pending", "_next")

    def __init__(self) -> None:
        self._pending: dict[str, dict[int, Callable[..., Any]]] = {}
        self._next: dict[str, int] = {}

    def register(self, sid: str, callback: Callable[..., Any]) -> int:
        ack_id = self._next.get(sid, 1)
        self._next[sid] = ack_id + 1 if ack_id < MAX_ACK_ID else 1
        self._pending.setdefault(sid, {})[ack_id] = callback
        return ack_id

    def pop(self, sid: str, ack_id: int) -> Callable[..., Any] | None:
        callbacks = self._pending.get(sid)
        if callbacks is None:
            return None
        callback = callbacks.pop(ack_id, None)
        if not callbacks:
            del self._pending[sid]
        return callback

    def drop_callback(self, sid: str, callback: Callable[..., Any]) -> None:
        """Forget a callback nobody will wait for any more (a timed-out `call()`)."""
        callbacks = self._pending.get(sid)
        if callbacks is None:
            return
        for ack_id, registered in list(callbacks.items()):
            if registered is callback:
                del callbacks[ack_id]
        if not callbacks:
            del self._pending[sid]

    def drop(self, sid: str) -> None:
        self._pending.pop(sid, None)
        self._next.pop(sid, None)

    def pending(self, sid: str) -> int:
        return len(self._pending.get(sid, ()))
