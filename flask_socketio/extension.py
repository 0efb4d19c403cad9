"""`SocketIO`: the Flask extension, drop-in compatible with Flask-SocketIO 5.x."""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import wraps
from typing import Any

import flask
from flask.ctx import RequestContext
from flask.sessions import SessionMixin

from engineio_core import Reason
from socketio_core.exceptions import ConnectionRefusedError
from socketio_core.protocol.rooms import room_list
from socketio_core.server.namespace import trim_args
from socketio_core.server.server import SocketServer

from .middleware import SocketIOMiddleware
from .request_context import request_context

_OWN_OPTIONS = ("manage_session", "message_queue", "channel", "path", "resource", "node_adapter")
SUPPORTED_ASYNC_MODES = ("eventlet", "gevent", "gevent_uwsgi", "threading")


def check_async_mode(async_mode: Any) -> None:
    """Refuse what this stack cannot run on, with a message that says what it can run on:
    an unsupported ``async_mode`` (``ValueError``, as the reference) and a mode that cannot
    run under the monkey-patching in place (``RuntimeError``: gevent in a process that
    eventlet patched, or both libraries patching one process)."""
    if async_mode is not None and async_mode not in SUPPORTED_ASYNC_MODES:
        raise ValueError(
            f"Invalid async_mode specified: {async_mode!r} is not supported; the supported "
            f"async modes are 'eventlet', 'gevent' (the default), 'gevent_uwsgi' (uWSGI's "
            f"gevent loop: uwsgi --gevent N --http-websockets) and 'threading'"
        )
    from engineio_core.drivers import resolve_async_mode

    resolve_async_mode(async_mode)


def _uwsgi_gevent_loop() -> bool:
    """True inside a uWSGI worker that runs the gevent loop engine (``--gevent N``)."""
    import sys

    uwsgi = sys.modules.get("uwsgi")
    try:
        return uwsgi is not None and bool(uwsgi.opt.get("gevent"))
    except Exception:  # pragma: no cover - a module that only looks like uWSGI's
        return False


class _ManagedSession(dict, SessionMixin):  # type: ignore[type-arg]
    """A per-connection fork of the Flask session (``manage_session=True``): changes made in
    Socket.IO handlers stay with the connection and never reach the cookie.

    `dirty` says that a key was set or removed since the last look (connection state
    recovery across nodes writes the session through then; changes inside a value are
    picked up by its periodic refresh)."""

    dirty = False

    def __setitem__(self, key: Any, value: Any) -> None:
        self.dirty = True
        super().__setitem__(key, value)

    def __delitem__(self, key: Any) -> None:
        self.dirty = True
        super().__delitem__(key)

    def update(self, *args: Any, **kwargs: Any) -> None:
        self.dirty = True
        super().update(*args, **kwargs)

    def pop(self, *args: Any) -> Any:
        self.dirty = True
        return super().pop(*args)

    def setdefault(self, key: Any, default: Any = None) -> Any:
        self.dirty = True
        return super().setdefault(key, default)

    def clear(self) -> None:
        self.dirty = True
        super().clear()


class SocketIO:
    """Create the Socket.IO server for a Flask app (now, or later with `init_app`).

    Options are Flask-SocketIO's own (``manage_session``, ``message_queue``, ``channel``,
    ``path``/``resource``), the Socket.IO server's (``logger``, ``json``, ``async_handlers``,
    ``always_connect``, ``namespaces``, ``serializer``, ``client_manager``,
    ``connect_timeout``, ``engineio_logger``) and the Engine.IO server's
    (``ping_interval``, ``ping_timeout``, ``max_http_buffer_size``, ``cors_allowed_origins``, …).
    """

    reason = Reason

    def __init__(self, app: flask.Flask | None = None, **kwargs: Any) -> None:
        self.server: SocketServer | None = None
        self.server_options: dict[str, Any] = {}
        self.wsgi_server: Any = None
        self.handlers: list[tuple[str, Callable[..., Any], str]] = []
        self.namespace_handlers: list[Any] = []
        self.exception_handlers: dict[str, Callable[..., Any]] = {}
        self.default_exception_handler: Callable[..., Any] | None = None
        self.manage_session = True
        self.async_mode: str | None = None
        self.sockio_mw: SocketIOMiddleware | None = None
        self._werkzeug_server: Any = None
        # Called with each exception of a handler that no error handler took (or that an
        # error handler raised), before the server logs it: the test client re-raises it in the
        # test; an application may report it.
        self.unhandled_error_listeners: list[Callable[[BaseException], object]] = []
        # Background tasks in daemon threads whatever the async mode (`start_background_task`):
        # the test client turns it on, an application may too.
        self.tasks_in_threads = False
        if app is not None or "message_queue" in kwargs:
            self.init_app(app, **kwargs)
        else:
            check_async_mode(kwargs.get("async_mode"))
            self.server_options.update(kwargs)

    # -- set-up ------------------------------------------------------------------------------
    def init_app(self, app: flask.Flask | None, **kwargs: Any) -> None:
        if app is not None:
            if not hasattr(app, "extensions"):
                app.extensions = {}  # pragma: no cover - very old Flask
            app.extensions["socketio"] = self
        self.server_options.update(kwargs)
        options = dict(self.server_options)
        self.manage_session = options.pop("manage_session", self.manage_session)
        url = options.pop("message_queue", None)
        channel = options.pop("channel", "flask-socketio")
        node_adapter = options.pop("node_adapter", None)
        admin_ui = options.pop("admin_ui", None)
        if "client_manager" not in kwargs and url:
            from socketio_core.server.pubsub import manager_for_url

            # Kept in server_options, as Flask-SocketIO does (users and tests read
            # ``server_options['client_manager'].write_only``). A later init_app(app) makes a
            # new manager, so an emit-only constructor's write-only one is never reused.
            options["client_manager"] = self.server_options["client_manager"] = manager_for_url(
                url, channel=channel, write_only=app is None, logger=options.get("logger")
            )
        path = options.pop("path", None) or options.pop("resource", None) or "socket.io"
        options.pop("resource", None)
        path = path.lstrip("/")
        if options.get("json") is flask.json and app is not None:
            options["json"] = _FlaskSafeJSON(app)
        check_async_mode(options.get("async_mode"))
        if options.get("async_mode") is None and os.environ.get("FLASK_RUN_FROM_CLI") == "true":
            options["async_mode"] = "threading"
        self.server = SocketServer(**options)
        self.async_mode = self.server.async_mode
        if node_adapter and url and app is not None:
            # Also a member of a Node @socket.io/redis-adapter cluster (docs/cluster.md).
            from socketio_core.brokers.node_adapter import DEFAULT_KEY
            from socketio_core.features.node_bridge import NodeRedisBridge

            NodeRedisBridge(self.server, url, key=node_adapter if isinstance(node_adapter, str) else DEFAULT_KEY,
                            namespaces=options.get("namespaces") if isinstance(options.get("namespaces"), list) else None)
        if self.server.recovery is not None:
            # The per-connection Flask session is parked and restored with the connection.
            self.server.recovery.environ_state = (_dump_managed_session, _load_managed_session)
        if options.get("async_mode") == "gevent_uwsgi" or (options.get("async_mode") is None and _uwsgi_gevent_loop()):
            # The gevent driver, on the loop uWSGI runs (named as the reference names it).
            self.async_mode = "gevent_uwsgi"
        for message, handler, namespace in self.handlers:
            self.server.on(message, handler, namespace=namespace)
        for namespace_handler in self.namespace_handlers:
            self.server.register_namespace(namespace_handler)
        if admin_ui is not None:
            # The official Socket.IO Admin UI (socketio_core/features/admin.py): the options of
            # `SocketServer.instrument`, e.g. {'auth': {...}, 'ui_path': '/admin-ui'}.
            self.server.instrument(**(admin_ui if isinstance(admin_ui, dict) else {"auth": admin_ui}))
        if app is not None:
            self.sockio_mw = SocketIOMiddleware(self.server, app, socketio_path=path)
            app.wsgi_app = self.sockio_mw  # type: ignore[method-assign]

    # -- handler registration ----------------------------------------------------------------
    def on(self, message: str, namespace: str | None = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Decorator for an event handler. ``'*'`` catches every event (the handler gets the
        event name first); ``namespace='*'`` catches every namespace."""
        namespace = namespace or "/"

        def decorator(handler: Callable[..., Any]) -> Callable[..., Any]:
            if message != "*" and namespace != "*":
                @wraps(handler)
                def _handler(sid: str, *args: Any) -> Any:  # the common case, per event
                    return self._handle_event(handler, message, namespace, sid, *args)
            else:
                @wraps(handler)
                def _handler(*raw: Any) -> Any:
                    items = list(raw)
                    real_message = items.pop(0) if message == "*" else message
                    real_namespace = items.pop(0) if namespace == "*" else namespace
                    sid = items.pop(0)
                    args = ([real_message] if message == "*" else []) + items
                    return self._handle_event(handler, real_message, real_namespace, sid, *args)

            if self.server is not None:
                self.server.on(message, _handler, namespace=namespace)
            else:
                self.handlers.append((message, _handler, namespace))
            return handler

        return decorator

    def event(self, *args: Any, **kwargs: Any) -> Any:
        """``@socketio.event`` / ``@socketio.event(namespace=...)``: the name is the event."""
        if len(args) == 1 and not kwargs and callable(args[0]):
            return self.on(args[0].__name__)(args[0])

        def decorator(handler: Callable[..., Any]) -> Callable[..., Any]:
            return self.on(handler.__name__, *args, **kwargs)(handler)

        return decorator

    def on_event(self, message: str, handler: Callable[..., Any], namespace: str | None = None) -> None:
        self.on(message, namespace=namespace)(handler)

    def on_error(self, namespace: str | None = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        namespace = namespace or "/"

        def decorator(exception_handler: Callable[..., Any]) -> Callable[..., Any]:
            if not callable(exception_handler):
                raise ValueError("exception_handler must be callable")
            self.exception_handlers[namespace] = exception_handler
            return exception_handler

        return decorator

    def on_error_default(self, exception_handler: Callable[..., Any]) -> Callable[..., Any]:
        if not callable(exception_handler):
            raise ValueError("exception_handler must be callable")
        self.default_exception_handler = exception_handler
        return exception_handler

    def on_namespace(self, namespace_handler: Any) -> None:
        from .namespace import Namespace

        if not isinstance(namespace_handler, Namespace):
            raise ValueError("Not a namespace instance.")
        if namespace_handler.socketio is not None and namespace_handler.socketio is not self:
            raise ValueError("Namespace already registered with another SocketIO")
        namespace_handler._set_socketio(self)
        if self.server is not None:
            self.server.register_namespace(namespace_handler)
        else:
            self.namespace_handlers.append(namespace_handler)

    # -- emitting ----------------------------------------------------------------------------
    def emit(self, event: str, *args: Any, **kwargs: Any) -> None:
        """Emit from anywhere (handlers, background tasks, threads): to everyone in the
        namespace unless ``to``/``room`` names a sid, a room or a list of rooms."""
        namespace = kwargs.pop("namespace", None) or "/"
        to = kwargs.pop("to", None)
        room = kwargs.pop("room", None)
        to = to if to is not None else room
        include_self = kwargs.pop("include_self", True)
        skip_sid = kwargs.pop("skip_sid", None)
        kwargs.pop("broadcast", None)
        if not include_self and not skip_sid:
            skip_sid = flask.request.sid  # type: ignore[attr-defined]
        callback = kwargs.pop("callback", None)
        skip_rooms = kwargs.pop("skip_rooms", None)
        volatile = kwargs.pop("volatile", False)
        timeout = kwargs.pop("timeout", None)
        if skip_rooms is not None or volatile or timeout is not None:
            self._cluster_emit(event, args, namespace, to, skip_sid, skip_rooms, volatile, timeout, callback)
            return
        if callback is not None:
            callback = self._context_callback(callback)
        ignore_queue = kwargs.pop("ignore_queue", False)
        self._server().emit(event, _data(args), to=to, skip_sid=skip_sid, namespace=namespace,
                            callback=callback, ignore_queue=ignore_queue)

    def call(self, event: str, *args: Any, **kwargs: Any) -> Any:
        """Emit and wait for the acknowledgement (``timeout`` seconds, default 60).

        To one client (``to=sid``): its answer, ``TimeoutError`` when it does not answer.
        To a room, a list of rooms or everyone (``broadcast=True``), on every node, minus
        the members of ``skip_rooms``: the list of the answers, one per recipient;
        `BroadcastTimeoutError` (a ``TimeoutError`` whose ``answers`` are those received)
        when some recipients do not answer in time (docs/cluster.md)."""
        namespace = kwargs.pop("namespace", None) or "/"
        to = kwargs.pop("to", None)
        room = kwargs.pop("room", None)
        to = to if to is not None else room
        timeout = kwargs.pop("timeout", 60)
        ignore_queue = kwargs.pop("ignore_queue", False)
        broadcast = kwargs.pop("broadcast", False)
        skip_rooms = kwargs.pop("skip_rooms", None)
        server = self._server()
        if not server.async_handlers:
            raise RuntimeError("Cannot use call() when async_handlers is False.")
        if skip_rooms is not None or (to is None and broadcast) or isinstance(to, (list, tuple, set)) or (
            isinstance(to, str) and not server.manager.is_connected(to, namespace) and not ignore_queue
            and server.cluster.can_count
        ):
            return server.cluster.call(event, _data(args), namespace=namespace, to=to, skip=skip_rooms,
                                       timeout=timeout, single_if_sid=isinstance(to, str))
        return server.call(event, _data(args), to=to, namespace=namespace, timeout=timeout,
                           ignore_queue=ignore_queue)

    def send(self, data: Any, json: bool = False, namespace: str | None = None, to: Any = None,
             callback: Callable[..., Any] | None = None, include_self: bool = True,
             skip_sid: Any = None, **kwargs: Any) -> None:
        """Send an unnamed message (event ``'message'``, or ``'json'`` with ``json=True``)."""
        to = to if to is not None else kwargs.pop("room", None)
        event = "json" if json else "message"
        self.emit(event, data, namespace=namespace, to=to, include_self=include_self,
                  skip_sid=skip_sid, callback=callback, **kwargs)

    def close_room(self, room: Any, namespace: str | None = None) -> None:
        self._server().close_room(room, namespace=namespace or "/")

    # -- cluster-wide operations (socketio_core/features/cluster.py, docs/cluster.md) ----------------------
    def fetch_sockets(self, to: Any = None, skip_rooms: Any = None, namespace: str | None = None,
                      timeout: float = 5) -> list[Any]:
        """The clients of a room (a list of rooms, or the namespace) on every node, minus the
        members of `skip_rooms`: `SocketInfo` objects with ``sid``, ``rooms``, ``handshake``
        and ``emit``/``join``/``leave``/``disconnect``. ``TimeoutError`` when a node does not
        answer within `timeout` seconds."""
        return self._server().cluster.fetch_sockets(namespace or "/", to=to, skip=skip_rooms, timeout=timeout)

    def sockets_join(self, rooms: Any, to: Any = None, skip_rooms: Any = None, namespace: str | None = None) -> None:
        """Make the clients of `to` (default: everyone), on every node, join `rooms`."""
        self._server().cluster.sockets_join(rooms, namespace or "/", to=to, skip=skip_rooms)

    def sockets_leave(self, rooms: Any, to: Any = None, skip_rooms: Any = None, namespace: str | None = None) -> None:
        """Make the clients of `to` (default: everyone), on every node, leave `rooms`."""
        self._server().cluster.sockets_leave(rooms, namespace or "/", to=to, skip=skip_rooms)

    def disconnect_sockets(self, to: Any = None, skip_rooms: Any = None, namespace: str | None = None) -> None:
        """Disconnect the clients of `to` (default: everyone), on every node."""
        self._server().cluster.disconnect_sockets(namespace or "/", to=to, skip=skip_rooms)

    def on_server(self, event: str, namespace: str | None = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Decorator: the handler of a server-side event from another node (`server_emit`);
        its return value answers a `server_call`. It runs inside the app context."""
        def decorator(handler: Callable[..., Any]) -> Callable[..., Any]:
            def in_app(*args: Any) -> Any:
                app = self._server_app
                if app is None:
                    return handler(*args)
                with app.app_context():
                    return handler(*args)

            self._server().cluster.on_server(event, in_app, namespace=namespace or "/")
            return handler

        return decorator

    def server_emit(self, event: str, *args: Any, namespace: str | None = None) -> None:
        """Send an event to the `on_server` handlers of the other nodes."""
        self._server().cluster.server_emit(event, *args, namespace=namespace or "/")

    def server_call(self, event: str, *args: Any, namespace: str | None = None, timeout: float = 5) -> list[Any]:
        """`server_emit` and wait: the list of the other nodes' answers (one per node);
        `BroadcastTimeoutError` (with the answers received) when some do not answer in time."""
        return self._server().cluster.server_call(event, *args, namespace=namespace or "/", timeout=timeout)

    def _cluster_emit(self, event: str, args: tuple[Any, ...], namespace: str, to: Any, skip_sid: Any,
                      skip_rooms: Any, volatile: bool, timeout: float | None,
                      callback: Callable[..., Any] | None) -> None:
        """`emit` with ``skip_rooms``, ``volatile`` or ``timeout`` (docs/cluster.md)."""
        cluster = self._server().cluster
        skip = room_list(skip_rooms) + room_list(skip_sid)
        if timeout is None:
            if callback is not None:
                raise ValueError("emit(callback=...) with skip_rooms or volatile needs timeout=")
            self._server().emit(event, _data(args), to=to, skip_sid=skip_sid, namespace=namespace,
                                skip_rooms=skip_rooms, volatile=volatile)
            return
        if callback is None:
            raise ValueError("emit(timeout=...) needs a callback (or use call())")
        from socketio_core.features.cluster import BroadcastTimeoutError

        def collect() -> None:
            try:
                answers = cluster.call(event, _data(args), namespace=namespace, to=to, skip=skip or None,
                                       timeout=timeout)
            except BroadcastTimeoutError as exc:
                callback(exc, exc.answers)
                return
            callback(None, answers)

        if self._server().eio.driver.in_loop():
            self.start_background_task(collect)
        else:  # a foreign thread (gevent): its own hub does not run, so a thread of its own
            import threading

            threading.Thread(target=collect, daemon=True, name="socketio-emit-acks").start()

    @property
    def _server_app(self) -> flask.Flask | None:
        mw = self.sockio_mw
        app = getattr(mw, "flask_app", None) if mw is not None else None
        return app if isinstance(app, flask.Flask) else None

    def _context_callback(self, callback: Callable[..., Any]) -> Callable[..., Any]:
        """Run an ack callback inside the request context of the handler that emitted."""
        if not flask.has_request_context() or getattr(flask.request, "sid", None) is None:
            return callback
        sid = flask.request.sid  # type: ignore[attr-defined]
        namespace = flask.request.namespace  # type: ignore[attr-defined]

        def _callback_wrapper(*args: Any) -> Any:
            return self._handle_event(callback, None, namespace, sid, *args)

        return _callback_wrapper

    # -- running -------------------------------------------------------------------------------
    def run(self, app: flask.Flask, host: str | None = None, port: int | None = None, **kwargs: Any) -> None:
        """Run the server: gevent's pywsgi in production (WebSocket included), the Werkzeug
        development server in threading mode."""
        from .running import run

        run(self, app, host, port, **kwargs)

    def stop(self) -> None:
        """Stop a server started with `run()` (callable from a handler or another thread)."""
        from .running import stop

        stop(self)

    def start_background_task(self, target: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Start `target` in a greenlet (gevent) or a thread; the returned object has ``join()``.

        With `tasks_in_threads` (a test client drives this server) the task is a daemon thread in
        every mode, as in Flask-SocketIO's threading mode: a test that waits with
        ``time.sleep()`` sees it run (a greenlet would not run until the test yields to gevent)."""
        server = self._server()
        if self.tasks_in_threads and server.eio.driver.name in ("gevent", "eventlet"):
            import threading

            thread = threading.Thread(target=target, args=args, kwargs=kwargs, daemon=True)
            thread.start()
            return thread
        return server.start_background_task(target, *args, **kwargs)

    def sleep(self, seconds: float = 0) -> None:
        """Sleep without blocking the server: cooperatively in the server's loop (gevent), or
        plainly in any other thread (a background task running as a thread)."""
        server = self._server()
        if not server.eio.driver.in_loop():
            import time

            time.sleep(seconds)
            return
        server.sleep(seconds)

    def test_client(self, app: flask.Flask, namespace: str | None = None, query_string: str | None = None,
                    headers: dict[str, str] | None = None, auth: Any = None,
                    flask_test_client: Any = None) -> Any:
        from .test_client import SocketIOTestClient

        return SocketIOTestClient(app, self, namespace=namespace, query_string=query_string,
                                  headers=headers, auth=auth, flask_test_client=flask_test_client)

    # -- dispatch ------------------------------------------------------------------------------
    def _server(self) -> SocketServer:
        if self.server is None:
            raise RuntimeError("SocketIO is not initialised: call init_app() first")
        return self.server

    def _handle_event(self, handler: Callable[..., Any], message: str | None, namespace: str,
                      sid: str, *args: Any) -> Any:
        """Run a handler inside the app and request context of its connection."""
        server = self.server
        if server is None:
            server = self._server()  # raises: not initialised
        client = server._client_of(sid, namespace or "/")
        if client is None:
            # The client is gone (or this sid was never ours).
            return "", 400
        environ = client.environ
        app = environ["flask.app"]
        saved = environ.get("saved_session") if self.manage_session else None
        # With the session given, pushing skips opening (and verifying) the cookie.
        ctx = request_context(app, environ, saved)
        ctx.push()
        try:
            if self.manage_session and saved is None:
                # The first handler of this connection forks the HTTP session.
                saved = environ["saved_session"] = _ManagedSession(flask.session)
                _replace_session(ctx, saved)
            request = ctx.request
            request.sid = sid  # type: ignore[attr-defined]
            request.namespace = namespace  # type: ignore[attr-defined]
            request.event = {"message": message, "args": args}  # type: ignore[attr-defined]
            # Whether this connection got its state back (connection state recovery).
            request.recovered = server.recovered(sid)  # type: ignore[attr-defined]
            try:
                if message == "connect":
                    # No auth, or an empty one (the python-socketio client sends {}): None,
                    # as Flask-SocketIO passes.
                    auth = (args[1] if len(args) > 1 else None) or None
                    ret = handler(*trim_args(handler, (auth,)))
                elif message == "disconnect":
                    ret = handler(*trim_args(handler, args[:1]))
                else:
                    ret = handler(*args)
            except ConnectionRefusedError:
                raise
            except Exception as exc:
                err_handler = self.exception_handlers.get(namespace, self.default_exception_handler)
                try:
                    if err_handler is None:
                        raise
                    return err_handler(exc)
                except Exception as final:
                    # Raised by the handler with no error handler, or by the error handler
                    # (re-raised or another): the test client raises it in the test.
                    for listener in self.unhandled_error_listeners:
                        listener(final)
                    raise
            if saved is not None and saved.dirty:
                saved.dirty = False
                if server.hooks.rooms:
                    server.session_changed(sid, namespace)  # a shared recovery store writes it through
            if not self.manage_session:
                session = flask.session
                if getattr(session, "modified", True):
                    app.session_interface.save_session(app, session, app.response_class())
            return ret
        finally:
            ctx.pop()


def _dump_managed_session(environ: dict[str, Any]) -> Any:
    """The connection's forked Flask session, as parked by connection state recovery."""
    saved = environ.get("saved_session")
    return dict(saved) if saved is not None else None


def _load_managed_session(environ: dict[str, Any], data: Any) -> None:
    if isinstance(data, dict):
        environ["saved_session"] = _ManagedSession(data)


def _replace_session(ctx: RequestContext, session: SessionMixin) -> None:
    if isinstance(getattr(type(ctx), "session", None), property):
        ctx._session = session  # Flask >= 3.1 keeps it behind a read-only property
    else:
        vars(ctx)["session"] = session  # Flask < 3.1: a plain instance attribute


class _FlaskSafeJSON:
    """``json=flask.json``: the app's JSON provider, usable outside a request."""

    def __init__(self, app: flask.Flask) -> None:
        self._app = app

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        if flask.has_app_context():
            return flask.json.dumps(obj, **kwargs)
        with self._app.app_context():
            return flask.json.dumps(obj, **kwargs)

    def loads(self, text: str | bytes, **kwargs: Any) -> Any:
        if flask.has_app_context():
            return flask.json.loads(text, **kwargs)
        with self._app.app_context():
            return flask.json.loads(text, **kwargs)


def _data(args: tuple[Any, ...]) -> Any:
    """Several positional arguments are several event arguments; one tuple is expanded."""
    if not args:
        return None
    if len(args) == 1:
        return args[0]
    return args
