"""Slow consumers: per-connection outboxes are bounded.

A client that stops reading while the server broadcasts must cost at most the bound
(``max_outbox_bytes`` for a WebSocket writer, ``max_outbox_messages`` / ``max_outbox_bytes``
for a polling outbox, plus what the kernel's socket buffers hold), then be disconnected with a
logged reason; everyone else keeps receiving every message, in order.

The broadcaster runs in the server (a greenlet on its hub) and is paced by the good clients:
it never runs more than `WINDOW` messages ahead of the slowest *good* reader, so only the
client that really stopped reading can fall behind, whatever the machine's load.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from typing import Any

import pytest
from hard_support import Closed, PollClient, RawWS, SioEnv, rss_kb, sio_env, wait_for

WINDOW = 8


class Reader:
    """A good client reading "tick" broadcasts in a thread of its own."""

    def __init__(self, port: int) -> None:
        self.ws = RawWS(port)
        self.sid = self.ws.sio_connect()
        self.seqs: list[int] = []
        self.ended = threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            while True:
                message = self.ws.recv_message()
                assert isinstance(message, str)
                if message.startswith('42["tick",'):
                    self.seqs.append(int(message[10:message.index(",", 10)]))
                elif message.startswith('42["end"'):
                    self.ended.set()
                    return
        except BaseException as exc:  # reported by the test
            self.error = exc
            self.ended.set()


def start_broadcast(env: SioEnv, readers: list[Reader], stop: Callable[[], bool], pad: int,
                    limit: int) -> dict[str, Any]:
    """Broadcast "tick" [seq, pad] from a server greenlet until `stop()` (checked after each
    message) or `limit` messages; then "end". Returns a dict filled in as it goes."""
    sio = env.sio
    info: dict[str, Any] = {"sent": 0, "done": threading.Event()}
    padding = "p" * pad

    def run() -> None:
        try:
            for seq in range(limit):
                # Pace on the good readers only: they are never more than WINDOW behind.
                while min(len(r.seqs) for r in readers) < seq - WINDOW:
                    if any(r.ended.is_set() for r in readers):
                        return
                    sio.sleep(0.001)
                sio.emit("tick", (seq, padding))
                info["sent"] = seq + 1
                if stop():
                    info.setdefault("stopped_at", seq + 1)
                    if seq + 1 >= info["stopped_at"] + 20:  # a few more after the drop
                        break
                sio.sleep(0)
            sio.emit("end")
        finally:
            info["done"].set()

    sio.eio.driver.call_in_loop(lambda: sio.start_background_task(run))
    return info


def check_readers(readers: list[Reader], sent: int) -> None:
    for r in readers:
        assert r.ended.wait(30), "a good reader did not get the end of the broadcast"
        assert r.error is None, r.error
        assert r.seqs == list(range(sent)), f"lost or reordered: {len(r.seqs)} of {sent}"


def test_websocket_that_stops_reading_is_dropped_past_the_bound(record_property: Any) -> None:
    bound = 256 * 1024
    pad = 16 * 1024
    with sio_env(bystander=False, max_outbox_bytes=bound) as env:
        readers = [Reader(env.port) for _ in range(2)]
        slow = RawWS(env.port, rcvbuf=4096)  # a small window, and it never reads again
        slow.sio_connect()
        slow_eio = slow.eio_sid or ""
        rss_before = rss_kb()
        info = start_broadcast(env, readers, lambda: env.eio_disconnected(slow_eio), pad, limit=3000)
        reason = env.eio_disconnect_reason(slow_eio, timeout=60)
        assert info["done"].wait(60)
        check_readers(readers, info["sent"])
        assert reason == "transport error"
        logged = env.logs.wait_for(slow_eio, "slow consumer")
        unsent, limit = map(int, re.search(r"(\d+) bytes unsent \(bound (\d+)\)", logged).groups())  # type: ignore[union-attr]
        assert limit == bound
        frame_size = pad + 64
        assert bound < unsent <= bound + frame_size, logged  # the bound, plus at most one message
        stopped_at = info["stopped_at"]
        # What it cost: the bound plus whatever the kernel buffers took before the writer
        # started queueing (a few MB at most on loopback).
        assert stopped_at * frame_size < bound + 16 * 1024 * 1024
        assert slow_eio not in env.sio._clients
        growth_kb = rss_kb() - rss_before
        figures = {"bound_bytes": bound, "unsent_at_drop": unsent, "message_bytes": frame_size,
                   "dropped_after_messages": stopped_at, "sent_total": info["sent"],
                   "rss_growth_kb": growth_kb}
        print("slow websocket consumer:", figures)
        for key, value in figures.items():
            record_property(key, value)
        assert growth_kb < 64 * 1024
        slow.close()


def test_websocket_that_stops_reading_under_the_threading_driver() -> None:
    """Werkzeug / threads: writes are blocking, so the bound is time without progress
    (`stall_timeout`). Regression: one client that stopped reading blocked the
    broadcasting thread in sendall() for ever, and every client after it starved."""
    with sio_env(bystander=False, async_mode="threading", stall_timeout=0.5) as env:
        readers = [Reader(env.port) for _ in range(2)]
        slow = RawWS(env.port, rcvbuf=4096)
        slow.sio_connect()
        slow_eio = slow.eio_sid or ""
        info = start_broadcast(env, readers, lambda: env.eio_disconnected(slow_eio), 16 * 1024, limit=3000)
        assert env.eio_disconnect_reason(slow_eio, timeout=60) == "transport error"
        assert info["done"].wait(60)
        check_readers(readers, info["sent"])
        env.logs.wait_for(slow_eio, "slow consumer: no progress for 0.5 s")
        print("slow websocket consumer (threading):", {"dropped_after_messages": info["stopped_at"]})
        slow.close()


@pytest.mark.parametrize(("option", "value", "pad", "fragment"), [
    ("max_outbox_messages", 300, 10, "300 messages"),
    ("max_outbox_bytes", 64 * 1024, 4096, "bytes)"),
])
def test_polling_client_that_never_polls_is_dropped_past_the_bound(
    record_property: Any, option: str, value: int, pad: int, fragment: str
) -> None:
    with sio_env(bystander=False, **{option: value}) as env:
        readers = [Reader(env.port)]
        idle = PollClient(env.port)
        idle.sio_connect()  # ...and it never polls again
        idle_eio = idle.eio_sid or ""
        info = start_broadcast(env, readers, lambda: env.eio_disconnected(idle_eio), pad, limit=3000)
        reason = env.eio_disconnect_reason(idle_eio, timeout=60)
        assert info["done"].wait(60)
        check_readers(readers, info["sent"])
        assert reason == "transport error"
        logged = env.logs.wait_for(idle_eio, "outbox bound reached")
        assert fragment in logged, logged
        with pytest.raises(Closed, match="400"):
            idle.recv_message()  # the session is gone: "Invalid session"
        print(f"polling consumer ({option}={value}):", {"dropped_after_messages": info["stopped_at"],
                                                        "logged": logged})
        record_property(f"polling_{option}_dropped_after", info["stopped_at"])
        assert info["stopped_at"] <= value + 1 if option == "max_outbox_messages" else True


def test_messages_held_before_connect_are_bounded() -> None:
    """A connect handler that never returns while the server broadcasts: what is held for
    that client (sent after its CONNECT ack) is bounded too (MAX_HELD_MESSAGES)."""
    from socketio_core.server import server as server_module

    with sio_env(bystander=False) as env:
        release = env.sio.eio.create_event()
        entered = threading.Event()

        def stuck_connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
            if auth == {"stuck": True}:
                entered.set()
                release.wait(30)

        env.sio.on("connect", stuck_connect)
        stuck = RawWS(env.port)
        stuck.open()
        stuck.send_text('40{"stuck":true}')
        assert entered.wait(10)
        limit = server_module.MAX_HELD_MESSAGES

        def flood() -> None:
            for i in range(limit + 1):
                env.sio.emit("tick", i)

        env.sio.eio.driver.call_in_loop(lambda: env.sio.start_background_task(flood))
        env.logs.wait_for("too many messages held before connect")
        assert env.eio_disconnect_reason(stuck.eio_sid or "", timeout=30) == "server disconnect"
        env.sio.eio.driver.call_in_loop(release.set)
        wait_for(lambda: stuck.eio_sid not in env.sio._clients)
        stuck.close()
