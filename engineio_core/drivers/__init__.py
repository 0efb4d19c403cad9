"""I/O drivers: the only place where greenlets, threads, sleeps and sockets meet the protocol.

`select_driver(async_mode)` returns the driver for ``'gevent'`` (production; also
``'gevent_uwsgi'``, gevent under ``uwsgi --gevent N``) or ``'threading'`` (Werkzeug dev server,
``flask run``). Auto-selection picks threading under
``flask run`` and when gevent is not importable, else gevent.
"""

from __future__ import annotations

import os

from .base import Driver


def select_driver(async_mode: str | None) -> Driver:
    if async_mode is None:
        if os.environ.get("FLASK_RUN_FROM_CLI") == "true":
            async_mode = "threading"
        else:
            try:
                import gevent  # noqa: F401

                async_mode = "gevent"
            except ImportError:  # pragma: no cover - gevent is a dependency
                async_mode = "threading"
    if async_mode in ("gevent", "gevent_uwsgi"):  # uWSGI's gevent loop is gevent's hub
        from .gevent_driver import GeventDriver

        return GeventDriver()
    if async_mode == "threading":
        from .threading_driver import ThreadingDriver

        return ThreadingDriver()
    raise ValueError("Invalid async_mode specified")


__all__ = ["Driver", "select_driver"]
