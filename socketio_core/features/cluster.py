"""Cluster-wide operations: ask, move and emit to the sockets of every node.

`Cluster` (one per `SocketServer`, `SocketServer.cluster`) offers what Node's adapters offer
(``fetchSockets``, ``socketsJoin``/``socketsLeave``, ``disconnectSockets``,
``serverSideEmit``, ``timeout().emitWithAck()``, ``volatile`` and ``except``), the same with one
process (`LocalManager`) and with N processes on a message queue (`PubSubManager`).

Addressing is Node's: ``to`` is a room, a list of rooms (their union) or None (everyone in
the namespace); ``skip`` is a room or a list of rooms whose members are left out. A sid is a
room (every client is in the room named by its sid), so ``skip=sid`` leaves one client out.

Between processes every operation is a *request* on the manager's channel (JSON, method
``cluster_request``): each node applies it to the clients it holds and, when the operation has
a result, answers with ``cluster_response`` messages addressed to the asker's ``host_id``.
The asker counts the nodes that should answer with the broker's subscriber count (Redis
``PUBSUB NUMSUB``), refreshed while it waits, so a node that leaves mid-request is not waited
for; whatever happens, the caller gets its answer or its error by ``timeout``. A broker that
cannot count its subscribers makes a request wait for its whole timeout and return what came.

Broadcast with acknowledgements: every node reports how many of its clients it sent the event
to, then relays each client's answer; the asker is done when every node has reported and every
announced answer has arrived. A timeout raises `BroadcastTimeoutError`, which carries the
answers that did arrive.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from ..exceptions import TimeoutError
from ..protocol.rooms import room_list
from ..server.manager import LocalManager
from ..server.pipeline import Outbound
from ..server.pubsub import PubSubManager

if TYPE_CHECKING:
    from ..server.server import SocketServer


logger = logging.getLogger("socketio_core.cluster")

DEFAULT_TIMEOUT = 5.0
# How often a waiting request re-counts the nodes (a node that left is not waited for).
RECOUNT_INTERVAL = 0.5


class BroadcastTimeoutError(TimeoutError):
    """Not every recipient (or node) answered in time; `answers` holds those that did."""

    def __init__(self, answers: list[Any], expected: int | None = None) -> None:
        self.answers = answers
        self.expected = expected
        got = len(answers)
        super().__init__(f"timeout: {got} answers received" + (f" out of {expected}" if expected is not None else ""))


@dataclass
class SocketInfo:
    """One client of the cluster (Node's ``RemoteSocket``): its sid, namespace, rooms (its
    own sid room included) and handshake (headers, address, query, url, secure)."""

    sid: str
    namespace: str
    rooms: list[Any]
    handshake: dict[str, Any]
    _cluster: Cluster | None = field(default=None, repr=False, compare=False)

    def emit(self, event: str, *args: Any) -> None:
        """Emit to this client, wherever it is connected."""
        self._server().emit(event, _data(args), to=self.sid, namespace=self.namespace)

    def join(self, room: Any) -> None:
        self._server().enter_room(self.sid, room, namespace=self.namespace)

    def leave(self, room: Any) -> None:
        self._server().leave_room(self.sid, room, namespace=self.namespace)

    def disconnect(self) -> None:
        self._server().disconnect(self.sid, namespace=self.namespace)

    def _server(self) -> SocketServer:
        if self._cluster is None:
            raise RuntimeError("this SocketInfo is not bound to a server")
        return self._cluster.server


def _data(args: tuple[Any, ...]) -> Any:
    if not args:
        return None
    return args[0] if len(args) == 1 else args


def _rooms(value: Any) -> list[Any] | None:
    """`to`/`skip` as a list of rooms; None (or an empty list) means no filter."""
    return room_list(value) or None


def handshake_of(environ: dict[str, Any] | None) -> dict[str, Any]:
    """What a client's connection request said, as JSON-able data (Node's ``handshake``)."""
    if not environ:
        return {}
    headers = {key[5:].replace("_", "-").lower(): value for key, value in environ.items()
               if key.startswith("HTTP_") and isinstance(value, str)}
    if environ.get("CONTENT_TYPE"):
        headers["content-type"] = environ["CONTENT_TYPE"]
    query = {k: v[0] if len(v) == 1 else v for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
    path = environ.get("PATH_INFO", "")
    qs = environ.get("QUERY_STRING", "")
    return {
        "headers": headers,
        "address": environ.get("REMOTE_ADDR"),
        "query": query,
        "url": path + ("?" + qs if qs else ""),
        "secure": environ.get("wsgi.url_scheme") == "https",
        "xdomain": "HTTP_ORIGIN" in environ,
    }


class _Request:
    """What the asker keeps while the other nodes answer one request."""

    def __init__(self, cluster: Cluster, kind: str, waiter: Any) -> None:
        self.cluster = cluster
        self.kind = kind
        self.waiter = waiter
        self.nodes: int | None = None  # other nodes expected to answer (None: unknown)
        self.answered: set[str] = set()  # host_ids that answered (ack: that reported a count)
        self.items: list[Any] = []
        self.expected_acks = 0
        self.sid_target = False
        self.callbacks: list[tuple[str, Callable[..., Any]]] = []  # (sid, ack callback) sent here
        self.id = uuid.uuid4().hex

    def check(self) -> None:
        if self.nodes is None or len(self.answered) < self.nodes:
            return
        if self.kind == "ack" and len(self.items) < self.expected_acks:
            return
        self.waiter.set()


def install_cluster(server: SocketServer) -> Cluster:
    """The cluster-wide operations of `server` (`SocketServer.cluster`), made with the server,
    so this node answers the other nodes' requests from the start."""
    return Cluster(server)


class Cluster:
    """The cluster-wide operations of one server (see the module docstring)."""

    def __init__(self, server: SocketServer) -> None:
        self.server = server
        self.server_handlers: dict[str, dict[str, Callable[..., Any]]] = {}
        self._requests: dict[str, _Request] = {}
        self.adopt_manager(server.manager)

    def adopt_manager(self, manager: Any) -> None:
        """Answer the other nodes' requests that arrive through `manager` (the server's, also
        when it is replaced before the server runs: `SocketServer.use_manager`)."""
        extensions = getattr(manager, "extensions", None)
        if isinstance(extensions, dict):
            extensions["cluster_request"] = self._on_request
            extensions["cluster_response"] = self._on_response

    # -- plumbing -------------------------------------------------------------------------------
    @property
    def manager(self) -> LocalManager:
        manager = self.server.manager
        if not isinstance(manager, LocalManager):
            raise TypeError("cluster operations need a LocalManager (or a PubSubManager)")
        return manager

    @property
    def pubsub(self) -> PubSubManager | None:
        """The manager, when it publishes to other processes."""
        manager = self.server.manager
        return manager if isinstance(manager, PubSubManager) else None

    @property
    def clustered(self) -> bool:
        return self.server.manager.is_pubsub

    def _on_loop(self, fn: Callable[[], None]) -> None:
        driver = self.server.eio.driver
        if driver.in_loop():
            fn()
        else:
            driver.call_in_loop(fn)

    def _publish(self, message: dict[str, Any]) -> None:
        pubsub = self.pubsub
        if pubsub is not None:
            pubsub.publish(message)

    def _host_id(self) -> str:
        pubsub = self.pubsub
        return pubsub.host_id if pubsub is not None else ""

    def _count_nodes(self, request: _Request) -> None:
        """Count (again) the other nodes on the channel, off the loop, then re-check."""
        pubsub = self.pubsub
        counter = getattr(pubsub.broker, "subscriber_count", None) if pubsub is not None else None
        if counter is None:
            return
        write_only = self.server.manager.write_only
        driver = self.server.eio.driver

        def count() -> None:
            try:
                n = int(counter())
            except Exception as exc:
                logger.warning("cannot count the nodes of the cluster: %s", exc)
                return
            others = max(n if write_only else n - 1, 0)

            def apply() -> None:
                request.nodes = others
                request.check()

            driver.call_in_loop(apply)

        driver.blocking_io().start(count, "socketio-cluster-count")

    def _ask(self, kind: str, message: dict[str, Any], local: Callable[[_Request], None],
             timeout: float) -> _Request:
        """Run `local` on the loop, publish the request (in a cluster) and wait until every
        node answered or `timeout` passed. Returns the request; `waiter.is_set()` says
        whether it completed."""
        waiter = self.server.eio.create_event()
        request = _Request(self, kind, waiter)
        clustered = self.clustered

        def start() -> None:
            try:
                local(request)
            finally:
                if clustered:
                    self._requests[request.id] = request
                    message.update(method="cluster_request", request_id=request.id, kind=kind)
                    self._publish(message)
                    self._count_nodes(request)
                else:
                    request.nodes = 0
                request.check()

        self._on_loop(start)
        driver = self.server.eio.driver
        deadline = driver.monotonic() + timeout
        try:
            while True:
                left = deadline - driver.monotonic()
                if left <= 0 or waiter.wait(min(left, RECOUNT_INTERVAL)):
                    break
                if clustered:
                    self._count_nodes(request)
        finally:
            self._requests.pop(request.id, None)
        return request

    # -- matching (this process) ----------------------------------------------------------------
    def local_members(self, namespace: str, to: Any = None, skip: Any = None) -> list[tuple[str, str]]:
        """(sid, eio_sid) of this process's clients in `to` (None: all) and in no `skip` room."""
        manager = self.manager
        rooms = manager.rooms
        with manager.lock:
            targets = rooms.participants(namespace, _rooms(to) or None)
            skip_rooms = _rooms(skip)
            if skip_rooms:
                skipped: set[str] = set()
                for room in skip_rooms:
                    skipped.update(rooms.members(namespace, room))
                targets = [t for t in targets if t[0] not in skipped]
        return targets

    def local_infos(self, namespace: str, to: Any, skip: Any) -> list[dict[str, Any]]:
        out = []
        for sid, eio_sid in self.local_members(namespace, to, skip):
            out.append({"id": sid, "rooms": [sid, *[r for r in self.manager.get_rooms(sid, namespace) if r != sid]],
                        "handshake": handshake_of(self.server.environ.get(eio_sid))})
        return out

    # -- fetch sockets ----------------------------------------------------------------------
    def fetch_sockets(self, namespace: str = "/", to: Any = None, skip: Any = None,
                      timeout: float = DEFAULT_TIMEOUT) -> list[SocketInfo]:
        """The clients of `to` (minus `skip`) on every node. Raises `TimeoutError` when a
        node did not answer in time."""
        def local(request: _Request) -> None:
            request.items.extend(self.local_infos(namespace, to, skip))

        message = {"namespace": namespace, "to": _rooms(to), "skip": _rooms(skip)}
        request = self._ask("fetch", message, local, timeout)
        if not request.waiter.is_set() and request.nodes is not None:
            raise TimeoutError(f"timeout reached while waiting for fetch_sockets: "
                               f"{len(request.answered)} of {request.nodes} nodes answered")
        return [SocketInfo(s["id"], namespace, s["rooms"], s.get("handshake") or {}, self)
                for s in request.items]

    # -- move sockets -----------------------------------------------------------------------
    def sockets_join(self, rooms: Any, namespace: str = "/", to: Any = None, skip: Any = None) -> None:
        """Make the clients of `to` (minus `skip`) on every node join `rooms`."""
        self._apply("join", namespace, to, skip, {"rooms": _rooms(rooms) or []})

    def sockets_leave(self, rooms: Any, namespace: str = "/", to: Any = None, skip: Any = None) -> None:
        """Make the clients of `to` (minus `skip`) on every node leave `rooms`."""
        self._apply("leave", namespace, to, skip, {"rooms": _rooms(rooms) or []})

    def disconnect_sockets(self, namespace: str = "/", to: Any = None, skip: Any = None) -> None:
        """Disconnect the clients of `to` (minus `skip`) on every node, server side."""
        self._apply("disconnect", namespace, to, skip, {})

    def _apply(self, kind: str, namespace: str, to: Any, skip: Any, extra: dict[str, Any]) -> None:
        message = {"method": "cluster_request", "kind": kind, "namespace": namespace,
                   "to": _rooms(to), "skip": _rooms(skip), **extra}

        def run() -> None:
            self.apply_local(message)
            if self.clustered:
                self._publish(message)

        self._on_loop(run)

    def apply_local(self, message: dict[str, Any]) -> None:
        kind = message["kind"]
        namespace = message["namespace"]
        members = self.local_members(namespace, message.get("to"), message.get("skip"))
        manager = self.manager
        for sid, _ in members:
            if kind == "join":
                for room in message["rooms"]:
                    manager.enter_room(sid, namespace, room)
            elif kind == "leave":
                for room in message["rooms"]:
                    manager.leave_room(sid, namespace, room)
            elif kind == "disconnect":
                self.server.disconnect(sid, namespace=namespace, ignore_queue=True)

    # -- broadcast with acknowledgements ---------------------------------------------------------
    @property
    def can_count(self) -> bool:
        """Whether the asker knows how many nodes must answer (one process, or a broker that
        counts its subscribers: Redis). Otherwise a request waits for its whole timeout."""
        if not self.clustered:
            return True
        return getattr(getattr(self.manager, "broker", None), "subscriber_count", None) is not None

    def call(self, event: str, data: Any, namespace: str = "/", to: Any = None, skip: Any = None,
             timeout: float = 60, single_if_sid: bool = False) -> Any:
        """Emit to `to` (minus `skip`) on every node and return one answer per recipient
        (each the client's first ack argument, or the tuple of them); `BroadcastTimeoutError`
        with the answers received when some did not answer within `timeout` seconds.

        `single_if_sid`: when `to` turns out to be a client's sid (on any node), return that
        client's answer itself, or raise a plain `TimeoutError`, as a call to one client does."""
        args = list(data) if isinstance(data, tuple) else ([] if data is None else [data])
        target = to

        def local(request: _Request) -> None:
            request.sid_target = isinstance(target, str) and self.manager.is_connected(target, namespace)
            self._emit_with_acks(request, event, args, namespace, to, skip, request.items.append)

        message = {"namespace": namespace, "to": _rooms(to), "skip": _rooms(skip), "event": event,
                   "data": args, "target": target if isinstance(target, str) else None}
        request = self._ask("ack", message, local, timeout)
        single = single_if_sid and request.sid_target
        if not request.waiter.is_set():
            self._on_loop(lambda: self._drop_local(request))
            if single and not request.items:
                raise TimeoutError()
            if request.nodes is not None or single:
                raise BroadcastTimeoutError(list(request.items), request.expected_acks)
        if single:
            return request.items[0] if request.items else None
        if single_if_sid and request.expected_acks == 0:
            # A name that reached nobody on any node: for a call to one client (a sid that
            # went away) the reference raises TimeoutError; do so at once instead of after
            # `timeout`. (`to=[room]` asks for the list form: an empty room gives [].)
            raise TimeoutError()
        return list(request.items)

    def _emit_with_acks(self, request: _Request, event: str, args: list[Any], namespace: str,
                        to: Any, skip: Any, answer: Callable[[Any], None]) -> int:
        recipients = self.local_members(namespace, to, skip)
        request.expected_acks += len(recipients)

        def on_ack(*ack_args: Any) -> None:
            answer(ack_args[0] if len(ack_args) == 1 else (None if not ack_args else ack_args))
            request.check()

        pipeline = self.server.pipeline
        for sid, _ in recipients:  # on the loop: each goes through the pipeline's ack path now
            pipeline.emit(Outbound(event, args, namespace, sid, callback=on_ack, local_only=True))
            request.callbacks.append((sid, on_ack))
        return len(recipients)

    def _drop_local(self, request: _Request) -> None:
        for sid, callback in request.callbacks:
            self.manager.drop_callback(sid, callback)

    # -- server-side emits ------------------------------------------------------------------------
    def on_server(self, event: str, handler: Callable[..., Any], namespace: str = "/") -> None:
        """Register the handler of a server-side event sent by another node."""
        self.server_handlers.setdefault(namespace, {})[event] = handler

    def server_emit(self, event: str, *args: Any, namespace: str = "/") -> None:
        """Send an event to the other nodes' `on_server` handlers (not to this node's)."""
        if not self.clustered:
            return
        message = {"method": "cluster_request", "kind": "server", "namespace": namespace,
                   "event": event, "data": list(args)}
        self._on_loop(lambda: self._publish(message))

    def server_call(self, event: str, *args: Any, namespace: str = "/", timeout: float = DEFAULT_TIMEOUT) -> list[Any]:
        """`server_emit` and wait for each other node's handler result (one per node);
        `BroadcastTimeoutError` with those received when some node did not answer in time."""
        if not self.clustered:
            return []
        message = {"namespace": namespace, "event": event, "data": list(args)}
        request = self._ask("server", message, lambda request: None, timeout)
        if not request.waiter.is_set():
            raise BroadcastTimeoutError(list(request.items), request.nodes)
        return list(request.items)

    def _run_server_handler(self, namespace: str, event: str, args: list[Any]) -> Any:
        handler = self.server_handlers.get(namespace, {}).get(event)
        if handler is None:
            return _NO_ANSWER
        return handler(*args)

    # -- other nodes' requests and answers ---------------------------------------------------------
    def _on_request(self, message: dict[str, Any]) -> None:
        kind = message.get("kind")
        namespace = message.get("namespace")
        if not isinstance(namespace, str) or not namespace.startswith("/"):
            raise ValueError("bad namespace")
        if kind in ("join", "leave", "disconnect"):
            if kind != "disconnect" and not isinstance(message.get("rooms"), list):
                raise ValueError("bad rooms")
            self.apply_local(message)
            return
        origin = message.get("host_id")
        request_id = message.get("request_id")

        def respond(**fields: Any) -> None:
            self._publish({"method": "cluster_response", "to": origin, "host_id": self._host_id(),
                           "request_id": request_id, **fields})

        if kind == "fetch":
            respond(sockets=self.local_infos(namespace, message.get("to"), message.get("skip")))
        elif kind == "ack":
            event, data = message.get("event"), message.get("data")
            if not isinstance(event, str) or not isinstance(data, list):
                raise ValueError("bad ack request")
            target = message.get("target")
            is_sid = isinstance(target, str) and self.manager.is_connected(target, namespace)
            waiter = self.server.eio.create_event()
            remote = _Request(self, "ack", waiter)
            count = self._emit_with_acks(remote, event, data, namespace, message.get("to"), message.get("skip"),
                                         lambda answer: respond(answer=answer))
            respond(count=count, sid=is_sid)
        elif kind == "server":
            event, data = message.get("event"), message.get("data")
            if not isinstance(event, str) or not isinstance(data, list):
                raise ValueError("bad server-side event")
            driver = self.server.eio.driver

            def run_handler() -> None:
                try:
                    result = self._run_server_handler(namespace, event, data)
                except Exception:
                    logger.exception("server-side event handler error (%s)", event)
                    return
                if request_id is not None and result is not _NO_ANSWER:
                    respond(answer=result)

            driver.spawn(run_handler)  # a handler may block (it may ask the cluster itself)
        else:
            raise ValueError(f"unknown request kind {kind!r}")

    def _on_response(self, message: dict[str, Any]) -> None:
        if message.get("to") != self._host_id():
            return
        request = self._requests.get(message.get("request_id"))  # type: ignore[arg-type]
        if request is None:
            return
        host = message.get("host_id")
        if not isinstance(host, str):
            raise ValueError("bad host_id")
        if request.kind == "fetch":
            sockets = message.get("sockets")
            if isinstance(sockets, list):
                request.items.extend(s for s in sockets if isinstance(s, dict) and isinstance(s.get("id"), str))
            request.answered.add(host)
        elif request.kind == "ack":
            if "count" in message:
                count = message.get("count")
                if isinstance(count, int) and host not in request.answered:
                    request.expected_acks += count
                    request.answered.add(host)
                    if message.get("sid"):
                        request.sid_target = True
            elif "answer" in message:
                request.items.append(message["answer"])
        elif request.kind == "server":
            request.items.append(message.get("answer"))
            request.answered.add(host)
        request.check()


_NO_ANSWER = object()
