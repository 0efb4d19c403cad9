"""The Socket.IO v5 (and v4) protocol, PURE: packets, the JSON codec with binary attachments,
the msgpack codec, acks, rooms and the protocol errors. Nothing here does I/O or knows a server."""
