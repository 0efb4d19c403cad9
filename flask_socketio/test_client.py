"""`SocketIOTestClient`: an in-memory Socket.IO client for tests. No sockets, no sleeps.

Import it as ``from flask_socketio import SocketIOTestClient`` or, as Flask-SocketIO users do,
``from flask_socketio.test_client import SocketIOTestClient``.

Each client is a *virtual* Engine.IO session: the server delivers to it exactly as it
delivers to a WebSocket (same encoding, same fan-out), and the client decodes what arrives
with the same codec. Handlers run synchronously (``async_handlers`` is turned off, as the
reference's test client does), so after ``emit()`` returns, everything the handler emitted
is in ``get_received()``; an exception a handler raises (and no error handler takes, or an
error handler raises) is raised by the ``emit()`` that caused it.

Background tasks. While a test client drives a server, ``socketio.start_background_task``
runs its target in a daemon thread, as Flask-SocketIO does in threading mode, so a test that
waits with plain ``time.sleep()`` sees the task run, whatever the async mode. Under gevent (and
eventlet, the same way) the
server's loop is the test's own thread: what a task emits from its thread is handed to that
loop, and the client runs the loop's pending work (``gevent.sleep(0)``) each time it is used
(``get_received``, ``emit``, ``is_connected``…), so the task's messages are there when the
test reads. All server state is still touched from one thread only.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import flask
from werkzeug.datastructures import Headers
from werkzeug.test import EnvironBuilder

from engineio_core import EncodedMessage
from engineio_core import PacketType as EnginePacketType
from socketio_core.protocol.packets import PacketType, SocketPacket


class _Sink:
    """Stands where a WebSocket would: the server calls ``send(EncodedMessage)``."""

    __slots__ = ("client",)

    def __init__(self, client: SocketIOTestClient) -> None:
        self.client = client

    def send(self, message: EncodedMessage) -> None:
        if message.packet.type is EnginePacketType.MESSAGE:
            self.client._receive(message.packet.data)

    def close(self, code: int = 1000, reason: str = "") -> None:
        self.client._engine_closed()


class SocketIOTestClient:
    """Connects at construction (unless the connect handler refuses)."""

    clients: dict[str, SocketIOTestClient] = {}

    def __init__(self, app: flask.Flask, socketio: Any, namespace: str | None = None,
                 query_string: str | None = None, headers: dict[str, str] | None = None,
                 auth: Any = None, flask_test_client: Any = None) -> None:
        self.app = app
        self.socketio = socketio
        server = socketio.server
        if server is None:
            raise RuntimeError("SocketIO is not initialised")
        if server.manager.is_pubsub:
            raise RuntimeError("Test client cannot be used with a message queue")
        self.server = server
        server.async_handlers = False
        # Background tasks become threads and the gevent loop is this thread's (see the top).
        socketio.tasks_in_threads = True
        self._driver = server.eio.driver
        self._driver.bind()
        # The loop runs only when the test uses the client: a task's thread must not wait for
        # it (a test that sleeps, then reads, gets everything the task emitted meanwhile).
        server.eio.thread_window = 0
        self.eio_sid = uuid.uuid4().hex
        SocketIOTestClient.clients[self.eio_sid] = self
        self.flask_test_client = flask_test_client
        self.queue: dict[str, list[dict[str, Any]]] = {}
        self.acks: dict[int, Any] = {}
        self.connected: dict[str, bool] = {}
        self.callback_counter = 0
        # Under the threading driver a background thread delivers directly: one decoder per
        # delivering thread (the parts of one packet come from one thread, in order), and the
        # queues under a lock.
        self._decoders: dict[int, Any] = {}
        self._lock = threading.Lock()
        self._engine_open = False
        # Connection state recovery (when the server has it on): the private id and the last
        # offset per namespace; offsets are taken off the arguments `get_received` shows.
        self._recovery = server.recovery is not None
        self.pids: dict[str, str] = {}
        self.offsets: dict[str, str] = {}
        self.recovered: dict[str, bool] = {}
        self.connect(namespace=namespace, query_string=query_string, headers=headers, auth=auth)

    # -- connection ----------------------------------------------------------------------------
    def connect(self, namespace: str | None = None, query_string: str | None = None,
                headers: dict[str, str] | None = None, auth: Any = None) -> None:
        namespace = namespace or "/"
        self._pump()
        if not self._engine_open:
            environ = self._environ(query_string, headers)
            self.server.connect_virtual(self.eio_sid, environ, _Sink(self))
            self._engine_open = True
        self.queue.setdefault(namespace, [])
        self._send(SocketPacket(PacketType.CONNECT, namespace, auth))

    def _environ(self, query_string: str | None, headers: dict[str, str] | None) -> dict[str, Any]:
        url = "/socket.io"
        if query_string:
            url += query_string if query_string.startswith("?") else "?" + query_string
        parts = urlsplit(url)
        builder = EnvironBuilder(path=parts.path, query_string=parts.query,
                                 headers=Headers(headers) if headers is not None else None)
        try:
            environ: dict[str, Any] = builder.get_environ()
        finally:
            builder.close()
        if self.flask_test_client is not None:
            adder = getattr(self.flask_test_client, "_add_cookies_to_wsgi", None)
            if adder is not None:
                adder(environ)
        environ["flask.app"] = self.app
        return environ

    def drop(self) -> None:
        """Connection state recovery: lose the connection as a network failure would (the
        server sees a ``transport close``; the state of every namespace is parked)."""
        if not self._engine_open:
            raise RuntimeError("not connected")
        self._pump()
        self._engine_open = False
        try:
            with self._raising_handler_errors():
                self.server.disconnect_virtual(self.eio_sid, self.server.reason.TRANSPORT_CLOSE)
        finally:
            SocketIOTestClient.clients.pop(self.eio_sid, None)
        self._engine_closed()
        self.eio_sid = uuid.uuid4().hex
        SocketIOTestClient.clients[self.eio_sid] = self

    def reconnect(self, namespace: str | None = None, auth: Any = None) -> bool:
        """Connect again after `drop()`, asking to recover (``pid`` and ``offset``, as the JS
        client sends them); returns whether the state was recovered."""
        namespace = namespace or "/"
        pid = self.pids.get(namespace)
        if pid is not None and namespace in self.offsets:
            auth = {"pid": pid, "offset": self.offsets[namespace], **(auth or {})}
        self.connect(namespace, auth=auth)
        self._pump()
        return self.recovered.get(namespace, False)

    def disconnect(self, namespace: str | None = None) -> None:
        namespace = namespace or "/"
        if not self.is_connected(namespace):
            raise RuntimeError("not connected")
        try:
            self._send(SocketPacket(PacketType.DISCONNECT, namespace))
        finally:
            self.connected[namespace] = False
            if not any(self.connected.values()):
                self._close_engine()

    def is_connected(self, namespace: str | None = None) -> bool:
        self._pump()
        return self.connected.get(namespace or "/", False)

    # -- sending -------------------------------------------------------------------------------
    def emit(self, event: str, *args: Any, **kwargs: Any) -> Any:
        """Emit an event; with ``callback=True`` return the ACK (one value, a list of
        several, or ``[]``)."""
        namespace = kwargs.pop("namespace", None) or "/"
        if not self.is_connected(namespace):
            raise RuntimeError("not connected")
        callback = kwargs.pop("callback", False)
        ack_id = None
        if callback:
            self.callback_counter += 1
            ack_id = self.callback_counter
        self._send(SocketPacket(PacketType.EVENT, namespace, [event, *args], ack_id))
        if ack_id is not None:
            result = self.acks.pop(ack_id, None)
            if result is not None:
                args_back = result["args"]
                return args_back[0] if len(args_back) == 1 else args_back
        return None

    def send(self, data: Any, json: bool = False, callback: bool = False, namespace: str | None = None) -> Any:
        return self.emit("json" if json else "message", data, callback=callback, namespace=namespace)

    def get_received(self, namespace: str | None = None) -> list[dict[str, Any]]:
        """Return and clear what this client received in a namespace:
        ``[{'name', 'args', 'namespace'}]`` (for ``message``/``json`` events, ``args`` is
        the single payload)."""
        namespace = namespace or "/"
        if not self.is_connected(namespace):
            raise RuntimeError("not connected")
        with self._lock:
            received = self.queue.get(namespace, [])
            self.queue[namespace] = []
        return received

    # -- plumbing --------------------------------------------------------------------------------
    def _send(self, packet: SocketPacket) -> None:
        # Encode as a real client would (un-serialisable data raises TypeError here), then
        # hand each wire message to the server as the engine would.
        parts = self.server.codec.encode(packet)
        with self._raising_handler_errors():
            for part in parts:
                self.server.receive(self.eio_sid, part)

    @contextmanager
    def _raising_handler_errors(self) -> Iterator[None]:
        """Re-raise, in the test, the first exception of a handler that no error handler
        took (the server only logs it), as Flask-SocketIO's test client does."""
        errors: list[BaseException] = []
        listeners = self.socketio.unhandled_error_listeners
        listeners.append(errors.append)
        try:
            yield
        finally:
            listeners.remove(errors.append)
        if errors:
            raise errors[0]

    def _pump(self) -> None:
        """Run what other threads handed to the gevent loop (a background task's emits),
        and any greenlet that is ready, before the test looks at the client."""
        driver = self._driver
        if driver.name == "eventlet":
            driver.run_pending()  # type: ignore[attr-defined]
            return
        if driver.name != "gevent" or not driver.in_loop():
            return
        import gevent

        if gevent.getcurrent() is not gevent.get_hub():
            gevent.idle()  # every callback the loop has pending (other threads' calls included)

    def _receive(self, data: str | bytes) -> None:
        ident = threading.get_ident()
        decoder = self._decoders.get(ident)
        if decoder is None:
            decoder = self._decoders[ident] = self.server.codec.decoder()
        packet = decoder.feed(data)
        if packet is None:
            return
        namespace = packet.namespace
        ptype = packet.type
        if ptype is PacketType.EVENT or ptype is PacketType.BINARY_EVENT:
            name, args = packet.data[0], packet.data[1:]
            if self._recovery and packet.id is None and args and isinstance(args[-1], str):
                self.offsets[namespace] = args[-1]
                args = args[:-1]
            if name in ("message", "json"):
                payload: Any = args[0] if args else None
            else:
                payload = list(args)
            with self._lock:
                self.queue.setdefault(namespace, []).append({"name": name, "args": payload, "namespace": namespace})
        elif ptype is PacketType.ACK or ptype is PacketType.BINARY_ACK:
            self.acks[packet.id] = {"args": list(packet.data or []), "namespace": namespace}
        elif ptype is PacketType.CONNECT:
            self.connected[namespace] = True
            if self._recovery and isinstance(packet.data, dict) and isinstance(packet.data.get("pid"), str):
                pid = packet.data["pid"]
                self.recovered[namespace] = self.pids.get(namespace) == pid
                self.pids[namespace] = pid
        elif ptype is PacketType.CONNECT_ERROR or ptype is PacketType.DISCONNECT:
            self.connected[namespace] = False

    def _engine_closed(self) -> None:
        for namespace in list(self.connected):
            self.connected[namespace] = False

    def _close_engine(self) -> None:
        if self._engine_open:
            self._engine_open = False
            try:
                with self._raising_handler_errors():
                    self.server.disconnect_virtual(self.eio_sid, self.server.reason.CLIENT_DISCONNECT)
            finally:
                SocketIOTestClient.clients.pop(self.eio_sid, None)
