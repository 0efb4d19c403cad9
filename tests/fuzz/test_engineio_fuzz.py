"""Hypothesis fuzzing of the Engine.IO decoders: only `RemoteProtocolError` may escape.

Covers `packets.decode_text`/`decode_binary`, `payload.decode_payload`/`decode_body`, request
validation, and the WebSocket message reader fed by a fake socket, with whole inputs, mutations
of valid encodings, and inputs split at every point (prefixes, byte-at-a-time reads).
Deterministic (derandomize=True) and bounded in size.
"""

from __future__ import annotations

import os
import sys

# tests/engineio_core/ (no __init__.py) would shadow the real package as a namespace package
# when only tests/ is on sys.path: make the project root importable first.
_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if _ROOT not in sys.path:
    sys.path.append(_ROOT)
if getattr(sys.modules.get("engineio_core"), "__file__", "") is None:
    del sys.modules["engineio_core"]

import base64  # noqa: E402
from collections.abc import Callable, Iterator  # noqa: E402
from typing import Any  # noqa: E402

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from wsproto.frame_protocol import Frame, FrameDecoder, FrameProtocol, ParseFailed  # noqa: E402

from engineio_core.config import EngineConfig  # noqa: E402
from engineio_core.drivers.threading_driver import ThreadingDriver  # noqa: E402
from engineio_core.errors import RemoteProtocolError  # noqa: E402
from engineio_core.flow import FlowControl  # noqa: E402
from engineio_core.handshake import parse_query, validate_request  # noqa: E402
from engineio_core.packets import EnginePacket, PacketType, decode_binary, decode_text  # noqa: E402
from engineio_core.payload import SEPARATOR, decode_body, decode_payload, encode_payload  # noqa: E402
from engineio_core.transports.websocket import SizeGuardedDecoder, WebSocket  # noqa: E402

FUZZ = settings(
    derandomize=True,
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    database=None,
)

# Text biased toward what the decoders look at: type digits, `b`, base64, separators.
protocol_chars = st.sampled_from(list("0123456789b=+/\x1e") + ["€", "\x00", "\ud7ff", "A", "Q"])
protocol_text = st.lists(st.one_of(protocol_chars, st.characters()), max_size=60).map("".join)
any_text = st.one_of(st.text(max_size=200), protocol_text)


def only_remote_errors(fn: Callable[..., Any], *args: Any) -> Any:
    """Run `fn(*args)`; a `RemoteProtocolError` is an acceptable answer, anything else fails."""
    try:
        return fn(*args)
    except RemoteProtocolError as exc:
        assert isinstance(exc.message, str) and exc.status == 400
        return None


# -- strategies for valid encodings ----------------------------------------------------------------

text_packets = st.builds(
    EnginePacket,
    st.sampled_from(list(PacketType)),
    st.text(alphabet=st.characters(blacklist_characters="\x1e", blacklist_categories=("Cs",)), max_size=30),
)
binary_packets = st.builds(lambda data: EnginePacket(PacketType.MESSAGE, data), st.binary(max_size=30))
packets = st.one_of(text_packets, binary_packets)
packet_lists = st.lists(packets, min_size=1, max_size=12)


def encode(pkts: list[EnginePacket]) -> str:
    return encode_payload(p.encode_polling() for p in pkts)


@st.composite
def mutated_payloads(draw: st.DrawFn) -> str:
    """A valid payload with a few random edits: insert, delete, replace, duplicate, truncate."""
    text = encode(draw(packet_lists))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["insert", "delete", "replace", "dup", "truncate", "sep"]))
        pos = draw(st.integers(0, len(text)))
        if op == "insert":
            text = text[:pos] + draw(protocol_chars) + text[pos:]
        elif op == "delete":
            text = text[:pos] + text[pos + 1:]
        elif op == "replace":
            text = text[:pos] + draw(protocol_chars) + text[pos + 1:]
        elif op == "dup":
            end = draw(st.integers(pos, len(text)))
            text = text[:end] + text[pos:end] + text[end:]
        elif op == "truncate":
            text = text[:pos]
        else:
            text = text[:pos] + SEPARATOR + text[pos:]
    return text


# -- packets -----------------------------------------------------------------------------------------


@FUZZ
@given(any_text)
def test_decode_text_whole_inputs(text: str) -> None:
    packet = only_remote_errors(lambda: decode_text(text))
    if packet is None:
        return
    assert isinstance(packet, EnginePacket)
    if isinstance(packet.data, bytes):
        assert text[0] == "b" and packet.type is PacketType.MESSAGE
        assert packet.data == base64.b64decode(text[1:])
    else:
        assert packet.encode_text() == text  # text packets re-encode exactly


@FUZZ
@given(packets)
def test_decode_text_roundtrip(packet: EnginePacket) -> None:
    assert decode_text(packet.encode_polling()) == packet
    if not packet.binary:
        assert decode_text(packet.encode_text()) == packet


@FUZZ
@given(st.binary(max_size=300))
def test_decode_binary_any_bytes(data: bytes) -> None:
    packet = decode_binary(data)
    assert packet == EnginePacket(PacketType.MESSAGE, data)
    assert decode_binary(bytearray(data)) == packet
    assert decode_binary(memoryview(data)) == packet


@FUZZ
@given(st.binary(max_size=60))
def test_decode_text_of_arbitrary_bytes_as_latin1_and_utf8(data: bytes) -> None:
    only_remote_errors(lambda: decode_text(data.decode("latin-1")))
    only_remote_errors(lambda: decode_text(data.decode("utf-8", errors="surrogateescape")))


# -- payloads ------------------------------------------------------------------------------------------


@FUZZ
@given(any_text, st.sampled_from([0, 1, 16]))
def test_decode_payload_whole_inputs(body: str, max_packets: int) -> None:
    decoded = only_remote_errors(lambda: decode_payload(body, max_packets))
    if decoded is None:
        return
    assert 1 <= len(decoded) == body.count(SEPARATOR) + 1
    assert not max_packets or len(decoded) <= max_packets
    assert decode_payload(encode(decoded), 0) == decoded


@FUZZ
@given(packet_lists)
def test_decode_payload_roundtrip(pkts: list[EnginePacket]) -> None:
    assert decode_payload(encode(pkts), 0) == pkts
    assert decode_payload(decode_body(encode(pkts).encode("utf-8"), jsonp=False), 0) == pkts


@FUZZ
@given(mutated_payloads(), st.sampled_from([0, 4]))
def test_decode_payload_mutations(body: str, max_packets: int) -> None:
    only_remote_errors(lambda: decode_payload(body, max_packets))


@FUZZ
@given(packet_lists)
def test_decode_payload_every_prefix(pkts: list[EnginePacket]) -> None:
    """A body cut anywhere (a short read, a truncated POST) decodes or is refused cleanly;
    each separator-delimited piece decodes on its own exactly as in the whole."""
    body = encode(pkts)
    for cut in range(len(body) + 1):
        only_remote_errors(decode_payload, body[:cut], 0)
    assert [decode_text(piece) for piece in body.split(SEPARATOR)] == pkts


@FUZZ
@given(st.binary(max_size=300), st.booleans())
def test_decode_body_whole_inputs(raw: bytes, jsonp: bool) -> None:
    text = only_remote_errors(lambda: decode_body(raw, jsonp))
    if text is None:
        return
    assert isinstance(text, str)
    only_remote_errors(lambda: decode_payload(text, 16))


@FUZZ
@given(packet_lists, st.booleans())
def test_decode_body_every_prefix_of_valid_bytes(pkts: list[EnginePacket], jsonp: bool) -> None:
    """Byte-at-a-time growth of a valid body: cuts inside a UTF-8 sequence are refused as
    RemoteProtocolError, never UnicodeDecodeError."""
    from urllib.parse import quote

    text = encode(pkts)
    raw = ("d=" + quote(text)).encode("ascii") if jsonp else text.encode("utf-8")
    for cut in range(len(raw) + 1):
        body = only_remote_errors(decode_body, raw[:cut], jsonp)
        if body is not None:
            only_remote_errors(decode_payload, body, 0)
    assert decode_payload(decode_body(raw, jsonp), 0) == pkts


@FUZZ
@given(st.lists(st.tuples(st.sampled_from(["EIO", "transport", "sid", "j", "t", "x"]),
                          st.one_of(st.sampled_from(["4", "3", "polling", "websocket", "", "-1", "%", "%ZZ"]),
                                    st.text(max_size=12))), max_size=6),
       st.sampled_from(["GET", "POST"]), st.sampled_from(["", "websocket", "WebSocket", "h2c"]))
def test_request_validation(pairs: list[tuple[str, str]], method: str, upgrade: str) -> None:
    query = "&".join(f"{k}={v}" for k, v in pairs)
    req = only_remote_errors(lambda: validate_request(method, parse_query(query), upgrade, EngineConfig()))
    if req is not None:
        assert req.transport in ("polling", "websocket")
        assert req.jsonp_index is None or req.jsonp_index >= 0


# -- the WebSocket message reader, fed by a fake socket -----------------------------------------------


class FakeSocket:
    """Hands out `data` in the given chunk sizes, then EOF; records what is written."""

    def __init__(self, data: bytes, sizes: list[int]) -> None:
        self.data = data
        self.sizes = sizes or [len(data) or 1]
        self.pos = 0
        self.reads = 0
        self.sent = bytearray()

    def recv(self, n: int) -> bytes:
        size = self.sizes[self.reads % len(self.sizes)]
        self.reads += 1
        chunk = self.data[self.pos:self.pos + min(n, size)]
        self.pos += len(chunk)
        return chunk

    def sendall(self, data: bytes) -> None:
        self.sent += data

    def shutdown(self, how: int) -> None:
        pass


def read_messages(data: bytes, sizes: list[int], max_message: int = 1000) -> list[str | bytes]:
    """Run the server's reader over `data`; only RemoteProtocolError may escape."""
    ws = WebSocket(FakeSocket(data, sizes), ThreadingDriver(), None, max_message, FlowControl(0, 0, 0, 10.0), lambda reason: None)
    out: list[str | bytes] = []

    only_remote_errors_any_status(lambda: read_all(ws, out))
    return out


def read_all(ws: WebSocket, out: list[str | bytes]) -> None:
    """What the server's loop does: receive, feed, until the peer closes (or an error)."""
    while not ws.peer_closed:
        if ws.failure is not None:
            raise ws.failure
        data = ws.receive(True)
        if not data:
            return
        out.extend(ws.feed(data))


def only_remote_errors_any_status(fn: Callable[[], Any]) -> None:
    try:
        fn()
    except RemoteProtocolError as exc:
        assert 1000 <= exc.status < 5000, exc.status  # a WebSocket close code


def client_frames(messages: list[str | bytes]) -> bytes:
    """Masked client frames (a few fragmented) for `messages`, built by wsproto's encoder."""
    proto = FrameProtocol(client=True, extensions=[])
    out = bytearray()
    for message in messages:
        if len(message) > 3:
            half = len(message) // 2
            out += proto.send_data(message[:half], fin=False)
            out += proto.send_data(message[half:], fin=True)
        else:
            out += proto.send_data(message, fin=True)
    return bytes(out)


ws_messages = st.lists(
    st.one_of(st.text(max_size=40), st.binary(max_size=40)), min_size=1, max_size=6
)


def chunkings(data: bytes) -> Iterator[list[int]]:
    yield [len(data) or 1]  # one read
    yield [1]  # byte at a time
    yield [2, 3, 7]


@FUZZ
@given(ws_messages)
def test_websocket_reader_any_split(messages: list[str | bytes]) -> None:
    data = client_frames(messages)
    for sizes in chunkings(data):
        assert read_messages(data, sizes) == messages


@FUZZ
@given(st.binary(max_size=200), st.lists(st.integers(1, 16), min_size=1, max_size=4))
def test_websocket_reader_garbage(data: bytes, sizes: list[int]) -> None:
    read_messages(data, sizes)


@FUZZ
@given(ws_messages, st.data())
def test_websocket_reader_mutated_frames(messages: list[str | bytes], data: st.DataObject) -> None:
    raw = bytearray(client_frames(messages))
    for _ in range(data.draw(st.integers(1, 3))):
        pos = data.draw(st.integers(0, len(raw) - 1))
        raw[pos] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(raw)))
    read_messages(bytes(raw[:cut]), data.draw(st.sampled_from([[1], [len(raw) or 1], [3, 5]])))


@FUZZ
@given(st.integers(1, 64))
def test_websocket_reader_size_limit(limit: int) -> None:
    """Within the limit a message is delivered; over it, close code 1009 (never buffered)."""
    data = client_frames(["x" * limit, "y" * (limit + 1)])
    ws = WebSocket(FakeSocket(data, [1]), ThreadingDriver(), None, limit, FlowControl(0, 0, 0, 10.0), lambda reason: None)
    got: list[str | bytes] = []
    try:
        read_all(ws, got)
        raise AssertionError("the oversized message was accepted")
    except RemoteProtocolError as exc:
        assert exc.status == 1009
    assert got == ["x" * limit]


# -- Engine.IO v3 (allow_eio3): the payload decoders --------------------------------------------

from engineio_core import v3  # noqa: E402


def v3_text(pkts: list[EnginePacket]) -> str:
    return v3.encode_text_payload([v3.text_segment(p) for p in pkts])


def v3_binary(pkts: list[EnginePacket]) -> bytes:
    return v3.encode_binary_payload([v3.binary_record(p) for p in pkts])


@FUZZ
@given(any_text, st.sampled_from([0, 1, 16]))
def test_v3_decode_text_payload_whole_inputs(body: str, max_packets: int) -> None:
    only_remote_errors(v3.decode_text_payload, body, max_packets)


@FUZZ
@given(packet_lists)
def test_v3_text_payload_roundtrip(pkts: list[EnginePacket]) -> None:
    assert v3.decode_text_payload(v3_text(pkts), 0) == pkts


@FUZZ
@given(packet_lists, st.data())
def test_v3_text_payload_mutations(pkts: list[EnginePacket], data: st.DataObject) -> None:
    text = v3_text(pkts)
    pos = data.draw(st.integers(0, len(text)))
    edit = data.draw(st.sampled_from(["insert", "delete", "truncate"]))
    if edit == "insert":
        text = text[:pos] + data.draw(st.one_of(protocol_chars, st.sampled_from([":", "😀"]))) + text[pos:]
    elif edit == "delete":
        text = text[:pos] + text[pos + 1:]
    else:
        text = text[:pos]
    only_remote_errors(v3.decode_text_payload, text, 0)


@FUZZ
@given(st.binary(max_size=300), st.sampled_from([0, 3]))
def test_v3_decode_binary_payload_any_bytes(body: bytes, max_packets: int) -> None:
    only_remote_errors(v3.decode_binary_payload, body, max_packets)


@FUZZ
@given(packet_lists)
def test_v3_binary_payload_roundtrip_and_every_prefix(pkts: list[EnginePacket]) -> None:
    wire = v3_binary(pkts)
    assert v3.decode_binary_payload(wire, 0) == pkts
    for cut in range(len(wire)):
        only_remote_errors(v3.decode_binary_payload, wire[:cut], 0)


@FUZZ
@given(st.binary(max_size=100))
def test_v3_decode_ws_binary_any_bytes(data: bytes) -> None:
    only_remote_errors(v3.decode_ws_binary, data)


@FUZZ
@given(any_text)
def test_v3_jsonp_unescape_then_decode(text: str) -> None:
    only_remote_errors(v3.decode_text_payload, v3.unescape_jsonp(text), 0)


# -- the frame decoder's fast path decides exactly as wsproto's parser ----------------------------

class _WsprotoOnly(SizeGuardedDecoder):
    """The server's frame decoder without its one-pass path for whole small data frames."""

    def process_buffer(self) -> Frame | None:
        return FrameDecoder.process_buffer(self)


@st.composite
def raw_frames(draw: st.DrawFn) -> bytes:
    """One frame's bytes, valid or not: any first byte (biased to FIN + TEXT/BINARY), mask bit
    set or not, the length in 7, 16 or 64 bits (minimal or not), any key and payload."""
    first = draw(st.one_of(st.sampled_from([0x81, 0x82]),
                           st.sampled_from([0x01, 0x02, 0x80, 0x00, 0x89, 0x8A, 0x88, 0xC1, 0x91]),
                           st.integers(0, 255)))
    payload = draw(st.one_of(st.binary(max_size=130), st.binary(min_size=120, max_size=300)))
    length = len(payload)
    encoding = draw(st.sampled_from(["minimal", "minimal", "16", "64"]))
    if encoding == "minimal" and length < 126:
        head = bytes([length])
    elif encoding != "64" and length < 65536:
        head = bytes([126]) + length.to_bytes(2, "big")
    else:
        head = bytes([127]) + length.to_bytes(8, "big")
    masked = draw(st.booleans()) or draw(st.booleans())
    key = draw(st.binary(min_size=4, max_size=4)) if masked else b""
    return bytes([first, head[0] | (0x80 if masked else 0)]) + head[1:] + key + payload


def _frame_outcomes(decoder: FrameDecoder, data: bytes, sizes: list[int]) -> list[Any]:
    """Every frame (or the one ParseFailed) the decoder yields for `data` fed in chunks."""
    out: list[Any] = []
    pos = 0
    reads = 0
    while pos < len(data):
        size = sizes[reads % len(sizes)]
        reads += 1
        decoder.receive_bytes(data[pos:pos + size])
        pos += size
        try:
            while True:
                frame = decoder.process_buffer()
                if frame is None:
                    break
                out.append((frame.opcode, bytes(frame.payload), frame.frame_finished, frame.message_finished))  # type: ignore[arg-type]
        except ParseFailed as exc:
            out.append(("failed", str(exc), exc.code))
            return out
    out.append(("left", bytes(decoder.buffer.buffer), decoder.header))
    return out


@settings(FUZZ, max_examples=600)
@given(st.lists(raw_frames(), min_size=1, max_size=5), st.data())
def test_frame_fast_path_decides_exactly_as_wsproto(frames: list[bytes], data: st.DataObject) -> None:
    """Whole masked TEXT/BINARY frames are parsed by `SizeGuardedDecoder` itself; for any
    bytes, split anyhow, it yields the same frames, the same error and leaves the same buffer as
    wsproto's own parser."""
    raw = bytearray(b"".join(frames))
    if data.draw(st.booleans()):
        pos = data.draw(st.integers(0, len(raw) - 1))
        raw[pos] = data.draw(st.integers(0, 255))
    # The size limit anywhere, or just at (or one below) the first frame's payload length.
    first_length = len(frames[0]) - (2 if frames[0][1] & 0x7F < 126 else 4 if frames[0][1] & 0x7F == 126 else 10)
    first_length -= 4 if frames[0][1] & 0x80 else 0
    limit = data.draw(st.one_of(st.sampled_from([first_length - 1, first_length, 1_000_000]), st.integers(0, 310)))
    near = len(frames[0])  # reads that end just before, at or after the first frame's end
    sizes = data.draw(st.sampled_from([[len(raw)], [1], [2, 3, 7], [64], [130, 5],
                                       [max(near - 1, 1), 1], [near], [near + 1]]))
    assert _frame_outcomes(SizeGuardedDecoder([], limit, False), bytes(raw), sizes) == _frame_outcomes(
        _WsprotoOnly([], limit, False), bytes(raw), sizes)
