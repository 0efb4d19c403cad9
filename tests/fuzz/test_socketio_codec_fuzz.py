"""Property tests of the Socket.IO decoders: hostile input raises RemoteProtocolError only.

(a) arbitrary text/bytes, (b) mutations of valid encodings, (c) valid packets fed in one go
and attachment by attachment must decode back to themselves. Deterministic (derandomize).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

# The rootdir conftest puts tests/ on sys.path, where tests/socketio_core/ would shadow the
# real package as a namespace package: make sure the project root comes first.
_REPO = str(Path(__file__).resolve().parents[2])
if _REPO not in sys.path:
    sys.path.insert(0, _REPO)

import msgpack  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from socketio_core import (  # noqa: E402
    JSONCodec,
    MsgPackCodec,
    PacketType,
    RemoteProtocolError,
    SocketPacket,
)

T = PacketType
P = SocketPacket

FUZZ = settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
ROUNDTRIP = settings(FUZZ, max_examples=200)

# -- strategies ----------------------------------------------------------------------------------

SAFE_INT = st.integers(-(2**53), 2**53)
FLOATS = st.floats(allow_nan=False, allow_infinity=False)
KEYS = st.text(max_size=8).filter(lambda k: k != "_placeholder")
NO_SURROGATES = st.characters(blacklist_categories=("Cs",))


def values(
    leaf: st.SearchStrategy[Any], keys: st.SearchStrategy[str] = KEYS
) -> st.SearchStrategy[Any]:
    return st.recursive(
        leaf,
        lambda kids: st.lists(kids, max_size=4) | st.dictionaries(keys, kids, max_size=4),
        max_leaves=12,
    )


JSON_LEAF = st.none() | st.booleans() | SAFE_INT | FLOATS | st.text(max_size=16)
JSON_VALUES = values(JSON_LEAF)
JSON_BIN_VALUES = values(JSON_LEAF | st.binary(max_size=24) | st.binary(max_size=8).map(bytearray))
JSON_OBJECTS = st.dictionaries(KEYS, JSON_VALUES, max_size=4)

MP_TEXT = st.text(alphabet=NO_SURROGATES, max_size=16)
MP_KEYS = st.text(alphabet=NO_SURROGATES, max_size=8)
MP_LEAF = st.none() | st.booleans() | SAFE_INT | FLOATS | MP_TEXT | st.binary(max_size=24)
MP_VALUES = values(MP_LEAF, MP_KEYS)
MP_OBJECTS = st.dictionaries(MP_KEYS, MP_VALUES, max_size=4)

NAMESPACES = st.just("/") | st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters=",?"), max_size=10
).map(lambda s: "/" + s)
ACK_IDS = st.integers(0, 2**53 - 1)
MAYBE_ACK_IDS = st.none() | ACK_IDS


def packets(
    data: st.SearchStrategy[Any], objects: st.SearchStrategy[Any], text: st.SearchStrategy[str]
) -> st.SearchStrategy[SocketPacket]:
    return st.one_of(
        st.builds(P, st.just(T.CONNECT), NAMESPACES, st.none() | objects),
        st.builds(P, st.just(T.DISCONNECT), NAMESPACES),
        st.builds(P, st.just(T.CONNECT_ERROR), NAMESPACES, text | objects),
        st.builds(
            lambda kind, ns, name, args, ack_id: P(kind, ns, [name, *args], ack_id),
            st.sampled_from([T.EVENT, T.BINARY_EVENT]),
            NAMESPACES,
            text,
            st.lists(data, max_size=4),
            MAYBE_ACK_IDS,
        ),
        st.builds(
            lambda kind, ns, args, ack_id: P(kind, ns, args, ack_id),
            st.sampled_from([T.ACK, T.BINARY_ACK]),
            NAMESPACES,
            st.lists(data, max_size=4),
            ACK_IDS,
        ),
    )


JSON_PACKETS = packets(JSON_BIN_VALUES, JSON_OBJECTS, st.text(max_size=16))
MP_PACKETS = packets(MP_VALUES, MP_OBJECTS, MP_TEXT)

# Text that looks like the protocol, to get past the first checks more often than random text.
PROTOCOLISH = st.text(alphabet='0123456789-/,?[]{}":_placeholdernumtruefalsx .eE+\\', max_size=60)
PLACEHOLDERISH = st.builds(
    lambda count, ns, ack_id, nums: (
        f'5{count}-{ns}{ack_id}["e"'
        + "".join(f',{{"_placeholder":true,"num":{n}}}' for n in nums)
        + "]"
    ),
    st.sampled_from(["0", "1", "2", "3", "10", "11", "01", ""]),
    st.sampled_from(["", "/a,", "/"]),
    st.sampled_from(["", "1", "0"]),
    st.lists(
        st.sampled_from(["0", "1", "2", "-1", "1.5", "true", '"0"', "null", "[]", "1e3", "00"]),
        max_size=4,
    ),
)
MESSAGES = st.lists(
    st.one_of(st.text(max_size=40), PROTOCOLISH, PLACEHOLDERISH, st.binary(max_size=8)),
    min_size=1,
    max_size=8,
)


def normalised(packet: SocketPacket) -> SocketPacket:
    ptype = {T.BINARY_EVENT: T.EVENT, T.BINARY_ACK: T.ACK}.get(packet.type, packet.type)

    def plain(value: Any) -> Any:
        if isinstance(value, (list, tuple)):
            return [plain(v) for v in value]
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, bytearray):
            return bytes(value)
        return value

    return P(ptype, packet.namespace, plain(packet.data), packet.id)


def feed_all(decoder: Any, messages: list[str | bytes]) -> list[SocketPacket]:
    """Feed every message; RemoteProtocolError is the only exception allowed."""
    out = []
    for message in messages:
        try:
            packet = decoder.feed(message)
        except RemoteProtocolError as exc:
            assert isinstance(exc.reason, str) and exc.reason
            assert len(exc.reason) < 400
            assert decoder.awaiting_attachments == 0
            continue
        assert decoder.awaiting_attachments >= 0
        if packet is not None:
            assert isinstance(packet, SocketPacket)
            assert packet.type in (T.CONNECT, T.DISCONNECT, T.EVENT, T.ACK, T.CONNECT_ERROR)
            assert packet.namespace.startswith("/")
            out.append(packet)
    return out


# -- JSON codec -----------------------------------------------------------------------------------


@FUZZ
@given(MESSAGES)
def test_json_arbitrary_messages(messages: list[str | bytes]) -> None:
    feed_all(JSONCodec().decoder(), messages)


@FUZZ
@given(st.integers(0, 6), st.text(max_size=80))
def test_json_arbitrary_text_after_a_type(ptype: int, rest: str) -> None:
    feed_all(JSONCodec().decoder(), [f"{ptype}{rest}"])


def _mutate_text(data: st.DataObject, text: str) -> str:
    for _ in range(data.draw(st.integers(1, 3))):
        op = data.draw(st.sampled_from(["delete", "insert", "replace", "truncate", "duplicate"]))
        i = data.draw(st.integers(0, len(text)))
        if op == "delete":
            text = text[:i] + text[i + 1 :]
        elif op == "insert":
            text = (
                text[:i]
                + data.draw(st.sampled_from(list('0123456789-/,[]{}":-.x\\') + ["\x00", "é"]))
                + text[i:]
            )
        elif op == "replace" and i < len(text):
            text = text[:i] + data.draw(st.characters()) + text[i + 1 :]
        elif op == "truncate":
            text = text[:i]
        else:
            j = data.draw(st.integers(i, len(text)))
            text = text[:j] + text[i:j] + text[j:]
    return text


@FUZZ
@given(JSON_PACKETS, st.data())
def test_json_mutated_encodings(packet: SocketPacket, data: st.DataObject) -> None:
    codec = JSONCodec(max_attachments=1000)
    text, *attachments = codec.encode(packet)
    assert isinstance(text, str)
    messages: list[str | bytes] = [_mutate_text(data, text), *attachments]
    edit = data.draw(st.sampled_from(["none", "drop", "extra", "text-first", "mutate-bytes"]))
    if edit == "drop" and attachments:
        del messages[data.draw(st.integers(1, len(attachments)))]
    elif edit == "extra":
        messages.append(data.draw(st.binary(max_size=4)))
    elif edit == "text-first":
        messages.insert(data.draw(st.integers(0, len(messages))), data.draw(PROTOCOLISH))
    elif edit == "mutate-bytes" and attachments:
        messages[1] = data.draw(st.binary(max_size=4))
    feed_all(codec.decoder(), messages)


class _GeneralOnly(JSONCodec):
    """The JSON codec without its one-pass fast path for plain EVENT/ACK texts."""

    def _decode_plain(self, text: str) -> Any:
        return None


def _outcome(codec: JSONCodec, text: str) -> Any:
    try:
        packet, count = codec._decode_text(text)
    except RemoteProtocolError as exc:
        return ("error", str(exc))
    return (packet.type, packet.namespace, packet.data, packet.id, count)


@FUZZ
@given(JSON_PACKETS, st.data())
def test_json_fast_path_decides_exactly_as_the_general_parser(packet: SocketPacket, data: st.DataObject) -> None:
    """The fast path for ``2[...]`` / ``3<id>[...]`` accepts exactly what the general parser
    accepts, with the same packet; everything else goes to the general parser."""
    text = JSONCodec(max_attachments=1000).encode(packet)[0]
    assert isinstance(text, str)
    for candidate in (text, _mutate_text(data, text)):
        assert _outcome(JSONCodec(max_attachments=1000), candidate) == _outcome(
            _GeneralOnly(max_attachments=1000), candidate)


@ROUNDTRIP
@given(JSON_PACKETS)
def test_json_roundtrip_in_one_go_and_attachment_by_attachment(packet: SocketPacket) -> None:
    codec = JSONCodec(max_attachments=1000)
    parts = codec.encode(packet)
    text, *attachments = parts
    assert isinstance(text, str)
    text.encode("utf-8")  # always sendable
    expected = normalised(packet)

    # in one go
    decoder = codec.decoder()
    results = [decoder.feed(m) for m in parts]
    assert results[:-1] == [None] * len(attachments)
    assert results[-1] == expected

    # attachment by attachment, watching the countdown, twice on the same decoder
    for _ in range(2):
        assert decoder.feed(text) == (None if attachments else expected)
        for i, attachment in enumerate(attachments):
            assert decoder.awaiting_attachments == len(attachments) - i
            result = decoder.feed(attachment)
            assert result == (expected if i == len(attachments) - 1 else None)
        assert decoder.awaiting_attachments == 0


@FUZZ
@given(
    st.recursive(JSON_LEAF, lambda kids: st.lists(kids, max_size=3), max_leaves=30),
    st.integers(1, 3),
)
def test_json_placeholder_payloads(payload: Any, count: int) -> None:
    """Binary packets whose JSON is arbitrary: placeholders are validated, never trusted."""
    import json

    text = f"5{count}-" + json.dumps(["e", payload, {"_placeholder": True, "num": payload}])
    feed_all(JSONCodec().decoder(), [text] + [b"x"] * count)


# -- msgpack codec --------------------------------------------------------------------------------

MP_ANY = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | FLOATS
    | st.text(max_size=10)
    | st.binary(max_size=10),
    lambda kids: (
        st.lists(kids, max_size=4)
        | st.dictionaries(st.text(max_size=6) | st.binary(max_size=3), kids, max_size=4)
    ),
    max_leaves=12,
)
MP_FIELDS = st.dictionaries(
    st.sampled_from(["type", "nsp", "data", "id", "options"]) | st.text(max_size=4),
    st.one_of(
        st.integers(-2, 8),
        st.sampled_from(["/", "/a", "a", "/a?b=1", ""]),
        st.lists(MP_ANY, max_size=3),
        st.lists(st.text(max_size=4), min_size=1, max_size=3),
        MP_ANY,
    ),
    max_size=6,
)


def _pack(obj: Any) -> bytes:
    try:
        packed: bytes = msgpack.packb(obj, use_bin_type=True)
    except (ValueError, TypeError, UnicodeEncodeError):
        return b"\xc1"
    return packed


@FUZZ
@given(st.lists(st.binary(max_size=40) | st.text(max_size=10), min_size=1, max_size=6))
def test_msgpack_arbitrary_messages(messages: list[str | bytes]) -> None:
    feed_all(MsgPackCodec().decoder(), messages)


@FUZZ
@given(MP_FIELDS | MP_ANY)
def test_msgpack_arbitrary_objects(obj: Any) -> None:
    feed_all(MsgPackCodec().decoder(), [_pack(obj)])


@FUZZ
@given(MP_PACKETS, st.data())
def test_msgpack_mutated_encodings(packet: SocketPacket, data: st.DataObject) -> None:
    (message,) = MsgPackCodec().encode(packet)
    feed_all(MsgPackCodec().decoder(), [_mutated(message, data)])


def _mutated(message: bytes, data: st.DataObject) -> bytes:
    buf = bytearray(message)
    for _ in range(data.draw(st.integers(1, 4))):
        op = data.draw(st.sampled_from(["flip", "delete", "insert", "truncate"]))
        i = data.draw(st.integers(0, max(len(buf) - 1, 0)))
        if op == "flip" and buf:
            buf[i] ^= 1 << data.draw(st.integers(0, 7))
        elif op == "delete" and buf:
            del buf[i]
        elif op == "insert":
            buf.insert(i, data.draw(st.integers(0, 255)))
        else:
            del buf[i:]
    return bytes(buf)


def _msgpack_outcome(message: bytes | bytearray) -> Any:
    try:
        return MsgPackCodec().decoder().feed(message)
    except RemoteProtocolError:
        return "rejected"


@FUZZ
@given(MP_PACKETS, st.data())
def test_msgpack_fast_path_decides_as_the_general_path(
    packet: SocketPacket, data: st.DataObject
) -> None:
    # The decoder takes its one-unpackb fast path for `bytes` only: a bytearray of the same
    # message goes through the general path, which must reach the same verdict.
    (message,) = MsgPackCodec().encode(packet)
    for sample in (message, _mutated(message, data)):
        assert _msgpack_outcome(sample) == _msgpack_outcome(bytearray(sample))


@ROUNDTRIP
@given(MP_PACKETS)
def test_msgpack_encoding_is_packb_of_the_packet_map(packet: SocketPacket) -> None:
    # The encoder writes the constant head and tail itself and packs only the data: the bytes
    # must be what msgpack.packb writes for the whole map (type, data, nsp, id in that order).
    wire: dict[str, Any] = {"type": 2 if packet.type == 5 else 3 if packet.type == 6 else packet.type}
    if packet.data is not None:
        wire["data"] = packet.data
    wire["nsp"] = packet.namespace
    if packet.id is not None:
        wire["id"] = packet.id
    assert MsgPackCodec().encode(packet) == [msgpack.packb(wire)]


@ROUNDTRIP
@given(MP_PACKETS)
def test_msgpack_roundtrip(packet: SocketPacket) -> None:
    codec = MsgPackCodec()
    parts = codec.encode(packet)
    assert len(parts) == 1 and isinstance(parts[0], bytes)
    assert codec.decoder().feed(parts[0]) == normalised(packet)


def _general_ack(codec: JSONCodec, namespace: str, data: Any, ack_id: Any) -> Any:
    try:
        return codec.encode(SocketPacket(PacketType.ACK, namespace, data, ack_id))
    except TypeError as exc:  # LocalProtocolError
        return ("error", type(exc))


@FUZZ
@given(
    st.one_of(st.just("/"), NAMESPACES),
    st.one_of(st.lists(JSON_BIN_VALUES, max_size=4), JSON_BIN_VALUES, st.tuples(JSON_VALUES),
              st.lists(st.text(alphabet=st.sampled_from(["a", "\ud800", "\udfff", "é", "\x00"]), max_size=6), max_size=3)),
    st.one_of(ACK_IDS, ACK_IDS, st.integers(-3, 2**64), st.none(), st.just(True), st.just(1.0)),
)
def test_plain_ack_encoding_is_exactly_the_general_encoding(namespace: str, data: Any, ack_id: Any) -> None:
    """`encode_plain_ack` gives the text `encode` gives for the same ACK, or None; None only
    when `encode` refuses it, splits binary out, escapes a lone surrogate or names a namespace."""
    codec = JSONCodec()
    fast = codec.encode_plain_ack(namespace, data, ack_id)
    general = _general_ack(codec, namespace, data, ack_id)
    if fast is not None:
        assert general == [fast]
        return
    plain = (
        namespace == "/" and type(data) is list and type(ack_id) is int
        and isinstance(general, list) and len(general) == 1 and general[0].startswith("3")
        and "\\u" not in general[0]
    )
    assert not plain, (namespace, data, ack_id, general)
