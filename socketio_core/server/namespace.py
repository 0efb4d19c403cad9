"""Class-based namespaces: events go to ``on_<event>`` methods.

The server-level class receives the sid first (``on_my_event(self, sid, data)``); the Flask
layer's subclass uses the request context instead. A namespace knows its server only through
`NamespaceServer`, the methods it forwards to (`SocketServer` provides them).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any, Protocol


class NamespaceServer(Protocol):
    """The server methods a `Namespace` forwards to, with its namespace as the default."""

    def emit(self, event: str, data: Any = None, to: Any = None, room: Any = None,
             skip_sid: Any = None, namespace: str | None = None,
             callback: Callable[..., Any] | None = None, ignore_queue: bool = False) -> None: ...

    def send(self, data: Any, to: Any = None, room: Any = None, skip_sid: Any = None,
             namespace: str | None = None, callback: Callable[..., Any] | None = None,
             ignore_queue: bool = False) -> None: ...

    def call(self, event: str, data: Any = None, to: Any = None, sid: Any = None,
             namespace: str | None = None, timeout: float = 60, ignore_queue: bool = False) -> Any: ...

    def enter_room(self, sid: str, room: Any, namespace: str | None = None) -> None: ...

    def leave_room(self, sid: str, room: Any, namespace: str | None = None) -> None: ...

    def close_room(self, room: Any, namespace: str | None = None) -> None: ...

    def rooms(self, sid: str, namespace: str | None = None) -> list[Any]: ...

    def get_session(self, sid: str, namespace: str | None = None) -> dict[str, Any]: ...

    def save_session(self, sid: str, session: dict[str, Any], namespace: str | None = None) -> None: ...

    def session(self, sid: str, namespace: str | None = None) -> AbstractContextManager[dict[str, Any]]: ...

    def disconnect(self, sid: str, namespace: str | None = None, ignore_queue: bool = False) -> None: ...


class Namespace:
    def __init__(self, namespace: str | None = None) -> None:
        self.namespace = namespace or "/"
        self.server: NamespaceServer | None = None

    def _set_server(self, server: NamespaceServer) -> None:
        self.server = server

    def _bound(self) -> NamespaceServer:
        if self.server is None:
            raise RuntimeError("this namespace is not registered with a server")
        return self.server

    def trigger_event(self, event: str, *args: Any) -> Any:
        """Dispatch to ``on_<event>``; an event without a method is ignored. Legacy
        ``on_connect(sid, environ)`` and ``on_disconnect(sid)`` are called without the
        trailing auth / reason."""
        handler = getattr(self, "on_" + event, None)
        if handler is None:
            return None
        if event in ("connect", "disconnect") and args:
            args = trim_args(handler, args)
        return handler(*args)

    def has_handler(self, event: str) -> bool:
        return callable(getattr(self, "on_" + event, None))

    # Server methods that default to this namespace.
    def emit(self, event: str, data: Any = None, to: Any = None, room: Any = None,
             skip_sid: Any = None, namespace: str | None = None,
             callback: Callable[..., Any] | None = None, ignore_queue: bool = False) -> None:
        self._bound().emit(event, data, to=to, room=room, skip_sid=skip_sid,
                           namespace=namespace or self.namespace, callback=callback,
                           ignore_queue=ignore_queue)

    def send(self, data: Any, to: Any = None, room: Any = None, skip_sid: Any = None,
             namespace: str | None = None, callback: Callable[..., Any] | None = None,
             ignore_queue: bool = False) -> None:
        self._bound().send(data, to=to, room=room, skip_sid=skip_sid,
                           namespace=namespace or self.namespace, callback=callback,
                           ignore_queue=ignore_queue)

    def call(self, event: str, data: Any = None, to: Any = None, sid: Any = None,
             namespace: str | None = None, timeout: float = 60, ignore_queue: bool = False) -> Any:
        return self._bound().call(event, data, to=to, sid=sid,
                                  namespace=namespace or self.namespace, timeout=timeout,
                                  ignore_queue=ignore_queue)

    def enter_room(self, sid: str, room: Any, namespace: str | None = None) -> None:
        self._bound().enter_room(sid, room, namespace=namespace or self.namespace)

    def leave_room(self, sid: str, room: Any, namespace: str | None = None) -> None:
        self._bound().leave_room(sid, room, namespace=namespace or self.namespace)

    def close_room(self, room: Any, namespace: str | None = None) -> None:
        self._bound().close_room(room, namespace=namespace or self.namespace)

    def rooms(self, sid: str, namespace: str | None = None) -> list[Any]:
        return self._bound().rooms(sid, namespace=namespace or self.namespace)

    def get_session(self, sid: str, namespace: str | None = None) -> dict[str, Any]:
        return self._bound().get_session(sid, namespace=namespace or self.namespace)

    def save_session(self, sid: str, session: dict[str, Any], namespace: str | None = None) -> None:
        self._bound().save_session(sid, session, namespace=namespace or self.namespace)

    @contextmanager
    def session(self, sid: str, namespace: str | None = None) -> Iterator[dict[str, Any]]:
        with self._bound().session(sid, namespace=namespace or self.namespace) as sess:
            yield sess

    def disconnect(self, sid: str, namespace: str | None = None) -> None:
        self._bound().disconnect(sid, namespace=namespace or self.namespace)


def trim_args(fn: Callable[..., Any], args: tuple[Any, ...]) -> tuple[Any, ...]:
    """Drop trailing arguments that `fn` cannot take (legacy handler signatures)."""
    try:
        params = list(inspect.signature(fn, follow_wrapped=False).parameters.values())
    except (TypeError, ValueError):
        return args
    if any(p.kind is p.VAR_POSITIONAL for p in params):
        return args
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return args[: len(positional)]
