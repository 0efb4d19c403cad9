"""A heap of deadlines shared by every session (PURE).

One timer loop serves all sessions: each session pushes its next deadline whenever it changes;
stale entries are discarded when popped (the owner compares the entry with its current
deadline), so there is no per-session sleeping task and no cancellation bookkeeping.
"""

from __future__ import annotations

import heapq
from collections.abc import Hashable


class TimerHeap:
    __slots__ = ("_heap", "_seq")

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Hashable]] = []
        self._seq = 0

    def __len__(self) -> int:
        return len(self._heap)

    def push(self, deadline: float, key: Hashable) -> bool:
        """Add a deadline; True when it became the earliest one (the loop must wake)."""
        self._seq += 1
        heapq.heappush(self._heap, (deadline, self._seq, key))
        return self._heap[0][1] == self._seq

    def next_deadline(self) -> float | None:
        return self._heap[0][0] if self._heap else None

    def pop_due(self, now: float) -> list[tuple[float, Hashable]]:
        """Every entry whose deadline is at or before `now`, earliest first."""
        due: list[tuple[float, Hashable]] = []
        heap = self._heap
        while heap and heap[0][0] <= now:
            deadline, _, key = heapq.heappop(heap)
            due.append((deadline, key))
        return due
