"""Connection state recovery through the Flask API and its test client."""

from __future__ import annotations

from typing import Any

import flask
import pytest

from flask_socketio import SocketIO, emit, join_room


def make_app(**recovery: Any) -> tuple[flask.Flask, SocketIO, list[Any]]:
    app = flask.Flask(__name__)
    app.config["SECRET_KEY"] = "test"
    socketio = SocketIO(app, connection_state_recovery=recovery or True)
    seen: list[Any] = []

    @socketio.on("connect")
    def connect() -> None:
        seen.append(("connect", flask.request.sid, flask.request.recovered))

    @socketio.on("join")
    def join(room: str, name: str) -> None:
        join_room(room)
        flask.session["name"] = name

    @socketio.on("whoami")
    def whoami() -> None:
        emit("you", {"name": flask.session.get("name"), "recovered": flask.request.recovered})

    return app, socketio, seen


def test_the_test_client_recovers_rooms_session_and_missed_messages() -> None:
    app, socketio, seen = make_app()
    client = socketio.test_client(app)
    client.emit("join", "lobby", "ann")
    socketio.emit("news", 0, to="lobby")
    assert client.get_received() == [{"name": "news", "args": [0], "namespace": "/"}]
    client.drop()
    for i in range(1, 4):
        socketio.emit("news", i, to="lobby")
    assert client.reconnect() is True
    assert [m["args"] for m in client.get_received()] == [[1], [2], [3]]
    client.emit("whoami")
    assert client.get_received()[-1]["args"] == [{"name": "ann", "recovered": True}]
    assert len(seen) == 1  # skip_middlewares: connect ran once
    socketio.emit("news", 4, to="lobby")
    assert [m["args"] for m in client.get_received()] == [[4]]


def test_without_skip_middlewares_the_connect_handler_sees_recovered() -> None:
    app, socketio, seen = make_app(skip_middlewares=False)
    client = socketio.test_client(app)
    client.emit("join", "lobby", "bob")
    socketio.emit("news", 0, to="lobby")
    client.get_received()
    client.drop()
    socketio.emit("news", 1, to="lobby")
    assert client.reconnect() is True
    assert [s[2] for s in seen] == [False, True] and seen[0][1] == seen[1][1]
    assert [m["args"] for m in client.get_received()] == [[1]]


def test_a_normal_disconnect_is_not_recovered() -> None:
    app, socketio, seen = make_app()
    client = socketio.test_client(app)
    client.emit("join", "lobby", "cid")
    socketio.emit("news", 0, to="lobby")
    client.get_received()
    client.disconnect()
    socketio.emit("news", 1, to="lobby")
    assert client.reconnect() is False
    assert client.get_received() == []


def test_bad_options_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown connection_state_recovery options"):
        SocketIO(flask.Flask(__name__), connection_state_recovery={"maxDisconnectionDuration": 1})


def _recovers(option: Any) -> bool:
    """Whether a dropped test client of a server built with `option` gets its session back."""
    app = flask.Flask(__name__)
    socketio = SocketIO(app, connection_state_recovery=option)

    @socketio.on("join")
    def join(room: str) -> None:
        join_room(room)

    client = socketio.test_client(app)
    client.emit("join", "lobby")
    socketio.emit("news", 0, to="lobby")  # the client recovers from the offset of a packet
    assert [m["args"] for m in client.get_received()] == [[0]]
    client.drop()
    socketio.emit("news", 1, to="lobby")
    recovered = client.reconnect()
    received = [m["args"] for m in client.get_received()]
    assert received == ([[1]] if recovered else []), received
    return recovered


@pytest.mark.parametrize(("option", "on"), [({}, True), (True, True), ({"max_buffered_packets": 5}, True),
                                            (False, False), (None, False)])
def test_an_empty_dict_turns_recovery_on_with_the_defaults(option: Any, on: bool) -> None:
    """Node's ``connectionStateRecovery: {}`` is on with its defaults; so is ours."""
    assert _recovers(option) is on


@pytest.mark.parametrize("option", [0, 1, "yes", ["max_buffered_packets"]])
def test_a_wrong_type_is_a_clear_error(option: Any) -> None:
    with pytest.raises(TypeError, match="connection_state_recovery must be True, False or a dict"):
        SocketIO(flask.Flask(__name__), connection_state_recovery=option)


def test_broadcasts_with_skip_rooms_are_replayed_filtered_volatile_and_acks_not() -> None:
    """Node's rules (socket.io 4.8, checked by running it): an event broadcast without an ack
    and not volatile is logged with its rooms and except-rooms and replayed filtered."""
    app, socketio, _ = make_app()
    client = socketio.test_client(app)
    client.emit("join", "lobby", "ann")
    socketio.emit("tick", -1, to="lobby")
    client.get_received()
    client.drop()
    for i in range(20):
        socketio.emit("tick", i, to="lobby", skip_rooms="muted")
    socketio.emit("tick", "skipped", to="lobby", skip_rooms="lobby")  # its own room: filtered
    socketio.emit("tick", "volatile", to="lobby", volatile=True)  # never replayed
    socketio.emit("tick", "ack", to="lobby", callback=lambda *a: None, timeout=1)  # never replayed
    assert client.reconnect() is True
    assert [m["args"][0] for m in client.get_received()] == list(range(20))


def test_an_older_offset_of_another_client_replays_nothing() -> None:
    """Issue 21 #1, the issue's reproduction: C reconnects with its own pid and A's older
    offset; what was broadcast before C existed is not replayed to it (no recovery at all)."""
    app, socketio, _ = make_app()
    a = socketio.test_client(app)
    socketio.emit("news", "seen by A")
    a.get_received()
    a_offset = a.offsets["/"]
    socketio.emit("news", "sent-before-C-existed")
    c = socketio.test_client(app)
    socketio.emit("news", "for both")
    assert [m["args"] for m in c.get_received()] == [["for both"]]
    c.drop()
    c.offsets["/"] = a_offset
    assert c.reconnect() is False
    assert c.get_received() == []
    # C's own offset still recovers (the floor does not refuse what is C's).
    c.drop()
    socketio.emit("news", "missed by C")
    assert c.reconnect() is False  # a new session: its first pid was parked with no offset


def test_an_include_self_false_emit_is_not_replayed_to_its_sender() -> None:
    """Issue 21 #7 (mutant: the skipped sids ignored at replay): what the sender was kept out
    of live is not replayed to it either; the others' copies are."""
    app, socketio, _ = make_app()

    @socketio.on("shout")
    def shout(text: str) -> None:
        emit("heard", text, to="lobby", include_self=False)

    a = socketio.test_client(app)
    b = socketio.test_client(app)
    for client, name in ((a, "ann"), (b, "bob")):
        client.emit("join", "lobby", name)
    socketio.emit("news", "mark", to="lobby")
    a.get_received()
    b.get_received()
    a.emit("shout", "from ann")
    assert a.get_received() == []
    b.drop()
    a.drop()
    socketio.emit("news", "after", to="lobby")
    assert a.reconnect() is True and b.reconnect() is True
    assert [(m["name"], m["args"]) for m in a.get_received()] == [("news", ["after"])]
    assert [(m["name"], m["args"]) for m in b.get_received()] == [("heard", ["from ann"]), ("news", ["after"])]
