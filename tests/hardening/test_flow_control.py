"""Flow control (issues 12 and 23): a burst never costs a healthy client its connection, a
stalled member never holds a room back, and never costs the server its memory.

Everything runs at the DEFAULT options (`stall_timeout` 10 s, `stall_patience` 0.5 s,
`max_unwaited_bytes` 512 KiB): the first version of these tests used `stall_timeout=2`, which
hid a 10 s freeze of every healthy member of a room each time one member stopped reading.

The server runs in a subprocess (scripts/hardening_server.py) so that its RSS, read from
/proc, is the server's alone. A producer floods a room; readers read as fast as they can;
stalled clients (raw sockets with a small receive buffer that never call recv() again) are in
the room too. Producers wait for the readers (backpressure, past the high-water mark) and for
a stalled member only until it has taken no byte for the patience; the stalled clients are
closed as slow consumers past the bound of unwaited recipients, with the documented log line.

Gaps between two messages are measured on the client and bounded (1 s): that bound is a
correctness property of the pacing rule, not a speed figure. Without the rule the gap is
`stall_timeout` (10 s); with it, a stalled member holds producers at most `stall_patience`
(0.5 s) once, which leaves half a second of slack for a loaded machine, and a reader that is
being waited for is served within a loop pass of draining. Every wait is bounded; nothing
sleeps to synchronise.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from hard_support import ROOT, PollClient, RawWS, handshake, sio_env, wait_for

sys.path.insert(0, os.path.join(ROOT, "scripts"))
from hardening_server import TargetServer  # noqa: E402

from engineio_core.config import EngineConfig  # noqa: E402

DEFAULTS = EngineConfig()
STALL = DEFAULTS.stall_timeout  # 10 s
UNWAITED = DEFAULTS.max_unwaited_bytes  # 512 KiB
RSS_BOUND_KB = 16 * 1024
MAX_GAP = 1.0  # seconds a reader may wait between two messages


def stalled_client(port: int, room: str = "room") -> RawWS:
    """Connects, joins `room`, then never reads again (the smallest receive window: the
    server's kernel then holds 1.7 MB for it at most, instead of 4 MB)."""
    ws = RawWS(port, rcvbuf=1024)
    ws.sio_connect()
    ws.send_text(f'420["join",{json.dumps(room)}]')
    while True:
        message = ws.recv_message()
        if message == "430[true]":
            return ws


@contextmanager
def target(*options: str) -> Iterator[TargetServer]:
    server = TargetServer(*options)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def server() -> Iterator[TargetServer]:
    """One server at the default options for the tests of this module that need no broker."""
    with target() as running:
        yield running


def slow_warnings(server: TargetServer, eio_sids: list[str]) -> list[str]:
    """The slow-consumer lines logged for these clients."""
    return [w for w in server.stats()["warnings"] if any(w.startswith(f"{sid}:") for sid in eio_sids)]


class PeakRSS:
    """Samples a process's RSS in a thread until stopped (bounded by `limit` seconds)."""

    def __init__(self, server: TargetServer, limit: float = 60.0) -> None:
        self.server = server
        self.base = server.rss_kb()
        self.peak = self.base
        self._stop = threading.Event()
        self._limit = limit
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        deadline = time.monotonic() + self._limit
        while not self._stop.wait(0.05) and time.monotonic() < deadline:
            try:
                self.peak = max(self.peak, self.server.rss_kb())
            except OSError:
                return

    def growth_kb(self) -> int:
        self._stop.set()
        self._thread.join(2)
        self.peak = max(self.peak, self.server.rss_kb())
        return self.peak - self.base


class SlowReader(RawWS):
    """A raw WebSocket client that, once `throttle` is set, reads 25 KB every 10 ms at most
    (~2.5 MB/s: the rate of a slow client, not a wait for anything)."""

    throttle = False

    def _need(self, n: int) -> None:
        while len(self.buf) < n:
            if self.throttle:
                time.sleep(0.01)
            chunk = self.sock.recv(25 * 1024 if self.throttle else 65536)
            if not chunk:
                raise RuntimeError("EOF")
            self.buf += chunk


class Reader:
    """A python-socketio client that reads as fast as it can, recording the order and the
    time of arrival of "tick" messages in the engine client's read loop (one thread, in socket
    order: the python client runs each handler in a thread of its own)."""

    def __init__(self, server: TargetServer) -> None:
        import socketio

        self.seqs: list[int] = []
        self.times: list[float] = []
        self.done = threading.Event()
        self.client = client = socketio.Client(reconnection=False)
        receive_packet = client.eio._receive_packet

        def record(pkt: Any) -> None:
            data = pkt.data
            if isinstance(data, str) and data.startswith('2["tick",'):
                self.times.append(time.monotonic())
                self.seqs.append(int(data[9:data.index(",", 9)]))
            receive_packet(pkt)

        client.eio._receive_packet = record
        client.on("flood_done", lambda n: self.done.set())
        client.connect(server.url, transports=["websocket"], wait_timeout=10)
        assert client.call("join", "room", timeout=10) is True

    def longest_gap(self) -> float:
        return max((b - a for a, b in zip(self.times, self.times[1:], strict=False)), default=0.0)


@pytest.mark.parametrize("producer", ["task", "thread"])
def test_flood_reader_never_waits_for_the_stalled_member(
        server: TargetServer, producer: str, record_property: Any) -> None:
    """The issue's flood at default options: 5,000 messages of 10 KB from a background task
    (sleep(0) every 50 emits) to a room with one python-socketio client reading as fast as it
    can and one that stopped reading. The reader gets 5,000 / 5,000 in order and never waits
    more than 1 s between two messages; the stalled member is closed within `stall_timeout`
    (at the unwaited bound, in practice); the server's RSS grows by less than 16 MB. Again with
    the producer in a plain OS thread (it emits through the loop, held back thread-safely).

    Before issue 23 the reader got ~300 messages, then nothing for 9.4 s (the broadcast waited
    for the stalled member until `stall_timeout` declared it stalled), then the rest."""
    count, size = 5000, 10 * 1024
    reader = Reader(server)
    try:
        stalled = stalled_client(server.port)
        before = server.stats()["disconnects"].get("transport error", 0)
        meter = PeakRSS(server)
        started = time.monotonic()
        spec = {"count": count, "size": size, "room": "room", "every": 50, "producer": producer}
        assert reader.client.call("flood", spec, timeout=10) is True
        assert reader.done.wait(60), f"the reader got {len(reader.seqs)} of {count}"
        elapsed = time.monotonic() - started
        growth = meter.growth_kb()
        stats = server.stats()
        assert reader.seqs == list(range(count)), f"lost or reordered: {len(reader.seqs)} of {count}"
        assert reader.client.connected
        gap = reader.longest_gap()
        dropped = slow_warnings(server, [stalled.eio_sid or "?"])
        assert len(dropped) == 1 and "slow consumer: no progress" in dropped[0], stats["warnings"][-5:]
        assert stats["disconnects"].get("transport error", 0) - before == 1, stats["disconnects"]
        drop_after = [t for reason, t in stats["flood"]["disconnected_at"] if reason == "transport error"][0]
        figures = {"delivered": len(reader.seqs), "longest_gap_s": round(gap, 3), "rss_growth_kb": growth,
                   "drop_after_s": drop_after, "flood_seconds": round(elapsed, 2), "logged": dropped[0]}
        print(f"flood 5000 x 10 KB ({producer}):", figures)
        for key, value in figures.items():
            record_property(key, value)
        assert gap < MAX_GAP, figures
        assert drop_after < STALL, figures
        assert growth < RSS_BOUND_KB, figures
        stalled.close()
    finally:
        reader.client.disconnect()


def test_reader_at_a_tenth_of_the_rate_gets_everything(server: TargetServer, record_property: Any) -> None:
    """One client that reads at a tenth of the rate the producer reaches with a fast reader
    (about 2.5 MB/s against 25 MB/s here) gets every message of a one-to-one flood in order:
    the producer paces to it. Its socket becomes writable again only after ~1 s (the kernel
    holds megabytes for it), so this fails if progress were "the socket accepted a write"
    rather than "the peer took bytes" (the kernel's send queue shrinks): the reader would be
    judged idle after the patience and closed at the unwaited bound."""
    count, size = 800, 10 * 1024
    slow = SlowReader(server.port)
    slow.sio_connect()
    slow.send_text('420["join","slow"]')
    while slow.recv_message() != "430[true]":
        pass
    before = server.stats()["disconnects"].get("transport error", 0)
    slow.send_text("421" + json.dumps(["flood", {"count": count, "size": size, "room": "slow", "producer": "task"}]))
    seqs: list[int] = []
    slow.throttle = True
    while len(seqs) < count:
        message = slow.recv_message()
        if isinstance(message, str) and message.startswith('42["tick",'):
            seqs.append(int(message[10:message.index(",", 10)]))
    assert seqs == list(range(count))
    assert server.stats()["disconnects"].get("transport error", 0) == before
    record_property("delivered", len(seqs))
    slow.close()


def run_readers(port: int, clients: int, count: int, extra_env: dict[str, str] | None = None,
                trigger: str | None = None) -> subprocess.Popen[str]:
    """tests/node/flow_readers.js: `clients` raw WebSocket readers in one node process."""
    cmd = ["node", os.path.join(ROOT, "tests", "node", "flow_readers.js"),
           json.dumps({"port": port, "clients": clients, "count": count, "room": "room",
                       "trigger": trigger})]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
                            env={**os.environ, **(extra_env or {})})


def wait_line(proc: subprocess.Popen[str], prefix: str, timeout: float) -> dict[str, Any]:
    """The JSON after `prefix` on the readers' stdout (bounded by `timeout`)."""
    box: dict[str, Any] = {}

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith(prefix):
                box["value"] = json.loads(line[len(prefix):])
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout)
    if "value" not in box:
        proc.kill()
        _, err = proc.communicate(timeout=5)
        pytest.fail(f"no {prefix!r} from the readers within {timeout} s; stderr: {err[-2000:]}")
    value: dict[str, Any] = box["value"]
    return value


ROOM_READERS, ROOM_STALLED, ROOM_COUNT, ROOM_SIZE = 1000, 100, 500, 4096
# What each stalled client is sent before the flood, to its own connection: most of what the
# kernel holds for a socket whose peer advertises a 1 KB window (1.7 MB measured), so that the
# flood's 2 MB really queue in the server for it. (Sending 4 MB to the room instead makes the
# 1,000 readers' process the bottleneck: the kernel drops on its receive queues and TCP's
# retransmission back-off shows as multi-second gaps that have nothing to do with the server.)
ROOM_FILL = 1 << 20


def room_rss_bound_kb(message: int, in_flight: int) -> int:
    """The documented bound of the server's RSS growth in the room test (docs/security.md):
    each stalled client holds at most `max_unwaited_bytes`, or the high-water mark plus what
    was applied before a producer's wait started (`in_flight` messages: 1 for a greenlet, up to
    `THREAD_WINDOW` for a plain thread), plus one message; the readers are waited for
    (the high-water mark plus what was in flight, at worst); 16 MB for everything else."""
    stalled = max(UNWAITED, DEFAULTS.high_water_mark + in_flight * message) + message
    readers = DEFAULTS.high_water_mark + in_flight * message
    return (ROOM_STALLED * stalled + ROOM_READERS * readers) // 1024 + 16 * 1024


@pytest.fixture(scope="module")
def redis_pair(tmp_path_factory: Any) -> Iterator[tuple[TargetServer, TargetServer]]:
    """Two servers at the default options on one Redis (the readers on the first)."""
    with _servers("other-node", tmp_path_factory.mktemp("redis")) as pair:
        yield pair


@pytest.mark.parametrize("producer", ["task", "thread", "other-node"])
def test_room_of_1000_readers_and_100_stalled(producer: str, request: Any, record_property: Any) -> None:
    """1,000 readers (one node process) and 100 stalled clients in a room; a producer emits
    500 messages of 4 KB as fast as it can: from a background task, from a plain OS thread,
    or from another server process through Redis (the message-queue applier never waits: the
    readers of this node get everything while its stalled clients are stalled). Every reader
    gets all 500 in order; all 100 stalled clients stop holding the producer after the
    patience and are closed at the unwaited bound (each was sent 1 MB of its own first, so that with the 2 MB
    of the flood its data is more than the kernel holds for a socket whose peer advertises a
    1 KB window, and really queues in the server); the server's RSS growth stays under the
    documented bound.

    The previous version of this test (10 stalled, 2 MB each) passed with stall detection
    switched off: its stalled clients' data fit in the kernel's send buffers and they were
    closed at the ping timeout. At the default ping timeout (45 s) that is impossible here, and
    the test asserts the slow-consumer line of each of the 100.

    The readers' own gaps (`longest_gap_ms`, measured in the node process) and the producer's
    longest emit are recorded, not asserted: 1,000 readers in one node process on a shared
    2-core machine (load 5 to 15 while this was written) wait for the CPU, and the producer
    paces to them (it waits for readers that drain, by design), so both measure the machine.
    The longest emit measured 0.50-0.57 s and the readers' gaps 0.6 to 1.6 s at load 4-5;
    with 2,000 messages of 1 KB (the same bytes, four times the readers' work) and load 15 the
    gaps reached 14 s and a few readers, starved, were judged idle and closed at the unwaited
    bound. The flood test above asserts the
    client-side gap where the client is not the bottleneck; here the proof that no stalled
    member held the room until `stall_timeout` is the reason each was closed with."""
    if producer == "other-node":
        server, producer_server = request.getfixturevalue("redis_pair")
    else:
        server = producer_server = request.getfixturevalue("server")
    stats = server.stats()
    before, filled = stats["disconnects"].get("transport error", 0), stats["filled"]
    stalled = [stalled_client(server.port) for _ in range(ROOM_STALLED)]
    for ws in stalled:
        ws.send_text("42" + json.dumps(["fill", ROOM_FILL]))
    wait_for(lambda: server.stats()["filled"] - filled == ROOM_STALLED, timeout=30)
    proc = run_readers(server.port, ROOM_READERS, ROOM_COUNT)
    try:
        ready = wait_line(proc, "READY ", 60)
        assert ready["joined"] == ROOM_READERS
        meter = PeakRSS(server, limit=120)
        spec = {"count": ROOM_COUNT, "size": ROOM_SIZE, "room": "room", "every": 0,
                "producer": "thread" if producer == "thread" else "task"}
        started = time.monotonic()
        _trigger(producer_server, spec)
        result = wait_line(proc, "DONE ", 120)
        elapsed = time.monotonic() - started
        eio_sids = [s.eio_sid or "?" for s in stalled]
        others = [w for w in server.stats()["warnings"] if not any(w.startswith(f"{sid}:") for sid in eio_sids)]
        assert result["complete"] == ROOM_READERS, (result, others[-5:])
        assert result["bad"] == [], result
        assert result["closed"] == 0, result
        wait_for(lambda: server.stats()["disconnects"].get("transport error", 0) - before >= ROOM_STALLED,
                 timeout=STALL + 10)
        growth = meter.growth_kb()
        stats = server.stats()
        logged = slow_warnings(server, eio_sids)
        assert stats["disconnects"].get("transport error", 0) - before == ROOM_STALLED, stats["disconnects"]
        # Closed at the unwaited bound: each stopped holding the producer after the patience and
        # was then fed without waiting (before issue 23: held until `stall_timeout`, and
        # logged as "no progress for 10 s").
        assert len(logged) == ROOM_STALLED and all("(unwaited bound" in w for w in logged), logged[:3]
        bound = room_rss_bound_kb(ROOM_SIZE, 64 if producer == "thread" else 1)
        figures = {"readers": result["complete"], "longest_gap_ms": result["maxGapMs"], "gap_at": result["gapAt"],
                   "rss_growth_kb": growth, "rss_bound_kb": bound, "seconds": round(elapsed, 2),
                   "producer_done_s": (producer_server.stats()["flood"]).get("done_at"),
                   "longest_emit": (producer_server.stats()["flood"]).get("longest_emit"),
                   "closed_as_slow": len(logged), "example": logged[0]}
        print(f"room of 1000 + 100 stalled ({producer}):", figures)
        for key, value in figures.items():
            record_property(key, value)
        assert growth < bound, figures
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(5)
        for s in stalled:
            s.close()


@contextmanager
def _servers(producer: str, tmp_path: Any, *options: str) -> Iterator[tuple[TargetServer, TargetServer]]:
    if producer != "other-node":
        with target(*options) as server:
            yield server, server
        return
    sys.path.insert(0, os.path.join(ROOT, "tests", "scaleout"))
    from scale_support import RedisServer, require

    require("redis-server")
    redis = RedisServer(tmp_path).start()
    try:
        with target("--message-queue", redis.url, *options) as server, \
                target("--message-queue", redis.url, *options) as other:
            for node in (server, other):
                handshake(node.port)  # the manager starts listening on the first request
            wait_for(lambda: redis.subscribers("flow-test") >= 2, timeout=10)
            yield server, other
    finally:
        if redis.proc is not None:
            redis.proc.terminate()
            redis.proc.wait(5)


def _trigger(server: TargetServer, spec: dict[str, Any]) -> None:
    """Ask `server` to flood (an event from a raw client that then leaves)."""
    ws = RawWS(server.port)
    ws.sio_connect()
    ws.send_text("421" + json.dumps(["flood", spec]))
    while ws.recv_message() != "431[true]":
        pass
    ws.close()


def test_polling_client_that_keeps_polling_is_never_dropped_for_a_burst() -> None:
    """A burst of 6x the outbox bound to a long-polling client that keeps polling: the
    producer waits for its polls past the high-water mark; the client gets every message, in
    order. (Before flow control: `outbox bound reached`, session closed.)"""
    count, size = 96, 32 * 1024
    with sio_env(bystander=False, max_outbox_bytes=512 * 1024, high_water_mark=64 * 1024) as env:
        poller = PollClient(env.port)
        poller.sio_connect()
        padding = "p" * size
        done = threading.Event()

        def burst() -> None:
            for seq in range(count):
                env.sio.emit("tick", (seq, padding))
            done.set()

        env.sio.eio.driver.call_in_loop(lambda: env.sio.start_background_task(burst))
        seqs = []
        while len(seqs) < count:
            message = poller.recv_message()
            assert isinstance(message, str) and message.startswith('42["tick",'), message[:40]
            seqs.append(int(message[10:message.index(",", 10)]))
        assert seqs == list(range(count))
        assert done.wait(10)
        assert env.sio.eio.is_connected(poller.eio_sid or "")
        assert not env.logs.has("outbox bound reached")


def test_a_lane_stays_congested_between_the_water_marks() -> None:
    """A WebSocket writer past the high-water mark is congested until it drains to the
    low-water mark, not as soon as it is back under the high one (hysteresis: a producer is
    not woken for every few bytes the peer takes)."""
    import gevent
    import gevent.socket

    from engineio_core.drivers.gevent_driver import GeventWriter
    from engineio_core.flow import FlowControl

    flow = FlowControl(64 * 1024, 16 * 1024, 1 << 20, 10.0)
    ours, peer = gevent.socket.socketpair()
    ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    errors: list[str] = []
    writer = GeventWriter(ours, flow, errors.append)
    try:
        for _ in range(32):
            writer.write(b"x" * 4096)
        gevent.sleep(0)  # the cork goes out; what the socket does not take is queued
        assert writer in flow.congested and writer.buffered > flow.high_water
        seen_between = False
        for _ in range(10_000):
            if writer not in flow.congested:
                break
            if flow.low_water < writer.buffered <= flow.high_water:
                seen_between = True  # under the high-water mark, still congested
            peer.recv(1024)
            gevent.sleep(0)
        assert seen_between and writer not in flow.congested
        assert writer.buffered <= flow.low_water and errors == []
    finally:
        writer.close()
        ours.close()
        peer.close()


def test_producer_waiting_on_a_poller_that_stopped_polling_is_released() -> None:
    """A long-polling client that stopped polling holds a producer for the patience at most
    (not `stall_timeout`, not until its next poll): the producer goes on, and the client's
    outbox is closed at the unwaited bound, with the slow-consumer line."""
    count, size = 64, 32 * 1024
    with sio_env(bystander=False) as env:
        poller = PollClient(env.port)
        poller.sio_connect()
        padding = "p" * size
        done = threading.Event()

        def burst() -> None:
            for seq in range(count):
                env.sio.emit("tick", (seq, padding))
            done.set()

        env.sio.eio.driver.call_in_loop(lambda: env.sio.start_background_task(burst))
        assert done.wait(STALL - 1)  # released long before stall_timeout
        wait_for(lambda: not env.sio.eio.is_connected(poller.eio_sid or ""), timeout=10)
        assert env.logs.has("unwaited bound")


def test_volatile_to_a_polling_client_that_is_not_polling() -> None:
    """`volatile` goes only to clients that can take it now: a long-polling client with no
    poll pending does not get it (it is never queued for it), one waiting in a poll does."""
    with sio_env(bystander=False) as env:
        poller = PollClient(env.port)
        poller.sio_connect()
        env.sio.eio.driver.call_in_loop(lambda: env.sio.emit("tick", "volatile-1", volatile=True))
        env.sio.eio.driver.call_in_loop(env.sio.emit, "tock", "kept")
        assert poller.recv_message() == '42["tock","kept"]'
        got: list[str | bytes] = []
        reading = threading.Thread(target=lambda: got.append(poller.recv_message()), daemon=True)
        reading.start()
        conn = env.sio.eio._conns[poller.eio_sid or ""]
        wait_for(lambda: conn.poll_waiter is not None, timeout=10)
        env.sio.eio.driver.call_in_loop(lambda: env.sio.emit("tick", "volatile-2", volatile=True))
        reading.join(10)
        assert got == ['42["tick","volatile-2"]']


def test_threading_driver_a_stalled_member_holds_the_writing_thread_for_the_patience_once() -> None:
    """Under the threading driver writes block: the writing thread is held by a client that
    drains (it paces to it), and by one that stopped reading for the patience only, once; then
    that client's data queues behind a drain thread of its own, and it is closed at the unwaited
    bound. Before: the thread was blocked `stall_timeout` (10 s) in that client's send, and
    every later recipient of the broadcast with it."""
    count, size = 2000, 10 * 1024
    with sio_env(bystander=False, async_mode="threading") as env:
        reader = RawWS(env.port)
        reader.sio_connect()
        seqs: list[int] = []
        times: list[float] = []

        def read() -> None:
            while len(seqs) < count:
                message = reader.recv_message()
                if isinstance(message, str) and message.startswith('42["tick",'):
                    times.append(time.monotonic())
                    seqs.append(int(message[10:message.index(",", 10)]))

        reading = threading.Thread(target=read, daemon=True)
        reading.start()
        stalled = RawWS(env.port, rcvbuf=1024)
        stalled.sio_connect()
        padding = "p" * size
        done = threading.Event()

        def flood() -> None:
            for seq in range(count):
                env.sio.emit("tick", (seq, padding))
            done.set()

        env.sio.start_background_task(flood)
        assert done.wait(60)
        reading.join(30)
        assert seqs == list(range(count))
        logged = env.logs.wait_for(stalled.eio_sid or "?", "slow consumer")
        assert "unwaited bound" in logged, logged
        gap = max(b - a for a, b in zip(times, times[1:], strict=False))
        print("threading flood:", {"longest_gap_s": round(gap, 3), "logged": logged})
        stalled.close()
        reader.close()
