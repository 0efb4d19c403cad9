"""HTTP/1.1 requests, sans-I/O: find the end of a head, parse it, build a WSGI environ, and
decode a chunked body (`ChunkedDecoder`: bytes in, body bytes out).

Used by `serving.HTTPServer`. Strict where leniency has been a smuggling or spoofing vector
(RFC 9112): no whitespace before a header's colon, no obs-fold, no Content-Length that is not
all digits, no Content-Length next to Transfer-Encoding, no header names with ``_`` (they
would collide with ``-`` in the environ), a Transfer-Encoding whose codings are tokens with
``chunked`` once and last, chunk sizes of hex digits only (``1_0``, ``+1``, ``0x10`` are
refused, where Python's ``int(x, 16)`` would take them), CRLF after every chunk, bounded
chunk-size lines, extensions and trailers. Every refusal is an `HTTPError` with its status.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote_to_bytes

MAX_REQUEST_LINE = 8192
MAX_HEAD = 65536
MAX_HEADERS = 100
# Chunked bodies: a chunk-size line with its extensions, the extensions of a whole body, the
# trailer section (lines and bytes), and the hex digits of a size once leading zeros are gone.
MAX_CHUNK_LINE = 4096
MAX_CHUNK_EXTENSIONS = 65536
MAX_TRAILER_SECTION = 8192
MAX_CHUNK_SIZE_DIGITS = 15

_DIGITS = "0123456789"
_VERSIONS = {"HTTP/1.1": (1, 1), "HTTP/1.0": (1, 0)}
_TOKEN_CHARS = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_TOKEN_BYTES = "".join(sorted(_TOKEN_CHARS)).encode("ascii")
_HEXDIGITS = b"0123456789abcdefABCDEF"
_OBS_TEXT = bytes(range(0x80, 0x100))
# RFC 9110 §5.6.4: qdtext and the characters a quoted-pair may escape; §5.5: a field value.
_QDTEXT_BYTES = frozenset(b"\t !" + bytes(range(0x23, 0x5C)) + bytes(range(0x5D, 0x7F)) + _OBS_TEXT)
_QUOTED_PAIR_BYTES = frozenset(b"\t " + bytes(range(0x21, 0x7F)) + _OBS_TEXT)
_FIELD_VALUE_BYTES = b"\t " + bytes(range(0x21, 0x7F)) + _OBS_TEXT
# ChunkedDecoder states
_SIZE, _DATA, _DATA_END, _TRAILER = range(4)
# Header names that map to environ keys without the HTTP_ prefix (PEP 3333).
_PLAIN = {"CONTENT_TYPE": "CONTENT_TYPE", "CONTENT_LENGTH": "CONTENT_LENGTH"}
_ENVIRON_KEYS: dict[str, str] = {}  # header name as sent -> environ key (a bounded cache)
_SPECIAL_KEYS = frozenset({"CONTENT_LENGTH", "HTTP_TRANSFER_ENCODING", "HTTP_CONNECTION", "HTTP_EXPECT"})

# The reason phrase of each status code this package answers with (RFC 9110 §15), one table
# for our HTTP server (`serving`) and the engine's answers (`transports.polling`).
REASONS = {
    101: "Switching Protocols", 200: "OK", 400: "Bad Request", 401: "Unauthorized",
    405: "Method Not Allowed", 413: "Payload Too Large", 414: "Request-URI Too Long", 431: "Request Header Fields Too Large",
    500: "Internal Server Error", 501: "Not Implemented", 503: "Service Unavailable",
    505: "HTTP Version Not Supported",
}


class HTTPError(Exception):
    """A request the server refuses before the application sees it."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"{status} {reason}")
        self.status = status
        self.reason = reason


class RequestHead:
    """A parsed request head. `headers` holds (environ key, value) pairs, duplicates joined."""

    __slots__ = (
        "method", "target", "path", "query", "version", "headers", "keep_alive",
        "content_length", "chunked", "expect_continue",
    )

    def __init__(self, method: str, target: str, version: str) -> None:
        self.method = method
        self.target = target
        self.version = version
        path, _, self.query = target.partition("?")
        if path.startswith(("http://", "https://")):  # absolute-form (a proxy's request)
            slash = path.find("/", path.index("//") + 2)
            path = "/" if slash < 0 else path[slash:]
        self.path = unquote_to_bytes(path).decode("latin-1") if "%" in path else path
        self.headers: dict[str, str] = {}
        self.keep_alive = version == "HTTP/1.1"
        self.content_length: int | None = None
        self.chunked = False
        self.expect_continue = False


def find_head_end(buf: bytes | bytearray) -> int:
    """The index just past the blank line ending the head in `buf`, or -1 if not there yet.
    Lines may end in CRLF or a bare LF (RFC 9112 §2.2 lets a recipient accept either)."""
    crlf = buf.find(b"\r\n\r\n")
    lf = buf.find(b"\n\n")
    if lf >= 0 and (crlf < 0 or lf < crlf + 2):
        return lf + 2
    return -1 if crlf < 0 else crlf + 4


def check_partial(buf: bytes | bytearray) -> None:
    """Refuse a head still being received once it can no longer be valid: 414 for a request
    line over `MAX_REQUEST_LINE`, 431 for a head over `MAX_HEAD` (bounds what is buffered)."""
    first = buf.find(b"\n")
    if first > 0 and buf[first - 1] == 13:  # a CR before the LF is not part of the line
        first -= 1
    if (first < 0 and len(buf) > MAX_REQUEST_LINE + 1) or first > MAX_REQUEST_LINE:
        raise HTTPError(414, "Request-URI Too Long")
    if len(buf) > MAX_HEAD:
        raise HTTPError(431, "Request Header Fields Too Large")


def parse_head(head: bytes | bytearray) -> RequestHead:
    """Parse a request line and its header lines (the trailing blank line is optional)."""
    check_partial(head)
    text = bytes(head).decode("latin-1")
    if "\r" in text:
        text = text.replace("\r\n", "\n")
        if text.endswith("\r"):
            text = text[:-1]
        if "\r" in text:
            raise HTTPError(400, "Bare CR")  # RFC 9110 §5.5: reject, never pass on
    if "\x00" in text:
        raise HTTPError(400, "NUL In Request Head")
    lines = text.split("\n")
    req = _parse_request_line(lines[0])
    transfer_encoding, connection = _parse_header_lines(req, lines)
    if transfer_encoding is not None:
        if req.content_length is not None:
            # RFC 9112 §6.3: the classic request-smuggling shape; never pick one of the two.
            raise HTTPError(400, "Content-Length With Transfer-Encoding")
        _check_transfer_codings(transfer_encoding)
        if req.version != "HTTP/1.1":
            raise HTTPError(400, "Chunked Body In HTTP/1.0")
        req.chunked = True
    if connection:
        tokens = [t.strip() for t in connection.split(",")]
        if "close" in tokens:
            req.keep_alive = False
        elif "keep-alive" in tokens:
            req.keep_alive = True
    if req.version == "HTTP/1.0":
        req.expect_continue = False
    return req


def _parse_request_line(line: str) -> RequestHead:
    parts = line.split(" ")
    if len(parts) != 3:
        raise HTTPError(400, "Bad Request Line")
    method, target, version = parts
    if not method or not _is_token(method):
        raise HTTPError(400, "Bad Request Method")
    if not target or not (target[0] == "/" or target == "*" or target.startswith(("http://", "https://"))):
        raise HTTPError(400, "Bad Request Target")
    if not target.isprintable() or not target.isascii():
        raise HTTPError(400, "Bad Request Target")
    if version not in _VERSIONS:
        if version.startswith("HTTP/") and len(version) == 8 and version[5] in _DIGITS and version[7] in _DIGITS:
            raise HTTPError(505, "HTTP Version Not Supported")
        raise HTTPError(400, "Bad Request Line")
    return RequestHead(method, target, version)


def _parse_header_lines(req: RequestHead, lines: list[str]) -> tuple[str | None, str]:
    """Fill `req.headers` (environ keys) from the header lines after the request line; returns
    the joined Transfer-Encoding (None if absent) and the lower-cased Connection tokens."""
    headers = req.headers
    count = 0
    connection = ""
    transfer_encoding: str | None = None
    known = _ENVIRON_KEYS
    special = _SPECIAL_KEYS
    for raw in lines[1:]:
        if not raw:
            continue  # the blank line that ends the head (and what split() leaves after it)
        count += 1
        if count > MAX_HEADERS:
            raise HTTPError(431, "Too Many Headers")
        name, colon, value = raw.partition(":")
        key = known.get(name)
        if key is None:
            if not colon or not name or raw[0] in " \t":
                raise HTTPError(400, "Bad Header Line")
            if not _is_token(name):
                raise HTTPError(400, "Bad Header Name")
            if "_" in name:
                continue  # would be indistinguishable from its "-" twin in the environ
            key = name.upper().replace("-", "_")
            key = _PLAIN.get(key) or "HTTP_" + key
            if len(known) < 512:
                known[name] = key
        elif not colon:  # a known name (so a valid token) with no colon after it
            raise HTTPError(400, "Bad Header Line")
        value = value.strip(" \t")
        if key in special:
            if key == "CONTENT_LENGTH":
                if not value.isdigit() or not value.isascii() or len(value) > 30:
                    raise HTTPError(400, "Bad Content-Length")
                if req.content_length is not None and req.content_length != int(value):
                    raise HTTPError(400, "Conflicting Content-Length")
                req.content_length = int(value)
                headers[key] = value
                continue
            if key == "HTTP_TRANSFER_ENCODING":
                transfer_encoding = value if transfer_encoding is None else transfer_encoding + "," + value
            elif key == "HTTP_CONNECTION":
                connection = connection + "," + value.lower() if connection else value.lower()
            elif value.lower() == "100-continue":  # HTTP_EXPECT
                req.expect_continue = True
        previous = headers.get(key)
        headers[key] = value if previous is None else previous + "," + value
    return transfer_encoding, connection


def _check_transfer_codings(value: str) -> None:
    """The Transfer-Encoding of a request (all its header lines, comma-joined): a list of
    coding tokens, case-insensitive (RFC 9112 §7), with ``chunked`` exactly once and last
    (§6.3: otherwise the body's length cannot be known: 400 and close). Any other coding is
    one this server does not implement (§6.1: 501)."""
    codings = []
    for element in value.split(","):
        name = element.strip(" \t")
        if not name:
            continue  # an empty list element (RFC 9110 §5.6.1.2)
        if not _is_token(name):
            raise HTTPError(400, "Bad Transfer-Encoding")
        codings.append(name.lower())
    if not codings:
        raise HTTPError(400, "Bad Transfer-Encoding")
    if codings.count("chunked") > 1:
        raise HTTPError(400, "Chunked Applied Twice")
    if codings[-1] != "chunked":
        raise HTTPError(400, "Chunked Not Final")
    if len(codings) > 1:
        raise HTTPError(501, "Transfer-Encoding Not Implemented")


class ChunkedDecoder:
    """An incremental decoder of a chunked request body (RFC 9112 §7.1), sans-I/O.

    ``feed(data)`` takes the next bytes of the connection, in any pieces, and returns the body
    bytes they complete. After the last chunk and its trailer section `done` is true and
    `rest` holds what came after the body (a pipelined request); feeding more then only adds
    to `rest`. Malformed framing raises `HTTPError` (400), then again on every later feed;
    nothing else escapes. Trailer
    fields are checked and dropped. Grammar (§7.1, §7.1.1, §7.1.2)::

        chunked-body = *chunk last-chunk trailer-section CRLF
        chunk        = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
        chunk-size   = 1*HEXDIG
        chunk-ext    = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )
    """

    __slots__ = (
        "_state", "_buf", "_left", "_ext_bytes", "_trailer_bytes", "_trailers", "_error", "done", "rest",
    )

    def __init__(self) -> None:
        self._state = _SIZE
        self._buf = b""  # framing bytes received and not yet consumed
        self._left = 0  # bytes of chunk data still to come
        self._ext_bytes = 0
        self._trailer_bytes = 0
        self._trailers = 0
        self._error: HTTPError | None = None
        self.done = False
        self.rest = b""

    def feed(self, data: bytes) -> bytes:
        """The body bytes that `data` completes. Once a body is refused, every later call
        raises the same `HTTPError` (the framing is lost for good)."""
        if self.done:
            self.rest += data
            return b""
        if self._error is not None:
            raise self._error
        try:
            return self._feed(data)
        except HTTPError as exc:
            self._error = exc
            raise

    def _feed(self, data: bytes) -> bytes:
        buf = self._buf + data if self._buf else data
        out: list[bytes] = []
        pos = 0
        end = len(buf)
        while pos < end:
            state = self._state
            if state == _DATA:
                take = min(self._left, end - pos)
                out.append(buf[pos:pos + take])
                pos += take
                self._left -= take
                if not self._left:
                    self._state = _DATA_END
                continue
            if state == _DATA_END:
                if buf[pos] != 13 or (end - pos >= 2 and buf[pos + 1] != 10):
                    raise HTTPError(400, "Chunk Data Not Followed By CRLF")
                if end - pos < 2:
                    break
                pos += 2
                self._state = _SIZE
                continue
            eol = buf.find(b"\r\n", pos)
            limit = MAX_CHUNK_LINE if state == _SIZE else MAX_TRAILER_SECTION - self._trailer_bytes
            if eol < 0:
                if end - pos > limit:
                    raise HTTPError(400, "Chunk Line Too Long" if state == _SIZE else "Trailers Too Large")
                break
            line = buf[pos:eol]
            pos = eol + 2
            if len(line) > limit:
                raise HTTPError(400, "Chunk Line Too Long" if state == _SIZE else "Trailers Too Large")
            if state == _SIZE:
                size = self._chunk_size(line)
                if size:
                    self._left = size
                    self._state = _DATA
                else:
                    self._state = _TRAILER
            elif line:
                self._trailer(line)
            else:
                self.done = True
                self.rest = buf[pos:]
                self._buf = b""
                return b"".join(out)
        self._buf = buf[pos:]
        return b"".join(out)

    def _chunk_size(self, line: bytes) -> int:
        semi = line.find(b";")
        digits = line if semi < 0 else line[:semi].rstrip(b" \t")
        if not digits or digits.translate(None, _HEXDIGITS):
            raise HTTPError(400, "Bad Chunk Size")
        if len(digits.lstrip(b"0")) > MAX_CHUNK_SIZE_DIGITS:
            raise HTTPError(400, "Chunk Size Too Large")
        if semi >= 0:
            self._ext_bytes += len(line) - semi
            if self._ext_bytes > MAX_CHUNK_EXTENSIONS:
                raise HTTPError(400, "Chunk Extensions Too Large")
            _check_chunk_extensions(line, semi)
        return int(digits, 16)

    def _trailer(self, line: bytes) -> None:
        self._trailers += 1
        self._trailer_bytes += len(line) + 2
        if self._trailers > MAX_HEADERS:
            raise HTTPError(400, "Too Many Trailers")
        name, colon, value = line.partition(b":")
        if not colon or not name or name.translate(None, _TOKEN_BYTES):
            raise HTTPError(400, "Bad Trailer")  # also a leading space or tab (obs-fold)
        if value.translate(None, _FIELD_VALUE_BYTES):
            raise HTTPError(400, "Bad Trailer")


def _check_chunk_extensions(line: bytes, pos: int) -> None:
    """``*( BWS ";" BWS name [ BWS "=" BWS ( token / quoted-string ) ] )`` from `pos` (a ";")."""
    end = len(line)
    while pos < end:
        if line[pos] != 59:  # ";"
            raise HTTPError(400, "Bad Chunk Extension")
        pos = _skip_ws(line, _token_end(line, _skip_ws(line, pos + 1)))
        if pos < end and line[pos] == 61:  # "="
            pos = _skip_ws(line, pos + 1)
            if pos < end and line[pos] == 34:  # a quoted-string
                pos += 1
                while True:
                    if pos >= end:
                        raise HTTPError(400, "Bad Chunk Extension")
                    byte = line[pos]
                    if byte == 34:
                        pos += 1
                        break
                    if byte == 92:  # a quoted-pair
                        pos += 1
                        if pos >= end or line[pos] not in _QUOTED_PAIR_BYTES:
                            raise HTTPError(400, "Bad Chunk Extension")
                    elif byte not in _QDTEXT_BYTES:
                        raise HTTPError(400, "Bad Chunk Extension")
                    pos += 1
            else:
                pos = _token_end(line, pos)
            pos = _skip_ws(line, pos)


def _token_end(line: bytes, pos: int) -> int:
    """The end of the (non-empty) token at `pos` of a chunk extension."""
    end = len(line)
    start = pos
    while pos < end and line[pos] in _TOKEN_BYTES:
        pos += 1
    if pos == start:
        raise HTTPError(400, "Bad Chunk Extension")
    return pos


def _skip_ws(line: bytes, pos: int) -> int:
    end = len(line)
    while pos < end and line[pos] in (32, 9):
        pos += 1
    return pos


def _is_token(value: str) -> bool:
    chars = _TOKEN_CHARS
    for ch in value:
        if ch not in chars:
            return False
    return True


def build_environ(req: RequestHead, server_name: str, server_port: str, remote: Any, scheme: str) -> dict[str, Any]:
    """The WSGI environ of a request, minus the stream and socket entries the I/O adds."""
    environ: dict[str, Any] = {
        "REQUEST_METHOD": req.method,
        "SCRIPT_NAME": "",
        "PATH_INFO": req.path,
        "QUERY_STRING": req.query,
        "RAW_URI": req.target,
        "REQUEST_URI": req.target,
        "SERVER_NAME": server_name,
        "SERVER_PORT": server_port,
        "SERVER_PROTOCOL": req.version,
        "REMOTE_ADDR": str(remote[0]) if remote else "",
        "REMOTE_PORT": str(remote[1]) if remote and len(remote) > 1 else "",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scheme,
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    environ.update(req.headers)
    if req.chunked:
        environ["wsgi.input_terminated"] = True
    return environ
