"""Brokers: what carries bytes between the processes of a cluster (Redis pub/sub and streams,
RabbitMQ through kombu, the Node ``@socket.io/redis-adapter`` protocol) and the reconnect policy
their listeners share. A broker knows bytes and channels, never a manager or a server."""
