"""The Cloudflare adapter against real workerd (miniflare): real Durable Object storage, real alarm
scheduling and retries, real KV with TTLs. The adapter (the SDK's RefresherObject as subclassed by the
example Worker, and the example's gateway) runs in this process behind the JS bridge; the token endpoint
is the loopback sandbox authorization server. All waits are real time."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest

from freshtoken.record import EXPIRED_LINGER
from freshtoken.sandbox.server import Fault as SandboxFault
from tests.reader.climbing_paths import CLIMBING

from .conftest import ADMIN_TOKEN, CF, GATEWAY_KEY, KEY
from .harness import Fault, wait_for

pytestmark = pytest.mark.workerd


@pytest.fixture
def cf_options() -> dict[str, Any]:
    # Our retry policy for these tests: the first backoff is uniform in [0.8, 1.0] s.
    return {"retry": {"base": 1.0, "cap": 1.0, "min_delay": 0.8}}


@pytest.fixture
def cf_vars() -> dict[str, str]:
    # The host shell's re-arm after an unexpected alarm failure: 1 s with ±50 % jitter.
    return {"FRESHTOKEN_ERROR_BACKOFF": "1.0"}


async def kv_written(cf: CF, generation: int = 1, key: str = KEY, timeout: float = 10.0) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        record = await cf.kv_record(key)
        return record if record and record["generation"] >= generation else None

    return dict(await wait_for(probe, timeout=timeout, what=f"KV record generation {generation}"))


async def test_alarm_refreshes_writes_kv_with_ttl_and_sets_next_alarm_from_new_expiry(cf: CF):
    before = time.time()
    status = await cf.register()
    assert status["status"] == "pending" and status["key"] == KEY
    # due at once; workerd may already be delivering it, and getAlarm() is null while an alarm runs
    assert status["alarm_at"] is None or status["alarm_at"] == pytest.approx(before, abs=5)
    assert status["next_refresh_at"] == pytest.approx(before, abs=5)
    assert "refresh_token" not in json.dumps(status) or status.get("has_refresh_token") is True

    record = await kv_written(cf)
    # the provider was called exactly once, and the token in KV is the one it issued
    assert cf.sandbox.app.stats.refreshes == 1
    entry = await cf.kv()
    stored = await cf.between_alarms()  # (KV is written before the next alarm is set)
    state = stored["state"]
    assert state["status"] == "active" and state["generation"] == 1 and state["failures"] == 0
    assert record["access_token"] == state["access_token"]
    assert record["expires_at"] == int(state["expires_at"])
    assert state["expires_at"] == pytest.approx(state["issued_at"] + 3600, abs=0.01)
    # real KV: TTL = time to expiry + EXPIRED_LINGER (past expiry a reader says 'expired', not 'unknown'), as the
    # expiration KV reports; metadata mirrors the record
    assert entry["expiration"] == pytest.approx(state["expires_at"] + EXPIRED_LINGER, abs=2)
    assert entry["metadata"] == {"v": 1, "generation": 1, "expires_at": record["expires_at"]}
    # the next alarm, in real DO storage, is set from the new expiry: expiry - lead (600 s)
    assert state["next_refresh_at"] == pytest.approx(state["expires_at"] - 600, abs=0.01)
    assert stored["alarm"] == round(state["next_refresh_at"] * 1000)
    # the rotated refresh token was persisted (the sandbox rotates on every refresh)
    assert state["previous_refresh_token"] is not None
    assert state["refresh_token"] != state["previous_refresh_token"]
    # the alarm workerd delivered was a first delivery
    alarms = cf.bridge.alarms()
    assert [a.alarm_info for a in alarms] == [{"retryCount": 0, "isRetry": False}]
    assert stored["alarms"][0]["retryCount"] == 0
    # the token request was made by workerd (fetch() from inside the alarm event), with Basic auth
    ops = [(op["target"], op["method"]) for op in alarms[0].ops]
    assert ops.count(("fetch", "fetch")) == 1
    assert ops.index(("fetch", "fetch")) < ops.index(("kv", "put")) < ops.index(("storage", "setAlarm"))
    assert cf.sandbox.app.last_request["headers"]["authorization"].startswith("Basic ")

    # the gateway's request path reads KV only (one kv.get), never a Durable Object
    r = await cf.gateway(f"/status/{KEY}")
    assert r.status_code == 200, r.text
    assert r.json()["usable"] is True and r.json()["generation"] == 1
    gateway = [e for e in cf.bridge.events if e.kind == "worker"][-1]
    assert [(op["target"], op["method"]) for op in gateway.ops] == [("kv", "get")]


async def test_failing_provider_backs_off_by_our_policy_not_workerd_retries(cf: CF):
    # policy of this test's client: first backoff uniformly in [0.8, 1.0] s
    cf.sandbox.app.inject(SandboxFault(status=503, body={"error": "temporarily_unavailable"}))
    await cf.register()

    async def failed_once() -> dict[str, Any] | None:
        s = await cf.storage()
        return s if s["state"] and s["state"]["failures"] == 1 else None

    stored = await wait_for(failed_once, timeout=10, what="first failure recorded")
    state = stored["state"]
    assert state["status"] == "retrying" and state["last_error_kind"] == "retryable"
    # the backoff counts from when the failure was known, after the 503's body was read and before the failed
    # state was saved: [0.8, 1.0] s from a moment between those two answers (the bound does not depend on how
    # long the exchange took; it once counted from the attempt's start, with 10 ms for the exchange)
    results = [(r["target"], r["method"], r["at"]) for r in cf.bridge.alarms()[0].results]
    answered = next(i for i, (target, method, _) in enumerate(results) if (target, method) == ("response", "text"))
    saved = next(at for target, method, at in results[answered:] if (target, method) == ("storage", "put"))
    assert state["next_refresh_at"] - results[answered][2] >= 0.8 - 0.01
    assert state["next_refresh_at"] - saved <= 1.0 + 0.01
    assert stored["alarm"] == round(state["next_refresh_at"] * 1000)

    record = await kv_written(cf)
    assert record["generation"] == 1
    assert cf.sandbox.app.stats.errors == 1 and cf.sandbox.app.stats.refreshes == 1
    alarms = cf.bridge.alarms()
    assert len(alarms) == 2
    # the second attempt was OUR re-armed alarm, not a workerd retry: the handler never threw
    assert [a.alarm_info for a in alarms] == [{"retryCount": 0, "isRetry": False}] * 2
    assert all(a.error is None for a in alarms)
    assert alarms[1].at >= state["next_refresh_at"] - 0.05
    final = (await cf.storage())["state"]
    assert final["status"] == "active" and final["failures"] == 0


async def test_retried_alarm_does_not_refresh_twice(cf: CF):
    # In the first alarm, setAlarm throws twice (the refresher's re-arm and our fallback re-arm): the
    # handler fails after the refresh was persisted and KV written, so workerd retries the alarm.
    cf.bridge.faults.append(Fault("storage", "setAlarm", count=2, kind="alarm", message="storage unavailable"))
    await cf.register()

    async def retried() -> list[Any] | None:
        alarms = cf.bridge.alarms()
        return alarms if len(alarms) >= 2 and alarms[1].duration > 0 else None

    alarms = await wait_for(retried, timeout=15, what="workerd's retry of the failed alarm")
    await asyncio.sleep(0.3)
    assert alarms[0].alarm_info == {"retryCount": 0, "isRetry": False}
    # the handler let the error reach workerd only after re-arming had failed too
    assert alarms[0].error is not None and "storage unavailable" in alarms[0].error
    assert alarms[1].error is None
    assert alarms[1].alarm_info == {"retryCount": 1, "isRetry": True}
    gap = alarms[1].at - alarms[0].at
    assert 1.2 <= gap <= 6.0  # workerd's first retry: 2 s with up to 25 % jitter
    # what the JS Durable Object saw: a first delivery, then workerd's retry
    stored = await cf.storage()
    assert [a["retryCount"] for a in stored["alarms"]] == [0, 1]
    # the provider was called once; the retry rewrote KV from state and re-armed
    assert cf.sandbox.app.stats.refreshes == 1
    state = stored["state"]
    assert state["generation"] == 1 and state["refresh_count"] == 1
    assert stored["alarm"] == round(state["next_refresh_at"] * 1000)
    assert "freshtoken:alarm_errors" not in stored["entries"]
    assert (await cf.kv_record())["generation"] == 1
    assert [(op["method"]) for op in alarms[1].ops if op["target"] == "kv"] == ["put"]


async def test_remove_deletes_kv_entry_alarm_and_state_and_revokes(cf: CF):
    await cf.register()
    await kv_written(cf)
    rt = (await cf.storage())["state"]["refresh_token"]
    r = await cf.admin("DELETE")
    assert r.status_code == 200 and r.json() == {"removed": True, "key": KEY}
    entry = await cf.kv()
    assert entry["value"] is None and entry["metadata"] is None
    stored = await cf.storage()
    assert stored["alarm"] is None and stored["entries"] == {}
    # RFC 7009 revocation reached the provider: the grant is dead
    family = next(f for f in cf.sandbox.app.families.values() if f.current == rt)
    assert family.revoked
    # removing again is harmless; status of a removed account is 404
    assert (await cf.admin("DELETE")).json() == {"removed": False, "key": KEY}
    assert (await cf.admin("GET")).status_code == 404
    r = await cf.gateway(f"/status/{KEY}")
    assert (r.status_code, r.json()["reason"]) == (404, "unknown")


async def test_admin_surface_authenticates_status_and_refresh_now(cf: CF):
    events = len(cf.bridge.events)
    assert (await cf.admin("GET", token=None)).status_code == 401
    assert (await cf.admin("GET", token="wrong")).status_code == 401
    assert (await cf.admin("GET", token=ADMIN_TOKEN + "x")).status_code == 401
    # refused at the gateway: no Durable Object was woken
    assert all(e.kind == "worker" for e in cf.bridge.events[events:])
    assert (await cf.admin("GET", key="not-a-key")).status_code == 400
    # registration is validated in the object: unknown client, no refresh token, unknown fields
    for body, detail in (
        ({"client": "nope", "refresh_token": "rt"}, "unknown client 'nope'; configured clients: sandbox"),
        ({"client": "sandbox"}, "refresh token is required"),
        ({"client": "sandbox", "refresh_token": "rt", "password": "x"}, "unknown fields"),
    ):
        r = await cf.admin("POST", body=body)
        assert r.status_code == 400 and detail in r.json()["detail"], r.text
    assert (await cf.storage())["entries"] == {}

    await cf.register()
    await kv_written(cf)
    r = await cf.admin("POST", action="refresh")
    assert r.status_code == 200, r.text
    assert r.json()["kind"] == "refreshed" and r.json()["generation"] == 2
    await kv_written(cf, generation=2)
    status = (await cf.admin("GET")).json()
    assert status["generation"] == 2 and status["status"] == "active"
    assert status["alarm_at"] == pytest.approx(status["next_refresh_at"], abs=0.001)
    assert "refresh_token" not in status and "access_token" not in status
    assert cf.sandbox.app.stats.refreshes == 2 and cf.sandbox.app.stats.reuse_detected == 0


async def test_gateway_proxy_attaches_the_token_from_kv(cf: CF):
    await cf.register()
    record = await kv_written(cf)
    r = await cf.gateway(f"/proxy/{KEY}/_sandbox/stats")
    assert r.status_code == 200 and r.json()["refreshes"] == 1
    r = await cf.gateway("/proxy/acme:generic:nobody/_sandbox/stats")
    assert r.status_code == 404 and r.json()["error"] == "token_unavailable" and r.json()["reason"] == "unknown"
    assert record["token_type"] == "Bearer"


async def test_the_gateway_refuses_a_path_that_climbs_out_of_the_upstream_base(cf: CF):
    """``/proxy/{key}/..%2f..%2fadmin`` and the like (tests/reader/climbing_paths.py) went upstream with the
    account's token, and climb to ``/admin`` at an upstream that decodes before it routes. The example gateway
    now answers 400 ``bad_path`` before it reads the token: no KV read, no fetch. A name with an encoded slash
    still goes upstream."""
    await cf.register()
    await kv_written(cf)
    for path in CLIMBING:
        r = await cf.gateway(f"/proxy/{KEY}{path}")
        assert (r.status_code, r.json()["error"]) == (400, "bad_path"), (path, r.text)
        gateway = [e for e in cf.bridge.events if e.kind == "worker"][-1]
        assert gateway.ops == [], path  # refused before the token was read; nothing fetched
    r = await cf.gateway(f"/proxy/{KEY}/_sandbox/stats%2Fx")
    assert r.status_code == 404 and r.json()["error"] == "not_found"  # the sandbox has no such page
    gateway = [e for e in cf.bridge.events if e.kind == "worker"][-1]
    assert [op["target"] for op in gateway.ops] == ["kv"]  # the token was read, to go upstream


async def test_the_gateway_serves_only_callers_holding_its_key(cf: CF):
    """Whoever reached the example gateway acted upstream as any account it named (/proxy/) and read any
    account's status: it now serves only callers with ``Bearer <GATEWAY_KEY>`` (the admin routes keep their own
    token). The caller's credential never goes upstream: the account's token replaces it."""
    await cf.register()
    await kv_written(cf)
    for key in (None, "wrong", GATEWAY_KEY + "x", ADMIN_TOKEN):
        for path in (f"/proxy/{KEY}/_sandbox/stats", f"/status/{KEY}"):
            r = await cf.gateway(path, key=key)
            assert (r.status_code, r.json()["error"]) == (401, "unauthenticated"), (key, path, r.text)
            gateway = [e for e in cf.bridge.events if e.kind == "worker"][-1]
            assert gateway.ops == []  # refused before the token was even read
    assert (await cf.gateway(f"/proxy/{KEY}/_sandbox/stats")).status_code == 200


async def test_events_interleave_in_workerd_and_the_object_serialises_them(cf: CF):
    # workerd delivers another event to the object while its alarm awaits the token endpoint (the input
    # gate is open during I/O); the object's lock keeps refreshes from overlapping at the provider.
    cf.sandbox.app.latency = 1.5
    await cf.register()
    await wait_for(lambda: _alarm_started(cf), timeout=5, what="the alarm to start")
    r = await cf.admin("POST", action="refresh")
    assert r.status_code == 200 and r.json()["kind"] == "refreshed", r.text
    alarm = cf.bridge.alarms()[0]
    refresh = next(e for e in cf.bridge.events if e.kind == "fetch" and e.at > alarm.at)
    assert refresh.at < alarm.at + alarm.duration  # delivered while the alarm was still running
    assert cf.sandbox.app.stats.overlaps == 0 and cf.sandbox.app.stats.reuse_detected == 0
    assert cf.sandbox.app.stats.refreshes == 2
    assert (await cf.storage())["state"]["generation"] == 2


async def _alarm_started(cf: CF) -> bool:
    return bool(cf.bridge.alarms())


async def test_an_unexpected_alarm_failure_is_rearmed_by_our_policy_not_left_to_workerd(cf: CF):
    # setAlarm throws once inside the first alarm (after the refresh was persisted and KV written): the
    # handler catches it and re-arms by the host shell's policy (FRESHTOKEN_ERROR_BACKOFF 1 s ±50 % here)
    # without throwing.
    cf.bridge.faults.append(Fault("storage", "setAlarm", count=1, kind="alarm", message="storage hiccup"))
    await cf.register()

    async def two_alarms() -> list[Any] | None:
        alarms = cf.bridge.alarms()
        return alarms if len(alarms) >= 2 and alarms[1].duration > 0 else None

    alarms = await wait_for(two_alarms, timeout=10, what="the re-armed alarm")
    assert [a.alarm_info for a in alarms] == [{"retryCount": 0, "isRetry": False}] * 2  # never a workerd retry
    assert all(a.error is None for a in alarms)
    assert 0.45 <= alarms[1].at - alarms[0].at <= 4.0
    first_ops = [(op["target"], op["method"], op.get("key")) for op in alarms[0].ops]
    assert ("storage", "put", "freshtoken:alarm_errors") in first_ops
    # the second alarm found the token fresh: no second refresh; KV rewritten, alarm re-armed, counter reset
    assert cf.sandbox.app.stats.refreshes == 1
    stored = await cf.storage()
    assert stored["alarm"] == round(stored["state"]["next_refresh_at"] * 1000)
    assert "freshtoken:alarm_errors" not in stored["entries"]
    assert (await cf.kv_record())["generation"] == 1
