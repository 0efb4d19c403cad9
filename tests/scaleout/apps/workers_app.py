"""One port, several worker processes: the app of tests/scaleout/test_scale_workers.py.

    python tests/scaleout/apps/workers_app.py --port 5001 --workers 2
    gunicorn -c deploy/gunicorn_workers.conf.py -w 2 --chdir tests/scaleout/apps workers_app:app

Events (tests/node/workers_crowd.js): ``join`` a room (acks the worker's pid and the sid),
``burst`` (n news to a room, emitted by the handler) and ``bg_burst`` (the same from a
background task), ``ask`` (a server-to-client call to a sid that may live on another worker;
acks its answer), ``count`` (how many sockets `fetch_sockets` finds in a room, on every worker).
``WORKERS_RECOVERY=1`` turns connection state recovery on, ``WORKERS_ADMIN=1`` the Admin UI; ``WORKERS_MESSAGE_QUEUE`` sets a
message queue (Redis) instead of the workers' local bus.
"""

from __future__ import annotations

import argparse
import logging
import os
from typing import Any

from flask import Flask, request

from flask_socketio import SocketIO, emit, join_room

logging.basicConfig(level=logging.WARNING, format="%(process)d %(levelname)s %(name)s: %(message)s")

app = Flask(__name__)
socketio = SocketIO(
    app,
    message_queue=os.environ.get("WORKERS_MESSAGE_QUEUE") or None,
    connection_state_recovery={"max_disconnection_duration": 30} if os.environ.get("WORKERS_RECOVERY") else None,
    admin_ui={"auth": {"username": "admin", "password": "pw"}, "server_stats_interval": 0.5}
    if os.environ.get("WORKERS_ADMIN") else None,
)


@app.route("/pid")
def pid() -> str:
    return str(os.getpid())


@socketio.on("join")
def on_join(room: str) -> dict[str, Any]:
    join_room("all")
    join_room(room)
    return {"pid": os.getpid(), "sid": request.sid}


@socketio.on("burst")
def on_burst(room: str, count: int, source: str) -> int:
    for seq in range(count):
        emit("news", [source, seq], to=room)
    return os.getpid()


def background_burst(room: str, count: int, source: str) -> None:
    for seq in range(count):
        socketio.emit("news", [source, seq], to=room)


@socketio.on("bg_burst")
def on_bg_burst(room: str, count: int, source: str) -> int:
    socketio.start_background_task(background_burst, room, count, source)
    return os.getpid()


@socketio.on("ask")
def on_ask(sid: str, data: Any) -> Any:
    return socketio.call("question", data, to=sid, timeout=15)


@socketio.on("count")
def on_count(room: str) -> int:
    return len(socketio.fetch_sockets(to=room, timeout=10))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", default="2")
    args = parser.parse_args()
    workers: Any = args.workers if args.workers == "auto" else int(args.workers)
    socketio.run(app, port=args.port, workers=workers, grace=3)
