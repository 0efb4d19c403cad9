"""The connection-scale script, small: 2,000 WebSocket Socket.IO connections on one server process.

scripts/connection_scale.py fills one Flask-SocketIO server process (gevent, ``socketio.run``)
from two raw-client processes, broadcasts to every connection, then idles through a few
heartbeats. The full run (18,000 and more) is documented in docs/benchmarks.md and is not part
of the test command; this keeps the same code path working, with real assertions on what it
reports: everyone connected, everyone got every broadcast, nobody was dropped, the server's
own count agrees, each connection saw its heartbeat while idle, and the memory per
connection stays under a bound generous enough not to flake (measured: about 8 KB).
No timing assertions.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "connection_scale.py"
N = 2000


@pytest.fixture(scope="module")
def scale_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("scale") / "scale.json"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--connections", str(N), "--processes", "2",
         "--ping-interval", "1", "--idle", "3", "--broadcasts", "2", "--settle", "1",
         "--timeout", "45", "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=60, env=env, check=False,
    )
    assert out.exists(), proc.stdout + proc.stderr
    report: dict[str, Any] = json.loads(out.read_text())
    report["_exit"] = proc.returncode
    report["_stderr"] = proc.stderr
    return report


def test_every_connection_is_made_and_held(scale_run: dict[str, Any]) -> None:
    r = scale_run
    assert "error" not in r, r.get("error")
    assert r["connected"] == N and r["failed_connects"] == 0
    assert r["server_connected"] == N  # the server's connect handler saw each one
    assert r["alive"] == N and r["dropped"] == 0, r["errors"]
    assert r["server_connected_end"] == N and r["server_disconnects"] == 0
    assert r["server_open_files"] >= N  # one descriptor per connection in the server
    assert r["ok"] is True and r["_exit"] == 0


def test_every_connection_gets_every_broadcast(scale_run: dict[str, Any]) -> None:
    r = scale_run
    assert r["broadcast_received"] == {"1": N, "2": N}
    assert [b["seq"] for b in r["broadcasts"]] == [1, 2]
    for b in r["broadcasts"]:
        assert b["all_delivered_s"] > 0 and b["all_read_by_clients_s"] >= b["all_delivered_s"] - 0.001


def test_heartbeat_runs_for_every_idle_connection(scale_run: dict[str, Any]) -> None:
    r = scale_run
    assert r["min_pings_per_conn_in_idle"] >= 1  # no connection's heartbeat starved
    assert r["pings_in_idle"] >= N
    assert r["heartbeat_lateness_ms"]["p99"] is not None


def test_memory_per_connection_is_bounded(scale_run: dict[str, Any]) -> None:
    r = scale_run
    assert r["server_rss_full_kb"] > r["server_rss_before_kb"]
    assert 0 < r["rss_per_conn_kb"] < 32, r["rss_per_conn_kb"]
