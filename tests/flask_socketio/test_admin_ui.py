"""`SocketServer.instrument` / `SocketIO(admin_ui=)`: the options, the auth rules, the modes
and the bounds, through the Flask test client (the real server, encoding and fan-out; the
browser acceptance test is tests/browser/test_admin_ui_browser.py)."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from flask_socketio import SocketIO, emit, join_room
from socketio_core.features import admin as admin_module

CREDS = {"username": "admin", "password": "pw"}


def make(**admin: Any) -> tuple[Flask, SocketIO]:
    app = Flask(__name__)
    socketio = SocketIO(app, admin_ui=admin or None)

    @socketio.on("hello")
    def hello(data: Any) -> None:
        join_room("red")
        emit("reply", data)

    return app, socketio


def events(client: Any, namespace: str = "/admin") -> list[tuple[str, list[Any]]]:
    return [(p["name"], p["args"]) for p in client.get_received(namespace)]


def test_auth_is_mandatory() -> None:
    app = Flask(__name__)
    socketio = SocketIO(app)
    with pytest.raises(ValueError, match="auth=False"):
        socketio.server.instrument()
    with pytest.raises(ValueError):
        socketio.server.instrument(auth={})
    with pytest.raises(ValueError):
        socketio.server.instrument(auth=True)
    assert socketio.server.admin is None  # nothing was turned on
    socketio.server.instrument(auth=False).shutdown()


def test_off_by_default() -> None:
    _, socketio = make()
    assert socketio.server.admin is None
    assert socketio.server.manager.room_observer is None


@pytest.mark.parametrize("auth", [CREDS, [{"username": "x", "password": "y"}, CREDS],
                                  lambda given: given == CREDS])
def test_credentials(auth: Any) -> None:
    app, socketio = make(auth=auth)
    bad = socketio.test_client(app, namespace="/admin", auth={"username": "admin", "password": "nope"})
    assert not bad.is_connected("/admin")
    none = socketio.test_client(app, namespace="/admin")
    assert not none.is_connected("/admin")
    good = socketio.test_client(app, namespace="/admin", auth=dict(CREDS))
    assert good.is_connected("/admin")
    socketio.server.admin.shutdown()


def test_credentials_are_compared_with_compare_digest(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[bytes, bytes]] = []
    real = admin_module.hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(admin_module.hmac, "compare_digest", spy)
    app, socketio = make(auth=[{"username": "x", "password": "y"}, CREDS])
    ok = socketio.server.admin.check_auth({"username": "x", "password": "wrong"})
    assert ok is False
    # Every field of every configured credential was compared: no early exit.
    assert len(calls) == 4
    socketio.server.admin.shutdown()


def test_development_reports_sockets_rooms_events_and_redacts_secrets() -> None:
    app, socketio = make(auth=CREDS)
    ui = socketio.test_client(app, namespace="/admin", auth=dict(CREDS))
    user = socketio.test_client(app, headers={"Cookie": "session=secret", "Authorization": "Bearer t0k3n"})
    user.emit("hello", "hi")
    admin = socketio.server.admin
    admin.tick()
    got = events(ui)
    names = [name for name, _ in got]
    assert names[0] == "config"
    assert "ALL_EVENTS" in got[0][1][0]["supportedFeatures"]
    assert "EMIT" in got[0][1][0]["supportedFeatures"]
    connected = [args for name, args in got if name == "socket_connected" and args[0]["nsp"] == "/"]
    assert len(connected) == 1
    headers = connected[0][0]["handshake"]["headers"]
    assert headers["cookie"] == "[redacted]" and headers["authorization"] == "[redacted]"
    assert "secret" not in str(got) and "t0k3n" not in str(got)
    assert ["/", connected[0][0]["id"], ["hello", "hi"]] == [a[:3] for n, a in got if n == "event_received"][0]
    assert any(n == "room_joined" and a[1] == "red" for n, a in got)
    assert any(n == "event_sent" and a[2] == ["reply", "hi"] for n, a in got)
    admin.shutdown()


def test_production_reports_no_socket_and_no_handshake() -> None:
    app, socketio = make(auth=CREDS, mode="production")
    ui = socketio.test_client(app, namespace="/admin", auth=dict(CREDS))
    user = socketio.test_client(app, headers={"Cookie": "session=secret"})
    user.emit("hello", "hi")
    admin = socketio.server.admin
    admin._last_stats -= admin.server_stats_interval  # the stats are due now
    admin.tick()
    got = events(ui)
    names = {name for name, _ in got}
    assert names == {"config", "server_stats"}, names
    assert "ALL_EVENTS" not in got[0][1][0]["supportedFeatures"]
    assert "secret" not in str(got)
    stats = [a[0] for n, a in got if n == "server_stats"][0]
    for key in ("serverId", "uptime", "clientsCount", "pollingClientsCount", "namespaces",
                "aggregatedEvents", "outboxBytes", "messagesPerSecond"):
        assert key in stats
    assert any(e["type"] == "packetsIn" for e in stats["aggregatedEvents"])
    admin.shutdown()


def test_read_only_offers_and_accepts_no_action() -> None:
    app, socketio = make(auth=CREDS, read_only=True)
    ui = socketio.test_client(app, namespace="/admin", auth=dict(CREDS))
    user = socketio.test_client(app)
    features = events(ui)[0][1][0]["supportedFeatures"]
    assert not {"EMIT", "JOIN", "LEAVE", "DISCONNECT"} & set(features)
    sid = socketio.server.manager.sid_from_eio_sid(next(iter(socketio.server.eio._conns)), "/") or ""
    ui.emit("_disconnect", "/", False, None, namespace="/admin")
    ui.emit("join", "/", "vip", None, namespace="/admin")
    assert user.is_connected()
    assert not any("vip" in socketio.server.manager.get_rooms(s, "/") for s, _ in
                   socketio.server.manager.get_participants("/", None)), sid
    socketio.server.admin.shutdown()


def test_actions_join_and_disconnect() -> None:
    app, socketio = make(auth=CREDS)
    ui = socketio.test_client(app, namespace="/admin", auth=dict(CREDS))
    a = socketio.test_client(app)
    b = socketio.test_client(app)
    sid_a = a.eio_sid and socketio.server.manager.sid_from_eio_sid(a.eio_sid, "/")
    sid_b = socketio.server.manager.sid_from_eio_sid(b.eio_sid, "/")
    ui.emit("join", "/", "vip", sid_a, namespace="/admin")
    ui.emit("emit", "/", "vip", "news", "x", namespace="/admin")
    assert [p["name"] for p in a.get_received()] == ["news"]
    assert b.get_received() == []
    ui.emit("_disconnect", "/", False, sid_b, namespace="/admin")
    assert not b.is_connected() and a.is_connected()
    socketio.server.admin.shutdown()


def test_reports_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(admin_module, "MAX_PENDING", 5)
    app, socketio = make(auth=CREDS)
    ui = socketio.test_client(app, namespace="/admin", auth=dict(CREDS))
    admin = socketio.server.admin
    admin.tick()
    ui.get_received("/admin")
    user = socketio.test_client(app)
    for i in range(20):
        user.emit("hello", i)
    assert len(admin._pending) == 5
    assert admin.dropped > 0
    admin.tick()
    assert len([n for n, _ in events(ui) if n != "server_stats"]) == 5
    admin.shutdown()


def test_an_upgrade_to_websocket_is_reported_on_a_real_server() -> None:
    """A client connects to ``/`` over long-polling, then upgrades (a raw Engine.IO client, so
    that the upgrade surely comes after the namespace CONNECT): the admin page, a real
    python-socketio client on /admin, gets ``socket_updated`` with the WebSocket transport.
    The app is built in the test's thread and served from another (the admin's flusher must
    run on the serving loop)."""
    import json
    import threading

    import requests
    import socketio as client_lib
    import websocket

    from tests.conftest import serve_gevent

    app, socketio = make(auth=CREDS)
    updates: list[dict[str, Any]] = []
    got_update = threading.Event()
    with serve_gevent(app) as served:
        ui = client_lib.Client(reconnection=False, handle_sigint=False)
        ui.on("socket_updated", lambda update: (updates.append(update), got_update.set()), namespace="/admin")
        ui.connect(served.url, namespaces=["/admin"], auth=dict(CREDS), transports=["websocket"], wait_timeout=15)
        base = f"{served.url}/socket.io/?EIO=4"
        http = requests.Session()
        try:
            opening = http.get(f"{base}&transport=polling", timeout=15).text
            eio_sid = json.loads(opening[1:])["sid"]
            assert http.post(f"{base}&transport=polling&sid={eio_sid}", data="40", timeout=15).ok
            ack = http.get(f"{base}&transport=polling&sid={eio_sid}", timeout=15).text
            assert ack.startswith('40{"sid":'), ack
            sid = json.loads(ack[2:])["sid"]
            ws = websocket.create_connection(f"{base.replace('http', 'ws', 1)}&transport=websocket&sid={eio_sid}",
                                             timeout=15)
            try:
                ws.send("2probe")
                assert ws.recv() == "3probe"
                ws.send("5")
                assert got_update.wait(15), "no socket_updated for the upgrade"
                assert updates[0] == {"id": sid, "nsp": "/", "transport": "websocket"}
            finally:
                ws.close()
        finally:
            ui.disconnect()
            socketio.server.admin.shutdown()
