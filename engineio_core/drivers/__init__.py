"""I/O drivers: the only place where greenlets, threads, sleeps and sockets meet the protocol.

`select_driver(async_mode)` returns the driver for ``'gevent'`` (production; also
``'gevent_uwsgi'``, gevent under ``uwsgi --gevent N``), ``'eventlet'`` (eventlet's hub, with
or without ``eventlet.monkey_patch()``) or ``'threading'`` (Werkzeug dev server, ``flask
run``). The choice is made once, when the server is built. Auto-selection (``None``) picks
eventlet in a process that eventlet monkey-patched, threading under ``flask run`` and when
gevent is not importable, else gevent (docs/migration.md says why gevent comes before an
installed-but-unused eventlet). A process patched by both gevent and eventlet is refused.
"""

from __future__ import annotations

import os
import sys

from .base import Driver

GEVENT_MODES = ("gevent", "gevent_uwsgi")


class MixedPatchingError(RuntimeError):
    """gevent and eventlet both monkey-patched this process (or the mode asked for is the
    other one's): two event loops cannot share the socket module."""


def green_patcher() -> str | None:
    """Which green library monkey-patched this process: ``'gevent'``, ``'eventlet'`` or None.
    Looks only at what is already imported (never imports either). Raises
    `MixedPatchingError` when both did."""
    patched = [name for name, check in (("gevent", _gevent_patched), ("eventlet", _eventlet_patched)) if check()]
    if len(patched) > 1:
        raise MixedPatchingError(
            "both gevent and eventlet have monkey-patched this process; they cannot share it. "
            "Keep one: eventlet.monkey_patch() with async_mode='eventlet', or "
            "gevent.monkey.patch_all() with async_mode='gevent'."
        )
    return patched[0] if patched else None


def _gevent_patched() -> bool:
    monkey = sys.modules.get("gevent.monkey")
    try:
        return monkey is not None and bool(monkey.is_module_patched("socket"))
    except Exception:  # pragma: no cover - a gevent without this API
        return False


def _eventlet_patched() -> bool:
    patcher = sys.modules.get("eventlet.patcher")
    if patcher is None:
        return False
    try:
        return bool(patcher.is_monkey_patched("socket") or patcher.is_monkey_patched("thread"))
    except Exception:  # pragma: no cover - an eventlet without this API
        return False


def resolve_async_mode(async_mode: str | None) -> str | None:
    """The async mode `async_mode` stands for in this process (None stays None for a mode
    this module does not know). Raises `MixedPatchingError` for a mode that cannot run
    under the monkey-patching in place."""
    patched = green_patcher()
    if async_mode is None:
        if patched == "eventlet":
            return "eventlet"
        if os.environ.get("FLASK_RUN_FROM_CLI") == "true":
            return "threading"
        try:
            import gevent  # noqa: F401
        except ImportError:  # pragma: no cover - gevent is a dependency
            return "threading"
        return "gevent"
    if async_mode == "eventlet" and patched == "gevent":
        raise MixedPatchingError(
            "async_mode='eventlet' in a process that gevent monkey-patched: remove the gevent "
            "patching, or use async_mode='gevent'."
        )
    if async_mode in GEVENT_MODES and patched == "eventlet":
        raise MixedPatchingError(
            f"async_mode={async_mode!r} in a process that eventlet monkey-patched "
            "(eventlet.monkey_patch()): use async_mode='eventlet' (or leave async_mode unset, "
            "and create the SocketIO object after the monkey_patch() call)."
        )
    return async_mode


def select_driver(async_mode: str | None) -> Driver:
    async_mode = resolve_async_mode(async_mode)
    if async_mode in GEVENT_MODES:  # uWSGI's gevent loop is gevent's hub
        from .gevent_driver import GeventDriver

        return GeventDriver()
    if async_mode == "eventlet":
        from .eventlet_driver import EventletDriver

        return EventletDriver()
    if async_mode == "threading":
        from .threading_driver import ThreadingDriver

        return ThreadingDriver()
    raise ValueError("Invalid async_mode specified")


__all__ = ["Driver", "MixedPatchingError", "green_patcher", "resolve_async_mode", "select_driver"]
