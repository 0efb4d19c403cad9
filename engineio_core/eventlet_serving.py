"""The engine's own HTTP/1.1 server on eventlet's hub (``async_mode='eventlet'``).

The HTTP side is `serving.HTTPConnections`, as on gevent (keep-alive, pipelining, chunked
bodies, ``Expect: 100-continue``, the idle reaper, the 101 of a WebSocket); this module only
accepts: one green thread runs the accept loop, and each connection is served by a green
thread of its own. A WebSocket is read by its connection's green thread (eventlet has no
readiness watchers for `TAKEOVER`), so the server keeps the socket until it ends.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

import eventlet
from eventlet import greenio

from .drivers.eventlet_driver import EventletTask, GreenWaiter, _raw_socket
from .serving import IDLE_TIMEOUT, HTTPConnections, _IdleReaper


class _GreenReaper(_IdleReaper):
    """The idle reaper's sweep on a green thread (closing a green socket wakes who waits on it)."""

    __slots__ = ()
    _spawn = staticmethod(eventlet.spawn)
    _sleep = staticmethod(eventlet.sleep)

    @staticmethod
    def _kill(task: Any) -> None:
        task.kill()


class EventletHTTPServer(HTTPConnections):
    """Serves a WSGI app over HTTP/1.1 on eventlet's hub: `start()` then `serve_forever()` (or
    `serve_forever()` alone), `stop()` from the hub or (through the driver) from elsewhere.

    Options: ``log``, ``error_log``, ``environ``, ``idle_timeout`` as the gevent server
    (`serving.HTTPServer`), ``backlog``, and TLS with ``certfile=``/``keyfile=`` or
    ``ssl_context=`` (an ``ssl.SSLContext``; connections are wrapped by eventlet's green SSL)."""

    _raw_of = staticmethod(_raw_socket)
    takeover = False
    socket_key = "eventlet.socket"

    def __init__(
        self,
        listener: Any,
        application: Callable[..., Any],
        log: Any = "default",
        error_log: Any = "default",
        environ: dict[str, Any] | None = None,
        idle_timeout: float | None = IDLE_TIMEOUT,
        backlog: int = 1024,
        ssl_context: Any = None,
        **kwargs: Any,
    ) -> None:
        if kwargs:
            raise TypeError(f"unexpected server options: {', '.join(sorted(kwargs))}")
        if isinstance(listener, tuple):
            self.socket = eventlet.listen(listener, backlog=backlog)
        else:
            self.socket = listener if isinstance(listener, greenio.GreenSocket) else greenio.GreenSocket(listener)
        self.address = self.socket.getsockname()
        self.ssl_context = ssl_context
        self.ssl_enabled = ssl_context is not None
        self._setup_http(application, log, error_log, environ, idle_timeout, _GreenReaper)
        self._acceptor: Any = None
        self._stopped: GreenWaiter | None = None
        self._connections: set[Any] = set()

    @property
    def server_port(self) -> int:
        return int(self.address[1])

    @property
    def server_host(self) -> str:
        return str(self.address[0])

    def start(self) -> None:
        """Start accepting (in a green thread of this thread's hub); returns at once."""
        if self._acceptor is None:
            self._stopped = GreenWaiter()
            self._acceptor = EventletTask(eventlet.spawn(self._accept_forever))

    def serve_forever(self) -> None:
        """Accept and serve until `stop()`."""
        self.start()
        assert self._stopped is not None
        self._stopped.wait()

    def _accept_forever(self) -> None:
        listener = self.socket
        while True:
            try:
                sock, address = listener.accept()
            except OSError:
                if self._stopped is None or self._stopped.is_set() or listener.fd.fileno() < 0:
                    return
                continue  # EMFILE, a connection reset before accept: go on
            self._connections.add(sock)
            eventlet.spawn_n(self._connection, sock, address)

    def _connection(self, accepted: Any, address: Any) -> None:
        sock = accepted
        try:
            if self.ssl_context is not None:
                sock = self._wrap(accepted)
            if sock is not None:
                self.handle(sock, address)
        except Exception:  # noqa: BLE001 - one connection's failure is not the server's
            self.error_log.exception("error serving a connection from %s", address)
        finally:
            self._connections.discard(accepted)
            self.do_close(sock if sock is not None else accepted)

    def _wrap(self, sock: Any) -> Any:
        from eventlet.green import ssl as green_ssl

        try:
            return green_ssl.GreenSSLContext.wrap_socket(self.ssl_context, sock, server_side=True)
        except (OSError, ValueError):
            sock.close()
            return None

    def stop(self, timeout: float | None = None) -> None:
        """Stop accepting and close open connections (from the serving thread)."""
        self.close()
        for sock in list(self._connections):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self) -> None:
        """Stop accepting; connections in progress go on."""
        stopped = self._stopped
        if stopped is not None and not stopped.is_set():
            stopped.set()
        acceptor, self._acceptor = self._acceptor, None
        try:
            self.socket.close()
        except OSError:
            pass
        if acceptor is not None:
            acceptor.kill()
        reaper = self._reaper
        if reaper is not None:
            reaper.stop()


def make_server(
    app: Callable[..., Any],
    host: str = "127.0.0.1",
    port: int = 5000,
    log_output: bool = False,
    **kwargs: Any,
) -> EventletHTTPServer:
    """A ready (not yet started) server on eventlet's hub; `port=0` picks a free port.
    ``certfile=``/``keyfile=`` serve TLS (a server context with the ``ssl`` module's
    defaults)."""
    if not log_output:
        kwargs.setdefault("log", None)
    certfile = kwargs.pop("certfile", None)
    keyfile = kwargs.pop("keyfile", None)
    if certfile is not None and "ssl_context" not in kwargs:
        import ssl

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(certfile, keyfile)
        kwargs["ssl_context"] = context
    return EventletHTTPServer((host, port), app, **kwargs)


def serve(app: Callable[..., Any], host: str = "127.0.0.1", port: int = 5000, **kwargs: Any) -> None:
    """Serve `app` forever on eventlet's hub."""
    make_server(app, host, port, **kwargs).serve_forever()


__all__ = ["EventletHTTPServer", "make_server", "serve"]
