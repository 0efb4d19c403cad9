"""Issue 11 item 4: the packets of the connect path go out as separate writes, as the Node
server sends them (strace of node_modules/socket.io: the 101 head, the OPEN packet, the CONNECT
ack and the connect handler's emit are four write/writev calls). Clients that handle one frame
per read event lost the frames coalesced behind the CONNECT ack. Fan-out stays coalesced.

Deterministic: the server's socket writes are recorded (the writer's raw socket is wrapped),
so the assertion is on what the server handed the kernel in each call, not on how TCP
happened to split it on the way.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hard_support import RawWS, sio_env

from engineio_core.drivers import gevent_driver


class RecordingSocket:
    """Delegates to a raw socket; records what each ``send`` call was given."""

    def __init__(self, raw: Any, log: list[bytes]) -> None:
        self._raw = raw
        self._log = log

    def send(self, data: Any, *args: Any) -> int:
        sent: int = self._raw.send(data, *args)
        self._log.append(bytes(data)[:sent])
        return sent


@pytest.fixture
def sends(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[list[bytes]]]:
    """Every WebSocket writer's send calls, one list per writer."""
    logs: list[list[bytes]] = []
    original = gevent_driver.GeventWriter.__init__

    def init(self: Any, sock: Any, *args: Any) -> None:
        original(self, sock, *args)
        log: list[bytes] = []
        logs.append(log)
        if self._raw is not None:
            self._raw = RecordingSocket(self._raw, log)

    monkeypatch.setattr(gevent_driver.GeventWriter, "__init__", init)
    yield logs


def _index(log: list[bytes], fragment: bytes) -> int:
    found = [i for i, data in enumerate(log) if fragment in data]
    assert len(found) == 1, (fragment, log)
    return found[0]


def test_connect_path_packets_are_separate_writes(sends: list[list[bytes]]) -> None:
    with sio_env(bystander=False) as env:
        env.sio.on("connect", lambda sid, environ, auth: env.sio.emit("welcome", 1, to=sid))
        client = RawWS(env.port)
        client.open()
        client.send_text("40")
        # The client reads frame by frame, as a `ws`-based client handles one message per event.
        assert client.recv_message().startswith('40{"sid":')  # type: ignore[union-attr]
        assert client.recv_message() == '42["welcome",1]'
        client.close()
    [log] = sends
    head = _index(log, b"HTTP/1.1 101 Switching Protocols")
    open_ = _index(log, b'"upgrades":[]')
    ack = _index(log, b'40{"sid":')
    welcome = _index(log, b'42["welcome",1]')
    assert head < open_ < ack < welcome, log


def test_fan_out_is_still_coalesced(sends: list[list[bytes]]) -> None:
    """A burst of broadcasts in one loop pass is one write per recipient."""
    with sio_env(bystander=False) as env:
        client = RawWS(env.port)
        client.sio_connect()
        before = len(sends[0])

        def burst() -> None:
            for i in range(20):
                env.sio.emit("tick", i)

        env.sio.eio.driver.call_in_loop(burst)
        for i in range(20):
            assert client.recv_message() == f'42["tick",{i}]'
        client.close()
    burst_sends = [data for data in sends[0][before:] if b"tick" in data]
    assert len(burst_sends) == 1, burst_sends
