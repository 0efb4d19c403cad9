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
servers that run a `NodeRedisBridge`). `NodeRedisBridge` makes one of our server processes a
member of a Node cluster: it applies the broadcasts and requests above to its own clients,
answers fetches, and mirrors its own broadcasts onto the Node channels. Our own nodes still
talk to each other through the manager's channel; the bridge ignores broadcasts whose uid is
one of ours (``py-…``), which our nodes already got there.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from typing import Any

import msgpack

from ..protocol.rooms import room_list
from ..server.pipeline import NODE, Outbound
from .core import Listener, Publisher
from .redis_broker import PUBLISH_TIMEOUT, RedisSender, RedisSubscription, connect, subscribe

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


class NodeRedisBridge:
    """Makes a server process a member of a Node ``@socket.io/redis-adapter`` cluster.

    Outgoing, it is the outbound pipeline's mirror: each broadcast this process originates is
    submitted to one ordered, bounded, batched `core.Publisher` (one Redis connection, one
    round trip for what queued up meanwhile, never a thread per emit), so a burst reaches the
    Node servers complete and in emit order. Incoming, one `core.Listener` reads the Node
    channels and applies their broadcasts through the pipeline, in arrival order. Redis
    clients fail fast (`redis_broker.connect`)."""

    def __init__(self, server: Any, url: str, key: str = DEFAULT_KEY, namespaces: list[str] | None = None,
                 redis_options: dict[str, Any] | None = None) -> None:
        self.server = server
        self.url = url
        self.key = key
        self.uid = OUR_UID_PREFIX + uuid.uuid4().hex[:12]
        self.namespaces = namespaces or ["/"]
        self.redis_options = redis_options
        driver = server.eio.driver
        self.sender = RedisSender(lambda: connect(self.url, self.redis_options, socket_timeout=PUBLISH_TIMEOUT))
        self.publisher: Publisher[tuple[str, bytes | str]] = Publisher(
            driver, self.sender.send, "socketio-node-publisher", "Node cluster", logger)
        self.listener: Listener[tuple[str, bytes]] = Listener(
            driver, self._subscribe, self._handle_message, "socketio-node-listener", "Node channel",
            f"the Node channels {key!r}", logger)
        server.pipeline.mirrors.append(self)
        server.when_running(self.start)

    # -- outgoing -------------------------------------------------------------------------------
    def mirror(self, out: Outbound) -> None:
        """The outbound pipeline's mirror stage: our broadcast, for the Node servers of the
        cluster (their clients), with its except-rooms and volatile flag."""
        to = out.rooms
        namespace = out.namespace
        if isinstance(to, str) and self.server.manager.is_connected(to, namespace):
            return  # to a client of this process
        rooms = room_list(to)
        data = encode_broadcast(self.uid, out.event, out.args, namespace, rooms, out.skip_list(), out.volatile)
        self.publisher.submit((broadcast_channel(self.key, namespace, rooms), data))

    # -- incoming -------------------------------------------------------------------------------
    def start(self) -> None:
        """Start listening (once the server runs: `SocketServer.when_running`, or by hand)."""
        self.listener.start()

    def _subscribe(self) -> RedisSubscription:
        # Plain subscriptions for the requests: Node servers count the answers they wait for
        # with NUMSUB.
        return subscribe(connect(self.url, self.redis_options), patterns=[f"{self.key}#*"],
                         channels=[f"{self.key}-request#{ns}#" for ns in self.namespaces], with_channel=True)

    def _handle_message(self, message: tuple[str, bytes]) -> None:
        channel, data = message
        try:
            prefix = f"{self.key}-request#"
            if channel.startswith(prefix):
                self._handle_request(channel[len(prefix):-1] or "/", data)
            elif channel.startswith(f"{self.key}#"):
                self._handle_broadcast(data)
        except Exception as exc:
            logger.warning("ignoring a bad message on %s: %s", channel, exc)

    def _handle_broadcast(self, data: bytes) -> None:
        message = msgpack.unpackb(data, raw=False)
        if not (isinstance(message, list) and len(message) == 3):
            raise ValueError("not [uid, packet, opts]")
        uid, packet, opts = message
        if isinstance(uid, str) and uid.startswith(OUR_UID_PREFIX):
            return  # one of ours: our nodes got it on the manager's channel
        if not isinstance(packet, dict) or packet.get("type") != EVENT:
            raise ValueError("not an EVENT packet")
        namespace = packet.get("nsp") or "/"
        args = packet.get("data")
        if not isinstance(namespace, str) or not isinstance(args, list) or not args or not isinstance(args[0], str):
            raise ValueError("bad packet")
        opts = opts if isinstance(opts, dict) else {}
        flags: dict[str, Any] = opts["flags"] if isinstance(opts.get("flags"), dict) else {}
        rooms = opts.get("rooms") or None
        skip = opts.get("except") or []
        if not isinstance(skip, list) or (rooms is not None and not isinstance(rooms, list)):
            raise ValueError("bad rooms")
        self.server.pipeline.apply(Outbound(args[0], args[1:], namespace, rooms, except_rooms=tuple(skip),
                                            volatile=bool(flags.get("volatile")), origin=NODE), None)

    def _handle_request(self, namespace: str, data: bytes) -> None:
        request = json.loads(data) if data[:1] == b"{" else msgpack.unpackb(data, raw=False)
        if not isinstance(request, dict):
            raise ValueError("not an object")
        if isinstance(request.get("uid"), str) and request["uid"].startswith(OUR_UID_PREFIX):
            return
        kind = request.get("type")
        opts: dict[str, Any] = request["opts"] if isinstance(request.get("opts"), dict) else {}
        cluster = self.server.cluster
        message = {"namespace": namespace, "to": opts.get("rooms") or None, "skip": opts.get("except") or None}
        if kind in (REMOTE_JOIN, REMOTE_LEAVE) and "opts" in request:
            cluster.apply_local({**message, "kind": "join" if kind == REMOTE_JOIN else "leave",
                                  "rooms": room_list(request.get("rooms"))})
        elif kind == REMOTE_DISCONNECT and "opts" in request:
            cluster.apply_local({**message, "kind": "disconnect"})
        elif kind == REMOTE_FETCH:
            sockets = [{"id": s["id"], "handshake": s["handshake"], "rooms": s["rooms"], "data": None}
                       for s in cluster.local_infos(namespace, message["to"], message["skip"])]
            self.publisher.submit((f"{self.key}-response#{namespace}#",
                                   json.dumps({"requestId": request.get("requestId"), "sockets": sockets})))
        elif kind == SERVER_SIDE_EMIT and isinstance(request.get("data"), list) and request["data"]:
            event, *args = request["data"]
            handler: Callable[..., Any] | None = cluster.server_handlers.get(namespace, {}).get(event)
            if handler is not None and request.get("requestId") is None:
                self.server.eio.driver.spawn(handler, *args)
