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
import os
import weakref
import zlib
from collections.abc import Callable, Mapping
from typing import Any

from wsproto.extensions import Extension, PerMessageDeflate
from wsproto.frame_protocol import (
    CloseReason,
    Frame,
    FrameDecoder,
    FrameProtocol,
    MessageDecoder,
    Opcode,
    ParseFailed,
    RsvBits,
)
from wsproto.utilities import generate_accept_token

from ..drivers.base import Driver, SocketWriter
from ..encoded import EncodedMessage
from ..errors import RemoteProtocolError
from ..flow import FlowControl
from ..http11 import REASONS

RECV_SIZE = 65536


def find_socket(environ: Mapping[str, Any]) -> Any:
    """The raw client socket, wherever the WSGI server keeps it (or None)."""
    for key in ("gevent.socket", "eventlet.socket", "werkzeug.socket", "gunicorn.socket"):
        sock = environ.get(key)
        if sock is not None:
            return sock
    if "uwsgi.version" in environ:
        return _uwsgi_socket()
    # gevent pywsgi: its `Input` keeps the socket; without a body to read, `wsgi.input` is the
    # connection's buffered reader, over a SocketIO over the socket.
    wsgi_input = environ.get("wsgi.input")
    sock = getattr(wsgi_input, "socket", None)
    if sock is not None:
        return sock
    rfile = getattr(wsgi_input, "rfile", wsgi_input)
    raw = getattr(rfile, "raw", None)
    return getattr(raw, "_sock", None)


def _uwsgi_socket() -> Any:
    """uWSGI keeps its connection as a file descriptor (``uwsgi.connection_fd()``): the socket
    here is a duplicate of it (cooperative under uWSGI's gevent loop), which the WebSocket
    closes when it is over, while uWSGI closes its own descriptor when the request ends.

    Behind ``--http … --http-websockets`` that descriptor is the worker's connection to
    uWSGI's HTTP router, which relays the 101 and then every byte both ways untouched (raw
    mode), so the engine frames WebSocket itself there as on any other server."""
    try:
        import uwsgi
    except ImportError:  # an environ that only claims to be uWSGI's
        return None
    fd = uwsgi.connection_fd()
    if fd is None or fd < 0:
        return None
    if uwsgi.opt.get("gevent"):
        from gevent import socket as socket_module
    else:
        import socket as socket_module
    sock = socket_module.socket(fileno=os.dup(fd))
    _ENGINE_OWNED.add(sock)
    return sock


# Sockets that no server closes (uWSGI's duplicates): the WebSocket closes them once it has
# flushed and shut the connection down.
_ENGINE_OWNED: weakref.WeakSet[Any] = weakref.WeakSet()


# The environ key of a server that lets a WebSocket take its connection over: calling the value
# tells the server to leave the socket open when the app returns, and gives back the bytes it
# had already received past the request head (`engineio_core.serving`).
TAKEOVER = "engineio_core.takeover"
# `WebSocket.close(NO_STATUS)` sends a close frame with no status code in it.
NO_STATUS: int = CloseReason.NO_STATUS_RCVD


class WebSocketFinished(ConnectionError):
    """Ends a WSGI call whose connection was taken over by a WebSocket (Werkzeug only)."""


_OWN_HANDSHAKE = "engineio_core.own_handshake"
_SWITCHING_PROTOCOLS = f"101 {REASONS[101]}"


def send_switching_protocols(
    environ: dict[str, Any], start_response: Callable[..., Any], sock: Any, headers: list[tuple[str, str]]
) -> None:
    """Answer the upgrade with ``101 Switching Protocols``.

    gevent's pywsgi and gunicorn write a 101 from `start_response` as given. Werkzeug's dev
    server adds ``Connection: close`` to every response, which strict clients (python's
    websocket-client) refuse; there the handshake is written on the raw socket instead."""
    raw: Any = environ.get("werkzeug.socket")
    if raw is not None and raw is sock:
        raw.sendall(switching_protocols_head(headers))
        environ[_OWN_HANDSHAKE] = True
        return
    write = start_response(_SWITCHING_PROTOCOLS, headers)
    write(b"")


def switching_protocols_head(headers: list[tuple[str, str]]) -> bytes:
    """The complete ``101 Switching Protocols`` response head."""
    lines = [f"HTTP/1.1 {_SWITCHING_PROTOCOLS}"] + [f"{k}: {v}" for k, v in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


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


class SizeGuardedDecoder(FrameDecoder):
    """wsproto's frame decoder, refusing a data frame whose *header* announces more than a
    message may hold (close 1009) before any of its payload is read or buffered
    (CVE-2026-48809: reject before buffering). Without it a peer announcing 2**40 bytes was
    answered only once the limit's worth of payload had actually arrived. Compressed frames get
    a little slack (deflate may expand incompressible data slightly); their inflated size is
    bounded by `BoundedDeflate`. It hooks the per-header step wsproto runs for extensions:
    one call per frame, where a guard extension cost three (about 3.5 us per frame)."""

    def __init__(self, extensions: list[Extension], max_message: int, compressed: bool) -> None:
        super().__init__(False, extensions)
        self.limit = max_message + (max_message // 64 + 1024 if compressed else 0)

    def process_buffer(self) -> Frame | None:
        """The next frame, as wsproto's `FrameDecoder.process_buffer` returns it. A whole
        masked, unfragmented text or binary frame of up to 65,535 bytes with no reserved bit
        (the common case: every Socket.IO message a client sends) is taken off the buffer here
        in one pass, unmasked with one integer XOR; anything else (a frame not yet complete,
        control frames, fragments, extensions, anything malformed) goes to wsproto's parser,
        which decides and raises as before."""
        if self.header is None and not self.extensions:
            buffer = self.buffer
            data = buffer.buffer
            size = len(data)
            if size > 6 and not buffer.bytes_used:
                first = data[0]
                if first == 0x81 or first == 0x82:  # FIN, no RSV bit, TEXT or BINARY
                    length = data[1] - 0x80  # the MASK bit must be set (client to server)
                    start = 6
                    if length > 125:  # a 16-bit length follows (127: a 64-bit one)
                        if length == 126 and size > 8:
                            length = (data[2] << 8) | data[3]
                            start = 8
                            if length < 126:
                                length = 0  # not minimal: wsproto's parser refuses it
                        else:
                            length = 0
                    end = start + length
                    if 0 < length < 65536 and length <= self.limit and end <= size:
                        key = bytes(data[start - 4:start])
                        mask = int.from_bytes((key * ((length >> 2) + 1))[:length], "little")
                        payload = (int.from_bytes(data[start:end], "little") ^ mask).to_bytes(length, "little")
                        del data[:end]
                        return Frame(_TEXT if first == 0x81 else _BINARY, payload, True, True)
        return super().process_buffer()

    def extension_processing(self, opcode: Opcode, rsv: RsvBits, payload_len: int) -> None:
        if payload_len > self.limit:
            raise ParseFailed("frame exceeds the message size limit", CloseReason.MESSAGE_TOO_BIG)
        if self.extensions:
            super().extension_processing(opcode, rsv, payload_len)
        elif rsv[0] or rsv[1] or rsv[2]:
            # What wsproto's own check says when no extension claims a bit.
            raise ParseFailed("Reserved bit set unexpectedly")


class WholeTextDecoder(MessageDecoder):
    """wsproto's message decoder, decoding a text message that arrives as one frame (the common
    case) in one strict ``bytes.decode`` instead of through a new incremental UTF-8 decoder (a
    codec lookup and two objects per message). Fragmented messages take wsproto's own path."""

    def process_frame(self, frame: Frame) -> Frame:
        if frame.opcode is _TEXT and frame.message_finished and frame.frame_finished and self.opcode is None:
            payload: Any = frame.payload
            try:
                return Frame(_TEXT, payload.decode("utf-8"), True, True)
            except UnicodeDecodeError as exc:
                raise ParseFailed(str(exc), CloseReason.INVALID_FRAME_PAYLOAD_DATA) from None
        return super().process_frame(frame)


def _server_protocol(deflate: PerMessageDeflate | None, max_message: int) -> FrameProtocol:
    """A server-side `FrameProtocol` whose decoder is a `SizeGuardedDecoder`."""
    extensions: list[Extension] = [deflate] if deflate is not None else []
    proto = FrameProtocol(False, extensions)
    # FrameProtocol builds its decoder in __init__ and reads it on each parse: swap it before
    # the first byte arrives (checked against wsproto's attribute, so an incompatible wsproto
    # fails loudly at the first connection, in every test, not silently unguarded).
    if not isinstance(getattr(proto, "_frame_decoder", None), FrameDecoder):
        raise RuntimeError("unsupported wsproto version: FrameProtocol._frame_decoder not found")
    if type(getattr(proto, "_message_decoder", None)) is not MessageDecoder:
        raise RuntimeError("unsupported wsproto version: FrameProtocol._message_decoder not found")
    proto._frame_decoder = SizeGuardedDecoder(proto.extensions, max_message, deflate is not None)
    proto._message_decoder = WholeTextDecoder()
    return proto


class WebSocket:
    """One open WebSocket: turns received bytes into messages (`feed`), writes shared frames or
    per-connection frames. wsproto's `FrameProtocol` does the framing; the connection-level
    bookkeeping (close handshake, ping answers) is the little this class adds."""

    __slots__ = (
        "_sock", "_proto", "writer", "_compress_from", "_max_message", "closed", "peer_closed",
        "failure", "_parts", "_size", "_done", "_owns_socket", "_flushed",
    )

    def __init__(
        self,
        sock: Any,
        driver: Driver,
        deflate: PerMessageDeflate | None,
        max_message: int,
        flow: FlowControl,
        on_error: Callable[[str], None],
        compression_threshold: int = 1024,
    ) -> None:
        self._sock = sock
        self._proto = _server_protocol(deflate, max_message)
        # The connection's lane for flow control (`engineio_core.flow`).
        self.writer: SocketWriter = driver.writer(sock, flow, on_error)
        # RFC 7692 lets each message choose: below the threshold a message goes out
        # uncompressed, as the shared pre-built frame; at or above it, deflated by wsproto.
        self._compress_from = compression_threshold if deflate is not None else None
        self._max_message = max_message
        self.closed = False  # our close frame is out (or the socket is gone)
        self.peer_closed = False  # the peer's close frame arrived (or the stream ended)
        self.failure: RemoteProtocolError | None = None  # a bad frame after good messages
        self._parts: list[Any] | None = None  # a fragmented message's parts (None: no list kept)
        self._size = 0
        self._done: Any = None  # created by wait_closed() only (blocking servers)
        self._flushed = False
        self._owns_socket = bool(_ENGINE_OWNED) and sock in _ENGINE_OWNED

    @property
    def buffered(self) -> int:
        return self.writer.buffered

    def send(self, message: EncodedMessage) -> None:
        if self.closed:
            return
        threshold = self._compress_from
        if threshold is not None and len(message.packet.data) >= threshold:
            self.writer.write(bytes(self._proto.send_data(message.ws_payload(), True)))
        else:
            self.writer.write(message.ws_frame())

    def send_now(self, message: EncodedMessage) -> None:
        """Like `send`, as a write of its own (not coalesced with frames written before or
        after it in the same loop pass): the packets of the connect path."""
        if self.closed:
            return
        threshold = self._compress_from
        if threshold is not None and len(message.packet.data) >= threshold:
            self.writer.write_now(bytes(self._proto.send_data(message.ws_payload(), True)))
        else:
            self.writer.write_now(message.ws_frame())

    def write_raw(self, data: bytes) -> None:
        """Bytes for the socket as they are (the 101 response head, when the engine sends it)."""
        self.writer.write(data)

    def receive(self, blocking: bool) -> bytes | None:
        """Bytes from the peer; b"" when the stream ended; None (non-blocking) if none yet."""
        try:
            if blocking:
                data: bytes = self._sock.recv(RECV_SIZE)
            else:
                data = self._sock._sock.recv(RECV_SIZE)
        except BlockingIOError:
            return None
        except OSError:
            return b""
        return data

    def feed(self, data: bytes) -> list[str | bytes]:
        """The complete messages in `data` (with what earlier calls left incomplete). Answers
        pings and the close handshake. Raises `RemoteProtocolError` (with a close code in
        `.status`) for frames that break RFC 6455 or the size limit; the messages that came
        before the bad frame are returned first, and the error is then in `failure` (and raised
        by the next call)."""
        failure = self.failure
        if failure is not None:
            raise failure
        out: list[str | bytes] = []
        try:
            self._parse(data, out)
        except RemoteProtocolError as exc:
            if not out:
                raise
            self.failure = exc
        return out

    def _parse(self, data: bytes, out: list[str | bytes]) -> None:
        proto = self._proto
        proto.receive_bytes(data)
        buffer = proto._frame_decoder.buffer
        try:
            for frame in proto._parse_more:
                if frame is None:
                    return
                opcode = frame.opcode
                payload: Any = frame.payload
                if opcode is _TEXT or opcode is _BINARY:
                    self._size += len(payload)
                    if self._size > self._max_message:
                        raise RemoteProtocolError(
                            f"message exceeds max_http_buffer_size ({self._max_message} bytes)", 1009
                        )
                    parts = self._parts
                    if not frame.message_finished:
                        if parts is None:
                            self._parts = [payload]
                        else:
                            parts.append(payload)
                        continue
                    if parts is not None:
                        parts.append(payload)
                        out.append("".join(parts) if opcode is _TEXT else b"".join(parts))
                        self._parts = None
                    else:
                        out.append(payload if opcode is _TEXT else bytes(payload))
                    self._size = 0
                    if not buffer:
                        return  # nothing left to parse: skip wsproto's look for another header
                elif opcode is _PING:
                    self._write_control(proto.pong(payload))
                elif opcode is _CLOSE:
                    self.peer_closed = True
                    if not self.closed:
                        code, reason = payload
                        self._write_control(proto.close(code, reason))
                    return
        except ParseFailed as exc:
            if exc.code == CloseReason.MESSAGE_TOO_BIG:
                raise RemoteProtocolError(
                    f"message exceeds max_http_buffer_size ({self._max_message} bytes)", 1009
                ) from None
            raise RemoteProtocolError(f"invalid WebSocket frame: {exc}", exc.code) from None

    def _write_control(self, frame: bytearray) -> None:
        if not self.closed:
            self.writer.write(bytes(frame))

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Send a close frame (once) and shut the socket down once it is flushed."""
        if self.closed:
            return
        self.closed = True
        if not self.peer_closed:
            self.writer.write(bytes(self._proto.close(code, reason[:120])))
        self.writer.close(self._finished)

    def _finished(self) -> None:
        shutdown(self._sock)
        self._flushed = True
        if self._owns_socket:
            self._sock.close()
        if self._done is not None:
            self._done.set()

    def close_socket_when_flushed(self) -> None:
        """For a socket no server will close: close it once `close()` has flushed."""
        self._owns_socket = True
        if self._flushed:
            self._sock.close()

    def wait_closed(self, driver: Driver, timeout: float) -> bool:
        """Block until `close()` has flushed and shut the socket down. The WSGI server must not
        get the connection back before that: it would parse WebSocket frames as HTTP, or close
        the socket under the writer that is still flushing it."""
        if self._flushed:
            return True
        if self._done is None:
            self._done = driver.event()
        return bool(self._done.wait(timeout))


_TEXT = Opcode.TEXT
_BINARY = Opcode.BINARY
_PING = Opcode.PING
_CLOSE = Opcode.CLOSE


def shutdown(sock: Any) -> None:
    """End the connection so the WSGI server's own read loop sees EOF."""
    try:
        sock.shutdown(2)  # SHUT_RDWR
    except (OSError, AttributeError):
        pass
