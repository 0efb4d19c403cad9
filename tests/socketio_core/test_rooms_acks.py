"""Unit tests of the pure room registry (`rooms.RoomRegistry`) and ack table (`acks.AckTracker`),
plus the `LocalManager` that combines them."""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any

import pytest

from engineio_core.drivers.threading_driver import ThreadingDriver
from socketio_core.protocol.acks import AckTracker
from socketio_core.protocol.packets import MAX_ACK_ID
from socketio_core.protocol.rooms import RoomRegistry
from socketio_core.server.manager import LocalManager, ManagerHost

NS = "/"


def registry(*clients: tuple[str, str], namespace: str = NS) -> RoomRegistry:
    rooms = RoomRegistry()
    for sid, eio_sid in clients:
        rooms.connect(namespace, sid, eio_sid)
    return rooms


def members(rooms: RoomRegistry, room: Any, namespace: str = NS) -> dict[str, str]:
    return dict(rooms.members(namespace, room))


# -- RoomRegistry ----------------------------------------------------------------------------


def test_connect_enters_the_sid_room_and_the_none_room() -> None:
    rooms = registry(("a", "ea"), ("b", "eb"))
    assert members(rooms, None) == {"a": "ea", "b": "eb"}
    assert members(rooms, "a") == {"a": "ea"}
    assert members(rooms, "b") == {"b": "eb"}
    assert rooms.rooms_of(NS, "a") == ["a"]  # the None room is not listed
    assert rooms.is_connected(NS, "a")
    assert rooms.eio_sid(NS, "a") == "ea"
    assert rooms.namespaces() == [NS]


def test_namespaces_are_separate() -> None:
    rooms = registry(("a", "ea"))
    rooms.connect("/chat", "c", "ea")
    rooms.enter("/chat", "c", "lobby")
    assert members(rooms, "lobby") == {}
    assert members(rooms, "lobby", "/chat") == {"c": "ea"}
    assert not rooms.is_connected(NS, "c")
    assert sorted(rooms.namespaces()) == ["/", "/chat"]
    with pytest.raises(KeyError):
        rooms.enter(NS, "c", "lobby")  # c is not connected to "/"


def test_enter_and_leave() -> None:
    rooms = registry(("a", "ea"), ("b", "eb"))
    rooms.enter(NS, "a", "r")
    rooms.enter(NS, "b", "r")
    rooms.enter(NS, "a", "r")  # idempotent
    assert members(rooms, "r") == {"a": "ea", "b": "eb"}
    assert sorted(rooms.rooms_of(NS, "a")) == ["a", "r"]
    rooms.leave(NS, "a", "r")
    assert members(rooms, "r") == {"b": "eb"}
    assert rooms.rooms_of(NS, "a") == ["a"]
    rooms.leave(NS, "a", "r")  # not a member any more: no error
    rooms.leave(NS, "a", "never-existed")
    rooms.leave("/elsewhere", "a", "r")


def test_non_string_room_names() -> None:
    rooms = registry(("a", "ea"))
    rooms.enter(NS, "a", 42)
    rooms.enter(NS, "a", ("t", 1))
    assert members(rooms, 42) == {"a": "ea"}
    assert sorted(map(str, rooms.rooms_of(NS, "a"))) == sorted(["a", "42", "('t', 1)"])
    assert rooms.close(NS, 42) == ["a"]


def test_empty_rooms_are_removed() -> None:
    rooms = registry(("a", "ea"))
    rooms.enter(NS, "a", "r")
    rooms.leave(NS, "a", "r")
    assert "r" not in rooms._rooms[NS]
    rooms.disconnect(NS, "a")
    assert NS not in rooms._rooms  # the namespace went with its last room
    assert rooms.namespaces() == []
    assert not rooms._memberships and not rooms._eio_sids


def test_disconnect_leaves_every_room() -> None:
    rooms = registry(("a", "ea"), ("b", "eb"))
    for room in ("r1", "r2", 3):
        rooms.enter(NS, "a", room)
    rooms.enter(NS, "b", "r1")
    rooms.disconnect(NS, "a")
    assert not rooms.is_connected(NS, "a")
    assert rooms.eio_sid(NS, "a") is None
    assert rooms.rooms_of(NS, "a") == []
    assert members(rooms, "r1") == {"b": "eb"}
    assert members(rooms, None) == {"b": "eb"}
    assert "r2" not in rooms._rooms[NS] and 3 not in rooms._rooms[NS] and "a" not in rooms._rooms[NS]
    rooms.disconnect(NS, "a")  # twice: no error


def test_close_room() -> None:
    rooms = registry(("a", "ea"), ("b", "eb"), ("c", "ec"))
    rooms.enter(NS, "a", "r")
    rooms.enter(NS, "b", "r")
    assert sorted(rooms.close(NS, "r")) == ["a", "b"]
    assert members(rooms, "r") == {}
    assert "r" not in rooms._rooms[NS]
    assert rooms.rooms_of(NS, "a") == ["a"]
    assert rooms.close(NS, "r") == []  # gone already
    assert rooms.close("/nowhere", "r") == []


def test_cannot_enter_another_clients_sid_room() -> None:
    rooms = registry(("a", "ea"), ("b", "eb"))
    with pytest.raises(ValueError, match="sid room"):
        rooms.enter(NS, "a", "b")
    assert members(rooms, "b") == {"b": "eb"}
    rooms.enter(NS, "a", "a")  # its own: harmless
    assert members(rooms, "a") == {"a": "ea"}


def test_sid_rooms_are_per_namespace() -> None:
    rooms = registry(("a", "ea"))
    rooms.connect("/chat", "b", "eb")
    rooms.enter(NS, "a", "b")  # "b" is a sid in /chat only: an ordinary room name in "/"
    assert members(rooms, "b") == {"a": "ea"}


def test_cannot_close_a_sid_room_or_the_none_room() -> None:
    rooms = registry(("a", "ea"))
    with pytest.raises(ValueError):
        rooms.close(NS, "a")
    with pytest.raises(ValueError):
        rooms.close(NS, None)
    assert members(rooms, "a") == {"a": "ea"}
    assert members(rooms, None) == {"a": "ea"}


def test_participants_of_one_room() -> None:
    rooms = registry(("a", "ea"), ("b", "eb"), ("c", "ec"))
    rooms.enter(NS, "a", "r")
    rooms.enter(NS, "c", "r")
    assert list(rooms.participants(NS, "r")) == [("a", "ea"), ("c", "ec")]  # join order
    assert list(rooms.participants(NS, "r", frozenset({"a"}))) == [("c", "ec")]
    assert list(rooms.participants(NS, None)) == [("a", "ea"), ("b", "eb"), ("c", "ec")]
    assert list(rooms.participants(NS, "b")) == [("b", "eb")]
    assert list(rooms.participants(NS, "nobody")) == []
    assert list(rooms.participants("/nowhere", None)) == []


def test_participants_union_of_several_rooms_with_skip() -> None:
    rooms = registry(("a", "ea"), ("b", "eb"), ("c", "ec"), ("d", "ed"))
    rooms.enter(NS, "a", "r1")
    rooms.enter(NS, "b", "r1")
    rooms.enter(NS, "b", "r2")
    rooms.enter(NS, "c", "r2")
    union = list(rooms.participants(NS, ["r1", "r2"]))
    assert union == [("a", "ea"), ("b", "eb"), ("c", "ec")]  # b once
    assert list(rooms.participants(NS, ("r2", "r1"), frozenset({"b"}))) == [("c", "ec"), ("a", "ea")]
    assert list(rooms.participants(NS, {"r1"}, frozenset({"a", "b"}))) == []
    assert list(rooms.participants(NS, ["r1", "d", "missing"])) == [("a", "ea"), ("b", "eb"), ("d", "ed")]
    assert list(rooms.participants(NS, [])) == []


def test_participants_tolerate_changes_while_iterating() -> None:
    rooms = registry(("a", "ea"), ("b", "eb"), ("c", "ec"))
    seen = []
    for sid, _ in rooms.participants(NS, None):
        seen.append(sid)
        rooms.disconnect(NS, sid)  # e.g. a send failure disconnecting the recipient
    assert seen == ["a", "b", "c"]


# -- AckTracker ------------------------------------------------------------------------------


def cb(*args: Any) -> None:
    pass


def test_ack_ids_count_from_one_per_sid() -> None:
    acks = AckTracker()
    assert [acks.register("a", cb) for _ in range(3)] == [1, 2, 3]
    assert acks.register("b", cb) == 1
    assert acks.register("a", cb) == 4
    assert acks.pending("a") == 4
    assert acks.pending("b") == 1
    assert acks.pending("nobody") == 0


def test_ack_pop_returns_the_callback_once() -> None:
    acks = AckTracker()
    first, second = (lambda: 1), (lambda: 2)
    assert acks.register("a", first) == 1
    assert acks.register("a", second) == 2
    assert acks.pop("a", 2) is second
    assert acks.pop("a", 2) is None
    assert acks.pop("a", 99) is None
    assert acks.pop("b", 1) is None
    assert acks.pop("a", 1) is first
    assert acks.pending("a") == 0
    assert "a" not in acks._pending  # no empty tables left behind
    assert acks.register("a", cb) == 3  # ids are not reused after a pop


def test_ack_drop_on_disconnect() -> None:
    acks = AckTracker()
    acks.register("a", cb)
    acks.register("a", cb)
    acks.register("b", cb)
    acks.drop("a")
    assert acks.pending("a") == 0
    assert acks.pop("a", 1) is None
    assert acks.pending("b") == 1
    assert acks.register("a", cb) == 1  # a new client with that sid starts over
    acks.drop("nobody")


def test_ack_drop_callback() -> None:
    acks = AckTracker()
    keep, gone = (lambda: 1), (lambda: 2)
    acks.register("a", gone)
    acks.register("a", keep)
    acks.register("a", gone)
    acks.drop_callback("a", gone)
    assert acks.pending("a") == 1
    assert acks.pop("a", 2) is keep
    acks.register("b", gone)
    acks.drop_callback("b", gone)
    assert "b" not in acks._pending
    acks.drop_callback("nobody", gone)


def test_ack_ids_wrap_at_the_largest_safe_integer() -> None:
    acks = AckTracker()
    acks._next["a"] = MAX_ACK_ID
    assert acks.register("a", cb) == MAX_ACK_ID
    assert acks.register("a", cb) == 1


# -- LocalManager ----------------------------------------------------------------------------


class FakeServer:
    """Collects what the manager delivers; encodes a packet as its repr."""

    def __init__(self) -> None:
        self.delivered: list[tuple[list[tuple[str, str]], list[Any]]] = []

    def encode(self, packet: Any) -> list[Any]:
        return [packet]

    def deliver(self, recipients: Any, parts: Any) -> None:
        self.delivered.append((list(recipients), list(parts)))


def manager() -> tuple[LocalManager, FakeServer]:
    m = LocalManager()
    server = FakeServer()
    m.attach(ManagerHost(encode=server.encode, deliver=server.deliver, disconnect=lambda sid, ns: None,
                         lock=nullcontext(), driver=ThreadingDriver()))
    return m, server


def test_manager_connect_disconnect() -> None:
    m, _ = manager()
    sid = m.connect("e1", NS)
    assert len(sid) == 22  # 128 bits from the CSPRNG
    assert m.connect("e1", NS) != sid  # fresh every time
    assert m.is_connected(sid, NS)
    assert m.sid_from_eio_sid("e1", "/chat") is None
    assert m.eio_sid_from_sid(sid, NS) == "e1"
    m.acks.register(sid, cb)
    m.disconnect(sid, NS)
    assert not m.is_connected(sid, NS)
    assert m.acks.pending(sid) == 0
    assert m.eio_sid_from_sid(sid, NS) is None


def test_manager_emit_encodes_once_for_a_room() -> None:
    m, server = manager()
    a, b, c = (m.connect(e, NS) for e in ("ea", "eb", "ec"))
    m.enter_room(a, NS, "r")
    m.enter_room(b, NS, "r")
    m.emit("ev", [1], NS, room="r")
    assert len(server.delivered) == 1
    recipients, parts = server.delivered[0]
    assert sorted(recipients) == sorted([(a, "ea"), (b, "eb")])
    assert parts[0].data == ["ev", 1] and parts[0].id is None
    server.delivered.clear()
    m.emit("ev", [], NS, room=["r", c], skip_sid=[a])
    assert sorted(server.delivered[0][0]) == sorted([(b, "eb"), (c, "ec")])
    server.delivered.clear()
    m.emit("ev", [], NS, room="empty")
    assert server.delivered == []


def test_manager_emit_with_callback_gives_each_recipient_its_own_id() -> None:
    m, server = manager()
    a, b = m.connect("ea", NS), m.connect("eb", NS)
    got: list[Any] = []
    m.emit("ev", [], NS, callback=lambda *args: got.append(args))
    m.emit("ev", [], NS, room=a, callback=lambda *args: got.append(args))
    ids = [(r[0][0], p[0].id) for r, p in server.delivered]
    assert ids == [(a, 1), (b, 1), (a, 2)]
    assert m.trigger_callback(a, 2, ["x", 1])
    assert got == [("x", 1)]
    assert not m.trigger_callback(a, 2, [])  # once
    assert not m.trigger_callback(b, 7, [])


def test_manager_enter_room_of_unknown_sid_is_ignored() -> None:
    m, _ = manager()
    m.enter_room("ghost", NS, "r")
    assert m.get_rooms("ghost", NS) == []
    a = m.connect("ea", NS)
    b = m.connect("eb", NS)
    with pytest.raises(ValueError):
        m.enter_room(a, NS, b)
    with pytest.raises(ValueError):
        m.close_room(a, NS)
