"""eventlet applications run unchanged (issue 25).

tests/flask_socketio/apps/eventlet_chat.py is a chat in the shape of the public eventlet apps
(``eventlet.monkey_patch()`` first, ``SocketIO(app, async_mode='eventlet')``, a handler that
broadcasts, ``socketio.run``). It runs in a subprocess (eventlet's patching never reaches this
pytest process, which runs gevent) and is driven by real clients: two official JS clients
under node, two python-socketio clients. Then, on the same server: a server-to-client
``call()`` answered and one that times out, and flow control (a producer task floods every
client; a client that stops reading is dropped as a slow consumer while a reading one gets
everything, in order). Before issue 25 this app stopped at ``SocketIO(...)`` with a
``ValueError``. Also on eventlet: TLS on the engine's server, and connection state recovery
(one node) with the official client.

The rest of the eventlet coverage: tests/flask_socketio/test_real_clients.py (realapp on
``socketio.run``, ``eventlet.wsgi`` and ``gunicorn -k eventlet -w 1``, both clients, every
transport, 10,000 acked messages, binary), tests/flask_socketio/test_async_modes.py (mode
selection, the test client, mixed patching), tests/scaleout (a node of the Redis and
RabbitMQ clusters and of the recovery cluster runs on eventlet).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run_node
from tests.flask_socketio.conftest import (
    APPS_DIR,
    TIMEOUT,
    EventLog,
    ServerProcess,
    free_port,
    python_client,
)
from tests.hardening.hard_support import RawWS

CHAT = os.path.join(APPS_DIR, "eventlet_chat.py")


@pytest.fixture(scope="module")
def chat() -> Iterator[ServerProcess]:
    port = free_port()
    with ServerProcess([sys.executable, CHAT, str(port)], port, cwd=APPS_DIR) as proc:
        yield proc


def _events(record: dict, event: str) -> list[list]:
    return [e[1:] for e in record["events"] if e[0] == event]


@pytest.mark.parametrize("transports", [["websocket"], ["polling"], ["polling", "websocket"]])
def test_two_js_clients_get_the_broadcast(chat: ServerProcess, transports: list[str]) -> None:
    result = run_node("sio_client.js", {"url": chat.url, "timeoutMs": 30_000, "steps": [
        {"op": "connect", "name": "a", "opts": {"transports": transports}},
        {"op": "connect", "name": "b", "opts": {"transports": transports}},
        {"op": "emit", "name": "a", "event": "join", "args": ["alice"]},
        {"op": "wait", "name": "b", "event": "status"},
        {"op": "emit", "name": "b", "event": "join", "args": ["bob"]},
        {"op": "wait", "name": "a", "event": "status", "count": 2},
        {"op": "emit", "name": "a", "event": "text", "args": [{"msg": "hello from alice"}]},
        {"op": "wait", "name": "a", "event": "message"},
        {"op": "wait", "name": "b", "event": "message"},
    ]})
    assert result["ok"], result["error"]
    a, b = result["sockets"]["a"], result["sockets"]["b"]
    assert _events(b, "message") == [[{"user": "alice", "msg": "hello from alice"}]]
    assert _events(a, "message") == [[{"user": "alice", "msg": "hello from alice"}]]
    assert _events(a, "status") == [[{"msg": "alice has entered the room."}], [{"msg": "bob has entered the room."}]]


def test_two_python_clients_get_the_broadcast(chat: ServerProcess) -> None:
    with python_client(chat.url, ("status", "message")) as (alice, alog), \
            python_client(chat.url, ("status", "message")) as (bob, blog):
        alice.emit("join", "alice")
        blog.wait("status")
        bob.emit("join", "bob")
        alog.wait("status", 2)
        bob.emit("text", {"msg": "hi alice"})
        assert alog.wait("message")[0] == ({"user": "bob", "msg": "hi alice"},)
        assert blog.wait("message")[0] == ({"user": "bob", "msg": "hi alice"},)
        assert alice.transport() in ("polling", "websocket")


def test_call_with_timeout_under_eventlet(chat: ServerProcess) -> None:
    """``socketio.call(..., timeout=)`` from a handler: the answer when the client answers,
    ``TimeoutError`` when it does not (the handler blocks; the connection is still read)."""
    result = run_node("sio_client.js", {"url": chat.url, "timeoutMs": 30_000, "steps": [
        {"op": "connect", "name": "answers", "opts": {"transports": ["websocket"]},
         "acks": {"question": {"value": ["pong!"]}}},
        {"op": "connect", "name": "silent", "opts": {"transports": ["websocket"]}},
        {"op": "emit", "name": "answers", "event": "ask", "args": [10], "ack": True, "key": "answered"},
        {"op": "emit", "name": "silent", "event": "ask", "args": [0.5], "ack": True, "key": "silent"},
    ]})
    assert result["ok"], result["error"]
    assert result["acks"]["answered"] == [{"answer": "pong!"}]
    assert result["acks"]["silent"] == [{"timeout": True}]
    assert _events(result["sockets"]["silent"], "question") == [["ping?"]]


def test_flow_control_under_eventlet(chat: ServerProcess) -> None:
    """A task floods every client. One client stops reading: the producer waits for it (it
    does not drop the reading client, nor buffer without bound), the stalled client is closed
    as a slow consumer after ``stall_timeout`` (10 s by default), and the reading client gets
    every message, in order."""
    count, size = 400, 32 * 1024
    log = EventLog()
    stalled = RawWS(chat.port, rcvbuf=4096)
    stalled.sio_connect()
    with python_client(chat.url, ("flood", "flood_done"), transports=["websocket"], log=log) as (reader, _):
        assert reader.call("flood", (count, size), timeout=TIMEOUT) == "started"
        assert log.wait("flood_done", timeout=60)[0] == (count,)
        numbers = [args[0]["i"] for args in log.of("flood")]
        # Every message once. (The python client runs each handler in a thread of its own, so
        # two handlers may log swapped; the order on the wire is checked with the JS client.)
        assert sorted(numbers) == list(range(count))
    assert _closed_by_server(stalled), "the stalled client was not closed"
    stalled.close()


def _closed_by_server(ws: RawWS) -> bool:
    """Read what the server sent until the end of the stream: True at EOF (or a reset),
    False if the stream is still open after `TIMEOUT` seconds without a byte."""

    ws.sock.settimeout(TIMEOUT)
    while True:
        try:
            if not ws.sock.recv(1 << 20):
                return True
        except ConnectionResetError:
            return True
        except TimeoutError:
            return False


TLS_APP = """
import eventlet
eventlet.monkey_patch()
import sys
from flask import Flask
from flask_socketio import SocketIO
app = Flask("tls")
socketio = SocketIO(app, async_mode="eventlet")
socketio.on_event("echo", lambda data: data)
socketio.run(app, port=int(sys.argv[1]), certfile=sys.argv[2], keyfile=sys.argv[3])
"""


def test_tls_on_the_eventlet_server(tmp_path: Path) -> None:
    """``socketio.run(app, certfile=, keyfile=)`` on eventlet: https long-polling and wss. A
    client that is not speaking TLS is dropped without harm to the server or the next client."""
    import shutil
    import socket
    import ssl
    import subprocess

    import websocket

    if shutil.which("openssl") is None:
        pytest.fail("openssl is needed to make the test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "1", "-subj", "/CN=127.0.0.1"], check=True, capture_output=True)
    port = free_port()
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    argv = [sys.executable, "-c", TLS_APP, str(port), str(cert), str(key)]
    server = subprocess.Popen(argv, cwd=APPS_DIR, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        _wait_tls(port, context, server)
        with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as plain:
            plain.sendall(b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\n\r\n")
            try:  # the server ends the connection (no TLS handshake): EOF or a reset
                plain.recv(100)
            except ConnectionResetError:
                pass
        ws = websocket.create_connection(f"wss://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket",
                                         sslopt={"cert_reqs": ssl.CERT_NONE, "check_hostname": False},
                                         timeout=TIMEOUT)
        try:
            assert ws.recv().startswith("0{")
            ws.send("40")
            assert ws.recv().startswith("40{")
            ws.send('421["echo",{"over":"wss"}]')
            assert ws.recv() == '431[{"over":"wss"}]'
        finally:
            ws.close()
        import http.client

        conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=TIMEOUT, context=context)
        conn.request("GET", "/socket.io/?EIO=4&transport=polling")
        response = conn.getresponse()
        assert response.status == 200 and response.read().startswith(b"0{")
        assert server.poll() is None
    finally:
        server.terminate()
        output = server.communicate(timeout=TIMEOUT)[0].decode(errors="replace")
    assert "Traceback" not in output, output


def _wait_tls(port: int, context: Any, server: Any) -> None:
    """Until the server completes a TLS handshake on `port` (bounded)."""
    import socket
    import ssl
    import time

    deadline = time.monotonic() + 30
    while True:
        assert server.poll() is None, server.communicate()[0].decode(errors="replace")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as raw, \
                    context.wrap_socket(raw, server_hostname="127.0.0.1"):
                return
        except (OSError, ssl.SSLError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


RECOVERY_APP = """
import eventlet
eventlet.monkey_patch()
import sys
from flask import Flask, request, session
from flask_socketio import SocketIO, join_room, rooms
app = Flask("recovery")
app.config["SECRET_KEY"] = "recovery"
socketio = SocketIO(app, async_mode="eventlet", connection_state_recovery=True)
disconnects = []

@socketio.on("join")
def join(room, data):
    join_room(room)
    session["tag"] = data["tag"]
    return True

@socketio.on("whoami")
def whoami():
    return {"sid": request.sid, "rooms": sorted(rooms()), "session": {"tag": session.get("tag")},
            "recovered": request.recovered}

@socketio.on("disconnect")
def on_disconnect(reason):
    disconnects.append(reason)

@app.route("/disconnects")
def count():
    return str(len(disconnects))

@app.route("/broadcast/<int:start>/<int:stop>")
def broadcast(start, stop):
    for i in range(start, stop):
        socketio.emit("msg", i, to="r")
    return "ok"

socketio.run(app, port=int(sys.argv[1]))
"""


@pytest.mark.parametrize("transport", ["websocket", "polling"])
def test_connection_state_recovery_under_eventlet(transport: str) -> None:
    """The official client loses its connection, 100 messages are emitted to its room
    meanwhile, it reconnects: same sid, room and session, the missed messages in order."""
    import requests

    from tests.conftest import wait_for
    from tests.recovery.recovery_support import NodeClients

    port = free_port()
    with ServerProcess([sys.executable, "-c", RECOVERY_APP, str(port)], port, cwd=APPS_DIR) as proc:
        node = NodeClients(proc.url, transports=[transport])
        try:
            sid = node.joined["ids"][0]
            assert requests.get(f"{proc.url}/broadcast/0/1", timeout=TIMEOUT).text == "ok"
            node.command("wait msg 1", "waited")
            node.command("drop", "dropped")
            assert wait_for(lambda: requests.get(f"{proc.url}/disconnects", timeout=TIMEOUT).text == "1")
            requests.get(f"{proc.url}/broadcast/1/101", timeout=TIMEOUT)
            back = node.command("reconnect", "reconnected")
            assert back["recovered"] == [True] and back["ids"] == [sid]
            who = node.command("whoami", "whoami")["answers"][0]
            assert who == {"sid": sid, "rooms": sorted(["r", sid]), "session": {"tag": 0}, "recovered": True}
            requests.get(f"{proc.url}/broadcast/101/102", timeout=TIMEOUT)
            node.command("wait msg 102", "waited")
            report = node.command("report", "report")
            assert [args[0] for args in report["events"][0]] == list(range(102))
        finally:
            node.close()
