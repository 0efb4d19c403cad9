"""gunicorn hooks for ``gunicorn -w N -k gevent`` with Flask-SocketIO (deploy/gunicorn_workers.conf.py).

The engine's hooks (engineio_core/cluster/gunicorn.py) route each request to the worker that
owns its session; `post_worker_init` here also makes the app's Socket.IO server one of the
workers on the local bus (socketio_core/brokers/local_bus.py), unless it was given a
``message_queue`` (then Redis or RabbitMQ carries the operations between workers).
"""

from __future__ import annotations

from typing import Any

from engineio_core.cluster.gunicorn import (
    on_exit,
    on_starting,
    post_fork,
    start_routing,
    worker_exit,
    workers_directory,
)


def post_worker_init(worker: Any) -> None:
    """gunicorn hook (worker, app loaded): join the bus, subscribe, route."""
    from socketio_core.server.pubsub import join_local_bus

    socketio = _find_socketio(worker.wsgi)
    if socketio is not None and socketio.server is not None:
        join_local_bus(socketio.server, workers_directory(), str(worker.age))
        socketio.server.start_running()
    start_routing(worker)


def _find_socketio(app: Any) -> Any:
    extensions = getattr(app, "extensions", None)
    if isinstance(extensions, dict):
        return extensions.get("socketio")
    return None


__all__ = ["on_exit", "on_starting", "post_fork", "post_worker_init", "worker_exit"]
