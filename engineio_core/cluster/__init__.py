"""Several worker processes serving one port as one server (``workers=N``).

* `tags` (pure): a session id names the worker that owns it (``<tag>.<128 random bits>``).
* `router`: a worker that reads a request for another worker's session hands the connection
  over — its file descriptor and the bytes read so far — through the owner's Unix socket
  (``SCM_RIGHTS``), before the app sees it; the owner serves the connection from there on.
  A handshake goes to the worker that has kept the fewest so far (counters in memory the
  supervisor shares with its workers).
* `supervisor`: binds the port, forks the workers, restarts those that die, stops them on
  SIGTERM/SIGINT; workers exit by themselves when the supervisor is gone.

Between workers, Socket.IO operations travel on the local bus
(`socketio_core.brokers.local_bus`). See docs/deployment.md.
"""
