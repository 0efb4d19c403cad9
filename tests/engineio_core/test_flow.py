"""`engineio_core.flow` (pure) and the flow-control options."""

from __future__ import annotations

import pytest

from engineio_core.config import build_config
from engineio_core.flow import UNBOUNDED, FlowControl, stall_reason


def test_waiters_run_once_when_the_lane_is_relieved() -> None:
    flow = FlowControl(100, 10, 1000, 5.0)
    lane = object()
    called: list[str] = []
    assert not flow.notify(lane, lambda: called.append("early"))  # not congested: no wait
    flow.congest(lane)
    flow.congest(lane)  # idempotent: the waiters are kept
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
    with pytest.raises(ValueError):
        build_config({"high_water_mark": 1000, "low_water_mark": 1000}, lambda m: None)
    with pytest.raises(ValueError):
        build_config({"stall_timeout": 0}, lambda m: None)
    assert stall_reason(2.0, 5) == "slow consumer: no progress for 2 s, 5 bytes unsent"
