from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from freshtoken import (
    ConfigError,
    KVRecord,
    NotRegistered,
    OAuthClient,
    Provider,
    ReauthRequired,
    TokenHTTP,
    TokenReader,
    hookimpl,
)
from freshtoken.embedded import EmbeddedRuntime
from freshtoken.sandbox.server import Fault
from tests.raw_files import raw_bytes

from .conftest import Host, plugins, sandbox_client, until

HOUR = 3600.0


async def test_register_then_first_alarm_refreshes(host: Host) -> None:
    grant = host.sandbox.mint()
    view = await host.rt.register("t1:sandbox:alice", client="sandbox", refresh_token=grant["refresh_token"])
    assert view["status"] == "pending" and view["alarm_at"] == host.clock.now()
    assert "refresh_token" not in view and view["has_refresh_token"] is True
    assert await host.rt.run_due() == 1
    status = await host.rt.status("t1:sandbox:alice")
    assert status["status"] == "active" and status["generation"] == 1
    assert status["alarm_at"] == pytest.approx(host.clock.now() + HOUR - 600)
    record = await TokenReader(host.kv, clock=host.clock).get("t1:sandbox:alice")
    assert record.expires_at == int(host.clock.now() + HOUR)
    assert host.sandbox.app.stats.refreshes == 1
    assert await host.rt.run_due() == 0  # nothing else due


async def test_hour_long_tokens_refresh_all_day_in_virtual_time(host: Host) -> None:
    keys = await host.add(5)
    reader = TokenReader(host.kv, clock=host.clock, min_remaining=60)
    start = host.clock.now()
    fired = 0
    while host.clock.now() < start + 24 * HOUR:
        fired += await host.step()
        for key in keys:  # the request path always finds a fresh token
            assert (await reader.get(key)).generation >= 1
    # a refresh at registration, then one every 50 minutes: at 0, 50, ..., 1400, 1450 minutes
    assert fired == 5 * 30
    assert [(await host.rt.status(k))["refresh_count"] for k in keys] == [30] * 5
    stats = host.sandbox.app.stats
    assert stats.refreshes == fired and stats.reuse_detected == 0 and stats.overlaps == 0
    s = host.rt.stats()
    assert s["refreshes_ok"] == fired and s["refreshes_failed"] == 0
    assert s["accounts"] == {"active": 5}


async def test_register_with_a_valid_token_waits_for_the_lead(host: Host) -> None:
    grant = host.sandbox.mint()
    now = host.clock.now()
    await host.rt.register(
        "t1:sandbox:bob", client="sandbox", refresh_token=grant["refresh_token"],
        access_token=grant["access_token"], expires_at=now + HOUR, scope="read",
    )
    assert (await TokenReader(host.kv, clock=host.clock).get("t1:sandbox:bob")).access_token == grant[
        "access_token"
    ]
    assert await host.rt.run_due() == 0
    assert host.store.get_alarm("t1:sandbox:bob") == pytest.approx(now + HOUR - 600)
    await host.step()
    assert host.sandbox.app.stats.refreshes == 1


async def test_static_token_never_refreshes(host: Host) -> None:
    view = await host.rt.register("t1:sandbox:static", client="sandbox", refresh_token=None,
                                  access_token="static-token-1234", never_expires=True)
    assert view["status"] == "static" and view["alarm_at"] is None
    assert host.kv.get_sync("t1:sandbox:static") is not None
    assert (await host.rt.refresh_now("t1:sandbox:static")).kind == "static"


async def test_configuration_errors_are_clear(host: Host, host_factory: Callable[..., Host]) -> None:
    with pytest.raises(ConfigError, match="unknown client 'nope'; configured clients: sandbox"):
        await host.rt.register("t1:sandbox:x", client="nope", refresh_token="rt")
    bad = OAuthClient(name="weird", provider="no-such-provider", client_id="c")
    with pytest.raises(ConfigError, match="client 'weird': unknown provider 'no-such-provider'"):
        EmbeddedRuntime(store=host.store, kv=host.kv, clients={"weird": bad}, plugins=plugins())
    opts = OAuthClient(name="opts", provider="generic", client_id="c", provider_options={"bogus": 1})
    with pytest.raises(ConfigError, match="invalid options"):
        EmbeddedRuntime(store=host.store, kv=host.kv, clients={"opts": opts}, plugins=plugins())
    with pytest.raises(ConfigError, match="concurrency"):
        EmbeddedRuntime(store=host.store, kv=host.kv, clients={}, plugins=plugins(), concurrency=0)
    with pytest.raises(ReauthRequired):
        await host.rt.register("t1:sandbox:x", client="sandbox", refresh_token=None)
    with pytest.raises(Exception, match="account key"):
        await host.rt.register("no-colons", client="sandbox", refresh_token="rt")
    with pytest.raises(NotRegistered):
        await host.rt.refresh_now("t1:sandbox:ghost")
    with pytest.raises(NotRegistered):
        await host.rt.status("t1:sandbox:ghost")
    assert await host.rt.remove("t1:sandbox:ghost") is False


async def test_refresh_now_status_list_remove_with_revocation(host_factory: Callable[..., Host]) -> None:
    from .conftest import sandbox_client as sc

    h0 = host_factory()
    client = sc(h0.sandbox, revocation_url=h0.sandbox.url + "/revoke")
    h = host_factory(clients={"sandbox": client}, tmp=h0.tmp / "rev")
    keys = await h.add(3)
    await h.rt.run_due()
    out = await h.rt.refresh_now(keys[0])
    assert out.kind == "refreshed" and out.generation == 2
    assert [a["key"] for a in h.rt.list_accounts()] == sorted(keys)
    assert [a["key"] for a in h.rt.list_accounts(limit=1, after=sorted(keys)[0])] == [sorted(keys)[1]]
    assert h.rt.list_accounts(status="reauth_required") == []
    assert await h.rt.remove(keys[0]) is True
    assert h.kv.get_sync(keys[0]) is None and h.store.load_state(keys[0]) is None
    assert any(f.revoked for f in h.sandbox.app.families.values())
    with pytest.raises(NotRegistered):
        await h.rt.status(keys[0])
    assert h.rt.stats()["accounts_total"] == 2


class CountingHTTP(TokenHTTP):
    """Counts token requests in flight across all accounts."""

    def __init__(self) -> None:
        super().__init__()
        self.now = 0
        self.peak = 0

    async def send(self, *args: Any, **kw: Any) -> Any:
        self.now += 1
        self.peak = max(self.peak, self.now)
        try:
            return await super().send(*args, **kw)
        finally:
            self.now -= 1


async def test_concurrency_limit_is_honoured(host_factory: Callable[..., Host]) -> None:
    http = CountingHTTP()
    h = host_factory(http=http, concurrency=4)
    h.sandbox.app.latency = 0.02
    keys = await h.add(24)
    # refresh_now calls compete with the alarms for the same global limit
    results = await asyncio.gather(h.rt.run_due(), *(h.rt.refresh_now(k) for k in keys[:6]))
    assert results[0] >= 18
    assert http.peak <= 4 and h.rt.stats()["peak_in_flight"] <= 4
    assert http.peak >= 2  # it did run in parallel
    assert h.sandbox.app.stats.overlaps == 0 and h.sandbox.app.stats.reuse_detected == 0


async def test_many_due_at_once_never_overlap_per_account(host_factory: Callable[..., Host]) -> None:
    h = host_factory(concurrency=16)
    h.sandbox.app.lifetime = 70  # refresh about every second of virtual time
    keys = await h.add(40)
    h.sandbox.app.latency = 0.002
    for _ in range(3):
        # alarms, manual refreshes of the same accounts, and a second host on the same file all at once
        await asyncio.gather(h.rt.run_due(), *(h.rt.refresh_now(k) for k in keys[::7]))
        h.clock.advance(20)
    stats = h.sandbox.app.stats
    assert stats.overlaps == 0 and stats.reuse_detected == 0
    assert all(a["status"] == "active" for a in h.rt.list_accounts(limit=100))


async def test_two_runtimes_on_one_file_never_overlap(host_factory: Callable[..., Host], tmp_path: Any) -> None:
    a = host_factory(concurrency=8, owner="host-a")
    b = host_factory(concurrency=8, owner="host-b", clock=a.clock)
    a.sandbox.app.lifetime = 70
    a.sandbox.app.latency = 0.003
    keys = await a.add(30)
    for _ in range(3):
        await asyncio.gather(a.rt.run_due(), b.rt.run_due(), *(b.rt.refresh_now(k) for k in keys[:5]))
        a.clock.advance(20)
    stats = a.sandbox.app.stats
    assert stats.overlaps == 0 and stats.reuse_detected == 0
    assert a.store.count_by_status() == {"active": 30}


async def test_a_lease_held_elsewhere_is_respected(host: Host) -> None:
    (key,) = await host.add(1)
    now = host.clock.now()
    assert host.store.try_lease(key, "other-process", now + 100, now=now)
    assert await host.rt.run_due() == 0  # the other process is on it
    host.rt.busy_timeout = 0.1
    from freshtoken.embedded import AccountBusy

    with pytest.raises(AccountBusy, match="other-process"):
        await host.rt.refresh_now(key)
    host.clock.advance(101)  # the lease expired (that process died)
    assert await host.rt.run_due() == 1
    assert (await host.rt.status(key))["status"] == "active"


async def test_dead_leases_of_this_machine_are_dropped_at_startup(host: Host) -> None:
    import socket

    (key,) = await host.add(1)
    dead = f"{socket.gethostname()}:999999999:abcd"
    alive_elsewhere = "other-host:1:abcd"
    now = host.clock.now()
    host.store.try_lease(key, dead, now + 1000, now=now)
    host.rt._startup()
    assert host.store.lease_of(key) == (None, None)
    host.store.try_lease(key, alive_elsewhere, now + 1000, now=now)
    host.rt._startup()
    assert host.store.lease_of(key)[0] == alive_elsewhere


@pytest.mark.parametrize(
    "fault",
    [
        Fault(200, "not json at all"),
        Fault(200, {"token_type": "Bearer"}),  # no access_token
        Fault(200, {"access_token": "x", "expires_in": "soon"}),
        Fault(200, {"access_token": "x", "expires_in": -5}),
        Fault(200, {"access_token": "x", "expires_in": 10**12}),
        Fault(503, {"error": "temporarily_unavailable"}, {"retry-after": "120"}),
        Fault(500, b"\x00\xff garbage"),
    ],
    ids=["not-json", "no-access-token", "expires-string", "expires-negative", "expires-huge", "503", "500-bin"],
)
async def test_a_malformed_response_for_one_account_affects_no_other(host: Host, fault: Fault) -> None:
    victim, other = await host.add(2)
    await host.rt.run_due()
    before = host.kv.get_sync(victim)
    host.sandbox.app.inject(fault)
    out = await host.rt.refresh_now(victim)
    assert out.kind == "retry_scheduled" and out.error
    assert host.kv.get_sync(victim) == before  # the good token stays in KV
    assert (await host.rt.refresh_now(other)).kind == "refreshed"
    st = await host.rt.status(victim)
    assert st["status"] == "retrying" and st["failures"] == 1 and st["has_refresh_token"]
    host.clock.set(st["alarm_at"])
    assert await host.rt.run_due() == 1  # the retry heals it: the refresh token was kept
    assert (await host.rt.status(victim))["status"] == "active"
    assert host.sandbox.app.stats.reuse_detected == 0


class ExplodingProvider(Provider):
    name = "exploding"

    def build_refresh_request(self, *a: Any, **kw: Any) -> Any:
        from freshtoken import RetryableError

        raise RetryableError("try later")

    def retry_policy(self) -> Any:  # a plugin bug: the refresher falls back to the default policy
        raise RuntimeError("provider bug with a secret-looking payload rt-should-not-log")


class ExplodingPlugin:
    @hookimpl
    def freshtoken_register_providers(self, register: Any) -> None:
        register(ExplodingProvider)


async def test_broken_clients_and_provider_bugs_stay_isolated(
    host_factory: Callable[..., Host], caplog: pytest.LogCaptureFixture
) -> None:
    h0 = host_factory()
    sb = h0.sandbox
    clients = {
        "sandbox": sandbox_client(sb),
        "wrong-path": sandbox_client(sb, "wrong-path", token_url=sb.url + "/nope"),
        "unreachable": sandbox_client(sb, "unreachable", token_url="http://127.0.0.1:9/token", timeout=1.0),
        "bad-secret": OAuthClient(name="bad-secret", provider="generic", client_id="sandbox-client",
                                  client_secret="wrong", provider_options={"token_url": sb.token_url}),
        "exploding": OAuthClient(name="exploding", provider="exploding", client_id="c",
                                 provider_options={"token_url": sb.token_url}),
    }
    h = host_factory(clients=clients, extra_plugins=(ExplodingPlugin(),), tmp=h0.tmp / "iso")
    good = await h.add(10)
    bad = []
    for name in clients:
        if name != "sandbox":
            bad += await h.add(2, prefix=f"t1:{name}:user", client=name)
    # and one account whose stored state is corrupt (does not decrypt)
    (corrupt,) = await h.add(1, prefix="t1:sandbox:corrupt")
    db = h.store._db()
    (text,) = db.execute("SELECT state FROM accounts WHERE key = ?", (corrupt,)).fetchone()
    db.execute("UPDATE accounts SET state = ? WHERE key = ?", (text.replace('"v1.k1.', '"v1.k1.AA'), corrupt))
    assert await h.rt.run_due() == 19
    for key in good:
        assert (await h.rt.status(key))["status"] == "active"
    kinds = {k: (await h.rt.status(k))["status"] for k in bad}
    assert kinds["t1:wrong-path:user-0"] == "misconfigured"  # 404 {"error": "not_found"}
    assert kinds["t1:unreachable:user-0"] == "retrying"
    assert kinds["t1:bad-secret:user-0"] == "misconfigured"
    # the plugin's broken retry_policy() is contained by the refresher: default policy, account retrying
    assert kinds["t1:exploding:user-0"] == "retrying"
    # the unexpected exception (corrupt state) was caught, logged without its text, the alarm rescheduled
    assert h.rt.stats()["errors"] == 1
    assert h.store.get_alarm("t1:exploding:user-0") > h.clock.now()  # type: ignore[operator]
    assert h.store.get_alarm(corrupt) > h.clock.now()  # type: ignore[operator]
    assert "DecryptionError" in caplog.text
    assert "rt-should-not-log" not in caplog.text and "RuntimeError" in caplog.text
    # the loop keeps going for everyone
    h.clock.advance(HOUR)
    await h.rt.run_due()
    assert [(await h.rt.status(k))["refresh_count"] for k in good] == [2] * 10
    assert h.sandbox.app.stats.reuse_detected == 0


async def test_an_unknown_client_in_the_store_is_reported_on_the_account(host_factory: Callable[..., Host]
                                                                          ) -> None:
    h = host_factory()
    (key,) = await h.add(1)
    h.rt.clients.pop("sandbox")
    assert await h.rt.run_due() == 1
    st = await h.rt.status(key)
    assert "unknown client 'sandbox'" in st["last_error"] and st["alarm_at"] > h.clock.now()


async def test_run_loop_in_virtual_time(host: Host) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(host.rt.run(stop))
    keys = await host.add(3)  # register wakes the loop: the first refresh happens without any clock move
    await until(lambda: host.sandbox.app.stats.refreshes == 3)
    reader = TokenReader(host.kv, clock=host.clock, min_remaining=60)
    for _hour in range(6):
        target = host.clock.now() + HOUR
        while host.clock.now() < target:
            nxt = host.clock.next_deadline()
            await until(lambda: host.clock.next_deadline() is not None and not host.rt._alarm_tasks)
            nxt = host.clock.next_deadline()
            assert nxt is not None
            host.clock.set(min(nxt, target))
            await asyncio.sleep(0)
            await until(lambda: not host.rt._alarm_tasks)
        for k in keys:
            await reader.get(k)
    stop.set()
    await task
    assert host.sandbox.app.stats.refreshes >= 3 + 3 * 7
    assert host.rt.stats()["running"] is False
    assert host.rt.stats()["last_loop_lag"] is not None


async def test_stop_finishes_in_flight_refreshes(host: Host) -> None:
    host.sandbox.app.latency = 0.2
    await host.add(5)
    stop = asyncio.Event()
    task = asyncio.create_task(host.rt.run(stop))
    await until(lambda: host.rt.stats()["in_flight"] == 5)
    stop.set()
    await task
    s = host.rt.stats()
    assert s["in_flight"] == 0 and s["refreshes_ok"] == 5 and s["outcomes"].get("refreshed") == 5
    assert host.store.count_by_status() == {"active": 5}


async def test_run_until_signal_sigterm(host: Host) -> None:
    import os
    import signal

    from freshtoken.embedded import run_until_signal

    host.sandbox.app.latency = 0.1
    await host.add(3)
    task = asyncio.create_task(run_until_signal(host.rt))
    await until(lambda: host.rt.stats()["in_flight"] > 0)
    os.kill(os.getpid(), signal.SIGTERM)
    await task
    assert host.store.count_by_status() == {"active": 3}
    assert host.rt.stats()["in_flight"] == 0


async def test_kv_prefix(host_factory: Callable[..., Host]) -> None:
    h = host_factory(kv_prefix="ft:")
    (key,) = await h.add(1)
    await h.rt.run_due()
    assert h.kv.get_sync(key) is None
    assert KVRecord.loads(h.kv.get_sync("ft:" + key) or "").generation == 1
    await h.rt.remove(key, revoke=False)
    assert h.kv.get_sync("ft:" + key) is None


async def test_aclose_stops_a_running_scheduler(host: Host) -> None:
    host.sandbox.app.latency = 0.1
    await host.add(2)
    task = asyncio.create_task(host.rt.run())
    await until(lambda: host.rt.stats()["in_flight"] == 2)
    await host.rt.aclose()
    await asyncio.wait_for(task, 10)
    assert host.store.count_by_status() == {"active": 2}
    with pytest.raises(RuntimeError, match="closed"):
        await host.rt.run()


async def test_no_secret_in_any_file(host_factory: Callable[..., Host]) -> None:
    from pathlib import Path

    h = host_factory()
    keys = await h.add(5)
    for _ in range(3):
        await h.step()
    await h.rt.register("t1:sandbox:static", client="sandbox", refresh_token=None,
                        access_token="static-token-plant-77", never_expires=True)
    await h.rt.aclose()

    def raw(name: str) -> bytes:
        return raw_bytes(Path(h.tmp).glob(name + "*"))

    state_db, kv_db = raw("state.db"), raw("kv.db")
    families = h.sandbox.app.families.values()
    refresh_tokens = {f.current for f in families} | {f.previous for f in families if f.previous}
    assert refresh_tokens
    for rt in refresh_tokens:
        assert rt.encode() not in state_db and rt.encode() not in kv_db
    assert b"sandbox-secret" not in state_db and b"sandbox-secret" not in kv_db
    assert b"static-token-plant-77" not in state_db
    assert b"static-token-plant-77" in kv_db  # the request path's record: the access token, by design
    assert keys[0].encode() in state_db


async def test_key_rotation_with_a_running_fleet(host_factory: Callable[..., Host], tmp_path: Any) -> None:
    from freshtoken.embedded import AesGcmCodec, generate_key

    old = generate_key("old")
    h = host_factory(codec=AesGcmCodec.from_spec(old), tmp=tmp_path / "rot")
    keys = await h.add(4)
    await h.rt.run_due()
    await h.rt.aclose()
    new = generate_key("new")
    both = AesGcmCodec.from_spec(f"{new},{old}")
    h2 = host_factory(codec=both, clock=h.clock, tmp=tmp_path / "rot")
    assert h2.store.rewrap() == 4
    h2.clock.advance(HOUR)
    assert await h2.rt.run_due() == 4
    await h2.rt.aclose()
    h3 = host_factory(codec=AesGcmCodec.from_spec(new), clock=h.clock, tmp=tmp_path / "rot")
    h3.clock.advance(HOUR)
    assert await h3.rt.run_due() == 4
    assert [(await h3.rt.status(k))["generation"] for k in keys] == [3] * 4
    assert h3.sandbox.app.stats.reuse_detected == 0


async def test_issuer_discovery(host_factory: Callable[..., Host]) -> None:
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    h0 = host_factory()
    hits: list[str] = []

    class Meta(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            issuer = f"http://127.0.0.1:{self.server.server_address[1]}"
            if self.path != "/.well-known/oauth-authorization-server" or len(hits) == 1:
                self.send_response(503 if len(hits) == 1 else 404)  # the first attempt fails
                self.end_headers()
                return
            body = json.dumps({"issuer": issuer, "token_endpoint": h0.sandbox.token_url}).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a: Any) -> None: ...

    server = ThreadingHTTPServer(("127.0.0.1", 0), Meta)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        issuer = f"http://127.0.0.1:{server.server_address[1]}"
        client = OAuthClient(name="disc", provider="generic", client_id="sandbox-client",
                             client_secret="sandbox-secret", provider_options={
                                 "issuer": issuer,
                                 # the token endpoint is on another port: another origin, allowed by name
                                 "discovery_allowed_hosts": [f"127.0.0.1:{h0.sandbox.port}"]})
        h = host_factory(clients={"disc": client}, tmp=h0.tmp / "disc")
        grant = h.sandbox.mint()
        with pytest.raises(ConfigError, match="discovery"):
            await h.rt.register("t1:disc:u", client="disc", refresh_token=grant["refresh_token"])
        hits.clear()
        hits.append("warm")  # from now on the metadata is served
        await h.rt.register("t1:disc:u", client="disc", refresh_token=grant["refresh_token"])
        assert await h.rt.run_due() == 1
        assert (await h.rt.status("t1:disc:u"))["status"] == "active"
        n = len(hits)
        await h.rt.refresh_now("t1:disc:u")
        assert len(hits) == n  # discovered once per client, then cached
    finally:
        server.shutdown()


async def test_the_scheduler_holds_at_most_concurrency_accounts(host_factory: Callable[..., Host]) -> None:
    """Memory is bounded by the concurrency, not by the number of due accounts: due alarms are read from
    the index in batches no larger than the free slots."""
    h = host_factory(concurrency=5)
    await h.add(60)
    limits: list[int] = []
    busy: list[int] = []
    real = h.store.lease_due  # the dispatch: one UPDATE … RETURNING per batch

    def spy(now: float, owner: str, until: float, limit: int = 100, **kw: Any) -> list[Any]:
        limits.append(limit)
        busy.append(len(h.rt._busy))
        return real(now, owner, until, limit, **kw)

    h.store.lease_due = spy  # type: ignore[method-assign]
    assert await h.rt.run_due() == 60
    assert max(limits) <= 5 and max(busy) <= 5


async def test_a_dead_cli_process_lease_does_not_block_refresh_now(host: Host) -> None:
    import socket

    (key,) = await host.add(1)
    now = host.clock.now()
    host.store.try_lease(key, f"{socket.gethostname()}:999999999:dead", now + 1000, now=now)
    host.rt.busy_timeout = 0.2
    assert (await host.rt.refresh_now(key)).kind == "refreshed"


async def test_startup_spread_scales_with_the_herd(host_factory: Callable[..., Host]) -> None:
    h = host_factory(concurrency=2, startup_spread=30.0)
    keys = await h.add(40)
    await h.rt.run_due()
    h.clock.advance(2 * HOUR)
    now = h.clock.now()
    h.rt._startup()  # 40 overdue, 2 slots: spread over 40 / (10 * 2) = 2 s
    alarms = [h.store.get_alarm(k) for k in keys]
    assert all(now <= a < now + 2.0 for a in alarms)  # type: ignore[operator]
    assert max(alarms) - min(alarms) > 1.0  # type: ignore[operator]


async def test_refreshes_interrupted_by_a_crash_are_reported_at_startup(
    host: Host, caplog: pytest.LogCaptureFixture
) -> None:
    keys = await host.add(3)
    await host.rt.run_due()
    state = host.store.load_state(keys[1])
    assert state is not None
    state.in_flight_since = host.clock.now()  # the host died during this account's refresh
    host.store.save_state(keys[1], state)
    assert host.store.interrupted() == [keys[1]] and host.store.count_interrupted() == 1
    host.rt._startup()
    assert host.rt.stats()["interrupted_at_startup"] == 1
    assert "1 refresh(es) were interrupted by a crash" in caplog.text and keys[1] in caplog.text
    assert (await host.rt.refresh_now(keys[1])).kind == "refreshed"
    assert host.store.interrupted() == []
