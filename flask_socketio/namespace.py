"""Class-based namespaces for Flask: ``on_<event>`` methods without a sid argument; the
request context (``request.sid``, ``session``…) is set up as for decorated handlers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from socketio_core.server.namespace import Namespace as _CoreNamespace
from socketio_core.server.namespace import trim_args


class Namespace(_CoreNamespace):
    def __init__(self, namespace: str | None = None) -> None:
        super().__init__(namespace)
        self.socketio: Any = None

    def _set_socketio(self, socketio: Any) -> None:
        self.socketio = socketio

    def has_handler(self, event: str) -> bool:
        """A subclass that overrides `trigger_event` gets every event (Flask-SocketIO calls
        ``trigger_event`` whether or not an ``on_<event>`` method exists)."""
        if type(self).trigger_event is not Namespace.trigger_event:
            return True
        return super().has_handler(event)

    def trigger_event(self, event: str, *args: Any) -> Any:
        """Called by the server with the sid first; runs ``on_<event>`` in the request
        context. With an ``error(self, exc)`` method, exceptions of ``on_*`` methods go to
        it and its return value becomes the ACK (Flask-SocketIO 5.7)."""
        handler_name = "on_" + event
        if not hasattr(self, handler_name):
            return None
        handler = getattr(self, handler_name)
        error_hook = getattr(self, "error", None)
        if callable(error_hook) and event not in ("connect",):
            original = handler

            def handler(*a: Any) -> Any:
                try:
                    if event == "disconnect":
                        # This wrapper takes *a, so the caller cannot see that a legacy
                        # ``on_disconnect(self)`` takes no reason: trim here.
                        a = trim_args(original, a)
                    return original(*a)
                except Exception as exc:
                    return error_hook(exc)

        sid, rest = args[0], args[1:]
        return self.socketio._handle_event(handler, event, self.namespace, sid, *rest)

    def emit(self, event: str, data: Any = None, room: Any = None, include_self: bool = True,  # type: ignore[override]
             namespace: str | None = None, callback: Callable[..., Any] | None = None, **kwargs: Any) -> None:
        to = kwargs.pop("to", None)
        return self.socketio.emit(event, data, room=to if to is not None else room,  # type: ignore[no-any-return]
                                  include_self=include_self, namespace=namespace or self.namespace,
                                  callback=callback, **kwargs)

    def send(self, data: Any, room: Any = None, include_self: bool = True,  # type: ignore[override]
             namespace: str | None = None, callback: Callable[..., Any] | None = None, **kwargs: Any) -> None:
        to = kwargs.pop("to", None)
        return self.socketio.send(data, room=to if to is not None else room,  # type: ignore[no-any-return]
                                  include_self=include_self, namespace=namespace or self.namespace,
                                  callback=callback, **kwargs)

    def close_room(self, room: Any, namespace: str | None = None) -> None:
        return self.socketio.close_room(room=room, namespace=namespace or self.namespace)  # type: ignore[no-any-return]
