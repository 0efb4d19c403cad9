"""Short full collections for a process that holds many sessions: freeze what survives.

CPython's full (generation 2) collection scans every tracked object that is not frozen, and
stops the process -- every connection it serves, heartbeats included -- for as long: about
0.5 to 1 us per object, so 0.3 to 0.8 s at 18,000 WebSocket connections (~27 tracked objects
each, ~800,000 in the process). ``gc.freeze()`` moves every object alive at that moment to a
permanent generation that collections no longer scan.

:class:`GCFreezer` applies it in batches: once more than ``batch`` objects have reached the
oldest generation since the last freeze, it collects (a pause that scans only those) and
freezes the survivors. No collection then scans more than about ``batch`` objects plus the
young ones, whatever the number of connections.

The price: a frozen object that later becomes part of a reference cycle is never collected
(reference counting still frees everything else). The sessions of this stack leave no cycle
when they close (``tests/socketio_core/test_gc_footprint.py`` checks it for WebSocket
sessions); an application whose handlers keep cyclic structures alive for a long time should
not use it, or call ``gc.unfreeze()`` now and then. It is opt-in::

    freezer = GCFreezer()
    freezer.freeze_now()                                   # after start-up
    socketio.start_background_task(freezer.run, socketio.sleep)

Pure: it imports nothing but :mod:`gc` (the sleep function is the caller's).
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from typing import Any

__all__ = ["GCFreezer"]

#: Objects let into the oldest generation before a freeze: a collection of that many takes
#: about 25 to 50 ms (0.5 to 1 us per object).
DEFAULT_BATCH = 50_000


class GCFreezer:
    """Freezes the survivors of the oldest generation in batches of at most ``batch`` objects.

    :param batch: how many objects may wait in the oldest generation before
        :meth:`check` collects and freezes them.
    :param collector: the :mod:`gc` module (a stand-in in tests).
    """

    __slots__ = ("batch", "freezes", "_gc")

    def __init__(self, batch: int = DEFAULT_BATCH, collector: Any = gc) -> None:
        if type(batch) is not int or batch < 1:
            raise ValueError(f"batch must be a positive int, not {batch!r}")
        self.batch = batch
        self.freezes = 0  # how many times this freezer froze
        self._gc = collector

    def freeze_now(self) -> int:
        """Collect (scanning what is not frozen yet) and freeze every survivor; returns the
        number of frozen objects in all. Call it once start-up is done."""
        self._gc.collect()
        self._gc.freeze()
        self.freezes += 1
        count: int = self._gc.get_freeze_count()
        return count

    def check(self) -> bool:
        """Freeze if more than ``batch`` objects wait in the oldest generation (True then).
        Costs a list of those objects: call it every few seconds, not per message."""
        if len(self._gc.get_objects(2)) > self.batch:
            self.freeze_now()
            return True
        return False

    def run(
        self,
        sleep: Callable[[float], Any],
        interval: float = 2.0,
        stop: Callable[[], bool] | None = None,
    ) -> None:
        """:meth:`check` every ``interval`` seconds until ``stop()`` is true (forever without
        it): the body of a background task, e.g.
        ``socketio.start_background_task(freezer.run, socketio.sleep)``."""
        while stop is None or not stop():
            sleep(interval)
            self.check()
