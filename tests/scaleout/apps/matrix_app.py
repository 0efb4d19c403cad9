"""A node for the emit matrix (tests/scaleout/test_emit_matrix.py): every emit form from every
origin, with the features the environment turns on.

    MATRIX_QUEUE=redis://…   a message queue (several nodes)     MATRIX_NODE_ADAPTER=1  the Node bridge
    MATRIX_RECOVERY=1        connection state recovery            MATRIX_ADMIN=1         the Admin UI (development)

A client joins rooms with ``join`` (ack: its sid); a client fires one emit with ``fire``
({"form", "origin", "tag", "skip": sid}): the form (``plain``, ``to_room``, ``skip_sid``,
``skip_rooms``, ``volatile``, ``callback``) is emitted as ``news`` [tag] from the origin
(``handler``: this handler; ``task``: a background task; ``thread``: a plain OS thread). The
ack of ``fire`` comes once the emit is done; with ``callback`` it is the number of answers.
"""

from __future__ import annotations

import argparse
import os
import threading
from typing import Any

from flask import Flask

from flask_socketio import SocketIO, join_room

app = Flask(__name__)
options: dict[str, Any] = {}
if os.environ.get("MATRIX_QUEUE"):
    options["message_queue"] = os.environ["MATRIX_QUEUE"]
    options["node_adapter"] = bool(os.environ.get("MATRIX_NODE_ADAPTER"))
if os.environ.get("MATRIX_RECOVERY"):
    options["connection_state_recovery"] = {"max_disconnection_duration": 60}
if os.environ.get("MATRIX_ADMIN"):
    options["admin_ui"] = {"auth": False, "mode": "development"}
socketio = SocketIO(app, **options)


@socketio.on("join")
def on_join(rooms: list[str]) -> str:
    from flask import request

    for room in rooms:
        join_room(room)
    return request.sid  # type: ignore[attr-defined, no-any-return]


def _wait(done: threading.Event) -> None:
    """Wait for `done` without blocking the server's loop (bounded: 15 s)."""
    for _ in range(1500):
        if done.is_set():
            return
        socketio.sleep(0.01)
    raise TimeoutError("the emit did not finish")


def emit_form(form: str, tag: str, skip: str | None) -> Any:
    """One emit of `form` to room ``r``; with ``callback``: the answers (a list)."""
    if form == "plain":
        socketio.emit("news", tag)
    elif form == "to_room":
        socketio.emit("news", tag, to="r")
    elif form == "skip_sid":
        socketio.emit("news", tag, to="r", skip_sid=skip)
    elif form == "skip_rooms":
        socketio.emit("news", tag, to="r", skip_rooms="muted")
    elif form == "volatile":
        socketio.emit("news", tag, to="r", volatile=True)
    elif form == "callback":
        done = threading.Event()
        box: list[Any] = []

        def answered(error: Any, answers: list[Any]) -> None:
            box.append(len(answers))
            done.set()

        socketio.emit("news", tag, to="r", callback=answered, timeout=5)
        _wait(done)
        return box[0]
    return None


@socketio.on("fire")
def on_fire(spec: dict[str, Any]) -> Any:
    form, origin, tag, skip = spec["form"], spec["origin"], spec["tag"], spec.get("skip")
    if origin == "handler":
        return emit_form(form, tag, skip)
    box: list[Any] = []
    done = threading.Event()

    def run() -> None:
        box.append(emit_form(form, tag, skip))
        done.set()

    if origin == "task":
        socketio.start_background_task(run)
    else:  # a plain OS thread
        threading.Thread(target=run, daemon=True).start()
    _wait(done)
    return box[0]


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    socketio.run(app, host="127.0.0.1", port=parser.parse_args().port)
