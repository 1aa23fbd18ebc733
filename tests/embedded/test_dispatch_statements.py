"""The embedded runtime's SQLite work per refresh: the dispatch leases the due rows and returns their state in one
statement, the alarm is written with the lease release in one statement, and the refresher of an account is
reused between alarms only while its client and provider are the configured ones."""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from freshtoken import OAuthClient, TokenReader
from freshtoken.embedded import AesGcmCodec, SQLiteStore
from freshtoken.embedded.sqlite_store import UNSET

from .conftest import Host, sandbox_client

HOUR = 3600.0


def trace(store: SQLiteStore) -> Counter[str]:
    """Count the statements of the store's connection by their first word (UPDATE, SELECT, ...)."""
    seen: Counter[str] = Counter()

    def cb(sql: str) -> None:
        word = sql.strip().split(None, 1)[0].upper()
        seen[word] += 1

    store._db().set_trace_callback(cb)
    return seen


async def test_a_refresh_costs_four_writes_and_no_read(host_factory: Callable[..., Host]) -> None:
    """Before: a SELECT of the due index, then per account a lease UPDATE, a client SELECT, a state SELECT, two
    state saves, an alarm UPDATE and a release UPDATE (5 UPDATE + 2 SELECT per refresh, + 1 SELECT per batch).
    Now: one dispatch UPDATE … RETURNING per batch, two state saves (the guard before sending, the answer), one
    UPDATE for the alarm and the release."""
    h = host_factory(concurrency=8)
    await h.add(8)
    seen = trace(h.store)
    dispatches: list[int] = []
    real = h.store.lease_due

    def spy(*a: Any, **k: Any) -> Any:
        rows = real(*a, **k)
        dispatches.append(len(rows))
        return rows

    h.store.lease_due = spy  # type: ignore[method-assign]
    assert await h.rt.run_due() == 8
    assert dispatches[0] == 8 and sum(dispatches) == 8  # one statement leased the whole batch
    # per refresh: the guard save, the answer's save, the alarm with the release; plus one per dispatch
    assert seen == Counter({"UPDATE": len(dispatches) + 8 * 3}), seen
    for key in [f"t1:sandbox:user-{i}" for i in range(8)]:
        st = await h.rt.status(key)
        assert st["status"] == "active" and st["alarm_at"] == st["next_refresh_at"]
        assert st["leased_by"] is None
        assert (await TokenReader(h.kv, clock=h.clock).get(key)).generation == st["generation"]


def test_lease_due_takes_each_row_once_across_processes(tmp_path: Path, codec: AesGcmCodec) -> None:
    a, b = SQLiteStore(tmp_path / "s.db", codec), SQLiteStore(tmp_path / "s.db", codec)
    from pydantic import SecretStr

    from freshtoken import AccountState

    for i in range(10):
        key = f"t:acme:u{i}"
        a.save_state(key, AccountState(key=key, client="c", refresh_token=SecretStr(f"rt{i}")))
        a.set_alarm(key, 100.0 + i)
    got_a = a.lease_due(200.0, "A", 500.0, limit=6)
    got_b = b.lease_due(200.0, "B", 500.0, limit=6)
    assert [r.key for r in got_a] == [f"t:acme:u{i}" for i in range(6)]  # oldest alarm first
    assert [r.key for r in got_b] == [f"t:acme:u{i}" for i in range(6, 10)]  # the rest; none twice
    assert all(r.client == "c" and '"refresh_token"' in r.state for r in got_a)
    assert b.lease_due(200.0, "B", 500.0) == []
    assert a.lease_of("t:acme:u0") == ("A", 500.0)
    assert b.lease_due(500.0, "B", 900.0, limit=1)[0].key == "t:acme:u0"  # expired: taken over
    # the alarm is written with the release, and only by the lease holder
    assert not a.finish("t:acme:u0", "A", 42.0)
    assert a.get_alarm("t:acme:u0") == 100.0 and a.lease_of("t:acme:u0")[0] == "B"
    assert b.finish("t:acme:u0", "B", 42.0)
    assert a.get_alarm("t:acme:u0") == 42.0 and a.lease_of("t:acme:u0") == (None, None)
    assert a.finish("t:acme:u1", "A", UNSET) and a.get_alarm("t:acme:u1") == 101.0
    assert a.finish("t:acme:u2", "A", None) is True and a.get_alarm("t:acme:u2") is None
    a.close()
    b.close()


async def test_a_crash_before_the_release_leaves_the_alarm_due(host_factory: Callable[..., Host]) -> None:
    """The alarm waits for the release: a process that dies after the KV write but before it leaves the old alarm
    (due) and its lease; the next process drops the dead lease, fires, finds the token fresh (not due), writes KV
    from the state and arms the next alarm, without calling the provider."""
    import socket

    h = host_factory()
    (key,) = await h.add(1)
    real = h.store.finish
    h.store.finish = lambda *a, **k: True  # type: ignore[method-assign]  # the process dies before the release
    assert await h.rt.run_due() == 1
    h.store.finish = real  # type: ignore[method-assign]
    st = await h.rt.status(key)
    assert st["status"] == "active" and st["generation"] == 1
    assert st["alarm_at"] == h.clock.now()  # still the old, due alarm
    dead = f"{socket.gethostname()}:999999999:dead"
    with sqlite3.connect(h.store.path) as db:
        db.execute("UPDATE accounts SET lease_owner = ? WHERE key = ?", (dead, key))
    await h.kv.delete(key)
    h.rt._startup()  # drops the dead process's lease
    refreshes = h.sandbox.app.stats.refreshes
    assert await h.rt.run_due() == 1
    assert h.sandbox.app.stats.refreshes == refreshes  # not due: no provider call
    st = await h.rt.status(key)
    assert st["alarm_at"] == st["next_refresh_at"] > h.clock.now()
    assert (await TokenReader(h.kv, clock=h.clock).get(key)).generation == 1


async def test_the_cached_refresher_follows_a_client_change(host_factory: Callable[..., Host]) -> None:
    """Refreshers are kept per key between alarms; a client replaced in the configuration is used at the next
    alarm (a cache keyed on the key alone would keep refreshing with the old client)."""
    h = host_factory()
    (key,) = await h.add(1)
    assert await h.rt.run_due() == 1
    assert key in h.rt._refreshers
    good = h.rt.clients["sandbox"]
    bad = OAuthClient(**{**good.model_dump(), "client_secret": "not-the-secret"})
    h.rt.clients["sandbox"] = bad
    h.clock.set(h.store.get_alarm(key) or 0.0)
    assert await h.rt.run_due() == 1
    st = await h.rt.status(key)
    assert st["status"] == "misconfigured" and st["last_error_kind"] == "misconfigured", st  # invalid_client
    assert h.rt._refreshers[key].client is bad
    # register / refresh_now / remove drop the cached refresher
    h.rt.clients["sandbox"] = sandbox_client(h.sandbox)
    await h.rt.refresh_now(key)
    assert key not in h.rt._refreshers
