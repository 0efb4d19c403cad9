"""The in-memory recovery store (pure): complete replays or none, with a fake clock."""

from __future__ import annotations

import pytest

from engineio_core.encoded import EncodedMessage
from socketio_core.features.recovery_store import (
    MemoryRecoveryStore,
    ParkedSession,
    RecoveryOptions,
    should_replay,
)


def part(text: str) -> list[EncodedMessage]:
    return [EncodedMessage.message(text)]


def texts(restored: object) -> list[str]:
    return [parts[0].packet.data for parts in restored.missed]  # type: ignore[attr-defined]


def store(**options: object) -> MemoryRecoveryStore:
    return MemoryRecoveryStore(RecoveryOptions.parse(options or True))  # type: ignore[arg-type]


def first(s: MemoryRecoveryStore) -> str:
    """The floor of a session that began before anything was logged."""
    return s._prefix + "-0"


def log(s: MemoryRecoveryStore, text: str, now: float, rooms: list[object] | None = None,
        skip: tuple[str, ...] = (), namespace: str = "/") -> str:
    offset = s.next_offset()
    s.append(offset, namespace, rooms, skip, part(text), now)
    return offset


def test_replays_what_the_client_missed_in_its_rooms_only() -> None:
    s = store()
    seen = log(s, "a", 0)
    log(s, "b", 1, rooms=["r"])
    log(s, "c", 2, rooms=["other"])
    log(s, "d", 3, skip=("sid1",))
    log(s, "e", 4, rooms=["sid1"])
    log(s, "x", 4, namespace="/chat")
    s.park(ParkedSession("sid1", "pid1", "/", ["sid1", "r"], floor=first(s)), 5)
    restored = s.restore("/", "pid1", seen, 6)
    assert restored is not None and texts(restored) == ["b", "e"]
    assert s.restore("/", "pid1", seen, 6) is None  # one recovery per park


def test_expired_session_or_trimmed_offset_fails_whole() -> None:
    s = store(max_disconnection_duration=10, max_buffered_packets=3)
    seen = log(s, "a", 0)
    s.park(ParkedSession("sid1", "p", "/", ["sid1"], floor=first(s)), 1)
    assert s.restore("/", "p", seen, 12) is None  # 11 s after the drop
    s.park(ParkedSession("sid1", "p", "/", ["sid1"], floor=first(s)), 20)
    for i in range(4):
        log(s, str(i), 20)  # 4 > 3: "0", which the client missed, is pushed out by size
    assert s.restore("/", "p", seen, 21) is None
    s.park(ParkedSession("sid1", "p", "/", ["sid1"], floor=first(s)), 20)
    restored = s.restore("/", "p", seen.rsplit("-", 1)[0] + "-2", 21)  # it had seen "0"
    assert restored is not None and texts(restored) == ["1", "2", "3"]


def test_unknown_offsets_and_namespaces_fail() -> None:
    s = store()
    seen = log(s, "a", 0)
    s.park(ParkedSession("sid1", "p", "/", ["sid1"], floor=first(s)), 1)
    assert s.restore("/chat", "p", seen, 2) is None
    s.park(ParkedSession("sid1", "p", "/", ["sid1"], floor=first(s)), 1)
    assert s.restore("/", "p", "other-1", 2) is None
    s.park(ParkedSession("sid1", "p", "/", ["sid1"], floor=first(s)), 1)
    restored = s.restore("/", "p", seen, 2)
    assert restored is not None and texts(restored) == []


def test_an_offset_from_before_the_session_began_is_unknown() -> None:
    """Issue 21 #1: a session is replayed only what was logged after its floor (the log's
    newest offset when it began); another client's older offset is refused whole."""
    s = store()
    older = log(s, "seen by another client", 0)
    log(s, "sent-before-the-session-existed", 0)
    floor = s.position()
    mine = log(s, "after", 1)
    log(s, "missed", 2)
    s.park(ParkedSession("sid1", "p", "/", ["sid1"], floor=floor), 3)
    assert s.restore("/", "p", older, 4) is None
    s.park(ParkedSession("sid1", "p", "/", ["sid1"], floor=floor), 3)
    restored = s.restore("/", "p", floor, 4)  # at the floor itself: everything since it began
    assert restored is not None and texts(restored) == ["after", "missed"]
    s.park(ParkedSession("sid1", "p", "/", ["sid1"], floor=floor), 3)
    restored = s.restore("/", "p", mine, 4)
    assert restored is not None and texts(restored) == ["missed"]
    s.park(ParkedSession("sid1", "p", "/", ["sid1"]), 3)  # no floor: nothing is recoverable
    assert s.restore("/", "p", mine, 4) is None


def test_should_replay_is_nodes_rule() -> None:
    assert should_replay(["s", "r"], None, [])
    assert should_replay(["s", "r"], ["r", "q"], [])
    assert not should_replay(["s", "r"], ["q"], [])
    assert not should_replay(["s", "r"], None, ["s"])


def test_options() -> None:
    assert RecoveryOptions.parse(None) is None and RecoveryOptions.parse(False) is None
    assert RecoveryOptions.parse(True) == RecoveryOptions()
    with pytest.raises(ValueError):
        RecoveryOptions.parse({"max_disconnection_duration": 0})


def test_the_log_is_bounded_in_bytes_per_namespace_and_for_the_store() -> None:
    """Issue 21 #1c: the oldest packets go once a namespace's log, or all logs together, pass
    their byte budget; a client whose missed packets went is not recovered (never partly)."""
    s = store(max_buffered_bytes=10_000, max_total_buffered_bytes=15_000)
    first_offset = log(s, "x" * 4_000, 0)
    floor = first(s)
    for _ in range(3):
        log(s, "y" * 4_000, 0)
    assert s.log_bytes["/"] <= 10_000 and len(s._logs["/"]) == 2
    for _ in range(3):
        log(s, "z" * 4_000, 0, namespace="/chat")
    assert s.total_log_bytes <= 15_000
    assert s.log_bytes["/"] + s.log_bytes["/chat"] == s.total_log_bytes
    assert s.stats()["logTrimmedForBytes"] >= 3
    s.park(ParkedSession("sid1", "p", "/", ["sid1"], floor=floor), 1)
    assert s.restore("/", "p", first_offset, 2) is None  # what it missed was trimmed


def test_parked_sessions_are_capped_oldest_first() -> None:
    """Issue 21 #2: a count and a byte budget, the oldest evicted first, counted."""
    s = store(max_parked_sessions=3, max_parked_bytes=10_000, max_session_bytes=5_000)
    for i in range(5):
        s.park(ParkedSession(f"sid{i}", f"p{i}", "/", [f"sid{i}"], floor=first(s)), i)
    assert list(s._parked) == ["p2", "p3", "p4"] and s.stats()["evicted"] == 2
    s.park(ParkedSession("big", "pbig", "/", ["big", "r" * 4_000], floor=first(s)), 5)
    s.park(ParkedSession("big2", "pbig2", "/", ["big2", "r" * 4_000], floor=first(s)), 6)
    assert s.parked_bytes <= 10_000 and "p2" not in s._parked and "pbig2" in s._parked
    s.park(ParkedSession("huge", "phuge", "/", ["huge"], data={"k": "v" * 6_000}, floor=first(s)), 7)
    assert "phuge" not in s._parked and s.stats()["tooBig"] == 1
    assert s.restore("/", "p2", first(s), 8) is None  # evicted: not recoverable


def test_sweep_drops_expired_sessions_and_old_packets_without_another_park() -> None:
    s = store(max_disconnection_duration=10)
    log(s, "a", 0)
    s.park(ParkedSession("sid1", "p", "/", ["sid1"], floor=first(s)), 1)
    s.sweep(5)
    assert s.stats()["parked"] == 1 and s.stats()["logPackets"] == 1
    s.sweep(12)
    assert s.stats()["parked"] == 0 and s.stats()["expired"] == 1
    assert s.stats()["logPackets"] == 0 and s.total_log_bytes == 0 and s.parked_bytes == 0
