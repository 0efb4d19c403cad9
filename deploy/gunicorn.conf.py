"""gunicorn settings for one Flask-SocketIO process (see docs/deployment.md).

    gunicorn -c deploy/gunicorn.conf.py --bind 127.0.0.1:5001 examples.chat.app:app

Run one such process per CPU core, each on its own port, all with the same message queue
(``CHAT_MESSAGE_QUEUE`` for the chat example, ``SocketIO(app, message_queue=...)`` in an app),
behind nginx with sticky sessions (deploy/nginx.conf). The scale-out tests use this file.
"""

import os

# gevent: one greenlet per connection, so one process holds thousands of long-lived
# Socket.IO connections. gunicorn's gevent worker monkey-patches the standard library.
worker_class = "gevent"
# Exactly one worker per process: a Socket.IO session lives in the memory of the worker that
# created it, and gunicorn balances requests across its workers without stickiness, so with
# several workers the polling requests of one client would land on workers that do not know it.
# Scale with more processes (ports) behind nginx instead.
workers = 1
worker_connections = int(os.environ.get("SOCKETIO_WORKER_CONNECTIONS", "10000"))
# A WebSocket or a long-poll request is held open far longer than an HTTP request: gunicorn's
# timeout is the worker heartbeat under gevent, not a per-request limit, so keep the default.
timeout = 30
graceful_timeout = 10
keepalive = 75
bind = os.environ.get("SOCKETIO_BIND", "127.0.0.1:5000")
accesslog = os.environ.get("SOCKETIO_ACCESS_LOG") or None
errorlog = "-"
# Recent gunicorn (25.3 here) opens a control socket at ~/.gunicorn/gunicorn.ctl by default: one path for
# every gunicorn of the user, so several processes on one host would fight over it.
control_socket_disable = True
loglevel = os.environ.get("SOCKETIO_LOG_LEVEL", "info")
