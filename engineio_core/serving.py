"""`serve()`: the production server, gevent's pywsgi with WebSocket support and TCP_NODELAY."""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

from gevent import pywsgi

# pywsgi reads requests through an 8 KiB buffer that lives as long as the connection; a
# WebSocket never reads through it after the handshake, and Engine.IO requests are small.
RFILE_BUFFER = 2048


class WebSocketHandler(pywsgi.WSGIHandler):  # type: ignore[misc]
    """pywsgi's handler, exposing the client socket for the WebSocket transport and turning
    Nagle off (a long-poll answer or a frame is one write and must leave at once)."""

    def __init__(self, sock: Any, address: Any, server: Any) -> None:
        super().__init__(sock, address, server)
        default_rfile: Any = getattr(self, "rfile")  # noqa: B009 - untyped in gevent
        default_rfile.close()
        self.rfile = sock.makefile("rb", RFILE_BUFFER)

    def get_environ(self) -> dict[str, Any]:
        environ: dict[str, Any] = super().get_environ()
        environ["gevent.socket"] = self.socket
        return environ

    def handle_one_response(self) -> None:
        super().handle_one_response()
        if self.code == 101:
            # The connection was a WebSocket: never read what follows on it as HTTP.
            self.close_connection = True

    def handle(self) -> None:
        try:
            self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except (OSError, AttributeError):
            pass
        super().handle()


def make_server(
    app: Callable[..., Any],
    host: str = "127.0.0.1",
    port: int = 5000,
    log_output: bool = False,
    **kwargs: Any,
) -> pywsgi.WSGIServer:
    """A ready (not yet started) gevent WSGI server. `port=0` picks a free port."""
    kwargs.setdefault("handler_class", WebSocketHandler)
    if not log_output:
        kwargs.setdefault("log", None)
    return pywsgi.WSGIServer((host, port), app, **kwargs)


def serve(app: Callable[..., Any], host: str = "127.0.0.1", port: int = 5000, **kwargs: Any) -> None:
    """Serve `app` forever (SSL: pass ``certfile=``/``keyfile=`` as for pywsgi)."""
    make_server(app, host, port, **kwargs).serve_forever()
