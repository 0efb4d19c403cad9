"""`PubSubManager`: several server processes acting as one, through a message broker.

Every operation is applied locally first and then published on the channel; the other
processes apply it to the clients they hold. The envelope is JSON (never pickle:
CVE-2025-61765) with python-socketio's field names (``method``, ``host_id``, ``event``,
``data``, ``namespace``, ``room``, ``skip_sid``, ``callback``…), so a python-socketio
``RedisManager`` emitter on the same channel reaches our clients. Our own emits also carry
``packet``: the Engine.IO messages already encoded by the sender, which receivers hand to their
clients as they are — nothing is re-encoded per node.

Order is part of correctness: the listener hands each message, in the order the broker
delivers them, to one applier task on the server's loop (a FIFO queue; no task per message),
and one publisher sends them in the order they were emitted. An emit addressed to a client of
this process is not published at all.

The broker is two blocking methods, `publish(bytes)` and `listen()` (an iterator of bytes that
reconnects by itself); they run where the engine's driver puts blocking I/O
(`Driver.blocking_io()`: OS threads, or greenlets when the socket module is monkey-patched),
never on the event loop. A broker may also offer `publish_many(list)`: the
publisher then sends what queued up during the previous round trip in one go, in order. A
write-only manager (an external emitter) publishes in the caller's thread, before returning.
"""

from __future__ import annotations

import base64
import json as stdlib_json
import logging
import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from engineio_core.encoded import EncodedMessage

from ..brokers.core import MAX_BACKLOG, MAX_BATCH, MAX_INBOX, Broker, Listener, Publisher
from ..brokers.core import logger as core_logger
from ..protocol.binary import deconstruct, reconstruct
from ..protocol.packets import PacketType, SocketPacket
from ..protocol.rooms import Room
from .manager import LocalManager, ManagerHost
from .pipeline import QUEUE, Outbound, skip_set

ENVELOPE_VERSION = 1
# The publisher's and the listener's bounds (brokers/core.py): past MAX_PUBLISH_BACKLOG waiting
# messages (a slow or hung broker) emits are dropped and logged; MAX_INBOX messages read and not
# applied yet stop the listener (the broker holds the backlog: for Redis, up to its
# `client-output-buffer-limit pubsub`). The applier never waits for a congested client (it
# serves every client of the node), so it only falls behind when the loop itself is saturated.
MAX_PUBLISH_BACKLOG = MAX_BACKLOG
MAX_PUBLISH_BATCH = MAX_BATCH
# Issue 21 #6: the largest message taken from the queue; a larger one is refused (and logged)
# by the listener before it reaches the applier (a 300 MB JSON message decodes to gigabytes).
MAX_QUEUE_MESSAGE_BYTES = 16_777_216


class PubSubManager(LocalManager):
    """A `LocalManager` that also publishes every operation for the other processes."""

    is_pubsub = True

    def __init__(self, broker: Broker, channel: str = "flask-socketio", write_only: bool = False,
                 logger: logging.Logger | None = None, json: Any = None) -> None:
        super().__init__()
        self.broker = broker
        self.channel = channel
        self.write_only = write_only
        self.host_id = uuid.uuid4().hex
        self.logger = logger if isinstance(logger, logging.Logger) else logging.getLogger("socketio_core.pubsub")
        self._json_given = json is not None
        self.json = json or stdlib_json
        self._publisher: Publisher[bytes] | None = None
        self._listener: Listener[bytes] | None = None
        self._remote_callbacks: dict[int, Callable[..., Any]] = {}
        self._next_remote_id = 0
        # Handlers of further queue methods, by name (cluster.py registers its requests and
        # responses here); called on the loop, like the built-in ones.
        self.extensions: dict[str, Callable[[dict[str, Any]], None]] = {}

    # -- lifecycle -------------------------------------------------------------------------------
    def attach(self, host: ManagerHost) -> None:
        super().attach(host)
        # The envelope carries the event data for python-socketio peers: encode it with the
        # server's JSON (e.g. ``json=flask.json``), as the packet itself was, or what the local
        # clients receive could never be published (python-socketio does the same).
        if not self._json_given and host.json is not None:
            self.json = host.json

    def initialize(self) -> None:
        """Start listening (called on the server's loop): the broker's blocking `listen()` runs
        in its own thread (greenlet when sockets are monkey-patched) and hands each message to
        one applier task on the loop, FIFO. Messages are applied in a task, not in a loop
        callback, because applying one may run user code that blocks (a disconnect handler,
        an ack callback)."""
        if not self.write_only and self._listener is None:
            broker = self.broker
            self._listener = Listener(
                self._host().driver, broker.listen, self._handle_raw, "socketio-pubsub-listener",
                getattr(broker, "label", "message queue"), f"{getattr(broker, 'label', 'the')} channel {self.channel!r}",
                getattr(broker, "logger", core_logger), MAX_INBOX, MAX_QUEUE_MESSAGE_BYTES)
            self._listener.start()

    def publish(self, message: dict[str, Any]) -> None:
        """Publish a message (a JSON object with a ``method``) for the other processes, after
        everything published before it; `extensions` of theirs handle further methods."""
        message.setdefault("host_id", self.host_id)
        try:
            text = self.json.dumps(message)
        except (TypeError, ValueError) as exc:
            self.logger.error("cannot publish %s: %s", message.get("method"), exc)
            return
        data = text.encode("utf-8") if isinstance(text, str) else text
        if self.write_only:
            # An external emitter (a script, a Celery task) may exit right after emit(): publish
            # before returning, in the caller's thread, as python-socketio's emitters do.
            self._send(data)
            return
        if self._publisher is None:
            self._publisher = Publisher(self._host().driver, self._send_batch, "socketio-pubsub-publisher",
                                        "message queue", self.logger, MAX_PUBLISH_BACKLOG, MAX_PUBLISH_BATCH)
        self._publisher.submit(data)

    def _send(self, data: bytes) -> None:
        try:
            self.broker.publish(data)
        except Exception as exc:  # the broker is down: logged, never raised into handlers
            self.logger.error("message queue publish failed (message dropped): %s", exc)

    def _send_batch(self, batch: list[bytes]) -> None:
        """The publisher's send: what queued up while the previous publish was on the wire goes
        out in one round trip (in order) when the broker can do that (it raises: the publisher
        logs the batch as dropped); one publish per message otherwise."""
        publish_many = getattr(self.broker, "publish_many", None)
        if publish_many is None or len(batch) == 1:
            for data in batch:
                self._send(data)
            return
        publish_many(batch)

    # -- operations: local first, then published ---------------------------------------------
    def emit(self, event: str, data: list[Any], namespace: str, room: Room | list[Room] | None = None,
             skip_sid: str | Iterable[str] | None = None, callback: Callable[..., Any] | None = None,
             ignore_queue: bool = False, encoded: Sequence[EncodedMessage] | None = None) -> None:
        if ignore_queue:
            super().emit(event, data, namespace, room=room, skip_sid=skip_sid, callback=callback,
                         encoded=encoded)
            return
        skip = sorted(skip_set(skip_sid)) if skip_sid is not None else None
        message: dict[str, Any] = {
            "method": "emit", "event": event, "namespace": namespace, "room": room,
            "skip_sid": skip if skip is None or len(skip) != 1 else skip[0],
            "callback": None,
        }
        if isinstance(room, str) and self.rooms.is_connected(namespace, room):
            # Addressed to a client of this process (a sid is unique in the cluster): the most
            # common emit of all — a handler answering its sender — never needs the queue.
            super().emit(event, data, namespace, room=room, skip_sid=skip_sid, callback=callback)
            return
        if callback is not None:
            if not isinstance(room, str):
                raise ValueError("Callbacks need a single client: to= must be a sid")
            if self.write_only:
                raise RuntimeError("Callbacks are not supported in write-only mode")
            self._next_remote_id += 1
            callback_id = self._next_remote_id
            self._remote_callbacks[callback_id] = callback
            message["callback"] = [room, namespace, callback_id]
        else:
            parts = encoded or self._host().encode(SocketPacket(PacketType.EVENT, namespace, [event, *data]))
            self.deliver_local(namespace, room, skip_sid, parts)
            message["packet"] = [_part_to_json(p) for p in parts]
            message["v"] = ENVELOPE_VERSION
        self.publish(_with_data(message, data))

    def publish_emit(self, out: Outbound, parts: Sequence[EncodedMessage]) -> None:
        """The pipeline's cluster stage: the emit, with its packet already encoded, for the
        other processes (not when it is addressed to a client of this one: a sid is unique
        in the cluster). ``except_rooms`` and ``volatile`` are fields of our envelope; a
        python-socketio peer reads the rest."""
        room = out.rooms
        namespace = out.namespace
        if isinstance(room, str) and self.rooms.is_connected(namespace, room):
            return
        skip = sorted(out.skip_sids) if out.skip_sids else None
        message: dict[str, Any] = {
            "method": "emit", "event": out.event, "namespace": namespace, "room": room,
            "skip_sid": skip if skip is None or len(skip) != 1 else skip[0], "callback": None,
            "packet": [_part_to_json(p) for p in parts], "v": ENVELOPE_VERSION,
        }
        if out.except_rooms:
            message["except_rooms"] = list(out.except_rooms)
        if out.volatile:
            message["volatile"] = True
        self.publish(_with_data(message, out.args))

    def enter_room(self, sid: str, namespace: str, room: Room, eio_sid: str | None = None) -> None:
        if self.rooms.is_connected(namespace, sid):
            super().enter_room(sid, namespace, room, eio_sid)
        else:
            self.publish({"method": "enter_room", "sid": sid, "namespace": namespace, "room": room})

    def leave_room(self, sid: str, namespace: str, room: Room) -> None:
        if self.rooms.is_connected(namespace, sid):
            super().leave_room(sid, namespace, room)
        else:
            self.publish({"method": "leave_room", "sid": sid, "namespace": namespace, "room": room})

    def close_room(self, room: Room, namespace: str) -> None:
        super().close_room(room, namespace)
        self.publish({"method": "close_room", "room": room, "namespace": namespace})

    def renew_host_id(self) -> None:
        """Take a new node id (a process forked from the one that made this manager, before it
        serves: two workers must never share one)."""
        self.host_id = uuid.uuid4().hex

    def disconnect_remote(self, sid: str, namespace: str) -> None:
        """The server asks to disconnect a sid it does not hold: another process may."""
        self.publish({"method": "disconnect", "sid": sid, "namespace": namespace})

    # -- applying (the listener's applier, on the loop, in broker order) ---------------------------
    def _handle_raw(self, raw: bytes | str) -> None:
        try:
            message = self.json.loads(raw)
        except Exception:
            self.logger.warning("ignoring a message on the queue that is not JSON")
            return
        if not isinstance(message, dict) or not isinstance(message.get("method"), str):
            self.logger.warning("ignoring a malformed message on the queue")
            return
        method = message["method"]
        try:
            if method == "callback":
                if message.get("host_id") == self.host_id:
                    self._handle_callback(message)
                return
            if message.get("host_id") == self.host_id:
                return
            handler = _HANDLERS.get(method)
            if handler is None:
                extension = self.extensions.get(method)
                if extension is not None:
                    extension(message)
                    return
                self.logger.warning("ignoring unknown queue method %r", method)
                return
            handler(self, message)
        except Exception as exc:
            self.logger.warning("ignoring a bad %r message on the queue: %s", method, exc)

    def _handle_emit(self, message: dict[str, Any]) -> None:
        namespace = _namespace(message.get("namespace"))
        room = _room(message.get("room"))
        skip_sid = message.get("skip_sid")
        if skip_sid is not None and not isinstance(skip_sid, (str, list)):
            raise ValueError("bad skip_sid")
        except_rooms = message.get("except_rooms") or ()
        if not isinstance(except_rooms, (list, tuple)):
            raise ValueError("bad except_rooms")
        callback = message.get("callback")
        packet = message.get("packet")
        event = message.get("event")
        if not isinstance(event, str):
            raise ValueError("emit without an event name")
        apply = self._host().apply
        if apply is None:
            raise RuntimeError("the client manager is not attached to a server")
        data = message.get("data")
        if message.get("binary"):
            if not isinstance(data, list) or not data:
                raise ValueError("bad binary data")
            attachments = [base64.b64decode(a, validate=True) for a in data[1:]]
            data = reconstruct(data[0], attachments)
        args = data if isinstance(data, list) else ([] if data is None else [data])
        if not all(isinstance(r, (str, int, float)) for r in except_rooms):
            raise ValueError("bad except_rooms")
        ack: Callable[..., Any] | None = None
        parts = None
        if callback is None and isinstance(packet, list) and message.get("v") == ENVELOPE_VERSION and packet:
            parts = [_part_from_json(p) for p in packet]
            _check_event_parts(parts, namespace)
        elif callback is not None:
            if not (isinstance(callback, list) and len(callback) == 3):
                raise ValueError("bad callback")
            target_sid, cb_namespace, cb_id = callback
            if not self.rooms.is_connected(namespace, target_sid):
                return
            origin = message.get("host_id")

            def ack(*ack_args: Any) -> None:
                self._publish_callback(origin, target_sid, cb_namespace, cb_id, list(ack_args))

        apply(Outbound(event, args, namespace, room, skip_set(skip_sid), tuple(except_rooms),
                       bool(message.get("volatile")), ack, origin=QUEUE), parts)

    def _publish_callback(self, origin: Any, sid: str, namespace: str, cb_id: Any, args: list[Any]) -> None:
        """Route a client's ACK back to the process that emitted (its host_id)."""
        self.publish({"method": "callback", "host_id": origin, "sid": sid,
                       "namespace": namespace, "id": cb_id, "args": args})

    def drop_callback(self, sid: str, callback: Callable[..., Any]) -> None:
        """A `call()` to a client on another node timed out: forget its callback here too."""
        super().drop_callback(sid, callback)
        for callback_id, registered in list(self._remote_callbacks.items()):
            if registered is callback:
                del self._remote_callbacks[callback_id]

    def _handle_callback(self, message: dict[str, Any]) -> None:
        cb_id = message.get("id")
        callback = self._remote_callbacks.pop(cb_id, None) if isinstance(cb_id, int) else None
        if callback is None:
            self.logger.warning("Unknown callback received, ignoring.")
            return
        args = message.get("args")
        callback(*(args if isinstance(args, list) else []))

    def _handle_enter_room(self, message: dict[str, Any]) -> None:
        sid, namespace = message.get("sid"), _namespace(message.get("namespace"))
        if isinstance(sid, str) and self.rooms.is_connected(namespace, sid):
            LocalManager.enter_room(self, sid, namespace, _room(message.get("room")))

    def _handle_leave_room(self, message: dict[str, Any]) -> None:
        sid, namespace = message.get("sid"), _namespace(message.get("namespace"))
        if isinstance(sid, str) and self.rooms.is_connected(namespace, sid):
            LocalManager.leave_room(self, sid, namespace, _room(message.get("room")))

    def _handle_close_room(self, message: dict[str, Any]) -> None:
        LocalManager.close_room(self, _room(message.get("room")), _namespace(message.get("namespace")))

    def _handle_disconnect(self, message: dict[str, Any]) -> None:
        sid, namespace = message.get("sid"), _namespace(message.get("namespace"))
        if isinstance(sid, str) and self.rooms.is_connected(namespace, sid):
            self._host().disconnect(sid, namespace)


_HANDLERS: dict[str, Callable[[PubSubManager, dict[str, Any]], None]] = {
    "emit": PubSubManager._handle_emit,
    "enter_room": PubSubManager._handle_enter_room,
    "leave_room": PubSubManager._handle_leave_room,
    "close_room": PubSubManager._handle_close_room,
    "disconnect": PubSubManager._handle_disconnect,
}


def _namespace(value: Any) -> str:
    if value is None:
        return "/"
    if not isinstance(value, str) or not value.startswith("/"):
        raise ValueError("bad namespace")
    return value


def _room(value: Any) -> Any:
    if value is None or isinstance(value, (str, int, float)):
        return value
    if isinstance(value, list) and all(isinstance(r, (str, int, float)) for r in value):
        return value
    raise ValueError("bad room")


def _with_data(message: dict[str, Any], data: list[Any]) -> dict[str, Any]:
    """The envelope's ``data`` (python-socketio's fields: binary attachments in base64)."""
    payload, attachments = deconstruct(data)
    if attachments:
        message["binary"] = True
        message["data"] = [payload, *[base64.b64encode(a).decode("ascii") for a in attachments]]
    else:
        message["binary"] = False
        message["data"] = data
    return message


def _part_to_json(part: EncodedMessage) -> Any:
    data = part.packet.data
    if isinstance(data, bytes):
        return {"b64": base64.b64encode(data).decode("ascii")}
    return data


def _check_event_parts(parts: list[EncodedMessage], namespace: str) -> None:
    """A cheap sanity check of already-encoded parts before they reach clients (a garbled
    packet would make every client that receives it drop its connection): an EVENT
    (``2[/nsp,]…``) alone, or a BINARY_EVENT (``5<n>-[/nsp,]…``) followed by its n binary
    attachments, for `namespace`; a msgpack packet is one binary message."""
    head = parts[0].packet.data
    if isinstance(head, bytes):
        if len(parts) != 1:
            raise ValueError("bad encoded packet")
        return
    rest = parts[1:]
    if head[:1] == "2" and not rest:
        body = head[1:]
    elif head[:1] == "5":
        count, dash, body = head[1:].partition("-")
        if not dash or not count.isdigit() or int(count) != len(rest) or not all(p.binary for p in rest):
            raise ValueError("bad encoded binary packet")
    else:
        raise ValueError("encoded packet is not an event")
    if namespace == "/" and body.startswith("/"):
        raise ValueError("encoded packet for another namespace")
    if namespace != "/" and not body.startswith(namespace + ","):
        raise ValueError("encoded packet for another namespace")


def _part_from_json(value: Any) -> EncodedMessage:
    if isinstance(value, str):
        return EncodedMessage.message(value)
    if isinstance(value, dict) and isinstance(value.get("b64"), str):
        return EncodedMessage.message(base64.b64decode(value["b64"], validate=True))
    raise ValueError("bad encoded packet part")


def manager_for_url(url: str, channel: str = "flask-socketio", write_only: bool = False,
                    logger: Any = None, **options: Any) -> PubSubManager:
    """The manager for a ``message_queue`` URL: ``redis://``, ``rediss://``, ``unix://``,
    ``redis+sentinel://`` (and the ``valkey`` spellings), or RabbitMQ through Kombu:
    ``amqp://``, ``amqps://``, ``pyamqp://``. Nothing connects until used. Kafka and ZeroMQ
    URLs are refused with a `ValueError` that names what is supported (docs/deployment.md)."""
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    broker: Broker
    if scheme in ("redis", "rediss", "unix", "redis+sentinel", "valkey", "valkeys", "valkey+sentinel"):
        from ..brokers.redis_broker import RedisBroker

        broker = RedisBroker(url, channel, **options)
    elif scheme in ("amqp", "amqps", "pyamqp"):
        from ..brokers.kombu_broker import KombuBroker

        broker = KombuBroker(url, channel, **options)
    else:
        hint = ""
        if scheme.startswith("kafka"):
            hint = "Kafka is not supported; "
        elif scheme.startswith("zmq"):
            hint = "ZeroMQ is not supported; "
        raise ValueError(f"unsupported message queue URL {url!r}: {hint}use redis://, rediss://, unix://, "
                         f"redis+sentinel:// (Redis, Valkey) or amqp://, amqps:// (RabbitMQ, through kombu)")
    return PubSubManager(broker, channel=channel, write_only=write_only,
                         logger=logger if isinstance(logger, logging.Logger) else None)


def join_local_bus(server: Any, directory: str, tag: str, channel: str = "flask-socketio") -> bool:
    """Make `server` (a `SocketServer` not running yet) one of the workers on the local bus:
    its `LocalManager` becomes a `PubSubManager` over a `LocalBusBroker`. A server that already
    has a pub/sub manager (``message_queue`` given: Redis, RabbitMQ) keeps it; False then."""
    manager = server.manager
    if isinstance(manager, PubSubManager):
        # A message queue was given: kept. The workers were forked from one process, so each
        # becomes a node of its own (its messages are not taken for another worker's, its
        # recovery heartbeat is its own) and its features hear of the new id.
        manager.renew_host_id()
        server.use_manager(manager)
        return False
    from ..brokers.local_bus import LocalBusBroker

    logger_option = getattr(server, "logger", None)
    broker = LocalBusBroker(directory, tag)
    server.use_manager(PubSubManager(broker, channel=channel,
                                     logger=logger_option if isinstance(logger_option, logging.Logger) else None))
    # Join now, not at the first request: the other workers learn about this one (and start
    # publishing to it) before it accepts its first client.
    broker.start()
    return True
