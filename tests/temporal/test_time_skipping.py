"""The Temporal runtime on the time-skipping test server: hours of hour-long tokens in a second or two."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from freshtoken import ConfigError, KVRecord, NotRegistered, ReauthRequired
from freshtoken.temporal import WorkflowOptions

from .support import CLIENT, in_process_worker, new_key, with_codec

pytestmark = pytest.mark.temporal


async def test_hour_long_tokens_for_a_day_refresh_every_50_minutes(temporal_time_skipping, sandbox, encryption_keys):
    env = temporal_time_skipping
    client = with_codec(env.client, encryption_keys)
    options = WorkflowOptions(history_limit=150)  # continue-as-new a few times during the day
    async with in_process_worker(client, sandbox, options=options) as (accounts, _activities, kv):
        keys = [new_key(i) for i in range(3)]
        grants = {k: sandbox.mint()["refresh_token"] for k in keys}
        before = sandbox.app.stats.refreshes
        for k in keys:
            view = await accounts.register(k, client=CLIENT, refresh_token=grants[k])
            assert view["status"] == "pending" and not view.get("refresh_token")
        real = time.monotonic()
        await env.sleep(timedelta(hours=24))
        elapsed = time.monotonic() - real
        now = (await env.get_current_time()).timestamp()
        refreshes = sandbox.app.stats.refreshes - before
        for k in keys:
            status = await accounts.status(k)
            assert status["status"] == "active"
            assert status["workflow_runs"] > 1, "continue-as-new should have happened"
            record = KVRecord.loads(kv.get_sync(k))
            assert record.generation == status["generation"]
            assert record.expires_at - now >= 600  # the gateway always finds >= 10 minutes left
            assert status["alarm_at"] == pytest.approx(record.expires_at - 600, abs=2)
    # one refresh at registration, then one every 50 minutes: 1 + 24*60/50 = 29.8
    assert 3 * 29 <= refreshes <= 3 * 30, refreshes
    assert sandbox.app.stats.reuse_detected == 0 and sandbox.app.stats.overlaps == 0
    assert elapsed < 30, f"24 h of workflow time took {elapsed:.1f}s"


async def test_operations_refresh_now_status_remove_and_errors(temporal_time_skipping, sandbox, encryption_keys):
    env = temporal_time_skipping
    client = with_codec(env.client, encryption_keys)
    async with in_process_worker(client, sandbox) as (accounts, _activities, kv):
        k = new_key()
        await accounts.register(k, client=CLIENT, refresh_token=sandbox.mint()["refresh_token"])
        first = await accounts.refresh_now(k)
        assert first.kind == "refreshed"
        second = await accounts.refresh_now(k)
        assert second.kind == "refreshed" and second.generation == first.generation + 1
        assert KVRecord.loads(kv.get_sync(k)).generation == second.generation
        assert (await accounts.status(k))["refresh_count"] >= 2
        assert await accounts.remove(k) is True
        assert kv.get_sync(k) is None
        with pytest.raises(NotRegistered):
            await accounts.status(k)
        with pytest.raises(NotRegistered):
            await accounts.refresh_now(k)
        assert await accounts.remove(k) is False
        # registration errors are raised to the caller, as in the embedded runtime
        with pytest.raises(ConfigError):
            await accounts.register(new_key(), client="nope", refresh_token="rt")
        with pytest.raises(ReauthRequired):
            await accounts.register(new_key(), client=CLIENT, refresh_token=None)
        # re-registration after removal starts a new workflow run
        view = await accounts.register(k, client=CLIENT, refresh_token=sandbox.mint()["refresh_token"])
        assert view["key"] == k


async def test_history_holds_no_secret_in_plain_text(temporal_time_skipping, sandbox, encryption_keys):
    env = temporal_time_skipping
    client = with_codec(env.client, encryption_keys)
    async with in_process_worker(client, sandbox) as (accounts, _activities, kv):
        k = new_key()
        rt = sandbox.mint()["refresh_token"]
        await accounts.register(k, client=CLIENT, refresh_token=rt)
        await accounts.refresh_now(k)
        access = KVRecord.loads(kv.get_sync(k)).access_token
        current_rt = sandbox.app.families[sandbox.app._by_token[rt]].current
        assert current_rt != rt
        history = await env.client.get_workflow_handle(k).fetch_history()  # a client *without* the codec
        raw = history.to_json()
        for secret in (rt, current_rt, access, "sandbox-secret"):
            assert secret not in raw
        assert "binary/freshtoken-aesgcm" in raw or "YmluYXJ5L2ZyZXNodG9rZW4tYWVzZ2Nt" in raw


async def test_provider_failures_back_off_under_our_retry_policy_then_recover(
    temporal_time_skipping, sandbox, encryption_keys
):
    from freshtoken.sandbox.server import Fault

    env = temporal_time_skipping
    client = with_codec(env.client, encryption_keys)
    async with in_process_worker(client, sandbox) as (accounts, _activities, kv):
        k = new_key()
        await accounts.register(k, client=CLIENT, refresh_token=sandbox.mint()["refresh_token"], wait=True)
        errors = sandbox.app.stats.errors
        sandbox.app.inject(*[Fault(status=503, body={"error": "temporarily_unavailable"}) for _ in range(4)])
        first = await accounts.refresh_now(k)  # the registration's own refresh may have run first
        failed = first.kind == "retry_scheduled"
        status = await accounts.status(k)
        if failed:
            assert status["status"] == "retrying" and status["failures"] >= 1
            assert status["alarm_at"] - (await env.get_current_time()).timestamp() <= 5 + 1  # base 5 s, jitter
        await env.sleep(timedelta(minutes=30))  # the retries run on durable timers
        status = await accounts.status(k)
        assert status["status"] == "active" and status["failures"] == 0
        assert sandbox.app.stats.errors - errors == 4
        assert KVRecord.loads(kv.get_sync(k)).generation == status["generation"]
    assert sandbox.app.stats.reuse_detected == 0


async def test_an_operation_failing_outside_the_refresher_is_rerun_with_backoff(
    temporal_time_skipping, sandbox, encryption_keys
):
    """A worker without the account's client: a request (refresh now) fails outside the refresher and the workflow
    re-runs it with growing backoff, then tells the caller; the account's alarm is re-armed by the host shell's one
    policy (jittered error_backoff) with the configuration error recorded on the account; a worker with the client
    heals it."""
    from freshtoken import OAuthClient

    env = temporal_time_skipping
    client = with_codec(env.client, encryption_keys)
    k = new_key()
    async with in_process_worker(client, sandbox) as (accounts, activities, kv):
        await accounts.register(k, client=CLIENT, refresh_token=sandbox.mint()["refresh_token"])
        configured = activities.clients
        # the workers' configuration loses the account's client
        activities.clients = {"other": OAuthClient(name="other", provider="generic", client_id="x", client_secret="y",
                                                   provider_options={"token_url": "http://127.0.0.1:1/t"})}
        handle = client.get_workflow_handle(k)
        await handle.signal("refresh_now", "r1")
        await env.sleep(timedelta(minutes=20))
        status = await accounts.status(k)
        r1 = await handle.query("outcome", "r1")
        assert r1["kind"] == "error" and "unknown client" in r1["error"]  # the request, re-run 5 times, failed
        # the alarm failed the same way, inside the activity: re-armed by the shell's policy, recorded on the account
        assert "unknown client 'sandbox'" in status["last_error"] and status["last_error_kind"] == "config"
        assert status["infra_failures"] == 0 and status["alarm_at"] is not None
        assert activities.counts.get("error_rearmed", 0) >= 10  # every ~60 s (±50 %) for 20 minutes
        activities.clients = configured  # fixed
        await env.sleep(timedelta(minutes=10))  # at most 1.5 x error_backoff later, the alarm runs again
        status = await accounts.status(k)
        assert status["status"] == "active" and status["infra_failures"] == 0
        assert KVRecord.loads(kv.get_sync(k)).generation == status["generation"]
