"""Tests that kill the survivors of the mutation audits of issue 21 (item 7), against a
running server over loopback unless said otherwise. Each names what it guards."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hard_support import PEER_CLOSED, RawWS, SioEnv, sio_env


def _connect(env: SioEnv, auth: Any = None) -> tuple[RawWS, dict[str, Any]]:
    ws = RawWS(env.port)
    ws.open()
    ws.send_text("40" + (json.dumps(auth) if auth is not None else ""))
    ack = ws.recv_message()
    assert isinstance(ack, str) and ack.startswith("40{"), ack
    return ws, json.loads(ack[2:])


def _offset(ws: RawWS) -> str:
    message = ws.recv_message()
    assert isinstance(message, str) and message.startswith("42["), message
    offset = json.loads(message[2:])[-1]
    assert isinstance(offset, str)
    return offset


@pytest.mark.parametrize("how", ["server-close", "socketio-invalid-packet"])
def test_a_non_recoverable_close_is_not_recovered(how: str) -> None:
    """Recovery parks a session only after a recoverable Engine.IO close: a server-side close
    or an invalid Socket.IO packet (the server closes) is not one (mutant: every reason
    recoverable). (An invalid *Engine.IO* packet closes as "transport error", which is
    recoverable here; Node closes it as "parse error", which is not: left open, reported.)"""
    with sio_env(connection_state_recovery=True) as env:
        ws, ack = _connect(env)
        env.sio.emit("news", "one")
        offset = _offset(ws)
        if how == "server-close":
            env.sio.eio.disconnect(ws.eio_sid)
        else:
            ws.send_text('42["unterminated"')
        with pytest.raises(PEER_CLOSED):
            for _ in range(10):
                ws.recv_message()
        env.wait_event("disconnect", lambda sid, reason: sid == ack["sid"])
        again, ack2 = _connect(env, {"pid": ack["pid"], "offset": offset})
        assert ack2["sid"] != ack["sid"]
        again.close()


CREDS = {"username": "admin", "password": "pw"}


def test_admin_login_with_the_first_entry_of_a_credentials_list() -> None:
    """Mutant: only the last (or only later) entries of a credentials list count."""
    with sio_env() as env:
        admin = env.sio.instrument(auth=[dict(CREDS), {"username": "other", "password": "x"}])
        try:
            ui = RawWS(env.port)
            ui.open()
            ui.send_text("40/admin," + json.dumps(CREDS))
            assert str(ui.recv_message()).startswith('40/admin,{"sid":')
            ui.close()
        finally:
            admin.shutdown()


@pytest.mark.parametrize("close", [False, True])
def test_admin_disconnect_close_flag_on_a_client_in_two_namespaces(close: bool) -> None:
    """``_disconnect`` with close=False takes the client out of that namespace only; with
    close=True its whole connection is closed (mutant: the flag ignored either way)."""
    with sio_env(namespaces="*") as env:
        admin = env.sio.instrument(auth=dict(CREDS))
        try:
            ui = RawWS(env.port)
            ui.open()
            ui.send_text("40/admin," + json.dumps(CREDS))
            assert str(ui.recv_message()).startswith("40/admin,")
            user = RawWS(env.port)
            user.open()
            user.send_text("40")
            assert str(user.recv_message()).startswith("40{")
            user.send_text("40/x,")
            ack = str(user.recv_message())
            assert ack.startswith("40/x,"), ack
            x_sid = json.loads(ack[5:])["sid"]
            ui.send_text(f'42/admin,["_disconnect","/",{json.dumps(close)},null]')
            if close:
                with pytest.raises(PEER_CLOSED):
                    for _ in range(10):
                        user.recv_message()
            else:
                assert user.recv_message() == "41"
                env.sio.emit("still", "here", to=x_sid, namespace="/x")
                assert user.recv_message() == '42/x,["still","here"]'
            user.close()
            ui.close()
        finally:
            admin.shutdown()


# -- decoders (pure) -----------------------------------------------------------------------------
def test_v3_binary_payload_marker_above_one_is_refused() -> None:
    """Mutant: record markers up to 2 accepted."""
    from engineio_core import v3
    from engineio_core.errors import RemoteProtocolError

    with pytest.raises(RemoteProtocolError):
        v3.decode_binary_payload(b"\x02\x02\xff\x04\x01", 0)
    assert v3.decode_binary_payload(b"\x01\x02\xff\x04\x01", 0)[0].data == b"\x01"  # marker 1 is fine


@pytest.mark.parametrize("body", ["6:b5AQ==", "2:b5"])
def test_v3_base64_record_of_another_type_than_message_is_refused(body: str) -> None:
    """Mutant: the ``b4`` type check of base64 records dropped."""
    from engineio_core import v3
    from engineio_core.errors import RemoteProtocolError

    with pytest.raises(RemoteProtocolError):
        v3.decode_text_payload(body, 0)
    assert v3.decode_text_payload("6:b4AQ==", 0)[0].data == b"\x01"


def test_v3_binary_payload_length_digit_over_nine_is_refused() -> None:
    """``\\x00\\x0a\\xff…``: a length "digit" of 10. Mutant: digits up to 10 accepted."""
    from engineio_core import v3
    from engineio_core.errors import RemoteProtocolError

    with pytest.raises(RemoteProtocolError):
        v3.decode_binary_payload(b"\x00\x0a\xff4123456789", 0)
    assert v3.decode_binary_payload(b"\x00\x01\x00\xff4123456789", 0)[0].data == "123456789"


def _chunked(data: bytes, bytewise: bool) -> bytes:
    from engineio_core.http11 import ChunkedDecoder

    decoder = ChunkedDecoder()
    if not bytewise:
        return decoder.feed(data)
    return b"".join(decoder.feed(data[i:i + 1]) for i in range(len(data)))


@pytest.mark.parametrize("bytewise", [False, True])
def test_chunk_data_followed_by_cr_and_not_lf_is_refused(bytewise: bool) -> None:
    """``1\\r\\nx\\rX``: mutant: only the CR after chunk data checked."""
    from engineio_core.http11 import HTTPError

    with pytest.raises(HTTPError):
        _chunked(b"1\r\nx\rX", bytewise)


def test_a_chunk_line_without_crlf_is_refused_before_its_end() -> None:
    """5,000 bytes of size line and no CRLF yet: refused now, not when the CRLF comes
    (mutant: the length checked on complete lines only)."""
    from engineio_core.http11 import ChunkedDecoder, HTTPError

    decoder = ChunkedDecoder()
    with pytest.raises(HTTPError):
        decoder.feed(b"1;" + b"a" * 4998)


def test_a_zero_padded_chunk_size_is_accepted() -> None:
    """``0000000000000005``: 16 digits, 1 significant (mutant: padding counted)."""
    assert _chunked(b"0000000000000005\r\nhello\r\n0\r\n\r\n", False) == b"hello"


def test_the_first_frame_after_a_recovering_reconnect_is_the_connect_ack() -> None:
    """Raw WebSocket (the JS client hides the order): the CONNECT ack, then the missed
    packets in order (mutant: the missed packets written before the ack)."""
    with sio_env(connection_state_recovery=True) as env:
        ws, ack = _connect(env)
        env.sio.emit("news", "seen")
        offset = _offset(ws)
        ws.close()
        env.wait_event("disconnect", lambda sid, reason: sid == ack["sid"])
        env.sio.emit("news", "missed 1")
        env.sio.emit("news", "missed 2")
        again = RawWS(env.port)
        again.open()
        again.send_text("40" + json.dumps({"pid": ack["pid"], "offset": offset}))
        first = str(again.recv_message())
        assert first.startswith('40{"sid":"' + ack["sid"] + '"'), first
        assert [json.loads(str(again.recv_message())[2:])[1] for _ in range(2)] == ["missed 1", "missed 2"]
        again.close()


def test_a_duplicate_node_count_in_a_cluster_ack_request_is_counted_once() -> None:
    """A node's ``count`` answer arriving twice (a redelivery) must not double the acks the
    asker waits for (mutant: every count added)."""
    from socketio_core.features.cluster import _Request
    from socketio_core.server.server import SocketServer

    sio = SocketServer(async_mode="threading")
    cluster = sio.cluster
    request = _Request(cluster, "ack", sio.eio.create_event())
    request.nodes = 1
    cluster._requests[request.id] = request
    me = cluster._host_id()
    count = {"to": me, "request_id": request.id, "host_id": "node-2", "count": 2}
    cluster._on_response(dict(count))
    cluster._on_response(dict(count))
    for answer in ("a", "b"):
        cluster._on_response({"to": me, "request_id": request.id, "host_id": "node-2", "answer": answer})
    assert request.expected_acks == 2 and request.items == ["a", "b"]
    assert request.waiter.is_set()


def test_volatile_skips_a_polling_client_that_is_not_polling() -> None:
    """Node's ``volatile``: a long-polling client with no GET waiting does not get the message
    (never queued for it); a later ordinary emit does arrive (mutant: every polling client
    counted as writable)."""
    from hard_support import PollClient

    with sio_env() as env:
        poller = PollClient(env.port)
        sid = poller.sio_connect()
        sio = env.sio

        def both() -> None:  # on the loop, in this order
            sio.emit("volatile", "dropped", volatile=True)
            sio.emit("ordinary", "kept", to=sid)

        sio.eio.driver.call_in_loop(both)
        assert poller.recv_message() == '42["ordinary","kept"]'
        assert env.bystanders[0].next_event() == '42["volatile","dropped"]'  # a WebSocket that can take it
