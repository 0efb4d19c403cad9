"""Features that plug into the server: connection state recovery (one process or a cluster),
cluster-wide operations and the Socket.IO Admin UI. The server imports none of them."""
