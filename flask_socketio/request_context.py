"""Flask contexts for Socket.IO events, at per-event cost.

Every handler runs in the app and request context of the request that opened its connection.
Building a `RequestContext` from scratch binds a URL adapter to the environ and matches the
URL each time, which is most of the cost of an event. What does not change during a
connection (the bound URL adapter and the result of matching) is computed once, at the
connection's first event, and each event then gets a fresh context (fresh ``request`` object,
fresh ``g``) that reuses it.

The per-event context is a `RequestContext` subclass that keeps Flask's public contract:
its constructor has `RequestContext`'s signature, so ``copy()`` and
``flask.copy_current_request_context`` work (the copy shares the request, as in Flask);
``push()`` is Flask's own and ``pop()`` does what Flask's does (teardown functions, the
``request_tearing_down`` signal and the app-context signals run once per pop), skipping only
the teardown walk when nothing is registered; ``has_request_context()`` and
``after_this_request`` behave as in Flask-SocketIO (where no response is ever processed, so
after-request functions are registered and never called).

Skipping the URL adapter relies on the attributes `RequestContext.__init__` sets, and the
cheaper `pop` on Flask's context variable (``flask.globals._cv_request``): the two private
names this module uses, for about half of an event's context cost each. `FAST_PATH`
is decided once at import by checking them against a real context, and when a Flask version
sets others the standard (slower) construction is used.
"""

from __future__ import annotations

import sys
from typing import Any

import flask
from flask.ctx import AppContext, RequestContext
from flask.globals import _cv_app, _cv_request
from flask.signals import (
    appcontext_popped,
    appcontext_pushed,
    appcontext_tearing_down,
    request_tearing_down,
)
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Request as WerkzeugRequest

_EXPECTED_ATTRIBUTES = {
    "app", "request", "url_adapter", "flashes", "_session", "_after_request_functions", "_cv_tokens",
}
_CACHE_KEY = "flask_socketio.routing"
_NO_EXC: Any = object()


class _EventContext(RequestContext):
    """A request context whose URL adapter and match result come from the connection's
    environ (computed at its first event), not recomputed. Same constructor as
    `RequestContext`, so `copy()` makes another `_EventContext` sharing the request."""

    def __init__(self, app: flask.Flask, environ: dict[str, Any], request: Any = None,
                 session: Any = None) -> None:
        cached = environ.get(_CACHE_KEY)
        if cached is None or cached[0] is not app:
            super().__init__(app, environ, request=request, session=session)
            self._routing: tuple[Any, Any, Any] | None = None
            return
        # What RequestContext.__init__ does, minus `app.create_url_adapter()`.
        if request is None:
            prototype = cached[3]
            if prototype is not None:
                # A new request object with the attributes werkzeug's constructor would set
                # from this environ (copied from one built at the connection's first event).
                request = object.__new__(app.request_class)
                request.__dict__.update(prototype)
                environ["werkzeug.request"] = request
            else:
                request = app.request_class(environ)
                request.json_module = app.json
                trusted_hosts = app.config["TRUSTED_HOSTS"]
                if trusted_hosts is not None:
                    request.trusted_hosts = trusted_hosts
        self.app = app
        self.request = request
        self.url_adapter = cached[1]
        self.flashes = None
        self._session = session
        self._after_request_functions = []
        self._cv_tokens = []
        self._routing = cached[2]

    def push(self) -> None:
        """`RequestContext.push`; the app context it pushes is an `_EventAppContext` when the
        app creates plain `AppContext` objects."""
        app = self.app
        if self._routing is None or self._session is None or type(app).app_context is not _FLASK_APP_CONTEXT:
            super().push()
            return
        app_ctx: AppContext | None = _cv_app.get(None)
        if app_ctx is None or app_ctx.app is not app:
            app_ctx = _EventAppContext(app)
            app_ctx.push()
        else:
            app_ctx = None
        self._cv_tokens.append((_cv_request.set(self), app_ctx))
        self.match_request()

    def pop(self, exc: BaseException | None = _NO_EXC) -> None:
        """`RequestContext.pop`, minus the teardown dispatch when nothing listens: with no
        ``teardown_request`` function and no ``request_tearing_down`` receiver, Flask would
        still walk the request's blueprints and send the signal, about half the cost of an
        event's context. Nested pushes (and anything unusual) take Flask's own `pop`."""
        if len(self._cv_tokens) != 1 or _cv_request.get(None) is not self:
            super().pop(exc)
            return
        if exc is _NO_EXC:
            exc = sys.exc_info()[1]
        app = self.app
        request = self.request
        try:
            if app.teardown_request_funcs or request_tearing_down.receivers:
                app.do_teardown_request(exc)
            if "files" in request.__dict__ or type(request).close is not WerkzeugRequest.close:
                request.close()  # werkzeug's closes the uploaded files, and an event has none
        finally:
            token, app_ctx = self._cv_tokens.pop()
            _cv_request.reset(token)
            request.environ["werkzeug.request"] = None  # as Flask: no request <-> environ cycle
            if app_ctx is not None:
                app_ctx.pop(exc)

    def match_request(self) -> None:
        routing = self._routing
        if routing is None:
            super().match_request()
            return
        rule, view_args, error = routing
        if error is not None:
            self.request.routing_exception = error
        else:
            self.request.url_rule, self.request.view_args = rule, view_args


class _EventAppContext(AppContext):
    """Flask's `AppContext` (fresh ``g`` per event, the same teardown functions), minus the
    signal sends that have no receiver: blinker's ``send`` costs a generator and a list even
    then, three times per event. Used only where the app's ``app_context()`` is Flask's."""

    def push(self) -> None:
        self._cv_tokens.append(_cv_app.set(self))
        if appcontext_pushed.receivers:
            appcontext_pushed.send(self.app, _async_wrapper=self.app.ensure_sync)

    def pop(self, exc: BaseException | None = _NO_EXC) -> None:  # type: ignore[override]
        if len(self._cv_tokens) != 1 or _cv_app.get(None) is not self:
            super().pop(sys.exc_info()[1] if exc is _NO_EXC else exc)
            return
        app = self.app
        try:
            if app.teardown_appcontext_funcs or appcontext_tearing_down.receivers:
                app.do_teardown_appcontext(sys.exc_info()[1] if exc is _NO_EXC else exc)
        finally:
            _cv_app.reset(self._cv_tokens.pop())
        if appcontext_popped.receivers:
            appcontext_popped.send(app, _async_wrapper=app.ensure_sync)


_FLASK_APP_CONTEXT = flask.Flask.app_context


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


def _prepare(app: flask.Flask, environ: dict[str, Any]) -> None:
    """Bind and match once per connection; kept in the connection's environ."""
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
    prototype: dict[str, Any] | None = None
    if type(probe_request).__init__ is WerkzeugRequest.__init__:
        # What each event's request starts as (werkzeug's constructor sets only attributes
        # read from the environ, which does not change during the connection).
        probe_request.json_module = app.json
        prototype = dict(vars(probe_request))
    environ[_CACHE_KEY] = (app, url_adapter, (rule, view_args, error), prototype)


def request_context(app: flask.Flask, environ: dict[str, Any], session: Any) -> RequestContext:
    """A new request context for one event of the connection that owns `environ`."""
    if not FAST_PATH:
        return RequestContext(app, environ, session=session)
    cached = environ.get(_CACHE_KEY)
    if cached is None or cached[0] is not app:
        _prepare(app, environ)
    return _EventContext(app, environ, session=session)
