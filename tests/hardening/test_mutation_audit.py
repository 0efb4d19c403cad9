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
