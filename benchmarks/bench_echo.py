"""End-to-end Engine.IO echo benchmark: gevent server in a subprocess, node clients as load.

    .venv/bin/python benchmarks/bench_echo.py [--clients 20] [--seconds 5] [--pin]
        [--scenarios websocket,polling,upgrade] [--size 32] [--binary] [--window 1]
        [--no-keep-alive]

The server is the echo app of examples/echo/app.py on `engineio_core.serve`'s gevent pywsgi
(one process, one hub), optionally pinned to CPU 0 with ``taskset -c 0`` (and the load to the
other CPUs). tests/node/eio_load.js opens N official engine.io-client@6 sockets and runs a
closed-loop echo for T seconds. Polling clients get a keep-alive http.Agent, as browsers keep
connections alive (engine.io-client's node XHR otherwise opens a TCP connection per request and
the load generator, not the server, becomes the bottleneck). Printed per scenario: echo round trips per second (one message
each way), latency p50/p99, and the CPU seconds used by the server and by the load generator
(a load generator that saturates its CPU measures itself, not the server).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LOAD_SCRIPT = os.path.join(ROOT, "tests", "node", "eio_load.js")

SCENARIOS: dict[str, dict[str, Any]] = {
    "websocket": {"transports": ["websocket"], "upgrade": False},
    "polling": {"transports": ["polling"], "upgrade": False},
    "upgrade": {"transports": ["polling", "websocket"], "upgrade": True},
}


def serve(port: int) -> None:
    """The server side (run in the subprocess): the echo example on gevent pywsgi."""
    sys.path.insert(0, os.path.join(ROOT, "examples", "echo"))
    sys.path.insert(0, ROOT)
    from app import build  # examples/echo/app.py

    from engineio_core.serving import make_server

    server = make_server(build(), "127.0.0.1", port)
    server.start()
    print(json.dumps({"port": server.server_port}), flush=True)
    server.serve_forever()


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (Linux /proc), in seconds."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def taskset(cpus: str) -> list[str]:
    return ["taskset", "-c", cpus] if shutil.which("taskset") else []


def start_server(pin: bool) -> tuple[subprocess.Popen[str], int]:
    cmd = [*(taskset("0") if pin else []), sys.executable, os.path.abspath(__file__), "--serve"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert proc.stdout is not None
    line = proc.stdout.readline()  # blocks until the server is listening (or has died)
    if not line:
        proc.wait(5)
        raise RuntimeError(f"the server did not start (exit code {proc.returncode})")
    return proc, int(json.loads(line)["port"])


def run_scenario(name: str, args: argparse.Namespace) -> dict[str, Any]:
    proc, port = start_server(args.pin)
    try:
        options = {
            "url": f"http://127.0.0.1:{port}", "clients": args.clients, "seconds": args.seconds,
            "size": args.size, "binary": args.binary, "window": args.window,
            "keepAlive": args.keep_alive, **SCENARIOS[name],
        }
        ncpu = os.cpu_count() or 1
        load_pin = taskset(f"1-{ncpu - 1}" if ncpu > 2 else "1") if args.pin and ncpu > 1 else []
        cpu_before = cpu_seconds(proc.pid)
        wall = time.monotonic()
        out = subprocess.run(
            [*load_pin, "node", LOAD_SCRIPT, json.dumps(options)],
            capture_output=True, text=True, cwd=ROOT, timeout=args.seconds + 60,
        )
        wall = time.monotonic() - wall
        server_cpu = cpu_seconds(proc.pid) - cpu_before
        lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
        if not lines:
            raise RuntimeError(f"the load generator printed no result:\n{out.stdout}\n{out.stderr}")
        result: dict[str, Any] = json.loads(lines[-1])
        # Server CPU is measured over the whole node run (connect + load + close), which
        # slightly overstates the per-message cost; the run dominates at default settings.
        result["serverCpuSec"] = round(server_cpu, 3)
        result["wallSec"] = round(wall, 3)
        if result["roundTrips"]:
            result["serverCpuUsPerRoundTrip"] = round(server_cpu / result["roundTrips"] * 1e6, 1)
        return result
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--size", type=int, default=32, help="message size in bytes")
    parser.add_argument("--binary", action="store_true", help="binary messages instead of text")
    parser.add_argument("--window", type=int, default=1, help="messages in flight per client")
    parser.add_argument("--pin", action="store_true", help="pin the server to CPU 0 (taskset)")
    parser.add_argument("--no-keep-alive", dest="keep_alive", action="store_false",
                        help="polling clients open a new connection per request")
    parser.add_argument("--scenarios", default="websocket,polling")
    parser.add_argument("--json", action="store_true", help="print raw JSON results")
    args = parser.parse_args()
    if args.serve:
        serve(args.port)
        return 0
    if shutil.which("node") is None or not os.path.isdir(os.path.join(ROOT, "node_modules")):
        print("node and node_modules (engine.io-client) are required: run scripts/setup.sh", file=sys.stderr)
        return 2
    print(f"echo benchmark: {args.clients} clients, {args.seconds:g} s per scenario, "
          f"{args.size}-byte {'binary' if args.binary else 'text'} messages, window {args.window}"
          f"{', server pinned to CPU 0' if args.pin else ''}"
          f"{'' if args.keep_alive else ', no HTTP keep-alive'}")
    failed = False
    for name in args.scenarios.split(","):
        result = run_scenario(name.strip(), args)
        if args.json:
            print(json.dumps({"scenario": name, **result}))
            continue
        ok = result["why"] == "done" and not result["errors"]
        failed |= not ok
        print(
            f"  {name:<10} {result['roundTripsPerSec']:>8} round trips/s "
            f"(= {2 * result['roundTripsPerSec']} messages/s)  "
            f"p50 {result['p50ms']} ms  p99 {result['p99ms']} ms  "
            f"server CPU {result['serverCpuSec']} s ({result.get('serverCpuUsPerRoundTrip')} us/rt)  "
            f"client CPU {result['clientCpuSec']} s"
            + ("" if ok else f"  [{result['why']}, {result['errors']} errors]")
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
