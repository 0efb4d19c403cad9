"""`WSGIApp`: Engine.IO as WSGI middleware around any WSGI app (Flask included)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from . import static
from .server import EngineServer


def kept_environ(environ: dict[str, Any]) -> dict[str, Any]:
    """The environ the engine may keep for the life of a connection. WSGI servers make a new
    dict per request, except uWSGI, which clears its dict when the request ends and reuses it
    for the next one: there the engine gets a copy (a handler would otherwise find an empty
    environ, and no ``flask.app`` in it, after the handshake request has ended)."""
    return dict(environ) if "uwsgi.version" in environ else environ


class WSGIApp:
    """Route ``/<engineio_path>/`` to the engine, then static files, then `wsgi_app`, else 404."""

    def __init__(
        self,
        engineio_app: EngineServer,
        wsgi_app: Callable[..., Any] | None = None,
        static_files: dict[str, Any] | None = None,
        engineio_path: str = "engine.io",
    ) -> None:
        self.engineio_app = engineio_app
        self.wsgi_app = wsgi_app
        self.static_files = static_files or {}
        self.engineio_path = "/" + engineio_path.strip("/") + "/"

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == self.engineio_path or path + "/" == self.engineio_path or path.startswith(self.engineio_path):
            return self.engineio_app.handle_request(kept_environ(environ), start_response)
        if self.static_files and environ.get("REQUEST_METHOD") in ("GET", "HEAD"):
            found = static.resolve(self.static_files, path)
            if found is not None:
                return static.serve_file(found[0], found[1], start_response)
        if self.wsgi_app is not None:
            return self.wsgi_app(environ, start_response)  # type: ignore[no-any-return]
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"Not Found"]


Middleware = WSGIApp
