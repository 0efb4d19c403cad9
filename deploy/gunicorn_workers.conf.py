"""gunicorn settings for one Flask-SocketIO server on every core (see docs/deployment.md).

    gunicorn -c deploy/gunicorn_workers.conf.py -w 4 --bind 0.0.0.0:5000 examples.chat.app:app

Several gevent workers on one port, no nginx, no sticky sessions: a request for a session of
another worker is handed over to it (its connection moves there), and without a
``message_queue`` the workers share broadcasts, rooms and acks on a local bus of Unix sockets
in one directory (``SOCKETIO_WORKERS_DIR``, made at start when not set).
"""

import os

from flask_socketio.gunicorn import on_exit, on_starting, post_fork, post_worker_init, worker_exit  # noqa: F401

worker_class = "gevent"
workers = int(os.environ.get("SOCKETIO_WORKERS", os.cpu_count() or 1))
worker_connections = int(os.environ.get("SOCKETIO_WORKER_CONNECTIONS", "10000"))
timeout = 30
graceful_timeout = 10
keepalive = 75
bind = os.environ.get("SOCKETIO_BIND", "127.0.0.1:5000")
accesslog = os.environ.get("SOCKETIO_ACCESS_LOG") or None
errorlog = "-"
control_socket_disable = True
loglevel = os.environ.get("SOCKETIO_LOG_LEVEL", "info")
