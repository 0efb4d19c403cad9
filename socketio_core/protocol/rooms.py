"""Rooms of one process (PURE): namespace → room → {sid: eio_sid}, plus sid → rooms.

Every connected client is in the room named by its own sid and in the ``None`` room (everyone
connected to the namespace). Empty rooms are removed. A client cannot be put into another
client's sid room, and sid rooms cannot be closed (python-socketio 5.18 rules).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import Any

Room = Hashable


def room_list(value: Any) -> list[Any]:
    """A ``to=``/``skip_rooms=`` argument as a list of rooms: None is none, a list, tuple or
    set is its rooms, anything else is one room."""
    if value is None:
        return []
    if isinstance(value, (list, tuple, set, frozenset)):
        return list(value)
    return [value]


class RoomRegistry:
    __slots__ = ("_rooms", "_memberships", "_eio_sids")

    def __init__(self) -> None:
        # namespace -> room -> {sid: eio_sid}; dicts keep insertion (join) order.
        self._rooms: dict[str, dict[Room, dict[str, str]]] = {}
        # (namespace, sid) -> rooms, in the order they were entered
        self._memberships: dict[tuple[str, str], dict[Room, None]] = {}
        # (namespace, sid) -> eio_sid
        self._eio_sids: dict[tuple[str, str], str] = {}

    # -- connection ----------------------------------------------------------------------------
    def connect(self, namespace: str, sid: str, eio_sid: str) -> None:
        self._eio_sids[(namespace, sid)] = eio_sid
        self._memberships[(namespace, sid)] = {}
        self.enter(namespace, sid, None)
        self.enter(namespace, sid, sid)

    def disconnect(self, namespace: str, sid: str) -> None:
        for room in list(self._memberships.get((namespace, sid), ())):
            self.leave(namespace, sid, room)
        self._memberships.pop((namespace, sid), None)
        self._eio_sids.pop((namespace, sid), None)

    def is_connected(self, namespace: str, sid: str) -> bool:
        return (namespace, sid) in self._eio_sids

    def eio_sid(self, namespace: str, sid: str) -> str | None:
        return self._eio_sids.get((namespace, sid))

    # -- membership ----------------------------------------------------------------------------
    def enter(self, namespace: str, sid: str, room: Room) -> None:
        key = (namespace, sid)
        eio_sid = self._eio_sids.get(key)
        if eio_sid is None:
            raise KeyError(f"{sid} is not connected to {namespace}")
        if room is not None and room != sid and isinstance(room, str) and self._is_sid_room(namespace, room):
            raise ValueError(f"cannot enter room {room!r}: it is another client's sid room")
        self._rooms.setdefault(namespace, {}).setdefault(room, {})[sid] = eio_sid
        self._memberships[key][room] = None

    def leave(self, namespace: str, sid: str, room: Room) -> None:
        ns_rooms = self._rooms.get(namespace)
        if ns_rooms is None:
            return
        members = ns_rooms.get(room)
        if members is not None:
            members.pop(sid, None)
            if not members:
                del ns_rooms[room]
                if not ns_rooms:
                    del self._rooms[namespace]
        rooms = self._memberships.get((namespace, sid))
        if rooms is not None:
            rooms.pop(room, None)

    def close(self, namespace: str, room: Room) -> list[str]:
        """Remove every member from `room`; returns the sids that were in it."""
        if room is None or (isinstance(room, str) and self._is_sid_room(namespace, room)):
            raise ValueError(f"cannot close room {room!r}")
        members = list(self._rooms.get(namespace, {}).get(room, {}))
        for sid in members:
            self.leave(namespace, sid, room)
        return members

    def rooms_of(self, namespace: str, sid: str) -> list[Room]:
        return [r for r in self._memberships.get((namespace, sid), ()) if r is not None]

    def namespaces(self) -> list[str]:
        return list(self._rooms)

    def members(self, namespace: str, room: Room) -> dict[str, str]:
        """The live {sid: eio_sid} mapping of one room (do not mutate)."""
        return self._rooms.get(namespace, {}).get(room, {})

    def participants(
        self, namespace: str, rooms: Room | Iterable[Room], skip: frozenset[str] = frozenset()
    ) -> list[tuple[str, str]]:
        """(sid, eio_sid) of every member of one room or of the union of several, once each,
        as a new list (a snapshot: the rooms may change while it is used)."""
        ns_rooms = self._rooms.get(namespace)
        if not ns_rooms:
            return []
        if isinstance(rooms, (list, tuple, set, frozenset)):
            seen: set[str] = set(skip)
            out: list[tuple[str, str]] = []
            for room in rooms:
                for sid, eio_sid in ns_rooms.get(room, {}).items():
                    if sid not in seen:
                        seen.add(sid)
                        out.append((sid, eio_sid))
            return out
        members = ns_rooms.get(rooms, {})  # type: ignore[arg-type]
        if not skip:
            return list(members.items())  # the broadcast hot path: one C-level copy
        return [(sid, eio_sid) for sid, eio_sid in members.items() if sid not in skip]

    def _is_sid_room(self, namespace: str, room: str) -> bool:
        return (namespace, room) in self._eio_sids
