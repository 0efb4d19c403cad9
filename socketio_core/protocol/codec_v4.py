"""Socket.IO protocol v4 (PURE): what differs from v5 for Engine.IO v3 clients
(socket.io-client 1.x/2.x, served with ``allow_eio3=True``).

EVENT, ACK, BINARY_EVENT, BINARY_ACK and DISCONNECT are encoded alike in v4 and v5, so a
broadcast's encoded messages are shared by clients of both revisions (the Engine.IO wire forms
differ and are built once per revision by `engineio_core.EncodedMessage`). What differs:

- the client is connected to ``/`` implicitly, right after the Engine.IO OPEN: it never sends
  a CONNECT for ``/`` (the server sends one, ``40``); other namespaces it CONNECTs to with no
  auth payload (a ``?query`` in the namespace is dropped by the decoder);
- the server's CONNECT carries no payload (``40``, ``40/admin,``), where v5 sends the sid;
- a refusal by the connect handler is CONNECT_ERROR with the refusal's ``data``, else its
  message, as a bare JSON value (``44"Not authorized"``), where v5 sends an object.
"""

from __future__ import annotations

from typing import Any

from .packets import PacketType, SocketPacket

V4 = 4
V5 = 5


def revision_for_engine(eio_protocol: int) -> int:
    """The Socket.IO revision a client of an Engine.IO revision speaks."""
    return V4 if eio_protocol == 3 else V5


def legacy_sid(revision: int, eio_sid: str, namespace: str) -> str | None:
    """The sid a v4 client gets, or None (v5: a new random one). A v4 client's CONNECT ack
    carries no sid: it takes the Engine.IO sid as its own (``/nsp#<eio sid>`` in another
    namespace), as the Node server names it too, so ``request.sid`` is what the client sees."""
    if revision != V4:
        return None
    return eio_sid if namespace == "/" else f"{namespace}#{eio_sid}"


def connect_ack(revision: int, namespace: str, data: dict[str, Any]) -> SocketPacket:
    """The server's CONNECT accepting `namespace`: v5 carries `data` (``{"sid"}``, and the
    private id with connection state recovery); v4 has no payload."""
    if revision == V4:
        return SocketPacket(PacketType.CONNECT, namespace)
    return SocketPacket(PacketType.CONNECT, namespace, data)


def connect_refusal(revision: int, namespace: str, refusal: dict[str, Any]) -> SocketPacket:
    """The CONNECT_ERROR for a connect handler's refusal (``{"message", "data"?}``)."""
    if revision == V4:
        data = refusal.get("data")
        if not data or not isinstance(data, (dict, str)):  # as JavaScript's `err.data || err.message`
            data = refusal["message"]
        return SocketPacket(PacketType.CONNECT_ERROR, namespace, data)
    return SocketPacket(PacketType.CONNECT_ERROR, namespace, refusal)
