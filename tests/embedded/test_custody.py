"""Single flight that a slow provider or a lost lease cannot break (in process, virtual time where possible).

* compare-and-swap on (generation, lease owner): two stores (two processes) on one SQLite file;
* a process that lost its lease before sending does not send;
* the lease is renewed while an exchange is in flight (ManualClock), and is never shorter than three times
  the provider's timeout;
* a late success after a takeover is not saved over the newer state;
* one deadline for the whole token exchange (a slow-drip endpoint);
* the drain limit of ``run_until_signal``.

The real-process versions (two ``freshtoken serve``, SIGSTOP) are in tests/faults/test_custody_serve.py.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from freshtoken import AccountState, MemoryStorage, OAuthClient, Status, TokenHTTP
from freshtoken.embedded import AesGcmCodec, EmbeddedRuntime, SQLiteStore, run_until_signal
from freshtoken.errors import ConfigError, RetryableError, StateConflict
from freshtoken.host.config import settings_from_dict
from tests.fixtures_servers.slow_endpoint import DripEndpoint

from .conftest import Host, until

KEY = "t1:generic:u1"


def state(gen: int, rt: str = "rt-planted-0001") -> AccountState:
    return AccountState(key=KEY, client="sandbox", status=Status.ACTIVE, refresh_token=SecretStr(rt),
                        generation=gen)


@pytest.fixture
def endpoint() -> Iterator[DripEndpoint]:
    with DripEndpoint(interval=0.05).running() as ep:
        yield ep


async def register_stalling(host: Host, endpoint: DripEndpoint, refresh_token: str) -> asyncio.Event:
    """Register KEY on ``host`` with ``refresh_token``; the event is set when the endpoint stalls an exchange."""
    await host.rt.register(KEY, client="sandbox", refresh_token=refresh_token)
    stalled = asyncio.Event()
    loop = asyncio.get_running_loop()
    endpoint.on_stall = lambda e: loop.call_soon_threadsafe(stalled.set)
    return stalled


def drip_client(ep: DripEndpoint, timeout: float) -> OAuthClient:
    return OAuthClient(
        name="sandbox", provider="generic", client_id="sandbox-client", client_secret="sandbox-secret",
        provider_options={"token_url": ep.token_url, "timeout": timeout,
                          "retry": {"min_delay": 600, "base": 600, "cap": 600}},
    )


# -- compare-and-swap -------------------------------------------------------------------------------------------
async def test_cas_on_generation_and_lease_owner_between_two_stores(tmp_path: Path, codec: AesGcmCodec) -> None:
    s1 = SQLiteStore(tmp_path / "s.db", codec)
    s2 = SQLiteStore(tmp_path / "s.db", codec)
    now = 1_800_000_000.0
    a = s1.storage(KEY, owner="o1", lease_until=lambda: now + 30)
    b = s2.storage(KEY, owner="o2", lease_until=lambda: now + 30)
    # a brand-new account: both saw no row; the first insert wins and holds the lease, the second is refused
    assert await a.load() is None and await b.load() is None
    await a.save(state(0))
    assert s1.lease_of(KEY) == ("o1", now + 30)
    with pytest.raises(StateConflict):
        await b.save(state(0, "rt-planted-b"))
    # o2 read the row but does not hold the lease: refused, the row unchanged
    assert (await b.load()) is not None
    with pytest.raises(StateConflict):
        await b.save(state(1, "rt-planted-b"))
    # a second handle of the same owner that read generation 0 before the first moved it on: refused
    stale = s2.storage(KEY, owner="o1")
    await stale.load()
    await a.save(state(1, "rt-planted-0002"))
    with pytest.raises(StateConflict):
        await stale.save(state(1, "rt-planted-stale"))
    # a takeover after the lease ran out: the old owner can no longer write or delete
    assert s2.try_lease(KEY, "o2", now + 100, now=now + 31)
    with pytest.raises(StateConflict):
        await a.save(state(2, "rt-planted-late"))
    with pytest.raises(StateConflict):
        await a.delete()
    await b.load()
    await b.save(state(2, "rt-planted-0003"))
    loaded = s1.load_state(KEY)
    assert loaded is not None and loaded.generation == 2 and loaded.refresh_token is not None
    assert loaded.refresh_token.get_secret_value() == "rt-planted-0003"
    assert s1.renew_lease(KEY, "o1", now + 200) is False and s2.renew_lease(KEY, "o2", now + 200) is True
    assert s1.lease_of(KEY) == ("o2", now + 200)
    s1.close()
    s2.close()


async def test_memory_storage_views_compare_and_swap_on_generation() -> None:
    one = MemoryStorage()
    await one.load()
    await one.save(state(0))
    other = one.view()  # another host's handle on the same account
    assert (await other.load()) is not None
    loaded = await one.load()
    assert loaded is not None
    await one.save(state(1))
    with pytest.raises(StateConflict):
        await other.save(state(1, "rt-planted-other"))
    again = await one.load()
    assert again is not None and again.refresh_token is not None
    assert again.refresh_token.get_secret_value() == "rt-planted-0001"
    assert other.raw == one.raw


# -- a process that lost its lease does not send ---------------------------------------------------------------
class GatedStore(SQLiteStore):
    """The real store; the refresher's first ``load`` of an account waits for ``gate`` (a process paused after
    taking the lease, before it saves and sends)."""

    gate: asyncio.Event
    reached: asyncio.Event

    def storage(self, key: str, **kw: Any) -> Any:
        inner = super().storage(key, **kw)
        outer = self

        class Gated:
            def __getattr__(self, name: str) -> Any:
                return getattr(inner, name)

            async def load(self) -> Any:
                outer.reached.set()
                await outer.gate.wait()
                return await inner.load()

        return Gated()


async def test_a_process_that_lost_its_lease_does_not_send(host_factory: Callable[..., Host], codec: AesGcmCodec,
                                                           tmp_path: Path) -> None:
    h = host_factory(owner="host-a")
    (key,) = await h.add(1)
    gated = GatedStore(tmp_path / "state.db", codec)
    gated.gate, gated.reached = asyncio.Event(), asyncio.Event()
    h.rt.store = gated
    before = h.sandbox.app.stats.requests
    task = asyncio.create_task(h.rt.run_due())
    await asyncio.wait_for(gated.reached.wait(), 10)
    # meanwhile host-a's lease was taken over (it ran out while host-a was paused; another host took it)
    other = SQLiteStore(tmp_path / "state.db", codec)
    assert other.release_owner("host-a") == 1 and other.try_lease(key, "host-b", h.clock.now() + 60)
    gated.gate.set()
    assert await asyncio.wait_for(task, 10) == 1
    assert h.sandbox.app.stats.requests == before  # nothing was sent
    assert h.rt.stats()["outcomes"] == {"superseded": 1}
    assert other.lease_of(key)[0] == "host-b"  # and host-a did not release host-b's lease
    stored = other.load_state(key)
    assert stored is not None and stored.in_flight_since is None and stored.generation == 0
    other.close()
    gated.close()


# -- lease renewal (virtual time) ---------------------------------------------------------------------------------
async def test_the_lease_is_renewed_while_an_exchange_is_in_flight(
    host_factory: Callable[..., Host], endpoint: DripEndpoint, codec: AesGcmCodec, tmp_path: Path
) -> None:
    # lease_ttl 5 s is below 3 x the 8 s provider timeout: the lease is 24 s, renewed every 8 s
    h = host_factory(owner="host-a", lease_ttl=5.0, clients={"sandbox": drip_client(endpoint, timeout=8.0)})
    t1 = endpoint.mint("hold")
    stalled = await register_stalling(h, endpoint, t1)
    task = asyncio.create_task(h.rt.refresh_now(KEY))
    await asyncio.wait_for(stalled.wait(), 10)
    other = SQLiteStore(tmp_path / "state.db", codec)
    start = h.clock.now()
    owner, until_ = other.lease_of(KEY)
    assert owner == "host-a" and until_ is not None and until_ - start >= 24.0
    for _ in range(10):  # 90 virtual seconds: several times the lease
        h.clock.advance(9.0)
        await until(lambda: (other.lease_of(KEY)[1] or 0) >= h.clock.now() + 24.0 - 9.0, timeout=5)
        assert not other.try_lease(KEY, "host-b", h.clock.now() + 60, now=h.clock.now())
    endpoint.release(t1)
    outcome = await asyncio.wait_for(task, 10)
    assert outcome.kind == "refreshed" and outcome.generation == 1
    assert other.lease_of(KEY) == (None, None)  # released once done
    other.close()


async def test_a_late_success_after_a_takeover_is_not_saved(
    host_factory: Callable[..., Host], endpoint: DripEndpoint, codec: AesGcmCodec, tmp_path: Path
) -> None:
    a = host_factory(owner="host-a", clients={"sandbox": drip_client(endpoint, timeout=8.0)})
    b = host_factory(owner="host-b", clock=a.clock, clients={"sandbox": drip_client(endpoint, timeout=8.0)})
    t1 = endpoint.mint("hold")
    stalled = await register_stalling(a, endpoint, t1)
    task = asyncio.create_task(a.rt.refresh_now(KEY))
    await asyncio.wait_for(stalled.wait(), 10)
    # host-a is "frozen": its lease is taken over (as after a freeze longer than the lease)
    assert b.store.release_owner("host-a") == 1
    outcome_b = await b.rt.refresh_now(KEY)  # host-b sends t1 too: the endpoint rotates it (no reuse check)
    assert outcome_b.kind == "refreshed" and outcome_b.generation == 1
    newer = b.store.load_state(KEY)
    assert newer is not None and newer.refresh_token is not None
    endpoint.release(t1)  # host-a's request now gets a success with yet another refresh token
    outcome_a = await asyncio.wait_for(task, 10)
    assert outcome_a.kind == "superseded"
    stored = b.store.load_state(KEY)
    assert stored is not None and stored.refresh_token is not None and stored.generation == 1
    assert stored.refresh_token.get_secret_value() == newer.refresh_token.get_secret_value()
    assert stored.in_flight_since is None and stored.status is Status.ACTIVE


def test_lease_and_drain_settings_are_validated() -> None:
    with pytest.raises(ConfigError, match=r"runtime\.lease_ttl"):
        settings_from_dict({"runtime": {"lease_ttl": 0}})
    with pytest.raises(ConfigError, match=r"runtime\.drain_timeout"):
        settings_from_dict({"runtime": {"drain_timeout": -1}})
    s = settings_from_dict({"runtime": {"lease_ttl": 12, "drain_timeout": 0}})
    assert s.runtime.lease_ttl == 12 and s.runtime.drain_timeout == 0
    with pytest.raises(ConfigError, match="lease_ttl"):
        EmbeddedRuntime(store=None, kv=None, clients={}, lease_ttl=0)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="drain_timeout"):
        EmbeddedRuntime(store=None, kv=None, clients={}, drain_timeout=-1)  # type: ignore[arg-type]


# -- the deadline of one exchange -----------------------------------------------------------------------------------
async def test_one_deadline_bounds_the_whole_exchange(endpoint: DripEndpoint) -> None:
    rt = endpoint.mint("drip")
    http = TokenHTTP()
    url = endpoint.token_url + "?code=PLANTED-query-secret"
    body = f"grant_type=refresh_token&refresh_token={rt}".encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    try:
        with pytest.raises(RetryableError) as info:
            # httpx's own timeout (0.5 s per read) never fires: a byte arrives every 0.05 s
            await asyncio.wait_for(http.post(url, headers, body, timeout=0.5), 20)
    finally:
        await http.aclose()
    text = str(info.value)
    assert info.value.retryable and "deadline" in text
    assert "PLANTED" not in text and rt not in text and "127.0.0.1" not in text
    await until(lambda: [e.ended for e in endpoint.snapshot()] == ["client_closed"], timeout=10)


# -- the drain limit --------------------------------------------------------------------------------------------------
async def test_run_until_signal_cancels_after_the_drain_limit(
    host_factory: Callable[..., Host], endpoint: DripEndpoint
) -> None:
    h = host_factory(owner="host-a", drain_timeout=0.5, clients={"sandbox": drip_client(endpoint, timeout=60.0)})
    stalled = await register_stalling(h, endpoint, endpoint.mint("drip"))
    task = asyncio.create_task(run_until_signal(h.rt, signals=(signal.SIGUSR1,)))
    try:
        await asyncio.wait_for(stalled.wait(), 10)
        os.kill(os.getpid(), signal.SIGUSR1)
        await asyncio.wait_for(task, 20)  # liveness: the provider timeout (60 s) would be far later
    finally:
        h.rt.cancel_in_flight()  # (only matters when the test fails: teardown would wait for the exchange)
    assert h.rt.stats()["in_flight"] == 0 and h.rt._counts["cancelled"] == 1
    assert h.store.lease_of(KEY) == (None, None)
    await until(lambda: [e.ended for e in endpoint.snapshot()] == ["client_closed"], timeout=10)


async def test_aclose_cancels_after_the_drain_limit(
    host_factory: Callable[..., Host], endpoint: DripEndpoint
) -> None:
    """A direct API user's ``aclose()`` is bounded as a signalled ``serve`` is (failed first: it waited for the
    exchange until the provider timeout, 60 s). The grant is kept, the lease released."""
    h = host_factory(owner="host-a", drain_timeout=0.5, clients={"sandbox": drip_client(endpoint, timeout=60.0)})
    refresh_token = endpoint.mint("drip")
    stalled = await register_stalling(h, endpoint, refresh_token)
    stop = asyncio.Event()
    task = asyncio.create_task(h.rt.run(stop))
    try:
        await asyncio.wait_for(stalled.wait(), 10)
        await asyncio.wait_for(h.rt.aclose(), 20)  # liveness: the provider timeout (60 s) would be far later
        await asyncio.wait_for(task, 5)
    finally:
        h.rt.cancel_in_flight()  # (only matters when the test fails: teardown would wait for the exchange)
    assert h.rt._counts["cancelled"] == 1
    assert h.store.lease_of(KEY) == (None, None)
    state = h.store.load_state(KEY)
    assert state is not None and state.refresh_token is not None
    assert state.refresh_token.get_secret_value() == refresh_token
    await until(lambda: [e.ended for e in endpoint.snapshot()] == ["client_closed"], timeout=10)
