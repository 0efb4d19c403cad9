"""Flask contexts for Socket.IO events, at per-event cost.

Every handler runs in the app and request context of the request that opened its connection.
Building a `RequestContext` from scratch binds a URL adapter to the environ and matches the
URL each time, which is most of the cost of an event. What does not change during a
connection (the bound URL adapter and the result of matching) is computed once, at the
connection's first event, and each event then gets a fresh context (fresh ``request`` object,
fresh ``g``) that reuses it.

This relies on the attributes `RequestContext.__init__` sets; `FAST_PATH` is decided once at
import by checking them against a real context, and when a Flask version sets others the
standard (slower) construction is used.
"""

from __future__ import annotations

import sys
from typing import Any

import flask
from flask.ctx import RequestContext
from flask.globals import _cv_request
from flask.signals import request_tearing_down
from werkzeug.exceptions import HTTPException

_EXPECTED_ATTRIBUTES = {
    "app", "request", "url_adapter", "flashes", "_session", "_after_request_functions", "_cv_tokens",
}
_CACHE_KEY = "flask_socketio.routing"


class _EventContext(RequestContext):
    """A request context whose URL adapter and match result are given, not recomputed."""

    def __init__(self, app: flask.Flask, request: Any, url_adapter: Any, routing: tuple[Any, Any, Any],
                 session: Any) -> None:  # noqa: D107 - deliberately not calling super()
        self.app = app
        self.request = request
        self.url_adapter = url_adapter
        self.flashes = None
        self._session = session
        self._after_request_functions = []
        self._cv_tokens = []
        self._routing = routing

    def pop(self, *exc: Any) -> None:
        """`RequestContext.pop`, minus the teardown dispatch when nothing listens: with no
        ``teardown_request`` function and no ``request_tearing_down`` receiver, Flask would
        still walk the request's blueprints and send the signal for every event."""
        if len(self._cv_tokens) != 1:
            super().pop(*exc)
            return
        app = self.app
        request = self.request
        try:
            if app.teardown_request_funcs or request_tearing_down.receivers:
                app.do_teardown_request(exc[0] if exc else sys.exc_info()[1])
            request.close()
        finally:
            token, app_ctx = self._cv_tokens.pop()
            _cv_request.reset(token)
            request.environ["werkzeug.request"] = None  # as Flask: no request <-> environ cycle
            if app_ctx is not None:
                app_ctx.pop(*exc)

    def match_request(self) -> None:
        rule, view_args, error = self._routing
        if error is not None:
            self.request.routing_exception = error
        else:
            self.request.url_rule, self.request.view_args = rule, view_args


def _probe() -> bool:
    try:
        app = flask.Flask("flask_socketio_probe")
        environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/", "SERVER_NAME": "x", "SERVER_PORT": "80",
                   "wsgi.url_scheme": "http", "QUERY_STRING": ""}
        ctx = RequestContext(app, environ)
        return set(vars(ctx)) == _EXPECTED_ATTRIBUTES and isinstance(
            getattr(RequestContext, "session", None), property)
    except Exception:  # pragma: no cover - unknown Flask internals
        return False


FAST_PATH = _probe()


def request_context(app: flask.Flask, environ: dict[str, Any], session: Any) -> RequestContext:
    """A new request context for one event of the connection that owns `environ`."""
    if not FAST_PATH:
        return RequestContext(app, environ, session=session)
    cached = environ.get(_CACHE_KEY)
    if cached is None or cached[0] is not app:
        url_adapter = None
        error: Any = None
        probe_request = app.request_class(environ)
        try:
            url_adapter = app.create_url_adapter(probe_request)
        except HTTPException as exc:
            error = exc
        rule = view_args = None
        if url_adapter is not None:
            try:
                rule, view_args = url_adapter.match(return_rule=True)
            except HTTPException as exc:
                error = exc
        if error is not None:
            # Kept for the connection's life: without its traceback, which would pin the frames
            # of this first event (and every object they reference) as long.
            error = error.with_traceback(None)
            error.__context__ = None
        cached = environ[_CACHE_KEY] = (app, url_adapter, (rule, view_args, error))
    request = app.request_class(environ)
    request.json_module = app.json
    return _EventContext(app, request, cached[1], cached[2], session)
