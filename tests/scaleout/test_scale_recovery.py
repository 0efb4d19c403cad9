"""Connection state recovery across nodes (sessions and the replay log in Redis).

The store, against a real redis-server: expiry, the size bound (never a partial replay
presented as complete), one recovery per private id. Then the cluster: three nodes behind
deploy/nginx.conf on one Redis, 100 socket.io-client@4 clients on one node, producers on the
two others; the clients' node is killed mid-traffic; the clients reconnect through nginx to
the others and recover: every message once, in the order of the offsets, same sid, rooms and
session. Past ``max_disconnection_duration`` nothing is replayed.
"""

from __future__ import annotations

import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from scale_support import (
    APPS,
    ProcessNode,
    RedisServer,
    cluster_node,
    require,
    running,
    start_nginx,
    wait_for,
)

from engineio_core.encoded import EncodedMessage
from socketio_core.brokers.redis_broker import RedisBroker
from socketio_core.features.recovery_redis import (
    RedisRecoveryStore,
    entry_fields,
    id_of_offset,
    offset_of,
    session_to_json,
)
from socketio_core.features.recovery_store import ParkedSession, RecoveryOptions

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "recovery"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "hardening"))
from recovery_support import NodeClients  # noqa: E402

RECOVERY_APP = APPS / "recovery_app.py"
CLIENTS = 100
PER_PRODUCER = 150


# -- the store ---------------------------------------------------------------------------------
def make_store(redis_server: RedisServer, prefix: str, **options: Any) -> RedisRecoveryStore:
    broker = RedisBroker(redis_server.url, "unused")
    return RedisRecoveryStore(broker.connect, prefix, RecoveryOptions(**options))


def log(store: RedisRecoveryStore, n: int, rooms: list[Any] | None = None, namespace: str = "/") -> None:
    """`n` logged packets ``msg i`` to `rooms`, each with the store's offset placeholder."""
    ops: list[tuple[Any, ...]] = []
    for i in range(n):
        parts = [EncodedMessage.message(f'2["msg",{i},"{store.placeholder}"]')]
        ops.append(("x", entry_fields(namespace, rooms, [], parts, store.placeholder)))
    store.write(ops)


FIRST = offset_of((0, 0))  # the floor of a session that began before anything was logged


def park(store: RedisRecoveryStore, pid: str, rooms: list[Any], namespace: str = "/", floor: str = FIRST) -> None:
    session = ParkedSession("sid-" + pid, pid, namespace, rooms, {"k": 1}, floor=floor)
    store.write([("set", pid, session_to_json(session, store.json))])


def last_offset(store: RedisRecoveryStore) -> str:
    return offset_of(store.last_id())


def replayed(store: RedisRecoveryStore, pid: str, offset: str, namespace: str = "/") -> list[str] | None:
    restored = store.restore(namespace, pid, offset, 0.0)
    if restored is None:
        return None
    return [parts[0].packet.data for parts in restored.missed]  # type: ignore[misc]


def test_store_replays_what_followed_the_offset_in_the_clients_rooms(redis_server: RedisServer) -> None:
    store = make_store(redis_server, "t1")
    log(store, 1, ["a"])
    offset = last_offset(store)
    log(store, 2, ["a"])
    log(store, 1, ["b"])
    log(store, 1, None)
    park(store, "p1", ["sid-p1", "a"])
    got = replayed(store, "p1", offset)
    assert got is not None and len(got) == 3
    offsets = [text.rsplit(",", 1)[1][1:-2] for text in got]
    assert [text.split(",")[1] for text in got] == ["0", "1", "0"]
    assert offsets == sorted(offsets) and all(id_of_offset(o) is not None for o in offsets)
    assert offsets[0] > offset
    assert store.placeholder not in "".join(got)


def test_store_one_recovery_per_pid(redis_server: RedisServer) -> None:
    store = make_store(redis_server, "t2")
    log(store, 1, None)
    offset = last_offset(store)
    log(store, 2, None)
    park(store, "p2", ["sid-p2"])
    assert replayed(store, "p2", offset) is not None
    assert replayed(store, "p2", offset) is None  # GETDEL: taken by the first
    park(store, "p3", ["sid-p3"])
    assert replayed(store, "p3", offset, namespace="/other") is None  # another namespace: gone too
    assert replayed(store, "p3", offset) is None


def test_store_size_bound_fails_instead_of_a_partial_replay(redis_server: RedisServer) -> None:
    store = make_store(redis_server, "t3", max_buffered_packets=5)
    log(store, 1, None)
    offset = last_offset(store)
    log(store, 5, None)
    park(store, "ok", ["sid-ok"])
    assert replayed(store, "ok", offset) is not None and len(replayed_again(store, "ok2", offset)) == 5
    log(store, 1, None)  # six after the offset: more than the bound
    park(store, "over", ["sid-over"])
    assert replayed(store, "over", offset) is None
    # Trimmed away (MAXLEN ~ removes whole nodes: push until the offset's entry is gone).
    for _ in range(50):
        log(store, 20, None)
        if store.client.xrange(store.stream, min=f"{id_of_offset(offset)[0]}-{id_of_offset(offset)[1]}", count=1)[0][0] != \
                f"{id_of_offset(offset)[0]}-{id_of_offset(offset)[1]}".encode():
            break
    park(store, "trimmed", ["sid-trimmed"])
    assert store.entries_after(offset) is None
    assert replayed(store, "trimmed", offset) is None
    # An offset no store made, or one from the future, replays nothing either.
    park(store, "bad", ["sid-bad"])
    assert replayed(store, "bad", "not-an-offset") is None


def test_store_refuses_an_offset_from_before_the_session_began(redis_server: RedisServer) -> None:
    """Issue 21 #1 with the Redis store: the floor travels with the session between nodes."""
    store = make_store(redis_server, "t5")
    log(store, 1, None)
    older = last_offset(store)
    log(store, 1, None)
    floor = last_offset(store)
    log(store, 2, None)
    park(store, "late", ["sid-late"], floor=floor)
    assert replayed(store, "late", older) is None
    park(store, "late", ["sid-late"], floor=floor)
    got = replayed(store, "late", floor)
    assert got is not None and len(got) == 2
    park(store, "nofloor", ["sid-nofloor"], floor="")
    assert replayed(store, "nofloor", floor) is None


def replayed_again(store: RedisRecoveryStore, pid: str, offset: str) -> list[str]:
    park(store, pid, ["sid-" + pid])
    got = replayed(store, pid, offset)
    assert got is not None
    return got


def test_store_session_expires_after_max_disconnection_duration(redis_server: RedisServer) -> None:
    store = make_store(redis_server, "t4", max_disconnection_duration=0.2)
    log(store, 1, None)
    offset = last_offset(store)
    park(store, "short", ["sid-short"])
    assert 0 < store.client.pttl(store.session_key("short")) <= 200
    wait_for(lambda: not store.client.exists(store.session_key("short")), timeout=5)
    log(store, 3, None)
    assert replayed(store, "short", offset) is None


# -- three nodes behind nginx ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def recovery_cluster(workdir: Path, redis_server: RedisServer) -> Iterator[list[ProcessNode]]:
    require("redis-server")
    # rec-1 runs on eventlet (issue 25): recovery through Redis streams under both drivers.
    nodes = [cluster_node(f"rec-{i}", workdir, redis_server.url, app=RECOVERY_APP,
                          extra_env={"RECOVERY_SECONDS": "8", **({"SCALE_EVENTLET": "1"} if i == 1 else {})})
             for i in range(3)]
    with running(nodes):
        redis_server.wait_subscribers(len(nodes))
        yield nodes


def produce(node: ProcessNode, name: str, count: int, room: str = "r") -> None:
    with urllib.request.urlopen(f"{node.url}/produce?name={name}&count={count}&room={room}&every=0.01", timeout=5) as r:
        assert r.read() == b"started"


def msgs(events: list[list[Any]]) -> list[tuple[str, int, str]]:
    return [(args[0]["p"], args[0]["i"], args[-1]) for args in events]


@pytest.mark.node
def test_killed_node_clients_recover_on_the_others(workdir: Path, redis_server: RedisServer,
                                                   recovery_cluster: list[ProcessNode]) -> None:
    require("nginx")
    with start_nginx(workdir, [node.port for node in recovery_cluster]) as port:
        clients = NodeClients(f"http://127.0.0.1:{port}", count=CLIENTS, room="r", transports=["websocket"])
        try:
            before = clients.command("whoami", "whoami")["answers"]
            pids = {a["pid"] for a in before}
            assert len(pids) == 1  # nginx hashes the client address: one node holds them all
            victim = next(n for n in recovery_cluster if n.proc is not None and n.proc.pid in pids)
            producers = [n for n in recovery_cluster if n is not victim]
            for i, node in enumerate(producers):
                produce(node, f"p{i}", PER_PRODUCER)
            clients.command("wait msg 20", "waited")
            assert victim.proc is not None
            victim.proc.kill()  # mid-traffic: no chance to park anything
            victim.proc.wait(5)
            auto = clients.command("auto 1", "auto", timeout=30)
            assert auto["recovered"] == [True] * CLIENTS
            assert auto["ids"] == [a["sid"] for a in before]
            clients.command(f"wait msg {PER_PRODUCER * len(producers)}", "waited", timeout=30)
            after = clients.command("whoami", "whoami")["answers"]
            events = clients.command("report", "report")["events"]
        finally:
            clients.close()
    expected = {(f"p{i}", j) for i in range(len(producers)) for j in range(PER_PRODUCER)}
    for n, (got, was, now) in enumerate(zip(events, before, after, strict=True)):
        seen = msgs(got)
        dups = [m for m in seen if sum(1 for x in seen if x[:2] == m[:2]) > 1]
        assert len(seen) == len(expected), f"client {n}: {len(seen)} messages; twice: {dups}"
        assert {(p, i) for p, i, _ in seen} == expected  # none lost, none twice
        offsets = [o for _, _, o in seen]
        assert offsets == sorted(offsets) and len(set(offsets)) == len(offsets)  # in offset order
        for name in {p for p, _, _ in seen}:
            assert [i for p, i, _ in seen if p == name] == list(range(PER_PRODUCER))
        assert now["sid"] == was["sid"] and now["pid"] != was["pid"] and now["recovered"] is True
        assert "r" in now["rooms"] and now["tag"] == n


@pytest.mark.node
def test_past_max_disconnection_duration_nothing_is_replayed(workdir: Path, redis_server: RedisServer) -> None:
    """A node of its own with a 1.5 s ``max_disconnection_duration`` (issue 21 #7: the 8 s of
    the cluster above made this test wait 8 s for nothing)."""
    require("redis-server")
    node = cluster_node("rec-short", workdir, redis_server.url, app=RECOVERY_APP,
                        extra_env={"RECOVERY_SECONDS": "1.5"})
    with running([node]):
        clients = NodeClients(node.url, count=3, room="late", transports=["websocket"])
        try:
            produce(node, "before", 1, room="late")
            clients.command("wait msg 1", "waited")
            client = redis_server.client()
            clients.command("drop", "dropped")
            wait_for(lambda: client.keys("flask-socketio:recovery:session:*"), timeout=10)  # parked
            keys = client.keys("flask-socketio:recovery:session:*")
            # The parked sessions expire (TTL = max_disconnection_duration, 1.5 s here).
            wait_for(lambda: not any(client.exists(k) for k in keys), timeout=10)
            produce(node, "late", 5, room="late")
            wait_for(lambda: client.xlen("flask-socketio:recovery:log") > 0, timeout=5)
            again = clients.command("reconnect", "reconnected")
            assert again["recovered"] == [False] * 3
            answers = clients.command("whoami", "whoami")["answers"]
            events = clients.command("report", "report")["events"]
        finally:
            clients.close()
    assert all(a["recovered"] is False and "late" not in a["rooms"] for a in answers)
    assert all([e[0]["p"] for e in got] == ["before"] for got in events)


# -- two nodes in this process, one Redis (issue 21) -------------------------------------------------
def _open(port: int, auth: Any = None) -> tuple[Any, dict[str, Any]]:
    """A raw WebSocket client: Engine.IO open and a Socket.IO CONNECT; (client, ack data)."""
    import json

    from hard_support import RawWS

    ws = RawWS(port)
    ws.open()
    ws.send_text("40" + (json.dumps(auth) if auth is not None else ""))
    ack = ws.recv_message()
    assert isinstance(ack, str) and ack.startswith("40{"), ack
    return ws, json.loads(ack[2:])


def _offset_of(message: Any) -> str:
    import json

    assert isinstance(message, str) and message.startswith("42["), message
    offset = json.loads(message[2:])[-1]
    assert isinstance(offset, str)
    return offset


@pytest.fixture
def two_nodes(redis_server: RedisServer) -> Iterator[list[Any]]:
    """Two `SocketServer`s on loopback (gevent), recovery on, one Redis message queue."""
    import contextlib
    import uuid

    from hard_support import http, sio_env

    from socketio_core.server.pubsub import manager_for_url

    channel = f"two-{uuid.uuid4().hex[:8]}"
    with contextlib.ExitStack() as stack:
        envs = [stack.enter_context(sio_env(bystander=False, client_manager=manager_for_url(redis_server.url, channel),
                                            connection_state_recovery={"max_disconnection_duration": 30}))
                for _ in range(2)]
        for env in envs:  # the listener starts with the first request
            assert http(env.port).status == 200
        redis_server.wait_subscribers(2, channel=channel)
        yield envs


def test_a_live_sessions_pid_is_refused_on_another_node(redis_server: RedisServer, two_nodes: list[Any]) -> None:
    """Issue 21 #1b: B presents connected A's pid (and its own offset) on node 2: it gets a
    new sid, not A's, and so does C trying again later; A's copy stays A's."""
    node1, node2 = two_nodes
    a, a_ack = _open(node1.port)
    b, _ = _open(node2.port)
    client = redis_server.client()
    wait_for(lambda: client.keys(f"{node1.sio.manager.channel}:recovery:*{a_ack['pid']}"), timeout=10)
    node2.sio.emit("news", "for everyone")
    b_offset = _offset_of(b.recv_message())
    assert _offset_of(a.recv_message()) == b_offset
    for _ in range(2):  # B, then C repeating it
        thief, ack = _open(node2.port, {"pid": a_ack["pid"], "offset": b_offset})
        assert ack["sid"] != a_ack["sid"], "a connected client's session was copied"
        thief.close()
    node1.sio.emit("news", "still A's")
    assert a.recv_message().startswith('42["news","still A\'s"')
    for ws in (a, b):
        ws.close()


def test_the_floor_travels_between_nodes(redis_server: RedisServer, two_nodes: list[Any]) -> None:
    """Issue 21 #1 across nodes: C, connected on node 1 after A's offset, drops and reconnects
    on node 2 with A's older offset: no recovery."""
    node1, node2 = two_nodes
    a, _ = _open(node1.port)
    node1.sio.emit("news", "seen by A")
    a_offset = _offset_of(a.recv_message())
    node1.sio.emit("news", "sent-before-C-existed")
    a.recv_message()
    c, c_ack = _open(node1.port)
    c.close()  # abrupt: parked
    client = redis_server.client()
    wait_for(lambda: client.exists(f"{node1.sio.manager.channel}:recovery:session:{c_ack['pid']}"), timeout=10)
    again, ack = _open(node2.port, {"pid": c_ack["pid"], "offset": a_offset})
    assert ack["sid"] != c_ack["sid"], ack
    node2.sio.emit("news", "after")
    assert again.recv_message().startswith('42["news","after"')  # nothing replayed before it
    for ws in (a, again):
        ws.close()


def test_store_offset_trimmed_from_the_stream_fails_with_a_large_bound(redis_server: RedisServer) -> None:
    """Issue 21 #7: the offset's own entry trimmed away (by age) while the count bound is far
    (max_buffered_packets=100000): no recovery, never the partial rest (mutant: only the
    count checked)."""
    store = make_store(redis_server, "t6", max_buffered_packets=100_000)
    log(store, 1, None)
    offset = last_offset(store)
    log(store, 3, None)
    entry = id_of_offset(offset)
    assert entry is not None
    store.client.xtrim(store.stream, minid=f"{entry[0]}-{entry[1] + 1}", approximate=False)  # its entry goes
    park(store, "gone", ["sid-gone"])
    assert replayed(store, "gone", offset) is None
    park(store, "kept", ["sid-kept"])
    assert replayed(store, "kept", last_offset(store)) == []  # the newest entry is still there


def test_restore_while_the_stream_reader_is_behind_replays_each_packet_once(redis_server: RedisServer) -> None:
    """Issue 21 #7: the restore/apply race made deterministic. The node's applier is held
    on an entry the log already has (XRANGE sees it, the node has not delivered it): the
    recovering client gets it once, live when the applier resumes, not also from the log
    (mutant: the log read past what the node has applied)."""
    import json
    import uuid

    from hard_support import http, sio_env

    from socketio_core.server.pubsub import manager_for_url

    channel = f"race-{uuid.uuid4().hex[:8]}"
    with sio_env(bystander=False, client_manager=manager_for_url(redis_server.url, channel),
                 connection_state_recovery={"max_disconnection_duration": 30}) as env:
        assert http(env.port).status == 200
        sio = env.sio
        recovery = sio.recovery
        gate = sio.eio.create_event()
        held: list[Any] = []
        real_apply = recovery._apply

        def apply(entry_id: Any, fields: Any) -> None:
            if b"held" in fields.get(b"p0", b"") and not gate.is_set():
                held.append(entry_id)
                gate.wait(20)
            real_apply(entry_id, fields)

        recovery._apply = apply
        client, ack = _open(env.port)
        sio.emit("news", "seen")
        offset = _offset_of(client.recv_message())
        client.close()
        db = redis_server.client()
        wait_for(lambda: db.exists(f"{channel}:recovery:session:{ack['pid']}"), timeout=10)
        sio.emit("news", "held")
        wait_for(lambda: held, timeout=10)  # in the log, not applied by this node
        again, ack2 = _open(env.port, {"pid": ack["pid"], "offset": offset})
        assert ack2["sid"] == ack["sid"]  # recovered
        sio.eio.driver.call_in_loop(gate.set)
        sio.emit("news", "after")
        got: list[str] = []
        while not got or got[-1] != "after":
            got.append(json.loads(str(again.recv_message())[2:])[1])
        assert got == ["held", "after"]
        again.close()


def test_an_entry_applied_between_the_log_read_and_the_resume_is_replayed(redis_server: RedisServer) -> None:
    """Issue 21 #7, the other side of the race: an entry the node applies after the log was
    read (XRANGE) and before the client is registered reaches it, from the restore's buffer
    (mutant: the buffer dropped)."""
    import json
    import uuid

    from hard_support import http, sio_env

    from socketio_core.server.pubsub import manager_for_url

    channel = f"race2-{uuid.uuid4().hex[:8]}"
    with sio_env(bystander=False, client_manager=manager_for_url(redis_server.url, channel),
                 connection_state_recovery={"max_disconnection_duration": 30}) as env:
        assert http(env.port).status == 200
        sio = env.sio
        recovery = sio.recovery
        applied: list[bytes] = []
        real_apply, real_fetched = recovery._apply, recovery._fetched

        def apply(entry_id: Any, fields: Any) -> None:
            real_apply(entry_id, fields)
            applied.append(fields.get(b"p0", b""))

        def fetched(*args: Any) -> None:  # on the loop, after XRANGE: "during" is applied first
            sio.emit("news", "during")

            def resume() -> None:
                if any(b"during" in p for p in applied):
                    real_fetched(*args)
                else:
                    sio.eio.call_later(0.01, resume)

            resume()

        recovery._apply = apply
        recovery._fetched = fetched
        client, ack = _open(env.port)
        sio.emit("news", "seen")
        offset = _offset_of(client.recv_message())
        client.close()
        db = redis_server.client()
        wait_for(lambda: db.exists(f"{channel}:recovery:session:{ack['pid']}"), timeout=10)
        again, ack2 = _open(env.port, {"pid": ack["pid"], "offset": offset})
        assert ack2["sid"] == ack["sid"]
        sio.emit("news", "after")
        got: list[str] = []
        while not got or got[-1] != "after":
            got.append(json.loads(str(again.recv_message())[2:])[1])
        assert got == ["during", "after"]
        again.close()


def test_an_entry_in_both_the_log_read_and_the_buffer_is_replayed_once(redis_server: RedisServer) -> None:
    """Issue 21 #7, the overlap: an entry logged right after the restore began is both read
    from the log and buffered as applied; the client gets it once (mutant: the buffer not
    filtered by the last entry read from the log)."""
    import json
    import uuid

    from hard_support import http, sio_env

    from socketio_core.server.pubsub import manager_for_url

    channel = f"race3-{uuid.uuid4().hex[:8]}"
    with sio_env(bystander=False, client_manager=manager_for_url(redis_server.url, channel),
                 connection_state_recovery={"max_disconnection_duration": 30}) as env:
        assert http(env.port).status == 200
        sio = env.sio
        recovery = sio.recovery
        applied: list[bytes] = []
        real_apply, real_taken, real_fetched = recovery._apply, recovery._taken, recovery._fetched

        def apply(entry_id: Any, fields: Any) -> None:
            real_apply(entry_id, fields)
            applied.append(fields.get(b"p0", b""))

        def taken(*args: Any) -> None:  # loop: logged before the log read, applied after this
            sio.emit("news", "during")
            real_taken(*args)

        def fetched(*args: Any) -> None:  # loop: resume once "during" is applied (and buffered)
            if any(b"during" in p for p in applied):
                real_fetched(*args)
            else:
                sio.eio.call_later(0.01, fetched, *args)

        recovery._apply, recovery._taken, recovery._fetched = apply, taken, fetched
        client, ack = _open(env.port)
        sio.emit("news", "seen")
        offset = _offset_of(client.recv_message())
        client.close()
        db = redis_server.client()
        wait_for(lambda: db.exists(f"{channel}:recovery:session:{ack['pid']}"), timeout=10)
        again, ack2 = _open(env.port, {"pid": ack["pid"], "offset": offset})
        assert ack2["sid"] == ack["sid"]
        sio.emit("news", "after")
        got: list[str] = []
        while not got or got[-1] != "after":
            got.append(json.loads(str(again.recv_message())[2:])[1])
        assert got == ["during", "after"]
        again.close()
