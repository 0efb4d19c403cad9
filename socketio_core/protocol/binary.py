"""Binary attachments: moving ``bytes`` out of a payload and back in.

Spec (Packet encoding, "with binary data")::

    { type: BINARY_EVENT, namespace: "/", data: ["baz", <Buffer <01 02 03 04>> ] }
    51-["baz",{"_placeholder":true,"num":0}]
    + <Buffer <01 02 03 04>>

:func:`deconstruct` replaces every binary value (``bytes``, ``bytearray``, ``memoryview``)
anywhere inside nested lists, tuples and dicts by a placeholder object
``{"_placeholder": true, "num": n}`` and returns the binaries in order; :func:`reconstruct`
does the reverse on data received from a peer, and validates it strictly (CVE-2022-2421,
socket.io-parser did not check ``num``):

* a *placeholder* is a JSON object whose ``_placeholder`` member is ``true`` (exactly the
  boolean); other objects are ordinary data. A placeholder must have a ``num`` member that is
  an integer -- not a boolean, float or string -- in ``range(len(attachments))``;
* every attachment must be referenced by at least one placeholder (the official encoders
  only ever produce such packets; an attachment nobody references is a malformed packet and
  would otherwise be buffered for nothing). One attachment may be referenced more than once;
* nesting is bounded by :data:`MAX_DEPTH` so hostile input raises
  :class:`~socketio_core.protocol.errors.RemoteProtocolError`, never :class:`RecursionError`.

The decode-side functions raise only :class:`RemoteProtocolError`; the encode-side functions
raise :class:`LocalProtocolError` (data nested too deeply, or circular).
"""

from __future__ import annotations

from typing import Any, Union

from .errors import LocalProtocolError, RemoteProtocolError
from .packets import _json_type

__all__ = [
    "MAX_DEPTH",
    "BINARY_TYPES",
    "Slot",
    "deconstruct",
    "fill",
    "find_placeholders",
    "has_binary",
    "reconstruct",
]

#: Deepest nesting of lists/dicts that the attachment functions walk. Far beyond any real
#: payload, far below Python's recursion limit (so it also works from a deep call stack).
MAX_DEPTH = 200

#: The Python types sent as binary attachments.
BINARY_TYPES = (bytes, bytearray, memoryview)

Container = Union[list[Any], dict[Any, Any]]
#: Where a placeholder sits: ``(container, key or index, attachment number)``.
Slot = tuple[Container, Any, int]


def has_binary(data: Any) -> bool:
    """Whether ``data`` contains a binary value anywhere (lists, tuples, dicts)."""
    return _has_binary(data, 0)


def _has_binary(data: Any, depth: int) -> bool:
    if isinstance(data, BINARY_TYPES):
        return True
    if isinstance(data, (list, tuple, dict)):
        if depth >= MAX_DEPTH:
            raise _too_deep_local()
        for item in data.values() if isinstance(data, dict) else data:
            if _has_binary(item, depth + 1):
                return True
    return False


def deconstruct(data: Any) -> tuple[Any, list[bytes]]:
    """Replace every binary value in ``data`` by a numbered placeholder.

    Returns ``(new_data, attachments)``: ``new_data`` is a copy of the containers of ``data``
    (tuples become lists) with ``{"_placeholder": True, "num": n}`` where the ``n``-th binary
    value was; ``attachments[n]`` is that value as :class:`bytes`. ``data`` is not modified.

    Raises :class:`LocalProtocolError` if ``data`` is nested deeper than :data:`MAX_DEPTH`
    (which includes circular data).
    """
    attachments: list[bytes] = []
    return _deconstruct(data, attachments, 0), attachments


def _deconstruct(data: Any, attachments: list[bytes], depth: int) -> Any:
    if isinstance(data, BINARY_TYPES):
        # Spec: each binary is replaced by {"_placeholder":true,"num":<index>} and sent after
        # the packet, in index order.
        placeholder = {"_placeholder": True, "num": len(attachments)}
        attachments.append(data if isinstance(data, bytes) else bytes(data))
        return placeholder
    if isinstance(data, (list, tuple)):
        if depth >= MAX_DEPTH:
            raise _too_deep_local()
        return [_deconstruct(item, attachments, depth + 1) for item in data]
    if isinstance(data, dict):
        if depth >= MAX_DEPTH:
            raise _too_deep_local()
        return {key: _deconstruct(value, attachments, depth + 1) for key, value in data.items()}
    return data


def find_placeholders(data: Any, attachment_count: int) -> list[Slot]:
    """Locate and validate the placeholders of a received binary packet's payload.

    ``data`` is freshly decoded JSON whose top level is a list or dict. Returns the slots
    to fill once the attachments have arrived (see :func:`fill`), so that a bad packet is
    rejected as soon as its text part arrives, before any attachment is buffered.

    Raises :class:`RemoteProtocolError` for an invalid placeholder, an attachment that no
    placeholder references, or nesting deeper than :data:`MAX_DEPTH`.
    """
    slots: list[Slot] = []
    if isinstance(data, (list, dict)):
        _scan(data, attachment_count, slots, 0)
    used = {num for _, _, num in slots}
    if len(used) != attachment_count:
        unused = min(set(range(attachment_count)) - used)
        raise RemoteProtocolError(
            f"binary attachment {unused} is announced but no placeholder references it"
        )
    return slots


def _scan(container: Container, count: int, slots: list[Slot], depth: int) -> None:
    if depth >= MAX_DEPTH:
        raise RemoteProtocolError(f"binary packet payload is nested deeper than {MAX_DEPTH} levels")
    items = container.items() if isinstance(container, dict) else enumerate(container)
    for key, value in items:
        kind = value.__class__
        if kind is str or kind is int or kind is float or value is None or kind is bool:
            continue  # the common JSON scalars, without the isinstance() calls below
        if isinstance(value, dict):
            if value.get("_placeholder") is True:
                slots.append((container, key, _placeholder_num(value, count)))
            else:
                _scan(value, count, slots, depth + 1)
        elif isinstance(value, list):
            _scan(value, count, slots, depth + 1)


def _placeholder_num(placeholder: dict[Any, Any], count: int) -> int:
    """The validated ``num`` of a placeholder object (CVE-2022-2421)."""
    if "num" not in placeholder:
        raise RemoteProtocolError('binary placeholder without "num"')
    num = placeholder["num"]
    # type() rather than isinstance(): JSON true/false decode to bool, a subclass of int.
    if type(num) is not int:
        raise RemoteProtocolError(
            f'binary placeholder "num" must be an integer, got {_json_type(num)} {num!r:.40}'
        )
    if not 0 <= num < count:
        raise RemoteProtocolError(
            f'binary placeholder "num" {num} out of range: the packet announced '
            f"{count} attachment(s)"
        )
    return num


def fill(slots: list[Slot], attachments: list[bytes]) -> None:
    """Put ``attachments`` into the slots found by :func:`find_placeholders` (in place)."""
    for container, key, num in slots:
        container[key] = attachments[num]


def reconstruct(data: Any, attachments: list[bytes]) -> Any:
    """Replace every placeholder in received ``data`` by its attachment.

    The inverse of :func:`deconstruct` for data decoded from JSON (lists and dicts).
    The containers of ``data`` are updated in place, and the result is returned (a top-level
    placeholder is replaced by its attachment). Validates as :func:`find_placeholders` does,
    raising only :class:`RemoteProtocolError`.
    """
    holder = [data]
    fill(find_placeholders(holder, len(attachments)), attachments)
    return holder[0]


def _too_deep_local() -> LocalProtocolError:
    return LocalProtocolError(f"data is nested deeper than {MAX_DEPTH} levels (or is circular)")
