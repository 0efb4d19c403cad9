"""A typical Flask-SocketIO application, run for real by tests/flask_socketio/test_real_clients.py
under gevent (``socketio.run``), the Werkzeug dev server (threading), gunicorn's gevent worker
and ``flask run``.

What it does: rooms (join / say to a room), a second namespace as a class with an ``error``
hook, acknowledgements, a managed session, a background task that emits with
``socketio.start_background_task`` + ``socketio.sleep``, and a refused connection.

Environment: ``REALAPP_ASYNC_MODE`` (default: automatic), ``REALAPP_ALLOW_STOP=1`` adds a
``stop_server`` event that calls ``socketio.stop()``, ``REALAPP_EVENTLET=1`` calls
``eventlet.monkey_patch()`` first, as eventlet applications do.

    python realapp.py PORT        # socketio.run(app, port=PORT)
"""

from __future__ import annotations

import os

if os.environ.get("REALAPP_EVENTLET") == "1":
    import eventlet

    eventlet.monkey_patch()

import sys  # noqa: E402
from typing import Any  # noqa: E402

from flask import Flask, request, session  # noqa: E402

from flask_socketio import ConnectionRefusedError, Namespace, SocketIO, emit, join_room, rooms  # noqa: E402

app = Flask(__name__)
app.config["SECRET_KEY"] = "real-clients-secret"
socketio = SocketIO(app, async_mode=os.environ.get("REALAPP_ASYNC_MODE") or None)


@app.route("/")
def index() -> str:
    return "realapp " + str(socketio.async_mode)


@socketio.on("connect")
def on_connect(auth: Any) -> None:
    auth = auth or {}
    if auth.get("token") == "bad":
        raise ConnectionRefusedError("unauthorized!", {"hint": "token"})
    session["name"] = auth.get("name", "anonymous")
    emit("welcome", {"sid": request.sid, "name": session["name"], "mode": socketio.async_mode})


@socketio.on("join")
def on_join(room: str) -> Any:
    join_room(room)
    emit("joined", {"room": room, "name": session["name"]}, to=room)
    return sorted(rooms())


@socketio.on("say")
def on_say(room: str, text: str) -> str:
    emit("said", {"room": room, "text": text, "from": session["name"]}, to=room)
    return "delivered"


@socketio.on("remember")
def on_remember(value: Any) -> bool:
    session["value"] = value
    return True


@socketio.on("recall")
def on_recall() -> Any:
    return session.get("value"), session.get("name")


@socketio.on("transport")
def on_transport() -> str:
    return socketio.server.transport(request.sid)  # type: ignore[union-attr, no-any-return]


def ticker(sid: str, count: int) -> None:
    for i in range(count):
        socketio.sleep(0.01)
        socketio.emit("tick", i, to=sid)


@socketio.on("ticks")
def on_ticks(count: int) -> str:
    socketio.start_background_task(ticker, request.sid, count)
    return "started"


if os.environ.get("REALAPP_ALLOW_STOP") == "1":

    @socketio.on("stop_server")
    def on_stop_server() -> str:
        socketio.stop()
        return "stopping"


class EchoNamespace(Namespace):
    def on_connect(self, auth: Any = None) -> None:
        emit("ready", request.namespace)

    def on_echo(self, data: Any) -> Any:
        return data

    def on_shout(self, text: str) -> None:
        self.emit("shouted", text.upper(), room=request.sid)

    def on_fail(self) -> None:
        raise ValueError("boom")

    def error(self, exc: Exception) -> Any:
        return {"error": str(exc)}


socketio.on_namespace(EchoNamespace("/ns"))


if __name__ == "__main__":
    # REALAPP_WORKERS=2: ``socketio.run(app, workers=2)``, one port served by two processes.
    workers = int(os.environ.get("REALAPP_WORKERS") or 1)
    socketio.run(app, port=int(sys.argv[1]), allow_unsafe_werkzeug=True, workers=workers)
