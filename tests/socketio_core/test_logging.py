"""Logging parity: with ``logger=True`` and ``engineio_logger=True`` the server prints the lines
users debug with, the kinds the reference prints (one line each, at INFO): the server
initialised for its async mode, each packet received and sent (truncated), events emitted and
to whom, events and acks received, rooms entered and left, upgrades, disconnects and their
reasons. A client speaking an unsupported protocol gets one warning at the default level."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import pytest
import requests
import socketio
from server_helpers import TIMEOUT, Recorder, capture_logs, make_server, serve_gevent

from tests.conftest import LogRecorder


@contextmanager
def both_logs() -> Iterator[tuple[LogRecorder, LogRecorder]]:
    with ExitStack() as stack:
        yield stack.enter_context(capture_logs("socketio_core")), stack.enter_context(capture_logs("engineio_core"))


@pytest.fixture
def restore_levels() -> Iterator[None]:
    loggers = [logging.getLogger(n) for n in ("socketio_core", "engineio_core")]
    levels = [lg.level for lg in loggers]
    handlers = [list(lg.handlers) for lg in loggers]
    yield
    for lg, level, hs in zip(loggers, levels, handlers, strict=True):
        lg.setLevel(level)
        lg.handlers[:] = hs


def _info_lines(rec: LogRecorder) -> list[str]:
    with rec.cond:
        return [m for level, m in rec.records if level == logging.INFO]


def test_logger_true_prints_the_lines_users_debug_with(restore_levels: None) -> None:
    with both_logs() as (sio_log, eio_log):
        sio, app = make_server(logger=True, engineio_logger=True, ping_interval=0.3, ping_timeout=5)
        rec = Recorder()

        @sio.on("connect")
        def connect(sid: str, environ: dict, auth: object) -> None:
            sio.emit("welcome", "w", to=sid)

        @sio.on("join")
        def join(sid: str, room: str) -> str:
            sio.enter_room(sid, room)
            sio.emit("room_msg", "x" * 5000, to=room)
            sio.leave_room(sid, room)
            return "ok"

        @sio.on("ask")
        def ask(sid: str) -> None:
            sio.emit("question", 1, to=sid, callback=lambda *a: rec.add("answer", *a))

        @sio.on("kick")
        def kick(sid: str) -> None:
            sio.disconnect(sid)

        with serve_gevent(app) as srv:
            client = socketio.Client(reconnection=False, handle_sigint=False)
            got = Recorder()
            client.on("room_msg", lambda m: got.add("room_msg", len(m)))
            client.on("question", lambda n: n + 1)
            client.on("disconnect", lambda *a: got.add("disconnect"))
            client.connect(srv.url, transports=["polling", "websocket"], wait_timeout=TIMEOUT)
            eio_sid, sid = client.eio.sid, client.get_sid()
            try:
                assert client.call("join", "r1", timeout=TIMEOUT) == "ok"
                got.wait_kind("room_msg")
                client.emit("ask")
                rec.wait_kind("answer")
                eio_log.wait_for("Received packet PONG", timeout=TIMEOUT)
                client.emit("kick")
                got.wait_kind("disconnect")
                sio_log.wait_for("Disconnecting")
                # Whether the python client then closes its Engine.IO session is up to its
                # threads; close it from the server (a no-op if the client already did).
                sio.eio.disconnect(eio_sid)
                eio_log.wait_for(eio_sid, "Session closed", timeout=TIMEOUT)
            finally:
                client.disconnect()

    eio = _info_lines(eio_log)
    soc = _info_lines(sio_log)

    def one(lines: list[str], pattern: str) -> str:
        found = [line for line in lines if re.fullmatch(pattern, line)]
        assert len(found) == 1, (pattern, found, lines)
        return found[0]

    one(eio, r"Server initialized for gevent\.")
    one(eio, rf"{eio_sid}: Sending packet OPEN data \{{.*\"sid\": ?\"{eio_sid}\".*\}}")
    one(eio, rf"{eio_sid}: Received request to upgrade to websocket")
    one(eio, rf"{eio_sid}: Upgrade to websocket successful")
    one(eio, rf"{eio_sid}: Received packet MESSAGE data 0({{.*}})?")
    one(eio, rf'{eio_sid}: Sending packet MESSAGE data 0\{{"sid":"{sid}"\}}')
    one(eio, rf'{eio_sid}: Received packet MESSAGE data 21\["join","r1"\]')
    one(eio, rf'{eio_sid}: Sending packet MESSAGE data 31\["ok"\]')
    assert any(line.startswith(f"{eio_sid}: Sending packet PING") for line in eio)
    # A long packet is truncated: the line stays short and says so.
    long_line = one(eio, rf'{eio_sid}: Sending packet MESSAGE data 2\["room_msg","x+.*')
    assert len(long_line) < 400 and "..." in long_line, long_line
    one(eio, rf"{eio_sid}: Session closed: .+")

    one(soc, rf'emitting event "welcome" to {sid} \[/\]')
    one(soc, r'emitting event "room_msg" to r1 \[/\]')
    one(soc, rf'received event "join" from {sid} \[/\]')
    one(soc, rf"{sid} is entering room r1 \[/\]")
    one(soc, rf"{sid} is leaving room r1 \[/\]")
    one(soc, rf"received ack from {sid} \[/\]")
    one(soc, rf"Disconnecting {sid} \[/\]")
    one(soc, rf"{sid} left namespace /: server disconnect")


def test_unsupported_protocol_version_warns_once_at_the_default_level(restore_levels: None) -> None:
    with capture_logs("engineio_core") as eio_log:
        sio, app = make_server(logger=False, engineio_logger=False)
        with serve_gevent(app) as srv:
            for _ in range(3):
                r = requests.get(f"{srv.url}/socket.io/?EIO=3&transport=polling", timeout=TIMEOUT)
                assert r.status_code == 400
    logger = logging.getLogger("engineio_core")
    shown = [m for level, m in eio_log.records if logger.isEnabledFor(level) and "Unsupported protocol version" in m]  # Node's words
    assert len(shown) == 1, eio_log.records
    assert "socket.io-client" in shown[0] and "3" in shown[0], shown[0]
    # The line names the option that serves these clients (issue 17).
    assert "allow_eio3=True" in shown[0], shown[0]
