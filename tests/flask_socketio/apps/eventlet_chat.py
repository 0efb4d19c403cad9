"""A chat in the shape of the public eventlet applications (issue 25): ``eventlet.monkey_patch()``
first, then ``SocketIO(app, async_mode='eventlet')``, a handler that broadcasts, and
``socketio.run(app)``. Kept as such apps are written; tests/flask_socketio/test_eventlet.py
runs it unchanged (the port comes from the command line) and adds a few events of its own
below the chat part: a server-to-client ``call()`` with a timeout, and a producer task that
emits faster than a stalled client reads (flow control).

    python eventlet_chat.py PORT
"""

import eventlet

eventlet.monkey_patch()

import sys  # noqa: E402

from flask import Flask, render_template_string, request  # noqa: E402

from flask_socketio import SocketIO, emit  # noqa: E402

app = Flask(__name__)
app.config["SECRET_KEY"] = "secret!"
socketio = SocketIO(app, async_mode="eventlet")

PAGE = "<!doctype html><title>chat</title><h1>chat</h1>"
users = {}


@app.route("/")
def index():
    return render_template_string(PAGE)


@socketio.on("join")
def on_join(name):
    users[request.sid] = name
    emit("status", {"msg": name + " has entered the room."}, broadcast=True)


@socketio.on("text")
def on_text(message):
    emit("message", {"user": users.get(request.sid, "?"), "msg": message["msg"]}, broadcast=True)


# -- for the tests: call() with a timeout, flow control ---------------------------------------

@socketio.on("ask")
def on_ask(timeout):
    """Ask this client a question and wait for its answer (the client may not answer)."""
    try:
        return {"answer": socketio.call("question", "ping?", to=request.sid, timeout=timeout)}
    except TimeoutError:
        return {"timeout": True}


@socketio.on("flood")
def on_flood(count, size):
    """A background task emits `count` numbered messages of `size` bytes to everyone."""
    def produce():
        blob = "x" * size
        for i in range(count):
            socketio.emit("flood", {"i": i, "blob": blob})
        socketio.emit("flood_done", count)

    socketio.start_background_task(produce)
    return "started"


if __name__ == "__main__":
    socketio.run(app, port=int(sys.argv[1]))
