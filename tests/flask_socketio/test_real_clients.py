"""A typical Flask-SocketIO app (tests/flask_socketio/apps/realapp.py) run for real, the four
ways users run one, each exercised by the python-socketio client and by the official
JavaScript client under node (tests/node/flask_realapp.js):

* ``gevent``: ``socketio.run(app, port=...)`` (gevent's pywsgi), in a subprocess;
* ``workers``: ``socketio.run(app, port=..., workers=2)``: one port, two worker processes
  (a request for the other worker's session is handed over; rooms and emits cross the
  workers' local bus);
* ``threading``: ``socketio.run(app, allow_unsafe_werkzeug=True)`` with
  ``async_mode='threading'``: the Werkzeug dev server, WebSocket included;
* ``gunicorn``: ``gunicorn -k gevent -w 1 realapp:app``;
* ``flask_run``: ``flask --app realapp run`` (threading, Werkzeug, WebSocket included);
* ``uwsgi``: ``uwsgi --http … --gevent 100 --http-websockets --http-keepalive --module realapp:app`` (uWSGI's
  gevent loop, the reference's ``gevent_uwsgi`` mode; pyuwsgi from PyPI, a test dependency).
* ``eventlet``: ``eventlet.monkey_patch()`` first, ``async_mode='eventlet'``, ``socketio.run()``
  (the engine's own server on eventlet's hub), in a subprocess (eventlet's patching never
  reaches the pytest process, which runs gevent);
* ``eventlet_wsgi``: ``eventlet.wsgi.server(eventlet.listen(...), app)``, async mode left to
  the automatic choice (eventlet, the process being patched);
* ``gunicorn_eventlet``: ``gunicorn -k eventlet -w 1 realapp:app`` (the worker patches).

Each scenario checks: connect (with a session name from ``auth``), acks, rooms isolation, a
class-based namespace (with its ``error`` hook), the managed session, emits from a background
task (``start_background_task`` + ``sleep``), the WebSocket upgrade (both sides), and a
refused connection. Plus: ``run()`` refusing the Werkzeug server in production, and
``socketio.stop()``.
"""

from __future__ import annotations

import io
import logging
import os
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from flask import Flask, request

from flask_socketio import SocketIO, call
from tests.conftest import run_node, serve_gevent, serve_werkzeug
from tests.flask_socketio.conftest import (
    APPS_DIR,
    TIMEOUT,
    VENV_BIN,
    EventLog,
    ServerProcess,
    free_port,
    python_client,
    wait_until,
)

SERVERS = ["gevent", "workers", "threading", "gunicorn", "flask_run", "uwsgi", "eventlet", "eventlet_wsgi",
           "gunicorn_eventlet"]
EXPECTED_MODE = {"gevent": "gevent", "workers": "gevent", "threading": "threading", "gunicorn": "gevent",
                 "flask_run": "threading", "uwsgi": "gevent_uwsgi", "eventlet": "eventlet", "eventlet_wsgi": "eventlet",
                 "gunicorn_eventlet": "eventlet"}
EVENTLET_WSGI = (
    "import eventlet; eventlet.monkey_patch(); import sys, eventlet.wsgi; from realapp import app; "
    "eventlet.wsgi.server(eventlet.listen(('127.0.0.1', int(sys.argv[1]))), app, log_output=False)"
)
REALAPP = os.path.join(APPS_DIR, "realapp.py")


def server_process(kind: str, port: int, env: dict[str, str] | None = None) -> ServerProcess:
    env = dict(env or {})
    if kind == "gevent":
        argv = [sys.executable, REALAPP, str(port)]
    elif kind == "workers":
        env["REALAPP_WORKERS"] = "2"
        argv = [sys.executable, REALAPP, str(port)]
    elif kind == "threading":
        env["REALAPP_ASYNC_MODE"] = "threading"
        argv = [sys.executable, REALAPP, str(port)]
    elif kind == "gunicorn":
        argv = [os.path.join(VENV_BIN, "gunicorn"), "-k", "gevent", "-w", "1",
                "-b", f"127.0.0.1:{port}", "--chdir", APPS_DIR, "realapp:app"]
    elif kind == "flask_run":
        argv = [os.path.join(VENV_BIN, "flask"), "--app", "realapp", "run",
                "--host", "127.0.0.1", "--port", str(port)]
    elif kind == "uwsgi":
        # docs/deployment.md's command line. --die-on-term: uWSGI takes SIGTERM (what
        # ServerProcess.stop sends) as "reload". --http-keepalive: without it the HTTP router
        # closes each connection after one response that does not say so, and a client that
        # reuses it (python's requests) loses a polling request now and then.
        argv = [os.path.join(VENV_BIN, "uwsgi"), "--http", f"127.0.0.1:{port}", "--gevent", "100",
                "--http-websockets", "--http-keepalive", "--module", "realapp:app", "--master",
                "--die-on-term", "--disable-logging"]
    elif kind == "eventlet":
        env.update(REALAPP_EVENTLET="1", REALAPP_ASYNC_MODE="eventlet")
        argv = [sys.executable, REALAPP, str(port)]
    elif kind == "eventlet_wsgi":
        argv = [sys.executable, "-c", EVENTLET_WSGI, str(port)]
    elif kind == "gunicorn_eventlet":
        argv = [os.path.join(VENV_BIN, "gunicorn"), "-k", "eventlet", "-w", "1",
                "-b", f"127.0.0.1:{port}", "--chdir", APPS_DIR, "realapp:app"]
    else:  # pragma: no cover
        raise ValueError(kind)
    return ServerProcess(argv, port, env=env, cwd=APPS_DIR)


@pytest.fixture(scope="module", params=SERVERS)
def server(request: pytest.FixtureRequest) -> Iterator[tuple[str, ServerProcess]]:
    kind = request.param
    with server_process(kind, free_port()) as proc:
        yield kind, proc


# -- the scenario, with python-socketio -----------------------------------------------------------

EVENTS = ("welcome", "joined", "said", "tick", "ready", "shouted")


def python_scenario(url: str, transports: list[str] | None = None) -> dict[str, Any]:

    out: dict[str, Any] = {}
    upgrade_failures: list[str] = []
    watcher = _UpgradeFailures(upgrade_failures)
    # The clients' Engine.IO logger: warnings only, to this handler only.
    eio_logger = logging.getLogger("tests.flask_socketio.engineio_client")
    eio_logger.setLevel(logging.WARNING)
    eio_logger.propagate = False
    eio_logger.addHandler(watcher)
    try:
        return _python_scenario(url, transports, out, upgrade_failures, eio_logger)
    finally:
        eio_logger.removeHandler(watcher)


class _UpgradeFailures(logging.Handler):
    def __init__(self, sink: list[str]) -> None:
        super().__init__(logging.WARNING)
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        if "upgrade failed" in record.getMessage().lower():
            self.sink.append(record.getMessage())


def _python_scenario(url: str, transports: list[str] | None, out: dict[str, Any],
                     upgrade_failures: list[str], eio_logger: logging.Logger) -> dict[str, Any]:
    import socketio

    common: dict[str, Any] = {"transports": transports, "engineio_logger": eio_logger}
    with python_client(url, EVENTS, namespaces=["/", "/ns"], auth={"name": "alice"},
                       **common) as (alice, alog), \
            python_client(url, EVENTS, auth={"name": "bob"}, **common) as (bob, blog), \
            python_client(url, EVENTS, auth={"name": "carol"}, **common) as (carol, clog):
        out["welcome"] = alog.wait("welcome")[0][0]
        out["alice_sid"] = alice.get_sid()
        out["join_rooms"] = alice.call("join", "red", timeout=TIMEOUT)
        carol.call("join", "red", timeout=TIMEOUT)
        bob.call("join", "blue", timeout=TIMEOUT)
        out["say_ack"] = alice.call("say", ("red", "hello red"), timeout=TIMEOUT)
        alog.wait("said")
        clog.wait("said")
        # Emitted after the red message: had bob been sent that one, it would arrive first.
        bob.call("say", ("blue", "hello blue"), timeout=TIMEOUT)
        blog.wait("said")
        out["said"] = {name: [args[0]["text"] for args in log.of("said")]
                       for name, log in (("alice", alog), ("bob", blog), ("carol", clog))}

        assert alice.call("remember", 42, timeout=TIMEOUT) is True
        out["recall"] = {"alice": list(alice.call("recall", timeout=TIMEOUT)),
                         "bob": list(bob.call("recall", timeout=TIMEOUT))}

        out["ns_ready"] = alog.wait("ready")[0]
        out["ns_echo"] = alice.call("echo", {"nested": [1, "two"]}, namespace="/ns", timeout=TIMEOUT)
        out["ns_fail"] = alice.call("fail", namespace="/ns", timeout=TIMEOUT)
        alice.emit("shout", "hey", namespace="/ns")
        out["shouted"] = alog.wait("shouted")[0]

        out["tick_ack"] = alice.call("ticks", 5, timeout=TIMEOUT)
        out["ticks"] = [args[0] for args in alog.wait("tick", 5)]

        wanted = transports[0] if transports and len(transports) == 1 else "websocket"
        # python-engineio tries the upgrade once and logs a warning when it fails: stop
        # waiting then (the assertion below reports it).
        wait_until(lambda: alice.transport() == wanted or upgrade_failures,
                   what=f"python client on {wanted}")
        out["transport"] = alice.transport()
        out["server_transport"] = alice.call("transport", timeout=TIMEOUT)

    refused = socketio.Client(reconnection=False)
    errors = EventLog()
    refused.on("connect_error", lambda data: errors.add("connect_error", data))
    with pytest.raises(socketio.exceptions.ConnectionError):
        refused.connect(url, auth={"token": "bad"}, transports=transports, wait_timeout=TIMEOUT)
    out["refused"] = errors.wait("connect_error")[0][0]
    return out


def check_python_scenario(out: dict[str, Any], mode: str, transport: str = "websocket") -> None:
    assert out["welcome"] == {"sid": out["alice_sid"], "name": "alice", "mode": mode}
    assert out["join_rooms"] == sorted([out["alice_sid"], "red"])
    assert out["say_ack"] == "delivered"
    assert out["said"] == {"alice": ["hello red"], "bob": ["hello blue"], "carol": ["hello red"]}
    assert out["recall"] == {"alice": [42, "alice"], "bob": [None, "bob"]}
    assert out["ns_ready"] == ("/ns",)
    assert out["ns_echo"] == {"nested": [1, "two"]}
    assert out["ns_fail"] == {"error": "boom"}
    assert out["shouted"] == ("HEY",)
    assert out["tick_ack"] == "started"
    assert out["ticks"] == [0, 1, 2, 3, 4]
    assert out["transport"] == transport
    assert out["server_transport"] == transport
    assert out["refused"] == {"message": "unauthorized!", "data": {"hint": "token"}}


def check_node_scenario(result: dict[str, Any], mode: str, transport: str = "websocket") -> None:
    assert result["ok"], result
    welcome = result["welcome"]
    assert welcome["name"] == "alice" and welcome["mode"] == mode
    assert result["welcomeMatchesId"] is True
    assert result["joinRooms"] == sorted([welcome["sid"], "red"])
    assert result["sayAck"] == "delivered"
    assert result["said"] == {"alice": ["hello red"], "bob": ["hello blue"], "carol": ["hello red"]}
    assert result["recall"] == {"alice": [42, "alice"], "bob": [None, "bob"]}
    assert result["nsReady"] == ["/ns"]
    assert result["nsEcho"] == {"nested": [1, "two"]}
    assert result["nsFail"] == {"error": "boom"}
    assert result["shouted"] == ["HEY"]
    assert result["tickAck"] == "started"
    assert result["ticks"] == [0, 1, 2, 3, 4]
    assert result["transport"] == transport
    assert result["serverTransport"] == transport
    assert result["refused"] == {"message": "unauthorized!", "data": {"hint": "token"}}


def test_http_route(server: tuple[str, ServerProcess]) -> None:
    kind, proc = server
    resp = requests.get(proc.url + "/", timeout=5)
    assert resp.status_code == 200
    assert resp.text == "realapp " + EXPECTED_MODE[kind]


def test_python_client(server: tuple[str, ServerProcess]) -> None:
    kind, proc = server
    check_python_scenario(python_scenario(proc.url), EXPECTED_MODE[kind])


def test_python_client_websocket_only(server: tuple[str, ServerProcess]) -> None:
    kind, proc = server
    check_python_scenario(python_scenario(proc.url, ["websocket"]), EXPECTED_MODE[kind])


def test_js_client(server: tuple[str, ServerProcess]) -> None:
    kind, proc = server
    result = run_node("flask_realapp.js", {"url": proc.url})
    check_node_scenario(result, EXPECTED_MODE[kind])


def test_js_client_websocket_only(server: tuple[str, ServerProcess]) -> None:
    kind, proc = server
    result = run_node("flask_realapp.js", {"url": proc.url, "transports": ["websocket"]})
    check_node_scenario(result, EXPECTED_MODE[kind])


def test_js_client_polling_only(server: tuple[str, ServerProcess]) -> None:
    kind, proc = server
    result = run_node("flask_realapp.js", {"url": proc.url, "transports": ["polling"]})
    check_node_scenario(result, EXPECTED_MODE[kind], transport="polling")


def test_python_client_polling_only(server: tuple[str, ServerProcess]) -> None:
    kind, proc = server
    check_python_scenario(python_scenario(proc.url, ["polling"]), EXPECTED_MODE[kind], transport="polling")


MESSAGES = 10_000


def test_js_client_10000_acked_messages_over_websocket(server: tuple[str, ServerProcess]) -> None:
    """The official client sends 10,000 events over WebSocket, all in flight at once; each one
    is answered (an ack carrying its number), exactly once: nothing lost, duplicated or
    mixed up, within a bounded time."""
    kind, proc = server
    result = run_node("sio_client.js", {"url": proc.url, "timeoutMs": 90_000, "steps": [
        {"op": "connect", "name": "a", "nsp": "/ns", "opts": {"transports": ["websocket"]}},
        {"op": "burst", "name": "a", "event": "echo", "count": MESSAGES, "key": "echo"},
        {"op": "emit", "name": "a", "event": "echo", "args": ["after"], "ack": True, "key": "after"},
    ]}, timeout=120)
    assert result["ok"], result["error"]
    burst = result["bursts"]["echo"]
    assert burst["received"] == MESSAGES and burst["duplicates"] == 0
    assert burst["values"] == list(range(MESSAGES))
    assert result["acks"]["after"] == ["after"]
    assert result["sockets"]["a"]["disconnectReason"] is None


BINARY = bytes(range(256)) * 4


def test_binary_event_and_ack_both_clients(server: tuple[str, ServerProcess]) -> None:
    """Binary attachments both ways (a BINARY_EVENT answered by a BINARY_ACK), over WebSocket
    and over polling, for the official client and python-socketio."""
    import base64

    kind, proc = server
    wire = {"$bin": base64.b64encode(BINARY).decode()}
    for transports in (["websocket"], ["polling"]):
        result = run_node("sio_client.js", {"url": proc.url, "timeoutMs": 30_000, "steps": [
            {"op": "connect", "name": "a", "nsp": "/ns", "opts": {"transports": transports}},
            {"op": "emit", "name": "a", "event": "echo", "args": [{"blob": wire, "n": 1}], "ack": True,
             "key": "bin"},
        ]})
        assert result["ok"], result["error"]
        assert result["acks"]["bin"] == [{"blob": wire, "n": 1}], transports
        with python_client(proc.url, EVENTS, namespaces=["/ns"], transports=transports) as (client, _log):
            assert client.call("echo", {"blob": BINARY, "n": 2}, namespace="/ns", timeout=TIMEOUT) == \
                {"blob": BINARY, "n": 2}


# -- run() and stop() -------------------------------------------------------------------------------


def test_run_refuses_werkzeug_in_production(monkeypatch: pytest.MonkeyPatch) -> None:
    app = Flask(__name__)
    socketio = SocketIO(app, async_mode="threading")
    monkeypatch.setattr(sys, "stdin", io.StringIO())  # not a TTY
    with pytest.raises(RuntimeError) as excinfo:
        socketio.run(app, port=free_port())
    assert str(excinfo.value) == (
        "The Werkzeug web server is not designed to run in production. Pass "
        "allow_unsafe_werkzeug=True to the run() method to disable this error."
    )


def test_run_refuses_werkzeug_in_production_subprocess() -> None:
    """The same from a real ``python app.py`` whose stdin is not a terminal."""
    code = (
        "from flask import Flask\n"
        "from flask_socketio import SocketIO\n"
        "app = Flask(__name__)\n"
        "socketio = SocketIO(app, async_mode='threading')\n"
        f"socketio.run(app, port={free_port()})\n"
    )
    import subprocess

    env = dict(os.environ)
    env.pop("FLASK_RUN_FROM_CLI", None)
    proc = subprocess.run([sys.executable, "-c", code], stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=60, env=env)
    assert proc.returncode != 0
    assert ("RuntimeError: The Werkzeug web server is not designed to run in production. Pass "
            "allow_unsafe_werkzeug=True to the run() method to disable this error.") in proc.stderr


@pytest.mark.parametrize("kind", ["gevent", "threading", "eventlet"])
def test_stop_ends_run(kind: str) -> None:
    with server_process(kind, free_port(), env={"REALAPP_ALLOW_STOP": "1"}) as proc:
        with python_client(proc.url) as (client, _log):
            # No ack asked: the server may be gone before it could send one.
            client.emit("stop_server")
            rc = proc.wait_exit(TIMEOUT)
        assert rc == 0, proc.output()


# -- call(): the server waits for the client's acknowledgement ---------------------------------


@pytest.mark.parametrize("serve", ["gevent", "werkzeug"])
def test_call_waits_for_the_client_ack(serve: str) -> None:
    app = Flask(__name__)
    socketio = SocketIO(app, async_mode="gevent" if serve == "gevent" else "threading")

    @socketio.on("ask_me")
    def ask_me(question: str) -> Any:
        # Context call(): to the sender, in the sender's namespace.
        return call("question", question, timeout=TIMEOUT)

    @socketio.on("ask_silent")
    def ask_silent() -> Any:
        try:
            call("no answer", timeout=0.2)
        except TimeoutError as exc:  # builtins.TimeoutError: the reference's is a subclass too
            return "timed out: " + type(exc).__name__
        return "answered?"

    @socketio.on("sid")
    def sid() -> Any:
        return request.sid  # type: ignore[attr-defined]

    server_cm = serve_gevent(app) if serve == "gevent" else serve_werkzeug(app)
    with server_cm as served, python_client(served.url) as (client, _log):
        client.on("question", lambda q: f"answer to {q}")
        assert client.call("ask_me", "life", timeout=TIMEOUT) == "answer to life"
        # python-socketio answers every event; this handler holds its answer back until the
        # server has given up (its handlers run in their own threads).
        release = threading.Event()
        client.on("no answer", lambda: release.wait(TIMEOUT) and None)
        try:
            assert client.call("ask_silent", timeout=TIMEOUT) == "timed out: TimeoutError"
        finally:
            release.set()
        # SocketIO.call() from outside any handler.
        target = client.call("sid", timeout=TIMEOUT)
        assert socketio.call("question", "direct", to=target, timeout=TIMEOUT) == "answer to direct"


@pytest.mark.parametrize("async_mode", ["gevent", "threading"])
def test_run_in_a_thread_port_from_server_name_and_stop(async_mode: str) -> None:
    """``run()`` without a port takes it from ``SERVER_NAME``; ``stop()`` from another thread
    ends it."""
    port = free_port()
    app = Flask(__name__)
    app.config["SERVER_NAME"] = f"127.0.0.1:{port}"
    socketio = SocketIO(app, async_mode=async_mode)

    @socketio.on("mode")
    def mode() -> Any:
        return socketio.async_mode

    errors: list[BaseException] = []

    def serve() -> None:
        try:
            socketio.run(app, allow_unsafe_werkzeug=True)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()

    def ready() -> bool:
        try:
            return requests.get(f"http://127.0.0.1:{port}/socket.io/?EIO=4&transport=polling",
                                timeout=2).status_code == 200
        except requests.RequestException:
            return False

    wait_until(lambda: ready() or errors, what="server up")
    assert errors == []
    with python_client(f"http://127.0.0.1:{port}", transports=["polling"]) as (client, _log):
        assert client.call("mode", timeout=TIMEOUT) == async_mode
    socketio.stop()
    thread.join(TIMEOUT)
    assert not thread.is_alive(), "stop() did not end run()"
    assert errors == []
