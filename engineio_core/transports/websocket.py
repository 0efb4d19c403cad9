"""The WebSocket transport: handshake on top of the WSGI request, wsproto for framing.

The WSGI server parsed the HTTP upgrade request; we validate it, answer ``101`` through
``start_response`` (gevent's pywsgi, gunicorn and Werkzeug all pass a 101 through untouched)
and then speak WebSocket on the raw socket the server exposes:
``werkzeug.socket`` (Werkzeug dev server), ``gunicorn.socket`` (gunicorn), or the socket under
gevent pywsgi's ``wsgi.input``. wsproto errors never leave this module: they become
`RemoteProtocolError` with the close code to use.
"""

from __future__ import annotations

import base64
import zlib
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from wsproto.connection import Connection, ConnectionState, ConnectionType
from wsproto.events import BytesMessage, CloseConnection, Message, Ping, TextMessage
from wsproto.extensions import Extension, PerMessageDeflate
from wsproto.frame_protocol import CloseReason, RsvBits
from wsproto.utilities import LocalProtocolError as WsLocalError
from wsproto.utilities import generate_accept_token

from ..drivers.base import Driver, SocketWriter
from ..encoded import EncodedMessage
from ..errors import RemoteProtocolError

RECV_SIZE = 65536


def find_socket(environ: Mapping[str, Any]) -> Any:
    """The raw client socket, wherever the WSGI server keeps it (or None)."""
    for key in ("gevent.socket", "werkzeug.socket", "gunicorn.socket"):
        sock = environ.get(key)
        if sock is not None:
            return sock
    wsgi_input = environ.get("wsgi.input")
    rfile = getattr(wsgi_input, "rfile", None)
    raw = getattr(rfile, "raw", None)
    return getattr(raw, "_sock", None)


class WebSocketFinished(ConnectionError):
    """Ends a WSGI call whose connection was taken over by a WebSocket (Werkzeug only)."""


_OWN_HANDSHAKE = "engineio_core.own_handshake"


def send_switching_protocols(
    environ: dict[str, Any], start_response: Callable[..., Any], sock: Any, headers: list[tuple[str, str]]
) -> None:
    """Answer the upgrade with ``101 Switching Protocols``.

    gevent's pywsgi and gunicorn write a 101 from `start_response` as given. Werkzeug's dev
    server adds ``Connection: close`` to every response, which strict clients (python's
    websocket-client) refuse; there the handshake is written on the raw socket instead."""
    raw: Any = environ.get("werkzeug.socket")
    if raw is not None and raw is sock:
        lines = ["HTTP/1.1 101 Switching Protocols"] + [f"{k}: {v}" for k, v in headers]
        raw.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        environ[_OWN_HANDSHAKE] = True
        return
    write = start_response("101 Switching Protocols", headers)
    write(b"")


def wrote_own_handshake(environ: Mapping[str, Any]) -> bool:
    return bool(environ.get(_OWN_HANDSHAKE))


def negotiate(
    environ: Mapping[str, Any], compression: bool, max_message: int = 1_000_000
) -> tuple[list[tuple[str, str]], PerMessageDeflate | None]:
    """Validate the upgrade request (RFC 6455 §4.2.1) and build the 101 response headers."""
    if environ.get("REQUEST_METHOD") != "GET":
        raise RemoteProtocolError("Invalid websocket upgrade")
    if "upgrade" not in environ.get("HTTP_CONNECTION", "").lower():
        raise RemoteProtocolError("Invalid websocket upgrade")
    if environ.get("HTTP_SEC_WEBSOCKET_VERSION", "") != "13":
        raise RemoteProtocolError("Unsupported websocket version")
    key = environ.get("HTTP_SEC_WEBSOCKET_KEY", "").strip()
    try:
        if len(base64.b64decode(key, validate=True)) != 16:
            raise ValueError
    except ValueError:
        raise RemoteProtocolError("Invalid websocket key") from None
    accept = generate_accept_token(key.encode("ascii")).decode("ascii")
    headers = [("Upgrade", "websocket"), ("Connection", "Upgrade"), ("Sec-WebSocket-Accept", accept)]
    deflate: PerMessageDeflate | None = None
    if compression:
        for offer in environ.get("HTTP_SEC_WEBSOCKET_EXTENSIONS", "").split(","):
            name = offer.split(";", 1)[0].strip()
            if name != PerMessageDeflate.name:
                continue
            candidate = BoundedDeflate(max_message)
            try:
                accepted = candidate.accept(offer.strip())
            except (ValueError, IndexError):
                continue
            if accepted is not None and accepted is not False:
                value = PerMessageDeflate.name
                if isinstance(accepted, str) and accepted:
                    value += "; " + accepted
                headers.append(("Sec-WebSocket-Extensions", value))
                deflate = candidate
                break
    return headers, deflate


class BoundedDeflate(PerMessageDeflate):
    """permessage-deflate whose inflation stops at `max_message` bytes per message.

    wsproto inflates a frame in one call with no output bound, so a few KB of compressed
    zeros would expand to gigabytes before any size check could run (a "zip bomb"). Here each
    inflate call may produce at most what the message still has room for; one byte more
    closes the connection with 1009 (message too big)."""

    def __init__(self, max_message: int) -> None:
        super().__init__()
        self.max_message = max_message
        self._inflated = 0

    def _inflate(self, data: bytes) -> bytes | CloseReason:
        assert self._decompressor is not None
        room = self.max_message - self._inflated
        try:
            out = self._decompressor.decompress(data, room + 1)
        except zlib.error:
            return CloseReason.INVALID_FRAME_PAYLOAD_DATA
        self._inflated += len(out)
        if self._inflated > self.max_message or self._decompressor.unconsumed_tail:
            return CloseReason.MESSAGE_TOO_BIG
        return out

    def frame_inbound_payload_data(self, proto: Any, data: bytes) -> bytes | CloseReason:
        if not self._inbound_compressed or not self._inbound_is_compressible:
            return data
        return self._inflate(bytes(data))

    def frame_inbound_complete(self, proto: Any, fin: bool) -> bytes | CloseReason | None:
        if not fin:
            return None
        if not (self._inbound_is_compressible and self._inbound_compressed):
            self._inbound_compressed = None
            self._inflated = 0
            return None
        tail = self._inflate(b"\x00\x00\xff\xff")
        self._inflated = 0
        if isinstance(tail, CloseReason):
            return tail
        if self.client_no_context_takeover:
            self._decompressor = None
        self._inbound_compressed = None
        return tail


class FrameSizeGuard(Extension):
    """Refuses a data frame whose *header* announces more than a message may hold (close 1009),
    before any of its payload is read or buffered (CVE-2026-48809: reject before buffering).
    Without it a peer announcing 2**40 bytes was answered only once the limit's worth of
    payload had actually arrived. Not negotiated: it only inspects inbound frame headers.
    Compressed frames get a little slack (deflate may expand incompressible data slightly);
    their inflated size is bounded by `BoundedDeflate`."""

    name = "x-frame-size-guard"

    def __init__(self, max_message: int, compressed: bool) -> None:
        self.limit = max_message + (max_message // 64 + 1024 if compressed else 0)

    def enabled(self) -> bool:
        return True

    def offer(self) -> bool:
        return False

    def frame_inbound_header(self, proto: Any, opcode: Any, rsv: RsvBits, payload_length: int) -> CloseReason | RsvBits:
        if payload_length > self.limit:
            return CloseReason.MESSAGE_TOO_BIG
        return RsvBits(False, False, False)


class WebSocket:
    """One open WebSocket: reads messages, writes shared frames or per-connection frames."""

    __slots__ = ("_sock", "_conn", "_writer", "_compress_from", "_max_message", "closed", "_done")

    def __init__(
        self,
        sock: Any,
        driver: Driver,
        deflate: PerMessageDeflate | None,
        max_message: int,
        max_buffered: int,
        on_error: Callable[[str], None],
        compression_threshold: int = 1024,
    ) -> None:
        self._sock = sock
        guard = FrameSizeGuard(max_message, deflate is not None)
        self._conn = Connection(ConnectionType.SERVER, extensions=[deflate, guard] if deflate else [guard])
        self._writer: SocketWriter = driver.writer(sock, max_buffered, on_error)
        # RFC 7692 lets each message choose: below the threshold a message goes out
        # uncompressed, as the shared pre-built frame; at or above it, deflated by wsproto.
        self._compress_from = compression_threshold if deflate is not None else None
        self._max_message = max_message
        self.closed = False
        self._done = driver.event()  # set once the socket is shut down (after the flush)

    @property
    def buffered(self) -> int:
        return self._writer.buffered

    def send(self, message: EncodedMessage) -> None:
        if self.closed:
            return
        threshold = self._compress_from
        if threshold is not None and len(message.packet.data) >= threshold:
            payload = message.ws_payload()
            event = BytesMessage(data=payload) if isinstance(payload, bytes) else TextMessage(data=payload)
            try:
                data = self._conn.send(event)
            except WsLocalError:
                return
            self._writer.write(data)
        else:
            self._writer.write(message.ws_frame())

    def messages(self) -> Iterator[str | bytes]:
        """Complete messages from the peer, until it closes. Raises `RemoteProtocolError`
        (with a close code in `.status`) for frames that break RFC 6455 or the size limit."""
        conn = self._conn
        parts: list[Any] = []
        size = 0
        while True:
            try:
                data = self._sock.recv(RECV_SIZE)
            except OSError:
                return
            if not data:
                return
            try:
                conn.receive_data(data)
            except WsLocalError:
                return
            for event in conn.events():
                if isinstance(event, Message):
                    size += len(event.data)
                    if size > self._max_message:
                        raise RemoteProtocolError(
                            f"message exceeds max_http_buffer_size ({self._max_message} bytes)", 1009
                        )
                    if event.message_finished:
                        if parts:
                            parts.append(event.data)
                            joined: str | bytes = (
                                "".join(parts) if isinstance(event.data, str) else b"".join(parts)
                            )
                            parts = []
                        else:
                            joined = event.data if isinstance(event.data, str) else bytes(event.data)
                        size = 0
                        yield joined
                    else:
                        parts.append(event.data)
                elif isinstance(event, Ping):
                    self._write_control(event.response())
                elif isinstance(event, CloseConnection):
                    if conn.state is ConnectionState.REMOTE_CLOSING:
                        self._write_control(event.response())
                        return
                    # wsproto reports a frame it could not parse as a CloseConnection while
                    # the connection is still OPEN: that is the peer's protocol error.
                    if event.code == CloseReason.MESSAGE_TOO_BIG:
                        raise RemoteProtocolError(
                            f"message exceeds max_http_buffer_size ({self._max_message} bytes)", 1009
                        )
                    raise RemoteProtocolError(f"invalid WebSocket frame: {event.reason}", event.code)

    def _write_control(self, event: Any) -> None:
        try:
            data = self._conn.send(event)
        except WsLocalError:
            return
        self._writer.write(data)

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Send a close frame (once) and shut the socket down."""
        if self.closed:
            return
        self.closed = True
        if self._conn.state in (ConnectionState.OPEN, ConnectionState.REMOTE_CLOSING):
            try:
                self._writer.write(self._conn.send(CloseConnection(code=code, reason=reason[:120])))
            except WsLocalError:
                pass
        sock, done = self._sock, self._done

        def finished() -> None:
            shutdown(sock)
            done.set()

        self._writer.close(finished)

    def wait_closed(self, timeout: float) -> bool:
        """Block until `close()` has flushed and shut the socket down. The WSGI server must not
        get the connection back before that: it would parse WebSocket frames as HTTP, or close
        the socket under the writer that is still flushing it."""
        return self._done.wait(timeout)


def shutdown(sock: Any) -> None:
    """End the connection so the WSGI server's own read loop sees EOF."""
    try:
        sock.shutdown(2)  # SHUT_RDWR
    except (OSError, AttributeError):
        pass
