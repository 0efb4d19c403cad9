"""A cluster node for the scale-out tests: one Flask-SocketIO process on a message queue.

    SCALE_MESSAGE_QUEUE=redis://127.0.0.1:6379/0 python tests/scaleout/apps/cluster_app.py --port 5001

The handlers let a test drive, from a client on this node, every cross-node operation:
broadcasts, bursts, room changes and disconnects of sids that live on other nodes, and
server-to-client calls with acknowledgements.
"""

from __future__ import annotations

import os

if os.environ.get("SCALE_EVENTLET") == "1":  # this node runs on eventlet (issue 25)
    import eventlet

    eventlet.monkey_patch()

import argparse  # noqa: E402
import datetime  # noqa: E402
import logging  # noqa: E402

import flask  # noqa: E402
from flask import Flask, request  # noqa: E402

from flask_socketio import SocketIO, close_room, disconnect, emit, join_room, leave_room, rooms  # noqa: E402

# The message-queue layer logs what it ignores or drops as warnings/errors: keep them in the log.
logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
for _name in ("socketio_core.pubsub", "socketio_core.redis", "socketio_core.kombu"):
    logging.getLogger(_name).setLevel(logging.INFO)

app = Flask(__name__)
socketio = SocketIO(
    app,
    message_queue=os.environ["SCALE_MESSAGE_QUEUE"],
    channel=os.environ.get("SCALE_CHANNEL", "flask-socketio"),
    json=flask.json,  # the app's JSON provider (datetimes…), as many Flask-SocketIO apps do
)


@socketio.on("connect")
def on_connect():  # type: ignore[no-untyped-def]
    emit("welcome", {"pid": os.getpid(), "sid": request.sid})


@socketio.on("disconnect")
def on_disconnect(reason=None):  # type: ignore[no-untyped-def]
    # Yield to the loop, as real handlers do (database, logging over the network…): a
    # disconnect ordered by another node must run where blocking is allowed.
    socketio.sleep(0.001)
    socketio.emit("gone", {"sid": request.sid, "pid": os.getpid()}, to="watchers")


@socketio.on("whoami")
def whoami():  # type: ignore[no-untyped-def]
    return {"pid": os.getpid(), "sid": request.sid}


@socketio.on("join")
def on_join(room):  # type: ignore[no-untyped-def]
    join_room(room)
    return sorted(rooms())


@socketio.on("leave")
def on_leave(room):  # type: ignore[no-untyped-def]
    leave_room(room)
    return sorted(rooms())


@socketio.on("rooms")
def on_rooms():  # type: ignore[no-untyped-def]
    return sorted(rooms())


@socketio.on("broadcast")
def on_broadcast(spec):  # type: ignore[no-untyped-def]
    """``spec = {event, args, to, skip_sid, include_self}`` → ``socketio.emit``."""
    socketio.emit(
        spec["event"], *spec.get("args", []), to=spec.get("to"), skip_sid=spec.get("skip_sid"),
        include_self=spec.get("include_self", True),
    )
    return True


@socketio.on("stamp")
def on_stamp(room):  # type: ignore[no-untyped-def]
    """A value only the app's JSON provider can encode, and bytes, broadcast to a room."""
    at = datetime.datetime(2024, 5, 6, 7, 8, 9, tzinfo=datetime.timezone.utc)
    emit("stamp", {"at": at, "raw": b"\x00\xff"}, to=room)
    return True


@socketio.on("burst")
def on_burst(spec):  # type: ignore[no-untyped-def]
    """``count`` broadcasts to ``room``, emitted one after the other by this one handler."""
    for i in range(spec["count"]):
        emit("seq", i, to=spec["room"])
    return spec["count"]


@socketio.on("remote_join")
def remote_join(spec):  # type: ignore[no-untyped-def]
    join_room(spec["room"], sid=spec["sid"])
    return True


@socketio.on("remote_leave")
def remote_leave(spec):  # type: ignore[no-untyped-def]
    leave_room(spec["room"], sid=spec["sid"])
    return True


@socketio.on("remote_disconnect")
def remote_disconnect(spec):  # type: ignore[no-untyped-def]
    disconnect(sid=spec["sid"])
    return True


@socketio.on("close")
def on_close(room):  # type: ignore[no-untyped-def]
    close_room(room)
    return True


@socketio.on("ask")
def ask(spec):  # type: ignore[no-untyped-def]
    """``socketio.call`` a client that may live on another node; the answer is our ack."""
    try:
        answer = socketio.call(spec["event"], spec.get("data"), to=spec["sid"], timeout=spec.get("timeout", 10))
    except Exception as exc:  # noqa: BLE001 - reported to the test
        return {"error": type(exc).__name__}
    return {"answer": answer, "pid": os.getpid()}


@socketio.on("pending_remote_callbacks")
def pending_remote_callbacks():  # type: ignore[no-untyped-def]
    """How many acks this node still waits for from clients on other nodes."""
    return len(socketio.server.manager._remote_callbacks)


@socketio.on("ask_cb")
def ask_cb(spec):  # type: ignore[no-untyped-def]
    """Emit with a callback; the callback (run in this handler's request context) reports the
    answer to the requesting client with a ``cb_result`` event."""

    def callback(*args):  # type: ignore[no-untyped-def]
        socketio.sleep(0.001)  # a callback may block (I/O) like any handler
        emit("cb_result", {"args": list(args), "requester": request.sid, "pid": os.getpid()})

    socketio.emit(spec["event"], spec.get("data"), to=spec["sid"], callback=callback)
    return True


@socketio.on("join", namespace="/ns")
def ns_join(room):  # type: ignore[no-untyped-def]
    join_room(room)
    return True


@socketio.on("broadcast", namespace="/ns")
def ns_broadcast(spec):  # type: ignore[no-untyped-def]
    """In namespace /ns: ``spec = {event, args, to, binary}`` (``binary`` adds a bytes argument)."""
    args = list(spec.get("args", [])) + ([b"\x01\x02"] if spec.get("binary") else [])
    socketio.emit(spec["event"], *args, to=spec.get("to"), namespace="/ns")
    return True


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    print(f"cluster node {os.getpid()} on 127.0.0.1:{args.port}", flush=True)
    socketio.run(app, host="127.0.0.1", port=args.port)
