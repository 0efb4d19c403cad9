"""The pure Engine.IO core, peer to peer, with a fake clock (``now`` is just a float).

Covers the state table of `state.py`, the session (packet rules, heartbeat, upgrade probe,
polling outbox, server close while polling) and the codecs and helpers it is built from:
packets, payloads, handshake, CORS policy, options, the timer heap and encoded messages.
"""

from __future__ import annotations

import base64
import json
import warnings
from itertools import product
from typing import Any

import pytest

from engineio_core import session as session_module
from engineio_core.config import EngineConfig, build_config
from engineio_core.cors import OriginPolicy, same_origins
from engineio_core.encoded import EncodedMessage, ws_frame
from engineio_core.errors import LocalProtocolError, RemoteProtocolError
from engineio_core.events import (
    Closed,
    MessageReceived,
    ProbeFailed,
    ProbeReceived,
    Reason,
    SendPing,
    Upgraded,
)
from engineio_core.handshake import (
    UNSUPPORTED_VERSION,
    open_packet_data,
    parse_query,
    validate_request,
)
from engineio_core.packets import EnginePacket, PacketType, decode_binary, decode_text
from engineio_core.payload import (
    SEPARATOR,
    decode_body,
    decode_payload,
    encode_payload,
    jsonp_wrap,
)
from engineio_core.session import CLOSING_GRACE, EngineSession, OutboxFull
from engineio_core.state import (
    BEAT_TRANSITIONS,
    OPEN_STATES,
    TRANSITIONS,
    Beat,
    BeatInput,
    Input,
    State,
    beat_transition,
    transition,
)
from engineio_core.timers import TimerHeap

PING_INTERVAL = 25.0
PING_TIMEOUT = 20.0


def config(**options: Any) -> EngineConfig:
    return build_config(options, lambda message: None)


def pkt(text: str) -> EnginePacket:
    return decode_text(text)


def new_session(now: float = 0.0, websocket: bool = False, **options: Any) -> EngineSession:
    options.setdefault("ping_interval", PING_INTERVAL)
    options.setdefault("ping_timeout", PING_TIMEOUT)
    return EngineSession("sid1", config(**options), now, websocket=websocket)


def session_in(state: State) -> EngineSession:
    """A session driven into `state` through the public API only."""
    if state is State.WEBSOCKET:
        return new_session(websocket=True)
    s = new_session()
    if state is State.PROBING:
        assert isinstance(s.receive_probe(pkt("2probe")), ProbeReceived)
    elif state is State.CLOSING:
        s.close_after_poll(Reason.SERVER_DISCONNECT, now=1.0)
    elif state is State.CLOSED:
        assert s.close(Reason.SERVER_DISCONNECT) == Closed(Reason.SERVER_DISCONNECT)
    assert s.state is state
    return s


# -- the state table -------------------------------------------------------------------------


@pytest.mark.parametrize(("state", "event"), list(product(State, Input)))
def test_state_table_every_pair(state: State, event: Input) -> None:
    """Every (state, input) pair: listed ones move as the table says, the others raise
    LocalProtocolError naming the state and the input."""
    expected = TRANSITIONS.get((state, event))
    if expected is not None:
        assert transition(state, event) is expected
    else:
        with pytest.raises(LocalProtocolError) as info:
            transition(state, event)
        assert f"in state {state.value}" in str(info.value)
        assert event.value in str(info.value)


def test_state_table_contents() -> None:
    assert TRANSITIONS == {
        (State.POLLING, Input.PROBE): State.PROBING,
        (State.PROBING, Input.UPGRADE): State.WEBSOCKET,
        (State.PROBING, Input.PROBE_FAILED): State.POLLING,
        (State.POLLING, Input.CLOSE_LATER): State.CLOSING,
        (State.PROBING, Input.CLOSE_LATER): State.CLOSING,
        (State.POLLING, Input.CLOSE): State.CLOSED,
        (State.PROBING, Input.CLOSE): State.CLOSED,
        (State.WEBSOCKET, Input.CLOSE): State.CLOSED,
        (State.CLOSING, Input.CLOSE): State.CLOSED,
    }
    # CLOSED is terminal: nothing leaves it.
    assert not [key for key in TRANSITIONS if key[0] is State.CLOSED]
    assert OPEN_STATES == {State.POLLING, State.PROBING, State.WEBSOCKET}


@pytest.mark.parametrize("state", [State.POLLING, State.PROBING, State.WEBSOCKET, State.CLOSING])
def test_every_close_goes_through_the_table(state: State, monkeypatch: pytest.MonkeyPatch) -> None:
    """`close()` is a CLOSE row of the table, from every state that has one."""
    s = session_in(state)
    seen: list[tuple[State, Input]] = []

    def recording(current: State, event: Input) -> State:
        seen.append((current, event))
        return transition(current, event)

    monkeypatch.setattr(session_module, "transition", recording)
    assert s.close(Reason.SERVER_DISCONNECT) == Closed(Reason.SERVER_DISCONNECT)
    assert seen == [(state, Input.CLOSE)]
    assert s.state is State.CLOSED
    assert s.close(Reason.SERVER_DISCONNECT) is None  # CLOSED is terminal: no second event
    assert seen == [(state, Input.CLOSE)]


@pytest.mark.parametrize(("beat", "event"), list(product(Beat, BeatInput)))
def test_heartbeat_table_every_pair(beat: Beat, event: BeatInput) -> None:
    expected = BEAT_TRANSITIONS.get((beat, event))
    if expected is not None:
        assert beat_transition(beat, event) is expected
    else:
        with pytest.raises(LocalProtocolError) as info:
            beat_transition(beat, event)
        assert f"heartbeat state {beat.value}" in str(info.value)


def test_heartbeat_table_contents() -> None:
    assert BEAT_TRANSITIONS == {
        (Beat.WAITING, BeatInput.PING_SENT): Beat.AWAITING_PONG,
        (Beat.AWAITING_PONG, BeatInput.PONG): Beat.WAITING,
        (Beat.WAITING, BeatInput.CLOSE_LATER): Beat.GRACE,
        (Beat.AWAITING_PONG, BeatInput.CLOSE_LATER): Beat.GRACE,
    }
    assert not [key for key in BEAT_TRANSITIONS if key[0] is Beat.GRACE]


def test_heartbeat_rows_as_the_session_walks_them() -> None:
    s = new_session()
    assert s.beat is Beat.WAITING and not s.awaiting_pong
    assert s.receive(pkt("3"), 1.0) is None  # a PONG that answers no PING: not an input
    assert s.beat is Beat.WAITING and s.next_deadline() == PING_INTERVAL
    assert isinstance(s.on_timer(PING_INTERVAL), SendPing)
    assert s.beat is Beat.AWAITING_PONG and s.awaiting_pong
    assert s.next_deadline() == PING_INTERVAL + PING_TIMEOUT
    s.receive(pkt("3"), PING_INTERVAL + 1)
    assert s.beat is Beat.WAITING and s.next_deadline() == 2 * PING_INTERVAL + 1
    assert isinstance(s.on_timer(2 * PING_INTERVAL + 1), SendPing)
    s.close_after_poll(Reason.SERVER_DISCONNECT, now=2 * PING_INTERVAL + 2)
    assert s.beat is Beat.GRACE and s.state is State.CLOSING
    assert s.next_deadline() == 2 * PING_INTERVAL + 2 + session_module.CLOSING_GRACE


@pytest.mark.parametrize("state", list(State))
def test_session_properties_per_state(state: State) -> None:
    s = session_in(state)
    assert s.is_open is (state in OPEN_STATES)
    assert s.transport == ("websocket" if state is State.WEBSOCKET else "polling")
    assert s.accepts_polls is (state in (State.POLLING, State.PROBING, State.CLOSING))


# -- packets from the peer -------------------------------------------------------------------


@pytest.mark.parametrize("state", [State.POLLING, State.PROBING, State.WEBSOCKET])
def test_message_packets_become_events(state: State) -> None:
    s = session_in(state)
    assert s.receive(pkt("4hello"), 1.0) == MessageReceived("hello")
    assert s.receive(pkt("bAQID"), 1.0) == MessageReceived(b"\x01\x02\x03")
    assert s.receive(decode_binary(b"\x00\xff"), 1.0) == MessageReceived(b"\x00\xff")
    # Data that looks like a number or JSON stays text (python-engineio#75).
    assert s.receive(pkt("41"), 1.0) == MessageReceived("1")
    assert s.receive(pkt("4"), 1.0) == MessageReceived("")
    assert s.state is state


@pytest.mark.parametrize("state", [State.POLLING, State.PROBING, State.WEBSOCKET])
def test_close_packet_closes_with_client_disconnect(state: State) -> None:
    s = session_in(state)
    assert s.receive(pkt("1"), 1.0) == Closed(Reason.CLIENT_DISCONNECT)
    assert s.state is State.CLOSED
    assert s.close_reason == Reason.CLIENT_DISCONNECT
    assert s.close(Reason.SERVER_DISCONNECT) is None  # once only


def test_noop_and_stray_upgrade_over_polling_are_ignored() -> None:
    s = session_in(State.POLLING)
    assert s.receive(pkt("6"), 1.0) is None
    assert s.receive(pkt("5"), 1.0) is None
    assert s.state is State.POLLING


@pytest.mark.parametrize(
    ("state", "text"),
    [
        (State.POLLING, "0"),
        (State.POLLING, "2"),
        (State.POLLING, "2probe"),
        (State.WEBSOCKET, "0{}"),
        (State.WEBSOCKET, "2"),
        (State.WEBSOCKET, "5"),
    ],
)
def test_packets_the_client_never_sends_are_remote_errors(state: State, text: str) -> None:
    s = session_in(state)
    with pytest.raises(RemoteProtocolError) as info:
        s.receive(pkt(text), 1.0)
    assert f"in state {state.value}" in info.value.message
    assert info.value.status == 400


# -- heartbeat ---------------------------------------------------------------------------------


def test_ping_due_at_ping_interval() -> None:
    s = new_session(now=100.0)
    assert s.next_deadline() == 100.0 + PING_INTERVAL
    assert s.on_timer(100.0 + PING_INTERVAL - 0.001) is None
    assert s.on_timer(100.0 + PING_INTERVAL) == SendPing()
    assert s.awaiting_pong
    assert s.next_deadline() == 100.0 + PING_INTERVAL + PING_TIMEOUT
    # Woken again before the PONG deadline: nothing to do, and no second PING.
    assert s.on_timer(100.0 + PING_INTERVAL + 1.0) is None


def test_pong_moves_the_next_ping() -> None:
    s = new_session()
    assert s.on_timer(25.0) == SendPing()
    assert s.receive(pkt("3"), 30.0) is None
    assert not s.awaiting_pong
    assert s.next_deadline() == 30.0 + PING_INTERVAL
    assert s.on_timer(54.999) is None
    assert s.on_timer(55.0) == SendPing()
    assert s.next_deadline() == 55.0 + PING_TIMEOUT


def test_no_pong_closes_with_ping_timeout() -> None:
    s = new_session()
    assert s.on_timer(25.0) == SendPing()
    assert s.on_timer(44.999) is None
    assert s.is_open
    assert s.on_timer(45.0) == Closed(Reason.PING_TIMEOUT)
    assert s.state is State.CLOSED
    assert s.close_reason == "ping timeout"
    assert s.on_timer(100.0) is None  # a closed session has nothing more to say


def test_late_timer_wakeup_still_times_out() -> None:
    s = new_session()
    assert s.on_timer(26.0) == SendPing()  # the timer loop was late by one second
    assert s.next_deadline() == 46.0  # the PONG window starts when the PING is sent
    assert s.on_timer(60.0) == Closed(Reason.PING_TIMEOUT)


def test_out_of_sequence_pongs_are_ignored() -> None:
    s = new_session()
    # A PONG before any PING does not move the first ping.
    assert s.receive(pkt("3"), 10.0) is None
    assert s.next_deadline() == PING_INTERVAL
    assert s.on_timer(25.0) == SendPing()
    assert s.receive(pkt("3"), 26.0) is None  # the answer
    assert s.next_deadline() == 26.0 + PING_INTERVAL
    # A flood of extra PONGs neither postpones the next PING nor schedules more of them.
    for t in (27.0, 30.0, 50.0):
        assert s.receive(pkt("3"), t) is None
        assert s.next_deadline() == 26.0 + PING_INTERVAL
    assert s.on_timer(51.0) == SendPing()


def test_pong_with_data_counts_as_pong() -> None:
    s = new_session()
    assert s.on_timer(25.0) == SendPing()
    assert s.receive(pkt("3whatever"), 26.0) is None
    assert s.next_deadline() == 26.0 + PING_INTERVAL


def test_heartbeat_runs_in_websocket_state() -> None:
    s = new_session(now=5.0, websocket=True)
    assert s.next_deadline() == 5.0 + PING_INTERVAL
    assert s.on_timer(30.0) == SendPing()
    assert s.on_timer(50.0) == Closed(Reason.PING_TIMEOUT)


def test_small_intervals() -> None:
    s = new_session(ping_interval=0.3, ping_timeout=0.2)
    assert s.next_deadline() == pytest.approx(0.3)
    assert s.on_timer(0.3) == SendPing()
    assert s.next_deadline() == pytest.approx(0.5)
    assert s.on_timer(0.5) == Closed(Reason.PING_TIMEOUT)


def test_grace_is_advertised_but_not_used_for_pinging() -> None:
    s = new_session(ping_interval=(25, 5))
    assert s.next_deadline() == 25.0


# -- upgrade probe ------------------------------------------------------------------------------


def test_probe_then_upgrade() -> None:
    s = new_session()
    assert s.receive_probe(pkt("2probe")) == ProbeReceived()
    assert s.state is State.PROBING
    assert s.transport == "polling"  # polling keeps working until the UPGRADE
    assert s.receive(pkt("4during"), 1.0) == MessageReceived("during")
    assert s.receive_probe(pkt("5")) == Upgraded()
    assert s.state is State.WEBSOCKET
    assert s.transport == "websocket"
    assert not s.accepts_polls


@pytest.mark.parametrize("text", ["4hello", "2probe", "2", "3probe", "6", "1"])
def test_other_packet_while_probing_fails_back_to_polling(text: str) -> None:
    s = session_in(State.PROBING)
    event = s.receive_probe(pkt(text))
    assert isinstance(event, ProbeFailed)
    assert "expected UPGRADE packet" in event.reason
    assert s.state is State.POLLING
    # ...and a later probe can still succeed.
    assert s.receive_probe(pkt("2probe")) == ProbeReceived()
    assert s.receive_probe(pkt("5")) == Upgraded()


@pytest.mark.parametrize("text", ["5", "2", "2probX", "4probe", "3probe"])
def test_anything_but_2probe_first_fails_the_probe(text: str) -> None:
    s = new_session()
    assert isinstance(s.receive_probe(pkt(text)), ProbeFailed)
    assert s.state is State.POLLING


def test_probe_socket_lost_falls_back_to_polling() -> None:
    s = session_in(State.PROBING)
    s.probe_failed()
    assert s.state is State.POLLING
    s.probe_failed()  # harmless when not probing
    assert s.state is State.POLLING


@pytest.mark.parametrize("state", [State.WEBSOCKET, State.CLOSING, State.CLOSED])
def test_probe_in_a_state_that_cannot_upgrade(state: State) -> None:
    s = session_in(state)
    assert isinstance(s.receive_probe(pkt("2probe")), ProbeFailed)
    assert s.state is state


def test_heartbeat_continues_across_upgrade() -> None:
    s = new_session()
    assert s.on_timer(25.0) == SendPing()
    s.receive_probe(pkt("2probe"))
    s.receive_probe(pkt("5"))
    assert s.receive(pkt("3"), 27.0) is None
    assert s.next_deadline() == 27.0 + PING_INTERVAL


# -- server close of a polling session ------------------------------------------------------------


@pytest.mark.parametrize("state", [State.POLLING, State.PROBING])
def test_close_after_poll_waits_in_closing_then_is_reaped(state: State) -> None:
    s = session_in(state)
    assert s.on_timer(25.0) == SendPing()  # a PING is outstanding: CLOSING must forget it
    s.close_after_poll(Reason.SERVER_DISCONNECT, now=30.0)
    assert s.state is State.CLOSING
    assert not s.is_open
    assert s.accepts_polls  # the next poll still collects the CLOSE packet
    assert not s.awaiting_pong
    assert s.next_deadline() == 30.0 + CLOSING_GRACE
    assert s.on_timer(30.0 + CLOSING_GRACE - 0.01) is None  # no ping timeout while closing
    assert s.on_timer(30.0 + CLOSING_GRACE) == Closed(Reason.SERVER_DISCONNECT)
    assert s.state is State.CLOSED


def test_closing_then_close_now() -> None:
    s = session_in(State.CLOSING)
    assert s.close(Reason.SERVER_DISCONNECT) == Closed(Reason.SERVER_DISCONNECT)
    assert s.state is State.CLOSED
    assert s.close(Reason.SERVER_DISCONNECT) is None


@pytest.mark.parametrize("state", [State.WEBSOCKET, State.CLOSING, State.CLOSED])
def test_close_after_poll_is_illegal_elsewhere(state: State) -> None:
    s = session_in(state)
    with pytest.raises(LocalProtocolError) as info:
        s.close_after_poll(Reason.SERVER_DISCONNECT, now=1.0)
    assert f"in state {state.value}" in str(info.value)
    assert s.state is state


# -- polling outbox -----------------------------------------------------------------------------


def test_outbox_queue_and_drain() -> None:
    s = new_session()
    a, b = EncodedMessage.message("a"), EncodedMessage.message(b"\x01")
    s.queue(a)
    s.queue(b)
    assert s.outbox_bytes == a.wire_size() + b.wire_size()
    assert s.drain() == [a, b]
    assert s.drain() == []
    assert s.outbox_bytes == 0


def test_outbox_message_count_bound() -> None:
    s = new_session(max_outbox_messages=3)
    for i in range(3):
        s.queue(EncodedMessage.message(str(i)))
    with pytest.raises(OutboxFull):
        s.queue(EncodedMessage.message("x"))
    assert len(s.outbox) == 3  # the refused message was not queued
    s.drain()
    s.queue(EncodedMessage.message("x"))  # room again once drained


def test_outbox_byte_bound() -> None:
    s = new_session(max_outbox_bytes=100)
    big = EncodedMessage.message("x" * 80)
    assert big.wire_size() == 90
    s.queue(big)
    with pytest.raises(OutboxFull) as info:
        s.queue(EncodedMessage.message("y" * 20))
    assert "90 bytes" in str(info.value)
    s.queue(EncodedMessage.message(""))  # 10 bytes: exactly at the bound is fine
    assert s.outbox_bytes == 100


# -- packets -----------------------------------------------------------------------------------


def test_packet_type_numbers() -> None:
    assert [(t.name, int(t)) for t in PacketType] == [
        ("OPEN", 0), ("CLOSE", 1), ("PING", 2), ("PONG", 3),
        ("MESSAGE", 4), ("UPGRADE", 5), ("NOOP", 6),
    ]


def test_packet_encodings() -> None:
    assert EnginePacket(PacketType.MESSAGE, "hello").encode_text() == "4hello"
    assert EnginePacket(PacketType.MESSAGE, "hello").encode_polling() == "4hello"
    assert EnginePacket(PacketType.MESSAGE, "€€€").encode_text() == "4€€€"
    assert EnginePacket(PacketType.MESSAGE, b"\x01\x02\x03").encode_polling() == "bAQID"
    assert EnginePacket(PacketType.MESSAGE, b"").encode_polling() == "b"
    assert EnginePacket(PacketType.PING, "probe").encode_text() == "2probe"
    assert EnginePacket(PacketType.PONG, "probe").encode_text() == "3probe"
    assert EnginePacket(PacketType.NOOP).encode_text() == "6"
    assert EnginePacket(PacketType.CLOSE).encode_polling() == "1"
    with pytest.raises(ValueError):
        EnginePacket(PacketType.MESSAGE, b"\x01").encode_text()
    assert EnginePacket(PacketType.MESSAGE, b"x").binary
    assert not EnginePacket(PacketType.MESSAGE, "x").binary


def test_packets_are_frozen() -> None:
    p = EnginePacket(PacketType.MESSAGE, "x")
    with pytest.raises(AttributeError):
        p.data = "y"  # type: ignore[misc]


@pytest.mark.parametrize("ptype", list(PacketType))
@pytest.mark.parametrize("data", ["", "probe", "€", "{\"a\":1}", "4\x00"])
def test_text_roundtrip(ptype: PacketType, data: str) -> None:
    p = EnginePacket(ptype, data)
    assert decode_text(p.encode_text()) == p
    assert decode_text(p.encode_polling()) == p


@pytest.mark.parametrize("data", [b"", b"\x01\x02\x03", bytes(range(256)), b"b4"])
def test_binary_roundtrip(data: bytes) -> None:
    p = EnginePacket(PacketType.MESSAGE, data)
    assert decode_text(p.encode_polling()) == p
    assert decode_binary(data) == p


def test_decode_text_specifics() -> None:
    assert decode_text("bAQIDBA==") == EnginePacket(PacketType.MESSAGE, b"\x01\x02\x03\x04")
    # A `b` segment is binary on WebSocket text frames too (as in the reference).
    assert decode_text("bAA==").data == b"\x00"
    assert decode_binary(bytearray(b"\x05")) == EnginePacket(PacketType.MESSAGE, b"\x05")
    assert type(decode_binary(bytearray(b"\x05")).data) is bytes


@pytest.mark.parametrize("text", ["", "7", "9x", "a", "abc", " 4", "-1", "b!!!!", "bAQI", "b====", "\x1e"])
def test_decode_text_rejects(text: str) -> None:
    with pytest.raises(RemoteProtocolError):
        decode_text(text)


# -- payloads -----------------------------------------------------------------------------------


def test_payload_encoding() -> None:
    assert SEPARATOR == "\x1e"
    segments = [
        EnginePacket(PacketType.MESSAGE, "hello").encode_polling(),
        EnginePacket(PacketType.MESSAGE, b"\x01\x02\x03").encode_polling(),
        EnginePacket(PacketType.PING).encode_polling(),
    ]
    assert encode_payload(segments) == "4hello\x1ebAQID\x1e2"
    assert encode_payload(["6"]) == "6"


def test_payload_decoding() -> None:
    assert decode_payload("4hello\x1ebAQIDBA==", 0) == [
        EnginePacket(PacketType.MESSAGE, "hello"),
        EnginePacket(PacketType.MESSAGE, b"\x01\x02\x03\x04"),
    ]
    assert decode_payload("4test1\x1e4test2\x1e4test3", 3) == [
        EnginePacket(PacketType.MESSAGE, f"test{i}") for i in (1, 2, 3)
    ]
    assert decode_payload("3", 0) == [EnginePacket(PacketType.PONG)]


@pytest.mark.parametrize("body", ["", "4a\x1e", "\x1e4a", "4a\x1e\x1e4b", "4a\x1ex", "abc"])
def test_payload_decoding_rejects(body: str) -> None:
    with pytest.raises(RemoteProtocolError):
        decode_payload(body, 0)


def test_payload_packet_count_limit() -> None:
    body = SEPARATOR.join(["4x"] * 17)
    assert len(decode_payload(body, 0)) == 17  # 0: no count limit
    assert len(decode_payload(body, 17)) == 17
    with pytest.raises(RemoteProtocolError) as info:
        decode_payload(body, 16)
    assert "too many packets" in info.value.message


def test_body_decoding() -> None:
    assert decode_body("4€".encode(), jsonp=False) == "4€"
    with pytest.raises(RemoteProtocolError):
        decode_body(b"4\xff\xfe", jsonp=False)
    # JSONP posts a urlencoded form with the payload in `d`.
    assert decode_body(b"d=4hello", jsonp=True) == "4hello"
    assert decode_body(b"d=4%E2%82%AC%1E4b", jsonp=True) == "4€\x1e4b"
    assert decode_body(b"x=1&d=4a", jsonp=True) == "4a"
    assert decode_body(b"d", jsonp=True) == ""  # an empty payload; decode_payload refuses it
    for bad in (b"4hello", b"x=1", b"", b"&".join([b"a=1"] * 5)):
        with pytest.raises(RemoteProtocolError):
            decode_body(bad, jsonp=True)


def test_jsonp_wrap() -> None:
    assert jsonp_wrap(3, "4hello") == '___eio[3]("4hello");'
    assert jsonp_wrap(0, '4say "hi"') == '___eio[0]("4say \\"hi\\"");'
    wrapped = jsonp_wrap(12, "4a\x1e4b")
    assert wrapped.startswith("___eio[12](") and wrapped.endswith(");")
    assert json.loads(wrapped[len("___eio[12]("):-2]) == "4a\x1e4b"


# -- handshake and request validation ---------------------------------------------------------------


def test_open_packet_field_order_and_values() -> None:
    data = open_packet_data("abc", ["websocket"], config())
    assert data == (
        '{"sid":"abc","upgrades":["websocket"],"pingTimeout":20000,'
        '"pingInterval":25000,"maxPayload":1000000}'
    )
    assert list(json.loads(data)) == ["sid", "upgrades", "pingTimeout", "pingInterval", "maxPayload"]


@pytest.mark.parametrize(
    ("options", "interval", "timeout"),
    [
        ({}, 25000, 20000),
        ({"ping_interval": 0.3, "ping_timeout": 0.2}, 300, 200),
        ({"ping_interval": (25, 5)}, 30000, 20000),
        ({"ping_interval": [1, 0.5], "ping_timeout": 2}, 1500, 2000),
    ],
)
def test_advertised_heartbeat(options: dict[str, Any], interval: int, timeout: int) -> None:
    value = json.loads(open_packet_data("s", [], config(**options)))
    assert (value["pingInterval"], value["pingTimeout"]) == (interval, timeout)
    assert type(value["pingInterval"]) is int and type(value["pingTimeout"]) is int


def test_max_payload_is_max_http_buffer_size() -> None:
    assert json.loads(open_packet_data("s", [], config(max_http_buffer_size=1234)))["maxPayload"] == 1234


def test_parse_query() -> None:
    assert parse_query("") == {}
    assert parse_query("EIO=4&transport=polling&t=abc") == {"EIO": "4", "transport": "polling", "t": "abc"}
    assert parse_query("sid=a&sid=b") == {"sid": "a"}  # the first value wins
    assert parse_query("sid=%5F%5Fproto%5F%5F&x=a+b") == {"sid": "__proto__", "x": "a b"}
    assert parse_query("&&flag&=v") == {"flag": "", "": "v"}
    assert parse_query("sid=%FF") == {"sid": "\ufffd"}


def validate(method: str, query: str, upgrade: str = "", **options: Any) -> Any:
    return validate_request(method, parse_query(query), upgrade, config(**options))


def test_validate_request_accepts() -> None:
    req = validate("GET", "EIO=4&transport=polling")
    assert (req.method, req.transport, req.sid, req.jsonp_index, req.websocket_upgrade) == (
        "GET", "polling", None, None, False
    )
    req = validate("GET", "EIO=4&transport=polling&j=7")
    assert req.jsonp_index == 7
    req = validate("GET", "EIO=4&transport=websocket", upgrade="WebSocket")
    assert req.transport == "websocket" and req.websocket_upgrade
    # With a sid, EIO is not checked again (as in the reference).
    assert validate("POST", "transport=polling&sid=abc").sid == "abc"


@pytest.mark.parametrize(
    ("method", "query", "upgrade", "options", "message"),
    [
        ("GET", "EIO=4&transport=flashsocket", "", {}, "Transport unknown"),
        ("GET", "EIO=4&transport=websocket", "websocket", {"transports": ["polling"]}, "Transport unknown"),
        ("GET", "EIO=4&transport=polling", "", {"transports": ["websocket"]}, "Transport unknown"),
        ("GET", "EIO=3&transport=polling", "", {}, UNSUPPORTED_VERSION),
        ("GET", "transport=polling", "", {}, UNSUPPORTED_VERSION),
        ("GET", "EIO=abc&transport=polling", "", {}, UNSUPPORTED_VERSION),
        ("GET", "EIO=4&transport=polling&j=abc", "", {}, "Invalid JSONP index number"),
        ("GET", "EIO=4&transport=polling&j=-1", "", {}, "Invalid JSONP index number"),
        ("GET", "EIO=4&transport=polling&j=", "", {}, "Invalid JSONP index number"),
        ("GET", "EIO=4&transport=polling&j=%D9%A3", "", {}, "Invalid JSONP index number"),
        ("GET", "EIO=4&transport=polling&j=9999999999", "", {}, "Invalid JSONP index number"),
        ("GET", "EIO=4&transport=websocket", "", {}, "Bad request"),
        ("GET", "EIO=4&transport=websocket", "h2c", {}, "Bad request"),
        ("GET", "EIO=4&transport=polling&sid=", "", {}, "Session ID unknown"),
        ("GET", "EIO=4&transport=polling&sid=%C3%A9", "", {}, "Session ID unknown"),
        ("GET", "EIO=4&transport=polling&sid=a%0Ab", "", {}, "Session ID unknown"),
        ("POST", "EIO=4&transport=polling&sid=" + "x" * 10_000, "", {}, "Session ID unknown"),
    ],
)
def test_validate_request_rejects(
    method: str, query: str, upgrade: str, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(RemoteProtocolError) as info:
        validate(method, query, upgrade, **options)
    assert info.value.message == message
    assert info.value.status == 400
    # Node's Engine.IO error code for the condition (3, "Bad request", for ours: JSONP).
    codes = {"Transport unknown": 0, "Session ID unknown": 1, UNSUPPORTED_VERSION: 5}
    assert info.value.code == codes.get(message, 3)


def test_validation_order_matches_the_reference() -> None:
    # transport before EIO, EIO before j, j before the websocket upgrade check.
    with pytest.raises(RemoteProtocolError, match="Transport unknown"):
        validate("GET", "EIO=3&transport=nope&j=x")
    with pytest.raises(RemoteProtocolError, match="Unsupported protocol version"):
        validate("GET", "EIO=3&transport=polling&j=x")
    with pytest.raises(RemoteProtocolError, match="JSONP"):
        validate("GET", "EIO=4&transport=websocket&j=x")


# -- options ---------------------------------------------------------------------------------------


def test_option_validation() -> None:
    cfg = config(ping_interval=(10, 2), ping_timeout=5, transports="websocket", cookie="io")
    assert (cfg.ping_interval, cfg.ping_interval_grace, cfg.ping_timeout) == (10.0, 2.0, 5.0)
    assert cfg.transports == ("websocket",)
    assert cfg.advertised_ping_interval_ms == 12000
    for bad in (
        {"ping_interval": 0},
        {"ping_interval": (1, 2, 3)},
        {"ping_timeout": -1},
        {"transports": ["carrier-pigeon"]},
        {"max_http_buffer_size": -1},
    ):
        with pytest.raises(ValueError):
            config(**bad)


def test_unknown_options_are_reported() -> None:
    seen: list[str] = []
    build_config({"cors_allow_origins": "*", "monitor_clients": False}, seen.append)
    assert len(seen) == 1 and "cors_allow_origins" in seen[0]
    from engineio_core import EngineServer

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        EngineServer(async_mode="threading", pingInterval=3)
    assert any("pingInterval" in str(w.message) for w in caught)


# -- CORS -------------------------------------------------------------------------------------------


ENVIRON = {"wsgi.url_scheme": "http", "HTTP_HOST": "example.com:5000", "REQUEST_METHOD": "GET"}


def test_same_origin_default() -> None:
    policy = OriginPolicy(None, credentials=True)
    assert policy.allowed("http://example.com:5000", ENVIRON)
    assert not policy.allowed("http://example.com", ENVIRON)
    assert not policy.allowed("https://example.com:5000", ENVIRON)
    assert not policy.allowed("http://evil.example", ENVIRON)
    proxied = dict(ENVIRON, HTTP_X_FORWARDED_PROTO="https, http", HTTP_X_FORWARDED_HOST="public.example, x")
    assert same_origins(proxied) == {"http://example.com:5000", "https://public.example"}
    assert policy.allowed("https://public.example", proxied)


def test_listed_any_and_disabled_origins() -> None:
    listed = OriginPolicy(["http://a.example", "http://b.example"], credentials=False)
    assert listed.allowed("http://b.example", ENVIRON)
    assert not listed.allowed("http://example.com:5000", ENVIRON)  # the list replaces same-origin
    single = OriginPolicy("http://a.example", credentials=False)
    assert single.allowed("http://a.example", ENVIRON) and not single.allowed("http://b.example", ENVIRON)
    for setting in ("*", ["*"], ["http://a.example", "*"]):
        assert OriginPolicy(setting, credentials=False).allowed("http://anything", ENVIRON)
    disabled = OriginPolicy([], credentials=True)
    assert disabled.allowed("http://anything", ENVIRON)
    assert disabled.headers("http://anything", ENVIRON) == []


def test_callable_origins() -> None:
    one = OriginPolicy(lambda origin: origin.endswith(".good"), credentials=False)
    assert one.allowed("http://x.good", ENVIRON) and not one.allowed("http://x.bad", ENVIRON)
    seen: list[Any] = []

    def two(origin: str, environ: dict[str, Any]) -> bool:
        seen.append(environ)
        return environ["HTTP_HOST"] in origin

    policy = OriginPolicy(two, credentials=False)
    assert policy.allowed("http://example.com:5000", ENVIRON)
    assert seen == [ENVIRON]


def test_cors_headers() -> None:
    policy = OriginPolicy("*", credentials=True)
    assert policy.headers("http://a.example", ENVIRON) == [
        ("Access-Control-Allow-Origin", "http://a.example"),  # echoed, never '*'
        ("Access-Control-Allow-Credentials", "true"),
    ]
    # Credentials are announced even without an Origin (as observed in the reference).
    assert policy.headers(None, ENVIRON) == [("Access-Control-Allow-Credentials", "true")]
    options = dict(ENVIRON, REQUEST_METHOD="OPTIONS", HTTP_ACCESS_CONTROL_REQUEST_HEADERS="x-token")
    assert OriginPolicy("*", credentials=False).headers("http://a.example", options) == [
        ("Access-Control-Allow-Origin", "http://a.example"),
        ("Access-Control-Allow-Methods", "OPTIONS, GET, POST"),
        ("Access-Control-Allow-Headers", "x-token"),
    ]


# -- timers -----------------------------------------------------------------------------------------


def test_timer_heap() -> None:
    heap = TimerHeap()
    assert heap.next_deadline() is None and len(heap) == 0
    assert heap.pop_due(1e9) == []
    assert heap.push(10.0, "a") is True  # first entry: the loop must wake
    assert heap.push(20.0, "b") is False
    assert heap.push(5.0, "c") is True
    assert heap.push(5.0, "d") is False  # a tie is not earlier
    assert heap.next_deadline() == 5.0
    assert heap.pop_due(4.999) == []
    assert heap.pop_due(10.0) == [(5.0, "c"), (5.0, "d"), (10.0, "a")]  # ties in push order
    assert len(heap) == 1 and heap.next_deadline() == 20.0
    heap.push(20.0, "b")  # a duplicate (stale) entry is kept; its owner discards it
    assert heap.pop_due(20.0) == [(20.0, "b"), (20.0, "b")]


# -- encoded messages ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "header"),
    [
        (0, b"\x81\x00"),
        (125, b"\x81\x7d"),
        (126, b"\x81\x7e\x00\x7e"),
        (65535, b"\x81\x7e\xff\xff"),
        (65536, b"\x81\x7f\x00\x00\x00\x00\x00\x01\x00\x00"),
    ],
)
def test_ws_frame_header(size: int, header: bytes) -> None:
    payload = b"x" * size
    assert ws_frame(0x1, payload) == header + payload


@pytest.mark.parametrize("text", ["", "x" * 124, "x" * 125, "x" * 126, "é" * 62, "é" * 63, "€" * 41, "€" * 42, "y" * 70000])
def test_encoded_message_text_frame_is_the_general_frame(text: str) -> None:
    """The short-frame header table gives the frame `ws_frame` lays out, at every length
    boundary (the length counts UTF-8 bytes, with the packet type)."""
    message = EncodedMessage.message(text)
    assert message.ws_frame() == ws_frame(0x1, ("4" + text).encode("utf-8"))


def test_encoded_message_forms_are_built_once() -> None:
    text = EncodedMessage.message("hello")
    assert text.polling_segment() == "4hello"
    assert text.ws_payload() == "4hello"
    assert text.ws_frame() == b"\x81\x064hello"
    assert text.ws_frame() is text.ws_frame()
    assert text.polling_segment() is text.polling_segment()
    assert not text.binary
    binary = EncodedMessage.message(b"\x01\x02\x03")
    assert binary.binary
    assert binary.polling_segment() == "bAQID"
    assert binary.ws_payload() == b"\x01\x02\x03"
    assert binary.ws_frame() == b"\x82\x03\x01\x02\x03"
    assert base64.b64decode(binary.polling_segment()[1:]) == b"\x01\x02\x03"
    ping = EncodedMessage(EnginePacket(PacketType.PING))
    assert ping.ws_frame() == b"\x81\x012" and ping.polling_segment() == "2"
