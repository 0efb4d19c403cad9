"""Malformed WebSocket input at the raw-socket level, against a running Socket.IO server.

Every frame here is written byte by byte after a hand-made upgrade (`hard_support.RawWS`), so
the tests can send what no client library would. For each: the exact close code the server
answers with (RFC 6455 §7.4.1: 1002 protocol error, 1007 invalid data, 1009 too big), the
Engine.IO disconnect reason, the Socket.IO state of the offender gone, and a bystander that
connected beforehand still served (CVE-2022-21676: one bad frame must never take the server
or anyone else down).

The existing tests/engineio_core/test_websocket_transport.py covers a handful of these with a
library client; this is the complete table, on the Socket.IO stack.
"""

from __future__ import annotations

import socket
import struct
import zlib
from collections.abc import Iterator

import pytest
from hard_support import RawWS, SioEnv, frame, sio_env, wait_for

LIMIT = 10_000
DEFLATE = {"Sec-WebSocket-Extensions": "permessage-deflate"}


@pytest.fixture(scope="module")
def env() -> Iterator[SioEnv]:
    with sio_env(max_http_buffer_size=LIMIT, websocket_compression=True) as e:
        yield e


def offender(env: SioEnv, headers: dict[str, str] | None = None) -> RawWS:
    ws = RawWS(env.port, headers=headers)
    ws.sio_connect()
    return ws


def assert_dropped(env: SioEnv, ws: RawWS, code: int | None, reason: str) -> None:
    """The server closed `ws` with `code`, forgot it at both layers, and still serves others."""
    try:
        assert ws.expect_close() == code
        assert env.eio_disconnect_reason(ws.eio_sid or "") == reason
        wait_for(lambda: ws.eio_sid not in env.sio._clients, timeout=5)
        assert not env.sio.eio.is_connected(ws.eio_sid or "")
    finally:
        ws.close()
    env.assert_served()


def deflated(data: bytes) -> bytes:
    """A permessage-deflate payload (RFC 7692 §7.2.1: the trailing 00 00 ff ff removed)."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    out = c.compress(data) + c.flush(zlib.Z_SYNC_FLUSH)
    assert out.endswith(b"\x00\x00\xff\xff")
    return out[:-4]


# -- protocol errors: close 1002 ------------------------------------------------------------------

PROTOCOL_ERRORS = [
    pytest.param(frame(0x1, b"42[]", rsv=4), id="rsv1-without-extension"),
    pytest.param(frame(0x1, b"42[]", rsv=2), id="rsv2-CVE-2022-21676"),
    pytest.param(frame(0x1, b"42[]", rsv=1), id="rsv3-CVE-2022-21676"),
    pytest.param(frame(0x1, b"4", fin=False) + frame(0x0, b"2", rsv=3), id="rsv2-rsv3-on-continuation"),
    pytest.param(frame(0x9, b"", rsv=2), id="rsv2-on-ping"),
    *[pytest.param(frame(op, b"x"), id=f"reserved-opcode-{op:#x}") for op in (3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF)],
    pytest.param(frame(0x1, b"40", mask=None), id="unmasked-client-frame"),
    pytest.param(frame(0x9, b"p", fin=False), id="fragmented-ping"),
    pytest.param(frame(0xA, b"p", fin=False), id="fragmented-pong"),
    pytest.param(frame(0x8, b"\x03\xe8", fin=False), id="fragmented-close"),
    pytest.param(frame(0x9, b"p" * 126), id="ping-over-125-bytes"),
    pytest.param(frame(0x0, b"orphan"), id="continuation-without-start"),
    pytest.param(frame(0x1, b"4", fin=False) + frame(0x1, b"2"), id="new-message-inside-fragmented-one"),
    pytest.param(frame(0x8, b"\x03"), id="close-with-1-byte-payload"),
    *[pytest.param(frame(0x8, code.to_bytes(2, "big")), id=f"close-code-{code}")
      for code in (0, 999, 1004, 1005, 1006, 1015, 2999, 5000, 65535)],
]


@pytest.mark.parametrize("raw", PROTOCOL_ERRORS)
def test_protocol_error_closes_with_1002(env: SioEnv, raw: bytes) -> None:
    ws = offender(env)
    ws.send_raw(raw)
    assert_dropped(env, ws, 1002, "transport error")


# -- invalid data: close 1007 -------------------------------------------------------------------------

INVALID_DATA = [
    pytest.param(frame(0x1, b"4\xc3\x28"), id="invalid-utf8"),
    pytest.param(frame(0x1, b"4\xc0\xaf"), id="overlong-utf8"),
    pytest.param(frame(0x1, b"4\xed\xa0\x80"), id="utf8-surrogate"),
    pytest.param(frame(0x1, b"4\xf4\x90\x80\x80"), id="utf8-above-U+10FFFF"),
    pytest.param(frame(0x1, b"42[\"\xc3", fin=False) + frame(0x0, b"\x28\"]"), id="invalid-utf8-across-fragments"),
    pytest.param(frame(0x8, b"\x03\xe8\xff\xfe"), id="close-reason-invalid-utf8"),
]


@pytest.mark.parametrize("raw", INVALID_DATA)
def test_invalid_text_closes_with_1007(env: SioEnv, raw: bytes) -> None:
    ws = offender(env)
    ws.send_raw(raw)
    assert_dropped(env, ws, 1007, "transport error")


# -- size limits: close 1009, before buffering ------------------------------------------------------


@pytest.mark.parametrize("length", [LIMIT + 1, 2**31, 2**40, 2**63 - 1])
@pytest.mark.parametrize("opcode", [0x1, 0x2])
def test_frame_header_announcing_too_much_is_refused_at_once(env: SioEnv, opcode: int, length: int) -> None:
    """CVE-2026-48809: the header alone is refused (1009): the payload is never sent here, so
    a server that waited for it (or tried to buffer it) would time this test out."""
    ws = offender(env)
    ws.send_raw(frame(opcode, b"", length=length) + b"4x")
    assert_dropped(env, ws, 1009, "transport error")


def test_frame_length_with_the_most_significant_bit_set(env: SioEnv) -> None:
    """RFC 6455 §5.2: "the most significant bit MUST be 0" in a 64-bit length."""
    ws = offender(env)
    ws.send_raw(frame(0x2, b"", length=2**64 - 1) + b"4x")
    assert_dropped(env, ws, 1002, "transport error")


def test_oversize_message_in_many_fragments(env: SioEnv) -> None:
    """The limit is per message: 101 fragments of 100 bytes are one message of 10 100 bytes."""
    ws = offender(env)
    raw = frame(0x1, b'42["' + b"a" * 96, fin=False)
    raw += b"".join(frame(0x0, b"a" * 100, fin=False) for _ in range(100))
    ws.send_raw(raw)
    assert_dropped(env, ws, 1009, "transport error")


def test_oversize_message_in_one_byte_fragments(env: SioEnv) -> None:
    ws = offender(env)
    ws.send_raw(frame(0x2, b"\x00", fin=False) + b"".join(frame(0x0, b"\x01", fin=False) for _ in range(LIMIT)))
    assert_dropped(env, ws, 1009, "transport error")


def test_message_exactly_at_the_limit_is_accepted(env: SioEnv) -> None:
    ws = offender(env)
    head, tail = b'21["echo","', b'"]'
    body = b"x" * (LIMIT - 1 - len(head) - len(tail))  # + the Engine.IO type byte "4"
    ws.send_frame(0x1, b"4" + head + body[:5000], fin=False)
    ws.send_frame(0x0, body[5000:] + tail)
    assert ws.recv_message() == '431["' + "x" * len(body) + '"]'
    ws.close()
    env.assert_served()


def test_deflate_bomb_closes_with_1009(env: SioEnv) -> None:
    """50 MB of zeros deflate to ~50 KB; inflation stops one byte past the 10 KB limit."""
    ws = offender(env, DEFLATE)
    assert ws.response.headers.get("sec-websocket-extensions", "").startswith("permessage-deflate")
    bomb = deflated(b'42["echo","' + b"\x00" * 50_000_000 + b'"]')
    assert len(bomb) < 60_000
    ws.send_frame(0x1, bomb, rsv=4)
    assert_dropped(env, ws, 1009, "transport error")


def test_deflate_bomb_in_fragments_closes_with_1009(env: SioEnv) -> None:
    ws = offender(env, DEFLATE)
    bomb = deflated(b"\x00" * 5_000_000)
    pieces = [bomb[i:i + 1000] for i in range(0, len(bomb), 1000)]
    raw = frame(0x2, pieces[0], fin=False, rsv=4)
    raw += b"".join(frame(0x0, p, fin=False) for p in pieces[1:])
    ws.send_raw(raw)
    assert_dropped(env, ws, 1009, "transport error")


def test_invalid_deflate_stream_closes_with_1007(env: SioEnv) -> None:
    ws = offender(env, DEFLATE)
    ws.send_frame(0x1, b"\xff\xff\xff\xff\xff", rsv=4)
    assert_dropped(env, ws, 1007, "transport error")


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(frame(0x9, b"p", rsv=4), id="compressed-ping"),
        pytest.param(frame(0x1, deflated(b"4"), fin=False, rsv=4) + frame(0x0, deflated(b"2"), rsv=4),
                     id="rsv1-on-continuation"),
    ],
)
def test_deflate_misuse_closes_with_1002(env: SioEnv, raw: bytes) -> None:
    ws = offender(env, DEFLATE)
    ws.send_raw(raw)
    assert_dropped(env, ws, 1002, "transport error")


def test_compressed_messages_within_the_limit_work(env: SioEnv) -> None:
    """The control case for the deflate tests: what a browser sends is accepted."""
    ws = offender(env, DEFLATE)
    ws.send_frame(0x1, deflated(b'421["echo","' + b"z" * 5000 + b'"]'), rsv=4)
    assert ws.recv_message() == '431["' + "z" * 5000 + '"]'
    ws.close()
    env.assert_served()


# -- closing handshakes ----------------------------------------------------------------------------


def test_close_frame_without_a_code(env: SioEnv) -> None:
    """RFC 6455 §5.5.1: the body is optional; the answer echoes an empty close."""
    ws = offender(env)
    ws.send_frame(0x8, b"")
    assert_dropped(env, ws, 1005, "transport close")


@pytest.mark.parametrize("code", [1000, 1001, 3000, 4999])
def test_close_frame_with_a_valid_code_is_echoed(env: SioEnv, code: int) -> None:
    ws = offender(env)
    ws.send_frame(0x8, code.to_bytes(2, "big") + "au revoir é".encode())
    assert_dropped(env, ws, code, "transport close")


def test_peer_vanishing_mid_frame(env: SioEnv) -> None:
    """Half a header, then a reset: the session ends as a transport close."""
    ws = offender(env)
    ws.send_raw(frame(0x1, b'42["echo"]')[:3])
    eio_sid = ws.eio_sid or ""
    ws.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # RST
    ws.close()
    assert env.eio_disconnect_reason(eio_sid) == "transport close"
    env.assert_served()


# -- legal but unusual: the connection stays ----------------------------------------------------------


def test_control_frames_between_fragments_and_byte_by_byte_delivery(env: SioEnv) -> None:
    """RFC 6455 §5.4: control frames may be injected between fragments; and a frame may
    arrive one byte at a time (a slow but honest peer)."""
    ws = offender(env)
    raw = frame(0x1, b'421["ec', fin=False) + frame(0x9, b"ping!") + frame(0x0, b'ho","fr\xc3', fin=False)
    raw += frame(0xA, b"unsolicited pong") + frame(0x0, b'\xa9"]')
    for i in range(len(raw)):
        ws.send_raw(raw[i:i + 1])
    fin, opcode, payload = ws.recv_frame()
    assert (fin, opcode, payload) == (True, 0xA, b"ping!")
    assert ws.recv_message() == '431["fré"]'
    assert env.sio.eio.is_connected(ws.eio_sid or "")
    ws.close()
    env.assert_served()
