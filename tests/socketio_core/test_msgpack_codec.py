"""Tests of the msgpack codec (wire-compatible with socket.io-msgpack-parser)."""

from __future__ import annotations

import base64
import datetime
from typing import Any

import msgpack
import pytest

from socketio_core import (
    LocalProtocolError,
    MsgPackCodec,
    PacketType,
    RemoteProtocolError,
    SocketPacket,
)
from socketio_core.protocol.msgpack_codec import notepack_ext_hook

T = PacketType
P = SocketPacket


def pack(obj: Any) -> bytes:
    packed: bytes = msgpack.packb(obj, use_bin_type=True)
    return packed


def decode(message: bytes | str, codec: MsgPackCodec | None = None) -> SocketPacket | None:
    return (codec or MsgPackCodec()).decoder().feed(message)


def roundtrip(packet: SocketPacket, codec: MsgPackCodec | None = None) -> SocketPacket | None:
    codec = codec or MsgPackCodec()
    (message,) = codec.encode(packet)
    assert isinstance(message, bytes)
    return codec.decoder().feed(message)


ROUNDTRIP = [
    (P(T.CONNECT), P(T.CONNECT)),
    (P(T.CONNECT, "/admin", {"token": "123"}), None),
    (P(T.DISCONNECT, "/admin"), None),
    (P(T.CONNECT_ERROR, data={"message": "nope"}), None),
    (P(T.CONNECT_ERROR, "/x", "Unable to connect"), None),
    (P.event("chat", {"user": "ann", "text": "héllo ☃"}), None),
    (P.event("e", 1, -2, 2.5, None, True, [], {}, id=0, namespace="/n"), None),
    (P.event("e", id=2**53 - 1), None),
    (P.ack(4), None),
    (P.ack(4, "ok", [1, {"a": None}], namespace="/n"), None),
    (
        P.event("bin", b"\x00\xff", {"nested": [b"", bytearray(b"ba"), memoryview(b"mv")]}, id=3),
        None,
    ),
    (P(T.BINARY_EVENT, data=["bin", b"x"], id=1), P(T.EVENT, data=["bin", b"x"], id=1)),
    (P(T.BINARY_ACK, data=[b"x"], id=1), P(T.ACK, data=[b"x"], id=1)),
    (P(T.EVENT, data=("tuple", (1, 2))), P(T.EVENT, data=["tuple", [1, 2]])),
    (P(T.EVENT, "/a,b", ["commas are fine in msgpack"]), None),
]


@pytest.mark.parametrize(("packet", "expected"), ROUNDTRIP, ids=repr)
def test_roundtrip(packet: SocketPacket, expected: SocketPacket | None) -> None:
    assert roundtrip(packet) == (expected or packet)


def test_wire_layout() -> None:
    codec = MsgPackCodec()
    (message,) = codec.encode(P.event("x", b"\x01", id=7, namespace="/admin"))
    assert msgpack.unpackb(message, raw=False) == {
        "type": 2,
        "data": ["x", b"\x01"],
        "nsp": "/admin",
        "id": 7,
    }
    assert list(msgpack.unpackb(message, raw=False)) == ["type", "data", "nsp", "id"]
    # no "data" member at all for an absent payload (socket.io-msgpack-parser requires
    # `decoded.data === undefined` for DISCONNECT), and no "id" without an ack id
    (message,) = codec.encode(P.disconnect("/admin"))
    assert message == base64.b64decode("gqR0eXBlAaNuc3CmL2FkbWlu")  # recorded from node
    assert msgpack.unpackb(message, raw=False) == {"type": 1, "nsp": "/admin"}
    # binaries are msgpack bin (a Buffer in node), never BINARY_* packets
    (message,) = codec.encode(P(T.BINARY_ACK, data=[b"r"], id=1))
    assert msgpack.unpackb(message, raw=False) == {"type": 3, "data": [b"r"], "nsp": "/", "id": 1}


def test_recorded_js_sample() -> None:
    # node: new Encoder().encode({type: 2, nsp: "/", data: ["chat", new Uint8Array([1,2,3]),
    # undefined, 1.5, -3, 300], options: {compress: true}, id: 3}) -- what a browser sends.
    message = base64.b64decode(
        "haR0eXBlAqNuc3ChL6RkYXRhlqRjaGF0xwMAAQID1AAAyz/4AAAAAAAA/c0BLKdvcHRpb25zgahjb21wcmVzc8OiaWQD"
    )
    assert decode(message) == P.event("chat", b"\x01\x02\x03", None, 1.5, -3, 300, id=3)


def test_python_socketio_style_nil_data_and_extra_keys() -> None:
    assert decode(pack({"type": 1, "data": None, "nsp": "/"})) == P.disconnect()
    assert decode(pack({"type": 0, "data": None, "nsp": "/a"})) == P.connect("/a")
    assert decode(pack({"type": 2, "data": ["x"], "nsp": "/", "id": None})) == P.event("x")
    assert decode(
        pack({"type": 2, "data": ["x"], "nsp": "/", "options": {"compress": True}})
    ) == P.event("x")


def test_namespace_query_is_stripped() -> None:
    assert decode(pack({"type": 0, "nsp": "/admin?token=x"})) == P.connect("/admin")


def test_ext_types() -> None:
    undefined = b"\xd4\x00\x00"  # notepack.io fixext 1, type 0
    array_buffer = b"\xc7\x03\x00abc"  # notepack.io ext 8, type 0
    other = b"\xd5\x05xy"  # fixext 2, type 5
    body = b"\x83\xa4type\x02\xa3nsp\xa1/\xa4data\x94\xa1x" + undefined + array_buffer + other
    assert decode(body) == P.event("x", None, b"abc", msgpack.ExtType(5, b"xy"))
    assert notepack_ext_hook(0, b"") == b""
    assert notepack_ext_hook(0, b"\x00") is None  # documented ambiguity
    assert notepack_ext_hook(0, b"\x00\x00") == b"\x00\x00"
    custom = MsgPackCodec(ext_hook=lambda code, data: ("ext", code, data))
    assert decode(body, custom) == P.event(
        "x", ("ext", 0, b"\x00"), ("ext", 0, b"abc"), ("ext", 5, b"xy")
    )


def test_timestamps_and_default_hook() -> None:
    when = datetime.datetime(2024, 1, 2, tzinfo=datetime.timezone.utc)
    with pytest.raises(LocalProtocolError):
        MsgPackCodec().encode(P.event("t", when))
    codec = MsgPackCodec(default=lambda obj: obj.isoformat())
    assert roundtrip(P.event("t", when), codec) == P.event("t", "2024-01-02T00:00:00+00:00")


@pytest.mark.parametrize(
    ("packet", "reason"),
    [
        (P.event("x", object()), "not msgpack serialisable"),
        (P.event("x", "\ud800"), "not msgpack serialisable"),
        (P.event("x", 2**64), "not msgpack serialisable"),
        (P(T.EVENT, "admin", ["x"]), "namespace must be a str starting with '/'"),
        (P(T.EVENT, None, ["x"]), "namespace must be a str"),  # type: ignore[arg-type]
        (P(T.EVENT, data=["x"], id=-1), "ack id must be an int"),
        (P(T.EVENT, data=["x"], id=False), "ack id must be an int"),
        (P(T.EVENT, data=["x"], id=2**53), "ack id must be an int"),
        (P(T.EVENT), "EVENT packet without payload"),
        (P(T.EVENT, data=[]), "non-empty array"),
        (P(T.EVENT, data=[1]), "name must be a string"),
        (P(T.ACK, data=[]), "without an ack id"),
        (P(T.DISCONNECT, data={}), "must not carry a payload"),
        (P(T.CONNECT, data="x"), "must be an object"),
        (P(T.CONNECT_ERROR), "without payload"),
        (P(9, data=["x"]), "unknown packet type"),  # type: ignore[arg-type]
    ],
)
def test_encode_errors(packet: SocketPacket, reason: str) -> None:
    with pytest.raises(LocalProtocolError, match=reason) as info:
        MsgPackCodec().encode(packet)
    assert isinstance(info.value, TypeError)


def test_encode_deep_data() -> None:
    deep: Any = 1
    for _ in range(2000):
        deep = [deep]
    with pytest.raises(LocalProtocolError):
        MsgPackCodec().encode(P.event("x", deep))


def _deep_map(depth: int) -> bytes:
    return b"\x83\xa4type\x02\xa3nsp\xa1/\xa4data\x92\xa1x" + b"\x91" * depth + b"\xc0"


BAD: list[tuple[bytes | str, str]] = [
    ('2["x"]', "unexpected text message: the msgpack parser sends binary only"),
    (b"", "invalid msgpack"),
    (b"\xc1", "invalid msgpack"),
    (b"\x83\xa4type\x02", "invalid msgpack"),  # truncated
    (pack({"type": 2, "nsp": "/", "data": ["x"]}) + b"\x00", "invalid msgpack"),  # extra data
    (b"\x81\xa2\xff\xfe\x01", "invalid msgpack"),  # invalid UTF-8 in a str
    (b"\x81\x01\x02", "invalid msgpack"),  # int map key (strict_map_key)
    (b"\xdd\x7f\xff\xff\xff", "invalid msgpack"),  # array claiming 2**31 items
    (_deep_map(5000), "invalid msgpack: nested too deeply"),
    (pack(["type", 2]), "packet must be a msgpack map, not list"),
    (pack(2), "packet must be a msgpack map, not int"),
    (pack("x"), "packet must be a msgpack map, not str"),
    (pack(None), "packet must be a msgpack map, not NoneType"),
    (pack({b"type": 2, "nsp": "/"}), "packet map keys must be strings"),
    (pack({"nsp": "/", "data": ["x"]}), "invalid packet type None"),
    (pack({"type": True, "nsp": "/"}), "invalid packet type True"),
    (pack({"type": "2", "nsp": "/", "data": ["x"]}), "invalid packet type '2'"),
    (pack({"type": 2.0, "nsp": "/", "data": ["x"]}), "invalid packet type 2.0"),
    (pack({"type": 7, "nsp": "/"}), "invalid packet type 7"),
    (pack({"type": -1, "nsp": "/"}), "invalid packet type -1"),
    (
        pack({"type": 5, "nsp": "/", "data": ["x"]}),
        "packet type 5 (BINARY_EVENT) is not used by the msgpack parser",
    ),
    (pack({"type": 6, "nsp": "/", "data": [], "id": 1}), "packet type 6 (BINARY_ACK) is not used"),
    (pack({"type": 2, "data": ["x"]}), 'packet without "nsp"'),
    (pack({"type": 2, "nsp": 1, "data": ["x"]}), '"nsp" must be a string, not int'),
    (pack({"type": 2, "nsp": None, "data": ["x"]}), '"nsp" must be a string, not NoneType'),
    (pack({"type": 2, "nsp": b"/", "data": ["x"]}), '"nsp" must be a string, not bytes'),
    (pack({"type": 2, "nsp": "admin", "data": ["x"]}), "namespace must start with '/'"),
    (pack({"type": 2, "nsp": "", "data": ["x"]}), "namespace must start with '/'"),
    (
        pack({"type": 2, "nsp": "/", "data": ["x"], "id": -1}),
        "ack id must be an integer in [0, 9007199254740991], got -1",
    ),
    (pack({"type": 2, "nsp": "/", "data": ["x"], "id": 1.5}), "got 1.5"),
    (pack({"type": 2, "nsp": "/", "data": ["x"], "id": True}), "got True"),
    (pack({"type": 2, "nsp": "/", "data": ["x"], "id": "1"}), "got '1'"),
    (pack({"type": 2, "nsp": "/", "data": ["x"], "id": 2**53}), "got 9007199254740992"),
    (pack({"type": 2, "nsp": "/"}), "EVENT packet without payload"),
    (pack({"type": 2, "nsp": "/", "data": []}), "EVENT payload must be a non-empty array"),
    (pack({"type": 2, "nsp": "/", "data": {}}), "EVENT payload must be an array, not object"),
    (pack({"type": 2, "nsp": "/", "data": "x"}), "EVENT payload must be an array, not string"),
    (pack({"type": 2, "nsp": "/", "data": [1]}), "EVENT name must be a string, not number"),
    (
        pack({"type": 2, "nsp": "/", "data": [{"toString": "foo"}]}),
        "EVENT name must be a string, not object",
    ),
    (pack({"type": 2, "nsp": "/", "data": [b"x"]}), "EVENT name must be a string, not binary"),
    (pack({"type": 3, "nsp": "/", "data": []}), "ACK packet without an ack id"),
    (pack({"type": 3, "nsp": "/", "id": 1}), "ACK packet without payload"),
    (pack({"type": 3, "nsp": "/", "data": {}, "id": 1}), "ACK payload must be an array"),
    (pack({"type": 0, "nsp": "/", "data": []}), "CONNECT payload must be an object, not array"),
    (pack({"type": 0, "nsp": "/", "id": 1}), "CONNECT packet must not carry an ack id"),
    (pack({"type": 1, "nsp": "/", "data": {}}), "DISCONNECT packet must not carry a payload"),
    (pack({"type": 4, "nsp": "/"}), "CONNECT_ERROR packet without payload"),
    (
        pack({"type": 4, "nsp": "/", "data": 1}),
        "CONNECT_ERROR payload must be an object or a string",
    ),
]


@pytest.mark.parametrize(("message", "reason"), BAD, ids=[repr(m[:24]) for m, _ in BAD])
def test_decode_errors(message: bytes | str, reason: str) -> None:
    decoder = MsgPackCodec().decoder()
    with pytest.raises(RemoteProtocolError) as info:
        decoder.feed(message)
    assert reason in info.value.reason
    assert len(info.value.reason) < 300
    assert info.value.__cause__ is None
    assert decoder.feed(pack({"type": 2, "nsp": "/", "data": ["ok"]})) == P.event("ok")


def test_ext_hook_errors_become_remote_protocol_errors() -> None:
    def hook(code: int, data: bytes) -> Any:
        raise KeyError(code)

    with pytest.raises(RemoteProtocolError, match="invalid msgpack"):
        decode(
            b"\x83\xa4type\x02\xa3nsp\xa1/\xa4data\x92\xa1x\xd5\x05xy", MsgPackCodec(ext_hook=hook)
        )


def test_decoder_interface() -> None:
    decoder = MsgPackCodec().decoder()
    assert decoder.awaiting_attachments == 0
    decoder.reset()
    assert decoder.feed(bytearray(pack({"type": 2, "nsp": "/", "data": ["x"]}))) == P.event("x")
    assert decoder.feed(memoryview(pack({"type": 2, "nsp": "/", "data": ["y"]}))) == P.event("y")
    with pytest.raises(LocalProtocolError, match="feed\\(\\) takes str or bytes"):
        decoder.feed(None)  # type: ignore[arg-type]


def _outcome(message: bytes | bytearray, codec: MsgPackCodec | None = None) -> Any:
    try:
        return decode(message, codec)
    except RemoteProtocolError as exc:
        return ("rejected", exc.reason)


HEAD_ID = b"\x84\xa4type\x02\xa4data"
TAIL_ID = b"\xa3nsp\xa1/\xa2id"
COMMON = [
    # the tail's bytes inside the data, before the real tail
    (pack({"type": 2, "data": ["x", TAIL_ID + b"\x05"], "nsp": "/", "id": 5}), 5),
    (pack({"type": 2, "data": ["x", "nsp"], "nsp": "/"}), None),
    # every unsigned int width, minimal or not, up to the largest id
    (HEAD_ID + b"\x91\xa1x" + TAIL_ID + b"\x7f", 127),
    (HEAD_ID + b"\x91\xa1x" + TAIL_ID + b"\xcc\x80", 128),
    (HEAD_ID + b"\x91\xa1x" + TAIL_ID + b"\xcd\x00\x05", 5),
    (HEAD_ID + b"\x91\xa1x" + TAIL_ID + b"\xce\x00\x01\x00\x00", 65536),
    (HEAD_ID + b"\x91\xa1x" + TAIL_ID + b"\xcf" + (2**53 - 1).to_bytes(8, "big"), 2**53 - 1),
    (HEAD_ID + b"\x91\xa1x" + TAIL_ID + b"\xd0\x05", 5),  # a signed int: the general path
]
BAD_COMMON = [
    HEAD_ID + b"\x91\xa1x" + TAIL_ID + b"\xcf" + (2**53).to_bytes(8, "big"),
    HEAD_ID + b"\x91\xa1x" + TAIL_ID + b"\xcd\x00",  # truncated id
    HEAD_ID + b"\x91\xa1x" + TAIL_ID + b"\x05\x00",  # extra byte
    HEAD_ID + b"\x91\xa1x" + TAIL_ID,  # no id value
    HEAD_ID + b"\x92\xa1x" + TAIL_ID + b"\x05",  # the array eats the tail
    HEAD_ID + b"\x91\x01" + TAIL_ID + b"\x05",  # event name not a string
    HEAD_ID + b"\x90" + TAIL_ID + b"\x05",  # empty event
    b"\x84\xa4type\x03\xa4data\x80" + TAIL_ID + b"\x05",  # ack payload not an array
    b"\x83\xa4type\x02\xa4data\x91\xa1x\xa3nsp\xa1/\x00",  # extra byte after nsp
    b"\x83\xa4type\x02\xa4data\x91\xa1x\xc1\xa3nsp\xa1/",  # invalid byte in data
    b"\x83\xa4type\x02\xa4data\xa3nsp\xa1/",  # no data value
]


@pytest.mark.parametrize(("message", "ack_id"), COMMON, ids=repr)
def test_common_packets_fast_path(message: bytes, ack_id: int | None) -> None:
    packet = decode(message)
    assert packet is not None and packet.id == ack_id and packet.namespace == "/"
    # A bytearray takes the general path: same packet.
    assert decode(bytearray(message)) == packet


@pytest.mark.parametrize("message", BAD_COMMON, ids=repr)
def test_common_packets_fast_path_rejects_as_the_general_path(message: bytes) -> None:
    outcome = _outcome(message)
    assert outcome[0] == "rejected"
    assert outcome == _outcome(bytearray(message))


def test_fast_path_uses_the_ext_hook() -> None:
    message = pack({"type": 2, "data": ["x", msgpack.ExtType(0, b"ab")], "nsp": "/"})
    assert decode(message) == P.event("x", b"ab")
    custom = MsgPackCodec(ext_hook=lambda code, data: ("ext", code, data))
    assert decode(message, custom) == P.event("x", ("ext", 0, b"ab"))
    assert _outcome(message, MsgPackCodec(max_ack_id=3)) == P.event("x", b"ab")
    with_id = pack({"type": 2, "data": ["x"], "nsp": "/", "id": 4})
    assert _outcome(with_id, MsgPackCodec(max_ack_id=3))[0] == "rejected"


def test_default_hook_can_be_replaced_and_packers_are_reused() -> None:
    when = datetime.datetime(2024, 1, 2, tzinfo=datetime.timezone.utc)
    codec = MsgPackCodec()
    with pytest.raises(LocalProtocolError):
        codec.encode(P.event("t", when))
    # a failed pack leaves its Packer clean for the next packet
    assert codec.encode(P.event("t", 1)) == [pack({"type": 2, "data": ["t", 1], "nsp": "/"})]
    codec.default = str
    assert codec.default is str
    assert roundtrip(P.event("t", when), codec) == P.event("t", str(when))


def test_max_ack_id() -> None:
    codec = MsgPackCodec(max_ack_id=10)
    assert roundtrip(P.event("x", id=10), codec) == P.event("x", id=10)
    with pytest.raises(LocalProtocolError):
        codec.encode(P.event("x", id=11))
    with pytest.raises(RemoteProtocolError, match="ack id must be an integer in \\[0, 10\\]"):
        decode(pack({"type": 2, "nsp": "/", "data": ["x"], "id": 11}), codec)
    with pytest.raises(ValueError):
        MsgPackCodec(max_ack_id=-1)


# -- the JavaScript socket.io-msgpack-parser -----------------------------------------------------

INTEROP = [
    P(T.CONNECT),
    P(T.CONNECT, "/admin", {"token": "123"}),
    P(T.DISCONNECT, "/admin"),
    P(T.CONNECT_ERROR, data={"message": "Not authorized"}),
    P(T.CONNECT_ERROR, data="Unable to connect"),
    P.event("chat", {"user": "ann", "text": "héllo ☃ 𝄞"}),
    P.event("nums", 0, -1, 127, 128, 255, 256, 65536, -33, -129, 2**32, 2**53 - 1, 1.5, -0.25),
    P.event("ack me", [1, 2], id=12, namespace="/chat"),
    P.ack(7, "ok", None, True, False),
    P.event("bin", b"\x00\x01", {"nested": [b"", b"\xff" * 300]}, id=3),
    P.event("long", "s" * 70_000, [0] * 20, {f"k{i}": i for i in range(20)}),
]


def _js_packet(packet: SocketPacket, js: Any) -> dict[str, Any]:
    # same member order as our encoder, so the encodings can be compared byte for byte
    out: dict[str, Any] = {"type": int(packet.type)}
    if packet.data is not None:
        out["data"] = js.to_wire(packet.data)
    out["nsp"] = packet.namespace
    if packet.id is not None:
        out["id"] = packet.id
    return out


@pytest.mark.node
def test_js_decodes_our_encoding(js_parsers: Any) -> None:
    codec = MsgPackCodec()
    jobs = [
        {
            "parser": "msgpack",
            "op": "decode",
            "messages": [js_parsers.message_to_wire(m) for m in codec.encode(p)],
        }
        for p in INTEROP
    ]
    for packet, result in zip(INTEROP, js_parsers.run(jobs), strict=True):
        assert result == {"packets": [js_parsers.packet_to_wire(packet)]}


@pytest.mark.node
def test_we_decode_js_encoding(js_parsers: Any) -> None:
    jobs = [
        {"parser": "msgpack", "op": "encode", "packet": _js_packet(p, js_parsers)} for p in INTEROP
    ]
    codec = MsgPackCodec()
    for packet, result in zip(INTEROP, js_parsers.run(jobs), strict=True):
        (message,) = [js_parsers.message_from_wire(m) for m in result["parts"]]
        assert decode(message) == packet
        assert codec.encode(packet) == [message]  # byte for byte


@pytest.mark.node
def test_we_decode_browser_style_packets(js_parsers: Any) -> None:
    """A browser sends typed arrays (ext type 0), undefined and the client's `options`."""
    packet = {
        "type": 2,
        "nsp": "/",
        "data": ["up", {"$u8": "AQID"}, {"$undefined": True}, {"a": {"$u8": ""}}],
        "options": {"compress": True},
        "id": 9,
    }
    (result,) = js_parsers.run([{"parser": "msgpack", "op": "encode", "packet": packet}])
    (message,) = [js_parsers.message_from_wire(m) for m in result["parts"]]
    assert decode(message) == P.event("up", b"\x01\x02\x03", None, {"a": b""}, id=9)


@pytest.mark.node
def test_js_rejects_what_we_reject(js_parsers: Any) -> None:
    samples = [
        pack({"type": 5, "nsp": "/", "data": ["x"]}),
        pack({"type": 2, "nsp": 1, "data": ["x"]}),
        pack({"type": 2, "nsp": "/", "data": "x"}),
        pack({"type": 1, "nsp": "/", "data": {}}),
        pack({"type": 2, "nsp": "/", "data": ["x"], "id": 1.5}),
    ]
    jobs = [
        {"parser": "msgpack", "op": "decode", "messages": [js_parsers.message_to_wire(s)]}
        for s in samples
    ]
    for sample, result in zip(samples, js_parsers.run(jobs), strict=True):
        assert "error" in result
        with pytest.raises(RemoteProtocolError):
            decode(sample)


# -- python-socketio (the reference, used by Python clients) ------------------------------------


def test_python_socketio_msgpack_packets_interoperate() -> None:
    msgpack_packet = pytest.importorskip("socketio.msgpack_packet")
    codec = MsgPackCodec()
    for packet in INTEROP:
        (ours,) = codec.encode(packet)
        theirs = msgpack_packet.MsgPackPacket(encoded_packet=ours)
        assert (theirs.packet_type, theirs.data, theirs.namespace, theirs.id) == (
            packet.type,
            packet.data,
            packet.namespace,
            packet.id,
        )
        encoded = msgpack_packet.MsgPackPacket(
            packet.type, data=packet.data, namespace=packet.namespace, id=packet.id
        ).encode()
        assert decode(encoded) == packet
