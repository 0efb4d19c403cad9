"""Hypothesis fuzzing of the HTTP/1.1 request-head parser and chunked-body decoder of
`engineio_core.http11`: only `HTTPError` (with a 4xx/5xx status) may escape.

Covers `parse_head` on arbitrary bytes, on bytes built from HTTP's own pieces, and on
mutations of valid heads; `find_head_end` and `check_partial` on any input and on every prefix
of a valid request; and round-trip properties of valid generated heads (method, target, path,
query, version, header values joined per environ key, Content-Length, chunked, keep-alive,
the environ built from them). `ChunkedDecoder` on arbitrary bytes, on bytes built from the
chunked grammar's own pieces and on mutations of valid bodies, fed whole and byte at a time
(the same outcome either way), and round trips of valid bodies (extensions, trailers, leading
zeros, any split). Deterministic (derandomize=True) and bounded in size.
"""

from __future__ import annotations

import os
import re
import sys

# tests/engineio_core/ (no __init__.py) would shadow the real package as a namespace package
# when only tests/ is on sys.path: make the project root importable first.
_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if _ROOT not in sys.path:
    sys.path.append(_ROOT)
if getattr(sys.modules.get("engineio_core"), "__file__", "") is None:
    del sys.modules["engineio_core"]

from dataclasses import dataclass  # noqa: E402
from typing import Any  # noqa: E402
from urllib.parse import unquote_to_bytes  # noqa: E402

import pytest  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from engineio_core.http11 import (  # noqa: E402
    MAX_CHUNK_EXTENSIONS,
    MAX_CHUNK_LINE,
    MAX_CHUNK_SIZE_DIGITS,
    MAX_HEADERS,
    MAX_TRAILER_SECTION,
    ChunkedDecoder,
    HTTPError,
    RequestHead,
    build_environ,
    check_partial,
    find_head_end,
    parse_head,
)

FUZZ = settings(
    derandomize=True,
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    database=None,
)

# Generating valid heads dominates the run time: fewer examples for those tests.
FUZZ_HEADS = settings(FUZZ, max_examples=100)

STATUSES = {400, 414, 431, 501, 505}


def parse_or_refuse(head: bytes) -> RequestHead | None:
    """`parse_head(head)`; an `HTTPError` with a known status is an acceptable answer."""
    try:
        req = parse_head(head)
    except HTTPError as exc:
        assert exc.status in STATUSES, exc.status
        return None
    assert isinstance(req, RequestHead)
    return req


# -- strategies --------------------------------------------------------------------------------------

TCHAR = "!#$%&'*+-.^`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"  # no "_"
SPECIAL_NAMES = {"content-length", "transfer-encoding"}
tokens = st.text(alphabet=TCHAR, min_size=1, max_size=12)
methods = st.one_of(st.sampled_from(["GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS"]), tokens)
path_pieces = st.one_of(
    st.text(alphabet="abcXYZ019-._~!$&'()*+,;=:@/", min_size=1, max_size=8),
    st.builds(lambda a, b: f"%{a}{b}", st.sampled_from("0123456789abcdefABCDEF"),
              st.sampled_from("0123456789abcdefABCDEF")),
)
paths = st.lists(path_pieces, max_size=6).map(lambda pieces: "/" + "".join(pieces))
query_pieces = st.one_of(path_pieces, st.just("?"), st.just("%"))
queries = st.one_of(st.none(), st.lists(query_pieces, max_size=6).map("".join))
header_names = tokens.filter(lambda n: n.lower() not in SPECIAL_NAMES)
# Visible ASCII, obs-text and inner spaces/tabs; leading/trailing whitespace is not part of a value.
VALUE_CHARS = "".join(map(chr, range(0x21, 0x7F))) + " \t\x80\xe9\xff"
header_values = st.text(alphabet=VALUE_CHARS, max_size=20).map(lambda v: v.strip(" \t"))
connection_values = st.sampled_from(["close", "keep-alive", "Keep-Alive", "upgrade", "Close, Upgrade", "foo"])


@dataclass
class Head:
    method: str
    path: str
    query: str | None
    version: str
    headers: list[tuple[str, str]]
    content_length: int | None
    chunked: bool
    line_end: str

    @property
    def target(self) -> str:
        return self.path if self.query is None else f"{self.path}?{self.query}"

    def encode(self, blank_line: bool = True) -> bytes:
        fields = list(self.headers)
        if self.content_length is not None:
            fields.append(("Content-Length", str(self.content_length)))
        if self.chunked:
            fields.append(("Transfer-Encoding", "chunked"))
        end = self.line_end
        text = f"{self.method} {self.target} {self.version}{end}" + "".join(f"{n}: {v}{end}" for n, v in fields)
        return (text + (end if blank_line else "")).encode("latin-1")


@st.composite
def valid_heads(draw: st.DrawFn) -> Head:
    version = draw(st.sampled_from(["HTTP/1.1", "HTTP/1.0"]))
    headers = draw(st.lists(st.one_of(
        st.tuples(header_names, header_values),
        st.tuples(st.sampled_from(["Connection", "connection"]), connection_values),
        st.tuples(st.just("Content-Type"), header_values),
    ), max_size=8))
    framing = draw(st.sampled_from(["none", "length", "chunked"] if version == "HTTP/1.1" else ["none", "length"]))
    return Head(
        method=draw(methods),
        path=draw(paths),
        query=draw(queries),
        version=version,
        headers=headers,
        content_length=draw(st.integers(0, 10**12)) if framing == "length" else None,
        chunked=framing == "chunked",
        line_end=draw(st.sampled_from(["\r\n", "\r\n", "\n"])),
    )


def environ_key(name: str) -> str:
    key = name.upper().replace("-", "_")
    return key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else "HTTP_" + key


# HTTP-shaped noise: the pieces a parser branches on.
pieces = st.sampled_from([
    b"GET", b"POST", b" ", b"  ", b"\t", b"/", b"/a%20b", b"%", b"%zz", b"?", b"*", b"http://h/p",
    b"HTTP/1.1", b"HTTP/1.0", b"HTTP/2.0", b"HTTP/1.12", b"HTTP/", b"\r\n", b"\n", b"\r", b"\r\n\r\n",
    b":", b": ", b"Host", b"Content-Length", b"content-length", b"Transfer-Encoding", b"chunked",
    b"Connection", b"close", b"keep-alive", b"Expect", b"100-continue", b"X_Under", b"0", b"12",
    b"-1", b"1e3", b"0x10", b"\x00", b"\xff", b"\xc3\xa9", b",", b"\x0b", b"\x85",
])
noise = st.lists(st.one_of(pieces, st.binary(max_size=4)), max_size=40).map(b"".join)


@st.composite
def mutated_heads(draw: st.DrawFn) -> bytes:
    """A valid head with a few random edits: insert, delete, replace, duplicate, truncate."""
    data = draw(valid_heads()).encode()
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["insert", "delete", "replace", "dup", "truncate"]))
        pos = draw(st.integers(0, len(data)))
        if op == "insert":
            data = data[:pos] + draw(pieces) + data[pos:]
        elif op == "delete":
            data = data[:pos] + data[pos + 1:]
        elif op == "replace":
            data = data[:pos] + draw(st.binary(min_size=1, max_size=1)) + data[pos + 1:]
        elif op == "dup":
            end = draw(st.integers(pos, len(data)))
            data = data[:end] + data[pos:end] + data[end:]
        else:
            data = data[:pos]
    return data


# -- only HTTPError escapes --------------------------------------------------------------------------


@FUZZ
@given(st.binary(max_size=300))
def test_parse_head_arbitrary_bytes(data: bytes) -> None:
    parse_or_refuse(data)
    parse_or_refuse(bytearray(data))


@FUZZ
@given(noise)
def test_parse_head_http_shaped_noise(data: bytes) -> None:
    req = parse_or_refuse(data)
    if req is not None:
        assert req.version in ("HTTP/1.0", "HTTP/1.1")
        assert req.content_length is None or req.content_length >= 0
        assert not (req.chunked and req.content_length is not None)


@FUZZ_HEADS
@given(mutated_heads())
def test_parse_head_mutated_valid_heads(data: bytes) -> None:
    parse_or_refuse(data)


@FUZZ
@given(st.binary(max_size=300))
def test_find_head_end_and_check_partial_arbitrary_bytes(data: bytes) -> None:
    end = find_head_end(data)
    assert end == -1 or (0 < end <= len(data) and data[:end].endswith((b"\n\n", b"\n\r\n")))
    try:
        check_partial(data)
    except HTTPError as exc:
        assert exc.status in (414, 431)


@FUZZ
@given(st.integers(8150, 8250), st.sampled_from([b"\r\n", b"\n"]), st.booleans())
def test_request_line_limit(line_length: int, line_end: bytes, whole: bool) -> None:
    """A request line (RFC 9112: without its line ending) of up to 8192 bytes is accepted,
    a longer one refused with 414, whether the rest of the head has arrived or not."""
    line = b"GET /" + b"a" * (line_length - len(b"GET / HTTP/1.1")) + b" HTTP/1.1"
    assert len(line) == line_length
    data = line + line_end + (b"Host: x" + line_end + line_end if whole else b"")
    try:
        parse_head(data)
        check_partial(data)
    except HTTPError as exc:
        assert exc.status == 414 and line_length > 8192, (exc.status, line_length)
    else:
        assert line_length <= 8192, f"a {line_length}-byte request line was accepted"


@FUZZ
@given(st.integers(95, 105))
def test_header_line_limit(count: int) -> None:
    data = b"GET / HTTP/1.1\r\n" + b"".join(b"X-%d: v\r\n" % i for i in range(count)) + b"\r\n"
    try:
        req = parse_head(data)
    except HTTPError as exc:
        assert exc.status == 431 and count > 100, (exc.status, count)
    else:
        assert count <= 100 and len(req.headers) == count


# -- properties of valid heads -----------------------------------------------------------------------


@FUZZ_HEADS
@given(valid_heads(), st.booleans())
def test_valid_heads_round_trip(head: Head, blank_line: bool) -> None:
    req = parse_head(head.encode(blank_line))
    assert (req.method, req.target, req.version) == (head.method, head.target, head.version)
    assert req.path == unquote_to_bytes(head.path).decode("latin-1")
    assert req.query == (head.query or "")
    expected: dict[str, str] = {}
    for name, value in head.headers:
        key = environ_key(name)
        expected[key] = value if key not in expected else expected[key] + "," + value
    if head.content_length is not None:
        expected["CONTENT_LENGTH"] = str(head.content_length)
    if head.chunked:
        expected["HTTP_TRANSFER_ENCODING"] = "chunked"
    assert req.headers == expected
    assert req.content_length == head.content_length
    assert req.chunked is head.chunked
    tokens = {t.strip().lower() for n, v in head.headers if n.lower() == "connection" for t in v.split(",")}
    keep_alive = "close" not in tokens and (head.version == "HTTP/1.1" or "keep-alive" in tokens)
    assert req.keep_alive is keep_alive, f"Connection tokens {tokens} on {head.version}"


@FUZZ_HEADS
@given(valid_heads(), st.integers(0, 65535))
def test_build_environ_has_native_strings(head: Head, remote_port: int) -> None:
    req = parse_head(head.encode())
    environ = build_environ(req, "localhost", "8080", ("127.0.0.1", remote_port), "http")
    assert environ["REQUEST_METHOD"] == head.method and environ["SCRIPT_NAME"] == ""
    assert environ["PATH_INFO"] == req.path and environ["QUERY_STRING"] == req.query
    assert environ["SERVER_PROTOCOL"] == head.version and environ["REMOTE_PORT"] == str(remote_port)
    assert environ["wsgi.version"] == (1, 0) and environ["wsgi.url_scheme"] == "http"
    for key, value in environ.items():
        if key.isupper():
            assert isinstance(value, str), (key, value)
            value.encode("latin-1")  # PEP 3333: native strings holding bytes as latin-1
        if key.startswith("HTTP_"):
            assert environ[key] == req.headers[key]
    assert environ.get("wsgi.input_terminated", False) is head.chunked


@FUZZ_HEADS
@given(valid_heads())
def test_line_endings_and_blank_line_do_not_change_the_result(head: Head) -> None:
    def view(req: RequestHead) -> tuple[Any, ...]:
        return (req.method, req.target, req.path, req.query, req.version, req.headers,
                req.keep_alive, req.content_length, req.chunked, req.expect_continue)

    results = set()
    for line_end in ("\r\n", "\n"):
        head.line_end = line_end
        for blank_line in (True, False):
            results.add(repr(view(parse_head(head.encode(blank_line)))))
    assert len(results) == 1, results


@FUZZ_HEADS
@given(valid_heads(), st.binary(max_size=30))
def test_find_head_end_on_every_prefix(head: Head, body: bytes) -> None:
    """The end of a head is found exactly when all of it has arrived, never inside it."""
    encoded = head.encode()
    data = encoded + body
    for cut in range(len(encoded)):
        assert find_head_end(data[:cut]) == -1, data[:cut]
    assert find_head_end(data) == len(encoded)


@FUZZ_HEADS
@given(valid_heads(), st.sampled_from(["1", "2", "01", " 1"]))
def test_conflicting_framing_is_refused(head: Head, other_length: str) -> None:
    head.chunked = False
    head.content_length = 1
    base = head.encode(blank_line=False)
    end = head.line_end.encode()
    same = other_length.strip().lstrip("0") == "1"
    try:
        req = parse_head(base + b"Content-Length: " + other_length.encode() + end)
    except HTTPError as exc:
        assert exc.status == 400 and not same
    else:
        assert same and req.content_length == 1
    try:
        parse_head(base + b"Transfer-Encoding: chunked" + end)
    except HTTPError as exc:
        assert exc.status == 400
    else:
        raise AssertionError("Content-Length with Transfer-Encoding was accepted")


# -- chunked bodies ------------------------------------------------------------------------------------


def decode_chunked(data: bytes, pieces: list[int] | None = None) -> tuple[str, bytes, bytes]:
    """Feed `data` to a fresh decoder, whole or cut at `pieces` (1 = byte at a time); the
    outcome is ("done", body, rest), ("more", body-so-far, b"") or ("error", reason, b"")."""
    decoder = ChunkedDecoder()
    body = b""
    try:
        if pieces is None:
            body = decoder.feed(data)
        else:
            pos = 0
            for size in pieces:
                body += decoder.feed(data[pos:pos + size])
                pos += size
            body += decoder.feed(data[pos:])
    except HTTPError as exc:
        assert exc.status == 400, exc.status
        try:  # refused for good: later bytes cannot revive it
            decoder.feed(b"0\r\n\r\n")
        except HTTPError as again:
            assert again is exc
        else:
            raise AssertionError("a refused body accepted more bytes") from None
        return "error", exc.reason.encode(), b""
    if decoder.done:
        return "done", body, decoder.rest
    return "more", body, b""


def same_outcome(data: bytes) -> tuple[str, bytes, bytes]:
    """Whole and byte at a time give the same outcome: the same body and rest, or the same
    refusal (errors are reported without the body decoded before them); and that outcome is
    the grammar oracle's (issue 21 #7: a decoder wrong the same way fed whole and byte at a
    time passed before)."""
    whole = decode_chunked(data)
    byte_wise = decode_chunked(data, [1] * len(data))
    assert byte_wise == whole, (data, whole, byte_wise)
    expected = oracle(data)
    assert whole[0] == expected[0], (data, whole, expected)
    if expected[0] != "error":
        assert whole[1:] == expected[1:], (data, whole, expected)
    return whole


# -- the grammar oracle: RFC 9112 §7.1 as regular expressions, with the documented limits ----------
_TCHAR = rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]"
_TOKEN = _TCHAR + b"+"
_QUOTED = rb'"(?:[\t !\x23-\x5b\x5d-\x7e\x80-\xff]|\\[\t \x21-\x7e\x80-\xff])*"'
_BWS = rb"[ \t]*"
_EXT = b"(?:;" + _BWS + _TOKEN + _BWS + b"(?:=" + _BWS + b"(?:" + _TOKEN + b"|" + _QUOTED + b")" + _BWS + b")?)"
_SIZE_LINE = re.compile(b"([0-9A-Fa-f]+)(?:" + _BWS + b"(" + _EXT + b"+))?", re.S)
_TRAILER_LINE = re.compile(_TOKEN + rb":[\t \x21-\x7e\x80-\xff]*", re.S)


def oracle(data: bytes) -> tuple[str, bytes, bytes]:
    """What a chunked body decodes to, by the grammar (whole input at once): ("done", body,
    rest), ("more", body so far, b"") or ("error", b"", b"")."""
    error = ("error", b"", b"")
    body, pos, ext_bytes = b"", 0, 0
    while True:  # chunks
        eol = data.find(b"\r\n", pos)
        if eol < 0:
            return error if len(data) - pos > MAX_CHUNK_LINE else ("more", body, b"")
        line = data[pos:eol]
        match = _SIZE_LINE.fullmatch(line)
        if len(line) > MAX_CHUNK_LINE or match is None or len(match[1].lstrip(b"0")) > MAX_CHUNK_SIZE_DIGITS:
            return error
        if match[2]:
            ext_bytes += len(line) - line.index(b";")
            if ext_bytes > MAX_CHUNK_EXTENSIONS:
                return error
        size, pos = int(match[1], 16), eol + 2
        if size == 0:
            break
        body += data[pos:pos + size]
        pos += size
        if pos >= len(data):
            return "more", body, b""
        if data[pos:pos + 2] != b"\r\n"[: len(data) - pos]:
            return error
        if len(data) - pos < 2:
            return "more", body, b""
        pos += 2
    trailer_bytes = count = 0
    while True:  # the trailer section
        eol = data.find(b"\r\n", pos)
        limit = MAX_TRAILER_SECTION - trailer_bytes
        if eol < 0:
            return error if len(data) - pos > limit else ("more", body, b"")
        line = data[pos:eol]
        if len(line) > limit:
            return error
        pos = eol + 2
        if not line:
            return "done", body, data[pos:]
        count += 1
        trailer_bytes += len(line) + 2
        if count > MAX_HEADERS or _TRAILER_LINE.fullmatch(line) is None:
            return error


def test_the_oracle_knows_the_audits_inputs() -> None:
    """The inputs of the mutation audit, judged by the oracle and the decoder alike."""
    assert oracle(b"1\r\nx\rX")[0] == "error"
    assert oracle(b"0000000000000005\r\nhello\r\n0\r\n\r\n") == ("done", b"hello", b"")
    assert oracle(b"1;" + b"a" * 4998)[0] == "error"
    for data in (b"1\r\nx\rX", b"0000000000000005\r\nhello\r\n0\r\n\r\n", b"1;" + b"a" * 4998,
                 b'3 ; a = "q\\"" ;b\r\nabc\r\n0\r\nX-T: v\r\n\r\nrest'):
        same_outcome(data)


CHUNK_PIECES = [
    b"0", b"1", b"a", b"F", b"10", b"1_0", b"+1", b"-1", b"0x10", b" ", b"\t", b";", b"=", b'"',
    b"\\", b"ext", b"\r\n", b"\n", b"\r", b"\x00", b":", b"X-T", b"hello", b"f" * 17, b"\x80",
]


@FUZZ
@given(st.binary(max_size=300))
def test_chunked_arbitrary_bytes(data: bytes) -> None:
    same_outcome(data)


@FUZZ
@given(st.lists(st.sampled_from(CHUNK_PIECES), max_size=40))
def test_chunked_grammar_pieces(pieces: list[bytes]) -> None:
    same_outcome(b"".join(pieces))


_EXT_NAME = st.text("abcXYZ019!#$%&'*+-.^_`|~", min_size=1, max_size=6)
_EXT_VALUE = st.one_of(
    st.none(),
    _EXT_NAME,
    st.text(st.characters(codec="ascii", exclude_characters='"\\', min_codepoint=32, max_codepoint=126), max_size=8)
    .map(lambda v: '"' + v + '"'),
)


@st.composite
def chunked_bodies(draw: Any) -> tuple[bytes, bytes]:
    """A valid chunked body (encoded, decoded): sizes with leading zeros in either case,
    extensions with token and quoted values, trailers."""
    chunks = draw(st.lists(st.binary(min_size=1, max_size=40), max_size=6))
    out = b""
    for chunk in chunks:
        size = f"{len(chunk):x}"
        # Up to 15 leading zeros: 16 digits and more, of which at most 15 are significant.
        size = "0" * draw(st.sampled_from([0, 1, 2, 3, 15])) + (size.upper() if draw(st.booleans()) else size)
        ext = ""
        for name, value in draw(st.lists(st.tuples(_EXT_NAME, _EXT_VALUE), max_size=2)):
            ext += draw(st.sampled_from(["", " ", "\t "])) + ";" + name + ("" if value is None else "=" + value)
        out += size.encode() + ext.encode() + b"\r\n" + chunk + b"\r\n"
    out += b"0" * draw(st.integers(1, 3)) + b"\r\n"
    for name in draw(st.lists(_EXT_NAME, max_size=3)):
        out += name.encode() + b": " + draw(st.sampled_from([b"v", b"", b"a b", b"\x80"])) + b"\r\n"
    return out + b"\r\n", b"".join(chunks)


@FUZZ
@given(chunked_bodies(), st.binary(max_size=20), st.lists(st.integers(1, 50), max_size=20))
def test_chunked_round_trip(body: tuple[bytes, bytes], after: bytes, pieces: list[int]) -> None:
    """A valid body decodes to its data in any split; what follows it is handed back intact."""
    encoded, decoded = body
    for split in (None, [1] * len(encoded), pieces):
        assert decode_chunked(encoded + after, split) == ("done", decoded, after)
    for cut in range(len(encoded)):  # every prefix: more is needed, and nothing is lost
        state, so_far, _ = decode_chunked(encoded[:cut])
        assert state == "more" and decoded.startswith(so_far)


@FUZZ
@given(chunked_bodies(), st.data())
def test_chunked_mutations(body: tuple[bytes, bytes], data: Any) -> None:
    encoded = bytearray(body[0])
    for _ in range(data.draw(st.integers(1, 3))):
        action = data.draw(st.sampled_from(["flip", "insert", "delete"]))
        at = data.draw(st.integers(0, max(0, len(encoded) - 1)))
        if action == "flip" and encoded:
            # Any byte, often one that means something in the framing.
            encoded[at] = data.draw(st.one_of(st.integers(0, 255), st.sampled_from(list(b"\r\nX; \t\"0"))))
        elif action == "insert":
            encoded[at:at] = data.draw(st.sampled_from(CHUNK_PIECES))
        elif encoded:
            del encoded[at]
    same_outcome(bytes(encoded))


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"1_0\r\n" + b"x" * 16 + b"\r\n0\r\n\r\n", "Bad Chunk Size"),  # int("1_0", 16) == 16
        (b"+1\r\nx\r\n0\r\n\r\n", "Bad Chunk Size"),
        (b"-1\r\nx\r\n0\r\n\r\n", "Bad Chunk Size"),
        (b"0x10\r\n" + b"x" * 16 + b"\r\n0\r\n\r\n", "Bad Chunk Size"),
        (b" 1\r\nx\r\n0\r\n\r\n", "Bad Chunk Size"),
        (b"1 \r\nx\r\n0\r\n\r\n", "Bad Chunk Size"),  # whitespace only before a ";"
        (b"\r\n", "Bad Chunk Size"),
        (b"1\nx\r\n0\r\n\r\n", "Bad Chunk Size"),  # a bare LF ends no line here
        (b"1" * 17 + b"\r\n", "Chunk Size Too Large"),
        (b"1;\r\nx\r\n", "Bad Chunk Extension"),
        (b"1;a=\r\nx\r\n", "Bad Chunk Extension"),
        (b'1;a="x\r\nx\r\n', "Bad Chunk Extension"),
        (b"1;a b\r\nx\r\n", "Bad Chunk Extension"),
        (b"1;" + b"a" * 5000 + b"\r\n", "Chunk Line Too Long"),
        (b"1\r\nxy\r\n", "Chunk Data Not Followed By CRLF"),
        (b"1\r\nx\n0\r\n\r\n", "Chunk Data Not Followed By CRLF"),
        (b"0\r\n x: y\r\n\r\n", "Bad Trailer"),  # obs-fold
        (b"0\r\nx y: z\r\n\r\n", "Bad Trailer"),
        (b"0\r\nnocolon\r\n\r\n", "Bad Trailer"),
        (b"0\r\nx: a\x00b\r\n\r\n", "Bad Trailer"),
        (b"0\r\n" + b"x: y\r\n" * 101 + b"\r\n", "Too Many Trailers"),
        (b"0\r\nx: " + b"y" * 9000 + b"\r\n\r\n", "Trailers Too Large"),
        ((b"1;" + b"e" * 4000 + b"\r\nx\r\n") * 17, "Chunk Extensions Too Large"),
    ],
    ids=lambda v: v[:12].decode("latin-1") if isinstance(v, bytes) else v,
)
def test_chunked_refusals(data: bytes, reason: str) -> None:
    """RFC 9112 §7.1's grammar, strictly: each malformed body is refused with its reason,
    whether it arrives whole or byte at a time."""
    assert same_outcome(data)[:2] == ("error", reason.encode())
