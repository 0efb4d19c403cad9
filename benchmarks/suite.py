"""The benchmark suite: end-to-end load over 127.0.0.1 (S1-S4), in-process fan-out and the codec.

    .venv/bin/python -m benchmarks                  # this project only
    .venv/bin/python -m benchmarks --compare        # this project vs the reference and Node, interleaved
    .venv/bin/python -m benchmarks --stacks ours,node

End to end, the same app is served by this project (``benchmarks/app.py`` in ``.venv``), by
the reference stack (the same file: Flask-SocketIO + python-socketio on gevent +
gevent-websocket, installed into ``.venv-ref``) and by Node socket.io@4 (``benchmarks/app.js``,
the same events and settings, ``node_modules/socket.io``), one server process per run, pinned
to one core; the load generator (``tests/node/bench_load.js``: a raw Socket.IO client by
default, socket.io-client@4 with ``--client sio``) runs pinned to the other core and reports
its own CPU use. ``--compare`` runs the three stacks in a rotating order (ours, reference,
node; reference, node, ours; ...) for ``--rounds`` rounds and reports medians, the ratios
ours/reference and ours/Node, writes the results as JSON and draws ``docs/img/benchmarks.png``.
The in-process rows (fan-out, codec) are Python only: Node has no column there.

Scenarios:
  S1  echo with ack, WebSocket clients, closed loop                     acks/s
  S1m S1 with the msgpack serializer (socket.io-msgpack-parser clients)  acks/s
  S2  one room of WebSocket clients, bursts of broadcasts               deliveries/s
  S3  WebSocket connects (bounded concurrency), then idle               conn/s, KB RSS per idle conn
  S4  echo with ack over HTTP long-polling, closed loop                 acks/s
  fanout  in-process emit to a room of N sessions (benchmarks/bench_fanout.py)
  codec   encode + decode round trips (benchmarks/bench_codec.py)
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import functools
import json
import os
import platform
import queue
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "benchmarks"
APP = BENCH / "app.py"
NODE_APP = BENCH / "app.js"
GENERATOR = REPO / "tests" / "node" / "bench_load.js"
REF_VENV = REPO / ".venv-ref"
RESULTS = BENCH / "results"
DEFAULT_PLOT = REPO / "docs" / "img" / "benchmarks.png"

# The reference stack; the first three as benchmarks/bench_codec.py pins them.
REF_PINS = [
    "python-socketio==5.18.1",
    "python-engineio==4.15.1",
    "flask-socketio==5.7.0",
    "gevent-websocket==0.10.1",
]
# module to import -> what to pip install when it is missing from .venv-ref
REF_MODULES = {
    "flask_socketio": "flask-socketio==5.7.0",
    "socketio": "python-socketio==5.18.1",
    "engineio": "python-engineio==4.15.1",
    "gevent": "gevent",
    "geventwebsocket": "gevent-websocket==0.10.1",
    "eventlet": "eventlet",  # --async-mode eventlet
    "msgpack": "msgpack",
    "matplotlib": "matplotlib",
}

STACKS = ("ours", "reference", "node", "workers", "nodeworkers")
PYTHON_STACKS = ("ours", "reference")  # the in-process benchmarks (fan-out, codec) exist for these
# ratio keys of a row: ours against each other stack
RATIOS = {"reference": ("ratio", "ratio_per_cpu"), "node": ("ratio_node", "ratio_node_per_cpu")}
SHORT = {"ours": "ours", "reference": "ref", "node": "node", "workers": "workers", "nodeworkers": "node-w"}
# ``--workers N``: the "workers" stack is ours served by ``socketio.run(app, workers=N)``. Its
# server and the generator are not pinned (N workers need the cores; so does the generator),
# nor is the "ours" (workers=1) server of the same run, so the two compare on equal terms.
WORKERS: dict[str, int] = {"count": 0}


# -- scenarios -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    key: str
    title: str
    unit: str
    options: dict[str, Any]  # for the generator
    timeout_s: float  # the whole run, server start to stop
    serializer: str = "default"  # the server's: "default" (JSON) or "msgpack"

    def label(self) -> str:
        return f"{self.key} {self.title}"


def scenarios(size: str, client: str = "raw") -> list[Scenario]:
    """The end-to-end scenarios at one of three sizes: ``full`` (the issue's numbers),
    ``small`` (a quick look) and ``tiny`` (the smoke test: seconds). `client` is the
    generator's client (``raw`` or ``sio``), over WebSocket and over long-polling."""
    n = {
        "full": dict(echo=50, room=1000, count=50, bursts=3, conns=5000, conc=100, warm=1000, dur=5000),
        "small": dict(echo=50, room=200, count=50, bursts=3, conns=1000, conc=100, warm=500, dur=2000),
        "tiny": dict(echo=4, room=20, count=5, bursts=2, conns=40, conc=10, warm=200, dur=500),
    }[size]
    echo_timeout = (n["warm"] + n["dur"]) / 1000 + 40
    return [
        Scenario(
            "S1",
            f"echo+ack, {n['echo']} WebSocket clients",
            "acks/s",
            dict(scenario="echo", transport="websocket", client=client, clients=n["echo"], warmupMs=n["warm"], durationMs=n["dur"]),
            echo_timeout,
        ),
        Scenario(
            # The raw client speaks the JSON parser only: socket.io-client with the msgpack
            # parser, against every stack (so its figures compare with each other, not with S1).
            "S1m",
            f"echo+ack, msgpack, {n['echo']} WebSocket clients (socket.io-client)",
            "acks/s",
            dict(scenario="echo", transport="websocket", client="sio", parser="msgpack", clients=n["echo"],
                 warmupMs=n["warm"], durationMs=n["dur"]),
            echo_timeout,
            serializer="msgpack",
        ),
        Scenario(
            "S2",
            f"1 room, {n['room']} clients, bursts of {n['count']} broadcasts",
            "deliveries/s",
            dict(scenario="broadcast", transport="websocket", client=client, clients=n["room"], count=n["count"],
                 bursts=n["bursts"], durationMs=30_000),
            90,
        ),
        Scenario(
            "S3",
            f"{n['conns']} WebSocket connects, then idle",
            "conn/s",
            dict(scenario="connect", transport="websocket", client=client, clients=n["conns"], concurrency=n["conc"]),
            120,
        ),
        Scenario(
            "S4",
            f"long-polling echo+ack, {n['echo']} clients",
            "acks/s",
            dict(scenario="echo", transport="polling", client=client, clients=n["echo"], warmupMs=n["warm"],
                 durationMs=n["dur"]),
            echo_timeout,
        ),
    ]


# -- processes -------------------------------------------------------------------------------------


@functools.cache
def cores() -> tuple[list[str], list[str]]:
    """``taskset`` prefixes for the server and the generator: two different cores when the
    machine has them, else no pinning. Decided once, from the affinity this process started
    with (the suite then moves itself onto the generator's core)."""
    allowed = sorted(os.sched_getaffinity(0))
    if len(allowed) < 2 or shutil.which("taskset") is None or WORKERS["count"]:
        return [], []
    return ["taskset", "-c", str(allowed[0])], ["taskset", "-c", str(allowed[1])]


def raise_nofile(need: int = 65536) -> None:
    """Let the child hold `need` descriptors (S3 opens thousands of sockets)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < need:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (need, need))
            return
        except (ValueError, OSError):
            need = hard  # not root: the hard limit is as far as we may go
    if soft == resource.RLIM_INFINITY or soft >= need:
        return
    resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def clean_env() -> dict[str, str]:
    drop = {"PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV"}
    return {k: v for k, v in os.environ.items() if k not in drop}


def proc_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process and of its live child processes (the workers of
    ``workers=N``), from /proc."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return float("nan")
    fields = text[text.rindex(")") + 2 :].split()
    total = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    try:
        kids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        kids = []
    for kid in kids:
        cpu = proc_cpu_s(int(kid))
        if cpu == cpu:
            total += cpu
    return total


def proc_runq_wait_s(pid: int) -> float:
    """Seconds the main thread of a process (its event loop) spent runnable but waiting for a
    CPU (schedstat): how much other work on the machine took the core away from it."""
    try:
        return int(Path(f"/proc/{pid}/schedstat").read_text().split()[1]) / 1e9
    except (OSError, ValueError, IndexError):
        return float("nan")


def proc_cpus(pid: int) -> str:
    """The CPUs a process may run on (``Cpus_allowed_list`` of /proc/<pid>/status)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("Cpus_allowed_list:"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "?"


def check_pinned(what: str, pid: int, pin: list[str]) -> str:
    """The CPUs of `pid`; raise if pinning was asked for and did not happen."""
    cpus = proc_cpus(pid)
    deadline = time.monotonic() + 2  # taskset may not have exec'd yet
    while pin and cpus != pin[-1] and time.monotonic() < deadline:
        time.sleep(0.02)
        cpus = proc_cpus(pid)
    if pin and cpus != pin[-1]:
        raise RuntimeError(f"{what} should run on CPU {pin[-1]}, it may run on {cpus}")
    return cpus


def proc_status_kb(pid: int, key: str) -> int:
    """A ``kB`` field of /proc/<pid>/status (``VmRSS``, ``VmHWM``), summed with its live child
    processes' (the workers of ``workers=N``)."""
    value = -1
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                value = int(line.split()[1])
                break
        kids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return value
    for kid in kids:
        extra = proc_status_kb(int(kid), key)
        if extra > 0:
            value += extra
    return value


def interpreter(stack: str, ours_python: str) -> str:
    if stack in ("node", "nodeworkers"):
        return "node"
    return ours_python if stack in ("ours", "workers") else str(REF_VENV / "bin" / "python")


def node_server_available() -> bool:
    """node on PATH and the socket.io server package in node_modules (scripts/setup.sh)."""
    return shutil.which("node") is not None and (REPO / "node_modules" / "socket.io").is_dir()


def check_stack(stack: str, info: dict[str, Any]) -> None:
    """Fail loudly if the server is not the stack we think we measure."""
    if stack == "nodeworkers":
        stack = "node"
    if stack == "node" or info.get("stack") == "node":
        module = Path(info.get("socketio_module", "")).resolve()
        if not (stack == "node" and info.get("stack") == "node"
                and module.is_relative_to(REPO / "node_modules" / "socket.io")):
            raise RuntimeError(f"expected Node socket.io from {REPO / 'node_modules'}, the server is {info}")
        return
    path = Path(info.get("flask_socketio", "")).resolve()
    ours = path.is_relative_to(REPO / "flask_socketio")
    if stack == "workers":
        stack = "ours"
    if stack == "ours" and not (ours and info.get("stack") == "ours"):
        raise RuntimeError(f"expected this project's flask_socketio, the server imported {path}")
    if stack == "reference" and (ours or info.get("stack") != "reference"):
        raise RuntimeError(f"expected the reference flask_socketio, the server imported {path}")
    wanted = os.environ.get("BENCH_ASYNC_MODE") or "gevent"
    if info.get("async_mode") != wanted:
        raise RuntimeError(f"expected the {stack} stack on {wanted}, it runs on {info.get('async_mode')}")


class Server:
    """``benchmarks/app.py`` (or ``benchmarks/app.js`` for Node) in a subprocess, pinned, with
    its output in a log file."""

    def __init__(self, stack: str, python: str, pin: list[str], workdir: Path, name: str,
                 serializer: str = "default") -> None:
        self.stack = stack
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / f"{name}.log"
        self._log = self.log_path.open("wb")
        # -I: no script directory, no cwd, no PYTHONPATH on sys.path -- the interpreter's own
        # site-packages decide which flask_socketio is served. cwd is a scratch directory.
        if stack in ("node", "nodeworkers"):
            cmd = [*pin, python, str(NODE_APP), "--port", str(self.port)]
            if stack == "nodeworkers":
                cmd += ["--workers", str(WORKERS["count"])]
        else:
            cmd = [*pin, python, "-I", str(APP), "--port", str(self.port)]
            if stack == "workers":
                cmd += ["--workers", str(WORKERS["count"])]
        self.proc = subprocess.Popen(
            cmd, cwd=workdir, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env={**clean_env(), "BENCH_SERIALIZER": serializer}, preexec_fn=raise_nofile,
        )
        self.pid = self.proc.pid
        self.info: dict[str, Any] = {}

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.stack} server exited ({self.proc.returncode}):\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(self.url + "/bench/info", timeout=1) as resp:
                    self.info = json.loads(resp.read())
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{self.stack} server not ready in {timeout}s:\n{self.log_tail()}")
                time.sleep(0.05)
        check_stack(self.stack, self.info)
        if self.stack in ("workers", "nodeworkers"):
            if self.info.get("ppid") != self.pid:
                raise RuntimeError(f"server pid {self.info.get('pid')} is not a worker of {self.pid}")
        elif self.info.get("pid") != self.pid:
            raise RuntimeError(f"server pid {self.info.get('pid')} is not the process we watch ({self.pid})")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._log.close()

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def log_issues(self) -> dict[str, Any]:
        """What the server said beyond its start-up line: tracebacks, errors, warnings."""
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()[1:]
        except OSError:
            return {}
        lines = [line for line in lines if line.strip()]
        if not lines:
            return {}
        keys = ("Traceback", "Error", "ERROR", "WARNING", "warning", "Exception")
        flagged = [line for line in lines if any(k in line for k in keys)]
        return {"lines": len(lines), "flagged": len(flagged), "excerpt": (flagged or lines)[:8]}


class Generator:
    """The node load generator, pinned, talking JSON lines on stdout (and one line on stdin
    to end the idle phase of S3)."""

    def __init__(self, options: dict[str, Any], pin: list[str], workdir: Path, name: str) -> None:
        self.err_path = workdir / f"{name}.gen.err"
        self._err = self.err_path.open("wb")
        self.proc = subprocess.Popen(
            [*pin, "node", str(GENERATOR), json.dumps(options)],
            cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._err,
            preexec_fn=raise_nofile,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            self.lines.put(raw.decode(errors="replace"))
        self.lines.put(None)

    def events(self, deadline: float) -> Iterator[dict[str, Any]]:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("the generator did not finish in time")
            try:
                line = self.lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                return
            line = line.strip()
            if line.startswith("{"):
                with contextlib.suppress(ValueError):
                    yield json.loads(line)

    def release(self) -> None:
        assert self.proc.stdin is not None
        with contextlib.suppress(OSError):
            self.proc.stdin.write(b"go\n")
            self.proc.stdin.flush()

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._err.close()

    def stderr(self) -> str:
        try:
            return self.err_path.read_text(errors="replace")[-2000:]
        except OSError:
            return ""


# -- one end-to-end run ---------------------------------------------------------------------------


@dataclass
class Sample:
    """One scenario on one stack in one round."""

    rate: float = float("nan")
    gen_cpu: float = float("nan")
    server_cpu: float = float("nan")
    server_wait: float = float("nan")
    gen_wait: float = float("nan")
    kb_per_conn: float = float("nan")
    extra: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)  # correctness: loss, errors, failures
    warnings: list[str] = field(default_factory=list)  # about the measurement itself

    @property
    def per_cpu(self) -> float:
        """Throughput per second of server CPU: robust to other processes taking the core."""
        return self.rate / (self.server_cpu / 100) if self.server_cpu > 0 else float("nan")

    def to_json(self) -> dict[str, Any]:
        return {
            "rate": self.rate, "per_server_cpu_s": self.per_cpu, "gen_cpu_pct": self.gen_cpu, "server_cpu_pct": self.server_cpu,
            "server_runq_wait_pct": self.server_wait, "gen_runq_wait_pct": self.gen_wait,
            "kb_per_idle_conn": self.kb_per_conn, **self.extra, "problems": self.problems,
            "warnings": self.warnings,
        }


class Progress:
    """One line per run, plus a live status line when stderr is a terminal."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.done = 0
        self.tty = sys.stderr.isatty()
        self.started = time.monotonic()

    def begin(self, what: str) -> None:
        self.done += 1
        self.what = what
        self._write(f"[{self.done:>2}/{self.total}] {what} ...", final=not self.tty)

    def live(self, status: str) -> None:
        if self.tty:
            self._write(f"[{self.done:>2}/{self.total}] {self.what} ... {status}", final=False)

    def end(self, summary: str) -> None:
        elapsed = time.monotonic() - self.started
        line = f"[{self.done:>2}/{self.total}] {self.what}: {summary}   ({elapsed:.0f} s so far)"
        self._write(line, final=True)

    def note(self, text: str) -> None:
        self._write(text, final=True)

    def _write(self, text: str, final: bool) -> None:
        if self.tty:
            sys.stderr.write("\r\x1b[2K" + text + ("\n" if final else ""))
        else:
            sys.stderr.write(text + "\n")
        sys.stderr.flush()


def run_e2e(scenario: Scenario, stack: str, python: str, workdir: Path, name: str,
            progress: Progress, settle_s: float = 1.0) -> Sample:
    pin_server, pin_gen = cores()
    sample = Sample()
    server = Server(stack, python, pin_server, workdir, name, scenario.serializer)
    gen: Generator | None = None
    deadline = time.monotonic() + scenario.timeout_s
    try:
        server.wait_ready()
        sample.extra["server_cpus"] = check_pinned("the server", server.pid, pin_server)
        options = {**scenario.options, "url": server.url,
                   "timeoutMs": int((scenario.timeout_s - 5) * 1000)}
        gen = Generator(options, pin_gen, workdir, name)
        sample.extra["generator_cpus"] = check_pinned("the generator", gen.proc.pid, pin_gen)
        cpu0 = wall0 = rss0 = wait0 = gen_wait0 = None
        result: dict[str, Any] | None = None
        for event in gen.events(deadline):
            kind = event.get("event")
            if kind == "measure_start":
                cpu0, wall0 = proc_cpu_s(server.pid), time.monotonic()
                wait0 = proc_runq_wait_s(server.pid)
                gen_wait0 = proc_runq_wait_s(gen.proc.pid)
                rss0 = proc_status_kb(server.pid, "VmRSS")
            elif kind == "measure_end" and cpu0 is not None and wall0 is not None:
                wall = time.monotonic() - wall0
                if wall > 0:
                    sample.server_cpu = (proc_cpu_s(server.pid) - cpu0) / wall * 100
                    if wait0 is not None:
                        sample.server_wait = (proc_runq_wait_s(server.pid) - wait0) / wall * 100
                    if gen_wait0 is not None:
                        sample.gen_wait = (proc_runq_wait_s(gen.proc.pid) - gen_wait0) / wall * 100
            elif kind == "idle":
                time.sleep(settle_s)
                rss1 = proc_status_kb(server.pid, "VmRSS")
                connected = int(event.get("connected", 0))
                if rss0 is not None and rss0 > 0 and rss1 > 0 and connected:
                    sample.kb_per_conn = (rss1 - rss0) / connected
                    sample.extra.update(rss_before_kb=rss0, rss_idle_kb=rss1)
                gen.release()
            elif kind == "progress":
                progress.live(" ".join(f"{k}={v}" for k, v in event.items() if k != "event"))
            elif kind == "result":
                result = event
                break
        if result is None:
            raise RuntimeError(f"the generator gave no result:\n{gen.stderr()}")
        if not result.get("ok"):
            sample.problems.append(f"generator: {result.get('error')}")
        sample.rate = float(result.get("rate", float("nan")))
        sample.gen_cpu = float(result.get("cpuPct", float("nan")))
        for key in ("clients", "connected", "stillConnected", "latencyMs", "lost", "outOfOrder",
                    "mismatches", "unexpectedDisconnects", "burstMs", "deliveries", "acks"):
            if key in result:
                sample.extra[key] = result[key]
        sample.extra["server_peak_rss_kb"] = proc_status_kb(server.pid, "VmHWM")
        for key in ("lost", "outOfOrder", "mismatches", "unexpectedDisconnects"):
            if result.get(key):
                sample.problems.append(f"{key}={result[key]}")
        if scenario.options["scenario"] == "connect" and result.get("stillConnected") != result.get("connected"):
            sample.problems.append(
                f"{result.get('connected', 0) - result.get('stillConnected', 0)} idle connections dropped"
            )
        for kind, count in (result.get("errors") or {}).items():
            sample.problems.append(f"{kind} x{count}")
        if sample.gen_cpu > 85:
            sample.warnings.append(f"generator at {sample.gen_cpu:.0f}% CPU: it may be the bottleneck")
    except (RuntimeError, TimeoutError, OSError) as exc:
        sample.problems.append(f"run failed: {exc}")
    finally:
        if gen is not None:
            gen.stop()
        server.stop()
    issues = server.log_issues()
    if issues:
        sample.extra["server_log"] = issues
        if issues.get("flagged"):
            sample.problems.append(f"server logged {issues['flagged']} error/warning lines")
    return sample


# -- in-process benchmarks ------------------------------------------------------------------------


def run_json(cmd: list[str], timeout: float) -> dict[str, Any]:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=REPO, env=clean_env(),
                          check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def run_fanout(stack: str, python: str, sessions: str, duration: float) -> dict[str, Any]:
    pin, _ = cores()
    isolate = ["-I"] if stack == "reference" else []
    cmd = [*pin, python, *isolate, str(BENCH / "bench_fanout.py"), "--impl", stack,
           "--sessions", sessions, "--duration", str(duration)]
    return run_json(cmd, timeout=120)["results"]  # type: ignore[no-any-return]


def run_codec(compare: bool, rounds: int, duration: float, python: str, workdir: Path) -> dict[str, Any]:
    """benchmarks/bench_codec.py (its own interleaving and medians), pinned to the server core."""
    script = BENCH / "bench_codec.py"
    if not script.exists():
        return {"skipped": "benchmarks/bench_codec.py is not there"}
    pin, _ = cores()
    out = workdir / "codec.json"
    mode = ["--compare", "--rounds", str(rounds)] if compare else ["--impl", "ours"]
    cmd = [*pin, python, str(script), *mode, "--duration", str(duration), "--json", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=REPO, env=clean_env(),
                          check=False)
    if proc.returncode != 0 or not out.exists():
        return {"error": f"bench_codec.py failed ({proc.returncode}): {proc.stderr[-1500:]}"}
    result: dict[str, Any] = json.loads(out.read_text())
    return result


# -- the reference venv ----------------------------------------------------------------------------


def ensure_reference_venv(log: Progress | None = None) -> Path:
    """``.venv-ref`` with the reference stack (and matplotlib for the plot); created when
    missing, completed when something is missing, reused otherwise."""
    python = REF_VENV / "bin" / "python"
    if not python.exists():
        if log:
            log.note(f"creating {REF_VENV} (the reference stack) ...")
        subprocess.run([sys.executable, "-m", "venv", str(REF_VENV)], check=True)
    probe = "import importlib.util as u, sys; print(','.join(m for m in sys.argv[1:] if u.find_spec(m) is None))"
    missing = subprocess.run(
        [str(python), "-I", "-c", probe, *REF_MODULES], capture_output=True, text=True, check=True
    ).stdout.strip()
    if missing:
        wanted = [REF_MODULES[m] for m in missing.split(",")]
        pins = dict(_pin_like_ours(w) for w in wanted)
        if log:
            log.note(f"installing into {REF_VENV.name}: {' '.join(pins.values())}")
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", *pins.values()],
            check=True,
        )
    return python


def _pin_like_ours(requirement: str) -> tuple[str, str]:
    """Use our own version of gevent and msgpack for the reference, so only the stack differs."""
    if "==" in requirement or requirement == "matplotlib":
        return requirement, requirement
    try:
        return requirement, f"{requirement}=={metadata.version(requirement)}"
    except metadata.PackageNotFoundError:
        return requirement, requirement


DISTRIBUTIONS = {
    "ours": ["flask-socketio-ng", "flask", "werkzeug", "gevent", "greenlet", "wsproto", "msgpack", "eventlet"],
    "reference": ["flask-socketio", "python-socketio", "python-engineio", "flask", "werkzeug", "gevent",
                  "gevent-websocket", "greenlet", "simple-websocket", "msgpack", "eventlet"],
}
DISTRIBUTIONS["workers"] = DISTRIBUTIONS["ours"]


def node_package_version(name: str) -> str:
    try:
        pkg = json.loads((REPO / "node_modules" / name / "package.json").read_text())
        return str(pkg["version"])
    except (OSError, ValueError, KeyError):
        return "missing"


def versions(stack: str, python: str) -> dict[str, str]:
    """The versions of what a stack's server runs on."""
    if stack in ("node", "nodeworkers"):
        return {"node": node_version(), **{name: node_package_version(name)
                                           for name in ("socket.io", "engine.io", "ws")}}
    code = (
        "import json, sys, importlib.metadata as m, platform\n"
        "out = {'python': platform.python_version()}\n"
        "for d in sys.argv[1:]:\n"
        "    try: out[d] = m.version(d)\n"
        "    except m.PackageNotFoundError: pass\n"
        "print(json.dumps(out))"
    )
    proc = subprocess.run([python, "-I", "-c", code, *DISTRIBUTIONS[stack]], capture_output=True, text=True,
                          check=False)
    try:
        result: dict[str, str] = json.loads(proc.stdout)
    except ValueError:
        result = {}
    return result


def node_version() -> str:
    try:
        return subprocess.run(["node", "--version"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "missing"


def client_version() -> str:
    try:
        pkg = json.loads((REPO / "node_modules" / "socket.io-client" / "package.json").read_text())
        return str(pkg["version"])
    except (OSError, ValueError, KeyError):
        return "missing"


# -- the whole suite --------------------------------------------------------------------------------


def median(values: list[float]) -> float:
    good = [v for v in values if v == v]  # drop NaN
    return statistics.median(good) if good else float("nan")


def round_order(stacks: list[str], round_no: int) -> list[str]:
    """The order of the stacks in one round: rotated each round, so that each goes first in
    turn (with two stacks: A B, B A, A B, ...)."""
    k = round_no % len(stacks)
    return stacks[k:] + stacks[:k]


def run_suite(args: argparse.Namespace) -> dict[str, Any]:
    stacks: list[str] = args.stacks
    pythons = {"ours": args.ours_python}
    if "workers" in stacks:
        pythons["workers"] = args.ours_python
    if "nodeworkers" in stacks:
        pythons["nodeworkers"] = "node"
    if "reference" in stacks:
        pythons["reference"] = str(ensure_reference_venv(Progress(0)))
    if "node" in stacks:
        pythons["node"] = "node"
    py_stacks = [st for st in stacks if st in PYTHON_STACKS]
    only = set(args.only.split(",")) if args.only else None
    e2e = [s for s in scenarios(args.size, args.client) if only is None or s.key in only]
    do_fanout = (only is None or "fanout" in only) and bool(py_stacks)
    do_codec = (only is None or "codec" in only) and "ours" in stacks
    rounds = args.rounds
    total = rounds * (len(stacks) * len(e2e) + (len(py_stacks) if do_fanout else 0)) + (1 if do_codec else 0)
    progress = Progress(total)
    pin_server, pin_gen = cores()
    if not pin_server:
        progress.note("note: fewer than 2 cores (or no taskset): server and generator are not pinned")
    started = time.monotonic()
    load_before = os.getloadavg()
    samples: dict[str, dict[str, list[Sample]]] = {s.key: {st: [] for st in stacks} for s in e2e}
    fanout: dict[str, list[dict[str, Any]]] = {st: [] for st in py_stacks}
    own_affinity = os.sched_getaffinity(0)
    if pin_gen:
        os.sched_setaffinity(0, {int(pin_gen[-1])})  # keep this driver off the server's core
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        workdir = Path(tmp)
        try:
            for round_no in range(rounds):
                order = round_order(stacks, round_no)
                for scenario in e2e:
                    for stack in order:
                        progress.begin(f"round {round_no + 1}/{rounds} {scenario.key} {stack:<9}")
                        sample = run_e2e(scenario, stack, pythons[stack], workdir,
                                         f"{scenario.key}-{stack}-{round_no}", progress)
                        samples[scenario.key][stack].append(sample)
                        progress.end(_summary(scenario, sample))
                if do_fanout:
                    for stack in [st for st in order if st in PYTHON_STACKS]:
                        progress.begin(f"round {round_no + 1}/{rounds} fanout {stack:<9}")
                        try:
                            res = run_fanout(stack, pythons[stack], args.fanout_sessions, args.fanout_duration)
                        except (RuntimeError, subprocess.TimeoutExpired) as exc:
                            res = {"error": str(exc)}
                        fanout[stack].append(res)
                        progress.end(", ".join(
                            f"{n} sessions {r['deliveries_per_s']:,.0f} deliveries/s"
                            for n, r in res.items() if isinstance(r, dict)
                        ) or str(res.get("error", ""))[:200])
            codec: dict[str, Any] = {}
            if do_codec:
                progress.begin("codec (benchmarks/bench_codec.py)")
                codec = run_codec("reference" in stacks, max(rounds, 3) if "reference" in stacks else 1,
                                  args.codec_duration, args.ours_python, workdir)
                progress.end("done" if "results" in codec else str(codec)[:300])
        finally:
            os.sched_setaffinity(0, own_affinity)
    report = _report(args, stacks, e2e, samples, fanout, codec, pythons)
    report["meta"]["wall_s"] = round(time.monotonic() - started, 1)
    report["meta"]["loadavg_before"] = load_before
    report["meta"]["loadavg_after"] = os.getloadavg()
    return report


def _summary(scenario: Scenario, s: Sample) -> str:
    text = (f"{s.rate:,.0f} {scenario.unit}  gen CPU {s.gen_cpu:.0f}%  server CPU {s.server_cpu:.0f}%"
            f" (waited for a CPU: server {s.server_wait:.0f}%, gen {s.gen_wait:.0f}%)")
    if s.kb_per_conn == s.kb_per_conn:
        text += f"  {s.kb_per_conn:.1f} KB/idle conn"
    if s.problems:
        text += "  PROBLEMS: " + "; ".join(s.problems)[:300]
    if s.warnings:
        text += "  (" + "; ".join(s.warnings) + ")"
    return text


def _report(args: argparse.Namespace, stacks: list[str], e2e: list[Scenario],
            samples: dict[str, dict[str, list[Sample]]], fanout: dict[str, list[dict[str, Any]]],
            codec: dict[str, Any], pythons: dict[str, str]) -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    for scenario in e2e:
        by_stack = samples[scenario.key]
        metrics = [("rate", scenario.unit, True)]
        if scenario.options["scenario"] == "connect":
            metrics.append(("kb_per_conn", "KB RSS per idle conn", False))
        for attr, unit, higher in metrics:
            row: dict[str, Any] = {
                "key": scenario.key if attr == "rate" else f"{scenario.key}-mem",
                "scenario": scenario.label(),
                "unit": unit,
                "higher_is_better": higher,
            }
            for stack in stacks:
                runs = by_stack[stack]
                row[stack] = {
                    "median": median([getattr(r, attr) for r in runs]),
                    "samples": [getattr(r, attr) for r in runs],
                    "gen_cpu_pct": median([r.gen_cpu for r in runs]),
                    "server_cpu_pct": median([r.server_cpu for r in runs]),
                    "server_runq_wait_pct": median([r.server_wait for r in runs]),
                    "gen_runq_wait_pct": median([r.gen_wait for r in runs]),
                    "per_server_cpu_s": median([r.per_cpu for r in runs]) if attr == "rate" else float("nan"),
                    "problems": sorted({p for r in runs for p in r.problems}),
                    "warnings": sorted({w for r in runs for w in r.warnings}),
                }
            add_ratios(row)
            rows.append(row)
    fan_rows: list[dict[str, Any]] = []
    sizes = [s for s in args.fanout_sessions.split(",") if s]
    for size in sizes:
        row = {"key": f"fanout-{size}", "scenario": f"in-process emit to a room of {size} sessions",
               "unit": "deliveries/s", "higher_is_better": True}
        for stack in fanout:
            values = [r[size]["deliveries_per_s"] for r in fanout[stack] if size in r]
            row[stack] = {"median": median(values), "samples": values}
        add_ratios(row)
        if any(fanout.values()):
            fan_rows.append(row)
    codec_rows = codec_to_rows(codec, [st for st in stacks if st in PYTHON_STACKS])
    details = {
        key: {stack: [s.to_json() for s in runs] for stack, runs in by_stack.items()}
        for key, by_stack in samples.items()
    }
    return {
        "meta": {
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "command": "python -m benchmarks " + " ".join(sys.argv[1:]),
            "compare": args.compare,
            "stacks": stacks,
            "size": args.size,
            "rounds": args.rounds,
            "async_mode": args.async_mode,
            "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                        "pinned": bool(cores()[0]), "server_core": (cores()[0] or ["-"])[-1],
                        "generator_core": (cores()[1] or ["-"])[-1]},
            "generator": {"node": node_version(), "socket.io-client": client_version(),
                          "websocket_client": args.client},
            "versions": {stack: versions(stack, python) for stack, python in pythons.items()},
            "scenarios": {s.key: s.options for s in e2e},
        },
        "rows": rows + fan_rows + codec_rows,
        "e2e_samples": details,
        "fanout_samples": fanout,
        "codec": codec,
    }


def add_ratios(row: dict[str, Any]) -> None:
    """ours / each other stack in `row`: of the medians (``ratio``, ``ratio_node``) and of the
    throughput per second of server CPU (``ratio_per_cpu``, ``ratio_node_per_cpu``)."""
    if "ours" not in row:
        return
    for other, (key, key_cpu) in RATIOS.items():
        if other not in row:
            continue
        theirs = row[other]["median"]
        row[key] = row["ours"]["median"] / theirs if theirs == theirs and theirs else float("nan")
        ours_eff = row["ours"].get("per_server_cpu_s", float("nan"))
        their_eff = row[other].get("per_server_cpu_s", float("nan"))
        if their_eff == their_eff and their_eff and ours_eff == ours_eff:
            row[key_cpu] = ours_eff / their_eff


def codec_to_rows(codec: dict[str, Any], stacks: list[str]) -> list[dict[str, Any]]:
    """Rows from benchmarks/bench_codec.py's JSON, whichever of its layouts: per case either
    ``{metric: {ours_ops_per_s, reference_ops_per_s}}`` (compare), ``{metric: ops}`` (one
    impl) or ``{ours_ops_per_s, ...}``. The ``best`` metric is preferred when present."""
    rows: list[dict[str, Any]] = []
    for case, entry in (codec.get("results") or {}).items():
        if not isinstance(entry, dict):
            continue
        metric = next((m for m in ("best", "mean") if m in entry), None)
        sub = entry[metric] if metric else entry
        row: dict[str, Any] = {
            "key": f"codec-{case}",
            "scenario": f"codec {case} encode+decode" + (f" ({metric})" if metric else ""),
            "unit": "ops/s",
            "higher_is_better": True,
        }
        for stack in stacks:
            value = sub.get(f"{stack}_ops_per_s") if isinstance(sub, dict) else (
                sub if stack == codec.get("impl", "ours") else None)
            if isinstance(value, (int, float)):
                row[stack] = {"median": float(value), "samples": [float(value)]}
        if not all(stack in row for stack in stacks):
            continue
        add_ratios(row)
        rows.append(row)
    return rows


# -- output ------------------------------------------------------------------------------------------


def _fmt(value: float, unit: str) -> str:
    if value != value:
        return "n/a"
    if "KB" in unit:
        return f"{value:,.1f}"
    return f"{value:,.0f}"


def table_stacks(report: dict[str, Any]) -> list[str]:
    return [s for s in STACKS if any(s in row for row in report["rows"])]


def ratio_columns(stacks: list[str]) -> list[tuple[str, str, str]]:
    """(row key, short header, long header) of the ratio columns for these stacks: ours/ref
    and ours/node, each of the medians and per second of server CPU."""
    cols: list[tuple[str, str, str]] = []
    if "ours" not in stacks:
        return cols
    for other in ("reference", "node"):
        if other in stacks:
            key, key_cpu = RATIOS[other]
            name = f"ours/{SHORT[other]}"
            cols.append((key, name, name))
            cols.append((key_cpu, f"{name} per CPU-s", f"{name} per server CPU-s"))
    return cols


def format_table(report: dict[str, Any]) -> str:
    stacks = table_stacks(report)
    ratios = ratio_columns(stacks)
    head = ["scenario", "unit", *stacks, *(short for _, short, _ in ratios)]
    head += ["gen CPU%", "gen wait%", "server CPU%", "server wait%"]
    lines = [head]
    for row in report["rows"]:
        cells = [row["scenario"], row["unit"] + ("" if row["higher_is_better"] else " (lower=better)")]
        cells += [_fmt(row[s]["median"], row["unit"]) if s in row else "-" for s in stacks]
        for key, _, _ in ratios:
            ratio = row.get(key, float("nan"))
            cells.append("" if ratio != ratio else f"{ratio:.2f}x")
        for key in ("gen_cpu_pct", "gen_runq_wait_pct", "server_cpu_pct", "server_runq_wait_pct"):
            values = [row[s].get(key) if s in row else None for s in stacks]
            cells.append(" / ".join("-" if v is None or v != v else f"{v:.0f}" for v in values))
        lines.append(cells)
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(head))]
    out = []
    for n, line in enumerate(lines):
        out.append(" | ".join(str(c).ljust(w) if i < 2 else str(c).rjust(w) for i, (c, w) in enumerate(zip(line, widths, strict=True))))
        if n == 0:
            out.append("-+-".join("-" * w for w in widths))
    codec = report.get("codec") or {}
    if codec and not codec.get("results"):
        out.append(f"\ncodec: {codec.get('error') or codec.get('skipped')}")
    problems = []
    for row in report["rows"]:
        for stack in [st for st in stacks if st in row]:
            for p in row[stack].get("problems", []):
                problems.append(f"  {row['key']} {stack}: {p}")
    if problems:
        out.append("")
        out.append("problems seen (any round):")
        out.extend(sorted(set(problems)))
    warnings = sorted({f"  {row['key']} {stack}: {w}" for row in report["rows"] for stack in stacks
                       if stack in row for w in row[stack].get("warnings", [])})
    if warnings:
        out.append("")
        out.append("about the measurement (any round):")
        out.extend(warnings)
    meta = report["meta"]
    out.append("")
    note = f"medians of {meta['rounds']} round(s), size {meta['size']}"
    if meta["machine"]["pinned"]:
        note += (f"; server on core {meta['machine']['server_core']}, generator on core "
                 f"{meta['machine']['generator_core']}")
    note += ("; CPU% = percent of one core used during the measured window; wait% = time the"
             " process was runnable but its core was busy with other processes")
    if ratios:
        note += "; per CPU-s = the ratio of throughput per second of server CPU (robust to that)"
    if len(stacks) > 1:
        note += f"; the CPU/wait columns list {' / '.join(SHORT[s] for s in stacks)}"
    if "node" in stacks:
        note += "; Node runs the end-to-end scenarios only (the in-process rows are Python code)"
    out.append(note)
    return "\n".join(out)


def format_markdown(report: dict[str, Any]) -> str:
    """The same table as Markdown, for docs/benchmarks.md."""
    stacks = table_stacks(report)
    ratios = ratio_columns(stacks)
    head = ["scenario", "unit", *stacks, *(long for _, _, long in ratios)]
    head += ["generator CPU %", "generator wait %", "server CPU %", "server wait %"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] * 2 + ["---:"] * (len(head) - 2)) + "|"]
    for row in report["rows"]:
        cells = [row["scenario"], row["unit"].replace(" (lower=better)", "") + ("" if row["higher_is_better"] else " (lower is better)")]
        cells += [_fmt(row[s]["median"], row["unit"]) if s in row else "" for s in stacks]
        for key, short, _ in ratios:
            ratio = row.get(key, float("nan"))
            bold = "per" not in short
            cells.append("" if ratio != ratio else (f"**{ratio:.2f}x**" if bold else f"{ratio:.2f}x"))
        for key in ("gen_cpu_pct", "gen_runq_wait_pct", "server_cpu_pct", "server_runq_wait_pct"):
            values = [row[s].get(key) if s in row else None for s in stacks]
            cells.append("" if all(v is None or v != v for v in values) else
                         " / ".join("-" if v is None or v != v else f"{v:.0f}" for v in values))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


DOC = REPO / "docs" / "benchmarks.md"
DOC_START, DOC_END = "<!-- results:start -->", "<!-- results:end -->"


def update_docs(report: dict[str, Any], doc: Path = DOC) -> None:
    """Replace the results block of docs/benchmarks.md with this run's table."""
    meta = report["meta"]
    ours, ref = meta["versions"].get("ours", {}), meta["versions"].get("reference", {})
    node = meta["versions"].get("node", {})
    others = []
    if ref:
        others.append(f"Flask-SocketIO {ref.get('flask-socketio')} + python-socketio {ref.get('python-socketio')}"
                      f" + gevent-websocket {ref.get('gevent-websocket')} (reference)")
    if node:
        others.append(f"Node socket.io {node.get('socket.io')} (engine.io {node.get('engine.io')},"
                      f" ws {node.get('ws')}) on node {node.get('node')}")
    stacks = "this project" + (" vs " + " and ".join(others) if others else "")
    lines = [
        DOC_START,
        f"Measured {meta['date'][:16].replace('T', ' ')} UTC with `{meta['command'].replace('python', '.venv/bin/python', 1)}`"
        f" ({meta['wall_s']:.0f} s): {stacks}, on gevent {ours.get('gevent')}, Python {ours.get('python')},"
        f" {meta['machine']['cpus']} cores, server and load generator pinned to one core each;"
        f" generator: node {meta['generator']['node']}, "
        + ("its raw Socket.IO client (hand-written WebSocket and long-polling, the same packets"
           f" as socket.io-client {meta['generator']['socket.io-client']})"
           if meta["generator"].get("websocket_client") == "raw"
           else f"socket.io-client {meta['generator']['socket.io-client']}")
        + "."
        f" Medians of {meta['rounds']} interleaved rounds; load average of the machine"
        f" {meta['loadavg_before'][0]:.1f} before, {meta['loadavg_after'][0]:.1f} after.",
        "",
        format_markdown(report).rstrip("\n"),
        "",
    ]
    problems = sorted({f"{row['key']} {stack}: {p}" for row in report["rows"]
                       for stack in STACKS if stack in row for p in row[stack].get("problems", [])})
    warnings = sorted({f"{row['key']} {stack}: {w}" for row in report["rows"]
                       for stack in STACKS if stack in row for w in row[stack].get("warnings", [])})
    if warnings:
        lines += ["About the measurement: " + "; ".join(warnings) + ".", ""]
    if problems:
        lines.append("Problems seen: " + "; ".join(problems) + ".")
    else:
        lines.append("No problems seen in any round: no lost or reordered broadcast, no ack timeout or"
                     " mismatch, no unexpected disconnect, no dropped idle connection, nothing in any"
                     " server's log.")
    lines.append(DOC_END)
    text = doc.read_text()
    start, end = text.index(DOC_START), text.index(DOC_END) + len(DOC_END)
    doc.write_text(text[:start] + "\n".join(lines) + text[end:])


def plot(report_path: Path, png: Path, python: str) -> str | None:
    """Draw the plot with an interpreter that has matplotlib (the reference venv's)."""
    png.parent.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run([python, "-I", str(BENCH / "plot.py"), str(report_path), str(png)],
                          capture_output=True, text=True, timeout=120, check=False)
    if proc.returncode != 0:
        return proc.stderr[-1500:]
    return None


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="End-to-end, fan-out and codec benchmarks; --compare runs the reference stack too.",
    )
    parser.add_argument("--compare", action="store_true",
                        help="measure this project, the reference (.venv-ref) and Node socket.io "
                             "(node_modules), interleaved")
    parser.add_argument("--stack", choices=STACKS, default="ours", help="without --compare: which stack")
    parser.add_argument("--stacks", default=None,
                        help="comma-separated stacks to run interleaved (e.g. ours,node); "
                             "--compare is ours,reference,node")
    parser.add_argument("--rounds", type=int, default=None, help="rounds (default: 3 with --compare, else 1)")
    parser.add_argument("--size", choices=["full", "small", "tiny"], default="full",
                        help="full: the issue's sizes; small: a quick look; tiny: smoke test")
    parser.add_argument("--client", choices=["raw", "sio"], default="raw",
                        help="the generator's client: raw (Socket.IO packets over a bare WebSocket or "
                             "hand-written long-polling: cheap, so the generator keeps headroom) or sio "
                             "(the official socket.io-client)")
    parser.add_argument("--only", help="comma-separated subset of S1,S1m,S2,S3,S4,fanout,codec")
    parser.add_argument("--fanout-sessions", default=None, help="room sizes for fanout (default 1000,10000)")
    parser.add_argument("--fanout-duration", type=float, default=None, help="seconds per room size")
    parser.add_argument("--codec-duration", type=float, default=None, help="seconds per codec case")
    parser.add_argument("--json", type=Path, default=None,
                        help="results file (default: benchmarks/results/latest.json with --compare, "
                             "else benchmarks/results/<stack>.json)")
    parser.add_argument("--plot", type=Path, default=None, help=f"PNG (default with --compare: {DEFAULT_PLOT.relative_to(REPO)})")
    parser.add_argument("--no-plot", action="store_true")
    parser.add_argument("--update-docs", action="store_true",
                        help="with --compare: put this run's table into docs/benchmarks.md")
    parser.add_argument("--workers", type=int, default=None,
                        help="also run ours with socketio.run(app, workers=N) (the 'workers' stack); nothing is pinned")
    parser.add_argument("--ours-python", default=sys.executable, help="interpreter that has this project")
    parser.add_argument("--async-mode", choices=["gevent", "eventlet"], default="gevent",
                        help="the Python stacks' async mode (benchmarks/app.py: BENCH_ASYNC_MODE); "
                             "eventlet: eventlet.monkey_patch() first, both stacks on eventlet")
    args = parser.parse_args(argv)
    os.environ["BENCH_ASYNC_MODE"] = args.async_mode  # the servers inherit it (clean_env)
    tiny = args.size == "tiny"
    if args.rounds is None:
        args.rounds = 3 if args.compare else 1
    if args.compare and args.stacks:
        parser.error("--compare runs every stack: give --compare or --stacks, not both")
    if args.compare:
        args.stacks = list(STACKS)
    elif args.stacks:
        args.stacks = [st for st in args.stacks.split(",") if st]
        unknown = set(args.stacks) - set(STACKS)
        if unknown or not args.stacks or len(set(args.stacks)) != len(args.stacks):
            parser.error(f"--stacks takes distinct entries of {','.join(STACKS)}")
    else:
        args.stacks = [args.stack]
    if args.workers is not None:
        if args.workers < 2:
            parser.error("--workers needs N >= 2")
        WORKERS["count"] = args.workers
        if "workers" not in args.stacks:
            args.stacks.append("workers")
        if "ours" not in args.stacks:
            args.stacks.insert(0, "ours")
        if node_server_available() and (REPO / "node_modules" / "@socket.io" / "sticky").is_dir() \
                and "nodeworkers" not in args.stacks:
            args.stacks.append("nodeworkers")  # Node with @socket.io/sticky + cluster-adapter
    elif "workers" in args.stacks or "nodeworkers" in args.stacks:
        parser.error("the workers stacks need --workers N")
    if args.compare and args.rounds < 3:
        parser.error("--compare needs --rounds >= 3 (medians)")
    if not 1 <= args.rounds <= 20:
        parser.error("--rounds must be in 1..20")
    if args.only:
        unknown = set(args.only.split(",")) - {"S1", "S1m", "S2", "S3", "S4", "fanout", "codec"}
        if unknown:
            parser.error(f"unknown --only entries: {', '.join(sorted(unknown))}")
    args.fanout_sessions = args.fanout_sessions or ("100,500" if tiny else "1000,10000")
    args.fanout_duration = args.fanout_duration or (0.1 if tiny else 1.0)
    args.codec_duration = args.codec_duration or (0.05 if tiny else 0.5)
    e2e_wanted = not args.only or bool(set(args.only.split(",")) & {"S1", "S1m", "S2", "S3", "S4"})
    if shutil.which("node") is None or not (REPO / "node_modules" / "socket.io-client").is_dir():
        if e2e_wanted or "node" in args.stacks:
            parser.error("the end-to-end scenarios need node and node_modules: run scripts/setup.sh")
    if "node" in args.stacks and not node_server_available():
        parser.error("the Node stack needs node_modules/socket.io: run scripts/setup.sh")
    if args.stacks == ["node"] and not e2e_wanted:
        parser.error("the Node stack runs the end-to-end scenarios only (S1-S4)")
    report = run_suite(args)
    path = args.json or (RESULTS / ("latest.json" if args.compare else f"{'-'.join(args.stacks)}.json"))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_json_safe(report), indent=2) + "\n")
    path.with_suffix(".md").write_text(format_markdown(report))
    print()
    print(format_table(report))
    print(f"\nresults: {path} (and the table as Markdown: {path.with_suffix('.md')})")
    png = args.plot or (DEFAULT_PLOT if args.compare else None)
    if png is not None and not args.no_plot:
        plotter = str(REF_VENV / "bin" / "python")
        error = plot(path, png, plotter) if Path(plotter).exists() else "no .venv-ref (matplotlib)"
        print(f"plot: {png}" if error is None else f"plot failed: {error}")
    if args.update_docs:
        if not args.compare:
            print("--update-docs needs --compare: docs/benchmarks.md left as it is")
        else:
            update_docs(report)
            print(f"updated {DOC.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
