"""`SocketServer`: Socket.IO v5 over `engineio_core.EngineServer`.

Driver-agnostic glue: it decodes what the engine hands it, dispatches to handlers (each event
in its own greenlet/thread, started in arrival order), and routes emits through the client
manager, which encodes each packet once for all of its recipients.

Handler signatures (as python-socketio's): ``connect(sid, environ, auth)`` (or
``connect(sid, environ)``), ``disconnect(sid, reason)`` (or ``disconnect(sid)``), events
``handler(sid, *args)``; the return value of an event handler is the ACK when the client
asked for one. Catch-all rules: ``'*'`` event handlers get the event name first, ``'*'``
namespace handlers get the namespace first.
"""

from __future__ import annotations

import builtins
import functools
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

from engineio_core import EncodedMessage, EngineServer, Reason
from engineio_core.config import resolve_logger

from ..exceptions import ConnectionRefusedError, DisconnectedError, TimeoutError
from ..protocol import codec_v4
from ..protocol.codec import Codec, JSONCodec
from ..protocol.errors import RemoteProtocolError
from ..protocol.msgpack_codec import MsgPackCodec
from ..protocol.packets import RESERVED_EVENTS, PacketType, SocketPacket
from ..protocol.rooms import room_list
from .client import ClientState
from .hooks import AdminFeature, ClusterOperations, Hooks, RecoveryFeature, install_feature
from .manager import ClientManager, LocalManager, ManagerHost
from .namespace import Namespace, trim_args
from .pipeline import Outbound, OutboundPipeline, skip_set

# Most messages a client's connect handler may cause to be held for it before it is accepted.
MAX_HELD_MESSAGES = 10_000
_NO_HANDLER = object()
_NO_SIDS: frozenset[str] = frozenset()


class VirtualSink(Protocol):
    """Where the messages of an in-memory connection go (`SocketServer.connect_virtual`)."""

    def send(self, message: EncodedMessage) -> None: ...
    def close(self, code: int = 1000, reason: str = "") -> None: ...


class SocketServer:
    """A Socket.IO v5 server. Options keep python-socketio's names; engine options
    (``ping_interval``, ``cors_allowed_origins``, …) are passed to the `EngineServer`."""

    reason = Reason

    def __init__(
        self,
        client_manager: ClientManager | None = None,
        logger: Any = False,
        serializer: Any = "default",
        json: Any = None,
        async_handlers: bool = True,
        always_connect: bool = False,
        namespaces: Any = None,
        connect_timeout: float = 45,
        engineio_logger: Any = False,
        connection_state_recovery: Any = None,
        **kwargs: Any,
    ) -> None:
        self.eio = EngineServer(logger=engineio_logger, **kwargs)
        self.eio.on("connect", self._handle_eio_connect)
        self.eio.on("message", self._handle_eio_message)
        self.eio.on("disconnect", self._handle_eio_disconnect)
        self.eio.on("opened", self._handle_eio_opened)
        self.eio.on("upgrade", self._handle_eio_upgrade)
        self.logger: logging.Logger = resolve_logger(logger, "socketio_core")
        self.async_mode = self.eio.async_mode
        self.async_handlers = async_handlers
        self.always_connect = always_connect
        self.namespaces = namespaces if namespaces is not None else ["/"]
        self.connect_timeout = float(connect_timeout)
        self.codec: Codec = _make_codec(serializer, json)
        # The JSON codec's one-pass ack encoder, when the codec's `encode` is that codec's own.
        self._plain_ack: Callable[[str, list[Any], int], str | None] | None = (
            self.codec.encode_plain_ack
            if isinstance(self.codec, JSONCodec) and type(self.codec).encode is JSONCodec.encode
            else None
        )
        self.json = json
        self.handlers: dict[str, dict[str, Callable[..., Any]]] = {}
        self.namespace_handlers: dict[str, Namespace] = {}
        self.environ: dict[str, dict[str, Any]] = {}
        self._clients: dict[str, ClientState] = {}
        self._held: dict[str, list[EncodedMessage]] = {}  # sid -> messages held until accepted
        self.lock = self.eio.driver.lock()
        self._gate_lock = self.eio.driver.lock()  # issue 21: `ClientState.gated` (never under `lock`)
        self.manager: ClientManager = client_manager or LocalManager()
        # The hook points of the features (hooks.py): empty lists while they are off.
        self.hooks = Hooks()
        # Every emit takes this one path (pipeline.py); the features plug into its stages.
        self.pipeline = OutboundPipeline(self.manager, self.encode, self.deliver, self.eio.backpressure.writable,
                                         self.eio.driver, self.lock, self.eio.run_from_thread)
        self._attach_manager(self.manager)
        self._manager_initialized = False
        # Cluster-wide operations (fetch/move sockets, broadcast with acks, server-side emits):
        # made now, so this node answers the other nodes' requests from the start.
        self.cluster: ClusterOperations = install_feature("cluster", self)
        # Called once with the manager's initialize(), when the server runs (`when_running`).
        self.initializers: list[Callable[[], None]] = []
        # Connection state recovery (features/recovery.py) and the Admin UI (features/admin.py,
        # `instrument`) install themselves on the hooks and set these (None: off).
        self.recovery: RecoveryFeature | None = None
        self.admin: AdminFeature | None = None
        if connection_state_recovery is not None and connection_state_recovery is not False:  # {}: on
            install_feature("recovery", self, connection_state_recovery)

    def _attach_manager(self, manager: ClientManager) -> None:
        manager.attach(ManagerHost(
            encode=self.encode, deliver=self.deliver, disconnect=self._disconnect_local,
            lock=self.lock, driver=self.eio.driver, json=self.json, apply=self.pipeline.apply,
        ))

    def use_manager(self, manager: ClientManager) -> None:
        """Replace the client manager before the server runs (a worker of ``workers=N`` joins
        the workers' bus this way: the app was built, with a `LocalManager`, before the fork)."""
        if self._manager_initialized or self._clients:
            raise RuntimeError("the client manager can only be replaced before the server runs")
        self.manager = manager
        self.pipeline.manager = manager
        self._attach_manager(manager)
        self.cluster.adopt_manager(manager)
        for hook in self.hooks.managers:
            hook.adopt_manager(manager)

    def instrument(self, auth: Any = None, mode: str = "development", read_only: bool = False,
                   server_id: str | None = None, namespace: str = "/admin",
                   server_stats_interval: float = 2, ui_path: str | None = None,
                   ui_dir: str | None = None) -> Any:
        """Report to the official Socket.IO Admin UI on `namespace` (python-socketio's call;
        see `socketio_core.features.admin`). `auth` is mandatory: a ``{'username', 'password'}`` dict,
        a list of them, a callable(auth) -> bool, or False to turn authentication off.
        `ui_path` also serves the UI's files (the npm package's ``ui/dist``) at that URL path."""
        return install_feature("admin", self, auth=auth, mode=mode, read_only=read_only, server_id=server_id,
                          namespace=namespace, server_stats_interval=server_stats_interval,
                          ui_path=ui_path, ui_dir=ui_dir)

    # -- registration ----------------------------------------------------------------------
    def on(self, event: str, handler: Callable[..., Any] | None = None, namespace: str | None = None) -> Any:
        namespace = namespace or "/"

        def register(fn: Callable[..., Any]) -> Callable[..., Any]:
            self.handlers.setdefault(namespace, {})[event] = fn
            return fn

        return register(handler) if handler is not None else register

    def event(self, *args: Any, **kwargs: Any) -> Any:
        """``@sio.event`` or ``@sio.event(namespace='/x')``: the function name is the event."""
        if len(args) == 1 and not kwargs and callable(args[0]):
            return self.on(args[0].__name__)(args[0])

        def register(fn: Callable[..., Any]) -> Callable[..., Any]:
            return self.on(fn.__name__, **kwargs)(fn)  # type: ignore[no-any-return]

        return register

    def register_namespace(self, namespace_handler: Namespace) -> None:
        if not isinstance(namespace_handler, Namespace):
            raise ValueError("Not a namespace instance")
        namespace_handler._set_server(self)
        self.namespace_handlers[namespace_handler.namespace] = namespace_handler

    # -- emitting ----------------------------------------------------------------------------
    def encode(self, packet: SocketPacket) -> list[EncodedMessage]:
        """A packet's Engine.IO messages, encoded once, shareable by every recipient."""
        return [EncodedMessage.message(part) for part in self.codec.encode(packet)]

    def deliver(self, recipients: Iterable[tuple[str, str]], parts: Sequence[EncodedMessage]) -> None:
        """Send encoded messages to (sid, eio_sid) recipients; hold them for clients whose
        connect handler has not accepted yet (they are sent right after the CONNECT ack)."""
        held = self._held
        if not held:  # nobody is waiting for a connect handler: the broadcast hot path
            eio_sids = [eio_sid for _, eio_sid in recipients]
            if self.hooks.connection:
                self._count_out(len(eio_sids), parts)
            send_many = self.eio.send_many
            for part in parts:
                send_many(eio_sids, part)
            return
        eio_sids = []
        for sid, eio_sid in recipients:
            if held and sid in held:
                # Under the lock: `_run_connect` may be flushing this queue in another thread.
                with self.lock:
                    queue = held.get(sid)
                    if queue is not None:
                        queue.extend(parts)
                        overflow = len(queue) > MAX_HELD_MESSAGES
                        if overflow:
                            held.pop(sid, None)
                if queue is not None:
                    if overflow:
                        self.logger.warning("%s: too many messages held before connect; disconnecting", sid)
                        self.eio.disconnect(eio_sid)
                    continue
            eio_sids.append(eio_sid)
        if not eio_sids:
            return
        if self.hooks.connection:
            self._count_out(len(eio_sids), parts)
        send_many = self.eio.send_many
        for part in parts:
            send_many(eio_sids, part)

    def _count_out(self, recipients: int, parts: Sequence[EncodedMessage]) -> None:
        count, size = recipients * len(parts), recipients * _size(parts)
        for hook in self.hooks.connection:
            hook.packets_out(count, size)

    def emit(
        self,
        event: str,
        data: Any = None,
        to: Any = None,
        room: Any = None,
        skip_sid: Any = None,
        namespace: str | None = None,
        callback: Callable[..., Any] | None = None,
        ignore_queue: bool = False,
        skip_rooms: Any = None,
        volatile: bool = False,
        **kwargs: Any,
    ) -> None:
        """Emit to a sid, a room, a list of rooms, or everyone in the namespace, minus the
        `skip_sid` sids and the members of the `skip_rooms` rooms. A tuple `data` is several
        arguments. `volatile`: a client whose transport cannot take it right now does not get
        it. Every emit goes through the outbound pipeline (pipeline.py)."""
        namespace = namespace or "/"
        args = _args(data)
        target = to if to is not None else room
        if self.logger.isEnabledFor(logging.INFO):
            self.logger.info('emitting event "%s" to %s [%s]', event, _target_name(target), namespace)
        self.pipeline.emit(Outbound(
            event, args, namespace, target, skip_set(skip_sid) if skip_sid is not None else _NO_SIDS,
            tuple(room_list(skip_rooms)) if skip_rooms is not None else (), volatile, callback, ignore_queue,
        ))

    def send(self, data: Any, to: Any = None, room: Any = None, skip_sid: Any = None,
             namespace: str | None = None, callback: Callable[..., Any] | None = None,
             ignore_queue: bool = False, **kwargs: Any) -> None:
        self.emit("message", data, to=to, room=room, skip_sid=skip_sid, namespace=namespace,
                  callback=callback, ignore_queue=ignore_queue)

    def call(self, event: str, data: Any = None, to: Any = None, sid: Any = None,
             namespace: str | None = None, timeout: float = 60, ignore_queue: bool = False,
             **kwargs: Any) -> Any:
        """Emit to one client and wait for its acknowledgement; `TimeoutError` after `timeout`."""
        target = to if to is not None else sid
        if target is None:
            raise ValueError("Cannot use call() to broadcast.")
        namespace = namespace or "/"
        waiter = self.eio.create_event()
        box: list[tuple[Any, ...]] = []

        def on_ack(*args: Any) -> None:
            box.append(args)
            waiter.set()

        self.emit(event, data, to=target, namespace=namespace, callback=on_ack, ignore_queue=ignore_queue)
        if not waiter.wait(timeout):
            # From a foreign thread under gevent: the ack table belongs to the loop.
            self.in_loop(self.manager.drop_callback, target, on_ack)
            raise TimeoutError()
        args = box[0]
        if len(args) == 0:
            return None
        return args[0] if len(args) == 1 else args

    # -- rooms ---------------------------------------------------------------------------------
    def enter_room(self, sid: str, room: Any, namespace: str | None = None) -> None:
        namespace = namespace or "/"
        self.logger.info("%s is entering room %s [%s]", sid, room, namespace)
        self.in_loop(self.manager.enter_room, sid, namespace, room)
        if self.hooks.rooms:
            self.session_changed(sid, namespace)

    def leave_room(self, sid: str, room: Any, namespace: str | None = None) -> None:
        namespace = namespace or "/"
        self.logger.info("%s is leaving room %s [%s]", sid, room, namespace)
        self.in_loop(self.manager.leave_room, sid, namespace, room)
        if self.hooks.rooms:
            self.session_changed(sid, namespace)

    def close_room(self, room: Any, namespace: str | None = None) -> None:
        namespace = namespace or "/"
        self.logger.info("room %s is closing [%s]", room, namespace)
        self.in_loop(self.manager.close_room, room, namespace)

    def rooms(self, sid: str, namespace: str | None = None) -> list[Any]:
        """The rooms of a client, its own sid room included."""
        return self.manager.get_rooms(sid, namespace or "/")

    def session_changed(self, sid: str, namespace: str) -> None:
        """The rooms or the session data of a connected `sid` changed (the `RoomHook`s: a
        shared recovery store writes them through)."""
        for hook in self.hooks.rooms:
            hook.changed(sid, namespace)

    def in_loop(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run `fn(*args)` on the serving loop: now when called there, else handed to it."""
        driver = self.eio.driver
        if driver.in_loop():
            fn(*args)
        else:
            driver.call_in_loop(fn, *args)

    # -- sessions and introspection --------------------------------------------------------
    def _client_of(self, sid: str, namespace: str) -> ClientState | None:
        eio_sid = self.manager.eio_sid_from_sid(sid, namespace)
        return self._clients.get(eio_sid) if eio_sid is not None else None

    def get_session(self, sid: str, namespace: str | None = None) -> dict[str, Any]:
        namespace = namespace or "/"
        client = self._client_of(sid, namespace)
        if client is None:
            raise KeyError(f"Session {sid} not found")
        return client.sessions.setdefault(namespace, {})

    def save_session(self, sid: str, session: dict[str, Any], namespace: str | None = None) -> None:
        namespace = namespace or "/"
        client = self._client_of(sid, namespace)
        if client is None:
            raise KeyError(f"Session {sid} not found")
        client.sessions[namespace] = session
        if self.hooks.rooms:
            self.session_changed(sid, namespace)

    @contextmanager
    def session(self, sid: str, namespace: str | None = None) -> Iterator[dict[str, Any]]:
        sess = self.get_session(sid, namespace)
        yield sess
        self.save_session(sid, sess, namespace)

    def client_state(self, eio_sid: str) -> ClientState | None:
        """What this server keeps for a live Engine.IO connection (None: gone)."""
        return self._clients.get(eio_sid)

    def transport(self, sid: str, namespace: str | None = None) -> str:
        client = self._client_of(sid, namespace or "/")
        if client is None:
            raise KeyError(sid)
        return self.eio.transport(client.eio_sid)

    def get_environ(self, sid: str, namespace: str | None = None) -> dict[str, Any] | None:
        client = self._client_of(sid, namespace or "/")
        return client.environ if client is not None else None

    def is_connected(self, sid: str, namespace: str | None = None) -> bool:
        namespace = namespace or "/"
        client = self._client_of(sid, namespace)
        return client is not None and client.namespaces.get(namespace) == sid and namespace not in client.pending

    def recovered(self, sid: str, namespace: str | None = None) -> bool:
        """Whether this connection of `sid` got its state back (connection state recovery)."""
        resume = self.hooks.resume
        return resume is not None and resume.was_recovered(sid)

    def disconnect(self, sid: str, namespace: str | None = None, ignore_queue: bool = False, **kwargs: Any) -> None:
        """Disconnect a client from one namespace (server side)."""
        namespace = namespace or "/"
        if not self.eio.driver.in_loop():
            self.eio.driver.call_in_loop(self.disconnect, sid, namespace, ignore_queue)
            return
        if not self._disconnect_local(sid, namespace) and not ignore_queue:
            self.manager.disconnect_remote(sid, namespace)

    def _disconnect_local(self, sid: str, namespace: str) -> bool:
        """Disconnect a client of this process from `namespace` (on the loop); False when
        this process does not hold it."""
        client = self._client_of(sid, namespace)
        if client is None or client.namespaces.get(namespace) != sid:
            return False
        self.logger.info("Disconnecting %s [%s]", sid, namespace)
        self._send_packet(client.eio_sid, SocketPacket(PacketType.DISCONNECT, namespace))
        self._disconnect_namespace(client, namespace, sid, Reason.SERVER_DISCONNECT)
        return True

    # -- WSGI / lifecycle ----------------------------------------------------------------------
    def handle_request(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if not self._manager_initialized:
            self._start_running()
        return self.eio.handle_request(environ, start_response)

    def when_running(self, start: Callable[[], None]) -> None:
        """Call `start` once the server runs (its first request or connection), in the thread
        and loop that serve it: background work started when the app is built could land on
        another thread's loop (an app built in one thread and served from another). At once
        if it already runs."""
        if self._manager_initialized:
            start()
        else:
            self.initializers.append(start)

    def start_running(self) -> None:
        """Start now, in this thread and loop, what starts when the server runs (the manager's
        listener, `when_running` work) instead of at the first request: a worker of
        ``workers=N`` subscribes to the bus or message queue before its first client."""
        if not self._manager_initialized:
            self._start_running()

    def _start_running(self) -> None:
        self._manager_initialized = True
        self.manager.initialize()
        for initializer in self.initializers:
            initializer()

    def start_background_task(self, target: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return self.eio.start_background_task(target, *args, **kwargs)

    def sleep(self, seconds: float = 0) -> None:
        self.eio.sleep(seconds)

    def shutdown(self) -> None:
        self.eio.shutdown()

    # -- virtual connections (the Flask test client) ------------------------------------------------
    def connect_virtual(self, eio_sid: str, environ: dict[str, Any], sink: VirtualSink) -> None:
        """Open an in-memory connection: the engine delivers to ``sink.send(EncodedMessage)``
        as to a WebSocket (`EngineServer.attach_virtual`), and this server sees it connect.
        Drive it with `receive` and end it with `disconnect_virtual`."""
        self.eio.attach_virtual(eio_sid, environ, sink)
        self._handle_eio_connect(eio_sid, environ)

    def receive(self, eio_sid: str, data: str | bytes) -> None:
        """One Engine.IO message of a connection, as the engine hands it over (decoded and
        dispatched here, handlers included)."""
        self._handle_eio_message(eio_sid, data)

    def disconnect_virtual(self, eio_sid: str, reason: str) -> None:
        """End an in-memory connection as the engine would, for `reason` (``transport close``:
        as a network failure, recoverable; ``client namespace disconnect``)."""
        try:
            self._handle_eio_disconnect(eio_sid, reason)
        finally:
            self.eio.detach_virtual(eio_sid)

    # -- sending (internal) ----------------------------------------------------------------------
    def _send_packet(self, eio_sid: str, packet: SocketPacket) -> None:
        for part in self.encode(packet):
            self.eio.send_encoded(eio_sid, part)

    def _send_eio_packet(self, eio_sid: str, message: EncodedMessage) -> None:
        self.eio.send_encoded(eio_sid, message)

    # -- engine events -------------------------------------------------------------------------
    def _handle_eio_connect(self, eio_sid: str, environ: dict[str, Any]) -> bool:
        if not self._manager_initialized:
            self._start_running()
        for hook in self.hooks.connection:
            hook.raw_connection()
        client = ClientState(eio_sid, environ, self.codec.decoder())
        client.revision = codec_v4.revision_for_engine(self.eio.protocol(eio_sid))
        self._clients[eio_sid] = client
        self.environ[eio_sid] = environ
        if self.connect_timeout > 0:
            # Spec: a client that does not connect to a namespace in time is disconnected.
            client.connect_timer = self.eio.call_later(self.connect_timeout, self._connect_timed_out, eio_sid)
        return True

    def _handle_eio_opened(self, eio_sid: str) -> None:
        """Socket.IO v4: a client is connected to ``/`` without asking, once its OPEN is out."""
        client = self._clients.get(eio_sid)
        if client is not None and client.revision == codec_v4.V4:
            self._handle_connect(client, "/", None)

    def _handle_eio_upgrade(self, eio_sid: str) -> None:
        client = self._clients.get(eio_sid)
        if client is not None:
            for hook in self.hooks.connection:
                hook.socket_upgraded(client.namespaces)

    def _connect_timed_out(self, eio_sid: str) -> None:
        client = self._clients.get(eio_sid)
        if client is not None and not client.namespaces:
            self.logger.info("%s: no CONNECT within %ss, closing", eio_sid, self.connect_timeout)
            self.eio.disconnect(eio_sid)

    def _handle_eio_message(self, eio_sid: str, data: str | bytes) -> None:
        client = self._clients.get(eio_sid)
        if client is None:
            return
        if self.hooks.inbound:
            for hook in self.hooks.inbound:
                hook.packet_in(len(data))
        try:
            packet = client.decoder.feed(data)
        except RemoteProtocolError as exc:
            self._protocol_error(client, exc.reason)
            return
        if packet is None:
            # A BINARY_EVENT / BINARY_ACK waits for its attachments. Only a client connected
            # to a namespace may make us hold attachments (CVE-2026-48804). (A binary message
            # is not always an attachment: with msgpack it is a whole packet, CONNECT included.)
            if not client.namespaces and client.decoder.awaiting_attachments:
                self._protocol_error(client, "binary packet before CONNECT")
            return
        ptype = packet.type
        if ptype is PacketType.EVENT or ptype is PacketType.BINARY_EVENT:
            self._handle_event(client, packet)
        elif ptype is PacketType.ACK or ptype is PacketType.BINARY_ACK:
            self._handle_ack(client, packet)
        elif ptype is PacketType.CONNECT:
            self._handle_connect(client, packet.namespace, packet.data)
        elif ptype is PacketType.DISCONNECT:
            sid = client.namespaces.get(packet.namespace)
            if sid is not None:
                self._disconnect_namespace(client, packet.namespace, sid, Reason.CLIENT_DISCONNECT)
        else:
            self._protocol_error(client, f"unexpected {ptype.name} packet from a client")

    def _handle_eio_disconnect(self, eio_sid: str, reason: str) -> None:
        client = self._clients.get(eio_sid)
        if client is None:
            return
        for hook in self.hooks.connection:
            hook.raw_disconnection(reason)
        if client.connect_timer is not None:
            self.eio.cancel_call(client.connect_timer)
        sockets = self.hooks.sockets
        for namespace, sid in list(client.namespaces.items()):
            if sockets and namespace not in client.pending:
                for socket_hook in sockets:
                    socket_hook.dropping(client, namespace, sid, reason)
            self._disconnect_namespace(client, namespace, sid, reason)
        client.decoder.reset()
        self._clients.pop(eio_sid, None)
        self.environ.pop(eio_sid, None)

    def _protocol_error(self, client: ClientState, reason: str) -> None:
        """Spec: an invalid packet MUST close the connection. Only this client is affected."""
        self.logger.warning("%s: invalid packet (%s); disconnecting", client.eio_sid, reason)
        client.decoder.reset()
        self.eio.disconnect(client.eio_sid)

    # -- namespaces ----------------------------------------------------------------------------
    def _namespace_allowed(self, namespace: str) -> bool:
        return (
            namespace in self.handlers
            or namespace in self.namespace_handlers
            or "*" in self.handlers
            or "*" in self.namespace_handlers
            or self.namespaces == "*"
            or (isinstance(self.namespaces, (list, tuple, set)) and namespace in self.namespaces)
        )

    def _handle_connect(self, client: ClientState, namespace: str, auth: Any) -> None:
        if namespace in client.namespaces or not self._namespace_allowed(namespace):
            message = "Invalid namespace" if namespace not in client.namespaces else "Already connected"
            self.logger.info("%s: connect to %s refused: %s", client.eio_sid, namespace, message)
            self._send_packet(client.eio_sid, SocketPacket(PacketType.CONNECT_ERROR, namespace, {"message": message}))
            return
        resume = self.hooks.resume
        if resume is not None and resume.resume(client, namespace, auth):
            return  # resumed (or being resumed: a shared store answers later)
        self.connect_new(client, namespace, auth)

    def connect_new(self, client: ClientState, namespace: str, auth: Any) -> None:
        """A CONNECT that is not a recovery: a new sid, then the connect handler."""
        early = self._accepts_early(namespace)
        with self.lock:  # threading: no broadcast may reach the new sid before it is held
            sid = self.manager.connect(client.eio_sid, namespace, codec_v4.legacy_sid(client.revision, client.eio_sid, namespace))
            client.namespaces[namespace] = sid
            resume = self.hooks.resume
            if resume is not None:
                resume.started(sid)  # issue 21: the session's replay floor
            client.gated[namespace] = []  # issue 21: no event is handled before the handler accepts
            if not early:
                client.pending.add(namespace)
                self._held[sid] = []
        if early:
            self._send_packet(client.eio_sid, codec_v4.connect_ack(client.revision, namespace, self._connect_ack(sid, client, namespace)))
        self._dispatch(self._run_connect, client, namespace, sid, auth)

    def resume_session(self, client: ClientState, namespace: str, sid: str, missed: Sequence[EncodedMessage],
                       auth: Any, run_connect: bool) -> None:
        """The server's half of a resumed session (a `ResumeHook` calls it on the loop, under
        the lock, once it registered `sid` again with its rooms): without `run_connect` the
        CONNECT ack and then the `missed` messages are sent now; with it the connect handler
        decides, the missed messages held first in line until it accepts."""
        if not run_connect:
            if client.connect_timer is not None:
                self.eio.cancel_call(client.connect_timer)
                client.connect_timer = None
            self._send_packet(client.eio_sid, SocketPacket(PacketType.CONNECT, namespace,
                                                           self._connect_ack(sid, client, namespace)))
            for part in missed:
                self.eio.send_encoded(client.eio_sid, part)
            return
        client.pending.add(namespace)
        client.gated[namespace] = []  # its events wait for that answer too (issue 21)
        self._held[sid] = list(missed)
        self._dispatch(self._run_connect, client, namespace, sid, auth)

    def _accepts_early(self, namespace: str) -> bool:
        """`always_connect`: the CONNECT ack goes out before the connect handler rules, except
        on the namespaces a feature guards (the Admin UI's, accepted only once the credentials
        are checked: issue 21)."""
        return self.always_connect and namespace not in self.hooks.never_early

    def _connect_ack(self, sid: str, client: ClientState, namespace: str) -> dict[str, Any]:
        """The CONNECT ack's data: ``{"sid"}``, or the `ResumeHook`'s (recovery adds its
        private id)."""
        resume = self.hooks.resume
        if resume is None:
            return {"sid": sid}
        return resume.connect_ack(client, namespace, sid)

    def _run_connect(self, client: ClientState, namespace: str, sid: str, auth: Any) -> None:
        refusal: dict[str, Any] | None = None
        try:
            result = self._trigger_connect(namespace, sid, client.environ, auth)
            if result is False:
                refusal = {"message": "Connection rejected by server"}
        except ConnectionRefusedError as exc:
            refusal = exc.error_args
        except builtins.ConnectionRefusedError:
            refusal = {"message": "Connection refused by server"}
        except Exception:
            self.logger.exception("connect handler error")
            refusal = {"message": "Connection rejected by server"}
        if client.namespaces.get(namespace) != sid:
            return  # the client went away meanwhile
        if refusal is None and client.connect_timer is not None:
            # Only an accepted CONNECT stops the connect timeout: a client whose every CONNECT
            # is refused is closed like one that never sent any.
            self.eio.cancel_call(client.connect_timer)
            client.connect_timer = None
        early = self._accepts_early(namespace)
        if refusal is not None:
            with self.lock:
                self._held.pop(sid, None)
                client.pending.discard(namespace)
                client.gated.pop(namespace, None)  # issue 21: what waited is dropped
            if early:
                self._send_packet(client.eio_sid, SocketPacket(PacketType.DISCONNECT, namespace))
            else:
                self._send_packet(client.eio_sid, codec_v4.connect_refusal(client.revision, namespace, refusal))
            self.manager.disconnect(sid, namespace)
            client.namespaces.pop(namespace, None)
            client.sessions.pop(namespace, None)
            for hook in self.hooks.sockets:
                hook.disconnected(sid, namespace, "connection refused", False)
            return
        if not early:
            # Accepting is one step, as seen from both sides of the connection. The client's
            # events are accepted BEFORE the CONNECT ack can reach it (a client may answer the
            # ack at once, and its event must not find the namespace still pending); messages
            # to the client stay held until the ack and the held ones are written, so nothing
            # another thread delivers directly overtakes the ack.
            with self.lock:
                client.pending.discard(namespace)
                self._send_packet(client.eio_sid, codec_v4.connect_ack(client.revision, namespace, self._connect_ack(sid, client, namespace)))
                held = self._held.pop(sid, None)
                if held:
                    for part in held:
                        self.eio.send_encoded(client.eio_sid, part)
        for hook in self.hooks.sockets:
            hook.connected(client, namespace, sid)
        self._release_gated(client, namespace, sid)

    def _release_gated(self, client: ClientState, namespace: str, sid: str) -> None:
        """Issue 21: the events that waited for the connect handler, in order; new ones keep
        queueing behind them until the queue is empty."""
        while True:
            with self._gate_lock:
                queue = client.gated.get(namespace)
                if not queue or client.namespaces.get(namespace) != sid:
                    client.gated.pop(namespace, None)
                    return
                packet = queue.pop(0)
            self._handle_event(client, packet, released=True)

    def _disconnect_namespace(self, client: ClientState, namespace: str, sid: str, reason: str) -> None:
        if client.namespaces.get(namespace) != sid:
            return
        self.logger.info("%s left namespace %s: %s", sid, namespace, reason)
        was_accepted = self._held.pop(sid, None) is None
        del client.namespaces[namespace]
        client.pending.discard(namespace)
        client.gated.pop(namespace, None)  # issue 21
        try:
            if was_accepted:
                self._trigger_disconnect(namespace, sid, reason)
        finally:
            self.manager.disconnect(sid, namespace)
            client.sessions.pop(namespace, None)
            for hook in self.hooks.sockets:
                hook.disconnected(sid, namespace, reason, was_accepted)

    # -- events and acks ---------------------------------------------------------------------
    def _handle_event(self, client: ClientState, packet: SocketPacket, released: bool = False) -> None:
        namespace = packet.namespace
        if not released and client.gated and self._gate(client, packet):
            return  # issue 21: waits for the connect handler's ruling
        sid = client.namespaces.get(namespace)
        if self.logger.isEnabledFor(logging.INFO):
            self.logger.info('received event "%s" from %s [%s]', packet.data[0], sid, namespace)
        if sid is None or namespace in client.pending:
            self.logger.warning("%s is not connected to namespace %s", client.eio_sid, namespace)
            return
        data = packet.data
        event = data[0]
        if event in RESERVED_EVENTS:
            self.logger.warning("%s: ignoring reserved event name %r from the client", sid, event)
            return
        if self.hooks.inbound:
            for hook in self.hooks.inbound:
                hook.event_received(sid, namespace, event, data[1:])
        if self.async_handlers:
            driver = self.eio.driver
            if driver.inline_allowed():
                # The engine runs us under a guard: if the handler blocks, reading moves on.
                self._run_event(client.eio_sid, sid, namespace, event, data[1:], packet.id)
            else:
                driver.dispatch(self._run_event, client.eio_sid, sid, namespace, event, data[1:], packet.id)
        else:
            self._run_event(client.eio_sid, sid, namespace, event, data[1:], packet.id)

    def _run_event(self, eio_sid: str, sid: str, namespace: str, event: str, args: list[Any], ack_id: int | None) -> None:
        try:
            result = self._trigger_event(event, namespace, sid, *args)
        except Exception:
            self.logger.exception("event handler error (%s)", event)
            return
        if result is _NO_HANDLER:
            # Nobody handles it: no ACK either (as the reference), the client's callback
            # times out on its side.
            self.logger.info("%s: no handler for event %r in %s", sid, event, namespace)
            return
        if ack_id is not None:
            if result is None:
                ack_args: list[Any] = []
            elif isinstance(result, tuple):
                ack_args = list(result)
            else:
                ack_args = [result]
            plain_ack = self._plain_ack
            if plain_ack is not None:
                text = plain_ack(namespace, ack_args, ack_id)
                if text is not None:
                    self.eio.send_encoded(eio_sid, EncodedMessage.message(text))
                    return
            self._send_packet(eio_sid, SocketPacket(PacketType.ACK, namespace, ack_args, ack_id))

    def _gate(self, client: ClientState, packet: SocketPacket) -> bool:
        """Queue an event of a namespace whose connect handler has not ruled (issue 21);
        False when it has. Bounded like the messages held for such a client."""
        with self._gate_lock:
            queue = client.gated.get(packet.namespace)
            if queue is None:
                return False
            queue.append(packet)
            overflow = len(queue) > MAX_HELD_MESSAGES
        self.logger.info("%s: event in %s waits for the connect handler", client.eio_sid, packet.namespace)
        if overflow:
            self._protocol_error(client, "too many events before the connect handler accepted")
        return True

    def _handle_ack(self, client: ClientState, packet: SocketPacket) -> None:
        sid = client.namespaces.get(packet.namespace)
        if self.logger.isEnabledFor(logging.INFO):
            self.logger.info("received ack from %s [%s]", sid, packet.namespace)
        if sid is None or packet.id is None:
            return
        try:
            handled = self.manager.trigger_callback(sid, packet.id, list(packet.data or []))
        except Exception:
            self.logger.exception("ack callback error")
            return
        if not handled:
            self.logger.warning("Unknown callback received, ignoring.")

    def _dispatch(self, fn: Callable[..., Any], *args: Any) -> None:
        if self.async_handlers:
            driver = self.eio.driver
            if driver.inline_allowed():
                fn(*args)
            else:
                driver.dispatch(fn, *args)
        else:
            fn(*args)

    # -- handler lookup (the reference's order) -----------------------------------------------
    def _trigger_event(self, event: str, namespace: str, *args: Any) -> Any:
        """Exact event → ``'*'`` event → ``'*'`` namespace (exact, then ``'*'``) → class
        namespace → class namespace ``'*'``. Returns `_NO_HANDLER` when nobody handles it."""
        special = event in ("connect", "disconnect")
        handlers = self.handlers.get(namespace)
        if handlers is not None:
            handler = handlers.get(event)
            if handler is not None:
                return handler(*args)
            if not special and "*" in handlers:
                return handlers["*"](event, *args)
        star = self.handlers.get("*")
        if star is not None:
            handler = star.get(event)
            if handler is not None:
                return handler(namespace, *args)
            if not special and "*" in star:
                return star["*"](event, namespace, *args)
        ns_handler = self.namespace_handlers.get(namespace) or self.namespace_handlers.get("*")
        if ns_handler is not None and ns_handler.has_handler(event):
            return ns_handler.trigger_event(event, *args)
        return _NO_HANDLER

    def _trigger_connect(self, namespace: str, sid: str, environ: dict[str, Any], auth: Any) -> Any:
        handler = self._find_special("connect", namespace)
        if handler is None:
            return None
        fn, prefix = handler
        return fn(*trim_args(fn, (*prefix, sid, environ, auth)))

    def _trigger_disconnect(self, namespace: str, sid: str, reason: str) -> Any:
        handler = self._find_special("disconnect", namespace)
        if handler is None:
            return None
        fn, prefix = handler
        try:
            return fn(*trim_args(fn, (*prefix, sid, reason)))
        except Exception:
            self.logger.exception("disconnect handler error")
            return None

    def _find_special(self, event: str, namespace: str) -> tuple[Callable[..., Any], tuple[Any, ...]] | None:
        """The connect/disconnect handler and the arguments that go before the sid."""
        handlers = self.handlers.get(namespace)
        if handlers is not None and event in handlers:
            return handlers[event], ()
        star = self.handlers.get("*")
        if star is not None and event in star:
            return star[event], (namespace,)
        ns_handler = self.namespace_handlers.get(namespace) or self.namespace_handlers.get("*")
        if ns_handler is not None and ns_handler.has_handler(event):
            return functools.partial(ns_handler.trigger_event, event), ()
        return None


def _size(parts: Sequence[EncodedMessage]) -> int:
    """The payload bytes of a packet's messages (the Admin UI's ``bytesOut``)."""
    return sum(len(part.packet.data) for part in parts)


def _target_name(target: Any) -> Any:
    """How an emit's addressee reads in the log (as the reference: ``all`` for everyone)."""
    return "all" if target is None or target == [] else target


def _args(data: Any) -> list[Any]:
    if data is None:
        return []
    if isinstance(data, tuple):
        return list(data)
    return [data]


def _make_codec(serializer: Any, json: Any) -> Codec:
    if serializer in ("default", None):
        return JSONCodec(json=json)
    if serializer == "msgpack":
        return MsgPackCodec()
    if hasattr(serializer, "encode") and hasattr(serializer, "decoder"):
        return serializer  # type: ignore[no-any-return]
    raise ValueError(f"invalid serializer {serializer!r}: use 'default', 'msgpack' or a codec")


__all__ = ["ClientState", "ConnectionRefusedError", "DisconnectedError", "SocketServer", "TimeoutError"]
