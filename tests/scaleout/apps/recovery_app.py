"""A cluster node with connection state recovery on a Redis message queue.

    SCALE_MESSAGE_QUEUE=redis://127.0.0.1:6379/0 RECOVERY_SECONDS=8 \
        python tests/scaleout/apps/recovery_app.py --port 5001

Speaks the events of tests/node/recovery_client.js (``join``, ``whoami``); ``GET /produce``
starts a background task on this node that emits ``count`` messages ``msg`` to a room.
"""

from __future__ import annotations

import os

if os.environ.get("SCALE_EVENTLET") == "1":  # this node runs on eventlet (issue 25)
    import eventlet

    eventlet.monkey_patch()

import argparse  # noqa: E402
import logging  # noqa: E402

from flask import Flask, request, session  # noqa: E402

from flask_socketio import SocketIO, join_room, rooms  # noqa: E402

logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

app = Flask(__name__)
app.config["SECRET_KEY"] = "recovery"
socketio = SocketIO(
    app,
    message_queue=os.environ["SCALE_MESSAGE_QUEUE"],
    connection_state_recovery={"max_disconnection_duration": float(os.environ.get("RECOVERY_SECONDS", "8"))},
)


@socketio.on("join")
def on_join(room, data):  # type: ignore[no-untyped-def]
    join_room(room)
    session["tag"] = data.get("tag") if isinstance(data, dict) else None
    return True


@socketio.on("whoami")
def whoami():  # type: ignore[no-untyped-def]
    return {"sid": request.sid, "pid": os.getpid(), "rooms": sorted(rooms()), "tag": session.get("tag"),
            "recovered": request.recovered}


@app.route("/produce")
def produce():  # type: ignore[no-untyped-def]
    name = request.args.get("name", "p")
    count = int(request.args.get("count", "100"))
    every = float(request.args.get("every", "0.005"))
    room = request.args.get("room", "r")

    def run() -> None:
        for i in range(count):
            socketio.emit("msg", {"p": name, "i": i}, to=room)
            socketio.sleep(every)

    socketio.start_background_task(run)
    return "started"


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=5000)
    args = parser.parse_args()
    socketio.run(app, host="127.0.0.1", port=args.port)
