"""Malformed Engine.IO and Socket.IO packets against the users' stack (Flask + SocketIO).

Every advisory of §4 that a packet can trigger is sent here by a raw client, over WebSocket and
over long-polling, to a Flask app served by gevent: the offender is either disconnected (an
invalid packet: spec "the server MUST close the connection"; the reason is logged) or ignored
and still served (reserved event names, unknown acks, namespaces it is not in), and a
bystander connected beforehand keeps receiving. tests/socketio_core/test_server_bad_input.py
runs a similar table against a bare `SocketServer`; this one crosses the Flask layer, adds the
Engine.IO packets a client may not send on an open WebSocket, and checks that the memory of a
BINARY_EVENT whose attachments never come is released (CVE-2026-48804), and that heartbeats
cost no task per connection (CVE-2026-48802).
"""

from __future__ import annotations

import gc
import json
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from hard_support import PEER_CLOSED, PollClient, RawWS, SioEnv, flask_env, frame, sio_env, wait_for

Offender = RawWS | PollClient


@pytest.fixture(scope="module")
def env() -> Iterator[SioEnv]:
    with flask_env() as e:
        yield e


@pytest.fixture(params=["websocket", "polling"])
def transport(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def connect(env: SioEnv, transport: str, namespace: bool = True) -> Offender:
    client: Offender = RawWS(env.port) if transport == "websocket" else PollClient(env.port)
    if isinstance(client, RawWS):
        client.open()
    if namespace:
        client.sio_connect()
    return client


def send(client: Offender, text: str) -> None:
    """One Socket.IO text packet (an Engine.IO MESSAGE)."""
    client.send_text("4" + text)


def expect_dropped(env: SioEnv, client: Offender, reason_fragment: str) -> None:
    client.expect_closed()
    assert env.eio_disconnect_reason(client.eio_sid or "") == "server disconnect"
    env.logs.wait_for(client.eio_sid or "", "invalid packet", reason_fragment)
    wait_for(lambda: client.eio_sid not in env.sio._clients, timeout=5)
    env.assert_served()


def expect_alive(env: SioEnv, client: Offender) -> None:
    send(client, '299["echo","alive"]')
    assert client.recv_message() == '4399["alive"]'
    assert not env.eio_disconnected(client.eio_sid or "")
    env.assert_served()


def ph(num: Any) -> str:
    return json.dumps({"_placeholder": True, "num": num}, separators=(",", ":"))


# -- §4 advisories: invalid packets close the offender ----------------------------------------------

INVALID = [
    # CVE-2022-2421: _placeholder.num not validated.
    pytest.param(f'51-["echo",{ph("splice")}]', '"num" must be an integer', id="CVE-2022-2421-splice"),
    pytest.param(f'51-["echo",{ph(-1)}]', '"num" -1 out of range', id="CVE-2022-2421-minus-1"),
    pytest.param(f'51-["echo",{ph(99)}]', '"num" 99 out of range', id="CVE-2022-2421-99"),
    pytest.param(f'51-["echo",{ph(1.5)}]', '"num" must be an integer', id="CVE-2022-2421-float"),
    pytest.param(f'51-["echo",{ph("0")}]', '"num" must be an integer', id="CVE-2022-2421-string-0"),
    pytest.param(f'51-["echo",{ph(None)}]', '"num" must be an integer', id="CVE-2022-2421-null"),
    # CVE-2023-32695: bad event-name formats.
    pytest.param('2[{"toString":"foo"}]', "EVENT name must be a string", id="CVE-2023-32695-toString"),
    pytest.param("2[]", "non-empty array", id="CVE-2023-32695-empty-array"),
    pytest.param("2{}", "must be an array", id="CVE-2023-32695-object"),
    pytest.param('2"x"', "must be an array", id="CVE-2023-32695-string"),
    pytest.param("2[1]", "EVENT name must be a string", id="CVE-2023-32695-number"),
    pytest.param("2[[\"echo\"]]", "EVENT name must be a string", id="name-is-array"),
    pytest.param("2null", "must be an array", id="payload-null"),
    # CVE-2026-33151 / CVE-2020-36049: attachment floods.
    pytest.param(f'5999999999-["echo",{ph(0)}]', "too many attachments", id="CVE-2026-33151-10-digits"),
    pytest.param("511-[" + ",".join(ph(i) for i in range(11)) + "]", "too many attachments: 11",
                 id="CVE-2026-33151-11-attachments"),
    pytest.param(f'5{"9" * 400}-["echo"]', "too many attachments", id="attachment-count-400-digits"),
    # Unknown types and packets only a server may send.
    pytest.param("7", "unknown packet type", id="type-7"),
    pytest.param("9[]", "unknown packet type", id="type-9"),
    pytest.param("a", "unknown packet type", id="type-a"),
    pytest.param('4{"message":"x"}', "unexpected CONNECT_ERROR", id="connect-error-from-client"),
    # Bad ack ids.
    pytest.param('2123456789012345678901["echo"]', "ack id too long", id="ack-id-22-digits"),
    pytest.param('29007199254740992["echo"]', "exceeds the maximum", id="ack-id-over-2**53"),
    pytest.param("3", "ACK packet without an ack id", id="ack-without-id"),
    pytest.param('3x["x"]', "unexpected", id="ack-id-letters"),
    pytest.param('2-1["echo"]', "invalid JSON payload", id="ack-id-negative"),
    # Malformed JSON, numbers no JSON peer can use.
    pytest.param('2["echo"', "invalid JSON payload", id="truncated-json"),
    pytest.param('2["echo",NaN]', "invalid JSON payload", id="nan"),
    pytest.param('2["echo",1e400]', "out of range", id="number-overflows-to-infinity"),
    pytest.param('2["echo",' + "9" * 5000 + "]", "invalid JSON payload", id="5000-digit-integer"),
    pytest.param("2" + "[" * 100_000 + "]" * 100_000, "invalid JSON payload", id="deep-nesting"),
    pytest.param("", "empty packet", id="empty"),
    pytest.param("0[1]", "CONNECT payload must be an object", id="connect-array-auth"),
]


@pytest.mark.parametrize(("packet", "reason"), INVALID)
def test_invalid_packet_closes_only_the_offender(env: SioEnv, transport: str, packet: str, reason: str) -> None:
    client = connect(env, transport)
    send(client, packet)
    expect_dropped(env, client, reason)


@pytest.mark.parametrize("num", ["splice", -1, 99, 1.5])
def test_bad_placeholder_followed_by_attachments(env: SioEnv, transport: str, num: Any) -> None:
    """CVE-2022-2421: refused at the header; the attachments after it are never assembled."""
    client = connect(env, transport)
    send(client, f'51-["bin",{ph(num)}]')
    try:
        client.send_binary(b"\x01" * 1000)
    except PEER_CLOSED:
        pass  # already closed
    expect_dropped(env, client, '"num"')
    assert not [e for e in env.of("bin") if e[0] == client.sid]


def test_binary_before_connect(env: SioEnv, transport: str) -> None:
    """CVE-2026-48804: attachments are held only for a client connected to a namespace."""
    client = connect(env, transport, namespace=False)
    send(client, f'51-["bin",{ph(0)}]')
    expect_dropped(env, client, "binary packet before CONNECT")


def test_binary_message_before_connect(env: SioEnv, transport: str) -> None:
    client = connect(env, transport, namespace=False)
    client.send_binary(b"\x00" * 100)
    expect_dropped(env, client, "unexpected binary attachment")


def test_more_attachments_than_announced(env: SioEnv, transport: str) -> None:
    client = connect(env, transport)
    send(client, f'51-7["bin",{ph(0)}]')
    client.send_binary(b"\x01")
    assert client.recv_message() == '437["got it"]'
    client.send_binary(b"\x02")
    expect_dropped(env, client, "unexpected binary attachment")


# -- ignored, and the offender stays ----------------------------------------------------------------


@pytest.mark.parametrize("name", ["connect", "connect_error", "disconnect", "disconnecting",
                                  "newListener", "removeListener"])
def test_reserved_event_names_are_ignored(env: SioEnv, transport: str, name: str) -> None:
    """CVE-2024-38355: a client emitting a reserved name reaches no handler and gets no ack."""
    client = connect(env, transport)
    send(client, f'25["{name}",1]')
    expect_alive(env, client)  # the next message is the ack 99, never an ack 5
    env.logs.wait_for("ignoring reserved event name", repr(name))
    assert not [e for e in env.of("catch_all") if e[0] == name]
    assert not [d for d in env.of("disconnect") if d[0] == client.sid]


@pytest.mark.parametrize(
    "packet",
    [
        pytest.param('3123456["nobody asked"]', id="unknown-ack-id"),
        pytest.param('2/__proto__,["echo"]', id="namespace-not-connected"),
        pytest.param('2/constructor,7["echo"]', id="namespace-not-connected-with-ack"),
        pytest.param("1/nowhere,", id="disconnect-from-unknown-namespace"),
        pytest.param("6", id="noop-in-socketio-message"),
    ],
)
def test_harmless_oddities_are_ignored(env: SioEnv, transport: str, packet: str) -> None:
    client = connect(env, transport)
    if packet == "6":
        client.send_text("6")  # an Engine.IO NOOP
    else:
        send(client, packet)
    expect_alive(env, client)


@pytest.mark.parametrize("namespace", ["/__proto__", "/constructor", "/" + "n" * 5000, "/été", "/a/../b"])
def test_connect_to_odd_namespaces_is_refused_politely(env: SioEnv, transport: str, namespace: str) -> None:
    client = connect(env, transport)
    send(client, f"0{namespace},")
    assert client.recv_message() == f'44{namespace},{{"message":"Invalid namespace"}}'
    expect_alive(env, client)


@pytest.mark.parametrize("event", ["__proto__", "constructor", "toString", "hasOwnProperty", "e" * 100_000])
def test_prototype_like_and_huge_event_names_are_ordinary(env: SioEnv, transport: str, event: str) -> None:
    client = connect(env, transport)
    send(client, f'2["{event}",{{"__proto__":{{"polluted":true}}}}]')
    found = env.wait_event("catch_all", lambda name, sid, args: name == event and sid == client.sid)
    assert found[2] == ({"__proto__": {"polluted": True}},)
    assert getattr(object, "polluted", None) is None
    expect_alive(env, client)


# -- Engine.IO packets a client may not send on an open WebSocket ----------------------------------


@pytest.mark.parametrize(
    "packet",
    ["0", '0{"sid":"x"}', "2", "2probe", "5", "7", "9", "x", "", "b!!!", "\u0000"],
)
def test_illegal_engine_packets_on_websocket_close_with_1002(env: SioEnv, packet: str) -> None:
    client = RawWS(env.port)
    client.sio_connect()
    client.send_text(packet)
    assert client.expect_close() == 1002
    assert env.eio_disconnect_reason(client.eio_sid or "") == "transport error"
    wait_for(lambda: client.eio_sid not in env.sio._clients, timeout=5)
    env.assert_served()


def test_binary_message_that_looks_like_an_engine_packet(env: SioEnv) -> None:
    """A WebSocket binary frame is a binary MESSAGE as it stands: b"2" is not a PING; with
    no BINARY_EVENT announced it is an unexpected attachment (Socket.IO closes)."""
    client = RawWS(env.port)
    client.sio_connect()
    client.send_binary(b"2")
    expect_dropped(env, client, "unexpected binary attachment")


# -- memory: partial packets, heartbeats -------------------------------------------------------------


def test_partial_binary_event_is_released_on_disconnect(env: SioEnv, transport: str) -> None:
    """CVE-2026-48804: a BINARY_EVENT announcing 10 attachments gets 9 (of 100 KB), then the
    client vanishes: the server drops every reference to the decoder and the 900 KB it held.
    (Reference counts: the objects are slotted, no weak references; only this test may still
    hold them afterwards.)"""
    client = connect(env, transport)
    send(client, "510-[" + ",".join(['"bin"'] + [ph(i) for i in range(10)]) + "]")
    for i in range(9):
        client.send_binary(bytes([i]) * 100_000)
    decoder = env.sio._clients[client.eio_sid or ""].decoder
    wait_for(lambda: decoder.awaiting_attachments == 1)
    held = list(decoder._received)
    assert [len(b) for b in held] == [100_000] * 9
    if isinstance(client, RawWS):
        client.close()
        expected = "transport close"
    else:
        client.send_text("1")  # Engine.IO CLOSE from the client
        expected = "client disconnect"
    assert env.eio_disconnect_reason(client.eio_sid or "") == expected
    wait_for(lambda: client.eio_sid not in env.sio._clients)

    def released() -> bool:
        gc.collect()
        # getrefcount counts its own argument: 2 = our local name only; 3 for the attachments
        # (our list `held` and the argument).
        return sys.getrefcount(decoder) == 2 and all(sys.getrefcount(b) == 3 for b in held)

    wait_for(released, timeout=5)
    assert decoder.awaiting_attachments == 0
    assert not [e for e in env.of("bin") if e[0] == client.sid]
    env.assert_served()


def greenlet_count() -> int:
    import greenlet

    return sum(1 for o in gc.get_objects() if isinstance(o, greenlet.greenlet) and not o.dead)


def test_heartbeat_costs_no_task_per_connection_and_pong_floods_nothing() -> None:
    """CVE-2026-48802: no thread/greenlet per connect or per PONG. 40 idle WebSockets that
    never CONNECT to Socket.IO cost one greenlet each (pywsgi's handler, blocked in recv), and
    4000 unsolicited PONGs add no greenlet and no timer entry."""
    with sio_env(bystander=False, ping_interval=30, ping_timeout=30) as env:
        first = RawWS(env.port)
        first.open()
        before = greenlet_count()
        clients = [RawWS(env.port) for _ in range(40)]
        for c in clients:
            c.open()
        wait_for(lambda: env.sio.eio.session_count == 41)
        after_connects = greenlet_count()
        assert after_connects - before <= 40 + 2, (before, after_connects)
        for _ in range(4):
            first.send_raw(b"".join(frame(0x1, b"3") for _ in range(1000)))
        first.send_text('40')
        assert first.recv_message().startswith('40{"sid":')
        assert greenlet_count() - after_connects <= 2
        assert len(env.sio.eio._timers) <= 41 + 41 + 2  # a heartbeat entry + a connect-timeout each
        for c in [first, *clients]:
            c.close()
        wait_for(lambda: env.sio.eio.session_count == 0)


def test_client_that_never_sends_connect_is_closed(transport: str) -> None:
    """Spec MUST the reference skips: "the server MUST close the connection if no CONNECT
    packet is received in time" (connect_timeout; 45 s by default, 0.5 s here)."""
    with flask_env(connect_timeout=0.5) as env:
        client = connect(env, transport, namespace=False)  # Engine.IO open, then nothing
        client.expect_closed()
        assert env.eio_disconnect_reason(client.eio_sid or "") == "server disconnect"
        env.logs.wait_for(client.eio_sid or "", "no CONNECT within 0.5s")
        env.assert_served()  # the bystander connected at once: never timed out
