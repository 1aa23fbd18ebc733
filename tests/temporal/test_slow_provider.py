"""A slow-drip token endpoint on the Temporal path: the activity runs the core refresher over ``TokenHTTP``,
whose one deadline per exchange (connect to last byte) must end the exchange as a retryable failure, so that
the workflow retries on its durable timer under our policy (not Temporal's activity timeout, not after the
drip). Time-skipping test server; the drip is real time, bounded for liveness only."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest

from freshtoken import KVRecord
from freshtoken.sandbox.server import SandboxAuthServer
from tests.fixtures_servers.slow_endpoint import SlowTokenEndpoint

from .support import CLIENT, in_process_worker, new_key, with_codec

pytestmark = pytest.mark.temporal

DEADLINE = 2.0  # the provider's timeout
RETRY = {"base": 60.0, "cap": 60.0, "min_delay": 30.0}  # first retry 30-60 s later (workflow time)


async def test_slow_drip_endpoint_ends_the_refresh_at_the_deadline_as_retryable(
    temporal_time_skipping, encryption_keys
):
    env = temporal_time_skipping
    client = with_codec(env.client, encryption_keys)
    # headers at once, then one byte a second for 10 minutes: every read is well within the 2 s timeout
    async with SlowTokenEndpoint(SandboxAuthServer(lifetime=3600), drip_bytes=600, interval=1.0) as endpoint:
        async with in_process_worker(client, endpoint, timeout=DEADLINE, retry=RETRY) as (accounts, _acts, kv):
            k = new_key()
            grant = endpoint.mint()
            r0 = grant["refresh_token"]
            now = (await env.get_current_time()).timestamp()
            await accounts.register(k, client=CLIENT, refresh_token=r0, access_token=grant["access_token"],
                                    expires_at=max(now, time.time()) + 3600)
            endpoint.modes.append("drip")
            # liveness only: the drip lasts 600 s, Temporal's activity timeout is 120 s
            outcome = await accounts.refresh_now(k, timeout=60)
            assert outcome.kind == "retry_scheduled" and re.search(r"timed out|deadline", outcome.error or ""), outcome
            drip = endpoint.of("drip")
            assert len(drip) == 1 and drip[0].ended == "client_closed" and drip[0].dripped < endpoint.drip_bytes
            status = await accounts.status(k)
            assert status["status"] == "retrying" and status["last_error_kind"] == "retryable"
            assert status["failures"] == 1 and status["infra_failures"] == 0  # the refresher's failure, not Temporal's
            # the backoff (30-60 s) counts from the failure, which came at the deadline, DEADLINE s after the attempt
            # began (the refresher's rule since 2026-12-02: a retry counts from the failure, not the alarm)
            delay = status["next_refresh_at"] - status["last_attempt_at"]
            assert RETRY["min_delay"] + DEADLINE - 0.05 <= delay <= RETRY["cap"] + DEADLINE + 0.5
            assert status["alarm_at"] == pytest.approx(status["next_refresh_at"])
            print(f"\n[temporal slow drip] deadline {DEADLINE} s; connection closed by the worker after "
                  f"{drip[0].duration:.2f} s ({drip[0].dripped} bytes dripped)")

            # the endpoint answers normally again: the retry on the workflow's durable timer refreshes, once
            await env.sleep(timedelta(minutes=2))
            status = await accounts.status(k)
            assert status["status"] == "active" and status["failures"] == 0 and status["refresh_count"] == 1
            assert endpoint.received[r0] == 2 and endpoint.processed == {r0: 1}
            assert endpoint.app.stats.reuse_detected == 0 and endpoint.app.stats.overlaps == 0
            assert KVRecord.loads(kv.get_sync(k)).generation == status["generation"] == 2
