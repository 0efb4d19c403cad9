"""Security of the newer features (issue 21), against a running server over loopback.

0. The Admin UI's actions are out of reach of a client whose credentials were not checked,
   under ``always_connect`` and with a slow auth callable, over polling and WebSocket; no
   event of any namespace reaches a handler before its connect handler has accepted; a
   refused admin login closes its connection (one guess per handshake).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from hard_support import PEER_CLOSED, TIMEOUT, Closed, PollClient, RawWS, SioEnv, sio_env, wait_for

CREDS = {"username": "admin", "password": "correct-horse"}
WRONG = '0/admin,{"username":"admin","password":"WRONG"}'
OWN = '2/admin,["emit","/",null,"owned","sent by an unauthenticated client"]'
KILL = '2/admin,["_disconnect","/",true,null]'


@pytest.fixture
def always_env() -> Iterator[SioEnv]:
    with sio_env(always_connect=True) as env:
        admin = env.sio.instrument(auth=dict(CREDS))
        try:
            yield env
        finally:
            admin.shutdown()


def _refused_then_closed(client: Any) -> None:
    """The attacker's first Socket.IO answer is the refusal (no ack, no admin report), then the
    connection is closed by the server."""
    answer = client.recv_message()
    assert answer == '44/admin,{"message":"invalid credentials"}', answer
    with pytest.raises(PEER_CLOSED):
        for _ in range(20):
            client.recv_message()


@pytest.mark.parametrize("action", [OWN, KILL], ids=["emit", "disconnect"])
def test_admin_action_in_the_login_post_moves_nobody_under_always_connect(always_env: SioEnv, action: str) -> None:
    """The issue's raw POST over polling: the wrong login and an action in one payload."""
    attacker = PollClient(always_env.port)
    assert attacker.post("4" + WRONG, "4" + action).status == 200
    _refused_then_closed(attacker)
    always_env.assert_served()  # the bystander got no "owned" first, and was not closed


def _slow_env(always_env: SioEnv, marker: str) -> None:
    """An auth callable that rules only once the server has read the attacker's next message
    (deterministically "slow": the action arrives while the credentials are being checked)."""
    sio = always_env.sio
    seen: list[str] = []
    inner = sio.eio.handlers["message"]

    def on_message(eio_sid: str, data: Any) -> None:
        if isinstance(data, str) and data.startswith(marker):
            seen.append(data)
        inner(eio_sid, data)

    sio.eio.on("message", on_message)

    def slow_auth(given: Any) -> bool:
        for _ in range(500):  # at most 5 s
            if seen:
                break
            sio.sleep(0.01)
        return given == CREDS

    assert sio.admin is not None
    sio.admin.auth = slow_auth


@pytest.mark.parametrize("transport", ["websocket", "polling"])
def test_admin_action_during_a_slow_auth_callable_moves_nobody(always_env: SioEnv, transport: str) -> None:
    _slow_env(always_env, "2/admin,")
    attacker: Any = RawWS(always_env.port) if transport == "websocket" else PollClient(always_env.port)
    if transport == "websocket":
        attacker.open()
    attacker.send_text("4" + WRONG)
    attacker.send_text("4" + OWN)
    _refused_then_closed(attacker)
    always_env.assert_served()


def test_admin_with_good_credentials_still_acts_under_always_connect(always_env: SioEnv) -> None:
    """The gate delays, it does not lose: an action sent with the login right behind it is
    carried out once the credentials are accepted."""
    _slow_env(always_env, "2/admin,")
    ui = RawWS(always_env.port)
    ui.open()
    ui.send_text('40/admin,' + json.dumps(CREDS))
    ui.send_text('42/admin,["emit","/",null,"hello","from the admin"]')
    answer = ui.recv_message()
    assert isinstance(answer, str) and answer.startswith('40/admin,{"sid":'), answer
    assert always_env.bystanders[0].next_event() == '42["hello","from the admin"]'
    ui.close()


def test_app_namespace_events_wait_for_the_connect_handler(always_env: SioEnv) -> None:
    """Under always_connect an app namespace is acked at once, but its events are handled only
    after the connect handler accepted, in order; after a refusal they are dropped."""
    sio = always_env.sio
    order: list[str] = []
    seen: list[str] = []
    inner = sio.eio.handlers["message"]

    def on_message(eio_sid: str, data: Any) -> None:
        inner(eio_sid, data)
        if isinstance(data, str) and data.startswith("42/x,") and '"last"' in data:
            seen.append(data)

    sio.eio.on("message", on_message)

    def connect(sid: str, environ: Any, auth: Any) -> bool:
        for _ in range(500):
            if seen:
                break
            sio.sleep(0.01)
        order.append(f"connect {auth['ok']}")
        return bool(auth["ok"])

    sio.on("connect", connect, namespace="/x")
    sio.on("step", lambda sid, n: order.append(f"step {n}"), namespace="/x")
    for ok in (False, True):
        client = RawWS(always_env.port)
        client.open()
        client.send_text("40/x," + json.dumps({"ok": ok}))
        for n in ("1", "2", "last"):
            client.send_text(f'42/x,["step","{n}"]')
        first = client.recv_message()
        assert isinstance(first, str) and first.startswith('40/x,{"sid":'), first
        if ok:
            wait_for(lambda: "step last" in order, TIMEOUT)
        else:
            assert client.recv_message() == "41/x,"
        seen.clear()
        client.close()
    assert order == ["connect False", "connect True", "step 1", "step 2", "step last"]


def test_refused_admin_login_closes_the_connection(always_env: SioEnv, caplog: pytest.LogCaptureFixture) -> None:
    """Throttle: after a refusal the connection is closed, a second guess on it is impossible."""
    ws = RawWS(always_env.port)
    ws.open()
    ws.send_text("4" + WRONG)
    _refused_then_closed(ws)
    with pytest.raises((Closed, *PEER_CLOSED)):
        ws.send_text("4" + WRONG)
        ws.recv_message()
    assert [r.levelname for r in caplog.records if r.name == "socketio_core.admin"] == ["WARNING"]
