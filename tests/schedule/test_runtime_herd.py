"""The embedded runtime plans alarms with its capacity: an onboarding herd is spread before its deadline, and the
backlog alert fires before any token lapses. Real SQLite files, virtual time; no provider call is needed for the
placement (the accounts are registered with their access tokens, like a bulk import)."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from freshtoken import ManualClock, OAuthClient, Plugins, TokenHTTP
from freshtoken.embedded import AesGcmCodec, EmbeddedRuntime, SQLiteKV, SQLiteStore, generate_key
from freshtoken.hookspecs import hookimpl
from freshtoken.providers import generic

LEAD = 600.0  # the generic provider's default lead
#: The planner before any exchange was measured: utilization 0.8, latency guess 0.5 s.
INITIAL_CAPACITY_PER_SLOT = 0.8 / 0.5
KEY = generate_key("k1")


class Recorder:
    def __init__(self) -> None:
        self.backlog: list[Any] = []
        self.expired: list[Any] = []
        self.stop: asyncio.Event | None = None

    @hookimpl
    def freshtoken_backlog_rising(self, event: Any) -> None:
        self.backlog.append(event)
        if self.stop is not None:
            self.stop.set()

    @hookimpl
    def freshtoken_token_expired(self, event: Any) -> None:
        self.expired.append(event)


def runtime(tmp: Path, clock: ManualClock, *, concurrency: int, recorder: Recorder | None = None) -> EmbeddedRuntime:
    codec = AesGcmCodec.from_spec(KEY)
    pm = Plugins(entry_points=False)
    pm.register(generic, name="generic")
    if recorder is not None:
        pm.register(recorder)
    client = OAuthClient(name="acme", provider="generic", client_id="id", client_secret="secret",
                         provider_options={"token_url": "https://auth.example.com/token"})

    def unavailable(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503)

    return EmbeddedRuntime(
        store=SQLiteStore(tmp / "state.db", codec), kv=SQLiteKV(tmp / "kv.db", clock=clock), clients={"acme": client},
        plugins=pm, clock=clock, http=TokenHTTP(transport=httpx.MockTransport(unavailable)),
        concurrency=concurrency, startup_spread=0.0, rng=random.Random(1),
    )


async def onboard(rt: EmbeddedRuntime, n: int, expires_in: float) -> None:
    for i in range(n):
        await rt.register(f"t1:acme:user-{i}", client="acme", refresh_token=f"rt-{i}", access_token=f"at-{i}",
                          expires_in=expires_in)


async def test_an_onboarding_herd_is_spread_under_capacity_before_its_deadline(tmp_path: Path) -> None:
    clock = ManualClock()
    rt = runtime(tmp_path, clock, concurrency=4)
    now = clock.now()
    await onboard(rt, 2_000, 3600)
    due_by = now + 3600 - LEAD
    alarms = [rt.store.get_alarm(f"t1:acme:user-{i}") for i in range(2_000)]
    assert all(a is not None for a in alarms)
    per_second = Counter(int(a // 1) for a in alarms if a is not None)
    capacity = 4 * INITIAL_CAPACITY_PER_SLOT  # 6.4 refreshes per second
    assert max(per_second.values()) <= capacity, f"{max(per_second.values())} alarms in one second"
    assert max(a for a in alarms if a is not None) <= due_by  # never after the deadline
    assert min(a for a in alarms if a is not None) >= now
    assert rt.stats()["planned_alarms"] == 2_000
    await rt.aclose()


async def test_a_restarted_runtime_counts_the_stored_alarms_before_placing_more(tmp_path: Path) -> None:
    clock = ManualClock()
    rt = runtime(tmp_path, clock, concurrency=4)
    await onboard(rt, 300, 3600)
    await rt.aclose()
    rt2 = runtime(tmp_path, clock, concurrency=4)  # same files: a restart, or another process
    for i in range(300, 600):
        await rt2.register(f"t1:acme:user-{i}", client="acme", refresh_token=f"rt-{i}", access_token=f"at-{i}",
                           expires_in=3600)
    alarms = [rt2.store.get_alarm(f"t1:acme:user-{i}") for i in range(600)]
    per_second = Counter(int(a // 1) for a in alarms if a is not None)
    assert max(per_second.values()) <= 4 * INITIAL_CAPACITY_PER_SLOT
    await rt2.aclose()


async def test_the_backlog_alert_fires_before_any_token_lapses(tmp_path: Path) -> None:
    """1,000 accounts whose tokens all expire in 700 s (short tokens: due half-way, at 350 s). One slot at the
    initial 0.5 s latency guess plans one refresh a second: 350 fit before the deadline, the other 650 are due at
    once and drain in ~650 × 0.5 / 1 = 325 s, over half the 600 s lead. The alert comes at once, while every token
    still has more than ten minutes to live."""
    clock = ManualClock()
    rec = Recorder()
    rt = runtime(tmp_path, clock, concurrency=1, recorder=rec)
    start = clock.now()
    await onboard(rt, 1_000, 700)
    stop = asyncio.Event()
    rec.stop = stop
    task = asyncio.create_task(rt.run(stop))
    await asyncio.wait_for(stop.wait(), 60)
    await task
    assert len(rec.backlog) == 1
    event = rec.backlog[0]
    assert event.at < start + 700 and not rec.expired  # before anything lapsed
    assert event.ratio >= 0.5 and event.due >= 600 and event.concurrency == 1
    stats = rt.stats()
    assert stats["backlog_alerts"] == 1 and stats["backlog_drain_seconds"] == event.drain_seconds
    await rt.aclose()
