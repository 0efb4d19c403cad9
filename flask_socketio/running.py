"""`SocketIO.run()` and `stop()`: the engine's own server on gevent or eventlet in production,
Werkzeug in threading mode."""

from __future__ import annotations

import sys
from typing import Any

import flask

UNSAFE_WERKZEUG = (
    "The Werkzeug web server is not designed to run in production. Pass "
    "allow_unsafe_werkzeug=True to the run() method to disable this error."
)


def run(socketio: Any, app: flask.Flask, host: str | None = None, port: int | None = None, **kwargs: Any) -> None:
    if host is None:
        host = "127.0.0.1"
    if port is None:
        server_name = app.config.get("SERVER_NAME")
        if server_name and ":" in server_name:
            port = int(server_name.rsplit(":", 1)[1])
        else:
            port = 5000
    debug = kwargs.pop("debug", app.debug)
    log_output = kwargs.pop("log_output", debug)
    workers = kwargs.pop("workers", None)
    use_reloader = kwargs.pop("use_reloader", debug and workers in (None, 1))
    extra_files = kwargs.pop("extra_files", None)
    reloader_options = dict(kwargs.pop("reloader_options", {}) or {})
    if extra_files:
        reloader_options["extra_files"] = extra_files
    allow_unsafe_werkzeug = kwargs.pop("allow_unsafe_werkzeug", False)
    app.debug = debug
    from .extension import check_async_mode

    check_async_mode(socketio.async_mode)  # eventlet may have patched after SocketIO() was made
    if socketio.server is None:
        socketio.init_app(app)
    if workers not in (None, 1):
        _run_workers(socketio, app, host, port, workers, use_reloader, log_output, kwargs)
    elif socketio.async_mode == "threading":
        _run_werkzeug(socketio, app, host, port, debug, use_reloader, reloader_options,
                      allow_unsafe_werkzeug, log_output, kwargs)
    else:
        _run_gevent(socketio, app, host, port, debug, use_reloader, reloader_options, log_output, kwargs)


def _run_werkzeug(socketio: Any, app: flask.Flask, host: str, port: int, debug: bool, use_reloader: bool,
                  reloader_options: dict[str, Any], allow_unsafe_werkzeug: bool, log_output: bool,
                  kwargs: dict[str, Any]) -> None:
    import logging

    from werkzeug.serving import is_running_from_reloader, make_server, run_simple

    if not (sys.stdin is not None and sys.stdin.isatty()) and not allow_unsafe_werkzeug:
        raise RuntimeError(UNSAFE_WERKZEUG)
    if allow_unsafe_werkzeug:
        logging.getLogger("flask_socketio").warning(
            "Werkzeug appears to be used in a production deployment. Consider switching to a "
            "production web server instead."
        )
    ssl_context = kwargs.pop("ssl_context", None)
    certfile, keyfile = kwargs.pop("certfile", None), kwargs.pop("keyfile", None)
    if ssl_context is None and certfile:
        ssl_context = (certfile, keyfile)
    if not log_output:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
    if use_reloader:
        run_simple(host, port, app, use_reloader=True, use_debugger=debug, threaded=True,
                   ssl_context=ssl_context, **reloader_options, **kwargs)
        return
    server = make_server(host, port, app, threaded=True, ssl_context=ssl_context)
    socketio._werkzeug_server = server
    if not is_running_from_reloader():
        scheme = "https" if ssl_context else "http"
        print(f" * Serving Flask-SocketIO app {app.name!r} on {scheme}://{host}:{server.server_port}")
    server.serve_forever()


def _run_gevent(socketio: Any, app: flask.Flask, host: str, port: int, debug: bool, use_reloader: bool,
                reloader_options: dict[str, Any], log_output: bool, kwargs: dict[str, Any]) -> None:
    """The engine's own server, on the hub of the async mode (gevent's or eventlet's)."""
    if socketio.async_mode == "eventlet":
        from engineio_core.eventlet_serving import make_server
    else:
        from engineio_core.serving import make_server

    if debug and socketio.sockio_mw is not None:
        from werkzeug.debug import DebuggedApplication

        socketio.sockio_mw.wsgi_app = DebuggedApplication(socketio.sockio_mw.wsgi_app, evalex=True)
    socketio.wsgi_server = make_server(app, host, port, log_output=log_output, **kwargs)
    if use_reloader:
        from werkzeug._reloader import run_with_reloader

        if socketio.async_mode != "eventlet":  # eventlet: the app's monkey_patch() did this
            from gevent import monkey

            monkey.patch_thread()
            monkey.patch_time()
        run_with_reloader(socketio.wsgi_server.serve_forever, **reloader_options)
    else:
        socketio.wsgi_server.serve_forever()


def _run_workers(socketio: Any, app: flask.Flask, host: str, port: int, workers: Any, use_reloader: bool,
                 log_output: bool, kwargs: dict[str, Any]) -> None:
    """``workers=N``: N processes on one port (engineio_core/cluster). Without a message queue,
    each worker joins the workers' local bus (socketio_core/brokers/local_bus.py)."""
    from engineio_core.cluster.supervisor import WorkerInfo
    from engineio_core.cluster.workers import serve_workers
    from socketio_core.server.pubsub import join_local_bus

    if socketio.async_mode != "gevent":
        raise ValueError(f"workers= needs the gevent server (async_mode is {socketio.async_mode!r})")
    if use_reloader:
        raise ValueError("workers= cannot be combined with the reloader (use_reloader=False)")

    def on_worker(info: WorkerInfo) -> None:
        join_local_bus(socketio.server, info.directory, info.tag)
        socketio.server.start_running()  # listening on the bus (or queue) before the first client

    def on_ready(supervisor: Any) -> None:
        print(f" * Serving Flask-SocketIO app {app.name!r} on http://{host}:{supervisor.port} "
              f"with {supervisor.count} workers", flush=True)

    grace = float(kwargs.pop("grace", 10.0))
    serve_workers(app, host, port, workers, on_worker=on_worker, grace=grace, on_ready=on_ready,
                  log_output=log_output, **kwargs)


def stop(socketio: Any) -> None:
    if socketio.wsgi_server is not None:
        server = socketio.wsgi_server
        driver = socketio.server.eio.driver if socketio.server is not None else None
        if driver is not None and not driver.in_loop():
            driver.call_in_loop(server.stop)
        else:
            server.stop()
        return
    if socketio._werkzeug_server is not None:
        import threading

        threading.Thread(target=socketio._werkzeug_server.shutdown, daemon=True).start()
        return
    raise RuntimeError("Cannot stop unknown web server")
