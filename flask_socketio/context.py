"""The context-aware functions: usable inside Socket.IO handlers, where the sid and the
namespace of the current client are known from ``flask.request``."""

from __future__ import annotations

from typing import Any

import flask


def _socketio() -> Any:
    return flask.current_app.extensions["socketio"]


def _sender(socketio: Any, namespace: str) -> str:
    """The sid of the current client in `namespace`. Sids are per namespace: emitting to
    another namespace (``emit(..., namespace='/chat')`` in a ``'/'`` handler, as the
    getting-started guide shows) addresses the same client's sid there. A client that is not
    connected to that namespace keeps its current sid, which matches nobody there."""
    sid: str = flask.request.sid  # type: ignore[attr-defined]
    current = flask.request.namespace  # type: ignore[attr-defined]
    if namespace == current:
        return sid
    manager = getattr(socketio.server, "manager", None)
    find_eio = getattr(manager, "eio_sid_from_sid", None)
    find_sid = getattr(manager, "sid_from_eio_sid", None)
    if find_eio is None or find_sid is None:
        return sid
    eio_sid = find_eio(sid, current)
    other = find_sid(eio_sid, namespace) if eio_sid is not None else None
    return other or sid


def _route(socketio: Any, kwargs: dict[str, Any], broadcast_allowed: bool = True) -> tuple[str, Any]:
    """(namespace, to) of a context emit: the current namespace unless given; ``to``/``room``,
    else everyone with ``broadcast=True``, else the current client."""
    namespace = kwargs["namespace"] if "namespace" in kwargs else flask.request.namespace  # type: ignore[attr-defined]
    to = kwargs.get("to")
    if to is None:
        to = kwargs.get("room")
    if to is None and not (broadcast_allowed and kwargs.get("broadcast")):
        to = _sender(socketio, namespace)
    return namespace, to


def emit(event: str, *args: Any, **kwargs: Any) -> None:
    """Emit to the client of the current event (or to ``to``/``room``, or everyone with
    ``broadcast=True``). Keyword arguments: namespace, callback, broadcast, to, room,
    include_self, skip_sid, ignore_queue; and skip_rooms, volatile, timeout (docs/cluster.md)."""
    socketio = _socketio()
    namespace, to = _route(socketio, kwargs)
    extra = {key: kwargs[key] for key in ("skip_rooms", "volatile", "timeout") if key in kwargs}
    return socketio.emit(  # type: ignore[no-any-return]
        event, *args, namespace=namespace, to=to,
        include_self=kwargs.get("include_self", True), skip_sid=kwargs.get("skip_sid"),
        callback=kwargs.get("callback"), ignore_queue=kwargs.get("ignore_queue", False), **extra,
    )


def call(event: str, *args: Any, **kwargs: Any) -> Any:
    """Emit to a client (by default the current one) and wait for its acknowledgement."""
    socketio = _socketio()
    namespace, to = _route(socketio, kwargs, broadcast_allowed=False)
    extra = {key: kwargs[key] for key in ("skip_rooms",) if key in kwargs}
    return socketio.call(event, *args, namespace=namespace, to=to,
                         timeout=kwargs.get("timeout", 60),
                         ignore_queue=kwargs.get("ignore_queue", False), **extra)


def send(message: Any, **kwargs: Any) -> None:
    """Send an unnamed message (``json=True``: event ``'json'``) to the current client, a
    room (``to``) or everyone (``broadcast=True``)."""
    socketio = _socketio()
    namespace, to = _route(socketio, kwargs)
    return socketio.send(  # type: ignore[no-any-return]
        message, json=kwargs.get("json", False), namespace=namespace, to=to,
        include_self=kwargs.get("include_self", True), skip_sid=kwargs.get("skip_sid"),
        callback=kwargs.get("callback"), ignore_queue=kwargs.get("ignore_queue", False),
    )


def join_room(room: Any, sid: str | None = None, namespace: str | None = None) -> None:
    socketio = _socketio()
    sid = sid or flask.request.sid  # type: ignore[attr-defined]
    namespace = namespace or flask.request.namespace  # type: ignore[attr-defined]
    socketio.server.enter_room(sid, room, namespace=namespace)


def leave_room(room: Any, sid: str | None = None, namespace: str | None = None) -> None:
    socketio = _socketio()
    sid = sid or flask.request.sid  # type: ignore[attr-defined]
    namespace = namespace or flask.request.namespace  # type: ignore[attr-defined]
    socketio.server.leave_room(sid, room, namespace=namespace)


def close_room(room: Any, namespace: str | None = None) -> None:
    socketio = _socketio()
    namespace = namespace or flask.request.namespace  # type: ignore[attr-defined]
    socketio.server.close_room(room, namespace=namespace)


def rooms(sid: str | None = None, namespace: str | None = None) -> list[Any]:
    """The rooms of a client (the current one by default), its own sid room included."""
    socketio = _socketio()
    sid = sid or flask.request.sid  # type: ignore[attr-defined]
    namespace = namespace or flask.request.namespace  # type: ignore[attr-defined]
    return socketio.server.rooms(sid, namespace=namespace)  # type: ignore[no-any-return]


def disconnect(sid: str | None = None, namespace: str | None = None, silent: bool = False) -> None:
    """Disconnect a client (the current one by default) from a namespace. `silent` is
    accepted for compatibility and ignored, as in Flask-SocketIO 5."""
    socketio = _socketio()
    sid = sid or flask.request.sid  # type: ignore[attr-defined]
    namespace = namespace or flask.request.namespace  # type: ignore[attr-defined]
    socketio.server.disconnect(sid, namespace=namespace)


