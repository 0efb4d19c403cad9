"""The WebSocket transport with a raw websocket-client peer (gevent server).

The engine.io-protocol v4 test-suite's WebSocket cases (open, text and binary messages,
invalid packet, forced close), the upgrade from polling step by step, frames that break
RFC 6455 or the size limit, and the end of a WebSocket whose writer is still flushing.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator

import pytest
import websocket
from eio_support import (
    EngineHarness,
    Response,
    handshake,
    make_harness,
    poll,
    post,
    serve_gevent,
    wait_poll_pending,
)

from engineio_core.drivers import gevent_driver


@pytest.fixture
def harness() -> EngineHarness:
    return make_harness()


@pytest.fixture
def port(harness: EngineHarness) -> Iterator[int]:
    with serve_gevent(harness.app) as served:
        yield served.port


def connect(port: int, sid: str | None = None) -> websocket.WebSocket:
    query = "EIO=4&transport=websocket" + (f"&sid={sid}" if sid else "")
    return websocket.create_connection(f"ws://127.0.0.1:{port}/engine.io/?{query}", timeout=10)


def open_ws(port: int) -> tuple[websocket.WebSocket, str]:
    ws = connect(port)
    first = ws.recv()
    assert isinstance(first, str) and first.startswith("0")
    sid: str = json.loads(first[1:])["sid"]
    return ws, sid


def expect_close(ws: websocket.WebSocket) -> int:
    """Skip data frames until the close frame; return its status code."""
    while True:
        opcode, data = ws.recv_data(control_frame=True)
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            return int.from_bytes(data[:2], "big") if len(data) >= 2 else 1005


def test_open_packet(port: int) -> None:
    ws = connect(port)
    try:
        first = ws.recv()
        value = json.loads(first[1:])
        assert first[0] == "0"
        assert list(value) == ["sid", "upgrades", "pingTimeout", "pingInterval", "maxPayload"]
        assert value["upgrades"] == []  # already on the best transport
    finally:
        ws.close()


def test_text_and_binary_messages(harness: EngineHarness, port: int) -> None:
    ws, sid = open_ws(port)
    try:
        ws.send("4hello €")
        assert ws.recv() == "4hello €"
        ws.send_binary(b"\x01\x02\x03\x04")
        opcode, data = ws.recv_data()
        assert (opcode, data) == (websocket.ABNF.OPCODE_BINARY, b"\x01\x02\x03\x04")
        # A `b` text frame is base64 binary, as in the reference; the echo is a binary frame.
        ws.send("bAQID")
        assert ws.recv_data() == (websocket.ABNF.OPCODE_BINARY, b"\x01\x02\x03")
        # Large messages (16- and 64-bit frame lengths) both ways.
        for size in (200, 70_000):
            ws.send("4" + "z" * size)
            assert ws.recv() == "4" + "z" * size
        assert harness.messages[:3] == [(sid, "hello €"), (sid, b"\x01\x02\x03\x04"), (sid, b"\x01\x02\x03")]
    finally:
        ws.close()
    assert harness.wait_disconnect(sid)[0] == "transport close"


@pytest.mark.parametrize("frame", ["abc", "", "0{}", "2", "b!!!"])
def test_invalid_packet_closes_the_session(harness: EngineHarness, port: int, frame: str) -> None:
    other = handshake(port)
    ws, sid = open_ws(port)
    try:
        ws.send(frame)
        assert expect_close(ws) == 1002
    finally:
        ws.close()
    assert harness.wait_disconnect(sid)[0] == "transport error"
    harness.assert_alive(port, other)


def test_client_close_packet(harness: EngineHarness, port: int) -> None:
    ws, sid = open_ws(port)
    try:
        ws.send("1")
        assert expect_close(ws) == 1000
    finally:
        ws.close()
    assert harness.wait_disconnect(sid)[0] == "client disconnect"


def test_server_disconnect_sends_close_packet(harness: EngineHarness, port: int) -> None:
    ws, sid = open_ws(port)
    try:
        harness.eio.disconnect(sid)
        assert ws.recv() == "1"
        assert expect_close(ws) == 1000
    finally:
        ws.close()
    assert harness.wait_disconnect(sid)[0] == "server disconnect"


def test_message_over_the_size_limit() -> None:
    h = make_harness(max_http_buffer_size=1000)
    with serve_gevent(h.app) as served:
        other = handshake(served.port)
        ws, sid = open_ws(served.port)
        try:
            ws.send("4" + "a" * 999)
            assert ws.recv() == "4" + "a" * 999
            ws.send("4" + "a" * 1000)
            assert expect_close(ws) == 1009  # "message too big"
        finally:
            ws.close()
        assert h.wait_disconnect(sid)[0] == "transport error"
        # Fragmented: the limit applies to the whole message, not to each frame.
        ws, sid = open_ws(served.port)
        try:
            ws.send_frame(websocket.ABNF(fin=0, opcode=websocket.ABNF.OPCODE_TEXT, data="4" + "b" * 600))
            ws.send_frame(websocket.ABNF(fin=1, opcode=websocket.ABNF.OPCODE_CONT, data="c" * 600))
            assert expect_close(ws) == 1009
        finally:
            ws.close()
        assert h.wait_disconnect(sid)[0] == "transport error"
        h.assert_alive(served.port, other)


@pytest.mark.parametrize(
    "raw",
    [
        bytes([0xC1, 0x80 | 1]) + b"\x00\x00\x00\x00" + b"4",  # RSV1 without a negotiated extension
        bytes([0xA1, 0x80 | 1]) + b"\x00\x00\x00\x00" + b"4",  # RSV2 (CVE-2022-21676)
        bytes([0x83, 0x80]) + b"\x00\x00\x00\x00",  # reserved opcode 3
        bytes([0x81, 0x01, 0x34]),  # unmasked client frame
        bytes([0x81, 0x82]) + b"\x00\x00\x00\x00" + b"\xc3\x28",  # invalid UTF-8 in a text frame
    ],
)
def test_invalid_frames_close_only_that_connection(harness: EngineHarness, port: int, raw: bytes) -> None:
    other = handshake(port)
    ws, sid = open_ws(port)
    try:
        ws.sock.sendall(raw)
        assert expect_close(ws) in (1002, 1007)
    except (websocket.WebSocketConnectionClosedException, ConnectionError):
        pass  # the server may also just drop the connection
    finally:
        ws.close()
    assert harness.wait_disconnect(sid)[0] == "transport error"
    harness.assert_alive(port, other)


def test_messages_before_a_bad_frame_are_handled(harness: EngineHarness, port: int) -> None:
    """Good messages and then a bad frame in one TCP segment: the good ones are handled (in
    order) before the connection is closed for the bad one. Nothing the peer sent in good
    form is lost to the error that follows it."""
    def masked_text(payload: bytes) -> bytes:
        return bytes([0x81, 0x80 | len(payload)]) + b"\x00\x00\x00\x00" + payload

    other = handshake(port)
    ws, sid = open_ws(port)
    try:
        ws.sock.sendall(masked_text(b"4first") + masked_text(b"4second") + bytes([0x83, 0x80]) + b"\x00" * 4)
        assert expect_close(ws) == 1002
    finally:
        ws.close()
    assert harness.wait_disconnect(sid)[0] == "transport error"
    with harness.cond:
        assert [data for msg_sid, data in harness.messages if msg_sid == sid] == ["first", "second"]
    harness.assert_alive(port, other)


# -- the upgrade, step by step -----------------------------------------------------------------------


def test_upgrade_ends_the_pending_poll_with_noop(harness: EngineHarness, port: int) -> None:
    sid = handshake(port)
    polled: list[Response] = []
    poller = threading.Thread(target=lambda: polled.append(poll(port, sid)))
    poller.start()
    wait_poll_pending(harness.eio, sid)
    ws = connect(port, sid)
    try:
        ws.send("2probe")
        assert ws.recv() == "3probe"
        poller.join(10)
        # Spec: the server sends a noop packet to any pending GET request.
        assert [(r.status, r.text) for r in polled] == [(200, "6")]
        # Still probing: polling works both ways until the UPGRADE packet.
        assert (post(port, sid, "4during").status, harness.eio.transport(sid)) == (200, "polling")
        ws.send("5")
        # What was queued for the poll while probing is flushed over the WebSocket.
        assert ws.recv() == "4during"
        assert harness.eio.transport(sid) == "websocket"
        ws.send("4after")
        assert ws.recv() == "4after"
    finally:
        ws.close()
    assert harness.wait_disconnect(sid)[0] == "transport close"


def test_failed_probe_keeps_polling(harness: EngineHarness, port: int) -> None:
    sid = handshake(port)
    ws = connect(port, sid)
    try:
        ws.send("4not-a-probe")
        assert expect_close(ws) == 1000
    finally:
        ws.close()
    assert not harness.disconnected(sid)
    harness.assert_alive(port, sid)
    # Probe answered, then something other than UPGRADE: back to polling, session intact.
    ws = connect(port, sid)
    try:
        ws.send("2probe")
        assert ws.recv() == "3probe"
        ws.send("4wrong")
        assert expect_close(ws) == 1000
    finally:
        ws.close()
    harness.assert_alive(port, sid)
    assert harness.eio.transport(sid) == "polling"
    # ...and a later upgrade still succeeds.
    ws = connect(port, sid)
    try:
        ws.send("2probe")
        assert ws.recv() == "3probe"
        ws.send("5")
        ws.send("4up")
        assert ws.recv() == "4up"
    finally:
        ws.close()
    assert harness.wait_disconnect(sid)[0] == "transport close"


def test_probe_socket_dropped_keeps_polling(harness: EngineHarness, port: int) -> None:
    sid = handshake(port)
    ws = connect(port, sid)
    ws.send("2probe")
    assert ws.recv() == "3probe"
    ws.close()
    # The poll that the probe ended is answered; then the session polls on as before.
    harness.assert_alive(port, sid)
    assert harness.eio.transport(sid) == "polling"
    assert not harness.disconnected(sid)


def test_upgrade_when_upgrades_are_disabled() -> None:
    h = make_harness(allow_upgrades=False)
    with serve_gevent(h.app) as served:
        sid = handshake(served.port)
        ws = connect(served.port, sid)
        try:
            ws.send("2probe")
            assert ws.recv() == "3probe"
        finally:
            ws.close()
        h.assert_alive(served.port, sid)


# -- the end of a WebSocket whose writer is still flushing ----------------------------------------------


def flooding_harness(**options: object) -> EngineHarness:
    """Echoes, except: on "flood" the server queues 30 MB for the client; on "bye" it closes
    the session."""
    h = make_harness(echo=False, max_outbox_bytes=64_000_000, **options)
    inner = h.eio.handlers["message"]

    def on_message(eio_sid: str, data: str | bytes) -> None:
        inner(eio_sid, data)
        if data == "flood":
            for _ in range(30):
                h.eio.send(eio_sid, "x" * 1_000_000)
        elif data == "bye":
            h.eio.disconnect(eio_sid)
        else:
            h.eio.send(eio_sid, data)

    h.eio.on("message", on_message)
    return h


def test_close_while_flushing_delivers_everything_then_closes() -> None:
    """A server close waits for the writer: all 30 MB, the CLOSE packet, the close frame, EOF."""
    h = flooding_harness()
    with serve_gevent(h.app) as served:
        ws, sid = open_ws(served.port)
        try:
            ws.send("4flood")
            ws.send("4bye")
            assert h.wait_disconnect(sid)[0] == "server disconnect"
            frames = parse_server_frames(read_raw_until_eof(ws))
        finally:
            ws.close()
        assert len(frames) == 32
        assert all(f == (0x1, b"4" + b"x" * 1_000_000) for f in frames[:30])
        assert frames[30] == (0x1, b"1")
        assert frames[31] == (0x8, b"\x03\xe8")  # close, 1000
        assert [d for s, d in h.messages if s == sid] == ["flood", "bye"]


def read_raw_until_eof(ws: websocket.WebSocket) -> bytes:
    """Everything the server sends until EOF (or a reset), from the raw socket."""
    ws.sock.settimeout(10)
    data = bytearray()
    try:
        while True:
            chunk = ws.sock.recv(1 << 20)
            if not chunk:
                break
            data += chunk
    except ConnectionResetError:
        pass  # no lingering close: frames the peer sent after our close may reset the socket
    return bytes(data)


def parse_server_frames(data: bytes) -> list[tuple[int, bytes]]:
    """Split unmasked, unfragmented server frames (RFC 6455 §5.2); fails on anything else."""
    frames = []
    i = 0
    while i < len(data):
        b0, b1 = data[i], data[i + 1]
        assert b0 & 0xF0 == 0x80 and b1 & 0x80 == 0, data[i:i + 16]
        n, i = b1 & 0x7F, i + 2
        if n == 126:
            n, i = int.from_bytes(data[i:i + 2], "big"), i + 2
        elif n == 127:
            n, i = int.from_bytes(data[i:i + 8], "big"), i + 8
        assert i + n <= len(data), "truncated frame"
        frames.append((b0 & 0x0F, data[i:i + n]))
        i += n
    return frames


def test_frames_after_close_are_never_read_as_http() -> None:
    """Regression: the WebSocket handler returned to pywsgi while its writer was still flushing;
    pywsgi then parsed the client's next frames as an HTTP request (answering 400 into the
    WebSocket stream) and closed the socket under the writer, aborting the process in libev."""
    h = flooding_harness()
    with serve_gevent(h.app) as served:
        other = handshake(served.port)
        ws, sid = open_ws(served.port)
        try:
            ws.send("4flood")
            ws.send("4bye")
            assert h.wait_disconnect(sid)[0] == "server disconnect"
            # A zero mask keeps the payload readable on the wire: if pywsgi took these bytes for
            # a request, the CRLFs end its request line and it answers "400 Bad Request".
            ws.set_mask_key(lambda n: b"\x00" * n)
            for _ in range(3):
                ws.send("4late\r\n\r\n")
            data = read_raw_until_eof(ws)
            assert b"HTTP/1.1" not in data
        finally:
            ws.close()
        h.assert_alive(served.port, other)
        assert [d for s, d in h.messages if s == sid] == ["flood", "bye"]


def test_close_with_a_peer_that_never_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    """The flush is abandoned after the grace period; the server stays healthy."""
    monkeypatch.setattr(gevent_driver, "FLUSH_GRACE", 0.2)
    gave_up = threading.Event()
    force_close = gevent_driver.GeventWriter._force_close

    def observed_force_close(self: gevent_driver.GeventWriter) -> None:
        force_close(self)
        gave_up.set()

    monkeypatch.setattr(gevent_driver.GeventWriter, "_force_close", observed_force_close)
    h = flooding_harness()
    with serve_gevent(h.app) as served:
        other = handshake(served.port)
        ws, sid = open_ws(served.port)
        try:
            ws.send("4flood")
            ws.send("4bye")
            assert h.wait_disconnect(sid)[0] == "server disconnect"
            h.assert_alive(served.port, other)  # while that writer is stuck
            assert gave_up.wait(10)
            data = read_raw_until_eof(ws)  # what was in the socket buffers, then EOF or reset
            assert 0 < len(data) < 30_000_000
            assert b"HTTP/1.1" not in data
        finally:
            ws.close()
        h.assert_alive(served.port, other)


# -- our server hands the connection over: no greenlet per idle WebSocket ----------------------------


def test_taken_over_websocket_logs_nothing_and_the_server_stays_quiet(harness: EngineHarness, port: int) -> None:
    """Regression: after the takeover the app returns no response, and the HTTP server once
    tried to send one anyway ("wrote a body before start_response", logged as an app error)."""
    import logging

    from tests.conftest import LogRecorder

    recorder = LogRecorder()
    logger = logging.getLogger("engineio_core")
    logger.addHandler(recorder)
    try:
        for _ in range(3):
            ws, sid = open_ws(port)
            ws.send("4hello")
            assert ws.recv() == "4hello"
            ws.close()
            harness.wait_disconnect(sid)
    finally:
        logger.removeHandler(recorder)
    assert [m for m in recorder.messages() if "error" in m.lower()] == []


def test_frames_sent_with_the_upgrade_request_are_read(harness: EngineHarness, port: int) -> None:
    """A client may pipeline frames behind its upgrade request: the bytes our server received
    past the head go to the WebSocket, not lost with the HTTP reader."""
    import base64
    import os
    import socket as socketlib

    key = base64.b64encode(os.urandom(16)).decode()
    head = (f"GET /engine.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode()
    payload = b"4early"
    frame = bytes([0x81, 0x80 | len(payload), 0, 0, 0, 0]) + payload  # masked with a zero key
    with socketlib.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head + frame)
        got = b""
        while b"4early" not in got:
            chunk = sock.recv(65536)
            assert chunk, f"connection closed; got {got!r}"
            got += chunk
    assert got.startswith(b"HTTP/1.1 101 ")
    harness.wait(lambda: any(m[1] == "early" for m in harness.messages))


def test_idle_websockets_hold_no_greenlet(harness: EngineHarness, port: int) -> None:
    """On our server an open, idle WebSocket is read from loop callbacks: the count of live
    greenlets does not grow with the number of connections."""
    import gc

    import greenlet

    def live_greenlets() -> int:
        gc.collect()
        return sum(1 for o in gc.get_objects() if isinstance(o, greenlet.greenlet) and not o.dead)

    sockets = [open_ws(port) for _ in range(5)]
    before = live_greenlets()
    more = [open_ws(port) for _ in range(20)]
    try:
        for ws, _ in more:
            ws.send("4ping")
            assert ws.recv() == "4ping"
        assert live_greenlets() <= before + 2  # a worker or two may park for reuse
    finally:
        for ws, _ in sockets + more:
            ws.close()


def test_websocket_on_plain_gevent_pywsgi(harness: EngineHarness) -> None:
    """Without our server (plain `gevent.pywsgi`, as under ``gunicorn -k gevent_pywsgi``) there
    is no takeover: the socket is found under ``wsgi.input`` and read by the request's
    greenlet, and the session works the same."""
    import gevent
    from gevent import pywsgi

    ready = threading.Event()
    box: dict[str, object] = {}

    def run() -> None:
        server = pywsgi.WSGIServer(("127.0.0.1", 0), harness.app, log=None)
        server.start()
        box["server"], box["stop"] = server, gevent.event.Event()
        box["hub"] = gevent.get_hub()
        ready.set()
        box["stop"].wait()  # type: ignore[attr-defined]
        server.stop(timeout=1)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert ready.wait(10)
    try:
        ws, sid = open_ws(box["server"].server_port)  # type: ignore[attr-defined]
        ws.send("4over pywsgi")
        assert ws.recv() == "4over pywsgi"
        ws.close()
        assert harness.wait_disconnect(sid)[0] == "transport close"
    finally:
        box["hub"].loop.run_callback_threadsafe(box["stop"].set)  # type: ignore[attr-defined]
        thread.join(5)


def test_websocket_outlives_the_http_idle_timeout() -> None:
    """`idle_timeout` cuts idle HTTP connections, never an upgraded WebSocket: this one stays
    quiet for longer than the timeout (until the server's first ping) and still works."""
    harness = make_harness(ping_interval=0.5, ping_timeout=5)
    with serve_gevent(harness.app, idle_timeout=0.1) as served:
        ws, sid = open_ws(served.port)
        try:
            assert ws.recv() == "2"  # the ping, 0.5 s later: five idle timeouts have passed
            ws.send("3")
            ws.send("4still here")
            assert ws.recv() == "4still here"
        finally:
            ws.close()
