"""The benchmark app: one plain Flask-SocketIO app, served by whichever ``flask_socketio`` the
interpreter imports -- this project's (``.venv``) or the reference package (``.venv-ref``).

    .venv/bin/python -I benchmarks/app.py --port 5001        # this project
    .venv-ref/bin/python -I benchmarks/app.py --port 5002    # the reference stack

Events (the load generator is ``tests/node/bench_load.js``):

* ``echo(*args)``: returns its arguments, so the acknowledgement carries them back.
* ``join(room)``: joins ``room``; acks ``True``.
* ``broadcast({room, count, size})``: emits ``count`` ``bcast`` events ``{"i": i, "pad": ...}``
  to ``room`` (the sender included when it is a member); acks ``count`` after the last one.

``GET /bench/info`` answers which ``flask_socketio`` is serving (its file, the pid), so the
suite can assert which stack it is measuring; the same is printed as one JSON line at start-up.
Run it with ``-I`` so that nothing from the current directory or ``PYTHONPATH`` can shadow the
installed package.

``BENCH_ASYNC_MODE=eventlet`` serves it on eventlet, as eventlet apps are written:
``eventlet.monkey_patch()`` first, then ``SocketIO(app, async_mode='eventlet')`` (this project:
its own server on eventlet's hub; the reference: ``eventlet.wsgi``).
"""

from __future__ import annotations

import os

ASYNC_MODE = os.environ.get("BENCH_ASYNC_MODE") or "gevent"
if ASYNC_MODE == "eventlet":
    import eventlet

    eventlet.monkey_patch()

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402

from flask import Flask, jsonify  # noqa: E402

import flask_socketio  # noqa: E402
from flask_socketio import SocketIO, emit, join_room  # noqa: E402

app = Flask(__name__)
# BENCH_RECOVERY=1: connection state recovery on (this project only), to measure its cost.
_options: dict[str, object] = {"connection_state_recovery": True} if os.environ.get("BENCH_RECOVERY") == "1" else {}
# BENCH_MESSAGE_QUEUE=redis://…: on a message queue (with BENCH_RECOVERY=1: the Redis store).
if os.environ.get("BENCH_MESSAGE_QUEUE"):
    _options["message_queue"] = os.environ["BENCH_MESSAGE_QUEUE"]
if os.environ.get("BENCH_SERIALIZER", "default") != "default":  # the suite's S1m: "msgpack"
    _options["serializer"] = os.environ["BENCH_SERIALIZER"]
socketio = SocketIO(app, async_mode=ASYNC_MODE, **_options)


def stack_info() -> dict[str, object]:
    here = os.path.realpath(flask_socketio.__file__)
    reference = "socketio_core" not in sys.modules
    return {
        "stack": "reference" if reference else "ours",
        "async_mode": socketio.async_mode,
        "flask_socketio": here,
        "pid": os.getpid(),
        "ppid": os.getppid(),
        "python": sys.executable,
    }


@app.route("/bench/info")
def info():  # type: ignore[no-untyped-def]
    return jsonify(stack_info())


@socketio.on("echo")
def echo(*args):  # type: ignore[no-untyped-def]
    return args


@socketio.on("join")
def join(room):  # type: ignore[no-untyped-def]
    join_room(room)
    return True


@socketio.on("broadcast")
def broadcast(spec):  # type: ignore[no-untyped-def]
    room = spec["room"]
    count = int(spec["count"])
    pad = "x" * int(spec.get("size", 0))
    for i in range(count):
        emit("bcast", {"i": i, "pad": pad}, to=room)
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description="Flask-SocketIO benchmark app")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    parser.add_argument("--workers", type=int, default=None, help="socketio.run(app, workers=N)")
    args = parser.parse_args()
    print(json.dumps(stack_info()), flush=True)
    if args.workers:
        socketio.run(app, host=args.host, port=args.port, workers=args.workers)
    else:
        socketio.run(app, host=args.host, port=args.port)


if __name__ == "__main__":
    main()
