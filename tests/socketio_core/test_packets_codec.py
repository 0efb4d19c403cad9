"""Tests of the Socket.IO packets, binary attachments and the JSON codec (socket.io-parser)."""

from __future__ import annotations

import gc
import json
import types
from typing import Any

import pytest

from socketio_core import (
    RESERVED_EVENTS,
    JSONCodec,
    LocalProtocolError,
    PacketType,
    RemoteProtocolError,
    SocketIOError,
    SocketPacket,
)
from socketio_core.protocol.binary import (
    MAX_DEPTH,
    deconstruct,
    find_placeholders,
    has_binary,
    reconstruct,
)

T = PacketType
P = SocketPacket
PH0 = {"_placeholder": True, "num": 0}
PH1 = {"_placeholder": True, "num": 1}


def decode_all(messages: list[str | bytes], codec: JSONCodec | None = None) -> SocketPacket:
    """Feed ``messages`` to a fresh decoder; the last one must complete a packet."""
    decoder = (codec or JSONCodec()).decoder()
    for message in messages[:-1]:
        assert decoder.feed(message) is None
    packet = decoder.feed(messages[-1])
    assert packet is not None
    assert decoder.awaiting_attachments == 0
    return packet


def roundtrip(packet: SocketPacket, codec: JSONCodec | None = None) -> SocketPacket:
    codec = codec or JSONCodec()
    return decode_all(codec.encode(packet), codec)


def normalised(packet: SocketPacket) -> SocketPacket:
    """What a decoder returns for ``packet``: BINARY_* become EVENT/ACK, tuples lists."""
    ptype = {T.BINARY_EVENT: T.EVENT, T.BINARY_ACK: T.ACK}.get(packet.type, packet.type)

    def plain(value: Any) -> Any:
        if isinstance(value, (list, tuple)):
            return [plain(v) for v in value]
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, (bytearray, memoryview)):
            return bytes(value)
        return value

    return SocketPacket(ptype, packet.namespace, plain(packet.data), packet.id)


# -- packets -------------------------------------------------------------------------------


def test_packet_type_values() -> None:
    assert [(t.name, t.value) for t in PacketType] == [
        ("CONNECT", 0),
        ("DISCONNECT", 1),
        ("EVENT", 2),
        ("ACK", 3),
        ("CONNECT_ERROR", 4),
        ("BINARY_EVENT", 5),
        ("BINARY_ACK", 6),
    ]


def test_reserved_events_match_socket_io_parser() -> None:
    assert RESERVED_EVENTS == {
        "connect",
        "connect_error",
        "disconnect",
        "disconnecting",
        "newListener",
        "removeListener",
    }
    assert isinstance(RESERVED_EVENTS, frozenset)


def test_packet_helpers_and_properties() -> None:
    assert P.event("chat", 1, {"a": 2}, namespace="/x", id=4) == P(
        T.EVENT, "/x", ["chat", 1, {"a": 2}], 4
    )
    assert P.ack(3, "ok", 1) == P(T.ACK, "/", ["ok", 1], 3)
    assert P.ack(3) == P(T.ACK, "/", [], 3)
    assert P.connect() == P(T.CONNECT)
    assert P.connect("/a", {"token": "t"}) == P(T.CONNECT, "/a", {"token": "t"})
    assert P.connect_error(data="Unable to connect") == P(T.CONNECT_ERROR, "/", "Unable to connect")
    assert P.disconnect("/a") == P(T.DISCONNECT, "/a")
    event = P.event("chat", 1, 2)
    assert event.event_name == "chat"
    assert event.args == [1, 2]
    assert P.ack(1, "a").event_name is None
    assert P.ack(1, "a").args == ["a"]
    assert P.connect(data={"x": 1}).args == []
    assert P(T.EVENT, data=[1]).event_name is None


def test_packets_are_frozen() -> None:
    packet = P.event("x")
    with pytest.raises(AttributeError):
        packet.namespace = "/other"  # type: ignore[misc]
    assert not hasattr(packet, "__dict__")


def test_error_hierarchy() -> None:
    assert issubclass(RemoteProtocolError, SocketIOError)
    assert issubclass(LocalProtocolError, SocketIOError)
    assert issubclass(LocalProtocolError, TypeError)
    assert not issubclass(RemoteProtocolError, (TypeError, ValueError))
    err = RemoteProtocolError("bad thing")
    assert err.reason == "bad thing" and str(err) == "bad thing"


# -- exact wire strings ----------------------------------------------------------------------

# (packet, encoded parts). Spec examples from socket.io-protocol v5 "Packet encoding", plus the
# observed Flask-SocketIO wire samples (the Engine.IO layer adds the leading "4").
WIRE_EXAMPLES: list[tuple[SocketPacket, list[str | bytes]]] = [
    (P(T.CONNECT), ["0"]),
    (
        P(T.CONNECT, "/admin", {"sid": "oSO0OpakMV_3jnilAAAA"}),
        ['0/admin,{"sid":"oSO0OpakMV_3jnilAAAA"}'],
    ),
    (P(T.CONNECT, data={"sid": "x"}), ['0{"sid":"x"}']),
    (P(T.CONNECT_ERROR, data={"message": "Not authorized"}), ['4{"message":"Not authorized"}']),
    (P(T.CONNECT_ERROR, "/nope", "Unable to connect"), ['4/nope,"Unable to connect"']),
    (P(T.EVENT, data=["foo"]), ['2["foo"]']),
    (P(T.EVENT, "/admin", ["bar"]), ['2/admin,["bar"]']),
    (P(T.EVENT, "/chat", ["ev", 1], 12), ['2/chat,12["ev",1]']),
    (P(T.EVENT, data=["foo"], id=12), ['212["foo"]']),
    (P(T.ACK, "/admin", ["bar"], 13), ['3/admin,13["bar"]']),
    (P(T.ACK, data=[1, "a"], id=1), ['31[1,"a"]']),
    (P(T.ACK, data=[], id=12), ["312[]"]),
    (
        P(T.EVENT, data=["baz", b"\x01\x02\x03\x04"]),
        ['51-["baz",{"_placeholder":true,"num":0}]', b"\x01\x02\x03\x04"],
    ),
    (
        P(T.EVENT, "/admin", ["baz", b"\x01\x02", b"\x03\x04"]),
        [
            '52-/admin,["baz",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]',
            b"\x01\x02",
            b"\x03\x04",
        ],
    ),
    (
        P(T.ACK, data=["bar", b"\x01\x02\x03\x04"], id=15),
        ['61-15["bar",{"_placeholder":true,"num":0}]', b"\x01\x02\x03\x04"],
    ),
    (
        P(T.EVENT, data=["binres", {"x": b"\x01\x02"}]),
        ['51-["binres",{"x":{"_placeholder":true,"num":0}}]', b"\x01\x02"],
    ),
    (P(T.ACK, "/admin", [b"\xff"], 1), ['61-/admin,1[{"_placeholder":true,"num":0}]', b"\xff"]),
    (P(T.DISCONNECT), ["1"]),
    (P(T.DISCONNECT, "/admin"), ["1/admin,"]),
    (P(T.EVENT, data=["hey", "Jude"]), ['2["hey","Jude"]']),
    (
        P(T.EVENT, data=["chat", {"user": "ann", "text": "héllo ☃"}]),
        ['2["chat",{"user":"ann","text":"héllo ☃"}]'],
    ),
]


@pytest.mark.parametrize(
    ("packet", "parts"), WIRE_EXAMPLES, ids=[repr(p[1][0]) for p in WIRE_EXAMPLES]
)
def test_wire_examples_encode_exactly(packet: SocketPacket, parts: list[str | bytes]) -> None:
    assert JSONCodec().encode(packet) == parts


@pytest.mark.parametrize(
    ("packet", "parts"), WIRE_EXAMPLES, ids=[repr(p[1][0]) for p in WIRE_EXAMPLES]
)
def test_wire_examples_decode(packet: SocketPacket, parts: list[str | bytes]) -> None:
    assert decode_all(parts) == normalised(packet)


def test_observed_engineio_samples() -> None:
    codec = JSONCodec()
    assert "4" + str(codec.encode(P.connect(data={"sid": "x"}))[0]) == '40{"sid":"x"}'
    assert "4" + str(codec.encode(P.ack(1, 1, "a"))[0]) == '431[1,"a"]'
    parts = codec.encode(P.event("binres", {"x": b"\x01\x02"}))
    assert "4" + str(parts[0]) == '451-["binres",{"x":{"_placeholder":true,"num":0}}]'


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("0/admin?token=x,", P(T.CONNECT, "/admin")),
        ('0/admin?token=x,{"k":1}', P(T.CONNECT, "/admin", {"k": 1})),
        ("0/?x=1,", P(T.CONNECT, "/")),
        ("1/admin", P(T.DISCONNECT, "/admin")),  # the trailing comma is optional at the end
        ("0/admin", P(T.CONNECT, "/admin")),
        ("0{}", P(T.CONNECT, data={})),
        ('2 ["x"]', P(T.EVENT, data=["x"])),  # JSON allows leading whitespace
        (
            '2["x",null,true,1.5,-2,{"a":[]}]',
            P(T.EVENT, data=["x", None, True, 1.5, -2, {"a": []}]),
        ),
        ('2["\\ud800"]', P(T.EVENT, data=["\ud800"])),
        ('2["connect"]', P(T.EVENT, data=["connect"])),  # reserved names are the server's business
        ('2007["x"]', P(T.EVENT, data=["x"], id=7)),
        ('29007199254740991["x"]', P(T.EVENT, data=["x"], id=2**53 - 1)),
        ('2["x",{"_placeholder":true,"num":0}]', P(T.EVENT, data=["x", PH0])),  # not binary
        ('51-["x",{"_placeholder":true,"num":0,"extra":1}]', None),
        ('51-["x",{"_placeholder":1,"num":5},{"_placeholder":true,"num":0}]', None),
    ],
)
def test_decode_variants(message: str, expected: SocketPacket | None) -> None:
    decoder = JSONCodec().decoder()
    packet = decoder.feed(message)
    if expected is not None:
        assert packet == expected
    else:
        assert packet is None and decoder.awaiting_attachments == 1
        assert decoder.feed(b"A") is not None


# -- round trips --------------------------------------------------------------------------------

ROUNDTRIP_PACKETS = [
    P(T.CONNECT),
    P(T.CONNECT, "/admin"),
    P(T.CONNECT, "/admin", {"token": "123", "nested": {"a": [1, 2]}}),
    P(T.DISCONNECT),
    P(T.DISCONNECT, "/a/b"),
    P(T.CONNECT_ERROR, data={"message": "nope", "data": {"k": 1}}),
    P(T.CONNECT_ERROR, "/x", "Unable to connect"),
    P(T.EVENT, data=["message"]),
    P(T.EVENT, data=["message", "hi", 1, 2.5, None, True, False, [], {}]),
    P(T.EVENT, "/ns", ["e", {"deep": [[[{"x": "y"}]]]}], 0),
    P(T.EVENT, data=["e"], id=2**53 - 1),
    P(T.ACK, data=[], id=0),
    P(T.ACK, "/ns", [None], 99),
    P(T.ACK, data=("tuple", 1), id=3),
    P(T.EVENT, data=["bin", b""]),
    P(T.EVENT, data=["bin", b"\x00\xff", [b"a", {"k": b"b", "l": [b"c"]}]], id=5),
    P(T.EVENT, "/up", ["bin", bytearray(b"ba"), memoryview(b"mv"), (b"t",)]),
    P(T.BINARY_EVENT, "/up", ["bin", {"payload": b"x" * 1000}], 1),
    P(T.BINARY_ACK, data=[b"r1", b"r2"], id=8),
    P(T.ACK, data=[{"file": b"\x01"}], id=8),
    P(T.BINARY_EVENT, data=["no binary after all"]),  # sent as a plain EVENT
    P(T.EVENT, data=["ünïcödé ☃ 𝄞", {"ключ": "значение"}]),
]


@pytest.mark.parametrize("packet", ROUNDTRIP_PACKETS, ids=repr)
def test_roundtrip(packet: SocketPacket) -> None:
    assert roundtrip(packet) == normalised(packet)


def test_binary_type_without_binary_is_sent_plain() -> None:
    assert JSONCodec().encode(P(T.BINARY_EVENT, data=["x", 1])) == ['2["x",1]']
    assert JSONCodec().encode(P(T.BINARY_ACK, data=[], id=2)) == ["32[]"]


def test_same_bytes_object_twice_gives_two_attachments() -> None:
    blob = b"same"
    parts = JSONCodec().encode(P.event("x", blob, blob))
    assert parts == [
        '52-["x",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]',
        blob,
        blob,
    ]


def test_one_pass_binary_encoding_matches_the_walk() -> None:
    # The encoder numbers the binaries in its one C pass; deconstruct() is the reference.
    data = [
        "x",
        {"a": bytearray(b"1"), "b": [memoryview(b"2"), (b"3", {"c": b"4"})], "d": None},
        b"5",
        (1, b"6"),
    ]
    payload, attachments = deconstruct(data)
    head = f"5{len(attachments)}-"
    expected = [head + json.dumps(payload, separators=(",", ":")), *attachments]
    assert JSONCodec(max_attachments=6).encode(P(T.EVENT, data=data)) == expected
    assert all(type(part) is bytes for part in expected[1:])


def test_failed_binary_encoding_leaves_no_attachment_behind() -> None:
    # The encoder's reusable one-pass encoder collects binaries as it goes: a packet that
    # fails half-way must not leak them into the next packet.
    codec = JSONCodec()
    with pytest.raises(LocalProtocolError, match="not JSON serialisable"):
        codec.encode(P.event("x", b"leak", object()))
    with pytest.raises(LocalProtocolError, match="max_attachments"):
        codec.encode(P.event("x", *[b"y"] * 11))
    assert codec.encode(P.event("x", b"ok")) == ['51-["x",{"_placeholder":true,"num":0}]', b"ok"]
    assert codec.encode(P.event("x", "plain")) == ['2["x","plain"]']


def test_idle_decoder_holds_no_containers() -> None:
    # One decoder per connection: idle, it must not keep lists for the GC to track.
    decoder = JSONCodec().decoder()

    def containers() -> list[Any]:
        return [obj for obj in gc.get_referents(decoder) if isinstance(obj, (list, dict))]

    assert containers() == []
    decoder.feed('51-["x",{"_placeholder":true,"num":0}]')
    assert containers() != []  # collecting: the slots and the attachments
    assert decoder.feed(b"1") == P.event("x", b"1")
    assert containers() == []


def test_encode_does_not_mutate_data() -> None:
    data = ["x", {"b": b"1"}, [b"2"]]
    JSONCodec().encode(P(T.EVENT, data=data))
    assert data == ["x", {"b": b"1"}, [b"2"]]


def test_non_ascii_is_kept_and_lone_surrogates_escaped() -> None:
    codec = JSONCodec()
    assert codec.encode(P.event("é", "☃")) == ['2["é","☃"]']
    # JSON.stringify("\ud800") === '"\\ud800"': a lone surrogate cannot travel as UTF-8.
    (text,) = codec.encode(P.event("x", "a\ud800b\udfff"))
    assert text == '2["x","a\\ud800b\\udfff"]'
    assert isinstance(text, str)
    text.encode("utf-8")
    assert decode_all([text]) == P.event("x", "a\ud800b\udfff")


def test_custom_json_module() -> None:
    calls: list[Any] = []

    def dumps(obj: Any, **kwargs: Any) -> str:
        calls.append(kwargs)
        return json.dumps(obj, **kwargs)

    module = types.SimpleNamespace(dumps=dumps, loads=json.loads)
    codec = JSONCodec(json=module)
    assert codec.encode(P.event("x", {"a": 1})) == ['2["x",{"a":1}]']
    assert calls == [{"separators": (",", ":")}]
    assert roundtrip(P.event("x", b"bin", id=3), codec) == P.event("x", b"bin", id=3)
    with pytest.raises(LocalProtocolError):
        codec.encode(P.event("x", object()))


def test_custom_json_module_returning_bytes() -> None:
    module = types.SimpleNamespace(
        dumps=lambda obj, **kw: json.dumps(obj, **kw).encode(), loads=json.loads
    )
    # the module's own ensure_ascii default applies (stdlib: True)
    assert JSONCodec(json=module).encode(P.event("x", "é")) == ['2["x","\\u00e9"]']


def test_custom_json_module_errors_are_remote_protocol_errors() -> None:
    def loads(text: str) -> Any:
        raise KeyError("boom")

    codec = JSONCodec(json=types.SimpleNamespace(dumps=json.dumps, loads=loads))
    with pytest.raises(RemoteProtocolError, match="invalid JSON payload"):
        codec.decoder().feed('2["x"]')


def test_flask_json_module() -> None:
    flask_json = pytest.importorskip("flask.json")
    codec = JSONCodec(json=flask_json)
    packet = P.event("x", {"b": 1, "a": [1, 2]}, id=1)
    assert roundtrip(packet, codec) == packet


# -- encoding errors (our caller's fault) ---------------------------------------------------------


@pytest.mark.parametrize(
    ("packet", "reason"),
    [
        (P.event("x", object()), "not JSON serialisable"),
        (P.event("x", {1j: 1}), "not JSON serialisable"),
        (P.event("x", float("nan")), "not JSON serialisable"),
        (P.event("x", b"bin", object()), "not JSON serialisable"),
        (
            P(T.CONNECT, data={"k": b"bin"}),
            "binary data is only allowed in EVENT and ACK packets, not CONNECT",
        ),
        (
            P(T.CONNECT_ERROR, data={"k": [b"bin"]}),
            "only allowed in EVENT and ACK packets, not CONNECT_ERROR",
        ),
        (P(T.CONNECT, data={"k": object()}), "not JSON serialisable"),
        (P(T.EVENT, "admin", ["x"]), "namespace must start with '/'"),
        (P(T.EVENT, "/a,b", ["x"]), "must not contain ','"),
        (P(T.EVENT, "/\ud800", ["x"]), "surrogate"),
        (P(T.EVENT, 5, ["x"]), "namespace must be a str"),  # type: ignore[arg-type]
        (P(T.EVENT, data=["x"], id=-1), "ack id must be an int"),
        (P(T.EVENT, data=["x"], id=True), "ack id must be an int"),
        (P(T.EVENT, data=["x"], id=2**53), "ack id must be an int"),
        (P(T.EVENT, data=["x"], id="1"), "ack id must be an int"),  # type: ignore[arg-type]
        (P(T.EVENT), "EVENT packet without payload"),
        (P(T.EVENT, data=[]), "non-empty array"),
        (P(T.EVENT, data="x"), "must be an array"),
        (P(T.EVENT, data=[1]), "name must be a string"),
        (P(T.ACK, data=[]), "without an ack id"),
        (P(T.ACK, data={"a": 1}, id=1), "must be an array"),
        (P(T.DISCONNECT, data={}), "must not carry a payload"),
        (P(T.CONNECT, data=[1]), "CONNECT payload must be an object"),
        (P(T.CONNECT, data={}, id=1), "must not carry an ack id"),
        (P(T.CONNECT_ERROR), "CONNECT_ERROR packet without payload"),
        (P(T.CONNECT_ERROR, data=1), "object or a string"),
        (P(7, data=["x"]), "unknown packet type"),  # type: ignore[arg-type]
        (P.event("x", *[b"b"] * 11), "more than max_attachments=10"),
    ],
)
def test_encode_errors(packet: SocketPacket, reason: str) -> None:
    with pytest.raises(LocalProtocolError, match=reason.replace("(", r"\(")) as info:
        JSONCodec().encode(packet)
    assert isinstance(info.value, TypeError)


def test_encode_accepts_int_packet_type() -> None:
    assert JSONCodec().encode(P(2, data=["x"])) == ['2["x"]']  # type: ignore[arg-type]


def test_encode_circular_data() -> None:
    data: list[Any] = ["x"]
    data.append(data)
    with pytest.raises(LocalProtocolError):
        JSONCodec().encode(P(T.EVENT, data=data))
    data.append(b"bin")
    with pytest.raises(LocalProtocolError, match="circular"):
        JSONCodec().encode(P(T.EVENT, data=data))


def test_encode_many_attachments_when_allowed() -> None:
    codec = JSONCodec(max_attachments=20)
    packet = P.event("x", *[bytes([i]) for i in range(20)])
    parts = codec.encode(packet)
    assert len(parts) == 21 and str(parts[0]).startswith("520-")
    assert decode_all(parts, codec) == packet


def test_codec_parameters_are_validated() -> None:
    for bad in (-1, 1.5, True, 10**6, "10"):
        with pytest.raises(ValueError):
            JSONCodec(max_attachments=bad)  # type: ignore[arg-type]
    for bad_id in (-1, 1.5, None):
        with pytest.raises(ValueError):
            JSONCodec(max_ack_id=bad_id)  # type: ignore[arg-type]


# -- decoding errors (the peer's fault) ------------------------------------------------------------

BAD_MESSAGES: list[tuple[str, str]] = [
    ("", "empty packet"),
    ("7", "unknown packet type '7'"),
    ("9[]", "unknown packet type '9'"),
    ("x", "unknown packet type 'x'"),
    ("٣", "unknown packet type"),
    # CVE-2023-32695: bad event-name formats
    ('2[{"toString":"foo"}]', "EVENT name must be a string, not object"),
    ("2[]", "EVENT payload must be a non-empty array"),
    ("2{}", "EVENT payload must be an array, not object"),
    ('2"x"', "EVENT payload must be an array, not string"),
    ("2[1]", "EVENT name must be a string, not number"),
    ("2[null]", "EVENT name must be a string, not null"),
    ("2[[]]", "EVENT name must be a string, not array"),
    ("2null", "EVENT payload must be an array, not null"),
    ("2", "EVENT packet without payload"),
    ("2/chat,", "EVENT packet without payload"),
    ("212", "EVENT packet without payload"),
    # acks
    ("3[]", "ACK packet without an ack id"),
    ("31", "ACK packet without payload"),
    ('31{"a":1}', "ACK payload must be an array, not object"),
    ("31true", "ACK payload must be an array, not boolean"),
    # connect / disconnect / connect_error
    ("0[]", "CONNECT payload must be an object, not array"),
    ('0"tok"', "CONNECT payload must be an object, not string"),
    ("0null", "CONNECT payload must be an object, not null"),
    ("01{}", "CONNECT packet must not carry an ack id"),
    ("1{}", "DISCONNECT packet must not carry a payload, got object"),
    ("1/a,[]", "DISCONNECT packet must not carry a payload"),
    ("11", "DISCONNECT packet must not carry an ack id"),
    ("4", "CONNECT_ERROR packet without payload"),
    ("4[]", "CONNECT_ERROR payload must be an object or a string, not array"),
    ("41", "CONNECT_ERROR packet must not carry an ack id"),
    # attachment counts
    ('21-["x"]', "EVENT packet must not announce binary attachments"),
    ("01-{}", "CONNECT packet must not announce binary attachments"),
    ('5["x"]', "BINARY_EVENT packet must announce its attachments as '<count>-'"),
    ('5-["x"]', "BINARY_EVENT packet must announce its attachments as '<count>-'"),
    ("51", "BINARY_EVENT packet must announce its attachments as '<count>-'"),
    ('5a-["x"]', "BINARY_EVENT packet must announce its attachments"),
    ('50-["x"]', "BINARY_EVENT packet must announce at least one attachment"),
    ("60-1[]", "BINARY_ACK packet must announce at least one attachment"),
    ('511-["x"]', "too many attachments: 11 announced, at most 10 allowed"),
    ("5" + "9" * 50 + '-["x"]', "too many attachments: a 50-digit count"),
    ('599999999999-["x"]', "too many attachments"),
    # namespace / ack id / json
    (
        '2chat,["x"]',
        "unexpected 'c' at offset 1: expected a namespace ('/'), an ack id or a JSON payload",
    ),
    ('2,["x"]', "unexpected ','"),
    ('2/chat,abc["x"]', "unexpected 'a' at offset 7"),
    ("2" + "1" * 17 + '["x"]', "ack id too long: 17 digits, at most 16 allowed"),
    ("2" + "1" * 5000 + '["x"]', "ack id too long: 5000 digits"),
    ('29007199254740992["x"]', "ack id 9007199254740992 exceeds the maximum 9007199254740991"),
    ('2["x"', "invalid JSON payload"),
    ('2["x"]]', "invalid JSON payload: Extra data"),
    ('2["x",NaN]', "invalid JSON payload: NaN is not valid JSON"),
    ('2["x",Infinity]', "invalid JSON payload: Infinity is not valid JSON"),
    ('2["x",' + "1" * 5000 + "]", "invalid JSON payload"),
    ("2" + "[" * 100_000, "invalid JSON payload: nested too deeply"),
    ("2" + "[" * 5000 + "]" * 5000, "invalid JSON payload: nested too deeply"),
    ("2[\"x\",'y']", "invalid JSON payload"),
    # CVE-2022-2421: placeholder validation
    (
        '51-["x",{"_placeholder":true,"num":"splice"}]',
        "binary placeholder \"num\" must be an integer, got string 'splice'",
    ),
    (
        '51-["x",{"_placeholder":true,"num":-1}]',
        'binary placeholder "num" -1 out of range: the packet announced 1 attachment(s)',
    ),
    ('51-["x",{"_placeholder":true,"num":99}]', 'binary placeholder "num" 99 out of range'),
    ('51-["x",{"_placeholder":true,"num":1}]', 'binary placeholder "num" 1 out of range'),
    (
        '51-["x",{"_placeholder":true,"num":1.5}]',
        'binary placeholder "num" must be an integer, got number 1.5',
    ),
    (
        '51-["x",{"_placeholder":true,"num":0.0}]',
        'binary placeholder "num" must be an integer, got number 0.0',
    ),
    (
        '51-["x",{"_placeholder":true,"num":true}]',
        'binary placeholder "num" must be an integer, got boolean True',
    ),
    ('51-["x",{"_placeholder":true,"num":null}]', "must be an integer, got null"),
    ('51-["x",{"_placeholder":true,"num":[0]}]', "must be an integer, got array"),
    ('51-["x",{"_placeholder":true}]', 'binary placeholder without "num"'),
    ('51-["x",{"_placeholder":true,"NUM":0}]', 'binary placeholder without "num"'),
    ('51-["x"]', "binary attachment 0 is announced but no placeholder references it"),
    (
        '52-["x",{"_placeholder":true,"num":1}]',
        "binary attachment 0 is announced but no placeholder",
    ),
    (
        '52-["x",{"_placeholder":true,"num":0},{"_placeholder":true,"num":0}]',
        "binary attachment 1 is announced",
    ),
    ('51-[{"_placeholder":true,"num":0}]', "BINARY_EVENT name must be a string, not object"),
    ('61-1{"_placeholder":true,"num":0}', "BINARY_ACK payload must be an array, not object"),
    ('61-[{"_placeholder":true,"num":0}]', "BINARY_ACK packet without an ack id"),
    (
        '51-["x",' + "[" * 300 + "]" * 300 + "]",
        "binary packet payload is nested deeper than 200 levels",
    ),
    ('51-["x",' + '{"a":' * 300 + "1" + "}" * 300 + "]", "nested deeper than 200 levels"),
]


@pytest.mark.parametrize(("message", "reason"), BAD_MESSAGES, ids=[m[:40] for m, _ in BAD_MESSAGES])
def test_decode_errors(message: str, reason: str) -> None:
    decoder = JSONCodec().decoder()
    with pytest.raises(RemoteProtocolError) as info:
        decoder.feed(message)
    assert reason in info.value.reason
    assert len(info.value.reason) < 300  # never echoes a whole hostile message
    # the decoder stays usable
    assert decoder.awaiting_attachments == 0
    assert decoder.feed('2["ok"]') == P.event("ok")


def test_decode_error_chaining_hides_internal_exceptions() -> None:
    with pytest.raises(RemoteProtocolError) as info:
        JSONCodec().decoder().feed('2["x"')
    assert info.value.__cause__ is None


def test_max_ack_id_parameter() -> None:
    codec = JSONCodec(max_ack_id=100)
    assert codec.decoder().feed('2100["x"]') == P.event("x", id=100)
    with pytest.raises(RemoteProtocolError, match="ack id 101 exceeds the maximum 100"):
        codec.decoder().feed('2101["x"]')
    with pytest.raises(RemoteProtocolError, match="ack id too long: 4 digits, at most 3 allowed"):
        codec.decoder().feed('20001["x"]')
    with pytest.raises(LocalProtocolError):
        codec.encode(P.event("x", id=101))


def test_max_attachments_parameter() -> None:
    codec = JSONCodec(max_attachments=2)
    with pytest.raises(
        RemoteProtocolError, match="too many attachments: 3 announced, at most 2 allowed"
    ):
        codec.decoder().feed('53-["x"]')
    with pytest.raises(LocalProtocolError):
        codec.encode(P.event("x", b"1", b"2", b"3"))
    with pytest.raises(RemoteProtocolError, match="at least one"):
        JSONCodec(max_attachments=0).decoder().feed('50-["x"]')
    with pytest.raises(RemoteProtocolError, match="too many attachments: 1 announced, at most 0"):
        JSONCodec(max_attachments=0).decoder().feed('51-["x"]')


# -- the incremental decoder ------------------------------------------------------------------------


def test_attachments_arrive_one_by_one() -> None:
    decoder = JSONCodec().decoder()
    assert decoder.awaiting_attachments == 0
    assert (
        decoder.feed(
            '53-/up,4["f",{"_placeholder":true,"num":2},[{"_placeholder":true,"num":0}],{"_placeholder":true,"num":1}]'
        )
        is None
    )
    assert decoder.awaiting_attachments == 3
    assert decoder.feed(b"zero") is None
    assert decoder.awaiting_attachments == 2
    assert decoder.feed(bytearray(b"one")) is None
    assert decoder.awaiting_attachments == 1
    packet = decoder.feed(memoryview(b"two"))
    assert packet == P(T.EVENT, "/up", ["f", b"two", [b"zero"], b"one"], 4)
    assert packet is not None and all(type(b) is bytes for b in (packet.data[1], packet.data[3]))
    assert decoder.awaiting_attachments == 0
    assert decoder.feed('2["next"]') == P.event("next")


def test_placeholder_may_be_referenced_twice() -> None:
    decoder = JSONCodec().decoder()
    assert (
        decoder.feed('51-["x",{"_placeholder":true,"num":0},{"_placeholder":true,"num":0}]') is None
    )
    assert decoder.feed(b"b") == P.event("x", b"b", b"b")


def test_unexpected_binary_attachment() -> None:
    decoder = JSONCodec().decoder()
    with pytest.raises(RemoteProtocolError, match="^unexpected binary attachment$"):
        decoder.feed(b"\x00")
    decoder.feed('51-["x",{"_placeholder":true,"num":0}]')
    decoder.feed(b"1")
    with pytest.raises(RemoteProtocolError, match="unexpected binary attachment"):
        decoder.feed(b"2")


def test_text_while_awaiting_attachments_resets() -> None:
    decoder = JSONCodec().decoder()
    decoder.feed('52-["x",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]')
    decoder.feed(b"1")
    with pytest.raises(
        RemoteProtocolError,
        match=r"text message received while 1 binary attachment\(s\) are awaited",
    ):
        decoder.feed('2["y"]')
    assert decoder.awaiting_attachments == 0
    assert decoder.feed('2["y"]') == P.event("y")
    with pytest.raises(RemoteProtocolError, match="unexpected binary attachment"):
        decoder.feed(b"2")


def test_reset_drops_partial_packet() -> None:
    decoder = JSONCodec().decoder()
    decoder.feed('51-["x",{"_placeholder":true,"num":0}]')
    assert decoder.awaiting_attachments == 1
    decoder.reset()
    assert decoder.awaiting_attachments == 0
    assert decoder._pending is None and not decoder._received and not decoder._slots
    with pytest.raises(RemoteProtocolError, match="unexpected binary attachment"):
        decoder.feed(b"1")
    decoder.reset()  # idempotent
    assert decoder.feed('2["x"]') == P.event("x")


def test_decoders_are_independent() -> None:
    codec = JSONCodec()
    first, second = codec.decoder(), codec.decoder()
    first.feed('51-["x",{"_placeholder":true,"num":0}]')
    assert second.awaiting_attachments == 0
    assert second.feed('2["y"]') == P.event("y")
    assert first.feed(b"z") == P.event("x", b"z")


def test_feed_rejects_other_types() -> None:
    decoder = JSONCodec().decoder()
    for bad in (None, 1, ["2[]"], object()):
        with pytest.raises(LocalProtocolError, match="feed\\(\\) takes str or bytes"):
            decoder.feed(bad)  # type: ignore[arg-type]


# -- binary.py ------------------------------------------------------------------------------------------


def test_deconstruct_and_reconstruct() -> None:
    data = ["x", {"a": b"1", "b": [bytearray(b"2"), (memoryview(b"3"),)]}, "plain"]
    payload, attachments = deconstruct(data)
    assert payload == ["x", {"a": PH0, "b": [PH1, [{"_placeholder": True, "num": 2}]]}, "plain"]
    assert attachments == [b"1", b"2", b"3"]
    assert all(type(a) is bytes for a in attachments)
    assert reconstruct(json.loads(json.dumps(payload)), attachments) == [
        "x",
        {"a": b"1", "b": [b"2", [b"3"]]},
        "plain",
    ]


def test_deconstruct_without_binary_and_scalars() -> None:
    assert deconstruct(["x", 1, None]) == (["x", 1, None], [])
    assert deconstruct(b"top") == (PH0, [b"top"])
    assert deconstruct(5) == (5, [])


def test_reconstruct_top_level_and_scalars() -> None:
    assert reconstruct({"_placeholder": True, "num": 0}, [b"a"]) == b"a"
    assert reconstruct("text", []) == "text"
    assert reconstruct([], []) == []
    with pytest.raises(RemoteProtocolError, match="binary attachment 0 is announced"):
        reconstruct("text", [b"a"])


def test_placeholder_lookalikes_are_plain_data() -> None:
    for value in (1, False, "true", None):
        lookalike = {"_placeholder": value, "num": 0}
        assert reconstruct(["x", lookalike, PH0], [b"a"]) == ["x", lookalike, b"a"]


def test_has_binary() -> None:
    assert not has_binary(["x", {"a": [1, "b"]}, None])
    assert has_binary(["x", {"a": [1, b""]}])
    assert has_binary((bytearray(),))
    assert has_binary({"k": memoryview(b"")})


def test_depth_limits() -> None:
    deep: Any = b"bin"
    for _ in range(MAX_DEPTH + 5):
        deep = [deep]
    with pytest.raises(LocalProtocolError, match="nested deeper than"):
        deconstruct(deep)
    with pytest.raises(LocalProtocolError, match="nested deeper than"):
        has_binary(deep)
    with pytest.raises(LocalProtocolError, match="nested deeper than"):
        JSONCodec().encode(P.event("x", deep))
    with pytest.raises(RemoteProtocolError, match="nested deeper than"):
        find_placeholders(deep, 1)
    shallow: Any = b"bin"
    for _ in range(MAX_DEPTH - 5):
        shallow = [shallow]
    assert roundtrip(P.event("x", shallow)) == P.event("x", shallow)


# -- the JavaScript socket.io-parser ------------------------------------------------------------------

# Recorded from node 20 with socket.io-parser 4.2.7 (new Encoder().encode(packet)), so the
# interop check also runs where node is not installed.
JS_RECORDED: list[tuple[list[str | bytes], SocketPacket]] = [
    (
        ['2["chat",{"user":"ann","text":"héllo"}]'],
        P.event("chat", {"user": "ann", "text": "héllo"}),
    ),
    (
        [
            '52-/admin,7["up",{"_placeholder":true,"num":0},[{"_placeholder":true,"num":1}]]',
            b"\x01\x02\x03",
            b"\x04\x05",
        ],
        P(T.EVENT, "/admin", ["up", b"\x01\x02\x03", [b"\x04\x05"]], 7),
    ),
    (
        ['61-15[{"_placeholder":true,"num":0}]', b"\x01\x02\x03"],
        P(T.ACK, "/", [b"\x01\x02\x03"], 15),
    ),
    (['0{"token":"123"}'], P.connect(data={"token": "123"})),
    (['2["x","\\ud800","\u2028","\\u001f\x7f"]'], P.event("x", "\ud800", "\u2028", "\x1f\x7f")),
]


@pytest.mark.parametrize(("parts", "packet"), JS_RECORDED)
def test_recorded_js_samples(parts: list[str | bytes], packet: SocketPacket) -> None:
    assert decode_all(parts) == packet
    assert JSONCodec().encode(packet) == parts


INTEROP_PACKETS = [
    P(T.CONNECT),
    P(T.CONNECT, "/admin", {"token": "123", "n": [1, 2.5, None, True]}),
    P(T.DISCONNECT, "/admin"),
    P(T.CONNECT_ERROR, data={"message": "Not authorized", "data": {"k": 1}}),
    P(T.CONNECT_ERROR, "/nope", "Unable to connect"),
    P.event("chat", {"user": "ann", "text": "héllo ☃ 𝄞"}),
    P.event("with-ack", 1, "two", [3], id=12, namespace="/chat"),
    P.event("esc", 'quote" backslash\\ nl\n tab\t \x00 \x7f \u2028', "a\ud800b"),
    P.ack(7, "ok", {"n": -1}),
    P.ack(2**53 - 1),
    P.event("bin", b"\x00\x01", {"nested": [b"", b"\xff" * 300]}, id=3),
    P.ack(15, "bar", b"\x01\x02\x03\x04", namespace="/admin"),
]


@pytest.mark.node
def test_js_decodes_our_encoding(js_parsers: Any) -> None:
    codec = JSONCodec()
    jobs = [
        {
            "parser": "json",
            "op": "decode",
            "messages": [js_parsers.message_to_wire(m) for m in codec.encode(p)],
        }
        for p in INTEROP_PACKETS
    ]
    for packet, result in zip(INTEROP_PACKETS, js_parsers.run(jobs), strict=True):
        assert result == {"packets": [js_parsers.packet_to_wire(packet)]}


@pytest.mark.node
def test_we_decode_js_encoding(js_parsers: Any) -> None:
    jobs = [
        {"parser": "json", "op": "encode", "packet": js_parsers.packet_to_wire(p)}
        for p in INTEROP_PACKETS
    ]
    codec = JSONCodec()
    for packet, result in zip(INTEROP_PACKETS, js_parsers.run(jobs), strict=True):
        parts = [js_parsers.message_from_wire(m) for m in result["parts"]]
        assert decode_all(parts) == packet
        # byte-for-byte the same encoding (no floats with exponents, no integer-like keys)
        assert codec.encode(packet) == parts


@pytest.mark.node
def test_js_and_we_reject_the_advisory_samples(js_parsers: Any) -> None:
    samples = ['2[{"toString":"foo"}]', "2[]", "2{}", '2"x"', "5-[]", '511-["x"]', '2["x"', "9"]
    jobs = [{"parser": "json", "op": "decode", "messages": [{"t": s}]} for s in samples]
    for sample, result in zip(samples, js_parsers.run(jobs), strict=True):
        assert "error" in result, sample
        with pytest.raises(RemoteProtocolError):
            JSONCodec().decoder().feed(sample)
    # CVE-2022-2421: the JavaScript parser fails once the attachment arrives; we fail at once.
    bad = '51-["x",{"_placeholder":true,"num":"splice"}]'
    (result,) = js_parsers.run(
        [{"parser": "json", "op": "decode", "messages": [{"t": bad}, {"b": "AA=="}]}]
    )
    assert "error" in result
    with pytest.raises(RemoteProtocolError):
        JSONCodec().decoder().feed(bad)


# -- python-socketio (the reference, used by Python clients) ------------------------------------


def test_python_socketio_packets_interoperate() -> None:
    packet_module = pytest.importorskip("socketio.packet")
    codec = JSONCodec()
    for packet in INTEROP_PACKETS:
        first, *attachments = codec.encode(packet)
        theirs = packet_module.Packet(encoded_packet=first)
        for attachment in attachments:
            theirs.add_attachment(attachment)
        assert theirs.packet_type in (packet.type, packet.type + 3)  # EVENT -> BINARY_EVENT
        assert (theirs.data, theirs.namespace or "/", theirs.id) == (
            packet.data,
            packet.namespace,
            packet.id,
        )
        encoded = packet_module.Packet(
            packet.type, data=packet.data, namespace=packet.namespace, id=packet.id
        ).encode()
        parts = encoded if isinstance(encoded, list) else [encoded]
        assert decode_all(parts) == packet
