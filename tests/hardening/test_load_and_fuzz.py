"""The two load-shaped hardening checks, each running its script in a subprocess (the server
in a process of its own, so that its memory and error counters are its alone):

* upgrade under load (scripts/upgrade_load.py + tests/node/hard_upgrade_load.js): 100
  socket.io-client@4 clients start on long-polling and upgrade to WebSocket in the middle of
  a 50 messages/s stream each: zero loss, zero duplicates, order kept, every client upgraded.
  Long variant: ``scripts/upgrade_load.py --clients 500``.
* live fuzzing (scripts/fuzz_live.py), a short run: random and mutated HTTP requests,
  WebSocket frames, Engine.IO and Socket.IO packets from 3 connections for 12 s; meanwhile and
  afterwards a well-behaved client is served, nothing escapes to the hub, nothing is logged as
  an error, every session is reaped and RSS stays within 64 MB of its baseline.
  Long variant: ``scripts/fuzz_live.py --seconds 600 --connections 8``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest
from hard_support import ROOT, node_available


def run_script(name: str, *args: str, timeout: float) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", name), *args, "--json"],
                          capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    assert lines, f"{name} printed no result (rc={proc.returncode}):\n{proc.stdout}\n{proc.stderr[-3000:]}"
    result: dict[str, Any] = json.loads(lines[-1])
    return result


@pytest.mark.node
def test_upgrade_under_load(record_property: Any) -> None:
    if not node_available():
        pytest.fail("node and the npm packages are required: run scripts/setup.sh")
    result = run_script("upgrade_load.py", "--clients", "100", "--count", "200", "--rate", "50",
                        "--timeout", "60", timeout=100)
    print("upgrade under load:", result)
    for key in ("clients", "received", "expected", "lost", "duplicates", "outOfOrder", "upgraded",
                "upgradedMidStream"):
        record_property(key, result[key])
    assert result["errors"] == []
    assert result["finished"] == result["connected"] == 100
    assert (result["received"], result["expected"]) == (20_000, 20_000)
    assert (result["lost"], result["duplicates"], result["outOfOrder"]) == (0, 0, 0)
    assert result["upgraded"] == result["upgradedMidStream"] == 100
    assert result["transports"] == {"websocket": 100}
    assert result["server"]["uncaught"] == 0 and result["server"]["logged_errors"] == 0
    assert result["ok"] is True


def test_live_fuzzing_short_run(record_property: Any) -> None:
    result = run_script("fuzz_live.py", "--seconds", "12", "--connections", "3", "--seed", "20261126",
                        timeout=90)
    print("live fuzzing:", result)
    for key in ("inputs", "rss_baseline_kb", "rss_after_kb", "rss_growth_mb", "canary_checks"):
        record_property(key, result[key])
    assert result["anomalies"] == []
    # Coverage, not a count (a slow machine fuzzes fewer inputs in the same seconds): every
    # kind of input was sent, and the outcomes show each defence was reached: requests
    # answered (200), upgraded (101), refused by the engine (400) and outside its path (404);
    # WebSockets closed normally (1000) and for protocol errors (1002); sessions ended by the
    # server for bad input ("transport error") and by Socket.IO ("server disconnect").
    assert set(result["inputs_by_kind"]) == {"http", "ws-frames", "eio", "sio-ws", "sio-poll"}
    assert all(count > 0 for count in result["inputs_by_kind"].values())
    assert {"101", "200", "400", "404"} <= set(result["http_statuses"])
    assert {"1000", "1002"} <= set(result["close_codes"])
    assert {"transport error", "server disconnect"} <= set(result["server_disconnects"])
    assert result["canary_failures"] == 0 and result["canary_checks"] >= 5
    assert result["good_client_after"] is True
    assert result["sessions_left"] == 0 and result["clients_left"] == 0
    assert result["server_uncaught"] == 0 and result["server_logged_errors"] == 0
    assert result["rss_growth_mb"] <= result["rss_bound_mb"] == 64.0
    # 501 and 505 are refusals (a Transfer-Encoding or HTTP version we don't speak), not failures.
    assert not any(int(code) >= 500 and int(code) not in (501, 505) for code in result["http_statuses"])
    assert result["ok"] is True
