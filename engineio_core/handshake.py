"""Request validation and the OPEN handshake (PURE).

The checks run in the Node server's order, and a failed one carries Node's Engine.IO error
code and message (the body is ``{"code":N,"message":"..."}``, `errors.error_body`):

1. ``transport`` is missing or not one of the allowed transports → 0 ``Transport unknown``
   (python-engineio would default a missing one to polling and open a session)
2. no ``sid`` and a method other than GET → 2 ``Bad handshake method`` (the handshake is GET
   only, so a POST, PUT, DELETE, HEAD or a non-preflight OPTIONS gets a 400)
3. no ``sid`` and ``EIO`` is not ``4`` (nor ``3`` with ``allow_eio3``) → 5 ``Unsupported protocol version``
4. ``j`` (JSONP index) is present but not an integer → 3 ``Invalid JSONP index number`` (ours)
5. GET without ``sid``, ``transport=websocket``, no ``Upgrade: websocket`` → 3 ``Bad request``
6. a ``sid`` that cannot be one of ours → 1 ``Session ID unknown``
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from .config import EngineConfig
from .errors import NODE_MESSAGES, ErrorCode, RemoteProtocolError

# Logged (once at ERROR) with a request of another protocol version.
VERSION_HINT = (
    "this server speaks Engine.IO 4 / Socket.IO 5: the client needs socket.io-client >= 3.0 "
    "(JavaScript) or python-socketio >= 5.0; socket.io-client 1.x/2.x (EIO=3) is served only "
    "with the allow_eio3=True option"
)
UNSUPPORTED_VERSION = NODE_MESSAGES[ErrorCode.UNSUPPORTED_PROTOCOL_VERSION]
BAD_HANDSHAKE_METHOD = NODE_MESSAGES[ErrorCode.BAD_HANDSHAKE_METHOD]
MAX_SID_LENGTH = 64


@dataclass(frozen=True, slots=True)
class EngineRequest:
    """What a validated request asks for."""

    method: str
    transport: str
    sid: str | None
    jsonp_index: int | None
    websocket_upgrade: bool
    protocol: int = 4  # the EIO of a handshake (3 only with allow_eio3)
    b64: bool = False  # v3: the client asked for base64 binary in polling payloads


def parse_query(query_string: str) -> dict[str, str]:
    """The first value of each query parameter; tolerant of junk (junk fails validation later)."""
    out: dict[str, str] = {}
    if not query_string:
        return out
    for part in query_string.split("&"):
        if not part:
            continue
        key, _, value = part.partition("=")
        if key not in out:
            out[key] = _unquote(value)
    return out


def _unquote(value: str) -> str:
    if "%" not in value and "+" not in value:
        return value
    from urllib.parse import unquote_plus

    return unquote_plus(value, errors="replace")


def validate_request(
    method: str, query: Mapping[str, str], upgrade_header: str, cfg: EngineConfig
) -> EngineRequest:
    """Validate the Engine.IO query of a request; raise `RemoteProtocolError` with the
    Node server's code and message otherwise (the order is in this module's docstring)."""
    transport = query.get("transport")
    if transport is None or transport not in cfg.transports:
        raise _node_error(ErrorCode.UNKNOWN_TRANSPORT)
    sid = query.get("sid")
    if sid is None and method != "GET":
        raise _node_error(ErrorCode.BAD_HANDSHAKE_METHOD)
    protocol = 4
    if sid is None and query.get("EIO") != "4":
        if not (cfg.allow_eio3 and query.get("EIO") == "3"):
            raise _node_error(ErrorCode.UNSUPPORTED_PROTOCOL_VERSION)
        protocol = 3
    jsonp_index: int | None = None
    if "j" in query:
        raw = query["j"]
        if not (raw.isdigit() and raw.isascii() and len(raw) <= 9):
            raise RemoteProtocolError("Invalid JSONP index number")
        jsonp_index = int(raw)
    websocket_upgrade = upgrade_header.lower() == "websocket"
    if method == "GET" and sid is None and transport == "websocket" and not websocket_upgrade:
        raise _node_error(ErrorCode.BAD_REQUEST)
    if sid is not None and not _plausible_sid(sid):
        raise _node_error(ErrorCode.UNKNOWN_SID)
    b64 = bool(query.get("b64"))  # engine.io: any non-empty value (JavaScript truthiness)
    return EngineRequest(method, transport, sid, jsonp_index, websocket_upgrade, protocol, b64)


def _node_error(code: ErrorCode) -> RemoteProtocolError:
    return RemoteProtocolError(NODE_MESSAGES[code], code=code)


def _plausible_sid(sid: str) -> bool:
    """Our sids are 22 URL-safe base64 characters; anything odd cannot name a session."""
    return 0 < len(sid) <= MAX_SID_LENGTH and sid.isascii() and sid.isprintable()


def open_packet_data(sid: str, upgrades: list[str], cfg: EngineConfig) -> str:
    """The OPEN packet's JSON, fields in the reference's order:
    ``{"sid","upgrades","pingTimeout","pingInterval","maxPayload"}``."""
    return json.dumps(
        {
            "sid": sid,
            "upgrades": upgrades,
            "pingTimeout": cfg.advertised_ping_timeout_ms,
            "pingInterval": cfg.advertised_ping_interval_ms,
            "maxPayload": cfg.max_http_buffer_size,
        },
        separators=(",", ":"),
    )
