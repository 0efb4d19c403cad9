"""Cross-process broadcast through Redis: latency (p50/p99) and throughput, 3 processes.

Starts a private ``redis-server`` and three processes of the chat example (``socketio.run`` on
gevent, ``CHAT_MESSAGE_QUEUE`` set) on free 127.0.0.1 ports, then one node.js process with the
official client: one sender on process A and ``--receivers`` clients on each of A, B and C,
all in one room. A chat line is one ``emit(..., to=room)`` on A: the clients of A get it from
A directly, those of B and C through Redis.

* latency, unloaded: ``--latency-messages`` lines, each sent once the previous one reached
  every receiver; per receiver, time from ``socket.emit`` to the event (one clock: all clients
  live in the node process).
* throughput: lines sent for ``--duration`` seconds with up to ``--window`` unacknowledged;
  broadcasts per second = lines that reached every receiver / time until the last delivery,
  with the latency of those deliveries under that load.

    .venv/bin/python benchmarks/bench_cluster.py [--receivers 10] [--duration 5] [--json PATH]

Needs redis-server, node and ``npm install`` (scripts/setup.sh, scripts/services-setup.sh).
Everything is bounded in time; the processes are stopped at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
CHAT_APP = REPO / "examples" / "chat" / "app.py"
PYTHON = str(REPO / ".venv" / "bin" / "python") if (REPO / ".venv" / "bin" / "python").exists() else sys.executable

LOAD_JS = r"""
const { io } = require("socket.io-client");
const o = JSON.parse(process.env.BENCH_OPTS);
const now = () => performance.now();
const ROOM = "bench";
const sockets = [];
function open(url, group) {
  return new Promise((resolve, reject) => {
    const s = io(url, { forceNew: true, reconnection: false, transports: ["websocket"], auth: { name: group } });
    s.group = group;
    s.on("connect", () => s.emit("join", { room: ROOM }, () => resolve(s)));
    s.on("connect_error", reject);
    sockets.push(s);
  });
}
function pct(values, p) {
  if (!values.length) return null;
  const v = [...values].sort((a, b) => a - b);
  return v[Math.min(v.length - 1, Math.floor(p / 100 * v.length))];
}
function summary(lat) {
  const out = {};
  for (const [group, values] of Object.entries(lat)) {
    out[group] = { n: values.length, p50: pct(values, 50), p99: pct(values, 99), max: pct(values, 100) };
  }
  return out;
}
async function main() {
  const sender = await open(o.urls[0], "sender");
  const receivers = [];
  for (let n = 0; n < o.urls.length; n++)
    for (let i = 0; i < o.receivers; i++) receivers.push(await open(o.urls[n], n === 0 ? "same process" : "other process"));
  const total = receivers.length;
  let phase = null;
  const sent = new Map();        // line id -> send time
  const got = new Map();         // line id -> receivers reached
  let lat = {};
  let lastDelivery = 0;
  let onComplete = null;
  for (const r of receivers) {
    r.on("chat", (m) => {
      const t = now();
      const [ph, id] = m.text.split(":");
      if (ph !== phase) return;
      (lat[r.group] = lat[r.group] || []).push(t - sent.get(id));
      const c = (got.get(id) || 0) + 1;
      got.set(id, c);
      lastDelivery = t;
      if (c === total && onComplete) onComplete(id);
    });
  }
  // 1. unloaded latency
  phase = "lat"; lat = {};
  for (let i = 0; i < o.latencyMessages; i++) {
    const id = String(i);
    const done = new Promise((resolve) => { onComplete = (x) => { if (x === id) resolve(); }; });
    sent.set(id, now());
    sender.emit("chat", `lat:${id}`);
    await Promise.race([done, new Promise((r) => setTimeout(r, 2000))]);
  }
  const latency = summary(lat);
  // 2. throughput
  phase = "tp"; lat = {}; sent.clear(); got.clear();
  let complete = 0;
  onComplete = () => { complete++; };
  let inflight = 0, next = 0;
  const start = now();
  const stopAt = start + o.duration * 1000;
  await new Promise((resolve) => {
    function pump() {
      while (inflight < o.window && now() < stopAt) {
        const id = String(next++);
        inflight++;
        sent.set(id, now());
        sender.emit("chat", `tp:${id}`, () => { inflight--; pump(); });
      }
      if (now() >= stopAt && inflight === 0) resolve();
    }
    pump();
    setTimeout(resolve, o.duration * 1000 + 10000);
  });
  const drainUntil = now() + 10000;
  while (complete < next && now() < drainUntil) await new Promise((r) => setTimeout(r, 20));
  const elapsed = (lastDelivery - start) / 1000;
  const deliveries = Object.values(lat).reduce((a, v) => a + v.length, 0);
  const result = {
    receivers: total, latency,
    throughput: {
      sent: next, complete, elapsed,
      broadcasts_per_s: complete / elapsed, deliveries_per_s: deliveries / elapsed,
      cross_process_deliveries_per_s: (lat["other process"] || []).length / elapsed,
      latency: summary(lat),
    },
  };
  process.stdout.write(JSON.stringify(result) + "\n", () => {
    for (const s of sockets) s.disconnect();
    setTimeout(() => process.exit(0), 50);
  });
}
setTimeout(() => { process.stdout.write(JSON.stringify({ error: "timeout" }) + "\n"); process.exit(1); }, o.timeoutMs);
main().catch((e) => { process.stdout.write(JSON.stringify({ error: String(e && e.stack || e) }) + "\n"); process.exit(1); });
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit(f"bench_cluster: {what} not ready within {timeout}s")
        time.sleep(0.05)


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback
            return bool(response.status == 200)
    except OSError:
        return False


def subscribers(redis_port: int, channel: str) -> int:
    import redis

    client = redis.Redis(host="127.0.0.1", port=redis_port, socket_connect_timeout=1)
    try:
        return int(dict(client.pubsub_numsub(channel)).get(channel.encode(), 0))
    except redis.RedisError:
        return -1
    finally:
        client.close()


def run(args: argparse.Namespace) -> dict[str, Any]:
    redis_server = shutil.which("redis-server") or "/usr/bin/redis-server"
    node = shutil.which("node")
    if node is None:
        raise SystemExit("bench_cluster: node is required (scripts/setup.sh)")
    workdir = Path(tempfile.mkdtemp(prefix="bench-cluster-"))
    procs: list[subprocess.Popen[bytes]] = []
    try:
        redis_port = free_port()
        procs.append(subprocess.Popen(
            [redis_server, "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(workdir)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        wait(lambda: subscribers(redis_port, "flask-socketio") >= 0, 10, "redis-server")
        ports = [free_port() for _ in range(args.processes)]
        env = dict(os.environ, CHAT_MESSAGE_QUEUE=f"redis://127.0.0.1:{redis_port}/0", PYTHONUNBUFFERED="1")
        for port in ports:
            with open(workdir / f"chat-{port}.log", "ab") as log:
                procs.append(subprocess.Popen([PYTHON, str(CHAT_APP), "--port", str(port)], cwd=str(REPO), env=env,
                                              stdout=log, stderr=subprocess.STDOUT))
        for port in ports:
            # The first Socket.IO request also starts the process's Redis listener.
            wait(lambda port=port: http_ok(f"http://127.0.0.1:{port}/socket.io/?EIO=4&transport=polling"), 30,
                 f"chat process on {port}")
        wait(lambda: subscribers(redis_port, "flask-socketio") >= len(ports), 20, "Redis listeners")
        options = {
            "urls": [f"http://127.0.0.1:{port}" for port in ports], "receivers": args.receivers,
            "latencyMessages": args.latency_messages, "duration": args.duration, "window": args.window,
            "timeoutMs": int((args.duration + 60) * 1000),
        }
        out = subprocess.run([node, "-e", LOAD_JS], cwd=str(REPO), env=dict(os.environ, BENCH_OPTS=json.dumps(options)),
                             capture_output=True, text=True, timeout=args.duration + 90)
        lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
        if not lines:
            raise SystemExit(f"bench_cluster: no result from node:\n{out.stdout}\n{out.stderr}")
        result: dict[str, Any] = json.loads(lines[-1])
        if "error" in result:
            raise SystemExit(f"bench_cluster: {result['error']}")
        result["processes"] = args.processes
        return result
    finally:
        for proc in reversed(procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(workdir, ignore_errors=True)


def table(result: dict[str, Any]) -> str:
    rows = [f"{result['processes']} processes (chat example, gevent) on one Redis; "
            f"{result['receivers']} receivers ({result['receivers'] // result['processes']} per process), "
            f"sender on process A. CPU: {os.cpu_count()} cores, Python {platform.python_version()}",
            "", f"{'':34}{'n':>7}{'p50 ms':>10}{'p99 ms':>10}{'max ms':>10}"]

    def lat_rows(title: str, groups: dict[str, Any]) -> None:
        for group, s in sorted(groups.items(), reverse=True):
            rows.append(f"{title + ', ' + group:34}{s['n']:>7}{s['p50']:>10.2f}{s['p99']:>10.2f}{s['max']:>10.2f}")

    lat_rows("unloaded", result["latency"])
    tp = result["throughput"]
    lat_rows("under load", tp["latency"])
    rows += ["",
             f"throughput: {tp['broadcasts_per_s']:.0f} broadcasts/s reaching all {result['receivers']} receivers "
             f"({tp['complete']}/{tp['sent']} complete in {tp['elapsed']:.2f} s)",
             f"            {tp['deliveries_per_s']:.0f} deliveries/s, of which {tp['cross_process_deliveries_per_s']:.0f}/s "
             "crossed processes through Redis"]
    return "\n".join(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--processes", type=int, default=3)
    parser.add_argument("--receivers", type=int, default=10, help="clients per process (default 10)")
    parser.add_argument("--latency-messages", type=int, default=300)
    parser.add_argument("--duration", type=float, default=5.0, help="seconds of throughput load")
    parser.add_argument("--window", type=int, default=64, help="most unacknowledged lines in flight")
    parser.add_argument("--json", help="also write the raw result to this file")
    args = parser.parse_args()
    result = run(args)
    print(table(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
