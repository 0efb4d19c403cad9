"""Serving WebSockets: the handshake answer, the read loop, and the upgrade probe.

`transports.websocket` owns the wire (wsproto framing, the 101 head, finding the socket);
this module owns what happens on a WebSocket once it is accepted: a new session opened over
it, or a candidate socket probing to take over a polling session, and the loop that reads it
and hands what arrives to the session. It talks to the server only through `TransportHost`.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from logging import INFO
from typing import Any

from ..drivers.base import PEER_GONE
from ..encoded import EncodedMessage
from ..errors import RemoteProtocolError
from ..events import MessageReceived, ProbeFailed, ProbeReceived, Reason, Upgraded
from ..handshake import open_packet_data
from ..packets import PROBE_PONG, EnginePacket, PacketType, decode_binary, decode_text, describe
from ..state import State
from .connection import Connection, StartResponse, TransportHost
from .polling import cookie_header
from .websocket import (
    NO_STATUS,
    TAKEOVER,
    WebSocket,
    WebSocketFinished,
    find_socket,
    negotiate,
    send_switching_protocols,
    switching_protocols_head,
    wrote_own_handshake,
)
from .websocket_v3 import WebSocketV3

_ENCODED_PROBE_PONG = EncodedMessage(PROBE_PONG)

# Reasons for closing a WebSocket, by who is to blame.
WS_CLOSE_NORMAL = 1000
_WS_CLOSE_POLICY = 1008
# Upper bound on waiting for a closing WebSocket's flush (the gevent writer gives up after 5 s).
_WS_CLOSE_WAIT = 10.0
# While a probe is pending, a waiting poll is answered with NOOP on this period (Node's upgrade
# check interval), not at once: a poll that gets data within it carries the data instead.
PROBE_NOOP_INTERVAL = 0.1


class WebSocketReader:
    """Who reads a WebSocket now: the WSGI request's greenlet, a successor it handed reading
    to when one of its handlers blocked, or (with a read watcher) a greenlet started when the
    socket became readable. `pending` holds received messages not yet handled."""

    __slots__ = (
        "serving", "conn", "ws", "pending", "next", "owner", "finished", "watcher", "done", "failed",
    )

    def __init__(self, serving: WebSocketServing, conn: Connection, ws: WebSocket, watcher: Any) -> None:
        self.serving = serving
        self.conn = conn
        self.ws = ws
        # Handled up to `next` (a deque costs 600 B); an empty tuple while the reader waits
        # for the socket, so an idle connection keeps no list.
        self.pending: Sequence[str | bytes] = ()
        self.next = 0
        self.owner: object = None
        self.watcher = watcher
        self.finished = serving.host.driver.event() if watcher is None else None
        self.done = False
        self.failed: RemoteProtocolError | None = None

    def claim(self) -> object:
        token = self.owner = object()
        return token

    def hand_over(self) -> None:
        """Called (from the loop) while the owner's handler is blocked: ownership moves now,
        so the blocked greenlet never touches the pending messages or the socket again."""
        if self.done:
            return
        self.serving.host.driver.spawn(self.serving.read_loop, self, self.claim())

    def on_readable(self) -> None:
        """The read watcher's callback (in the loop): read and handle on a worker greenlet."""
        self.watcher.stop()
        if not self.done:
            self.serving.host.driver.run_now(self.serving.read_loop, self, self.claim())


class _WriteErrorHandler:
    """A WebSocket's write-error callback: closes the session it is attached to (none yet while
    the session is being opened). Two objects per connection for the garbage collector (this
    and a weak reference), where a closure took five (function, cells, their tuple, a holder
    list). The reference is weak because the connection holds the WebSocket, which holds its
    writer, which holds this: a strong one made every closed connection cyclic garbage (19
    objects each) that only a collection freed."""

    __slots__ = ("host", "conn")

    def __init__(self, host: TransportHost) -> None:
        self.host = host
        self.conn: Callable[[], Connection | None] = _nobody

    def attach(self, conn: Connection) -> None:
        self.conn = weakref.ref(conn)

    def __call__(self, reason: str) -> None:
        conn = self.conn()
        if conn is not None:
            host = self.host
            log = host.logger.info if reason == PEER_GONE else host.logger.warning
            log("%s: %s", conn.session.eio_sid, reason)
            host.close(conn, Reason.TRANSPORT_ERROR)


class _EmptyBody:
    """``wsgi.input`` of a WebSocket request once our server handed its socket over: what
    follows the request's head are WebSocket frames, never a body. One shared instance, where
    the server's body reader stayed in the environ (one more tracked object per connection)."""

    __slots__ = ()

    def read(self, size: int = -1) -> bytes:
        return b""

    def readline(self, size: int = -1) -> bytes:
        return b""

    def readlines(self, hint: int = -1) -> list[bytes]:
        return []

    def __iter__(self) -> Iterator[bytes]:
        return iter(())


_NO_BODY = _EmptyBody()


def _nobody() -> None:
    """What `_WriteErrorHandler.conn` returns before a session is attached."""
    return None


class _Accepted:
    """A WebSocket answered with 101: the socket object, its read watcher (our own server's
    takeover) or None (the WSGI request's greenlet reads), and what arrived after the head."""

    __slots__ = ("ws", "watcher", "early")

    def __init__(self, ws: WebSocket, watcher: Any, early: bytes) -> None:
        self.ws = ws
        self.watcher = watcher
        self.early = early


class _HeldSends:
    """Stands in for a new session's WebSocket while its connect handler runs: the OPEN
    packet must go first (Node and the reference send it before anything the handler sends),
    and it can only go once the handler accepted. Keeps the sends, and a close, in order."""

    __slots__ = ("messages", "closing", "buffered")

    def __init__(self) -> None:
        self.messages: list[EncodedMessage] = []
        self.closing: tuple[int, str] | None = None
        self.buffered = 0

    def send(self, message: EncodedMessage) -> None:
        if self.closing is None:
            self.messages.append(message)

    def close(self, code: int = WS_CLOSE_NORMAL, reason: str = "") -> None:
        if self.closing is None:
            self.closing = (code, reason)

    def replay(self, ws: WebSocket) -> None:
        for message in self.messages:
            ws.send_now(message)
        if self.closing is not None:
            ws.close(*self.closing)


class WebSocketServing:
    """Accepts WebSockets for the server and reads them."""

    __slots__ = ("host",)

    def __init__(self, host: TransportHost) -> None:
        self.host = host

    # -- the handshake ---------------------------------------------------------------------------
    def serve(
        self, environ: dict[str, Any], start_response: StartResponse, conn: Connection | None,
        refuse: bool = False, protocol: int = 4,
    ) -> Iterable[bytes]:
        """Answer a WebSocket handshake: a new session (`conn` None) speaking Engine.IO
        `protocol`, an upgrade probe of `conn`, or (`refuse`) a WebSocket for a session that
        has one already, which is accepted with 101 and closed at once without touching the
        session."""
        host = self.host
        cfg = host.config
        sock = find_socket(environ)
        if sock is None:
            host.logger.warning("WebSocket upgrade requested, but this WSGI server exposes no socket")
            return host.respond_error(environ, start_response, 400, "Invalid transport")
        try:
            headers, deflate = negotiate(environ, cfg.websocket_compression, cfg.max_http_buffer_size)
        except RemoteProtocolError as exc:
            host.logger.info("bad websocket upgrade: %s", exc.message)
            return host.respond_error(environ, start_response, 400, exc.message)
        if conn is None and host.at_capacity():
            return host.respond_error(environ, start_response, 503, "Server at capacity")
        if refuse:
            return self._refuse(environ, start_response, sock, headers, deflate)
        eio_sid = ""
        if cfg.cookie and conn is None:
            eio_sid = host.generate_id()
            headers.append(("Set-Cookie", cookie_header(cfg.cookie, eio_sid)))
        holder = _WriteErrorHandler(host)
        if conn is not None:
            protocol = conn.session.protocol
        accepted = self._answer_upgrade(environ, start_response, sock, headers, deflate, holder, protocol)
        if conn is None:
            conn = self._open_session(environ, accepted, eio_sid, holder.attach, protocol)
            if conn is None:
                return self._refused_session(environ, accepted)
        else:
            host.logger.info("%s: Received request to upgrade to websocket", conn.session.eio_sid)
            conn.probe_ws = accepted.ws
            holder.attach(conn)
        if accepted.watcher is not None:
            self._start_watched(conn, accepted)
            return []
        return self._read_until_closed(environ, conn, accepted.ws)

    def _answer_upgrade(
        self, environ: dict[str, Any], start_response: StartResponse, sock: Any,
        headers: list[tuple[str, str]], deflate: Any, holder: _WriteErrorHandler, protocol: int = 4,
    ) -> _Accepted:
        """Answer 101 and make the `WebSocket`. A write error closes the session `holder`
        holds by then (none yet while the session is being opened)."""
        host = self.host
        cfg = host.config
        take_over = environ.get(TAKEOVER)
        watcher = host.driver.read_watcher(sock) if take_over is not None else None
        if watcher is None:
            send_switching_protocols(environ, start_response, sock, headers)

        socket_class = WebSocketV3 if protocol == 3 else WebSocket
        ws = socket_class(sock, host.driver, deflate, cfg.max_http_buffer_size, host.flow,
                          holder, cfg.compression_threshold)
        early = b""
        if watcher is not None and take_over is not None:
            # Our own server leaves the socket to us: the 101 goes out through the writer (the
            # OPEN packet follows as a send of its own, as Node writes them), and reading is
            # driven by the loop's readiness callbacks, so an idle WebSocket holds no greenlet.
            early = take_over()
            del environ[TAKEOVER]  # kept for the connection's life otherwise, with what it holds
            # Likewise the request's body reader (the socket's bytes are the WebSocket's now).
            environ["wsgi.input"] = _NO_BODY
            ws.write_raw(switching_protocols_head(headers))
        return _Accepted(ws, watcher, early)

    def _open_session(
        self, environ: dict[str, Any], accepted: _Accepted, eio_sid: str,
        on_open: Callable[[Connection], None], protocol: int = 4,
    ) -> Connection | None:
        """A WebSocket without a sid: a new session over it, its OPEN packet sent first, then
        what the connect handler sent (held meanwhile, as the handler may still refuse)."""
        host = self.host
        held = _HeldSends()

        def hold(conn: Connection) -> None:
            on_open(conn)
            conn.ws = held

        conn = host.open_session(environ, eio_sid, accepted.ws, hold, protocol=protocol)
        if conn is None:
            return None
        conn.ws = accepted.ws
        eio_sid = conn.session.eio_sid
        opening = EnginePacket(PacketType.OPEN, open_packet_data(eio_sid, [], host.config))
        host.logger.info("%s: Sending packet %s", eio_sid, describe(opening))
        accepted.ws.send_now(EncodedMessage(opening))
        held.replay(accepted.ws)
        host.schedule(conn)
        host.notify("opened", conn)
        return conn

    def _refused_session(self, environ: dict[str, Any], accepted: _Accepted) -> Iterable[bytes]:
        """The connect handler refused a session opened over a WebSocket: close it (1008)."""
        ws = accepted.ws
        ws.close(_WS_CLOSE_POLICY, "Unauthorized")
        if accepted.watcher is not None:
            accepted.watcher.close()
            ws.close_socket_when_flushed()
            return []
        ws.wait_closed(self.host.driver, _WS_CLOSE_WAIT)
        return _ws_done(environ)

    def _refuse(
        self, environ: dict[str, Any], start_response: StartResponse, sock: Any,
        headers: list[tuple[str, str]], deflate: Any,
    ) -> Iterable[bytes]:
        """101, then an empty close frame (the Node server's ``websocket.close()``), then the
        end of the connection; nothing is read from it."""
        host = self.host
        cfg = host.config
        take_over = environ.get(TAKEOVER)
        if take_over is None:
            send_switching_protocols(environ, start_response, sock, headers)
        ws = WebSocket(sock, host.driver, deflate, cfg.max_http_buffer_size, host.flow,
                       lambda reason: None, cfg.compression_threshold)
        if take_over is not None:
            take_over()
            del environ[TAKEOVER]
            ws.write_raw(switching_protocols_head(headers))
        ws.close(NO_STATUS)
        if take_over is not None:
            ws.close_socket_when_flushed()
            return []
        ws.wait_closed(host.driver, _WS_CLOSE_WAIT)
        return _ws_done(environ)

    def _start_watched(self, conn: Connection, accepted: _Accepted) -> None:
        """Our own server: handle what came with the head, then read on readiness."""
        reader = WebSocketReader(self, conn, accepted.ws, accepted.watcher)
        try:
            if accepted.early:
                reader.pending = accepted.ws.feed(accepted.early)
        except RemoteProtocolError as exc:
            reader.failed = exc
        self.read_loop(reader, reader.claim())

    def _read_until_closed(self, environ: dict[str, Any], conn: Connection, ws: WebSocket) -> Iterable[bytes]:
        """Another WSGI server: this request's greenlet or thread reads until the end."""
        reader = WebSocketReader(self, conn, ws, None)
        try:
            self.read_loop(reader, reader.claim())
            # If a handler blocked, reading moved to another greenlet: wait for the end here.
            if reader.finished is not None:
                reader.finished.wait()
        finally:
            # Hand the connection back to the WSGI server only once it is flushed and shut
            # down (see `WebSocket.wait_closed`).
            ws.close()
            ws.wait_closed(self.host.driver, _WS_CLOSE_WAIT)
        return _ws_done(environ)

    # -- reading ---------------------------------------------------------------------------------
    def read_loop(self, reader: WebSocketReader, token: object) -> None:
        """Read one WebSocket while `token` owns it.

        Messages are handled inline, under the driver's guard: when a handler blocks, the
        guard hands reading over to a new greenlet (`WebSocketReader.hand_over`) so the
        connection keeps being read (PONGs, acks for a `call()` the handler waits on), and
        this greenlet returns once its handler is done. Most handlers never block, and then an
        event costs no extra greenlet at all. With a read watcher (our own server), the loop
        returns when the socket has nothing more to read and the watcher calls it again."""
        ws = reader.ws
        reason = Reason.TRANSPORT_CLOSE
        ended = True
        try:
            if reader.failed is not None:
                raise reader.failed
            ended = self._read(reader, token)
        except RemoteProtocolError as exc:
            self.host.logger.warning("%s: %s, closing the connection", reader.conn.session.eio_sid, exc.message)
            reason = Reason.TRANSPORT_ERROR
            code = exc.status if 1000 <= exc.status < 5000 and exc.status != 400 else 1002
            ws.close(code)  # no reason text, as Node's ws (the reason is in the log line above)
        finally:
            if ended and reader.owner is token and not reader.done:
                self._end_reading(reader, reason)

    def _read(self, reader: WebSocketReader, token: object) -> bool:
        """Handle pending messages and read more, until the socket or the session ends (True)
        or reading pauses: the watcher waits for the socket, or another greenlet took over
        (False, except when the session ended meanwhile)."""
        ws = reader.ws
        watcher = reader.watcher
        blocking = watcher is None
        fresh = not blocking  # the watcher just said "readable"
        while True:
            pending = reader.pending
            if reader.next >= len(pending):
                if ws.failure is not None:
                    raise ws.failure  # after the messages that came before it
                if ws.peer_closed:
                    return True
                # With a watcher, read once per readiness: it is level-triggered, so what
                # arrives meanwhile calls us again (no recv that would say EAGAIN).
                received = ws.receive(blocking) if blocking or fresh else None
                fresh = False
                if received is None:  # nothing (more) to read now: wait for the watcher
                    reader.pending = ()  # every message was handled: drop the list
                    reader.next = 0
                    watcher.start(reader.on_readable)
                    return False
                if not received:
                    return True
                reader.pending = ws.feed(received)
                reader.next = 0
                continue
            data = pending[reader.next]
            reader.next += 1  # before handling: a successor must not handle it again
            if not self._handle(reader, token, data):
                return True

    def _handle(self, reader: WebSocketReader, token: object, data: str | bytes) -> bool:
        """One message from the socket; False ends this reading greenlet (the session or the
        probe ended, or reading was handed to another greenlet)."""
        host = self.host
        conn, ws = reader.conn, reader.ws
        session = conn.session
        packet = decode_text(data) if isinstance(data, str) else decode_binary(data)
        if host.logger.isEnabledFor(INFO):
            host.log_packet(session.eio_sid, "Received", packet)
        if conn.ws is not ws:
            return self._probe(conn, ws, packet)
        if packet.type is PacketType.PONG:
            deadline = session.next_deadline()
            session.receive(packet, host.driver.monotonic())
            if session.next_deadline() != deadline:  # not out of sequence
                host.schedule(conn)
            return True
        event = session.receive(packet, host.driver.monotonic())
        if isinstance(event, MessageReceived):
            host.driver.run_guarded(host.handle_event, (conn, event), reader.hand_over)
            if reader.owner is not token:
                return False  # another greenlet reads now (it ends the session, not us)
        elif event is not None:
            host.handle_event(conn, event)
        return session.is_open

    # -- the end of a socket: four cases, one step each -------------------------------------------
    def _end_reading(self, reader: WebSocketReader, reason: str) -> None:
        """This greenlet owns the socket and reading is over: release what it held."""
        reader.done = True
        conn, ws = reader.conn, reader.ws
        if conn.ws is ws:
            self._end_session_transport(conn, ws, reason)
        elif conn.probe_ws is ws:
            self._end_probe(conn, ws)
        if reader.watcher is not None:
            self._release_watched_socket(reader)
        elif reader.finished is not None:
            reader.finished.set()  # the WSGI request waiting in `_read_until_closed` returns

    def _end_session_transport(self, conn: Connection, ws: WebSocket, reason: str) -> None:
        """The session's own transport ended: the session ends with it."""
        if conn.session.is_open:
            self.host.close(conn, reason)
        ws.close()

    def _end_probe(self, conn: Connection, ws: WebSocket) -> None:
        """A candidate socket ended before the upgrade completed: polling goes on."""
        conn.probe_ws = None
        conn.session.probe_failed()
        ws.close()

    @staticmethod
    def _release_watched_socket(reader: WebSocketReader) -> None:
        """Our own server: stop watching first (the socket must not close under a live
        watcher), then close the socket once what is queued is flushed."""
        reader.watcher.close()
        reader.ws.close_socket_when_flushed()

    # -- the upgrade -----------------------------------------------------------------------------
    def _probe(self, conn: Connection, ws: WebSocket, packet: EnginePacket) -> bool:
        """Drive the upgrade handshake on the candidate socket; False ends that socket."""
        host = self.host
        event = conn.session.receive_probe(packet)
        if isinstance(event, ProbeReceived):
            ws.send(_ENCODED_PROBE_PONG)
            host.call_later(PROBE_NOOP_INTERVAL, self._probe_check, conn, ws)
            return True
        if isinstance(event, Upgraded):
            with host.lock:
                conn.ws = ws
                conn.probe_ws = None
                backlog = conn.session.drain()
                host.polled(conn)
            for message in backlog:
                ws.send(message)
            conn.wake_poll()
            host.logger.info("%s: Upgrade to websocket successful", conn.session.eio_sid)
            host.notify("upgrade", conn)
            return True
        assert isinstance(event, ProbeFailed)
        host.logger.info("%s: Failed websocket upgrade: %s", conn.session.eio_sid, event.reason)
        return False

    def _probe_check(self, conn: Connection, ws: WebSocket) -> None:
        """Node's upgrade check: while `ws` is the pending probe, a waiting poll is answered
        (NOOP) every `PROBE_NOOP_INTERVAL`, so the client can pause polling and upgrade."""
        if conn.probe_ws is ws and conn.session.state is State.PROBING:
            conn.wake_poll()
            self.host.call_later(PROBE_NOOP_INTERVAL, self._probe_check, conn, ws)


def _ws_done(environ: dict[str, Any]) -> Iterable[bytes]:
    """What the WSGI app returns once a WebSocket is over: no body (the 101 was sent).

    Werkzeug's dev server would still write a response after the app returns; ending with a
    `ConnectionError` makes it treat the connection as dropped (silently), which it now is."""
    if wrote_own_handshake(environ):
        raise WebSocketFinished("WebSocket session over")
    return []
