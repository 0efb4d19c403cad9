"""socket.io-client@2 (Engine.IO v3 / Socket.IO v4) in headless Chromium, next to
socket.io-client@4, on a Flask-SocketIO app started with ``allow_eio3=True``
(tests/browser/eio3_app.py, driven by tests/node/eio3_browser.js)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator

import pytest

from tests.browser.test_chat_browser import chromium  # noqa: F401  (the fixture)
from tests.conftest import run_node
from tests.flask_socketio.conftest import ServerProcess, free_port

pytestmark = pytest.mark.timeout(900)

APP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "eio3_app.py")


@pytest.fixture(scope="module")
def eio3_server() -> Iterator[ServerProcess]:
    port = free_port()
    with ServerProcess([sys.executable, APP, "--port", str(port)], port) as proc:
        yield proc


def test_client_2_and_client_4_in_chromium(chromium: str, eio3_server: ServerProcess) -> None:  # noqa: F811
    r = run_node("eio3_browser.js", {"url": eio3_server.url, "executablePath": chromium}, timeout=90)
    assert r["ok"], (r, eio3_server.output()[-3000:])
    pages = r["pages"]
    old, poll, new = pages["old"], pages["poll"], pages["new"]
    assert (old["transport"], old["upgradedTo"], old["transportAtEnd"]) == ("polling", "websocket", "websocket")
    assert old["echo"] == ["hi", 2, {"z": [None]}]
    assert old["binEcho"] == [{"bin": [1, 2, 250]}, {"bin": list(b"srv")}]
    assert (poll["transport"], poll["transportAtEnd"]) == ("polling", "polling")
    assert poll["binEcho"] == [{"bin": [7, 7]}, {"bin": list(b"srv")}]
    for page in (old, poll, new):
        assert "mixed" in page["join"][0]
        assert page["room"] == [["from old"], [{"bin": [5, 6]}]]
    assert old["shout"] == new["shout"] == ["ok"]
    assert r["pageErrors"] == [] and r["consoleErrors"] == []
