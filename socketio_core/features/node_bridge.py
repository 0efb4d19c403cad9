"""The Node bridge: one of our server processes as a member of a Node ``@socket.io/redis-adapter``
cluster (``SocketIO(node_adapter=True)``; the protocol is brokers/node_adapter.py).

It applies the Node cluster's broadcasts and requests to its own clients, answers fetches, and
mirrors its own broadcasts onto the Node channels (the outbound pipeline's `OutboundMirror`).
Our own nodes still talk to each other through the manager's channel; the bridge ignores
broadcasts whose uid is one of ours (``py-…``), which our nodes already got there.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import msgpack

from ..brokers.core import Listener, Publisher
from ..brokers.node_adapter import (
    DEFAULT_KEY,
    EVENT,
    OUR_UID_PREFIX,
    REMOTE_DISCONNECT,
    REMOTE_FETCH,
    REMOTE_JOIN,
    REMOTE_LEAVE,
    SERVER_SIDE_EMIT,
    NodeEmitter,
    broadcast_channel,
    encode_broadcast,
)
from ..brokers.redis_broker import (
    PUBLISH_TIMEOUT,
    RedisSender,
    RedisSubscription,
    connect,
    subscribe,
)
from ..protocol.rooms import room_list
from ..server.pipeline import NODE, Outbound

if TYPE_CHECKING:
    from ..server.server import SocketServer

logger = logging.getLogger("socketio_core.redis_adapter")


class NodeRedisBridge:
    """Makes a server process a member of a Node ``@socket.io/redis-adapter`` cluster.

    Outgoing, it is the outbound pipeline's mirror: each broadcast this process originates is
    submitted to one ordered, bounded, batched `core.Publisher` (one Redis connection, one
    round trip for what queued up meanwhile, never a thread per emit), so a burst reaches the
    Node servers complete and in emit order. Incoming, one `core.Listener` reads the Node
    channels and applies their broadcasts through the pipeline, in arrival order. Redis
    clients fail fast (`redis_broker.connect`)."""

    def __init__(self, server: SocketServer, url: str, key: str = DEFAULT_KEY, namespaces: list[str] | None = None,
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


# The old module path ``socketio_core.redis_adapter`` (socketio_core/__init__.py) is this module:
# it offers the protocol's names and `NodeEmitter` too.
__all__ = ["DEFAULT_KEY", "NodeEmitter", "NodeRedisBridge", "broadcast_channel", "encode_broadcast"]
