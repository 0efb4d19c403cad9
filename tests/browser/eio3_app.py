"""A Flask-SocketIO app with ``allow_eio3=True`` for the browser test: it serves
socket.io-client@2 (``/v2.js``) and @4 (``/v4.js``) from node_modules and an empty page.

Events: ``echo`` acks its arguments, ``bin_echo`` acks ``(data, b"srv")``, ``join(room)`` acks
the rooms, ``shout(room, msg)`` emits ``room_msg`` to the room and acks ``"ok"``.
usage: python eio3_app.py --port PORT
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from flask import Flask, send_file

from flask_socketio import SocketIO, emit, join_room, rooms

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CLIENTS = {
    "v2.js": os.path.join(ROOT, "node_modules", "socket.io-client-v2", "dist", "socket.io.js"),
    "v4.js": os.path.join(ROOT, "node_modules", "socket.io-client", "dist", "socket.io.min.js"),
}

app = Flask(__name__)
socketio = SocketIO(app, allow_eio3=True)


@app.route("/")
def index() -> str:
    return "<!doctype html><html><head><title>eio3</title></head><body></body></html>"


@app.route("/<name>")
def client(name: str) -> Any:
    if name not in CLIENTS:
        return "", 204  # the browser's favicon probe: no error in the console
    return send_file(CLIENTS[name], mimetype="application/javascript")


@socketio.on("echo")
def echo(*args: Any) -> Any:
    return args


@socketio.on("bin_echo")
def bin_echo(data: Any) -> Any:
    return data, b"srv"


@socketio.on("join")
def join(room: str) -> Any:
    join_room(room)
    return sorted(rooms())


@socketio.on("shout")
def shout(room: str, msg: Any) -> str:
    emit("room_msg", msg, to=room)
    return "ok"


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    socketio.run(app, host="127.0.0.1", port=args.port)
