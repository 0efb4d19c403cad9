"""Integration with the official engine.io-client@6 (node), and heartbeat timing.

Each echo test exchanges 10,000 text and 10,000 binary messages each way: the node side
(tests/node/eio_echo.js) checks that every echo arrives once and in order; the server side
checks the same for what it received. Close and heartbeat scenarios run through
tests/node/eio_behaviour.js, and through a raw websocket-client peer that never answers pings.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import websocket
from eio_support import (
    EngineHarness,
    handshake,
    http,
    make_harness,
    poll,
    post,
    run_node,
    serve_gevent,
    serve_werkzeug,
    wait_for,
)

from engineio_core import session as session_module

pytestmark = pytest.mark.node

COUNT = 10_000
PING_INTERVAL = 0.3
PING_TIMEOUT = 0.2

ECHO_MODES = {
    "polling": {"transports": ["polling"], "upgrade": False},
    "websocket": {"transports": ["websocket"], "upgrade": False},
    "upgrade": {"transports": ["polling", "websocket"], "upgrade": True},
}


class TransportRecorder:
    """Wraps the harness's message handler to note the transport each message came on."""

    def __init__(self, harness: EngineHarness) -> None:
        self.transports: list[str] = []
        eio = harness.eio
        inner = eio.handlers["message"]

        def on_message(eio_sid: str, data: str | bytes) -> None:
            self.transports.append(eio.transport(eio_sid))
            inner(eio_sid, data)

        eio.on("message", on_message)


@pytest.fixture
def harness() -> EngineHarness:
    return make_harness()


@pytest.fixture
def url(harness: EngineHarness) -> Iterator[str]:
    with serve_gevent(harness.app) as served:
        yield served.url


def check_server_side(harness: EngineHarness, count: int = COUNT, pad: int = 0) -> str:
    """One session; it received t0..t9999 and 0..9999 (4-byte big-endian), each once, in order
    (with `pad`: texts end in "-" and `pad` x's, binaries in `pad` zero bytes)."""
    assert len(harness.connects) == 1
    sid = harness.connects[0]
    texts = [d for s, d in harness.messages if s == sid and isinstance(d, str)]
    binaries = [d for s, d in harness.messages if s == sid and isinstance(d, bytes)]
    suffix = "-" + "x" * pad if pad else ""
    assert texts == [f"t{i}{suffix}" for i in range(count)]
    assert binaries == [i.to_bytes(4, "big") + bytes(pad) for i in range(count)]
    return sid


def run_echo(url: str, mode: str, count: int = COUNT, **extra: Any) -> dict[str, Any]:
    options = {"url": url, "count": count, "timeoutMs": 30000, **ECHO_MODES[mode], **extra}
    result = run_node("eio_echo.js", options, timeout=45)
    assert result["why"] == "done", result
    assert result["errors"] == []
    assert (result["textOk"], result["binOk"]) == (count, count)
    return result


# -- echo: 10,000 text and 10,000 binary messages each way -----------------------------------------


def test_echo_polling_only(harness: EngineHarness, url: str) -> None:
    result = run_echo(url, "polling")
    assert result["transportAtOpen"] == result["transportAtEnd"] == "polling"
    check_server_side(harness)


def test_echo_websocket_only(harness: EngineHarness, url: str) -> None:
    result = run_echo(url, "websocket")
    assert result["transportAtOpen"] == result["transportAtEnd"] == "websocket"
    assert result["wsExtensions"] == ""  # websocket_compression is off by default
    check_server_side(harness)


def test_echo_across_the_upgrade(harness: EngineHarness, url: str) -> None:
    """Messages start flowing at open, over polling, and keep flowing while the client
    probes and upgrades: none lost, duplicated or reordered across the switch."""
    recorder = TransportRecorder(harness)
    result = run_echo(url, "upgrade")
    assert result["transportAtOpen"] == "polling"
    assert result["transportAtEnd"] == "websocket"
    assert result["upgraded"] is True
    check_server_side(harness)
    # The first burst is written before the probe starts: it goes over polling. Once a message
    # has come over the WebSocket, none comes over polling again.
    assert recorder.transports[0] == "polling"
    switch = recorder.transports.index("websocket") if "websocket" in recorder.transports else COUNT * 2
    assert set(recorder.transports[switch:]) <= {"websocket"}


@pytest.mark.parametrize("mode", ["websocket", "upgrade"])
def test_echo_with_permessage_deflate(mode: str) -> None:
    """websocket_compression=True: the client offers permessage-deflate and both sides compress
    messages of 1 KB and more (2,000 messages of 1.5 KB each way, text and binary)."""
    h = make_harness(websocket_compression=True)
    with serve_gevent(h.app) as served:
        result = run_echo(served.url, mode, count=2000, pad=1500)
        assert result["transportAtEnd"] == "websocket"
        assert result["wsExtensions"].startswith("permessage-deflate")
    check_server_side(h, count=2000, pad=1500)


# -- closing -----------------------------------------------------------------------------------------


def closing_harness(**options: Any) -> EngineHarness:
    """Echoes, but closes the session from the server side on "close-me"."""
    h = make_harness(echo=False, **options)
    inner = h.eio.handlers["message"]

    def on_message(eio_sid: str, data: str | bytes) -> None:
        inner(eio_sid, data)
        if data == "close-me":
            h.eio.disconnect(eio_sid)
        else:
            h.eio.send(eio_sid, data)

    h.eio.on("message", on_message)
    return h


@pytest.mark.parametrize("mode", ["polling", "websocket", "upgrade"])
def test_server_initiated_close(mode: str) -> None:
    h = closing_harness()
    with serve_gevent(h.app) as served:
        options = {"url": served.url, "scenario": "serverClose", **ECHO_MODES[mode]}
        if mode == "upgrade":
            options["waitUpgrade"] = True
        result = run_node("eio_behaviour.js", options, timeout=30)
        assert result["why"] == "closed", result
        assert result["closeReason"] == "transport close"
        assert result["transport"] == ("polling" if mode == "polling" else "websocket")
        sid = h.connects[0]
        assert h.wait_disconnect(sid)[0] == "server disconnect"
        assert h.eio.session_count == 0
        # The sid is gone for good.
        resp = poll(served.port, sid)
        assert (resp.status, json.loads(resp.body)) == (400, {"code": 1, "message": "Session ID unknown"})


@pytest.mark.parametrize(("mode", "reason"), [("polling", "client disconnect"),
                                              ("websocket", "transport close"),
                                              ("upgrade", "transport close")])
def test_client_initiated_close(harness: EngineHarness, url: str, mode: str, reason: str) -> None:
    options = {"url": url, "scenario": "clientClose", **ECHO_MODES[mode]}
    if mode == "upgrade":
        options["waitUpgrade"] = True
    result = run_node("eio_behaviour.js", options, timeout=30)
    assert result["messages"] == ["bye"]
    assert result["closeReason"] == "forced close"
    sid = harness.connects[0]
    assert harness.wait_disconnect(sid)[0] == reason
    assert harness.eio.session_count == 0


def test_server_close_of_idle_polling_session_is_delivered_on_next_poll(harness: EngineHarness, url: str) -> None:
    """No poll pending when the server closes: the CLOSE packet waits for the next poll."""
    port = int(url.rsplit(":", 1)[1])
    sid = handshake(port)
    harness.eio.disconnect(sid)
    assert harness.wait_disconnect(sid)[0] == "server disconnect"
    resp = poll(port, sid)
    assert (resp.status, resp.text) == (200, "1")
    resp = poll(port, sid)
    assert (resp.status, json.loads(resp.body)) == (400, {"code": 1, "message": "Session ID unknown"})


def test_server_closed_polling_session_is_reaped_without_a_poll(
    harness: EngineHarness, url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """CLOSING waits CLOSING_GRACE for the client's next poll; if none comes, the timer
    forgets the session (the disconnect handler ran at the close already)."""
    monkeypatch.setattr(session_module, "CLOSING_GRACE", 0.2)
    port = int(url.rsplit(":", 1)[1])
    sid = handshake(port)
    harness.eio.disconnect(sid)
    assert harness.wait_disconnect(sid)[0] == "server disconnect"
    wait_for(lambda: harness.eio.session_count == 0)
    resp = poll(port, sid)
    assert (resp.status, json.loads(resp.body)) == (400, {"code": 1, "message": "Session ID unknown"})
    assert [d[0] for d in harness.disconnects] == [sid]  # once only


# -- heartbeat -----------------------------------------------------------------------------------------


def heartbeat_harness(ping_timeout: float = PING_TIMEOUT, **options: Any) -> tuple[EngineHarness, dict[str, float]]:
    """A harness that also notes (server-side, monotonic) when each session connected.

    Tests where the peer must answer in time use a generous `ping_timeout`, so that a loaded
    machine cannot turn a late PONG into a failure; the timeout tests use the small one."""
    opened: dict[str, float] = {}

    def on_connect(eio_sid: str, environ: dict[str, Any]) -> None:
        opened[eio_sid] = time.monotonic()

    return make_harness(connect=on_connect, ping_interval=PING_INTERVAL,
                        ping_timeout=ping_timeout, **options), opened


ANSWERING = 2.0  # ping_timeout for tests whose peer answers every PING


@dataclass(frozen=True)
class Tick:
    """One call of the server's timer on a session, on the server's own clock."""

    eio_sid: str
    now: float
    next_ping_at: float
    pong_deadline: float
    awaiting_pong: bool
    result: str


@pytest.fixture
def ticks(monkeypatch: pytest.MonkeyPatch) -> list[Tick]:
    """Every `EngineSession.on_timer` call, with the deadlines the session had before it."""
    log: list[Tick] = []
    on_timer = session_module.EngineSession.on_timer

    def recording(self: session_module.EngineSession, now: float) -> Any:
        before = (self.next_ping_at, self.pong_deadline, self.awaiting_pong)
        event = on_timer(self, now)
        log.append(Tick(self.eio_sid, now, *before, type(event).__name__))
        return event

    monkeypatch.setattr(session_module.EngineSession, "on_timer", recording)
    return log


def assert_closed_on_the_servers_deadline(ticks: list[Tick], eio_sid: str) -> None:
    """The heartbeat bound, read from the server's own clock and the order of its timer
    ticks instead of the test's wall clock (which a loaded machine stretches): the last PING
    went out at its deadline, the session was closed by the tick for that PING's PONG
    deadline (exactly `ping_timeout` later on the same clock), and by the first tick at or
    after it, with no PING in between."""
    mine = [t for t in ticks if t.eio_sid == eio_sid]
    closes = [i for i, t in enumerate(mine) if t.result == "Closed"]
    assert len(closes) == 1, mine
    close = mine[closes[0]]
    pings = [i for i, t in enumerate(mine[:closes[0]]) if t.result == "SendPing"]
    assert pings, mine
    ping = mine[pings[-1]]
    assert not ping.awaiting_pong and ping.now >= ping.next_ping_at  # sent at its deadline
    assert close.awaiting_pong and close.next_ping_at == ping.next_ping_at  # no PONG since
    assert close.pong_deadline == ping.now + PING_TIMEOUT
    assert close.now >= close.pong_deadline
    between = mine[pings[-1] + 1:closes[0]]
    assert all(t.result == "NoneType" and t.now < close.pong_deadline for t in between), between


@pytest.mark.parametrize("mode", ["polling", "websocket"])
def test_node_client_that_stops_answering_pings(mode: str, ticks: list[Tick]) -> None:
    h, opened = heartbeat_harness()
    with serve_gevent(h.app) as served:
        result = run_node("eio_behaviour.js", {"url": served.url, "scenario": "noPong", **ECHO_MODES[mode]},
                          timeout=30)
        assert result["why"] == "closed", result
        assert result["pings"] == 1  # exactly one PING, then the timeout
        sid = h.connects[0]
        reason, at = h.wait_disconnect(sid)
        assert reason == "ping timeout"
        assert_closed_on_the_servers_deadline(ticks, sid)


@pytest.mark.parametrize("mode", ["polling", "websocket"])
def test_node_client_keeps_answering_pings(mode: str) -> None:
    """With a small interval, an answering client stays connected over several pings."""
    h, _ = heartbeat_harness(ANSWERING)
    with serve_gevent(h.app) as served:
        result = run_node("eio_behaviour.js", {"url": served.url, "scenario": "stay", "untilPings": 4,
                                               **ECHO_MODES[mode]}, timeout=30)
        assert result["why"] == "pinged", result
        assert result["closeReason"] is None
        assert result["transport"] == mode
        sid = h.connects[0]
        assert h.wait_disconnect(sid)[0] != "ping timeout"  # the client closed it at the end


def test_raw_websocket_peer_stops_answering_pings(ticks: list[Tick]) -> None:
    """A websocket-client peer answers two PINGs, then goes silent: the session closes with
    'ping timeout' ping_interval + ping_timeout after its last PONG."""
    h, _ = heartbeat_harness()
    with serve_gevent(h.app) as served:
        ws = websocket.create_connection(f"ws://127.0.0.1:{served.port}/engine.io/?EIO=4&transport=websocket",
                                         timeout=10)
        try:
            assert ws.recv().startswith("0{")
            for _ in range(2):
                assert ws.recv() == "2"
                ws.send("3")
            assert ws.recv() == "2"  # the third PING, left unanswered
            sid = h.connects[0]
            reason, at = h.wait_disconnect(sid)
            assert reason == "ping timeout"
            assert_closed_on_the_servers_deadline(ticks, sid)
            assert [t.result for t in ticks if t.eio_sid == sid].count("SendPing") == 3
            # The server then closes the WebSocket (close frame, then EOF).
            opcode, data = ws.recv_data(control_frame=True)
            assert opcode == websocket.ABNF.OPCODE_CLOSE
            assert int.from_bytes(data[:2], "big") == 1000
        finally:
            ws.close()


def test_polling_peer_that_never_polls_times_out(ticks: list[Tick]) -> None:
    """A polling session that never answers: closed on time, and its sid is then refused."""
    h, opened = heartbeat_harness()
    with serve_gevent(h.app) as served:
        sid = handshake(served.port)
        reason, at = h.wait_disconnect(sid)
        assert reason == "ping timeout"
        assert_closed_on_the_servers_deadline(ticks, sid)
        resp = poll(served.port, sid)
        assert (resp.status, json.loads(resp.body)) == (400, {"code": 1, "message": "Session ID unknown"})


def test_polling_ping_pong_keeps_the_session() -> None:
    """engine.io-protocol test-suite: three rounds of GET → "2", POST "3" → ok."""
    h, _ = heartbeat_harness(ANSWERING)
    with serve_gevent(h.app) as served:
        sid = handshake(served.port)
        for _ in range(3):
            resp = poll(served.port, sid)
            assert (resp.status, resp.text) == (200, "2")
            resp = http(served.port, "POST", f"EIO=4&transport=polling&sid={sid}", body="3")
            assert (resp.status, resp.text) == (200, "ok")
        assert not h.disconnected(sid)


def test_pong_anywhere_in_a_polling_payload_keeps_the_heartbeat() -> None:
    """Regression: a PONG that was not the last packet of a POST ("3\x1e4msg", as a client
    that batches sends) moved the deadline without telling the timer loop: the server never
    pinged that session again, nor timed it out."""
    h, _ = heartbeat_harness(ANSWERING)
    with serve_gevent(h.app) as served:
        sid = handshake(served.port)
        for payload, echoed in (("3\x1e4first", "4first"), ("4second\x1e3\x1e4third", "4second\x1e4third")):
            resp = poll(served.port, sid)
            assert (resp.status, resp.text) == (200, "2")
            assert post(served.port, sid, payload).text == "ok"
            assert poll(served.port, sid).text == echoed
        assert poll(served.port, sid).text == "2"  # the heartbeat goes on
        assert not h.disconnected(sid)


def test_pong_flood_does_not_grow_the_timer_heap(harness: EngineHarness, url: str) -> None:
    """Out-of-sequence PONGs are ignored (CVE-2026-48802 hardening): no timer entry each."""
    port = int(url.rsplit(":", 1)[1])
    sid = handshake(port)
    assert post(port, sid, "\x1e".join(["3"] * 2000)).text == "ok"
    ws = websocket.create_connection(f"ws://127.0.0.1:{port}/engine.io/?EIO=4&transport=websocket", timeout=10)
    try:
        assert ws.recv().startswith("0{")
        for _ in range(2000):
            ws.send("3")
        ws.send("4sync")
        assert ws.recv() == "4sync"  # every PONG before it was processed
        assert len(harness.eio._timers) <= 2  # one entry per session
    finally:
        ws.close()
    harness.assert_alive(port, sid)


# -- the Werkzeug dev server (threading driver) ----------------------------------------------------------


@pytest.mark.parametrize("mode", ["polling", "websocket", "upgrade"])
def test_echo_on_werkzeug(mode: str) -> None:
    h = make_harness(async_mode="threading")
    assert h.eio.async_mode == "threading"
    with serve_werkzeug(h.app) as served:
        result = run_echo(served.url, mode)
        assert result["transportAtEnd"] == ("polling" if mode == "polling" else "websocket")
    check_server_side(h)


@pytest.mark.parametrize("mode", ["polling", "websocket"])
def test_werkzeug_server_close(mode: str) -> None:
    h = closing_harness(async_mode="threading")
    with serve_werkzeug(h.app) as served:
        result = run_node("eio_behaviour.js", {"url": served.url, "scenario": "serverClose",
                                               **ECHO_MODES[mode]}, timeout=30)
        assert result["why"] == "closed", result
        assert result["closeReason"] == "transport close"
        assert h.wait_disconnect(h.connects[0])[0] == "server disconnect"


@pytest.mark.parametrize("mode", ["polling", "websocket"])
def test_werkzeug_ping_timeout(mode: str, ticks: list[Tick]) -> None:
    h, opened = heartbeat_harness(async_mode="threading")
    with serve_werkzeug(h.app) as served:
        result = run_node("eio_behaviour.js", {"url": served.url, "scenario": "noPong",
                                               **ECHO_MODES[mode]}, timeout=30)
        assert result["why"] == "closed", result
        sid = h.connects[0]
        reason, at = h.wait_disconnect(sid)
        assert reason == "ping timeout"
        assert_closed_on_the_servers_deadline(ticks, sid)
