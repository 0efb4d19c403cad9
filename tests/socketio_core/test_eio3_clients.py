"""socket.io-client@2 (Engine.IO v3 / Socket.IO v4) on a server with ``allow_eio3=True``, next
to socket.io-client@4 in the same room (tests/node/sio_v2_mixed.js), and the encode-once rule
per protocol revision, seen on raw WebSockets."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import websocket
from server_helpers import TIMEOUT, build_app, serve_gevent

import engineio_core.v3
from socketio_core.server.server import SocketServer
from tests.conftest import run_node

pytestmark = pytest.mark.node


@pytest.fixture(scope="module")
def v3_app() -> Iterator[tuple[SocketServer, str]]:
    sio, app, _rec = build_app(allow_eio3=True)
    with serve_gevent(app) as served:
        yield sio, served.url


def test_socket_io_client_2_next_to_client_4(v3_app: tuple[SocketServer, str]) -> None:
    _sio, url = v3_app
    r = run_node("sio_v2_mixed.js", {"url": url, "timeoutMs": 30000}, timeout=60)
    assert r["ok"], r
    # Connected by polling (the implicit "/" connect), then upgraded.
    assert (r["oldConnect"], r["oldFirstTransport"], r["oldUpgradedTo"], r["oldTransport"]) == (
        "connect", "polling", "websocket", "websocket")
    assert r["oldWelcome"] and "sid" in r["oldWelcome"][0]  # emitted by the connect handler
    # The server's sid for a v4 client is the one the client sees (its Engine.IO sid), as Node.
    assert r["oldWelcome"][0]["sid"] == r["oldId"], (r["oldWelcome"], r["oldId"])
    assert r["oldEcho"] == ["hi", 1, {"a": [True, None]}]
    assert r["oldBinEcho"] == [{"$bin": "AQID/w=="}, {"$bin": "AHNydg=="}]
    assert "mixed" in r["oldJoin"][0] and "mixed" in r["v4Join"][0]
    assert r["oldShout"] == r["oldShoutBinary"] == r["v4Shout"] == r["v4ShoutBinary"] == ["ok"]
    # Both clients got the room's broadcasts, text and binary, in order.
    expected = [["from old"], [{"raw": {"$bin": "BwAH"}}], ["from v4"], [{"$bin": "BAQ="}]]
    assert r["oldRoom"] == expected
    assert r["v4Room"] == expected
    # Polling only: binary both ways over v3 polling payloads.
    assert r["pollTransport"] == "polling"
    assert r["pollBinEcho"] == [{"$bin": "CQgH"}, {"$bin": "AHNydg=="}]
    assert r["pollRoom"] == [[{"$bin": "BAQ="}]]
    # Socket.IO v4 forms: a refusal's data as the error, a namespace connect and ack.
    assert r["refused"] == ["error", {"k": 1}]
    assert r["chatEcho"] == ["chat", "x"]


class RawV3:
    """A hand-written Engine.IO v3 WebSocket client: OPEN, then the server's implicit ``40``."""

    def __init__(self, base: str, eio: int) -> None:
        url = base.replace("http://", "ws://") + f"/socket.io/?EIO={eio}&transport=websocket"
        self.ws = websocket.create_connection(url, timeout=TIMEOUT)
        opening: Any = self.ws.recv()
        assert opening.startswith("0{"), opening
        if eio == 4:
            self.ws.send("40")
        connect: Any = self.ws.recv()
        assert connect == "40" if eio == 3 else connect.startswith('40{"sid"'), connect
        welcome: Any = self.ws.recv()
        assert welcome.startswith('42["welcome"'), welcome

    def recv(self) -> Any:
        return self.ws.recv()


def test_a_broadcast_encodes_once_per_protocol_revision(
    v3_app: tuple[SocketServer, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    sio, url = v3_app
    clients = [RawV3(url, 3), RawV3(url, 3), RawV3(url, 4), RawV3(url, 4)]
    encodes: list[Any] = []
    v3_frames: list[bytes] = []
    codec_class = type(sio.codec)
    real_encode = codec_class.encode
    real_ws_binary = engineio_core.v3.ws_binary

    def counting_encode(self: Any, packet: Any) -> Any:
        encodes.append(packet)
        return real_encode(self, packet)

    def counting_ws_binary(data: bytes) -> bytes:
        v3_frames.append(data)
        return real_ws_binary(data)

    monkeypatch.setattr(codec_class, "encode", counting_encode)  # the server's codec: once per packet
    monkeypatch.setattr(engineio_core.v3, "ws_binary", counting_ws_binary)
    try:
        sio.emit("blob", b"\x01\x02")  # everyone in "/": two v3, two v4 clients (and no one else)
        got = [(c.recv(), c.recv()) for c in clients]
    finally:
        for c in clients:
            c.ws.close()
    head = '451-["blob",{"_placeholder":true,"num":0}]'
    assert got == [(head, b"\x04\x01\x02")] * 2 + [(head, b"\x01\x02")] * 2
    assert len(encodes) == 1  # the Socket.IO packet: once for both revisions
    assert v3_frames == [b"\x01\x02"]  # the v3 binary frame: once for both v3 clients
    assert json.loads(head[4:])[0] == "blob"
