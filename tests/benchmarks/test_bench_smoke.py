"""The benchmark suite works: a tiny run of every part of it on this project's stack and on
Node socket.io (benchmarks/app.js), interleaved.

No reference venv, no timing assertions -- only that each scenario ran end to end on both
servers (real server subprocesses, real node clients), lost nothing, and that the table with
the ours/node ratios and the results file come out. Without node or node_modules (socket.io,
socket.io-client) these tests fail: run scripts/setup.sh.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.append(str(ROOT))  # the real `benchmarks` package wins over this directory's name


def node_available() -> bool:
    modules = ROOT / "node_modules"
    return (shutil.which("node") is not None and (modules / "socket.io-client").is_dir()
            and (modules / "socket.io").is_dir())


pytestmark = pytest.mark.node


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], dict]:
    if not node_available():
        pytest.fail("node and the npm packages are required: run scripts/setup.sh")
    out = tmp_path_factory.mktemp("bench") / "tiny.json"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--size", "tiny", "--stacks", "ours,node", "--no-plot",
         "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=240, env=env, check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc, json.loads(out.read_text())


def test_prints_a_table(tiny_run: tuple[subprocess.CompletedProcess[str], dict]) -> None:
    proc, _ = tiny_run
    print(proc.stdout)
    for key in ("S1 echo+ack", "S2 1 room", "S3 40 WebSocket connects", "S4 long-polling",
                "in-process emit", "acks/s", "deliveries/s", "conn/s", "KB RSS per idle conn",
                "ours/node", "ours/node per CPU-s"):
        assert key in proc.stdout, key
    assert "[ 1/" in proc.stderr  # progress while it runs
    for scenario in ("S1", "S2", "S3", "S4"):  # each end-to-end scenario ran on both servers
        assert f"{scenario} ours " in proc.stderr and f"{scenario} node " in proc.stderr, scenario


def test_every_scenario_ran_cleanly(tiny_run: tuple[subprocess.CompletedProcess[str], dict]) -> None:
    _, report = tiny_run
    rows = {row["key"]: row for row in report["rows"]}
    for key in ("S1", "S2", "S3", "S3-mem", "S4", "fanout-100", "fanout-500"):
        assert key in rows, key
        assert "reference" not in rows[key]
        assert rows[key]["ours"]["median"] is not None, key
    for key in ("fanout-100", "fanout-500"):
        assert "node" not in rows[key]  # in-process Python code: no Node column
    for key in ("S1", "S2", "S3", "S4"):
        for stack in ("ours", "node"):
            assert rows[key][stack]["median"] > 0, (key, stack)
            assert rows[key][stack]["gen_cpu_pct"] is not None, (key, stack)
            assert rows[key][stack]["problems"] == [], (key, stack, rows[key][stack]["problems"])
        assert rows[key]["ratio_node"] == pytest.approx(rows[key]["ours"]["median"] / rows[key]["node"]["median"])
    assert rows["S3-mem"]["node"]["median"] > 0
    assert report["meta"]["stacks"] == ["ours", "node"]
    assert report["meta"]["generator"]["websocket_client"] == "raw"
    s2 = report["e2e_samples"]["S2"]["ours"][0]
    assert s2["lost"] == 0 and s2["outOfOrder"] == 0
    if report["meta"]["machine"]["pinned"]:  # server and generator on different cores
        s1 = report["e2e_samples"]["S1"]["ours"][0]
        assert s1["server_cpus"] != s1["generator_cpus"], s1
    for stack in ("ours", "node"):
        s2 = report["e2e_samples"]["S2"][stack][0]
        assert s2["lost"] == 0 and s2["outOfOrder"] == 0, stack
        assert s2["deliveries"] == 20 * 5 * 2, stack  # every member got every broadcast
        s3 = report["e2e_samples"]["S3"][stack][0]
        assert s3["connected"] == s3["stillConnected"] == 40, stack
        s1 = report["e2e_samples"]["S1"][stack][0]
        assert s1["mismatches"] == 0 and s1["acks"] > 0, stack
    assert report["meta"]["versions"]["ours"]["flask-socketio-ng"]
    assert report["meta"]["versions"]["node"]["socket.io"].startswith("4.")


def test_with_the_official_client(tmp_path: Path) -> None:
    """The generator's other WebSocket client, socket.io-client@4, drives the same scenarios."""
    if not node_available():
        pytest.fail("node and the npm packages are required: run scripts/setup.sh")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--size", "tiny", "--only", "S1,S2", "--client", "sio",
         "--no-plot", "--json", str(tmp_path / "sio.json")],
        cwd=ROOT, capture_output=True, text=True, timeout=120, env=env, check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "S1 echo+ack" in proc.stdout and "problems seen" not in proc.stdout, proc.stdout


def test_on_eventlet(tmp_path: Path) -> None:
    """``--async-mode eventlet``: the app monkey-patches and serves on eventlet (the suite
    checks the mode the server reports), the scenarios run cleanly."""
    if not node_available():
        pytest.fail("node and the npm packages are required: run scripts/setup.sh")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "BENCH_ASYNC_MODE")}
    out = tmp_path / "eventlet.json"
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--size", "tiny", "--only", "S1,S2,S4", "--async-mode", "eventlet",
         "--no-plot", "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=180, env=env, check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(out.read_text())
    assert report["meta"]["async_mode"] == "eventlet"
    rows = {row["key"]: row for row in report["rows"]}
    for key in ("S1", "S2", "S4"):
        assert rows[key]["ours"]["median"] > 0 and rows[key]["ours"]["problems"] == [], rows[key]
    assert report["e2e_samples"]["S1"]["ours"][0]["mismatches"] == 0
    s2 = report["e2e_samples"]["S2"]["ours"][0]
    assert s2["lost"] == 0 and s2["outOfOrder"] == 0 and s2["deliveries"] == 20 * 5 * 2


def test_app_refuses_to_measure_the_wrong_stack() -> None:
    from benchmarks.suite import check_stack

    ours = {"stack": "ours", "flask_socketio": str(ROOT / "flask_socketio" / "__init__.py"), "async_mode": "gevent"}
    ref = {"stack": "reference", "flask_socketio": "/x/.venv-ref/lib/site-packages/flask_socketio/__init__.py",
           "async_mode": "gevent"}
    node = {"stack": "node", "socketio_module": str(ROOT / "node_modules" / "socket.io" / "dist" / "index.js")}
    elsewhere = {"stack": "node", "socketio_module": "/usr/lib/node_modules/socket.io/dist/index.js"}
    check_stack("ours", ours)
    check_stack("reference", ref)
    check_stack("node", node)
    on_eventlet = dict(ours, async_mode="eventlet")  # measured with BENCH_ASYNC_MODE unset: gevent wanted
    for stack, info in (("reference", ours), ("ours", ref), ("ours", node), ("node", ours),
                        ("node", ref), ("node", elsewhere), ("reference", node), ("ours", on_eventlet)):
        with pytest.raises(RuntimeError):
            check_stack(stack, info)


def test_round_order_rotates() -> None:
    """--compare interleaves: each stack goes first in turn."""
    from benchmarks.suite import round_order

    stacks = ["ours", "reference", "node"]
    orders = [round_order(stacks, r) for r in range(3)]
    assert [o[0] for o in orders] == ["ours", "reference", "node"]
    assert all(sorted(o) == sorted(stacks) for o in orders)
    assert round_order(["ours", "reference"], 1) == ["reference", "ours"]
