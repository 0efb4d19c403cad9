"""The WSGI middleware that puts Socket.IO in front of the Flask app."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import flask

from engineio_core import WSGIApp
from engineio_core.wsgi import kept_environ
from socketio_core.server.server import SocketServer


class SocketIOMiddleware(WSGIApp):
    """Routes ``/socket.io/`` to the Socket.IO server and everything else to the Flask app.
    The environ of a Socket.IO request carries ``flask.app`` so handlers can rebuild the app
    and request contexts from it."""

    def __init__(self, socketio_app: SocketServer, app: flask.Flask, socketio_path: str = "socket.io") -> None:
        self.flask_app = app
        self.socketio_server = socketio_app
        super().__init__(socketio_app, app.wsgi_app, engineio_path=socketio_path)  # type: ignore[arg-type]

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.startswith(self.engineio_path) or path + "/" == self.engineio_path:
            # The environ is kept for the life of the connection (handlers rebuild the request
            # context from it); WSGI servers make a new dict per request, so no copy is needed,
            # except under uWSGI, which reuses its dict (`kept_environ`).
            environ = kept_environ(environ)
            environ["flask.app"] = self.flask_app
            return self.engineio_app.handle_request(environ, start_response)
        admin = self.socketio_server.admin
        if admin is not None and admin.serves(path):  # the Admin UI's files (instrument(ui_path=))
            return admin.serve_ui(environ, start_response)
        if self.wsgi_app is None:  # pragma: no cover
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"Not Found"]
        return self.wsgi_app(environ, start_response)  # type: ignore[no-any-return]
