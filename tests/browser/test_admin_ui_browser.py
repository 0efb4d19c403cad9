"""The official Socket.IO Admin UI (npm ``@socket.io/admin-ui``, its built ``ui/dist`` served
by the chat example at ``/admin-ui/`` through ``instrument(ui_path=)``) in headless Chromium,
driven by tests/node/admin_ui_browser.js, against the chat example (examples/chat/app.py with
CHAT_ADMIN_PASSWORD set): one process, then two processes on Redis.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.test_chat_browser import CHAT_APP, chromium  # noqa: F401  (the fixture)
from tests.conftest import ROOT, run_node
from tests.flask_socketio.conftest import ServerProcess, free_port

pytestmark = pytest.mark.timeout(900)

PASSWORD = "correct horse battery staple"
UI_DIST = os.path.join(ROOT, "node_modules", "@socket.io", "admin-ui", "ui", "dist", "index.html")


def chat_node(port: int, queue: str = "", server_id: str = "") -> ServerProcess:
    env = {"CHAT_MESSAGE_QUEUE": queue, "CHAT_ADMIN_PASSWORD": PASSWORD, "CHAT_SERVER_ID": server_id}
    return ServerProcess([sys.executable, CHAT_APP, "--port", str(port)], port, env=env)


def drive(url: str, chromium_path: str, **extra: Any) -> dict[str, Any]:
    assert os.path.exists(UI_DIST), "the Admin UI is installed from npm by scripts/setup.sh"
    options = {"url": url, "uiUrl": url + "/admin-ui/", "namespace": "/monitor", "username": "admin",
               "password": PASSWORD, "executablePath": chromium_path, **extra}
    result = run_node("admin_ui_browser.js", options, timeout=120)
    assert result["ok"], {k: v for k, v in result.items() if k not in ("dashboardText", "eventsText")}
    assert result["pageErrors"] == []
    assert result["badResponses"] == []
    return result


@pytest.fixture(scope="module")
def single_node() -> Iterator[ServerProcess]:
    with chat_node(free_port()) as proc:
        yield proc


def test_admin_ui_single_node(chromium: str, single_node: ServerProcess) -> None:  # noqa: F811
    shot = os.environ.get("ADMIN_UI_SCREENSHOT", "")
    result = drive(single_node.url, chromium, screenshot=shot)
    ids = result["ids"]
    # A wrong password is refused: the UI says so and is not connected.
    assert result["wrongPasswordText"] is True
    assert result["wrongPasswordConnected"] is False
    # The chat sockets, with their transport (ann upgraded, ben polling only).
    rows = result["socketRows"]
    assert any(ids["ann"] in row and "WebSocket" in row for row in rows), rows
    assert any(ids["ben"] in row and "HTTP long-polling" in row for row in rows), rows
    # A new client appeared without reloading; ann's detail page lists its room.
    assert result["newClientListed"] is True
    assert "red" in result["annDetails"].split()
    # The events view shows the event ann sent (development mode) and the server's emits.
    events = result["eventsText"]
    assert "Event received" in events and "Event name: chat" in events
    assert "Event sent" in events
    # The UI made ann join "vip" (ann received an emit to "vip"; ben did not), and
    # disconnected ben (ben saw the server's disconnect; ann stayed connected).
    assert result["annGotVipNews"] is True and result["benGotVipNews"] is False
    assert result["benDisconnectReason"] == "io server disconnect"
    assert result["annStillConnected"] is True
    assert "HEALTHY\n\t\n1\n" in result["dashboardText"]


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    sys.path.insert(0, str(Path(ROOT) / "tests" / "scaleout"))
    from scale_support import RedisServer, require

    require("redis-server")
    server = RedisServer(tmp_path_factory.mktemp("admin-redis")).start()
    try:
        yield server.url
    finally:
        server.stop()


def test_admin_ui_cluster_lists_both_nodes(chromium: str, redis_url: str) -> None:  # noqa: F811
    """One page connected to node A lists the sockets of node A and node B, and both
    servers (each its own server_id)."""
    with chat_node(free_port(), redis_url, "node-a") as a, chat_node(free_port(), redis_url, "node-b") as b:
        result = drive(a.url, chromium, peerUrl=b.url)
    rows = result["socketRows"]
    assert any(result["ids"]["remote"] in row for row in rows), rows
    assert any(result["ids"]["ann"] in row for row in rows), rows
    # Both nodes report their stats to the page.
    assert "HEALTHY\n\t\n2\n" in result["dashboardText"], result["dashboardText"]
