"""`engineio_core.flow` (pure) and the flow-control options."""

from __future__ import annotations

import pytest

from engineio_core.config import build_config
from engineio_core.flow import UNBOUNDED, FlowControl, stall_reason, unwaited_reason


def test_waiters_run_once_when_the_lane_is_relieved() -> None:
    flow = FlowControl(100, 10, 1000, 5.0)
    lane = object()
    called: list[str] = []
    assert not flow.notify(lane, lambda: called.append("early"))  # not congested: no wait
    flow.congest(lane, 0.0)
    flow.congest(lane, 0.0)  # idempotent: the waiters are kept
    assert flow.notify(lane, lambda: called.append("a"))
    assert flow.notify(lane, lambda: called.append("b"))
    flow.relieve(lane)
    flow.relieve(lane)
    assert called == ["a", "b"] and not flow.congested


def test_limits_switched_off_and_clamped() -> None:
    flow = FlowControl(0, 0, 0, 1.0)
    assert flow.high_water == flow.max_bytes == UNBOUNDED
    flow = FlowControl(1 << 20, 1 << 10, 64 * 1024, 1.0)
    assert flow.high_water == 64 * 1024  # never above the hard ceiling


def test_options() -> None:
    cfg = build_config({"high_water_mark": 32768, "stall_timeout": 2}, lambda m: None)
    assert (cfg.high_water_mark, cfg.low_water_mark, cfg.stall_timeout) == (32768, 8192, 2.0)
    assert (cfg.stall_patience, cfg.max_unwaited_bytes) == (0.5, 512 * 1024)  # the defaults
    cfg = build_config({"stall_patience": 0.25, "max_unwaited_bytes": 1 << 20}, lambda m: None)
    assert (cfg.stall_patience, cfg.max_unwaited_bytes) == (0.25, 1 << 20)
    with pytest.raises(ValueError):
        build_config({"stall_patience": 0}, lambda m: None)
    with pytest.raises(ValueError):
        build_config({"high_water_mark": 1000, "low_water_mark": 1000}, lambda m: None)
    with pytest.raises(ValueError):
        build_config({"stall_timeout": 0}, lambda m: None)
    assert stall_reason(2.0, 5) == "slow consumer: no progress for 2 s, 5 bytes unsent"
    assert unwaited_reason(600, 500, 0.5) == (
        "slow consumer: no progress for 0.5 s, 600 bytes unsent (unwaited bound 500)")


class Clock:
    """A fake monotonic clock and the server's timer loop, for the table's `watch` hook."""

    def __init__(self, flow: FlowControl) -> None:
        self.now = 0.0
        self.flow = flow
        self.timers: list[tuple[float, object]] = []
        flow.watch = lambda lane, delay: self.timers.append((self.now + delay, lane))

    def advance(self, seconds: float) -> None:
        """Move time on, running the patience checks that fall due (as `Backpressure._look`)."""
        end = self.now + seconds
        while True:
            due = sorted(t for t in self.timers if t[0] <= end)
            if not due:
                break
            at, lane = due[0]
            self.timers.remove(due[0])
            self.now = at
            delay = self.flow.expire(lane, at)
            if delay is not None:
                self.timers.append((at + delay, lane))
        self.now = end


def test_a_lane_that_takes_no_byte_for_the_patience_stops_holding_producers() -> None:
    flow = FlowControl(100, 10, 10_000, 10.0, patience=0.5, unwaited_bytes=1000)
    clock = Clock(flow)
    lane = object()
    released: list[float] = []
    flow.congest(lane, clock.now)
    assert flow.holds(lane) and flow.notify(lane, lambda: released.append(clock.now))
    clock.advance(0.49)
    assert released == [] and flow.holds(lane)
    clock.advance(0.02)
    assert released == [0.5]  # released at once at the patience, not at stall_timeout
    assert not flow.holds(lane) and lane in flow.congested  # still congested: keeps its outbox
    assert not flow.notify(lane, lambda: released.append(-1.0))  # nobody waits on it now
    assert not flow.over_unwaited(lane, 1000) and flow.over_unwaited(lane, 1001)
    assert flow.quiet(lane, clock.now) == pytest.approx(0.51)
    clock.advance(3.0)
    assert released == [0.5]  # released once
    # It reads again: it rejoins the waited set (and its outbox no longer counts as unwaited).
    flow.progressed(lane, clock.now)
    assert flow.holds(lane) and not flow.over_unwaited(lane, 5000)
    assert flow.notify(lane, lambda: released.append(clock.now))
    clock.advance(0.3)
    flow.relieve(lane)  # drained below the low-water mark
    assert released == [0.5, pytest.approx(3.81)]
    assert not flow.congested and not flow.progress and not flow.idle
    clock.advance(5.0)  # the checks of a relieved lane end
    assert clock.timers == [] and not flow.watched
    for _ in range(3):  # congested again and again: one check pending, not one per time
        flow.congest(lane, clock.now)
        flow.relieve(lane)
    assert len(clock.timers) == 1
    clock.advance(1.0)
    assert clock.timers == [] and not flow.watched


def test_a_lane_that_drains_slowly_holds_producers_until_it_is_relieved() -> None:
    flow = FlowControl(100, 10, 10_000, 10.0, patience=0.5)
    clock = Clock(flow)
    slow = object()
    released: list[float] = []
    flow.congest(slow, clock.now)
    flow.notify(slow, lambda: released.append(clock.now))
    for _ in range(100):  # takes a few bytes every 0.4 s: 40 s, never idle
        clock.advance(0.4)
        flow.progressed(slow, clock.now)
    assert released == [] and flow.holds(slow)
    flow.relieve(slow)
    assert released == [pytest.approx(40.0)]


def test_a_room_waits_for_its_reader_and_at_most_the_patience_for_its_stalled_member() -> None:
    """A producer broadcasting to a reader and a member that stopped reading, simulated on the
    table alone: lanes of unsent bytes, the reader draining 3 KB per 10 ms, the producer
    writing 1 KB messages and waiting whenever a recipient holds it (as `Backpressure`). The
    producer is never held more than the patience (plus one tick); the stalled member is
    closed at the unwaited bound; the reader is waited for, never closed."""
    patience, tick = 0.5, 0.01
    flow = FlowControl(8192, 2048, 1 << 20, 10.0, patience=patience, unwaited_bytes=16384)
    clock = Clock(flow)
    unsent = {"reader": 0, "stalled": 0}
    closed: list[str] = []
    longest_wait, sent_messages = 0.0, 0
    while sent_messages < 2000 and clock.now < 60:
        holding = [lane for lane in unsent if flow.holds(lane)]
        if holding:
            started = clock.now
            while any(flow.holds(lane) for lane in holding):
                clock.advance(tick)
                unsent["reader"] = max(0, unsent["reader"] - 3072)
                flow.progressed("reader", clock.now)
                if unsent["reader"] <= flow.low_water:
                    flow.relieve("reader")
            longest_wait = max(longest_wait, clock.now - started)
        for lane in list(unsent):
            unsent[lane] += 1024
            if unsent[lane] > flow.high_water:
                if flow.over_unwaited(lane, unsent[lane]):
                    closed.append(lane)
                    del unsent[lane]
                    flow.relieve(lane)
                else:
                    flow.congest(lane, clock.now)
        sent_messages += 1
    assert sent_messages == 2000 and closed == ["stalled"]
    assert longest_wait <= patience + tick
