"""A Python twin of engine.io-client's test/support/hooks.js (the server its mocha suite
uses), on engineio_core (issue 24; run by scripts/client_suites/run.sh). Port 3000 (ZUUL_PORT),
pingInterval 500 ms, maxHttpBufferSize 100, `deny` in the query refuses the connection, every
message bounced back with the same specials, and the four Set-Cookie headers of its
`initial_headers` hook on the handshake answer."""
import json
import os
import sys

import gevent

import engineio_core
from engineio_core.serving import make_server

eio = engineio_core.EngineServer(async_mode="gevent", ping_interval=0.5, max_http_buffer_size=100,
                                 cors_allowed_origins="*", cors_credentials=True)
_current: dict = {}  # greenlet -> the environ of the request it serves (Node: transport.dataReq)


@eio.on("connect")
def connect(sid, environ):
    if "deny" in environ.get("QUERY_STRING", ""):
        return False
    eio.send(sid, "hi")


@eio.on("message")
def message(sid, data):
    if data == "give binary":
        eio.send(sid, bytes(range(5)))
    elif data == "give utf8":
        eio.send(sid, "пойду спать всем спокойной ночи")
    elif data == "sendHeaders":
        environ = _current.get(gevent.getcurrent(), {})
        headers = {k[5:].lower().replace("_", "-"): v for k, v in environ.items() if k.startswith("HTTP_")}
        eio.send(sid, json.dumps(headers))
    else:
        eio.send(sid, data)


engine_app = engineio_core.WSGIApp(eio)
COOKIES = ["1=1; Max-Age=86400", "2=2; Path=/; HttpOnly; Secure; SameSite=Strict", "3=3; Max-Age=0",
           "4=4; Expires=Thu, 01 Jan 1970 00:00:00 GMT"]


def app(environ, start_response):
    handshake = "sid=" not in environ.get("QUERY_STRING", "")

    def start(status, headers, *exc):
        if handshake and environ.get("PATH_INFO", "").startswith("/engine.io"):
            headers = list(headers) + [("Set-Cookie", c) for c in COOKIES]
        return start_response(status, headers, *exc)

    me = gevent.getcurrent()
    _current[me] = environ
    try:
        return engine_app(environ, start)
    finally:
        _current.pop(me, None)


if __name__ == "__main__":
    port = int(os.environ.get("ZUUL_PORT", "3000"))
    server = make_server(app, "127.0.0.1", port)
    print("eio twin on", port, file=sys.stderr, flush=True)
    server.serve_forever()
