"""Real processes for the scale-out tests: redis-server, cluster nodes, nginx, gunicorn, and an
interactive official Socket.IO client (tests/node/scale_peer.js).

Every wait is bounded and waits for an observable condition (a port that answers, a number
of Redis subscribers, an event a client received) — never a fixed sleep.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.conftest import wait_for  # noqa: E402

APPS = Path(__file__).resolve().parent / "apps"
CLUSTER_APP = APPS / "cluster_app.py"
CHAT_APP = REPO / "examples" / "chat" / "app.py"
DEPLOY = REPO / "deploy"
PYTHON = str(REPO / ".venv" / "bin" / "python") if (REPO / ".venv" / "bin" / "python").exists() else sys.executable
CHANNEL = "flask-socketio"

__all__ = [
    "APPS", "CHANNEL", "CHAT_APP", "CLUSTER_APP", "DEPLOY", "PYTHON", "REPO", "NodePeer",
    "ProcessNode", "RabbitServer", "RedisServer", "free_port", "require", "render_nginx_conf", "start_nginx", "wait_for",
    "wait_http",
]


def require(binary: str) -> None:
    """Fail (not skip) when a service binary is missing: the test command installs them."""
    import pytest

    if shutil.which(binary) is None and not any(Path(d, binary).exists() for d in ("/usr/sbin", "/usr/bin")):
        pytest.fail(f"{binary} is required: run scripts/services-setup.sh")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def quiet_port() -> int:
    """A free loopback port below the kernel's ephemeral range: no outgoing connection takes it
    as its source port meanwhile (for a service that binds it only seconds later, and again
    after a restart)."""
    import random

    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    for _ in range(200):
        port = random.randrange(max(1024, low - 12000), low)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    return free_port()


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_http(url: str, timeout: float = 20.0) -> str:
    """GET `url` until it answers 200 (returns the body)."""

    def attempt() -> str | None:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback
                if response.status == 200:
                    return str(response.read().decode("utf-8", "replace")) or "ok"
        except OSError:
            return None
        return None

    return str(wait_for(attempt, timeout=timeout, interval=0.05))


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "<no log>"


# -- Redis -----------------------------------------------------------------------------------
class RedisServer:
    """A private redis-server on a free loopback port, no persistence."""

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        self.workdir = workdir
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = workdir / f"redis-{self.port}.log"

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        redis_server = shutil.which("redis-server") or "/usr/bin/redis-server"
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [redis_server, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                 "--appendonly", "no", "--dir", str(self.workdir)],
                stdout=log, stderr=subprocess.STDOUT,
            )
        wait_for(self.ping, timeout=10, interval=0.02)
        return self

    def client(self) -> Any:
        import redis

        return redis.Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=2, socket_timeout=5)

    def ping(self) -> bool:
        try:
            client = self.client()
            try:
                return bool(client.ping())
            finally:
                client.close()
        except Exception:
            return False

    def subscribers(self, channel: str = CHANNEL) -> int:
        client = self.client()
        try:
            return int(dict(client.pubsub_numsub(channel)).get(channel.encode(), 0))
        finally:
            client.close()

    def wait_subscribers(self, count: int, channel: str = CHANNEL, timeout: float = 20.0) -> None:
        """Until `count` listeners are subscribed to `channel` (pub/sub has no memory: a message
        published before a listener subscribed never reaches it)."""
        wait_for(lambda: self.subscribers(channel) >= count, timeout=timeout, interval=0.02)

    def publish(self, data: bytes | str, channel: str = CHANNEL) -> int:
        client = self.client()
        try:
            return int(client.publish(channel, data))
        finally:
            client.close()

    def kill(self) -> None:
        """SIGKILL: no goodbye to the clients, as a crash or an OOM kill."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
        wait_for(lambda: not port_open(self.port), timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    # -- what the broker-generic tests use (RabbitServer has the same) -----------------------
    name = "redis"

    def spy(self, channel: str = CHANNEL) -> ChannelSpy:
        return ChannelSpy(self, channel)

    def reference_emitter(self, channel: str = CHANNEL) -> Any:
        """python-socketio's write-only manager for this broker."""
        import socketio  # the reference stack: test-time only

        return socketio.RedisManager(self.url, channel=channel, write_only=True)


# -- RabbitMQ --------------------------------------------------------------------------------
RABBIT_BIN = Path("/usr/lib/rabbitmq/bin")


class RabbitServer:
    """A private RabbitMQ node (Debian's rabbitmq-server) on free loopback ports: its own node
    name, data and log directories, config (no plugins) and Erlang cookie (HOME), so it never
    meets another node on this machine. Started once per test session (it takes seconds)."""

    name = "rabbitmq"

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = quiet_port()
        self.dist_port = quiet_port()
        self.node = f"flask-sio-test-{self.port}@localhost"
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = workdir / f"rabbitmq-{self.port}.log"
        (workdir / "rabbitmq.conf").write_text(
            f"listeners.tcp.default = 127.0.0.1:{self.port}\nloopback_users.guest = true\n")
        (workdir / "enabled_plugins").write_text("[].\n")

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}//"

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        w = str(self.workdir)
        env.update({
            "HOME": w,  # the Erlang cookie lives here, for the server and rabbitmqctl alike
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
            "RABBITMQ_CONFIG_FILE": f"{w}/rabbitmq.conf",
            "RABBITMQ_ADVANCED_CONFIG_FILE": f"{w}/advanced.config",
            "RABBITMQ_CONF_ENV_FILE": f"{w}/rabbitmq-env.conf",
            "RABBITMQ_ENABLED_PLUGINS_FILE": f"{w}/enabled_plugins",
            "RABBITMQ_MNESIA_BASE": f"{w}/mnesia",
            "RABBITMQ_LOG_BASE": f"{w}/log",
            "RABBITMQ_PID_FILE": f"{w}/rabbitmq.pid",
        })
        return env

    def start(self) -> RabbitServer:
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen([str(RABBIT_BIN / "rabbitmq-server")], stdout=log, stderr=subprocess.STDOUT,
                                         env=self._env(), start_new_session=True)
        try:
            wait_for(lambda: self.proc is None or self.proc.poll() is not None or self.ping(), timeout=60, interval=0.1)
        except AssertionError:
            raise AssertionError(f"RabbitMQ did not start:\n{_tail(self.log)}") from None
        assert self.proc.poll() is None, f"RabbitMQ exited:\n{_tail(self.log)}"
        return self

    def ping(self) -> bool:
        if not port_open(self.port):
            return False
        import kombu

        try:
            with kombu.Connection(self.url, connect_timeout=2) as connection:
                connection.connect()
            return True
        except Exception:
            return False

    def _ctl(self, *args: str) -> str:
        proc = subprocess.run([str(RABBIT_BIN / "rabbitmqctl"), "-n", self.node, "-q", *args],
                              capture_output=True, text=True, timeout=30, env=self._env())
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    def subscribers(self, channel: str = CHANNEL) -> int:
        """Queues bound to the channel's exchange (one per listening process)."""
        out = self._ctl("list_bindings", "source_name", "destination_kind")
        return sum(1 for line in out.splitlines() if line.split("\t") == [channel, "queue"])

    def wait_subscribers(self, count: int, channel: str = CHANNEL, timeout: float = 30.0) -> None:
        wait_for(lambda: self.subscribers(channel) >= count, timeout=timeout, interval=0.1)

    def publish(self, data: bytes | str, channel: str = CHANNEL) -> None:
        """A raw message on the channel's exchange; a pickle goes out labelled as one (Kombu
        would unpickle it if a consumer let it decode)."""
        import kombu

        raw = data.encode() if isinstance(data, str) else data
        content_type = "application/x-python-serialize" if raw[:1] == b"\x80" else "application/json"
        with kombu.Connection(self.url, connect_timeout=5) as connection:
            producer = connection.Producer(exchange=kombu.Exchange(channel, type="fanout", durable=False))
            producer.publish(raw, content_type=content_type, content_encoding="binary", retry=False)

    def spy(self, channel: str = CHANNEL) -> RabbitSpy:
        return RabbitSpy(self, channel)

    def reference_emitter(self, channel: str = CHANNEL) -> Any:
        import socketio  # the reference stack: test-time only

        return socketio.KombuManager(self.url, channel=channel, write_only=True)

    def _beam_pid(self) -> int | None:
        try:
            return int((self.workdir / "rabbitmq.pid").read_text().strip())
        except (OSError, ValueError):
            return None

    def kill(self) -> None:
        """SIGKILL to the Erlang VM: no goodbye to the clients, as a crash or an OOM kill."""
        pid = self._beam_pid()
        if pid is not None:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self.proc is not None:
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        wait_for(lambda: not port_open(self.port), timeout=15)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            self._ctl("stop")
            self.proc.wait(30)
        except (AssertionError, subprocess.TimeoutExpired):
            self.kill()


class NodeScript:
    """``node tests/node/<script> <json spec>`` speaking JSON lines: every stdout line that is a
    JSON object is kept until a `wait` takes it; a record of type ``error`` fails the wait.
    Fails (never skips) when node is missing, as the other real-peer tests do."""

    def __init__(self, script: str, spec: dict[str, Any]) -> None:
        node = shutil.which("node")
        if node is None:
            pytest.fail("node and the npm packages are required: run scripts/setup.sh")
        self.proc = subprocess.Popen([node, str(REPO / "tests" / "node" / script), json.dumps(spec)],
                                     cwd=str(REPO), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, bufsize=1)
        self.lines: list[dict[str, Any]] = []
        self.cond = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith("{"):
                with self.cond:
                    self.lines.append(json.loads(line))
                    self.cond.notify_all()

    def wait(self, match: Callable[[dict[str, Any]], bool], what: str, timeout: float = 20) -> dict[str, Any]:
        """Take the first record `match` accepts (bounded by `timeout`)."""
        with self.cond:
            def find() -> dict[str, Any] | None:
                for record in self.lines:
                    if record["type"] == "error":
                        raise AssertionError(f"{what}: {record}")
                    if match(record):
                        return record
                return None

            assert self.cond.wait_for(find, timeout), f"no {what} within {timeout} s"
            found = find()
            assert found is not None
            self.lines.remove(found)
            return found

    def write_line(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(5)


class _Spy:
    """What the channel spies share: the raw messages seen, and their JSON view."""

    messages: list[bytes]

    def decoded(self) -> list[Any]:
        """Each message parsed as JSON (None where it is not JSON)."""
        out = []
        for raw in list(self.messages):
            try:
                out.append(json.loads(raw))
            except ValueError:
                out.append(None)
        return out


class RabbitSpy(_Spy):
    """A queue of the test's own on the channel's exchange, recording every raw message."""

    def __init__(self, server: RabbitServer, channel: str = CHANNEL) -> None:
        import kombu

        self.messages: list[bytes] = []
        self.content_types: list[str] = []
        self.error: Exception | None = None
        self._stop = threading.Event()
        self._connection = kombu.Connection(server.url, connect_timeout=5)
        queue = kombu.Queue(f"spy-{os.getpid()}-{time.monotonic_ns()}",
                            kombu.Exchange(channel, type="fanout", durable=False), exclusive=True)
        self._consumer = self._connection.Consumer(
            [queue], on_message=self._on_message, no_ack=True)
        self._consumer.consume()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _on_message(self, message: Any) -> None:
        # Kombu hands the body over as text when the message says content_encoding=utf-8.
        body = message.body
        self.messages.append(body.encode() if isinstance(body, str) else bytes(body))
        self.content_types.append(message.content_type)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._connection.drain_events(timeout=0.1)
            except TimeoutError:
                continue
            except Exception as exc:
                self.error = exc
                return

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._connection.release()


# -- server processes ------------------------------------------------------------------------
class ProcessNode:
    """A server process (cluster_app, the chat example, gunicorn) on a free loopback port."""

    def __init__(self, name: str, argv: list[str], port: int, env: dict[str, str], log: Path) -> None:
        self.name = name
        self.argv = argv
        self.port = port
        self.env = env
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ProcessNode:
        env = dict(os.environ)
        env.update(self.env)
        env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
        env["PYTHONUNBUFFERED"] = "1"
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(self.argv, stdout=log, stderr=subprocess.STDOUT, cwd=str(REPO), env=env)
        return self

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Until the Socket.IO endpoint answers a handshake (that first request also starts
        the node's message-queue listener)."""

        def ready() -> bool:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.name} exited with {self.proc.returncode}:\n{self.log_text()}")
            try:
                with urllib.request.urlopen(f"{self.url}/socket.io/?EIO=4&transport=polling", timeout=2) as r:
                    return bool(r.status == 200)
            except OSError:
                return False

        wait_for(ready, timeout=timeout, interval=0.05)

    def log_text(self) -> str:
        return _tail(self.log, 60)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def tracebacks(self) -> list[str]:
        """The tracebacks this process logged (handlers must never raise)."""
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return [chunk for chunk in text.split("Traceback (most recent call last)")[1:]]


def cluster_node(name: str, workdir: Path, redis_url: str, port: int | None = None,
                 app: Path = CLUSTER_APP, extra_env: dict[str, str] | None = None) -> ProcessNode:
    port = port or free_port()
    env = {"SCALE_MESSAGE_QUEUE": redis_url, "CHAT_MESSAGE_QUEUE": redis_url}
    env.update(extra_env or {})
    return ProcessNode(name, [PYTHON, str(app), "--port", str(port)], port, env, workdir / f"{name}.log")


@contextmanager
def running(nodes: list[ProcessNode]) -> Iterator[list[ProcessNode]]:
    try:
        for node in nodes:
            node.start()
        for node in nodes:
            node.wait_ready()
        yield nodes
    finally:
        for node in nodes:
            node.stop()


# -- nginx -----------------------------------------------------------------------------------
def render_nginx_conf(listen: str, upstreams: list[int]) -> str:
    """deploy/nginx.conf with its two placeholders filled in (as `envsubst` would)."""
    template = (DEPLOY / "nginx.conf").read_text()
    servers = "\n".join(f"        server 127.0.0.1:{port};" for port in upstreams)
    text = template.replace("${LISTEN_ADDR}", listen).replace("${UPSTREAM_SERVERS}", servers.lstrip())
    assert not re.search(r"\$\{[A-Z_]+\}", text), "deploy/nginx.conf has a placeholder the tests do not fill"
    return text


@contextmanager
def start_nginx(workdir: Path, upstreams: list[int]) -> Iterator[int]:
    """nginx in the foreground with deploy/nginx.conf, everything under `workdir`."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    port = free_port()
    prefix = workdir / "nginx"
    for sub in ("logs", "tmp"):
        (prefix / sub).mkdir(parents=True, exist_ok=True)
    conf = prefix / "nginx.conf"
    conf.write_text(render_nginx_conf(f"127.0.0.1:{port}", upstreams))
    # -e: the error log from the very start (before the config is read), so a non-root user
    # never needs the system's /var/log/nginx.
    argv = [nginx, "-c", str(conf), "-p", str(prefix) + "/", "-e", str(prefix / "logs" / "error.log")]
    check = subprocess.run([*argv, "-t"], capture_output=True, text=True, timeout=20)
    assert check.returncode == 0, f"nginx -t failed:\n{check.stderr}"
    log = open(prefix / "logs" / "stdout.log", "ab")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: proc.poll() is not None or port_open(port), timeout=10)
        assert proc.poll() is None, f"nginx exited:\n{_tail(prefix / 'logs' / 'error.log')}"
        yield port
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGQUIT)  # graceful shutdown
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        log.close()


# -- the JavaScript client -------------------------------------------------------------------
class NodePeer:
    """tests/node/scale_peer.js: official socket.io-client sockets driven over stdin/stdout."""

    def __init__(self) -> None:
        node = shutil.which("node")
        if node is None or not (REPO / "node_modules" / "socket.io-client").is_dir():
            raise RuntimeError("node and the npm packages are required: run scripts/setup.sh")
        self.proc = subprocess.Popen(
            [node, str(REPO / "tests" / "node" / "scale_peer.js")], cwd=str(REPO),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1,
        )
        self.reports: list[dict[str, Any]] = []
        self._cond = threading.Condition()
        self._next_id = 0
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.wait(lambda r: r["type"] == "ready")

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            line = line.strip()
            if not line.startswith("{"):
                continue
            report = json.loads(line)
            with self._cond:
                self.reports.append(report)
                self._cond.notify_all()
        with self._cond:
            self.reports.append({"type": "exit"})
            self._cond.notify_all()

    def send(self, **command: Any) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(command) + "\n")
        self.proc.stdin.flush()

    def _id(self) -> int:
        self._next_id += 1
        return self._next_id

    def wait(self, match: Callable[[dict[str, Any]], bool], timeout: float = 15.0) -> dict[str, Any]:
        """The first report that matches (bounded wait)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for report in self.reports:
                    if report["type"] == "error":
                        raise AssertionError(f"scale_peer.js: {report['message']}")
                    if match(report):
                        return report
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no matching report within {timeout}s; last: {self.reports[-5:]}")
                self._cond.wait(left)

    def wait_count(self, match: Callable[[dict[str, Any]], bool], count: int, timeout: float = 15.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = [r for r in self.reports if match(r)]
                if len(found) >= count:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{len(found)}/{count} matching reports within {timeout}s")
                self._cond.wait(left)

    # -- named sockets ---------------------------------------------------------------------
    def connect(self, name: str, url: str, **kwargs: Any) -> dict[str, Any]:
        self.send(cmd="connect", name=name, url=url, **kwargs)
        report = self.wait(lambda r: r.get("name") == name and r["type"] in ("connect", "connect_error"))
        assert report["type"] == "connect", report
        return report

    def welcome(self, name: str) -> dict[str, Any]:
        """The cluster app's ``welcome`` event: ``{pid, sid}`` of the node that holds `name`."""
        args: dict[str, Any] = self.wait(lambda r: r["type"] == "event" and r["name"] == name
                                         and r["event"] == "welcome")["args"][0]
        return args

    def emit(self, name: str, event: str, *args: Any) -> None:
        self.send(cmd="emit", name=name, event=event, args=list(args))

    def call(self, name: str, event: str, *args: Any, timeout: float = 15.0) -> Any:
        """Emit with an ack and wait for it; returns the first ack argument."""
        ack_id = self._id()
        self.send(cmd="emit", name=name, event=event, args=list(args), ack=ack_id)
        report = self.wait(lambda r: r["type"] == "ack" and r["id"] == ack_id, timeout=timeout)
        return report["args"][0] if report["args"] else None

    def events(self, name: str, event: str) -> list[list[Any]]:
        with self._cond:
            return [r["args"] for r in self.reports
                    if r["type"] == "event" and r["name"] == name and r["event"] == event]

    def wait_events(self, name: str, event: str, count: int = 1, timeout: float = 15.0) -> list[list[Any]]:
        found = self.wait_count(lambda r: r["type"] == "event" and r["name"] == name and r["event"] == event,
                                count, timeout)
        return [r["args"] for r in found]

    def transport(self, name: str) -> str:
        query = self._id()
        self.send(cmd="transport", name=name, id=query)
        return str(self.wait(lambda r: r["type"] == "transport" and r["id"] == query)["transport"])

    def disconnect(self, name: str) -> None:
        self.send(cmd="disconnect", name=name)

    # -- crowds ------------------------------------------------------------------------------
    def crowd(self, prefix: str, urls: list[str], count: int, timeout: float = 60.0, **opts: Any) -> dict[str, Any]:
        query = self._id()
        self.send(cmd="crowd", prefix=prefix, urls=urls, count=count, opts=opts, id=query)
        return self.wait(lambda r: r["type"] == "crowd" and r["id"] == query, timeout=timeout)

    def crowd_join(self, prefix: str, event: str, *args: Any, timeout: float = 60.0) -> int:
        query = self._id()
        self.send(cmd="crowdJoin", prefix=prefix, event=event, args=list(args), id=query)
        return int(self.wait(lambda r: r["type"] == "crowdJoined" and r["id"] == query, timeout=timeout)["acked"])

    def crowd_counts(self, prefix: str, event: str) -> list[int]:
        query = self._id()
        self.send(cmd="crowdCount", prefix=prefix, event=event, id=query)
        counts: list[int] = self.wait(lambda r: r["type"] == "crowdCount" and r["id"] == query)["counts"]
        return counts

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.send(cmd="exit")
                self.proc.wait(5)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait(5)
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()


class ChannelSpy(_Spy):
    """A plain Redis subscriber on the channel, recording every raw message (a test's view of
    what the nodes publish)."""

    def __init__(self, redis_server: RedisServer, channel: str = CHANNEL) -> None:
        self.client = redis_server.client()
        self.pubsub = self.client.pubsub(ignore_subscribe_messages=True)
        self.pubsub.subscribe(channel)
        self.messages: list[bytes] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                message = self.pubsub.get_message(timeout=0.1)
            except Exception:
                return
            if message and message.get("type") == "message":
                self.messages.append(message["data"])

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.pubsub.close()
        self.client.close()
