#!/usr/bin/env python
"""Upgrade under load: clients move from long-polling to WebSocket while receiving a stream.

    .venv/bin/python scripts/upgrade_load.py                  # 100 clients (the test's size)
    .venv/bin/python scripts/upgrade_load.py --clients 500    # the long variant

Starts scripts/hardening_server.py in a subprocess and runs tests/node/hard_upgrade_load.js
(socket.io-client@4, N clients in one node process). Every client connects over polling, asks
the server to stream ``--count`` sequence numbers at ``--rate`` messages per second, and
upgrades to WebSocket in the middle of the stream (its probe is held back until it has received
``--upgrade-after`` messages over polling). Reports, over all clients: received / expected, lost, duplicated, out-of-order
messages, how many upgraded (and mid-stream), plus the server's own error counters.
Exit status 0 only with zero loss, zero duplicates, order kept and every client upgraded.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from hardening_server import TargetServer  # noqa: E402

NODE_SCRIPT = os.path.join(ROOT, "tests", "node", "hard_upgrade_load.js")


def run(clients: int, count: int, rate: float, upgrade_after: int, timeout: float) -> dict[str, Any]:
    interval = 1.0 / rate
    options = {
        "clients": clients, "count": count, "interval": interval,
        "upgradeAfter": upgrade_after,
        "connectSpreadMs": min(5000, 10 * clients),
        "timeoutMs": int(timeout * 1000),
    }
    started = time.monotonic()
    with TargetServer() as server:
        options["url"] = server.url
        proc = subprocess.run(["node", NODE_SCRIPT, json.dumps(options)], capture_output=True,
                              text=True, timeout=timeout + 30, cwd=ROOT)
        lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
        if not lines:
            raise SystemExit(f"node printed no result (rc={proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
        result: dict[str, Any] = json.loads(lines[-1])
        stats = server.stats()
        result["server"] = {k: stats[k] for k in ("uncaught", "logged_errors", "last_errors", "rss_kb")}
    result["rate_per_client"] = rate
    result["seconds"] = round(time.monotonic() - started, 2)
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--count", type=int, default=200, help="messages streamed to each client")
    parser.add_argument("--rate", type=float, default=50.0, help="messages per second per client")
    parser.add_argument("--upgrade-after", type=int, default=10,
                        help="messages each client receives over polling before it probes")
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result = run(args.clients, args.count, args.rate, args.upgrade_after, args.timeout)
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:>18}: {value}")
    sys.exit(0 if result.get("ok") and not result["server"]["uncaught"] else 1)


if __name__ == "__main__":
    main()
