"""Custody on the seed design's own runtime: real workerd (miniflare) with Durable Object storage and KV
persisted to a directory, stopped, killed and restarted; and a slow-drip token endpoint.

The token endpoint is :class:`SlowTokenEndpoint` in front of the rotating sandbox authorization server (reuse
detection on): it counts every refresh token it receives and every one the authorization server processes.
All waits are real time, bounded for liveness only. Figures are printed with ``-s``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from freshtoken.sandbox.server import SandboxAuthServer
from tests.fixtures_servers.slow_endpoint import SlowTokenEndpoint

from .conftest import CF, running_cf
from .harness import wait_for

pytestmark = pytest.mark.workerd

DEADLINE = 3.0  # the provider's timeout: one deadline per token exchange


@pytest.fixture
async def endpoint() -> AsyncIterator[SlowTokenEndpoint]:
    async with SlowTokenEndpoint(SandboxAuthServer(lifetime=3600)) as server:
        yield server


async def state_of(cf: CF) -> dict[str, Any]:
    return dict((await cf.storage())["state"] or {})


async def generation(cf: CF, n: int, timeout: float = 30.0) -> dict[str, Any]:
    """Wait until the state in real DO storage and the KV record both reach generation ``n``."""

    async def probe() -> dict[str, Any] | None:
        stored = await cf.storage()
        record = await cf.kv_record()
        state = stored["state"]
        if state and state["generation"] >= n and record and record["generation"] >= n:
            return dict(stored)
        return None

    return dict(await wait_for(probe, timeout=timeout, what=f"generation {n} in DO storage and KV"))


async def test_restart_between_alarms_keeps_state_and_alarm_and_refreshes_exactly_once(
    endpoint: SlowTokenEndpoint, tmp_path: Path
) -> None:
    endpoint.app.lifetime = 20  # the next alarm half-way: 10 s after the first refresh
    async with running_cf(endpoint, {}, persist_dir=tmp_path / "miniflare") as cf:
        await cf.register()
        await generation(cf, 1)
        first = await cf.between_alarms()
        state1, alarm1 = first["state"], first["alarm"]
        r0, r1 = state1["previous_refresh_token"], state1["refresh_token"]
        assert alarm1 == round(state1["next_refresh_at"] * 1000) and alarm1 > time.time() * 1000
        endpoint.app.lifetime = 3600  # from the next refresh on: no further alarm during the test

        # 1. graceful stop (miniflare dispose) and restart, before the alarm is due: nothing lost, nothing run
        await cf.workerd.stop(keep_log=True)
        t0 = time.monotonic()
        await cf.workerd.start()
        restart_s = time.monotonic() - t0
        again = await cf.storage()
        assert again["state"] == state1 and again["alarm"] == alarm1
        assert (await cf.kv_record())["generation"] == 1  # type: ignore[index]
        assert again["instance"] != first["instance"]  # a new object instance: state came from disk

        # 2. SIGKILL (node + workerd), and the alarm falls due while nothing runs
        await cf.workerd.kill()
        requests_while_down = len(endpoint.exchanges)
        await asyncio.sleep(max(0.0, alarm1 / 1000 - time.time()) + 1.0)
        assert len(endpoint.exchanges) == requests_while_down  # nobody refreshed while workerd was down
        await cf.workerd.start()
        ready = time.time()
        await generation(cf, 2)
        await asyncio.sleep(1.0)  # anything extra would show up now
        second = await cf.between_alarms()

        state2 = second["state"]
        assert state2["generation"] == 2 and state2["refresh_count"] == 2 and state2["status"] == "active"
        assert state2["previous_refresh_token"] == r1 and state2["refresh_token"] not in (r0, r1)
        assert second["alarm"] == round(state2["next_refresh_at"] * 1000)
        # the overdue alarm was delivered once after the restart, a first delivery, and it refreshed once
        assert [a["retryCount"] for a in second["alarms"]] == [0]
        assert second["alarms"][0]["at"] >= alarm1
        assert endpoint.processed == {r0: 1, r1: 1} and endpoint.replayed() == []
        assert endpoint.app.stats.reuse_detected == 0 and endpoint.app.stats.overlaps == 0
        assert (await cf.kv_record())["generation"] == 2  # type: ignore[index]
        after = second["alarms"][0]["at"] / 1000 - ready
        print(f"\n[cf restart between alarms] workerd stop+start {restart_s:.2f} s; the alarm that fell due while "
              f"workerd was down ran {after:+.2f} s after workerd was ready again")


@pytest.mark.parametrize("how", ["kill", "stop"])
async def test_restart_during_an_alarm_with_the_request_in_flight_refreshes_exactly_once(
    endpoint: SlowTokenEndpoint, tmp_path: Path, how: str
) -> None:
    endpoint.app.lifetime = 8  # the next alarm 4 s after the first refresh
    async with running_cf(endpoint, {}, persist_dir=tmp_path / "miniflare") as cf:
        await cf.register()
        first = await generation(cf, 1)
        r0, r1 = first["state"]["previous_refresh_token"], first["state"]["refresh_token"]
        # the next token request (the alarm's, with r1) is held by a slow front before the server sees it
        endpoint.modes.append("hold")
        endpoint.app.lifetime = 3600
        await wait_for(is_set(endpoint.stalled), timeout=30, what="the alarm's request held")
        during = await cf.storage()
        assert during["state"]["in_flight_since"] is not None  # the attempt is durable before the request
        assert during["state"]["refresh_token"] == r1
        assert during["alarms"][-1].get("end") is None  # the alarm is still running

        if how == "kill":
            await cf.workerd.kill()
        else:
            await cf.workerd.stop(keep_log=True)
        await wait_for(is_set(endpoint.client_gone), timeout=30, what="the client to go away")
        held = endpoint.of("hold")
        assert len(held) == 1 and held[0].ended == "dropped" and not held[0].committed
        await cf.workerd.start()
        ready = time.time()
        await generation(cf, 2)
        await asyncio.sleep(1.0)
        second = await cf.between_alarms()

        state2 = second["state"]
        assert state2["generation"] == 2 and state2["refresh_count"] == 2 and state2["in_flight_since"] is None
        assert state2["previous_refresh_token"] == r1
        assert second["alarm"] == round(state2["next_refresh_at"] * 1000)
        # the interrupted alarm survived the restart and ran again, once
        assert len(second["alarms"]) == 1
        # r1 reached the endpoint twice (the first copy was dropped uncommitted) but the server processed it once
        assert endpoint.received[r1] == 2
        assert endpoint.processed == {r0: 1, r1: 1} and endpoint.replayed() == []
        assert endpoint.app.stats.reuse_detected == 0 and endpoint.app.stats.overlaps == 0
        after = second["alarms"][0]["at"] / 1000 - ready
        print(f"\n[cf restart during alarm, {how}] the interrupted alarm ran again {after:+.2f} s after workerd was "
              f"ready (alarmInfo retryCount {second['alarms'][0]['retryCount']})")


@pytest.mark.parametrize("grace", [0.0, 60.0])
async def test_killed_after_the_provider_rotated_the_answer_is_lost_the_remaining_window(
    endpoint: SlowTokenEndpoint, tmp_path: Path, grace: float
) -> None:
    """The one window no client can close alone: the provider rotated the refresh token, and workerd died
    before the answer reached durable storage. The restarted alarm can only send the token it has. Measured:
    a provider with reuse detection and no grace window revokes the grant (re-authorisation required); with a
    rotation grace window (django-oauth-toolkit's, Xero's) the replay returns the current tokens."""
    endpoint.app.lifetime, endpoint.app.grace = 8, grace
    async with running_cf(endpoint, {}, persist_dir=tmp_path / "miniflare") as cf:
        await cf.register()
        first = await generation(cf, 1)
        r1 = first["state"]["refresh_token"]
        endpoint.modes.append("lost")
        endpoint.app.lifetime = 3600
        await wait_for(is_set(endpoint.stalled), timeout=30, what="the alarm's request committed and stalled")
        await cf.workerd.kill()
        await wait_for(is_set(endpoint.client_gone), timeout=30, what="the client to go away")
        lost = endpoint.of("lost")
        assert len(lost) == 1 and lost[0].committed and lost[0].ended == "client_closed"
        await cf.workerd.start()

        async def settled() -> dict[str, Any] | None:
            state = await state_of(cf)
            return state if state.get("generation", 0) >= 2 or state.get("status") == "reauth_required" else None

        state = await wait_for(settled, timeout=30, what="the re-run alarm to settle")
        assert endpoint.processed[r1] == 2  # the only token it had: sent again after the restart
        if grace:
            assert state["status"] == "active" and state["generation"] == 2
            assert endpoint.app.stats.grace_replays == 1 and endpoint.app.stats.reuse_detected == 0
        else:
            assert state["status"] == "reauth_required" and state["last_error_kind"] == "reauth_required"
            assert endpoint.app.stats.reuse_detected == 1  # the grant is revoked: the documented window
        print(f"\n[cf answer lost, grace {grace:.0f} s] status {state['status']}, "
              f"reuse detected {endpoint.app.stats.reuse_detected}, grace replays {endpoint.app.stats.grace_replays}")


async def test_slow_drip_endpoint_ends_the_alarm_at_the_deadline_as_retryable_and_rearms_by_policy(
    endpoint: SlowTokenEndpoint, tmp_path: Path
) -> None:
    # headers after 1 s, then one byte a second for 10 minutes; the provider's deadline is 2 s
    endpoint.headers_after, endpoint.interval, endpoint.drip_bytes = 1.0, 1.0, 600
    endpoint.modes.append("drip")
    options = {"timeout": DEADLINE, "retry": {"base": 1.0, "cap": 1.0, "min_delay": 0.8}}
    async with running_cf(endpoint, options, persist_dir=tmp_path / "miniflare") as cf:
        await cf.register()
        # liveness only: the drip would last 600 s; the client must give up long before
        await wait_for(is_set(endpoint.client_gone), timeout=30,
                       what="workerd to close the dripping connection")
        drip = endpoint.of("drip")
        assert len(drip) == 1 and drip[0].ended == "client_closed" and drip[0].dripped < endpoint.drip_bytes

        first = await wait_for(lambda: _first_alarm_done(cf), timeout=30, what="the first alarm to end")
        # the body read was aborted inside workerd by the request's AbortSignal
        texts = [r for r in first.results if (r["target"], r["method"]) == ("response", "text")]
        assert texts and texts[0]["ok"] is False and texts[0]["name"] == "TimeoutError", first.results
        assert first.error is None  # the handler did not throw: no workerd retry

        stored = await generation(cf, 1)  # our re-armed alarm refreshed (the endpoint answers normally now)
        state = stored["state"]
        assert state["refresh_count"] == 1 and state["failures"] == 0
        alarms = cf.bridge.alarms()
        assert [a.alarm_info for a in alarms] == [{"retryCount": 0, "isRetry": False}] * 2
        # the failure had been recorded as retryable, and the retry was armed by our policy ([0.8, 1.0] s) counted
        # from the failure (the deadline, DEADLINE s after the attempt began), not from the attempt's start, which
        # would have put it in the past
        failure = _failure_save(first)
        assert failure["last_error_kind"] == "retryable" and "deadline (3 s from connect" in failure["last_error"]
        assert failure["failures"] == 1 and failure["status"] == "retrying"
        assert failure["next_refresh_at"] - failure["last_attempt_at"] >= DEADLINE + 0.8 - 0.01
        assert failure["next_refresh_at"] <= stored["alarms"][0]["end"] / 1000 + 1.0 + 0.01
        set_alarms = [op["at"] for op in first.ops if (op["target"], op["method"]) == ("storage", "setAlarm")]
        assert set_alarms == [round(failure["next_refresh_at"] * 1000)]
        # the dripping request never reached the authorization server; the retry sent r0 once
        r0 = state["previous_refresh_token"]
        assert endpoint.received[r0] == 2 and endpoint.processed == {r0: 1}
        assert endpoint.app.stats.reuse_detected == 0
        js = stored["alarms"][0]
        print(f"\n[cf slow drip] deadline {DEADLINE} s; connection closed by workerd after {drip[0].duration:.2f} s "
              f"({drip[0].dripped} bytes dripped); alarm {js['end'] - js['at']} ms in workerd")


def is_set(event: asyncio.Event) -> Any:
    async def probe() -> bool:
        return event.is_set()

    return probe


async def _first_alarm_done(cf: CF) -> Any:
    alarms = cf.bridge.alarms()
    return alarms[0] if alarms and alarms[0].duration > 0 else None


def _failure_save(event: Any) -> dict[str, Any]:
    """The last state the alarm saved (its failure record), from the operations it sent to DO storage."""
    import json

    puts = [op for op in event.ops if (op["target"], op["method"]) == ("storage", "put")
            and op.get("key") == "freshtoken:state"]
    return dict(json.loads(puts[-1]["value"]))
