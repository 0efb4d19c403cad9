"""Engine.IO v3 long-polling answers and POST bodies (``allow_eio3``; the forms are in
`engineio_core.v3`). The v4 transport (`transports.polling`) calls here for v3 sessions only."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from .. import v3
from ..encoded import EncodedMessage
from ..packets import EnginePacket
from ..payload import decode_body, jsonp_wrap
from .connection import StartResponse

# A JSONP answer is a script: with `nosniff` a browser runs it only under a JavaScript type.
JSONP_TYPE = "text/javascript; charset=UTF-8"

if TYPE_CHECKING:
    from .polling import PollingTransport

BINARY = "application/octet-stream"


def respond_open(
    polling: PollingTransport, environ: dict[str, Any], start_response: StartResponse,
    open_packet: str, jsonp: int | None, eio_sid: str,
) -> Iterable[bytes]:
    """The handshake answer: the OPEN packet as a one-record v3 text payload."""
    body = f"{v3.js_length(open_packet)}:{open_packet}"
    if jsonp is not None:
        # JSONP answers are text/plain, as the Node server sends them.
        return polling.respond(environ, start_response, 200, jsonp_wrap(jsonp, body), cookie_sid=eio_sid,
                               content_type=JSONP_TYPE)
    return polling.respond(environ, start_response, 200, body, cookie_sid=eio_sid)


def respond_poll(
    polling: PollingTransport, environ: dict[str, Any], start_response: StartResponse,
    messages: list[EncodedMessage], b64: bool, jsonp: int | None,
) -> Iterable[bytes]:
    """A poll's answer: a binary payload when a message is binary and the client takes
    binary (no ``b64``, no JSONP), else a text payload (binary as ``b4<base64>``)."""
    if jsonp is None and not b64 and any(m.binary for m in messages):
        body = v3.encode_binary_payload([m.v3.binary_record() for m in messages])
        return polling.respond(environ, start_response, 200, body, content_type=BINARY)
    text = v3.encode_text_payload([m.v3.polling_segment() for m in messages])
    if jsonp is not None:
        return polling.respond(environ, start_response, 200, jsonp_wrap(jsonp, text), content_type=JSONP_TYPE)
    return polling.respond(environ, start_response, 200, text)


def decode_post(raw: bytes, binary: bool, jsonp: bool, max_packets: int) -> list[EnginePacket]:
    """A v3 POST body's packets, all or nothing (`RemoteProtocolError` otherwise)."""
    if binary:
        return v3.decode_binary_payload(raw, max_packets)
    text = decode_body(raw, jsonp)
    if jsonp:
        text = v3.unescape_jsonp(text)
    return v3.decode_text_payload(text, max_packets)
