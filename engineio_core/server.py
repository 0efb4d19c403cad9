"""`EngineServer`: the session registry, request routing and the timer loop.

This is the driver-agnostic glue between the pure protocol objects (`EngineSession`, packets,
payloads) and the I/O (WSGI requests, WebSocket sockets, greenlets or threads). Handlers:

- ``connect(eio_sid, environ)``: return False to refuse (HTTP 401 / WebSocket closed)
- ``message(eio_sid, data)``: ``str`` or ``bytes``, called in the reading greenlet/thread
- ``disconnect(eio_sid, reason)``: once per session, with one of `Reason`'s values
- ``opened(eio_sid)``: after the session's OPEN packet went out (or was answered)
- ``upgrade(eio_sid)``: the session moved from long-polling to its WebSocket
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Iterable
from logging import INFO
from typing import Any

from .backpressure import THREAD_WINDOW, Backpressure
from .cluster.tags import new_sid
from .config import EngineConfig, EngineIOAttributes, build_config
from .cors import OriginPolicy
from .drivers import select_driver
from .drivers.base import Waiter
from .encoded import EncodedMessage
from .errors import ErrorCode, RemoteProtocolError
from .events import Closed, Event, MessageReceived, Reason, SendPing, SendPong
from .flow import FlowControl
from .handshake import UNSUPPORTED_VERSION, VERSION_HINT, parse_query, validate_request
from .packet_log import PacketLog
from .packets import PING, PONG
from .session import EngineSession, OutboxFull
from .state import State
from .timer_loop import TimerLoop
from .transports.connection import Connection, StartResponse
from .transports.polling import ENCODED_CLOSE, PollingTransport
from .transports.websocket import WebSocket
from .transports.websocket_serving import WS_CLOSE_NORMAL, WebSocketServing

_ENCODED_PING = EncodedMessage(PING)
_ENCODED_PONG = EncodedMessage(PONG)

__all__ = ["THREAD_WINDOW", "Connection", "EngineServer"]


class EngineServer(EngineIOAttributes):
    """An Engine.IO v4 server. Options keep python-engineio's names (see `EngineConfig`)."""

    reason = Reason

    def __init__(self, **options: Any) -> None:
        self.config: EngineConfig = build_config(options, self._warn_option)
        cfg = self.config
        self.logger: logging.Logger = cfg.logger
        self.driver = select_driver(cfg.async_mode)
        self.async_mode = self.driver.name
        self.origins = OriginPolicy(cfg.cors_allowed_origins, cfg.cors_credentials)
        self.handlers: dict[str, Callable[..., Any]] = {}
        self._conns: dict[str, Connection] = {}
        self.lock = self.driver.lock()
        self._timer_loop = TimerLoop(self.driver, self._on_session_timer, self.logger)
        self._timers = self._timer_loop.heap
        self.flow = FlowControl(cfg.high_water_mark, cfg.low_water_mark, cfg.max_outbox_bytes, cfg.stall_timeout,
                                cfg.stall_patience, cfg.max_unwaited_bytes)
        self.flow.schedule = self.call_later
        # Flow-control waiting, and what a session can take now (`writable`: volatile emits).
        self.backpressure = Backpressure(self.driver, self.flow, self._conns, self.call_later, self.logger)
        self.backpressure.close = self.close
        self.packet_log = PacketLog(self.logger)
        self.log_packet = self.packet_log.packet  # the transports' TransportHost.log_packet
        self.polling = PollingTransport(self, self.origins)
        self.websocket = WebSocketServing(self)
        self.logger.info("Server initialized for %s.", self.async_mode)

    # -- public API ------------------------------------------------------------------------
    @staticmethod
    def _warn_option(message: str) -> None:
        warnings.warn(message, UserWarning, stacklevel=4)

    def on(self, event: str, handler: Callable[..., Any] | None = None) -> Any:
        """Register a handler for ``connect``, ``message`` or ``disconnect`` (decorator or call)."""
        if event not in ("connect", "message", "disconnect", "opened", "upgrade"):
            raise ValueError(f"unknown Engine.IO event {event!r}")

        def register(fn: Callable[..., Any]) -> Callable[..., Any]:
            self.handlers[event] = fn
            return fn

        return register(handler) if handler is not None else register

    def generate_id(self) -> str:
        """A session id: 128 random bits, URL-safe; with workers, ``<worker tag>.<token>``."""
        return new_sid()

    def send(self, eio_sid: str, data: str | bytes) -> bool:
        """Send one message to a session, from any greenlet or thread. False if it is gone."""
        return self.send_encoded(eio_sid, EncodedMessage.message(data))

    def send_encoded(self, eio_sid: str, message: EncodedMessage) -> bool:
        """Send a pre-encoded (possibly shared) message to one session, as a write of its own
        (the connect path: OPEN, CONNECT ack, what the connect handler emitted; see
        `WebSocket.send_now`). False if the session is gone. May wait (flow control)."""
        if not self.driver.in_loop():
            self.run_from_thread(self.send_encoded, eio_sid, message)
            return True
        conn = self._conns.get(eio_sid)
        if conn is None:
            return False
        if self.logger.isEnabledFor(INFO):
            self.log_packet(eio_sid, "Sending", message.packet)
        self._deliver(conn, message, True)
        if self.flow.congested:
            self.backpressure.wait_for((eio_sid,))
        return True

    def send_many(self, eio_sids: Iterable[str], message: EncodedMessage) -> None:
        """Fan one encoded message out to many sessions: one encoding, N appends. Writes are
        coalesced per loop pass. A caller that may wait waits while a recipient is congested
        (`engineio_core.flow`)."""
        if not self.driver.in_loop():
            self.run_from_thread(self.send_many, list(eio_sids), message)
            return
        if not isinstance(eio_sids, (list, tuple)):
            eio_sids = list(eio_sids)
        conns = self._conns
        deliver = self._deliver
        websocket = State.WEBSOCKET
        if self.logger.isEnabledFor(INFO):  # checked once per fan-out, not per recipient
            for eio_sid in eio_sids:
                if eio_sid in conns:
                    self.log_packet(eio_sid, "Sending", message.packet)
        for eio_sid in eio_sids:
            conn = conns.get(eio_sid)
            if conn is not None:
                ws = conn.ws
                if ws is not None and conn.session.state is websocket:
                    ws.send(message)  # `_deliver`'s first case, inlined: the common one
                else:
                    deliver(conn, message)
        if self.flow.congested:
            self.backpressure.wait_for(eio_sids)

    @property
    def thread_window(self) -> int:
        """Calls from foreign OS threads in flight before such a thread waits (0: it never
        waits for the loop; the Flask test client sets that)."""
        return self.backpressure.thread_window

    @thread_window.setter
    def thread_window(self, value: int) -> None:
        self.backpressure.thread_window = value

    def run_from_thread(self, fn: Callable[..., Any], *args: Any) -> None:
        """From a foreign OS thread (gevent without monkey-patching): run `fn(*args)` on the
        loop. The thread is held back (a thread-safe wait) while `THREAD_WINDOW` of its calls
        are not applied yet, or while recipients of what it sent are congested: a thread that
        emits faster than clients read waits, like a greenlet would."""
        self.backpressure.run_from_thread(fn, args)

    def disconnect(self, eio_sid: str | None = None) -> None:
        """Close one session (or all of them) from the server side."""
        if not self.driver.in_loop():
            self.driver.call_in_loop(self.disconnect, eio_sid)
            return
        sids = list(self._conns) if eio_sid is None else [eio_sid]
        for sid in sids:
            conn = self._conns.get(sid)
            if conn is not None:
                self.close(conn, Reason.SERVER_DISCONNECT, send_close=True)

    def transport(self, eio_sid: str) -> str:
        conn = self._conns.get(eio_sid)
        if conn is None:
            raise KeyError(eio_sid)
        return conn.session.transport

    def protocol(self, eio_sid: str) -> int:
        """The Engine.IO protocol revision a session speaks: 4, or 3 (``allow_eio3``)."""
        conn = self._conns.get(eio_sid)
        if conn is None:
            raise KeyError(eio_sid)
        return conn.session.protocol

    def is_connected(self, eio_sid: str) -> bool:
        conn = self._conns.get(eio_sid)
        return conn is not None and conn.session.is_open

    def get_environ(self, eio_sid: str) -> dict[str, Any] | None:
        conn = self._conns.get(eio_sid)
        return conn.environ if conn is not None else None

    @property
    def session_count(self) -> int:
        return len(self._conns)

    def start_background_task(self, target: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return self.driver.spawn(target, *args, **kwargs)

    def sleep(self, seconds: float = 0) -> None:
        self.driver.sleep(seconds)

    def create_event(self) -> Waiter:
        return self.driver.event()

    def shutdown(self) -> None:
        self.disconnect(None)

    def attach_virtual(self, eio_sid: str, environ: dict[str, Any], sink: Any) -> None:
        """Register an in-memory session whose messages go to ``sink.send(EncodedMessage)``
        (the Flask test client: no sockets, no timers, same delivery path as a WebSocket)."""
        conn = Connection(EngineSession(eio_sid, self.config, self.driver.monotonic(), websocket=True), environ)
        conn.ws = sink
        self._conns[eio_sid] = conn

    def detach_virtual(self, eio_sid: str) -> None:
        conn = self._conns.pop(eio_sid, None)
        if conn is not None:
            conn.session.close(Reason.CLIENT_DISCONNECT)

    def call_later(self, delay: float, fn: Callable[..., Any], *args: Any) -> int:
        """Run `fn(*args)` after `delay` seconds on the server's one timer loop (no task per
        call). Returns a handle for `cancel_call`. Call from the loop's thread/greenlet."""
        return self._timer_loop.call_later(delay, fn, *args)

    def cancel_call(self, token: int) -> None:
        self._timer_loop.cancel(token)

    # -- WSGI entry --------------------------------------------------------------------------
    def handle_request(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        self.driver.bind()
        method = environ.get("REQUEST_METHOD", "GET")
        origin = environ.get("HTTP_ORIGIN")
        if origin and not self.origins.allowed(origin, environ):
            self.logger.info("%s is not an accepted origin.", origin)
            return self.polling.error(environ, start_response, "Not an accepted origin.", cors=False)
        if method == "OPTIONS" and origin and not self.origins.disabled:
            # A CORS preflight from an allowed origin (the Node server answers it in its cors
            # middleware, before any Engine.IO check). Without an Origin it is no preflight,
            # and goes through the checks below like any other method.
            return self.polling.respond(environ, start_response, 200, "OK")
        query = parse_query(environ.get("QUERY_STRING", ""))
        try:
            req = validate_request(method, query, environ.get("HTTP_UPGRADE", ""), self.config)
        except RemoteProtocolError as exc:
            if exc.message == UNSUPPORTED_VERSION:
                self.packet_log.once("version", f"{exc.message} (EIO={query.get('EIO', '')!r}): {VERSION_HINT}")
            else:
                self.logger.info("bad request: %s", exc.message)
            return self.polling.error(environ, start_response, exc.message, status=exc.status, code=exc.code)
        if req.sid is None:
            if req.transport == "websocket":
                return self.websocket.serve(environ, start_response, None, protocol=req.protocol)
            return self.polling.handshake(environ, start_response, req.jsonp_index, req.protocol, req.b64)
        conn = self._conns.get(req.sid)
        if conn is None:
            self.logger.info("Invalid session %s", req.sid)
            return self.polling.error(environ, start_response, code=ErrorCode.UNKNOWN_SID)
        if req.transport == "websocket":
            if not req.websocket_upgrade:
                return self.polling.error(environ, start_response)  # Node: "Bad request" (no upgrade)
            if method != "GET":
                # What the Node server answers here (its WebSocket library's check).
                return self.polling.error(environ, start_response, "Invalid HTTP method", status=405)
            if conn.session.state is not State.POLLING or conn.probe_ws is not None:
                # Upgraded, or a probe already pending: as the Node server, accept this
                # WebSocket at the HTTP level and close it at once; the session's own
                # transport (and a pending probe) carry on untouched.
                return self.websocket.serve(environ, start_response, conn, refuse=True)
            return self.websocket.serve(environ, start_response, conn)
        if method not in ("GET", "POST"):
            # The Node server's polling transport answers 500 here; it is the client's error.
            return self.polling.error(environ, start_response, "Bad request method")
        if not conn.session.accepts_polls:
            return self.polling.error(environ, start_response)  # Node: "Bad request" (upgraded)
        if method == "GET":
            return self.polling.poll(conn, environ, start_response, req.jsonp_index)
        return self.polling.post(conn, environ, start_response, req.jsonp_index is not None)

    # -- sessions (the `TransportHost` interface of the transports) ----------------------------
    def at_capacity(self) -> bool:
        max_sessions = self.config.max_sessions
        return bool(max_sessions) and len(self._conns) >= max_sessions

    def open_session(
        self, environ: dict[str, Any], eio_sid: str = "", ws: WebSocket | None = None,
        on_open: Callable[[Connection], None] | None = None, protocol: int = 4, b64: bool = False,
    ) -> Connection | None:
        eio_sid = eio_sid or self.generate_id()
        session = EngineSession(eio_sid, self.config, self.driver.monotonic(), websocket=ws is not None,
                                protocol=protocol, b64=b64)
        conn = Connection(session, environ)
        conn.ws = ws
        if on_open is not None:
            on_open(conn)
        self._conns[eio_sid] = conn
        if not self._accept(eio_sid, environ):
            self._conns.pop(eio_sid, None)
            return None
        return conn

    def _accept(self, eio_sid: str, environ: dict[str, Any]) -> bool:
        handler = self.handlers.get("connect")
        if handler is None:
            return True
        try:
            return handler(eio_sid, environ) is not False
        except Exception:
            self.logger.exception("connect handler error")
            return False

    def notify(self, event: str, conn: Connection) -> None:
        """The ``opened(eio_sid)`` / ``upgrade(eio_sid)`` handler, if any (Socket.IO's implicit
        connect of Engine.IO v3 clients to ``/`` is sent after the OPEN packet)."""
        handler = self.handlers.get(event)
        if handler is not None:
            try:
                handler(conn.session.eio_sid)
            except Exception:
                self.logger.exception("%s handler error", event)

    def respond_error(
        self, environ: dict[str, Any], start_response: StartResponse, status: int, message: str
    ) -> Iterable[bytes]:
        return self.polling.error(environ, start_response, message, status=status)

    def handle_event(self, conn: Connection, event: Event) -> None:
        if isinstance(event, MessageReceived):
            handler = self.handlers.get("message")
            if handler is not None:
                try:
                    handler(conn.session.eio_sid, event.data)
                except Exception:
                    self.logger.exception("message handler error")
        elif isinstance(event, Closed):
            self._after_close(conn, event.reason)
        elif isinstance(event, SendPong):  # Engine.IO v3: the client pinged
            if self.logger.isEnabledFor(INFO):
                self.log_packet(conn.session.eio_sid, "Sending", _ENCODED_PONG.packet)
            self._deliver(conn, _ENCODED_PONG)
            self.schedule(conn)

    def _deliver(self, conn: Connection, message: EncodedMessage, separate: bool = False) -> None:
        session = conn.session
        state = session.state
        if state is State.WEBSOCKET:
            ws = conn.ws
            if ws is not None:
                if separate and isinstance(ws, WebSocket):
                    ws.send_now(message)
                else:
                    ws.send(message)
            return
        if state is State.POLLING or state is State.PROBING:
            try:
                with self.lock:  # a no-op under gevent; pairs with the drain in _poll
                    session.queue(message)
            except OutboxFull as exc:
                self.logger.warning("%s: %s; closing the session", session.eio_sid, exc)
                self.close(conn, Reason.TRANSPORT_ERROR)
                return
            if session.outbox_bytes > self.flow.high_water and not self.backpressure.outbox_over(conn):
                return
            waiter = conn.poll_waiter
            if waiter is not None:
                waiter.set()

    def polled(self, conn: Connection) -> None:
        """A polling client took its outbox: it is relieved (and waited for again)."""
        if self.flow.congested:
            self.flow.relieve(conn)

    def close(self, conn: Connection, reason: str, send_close: bool = False) -> None:
        """Close a session (idempotent) and run the disconnect handler once."""
        session = conn.session
        if not session.is_open:
            if session.state is State.CLOSING and not send_close:
                self.finish(conn)
            return
        if send_close and session.state is not State.WEBSOCKET:
            # Polling: the CLOSE packet goes out with the client's current or next poll; the
            # session waits in CLOSING for that poll (bounded by the timer).
            session.close_after_poll(reason, self.driver.monotonic())
            self.schedule(conn)
            conn.wake_poll()
            self._after_close(conn, reason)
            return
        event = session.close(reason)
        if send_close and conn.ws is not None:
            conn.ws.send(ENCODED_CLOSE)
        if event is not None:
            self._after_close(conn, reason)

    def _after_close(self, conn: Connection, reason: str) -> None:
        """The protocol side is closed: release the I/O and tell the application."""
        session = conn.session
        self.logger.info("%s: Session closed: %s", session.eio_sid, reason)
        if session.state is State.CLOSED:
            self.finish(conn)
        if conn.ws is not None:
            conn.ws.close(WS_CLOSE_NORMAL)
        if conn.probe_ws is not None:
            conn.probe_ws.close(WS_CLOSE_NORMAL)
        handler = self.handlers.get("disconnect")
        if handler is not None:
            try:
                handler(session.eio_sid, reason)
            except Exception:
                self.logger.exception("disconnect handler error")

    def finish(self, conn: Connection) -> None:
        """Forget the session and end any pending poll."""
        session = conn.session
        if session.state is State.CLOSING:
            session.close(session.close_reason or Reason.SERVER_DISCONNECT)
        if self._conns.get(session.eio_sid) is conn:
            del self._conns[session.eio_sid]
        self.polled(conn)
        conn.wake_poll()

    # -- timers --------------------------------------------------------------------------------
    def schedule(self, conn: Connection) -> None:
        self._timer_loop.push(conn.session.next_deadline(), conn.session.eio_sid)

    def _on_session_timer(self, eio_sid: str, deadline: float, now: float) -> None:
        conn = self._conns.get(eio_sid)
        if conn is not None and conn.session.next_deadline() == deadline:
            self._on_timer(conn, now)  # else a stale entry: the session moved its deadline or is gone

    def _on_timer(self, conn: Connection, now: float) -> None:
        session = conn.session
        was_closing = session.state is State.CLOSING
        event = session.on_timer(now)
        if isinstance(event, SendPing):
            if self.logger.isEnabledFor(INFO):
                self.log_packet(session.eio_sid, "Sending", _ENCODED_PING.packet)
            self._deliver(conn, _ENCODED_PING)
            self.schedule(conn)
        elif isinstance(event, Closed):
            if was_closing:
                self.finish(conn)  # the client never came back for its CLOSE packet
                return
            self.logger.info("%s: %s", session.eio_sid, event.reason)
            self._after_close(conn, event.reason)
        elif session.is_open or session.state is State.CLOSING:
            self.schedule(conn)
