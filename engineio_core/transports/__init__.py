"""Transports: HTTP long-polling and WebSocket (wsproto over the server's raw socket)."""
