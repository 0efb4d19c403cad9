"""A Python twin of socket.io-client's test/support/server.ts on flask_socketio (issue 24; run
by scripts/client_suites/run.sh): port 3210, pingInterval 2 s, connection state recovery on
with its defaults (`{}`), the same namespaces, middlewares and events. RECOVERY env var: the
option's value as JSON (default `{}`). What Node's server does with an API Flask-SocketIO has
not (a handler that never acknowledges) is left out: see the closing note of issue 24."""
import json
import os
from datetime import datetime, timezone

import gevent
from flask import Flask, request

from flask_socketio import ConnectionRefusedError, SocketIO, emit

app = Flask(__name__)
socketio = SocketIO(app, ping_interval=2, cors_allowed_origins="*",
                    connection_state_recovery=json.loads(os.environ.get("RECOVERY", "{}")))
_served = app.wsgi_app  # Flask-SocketIO's middleware (the engine included)


def allow_request(environ, start_response):
    """Node's `allowRequest` of the support server: a 10 ms delay before each handshake (so the
    client's connection timeout can fire first), then the request as usual."""
    if "sid=" not in environ.get("QUERY_STRING", "") and environ.get("PATH_INFO", "").startswith("/socket.io"):
        gevent.sleep(0.01)
    return _served(environ, start_response)


app.wsgi_app = allow_request


auths = {}  # (namespace, sid) -> the auth payload of its CONNECT (Node: socket.handshake.auth)


def handshake():
    return {"query": request.args.to_dict(), "headers": {k: v for k, v in request.headers.items()},
            "url": request.full_path, "issued": 0, "secure": False, "xdomain": False,
            "auth": auths.get((request.namespace, request.sid), {})}


def now():
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@socketio.on("getId", namespace="/foo")
def foo_get_id():
    return request.sid


for ns in ("/timeout_socket", "/valid", "/asd"):
    socketio.on("connect", namespace=ns)(lambda auth=None: None)


@socketio.on("connect", namespace="/abc")
def abc_connect(auth=None):
    auths[("/abc", request.sid)] = auth or {}
    emit("handshake", handshake())


@socketio.on("connect", namespace="/no")
def no_connect(auth=None):
    raise ConnectionRefusedError("Auth failed (custom namespace)")


@socketio.on("connect")
def main_connect(auth=None):
    auths[("/", request.sid)] = auth or {}
    if request.args.get("fail"):
        raise ConnectionRefusedError("Auth failed (main namespace)")


@socketio.on("hi")
def hi():
    emit("hi")


@socketio.on("echo")
def echo(arg):
    # Node's cb(arg): one argument, null included. A handler's None is "no arguments" in
    # Flask-SocketIO (the ack is 30[]), so a null is returned as a one-element tuple.
    return (arg,)


@socketio.on("ack")
def ack():
    sid = request.sid

    def got(a=None, b=None):
        if a == 5 and isinstance(b, dict) and b.get("test"):
            socketio.emit("got it", to=sid)
    emit("ack", callback=got)


@socketio.on("getAckDate")
def get_ack_date(data=None):
    return now()


@socketio.on("getDate")
def get_date():
    emit("takeDate", now())


@socketio.on("getDateObj")
def get_date_obj():
    emit("takeDateObj", {"date": now()})


@socketio.on("getUtf8")
def get_utf8():
    for s in ("てすと", "Я Б Г Д Ж Й", "Ä ä Ü ü ß", "utf8 — string", "utf8 — string"):
        emit("takeUtf8", s)


@socketio.on("false")
def false():
    emit("false", False)


@socketio.on("doge")
def doge():
    emit("doge", b"asdfasdf")


@socketio.on("buffa")
def buffa(a):
    if isinstance(a, bytes):
        emit("buffack")


def _mixed(a, ack):
    assert a["hello"] == "lol" and isinstance(a["message"], bytes) and a["goodbye"] == "gotcha"
    emit(ack)


@socketio.on("jsonbuff")
def jsonbuff(a):
    _mixed(a, "jsonbuff-ack")


@socketio.on("jsonblob")
def jsonblob(a):
    _mixed(a, "jsonblob-ack")


state = {}


@socketio.on("abuff1")
def abuff1(a):
    assert isinstance(a, bytes)
    state[(request.sid, "abuff1")] = True


@socketio.on("abuff2")
def abuff2(a):
    assert state.get((request.sid, "abuff1"))
    emit("abuff2-ack")


@socketio.on("blob")
def blob(a):
    if isinstance(a, bytes):
        emit("back")


@socketio.on("blob1")
def blob1(a):
    assert isinstance(a, bytes)
    state[(request.sid, "blob1")] = True


@socketio.on("blob2")
def blob2(a):
    assert state.get((request.sid, "blob1")) and a == "second"
    state[(request.sid, "blob2")] = True


@socketio.on("blob3")
def blob3(a):
    assert isinstance(a, bytes) and state.get((request.sid, "blob1")) and state.get((request.sid, "blob2"))
    emit("blob3-ack")


@socketio.on("getbin")
def getbin():
    emit("takebin", b"asdfasdf")


@socketio.on("getHandshake")
def get_handshake():
    return handshake()


@socketio.on("getId")
def get_id():
    return request.sid


if __name__ == "__main__":
    socketio.run(app, host="127.0.0.1", port=3210)
