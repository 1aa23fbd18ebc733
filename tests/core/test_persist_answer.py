"""The refresher keeps a provider's answer when its save fails: in-memory retries with backoff on the virtual
clock, one alert, nothing else touching the account until the save lands, the optional rescue, a conflict that
stops the retries, a cancellation. Against the real loopback sandbox; the storage is an in-memory one whose
save can be made to fail (the embedded runtime's real SQLite failures are in tests/faults/test_failed_save.py).
"""

from __future__ import annotations

import asyncio
import logging
import random
import sqlite3
from typing import Any

import pytest

from freshtoken import ManualClock, MemoryKV, OAuthClient, Plugins, Refresher, TokenHTTP, hookimpl
from freshtoken.errors import StateConflict
from freshtoken.providers.generic import GenericProvider
from freshtoken.sandbox.server import SandboxServer
from freshtoken.state import AccountState
from freshtoken.storage import PlaintextCodec, RescueStorage

KEY = "acme:generic:user-1"


class FailingStorage:
    """An in-memory AccountStorage (state kept serialised) whose saves of a finished refresh can fail."""

    def __init__(self) -> None:
        self.text: str | None = None
        self.alarm: float | None = None
        self.fail_answers = 0  # how many saves of an answer fail
        self.conflict = False  # saves raise StateConflict (another owner moved the account on)
        self.log: list[str] = []

    async def load(self) -> AccountState | None:
        return None if self.text is None else AccountState.load(self.text, PlaintextCodec())

    async def save(self, state: AccountState) -> None:
        answer = state.in_flight_since is None and state.last_success_at is not None
        if answer and self.conflict:
            self.log.append("conflict")
            raise StateConflict(f"{state.key}: another process refreshed it")
        if answer and self.fail_answers:
            self.fail_answers -= 1
            self.log.append("save failed")
            raise sqlite3.OperationalError("database or disk is full")
        self.log.append(f"save:{state.generation}")
        self.text = state.dump(PlaintextCodec())

    async def delete(self) -> None:
        self.text, self.alarm = None, None

    async def get_alarm(self) -> float | None:
        return self.alarm

    async def set_alarm(self, at: float) -> None:
        self.log.append("alarm")
        self.alarm = at

    async def delete_alarm(self) -> None:
        self.alarm = None


class RescuingStorage(FailingStorage):
    """The same, with the optional :class:`RescueStorage` methods."""

    def __init__(self) -> None:
        super().__init__()
        self.rescued: dict[int, str] = {}

    async def rescue(self, state: AccountState) -> None:
        self.log.append(f"rescue:{state.generation}")
        self.rescued[state.generation] = state.dump(PlaintextCodec())

    async def drop_rescue(self, state: AccountState) -> None:
        self.log.append(f"drop:{state.generation}")
        self.rescued.pop(state.generation, None)


class Events:
    def __init__(self) -> None:
        self.not_durable: list[Any] = []
        self.succeeded: list[Any] = []

    @hookimpl
    def freshtoken_rotated_token_not_durable(self, event: Any) -> None:
        self.not_durable.append(event)

    @hookimpl
    def freshtoken_refresh_succeeded(self, event: Any) -> None:
        self.succeeded.append(event)


class LoggingKV(MemoryKV):
    def __init__(self, clock: ManualClock, log: list[str]) -> None:
        super().__init__(clock)
        self._log = log

    async def put(self, key: str, value: str, ttl: float | None = None) -> None:
        self._log.append("kv")
        await super().put(key, value, ttl)


class Rig:
    def __init__(self, sandbox: SandboxServer, storage: FailingStorage) -> None:
        self.sandbox = sandbox
        self.clock = ManualClock()
        self.storage = storage
        self.kv = LoggingKV(self.clock, storage.log)
        self.events = Events()
        plugins = Plugins(entry_points=False)
        plugins.register(self.events)
        self.http = TokenHTTP()
        self.refresher = Refresher(
            KEY, storage=storage, kv=self.kv, provider=GenericProvider(token_url=sandbox.token_url, timeout=5.0),
            client=OAuthClient(name="sandbox", provider="generic", client_id="sandbox-client",
                               client_secret="sandbox-secret"),
            http=self.http, clock=self.clock, plugins=plugins, rng=random.Random(3),
        )

    async def registered(self) -> str:
        grant = self.sandbox.mint()
        await self.refresher.register(refresh_token=grant["refresh_token"])
        self.storage.log.clear()
        return str(grant["refresh_token"])

    async def alarm_with_time_passing(self, step: float = 1.0, *, until: Any = None) -> asyncio.Task[Any]:
        """Run the alarm as a task and let virtual time pass until it ends (or ``until()`` holds)."""
        task = asyncio.create_task(self.refresher.alarm())
        await self.pass_time(lambda: task.done() or (until is not None and until()), step)
        return task

    async def pass_time(self, until: Any, step: float = 1.0) -> None:
        """Advance virtual time by ``step`` until ``until()`` holds (a hang guard of 20 s real time)."""
        for _ in range(10_000):
            await asyncio.sleep(0.002)
            if until():
                return
            self.clock.advance(step)
        raise AssertionError("condition not reached")


@pytest.fixture
async def rigs(sandbox: SandboxServer) -> Any:
    made: list[Rig] = []

    def make(storage: FailingStorage) -> Rig:
        made.append(Rig(sandbox, storage))
        return made[-1]

    yield make
    for r in made:
        await r.http.aclose()


def family_current(sandbox: SandboxServer, first_rt: str) -> str:
    return sandbox.app.families[sandbox.app._by_token[first_rt]].current


async def test_a_failed_save_is_retried_in_memory_before_anything_else_touches_the_account(
    rigs: Any, sandbox: SandboxServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    r = rigs(FailingStorage())
    first_rt = await r.registered()
    r.storage.fail_answers = 4
    task = await r.alarm_with_time_passing()
    out = await task
    assert out.kind == "refreshed" and out.generation == 1
    # the pre-send save, four failed saves of the answer, the save that lands; only then KV and the alarm
    assert r.storage.log == ["save:0", *["save failed"] * 4, "save:1", "kv", "alarm"]
    [event] = r.events.not_durable
    assert event.key == KEY and event.rotated and not event.rescued and event.generation == 1
    assert event.error == "OperationalError: database or disk is full"
    state = await r.storage.load()
    assert state is not None and state.refresh_token is not None
    assert state.refresh_token.get_secret_value() == family_current(sandbox, first_rt)
    assert len(r.events.succeeded) == 1 and sandbox.app.stats.reuse_detected == 0
    assert "rotated token not yet durable" in caplog.text and "held in memory ONLY" in caplog.text
    assert first_rt not in caplog.text and family_current(sandbox, first_rt) not in caplog.text


async def test_the_retries_back_off_on_the_clock(rigs: Any) -> None:
    r = rigs(FailingStorage())
    await r.registered()
    r.storage.fail_answers = 10**6
    start = r.clock.now()
    task = await r.alarm_with_time_passing(step=5.0, until=lambda: r.storage.log.count("save failed") >= 12)
    waited = r.clock.now() - start
    assert not task.done()  # still retrying: the answer is held, nothing else happened
    assert "kv" not in r.storage.log and "alarm" not in r.storage.log
    assert len(r.events.not_durable) == 1  # one alert per failed save, not one per attempt
    # 12 attempts: backoff doubling from 0.5 s, capped at 30 s — minutes, not a busy loop
    assert 60.0 < waited < 400.0, waited
    r.storage.fail_answers = 0
    await r.pass_time(task.done, step=5.0)
    assert (await task).kind == "refreshed"


async def test_the_rescue_is_written_on_the_first_failure_and_dropped_once_saved(rigs: Any) -> None:
    storage = RescuingStorage()
    assert isinstance(storage, RescueStorage)
    r = rigs(storage)
    await r.registered()
    storage.fail_answers = 2
    out = await (await r.alarm_with_time_passing())
    assert out.kind == "refreshed"
    assert storage.log == ["save:0", "save failed", "rescue:1", "save failed", "save:1", "drop:1", "kv", "alarm"]
    assert storage.rescued == {} and r.events.not_durable[0].rescued


async def test_a_conflict_stops_the_retries_and_the_newer_state_wins(
    rigs: Any, sandbox: SandboxServer, caplog: pytest.LogCaptureFixture
) -> None:
    storage = RescuingStorage()
    r = rigs(storage)
    await r.registered()
    storage.fail_answers = 10**6
    task = await r.alarm_with_time_passing(until=lambda: storage.log.count("save failed") >= 2)
    # meanwhile another owner moved the account on (e.g. it imported this very answer)
    newer = await storage.load()
    assert newer is not None
    newer.generation = 7
    storage.text = newer.dump(PlaintextCodec())
    storage.fail_answers, storage.conflict = 0, True
    alarm_before = storage.alarm
    await r.pass_time(task.done)
    out = await task
    assert out.kind == "superseded"
    assert storage.log[-2:] == ["conflict", "drop:1"]  # no retry after the conflict, no KV, no alarm change
    assert "kv" not in storage.log and storage.alarm == alarm_before
    assert "The newer state wins" in caplog.text


async def test_a_cancellation_during_the_retries_keeps_the_rescued_copy(
    rigs: Any, caplog: pytest.LogCaptureFixture
) -> None:
    storage = RescuingStorage()
    r = rigs(storage)
    await r.registered()
    storage.fail_answers = 10**6
    task = await r.alarm_with_time_passing(until=lambda: storage.log.count("save failed") >= 3)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert list(storage.rescued) == [1] and "drop:1" not in storage.log
    assert "waits in the recovery file for the next start" in caplog.text


async def test_without_a_rescue_a_cancellation_says_the_answer_is_lost(
    rigs: Any, caplog: pytest.LogCaptureFixture
) -> None:
    r = rigs(FailingStorage())
    await r.registered()
    r.storage.fail_answers = 10**6
    task = await r.alarm_with_time_passing(until=lambda: r.storage.log.count("save failed") >= 2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert "it is LOST" in caplog.text
