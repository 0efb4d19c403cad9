"""The chat example (examples/chat/app.py) in a real browser: headless Chromium driven by
tests/node/flask_chat_browser.js (playwright-core).

Chromium comes from Debian's packages and playwright-core from npm, both installed by
``scripts/browser-setup.sh`` (idempotent; run here once per session). The test skips only
when Chromium cannot be installed; anything else that goes wrong is a failure.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import ROOT, run_node
from tests.flask_socketio.conftest import ServerProcess, free_port

# Installing Chromium (when scripts/browser-setup.sh has not run yet) can take minutes.
pytestmark = pytest.mark.timeout(900)

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHAT_APP = os.path.join(ROOT, "examples", "chat", "app.py")


@pytest.fixture(scope="module")
def chromium() -> str:
    setup = subprocess.run(["bash", os.path.join(ROOT, "scripts", "browser-setup.sh")],
                           capture_output=True, text=True, timeout=900, cwd=ROOT)
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip("chromium could not be installed (apt-get install chromium failed): "
                    + (setup.stdout + setup.stderr).strip()[-500:])
    assert setup.returncode == 0, f"scripts/browser-setup.sh failed:\n{setup.stdout}\n{setup.stderr}"
    return CHROMIUM


@pytest.fixture(scope="module")
def chat_server() -> Iterator[ServerProcess]:
    port = free_port()
    env = {"CHAT_MESSAGE_QUEUE": ""}
    with ServerProcess([sys.executable, CHAT_APP, "--port", str(port)], port, env=env) as proc:
        yield proc


def test_chat_in_chromium(chromium: str, chat_server: ServerProcess) -> None:
    result = run_node("flask_chat_browser.js", {"url": chat_server.url, "executablePath": chromium},
                      timeout=90)
    assert result["ok"], result
    pages: dict[str, Any] = result["pages"]

    # The page loaded the Socket.IO client from the app itself.
    client_js = chat_server.url + "/socket.io.min.js"
    for name, page in pages.items():
        assert page["ioLoaded"], name
        assert page["scriptSrc"] == [client_js], name
    assert {(r["page"], r["status"]) for r in result["scriptResponses"] if r["url"] == client_js} == {
        ("ann", 200), ("ben", 200), ("cid", 200), ("dee", 200)
    }

    for name, room in (("ann", "red"), ("ben", "red"), ("cid", "blue"), ("dee", "red")):
        assert pages[name]["connected"], name
        assert pages[name]["joined"] == room, name

    # Same room: each other's messages, in order; another room: nothing of theirs.
    red_lines = ["ann: hello from ann", "dee: polling dee here"]
    assert pages["ann"]["received"] == red_lines
    assert pages["ben"]["received"] == red_lines
    assert pages["dee"]["received"] == red_lines
    assert pages["cid"]["received"] == ["cid: blue only"]
    # What the user sees on the page.
    assert "ann: hello from ann" in pages["ben"]["log"]
    assert not any("ann" in line for line in pages["cid"]["log"] if ":" in line)

    # A name typed into the page (over the generated guestNNN) is the name others see.
    assert result["typedDefaultName"].startswith("guest")
    assert pages["typed"]["received"] == ["eve: typed my name"]
    assert "eve joined green" in pages["typed"]["log"]
    assert "eve: typed my name" in pages["typed"]["log"]

    # Transports: the polling-only page stayed on polling; the others upgraded.
    assert pages["dee"]["transport"] == "polling"
    assert pages["dee"]["status"] == "connected (polling)"
    for name in ("ann", "ben", "cid", "typed"):
        assert pages[name]["transport"] == "websocket", name
    # The /admin namespace answered the page's "refresh" button.
    assert int(pages["ann"]["who"]) >= 4

    # No script error, no failed request (the browser's own favicon probe aside: the
    # example has no icon).
    assert result["pageErrors"] == []
    bad = [r for r in result["badResponses"] if not r["url"].endswith("/favicon.ico")]
    assert bad == []
    console = [line for line in result["consoleErrors"] if "Failed to load resource" not in line]
    assert console == []


def test_chat_connection_state_recovery_in_chromium(chromium: str, chat_server: ServerProcess) -> None:
    """A page's connection is cut and restored: the page is recovered and shows the lines
    sent meanwhile, in order, once each (the example has connection_state_recovery on)."""
    result = run_node("flask_chat_recovery_browser.js", {"url": chat_server.url, "executablePath": chromium},
                      timeout=90)
    assert result["ok"], result
    assert result["pageErrors"] == []
    ann = result["ann"]
    assert ann["recovered"] is True and ann["sameSid"] is True, ann
    expected = ["ben: before", *[f"ben: missed {i}" for i in range(1, 6)], "ben: after"]
    assert ann["received"] == expected, ann
    assert [line for line in ann["log"] if line.startswith("ben: ")] == expected
    assert ann["status"].endswith(", recovered")
