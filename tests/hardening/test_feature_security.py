"""Security of the newer features (issue 21), against a running server over loopback.

0. The Admin UI's actions are out of reach of a client whose credentials were not checked,
   under ``always_connect`` and with a slow auth callable, over polling and WebSocket; no
   event of any namespace reaches a handler before its connect handler has accepted; a
   refused admin login is answered late (one guess per second per connection).
1c/2. Connection state recovery's memory is bounded: the replay log in bytes, the parked
   sessions in count and bytes (measured on a server in a subprocess, RSS from /proc).
3. JSONP (``allow_eio3``) only for a site CORS would let read the answer; ``nosniff`` on
   every polling answer.
4. No recovery pid and no admin password in any log line; X-Forwarded-For is not trusted.
5. Bad admin credentials of any shape: a refusal and one WARNING, no traceback.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from hard_support import (
    PEER_CLOSED,
    ROOT,
    TIMEOUT,
    PollClient,
    RawWS,
    SioEnv,
    http,
    sio_env,
    wait_for,
)

from socketio_core.features import admin as admin_module
from socketio_core.features.recovery_store import DEFAULT_MAX_BUFFERED_BYTES
from tests.conftest import LogRecorder

sys.path.insert(0, os.path.join(ROOT, "scripts"))
from hardening_server import TargetServer  # noqa: E402

CREDS = {"username": "admin", "password": "correct-horse"}
WRONG = '0/admin,{"username":"admin","password":"WRONG"}'
OWN = '2/admin,["emit","/",null,"owned","sent by an unauthenticated client"]'
KILL = '2/admin,["_disconnect","/",true,null]'


@contextmanager
def recorded(*names: str) -> Iterator[LogRecorder]:
    """The records of our own loggers, whatever other tests did to their propagation."""
    recorder = LogRecorder()
    saved = []
    for name in names:
        logger = logging.getLogger(name)
        saved.append((logger, logger.level))
        logger.setLevel(logging.DEBUG)
        logger.addHandler(recorder)
    try:
        yield recorder
    finally:
        for logger, level in saved:
            logger.removeHandler(recorder)
            logger.setLevel(level)


@pytest.fixture
def fast_refusals(monkeypatch: pytest.MonkeyPatch) -> None:
    """Refused admin logins answered at once (the delay is tested on its own)."""
    monkeypatch.setattr(admin_module, "REFUSAL_DELAY", 0.0)


@pytest.fixture
def always_env(fast_refusals: None) -> Iterator[SioEnv]:
    with sio_env(always_connect=True) as env:
        admin = env.sio.instrument(auth=dict(CREDS))
        try:
            yield env
        finally:
            admin.shutdown()


def _refused(client: Any) -> None:
    """The attacker's first Socket.IO answer is the refusal: no ack, no admin report."""
    answer = client.recv_message()
    assert answer == '44/admin,{"message":"invalid credentials"}', answer


@pytest.mark.parametrize("action", [OWN, KILL], ids=["emit", "disconnect"])
def test_admin_action_in_the_login_post_moves_nobody_under_always_connect(always_env: SioEnv, action: str) -> None:
    """The issue's raw POST over polling: the wrong login and an action in one payload."""
    attacker = PollClient(always_env.port)
    assert attacker.post("4" + WRONG, "4" + action).status == 200
    _refused(attacker)
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
    _refused(attacker)
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


def test_refused_admin_login_is_slowed() -> None:
    """Throttle: each refusal waits `REFUSAL_DELAY` (cooperatively) before it is sent, one
    per guess, on the same connection too; one WARNING each."""
    with sio_env() as env, recorded("socketio_core.admin") as logs:
        admin = env.sio.instrument(auth=dict(CREDS))
        slept: list[float] = []
        real_sleep = env.sio.sleep

        def spy(seconds: float = 0) -> None:
            slept.append(seconds)
            real_sleep(seconds)

        env.sio.sleep = spy  # type: ignore[method-assign]
        try:
            ws = RawWS(env.port)
            ws.open()
            for _ in range(2):
                ws.send_text("4" + WRONG)
                _refused(ws)
            assert slept == [admin_module.REFUSAL_DELAY] * 2 and admin_module.REFUSAL_DELAY >= 1.0
            ws.send_text("40/admin," + json.dumps(CREDS))
            assert str(ws.recv_message()).startswith('40/admin,{"sid":')
            assert slept == [admin_module.REFUSAL_DELAY] * 2  # a good login is not delayed
            ws.close()
        finally:
            admin.shutdown()
    assert [level for level, _ in logs.records] == [logging.WARNING] * 2


# -- 1c / 2: recovery memory --------------------------------------------------------------------
MIB_KB = 1024


@pytest.fixture
def recovery_server(request: pytest.FixtureRequest) -> Iterator[TargetServer]:
    options = getattr(request, "param", "true")
    server = TargetServer("--recovery", options)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_replay_log_is_bounded_in_bytes_under_a_900kb_relay(recovery_server: TargetServer) -> None:
    """Issue 21 #1c: one client relays 100 broadcasts of 900 KB (90 MB; the issue's 300 took
    RSS 39 → 836 MB and kept it): the server's RSS grows by at most the documented per-namespace
    log budget (`max_buffered_bytes`, 16 MiB) plus a margin, and the log says so."""
    ws = RawWS(recovery_server.port)
    ws.sio_connect()
    payload = "x" * 900_000
    ws.send_text('42["broadcast","warm-up"]')
    ws.recv_message()
    before = recovery_server.rss_kb()
    for _ in range(100):
        ws.send_text(f'42["broadcast","{payload}"]')
        got = ws.recv_message()
        assert isinstance(got, str) and got.startswith('42["news","xxx')
    growth = recovery_server.rss_kb() - before
    ws.close()
    print(f"RSS growth under the relay: {growth} KiB")
    assert growth < (DEFAULT_MAX_BUFFERED_BYTES // 1024) + 16 * MIB_KB, f"RSS grew by {growth} KiB"
    stats = recovery_server.stats()["recovery"]
    assert stats["logBytes"] <= DEFAULT_MAX_BUFFERED_BYTES and stats["logTrimmedForBytes"] > 0, stats


def test_parked_sessions_are_bounded_under_churn(recovery_server: TargetServer) -> None:
    """Issue 21 #2: connect / join a 100 KB room / abrupt close, 600 times (60 MB of room names
    parked for 120 s before): a session over `max_session_bytes` is not parked, RSS stays flat."""
    before = recovery_server.rss_kb()
    for i in range(600):
        ws = RawWS(recovery_server.port)
        ws.sio_connect()
        ws.send_text(f'421["join","{i:06d}' + "r" * 100_000 + '"]')
        assert ws.recv_message() == "431[true]"
        ws.close()
    wait_for(lambda: recovery_server.stats()["clients"] == 0, TIMEOUT)
    growth = recovery_server.rss_kb() - before
    print(f"RSS growth under the churn: {growth} KiB")
    assert growth < 16 * MIB_KB, f"RSS grew by {growth} KiB"
    stats = recovery_server.stats()["recovery"]
    assert stats["tooBig"] == 600 and stats["parked"] == 0, stats


@pytest.mark.parametrize("recovery_server", ['{"max_disconnection_duration": 1}'], indirect=True)
def test_expired_sessions_are_swept_on_the_timer_loop(recovery_server: TargetServer) -> None:
    """Issue 21 #2: parked sessions go once expired, with no other client parked after them."""
    for _ in range(20):
        ws = RawWS(recovery_server.port)
        ws.sio_connect()
        ws.send_text('421["join","small"]')
        assert ws.recv_message() == "431[true]"
        ws.close()
    wait_for(lambda: recovery_server.stats()["recovery"]["parked"] + recovery_server.stats()["recovery"]["expired"]
             == 20, TIMEOUT)
    wait_for(lambda: recovery_server.stats()["recovery"]["parked"] == 0, TIMEOUT)  # swept
    assert recovery_server.stats()["recovery"]["expired"] == 20


# -- 3: JSONP -----------------------------------------------------------------------------------
CROSS_SITE = {"Cookie": "session=victim", "Sec-Fetch-Site": "cross-site", "Referer": "http://evil.example/page",
              "Sec-Fetch-Dest": "script"}


@pytest.mark.parametrize("headers", [CROSS_SITE, {"Cookie": "session=victim"}], ids=["cross-site", "no-headers"])
def test_cross_site_jsonp_gets_no_session(headers: dict[str, str]) -> None:
    """Issue 21 #3: a <script> GET from another site opens no session (the connect handler
    never runs with the victim's cookie); the v4 spelling too."""
    with sio_env(allow_eio3=True) as env:
        for query in ("EIO=3&transport=polling&j=0", "EIO=4&transport=polling&j=0"):
            resp = http(env.port, target=f"/socket.io/?{query}", headers=headers)
            assert resp.status == 400 and "sid" not in resp.text, (resp.status, resp.text)
            assert resp.headers["x-content-type-options"] == "nosniff"
        assert env.sio.eio.session_count == 1  # the bystander's only
        assert [auth for _, auth in env.of("connect")] == [{"who": "bystander"}]
        resp = http(env.port, target="/socket.io/?EIO=4&transport=polling", headers=headers)
        assert resp.status == 200 and resp.headers["x-content-type-options"] == "nosniff"  # XHR: CORS rules


@pytest.mark.parametrize(("cors", "referer"), [("*", "http://evil.example/page"),
                                               (["http://good.example"], "http://good.example/chat")])
def test_jsonp_is_served_where_cors_lets_the_site_read(cors: Any, referer: str) -> None:
    with sio_env(allow_eio3=True, cors_allowed_origins=cors) as env:
        headers = {**CROSS_SITE, "Referer": referer}
        resp = http(env.port, target="/socket.io/?EIO=3&transport=polling&j=0", headers=headers)
        assert resp.status == 200 and resp.text.startswith('___eio[0]("'), resp.text
        assert resp.headers["content-type"].startswith("text/javascript")
        assert resp.headers["x-content-type-options"] == "nosniff"


# -- 4: secrets in logs ------------------------------------------------------------------------
def test_no_pid_and_no_admin_password_in_any_log_line(caplog: pytest.LogCaptureFixture, fast_refusals: None) -> None:
    """Issue 21 #4: with every logger at INFO (the engine's packet lines included), the
    recovery pid (CONNECT ack, reconnecting CONNECT) and the admin password (admin CONNECT,
    right and wrong) appear in no log line."""
    caplog.set_level(logging.DEBUG)
    with sio_env(connection_state_recovery=True) as env, recorded("socketio_core", "engineio_core") as ours:
        admin = env.sio.instrument(auth=dict(CREDS))
        try:
            ws = RawWS(env.port)
            ws.open()
            ws.send_text("40")
            ack = json.loads(str(ws.recv_message())[2:])
            env.sio.emit("news", "one")
            offset = json.loads(str(ws.recv_message())[2:])[-1]
            ws.close()
            env.wait_event("disconnect", lambda sid, reason: sid == ack["sid"])
            again = RawWS(env.port)
            again.open()
            again.send_text("40" + json.dumps({"pid": ack["pid"], "offset": offset}))
            assert json.loads(str(again.recv_message())[2:])["sid"] == ack["sid"]  # recovered
            for password in ("correct-horse", "WRONG-guess"):
                ui = RawWS(env.port)
                ui.open()
                ui.send_text("40/admin," + json.dumps({"username": "admin", "password": password}))
                assert str(ui.recv_message()).startswith(("40/admin,", "44/admin,"))
                ui.close()
            again.close()
        finally:
            admin.shutdown()
        lines = env.logs.messages() + ours.messages() + [r.getMessage() for r in caplog.records]
    assert any("Received packet MESSAGE data 0/admin," in line for line in lines)  # the lines are there
    assert any(ack["sid"] in line and "Sending packet MESSAGE data 0{" in line for line in lines)
    for secret in (ack["pid"], "correct-horse", "WRONG-guess"):
        assert not [line for line in lines if secret in line], secret


def test_admin_ui_does_not_trust_a_client_set_x_forwarded_for() -> None:
    with sio_env() as env:
        admin = env.sio.instrument(auth=dict(CREDS))
        try:
            ws = RawWS(env.port, headers={"X-Forwarded-For": "6.6.6.6"})
            sid = ws.sio_connect()
            shown = admin.serialize(sid, "/", ws.eio_sid or "")
            assert shown["handshake"]["address"] == "127.0.0.1"
            ws.close()
        finally:
            admin.shutdown()


# -- 5: bad admin credentials of any shape --------------------------------------------------------
BAD_CREDENTIALS = [
    '{"username":"admin","password":"\\ud800"}',  # a lone surrogate
    '{"username":"\\udfff","password":["x"]}',
    '{"username":"admin","password":{"$gt":""}}',
    '{"username":null,"password":1e308}',
    '{"username":"admin","password":' + "[" * 200 + "]" * 200 + "}",
    '"admin:correct-horse"',
]


@pytest.mark.parametrize("auth", ["dict", "callable"])
def test_bad_admin_credentials_are_one_warning_and_no_traceback(caplog: pytest.LogCaptureFixture, auth: str,
                                                               fast_refusals: None) -> None:
    caplog.set_level(logging.DEBUG)

    def strict(given: Any) -> bool:
        return bool(given["password"].encode() == b"correct-horse")  # raises on most shapes

    with sio_env() as env, recorded("socketio_core") as ours:
        admin = env.sio.instrument(auth=dict(CREDS) if auth == "dict" else strict)
        try:
            for payload in BAD_CREDENTIALS:
                ws = RawWS(env.port)
                ws.open()
                ws.send_text("40/admin," + payload)
                if payload.startswith("{"):
                    assert ws.recv_message() == '44/admin,{"message":"invalid credentials"}', payload
                else:  # not an object: an invalid CONNECT packet (spec), the connection closes
                    with pytest.raises(PEER_CLOSED):
                        ws.recv_message()
                ws.close()
            env.assert_served()
        finally:
            admin.shutdown()
    levels = [level for level, _ in ours.records] + [level for level, _ in env.logs.records]  # the server's loggers
    assert [level for level in levels if level >= logging.WARNING] == [logging.WARNING] * len(BAD_CREDENTIALS)
    assert all(r.exc_info is None for r in caplog.records if r.name.startswith("socketio_core"))
    assert not any("Traceback" in line for line in env.logs.messages() + ours.messages())
