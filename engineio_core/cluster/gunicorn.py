"""The routing of ``workers=N`` between gunicorn's gevent workers (``gunicorn -w N -k gevent``).

gunicorn forks the workers and balances connections over them without stickiness; this
module applies the same idea as `router` between them: each worker names the sessions it
creates with its tag (gunicorn's worker ``age``, unique for the arbiter's life) and listens
for handed-over connections on ``<directory>/<tag>.fd``; a WSGI middleware in front of the app
(`HandOverMiddleware`) hands a request for another worker's session over to it — the
connection's descriptor and the request, rebuilt from the environ with its body — and tells
gunicorn the request is handled. The owner serves that connection from there on with the
project's HTTP server (`serving.HTTPServer`), which routes the connection's later requests
itself. The directory is shared by the workers: made by the arbiter (``on_starting``), or
given in ``SOCKETIO_WORKERS_DIR``.

Use the hooks in a gunicorn configuration file (deploy/gunicorn_workers.conf.py does):
`on_starting`, `post_fork`, `worker_exit`, `on_exit` from here, and ``post_worker_init`` from
`flask_socketio.gunicorn` (it also joins the Socket.IO server to the workers' local bus).

Limits: a request pipelined behind a handed-over one in gunicorn's buffer is lost (browsers
and the Socket.IO clients do not pipeline); TLS in gunicorn cannot be handed over.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterable
from typing import Any

from .router import Router, remove_worker_files
from .tags import set_worker_tag, sid_tag

DIRECTORY_ENV = "SOCKETIO_WORKERS_DIR"
_made: list[str] = []


def workers_directory() -> str:
    directory = os.environ.get(DIRECTORY_ENV)
    if not directory:
        raise RuntimeError(f"{DIRECTORY_ENV} is not set: use the on_starting hook of engineio_core.cluster.gunicorn")
    return directory


def on_starting(server: Any) -> None:
    """gunicorn hook (arbiter): the workers' shared socket directory."""
    if not os.environ.get(DIRECTORY_ENV):
        directory = tempfile.mkdtemp(prefix="socketio-workers-")
        _made.append(directory)
        os.environ[DIRECTORY_ENV] = directory


def on_exit(server: Any) -> None:
    """gunicorn hook (arbiter): remove the directory `on_starting` made."""
    for directory in _made:
        shutil.rmtree(directory, ignore_errors=True)


def post_fork(server: Any, worker: Any) -> None:
    """gunicorn hook (worker): sessions created here are named by the worker's tag."""
    set_worker_tag(str(worker.age))


def start_routing(worker: Any) -> Router:
    """In a worker whose app is loaded: listen for handed-over connections and put the
    hand-over middleware in front of the app (``worker.wsgi``)."""
    from ..serving import HTTPServer

    tag = str(worker.age)
    router = Router(workers_directory(), tag)
    address: Any = ("127.0.0.1", 0)
    sockets = getattr(worker, "sockets", None)
    if sockets:
        address = sockets[0].getsockname()
    # Never started: it only serves the connections other workers hand over.
    server = HTTPServer(address, worker.wsgi, log=None)
    server.router = router
    router.start(server)
    worker.wsgi = HandOverMiddleware(worker.wsgi, router)
    worker._socketio_router = router
    return router


def worker_exit(server: Any, worker: Any) -> None:
    """gunicorn hook (worker): stop receiving hand-overs."""
    router = getattr(worker, "_socketio_router", None)
    if router is not None:
        router.close()
        # The arbiter gone (killed): the last worker out removes the directory it made.
        remove_worker_files(router.directory, router.tag, last=os.getppid() != worker.ppid)


class HandOverMiddleware:
    """Hands a request for another worker's session over to that worker (see the module
    docstring); every other request goes to the app."""

    def __init__(self, app: Callable[..., Any], router: Router) -> None:
        self.app = app
        self.router = router

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        query = environ.get("QUERY_STRING", "")
        if "sid=" in query:
            tag = sid_tag("?" + query)
            sock = environ.get("gunicorn.socket")
            if tag is not None and tag != self.router.tag and sock is not None:
                request = rebuild_request(environ)
                if self.router.hand_over(sock, tag, request):
                    # gunicorn's async workers take StopIteration from a request as "close
                    # this connection": no answer, no next request read from it; it closes
                    # its descriptor only (the owner holds another).
                    raise StopIteration("the connection was handed over to its session's worker")
                environ["wsgi.input"] = _Replay(request.split(b"\r\n\r\n", 1)[1])
        result: Iterable[bytes] = self.app(environ, start_response)
        return result


def rebuild_request(environ: dict[str, Any]) -> bytes:
    """The request's bytes as the client sent them, near enough for a server to read it again:
    the request line, the headers (names from the environ), and the body read in full (a
    chunked body is sent with its length)."""
    body = b""
    wsgi_input = environ.get("wsgi.input")
    if wsgi_input is not None and (environ.get("CONTENT_LENGTH") or environ.get("HTTP_TRANSFER_ENCODING")):
        body = wsgi_input.read()
    target = environ.get("RAW_URI") or (environ.get("PATH_INFO", "/") + "?" + environ.get("QUERY_STRING", ""))
    lines = [f"{environ['REQUEST_METHOD']} {target} {environ.get('SERVER_PROTOCOL', 'HTTP/1.1')}"]
    for key, value in environ.items():
        if key.startswith("HTTP_") and key not in ("HTTP_TRANSFER_ENCODING", "HTTP_CONTENT_LENGTH"):
            lines.append(f"{key[5:].replace('_', '-').title()}: {value}")
    if environ.get("CONTENT_TYPE"):
        lines.append(f"Content-Type: {environ['CONTENT_TYPE']}")
    if body or environ.get("CONTENT_LENGTH"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class _Replay:
    """``wsgi.input`` again, when the body was read for a hand-over that did not happen."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            size = len(self._data)
        out, self._data = self._data[:size], self._data[size:]
        return out

    def readline(self, size: int | None = -1) -> bytes:
        cut = self._data.find(b"\n") + 1 or len(self._data)
        if size is not None and size >= 0:
            cut = min(cut, size)
        out, self._data = self._data[:cut], self._data[cut:]
        return out


__all__ = ["HandOverMiddleware", "on_exit", "on_starting", "post_fork", "rebuild_request", "start_routing",
           "worker_exit"]
