"""`EngineServer`: the session registry, request routing and the timer loop.

This is the driver-agnostic glue between the pure protocol objects (`EngineSession`, packets,
payloads) and the I/O (WSGI requests, WebSocket sockets, greenlets or threads). Handlers:

- ``connect(eio_sid, environ)``: return False to refuse (HTTP 401 / WebSocket closed)
- ``message(eio_sid, data)``: ``str`` or ``bytes``, called in the reading greenlet/thread
- ``disconnect(eio_sid, reason)``: once per session, with one of `Reason`'s values
"""

from __future__ import annotations

import gzip
import json
import logging
import secrets
import warnings
import zlib
from collections.abc import Callable, Iterable
from logging import INFO
from typing import Any

from .config import EngineConfig, build_config
from .cors import OriginPolicy
from .drivers import select_driver
from .drivers.base import PEER_GONE, Waiter
from .encoded import EncodedMessage
from .errors import RemoteProtocolError
from .events import Closed, MessageReceived, ProbeFailed, ProbeReceived, Reason, SendPing, Upgraded
from .flow import NO_WAIT, FlowControl
from .handshake import UNSUPPORTED_VERSION, open_packet_data, parse_query, validate_request
from .packets import (
    CLOSE,
    NOOP,
    PING,
    PROBE_PONG,
    EnginePacket,
    PacketType,
    decode_binary,
    decode_text,
    describe,
)
from .payload import decode_body, decode_payload, encode_payload, jsonp_wrap
from .session import EngineSession, OutboxFull
from .state import State
from .timers import TimerHeap
from .transports.websocket import (
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

StartResponse = Callable[..., Any]

_ENCODED_PING = EncodedMessage(PING)
_ENCODED_NOOP = EncodedMessage(NOOP)
_ENCODED_CLOSE = EncodedMessage(CLOSE)
_ENCODED_PROBE_PONG = EncodedMessage(PROBE_PONG)

_VERSION_HINT = (
    "this server speaks Engine.IO 4 / Socket.IO 5: the client needs socket.io-client >= 3.0 "
    "(JavaScript) or python-socketio >= 5.0; socket.io-client 1.x/2.x (EIO=3) is not supported"
)

# Reasons for closing a WebSocket, by who is to blame.
_WS_CLOSE_NORMAL = 1000
_WS_CLOSE_POLICY = 1008
# A close frame with no status code (what the Node server's `websocket.close()` sends).
_WS_CLOSE_NO_STATUS = NO_STATUS
# Upper bound on waiting for a closing WebSocket's flush (the gevent writer gives up after 5 s).
_WS_CLOSE_WAIT = 10.0
# Calls a foreign thread may have handed to the loop and not seen applied (`run_from_thread`).
THREAD_WINDOW = 64


class Connection:
    """The I/O side of one session: its pending poll, its WebSocket(s) and its environ."""

    __slots__ = ("session", "environ", "poll_waiter", "posting", "ws", "probe_ws", "__weakref__")

    def __init__(self, session: EngineSession, environ: dict[str, Any]) -> None:
        self.session = session
        self.environ = environ
        self.poll_waiter: Waiter | None = None
        self.ws: WebSocket | None = None
        self.probe_ws: WebSocket | None = None
        self.posting = False


class EngineServer:
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
        self._lock = self.driver.lock()
        self._timers = TimerHeap()
        self._timer_wake: Waiter | None = None
        self._timer_task: Any = None
        self._callbacks: dict[int, tuple[Callable[..., Any], tuple[Any, ...]]] = {}
        self._callback_seq = 0
        self._upgrades = (
            ["websocket"] if cfg.allow_upgrades and "websocket" in cfg.transports else []
        )
        self.flow = FlowControl(cfg.high_water_mark, cfg.low_water_mark, cfg.max_outbox_bytes, cfg.stall_timeout)
        self.flow.schedule = self.call_later
        self._thread_permits: Any = None
        # Calls from foreign threads in flight before the thread waits (0: never waits; the
        # Flask test client, whose loop runs only when the test uses the client, sets that).
        self.thread_window = THREAD_WINDOW
        self._logged_once: set[str] = set()
        self.logger.info("Server initialized for %s.", self.async_mode)

    # -- public API ------------------------------------------------------------------------
    @staticmethod
    def _warn_option(message: str) -> None:
        warnings.warn(message, UserWarning, stacklevel=4)

    def on(self, event: str, handler: Callable[..., Any] | None = None) -> Any:
        """Register a handler for ``connect``, ``message`` or ``disconnect`` (decorator or call)."""
        if event not in ("connect", "message", "disconnect"):
            raise ValueError(f"unknown Engine.IO event {event!r}")

        def register(fn: Callable[..., Any]) -> Callable[..., Any]:
            self.handlers[event] = fn
            return fn

        return register(handler) if handler is not None else register

    @property
    def allow_upgrades(self) -> bool:
        return self.config.allow_upgrades

    @property
    def cookie(self) -> Any:
        return self.config.cookie

    @property
    def max_http_buffer_size(self) -> int:
        return self.config.max_http_buffer_size

    # python-engineio's attribute names, read by apps and extensions (seconds, as configured).
    @property
    def ping_interval(self) -> float:
        return _seconds(self.config.ping_interval)

    @property
    def ping_interval_grace_period(self) -> float:
        return _seconds(self.config.ping_interval_grace)

    @property
    def ping_timeout(self) -> float:
        return _seconds(self.config.ping_timeout)

    def generate_id(self) -> str:
        """A session id: 128 bits from the OS CSPRNG, URL-safe (22 characters)."""
        return secrets.token_urlsafe(16)

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
            self._log_packet(eio_sid, "Sending", message.packet)
        self._deliver(conn, message, True)
        if self.flow.congested:
            self._backpressure((eio_sid,))
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
                    self._log_packet(eio_sid, "Sending", message.packet)
        for eio_sid in eio_sids:
            conn = conns.get(eio_sid)
            if conn is not None:
                ws = conn.ws
                if ws is not None and conn.session.state is websocket:
                    ws.send(message)  # `_deliver`'s first case, inlined: the common one
                else:
                    deliver(conn, message)
        if self.flow.congested:
            self._backpressure(eio_sids)

    # -- flow control (engineio_core.flow) -------------------------------------------------------
    def _lane(self, conn: Connection) -> object:
        """What flow control tracks for a connection: its socket writer, or the connection
        itself while it polls."""
        ws = conn.ws
        if ws is not None and conn.session.state is State.WEBSOCKET:
            return getattr(ws, "writer", None)
        return conn

    def _backpressure(self, eio_sids: Iterable[str]) -> None:
        """Some lane is congested: if one of these recipients' is, wait for it to be relieved
        (a producer that may wait), or tell the thread that asked for this delivery
        (`run_from_thread`). The hub, inline handlers and the message-queue applier never wait."""
        flow = self.flow
        congested = flow.congested
        conns = self._conns
        lanes = []
        for eio_sid in eio_sids:
            conn = conns.get(eio_sid)
            if conn is not None:
                lane = self._lane(conn)
                if lane in congested:
                    lanes.append(lane)
        if not lanes:
            return
        if flow.collect is not None:
            flow.collect.extend(lanes)
        elif self.driver.may_wait() and not NO_WAIT.get():
            done = self.driver.event()
            self._await_lanes(lanes, done.set)
            # Bounded: a lane is relieved when it drains, closes, stalls (`stall_timeout`,
            # then closed) or, polling, times out (`_lane_timeout`). The bound is a safety net.
            done.wait(flow.stall_timeout * 2 + 1)

    def _await_lanes(self, lanes: list[object], callback: Callable[[], None]) -> None:
        """Call `callback` once every lane in `lanes` is relieved (at once if none is congested)."""
        flow = self.flow
        left = [0]

        def one_done() -> None:
            left[0] -= 1
            if left[0] == 0:
                callback()

        left[0] = 1
        for lane in dict.fromkeys(lanes):
            left[0] += 1
            if not flow.notify(lane, one_done):
                left[0] -= 1
            elif isinstance(lane, Connection):
                # A polling client is not declared stalled by a socket: it is waited on for
                # `stall_timeout` at most, then not until its next poll.
                self.call_later(flow.stall_timeout, self._lane_timeout, lane)
        one_done()

    def _lane_timeout(self, conn: Connection) -> None:
        flow = self.flow
        if conn in flow.congested:
            flow.unhealthy.add(conn)
            flow.relieve(conn)

    def run_from_thread(self, fn: Callable[..., Any], *args: Any) -> None:
        """From a foreign OS thread (gevent without monkey-patching): run `fn(*args)` on the
        loop. The thread is held back (a thread-safe wait) while `THREAD_WINDOW` of its calls
        are not applied yet, or while recipients of what it sent are congested: a thread that
        emits faster than clients read waits, like a greenlet would."""
        if not self.thread_window:
            self.driver.call_in_loop(self._run_for_thread, fn, args, _nothing)
            return
        permits = self._thread_permits
        if permits is None:
            permits = self._thread_permits = self.driver.thread_permits(self.thread_window)
        permits.acquire()
        self.driver.call_in_loop(self._run_for_thread, fn, args, permits.release)

    def _run_for_thread(self, fn: Callable[..., Any], args: tuple[Any, ...], release: Callable[[], Any]) -> None:
        flow = self.flow
        lanes: list[object] = []
        flow.collect = lanes
        try:
            fn(*args)
        except Exception:
            self.logger.exception("error in a call from another thread")
        finally:
            flow.collect = None
        if lanes:
            self._await_lanes(lanes, release)
        else:
            release()

    def disconnect(self, eio_sid: str | None = None) -> None:
        """Close one session (or all of them) from the server side."""
        if not self.driver.in_loop():
            self.driver.call_in_loop(self.disconnect, eio_sid)
            return
        sids = list(self._conns) if eio_sid is None else [eio_sid]
        for sid in sids:
            conn = self._conns.get(sid)
            if conn is not None:
                self._close(conn, Reason.SERVER_DISCONNECT, send_close=True)

    def transport(self, eio_sid: str) -> str:
        conn = self._conns.get(eio_sid)
        if conn is None:
            raise KeyError(eio_sid)
        return conn.session.transport

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
        self._callback_seq += 1
        token = self._callback_seq
        self._callbacks[token] = (fn, args)
        self._push_timer(self.driver.monotonic() + delay, -token)
        return token

    def cancel_call(self, token: int) -> None:
        self._callbacks.pop(token, None)

    # -- WSGI entry --------------------------------------------------------------------------
    def handle_request(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        self.driver.bind()
        method = environ.get("REQUEST_METHOD", "GET")
        origin = environ.get("HTTP_ORIGIN")
        if origin and not self.origins.allowed(origin, environ):
            self.logger.info("%s is not an accepted origin.", origin)
            return self._respond(environ, start_response, 400, _quote("Not an accepted origin."), cors=False)
        if method == "OPTIONS" and origin and not self.origins.disabled:
            # A CORS preflight from an allowed origin (the Node server answers it in its cors
            # middleware, before any Engine.IO check). Without an Origin it is no preflight,
            # and goes through the checks below like any other method.
            return self._respond(environ, start_response, 200, "OK")
        query = parse_query(environ.get("QUERY_STRING", ""))
        try:
            req = validate_request(method, query, environ.get("HTTP_UPGRADE", ""), self.config)
        except RemoteProtocolError as exc:
            if exc.message == UNSUPPORTED_VERSION:
                self._log_once("version", f"{exc.message} (EIO={query.get('EIO', '')!r}): {_VERSION_HINT}")
            else:
                self.logger.info("bad request: %s", exc.message)
            return self._respond(environ, start_response, exc.status, _quote(exc.message))
        if req.sid is None:
            if req.transport == "websocket":
                return self._serve_websocket(environ, start_response, None)
            return self._handshake(environ, start_response, req.jsonp_index)
        conn = self._conns.get(req.sid)
        if conn is None:
            self.logger.info("Invalid session %s", req.sid)
            return self._error(environ, start_response, f"Invalid session {req.sid}")
        if req.transport == "websocket":
            if not req.websocket_upgrade:
                return self._error(environ, start_response, "Invalid transport")
            if method != "GET":
                # What the Node server answers here (its WebSocket library's check).
                return self._respond(environ, start_response, 405, _quote("Invalid HTTP method"))
            if conn.session.state is not State.POLLING or conn.probe_ws is not None:
                # Upgraded, or a probe already pending: as the Node server, accept this
                # WebSocket at the HTTP level and close it at once; the session's own
                # transport (and a pending probe) carry on untouched.
                return self._serve_websocket(environ, start_response, conn, refuse=True)
            return self._serve_websocket(environ, start_response, conn)
        if method not in ("GET", "POST"):
            # The Node server's polling transport answers 500 here; it is the client's error.
            return self._error(environ, start_response, "Bad request method")
        if not conn.session.accepts_polls:
            return self._error(environ, start_response, "Unexpected HTTP request")
        if method == "GET":
            return self._poll(conn, environ, start_response, req.jsonp_index)
        return self._post(conn, environ, start_response, req.jsonp_index is not None)

    # -- polling -------------------------------------------------------------------------------
    def _handshake(self, environ: dict[str, Any], start_response: StartResponse, jsonp: int | None) -> Iterable[bytes]:
        cfg = self.config
        if cfg.max_sessions and len(self._conns) >= cfg.max_sessions:
            return self._respond(environ, start_response, 503, _quote("Server at capacity"))
        eio_sid = self.generate_id()
        now = self.driver.monotonic()
        conn = Connection(EngineSession(eio_sid, cfg, now), environ)
        self._conns[eio_sid] = conn
        if not self._accept(eio_sid, environ):
            self._conns.pop(eio_sid, None)
            return self._respond(environ, start_response, 401, _quote("Unauthorized"))
        self._schedule(conn)
        body = "0" + open_packet_data(eio_sid, self._upgrades, cfg)
        self.logger.info("%s: Sending packet OPEN data %s", eio_sid, body[1:])
        if jsonp is not None:
            body = jsonp_wrap(jsonp, body)
        return self._respond(environ, start_response, 200, body, cookie_sid=eio_sid)

    def _poll(self, conn: Connection, environ: dict[str, Any], start_response: StartResponse, jsonp: int | None) -> Iterable[bytes]:
        session = conn.session
        if conn.poll_waiter is not None:
            # Spec: "the server MUST close the session upon duplicate poll requests".
            # The pending poll ends with the CLOSE packet (engine.io-protocol test-suite).
            self.logger.warning("%s: duplicate poll request, closing the session", session.eio_sid)
            with self._lock:
                try:
                    session.queue(_ENCODED_CLOSE)
                except OutboxFull:
                    pass
            self._close(conn, Reason.TRANSPORT_ERROR)
            return self._error(environ, start_response, "Duplicate poll request")
        if not session.outbox and session.state is State.POLLING:
            waiter = self.driver.event()
            conn.poll_waiter = waiter
            try:
                # No timeout (under gevent one costs a timer per poll): the heartbeat bounds the
                # wait. A PING is queued every `ping_interval`, and whatever ends the session
                # (ping timeout, close, upgrade) wakes the poll (`_deliver`, `_wake_poll`).
                waiter.wait()
            finally:
                if conn.poll_waiter is waiter:
                    conn.poll_waiter = None
        with self._lock:
            messages = session.drain()
            segments = [m.polling_segment() for m in messages]
            self._polled(conn)
            if session.state is State.CLOSING:
                segments.append(_ENCODED_CLOSE.polling_segment())
                self._finish(conn)
        if not segments:
            segments.append(_ENCODED_NOOP.polling_segment())
        body = encode_payload(segments)
        if jsonp is not None:
            body = jsonp_wrap(jsonp, body)
        return self._respond(environ, start_response, 200, body)

    def _post(self, conn: Connection, environ: dict[str, Any], start_response: StartResponse, jsonp: bool) -> Iterable[bytes]:
        if conn.posting:
            # Spec: "the server MUST close the session upon concurrent POST requests".
            self.logger.warning("%s: concurrent POST requests, closing the session", conn.session.eio_sid)
            self._close(conn, Reason.TRANSPORT_ERROR)
            return self._error(environ, start_response, "Bad Request", close=True)
        conn.posting = True
        try:
            return self._post_payload(conn, environ, start_response, jsonp)
        finally:
            conn.posting = False

    def _post_payload(self, conn: Connection, environ: dict[str, Any], start_response: StartResponse, jsonp: bool) -> Iterable[bytes]:
        session = conn.session
        try:
            if _media_type(environ) == "application/octet-stream":
                # v4 polling payloads are text (binary is base64 in them); engine.io refuses
                # binary POSTs too (CVE-2026-59725).
                raise RemoteProtocolError("binary (application/octet-stream) POST body")
            raw = _read_body(environ, self.config.max_http_buffer_size)
            packets = decode_payload(decode_body(raw, jsonp), self.config.max_decode_packets)
        except RemoteProtocolError as exc:
            self.logger.warning("%s: bad POST, closing the session: %s", session.eio_sid, exc.message)
            self._close(conn, Reason.TRANSPORT_ERROR)
            # The body is the reference's (c.1); the details went to the log.
            return self._error(environ, start_response, "Bad Request", close=True)
        now = self.driver.monotonic()
        deadline = session.next_deadline()
        log_packets = self.logger.isEnabledFor(INFO)
        for packet in packets:
            if not session.is_open:
                break
            if log_packets:
                self._log_packet(session.eio_sid, "Received", packet)
            try:
                event = session.receive(packet, now)
            except RemoteProtocolError as exc:
                self.logger.warning("%s: %s, closing the session", session.eio_sid, exc.message)
                self._close(conn, Reason.TRANSPORT_ERROR)
                return self._error(environ, start_response, "Bad Request")
            if event is not None:
                self._handle_event(conn, event)
        # A PONG moved the heartbeat, wherever it was in the payload (the client batches, e.g.
        # "3\x1e4msg"): tell the timer loop. An out-of-sequence PONG moves nothing and pushes
        # nothing, so a PONG flood cannot grow the timer heap.
        if session.is_open and session.next_deadline() != deadline:
            self._schedule(conn)
        return self._respond(environ, start_response, 200, "ok")

    # -- websocket -----------------------------------------------------------------------------
    def _serve_websocket(
        self, environ: dict[str, Any], start_response: StartResponse, conn: Connection | None,
        refuse: bool = False,
    ) -> Iterable[bytes]:
        """Answer a WebSocket handshake: a new session (`conn` None), an upgrade probe of
        `conn`, or (`refuse`) a WebSocket for a session that has one already, which is
        accepted with 101 and closed at once without touching the session."""
        cfg = self.config
        sock = find_socket(environ)
        if sock is None:
            self.logger.warning("WebSocket upgrade requested, but this WSGI server exposes no socket")
            return self._error(environ, start_response, "Invalid transport")
        try:
            headers, deflate = negotiate(environ, cfg.websocket_compression, cfg.max_http_buffer_size)
        except RemoteProtocolError as exc:
            self.logger.info("bad websocket upgrade: %s", exc.message)
            return self._error(environ, start_response, exc.message)
        if conn is None and cfg.max_sessions and len(self._conns) >= cfg.max_sessions:
            return self._respond(environ, start_response, 503, _quote("Server at capacity"))
        if refuse:
            return self._refuse_websocket(environ, start_response, sock, headers, deflate)
        if cfg.cookie and conn is None:
            eio_sid = self.generate_id()
            headers.append(("Set-Cookie", _cookie(cfg.cookie, eio_sid)))
        else:
            eio_sid = ""
        take_over = environ.get(TAKEOVER)
        watcher = self.driver.read_watcher(sock) if take_over is not None else None
        if watcher is None:
            send_switching_protocols(environ, start_response, sock, headers)
        holder: list[Connection] = []

        def on_write_error(reason: str) -> None:
            if holder:
                log = self.logger.info if reason == PEER_GONE else self.logger.warning
                log("%s: %s", holder[0].session.eio_sid, reason)
                self._close(holder[0], Reason.TRANSPORT_ERROR)

        ws = WebSocket(sock, self.driver, deflate, cfg.max_http_buffer_size, self.flow,
                       on_write_error, cfg.compression_threshold)
        early = b""
        if watcher is not None and take_over is not None:
            # Our own server leaves the socket to us: the 101 goes out through the writer (the
            # OPEN packet follows as a send of its own, as Node writes them), and reading is
            # driven by the loop's readiness callbacks, so an idle WebSocket holds no greenlet.
            early = take_over()
            del environ[TAKEOVER]  # kept for the connection's life otherwise, with what it holds
            ws.write_raw(switching_protocols_head(headers))
        if conn is None:
            eio_sid = eio_sid or self.generate_id()
            conn = Connection(EngineSession(eio_sid, cfg, self.driver.monotonic(), websocket=True), environ)
            conn.ws = ws
            holder.append(conn)
            self._conns[eio_sid] = conn
            if not self._accept(eio_sid, environ):
                self._conns.pop(eio_sid, None)
                ws.close(_WS_CLOSE_POLICY, "Unauthorized")
                if watcher is not None:
                    watcher.close()
                    ws.close_socket_when_flushed()
                    return []
                ws.wait_closed(self.driver, _WS_CLOSE_WAIT)
                return _ws_done(environ)
            opening = EnginePacket(PacketType.OPEN, open_packet_data(eio_sid, [], cfg))
            self.logger.info("%s: Sending packet %s", eio_sid, describe(opening))
            ws.send_now(EncodedMessage(opening))
            self._schedule(conn)
        else:
            self.logger.info("%s: Received request to upgrade to websocket", conn.session.eio_sid)
            holder.append(conn)
            conn.probe_ws = ws
        if watcher is not None:
            reader = _WebSocketReader(self, conn, ws, watcher)
            try:
                if early:
                    reader.pending = ws.feed(early)
            except RemoteProtocolError as exc:
                reader.failed = exc
            self._websocket_loop(reader, reader.claim())
            return []
        reader = _WebSocketReader(self, conn, ws, None)
        try:
            self._websocket_loop(reader, reader.claim())
            # If a handler blocked, reading moved to another greenlet: wait for the end here.
            if reader.finished is not None:
                reader.finished.wait()
        finally:
            # Hand the connection back to the WSGI server only once it is flushed and shut
            # down (see `WebSocket.wait_closed`).
            ws.close()
            ws.wait_closed(self.driver, _WS_CLOSE_WAIT)
        return _ws_done(environ)

    def _refuse_websocket(
        self, environ: dict[str, Any], start_response: StartResponse, sock: Any,
        headers: list[tuple[str, str]], deflate: Any,
    ) -> Iterable[bytes]:
        """101, then an empty close frame (the Node server's ``websocket.close()``), then the
        end of the connection; nothing is read from it."""
        cfg = self.config
        take_over = environ.get(TAKEOVER)
        if take_over is None:
            send_switching_protocols(environ, start_response, sock, headers)
        ws = WebSocket(sock, self.driver, deflate, cfg.max_http_buffer_size, self.flow,
                       lambda reason: None, cfg.compression_threshold)
        if take_over is not None:
            take_over()
            del environ[TAKEOVER]
            ws.write_raw(switching_protocols_head(headers))
        ws.close(_WS_CLOSE_NO_STATUS)
        if take_over is not None:
            ws.close_socket_when_flushed()
            return []
        ws.wait_closed(self.driver, _WS_CLOSE_WAIT)
        return _ws_done(environ)

    def _websocket_loop(self, reader: _WebSocketReader, token: object) -> None:
        """Read one WebSocket while `token` owns it.

        Messages are handled inline, under the driver's guard: when a handler blocks, the
        guard hands reading over to a new greenlet (`_WebSocketReader.hand_over`) so the
        connection keeps being read (PONGs, acks for a `call()` the handler waits on), and
        this greenlet returns once its handler is done. Most handlers never block, and then an
        event costs no extra greenlet at all. With a read watcher (our own server), the loop
        returns when the socket has nothing more to read and the watcher calls it again."""
        conn, ws = reader.conn, reader.ws
        session = conn.session
        watcher = reader.watcher
        blocking = watcher is None
        reason = Reason.TRANSPORT_CLOSE
        ended = True
        try:
            if reader.failed is not None:
                raise reader.failed
            fresh = not blocking  # the watcher just said "readable"
            while True:
                pending = reader.pending
                if reader.next >= len(pending):
                    if ws.failure is not None:
                        raise ws.failure  # after the messages that came before it
                    if ws.peer_closed:
                        return
                    # With a watcher, read once per readiness: it is level-triggered, so what
                    # arrives meanwhile calls us again (no recv that would say EAGAIN).
                    received = ws.receive(blocking) if blocking or fresh else None
                    fresh = False
                    if received is None:  # nothing (more) to read now: wait for the watcher
                        ended = False
                        watcher.start(reader.on_readable)
                        return
                    if not received:
                        return
                    reader.pending = ws.feed(received)
                    reader.next = 0
                    continue
                data = pending[reader.next]
                reader.next += 1  # before handling: a successor must not handle it again
                packet = decode_text(data) if isinstance(data, str) else decode_binary(data)
                if self.logger.isEnabledFor(INFO):
                    self._log_packet(session.eio_sid, "Received", packet)
                if conn.ws is ws:
                    if packet.type is PacketType.PONG:
                        deadline = session.next_deadline()
                        session.receive(packet, self.driver.monotonic())
                        if session.next_deadline() != deadline:  # not out of sequence
                            self._schedule(conn)
                        continue
                    event = session.receive(packet, self.driver.monotonic())
                    if isinstance(event, MessageReceived):
                        self.driver.run_guarded(self._handle_event, (conn, event), reader.hand_over)
                        if reader.owner is not token:
                            return  # another greenlet reads now
                    elif event is not None:
                        self._handle_event(conn, event)
                    if not session.is_open:
                        return
                elif not self._probe(conn, ws, packet):
                    return
        except RemoteProtocolError as exc:
            self.logger.warning("%s: %s, closing the connection", session.eio_sid, exc.message)
            reason = Reason.TRANSPORT_ERROR
            code = exc.status if 1000 <= exc.status < 5000 and exc.status != 400 else 1002
            ws.close(code, exc.message)
        finally:
            if ended and reader.owner is token and not reader.done:
                reader.done = True
                if conn.ws is ws:
                    if session.is_open:
                        self._close(conn, reason)
                    ws.close()
                elif conn.probe_ws is ws:
                    conn.probe_ws = None
                    session.probe_failed()
                    ws.close()
                if watcher is not None:
                    watcher.close()  # first: the socket must not close under a live watcher
                    ws.close_socket_when_flushed()
                elif reader.finished is not None:
                    reader.finished.set()

    def _probe(self, conn: Connection, ws: WebSocket, packet: EnginePacket) -> bool:
        """Drive the upgrade handshake on the candidate socket; False ends that socket."""
        event = conn.session.receive_probe(packet)
        if isinstance(event, ProbeReceived):
            ws.send(_ENCODED_PROBE_PONG)
            self._wake_poll(conn)
            return True
        if isinstance(event, Upgraded):
            with self._lock:
                conn.ws = ws
                conn.probe_ws = None
                backlog = conn.session.drain()
                self._polled(conn)
            for message in backlog:
                ws.send(message)
            self._wake_poll(conn)
            self.logger.info("%s: Upgrade to websocket successful", conn.session.eio_sid)
            return True
        assert isinstance(event, ProbeFailed)
        self.logger.info("%s: Failed websocket upgrade: %s", conn.session.eio_sid, event.reason)
        return False

    # -- events, delivery, closing ---------------------------------------------------------
    def _accept(self, eio_sid: str, environ: dict[str, Any]) -> bool:
        handler = self.handlers.get("connect")
        if handler is None:
            return True
        try:
            return handler(eio_sid, environ) is not False
        except Exception:
            self.logger.exception("connect handler error")
            return False

    def _handle_event(self, conn: Connection, event: Any) -> None:
        if isinstance(event, MessageReceived):
            handler = self.handlers.get("message")
            if handler is not None:
                try:
                    handler(conn.session.eio_sid, event.data)
                except Exception:
                    self.logger.exception("message handler error")
        elif isinstance(event, Closed):
            self._after_close(conn, event.reason)

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
                with self._lock:  # a no-op under gevent; pairs with the drain in _poll
                    session.queue(message)
            except OutboxFull as exc:
                self.logger.warning("%s: %s; closing the session", session.eio_sid, exc)
                self._close(conn, Reason.TRANSPORT_ERROR)
                return
            flow = self.flow
            if session.outbox_bytes > flow.high_water and conn not in flow.unhealthy:
                flow.congest(conn)
            waiter = conn.poll_waiter
            if waiter is not None:
                waiter.set()

    def _polled(self, conn: Connection) -> None:
        """A polling client took its outbox: it is relieved, and healthy again."""
        flow = self.flow
        if flow.congested:
            flow.relieve(conn)
        if flow.unhealthy:
            flow.unhealthy.discard(conn)

    def _wake_poll(self, conn: Connection) -> None:
        waiter = conn.poll_waiter
        if waiter is not None:
            waiter.set()

    def _close(self, conn: Connection, reason: str, send_close: bool = False) -> None:
        """Close a session (idempotent) and run the disconnect handler once."""
        session = conn.session
        if not session.is_open:
            if session.state is State.CLOSING and not send_close:
                self._finish(conn)
            return
        if send_close and session.state is not State.WEBSOCKET:
            # Polling: the CLOSE packet goes out with the client's current or next poll; the
            # session waits in CLOSING for that poll (bounded by the timer).
            session.close_after_poll(reason, self.driver.monotonic())
            self._schedule(conn)
            self._wake_poll(conn)
            self._after_close(conn, reason)
            return
        event = session.close(reason)
        if send_close and conn.ws is not None:
            conn.ws.send(_ENCODED_CLOSE)
        if event is not None:
            self._after_close(conn, reason)

    def _after_close(self, conn: Connection, reason: str) -> None:
        """The protocol side is closed: release the I/O and tell the application."""
        session = conn.session
        self.logger.info("%s: Session closed: %s", session.eio_sid, reason)
        if session.state is State.CLOSED:
            self._finish(conn)
        if conn.ws is not None:
            conn.ws.close(_WS_CLOSE_NORMAL)
        if conn.probe_ws is not None:
            conn.probe_ws.close(_WS_CLOSE_NORMAL)
        handler = self.handlers.get("disconnect")
        if handler is not None:
            try:
                handler(session.eio_sid, reason)
            except Exception:
                self.logger.exception("disconnect handler error")

    def _finish(self, conn: Connection) -> None:
        """Forget the session and end any pending poll."""
        session = conn.session
        if session.state is State.CLOSING:
            session.close(session.close_reason or Reason.SERVER_DISCONNECT)
        if self._conns.get(session.eio_sid) is conn:
            del self._conns[session.eio_sid]
        self._polled(conn)
        self._wake_poll(conn)

    # -- timers --------------------------------------------------------------------------------
    def _schedule(self, conn: Connection) -> None:
        self._push_timer(conn.session.next_deadline(), conn.session.eio_sid)

    def _push_timer(self, deadline: float, key: str | int) -> None:
        if self._timers.push(deadline, key):
            if self._timer_task is None:
                self._timer_wake = self.driver.event()
                self._timer_task = self.driver.spawn(self._timer_loop)
            elif self._timer_wake is not None:
                self._timer_wake.set()

    def _timer_loop(self) -> None:
        wake = self._timer_wake
        assert wake is not None
        monotonic = self.driver.monotonic
        while True:
            now = monotonic()
            for deadline, key in self._timers.pop_due(now):
                if isinstance(key, int):
                    callback = self._callbacks.pop(-key, None)
                    if callback is not None:
                        try:
                            callback[0](*callback[1])
                        except Exception:
                            self.logger.exception("timer callback error")
                    continue
                conn = self._conns.get(str(key))
                if conn is None or conn.session.next_deadline() != deadline:
                    continue  # a stale entry: the session moved its deadline or is gone
                try:
                    self._on_timer(conn, now)
                except Exception:
                    self.logger.exception("timer handling error")
            nxt = self._timers.next_deadline()
            timeout = None if nxt is None else max(0.0, nxt - monotonic())
            wake.wait(timeout)
            wake.clear()

    def _on_timer(self, conn: Connection, now: float) -> None:
        session = conn.session
        was_closing = session.state is State.CLOSING
        event = session.on_timer(now)
        if isinstance(event, SendPing):
            if self.logger.isEnabledFor(INFO):
                self._log_packet(session.eio_sid, "Sending", _ENCODED_PING.packet)
            self._deliver(conn, _ENCODED_PING)
            self._schedule(conn)
        elif isinstance(event, Closed):
            if was_closing:
                self._finish(conn)  # the client never came back for its CLOSE packet
                return
            self.logger.info("%s: %s", session.eio_sid, event.reason)
            self._after_close(conn, event.reason)
        elif session.is_open or session.state is State.CLOSING:
            self._schedule(conn)

    # -- logging -------------------------------------------------------------------------------
    def _log_packet(self, eio_sid: str, direction: str, packet: EnginePacket) -> None:
        """One line per packet, as the reference prints them (callers check INFO first)."""
        self.logger.info("%s: %s packet %s", eio_sid, direction, describe(packet))

    def _log_once(self, key: str, message: str) -> None:
        """At ERROR the first time (seen at the default level), at INFO afterwards."""
        if key in self._logged_once:
            self.logger.info("%s", message)
        else:
            self._logged_once.add(key)
            # An ERROR so that it shows at the default level; marked as a notice about a
            # client, not a fault of the server (monitoring can tell them apart).
            self.logger.error("%s (further occurrences will be logged at INFO)", message,
                              extra={"client_notice": True})

    # -- HTTP responses ------------------------------------------------------------------------
    def _error(self, environ: dict[str, Any], start_response: StartResponse, message: str, close: bool = False) -> Iterable[bytes]:
        return self._respond(environ, start_response, 400, _quote(message), close=close)

    def _respond(
        self,
        environ: dict[str, Any],
        start_response: StartResponse,
        status: int,
        body: str,
        cors: bool = True,
        cookie_sid: str | None = None,
        close: bool = False,
    ) -> Iterable[bytes]:
        data = body.encode("utf-8")
        headers = [("Content-Type", "text/plain; charset=UTF-8")]
        cfg = self.config
        if cfg.http_compression and len(data) >= cfg.compression_threshold:
            encoding = _pick_encoding(environ.get("HTTP_ACCEPT_ENCODING", ""))
            if encoding == "gzip":
                data = gzip.compress(data, compresslevel=6)
                headers.append(("Content-Encoding", "gzip"))
            elif encoding == "deflate":
                data = zlib.compress(data)
                headers.append(("Content-Encoding", "deflate"))
        headers.append(("Content-Length", str(len(data))))
        if cors:
            headers.extend(self.origins.headers(environ.get("HTTP_ORIGIN"), environ))
        if cookie_sid is not None and cfg.cookie:
            headers.append(("Set-Cookie", _cookie(cfg.cookie, cookie_sid)))
        if close or environ.get("HTTP_CONNECTION", "").lower() == "close":
            headers.append(("Connection", "close"))
        start_response(_STATUS[status], headers)
        return [data]


class _WebSocketReader:
    """Who reads a WebSocket now: the WSGI request's greenlet, a successor it handed reading
    to when one of its handlers blocked, or (with a read watcher) a greenlet started when the
    socket became readable. `pending` holds received messages not yet handled."""

    __slots__ = (
        "server", "conn", "ws", "pending", "next", "owner", "finished", "watcher", "done", "failed",
    )

    def __init__(self, server: EngineServer, conn: Connection, ws: WebSocket, watcher: Any) -> None:
        self.server = server
        self.conn = conn
        self.ws = ws
        self.pending: list[str | bytes] = []  # handled up to `next` (a deque costs 600 B)
        self.next = 0
        self.owner: object = None
        self.watcher = watcher
        self.finished = server.driver.event() if watcher is None else None
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
        self.server.driver.spawn(self.server._websocket_loop, self, self.claim())

    def on_readable(self) -> None:
        """The read watcher's callback (in the loop): read and handle on a worker greenlet."""
        self.watcher.stop()
        if not self.done:
            self.server.driver.run_now(self.server._websocket_loop, self, self.claim())


_STATUS = {
    200: "200 OK",
    400: "400 BAD REQUEST",
    401: "401 UNAUTHORIZED",
    405: "405 METHOD NOT ALLOWED",
    503: "503 SERVICE UNAVAILABLE",
}


def _seconds(value: float) -> float:
    """A whole number of seconds as an int (``25``, as python-engineio reports the default)."""
    return int(value) if value.is_integer() else value


def _nothing() -> None:
    pass


def _quote(message: str) -> str:
    return json.dumps(message)


def _pick_encoding(accept: str) -> str | None:
    for part in accept.split(","):
        name = part.split(";", 1)[0].strip().lower()
        if name in ("gzip", "deflate"):
            return name
    return None


def _cookie(setting: Any, sid: str) -> str:
    if isinstance(setting, str):
        return f"{setting}={sid}; path=/; SameSite=Lax"
    attrs = dict(setting)
    name = attrs.pop("name", "io")
    parts = [f"{name}={sid}"]
    attrs.setdefault("path", "/")
    attrs.setdefault("SameSite", "Lax")
    for key, value in attrs.items():
        if callable(value):
            value = value()
        if value is True:
            parts.append(key)
        elif value not in (None, False):
            parts.append(f"{key}={value}")
    return "; ".join(parts)


def _media_type(environ: dict[str, Any]) -> str:
    content_type: str = environ.get("CONTENT_TYPE") or ""
    return content_type.split(";", 1)[0].strip().lower()


def _read_body(environ: dict[str, Any], limit: int) -> bytes:
    """Read a POST body without ever buffering more than `limit` bytes."""
    stream = environ.get("wsgi.input")
    length_header = environ.get("CONTENT_LENGTH") or ""
    if length_header:
        if not length_header.isdigit() or len(length_header) > 15:
            raise RemoteProtocolError("invalid Content-Length")
        length = int(length_header)
        if length > limit:
            raise RemoteProtocolError(f"payload of {length} bytes exceeds max_http_buffer_size ({limit})")
        if stream is None or length == 0:
            return b""
        chunks = []
        remaining = length
        while remaining > 0:
            chunk = _read_chunk(stream, min(remaining, 65536))
            if not chunk:
                # Never decode a truncated payload (its last packet would be cut short).
                raise RemoteProtocolError(f"POST body ended {remaining} bytes short of its Content-Length")
            chunks.append(chunk)
            remaining -= len(chunk)
        return b"".join(chunks)
    chunked = environ.get("HTTP_TRANSFER_ENCODING", "").lower() == "chunked" or environ.get("wsgi.input_terminated")
    if stream is None or not chunked:
        return b""
    chunks = []
    total = 0
    while True:
        # Never ask for more than one byte past the limit: a chunked reader blocks until it
        # has what was asked for, so a bigger read would wait for (and buffer) the excess.
        chunk = _read_chunk(stream, min(65536, limit + 1 - total))
        if not chunk:
            break
        total += len(chunk)
        if total > limit:
            raise RemoteProtocolError(f"payload exceeds max_http_buffer_size ({limit})")
        chunks.append(chunk)
    return b"".join(chunks)


def _read_chunk(stream: Any, size: int) -> bytes:
    """One read of the request body. A peer that hangs up mid-body or sends a malformed chunked
    encoding makes the WSGI server's input raise (pywsgi: ``OSError``, ``ValueError``): that
    is the peer's protocol error, never a 500 (found by scripts/fuzz_live.py)."""
    try:
        data: bytes = stream.read(size)
    except (OSError, ValueError) as exc:
        raise RemoteProtocolError(f"unreadable POST body: {exc}") from None
    return data


def _ws_done(environ: dict[str, Any]) -> Iterable[bytes]:
    """What the WSGI app returns once a WebSocket is over: no body (the 101 was sent).

    Werkzeug's dev server would still write a response after the app returns; ending with a
    `ConnectionError` makes it treat the connection as dropped (silently), which it now is."""
    if wrote_own_handshake(environ):
        raise WebSocketFinished("WebSocket session over")
    return []
