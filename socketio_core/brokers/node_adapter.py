"""Node interop on Redis: the protocol of ``@socket.io/redis-adapter`` and ``@socket.io/redis-emitter``.

What the npm packages (adapter 8.3, emitter 5.1) put on Redis, as observed on a real
redis-server (docs/cluster.md has the interop matrix):

* Broadcasts: channel ``<key>#<nsp>#`` (or ``<key>#<nsp>#<room>#`` when exactly one room is
  targeted), payload msgpack ``[uid, packet, opts]`` with ``packet = {"type": 2, "data":
  [event, *args], "nsp": nsp}`` and ``opts = {"rooms": [...], "except": [...], "flags":
  {"volatile"?: bool, ...}}``. Servers pattern-subscribe to ``<key>#<nsp>#*`` and ignore
  their own uid. The emitter's uid is ``"emitter"``.
* Requests: channel ``<key>-request#<nsp>#``, JSON (or msgpack) objects with a numeric
  ``type``: 2 join, 3 leave, 4 disconnect (each with ``opts: {rooms, except}``), 5 fetch
  (answered on ``<key>-response#<nsp>#`` with ``{requestId, sockets: [{id, handshake, rooms,
  data}]}``), 6 server-side emit (``data``: the arguments).

`NodeEmitter` is a write-only emitter that speaks this protocol (to Node servers, and to our
servers that run a `features.node_bridge.NodeRedisBridge`, the feature that makes one of our
server processes a member of a Node cluster).
"""

from __future__ import annotations

import json
import logging
from typing import Any

import msgpack

from ..protocol.rooms import room_list
from .redis_broker import PUBLISH_TIMEOUT, connect

logger = logging.getLogger("socketio_core.redis_adapter")

DEFAULT_KEY = "socket.io"
EVENT = 2
REMOTE_JOIN, REMOTE_LEAVE, REMOTE_DISCONNECT, REMOTE_FETCH, SERVER_SIDE_EMIT = 2, 3, 4, 5, 6
OUR_UID_PREFIX = "py-"


def broadcast_channel(key: str, namespace: str, rooms: list[Any]) -> str:
    channel = f"{key}#{namespace}#"
    if len(rooms) == 1:
        channel += f"{rooms[0]}#"
    return channel


def encode_broadcast(uid: str, event: str, args: list[Any], namespace: str, rooms: list[Any],
                     skip: list[Any], volatile: bool = False) -> bytes:
    """The msgpack message of a broadcast, as the adapter and the emitter write it."""
    flags: dict[str, Any] = {"volatile": True} if volatile else {}
    packet = {"type": EVENT, "data": [event, *args], "nsp": namespace}
    data: bytes = msgpack.packb([uid, packet, {"rooms": rooms, "except": skip, "flags": flags}], use_bin_type=True)
    return data


class NodeEmitter:
    """A write-only emitter for a Node (or mixed) cluster on Redis: what
    ``@socket.io/redis-emitter`` does, from Python.

        emitter = NodeEmitter("redis://127.0.0.1:6379/0")
        emitter.emit("news", {"id": 7}, to="room1", skip_rooms="muted", namespace="/")
        emitter.sockets_join("vip", to="room1")
    """

    def __init__(self, url: str, key: str = DEFAULT_KEY, redis_options: dict[str, Any] | None = None) -> None:
        self.key = key
        self.redis = connect(url, redis_options, socket_timeout=PUBLISH_TIMEOUT)  # fails fast

    def emit(self, event: str, *args: Any, to: Any = None, skip_rooms: Any = None, namespace: str = "/",
             volatile: bool = False) -> None:
        rooms = room_list(to)
        data = encode_broadcast("emitter", event, list(args), namespace, rooms, room_list(skip_rooms), volatile)
        self.redis.publish(broadcast_channel(self.key, namespace, rooms), data)

    def _request(self, namespace: str, request: dict[str, Any]) -> None:
        self.redis.publish(f"{self.key}-request#{namespace}#", json.dumps(request))

    def sockets_join(self, rooms: Any, to: Any = None, skip_rooms: Any = None, namespace: str = "/") -> None:
        self._request(namespace, {"type": REMOTE_JOIN, "opts": {"rooms": room_list(to), "except": room_list(skip_rooms)},
                                  "rooms": room_list(rooms)})

    def sockets_leave(self, rooms: Any, to: Any = None, skip_rooms: Any = None, namespace: str = "/") -> None:
        self._request(namespace, {"type": REMOTE_LEAVE, "opts": {"rooms": room_list(to), "except": room_list(skip_rooms)},
                                  "rooms": room_list(rooms)})

    def disconnect_sockets(self, to: Any = None, skip_rooms: Any = None, namespace: str = "/", close: bool = False) -> None:
        self._request(namespace, {"type": REMOTE_DISCONNECT,
                                  "opts": {"rooms": room_list(to), "except": room_list(skip_rooms)}, "close": close})

    def server_emit(self, event: str, *args: Any, namespace: str = "/") -> None:
        self._request(namespace, {"uid": "emitter", "type": SERVER_SIDE_EMIT, "data": [event, *args]})

    def close(self) -> None:
        self.redis.close()
