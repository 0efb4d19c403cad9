"""`PubSubManager`: several server processes acting as one, through a message broker.

Every operation is applied locally first and then published on the channel; the other
processes apply it to the clients they hold. The envelope is JSON (never pickle:
CVE-2025-61765) with python-socketio's field names (``method``, ``host_id``, ``event``,
``data``, ``namespace``, ``room``, ``skip_sid``, ``callback``…), so a python-socketio
``RedisManager`` emitter on the same channel reaches our clients. Our own emits also carry
``packet``: the Engine.IO messages already encoded by the sender, which receivers hand to their
clients as they are — nothing is re-encoded per node.

Order is part of correctness: one listener applies messages in the order the broker delivers
them (one hand-off per message to the server's loop, FIFO; no task per message), and one
publisher sends them in the order they were emitted.

The broker is two blocking methods, `publish(bytes)` and `listen()` (an iterator of bytes that
reconnects by itself); they run in a dedicated thread (or greenlets when the socket module is
monkey-patched), never on the event loop.
"""

from __future__ import annotations

import base64
import json as stdlib_json
import logging
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol

from engineio_core import EncodedMessage

from .binary import deconstruct, reconstruct
from .manager import LocalManager, _skip_set
from .rooms import Room

ENVELOPE_VERSION = 1


class Broker(Protocol):
    def publish(self, data: bytes) -> None: ...
    def listen(self) -> Iterator[bytes]: ...
    def close(self) -> None: ...


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
        self.json = json or stdlib_json
        self._publisher: _Worker | None = None
        self._listener_started = False
        self._remote_callbacks: dict[int, Callable[..., Any]] = {}
        self._next_remote_id = 0

    # -- lifecycle -------------------------------------------------------------------------------
    def initialize(self) -> None:
        if not self.write_only and not self._listener_started:
            self._listener_started = True
            _start_thread(self._listen_forever, "socketio-pubsub-listener")

    def _publish(self, message: dict[str, Any]) -> None:
        message.setdefault("host_id", self.host_id)
        try:
            text = self.json.dumps(message)
        except (TypeError, ValueError) as exc:
            self.logger.error("cannot publish %s: %s", message.get("method"), exc)
            return
        if self._publisher is None:
            self._publisher = _Worker(self._send, "socketio-pubsub-publisher")
        self._publisher.submit(text.encode("utf-8") if isinstance(text, str) else text)

    def _send(self, data: bytes) -> None:
        try:
            self.broker.publish(data)
        except Exception as exc:  # the broker is down: logged, never raised into handlers
            self.logger.error("message queue publish failed (message dropped): %s", exc)

    # -- operations: local first, then published ---------------------------------------------
    def emit(self, event: str, data: list[Any], namespace: str, room: Room | list[Room] | None = None,
             skip_sid: str | Iterable[str] | None = None, callback: Callable[..., Any] | None = None,
             **kwargs: Any) -> None:
        if kwargs.get("ignore_queue"):
            super().emit(event, data, namespace, room=room, skip_sid=skip_sid, callback=callback)
            return
        server = self.server
        assert server is not None
        skip = sorted(_skip_set(skip_sid)) if skip_sid is not None else None
        message: dict[str, Any] = {
            "method": "emit", "event": event, "namespace": namespace, "room": room,
            "skip_sid": skip if skip is None or len(skip) != 1 else skip[0],
            "callback": None,
        }
        if callback is not None:
            if not isinstance(room, str):
                raise ValueError("Callbacks need a single client: to= must be a sid")
            if self.rooms.is_connected(namespace, room):
                super().emit(event, data, namespace, room=room, skip_sid=skip_sid, callback=callback)
                return
            if self.write_only:
                raise RuntimeError("Callbacks are not supported in write-only mode")
            self._next_remote_id += 1
            callback_id = self._next_remote_id
            self._remote_callbacks[callback_id] = callback
            message["callback"] = [room, namespace, callback_id]
        else:
            from .packets import PacketType, SocketPacket

            parts = server.encode(SocketPacket(PacketType.EVENT, namespace, [event, *data]))
            self.emit_encoded(namespace, room, skip_sid, parts)
            message["packet"] = [_part_to_json(p) for p in parts]
            message["v"] = ENVELOPE_VERSION
        payload, attachments = deconstruct(data)
        if attachments:
            message["binary"] = True
            message["data"] = [payload, *[base64.b64encode(a).decode("ascii") for a in attachments]]
        else:
            message["binary"] = False
            message["data"] = data
        self._publish(message)

    def enter_room(self, sid: str, namespace: str, room: Room, eio_sid: str | None = None) -> None:
        if self.rooms.is_connected(namespace, sid):
            super().enter_room(sid, namespace, room, eio_sid)
        else:
            self._publish({"method": "enter_room", "sid": sid, "namespace": namespace, "room": room})

    def leave_room(self, sid: str, namespace: str, room: Room) -> None:
        if self.rooms.is_connected(namespace, sid):
            super().leave_room(sid, namespace, room)
        else:
            self._publish({"method": "leave_room", "sid": sid, "namespace": namespace, "room": room})

    def close_room(self, room: Room, namespace: str) -> None:
        super().close_room(room, namespace)
        self._publish({"method": "close_room", "room": room, "namespace": namespace})

    def disconnect_remote(self, sid: str, namespace: str) -> None:
        """The server asks to disconnect a sid it does not hold: another process may."""
        self._publish({"method": "disconnect", "sid": sid, "namespace": namespace})

    # -- listening -------------------------------------------------------------------------------
    def _listen_forever(self) -> None:
        server = self.server
        assert server is not None
        driver = server.eio.driver
        for raw in self.broker.listen():
            driver.call_in_loop(self._handle_raw, raw)

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
                self.logger.warning("ignoring unknown queue method %r", method)
                return
            handler(self, message)
        except Exception as exc:
            self.logger.warning("ignoring a bad %r message on the queue: %s", method, exc)

    def _handle_emit(self, message: dict[str, Any]) -> None:
        server = self.server
        assert server is not None
        namespace = _namespace(message.get("namespace"))
        room = _room(message.get("room"))
        skip_sid = message.get("skip_sid")
        if skip_sid is not None and not isinstance(skip_sid, (str, list)):
            raise ValueError("bad skip_sid")
        callback = message.get("callback")
        packet = message.get("packet")
        if callback is None and isinstance(packet, list) and message.get("v") == ENVELOPE_VERSION and packet:
            parts = [_part_from_json(p) for p in packet]
            self.emit_encoded(namespace, room, skip_sid, parts)
            return
        event = message.get("event")
        if not isinstance(event, str):
            raise ValueError("emit without an event name")
        data = message.get("data")
        if message.get("binary"):
            if not isinstance(data, list) or not data:
                raise ValueError("bad binary data")
            attachments = [base64.b64decode(a, validate=True) for a in data[1:]]
            data = reconstruct(data[0], attachments)
        args = data if isinstance(data, list) else ([] if data is None else [data])
        ack: Callable[..., Any] | None = None
        if callback is not None:
            if not (isinstance(callback, list) and len(callback) == 3):
                raise ValueError("bad callback")
            target_sid, cb_namespace, cb_id = callback
            if not self.rooms.is_connected(namespace, target_sid):
                return
            origin = message.get("host_id")

            def ack(*ack_args: Any) -> None:
                self._publish_callback(origin, target_sid, cb_namespace, cb_id, list(ack_args))

        LocalManager.emit(self, event, args, namespace, room=room, skip_sid=skip_sid, callback=ack)

    def _publish_callback(self, origin: Any, sid: str, namespace: str, cb_id: Any, args: list[Any]) -> None:
        """Route a client's ACK back to the process that emitted (its host_id)."""
        self._publish({"method": "callback", "host_id": origin, "sid": sid,
                       "namespace": namespace, "id": cb_id, "args": args})

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
        server = self.server
        if server is not None and isinstance(sid, str) and self.rooms.is_connected(namespace, sid):
            server.disconnect(sid, namespace=namespace, ignore_queue=True)


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


def _part_to_json(part: EncodedMessage) -> Any:
    data = part.packet.data
    if isinstance(data, bytes):
        return {"b64": base64.b64encode(data).decode("ascii")}
    return data


def _part_from_json(value: Any) -> EncodedMessage:
    if isinstance(value, str):
        return EncodedMessage.message(value)
    if isinstance(value, dict) and isinstance(value.get("b64"), str):
        return EncodedMessage.message(base64.b64decode(value["b64"], validate=True))
    raise ValueError("bad encoded packet part")


class _Worker:
    """One thread that runs `fn(item)` for each submitted item, in order."""

    def __init__(self, fn: Callable[[Any], None], name: str) -> None:
        self._fn = fn
        self._queue = _make_queue()
        self._thread = _start_thread(self._run, name)

    def submit(self, item: Any) -> None:
        self._queue.put(item)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            self._fn(item)


def _socket_patched() -> bool:
    try:
        from gevent import monkey
    except ImportError:  # pragma: no cover
        return False
    return bool(monkey.is_module_patched("socket"))


def _start_thread(target: Callable[[], None], name: str) -> Any:
    """A real OS thread, unless the app monkey-patched sockets (then a greenlet)."""
    if _socket_patched():
        import gevent

        return gevent.spawn(target)
    thread_class: Any = threading.Thread
    try:
        from gevent import monkey

        thread_class = monkey.get_original("threading", "Thread")
    except ImportError:  # pragma: no cover
        pass
    thread = thread_class(target=target, name=name, daemon=True)
    thread.start()
    return thread


def _make_queue() -> Any:
    if _socket_patched():
        import gevent.queue

        return gevent.queue.Queue()
    import queue as queue_module

    simple_queue: Any = queue_module.SimpleQueue
    try:
        from gevent import monkey

        simple_queue = monkey.get_original("queue", "SimpleQueue")
    except (ImportError, AttributeError):  # pragma: no cover
        pass
    return simple_queue()


def manager_for_url(url: str, channel: str = "flask-socketio", write_only: bool = False,
                    logger: Any = None, **options: Any) -> PubSubManager:
    """The manager for a ``message_queue`` URL: ``redis://``, ``rediss://``, ``unix://``,
    ``redis+sentinel://`` (and the ``valkey`` spellings). Nothing connects until used."""
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme in ("redis", "rediss", "unix", "redis+sentinel", "valkey", "valkeys", "valkey+sentinel"):
        from .redis_backend import RedisBroker

        broker = RedisBroker(url, channel, **options)
        return PubSubManager(broker, channel=channel, write_only=write_only,
                             logger=logger if isinstance(logger, logging.Logger) else None)
    raise ValueError(f"unsupported message queue URL {url!r}: use redis://, rediss://, unix:// or redis+sentinel://")
