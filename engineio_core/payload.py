"""HTTP long-polling payloads (PURE).

Spec (v4): "the packets are concatenated, separated by the record separator \\x1e"; binary
packets are base64-encoded with a ``b`` prefix. JSONP: the client sends ``d=<urlencoded
payload>`` form bodies and expects ``___eio[<j>]("<payload>");`` responses.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from urllib.parse import parse_qs

from .errors import RemoteProtocolError
from .packets import EnginePacket, decode_text

SEPARATOR = "\x1e"


def encode_payload(segments: Iterable[str]) -> str:
    """Join already-encoded polling segments (see `EnginePacket.encode_polling`)."""
    return SEPARATOR.join(segments)


def decode_payload(body: str, max_packets: int) -> list[EnginePacket]:
    """Split and decode a POST body. More than `max_packets` packets (when non-zero) is an
    error, never a silent drop (the reference answers 200 and discards them)."""
    if not body:
        raise RemoteProtocolError("empty payload")
    count = body.count(SEPARATOR) + 1
    if max_packets and count > max_packets:
        raise RemoteProtocolError(f"too many packets in payload ({count} > {max_packets})")
    return [decode_text(segment) for segment in body.split(SEPARATOR)]


def decode_body(raw: bytes, jsonp: bool) -> str:
    """Turn a POST body into payload text: UTF-8, or a JSONP ``d=`` form field."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise RemoteProtocolError("payload is not valid UTF-8") from None
    if jsonp:
        try:
            fields = parse_qs(text, keep_blank_values=True, max_num_fields=4)
        except ValueError:
            raise RemoteProtocolError("malformed JSONP body") from None
        values = fields.get("d")
        if not values:
            raise RemoteProtocolError("JSONP body without a d= field")
        text = values[0]
    return text


def jsonp_wrap(index: int, payload: str) -> str:
    """The JSONP response body: ``___eio[j]("payload");`` with the payload JSON-escaped."""
    return f"___eio[{index}]({json.dumps(payload)});"
