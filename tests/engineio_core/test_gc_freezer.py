"""GCFreezer: freezes the oldest generation's survivors in batches (engineio_core/gc_freezer.py)."""

from __future__ import annotations

import gc
from typing import Any

import pytest

from engineio_core.gc_freezer import GCFreezer


class FakeCollector:
    """The part of the gc module the freezer uses, recording the calls."""

    def __init__(self, oldest: int) -> None:
        self.oldest = oldest  # objects in generation 2
        self.frozen = 0
        self.calls: list[str] = []

    def get_objects(self, generation: int) -> list[Any]:
        self.calls.append(f"get_objects({generation})")
        return [None] * self.oldest

    def collect(self) -> int:
        self.calls.append("collect")
        return 0

    def freeze(self) -> None:
        self.calls.append("freeze")
        self.frozen += self.oldest
        self.oldest = 0

    def get_freeze_count(self) -> int:
        return self.frozen


def test_check_freezes_only_above_the_batch() -> None:
    collector = FakeCollector(oldest=100)
    freezer = GCFreezer(batch=100, collector=collector)
    assert freezer.check() is False
    assert collector.calls == ["get_objects(2)"]
    collector.oldest = 101
    assert freezer.check() is True
    # collect first (the survivors only), then freeze them
    assert collector.calls[1:] == ["get_objects(2)", "collect", "freeze"]
    assert (collector.frozen, collector.oldest, freezer.freezes) == (101, 0, 1)
    assert freezer.check() is False


def test_run_checks_every_interval_until_stopped() -> None:
    collector = FakeCollector(oldest=0)
    freezer = GCFreezer(batch=10, collector=collector)
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        collector.oldest += 6  # objects reach the oldest generation meanwhile

    freezer.run(sleep, interval=3.0, stop=lambda: len(slept) >= 4)
    assert slept == [3.0] * 4
    assert freezer.freezes == 2  # 12 > 10 after the second sleep, again after the fourth
    assert collector.frozen == 24


def test_batch_is_validated() -> None:
    for bad in (0, -1, 1.5, "10", True):
        with pytest.raises(ValueError):
            GCFreezer(batch=bad)  # type: ignore[arg-type]


def test_with_the_real_collector() -> None:
    survivors = [[i] for i in range(2000)]  # tracked objects, alive
    gc.collect()  # into the oldest generation
    before = gc.get_freeze_count()
    try:
        assert GCFreezer(batch=1000).check() is True
        assert gc.get_freeze_count() >= before + len(survivors)
        assert len(gc.get_objects(2)) <= 1000  # they left the generation collections scan
    finally:
        gc.unfreeze()
