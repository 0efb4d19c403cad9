"""The first event a client sends right after the CONNECT ack is always handled.

Accepting a namespace is one step: the client's events there are accepted before the CONNECT
ack can reach it. The test widens the window between writing the ack and finishing the
acceptance with a hook in the test (not a sleep in the product): right after the server writes
the CONNECT ack, the hook holds the connecting task until the server has read the client's
first event, which the client sends as soon as it sees the ack. Before the fix the event found
the namespace still pending and was dropped (``… is not connected to namespace /``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from server_helpers import (
    TIMEOUT,
    RawWebSocket,
    Recorder,
    capture_logs,
    make_server,
    serve_gevent,
    serve_werkzeug,
)

from socketio_core.protocol.packets import PacketType, SocketPacket
from socketio_core.server.server import SocketServer

MODES = ["gevent", "threading"]


def _instrumented(async_mode: str) -> tuple[SocketServer, Any, Recorder]:
    sio, app = make_server(async_mode=async_mode)
    rec = Recorder()
    first_event_read = sio.eio.create_event()
    send_packet = sio._send_packet
    handle_message = sio._handle_eio_message

    def send_then_hold(eio_sid: str, packet: SocketPacket) -> None:
        send_packet(eio_sid, packet)
        if packet.type is PacketType.CONNECT:
            # The ack is on its way; hold the accepting task until the client's answer to it
            # has been read and handled (or refused) by the server.
            rec.add("held", first_event_read.wait(TIMEOUT))

    def handle_then_signal(eio_sid: str, data: str | bytes) -> None:
        handle_message(eio_sid, data)
        if isinstance(data, str) and data.startswith("2"):
            first_event_read.set()

    sio._send_packet = send_then_hold  # type: ignore[method-assign]
    sio._handle_eio_message = handle_then_signal  # type: ignore[method-assign]
    sio.eio.on("message", handle_then_signal)

    @sio.on("connect")
    def connect(sid: str, environ: dict[str, Any]) -> None:
        rec.add("connect", sid)

    @sio.on("first")
    def first(sid: str, value: Any) -> str:
        rec.add("first", sid, value)
        return "handled"

    return sio, app, rec


@pytest.fixture(params=MODES)
def served(request: pytest.FixtureRequest) -> Iterator[tuple[int, Recorder]]:
    sio, app, rec = _instrumented(request.param)
    serve = serve_gevent if request.param == "gevent" else serve_werkzeug
    with serve(app) as srv:
        yield srv.port, rec


def test_first_event_after_connect_ack_is_handled(served: tuple[int, Recorder]) -> None:
    port, rec = served
    with capture_logs() as logs:
        ws = RawWebSocket(port)
        try:
            ws.send("0")
            ack = ws.expect()
            assert isinstance(ack, str) and ack.startswith("0{"), ack
            sid = json.loads(ack[1:])["sid"]
            ws.send('21["first","now"]')  # at once: the server is still inside the hook
            assert ws.expect() == '31["handled"]'
        finally:
            ws.ws.close()
    assert rec.of("first") == [(sid, "now")]
    # The hook did hold the acceptance until the event was read (the window was open).
    assert rec.wait_kind("held") == [(True,)]
    assert not logs.has("is not connected to namespace")
