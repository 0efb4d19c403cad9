"""Engine.IO v3 (``allow_eio3=True``): the pure wire forms, the reversed heartbeat on a fake
clock, and the server over raw HTTP and WebSocket on loopback.

The expected bytes are the ones the Node server (socket.io@4 with ``allowEIO3: true``) and
engine.io-parser's changelog give for the same packets: ``6:4hello4:4€€€``, the binary
payload ``00 06 ff 34 68 65 6c 6c 6f 01 04 ff 04 01 02 03``, a string record's length in
UTF-8 bytes in a binary payload (``00 05 06 ff`` for a 56-byte packet with ``ö`` and an
emoji) and in UTF-16 code units in a text payload (``53:451-["hello","wörld😀",…]``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
import websocket
from eio_support import TIMEOUT, EngineHarness, http, make_harness, serve_gevent, wait_for

from engineio_core import v3
from engineio_core.config import build_config
from engineio_core.encoded import EncodedMessage
from engineio_core.errors import RemoteProtocolError
from engineio_core.events import Closed, SendPong
from engineio_core.packets import EnginePacket, PacketType
from engineio_core.session import EngineSession
from tests.conftest import LogRecorder

MSG = PacketType.MESSAGE


# -- pure wire forms --------------------------------------------------------------------------
def test_text_payload_lengths_count_utf16_units() -> None:
    packets = [EnginePacket(MSG, "hello"), EnginePacket(MSG, "€€€")]
    assert v3.encode_text_payload([v3.text_segment(p) for p in packets]) == "6:4hello4:4€€€"
    node = '451-["hello","wörld😀",{"_placeholder":true,"num":0}]'
    assert v3.text_segment(EnginePacket(MSG, node[1:])) == "53:" + node  # as the Node server sent it
    assert v3.decode_text_payload("6:4hello4:4€€€", 0) == packets
    assert v3.decode_text_payload("53:" + node + "1:2", 0) == [EnginePacket(MSG, node[1:]), EnginePacket(PacketType.PING)]


def test_binary_payload_as_engine_io_parser_lays_it_out() -> None:
    packets = [EnginePacket(MSG, "hello"), EnginePacket(MSG, b"\x01\x02\x03")]
    wire = bytes.fromhex("0006ff3468656c6c6f0104ff04010203")
    assert v3.encode_binary_payload([v3.binary_record(p) for p in packets]) == wire
    assert v3.decode_binary_payload(wire, 0) == packets
    # A string record's length is its UTF-8 byte count (the Node server: 00 05 06 ff).
    node = '51-["hello","wörld😀",{"_placeholder":true,"num":0}]'
    assert v3.binary_record(EnginePacket(MSG, node))[:4] == b"\x00\x05\x06\xff"


def test_base64_binary_in_text_payloads() -> None:
    packet = EnginePacket(MSG, b"\t\x08")
    assert v3.text_segment(packet) == "6:b4CQg="  # the Node server's record with b64=1
    assert v3.decode_text_payload("6:b4CQg=", 0) == [packet]


def test_websocket_binary_frames_carry_the_type_byte() -> None:
    message = EncodedMessage.message(b"\x01\x02")
    assert message.v3.ws_payload() == b"\x04\x01\x02"
    assert message.ws_payload() == b"\x01\x02"  # the v4 form is untouched
    assert v3.decode_ws_binary(b"\x04\x01\x02") == b"\x01\x02"
    text = EncodedMessage.message("hi")
    assert text.v3.ws_frame() is text.ws_frame()  # text frames are shared by v3 and v4


def test_v3_forms_are_built_once_per_message() -> None:
    message = EncodedMessage.message(b"\x01\x02")
    assert message.v3 is message.v3
    assert message.v3.ws_frame() is message.v3.ws_frame()
    assert message.v3.polling_segment() is message.v3.polling_segment()
    assert message.v3.binary_record() is message.v3.binary_record()


@pytest.mark.parametrize("body", [
    "", "4hello", "x:4hello", "6:4hell", "0:", "1:", "2:b5AQ", "4:b4**", "99999999999:4",
    "1:9", "3:4é", "1:4\ud800",
])
def test_bad_text_payloads_are_remote_errors(body: str) -> None:
    with pytest.raises(RemoteProtocolError):
        v3.decode_text_payload(body, 0)


@pytest.mark.parametrize("body", [
    b"", b"\x02\x01\xff4", b"\x00\xff4", b"\x00\x0a\xff4", b"\x00\x05\xff4", b"\x01\x02\xff\x05\x01",
    b"\x00\x01", b"\x00\x02\xff\xc3(", b"\x00" + b"\x01" * 12 + b"\xff",
])
def test_bad_binary_payloads_are_remote_errors(body: bytes) -> None:
    with pytest.raises(RemoteProtocolError):
        v3.decode_binary_payload(body, 0)


def test_packet_count_limit() -> None:
    with pytest.raises(RemoteProtocolError, match="too many packets"):
        v3.decode_text_payload("1:21:21:2", 2)
    with pytest.raises(RemoteProtocolError, match="too many packets"):
        v3.decode_binary_payload(b"\x00\x01\xff2" * 3, 2)


def test_jsonp_unescapes_newlines_as_engine_io_does() -> None:
    assert v3.unescape_jsonp("4a\\nb") == "4a\nb"
    assert v3.unescape_jsonp("4a\\\\nb") == "4a\\\\nb"


# -- the heartbeat (fake clock) ---------------------------------------------------------------
def new_v3_session(now: float = 0.0) -> EngineSession:
    cfg = build_config({"ping_interval": 25, "ping_timeout": 20, "allow_eio3": True}, lambda m: None)
    return EngineSession("s", cfg, now, protocol=3)


def test_v3_client_pings_are_answered_and_move_the_deadline() -> None:
    session = new_v3_session()
    assert session.next_deadline() == 45.0  # ping_interval + ping_timeout
    assert session.on_timer(44.9) is None  # the server never pings a v3 client
    assert session.receive(EnginePacket(PacketType.PING), 30.0) == SendPong()
    assert session.next_deadline() == 75.0
    assert session.on_timer(74.0) is None
    assert session.on_timer(75.0) == Closed("ping timeout")


def test_v3_heartbeat_direction_is_enforced() -> None:
    with pytest.raises(RemoteProtocolError):
        new_v3_session().receive(EnginePacket(PacketType.PONG), 1.0)
    cfg = build_config({}, lambda m: None)
    with pytest.raises(RemoteProtocolError):  # a v4 client never pings
        EngineSession("s", cfg, 0.0).receive(EnginePacket(PacketType.PING), 1.0)


# -- the server -------------------------------------------------------------------------------
@pytest.fixture()
def v3_server() -> Iterator[tuple[EngineHarness, int]]:
    harness = make_harness(async_mode="gevent", allow_eio3=True)
    with serve_gevent(harness.app) as served:
        yield harness, served.port


def v3_handshake(port: int, extra: str = "") -> str:
    resp = http(port, "GET", "EIO=3&transport=polling" + extra)
    assert resp.status == 200, resp.body
    length, _, packet = resp.text.partition(":")
    assert int(length) == len(packet) and packet.startswith("0"), resp.text
    sid: str = json.loads(packet[1:])["sid"]
    return sid


def test_without_the_option_v3_is_refused_and_the_log_names_the_option() -> None:
    log = LogRecorder()
    logger = logging.getLogger("engineio_core")
    logger.addHandler(log)
    try:
        harness = make_harness(async_mode="gevent")
        with serve_gevent(harness.app) as served:
            resp = http(served.port, "GET", "EIO=3&transport=polling")
    finally:
        logger.removeHandler(log)
    assert resp.status == 400
    assert resp.json() == {"code": 5, "message": "Unsupported protocol version"}  # Node's body
    errors = [m for level, m in log.records if level == logging.ERROR]
    assert len(errors) == 1 and "allow_eio3=True" in errors[0], log.records


def test_v3_polling_ping_pong_and_text_payloads(v3_server: tuple[EngineHarness, int]) -> None:
    harness, port = v3_server
    sid = v3_handshake(port)
    q = f"EIO=3&transport=polling&sid={sid}"
    # A ping and two messages in one POST; the echo harness answers each message.
    body = "1:2" + v3.text_segment(EnginePacket(MSG, "wörld😀")) + "2:4x"
    assert http(port, "POST", q, body).text == "ok"
    harness.wait(lambda: len(harness.messages) == 2)
    assert [m for _, m in harness.messages] == ["wörld😀", "x"]
    resp = http(port, "GET", q)
    assert resp.headers["content-type"] == "text/plain; charset=UTF-8"
    assert resp.text == "1:3" + "8:4wörld😀" + "2:4x"


def test_v3_binary_payloads_both_ways(v3_server: tuple[EngineHarness, int]) -> None:
    harness, port = v3_server
    sid = v3_handshake(port)
    q = f"EIO=3&transport=polling&sid={sid}"
    body = bytes.fromhex("0006ff3468656c6c6f0104ff04010203")
    resp = http(port, "POST", q, body, headers={"Content-Type": "application/octet-stream"})
    assert (resp.status, resp.text) == (200, "ok")
    harness.wait(lambda: len(harness.messages) == 2)
    resp = http(port, "GET", q)
    assert resp.headers["content-type"] == "application/octet-stream"
    assert resp.body == body  # echoed in the same layout


def test_v3_base64_client_gets_text_payloads(v3_server: tuple[EngineHarness, int]) -> None:
    harness, port = v3_server
    sid = v3_handshake(port, "&b64=1")
    q = f"EIO=3&transport=polling&b64=1&sid={sid}"
    assert http(port, "POST", q, "6:b4CQg=").text == "ok"
    harness.wait(lambda: len(harness.messages) == 1)
    assert harness.messages[0][1] == b"\t\x08"
    resp = http(port, "GET", q)
    assert (resp.headers["content-type"], resp.text) == ("text/plain; charset=UTF-8", "6:b4CQg=")


def test_v3_jsonp(v3_server: tuple[EngineHarness, int]) -> None:
    harness, port = v3_server
    page = {"Referer": f"http://127.0.0.1:{port}/chat.html"}  # the server's own page (issue 21 #3)
    resp = http(port, "GET", "EIO=3&transport=polling&j=2", headers=page)
    assert resp.text.startswith('___eio[2]("') and resp.text.endswith('");'), resp.text
    payload = json.loads(resp.text[len("___eio[2]("):-2])
    sid = json.loads(payload.partition(":")[2][1:])["sid"]
    q = f"EIO=3&transport=polling&j=2&sid={sid}"
    form = "d=" + "4%3A4a%5Cnb"  # "4:4a\\nb": the client writes a newline as backslash-n
    resp = http(port, "POST", q, form, headers={"Content-Type": "application/x-www-form-urlencoded", **page})
    assert (resp.status, resp.text) == (200, "ok")
    harness.wait(lambda: len(harness.messages) == 1)
    assert harness.messages[0][1] == "a\nb"
    resp = http(port, "GET", q, headers=page)
    assert resp.text == '___eio[2]("4:4a\\nb");'


def test_v4_session_still_refuses_binary_posts_and_pings(v3_server: tuple[EngineHarness, int]) -> None:
    harness, port = v3_server
    resp = http(port, "GET", "EIO=4&transport=polling")
    sid = json.loads(resp.text[1:])["sid"]
    resp = http(port, "POST", f"EIO=4&transport=polling&sid={sid}", "2")
    assert resp.status == 400
    assert harness.wait_disconnect(sid)[0] == "transport error"


def test_v3_websocket_upgrade_binary_and_pings(v3_server: tuple[EngineHarness, int]) -> None:
    harness, port = v3_server
    sid = v3_handshake(port)
    ws = websocket.create_connection(
        f"ws://127.0.0.1:{port}/engine.io/?EIO=3&transport=websocket&sid={sid}", timeout=TIMEOUT)
    try:
        ws.send("2probe")
        assert ws.recv() == "3probe"
        ws.send("5")
        wait_for(lambda: harness.eio.transport(sid) == "websocket")
        ws.send("2")
        assert ws.recv() == "3"
        ws.send_binary(b"\x04\x01\x02")
        assert ws.recv() == b"\x04\x01\x02"
        assert harness.messages[-1][1] == b"\x01\x02"
    finally:
        ws.close()


def test_v3_websocket_session_binary_echo(v3_server: tuple[EngineHarness, int]) -> None:
    harness, port = v3_server
    ws = websocket.create_connection(f"ws://127.0.0.1:{port}/engine.io/?EIO=3&transport=websocket",
                                     timeout=TIMEOUT)
    try:
        opening: Any = ws.recv()
        assert opening.startswith("0{")
        ws.send_binary(b"\x04\x01\x02")
        assert ws.recv() == b"\x04\x01\x02"  # echoed as a v3 frame, type byte first
        harness.wait(lambda: len(harness.messages) == 1)
        assert harness.messages[0][1] == b"\x01\x02"
        ws.send("4hi")
        assert ws.recv() == "4hi"
        ws.send_binary(b"\x02\x01")  # a binary PING: not a MESSAGE, a protocol error
        sid = json.loads(opening[1:])["sid"]
        assert harness.wait_disconnect(sid)[0] == "transport error"
    finally:
        ws.close()


def test_v3_bad_second_binary_frame_in_one_write_is_refused(v3_server: tuple[EngineHarness, int]) -> None:
    """Issue 21 #7: two binary frames in one TCP write, a MESSAGE then a binary PING: the
    first is delivered, the second closes the session (every frame of a read is checked,
    not the first only)."""
    harness, port = v3_server
    ws = websocket.create_connection(f"ws://127.0.0.1:{port}/engine.io/?EIO=3&transport=websocket",
                                     timeout=TIMEOUT)
    try:
        opening: Any = ws.recv()
        sid = json.loads(opening[1:])["sid"]
        frames = [websocket.ABNF.create_frame(data, websocket.ABNF.OPCODE_BINARY).format()
                  for data in (b"\x04\x01", b"\x02\x01")]
        ws.sock.sendall(b"".join(frames))
        assert harness.wait_disconnect(sid)[0] == "transport error"
        assert [m[1] for m in harness.messages] == [b"\x01"]
    finally:
        ws.close()
