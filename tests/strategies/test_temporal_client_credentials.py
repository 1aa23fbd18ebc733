"""client_credentials on the Temporal runtime (time-skipping test server): the account gets its first token,
then one ahead of every expiry on durable timers, with no refresh token anywhere; a refused secret is
misconfigured, never reauth. The workflow, activities and history are the production ones
(tests/temporal pattern)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from freshtoken import KVRecord
from tests.temporal.conftest import encryption_keys
from tests.temporal.support import CLIENT, in_process_worker, new_key, with_codec

pytestmark = pytest.mark.temporal
__all__ = ["encryption_keys"]  # the fixture, used by name

OPTIONS = {"strategy_options": {"client_credentials": {"scope": "jobs"}}}


async def test_client_credentials_refresh_ahead_of_expiry_on_temporal(temporal_time_skipping, sandbox,
                                                                      encryption_keys):
    env = temporal_time_skipping
    client = with_codec(env.client, encryption_keys)
    machine = sandbox.app.machine
    before = machine.stats.client_credentials
    async with in_process_worker(client, sandbox, **OPTIONS) as (accounts, _activities, kv):
        k = new_key()
        view = await accounts.register(k, client=CLIENT, strategy="client_credentials")
        assert view["strategy"] == "client_credentials" and view["has_refresh_token"] is False
        await env.sleep(timedelta(hours=3))
        now = (await env.get_current_time()).timestamp()
        status = await accounts.status(k)
        record = KVRecord.loads(kv.get_sync(k))
        assert status["status"] == "active" and status["has_refresh_token"] is False
        assert record.generation == status["generation"] and record.scope == "jobs"
        assert record.expires_at - now >= 600  # always at least the lead left
        assert status["alarm_at"] == pytest.approx(record.expires_at - 600, abs=2)
    # one at registration, then one every 50 minutes for 3 hours: 1 + 180 / 50
    assert machine.stats.client_credentials - before == 4
    assert sandbox.app.last_request["params"]["grant_type"] == "client_credentials"


async def test_a_refused_secret_is_misconfigured_on_temporal(temporal_time_skipping, sandbox, encryption_keys):
    env = temporal_time_skipping
    client = with_codec(env.client, encryption_keys)
    sandbox.app.clients["sandbox-client"] = "rotated"
    try:
        async with in_process_worker(client, sandbox, **OPTIONS) as (accounts, _activities, _kv):
            k = new_key()
            await accounts.register(k, client=CLIENT, strategy="client_credentials")
            await env.sleep(timedelta(minutes=5))
            status = await accounts.status(k)
            assert status["status"] == "misconfigured" and "invalid_client" in status["last_error"]
    finally:
        sandbox.app.clients["sandbox-client"] = "sandbox-secret"
