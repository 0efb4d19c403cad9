"""The long-polling transport: the handshake answer, GET (long-poll) and POST, reading request
bodies within bounds, HTTP answers with compression, CORS headers and the session cookie.

It talks to the server only through `TransportHost` (`transports.connection`)."""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterable
from logging import INFO
from typing import Any

from ..cors import OriginPolicy
from ..encoded import EncodedMessage
from ..errors import ErrorCode, RemoteProtocolError, error_body
from ..events import Reason
from ..handshake import open_packet_data
from ..http11 import REASONS
from ..packets import CLOSE, NOOP
from ..payload import decode_body, decode_payload, encode_payload, jsonp_wrap
from ..session import OutboxFull
from ..state import POLLING_STATES, State
from . import polling_v3
from .connection import Connection, StartResponse, TransportHost
from .polling_v3 import JSONP_TYPE

ENCODED_CLOSE = EncodedMessage(CLOSE)

_ENCODED_NOOP = EncodedMessage(NOOP)

# The status lines of the engine's own answers, upper-cased as python-engineio writes them.
_STATUS = {code: f"{code} {REASONS[code].upper()}" for code in (200, 400, 401, 405, 413, 503)}
_JSON = "application/json"


def _closes_always(environ: dict[str, Any]) -> bool:
    """Werkzeug's dev server writes ``Connection: close`` on every answer, after the app's
    headers: one from us would make two."""
    return str(environ.get("SERVER_SOFTWARE", "")).startswith("Werkzeug/")


class PollingTransport:
    """Serves the HTTP requests of polling sessions, and writes every HTTP answer the engine
    gives (errors included), so compression, CORS and cookies are decided in one place."""

    __slots__ = ("host", "origins", "upgrades")

    def __init__(self, host: TransportHost, origins: OriginPolicy) -> None:
        self.host = host
        self.origins = origins
        cfg = host.config
        self.upgrades = ["websocket"] if cfg.allow_upgrades and "websocket" in cfg.transports else []

    # -- answers -------------------------------------------------------------------------------
    def error(
        self, environ: dict[str, Any], start_response: StartResponse, message: str | None = None,
        close: bool = False, status: int = 400, code: ErrorCode = ErrorCode.BAD_REQUEST, cors: bool = True,
    ) -> Iterable[bytes]:
        """An error answer as the Node server writes it: `status` (400 unless said otherwise)
        and the JSON body ``{"code":N,"message":"..."}``, with Node's message for `code` unless
        `message` names a condition Node does not check (`errors.error_body`)."""
        body = error_body(code, message)
        return self.respond(environ, start_response, status, body, cors=cors, close=close, content_type=_JSON)

    def respond(
        self,
        environ: dict[str, Any],
        start_response: StartResponse,
        status: int,
        body: str | bytes,
        cors: bool = True,
        cookie_sid: str | None = None,
        close: bool = False,
        content_type: str = "text/plain; charset=UTF-8",
    ) -> Iterable[bytes]:
        data = body.encode("utf-8") if isinstance(body, str) else body
        headers = [("Content-Type", content_type)]
        cfg = self.host.config
        if cfg.http_compression and len(data) >= cfg.compression_threshold:
            data = _compress(data, environ.get("HTTP_ACCEPT_ENCODING", ""), headers)
        headers.append(("Content-Length", str(len(data))))
        if cors:
            headers.extend(self.origins.headers(environ.get("HTTP_ORIGIN"), environ))
        if cookie_sid is not None and cfg.cookie:
            headers.append(("Set-Cookie", cookie_header(cfg.cookie, cookie_sid)))
        if (close or environ.get("HTTP_CONNECTION", "").lower() == "close") and not _closes_always(environ):
            headers.append(("Connection", "close"))
        headers.append(("X-Content-Type-Options", "nosniff"))  # issue 21 #3: never sniffed as script/HTML
        start_response(_STATUS[status], headers)
        return [data]

    # -- requests ------------------------------------------------------------------------------
    def handshake(
        self, environ: dict[str, Any], start_response: StartResponse, jsonp: int | None,
        protocol: int = 4, b64: bool = False,
    ) -> Iterable[bytes]:
        """A request without a sid: open a polling session and answer its OPEN packet."""
        host = self.host
        if jsonp is not None and not self.origins.reader_allowed(environ):
            return self._jsonp_refused(environ, start_response)
        if host.at_capacity():
            return self.error(environ, start_response, "Server at capacity", status=503)
        conn = host.open_session(environ, protocol=protocol, b64=b64)
        if conn is None:
            return self.error(environ, start_response, "Unauthorized", status=401, code=ErrorCode.FORBIDDEN)
        eio_sid = conn.session.eio_sid
        host.schedule(conn)
        host.notify("opened", conn)
        body = "0" + open_packet_data(eio_sid, self.upgrades, host.config)
        host.logger.info("%s: Sending packet OPEN data %s", eio_sid, body[1:])
        if protocol == 3:
            return polling_v3.respond_open(self, environ, start_response, body, jsonp, eio_sid)
        if jsonp is not None:
            return self.respond(environ, start_response, 200, jsonp_wrap(jsonp, body), cookie_sid=eio_sid,
                                content_type=JSONP_TYPE)
        return self.respond(environ, start_response, 200, body, cookie_sid=eio_sid)

    def poll(self, conn: Connection, environ: dict[str, Any], start_response: StartResponse, jsonp: int | None) -> Iterable[bytes]:
        """GET: answer what is queued, or wait until something is (one pending GET at most)."""
        host = self.host
        session = conn.session
        if jsonp is not None and not self.origins.reader_allowed(environ):
            return self._jsonp_refused(environ, start_response)
        if conn.poll_waiter is not None:
            # Spec: "the server MUST close the session upon duplicate poll requests".
            # The pending poll ends with the CLOSE packet (engine.io-protocol test-suite).
            host.logger.warning("%s: duplicate poll request, closing the session", session.eio_sid)
            with host.lock:
                try:
                    session.queue(ENCODED_CLOSE)
                except OutboxFull:
                    pass
            host.close(conn, Reason.TRANSPORT_ERROR)
            return self.error(environ, start_response, "Duplicate poll request")
        if not session.outbox and session.state in POLLING_STATES:
            # While a probe is pending too: the upgrade check answers it (NOOP) within 100 ms.
            self._wait_for_messages(conn)
        with host.lock:
            messages = session.drain()
            host.polled(conn)
            if session.state is State.CLOSING:
                messages.append(ENCODED_CLOSE)
                host.finish(conn)
        if not messages:
            messages.append(_ENCODED_NOOP)
        if session.protocol == 3:
            return polling_v3.respond_poll(self, environ, start_response, messages, session.b64, jsonp)
        body = encode_payload([m.polling_segment() for m in messages])
        if jsonp is not None:
            return self.respond(environ, start_response, 200, jsonp_wrap(jsonp, body), content_type=JSONP_TYPE)
        return self.respond(environ, start_response, 200, body)

    def _jsonp_refused(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        """Issue 21 #3: JSONP only for a site CORS would let read the answer."""
        self.host.logger.info("JSONP refused: the loading site (Referer %r, Sec-Fetch-Site %r) is not an accepted origin",
                              environ.get("HTTP_REFERER"), environ.get("HTTP_SEC_FETCH_SITE"))
        return self.error(environ, start_response, "Not an accepted origin.")

    def _wait_for_messages(self, conn: Connection) -> None:
        waiter = self.host.driver.event()
        conn.poll_waiter = waiter
        try:
            # No timeout (under gevent one costs a timer per poll): the heartbeat bounds the
            # wait. A PING is queued every `ping_interval`, and whatever ends the session
            # (ping timeout, close, upgrade) wakes the poll (`Connection.wake_poll`).
            waiter.wait()
        finally:
            if conn.poll_waiter is waiter:
                conn.poll_waiter = None

    def post(self, conn: Connection, environ: dict[str, Any], start_response: StartResponse, jsonp: bool) -> Iterable[bytes]:
        """POST: decode the payload all-or-nothing and hand its packets to the session."""
        if jsonp and not self.origins.reader_allowed(environ):
            return self._jsonp_refused(environ, start_response)
        if conn.posting:
            # Spec: "the server MUST close the session upon concurrent POST requests".
            self.host.logger.warning("%s: concurrent POST requests, closing the session", conn.session.eio_sid)
            self.host.close(conn, Reason.TRANSPORT_ERROR)
            return self.error(environ, start_response, close=True)
        conn.posting = True
        try:
            return self._post_payload(conn, environ, start_response, jsonp)
        finally:
            conn.posting = False

    def _post_payload(self, conn: Connection, environ: dict[str, Any], start_response: StartResponse, jsonp: bool) -> Iterable[bytes]:
        host = self.host
        session = conn.session
        cfg = host.config
        try:
            binary = media_type(environ) == "application/octet-stream"
            if binary and session.protocol != 3:
                # v4 polling payloads are text (binary is base64 in them); engine.io refuses
                # binary POSTs too (CVE-2026-59725).
                raise RemoteProtocolError("binary (application/octet-stream) POST body")
            raw = read_body(environ, cfg.max_http_buffer_size)
            if session.protocol == 3:
                packets = polling_v3.decode_post(raw, binary, jsonp, cfg.max_decode_packets)
            else:
                packets = decode_payload(decode_body(raw, jsonp), cfg.max_decode_packets)
        except RemoteProtocolError as exc:
            host.logger.warning("%s: bad POST, closing the session: %s", session.eio_sid, exc.message)
            host.close(conn, Reason.TRANSPORT_ERROR)
            if exc.status == 413:  # too large: Node's 413 without a body (the body is not read)
                return self.respond(environ, start_response, 413, b"", close=True)
            # Node's "Bad request" body; the details went to the log.
            return self.error(environ, start_response, close=True)
        now = host.driver.monotonic()
        deadline = session.next_deadline()
        log_packets = host.logger.isEnabledFor(INFO)
        for packet in packets:
            if not session.is_open:
                break
            if log_packets:
                host.log_packet(session.eio_sid, "Received", packet)
            try:
                event = session.receive(packet, now)
            except RemoteProtocolError as exc:
                host.logger.warning("%s: %s, closing the session", session.eio_sid, exc.message)
                host.close(conn, Reason.TRANSPORT_ERROR)
                return self.error(environ, start_response)
            if event is not None:
                host.handle_event(conn, event)
        # A PONG moved the heartbeat, wherever it was in the payload (the client batches, e.g.
        # "3\x1e4msg"): tell the timer loop. An out-of-sequence PONG moves nothing and pushes
        # nothing, so a PONG flood cannot grow the timer heap.
        if session.is_open and session.next_deadline() != deadline:
            host.schedule(conn)
        return self.respond(environ, start_response, 200, "ok")


def _compress(data: bytes, accept: str, headers: list[tuple[str, str]]) -> bytes:
    """`data` in the first coding the client accepts (gzip or deflate), if any."""
    encoding = _pick_encoding(accept)
    if encoding == "gzip":
        headers.append(("Content-Encoding", "gzip"))
        return gzip.compress(data, compresslevel=6)
    if encoding == "deflate":
        headers.append(("Content-Encoding", "deflate"))
        return zlib.compress(data)
    return data


def _pick_encoding(accept: str) -> str | None:
    for part in accept.split(","):
        name = part.split(";", 1)[0].strip().lower()
        if name in ("gzip", "deflate"):
            return name
    return None


def cookie_header(setting: Any, sid: str) -> str:
    """The ``Set-Cookie`` value for the `cookie` option (a name, or a dict of attributes)."""
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


def media_type(environ: dict[str, Any]) -> str:
    content_type: str = environ.get("CONTENT_TYPE") or ""
    return content_type.split(";", 1)[0].strip().lower()


def read_body(environ: dict[str, Any], limit: int) -> bytes:
    """Read a POST body without ever buffering more than `limit` bytes."""
    stream = environ.get("wsgi.input")
    length_header = environ.get("CONTENT_LENGTH") or ""
    if length_header:
        return _read_sized(stream, length_header, limit)
    chunked = environ.get("HTTP_TRANSFER_ENCODING", "").lower() == "chunked" or environ.get("wsgi.input_terminated")
    if stream is None or not chunked:
        return b""
    return _read_unsized(stream, limit)


def _read_sized(stream: Any, length_header: str, limit: int) -> bytes:
    """A body with a Content-Length: exactly that many bytes, or a protocol error."""
    if not length_header.isdigit() or len(length_header) > 15:
        raise RemoteProtocolError("invalid Content-Length")
    length = int(length_header)
    if length > limit:
        raise RemoteProtocolError(f"payload of {length} bytes exceeds max_http_buffer_size ({limit})", 413)
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


def _read_unsized(stream: Any, limit: int) -> bytes:
    """A chunked (or server-terminated) body: read to its end, at most `limit` bytes."""
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
            raise RemoteProtocolError(f"payload exceeds max_http_buffer_size ({limit})", 413)
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
