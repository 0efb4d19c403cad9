"""The official Socket.IO Admin UI (``@socket.io/admin-ui``) for a `SocketServer`.

``server.instrument(auth=..., mode=..., read_only=..., server_id=..., namespace='/admin',
server_stats_interval=2, ui_path=None)`` opens the admin namespace the UI connects to and
reports what the UI expects there (python-socketio's call; the events and payloads are the
ones the UI's own Node server module sends):

* on connect: ``config`` (``supportedFeatures``) and, in development mode, ``all_sockets``
  (every socket of every node of the cluster);
* in development mode: ``socket_connected``, ``socket_updated`` (transport upgrades),
  ``socket_disconnected``, ``room_joined``, ``room_left``, ``event_received``, ``event_sent``;
* every ``server_stats_interval`` seconds, from every node: ``server_stats`` (uptime, clients,
  polling clients, namespaces, aggregated packet/byte counts) plus our own figures
  (``outboxBytes``, ``congestedClients``, ``messagesPerSecond``, ``adminEventsDropped``).

The UI's actions (``emit``, ``join``, ``leave``, ``_disconnect``) act on the whole cluster
(`cluster.Cluster`); with ``read_only=True`` they are not registered and not advertised.

Cost. When `instrument` was never called, `SocketServer.admin` is None and each hook on the
hot paths is that one test. When on, the hooks append to a bounded buffer (`MAX_PENDING`
reports per flush; beyond it reports are counted as dropped, never queued) and bump counters;
one background task flushes the buffer every `FLUSH_INTERVAL` seconds: the reports are
encoded once for every admin page of this node, and published to the other nodes as ONE
message per flush. Admin pages are ordinary clients: a slow one is a slow consumer (flow
control, then ``stall_timeout``) like any other.

Security. Authentication is mandatory: ``auth=None`` raises unless ``auth=False`` says so
explicitly. Credentials are compared in constant time (`hmac.compare_digest`), every
configured credential is checked (no early exit on the first match). The admin namespace is
accepted only once the credentials are checked, even with ``always_connect=True``, and no
event of a client reaches an action before that (`SocketServer._accepts_early`, the gate of
`ClientState.gated`); a refused login is answered `REFUSAL_DELAY` (1 s) late, and a connection
has one login pending at a time: one guess per second per connection (3,715 per second on one
WebSocket before). In production mode no
socket is reported, so no handshake data leaves the server; in development mode the
``cookie``, ``authorization`` and ``proxy-authorization`` headers are redacted.
"""

from __future__ import annotations

import hmac
import logging
import os
import re
import socket as _socket
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from ..protocol.packets import PacketType, SocketPacket
from .cluster import handshake_of

if TYPE_CHECKING:
    from ..server.pipeline import Outbound
    from ..server.server import ClientState, SocketServer

logger = logging.getLogger("socketio_core.admin")

HOSTNAME = _socket.gethostname()
FLUSH_INTERVAL = 0.1  # seconds between two flushes of the report buffer
MAX_PENDING = 2000  # reports buffered per flush; more are dropped (and counted)
REFUSAL_DELAY = 1.0  # seconds a refused admin login waits before its refusal (one guess per second)
REDACTED_HEADERS = frozenset({"cookie", "authorization", "proxy-authorization"})
_BATCH_EVENT = "__socketio_admin_batch__"  # server-side event between nodes: reports
_SOCKETS_EVENT = "__socketio_admin_sockets__"  # server-side call between nodes: all sockets
_UI_DIST = os.path.join("node_modules", "@socket.io", "admin-ui", "ui", "dist")
_EXTERNAL_LINK = re.compile(r'<link[^>]+href="https?://[^"]*"[^>]*>')


def ui_cache_dir() -> str:
    """Where ``python -m flask_socketio.admin_ui_assets download`` puts the UI's package (no
    Node needed): ``$XDG_CACHE_HOME`` (else ``~/.cache``) ``/flask-socketio-ng/admin-ui``."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "flask-socketio-ng", "admin-ui")


def default_ui_dir() -> str | None:
    """Where ``npm install`` put the UI's built files: under the working directory, or under
    the directory this package was installed from (a source checkout); else the download
    cache (`ui_cache_dir`)."""
    here = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the checkout
    candidates = [os.path.join(base, _UI_DIST) for base in (os.getcwd(), here)]
    for candidate in [*candidates, os.path.join(ui_cache_dir(), "ui", "dist")]:
        if os.path.isfile(os.path.join(candidate, "index.html")):
            return candidate
    return None


def _now_iso(t: float | None = None) -> str:
    moment = datetime.fromtimestamp(time.time() if t is None else t, timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _as_bytes(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    # surrogatepass: a lone surrogate ("\ud800" in the JSON) is bytes like any other, not an
    # UnicodeEncodeError with a traceback in the error log (issue 21 #5).
    return str(value).encode("utf-8", "surrogatepass")


def _same_credentials(expected: dict[str, Any], given: Any) -> bool:
    """Every key of `expected` equals `given`'s, compared in constant time (all keys are
    compared whatever the outcome of the first)."""
    if not isinstance(given, dict):
        given = {}
    ok = bool(expected)
    for key, value in expected.items():
        ok &= hmac.compare_digest(_as_bytes(value), _as_bytes(given.get(key, "")))
    return ok


def _recovery_stats(server: SocketServer) -> dict[str, int] | None:
    stats = getattr(getattr(server.recovery, "store", None), "stats", None)
    return stats() if callable(stats) else None


def _displayable(value: Any, depth: int = 0) -> Any:
    """A report's copy of event data: JSON-able (binary shown by its size), bounded depth."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return f"<{len(value)} bytes>"
    if depth > 8:
        return "…"
    if isinstance(value, (list, tuple)):
        return [_displayable(v, depth + 1) for v in value]
    if isinstance(value, dict):
        return {str(k): _displayable(v, depth + 1) for k, v in value.items()}
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return repr(value)


class AdminUI:
    """The instrumentation of one `SocketServer` (see the module docstring)."""

    def __init__(
        self,
        server: SocketServer,
        auth: Any = None,
        mode: str = "development",
        read_only: bool = False,
        server_id: str | None = None,
        namespace: str = "/admin",
        server_stats_interval: float = 2,
        ui_path: str | None = None,
        ui_dir: str | None = None,
    ) -> None:
        if auth is None:
            raise ValueError(
                "instrument(): auth is mandatory: a dict such as {'username': ..., 'password': ...}, "
                "a list of such dicts, or a callable(auth) -> bool; pass auth=False to turn "
                "authentication off (anyone who reaches the server then administers it)")
        if auth is True or not (auth is False or isinstance(auth, (dict, list)) or callable(auth)):
            raise ValueError("instrument(): auth must be False, a dict, a list of dicts or a callable")
        if isinstance(auth, list) and not all(isinstance(a, dict) and a for a in auth):
            raise ValueError("instrument(): auth as a list must hold non-empty dicts")
        if isinstance(auth, dict) and not auth:
            raise ValueError("instrument(): auth as a dict must not be empty")
        if mode not in ("development", "production"):
            raise ValueError("instrument(): mode must be 'development' or 'production'")
        if not namespace.startswith("/"):
            raise ValueError("instrument(): namespace must start with '/'")
        if server_stats_interval <= 0:
            raise ValueError("instrument(): server_stats_interval must be positive")
        self.server = server
        self.auth = auth
        self.mode = mode
        self.verbose = mode == "development"
        self.read_only = read_only
        self.namespace = namespace
        self._server_id_given = server_id
        self.server_id = server_id or str(getattr(server.manager, "host_id", "") or "") or f"{HOSTNAME}#{os.getpid()}"
        self.server_stats_interval = float(server_stats_interval)
        self.ui_path = ui_path.rstrip("/") if ui_path else None
        self.ui_dir = ui_dir or (default_ui_dir() if ui_path else None)
        if self.ui_path is not None and self.ui_dir is None:
            logger.warning("instrument(ui_path=%r): the Admin UI files were not found; get them with `python -m "
                           "flask_socketio.admin_ui_assets download` (no Node needed) or pass ui_dir=", ui_path)
        features = ["AGGREGATED_EVENTS"]
        if not read_only:
            features = ["EMIT", "JOIN", "LEAVE", "DISCONNECT", "MJOIN", "MLEAVE", "MDISCONNECT", *features]
        if self.verbose:
            features.append("ALL_EVENTS")
        self.features = features
        # Reports waiting for the next flush: (event, args) for the admin namespace.
        self._pending: list[tuple[str, list[Any]]] = []
        self.dropped = 0
        self._connected_at: dict[str, float] = {}  # sid -> when it connected (development)
        # Counters since the last flush, and the aggregated events since the last stats.
        self._in_packets = self._in_bytes = self._out_packets = self._out_bytes = 0
        self._raw_connections = 0
        self._raw_disconnections: dict[str, int] = {}
        self._aggregated: dict[tuple[int, str, str | None], int] = {}
        self._out_since_stats = 0
        self._started = time.monotonic()
        self._last_stats = self._started
        self._stopped = False
        self._task: Any = None

        if server.handlers.get(namespace) or namespace in server.namespace_handlers:
            logger.warning("instrument(): namespace %s already has handlers; the Admin UI takes it over", namespace)
        server.on("connect", self._on_connect, namespace=namespace)
        if not read_only:
            server.on("emit", self._on_emit, namespace=namespace)
            server.on("join", self._on_join, namespace=namespace)
            server.on("leave", self._on_leave, namespace=namespace)
            server.on("_disconnect", self._on_disconnect, namespace=namespace)
        self._install(server)

    def _install(self, server: SocketServer) -> None:
        """Plug into the server: the cluster's server-side events, the manager's room
        observer, the `ConnectionHook`, `InboundHook` and `SocketHook` points and the outbound
        pipeline's `OutboundObserver`; the flusher starts where and when the server runs."""
        cluster = server.cluster
        cluster.on_server(_BATCH_EVENT, self._on_remote_batch, namespace=self.namespace)
        cluster.on_server(_SOCKETS_EVENT, self._local_sockets, namespace=self.namespace)
        self.adopt_manager(server.manager)
        server.hooks.managers.append(self)
        server.admin = self
        server.hooks.connection.append(self)
        server.hooks.never_early.add(self.namespace)  # credentials first, even with always_connect
        server.hooks.inbound.append(self)
        server.hooks.sockets.append(self)
        server.pipeline.observer = self
        server.when_running(self._start_flusher)

    def adopt_manager(self, manager: Any) -> None:
        """Observe `manager` (the server's, also when it is replaced before the server runs: a
        worker of ``workers=N`` joining the bus, where this process's id names the server)."""
        if not self._server_id_given:
            self.server_id = str(getattr(manager, "host_id", "") or "") or f"{HOSTNAME}#{os.getpid()}"
        if self.verbose and hasattr(manager, "room_observer"):
            manager.room_observer = self._on_room

    def _start_flusher(self) -> None:
        if not self._stopped:
            self._task = self.server.start_background_task(self._run)

    # -- the admin namespace -------------------------------------------------------------------
    def check_auth(self, given: Any) -> bool:
        """Whether the UI's CONNECT auth payload is accepted (constant-time comparisons)."""
        auth = self.auth
        if auth is False:
            return True
        if isinstance(auth, dict):
            return _same_credentials(auth, given)
        if isinstance(auth, list):
            ok = False
            for expected in auth:  # no early exit: every entry costs the same
                ok |= _same_credentials(expected, given)
            return ok
        return bool(auth(given))

    def _on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        from ..exceptions import ConnectionRefusedError

        why = ""
        try:
            ok = self.check_auth(auth)
        except Exception as exc:  # any shape of credentials is a refusal, never a traceback
            ok, why = False, f" (the check raised {type(exc).__name__})"
        if not ok:
            logger.warning("Admin UI: invalid credentials from %s%s", (environ or {}).get("REMOTE_ADDR"), why)
            # Throttle (issue 21 #0): the refusal comes REFUSAL_DELAY seconds late, and a
            # connection has one login pending at a time ("Already connected" otherwise).
            self.server.sleep(REFUSAL_DELAY)
            raise ConnectionRefusedError("invalid credentials")
        # Held until the CONNECT ack is out, then sent first.
        self.server.emit("config", {"supportedFeatures": self.features}, to=sid, namespace=self.namespace)
        if self.verbose:
            self.server.start_background_task(self._send_all_sockets, sid)

    def _send_all_sockets(self, sid: str) -> None:
        sockets = self._local_sockets()
        if self.server.cluster.clustered:
            from .cluster import BroadcastTimeoutError

            try:
                answers = self.server.cluster.server_call(_SOCKETS_EVENT, namespace=self.namespace, timeout=3)
            except BroadcastTimeoutError as exc:  # a node that is not instrumented, or hung
                answers = exc.answers
            for answer in answers:
                if isinstance(answer, list):
                    sockets.extend(s for s in answer if isinstance(s, dict))
        self.server.emit("all_sockets", sockets, to=sid, namespace=self.namespace)

    def _local_sockets(self) -> list[dict[str, Any]]:
        """Every socket of this node, as the UI shows it."""
        manager = self.server.manager
        out = []
        for namespace in manager.get_namespaces():
            for sid, eio_sid in list(manager.get_participants(namespace, None)):
                out.append(self.serialize(sid, namespace, eio_sid))
        return out

    def serialize(self, sid: str, namespace: str, eio_sid: str) -> dict[str, Any]:
        """A socket as the UI expects it (``id``, ``clientId``, ``transport``, ``nsp``,
        ``handshake``, ``rooms``); secret headers redacted."""
        server = self.server
        environ = server.environ.get(eio_sid) or {}
        handshake = handshake_of(environ)
        headers = {k: ("[redacted]" if k in REDACTED_HEADERS else v) for k, v in handshake.get("headers", {}).items()}
        connected = self._connected_at.get(sid, 0.0)
        try:
            transport = server.eio.transport(eio_sid)
        except KeyError:
            transport = "polling"
        return {
            "id": sid,
            "clientId": eio_sid,
            "transport": transport,
            "nsp": namespace,
            "data": {},
            "serverId": self.server_id,
            "handshake": {
                # The peer's address: a client-set X-Forwarded-For is not trusted (issue 21 #4);
                # behind a proxy, werkzeug's ProxyFix (configured for it) sets REMOTE_ADDR.
                "address": environ.get("REMOTE_ADDR", ""),
                "headers": headers,
                "query": handshake.get("query", {}),
                "issued": int(connected * 1000),
                "time": _now_iso(connected) if connected else "",
                "secure": handshake.get("secure", False),
                "url": handshake.get("url", ""),
                "xdomain": handshake.get("xdomain", False),
            },
            "rooms": list(server.manager.get_rooms(sid, namespace)),
        }

    # -- the UI's actions (every node of the cluster) -----------------------------------------
    def _on_emit(self, _sid: str, namespace: Any, room_filter: Any, event: Any, *args: Any) -> None:
        if not isinstance(namespace, str) or not isinstance(event, str):
            return
        self.server.emit(event, tuple(args), to=room_filter or None, namespace=namespace)

    def _on_join(self, _sid: str, namespace: Any, room: Any, room_filter: Any = None) -> None:
        if isinstance(namespace, str) and isinstance(room, str):
            self.server.cluster.sockets_join(room, namespace=namespace, to=room_filter or None)

    def _on_leave(self, _sid: str, namespace: Any, room: Any, room_filter: Any = None) -> None:
        if isinstance(namespace, str) and isinstance(room, str):
            self.server.cluster.sockets_leave(room, namespace=namespace, to=room_filter or None)

    def _on_disconnect(self, _sid: str, namespace: Any, close: Any = False, room_filter: Any = None) -> None:
        if not isinstance(namespace, str):
            return
        if close:  # "disconnect client": this node's matching connections are closed whole
            for _, eio_sid in self.server.cluster.local_members(namespace, room_filter or None):
                self.server.eio.disconnect(eio_sid)
        self.server.cluster.disconnect_sockets(namespace=namespace, to=room_filter or None)

    # -- hooks (called by SocketServer and the manager when `server.admin` is set) --------------
    def report(self, event: str, args: list[Any]) -> None:
        """Queue one report for the admin pages of the whole cluster (bounded)."""
        if len(self._pending) >= MAX_PENDING:
            self.dropped += 1
            return
        self._pending.append((event, args))

    def socket_connected(self, sid: str, namespace: str, eio_sid: str) -> None:
        if not self.verbose:
            return
        now = time.time()
        self._connected_at[sid] = now
        self.report("socket_connected", [self.serialize(sid, namespace, eio_sid), _now_iso(now)])

    def socket_upgraded(self, namespaces: dict[str, str]) -> None:
        """A connection moved to WebSocket: each of its sockets (namespace -> sid) is updated."""
        if not self.verbose:
            return
        for namespace, sid in list(namespaces.items()):
            self.report("socket_updated", [{"id": sid, "nsp": namespace, "transport": "websocket"}])

    # `SocketHook`
    def connected(self, client: ClientState, namespace: str, sid: str) -> None:
        self.socket_connected(sid, namespace, client.eio_sid)

    def dropping(self, client: ClientState, namespace: str, sid: str, reason: str) -> None:
        """Nothing: reported when it is gone."""

    def disconnected(self, sid: str, namespace: str, reason: str, accepted: bool) -> None:
        if accepted:
            self.socket_disconnected(sid, namespace, reason)

    def socket_disconnected(self, sid: str, namespace: str, reason: str) -> None:
        if not self.verbose:
            return
        self._connected_at.pop(sid, None)
        self.report("socket_disconnected", [namespace, sid, str(reason), _now_iso()])

    def event_received(self, sid: str, namespace: str, event: str, args: list[Any]) -> None:
        if self.verbose and namespace != self.namespace:
            self.report("event_received", [namespace, sid, [event, *_displayable(args)], _now_iso()])

    def event_sent(self, out: Outbound, recipients: Sequence[tuple[str, str]]) -> None:
        """The outbound pipeline's report stage: one report per recipient this node delivers
        an emit to (whichever node originated it)."""
        namespace = out.namespace
        if not self.verbose or namespace == self.namespace:
            return
        data = [out.event, *_displayable(out.args)]
        stamp = _now_iso()
        for sid, _ in recipients:
            if len(self._pending) >= MAX_PENDING:
                self.dropped += 1
                continue
            self._pending.append(("event_sent", [namespace, sid, data, stamp]))

    def _on_room(self, joined: bool, sid: str, namespace: str, room: Any) -> None:
        if namespace == self.namespace or room == sid:
            return
        self.report("room_joined" if joined else "room_left", [namespace, room, sid, _now_iso()])

    def packet_in(self, size: int) -> None:
        self._in_packets += 1
        self._in_bytes += size

    def packets_out(self, count: int, size: int) -> None:
        self._out_packets += count
        self._out_bytes += size

    def raw_connection(self) -> None:
        self._raw_connections += 1

    def raw_disconnection(self, reason: str) -> None:
        self._raw_disconnections[reason] = self._raw_disconnections.get(reason, 0) + 1

    # -- the flusher -------------------------------------------------------------------------
    def _run(self) -> None:
        server = self.server
        while not self._stopped:
            server.sleep(FLUSH_INTERVAL)
            try:
                self.tick()
            except Exception:
                logger.exception("Admin UI: flush failed")

    def tick(self) -> None:
        """One flush: fold the counters, add the stats when due, send."""
        self._fold_counters()
        now = time.monotonic()
        if now - self._last_stats >= self.server_stats_interval:
            elapsed = now - self._last_stats
            self._last_stats = now
            self._pending.append(("server_stats", [self.stats(elapsed)]))
        self.flush()

    def _fold_counters(self) -> None:
        second = int(time.time()) * 1000
        agg = self._aggregated
        key: tuple[int, str, str | None]
        for kind, value in (("packetsIn", self._in_packets), ("bytesIn", self._in_bytes),
                            ("packetsOut", self._out_packets), ("bytesOut", self._out_bytes),
                            ("rawConnection", self._raw_connections)):
            if value:
                key = (second, kind, None)
                agg[key] = agg.get(key, 0) + value
        for reason, count in self._raw_disconnections.items():
            key = (second, "rawDisconnection", reason)
            agg[key] = agg.get(key, 0) + count
        self._out_since_stats += self._out_packets
        self._in_packets = self._in_bytes = self._out_packets = self._out_bytes = self._raw_connections = 0
        self._raw_disconnections = {}

    def stats(self, elapsed: float) -> dict[str, Any]:
        """This node's ``server_stats``: the UI's fields and our own."""
        server = self.server
        eio = server.eio
        clients, polling, outbox = eio.backpressure.transport_stats()
        manager = server.manager
        names = set(manager.get_namespaces()) | {n for n in server.handlers if n != "*"} | {self.namespace}
        namespaces = [{"name": n, "socketsCount": sum(1 for _ in manager.get_participants(n, None))}
                      for n in sorted(names)]
        aggregated = [{"timestamp": ts, "type": kind, "subType": sub, "count": count}
                      if sub is not None else {"timestamp": ts, "type": kind, "count": count}
                      for (ts, kind, sub), count in self._aggregated.items()]
        self._aggregated = {}
        out = self._out_since_stats
        self._out_since_stats = 0
        return {
            "serverId": self.server_id,
            "hostname": HOSTNAME,
            "pid": os.getpid(),
            "uptime": time.monotonic() - self._started,
            "clientsCount": clients,
            "pollingClientsCount": polling,
            "aggregatedEvents": aggregated,
            "namespaces": namespaces,
            # Our own figures (not shown by the UI's tables; on the wire for operators).
            "outboxBytes": outbox,
            "congestedClients": len(eio.flow.congested),
            "messagesPerSecond": round(out / elapsed, 1) if elapsed > 0 else 0.0,
            "adminEventsDropped": self.dropped,
            # Connection state recovery's in-memory store: sizes, evictions (issue 21 #2).
            "recovery": _recovery_stats(server),
        }

    def flush(self) -> None:
        """Send the buffered reports to this node's admin pages (encoded once for all of
        them) and to the other nodes (one message)."""
        if not self._pending:
            return
        batch, self._pending = self._pending, []
        self._deliver(batch)
        if self.server.cluster.clustered:
            self.server.cluster.server_emit(_BATCH_EVENT, [[event, args] for event, args in batch],
                                            namespace=self.namespace)

    def _on_remote_batch(self, batch: Any) -> None:
        if not isinstance(batch, list):
            return
        reports = [(item[0], item[1]) for item in batch
                   if isinstance(item, list) and len(item) == 2 and isinstance(item[0], str) and isinstance(item[1], list)]
        self._deliver(reports)

    def _deliver(self, reports: Iterable[tuple[str, list[Any]]]) -> None:
        server = self.server
        recipients = list(server.manager.get_participants(self.namespace, None))
        if not recipients:
            return
        for event, args in reports:
            server.deliver(recipients, server.encode(SocketPacket(PacketType.EVENT, self.namespace, [event, *args])))

    # -- lifecycle -------------------------------------------------------------------------
    def shutdown(self) -> None:
        """Stop the flusher and the hooks."""
        self._stopped = True
        server = self.server
        if server.admin is self:
            server.admin = None
        server.hooks.never_early.discard(self.namespace)
        if self in server.hooks.managers:
            server.hooks.managers.remove(self)
        for hooks in (server.hooks.connection, server.hooks.inbound, server.hooks.sockets):
            if self in hooks:
                hooks.remove(self)  # type: ignore[arg-type]
        if server.pipeline.observer is self:
            server.pipeline.observer = None
        manager = self.server.manager
        if getattr(manager, "room_observer", None) == self._on_room:
            manager.room_observer = None

    # -- serving the UI ------------------------------------------------------------------------
    def serves(self, path: str) -> bool:
        ui = self.ui_path
        return ui is not None and (path == ui or path.startswith(ui + "/"))

    def serve_ui(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        """The UI's files under `ui_path` (a WSGI app). ``index.html`` is served without its
        links to third-party font servers, so the UI makes no request outside this app."""
        from engineio_core.static import resolve, serve_file

        path = environ.get("PATH_INFO", "")
        ui = self.ui_path or ""
        if path == ui:
            start_response("301 Moved Permanently", [("Location", ui + "/"), ("Content-Length", "0")])
            return [b""]
        if self.ui_dir is None:
            body = b"Admin UI files not found: python -m flask_socketio.admin_ui_assets download"
            start_response("404 Not Found", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
            return [body]
        rest = path[len(ui):]
        if rest in ("/", "/index.html"):
            with open(os.path.join(self.ui_dir, "index.html"), encoding="utf-8") as fh:
                body = _EXTERNAL_LINK.sub("", fh.read()).encode("utf-8")
            start_response("200 OK", [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(body))),
                                      ("Cache-Control", "no-cache")])
            return [body]
        found = resolve({ui: self.ui_dir}, path)
        if found is None:
            start_response("404 Not Found", [("Content-Type", "text/plain"), ("Content-Length", "9")])
            return [b"Not Found"]
        return serve_file(found[0], found[1], start_response)


def instrument(server: SocketServer, **options: Any) -> AdminUI:
    """Turn the Admin UI on for `server` (see `AdminUI`)."""
    if getattr(server, "admin", None) is not None:
        raise RuntimeError("instrument(): this server is already instrumented")
    return AdminUI(server, **options)


__all__ = ["AdminUI", "instrument"]
