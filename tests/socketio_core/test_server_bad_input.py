"""Bad input from raw Engine.IO clients: the §4 advisories that reach the Socket.IO layer.

Every case is sent by an "offender" speaking Engine.IO by hand, over WebSocket
(websocket-client) and over long-polling (requests). Each test checks three things:

* the offender is dealt with: an invalid packet closes its connection (the spec: "the server
  MUST close the connection"), its WebSocket closes / its next polls end in 400; a reserved
  event name is ignored and the offender stays connected;
* the server logs why (records of the ``socketio_core`` logger, from the server's thread);
* a bystander connected before the offence still gets its messages afterwards, both an ack
  to its own event and an emit the server starts.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import msgpack
import pytest
from server_helpers import (
    PEER_CLOSED_ERRORS,
    LogRecorder,
    RawPolling,
    RawWebSocket,
    Recorder,
    capture_logs,
    make_server,
    serve_gevent,
    wait_for,
)

from socketio_core import RESERVED_EVENTS
from socketio_core.server.server import SocketServer

Offender = RawWebSocket | RawPolling


@dataclass
class Env:
    sio: SocketServer
    rec: Recorder
    port: int


def build(**options: Any) -> tuple[SocketServer, Any, Recorder]:
    sio, app = make_server(**options)
    rec = Recorder()

    @sio.on("connect")
    def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
        rec.add("connect", sid, auth)

    @sio.on("disconnect")
    def disconnect(sid: str, reason: str) -> None:
        rec.add("disconnect", sid, reason)

    @sio.on("echo")
    def echo(sid: str, *args: Any) -> Any:
        return args

    @sio.on("bin")
    def binary(sid: str, *args: Any) -> Any:
        rec.add("bin", sid, args)
        return "got it"

    @sio.on("error")  # not reserved on the server: an ordinary event (CVE-2024-38355 was a crash)
    def error(sid: str, *args: Any) -> str:
        rec.add("error_event", sid, args)
        return "error handled"

    for name in RESERVED_EVENTS - {"connect", "disconnect"}:
        sio.on(name, lambda sid, *args, _name=name: rec.add("reserved_called", _name, sid, args))

    @sio.on("*")
    def catch_all(event: str, sid: str, *args: Any) -> None:
        rec.add("catch_all", event, sid, args)

    @sio.on("connect", namespace="/chat")
    def chat_connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
        rec.add("chat_connect", sid)

    @sio.on("echo", namespace="/chat")
    def chat_echo(sid: str, *args: Any) -> Any:
        rec.add("chat_echo", sid, args)
        return args

    return sio, app, rec


@pytest.fixture(scope="module")
def env() -> Iterator[Env]:
    sio, app, rec = build()
    with serve_gevent(app) as srv:
        yield Env(sio, rec, srv.port)


@pytest.fixture
def logs() -> Iterator[LogRecorder]:
    with capture_logs() as handler:
        yield handler


@pytest.fixture(params=["websocket", "polling"])
def transport(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def open_client(env: Env, transport: str) -> Offender:
    return RawWebSocket(env.port) if transport == "websocket" else RawPolling(env.port)


@pytest.fixture
def bystander(env: Env) -> Iterator[tuple[RawWebSocket, str]]:
    client = RawWebSocket(env.port)
    sid = client.connect(auth={"who": "bystander"})
    yield client, sid
    client.close()


def assert_served(env: Env, bystander: tuple[RawWebSocket, str]) -> None:
    """The bystander still works both ways."""
    client, sid = bystander
    client.send('27["echo","after"]')
    assert client.expect() == '37["after"]'
    env.sio.emit("news", {"still": "here"}, to=sid)
    assert client.expect() == '2["news",{"still":"here"}]'


def assert_closed(env: Env, offender: Offender) -> None:
    """The server closed the offender's connection and forgot its Socket.IO state."""
    offender.wait_closed()
    wait_for(lambda: offender.eio_sid not in env.sio._clients, timeout=5)
    assert not env.sio.eio.is_connected(offender.eio_sid)


def assert_alive(offender: Offender) -> None:
    offender.send('29["echo","alive"]')
    assert expect(offender) == '39["alive"]'


def expect(client: Offender) -> str | bytes:
    """The next Socket.IO message of a raw client (polling: the first of the next poll)."""
    if isinstance(client, RawWebSocket):
        return client.expect()
    got = client.messages()
    assert got, "empty poll"
    return got[0]


def placeholder(num: Any) -> str:
    return json.dumps({"_placeholder": True, "num": num}, separators=(",", ":"))


# -- invalid packets close the connection ----------------------------------------------------

INVALID = [
    # CVE-2023-32695: bad event-name formats.
    pytest.param('2[{"toString":"foo"}]', "EVENT name must be a string", id="name-is-object"),
    pytest.param("2[]", "non-empty array", id="empty-array"),
    pytest.param("2{}", "must be an array", id="object-payload"),
    pytest.param('2"x"', "must be an array", id="string-payload"),
    pytest.param("2[1]", "EVENT name must be a string", id="name-is-number"),
    pytest.param("2[null]", "EVENT name must be a string", id="name-is-null"),
    pytest.param("21", "EVENT packet without payload", id="event-without-payload"),
    # Unknown packet types, and CONNECT_ERROR, which only a server may send.
    pytest.param("9", "unknown packet type", id="type-9"),
    pytest.param("7[]", "unknown packet type", id="type-7"),
    pytest.param('4{"message":"x"}', "unexpected CONNECT_ERROR", id="connect-error-from-client"),
    pytest.param('4/chat,{"message":"x"}', "unexpected CONNECT_ERROR", id="connect-error-nsp"),
    # CVE-2022-2421: placeholders that are not an index of an announced attachment.
    pytest.param(f'51-["x",{placeholder("splice")}]', '"num" must be an integer', id="num-splice"),
    pytest.param(f'51-["x",{placeholder(-1)}]', '"num" -1 out of range', id="num-minus-1"),
    pytest.param(f'51-["x",{placeholder(99)}]', '"num" 99 out of range', id="num-99"),
    pytest.param(f'51-["x",{placeholder(1.5)}]', '"num" must be an integer', id="num-float"),
    pytest.param(f'51-["x",{placeholder(True)}]', '"num" must be an integer', id="num-true"),
    pytest.param('51-["x"]', "no placeholder references it", id="attachment-unreferenced"),
    # CVE-2026-33151 / CVE-2026-48804: attachment count floods.
    pytest.param(f'5999999999-["x",{placeholder(0)}]', "too many attachments", id="count-10-digits"),
    pytest.param(
        "511-[" + ",".join(placeholder(i) for i in range(11)) + "]", "too many attachments: 11", id="count-11"
    ),
    pytest.param("50-[\"x\"]", "at least one attachment", id="count-0"),
    pytest.param('5["x"]', "must announce its attachments", id="binary-without-count"),
    # Malformed in other ways.
    pytest.param('2["x"', "invalid JSON payload", id="truncated-json"),
    pytest.param("2[NaN]", "invalid JSON payload", id="nan"),
    pytest.param("", "empty packet", id="empty"),
    pytest.param("3", "ACK packet without an ack id", id="ack-without-id"),
    pytest.param("0[1]", "CONNECT payload must be an object", id="connect-array-auth"),
    pytest.param("1[1]", "DISCONNECT packet must not carry a payload", id="disconnect-with-payload"),
    pytest.param("2" + "[" * 100_000 + "]" * 100_000, "invalid JSON payload", id="deep-nesting"),
]


@pytest.mark.parametrize(("packet", "reason"), INVALID)
def test_invalid_packet_closes_the_offender(
    env: Env, logs: LogRecorder, bystander: tuple[RawWebSocket, str], transport: str, packet: str, reason: str
) -> None:
    offender = open_client(env, transport)
    offender.connect(auth={"who": "offender"})
    offender.send(packet)
    assert_closed(env, offender)
    logs.wait_for(offender.eio_sid, "invalid packet", reason)
    assert_served(env, bystander)


@pytest.mark.parametrize(("packet", "reason"), INVALID[:6])
def test_invalid_packet_before_connect_closes_the_offender(
    env: Env, logs: LogRecorder, bystander: tuple[RawWebSocket, str], transport: str, packet: str, reason: str
) -> None:
    offender = open_client(env, transport)
    offender.send(packet)
    assert_closed(env, offender)
    logs.wait_for(offender.eio_sid, "invalid packet", reason)
    assert_served(env, bystander)


@pytest.mark.parametrize("num", ["splice", -1, 99, 1.5])
def test_bad_placeholder_then_attachments(
    env: Env, logs: LogRecorder, bystander: tuple[RawWebSocket, str], transport: str, num: Any
) -> None:
    """The header is refused at once: the attachments that follow never get buffered."""
    offender = open_client(env, transport)
    offender.connect()
    offender.send(f'51-["x",{placeholder(num)}]')
    try:
        offender.send_binary(b"\x01\x02")
        offender.send_binary(b"\x03")
    except PEER_CLOSED_ERRORS:
        pass  # the server may already have closed the connection
    assert_closed(env, offender)
    logs.wait_for(offender.eio_sid, "invalid packet", '"num"')
    assert not env.rec.of("bin")
    assert_served(env, bystander)


def test_valid_binary_event_is_delivered(env: Env, transport: str) -> None:
    """The control case: a well-formed BINARY_EVENT and its attachments reach the handler."""
    offender = open_client(env, transport)
    sid = offender.connect()
    offender.send(f'52-3["bin",{placeholder(0)},{{"n":{placeholder(1)}}}]')
    offender.send_binary(b"\x00\x01")
    offender.send_binary(b"")
    assert expect(offender) == '33["got it"]'
    assert env.rec.wait_match("bin", lambda s, args: s == sid) == (sid, (b"\x00\x01", {"n": b""}))


def test_text_instead_of_an_attachment(env: Env, logs: LogRecorder, bystander: tuple[RawWebSocket, str],
                                       transport: str) -> None:
    offender = open_client(env, transport)
    offender.connect()
    offender.send(f'52-["bin",{placeholder(0)},{placeholder(1)}]')
    offender.send_binary(b"\x01")
    offender.send('2["echo"]')
    assert_closed(env, offender)
    logs.wait_for(offender.eio_sid, "invalid packet", "text message received while 1 binary attachment")
    assert_served(env, bystander)


def test_binary_message_before_connect(env: Env, logs: LogRecorder, bystander: tuple[RawWebSocket, str],
                                       transport: str) -> None:
    offender = open_client(env, transport)
    offender.send_binary(b"\x01\x02\x03")
    assert_closed(env, offender)
    logs.wait_for(offender.eio_sid, "invalid packet", "unexpected binary attachment")
    assert_served(env, bystander)


def test_binary_packet_before_connect(env: Env, logs: LogRecorder, bystander: tuple[RawWebSocket, str],
                                      transport: str) -> None:
    """CVE-2026-48804: attachments are only held for a client connected to a namespace."""
    offender = open_client(env, transport)
    offender.send(f'51-["bin",{placeholder(0)}]')
    assert_closed(env, offender)
    logs.wait_for(offender.eio_sid, "invalid packet", "binary packet before CONNECT")
    assert_served(env, bystander)


def test_unexpected_attachment_after_a_complete_packet(
    env: Env, logs: LogRecorder, bystander: tuple[RawWebSocket, str], transport: str
) -> None:
    offender = open_client(env, transport)
    offender.connect()
    offender.send(f'51-1["bin",{placeholder(0)}]')
    offender.send_binary(b"\x01")
    assert expect(offender) == '31["got it"]'
    offender.send_binary(b"\x02")  # one more than announced
    assert_closed(env, offender)
    logs.wait_for(offender.eio_sid, "invalid packet", "unexpected binary attachment")
    assert_served(env, bystander)


def test_partial_binary_packet_is_dropped_on_disconnect(env: Env) -> None:
    """A BINARY_EVENT still waiting for attachments dies with its connection (CVE-2026-48804)."""
    offender = RawWebSocket(env.port)
    offender.connect()
    offender.send(f'53-["bin",{placeholder(0)},{placeholder(1)},{placeholder(2)}]')
    offender.send_binary(b"\x01")
    wait_for(lambda: env.sio._clients[offender.eio_sid].decoder.awaiting_attachments == 2)
    offender.close()
    wait_for(lambda: offender.eio_sid not in env.sio._clients)


# -- ignored input: the client stays connected -----------------------------------------------


@pytest.mark.parametrize("name", sorted(RESERVED_EVENTS))
def test_reserved_event_names_are_ignored(
    env: Env, logs: LogRecorder, bystander: tuple[RawWebSocket, str], transport: str, name: str
) -> None:
    """CVE-2024-38355: reserved names never reach a handler, and get no ack; the client stays."""
    offender = open_client(env, transport)
    sid = offender.connect(auth={"who": name})
    offender.send(f'2["{name}",1]')
    offender.send(f'25["{name}"]')  # asks for an ack it will not get
    assert_alive(offender)  # the next message is the echo's ack 9, not an ack 5
    logs.wait_for(sid, "ignoring reserved event name", repr(name))
    assert not [r for r in env.rec.of("reserved_called") if r[1] == sid]
    assert not [r for r in env.rec.of("catch_all") if r[1] == sid]
    assert [c for c in env.rec.of("connect") if c[0] == sid] == [(sid, {"who": name})]
    assert not [d for d in env.rec.of("disconnect") if d[0] == sid]
    assert env.sio.is_connected(sid)
    assert_served(env, bystander)


def test_error_event_is_an_ordinary_event(env: Env, bystander: tuple[RawWebSocket, str], transport: str) -> None:
    offender = open_client(env, transport)
    sid = offender.connect()
    offender.send('23["error",{"x":1}]')
    assert expect(offender) == '33["error handled"]'
    assert env.rec.wait_match("error_event", lambda s, args: s == sid) == (sid, ({"x": 1},))
    assert_served(env, bystander)


def test_event_on_a_namespace_not_connected_is_ignored(
    env: Env, logs: LogRecorder, bystander: tuple[RawWebSocket, str], transport: str
) -> None:
    """As python-socketio: dropped with a warning, the connection stays (node's server would
    close it; a client can race a server-side namespace disconnect, so we stay lenient)."""
    offender = open_client(env, transport)
    offender.connect()
    offender.send('2/chat,["echo","x"]')
    offender.send('2/nowhere,["echo","x"]')
    offender.send('3/chat,4["late"]')  # an ACK for a namespace not connected
    assert_alive(offender)
    logs.wait_for(offender.eio_sid, "is not connected to namespace /chat")
    logs.wait_for(offender.eio_sid, "is not connected to namespace /nowhere")
    assert not env.rec.of("chat_echo")
    assert_served(env, bystander)


def test_unknown_ack_id_is_ignored(env: Env, logs: LogRecorder, transport: str) -> None:
    offender = open_client(env, transport)
    offender.connect()
    offender.send('3123["nobody asked"]')
    assert_alive(offender)
    logs.wait_for("Unknown callback received")


def test_duplicate_and_unknown_connect(env: Env, logs: LogRecorder, transport: str) -> None:
    offender = open_client(env, transport)
    sid = offender.connect()
    offender.send("0")
    assert expect(offender) == '4{"message":"Already connected"}'
    offender.send("0/nowhere,")
    assert expect(offender) == '4/nowhere,{"message":"Invalid namespace"}'
    assert_alive(offender)
    assert env.sio.is_connected(sid)


def test_event_before_the_connect_handler_accepted(transport: str) -> None:
    """Pre-connect state: an event sent while the connect handler runs waits for it (logged)
    and is handled once it accepted (issue 21: never before); messages the handler emits
    arrive after the CONNECT acknowledgement."""
    sio, app = make_server()
    release = sio.eio.create_event()
    entered = Recorder()

    @sio.on("connect")
    def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
        sio.emit("hello", "first", to=sid)
        entered.add("entered", sid)
        release.wait(10)

    @sio.on("echo")
    def echo(sid: str, *args: Any) -> Any:
        entered.add("echo", args)
        return args

    with serve_gevent(app) as srv, capture_logs() as logs:
        client = RawWebSocket(srv.port) if transport == "websocket" else RawPolling(srv.port)
        client.send("0")
        entered.wait_kind("entered")
        client.send('21["echo","too early"]')
        logs.wait_for(client.eio_sid, "waits for the connect handler")
        assert entered.of("echo") == []  # not before the handler accepted
        sio.eio.driver.call_in_loop(release.set)
        got: list[str | bytes] = []
        while len(got) < 3:
            got.extend(_next_messages(client))
        assert isinstance(got[0], str) and got[0].startswith('0{"sid":'), got
        assert got[1:3] == ['2["hello","first"]', '31["too early"]'], got
        assert_alive(client)
        assert entered.of("echo") == [(("too early",),), (("alive",),)]


def _next_messages(client: Offender) -> list[str | bytes]:
    if isinstance(client, RawWebSocket):
        return [client.expect()]
    return client.messages()


# -- msgpack ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def msgpack_env() -> Iterator[Env]:
    sio, app, rec = build(serializer="msgpack")
    with serve_gevent(app) as srv:
        yield Env(sio, rec, srv.port)


def pack(**packet: Any) -> bytes:
    return msgpack.packb(packet)  # type: ignore[no-any-return]


MSGPACK_INVALID = [
    pytest.param(b"\xc1", "invalid msgpack", id="garbage"),
    pytest.param(msgpack.packb([2, "/", ["x"]]), "must be a msgpack map", id="list"),
    pytest.param(pack(type=9, nsp="/"), "invalid packet type 9", id="type-9"),
    pytest.param(pack(type=5, nsp="/", data=["x"]), "not used by the msgpack parser", id="binary-event"),
    pytest.param(pack(type=2, nsp="/", data=[]), "non-empty array", id="empty-event"),
    pytest.param(pack(type=2, nsp="/", data=[{"toString": "foo"}]), "EVENT name must be a string", id="name-object"),
    pytest.param(pack(type=4, nsp="/", data={"message": "x"}), "unexpected CONNECT_ERROR", id="connect-error"),
    pytest.param(pack(type=2, nsp="/", data=["x"], id=-1), "ack id", id="negative-id"),
    pytest.param("2[\"x\"]", "sends binary only", id="text-message"),
]


class MsgPackWebSocket(RawWebSocket):
    def connect(self, namespace: str = "/", auth: Any = None) -> str:
        packet: dict[str, Any] = {"type": 0, "nsp": namespace}
        if auth is not None:
            packet["data"] = auth
        self.send_binary(msgpack.packb(packet))
        answer = self.expect()
        assert isinstance(answer, bytes), answer
        decoded = msgpack.unpackb(answer)
        assert decoded["type"] == 0, decoded
        return str(decoded["data"]["sid"])


@pytest.mark.parametrize(("message", "reason"), MSGPACK_INVALID)
def test_msgpack_invalid_packet_closes_the_offender(
    msgpack_env: Env, logs: LogRecorder, message: bytes | str, reason: str
) -> None:
    env = msgpack_env
    bystander = MsgPackWebSocket(env.port)
    bystander_sid = bystander.connect()
    offender = MsgPackWebSocket(env.port)
    offender.connect()
    if isinstance(message, str):
        offender.send(message)
    else:
        offender.send_binary(message)
    assert_closed(env, offender)
    logs.wait_for(offender.eio_sid, "invalid packet", reason)
    bystander.send_binary(pack(type=2, nsp="/", data=["echo", b"\x00after"], id=3))
    assert msgpack.unpackb(bystander.expect()) == {"type": 3, "nsp": "/", "data": [b"\x00after"], "id": 3}
    assert env.sio.is_connected(bystander_sid)
    bystander.close()


@pytest.mark.parametrize("name", sorted(RESERVED_EVENTS))
def test_msgpack_reserved_event_names_are_ignored(msgpack_env: Env, logs: LogRecorder, name: str) -> None:
    env = msgpack_env
    offender = MsgPackWebSocket(env.port)
    sid = offender.connect()
    offender.send_binary(pack(type=2, nsp="/", data=[name, 1], id=1))
    offender.send_binary(pack(type=2, nsp="/", data=["echo", "alive"], id=2))
    assert msgpack.unpackb(offender.expect()) == {"type": 3, "nsp": "/", "data": ["alive"], "id": 2}
    logs.wait_for(sid, "ignoring reserved event name")
    assert not [r for r in env.rec.of("reserved_called") if r[1] == sid]
    offender.close()


# -- connect timeout -------------------------------------------------------------------------


def test_connect_timeout_closes_clients_that_never_connect(transport: str) -> None:
    sio, app = make_server(connect_timeout=0.5)
    sio.on("echo", lambda sid, *args: args)
    with serve_gevent(app) as srv, capture_logs() as logs:
        good = RawWebSocket(srv.port)
        good.connect()
        idle = RawWebSocket(srv.port) if transport == "websocket" else RawPolling(srv.port)
        # The idle client opened after the good one connected, so once it is closed the
        # good one has outlived the timeout too: it must still be there.
        idle.wait_closed()
        logs.wait_for(idle.eio_sid, "no CONNECT within 0.5s")
        wait_for(lambda: idle.eio_sid not in sio._clients)
        assert_alive(good)
        assert not logs.has(good.eio_sid, "no CONNECT")
        good.close()


def test_connect_timeout_counts_only_until_the_first_connect(transport: str) -> None:
    """A client that connected and then left its only namespace is not timed out later."""
    sio, app = make_server(connect_timeout=0.3)
    sio.on("echo", lambda sid, *args: args)
    sio.on("connect", lambda sid, environ, auth: None, namespace="/chat")
    with serve_gevent(app) as srv, capture_logs() as logs:
        client = RawWebSocket(srv.port) if transport == "websocket" else RawPolling(srv.port)
        client.connect()
        client.send("1")  # leaves "/"
        witness = RawWebSocket(srv.port)  # never connects: closed after 0.3 s
        witness.wait_closed()
        logs.wait_for(witness.eio_sid, "no CONNECT within")
        assert not logs.has(client.eio_sid, "no CONNECT")
        assert client.connect("/chat")


def test_connect_timeout_closes_clients_whose_connects_were_all_refused(transport: str) -> None:
    """A refused CONNECT does not count: the client still has no namespace when time is up."""
    sio, app = make_server(connect_timeout=0.3)
    sio.on("connect", lambda sid, environ, auth: auth == {"ok": True})
    sio.on("echo", lambda sid, *args: args)
    with serve_gevent(app) as srv, capture_logs() as logs:
        refused = RawWebSocket(srv.port) if transport == "websocket" else RawPolling(srv.port)
        refused.send('0{"ok":false}')
        assert expect(refused) == '4{"message":"Connection rejected by server"}'
        refused.wait_closed()
        logs.wait_for(refused.eio_sid, "no CONNECT within")
        accepted = RawWebSocket(srv.port)
        accepted.send('0{"ok":false}')
        assert expect(accepted) == '4{"message":"Connection rejected by server"}'
        accepted.connect(auth={"ok": True})  # the second try is accepted in time
        witness = RawWebSocket(srv.port)  # opened later, so closed later than `accepted` would be
        witness.wait_closed()
        logs.wait_for(witness.eio_sid, "no CONNECT within")
        assert not logs.has(accepted.eio_sid, "no CONNECT")
        assert_alive(accepted)


def test_too_many_messages_held_before_connect(transport: str) -> None:
    """A connect handler that emits without bound to its not-yet-accepted client: the held
    queue is bounded, the client is dropped with a logged reason, the server carries on."""
    from socketio_core.server.server import MAX_HELD_MESSAGES

    sio, app = make_server()
    sio.on("echo", lambda sid, *args: args)

    @sio.on("connect")
    def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
        if auth == {"flood": True}:
            for i in range(MAX_HELD_MESSAGES + 1):
                sio.emit("held", i, to=sid)

    with serve_gevent(app) as srv, capture_logs() as logs:
        bystander = RawWebSocket(srv.port)
        bystander_sid = bystander.connect()
        flooded = RawWebSocket(srv.port) if transport == "websocket" else RawPolling(srv.port)
        flooded.send('0{"flood":true}')
        flooded.wait_closed()
        logs.wait_for("too many messages held before connect")
        assert_served(Env(sio, Recorder(), srv.port), (bystander, bystander_sid))
