"""`serve()`: the production server, a lean HTTP/1.1 WSGI server on gevent.

One greenlet per connection reads request heads (parsed by `http11`), calls the WSGI app and
writes each response's head and body in one ``send`` (TCP_NODELAY is on: a long-poll answer
leaves at once). Keep-alive, pipelining, chunked request and response bodies, ``Expect:
100-continue`` and HEAD are handled; errors in a request head get an empty 4xx/5xx with
``Connection: close`` and never reach the app.

A WebSocket may *take the connection over* (``environ[TAKEOVER]()``): the server then leaves
the socket open when the app returns and its greenlet ends, so an idle WebSocket costs no
greenlet at all (the engine reads it from loop callbacks instead).
"""

from __future__ import annotations

import logging
import socket
import sys
import time
from collections.abc import Callable
from email.utils import formatdate
from typing import Any

import gevent
from gevent.server import StreamServer
from werkzeug.exceptions import BadRequest

from .drivers.base import plain_socket
from .http11 import (
    REASONS,
    ChunkedDecoder,
    HTTPError,
    RequestHead,
    build_environ,
    check_partial,
    find_head_end,
    parse_head,
)
from .transports.websocket import TAKEOVER

RECV_SIZE = 65536
# An unread request body is read and discarded up to this size to keep the connection alive;
# beyond it the connection is closed instead.
DRAIN_LIMIT = 1 << 20
# Seconds a connection may sit idle between requests, or stall inside one (nginx's
# keepalive_timeout default is 75 s).
IDLE_TIMEOUT = 75.0

_logger = logging.getLogger("engineio_core.serving")
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
_date_cache: list[Any] = [0, ""]


def _http_date() -> str:
    now = int(time.time())
    if _date_cache[0] != now:
        _date_cache[0] = now
        _date_cache[1] = formatdate(now, usegmt=True)
    return str(_date_cache[1])


class ConnectionDropped(ConnectionError):
    """The peer went away (or broke the body framing) while the app was reading the body."""


class BadRequestBody(ConnectionDropped, BadRequest):
    """The request body's framing is malformed (a chunked body that `http11` refuses): the
    connection cannot go on. It is Werkzeug's `BadRequest` too, so a Flask view that reads the
    body answers 400 (not a 500 with a traceback); if it escapes the app before anything was
    sent, the server answers 400. Either way the connection is closed after the answer."""

    def __init__(self, error: HTTPError) -> None:
        message = f"bad chunked body: {error.reason}"
        ConnectionDropped.__init__(self, message)
        self.description = message
        self.response = None
        self.error = error


class RequestBody:
    """``wsgi.input``: the request body, by Content-Length or chunked, read on demand.

    Holds the bytes received past the head; what is left after the body (a pipelined request)
    is handed back by `leftover()`."""

    __slots__ = (
        "_sock", "_reaper", "_buf", "_back", "_remaining", "_decoder", "_done", "_expect", "_eof",
    )

    def __init__(self, sock: Any, buf: bytes, head: RequestHead, reaper: _IdleReaper | None = None) -> None:
        self._sock = sock
        self._reaper = reaper
        self._buf = buf  # raw bytes received past what was consumed (framing included)
        self._back = b""  # body bytes decoded or read, and not yet returned
        self._decoder = ChunkedDecoder() if head.chunked else None
        self._remaining = head.content_length or 0
        self._done = not head.chunked and not self._remaining
        self._expect = head.expect_continue and not self._done
        self._eof = False

    def _recv(self) -> bytes:
        if self._expect:
            self._expect = False
            self._sock.sendall(_CONTINUE)
        sock, reaper = self._sock, self._reaper
        try:
            data: bytes = sock.recv(RECV_SIZE) if reaper is None else reaper.call(sock, sock.recv, RECV_SIZE)
        except OSError as exc:
            raise ConnectionDropped(str(exc)) from None
        if not data:
            self._eof = True
            raise ConnectionDropped("connection closed mid-body")
        return data

    def _take(self, size: int) -> bytes:
        """Up to `size` bytes of raw (framed) input: from the buffer, else one receive."""
        buf = self._buf
        if not buf:
            buf = self._recv()
        if len(buf) <= size:
            self._buf = b""
            return buf
        self._buf = buf[size:]
        return buf[:size]

    def _read_some(self, size: int) -> bytes:
        """At most `size` bytes of body (fewer if that is what has arrived); b"" at its end."""
        back = self._back
        if back:
            if len(back) <= size:
                self._back = b""
                return back
            self._back = back[size:]
            return back[:size]
        if self._done:
            return b""
        decoder = self._decoder
        if decoder is None:
            data = self._take(min(size, self._remaining))
            self._remaining -= len(data)
            if not self._remaining:
                self._done = True
            return data
        while True:
            raw = self._buf or self._recv()
            self._buf = b""
            try:
                data = decoder.feed(raw)
            except HTTPError as exc:
                self._eof = True  # the framing is lost: the connection cannot be reused
                raise BadRequestBody(exc) from None
            if decoder.done:
                self._done = True
                self._buf = decoder.rest
            if data:
                if len(data) > size:
                    self._back = data[size:]
                    return data[:size]
                return data
            if self._done:
                return b""

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            parts: list[bytes] = []
            while True:
                data = self._read_some(RECV_SIZE)
                if not data:
                    return b"".join(parts)
                parts.append(data)
        parts = []
        while size > 0:
            data = self._read_some(size)
            if not data:
                break
            parts.append(data)
            size -= len(data)
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def readline(self, size: int | None = -1) -> bytes:
        limit = RECV_SIZE * 16 if size is None or size < 0 else size
        parts: list[bytes] = []
        total = 0
        while total < limit:
            data = self._read_some(limit - total)
            if not data:
                break
            cut = data.find(b"\n")
            if cut >= 0 and cut + 1 < len(data):
                self._unread(data[cut + 1:])
                data = data[:cut + 1]
            parts.append(data)
            total += len(data)
            if cut >= 0:
                break
        return b"".join(parts)

    def _unread(self, data: bytes) -> None:
        self._back = data + self._back

    def readlines(self, hint: int = -1) -> list[bytes]:
        return list(self)

    def __iter__(self) -> Any:
        while True:
            line = self.readline()
            if not line:
                return
            yield line

    def leftover(self) -> bytes | None:
        """Discard the unread body (up to `DRAIN_LIMIT`) and return the bytes after it, or None
        when the connection cannot be reused (body too big, cut short, or never asked for)."""
        if self._done:
            return self._buf
        if self._expect or self._eof:
            return None  # the client may or may not send a body nobody asked for
        budget = DRAIN_LIMIT
        try:
            while budget > 0:
                data = self._read_some(min(budget, RECV_SIZE))
                if not data:
                    return self._buf
                budget -= len(data)
        except OSError:
            return None
        return None

    def pending(self) -> bytes:
        """What was received past the head and not read (a WebSocket's first frames)."""
        data, self._buf = self._buf, b""
        return data


class _Response:
    """start_response/write for one request, and the bookkeeping of what was sent."""

    __slots__ = (
        "sock", "raw", "reaper", "head", "status", "headers", "sent", "chunked", "length", "close",
        "code", "written", "taken_over", "no_body",
    )

    def __init__(self, sock: Any, raw: Any, head: RequestHead, reaper: _IdleReaper | None = None) -> None:
        self.sock = sock
        self.reaper = reaper
        self.raw = raw  # the non-blocking socket under a plain (not TLS) gevent socket
        self.head = head
        self.status: str | None = None
        self.headers: list[tuple[str, str]] = []
        self.sent = False
        self.chunked = False
        self.length: int | None = None
        self.close = not head.keep_alive
        self.code = 0
        self.written = 0
        self.taken_over = False
        self.no_body = head.method == "HEAD"

    def start_response(self, status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
        if exc_info:
            try:
                if self.sent:
                    raise exc_info[1].with_traceback(exc_info[2])
            finally:
                exc_info = None
        elif self.status is not None:
            raise AssertionError("start_response called twice without exc_info")
        if not isinstance(status, str) or len(status) < 3 or not status[:3].isdigit():
            raise ValueError(f"bad status line {status!r}")
        self.status = status
        self.headers = headers
        return self.write

    def _head(self, body_length: int | None) -> bytes:
        """The response head; `body_length` is the whole body's size when known up front."""
        status = self.status
        if status is None:
            raise AssertionError("the WSGI app wrote a body before start_response")
        code = self.code = int(status[:3])
        lines = ["HTTP/1.1 ", status, "\r\n"]
        has_length = has_encoding = False
        for name, value in self.headers:
            if "\n" in value or "\r" in value or "\n" in name or "\r" in name or ":" in name:
                raise ValueError(f"invalid response header {name!r}")
            lowered = name.lower()
            if lowered == "content-length":
                has_length = True
                self.length = int(value)
            elif lowered == "transfer-encoding":
                has_encoding = True
            elif lowered == "connection" and "close" in value.lower():
                self.close = True
                continue  # written once, below, with the server's own decision to close
            lines += (name, ": ", value, "\r\n")
        bodyless = code < 200 or code in (204, 304)
        if code == 101:
            self.close = True
        elif not has_length and not has_encoding and not bodyless:
            if body_length is not None:
                lines += ("Content-Length: ", str(body_length), "\r\n")
            elif self.no_body:
                pass
            elif self.head.version == "HTTP/1.1":
                self.chunked = True
                lines.append("Transfer-Encoding: chunked\r\n")
            else:
                self.close = True  # an HTTP/1.0 body of unknown length ends with the connection
        if bodyless or self.no_body:
            self.no_body = True
        lines += ("Date: ", _http_date(), "\r\n")
        if self.close and code != 101:
            lines.append("Connection: close\r\n")
        elif self.head.version == "HTTP/1.0":
            lines.append("Connection: keep-alive\r\n")
        lines.append("\r\n")
        return "".join(lines).encode("latin-1")

    def write(self, data: bytes) -> None:
        """WSGI ``write()``; also the path for every body chunk after the first."""
        if not self.sent:
            out = self._head(None)
            self.sent = True
            if self.code == 101:
                self._send(out + data if data else out)
                return
            if data and not self.no_body:
                out += b"%x\r\n%s\r\n" % (len(data), data) if self.chunked else data
                self.written += len(data)
            self._send(out)
            return
        if not data or self.no_body:
            return
        self.written += len(data)
        self._send(b"%x\r\n%s\r\n" % (len(data), data) if self.chunked else data)

    def _send(self, data: bytes) -> None:
        """Send all of `data`: one non-blocking ``send`` when the socket takes it (the common
        case for a response), else gevent's ``sendall`` for the rest (which also asks the
        kernel for the send buffer size on every call)."""
        raw = self.raw
        reaper = self.reaper
        try:
            if raw is not None:
                try:
                    sent = raw.send(data)
                except BlockingIOError:
                    sent = 0
                if sent == len(data):
                    return
                data = memoryview(data)[sent:]  # type: ignore[assignment]
            if reaper is None:
                self.sock.sendall(data)
            else:  # a client that does not take its response is idle too
                reaper.call(self.sock, self.sock.sendall, data)
        except OSError as exc:
            # The peer went away, or the socket was reaped: never the app's error.
            raise ConnectionDropped(str(exc)) from None

    def send_whole(self, body: bytes) -> None:
        """Head and a complete body in one write."""
        out = self._head(len(body))
        self.sent = True
        if not self.no_body:
            out += body
            self.written = len(body)
        self._send(out)

    def finish(self) -> None:
        if not self.sent:
            self.send_whole(b"")
        elif self.chunked:
            self._send(b"0\r\n\r\n")
        if self.length is not None and self.written < self.length and not self.no_body:
            self.close = True  # the app sent less than it announced: the framing is broken


class HTTPConnections:
    """The HTTP/1.1 side of the server, whatever accepts its connections: `handle(sock,
    address)` serves one connection until it ends. A server class provides ``address``,
    ``socket``, ``ssl_enabled`` and calls `_setup_http` (gevent's `HTTPServer` here,
    `engineio_core.eventlet_serving.EventletHTTPServer` on eventlet's hub)."""

    # The non-blocking socket under a connection's socket (None: no raw fast path, no takeover).
    _raw_of = staticmethod(plain_socket)
    # Whether an upgraded WebSocket may keep the connection (`TAKEOVER`, read from loop watchers).
    takeover = True
    # The environ key under which the app finds the connection's socket (`find_socket`).
    socket_key = "gevent.socket"
    address: Any
    socket: Any
    ssl_enabled: bool

    def _setup_http(
        self, application: Callable[..., Any], log: Any, error_log: Any, environ: dict[str, Any] | None,
        idle_timeout: float | None, reaper: Callable[[float], _IdleReaper] | None = None,
    ) -> None:
        self.idle_timeout = idle_timeout or None
        make_reaper = reaper or _IdleReaper
        self._reaper = make_reaper(self.idle_timeout) if self.idle_timeout else None
        self.application = application
        self.log = sys.stderr if log == "default" else log
        self.error_log = _logger if error_log == "default" or error_log is None else error_log
        self.base_environ = dict(environ or {})
        self._taken: set[Any] = set()  # taken over, until `do_close` (right after `handle`)
        self._names: tuple[str, str] | None = None
        self.router: Any = None
        """With several workers (`cluster.router.Router`): a request for a session of another
        worker is handed over to it, connection and all, before the app sees it."""

    def _server_names(self) -> tuple[str, str]:
        if self._names is None:
            address = self.address
            host = address[0] if isinstance(address, tuple) else "localhost"
            port = address[1] if isinstance(address, tuple) and len(address) > 1 else ""
            if isinstance(address, tuple) and getattr(self, "socket", None) is not None:
                port = self.socket.getsockname()[1]
            self._names = (str(host), str(port))
        return self._names

    def do_close(self, sock: Any, *args: Any) -> None:
        if sock in self._taken:
            self._taken.discard(sock)
            return  # a WebSocket owns it now
        sock.close()

    def handle(self, sock: Any, address: Any, received: bytes = b"", handed: bool = False) -> None:
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except (OSError, AttributeError):
            pass
        reaper = self._reaper
        if reaper is not None and reaper._task is None:
            reaper.start()  # here: in the thread (and hub) that serves
        try:
            self._serve(sock, address, received, handed)
        except OSError:
            pass  # the peer went away (ConnectionDropped included); nothing to answer

    def serve_handed(self, sock: Any, received: bytes) -> None:
        """Serve a connection another worker handed over (`cluster.router`), starting with the
        bytes it had received (a whole request head at least)."""
        try:
            address = sock.getpeername()
        except OSError:
            sock.close()
            return
        try:
            self.handle(sock, address, received, True)
        finally:
            self.do_close(sock)

    def _serve(self, sock: Any, address: Any, buf: bytes = b"", handed: bool = False) -> None:
        recv = sock.recv
        router = self.router
        app = self.application
        server_name, server_port = self._server_names()
        scheme = "https" if self.ssl_enabled else "http"
        raw = self._raw_of(sock)  # None with TLS: no takeover, no raw fast path
        can_take_over = raw is not None and self.takeover
        base = self.base_environ
        reaper = self._reaper
        while True:
            end = find_head_end(buf) if buf else -1
            try:
                while end < 0:
                    check_partial(buf)
                    data = recv(RECV_SIZE) if reaper is None else reaper.call(sock, recv, RECV_SIZE)
                    if not data:
                        return
                    buf = buf + data if buf else data
                    end = find_head_end(buf)
                head = parse_head(buf[:end])
            except HTTPError as exc:
                self._refuse(sock, exc)
                return
            if router is not None:
                owner = router.owner(head.target, not handed)
                if owner is not None and router.hand_over(sock, owner, buf):
                    return  # the owner serves the connection from this request on
            body = RequestBody(sock, buf[end:], head, reaper)
            buf = b""
            environ = build_environ(head, server_name, server_port, address, scheme)
            if base:
                for key, value in base.items():
                    environ.setdefault(key, value)
            environ["wsgi.input"] = body
            environ["wsgi.errors"] = sys.stderr
            environ[self.socket_key] = sock
            response = _Response(sock, raw, head, reaper)
            if can_take_over and "HTTP_UPGRADE" in environ:
                environ[TAKEOVER] = _TakeOver(self, sock, body, response)
            started = time.time() if self.log is not None else 0.0
            if not self._run_app(app, environ, response):
                return
            if self.log is not None:
                self._log_request(address, head, response, started)
            if response.taken_over:
                return
            if response.close:
                return
            rest = body.leftover()
            if rest is None:
                return
            buf = rest

    def _run_app(self, app: Callable[..., Any], environ: dict[str, Any], response: _Response) -> bool:
        """Call the app and send its response; False when the connection must end here."""
        result: Any = None
        try:
            result = app(environ, response.start_response)
            if response.taken_over:
                pass  # the app answered on the socket itself (a WebSocket's 101) and owns it
            elif type(result) is list and len(result) <= 1 and not response.sent:
                response.send_whole(result[0] if result else b"")
            else:
                if not response.sent and isinstance(result, (list, tuple)):
                    response.send_whole(b"".join(result))
                else:
                    for data in result:
                        if data:
                            response.write(data)
                    response.finish()
        except ConnectionError as exc:
            if isinstance(exc, BadRequestBody) and not response.sent and not response.taken_over:
                self._refuse(response.sock, exc.error)
            return False
        except Exception:
            self.error_log.exception("error in the WSGI application (%s %s)",
                                     environ.get("REQUEST_METHOD"), environ.get("RAW_URI"))
            if not response.sent and not response.taken_over:
                _answer_and_close(response.sock, 500, b"Internal Server Error")
            return False
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                try:
                    close()
                except Exception:
                    self.error_log.exception("error closing the WSGI response")
        return True

    def _refuse(self, sock: Any, exc: HTTPError) -> None:
        self.error_log.info("refused a request: %s %s", exc.status, exc.reason)
        _answer_and_close(sock, exc.status, b"", REASONS.get(exc.status, exc.reason))

    def _log_request(self, address: Any, head: RequestHead, response: _Response, started: float) -> None:
        client = address[0] if isinstance(address, tuple) else address
        when = time.strftime("%Y-%m-%d %H:%M:%S")
        line = (f'{client} - - [{when}] "{head.method} {head.target} {head.version}" '
                f"{response.code or '-'} {response.written} {time.time() - started:.6f}")
        log = self.log
        if hasattr(log, "info") and not hasattr(log, "write"):
            log.info(line)
        else:
            log.write(line + "\n")


class HTTPServer(HTTPConnections, StreamServer):  # type: ignore[misc]
    """A gevent stream server speaking HTTP/1.1 to a WSGI app (see the module docstring).

    Options as gevent's pywsgi: ``log`` (a file-like or logger for the access log, None for
    none), ``error_log``, ``environ`` (base environ), ``backlog``, ``spawn`` and SSL arguments
    (``certfile=``, ``keyfile=``, ``ssl_context=``). And ``idle_timeout`` (seconds, default
    `IDLE_TIMEOUT`; None for none): how long a connection may wait for the next request, for
    the rest of a head or body, or for the client to take a response, before it is closed
    (slow or idle clients cannot hold connections forever). It does not apply to a WebSocket
    once upgraded: heartbeats bound those. A long-poll waiting for data is the app's time,
    not the connection's, and is not cut either."""

    def __init__(
        self,
        listener: Any,
        application: Callable[..., Any],
        log: Any = "default",
        error_log: Any = "default",
        environ: dict[str, Any] | None = None,
        idle_timeout: float | None = IDLE_TIMEOUT,
        **kwargs: Any,
    ) -> None:
        StreamServer.__init__(self, listener, **kwargs)
        self._setup_http(application, log, error_log, environ, idle_timeout)

    def close(self) -> None:
        super().close()
        reaper = getattr(self, "_reaper", None)  # None too if __init__ failed before it
        if reaper is not None:
            reaper.stop()


class _IdleReaper:
    """Closes connections that have waited on their client for more than `timeout` seconds
    (for a request, the rest of one, or to take a response). One greenlet per server sweeps
    `waiting` (socket -> when its wait began) a few times per timeout; closing a gevent socket
    wakes the greenlet blocked on it with an error. A gevent socket timeout would arm a timer
    for every blocking call instead: about 10 us per request."""

    __slots__ = ("timeout", "waiting", "_task")
    # What runs the sweep (the eventlet server's reaper redefines these three).
    _spawn = staticmethod(gevent.spawn)
    _sleep = staticmethod(gevent.sleep)

    @staticmethod
    def _kill(task: Any) -> None:
        task.kill(block=False)

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.waiting: dict[Any, float] = {}
        self._task: Any = None

    def call(self, sock: Any, fn: Callable[[Any], Any], arg: Any) -> Any:
        """`fn(arg)`, a blocking call on `sock`, with `sock` counted as waiting meanwhile."""
        waiting = self.waiting
        waiting[sock] = time.monotonic()
        try:
            return fn(arg)
        finally:
            waiting.pop(sock, None)

    def start(self) -> None:
        if self._task is None:
            self._task = self._spawn(self._sweep)

    def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            self._kill(task)

    def _sweep(self) -> None:
        interval = self.timeout / 4
        waiting = self.waiting
        sleep = self._sleep
        while True:
            sleep(interval)
            limit = time.monotonic() - self.timeout
            for sock, since in list(waiting.items()):
                if since <= limit and waiting.get(sock) == since:
                    del waiting[sock]
                    try:
                        sock.close()
                    except OSError:
                        pass


def _answer_and_close(sock: Any, status: int, body: bytes, reason: str | None = None) -> None:
    """The server's own short answer (a refused head, a 500), ending the connection."""
    head = (f"HTTP/1.1 {status} {reason or REASONS[status]}\r\n"
            + ("Content-Type: text/plain\r\n" if body else "")
            + f"Content-Length: {len(body)}\r\nConnection: close\r\nDate: {_http_date()}\r\n\r\n")
    try:
        sock.sendall(head.encode("latin-1") + body)
    except OSError:
        pass  # the peer is gone: nothing to answer


class _TakeOver:
    """``environ[TAKEOVER]``: called by an app that keeps the socket after it returns (an
    upgraded WebSocket). Returns the bytes already received past the request head."""

    __slots__ = ("_server", "_sock", "_body", "_response")

    def __init__(self, server: HTTPConnections, sock: Any, body: RequestBody, response: _Response) -> None:
        self._server = server
        self._sock = sock
        self._body = body
        self._response = response

    def __call__(self) -> bytes:
        self._response.taken_over = True
        self._server._taken.add(self._sock)
        return self._body.pending()


def make_server(
    app: Callable[..., Any],
    host: str = "127.0.0.1",
    port: int = 5000,
    log_output: bool = False,
    listener: Any = None,
    **kwargs: Any,
) -> HTTPServer:
    """A ready (not yet started) server. `port=0` picks a free port. ``certfile=``/``keyfile=``
    serve TLS through a server context with the ``ssl`` module's current defaults (TLS 1.2
    or later), not gevent's deprecated `wrap_socket` path. It must be gevent's `SSLContext`:
    ``ssl.create_default_context`` (even as ``gevent.ssl.create_default_context``) makes a
    standard-library context whose sockets block the whole hub. `listener`: an already bound
    and listening socket to accept on instead of binding ``host:port`` (a worker's)."""
    if not log_output:
        kwargs.setdefault("log", None)
    certfile = kwargs.pop("certfile", None)
    keyfile = kwargs.pop("keyfile", None)
    if certfile is not None and "ssl_context" not in kwargs:
        from gevent import ssl as gevent_ssl

        context = gevent_ssl.SSLContext(gevent_ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(certfile, keyfile)
        kwargs["ssl_context"] = context
    return HTTPServer(listener if listener is not None else (host, port), app, **kwargs)


def serve(app: Callable[..., Any], host: str = "127.0.0.1", port: int = 5000, workers: int | str | None = None,
          **kwargs: Any) -> None:
    """Serve `app` forever (SSL: pass ``certfile=``/``keyfile=`` as for gevent's servers).
    ``workers=N`` (or ``'auto'``: one per core) serves from N processes on the port
    (`cluster.workers.serve_workers`)."""
    if workers not in (None, 1):
        from .cluster.workers import serve_workers

        serve_workers(app, host, port, workers, **kwargs)
        return
    make_server(app, host, port, **kwargs).serve_forever()


__all__ = ["TAKEOVER", "HTTPConnections", "HTTPServer", "make_server", "serve"]
